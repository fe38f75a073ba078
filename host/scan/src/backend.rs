//! The runtime's [`ScanBackend`] over the [`Scanner`]: what `gantry run`
//! gives every stage's `scanner` capability. Scans and SBOMs of registry
//! references (the capability has already checked scope and refused
//! `docker:`), the report converted to the WIT `scan-report` by
//! `crate::wit`. Errors are mapped to backend error kinds (a missing image
//! is `not-found`, refused credentials `failed`). `evaluate` loads the
//! policy (`builtin:NAME` or a `.wasm` path under the pipeline's directory,
//! `base_dir`) and runs it in its own pure sandbox on the runtime it was
//! given. It must not check scope nor print credentials.

use std::path::PathBuf;
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
}

impl std::fmt::Debug for ScanService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanService").field("scanner", &self.scanner).field("base_dir", &self.base_dir).finish()
    }
}

impl ScanService {
    /// `runtime` runs policies; `base_dir` (the pipeline's directory) is
    /// where a policy's `.wasm` path is read from.
    pub fn new(scanner: Scanner, runtime: Arc<Runtime>, base_dir: PathBuf) -> ScanService {
        ScanService { scanner, runtime, base_dir }
    }
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
    async fn scan(&self, reference: &str, secrets: bool, skip_vulnerabilities: bool) -> BackendResult<ScanReport> {
        let scanned = self.scanner.scan(reference, ScanOptions { secrets, skip_vulnerabilities }).await.map_err(backend_error)?;
        Ok(crate::wit::to_wit(&scanned.report))
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
