//! The boundary between the runtime's cluster capabilities and whatever
//! talks to a cluster: the [`ClusterBackend`] trait, JSON-shaped (objects are
//! `serde_json::Value`s exactly as the API server returns them) and free of
//! WIT types, so `gantry-cluster` implements it on kube-rs without knowing
//! the bindings. This file only defines the contract; it must not check
//! scope (the capabilities do that before calling) nor hold credentials.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

/// One object: `apiVersion`, `kind`, namespace (None: cluster-scoped, or
/// resolved by the caller to the stage's namespace) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

/// Options of a list; the backend follows `continue` tokens and returns every item.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
}

/// A rollout as `kubectl rollout status` judges it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollout {
    pub done: bool,
    /// The line `kubectl rollout status` would print (without the newline).
    pub message: String,
    pub desired: u32,
    pub updated: u32,
    pub ready: u32,
    pub available: u32,
    pub observed: bool,
    pub deadline_exceeded: bool,
}

/// One container of a pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    pub name: String,
    pub image: String,
    pub ready: bool,
    pub restarts: u32,
    /// `waiting`, `running` or `terminated`.
    pub state: String,
    pub reason: Option<String>,
    pub message: Option<String>,
}

/// A pod, reduced to what health checks look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodInfo {
    pub name: String,
    pub phase: String,
    pub ready: bool,
    pub node: Option<String>,
    pub labels: Vec<(String, String)>,
    pub containers: Vec<ContainerInfo>,
}

/// A Kubernetes event about an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventInfo {
    pub event_type: String,
    pub reason: String,
    pub message: String,
    pub count: u32,
    /// RFC 3339.
    pub last_seen: String,
}

/// Options of a log read.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub container: Option<String>,
    pub tail_lines: Option<u32>,
    pub since_seconds: Option<u64>,
    pub previous: bool,
    pub limit_bytes: Option<u64>,
}

/// One GET to a Service through the API server's service proxy.
#[derive(Debug, Clone)]
pub struct ServiceProbe {
    pub namespace: String,
    pub service: String,
    /// Port name or number, as in `svc/name:port`.
    pub port: String,
    /// Path and query on the pod, e.g. `/health`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The most the backend waits for the whole answer.
    pub timeout: std::time::Duration,
}

/// One GET to a pod through the API server's pod proxy.
#[derive(Debug, Clone)]
pub struct PodProbe {
    pub namespace: String,
    pub pod: String,
    /// Container port name or number, as in `pods/name:port`.
    pub port: String,
    /// Path and query on the pod, e.g. `/health`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The most the backend waits for the whole answer.
    pub timeout: std::time::Duration,
}

/// What a probe got back. A status the server or the proxy answered
/// (including the proxy's own 503 when no endpoint is ready) is a response,
/// not an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// At most [`PROBE_BODY_CAP`] bytes.
    pub body: Vec<u8>,
    /// As measured by the host, from sending to the end of the (capped) body.
    pub latency: std::time::Duration,
}

/// The most body bytes a probe returns.
pub const PROBE_BODY_CAP: usize = 1 << 20;

/// The response headers a probe hands back; the rest (hop-by-hop, audit
/// ids, cookies) tell a health check nothing.
pub const PROBE_HEADERS: [&str; 8] = ["content-type", "content-length", "content-encoding", "cache-control", "location", "retry-after", "etag", "last-modified"];

/// How dependents of a deleted object go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// Options of a server-side apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    pub force: bool,
    pub dry_run: bool,
}

/// What kind of failure a backend call met; mapped onto the WIT `error-kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendErrorKind {
    /// Malformed arguments, or the server refused the object as invalid (400, 422).
    Invalid,
    NotFound,
    /// A resourceVersion or field-manager conflict (409).
    Conflict,
    /// Unreachable, 429 or 5xx.
    Unavailable,
    Timeout,
    /// Anything else, including refused credentials (401, 403).
    Failed,
}

/// A failed backend call; the message names the target and says what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    pub kind: BackendErrorKind,
    pub message: String,
}

impl BackendError {
    pub fn new(kind: BackendErrorKind, message: impl Into<String>) -> BackendError {
        BackendError { kind, message: message.into() }
    }
}

pub type BackendResult<T> = Result<T, BackendError>;

/// One target's cluster, as the cluster capabilities use it.
#[async_trait::async_trait]
pub trait ClusterBackend: Send + Sync {
    /// One object as JSON.
    async fn get(&self, object: &ObjectKey) -> BackendResult<Value>;
    /// Every object of `api_version`/`kind` in `namespace` (ignored for
    /// cluster-scoped kinds), following `continue`.
    async fn list(&self, api_version: &str, kind: &str, namespace: &str, query: &ListQuery) -> BackendResult<Vec<Value>>;
    /// Server-side apply `manifest` (its `metadata.namespace` already set for
    /// namespaced kinds) with field manager `gantry`; the stored object.
    async fn apply(&self, manifest: &Value, options: ApplyOptions) -> BackendResult<Value>;
    async fn delete(&self, object: &ObjectKey, propagation: Propagation) -> BackendResult<()>;
    /// Set replicas through the scale subresource.
    async fn scale(&self, object: &ObjectKey, replicas: u32) -> BackendResult<()>;
    /// Rollout status of a Deployment, StatefulSet or DaemonSet.
    async fn rollout(&self, object: &ObjectKey) -> BackendResult<Rollout>;
    async fn pods(&self, namespace: &str, label_selector: &str) -> BackendResult<Vec<PodInfo>>;
    /// Events whose involvedObject is `object`, newest last.
    async fn events(&self, object: &ObjectKey) -> BackendResult<Vec<EventInfo>>;
    async fn logs(&self, namespace: &str, pod: &str, query: &LogQuery) -> BackendResult<String>;
    /// One GET through `services/NAME:PORT/proxy/PATH`; a timeout is
    /// [`BackendErrorKind::Timeout`], an unreachable API server
    /// [`BackendErrorKind::Unavailable`].
    async fn probe_service(&self, probe: &ServiceProbe) -> BackendResult<ProbeAnswer>;
    /// One GET through `pods/NAME:PORT/proxy/PATH`, like [`Self::probe_service`].
    /// A backend without a pod proxy says so.
    async fn probe_pod(&self, probe: &PodProbe) -> BackendResult<ProbeAnswer> {
        Err(BackendError::new(BackendErrorKind::Failed, format!("probing pod {}/{} directly is not supported by this cluster connection; probe its Service instead", probe.namespace, probe.pod)))
    }
}

/// Each target's backend, by target name.
pub type Clusters = Arc<BTreeMap<String, Arc<dyn ClusterBackend>>>;
