//! Helm's `--wait` (`--wait=legacy`): [`KubeWaiter`] polls the objects a
//! release applied until each is ready as Helm's ready checker
//! (`pkg/kube/ready.go`) judges it — a Deployment when its new ReplicaSet
//! has at least `replicas - maxUnavailable` ready pods (paused: ready), a
//! StatefulSet by its partition, updated and ready replicas and revisions,
//! a DaemonSet by `numberReady`, a Job (only with `--wait-for-jobs`) when
//! complete, a Pod by its Ready condition, a PVC when Bound, a Service when
//! it has a cluster IP (and, as a LoadBalancer, an ingress); every other
//! kind once it exists — within `--timeout`. On timeout the error names
//! each object still not ready and why (with its pods' waiting reasons) in
//! Helm 4's words (`resource Kind/ns/name not ready. status: InProgress,
//! message: …` then `context deadline exceeded`).
//! It also holds the one judgement hooks wait on ([`hook_done`]). This
//! file reads the cluster only; it must not write to it nor know releases'
//! storage.

use std::sync::Arc;
use std::time::Duration;

use gantry_runtime::cluster::{BackendErrorKind, ClusterBackend, ListQuery, ObjectKey};
use serde_json::Value;

use crate::action::Waiter;
use crate::record::Release;

/// Helm's `--timeout` default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// How often objects are read again while waiting.
const POLL: Duration = Duration::from_millis(250);

/// Where an object stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet, and why (Helm's words where its checker logs some).
    Waiting(String),
    /// Never will be: the operation fails now (a failed Job or Pod).
    Failed(String),
}

/// Waits as Helm's `--wait` does; see the file's header.
pub struct KubeWaiter {
    objects: Arc<dyn ClusterBackend>,
    timeout: Duration,
    wait_for_jobs: bool,
}

impl KubeWaiter {
    pub fn new(objects: Arc<dyn ClusterBackend>, timeout: Duration) -> KubeWaiter {
        KubeWaiter { objects, timeout, wait_for_jobs: false }
    }

    /// `--wait-for-jobs`: Jobs must complete too.
    pub fn wait_for_jobs(mut self, yes: bool) -> KubeWaiter {
        self.wait_for_jobs = yes;
        self
    }
}

/// Helm 4's words for an object still not ready at the deadline (its
/// status watcher's), with gantry's reason as the message.
pub fn not_ready(o: &Value, why: &str) -> String {
    format!("resource {} not ready. status: InProgress, message: {why}", describe(o))
}

/// `Kind/namespace/name` (no namespace part for cluster-scoped objects).
pub fn describe(o: &Value) -> String {
    let kind = o["kind"].as_str().unwrap_or_default();
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    match o["metadata"]["namespace"].as_str().filter(|n| !n.is_empty()) {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

pub(crate) fn key_of(o: &Value) -> ObjectKey {
    ObjectKey {
        api_version: o["apiVersion"].as_str().unwrap_or_default().to_string(),
        kind: o["kind"].as_str().unwrap_or_default().to_string(),
        namespace: o["metadata"]["namespace"].as_str().filter(|n| !n.is_empty()).map(String::from),
        name: o["metadata"]["name"].as_str().unwrap_or_default().to_string(),
    }
}

#[async_trait::async_trait]
impl Waiter for KubeWaiter {
    async fn wait(&self, _release: &Release, objects: &[Value]) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut pending: Vec<&Value> = objects.iter().collect();
        loop {
            let mut still = Vec::new();
            let mut reasons = Vec::new();
            for o in pending {
                match readiness(self.objects.as_ref(), o, self.wait_for_jobs).await {
                    Readiness::Ready => {}
                    Readiness::Waiting(why) => {
                        still.push(o);
                        reasons.push(not_ready(o, &why));
                    }
                    Readiness::Failed(why) => return Err(why),
                }
            }
            if still.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("{}\ncontext deadline exceeded", reasons.join("\n")));
            }
            pending = still;
            tokio::time::sleep(POLL.min(deadline.saturating_duration_since(tokio::time::Instant::now())).max(Duration::from_millis(10))).await;
        }
    }
}

