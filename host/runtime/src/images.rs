//! The boundary between the runtime's `registry` and `builder`
//! capabilities and whatever reads registries and builds images: the
//! [`ImageBackend`] trait, one for the run, in plain Rust types (no WIT
//! types), so `gantry-registry` implements it without knowing the bindings.
//! This file only defines the contract; it must not check scope (the
//! capabilities do that before calling: the pipeline's image in the
//! targets' registries, the pipeline's build context) nor hold credentials.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cluster::BackendResult;
use crate::context::LogSink;

/// An image's configuration as `docker inspect` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFacts {
    /// The manifest digest the reference resolved to.
    pub digest: String,
    pub architecture: String,
    pub os: String,
    pub user: String,
    pub env: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub working_dir: String,
    /// `8000/tcp`
    pub exposed_ports: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub created: Option<String>,
}

/// A layer (or any blob) of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// Which engine builds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BuildEngine {
    /// Docker when an engine answers, daemonless otherwise.
    #[default]
    Auto,
    Docker,
    Daemonless,
}

/// A build as a plugin asked it, already scoped: the context and Dockerfile
/// are the pipeline's (resolved against the pipeline file's directory), the
/// tags are the pipeline's image in the targets' registries.
#[derive(Debug, Clone, Default)]
pub struct ImageBuild {
    pub context: PathBuf,
    /// Relative to the context.
    pub dockerfile: String,
    pub target: Option<String>,
    pub build_args: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub tags: Vec<String>,
    pub engine: BuildEngine,
    pub push: bool,
}

/// What a build produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuiltImage {
    /// Manifest digest, `sha256:...`: the same in every registry it was pushed to.
    pub digest: String,
    pub pushed: Vec<String>,
    pub size: u64,
    /// Dockerfile steps skipped (simulated runs only), as `Dockerfile:LINE: INSTRUCTION`.
    pub skipped: Vec<String>,
}

/// Registries and builders for the run's image.
#[async_trait::async_trait]
pub trait ImageBackend: Send + Sync {
    /// Tag or digest to manifest digest.
    async fn resolve(&self, reference: &str) -> BackendResult<String>;
    /// The image's config (for an index: the host's platform).
    async fn config(&self, reference: &str) -> BackendResult<ImageFacts>;
    /// The image's layers, base first.
    async fn layers(&self, reference: &str) -> BackendResult<Vec<LayerInfo>>;
    /// Copy by digest; the digest (the same at the destination).
    async fn copy(&self, source: &str, destination: &str) -> BackendResult<String>;
    /// Build, and push to every tag when asked; build output goes to `log`.
    async fn build(&self, request: &ImageBuild, log: LogSink) -> BackendResult<BuiltImage>;
}

/// The run's image backend (None: no registry access in this run).
pub type ImageBackendRef = Option<Arc<dyn ImageBackend>>;
