//! One API server's request handling: authenticate the bearer token, answer
//! discovery (`/version`, `/api`, `/apis`, group/version resource lists,
//! the OpenAPI v2 and v3 documents),
//! turn a resource path into a target (resource, namespace, name,
//! subresource) and a verb, authorise the verb for the namespace, and hand
//! it to `verbs` or `watch`. Paths and messages follow the real
//! kube-apiserver. This file must not touch sockets or TLS (see `server`)
//! nor change objects itself (see `store`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::auth::{Authenticator, Identity};
use crate::error::ApiError;
use crate::http::{bytes_response, error_response, ok, text_response, Body};
use crate::{openapi, openapi_v2, table};
use crate::resources::{Registry, ResourceType};
use crate::store::Store;

/// Everything a request of one cluster may need.
pub struct Api {
    pub registry: Registry,
    pub store: Store,
    pub auth: Authenticator,
    /// `127.0.0.1:PORT`, for `/api`'s serverAddressByClientCIDRs.
    pub address: String,
    /// How often an idle watch that asked for bookmarks gets one.
    pub bookmark_interval: Duration,
    /// Cancelled when the server shuts down: open watches end.
    pub shutdown: CancellationToken,
    /// The services/pods proxy and the simulated pods' HTTP (`proxy`).
    pub proxy: crate::proxy::Proxy,
    /// Faults to inject (`faults`), switchable at run time.
    pub faults: crate::faults::Faults,
}

/// What a resource request is about.
#[derive(Debug, Clone)]
pub struct Target {
    pub rt: ResourceType,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
}

impl Target {
    /// The namespace as the store keys it ("" for cluster-scoped kinds).
    pub fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }
}

/// A parsed request the verb handlers work from.
pub struct Call {
    pub target: Target,
    pub query: HashMap<String, String>,
    pub content_type: String,
    /// The client's User-Agent: its program name is the field manager of writes that name none.
    pub user_agent: String,
    /// Whether the client asked for server-side printing (`as=Table`).
    pub table: bool,
    /// A fault that will cut this watch mid-stream (`faults`).
    pub watch_reset: Option<crate::faults::WatchReset>,
    pub body: Incoming,
}

impl Call {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }
}

const PUBLIC_PATHS: [&str; 4] = ["/version", "/healthz", "/livez", "/readyz"];

