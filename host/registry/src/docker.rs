//! Docker builds through an engine's API (bollard): connecting to the
//! engine `DOCKER_HOST` names (or the default socket) at an API version both
//! sides speak, sending a build context read through its `.dockerignore`,
//! building with the Dockerfile path, build args, target stage, labels (the
//! OCI `revision`, `source` and `created` among them) and network the caller
//! chooses, streaming the build's progress as [`BuildEvent`]s, and turning a
//! failed step into an error naming the Dockerfile's line. Then reading the
//! built image back out of the engine ([`DockerEngine::export`]) as an OCI
//! [`Image`] with deterministically gzipped layers, ready for the
//! distribution client. It never pushes, never pulls on its own, and never
//! reads registry credentials.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{BuildImageOptions, TagImageOptions};
use bollard::{ClientVersion, Docker};
use futures::StreamExt;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::context::{Context, ContextError};
use crate::credential::Credential;
use crate::dockerfile;
use crate::image::{digest_of, Blob, Image, Layer};
use crate::spec::{self, ImageConfig};

/// Where an engine is looked for when `DOCKER_HOST` is unset.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
pub use crate::spec::{LABEL_CREATED, LABEL_REVISION, LABEL_SOURCE};

/// Seconds a request may wait for the engine's answer to begin (a build's
/// context upload counts; its output streams after).
const REQUEST_TIMEOUT: u64 = 600;
/// How many of a failing step's last output lines its error keeps.
const OUTPUT_TAIL: usize = 20;

/// What went wrong talking to an engine, building or exporting.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("no Docker engine answers at {address} ({origin}): {reason}. Start dockerd, set DOCKER_HOST to a running engine (unix:///path/to/docker.sock or tcp://host:2375), or build without an engine with the daemonless backend (Dockerfiles without RUN)")]
    NoEngine { address: String, origin: &'static str, reason: String },
    #[error("DOCKER_HOST={address} ({origin}): {reason}")]
    UnsupportedHost { address: String, origin: &'static str, reason: String },
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error("{path}: {reason}")]
    Dockerfile { path: PathBuf, reason: String },
    #[error("{0}")]
    StepFailed(Box<StepFailure>),
    #[error("building {dockerfile} on the engine at {address} failed{}: {message}{}{}", step.as_ref().map(|s| format!(" at step {s}")).unwrap_or_default(), hint(message), output_tail(output))]
    Build {
        dockerfile: PathBuf,
        address: String,
        /// `3/7 `RUN …``: the step running when the build failed.
        step: Option<String>,
        message: String,
        output: Vec<String>,
    },
    #[error("the engine at {address}: {action}: {source}")]
    Engine { address: String, action: String, source: bollard::errors::Error },
    #[error("image {image} exported from the engine at {address}: {reason}")]
    Export { image: String, address: String, reason: String },
}

/// A step of the Dockerfile that failed, where it is and what it printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: step {step}/{of} `{instruction}` failed{}: {message}{}{}", dockerfile.display(), exit_code.map(|c| format!(" with exit code {c}")).unwrap_or_default(), hint(message), output_tail(output))]
pub struct StepFailure {
    pub dockerfile: PathBuf,
    /// 1-based line of the instruction in the Dockerfile.
    pub line: usize,
    pub step: usize,
    pub of: usize,
    pub instruction: String,
    pub exit_code: Option<i64>,
    /// The engine's message (`The command '/bin/sh -c …' returned a non-zero code: 3`).
    pub message: String,
    /// The step's last lines of output (at most 20).
    pub output: Vec<String>,
}

/// What to do about an engine's message, when it is a registry refusing a pull.
fn hint(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if ["no basic auth credentials", "unauthorized", "authentication required", "pull access denied", "denied:"].iter().any(|s| m.contains(s)) {
        " (the engine pulls FROM images with the build's registry credentials: give the right ones for this registry)"
    } else {
        ""
    }
}

fn output_tail(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("\n  last output:\n    {}", lines.join("\n    "))
    }
}

