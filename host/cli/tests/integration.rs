//! Every integration test of this crate, in one test binary: one link instead of
//! one per file keeps the build's disk and time small (each binary links the
//! whole dependency tree). Each file below is a module; `cargo nextest run
//! -p gantry` runs them, each test in its own process.

mod cli;
mod connect;
mod demo;
mod e2e;
mod helm_release;
mod helm_template;
mod history;
mod images;
mod lock;
mod lock_between_runs;
mod plan;
mod policy;
mod scaffold;
mod scan;
mod status;
