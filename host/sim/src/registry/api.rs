//! The OCI distribution API (spec v1.1, Docker registry v2) of a simulated
//! registry, request by request: `GET /v2/`; manifests GET/HEAD/PUT/DELETE
//! by tag or digest (OCI and Docker v2 manifests and indexes, each stored
//! with its Content-Type; a PUT is refused when a blob or manifest it
//! references is not in the repository, or when its digest is not the one
//! named); blobs GET/HEAD/DELETE; uploads (POST, monolithic with
//! `?digest=`, cross-repository `?mount=&from=` → 201 or 202 when not
//! mountable; PATCH chunks with `Content-Range` checked, 416 out of order;
//! PUT with digest verification; GET status; DELETE to cancel); ranged
//! blob reads (206/416); NAME_UNKNOWN for reads of repositories never pushed;
//! `tags/list` and `_catalog` with `n`/`last` and a `Link` to the next page;
//! the referrers API; and the Artifact-Registry-shaped `/v2/token`.
//!
//! This file owns routing and the protocol's checks; it must not keep
//! content itself (`store.rs`) nor decide credentials (`auth.rs`), and
//! never logs an `Authorization` header.

use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};
use time::OffsetDateTime;

use gantry_registry::reference::digest_valid;
use gantry_registry::spec::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};

use crate::registry::auth::{Caller, Gate};
use crate::registry::errors::ApiError;
use crate::registry::store::{digest_with, Store, StoreError, StoredManifest};

/// The largest manifest accepted (the spec asks registries to take at least 4 MiB).
pub const MAX_MANIFEST: usize = 4 << 20;
/// The default page size of `tags/list` and `_catalog` when `n` is not given.
pub const DEFAULT_PAGE: usize = 1000;

pub(crate) struct State {
    pub store: Store,
    pub gate: Gate,
    /// The largest body a blob request may carry (the store's bound).
    pub max_body: usize,
}

type Resp = Response<Full<Bytes>>;

fn respond(status: StatusCode, body: Bytes) -> Resp {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert("docker-distribution-api-version", HeaderValue::from_static("registry/2.0"));
    resp
}

fn json_response(status: StatusCode, body: &Value) -> Resp {
    let mut resp = respond(status, Bytes::from(body.to_string()));
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn error_response(e: &ApiError) -> Resp {
    json_response(StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &e.body())
}

fn set(resp: &mut Resp, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// A HEAD answer: the headers of a GET, no body, the GET's Content-Length.
fn head_of(mut resp: Resp, len: usize) -> Resp {
    *resp.body_mut() = Full::new(Bytes::new());
    resp.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// What a route is about.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Base,
    Catalog,
    Token,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    Uploads(String),
    Upload(String, String),
    Referrers(String, String),
}

/// Splits `/v2/NAME/...` into a route (NAME may hold slashes).
fn route_of(path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Route::Base);
    }
    let rest = rest.strip_prefix('/')?;
    match rest {
        "_catalog" => return Some(Route::Catalog),
        "token" => return Some(Route::Token),
        _ => {}
    }
    let segs: Vec<String> = rest.split('/').map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
    let n = segs.len();
    let name = |upto: usize| segs[..upto].join("/");
    if n >= 3 && segs[n - 2] == "tags" && segs[n - 1] == "list" {
        return Some(Route::Tags(name(n - 2)));
    }
    if n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads" {
        return Some(if segs[n - 1].is_empty() { Route::Uploads(name(n - 3)) } else { Route::Upload(name(n - 3), segs[n - 1].clone()) });
    }
    if n >= 3 && segs[n - 2] == "blobs" && segs[n - 1] == "uploads" {
        return Some(Route::Uploads(name(n - 2)));
    }
    if n >= 3 {
        let last = segs[n - 1].clone();
        return match segs[n - 2].as_str() {
            "manifests" => Some(Route::Manifest(name(n - 2), last)),
            "blobs" => Some(Route::Blob(name(n - 2), last)),
            "referrers" => Some(Route::Referrers(name(n - 2), last)),
            _ => None,
        };
    }
    None
}