/// The network `RUN` steps see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildNetwork {
    /// The host's network (no bridge is needed on the engine).
    #[default]
    Host,
    /// No network at all: hermetic `RUN` steps.
    None,
}

impl BuildNetwork {
    fn mode(self) -> &'static str {
        match self {
            BuildNetwork::Host => "host",
            BuildNetwork::None => "none",
        }
    }
}

/// One build: what `docker build` would be given.
#[derive(Debug, Clone, Default)]
pub struct DockerBuild {
    /// The build context directory (its `.dockerignore` is honoured).
    pub context: PathBuf,
    /// The Dockerfile, relative to the context (`Dockerfile` when empty);
    /// it may lie outside the context (`../build/app.Dockerfile`, or an
    /// absolute path).
    pub dockerfile: String,
    /// `--build-arg NAME=VALUE`.
    pub build_args: BTreeMap<String, String>,
    /// `--target STAGE`.
    pub target: Option<String>,
    /// `--label`; the OCI labels below are added to these.
    pub labels: BTreeMap<String, String>,
    /// `-t`: every name the image is tagged with in the engine.
    pub tags: Vec<String>,
    pub network: BuildNetwork,
    /// `org.opencontainers.image.revision`: the commit built (CI_COMMIT_SHA).
    pub revision: Option<String>,
    /// `org.opencontainers.image.source`: where the source lives (the repository URL).
    pub source: Option<String>,
    /// `org.opencontainers.image.created` (RFC 3339); now when unset.
    pub created: Option<OffsetDateTime>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// What the engine pulls `FROM` images with, per registry host
    /// (`127.0.0.1:5000`, `123456789012.dkr.ecr.eu-west-1.amazonaws.com`,
    /// `docker.io`); anonymous for any other. Sent to the engine only, in
    /// its `X-Registry-Config` header; never printed.
    pub registry_credentials: BTreeMap<String, Credential>,
}

impl DockerBuild {
    /// A build of `context/Dockerfile` with nothing else set.
    pub fn new(context: impl Into<PathBuf>) -> DockerBuild {
        DockerBuild { context: context.into(), dockerfile: "Dockerfile".to_string(), ..Default::default() }
    }

    fn dockerfile_name(&self) -> &str {
        if self.dockerfile.is_empty() {
            "Dockerfile"
        } else {
            &self.dockerfile
        }
    }

    /// The labels the image gets: the caller's, then the OCI ones.
    pub fn all_labels(&self) -> Result<BTreeMap<String, String>, time::error::Format> {
        let mut labels = self.labels.clone();
        if let Some(r) = &self.revision {
            labels.insert(LABEL_REVISION.to_string(), r.clone());
        }
        if let Some(s) = &self.source {
            labels.insert(LABEL_SOURCE.to_string(), s.clone());
        }
        let created = self.created.unwrap_or_else(OffsetDateTime::now_utc).replace_nanosecond(0).unwrap_or_else(|_| OffsetDateTime::now_utc());
        labels.insert(LABEL_CREATED.to_string(), created.format(&Rfc3339)?);
        Ok(labels)
    }
}

/// What a build reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// `Step 3/7 : COPY . /app`: step 3 of 7 begins, at `line` of the
    /// Dockerfile (none for the step the engine adds for labels).
    Step { step: usize, of: usize, instruction: String, line: Option<usize> },
    /// A line the current step printed (a `RUN`'s output).
    Output(String),
    /// The current step reused the engine's cached layer.
    Cached,
    /// The build is done: the image's id (`sha256:…`).
    Built { id: String },
}

/// A Docker engine reached through its API.
#[derive(Debug, Clone)]
pub struct DockerEngine {
    docker: Docker,
    address: String,
    api_version: String,
}

impl DockerEngine {
    /// The engine `DOCKER_HOST` names, or the default socket.
    pub async fn connect() -> Result<DockerEngine, DockerError> {
        match std::env::var("DOCKER_HOST") {
            Ok(host) if !host.trim().is_empty() => DockerEngine::connect_to_from(host.trim(), "from DOCKER_HOST").await,
            _ => DockerEngine::connect_to_from(DEFAULT_HOST, "the default socket; DOCKER_HOST is unset").await,
        }
    }

