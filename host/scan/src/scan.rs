//! One scan, end to end: an image reference read from a registry (the
//! host's platform, layers streamed from the registry into the walk through
//! a bounded blocking bridge, nothing extracted to disk and no layer held
//! whole), from the local Docker engine (`docker:ID` or `docker:NAME`,
//! exported into memory), or given as an in-memory `Image`; facts,
//! inventory and secrets in one pass over the layers; vulnerabilities
//! matched from an optional advisory store; a `model::Report` out, with how
//! long each part took. It must not format reports (`report` does) nor
//! decide whether the image is acceptable (the policy does).

use std::io::{self, Read};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gantry_registry::spec::{Descriptor, Platform};
use gantry_registry::{Blob, Client, Image, Reference, RegistryError};
use tokio::sync::{mpsc, Semaphore};

use crate::facts::{self, FactsError};
use crate::fs::WalkStats;
use crate::inventory::{self, Inventory, InventoryError};
use crate::layers::{ImageLayers, LayerInfo, LayerSource, StreamLayers};
use crate::matcher;
use crate::model::Report;
use crate::secrets::{self, SecretScan};
use crate::store::{Store, StoreError};

/// The prefix of a reference to an image in the local Docker engine.
pub const DOCKER_PREFIX: &str = "docker:";
/// The report's `database` when no store is given.
pub const NO_DATABASE: &str = "no advisory database: run `gantry db import`";
/// The report's `database` when vulnerabilities were not looked for.
pub const SKIPPED_DATABASE: &str = "vulnerabilities not checked (--skip-vulnerabilities)";

/// Layers streamed from the registry at once; each holds at most [`CHUNKS_AHEAD`] chunks unread.
const LAYERS_AHEAD: usize = 3;
const CHUNKS_AHEAD: usize = 16;

/// What to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Look for credentials in the env and the layers' text files.
    pub secrets: bool,
    /// Inventory only: do not match packages against the advisory store.
    pub skip_vulnerabilities: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { secrets: true, skip_vulnerabilities: false }
    }
}

/// Why a scan did not finish. Each names the image.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("image {image}: {source}")]
    Reference {
        image: String,
        #[source]
        source: gantry_registry::ReferenceError,
    },
    #[error("image {image}: {source}")]
    Registry {
        image: String,
        #[source]
        source: RegistryError,
    },
    #[cfg(feature = "docker")]
    #[error("image {image} in the local Docker engine: {source}")]
    Docker {
        image: String,
        #[source]
        source: Box<gantry_registry::docker::DockerError>,
    },
    #[error("image {image}: `docker:` references read the local Docker engine, which this build of gantry-scan has no client for; push the image and scan it from its registry")]
    NoDocker { image: String },
    #[error(transparent)]
    Facts(#[from] FactsError),
    #[error("image {image}: {source}")]
    Inventory {
        image: String,
        #[source]
        source: InventoryError,
    },
    #[error("image {image}: matching its packages: {source}")]
    Store {
        image: String,
        #[source]
        source: StoreError,
    },
    #[error("image {image}: the scan stopped: {reason}")]
    Stopped { image: String, reason: String },
}

/// How long each part of a scan took. With a streamed registry read,
/// `pull` is the manifest and config only: the layers arrive during `walk`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    pub pull: Duration,
    /// Layers read, inventory and secrets (one pass).
    pub walk: Duration,
    pub matching: Duration,
}

/// A report and what it took to make.
#[derive(Debug, Clone)]
pub struct Scanned {
    pub report: Report,
    /// The distribution, for the SBOMs' operating-system component.
    pub os: Option<crate::inventory::OsRelease>,
    pub timings: Timings,
    pub walk: WalkStats,
    /// Files that looked like package metadata but could not be read.
    pub problems: Vec<String>,
    /// Text files scanned for secrets, and those skipped as large or binary.
    pub secret_files: (u64, u64, u64),
    /// Whether the layers were streamed from a registry (else read from memory).
    pub streamed: bool,
}

/// Scans images from registries, the local engine, or memory.
#[derive(Clone)]
pub struct Scanner {
    client: Option<Client>,
    store: Option<Arc<Store>>,
    platform: Platform,
    docker_host: Option<String>,
    stream: bool,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner").field("store", &self.store).field("platform", &self.platform).field("docker_host", &self.docker_host).field("stream", &self.stream).finish()
    }
}

impl Scanner {
    /// A scanner reading registries through `client` (None: in-memory and
    /// `docker:` images only), for the host's platform, streaming layers,
    /// without advisories.
    pub fn new(client: Option<Client>) -> Scanner {
        Scanner { client, store: None, platform: Platform::host(), docker_host: None, stream: true }
    }

    /// The advisory store vulnerabilities are matched from (None: inventory only).
    pub fn store(mut self, store: Option<Arc<Store>>) -> Scanner {
        self.store = store;
        self
    }

