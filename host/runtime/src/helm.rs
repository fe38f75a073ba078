//! The boundary between the runtime's `helm` capability and whatever keeps
//! Helm releases: the [`HelmBackend`] trait, one per target, in plain Rust
//! types (no WIT types), so `gantry-release` implements it over its
//! `Releases` without knowing the bindings. This file only defines the
//! contract; it must not check scope (the capability does that before
//! calling: target, namespace, release name, chart) nor hold credentials.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cluster::BackendResult;

/// A release revision as `helm status` and `helm history` show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelmRelease {
    pub name: String,
    pub namespace: String,
    pub revision: u32,
    pub status: String,
    /// `NAME-VERSION` of the chart.
    pub chart: String,
    pub app_version: String,
    /// RFC 3339.
    pub updated: String,
    pub description: String,
}

/// `helm upgrade [--install]` (or `helm template`) as a plugin asked it,
/// already scoped: the namespace is the stage's, the chart the pipeline's.
#[derive(Debug, Clone, Default)]
pub struct HelmUpgrade {
    pub release: String,
    pub namespace: String,
    /// `-f` files' contents (YAML), in order.
    pub values: Vec<String>,
    pub set: Vec<String>,
    pub set_string: Vec<String>,
    pub set_json: Vec<String>,
    pub install: bool,
    pub reuse_values: bool,
    pub reset_values: bool,
    /// `--wait`, `--atomic` and `--timeout` (0: Helm's 300 s).
    pub wait: bool,
    pub atomic: bool,
    pub timeout_seconds: u32,
    pub description: Option<String>,
}

/// The Helm releases of one target's cluster.
#[async_trait::async_trait]
pub trait HelmBackend: Send + Sync {
    /// `helm upgrade --install` (or a plain upgrade); the new revision.
    async fn upgrade_install(&self, request: &HelmUpgrade) -> BackendResult<HelmRelease>;
    async fn uninstall(&self, release: &str, namespace: &str, keep_history: bool) -> BackendResult<()>;
    /// Revision 0: the previous one.
    async fn rollback(&self, release: &str, namespace: &str, revision: u32, wait: bool, timeout_seconds: u32) -> BackendResult<HelmRelease>;
    /// None when the release does not exist.
    async fn status(&self, release: &str, namespace: &str) -> BackendResult<Option<HelmRelease>>;
    /// Oldest first, at most `max` (the newest; 0: all).
    async fn history(&self, release: &str, namespace: &str, max: u32) -> BackendResult<Vec<HelmRelease>>;
    /// `helm template` against the cluster's capabilities: (path, content) per rendered file.
    async fn template(&self, request: &HelmUpgrade) -> BackendResult<Vec<(String, String)>>;
}

/// Each target's Helm backend, by target name.
pub type HelmBackends = Arc<BTreeMap<String, Arc<dyn HelmBackend>>>;
