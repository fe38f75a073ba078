//! Traffic stepped by Gateway API weights, on the shared bed (two simulated
//! clusters, two registries, the repository's chart through gantry-release)
//! with a real Prometheus per cluster scraping the simulated pods: the
//! built-ins `builtin:helm-deploy` (`track: canary`, then `weight: 10`,
//! `50`, `100` on the stable release, then `track: stable`),
//! `builtin:canary-analysis` between the steps reading that Prometheus, and
//! `builtin:rollback`. Simulated users send their requests through the
//! stable release's HTTPRoute (its `sim.gantry.dev/traffic` annotation),
//! which the simulator splits by the route's backendRefs weights. What is
//! checked: the live route's weights at each step on both clusters, the
//! canary's share of requests as the analysis counted it in Prometheus
//! rising with the steps, weight 0 and no canary after promotion; a step
//! changing the route only (stable's pod template and image untouched,
//! named in `helm history`), and back to 0; a failure after a stepped
//! promotion rolled back once, to stable's revision before the run; an
//! analysis abort at the 50 step rolled back to stable's pre-run config
//! (weight 0) and no canary on both clusters; bad input refused with the
//! field and the fix, nothing changed. It owns these pipelines and
//! asserts; the bed owns setup. No timing asserts; nothing beyond 127.0.0.1.

use gantry_engine::event::{RunStatus, StepStatus};
use gantry_engine::RunOutcome;
use serde_json::{json, Value};

use crate::common::bed::{Bed, TARGETS};
use crate::common::fixture_path;

const ROUTE_API: &str = "gateway.networking.k8s.io/v1";

/// Gateway API mode on both releases; simulated users send 40 requests/s through the route.
fn gateway(extra: Value) -> Value {
    let mut values = json!({ "httpRoute": { "enabled": true, "annotations": { "sim.gantry.dev/traffic": "40" } } });
    if let (Some(v), Some(extra)) = (values.as_object_mut(), extra.as_object()) {
        v.extend(extra.clone());
    }
    values
}

fn stage(name: &str, uses: &str, with: Value) -> String {
    format!("  - {}\n", json!({ "name": name, "uses": uses, "with": with }))
}

fn build() -> String {
    stage("build", "builtin:build", json!({ "backend": "daemonless" }))
}

fn canary(values: Value) -> String {
    stage("deploy-canary", "builtin:helm-deploy", json!({ "track": "canary", "timeout": "2m", "values": values }))
}

fn promote() -> String {
    stage("promote-to-production", "builtin:helm-deploy", json!({ "track": "stable", "timeout": "2m", "values": gateway(json!({})) }))
}

fn shift(weight: u32) -> String {
    stage(&format!("shift-{weight}"), "builtin:helm-deploy", json!({ "weight": weight, "timeout": "2m" }))
}

/// The wait at a step, judged on a window of a few seconds (the bed's Prometheus scrapes every second).
fn analyse(weight: u32, extra: Value) -> String {
    let mut with = json!({ "duration": "6s", "interval": "2s", "rate-window": "3s", "step": "1s", "min-requests": 5 });
    if let (Some(w), Some(extra)) = (with.as_object_mut(), extra.as_object()) {
        w.extend(extra.clone());
    }
    stage(&format!("analyse-{weight}"), "builtin:canary-analysis", with)
}

fn find<'a>(outcome: &'a RunOutcome, name: &str) -> &'a gantry_engine::record::StageRecordOut {
    outcome.record.stages.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no stage {name}: {:#?}", outcome.record.stages))
}

fn step<'a>(outcome: &'a RunOutcome, name: &str, target: &str) -> &'a gantry_engine::record::StepRecord {
    let s = find(outcome, name);
    s.steps.iter().find(|st| st.target.as_deref() == Some(target)).unwrap_or_else(|| panic!("{name} did not run on {target}: {s:#?}"))
}

/// The live HTTPRoute of the stable release on `target`: its first rule's (backend, weight).
async fn route(bed: &Bed, target: &str) -> Option<Vec<(String, u64)>> {
    let r = bed.get(target, ROUTE_API, "HTTPRoute", "fastapi-app").await?;
    Some(r["spec"]["rules"][0]["backendRefs"].as_array().expect("backendRefs").iter().map(|b| (b["name"].as_str().unwrap_or_default().to_string(), b["weight"].as_u64().unwrap_or(1))).collect())
}

