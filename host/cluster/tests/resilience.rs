//! The retry layer and watch resumption against a simulated cluster whose
//! fault injection (gantry_sim::faults) makes it answer 503s, 429s with
//! `Retry-After`, 500s forever, drop connections, cut watch streams and
//! answer watches with 410 Gone. The fault counters prove how many requests
//! were hit; nothing asserts an upper bound on time (the one timing check is
//! a lower bound: Retry-After was honoured). Timeouts here are hang guards
//! only.

use std::time::{Duration, Instant};

use gantry_cluster::retry::{self, with_deadline};
use gantry_cluster::{Endpoint, KubeBackend, Target};
use gantry_runtime::cluster::{ApplyOptions, BackendErrorKind, ClusterBackend, ObjectKey};
use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::faults::FaultRule;
use gantry_sim::{ApiServer, ServerConfig};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::{json, Value};

const TOKEN: &str = "resilience-admin";
const HANG_GUARD: Duration = Duration::from_secs(60);

async fn start(name: &str) -> ApiServer {
    let auth = Authenticator::default();
    auth.add_token(TOKEN, Identity::admin("admin"));
    ApiServer::start(ServerConfig::new(name, auth)).await.expect("server starts")
}

async fn backend(server: &ApiServer) -> KubeBackend {
    let target = Target::static_token("sim", Endpoint { url: server.url(), ca_pem: Some(server.ca_pem().to_string()) }, TOKEN);
    KubeBackend::new("sim", target.connect().await.expect("connects"))
}

fn key(name: &str) -> ObjectKey {
    ObjectKey { api_version: "v1".into(), kind: "ConfigMap".into(), namespace: Some("default".into()), name: name.into() }
}

fn config_map(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": data})
}

/// A backend with `name` applied and its kind discovered (so faults hit only the calls under test).
async fn ready(server: &ApiServer, name: &str) -> KubeBackend {
    let b = backend(server).await;
    b.apply(&config_map(name, json!({"v": "0"})), ApplyOptions::default()).await.expect("applies");
    b.get(&key(name)).await.expect("reads");
    b
}

async fn guarded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(HANG_GUARD, f).await.expect("hang guard")
}

#[tokio::test]
async fn three_503s_on_gets_are_retried_and_the_call_succeeds() {
    let server = start("r503").await;
    let b = ready(&server, "cm").await;
    let before = retry::retries();
    let rule = server.faults().add(FaultRule::status(503).verb("get").times(3)).expect("rule");
    let got = guarded(b.get(&key("cm"))).await.expect("succeeds after the 503s");
    assert_eq!(got["data"]["v"], "0");
    assert_eq!(server.faults().hits(&rule), Some(3));
    assert!(retry::retries() - before >= 3, "each 503 was retried and counted");
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let server = start("r429").await;
    let b = ready(&server, "cm").await;
    let rule = server.faults().add(FaultRule::too_many_requests(1).verb("get").path("/api/v1/namespaces/default/configmaps").times(1)).expect("rule");
    let started = Instant::now();
    let got = guarded(b.get(&key("cm"))).await.expect("succeeds after the 429");
    assert_eq!(got["data"]["v"], "0");
    assert_eq!(server.faults().hits(&rule), Some(1));
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was honoured, waited {:?}", started.elapsed());
}

#[tokio::test]
async fn a_dropped_connection_on_a_get_is_retried() {
    let server = start("rdrop").await;
    let b = ready(&server, "cm").await;
    let rule = server.faults().add(FaultRule::drop_connection().verb("get").times(1)).expect("rule");
    let got = guarded(b.get(&key("cm"))).await.expect("succeeds after the drop");
    assert_eq!(got["data"]["v"], "0");
    assert_eq!(server.faults().hits(&rule), Some(1));
}

#[tokio::test]
async fn a_500_on_every_request_is_retried_three_times_then_fails_naming_the_target_and_the_status() {
    let server = start("r500").await;
    let b = ready(&server, "cm").await;
    let rule = server.faults().add(FaultRule::status(500)).expect("rule");
    // A deadline far away: the server's own error is not retried up to it.
    let err = guarded(with_deadline(Instant::now() + HANG_GUARD, b.get(&key("cm")))).await.expect_err("fails");
    assert_eq!(err.kind, BackendErrorKind::Unavailable, "{}", err.message);
    assert!(err.message.contains("`sim`"), "names the target: {}", err.message);
    assert!(err.message.contains("500"), "names the last status: {}", err.message);
    assert!(err.message.contains("still failing after 4 attempts"), "says it retried: {}", err.message);
    assert_eq!(server.faults().hits(&rule), Some(1 + retry::SERVER_ERROR_RETRIES as u64), "the first attempt and its retries");
}

#[tokio::test]
async fn a_503_on_every_request_is_retried_until_the_deadline() {
    let server = start("r503ever").await;
    let b = ready(&server, "cm").await;
    let rule = server.faults().add(FaultRule::status(503)).expect("rule");
    let err = guarded(with_deadline(Instant::now() + Duration::from_secs(2), b.get(&key("cm")))).await.expect_err("fails");
    assert!(err.message.contains("503") && err.message.contains("gave up at the call's deadline"), "{}", err.message);
    assert!(server.faults().hits(&rule).unwrap_or(0) > 1, "retried before giving up");
}

