//! `builtin:scan` in a run, as `gantry run` plugs it in: a real
//! docker-registry, gantry-registry's `RegistryBackend` for the build and
//! gantry-scan's `ScanService` (over a `Scanner` with the same anonymous
//! client, on the run's runtime) for the scanner. A daemonless build pushes
//! an image that runs as root; the scan stage scans that digest and asks
//! `builtin:policy-default`. With `no-root: true` the run fails at the scan,
//! the error names the `no-root` violation and the stage after it (the one
//! that would deploy) never runs; with `no-root: false` the same image
//! passes. A policy path that leaves the pipeline's directory is denied.
//! It must not reach anything beyond 127.0.0.1.

use std::path::Path;
use std::sync::Arc;

use gantry_engine::event::{RunStatus, StepStatus};
use gantry_engine::RunOutcome;
use gantry_registry::backend::RegistryBackend;
use gantry_registry::testing::registry::{DockerRegistry, RegistryAuth};
use gantry_registry::{Client, StaticCredentials};
use gantry_runtime::{ImageBackend, ScanBackend};

use crate::common::run_pipeline_scanned;

/// No `USER`: the image runs as root.
const AS_ROOT: &str = "FROM scratch\nCOPY hello.txt /srv/hello.txt\nENTRYPOINT [\"/srv/app\"]\n";

fn client() -> Client {
    Client::new(Arc::new(StaticCredentials::new()))
}

fn pipeline(registry: &str, scan_with: &str) -> String {
    format!(
        "name: scanned\nimage: {{ name: app, tag: \"1.0\", build: {{ context: app }} }}\ntargets:\n  a: {{ sim: {{}}, registry: \"{registry}\" }}\nstages:\n\
        \x20 - {{ name: build, uses: builtin:build, with: {{ backend: daemonless }} }}\n\
        \x20 - {{ name: scan, uses: builtin:scan, with: {scan_with} }}\n\
        \x20 - {{ name: deploy, uses: builtin:echo, with: {{ message: deployed }} }}\n"
    )
}

/// Run `yaml` in `dir` with the registry image backend and the gantry-scan scanner.
async fn run(dir: &Path, yaml: &str) -> RunOutcome {
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(dir.join("app/Dockerfile"), AS_ROOT).unwrap();
    std::fs::write(dir.join("app/hello.txt"), "hello from gantry\n").unwrap();
    let images: Arc<dyn ImageBackend> = Arc::new(RegistryBackend::new(client()));
    run_pipeline_scanned(dir, yaml, Some(images), |runtime, base| {
        let scanner: Arc<dyn ScanBackend> = Arc::new(gantry_scan::backend::ScanService::new(gantry_scan::scan::Scanner::new(Some(client())), runtime, base));
        Some(scanner)
    })
    .await
}

fn stage<'a>(outcome: &'a RunOutcome, name: &str) -> &'a gantry_engine::record::StageRecordOut {
    outcome.record.stages.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no stage {name}: {:#?}", outcome.record.stages))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_stage_denies_a_root_image_before_anything_is_deployed() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let host = registry.host().to_string();
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &pipeline(&host, "{ settings: { no-root: true } }")).await;

    assert_eq!(outcome.status, RunStatus::Failed, "{:#?}", outcome.record.stages);
    let built = stage(&outcome, "build");
    assert_eq!(built.status, StepStatus::Succeeded, "{built:#?}");
    let digest = built.steps[0].outputs["digest"].as_str().unwrap().to_string();
    let scan = stage(&outcome, "scan");
    assert_eq!(scan.status, StepStatus::Failed, "{scan:#?}");
    let error = scan.steps[0].error.as_ref().expect("the scan stage's error");
    assert!(error.message.contains("no-root"), "{error:#?}");
    assert!(error.message.contains(&format!("{host}/app@{digest}")), "the scan is of the pushed digest: {error:#?}");
    assert!(error.hint.as_deref().unwrap_or_default().contains("settings"), "{error:#?}");
    let deploy = stage(&outcome, "deploy");
    assert_eq!(deploy.status, StepStatus::Skipped, "{deploy:#?}");
    assert!(deploy.steps.is_empty(), "{deploy:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_stage_allows_the_same_image_when_the_policy_allows_root() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let host = registry.host().to_string();
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &pipeline(&host, "{ policy: \"builtin:policy-default\", settings: { no-root: false } }")).await;

    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let digest = stage(&outcome, "build").steps[0].outputs["digest"].as_str().unwrap().to_string();
    let scan = stage(&outcome, "scan");
    assert_eq!(scan.steps.len(), 1, "scanned once, not per target");
    let out = &scan.steps[0].outputs;
    assert_eq!(out["decision"], "allow", "{out}");
    assert_eq!(out["digest"].as_str(), Some(digest.as_str()), "{out}");
    assert_eq!(out["reference"].as_str(), Some(format!("{host}/app@{digest}").as_str()), "{out}");
    assert_eq!(out["violations"], serde_json::json!([]), "{out}");
    assert_eq!(out["counts"]["critical"], 0, "{out}");
    assert_eq!(stage(&outcome, "deploy").status, StepStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_stage_policy_outside_the_pipeline_directory_is_denied() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let host = registry.host().to_string();
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &pipeline(&host, "{ policy: ../elsewhere/policy.wasm }")).await;

    assert_eq!(outcome.status, RunStatus::Failed, "{:#?}", outcome.record.stages);
    let scan = stage(&outcome, "scan");
    let error = scan.steps[0].error.as_ref().expect("the scan stage's error");
    assert!(error.message.contains("denied") && error.message.contains("outside the pipeline's directory"), "{error:#?}");
    let log: Vec<&str> = scan.steps[0].logs.iter().map(|l| l.message.as_str()).collect();
    assert!(log.iter().any(|l| l.starts_with("denied scanner.evaluate")), "{log:?}");
    assert_eq!(stage(&outcome, "deploy").status, StepStatus::Skipped);
}
