//! The runtime's [`ClusterBackend`] on kube-rs: one connected client per
//! target, objects as `DynamicObject`s whose `ApiResource` is found by
//! apiVersion+kind through discovery (cached per backend), server-side apply
//! with field manager `gantry` (or one the caller names), and `kubectl rollout status`'s judgement of
//! Deployments, StatefulSets and DaemonSets, word for word. This file does
//! not check scope (the runtime's capabilities do, before calling) and must
//! not print objects' secrets or credentials.

use std::collections::HashMap;
use std::sync::Mutex;

use gantry_runtime::cluster::{
    ApplyOptions, BackendError, BackendErrorKind, BackendResult, ClusterBackend, ContainerInfo, EventInfo, ListQuery, LogQuery, ObjectKey, PodInfo, ProbeAnswer, Propagation, Rollout,
    PodProbe, ServiceProbe, PROBE_BODY_CAP, PROBE_HEADERS,
};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, LogParams, Patch, PatchParams, PropagationPolicy};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use kube::Client;
use serde_json::{json, Value};

/// The field manager of every write, unless [`KubeBackend::with_field_manager`] names another.
pub const FIELD_MANAGER: &str = "gantry";
/// The most log bytes returned, whatever the plugin asks.
pub const LOG_CAP: u64 = 1 << 20;

/// One target's cluster through kube-rs.
pub struct KubeBackend {
    target: String,
    client: Client,
    /// The server-side apply field manager of every write.
    field_manager: String,
    /// (apiVersion, kind) → the resource and whether it is namespaced.
    resources: Mutex<HashMap<(String, String), (ApiResource, bool)>>,
}

impl KubeBackend {
    pub fn new(target: &str, client: Client) -> KubeBackend {
        KubeBackend { target: target.to_string(), client, field_manager: FIELD_MANAGER.to_string(), resources: Mutex::new(HashMap::new()) }
    }

    /// The same backend writing as field manager `manager` (the release
    /// engine applies as Helm does, so ownership stays Helm's).
    pub fn with_field_manager(mut self, manager: &str) -> KubeBackend {
        self.field_manager = manager.to_string();
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Map a kube-rs error to a backend error naming the target.
    fn error(&self, what: &str, err: kube::Error) -> BackendError {
        let target = &self.target;
        match err {
            kube::Error::Api(s) => {
                let kind = match s.code {
                    404 => BackendErrorKind::NotFound,
                    409 => BackendErrorKind::Conflict,
                    400 | 422 => BackendErrorKind::Invalid,
                    408 | 504 => BackendErrorKind::Timeout,
                    429 | 500..=599 => BackendErrorKind::Unavailable,
                    _ => BackendErrorKind::Failed,
                };
                let hint = match s.code {
                    401 => format!("; the credentials for target `{target}` were refused"),
                    403 => format!("; the credentials for target `{target}` do not allow it"),
                    409 if s.message.contains("conflict with") => {
                        "; another field manager owns these fields: apply with force to take them over".to_string()
                    }
                    _ => String::new(),
                };
                BackendError::new(kind, format!("{what} on target `{target}`: {} ({}){hint}", s.message, s.code))
            }
            other => {
                let e = crate::target::classify(target, other);
                let kind = match e {
                    crate::ClusterError::Unreachable { .. } => BackendErrorKind::Unavailable,
                    _ => BackendErrorKind::Failed,
                };
                BackendError::new(kind, format!("{what}: {e}"))
            }
        }
    }

    /// The resource serving `api_version`/`kind`, by discovery once per kind.
    async fn resource(&self, api_version: &str, kind: &str) -> BackendResult<(ApiResource, bool)> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.resources.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        if version.is_empty() || kind.is_empty() {
            return Err(BackendError::new(BackendErrorKind::Invalid, format!("`{api_version}` `{kind}` is not an apiVersion and kind")));
        }
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk).await.map_err(|e| match e {
            kube::Error::Api(s) if s.code == 404 => {
                BackendError::new(BackendErrorKind::NotFound, format!("the cluster of target `{}` does not serve apiVersion `{api_version}`", self.target))
            }
            kube::Error::Discovery(_) => BackendError::new(
                BackendErrorKind::NotFound,
                format!("the cluster of target `{}` does not serve kind `{kind}` in apiVersion `{api_version}`", self.target),
            ),
            other => self.error("discovery", other),
        })?;
        let found = (resource, caps.scope == Scope::Namespaced);
        self.resources.lock().unwrap_or_else(|p| p.into_inner()).insert(key, found.clone());
        Ok(found)
    }

    async fn api(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> BackendResult<Api<DynamicObject>> {
        let (resource, namespaced) = self.resource(api_version, kind).await?;
        Ok(match (namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &resource),
            (true, None) => Api::default_namespaced_with(self.client.clone(), &resource),
            (false, _) => Api::all_with(self.client.clone(), &resource),
        })
    }

    fn describe(o: &ObjectKey) -> String {
        match &o.namespace {
            Some(ns) => format!("{} {}/{}", o.kind, ns, o.name),
            None => format!("{} {}", o.kind, o.name),
        }
    }
}

