//! Hooks, `--wait` and `--rollback-on-failure` on the simulated cluster
//! (its pods ready, crash-looping or never ready as the `hooked` chart's
//! values say), and held against the real Helm library doing the same:
//! pre-install hooks created by weight then name before the release's
//! objects (seen through watches: resourceVersions of the creations), delete
//! policies honoured, `last_run` recorded, test hooks not run; a failing
//! pre-install hook Job fails the install with nothing else applied; a
//! post-upgrade hook runs after the upgrade's objects; `--wait` passes when
//! pods become ready and names the object and its pods when they do not;
//! an atomic install is uninstalled and an atomic upgrade rolled back, with
//! Helm's history and outer wording. Timeouts are seconds; nothing asserts
//! on elapsed time.

use crate::common;
use crate::helm_compat::{order, watch, Seen};

use std::sync::Arc;
use std::time::Duration;

use common::{chart, revisions, Cluster};
use gantry_release::{Driver, InstallOptions, ReleaseError, Status, StorageError, UpgradeOptions};
use k8s_openapi::api::{apps::v1::Deployment, batch::v1::Job, core::v1::ConfigMap, core::v1::Service};
use kube::core::ApiResource;
use serde_json::{json, Map, Value};

/// Long enough that a healthy hook or rollout never meets it (a hang guard).
const PATIENT: Duration = Duration::from_secs(60);
/// Short, for what is never going to be ready.
const SHORT: Duration = Duration::from_secs(2);

fn values(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("an object")
}

fn hooked() -> String {
    chart("hooked").to_string_lossy().into_owned()
}

fn hook<'a>(hooks: &'a [Value], name: &str) -> &'a Value {
    hooks.iter().find(|h| h["name"] == name).unwrap_or_else(|| panic!("hook {name} recorded: {hooks:?}"))
}

async fn watch_all(c: &Cluster) -> Seen {
    let seen: Seen = Arc::default();
    watch(c, ApiResource::erase::<ConfigMap>(&()), Some("default"), seen.clone()).await;
    watch(c, ApiResource::erase::<Job>(&()), Some("default"), seen.clone()).await;
    watch(c, ApiResource::erase::<Service>(&()), Some("default"), seen.clone()).await;
    watch(c, ApiResource::erase::<Deployment>(&()), Some("default"), seen.clone()).await;
    seen
}

