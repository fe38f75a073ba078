//! Whole pipelines through the engine: stages as barriers, targets at once,
//! failures that stop the run and trigger `on-failure` for touched targets,
//! hostile plugins contained at the pipeline level, grants refused before
//! anything runs, interrupts, records, masking and exit codes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gantry_engine::event::{Event, RunStatus, StepStatus};
use gantry_engine::{RunOptions, RunOutcome, Vars};
use gantry_runtime::{Runtime, RuntimeConfig};
use tokio_util::sync::CancellationToken;

fn fixture_path(name: &str) -> String {
    gantry_tests::FIXTURES.iter().find(|(n, _)| *n == name).map(|(_, p)| p.to_string()).unwrap_or_else(|| panic!("no fixture {name}"))
}

struct Harness {
    dir: tempfile::TempDir,
    runtime: Arc<Runtime>,
}

impl Harness {
    fn new() -> Harness {
        Harness { dir: tempfile::tempdir().unwrap(), runtime: Arc::new(Runtime::new(RuntimeConfig::default()).unwrap()) }
    }

    fn write(&self, yaml: &str) -> PathBuf {
        let path = self.dir.path().join("gantry.yaml");
        std::fs::write(&path, yaml).unwrap();
        path
    }

    fn plan(&self, yaml: &str, vars: &Vars) -> Result<gantry_engine::Plan, gantry_engine::Diagnostics> {
        let path = self.write(yaml);
        let pipeline = gantry_engine::load(&path, vars)?;
        gantry_engine::plan(pipeline, &self.runtime)
    }

    async fn run(&self, yaml: &str) -> (RunOutcome, Vec<Event>) {
        self.run_with(yaml, &Vars::empty(), CancellationToken::new(), |_, _| {}).await
    }

    /// Run, collecting events; `on_event` may react (e.g. cancel) to each.
    async fn run_with(&self, yaml: &str, vars: &Vars, cancel: CancellationToken, on_event: impl Fn(&Event, &CancellationToken) + Send + Sync + 'static) -> (RunOutcome, Vec<Event>) {
        let plan = Arc::new(self.plan(yaml, vars).unwrap_or_else(|d| panic!("plan failed:\n{d}")));
        let events: Arc<Mutex<Vec<Event>>> = Arc::default();
        let sink = {
            let events = events.clone();
            let cancel = cancel.clone();
            Arc::new(move |e: &Event| {
                on_event(e, &cancel);
                events.lock().unwrap().push(e.clone());
            })
        };
        let opts = RunOptions { state_dir: self.dir.path().join(".gantry"), cancel, abort: CancellationToken::new(), events: sink, revision: Some("abc123".into()), clusters: Default::default(), helm: Default::default(), images: None, scanner: None, metrics: Default::default() };
        let outcome = gantry_engine::run(plan, self.runtime.clone(), opts).await;
        let events = events.lock().unwrap().clone();
        (outcome, events)
    }
}

fn position(events: &[Event], pred: impl Fn(&Event) -> bool) -> Vec<usize> {
    events.iter().enumerate().filter(|(_, e)| pred(e)).map(|(i, _)| i).collect()
}

fn started(stage: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::StepStarted { stage: s, .. } if s == stage)
}

fn finished(stage: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::StepFinished { stage: s, .. } if s == stage)
}

