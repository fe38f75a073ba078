//! The wait for a canary, driven by the host: a stage whose plugin is a
//! `canary-analysis` component (`fixture-analysis`, which answers per
//! interval what its settings say and echoes each request) is called at
//! every interval with the request filled in; `promote` ends the wait
//! passed, `abort` ends it at once, failed, with the verdict's reasons (the
//! later intervals are never called) and runs `on-failure`, the last
//! interval's `continue` passes, and `--wait` shortens every wait keeping
//! the count of intervals. Bad reserved keys are refused before anything
//! runs, with file, line, field and fix. (Interrupts during a wait, and
//! health re-checks during it, are in `health.rs`, on a cluster.)

use std::path::Path;
use std::time::Duration;

use gantry_engine::event::{RunStatus, StepStatus};
use gantry_engine::Vars;
use gantry_runtime::{Runtime, RuntimeConfig};
use serde_json::{json, Value};

use crate::common::fixture_path;
use crate::health::{run_driven, stage, step};

/// A pipeline on one target with release `app`: the wait stage `with`, then a stage that must run only after it passed.
fn pipeline(with: Value) -> String {
    format!(
        "name: wait\nrelease: {{ name: app, chart: ./chart }}\ntargets:\n  aws: {{ sim: {{}} }}\nstages:\n  - {}\n  - {}\non-failure: builtin:rollback\n",
        stage("wait-for-canary", &fixture_path("analysis"), with),
        stage("promote", "builtin:echo", json!({"message": "promoted"}))
    )
}

async fn run(with: Value, wait: Option<Duration>) -> gantry_engine::RunOutcome {
    let dir = tempfile::tempdir().unwrap();
    run_driven(dir.path(), &pipeline(with), Default::default(), Default::default(), wait, None).await.0
}

fn called(outcome: &gantry_engine::RunOutcome) -> Vec<String> {
    step(outcome, "wait-for-canary").logs.iter().filter(|l| l.message.starts_with("analyze ")).map(|l| l.message.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_ends_the_wait_early_and_the_request_carries_releases_window_and_interval() {
    let outcome = run(json!({"duration": "1s", "interval": "100ms", "health": false, "answers": {"3": "promote"}}), None).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let s = step(&outcome, "wait-for-canary");
    assert_eq!(called(&outcome), ["analyze 1/10", "analyze 2/10", "analyze 3/10"]);
    assert_eq!((s.outputs["decision"].as_str(), s.outputs["completed"].as_u64(), s.outputs["intervals"].as_u64()), (Some("promote"), Some(3), Some(10)), "{}", s.outputs);
    let echo = |i: usize| s.outputs["verdicts"][i]["reasons"][0].as_str().unwrap().to_string();
    assert!(echo(0).starts_with("target=aws canary=app-canary stable=app namespace=default interval=1/10 window="), "{}", echo(0));
    let started = |e: String| e.rsplit_once("started=").unwrap().1.to_string();
    assert_eq!(started(echo(0)), started(echo(2)), "one window start for the whole wait");
    let window = |e: &str| e.split("window=").nth(1).unwrap().split("ms").next().unwrap().parse::<u64>().unwrap();
    assert!(window(&echo(2)) > window(&echo(0)), "the window grows with each interval");
    assert_eq!(s.outputs["verdicts"][2]["score"], 95.0);
    assert!(s.summary.contains("promoted at interval 3 of 10"), "{}", s.summary);
    assert_eq!(step(&outcome, "promote").status, StepStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_ends_the_wait_at_once_with_the_reasons_and_later_intervals_are_never_called() {
    let outcome = run(json!({"duration": "2s", "interval": "100ms", "health": false, "answers": {"2": "abort", "3": "promote"}, "reasons": ["error rate 7.5% over the 1% budget"]}), None).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let s = step(&outcome, "wait-for-canary");
    assert_eq!(s.status, StepStatus::Failed);
    assert_eq!(called(&outcome), ["analyze 1/20", "analyze 2/20"], "nothing after the abort");
    let error = s.error.as_ref().unwrap();
    assert_eq!(error.kind, "aborted");
    assert!(error.message.contains("aborted app-canary on aws at interval 2 of 20") && error.message.contains("error rate 7.5% over the 1% budget"), "{}", error.message);
    assert_eq!(s.outputs["decision"], "abort");
    assert_eq!(s.outputs["verdicts"].as_array().unwrap().len(), 2);
    assert_eq!(outcome.record.stages[1].status, StepStatus::Skipped, "the stage after the wait never ran");
    assert_eq!(outcome.record.on_failure.as_ref().map(|r| r.status), Some(StepStatus::Succeeded), "on-failure ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_through_the_last_interval_passes() {
    let outcome = run(json!({"duration": "500ms", "interval": "100ms", "health": false}), None).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let s = step(&outcome, "wait-for-canary");
    assert_eq!(called(&outcome).len(), 5);
    assert_eq!((s.outputs["decision"].as_str(), s.outputs["completed"].as_u64()), (Some("continue"), Some(5)));
    assert!(s.logs.iter().any(|l| l.progress == Some((5, 5))), "progress per interval for the live view");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_wait_shortens_every_wait_keeping_the_count_of_intervals() {
    let outcome = run(json!({"duration": "10m", "interval": "1m", "health": false}), Some(Duration::from_secs(1))).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let s = step(&outcome, "wait-for-canary");
    assert_eq!((s.outputs["intervals"].as_u64(), s.outputs["interval-ms"].as_u64(), s.outputs["duration-ms"].as_u64()), (Some(10), Some(100), Some(1000)), "{}", s.outputs);
    assert_eq!(called(&outcome).len(), 10);
}

fn plan_error(dir: &Path, yaml: &str) -> gantry_engine::Diagnostic {
    let path = dir.join("gantry.yaml");
    std::fs::write(&path, yaml).unwrap();
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let loaded = gantry_engine::load(&path, &Vars::empty()).and_then(|p| gantry_engine::plan(p, &runtime));
    match loaded {
        Ok(_) => panic!("the pipeline was accepted"),
        Err(d) => d.0.into_iter().next().unwrap(),
    }
}

#[test]
fn bad_wait_and_health_keys_are_refused_before_running_with_line_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("name: wait\nrelease: {{ name: app, chart: ./chart }}\ntargets:\n  aws: {{ sim: {{}} }}\nstages:\n  - name: wait-for-canary\n    uses: {}\n    with:\n      duration: 10m\n      interval: soon\n", fixture_path("analysis"));
    let d = plan_error(dir.path(), &yaml);
    assert_eq!((d.field.as_str(), d.line), ("stages[0].with.interval", 10), "{d}");
    assert!(d.message.contains("`soon` is not a duration"), "{d}");
    assert!(d.hint.as_deref().unwrap().contains("interval: 30s"), "{d}");

    let yaml = "name: health\nrelease: { name: app, chart: ./chart }\ntargets:\n  aws: { sim: {} }\nstages:\n  - name: health-check-canary\n    uses: builtin:health-http\n    with:\n      deadline: 5\n";
    let d = plan_error(dir.path(), yaml);
    assert_eq!((d.field.as_str(), d.line), ("stages[0].with.deadline", 9), "{d}");
    assert!(d.hint.as_deref().unwrap().contains("deadline: 5m"), "{d}");

    let yaml = "name: health\ntargets:\n  aws: { sim: {} }\nstages:\n  - { name: health-check-canary, uses: builtin:health-http }\n";
    let d = plan_error(dir.path(), yaml);
    assert!(d.message.contains("has no `release:`"), "{d}");
}
