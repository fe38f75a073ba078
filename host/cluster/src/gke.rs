//! GKE targets (`gke: {cluster, region|zone, project, credentials}`): what
//! `gcloud container clusters get-credentials` and `gke-gcloud-auth-plugin`
//! do, natively. The service-account key (the request's
//! `GCP_SERVICE_ACCOUNT_KEY`) is given as JSON, as base64 of the JSON or as the
//! path of a key file — detected here — and turned into OAuth tokens by
//! `gcp_auth::CustomServiceAccount` (scope cloud-platform); without one,
//! application default credentials (`gcp_auth::provider()`). The container
//! API's clusters.get (`GET {base}/v1/projects/P/locations/L/clusters/C`,
//! base `https://container.googleapis.com` or gcloud's
//! `CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER`) gives the endpoint and CA.
//!
//! This file owns the GCP side of a target only. It must not build kube
//! clients (`auth.rs` does), never prints a key (nor any part of one) or a
//! token, never sends a token over plain HTTP except to a loopback address,
//! and tests must give an explicit [`GkeApi`] and a key: application default
//! credentials would ask the GCE metadata server.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use gcp_auth::TokenProvider;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::eks::error_chain as chain;
use crate::{ClusterError, Endpoint, Token, TokenSource};

/// The OAuth scope every container API call and GKE API server accepts.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The container API, when nothing overrides it.
pub const CONTAINER_API: &str = "https://container.googleapis.com";
/// gcloud's override of the container API base (`https://HOST/`, no version).
pub const CONTAINER_API_OVERRIDE_ENV: &str = "CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER";
/// How long one clusters.get may take.
const API_TIMEOUT: Duration = Duration::from_secs(30);
/// clusters.get answers are a few KB; anything past this is not one.
const MAX_RESPONSE: usize = 4 * 1024 * 1024;

const FIX_KEY: &str = "give GCP_SERVICE_ACCOUNT_KEY as the key file's JSON as Google issued it, base64 of that JSON, or the path of the key file";

/// Where the container API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GkeApi {
    /// `https://container.googleapis.com`, without a trailing slash or version.
    pub base: String,
}

impl GkeApi {
    /// The process's: `CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER`, else the real API.
    pub fn from_env() -> GkeApi {
        match std::env::var(CONTAINER_API_OVERRIDE_ENV) {
            Ok(base) if !base.trim().is_empty() => GkeApi::at(&base),
            _ => GkeApi::at(CONTAINER_API),
        }
    }

    /// The container API at `base` (gcloud's override form, `http(s)://HOST[:PORT]/`).
    pub fn at(base: &str) -> GkeApi {
        let base = base.trim().trim_end_matches('/');
        GkeApi { base: base.strip_suffix("/v1").unwrap_or(base).to_string() }
    }
}

/// Which of the three forms a key was given in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyForm {
    Json,
    Base64Json,
    File(PathBuf),
}

impl fmt::Display for KeyForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyForm::Json => f.write_str("given as JSON"),
            KeyForm::Base64Json => f.write_str("given as base64 JSON"),
            KeyForm::File(path) => write!(f, "read from the file {}", path.display()),
        }
    }
}

/// A GKE target: `connect` resolves it to an [`Endpoint`] and a [`TokenSource`].
pub struct GkeCluster;

impl GkeCluster {
    /// Gets `cluster` in `project` at `location` (a region or a zone) from the
    /// container API [`GkeApi::from_env`] names. `credentials`: the
    /// service-account key as JSON, base64 JSON or a file path; None:
    /// application default credentials. `endpoint_override` replaces the API
    /// server URL GKE reports; the CA stays the cluster's.
    pub async fn connect(
        target: &str,
        project: &str,
        location: &str,
        cluster: &str,
        credentials: Option<String>,
        endpoint_override: Option<&str>,
    ) -> Result<(Endpoint, GkeTokenSource), ClusterError> {
        GkeCluster::connect_via(&GkeApi::from_env(), target, project, location, cluster, credentials, endpoint_override).await
    }