#[tokio::test]
async fn hooks_run_by_weight_then_name_honour_delete_policies_and_are_recorded() {
    let Some(c) = Cluster::start().await else { return };
    let seen = watch_all(&c).await;
    let releases = c.releases("default", Driver::Secret).await.with_timeout(PATIENT);

    let installed = releases.install("h", &chart("hooked"), &InstallOptions::default()).await.expect("gantry installs");
    assert_eq!((installed.status(), installed.description()), (Status::Deployed, "Install complete"));
    // Hooks (the Job weight -1, then pre-a and pre-b of weight 1 by name) before the release's objects.
    let created = order(&seen, "created", 5).await;
    assert_eq!(created[..5], ["Job/h-pre-job", "ConfigMap/h-pre-a", "ConfigMap/h-pre-b", "Service/h-web", "Deployment/h-web"], "{created:?}");
    // hook-succeeded: deleted once all succeeded; before-hook-creation (given or by default): kept.
    assert_eq!(order(&seen, "deleted", 1).await, ["ConfigMap/h-pre-a"]);
    assert!(c.object("v1", "ConfigMap", Some("default"), "h-pre-a").await.is_none());
    assert!(c.object("v1", "ConfigMap", Some("default"), "h-pre-b").await.is_some());
    let job = c.object("batch/v1", "Job", Some("default"), "h-pre-job").await.expect("the hook job is kept");
    assert!(job["status"]["conditions"].as_array().unwrap().iter().any(|c| c["type"] == "Complete"), "waited for until complete: {job}");
    // The release's objects carry Helm's ownership; hooks do not.
    assert!(c.object("v1", "ConfigMap", Some("default"), "h-pre-b").await.unwrap()["metadata"]["labels"]["app.kubernetes.io/managed-by"].is_null());

    // The stored record says how each hook ran, as Helm records it.
    let stored = releases.status("h", None).await.expect("status");
    for name in ["h-pre-job", "h-pre-a", "h-pre-b"] {
        let run = &hook(&stored.hooks, name)["last_run"];
        assert_eq!(run["phase"], "Succeeded", "{name}: {run}");
        assert!(run["started_at"].is_string() && run["completed_at"].is_string(), "{name}: {run}");
    }
    assert_eq!(hook(&stored.hooks, "h-pre-b")["delete_policies"], json!(["before-hook-creation"]), "the default policy is recorded, as Helm records it");
    // Hooks of other events, and the test hook, did not run.
    assert_eq!(hook(&stored.hooks, "h-test")["last_run"]["phase"], "");
    assert_eq!(hook(&stored.hooks, "h-post-upgrade")["last_run"]["phase"], "");
    assert!(c.object("v1", "Pod", Some("default"), "h-test").await.is_none());

    // Upgrade: the post-upgrade hook after the upgrade's objects; pre-install hooks not again.
    let pre_b = c.object("v1", "ConfigMap", Some("default"), "h-pre-b").await.unwrap()["metadata"]["uid"].clone();
    let upgraded = releases.upgrade("h", &chart("hooked"), &UpgradeOptions { values: values(json!({"extra": true})), ..Default::default() }).await.expect("gantry upgrades");
    assert_eq!(upgraded.description(), "Upgrade complete");
    let created = order(&seen, "created", 7).await;
    assert_eq!(created[5..7], ["ConfigMap/h-extra", "ConfigMap/h-post-upgrade"], "{created:?}");
    assert_eq!(c.object("v1", "ConfigMap", Some("default"), "h-pre-b").await.unwrap()["metadata"]["uid"], pre_b);
    let stored = releases.status("h", None).await.expect("status");
    assert_eq!(hook(&stored.hooks, "h-post-upgrade")["last_run"]["phase"], "Succeeded");

    // Helm reads the release gantry recorded.
    let status = c.helm.ok(json!({"op": "status", "release": "h"})).await;
    assert_eq!(status["status"], "deployed");

    // Real Helm, the same install: the same order, the same objects kept, the same record of hooks.
    c.helm.ok(json!({"op": "install", "release": "hh", "chart": hooked(), "timeout": 60})).await;
    let created: Vec<String> = order(&seen, "created", 12).await.into_iter().filter(|n| n.contains("/hh-")).collect();
    assert_eq!(created, ["Job/hh-pre-job", "ConfigMap/hh-pre-a", "ConfigMap/hh-pre-b", "Service/hh-web", "Deployment/hh-web"]);
    assert!(c.object("v1", "ConfigMap", Some("default"), "hh-pre-a").await.is_none());
    assert!(c.object("v1", "ConfigMap", Some("default"), "hh-pre-b").await.is_some());
    assert!(c.object("batch/v1", "Job", Some("default"), "hh-pre-job").await.is_some());
    let helms = releases.status("hh", None).await.expect("gantry reads Helm's record");
    let ours = releases.get("h", Some(1)).await.expect("revision 1");
    // Every field of every hook as Helm wrote it, in Helm's order, but for the times and the release name.
    let shape = |hooks: &[Value], prefix: &str| -> Value {
        let mut hooks: Value = serde_json::from_str(&serde_json::to_string(hooks).unwrap().replace(prefix, "R-")).unwrap();
        for h in hooks.as_array_mut().unwrap() {
            for time in ["started_at", "completed_at"] {
                if h["last_run"][time].is_string() {
                    h["last_run"][time] = json!("a time");
                }
            }
        }
        hooks
    };
    assert_eq!(shape(&helms.hooks, "hh-"), shape(&ours.hooks, "h-"));
}

