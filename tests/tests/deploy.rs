//! The deploy stages of the request on two simulated clusters, as `gantry
//! run` plugs them in: `builtin:build` (daemonless) pushes one digest to two
//! real docker-registry instances, one per target; `builtin:helm-deploy`
//! installs the repository's chart `helm/fastapi-app` through
//! gantry-release's `ReleasesBackend` on two in-process simulated clusters
//! (`aws`, `gcp`), as the canary then as stable; `builtin:rollback` undoes
//! what they recorded. What is checked is on the clusters: Helm's release
//! Secrets and their revisions, the Deployments' image references pinned
//! to the built digest, the canary gone after promotion. A failing stage
//! (`fixture-scripted`) stands for a failed health check: before promotion
//! it leaves the canaries uninstalled and stable untouched on both
//! clusters, after it stable rolled back to its previous revision on both.
//! A canary whose pods never become ready fails its own stage, which
//! removes the canary before reporting; a promotion that fails on one
//! cluster (an Ingress there that Helm does not own) is put back there by
//! its stage and rolled back by `on-failure` on the other, so both run the
//! old version. It must not reach anything beyond 127.0.0.1.

use gantry_engine::event::{RunStatus, StepStatus};
use gantry_engine::RunOutcome;
use serde_json::Value;

use crate::common::bed::{Bed, TARGETS};
use crate::common::fixture_path;

const BUILD: &str = "  - { name: build, uses: builtin:build, with: { backend: daemonless } }\n";
const CANARY: &str = "  - { name: deploy-canary, uses: builtin:helm-deploy, with: { track: canary, set: { replicaCount: 1 }, timeout: 2m } }\n";
const PROMOTE: &str = "  - { name: promote-to-production, uses: builtin:helm-deploy, with: { track: stable, timeout: 2m } }\n";

/// A stage that fails on every target, named like the check it stands for.
fn failing(name: &str) -> String {
    format!("  - {{ name: {name}, uses: \"{}\", with: {{ fail: \"{name} failed\" }} }}\n", fixture_path("scripted"))
}

fn stage<'a>(outcome: &'a RunOutcome, name: &str) -> &'a gantry_engine::record::StageRecordOut {
    outcome.record.stages.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no stage {name}: {:#?}", outcome.record.stages))
}

/// `stage`'s outputs on `target`.
fn outputs<'a>(outcome: &'a RunOutcome, name: &str, target: &str) -> &'a Value {
    let s = stage(outcome, name);
    &s.steps.iter().find(|st| st.target.as_deref() == Some(target)).unwrap_or_else(|| panic!("{name} did not run on {target}: {s:#?}")).outputs
}

fn built_digest(outcome: &RunOutcome) -> String {
    let digest = stage(outcome, "build").steps[0].outputs["digest"].as_str().expect("the build's digest").to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");
    digest
}

fn succeeded(outcome: &RunOutcome) {
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
}