fn to_json(obj: &DynamicObject) -> BackendResult<Value> {
    serde_json::to_value(obj).map_err(|e| BackendError::new(BackendErrorKind::Failed, format!("cannot encode the object: {e}")))
}

fn u(v: &Value) -> u32 {
    v.as_u64().unwrap_or(0).min(u32::MAX as u64) as u32
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// `kubectl rollout status` for one object, as JSON (kubectl's
/// `polymorphichelpers/rollout_status.go`).
pub fn rollout_status(kind: &str, obj: &Value) -> Result<Rollout, String> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let generation = i(&obj["metadata"]["generation"]);
    let spec = &obj["spec"];
    let status = &obj["status"];
    let observed_generation = i(&status["observedGeneration"]);
    let mut r = Rollout { observed: generation <= observed_generation, ..Rollout::default() };
    match kind {
        "Deployment" => {
            let desired = spec.get("replicas").map(u);
            r.desired = desired.unwrap_or(1);
            r.updated = u(&status["updatedReplicas"]);
            r.ready = u(&status["readyReplicas"]);
            r.available = u(&status["availableReplicas"]);
            let replicas = u(&status["replicas"]);
            if !r.observed {
                r.message = "Waiting for deployment spec update to be observed...".into();
                return Ok(r);
            }
            let deadline = status["conditions"].as_array().into_iter().flatten().find(|c| c["type"] == "Progressing").is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded");
            if deadline {
                r.deadline_exceeded = true;
                r.message = format!("deployment {name:?} exceeded its progress deadline");
            } else if desired.is_some_and(|d| r.updated < d) {
                r.message = format!("Waiting for deployment {name:?} rollout to finish: {} out of {} new replicas have been updated...", r.updated, r.desired);
            } else if replicas > r.updated {
                r.message = format!("Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...", replicas - r.updated);
            } else if r.available < r.updated {
                r.message = format!("Waiting for deployment {name:?} rollout to finish: {} of {} updated replicas are available...", r.available, r.updated);
            } else {
                r.done = true;
                r.message = format!("deployment {name:?} successfully rolled out");
            }
        }
        "StatefulSet" => {
            if spec["updateStrategy"]["type"].as_str().is_some_and(|t| t != "RollingUpdate") {
                return Err("rollout status is only available for RollingUpdate strategy type".into());
            }
            let desired = spec.get("replicas").map(u);
            r.desired = desired.unwrap_or(1);
            r.updated = u(&status["updatedReplicas"]);
            r.ready = u(&status["readyReplicas"]);
            r.available = u(&status["availableReplicas"]);
            r.observed = observed_generation != 0 && generation <= observed_generation;
            let partition = spec["updateStrategy"]["rollingUpdate"].get("partition").map(u);
            if !r.observed {
                r.message = "Waiting for statefulset spec update to be observed...".into();
            } else if desired.is_some_and(|d| r.ready < d) {
                r.message = format!("Waiting for {} pods to be ready...", r.desired - r.ready);
            } else if let Some(partition) = partition {
                let want = r.desired.saturating_sub(partition);
                if desired.is_some() && r.updated < want {
                    r.message = format!("Waiting for partitioned roll out to finish: {} out of {} new pods have been updated...", r.updated, want);
                } else {
                    r.done = true;
                    r.message = format!("partitioned roll out complete: {} new pods have been updated...", r.updated);
                }
            } else if status["updateRevision"] != status["currentRevision"] {
                r.message = format!("waiting for statefulset rolling update to complete {} pods at revision {}...", r.updated, status["updateRevision"].as_str().unwrap_or_default());
            } else {
                r.done = true;
                r.message = format!("statefulset rolling update complete {} pods at revision {}...", u(&status["currentReplicas"]), status["currentRevision"].as_str().unwrap_or_default());
            }
        }
        "DaemonSet" => {
            if spec["updateStrategy"]["type"].as_str().is_some_and(|t| t != "RollingUpdate") {
                return Err("rollout status is only available for RollingUpdate strategy type".into());
            }
            r.desired = u(&status["desiredNumberScheduled"]);
            r.updated = u(&status["updatedNumberScheduled"]);
            r.ready = u(&status["numberReady"]);
            r.available = u(&status["numberAvailable"]);
            if !r.observed {
                r.message = "Waiting for daemon set spec update to be observed...".into();
            } else if r.updated < r.desired {
                r.message = format!("Waiting for daemon set {name:?} rollout to finish: {} out of {} new pods have been updated...", r.updated, r.desired);
            } else if r.available < r.desired {
                r.message = format!("Waiting for daemon set {name:?} rollout to finish: {} of {} updated pods are available...", r.available, r.desired);
            } else {
                r.done = true;
                r.message = format!("daemon set {name:?} successfully rolled out");
            }
        }
        other => return Err(format!("no status for kind `{other}`: rollout status knows Deployment, StatefulSet and DaemonSet")),
    }
    Ok(r)
}

