//! Failures the simulated cluster acts out as a real one does (host/sim's
//! `fail` pod behaviour: Job pods exit 1 and their Job fails with
//! `BackoffLimitExceeded` once past `backoffLimit`; LoadBalancer Services
//! given an ingress IP or left pending; claims bound or never), met by gantry's hooks, `--wait` and
//! `--wait-for-jobs` and held against the real Helm library on the same
//! chart. The Job releases are given a long timeout, so a failure reported
//! comes from the Job's Failed condition, not from the deadline. This file
//! must not assert on elapsed time nor change the cluster behind the
//! release's back.

use crate::common;

use std::time::Duration;

use common::{chart, Cluster};
use gantry_release::{Driver, InstallOptions, ReleaseError, Status};
use serde_json::{json, Map, Value};

/// Longer than any simulated failure takes; reaching it would fail the asserts below.
const PATIENT: Duration = Duration::from_secs(60);

fn values(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("an object")
}

#[tokio::test]
async fn a_hook_job_whose_pods_fail_fails_the_install_with_backoff_limit_exceeded() {
    let Some(c) = Cluster::start().await else { return };
    let releases = c.releases("default", Driver::Secret).await.with_timeout(PATIENT);
    let options = InstallOptions { values: values(json!({"hookBehavior": "fail"})), ..Default::default() };
    let err = releases.install("f", &chart("hooked"), &options).await.expect_err("the hook job fails");
    let message = err.to_string();
    eprintln!("gantry: {message}");
    assert!(message.starts_with("failed pre-install: "), "{message}");
    assert_eq!(message, "failed pre-install: resource Job/default/f-pre-job not ready. status: Failed, message: Job Failed. failed: 1/1", "Helm's words for a failed job");
    assert!(!message.contains("context deadline exceeded"), "failed on the Job's condition, not the timeout: {message}");
    let ReleaseError::Failed { release, .. } = err else { panic!("a failed release") };
    assert_eq!(release.status(), Status::Failed);
    let job = c.object("batch/v1", "Job", Some("default"), "f-pre-job").await.expect("before-hook-creation: the failed job is kept");
    assert_eq!(job["status"]["failed"], 1, "backoffLimit 0: one failed pod fails it: {job}");
    assert!(c.object("apps/v1", "Deployment", Some("default"), "f-web").await.is_none(), "nothing after the failing hook");

    // Real Helm, the same install: it fails on the same Job, at once too, in the same words
    // (its kstatus watcher's), the release name aside.
    let theirs = c.helm.run(json!({"op": "install", "release": "hf", "chart": chart("hooked").to_string_lossy(), "values": options.values, "timeout": 60})).await.expect_err("Helm fails too");
    eprintln!("helm: {theirs:?}");
    assert!(theirs.message.starts_with("failed pre-install: "), "{theirs:?}");
    assert_eq!(theirs.message, "failed pre-install: resource Job/default/hf-pre-job not ready. status: Failed, message: Job Failed. failed: 1/1");
    assert!(!theirs.message.contains("context deadline exceeded"), "Helm too fails on the condition: {theirs:?}");
    assert!(c.object("apps/v1", "Deployment", Some("default"), "hf-web").await.is_none());
}

#[tokio::test]
async fn wait_for_jobs_fails_on_a_job_that_fails_and_passes_on_one_that_completes() {
    let Some(c) = Cluster::start().await else { return };
    let releases = c.releases("default", Driver::Secret).await.with_wait(true).with_timeout(PATIENT);
    let done = releases.install("ok", &chart("waited"), &InstallOptions::default()).await.expect("the job completes");
    assert_eq!(done.status(), Status::Deployed);
    let job = c.object("batch/v1", "Job", Some("default"), "ok-work").await.expect("the job");
    assert_eq!(job["status"]["succeeded"], 1, "waited for until complete: {job}");

    let failing = InstallOptions { values: values(json!({"jobBehavior": "fail", "backoffLimit": 1})), ..Default::default() };
    let err = releases.install("bad", &chart("waited"), &failing).await.expect_err("the job fails");
    let message = err.to_string();
    eprintln!("gantry: {message}");
    assert!(message.contains("resource Job/default/bad-work not ready. status: Failed, message: Job Failed. failed: 2/1"), "{message}");
    assert!(!message.contains("context deadline exceeded"), "{message}");
    let job = c.object("batch/v1", "Job", Some("default"), "bad-work").await.expect("the job stays");
    assert_eq!(job["status"]["failed"], 2, "backoffLimit 1: retried once: {job}");
    let stored = releases.status("bad", None).await.expect("recorded");
    assert_eq!((stored.status(), stored.description().to_string()), (Status::Failed, format!("Release \"bad\" failed: {message}")));
}

