//! Pod logs and events as the cluster-read capability of issue 4 reads them,
//! held against real clients: kubectl (`logs` with `-c`, `--tail`,
//! `--previous`, `--timestamps`, `--limit-bytes`, `-f` while a request goes
//! through `get --raw .../proxy/...`) and kube-rs (`Api::<Pod>::logs`,
//! `log_stream`). Logs are the simulated containers' start-up lines, one
//! access line per request the pod proxy served, and the crash of a
//! crash-looping container's previous instance; the 400s are the real
//! server's and kubelet's words. Deadlines here are hang guards only; missing
//! kubectl fails the tests when `CI` is set and skips them otherwise. Every
//! server involved listens on 127.0.0.1.

use crate::common;

use std::time::Duration;

use common::{Cluster, LIMITED};
use futures::{AsyncBufReadExt, TryStreamExt};
use gantry_sim::controllers::behavior;
use k8s_openapi::api::core::v1::Pod;
use kube::api::LogParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use tokio::io::AsyncBufReadExt as _;

const HANG_GUARD: Duration = Duration::from_secs(60);

async fn guard<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, fut).await.unwrap_or_else(|_| panic!("hung: {what}"))
}

/// A pod `name` with `containers` (name, image), annotated.
fn pod(name: &str, containers: &[(&str, &str)], annotations: &[(&str, &str)]) -> String {
    let mut all = vec![(behavior::READY_AFTER, "0s")];
    all.extend_from_slice(annotations);
    let annotations: String = all.iter().map(|(k, v)| format!("    {k}: {}\n", serde_json::Value::from(*v))).collect();
    let containers: String = containers
        .iter()
        .map(|(c, image)| format!("  - name: {c}\n    image: {image}\n    ports:\n    - {{containerPort: 8000}}\n"))
        .collect();
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  annotations:\n{annotations}spec:\n  containers:\n{containers}")
}

async fn create(cluster: &Cluster, name: &str, manifest: &str) {
    let file = cluster.file(&format!("{name}.yaml"), manifest);
    cluster.ok(&["apply", "-f", &file]).await;
}

async fn ready(cluster: &Cluster, name: &str) {
    cluster.ok(&["wait", "--for=condition=Ready", &format!("pod/{name}"), "--timeout=60s"]).await;
}