/// A pod reduced to what health checks look at.
pub fn pod_info(pod: &Value) -> PodInfo {
    let status = &pod["status"];
    let images: HashMap<&str, &str> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["name"].as_str()?, c["image"].as_str().unwrap_or_default())))
        .collect();
    let statuses: Vec<&Value> = status["containerStatuses"].as_array().into_iter().flatten().collect();
    let mut containers: Vec<ContainerInfo> = statuses
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap_or_default().to_string();
            let state = &c["state"];
            let (which, detail) = ["waiting", "running", "terminated"].iter().find_map(|k| state.get(*k).map(|d| (*k, d))).unwrap_or(("waiting", &Value::Null));
            ContainerInfo {
                image: c["image"].as_str().map(String::from).unwrap_or_else(|| images.get(name.as_str()).copied().unwrap_or_default().to_string()),
                name,
                ready: c["ready"].as_bool().unwrap_or(false),
                restarts: u(&c["restartCount"]),
                state: which.to_string(),
                reason: detail["reason"].as_str().map(String::from),
                message: detail["message"].as_str().map(String::from),
            }
        })
        .collect();
    // Containers without a status yet are waiting, as kubectl shows them.
    for (name, image) in &images {
        if !containers.iter().any(|c| c.name == *name) {
            containers.push(ContainerInfo { name: name.to_string(), image: image.to_string(), state: "waiting".into(), ..ContainerInfo::default() });
        }
    }
    let mut labels: Vec<(String, String)> = pod["metadata"]["labels"].as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect();
    labels.sort();
    PodInfo {
        name: pod["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        phase: status["phase"].as_str().unwrap_or("Unknown").to_string(),
        ready: status["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Ready" && c["status"] == "True"),
        node: pod["spec"]["nodeName"].as_str().map(String::from),
        labels,
        containers,
    }
}

fn event_info(e: &Value) -> EventInfo {
    let last = e["lastTimestamp"].as_str().or(e["series"]["lastObservedTime"].as_str()).or(e["eventTime"].as_str()).or(e["firstTimestamp"].as_str()).or(e["metadata"]["creationTimestamp"].as_str());
    EventInfo {
        event_type: e["type"].as_str().unwrap_or("Normal").to_string(),
        reason: e["reason"].as_str().unwrap_or_default().to_string(),
        message: e["message"].as_str().unwrap_or_default().to_string(),
        count: e["count"].as_u64().or(e["series"]["count"].as_u64()).unwrap_or(1).min(u32::MAX as u64) as u32,
        last_seen: last.unwrap_or_default().to_string(),
    }
}

#[async_trait::async_trait]
impl ClusterBackend for KubeBackend {
    async fn get(&self, object: &ObjectKey) -> BackendResult<Value> {
        let api = self.api(&object.api_version, &object.kind, object.namespace.as_deref()).await?;
        let obj = api.get(&object.name).await.map_err(|e| self.error(&format!("get {}", Self::describe(object)), e))?;
        to_json(&obj)
    }

