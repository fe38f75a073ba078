//! Every integration test of gantry-metrics, in one test binary: a real
//! Prometheus scraping the simulator's pod metrics, the client against it,
//! and the built-in canary judge called through the runtime.

mod analysis;
mod common;
mod prometheus;
