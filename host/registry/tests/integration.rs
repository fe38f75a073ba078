//! The registry crate's integration tests, one binary: each file is a module.

mod docker_build;