/// Whether a hook's object is done, as Helm's `WatchUntilReady` judges
/// hooks: a Job when complete (failed: an error), a Pod when Succeeded
/// (Failed: an error), anything else once it exists.
pub async fn hook_done(objects: &dyn ClusterBackend, o: &Value) -> Readiness {
    let live = match objects.get(&key_of(o)).await {
        Ok(live) => live,
        Err(e) if e.kind == BackendErrorKind::NotFound => return Readiness::Waiting("not found".into()),
        Err(e) => return Readiness::Waiting(e.message),
    };
    let name = live["metadata"]["name"].as_str().unwrap_or_default();
    match live["kind"].as_str().unwrap_or(o["kind"].as_str().unwrap_or_default()) {
        "Job" => job(objects, &live).await,
        "Pod" => match live["status"]["phase"].as_str().unwrap_or_default() {
            "Succeeded" => Readiness::Ready,
            "Failed" => Readiness::Failed(format!("pod {name} failed")),
            phase => Readiness::Waiting(format!("pod {name} is {}{}", if phase.is_empty() { "Pending" } else { phase }, pod_reasons(std::slice::from_ref(&live)))),
        },
        _ => Readiness::Ready,
    }
}

/// One object's readiness for `--wait`.
pub async fn readiness(objects: &dyn ClusterBackend, o: &Value, wait_for_jobs: bool) -> Readiness {
    let live = match objects.get(&key_of(o)).await {
        Ok(live) => live,
        Err(e) if e.kind == BackendErrorKind::NotFound => return Readiness::Waiting("not found".into()),
        Err(e) => return Readiness::Waiting(e.message),
    };
    let status = &live["status"];
    let generation = live["metadata"]["generation"].as_i64().unwrap_or(0);
    let observed = status["observedGeneration"].as_i64().unwrap_or(0);
    let int = |v: &Value| v.as_i64().unwrap_or(0);
    match o["kind"].as_str().unwrap_or_default() {
        "Deployment" => deployment(objects, &live).await,
        "StatefulSet" => {
            if live["spec"]["updateStrategy"]["type"] == "OnDelete" {
                return Readiness::Ready;
            }
            if observed < generation {
                return Readiness::Waiting("the statefulset controller has not observed its generation yet".into());
            }
            let replicas = live["spec"]["replicas"].as_i64().unwrap_or(1);
            let partition = int(&live["spec"]["updateStrategy"]["rollingUpdate"]["partition"]);
            let expected = replicas - partition;
            if int(&status["updatedReplicas"]) < expected {
                return Readiness::Waiting(format!("{} of {expected} updated replicas{}", int(&status["updatedReplicas"]), pods_of(objects, &live).await));
            }
            if int(&status["readyReplicas"]) != replicas {
                return Readiness::Waiting(format!("{} of {replicas} replicas are ready{}", int(&status["readyReplicas"]), pods_of(objects, &live).await));
            }
            if partition == 0 && status["currentRevision"] != status["updateRevision"] {
                return Readiness::Waiting(format!("current revision {} is not the update revision {}", status["currentRevision"], status["updateRevision"]));
            }
            Readiness::Ready
        }
        "DaemonSet" => {
            if live["spec"]["updateStrategy"]["type"] == "OnDelete" {
                return Readiness::Ready;
            }
            if observed < generation {
                return Readiness::Waiting("the daemonset controller has not observed its generation yet".into());
            }
            let desired = int(&status["desiredNumberScheduled"]);
            if int(&status["updatedNumberScheduled"]) != desired {
                return Readiness::Waiting(format!("{} of {desired} updated pods are scheduled", int(&status["updatedNumberScheduled"])));
            }
            let unavailable = scaled(&live["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"], desired, true, 1);
            let expected = desired - unavailable;
            if int(&status["numberReady"]) < expected {
                return Readiness::Waiting(format!("{} of {expected} expected pods are ready{}", int(&status["numberReady"]), pods_of(objects, &live).await));
            }
            Readiness::Ready
        }
        "Job" if wait_for_jobs => job(objects, &live).await,
        "Pod" => {
            let ready = live["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Ready" && c["status"] == "True");
            if ready || live["status"]["phase"] == "Succeeded" {
                Readiness::Ready
            } else {
                Readiness::Waiting(format!("pod is not Ready{}", pod_reasons(std::slice::from_ref(&live))))
            }
        }
        "PersistentVolumeClaim" => match status["phase"].as_str() {
            Some("Bound") => Readiness::Ready,
            phase => Readiness::Waiting(format!("PersistentVolumeClaim is not bound (phase {})", phase.unwrap_or("unknown"))),
        },
        "Service" => {
            let spec = &live["spec"];
            if spec["type"] == "ExternalName" {
                return Readiness::Ready;
            }
            if spec["clusterIP"].as_str().unwrap_or_default().is_empty() {
                return Readiness::Waiting("Service does not have cluster IP address".into());
            }
            if spec["type"] == "LoadBalancer" && spec["externalIPs"].as_array().is_none_or(|a| a.is_empty()) && status["loadBalancer"]["ingress"].as_array().is_none_or(|a| a.is_empty()) {
                return Readiness::Waiting("Service does not have load balancer ingress IP address".into());
            }
            Readiness::Ready
        }
        _ => Readiness::Ready,
    }
}

