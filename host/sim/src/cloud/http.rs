//! The plain-HTTP server the cloud SDKs are pointed at (like moto, with an
//! endpoint URL): one port on 127.0.0.1, routed by path —
//! `GET /clusters[/{name}]` (EKS ListClusters / DescribeCluster),
//! `GET /v1/projects/{p}/locations|zones/{l}/clusters[/{c}]` (GKE),
//! `POST /token` (the OAuth2 token endpoint), `POST /` with an
//! `X-Amz-Target` of ECR (GetAuthorizationToken, JSON 1.1) and `POST /`
//! otherwise (STS GetCallerIdentity). Started in-process; stops on
//! `shutdown` or when dropped. Faults (`crate::faults`) apply to every
//! route, rendered in each service's error format, and are switched at
//! `/sim.gantry.dev/v1/faults` with `admin_token()`.
//!
//! This file owns sockets, routing, body limits and turning the other
//! modules' answers and errors into HTTP responses. It must not decide who
//! is allowed anything (`eks.rs`, `gke.rs` and `oauth.rs` do), must never
//! bind anything but 127.0.0.1, and never logs credentials or tokens.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::cloud::aws::AwsPrincipal;
use crate::cloud::ecr;
use crate::cloud::eks::{self, SignedRequest};
use crate::cloud::gke::{self, GoogleError};
use crate::cloud::registry::CloudRegistry;
use crate::cloud::sts;
use crate::faults::{self, Connection, Decision, FaultResponse, Faults, RequestInfo};

/// Requests larger than this are refused (a JWT-bearer form is ~1 KB).
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ControlPlaneError {
    #[error("binding the cloud control plane to 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
}

struct State {
    registry: CloudRegistry,
    addr: SocketAddr,
    faults: Faults,
    admin_token: String,
}

/// A running control-plane server.
pub struct ControlPlane {
    addr: SocketAddr,
    faults: Faults,
    admin_token: String,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl ControlPlane {
    /// Serves `registry` on 127.0.0.1 at a free port.
    pub async fn start(registry: CloudRegistry) -> Result<ControlPlane, ControlPlaneError> {
        ControlPlane::start_on(registry, 0).await
    }

    /// Serves `registry` on 127.0.0.1:`port` (0: any free port).
    pub async fn start_on(registry: CloudRegistry, port: u16) -> Result<ControlPlane, ControlPlaneError> {
        let bind_err = |source| ControlPlaneError::Bind { port, source };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await.map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let cancel = CancellationToken::new();
        let faults = Faults::new();
        let admin_token = format!("sim-admin-{}", hex::encode(rand::random::<[u8; 24]>()));
        let state = Arc::new(State { registry, addr, faults: faults.clone(), admin_token: admin_token.clone() });
        let task = tokio::spawn(accept_loop(listener, state, cancel.clone()));
        tracing::info!(%addr, "cloud control plane listening");
        Ok(ControlPlane { addr, faults, admin_token, cancel, task: Some(task) })
    }

    /// The fault rules of this server, switchable while it runs (`crate::faults`).
    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    /// The bearer token of the fault endpoint, `/sim.gantry.dev/v1/faults`.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL for the AWS SDK and the GKE client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `token_uri` for service-account key files.
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.url())
    }

    /// The environment that points the AWS SDKs and CLI at this server as
    /// `principal` in `region` (`AWS_ENDPOINT_URL_EKS` and
    /// `AWS_ENDPOINT_URL_ECR`, the keys, the region). Not `AWS_ENDPOINT_URL_STS`: `aws eks get-token` would then
    /// presign a URL for this server, which no EKS cluster accepts (it is not
    /// an STS host); point only `aws sts` calls here, with `--endpoint-url`.
    pub fn aws_env(&self, principal: &AwsPrincipal, region: &str) -> Vec<(&'static str, String)> {
        let c = &principal.credentials;
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID", c.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", c.secret_access_key.clone()),
            ("AWS_REGION", region.to_string()),
            ("AWS_DEFAULT_REGION", region.to_string()),
            ("AWS_ENDPOINT_URL_EKS", self.url()),
            ("AWS_ENDPOINT_URL_ECR", self.url()),
        ];
        if let Some(token) = &c.session_token {
            env.push(("AWS_SESSION_TOKEN", token.clone()));
        }
        env
    }

    /// The environment that points Google clients at this server: the key
    /// file (whose `token_uri` must be `token_uri()`) and gcloud's container
    /// API endpoint.
    pub fn gcp_env(&self, key_file: &std::path::Path) -> Vec<(&'static str, String)> {
        vec![
            ("GOOGLE_APPLICATION_CREDENTIALS", key_file.display().to_string()),
            ("CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER", format!("{}/", self.url())),
        ]
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, cancel: CancellationToken) {
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let faulty = Connection::new();
            let _closed = faulty.closed_guard();
            let for_requests = faulty.clone();
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let state = state.clone();
                req.extensions_mut().insert(for_requests.clone());
                async move { Ok::<_, Infallible>(handle(req, &state).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = faulty.cut_requested() => tracing::debug!("control-plane connection cut by an injected fault"),
                result = conn => if let Err(error) = result {
                    tracing::debug!(%error, "control-plane connection ended with an error");
                }
            }
        });
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn request_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// An AWS restJson1 answer (`x-amzn-RequestId`, and `x-amzn-ErrorType` on errors).
fn aws_response(status: StatusCode, error_type: Option<&str>, body: &Value) -> Response<Full<Bytes>> {
    let mut resp = json_response(status, body);
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    if let Some(t) = error_type.and_then(|t| HeaderValue::from_str(t).ok()) {
        resp.headers_mut().insert("x-amzn-errortype", t);
    }
    resp
}

