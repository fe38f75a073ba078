//! Every integration test of this crate, in one test binary: one link instead of
//! one per file keeps the build's disk and time small (each binary links the
//! whole dependency tree). Each file below is a module; `cargo nextest run
//! -p gantry-tests` runs them, each test in its own process.

mod common;
mod cluster;
mod guest_crates;
mod helm;
mod pipeline;
mod probe;
mod sandbox;
mod images;
mod scan_stage;
mod deploy;
mod ci_files;
mod example_app;
mod health;
mod wait;
mod faults;
mod traffic;
mod gateway_example;
