//! The OCI distribution client: tag → digest, manifests and indexes (with
//! platform selection), blobs verified by digest and size while they are
//! read, pushes (existing blobs skipped, cross-repository mounts, monolithic
//! or chunked uploads, the manifest last), pulls, copies between registries
//! by digest (blobs streamed from one registry into the other's chunked
//! upload, nothing re-encoded), tags and the catalog. Errors name the
//! registry, repository and operation, carry the distribution error code
//! the registry answered with, and say how to fix it. It owns no credential
//! lookup (a [`CredentialSource`] is given) and never puts a secret in an
//! error or a log line.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use hyper::body::Incoming;
use hyper::{Method, Response, StatusCode};
use sha2::{Digest as _, Sha256};

use crate::auth::{login_fix, parse_challenges, www_authenticate, Authenticator};
use crate::credential::CredentialSource;
use crate::image::{digest_of, Blob, Image};
use crate::reference::{digest_valid, Reference};
use crate::spec::{self, Descriptor, ImageConfig, Index, Manifest, Platform};
use crate::transport::{header, ClientOptions, Outgoing, SendError, Transport};

/// The largest manifest read (registries refuse more than 4 MiB).
const MANIFEST_LIMIT: usize = 8 << 20;

/// What failed, where, what the registry said, and how to fix it. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryError(Box<ErrorParts>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct ErrorParts {
    registry: String,
    repository: Option<String>,
    operation: String,
    status: Option<u16>,
    code: String,
    message: String,
    fix: String,
}

impl RegistryError {
    /// The registry host (`127.0.0.1:5000`, `111122223333.dkr.ecr.eu-west-1.amazonaws.com`).
    pub fn registry(&self) -> &str {
        &self.0.registry
    }

    /// The repository, when the operation had one.
    pub fn repository(&self) -> Option<&str> {
        self.0.repository.as_deref()
    }

    /// What was being done (`get manifest 1.0`, `push blob sha256:…`).
    pub fn operation(&self) -> &str {
        &self.0.operation
    }

    /// The HTTP status answered, if any.
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    /// The distribution error code (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, `BLOB_UNKNOWN`,
    /// `UNAUTHORIZED`, `DENIED`, `DIGEST_INVALID`…) or the client's own
    /// (`DIGEST_MISMATCH`, `SIZE_MISMATCH`, `PLATFORM_UNKNOWN`, `TRANSPORT`, `TIMEOUT`, `TOKEN`, `CREDENTIALS`).
    pub fn code(&self) -> &str {
        &self.0.code
    }

    /// What the registry (or the client) said.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// How to fix it.
    pub fn fix(&self) -> &str {
        &self.0.fix
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0;
        write!(f, "{} on {}", e.operation, e.registry)?;
        if let Some(repo) = &e.repository {
            write!(f, " (repository {repo})")?;
        }
        write!(f, ": {}: {}", e.code, e.message)?;
        if let Some(status) = e.status {
            write!(f, " (HTTP {status})")?;
        }
        write!(f, "; fix: {}", e.fix)
    }
}

impl std::error::Error for RegistryError {}

/// Registry, repository and operation of a request, for its errors.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub registry: String,
    pub repository: Option<String>,
    pub operation: String,
}

impl Operation {
    fn new(registry: &str, repository: Option<&str>, operation: impl Into<String>) -> Operation {
        Operation { registry: registry.to_string(), repository: repository.map(str::to_string), operation: operation.into() }
    }

    fn on(repo: &Reference, operation: impl Into<String>) -> Operation {
        Operation::new(&repo.domain, Some(&repo.path), operation)
    }

    pub(crate) fn fail(self, status: Option<u16>, code: &str, message: &str, fix: &str) -> RegistryError {
        RegistryError(Box::new(ErrorParts { registry: self.registry, repository: self.repository, operation: self.operation, status, code: code.to_string(), message: message.to_string(), fix: fix.to_string() }))
    }

    fn transport(&self, e: SendError) -> RegistryError {
        let (code, fix) = match &e {
            SendError::Timeout(_) => ("TIMEOUT", format!("check that {} is reachable and answering, or raise the client's timeout", self.registry)),
            SendError::Connect(m) if m.contains("certificate") => ("TRANSPORT", format!("{}'s TLS certificate is not trusted: give the CA that signed it as PEM (ClientOptions::ca_pem), or check the endpoint for {0}", self.registry)),
            SendError::Connect(m) if m.contains("refused") => ("TRANSPORT", format!("nothing listens there: check {}'s address and port (and its endpoint override, if any)", self.registry)),
            SendError::Connect(_) => ("TRANSPORT", format!("check that {} is reachable (address, port; TLS: an http registry needs an endpoint override `http://…`, a private CA needs the CA's PEM)", self.registry)),
            SendError::Invalid(_) => ("INVALID", "report this: the client built a request the HTTP library refused".to_string()),
        };
        self.clone().fail(None, code, &e.to_string(), &fix)
    }
}

