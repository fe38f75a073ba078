//! The service and pod proxy and the simulated pods' HTTP behaviour, held
//! against real clients: kubectl (`get --raw`, `create --raw`) and kube-rs
//! through `/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH`, pods
//! answering with the status, body, latency and error rate their annotations
//! set (`gantry_sim::controllers::behavior`), traffic spread over ready pods
//! by replica count, the real 503s, forwarding to a loopback upstream the
//! test starts, and a real Prometheus scraping the metrics endpoint and
//! answering PromQL about the pods' requests.
//! Counts are exact: the simulator spreads errors and traffic
//! deterministically. Latency is read from the histogram, never the wall
//! clock; deadlines here are hang guards only. Missing kubectl or Prometheus
//! fails the tests when `CI` is set and skips them otherwise. Every server
//! involved listens on 127.0.0.1.

use crate::common;

use std::convert::Infallible;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Cluster, LIMITED};
use gantry_sim::controllers::behavior;
use http_body_util::{BodyExt, Full};
use serde_json::Value;

/// A deployment `name` of `replicas` pods labelled `app: app` and `track: track`, with pod annotations.
fn deployment(name: &str, app: &str, track: &str, replicas: u32, annotations: &[(&str, &str)]) -> String {
    let mut all = vec![(behavior::READY_AFTER, "0s")];
    all.extend_from_slice(annotations);
    let annotations: String = all.iter().map(|(k, v)| format!("        {k}: '{}'\n", v.replace('\'', "''"))).collect();
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {app}, track: {track}}}
  template:
    metadata:
      labels: {{app: {app}, track: {track}}}
      annotations:
{annotations}    spec:
      containers:
      - name: api
        image: ghcr.io/acme/{app}:1
        ports:
        - {{name: http, containerPort: 8000}}
"
    )
}

/// A Service `name` on port 80 (named `http`) selecting `app: app`.
fn service(name: &str, app: &str) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {app}}}
  ports:
  - {{name: http, port: 80, targetPort: http}}
"
    )
}

async fn create(c: &Cluster, file: &str, text: &str) {
    c.ok(&["apply", "-f", &c.file(file, text)]).await;
}

async fn rolled_out(c: &Cluster, deployment: &str) {
    c.ok(&["rollout", "status", &format!("deployment/{deployment}"), "--timeout=60s"]).await;
}