/// The repository name grammar of the distribution spec.
pub fn name_valid(name: &str) -> Result<(), String> {
    static RE: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$").ok());
    if name.len() > 255 {
        return Err("longer than 255 characters".into());
    }
    match re {
        Some(re) if re.is_match(name) => Ok(()),
        Some(_) => Err("components are lowercase letters and digits separated by '.', '_', '__' or dashes, joined by '/'".into()),
        // The pattern is a constant that compiles; refusing is the safe side.
        None => Err("name pattern unavailable".into()),
    }
}

fn tag_valid(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty() && b.len() <= 128 && (b[0].is_ascii_alphanumeric() || b[0] == b'_') && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn query_param(query: &str, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// A digest of a supported algorithm, or DIGEST_INVALID.
fn checked_digest(digest: &str) -> Result<&str, ApiError> {
    digest_valid(digest).map_err(|e| ApiError::digest_malformed(digest, &e.to_string()))?;
    let algorithm = digest.split(':').next().unwrap_or_default();
    if digest_with(algorithm, b"").is_none() {
        return Err(ApiError::digest_malformed(digest, "only sha256 and sha512 are supported"));
    }
    Ok(algorithm)
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Full { .. } => ApiError::full(e.to_string()),
        StoreError::UploadUnknown(id) | StoreError::UploadElsewhere(id) => ApiError::blob_upload_unknown(&id),
    }
}

async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(ApiError::too_large(format!("the request body is larger than {limit} bytes or broken: {e}"))),
    }
}

