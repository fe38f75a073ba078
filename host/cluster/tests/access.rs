//! Cluster access against in-process simulated clusters (gantry-sim's API
//! server on 127.0.0.1): kubeconfig targets (context selection, the
//! `endpoint:` override, an unknown context, a missing file, a refused
//! token, an unreachable endpoint), a token-source target through the bearer
//! layer, and every call of the kube-rs [`KubeBackend`]: get, list across
//! pages, server-side apply (idempotent, manager `gantry`, conflicts and
//! force), delete with orphan propagation, scale, `kubectl rollout status`
//! messages, pod states in CrashLoopBackOff, events and logs.
//! Waits poll with hang guards only; nothing asserts on time.

use std::path::PathBuf;
use std::time::Duration;

use gantry_cluster::{ClusterError, Endpoint, KubeBackend, Target};
use gantry_runtime::cluster::{ApplyOptions, BackendErrorKind, ClusterBackend, ListQuery, LogQuery, ObjectKey, Propagation};
use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::kubeconfig::{self, KubeconfigEntry};
use gantry_sim::{ApiServer, ServerConfig};
use serde_json::{json, Value};

const TOKEN: &str = "cluster-access-admin";
const HANG_GUARD: Duration = Duration::from_secs(60);

async fn start(name: &str) -> ApiServer {
    let auth = Authenticator::default();
    auth.add_token(TOKEN, Identity::admin("admin"));
    ApiServer::start(ServerConfig::new(name, auth)).await.expect("server starts")
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files { dir: tempfile::tempdir().expect("temp dir") }
    }

    fn kubeconfig(&self, file: &str, entries: &[KubeconfigEntry]) -> PathBuf {
        let path = self.dir.path().join(file);
        std::fs::write(&path, kubeconfig::render(entries).expect("renders")).expect("writes");
        path
    }
}

fn entry(server: &ApiServer, name: &str) -> KubeconfigEntry {
    let mut e = server.kubeconfig_entry(TOKEN);
    e.name = name.to_string();
    e
}

async fn backend(server: &ApiServer) -> KubeBackend {
    let target = Target::static_token("sim", Endpoint { url: server.url(), ca_pem: Some(server.ca_pem().to_string()) }, TOKEN);
    KubeBackend::new("sim", target.connect().await.expect("connects"))
}

fn key(api_version: &str, kind: &str, name: &str) -> ObjectKey {
    ObjectKey { api_version: api_version.into(), kind: kind.into(), namespace: Some("default".into()), name: name.into() }
}

fn config_map(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": data})
}

fn deployment(name: &str, replicas: u32, behavior: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": {"sim.gantry.dev/behavior": behavior}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    })
}

/// Poll `check` until it returns Some; the guard only stops a hang.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    tokio::time::timeout(HANG_GUARD, async {
        loop {
            if let Some(v) = check().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("hung waiting for {what}"))
}

#[tokio::test]
async fn a_kubeconfig_target_reaches_the_cluster_of_its_context() {
    let (a, b) = (start("alpha").await, start("beta").await);
    let files = Files::new();
    let path = files.kubeconfig("config", &[entry(&a, "alpha"), entry(&b, "beta")]);
    let on_b = KubeBackend::new("b", Target::kubeconfig("b", Some(path.clone()), "beta").connect().await.expect("beta connects"));
    let on_a = KubeBackend::new("a", Target::kubeconfig("a", Some(path), "alpha").connect().await.expect("alpha connects"));
    on_b.apply(&config_map("only-on-beta", json!({"k": "v"})), ApplyOptions::default()).await.expect("applies");
    assert_eq!(on_b.get(&key("v1", "ConfigMap", "only-on-beta")).await.expect("on beta")["data"]["k"], "v");
    let missing = on_a.get(&key("v1", "ConfigMap", "only-on-beta")).await.unwrap_err();
    assert_eq!(missing.kind, BackendErrorKind::NotFound, "{}", missing.message);
    assert!(missing.message.contains("`a`"), "names the target: {}", missing.message);
}