fn split(stable: u64, canary: u64) -> Vec<(String, u64)> {
    let mut s = vec![("fastapi-app".to_string(), stable)];
    if canary > 0 {
        s.push(("fastapi-app-canary".to_string(), canary));
    }
    s
}

/// `canary N requests … stable M requests` of the last verdict of an analysis stage on `target`: the canary's share.
fn canary_share(outcome: &RunOutcome, name: &str, target: &str) -> f64 {
    let out = &step(outcome, name, target).outputs;
    let last = out["verdicts"].as_array().and_then(|v| v.last()).unwrap_or_else(|| panic!("{name} on {target}: no verdict: {out}"));
    let reasons: Vec<&str> = last["reasons"].as_array().expect("reasons").iter().filter_map(Value::as_str).collect();
    let traffic = reasons.iter().find(|r| r.starts_with("traffic over")).unwrap_or_else(|| panic!("{name} on {target}: {reasons:?}"));
    let count = |after: &str| -> f64 {
        let rest = &traffic[traffic.find(after).unwrap_or_else(|| panic!("{traffic}")) + after.len()..];
        rest.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{traffic}"))
    };
    let (c, s) = (count("canary "), count("stable "));
    assert!(c + s > 0.0, "{name} on {target}: no requests counted: {traffic}");
    c / (c + s)
}