    /// [`GkeCluster::connect`] against the container API at `api`.
    #[tracing::instrument(name = "gke_connect", skip(api, credentials, endpoint_override), fields(api = %api.base))]
    pub async fn connect_via(
        api: &GkeApi,
        target: &str,
        project: &str,
        location: &str,
        cluster: &str,
        credentials: Option<String>,
        endpoint_override: Option<&str>,
    ) -> Result<(Endpoint, GkeTokenSource), ClusterError> {
        let provider: Arc<dyn TokenProvider> = match credentials.filter(|c| !c.trim().is_empty()) {
            // Reading a key file and the system's roots blocks: off the async workers.
            Some(given) => {
                let owned = target.to_string();
                let built = tokio::task::spawn_blocking(move || service_account(&owned, &given)).await.map_err(|e| ClusterError::Config {
                    target: target.to_string(),
                    message: format!("reading the GCP service-account key was interrupted: {e}"),
                })?;
                Arc::new(built?)
            }
            _ => gcp_auth::provider().await.map_err(|e| ClusterError::Credentials {
                target: target.to_string(),
                message: format!(
                    "no GCP credentials found ({}): set GCP_SERVICE_ACCOUNT_KEY (key JSON, base64 JSON or a key file path) or GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`",
                    chain(&e)
                ),
            })?,
        };
        let source = GkeTokenSource { target: target.to_string(), provider };
        let token = source.token().await?;
        let url = format!("{}/v1/projects/{project}/locations/{location}/clusters/{cluster}", api.base);
        let body = get_json(target, api, &url, &token.value).await?;
        let resource = format!("projects/{project}/locations/{location}/clusters/{cluster}");
        let (status, message) = match body {
            Answer::Ok(v) => {
                let endpoint = endpoint_of(target, &resource, &v, endpoint_override)?;
                tracing::debug!(url = %endpoint.url, "got the GKE cluster");
                return Ok((endpoint, source));
            }
            Answer::Err(status, message) => (status, message),
        };
        let target = target.to_string();
        Err(match status {
            404 => ClusterError::UnknownCluster {
                target,
                message: format!(
                    "no GKE cluster `{cluster}` in project {project}, location {location} ({message}): check the cluster name, project and region or zone (`gcloud container clusters list --project {project}`)"
                ),
            },
            401 => ClusterError::Credentials {
                target,
                message: format!("the container API did not accept the service account's token ({message}): check that the key is current and its account is enabled"),
            },
            403 => ClusterError::Credentials {
                target,
                message: format!(
                    "the service account may not get {resource} ({message}): grant it roles/container.clusterViewer (container.clusters.get) in project {project}, or check the project and location (a missing cluster also reads as denied)"
                ),
            },
            _ => ClusterError::Api { target, code: status, message: format!("clusters.get of {resource} failed: {message}") },
        })
    }
}

/// The endpoint and CA of a clusters.get answer.
fn endpoint_of(target: &str, resource: &str, v: &Value, endpoint_override: Option<&str>) -> Result<Endpoint, ClusterError> {
    let bad = |why: String| ClusterError::Api { target: target.to_string(), code: 200, message: format!("clusters.get of {resource}: {why}") };
    let host = v["endpoint"].as_str().unwrap_or_default();
    let status = v["status"].as_str().unwrap_or("unknown");
    let url = match endpoint_override {
        Some(url) => url.to_string(),
        None if !host.is_empty() => format!("https://{host}"),
        None => return Err(bad(format!("the cluster has no endpoint yet (status {status}): wait until it is RUNNING, or give an `endpoint:`"))),
    };
    let ca = v["masterAuth"]["clusterCaCertificate"].as_str().unwrap_or_default();
    let cleaned: String = ca.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let pem = STANDARD
        .decode(cleaned)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|p| p.contains("-----BEGIN CERTIFICATE-----"))
        .ok_or_else(|| bad("masterAuth.clusterCaCertificate is not base64 of a PEM certificate".to_string()))?;
    Ok(Endpoint { url, ca_pem: Some(pem) })
}

