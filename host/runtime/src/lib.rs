//! gantry-runtime: the sandboxed WebAssembly host of Gantry's plugins.
//!
//! Loads components (with an on-disk cache of their compiled form), reads
//! what they import and checks it against the stage's grants, and calls the
//! four plugin worlds — `stage`, `scan-policy`, `health-check`,
//! `canary-analysis` — each in a fresh store with a memory cap, a deadline,
//! a log budget and no filesystem, environment or network. The capability
//! interfaces are implemented in `caps/`, one module each, and every call is
//! scoped to the stage's targets, namespace, releases and registries.
//!
//! This crate knows nothing of pipeline files or the command line.

pub mod bindings;
pub mod cache;
pub mod cluster;
mod caps;
pub mod connector;
pub mod context;
pub mod deadline;
mod error;
pub mod grants;
pub mod helm;
pub mod images;
pub mod metrics;
mod plugin;
mod runtime;
mod sandbox;
pub mod scan;
pub mod scope;
pub mod timing;

pub use cache::Origin;
pub use cluster::{ClusterBackend, Clusters};
pub use context::{CallEnv, ImageInfo, Level, Limits, LogLine, LogSink, ReleaseInfo, RunContext, Source, StageRecord, TargetInfo, TargetKind};
pub use error::{CallError, LoadError};
pub use grants::Capability;
pub use helm::{HelmBackend, HelmBackends};
pub use images::{ImageBackend, ImageBackendRef};
pub use metrics::{MetricSample, MetricSeries, MetricsBackend, MetricsBackends};
pub use plugin::{digest, Plugin, World};
pub use runtime::{Runtime, RuntimeConfig};
pub use scan::{ScanBackend, ScanBackendRef};
pub use sandbox::HostState;

/// The WIT types a caller builds inputs from and reads outputs of.
pub use bindings::wit;

/// Convert a context target into its WIT form.
pub fn wit_target(t: &TargetInfo) -> wit::types::TargetInfo {
    caps::target_info(t)
}