    async fn list(&self, api_version: &str, kind: &str, namespace: &str, query: &ListQuery) -> BackendResult<Vec<Value>> {
        let api = self.api(api_version, kind, Some(namespace)).await?;
        let mut params = ListParams { label_selector: query.label_selector.clone(), field_selector: query.field_selector.clone(), limit: query.limit, ..ListParams::default() };
        let mut items = Vec::new();
        loop {
            let page = api.list(&params).await.map_err(|e| self.error(&format!("list {kind} in {namespace}"), e))?;
            for obj in &page.items {
                let mut v = to_json(obj)?;
                // List items carry no type; give them their own, as kubectl prints them.
                v["apiVersion"] = json!(api_version);
                v["kind"] = json!(kind);
                items.push(v);
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params.continue_token = Some(token),
                None => break,
            }
        }
        Ok(items)
    }

    async fn apply(&self, manifest: &Value, options: ApplyOptions) -> BackendResult<Value> {
        let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
        let kind = manifest["kind"].as_str().unwrap_or_default();
        let name = manifest["metadata"]["name"].as_str().unwrap_or_default();
        let (resource, namespaced) = self.resource(api_version, kind).await?;
        let mut manifest = manifest.clone();
        let namespace = manifest["metadata"]["namespace"].as_str().map(String::from);
        let api: Api<DynamicObject> = match (namespaced, &namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &resource),
            (true, None) => Api::default_namespaced_with(self.client.clone(), &resource),
            (false, _) => {
                if let Some(meta) = manifest["metadata"].as_object_mut() {
                    meta.remove("namespace");
                }
                Api::all_with(self.client.clone(), &resource)
            }
        };
        let mut params = PatchParams::apply(&self.field_manager);
        if options.force {
            params = params.force();
        }
        if options.dry_run {
            params = params.dry_run();
        }
        let obj = api.patch(name, &params, &Patch::Apply(&manifest)).await.map_err(|e| self.error(&format!("apply {kind} {name}"), e))?;
        to_json(&obj)
    }

    async fn delete(&self, object: &ObjectKey, propagation: Propagation) -> BackendResult<()> {
        let api = self.api(&object.api_version, &object.kind, object.namespace.as_deref()).await?;
        let params = DeleteParams {
            propagation_policy: Some(match propagation {
                Propagation::Background => PropagationPolicy::Background,
                Propagation::Foreground => PropagationPolicy::Foreground,
                Propagation::Orphan => PropagationPolicy::Orphan,
            }),
            ..DeleteParams::default()
        };
        api.delete(&object.name, &params).await.map_err(|e| self.error(&format!("delete {}", Self::describe(object)), e))?;
        Ok(())
    }

    async fn scale(&self, object: &ObjectKey, replicas: u32) -> BackendResult<()> {
        let api = self.api(&object.api_version, &object.kind, object.namespace.as_deref()).await?;
        let patch = json!({"spec": {"replicas": replicas}});
        api.patch_scale(&object.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| self.error(&format!("scale {}", Self::describe(object)), e))?;
        Ok(())
    }

    async fn rollout(&self, object: &ObjectKey) -> BackendResult<Rollout> {
        if !matches!(object.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet") {
            return Err(BackendError::new(BackendErrorKind::Invalid, format!("no rollout status for kind `{}`: it is known for Deployment, StatefulSet and DaemonSet", object.kind)));
        }
        let obj = self.get(object).await?;
        rollout_status(&object.kind, &obj).map_err(|m| BackendError::new(BackendErrorKind::Invalid, format!("{} on target `{}`: {m}", Self::describe(object), self.target)))
    }

    async fn pods(&self, namespace: &str, label_selector: &str) -> BackendResult<Vec<PodInfo>> {
        let query = ListQuery { label_selector: Some(label_selector.to_string()).filter(|s| !s.is_empty()), ..ListQuery::default() };
        let pods = self.list("v1", "Pod", namespace, &query).await?;
        let mut out: Vec<PodInfo> = pods.iter().map(pod_info).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn events(&self, object: &ObjectKey) -> BackendResult<Vec<EventInfo>> {
        let namespace = object.namespace.clone().unwrap_or_else(|| "default".into());
        let mut selector = format!("involvedObject.name={},involvedObject.kind={}", object.name, object.kind);
        if object.namespace.is_some() {
            selector.push_str(&format!(",involvedObject.namespace={namespace}"));
        }
        let query = ListQuery { field_selector: Some(selector), ..ListQuery::default() };
        let events = self.list("v1", "Event", &namespace, &query).await?;
        let mut out: Vec<EventInfo> = events.iter().map(event_info).collect();
        // RFC 3339 in UTC sorts as text; stable, so equal times keep the server's order.
        out.sort_by(|a, b| a.last_seen.cmp(&b.last_seen));
        Ok(out)
    }

    async fn logs(&self, namespace: &str, pod: &str, query: &LogQuery) -> BackendResult<String> {
        let api: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(self.client.clone(), namespace);
        let limit = query.limit_bytes.unwrap_or(LOG_CAP).min(LOG_CAP);
        let params = LogParams {
            container: query.container.clone(),
            tail_lines: query.tail_lines.map(i64::from),
            since_seconds: query.since_seconds.map(|s| s.min(i64::MAX as u64) as i64),
            previous: query.previous,
            limit_bytes: Some(limit as i64),
            ..LogParams::default()
        };
        api.logs(pod, &params).await.map_err(|e| self.error(&format!("logs of pod {namespace}/{pod}"), e))
    }

    async fn probe_service(&self, probe: &ServiceProbe) -> BackendResult<ProbeAnswer> {
        let what = format!("probe of service {}/{}:{}", probe.namespace, probe.service, probe.port);
        self.probe_proxy(&what, "services", &probe.namespace, &probe.service, &probe.port, &probe.path, &probe.headers, probe.timeout).await
    }

    async fn probe_pod(&self, probe: &PodProbe) -> BackendResult<ProbeAnswer> {
        let what = format!("probe of pod {}/{}:{}", probe.namespace, probe.pod, probe.port);
        self.probe_proxy(&what, "pods", &probe.namespace, &probe.pod, &probe.port, &probe.path, &probe.headers, probe.timeout).await
    }
}

