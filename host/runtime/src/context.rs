//! What the engine tells the runtime about a plugin call: the run, the
//! stage, its scope, its limits and where log lines go. Plain Rust types, so
//! the engine never touches generated WIT bindings.

use std::sync::Arc;
use std::time::Duration;

use crate::grants::Capability;
use crate::scope::Scope;

/// How a target reaches its cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Eks,
    Gke,
    Kubeconfig,
    Sim,
}

/// A deployment target, without credentials.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetInfo {
    pub name: String,
    pub kind: TargetKind,
    pub cluster: String,
    pub region: Option<String>,
    pub registry: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ReleaseInfo {
    pub name: String,
    pub chart: String,
    pub namespace: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageInfo {
    pub name: String,
    pub tag: String,
    pub digest: Option<String>,
}

/// One earlier stage's result for one target, as `run.history` returns it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageRecord {
    pub stage: String,
    pub target: Option<String>,
    pub status: String,
    pub outputs: serde_json::Value,
}

/// The run as a plugin may see it.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub run_id: String,
    pub pipeline: String,
    pub stage: String,
    pub recovering: bool,
    pub targets: Vec<TargetInfo>,
    pub image: Option<ImageInfo>,
    pub release: Option<ReleaseInfo>,
    pub revision: Option<String>,
    pub history: Vec<StageRecord>,
}

/// Severity of a run-log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Where a run-log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The plugin's `log` calls.
    Plugin,
    /// The plugin's WASI stdout.
    Stdout,
    /// The plugin's WASI stderr.
    Stderr,
    /// The host, about the plugin (denials, limits).
    Host,
}

/// One line of the run log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogLine {
    pub level: Level,
    pub source: Source,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<(String, String)>,
    /// `progress` lines carry done/total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<(u64, u64)>,
}

/// Receives the run-log lines of one plugin call, in order.
pub type LogSink = Arc<dyn Fn(LogLine) + Send + Sync>;

/// Resource limits of one plugin call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Linear memory cap, bytes (default 256 MiB).
    pub memory: u64,
    /// Wall-clock deadline of the call.
    pub timeout: Duration,
    /// Bytes of log output (log lines, stdout, stderr) before the call is stopped.
    pub log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory: 256 << 20, timeout: Duration::from_secs(600), log_bytes: 1 << 20 }
    }
}

/// Everything about one plugin call except its input.
#[derive(Clone)]
pub struct CallEnv {
    pub run: Arc<RunContext>,
    pub scope: Arc<Scope>,
    pub grants: Arc<Vec<Capability>>,
    pub limits: Limits,
    pub log: LogSink,
    pub cancel: tokio_util::sync::CancellationToken,
    /// The clusters of the run's targets, by target name (empty: none connected).
    pub clusters: crate::cluster::Clusters,
    /// The Helm releases of the run's targets, by target name (empty: none connected).
    pub helm: crate::helm::HelmBackends,
    /// Registries and builders for the run's image (None: none in this run).
    pub images: crate::images::ImageBackendRef,
    /// Image scans for the run's image (None: none in this run).
    pub scanner: crate::scan::ScanBackendRef,
    /// Each target's metrics provider, by target name (empty: none configured).
    pub metrics: crate::metrics::MetricsBackends,
}
