//! The simulated controllers of one cluster, in the KWOK spirit: what
//! kube-controller-manager and the kubelets would do, acted out on the store
//! so that clients (`kubectl rollout status`, `kubectl wait`, Helm's `--wait`)
//! read real status. Deployments make ReplicaSets (`deployment`), those make
//! Pods (`replicaset`); StatefulSets, DaemonSets and Jobs make theirs
//! (`statefulset`, `daemonset`, `job`); pods go through their simulated lives (`pods`, as
//! `behavior` configures them), Services get Endpoints (`endpoints`) and LoadBalancers an ingress IP
//! (`loadbalancer`), claims
//! volumes (`volumes`),
//! dependents are garbage-collected and owners finalized as their deletion's
//! propagation asks (`gc`), and namespaces being deleted are emptied and
//! finalized (`namespace`).
//!
//! One background task per cluster, started by `server` and ended by its
//! shutdown token. It sleeps until the store publishes a change or until the
//! earliest time-driven step (a pod becoming ready, a progress deadline) is
//! due, then runs one reconcile pass over every controller; a pass whose
//! writes change nothing publishes nothing, so the loop settles. This module
//! must not speak HTTP nor reach into the store's internals: it uses the
//! store's public API like any writer.

pub mod behavior;
mod daemonset;
mod deployment;
mod endpoints;
mod gc;
mod index;
mod job;
mod volumes;
mod loadbalancer;
mod namespace;
mod pods;
mod pull;
mod replicaset;
mod statefulset;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;

use crate::api::Api;
use crate::error::{ApiError, GroupResource};
use crate::resources::{Registry, ResourceType};
use crate::store::{Since, Store, WriteOptions};

/// How long the controllers let a burst of changes gather before a pass.
const COALESCE: Duration = Duration::from_millis(10);

/// The kinds whose changes wake the controllers (besides any deletion,
/// object being deleted or object with owners, for the garbage collector and
/// the namespace controller).
const WATCHED: [(&str, &str); 10] = [
    ("", "namespaces"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("", "pods"),
    ("", "services"),
    ("", "endpoints"),
    ("", "persistentvolumeclaims"),
];

/// Starts the controllers of `api`'s cluster, pods behaving per `images`
/// unless annotated and pulling their images from `registries` where
/// configured (`pull`); they stop when `shutdown` is cancelled.
pub fn start(api: Arc<Api>, images: Vec<behavior::ImageRule>, registries: Vec<crate::oci::RegistryConfig>, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(api, images, registries, shutdown))
}

async fn run(api: Arc<Api>, images: Vec<behavior::ImageRule>, registries: Vec<crate::oci::RegistryConfig>, shutdown: CancellationToken) {
    let mut ctx = match Ctx::new(&api.registry) {
        Ok(ctx) => Ctx { images, puller: pull::Puller::new(registries), ..ctx },
        Err(e) => {
            tracing::error!(error = %e, "simulated controllers cannot start");
            return;
        }
    };
    let pods = GroupResource::new("", "pods");
    let mut feed = match api.store.subscribe(&pods, Since::Version(api.store.resource_version())) {
        Ok((_, feed)) => feed,
        Err(e) => {
            tracing::error!(error = %e, "simulated controllers cannot watch the store");
            return;
        }
    };
    let watched: Vec<GroupResource> = WATCHED.iter().map(|(g, r)| GroupResource::new(g, r)).collect();
    let pulled = ctx.puller.notify.clone();
    loop {
        let wake = ctx.reconcile(&api.store);
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        // Wait for a relevant change or a due step, then drain what else queued up.
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = sleep => {}
            // An image resolution finished (`pull`).
            _ = pulled.notified() => {}
            event = wait_relevant(&mut feed, &watched) => {
                if event.is_none() {
                    return;
                }
                // Writes come in bursts (a manifest, a pass of our own): one pass for the burst.
                tokio::time::sleep(COALESCE).await;
            }
        }
        loop {
            match feed.try_recv() {
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => return,
            }
        }
    }
}

/// The next change to a watched kind; None when the store is gone.
async fn wait_relevant(feed: &mut tokio::sync::broadcast::Receiver<Arc<crate::store::Event>>, watched: &[GroupResource]) -> Option<()> {
    loop {
        match feed.recv().await {
            Ok(event) if watched.contains(&event.gr) || concerns_collection(&event) => return Some(()),
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return Some(()),
            Err(RecvError::Closed) => return None,
        }
    }
}