/// Waits until the service's Endpoints list `n` ready addresses (hang guard: 60s).
async fn ready_endpoints(c: &Cluster, svc: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = c.kubectl(&["get", "endpoints", svc, "-o", "json"]).await;
        let ep: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        let ready = ep["subsets"].as_array().into_iter().flatten().map(|s| s["addresses"].as_array().map_or(0, Vec::len)).sum::<usize>();
        if ready == n {
            return;
        }
        assert!(Instant::now() < deadline, "endpoints {svc} never listed {n} ready addresses: {}", out.stdout);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// kube-rs against the cluster, as the admin, without retries.
async fn kube_client(c: &Cluster) -> kube::Client {
    let text = std::fs::read_to_string(c.dir.path().join("config")).expect("kubeconfig");
    let kc = kube::config::Kubeconfig::from_yaml(&text).expect("kubeconfig parses");
    let mut config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await.expect("kube config");
    // kube-rs retries 503s by default; every request here must reach a pod once.
    config.default_retry = false;
    kube::Client::try_from(config).expect("kube client")
}

/// One request through the API server with kube-rs: (status, body).
async fn send(client: &kube::Client, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let req = hyper::Request::builder().method(method).uri(path).header("x-test", "proxied").body(kube::client::Body::from(body.to_vec())).expect("request");
    let resp = client.send(req).await.expect("the API server answers");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// GET over plain HTTP/1.1 on loopback: (status, body).
async fn http_get(url: &str) -> (u16, String) {
    let uri: hyper::Uri = url.parse().expect("url");
    let authority = uri.authority().expect("authority").to_string();
    assert!(authority.starts_with("127.0.0.1:"), "only loopback: {url}");
    let tcp = tokio::net::TcpStream::connect(&authority).await.expect("connects");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await.expect("handshake");
    tokio::spawn(conn);
    let req = hyper::Request::get(uri.path_and_query().map_or("/", |p| p.as_str())).header("host", authority).body(Full::new(Bytes::new())).expect("request");
    let resp = sender.send_request(req).await.expect("answer");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The value of the sample `name{labels...}` in exposition `text` whose labels include every one of `want`.
fn sample(text: &str, name: &str, want: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| want.iter().all(|w| l.contains(w)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn sum_samples(text: &str, name: &str, want: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && want.iter().all(|w| l.contains(w)))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

const SVC: &str = "/api/v1/namespaces/default/services/web:80/proxy";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_the_status_and_body_the_pods_are_configured_with() {
    let Some(c) = Cluster::start().await else { return };
    let paths = r#"{"/health": {"status": 200, "body": {"status": "healthy"}}, "/teapot": {"status": 418, "body": "short and stout"}}"#;
    create(&c, "web.yaml", &deployment("web", "web", "stable", 2, &[(behavior::HTTP_PATHS, paths)])).await;
    create(&c, "svc.yaml", &service("web", "web")).await;
    rolled_out(&c, "web").await;
    ready_endpoints(&c, "web", 2).await;

    assert_eq!(c.ok(&["get", "--raw", &format!("{SVC}/health")]).await, r#"{"status":"healthy"}"#);
    assert_eq!(c.ok(&["get", "--raw", &format!("{SVC}/anything/else")]).await, r#"{"status":"ok"}"#);
    // The port by name, and the scheme form, as the real server parses them.
    assert_eq!(c.ok(&["get", "--raw", "/api/v1/namespaces/default/services/web:http/proxy/health"]).await, r#"{"status":"healthy"}"#);
    assert_eq!(c.ok(&["get", "--raw", "/api/v1/namespaces/default/services/http:web:80/proxy/health"]).await, r#"{"status":"healthy"}"#);
    let teapot = c.kubectl(&["get", "--raw", &format!("{SVC}/teapot")]).await;
    assert!(!teapot.ok && teapot.stderr.contains("status code 418"), "kubectl reports the pod's status: {}", teapot.stderr);

    let client = kube_client(&c).await;
    assert_eq!(send(&client, "GET", &format!("{SVC}/teapot"), b"").await, (418, "short and stout".to_string()));
    for method in ["POST", "PUT", "DELETE"] {
        assert_eq!(send(&client, method, &format!("{SVC}/items"), b"{}").await, (200, r#"{"status":"ok"}"#.to_string()), "{method}");
    }
    let (head, body) = send(&client, "HEAD", &format!("{SVC}/health"), b"").await;
    assert_eq!((head, body.as_str()), (200, ""));

    // One pod by name, through the pods proxy.
    let pods = c.json(&["get", "pods", "-l", "app=web"]).await;
    let pod = pods["items"][0]["metadata"]["name"].as_str().expect("a pod").to_string();
    assert_eq!(c.ok(&["get", "--raw", &format!("/api/v1/namespaces/default/pods/{pod}/proxy/health")]).await, r#"{"status":"healthy"}"#);
    assert_eq!(c.ok(&["get", "--raw", &format!("/api/v1/namespaces/default/pods/{pod}:8000/proxy/")]).await, r#"{"status":"ok"}"#);

    // The metrics count what the pods answered, by pod, method, handler and status.
    let (code, text) = http_get(&c.server.metrics_url()).await;
    assert_eq!(code, 200);
    let pod_label = format!("pod=\"{pod}\"");
    assert!(sample(&text, "http_requests_total", &[&pod_label, "handler=\"/health\"", "method=\"GET\"", "status=\"200\""]).is_some(), "{text}");
    assert_eq!(sum_samples(&text, "http_requests_total", &["app=\"web\"", "status=\"418\""]), 2.0, "{text}");
    assert_eq!(sum_samples(&text, "http_requests_total", &["app=\"web\"", "method=\"POST\""]), 1.0, "{text}");
    assert_eq!(sum_samples(&text, "http_requests_total", &["app=\"web\""]), 12.0, "every answered request counted once: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_rate_fails_exactly_that_share_and_latency_shows_in_the_histogram() {
    let Some(c) = Cluster::start().await else { return };
    let annotations = [(behavior::HTTP_ERROR_RATE, "0.25"), (behavior::HTTP_ERROR_STATUS, "503"), (behavior::HTTP_LATENCY, "150ms")];
    create(&c, "web.yaml", &deployment("web", "web", "stable", 2, &annotations)).await;
    create(&c, "svc.yaml", &service("web", "web")).await;
    rolled_out(&c, "web").await;
    ready_endpoints(&c, "web", 2).await;

    let client = kube_client(&c).await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(send(&client, "GET", &format!("{SVC}/orders"), b"").await.0);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 503).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 30, "{statuses:?}");

    let (_, text) = http_get(&c.server.metrics_url()).await;
    assert_eq!(sum_samples(&text, "http_requests_total", &["status=\"503\""]), 10.0, "{text}");
    assert_eq!(sum_samples(&text, "http_requests_total", &["status=\"200\""]), 30.0, "{text}");
    // Each pod answered 20 requests, none faster than its 150ms latency.
    assert_eq!(sum_samples(&text, "http_request_duration_seconds_bucket", &["handler=\"/orders\"", "le=\"0.1\""]), 0.0, "{text}");
    assert_eq!(sum_samples(&text, "http_request_duration_seconds_bucket", &["handler=\"/orders\"", "le=\"+Inf\""]), 40.0, "{text}");
    assert_eq!(sum_samples(&text, "http_request_duration_seconds_count", &["handler=\"/orders\""]), 40.0, "{text}");
    assert!(sum_samples(&text, "http_request_duration_seconds_sum", &["handler=\"/orders\""]) >= 40.0 * 0.15, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_spreads_over_ready_pods_by_replica_count() {
    let Some(c) = Cluster::start().await else { return };
    create(&c, "stable.yaml", &deployment("web-stable", "web", "stable", 3, &[(behavior::HTTP_BODY, "stable")])).await;
    create(&c, "canary.yaml", &deployment("web-canary", "web", "canary", 1, &[(behavior::HTTP_BODY, "canary")])).await;
    create(&c, "svc.yaml", &service("web", "web")).await;
    rolled_out(&c, "web-stable").await;
    rolled_out(&c, "web-canary").await;
    ready_endpoints(&c, "web", 4).await;

    let client = kube_client(&c).await;
    let mut canary = 0;
    for _ in 0..100 {
        let (status, body) = send(&client, "GET", &format!("{SVC}/"), b"").await;
        assert_eq!(status, 200);
        canary += usize::from(body == "canary");
    }
    assert_eq!(canary, 25, "1 canary pod of 4 takes a quarter of the traffic");

    let (_, text) = http_get(&c.server.metrics_url()).await;
    assert_eq!(sum_samples(&text, "http_requests_total", &["track=\"canary\""]), 25.0, "{text}");
    assert_eq!(sum_samples(&text, "http_requests_total", &["track=\"stable\""]), 75.0, "{text}");
    let pods = c.json(&["get", "pods", "-l", "track=stable"]).await;
    for pod in pods["items"].as_array().expect("pods") {
        let label = format!("pod=\"{}\"", pod["metadata"]["name"].as_str().unwrap_or(""));
        assert_eq!(sum_samples(&text, "http_requests_total", &[&label]), 25.0, "each stable pod takes its quarter: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ready_pods_unknown_services_and_unreachable_pods_answer_as_the_real_server() {
    let Some(c) = Cluster::start().await else { return };
    create(&c, "web.yaml", &deployment("web", "web", "stable", 1, &[(behavior::BEHAVIOR, "never-ready")])).await;
    create(&c, "svc.yaml", &service("web", "web")).await;
    create(&c, "crash.yaml", &deployment("crash", "crash", "stable", 1, &[(behavior::BEHAVIOR, "crashloop")])).await;
    // The never-ready pod is listed, not ready, in the endpoints.
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.kubectl(&["get", "endpoints", "web", "-o", "jsonpath={.subsets[0].notReadyAddresses[0].ip}"]).await.stdout.is_empty() {
        assert!(Instant::now() < deadline, "the never-ready pod never appeared in the endpoints");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let client = kube_client(&c).await;
    let (code, body) = send(&client, "GET", &format!("{SVC}/health"), b"").await;
    let status: Value = serde_json::from_str(&body).expect("a Status");
    assert_eq!((code, status["reason"].as_str(), status["message"].as_str()), (503, Some("ServiceUnavailable"), Some("no endpoints available for service \"web:80\"")));
    let out = c.kubectl(&["get", "--raw", &format!("{SVC}/health")]).await;
    assert!(!out.ok && out.stderr.contains("ServiceUnavailable"), "{}", out.stderr);

    let (code, body) = send(&client, "GET", "/api/v1/namespaces/default/services/nope:80/proxy/", b"").await;
    let status: Value = serde_json::from_str(&body).expect("a Status");
    assert_eq!((code, status["reason"].as_str(), status["message"].as_str()), (404, Some("NotFound"), Some("services \"nope\" not found")));
    let (code, body) = send(&client, "GET", "/api/v1/namespaces/default/services/web:81/proxy/", b"").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("no service port 81 found for service \\\"web\\\""), "{body}");
    let (code, body) = send(&client, "GET", "/api/v1/namespaces/default/services/ftp:web:80/proxy/", b"").await;
    assert_eq!(code, 400, "{body}");

    // A crash-looping pod has nothing listening: the pods proxy cannot reach it.
    c.ok(&["wait", "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=CrashLoopBackOff", "pod", "-l", "app=crash", "--timeout=60s"]).await;
    let pods = c.json(&["get", "pods", "-l", "app=crash"]).await;
    let pod = pods["items"][0]["metadata"]["name"].as_str().expect("a pod").to_string();
    let (code, body) = send(&client, "GET", &format!("/api/v1/namespaces/default/pods/{pod}/proxy/"), b"").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("error trying to reach service: dial tcp") && body.contains(":8000: connect: connection refused"), "{body}");
    let (_, text) = http_get(&c.server.metrics_url()).await;
    assert!(!text.contains("http_requests_total{"), "no pod answered anything: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_is_authorised_per_verb_on_services_proxy() {
    let Some(c) = Cluster::start().await else { return };
    create(&c, "web.yaml", &deployment("web", "web", "stable", 1, &[])).await;
    create(&c, "svc.yaml", &service("web", "web")).await;
    rolled_out(&c, "web").await;
    ready_endpoints(&c, "web", 1).await;

    // The limited token may get and list in default: GET through the proxy works, POST does not.
    let limited = c.write_kubeconfig("limited", LIMITED);
    let got = c.run_as(&limited, &["get", "--raw", &format!("{SVC}/health")]).await;
    assert!(got.ok, "{}", got.stderr);
    assert_eq!(got.stdout, r#"{"status":"ok"}"#);
    let body = c.file("body.json", "{}");
    let posted = c.run_as(&limited, &["create", "--raw", &format!("{SVC}/items"), "-f", &body]).await;
    assert!(!posted.ok);
    assert!(
        posted.stderr.contains(r#"services "web:80" is forbidden: User "ci" cannot create resource "services/proxy" in API group "" in the namespace "default""#),
        "{}",
        posted.stderr
    );
    let elsewhere = c.run_as(&limited, &["get", "--raw", "/api/v1/namespaces/kube-system/services/web:80/proxy/"]).await;
    assert!(!elsewhere.ok && elsewhere.stderr.contains("forbidden"), "{}", elsewhere.stderr);
    assert!(c.ok(&["create", "--raw", &format!("{SVC}/items"), "-f", &body]).await.contains("ok"));
}

/// A loopback HTTP server that echoes each request as JSON; returns its address.
async fn echo_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let (parts, body) = req.into_parts();
                    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    let echo = serde_json::json!({
                        "method": parts.method.as_str(), "uri": parts.uri.to_string(), "body": String::from_utf8_lossy(&body),
                        "x-test": header("x-test"), "authorization": header("authorization"),
                    });
                    let resp = hyper::Response::builder().status(201).header("content-type", "application/json").header("x-upstream", "echo").body(Full::new(Bytes::from(echo.to_string())));
                    Ok::<_, Infallible>(resp.expect("response"))
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(tcp), service).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_forward_to_a_loopback_upstream_and_refuse_any_other() {
    let Some(c) = Cluster::start().await else { return };
    let echo = echo_server().await;
    let upstream = format!("http://{echo}/base");
    create(&c, "web.yaml", &deployment("web", "web", "stable", 1, &[(behavior::HTTP_UPSTREAM, &upstream)])).await;
    create(&c, "svc.yaml", &service("web", "web")).await;
    create(&c, "far.yaml", &deployment("far", "far", "stable", 1, &[(behavior::HTTP_UPSTREAM, "http://10.1.2.3:80")])).await;
    create(&c, "far-svc.yaml", &service("far", "far")).await;
    rolled_out(&c, "web").await;
    rolled_out(&c, "far").await;
    ready_endpoints(&c, "web", 1).await;
    ready_endpoints(&c, "far", 1).await;

    let client = kube_client(&c).await;
    let (code, body) = send(&client, "POST", &format!("{SVC}/orders?limit=5"), br#"{"item": 7}"#).await;
    assert_eq!(code, 201, "{body}");
    let echo: Value = serde_json::from_str(&body).expect("the upstream's echo");
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["uri"], "/base/orders?limit=5");
    assert_eq!(echo["body"], r#"{"item": 7}"#);
    assert_eq!(echo["x-test"], "proxied", "headers pass through");
    assert_eq!(echo["authorization"], "", "the caller's token stays with the API server");
    let raw = c.ok(&["get", "--raw", &format!("{SVC}/health")]).await;
    assert_eq!(serde_json::from_str::<Value>(&raw).expect("echo")["uri"], "/base/health");

    let (_, text) = http_get(&c.server.metrics_url()).await;
    assert_eq!(sum_samples(&text, "http_requests_total", &["app=\"web\"", "method=\"POST\"", "status=\"201\""]), 1.0, "{text}");

    let (code, body) = send(&client, "GET", "/api/v1/namespaces/default/services/far:80/proxy/", b"").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("refused") && body.contains("only to loopback"), "{body}");
}

/// The Prometheus binary: `GANTRY_PROMETHEUS`, else `prometheus` on PATH; None (skip) outside CI.
fn prometheus_binary() -> Option<PathBuf> {
    let found = std::env::var_os("GANTRY_PROMETHEUS").map(PathBuf::from).filter(|p| p.is_file()).or_else(|| {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|dir| dir.join("prometheus"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "prometheus is required in CI (apt-get install prometheus, or set GANTRY_PROMETHEUS)");
        eprintln!("prometheus not found: skipping (set CI to make this a failure)");
    }
    found
}

/// A free port on 127.0.0.1 for Prometheus' web listener.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Polls Prometheus' query API until `done` accepts the result vector (hang guard: 120s).
async fn query_until(base: &str, promql: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let url = format!("{base}/api/v1/query?query={}", percent_encoding::utf8_percent_encode(promql, percent_encoding::NON_ALPHANUMERIC));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (code, body) = http_get(&url).await;
        let doc: Value = serde_json::from_str(&body).unwrap_or_default();
        assert!(code == 200 && doc["status"] == "success", "query {promql}: {code} {body}");
        let result = doc["data"]["result"].as_array().cloned().unwrap_or_default();
        if done(&result) {
            return result;
        }
        assert!(Instant::now() < deadline, "Prometheus never answered {promql} as expected; last: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn value(sample: &Value) -> f64 {
    sample["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_pods_and_answers_promql_about_them() {
    let Some(prometheus) = prometheus_binary() else { return };
    let Some(c) = Cluster::start().await else { return };
    create(&c, "stable.yaml", &deployment("web-stable", "web", "stable", 3, &[])).await;
    create(&c, "canary.yaml", &deployment("web-canary", "web", "canary", 1, &[(behavior::HTTP_ERROR_RATE, "0.5"), (behavior::HTTP_ERROR_STATUS, "503")])).await;
    create(&c, "svc.yaml", &service("web", "web")).await;
    rolled_out(&c, "web-stable").await;
    rolled_out(&c, "web-canary").await;
    ready_endpoints(&c, "web", 4).await;

    let metrics = c.server.metrics_url();
    let target = metrics.trim_start_matches("http://").trim_end_matches("/metrics");
    let data = tempfile::tempdir().expect("temp dir");
    let config = data.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: gantry-sim\n  static_configs:\n  - targets: ['{target}']\n"),
    )
    .expect("config written");
    let port = free_port();
    let mut child = tokio::process::Command::new(&prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.path().join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(data.path().join("prometheus.log")).expect("log file"))
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus starts");
    let base = format!("http://127.0.0.1:{port}");

    // Traffic before and while Prometheus scrapes: 40 requests, 10 to the canary, 5 of them failing.
    let client = kube_client(&c).await;
    for _ in 0..40 {
        send(&client, "GET", &format!("{SVC}/checkout"), b"").await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get_ok(&format!("{base}/-/ready")).await.is_none() {
        if let Ok(Some(exit)) = child.try_wait() {
            panic!("prometheus exited early: {exit}: {}", std::fs::read_to_string(data.path().join("prometheus.log")).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "prometheus never became ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let by_track = query_until(&base, r#"sum by (track) (http_requests_total{namespace="default",app="web"})"#, |r| {
        r.len() == 2 && r.iter().map(value).sum::<f64>() == 40.0
    })
    .await;
    let track = |name: &str| by_track.iter().find(|s| s["metric"]["track"] == name).map(value);
    assert_eq!((track("canary"), track("stable")), (Some(10.0), Some(30.0)), "{by_track:?}");
    let per_pod = query_until(&base, r#"http_requests_total{track="stable",status="200"}"#, |r| r.len() == 3).await;
    assert!(per_pod.iter().all(|s| value(s) == 10.0 && s["metric"]["pod"].as_str().is_some_and(|p| p.starts_with("web-stable-"))), "{per_pod:?}");
    let errors = query_until(&base, r#"sum(http_requests_total{track="canary",status=~"5.."})"#, |r| r.len() == 1 && value(&r[0]) == 5.0).await;
    assert_eq!(errors[0]["value"][1], "5");

    // More canary failures while Prometheus watches: the canary analysis' rate query sees them.
    for _ in 0..40 {
        send(&client, "GET", &format!("{SVC}/checkout"), b"").await;
    }
    let rate = query_until(&base, r#"sum(rate(http_requests_total{track="canary",status=~"5.."}[1m]))"#, |r| r.len() == 1 && value(&r[0]) > 0.0).await;
    assert!(value(&rate[0]) > 0.0, "{rate:?}");
    let stable_errors = query_until(&base, r#"sum(http_requests_total{track="stable",status=~"5.."}) or vector(0)"#, |r| r.len() == 1).await;
    assert_eq!(value(&stable_errors[0]), 0.0, "the stable pods never failed");
    let latency = query_until(&base, r#"sum(http_request_duration_seconds_count{app="web"})"#, |r| r.len() == 1 && value(&r[0]) == 80.0).await;
    assert_eq!(value(&latency[0]), 80.0);

    child.start_kill().expect("prometheus stops");
    let _ = child.wait().await;
}

/// Some(body) when GET `url` answers 200.
async fn http_get_ok(url: &str) -> Option<String> {
    let uri: hyper::Uri = url.parse().ok()?;
    let authority = uri.authority()?.to_string();
    let tcp = tokio::net::TcpStream::connect(&authority).await.ok()?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await.ok()?;
    tokio::spawn(conn);
    let req = hyper::Request::get(uri.path()).header("host", authority).body(Full::new(Bytes::new())).ok()?;
    let resp = sender.send_request(req).await.ok()?;
    let ok = resp.status() == 200;
    let bytes = resp.into_body().collect().await.ok()?.to_bytes();
    ok.then(|| String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_up_prints_each_clusters_metrics_endpoint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let estate = gantry_sim::Estate::start(dir.path()).await.expect("the estate starts");
    let summary = estate.summary();
    for cluster in &estate.clusters {
        let url = cluster.server.metrics_url();
        assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/metrics"), "{url}");
        assert!(summary.contains(&format!("pod request metrics of {} (a Prometheus scrape target): {url}\n", cluster.spec.name)), "{summary}");
        let (code, text) = http_get(&url).await;
        assert_eq!(code, 200);
        assert!(text.contains("# TYPE http_requests_total counter"), "{text}");
    }
    assert_eq!(estate.clusters.len(), 2);
    estate.shutdown().await;
}
