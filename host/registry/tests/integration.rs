//! The registry crate's integration tests, one binary: each file is a module.

mod cloud_auth;
mod distribution;
mod docker_build;
mod daemonless;
