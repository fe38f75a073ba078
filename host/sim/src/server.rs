//! The HTTPS listener of one simulated cluster: binds 127.0.0.1 on a free
//! port (never another address), terminates TLS with the cluster's own CA
//! (tokio-rustls), serves HTTP/2 and HTTP/1.1 (hyper-util auto) with `api`,
//! and shuts down gracefully — explicitly or when the handle is dropped —
//! ending open watches. Beside it, a plain-HTTP loopback endpoint serves the
//! simulated pods' request metrics (`metrics`) for Prometheus to scrape, and
//! with the controllers runs the simulated users (`traffic`).
//! Tests start it in-process; `gantry sim up` will too.
//! This file must not interpret requests.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::api::Api;
use crate::auth::Authenticator;
use crate::kubeconfig::KubeconfigEntry;
use crate::resources::Registry;
use crate::store::{Store, DEFAULT_HISTORY};
use crate::tls::{ClusterTls, TlsError};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cluster {cluster}: {source}")]
    Registry { cluster: String, source: crate::oci::RegistryConfigError },
    #[error("binding 127.0.0.1 for the API server of cluster {cluster}: {source}")]
    Bind { cluster: String, source: std::io::Error },
    #[error("binding 127.0.0.1 for the metrics endpoint of cluster {cluster}: {source}")]
    BindMetrics { cluster: String, source: std::io::Error },
}

/// How to start one simulated cluster's API server.
#[derive(Clone)]
pub struct ServerConfig {
    /// The cluster's name: in its certificate and its kubeconfig entries.
    pub name: String,
    pub authenticator: Authenticator,
    /// Events kept for watches; older resourceVersions answer 410 Gone.
    pub history: usize,
    /// How often idle watches that asked for bookmarks get one.
    pub bookmark_interval: Duration,
    /// Whether the simulated controllers run (deployments to pods, pod
    /// lives, endpoints); off, the cluster only stores what clients write.
    pub controllers: bool,
    /// How pods behave by image (`controllers::behavior`); pod annotations win.
    pub pod_images: Vec<crate::controllers::behavior::ImageRule>,
    /// The fault rules it starts with (`faults`); the same rules as `ApiServer::faults()`.
    pub faults: crate::faults::Faults,
    /// Real registries (on loopback) the simulated kubelet resolves images
    /// of their hosts against before starting containers (`oci`, `controllers::pull`);
    /// images of other hosts are not checked.
    pub registries: Vec<crate::oci::RegistryConfig>,
    /// Simulated users' requests per second to every Service not annotated
    /// otherwise (`traffic`); None: only annotated Services get traffic.
    pub traffic: Option<f64>,
}

impl ServerConfig {
    pub fn new(name: &str, authenticator: Authenticator) -> ServerConfig {
        ServerConfig { name: name.to_string(), authenticator, history: DEFAULT_HISTORY, bookmark_interval: Duration::from_secs(60), controllers: true, pod_images: Vec::new(), faults: Default::default(), registries: Vec::new(), traffic: None }
    }
}

/// A running API server; dropping it stops it.
pub struct ApiServer {
    name: String,
    addr: SocketAddr,
    metrics_addr: SocketAddr,
    ca_pem: String,
    shutdown: CancellationToken,
    faults: crate::faults::Faults,
    task: Option<JoinHandle<()>>,
    metrics_task: Option<JoinHandle<()>>,
}

