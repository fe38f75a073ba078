//! `helm`: scoped to the stage's targets, its namespace, the pipeline's
//! release names (`NAME` and `NAME-canary`) and the pipeline's chart, then
//! handed to the target's [`HelmBackend`] (`gantry-release`, over Helm's own
//! storage). A call outside the scope is `denied` and logged; a target
//! without a backend answers `unavailable`; never a fake success. This file
//! converts between WIT types and the backend's; it must not keep releases
//! itself.

use std::sync::Arc;

use crate::bindings::wit::helm::{Host, ReleaseStatus, RenderedFile, UpgradeOptions};
use crate::bindings::wit::types::{CapError, ErrorKind};
use crate::caps::cluster::run;
use crate::helm::{HelmBackend, HelmRelease, HelmUpgrade};
use crate::caps::tri;
use crate::sandbox::HostState;

type Answer<T> = wasmtime::Result<Result<T, CapError>>;

const HELM: &str = "helm";

fn status(r: HelmRelease) -> ReleaseStatus {
    ReleaseStatus {
        name: r.name,
        namespace: r.namespace,
        revision: r.revision,
        status: r.status,
        chart: r.chart,
        app_version: r.app_version,
        updated: r.updated,
        description: r.description,
    }
}

impl HostState {
    /// Scope-check target, release and namespace (denials logged), then find
    /// the target's backend; the namespace resolved to the stage's.
    fn helm_call(&self, call: &str, target: &str, release: &str, namespace: Option<&str>) -> Result<(Arc<dyn HelmBackend>, String), CapError> {
        let s = self.env.scope.clone();
        let name = format!("{HELM}.{call}");
        s.target(HELM, target).map_err(|e| self.deny(&name, e))?;
        s.release(HELM, release).map_err(|e| self.deny(&name, e))?;
        let ns = s.namespace(HELM, namespace).map_err(|e| self.deny(&name, e))?;
        let backend = self.env.helm.get(target).cloned().ok_or_else(|| CapError {
            kind: ErrorKind::Unavailable,
            capability: HELM.to_string(),
            message: format!("target `{target}` has no Helm backend in this run (its cluster was not connected before the stage started)"),
        })?;
        Ok((backend, ns))
    }

    /// An upgrade's options, scoped: only the pipeline's chart (none, or
    /// the same reference) may be installed; a plugin cannot point the host
    /// at other files.
    fn helm_upgrade(&self, call: &str, target: &str, o: UpgradeOptions) -> Result<(Arc<dyn HelmBackend>, HelmUpgrade), CapError> {
        let (backend, namespace) = self.helm_call(call, target, &o.release, o.namespace.as_deref())?;
        if let Some(chart) = o.chart.as_deref().filter(|c| !c.is_empty()) {
            let pipeline_chart = self.env.run.release.as_ref().map(|r| r.chart.as_str());
            if pipeline_chart != Some(chart) {
                let e = crate::scope::denied(HELM, format!("chart `{chart}` is not the pipeline's chart ({}); leave `chart` empty to use it", pipeline_chart.map_or("none".into(), |c| format!("`{c}`"))));
                return Err(self.deny(&format!("{HELM}.{call}"), e));
            }
        }
        let request = HelmUpgrade {
            release: o.release,
            namespace,
            values: o.values,
            set: o.set,
            set_string: o.set_string,
            set_json: o.set_json,
            install: o.install,
            reuse_values: o.reuse_values,
            reset_values: o.reset_values,
            wait: o.wait,
            atomic: o.atomic,
            timeout_seconds: o.timeout_seconds,
            description: o.description,
        };
        Ok((backend, request))
    }
}

impl Host for HostState {
    async fn upgrade_install(&mut self, target: String, o: UpgradeOptions) -> Answer<ReleaseStatus> {
        let (b, request) = tri!(self.helm_upgrade("upgrade-install", &target, o));
        Ok(run(self, HELM, async move { b.upgrade_install(&request).await }).await.map(status))
    }

    async fn uninstall(&mut self, target: String, release: String, namespace: Option<String>, keep_history: bool) -> Answer<()> {
        let (b, ns) = tri!(self.helm_call("uninstall", &target, &release, namespace.as_deref()));
        Ok(run(self, HELM, async move { b.uninstall(&release, &ns, keep_history).await }).await)
    }

    async fn rollback(&mut self, target: String, release: String, namespace: Option<String>, revision: u32, wait: bool, timeout_seconds: u32) -> Answer<ReleaseStatus> {
        let (b, ns) = tri!(self.helm_call("rollback", &target, &release, namespace.as_deref()));
        Ok(run(self, HELM, async move { b.rollback(&release, &ns, revision, wait, timeout_seconds).await }).await.map(status))
    }

    async fn status(&mut self, target: String, release: String, namespace: Option<String>) -> Answer<Option<ReleaseStatus>> {
        let (b, ns) = tri!(self.helm_call("status", &target, &release, namespace.as_deref()));
        Ok(run(self, HELM, async move { b.status(&release, &ns).await }).await.map(|r| r.map(status)))
    }

    async fn history(&mut self, target: String, release: String, namespace: Option<String>, max: u32) -> Answer<Vec<ReleaseStatus>> {
        let (b, ns) = tri!(self.helm_call("history", &target, &release, namespace.as_deref()));
        Ok(run(self, HELM, async move { b.history(&release, &ns, max).await }).await.map(|h| h.into_iter().map(status).collect()))
    }

    async fn template(&mut self, target: String, o: UpgradeOptions) -> Answer<Vec<RenderedFile>> {
        let (b, request) = tri!(self.helm_upgrade("template", &target, o));
        Ok(run(self, HELM, async move { b.template(&request).await }).await.map(|files| files.into_iter().map(|(path, content)| RenderedFile { path, content }).collect()))
    }
}
