//! The boundary between the runtime's `scanner` capability and whatever
//! reads images and matches advisories: the [`ScanBackend`] trait, one for
//! the run (`gantry-scan` implements it over its `Scanner`). The report is
//! the WIT `scan-report` itself, so the backend converts once and a policy
//! sees exactly what a plugin's scan returns. This file only defines the
//! contract; it must not check scope (the capability does: the pipeline's
//! image in the targets' registries, never `docker:`) nor hold credentials.
//! A backend may save each scan's report for CI (by run id); where is its
//! business, `saved_reports` says.

use std::sync::Arc;

use crate::bindings::wit::scan_types::{Decision, ScanReport};
use crate::cluster::BackendResult;

/// Image scans for the run's image.
#[async_trait::async_trait]
pub trait ScanBackend: Send + Sync {
    /// Facts, inventory, secrets (when `secrets`) and vulnerabilities (unless
    /// `skip_vulnerabilities`) of the image `reference` names.
    /// A backend that saves reports writes this scan's under the run `run_id`.
    async fn scan(&self, run_id: &str, reference: &str, secrets: bool, skip_vulnerabilities: bool) -> BackendResult<ScanReport>;
    /// The report files saved for the run `run_id`'s scans of `digest` (none when it saves none).
    async fn saved_reports(&self, run_id: &str, digest: &str) -> Vec<String>;
    /// The image's SBOM, `cyclonedx` (1.5 JSON) or `spdx` (2.3 JSON).
    async fn sbom(&self, reference: &str, format: &str) -> BackendResult<String>;
    /// The decision of the scan policy `policy` (`builtin:NAME` or a `.wasm`
    /// path relative to the pipeline's directory; the capability has checked
    /// it stays inside) on `report`, with `settings` (JSON).
    async fn evaluate(&self, report: ScanReport, policy: &str, settings: &str) -> BackendResult<Decision>;
}

/// The run's scan backend (None: no scanner in this run).
pub type ScanBackendRef = Option<Arc<dyn ScanBackend>>;