#[tokio::test]
async fn wait_passes_once_a_load_balancer_has_an_ingress_and_names_it_when_it_never_does() {
    let Some(c) = Cluster::start().await else { return };
    let patient = c.releases("default", Driver::Secret).await.with_wait(false).with_timeout(PATIENT);
    let up = patient.install("lb", &chart("waited"), &InstallOptions::default()).await.expect("the load balancer gets an ingress");
    assert_eq!(up.status(), Status::Deployed);
    let svc = c.object("v1", "Service", Some("default"), "lb-lb").await.expect("the service");
    let ip = svc["status"]["loadBalancer"]["ingress"][0]["ip"].as_str().expect("an ingress IP").to_string();
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback()), "{ip}");

    // Real Helm waits for the same ingress.
    c.helm.ok(json!({"op": "install", "release": "hlb", "chart": chart("waited").to_string_lossy(), "wait": "legacy", "timeout": 60})).await;

    // Never provisioned: the wait runs out, naming the Service. (A short timeout: nothing will change.)
    let short = c.releases("default", Driver::Secret).await.with_wait(false).with_timeout(Duration::from_secs(2));
    let pending = InstallOptions { values: values(json!({"lbPending": true})), ..Default::default() };
    let message = short.install("np", &chart("waited"), &pending).await.expect_err("never provisioned").to_string();
    eprintln!("gantry: {message}");
    assert!(message.contains("resource Service/default/np-lb not ready. status: InProgress, message: Service does not have load balancer ingress IP address"), "names the service: {message}");
    let theirs = c.helm.run(json!({"op": "install", "release": "hnp", "chart": chart("waited").to_string_lossy(), "values": pending.values, "wait": "legacy", "timeout": 3})).await.expect_err("Helm waits in vain too");
    eprintln!("helm: {theirs:?}");
    // Helm's legacy waiter only says the deadline passed; gantry's (kstatus-like) names what it waited for.
    assert_eq!((theirs.kind.as_str(), theirs.message.as_str()), ("HelmCancelledError", "context deadline exceeded"));
}

#[tokio::test]
async fn wait_passes_once_a_claim_is_bound_and_names_it_when_it_never_is() {
    let Some(c) = Cluster::start().await else { return };
    let patient = c.releases("default", Driver::Secret).await.with_wait(false).with_timeout(PATIENT);
    patient.install("v", &chart("waited"), &InstallOptions::default()).await.expect("the claim is bound");
    let claim = c.object("v1", "PersistentVolumeClaim", Some("default"), "v-data").await.expect("the claim");
    assert_eq!(claim["status"]["phase"], "Bound", "{claim}");
    let volume = c.object("v1", "PersistentVolume", None, claim["spec"]["volumeName"].as_str().expect("a volume")).await.expect("the volume");
    assert_eq!(volume["spec"]["claimRef"]["name"], "v-data", "{volume}");

    // Real Helm waits for the same binding.
    c.helm.ok(json!({"op": "install", "release": "hv", "chart": chart("waited").to_string_lossy(), "wait": "legacy", "timeout": 60})).await;

    // Never bound: the wait runs out, naming the claim. (A short timeout: nothing will change.)
    let short = c.releases("default", Driver::Secret).await.with_wait(false).with_timeout(Duration::from_secs(2));
    let never = InstallOptions { values: values(json!({"pvcNeverBinds": true})), ..Default::default() };
    let message = short.install("nv", &chart("waited"), &never).await.expect_err("never bound").to_string();
    eprintln!("gantry: {message}");
    assert!(message.contains("resource PersistentVolumeClaim/default/nv-data not ready. status: InProgress, message: PersistentVolumeClaim is not bound (phase Pending)"), "names the claim: {message}");
    let theirs = c.helm.run(json!({"op": "install", "release": "hnv", "chart": chart("waited").to_string_lossy(), "values": never.values, "wait": "legacy", "timeout": 3})).await.expect_err("Helm waits in vain too");
    eprintln!("helm: {theirs:?}");
    assert_eq!((theirs.kind.as_str(), theirs.message.as_str()), ("HelmCancelledError", "context deadline exceeded"));
}
