//! `helm`: scoped to the stage's targets, the pipeline's releases and its
//! namespace. The Helm engine is not part of this build: after the scope
//! check every call answers `unsupported`.

use crate::bindings::wit::helm::{Host, ReleaseStatus, RenderedFile, UpgradeOptions};
use crate::bindings::wit::types::CapError;
use crate::caps::scoped_unsupported;
use crate::sandbox::HostState;

type Answer<T> = wasmtime::Result<Result<T, CapError>>;

impl Host for HostState {
    async fn upgrade_install(&mut self, target: String, o: UpgradeOptions) -> Answer<ReleaseStatus> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "helm", "upgrade-install", [s.target("helm", &target), s.release("helm", &o.release), s.namespace("helm", o.namespace.as_deref())])
    }

    async fn uninstall(&mut self, target: String, release: String, namespace: Option<String>, _keep_history: bool) -> Answer<()> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "helm", "uninstall", [s.target("helm", &target), s.release("helm", &release), s.namespace("helm", namespace.as_deref())])
    }

    async fn rollback(&mut self, target: String, release: String, namespace: Option<String>, _revision: u32, _wait: bool, _timeout_seconds: u32) -> Answer<ReleaseStatus> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "helm", "rollback", [s.target("helm", &target), s.release("helm", &release), s.namespace("helm", namespace.as_deref())])
    }

    async fn status(&mut self, target: String, release: String, namespace: Option<String>) -> Answer<Option<ReleaseStatus>> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "helm", "status", [s.target("helm", &target), s.release("helm", &release), s.namespace("helm", namespace.as_deref())])
    }

    async fn history(&mut self, target: String, release: String, namespace: Option<String>, _max: u32) -> Answer<Vec<ReleaseStatus>> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "helm", "history", [s.target("helm", &target), s.release("helm", &release), s.namespace("helm", namespace.as_deref())])
    }

    async fn template(&mut self, target: String, o: UpgradeOptions) -> Answer<Vec<RenderedFile>> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "helm", "template", [s.target("helm", &target), s.release("helm", &o.release), s.namespace("helm", o.namespace.as_deref())])
    }
}
