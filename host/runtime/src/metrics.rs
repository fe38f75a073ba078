//! The boundary between the runtime's `metrics` capability and whatever
//! answers PromQL: the [`MetricsBackend`] trait, one per target (the
//! target's provider: the pipeline's `metrics:` or the target's own), in
//! plain Rust types so `gantry-metrics` implements it without knowing the
//! WIT bindings. This file only defines the contract; it must not pick the
//! provider of a call (the capability does, from the call's target) nor hold
//! credentials (the backend does, and never shows them).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cluster::BackendResult;

/// One value at one instant. NaN and ±Inf are kept as Prometheus sends them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricSample {
    pub timestamp_ms: u64,
    pub value: f64,
}

/// One labelled series: a matrix row, a vector element (one sample), or a
/// scalar (no labels, one sample).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricSeries {
    /// Sorted by name, `__name__` included when the answer has it.
    pub labels: Vec<(String, String)>,
    pub samples: Vec<MetricSample>,
}

/// A metrics provider (Prometheus first).
#[async_trait::async_trait]
pub trait MetricsBackend: Send + Sync {
    /// Where it is, for messages: `prometheus http://127.0.0.1:9090` (never credentials).
    fn describe(&self) -> String;
    /// PromQL over [start, end] every `step_ms` (all ms since the epoch).
    async fn query_range(&self, query: &str, start_ms: u64, end_ms: u64, step_ms: u64) -> BackendResult<Vec<MetricSeries>>;
    /// PromQL at one instant.
    async fn query(&self, query: &str, at_ms: u64) -> BackendResult<Vec<MetricSeries>>;
}

/// Each target's provider, by target name (a target without one is absent).
pub type MetricsBackends = Arc<BTreeMap<String, Arc<dyn MetricsBackend>>>;