const TWO_TARGETS: &str = "targets:\n  aws: { sim: {} }\n  gcp: { sim: {} }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_are_barriers_and_a_stage_runs_on_every_target_at_once() {
    let h = Harness::new();
    let scripted = fixture_path("scripted");
    let yaml = format!(
        "name: order\n{TWO_TARGETS}stages:\n  - {{ name: first, uses: {scripted}, with: {{ sleep_ms: 1500 }} }}\n  - {{ name: second, uses: {scripted} }}\n"
    );
    let (outcome, events) = h.run(&yaml).await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    let first_started = position(&events, started("first"));
    let first_finished = position(&events, finished("first"));
    let second_started = position(&events, started("second"));
    assert_eq!((first_started.len(), first_finished.len(), second_started.len()), (2, 2, 2));
    // Both targets were running `first` before either finished it...
    assert!(first_started.iter().max() < first_finished.iter().min(), "targets ran one after the other: {events:#?}");
    // ...and `second` started nowhere before `first` finished everywhere.
    assert!(first_finished.iter().max() < second_started.iter().min(), "stage `second` started before the barrier");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_stage_stops_the_run_and_on_failure_runs_for_the_touched_targets() {
    let h = Harness::new();
    let scripted = fixture_path("scripted");
    let yaml = format!(
        "name: fail\n{TWO_TARGETS}stages:\n  - {{ name: prepare, uses: {scripted}, once: true }}\n  - {{ name: deploy, uses: {scripted}, with: {{ fail: \"canary never became ready\", fail_on: gcp }} }}\n  - {{ name: promote, uses: {scripted} }}\non-failure: builtin:rollback\n"
    );
    let (outcome, events) = h.run(&yaml).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.status.exit_code(), 1);
    let r = &outcome.record;
    assert_eq!(r.failed_stage.as_deref(), Some("deploy"));
    let deploy = &r.stages[1];
    let by_target = |t: &str| deploy.steps.iter().find(|s| s.target.as_deref() == Some(t)).unwrap().status;
    assert_eq!((by_target("aws"), by_target("gcp")), (StepStatus::Succeeded, StepStatus::Failed));
    let gcp_error = deploy.steps.iter().find_map(|s| s.error.clone()).unwrap();
    assert_eq!(gcp_error.message, "canary never became ready");
    assert_eq!(r.stages[2].status, StepStatus::Skipped, "no stage runs after a failure");
    assert!(position(&events, started("promote")).is_empty());
    let recovery = r.on_failure.as_ref().expect("on-failure ran");
    let targets: Vec<_> = recovery.steps.iter().map(|s| (s.target.clone().unwrap(), s.status)).collect();
    assert_eq!(targets, vec![("aws".to_string(), StepStatus::Succeeded), ("gcp".to_string(), StepStatus::Succeeded)]);
    assert!(recovery.steps[0].summary.contains("nothing to undo"), "{:?}", recovery.steps[0]);

    // The record on disk says the same.
    let path = outcome.record_path.clone().expect("record written");
    assert!(path.starts_with(h.dir.path().join(".gantry/runs")));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["status"], "failed");
    assert_eq!(json["exit_code"], 1);
    assert_eq!(json["revision"], "abc123");
    assert_eq!(json["stages"][1]["steps"][1]["error"]["message"], "canary never became ready");
    assert_eq!(json["on_failure"]["steps"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_only_runs_where_a_stage_touched_a_target() {
    let h = Harness::new();
    let scripted = fixture_path("scripted");
    let yaml = format!("name: early\n{TWO_TARGETS}stages:\n  - {{ name: build, uses: {scripted}, once: true, with: {{ fail: broken }} }}\n  - {{ name: deploy, uses: {scripted} }}\non-failure: builtin:rollback\n");
    let (outcome, events) = h.run(&yaml).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.record.on_failure.is_none(), "nothing was touched, nothing to roll back");
    assert!(events.iter().any(|e| matches!(e, Event::RecoveryStarted { targets, .. } if targets.is_empty())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_reach_on_failure_and_a_failed_rollback_exits_3() {
    let h = Harness::new();
    let scripted = fixture_path("scripted");
    // `deploy` records how to undo itself; `check` fails; builtin:rollback
    // then calls helm.uninstall, but no target has a Helm backend in this
    // run (no cluster connected): exit 3, named.
    let yaml = format!(
        "name: undo\nrelease: {{ name: app, chart: ./chart }}\n{TWO_TARGETS}stages:\n  - {{ name: deploy, uses: {scripted}, with: {{ outputs: {{ undo: [ {{ action: uninstall, release: app-canary }} ] }} }} }}\n  - {{ name: check, uses: {scripted}, with: {{ fail: unhealthy }} }}\non-failure: builtin:rollback\n"
    );
    let (outcome, _) = h.run(&yaml).await;
    assert_eq!(outcome.status, RunStatus::RollbackFailed);
    assert_eq!(outcome.status.exit_code(), 3);
    let recovery = outcome.record.on_failure.unwrap();
    for step in &recovery.steps {
        assert_eq!(step.status, StepStatus::Failed);
        let e = step.error.as_ref().unwrap();
        assert!(e.message.contains("has no Helm backend in this run"), "{}", e.message);
        assert!(step.logs.iter().any(|l| l.message.contains("uninstalling app-canary (installed by deploy)")), "{:?}", step.logs);
    }
}

/// Each hostile fixture, run as a per-target stage on two targets: the
/// stage fails with the cause named, the host survives, on-failure runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_fail_their_stage_and_on_failure_still_runs() {
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "host-secret-marker-5c1f").unwrap();
    let cases: [(&str, String, &str); 8] = [
        ("loop", "{}".into(), "deadline"),
        ("memory-bomb", "{}".into(), "memory-cap"),
        ("trap", "{}".into(), "trap"),
        ("panic", "{}".into(), "trap"),
        ("log-flood", "{}".into(), "log-flood"),
        ("stdout-flood", "{}".into(), "log-flood"),
        ("fs-read", format!("{{ path: \"{}\" }}", secret.path().display()), "failed"),
        ("socket", "{ port: 9 }".into(), "failed"),
    ];
    let h = Harness::new();
    for (fixture, with, kind) in cases {
        let yaml = format!(
            "name: hostile\n{TWO_TARGETS}stages:\n  - {{ name: hostile, uses: {}, timeout: 2s, memory: 64Mi, with: {with} }}\non-failure: builtin:rollback\n",
            fixture_path(fixture)
        );
        let (outcome, _) = h.run(&yaml).await;
        assert_eq!(outcome.status, RunStatus::Failed, "{fixture}");
        let stage = &outcome.record.stages[0];
        for step in &stage.steps {
            let e = step.error.as_ref().unwrap_or_else(|| panic!("{fixture} did not fail"));
            assert_eq!(e.kind, kind, "{fixture}: {}", e.message);
            assert!(!e.message.is_empty());
        }
        let recovery = outcome.record.on_failure.as_ref().unwrap_or_else(|| panic!("{fixture}: on-failure did not run"));
        assert!(recovery.steps.iter().all(|s| s.status == StepStatus::Succeeded), "{fixture}: {:?}", recovery.steps);
        let text = serde_json::to_string(&outcome.record).unwrap();
        assert!(!text.contains("host-secret-marker-5c1f"), "{fixture} leaked a host file");
    }
}

#[test]
fn an_ungranted_capability_is_refused_before_anything_runs_with_the_line_to_add() {
    let h = Harness::new();
    let ungranted = fixture_path("ungranted");
    let yaml = format!("name: grants\nrelease: {{ name: app, chart: ./chart }}\n{TWO_TARGETS}stages:\n  - {{ name: ok, uses: builtin:echo, with: {{ message: hi }} }}\n  - name: sneaky\n    uses: {ungranted}\n");
    let d = h.plan(&yaml, &Vars::empty()).err().expect("refused").0.remove(0);
    assert_eq!(d.field, "stages[1].uses");
    assert_eq!(d.line, 9, "{d}");
    assert!(d.message.contains("stage `sneaky`") && d.message.contains(&ungranted) && d.message.contains("`helm`"), "{d}");
    assert_eq!(d.hint.as_deref(), Some("add `grants: [helm]` to stage `sneaky`"));

    // With a grants list that lacks it, the hint points at that list.
    let yaml2 = yaml.replace("    uses: ", "    grants: [cluster-read]\n    uses: ");
    let d = h.plan(&yaml2, &Vars::empty()).err().expect("refused").0.remove(0);
    assert_eq!(d.field, "stages[1].grants");
    assert!(d.hint.as_deref().unwrap().contains("add `helm` to the `grants:` list of stage `sneaky` (line 9)"), "{d}");

    // Granted, it plans.
    let yaml3 = yaml.replace("    uses: ", "    grants: [helm]\n    uses: ");
    assert!(h.plan(&yaml3, &Vars::empty()).is_ok());
}

#[test]
fn a_sha256_pin_is_verified() {
    let h = Harness::new();
    let path = fixture_path("scripted");
    let digest = gantry_runtime::digest(&std::fs::read(&path).unwrap());
    let good = format!("name: pin\n{TWO_TARGETS}stages:\n  - {{ name: a, uses: \"{path}@{digest}\" }}\n");
    assert!(h.plan(&good, &Vars::empty()).is_ok());
    let wrong = format!("sha256:{}", "0".repeat(64));
    let bad = format!("name: pin\n{TWO_TARGETS}stages:\n  - {{ name: a, uses: \"{path}@{wrong}\" }}\n");
    let d = h.plan(&bad, &Vars::empty()).err().expect("refused").0.remove(0);
    assert!(d.message.contains("does not match the pinned"), "{d}");
    assert!(d.message.contains(&digest), "the message gives the real digest: {d}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_stops_running_plugins_and_runs_on_failure() {
    let h = Harness::new();
    let yaml = format!("name: interrupt\n{TWO_TARGETS}stages:\n  - {{ name: long, uses: builtin:pause, with: {{ duration: 10m }}, timeout: 20m }}\n  - {{ name: after, uses: builtin:echo, with: {{ message: never }} }}\non-failure: builtin:rollback\n");
    let seen = Arc::new(Mutex::new(0));
    let (outcome, events) = h
        .run_with(&yaml, &Vars::empty(), CancellationToken::new(), move |e, cancel| {
            // Cancel once both targets are pausing (their first progress line).
            if let Event::Log { stage, line, .. } = e {
                if stage == "long" && line.progress.is_some() {
                    let mut n = seen.lock().unwrap();
                    *n += 1;
                    if *n == 2 {
                        cancel.cancel();
                    }
                }
            }
        })
        .await;
    assert!(outcome.interrupted);
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.record.stages[0].status, StepStatus::Interrupted);
    assert!(outcome.record.stages[0].steps.iter().all(|s| s.error.as_ref().unwrap().kind == "interrupted"));
    assert_eq!(outcome.record.stages[1].status, StepStatus::Skipped);
    let recovery = outcome.record.on_failure.as_ref().expect("on-failure ran after the interrupt");
    assert!(recovery.steps.iter().all(|s| s.status == StepStatus::Succeeded));
    assert!(position(&events, started("after")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_variables_are_masked_in_logs_outputs_events_and_records() {
    let h = Harness::new();
    let scripted = fixture_path("scripted");
    let mut vars = Vars::empty();
    vars.set("API_TOKEN", "tok-9f8e7d6c5b4a");
    let yaml = format!("name: mask\n{TWO_TARGETS}stages:\n  - {{ name: leak, uses: {scripted}, with: {{ log: \"token is ${{API_TOKEN}}\", outputs: {{ t: \"${{API_TOKEN}}\" }} }} }}\n");
    let (outcome, events) = h.run_with(&yaml, &vars, CancellationToken::new(), |_, _| {}).await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    let step = &outcome.record.stages[0].steps[0];
    assert!(step.logs.iter().any(|l| l.message == "token is [masked]"), "{:?}", step.logs);
    assert_eq!(step.outputs["t"], "[masked]");
    let all = format!("{}{}", serde_json::to_string(&events).unwrap(), std::fs::read_to_string(outcome.record_path.unwrap()).unwrap());
    assert!(!all.contains("tok-9f8e7d6c5b4a"));
    assert!(outcome.record.variables.contains(&"API_TOKEN".to_string()), "the name is recorded, not the value");
}

/// The request's pipeline (also the embedded demo) plans with the
/// variables the request names: seven stages on two targets.
#[test]
fn the_example_pipeline_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut vars = Vars::empty();
    for (k, v) in [("AWS_ACCOUNT_ID", "111122223333"), ("AWS_REGION", "eu-west-1"), ("CLUSTER_AWS", "prod-eks"), ("GCP_PROJECT", "p"), ("GCP_REGION", "europe-west1"), ("CLUSTER_GCP", "prod-gke"), ("GCP_SERVICE_ACCOUNT_KEY", "/k.json")] {
        vars.set(k, v);
    }
    let pipeline = gantry_engine::load(&root.join("examples/fastapi-app/gantry.yaml"), &vars).unwrap();
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let plan = gantry_engine::plan(pipeline, &runtime).unwrap();
    assert_eq!(plan.stages.len(), 7);
    assert_eq!(plan.targets.len(), 2);
}
