//! Deletion held against the real kubectl (and kube-rs for preconditions,
//! which kubectl cannot send): `--cascade=orphan|foreground|background`
//! with the simulated garbage collector, finalizers that keep an object
//! Terminating until a patch removes them, the watch events on the way,
//! namespaces emptied before they go, deletecollection with DeleteOptions
//! from the query, and the answers the real registries give (Status or
//! object, 409 on a failed precondition).
//!
//! Each test starts its own cluster in-process on 127.0.0.1. The kubectl
//! tests fail (never skip) when `CI` is set and kubectl is missing.
//! Timeouts are hang guards only, never asserts.

use crate::common;

use std::time::Duration;

use common::Cluster;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const HANG_GUARD: Duration = Duration::from_secs(60);

fn deployment(name: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations: {{sim.gantry.dev/ready-after: 0s}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
"
    )
}

fn held_configmap(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  finalizers: [example.com/block]\ndata: {{mode: canary}}\n")
}

fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

fn names(list: &Value) -> Vec<String> {
    items(list).iter().map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_string()).collect()
}

/// A rolled-out deployment `name` with its one replica set and two pods.
async fn rolled_out(c: &Cluster, name: &str) {
    c.ok(&["create", "-f", &c.file(&format!("{name}.yaml"), &deployment(name))]).await;
    c.ok(&["rollout", "status", &format!("deployment/{name}"), "--timeout=60s"]).await;
    let selector = format!("app={name}");
    assert_eq!(items(&c.json(&["get", "rs", "-l", &selector]).await).len(), 1);
    assert_eq!(items(&c.json(&["get", "pods", "-l", &selector]).await).len(), 2);
}

/// A running `kubectl get -w --output-watch-events` and its lines.
struct Watch {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Watch {
    fn start(c: &Cluster, args: &[&str]) -> Watch {
        let mut all = vec!["get", "-w", "--output-watch-events"];
        all.extend(args);
        let mut child = c.command(&c.dir.path().join("config"), &all).spawn().expect("kubectl starts");
        let lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        Watch { child, lines }
    }

    /// The event types (first column) printed until one of `last`, header skipped.
    async fn events_until(&mut self, last: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let line = tokio::time::timeout(HANG_GUARD, self.lines.next_line()).await.expect("kubectl printed nothing for a minute");
            let line = line.expect("read").expect("the watch ended early");
            eprintln!("watch: {line}");
            let event = line.split_whitespace().next().unwrap_or("").to_string();
            if event == "EVENT" {
                continue;
            }
            seen.push(event.clone());
            if event == last {
                return seen;
            }
        }
    }

    async fn stop(mut self) {
        self.child.kill().await.expect("kubectl stops");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cascade_orphan_leaves_the_replica_set_and_its_running_pods_without_owners() {
    let Some(c) = Cluster::start().await else { return };
    rolled_out(&c, "web").await;
    let pods_before = names(&c.json(&["get", "pods", "-l", "app=web"]).await);

    let out = c.ok(&["delete", "deployment", "web", "--cascade=orphan"]).await;
    assert!(out.contains("deployment.apps \"web\" deleted"), "{out}");
    let gone = c.kubectl(&["get", "deployment", "web"]).await;
    assert!(gone.stderr.contains("NotFound"), "kubectl waited until the orphan finalizer was done: {}", gone.stderr);

    let sets = items(&c.json(&["get", "rs", "-l", "app=web"]).await);
    assert_eq!(sets.len(), 1, "the replica set stays");
    assert!(sets[0]["metadata"].get("ownerReferences").is_none(), "{}", sets[0]["metadata"]);
    assert!(sets[0]["metadata"]["deletionTimestamp"].is_null());
    let pods = c.json(&["get", "pods", "-l", "app=web"]).await;
    assert_eq!(names(&pods), pods_before, "the orphaned replica set keeps its pods");
    for pod in items(&pods) {
        assert_eq!(pod["status"]["phase"], "Running", "{}", pod["status"]);
        assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], sets[0]["metadata"]["uid"], "pods stay owned by the replica set");
    }