/// Which form `given` is in, and the key JSON it holds. Never echoes the key.
pub fn key_json(target: &str, given: &str) -> Result<(KeyForm, String), ClusterError> {
    let err = |message: String| ClusterError::Credentials { target: target.to_string(), message };
    let given = given.trim();
    if given.starts_with('{') {
        return Ok((KeyForm::Json, given.to_string()));
    }
    let path = Path::new(given);
    let single_line = !given.contains('\n');
    if single_line && path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(format!("cannot read the GCP service-account key file {}: {e}: {FIX_KEY}", path.display())))?;
        return Ok((KeyForm::File(path.to_path_buf()), text));
    }
    let compact: String = given.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let is_base64_alphabet = !compact.is_empty() && compact.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/-_=".contains(&b));
    let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|engine| engine.decode(&compact).ok());
    if let Some(text) = decoded.and_then(|b| String::from_utf8(b).ok()) {
        if text.trim_start().starts_with('{') {
            return Ok((KeyForm::Base64Json, text));
        }
    }
    let looks_like_path = single_line
        && (given.starts_with('/') || given.starts_with("./") || given.starts_with("../") || given.starts_with('~') || given.ends_with(".json"));
    Err(err(if looks_like_path {
        format!("the GCP service-account key looks like a file path, but {} is not a file: {FIX_KEY}", path.display())
    } else if is_base64_alphabet {
        format!("the GCP service-account key looks like base64, but it does not decode to a JSON key: {FIX_KEY}")
    } else {
        format!("the GCP service-account key is neither JSON, base64 JSON nor the path of a file: {FIX_KEY}")
    }))
}

/// The service account of a key given in any of the three forms.
fn service_account(target: &str, given: &str) -> Result<gcp_auth::CustomServiceAccount, ClusterError> {
    let (form, json) = key_json(target, given)?;
    let malformed = |why: String| ClusterError::Credentials {
        target: target.to_string(),
        message: format!("the GCP service-account key ({form}) is malformed: {why}: {FIX_KEY}"),
    };
    // Checked here first, so no message quotes a key's content back.
    let value: Value = serde_json::from_str(&json)
        .map_err(|e| malformed(format!("it is not valid JSON (line {}, column {})", e.line(), e.column())))?;
    let Some(object) = value.as_object() else {
        return Err(malformed("it is not a JSON object".to_string()));
    };
    let missing: Vec<&str> =
        ["type", "client_email", "private_key", "token_uri"].into_iter().filter(|k| !object.get(*k).is_some_and(Value::is_string)).collect();
    if !missing.is_empty() {
        return Err(malformed(format!("it lacks {}", missing.join(", "))));
    }
    if object["type"] != "service_account" {
        return Err(malformed("its type is not service_account (user credentials go through application default credentials)".to_string()));
    }
    gcp_auth::CustomServiceAccount::from_json(&json).map_err(|e| malformed(e.to_string()))
}

/// OAuth access tokens of one service account (or the application default
/// credentials), with their expiry.
#[derive(Clone)]
pub struct GkeTokenSource {
    target: String,
    provider: Arc<dyn TokenProvider>,
}

impl fmt::Debug for GkeTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GkeTokenSource").field("target", &self.target).finish()
    }
}

#[async_trait::async_trait]
impl TokenSource for GkeTokenSource {
    async fn token(&self) -> Result<Token, ClusterError> {
        // gcp_auth caches the token and fetches a new one shortly before it expires.
        let token = self.provider.token(&[CLOUD_PLATFORM_SCOPE]).await.map_err(|e| ClusterError::Credentials {
            target: self.target.clone(),
            message: format!(
                "getting a Google OAuth token failed ({}): check that the service-account key is current, its account exists and is enabled, and its token_uri is reachable",
                chain(&e)
            ),
        })?;
        Ok(Token { value: token.as_str().to_string(), expires: Some(SystemTime::from(token.expires_at())) })
    }
}

