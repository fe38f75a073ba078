//! The API server's proxy subresources, as kube-apiserver serves them:
//! `/api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy/PATH` picks a
//! ready address of the service's Endpoints (the port by number or name, as
//! the real `ResourceLocation` resolves it) and `/api/v1/namespaces/NS/pods/
//! [SCHEME:]NAME[:PORT]/proxy/PATH` names one pod; the chosen simulated pod
//! answers as `podhttp` says. Addresses are taken in turn (round-robin per
//! service, deterministic), so traffic splits by replica count exactly.
//! Failures are the real server's: 400 for a malformed name, 404 for a
//! missing service, endpoints or pod, 503 `no endpoints available for
//! service "NAME"` and `error trying to reach service: ...`. `api` authorises
//! the verb (GET/HEAD → get, POST → create, PUT → update, PATCH → patch,
//! DELETE → delete on `services/proxy` or `pods/proxy`) before calling here.
//! `get_service` routes the simulated traffic (`traffic`) the same way.
//! This file must not change objects, nor reach anything but simulated pods
//! and their loopback upstreams.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;

use crate::api::{Api, Target};
use crate::controllers::behavior::ImageRule;
use crate::error::{ApiError, GroupResource};
use crate::http::{read_bytes, Body};
use crate::podhttp::{PodHttp, PodRequest};
use crate::resources::Registry;

/// A request for a proxy subresource, recognised before authorisation.
#[derive(Debug, Clone)]
pub struct ProxyCall {
    /// What RBAC checks: the verb of the method on `services/proxy` or `pods/proxy`.
    pub verb: &'static str,
    pub target: Target,
    /// `[SCHEME:]NAME[:PORT]` as given.
    id: String,
    /// The path on the pod: empty, or from `/`.
    path: String,
    query: Option<String>,
}

impl ProxyCall {
    /// Some when `req` is for `services/ID/proxy` or `pods/ID/proxy` in a namespace.
    pub fn parse(registry: &Registry, req: &Request<Incoming>) -> Result<Option<ProxyCall>, ApiError> {
        let Some(rest) = req.uri().path().strip_prefix("/api/v1/namespaces/") else { return Ok(None) };
        let mut parts = rest.splitn(4, '/');
        let (Some(ns), Some(plural), Some(id), Some(tail)) = (parts.next(), parts.next(), parts.next(), parts.next()) else { return Ok(None) };
        let path = match tail.strip_prefix("proxy") {
            Some(p) if p.is_empty() || p.starts_with('/') => p,
            _ => return Ok(None),
        };
        if !matches!(plural, "services" | "pods") || ns.is_empty() || id.is_empty() {
            return Ok(None);
        }
        let Some(rt) = registry.find("", "v1", plural) else { return Ok(None) };
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let verb = match *req.method() {
            Method::GET | Method::HEAD => "get",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => return Err(ApiError::MethodNotAllowed),
        };
        let id = decode(id);
        let target = Target { rt, namespace: Some(decode(ns)), name: Some(id.clone()), sub: Some("proxy".into()) };
        Ok(Some(ProxyCall { verb, target, id, path: path.to_string(), query: req.uri().query().map(String::from) }))
    }

    fn service(&self) -> bool {
        self.target.rt.plural == "services"
    }
}

/// One cluster's proxying: its pods' HTTP and whose turn it is behind each service.
pub struct Proxy {
    pub pods: PodHttp,
    turns: Mutex<HashMap<(String, String), u64>>,
}

impl Default for Proxy {
    fn default() -> Proxy {
        Proxy::new(Vec::new())
    }
}

impl Proxy {
    /// Pods answering as `images` configure them unless annotated.
    pub fn new(images: Vec<ImageRule>) -> Proxy {
        Proxy { pods: PodHttp::new(images), turns: Mutex::new(HashMap::new()) }
    }

    /// The next turn (0, 1, 2, ...) behind `namespace/service`.
    fn turn(&self, namespace: &str, service: &str) -> u64 {
        let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
        let n = turns.entry((namespace.to_string(), service.to_string())).or_default();
        *n += 1;
        *n - 1
    }
}