    /// The engine at `address` (`unix:///…/docker.sock`, `tcp://host:port`).
    pub async fn connect_to(address: &str) -> Result<DockerEngine, DockerError> {
        DockerEngine::connect_to_from(address, "given").await
    }

    async fn connect_to_from(address: &str, origin: &'static str) -> Result<DockerEngine, DockerError> {
        // Ask at bollard's version first. An engine older than that refuses
        // it, naming its own highest, which is then spoken (bollard's
        // negotiate_version alone asks at bollard's version and so cannot
        // reach an older engine such as Docker 20.10 with API 1.41); a newer
        // one answers, and the lower of the two versions is spoken.
        let ours = *bollard::API_DEFAULT_VERSION;
        let probe = client(address, origin, &ours)?;
        let chosen = match probe.version().await {
            Ok(version) => {
                let server = version.api_version.as_deref().and_then(parse_api_version).ok_or_else(|| DockerError::NoEngine {
                    address: address.to_string(),
                    origin,
                    reason: format!("its /version names no API version ({:?})", version.api_version),
                })?;
                if (server.major_version, server.minor_version) < (ours.major_version, ours.minor_version) {
                    server
                } else {
                    ours
                }
            }
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 400, message }) if highest_supported(&message).is_some() => {
                // Invariant: the guard just found it.
                highest_supported(&message).expect("checked by the guard")
            }
            Err(e) => return Err(no_engine(address, origin, e)),
        };
        let docker = client(address, origin, &chosen)?.negotiate_version().await.map_err(|e| no_engine(address, origin, e))?;
        let v = docker.client_version();
        Ok(DockerEngine { docker, address: address.to_string(), api_version: format!("{}.{}", v.major_version, v.minor_version) })
    }

    /// Where the engine was reached.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The API version spoken with it (`1.41` for Docker 20.10).
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// Builds `build` with the engine's classic builder, reporting progress
    /// to `on_event`, and returns the image id (`sha256:…`). The image is
    /// tagged with every name in `build.tags`.
    pub async fn build(&self, build: &DockerBuild, mut on_event: impl FnMut(BuildEvent)) -> Result<String, DockerError> {
        let prepared = {
            let owned = build.clone();
            tokio::task::spawn_blocking(move || prepare(&owned)).await.map_err(|e| DockerError::Dockerfile { path: build.context.clone(), reason: format!("packing the context stopped: {e}") })??
        };
        let Prepared { dockerfile_path, name, text, tar } = prepared;
        // Step N of the classic builder is the Nth instruction. A Dockerfile
        // our parser refuses is still the engine's to judge: its steps then
        // go without lines, and the engine's own error says what is wrong.
        let instructions: Vec<(usize, String)> = match dockerfile::parse(&String::from_utf8_lossy(&text)) {
            Ok(parsed) => parsed.instructions().map(|i| (i.line, i.original.clone())).collect(),
            Err(e) => {
                tracing::warn!(dockerfile = %dockerfile_path.display(), error = %e, "the Dockerfile's steps will have no line numbers");
                Vec::new()
            }
        };
        let labels = build.all_labels().map_err(|e| DockerError::Dockerfile { path: dockerfile_path.clone(), reason: format!("the created time cannot be written as RFC 3339: {e}") })?;
        let options = BuildImageOptions {
            dockerfile: name.clone(),
            t: build.tags.first().cloned(),
            buildargs: (!build.build_args.is_empty()).then(|| build.build_args.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>()),
            labels: Some(labels.into_iter().collect()),
            target: build.target.clone().unwrap_or_default(),
            networkmode: Some(build.network.mode().to_string()),
            nocache: build.no_cache,
            pull: None,
            rm: true,
            forcerm: true,
            ..Default::default()
        };
        tracing::info!(engine = %self.address, dockerfile = %dockerfile_path.display(), context_bytes = tar.len(), "docker build");

        let credentials = engine_credentials(&build.registry_credentials);
        let mut stream = self.docker.build_image(options, credentials, Some(bollard::body_full(tar.into())));
        let mut progress = Progress::default();
        let mut image_id: Option<String> = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(text) = info.stream {
                        for line in progress.feed(&text) {
                            progress.line(&line, &instructions, &mut on_event);
                        }
                    }
                    // The id of each stage's image as it ends: the last is the build's.
                    if let Some(id) = info.aux.and_then(|aux| aux.id) {
                        image_id = Some(id);
                    }
                    if let Some(status) = info.status {
                        progress.line(&status, &instructions, &mut on_event);
                    }
                }
                Err(e) => {
                    if let Some(rest) = progress.flush() {
                        progress.line(&rest, &instructions, &mut on_event);
                    }
                    return Err(self.build_error(&dockerfile_path, &instructions, &progress, e));
                }
            }
        }
        if let Some(rest) = progress.flush() {
            progress.line(&rest, &instructions, &mut on_event);
        }
        let id = image_id.ok_or_else(|| DockerError::Build {
            dockerfile: dockerfile_path.clone(),
            address: self.address.clone(),
            step: progress.step_text(),
            message: "the engine ended the build without naming an image".to_string(),
            output: progress.tail.iter().cloned().collect(),
        })?;
        for tag in build.tags.iter().skip(1) {
            let (repo, t) = split_tag(tag);
            self.docker
                .tag_image(&id, Some(TagImageOptions { repo: Some(repo.to_string()), tag: Some(t.to_string()) }))
                .await
                .map_err(|e| DockerError::Engine { address: self.address.clone(), action: format!("tagging {id} as {tag}"), source: e })?;
        }
        on_event(BuildEvent::Built { id: id.clone() });
        Ok(id)
    }

    fn build_error(&self, dockerfile: &Path, instructions: &[(usize, String)], progress: &Progress, e: bollard::errors::Error) -> DockerError {
        let message = match &e {
            bollard::errors::Error::DockerStreamError { error } => error.trim().to_string(),
            bollard::errors::Error::DockerResponseServerError { message, .. } => message.trim().to_string(),
            other => other.to_string(),
        };
        let output: Vec<String> = progress.tail.iter().cloned().collect();
        if let Some((step, of, instruction)) = &progress.step {
            if let Some((line, _)) = instructions.get(step.wrapping_sub(1)) {
                return DockerError::StepFailed(Box::new(StepFailure {
                    dockerfile: dockerfile.to_path_buf(),
                    line: *line,
                    step: *step,
                    of: *of,
                    instruction: instruction.clone(),
                    exit_code: exit_code(&message),
                    message,
                    output,
                }));
            }
        }
        DockerError::Build { dockerfile: dockerfile.to_path_buf(), address: self.address.clone(), step: progress.step_text(), message, output }
    }

    /// Reads `image` (an id or a tag) out of the engine (`docker save`) and
    /// makes it an OCI image: the engine's configuration without its
    /// builder-only fields, and each layer gzipped deterministically, so
    /// exporting the same engine image twice gives the same digest. The
    /// layers' uncompressed digests are checked against the config's
    /// `diff_ids`.
    pub async fn export(&self, image: &str) -> Result<Image, DockerError> {
        let export_err = |reason: String| DockerError::Export { image: image.to_string(), address: self.address.clone(), reason };
        let mut stream = self.docker.export_image(image);
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| DockerError::Engine { address: self.address.clone(), action: format!("exporting {image}"), source: e })?;
            tar.extend_from_slice(&chunk);
        }
        let image_name = image.to_string();
        tokio::task::spawn_blocking(move || oci_from_save(&tar))
            .await
            .map_err(|e| export_err(format!("converting stopped: {e}")))?
            .map_err(|reason| DockerError::Export { image: image_name, address: self.address.clone(), reason })
    }

    /// The underlying bollard client (for what this module does not cover).
    pub fn client(&self) -> &Docker {
        &self.docker
    }
}

