//! Faults on demand, proven with the clients that must survive them: kubectl
//! (client-go) shows the real error text of an injected 503 and retries 429s
//! that carry `Retry-After`; kube-rs retries 429s, fails on a 500 with the
//! real `Status`, fails with a connection error when the connection is
//! dropped, waits out latency, and its watcher resumes from its
//! resourceVersion after a watch is cut mid-stream. Rules are switched at run
//! time, in process and through the admin endpoint (kubectl `--raw`, an
//! admin token; others get 403), and the cloud control plane's endpoint makes
//! EKS DescribeCluster and GKE clusters.get fail in their own formats.
//!
//! Every cluster is started in-process on 127.0.0.1. Timeouts are hang
//! guards; the only time assertion is a lower bound (latency).

use crate::common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Cluster, LIMITED};
use futures::StreamExt;
use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::cloud::sigv4::{self, Scope};
use gantry_sim::cloud::{AwsPrincipal, CloudRegistry, ControlPlane, EksCluster, GkeCluster};
use gantry_sim::faults::FaultRule;
use gantry_sim::kubeconfig;
use gantry_sim::{ApiServer, ServerConfig};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Client;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "faults-admin";
const HANG_GUARD: Duration = Duration::from_secs(90);
const CONFIGMAPS: &str = "/api/v1/namespaces/*/configmaps";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/*/deployments";

async fn start() -> ApiServer {
    let auth = Authenticator::default();
    auth.add_token(TOKEN, Identity::admin("admin"));
    let mut config = ServerConfig::new("faults", auth);
    config.controllers = false;
    ApiServer::start(config).await.expect("server starts")
}

/// kube-rs from the kubeconfig the simulator renders, never through a proxy.
async fn client(server: &ApiServer) -> Client {
    let text = kubeconfig::render(&[server.kubeconfig_entry(TOKEN)]).expect("kubeconfig renders");
    let kubeconfig = Kubeconfig::from_yaml(&text).expect("kube-rs reads the kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.expect("kube-rs config");
    config.proxy_url = None;
    Client::try_from(config).expect("kube-rs client")
}

async fn guard<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, fut).await.unwrap_or_else(|_| panic!("hung: {what}"))
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": name}})).expect("a ConfigMap")
}

async fn create(api: &Api<ConfigMap>, name: &str) {
    guard("create", api.create(&PostParams::default(), &config_map(name))).await.expect("created");
}

#[tokio::test]
async fn kubectl_shows_the_real_503_text_and_rules_cleared_at_run_time_stop_applying() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "deployment", "web", "--image=nginx:1.27"]).await;
    let faults = c.server.faults();
    let rule = faults.add(FaultRule::status(503).verb("get").path(DEPLOYMENTS)).unwrap();

    let out = c.kubectl(&["get", "deployment", "web"]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("Error from server (ServiceUnavailable): the server is currently unable to handle the request"),
        "{}",
        out.stderr
    );
    assert_eq!(faults.hits(&rule), Some(1), "client-go does not retry a 503 without Retry-After");
    // A list is another verb: the rule leaves it alone.
    assert!(c.ok(&["get", "deployments"]).await.contains("web"));

    faults.clear();
    assert!(c.ok(&["get", "deployment", "web", "-o", "name"]).await.contains("deployment.apps/web"));
    assert_eq!(faults.injected(), 1);
}

#[tokio::test]
async fn kubectl_retries_the_next_two_429s_honouring_retry_after() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "deployment", "web", "--image=nginx:1.27"]).await;
    let faults = c.server.faults();
    let rule = faults.add(FaultRule::too_many_requests(1).verb("get").path(DEPLOYMENTS).times(2)).unwrap();

    let started = Instant::now();
    let name = c.ok(&["get", "deployment", "web", "-o", "name"]).await;
    assert_eq!(name.trim(), "deployment.apps/web");
    assert_eq!(faults.hits(&rule), Some(2), "both 429s were served, then the third try went through");
    assert!(started.elapsed() >= Duration::from_secs(2), "client-go waited the two Retry-After seconds");
    assert_eq!(faults.list()[0].remaining, Some(0));
}

#[tokio::test]
async fn kube_rs_retries_429s_and_fails_on_a_500_with_the_real_status() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&server).await, "default");
    create(&api, "settings").await;
    let faults = server.faults();

    let throttled = faults.add(FaultRule::too_many_requests(1).verb("get").path(CONFIGMAPS).times(2)).unwrap();
    let got = guard("get through 429s", api.get("settings")).await.expect("kube-rs retries 429 with Retry-After");
    assert_eq!(got.data.unwrap()["k"], "settings");
    assert_eq!(faults.hits(&throttled), Some(2));

    faults.add(FaultRule::status(500).message("etcdserver: leader changed").verb("get").path(CONFIGMAPS).times(1)).unwrap();
    let err = guard("get through a 500", api.get("settings")).await.expect_err("a 500 is not retried");
    let kube::Error::Api(status) = err else { panic!("expected an API error, got {err:?}") };
    assert_eq!(status.code, 500);
    assert_eq!(status.reason, "InternalError");
    assert_eq!(status.message, "Internal error occurred: etcdserver: leader changed");
    assert_eq!(faults.injected(), 3);
    guard("get after the faults", api.get("settings")).await.expect("no rule applies any more");
}

#[tokio::test]
async fn a_dropped_connection_is_a_connection_error_not_an_answer() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&server).await, "default");
    create(&api, "settings").await;
    let faults = server.faults();
    let dropped = faults.add(FaultRule::drop_connection().verb("get").path(CONFIGMAPS).times(1)).unwrap();

    let err = guard("get on a dropped connection", api.get("settings")).await.expect_err("no answer arrives");
    assert!(!matches!(err, kube::Error::Api(_)), "a dropped connection is not a server answer: {err:?}");
    assert_eq!(faults.hits(&dropped), Some(1));
    // The client opens a new connection and goes on.
    guard("get after the drop", api.get("settings")).await.expect("the next request is served");
}

#[tokio::test]
async fn kubectl_gets_through_a_dropped_connection_by_retrying_the_get() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "configmap", "settings", "--from-literal=k=v"]).await;
    let faults = c.server.faults();
    let dropped = faults.add(FaultRule::drop_connection().verb("get").path(CONFIGMAPS).times(1)).unwrap();
    let out = c.kubectl(&["get", "configmap", "settings", "-o", "name"]).await;
    assert_eq!(faults.hits(&dropped), Some(1), "the connection was dropped once");
    // client-go retries a GET whose connection hit EOF (never a write), on a new connection.
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "configmap/settings");
}

#[tokio::test]
async fn latency_holds_the_request_at_least_that_long() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&server).await, "default");
    create(&api, "settings").await;
    let faults = server.faults();
    let slow = faults.add(FaultRule::latency(Duration::from_millis(400)).verb("list").path(CONFIGMAPS)).unwrap();

    let started = Instant::now();
    let list = guard("slow list", api.list(&ListParams::default())).await.expect("listed");
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
    assert_eq!(list.items.len(), 1);
    assert_eq!(faults.hits(&slow), Some(1));
    // Gets are not lists: not delayed, not counted.
    guard("get", api.get("settings")).await.expect("got");
    assert_eq!(faults.hits(&slow), Some(1));
}

#[tokio::test]
async fn a_watch_cut_mid_stream_is_resumed_from_its_resource_version() {
    let server = start().await;
    let client = client(&server).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    create(&api, "before").await;
    let faults = server.faults();
    // Zero latency counts requests without changing them.
    let lists = faults.add(FaultRule::latency(Duration::ZERO).id("lists").verb("list").path(CONFIGMAPS)).unwrap();
    let watches = faults.add(FaultRule::latency(Duration::ZERO).id("watches").verb("watch").path(CONFIGMAPS)).unwrap();
    let cut = faults.add(FaultRule::reset_watch(1).id("cut").path(CONFIGMAPS).times(1)).unwrap();

    let mut events = Events { stream: watcher(api.clone(), watcher::Config::default()).default_backoff().boxed(), seen: Vec::new(), errors: 0 };
    events.until("before").await;
    create(&api, "during").await;
    events.until("during").await;
    // The stream is cut right after that event; a change made now reaches the watcher only through a new watch.
    guard("the cut", async {
        while faults.hits(&cut) != Some(1) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    create(&api, "after").await;
    events.until("after").await;

    assert_eq!(faults.hits(&cut), Some(1));
    assert_eq!(faults.hits(&lists), Some(1), "the watcher resumed from its resourceVersion without listing again");
    assert!(faults.hits(&watches).unwrap() >= 2, "a second watch was opened: {:?}", faults.hits(&watches));
    assert_eq!(events.seen.iter().filter(|n| *n == "after").count(), 1);
    eprintln!("watcher errors seen during the cut: {}", events.errors);
}

/// A kube-rs watcher's stream and the names it applied so far.
struct Events {
    stream: futures::stream::BoxStream<'static, Result<watcher::Event<ConfigMap>, watcher::Error>>,
    seen: Vec<String>,
    errors: u32,
}

impl Events {
    async fn until(&mut self, name: &str) {
        while !self.seen.iter().any(|n| n == name) {
            match guard(name, self.stream.next()).await.expect("the watcher stream goes on") {
                Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) => self.seen.push(cm.metadata.name.unwrap_or_default()),
                Ok(_) => {}
                Err(_) => self.errors += 1,
            }
        }
    }
}

/// One HTTP/1.1 request with `Connection: close` to a plain-HTTP server.
async fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> (u16, HashMap<String, String>, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    guard("the answer", stream.read_to_end(&mut raw)).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    (status, headers, body.to_string())
}

/// The headers of a DescribeCluster request signed as the AWS SDK signs it
/// (the host header, signed too, is the one `send` writes).
fn describe_headers(p: &AwsPrincipal, addr: SocketAddr, path: &str) -> Vec<(String, String)> {
    let now = time::OffsetDateTime::now_utc();
    let date = sigv4::amz_date(now);
    let signed = vec![("host".to_string(), addr.to_string()), ("x-amz-date".to_string(), date.clone())];
    let auth = sigv4::authorization_header(&p.credentials, "GET", path, &[], &signed, b"", &Scope::new(now, "eu-west-1", "eks"), &date);
    vec![("x-amz-date".to_string(), date), ("authorization".to_string(), auth)]
}

#[tokio::test]
async fn the_control_plane_fault_endpoint_makes_eks_and_gke_fail_in_their_own_formats() {
    let registry = CloudRegistry::default();
    let deployer = AwsPrincipal::user("111122223333", "deployer");
    registry.aws.add(deployer.clone());
    registry.add_eks(EksCluster::new("aws", "eu-west-1", "111122223333", "https://127.0.0.1:6443", "CA"));
    registry.add_gke(GkeCluster::new("p", "europe-west1", "gcp", "https://127.0.0.1:6444", "CA"));
    let cp = ControlPlane::start(registry).await.unwrap();
    let addr = cp.addr();
    let admin = vec![("authorization".to_string(), format!("Bearer {}", cp.admin_token()))];

    let describe = |p: &AwsPrincipal| {
        let headers = describe_headers(p, addr, "/clusters/aws");
        async move { send(addr, "GET", "/clusters/aws", &headers, b"").await }
    };
    let (code, _, body) = describe(&deployer).await;
    assert_eq!(code, 200, "{body}");

    // Only the admin token switches faults.
    let rule = br#"{"id": "eks-down", "verb": "get", "path": "/clusters", "action": {"type": "status", "code": 500}}"#;
    assert_eq!(send(addr, "POST", "/sim.gantry.dev/v1/faults", &[], rule).await.0, 401);
    let stranger = vec![("authorization".to_string(), "Bearer not-the-admin".to_string())];
    assert_eq!(send(addr, "POST", "/sim.gantry.dev/v1/faults", &stranger, rule).await.0, 403);
    let (code, _, body) = send(addr, "POST", "/sim.gantry.dev/v1/faults", &admin, rule).await;
    assert_eq!(code, 201, "{body}");

    let (code, headers, body) = describe(&deployer).await;
    assert_eq!((code, headers.get("x-amzn-errortype").map(String::as_str)), (500, Some("ServerException")), "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["message"], "injected fault");
    assert_eq!(cp.faults().hits("eks-down"), Some(1));

    let throttle = br#"{"path": "/v1/projects/*/locations/*/clusters", "action": {"type": "status", "code": 429, "retry_after_seconds": 3}}"#;
    assert_eq!(send(addr, "POST", "/sim.gantry.dev/v1/faults", &admin, throttle).await.0, 201);
    let (code, headers, body) = send(addr, "GET", "/v1/projects/p/locations/europe-west1/clusters/gcp", &[], b"").await;
    assert_eq!((code, headers.get("retry-after").map(String::as_str)), (429, Some("3")));
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((body["error"]["code"].as_u64(), body["error"]["status"].as_str()), (Some(429), Some("RESOURCE_EXHAUSTED")));

    let (code, _, listing) = send(addr, "GET", "/sim.gantry.dev/v1/faults", &admin, b"").await;
    let listing: Value = serde_json::from_str(&listing).unwrap();
    assert_eq!((code, listing["injected"].as_u64(), listing["items"][0]["hits"].as_u64()), (200, Some(2), Some(1)));

    assert_eq!(send(addr, "DELETE", "/sim.gantry.dev/v1/faults", &admin, b"").await.0, 200);
    let (code, _, body) = describe(&deployer).await;
    assert_eq!(code, 200, "cleared at run time: {body}");
    assert!(cp.faults().list().is_empty());
}

#[tokio::test]
async fn the_cluster_fault_endpoint_answers_kubectl_raw_for_admins_only_and_is_not_discovered() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "configmap", "settings", "--from-literal=k=v"]).await;
    let rule = c.file("rule.json", r#"{"id": "cm-down", "verb": "get", "path": "/api/v1/namespaces/*/configmaps", "action": {"type": "status", "code": 503, "message": "etcd is sulking"}}"#);
    let created: Value = serde_json::from_str(&c.ok(&["create", "--raw", "/sim.gantry.dev/v1/faults", "-f", &rule]).await).unwrap();
    assert_eq!(created["items"][0]["id"], "cm-down");

    let out = c.kubectl(&["get", "configmap", "settings"]).await;
    assert!(out.stderr.contains("Error from server (ServiceUnavailable): etcd is sulking"), "{}", out.stderr);
    let listing: Value = serde_json::from_str(&c.ok(&["get", "--raw", "/sim.gantry.dev/v1/faults"]).await).unwrap();
    assert_eq!((listing["injected"].as_u64(), listing["items"][0]["hits"].as_u64()), (Some(1), Some(1)));

    // A token limited to some namespaces and verbs may not switch faults; an unknown one is not authenticated.
    let limited = c.write_kubeconfig("limited", LIMITED);
    let out = c.run_as(&limited, &["get", "--raw", "/sim.gantry.dev/v1/faults"]).await;
    assert!(
        out.stderr.contains(r#"Error from server (Forbidden): forbidden: User "ci" cannot get path "/sim.gantry.dev/v1/faults""#),
        "{}",
        out.stderr
    );
    let out = c.run_as(&limited, &["delete", "--raw", "/sim.gantry.dev/v1/faults"]).await;
    assert!(!out.ok && out.stderr.contains("Forbidden"), "{}", out.stderr);
    let stranger = c.write_kubeconfig("stranger", "nobody-knows-me");
    let out = c.run_as(&stranger, &["get", "--raw", "/sim.gantry.dev/v1/faults"]).await;
    assert!(!out.ok && out.stderr.contains("Unauthorized"), "{}", out.stderr);
    assert_eq!(c.server.faults().list().len(), 1, "refused callers changed nothing");

    // Not part of the API: discovery does not mention it.
    assert!(!c.ok(&["get", "--raw", "/apis"]).await.contains("sim.gantry.dev"));
    assert!(!c.ok(&["api-resources"]).await.contains("faults"));

    c.ok(&["delete", "--raw", "/sim.gantry.dev/v1/faults/cm-down"]).await;
    assert!(c.ok(&["get", "configmap", "settings", "-o", "name"]).await.contains("configmap/settings"));
}

