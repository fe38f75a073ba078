//! The simulated API server held against the real kubectl: each test starts
//! a cluster in-process on 127.0.0.1, writes its kubeconfig to a temporary
//! directory and drives the `kubectl` binary, checking what kubectl prints and
//! what the server then holds. These tests fail (never skip) when `CI` is set
//! and kubectl is missing. They must not reach any address but 127.0.0.1.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Cluster, LIMITED};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: web}
data:
  mode: canary
";

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_namespaces_lists_the_default_ones() {
    let Some(c) = Cluster::start().await else { return };
    let out = c.ok(&["get", "ns"]).await;
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["NAME", "STATUS", "AGE"], "server-side printing gives the real columns:\n{out}");
    let names: Vec<&str> = rows[1..].iter().map(|r| r[0]).collect();
    assert_eq!(names, ["default", "kube-public", "kube-system"]);
    assert!(rows[1..].iter().all(|r| r[1] == "Active"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_output_prints_the_real_columns_in_lists_and_watches() {
    let Some(c) = Cluster::start_with(|config| config.controllers = false).await else { return };
    c.ok(&["create", "-f", &c.file("cm.yaml", CONFIGMAP)]).await;
    c.ok(&["create", "-f", &c.file("deploy.yaml", DEPLOYMENT)]).await;
    let cms = c.ok(&["get", "cm"]).await;
    let header: Vec<&str> = cms.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["NAME", "DATA", "AGE"], "{cms}");
    assert!(cms.lines().nth(1).is_some_and(|l| l.split_whitespace().take(2).eq(["settings", "1"])), "{cms}");
    let deploys = c.ok(&["get", "deploy", "-A", "--show-labels"]).await;
    let header: Vec<&str> = deploys.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "LABELS"], "{deploys}");
    assert!(deploys.contains("default") && deploys.contains("0/2") && deploys.contains("app=web"), "{deploys}");

    let config = c.dir.path().join("config");
    let mut watch = c.command(&config, &["get", "cm", "-w"]).spawn().expect("kubectl starts");
    let mut lines = lines_of(&mut watch);
    let first = next_line(&mut lines).await.expect("read").unwrap_or_default();
    assert!(first.starts_with("NAME"), "{first}");
    let second = next_line(&mut lines).await.expect("read").unwrap_or_default();
    assert!(second.starts_with("settings"), "{second}");
    c.ok(&["create", "-f", &c.file("b.yaml", &CONFIGMAP.replace("settings", "later"))]).await;
    let third = next_line(&mut lines).await.expect("read").unwrap_or_default();
    assert!(third.split_whitespace().take(2).eq(["later", "1"]), "{third}");
    watch.kill().await.expect("kubectl stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_from_yaml_then_get_as_yaml_json_and_by_label() {
    let Some(c) = Cluster::start().await else { return };
    let cm = c.file("cm.yaml", CONFIGMAP);
    let deploy = c.file("deploy.yaml", DEPLOYMENT);
    assert!(c.ok(&["create", "-f", &cm]).await.contains("configmap/settings created"));
    assert!(c.ok(&["create", "-f", &deploy]).await.contains("deployment.apps/web created"));

    let yaml = c.ok(&["get", "configmap", "settings", "-o", "yaml"]).await;
    let doc: Value = serde_yaml::from_str(&yaml).expect("kubectl prints YAML");
    assert_eq!(doc["data"]["mode"], "canary");
    assert_eq!(doc["metadata"]["namespace"], "default");
    assert!(doc["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(doc["metadata"]["creationTimestamp"].is_string());

    let d = c.json(&["get", "deploy", "web"]).await;
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(d["spec"]["replicas"], 2);

    let again = c.kubectl(&["create", "-f", &cm]).await;
    assert!(!again.ok && again.stderr.contains("AlreadyExists"), "{}", again.stderr);

    let by_label = c.ok(&["get", "configmaps,deployments", "-l", "app=web", "-o", "name"]).await;
    assert_eq!(by_label.lines().collect::<Vec<_>>(), ["configmap/settings", "deployment.apps/web"]);
    let none = c.kubectl(&["get", "cm", "-l", "app in (api,worker)"]).await;
    assert!(none.ok && none.stderr.contains("No resources found in default namespace."), "{}", none.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_in_a_missing_namespace_is_not_found() {
    let Some(c) = Cluster::start().await else { return };
    let cm = c.file("cm.yaml", CONFIGMAP);
    let out = c.kubectl(&["create", "-f", &cm, "-n", "nowhere"]).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("Error from server (NotFound)") && out.stderr.contains("namespaces \"nowhere\" not found"), "{}", out.stderr);
    c.ok(&["create", "-f", &c.file("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: nowhere}\n")]).await;
    c.ok(&["create", "-f", &cm, "-n", "nowhere"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_updates_and_a_stale_resource_version_conflicts() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("cm.yaml", CONFIGMAP)]).await;
    let mut current = c.json(&["get", "cm", "settings"]).await;
    current["data"]["mode"] = "stable".into();
    let fresh = c.file("fresh.json", &current.to_string());
    assert!(c.ok(&["replace", "-f", &fresh]).await.contains("configmap/settings replaced"));
    assert_eq!(c.json(&["get", "cm", "settings"]).await["data"]["mode"], "stable");

    // The same file again carries the resourceVersion the first replace made stale.
    let stale = c.kubectl(&["replace", "-f", &fresh]).await;
    assert!(!stale.ok);
    assert!(stale.stderr.contains("Error from server (Conflict)"), "{}", stale.stderr);
    assert!(stale.stderr.contains("the object has been modified; please apply your changes to the latest version and try again"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_json_and_strategic_patches_apply() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("cm.yaml", CONFIGMAP)]).await;
    c.ok(&["create", "-f", &c.file("deploy.yaml", DEPLOYMENT)]).await;
    c.ok(&["patch", "cm", "settings", "--type", "merge", "-p", r#"{"data":{"mode":"stable","extra":"1"}}"#]).await;
    c.ok(&["patch", "cm", "settings", "--type", "json", "-p", r#"[{"op":"remove","path":"/data/extra"},{"op":"add","path":"/data/owner","value":"ci"}]"#]).await;
    let cm = c.json(&["get", "cm", "settings"]).await;
    assert_eq!(cm["data"], serde_json::json!({"mode": "stable", "owner": "ci"}));

    c.ok(&["patch", "deploy", "web", "--type", "merge", "-p", r#"{"spec":{"replicas":5}}"#]).await;
    c.ok(&["patch", "deploy", "web", "--type", "merge", "-p", r#"{"metadata":{"labels":{"tier":"front"}}}"#]).await;
    let d = c.json(&["get", "deploy", "web"]).await;
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(d["metadata"]["generation"], 2, "a label change does not bump generation");

    let bad = c.kubectl(&["patch", "deploy", "web", "--type", "json", "-p", r#"[{"op":"test","path":"/spec/replicas","value":1}]"#]).await;
    assert!(!bad.ok && bad.stderr.contains("The request is invalid: "), "{}", bad.stderr);

    c.ok(&["patch", "cm", "settings", "-p", r#"{"data":{"mode":"x"}}"#]).await;
    assert_eq!(c.json(&["get", "cm", "settings"]).await["data"], serde_json::json!({"mode": "x", "owner": "ci"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_writes_the_scale_subresource() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("deploy.yaml", DEPLOYMENT)]).await;
    assert!(c.ok(&["scale", "deploy", "web", "--replicas", "4"]).await.contains("deployment.apps/web scaled"));
    assert_eq!(c.json(&["get", "deploy", "web"]).await["spec"]["replicas"], 4);
    let scale = c.ok(&["get", "--raw", "/apis/apps/v1/namespaces/default/deployments/web/scale"]).await;
    let scale: Value = serde_json::from_str(&scale).expect("Scale JSON");
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["status"]["selector"], "app=web");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_and_then_get_is_not_found() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("cm.yaml", CONFIGMAP)]).await;
    c.ok(&["create", "-f", &c.file("deploy.yaml", DEPLOYMENT)]).await;
    assert!(c.ok(&["delete", "cm", "settings"]).await.contains("configmap \"settings\" deleted"));
    assert!(c.ok(&["delete", "deploy", "web"]).await.contains("deployment.apps \"web\" deleted"));
    let gone = c.kubectl(&["get", "cm", "settings"]).await;
    assert!(!gone.ok);
    assert!(gone.stderr.contains("Error from server (NotFound): configmaps \"settings\" not found"), "{}", gone.stderr);
    let again = c.kubectl(&["delete", "deploy", "web"]).await;
    assert!(again.stderr.contains("deployments.apps \"web\" not found"), "{}", again.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_list_follows_continue_tokens() {
    let Some(c) = Cluster::start().await else { return };
    for name in ["a", "b", "c"] {
        c.ok(&["create", "-f", &c.file(&format!("{name}.yaml"), &CONFIGMAP.replace("settings", name))]).await;
    }
    let names = c.ok(&["get", "cm", "--chunk-size", "1", "-o", "name"]).await;
    assert_eq!(names.lines().collect::<Vec<_>>(), ["configmap/a", "configmap/b", "configmap/c"]);
    let page: Value = serde_json::from_str(&c.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps?limit=2"]).await).expect("list JSON");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["metadata"]["remainingItemCount"], 1);
    assert!(page["metadata"]["resourceVersion"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_sees_a_change_made_after_it_started() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("cm.yaml", CONFIGMAP)]).await;
    let config = c.dir.path().join("config");
    let mut watch = c
        .command(&config, &["get", "cm", "settings", "-w", "-o", "jsonpath={.metadata.name}={.data.mode}{\"\\n\"}"])
        .spawn()
        .expect("kubectl get -w starts");
    let stdout = watch.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    assert_eq!(next_line(&mut lines).await.expect("read").as_deref(), Some("settings=canary"));
    c.ok(&["patch", "cm", "settings", "--type", "merge", "-p", r#"{"data":{"mode":"stable"}}"#]).await;
    assert_eq!(next_line(&mut lines).await.expect("read").as_deref(), Some("settings=stable"));
    watch.kill().await.expect("kubectl get -w stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_resources_lists_every_kind_with_short_names() {
    let Some(c) = Cluster::start().await else { return };
    let out = c.ok(&["api-resources"]).await;
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    let has = |row: &[&str]| rows.iter().any(|r| r.as_slice() == row);
    assert!(has(&["deployments", "deploy", "apps/v1", "true", "Deployment"]), "{out}");
    assert!(has(&["namespaces", "ns", "v1", "false", "Namespace"]), "{out}");
    assert!(has(&["horizontalpodautoscalers", "hpa", "autoscaling/v2", "true", "HorizontalPodAutoscaler"]), "{out}");
    assert!(has(&["httproutes", "gateway.networking.k8s.io/v1", "true", "HTTPRoute"]), "{out}");
    assert!(has(&["customresourcedefinitions", "crd,crds", "apiextensions.k8s.io/v1", "false", "CustomResourceDefinition"]), "{out}");
    assert!(has(&["events", "ev", "events.k8s.io/v1", "true", "Event"]), "{out}");
    assert!(has(&["persistentvolumeclaims", "pvc", "v1", "true", "PersistentVolumeClaim"]), "{out}");
    assert!(has(&["persistentvolumes", "pv", "v1", "false", "PersistentVolume"]), "{out}");
    assert_eq!(rows.len(), 1 + 22, "a header and one row per kind:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_version_answers_like_a_real_server() {
    let Some(c) = Cluster::start().await else { return };
    let version: Value = serde_json::from_str(&c.ok(&["get", "--raw", "/version"]).await).expect("version JSON");
    assert_eq!(version["major"], "1");
    assert!(version["gitVersion"].as_str().is_some_and(|v| v.starts_with("v1.")));
    let out = c.ok(&["version", "-o", "json"]).await;
    let both: Value = serde_json::from_str(&out).expect("kubectl version JSON");
    assert_eq!(both["serverVersion"]["minor"], "32");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_unauthorized_and_a_limited_one_is_forbidden() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("cm.yaml", CONFIGMAP)]).await;
    let bad = c.write_kubeconfig("bad", "not-a-token");
    let out = c.run_as(&bad, &["get", "cm"]).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("error: You must be logged in to the server (Unauthorized)"), "{}", out.stderr);

    let limited = c.write_kubeconfig("limited", LIMITED);
    let allowed = c.run_as(&limited, &["get", "cm", "settings", "-o", "name"]).await;
    assert!(allowed.ok && allowed.stdout.contains("configmap/settings"), "{}", allowed.stderr);
    let other_ns = c.run_as(&limited, &["get", "pods", "-n", "kube-system"]).await;
    assert!(!other_ns.ok);
    assert!(
        other_ns.stderr.contains(
            r#"Error from server (Forbidden): pods is forbidden: User "ci" cannot list resource "pods" in API group "" in the namespace "kube-system""#
        ),
        "{}",
        other_ns.stderr
    );
    let verified = c.write_kubeconfig("verified", "verified-robot");
    assert!(c.run_as(&verified, &["get", "cm", "settings"]).await.ok, "a token verifier's identity is accepted");
    let robot = c.run_as(&verified, &["get", "cm", "-n", "kube-system"]).await;
    assert!(robot.stderr.contains(r#"User "robot" cannot list resource "configmaps""#), "{}", robot.stderr);
    let cluster_scope = c.run_as(&limited, &["get", "ns"]).await;
    assert!(cluster_scope.stderr.contains(r#"namespaces is forbidden: User "ci" cannot list resource "namespaces" in API group "" at the cluster scope"#), "{}", cluster_scope.stderr);
    let delete = c.run_as(&limited, &["delete", "cm", "settings"]).await;
    assert!(delete.stderr.contains(r#"configmaps "settings" is forbidden: User "ci" cannot delete resource "configmaps" in API group "" in the namespace "default""#), "{}", delete.stderr);
}

/// The next line kubectl prints, None at its end; a hang guard, not a timing assertion.
async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> std::io::Result<Option<String>> {
    tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line()).await.expect("kubectl printed nothing for a minute")
}

fn lines_of(child: &mut tokio::process::Child) -> tokio::io::Lines<BufReader<tokio::process::ChildStdout>> {
    BufReader::new(child.stdout.take().expect("piped stdout")).lines()
}

fn events(out: &str) -> Vec<Value> {
    out.lines().map(|l| serde_json::from_str(l).expect("one JSON watch event per line")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_replays_from_a_resource_version_and_ends_after_timeout_seconds() {
    let Some(c) = Cluster::start().await else { return };
    let list: Value = serde_json::from_str(&c.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps"]).await).expect("list");
    let rv = list["metadata"]["resourceVersion"].as_str().expect("list resourceVersion").to_string();
    c.ok(&["create", "-f", &c.file("cm.yaml", CONFIGMAP)]).await;
    c.ok(&["patch", "cm", "settings", "--type", "merge", "-p", r#"{"data":{"mode":"stable"}}"#]).await;
    c.ok(&["delete", "cm", "settings"]).await;
    let path = format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1");
    let seen = events(&c.ok(&["get", "--raw", &path]).await);
    let kinds: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap_or("")).collect();
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
    assert_eq!(seen[1]["object"]["data"]["mode"], "stable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_a_compacted_version_gets_a_410_expired_error_event() {
    let Some(c) = Cluster::start_with(|config| config.history = 2).await else { return };
    for name in ["a", "b", "c"] {
        c.ok(&["create", "-f", &c.file(&format!("{name}.yaml"), &CONFIGMAP.replace("settings", name))]).await;
    }
    let seen = events(&c.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1"]).await);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["type"], "ERROR");
    assert_eq!(seen[0]["object"]["kind"], "Status");
    assert_eq!(seen[0]["object"]["code"], 410);
    assert_eq!(seen[0]["object"]["reason"], "Expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_that_allows_bookmarks_gets_them() {
    let Some(c) = Cluster::start_with(|config| config.bookmark_interval = Duration::from_millis(20)).await else { return };
    let config = c.dir.path().join("config");
    let path = "/apis/apps/v1/namespaces/default/deployments?watch=true&allowWatchBookmarks=true&resourceVersion=1";
    let mut watch = c.command(&config, &["get", "--raw", path]).spawn().expect("kubectl starts");
    let mut lines = lines_of(&mut watch);
    let line = next_line(&mut lines).await.expect("read").expect("a line");
    let event: Value = serde_json::from_str(&line).expect("JSON event");
    assert_eq!(event["type"], "BOOKMARK");
    assert_eq!(event["object"]["kind"], "Deployment");
    assert!(event["object"]["metadata"]["resourceVersion"].is_string());
    watch.kill().await.expect("kubectl stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_watches_and_stops_listening() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("cm.yaml", CONFIGMAP)]).await;
    let config = c.dir.path().join("config");
    let mut watch = c.command(&config, &["get", "cm", "-w", "-o", "name"]).spawn().expect("kubectl starts");
    let mut lines = lines_of(&mut watch);
    assert_eq!(next_line(&mut lines).await.expect("read").as_deref(), Some("configmap/settings"));
    let Cluster { server, dir: _dir, .. } = c;
    let addr = server.addr();
    server.shutdown().await;
    while next_line(&mut lines).await.expect("read").is_some() {}
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "nothing listens after shutdown");
    watch.kill().await.ok();
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
";

const WIDGET: &str = "apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, labels: {app: web}}
spec: {size: 3}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_becomes_established_and_its_kind_is_served_until_deleted() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("crd.yaml", CRD)]).await;
    c.ok(&["wait", "--for", "condition=Established", "crd/widgets.example.com"]).await;
    assert!(c.ok(&["create", "-f", &c.file("w.yaml", WIDGET)]).await.contains("widget.example.com/w1 created"));
    let w = c.json(&["get", "wd", "w1"]).await;
    assert_eq!(w["spec"]["size"], 3);
    assert_eq!(w["metadata"]["generation"], 1);
    assert!(w.get("status").is_none(), "a custom resource starts without status");
    let resources = c.ok(&["api-resources", "--api-group", "example.com"]).await;
    assert!(resources.contains("widgets") && resources.contains("Widget"), "{resources}");

    c.ok(&["delete", "crd", "widgets.example.com"]).await;
    let gone = c.kubectl(&["get", "widgets.example.com"]).await;
    assert!(!gone.ok, "{}", gone.stdout);
    assert!(gone.stderr.contains("the server doesn't have a resource type"), "{}", gone.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_dry_runs_answer_but_change_nothing() {
    let Some(c) = Cluster::start().await else { return };
    let cm = c.file("cm.yaml", CONFIGMAP);
    assert!(c.ok(&["create", "-f", &cm, "--dry-run=server"]).await.contains("configmap/settings created (server dry run)"));
    assert!(!c.kubectl(&["get", "cm", "settings"]).await.ok, "a dry-run create stores nothing");
    c.ok(&["create", "-f", &cm]).await;
    c.ok(&["patch", "cm", "settings", "--type", "merge", "-p", r#"{"data":{"mode":"x"}}"#, "--dry-run=server"]).await;
    c.ok(&["delete", "cm", "settings", "--dry-run=server"]).await;
    assert_eq!(c.json(&["get", "cm", "settings"]).await["data"]["mode"], "canary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_by_label_removes_only_the_matching_objects() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("cm.yaml", CONFIGMAP)]).await;
    c.ok(&["create", "-f", &c.file("other.yaml", &CONFIGMAP.replace("settings", "other").replace("app: web", "app: api"))]).await;
    c.ok(&["delete", "cm", "-l", "app=web"]).await;
    assert_eq!(c.ok(&["get", "cm", "-o", "name"]).await.trim(), "configmap/other");
    let raw = c.kubectl(&["delete", "--raw", "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dapi"]).await;
    assert!(raw.ok, "{}", raw.stderr);
    assert!(c.kubectl(&["get", "cm", "other"]).await.stderr.contains("NotFound"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selective_watch_sees_objects_enter_and_leave_its_selection() {
    let Some(c) = Cluster::start().await else { return };
    let list: Value = serde_json::from_str(&c.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps"]).await).expect("list");
    let rv = list["metadata"]["resourceVersion"].as_str().expect("list resourceVersion").to_string();
    c.ok(&["create", "-f", &c.file("cm.yaml", &CONFIGMAP.replace("app: web", "app: api"))]).await;
    c.ok(&["patch", "cm", "settings", "--type", "merge", "-p", r#"{"metadata":{"labels":{"app":"web"}}}"#]).await;
    c.ok(&["patch", "cm", "settings", "--type", "merge", "-p", r#"{"data":{"mode":"stable"}}"#]).await;
    c.ok(&["patch", "cm", "settings", "--type", "merge", "-p", r#"{"metadata":{"labels":{"app":"api"}}}"#]).await;
    let path = format!("/api/v1/namespaces/default/configmaps?watch=true&labelSelector=app%3Dweb&resourceVersion={rv}&timeoutSeconds=1");
    let seen = events(&c.ok(&["get", "--raw", &path]).await);
    let kinds: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap_or("")).collect();
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_subresource_writes_only_status() {
    let Some(c) = Cluster::start_with(|config| config.controllers = false).await else { return };
    c.ok(&["create", "-f", &c.file("deploy.yaml", DEPLOYMENT)]).await;
    let status_patch = r#"{"spec":{"replicas":9},"status":{"replicas":2,"readyReplicas":2}}"#;
    c.ok(&["patch", "deploy", "web", "--subresource", "status", "--type", "merge", "-p", status_patch]).await;
    let d = c.json(&["get", "deploy", "web"]).await;
    assert_eq!(d["status"]["readyReplicas"], 2);
    assert_eq!(d["spec"]["replicas"], 2, "the status subresource ignores spec");
    assert_eq!(d["metadata"]["generation"], 1);
    c.ok(&["patch", "deploy", "web", "--type", "merge", "-p", r#"{"status":{"readyReplicas":0}}"#]).await;
    assert_eq!(c.json(&["get", "deploy", "web"]).await["status"]["readyReplicas"], 2, "the main resource ignores status");
    let shown = c.ok(&["get", "deploy", "web", "--subresource", "status", "-o", "jsonpath={.status.replicas}"]).await;
    assert_eq!(shown, "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_takes_its_objects_and_apply_creates_new_ones() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n")]).await;
    let applied = c.ok(&["apply", "-n", "team", "-f", &c.file("cm.yaml", CONFIGMAP)]).await;
    assert!(applied.contains("configmap/settings created"), "{applied}");
    let cm = c.json(&["get", "cm", "settings", "-n", "team"]).await;
    assert!(cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_string());
    assert!(c.ok(&["delete", "ns", "team"]).await.contains("namespace \"team\" deleted"));
    let gone = c.kubectl(&["get", "cm", "settings", "-n", "team"]).await;
    assert!(gone.stderr.contains("NotFound"), "{}", gone.stderr);
}

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - port: 80
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_fill_the_real_defaults_and_services_keep_their_allocations() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("deploy.yaml", DEPLOYMENT)]).await;
    let d = c.json(&["get", "deploy", "web"]).await;
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");

    let svc_file = c.file("svc.yaml", SERVICE);
    c.ok(&["create", "-f", &svc_file]).await;
    let svc = c.json(&["get", "svc", "web"]).await;
    let ip = svc["spec"]["clusterIP"].as_str().expect("a ClusterIP").to_string();
    assert!(ip.starts_with("10.96."), "{ip}");
    let node_port = svc["spec"]["ports"][0]["nodePort"].clone();
    assert!(node_port.is_u64());
    let table = c.ok(&["get", "svc", "web"]).await;
    let row: Vec<&str> = table.lines().nth(1).unwrap_or("").split_whitespace().collect();
    let ports = format!("80:{node_port}/TCP");
    assert_eq!(&row[..5], ["web", "NodePort", ip.as_str(), "<none>", ports.as_str()], "{table}");

    c.ok(&["replace", "-f", &svc_file]).await;
    let replaced = c.json(&["get", "svc", "web"]).await;
    assert_eq!(replaced["spec"]["clusterIP"], ip.as_str(), "a replace without clusterIP keeps the allocated one");
    assert_eq!(replaced["spec"]["ports"][0]["nodePort"], node_port);
}

/// The other kubectl minor versions this machine image carries (1.27-1.33), if any.
fn other_kubectl_versions() -> Vec<PathBuf> {
    let dir = Path::new("/usr/lib/google-cloud-sdk/bin");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    found.retain(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("kubectl.1.")));
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kubectl_minor_on_the_machine_works_against_it() {
    let Some(mut c) = Cluster::start().await else { return };
    let cm = c.file("cm.yaml", CONFIGMAP);
    for kubectl in other_kubectl_versions() {
        c.kubectl = kubectl.clone();
        let version = kubectl.display().to_string();
        assert!(c.ok(&["create", "-f", &cm]).await.contains("configmap/settings created"), "{version}");
        c.ok(&["patch", "cm", "settings", "--type", "merge", "-p", r#"{"data":{"mode":"stable"}}"#]).await;
        assert_eq!(c.json(&["get", "cm", "settings"]).await["data"]["mode"], "stable", "{version}");
        assert!(c.ok(&["get", "cm"]).await.starts_with("NAME"), "{version}");
        assert!(c.ok(&["api-resources"]).await.contains("deployments"), "{version}");
        c.ok(&["delete", "-f", &cm]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_and_annotate_patch_metadata() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("cm.yaml", CONFIGMAP)]).await;
    c.ok(&["label", "cm", "settings", "track=canary"]).await;
    c.ok(&["annotate", "cm", "settings", "gantry.dev/run=r1"]).await;
    let cm = c.json(&["get", "cm", "settings"]).await;
    assert_eq!(cm["metadata"]["labels"]["track"], "canary");
    assert_eq!(cm["metadata"]["annotations"]["gantry.dev/run"], "r1");
    let overwrite = c.kubectl(&["label", "cm", "settings", "track=stable"]).await;
    assert!(!overwrite.ok && overwrite.stderr.contains("already has a value (canary)"), "{}", overwrite.stderr);
    c.ok(&["label", "cm", "settings", "track-"]).await;
    assert!(c.json(&["get", "cm", "settings"]).await["metadata"]["labels"].get("track").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_create_commands_send_protobuf_and_it_is_decoded() {
    let Some(c) = Cluster::start().await else { return };
    assert!(c.ok(&["create", "namespace", "team"]).await.contains("namespace/team created"));
    c.ok(&["create", "configmap", "settings", "-n", "team", "--from-literal", "mode=canary", "--from-literal", "owner=ci"]).await;
    c.ok(&["create", "secret", "generic", "creds", "-n", "team", "--from-literal", "password=s3cret"]).await;
    c.ok(&["create", "serviceaccount", "deployer", "-n", "team"]).await;

    let ns = c.json(&["get", "ns", "team"]).await;
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team");
    let cm = c.json(&["get", "cm", "settings", "-n", "team"]).await;
    assert_eq!(cm["data"], serde_json::json!({"mode": "canary", "owner": "ci"}));
    assert!(cm["metadata"].get("generateName").is_none(), "empty protobuf strings are omitted as in JSON");
    let secret = c.json(&["get", "secret", "creds", "-n", "team"]).await;
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"]["password"], "czNjcmV0", "bytes come back base64 as in JSON");
    assert_eq!(c.json(&["get", "sa", "deployer", "-n", "team"]).await["kind"], "ServiceAccount");

    // Every built-in kind has a protobuf table now (tests/kubectl_typed.rs covers them).
    c.ok(&["create", "deployment", "web", "--image", "nginx:1.27"]).await;
    assert_eq!(c.json(&["get", "deployment", "web"]).await["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.27");
}
