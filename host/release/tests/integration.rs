//! Every integration test of this crate, in one test binary (one link of the
//! whole dependency tree instead of one per file). `cargo nextest run -p
//! gantry-release` runs them, each test in its own process.

mod common;
mod helm_compat;
mod hooks_wait;
mod sim_failures;
