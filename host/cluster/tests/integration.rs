//! Every integration test of this crate, in one test binary: one link instead of
//! one per file keeps the build's disk and time small (each binary links the
//! whole dependency tree). Each file below is a module; `cargo nextest run
//! -p gantry-cluster` runs them, each test in its own process.

mod access;
mod clouds;
mod lease;
mod lookup;
mod moto;
mod probe;
mod resilience;