/// What is sent to the engine: the context tar and the Dockerfile's name in it.
struct Prepared {
    /// Where the Dockerfile is on this machine (what errors name).
    dockerfile_path: PathBuf,
    /// Its name inside the context tar.
    name: String,
    text: Vec<u8>,
    tar: Vec<u8>,
}

/// Reads the Dockerfile and packs the context (blocking file I/O). A
/// Dockerfile outside the context is sent inside it under a name of its
/// own, which the sent .dockerignore excludes so that the steps never see
/// it (what the docker CLI does with `-f ../Dockerfile`).
fn prepare(build: &DockerBuild) -> Result<Prepared, DockerError> {
    let context = Context::open(&build.context)?;
    let requested = build.dockerfile_name();
    let cleaned = crate::context::clean_path(requested);
    let outside = Path::new(requested).is_absolute() || cleaned == ".." || cleaned.starts_with("../");
    let dockerfile_path = if outside { build.context.join(requested) } else { context.host_path(requested)? };
    let text = std::fs::read(&dockerfile_path).map_err(|e| DockerError::Dockerfile {
        path: dockerfile_path.clone(),
        reason: format!("cannot be read: {e} (the Dockerfile path is relative to the context {})", build.context.display()),
    })?;
    if outside {
        let name = format!(".dockerfile.{}", &digest_of(&text)["sha256:".len()..][..20]);
        let tar = context.tar(&[".dockerignore"])?;
        let tar = with_outside_dockerfile(&tar, &name, &text).map_err(|e| DockerError::Context(ContextError::Io { path: build.context.clone(), source: e }))?;
        Ok(Prepared { dockerfile_path, name, text, tar })
    } else {
        let tar = context.tar(&[&cleaned, ".dockerignore"])?;
        Ok(Prepared { dockerfile_path, name: cleaned, text, tar })
    }
}

