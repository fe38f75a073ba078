//! Health-check stages driven by the host, on a simulated cluster: the
//! request's chart (`helm/fastapi-app`) is deployed by a fixture stage
//! (`fixture-deploy`, which records `undo` as a deploy stage does), pods
//! behave as their `sim.gantry.dev/*` annotations say, and
//! `builtin:health-http` — or a custom health check from
//! `examples/health-checks` in Rust, Python or JavaScript — judges the
//! release, with the host applying interval, thresholds and deadline.
//! An interrupt (the run's cancel token, as SIGINT cancels it) during a
//! health stage or a wait stops it at once and `builtin:rollback` removes
//! the canary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gantry_cluster::{KubeBackend, Target};
use gantry_engine::event::{Event, RunStatus, StepStatus};
use gantry_engine::record::StepRecord;
use gantry_engine::{RunOptions, RunOutcome, Vars};
use gantry_release::{Driver, ReleasesBackend};
use gantry_runtime::cluster::{ClusterBackend, ObjectKey};
use gantry_runtime::{Clusters, HelmBackend, HelmBackends, Runtime, RuntimeConfig};
use gantry_sim::estate::ClusterSpec;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::common::fixture_path;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// When to cancel the run (as the first SIGINT does), judged on each event.
pub type Interrupt = Box<dyn Fn(&Event) -> bool + Send + Sync>;

/// Plan and run `yaml` (written as `dir/gantry.yaml`), every wait shortened
/// to `wait` when given, cancelled when `interrupt` first says so; the
/// outcome and every event.
pub async fn run_driven(dir: &Path, yaml: &str, clusters: Clusters, helm: HelmBackends, wait: Option<Duration>, interrupt: Option<Interrupt>) -> (RunOutcome, Vec<Event>) {
    let path = dir.join("gantry.yaml");
    std::fs::write(&path, yaml).unwrap();
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let pipeline = gantry_engine::load(&path, &Vars::empty()).unwrap_or_else(|d| panic!("{d}"));
    let mut plan = gantry_engine::plan(pipeline, &runtime).unwrap_or_else(|d| panic!("{d}"));
    if let Some(w) = wait {
        plan.shorten_waits(w);
    }
    let cancel = CancellationToken::new();
    let seen: Arc<Mutex<Vec<Event>>> = Arc::default();
    let events = {
        let seen = seen.clone();
        let cancel = cancel.clone();
        Arc::new(move |e: &Event| {
            if interrupt.as_ref().is_some_and(|f| f(e)) {
                cancel.cancel();
            }
            seen.lock().unwrap().push(e.clone());
        })
    };
    let opts = RunOptions { state_dir: dir.join(".gantry"), cancel, abort: CancellationToken::new(), events, revision: None, clusters, helm, images: None, scanner: None, metrics: Default::default() };
    let outcome = gantry_engine::run(Arc::new(plan), runtime, opts).await;
    let events = seen.lock().unwrap().clone();
    (outcome, events)
}

/// One simulated cluster `aws`, connected as `gantry run` connects it, with
/// Helm releases of the request's chart.
pub struct Sim {
    pub estate: gantry_sim::Estate,
    pub objects: Arc<dyn ClusterBackend>,
    pub clusters: Clusters,
    pub helm: HelmBackends,
}

pub async fn sim(dir: &Path) -> Sim {
    let estate = gantry_sim::Estate::start_clusters(&dir.join("sim"), &[ClusterSpec::plain("aws")]).await.expect("estate starts");
    let client = Target::kubeconfig("aws", Some(estate.kubeconfig.clone()), "aws").connect().await.expect("connects");
    let objects: Arc<dyn ClusterBackend> = Arc::new(KubeBackend::new("aws", client.clone()));
    let helm: Arc<dyn HelmBackend> = Arc::new(ReleasesBackend::new("aws", client, Driver::Secret, &root().join("helm/fastapi-app")));
    Sim { estate, objects: objects.clone(), clusters: Arc::new(BTreeMap::from([("aws".to_string(), objects)])), helm: Arc::new(BTreeMap::from([("aws".to_string(), helm)])) }
}

/// A pipeline of `stages` (one YAML line each) for release `fastapi-app` on target `aws`, with `builtin:rollback` on failure.
pub fn pipeline(stages: &[String]) -> String {
    let chart = root().join("helm/fastapi-app");
    let mut yaml = format!("name: health\nrelease: {{ name: fastapi-app, chart: \"{}\" }}\ntargets:\n  aws: {{ sim: {{}} }}\nstages:\n", chart.display());
    for s in stages {
        yaml.push_str(&format!("  - {s}\n"));
    }
    yaml.push_str("on-failure: builtin:rollback\n");
    yaml
}