#[tokio::test]
async fn no_hooks_records_hooks_without_running_them() {
    let Some(c) = Cluster::start().await else { return };
    let releases = c.releases("default", Driver::Secret).await.without_hooks();
    let installed = releases.install("n", &chart("hooked"), &InstallOptions::default()).await.expect("gantry installs");
    assert_eq!(installed.status(), Status::Deployed);
    assert!(c.object("batch/v1", "Job", Some("default"), "n-pre-job").await.is_none());
    assert!(c.object("v1", "ConfigMap", Some("default"), "n-pre-b").await.is_none());
    assert!(c.object("apps/v1", "Deployment", Some("default"), "n-web").await.is_some());
    assert_eq!(hook(&installed.hooks, "n-pre-job")["last_run"]["phase"], "");
}

#[tokio::test]
async fn a_failing_pre_install_hook_fails_the_install_with_nothing_else_applied() {
    let Some(c) = Cluster::start().await else { return };
    let releases = c.releases("default", Driver::Secret).await.with_timeout(SHORT);
    let options = InstallOptions { values: values(json!({"hookBehavior": "crashloop", "hookPolicy": "hook-failed"})), ..Default::default() };
    let err = releases.install("f", &chart("hooked"), &options).await.expect_err("the hook never completes");
    let message = err.to_string();
    eprintln!("gantry: {message}");
    assert!(message.starts_with("failed pre-install: "), "{message}");
    assert!(message.contains("resource Job/default/f-pre-job not ready. status: InProgress, message: Job in progress: 0 of 1 completions succeeded"), "names the hook: {message}");
    assert!(message.ends_with("\ncontext deadline exceeded"), "{message}");
    let ReleaseError::Failed { release, .. } = err else { panic!("a failed release") };
    assert_eq!(release.status(), Status::Failed);
    assert_eq!(release.description(), format!("Release \"f\" failed: {message}"));
    assert_eq!(hook(&release.hooks, "f-pre-job")["last_run"]["phase"], "Failed");
    assert!(c.object("batch/v1", "Job", Some("default"), "f-pre-job").await.is_none(), "hook-failed: deleted");
    // Nothing after the failing hook: no later hooks, no release objects.
    assert!(c.object("v1", "ConfigMap", Some("default"), "f-pre-a").await.is_none());
    assert!(c.object("apps/v1", "Deployment", Some("default"), "f-web").await.is_none());
    assert!(c.object("v1", "Service", Some("default"), "f-web").await.is_none());
    let stored = releases.status("f", None).await.expect("recorded");
    assert_eq!(stored.status(), Status::Failed);
    assert_eq!(hook(&stored.hooks, "f-pre-job")["last_run"]["phase"], "Failed");

    // Real Helm, the same install: the same words first, the same record.
    let theirs = c.helm.run(json!({"op": "install", "release": "hf", "chart": hooked(), "values": options.values, "timeout": 3})).await.expect_err("Helm fails too");
    eprintln!("helm: {theirs:?}");
    assert!(theirs.message.starts_with("failed pre-install: "), "{theirs:?}");
    assert!(c.object("apps/v1", "Deployment", Some("default"), "hf-web").await.is_none());
    assert!(c.object("batch/v1", "Job", Some("default"), "hf-pre-job").await.is_none(), "hook-failed: Helm deleted it too");
    let helms = releases.status("hf", None).await.expect("gantry reads Helm's record");
    assert_eq!((helms.status(), hook(&helms.hooks, "hf-pre-job")["last_run"]["phase"].clone()), (Status::Failed, json!("Failed")));
    assert_eq!(hook(&helms.hooks, "hf-pre-a")["last_run"], hook(&stored.hooks, "f-pre-a")["last_run"], "later hooks not run");
    eprintln!("Helm's description: {}", helms.description());
}