/// The `errors` of a distribution error body: first code, and every message (with short details).
pub(crate) fn distribution_errors(body: &[u8]) -> Option<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        detail: Option<serde_json::Value>,
    }
    let parsed: Errors = serde_json::from_slice(body).ok()?;
    let first = parsed.errors.first()?;
    let messages: Vec<String> = parsed
        .errors
        .iter()
        .map(|e| {
            let detail = e.detail.as_ref().filter(|d| !d.is_null()).map(|d| d.to_string()).filter(|d| d.len() <= 300).map(|d| format!(" {d}")).unwrap_or_default();
            format!("{}{detail}", e.message)
        })
        .collect();
    Some((first.code.clone(), messages.join("; ")))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another task panicked; the maps stay usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// An OCI distribution client; clones share connections, tokens and what is known of blobs.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    auth: Authenticator,
    /// (registry, digest) → a repository of that registry known to hold the blob (for mounts).
    known: Mutex<HashMap<(String, String), String>>,
}

/// Where a blob to upload comes from.
enum Source {
    Bytes(Bytes),
    /// Streamed from this repository (of any registry) when needed.
    Registry(Reference),
}

/// What a blob push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pushed {
    Existed,
    Mounted,
    Uploaded,
}

impl Client {
    /// A client with default options: plain http for loopback hosts, https with the system's roots otherwise.
    pub fn new(credentials: Arc<dyn CredentialSource>) -> Client {
        // Invariant: default options hold no extra CA, the only input Transport::new can refuse.
        Client::with_options(credentials, ClientOptions::default()).expect("default client options are valid")
    }

    /// A client with endpoint overrides, extra CAs, a timeout and upload sizes.
    pub fn with_options(credentials: Arc<dyn CredentialSource>, options: ClientOptions) -> Result<Client, RegistryError> {
        let transport = Transport::new(options).map_err(|m| Operation::new("", None, "configure the registry client").fail(None, "CONFIG", &m, "give the CA certificates as PEM"))?;
        Ok(Client { inner: Arc::new(Inner { transport, auth: Authenticator::new(credentials), known: Mutex::new(HashMap::new()) }) })
    }

    /// Where this client's credentials come from (a Docker build's `FROM`
    /// pulls, which the engine makes, are given the same).
    pub fn credentials(&self) -> Arc<dyn CredentialSource> {
        self.inner.auth.credentials().clone()
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.transport.options
    }

    fn url(&self, op: &Operation, registry: &str, path: &str) -> Result<url::Url, RegistryError> {
        self.inner.transport.url(registry, path).map_err(|e| op.transport(e))
    }

    /// Sends with authorization: a 401 teaches the challenge and the request
    /// goes again; a refused credential is asked of the source again, once.
    async fn send(&self, op: &Operation, scopes: &[String], outgoing: &Outgoing, follow: bool) -> Result<Response<Incoming>, RegistryError> {
        let (mut learned, mut refreshed) = (false, false);
        loop {
            let authorization = self.inner.auth.authorization(&self.inner.transport, op, scopes).await?;
            let response = if follow {
                self.inner.transport.send_following(outgoing, authorization.as_ref()).await
            } else {
                self.inner.transport.send(outgoing, authorization.as_ref()).await
            }
            .map_err(|e| op.transport(e))?;
            if response.status() != StatusCode::UNAUTHORIZED || !self.inner.auth.learn(&op.registry, www_authenticate(response.headers())) {
                return Ok(response);
            }
            self.inner.auth.forget(&op.registry, scopes);
            let flag = if authorization.is_some() { &mut refreshed } else { &mut learned };
            if *flag {
                return Ok(response);
            }
            *flag = true;
        }
    }

    /// The error for an unexpected answer, with the registry's code and a fix.
    async fn failure(&self, op: &Operation, response: Response<Incoming>, reference: &str) -> RegistryError {
        let status = response.status();
        let challenge = www_authenticate(response.headers()).map(parse_challenges).unwrap_or_default();
        let insufficient = challenge.iter().any(|c| c.param("error") == Some("insufficient_scope"));
        let body = self.inner.transport.read_body(response.into_body(), 64 << 10).await.unwrap_or_default();
        let (code, message) = distribution_errors(&body).unwrap_or_else(|| {
            let code = match status {
                StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
                StatusCode::FORBIDDEN => "DENIED",
                StatusCode::NOT_FOUND => "NOT_FOUND",
                StatusCode::TOO_MANY_REQUESTS => "TOOMANYREQUESTS",
                _ => "UNEXPECTED",
            };
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_string();
            (code.to_string(), if text.is_empty() { format!("HTTP {status}") } else { text })
        });
        let repo = op.repository.as_deref().unwrap_or("");
        let registry = &op.registry;
        let fix = match code.as_str() {
            "UNAUTHORIZED" | "DENIED" if insufficient || (code == "DENIED") => {
                format!("the credentials for {registry} are not allowed to do this on {repo} (the token granted lacks the scope asked); use an account with that right, or {}", login_fix(registry))
            }
            "UNAUTHORIZED" => login_fix(registry),
            "MANIFEST_UNKNOWN" | "NOT_FOUND" if !reference.is_empty() => format!("check that {registry}/{repo} has {reference} (list its tags), or push it first"),
            "NAME_UNKNOWN" => format!("check the repository name {repo}; push an image to create it (ECR and Artifact Registry need the repository created first)"),
            "BLOB_UNKNOWN" => format!("{registry}/{repo} lacks a blob its manifest names; push the image again"),
            "BLOB_UPLOAD_UNKNOWN" | "BLOB_UPLOAD_INVALID" => "retry the push (the upload session was lost)".to_string(),
            "DIGEST_INVALID" => "the bytes did not match their digest; retry, and if it persists the source is corrupt".to_string(),
            "MANIFEST_INVALID" | "MANIFEST_BLOB_UNKNOWN" => "push every blob and child manifest the manifest names before it".to_string(),
            "TAG_INVALID" | "NAME_INVALID" => "check the reference's name and tag".to_string(),
            "TOOMANYREQUESTS" => format!("wait and retry: {registry} limits requests"),
            "UNSUPPORTED" => format!("{registry} does not support this operation"),
            _ => format!("see {registry}'s logs for HTTP {status}"),
        };
        op.clone().fail(Some(status.as_u16()), &code, &message, &fix)
    }