async fn kube_client(cluster: &Cluster) -> Client {
    let text = std::fs::read_to_string(cluster.dir.path().join("config")).expect("kubeconfig");
    let kubeconfig = Kubeconfig::from_yaml(&text).expect("kube-rs reads the kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.expect("kube-rs config");
    config.proxy_url = None;
    Client::try_from(config).expect("kube-rs client")
}

#[tokio::test]
async fn kubectl_logs_show_start_up_and_each_proxied_request() {
    let Some(cluster) = Cluster::start().await else { return };
    create(&cluster, "web", &pod("web", &[("api", "ghcr.io/acme/api:1")], &[])).await;
    ready(&cluster, "web").await;
    for path in ["health", "orders?page=2"] {
        cluster.ok(&["get", "--raw", &format!("/api/v1/namespaces/default/pods/web:8000/proxy/{path}")]).await;
    }
    let logs = cluster.ok(&["logs", "web"]).await;
    let lines: Vec<&str> = logs.lines().collect();
    assert!(lines.contains(&"INFO:     Started server process [1]"), "{logs}");
    assert!(lines.contains(&"INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)"), "{logs}");
    assert_eq!(lines[lines.len() - 2..], ["INFO:     10.244.0.1:0 - \"GET /health HTTP/1.1\" 200 OK", "INFO:     10.244.0.1:0 - \"GET /orders HTTP/1.1\" 200 OK"], "{logs}");

    assert_eq!(cluster.ok(&["logs", "web", "--tail=1"]).await, "INFO:     10.244.0.1:0 - \"GET /orders HTTP/1.1\" 200 OK\n");
    assert_eq!(cluster.ok(&["logs", "web", "--limit-bytes=9"]).await, "INFO:    ");
    let stamped = cluster.ok(&["logs", "web", "--timestamps", "--tail=1"]).await;
    let (stamp, rest) = stamped.split_once(' ').expect("a timestamp, then the line");
    assert!(stamp.ends_with('Z') && stamp.len() == "2026-01-01T00:00:00.000000000Z".len(), "{stamped}");
    assert_eq!(rest, "INFO:     10.244.0.1:0 - \"GET /orders HTTP/1.1\" 200 OK\n");
    assert_eq!(cluster.ok(&["logs", "web", "--since=1h"]).await, logs);

    let previous = cluster.kubectl(&["logs", "web", "--previous"]).await;
    assert!(!previous.ok);
    assert!(previous.stderr.contains("previous terminated container \"api\" in pod \"web\" not found"), "{}", previous.stderr);
}

#[tokio::test]
async fn several_containers_need_one_named_and_annotations_set_the_lines() {
    let Some(cluster) = Cluster::start().await else { return };
    let manifest = pod("two", &[("a", "ghcr.io/acme/api:1"), ("b", "nginx:1.27")], &[(behavior::LOG_LINES, "booting\nlistening on :8000")]);
    create(&cluster, "two", &manifest).await;
    ready(&cluster, "two").await;
    let raw = cluster.kubectl(&["get", "--raw", "/api/v1/namespaces/default/pods/two/log"]).await;
    assert!(!raw.ok);
    assert!(raw.stderr.contains("a container name must be specified for pod two, choose one of: [a b]"), "{}", raw.stderr);
    assert_eq!(cluster.ok(&["logs", "two", "-c", "b"]).await, "booting\nlistening on :8000\n");
    let wrong = cluster.kubectl(&["get", "--raw", "/api/v1/namespaces/default/pods/two/log?container=c"]).await;
    assert!(wrong.stderr.contains("container c is not valid for pod two"), "{}", wrong.stderr);
}

#[tokio::test]
async fn a_crash_looping_container_shows_its_previous_crash_and_a_waiting_one_refuses() {
    let Some(cluster) = Cluster::start().await else { return };
    create(&cluster, "crash", &pod("crash", &[("api", "ghcr.io/acme/api:1")], &[(behavior::BEHAVIOR, "crashloop")])).await;
    create(&cluster, "pull", &pod("pull", &[("api", "ghcr.io/acme/api:1")], &[(behavior::BEHAVIOR, "image-pull-backoff")])).await;
    cluster.ok(&["wait", "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=CrashLoopBackOff", "pod/crash", "--timeout=60s"]).await;
    let previous = cluster.ok(&["logs", "crash", "--previous"]).await;
    assert!(previous.starts_with("INFO:     Started server process [1]\n"), "{previous}");
    assert!(previous.ends_with("ERROR:    Application startup failed. Exiting.\n"), "{previous}");
    // In CrashLoopBackOff the last instance is the one that crashed.
    assert_eq!(cluster.ok(&["logs", "crash"]).await, previous);

    cluster.ok(&["wait", "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ImagePullBackOff", "pod/pull", "--timeout=60s"]).await;
    let pulling = cluster.kubectl(&["logs", "pull"]).await;
    assert!(!pulling.ok);
    assert!(pulling.stderr.contains("container \"api\" in pod \"pull\" is waiting to start: trying and failing to pull image"), "{}", pulling.stderr);
}

#[tokio::test]
async fn kubectl_logs_follow_shows_a_request_made_meanwhile() {
    let Some(cluster) = Cluster::start().await else { return };
    create(&cluster, "web", &pod("web", &[("api", "ghcr.io/acme/api:1")], &[])).await;
    ready(&cluster, "web").await;
    let mut follow = cluster.command(&cluster.dir.path().join("config"), &["logs", "-f", "web"]).spawn().expect("kubectl logs -f starts");
    let mut lines = tokio::io::BufReader::new(follow.stdout.take().expect("stdout")).lines();
    guard("the start-up lines", async {
        while let Some(line) = lines.next_line().await.expect("reads") {
            if line.contains("Uvicorn running on") {
                break;
            }
        }
    })
    .await;
    cluster.ok(&["get", "--raw", "/api/v1/namespaces/default/pods/web:8000/proxy/meanwhile"]).await;
    let seen = guard("the request's line", async { lines.next_line().await.expect("reads") }).await;
    assert_eq!(seen.as_deref(), Some("INFO:     10.244.0.1:0 - \"GET /meanwhile HTTP/1.1\" 200 OK"));
    // Deleting the pod ends the stream, as the container's end does.
    cluster.ok(&["delete", "pod", "web", "--wait=false"]).await;
    let status = guard("kubectl logs -f ends with the pod", follow.wait()).await.expect("kubectl exits");
    assert!(status.success());
}

#[tokio::test]
async fn kube_rs_reads_and_streams_logs() {
    let Some(cluster) = Cluster::start().await else { return };
    create(&cluster, "web", &pod("web", &[("api", "ghcr.io/acme/api:1")], &[])).await;
    ready(&cluster, "web").await;
    let pods: Api<Pod> = Api::namespaced(kube_client(&cluster).await, "default");
    let text = pods.logs("web", &LogParams { container: Some("api".into()), tail_lines: Some(1), ..Default::default() }).await.expect("logs");
    assert_eq!(text, "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)\n");
    let err = pods.logs("web", &LogParams { previous: true, ..Default::default() }).await.unwrap_err();
    match err {
        kube::Error::Api(status) => assert_eq!((status.code, status.message.as_str()), (400, "previous terminated container \"api\" in pod \"web\" not found")),
        other => panic!("expected a 400, got {other:?}"),
    }

    let stream = pods.log_stream("web", &LogParams { follow: true, tail_lines: Some(0), ..Default::default() }).await.expect("log stream");
    let mut lines = stream.lines();
    cluster.ok(&["get", "--raw", "/api/v1/namespaces/default/pods/web:8000/proxy/streamed"]).await;
    let line = guard("the streamed line", lines.try_next()).await.expect("reads");
    assert_eq!(line.as_deref(), Some("INFO:     10.244.0.1:0 - \"GET /streamed HTTP/1.1\" 200 OK"));
}

#[tokio::test]
async fn reading_logs_is_get_on_pods_log() {
    let Some(cluster) = Cluster::start().await else { return };
    cluster.ok(&["create", "namespace", "other"]).await;
    create(&cluster, "web", &pod("web", &[("api", "ghcr.io/acme/api:1")], &[])).await;
    let other = pod("web", &[("api", "ghcr.io/acme/api:1")], &[]).replace("metadata:\n", "metadata:\n  namespace: other\n");
    create(&cluster, "web-other", &other).await;
    ready(&cluster, "web").await;
    let limited = cluster.write_kubeconfig("limited", LIMITED);
    let out = cluster.run_as(&limited, &["logs", "web"]).await;
    assert!(out.ok, "{}", out.stderr);
    let denied = cluster.run_as(&limited, &["get", "--raw", "/api/v1/namespaces/other/pods/web/log"]).await;
    assert!(!denied.ok);
    assert!(
        denied.stderr.contains("pods \"web\" is forbidden: User \"ci\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"other\""),
        "{}",
        denied.stderr
    );
}

// ---- events.k8s.io/v1 ----

const CORE_EVENT: &str = "apiVersion: v1
kind: Event
metadata:
  name: web.pulled
involvedObject: {apiVersion: v1, kind: Pod, name: web, namespace: default}
reason: Pulled
message: Container image pulled
type: Normal
source: {component: kubelet, host: sim-node}
firstTimestamp: '2026-01-01T00:00:00Z'
lastTimestamp: '2026-01-01T00:01:00Z'
count: 3
";

#[tokio::test]
async fn core_events_are_served_as_events_k8s_io_v1_too() {
    let Some(cluster) = Cluster::start().await else { return };
    let resources = cluster.ok(&["api-resources", "--api-group=events.k8s.io", "-o", "wide"]).await;
    assert!(resources.lines().any(|l| l.starts_with("events ") && l.contains("events.k8s.io/v1") && l.contains("watch")), "{resources}");

    let file = cluster.file("event.yaml", CORE_EVENT);
    cluster.ok(&["create", "-f", &file]).await;
    let v1 = cluster.json(&["get", "events.v1.events.k8s.io", "web.pulled"]).await;
    assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
    assert_eq!((v1["regarding"]["name"].as_str(), v1["note"].as_str()), (Some("web"), Some("Container image pulled")));
    assert_eq!((v1["deprecatedCount"].as_i64(), v1["deprecatedLastTimestamp"].as_str()), (Some(3), Some("2026-01-01T00:01:00Z")));
    assert_eq!(v1["deprecatedSource"]["component"], "kubelet");
    assert!(v1.get("message").is_none() && v1.get("involvedObject").is_none(), "{v1}");
    let table = cluster.ok(&["get", "events.v1.events.k8s.io"]).await;
    assert!(table.lines().any(|l| l.contains("Pulled") && l.contains("pod/web") && l.contains("Container image pulled")), "{table}");

    // A watch through events.k8s.io sees a core event written meanwhile, in its own version.
    use k8s_openapi::api::events::v1::Event as EventV1;
    use kube::api::WatchParams;
    use kube::core::WatchEvent;
    let events: Api<EventV1> = Api::default_namespaced(kube_client(&cluster).await);
    let listed = events.list(&Default::default()).await.expect("list");
    let rv = listed.metadata.resource_version.clone().expect("a resourceVersion");
    let mut watch = Box::pin(events.watch(&WatchParams::default(), &rv).await.expect("watch"));
    cluster.file("second.yaml", &CORE_EVENT.replace("web.pulled", "web.started").replace("Pulled", "Started"));
    cluster.ok(&["create", "-f", &cluster.dir.path().join("second.yaml").to_string_lossy()]).await;
    let seen = guard("the watched event", watch.try_next()).await.expect("watch reads").expect("an event");
    match seen {
        WatchEvent::Added(ev) => {
            assert_eq!(ev.metadata.name.as_deref(), Some("web.started"));
            assert_eq!((ev.reason.as_deref(), ev.note.as_deref()), (Some("Started"), Some("Container image pulled")));
            assert_eq!(ev.regarding.and_then(|r| r.name).as_deref(), Some("web"));
        }
        other => panic!("expected ADDED, got {other:?}"),
    }
}

#[tokio::test]
async fn a_kube_rs_recorder_event_shows_in_kubectl_get_events() {
    use k8s_openapi::api::core::v1::ObjectReference;
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let Some(cluster) = Cluster::start().await else { return };
    let reporter = Reporter { controller: "gantry".into(), instance: Some("gantry-0".into()) };
    let recorder = Recorder::new(kube_client(&cluster).await, reporter);
    let reference = ObjectReference { api_version: Some("apps/v1".into()), kind: Some("Deployment".into()), name: Some("web".into()), namespace: Some("default".into()), ..Default::default() };
    let event = Event { type_: EventType::Normal, reason: "CanaryPromoted".into(), note: Some("canary web promoted to 100%".into()), action: "Promote".into(), secondary: None };
    recorder.publish(&event, &reference).await.expect("the recorder publishes");

    let table = cluster.ok(&["get", "events"]).await;
    assert!(table.lines().any(|l| l.contains("Normal") && l.contains("CanaryPromoted") && l.contains("deployment/web") && l.contains("canary web promoted to 100%")), "{table}");
    let core = cluster.json(&["get", "events"]).await;
    let item = &core["items"][0];
    assert_eq!((item["apiVersion"].as_str(), item["message"].as_str()), (Some("v1"), Some("canary web promoted to 100%")));
    assert_eq!((item["reportingComponent"].as_str(), item["reportingInstance"].as_str()), (Some("gantry"), Some("gantry-0")));
    assert_eq!(item["involvedObject"]["kind"], "Deployment");

    // Published again, the recorder patches the event's series; the core view counts it.
    recorder.publish(&event, &reference).await.expect("the recorder publishes again");
    let again = cluster.json(&["get", "events"]).await;
    assert_eq!(again["items"].as_array().map(Vec::len), Some(1), "{again}");
    assert_eq!(again["items"][0]["series"]["count"], 2, "{again}");
}

#[tokio::test]
async fn events_k8s_io_validates_creates_and_names_itself_in_404s() {
    let Some(cluster) = Cluster::start().await else { return };
    let file = cluster.file("bare.yaml", "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: bare}\nregarding: {kind: Pod, name: web}\nnote: hi\ntype: Normal\n");
    let refused = cluster.kubectl(&["create", "-f", &file]).await;
    assert!(!refused.ok);
    for field in ["eventTime", "reportingController", "reportingInstance", "action", "reason"] {
        assert!(refused.stderr.contains(&format!("{field}: Required value")), "{field}: {}", refused.stderr);
    }
    assert!(refused.stderr.contains("The Event \"bare\" is invalid"), "{}", refused.stderr);
    let missing = cluster.kubectl(&["get", "events.v1.events.k8s.io", "nothing"]).await;
    assert!(missing.stderr.contains("events.events.k8s.io \"nothing\" not found"), "{}", missing.stderr);
    let core_missing = cluster.kubectl(&["get", "events", "nothing"]).await;
    assert!(core_missing.stderr.contains("events \"nothing\" not found"), "{}", core_missing.stderr);
}