    // A new deployment with the same selector adopts the orphaned replica set and its pods as they are.
    c.ok(&["create", "-f", &c.file("web-again.yaml", &deployment("web"))]).await;
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    let d = c.json(&["get", "deployment", "web"]).await;
    let sets = items(&c.json(&["get", "rs", "-l", "app=web"]).await);
    assert_eq!(sets.len(), 1, "adopted, not replaced");
    assert_eq!(sets[0]["metadata"]["ownerReferences"][0]["uid"], d["metadata"]["uid"]);
    assert_eq!(sets[0]["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(names(&c.json(&["get", "pods", "-l", "app=web"]).await), pods_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cascade_foreground_keeps_the_deployment_terminating_until_its_dependents_are_gone() {
    let Some(c) = Cluster::start().await else { return };
    rolled_out(&c, "web").await;
    let sets_before = names(&c.json(&["get", "rs", "-l", "app=web"]).await);
    // One pod held by a finalizer makes every level wait, so what is seen does not depend on timing.
    let pods = names(&c.json(&["get", "pods", "-l", "app=web"]).await);
    let held = pods[0].clone();
    c.ok(&["patch", "pod", &held, "--type=merge", "-p", r#"{"metadata":{"finalizers":["example.com/hold"]}}"#]).await;
    let mut watch = Watch::start(&c, &["deployment", "web"]);
    assert_eq!(watch.events_until("ADDED").await, ["ADDED"], "the watch lists the deployment before it is deleted");

    let out = c.ok(&["delete", "deployment", "web", "--cascade=foreground", "--wait=false"]).await;
    assert!(out.contains("deployment.apps \"web\" deleted"), "{out}");
    c.ok(&["wait", "pod", &pods[1], "--for=delete", "--timeout=60s"]).await;
    let d = c.json(&["get", "deployment", "web"]).await;
    assert!(d["metadata"]["deletionTimestamp"].is_string(), "{}", d["metadata"]);
    assert_eq!(d["metadata"]["finalizers"], serde_json::json!(["foregroundDeletion"]));
    let sets = items(&c.json(&["get", "rs", "-l", "app=web"]).await);
    assert_eq!(names(&c.json(&["get", "rs", "-l", "app=web"]).await), sets_before, "no new replica set for a terminating deployment");
    assert_eq!(sets[0]["metadata"]["finalizers"], serde_json::json!(["foregroundDeletion"]), "the replica set is deleted in the foreground too");
    let pod = c.json(&["get", "pod", &held]).await;
    assert!(pod["metadata"]["deletionTimestamp"].is_string());
    let table = c.ok(&["get", "pod", &held]).await;
    assert!(table.contains("Terminating"), "{table}");

    c.ok(&["patch", "pod", &held, "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#]).await;
    c.ok(&["wait", "deployment/web", "--for=delete", "--timeout=60s"]).await;
    assert!(items(&c.json(&["get", "rs,pods", "-l", "app=web"]).await).is_empty());
    let events = watch.events_until("DELETED").await;
    assert_eq!(events.first().map(String::as_str), Some("MODIFIED"), "the deletion starts as a change: {events:?}");
    watch.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cascade_background_is_the_default_and_removes_everything() {
    let Some(c) = Cluster::start().await else { return };
    rolled_out(&c, "web").await;
    let out = c.ok(&["delete", "deployment", "web"]).await;
    assert!(out.contains("deployment.apps \"web\" deleted"), "{out}");
    c.ok(&["wait", "rs", "-l", "app=web", "--for=delete", "--timeout=60s"]).await;
    c.ok(&["wait", "pods", "-l", "app=web", "--for=delete", "--timeout=60s"]).await;
    assert!(items(&c.json(&["get", "rs,pods", "-l", "app=web"]).await).is_empty());

    rolled_out(&c, "api").await;
    let out = c.ok(&["delete", "deployment", "api", "--cascade=background"]).await;
    assert!(out.contains("deployment.apps \"api\" deleted"), "{out}");
    c.ok(&["wait", "pods", "-l", "app=api", "--for=delete", "--timeout=60s"]).await;
    assert!(items(&c.json(&["get", "rs,pods", "-l", "app=api"]).await).is_empty());

    // An immediate delete answers the real Status: group, resource as kind, uid.
    c.ok(&["create", "-f", &c.file("db.yaml", &deployment("db"))]).await;
    let uid = c.json(&["get", "deployment", "db"]).await["metadata"]["uid"].clone();
    let status: Value = serde_json::from_str(&c.ok(&["delete", "--raw", "/apis/apps/v1/namespaces/default/deployments/db"]).await).expect("JSON");
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Success");
    assert_eq!(status["details"], serde_json::json!({"name": "db", "group": "apps", "kind": "deployments", "uid": uid}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finalizer_keeps_a_config_map_terminating_until_a_patch_removes_it() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("held.yaml", &held_configmap("held"))]).await;
    let mut watch = Watch::start(&c, &["cm", "held"]);
    assert_eq!(watch.events_until("ADDED").await, ["ADDED"]);

    let out = c.ok(&["delete", "cm", "held", "--wait=false"]).await;
    assert!(out.contains("configmap \"held\" deleted"), "{out}");
    let cm = c.json(&["get", "cm", "held"]).await;
    assert!(cm["metadata"]["deletionTimestamp"].is_string(), "{}", cm["metadata"]);
    assert_eq!(cm["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(cm["metadata"]["finalizers"], serde_json::json!(["example.com/block"]));

    let again = c.ok(&["delete", "cm", "held", "--wait=false"]).await;
    assert!(again.contains("configmap \"held\" deleted"), "deleting a terminating object is accepted: {again}");
    assert_eq!(c.json(&["get", "cm", "held"]).await["metadata"]["resourceVersion"], cm["metadata"]["resourceVersion"], "and changes nothing");

    let more = c.kubectl(&["patch", "cm", "held", "--type=merge", "-p", r#"{"metadata":{"finalizers":["example.com/block","example.com/more"]}}"#]).await;
    assert!(!more.ok, "{}", more.stdout);
    assert!(
        more.stderr.contains(r#"metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/more"}"#),
        "{}",
        more.stderr
    );
    c.ok(&["patch", "cm", "held", "--type=merge", "-p", r#"{"data":{"mode":"stable"}}"#]).await;

    c.ok(&["patch", "cm", "held", "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#]).await;
    let gone = c.kubectl(&["get", "cm", "held"]).await;
    assert!(gone.stderr.contains("NotFound"), "{}", gone.stderr);
    let events = watch.events_until("DELETED").await;
    assert_eq!(events, ["MODIFIED", "MODIFIED", "DELETED"], "marked for deletion, edited, gone");
    watch.stop().await;

    // kubectl's own wait: a plain delete returns once a merge patch released the object.
    c.ok(&["create", "-f", &c.file("held2.yaml", &held_configmap("held2"))]).await;
    let config = c.dir.path().join("config");
    let delete = c.command(&config, &["delete", "cm", "held2", "--timeout=60s"]).spawn().expect("kubectl starts");
    let mut terminating = false;
    while !terminating {
        terminating = c.json(&["get", "cm", "held2"]).await["metadata"]["deletionTimestamp"].is_string();
    }
    c.ok(&["patch", "cm", "held2", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]).await;
    let done = tokio::time::timeout(HANG_GUARD, delete.wait_with_output()).await.expect("kubectl delete hung").expect("kubectl ran");
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(String::from_utf8_lossy(&done.stdout).contains("configmap \"held2\" deleted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_stays_terminating_while_its_content_is_held_then_goes() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "namespace", "team"]).await;
    c.ok(&["create", "-n", "team", "-f", &c.file("held.yaml", &held_configmap("held"))]).await;
    c.ok(&["create", "-n", "team", "-f", &c.file("web.yaml", &deployment("web"))]).await;
    c.ok(&["rollout", "status", "-n", "team", "deployment/web", "--timeout=60s"]).await;

    let out = c.ok(&["delete", "namespace", "team", "--wait=false"]).await;
    assert!(out.contains("namespace \"team\" deleted"), "{out}");
    c.ok(&["wait", "-n", "team", "pods", "-l", "app=web", "--for=delete", "--timeout=60s"]).await;
    let ns = c.json(&["get", "namespace", "team"]).await;
    assert_eq!(ns["status"]["phase"], "Terminating");
    assert_eq!(ns["spec"]["finalizers"], serde_json::json!(["kubernetes"]));
    let table = c.ok(&["get", "namespace", "team"]).await;
    assert!(table.contains("Terminating"), "{table}");
    let refused = c.kubectl(&["create", "configmap", "late", "-n", "team"]).await;
    assert!(
        refused.stderr.contains("unable to create new content in namespace team because it is being terminated"),
        "{}",
        refused.stderr
    );
    let mut held_reported = false;
    while !held_reported {
        let ns = c.json(&["get", "namespace", "team"]).await;
        held_reported = ns["status"]["conditions"].as_array().into_iter().flatten().any(|cond| {
            cond["type"] == "NamespaceFinalizersRemaining" && cond["message"].as_str().is_some_and(|m| m.contains("example.com/block in 1 resource instances"))
        });
    }
    assert!(items(&c.json(&["get", "deployments,rs", "-n", "team"]).await).is_empty(), "the rest of the content went");

    c.ok(&["patch", "cm", "held", "-n", "team", "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#]).await;
    c.ok(&["wait", "namespace/team", "--for=delete", "--timeout=60s"]).await;
    let gone = c.kubectl(&["get", "namespace", "team"]).await;
    assert!(gone.stderr.contains("NotFound"), "{}", gone.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletecollection_takes_its_options_from_the_query() {
    let Some(c) = Cluster::start().await else { return };
    rolled_out(&c, "web").await;
    let path = "/apis/apps/v1/namespaces/default/deployments?labelSelector=app%3Dweb&propagationPolicy=Orphan";
    let listed: Value = serde_json::from_str(&c.ok(&["delete", "--raw", path]).await).expect("JSON");
    assert_eq!(listed["kind"], "DeploymentList");
    assert_eq!(names(&listed), ["web"]);
    c.ok(&["wait", "deployment/web", "--for=delete", "--timeout=60s"]).await;
    let sets = items(&c.json(&["get", "rs", "-l", "app=web"]).await);
    assert_eq!(sets.len(), 1);
    assert!(sets[0]["metadata"].get("ownerReferences").is_none(), "orphaned by the query's policy: {}", sets[0]["metadata"]);

    let bad = c.kubectl(&["delete", "--raw", "/apis/apps/v1/namespaces/default/replicasets?propagationPolicy=Sideways"]).await;
    assert!(
        bad.stderr.contains(r#"The DeleteOptions "" is invalid: propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil""#),
        "{}",
        bad.stderr
    );
    assert_eq!(items(&c.json(&["get", "rs", "-l", "app=web"]).await).len(), 1, "an invalid option deletes nothing");

    let everywhere = c.kubectl(&["delete", "--raw", "/apis/apps/v1/replicasets"]).await;
    assert!(everywhere.stderr.contains("MethodNotAllowed"), "namespaced kinds are not deleted across namespaces: {}", everywhere.stderr);
    assert_eq!(items(&c.json(&["get", "rs", "-l", "app=web"]).await).len(), 1);
}

mod preconditions {
    use gantry_sim::auth::{Authenticator, Identity};
    use gantry_sim::kubeconfig;
    use gantry_sim::{ApiServer, ServerConfig};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, DeleteParams, PostParams, Preconditions};
    use kube::config::{KubeConfigOptions, Kubeconfig};
    use kube::Client;
    use serde_json::json;

    const TOKEN: &str = "deletion-admin";

    async fn client(server: &ApiServer) -> Client {
        let text = kubeconfig::render(&[server.kubeconfig_entry(TOKEN)]).expect("kubeconfig renders");
        let kubeconfig = Kubeconfig::from_yaml(&text).expect("kube-rs reads the kubeconfig");
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.expect("kube-rs config");
        config.proxy_url = None;
        Client::try_from(config).expect("kube-rs client")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_precondition_is_a_conflict_and_a_held_object_is_answered_as_itself() {
        let auth = Authenticator::default();
        auth.add_token(TOKEN, Identity::admin("admin"));
        let server = ApiServer::start(ServerConfig::new("deletion", auth)).await.expect("server starts");
        let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "default");
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"mode": "canary"}})).expect("configmap");
        let made = cms.create(&PostParams::default(), &cm).await.expect("created");
        let uid = made.metadata.uid.clone().expect("uid");

        let wrong = DeleteParams { preconditions: Some(Preconditions { uid: Some("not-the-uid".into()), resource_version: None }), ..DeleteParams::default() };
        let kube::Error::Api(err) = cms.delete("settings", &wrong).await.expect_err("a wrong uid conflicts") else { panic!("not an API error") };
        assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
        assert_eq!(
            err.message,
            format!("Operation cannot be fulfilled on ConfigMap \"settings\": the UID in the precondition (not-the-uid) does not match the UID in record ({uid}). The object might have been deleted and then recreated")
        );
        let stale = DeleteParams { preconditions: Some(Preconditions { uid: None, resource_version: Some("1".into()) }), ..DeleteParams::default() };
        let kube::Error::Api(err) = cms.delete("settings", &stale).await.expect_err("a stale resourceVersion conflicts") else { panic!("not an API error") };
        assert_eq!(err.code, 409);
        assert!(err.message.contains("the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ("), "{}", err.message);
        assert!(cms.get("settings").await.is_ok(), "nothing was deleted");

        let right = DeleteParams { preconditions: Some(Preconditions { uid: Some(uid), resource_version: made.metadata.resource_version.clone() }), ..DeleteParams::default() };
        let deleted = cms.delete("settings", &right).await.expect("the right preconditions delete");
        assert!(deleted.is_right(), "an immediate delete answers a Status");

        let held: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "held", "finalizers": ["example.com/block"]}})).expect("configmap");
        cms.create(&PostParams::default(), &held).await.expect("created");
        let answer = cms.delete("held", &DeleteParams::default()).await.expect("accepted");
        let first = answer.left().expect("a held object is answered as itself, not a Status");
        assert!(first.metadata.deletion_timestamp.is_some());
        let again = cms.delete("held", &DeleteParams::default()).await.expect("accepted again").left().expect("the object");
        assert_eq!(again.metadata.resource_version, first.metadata.resource_version, "deleting a terminating object changes nothing");
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_finalize_subresource_releases_a_stuck_namespace() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "namespace", "stuck"]).await;
    c.ok(&["create", "-n", "stuck", "-f", &c.file("held.yaml", &held_configmap("held"))]).await;
    c.ok(&["delete", "namespace", "stuck", "--wait=false"]).await;
    let mut ns = c.json(&["get", "namespace", "stuck"]).await;
    assert_eq!(ns["status"]["phase"], "Terminating");

    ns["spec"]["finalizers"] = serde_json::json!([]);
    let file = c.file("finalized.json", &ns.to_string());
    let written: Value = serde_json::from_str(&c.ok(&["replace", "--raw", "/api/v1/namespaces/stuck/finalize", "-f", &file]).await).expect("JSON");
    assert_eq!(written["spec"]["finalizers"], serde_json::json!([]), "{written}");
    let gone = c.kubectl(&["get", "namespace", "stuck"]).await;
    assert!(gone.stderr.contains("NotFound"), "finalized by hand, the namespace goes: {}", gone.stderr);

    let discovery: Value = serde_json::from_str(&c.ok(&["get", "--raw", "/api/v1"]).await).expect("JSON");
    let finalize = items(&serde_json::json!({"items": discovery["resources"]})).into_iter().find(|r| r["name"] == "namespaces/finalize");
    assert_eq!(finalize.map(|r| r["verbs"].clone()), Some(serde_json::json!(["update"])), "discovery lists the subresource");
    let all = c.kubectl(&["delete", "--raw", "/api/v1/namespaces"]).await;
    assert!(all.stderr.contains("MethodNotAllowed"), "namespaces have no deletecollection: {}", all.stderr);
}

fn job(name: &str) -> String {
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: run
        image: busybox:1.36
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_v1_job_deleted_without_a_policy_orphans_its_pods_with_the_real_warning() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("old.yaml", &job("old"))]).await;
    c.ok(&["wait", "--for=condition=complete", "job/old", "--timeout=60s"]).await;
    let pod = items(&c.json(&["get", "pods", "-l", "job-name=old"]).await).remove(0);

    let raw = c.kubectl(&["delete", "--raw", "/apis/batch/v1/namespaces/default/jobs/old"]).await;
    assert!(raw.ok, "{}", raw.stderr);
    assert!(
        raw.stderr.contains("Warning: child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning"),
        "{}",
        raw.stderr
    );
    let held: Value = serde_json::from_str(&raw.stdout).expect("JSON");
    assert_eq!(held["metadata"]["finalizers"], serde_json::json!(["orphan"]), "the object is answered while the collector orphans: {held}");
    c.ok(&["wait", "job/old", "--for=delete", "--timeout=60s"]).await;
    let kept = c.json(&["get", "pod", pod["metadata"]["name"].as_str().unwrap_or("")]).await;
    assert!(kept["metadata"].get("ownerReferences").is_none(), "{}", kept["metadata"]);

    // kubectl names the background policy itself: the job's pods go with it, and no warning.
    c.ok(&["create", "-f", &c.file("new.yaml", &job("new"))]).await;
    c.ok(&["wait", "--for=condition=complete", "job/new", "--timeout=60s"]).await;
    let out = c.kubectl(&["delete", "job", "new"]).await;
    assert!(out.ok && !out.stderr.contains("Warning"), "{}", out.stderr);
    c.ok(&["wait", "pods", "-l", "job-name=new", "--for=delete", "--timeout=60s"]).await;
}

const STATEFULSET: &str = "apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  replicas: 2
  serviceName: db
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
      annotations: {sim.gantry.dev/ready-after: 0s}
    spec:
      containers:
      - name: db
        image: postgres:16
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statefulset_recreated_after_an_orphaning_delete_adopts_its_pods() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("db.yaml", STATEFULSET)]).await;
    c.ok(&["rollout", "status", "statefulset/db", "--timeout=60s"]).await;
    let before = c.json(&["get", "pods", "-l", "app=db"]).await;
    let uids: Vec<Value> = items(&before).iter().map(|p| p["metadata"]["uid"].clone()).collect();

    c.ok(&["delete", "statefulset", "db", "--cascade=orphan"]).await;
    let orphans = c.json(&["get", "pods", "-l", "app=db"]).await;
    assert!(items(&orphans).iter().all(|p| p["metadata"].get("ownerReferences").is_none()), "{orphans}");

    c.ok(&["create", "-f", &c.file("db.yaml", STATEFULSET)]).await;
    c.ok(&["rollout", "status", "statefulset/db", "--timeout=60s"]).await;
    let sts = c.json(&["get", "statefulset", "db"]).await;
    let after = c.json(&["get", "pods", "-l", "app=db"]).await;
    assert_eq!(items(&after).iter().map(|p| p["metadata"]["uid"].clone()).collect::<Vec<_>>(), uids, "the same pods, adopted");
    assert!(items(&after).iter().all(|p| p["metadata"]["ownerReferences"][0]["uid"] == sts["metadata"]["uid"]), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_pod_is_deleted_gracefully_and_its_kubelet_stops_it() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["run", "solo", "--image=nginx:1.27", "--annotations=sim.gantry.dev/ready-after=0s"]).await;
    c.ok(&["wait", "pod/solo", "--for=condition=Ready", "--timeout=60s"]).await;
    let out = c.ok(&["delete", "pod", "solo"]).await;
    assert!(out.contains("pod \"solo\" deleted"), "kubectl waited for the kubelet to remove it: {out}");
    let gone = c.kubectl(&["get", "pod", "solo"]).await;
    assert!(gone.stderr.contains("NotFound"), "{}", gone.stderr);
    let events = c.json(&["get", "events"]).await;
    let killing: Vec<Value> = items(&events).into_iter().filter(|e| e["reason"] == "Killing" && e["involvedObject"]["name"] == "solo").collect();
    assert_eq!(killing.len(), 1, "{events}");
    assert_eq!(killing[0]["message"], "Stopping container solo");
    assert_eq!(killing[0]["source"]["component"], "kubelet");
}
