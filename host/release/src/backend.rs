//! The runtime's `helm` capability for one target, over [`Releases`]: a
//! [`HelmBackend`] that keeps releases in Helm's own storage on the
//! target's cluster, so `helm list` on a user's machine sees what a plugin
//! did. The capability has already checked the scope (target, namespace,
//! release name, chart) before a call arrives here; this file turns the
//! calls into `Releases` operations (values merged as Helm merges `-f` and
//! `--set*`), and `ReleaseError`s into the runtime's error kinds, each
//! message naming the target, the release and the operation. It must not
//! widen the scope (it only ever installs the chart it was given) and holds
//! no credentials beyond its client.
//!
//! `wait` waits for the release's resources to be ready, `atomic` (which
//! implies it) rolls a failed upgrade back, and `timeout-seconds` bounds
//! the wait (0: Helm's five minutes), as `helm upgrade` does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_runtime::cluster::{BackendError, BackendErrorKind, BackendResult};
use gantry_runtime::helm::{HelmBackend, HelmRelease, HelmUpgrade};
use serde_json::{Map, Value};

use crate::{Driver, Release, ReleaseError, Releases, RollbackOptions, StorageError, UninstallOptions, UpgradeOptions, ValuesPolicy};

/// One target's releases, installing only `chart` (the pipeline's).
pub struct ReleasesBackend {
    target: String,
    client: kube::Client,
    driver: Driver,
    chart: PathBuf,
}

impl ReleasesBackend {
    /// Releases on `client`'s cluster (named `target` in errors), stored by
    /// `driver`; upgrades install `chart`, resolved by the caller.
    pub fn new(target: &str, client: kube::Client, driver: Driver, chart: &Path) -> ReleasesBackend {
        ReleasesBackend { target: target.to_string(), client, driver, chart: chart.to_path_buf() }
    }

    async fn releases(&self, namespace: &str, render: bool) -> BackendResult<Releases> {
        let releases = Releases::new(&self.target, self.client.clone(), namespace, self.driver);
        if !render {
            return Ok(releases);
        }
        releases.with_cluster_version().await.map_err(|e| self.error("read the cluster's version for", "", e))
    }

    /// A release error in the runtime's kinds, naming target, operation and release.
    fn error(&self, operation: &str, release: &str, e: ReleaseError) -> BackendError {
        let kind = match &e {
            ReleaseError::InvalidName(_) | ReleaseError::Render(_) | ReleaseError::Manifest(_) | ReleaseError::Build { .. } | ReleaseError::AlreadyDeleted(_) => BackendErrorKind::Invalid,
            ReleaseError::NameInUse | ReleaseError::Pending | ReleaseError::Ownership { .. } => BackendErrorKind::Conflict,
            ReleaseError::NoRevision(_) | ReleaseError::NoDeployed(_) | ReleaseError::Storage(StorageError::NotFound) | ReleaseError::Storage(StorageError::NoDeployed(_)) => BackendErrorKind::NotFound,
            ReleaseError::Cluster(m) if m.ends_with("release: not found") => BackendErrorKind::NotFound,
            ReleaseError::Cluster(_) => BackendErrorKind::Unavailable,
            _ => BackendErrorKind::Failed,
        };
        let what = if release.is_empty() { String::new() } else { format!(" release `{release}`") };
        BackendError::new(kind, format!("target `{}`: helm {operation}{what}: {e}", self.target))
    }

    /// The request's `values`, `set`, `set-string` and `set-json`, merged as Helm merges its flags.
    fn values(&self, r: &HelmUpgrade) -> BackendResult<Map<String, Value>> {
        let names: Vec<String> = (0..r.values.len()).map(|i| format!("values[{i}]")).collect();
        let options = gantry_helm::values::Options {
            value_files: names.clone(),
            json_values: r.set_json.clone(),
            values: r.set.clone(),
            string_values: r.set_string.clone(),
            file_values: Vec::new(),
            literal_values: Vec::new(),
        };
        let read = |name: &str| -> Result<Vec<u8>, String> {
            let i = names.iter().position(|n| n == name).ok_or_else(|| format!("{name}: only the request's values may be read"))?;
            Ok(r.values[i].as_bytes().to_vec())
        };
        let merged = options.merge(&read).map_err(|e| BackendError::new(BackendErrorKind::Invalid, format!("target `{}`: helm values of release `{}`: {}", self.target, r.release, e.message)))?;
        match crate::record::helm_value_to_json(&merged) {
            Some(Value::Object(m)) => Ok(m),
            _ => Ok(Map::new()),
        }
    }

    /// `releases` waiting for readiness when asked (atomic implies it),
    /// each wait bounded by `timeout_seconds` (0: Helm's 5 minutes).
    fn waiting(releases: Releases, wait: bool, timeout_seconds: u32) -> Releases {
        let releases = match timeout_seconds {
            0 => releases,
            s => releases.with_timeout(std::time::Duration::from_secs(u64::from(s))),
        };
        if wait {
            releases.with_wait(false)
        } else {
            releases
        }
    }
}