#[tokio::test]
async fn wait_passes_when_pods_become_ready_and_names_the_object_when_not() {
    let Some(c) = Cluster::start().await else { return };
    let patient = c.releases("default", Driver::Secret).await.with_wait(true).with_timeout(PATIENT);
    let ready = patient.install("ok", &chart("hooked"), &InstallOptions::default()).await.expect("ready in time");
    assert_eq!(ready.status(), Status::Deployed);
    let deployment = c.object("apps/v1", "Deployment", Some("default"), "ok-web").await.unwrap();
    assert_eq!(deployment["status"]["readyReplicas"], 1, "waited until ready: {deployment}");

    let short = c.releases("default", Driver::Secret).await.with_wait(false).with_timeout(SHORT);
    let err = short.install("bad", &chart("hooked"), &InstallOptions { values: values(json!({"behavior": "crashloop"})), ..Default::default() }).await.expect_err("never ready");
    let message = err.to_string();
    eprintln!("gantry: {message}");
    assert!(message.contains("resource Deployment/default/bad-web not ready. status: InProgress, message: 0 out of 1 expected pods are ready; pod bad-web-"), "{message}");
    assert!(!message.contains("Service/"), "a Service with a cluster IP is ready: {message}");
    let stored = short.status("bad", None).await.expect("recorded");
    assert_eq!((stored.status(), stored.description().to_string()), (Status::Failed, format!("Release \"bad\" failed: {message}")));
    assert!(c.object("apps/v1", "Deployment", Some("default"), "bad-web").await.is_some(), "without rollback-on-failure the objects stay");
}

#[tokio::test]
async fn an_atomic_install_that_fails_is_uninstalled_as_helms_is() {
    let Some(c) = Cluster::start().await else { return };
    let releases = c.releases("default", Driver::Secret).await.with_wait(false).with_timeout(SHORT);
    let crashing = values(json!({"behavior": "crashloop"}));
    let err = releases.install("a", &chart("hooked"), &InstallOptions { values: crashing.clone(), rollback_on_failure: true, ..Default::default() }).await.expect_err("never ready");
    let ours = err.to_string();
    eprintln!("gantry: {ours}");
    let prefix = "release a failed, and has been uninstalled due to rollback-on-failure being set: ";
    assert!(ours.starts_with(prefix) && ours.contains("Deployment/default/a-web"), "{ours}");
    assert!(matches!(releases.history("a", None).await, Err(ReleaseError::Storage(StorageError::NotFound))), "history purged");
    assert!(c.object("apps/v1", "Deployment", Some("default"), "a-web").await.is_none());

    // Real Helm, the same install.
    let theirs = c.helm.run(json!({"op": "install", "release": "ha", "chart": hooked(), "values": crashing, "wait": "legacy", "timeout": 3, "rollback_on_failure": true})).await.expect_err("Helm fails too");
    eprintln!("helm: {theirs:?}");
    assert!(theirs.message.starts_with("release ha failed, and has been uninstalled due to rollback-on-failure being set: "), "{theirs:?}");
    assert!(c.helm.run(json!({"op": "history", "release": "ha"})).await.is_err(), "Helm purged its history too");
    assert!(c.object("apps/v1", "Deployment", Some("default"), "ha-web").await.is_none());
}

