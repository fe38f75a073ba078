//! `cluster-read` and `cluster-write`: scoped to the stage's targets and
//! namespace, then handed to the target's [`ClusterBackend`] (kube-rs, in
//! `gantry-cluster`). A target without a backend answers `unavailable` with
//! the reason; never a fake success. This file converts between WIT types
//! and the backend's; it must not talk to a cluster itself.

use std::sync::Arc;

use serde_json::Value;

use crate::bindings::wit::cluster_read::{self, ContainerState, Event, ListOptions, LogOptions, PodState, RolloutStatus};
use crate::bindings::wit::cluster_write::{self, ApplyOptions, Propagation};
use crate::bindings::wit::types::{CapError, ErrorKind, ObjectRef, Pair};
use crate::cluster::{self as backend, BackendError, BackendErrorKind, ClusterBackend, ObjectKey};
use crate::caps::tri;
use crate::sandbox::HostState;

type Answer<T> = wasmtime::Result<Result<T, CapError>>;

pub(super) fn cap_error(capability: &str, e: BackendError) -> CapError {
    let kind = match e.kind {
        BackendErrorKind::Invalid => ErrorKind::Invalid,
        BackendErrorKind::NotFound => ErrorKind::NotFound,
        BackendErrorKind::Conflict => ErrorKind::Conflict,
        BackendErrorKind::Unavailable => ErrorKind::Unavailable,
        BackendErrorKind::Timeout => ErrorKind::Timeout,
        BackendErrorKind::Failed => ErrorKind::Failed,
    };
    CapError { kind, capability: capability.to_string(), message: e.message }
}

impl HostState {
    /// The backend of `target` (already in scope), or `unavailable`.
    fn backend(&self, capability: &str, target: &str) -> Result<Arc<dyn ClusterBackend>, CapError> {
        self.env.clusters.get(target).cloned().ok_or_else(|| CapError {
            kind: ErrorKind::Unavailable,
            capability: capability.to_string(),
            message: format!("target `{target}` has no cluster connection in this run (it was not connected before the stage started)"),
        })
    }

    /// Scope-check `target` and `namespace`, then find the backend.
    fn cluster_call(&self, capability: &str, call: &str, target: &str, namespace: Option<&str>) -> Result<(Arc<dyn ClusterBackend>, String), CapError> {
        let s = self.env.scope.clone();
        let name = format!("{capability}.{call}");
        s.target(capability, target).map_err(|e| self.deny(&name, e))?;
        let ns = s.namespace(capability, namespace).map_err(|e| self.deny(&name, e))?;
        Ok((self.backend(capability, target)?, ns))
    }
}

fn key(object: &ObjectRef, namespace: String) -> ObjectKey {
    ObjectKey { api_version: object.api_version.clone(), kind: object.kind.clone(), namespace: Some(namespace), name: object.name.clone() }
}

/// Run a backend future, or stop when the call is cancelled.
pub(super) fn run<T>(state: &HostState, capability: &'static str, fut: impl std::future::Future<Output = backend::BackendResult<T>>) -> impl std::future::Future<Output = Result<T, CapError>> {
    let deadline = state.deadline;
    let remaining = deadline.saturating_duration_since(std::time::Instant::now());
    let cancel = state.env.cancel.clone();
    // The backend's retries see the stage's deadline and stop before it.
    async move { tokio::select! {
        r = crate::deadline::CALL_DEADLINE.scope(deadline, fut) => r.map_err(|e| cap_error(capability, e)),
        _ = cancel.cancelled() => Err(CapError { kind: ErrorKind::Timeout, capability: capability.to_string(), message: "the run was interrupted".into() }),
        _ = tokio::time::sleep(remaining) => Err(CapError { kind: ErrorKind::Timeout, capability: capability.to_string(), message: "the stage deadline passed during the call".into() }),
    } }
}

const READ: &str = "cluster-read";
const WRITE: &str = "cluster-write";

impl cluster_read::Host for HostState {
    async fn get(&mut self, target: String, object: ObjectRef) -> Answer<String> {
        let (b, ns) = tri!(self.cluster_call(READ, "get", &target, object.namespace.as_deref()));
        Ok(run(self, READ, b.get(&key(&object, ns))).await.map(|v| v.to_string()))
    }

    async fn list(&mut self, target: String, api_version: String, kind: String, namespace: Option<String>, options: ListOptions) -> Answer<Vec<String>> {
        let (b, ns) = tri!(self.cluster_call(READ, "list", &target, namespace.as_deref()));
        let q = backend::ListQuery { label_selector: options.label_selector, field_selector: options.field_selector, limit: options.limit };
        Ok(run(self, READ, b.list(&api_version, &kind, &ns, &q)).await.map(|items| items.iter().map(Value::to_string).collect()))
    }