/// Credentials as the engine's `X-Registry-Config` wants them: keyed by
/// registry host, Docker Hub by its index address.
fn engine_credentials(credentials: &BTreeMap<String, Credential>) -> Option<HashMap<String, DockerCredentials>> {
    let mut out = HashMap::new();
    for (host, credential) in credentials {
        let key = if matches!(host.as_str(), "docker.io" | "index.docker.io" | "registry-1.docker.io") { "https://index.docker.io/v1/".to_string() } else { host.clone() };
        let base = DockerCredentials { serveraddress: Some(key.clone()), ..Default::default() };
        let entry = match credential {
            Credential::Anonymous => continue,
            Credential::Basic { username, password } => DockerCredentials { username: Some(username.clone()), password: Some(password.expose().to_string()), ..base },
            Credential::IdentityToken(token) => DockerCredentials { identitytoken: Some(token.expose().to_string()), ..base },
            Credential::Bearer(token) => DockerCredentials { registrytoken: Some(token.expose().to_string()), ..base },
        };
        out.insert(key, entry);
    }
    (!out.is_empty()).then_some(out)
}

/// The context tar `tar` with `dockerfile` added as `name`, and `name`
/// added to its `.dockerignore` (made if there is none). Entries are copied
/// as they are (long-name records included).
fn with_outside_dockerfile(tar: &[u8], name: &str, dockerfile: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = tar::Builder::new(Vec::with_capacity(tar.len() + dockerfile.len() + 2048));
    let mut ignore = Vec::new();
    let mut archive = tar::Archive::new(tar);
    let mut entries = archive.entries()?.raw(true);
    for entry in &mut entries {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() && entry.path_bytes().as_ref() == b".dockerignore" {
            std::io::Read::read_to_end(&mut entry, &mut ignore)?;
            continue;
        }
        let header = entry.header().clone();
        out.append(&header, &mut entry)?;
    }
    if !ignore.is_empty() && !ignore.ends_with(b"\n") {
        ignore.push(b'\n');
    }
    ignore.extend_from_slice(name.as_bytes());
    ignore.push(b'\n');
    for (path, data) in [(".dockerignore", ignore.as_slice()), (name, dockerfile)] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        out.append_data(&mut h, path, data)?;
    }
    out.into_inner()
}

