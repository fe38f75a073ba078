//! `scanner`: scoped to the pipeline's image. The image reader, inventory and
//! advisory matching are not part of this build: after the scope check every
//! call answers `unsupported`.

use crate::bindings::wit::scan_types::ScanReport;
use crate::bindings::wit::scanner::{Host, ScanOptions};
use crate::bindings::wit::types::CapError;
use crate::caps::scoped_unsupported;
use crate::sandbox::HostState;

type Answer<T> = wasmtime::Result<Result<T, CapError>>;

impl Host for HostState {
    async fn scan(&mut self, reference: String, _options: ScanOptions) -> Answer<ScanReport> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "scanner", "scan", [s.image("scanner", &reference)])
    }

    async fn sbom(&mut self, reference: String, _format: String) -> Answer<String> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "scanner", "sbom", [s.image("scanner", &reference)])
    }
}