/// A `fixture-deploy` stage: the `track`'s release, one replica, pods annotated with `annotations`.
pub fn deploy(name: &str, track: &str, annotations: Value) -> String {
    let mut all = json!({"sim.gantry.dev/ready-after": "0s"});
    all.as_object_mut().unwrap().extend(annotations.as_object().cloned().unwrap_or_default());
    // A values document: JSON is YAML.
    let values = json!({"replicaCount": 1, "podAnnotations": all}).to_string();
    json!({"name": name, "uses": fixture_path("deploy"), "grants": ["helm"], "with": {"track": track, "values": [values]}}).to_string()
}

/// A stage of `uses` with `with`.
pub fn stage(name: &str, uses: &str, with: Value) -> String {
    json!({"name": name, "uses": uses, "with": with}).to_string()
}

pub fn step<'a>(outcome: &'a RunOutcome, stage: &str) -> &'a StepRecord {
    &outcome.record.stages.iter().find(|s| s.name == stage).unwrap_or_else(|| panic!("no stage {stage}")).steps[0]
}

fn log_lines(step: &StepRecord) -> Vec<String> {
    step.logs.iter().map(|l| l.message.clone()).collect()
}

async fn helm_release_exists(objects: &Arc<dyn ClusterBackend>, release: &str) -> bool {
    let key = ObjectKey { api_version: "v1".into(), kind: "Secret".into(), namespace: Some("default".into()), name: format!("sh.helm.release.v1.{release}.v1") };
    objects.get(&key).await.is_ok()
}

