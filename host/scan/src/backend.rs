//! The runtime's [`ScanBackend`] over the [`Scanner`]: what `gantry run`
//! gives every stage's `scanner` capability. Scans and SBOMs of registry
//! references (the capability has already checked scope and refused
//! `docker:`), the report converted to the WIT `scan-report` by
//! `crate::wit`. Errors are mapped to backend error kinds (a missing image
//! is `not-found`, refused credentials `failed`). `evaluate` loads the
//! policy (`builtin:NAME` or a `.wasm` path under the pipeline's directory,
//! `base_dir`) and runs it in its own pure sandbox on the runtime it was
//! given. With a state directory (`gantry run --state-dir`, `.gantry`) every
//! scan made for a run also saves its report where CI collects it:
//! `<state-dir>/reports/<run-id>/scan-<12 hex of the digest>.json` (the
//! `gantry scan --format json` report) and `.sarif` (SARIF 2.1.0); a report
//! that cannot be written fails the scan, naming the file. It must not
//! check scope nor print credentials.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use gantry_runtime::cluster::{BackendError, BackendErrorKind, BackendResult};
use gantry_runtime::wit::scan_types::{Decision, ScanReport};
use gantry_runtime::{Runtime, ScanBackend};

use crate::scan::{ScanError, ScanOptions, Scanner};

/// The scanner as the runtime's backend.
#[derive(Clone)]
pub struct ScanService {
    scanner: Scanner,
    runtime: Arc<Runtime>,
    base_dir: PathBuf,
    state_dir: Option<PathBuf>,
}

impl std::fmt::Debug for ScanService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanService").field("scanner", &self.scanner).field("base_dir", &self.base_dir).field("state_dir", &self.state_dir).finish()
    }
}

impl ScanService {
    /// `runtime` runs policies; `base_dir` (the pipeline's directory) is
    /// where a policy's `.wasm` path is read from; `state_dir` (the run's
    /// `--state-dir`), when given, is where each run's scan reports are
    /// saved (`reports/<run-id>/`).
    pub fn new(scanner: Scanner, runtime: Arc<Runtime>, base_dir: PathBuf, state_dir: Option<PathBuf>) -> ScanService {
        ScanService { scanner, runtime, base_dir, state_dir }
    }

    /// `<state-dir>/reports/<run-id>/scan-<12 hex>` (no extension), or None
    /// when reports are not saved or the run id could not name a directory.
    fn report_stem(&self, run_id: &str, digest: &str) -> Option<PathBuf> {
        let state = self.state_dir.as_ref()?;
        if run_id.is_empty() || !run_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return None;
        }
        Some(state.join("reports").join(run_id).join(format!("scan-{}", short_digest(digest))))
    }
}

/// The first 12 hex digits of `sha256:HEX` (what a file name can hold of any other text).
pub fn short_digest(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().filter(|c| c.is_ascii_alphanumeric()).take(12).collect()
}

/// Write the JSON and SARIF reports next to `stem`; their paths.
fn save(stem: &Path, json: String, sarif: String) -> Result<Vec<String>, BackendError> {
    let dir = stem.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| BackendError::new(BackendErrorKind::Failed, format!("cannot create the report directory {}: {e}; check that the state directory is writable", dir.display())))?;
    let mut paths = Vec::new();
    for (ext, text) in [("json", json), ("sarif", sarif)] {
        let path = stem.with_extension(ext);
        std::fs::write(&path, text).map_err(|e| BackendError::new(BackendErrorKind::Failed, format!("cannot write the scan report {}: {e}; check that the state directory is writable", path.display())))?;
        paths.push(path.display().to_string());
    }
    Ok(paths)
}

fn backend_error(e: ScanError) -> BackendError {
    let kind = match &e {
        ScanError::Reference { .. } => BackendErrorKind::Invalid,
        ScanError::Registry { source, .. } if source.status() == Some(404) || source.code() == "MANIFEST_UNKNOWN" || source.code() == "NAME_UNKNOWN" => BackendErrorKind::NotFound,
        _ => BackendErrorKind::Failed,
    };
    BackendError::new(kind, e.to_string())
}

#[async_trait]
impl ScanBackend for ScanService {
    async fn scan(&self, run_id: &str, reference: &str, secrets: bool, skip_vulnerabilities: bool) -> BackendResult<ScanReport> {
        let scanned = self.scanner.scan(reference, ScanOptions { secrets, skip_vulnerabilities }).await.map_err(backend_error)?;
        if let Some(stem) = self.report_stem(run_id, &scanned.report.image.digest) {
            let json = crate::report::json::render(&scanned.report);
            let sarif = crate::report::render(&scanned.report, scanned.os.as_ref(), crate::report::Format::Sarif, &crate::sbom::now_rfc3339(), env!("CARGO_PKG_VERSION"));
            let saved = tokio::task::spawn_blocking(move || save(&stem, json, sarif)).await.map_err(|e| BackendError::new(BackendErrorKind::Failed, format!("saving the scan report stopped: {e}")))??;
            tracing::info!(reports = ?saved, "scan reports saved");
        }
        Ok(crate::wit::to_wit(&scanned.report))
    }

    async fn saved_reports(&self, run_id: &str, digest: &str) -> Vec<String> {
        let Some(stem) = self.report_stem(run_id, digest) else {
            return Vec::new();
        };
        let paths = [stem.with_extension("json"), stem.with_extension("sarif")];
        tokio::task::spawn_blocking(move || paths.iter().filter(|p| p.is_file()).map(|p| p.display().to_string()).collect()).await.unwrap_or_default()
    }

    async fn sbom(&self, reference: &str, format: &str) -> BackendResult<String> {
        let format = match format {
            "cyclonedx" => crate::report::Format::CycloneDx,
            "spdx" => crate::report::Format::Spdx,
            other => return Err(BackendError::new(BackendErrorKind::Invalid, format!("`{other}` is not an SBOM format: use `cyclonedx` or `spdx`"))),
        };
        let scanned = self.scanner.scan(reference, ScanOptions { secrets: false, skip_vulnerabilities: true }).await.map_err(backend_error)?;
        Ok(crate::report::render(&scanned.report, scanned.os.as_ref(), format, &crate::sbom::now_rfc3339(), env!("CARGO_PKG_VERSION")))
    }

    async fn evaluate(&self, report: ScanReport, policy: &str, settings: &str) -> BackendResult<Decision> {
        let loaded = crate::policy::load(&self.runtime, policy, &self.base_dir).map_err(|e| {
            let kind = match &e {
                crate::policy::PolicyError::Reference(_) | crate::policy::PolicyError::NotAPolicy { .. } => BackendErrorKind::Invalid,
                crate::policy::PolicyError::NoBuiltin { .. } | crate::policy::PolicyError::Read { .. } => BackendErrorKind::NotFound,
                _ => BackendErrorKind::Failed,
            };
            BackendError::new(kind, e.to_string())
        })?;
        let env = crate::policy::pure_env(Arc::new(|line: gantry_runtime::LogLine| tracing::debug!(message = %line.message, "scan policy")));
        let settings = if settings.trim().is_empty() { "{}".to_string() } else { settings.to_string() };
        self.runtime
            .call_scan_policy(&loaded.plugin, &env, report, settings)
            .await
            .map_err(|e| BackendError::new(BackendErrorKind::Failed, format!("policy `{}` failed: {e}", loaded.name)))
    }
}