    /// The platform picked from a multi-platform index (default: the host's).
    pub fn platform(mut self, platform: Platform) -> Scanner {
        self.platform = platform;
        self
    }

    /// The Docker engine `docker:` references are read from (default: `DOCKER_HOST`, else the local socket).
    pub fn docker_host(mut self, address: Option<String>) -> Scanner {
        self.docker_host = address;
        self
    }

    /// Stream layers from the registry (default) or pull them into memory first.
    pub fn streaming(mut self, stream: bool) -> Scanner {
        self.stream = stream;
        self
    }

    /// The advisory store in use.
    pub fn advisory_store(&self) -> Option<&Arc<Store>> {
        self.store.as_ref()
    }

    /// Scans `reference`: `docker:ID|NAME` from the local engine, else a registry reference.
    pub async fn scan(&self, reference: &str, options: ScanOptions) -> Result<Scanned, ScanError> {
        if let Some(local) = reference.strip_prefix(DOCKER_PREFIX) {
            let started = Instant::now();
            let image = self.export(reference, local).await?;
            let pull = started.elapsed();
            let this = self.clone();
            let name = reference.to_string();
            let mut scanned = tokio::task::spawn_blocking(move || this.scan_image(&name, &image, options)).await.map_err(|e| stopped(reference, e))??;
            scanned.timings.pull = pull;
            return Ok(scanned);
        }
        let parsed = Reference::parse(reference).map_err(|source| ScanError::Reference { image: reference.to_string(), source })?;
        let Some(client) = self.client.clone() else {
            return Err(ScanError::Stopped { image: reference.to_string(), reason: "this scanner has no registry client; give it one to read registries".into() });
        };
        let registry = |source| ScanError::Registry { image: reference.to_string(), source };
        let started = Instant::now();
        if !self.stream {
            // `Client::pull`'s future is not provably Send (its buffered blob closures); run it on a blocking thread.
            let handle = tokio::runtime::Handle::current();
            let platform = self.platform.clone();
            let image = tokio::task::spawn_blocking(move || handle.block_on(client.pull(&parsed, &platform))).await.map_err(|e| stopped(reference, e))?.map_err(registry)?;
            let pull = started.elapsed();
            let this = self.clone();
            let name = reference.to_string();
            let mut scanned = tokio::task::spawn_blocking(move || this.scan_image(&name, &image, options)).await.map_err(|e| stopped(reference, e))??;
            scanned.timings.pull = pull;
            return Ok(scanned);
        }
        let (digest, manifest) = client.image(&parsed, &self.platform).await.map_err(registry)?;
        let config = client.blob(&parsed, &manifest.config).await.map_err(registry)?;
        // Facts read the manifest and config only: the layers' descriptors without their bytes.
        let skeleton = Image {
            manifest: Blob { descriptor: Descriptor::new(manifest.media_type.as_deref().unwrap_or(gantry_registry::spec::OCI_MANIFEST), &digest, 0), data: Bytes::new() },
            config: Blob { descriptor: manifest.config.clone(), data: config },
            layers: manifest.layers.iter().map(|d| Blob { descriptor: d.clone(), data: Bytes::new() }).collect(),
        };
        let facts = facts::facts(reference, &skeleton)?;
        let env = skeleton.config().ok().and_then(|c| c.config).and_then(|c| c.env).unwrap_or_default();
        let pull = started.elapsed();

        let failure: Arc<Mutex<Option<RegistryError>>> = Arc::default();
        let mut layers = Vec::with_capacity(manifest.layers.len());
        let mut senders = Vec::with_capacity(manifest.layers.len());
        for d in &manifest.layers {
            let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(CHUNKS_AHEAD);
            layers.push((LayerInfo { digest: d.digest.clone(), media_type: d.media_type.clone(), size: d.size }, ChannelReader { rx, chunk: Bytes::new() }));
            senders.push((d.clone(), tx));
        }
        // Permits taken in layer order, so a later layer never holds the one an earlier layer waits for.
        let feeder = {
            let failure = failure.clone();
            let parsed = parsed.clone();
            tokio::spawn(async move {
                let permits = Arc::new(Semaphore::new(LAYERS_AHEAD));
                for (descriptor, tx) in senders {
                    let Ok(permit) = permits.clone().acquire_owned().await else { return };
                    let (client, parsed, failure) = (client.clone(), parsed.clone(), failure.clone());
                    tokio::spawn(async move {
                        feed(&client, &parsed, &descriptor, tx, &failure).await;
                        drop(permit);
                    });
                }
            })
        };
        let walk_started = Instant::now();
        let this = self.clone();
        let name = reference.to_string();
        let walked = tokio::task::spawn_blocking(move || this.walk(&name, &mut StreamLayers::new(layers), &env, options)).await.map_err(|e| stopped(reference, e));
        feeder.abort();
        let (inventory, secrets, walk) = walked??;
        if let Some(e) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(registry(e));
        }
        let walk_time = walk_started.elapsed();
        let mut scanned = self.finish(reference, facts, inventory, secrets, walk, options)?;
        scanned.timings.pull = pull;
        scanned.timings.walk = walk_time;
        scanned.streamed = true;
        Ok(scanned)
    }

    #[cfg(feature = "docker")]
    async fn export(&self, reference: &str, local: &str) -> Result<Image, ScanError> {
        use gantry_registry::docker::DockerEngine;
        let docker = |source| ScanError::Docker { image: local.to_string(), source: Box::new(source) };
        let engine = match &self.docker_host {
            Some(a) => DockerEngine::connect_to(a).await,
            None => DockerEngine::connect().await,
        }
        .map_err(docker)?;
        let _ = reference;
        engine.export(local).await.map_err(docker)
    }

    #[cfg(not(feature = "docker"))]
    async fn export(&self, reference: &str, _local: &str) -> Result<Image, ScanError> {
        Err(ScanError::NoDocker { image: reference.to_string() })
    }

    /// Scans an image held in memory, known as `reference` (blocking: call it off the async threads).
    pub fn scan_image(&self, reference: &str, image: &Image, options: ScanOptions) -> Result<Scanned, ScanError> {
        let facts = facts::facts(reference, image)?;
        let env = image.config().ok().and_then(|c| c.config).and_then(|c| c.env).unwrap_or_default();
        let started = Instant::now();
        let (inventory, secrets, walk) = self.walk(reference, &mut ImageLayers::new(image), &env, options)?;
        let walk_time = started.elapsed();
        let mut scanned = self.finish(reference, facts, inventory, secrets, walk, options)?;
        scanned.timings.walk = walk_time;
        Ok(scanned)
    }

    fn walk(&self, reference: &str, source: &mut dyn LayerSource, env: &[String], options: ScanOptions) -> Result<(Inventory, SecretScan, WalkStats), ScanError> {
        let inventory_err = |source| ScanError::Inventory { image: reference.to_string(), source };
        if options.secrets {
            secrets::scan_source(source, env).map_err(inventory_err)
        } else {
            let (inventory, walk) = inventory::inventory_of(source).map_err(inventory_err)?;
            Ok((inventory, SecretScan::default(), walk))
        }
    }

    fn finish(&self, reference: &str, facts: crate::model::ImageFacts, inventory: Inventory, secrets: SecretScan, walk: WalkStats, options: ScanOptions) -> Result<Scanned, ScanError> {
        let started = Instant::now();
        let (vulnerabilities, database) = match (&self.store, options.skip_vulnerabilities) {
            (_, true) => (Vec::new(), SKIPPED_DATABASE.to_string()),
            (None, false) => (Vec::new(), NO_DATABASE.to_string()),
            (Some(store), false) => {
                let v = matcher::match_packages(store, &inventory.packages).map_err(|source| ScanError::Store { image: reference.to_string(), source })?;
                (v, store.metadata().describe())
            }
        };
        let matching = started.elapsed();
        let secret_files = (secrets.files_scanned, secrets.skipped_large, secrets.skipped_binary);
        Ok(Scanned {
            report: Report { image: facts, packages: inventory.packages, vulnerabilities, secrets: secrets.findings, database },
            os: inventory.os,
            timings: Timings { pull: Duration::ZERO, walk: Duration::ZERO, matching },
            walk,
            problems: inventory.problems,
            secret_files,
            streamed: false,
        })
    }
}

fn stopped(image: &str, e: tokio::task::JoinError) -> ScanError {
    ScanError::Stopped { image: image.to_string(), reason: e.to_string() }
}

/// Streams one blob into its channel. When the walk stops reading the layer
/// early (the tar's end marker), the rest is still read so that the blob's
/// digest is checked; a mismatch or transport error is kept in `failure`.
async fn feed(client: &Client, repo: &Reference, descriptor: &Descriptor, tx: mpsc::Sender<io::Result<Bytes>>, failure: &Mutex<Option<RegistryError>>) {
    let fail = |e: RegistryError| {
        let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
    };
    let mut stream = match client.blob_stream(repo, descriptor).await {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
            fail(e);
            return;
        }
    };
    let mut reading = true;
    while let Some(chunk) = stream.next_chunk().await {
        match chunk {
            Ok(bytes) => {
                if reading && tx.send(Ok(bytes)).await.is_err() {
                    reading = false;
                }
            }
            Err(e) => {
                if reading {
                    let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                }
                fail(e);
                return;
            }
        }
    }
}

/// The blocking end of a layer's channel.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    chunk: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}
