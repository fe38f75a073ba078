//! Cluster access: turns a pipeline target (`eks:`, `gke:`, `kubeconfig:`,
//! `sim:`) into a kube-rs [`kube::Client`] whose credentials stay fresh, and
//! gives the runtime's cluster capabilities a scoped, retried, locked view of
//! it. This crate holds every cluster credential; nothing it returns to a
//! caller prints one (`Token`'s `Debug` is redacted).
//!
//! The room plan (issue 4):
//! - `lib.rs` — the shared vocabulary: [`Endpoint`], [`Token`], [`TokenSource`], [`ClusterError`].
//! - `kubeconfig.rs` — kubeconfig targets (exec plugins, in-cluster), `endpoint:` overrides.
//! - `eks.rs` — the AWS credential chain, DescribeCluster, `k8s-aws-v1.` tokens.
//! - `gke.rs` — gcp_auth service accounts, clusters.get, OAuth tokens.
//! - `auth.rs` — a tower layer putting a [`TokenSource`]'s bearer token on every request.
//! - `retry.rs` — retries with backoff and jitter on 429/5xx/connection errors, Retry-After, deadlines.
//! - `access.rs` — the runtime's cluster backend on kube-rs (get, list, rollout, pods, events, logs, apply, delete, scale).
//! - `lease.rs` — the run lock: a coordination.k8s.io Lease per release and target.
//! - `lookup.rs` — Helm's `lookup` for templates, live against a target's cluster.

pub mod access;
pub mod auth;
pub mod eks;
pub mod gke;
pub mod kubeconfig;
pub mod retry;
pub mod lease;
pub mod lookup;
pub mod target;
pub mod watch;

pub use access::KubeBackend;
pub use lookup::ClusterLookup;
pub use target::{Target, TargetSource};

use std::fmt;
use std::time::SystemTime;

/// Where a cluster's API server is and how to trust it.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://HOST[:PORT]`.
    pub url: String,
    /// The CA bundle to trust (PEM); None: the system roots.
    pub ca_pem: Option<String>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint").field("url", &self.url).field("ca_pem", &self.ca_pem.as_ref().map(|_| "<PEM>")).finish()
    }
}

/// A bearer token for an API server, and when it stops being valid.
#[derive(Clone)]
pub struct Token {
    pub value: String,
    /// None: it does not expire (a static kubeconfig token).
    pub expires: Option<SystemTime>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token").field("value", &"<redacted>").field("expires", &self.expires).finish()
    }
}

/// Something that mints bearer tokens for one cluster (EKS presigned STS
/// tokens, GKE OAuth tokens). Callers cache and refresh before `expires`.
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync {
    async fn token(&self) -> Result<Token, ClusterError>;
}

/// Why a target could not be reached or used. Every message names the target
/// and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Credentials are missing or were refused.
    #[error("target `{target}`: {message}")]
    Credentials { target: String, message: String },
    /// The cloud does not know the cluster.
    #[error("target `{target}`: {message}")]
    UnknownCluster { target: String, message: String },
    /// The endpoint could not be reached.
    #[error("target `{target}`: {message}")]
    Unreachable { target: String, message: String },
    /// The target's configuration is wrong.
    #[error("target `{target}`: {message}")]
    Config { target: String, message: String },
    /// The API server answered with an error.
    #[error("target `{target}`: {message}")]
    Api { target: String, code: u16, message: String },
}