/// Whether a change may give the garbage collector or the namespace
/// controller work: a deletion (an owner gone), an object being deleted, an
/// object with owners.
fn concerns_collection(event: &crate::store::Event) -> bool {
    let meta = &event.object["metadata"];
    event.kind == crate::store::EventType::Deleted
        || !meta["deletionTimestamp"].is_null()
        || meta["ownerReferences"].as_array().is_some_and(|o| !o.is_empty())
}

/// What the controllers keep between passes: resource types, when each pod
/// was first seen (its simulated clock), the pod IPs handed out.
pub(crate) struct Ctx {
    pub deployments: ResourceType,
    pub replicasets: ResourceType,
    pub statefulsets: ResourceType,
    pub daemonsets: ResourceType,
    pub jobs: ResourceType,
    pub pods: ResourceType,
    pub services: ResourceType,
    pub endpoints: ResourceType,
    pub events: ResourceType,
    pub claims: ResourceType,
    pub volumes: ResourceType,
    pub started: HashMap<String, Instant>,
    pub next_ip: u32,
    /// The cluster's per-image pod behaviours.
    pub images: Vec<behavior::ImageRule>,
    /// The node's image pulls from configured registries.
    pub puller: pull::Puller,
    /// Events recorded, by a hash of what makes them the same event (namespace, object uid, type, reason, message, component): their names, so a repeat counts up.
    pub recorded: std::sync::Mutex<HashMap<u64, String>>,
    /// The earliest time-driven step asked for during this pass.
    pub wake: Option<Instant>,
    /// What the server serves (custom kinds come and go), for the controllers that look across kinds.
    pub registry: Registry,
    pub namespaces: ResourceType,
}

/// The served kinds, as one pass sees them.
pub(crate) struct Served(Vec<ResourceType>);

impl Served {
    pub fn of(registry: &Registry) -> Served {
        Served(registry.group_versions().into_iter().flat_map(|(g, v)| registry.types_of(&g, &v)).collect())
    }

    /// The resource type an ownerReference's `apiVersion` and `kind` name.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.0.iter().find(|t| t.group == group && t.version == version && t.kind == kind)
    }

    /// The resource type of a stored object: its group-resource at the object's version, else any served version.
    pub fn by_resource(&self, gr: &GroupResource, api_version: &str) -> Option<&ResourceType> {
        let version = api_version.rsplit_once('/').map_or(api_version, |(_, v)| v);
        let same = |t: &&ResourceType| t.group == gr.group && t.plural == gr.resource;
        self.0.iter().filter(same).find(|t| t.version == version).or_else(|| self.0.iter().find(same))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("the simulated controllers need the built-in kind {0}, which is not served")]
    MissingKind(&'static str),
}

impl Ctx {
    fn new(registry: &Registry) -> Result<Ctx, ControllerError> {
        let find = |group: &str, plural: &'static str| registry.find(group, "v1", plural).ok_or(ControllerError::MissingKind(plural));
        Ok(Ctx {
            deployments: find("apps", "deployments")?,
            replicasets: find("apps", "replicasets")?,
            statefulsets: find("apps", "statefulsets")?,
            daemonsets: find("apps", "daemonsets")?,
            jobs: find("batch", "jobs")?,
            pods: find("", "pods")?,
            services: find("", "services")?,
            endpoints: find("", "endpoints")?,
            events: find("", "events")?,
            claims: find("", "persistentvolumeclaims")?,
            volumes: find("", "persistentvolumes")?,
            started: HashMap::new(),
            next_ip: 2,
            images: Vec::new(),
            puller: pull::Puller::new(Vec::new()),
            recorded: Default::default(),
            wake: None,
            registry: registry.clone(),
            namespaces: find("", "namespaces")?,
        })
    }

    /// One pass of every controller; returns when the next time-driven step is due.
    fn reconcile(&mut self, store: &Store) -> Option<Instant> {
        self.wake = None;
        let span = tracing::debug_span!("controllers.pass", rv = store.resource_version());
        let _guard = span.enter();
        gc::run(self, store);
        namespace::run(self, store);
        deployment::run(self, store);
        replicaset::run(self, store);
        statefulset::run(self, store);
        daemonset::run(self, store);
        job::run(self, store);
        pods::run(self, store);
        endpoints::run(self, store);
        loadbalancer::run(self, store);
        volumes::run(self, store);
        self.wake
    }

    /// Asks for another pass after `after`.
    pub fn wake_in(&mut self, after: Duration) {
        let at = Instant::now() + after;
        self.wake = Some(self.wake.map_or(at, |w| w.min(at)));
    }

    pub fn list(&self, store: &Store, rt: &ResourceType) -> Vec<Value> {
        match store.list(&rt.gr(), None, &|_| true, None, None) {
            Ok(page) => page.items,
            Err(e) => {
                tracing::warn!(error = %e, kind = %rt.kind, "controllers listing");
                Vec::new()
            }
        }
    }
}