/// `[SCHEME:]NAME[:PORT]` as `utilnet.SplitSchemeNamePort` reads it; None when invalid.
pub fn split_scheme_name_port(id: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = id.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => ("", *name, ""),
        [name, port] => ("", *name, *port),
        [scheme, name, port] => (*scheme, *name, *port),
        _ => return None,
    };
    (!name.is_empty() && matches!(scheme, "" | "http" | "https")).then_some((scheme, name, port))
}

/// Answers a proxy request as the chosen simulated pod does.
pub async fn serve(api: &Api, call: ProxyCall, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let ns = call.target.ns().to_string();
    let (pod, port) = if call.service() { pick_service_pod(api, &ns, &call.id)? } else { find_pod(api, &ns, &call.id)? };
    if call.path.is_empty() {
        return Ok(redirect(&req));
    }
    let ip = pod["status"]["podIP"].as_str().unwrap_or("");
    let host = match port {
        Some(p) if ip.contains(':') => format!("[{ip}]:{p}"),
        Some(p) => format!("{ip}:{p}"),
        None => ip.to_string(),
    };
    if !containers_running(&pod) {
        return Err(ApiError::ServiceUnavailable(format!("error trying to reach service: dial tcp {host}: connect: connection refused")));
    }
    let (parts, body) = req.into_parts();
    let body: Bytes = read_bytes(body).await?;
    let request = PodRequest { method: parts.method, path: call.path, query: call.query, headers: parts.headers, body };
    api.proxy.pods.answer(&pod, request).await.map_err(|e| ApiError::ServiceUnavailable(e.to_string()))
}

/// One GET of `path` to Service `namespace/name` on its first port, routed
/// exactly as the service proxy routes (the next ready address), answered by
/// the chosen pod and counted in its metrics: what `traffic` sends. The
/// answer's status, or why no pod could answer.
pub async fn get_service(api: &Api, ns: &str, name: &str, path: &str) -> Result<u16, ApiError> {
    let svc = api.store.get(&GroupResource::new("", "services"), ns, name)?;
    let Some(port) = svc["spec"]["ports"][0]["port"].as_i64() else {
        return Err(ApiError::ServiceUnavailable(format!("service {name:?} declares no port")));
    };
    let (pod, _) = pick_service_pod(api, ns, &format!("{name}:{port}"))?;
    if !containers_running(&pod) {
        return Err(ApiError::ServiceUnavailable(format!("error trying to reach service {name:?}: its pod's containers are not running")));
    }
    let request = PodRequest { method: Method::GET, path: path.to_string(), query: None, headers: hyper::HeaderMap::new(), body: Bytes::new() };
    let response = api.proxy.pods.answer(&pod, request).await.map_err(|e| ApiError::ServiceUnavailable(e.to_string()))?;
    Ok(response.status().as_u16())
}

/// The pod behind the next ready address of `namespace/id`, and the endpoint port.
fn pick_service_pod(api: &Api, ns: &str, id: &str) -> Result<(Value, Option<i64>), ApiError> {
    let (_, name, port) = split_scheme_name_port(id).ok_or_else(|| ApiError::BadRequest(format!("invalid service request {id:?}")))?;
    let mut port_name = port.to_string();
    if let Ok(number) = port.parse::<i64>() {
        let svc = api.store.get(&GroupResource::new("", "services"), ns, name)?;
        let ports = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
        let declared = ports.iter().find(|p| p["port"].as_i64() == Some(number));
        port_name = match declared {
            Some(p) => p["name"].as_str().unwrap_or("").to_string(),
            None => return Err(ApiError::ServiceUnavailable(format!("no service port {number} found for service {name:?}"))),
        };
    }
    let endpoints = api.store.get(&GroupResource::new("", "endpoints"), ns, name)?;
    let subsets = endpoints["subsets"].as_array().cloned().unwrap_or_default();
    if subsets.is_empty() {
        return Err(ApiError::ServiceUnavailable(format!("no endpoints available for service {name:?}")));
    }
    let pods = GroupResource::new("", "pods");
    let mut candidates: Vec<(Value, Option<i64>)> = Vec::new();
    for subset in &subsets {
        let ports = subset["ports"].as_array().into_iter().flatten();
        let Some(endpoint_port) = ports.clone().find(|p| p["name"].as_str().unwrap_or("") == port_name) else { continue };
        for address in subset["addresses"].as_array().into_iter().flatten() {
            let target = &address["targetRef"];
            if target["kind"] != "Pod" {
                continue;
            }
            let pod_ns = target["namespace"].as_str().unwrap_or(ns);
            // As the real server does, skip addresses whose pod is gone.
            if let Ok(pod) = api.store.get(&pods, pod_ns, target["name"].as_str().unwrap_or("")) {
                candidates.push((pod, endpoint_port["port"].as_i64()));
            }
        }
    }
    if candidates.is_empty() {
        return Err(ApiError::ServiceUnavailable(format!("no endpoints available for service {id:?}")));
    }
    let turn = api.proxy.turn(ns, name) as usize % candidates.len();
    Ok(candidates.swap_remove(turn))
}