/// Handles one request.
pub(crate) async fn handle(req: Request<Incoming>, state: &State) -> Resp {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let now = OffsetDateTime::now_utc();
    let authorization = req.headers().get(hyper::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let Some(route) = route_of(&path) else {
        return error_response(&ApiError::not_found(format!("no such route: {method} {path}")));
    };
    if route == Route::Token {
        return match state.gate.token_endpoint(authorization.as_deref(), &query, now) {
            Ok(body) => json_response(StatusCode::OK, &body),
            Err(e) => error_response(&e),
        };
    }
    let scope = match &route {
        Route::Base | Route::Token => None,
        Route::Catalog => Some("registry:catalog:*".to_string()),
        Route::Tags(n) | Route::Manifest(n, _) | Route::Blob(n, _) | Route::Uploads(n) | Route::Upload(n, _) | Route::Referrers(n, _) => {
            let actions = if method == Method::GET || method == Method::HEAD { "pull" } else { "pull,push" };
            Some(format!("repository:{n}:{actions}"))
        }
    };
    let caller = match state.gate.check(authorization.as_deref(), scope.as_deref(), now) {
        Ok(c) => c,
        Err(refusal) => {
            tracing::debug!(%method, %path, code = refusal.error.code, "registry request refused");
            let mut resp = error_response(&refusal.error);
            set(&mut resp, WWW_AUTHENTICATE.as_str(), &refusal.challenge);
            return resp;
        }
    };
    let result = serve(req, state, &method, route, &query, &caller).await;
    result.unwrap_or_else(|e| {
        tracing::debug!(%method, %path, code = e.code, message = %e.message, "registry error");
        error_response(&e)
    })
}

async fn serve(req: Request<Incoming>, state: &State, method: &Method, route: Route, query: &str, _caller: &Caller) -> Result<Resp, ApiError> {
    let name = match &route {
        Route::Tags(n) | Route::Manifest(n, _) | Route::Blob(n, _) | Route::Uploads(n) | Route::Upload(n, _) | Route::Referrers(n, _) => Some(n.clone()),
        _ => None,
    };
    if let Some(n) = &name {
        name_valid(n).map_err(|why| ApiError::name_invalid(n, &why))?;
        state.gate.repository_allowed(n)?;
    }
    let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|v| v.split(';').next().unwrap_or("").trim().to_string());
    let content_range = req.headers().get("content-range").and_then(|v| v.to_str().ok()).map(str::to_string);
    let range = req.headers().get("range").and_then(|v| v.to_str().ok()).map(str::to_string);
    // Reads of a repository nothing was pushed into: NAME_UNKNOWN, as distribution answers.
    let known = |n: &str| if state.store.has_repo(n) { Ok(()) } else { Err(ApiError::name_unknown(n)) };
    match (method, route) {
        (&Method::GET | &Method::HEAD, Route::Base) => Ok(json_response(StatusCode::OK, &json!({}))),
        (&Method::GET, Route::Catalog) => {
            let (page, link) = paginate(state.store.repositories(), query, "/v2/_catalog")?;
            let mut resp = json_response(StatusCode::OK, &json!({ "repositories": page }));
            if let Some(l) = link {
                set(&mut resp, "link", &l);
            }
            Ok(resp)
        }
        (&Method::GET, Route::Tags(name)) => {
            let tags = state.store.tags(&name).ok_or_else(|| ApiError::name_unknown(&name))?;
            let (page, link) = paginate(tags, query, &format!("/v2/{name}/tags/list"))?;
            let mut resp = json_response(StatusCode::OK, &json!({ "name": name, "tags": page }));
            if let Some(l) = link {
                set(&mut resp, "link", &l);
            }
            Ok(resp)
        }
        (&Method::GET | &Method::HEAD, Route::Manifest(name, reference)) => {
            let digest = if reference.contains(':') {
                checked_digest(&reference)?;
                known(&name)?;
                reference.clone()
            } else {
                if !tag_valid(&reference) {
                    return Err(ApiError::manifest_invalid(format!("tag {reference:?} is invalid")));
                }
                known(&name)?;
                state.store.tag(&name, &reference).ok_or_else(|| ApiError::manifest_unknown(&reference))?
            };
            let (m, bytes) = state.store.manifest(&name, &digest).ok_or_else(|| ApiError::manifest_unknown(&reference))?;
            let len = bytes.len();
            let mut resp = respond(StatusCode::OK, bytes);
            set(&mut resp, "content-type", &m.media_type);
            set(&mut resp, "docker-content-digest", &m.digest);
            set(&mut resp, "etag", &format!("\"{}\"", m.digest));
            Ok(if method == Method::HEAD { head_of(resp, len) } else { resp })
        }
        (&Method::PUT, Route::Manifest(name, reference)) => {
            let body = read_body(req.into_body(), MAX_MANIFEST).await?;
            put_manifest(state, &name, &reference, content_type.as_deref(), body)
        }
        (&Method::DELETE, Route::Manifest(name, reference)) => {
            let deleted = if reference.contains(':') {
                checked_digest(&reference)?;
                state.store.delete_manifest(&name, &reference)
            } else {
                state.store.delete_tag(&name, &reference)
            };
            if !deleted {
                return Err(ApiError::manifest_unknown(&reference));
            }
            Ok(respond(StatusCode::ACCEPTED, Bytes::new()))
        }
        (&Method::GET | &Method::HEAD, Route::Blob(name, digest)) => {
            checked_digest(&digest)?;
            known(&name)?;
            let bytes = state.store.blob(&name, &digest).ok_or_else(|| ApiError::blob_unknown(&digest))?;
            let total = bytes.len();
            let (status, bytes) = match range.as_deref().map(|r| byte_range(r, total)) {
                None => (StatusCode::OK, bytes),
                Some(Some((start, end))) => (StatusCode::PARTIAL_CONTENT, bytes.slice(start..=end)),
                Some(None) => {
                    let mut resp = respond(StatusCode::RANGE_NOT_SATISFIABLE, Bytes::new());
                    set(&mut resp, "content-range", &format!("bytes */{total}"));
                    return Ok(resp);
                }
            };
            let len = bytes.len();
            let partial = status == StatusCode::PARTIAL_CONTENT;
            let mut resp = respond(status, bytes);
            if partial {
                let start = range.as_deref().and_then(|r| byte_range(r, total)).map_or(0, |(s, _)| s);
                set(&mut resp, "content-range", &format!("bytes {start}-{}/{total}", start + len - 1));
            }
            set(&mut resp, "accept-ranges", "bytes");
            set(&mut resp, "content-type", "application/octet-stream");
            set(&mut resp, "docker-content-digest", &digest);
            set(&mut resp, "etag", &format!("\"{digest}\""));
            Ok(if method == Method::HEAD { head_of(resp, len) } else { resp })
        }
        (&Method::DELETE, Route::Blob(name, digest)) => {
            checked_digest(&digest)?;
            if !state.store.delete_blob(&name, &digest) {
                return Err(ApiError::blob_unknown(&digest));
            }
            Ok(respond(StatusCode::ACCEPTED, Bytes::new()))
        }
        (&Method::POST, Route::Uploads(name)) => {
            if let (Some(mount), Some(from)) = (query_param(query, "mount"), query_param(query, "from")) {
                checked_digest(&mount)?;
                if state.store.mount(&name, &mount, &from) {
                    return Ok(blob_created(&name, &mount));
                }
            }
            if let Some(digest) = query_param(query, "digest") {
                let algorithm = checked_digest(&digest)?;
                let body = read_body(req.into_body(), state.max_body).await?;
                return finish_blob(state, &name, &digest, algorithm, body);
            }
            let id = hex::encode(rand::random::<[u8; 16]>());
            state.store.start_upload(&name, &id);
            Ok(upload_status(StatusCode::ACCEPTED, &name, &id, 0))
        }
        (&Method::GET, Route::Upload(name, id)) => {
            let len = state.store.upload_len(&name, &id).map_err(store_error)?;
            Ok(upload_status(StatusCode::NO_CONTENT, &name, &id, len))
        }
        (&Method::PATCH, Route::Upload(name, id)) => {
            let current = state.store.upload_len(&name, &id).map_err(store_error)?;
            let body = read_body(req.into_body(), state.max_body).await?;
            let at = chunk_start(content_range.as_deref(), current, body.len())?;
            match state.store.append(&name, &id, at, &body).map_err(store_error)? {
                Ok(len) => Ok(upload_status(StatusCode::ACCEPTED, &name, &id, len)),
                Err(stands) => Err(ApiError::range_invalid(stands, content_range.as_deref().unwrap_or(""))),
            }
        }
        (&Method::PUT, Route::Upload(name, id)) => {
            let digest = query_param(query, "digest").ok_or_else(|| ApiError::digest_malformed("", "the closing PUT needs ?digest="))?;
            let algorithm = checked_digest(&digest)?;
            let current = state.store.upload_len(&name, &id).map_err(store_error)?;
            let body = read_body(req.into_body(), state.max_body).await?;
            if !body.is_empty() {
                let at = chunk_start(content_range.as_deref(), current, body.len())?;
                if let Err(stands) = state.store.append(&name, &id, at, &body).map_err(store_error)? {
                    return Err(ApiError::range_invalid(stands, content_range.as_deref().unwrap_or("")));
                }
            }
            let data = state.store.take_upload(&name, &id).map_err(store_error)?;
            finish_blob(state, &name, &digest, algorithm, data)
        }
        (&Method::DELETE, Route::Upload(name, id)) => {
            state.store.take_upload(&name, &id).map_err(store_error)?;
            Ok(respond(StatusCode::NO_CONTENT, Bytes::new()))
        }
        (&Method::GET, Route::Referrers(name, digest)) => {
            checked_digest(&digest)?;
            let filter = query_param(query, "artifactType");
            let manifests: Vec<Value> = state
                .store
                .referrers(&name, &digest)
                .into_iter()
                .filter(|m| filter.is_none() || m.artifact_type == filter)
                .map(|m| {
                    let mut d = json!({ "mediaType": m.media_type, "digest": m.digest, "size": m.size });
                    if let Some(t) = &m.artifact_type {
                        d["artifactType"] = json!(t);
                    }
                    if let Some(a) = &m.annotations {
                        d["annotations"] = a.clone();
                    }
                    d
                })
                .collect();
            let mut resp = respond(StatusCode::OK, Bytes::from(json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests }).to_string()));
            set(&mut resp, "content-type", OCI_INDEX);
            if filter.is_some() {
                set(&mut resp, "oci-filters-applied", "artifactType");
            }
            Ok(resp)
        }
        (m, r) => Err(ApiError::unsupported(format!("{m} is not supported on {r:?}"))),
    }
}