impl Api {
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let req = match self.faults_first(req).await {
            Ok(req) => req,
            Err(injected) => return injected,
        };
        let (method, path) = (req.method().clone(), req.uri().path().to_string());
        let result = self.route(req).await;
        match result {
            Ok(resp) => {
                tracing::debug!(%method, %path, code = resp.status().as_u16(), "request");
                resp
            }
            Err(err) => {
                tracing::debug!(%method, %path, code = err.code(), error = %err, "request failed");
                error_response(&err)
            }
        }
    }

    async fn route(self: &Arc<Self>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
        let path = req.uri().path().trim_end_matches('/').to_string();
        let identity = self.authenticate(&req, &path)?;
        if path == "/openapi/v2" {
            return Ok(self.openapi_v2(&header(&req, hyper::header::ACCEPT)));
        }
        if let Some(resp) = self.aggregated_discovery(&path, &header(&req, hyper::header::ACCEPT)) {
            return Ok(resp);
        }
        if let Some(resp) = self.discovery(&path) {
            return Ok(resp);
        }
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (group, version, rest) = match segments.as_slice() {
            ["api", version, rest @ ..] => ("", *version, rest),
            ["apis", group, version, rest @ ..] => (*group, *version, rest),
            _ => return Err(ApiError::PathNotFound),
        };
        let identity = identity.ok_or(ApiError::Unauthorized)?;
        if let Some(call) = crate::proxy::ProxyCall::parse(&self.registry, &req)? {
            authorize(&identity, call.verb, &call.target)?;
            return crate::proxy::serve(self, call, req).await;
        }
        let target = self.target(group, version, rest)?;
        let verb = verb_of(req.method(), &target, &req)?;
        authorize(&identity, verb, &target)?;
        let log = target.sub.as_deref() == Some("log");
        let call = Call {
            query: query_of(&req),
            content_type: header(&req, hyper::header::CONTENT_TYPE),
            user_agent: header(&req, hyper::header::USER_AGENT),
            table: table::wanted(&header(&req, hyper::header::ACCEPT)),
            watch_reset: req.extensions().get().cloned(),
            target,
            body: req.into_body(),
        };
        if log {
            // `pods/log` (`logs`) is read only.
            return if verb == "get" { crate::logs::serve(self, call).await } else { Err(ApiError::MethodNotAllowed) };
        }
        let rt = call.target.rt.clone();
        self.dispatch(verb, call).await.map_err(|e| match e {
            // A kind served from another's storage (`conversion`) is named as asked for.
            ApiError::NotFound { gr, name } if gr != rt.gr() && gr == crate::conversion::stored_gr(&rt) => ApiError::NotFound { gr: rt.gr(), name },
            other => other,
        })
    }

    /// None for a public path without a token; 401 for a bad or missing one elsewhere.
    fn authenticate(&self, req: &Request<Incoming>, path: &str) -> Result<Option<Identity>, ApiError> {
        let auth = header(req, hyper::header::AUTHORIZATION);
        if auth.is_empty() && PUBLIC_PATHS.contains(&path) {
            return Ok(None);
        }
        let (scheme, token) = auth.split_once(' ').ok_or(ApiError::Unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::Unauthorized);
        }
        let token = token.trim();
        self.auth.authenticate(token).map(Some).ok_or(ApiError::Unauthorized)
    }

    /// `/api` and `/apis` as aggregated discovery, for clients that ask for it first.
    fn aggregated_discovery(&self, path: &str, accept: &str) -> Option<Response<Body>> {
        let core = match path {
            "/api" => true,
            "/apis" => false,
            _ => return None,
        };
        let media_type = crate::resources::aggregated_media_type(accept)?;
        Some(bytes_response(media_type, self.registry.aggregated(core, media_type).to_string().into_bytes()))
    }

    fn discovery(&self, path: &str) -> Option<Response<Body>> {
        let doc = match path {
            "/version" => version(),
            "/healthz" | "/livez" | "/readyz" => return Some(text_response("ok")),
            "/api" => self.registry.core_versions(&self.address),
            "/apis" => self.registry.group_list(),
            "/api/v1" => self.registry.resource_list("", "v1")?,
            "/openapi/v3" => openapi::index(&self.registry),
            _ if path.starts_with("/openapi/v3/") => openapi::document_for(&self.registry, &path["/openapi/v3/".len()..])?,
            _ => {
                let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                match parts.as_slice() {
                    ["apis", group] => self.registry.group(group)?,
                    ["apis", group, version] => self.registry.resource_list(group, version)?,
                    _ => return None,
                }
            }
        };
        Some(ok(&doc))
    }

    /// `/openapi/v2`: protobuf when asked for (kubectl does), JSON otherwise.
    fn openapi_v2(&self, accept: &str) -> Response<Body> {
        let doc = openapi_v2::document(&self.registry);
        if accept.contains(openapi_v2::PROTOBUF) {
            return bytes_response(openapi_v2::PROTOBUF_CONTENT_TYPE, openapi_v2::to_protobuf(&doc));
        }
        ok(&doc)
    }

    /// `[namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]]` under a group version.
    fn target(&self, group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
        let namespace_status = rest.len() == 3 && matches!(rest[2], "status" | "finalize");
        let (namespace, rest) = match rest {
            ["namespaces", ns, tail @ ..] if !tail.is_empty() && !namespace_status => (Some(ns.to_string()), tail),
            _ => (None, rest),
        };
        let (plural, name, sub) = match rest {
            [plural] => (*plural, None, None),
            [plural, name] => (*plural, Some(name.to_string()), None),
            [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
            _ => return Err(ApiError::PathNotFound),
        };
        let rt = self.registry.find(group, version, plural).ok_or(ApiError::PathNotFound)?;
        let scoped_right = rt.namespaced == namespace.is_some() || (rt.namespaced && name.is_none());
        let sub_ok = match sub.as_deref() {
            None => true,
            Some("status") => rt.status,
            Some("scale") => rt.scale,
            // A namespace's spec finalizers are written through `finalize` (PUT only).
            Some("finalize") => rt.group.is_empty() && rt.plural == "namespaces",
            Some("log") => rt.group.is_empty() && rt.plural == "pods",
            Some(_) => false,
        };
        if !scoped_right || !sub_ok {
            return Err(ApiError::PathNotFound);
        }
        Ok(Target { rt, namespace, name, sub })
    }

    async fn dispatch(self: &Arc<Self>, verb: &str, call: Call) -> Result<Response<Body>, ApiError> {
        // A deprecated version of a custom kind says so on every answer, as the real server does.
        if let Some(warning) = crate::crd::deprecation_warning(&self.registry, &call.target.rt) {
            let mut answer = self.dispatch_verb(verb, call).await?;
            if let Ok(value) = hyper::header::HeaderValue::from_str(&format!("299 - {warning:?}")) {
                answer.headers_mut().append(hyper::header::WARNING, value);
            }
            return Ok(answer);
        }
        self.dispatch_verb(verb, call).await
    }

    async fn dispatch_verb(self: &Arc<Self>, verb: &str, call: Call) -> Result<Response<Body>, ApiError> {
        match verb {
            "get" => self.get(&call),
            "list" => self.list(&call),
            "watch" => self.watch(&call),
            "create" => self.create(call).await,
            "update" => self.update(call).await,
            "patch" => self.patch(call).await,
            "delete" => self.delete(call).await,
            "deletecollection" => self.delete_collection(call).await,
            _ => Err(ApiError::MethodNotAllowed),
        }
    }
}