/// A stored release as the capability shows it.
pub fn summary(r: &Release) -> HelmRelease {
    let md = r.chart_metadata();
    HelmRelease {
        name: r.name.clone(),
        namespace: r.namespace.clone(),
        revision: u32::try_from(r.version).unwrap_or(0),
        status: r.status().to_string(),
        chart: md.map(|m| format!("{}-{}", m.name, m.version)).unwrap_or_default(),
        app_version: md.map(|m| m.app_version.clone()).unwrap_or_default(),
        updated: r.info.as_ref().and_then(|i| i.last_deployed.clone()).unwrap_or_default(),
        description: r.description().to_string(),
    }
}

#[async_trait::async_trait]
impl HelmBackend for ReleasesBackend {
    async fn upgrade_install(&self, r: &HelmUpgrade) -> BackendResult<HelmRelease> {
        let values = self.values(r)?;
        let releases = Self::waiting(self.releases(&r.namespace, true).await?, r.wait || r.atomic, r.timeout_seconds);
        let values_policy = match (r.reuse_values, r.reset_values) {
            (_, true) => ValuesPolicy::Reset,
            (true, false) => ValuesPolicy::Reuse,
            _ => ValuesPolicy::Default,
        };
        let options = UpgradeOptions { values, install: r.install, values_policy, description: r.description.clone(), rollback_on_failure: r.atomic, ..UpgradeOptions::default() };
        let done = releases.upgrade(&r.release, &self.chart, &options).await.map_err(|e| self.error("upgrade-install", &r.release, e))?;
        Ok(summary(&done))
    }

    async fn uninstall(&self, release: &str, namespace: &str, keep_history: bool) -> BackendResult<()> {
        let releases = self.releases(namespace, false).await?;
        releases.uninstall(release, &UninstallOptions { keep_history, description: None }).await.map_err(|e| self.error("uninstall", release, e))?;
        Ok(())
    }

    async fn rollback(&self, release: &str, namespace: &str, revision: u32, wait: bool, timeout_seconds: u32) -> BackendResult<HelmRelease> {
        let releases = Self::waiting(self.releases(namespace, true).await?, wait, timeout_seconds);
        let done = releases.rollback(release, &RollbackOptions { revision: i64::from(revision), ..RollbackOptions::default() }).await.map_err(|e| self.error("rollback", release, e))?;
        Ok(summary(&done))
    }

    async fn status(&self, release: &str, namespace: &str) -> BackendResult<Option<HelmRelease>> {
        let releases = self.releases(namespace, false).await?;
        match releases.status(release, None).await {
            Ok(r) => Ok(Some(summary(&r))),
            Err(ReleaseError::Storage(StorageError::NotFound)) => Ok(None),
            Err(e) => Err(self.error("status", release, e)),
        }
    }

    async fn history(&self, release: &str, namespace: &str, max: u32) -> BackendResult<Vec<HelmRelease>> {
        let releases = self.releases(namespace, false).await?;
        let max = usize::try_from(max).ok().filter(|m| *m > 0);
        let h = releases.history(release, max).await.map_err(|e| self.error("history", release, e))?;
        Ok(h.iter().map(summary).collect())
    }

    async fn template(&self, r: &HelmUpgrade) -> BackendResult<Vec<(String, String)>> {
        let values = self.values(r)?;
        let lookup = gantry_cluster::ClusterLookup::new(&self.target, self.client.clone(), tokio::runtime::Handle::current());
        let capabilities = lookup.capabilities().await.map_err(|e| BackendError::new(BackendErrorKind::Unavailable, format!("target `{}`: helm template: {e}", self.target)))?;
        let options = gantry_helm::engine::RenderOptions {
            release_name: r.release.clone(),
            namespace: r.namespace.clone(),
            revision: 1,
            is_install: true,
            capabilities: Some(capabilities),
            install_checks: true,
            lookup: Some(Arc::new(lookup)),
            ..gantry_helm::engine::RenderOptions::default()
        };
        let chart = self.chart.clone();
        let user = gantry_helm::value::Value::from(&Value::Object(values));
        let rendered = tokio::task::spawn_blocking(move || gantry_helm::engine::render_chart(&chart, &user, &options))
            .await
            .map_err(|e| BackendError::new(BackendErrorKind::Failed, format!("target `{}`: helm template stopped: {e}", self.target)))?
            .map_err(|e| BackendError::new(BackendErrorKind::Invalid, format!("target `{}`: helm template of release `{}`: {}", self.target, r.release, e.message)))?;
        Ok(rendered.into_iter().filter(|(path, content)| !path.ends_with("NOTES.txt") && !content.trim().is_empty()).collect())
    }
}