/// Where a chunk says it starts (`Content-Range: START-END`, also `bytes START-END`),
/// checked against its length; None when the header is absent (a streamed append).
fn chunk_start(range: Option<&str>, current: u64, len: usize) -> Result<Option<u64>, ApiError> {
    let Some(range) = range else { return Ok(None) };
    let bare = range.trim().trim_start_matches("bytes").trim().trim_start_matches('=');
    let parsed = bare.split_once('-').and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)));
    let Some((start, end)) = parsed else {
        return Err(ApiError::range_invalid(current, range));
    };
    if end < start || end - start + 1 != len as u64 {
        return Err(ApiError::range_invalid(current, range));
    }
    Ok(Some(start))
}

/// A single `bytes=START-END`, `bytes=START-` or `bytes=-SUFFIX` range of a
/// blob of `total` bytes, as inclusive offsets; None when it cannot be served.
fn byte_range(header: &str, total: usize) -> Option<(usize, usize)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || total == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: usize = suffix.parse().ok()?;
            (total.checked_sub(n.min(total))?, total - 1)
        }
        (s, "") => (s.parse().ok()?, total - 1),
        (s, e) => (s.parse().ok()?, e.parse::<usize>().ok()?.min(total - 1)),
    };
    (start <= end && start < total).then_some((start, end))
}