    fn pull_scope(repo: &Reference) -> Vec<String> {
        vec![format!("repository:{}:pull", repo.path)]
    }

    fn push_scope(repo: &Reference) -> Vec<String> {
        vec![format!("repository:{}:pull,push", repo.path)]
    }

    fn remember(&self, registry: &str, digest: &str, repository: &str) {
        lock(&self.inner.known).insert((registry.to_string(), digest.to_string()), repository.to_string());
    }

    /// The digest `reference` names: HEAD with every manifest type accepted
    /// and `Docker-Content-Digest`; a GET hashed when the header is missing.
    pub async fn resolve(&self, reference: &Reference) -> Result<String, RegistryError> {
        let op = Operation::on(reference, format!("resolve {reference}"));
        let url = self.url(&op, &reference.domain, &format!("{}/manifests/{}", reference.path, reference.manifest_ref()))?;
        let outgoing = Outgoing::new(Method::HEAD, url).header("accept", spec::MANIFEST_ACCEPT.join(", "));
        let response = self.send(&op, &Self::pull_scope(reference), &outgoing, true).await?;
        if response.status() == StatusCode::OK {
            if let Some(digest) = header(response.headers(), "docker-content-digest").filter(|d| digest_valid(d).is_ok()) {
                let digest = digest.to_string();
                if let Some(asked) = &reference.digest {
                    if asked != &digest {
                        return Err(op.fail(Some(200), "DIGEST_MISMATCH", &format!("asked for {asked}, the registry answered {digest}"), "the registry is misbehaving; report it"));
                    }
                }
                return Ok(digest);
            }
        }
        // No digest header, or an error a HEAD cannot explain (no body): GET says it.
        let (_, digest, _) = self.manifest(reference).await?;
        Ok(digest)
    }

    /// The manifest or index `reference` names, raw: (media type, digest, bytes).
    /// Asked by digest, the bytes are checked against it.
    pub async fn manifest(&self, reference: &Reference) -> Result<(String, String, Bytes), RegistryError> {
        let op = Operation::on(reference, format!("get manifest {}", reference.manifest_ref()));
        let url = self.url(&op, &reference.domain, &format!("{}/manifests/{}", reference.path, reference.manifest_ref()))?;
        let outgoing = Outgoing::new(Method::GET, url).header("accept", spec::MANIFEST_ACCEPT.join(", "));
        let response = self.send(&op, &Self::pull_scope(reference), &outgoing, true).await?;
        if response.status() != StatusCode::OK {
            return Err(self.failure(&op, response, reference.manifest_ref()).await);
        }
        let content_type = header(response.headers(), "content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_string();
        let bytes = self.inner.transport.read_body(response.into_body(), MANIFEST_LIMIT).await.map_err(|e| op.transport(e))?;
        let digest = digest_of(&bytes);
        if let Some(asked) = &reference.digest {
            if asked != &digest {
                return Err(op.fail(Some(200), "DIGEST_MISMATCH", &format!("manifest {asked} came back with digest {digest}"), "the registry or a proxy altered the manifest; retry, and report it if it persists"));
            }
        }
        let media_type = if spec::is_index(&content_type) || spec::is_manifest(&content_type) {
            content_type
        } else {
            #[derive(serde::Deserialize)]
            struct Typed {
                #[serde(default, rename = "mediaType")]
                media_type: Option<String>,
                #[serde(default)]
                manifests: Option<serde_json::Value>,
            }
            match serde_json::from_slice::<Typed>(&bytes) {
                Ok(Typed { media_type: Some(m), .. }) => m,
                Ok(Typed { manifests: Some(_), .. }) => spec::OCI_INDEX.to_string(),
                Ok(_) => spec::OCI_MANIFEST.to_string(),
                Err(_) => content_type,
            }
        };
        Ok((media_type, digest, bytes))
    }

    /// The single-platform manifest for `platform` (through the index when
    /// `reference` names one): (its digest, media type, bytes, parsed).
    async fn platform_manifest(&self, reference: &Reference, platform: &Platform) -> Result<(String, String, Bytes, Manifest), RegistryError> {
        let (media_type, digest, bytes) = self.manifest(reference).await?;
        let op = Operation::on(reference, format!("read manifest {}", reference.manifest_ref()));
        let (media_type, digest, bytes) = if spec::is_index(&media_type) {
            let index: Index = serde_json::from_slice(&bytes).map_err(|e| op.clone().fail(None, "MANIFEST_INVALID", &format!("index {digest} is not valid JSON for its type ({e})"), "push a valid index"))?;
            let Some(chosen) = index.select(platform) else {
                let present: Vec<String> = index.manifests.iter().filter_map(|d| d.platform.as_ref()).map(platform_name).collect();
                return Err(op.fail(
                    None,
                    "PLATFORM_UNKNOWN",
                    &format!("{reference} has no image for {}; it has: {}", platform_name(platform), if present.is_empty() { "no platform entries".to_string() } else { present.join(", ") }),
                    "pick one of the platforms present, or build and push the image for this one",
                ));
            };
            let child = Reference { tag: None, digest: Some(chosen.digest.clone()), ..reference.clone() };
            self.manifest(&child).await?
        } else {
            (media_type, digest, bytes)
        };
        if !spec::is_manifest(&media_type) {
            return Err(op.fail(None, "MANIFEST_UNSUPPORTED", &format!("manifest {digest} has media type {media_type:?}"), "push an OCI or Docker schema 2 image (schema 1 and artifacts are not images)"));
        }
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| op.clone().fail(None, "MANIFEST_INVALID", &format!("manifest {digest} is not valid ({e})"), "push a valid manifest"))?;
        Ok((digest, media_type, bytes, manifest))
    }