#[tokio::test]
async fn an_atomic_upgrade_that_fails_is_rolled_back_as_helms_is() {
    let Some(c) = Cluster::start().await else { return };
    let patient = c.releases("default", Driver::Secret).await.with_wait(false).with_timeout(PATIENT);
    patient.install("u", &chart("hooked"), &InstallOptions::default()).await.expect("installs");
    let short = c.releases("default", Driver::Secret).await.with_wait(false).with_timeout(SHORT);
    let crashing = values(json!({"behavior": "crashloop"}));
    let upgrade = UpgradeOptions { values: crashing.clone(), rollback_on_failure: true, ..Default::default() };
    let ours = short.upgrade("u", &chart("hooked"), &upgrade).await.expect_err("never ready").to_string();
    eprintln!("gantry: {ours}");
    assert!(ours.starts_with("release u failed, and has been rolled back due to rollback-on-failure being set: "), "{ours}");
    assert!(ours.contains("resource Deployment/default/u-web not ready. status: InProgress"), "{ours}");
    let history = short.history("u", None).await.expect("history");
    let ours_history: Vec<(i64, String)> = history.iter().map(|r| (r.version, r.status().as_str().to_string())).collect();
    assert_eq!(ours_history, [(1, "superseded".to_string()), (2, "failed".to_string()), (3, "deployed".to_string())]);
    assert_eq!(history[2].description(), "Rollback to 1");
    assert!(history[1].description().starts_with("Upgrade \"u\" failed: "), "{}", history[1].description());
    let deployment = c.object("apps/v1", "Deployment", Some("default"), "u-web").await.unwrap();
    assert_eq!(deployment["spec"]["template"]["metadata"]["annotations"]["sim.gantry.dev/behavior"], "ready", "rolled back");

    // Real Helm, the same install and upgrade.
    c.helm.ok(json!({"op": "install", "release": "hu", "chart": hooked(), "wait": "legacy", "timeout": 60})).await;
    let theirs = c.helm.run(json!({"op": "upgrade", "release": "hu", "chart": hooked(), "values": crashing, "wait": "legacy", "timeout": 3, "rollback_on_failure": true})).await.expect_err("Helm fails too");
    eprintln!("helm: {theirs:?}");
    assert!(theirs.message.starts_with("release hu failed, and has been rolled back due to rollback-on-failure being set: "), "{theirs:?}");
    let helm_history = c.helm.ok(json!({"op": "history", "release": "hu"})).await;
    eprintln!("helm history: {helm_history}");
    assert_eq!(revisions(&helm_history), ours_history);
    // Helm's records, read by gantry: the same descriptions.
    let theirs_history = short.history("hu", None).await.expect("Helm's history");
    eprintln!("Helm's descriptions: {:?}", theirs_history.iter().map(|r| r.description().to_string()).collect::<Vec<_>>());
    assert_eq!(theirs_history[0].description(), history[0].description());
    assert_eq!(theirs_history[2].description(), "Rollback to 1");
    assert!(theirs_history[1].description().starts_with("Upgrade \"hu\" failed: "), "{}", theirs_history[1].description());
    // Helm reads gantry's history the same way.
    assert_eq!(revisions(&c.helm.ok(json!({"op": "history", "release": "u"})).await), ours_history);
}

#[tokio::test]
async fn rollback_and_delete_hooks_run_at_their_points() {
    let Some(c) = Cluster::start().await else { return };
    let releases = c.releases("default", Driver::Secret).await.with_timeout(PATIENT);
    releases.install("r", &chart("hooked"), &InstallOptions::default()).await.expect("installs");
    releases.upgrade("r", &chart("hooked"), &UpgradeOptions { values: values(json!({"extra": true})), ..Default::default() }).await.expect("upgrades");
    assert!(c.object("v1", "ConfigMap", Some("default"), "r-post-rollback").await.is_none());
    let rolled = releases.rollback("r", &Default::default()).await.expect("rolls back");
    assert_eq!(hook(&rolled.hooks, "r-post-rollback")["last_run"]["phase"], "Succeeded");
    let cm = c.object("v1", "ConfigMap", Some("default"), "r-post-rollback").await.expect("the post-rollback hook ran");
    assert_eq!(cm["data"]["revision"], "1", "the hook of the revision rolled back to");
    assert!(c.object("v1", "ConfigMap", Some("default"), "r-pre-delete").await.is_none());
    let gone = releases.uninstall("r", &Default::default()).await.expect("uninstalls");
    assert_eq!(hook(&gone.release.hooks, "r-pre-delete")["last_run"]["phase"], "Succeeded");
    assert!(c.object("apps/v1", "Deployment", Some("default"), "r-web").await.is_none());
    assert!(c.object("v1", "ConfigMap", Some("default"), "r-pre-delete").await.is_some(), "a hook's object is not the release's: kept");
}
