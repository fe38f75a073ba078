//! A target as cluster access sees it — how to reach it ([`TargetSource`])
//! and an optional `endpoint:` override — turned into a connected
//! `kube::Client`. `connect` asks the API server for `/version` once, so an
//! unreachable endpoint or refused credentials fail here, naming the target
//! and the fix, before any stage runs. This file must not print credentials.

use std::path::PathBuf;
use std::sync::Arc;

use crate::auth::{BearerAuthLayer, StaticToken};
use crate::retry::RetryLayer;
use crate::{kubeconfig, ClusterError, Endpoint, TokenSource};

/// How long `connect` retries a refused or failing endpoint before naming it.
pub const CONNECT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);

/// How a target reaches its cluster.
#[derive(Clone)]
pub enum TargetSource {
    /// A kubeconfig context (path None: `$KUBECONFIG`, else `~/.kube/config`).
    /// The context `in-cluster`, absent from the file(s), is kube-rs's in-cluster config.
    Kubeconfig { path: Option<PathBuf>, context: String },
    /// An endpoint and a token source: EKS and GKE clusters, or a simulated
    /// cluster's static token.
    Token { endpoint: Endpoint, source: Arc<dyn TokenSource> },
}

/// One target: its name (for errors), how to reach it, and an optional
/// endpoint that replaces the cluster URL while keeping its CA and auth
/// (private endpoints, tunnels).
#[derive(Clone)]
pub struct Target {
    pub name: String,
    pub source: TargetSource,
    pub endpoint: Option<String>,
}

impl Target {
    pub fn kubeconfig(name: &str, path: Option<PathBuf>, context: &str) -> Target {
        Target { name: name.to_string(), source: TargetSource::Kubeconfig { path, context: context.to_string() }, endpoint: None }
    }

    /// A cluster reached with one bearer token that does not expire.
    pub fn static_token(name: &str, endpoint: Endpoint, token: &str) -> Target {
        Target { name: name.to_string(), source: TargetSource::Token { endpoint, source: Arc::new(StaticToken(token.to_string())) }, endpoint: None }
    }

    pub fn with_endpoint(mut self, endpoint: Option<String>) -> Target {
        self.endpoint = endpoint;
        self
    }

    fn config_error(&self, message: String) -> ClusterError {
        ClusterError::Config { target: self.name.clone(), message }
    }