fn client(address: &str, origin: &'static str, version: &ClientVersion) -> Result<Docker, DockerError> {
    let unsupported = |reason: &str| DockerError::UnsupportedHost { address: address.to_string(), origin, reason: reason.to_string() };
    if let Some(path) = address.strip_prefix("unix://") {
        if !Path::new(path).exists() {
            return Err(DockerError::NoEngine { address: address.to_string(), origin, reason: format!("there is no socket at {path}") });
        }
        Docker::connect_with_unix(address, REQUEST_TIMEOUT, version).map_err(|e| no_engine(address, origin, e))
    } else if address.starts_with("tcp://") || address.starts_with("http://") {
        if std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty()) {
            return Err(unsupported("DOCKER_TLS_VERIFY is set, and Gantry speaks plain HTTP to an engine over TCP; use the engine's unix socket (or forward it over ssh)"));
        }
        Docker::connect_with_http(address, REQUEST_TIMEOUT, version).map_err(|e| no_engine(address, origin, e))
    } else if address.starts_with("ssh://") {
        Err(unsupported("ssh:// engines are not supported; forward the remote socket (ssh -L /tmp/docker.sock:/var/run/docker.sock host) and set DOCKER_HOST=unix:///tmp/docker.sock"))
    } else {
        Err(unsupported("not an engine address; use unix:///path/to/docker.sock or tcp://host:port"))
    }
}

fn no_engine(address: &str, origin: &'static str, e: bollard::errors::Error) -> DockerError {
    DockerError::NoEngine { address: address.to_string(), origin, reason: e.to_string() }
}

/// `client version 1.49 is too new. Maximum supported API version is 1.41` → 1.41.
fn highest_supported(message: &str) -> Option<ClientVersion> {
    let (_, rest) = message.split_once("Maximum supported API version is ")?;
    parse_api_version(rest.split_whitespace().next()?.trim_end_matches('.'))
}

/// `1.41` → 1.41.
fn parse_api_version(v: &str) -> Option<ClientVersion> {
    let (major, minor) = v.trim().split_once('.')?;
    Some(ClientVersion { major_version: major.parse().ok()?, minor_version: minor.parse().ok()? })
}

/// `repo:tag` → (`repo`, `tag`); `latest` when no tag is named.
fn split_tag(name: &str) -> (&str, &str) {
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (name, "latest"),
    }
}

/// `… returned a non-zero code: 3` → 3.
fn exit_code(message: &str) -> Option<i64> {
    let (_, rest) = message.rsplit_once("returned a non-zero code:")?;
    rest.trim().split(|c: char| !c.is_ascii_digit() && c != '-').next()?.parse().ok()
}

/// The build output's lines as they arrive (the engine splits lines across
/// messages), and what the current step is and printed.
#[derive(Default)]
struct Progress {
    partial: String,
    step: Option<(usize, usize, String)>,
    tail: std::collections::VecDeque<String>,
}

impl Progress {
    fn feed(&mut self, text: &str) -> Vec<String> {
        self.partial.push_str(text);
        let mut lines = Vec::new();
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            lines.push(line.trim_end_matches(['\n', '\r']).to_string());
        }
        lines
    }

    fn step_text(&self) -> Option<String> {
        self.step.as_ref().map(|(n, of, i)| format!("{n}/{of} `{i}`"))
    }

    fn flush(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.partial);
        (!rest.is_empty()).then_some(rest)
    }

    fn line(&mut self, line: &str, instructions: &[(usize, String)], on_event: &mut impl FnMut(BuildEvent)) {
        if let Some((step, of, instruction)) = parse_step(line) {
            self.tail.clear();
            self.step = Some((step, of, instruction.clone()));
            let line = instructions.get(step.wrapping_sub(1)).map(|(l, _)| *l);
            tracing::info!(step, of, %instruction, "build step");
            on_event(BuildEvent::Step { step, of, instruction, line });
            return;
        }
        if line == " ---> Using cache" {
            on_event(BuildEvent::Cached);
            return;
        }
        // The engine's own bookkeeping, not the step's output.
        if line.is_empty() || line.starts_with(" ---> ") || line.starts_with("Removing intermediate container ") || line.starts_with("Successfully built ") || line.starts_with("Successfully tagged ") {
            tracing::debug!(%line, "engine");
            return;
        }
        if self.tail.len() == OUTPUT_TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_string());
        on_event(BuildEvent::Output(line.to_string()));
    }
}