/// What a bare HTTP/1.1-over-TLS client reads from `server` for one request
/// with `Connection: close`: the bytes, and how the stream ended (Ok: a
/// clean TLS close; Err: closed without one).
async fn raw_exchange(server: &ApiServer, path: &str) -> (String, std::io::Result<()>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(server.ca_pem().as_bytes()).expect("the CA's PEM")).expect("the CA");
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let name = ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into());
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp).await.expect("TLS with the cluster's CA");
    let request = format!("GET {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {TOKEN}\r\nconnection: close\r\n\r\n", server.addr());
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let end = guard("reading the answer", tls.read_to_end(&mut raw)).await.map(|_| ());
    (String::from_utf8_lossy(&raw).into_owned(), end)
}

#[tokio::test]
async fn on_the_wire_a_cut_watch_never_ends_its_stream_and_a_dropped_request_gets_no_answer() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&server).await, "default");
    let from = guard("list", api.list(&ListParams::default())).await.unwrap().metadata.resource_version.unwrap();
    create(&api, "a").await;
    create(&api, "b").await;
    let watch = format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={from}&timeoutSeconds=1");

    // Untouched, the watch replays both events and ends the chunked stream cleanly when its time is up.
    let (text, end) = raw_exchange(&server, &watch).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains(r#""name":"a""#) && text.contains(r#""name":"b""#), "{text}");
    assert!(text.ends_with("0\r\n\r\n"), "the last chunk: {text:?}");
    assert!(end.is_ok(), "a clean close: {end:?}");

    // Cut after one event: that event arrives, then the connection ends with no last chunk.
    let faults = server.faults();
    let cut = faults.add(FaultRule::reset_watch(1).times(1)).unwrap();
    let (text, end) = raw_exchange(&server, &watch).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains(r#""name":"a""#), "{text}");
    assert!(!text.contains(r#""name":"b""#), "nothing after the cut: {text}");
    assert!(!text.ends_with("0\r\n\r\n"), "no last chunk: {text:?}");
    assert_eq!(end.map_err(|e| e.kind()), Err(std::io::ErrorKind::UnexpectedEof), "closed without TLS close_notify");
    assert_eq!(faults.hits(&cut), Some(1));

    // A dropped request: not a byte of an answer.
    let drop = faults.add(FaultRule::drop_connection().verb("list").times(1)).unwrap();
    let (text, end) = raw_exchange(&server, "/api/v1/namespaces/default/configmaps").await;
    assert_eq!(text, "", "no answer at all");
    assert!(end.is_err(), "closed without TLS close_notify: {end:?}");
    assert_eq!(faults.hits(&drop), Some(1));
}

/// `gantry sim up` users find the control plane's fault token in `sim.env`;
/// the clusters' fault endpoint takes the kubeconfig's admin token.
#[tokio::test]
async fn an_estates_env_file_carries_the_control_planes_fault_token() {
    let dir = tempfile::tempdir().unwrap();
    let estate = gantry_sim::Estate::start_clusters(dir.path(), &[gantry_sim::estate::ClusterSpec::plain("lab")]).await.unwrap();
    let env = std::fs::read_to_string(&estate.env_file).unwrap();
    let token = env
        .lines()
        .find_map(|l| l.strip_prefix("export GANTRY_SIM_FAULTS_TOKEN='"))
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no fault token in the env file"));
    assert_eq!(token, estate.control_plane.admin_token());
    let admin = vec![("authorization".to_string(), format!("Bearer {token}"))];
    let rule = br#"{"path": "/token", "action": {"type": "status", "code": 503}}"#;
    let (code, _, body) = send(estate.control_plane.addr(), "POST", "/sim.gantry.dev/v1/faults", &admin, rule).await;
    assert_eq!(code, 201, "{body}");
    let (code, _, body) = send(estate.control_plane.addr(), "POST", "/token", &[], b"grant_type=x").await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((code, body["error"]["status"].as_str()), (503, Some("UNAVAILABLE")));
    estate.shutdown().await;
}