    async fn rollout(&mut self, target: String, object: ObjectRef) -> Answer<RolloutStatus> {
        let (b, ns) = tri!(self.cluster_call(READ, "rollout", &target, object.namespace.as_deref()));
        Ok(run(self, READ, b.rollout(&key(&object, ns))).await.map(|r| RolloutStatus {
            done: r.done,
            message: r.message,
            desired: r.desired,
            updated: r.updated,
            ready: r.ready,
            available: r.available,
            observed: r.observed,
            deadline_exceeded: r.deadline_exceeded,
        }))
    }

    async fn pods(&mut self, target: String, namespace: Option<String>, label_selector: String) -> Answer<Vec<PodState>> {
        let (b, ns) = tri!(self.cluster_call(READ, "pods", &target, namespace.as_deref()));
        Ok(run(self, READ, b.pods(&ns, &label_selector)).await.map(|pods| {
            pods.into_iter()
                .map(|p| PodState {
                    name: p.name,
                    phase: p.phase,
                    ready: p.ready,
                    node: p.node,
                    labels: p.labels.into_iter().map(|(key, value)| Pair { key, value }).collect(),
                    containers: p
                        .containers
                        .into_iter()
                        .map(|c| ContainerState { name: c.name, image: c.image, ready: c.ready, restarts: c.restarts, state: c.state, reason: c.reason, message: c.message })
                        .collect(),
                })
                .collect()
        }))
    }

    async fn events(&mut self, target: String, object: ObjectRef) -> Answer<Vec<Event>> {
        let (b, ns) = tri!(self.cluster_call(READ, "events", &target, object.namespace.as_deref()));
        Ok(run(self, READ, b.events(&key(&object, ns))).await.map(|events| {
            events.into_iter().map(|e| Event { event_type: e.event_type, reason: e.reason, message: e.message, count: e.count, last_seen: e.last_seen }).collect()
        }))
    }

    async fn logs(&mut self, target: String, namespace: Option<String>, pod: String, options: LogOptions) -> Answer<String> {
        let (b, ns) = tri!(self.cluster_call(READ, "logs", &target, namespace.as_deref()));
        let q = backend::LogQuery { container: options.container, tail_lines: options.tail_lines, since_seconds: options.since_seconds, previous: options.previous, limit_bytes: options.limit_bytes };
        Ok(run(self, READ, b.logs(&ns, &pod, &q)).await)
    }
}

/// A manifest given as JSON or YAML, as one JSON object.
fn parse_manifest(manifest: &str) -> Result<Value, CapError> {
    let invalid = |m: String| CapError { kind: ErrorKind::Invalid, capability: WRITE.into(), message: m };
    let value: Value = match serde_json::from_str(manifest) {
        Ok(v) => v,
        Err(_) => serde_yaml::from_str(manifest).map_err(|e| invalid(format!("the manifest is neither JSON nor YAML: {e}")))?,
    };
    if !value.is_object() || value["apiVersion"].as_str().is_none() || value["kind"].as_str().is_none() || value["metadata"]["name"].as_str().is_none() {
        return Err(invalid("the manifest must be one object with apiVersion, kind and metadata.name".into()));
    }
    Ok(value)
}

impl cluster_write::Host for HostState {
    async fn apply(&mut self, target: String, manifest: String, options: ApplyOptions) -> Answer<String> {
        let mut value = tri!(parse_manifest(&manifest));
        let namespace = value["metadata"]["namespace"].as_str().map(String::from);
        let (b, ns) = tri!(self.cluster_call(WRITE, "apply", &target, namespace.as_deref()));
        value["metadata"]["namespace"] = Value::String(ns);
        let opts = backend::ApplyOptions { force: options.force, dry_run: options.dry_run };
        Ok(run(self, WRITE, b.apply(&value, opts)).await.map(|v| v.to_string()))
    }

    async fn delete(&mut self, target: String, object: ObjectRef, propagation: Propagation) -> Answer<()> {
        let (b, ns) = tri!(self.cluster_call(WRITE, "delete", &target, object.namespace.as_deref()));
        let p = match propagation {
            Propagation::Background => backend::Propagation::Background,
            Propagation::Foreground => backend::Propagation::Foreground,
            Propagation::Orphan => backend::Propagation::Orphan,
        };
        Ok(run(self, WRITE, b.delete(&key(&object, ns), p)).await)
    }

    async fn scale(&mut self, target: String, object: ObjectRef, replicas: u32) -> Answer<()> {
        let (b, ns) = tri!(self.cluster_call(WRITE, "scale", &target, object.namespace.as_deref()));
        Ok(run(self, WRITE, b.scale(&key(&object, ns), replicas)).await)
    }
}