#[tokio::test]
async fn a_post_dropped_after_sending_is_not_retried() {
    let server = start("rpost").await;
    let b = ready(&server, "cm").await;
    let rule = server.faults().add(FaultRule::drop_connection().verb("create").times(5)).expect("rule");
    let api: Api<ConfigMap> = Api::namespaced(b.client().clone(), "default");
    let cm: ConfigMap = serde_json::from_value(config_map("created", json!({"v": "1"}))).expect("config map");
    let err = guarded(api.create(&PostParams::default(), &cm)).await.expect_err("the drop is the answer");
    assert_eq!(server.faults().hits(&rule), Some(1), "one POST, not replayed: {err}");
}

#[tokio::test]
async fn a_post_refused_with_429_is_retried() {
    let server = start("rpost429").await;
    let b = ready(&server, "cm").await;
    let rule = server.faults().add(FaultRule::too_many_requests(1).verb("create").times(1)).expect("rule");
    let api: Api<ConfigMap> = Api::namespaced(b.client().clone(), "default");
    let cm: ConfigMap = serde_json::from_value(config_map("created", json!({"v": "1"}))).expect("config map");
    guarded(api.create(&PostParams::default(), &cm)).await.expect("created after the 429");
    assert_eq!(server.faults().hits(&rule), Some(1));
}

#[tokio::test]
async fn a_watch_cut_mid_stream_resumes_from_its_resource_version_without_a_relist() {
    let server = start("rwatch").await;
    let b = ready(&server, "cm").await;
    let rule = server.faults().add(FaultRule::reset_watch(1).path("/api/v1/namespaces/default/configmaps").times(1)).expect("rule");
    let resource = kube::core::ApiResource::erase::<ConfigMap>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(b.client().clone(), "default", &resource);
    let waiter = tokio::spawn(async move {
        gantry_cluster::watch::watch_until(&api, "cm", Instant::now() + HANG_GUARD, |o| o.data["data"]["v"] == "final").await
    });
    // Change the object until the cut has happened (the watch may not be open at first).
    let mut n = 1;
    guarded(async {
        while server.faults().hits(&rule) != Some(1) {
            b.apply(&config_map("cm", json!({"v": n.to_string()})), ApplyOptions::default()).await.expect("applies");
            n += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    // A change after the cut, seen only if the watch resumed.
    b.apply(&config_map("cm", json!({"v": "final"})), ApplyOptions::default()).await.expect("applies");
    let (o, stats) = guarded(waiter).await.expect("joins").expect("sees the change");
    assert_eq!(o.data["data"]["v"], "final");
    assert_eq!(stats.relists, 0, "{stats:?}");
    assert!(stats.resumes >= 1, "{stats:?}");
}

#[tokio::test]
async fn a_watch_answered_410_gone_relists_and_then_sees_the_change() {
    let server = start("rgone").await;
    let b = ready(&server, "cm").await;
    let faults = server.faults();
    let path = "/api/v1/namespaces/default/configmaps";
    // A latency of nothing changes nothing and counts the lists.
    let lists = faults.add(FaultRule::latency(Duration::ZERO).verb("list").path(path)).expect("rule");
    // The first watch is refused with 410 in its response; the second gets
    // 410 as an ERROR event in its stream, as for a compacted version.
    let refused = faults.add(FaultRule::status(410).verb("watch").path(path).times(1)).expect("rule");
    let expired = faults.add(FaultRule::expire_watch(0).path(path).times(1)).expect("rule");
    let resource = kube::core::ApiResource::erase::<ConfigMap>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(b.client().clone(), "default", &resource);
    let waiter = tokio::spawn(async move {
        gantry_cluster::watch::watch_until(&api, "cm", Instant::now() + HANG_GUARD, |o| o.data["data"]["v"] == "final").await
    });
    guarded(async {
        while faults.hits(&expired) != Some(1) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // Both 410s have been answered; a change now is seen by the third watch (or the third list).
    b.apply(&config_map("cm", json!({"v": "final"})), ApplyOptions::default()).await.expect("applies");
    let (o, stats) = guarded(waiter).await.expect("joins").expect("sees the change");
    assert_eq!(o.data["data"]["v"], "final");
    assert_eq!(stats.relists, 2, "one relist per 410: {stats:?}");
    assert_eq!((faults.hits(&refused), faults.hits(&expired)), (Some(1), Some(1)));
    assert_eq!(faults.hits(&lists), Some(3), "the first list and one after each 410");
}

#[tokio::test]
async fn waiting_for_a_rollout_watches_through_a_cut_stream_until_it_is_done() {
    let server = start("rrollout").await;
    let b = backend(&server).await;
    let rule = server.faults().add(FaultRule::reset_watch(1).path("/apis/apps/v1/namespaces/default/deployments").times(1)).expect("rule");
    let web = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"sim.gantry.dev/behavior": "ready"}},
                "spec": {"containers": [{"name": "app", "image": "registry.local/web:1"}]}
            }
        }
    });
    b.apply(&web, ApplyOptions::default()).await.expect("applies");
    let object = ObjectKey { api_version: "apps/v1".into(), kind: "Deployment".into(), namespace: Some("default".into()), name: "web".into() };
    let (rollout, stats) = guarded(b.wait_rollout(&object, Instant::now() + HANG_GUARD)).await.expect("rolls out");
    assert!(rollout.done, "{rollout:?}");
    assert_eq!(rollout.message, "deployment \"web\" successfully rolled out");
    assert_eq!(stats.relists, 0, "{stats:?}");
    // The stream is cut after its first event; unless that event was already the
    // finished rollout, the wait resumed it (a_watch_cut_mid_stream_… proves resumption).
    let _ = rule;
}
