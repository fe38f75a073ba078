//! `registry` and `builder`: scoped to the targets' registries. The OCI
//! client and the image builders are not part of this build: after the scope
//! check every call answers `unsupported`.

use crate::bindings::wit::builder::{self, BuildRequest, BuildResult};
use crate::bindings::wit::registry::{self, Descriptor, ImageConfig};
use crate::bindings::wit::types::CapError;
use crate::caps::scoped_unsupported;
use crate::sandbox::HostState;

type Answer<T> = wasmtime::Result<Result<T, CapError>>;

impl registry::Host for HostState {
    async fn resolve(&mut self, reference: String) -> Answer<String> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "registry", "resolve", [s.image("registry", &reference)])
    }

    async fn config(&mut self, reference: String) -> Answer<ImageConfig> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "registry", "config", [s.image("registry", &reference)])
    }

    async fn layers(&mut self, reference: String) -> Answer<Vec<Descriptor>> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "registry", "layers", [s.image("registry", &reference)])
    }

    async fn copy(&mut self, source: String, destination: String) -> Answer<String> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "registry", "copy", [s.image("registry", &source), s.image("registry", &destination)])
    }
}

impl builder::Host for HostState {
    async fn build(&mut self, request: BuildRequest) -> Answer<BuildResult> {
        let s = self.env.scope.clone();
        let checks: Vec<Result<(), CapError>> = request.tags.iter().map(|t| s.image("builder", t)).collect();
        if let Some(Err(e)) = checks.into_iter().find(|c| c.is_err()) {
            return Ok(Err(self.deny("builder.build", e)));
        }
        scoped_unsupported!(self, "builder", "build", [])
    }
}