/// The pod `namespace/id` and its port: the one given, else its first container port.
fn find_pod(api: &Api, ns: &str, id: &str) -> Result<(Value, Option<i64>), ApiError> {
    let (_, name, port) = split_scheme_name_port(id).ok_or_else(|| ApiError::BadRequest(format!("invalid pod request {id:?}")))?;
    let pod = api.store.get(&GroupResource::new("", "pods"), ns, name)?;
    let port = match port.parse::<i64>() {
        Ok(p) => Some(p),
        Err(_) if port.is_empty() => {
            let containers = pod["spec"]["containers"].as_array().cloned().unwrap_or_default();
            containers.iter().find_map(|c| c["ports"][0]["containerPort"].as_i64())
        }
        Err(_) => {
            // A named port: the real server dials it as given, and fails; so does this one.
            return Err(ApiError::ServiceUnavailable(format!("error trying to reach service: dial tcp: address {port}: invalid port")));
        }
    };
    Ok((pod, port))
}

/// Whether every container of `pod` is running: only then does anything listen.
fn containers_running(pod: &Value) -> bool {
    let statuses = pod["status"]["containerStatuses"].as_array();
    pod["status"]["phase"] == "Running" && statuses.is_some_and(|s| !s.is_empty() && s.iter().all(|c| c["state"]["running"].is_object()))
}

/// A proxy path without the trailing `/` goes to the one with it, as kube-apiserver's proxy handler redirects.
fn redirect(req: &Request<Incoming>) -> Response<Body> {
    let location = match req.uri().query() {
        Some(q) => format!("{}/?{q}", req.uri().path()),
        None => format!("{}/", req.uri().path()),
    };
    let mut resp = Response::new(Full::new(Bytes::new()).boxed());
    *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(value) = hyper::header::HeaderValue::from_str(&location) {
        resp.headers_mut().insert(hyper::header::LOCATION, value);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_scheme_name_and_port_as_the_real_server_does() {
        assert_eq!(split_scheme_name_port("web"), Some(("", "web", "")));
        assert_eq!(split_scheme_name_port("web:80"), Some(("", "web", "80")));
        assert_eq!(split_scheme_name_port("web:http"), Some(("", "web", "http")));
        assert_eq!(split_scheme_name_port("https:web:443"), Some(("https", "web", "443")));
        assert_eq!(split_scheme_name_port("https:web:"), Some(("https", "web", "")));
        assert_eq!(split_scheme_name_port("ftp:web:21"), None);
        assert_eq!(split_scheme_name_port(":80"), None);
        assert_eq!(split_scheme_name_port("a:b:c:d"), None);
    }

    #[test]
    fn only_running_containers_listen() {
        let pod = |phase: &str, state: Value| serde_json::json!({"status": {"phase": phase, "containerStatuses": [{"state": state}]}});
        assert!(containers_running(&pod("Running", serde_json::json!({"running": {"startedAt": "x"}}))));
        assert!(!containers_running(&pod("Running", serde_json::json!({"waiting": {"reason": "CrashLoopBackOff"}}))));
        assert!(!containers_running(&pod("Pending", serde_json::json!({"running": {}}))));
        assert!(!containers_running(&serde_json::json!({"status": {"phase": "Running"}})));
    }
}