/// Whether an event reports the normal course of things or a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    Normal,
    Warning,
}

impl Ctx {
    /// Records a core/v1 Event about `obj`, as `component` would (`kubectl get events`, `describe`).
    /// The same event again counts up (`count`, `lastTimestamp`), as client-go's event correlator does.
    pub fn event(&self, store: &Store, obj: &Value, severity: Severity, reason: &str, message: &str, component: &str) {
        let now = crate::store::now_rfc3339();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let ns = meta_str(obj, "namespace");
        let kind = if severity == Severity::Normal { "Normal" } else { "Warning" };
        let same = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            [ns, meta_str(obj, "uid"), kind, reason, message, component].hash(&mut h);
            h.finish()
        };
        let seen = self.recorded.lock().unwrap_or_else(|e| e.into_inner()).get(&same).cloned();
        if let Some(name) = seen {
            let again = |current: &Value| {
                let alike = current["involvedObject"]["uid"] == obj["metadata"]["uid"] && current["reason"] == reason && current["message"] == message;
                if !alike {
                    // A hash collision: not the same event after all.
                    return Err(ApiError::not_found(&self.events.gr(), meta_str(current, "name")));
                }
                let mut next = current.clone();
                next["count"] = serde_json::json!(current["count"].as_i64().unwrap_or(1) + 1);
                next["lastTimestamp"] = serde_json::json!(now);
                Ok(next)
            };
            match store.modify(&self.events, ns, &name, crate::store::Part::Main, &write(), again) {
                Ok(_) => return,
                // Deleted meanwhile: record it anew.
                Err(ApiError::NotFound { .. }) => {}
                Err(e) => {
                    report::<()>("counting a repeated event", Err(e));
                    return;
                }
            }
        }
        let name = format!("{}.{nanos:x}", meta_str(obj, "name"));
        let event = serde_json::json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name},
            "involvedObject": {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "namespace": ns, "name": obj["metadata"]["name"],
                "uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"]["resourceVersion"]},
            "reason": reason, "message": message, "type": kind, "count": 1,
            "source": {"component": component, "host": if component == "kubelet" { pods::NODE_NAME } else { "" }},
            "firstTimestamp": now, "lastTimestamp": now, "eventTime": null,
            "reportingComponent": component, "reportingInstance": "",
        });
        if report("recording an event", store.create(&self.events, ns, event, &write())).is_some() {
            let mut recorded = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
            // Bounded: forgetting only means the next repeat starts a new event.
            if recorded.len() >= 10_000 {
                recorded.clear();
            }
            recorded.insert(same, name);
        }
    }
}

/// The default write options: a real write, no preconditions.
pub(crate) fn write() -> WriteOptions {
    WriteOptions::default()
}

/// Logs a failed controller write; the next pass retries from the new state.
/// Races (a namespace being terminated included) are routine: debug only.
pub(crate) fn report<T>(what: &str, result: Result<T, ApiError>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(ApiError::NotFound { .. }) | Err(ApiError::Conflict { .. }) | Err(ApiError::AlreadyExists { .. }) | Err(ApiError::Forbidden { .. }) => {
            tracing::debug!(what, "controller write raced another writer; retried next pass");
            None
        }
        Err(e) => {
            tracing::warn!(what, error = %e, "controller write failed");
            None
        }
    }
}

pub(crate) fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or("")
}

/// The uid of `obj`'s controlling owner, if any.
pub(crate) fn controller_uid(obj: &Value) -> Option<&str> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"].as_bool() == Some(true))
        .and_then(|r| r["uid"].as_str())
}

/// Whether a LabelSelector (`matchLabels`, `matchExpressions`) selects
/// `labels`; an empty selector selects nothing here, as controllers treat it.
pub(crate) fn selects(selector: &Value, labels: &Value) -> bool {
    let match_labels = selector["matchLabels"].as_object();
    let expressions = selector["matchExpressions"].as_array();
    if match_labels.is_none_or(|m| m.is_empty()) && expressions.is_none_or(|e| e.is_empty()) {
        return false;
    }
    crate::selector::structured_selects(selector, |key| labels[key].as_str())
}

