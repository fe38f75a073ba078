//! `builtin:scan` in a run, as `gantry run` plugs it in: a real
//! docker-registry, gantry-registry's `RegistryBackend` for the build and
//! gantry-scan's `ScanService` (over a `Scanner` with the same anonymous
//! client, on the run's runtime) for the scanner. A daemonless build pushes
//! an image that runs as root; the scan stage scans that digest and asks
//! `builtin:policy-default`. With `no-root: true` (and two required labels)
//! the run fails at the scan, the error lists each violation and the stage after it (the one
//! that would deploy) never runs; with `no-root: false` the same image
//! passes. A policy path that leaves the pipeline's directory is denied.
//! Every scan's report is saved as JSON and SARIF under
//! `.gantry/reports/<run-id>/` and the stage names the files. A plugin
//! (`fixture-scanner`) may scan and SBOM the pipeline's image, and is
//! denied (and the denial logged) for another repository, another
//! registry or the local engine. It must not reach anything beyond 127.0.0.1.

use std::path::Path;
use std::sync::Arc;

use gantry_engine::event::{RunStatus, StepStatus};
use gantry_engine::RunOutcome;
use gantry_registry::backend::RegistryBackend;
use gantry_registry::testing::registry::{DockerRegistry, RegistryAuth};
use gantry_registry::{Client, StaticCredentials};
use gantry_runtime::{ImageBackend, ScanBackend};

use crate::common::{fixture_path, run_pipeline_scanned};

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
        let scanner: Arc<dyn ScanBackend> = Arc::new(gantry_scan::backend::ScanService::new(gantry_scan::scan::Scanner::new(Some(client())), runtime, base, Some(dir.join(".gantry"))));
        Some(scanner)
    })
    .await
}

/// Where the scan of `digest` in run `run_id` saved its reports, checked to be there.
fn saved(dir: &Path, run_id: &str, digest: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let stem = dir.join(".gantry/reports").join(run_id).join(format!("scan-{}", &hex[..12]));
    let (json, sarif) = (stem.with_extension("json"), stem.with_extension("sarif"));
    assert!(json.is_file() && sarif.is_file(), "no reports at {}: {:?}", stem.display(), std::fs::read_dir(dir.join(".gantry/reports")).map(|d| d.map(|e| e.unwrap().path()).collect::<Vec<_>>()));
    (json, sarif)
}

