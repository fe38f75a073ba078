//! The simulated API server held against the real Helm library (Helm SDK v4,
//! `helm-python-sdk`'s libhelm_c, driven by `tests/helm/oracle.py`, one action
//! per run): releases of a chart made for the test (`tests/helm/charts/web`:
//! Deployment, Service, ConfigMap, a pre-install/pre-upgrade hook Job and a
//! test pod) and of the repository's `helm/fastapi-app` install with
//! `--wait`, run their hooks and `helm test`, upgrade to a new ReplicaSet
//! (the chart's `lookup` reading the live ConfigMap it replaces),
//! list, show history, roll back and uninstall; after each step the cluster
//! is read back through kubectl and must agree with Helm's own answers
//! (release status, hook runs, the `sh.helm.release.v1.NAME.vN` Secrets and
//! their labels). A pod that never becomes ready — the Deployment's or the
//! hook Job's — makes Helm's wait fail with Helm's own message. Also: the
//! ConfigMap storage driver in a namespace Helm creates, server-side dry
//! runs, and a chart whose crds/ bring the kind its templates use.
//!
//! The python with helm_python comes from `GANTRY_HELM_PYTHON`, else
//! `.venv-helm/bin/python` at the repository root (see TESTING.md); missing,
//! the tests fail when `CI` is set and skip otherwise. Helm's timeouts are
//! the library's own behaviour under test or hang guards, never timed asserts.
//! Every request goes to the in-process cluster on 127.0.0.1.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Cluster, ADMIN};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

/// What a Helm action may take before the test is considered hung.
const HANG_GUARD: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chart(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm/charts").join(name).to_string_lossy().into_owned()
}

fn fastapi_chart() -> String {
    repo_root().join("helm/fastapi-app").to_string_lossy().into_owned()
}

/// The python that can `import helm_python`, or None (skip) outside CI.
fn helm_python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("GANTRY_HELM_PYTHON") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "GANTRY_HELM_PYTHON={} is not a file", path.display());
        return Some(path);
    }
    let path = repo_root().join(".venv-helm/bin/python");
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the Helm oracle is required in CI: set GANTRY_HELM_PYTHON to a python with helm-python-sdk (.ci/run does)"
    );
    eprintln!("no python with helm-python-sdk (GANTRY_HELM_PYTHON or .venv-helm/bin/python): skipping (set CI to make this a failure)");
    None
}

/// The real Helm library pointed at one simulated cluster.
struct Helm {
    python: PathBuf,
    server: String,
    token: String,
    ca_file: PathBuf,
    home: PathBuf,
}

/// Helm's own error: the library's exception type and message.
#[derive(Debug)]
struct HelmFailure {
    kind: String,
    message: String,
}

impl Helm {
    fn new(c: &Cluster, python: PathBuf) -> Helm {
        let ca_file = c.dir.path().join("ca.crt");
        std::fs::write(&ca_file, c.server.ca_pem()).expect("CA written");
        Helm { python, server: c.server.url(), token: ADMIN.to_string(), ca_file, home: c.dir.path().to_path_buf() }
    }