fn aws_error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    aws_response(status, Some(error_type), &json!({ "message": message }))
}

fn google_error(e: &GoogleError) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_response(status, &e.body());
    if e.code == 401 {
        resp.headers_mut().insert("www-authenticate", HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""));
    }
    resp
}

async fn handle(req: Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let span = tracing::debug_span!("cloud", method = %req.method(), path = %req.uri().path());
    let resp = faults_then_route(req, state).instrument(span.clone()).await;
    span.in_scope(|| tracing::debug!(status = resp.status().as_u16(), "answered"));
    resp
}

/// The fault endpoint, then the fault rules, then the services.
async fn faults_then_route(req: Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let (method, path) = (req.method().as_str().to_string(), req.uri().path().to_string());
    if let Some(rest) = path.strip_prefix(faults::ADMIN_PATH).filter(|r| r.is_empty() || r.starts_with('/')) {
        let token = req.headers().get(hyper::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(faults::bearer).map(str::to_string);
        let (code, doc) = match token {
            None => (401, faults::admin_status(401, "Unauthorized", "Unauthorized")),
            Some(t) if t != state.admin_token => (403, faults::admin_status(403, "Forbidden", "forbidden: only the control plane's admin token may switch faults")),
            Some(_) => match Limited::new(req.into_body(), MAX_BODY).collect().await {
                Ok(body) => faults::admin(&state.faults, &method, rest, &body.to_bytes()),
                Err(_) => (413, faults::admin_status(413, "RequestEntityTooLarge", "request body too large or broken")),
            },
        };
        return json_response(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &doc);
    }
    let connection = req.extensions().get::<Connection>().cloned();
    let ecr = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with(ecr::TARGET_PREFIX));
    match state.faults.apply(&RequestInfo::plain(&method, &path), connection.as_ref()).await {
        Decision::Pass(_) => route(req, state).await,
        Decision::Respond(fault) => injected(&fault, &method, &path, ecr),
        Decision::Dropped => injected(&FaultResponse { code: 503, message: None, retry_after_seconds: None }, &method, &path, ecr),
    }
}

/// An injected error in the format of the service the path belongs to
/// (`ecr`: the request named an ECR operation in `X-Amz-Target`).
fn injected(fault: &FaultResponse, method: &str, path: &str, ecr: bool) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(fault.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = fault.message.clone();
    let mut resp = if ecr {
        let error_type = match fault.code {
            429 => "ThrottlingException",
            c if c < 500 => "InvalidParameterException",
            _ => "ServerException",
        };
        let message = text.unwrap_or_else(|| "injected fault".into());
        let mut resp = aws_response(status, Some(error_type), &json!({ "__type": error_type, "message": message }));
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
        resp
    } else if method == "POST" && path == "/" {
        let code = match fault.code {
            429 => "Throttling",
            503 => "ServiceUnavailable",
            c if c < 500 => "InvalidRequest",
            _ => "InternalFailure",
        };
        let id = request_id();
        let mut resp = Response::new(Full::new(Bytes::from(sts::error_body(code, &text.unwrap_or_else(|| "injected fault".into()), &id))));
        *resp.status_mut() = status;
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        resp
    } else if path.starts_with("/clusters") {
        let error_type = match fault.code {
            429 => "ThrottlingException",
            503 | 504 => "ServiceUnavailableException",
            404 => "ResourceNotFoundException",
            c if c < 500 => "ClientException",
            _ => "ServerException",
        };
        aws_error(status, error_type, &text.unwrap_or_else(|| "injected fault".into()))
    } else {
        let (google, default) = match fault.code {
            400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
            401 => ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
            403 => ("PERMISSION_DENIED", "The caller does not have permission"),
            404 => ("NOT_FOUND", "Requested entity was not found."),
            409 => ("ABORTED", "The operation was aborted."),
            429 => ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
            503 => ("UNAVAILABLE", "The service is currently unavailable."),
            504 => ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
            c if c < 500 => ("FAILED_PRECONDITION", "The request was rejected."),
            _ => ("INTERNAL", "Internal error encountered."),
        };
        google_error(&GoogleError { code: fault.code, status: google, message: text.unwrap_or_else(|| default.to_string()) })
    };
    if let Some(v) = fault.retry_after_header().and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut().insert(hyper::header::RETRY_AFTER, v);
    }
    resp
}

