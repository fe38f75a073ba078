//! The runtime's [`ImageBackend`] over this crate: registry calls through
//! the OCI distribution [`Client`] (with the targets' credentials and
//! endpoints, as its caller configured it), builds through a Docker engine
//! when one answers (or is asked for) and the daemonless builder otherwise,
//! then one push of the same image to every tag, so every target gets the
//! same digest. Build output becomes run-log lines. It is handed only
//! scoped requests (the capability checked them); it must not widen them,
//! and it prints no credential (the client keeps them in headers).

use std::collections::BTreeMap;
use std::sync::Arc;

use gantry_runtime::cluster::{BackendError, BackendErrorKind, BackendResult};
use gantry_runtime::images::{BuildEngine, BuiltImage, ImageBackend, ImageBuild, ImageFacts, LayerInfo};
use gantry_runtime::{Level, LogLine, LogSink, Source};

use crate::client::{Client, RegistryError};
use crate::daemonless::{self, BaseImages, DaemonlessBuild};
use crate::image::Image;
use crate::reference::Reference;
use crate::spec::{Platform, LABEL_CREATED, LABEL_REVISION, LABEL_SOURCE};

/// Registries and builders for one run.
pub struct RegistryBackend {
    client: Client,
    simulated: bool,
    revision: Option<String>,
    source: Option<String>,
    source_date_epoch: Option<i64>,
    platform: Platform,
    docker_host: Option<String>,
}

impl RegistryBackend {
    /// Registry calls and pushes through `client`; builds for this machine's platform.
    pub fn new(client: Client) -> RegistryBackend {
        RegistryBackend { client, simulated: false, revision: None, source: None, source_date_epoch: None, platform: Platform::host(), docker_host: None }
    }

    /// A simulated run: without a Docker engine, `RUN` steps are skipped
    /// (with a warning and in the result) instead of failing the build.
    pub fn simulated(mut self, simulated: bool) -> RegistryBackend {
        self.simulated = simulated;
        self
    }

    /// `org.opencontainers.image.revision` (CI_COMMIT_SHA) and `.source` (the repository URL).
    pub fn provenance(mut self, revision: Option<String>, source: Option<String>) -> RegistryBackend {
        self.revision = revision;
        self.source = source;
        self
    }

    /// `SOURCE_DATE_EPOCH`: the time of every file and of the image, for
    /// daemonless builds (0 when unset, so the same inputs give the same digest).
    pub fn source_date_epoch(mut self, epoch: Option<i64>) -> RegistryBackend {
        self.source_date_epoch = epoch;
        self
    }