    /// Runs one action; Ok is what the library returned, Err its error.
    async fn run(&self, mut request: Value) -> Result<Value, HelmFailure> {
        let op = request["op"].as_str().unwrap_or("").to_string();
        request["server"] = json!(self.server);
        request["token"] = json!(self.token);
        request["ca_file"] = json!(self.ca_file);
        request["debug"] = json!(true);
        let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm/oracle.py");
        let mut child = tokio::process::Command::new(&self.python)
            .arg(oracle)
            .env_clear()
            .env("HOME", &self.home)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the Helm oracle starts");
        let mut stdin = child.stdin.take().expect("oracle stdin");
        stdin.write_all(request.to_string().as_bytes()).await.expect("request written");
        drop(stdin);
        let out = tokio::time::timeout(HANG_GUARD, child.wait_with_output()).await.expect("Helm hung").expect("the oracle runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        eprintln!("helm {op}: {}\n{}", stdout.trim(), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "the oracle failed to run helm {op}");
        let answer: Value = serde_json::from_str(stdout.trim()).expect("the oracle prints JSON");
        if answer["ok"] == true {
            Ok(answer["result"].clone())
        } else {
            let error = &answer["error"];
            Err(HelmFailure { kind: text(&error["type"]), message: text(&error["message"]) })
        }
    }

    async fn ok(&self, request: Value) -> Value {
        let op = request["op"].clone();
        self.run(request).await.unwrap_or_else(|e| panic!("helm {op} failed: {e:?}"))
    }
}

async fn start() -> Option<(Cluster, Helm)> {
    let python = helm_python()?;
    let c = Cluster::start().await?;
    let helm = Helm::new(&c, python);
    Some((c, helm))
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

/// (revision, status) of each entry of Helm's list or history answer.
fn revisions(releases: &Value) -> Vec<(i64, String)> {
    releases.as_array().into_iter().flatten().map(|r| (r["revision"].as_i64().unwrap_or(0), text(&r["status"]))).collect()
}

/// The release's Secrets as the cluster holds them: (name, version label,
/// status label), each checked to be Helm's (type, owner and name labels).
async fn release_secrets(c: &Cluster, release: &str) -> Vec<(String, String, String)> {
    let list = c.json(&["get", "secrets", "-l", &format!("owner=helm,name={release}")]).await;
    let mut found: Vec<(String, String, String)> = items(&list)
        .iter()
        .map(|s| {
            assert_eq!(s["type"], "helm.sh/release.v1", "{s}");
            assert!(s["data"]["release"].as_str().is_some_and(|d| !d.is_empty()), "a release Secret holds the release");
            let labels = &s["metadata"]["labels"];
            (text(&s["metadata"]["name"]), text(&labels["version"]), text(&labels["status"]))
        })
        .collect();
    found.sort();
    found
}

fn secret(release: &str, version: u32, status: &str) -> (String, String, String) {
    (format!("sh.helm.release.v1.{release}.v{version}"), version.to_string(), status.to_string())
}

/// What Helm's wait promised: the deployment's current generation observed
/// and fully rolled out, every live pod running `image` and ready.
async fn assert_rolled_out(c: &Cluster, deployment: &str, selector: &str, replicas: i64, image: &str) {
    let d = c.json(&["get", "deployment", deployment]).await;
    let status = &d["status"];
    assert_eq!(status["observedGeneration"], d["metadata"]["generation"], "{status}");
    assert_eq!(d["spec"]["replicas"], replicas);
    for field in ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas"] {
        assert_eq!(status[field].as_i64(), Some(replicas), "{field} in {status}");
    }
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], image);
    let pods = items(&c.json(&["get", "pods", "-l", selector]).await);
    let live: Vec<&Value> = pods.iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).collect();
    assert_eq!(live.len() as i64, replicas, "live pods: {live:?}");
    for pod in live {
        assert_eq!(pod["spec"]["containers"][0]["image"], image, "{}", pod["metadata"]["name"]);
        let ready = pod["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Ready" && c["status"] == "True");
        assert!(ready, "pod {} is not ready: {}", pod["metadata"]["name"], pod["status"]);
    }
}