    /// The kube-rs config, and the token source to layer on top (Token targets).
    async fn config(&self) -> Result<(kube::Config, Option<Arc<dyn TokenSource>>), ClusterError> {
        let (mut config, source) = match &self.source {
            TargetSource::Kubeconfig { path, context } => {
                let config = match kubeconfig::load(&self.name, path.as_deref(), context).await {
                    Err(ClusterError::Config { .. }) if context == "in-cluster" && path.is_none() => kubeconfig::in_cluster(&self.name)?,
                    other => other?,
                };
                (config, None)
            }
            TargetSource::Token { endpoint, source } => {
                let url: http::Uri = endpoint.url.parse().map_err(|e| self.config_error(format!("the cluster endpoint `{}` is not a URL: {e}", endpoint.url)))?;
                let mut config = kube::Config::new(url);
                if let Some(pem) = &endpoint.ca_pem {
                    config.root_cert = Some(pem_certificates(pem).map_err(|m| self.config_error(format!("the cluster's CA certificate is unusable: {m}")))?);
                }
                (config, Some(source.clone()))
            }
        };
        if let Some(endpoint) = &self.endpoint {
            let url: http::Uri = endpoint.parse().map_err(|e| self.config_error(format!("`endpoint: {endpoint}` is not a URL: {e}")))?;
            // Keep verifying the certificate against the cluster's own name through a tunnel.
            if config.tls_server_name.is_none() {
                config.tls_server_name = config.cluster_url.host().map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string());
            }
            config.cluster_url = url;
        }
        // One retry policy: ours (retry.rs), not kube-rs's as well.
        config.default_retry = false;
        // A proxy from the environment cannot reach a loopback server.
        if matches!(config.cluster_url.host(), Some("127.0.0.1" | "localhost" | "[::1]")) || config.cluster_url.host().is_some_and(|h| h.starts_with("127.")) {
            config.proxy_url = None;
        }
        Ok((config, source))
    }

    /// A client for the target, not yet checked against the server.
    pub async fn client(&self) -> Result<kube::Client, ClusterError> {
        let (config, source) = self.config().await?;
        let builder = kube::client::ClientBuilder::try_from(config).map_err(|e| self.config_error(format!("cannot build a client: {e}")))?;
        // Retries outermost: every attempt asks the auth layer for a fresh token.
        let retry = RetryLayer::new(&self.name);
        Ok(match source {
            None => builder.with_layer(&retry).build(),
            Some(source) => builder.with_layer(&BearerAuthLayer::new(source)).with_layer(&retry).build(),
        })
    }

    /// A client that has reached the API server and been accepted by it.
    pub async fn connect(&self) -> Result<kube::Client, ClusterError> {
        let client = self.client().await?;
        // Connecting fails fast: a short retry deadline, not the default one.
        let deadline = std::time::Instant::now() + CONNECT_DEADLINE;
        // `/version` is public on real clusters; a namespace list proves the credentials too.
        crate::retry::with_deadline(deadline, client.apiserver_version()).await.map_err(|e| classify(&self.name, e))?;
        let probe: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
        match crate::retry::with_deadline(deadline, probe.list_metadata(&kube::api::ListParams::default().limit(1))).await {
            Ok(_) => {}
            // Credentials limited to a namespace are fine: the server knew who we are.
            Err(kube::Error::Api(s)) if s.code == 403 => {}
            Err(e) => return Err(classify(&self.name, e)),
        }
        Ok(client)
    }
}

/// Split a PEM bundle into DER certificates.
fn pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    use base64::Engine;
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            let b = body.take().ok_or("END without BEGIN")?;
            out.push(base64::engine::general_purpose::STANDARD.decode(b).map_err(|e| e.to_string())?);
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    if out.is_empty() {
        return Err("no PEM certificate in it".into());
    }
    Ok(out)
}

/// Name what went wrong reaching `target`, and the fix.
pub fn classify(target: &str, err: kube::Error) -> ClusterError {
    let target_s = target.to_string();
    if let kube::Error::Api(status) = &err {
        return match status.code {
            401 => ClusterError::Credentials {
                target: target_s,
                message: format!("the credentials for target `{target}` were refused: {} (401); renew the token or fix the kubeconfig user", status.message),
            },
            403 => ClusterError::Credentials {
                target: target_s,
                message: format!("the credentials for target `{target}` are not allowed to do this: {} (403)", status.message),
            },
            code => ClusterError::Api { target: target_s, code, message: format!("the API server of target `{target}` answered {code}: {}", status.message) },
        };
    }
    let mut chain = String::new();
    let mut refused = false;
    let mut tls = false;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        if let Some(c) = e.downcast_ref::<ClusterError>() {
            return match c {
                ClusterError::Credentials { message, .. } => ClusterError::Credentials { target: target_s, message: message.clone() },
                other => ClusterError::Credentials { target: target_s, message: format!("the token source failed: {other}") },
            };
        }
        let text = e.to_string();
        tls |= text.contains("certificate") || text.contains("UnknownIssuer");
        if !chain.contains(&text) {
            if !chain.is_empty() {
                chain.push_str(": ");
            }
            chain.push_str(&text);
        }
        source = e.source();
    }
    let message = if refused {
        format!("cannot reach the API server of target `{target}`: connection refused; is the cluster running? Check the endpoint (or the target's `endpoint:`) and that a tunnel is up ({chain})")
    } else if tls {
        format!("the API server of target `{target}` presented a certificate its CA does not verify; check the cluster's CA data ({chain})")
    } else {
        format!("cannot reach the API server of target `{target}`: {chain}")
    };
    ClusterError::Unreachable { target: target_s, message }
}