async fn route(req: Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let mut headers = Vec::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        match value.to_str() {
            Ok(v) => headers.push((name.as_str().to_string(), v.to_string())),
            Err(_) => return json_response(StatusCode::BAD_REQUEST, &json!({ "message": format!("header {name} is not visible ASCII") })),
        }
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return json_response(StatusCode::PAYLOAD_TOO_LARGE, &json!({ "message": "request body too large or broken" })),
    };
    let segments: Vec<String> =
        path.trim_start_matches('/').split('/').map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let now = OffsetDateTime::now_utc();
    match (&method, segs.as_slice()) {
        (&Method::POST, ["token"]) => token(state, &headers, &body, now),
        (&Method::POST, [""]) if header(&headers, "x-amz-target").is_some_and(|t| t.starts_with(ecr::TARGET_PREFIX)) => {
            ecr_call(state, &path, &query, &headers, &body, now)
        }
        (&Method::POST, [""]) => sts_call(state, &path, &query, &headers, &body, now),
        (&Method::GET, ["clusters"]) => eks_call(state, &path, &query, &headers, &body, now, None),
        (&Method::GET, ["clusters", name]) => eks_call(state, &path, &query, &headers, &body, now, Some(name)),
        (&Method::GET, ["v1", "projects", project, "locations" | "zones", location, "clusters", rest @ ..]) if rest.len() <= 1 => {
            gke_call(state, &headers, project, location, rest.first().copied(), now)
        }
        _ => json_response(StatusCode::NOT_FOUND, &json!({ "message": format!("no such operation: {method} {path}") })),
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

#[allow(clippy::too_many_arguments)]
fn eks_call(
    state: &State,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: OffsetDateTime,
    name: Option<&str>,
) -> Response<Full<Bytes>> {
    let req = SignedRequest { method: "GET", path, query, headers, body };
    let (principal, region) = match eks::verify_signed_request(&state.registry.aws, eks::SERVICE, &req, now) {
        Ok(ok) => ok,
        Err(e) => {
            tracing::info!(error = %e, "refused an EKS request");
            return aws_error(StatusCode::FORBIDDEN, e.error_type(), &e.to_string());
        }
    };
    match name {
        None => {
            let names = state.registry.eks_names(&principal.account_id, &region);
            aws_response(StatusCode::OK, None, &json!({ "clusters": names, "nextToken": null }))
        }
        Some(name) => match state.registry.eks(&principal.account_id, &region, name) {
            Some(cluster) => aws_response(StatusCode::OK, None, &cluster.describe_json()),
            None => aws_response(
                StatusCode::NOT_FOUND,
                Some("ResourceNotFoundException"),
                &json!({ "message": format!("No cluster found for name: {name}."), "clusterName": name }),
            ),
        },
    }
}

/// ECR's JSON 1.1 protocol: a SigV4-signed POST naming its operation in `X-Amz-Target`.
fn ecr_call(
    state: &State,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: OffsetDateTime,
) -> Response<Full<Bytes>> {
    let json11 = |status: StatusCode, error_type: Option<&str>, body: &Value| {
        let mut resp = aws_response(status, error_type, body);
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
        resp
    };
    let target = header(headers, "x-amz-target").unwrap_or_default();
    let req = SignedRequest { method: "POST", path, query, headers, body };
    let (principal, region) = match eks::verify_signed_request(&state.registry.aws, ecr::SERVICE, &req, now) {
        Ok(ok) => ok,
        Err(e) => {
            tracing::info!(error = %e, "refused an ECR request");
            return json11(StatusCode::BAD_REQUEST, Some(e.error_type()), &json!({ "__type": e.error_type(), "message": e.to_string() }));
        }
    };
    if target != ecr::GET_AUTHORIZATION_TOKEN {
        let message = format!("the simulated ECR API answers GetAuthorizationToken only, not {}", target.trim_start_matches(ecr::TARGET_PREFIX));
        return json11(StatusCode::BAD_REQUEST, Some("UnknownOperationException"), &json!({ "__type": "UnknownOperationException", "message": message }));
    }
    match ecr::get_authorization_token(&state.registry.ecr, &principal.account_id, &region, &principal.arn, body, now) {
        Ok(answer) => json11(StatusCode::OK, None, &answer),
        Err(e) => json11(StatusCode::BAD_REQUEST, Some("InvalidParameterException"), &json!({ "__type": "InvalidParameterException", "message": e.to_string() })),
    }
}

/// STS's query protocol: a form-encoded `Action` in a SigV4-signed POST.
fn sts_call(
    state: &State,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: OffsetDateTime,
) -> Response<Full<Bytes>> {
    let id = request_id();
    let xml = |status: StatusCode, text: String| {
        let mut resp = Response::new(Full::new(Bytes::from(text)));
        *resp.status_mut() = status;
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-amzn-requestid", v);
        }
        resp
    };
    let action = url::form_urlencoded::parse(body).find(|(k, _)| k == "Action").map(|(_, v)| v.into_owned());
    if action.as_deref() != Some("GetCallerIdentity") {
        let msg = format!("Could not find operation {} for version 2011-06-15", action.unwrap_or_default());
        return xml(StatusCode::BAD_REQUEST, sts::error_body("InvalidAction", &msg, &id));
    }
    let req = SignedRequest { method: "POST", path, query, headers, body };
    match eks::verify_signed_request(&state.registry.aws, "sts", &req, now) {
        Ok((principal, _region)) => {
            let json = header(headers, "accept").is_some_and(|a| a.contains("application/json"));
            let text = sts::caller_identity_body(&principal, &id, json);
            if json {
                json_response(StatusCode::OK, &serde_json::from_str(&text).unwrap_or(Value::Null))
            } else {
                xml(StatusCode::OK, text)
            }
        }
        Err(e) => {
            tracing::info!(error = %e, "refused an STS request");
            let code = match e {
                eks::AwsAuthError::UnrecognizedClient => "InvalidClientTokenId",
                eks::AwsAuthError::InvalidSignature(_) => "SignatureDoesNotMatch",
                _ => e.error_type().trim_end_matches("Exception"),
            };
            xml(StatusCode::FORBIDDEN, sts::error_body(code, &e.to_string(), &id))
        }
    }
}