/// Kubernetes' `intstr.GetScaledValueFromIntOrPercent`; `default` when unset.
fn scaled(v: &Value, total: i64, round_up: bool, default: i64) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(default),
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(p) if round_up => (p * total + 99) / 100,
            Some(p) => p * total / 100,
            None => default,
        },
        _ => default,
    }
}

/// `deploymentutil.MaxUnavailable`: 0 for Recreate, else the rolling
/// update's maxUnavailable (default 25%, rounded down), at most `replicas`.
fn max_unavailable(d: &Value, replicas: i64) -> i64 {
    if d["spec"]["strategy"]["type"] == "Recreate" || replicas == 0 {
        return 0;
    }
    let rolling = &d["spec"]["strategy"]["rollingUpdate"];
    let v = if rolling["maxUnavailable"].is_null() { Value::String("25%".into()) } else { rolling["maxUnavailable"].clone() };
    scaled(&v, replicas, false, 0).min(replicas)
}

async fn deployment(objects: &dyn ClusterBackend, d: &Value) -> Readiness {
    if d["spec"]["paused"] == true {
        // Helm: a paused deployment will never be ready; it is not waited for.
        return Readiness::Ready;
    }
    let ns = d["metadata"]["namespace"].as_str().unwrap_or_default();
    let uid = &d["metadata"]["uid"];
    let revision = &d["metadata"]["annotations"]["deployment.kubernetes.io/revision"];
    let sets = match objects.list("apps/v1", "ReplicaSet", ns, &ListQuery::default()).await {
        Ok(sets) => sets,
        Err(e) => return Readiness::Waiting(e.message),
    };
    let owned = |rs: &&Value| rs["metadata"]["ownerReferences"].as_array().into_iter().flatten().any(|r| &r["uid"] == uid);
    let new_rs = sets.iter().filter(owned).find(|rs| !revision.is_null() && &rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == revision);
    let Some(rs) = new_rs else {
        return Readiness::Waiting("its new ReplicaSet does not exist yet".into());
    };
    let rs_generation = rs["metadata"]["generation"].as_i64().unwrap_or(0);
    if rs["status"]["observedGeneration"].as_i64().unwrap_or(0) < rs_generation {
        return Readiness::Waiting("its new ReplicaSet's generation is not observed yet".into());
    }
    if d["status"]["observedGeneration"].as_i64().unwrap_or(0) != d["metadata"]["generation"].as_i64().unwrap_or(0) {
        return Readiness::Waiting("the deployment controller has not observed its generation yet".into());
    }
    let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let expected = replicas - max_unavailable(d, replicas);
    let ready = rs["status"]["readyReplicas"].as_i64().unwrap_or(0);
    if ready < expected {
        return Readiness::Waiting(format!("{ready} out of {expected} expected pods are ready{}", pods_of(objects, d).await));
    }
    Readiness::Ready
}

async fn job(objects: &dyn ClusterBackend, j: &Value) -> Readiness {
    for c in j["status"]["conditions"].as_array().into_iter().flatten() {
        if c["status"] != "True" {
            continue;
        }
        match c["type"].as_str() {
            Some("Complete") => return Readiness::Ready,
            // Helm 4's status watcher's words (kstatus): the failed pods of the completions.
            Some("Failed") => {
                let failed = j["status"]["failed"].as_i64().unwrap_or(0);
                let completions = j["spec"]["completions"].as_i64().unwrap_or(1);
                return Readiness::Failed(format!("resource {} not ready. status: Failed, message: Job Failed. failed: {failed}/{completions}", describe(j)));
            }
            _ => {}
        }
    }
    let completions = j["spec"]["completions"].as_i64().unwrap_or(1);
    let succeeded = j["status"]["succeeded"].as_i64().unwrap_or(0);
    Readiness::Waiting(format!("Job in progress: {succeeded} of {completions} completions succeeded{}", pods_of(objects, j).await))
}