fn upload_status(status: StatusCode, name: &str, id: &str, len: u64) -> Resp {
    let mut resp = respond(status, Bytes::new());
    set(&mut resp, "location", &format!("/v2/{name}/blobs/uploads/{id}"));
    set(&mut resp, "range", &format!("0-{}", len.max(1) - 1));
    set(&mut resp, "docker-upload-uuid", id);
    resp.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0));
    resp
}

fn blob_created(name: &str, digest: &str) -> Resp {
    let mut resp = respond(StatusCode::CREATED, Bytes::new());
    set(&mut resp, LOCATION.as_str(), &format!("/v2/{name}/blobs/{digest}"));
    set(&mut resp, "docker-content-digest", digest);
    resp
}

fn finish_blob(state: &State, name: &str, digest: &str, algorithm: &str, data: Bytes) -> Result<Resp, ApiError> {
    let computed = digest_with(algorithm, &data).unwrap_or_default();
    if computed != digest {
        return Err(ApiError::digest_invalid(digest, &computed));
    }
    state.store.put_blob(name, digest, data).map_err(store_error)?;
    Ok(blob_created(name, digest))
}

/// A page of `all` (sorted) after `last`, at most `n`; and the `Link` to the next page.
fn paginate(all: Vec<String>, query: &str, path: &str) -> Result<(Vec<String>, Option<String>), ApiError> {
    let n = match query_param(query, "n") {
        Some(n) => n.parse::<usize>().map_err(|_| ApiError::unsupported(format!("n={n:?} is not a count")))?,
        None => DEFAULT_PAGE,
    };
    let last = query_param(query, "last");
    let rest: Vec<String> = all.into_iter().filter(|x| last.as_ref().is_none_or(|l| x > l)).collect();
    let more = rest.len() > n;
    let page: Vec<String> = rest.into_iter().take(n).collect();
    let link = match (more, page.last()) {
        (true, Some(l)) => {
            let last_q: String = url::form_urlencoded::byte_serialize(l.as_bytes()).collect();
            Some(format!("<{path}?last={last_q}&n={n}>; rel=\"next\""))
        }
        _ => None,
    };
    Ok((page, link))
}