/// Adopts, as the controllers' ControllerRefManager does, the objects among
/// `candidates` in `owner`'s namespace that have no controller, are not being
/// deleted and match its selector: they get a controller reference to it.
/// Returns them as adopted. (An orphaned ReplicaSet finds a new Deployment so.)
pub(crate) fn adopt<T: std::borrow::Borrow<Value>>(store: &Store, rt: &ResourceType, owner: &Value, owner_api_version: &str, owner_kind: &str, candidates: &[T]) -> Vec<Value> {
    let ns = meta_str(owner, "namespace");
    let orphans = candidates.iter().map(|c| c.borrow()).filter(|c| {
        meta_str(c, "namespace") == ns
            && controller_uid(c).is_none()
            && c["metadata"]["deletionTimestamp"].is_null()
            && selects(&owner["spec"]["selector"], &c["metadata"]["labels"])
    });
    let mut adopted = Vec::new();
    for orphan in orphans {
        let uid = meta_str(orphan, "uid").to_string();
        let claim = |current: &Value| {
            if meta_str(current, "uid") != uid || controller_uid(current).is_some() {
                return Err(ApiError::Conflict { gr: rt.gr(), name: meta_str(current, "name").to_string(), reason: "adopted by another controller".into() });
            }
            let mut next = current.clone();
            let mut refs = current["metadata"]["ownerReferences"].as_array().cloned().unwrap_or_default();
            refs.push(owner_ref(owner, owner_api_version, owner_kind));
            next["metadata"]["ownerReferences"] = Value::Array(refs);
            Ok(next)
        };
        if let Some(obj) = report("adopting an orphan", store.modify(rt, ns, meta_str(orphan, "name"), crate::store::Part::Main, &write(), claim)) {
            tracing::info!(kind = %rt.kind, name = %meta_str(&obj, "name"), owner = %meta_str(owner, "name"), "adopted an orphan");
            adopted.push(obj);
        }
    }
    adopted
}

/// An ownerReference naming `owner` as controller.
pub(crate) fn owner_ref(owner: &Value, api_version: &str, kind: &str) -> Value {
    serde_json::json!({
        "apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
        "controller": true, "blockOwnerDeletion": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Part;
    use serde_json::json;

    fn deployment(surge: i64, unavailable: i64, image: &str) -> Value {
        json!({"metadata": {"name": "web"}, "spec": {
            "replicas": 4,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}, "annotations": {behavior::READY_AFTER: "0s"}},
                "spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    /// Runs passes until the store stops changing, checking `each` after every pass.
    fn settle(ctx: &mut Ctx, store: &Store, each: &mut dyn FnMut(&[Value])) {
        for _ in 0..100 {
            let before = store.resource_version();
            ctx.reconcile(store);
            let pods = ctx.list(store, &ctx.pods.clone());
            each(&pods);
            if store.resource_version() == before {
                return;
            }
        }
        panic!("the controllers did not settle");
    }

    fn ready(pods: &[Value]) -> usize {
        pods.iter().filter(|p| replicaset::is_ready(p)).count()
    }

    fn rolls_within(surge: i64, unavailable: i64) {
        let registry = Registry::default();
        let store = Store::new(100_000, &registry.find("", "v1", "namespaces").unwrap());
        let mut ctx = Ctx::new(&registry).unwrap();
        store.create(&ctx.deployments, "default", deployment(surge, unavailable, "nginx:1.27"), &write()).unwrap();
        settle(&mut ctx, &store, &mut |_| {});
        assert_eq!(ready(&ctx.list(&store, &ctx.pods.clone())), 4);

        let next = deployment(surge, unavailable, "nginx:1.28");
        store.modify(&ctx.deployments.clone(), "default", "web", Part::Main, &write(), |cur| {
            let mut d = cur.clone();
            d["spec"] = next["spec"].clone();
            Ok(d)
        }).unwrap();
        let mut most = 0;
        settle(&mut ctx, &store, &mut |pods| {
            most = most.max(pods.len());
            assert!(pods.len() as i64 <= 4 + surge, "{} pods exceed maxSurge {surge}", pods.len());
            assert!(ready(pods) as i64 >= 4 - unavailable, "{} ready pods break maxUnavailable {unavailable}", ready(pods));
        });
        assert_eq!(most as i64, 4 + surge, "the rollout uses the surge it is allowed");
        let pods = ctx.list(&store, &ctx.pods.clone());
        assert_eq!(pods.len(), 4);
        assert!(pods.iter().all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.28"));
        let d = store.get(&ctx.deployments.gr(), "default", "web").unwrap();
        assert_eq!((d["status"]["updatedReplicas"].as_i64(), d["status"]["availableReplicas"].as_i64()), (Some(4), Some(4)), "{}", d["status"]);
        assert_eq!(d["status"]["observedGeneration"], 2);
    }

    #[test]
    fn a_rolling_update_never_surges_past_max_surge_nor_drops_below_availability() {
        rolls_within(1, 0);
        rolls_within(0, 1);
        rolls_within(2, 1);
    }
}