/// `; pod NAME REASON` for each of the workload's pods that waits on
/// something (its selector's pods), or nothing.
async fn pods_of(objects: &dyn ClusterBackend, workload: &Value) -> String {
    let ns = workload["metadata"]["namespace"].as_str().unwrap_or_default();
    let Some(labels) = workload["spec"]["selector"]["matchLabels"].as_object() else { return String::new() };
    let selector = labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(",");
    let query = ListQuery { label_selector: Some(selector), ..ListQuery::default() };
    match objects.list("v1", "Pod", ns, &query).await {
        Ok(pods) => pod_reasons(&pods),
        Err(_) => String::new(),
    }
}

fn pod_reasons(pods: &[Value]) -> String {
    let mut out = String::new();
    for p in pods {
        let name = p["metadata"]["name"].as_str().unwrap_or_default();
        for c in p["status"]["containerStatuses"].as_array().into_iter().flatten() {
            if let Some(reason) = c["state"]["waiting"]["reason"].as_str() {
                out.push_str(&format!("; pod {name} {reason}"));
            } else if c["ready"] == false && !c["state"]["running"].is_null() && p["status"]["phase"] == "Running" {
                out.push_str(&format!("; pod {name} container {} is running but not ready", c["name"].as_str().unwrap_or_default()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_runtime::cluster::{ApplyOptions, BackendError, BackendResult, EventInfo, LogQuery, PodInfo, ProbeAnswer, Propagation, Rollout, ServiceProbe};
    use serde_json::json;

    /// A cluster that only answers reads, from a fixed set of live objects.
    struct Live(Vec<Value>);

    fn unused<T>() -> BackendResult<T> {
        Err(BackendError::new(BackendErrorKind::Failed, "not used by the waiter"))
    }

    #[async_trait::async_trait]
    impl ClusterBackend for Live {
        async fn get(&self, k: &ObjectKey) -> BackendResult<Value> {
            self.0.iter().find(|o| o["kind"] == k.kind.as_str() && o["metadata"]["name"] == k.name.as_str()).cloned().ok_or_else(|| BackendError::new(BackendErrorKind::NotFound, "not found"))
        }
        async fn list(&self, _: &str, kind: &str, _: &str, _: &ListQuery) -> BackendResult<Vec<Value>> {
            Ok(self.0.iter().filter(|o| o["kind"] == kind).cloned().collect())
        }
        async fn apply(&self, _: &Value, _: ApplyOptions) -> BackendResult<Value> {
            unused()
        }
        async fn delete(&self, _: &ObjectKey, _: Propagation) -> BackendResult<()> {
            unused()
        }
        async fn scale(&self, _: &ObjectKey, _: u32) -> BackendResult<()> {
            unused()
        }
        async fn rollout(&self, _: &ObjectKey) -> BackendResult<Rollout> {
            unused()
        }
        async fn pods(&self, _: &str, _: &str) -> BackendResult<Vec<PodInfo>> {
            unused()
        }
        async fn events(&self, _: &ObjectKey) -> BackendResult<Vec<EventInfo>> {
            unused()
        }
        async fn logs(&self, _: &str, _: &str, _: &LogQuery) -> BackendResult<String> {
            unused()
        }
        async fn probe_service(&self, _: &ServiceProbe) -> BackendResult<ProbeAnswer> {
            unused()
        }
    }

    async fn judge(live: Value, jobs: bool) -> Readiness {
        let mut objects = vec![live.clone()];
        if live["kind"] == "Deployment" {
            let ready = live["test:newReady"].clone();
            objects.push(json!({"kind": "ReplicaSet", "metadata": {"name": "rs", "generation": 1, "ownerReferences": [{"uid": "d1"}], "annotations": {"deployment.kubernetes.io/revision": "2"}}, "status": {"observedGeneration": 1, "readyReplicas": ready}}));
        }
        readiness(&Live(objects), &live, jobs).await
    }

    fn deployment(replicas: i64, new_ready: i64, extra: Value) -> Value {
        let mut d = json!({"kind": "Deployment", "metadata": {"name": "d", "namespace": "n", "uid": "d1", "generation": 3, "annotations": {"deployment.kubernetes.io/revision": "2"}},
                           "spec": {"replicas": replicas}, "status": {"observedGeneration": 3}, "test:newReady": new_ready});
        if let (Some(d), Some(extra)) = (d["spec"].as_object_mut(), extra.as_object()) {
            d.extend(extra.clone());
        }
        d
    }

    #[tokio::test]
    async fn deployments_are_ready_when_the_new_replica_set_has_replicas_minus_max_unavailable() {
        assert_eq!(judge(deployment(4, 3, json!({})), false).await, Readiness::Ready, "25% of 4 may be unavailable");
        assert!(matches!(judge(deployment(4, 2, json!({})), false).await, Readiness::Waiting(w) if w.starts_with("2 out of 3 expected pods are ready")));
        assert!(matches!(judge(deployment(1, 0, json!({})), false).await, Readiness::Waiting(_)));
        assert_eq!(judge(deployment(1, 0, json!({"paused": true})), false).await, Readiness::Ready, "paused: not waited for");
        let mut stale = deployment(1, 1, json!({}));
        stale["status"]["observedGeneration"] = json!(2);
        assert!(matches!(judge(stale, false).await, Readiness::Waiting(_)));
    }

    #[tokio::test]
    async fn statefulsets_daemonsets_jobs_pods_claims_and_services_as_helm_judges_them() {
        let sts = |partition: i64, updated: i64, ready: i64| json!({"kind": "StatefulSet", "metadata": {"name": "s", "generation": 1},
            "spec": {"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}}},
            "status": {"observedGeneration": 1, "updatedReplicas": updated, "readyReplicas": ready, "currentRevision": "a", "updateRevision": "b"}});
        assert_eq!(judge(sts(2, 1, 3), false).await, Readiness::Ready, "a partition leaves replicas on the old revision");
        assert!(matches!(judge(sts(2, 0, 3), false).await, Readiness::Waiting(_)));
        assert!(matches!(judge(sts(0, 3, 3), false).await, Readiness::Waiting(w) if w.contains("revision")));
        let ds = |ready: i64| json!({"kind": "DaemonSet", "metadata": {"name": "ds", "generation": 1}, "spec": {},
            "status": {"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberReady": ready}});
        assert_eq!(judge(ds(1), false).await, Readiness::Ready, "maxUnavailable 1 by default");
        assert!(matches!(judge(ds(0), false).await, Readiness::Waiting(_)));
        let failed = json!({"kind": "Job", "metadata": {"name": "j", "namespace": "ns"}, "spec": {}, "status": {"failed": 7, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}});
        assert_eq!(judge(failed.clone(), false).await, Readiness::Ready, "jobs only with --wait-for-jobs");
        assert_eq!(judge(failed.clone(), true).await, Readiness::Failed("resource Job/ns/j not ready. status: Failed, message: Job Failed. failed: 7/1".into()));
        assert_eq!(hook_done(&Live(vec![failed.clone()]), &failed).await, Readiness::Failed("resource Job/ns/j not ready. status: Failed, message: Job Failed. failed: 7/1".into()));
        let pod = |ready: &str| json!({"kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready}]}});
        assert_eq!(judge(pod("True"), false).await, Readiness::Ready);
        assert!(matches!(judge(pod("False"), false).await, Readiness::Waiting(_)));
        let pvc = |phase: &str| json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "c"}, "status": {"phase": phase}});
        assert_eq!(judge(pvc("Bound"), false).await, Readiness::Ready);
        assert!(matches!(judge(pvc("Pending"), false).await, Readiness::Waiting(_)));
        let svc = |spec: Value, status: Value| json!({"kind": "Service", "metadata": {"name": "s"}, "spec": spec, "status": status});
        assert_eq!(judge(svc(json!({"clusterIP": "10.0.0.1"}), json!({})), false).await, Readiness::Ready);
        assert_eq!(judge(svc(json!({"type": "ExternalName"}), json!({})), false).await, Readiness::Ready);
        assert!(matches!(judge(svc(json!({"type": "LoadBalancer", "clusterIP": "10.0.0.1"}), json!({})), false).await, Readiness::Waiting(_)));
        assert_eq!(judge(svc(json!({"type": "LoadBalancer", "clusterIP": "10.0.0.1"}), json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})), false).await, Readiness::Ready);
    }

    #[test]
    fn max_unavailable_as_kubernetes_scales_it() {
        assert_eq!(max_unavailable(&json!({"spec": {}}), 4), 1);
        assert_eq!(max_unavailable(&json!({"spec": {}}), 1), 0);
        assert_eq!(max_unavailable(&json!({"spec": {"strategy": {"type": "Recreate"}}}), 4), 0);
        assert_eq!(max_unavailable(&json!({"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": 3}}}}), 2), 2);
        assert_eq!(scaled(&json!("50%"), 3, true, 1), 2);
    }
}
