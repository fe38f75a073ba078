//! The simulated API server held against kube-rs, the client Gantry itself
//! uses: a client built from the kubeconfig the simulator writes (TLS with the
//! cluster's own CA, which another cluster's CA does not verify), typed
//! `Api<ConfigMap>`/`Api<Deployment>` reads and writes with optimistic
//! concurrency, server-side apply with field managers and conflicts,
//! `kube::runtime::watcher` streams (changes, and the relist after a 410
//! Gone), discovery and `DynamicObject`s including a CRD made here,
//! `await_condition` on a Deployment the simulated controllers roll out, and
//! a kube-rs `Controller` reconciling a custom kind (status subresource,
//! finalizer, cleanup on delete).
//! Discovery runs both ways: per group version and aggregated (two requests).
//!
//! Each test starts its own cluster in-process on 127.0.0.1; the client is
//! pinned there (no proxy from the environment). Timeouts are hang guards
//! only, never asserts.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::kubeconfig;
use gantry_sim::{ApiServer, ServerConfig};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{verbs, Discovery, Scope};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;

const TOKEN: &str = "kube-rs-admin";
/// How long one step may take before the test is considered hung.
const HANG_GUARD: Duration = Duration::from_secs(60);

async fn start(tune: impl FnOnce(&mut ServerConfig)) -> ApiServer {
    let auth = Authenticator::default();
    auth.add_token(TOKEN, Identity::admin("admin"));
    let mut config = ServerConfig::new("kube-rs", auth);
    tune(&mut config);
    ApiServer::start(config).await.expect("server starts")
}

/// A client from the kubeconfig the simulator renders for `server`, but
/// trusting `ca_pem`; never through a proxy from the environment.
async fn client_trusting(server: &ApiServer, ca_pem: &str) -> Client {
    let mut entry = server.kubeconfig_entry(TOKEN);
    entry.ca_pem = ca_pem.to_string();
    let text = kubeconfig::render(&[entry]).expect("kubeconfig renders");
    let kubeconfig = Kubeconfig::from_yaml(&text).expect("kube-rs reads the kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.expect("kube-rs config");
    config.proxy_url = None;
    assert_eq!(config.cluster_url.host(), Some("127.0.0.1"));
    Client::try_from(config).expect("kube-rs client")
}

async fn client(server: &ApiServer) -> Client {
    client_trusting(server, server.ca_pem()).await
}

async fn guard<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, fut).await.unwrap_or_else(|_| panic!("hung: {what}"))
}

fn api_error(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "kube-rs"}},
        "data": data.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
    }))
    .expect("a ConfigMap")
}