/// A first release in Gateway API mode: stable revision 1 with its route, weight 0; its digest.
async fn gateway_release(bed: &Bed) -> String {
    let first = bed.run("v1", &format!("{}{}{}", build(), canary(gateway(json!({}))), promote())).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{:#?}", first.record.stages);
    for t in TARGETS {
        assert_eq!(route(bed, t).await, Some(split(100, 0)), "{t}: every request to stable");
        assert_eq!(bed.revision(t, "fastapi-app", 1).await.as_deref(), Some("deployed"), "{t}");
    }
    find(&first, "build").steps[0].outputs["digest"].as_str().expect("digest").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_step_10_50_100_with_analysis_between_then_promotion_sends_everything_to_stable() {
    let Some(bed) = Bed::start_measured().await else { return };
    gateway_release(&bed).await;

    let stages = [
        build(),
        canary(gateway(json!({}))),
        stage("health-check-canary", "builtin:health-http", json!({ "path": "/health" })),
        shift(10),
        analyse(10, json!({})),
        shift(50),
        analyse(50, json!({})),
        shift(100),
        analyse(100, json!({})),
        promote(),
        stage("health-check-production", "builtin:health-http", json!({ "path": "/health" })),
    ];
    let run = bed.run_measured("v2", &stages.concat()).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{:#?}", run.record.stages);
    let v2 = find(&run, "build").steps[0].outputs["digest"].as_str().expect("digest").to_string();
    for t in TARGETS {
        // Each step upgraded stable in place (revisions 2, 3, 4) and the API server's route carried its weight.
        for (n, weight) in [10u64, 50, 100].into_iter().enumerate() {
            let out = &step(&run, &format!("shift-{weight}"), t).outputs;
            assert_eq!((out["track"].as_str(), out["release"].as_str(), out["weight"].as_u64()), (Some("stable"), Some("fastapi-app"), Some(weight)), "{t}: {out}");
            assert_eq!((out["revision"].as_u64(), out["previous-revision"].as_u64()), (Some(n as u64 + 2), Some(n as u64 + 1)), "{t}: {out}");
            let backends: Vec<(String, u64)> = out["backends"].as_array().expect("backends").iter().map(|b| (b["name"].as_str().unwrap().to_string(), b["weight"].as_u64().unwrap())).collect();
            assert_eq!(backends, split(100 - weight, weight), "{t}: the live route at weight {weight}");
            assert_eq!(out["undo"], json!([{ "action": "rollback", "release": "fastapi-app", "revision": n + 1 }]), "{t}");
            assert_eq!(step(&run, &format!("analyse-{weight}"), t).outputs["decision"], "promote", "{t}");
        }
        // The canary's share of requests, as the analysis counted it in Prometheus, rises with the weight.
        let shares: Vec<f64> = [10, 50, 100].iter().map(|w| canary_share(&run, &format!("analyse-{w}"), t)).collect();
        eprintln!("{t}: canary share at 10/50/100: {shares:?}");
        assert!(shares[0] < shares[1] && shares[1] < shares[2], "{t}: {shares:?}");

        // Promotion: stable runs the canary's digest, every request goes to it, the canary is gone.
        let promoted = step(&run, "promote-to-production", t);
        assert!(promoted.logs.iter().any(|l| l.message.contains("canary.weight=0")), "{t}: {:?}", promoted.logs);
        assert_eq!(promoted.outputs["previous-revision"], 4, "{t}: the weight-100 revision was live");
        assert_eq!(route(&bed, t).await, Some(split(100, 0)), "{t}: after promotion");
        assert_eq!(bed.image(t, "fastapi-app").await, Some(bed.pinned(t, &v2)), "{t}");
        assert_eq!(bed.image(t, "fastapi-app-canary").await, None, "{t}: the canary's Deployment is gone");
        assert_eq!(bed.get(t, "v1", "Service", "fastapi-app-canary").await, None, "{t}: and its Service");
    }
    bed.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_at_the_50_step_puts_stable_back_at_weight_0_and_removes_the_canary_on_both_clusters() {
    let Some(bed) = Bed::start_measured().await else { return };
    let v1 = gateway_release(&bed).await;

    // Half the canary's requests answer 500. At 10 the judge is told to wait for more
    // requests than it gets (and passes on `no-data: pass`), so the abort comes at 50.
    let failing = gateway(json!({ "podAnnotations": { "sim.gantry.dev/http-error-rate": "0.5" } }));
    let stages = [
        build(),
        canary(failing),
        shift(10),
        analyse(10, json!({ "min-requests": 1_000_000, "health": false })),
        shift(50),
        analyse(50, json!({ "health": false })),
        shift(100),
        promote(),
    ];
    let run = bed.run_measured("v2", &stages.concat()).await;
    assert_eq!(run.status, RunStatus::Failed, "{:#?}", run.record.stages);
    assert_eq!(run.record.failed_stage.as_deref(), Some("analyse-50"));
    assert_eq!(find(&run, "shift-100").status, StepStatus::Skipped);
    let rollback = run.record.on_failure.as_ref().expect("the rollback ran");
    assert_eq!(rollback.status, StepStatus::Succeeded, "{rollback:#?}");
    for t in TARGETS {
        let aborted = step(&run, "analyse-50", t);
        let reasons = format!("{} {:?}", aborted.outputs["verdicts"], aborted.error);
        assert!(reasons.contains("error rate: canary"), "{t}: aborted on the error rate: {reasons}");
        assert_eq!(step(&run, "shift-50", t).outputs["weight"], 50, "{t}: the 50 step was live");

        let undone = rollback.steps.iter().find(|s| s.target.as_deref() == Some(t)).unwrap_or_else(|| panic!("no rollback on {t}"));
        let log: Vec<&str> = undone.logs.iter().map(|l| l.message.as_str()).collect();
        assert_eq!((undone.outputs["undone"].as_u64(), undone.outputs["covered"].as_u64()), (Some(2), Some(1)), "{t}: stable once, the canary once: {log:?}");
        let back = log.iter().position(|l| l.contains("rolling fastapi-app back to revision 1")).unwrap_or_else(|| panic!("{t}: {log:?}"));
        let gone = log.iter().position(|l| l.contains("uninstalling fastapi-app-canary")).unwrap_or_else(|| panic!("{t}: {log:?}"));
        assert!(back < gone, "{t}: the route leaves the canary before its Service goes: {log:?}");

        assert_eq!(route(&bed, t).await, Some(split(100, 0)), "{t}: weight 0 again");
        let history = bed.helm[t].history("fastapi-app", "default", 0).await.unwrap();
        let last = history.last().expect("a history");
        assert_eq!((last.revision, last.status.as_str(), last.description.as_str()), (4, "deployed", "Rollback to 1"), "{t}: stable back at its pre-run revision's config: {history:#?}");
        assert_eq!(bed.image(t, "fastapi-app").await, Some(bed.pinned(t, &v1)), "{t}: stable still runs v1");
        assert_eq!(bed.image(t, "fastapi-app-canary").await, None, "{t}: the canary is gone");
        assert_eq!(bed.get(t, "v1", "Service", "fastapi-app-canary").await, None, "{t}: with its Service");
    }
    bed.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weight_step_changes_the_route_only_keeping_stables_image_and_values() {
    let Some(bed) = Bed::start().await else { return };
    let v1 = gateway_release(&bed).await;
    let template = |d: Option<Value>| d.expect("stable's Deployment")["spec"]["template"].clone();
    let mut before = Vec::new();
    for t in TARGETS {
        before.push(template(bed.get(t, "apps/v1", "Deployment", "fastapi-app").await));
    }

    let ten = bed.run("v2", &format!("{}{}{}", build(), canary(gateway(json!({}))), shift(10))).await;
    assert_eq!(ten.status, RunStatus::Succeeded, "{:#?}", ten.record.stages);
    for (t, before) in TARGETS.iter().zip(&before) {
        assert_eq!(route(&bed, t).await, Some(split(90, 10)), "{t}");
        assert_eq!(&template(bed.get(t, "apps/v1", "Deployment", "fastapi-app").await), before, "{t}: stable's pods untouched by the step");
        assert_eq!(bed.image(t, "fastapi-app").await, Some(bed.pinned(t, &v1)), "{t}: stable still runs v1");
        let canary = bed.get(t, "v1", "Service", "fastapi-app-canary").await.expect("the canary's Service");
        assert_eq!(canary["spec"]["selector"]["track"], "canary", "{t}: the route's canary backend selects the canary's pods only");
        let history = bed.helm[*t].history("fastapi-app", "default", 0).await.unwrap();
        assert_eq!(history.last().map(|r| (r.revision, r.description.as_str())), Some((2, "canary.weight=10")), "{t}: `helm history` names the step: {history:#?}");
    }

    // Back to 0 (the canary is still installed): the route leaves the canary out.
    let zero = bed.run("v2", &shift(0)).await;
    assert_eq!(zero.status, RunStatus::Succeeded, "{:#?}", zero.record.stages);
    for t in TARGETS {
        assert_eq!(route(&bed, t).await, Some(split(100, 0)), "{t}");
        assert_eq!(step(&zero, "shift-0", t).outputs["backends"], json!([{ "name": "fastapi-app", "weight": 100 }]), "{t}");
    }
    bed.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_a_stepped_promotion_rolls_stable_back_once_to_its_config_before_the_run() {
    let Some(bed) = Bed::start().await else { return };
    let v1 = gateway_release(&bed).await;

    let failing = format!("  - {{ name: health-check-production, uses: \"{}\", with: {{ fail: \"production is down\" }} }}\n", fixture_path("scripted"));
    let stages = [build(), canary(gateway(json!({}))), shift(10), shift(50), shift(100), promote(), failing];
    let run = bed.run("v2", &stages.concat()).await;
    assert_eq!(run.record.failed_stage.as_deref(), Some("health-check-production"), "{:#?}", run.record.stages);
    let rollback = run.record.on_failure.as_ref().expect("the rollback ran");
    assert_eq!(rollback.status, StepStatus::Succeeded, "{rollback:#?}");
    for t in TARGETS {
        let undone = rollback.steps.iter().find(|s| s.target.as_deref() == Some(t)).unwrap_or_else(|| panic!("no rollback on {t}"));
        let log: Vec<&str> = undone.logs.iter().map(|l| l.message.as_str()).collect();
        assert_eq!((undone.outputs["undone"].as_u64(), undone.outputs["covered"].as_u64()), (Some(2), Some(3)), "{t}: {log:?}");
        assert!(log.iter().any(|l| l.contains("not doing `roll fastapi-app back to revision 4` (recorded by promote-to-production)")), "{t}: not back to the weight-100 revision, whose canary is gone: {log:?}");
        let history = bed.helm[t].history("fastapi-app", "default", 0).await.unwrap();
        let steps: Vec<(u32, &str)> = history.iter().map(|r| (r.revision, r.description.as_str())).collect();
        assert_eq!(&steps[1..4], [(2, "canary.weight=10"), (3, "canary.weight=50"), (4, "canary.weight=100")], "{t}: {steps:?}");
        assert_eq!(steps.last(), Some(&(6, "Rollback to 1")), "{t}: one rollback, to the revision before the run: {steps:?}");
        assert_eq!(route(&bed, t).await, Some(split(100, 0)), "{t}: every request to stable");
        assert_eq!(bed.image(t, "fastapi-app").await, Some(bed.pinned(t, &v1)), "{t}: stable runs v1 again");
        assert_eq!(bed.image(t, "fastapi-app-canary").await, None, "{t}");
    }
    bed.estate.shutdown().await;
}

/// The failed stage's error on `target`: message and hint in one string.
fn error(outcome: &RunOutcome, name: &str, target: &str) -> String {
    let e = step(outcome, name, target).error.clone().unwrap_or_else(|| panic!("{name} on {target} did not fail: {:#?}", outcome.record.stages));
    format!("{} / hint: {}", e.message, e.hint.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_weight_stages_are_refused_with_the_field_and_the_fix_and_change_nothing() {
    let Some(bed) = Bed::start().await else { return };

    // A stable release without Gateway API mode (the replica ratio): a weight stage refuses it.
    let plain = bed.run("v1", &format!("{}{}{}", build(), canary(json!({})), stage("promote-to-production", "builtin:helm-deploy", json!({ "track": "stable", "timeout": "2m" })))).await;
    assert_eq!(plain.status, RunStatus::Succeeded, "{:#?}", plain.record.stages);
    let refused = bed.run("v2", &format!("{}{}{}", build(), canary(gateway(json!({}))), shift(10))).await;
    assert_eq!(refused.record.failed_stage.as_deref(), Some("shift-10"), "{:#?}", refused.record.stages);
    for t in TARGETS {
        let e = error(&refused, "shift-10", t);
        assert!(e.contains("no HTTPRoute") && e.contains("set httpRoute.enabled=true on the stable release") && e.contains("nothing was changed"), "{t}: {e}");
        assert_eq!(bed.revision(t, "fastapi-app", 2).await, None, "{t}: stable untouched");
        assert_eq!(bed.image(t, "fastapi-app-canary").await, None, "{t}: the rollback removed the canary");
    }

    // Out of range: refused before anything is read or changed.
    let wide = bed.run("v2", &format!("{}{}", build(), stage("shift-150", "builtin:helm-deploy", json!({ "weight": 150 })))).await;
    assert_eq!(wide.record.failed_stage.as_deref(), Some("shift-150"), "{:#?}", wide.record.stages);
    for t in TARGETS {
        let e = error(&wide, "shift-150", t);
        assert!(e.contains("with.weight: 150 is not a percent from 0 to 100") && e.contains("weight: 10"), "{t}: {e}");
    }

    // Stable in Gateway API mode, but no canary to send traffic to.
    let gw = bed.run("v1", &format!("{}{}{}", build(), canary(gateway(json!({}))), promote())).await;
    assert_eq!(gw.status, RunStatus::Succeeded, "{:#?}", gw.record.stages);
    let lonely = bed.run("v1", &shift(10)).await;
    assert_eq!(lonely.record.failed_stage.as_deref(), Some("shift-10"), "{:#?}", lonely.record.stages);
    for t in TARGETS {
        let e = error(&lonely, "shift-10", t);
        assert!(e.contains("no canary release `fastapi-app-canary`") && e.contains("track: canary") && e.contains("nothing was changed"), "{t}: {e}");
        assert_eq!(bed.revision(t, "fastapi-app", 2).await.as_deref(), Some("deployed"), "{t}: stable still at the gateway promotion");
        assert_eq!(bed.revision(t, "fastapi-app", 3).await, None, "{t}: no new revision");
        assert_eq!(route(&bed, t).await, Some(split(100, 0)), "{t}");
    }
    bed.estate.shutdown().await;
}
