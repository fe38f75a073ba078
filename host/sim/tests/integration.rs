//! Every integration test of this crate, in one test binary: one link instead of
//! one per file keeps the build's disk and time small (each binary links the
//! whole dependency tree). Each file below is a module; `cargo nextest run
//! -p gantry-sim` runs them, each test in its own process.

mod common;
mod cloud_control_plane;
mod cloud_end_to_end;
mod controllers;
mod crd_schema;
mod deletion;
mod faults;
mod helm_library;
mod kube_rs;
mod kubectl;
mod kubectl_apply;
mod kubectl_semantics;
mod kubectl_typed;
mod logs_events;
mod proxy;
mod registry_docker;
mod registry_ecr_api;
mod registry_estate;
mod registry_protocol;
mod registry_pull;
mod semantics;