/// A first release: the canary on both clusters, then promoted; the stable digest.
async fn first_release(bed: &Bed) -> String {
    let first = bed.run("v1", &format!("{BUILD}{CANARY}{PROMOTE}")).await;
    succeeded(&first);
    let digest = built_digest(&first);
    for t in TARGETS {
        assert_eq!(bed.revision(t, "fastapi-app", 1).await.as_deref(), Some("deployed"), "{t}");
        assert_eq!(bed.image(t, "fastapi-app").await, Some(bed.pinned(t, &digest)), "{t}");
        let promoted = outputs(&first, "promote-to-production", t);
        assert_eq!((promoted["previous-revision"].clone(), promoted["canary-removed"].clone()), (Value::Null, Value::Bool(true)), "{t}: {promoted}");
        assert_eq!(promoted["undo"], serde_json::json!([{ "action": "uninstall", "release": "fastapi-app" }]), "a first install is undone by uninstalling it");
    }
    digest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_puts_the_canarys_digest_on_stable_on_both_clusters_and_removes_the_canary() {
    let Some(bed) = Bed::start().await else { return };
    let v1 = first_release(&bed).await;
    for t in TARGETS {
        assert_eq!(bed.image(t, "fastapi-app-canary").await, None, "{t}: the canary's Deployment went with it");
        assert_eq!(bed.revision(t, "fastapi-app-canary", 1).await, None, "{t}: the canary's release records went too");
    }

    // A new version as the canary: one pod of exactly the built digest beside stable, which is untouched.
    let canary = bed.run("v2", &format!("{BUILD}{CANARY}")).await;
    succeeded(&canary);
    let v2 = built_digest(&canary);
    assert_ne!(v1, v2);
    for t in TARGETS {
        let out = outputs(&canary, "deploy-canary", t);
        assert_eq!((out["track"].as_str(), out["release"].as_str(), out["namespace"].as_str(), out["revision"].as_u64()), (Some("canary"), Some("fastapi-app-canary"), Some("default"), Some(1)), "{t}: {out}");
        assert_eq!((out["image"].as_str(), out["digest"].as_str()), (Some(bed.pinned(t, &v2).as_str()), Some(v2.as_str())), "{t}: {out}");
        assert_eq!(out["undo"], serde_json::json!([{ "action": "uninstall", "release": "fastapi-app-canary" }]));
        assert_eq!(bed.revision(t, "fastapi-app-canary", 1).await.as_deref(), Some("deployed"), "{t}");
        let d = bed.get(t, "apps/v1", "Deployment", "fastapi-app-canary").await.expect("the canary's Deployment");
        let template = &d["spec"]["template"];
        assert_eq!(template["spec"]["containers"][0]["image"].as_str(), Some(bed.pinned(t, &v2).as_str()), "{t}: pinned to the digest");
        assert_eq!((d["spec"]["replicas"].as_u64(), template["metadata"]["labels"]["track"].as_str(), template["metadata"]["labels"]["app.kubernetes.io/version"].as_str()), (Some(1), Some("canary"), Some("v2")), "{t}");
        assert_eq!(bed.image(t, "fastapi-app").await, Some(bed.pinned(t, &v1)), "{t}: stable untouched by the canary");
        assert_eq!(bed.revision(t, "fastapi-app", 2).await, None, "{t}");
    }

    // The whole way: stable takes the canary's digest on both clusters, the canary goes.
    let release = bed.run("v2", &format!("{BUILD}{CANARY}{PROMOTE}")).await;
    succeeded(&release);
    assert_eq!(built_digest(&release), v2, "the same inputs build the same digest");
    for t in TARGETS {
        let canary = outputs(&release, "deploy-canary", t);
        assert_eq!(canary["revision"], 2, "{t}: the canary upgraded: {canary}");
        let promoted = outputs(&release, "promote-to-production", t);
        assert_eq!((promoted["track"].as_str(), promoted["release"].as_str(), promoted["revision"].as_u64()), (Some("stable"), Some("fastapi-app"), Some(2)), "{t}: {promoted}");
        assert_eq!((promoted["image"].clone(), promoted["digest"].clone()), (canary["image"].clone(), canary["digest"].clone()), "{t}: production gets exactly what the canary ran");
        assert_eq!(promoted["undo"], serde_json::json!([{ "action": "rollback", "release": "fastapi-app", "revision": 1 }]), "{t}");
        assert_eq!((promoted["previous-revision"].as_u64(), promoted["canary-removed"].as_bool()), (Some(1), Some(true)), "{t}");
        assert_eq!(bed.revision(t, "fastapi-app", 1).await.as_deref(), Some("superseded"), "{t}");
        assert_eq!(bed.revision(t, "fastapi-app", 2).await.as_deref(), Some("deployed"), "{t}");
        assert_eq!(bed.image(t, "fastapi-app").await, Some(bed.pinned(t, &v2)), "{t}");
        let stable = bed.get(t, "apps/v1", "Deployment", "fastapi-app").await.expect("stable's Deployment");
        assert_eq!((stable["spec"]["replicas"].as_u64(), stable["spec"]["template"]["metadata"]["labels"]["track"].as_str()), (Some(2), Some("stable")), "{t}: the chart's replicas, not the canary's");
        assert_eq!(bed.image(t, "fastapi-app-canary").await, None, "{t}");
        for n in [1, 2] {
            assert_eq!(bed.revision(t, "fastapi-app-canary", n).await, None, "{t}: canary revision {n}");
        }
    }
    bed.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_before_promotion_uninstalls_the_canaries_and_leaves_stable_untouched() {
    let Some(bed) = Bed::start().await else { return };
    let v1 = first_release(&bed).await;

    let failed = bed.run("v2", &format!("{BUILD}{CANARY}{}{PROMOTE}", failing("health-check-canary"))).await;
    assert_eq!(failed.status, RunStatus::Failed, "{:#?}", failed.record.stages);
    assert_eq!(failed.record.failed_stage.as_deref(), Some("health-check-canary"));
    assert_eq!(stage(&failed, "promote-to-production").status, StepStatus::Skipped);
    let rollback = failed.record.on_failure.as_ref().expect("the rollback ran");
    assert_eq!(rollback.status, StepStatus::Succeeded, "{rollback:#?}");
    for t in TARGETS {
        let step = rollback.steps.iter().find(|s| s.target.as_deref() == Some(t)).unwrap_or_else(|| panic!("no rollback on {t}"));
        assert_eq!(step.outputs["undone"], 1, "{t}: {step:#?}");
        assert!(step.logs.iter().any(|l| l.message.contains("uninstalling fastapi-app-canary")), "{t}: {:?}", step.logs);
        assert_eq!(bed.image(t, "fastapi-app-canary").await, None, "{t}: the canary's Deployment is gone");
        assert_eq!(bed.revision(t, "fastapi-app-canary", 1).await, None, "{t}: and its release");
        assert_eq!(bed.revision(t, "fastapi-app", 1).await.as_deref(), Some("deployed"), "{t}: stable still at revision 1");
        assert_eq!(bed.revision(t, "fastapi-app", 2).await, None, "{t}: no new stable revision");
        assert_eq!(bed.image(t, "fastapi-app").await, Some(bed.pinned(t, &v1)), "{t}");
    }
    bed.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_promotion_rolls_stable_back_to_its_previous_revision_on_both_clusters() {
    let Some(bed) = Bed::start().await else { return };
    let v1 = first_release(&bed).await;

    let failed = bed.run("v2", &format!("{BUILD}{CANARY}{PROMOTE}{}", failing("health-check-production"))).await;
    assert_eq!(failed.status, RunStatus::Failed, "{:#?}", failed.record.stages);
    let v2 = built_digest(&failed);
    let rollback = failed.record.on_failure.as_ref().expect("the rollback ran");
    assert_eq!(rollback.status, StepStatus::Succeeded, "{rollback:#?}");
    for t in TARGETS {
        assert_eq!(outputs(&failed, "promote-to-production", t)["digest"].as_str(), Some(v2.as_str()), "{t}: v2 was promoted");
        let step = rollback.steps.iter().find(|s| s.target.as_deref() == Some(t)).unwrap_or_else(|| panic!("no rollback on {t}"));
        assert_eq!(step.outputs["undone"], 2, "{t}: {step:#?}");
        let log: Vec<&str> = step.logs.iter().map(|l| l.message.as_str()).collect();
        let back = log.iter().position(|l| l.contains("rolling fastapi-app back to revision 1")).unwrap_or_else(|| panic!("{t}: {log:?}"));
        let gone = log.iter().position(|l| l.contains("fastapi-app-canary is already gone")).unwrap_or_else(|| panic!("{t}: the promotion removed the canary: {log:?}"));
        assert!(back < gone, "{t}: newest first: {log:?}");
        assert_eq!(bed.revision(t, "fastapi-app", 2).await.as_deref(), Some("superseded"), "{t}");
        assert_eq!(bed.revision(t, "fastapi-app", 3).await.as_deref(), Some("deployed"), "{t}: the rollback is revision 3");
        assert_eq!(bed.image(t, "fastapi-app").await, Some(bed.pinned(t, &v1)), "{t}: stable runs v1 again");
        assert_eq!(bed.image(t, "fastapi-app-canary").await, None, "{t}");
    }
    let history = bed.helm["aws"].history("fastapi-app", "default", 0).await.unwrap();
    assert_eq!(history.last().map(|r| r.description.as_str()), Some("Rollback to 1"), "{history:?}");
    bed.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_that_never_becomes_ready_fails_its_stage_and_removes_itself() {
    let Some(bed) = Bed::start().await else { return };
    let v1 = first_release(&bed).await;

    // Pods that never pass readiness (the simulator's annotation), set through `values:`, and a
    // short wait, asked for (a canary stage does not wait by default; its health check judges).
    let stuck = "  - name: deploy-canary\n    uses: builtin:helm-deploy\n    with:\n      track: canary\n      wait: true\n      timeout: 3s\n      values: { podAnnotations: { \"sim.gantry.dev/behavior\": never-ready } }\n";
    let failed = bed.run("v2", &format!("{BUILD}{stuck}{PROMOTE}")).await;
    assert_eq!(failed.status, RunStatus::Failed, "{:#?}", failed.record.stages);
    assert_eq!(failed.record.failed_stage.as_deref(), Some("deploy-canary"));
    assert_eq!(stage(&failed, "promote-to-production").status, StepStatus::Skipped);
    for t in TARGETS {
        let step = stage(&failed, "deploy-canary").steps.iter().find(|s| s.target.as_deref() == Some(t)).expect("a step per target");
        let error = step.error.as_ref().expect("the stage's error");
        assert!(error.message.contains("helm upgrade --install fastapi-app-canary") && error.message.contains("was put back as it was"), "{t}: {error:#?}");
        assert_eq!(step.outputs, serde_json::json!({}), "a failed stage records nothing");
        assert_eq!(bed.image(t, "fastapi-app-canary").await, None, "{t}: the failed canary removed itself");
        assert_eq!(bed.revision(t, "fastapi-app-canary", 1).await, None, "{t}");
        assert_eq!(bed.revision(t, "fastapi-app", 1).await.as_deref(), Some("deployed"), "{t}: stable untouched");
        assert_eq!(bed.revision(t, "fastapi-app", 2).await, None, "{t}");
        assert_eq!(bed.image(t, "fastapi-app").await, Some(bed.pinned(t, &v1)), "{t}");
    }
    let rollback = failed.record.on_failure.as_ref().expect("the rollback ran");
    assert_eq!(rollback.status, StepStatus::Succeeded, "nothing was recorded, so nothing to undo: {rollback:#?}");
    bed.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_that_fails_on_one_cluster_is_undone_on_both() {
    let Some(bed) = Bed::start().await else { return };
    let v1 = first_release(&bed).await;

    // gcp has an Ingress of the same name that Helm does not own: stable's upgrade there must fail.
    let foreign = serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": { "name": "fastapi-app", "namespace": "default" },
        "spec": { "defaultBackend": { "service": { "name": "someone-else", "port": { "number": 80 } } } }
    });
    bed.objects["gcp"].apply(&foreign, gantry_runtime::cluster::ApplyOptions::default()).await.expect("the foreign Ingress");
    let promote = "  - { name: promote-to-production, uses: builtin:helm-deploy, with: { track: stable, timeout: 2m, values: { ingress: { enabled: true } } } }\n";
    let failed = bed.run("v2", &format!("{BUILD}{CANARY}{promote}")).await;
    assert_eq!(failed.status, RunStatus::Failed, "{:#?}", failed.record.stages);
    let promoted = stage(&failed, "promote-to-production");
    let by_target = |t: &str| promoted.steps.iter().find(|s| s.target.as_deref() == Some(t)).unwrap_or_else(|| panic!("{t}: {promoted:#?}"));
    assert_eq!(by_target("aws").status, StepStatus::Succeeded, "{promoted:#?}");
    let error = by_target("gcp").error.as_ref().expect("gcp's error");
    assert!(error.message.contains("Ingress") && error.message.contains("was put back as it was"), "{error:#?}");

    let rollback = failed.record.on_failure.as_ref().expect("the rollback ran");
    assert_eq!(rollback.status, StepStatus::Succeeded, "{rollback:#?}");
    for t in TARGETS {
        assert_eq!(bed.image(t, "fastapi-app").await, Some(bed.pinned(t, &v1)), "{t}: stable runs v1 on both clusters");
        assert_eq!(bed.image(t, "fastapi-app-canary").await, None, "{t}: no canary left");
        let history = bed.helm[t].history("fastapi-app", "default", 0).await.unwrap();
        let last = history.last().expect("a history");
        assert_eq!((last.status.as_str(), last.description.as_str()), ("deployed", "Rollback to 1"), "{t}: {history:#?}");
    }
    let ingress = bed.get("gcp", "networking.k8s.io/v1", "Ingress", "fastapi-app").await.expect("the foreign Ingress stays");
    assert_eq!(ingress["spec"]["defaultBackend"]["service"]["name"], "someone-else", "not taken over: {ingress}");
    assert_eq!(bed.get("aws", "networking.k8s.io/v1", "Ingress", "fastapi-app").await, None, "aws's Ingress went with the rollback");
    bed.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_promotion_that_fails_after_is_uninstalled_everywhere() {
    let Some(bed) = Bed::start().await else { return };
    let failed = bed.run("v1", &format!("{BUILD}{CANARY}{PROMOTE}{}", failing("health-check-production"))).await;
    assert_eq!(failed.status, RunStatus::Failed, "{:#?}", failed.record.stages);
    assert_eq!(failed.record.on_failure.as_ref().map(|r| r.status), Some(StepStatus::Succeeded), "{:#?}", failed.record.on_failure);
    for t in TARGETS {
        for release in ["fastapi-app", "fastapi-app-canary"] {
            assert_eq!(bed.revision(t, release, 1).await, None, "{t}: {release}");
            assert_eq!(bed.image(t, release).await, None, "{t}: {release}");
        }
    }
    bed.estate.shutdown().await;
}
