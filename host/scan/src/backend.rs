//! The runtime's [`ScanBackend`] over the [`Scanner`]: what `gantry run`
//! gives every stage's `scanner` capability. Scans and SBOMs of registry
//! references (the capability has already checked scope and refused
//! `docker:`), the report converted to the WIT `scan-report` by
//! `crate::wit`. Errors are mapped to backend error kinds (a missing image
//! is `not-found`, refused credentials `failed`). It must not check scope
//! nor print credentials.

use async_trait::async_trait;
use gantry_runtime::cluster::{BackendError, BackendErrorKind, BackendResult};
use gantry_runtime::wit::scan_types::ScanReport;
use gantry_runtime::ScanBackend;

use crate::scan::{ScanError, ScanOptions, Scanner};

/// The scanner as the runtime's backend.
#[derive(Debug, Clone)]
pub struct ScanService {
    scanner: Scanner,
}

impl ScanService {
    pub fn new(scanner: Scanner) -> ScanService {
        ScanService { scanner }
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
}