    /// The credentials of the registries `request`'s Dockerfile pulls `FROM`,
    /// from the client's source (ARGs before the first FROM and build args
    /// expanded; `scratch` and earlier stages skipped; anonymous ones left out).
    #[cfg(feature = "docker")]
    async fn base_credentials(&self, request: &ImageBuild) -> BackendResult<BTreeMap<String, crate::Credential>> {
        let mut found = BTreeMap::new();
        let source = self.client.credentials();
        let path = request.context.join(&request.dockerfile);
        // A Dockerfile that cannot be read or parsed here fails in the engine with its own words.
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(found) };
        let Ok(parsed) = crate::dockerfile::parse(&text) else { return Ok(found) };
        let mut args: BTreeMap<String, String> = BTreeMap::new();
        for instruction in &parsed.args_before_from {
            if let crate::dockerfile::Kind::Arg(decls) = &instruction.kind {
                for d in decls {
                    if let Some(v) = request.build_args.iter().find(|(k, _)| *k == d.name).map(|(_, v)| v.clone()).or_else(|| d.default.clone()) {
                        args.insert(d.name.clone(), v);
                    }
                }
            }
        }
        let mut stages: Vec<String> = Vec::new();
        for stage in &parsed.stages {
            let base = crate::dockerfile::expand(stage.base(), parsed.directives.escape, &|name| args.get(name).cloned()).unwrap_or_default();
            if let Some(name) = &stage.name {
                stages.push(name.clone());
            }
            if base.is_empty() || base == "scratch" || stages.iter().any(|s| s.eq_ignore_ascii_case(&base)) {
                continue;
            }
            let Ok(reference) = Reference::parse(&base) else { continue };
            if found.contains_key(&reference.domain) {
                continue;
            }
            let credential = source.credential(&reference.domain).await.map_err(|e| BackendError::new(BackendErrorKind::Failed, format!("{}:{}: FROM {base}: {e}", request.dockerfile, stage.from.line)))?;
            if credential != crate::Credential::Anonymous {
                found.insert(reference.domain.clone(), credential);
            }
        }
        Ok(found)
    }

    /// The Docker engine to build with (`unix:///…/docker.sock`), instead of
    /// `DOCKER_HOST` or the default socket.
    pub fn docker_host(mut self, address: Option<String>) -> RegistryBackend {
        self.docker_host = address;
        self
    }

    #[cfg(feature = "docker")]
    async fn connect_engine(&self) -> Result<crate::docker::DockerEngine, crate::docker::DockerError> {
        match &self.docker_host {
            Some(address) => crate::docker::DockerEngine::connect_to(address).await,
            None => crate::docker::DockerEngine::connect().await,
        }
    }

    fn reference(&self, text: &str) -> BackendResult<Reference> {
        Reference::parse(text).map_err(|e| BackendError::new(BackendErrorKind::Invalid, format!("image `{text}`: {e}")))
    }

    /// The labels every build gets besides the caller's: revision and source
    /// when known, and `created` for daemonless builds only when an epoch is
    /// set (a clock time would change the digest of every build).
    fn oci_labels(&self, labels: &[(String, String)], created: Option<String>) -> BTreeMap<String, String> {
        let mut all: BTreeMap<String, String> = labels.iter().cloned().collect();
        if let Some(r) = &self.revision {
            all.entry(LABEL_REVISION.to_string()).or_insert_with(|| r.clone());
        }
        if let Some(s) = &self.source {
            all.entry(LABEL_SOURCE.to_string()).or_insert_with(|| s.clone());
        }
        if let Some(c) = created {
            all.entry(LABEL_CREATED.to_string()).or_insert(c);
        }
        all
    }

    async fn build_daemonless(&self, request: &ImageBuild, log: &LogSink) -> BackendResult<(Image, Vec<String>)> {
        let created = self.source_date_epoch.and_then(|e| time::OffsetDateTime::from_unix_timestamp(e).ok()).and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok());
        let spec = DaemonlessBuild {
            context: request.context.clone(),
            dockerfile: request.dockerfile.clone().into(),
            build_args: request.build_args.iter().cloned().collect(),
            target: request.target.clone(),
            platform: self.platform.clone(),
            source_date_epoch: self.source_date_epoch,
            labels: self.oci_labels(&request.labels, created),
            skip_run: self.simulated,
        };
        let bases = RegistryBases { client: self.client.clone(), handle: tokio::runtime::Handle::current() };
        let log = log.clone();
        let dockerfile = request.dockerfile.clone();
        // The builder reads files and compresses layers: off the async workers.
        let built = tokio::task::spawn_blocking(move || {
            daemonless::build(&spec, &bases, &mut |event| match event {
                daemonless::BuildEvent::Step { step, total, line, instruction } => {
                    emit(&log, Level::Info, format!("Step {step}/{total} : {instruction} ({dockerfile}:{line})"), Some((step as u64, total as u64)));
                }
                daemonless::BuildEvent::Layer { line, diff_id, size } => emit(&log, Level::Debug, format!("{dockerfile}:{line}: layer {diff_id} ({size} bytes)"), None),
                daemonless::BuildEvent::Warning { line, message } => {
                    let at = line.map(|l| format!("{dockerfile}:{l}: ")).unwrap_or_default();
                    emit(&log, Level::Warn, format!("{at}{message}"), None);
                }
            })
        })
        .await
        .map_err(|e| BackendError::new(BackendErrorKind::Failed, format!("the daemonless build stopped: {e}")))?
        .map_err(|e| BackendError::new(BackendErrorKind::Invalid, format!("daemonless build of {}: {e}", request.context.display())))?;
        let skipped = built.skipped.iter().map(|s| format!("{}:{}: {}", request.dockerfile, s.line, s.instruction)).collect();
        Ok((built.image, skipped))
    }

    #[cfg(feature = "docker")]
    async fn build_docker(&self, engine: &crate::docker::DockerEngine, request: &ImageBuild, log: &LogSink) -> BackendResult<Image> {
        use crate::docker::{BuildEvent, DockerBuild};
        let registry_credentials = self.base_credentials(request).await?;
        let build = DockerBuild {
            context: request.context.clone(),
            dockerfile: request.dockerfile.clone(),
            build_args: request.build_args.iter().cloned().collect(),
            target: request.target.clone(),
            labels: request.labels.iter().cloned().collect(),
            tags: request.tags.clone(),
            revision: self.revision.clone(),
            source: self.source.clone(),
            created: self.source_date_epoch.and_then(|e| time::OffsetDateTime::from_unix_timestamp(e).ok()),
            registry_credentials,
            ..DockerBuild::default()
        };
        let id = engine
            .build(&build, |event| match event {
                BuildEvent::Step { step, of, instruction, line } => {
                    let at = line.map(|l| format!(" ({}:{l})", request.dockerfile)).unwrap_or_default();
                    emit(log, Level::Info, format!("Step {step}/{of} : {instruction}{at}"), Some((step as u64, of as u64)));
                }
                BuildEvent::Output(line) => emit(log, Level::Info, line, None),
                BuildEvent::Cached => emit(log, Level::Debug, " ---> Using cache".to_string(), None),
                BuildEvent::Built { id } => emit(log, Level::Info, format!("built {id} on the engine at {}", engine.address()), None),
            })
            .await
            .map_err(docker_error)?;
        engine.export(&id).await.map_err(docker_error)
    }

    /// Which engine builds `request`, by its `engine` and what answers.
    #[cfg(feature = "docker")]
    async fn engine_for(&self, request: &ImageBuild, log: &LogSink) -> BackendResult<Option<crate::docker::DockerEngine>> {
        match request.engine {
            BuildEngine::Daemonless => Ok(None),
            BuildEngine::Docker => self.connect_engine().await.map(Some).map_err(docker_error),
            BuildEngine::Auto => match self.connect_engine().await {
                Ok(engine) => Ok(Some(engine)),
                Err(e) => {
                    emit(log, Level::Info, format!("building without a Docker engine (daemonless): {e}"), None);
                    Ok(None)
                }
            },
        }
    }

    #[cfg(not(feature = "docker"))]
    async fn engine_for(&self, request: &ImageBuild, _: &LogSink) -> BackendResult<Option<std::convert::Infallible>> {
        match request.engine {
            BuildEngine::Docker => Err(BackendError::new(BackendErrorKind::Invalid, "this gantry was built without Docker support: use the daemonless backend")),
            _ => Ok(None),
        }
    }
}