fn verb_of(method: &Method, target: &Target, req: &Request<Incoming>) -> Result<&'static str, ApiError> {
    let named = target.name.is_some();
    let watching = || query_of(req).get("watch").is_some_and(|w| w == "true" || w == "1");
    let verb = match (method.as_str(), named) {
        ("GET", true) => "get",
        ("GET", false) if watching() => "watch",
        ("GET", false) => "list",
        ("POST", false) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        // Namespaced kinds are only listed and watched across namespaces, never deleted so.
        ("DELETE", false) if target.sub.is_none() && (!target.rt.namespaced || target.namespace.is_some()) && !is_namespaces(&target.rt) => "deletecollection",
        _ => return Err(ApiError::MethodNotAllowed),
    };
    Ok(verb)
}

/// Namespaces are deleted one by one only (their discovery lists no deletecollection).
fn is_namespaces(rt: &crate::resources::ResourceType) -> bool {
    rt.group.is_empty() && rt.plural == "namespaces"
}

/// 403 with the real message: `pods is forbidden: User "x" cannot list resource "pods" in API group "" in the namespace "y"`.
fn authorize(identity: &Identity, verb: &str, target: &Target) -> Result<(), ApiError> {
    let is_namespace = target.rt.group.is_empty() && target.rt.plural == "namespaces";
    let namespace = if is_namespace { target.name.as_deref() } else { target.namespace.as_deref() };
    if identity.allows(verb, namespace) {
        return Ok(());
    }
    let gr = target.rt.gr();
    let subject = match &target.name {
        Some(name) => format!("{gr} \"{name}\""),
        None => gr.to_string(),
    };
    let resource = match &target.sub {
        Some(sub) => format!("{}/{sub}", target.rt.plural),
        None => target.rt.plural.clone(),
    };
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let message = format!(
        "{subject} is forbidden: User \"{}\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
        identity.user, target.rt.group
    );
    Err(ApiError::Forbidden { gr, name: target.name.clone().unwrap_or_default(), message })
}

fn header(req: &Request<Incoming>, name: hyper::header::HeaderName) -> String {
    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

fn query_of(req: &Request<Incoming>) -> HashMap<String, String> {
    let query = req.uri().query().unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-gantry-sim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        let registry = Registry::default();
        let namespaces = registry.find("", "v1", "namespaces").unwrap();
        Api {
            store: Store::new(10, &namespaces),
            registry,
            auth: Authenticator::default(),
            address: "127.0.0.1:1".into(),
            bookmark_interval: Duration::from_secs(60),
            shutdown: CancellationToken::new(),
            proxy: Default::default(),
            faults: Default::default(),
        }
    }

    fn parse(api: &Api, path: &str) -> Result<Target, ApiError> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            ["api", v, rest @ ..] => api.target("", v, rest),
            ["apis", g, v, rest @ ..] => api.target(g, v, rest),
            _ => Err(ApiError::PathNotFound),
        }
    }

    #[test]
    fn resource_paths_resolve_to_targets_as_the_real_server_reads_them() {
        let api = api();
        let t = parse(&api, "/apis/apps/v1/namespaces/team/deployments/web/scale").unwrap();
        assert_eq!((t.rt.plural.as_str(), t.ns(), t.name.as_deref(), t.sub.as_deref()), ("deployments", "team", Some("web"), Some("scale")));
        let ns = parse(&api, "/api/v1/namespaces/team").unwrap();
        assert_eq!((ns.rt.plural.as_str(), ns.namespace.as_deref(), ns.name.as_deref()), ("namespaces", None, Some("team")));
        let status = parse(&api, "/api/v1/namespaces/team/status").unwrap();
        assert_eq!((status.name.as_deref(), status.sub.as_deref()), (Some("team"), Some("status")));
        let all = parse(&api, "/api/v1/pods").unwrap();
        assert!(all.namespace.is_none() && all.name.is_none(), "a list across namespaces");
        for missing in ["/api/v1/pods/x", "/api/v1/namespaces/a/namespaces", "/api/v1/namespaces/a/configmaps/x/status", "/apis/apps/v1/namespaces/a/widgets", "/api/v2/pods"] {
            assert_eq!(parse(&api, missing).unwrap_err().code(), 404, "{missing}");
        }
    }

    #[test]
    fn forbidden_messages_name_user_verb_resource_group_and_scope() {
        let api = api();
        let ci = Identity { user: "ci".into(), namespaces: Some(vec!["default".into()]), verbs: Some(vec!["get".into()]) };
        let t = parse(&api, "/apis/apps/v1/namespaces/prod/deployments/web/status").unwrap();
        let err = authorize(&ci, "patch", &t).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"deployments.apps "web" is forbidden: User "ci" cannot patch resource "deployments/status" in API group "apps" in the namespace "prod""#
        );
        assert_eq!(err.to_status()["details"], json!({"name": "web", "group": "apps", "kind": "deployments"}));
        let own = parse(&api, "/api/v1/namespaces/default").unwrap();
        assert!(authorize(&ci, "get", &own).is_ok(), "a namespace object is authorised in itself");
    }
}