fn health(with: Value) -> String {
    stage("health-canary", "builtin:health-http", with)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_release_passes_every_check_on_both_tracks() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path()).await;
    let stages = [
        deploy("deploy-stable", "stable", json!({})),
        deploy("deploy-canary", "canary", json!({"sim.gantry.dev/http-paths": r#"{"/health": {"status": 200, "body": {"status": "ok", "db": {"ok": true}}}}"#})),
        health(json!({"interval": "200ms", "deadline": "60s", "expect-json": {"status": "ok", "db.ok": true}, "max-latency": "5s"})),
        stage("health-stable", "builtin:health-http", json!({"track": "stable", "interval": "200ms", "deadline": "60s"})),
    ];
    let (outcome, _) = run_driven(dir.path(), &pipeline(&stages), sim.clusters.clone(), sim.helm.clone(), None, None).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let canary = step(&outcome, "health-canary");
    assert_eq!(canary.outputs["health"], "healthy", "{}", canary.outputs);
    assert_eq!((canary.outputs["track"].as_str(), canary.outputs["release"].as_str()), (Some("canary"), Some("fastapi-app-canary")), "the track the deploy stage recorded");
    let names: Vec<&str> = canary.outputs["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["rollout", "crash-loop", "http"]);
    let http = &canary.outputs["checks"][2];
    assert!(http["passed"].as_bool().unwrap() && http["latency_ms"].is_u64(), "{http}");
    assert!(http["message"].as_str().unwrap().contains("on pod fastapi-app-canary-"), "the canary's own pods are probed: {http}");
    assert!(canary.outputs["attempts"].as_u64().unwrap() >= 1);
    let stable = step(&outcome, "health-stable");
    assert_eq!(stable.outputs["health"], "healthy", "{}", stable.outputs);
    assert!(stable.outputs["checks"][2]["message"].as_str().unwrap().contains("on service fastapi-app"), "{}", stable.outputs);
    sim.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_looping_canary_fails_naming_the_crash_loop_check_and_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path()).await;
    let stages = [
        deploy("deploy-stable", "stable", json!({})),
        deploy("deploy-canary", "canary", json!({"sim.gantry.dev/behavior": "crashloop"})),
        health(json!({"interval": "200ms", "failure-threshold": 2, "deadline": "60s"})),
        stage("after", "builtin:echo", json!({"message": "never"})),
    ];
    let (outcome, _) = run_driven(dir.path(), &pipeline(&stages), sim.clusters.clone(), sim.helm.clone(), None, None).await;
    assert_eq!(outcome.status, RunStatus::Failed, "{:#?}", outcome.record.stages);
    let s = step(&outcome, "health-canary");
    assert_eq!(s.status, StepStatus::Failed);
    let error = s.error.as_ref().unwrap();
    assert_eq!(error.kind, "unhealthy", "{error:?}");
    assert!(error.message.contains("check `crash-loop` failed") && error.message.contains("CrashLoopBackOff"), "{}", error.message);
    assert!(error.message.contains("2 times in a row"), "{}", error.message);
    assert_eq!(s.outputs["health"], "unhealthy");
    assert_eq!(outcome.record.stages[3].status, StepStatus::Skipped);
    let recovery = outcome.record.on_failure.as_ref().expect("on-failure ran");
    assert_eq!(recovery.status, StepStatus::Succeeded, "{:#?}", recovery.steps);
    assert!(!helm_release_exists(&sim.objects, "fastapi-app-canary").await, "the canary was uninstalled");
    sim.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_health_endpoint_fails_after_the_failure_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path()).await;
    let stages = [
        deploy("deploy-stable", "stable", json!({})),
        deploy("deploy-canary", "canary", json!({"sim.gantry.dev/http-paths": r#"{"/health": {"status": 503, "body": "database down"}}"#})),
        health(json!({"interval": "100ms", "failure-threshold": 3, "deadline": "60s"})),
    ];
    let (outcome, _) = run_driven(dir.path(), &pipeline(&stages), sim.clusters.clone(), sim.helm.clone(), None, None).await;
    let s = step(&outcome, "health-canary");
    assert_eq!(s.status, StepStatus::Failed, "{:#?}", outcome.record.stages);
    let message = &s.error.as_ref().unwrap().message;
    assert!(message.contains("check `http` failed") && message.contains("503") && message.contains("database down"), "{message}");
    assert!(message.contains("3 times in a row, failure-threshold 3"), "{message}");
    let unhealthy = log_lines(s).iter().filter(|l| l.contains(": unhealthy")).count();
    assert_eq!(unhealthy, 3, "exactly failure-threshold unhealthy evaluations: {:?}", log_lines(s));
    sim.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_still_rolling_out_is_progressing_then_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path()).await;
    let stages = [
        deploy("deploy-stable", "stable", json!({})),
        deploy("deploy-canary", "canary", json!({"sim.gantry.dev/ready-after": "1500ms"})),
        health(json!({"interval": "100ms", "success-threshold": 2, "failure-threshold": 1, "deadline": "60s"})),
    ];
    let (outcome, _) = run_driven(dir.path(), &pipeline(&stages), sim.clusters.clone(), sim.helm.clone(), None, None).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let s = step(&outcome, "health-canary");
    let lines = log_lines(s);
    let first_healthy = lines.iter().position(|l| l.contains(": healthy")).unwrap();
    assert!(lines[..first_healthy].iter().any(|l| l.contains(": progressing")), "progressing first: {lines:?}");
    assert_eq!(lines.iter().filter(|l| l.contains(": healthy")).count(), 2, "success-threshold 2: {lines:?}");
    assert!(s.outputs["attempts"].as_u64().unwrap() > 2);
    sim.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_never_ready_fails_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path()).await;
    let stages = [deploy("deploy-stable", "stable", json!({})), deploy("deploy-canary", "canary", json!({"sim.gantry.dev/behavior": "never-ready"})), health(json!({"interval": "200ms", "deadline": "1s"}))];
    let (outcome, _) = run_driven(dir.path(), &pipeline(&stages), sim.clusters.clone(), sim.helm.clone(), None, None).await;
    let s = step(&outcome, "health-canary");
    assert_eq!(s.status, StepStatus::Failed, "{:#?}", outcome.record.stages);
    let error = s.error.as_ref().unwrap();
    assert_eq!(error.kind, "deadline");
    assert!(error.message.contains("within the deadline of 1s") && error.message.contains("last progressing"), "{}", error.message);
    assert!(error.hint.as_deref().unwrap().contains("deadline"));
    assert_eq!(s.outputs["health"], "progressing");
    sim.estate.shutdown().await;
}

/// Cancel once a log line of `stage` contains `needle`.
fn on_log(stage: &'static str, needle: &'static str) -> Interrupt {
    Box::new(move |e| matches!(e, Event::Log { stage: s, line, .. } if s == stage && line.message.contains(needle)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_during_a_health_stage_stops_it_at_once_and_rolls_the_canary_back() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path()).await;
    let stages = [deploy("deploy-stable", "stable", json!({})), deploy("deploy-canary", "canary", json!({"sim.gantry.dev/behavior": "never-ready"})), health(json!({"interval": "100ms", "deadline": "10m"}))];
    let (outcome, events) = run_driven(dir.path(), &pipeline(&stages), sim.clusters.clone(), sim.helm.clone(), None, Some(on_log("health-canary", "attempt 2:"))).await;
    assert!(outcome.interrupted);
    assert_eq!(outcome.status, RunStatus::Failed);
    let s = step(&outcome, "health-canary");
    assert_eq!(s.status, StepStatus::Interrupted, "{:#?}", outcome.record.stages);
    assert!(s.outputs["attempts"].as_u64().unwrap() <= 3, "stopped at the interrupt, not at the 10m deadline: {}", s.outputs);
    assert!(events.iter().any(|e| matches!(e, Event::RecoveryStarted { .. })));
    assert_eq!(outcome.record.on_failure.as_ref().map(|r| r.status), Some(StepStatus::Succeeded));
    assert!(!helm_release_exists(&sim.objects, "fastapi-app-canary").await, "the canary was uninstalled");
    assert!(!helm_release_exists(&sim.objects, "fastapi-app").await, "stable was installed by this run too: undone as well");
    sim.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_during_the_wait_stops_it_at_once_and_rolls_the_canary_back() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path()).await;
    let stages = [
        deploy("deploy-canary", "canary", json!({})),
        health(json!({"interval": "100ms", "deadline": "60s", "http": false})),
        stage("wait-for-canary", &fixture_path("analysis"), json!({"duration": "10m", "interval": "100ms"})),
    ];
    let (outcome, _) = run_driven(dir.path(), &pipeline(&stages), sim.clusters.clone(), sim.helm.clone(), None, Some(on_log("wait-for-canary", "analyze 2/"))).await;
    assert!(outcome.interrupted);
    let s = step(&outcome, "wait-for-canary");
    assert_eq!(s.status, StepStatus::Interrupted, "{:#?}", outcome.record.stages);
    assert!(s.outputs["completed"].as_u64().unwrap() <= 3, "{}", s.outputs);
    assert_eq!(s.outputs["intervals"], 6000);
    let health = s.outputs["health"].as_array().unwrap();
    assert!(!health.is_empty() && health.iter().all(|h| h["health"] == "healthy"), "the canary was re-checked at each interval: {}", s.outputs);
    assert_eq!(outcome.record.on_failure.as_ref().map(|r| r.status), Some(StepStatus::Succeeded));
    assert!(!helm_release_exists(&sim.objects, "fastapi-app-canary").await, "the canary was uninstalled");
    sim.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_probe_reaches_pods_of_the_pipelines_releases_only() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path()).await;
    for (name, release) in [("canary-pod", "fastapi-app-canary"), ("other-pod", "someone-else")] {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": {"app.kubernetes.io/instance": release},
            "annotations": {"sim.gantry.dev/ready-after": "0s", "sim.gantry.dev/http-paths": format!(r#"{{"/health": {{"status": 200, "body": "{name} ok"}}}}"#)}},
            "spec": {"containers": [{"name": "app", "image": "fastapi-app:1", "ports": [{"name": "http", "containerPort": 8000}]}]}});
        sim.objects.apply(&pod, gantry_runtime::cluster::ApplyOptions::default()).await.unwrap();
    }
    let key = ObjectKey { api_version: "v1".into(), kind: "Pod".into(), namespace: Some("default".into()), name: "canary-pod".into() };
    let guard = std::time::Instant::now() + Duration::from_secs(60);
    while sim.objects.get(&key).await.ok().and_then(|p| p["status"]["phase"].as_str().map(|s| s == "Running")) != Some(true) {
        assert!(std::time::Instant::now() < guard, "the pod never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let calls = json!({"calls": [
        {"op": "probe", "pod": "canary-pod", "port": "8000", "path": "/health"},
        {"op": "probe", "pod": "other-pod", "port": "8000", "path": "/health"},
        {"op": "probe", "pod": "canary-pod", "port": "8000", "path": "/health", "namespace": "kube-system"},
    ]});
    let probe = json!({"name": "probe", "uses": fixture_path("cluster"), "grants": ["cluster-read", "cluster-write", "http-probe"], "with": calls}).to_string();
    let (outcome, _) = run_driven(dir.path(), &pipeline(&[probe]), sim.clusters.clone(), sim.helm.clone(), None, None).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let s = step(&outcome, "probe");
    let answer = |i: usize| s.outputs["results"][i]["answer"].clone();
    assert_eq!((answer(0)["status"].as_u64(), answer(0)["body"].as_str()), (Some(200), Some("canary-pod ok")), "{}", answer(0));
    assert_eq!(answer(1)["error"], "denied", "{}", answer(1));
    assert!(answer(1)["message"].as_str().unwrap().contains("someone-else"), "{}", answer(1));
    assert_eq!(answer(2)["error"], "denied", "{}", answer(2));
    assert!(log_lines(s).iter().filter(|l| l.starts_with("denied http-probe.get")).count() == 2, "{:?}", log_lines(s));
    sim.estate.shutdown().await;
}

