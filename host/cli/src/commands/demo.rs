//! The embedded default (`--demo`): the request's own pipeline,
//! `examples/fastapi-app/gantry.yaml`, with the app, its Dockerfile and the
//! chart `helm/fastapi-app`, all built into the binary (`build.rs`). On
//! `--demo` they are written under `<state-dir>/demo/` in the repository's
//! layout (so the pipeline's `chart: ../../helm/fastapi-app` resolves), a
//! file rewritten only when its contents differ, and the pipeline is loaded
//! from there. `run`, `status` and `plan` with `--demo` simulate every
//! target (as `--sim`), and the demo's variables ([`VARIABLES`]) default
//! the image to a daemonless build `FROM scratch`: no Docker, no registry
//! beyond the simulated ones, no network.
//!
//! It must not write anywhere but `<state-dir>/demo/`, nor change the
//! example for real runs: everything demo-specific is a variable default.

use std::path::{Path, PathBuf};

mod files {
    include!(concat!(env!("OUT_DIR"), "/demo_files.rs"));
}

pub use files::FILES;

/// The pipeline file inside the demo directory.
pub const PIPELINE: &str = "examples/fastapi-app/gantry.yaml";

/// The variables the demo sets unless the environment or `--var` does:
/// the app's base image is `scratch` (the daemonless builder makes it
/// offline: the app's files, no Python) and the build never asks for a
/// Docker engine.
pub const VARIABLES: &[(&str, &str)] = &[("PYTHON_IMAGE", "scratch"), ("BUILD_BACKEND", "daemonless")];

/// The embedded pipeline's text.
pub fn pipeline_text() -> &'static str {
    let bytes = FILES.iter().find(|(p, _)| *p == PIPELINE).map(|(_, b)| *b).unwrap_or_default();
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// The state directory of commands that have no `--state-dir`
/// (`validate`): `GANTRY_STATE_DIR`, else `.gantry`.
pub fn default_state_dir() -> PathBuf {
    std::env::var_os("GANTRY_STATE_DIR").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".gantry"))
}

/// Write the demo's files under `<state_dir>/demo/` (each only when absent
/// or different) and return the pipeline file's path.
pub fn materialize(state_dir: &Path) -> Result<PathBuf, String> {
    let root = state_dir.join("demo");
    for (rel, bytes) in FILES {
        let path = root.join(rel);
        if std::fs::read(&path).is_ok_and(|have| have == *bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("writing the demo's files: cannot create {}: {e} (pass --state-dir DIR to write them elsewhere)", parent.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("writing the demo's files: cannot write {}: {e} (pass --state-dir DIR to write them elsewhere)", path.display()))?;
    }
    Ok(root.join(PIPELINE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_embeds_the_request_pipeline_its_app_and_its_chart() {
        for needed in [PIPELINE, "examples/fastapi-app/Dockerfile", "examples/fastapi-app/requirements.txt", "examples/fastapi-app/app/main.py", "helm/fastapi-app/Chart.yaml", "helm/fastapi-app/templates/deployment.yaml"] {
            assert!(FILES.iter().any(|(p, _)| *p == needed), "{needed} is not embedded");
        }
        assert!(pipeline_text().contains("chart: ../../helm/fastapi-app"), "the layout under demo/ keeps the chart's relative path");
    }

    #[test]
    fn materializing_writes_the_layout_once_and_repairs_a_changed_file() {
        let d = tempfile::tempdir().unwrap();
        let file = materialize(d.path()).unwrap();
        assert_eq!(file, d.path().join("demo/examples/fastapi-app/gantry.yaml"));
        assert!(d.path().join("demo/helm/fastapi-app/values.yaml").is_file());
        let chart = d.path().join("demo/helm/fastapi-app/Chart.yaml");
        let written = std::fs::metadata(&chart).unwrap().modified().unwrap();
        std::fs::write(&file, "changed").unwrap();
        materialize(d.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), pipeline_text(), "a changed file is rewritten");
        assert_eq!(std::fs::metadata(&chart).unwrap().modified().unwrap(), written, "an unchanged file is left alone");
    }
}