/// The ReplicaSets of a selector as (image, deployment revision, replicas), by revision.
async fn replica_sets(c: &Cluster, selector: &str) -> Vec<(String, String, i64)> {
    let list = c.json(&["get", "rs", "-l", selector]).await;
    let mut sets: Vec<(String, String, i64)> = items(&list)
        .iter()
        .map(|rs| {
            (
                text(&rs["spec"]["template"]["spec"]["containers"][0]["image"]),
                text(&rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]),
                rs["spec"]["replicas"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    sets.sort_by_key(|(_, revision, _)| revision.parse::<u32>().unwrap_or(0));
    sets
}

/// Helm's record of the release's hooks: name to (phase, started_at) of their last run.
async fn hook_runs(helm: &Helm, release: &str) -> std::collections::BTreeMap<String, (String, String)> {
    let all = helm.ok(json!({"op": "get_all", "release": release})).await;
    all["hooks"].as_array().into_iter().flatten().map(|h| (text(&h["name"]), (text(&h["last_run"]["phase"]), text(&h["last_run"]["started_at"])))).collect()
}

/// The chart's ConfigMap: (message, the message it replaced as Helm's `lookup` read it).
async fn config_message(c: &Cluster, name: &str) -> (String, String) {
    let data = c.json(&["get", "configmap", name]).await["data"].clone();
    (text(&data["message"]), text(&data["replaces"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_installs_upgrades_rolls_back_and_uninstalls_with_wait() {
    let Some((c, helm)) = start().await else { return };
    let web = chart("web");
    let selector = "app.kubernetes.io/name=web,app.kubernetes.io/instance=web";

    // Install, waiting for the pods to be ready.
    let release = helm
        .ok(json!({"op": "install", "release": "web", "chart": web, "values": {"replicas": 2, "message": "hello"}, "wait": "watcher", "timeout": 120}))
        .await;
    assert_eq!((release["status"].as_str(), release["revision"].as_i64()), (Some("deployed"), Some(1)), "{release}");
    assert!(text(&release["manifest"]).contains("kind: Deployment"));
    assert_rolled_out(&c, "web", selector, 2, "nginx:1.27").await;
    assert_eq!(config_message(&c, "web-config").await, ("hello".into(), String::new()));
    let service = c.json(&["get", "service", "web"]).await;
    assert_eq!(service["spec"]["selector"]["app.kubernetes.io/instance"], "web");
    assert!(service["spec"]["clusterIP"].as_str().is_some_and(|ip| !ip.is_empty()), "{service}");
    // Helm v4 writes with server-side apply; the SDK names the manager after the program.
    let d = c.json(&["get", "deployment", "web", "--show-managed-fields"]).await;
    let appliers: Vec<String> =
        d["metadata"]["managedFields"].as_array().into_iter().flatten().filter(|m| m["operation"] == "Apply").map(|m| text(&m["manager"])).collect();
    let program = helm.python.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    assert_eq!(appliers, [program], "{}", d["metadata"]["managedFields"]);
    assert_eq!(release_secrets(&c, "web").await, [secret("web", 1, "deployed")]);
    // The pre-install hook Job ran to completion first, then went as its delete policy says.
    let hooks = hook_runs(&helm, "web").await;
    assert_eq!(hooks["web-migrate"].0, "Succeeded", "{hooks:?}");
    assert!(items(&c.json(&["get", "jobs", "-l", "app.kubernetes.io/instance=web"]).await).is_empty(), "hook-succeeded deletes the Job");
    c.ok(&["wait", "--for=delete", "pods", "-l", "app.kubernetes.io/name=web-migrate", "--timeout=60s"]).await;

    // Upgrade: a new image and message roll a new ReplicaSet, revision 2; the Service leaves the chart.
    let values = json!({"replicas": 3, "image": {"tag": "1.28"}, "message": "hi", "service": {"enabled": false}});
    let release = helm.ok(json!({"op": "upgrade", "release": "web", "chart": web, "values": values, "wait": "watcher", "timeout": 120})).await;
    assert_eq!((release["status"].as_str(), release["revision"].as_i64()), (Some("deployed"), Some(2)), "{release}");
    assert_rolled_out(&c, "web", selector, 3, "nginx:1.28").await;
    assert_eq!(replica_sets(&c, selector).await, [("nginx:1.27".into(), "1".into(), 0), ("nginx:1.28".into(), "2".into(), 3)]);
    assert_eq!(config_message(&c, "web-config").await, ("hi".into(), "hello".into()), "the upgrade's lookup read the live ConfigMap");
    assert!(c.kubectl(&["get", "service", "web"]).await.stderr.contains("NotFound"), "Helm deletes what left the chart");
    assert_eq!(release_secrets(&c, "web").await, [secret("web", 1, "superseded"), secret("web", 2, "deployed")]);
    let rerun = hook_runs(&helm, "web").await;
    assert_eq!(rerun["web-migrate"].0, "Succeeded");
    assert!(rerun["web-migrate"].1 > hooks["web-migrate"].1, "the pre-upgrade hook ran again: {rerun:?}");

    // Helm reads the release back from the cluster.
    let list = helm.ok(json!({"op": "list"})).await;
    assert_eq!(revisions(&list), [(2, "deployed".to_string())]);
    assert_eq!(list[0]["name"], "web");
    assert_eq!(list[0]["labels"]["owner"], "helm", "{list}");
    let history = helm.ok(json!({"op": "history", "release": "web"})).await;
    assert_eq!(revisions(&history), [(1, "superseded".into()), (2, "deployed".into())]);

    // Roll back to revision 1: revision 3 holds revision 1's objects.
    helm.ok(json!({"op": "rollback", "release": "web", "version": 1, "wait": "watcher", "timeout": 120})).await;
    let status = helm.ok(json!({"op": "status", "release": "web"})).await;
    assert_eq!((status["status"].as_str(), status["revision"].as_i64()), (Some("deployed"), Some(3)), "{status}");
    assert_rolled_out(&c, "web", selector, 2, "nginx:1.27").await;
    assert_eq!(
        replica_sets(&c, selector).await,
        [("nginx:1.28".into(), "2".into(), 0), ("nginx:1.27".into(), "3".into(), 2)],
        "the deployment rolls back to its first ReplicaSet, which becomes its newest revision"
    );
    assert_eq!(config_message(&c, "web-config").await, ("hello".into(), String::new()), "a rollback reapplies revision 1's manifest");
    let service = c.json(&["get", "service", "web"]).await;
    assert!(service["spec"]["clusterIP"].as_str().is_some_and(|ip| !ip.is_empty()), "the rollback recreates the Service: {service}");
    let history = helm.ok(json!({"op": "history", "release": "web"})).await;
    assert_eq!(revisions(&history), [(1, "superseded".into()), (2, "superseded".into()), (3, "deployed".into())]);
    assert_eq!(
        release_secrets(&c, "web").await,
        [secret("web", 1, "superseded"), secret("web", 2, "superseded"), secret("web", 3, "deployed")]
    );

    // `helm test` runs the test pod to completion against the release.
    let tested = helm.ok(json!({"op": "test", "release": "web", "timeout": 120})).await;
    assert_eq!(tested["release"]["status"], "deployed", "{tested}");
    assert_eq!(hook_runs(&helm, "web").await["web-test-connection"].0, "Succeeded");
    let test_pod = c.json(&["get", "pod", "web-test-connection"]).await;
    assert_eq!(test_pod["status"]["phase"], "Succeeded", "{}", test_pod["status"]);
    assert_eq!(test_pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed");

    // Uninstall, waiting for the objects to go; the release Secrets go with them.
    let gone = helm.ok(json!({"op": "uninstall", "release": "web", "wait": "watcher", "timeout": 120})).await;
    assert_eq!(gone["release"]["status"], "uninstalled", "{gone}");
    for kind in ["deployments", "services", "configmaps"] {
        assert!(items(&c.json(&["get", kind, "-l", selector]).await).is_empty(), "{kind} left after uninstall");
    }
    c.ok(&["wait", "--for=delete", "pods", "-l", selector, "--timeout=60s"]).await;
    assert!(items(&c.json(&["get", "rs", "-l", selector]).await).is_empty(), "replica sets are garbage-collected");
    assert_eq!(release_secrets(&c, "web").await, []);
    c.ok(&["get", "pod", "web-test-connection"]).await; // Helm leaves hook resources without a delete policy.
    assert_eq!(revisions(&helm.ok(json!({"op": "list", "all_states": true})).await), []);
    let missing = helm.run(json!({"op": "status", "release": "web"})).await.expect_err("an uninstalled release is not found");
    assert_eq!(missing.kind, "HelmNotFoundError", "{missing:?}");
    assert!(missing.message.contains("not found"), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repository_fastapi_chart_rolls_out_and_back_with_both_of_helms_waiters() {
    let Some((c, helm)) = start().await else { return };
    let fastapi = fastapi_chart();
    let selector = "app.kubernetes.io/instance=shop";

    let release = helm.ok(json!({"op": "install", "release": "shop", "chart": fastapi, "wait": "watcher", "timeout": 120})).await;
    assert_eq!((release["status"].as_str(), release["revision"].as_i64()), (Some("deployed"), Some(1)), "{release}");
    assert!(text(&release["notes"]).contains("shop-fastapi-app is deployed (fastapi-app:1.0.0, 2 replicas)"), "{release}");
    assert_rolled_out(&c, "shop-fastapi-app", selector, 2, "fastapi-app:1.0.0").await;
    let service = c.json(&["get", "service", "shop-fastapi-app"]).await;
    assert_eq!(service["spec"]["ports"][0]["port"], 80);

    // The legacy waiter polls with typed clients instead of watching.
    let values = json!({"image": {"tag": "v2"}, "replicaCount": 3});
    let release = helm.ok(json!({"op": "upgrade", "release": "shop", "chart": fastapi, "values": values, "wait": "legacy", "timeout": 120})).await;
    assert_eq!((release["status"].as_str(), release["revision"].as_i64()), (Some("deployed"), Some(2)), "{release}");
    assert_rolled_out(&c, "shop-fastapi-app", selector, 3, "fastapi-app:v2").await;
    assert_eq!(replica_sets(&c, selector).await.len(), 2);

    helm.ok(json!({"op": "rollback", "release": "shop", "wait": "legacy", "timeout": 120})).await;
    assert_rolled_out(&c, "shop-fastapi-app", selector, 2, "fastapi-app:1.0.0").await;
    let history = helm.ok(json!({"op": "history", "release": "shop"})).await;
    assert_eq!(revisions(&history), [(1, "superseded".into()), (2, "superseded".into()), (3, "deployed".into())]);
    assert_eq!(
        release_secrets(&c, "shop").await,
        [secret("shop", 1, "superseded"), secret("shop", 2, "superseded"), secret("shop", 3, "deployed")]
    );

    helm.ok(json!({"op": "uninstall", "release": "shop", "wait": "legacy", "timeout": 120})).await;
    assert!(items(&c.json(&["get", "deployments,services", "-l", selector]).await).is_empty());
    assert_eq!(release_secrets(&c, "shop").await, []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_that_never_becomes_ready_fails_helms_wait_with_helms_own_message() {
    let Some((c, helm)) = start().await else { return };
    let web = chart("web");
    let never_ready = json!({"podAnnotations": {"sim.gantry.dev/behavior": "never-ready"}});

    // The watcher: kstatus sees the Deployment stay InProgress until the deadline.
    let failure = helm
        .run(json!({"op": "install", "release": "stuck", "chart": web, "values": never_ready, "wait": "watcher", "timeout": 5}))
        .await
        .expect_err("an install whose pods never become ready fails its wait");
    assert!(failure.message.contains("resource Deployment/default/stuck not ready. status: InProgress"), "{failure:?}");
    assert!(failure.message.contains("context deadline exceeded"), "{failure:?}");
    let status = helm.ok(json!({"op": "status", "release": "stuck"})).await;
    assert_eq!((status["status"].as_str(), status["revision"].as_i64()), (Some("failed"), Some(1)), "{status}");
    assert_eq!(release_secrets(&c, "stuck").await, [secret("stuck", 1, "failed")]);
    let d = c.json(&["get", "deployment", "stuck"]).await;
    assert_eq!(d["status"]["readyReplicas"].as_i64().unwrap_or(0), 0, "{}", d["status"]);
    let pods = items(&c.json(&["get", "pods", "-l", "app.kubernetes.io/name=web,app.kubernetes.io/instance=stuck"]).await);
    assert!(!pods.is_empty() && pods.iter().all(|p| p["status"]["phase"] == "Running"), "never-ready pods run: {pods:?}");

    // The legacy waiter fails at its deadline too.
    let failure = helm
        .run(json!({"op": "install", "release": "stuck-legacy", "chart": web, "values": never_ready, "wait": "legacy", "timeout": 5}))
        .await
        .expect_err("the legacy waiter fails too");
    assert!(failure.message.contains("context deadline exceeded"), "{failure:?}");
    assert_eq!(release_secrets(&c, "stuck-legacy").await, [secret("stuck-legacy", 1, "failed")]);

    // With rollback-on-failure, a failed install is uninstalled again.
    let failure = helm
        .run(json!({"op": "install", "release": "atomic", "chart": web, "values": never_ready, "wait": "watcher", "timeout": 5, "rollback_on_failure": true}))
        .await
        .expect_err("the install fails its wait");
    assert!(failure.message.contains("has been uninstalled due to rollback-on-failure"), "{failure:?}");
    assert!(items(&c.json(&["get", "deployments,services,configmaps", "-l", "app.kubernetes.io/instance=atomic"]).await).is_empty());
    assert_eq!(release_secrets(&c, "atomic").await, []);

    // A hook Job whose pod never becomes ready never completes: the install fails before its objects.
    let hook_never_ready = json!({"migrate": {"podAnnotations": {"sim.gantry.dev/behavior": "never-ready"}}});
    let failure = helm
        .run(json!({"op": "install", "release": "hooked", "chart": web, "values": hook_never_ready, "wait": "watcher", "timeout": 5}))
        .await
        .expect_err("a hook that never completes fails the install");
    assert!(failure.message.contains("failed pre-install: resource Job/default/hooked-migrate not ready"), "{failure:?}");
    assert_eq!(release_secrets(&c, "hooked").await, [secret("hooked", 1, "failed")]);
    let job = c.json(&["get", "job", "hooked-migrate"]).await;
    assert!(job["status"]["succeeded"].as_i64().unwrap_or(0) == 0 && job["status"]["active"] == 1, "{}", job["status"]);
    assert!(c.kubectl(&["get", "deployment", "hooked"]).await.stderr.contains("NotFound"), "the release's objects wait for its pre-install hook");

    // An upgrade to never-ready pods with rollback-on-failure goes back to revision 1.
    helm.ok(json!({"op": "install", "release": "good", "chart": web, "wait": "watcher", "timeout": 120})).await;
    let failure = helm
        .run(json!({"op": "upgrade", "release": "good", "chart": web, "values": never_ready, "wait": "watcher", "timeout": 5, "rollback_on_failure": true}))
        .await
        .expect_err("the upgrade fails its wait");
    assert!(failure.message.contains("has been rolled back due to rollback-on-failure"), "{failure:?}");
    assert!(failure.message.contains("resource Deployment/default/good not ready"), "{failure:?}");
    let history = helm.ok(json!({"op": "history", "release": "good"})).await;
    assert_eq!(revisions(&history), [(1, "superseded".into()), (2, "failed".into()), (3, "deployed".into())]);
    c.ok(&["rollout", "status", "deployment/good", "--timeout=60s"]).await;
    assert_rolled_out(&c, "good", "app.kubernetes.io/name=web,app.kubernetes.io/instance=good", 2, "nginx:1.27").await;
    let d = c.json(&["get", "deployment", "good"]).await;
    assert!(d["spec"]["template"]["metadata"]["annotations"].get("sim.gantry.dev/behavior").is_none(), "rolled back to the ready template");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_kept_in_configmaps_in_a_namespace_helm_creates_and_server_dry_runs_change_nothing() {
    let Some((c, helm)) = start().await else { return };
    let fastapi = fastapi_chart();
    let base = json!({"release": "shop", "namespace": "team", "storage_driver": "configmap", "chart": fastapi});
    let with = |extra: Value| {
        let mut request = base.clone();
        if let (Some(request), Value::Object(extra)) = (request.as_object_mut(), extra) {
            request.extend(extra);
        }
        request
    };

    let release = helm.ok(with(json!({"op": "install", "create_namespace": true, "wait": "watcher", "timeout": 120}))).await;
    assert_eq!((release["namespace"].as_str(), release["status"].as_str()), (Some("team"), Some("deployed")), "{release}");
    let ns = c.json(&["get", "namespace", "team"]).await;
    assert_eq!(ns["status"]["phase"], "Active");
    let stored = c.json(&["get", "configmaps", "-n", "team", "-l", "owner=helm,name=shop"]).await;
    let names: Vec<String> = items(&stored).iter().map(|cm| text(&cm["metadata"]["name"])).collect();
    assert_eq!(names, ["sh.helm.release.v1.shop.v1"]);
    assert!(items(&c.json(&["get", "secrets", "-n", "team", "-l", "owner=helm"]).await).is_empty(), "the configmap driver keeps no Secrets");
    let d = c.json(&["get", "deployment", "-n", "team", "shop-fastapi-app"]).await;
    assert_eq!(d["status"]["readyReplicas"], 2, "{}", d["status"]);

    // A server-side dry run renders and validates the upgrade but changes nothing.
    let dry = helm.ok(with(json!({"op": "upgrade", "dry_run": "server", "values": {"replicaCount": 5}}))).await;
    assert_eq!(dry["revision"], 2, "{dry}");
    assert!(text(&dry["manifest"]).contains("replicas: 5"));
    let after = c.json(&["get", "deployment", "-n", "team", "shop-fastapi-app"]).await;
    assert_eq!((after["spec"]["replicas"].as_i64(), &after["metadata"]["generation"]), (Some(2), &d["metadata"]["generation"]));
    let history = helm.ok(with(json!({"op": "history"}))).await;
    assert_eq!(revisions(&history), [(1, "deployed".to_string())]);

    helm.ok(with(json!({"op": "uninstall", "wait": "watcher", "timeout": 120}))).await;
    assert!(items(&c.json(&["get", "configmaps", "-n", "team", "-l", "owner=helm"]).await).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_carrying_a_crd_installs_it_first_and_serves_its_kind_to_the_release() {
    let Some((c, helm)) = start().await else { return };
    let canary = chart("canary");
    // Helm applies crds/ first, waits for the CRD, refreshes its discovery, then applies the custom resource.
    let release = helm.ok(json!({"op": "install", "release": "checkout", "chart": canary, "values": {"weight": 25}, "wait": "watcher", "timeout": 120})).await;
    assert_eq!(release["status"], "deployed", "{release}");
    let crd = c.json(&["get", "crd", "canaries.gantry.dev"]).await;
    let established = crd["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Established" && c["status"] == "True");
    assert!(established, "{}", crd["status"]);
    assert_eq!(c.json(&["get", "canary", "checkout"]).await["spec"]["weight"], 25);

    let upgraded = helm.ok(json!({"op": "upgrade", "release": "checkout", "chart": canary, "values": {"weight": 50}, "wait": "watcher", "timeout": 120})).await;
    assert_eq!(upgraded["revision"], 2);
    assert_eq!(c.json(&["get", "canary", "checkout"]).await["spec"]["weight"], 50);

    // Uninstall removes the custom resource; Helm never deletes CRDs it installed from crds/.
    helm.ok(json!({"op": "uninstall", "release": "checkout", "wait": "watcher", "timeout": 120})).await;
    assert!(items(&c.json(&["get", "canaries"]).await).is_empty());
    c.ok(&["get", "crd", "canaries.gantry.dev"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_limited_to_one_namespace_deploys_there_and_is_forbidden_elsewhere() {
    let Some((c, mut helm)) = start().await else { return };
    // `verified-USER` tokens may do anything, but only in `default` (tests/common).
    helm.token = "verified-deployer".into();
    let web = chart("web");
    let release = helm.ok(json!({"op": "install", "release": "web", "chart": web, "wait": "watcher", "timeout": 120})).await;
    assert_eq!(release["status"], "deployed", "{release}");
    assert_rolled_out(&c, "web", "app.kubernetes.io/name=web,app.kubernetes.io/instance=web", 2, "nginx:1.27").await;
    helm.ok(json!({"op": "upgrade", "release": "web", "chart": web, "values": {"message": "hi"}, "wait": "watcher", "timeout": 120})).await;
    helm.ok(json!({"op": "uninstall", "release": "web", "wait": "watcher", "timeout": 120})).await;

    c.ok(&["create", "namespace", "other"]).await;
    let refused = helm
        .run(json!({"op": "install", "release": "web", "namespace": "other", "chart": web, "wait": "watcher", "timeout": 30}))
        .await
        .expect_err("another namespace is forbidden");
    assert!(refused.message.contains("forbidden: User \"deployer\" cannot"), "{refused:?}");
    assert!(items(&c.json(&["get", "all", "-n", "other"]).await).is_empty());
}