fn deployment(name: &str, replicas: i32, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }))
    .expect("a Deployment")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_from_the_sims_kubeconfig_reads_and_writes_typed_objects() {
    let server = start(|_| {}).await;
    let client = client(&server).await;
    let version = guard("version", client.apiserver_version()).await.expect("GET /version");
    assert!(!version.git_version.is_empty(), "{version:?}");

    // Another cluster's CA does not verify this server's certificate.
    let other = start(|_| {}).await;
    let stranger = client_trusting(&server, other.ca_pem()).await;
    let refused = guard("TLS", stranger.apiserver_version()).await.expect_err("a foreign CA is refused");
    assert!(format!("{refused:?}").to_lowercase().contains("certificate"), "{refused:?}");

    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let created = cms.create(&PostParams::default(), &config_map("settings", &[("mode", "canary")])).await.expect("create");
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    let fetched = cms.get("settings").await.expect("get");
    assert_eq!(fetched.data.as_ref().and_then(|d| d.get("mode")).map(String::as_str), Some("canary"));
    cms.create(&PostParams::default(), &config_map("other", &[])).await.expect("create");
    let listed = cms.list(&ListParams::default().labels("app=kube-rs")).await.expect("list");
    let mut names: Vec<String> = listed.items.iter().map(|c| c.name_any()).collect();
    names.sort();
    assert_eq!(names, ["other", "settings"]);
    assert!(listed.metadata.resource_version.is_some_and(|rv| !rv.is_empty()));
    let already = api_error(cms.create(&PostParams::default(), &config_map("settings", &[])).await.expect_err("exists"));
    assert_eq!((already.code, already.reason.as_str()), (409, "AlreadyExists"));

    // Replace with the fetched resourceVersion, then again with the stale one.
    let mut fresh = fetched.clone();
    fresh.data = Some([("mode".to_string(), "full".to_string())].into());
    let replaced = cms.replace("settings", &PostParams::default(), &fresh).await.expect("replace");
    assert_ne!(replaced.resource_version(), fetched.resource_version());
    let mut stale = fetched.clone();
    stale.data = Some([("mode".to_string(), "stale".to_string())].into());
    let conflict = api_error(cms.replace("settings", &PostParams::default(), &stale).await.expect_err("a stale replace conflicts"));
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"), "{conflict:?}");
    assert!(conflict.message.contains("the object has been modified"), "{}", conflict.message);
    assert_eq!(cms.get("settings").await.expect("get").data.and_then(|mut d| d.remove("mode")).as_deref(), Some("full"));

    let deployments: Api<Deployment> = Api::default_namespaced(client.clone());
    deployments.create(&PostParams::default(), &deployment("web", 2, "nginx:1.27")).await.expect("create deployment");
    let d = deployments.get("web").await.expect("get deployment");
    let spec = d.spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(2));
    assert!(spec.strategy.as_ref().and_then(|s| s.rolling_update.as_ref()).is_some(), "defaults are filled in: {spec:?}");
    assert_eq!(d.metadata.generation, Some(1));
    assert_eq!(deployments.list(&ListParams::default()).await.expect("list deployments").items.len(), 1);
    let missing = api_error(deployments.get("nope").await.expect_err("not found"));
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_records_the_manager_and_conflicts_unless_forced() {
    let server = start(|_| {}).await;
    let client = client(&server).await;
    let deployments: Api<Deployment> = Api::default_namespaced(client);
    let desired = deployment("web", 2, "nginx:1.27");
    let applied = deployments.patch("web", &PatchParams::apply("gantry"), &Patch::Apply(&desired)).await.expect("apply creates");
    let managers: Vec<(String, String)> = applied
        .managed_fields()
        .iter()
        .map(|m| (m.manager.clone().unwrap_or_default(), m.operation.clone().unwrap_or_default()))
        .collect();
    assert!(managers.contains(&("gantry".into(), "Apply".into())), "{managers:?}");
    let gantry = applied.managed_fields().iter().find(|m| m.manager.as_deref() == Some("gantry")).cloned().expect("gantry's entry");
    let owned = serde_json::to_value(&gantry.fields_v1).expect("fieldsV1");
    assert!(owned["f:spec"]["f:replicas"].is_object(), "gantry owns spec.replicas: {owned}");

    // Re-applying the same intent is a no-op, not a conflict.
    deployments.patch("web", &PatchParams::apply("gantry"), &Patch::Apply(&desired)).await.expect("idempotent apply");

    // Another manager setting the same field differently conflicts...
    let scaled = deployment("web", 5, "nginx:1.27");
    let conflict = api_error(deployments.patch("web", &PatchParams::apply("autoscaler"), &Patch::Apply(&scaled)).await.expect_err("conflict"));
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"), "{conflict:?}");
    assert!(conflict.message.contains("conflict with \"gantry\"") && conflict.message.contains(".spec.replicas"), "{}", conflict.message);
    assert_eq!(deployments.get("web").await.expect("get").spec.and_then(|s| s.replicas), Some(2));

    // ...unless it forces, taking the field over.
    let forced = deployments.patch("web", &PatchParams::apply("autoscaler").force(), &Patch::Apply(&scaled)).await.expect("forced apply");
    assert_eq!(forced.spec.as_ref().and_then(|s| s.replicas), Some(5));
    let owner_of_replicas: Vec<String> = forced
        .managed_fields()
        .iter()
        .filter(|m| serde_json::to_value(&m.fields_v1).map(|v| v["f:spec"]["f:replicas"].is_object()).unwrap_or(false))
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(owner_of_replicas, ["autoscaler"]);
}

/// The next event of a watcher stream, with a hang guard.
async fn next<S, T>(stream: &mut S) -> Result<watcher::Event<T>, watcher::Error>
where
    S: Stream<Item = Result<watcher::Event<T>, watcher::Error>> + Unpin,
{
    guard("watcher event", stream.next()).await.expect("the watcher stream does not end")
}