/// `Step 3/7 : COPY . /app` → (3, 7, `COPY . /app`).
fn parse_step(line: &str) -> Option<(usize, usize, String)> {
    let rest = line.strip_prefix("Step ")?;
    let (numbers, instruction) = rest.split_once(" : ")?;
    let (n, of) = numbers.split_once('/')?;
    Some((n.trim().parse().ok()?, of.trim().parse().ok()?, instruction.to_string()))
}

/// A `docker save` archive (the legacy layout, or the OCI layout of Docker
/// 25+: both have `manifest.json`) → an OCI image.
fn oci_from_save(tar_bytes: &[u8]) -> Result<Image, String> {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut archive = tar::Archive::new(tar_bytes);
    for entry in archive.entries().map_err(|e| format!("the archive cannot be read: {e}"))? {
        let mut entry = entry.map_err(|e| format!("the archive cannot be read: {e}"))?;
        let path = entry.path().map_err(|e| format!("an archive entry has a bad name: {e}"))?.to_string_lossy().trim_start_matches("./").to_string();
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut data = Vec::with_capacity(entry.size() as usize);
                std::io::Read::read_to_end(&mut entry, &mut data).map_err(|e| format!("{path} cannot be read: {e}"))?;
                files.insert(path, data);
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                if let Ok(Some(target)) = entry.link_name() {
                    let target = target.to_string_lossy().to_string();
                    let resolved = if entry.header().entry_type() == tar::EntryType::Link || target.starts_with('/') {
                        target.trim_start_matches('/').to_string()
                    } else {
                        let dir = Path::new(&path).parent().map(|p| p.to_string_lossy().to_string()).unwrap_or_default();
                        crate::context::clean_path(&format!("{dir}/{target}"))
                    };
                    links.insert(path, resolved);
                }
            }
            _ => {}
        }
    }
    let get = |name: &str| -> Result<&Vec<u8>, String> {
        let mut name = name.trim_start_matches("./").to_string();
        for _ in 0..8 {
            if let Some(data) = files.get(&name) {
                return Ok(data);
            }
            match links.get(&name) {
                Some(next) => name = next.clone(),
                None => break,
            }
        }
        Err(format!("{name} is missing from the archive"))
    };

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct SaveManifest {
        config: String,
        layers: Vec<String>,
    }
    let manifest: Vec<SaveManifest> = serde_json::from_slice(get("manifest.json")?).map_err(|e| format!("manifest.json: {e}"))?;
    let [manifest] = <[SaveManifest; 1]>::try_from(manifest).map_err(|m| format!("manifest.json names {} images, not one", m.len()))?;
    let engine_config = get(&manifest.config)?;
    let config = oci_config(engine_config).map_err(|e| format!("{}: {e}", manifest.config))?;

    let mut layers = Vec::with_capacity(manifest.layers.len());
    for (i, name) in manifest.layers.iter().enumerate() {
        let data = get(name)?;
        let tar = if data.starts_with(&[0x1f, 0x8b]) {
            let mut plain = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(data.as_slice()), &mut plain).map_err(|e| format!("{name}: {e}"))?;
            std::borrow::Cow::Owned(plain)
        } else {
            std::borrow::Cow::Borrowed(data.as_slice())
        };
        let diff_id = digest_of(&tar);
        if let Some(expected) = config.rootfs.diff_ids.get(i) {
            if *expected != diff_id {
                return Err(format!("layer {} ({name}) has digest {diff_id}, but the config's diff_ids[{i}] is {expected}", i + 1));
            }
        }
        layers.push(Layer { blob: Blob::new(spec::OCI_LAYER_GZIP, gzip(&tar)), diff_id });
    }
    if layers.len() != config.rootfs.diff_ids.len() {
        return Err(format!("the archive has {} layers and the config names {}", layers.len(), config.rootfs.diff_ids.len()));
    }
    Ok(Image::assemble(config, layers))
}