    /// The image manifest for `platform`: (its digest, manifest), following an index.
    pub async fn image(&self, reference: &Reference, platform: &Platform) -> Result<(String, Manifest), RegistryError> {
        let (digest, _, _, manifest) = self.platform_manifest(reference, platform).await?;
        Ok((digest, manifest))
    }

    /// The image configuration for `platform`: (config digest, config).
    pub async fn config(&self, reference: &Reference, platform: &Platform) -> Result<(String, ImageConfig), RegistryError> {
        let (_, manifest) = self.image(reference, platform).await?;
        let bytes = self.blob(reference, &manifest.config).await?;
        let op = Operation::on(reference, format!("read config {}", manifest.config.digest));
        let config = serde_json::from_slice(&bytes).map_err(|e| op.fail(None, "CONFIG_INVALID", &format!("config {} is not an image configuration ({e})", manifest.config.digest), "push a valid image"))?;
        Ok((manifest.config.digest, config))
    }

    /// A blob of `repo`, whole, checked against the descriptor's digest and size.
    pub async fn blob(&self, repo: &Reference, descriptor: &Descriptor) -> Result<Bytes, RegistryError> {
        let mut stream = self.blob_stream(repo, descriptor).await?;
        let mut out = BytesMut::with_capacity(descriptor.size.min(64 << 20) as usize);
        while let Some(chunk) = stream.next_chunk().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.freeze())
    }

    /// A blob of `repo`, streamed: its chunks as they arrive, checked as they
    /// are read; a digest or size mismatch is the stream's last item, so
    /// read it to its end before trusting what came.
    pub async fn blob_stream(&self, repo: &Reference, descriptor: &Descriptor) -> Result<BlobStream, RegistryError> {
        let op = Operation::on(repo, format!("get blob {}", descriptor.digest));
        if !descriptor.digest.starts_with("sha256:") || digest_valid(&descriptor.digest).is_err() {
            return Err(op.fail(None, "DIGEST_INVALID", &format!("{:?} is not a sha256 digest", descriptor.digest), "only sha256 blobs are supported"));
        }
        let url = self.url(&op, &repo.domain, &format!("{}/blobs/{}", repo.path, descriptor.digest))?;
        let response = self.send(&op, &Self::pull_scope(repo), &Outgoing::new(Method::GET, url), true).await?;
        if response.status() != StatusCode::OK {
            return Err(self.failure(&op, response, &descriptor.digest).await);
        }
        if let Some(length) = header(response.headers(), "content-length").and_then(|l| l.parse::<u64>().ok()) {
            if length != descriptor.size {
                return Err(op.fail(Some(200), "SIZE_MISMATCH", &format!("blob {} is {length} bytes in the registry, {} in its descriptor", descriptor.digest, descriptor.size), "the registry holds a different blob under this digest; push the image again"));
            }
        }
        self.remember(&repo.domain, &descriptor.digest, &repo.path);
        Ok(BlobStream { client: self.clone(), op, body: Some(response.into_body()), hasher: Sha256::new(), read: 0, descriptor: descriptor.clone() })
    }

    /// Pushes `image` to `reference` (a tag, or its own digest) and returns its digest.
    pub async fn push(&self, image: &Image, reference: &Reference) -> Result<String, RegistryError> {
        let op = Operation::on(reference, format!("push {}", image.digest()));
        if let Some(asked) = &reference.digest {
            if asked != image.digest() {
                return Err(op.fail(None, "DIGEST_INVALID", &format!("the reference names {asked} but the image is {}", image.digest()), "push by tag, or by the image's own digest"));
            }
        }
        let mut blobs: Vec<&Blob> = Vec::new();
        for blob in std::iter::once(&image.config).chain(image.layers.iter()) {
            if !blobs.iter().any(|b| b.digest() == blob.digest()) {
                blobs.push(blob);
            }
        }
        // Owned descriptors and bytes: a future borrowing each `&Blob` is not
        // `Send` for every lifetime, which callers behind `async_trait` need.
        let uploads: Vec<(Descriptor, Bytes)> = blobs.into_iter().map(|b| (b.descriptor.clone(), b.data.clone())).collect();
        futures::stream::iter(uploads.into_iter().map(|(descriptor, data)| async move { self.push_blob(reference, &descriptor, Source::Bytes(data), None).await }))
            .buffer_unordered(self.options().concurrency)
            .try_collect::<Vec<_>>()
            .await?;
        let target = reference.tag.clone().unwrap_or_else(|| image.digest().to_string());
        self.put_manifest(reference, &target, &image.manifest.descriptor.media_type, &image.manifest.data).await
    }

    /// Pushes a manifest or index (its blobs and children already pushed)
    /// under `reference`'s tag, else its digest; returns the digest.
    pub async fn push_manifest(&self, reference: &Reference, media_type: &str, bytes: Bytes) -> Result<String, RegistryError> {
        let digest = digest_of(&bytes);
        if let Some(asked) = reference.digest.as_ref().filter(|d| **d != digest) {
            let op = Operation::on(reference, format!("push manifest {digest}"));
            return Err(op.fail(None, "DIGEST_INVALID", &format!("the reference names {asked} but the manifest is {digest}"), "push by tag, or by the manifest's own digest"));
        }
        let target = reference.tag.clone().unwrap_or(digest);
        self.put_manifest(reference, &target, media_type, &bytes).await
    }

    /// Puts a manifest under a tag or digest; its digest (checked against the registry's).
    async fn put_manifest(&self, repo: &Reference, target: &str, media_type: &str, bytes: &Bytes) -> Result<String, RegistryError> {
        let digest = digest_of(bytes);
        let op = Operation::on(repo, format!("put manifest {target}"));
        let url = self.url(&op, &repo.domain, &format!("{}/manifests/{target}", repo.path))?;
        let outgoing = Outgoing::new(Method::PUT, url).header("content-type", media_type).body(bytes.clone());
        let response = self.send(&op, &Self::push_scope(repo), &outgoing, false).await?;
        if response.status() != StatusCode::CREATED && response.status() != StatusCode::OK {
            return Err(self.failure(&op, response, target).await);
        }
        if let Some(answered) = header(response.headers(), "docker-content-digest") {
            if answered != digest {
                return Err(op.fail(Some(201), "DIGEST_MISMATCH", &format!("the registry stored the manifest as {answered}, not {digest}"), "the registry re-encoded the manifest; report it"));
            }
        }
        self.remember(&repo.domain, &digest, &repo.path);
        Ok(digest)
    }

    /// Pushes one blob: nothing when the registry has it, a mount when
    /// another repository of the registry has it, else an upload (one PUT,
    /// or PATCHes of `chunk_size` above `chunk_threshold`).
    async fn push_blob(&self, repo: &Reference, descriptor: &Descriptor, source: Source, mount_from: Option<&str>) -> Result<Pushed, RegistryError> {
        let digest = descriptor.digest.as_str();
        let op = Operation::on(repo, format!("push blob {digest}"));
        let scopes = Self::push_scope(repo);
        let url = self.url(&op, &repo.domain, &format!("{}/blobs/{digest}", repo.path))?;
        let response = self.send(&op, &scopes, &Outgoing::new(Method::HEAD, url), true).await?;
        match response.status() {
            StatusCode::OK => {
                self.remember(&repo.domain, digest, &repo.path);
                return Ok(Pushed::Existed);
            }
            StatusCode::NOT_FOUND => {}
            _ => return Err(self.failure(&op, response, digest).await),
        }
        let from = mount_from.map(str::to_string).or_else(|| lock(&self.inner.known).get(&(repo.domain.clone(), digest.to_string())).cloned()).filter(|from| from != &repo.path);
        let base = self.url(&op, &repo.domain, &format!("{}/blobs/uploads/", repo.path))?;
        let (mut url, scopes) = match &from {
            Some(from) => {
                let mut url = base.clone();
                url.query_pairs_mut().append_pair("mount", digest).append_pair("from", from);
                let mut scopes = scopes.clone();
                scopes.push(format!("repository:{from}:pull"));
                (url, scopes)
            }
            None => (base.clone(), scopes),
        };
        let response = self.send(&op, &scopes, &Outgoing::new(Method::POST, url.clone()), false).await?;
        match response.status() {
            StatusCode::CREATED if from.is_some() => {
                tracing::debug!(digest, from = from.as_deref().unwrap_or(""), "blob mounted");
                self.remember(&repo.domain, digest, &repo.path);
                return Ok(Pushed::Mounted);
            }
            StatusCode::ACCEPTED => {}
            _ => return Err(self.failure(&op, response, digest).await),
        }
        url = self.location(&op, &url, &response)?;
        let result = self.upload(&op, &scopes, url.clone(), descriptor, source).await;
        if result.is_err() {
            // Best effort: the session would expire anyway.
            let _ = self.send(&op, &scopes, &Outgoing::new(Method::DELETE, url), false).await;
        }
        result?;
        self.remember(&repo.domain, digest, &repo.path);
        Ok(Pushed::Uploaded)
    }

    /// The upload session's next URL, from `Location` (relative or absolute).
    fn location(&self, op: &Operation, current: &url::Url, response: &Response<Incoming>) -> Result<url::Url, RegistryError> {
        let Some(location) = header(response.headers(), "location") else {
            return Err(op.clone().fail(Some(response.status().as_u16()), "BLOB_UPLOAD_INVALID", "the registry answered an upload without a Location", "the registry is not a distribution registry; check the endpoint"));
        };
        let url = current.join(location).map_err(|e| op.clone().fail(Some(response.status().as_u16()), "BLOB_UPLOAD_INVALID", &format!("upload Location {location:?} is not a URL ({e})"), "check the registry"))?;
        Ok(self.inner.transport.rewrite(&url))
    }

    /// Uploads into a session: one PUT for small blobs, PATCHes then a PUT otherwise.
    async fn upload(&self, op: &Operation, scopes: &[String], mut url: url::Url, descriptor: &Descriptor, source: Source) -> Result<(), RegistryError> {
        let threshold = self.options().chunk_threshold;
        let chunk_size = self.options().chunk_size;
        let finish = |url: &url::Url| {
            let mut url = url.clone();
            url.query_pairs_mut().append_pair("digest", &descriptor.digest);
            url
        };
        let mut stream = match source {
            Source::Bytes(data) if (data.len() as u64) <= threshold => {
                return self.put_upload(op, scopes, finish(&url), data, &descriptor.digest).await;
            }
            Source::Bytes(data) => {
                let mut offset = 0;
                while offset < data.len() {
                    let end = (offset + chunk_size).min(data.len());
                    url = self.patch(op, scopes, url, offset as u64, data.slice(offset..end), &descriptor.digest).await?;
                    offset = end;
                }
                return self.put_upload(op, scopes, finish(&url), Bytes::new(), &descriptor.digest).await;
            }
            Source::Registry(from) => {
                let from_repo = Reference { tag: None, digest: None, ..from };
                self.blob_stream(&from_repo, descriptor).await?
            }
        };
        if descriptor.size <= threshold {
            let mut data = BytesMut::with_capacity(descriptor.size as usize);
            while let Some(chunk) = stream.next_chunk().await {
                data.extend_from_slice(&chunk?);
            }
            return self.put_upload(op, scopes, finish(&url), data.freeze(), &descriptor.digest).await;
        }
        let mut offset = 0u64;
        let mut buffer = BytesMut::with_capacity(chunk_size);
        loop {
            let chunk = stream.next_chunk().await.transpose()?;
            let at_end = chunk.is_none();
            if let Some(chunk) = chunk {
                buffer.extend_from_slice(&chunk);
            }
            while buffer.len() >= chunk_size || (at_end && !buffer.is_empty()) {
                let take = buffer.len().min(chunk_size);
                let part = buffer.split_to(take).freeze();
                let length = part.len() as u64;
                url = self.patch(op, scopes, url, offset, part, &descriptor.digest).await?;
                offset += length;
            }
            if at_end {
                break;
            }
        }
        self.put_upload(op, scopes, finish(&url), Bytes::new(), &descriptor.digest).await
    }

    /// One PATCH of `data` at `offset`; the session's next URL.
    async fn patch(&self, op: &Operation, scopes: &[String], url: url::Url, offset: u64, data: Bytes, digest: &str) -> Result<url::Url, RegistryError> {
        let end = offset + data.len() as u64 - 1;
        let outgoing = Outgoing::new(Method::PATCH, url.clone()).header("content-type", "application/octet-stream").header("content-range", format!("{offset}-{end}")).body(data);
        let response = self.send(op, scopes, &outgoing, false).await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self.failure(op, response, digest).await);
        }
        self.location(op, &url, &response)
    }

    /// The closing PUT `?digest=` (with the whole blob, or nothing after PATCHes).
    async fn put_upload(&self, op: &Operation, scopes: &[String], url: url::Url, data: Bytes, digest: &str) -> Result<(), RegistryError> {
        let outgoing = Outgoing::new(Method::PUT, url).header("content-type", "application/octet-stream").body(data);
        let response = self.send(op, scopes, &outgoing, false).await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.failure(op, response, digest).await);
        }
        Ok(())
    }

    /// The image for `platform`, manifest, config and layers, each checked by digest.
    pub async fn pull(&self, reference: &Reference, platform: &Platform) -> Result<Image, RegistryError> {
        let (digest, media_type, bytes, manifest) = self.platform_manifest(reference, platform).await?;
        let config = self.blob(reference, &manifest.config).await?;
        let layers: Vec<Bytes> = futures::stream::iter(manifest.layers.iter().map(|d| self.blob(reference, d))).buffered(self.options().concurrency).try_collect().await?;
        let size = bytes.len() as u64;
        Ok(Image {
            manifest: Blob { descriptor: Descriptor::new(&media_type, &digest, size), data: bytes },
            config: Blob { descriptor: manifest.config.clone(), data: config },
            layers: manifest.layers.iter().zip(layers).map(|(d, data)| Blob { descriptor: d.clone(), data }).collect(),
        })
    }

    /// Copies what `source` names to `destination`, byte for byte: an index
    /// with every child manifest, blobs streamed (mounted within one
    /// registry). The manifest goes under the destination's tag, else its
    /// digest; the digest returned equals the source's.
    pub async fn copy(&self, source: &Reference, destination: &Reference) -> Result<String, RegistryError> {
        let (media_type, digest, bytes) = self.manifest(source).await?;
        if let Some(asked) = &destination.digest {
            if asked != &digest {
                let op = Operation::on(destination, format!("copy {source}"));
                return Err(op.fail(None, "DIGEST_INVALID", &format!("the destination names {asked} but {source} is {digest}"), "copy to a tag, or to the source's digest"));
            }
        }
        let target = destination.tag.clone().unwrap_or_else(|| digest.clone());
        self.copy_manifest(source, destination, &media_type, &digest, bytes, &target).await
    }

    /// Copies one manifest (an index: its children first) and puts it under `target`.
    fn copy_manifest<'a>(&'a self, source: &'a Reference, destination: &'a Reference, media_type: &'a str, digest: &'a str, bytes: Bytes, target: &'a str) -> futures::future::BoxFuture<'a, Result<String, RegistryError>> {
        Box::pin(async move {
            let op = Operation::on(source, format!("copy {digest} to {destination}"));
            if spec::is_index(media_type) {
                let index: Index = serde_json::from_slice(&bytes).map_err(|e| op.clone().fail(None, "MANIFEST_INVALID", &format!("index {digest} is not valid ({e})"), "copy a valid index"))?;
                for child in &index.manifests {
                    let child_ref = Reference { tag: None, digest: Some(child.digest.clone()), ..source.clone() };
                    let (child_type, child_digest, child_bytes) = self.manifest(&child_ref).await?;
                    self.copy_manifest(source, destination, &child_type, &child_digest, child_bytes, &child_digest).await?;
                }
            } else if spec::is_manifest(media_type) {
                let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| op.clone().fail(None, "MANIFEST_INVALID", &format!("manifest {digest} is not valid ({e})"), "copy a valid manifest"))?;
                let mut blobs: Vec<&Descriptor> = Vec::new();
                for d in std::iter::once(&manifest.config).chain(manifest.layers.iter()) {
                    // Foreign layers stay where their URLs say; the rest goes along once.
                    if d.media_type != spec::DOCKER_FOREIGN_LAYER_GZIP && !blobs.iter().any(|b| b.digest == d.digest) {
                        blobs.push(d);
                    }
                }
                let same_registry = source.domain == destination.domain;
                let pushes: Vec<_> = blobs.into_iter().map(|d| self.push_blob(destination, d, Source::Registry(source.clone()), same_registry.then_some(source.path.as_str()))).collect();
                futures::stream::iter(pushes)
                    .buffer_unordered(self.options().concurrency)
                    .try_collect::<Vec<_>>()
                    .await?;
            } else {
                return Err(op.fail(None, "MANIFEST_UNSUPPORTED", &format!("{digest} has media type {media_type:?}"), "copy OCI or Docker schema 2 images and indexes"));
            }
            self.put_manifest(destination, target, media_type, &bytes).await
        })
    }

    /// The tags of `repo` (its tag and digest ignored), every page.
    pub async fn tags(&self, repo: &Reference) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let op = Operation::on(repo, "list tags");
        let first = self.url(&op, &repo.domain, &format!("{}/tags/list", repo.path))?;
        let pages = self.pages(&op, &Self::pull_scope(repo), first).await?;
        let mut out = Vec::new();
        for page in pages {
            let parsed: Tags = serde_json::from_slice(&page).map_err(|e| op.clone().fail(Some(200), "UNEXPECTED", &format!("the tag list is not JSON ({e})"), "check the endpoint is a registry"))?;
            out.extend(parsed.tags.unwrap_or_default());
        }
        Ok(out)
    }

    /// The repositories of `registry` (host), every page.
    pub async fn catalog(&self, registry: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Option<Vec<String>>,
        }
        let op = Operation::new(registry, None, "list the catalog");
        let first = self.url(&op, registry, "_catalog")?;
        let pages = self.pages(&op, &["registry:catalog:*".to_string()], first).await?;
        let mut out = Vec::new();
        for page in pages {
            let parsed: Catalog = serde_json::from_slice(&page).map_err(|e| op.clone().fail(Some(200), "UNEXPECTED", &format!("the catalog is not JSON ({e})"), "check the endpoint is a registry"))?;
            out.extend(parsed.repositories.unwrap_or_default());
        }
        Ok(out)
    }

    /// Every page of a list, following `Link: <…>; rel="next"`.
    async fn pages(&self, op: &Operation, scopes: &[String], first: url::Url) -> Result<Vec<Bytes>, RegistryError> {
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(url) = next.take() {
            if out.len() > 10_000 {
                return Err(op.clone().fail(None, "UNEXPECTED", "more than 10000 pages", "the registry's pagination loops; report it"));
            }
            let response = self.send(op, scopes, &Outgoing::new(Method::GET, url.clone()), true).await?;
            if response.status() != StatusCode::OK {
                return Err(self.failure(op, response, "").await);
            }
            next = header(response.headers(), "link").and_then(next_link).and_then(|l| url.join(&l).ok()).map(|u| self.inner.transport.rewrite(&u));
            out.push(self.inner.transport.read_body(response.into_body(), MANIFEST_LIMIT).await.map_err(|e| op.transport(e))?);
        }
        Ok(out)
    }
}