impl KubeBackend {
    /// One GET through the API server's `services/` or `pods/` proxy subresource.
    #[allow(clippy::too_many_arguments)]
    async fn probe_proxy(&self, what: &str, plural: &str, namespace: &str, name: &str, port: &str, path: &str, headers: &[(String, String)], timeout: std::time::Duration) -> BackendResult<ProbeAnswer> {
        let invalid = |m: String| BackendError::new(BackendErrorKind::Invalid, format!("{what}: {m}"));
        let segment_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !segment_ok(namespace) || !segment_ok(name) || !segment_ok(port) {
            return Err(invalid(format!("namespace, {} and port must be DNS names or a port number", &plural[..plural.len() - 1])));
        }
        let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        let uri = format!("/api/v1/namespaces/{namespace}/{plural}/{name}:{port}/proxy{path}");
        let mut request = http::Request::get(&uri);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request.body(kube::client::Body::from(Vec::new())).map_err(|e| invalid(format!("the path or a header is malformed: {e}")))?;
        let started = std::time::Instant::now();
        let exchange = async {
            let response = self.client.send(request).await.map_err(|e| self.error(what, e))?;
            let status = response.status().as_u16();
            let headers = kept_headers(response.headers());
            let body = read_capped(response.into_body(), PROBE_BODY_CAP)
                .await
                .map_err(|e| BackendError::new(BackendErrorKind::Unavailable, format!("{what} on target `{}`: the body broke off: {e}", self.target)))?;
            Ok(ProbeAnswer { status, headers, body, latency: started.elapsed() })
        };
        // One GET, as a health check sees it: the retry layer's deadline is now, so it
        // makes one attempt and a 503 (no ready pods) comes back as the status it is.
        let once = gantry_runtime::deadline::CALL_DEADLINE.scope(started, exchange);
        match tokio::time::timeout(timeout, once).await {
            Ok(answer) => answer,
            Err(_) => Err(BackendError::new(BackendErrorKind::Timeout, format!("{what} on target `{}`: no full answer within {} ms", self.target, timeout.as_millis()))),
        }
    }
}

/// The headers of [`PROBE_HEADERS`] that `headers` has, in that order.
fn kept_headers(headers: &http::HeaderMap) -> Vec<(String, String)> {
    PROBE_HEADERS
        .iter()
        .flat_map(|name| headers.get_all(*name).iter().map(move |v| (name.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())))
        .collect()
}

