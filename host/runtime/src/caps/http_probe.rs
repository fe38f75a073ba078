//! `http-probe`: one GET per call, to a Service (or a pod of the stage's
//! releases) through the API server proxy
//! of one of the stage's targets (the target's [`ClusterBackend`]), or to a
//! URL the stage's `with.urls` allows, with a plain HTTP/1.1 client (HTTPS
//! with the system's roots). Answers carry the status (a 5xx is an answer,
//! not an error), the headers of [`PROBE_HEADERS`], at most
//! [`PROBE_BODY_CAP`] bytes of body and the latency the host measured.
//! Errors are typed: `denied` (scope, in the run log), `timeout` (the call's
//! own timeout or the stage deadline), `unavailable` (unreachable).
//! This file must reach nothing the scope has not allowed: redirects are
//! returned, never followed, and only the checked URL is dialled.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::bindings::wit::http_probe::{Destination, Host, ProbeRequest, ProbeResponse};
use crate::bindings::wit::types::{CapError, ErrorKind, Pair};
use crate::cluster::{ObjectKey, PodProbe, ProbeAnswer, ServiceProbe, PROBE_BODY_CAP, PROBE_HEADERS};
use crate::sandbox::HostState;

const CAP: &str = "http-probe";

/// The label naming a pod's Helm release: what scopes a `pod` destination.
const RELEASE_LABEL: &str = "app.kubernetes.io/instance";

fn error(kind: ErrorKind, message: String) -> CapError {
    CapError { kind, capability: CAP.to_string(), message }
}

use crate::connector::Https;