enum Answer {
    Ok(Value),
    /// Status and the Google error's message.
    Err(u16, String),
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `GET url` with the bearer token; JSON back.
async fn get_json(target: &str, api: &GkeApi, url: &str, token: &str) -> Result<Answer, ClusterError> {
    let config = |message: String| ClusterError::Config { target: target.to_string(), message };
    let unreachable = |why: String| ClusterError::Unreachable {
        target: target.to_string(),
        message: format!("cannot reach the GKE container API at {}: {why}: check the network and {CONTAINER_API_OVERRIDE_ENV} if set", api.base),
    };
    let uri: hyper::Uri = url.parse().map_err(|e| config(format!("the container API URL {url} is invalid: {e}")))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if uri.host().is_some_and(is_loopback) => {}
        _ => return Err(config(format!("the container API {} must be https (plain http only on a loopback address): fix {CONTAINER_API_OVERRIDE_ENV}", api.base))),
    }
    // Reading the system's roots blocks: off the async workers.
    let roots = tokio::task::spawn_blocking(|| {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        roots
    })
    .await
    .map_err(|e| config(format!("loading the system's CA roots was interrupted: {e}")))?;
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| config(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let request = hyper::Request::get(uri)
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(hyper::header::ACCEPT, "application/json")
        .body(Empty::new())
        .map_err(|e| config(format!("building the clusters.get request failed: {e}")))?;
    let response = tokio::time::timeout(API_TIMEOUT, client.request(request))
        .await
        .map_err(|_| unreachable(format!("no answer within {} s", API_TIMEOUT.as_secs())))?
        .map_err(|e| unreachable(chain(&e)))?;
    let status = response.status().as_u16();
    let body = tokio::time::timeout(API_TIMEOUT, Limited::new(response.into_body(), MAX_RESPONSE).collect())
        .await
        .map_err(|_| unreachable("the answer did not finish".to_string()))?
        .map_err(|e| unreachable(format!("reading the answer failed: {e}")))?
        .to_bytes();
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        if value.is_object() {
            return Ok(Answer::Ok(value));
        }
        return Err(ClusterError::Api { target: target.to_string(), code: status, message: format!("clusters.get at {url} answered with something not JSON") });
    }
    let message = value["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| format!("HTTP {status}"));
    Ok(Answer::Err(status, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_base_takes_gclouds_override_form() {
        assert_eq!(GkeApi::at("http://127.0.0.1:8080/").base, "http://127.0.0.1:8080");
        assert_eq!(GkeApi::at("https://container.googleapis.com/v1/").base, "https://container.googleapis.com");
        assert_eq!(GkeApi::at(CONTAINER_API).base, CONTAINER_API);
    }

    #[test]
    fn keys_are_recognised_in_all_three_forms_and_never_echoed() {
        let json = r#"{"type": "service_account", "private_key": "SECRET-PEM"}"#;
        assert_eq!(key_json("t", json).unwrap(), (KeyForm::Json, json.to_string()));
        assert_eq!(key_json("t", &STANDARD.encode(json)).unwrap(), (KeyForm::Base64Json, json.to_string()));
        assert_eq!(key_json("t", &URL_SAFE_NO_PAD.encode(json)).unwrap(), (KeyForm::Base64Json, json.to_string()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        std::fs::write(&path, json).unwrap();
        assert_eq!(key_json("t", path.to_str().unwrap()).unwrap(), (KeyForm::File(path.clone()), json.to_string()));

        let missing = dir.path().join("nope.json");
        let msg = key_json("t", missing.to_str().unwrap()).unwrap_err().to_string();
        assert!(msg.contains("target `t`") && msg.contains("looks like a file path") && msg.contains("nope.json"), "{msg}");
        let msg = key_json("t", "c2VjcmV0LW5vdC1qc29u").unwrap_err().to_string();
        assert!(msg.contains("looks like base64") && !msg.contains("c2VjcmV0"), "{msg}");
        let msg = key_json("t", "secret key material!").unwrap_err().to_string();
        assert!(msg.contains("neither JSON, base64 JSON nor the path") && !msg.contains("secret key"), "{msg}");
    }

    #[test]
    fn malformed_keys_say_which_form_they_looked_like_without_quoting_them() {
        let cases = [
            (r#"{"type": "service_account", "private_key": "SECRET-PEM""#.to_string(), "given as JSON", "not valid JSON"),
            (STANDARD.encode(r#"{"type": "service_account", "private_key": "SECRET-PEM"}"#), "given as base64 JSON", "lacks client_email, token_uri"),
            (
                r#"{"type": "service_account", "client_email": "a@b", "private_key": "SECRET-PEM", "token_uri": "http://127.0.0.1:1/token"}"#.to_string(),
                "given as JSON",
                "malformed",
            ),
        ];
        for (given, form, why) in cases {
            let msg = service_account("t", &given).err().unwrap().to_string();
            assert!(msg.contains("target `t`") && msg.contains(form) && msg.contains(why), "{msg}");
            assert!(!msg.contains("SECRET-PEM"), "{msg}");
        }
    }

    #[test]
    fn plain_http_is_for_loopback_only() {
        assert!(is_loopback("127.0.0.1") && is_loopback("localhost") && is_loopback("[::1]"));
        assert!(!is_loopback("10.0.0.1") && !is_loopback("container.googleapis.com"));
    }
}
