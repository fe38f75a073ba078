//! The registry crate's integration tests, one binary: each file is a module.

mod distribution;
mod docker_build;
