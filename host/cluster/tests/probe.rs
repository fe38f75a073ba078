//! `http-probe` through the API server's service proxy, backend level: the
//! kube-rs [`KubeBackend::probe_service`] against a simulated Deployment
//! and Service whose pods answer as their `sim.gantry.dev/http-*`
//! annotations say — status, body, per-path answers, latency (the pods'
//! simulated delay is a floor the host's measurement cannot go under), the
//! call's own timeout as a typed `timeout`, and a Service without ready pods
//! whose proxy 503 is an answer, not a transport error. Waits poll with
//! hang guards only. Everything listens on 127.0.0.1.

use std::time::{Duration, Instant};

use gantry_cluster::{Endpoint, KubeBackend, Target};
use gantry_runtime::cluster::{ApplyOptions, BackendErrorKind, ClusterBackend, ObjectKey, ServiceProbe};
use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::controllers::behavior;
use gantry_sim::{ApiServer, ServerConfig};
use serde_json::{json, Value};

const TOKEN: &str = "probe-admin";
const HANG_GUARD: Duration = Duration::from_secs(60);

async fn start() -> (ApiServer, KubeBackend) {
    let auth = Authenticator::default();
    auth.add_token(TOKEN, Identity::admin("admin"));
    let server = ApiServer::start(ServerConfig::new("probe", auth)).await.expect("server starts");
    let target = Target::static_token("sim", Endpoint { url: server.url(), ca_pem: Some(server.ca_pem().to_string()) }, TOKEN);
    let backend = KubeBackend::new("sim", target.connect().await.expect("connects"));
    (server, backend)
}

/// A Deployment `name` (pods labelled `app: name`, port `http` 8000) with pod annotations, and its Service on port 80.
async fn deploy(b: &KubeBackend, name: &str, replicas: u32, annotations: Value) {
    let mut a = json!({ behavior::READY_AFTER: "0s" });
    a.as_object_mut().unwrap().extend(annotations.as_object().unwrap().clone());
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}, "annotations": a},
                "spec": {"containers": [{"name": "app", "image": "registry.local/app:1", "ports": [{"name": "http", "containerPort": 8000}]}]}}}
    });
    let service = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
    });
    b.apply(&deployment, ApplyOptions::default()).await.expect("deployment applies");
    b.apply(&service, ApplyOptions::default()).await.expect("service applies");
}

/// Waits until the service's Endpoints exist and list `n` ready addresses.
async fn ready_endpoints(b: &KubeBackend, name: &str, n: usize) {
    let key = ObjectKey { api_version: "v1".into(), kind: "Endpoints".into(), namespace: Some("default".into()), name: name.into() };
    let guard = Instant::now() + HANG_GUARD;
    loop {
        if let Ok(ep) = b.get(&key).await {
            let ready: usize = ep["subsets"].as_array().into_iter().flatten().map(|s| s["addresses"].as_array().map_or(0, Vec::len)).sum();
            if ready == n {
                return;
            }
        }
        assert!(Instant::now() < guard, "endpoints {name} never listed {n} ready addresses");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn probe(service: &str, path: &str, timeout: Duration) -> ServiceProbe {
    ServiceProbe { namespace: "default".into(), service: service.into(), port: "http".into(), path: path.into(), headers: vec![("accept".into(), "application/json".into())], timeout }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_probe_answers_with_the_pods_status_body_and_latency() {
    let (server, b) = start().await;
    let paths = r#"{"/health": {"status": 503, "body": "down"}}"#;
    deploy(&b, "web", 2, json!({behavior::HTTP_BODY: r#"{"status":"ok"}"#, behavior::HTTP_PATHS: paths, behavior::HTTP_LATENCY: "150ms"})).await;
    ready_endpoints(&b, "web", 2).await;

    let root = b.probe_service(&probe("web", "/", HANG_GUARD)).await.expect("the probe answers");
    assert_eq!(root.status, 200);
    assert_eq!(serde_json::from_slice::<Value>(&root.body).expect("JSON body"), json!({"status": "ok"}));
    assert!(root.headers.iter().any(|(k, v)| k == "content-type" && v.contains("json")), "{:?}", root.headers);
    // The pod waits 150ms before answering; what the host measured includes it.
    assert!(root.latency >= Duration::from_millis(150), "{:?}", root.latency);

    // A per-path answer; its 503 is the pod's, returned as a status.
    let health = b.probe_service(&probe("web", "/health", HANG_GUARD)).await.expect("the probe answers");
    assert_eq!((health.status, String::from_utf8_lossy(&health.body).into_owned()), (503, "down".to_string()));

    // The port by number resolves to the same pods.
    let mut by_number = probe("web", "/", HANG_GUARD);
    by_number.port = "80".into();
    assert_eq!(b.probe_service(&by_number).await.expect("answers").status, 200);

    // The call's own timeout, shorter than the pod's latency, is a typed timeout.
    let late = b.probe_service(&probe("web", "/", Duration::from_millis(20))).await.expect_err("times out");
    assert_eq!(late.kind, BackendErrorKind::Timeout, "{late}");
    assert!(late.message.contains("web") && late.message.contains("20 ms"), "{late}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ready_pods_the_proxys_503_is_a_status_not_an_error() {
    let (server, b) = start().await;
    deploy(&b, "idle", 0, json!({})).await;
    ready_endpoints(&b, "idle", 0).await;
    let answer = b.probe_service(&probe("idle", "/health", HANG_GUARD)).await.expect("the API server answers");
    assert_eq!(answer.status, 503, "{}", String::from_utf8_lossy(&answer.body));
    assert!(String::from_utf8_lossy(&answer.body).contains("no endpoints available for service"), "{}", String::from_utf8_lossy(&answer.body));

    // A Service that does not exist is the API server's 404, also an answer.
    let missing = b.probe_service(&probe("nothing", "/", HANG_GUARD)).await.expect("the API server answers");
    assert_eq!(missing.status, 404);

    // A malformed service name never reaches the server.
    let bad = b.probe_service(&probe("a/b", "/", HANG_GUARD)).await.expect_err("invalid");
    assert_eq!(bad.kind, BackendErrorKind::Invalid, "{bad}");
    server.shutdown().await;
}