/// At most `cap` bytes of `body`; the rest is not read.
async fn read_capped(mut body: kube::client::Body, cap: usize) -> Result<Vec<u8>, String> {
    use http_body_util::BodyExt;
    let mut out = Vec::new();
    while out.len() < cap {
        match body.frame().await {
            None => break,
            Some(Err(e)) => return Err(e.to_string()),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = cap - out.len();
                    out.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::too_many_arguments)]
    fn sts(generation: i64, observed: i64, replicas: u32, ready: u32, updated: u32, current: &str, update: &str, partition: Option<u32>) -> Value {
        let mut strategy = json!({"type": "RollingUpdate"});
        if let Some(p) = partition {
            strategy["rollingUpdate"] = json!({"partition": p});
        }
        json!({
            "metadata": {"name": "db", "generation": generation},
            "spec": {"replicas": replicas, "updateStrategy": strategy},
            "status": {"observedGeneration": observed, "readyReplicas": ready, "updatedReplicas": updated, "currentReplicas": replicas, "currentRevision": current, "updateRevision": update}
        })
    }

    #[test]
    fn statefulset_status_in_kubectls_words() {
        let m = |v: &Value| rollout_status("StatefulSet", v).unwrap();
        assert_eq!(m(&sts(2, 1, 3, 3, 3, "a", "a", None)).message, "Waiting for statefulset spec update to be observed...");
        assert_eq!(m(&sts(2, 2, 3, 1, 1, "a", "b", None)).message, "Waiting for 2 pods to be ready...");
        assert_eq!(m(&sts(2, 2, 3, 3, 1, "a", "b", None)).message, "waiting for statefulset rolling update to complete 1 pods at revision b...");
        let done = m(&sts(2, 2, 3, 3, 3, "b", "b", None));
        assert!(done.done && done.message == "statefulset rolling update complete 3 pods at revision b...", "{done:?}");
        assert_eq!(m(&sts(2, 2, 3, 3, 0, "a", "b", Some(2))).message, "Waiting for partitioned roll out to finish: 0 out of 1 new pods have been updated...");
        assert!(m(&sts(2, 2, 3, 3, 1, "a", "b", Some(2))).done);
        let on_delete = json!({"metadata": {"name": "db"}, "spec": {"updateStrategy": {"type": "OnDelete"}}});
        assert_eq!(rollout_status("StatefulSet", &on_delete).unwrap_err(), "rollout status is only available for RollingUpdate strategy type");
    }

    #[test]
    fn daemonset_status_in_kubectls_words() {
        let ds = |desired: u32, updated: u32, available: u32| {
            json!({"metadata": {"name": "agent", "generation": 1}, "spec": {"updateStrategy": {"type": "RollingUpdate"}},
                   "status": {"observedGeneration": 1, "desiredNumberScheduled": desired, "updatedNumberScheduled": updated, "numberAvailable": available, "numberReady": available}})
        };
        let m = |v: Value| rollout_status("DaemonSet", &v).unwrap();
        assert_eq!(m(ds(3, 1, 1)).message, "Waiting for daemon set \"agent\" rollout to finish: 1 out of 3 new pods have been updated...");
        assert_eq!(m(ds(3, 3, 2)).message, "Waiting for daemon set \"agent\" rollout to finish: 2 of 3 updated pods are available...");
        assert_eq!(m(ds(3, 3, 3)).message, "daemon set \"agent\" successfully rolled out");
    }

    #[test]
    fn deployment_status_covers_old_replicas_and_the_progress_deadline() {
        let d = |replicas: u32, updated: u32, available: u32, deadline: bool| {
            let reason = if deadline { "ProgressDeadlineExceeded" } else { "ReplicaSetUpdated" };
            json!({"metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 2},
                   "status": {"observedGeneration": 3, "replicas": replicas, "updatedReplicas": updated, "availableReplicas": available,
                              "conditions": [{"type": "Progressing", "status": if deadline { "False" } else { "True" }, "reason": reason}]}})
        };
        let m = |v: Value| rollout_status("Deployment", &v).unwrap();
        assert_eq!(m(d(3, 1, 1, false)).message, "Waiting for deployment \"web\" rollout to finish: 1 out of 2 new replicas have been updated...");
        assert_eq!(m(d(3, 2, 2, false)).message, "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination...");
        let stuck = m(d(3, 1, 1, true));
        assert!(stuck.deadline_exceeded && !stuck.done && stuck.message == "deployment \"web\" exceeded its progress deadline", "{stuck:?}");
    }

    #[test]
    fn a_pod_without_container_statuses_lists_its_containers_as_waiting() {
        let pod = json!({"metadata": {"name": "p", "labels": {"b": "2", "a": "1"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}, "status": {"phase": "Pending"}});
        let info = pod_info(&pod);
        assert_eq!(info.labels, [("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())]);
        assert_eq!((info.containers[0].state.as_str(), info.containers[0].image.as_str(), info.ready), ("waiting", "i:1", false));
    }
}