#[tokio::test]
async fn the_endpoint_override_replaces_the_url_and_keeps_ca_and_token() {
    let server = start("tunnelled").await;
    let files = Files::new();
    // The file's URL is dead (port 1); the override is the real one.
    let mut dead = entry(&server, "private");
    dead.server = "https://127.0.0.1:1".into();
    let path = files.kubeconfig("config", &[dead]);

    let err = Target::kubeconfig("eu", Some(path.clone()), "private").connect().await.err().expect("refused");
    assert!(matches!(err, ClusterError::Unreachable { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("`eu`") && text.contains("connection refused") && text.contains("is the cluster running?"), "{text}");

    let target = Target::kubeconfig("eu", Some(path), "private").with_endpoint(Some(server.url()));
    let b = KubeBackend::new("eu", target.connect().await.expect("the override connects with the file's CA and token"));
    b.apply(&config_map("through-override", json!({})), ApplyOptions::default()).await.expect("writes through the override");
}

#[tokio::test]
async fn an_unknown_context_lists_the_contexts_there_are() {
    let (a, b) = (start("one").await, start("two").await);
    let files = Files::new();
    let path = files.kubeconfig("config", &[entry(&a, "one"), entry(&b, "two")]);
    let err = Target::kubeconfig("prod", Some(path), "three").connect().await.err().expect("refused");
    let text = err.to_string();
    assert!(matches!(err, ClusterError::Config { .. }), "{text}");
    assert!(text.contains("`prod`") && text.contains("`three`") && text.contains("one, two"), "{text}");
}

#[tokio::test]
async fn a_missing_kubeconfig_file_is_named() {
    let files = Files::new();
    let path = files.dir.path().join("nope");
    let err = Target::kubeconfig("prod", Some(path.clone()), "x").connect().await.err().expect("refused");
    let text = err.to_string();
    assert!(text.contains("`prod`") && text.contains("not found") && text.contains(&path.display().to_string()), "{text}");
}

#[tokio::test]
async fn a_refused_token_says_the_credentials_were_refused() {
    let server = start("strict").await;
    let files = Files::new();
    let mut bad = entry(&server, "strict");
    bad.token = "not-a-token".into();
    let path = files.kubeconfig("config", &[bad]);
    let err = Target::kubeconfig("gcp", Some(path), "strict").connect().await.err().expect("refused");
    let text = err.to_string();
    assert!(matches!(err, ClusterError::Credentials { .. }), "{text}");
    assert!(text.contains("the credentials for target `gcp` were refused"), "{text}");
    assert!(!text.contains("not-a-token"), "the token is never shown: {text}");

    let endpoint = Endpoint { url: server.url(), ca_pem: Some(server.ca_pem().to_string()) };
    let err = Target::static_token("eks", endpoint, "wrong").connect().await.err().expect("refused");
    assert!(err.to_string().contains("the credentials for target `eks` were refused"), "{err}");
}

#[tokio::test]
async fn a_token_from_another_clusters_ca_does_not_verify() {
    let (a, b) = (start("a").await, start("b").await);
    let endpoint = Endpoint { url: a.url(), ca_pem: Some(b.ca_pem().to_string()) };
    let err = Target::static_token("a", endpoint, TOKEN).connect().await.err().expect("refused");
    assert!(matches!(err, ClusterError::Unreachable { .. }) && err.to_string().contains("certificate"), "{err}");
}

#[tokio::test]
async fn apply_twice_is_idempotent_and_owned_by_gantry() {
    let server = start("apply").await;
    let b = backend(&server).await;
    let first = b.apply(&config_map("settings", json!({"a": "1"})), ApplyOptions::default()).await.expect("applies");
    let second = b.apply(&config_map("settings", json!({"a": "1"})), ApplyOptions::default()).await.expect("applies again");
    assert_eq!(first["metadata"]["resourceVersion"], second["metadata"]["resourceVersion"], "an unchanged apply changes nothing");
    let managers: Vec<&Value> = second["metadata"]["managedFields"].as_array().expect("managedFields").iter().collect();
    assert!(managers.iter().any(|m| m["manager"] == "gantry" && m["operation"] == "Apply"), "{managers:?}");

    let dry = b.apply(&config_map("settings", json!({"a": "2"})), ApplyOptions { force: false, dry_run: true }).await.expect("dry run");
    assert_eq!(dry["data"]["a"], "2");
    assert_eq!(b.get(&key("v1", "ConfigMap", "settings")).await.unwrap()["data"]["a"], "1", "a dry run persists nothing");
}

#[tokio::test]
async fn a_field_another_manager_owns_is_a_conflict_until_forced() {
    let server = start("conflict").await;
    let b = backend(&server).await;
    // Someone else applies first, as manager `kubectl`.
    let client = b.client().clone();
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(client, "default", &kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()));
    api.patch("shared", &kube::api::PatchParams::apply("kubectl"), &kube::api::Patch::Apply(config_map("shared", json!({"owner": "kubectl"})))).await.expect("other manager applies");

    let err = b.apply(&config_map("shared", json!({"owner": "gantry"})), ApplyOptions::default()).await.unwrap_err();
    assert_eq!(err.kind, BackendErrorKind::Conflict, "{}", err.message);
    assert!(err.message.contains("kubectl") && err.message.contains("force"), "{}", err.message);

    let forced = b.apply(&config_map("shared", json!({"owner": "gantry"})), ApplyOptions { force: true, dry_run: false }).await.expect("force takes over");
    assert_eq!(forced["data"]["owner"], "gantry");
}

#[tokio::test]
async fn list_follows_continue_across_pages() {
    let server = start("pages").await;
    let b = backend(&server).await;
    for n in 0..5 {
        let mut cm = config_map(&format!("page-{n}"), json!({}));
        cm["metadata"]["labels"] = json!({"set": "paged"});
        b.apply(&cm, ApplyOptions::default()).await.expect("applies");
    }
    let q = ListQuery { label_selector: Some("set=paged".into()), field_selector: None, limit: Some(2) };
    let items = b.list("v1", "ConfigMap", "default", &q).await.expect("lists");
    let mut names: Vec<&str> = items.iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["page-0", "page-1", "page-2", "page-3", "page-4"]);
    assert!(items.iter().all(|i| i["kind"] == "ConfigMap" && i["apiVersion"] == "v1"));

    let err = b.list("example.com/v1", "Widget", "default", &ListQuery::default()).await.unwrap_err();
    assert_eq!(err.kind, BackendErrorKind::NotFound, "{}", err.message);
}