/// The target of a `Link` header's `rel="next"`.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params.split(';').any(|p| p.trim().replace(' ', "").eq_ignore_ascii_case("rel=\"next\"") || p.trim().eq_ignore_ascii_case("rel=next")).then(|| target.to_string())
    })
}

/// `linux/amd64`, `linux/arm/v7`
fn platform_name(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

/// A blob being read from a registry, checked by digest and size as it is read.
pub struct BlobStream {
    client: Client,
    op: Operation,
    body: Option<Incoming>,
    hasher: Sha256,
    read: u64,
    descriptor: Descriptor,
}

impl BlobStream {
    /// The blob's descriptor.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// The next chunk; at the end, `None` when the bytes matched, else the mismatch.
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, RegistryError>> {
        let body = self.body.as_mut()?;
        match self.client.inner.transport.next_chunk(body).await {
            Err(e) => {
                self.body = None;
                Some(Err(self.op.transport(e)))
            }
            Ok(Some(chunk)) => {
                self.read += chunk.len() as u64;
                if self.read > self.descriptor.size {
                    self.body = None;
                    return Some(Err(self.mismatch("SIZE_MISMATCH", format!("more than its descriptor's {} bytes", self.descriptor.size))));
                }
                self.hasher.update(&chunk);
                Some(Ok(chunk))
            }
            Ok(None) => {
                self.body = None;
                if self.read != self.descriptor.size {
                    return Some(Err(self.mismatch("SIZE_MISMATCH", format!("{} bytes, its descriptor says {}", self.read, self.descriptor.size))));
                }
                let got = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
                if got != self.descriptor.digest {
                    return Some(Err(self.mismatch("DIGEST_MISMATCH", format!("its bytes hash to {got}"))));
                }
                None
            }
        }
    }

    fn mismatch(&self, code: &str, what: String) -> RegistryError {
        self.op.clone().fail(
            Some(200),
            code,
            &format!("blob {} ({}) came back corrupt: {what}", self.descriptor.digest, self.descriptor.media_type),
            "the registry (or a proxy or storage behind it) served other bytes under this digest; retry, then push the image again",
        )
    }

    /// As a `Stream` of chunks (the mismatch, if any, last).
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, RegistryError>> {
        futures::stream::unfold(self, |mut s| async move { s.next_chunk().await.map(|item| (item, s)) }).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_give_the_next_page() {
        assert_eq!(next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(), Some("/v2/_catalog?last=b&n=2"));
        assert_eq!(next_link(r#"<https://r/v2/x/tags/list?last=1>; rel=next"#).as_deref(), Some("https://r/v2/x/tags/list?last=1"));
        assert_eq!(next_link(r#"</a>; rel="prev""#), None);
    }

    #[test]
    fn distribution_errors_give_code_and_messages() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]}"#;
        assert_eq!(distribution_errors(body), Some(("MANIFEST_UNKNOWN".to_string(), r#"manifest unknown {"Tag":"nope"}"#.to_string())));
        assert_eq!(distribution_errors(b"not json"), None);
    }

    #[test]
    fn errors_name_registry_repository_operation_code_and_fix() {
        let e = Operation::new("127.0.0.1:5000", Some("team/app"), "get manifest 1.0").fail(Some(404), "MANIFEST_UNKNOWN", "manifest unknown", "push it");
        assert_eq!(e.to_string(), "get manifest 1.0 on 127.0.0.1:5000 (repository team/app): MANIFEST_UNKNOWN: manifest unknown (HTTP 404); fix: push it");
    }
}