fn emit(log: &LogSink, level: Level, message: String, progress: Option<(u64, u64)>) {
    log(LogLine { level, source: Source::Host, message, fields: Vec::new(), progress });
}

#[cfg(feature = "docker")]
fn docker_error(e: crate::docker::DockerError) -> BackendError {
    use crate::docker::DockerError;
    let kind = match &e {
        DockerError::NoEngine { .. } => BackendErrorKind::Unavailable,
        DockerError::StepFailed(_) | DockerError::Dockerfile { .. } | DockerError::Context(_) | DockerError::UnsupportedHost { .. } => BackendErrorKind::Invalid,
        _ => BackendErrorKind::Failed,
    };
    BackendError::new(kind, e.to_string())
}

/// A registry error in the runtime's terms: the registry's answer picks the kind.
fn registry_error(e: RegistryError) -> BackendError {
    let kind = match (e.status(), e.code()) {
        (Some(404), _) | (_, "MANIFEST_UNKNOWN" | "BLOB_UNKNOWN" | "NAME_UNKNOWN") => BackendErrorKind::NotFound,
        (Some(400), _) | (_, "DIGEST_INVALID" | "MANIFEST_INVALID" | "NAME_INVALID" | "TAG_INVALID") => BackendErrorKind::Invalid,
        (Some(409), _) => BackendErrorKind::Conflict,
        (Some(429 | 500..=599), _) | (None, _) => BackendErrorKind::Unavailable,
        _ => BackendErrorKind::Failed,
    };
    BackendError::new(kind, e.to_string())
}

