//! What the pipeline tests that reach clusters share: the path of a fixture
//! component, and one run of a pipeline file through the engine with the
//! cluster backends `gantry run` would have connected.
#![allow(dead_code)]

pub mod bed;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_engine::{RunOptions, RunOutcome, Vars};
use gantry_runtime::{Clusters, HelmBackends, ImageBackendRef, Runtime, RuntimeConfig, ScanBackendRef};
use tokio_util::sync::CancellationToken;

/// Where `fixture-<name>`'s component was built.
pub fn fixture_path(name: &str) -> String {
    gantry_tests::FIXTURES.iter().find(|(n, _)| *n == name).map(|(_, p)| p.to_string()).unwrap_or_else(|| panic!("no fixture {name}"))
}

/// Write `yaml` as `dir/gantry.yaml`, plan it and run it with `clusters`.
pub async fn run_pipeline(dir: &Path, yaml: &str, clusters: Clusters) -> RunOutcome {
    run_pipeline_with(dir, yaml, clusters, Default::default()).await
}

/// [`run_pipeline`] with the targets' Helm backends too.
pub async fn run_pipeline_with(dir: &Path, yaml: &str, clusters: Clusters, helm: HelmBackends) -> RunOutcome {
    run_pipeline_full(dir, yaml, clusters, helm, None, |_, _| None).await
}

/// [`run_pipeline`] with registries and builders only (stages that run once).
pub async fn run_pipeline_images(dir: &Path, yaml: &str, images: ImageBackendRef) -> RunOutcome {
    run_pipeline_full(dir, yaml, Default::default(), Default::default(), images, |_, _| None).await
}

/// [`run_pipeline_images`] with a scanner too, made (as `gantry run` makes
/// it) from the run's runtime and the pipeline file's directory.
pub async fn run_pipeline_scanned(dir: &Path, yaml: &str, images: ImageBackendRef, scanner: impl FnOnce(Arc<Runtime>, PathBuf) -> ScanBackendRef) -> RunOutcome {
    run_pipeline_full(dir, yaml, Default::default(), Default::default(), images, scanner).await
}

/// [`run_pipeline`] with every backend: clusters, Helm, images and a scanner.
pub async fn run_pipeline_full(dir: &Path, yaml: &str, clusters: Clusters, helm: HelmBackends, images: ImageBackendRef, scanner: impl FnOnce(Arc<Runtime>, PathBuf) -> ScanBackendRef) -> RunOutcome {
    run_pipeline_measured(dir, yaml, clusters, helm, images, scanner, Default::default()).await
}

/// [`run_pipeline_full`] with each target's metrics provider too (canary analysis).
pub async fn run_pipeline_measured(
    dir: &Path,
    yaml: &str,
    clusters: Clusters,
    helm: HelmBackends,
    images: ImageBackendRef,
    scanner: impl FnOnce(Arc<Runtime>, PathBuf) -> ScanBackendRef,
    metrics: gantry_runtime::MetricsBackends,
) -> RunOutcome {
    let path = dir.join("gantry.yaml");
    std::fs::write(&path, yaml).unwrap();
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let pipeline = gantry_engine::load(&path, &Vars::empty()).unwrap_or_else(|d| panic!("{d}"));
    let scanner = scanner(runtime.clone(), pipeline.dir.clone());
    let plan = Arc::new(gantry_engine::plan(pipeline, &runtime).unwrap_or_else(|d| panic!("{d}")));
    let opts = RunOptions { state_dir: dir.join(".gantry"), cancel: CancellationToken::new(), abort: CancellationToken::new(), events: Arc::new(|_| {}), revision: None, clusters, helm, images, scanner, metrics };
    gantry_engine::run(plan, runtime, opts).await
}

/// Values for every variable the request's pipelines
/// (`examples/fastapi-app/gantry*.yaml`) use, as a CI job gives them.
pub fn request_job_vars() -> gantry_engine::Vars {
    let mut vars = gantry_engine::Vars::empty();
    for (k, v) in [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCOUNT_ID", "123456789012"),
        ("CLUSTER_AWS", "prod-eks"),
        ("GCP_PROJECT", "my-project"),
        ("GCP_REGION", "europe-west1"),
        ("CLUSTER_GCP", "prod-gke"),
        ("IMAGE_NAME", "fastapi-app"),
        ("GCP_SERVICE_ACCOUNT_KEY", "/run/secrets/gcp-key.json"),
        ("CI_COMMIT_SHA", "3f2a9c1e8b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a"),
    ] {
        vars.set(k, v);
    }
    vars
}