fn gke_call(
    state: &State,
    headers: &[(String, String)],
    project: &str,
    location: &str,
    name: Option<&str>,
    now: OffsetDateTime,
) -> Response<Full<Bytes>> {
    let resource = match name {
        Some(n) => format!("projects/{project}/locations/{location}/clusters/{n}"),
        None => format!("projects/{project}/locations/{location}"),
    };
    let permission = if name.is_some() { "container.clusters.get" } else { "container.clusters.list" };
    let authz = header(headers, "authorization");
    if let Err(e) = gke::authorize(&state.registry.gcp, authz, project, permission, &resource, now) {
        tracing::info!(error = %e, "refused a GKE request");
        return google_error(&e);
    }
    match name {
        None => {
            let clusters: Vec<Value> = state.registry.gke_in(project, location).iter().map(|c| c.json()).collect();
            json_response(StatusCode::OK, &json!({ "clusters": clusters }))
        }
        Some(name) => match state.registry.gke(project, location, name) {
            Some(cluster) => json_response(StatusCode::OK, &cluster.json()),
            None => google_error(&GoogleError::not_found(&resource)),
        },
    }
}

fn token(state: &State, headers: &[(String, String)], body: &[u8], now: OffsetDateTime) -> Response<Full<Bytes>> {
    // The endpoint is known by the URL the client used (its Host) and by its own address.
    let mut audiences = vec![format!("http://{}/token", state.addr)];
    if let Some(host) = header(headers, "host") {
        audiences.push(format!("http://{host}/token"));
    }
    match state.registry.gcp.exchange(body, &audiences, now) {
        Ok(issued) => {
            let mut resp = json_response(StatusCode::OK, &issued.body());
            resp.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => {
            tracing::info!(error = %e, "refused a token request");
            json_response(StatusCode::BAD_REQUEST, &e.body())
        }
    }
}