/// The one client for URL probes (HTTP, and HTTPS against the system roots).
fn client() -> Result<&'static Client<Https, Empty<Bytes>>, String> {
    static CLIENT: OnceLock<Result<Client<Https, Empty<Bytes>>, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let connector = crate::connector::https_or_http("URL probes")?;
            Ok(Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One GET to `url` (already in scope), within `timeout`.
async fn probe_url(url: &str, headers: &[(String, String)], timeout: Duration) -> Result<ProbeAnswer, CapError> {
    let uri: http::Uri = url.parse().map_err(|e| error(ErrorKind::Invalid, format!("`{url}` is not a URL: {e}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(error(ErrorKind::Invalid, format!("`{url}` is not an http:// or https:// URL")));
    }
    let mut request = http::Request::get(uri);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(Empty::new()).map_err(|e| error(ErrorKind::Invalid, format!("a header of the probe of `{url}` is malformed: {e}")))?;
    let client = client().map_err(|m| error(ErrorKind::Failed, m))?;
    let started = Instant::now();
    let exchange = async {
        let response = client.request(request).await.map_err(|e| {
            let mut chain = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            error(ErrorKind::Unavailable, format!("`{url}` could not be reached: {chain}"))
        })?;
        let status = response.status().as_u16();
        let kept = PROBE_HEADERS
            .iter()
            .flat_map(|name| response.headers().get_all(*name).iter().map(move |v| (name.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())))
            .collect();
        let mut body = response.into_body();
        let mut out = Vec::new();
        while out.len() < PROBE_BODY_CAP {
            match body.frame().await {
                None => break,
                Some(Err(e)) => return Err(error(ErrorKind::Unavailable, format!("the answer of `{url}` broke off: {e}"))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        let room = PROBE_BODY_CAP - out.len();
                        out.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
            }
        }
        Ok(ProbeAnswer { status, headers: kept, body: out, latency: started.elapsed() })
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(answer) => answer,
        Err(_) => Err(error(ErrorKind::Timeout, format!("`{url}` gave no full answer within {} ms", timeout.as_millis()))),
    }
}

impl Host for HostState {
    async fn get(&mut self, request: ProbeRequest) -> wasmtime::Result<Result<ProbeResponse, CapError>> {
        let s = self.env.scope.clone();
        if let Err(e) = s.target(CAP, &request.target) {
            return Ok(Err(self.deny("http-probe.get", e)));
        }
        let headers: Vec<(String, String)> = request.headers.iter().map(|p| (p.key.clone(), p.value.clone())).collect();
        let timeout = Duration::from_millis(u64::from(request.timeout_ms.max(1)));
        let work = match &request.destination {
            Destination::Service(svc) => {
                let namespace = match s.namespace(CAP, svc.namespace.as_deref()) {
                    Ok(ns) => ns,
                    Err(e) => return Ok(Err(self.deny("http-probe.get", e))),
                };
                let backend = match self.env.clusters.get(&request.target).cloned() {
                    Some(b) => b,
                    None => {
                        return Ok(Err(error(
                            ErrorKind::Unavailable,
                            format!("target `{}` has no cluster connection in this run (it was not connected before the stage started)", request.target),
                        )))
                    }
                };
                let probe = ServiceProbe { namespace, service: svc.name.clone(), port: svc.port.clone(), path: request.path.clone(), headers, timeout };
                let fut: std::pin::Pin<Box<dyn std::future::Future<Output = Result<ProbeAnswer, CapError>> + Send>> =
                    Box::pin(async move { backend.probe_service(&probe).await.map_err(|e| super::cluster::cap_error(CAP, e)) });
                fut
            }
            Destination::Pod(pod) => {
                let namespace = match s.namespace(CAP, pod.namespace.as_deref()) {
                    Ok(ns) => ns,
                    Err(e) => return Ok(Err(self.deny("http-probe.get", e))),
                };
                let Some(backend) = self.env.clusters.get(&request.target).cloned() else {
                    return Ok(Err(error(
                        ErrorKind::Unavailable,
                        format!("target `{}` has no cluster connection in this run (it was not connected before the stage started)", request.target),
                    )));
                };
                // Only pods of the stage's releases: the pod's `app.kubernetes.io/instance` label names its release.
                let key = ObjectKey { api_version: "v1".into(), kind: "Pod".into(), namespace: Some(namespace.clone()), name: pod.name.clone() };
                let found = match tokio::time::timeout(timeout, backend.get(&key)).await {
                    Ok(Ok(found)) => found,
                    Ok(Err(e)) => return Ok(Err(super::cluster::cap_error(CAP, e))),
                    Err(_) => return Ok(Err(error(ErrorKind::Timeout, format!("pod {namespace}/{} could not be looked up within {} ms", pod.name, timeout.as_millis())))),
                };
                let release = found["metadata"]["labels"][RELEASE_LABEL].as_str().unwrap_or_default().to_string();
                if let Err(e) = s.release(CAP, &release) {
                    let e = error(ErrorKind::Denied, format!("pod {namespace}/{} belongs to no release of this stage ({RELEASE_LABEL}: `{release}`): {}", pod.name, e.message));
                    return Ok(Err(self.deny("http-probe.get", e)));
                }
                let probe = PodProbe { namespace, pod: pod.name.clone(), port: pod.port.clone(), path: request.path.clone(), headers, timeout };
                Box::pin(async move { backend.probe_pod(&probe).await.map_err(|e| super::cluster::cap_error(CAP, e)) })
            }
            Destination::Url(url) => {
                if let Err(e) = s.url(CAP, url) {
                    return Ok(Err(self.deny("http-probe.get", e)));
                }
                // The path of the call is appended to the allowed URL, and the whole is checked again.
                let full = join(url, &request.path);
                let climbs = full.split(['?', '#']).next().unwrap_or_default().split('/').any(|seg| seg == ".." || seg.eq_ignore_ascii_case("%2e%2e"));
                let checked = if climbs { Err(error(ErrorKind::Denied, format!("`{full}` climbs out of the allowed URL with `..`"))) } else { s.url(CAP, &full) };
                if let Err(e) = checked {
                    return Ok(Err(self.deny("http-probe.get", e)));
                }
                Box::pin(async move { probe_url(&full, &headers, timeout).await })
            }
        };
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let cancel = self.env.cancel.clone();
        let answer = tokio::select! {
            r = work => r,
            _ = cancel.cancelled() => Err(error(ErrorKind::Timeout, "the run was interrupted".into())),
            _ = tokio::time::sleep(remaining) => Err(error(ErrorKind::Timeout, "the stage deadline passed during the probe".into())),
        };
        Ok(answer.map(|a| ProbeResponse {
            status: a.status,
            headers: a.headers.into_iter().map(|(key, value)| Pair { key, value }).collect(),
            body: a.body,
            latency_ms: a.latency.as_millis().min(u128::from(u32::MAX)) as u32,
        }))
    }
}

/// `url` with `path` (path and query) appended; an empty path leaves it as is.
fn join(url: &str, path: &str) -> String {
    if path.is_empty() {
        return url.to_string();
    }
    match (url.ends_with('/'), path.starts_with('/')) {
        (true, true) => format!("{url}{}", &path[1..]),
        (false, false) => format!("{url}/{path}"),
        _ => format!("{url}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn the_path_is_joined_to_the_url_with_one_slash() {
        assert_eq!(join("http://127.0.0.1:8080", "/health"), "http://127.0.0.1:8080/health");
        assert_eq!(join("http://127.0.0.1:8080/", "/health"), "http://127.0.0.1:8080/health");
        assert_eq!(join("http://127.0.0.1:8080/api", "v1?x=1"), "http://127.0.0.1:8080/api/v1?x=1");
        assert_eq!(join("http://127.0.0.1:8080/api", ""), "http://127.0.0.1:8080/api");
    }
}