/// `FROM image` through the registry client, from the builder's blocking thread.
struct RegistryBases {
    client: Client,
    handle: tokio::runtime::Handle,
}

impl BaseImages for RegistryBases {
    fn pull(&self, reference: &Reference, platform: &Platform) -> Result<Image, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.handle.block_on(self.client.pull(reference, platform))?)
    }
}

#[async_trait::async_trait]
impl ImageBackend for RegistryBackend {
    async fn resolve(&self, reference: &str) -> BackendResult<String> {
        let r = self.reference(reference)?;
        self.client.resolve(&r).await.map_err(registry_error)
    }

    async fn config(&self, reference: &str) -> BackendResult<ImageFacts> {
        let r = self.reference(reference)?;
        let (digest, _) = self.client.image(&r, &self.platform).await.map_err(registry_error)?;
        let (_, config) = self.client.config(&r, &self.platform).await.map_err(registry_error)?;
        let run = config.config.unwrap_or_default();
        let mut exposed_ports: Vec<String> = run.exposed_ports.unwrap_or_default().into_keys().collect();
        exposed_ports.sort();
        Ok(ImageFacts {
            digest,
            architecture: config.architecture,
            os: config.os,
            user: run.user.unwrap_or_default(),
            env: run.env.unwrap_or_default(),
            entrypoint: run.entrypoint.unwrap_or_default(),
            cmd: run.cmd.unwrap_or_default(),
            working_dir: run.working_dir.unwrap_or_default(),
            exposed_ports,
            labels: run.labels.unwrap_or_default().into_iter().collect(),
            created: config.created,
        })
    }

    async fn layers(&self, reference: &str) -> BackendResult<Vec<LayerInfo>> {
        let r = self.reference(reference)?;
        let (_, manifest) = self.client.image(&r, &self.platform).await.map_err(registry_error)?;
        Ok(manifest.layers.into_iter().map(|d| LayerInfo { media_type: d.media_type, digest: d.digest, size: d.size }).collect())
    }

    async fn copy(&self, source: &str, destination: &str) -> BackendResult<String> {
        let (s, d) = (self.reference(source)?, self.reference(destination)?);
        self.client.copy(&s, &d).await.map_err(registry_error)
    }

    async fn build(&self, request: &ImageBuild, log: LogSink) -> BackendResult<BuiltImage> {
        let tags = request.tags.iter().map(|t| self.reference(t)).collect::<BackendResult<Vec<_>>>()?;
        let (image, skipped) = match self.engine_for(request, &log).await? {
            #[cfg(feature = "docker")]
            Some(engine) => (self.build_docker(&engine, request, &log).await?, Vec::new()),
            #[allow(unreachable_patterns)]
            _ => self.build_daemonless(request, &log).await?,
        };
        let digest = image.digest().to_string();
        let mut pushed = Vec::new();
        if request.push {
            let image = Arc::new(image.clone());
            let pushes = tags.iter().map(|tag| {
                let (client, image) = (self.client.clone(), image.clone());
                async move { client.push(&image, tag).await.map(|d| (tag.to_string(), d)) }
            });
            for result in futures::future::join_all(pushes).await {
                let (tag, got) = result.map_err(registry_error)?;
                if got != digest {
                    return Err(BackendError::new(BackendErrorKind::Failed, format!("{tag} answered digest {got} for the image built as {digest}: the registry changed the manifest")));
                }
                emit(&log, Level::Info, format!("pushed {tag} ({digest})"), None);
                pushed.push(tag);
            }
        }
        Ok(BuiltImage { digest, pushed, size: image.size(), skipped })
    }
}