/// Events up to and including InitDone: the names listed (InitApply).
async fn initial_list<S>(stream: &mut S) -> Vec<String>
where
    S: Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>> + Unpin,
{
    assert!(matches!(next(stream).await, Ok(watcher::Event::Init)), "a (re)list starts with Init");
    let mut names = Vec::new();
    loop {
        match next(stream).await {
            Ok(watcher::Event::InitApply(cm)) => names.push(cm.name_any()),
            Ok(watcher::Event::InitDone) => break,
            other => panic!("unexpected during the initial list: {other:?}"),
        }
    }
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_objects_applied_and_deleted() {
    let server = start(|_| {}).await;
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    cms.create(&PostParams::default(), &config_map("before", &[])).await.expect("create");
    let mut events = Box::pin(watcher(cms.clone(), watcher::Config::default().labels("app=kube-rs")));
    assert_eq!(initial_list(&mut events).await, ["before"]);

    cms.create(&PostParams::default(), &config_map("settings", &[("mode", "canary")])).await.expect("create");
    match next(&mut events).await {
        Ok(watcher::Event::Apply(cm)) => assert_eq!(cm.name_any(), "settings"),
        other => panic!("expected Apply(settings), got {other:?}"),
    }
    let patch = json!({"data": {"mode": "full"}});
    cms.patch("settings", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch");
    match next(&mut events).await {
        Ok(watcher::Event::Apply(cm)) => assert_eq!(cm.data.and_then(|mut d| d.remove("mode")).as_deref(), Some("full")),
        other => panic!("expected Apply(settings) with the change, got {other:?}"),
    }
    cms.delete("settings", &DeleteParams::default()).await.expect("delete");
    match next(&mut events).await {
        Ok(watcher::Event::Delete(cm)) => assert_eq!(cm.name_any(), "settings"),
        other => panic!("expected Delete(settings), got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_relists_after_410_gone_and_carries_on() {
    // A short history, and no controllers writing events of their own.
    let server = start(|c| {
        c.history = 5;
        c.controllers = false;
    })
    .await;
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    cms.create(&PostParams::default(), &config_map("first", &[])).await.expect("create");
    let mut events = Box::pin(watcher(cms.clone(), watcher::Config::default().labels("app=kube-rs")));
    // The watcher has listed and will watch from the list's resourceVersion on its next poll...
    assert_eq!(initial_list(&mut events).await, ["first"]);
    // ...by which time that version has fallen out of the server's history.
    for i in 0..10 {
        cms.create(&PostParams::default(), &config_map(&format!("flood-{i}"), &[])).await.expect("create");
    }
    match next(&mut events).await {
        Err(watcher::Error::WatchError(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"), "{status:?}");
        }
        other => panic!("expected the 410 Gone as a watch error, got {other:?}"),
    }
    // kube's watcher recovers by listing again: Init, InitApply for every object, InitDone.
    let mut expected: Vec<String> = (0..10).map(|i| format!("flood-{i}")).collect();
    expected.push("first".into());
    expected.sort();
    assert_eq!(initial_list(&mut events).await, expected);
    // And then watches on from the new list.
    cms.delete("first", &DeleteParams::default()).await.expect("delete");
    match next(&mut events).await {
        Ok(watcher::Event::Delete(cm)) => assert_eq!(cm.name_any(), "first"),
        other => panic!("expected Delete(first) after the relist, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_finds_the_served_kinds_and_a_new_crd_for_dynamic_objects() {
    let server = start(|_| {}).await;
    let client = client(&server).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "canaries.gantry.dev"},
        "spec": {
            "group": "gantry.dev",
            "scope": "Namespaced",
            "names": {"plural": "canaries", "singular": "canary", "kind": "Canary", "shortNames": ["cn"]},
            "versions": [{
                "name": "v1alpha1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"weight": {"type": "integer"}}},
                }}},
            }],
        },
    }))
    .expect("a CRD");
    crds.create(&PostParams::default(), &crd).await.expect("create CRD");
    guard("CRD established", await_condition(crds, "canaries.gantry.dev", conditions::is_crd_established())).await.expect("established");

    for discovery in [
        guard("discovery", Discovery::new(client.clone()).run()).await.expect("discovery"),
        guard("aggregated discovery", Discovery::new(client.clone()).run_aggregated()).await.expect("aggregated discovery"),
    ] {
        for (group, version, kind, scope) in [
            ("", "v1", "Pod", Scope::Namespaced),
            ("", "v1", "ConfigMap", Scope::Namespaced),
            ("", "v1", "Namespace", Scope::Cluster),
            ("apps", "v1", "Deployment", Scope::Namespaced),
            ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", Scope::Cluster),
            ("gantry.dev", "v1alpha1", "Canary", Scope::Namespaced),
        ] {
            let gvk = GroupVersionKind::gvk(group, version, kind);
            let (ar, caps) = discovery.resolve_gvk(&gvk).unwrap_or_else(|| panic!("discovery lacks {gvk:?}"));
            assert_eq!(caps.scope, scope, "{kind}");
            for verb in [verbs::GET, verbs::LIST, verbs::WATCH, verbs::CREATE, verbs::PATCH, verbs::DELETE] {
                assert!(caps.supports_operation(verb), "{kind} lacks {verb}");
            }
            if kind == "Canary" {
                assert_eq!(ar.plural, "canaries");
            }
            if kind == "Deployment" {
                let subresources: Vec<String> = caps.subresources.iter().map(|(sub, _)| sub.plural.clone()).collect();
                assert!(subresources.contains(&"scale".to_string()) && subresources.contains(&"status".to_string()), "{subresources:?}");
            }
        }
    }

    // The CRD's kind as a DynamicObject.
    let discovery = Discovery::new(client.clone()).run().await.expect("discovery");
    let (ar, _) = discovery.resolve_gvk(&GroupVersionKind::gvk("gantry.dev", "v1alpha1", "Canary")).expect("Canary");
    let canaries: Api<DynamicObject> = Api::default_namespaced_with(client.clone(), &ar);
    let mut canary = DynamicObject::new("checkout", &ar);
    canary.data = json!({"spec": {"weight": 10}});
    let created = canaries.create(&PostParams::default(), &canary).await.expect("create a Canary");
    assert!(created.metadata.uid.is_some());
    let fetched = canaries.get("checkout").await.expect("get the Canary");
    assert_eq!(fetched.data["spec"]["weight"], 10);
    assert_eq!(fetched.types.as_ref().map(|t| t.api_version.as_str()), Some("gantry.dev/v1alpha1"));
    assert_eq!(canaries.list(&ListParams::default()).await.expect("list").items.len(), 1);

    // A built-in kind through the same dynamic API.
    let cm_ar = ApiResource::erase::<ConfigMap>(&());
    let dynamic_cms: Api<DynamicObject> = Api::default_namespaced_with(client, &cm_ar);
    let mut cm = DynamicObject::new("dynamic", &cm_ar);
    cm.data = json!({"data": {"from": "DynamicObject"}});
    dynamic_cms.create(&PostParams::default(), &cm).await.expect("create a ConfigMap dynamically");
    assert_eq!(dynamic_cms.get("dynamic").await.expect("get").data["data"]["from"], "DynamicObject");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_condition_sees_a_deployment_the_controllers_make_available() {
    let server = start(|_| {}).await;
    let client = client(&server).await;
    let deployments: Api<Deployment> = Api::default_namespaced(client);
    deployments.create(&PostParams::default(), &deployment("web", 3, "nginx:1.27")).await.expect("create");
    let available = |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Available" && c.status == "True"))
    };
    let d = guard("Available", await_condition(deployments.clone(), "web", available)).await.expect("await").expect("the deployment exists");
    let status = d.status.expect("status");
    assert_eq!(status.available_replicas, Some(3), "{status:?}");
    let done = guard("complete", await_condition(deployments, "web", conditions::is_deployment_completed())).await.expect("await");
    let status = done.and_then(|d| d.status).expect("status");
    assert_eq!((status.updated_replicas, status.ready_replicas), (Some(3), Some(3)), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_list_watcher_gets_its_initial_objects_from_the_watch_itself() {
    let server = start(|c| c.controllers = false).await;
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    for name in ["a", "b"] {
        cms.create(&PostParams::default(), &config_map(name, &[])).await.expect("create");
    }
    // sendInitialEvents=true: ADDED for what exists, then the initial-events-end bookmark.
    let mut events = Box::pin(watcher(cms.clone(), watcher::Config::default().labels("app=kube-rs").streaming_lists()));
    assert_eq!(initial_list(&mut events).await, ["a", "b"]);
    cms.create(&PostParams::default(), &config_map("c", &[])).await.expect("create");
    match next(&mut events).await {
        Ok(watcher::Event::Apply(cm)) => assert_eq!(cm.name_any(), "c"),
        other => panic!("expected Apply(c), got {other:?}"),
    }
    cms.delete("a", &DeleteParams::default()).await.expect("delete");
    match next(&mut events).await {
        Ok(watcher::Event::Delete(cm)) => assert_eq!(cm.name_any(), "a"),
        other => panic!("expected Delete(a), got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scale_and_status_subresources_and_delete_preconditions_answer_as_the_real_server() {
    let server = start(|c| c.controllers = false).await;
    let client = client(&server).await;
    let deployments: Api<Deployment> = Api::default_namespaced(client);
    let created = deployments.create(&PostParams::default(), &deployment("web", 2, "nginx:1.27")).await.expect("create");

    let scale = deployments.get_scale("web").await.expect("get scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(2));
    let scaled = deployments.patch_scale("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 4}}))).await.expect("patch scale");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(4));
    assert_eq!(deployments.get("web").await.expect("get").spec.and_then(|s| s.replicas), Some(4));

    // Status goes through its subresource; the main resource ignores it.
    let status = json!({"status": {"observedGeneration": 2, "replicas": 4, "readyReplicas": 4}});
    let patched = deployments.patch_status("web", &PatchParams::default(), &Patch::Merge(&status)).await.expect("patch status");
    assert_eq!(patched.status.as_ref().and_then(|s| s.ready_replicas), Some(4));
    let ignored = json!({"status": {"readyReplicas": 1}, "metadata": {"labels": {"touched": "yes"}}});
    let main = deployments.patch("web", &PatchParams::default(), &Patch::Merge(&ignored)).await.expect("patch main");
    assert_eq!(main.status.as_ref().and_then(|s| s.ready_replicas), Some(4), "the main resource does not write status");
    assert_eq!(main.labels().get("touched").map(String::as_str), Some("yes"));

    // A delete whose precondition no longer holds is a 409.
    let stale = DeleteParams { preconditions: Some(kube::api::Preconditions { resource_version: created.resource_version(), uid: None }), ..DeleteParams::default() };
    let conflict = api_error(deployments.delete("web", &stale).await.expect_err("a stale precondition conflicts"));
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"), "{conflict:?}");
    let current = DeleteParams { preconditions: Some(kube::api::Preconditions { uid: created.uid(), resource_version: None }), ..DeleteParams::default() };
    deployments.delete("web", &current).await.expect("delete with a holding precondition");
    assert_eq!(api_error(deployments.get("web").await.expect_err("gone")).code, 404);
}

/// What the test controller shares with its reconciler.
struct Reconciler {
    api: Api<DynamicObject>,
    cleaned: tokio::sync::mpsc::UnboundedSender<String>,
}

/// Keeps a Canary's status in step with its spec behind a finalizer, and
/// reports its cleanup when it is deleted.
async fn reconcile(canary: Arc<DynamicObject>, ctx: Arc<Reconciler>) -> Result<Action, finalizer::Error<kube::Error>> {
    let api = ctx.api.clone();
    finalizer(&api.clone(), "gantry.dev/cleanup", canary, |event| async move {
        match event {
            finalizer::Event::Apply(canary) => {
                let status = json!({"status": {"phase": "Ready", "observedWeight": canary.data["spec"]["weight"]}});
                api.patch_status(&canary.name_any(), &PatchParams::default(), &Patch::Merge(&status)).await?;
                Ok(Action::await_change())
            }
            finalizer::Event::Cleanup(canary) => {
                let _ = ctx.cleaned.send(canary.name_any());
                Ok(Action::await_change())
            }
        }
    })
    .await
}

fn retry(_: Arc<DynamicObject>, _: &finalizer::Error<kube::Error>, _: Arc<Reconciler>) -> Action {
    Action::requeue(Duration::from_millis(100))
}

fn observed_weight(weight: i64) -> impl Fn(Option<&DynamicObject>) -> bool {
    move |c: Option<&DynamicObject>| c.is_some_and(|c| c.data["status"]["phase"] == "Ready" && c.data["status"]["observedWeight"] == weight)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kube_rs_controller_reconciles_a_custom_kind_with_status_and_a_finalizer() {
    let server = start(|_| {}).await;
    let client = client(&server).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "canaries.gantry.dev"},
        "spec": {
            "group": "gantry.dev", "scope": "Namespaced",
            "names": {"plural": "canaries", "singular": "canary", "kind": "Canary"},
            "versions": [{
                "name": "v1alpha1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"weight": {"type": "integer"}}},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                }}},
            }],
        },
    }))
    .expect("a CRD");
    crds.create(&PostParams::default(), &crd).await.expect("create CRD");
    guard("CRD established", await_condition(crds, "canaries.gantry.dev", conditions::is_crd_established())).await.expect("established");
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("gantry.dev", "v1alpha1", "Canary"), "canaries");
    let canaries: Api<DynamicObject> = Api::default_namespaced_with(client.clone(), &ar);

    let (cleaned, mut cleanups) = tokio::sync::mpsc::unbounded_channel();
    let ctx = Arc::new(Reconciler { api: canaries.clone(), cleaned });
    let controller = tokio::spawn(Controller::new_with(canaries.clone(), watcher::Config::default(), ar.clone()).run(reconcile, retry, ctx).for_each(|_| async {}));

    let mut canary = DynamicObject::new("checkout", &ar);
    canary.data = json!({"spec": {"weight": 10}});
    canaries.create(&PostParams::default(), &canary).await.expect("create a Canary");
    let ready = guard("reconciled", await_condition(canaries.clone(), "checkout", observed_weight(10))).await.expect("await").expect("exists");
    assert_eq!(ready.finalizers(), ["gantry.dev/cleanup"]);

    // A spec change bumps the generation and is reconciled into status; a main-resource write keeps status.
    let patched = canaries.patch("checkout", &PatchParams::default(), &Patch::Merge(json!({"spec": {"weight": 50}}))).await.expect("patch spec");
    assert_eq!(patched.metadata.generation, Some(2));
    assert_eq!(patched.data["status"]["phase"], "Ready", "a spec write keeps the status: {}", patched.data);
    guard("reconciled again", await_condition(canaries.clone(), "checkout", observed_weight(50))).await.expect("await");

    // Deleting waits for the controller's cleanup, then the finalizer goes and so does the object.
    let uid = ready.uid().expect("uid");
    canaries.delete("checkout", &DeleteParams::default()).await.expect("delete");
    guard("gone", await_condition(canaries.clone(), "checkout", conditions::is_deleted(&uid))).await.expect("await deletion");
    assert_eq!(cleanups.try_recv().ok().as_deref(), Some("checkout"), "the cleanup ran before the object went");
    controller.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_limit_and_continue_and_a_watcher_lists_page_by_page() {
    let server = start(|c| c.controllers = false).await;
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let mut expected: Vec<String> = (0..5).map(|i| format!("cm-{i}")).collect();
    for name in &expected {
        cms.create(&PostParams::default(), &config_map(name, &[])).await.expect("create");
    }
    expected.sort();

    // Pages of two, each naming how many remain; with a selector the count is left out, as the real server does.
    for selector in [None, Some("app=kube-rs")] {
        let mut params = ListParams::default().limit(2);
        if let Some(selector) = selector {
            params = params.labels(selector);
        }
        let (mut names, mut pages) = (Vec::new(), 0);
        let all = match selector {
            Some(selector) => ListParams::default().labels(selector),
            None => ListParams::default(),
        };
        let total = cms.list(&all).await.expect("list all").items.len();
        loop {
            let page = cms.list(&params).await.expect("list a page");
            pages += 1;
            assert!(page.items.len() <= 2);
            names.extend(page.items.iter().map(|c| c.name_any()).filter(|n| n.starts_with("cm-")));
            let Some(token) = page.metadata.continue_.clone().filter(|t| !t.is_empty()) else { break };
            let remaining = page.metadata.remaining_item_count;
            match selector {
                None => assert_eq!(remaining, Some((total - 2 * pages) as i64), "{:?}", page.metadata),
                Some(_) => assert_eq!(remaining, None, "{:?}", page.metadata),
            }
            params = params.continue_token(&token);
        }
        assert_eq!(pages, total.div_ceil(2).max(1), "{selector:?}");
        assert_eq!(names, expected, "{selector:?}");
    }

    let mut events = Box::pin(watcher(cms, watcher::Config::default().labels("app=kube-rs").page_size(2)));
    assert_eq!(initial_list(&mut events).await, expected);
}
