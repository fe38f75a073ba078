//! Simulated container registries: one OCI distribution API server (spec
//! v1.1, Docker registry v2) per registry host, on 127.0.0.1 over plain
//! HTTP (Docker treats 127.0.0.0/8 as insecure, so `docker login`, `push`
//! and `pull` work against `127.0.0.1:PORT` without TLS), shaped like a
//! cloud's registry: ECR (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`, Basic
//! `AWS:<token from GetAuthorizationToken>`) or Artifact Registry
//! (`LOCATION-docker.pkg.dev`, a Bearer token from its own `/v2/token` for
//! `oauth2accesstoken:<access token>`). See `auth` for the two shapes,
//! `api` for the protocol, `store` for the content.
//!
//! Content lives in memory, bounded by `RegistryOptions::max_bytes`
//! (default `DEFAULT_MAX_BYTES`); past it writes are refused with 507, and
//! everything is gone when the server stops. Repositories are created by
//! their first push on both shapes (real ECR needs CreateRepository first;
//! the sim does not, so a pipeline needs no extra step). An Artifact
//! Registry path must be `PROJECT/REPOSITORY/IMAGE` of a project the sim
//! knows.
//!
//! This module owns the sockets and the lifecycle; it must never bind
//! anything but 127.0.0.1, never log a credential, and must not reach into
//! the API servers (the simulated kubelets reach it over HTTP, through
//! `oci::RegistryConfig`, as they would a real registry).

pub mod api;
pub mod auth;
pub mod errors;
pub mod store;

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cloud::CloudRegistry;
use crate::oci::{RegistryAuth, RegistryConfig, RegistryConfigError};

pub use auth::{ar_host, gcp_region, Shape, AR_JSON_KEY_USERNAMES, AR_USERNAME};
pub use errors::ApiError;

/// How much a simulated registry holds in memory unless told otherwise (1 GiB).
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("binding the simulated registry {host} to 127.0.0.1:{port}: {source}")]
    Bind { host: String, port: u16, source: std::io::Error },
}

/// What a simulated registry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryOptions {
    pub shape: Shape,
    /// The bound on blobs and unfinished uploads together, in bytes.
    pub max_bytes: u64,
    /// The port on 127.0.0.1 (0: any free port).
    pub port: u16,
}

impl RegistryOptions {
    pub fn new(shape: Shape) -> RegistryOptions {
        RegistryOptions { shape, max_bytes: DEFAULT_MAX_BYTES, port: 0 }
    }
}

/// A running simulated registry; dropping it stops the server.
pub struct SimRegistry {
    shape: Shape,
    host: String,
    addr: SocketAddr,
    state: Arc<api::State>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl SimRegistry {
    /// Serves a registry of `shape` on a free port of 127.0.0.1, checking
    /// credentials against what `clouds` issued (ECR tokens, GCP access tokens).
    pub async fn start(shape: Shape, clouds: &CloudRegistry) -> Result<SimRegistry, RegistryError> {
        SimRegistry::start_with(RegistryOptions::new(shape), clouds).await
    }

    pub async fn start_with(options: RegistryOptions, clouds: &CloudRegistry) -> Result<SimRegistry, RegistryError> {
        let host = options.shape.host();
        let bind_err = |source| RegistryError::Bind { host: host.clone(), port: options.port, source };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, options.port)).await.map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let gate = auth::Gate::new(options.shape.clone(), addr.port(), clouds.ecr.clone(), clouds.gcp.clone());
        let max_body = usize::try_from(options.max_bytes).unwrap_or(usize::MAX);
        let state = Arc::new(api::State { store: store::Store::new(options.max_bytes), gate, max_body });
        let cancel = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, state.clone(), cancel.clone()));
        tracing::info!(%addr, %host, "simulated registry listening");
        Ok(SimRegistry { shape: options.shape, host, addr, state, cancel, task: Some(task) })
    }

    /// The host image references name it by (`111122223333.dkr.ecr.eu-west-1.amazonaws.com`).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`: what `docker login`/`push`/`pull` name it by.
    pub fn docker_host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Bytes held in memory (blobs and unfinished uploads).
    pub fn held_bytes(&self) -> u64 {
        self.state.store.held()
    }

    /// How a simulated kubelet reaches this registry: its host mapped to this
    /// server, with the node's credentials (`AWS:<ecr token>` or
    /// `oauth2accesstoken:<access token>`).
    pub fn kubelet_config(&self, auth: RegistryAuth) -> Result<RegistryConfig, RegistryConfigError> {
        Ok(RegistryConfig::new(&self.host, &self.url())?.with_auth(auth))
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimRegistry {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<api::State>, cancel: CancellationToken) {
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "registry accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(api::handle(req, &state).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = cancel.cancelled() => {}
                result = conn => if let Err(error) = result {
                    tracing::debug!(%error, "registry connection ended with an error");
                }
            }
        });
    }
}
