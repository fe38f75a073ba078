//! `scanner`: scoped to the pipeline's image in the targets' registries,
//! then handed to the run's [`ScanBackend`] (`gantry-scan`: the registry
//! client with the targets' credentials and the local advisory store). A
//! `docker:` reference (the local engine) is refused: a plugin scans what
//! it deploys, from the registry. A call outside the scope is `denied` and
//! logged; a run without a backend answers `unavailable`; never a fake
//! success. `evaluate` refuses a policy path that is absolute or leaves the
//! pipeline's directory with `..` (`denied`, logged). Each scan is made
//! under the run's id, so the backend can save its report for CI;
//! `saved-reports` asks where (only this run's). It must not read images itself.

use std::sync::Arc;

use crate::bindings::wit::scan_types::{Decision, ScanReport};
use crate::bindings::wit::scanner::{Host, ScanOptions};
use crate::bindings::wit::types::{CapError, ErrorKind};
use crate::caps::cluster::run;
use crate::caps::tri;
use crate::sandbox::HostState;
use crate::scan::ScanBackend;

type Answer<T> = wasmtime::Result<Result<T, CapError>>;

const SCANNER: &str = "scanner";

impl HostState {
    /// Refuse `docker:`, scope-check the reference (denials logged), then find the run's backend.
    fn scan_call(&self, call: &str, reference: &str) -> Result<Arc<dyn ScanBackend>, CapError> {
        let name = format!("{SCANNER}.{call}");
        if reference.starts_with("docker:") {
            let e = CapError { kind: ErrorKind::Denied, capability: SCANNER.to_string(), message: format!("`{reference}` is an image of the local Docker engine; a plugin scans the pipeline's image from its registry (use the reference the run pushed)") };
            return Err(self.deny(&name, e));
        }
        self.env.scope.image(SCANNER, reference).map_err(|e| self.deny(&name, e))?;
        self.env.scanner.clone().ok_or_else(|| CapError {
            kind: ErrorKind::Unavailable,
            capability: SCANNER.to_string(),
            message: "this run has no scanner (gantry was started without one; `gantry run` gives every stage a scanner over the targets' registries)".to_string(),
        })
    }
}

impl Host for HostState {
    async fn scan(&mut self, reference: String, options: ScanOptions) -> Answer<ScanReport> {
        let b = tri!(self.scan_call("scan", &reference));
        let run_id = self.env.run.run_id.clone();
        Ok(run(self, SCANNER, async move { b.scan(&run_id, &reference, options.secrets, options.skip_vulnerabilities).await }).await)
    }

    async fn saved_reports(&mut self, digest: String) -> wasmtime::Result<Vec<String>> {
        let Some(b) = self.env.scanner.clone() else {
            return Ok(Vec::new());
        };
        Ok(b.saved_reports(&self.env.run.run_id, &digest).await)
    }

    async fn sbom(&mut self, reference: String, format: String) -> Answer<String> {
        if format != "cyclonedx" && format != "spdx" {
            return Ok(Err(CapError { kind: ErrorKind::Invalid, capability: SCANNER.to_string(), message: format!("`{format}` is not an SBOM format: use `cyclonedx` or `spdx`") }));
        }
        let b = tri!(self.scan_call("sbom", &reference));
        Ok(run(self, SCANNER, async move { b.sbom(&reference, &format).await }).await)
    }

    async fn evaluate(&mut self, report: ScanReport, policy: String, settings: String) -> Answer<Decision> {
        let name = format!("{SCANNER}.evaluate");
        if let Some(path) = policy.split('@').next().filter(|p| !p.trim().starts_with("builtin:")) {
            let p = std::path::Path::new(path.trim());
            if p.is_absolute() || p.components().any(|c| matches!(c, std::path::Component::ParentDir | std::path::Component::Prefix(_) | std::path::Component::RootDir)) {
                let e = CapError {
                    kind: ErrorKind::Denied,
                    capability: SCANNER.to_string(),
                    message: format!("policy `{policy}` is outside the pipeline's directory; name a `.wasm` file inside it (a relative path without `..`) or a `builtin:` policy"),
                };
                return Ok(Err(self.deny(&name, e)));
            }
        }
        let Some(b) = self.env.scanner.clone() else {
            return Ok(Err(CapError {
                kind: ErrorKind::Unavailable,
                capability: SCANNER.to_string(),
                message: "this run has no scanner (gantry was started without one; `gantry run` gives every stage a scanner over the targets' registries)".to_string(),
            }));
        };
        Ok(run(self, SCANNER, async move { b.evaluate(report, &policy, &settings).await }).await)
    }
}