impl ApiServer {
    /// Generates the cluster's certificates, binds 127.0.0.1:0 and starts serving.
    pub async fn start(config: ServerConfig) -> Result<ApiServer, ServerError> {
        for registry in &config.registries {
            registry.validate().map_err(|source| ServerError::Registry { cluster: config.name.clone(), source })?;
        }
        let tls = ClusterTls::generate(&config.name)?;
        let bind_err = |source| ServerError::Bind { cluster: config.name.clone(), source };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let shutdown = CancellationToken::new();
        let registry = Registry::default();
        let namespaces = registry.find("", "v1", "namespaces").ok_or_else(|| bind_err(std::io::Error::other("no namespaces kind")))?;
        let api = Arc::new(Api {
            store: Store::new(config.history, &namespaces),
            registry,
            auth: config.authenticator.clone(),
            address: addr.to_string(),
            bookmark_interval: config.bookmark_interval,
            shutdown: shutdown.clone(),
            proxy: crate::proxy::Proxy::new(config.pod_images.clone()),
            faults: config.faults.clone(),
        });
        let (metrics_listener, metrics_addr) =
            crate::metrics::bind().await.map_err(|source| ServerError::BindMetrics { cluster: config.name.clone(), source })?;
        let metrics_task = tokio::spawn(crate::metrics::serve(metrics_listener, api.proxy.pods.metrics(), shutdown.clone()));
        if config.controllers {
            crate::controllers::start(api.clone(), config.pod_images.clone(), config.registries.clone(), shutdown.clone());
            tokio::spawn(crate::traffic::run(api.clone(), config.traffic, shutdown.clone()));
        }
        let acceptor = TlsAcceptor::from(tls.server_config.clone());
        let task = tokio::spawn(accept_loop(listener, acceptor, api, shutdown.clone()));
        tracing::info!(cluster = %config.name, %addr, %metrics_addr, "simulated API server listening");
        Ok(ApiServer { name: config.name, addr, metrics_addr, ca_pem: tls.ca_pem, shutdown, faults: config.faults, task: Some(task), metrics_task: Some(metrics_task) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/metrics`: the simulated pods' request metrics, Prometheus text format.
    pub fn metrics_url(&self) -> String {
        format!("http://{}/metrics", self.metrics_addr)
    }

    /// The metrics endpoint's address, `127.0.0.1:PORT` (a Prometheus scrape target).
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// The fault rules of this server, switchable while it runs (`faults`).
    pub fn faults(&self) -> crate::faults::Faults {
        self.faults.clone()
    }

    /// The CA clients must trust, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A kubeconfig entry reaching this server with `token`.
    pub fn kubeconfig_entry(&self, token: &str) -> KubeconfigEntry {
        KubeconfigEntry { name: self.name.clone(), server: self.url(), ca_pem: self.ca_pem.clone(), token: token.to_string(), namespace: None }
    }

    /// Stops accepting, ends open connections and watches, and waits for the listener.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for task in [self.task.take(), self.metrics_task.take()].into_iter().flatten() {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "the API server's listener ended abnormally");
            }
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, api: Arc<Api>, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                tokio::spawn(serve_connection(tcp, peer, acceptor.clone(), api.clone(), shutdown.clone()));
            }
            Err(e) => tracing::warn!(error = %e, "accepting a connection"),
        }
    }
}

async fn serve_connection(tcp: TcpStream, peer: SocketAddr, acceptor: TlsAcceptor, api: Arc<Api>, shutdown: CancellationToken) {
    let stream = match acceptor.accept(tcp).await {
        Ok(stream) => stream,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
    };
    // Faults may ask for this connection to be cut (`faults::Connection`).
    let faulty = crate::faults::Connection::new();
    let _closed = faulty.closed_guard();
    let for_requests = faulty.clone();
    let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        let api = api.clone();
        req.extensions_mut().insert(for_requests.clone());
        async move { Ok::<_, Infallible>(api.handle(req).await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = faulty.cut_requested() => tracing::debug!(%peer, "connection cut by an injected fault"),
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error during shutdown");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_loopback_and_dropping_the_handle_stops_listening() {
        let server = ApiServer::start(ServerConfig::new("t", Authenticator::default())).await.unwrap();
        let addr = server.addr();
        assert!(addr.ip().is_loopback());
        assert!(server.url().starts_with("https://127.0.0.1:"));
        assert!(TcpStream::connect(addr).await.is_ok());
        drop(server);
        // The listener closes once its task sees the cancellation; a hang guard, not a timing assertion.
        let closed = async {
            while TcpStream::connect(addr).await.is_ok() {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), closed).await.expect("the port closes after drop");
    }
}