#[tokio::test]
async fn rollout_status_says_what_kubectl_says_while_rolling_and_when_done() {
    let server = start("rollout").await;
    let b = backend(&server).await;
    let web = key("apps/v1", "Deployment", "web");
    b.apply(&deployment("web", 3, "never-ready", "registry.local/web:1"), ApplyOptions::default()).await.expect("applies");
    let waiting = eventually("the rollout to wait on available replicas", || async {
        let r = b.rollout(&web).await.expect("rollout status");
        (r.message == "Waiting for deployment \"web\" rollout to finish: 0 of 3 updated replicas are available...").then_some(r)
    })
    .await;
    assert!(!waiting.done && waiting.observed && waiting.desired == 3 && waiting.updated == 3 && waiting.available == 0, "{waiting:?}");

    b.apply(&deployment("web", 3, "ready", "registry.local/web:2"), ApplyOptions::default()).await.expect("applies the fix");
    let seen = std::sync::Mutex::new(Vec::<String>::new());
    let done = eventually("the rollout to finish", || async {
        let r = b.rollout(&web).await.expect("rollout status");
        let mut seen = seen.lock().unwrap();
        if seen.last() != Some(&r.message) {
            seen.push(r.message.clone());
        }
        r.done.then_some(r)
    })
    .await;
    let seen = seen.into_inner().unwrap();
    assert_eq!(done.message, "deployment \"web\" successfully rolled out");
    assert!(done.available == 3 && done.updated == 3, "{done:?}");
    for m in &seen[..seen.len() - 1] {
        assert!(m.starts_with("Waiting for deployment \"web\" rollout to finish: ") || m == "Waiting for deployment spec update to be observed...", "{m}");
    }

    let err = b.rollout(&key("v1", "ConfigMap", "web")).await.unwrap_err();
    assert_eq!(err.kind, BackendErrorKind::Invalid);
}

#[tokio::test]
async fn scale_sets_replicas_through_the_scale_subresource() {
    let server = start("scale").await;
    let b = backend(&server).await;
    let api = key("apps/v1", "Deployment", "api");
    b.apply(&deployment("api", 1, "ready", "registry.local/api:1"), ApplyOptions::default()).await.expect("applies");
    b.scale(&api, 4).await.expect("scales");
    assert_eq!(b.get(&api).await.unwrap()["spec"]["replicas"], 4);
    let err = b.scale(&key("apps/v1", "Deployment", "absent"), 2).await.unwrap_err();
    assert_eq!(err.kind, BackendErrorKind::NotFound, "{}", err.message);
}