fn put_manifest(state: &State, name: &str, reference: &str, content_type: Option<&str>, body: Bytes) -> Result<Resp, ApiError> {
    let (tag, named_digest) = if reference.contains(':') {
        checked_digest(reference)?;
        (None, Some(reference))
    } else if tag_valid(reference) {
        (Some(reference), None)
    } else {
        return Err(ApiError::manifest_invalid(format!("tag {reference:?} is invalid: up to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'")));
    };
    let doc: Value = serde_json::from_slice(&body).map_err(|e| ApiError::manifest_invalid(format!("the manifest is not JSON: {e}")))?;
    if doc["schemaVersion"].as_i64() != Some(2) {
        return Err(ApiError::manifest_invalid("schemaVersion must be 2 (schema 1 manifests are not stored)"));
    }
    let declared = doc["mediaType"].as_str();
    let media_type = match (content_type.filter(|c| !c.is_empty() && *c != "application/json"), declared) {
        (Some(c), Some(d)) if c != d => return Err(ApiError::manifest_invalid(format!("Content-Type {c} does not match the manifest's mediaType {d}"))),
        (Some(c), _) => c.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) if doc.get("manifests").is_some() => OCI_INDEX.to_string(),
        (None, None) => OCI_MANIFEST.to_string(),
    };
    match media_type.as_str() {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let config = doc["config"]["digest"].as_str().ok_or_else(|| ApiError::manifest_invalid("the manifest has no config descriptor"))?;
            let mut needed = vec![config];
            for layer in doc["layers"].as_array().into_iter().flatten() {
                // Foreign (non-distributable) layers live at their URLs, not here.
                if layer["urls"].as_array().is_some_and(|u| !u.is_empty()) {
                    continue;
                }
                needed.push(layer["digest"].as_str().ok_or_else(|| ApiError::manifest_invalid("a layer descriptor has no digest"))?);
            }
            if let Some(missing) = needed.into_iter().find(|d| !state.store.has_blob(name, d)) {
                return Err(ApiError::manifest_blob_unknown(missing));
            }
        }
        OCI_INDEX | DOCKER_LIST => {
            for m in doc["manifests"].as_array().into_iter().flatten() {
                let d = m["digest"].as_str().ok_or_else(|| ApiError::manifest_invalid("an index entry has no digest"))?;
                if !state.store.has_manifest(name, d) {
                    return Err(ApiError::manifest_blob_unknown(d));
                }
            }
        }
        other => {
            return Err(ApiError::manifest_invalid(format!(
                "unsupported manifest media type {other}: this registry stores {OCI_MANIFEST}, {OCI_INDEX}, {DOCKER_MANIFEST} and {DOCKER_LIST}"
            )))
        }
    }
    let algorithm = named_digest.map_or("sha256", |d| d.split(':').next().unwrap_or("sha256"));
    let digest = digest_with(algorithm, &body).unwrap_or_default();
    if let Some(named) = named_digest.filter(|n| *n != digest) {
        return Err(ApiError::digest_invalid(named, &digest));
    }
    let subject = doc["subject"]["digest"].as_str().map(str::to_string);
    let artifact_type = doc["artifactType"].as_str().or(doc["config"]["mediaType"].as_str()).map(str::to_string);
    let annotations = doc.get("annotations").filter(|a| a.is_object()).cloned();
    let stored = StoredManifest { digest: digest.clone(), media_type, size: body.len() as u64, subject: subject.clone(), artifact_type, annotations };
    state.store.put_manifest(name, stored, body, tag).map_err(store_error)?;
    let mut resp = respond(StatusCode::CREATED, Bytes::new());
    set(&mut resp, LOCATION.as_str(), &format!("/v2/{name}/manifests/{digest}"));
    set(&mut resp, "docker-content-digest", &digest);
    if let Some(s) = subject {
        set(&mut resp, "oci-subject", &s);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_split_names_with_slashes() {
        assert_eq!(route_of("/v2/"), Some(Route::Base));
        assert_eq!(route_of("/v2/_catalog"), Some(Route::Catalog));
        assert_eq!(route_of("/v2/a/b/tags/list"), Some(Route::Tags("a/b".into())));
        assert_eq!(route_of("/v2/a/b/c/manifests/v1"), Some(Route::Manifest("a/b/c".into(), "v1".into())));
        assert_eq!(route_of("/v2/a/blobs/sha256:ab"), Some(Route::Blob("a".into(), "sha256:ab".into())));
        assert_eq!(route_of("/v2/a/blobs/sha256%3Aab"), Some(Route::Blob("a".into(), "sha256:ab".into())));
        assert_eq!(route_of("/v2/a/blobs/uploads/"), Some(Route::Uploads("a".into())));
        assert_eq!(route_of("/v2/a/blobs/uploads"), Some(Route::Uploads("a".into())));
        assert_eq!(route_of("/v2/a/b/blobs/uploads/xyz"), Some(Route::Upload("a/b".into(), "xyz".into())));
        assert_eq!(route_of("/v2/a/referrers/sha256:ab"), Some(Route::Referrers("a".into(), "sha256:ab".into())));
        assert_eq!(route_of("/v1/a"), None);
    }

    #[test]
    fn names_and_tags_follow_the_grammar() {
        assert!(name_valid("proj/repo/app").is_ok());
        assert!(name_valid("a.b_c__d--e").is_ok());
        assert!(name_valid("App").is_err());
        assert!(name_valid("a//b").is_err());
        assert!(tag_valid("v1.2_3-x") && tag_valid("_x"));
        assert!(!tag_valid(".x") && !tag_valid("-x") && !tag_valid(&"a".repeat(129)));
    }

    #[test]
    fn pages_link_to_the_next() {
        let all: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let (page, link) = paginate(all.clone(), "n=2", "/v2/_catalog").unwrap();
        assert_eq!(page, ["a", "b"]);
        assert_eq!(link.as_deref(), Some("</v2/_catalog?last=b&n=2>; rel=\"next\""));
        let (page, link) = paginate(all.clone(), "n=2&last=b", "/v2/_catalog").unwrap();
        assert_eq!((page, link), (vec!["c".to_string()], None));
        assert_eq!(paginate(all, "n=0", "/x").unwrap().0.len(), 0);
    }

    #[test]
    fn blob_ranges_are_single_and_within_the_blob() {
        assert_eq!(byte_range("bytes=0-3", 10), Some((0, 3)));
        assert_eq!(byte_range("bytes=4-", 10), Some((4, 9)));
        assert_eq!(byte_range("bytes=-3", 10), Some((7, 9)));
        assert_eq!(byte_range("bytes=5-100", 10), Some((5, 9)));
        assert_eq!(byte_range("bytes=10-", 10), None);
        assert_eq!(byte_range("bytes=0-1,3-4", 10), None);
        assert_eq!(byte_range("items=0-1", 10), None);
    }

    #[test]
    fn chunk_ranges_must_match_their_length() {
        assert_eq!(chunk_start(None, 5, 3).unwrap(), None);
        assert_eq!(chunk_start(Some("5-7"), 5, 3).unwrap(), Some(5));
        assert_eq!(chunk_start(Some("bytes=5-7"), 5, 3).unwrap(), Some(5));
        assert_eq!(chunk_start(Some("5-6"), 5, 3).unwrap_err().status, 416);
        assert_eq!(chunk_start(Some("x"), 5, 3).unwrap_err().status, 416);
    }
}