/// A toolchain binary from `env` or the CI location; None (after saying why) when missing outside CI; a panic under CI.
fn tool(env: &str, default: &str) -> Option<PathBuf> {
    gantry_registry::testing::tool(env, root().join(default))
}

fn build(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{what} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn examples_out() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let dir = target.join("health-examples");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run a custom health check (`wasm`) on a healthy canary and on a crash-looping one.
async fn prove_example(wasm: &Path, with: Value, failing: Value, says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let sim_dir = dir.path().join("healthy");
    std::fs::create_dir_all(&sim_dir).unwrap();
    let sim = self::sim(&sim_dir).await;
    let check = |name: &str, with: &Value| json!({"name": name, "uses": wasm.display().to_string(), "grants": ["cluster-read", "http-probe"], "with": with}).to_string();
    let mut settings = with.clone();
    settings.as_object_mut().unwrap().extend([("interval".to_string(), json!("100ms")), ("deadline".to_string(), json!("60s")), ("failure-threshold".to_string(), json!(2))]);
    let stages = [deploy("deploy-stable", "stable", json!({})), deploy("deploy-canary", "canary", json!({})), check("health-canary", &settings)];
    let (outcome, _) = run_driven(&sim_dir, &pipeline(&stages), sim.clusters.clone(), sim.helm.clone(), None, None).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    assert_eq!(step(&outcome, "health-canary").outputs["health"], "healthy");

    sim.estate.shutdown().await;

    // A fresh cluster: no pod of the healthy release lingers into the failing one's rollout.
    let sim_dir = dir.path().join("failing");
    std::fs::create_dir_all(&sim_dir).unwrap();
    let sim = self::sim(&sim_dir).await;
    let stages = [deploy("deploy-stable", "stable", json!({})), deploy("deploy-canary", "canary", failing), check("health-canary", &settings)];
    let (outcome, _) = run_driven(&sim_dir, &pipeline(&stages), sim.clusters.clone(), sim.helm.clone(), None, None).await;
    let s = step(&outcome, "health-canary");
    assert_eq!(s.status, StepStatus::Failed, "{:#?}", outcome.record.stages);
    let message = &s.error.as_ref().unwrap().message;
    assert!(message.contains(says), "{message}");
    sim.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_example_health_check_passes_a_ready_canary_and_fails_a_crash_looping_one() {
    let dir = root().join("examples/health-checks/rust-ready-pods");
    let target = examples_out().join("rust");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    build(
        Command::new(cargo).current_dir(&dir).args(["build", "--release", "--locked", "--target", "wasm32-wasip2", "--target-dir"]).arg(&target).env_remove("CARGO_TARGET_DIR"),
        "cargo build of examples/health-checks/rust-ready-pods",
    );
    prove_example(&target.join("wasm32-wasip2/release/rust_ready_pods.wasm"), json!({"min-ready": 1}), json!({"sim.gantry.dev/behavior": "crashloop"}), "check `ready-pods` failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_example_health_check_passes_an_ok_status_and_fails_a_degraded_one() {
    let Some(componentize) = tool("GANTRY_COMPONENTIZE_PY", "target/policy-toolchains/py/bin/componentize-py") else { return };
    let wasm = examples_out().join("python-status-field.wasm");
    build(
        Command::new(componentize).current_dir(root().join("examples/health-checks/python-status-field")).args(["-d", "../../../wit", "-w", "health-check", "componentize", "app", "-o"]).arg(&wasm),
        "componentize-py of examples/health-checks/python-status-field",
    );
    let degraded = json!({"sim.gantry.dev/http-paths": r#"{"/health": {"status": 200, "body": {"status": "degraded"}}}"#});
    prove_example(&wasm, json!({"field": "status", "expect": "ok"}), degraded, "check `status-field` failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_js_example_health_check_passes_few_restarts_and_fails_many() {
    let Some(componentize) = tool("GANTRY_COMPONENTIZE_JS", "target/policy-toolchains/js/node_modules/.bin/componentize-js") else { return };
    let wasm = examples_out().join("js-restarts.wasm");
    // run from the repository root: componentize-js reads the WIT through a sandbox that sees only the working directory
    build(
        Command::new(componentize)
            .current_dir(root())
            .args(["examples/health-checks/js-restarts/check.js", "--wit", "wit", "--world-name", "health-check", "-d", "stdio", "random", "clocks", "http", "fetch-event", "-o"])
            .arg(&wasm),
        "componentize-js of examples/health-checks/js-restarts",
    );
    prove_example(&wasm, json!({"max-restarts": 1}), json!({"sim.gantry.dev/behavior": "crashloop"}), "check `restarts` failed").await;
}