fn stage<'a>(outcome: &'a RunOutcome, name: &str) -> &'a gantry_engine::record::StageRecordOut {
    outcome.record.stages.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no stage {name}: {:#?}", outcome.record.stages))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_stage_denies_a_root_image_before_anything_is_deployed() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let host = registry.host().to_string();
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &pipeline(&host, "{ settings: { no-root: true, required-labels: [team, org.opencontainers.image.source] } }")).await;

    assert_eq!(outcome.status, RunStatus::Failed, "{:#?}", outcome.record.stages);
    let built = stage(&outcome, "build");
    assert_eq!(built.status, StepStatus::Succeeded, "{built:#?}");
    let digest = built.steps[0].outputs["digest"].as_str().unwrap().to_string();
    let scan = stage(&outcome, "scan");
    assert_eq!(scan.status, StepStatus::Failed, "{scan:#?}");
    let error = scan.steps[0].error.as_ref().expect("the scan stage's error");
    // Every violation, one line each: rule (severity) subject: message.
    assert!(error.message.contains("(3 violations):\n"), "{error:#?}");
    for line in ["  - no-root (high) user: the image runs as root", "  - required-labels (medium) team: the image has no `team` label", "  - required-labels (medium) org.opencontainers.image.source: "] {
        assert!(error.message.lines().any(|l| l.starts_with(line)), "no line `{line}`: {error:#?}");
    }
    assert!(error.message.contains(&format!("{host}/app@{digest}")), "the scan is of the pushed digest: {error:#?}");
    assert!(error.hint.as_deref().unwrap_or_default().contains("settings"), "{error:#?}");
    // The violation is in the record's log with its fields too, and the reports are saved where the message says.
    let logged = scan.steps[0].logs.iter().find(|l| l.message.starts_with("no-root (")).unwrap_or_else(|| panic!("{:#?}", scan.steps[0].logs));
    assert!(logged.fields.iter().any(|(k, v)| k == "rule" && v == "no-root") && logged.fields.iter().any(|(k, v)| k == "subject" && v == "user"), "{logged:#?}");
    let (json, sarif) = saved(dir.path(), &outcome.record.run_id, &digest);
    assert!(error.message.contains(&format!("reports: {}, {}", json.display(), sarif.display())), "{error:#?}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["image"]["digest"].as_str(), Some(digest.as_str()));
    assert_eq!(report["image"]["user"], "");
    let sarif: serde_json::Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
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
    assert_eq!(out["counts"], serde_json::json!({"critical": 0, "high": 0, "medium": 0, "low": 0, "negligible": 0, "unknown": 0}), "{out}");
    assert_eq!((out["secrets"].as_u64(), out["packages"].as_u64()), (Some(0), Some(0)), "{out}");
    let (json, sarif) = saved(dir.path(), &outcome.record.run_id, &digest);
    assert_eq!(out["reports"], serde_json::json!({"json": json.display().to_string(), "sarif": sarif.display().to_string()}), "{out}");
    assert!(json.is_file() && sarif.is_file());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_scans_the_pipelines_image_and_is_denied_any_other() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let host = registry.host().to_string();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: scanned\nimage: {{ name: app, tag: \"1.0\", build: {{ context: app }} }}\ntargets:\n  a: {{ sim: {{}}, registry: \"{host}\" }}\nstages:\n\
        \x20 - {{ name: build, uses: builtin:build, with: {{ backend: daemonless }} }}\n\
        \x20 - name: peek\n    uses: {}\n    once: true\n    grants: [scanner, cluster-read]\n    with:\n      calls:\n\
        \x20       - {{ op: scan, reference: \"{host}/app:1.0\" }}\n\
        \x20       - {{ op: sbom, reference: \"{host}/app:1.0\", format: cyclonedx }}\n\
        \x20       - {{ op: scan, reference: \"{host}/other:1.0\" }}\n\
        \x20       - {{ op: sbom, reference: \"{host}/other:1.0\", format: spdx }}\n\
        \x20       - {{ op: scan, reference: \"127.0.0.2:5999/app:1.0\" }}\n\
        \x20       - {{ op: scan, reference: \"docker:app:1.0\" }}\n",
        fixture_path("scanner")
    );
    let outcome = run(dir.path(), &yaml).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let digest = stage(&outcome, "build").steps[0].outputs["digest"].as_str().unwrap().to_string();
    let step = &stage(&outcome, "peek").steps[0];
    let results = step.outputs["results"].as_array().unwrap();
    let answer = |i: usize| &results[i]["answer"];
    assert_eq!(answer(0)["digest"].as_str(), Some(digest.as_str()), "the pipeline's image is scanned: {}", answer(0));
    assert_eq!(answer(0)["user"], "", "{}", answer(0));
    assert_eq!(answer(1)["specVersion"], "1.5", "{}", answer(1));
    for (i, call) in results.iter().enumerate().skip(2) {
        assert_eq!(call["answer"]["error"], "denied", "call {i} ({}): {}", call["reference"], call["answer"]);
    }
    assert!(answer(2)["message"].as_str().unwrap().contains(&format!("{host}/other")), "{}", answer(2));
    assert!(answer(5)["message"].as_str().unwrap().contains("local Docker engine"), "{}", answer(5));
    let log: Vec<&str> = step.logs.iter().map(|l| l.message.as_str()).collect();
    for (call, reference) in [("scan", format!("{host}/other:1.0")), ("sbom", format!("{host}/other:1.0")), ("scan", "127.0.0.2:5999/app:1.0".to_string()), ("scan", "docker:app:1.0".to_string())] {
        assert!(log.iter().any(|l| l.starts_with(&format!("denied scanner.{call}")) && l.contains(&reference)), "no denial of scanner.{call} {reference} in the log: {log:#?}");
    }
}