#[tokio::test]
async fn delete_with_orphan_keeps_the_replica_sets() {
    let server = start("delete").await;
    let b = backend(&server).await;
    let d = key("apps/v1", "Deployment", "orphaned");
    b.apply(&deployment("orphaned", 1, "ready", "registry.local/o:1"), ApplyOptions::default()).await.expect("applies");
    let rs_query = ListQuery { label_selector: Some("app=orphaned".into()), ..ListQuery::default() };
    eventually("the replica set", || async { (!b.list("apps/v1", "ReplicaSet", "default", &rs_query).await.unwrap().is_empty()).then_some(()) }).await;
    b.delete(&d, Propagation::Orphan).await.expect("deletes");
    let rs = eventually("the deployment to go and the replica set to be orphaned", || async {
        let gone = matches!(b.get(&d).await, Err(e) if e.kind == BackendErrorKind::NotFound);
        let rs = b.list("apps/v1", "ReplicaSet", "default", &rs_query).await.unwrap();
        (gone && rs.len() == 1 && rs[0]["metadata"]["ownerReferences"].as_array().is_none_or(|o| o.is_empty())).then_some(rs)
    })
    .await;
    assert_eq!(rs.len(), 1);
    let err = b.delete(&d, Propagation::Background).await.unwrap_err();
    assert_eq!(err.kind, BackendErrorKind::NotFound, "deleting an absent object is not-found: {}", err.message);
}

#[tokio::test]
async fn pods_show_crash_loops_with_restarts_and_events_come_newest_last() {
    let server = start("pods").await;
    let b = backend(&server).await;
    b.apply(&deployment("crashy", 2, "crashloop", "registry.local/crashy:1"), ApplyOptions::default()).await.expect("applies");
    let pods = eventually("pods crash-looping with restarts", || async {
        let pods = b.pods("default", "app=crashy").await.expect("pods");
        (pods.len() == 2 && pods.iter().all(|p| p.containers.iter().any(|c| c.reason.as_deref() == Some("CrashLoopBackOff") && c.restarts >= 1))).then_some(pods)
    })
    .await;
    for p in &pods {
        assert!(!p.ready, "{p:?}");
        assert!(p.labels.contains(&("app".to_string(), "crashy".to_string())), "{p:?}");
        let c = &p.containers[0];
        assert_eq!((c.name.as_str(), c.image.as_str(), c.state.as_str()), ("app", "registry.local/crashy:1", "waiting"));
    }
    assert!(b.pods("default", "app=nothing").await.unwrap().is_empty());

    let events = eventually("events of the deployment", || async {
        let e = b.events(&key("apps/v1", "Deployment", "crashy")).await.expect("events");
        (!e.is_empty()).then_some(e)
    })
    .await;
    assert!(events.iter().any(|e| e.reason == "ScalingReplicaSet" && e.event_type == "Normal"), "{events:?}");
    assert!(events.windows(2).all(|w| w[0].last_seen <= w[1].last_seen), "newest last: {events:?}");

    let pod_events = eventually("a back-off event of a pod", || async {
        let e = b.events(&key("v1", "Pod", &pods[0].name)).await.expect("events");
        e.iter().any(|e| e.event_type == "Warning").then_some(e)
    })
    .await;
    assert!(pod_events.windows(2).all(|w| w[0].last_seen <= w[1].last_seen), "{pod_events:?}");
}

/// Logs through the real `pods/log` API: what the container printed, its
/// tail, and a missing pod as not-found.
#[tokio::test]
async fn logs_are_read_through_the_pods_log_api() {
    let server = start("logs").await;
    let b = backend(&server).await;
    let mut talker = deployment("talker", 1, "ready", "registry.local/talker:1");
    talker["spec"]["template"]["metadata"]["annotations"]["sim.gantry.dev/log-lines"] = json!("booting\nlistening on :8000");
    b.apply(&talker, ApplyOptions::default()).await.expect("applies");
    let pod = eventually("a running pod", || async {
        let pods = b.pods("default", "app=talker").await.unwrap();
        pods.into_iter().find(|p| p.phase == "Running")
    })
    .await;
    let all = eventually("the start-up lines", || async {
        let text = b.logs("default", &pod.name, &LogQuery::default()).await.expect("logs");
        text.contains("listening on :8000").then_some(text)
    })
    .await;
    assert!(all.contains("booting\nlistening on :8000"), "{all:?}");
    let tail = b.logs("default", &pod.name, &LogQuery { tail_lines: Some(1), container: Some("app".into()), ..LogQuery::default() }).await.expect("tail");
    assert_eq!(tail.trim_end(), "listening on :8000");
    let err = b.logs("default", "no-such-pod", &LogQuery::default()).await.unwrap_err();
    assert_eq!(err.kind, BackendErrorKind::NotFound, "{}", err.message);
}