/// The engine's image config as an OCI one: the image-spec's fields (and
/// Docker's Healthcheck, Shell, OnBuild) kept, the builder's bookkeeping
/// (`container`, `container_config`, `docker_version`, the run config's
/// Hostname, Image, Attach*, …) dropped, nulls left out.
pub fn oci_config(engine_config: &[u8]) -> Result<ImageConfig, serde_json::Error> {
    let mut config: ImageConfig = serde_json::from_slice(engine_config)?;
    for key in ["container", "container_config", "docker_version", "id", "parent", "Size"] {
        config.other.remove(key);
    }
    config.other.retain(|_, v| !v.is_null());
    if let Some(run) = &mut config.config {
        run.other.retain(|k, v| !v.is_null() && matches!(k.as_str(), "Healthcheck" | "Shell" | "OnBuild" | "ArgsEscaped"));
        if run.other.get("OnBuild").is_some_and(|v| v.as_array().is_some_and(Vec::is_empty)) {
            run.other.remove("OnBuild");
        }
    }
    Ok(config)
}

/// gzip with nothing of the moment in it: no name, mtime 0, the default
/// level, so the same tar always gives the same bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::GzBuilder::new().mtime(0).write(Vec::with_capacity(data.len() / 2), flate2::Compression::default());
    // Invariant: writing into a Vec cannot fail.
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lines_and_exit_codes_are_read() {
        assert_eq!(parse_step("Step 3/7 : COPY . /app"), Some((3, 7, "COPY . /app".to_string())));
        assert_eq!(parse_step("Stepping"), None);
        assert_eq!(exit_code("The command '/bin/sh -c exit 3' returned a non-zero code: 3"), Some(3));
        let v = highest_supported("client version 1.49 is too new. Maximum supported API version is 1.41").unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        assert!(highest_supported("client version 1.24 is too old. Minimum supported API version is 1.44").is_none());
        assert_eq!(split_tag("localhost:5000/app:v1"), ("localhost:5000/app", "v1"));
        assert_eq!(split_tag("localhost:5000/app"), ("localhost:5000/app", "latest"));
    }

    #[test]
    fn output_is_split_into_lines_across_messages() {
        let mut p = Progress::default();
        let mut events = Vec::new();
        for chunk in ["Step 1/2 : RUN x", "\n", " ---> Running in abc\nhel", "lo\n"] {
            for line in p.feed(chunk) {
                p.line(&line, &[(4, "RUN x".into())], &mut |e| events.push(e));
            }
        }
        assert_eq!(events, vec![BuildEvent::Step { step: 1, of: 2, instruction: "RUN x".into(), line: Some(4) }, BuildEvent::Output("hello".into())]);
    }

    #[test]
    fn gzip_is_deterministic_and_carries_no_time() {
        let a = gzip(b"some tar bytes");
        assert_eq!(a, gzip(b"some tar bytes"));
        assert_eq!(&a[4..8], &[0, 0, 0, 0], "mtime is zero");
        assert_eq!(a[3] & 0x08, 0, "no file name");
    }

    #[test]
    fn engine_bookkeeping_leaves_the_config() {
        let engine = br#"{"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z","docker_version":"20.10.24","container":"abc","container_config":{"Cmd":["x"]},
            "config":{"Hostname":"","Env":["A=1"],"Cmd":["sh"],"Image":"sha256:x","Volumes":null,"OnBuild":null,"Labels":{"l":"v"},"WorkingDir":"/app","User":"1000"},
            "rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created":"2026-01-01T00:00:00Z","created_by":"/bin/sh -c #(nop) ENV A=1","empty_layer":true}]}"#;
        let c = oci_config(engine).unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert!(v.get("container_config").is_none() && v.get("docker_version").is_none() && v.get("container").is_none());
        assert_eq!(v["config"], serde_json::json!({"Env":["A=1"],"Cmd":["sh"],"Labels":{"l":"v"},"WorkingDir":"/app","User":"1000"}));
        assert!(c.history[0].empty_layer);
    }
}
