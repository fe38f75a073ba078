//! The registry crate's integration tests, one binary: each file is a module.

mod cloud_auth;
mod daemonless;
mod distribution;
mod docker_build;
