//! Daemonless builds: an OCI image from a Dockerfile without a Docker
//! engine, in the way of ko, jib and `crane append` — the base image's
//! layers kept as they are, one new layer per COPY/ADD (and per WORKDIR that
//! creates its directory), the configuration edited as the docker builder
//! edits it. Layers are reproducible: entries sorted, one fixed mtime
//! (`SOURCE_DATE_EPOCH` from the caller, else 0), owners and modes as docker
//! writes them, PAX records only where USTAR cannot hold a value, gzip with
//! no name and no time; the same inputs give the same digest.
//!
//! It runs no command: a `RUN` is an error naming its line unless the caller
//! asks for simulated runs (`skip_run`), where each RUN is skipped with a
//! warning and listed. It never pulls by itself: base images come from a
//! [`BaseImages`] the caller gives (the OCI client, or images in memory).
//! It is blocking (files, gzip): call it from `spawn_blocking`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;

use bytes::Bytes;

use crate::context::{self, clean_path, Context, ContextError, EntryKind};
use crate::dockerfile::{self, Command, CopySpec, Dockerfile, DockerfileError, Health, Instruction, Kind};
use crate::image::{digest_of, Blob, Image, Layer};
use crate::reference::Reference;
use crate::spec::{self, History, ImageConfig, Platform, RunConfig};

/// The default `PATH` docker gives a Linux image that has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Build arguments docker never warns about when unused.
const PREDEFINED_ARGS: [&str; 8] = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy"];

/// What to build.
#[derive(Debug, Clone)]
pub struct DaemonlessBuild {
    /// The build context directory.
    pub context: PathBuf,
    /// The Dockerfile, relative to the context (or absolute): `Dockerfile` by default.
    pub dockerfile: PathBuf,
    /// `--build-arg NAME=value`.
    pub build_args: BTreeMap<String, String>,
    /// `--target`: the stage to stop at (the last stage by default).
    pub target: Option<String>,
    /// The platform base images are pulled for (and of a `FROM scratch` image).
    pub platform: Platform,
    /// `SOURCE_DATE_EPOCH`: every mtime and `created`; 0 when `None`.
    pub source_date_epoch: Option<i64>,
    /// `--label`s set on the final image (no history entry).
    pub labels: BTreeMap<String, String>,
    /// Simulated runs: skip each RUN with a warning instead of refusing it.
    pub skip_run: bool,
}

impl DaemonlessBuild {
    /// A build of `context/Dockerfile` for this machine's platform.
    pub fn new(context: impl Into<PathBuf>) -> DaemonlessBuild {
        DaemonlessBuild {
            context: context.into(),
            dockerfile: PathBuf::from("Dockerfile"),
            build_args: BTreeMap::new(),
            target: None,
            platform: Platform::host(),
            source_date_epoch: None,
            labels: BTreeMap::new(),
            skip_run: false,
        }
    }
}

/// Where `FROM image` and `COPY --from=image` come from.
pub trait BaseImages {
    /// The single-platform image `reference` names for `platform`.
    fn pull(&self, reference: &Reference, platform: &Platform) -> Result<Image, Box<dyn std::error::Error + Send + Sync>>;
}

/// No registry at all: only `FROM scratch` builds.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBaseImages;

impl BaseImages for NoBaseImages {
    fn pull(&self, reference: &Reference, _: &Platform) -> Result<Image, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("no registry is configured to pull {reference} from").into())
    }
}

/// Images held in memory by reference (tests, and images imported from `docker save`).
#[derive(Debug, Clone, Default)]
pub struct MemoryBases {
    images: BTreeMap<String, Image>,
}

impl MemoryBases {
    pub fn new() -> MemoryBases {
        MemoryBases::default()
    }

    /// Adds `image` under `reference` (normalised: `busybox` is `docker.io/library/busybox:latest`).
    pub fn insert(&mut self, reference: &str, image: Image) -> Result<(), crate::ReferenceError> {
        let r = Reference::parse(reference)?;
        self.images.insert(key_of(&r), image);
        Ok(())
    }
}

fn key_of(r: &Reference) -> String {
    match (&r.digest, &r.tag) {
        (Some(d), _) => format!("{}@{d}", r.name()),
        (None, Some(t)) => format!("{}:{t}", r.name()),
        (None, None) => format!("{}:latest", r.name()),
    }
}

impl BaseImages for MemoryBases {
    fn pull(&self, reference: &Reference, _: &Platform) -> Result<Image, Box<dyn std::error::Error + Send + Sync>> {
        self.images.get(&key_of(reference)).cloned().ok_or_else(|| format!("{reference} is not among the images given ({})", self.images.keys().cloned().collect::<Vec<_>>().join(", ")).into())
    }
}

/// The image in a `docker save` archive (its `manifest.json`): the entry
/// tagged `tag` (e.g. `busybox:latest`), or the first. Layers stay
/// uncompressed, so their digests are their diff IDs.
pub fn image_from_docker_archive(archive: &[u8], tag: Option<&str>) -> Result<Image, String> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries().map_err(|e| format!("docker save archive: {e}"))? {
        let mut entry = entry.map_err(|e| format!("docker save archive: {e}"))?;
        if entry.header().entry_type().is_file() {
            let name = entry.path().map_err(|e| format!("docker save archive: {e}"))?.to_string_lossy().trim_start_matches("./").to_string();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(|e| format!("docker save archive {name}: {e}"))?;
            files.insert(name, data);
        }
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        config: String,
        #[serde(default)]
        repo_tags: Option<Vec<String>>,
        layers: Vec<String>,
    }
    let manifest = files.get("manifest.json").ok_or("docker save archive has no manifest.json (is it a `docker save` output?)")?;
    let entries: Vec<Entry> = serde_json::from_slice(manifest).map_err(|e| format!("docker save manifest.json: {e}"))?;
    let entry = match tag {
        Some(t) => entries.iter().find(|e| e.repo_tags.as_ref().is_some_and(|tags| tags.iter().any(|x| x == t))),
        None => entries.first(),
    }
    .ok_or_else(|| format!("docker save archive has no image tagged {}", tag.unwrap_or("(any)")))?;
    let config_bytes = files.get(&entry.config).ok_or_else(|| format!("docker save archive lacks {}", entry.config))?;
    let config: ImageConfig = serde_json::from_slice(config_bytes).map_err(|e| format!("docker save config {}: {e}", entry.config))?;
    let mut layers = Vec::new();
    for l in &entry.layers {
        let data = files.get(l).ok_or_else(|| format!("docker save archive lacks layer {l}"))?;
        let diff_id = digest_of(data);
        layers.push(Layer { blob: Blob::new(spec::OCI_LAYER, data.clone()), diff_id });
    }
    Ok(Image::assemble(config, layers))
}

/// What happens during a build, for the run log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// `Step n/N : INSTRUCTION` (the classic builder's numbering).
    Step { step: usize, total: usize, line: usize, instruction: String },
    /// A new layer (`size`: of its uncompressed tar).
    Layer { line: usize, diff_id: String, size: u64 },
    /// Something docker would warn about (unused build args, skipped RUNs).
    Warning { line: Option<usize>, message: String },
}

/// A RUN left out of a simulated build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedStep {
    pub line: usize,
    pub instruction: String,
    /// The stage's name (or index) it belongs to.
    pub stage: String,
}

/// A built image and what was skipped to build it.
#[derive(Debug, Clone)]
pub struct Built {
    pub image: Image,
    pub skipped: Vec<SkippedStep>,
}

/// Why a daemonless build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Dockerfile(#[from] DockerfileError),
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error("{file}: {message}")]
    Read { file: String, message: String },
    /// A RUN met without `skip_run`.
    #[error("{file}:{line}: {instruction}: RUN needs a Docker engine — a daemonless build runs no commands (build with the docker backend, or write the Dockerfile without RUN)")]
    RunNeedsEngine { file: String, line: usize, instruction: String },
    /// An instruction that cannot be carried out.
    #[error("{file}:{line}: {instruction}: {message} ({hint})")]
    Step { file: String, line: usize, instruction: String, message: String, hint: String },
}

/// Builds the image `spec` describes.
pub fn build(spec: &DaemonlessBuild, base: &dyn BaseImages, on_event: &mut dyn FnMut(BuildEvent)) -> Result<Built, BuildError> {
    let _span = tracing::info_span!("daemonless_build", context = %spec.context.display(), dockerfile = %spec.dockerfile.display()).entered();
    let context = Context::open(&spec.context)?;
    let file_name = spec.dockerfile.to_string_lossy().into_owned();
    let dockerfile_path = if spec.dockerfile.is_absolute() { spec.dockerfile.clone() } else { spec.context.join(&spec.dockerfile) };
    let text = std::fs::read_to_string(&dockerfile_path)
        .map_err(|e| BuildError::Read { file: dockerfile_path.display().to_string(), message: format!("{e} (give the Dockerfile's path relative to the context)") })?;
    let df = dockerfile::parse(&text).map_err(|e| e.in_file(&file_name))?;
    Builder::new(spec, &context, &df, &file_name, base, on_event)?.run()
}

/// A file's bytes: read from the context when written, or held.
#[derive(Debug, Clone)]
enum Data {
    Mem(Bytes),
    Host(PathBuf),
}

impl Data {
    fn bytes(&self) -> std::io::Result<Bytes> {
        match self {
            Data::Mem(b) => Ok(b.clone()),
            Data::Host(p) => std::fs::read(p).map(Bytes::from),
        }
    }
}

#[derive(Debug, Clone)]
enum NodeKind {
    Dir,
    File(Data),
    Symlink(String),
    /// Devices and fifos of a base image: kept, never copied.
    Other,
}

#[derive(Debug, Clone)]
struct Node {
    kind: NodeKind,
    mode: u32,
    uid: u64,
    gid: u64,
}

impl Node {
    fn dir(mode: u32, uid: u64, gid: u64) -> Node {
        Node { kind: NodeKind::Dir, mode, uid, gid }
    }
}

/// A filesystem tree: an image's (its layers applied) or a context's.
/// Paths are relative to the root, `/`-separated, without `./`.
#[derive(Debug, Clone, Default)]
struct Fs {
    nodes: BTreeMap<String, Node>,
}

fn parent_of(path: &str) -> &str {
    path.rfind('/').map(|i| &path[..i]).unwrap_or("")
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// `/a/./b/` → `a/b`; `/` → ``.
fn rel(path: &str) -> String {
    let c = clean_path(&format!("/{path}"));
    c.trim_start_matches('/').to_string()
}

impl Fs {
    fn from_context(ctx: &Context) -> Result<Fs, ContextError> {
        let mut fs = Fs::default();
        for e in ctx.files()? {
            // A file re-included inside an excluded directory: the directory
            // is made as the engine makes it when unpacking the context.
            let mut p = parent_of(&e.path);
            while !p.is_empty() && !fs.nodes.contains_key(p) {
                fs.nodes.insert(p.to_string(), Node::dir(0o755, 0, 0));
                p = parent_of(p);
            }
            let kind = match &e.kind {
                EntryKind::Dir => NodeKind::Dir,
                EntryKind::File => NodeKind::File(Data::Host(ctx.root().join(&e.path))),
                EntryKind::Symlink(t) => NodeKind::Symlink(t.clone()),
            };
            fs.nodes.insert(e.path.clone(), Node { kind, mode: e.mode, uid: 0, gid: 0 });
        }
        Ok(fs)
    }

    fn get(&self, path: &str) -> Option<&Node> {
        if path.is_empty() {
            return None;
        }
        self.nodes.get(path)
    }

    fn is_dir(&self, path: &str) -> bool {
        path.is_empty() || matches!(self.get(path).map(|n| &n.kind), Some(NodeKind::Dir))
    }

    /// Follows symlinks in every component, never above the root (docker's FollowSymlinkInScope).
    fn resolve(&self, path: &str) -> String {
        let mut pending: Vec<String> = path.split('/').filter(|c| !c.is_empty() && *c != ".").rev().map(String::from).collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            if c == ".." {
                done.pop();
                continue;
            }
            let candidate = if done.is_empty() { c.clone() } else { format!("{}/{c}", done.join("/")) };
            if let Some(Node { kind: NodeKind::Symlink(target), .. }) = self.nodes.get(&candidate) {
                hops += 1;
                if hops > 255 {
                    done.push(c);
                    continue;
                }
                if target.starts_with('/') {
                    done.clear();
                }
                for part in target.split('/').filter(|p| !p.is_empty() && *p != ".").rev() {
                    pending.push(part.to_string());
                }
                continue;
            }
            done.push(c);
        }
        done.join("/")
    }

    fn remove_tree(&mut self, path: &str) {
        self.nodes.remove(path);
        let prefix = format!("{path}/");
        let doomed: Vec<String> = self.nodes.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(k, _)| k.clone()).collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// Paths below `dir` (all paths for the root), parents before children.
    fn below(&self, dir: &str) -> Vec<String> {
        if dir.is_empty() {
            return self.nodes.keys().cloned().collect();
        }
        let prefix = format!("{dir}/");
        self.nodes.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(k, _)| k.clone()).collect()
    }

    /// Applies one layer (tar, gzip or not), whiteouts included.
    fn apply_layer(&mut self, blob: &[u8]) -> Result<(), String> {
        let tar = decompress(blob)?;
        let mut entries = Vec::new();
        let mut archive = tar::Archive::new(&tar[..]);
        for entry in archive.entries().map_err(|e| e.to_string())? {
            let mut entry = entry.map_err(|e| e.to_string())?;
            let path = rel(&entry.path().map_err(|e| e.to_string())?.to_string_lossy());
            if path.is_empty() {
                continue;
            }
            let h = entry.header();
            let mode = h.mode().unwrap_or(0o644) & 0o7777;
            let uid = h.uid().unwrap_or(0);
            let gid = h.gid().unwrap_or(0);
            let et = h.entry_type();
            let link = entry.link_name().ok().flatten().map(|l| l.to_string_lossy().into_owned());
            let kind = match et {
                tar::EntryType::Directory => Some(NodeKind::Dir),
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let mut data = Vec::new();
                    entry.read_to_end(&mut data).map_err(|e| format!("{path}: {e}"))?;
                    Some(NodeKind::File(Data::Mem(Bytes::from(data))))
                }
                tar::EntryType::Symlink => Some(NodeKind::Symlink(link.clone().unwrap_or_default())),
                tar::EntryType::Link => None,
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => Some(NodeKind::Other),
                _ => continue,
            };
            entries.push((path, kind, link, mode, uid, gid));
        }
        // Whiteouts remove what lower layers had, before this layer's entries land.
        for (path, ..) in &entries {
            let name = base_name(path);
            if name == ".wh..wh..opq" {
                let dir = parent_of(path).to_string();
                for p in self.below(&dir) {
                    self.nodes.remove(&p);
                }
            } else if let Some(hidden) = name.strip_prefix(".wh.") {
                self.remove_tree(&join(parent_of(path), hidden));
            }
        }
        for (path, kind, link, mode, uid, gid) in entries {
            if base_name(&path).starts_with(".wh.") {
                continue;
            }
            let kind = match kind {
                Some(k) => k,
                // A hard link: the same bytes as its target.
                None => match link.as_deref().map(rel).and_then(|t| self.nodes.get(&t).cloned()) {
                    Some(n) => n.kind,
                    None => continue,
                },
            };
            if !matches!(kind, NodeKind::Dir) {
                self.remove_tree(&path);
            } else if let Some(n) = self.nodes.get(&path) {
                if !matches!(n.kind, NodeKind::Dir) {
                    self.nodes.remove(&path);
                }
            }
            self.nodes.insert(path, Node { kind, mode, uid, gid });
        }
        Ok(())
    }

    fn read_text(&self, path: &str) -> Option<String> {
        match &self.get(&self.resolve(path))?.kind {
            NodeKind::File(d) => d.bytes().ok().map(|b| String::from_utf8_lossy(&b).into_owned()),
            _ => None,
        }
    }
}

fn decompress(blob: &[u8]) -> Result<Vec<u8>, String> {
    if blob.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(blob).read_to_end(&mut out).map_err(|e| format!("gzip: {e}"))?;
        Ok(out)
    } else if blob.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Err("zstd-compressed layers are not read by the daemonless builder".to_string())
    } else {
        Ok(blob.to_vec())
    }
}

/// The state of one stage as it is built.
#[derive(Debug, Clone)]
struct StageState {
    name: String,
    config: ImageConfig,
    layers: Vec<Layer>,
    fs: Fs,
    shell: Vec<String>,
    cmd_set: bool,
    /// ARGs declared in the stage: name → value (None: declared, no value).
    args: BTreeMap<String, Option<String>>,
}

impl StageState {
    fn run_config(&mut self) -> &mut RunConfig {
        self.config.config.get_or_insert_with(RunConfig::default)
    }

    fn env_get(&self, key: &str) -> Option<String> {
        self.config.config.as_ref()?.env.as_ref()?.iter().find_map(|kv| match kv.split_once('=') {
            Some((k, v)) if k == key => Some(v.to_string()),
            None if kv == key => Some(String::new()),
            _ => None,
        })
    }

    fn set_env(&mut self, key: &str, value: &str) {
        let env = self.run_config().env.get_or_insert_with(Vec::new);
        let entry = format!("{key}={value}");
        match env.iter_mut().find(|kv| kv.split_once('=').map(|(k, _)| k).unwrap_or(kv) == key) {
            Some(slot) => *slot = entry,
            None => env.push(entry),
        }
    }

    /// ENV first, then the stage's ARGs (an ENV always wins over an ARG).
    fn lookup(&self, key: &str) -> Option<String> {
        self.env_get(key).or_else(|| self.args.get(key).cloned().flatten())
    }
}

struct Builder<'a> {
    spec: &'a DaemonlessBuild,
    context: &'a Context,
    context_fs: Option<Fs>,
    df: &'a Dockerfile,
    file: &'a str,
    base: &'a dyn BaseImages,
    on_event: &'a mut dyn FnMut(BuildEvent),
    epoch: i64,
    created: String,
    meta_args: BTreeMap<String, Option<String>>,
    used_args: BTreeSet<String>,
    done: Vec<StageState>,
    skipped: Vec<SkippedStep>,
    /// Diff IDs of the layers this build wrote (gzipped at the end).
    made: BTreeSet<String>,
    step: usize,
    total: usize,
}

impl<'a> Builder<'a> {
    fn new(spec: &'a DaemonlessBuild, context: &'a Context, df: &'a Dockerfile, file: &'a str, base: &'a dyn BaseImages, on_event: &'a mut dyn FnMut(BuildEvent)) -> Result<Builder<'a>, BuildError> {
        let epoch = spec.source_date_epoch.unwrap_or(0);
        Ok(Builder {
            spec,
            context,
            context_fs: None,
            df,
            file,
            base,
            on_event,
            epoch,
            created: rfc3339(epoch),
            meta_args: BTreeMap::new(),
            used_args: BTreeSet::new(),
            done: Vec::new(),
            skipped: Vec::new(),
            made: BTreeSet::new(),
            step: 0,
            total: df.step_count(),
        })
    }

    fn fail(&self, ins: &Instruction, message: impl Into<String>, hint: impl Into<String>) -> BuildError {
        BuildError::Step { file: self.file.to_string(), line: ins.line, instruction: ins.original.clone(), message: message.into(), hint: hint.into() }
    }

    fn warn(&mut self, line: Option<usize>, message: String) {
        tracing::warn!(line, "{message}");
        (self.on_event)(BuildEvent::Warning { line, message });
    }

    fn announce(&mut self, ins: &Instruction) {
        self.step += 1;
        tracing::debug!(step = self.step, line = ins.line, "{}", ins.original);
        (self.on_event)(BuildEvent::Step { step: self.step, total: self.total, line: ins.line, instruction: ins.original.clone() });
    }

    /// The built-in platform ARGs BuildKit defines.
    fn builtin_arg(&self, name: &str) -> Option<String> {
        let p = &self.spec.platform;
        let host = Platform::host();
        let fmt_p = |p: &Platform| match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        };
        Some(match name {
            "TARGETPLATFORM" => fmt_p(p),
            "TARGETOS" => p.os.clone(),
            "TARGETARCH" => p.architecture.clone(),
            "TARGETVARIANT" => p.variant.clone().unwrap_or_default(),
            "BUILDPLATFORM" => fmt_p(&host),
            "BUILDOS" => host.os.clone(),
            "BUILDARCH" => host.architecture.clone(),
            "BUILDVARIANT" => host.variant.clone().unwrap_or_default(),
            _ => return None,
        })
    }

    fn stages_to_build(&self) -> Result<usize, BuildError> {
        match &self.spec.target {
            None => Ok(self.df.stages.len()),
            Some(t) => match self.df.stages.iter().position(|s| s.name.as_deref() == Some(t.to_ascii_lowercase().as_str())) {
                Some(i) => Ok(i + 1),
                None => Err(BuildError::Read {
                    file: self.file.to_string(),
                    message: format!(
                        "target stage {t:?} could not be found (the stages are: {})",
                        self.df.stages.iter().map(|s| s.name.clone().unwrap_or_else(|| s.index.to_string())).collect::<Vec<_>>().join(", ")
                    ),
                }),
            },
        }
    }

    fn run(mut self) -> Result<Built, BuildError> {
        let count = self.stages_to_build()?;
        for w in &self.df.warnings {
            self.warn(Some(w.line), format!("{}:{}: {}", self.file, w.line, w.message));
        }
        // A RUN is refused before anything is pulled.
        if !self.spec.skip_run {
            if let Some(run) = self.df.stages[..count].iter().flat_map(|s| s.instructions.iter()).find(|i| matches!(i.kind, Kind::Run { .. })) {
                return Err(BuildError::RunNeedsEngine { file: self.file.to_string(), line: run.line, instruction: run.original.clone() });
            }
        }
        for ins in &self.df.args_before_from {
            self.announce(ins);
            let Kind::Arg(decls) = &ins.kind else { continue };
            for d in decls {
                let value = match self.spec.build_args.get(&d.name) {
                    Some(v) => Some(v.clone()),
                    None => match &d.default {
                        Some(def) => Some(self.expand_meta(ins, def)?),
                        None => self.builtin_arg(&d.name),
                    },
                };
                self.used_args.insert(d.name.clone());
                self.meta_args.insert(d.name.clone(), value);
            }
        }
        for stage in &self.df.stages[..count] {
            let state = self.build_stage(stage)?;
            self.done.push(state);
        }
        let unused: Vec<&String> = self.spec.build_args.keys().filter(|k| !self.used_args.contains(*k) && !PREDEFINED_ARGS.contains(&k.as_str())).collect();
        if !unused.is_empty() {
            let names = unused.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
            self.warn(None, format!("one or more build-args [{names}] were not consumed"));
        }
        // Invariant: stages_to_build returns at least 1 and parse() refuses a Dockerfile without FROM.
        let mut last = self.done.pop().expect("at least one stage was built");
        if !self.spec.labels.is_empty() {
            let labels = last.run_config().labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in &self.spec.labels {
                labels.insert(k.clone(), v.clone());
            }
        }
        last.config.created = Some(self.created.clone());
        gzip_layers(&mut last.layers, &self.made).map_err(|e| BuildError::Read { file: self.file.to_string(), message: format!("compressing the layers: {e}") })?;
        let image = Image::assemble(last.config, last.layers);
        Ok(Built { image, skipped: self.skipped })
    }

    fn expand_meta(&self, ins: &Instruction, word: &str) -> Result<String, BuildError> {
        let lookup = |k: &str| self.meta_args.get(k).cloned().flatten();
        dockerfile::expand(word, self.df.directives.escape, &lookup).map_err(|m| self.fail(ins, m, "fix the variable substitution"))
    }

    fn expand(&self, st: &StageState, ins: &Instruction, word: &str) -> Result<String, BuildError> {
        let lookup = |k: &str| st.lookup(k);
        dockerfile::expand(word, self.df.directives.escape, &lookup).map_err(|m| self.fail(ins, m, "fix the variable substitution"))
    }

    fn pull(&self, ins: &Instruction, name: &str, platform: &Platform) -> Result<Image, BuildError> {
        let reference = Reference::parse(name).map_err(|e| self.fail(ins, format!("{name:?} is not an image reference: {e}"), "write a reference like registry/repo:tag"))?;
        self.base.pull(&reference, platform).map_err(|e| self.fail(ins, format!("pulling {reference}: {e}"), "check the reference and that its registry is reachable with the credentials given"))
    }

    fn image_state(&self, ins: &Instruction, name: &str, image: &Image) -> Result<StageState, BuildError> {
        let config = image.config().map_err(|e| self.fail(ins, format!("the config of {name} is not an image config: {e}"), "use an OCI or Docker image"))?;
        let diff_ids = config.rootfs.diff_ids.clone();
        if diff_ids.len() != image.layers.len() {
            return Err(self.fail(ins, format!("{name} has {} layers but its config lists {} diff IDs", image.layers.len(), diff_ids.len()), "the image is damaged: push it again"));
        }
        let mut fs = Fs::default();
        let mut layers = Vec::new();
        for (blob, diff_id) in image.layers.iter().zip(diff_ids) {
            fs.apply_layer(&blob.data).map_err(|e| self.fail(ins, format!("reading layer {} of {name}: {e}", blob.digest()), "use an image with tar or tar+gzip layers"))?;
            let mut blob = blob.clone();
            // The same bytes under the OCI name, so the manifest is one format.
            blob.descriptor.media_type = match blob.descriptor.media_type.as_str() {
                spec::DOCKER_LAYER_GZIP => spec::OCI_LAYER_GZIP.to_string(),
                "application/vnd.docker.image.rootfs.diff.tar" => spec::OCI_LAYER.to_string(),
                other => other.to_string(),
            };
            layers.push(Layer { blob, diff_id });
        }
        let mut config = config;
        for k in ["container", "container_config", "docker_version"] {
            config.other.remove(k);
        }
        if let Some(rc) = config.config.as_mut() {
            for k in ["Image", "Hostname", "Domainname", "AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"] {
                rc.other.remove(k);
            }
        }
        Ok(StageState { name: String::new(), config, layers, fs, shell: default_shell(), cmd_set: false, args: BTreeMap::new() })
    }

    fn build_stage(&mut self, stage: &dockerfile::Stage) -> Result<StageState, BuildError> {
        let ins = &stage.from;
        self.announce(ins);
        let base = self.expand_meta(ins, stage.base())?;
        let platform = match stage.platform() {
            Some(p) => {
                let p = self.expand_meta(ins, p)?;
                parse_platform(&p).ok_or_else(|| self.fail(ins, format!("--platform={p} is not a platform"), "write os/arch[/variant], e.g. linux/amd64"))?
            }
            None => self.spec.platform.clone(),
        };
        let mut st = if base.eq_ignore_ascii_case("scratch") {
            let config = ImageConfig { architecture: platform.architecture.clone(), os: platform.os.clone(), variant: platform.variant.clone(), ..Default::default() };
            StageState { name: String::new(), config, layers: Vec::new(), fs: Fs::default(), shell: default_shell(), cmd_set: false, args: BTreeMap::new() }
        } else if let Some(earlier) = self.done.iter().zip(&self.df.stages).find(|(_, s)| s.name.as_deref() == Some(base.to_ascii_lowercase().as_str())).map(|(st, _)| st) {
            let mut st = earlier.clone();
            st.args.clear();
            st.cmd_set = false;
            st
        } else {
            let image = self.pull(ins, &base, &platform)?;
            self.image_state(ins, &base, &image)?
        };
        st.name = stage.name.clone().unwrap_or_else(|| stage.index.to_string());
        if st.env_get("PATH").is_none() && st.config.os == "linux" {
            st.set_env("PATH", DEFAULT_PATH);
        }
        // ONBUILD triggers of the base run now, then are dropped (docker's rule).
        let triggers: Vec<String> = st.config.config.as_mut().and_then(|rc| rc.other.remove("OnBuild")).and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
        for trigger in triggers {
            let parsed = dockerfile::parse(&format!("FROM scratch\n{trigger}")).map_err(|e| self.fail(ins, format!("the base image's ONBUILD trigger {trigger:?}: {}", e.message), e.hint))?;
            if let Some(t) = parsed.stages[0].instructions.first() {
                let t = Instruction { line: ins.line, end_line: ins.end_line, original: format!("ONBUILD {trigger}"), kind: t.kind.clone() };
                self.dispatch(&mut st, &t)?;
            }
        }
        for ins in &stage.instructions {
            self.announce(ins);
            self.dispatch(&mut st, ins)?;
        }
        Ok(st)
    }

    fn history(&self, st: &mut StageState, ins: &Instruction, empty_layer: bool, comment: Option<String>) {
        st.config.history.push(History { created: Some(self.created.clone()), created_by: Some(ins.original.clone()), author: None, comment, empty_layer });
    }

    fn dispatch(&mut self, st: &mut StageState, ins: &Instruction) -> Result<(), BuildError> {
        match &ins.kind {
            // Invariant: parse() makes every FROM a stage's `from`, never one of its instructions.
            Kind::From { .. } => unreachable!("FROM starts a stage and is never inside one"),
            Kind::Arg(decls) => {
                for d in decls {
                    self.used_args.insert(d.name.clone());
                    let value = match self.spec.build_args.get(&d.name) {
                        Some(v) => Some(v.clone()),
                        None => match &d.default {
                            Some(def) => Some(self.expand(st, ins, def)?),
                            None => self.meta_args.get(&d.name).cloned().flatten().or_else(|| self.builtin_arg(&d.name)),
                        },
                    };
                    st.args.insert(d.name.clone(), value);
                }
            }
            Kind::Env(pairs) => {
                for (k, v) in pairs {
                    let k = self.expand(st, ins, k)?;
                    let v = self.expand(st, ins, v)?;
                    if k.is_empty() {
                        return Err(self.fail(ins, "ENV names can not be blank", "write ENV NAME=value"));
                    }
                    st.set_env(&k, &v);
                }
                self.history(st, ins, true, None);
            }
            Kind::Label(pairs) => {
                for (k, v) in pairs {
                    let k = self.expand(st, ins, k)?;
                    let v = self.expand(st, ins, v)?;
                    if k.is_empty() {
                        return Err(self.fail(ins, "LABEL names can not be blank", "write LABEL name=value"));
                    }
                    st.run_config().labels.get_or_insert_with(BTreeMap::new).insert(k, v);
                }
                self.history(st, ins, true, None);
            }
            Kind::Maintainer(m) => {
                st.config.author = Some(m.clone());
                self.history(st, ins, true, None);
            }
            Kind::Workdir(w) => {
                let w = self.expand(st, ins, w)?;
                let current = st.config.config.as_ref().and_then(|c| c.working_dir.clone()).unwrap_or_default();
                let dir = if w.starts_with('/') { clean_path(&w) } else { clean_path(&format!("/{current}/{w}")) };
                st.run_config().working_dir = Some(dir.clone());
                let resolved = st.fs.resolve(&rel(&dir));
                match st.fs.get(&resolved) {
                    _ if resolved.is_empty() => self.history(st, ins, true, None),
                    Some(Node { kind: NodeKind::Dir, .. }) => self.history(st, ins, true, None),
                    Some(_) => return Err(self.fail(ins, format!("{dir} exists in the image and is not a directory"), "choose another WORKDIR")),
                    None => {
                        let mut changes = BTreeSet::new();
                        mkdir_all(&mut st.fs, &mut changes, &resolved, (0, 0)).map_err(|m| self.fail(ins, m, "choose another WORKDIR"))?;
                        self.commit_layer(st, ins, changes)?;
                    }
                }
            }
            Kind::User(u) => {
                let u = self.expand(st, ins, u)?;
                st.run_config().user = Some(u);
                self.history(st, ins, true, None);
            }
            Kind::Expose(ports) => {
                let mut all = Vec::new();
                for p in ports {
                    let p = self.expand(st, ins, p)?;
                    for word in p.split_whitespace() {
                        all.extend(parse_port(word).ok_or_else(|| self.fail(ins, format!("invalid port {word:?}"), "write PORT, PORT/tcp, PORT/udp or a range like 8000-8010"))?);
                    }
                }
                let map = st.run_config().exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in all {
                    map.insert(p, serde_json::Map::new());
                }
                self.history(st, ins, true, None);
            }
            Kind::Entrypoint(c) => {
                let argv = self.argv(st, c);
                let cmd_set = st.cmd_set;
                let rc = st.run_config();
                rc.entrypoint = Some(argv);
                // An ENTRYPOINT drops a CMD the base gave, not one this stage set.
                if !cmd_set {
                    rc.cmd = None;
                }
                self.history(st, ins, true, None);
            }
            Kind::Cmd(c) => {
                let argv = self.argv(st, c);
                st.run_config().cmd = Some(argv);
                st.cmd_set = true;
                self.history(st, ins, true, None);
            }
            Kind::Shell(words) => {
                st.shell = words.clone();
                st.run_config().other.insert("Shell".to_string(), serde_json::json!(words));
                self.history(st, ins, true, None);
            }
            Kind::Volume(vols) => {
                let mut paths = Vec::new();
                for v in vols {
                    let v = self.expand(st, ins, v)?;
                    if v.trim().is_empty() {
                        return Err(self.fail(ins, "VOLUME specified can not be an empty string", "remove the empty path"));
                    }
                    paths.push(v);
                }
                let map = st.run_config().volumes.get_or_insert_with(BTreeMap::new);
                for p in paths {
                    map.insert(p, serde_json::Map::new());
                }
                self.history(st, ins, true, None);
            }
            Kind::StopSignal(s) => {
                let s = self.expand(st, ins, s)?;
                if !signal_valid(&s) {
                    return Err(self.fail(ins, format!("invalid signal: {s}"), "write a signal name like SIGTERM or a number"));
                }
                st.run_config().stop_signal = Some(s);
                self.history(st, ins, true, None);
            }
            Kind::Healthcheck(h) => {
                let value = match h {
                    Health::None => serde_json::json!({ "Test": ["NONE"] }),
                    Health::Check { test, interval, timeout, start_period, start_interval, retries } => {
                        let test = match test {
                            Command::Exec(words) => std::iter::once("CMD".to_string()).chain(words.iter().cloned()).collect::<Vec<_>>(),
                            Command::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
                        };
                        let mut m = serde_json::Map::new();
                        m.insert("Test".into(), serde_json::json!(test));
                        for (k, v) in [("Interval", interval), ("Timeout", timeout), ("StartPeriod", start_period), ("StartInterval", start_interval), ("Retries", retries)] {
                            if let Some(v) = v.filter(|v| *v != 0) {
                                m.insert(k.into(), serde_json::json!(v));
                            }
                        }
                        serde_json::Value::Object(m)
                    }
                };
                st.run_config().other.insert("Healthcheck".to_string(), value);
                self.history(st, ins, true, None);
            }
            Kind::Onbuild { trigger, .. } => {
                let rc = st.run_config();
                let mut list: Vec<String> = rc.other.get("OnBuild").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
                list.push(trigger.clone());
                rc.other.insert("OnBuild".to_string(), serde_json::json!(list));
                self.history(st, ins, true, None);
            }
            Kind::Run { .. } => {
                if !self.spec.skip_run {
                    return Err(BuildError::RunNeedsEngine { file: self.file.to_string(), line: ins.line, instruction: ins.original.clone() });
                }
                self.warn(Some(ins.line), format!("{}:{}: {} skipped: a simulated build runs no commands", self.file, ins.line, ins.original));
                self.skipped.push(SkippedStep { line: ins.line, instruction: ins.original.clone(), stage: st.name.clone() });
                self.history(st, ins, true, Some("skipped: daemonless build without an engine".to_string()));
            }
            Kind::Copy(c) => self.copy(st, ins, c, false)?,
            Kind::Add(c) => self.copy(st, ins, c, true)?,
        }
        Ok(())
    }

    fn argv(&self, st: &StageState, c: &Command) -> Vec<String> {
        match c {
            Command::Exec(words) => words.clone(),
            Command::Shell(s) => st.shell.iter().cloned().chain(std::iter::once(s.clone())).collect(),
        }
    }

    fn commit_layer(&mut self, st: &mut StageState, ins: &Instruction, changes: BTreeSet<String>) -> Result<(), BuildError> {
        let layer = write_layer(&st.fs, &changes, self.epoch).map_err(|e| self.fail(ins, format!("writing the layer: {e}"), "check that the build context is readable"))?;
        self.made.insert(layer.diff_id.clone());
        (self.on_event)(BuildEvent::Layer { line: ins.line, diff_id: layer.diff_id.clone(), size: layer.blob.descriptor.size });
        st.layers.push(layer);
        self.history(st, ins, false, None);
        Ok(())
    }

    fn copy(&mut self, st: &mut StageState, ins: &Instruction, c: &CopySpec, is_add: bool) -> Result<(), BuildError> {
        let keyword = if is_add { "ADD" } else { "COPY" };
        if c.parents || !c.exclude.is_empty() {
            return Err(self.fail(ins, format!("{keyword} --parents and --exclude are not supported by the daemonless builder"), "build with the docker backend, or list the sources explicitly"));
        }
        // Where the sources come from.
        let from_state;
        let from_image_fs;
        let src: &Fs = match &c.from {
            Some(from) => {
                let from = self.expand(st, ins, from)?;
                let lower = from.to_ascii_lowercase();
                let by_name = self.df.stages.iter().take(self.done.len()).position(|s| s.name.as_deref() == Some(lower.as_str()));
                let by_index = from.parse::<usize>().ok().filter(|i| *i < self.done.len());
                if let Some(i) = by_name.or(by_index) {
                    from_state = &self.done[i];
                    &from_state.fs
                } else if from.parse::<usize>().is_ok() || self.df.stages.iter().any(|s| s.name.as_deref() == Some(lower.as_str())) {
                    return Err(self.fail(ins, format!("--from={from} names a stage that is not built before this one"), "COPY --from can only name an earlier stage"));
                } else {
                    let image = self.pull(ins, &from, &self.spec.platform)?;
                    from_image_fs = self.image_state(ins, &from, &image)?.fs;
                    &from_image_fs
                }
            }
            None => {
                if self.context_fs.is_none() {
                    self.context_fs = Some(Fs::from_context(self.context)?);
                }
                // Invariant: set just above.
                self.context_fs.as_ref().expect("the context was read")
            }
        };
        let in_context = c.from.is_none();
        // The sources, wildcards expanded, symlinks followed (inside the source tree).
        let mut sources: Vec<(String, String)> = Vec::new();
        for s in &c.sources {
            let s = self.expand(st, ins, s)?;
            if is_add && (s.starts_with("http://") || s.starts_with("https://") || s.starts_with("git@")) {
                return Err(self.fail(ins, format!("ADD of a URL ({s}) is not done by the daemonless builder"), "download the file into the build context and COPY it, or build with the docker backend"));
            }
            let cleaned = clean_path(&s);
            if in_context && (cleaned == ".." || cleaned.starts_with("../")) {
                return Err(self.fail(ins, format!("{s}: forbidden path outside the build context"), "name files inside the context"));
            }
            let path = rel(&cleaned);
            if context::has_wildcards(&path) {
                let mut found = false;
                for candidate in src.nodes.keys() {
                    if context::path_match(&path, candidate).map_err(|m| self.fail(ins, format!("bad wildcard {s:?}: {m}"), "fix the pattern"))? {
                        sources.push((candidate.clone(), src.resolve(candidate)));
                        found = true;
                    }
                }
                if !found {
                    return Err(self.fail(ins, format!("no source files were specified: nothing matches {s}"), if in_context { "check the pattern and .dockerignore" } else { "check the pattern against the stage's files" }));
                }
            } else {
                let resolved = src.resolve(&path);
                if !resolved.is_empty() && src.get(&resolved).is_none() {
                    let hint = if in_context { "the file is missing from the context or excluded by .dockerignore" } else { "the file is not in that stage or image" };
                    return Err(self.fail(ins, format!("{s}: not found"), hint));
                }
                sources.push((path, resolved));
            }
        }
        let dest_raw = self.expand(st, ins, &c.dest)?;
        let ends_in_slash = dest_raw.ends_with('/') || dest_raw.ends_with("/.") || dest_raw == ".";
        // `.` counts as a directory, as BuildKit reads it (the classic builder wants `./`).
        if sources.len() > 1 && !(dest_raw.ends_with('/') || dest_raw == ".") {
            return Err(self.fail(ins, format!("when using {keyword} with more than one source file, the destination must be a directory and end with a /"), format!("write the destination as {}/", dest_raw.trim_end_matches('/'))));
        }
        let workdir = st.config.config.as_ref().and_then(|c| c.working_dir.clone()).unwrap_or_default();
        let dest_abs = if dest_raw.starts_with('/') { dest_raw.clone() } else { format!("/{workdir}/{dest_raw}") };
        let dest = st.fs.resolve(&rel(&dest_abs));
        // Without --chown, files from the context become root's and files
        // from a stage or image keep their owners (docker's preserveOwnership).
        let identity = match &c.chown {
            Some(chown) => {
                let chown = self.expand(st, ins, chown)?;
                Some(resolve_chown(&st.fs, &chown).map_err(|(m, h)| self.fail(ins, m, h))?)
            }
            None if in_context => Some((0, 0)),
            None => None,
        };
        let chmod = match &c.chmod {
            Some(m) => {
                let m = self.expand(st, ins, m)?;
                Some(u32::from_str_radix(&m, 8).ok().filter(|v| *v <= 0o7777).ok_or_else(|| self.fail(ins, format!("--chmod={m} is not an octal mode"), "write an octal mode such as 0644 or 755"))?)
            }
            None => None,
        };
        let mut changes = BTreeSet::new();
        let ctx = |e: String| self.fail(ins, e, "check the sources and the destination");
        for (named, resolved) in &sources {
            let node = if resolved.is_empty() { Node::dir(0o755, 0, 0) } else { src.get(resolved).cloned().ok_or_else(|| ctx(format!("{named}: not found")))? };
            match &node.kind {
                NodeKind::Dir => copy_dir(&mut st.fs, &mut changes, src, resolved, &dest, identity, chmod).map_err(ctx)?,
                NodeKind::File(data) => {
                    let bytes = data.bytes().map_err(|e| ctx(format!("{named}: {e}")))?;
                    if is_add {
                        if let Some(tar) = archive_of(&bytes).map_err(|m| self.fail(ins, format!("{named}: {m}"), "extract it into the context and COPY the files, or use a .tar or .tar.gz"))? {
                            untar_into(&mut st.fs, &mut changes, &tar, &dest).map_err(|e| ctx(format!("extracting {named}: {e}")))?;
                            continue;
                        }
                    }
                    let target = if ends_in_slash || st.fs.is_dir(&dest) { join(&dest, base_name(named)) } else { dest.clone() };
                    if target.is_empty() {
                        return Err(ctx(format!("{named}: cannot copy a file onto /")));
                    }
                    mkdir_all(&mut st.fs, &mut changes, parent_of(&target), identity.unwrap_or((0, 0))).map_err(ctx)?;
                    let (uid, gid) = identity.unwrap_or((node.uid, node.gid));
                    put(&mut st.fs, &mut changes, &target, Node { kind: NodeKind::File(Data::Mem(bytes)), mode: chmod.unwrap_or(node.mode), uid, gid });
                }
                NodeKind::Symlink(_) | NodeKind::Other => return Err(ctx(format!("{named}: a dangling symlink or special file cannot be copied"))),
            }
        }
        self.commit_layer(st, ins, changes)
    }
}

fn default_shell() -> Vec<String> {
    vec!["/bin/sh".to_string(), "-c".to_string()]
}

/// Creates `dir` and its missing parents (mode 0755, owned by `owner`), recording them.
fn mkdir_all(fs: &mut Fs, changes: &mut BTreeSet<String>, dir: &str, owner: (u64, u64)) -> Result<(), String> {
    if dir.is_empty() {
        return Ok(());
    }
    let mut p = String::new();
    for part in dir.split('/') {
        p = join(&p, part);
        match fs.nodes.get(&p) {
            Some(Node { kind: NodeKind::Dir, .. }) => {}
            Some(_) => return Err(format!("/{p} exists in the image and is not a directory")),
            None => {
                fs.nodes.insert(p.clone(), Node::dir(0o755, owner.0, owner.1));
                changes.insert(p.clone());
            }
        }
    }
    Ok(())
}

fn put(fs: &mut Fs, changes: &mut BTreeSet<String>, path: &str, node: Node) {
    if !matches!(node.kind, NodeKind::Dir) || fs.nodes.get(path).is_some_and(|n| !matches!(n.kind, NodeKind::Dir)) {
        fs.remove_tree(path);
    }
    fs.nodes.insert(path.to_string(), node);
    changes.insert(path.to_string());
}

/// The contents of `src_dir` into `dest` (docker's copyDirectory): a new
/// `dest` is made 0755 and owned by the identity (root when owners are
/// kept); everything copied keeps its mode and takes the identity, or keeps
/// its owner when `id` is `None`.
fn copy_dir(fs: &mut Fs, changes: &mut BTreeSet<String>, src: &Fs, src_dir: &str, dest: &str, id: Option<(u64, u64)>, chmod: Option<u32>) -> Result<(), String> {
    let existed = fs.is_dir(dest);
    if !existed {
        mkdir_all(fs, changes, parent_of(dest), (0, 0))?;
        if !dest.is_empty() {
            let (uid, gid) = id.unwrap_or((0, 0));
            put(fs, changes, dest, Node::dir(0o755, uid, gid));
        }
    }
    let prefix_len = if src_dir.is_empty() { 0 } else { src_dir.len() + 1 };
    for path in src.below(src_dir) {
        let Some(node) = src.nodes.get(&path) else { continue };
        let target = join(dest, &path[prefix_len..]);
        let parent = parent_of(&target).to_string();
        if !fs.is_dir(&parent) {
            mkdir_all(fs, changes, &parent, id.unwrap_or((0, 0)))?;
        }
        let (uid, gid) = id.unwrap_or((node.uid, node.gid));
        let copied = match &node.kind {
            NodeKind::Dir => Node::dir(chmod.unwrap_or(node.mode), uid, gid),
            NodeKind::File(d) => Node { kind: NodeKind::File(d.clone()), mode: chmod.unwrap_or(node.mode), uid, gid },
            NodeKind::Symlink(t) => Node { kind: NodeKind::Symlink(t.clone()), mode: 0o777, uid, gid },
            NodeKind::Other => continue,
        };
        put(fs, changes, &target, copied);
    }
    Ok(())
}

/// The tar inside `bytes` when it is a local archive ADD extracts (tar, or gzip-compressed tar).
fn archive_of(bytes: &[u8]) -> Result<Option<Vec<u8>>, String> {
    if bytes.starts_with(b"BZh") || bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) || bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err("bzip2, xz and zstd archives are not extracted by the daemonless builder".to_string());
    }
    let tar = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        if flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).is_err() {
            return Ok(None);
        }
        out
    } else {
        bytes.to_vec()
    };
    let mut archive = tar::Archive::new(&tar[..]);
    let first_ok = match archive.entries() {
        Ok(mut entries) => matches!(entries.next(), Some(Ok(_))),
        Err(_) => false,
    };
    Ok(first_ok.then_some(tar))
}

/// Extracts an archive under `dest` as ADD does: owners and modes from the archive.
fn untar_into(fs: &mut Fs, changes: &mut BTreeSet<String>, tar: &[u8], dest: &str) -> Result<(), String> {
    if !fs.is_dir(dest) {
        mkdir_all(fs, changes, dest, (0, 0))?;
    }
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = rel(&entry.path().map_err(|e| e.to_string())?.to_string_lossy());
        if path.is_empty() {
            continue;
        }
        let target = join(dest, &path);
        let h = entry.header();
        let (mode, uid, gid) = (h.mode().unwrap_or(0o644) & 0o7777, h.uid().unwrap_or(0), h.gid().unwrap_or(0));
        let et = h.entry_type();
        let link = entry.link_name().ok().flatten().map(|l| l.to_string_lossy().into_owned());
        let kind = match et {
            tar::EntryType::Directory => NodeKind::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).map_err(|e| format!("{path}: {e}"))?;
                NodeKind::File(Data::Mem(Bytes::from(data)))
            }
            tar::EntryType::Symlink => NodeKind::Symlink(link.unwrap_or_default()),
            tar::EntryType::Link => match link.map(|l| join(dest, &rel(&l))).and_then(|t| fs.nodes.get(&t).cloned()) {
                Some(n) => n.kind,
                None => return Err(format!("{path}: a hard link to a file not in the archive")),
            },
            _ => continue,
        };
        let parent = parent_of(&target).to_string();
        if !fs.is_dir(&parent) {
            mkdir_all(fs, changes, &parent, (0, 0))?;
        }
        put(fs, changes, &target, Node { kind, mode, uid, gid });
    }
    Ok(())
}

/// `--chown` as the builder reads it: `uid[:gid]` numerically, names only
/// through the image's `/etc/passwd` and `/etc/group`; a user alone takes
/// the user's primary group (a number alone: the same number).
fn resolve_chown(fs: &Fs, spec: &str) -> Result<(u64, u64), (String, String)> {
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() > 2 || parts[0].is_empty() {
        return Err((format!("invalid --chown={spec}"), "write user, user:group, uid or uid:gid".to_string()));
    }
    let passwd = || fs.read_text("etc/passwd").unwrap_or_default();
    let user_line = |name: &str| -> Option<(u64, u64)> {
        passwd().lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?))).flatten()
        })
    };
    let (uid, primary) = match parts[0].parse::<u64>() {
        Ok(n) => (n, n),
        Err(_) => user_line(parts[0]).ok_or_else(|| {
            (format!("--chown={spec}: no user {:?} in the image's /etc/passwd", parts[0]), "use a numeric uid:gid, or create the user in the base image".to_string())
        })?,
    };
    let gid = match parts.get(1) {
        None | Some(&"") => primary,
        Some(g) => match g.parse::<u64>() {
            Ok(n) => n,
            Err(_) => fs
                .read_text("etc/group")
                .unwrap_or_default()
                .lines()
                .find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 3 && f[0] == *g).then(|| f[2].parse().ok()).flatten()
                })
                .ok_or_else(|| (format!("--chown={spec}: no group {g:?} in the image's /etc/group"), "use a numeric gid, or create the group in the base image".to_string()))?,
        },
    };
    Ok((uid, gid))
}

/// Sort key of a path: its components, as a directory walk orders them.
fn walk_key(path: &str) -> Vec<&str> {
    path.split('/').collect()
}

/// The layer holding `changes` and every parent directory of them (as an
/// overlay upper directory holds them), read from `fs`.
fn write_layer(fs: &Fs, changes: &BTreeSet<String>, epoch: i64) -> std::io::Result<Layer> {
    let mut paths: BTreeSet<&str> = BTreeSet::new();
    for c in changes {
        if !fs.nodes.contains_key(c) {
            continue;
        }
        paths.insert(c);
        let mut p = parent_of(c);
        while !p.is_empty() {
            paths.insert(p);
            p = parent_of(p);
        }
    }
    let mut ordered: Vec<&str> = paths.into_iter().collect();
    ordered.sort_by(|a, b| walk_key(a).cmp(&walk_key(b)));
    let mtime = epoch.max(0) as u64;
    let mut builder = tar::Builder::new(Vec::new());
    for path in ordered {
        let Some(node) = fs.nodes.get(path) else { continue };
        let mut h = tar::Header::new_ustar();
        h.set_mtime(mtime);
        h.set_mode(node.mode);
        h.set_device_major(0)?;
        h.set_device_minor(0)?;
        let mut pax: Vec<(&str, Vec<u8>)> = Vec::new();
        // USTAR holds ids up to 7 octal digits; larger ones go in PAX records, as Go writes them.
        for (key, id) in [("uid", node.uid), ("gid", node.gid)] {
            if id > 0o7777777 {
                pax.push((key, id.to_string().into_bytes()));
            }
        }
        h.set_uid(if node.uid > 0o7777777 { 0 } else { node.uid });
        h.set_gid(if node.gid > 0o7777777 { 0 } else { node.gid });
        let (name, data): (String, Bytes) = match &node.kind {
            NodeKind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                (format!("{path}/"), Bytes::new())
            }
            NodeKind::File(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                (path.to_string(), d.bytes()?)
            }
            NodeKind::Symlink(t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                if t.len() <= 100 && t.is_ascii() {
                    h.set_link_name_literal(t.as_bytes())?;
                } else {
                    pax.push(("linkpath", t.as_bytes().to_vec()));
                }
                (path.to_string(), Bytes::new())
            }
            NodeKind::Other => continue,
        };
        if !set_ustar_name(&mut h, &name) {
            pax.push(("path", name.as_bytes().to_vec()));
            let fallback: String = name.chars().filter(|c| c.is_ascii()).collect::<String>();
            let tail = &fallback[fallback.len().saturating_sub(99)..];
            set_ustar_name(&mut h, tail);
        }
        h.set_size(data.len() as u64);
        h.set_cksum();
        if !pax.is_empty() {
            builder.append_pax_extensions(pax.iter().map(|(k, v)| (*k, v.as_slice())))?;
        }
        builder.append(&h, &data[..])?;
    }
    let tar = builder.into_inner()?;
    let diff_id = digest_of(&tar);
    // Uncompressed until the build ends: then every new layer is gzipped at once, in parallel.
    let descriptor = spec::Descriptor::new(spec::OCI_LAYER, &diff_id, tar.len() as u64);
    Ok(Layer { blob: Blob { descriptor, data: Bytes::from(tar) }, diff_id })
}

/// gzip with no name and no time (the same bytes for the same tar).
fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2), flate2::Compression::default());
    gz.write_all(data)?;
    gz.finish()
}

/// Gzips the layers this build made (`made`: their diff IDs), one thread per
/// core; what each layer becomes does not depend on the threads.
fn gzip_layers(layers: &mut [Layer], made: &BTreeSet<String>) -> std::io::Result<()> {
    let todo: Vec<usize> = layers.iter().enumerate().filter(|(_, l)| l.blob.descriptor.media_type == spec::OCI_LAYER && made.contains(&l.diff_id)).map(|(i, _)| i).collect();
    if todo.is_empty() {
        return Ok(());
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(todo.len());
    let shared: &[Layer] = layers;
    let results: Vec<(usize, std::io::Result<Vec<u8>>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<usize> = todo.iter().copied().skip(t).step_by(threads).collect();
                scope.spawn(move || mine.into_iter().map(|i| (i, gzip(&shared[i].blob.data))).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|_| vec![(usize::MAX, Err(std::io::Error::other("a gzip thread panicked")))])).collect()
    });
    for (i, compressed) in results {
        let compressed = compressed?;
        layers[i].blob = Blob::new(spec::OCI_LAYER_GZIP, compressed);
    }
    Ok(())
}

/// Puts `name` in the USTAR name/prefix fields as Go's writer splits it;
/// false when it needs a PAX record (too long, or not ASCII).
fn set_ustar_name(h: &mut tar::Header, name: &str) -> bool {
    let Some(ustar) = h.as_ustar_mut() else { return false };
    if !name.is_ascii() {
        return false;
    }
    let bytes = name.as_bytes();
    let (prefix, rest): (&[u8], &[u8]) = if bytes.len() <= 100 {
        (&[], bytes)
    } else {
        let limit = bytes.len().min(156);
        match bytes[..limit].iter().rposition(|b| *b == b'/') {
            Some(i) if i <= 155 && bytes.len() - i - 1 <= 100 && i > 0 && bytes.len() - i - 1 > 0 => (&bytes[..i], &bytes[i + 1..]),
            _ => return false,
        }
    };
    ustar.name = [0; 100];
    ustar.prefix = [0; 155];
    ustar.name[..rest.len()].copy_from_slice(rest);
    ustar.prefix[..prefix.len()].copy_from_slice(prefix);
    true
}

fn parse_platform(p: &str) -> Option<Platform> {
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        [os, arch] if !os.is_empty() && !arch.is_empty() => Some(Platform::linux(arch)).map(|mut x| {
            x.os = os.to_string();
            x
        }),
        [os, arch, variant] if !os.is_empty() && !arch.is_empty() => Some(Platform { variant: Some(variant.to_string()), os: os.to_string(), ..Platform::linux(arch) }),
        _ => None,
    }
}

/// `80` → `80/tcp`; `53/udp`; `8000-8002` → each port.
fn parse_port(word: &str) -> Option<Vec<String>> {
    let (ports, proto) = match word.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (word, "tcp".to_string()),
    };
    if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        return None;
    }
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?),
        None => {
            let p = ports.parse::<u16>().ok()?;
            (p, p)
        }
    };
    if hi < lo {
        return None;
    }
    Some((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

fn signal_valid(s: &str) -> bool {
    const NAMES: [&str; 31] = [
        "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "WINCH",
    ];
    if let Ok(n) = s.parse::<u32>() {
        return n > 0 && n <= 64;
    }
    let name = s.strip_prefix("SIG").unwrap_or(s);
    NAMES.contains(&name) || name.starts_with("RTMIN") || name.starts_with("RTMAX") || ["XCPU", "XFSZ", "VTALRM"].contains(&name)
}

/// `1970-01-01T00:00:00Z` for an epoch in seconds (UTC, no fraction).
pub fn rfc3339(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

impl fmt::Display for SkippedStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} (stage {}): {}", self.line, self.stage, self.instruction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn ports_and_signals() {
        assert_eq!(parse_port("80"), Some(vec!["80/tcp".to_string()]));
        assert_eq!(parse_port("53/UDP"), Some(vec!["53/udp".to_string()]));
        assert_eq!(parse_port("8000-8002").unwrap().len(), 3);
        assert_eq!(parse_port("x"), None);
        assert_eq!(parse_port("80/foo"), None);
        assert!(signal_valid("SIGTERM") && signal_valid("KILL") && signal_valid("9") && signal_valid("SIGRTMIN+3"));
        assert!(!signal_valid("SIGNOPE") && !signal_valid("0"));
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let mut fs = Fs::default();
        fs.nodes.insert("usr".into(), Node::dir(0o755, 0, 0));
        fs.nodes.insert("usr/bin".into(), Node::dir(0o755, 0, 0));
        fs.nodes.insert("bin".into(), Node { kind: NodeKind::Symlink("usr/bin".into()), mode: 0o777, uid: 0, gid: 0 });
        fs.nodes.insert("up".into(), Node { kind: NodeKind::Symlink("../../../usr".into()), mode: 0o777, uid: 0, gid: 0 });
        fs.nodes.insert("abs".into(), Node { kind: NodeKind::Symlink("/bin".into()), mode: 0o777, uid: 0, gid: 0 });
        assert_eq!(fs.resolve("bin/sh"), "usr/bin/sh");
        assert_eq!(fs.resolve("up/bin"), "usr/bin");
        assert_eq!(fs.resolve("abs/x"), "usr/bin/x");
        assert_eq!(fs.resolve("/a/../bin"), "usr/bin");
    }

    #[test]
    fn chown_reads_passwd_and_group_only() {
        let mut fs = Fs::default();
        fs.nodes.insert("etc".into(), Node::dir(0o755, 0, 0));
        let file = |s: &str| Node { kind: NodeKind::File(Data::Mem(Bytes::from(s.to_string()))), mode: 0o644, uid: 0, gid: 0 };
        fs.nodes.insert("etc/passwd".into(), file("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"));
        fs.nodes.insert("etc/group".into(), file("root:x:0:\nstaff:x:50:app\n"));
        assert_eq!(resolve_chown(&fs, "1000"), Ok((1000, 1000)));
        assert_eq!(resolve_chown(&fs, "1000:7"), Ok((1000, 7)));
        assert_eq!(resolve_chown(&fs, "app"), Ok((1000, 1001)));
        assert_eq!(resolve_chown(&fs, "app:staff"), Ok((1000, 50)));
        assert!(resolve_chown(&fs, "nobody").unwrap_err().0.contains("no user \"nobody\" in the image's /etc/passwd"));
        assert!(resolve_chown(&fs, "app:wheel").unwrap_err().0.contains("no group \"wheel\""));
        assert!(resolve_chown(&fs, "a:b:c").is_err());
        assert!(resolve_chown(&Fs::default(), "app").is_err());
    }

    #[test]
    fn long_and_non_ascii_names_get_pax_records_only_then() {
        let mut fs = Fs::default();
        let long = "d".repeat(120);
        fs.nodes.insert("short".into(), Node { kind: NodeKind::File(Data::Mem(Bytes::from_static(b"x"))), mode: 0o644, uid: 0, gid: 0 });
        fs.nodes.insert(long.clone(), Node { kind: NodeKind::File(Data::Mem(Bytes::from_static(b"y"))), mode: 0o600, uid: 0, gid: 0 });
        fs.nodes.insert("é".into(), Node { kind: NodeKind::File(Data::Mem(Bytes::from_static(b"z"))), mode: 0o644, uid: 0, gid: 0 });
        let changes: BTreeSet<String> = fs.nodes.keys().cloned().collect();
        let layer = write_layer(&fs, &changes, 0).unwrap();
        let tar = decompress(&layer.blob.data).unwrap();
        assert_eq!(layer.diff_id, digest_of(&tar));
        let mut names = Vec::new();
        let mut pax_count = 0;
        let mut raw = tar::Archive::new(&tar[..]);
        for e in raw.entries().unwrap().raw(true) {
            let e = e.unwrap();
            if e.header().entry_type() == tar::EntryType::XHeader {
                pax_count += 1;
            }
        }
        let mut a = tar::Archive::new(&tar[..]);
        for e in a.entries().unwrap() {
            names.push(e.unwrap().path().unwrap().to_string_lossy().into_owned());
        }
        assert_eq!(names, vec![long, "short".to_string(), "é".to_string()]);
        assert_eq!(pax_count, 2);
    }
}
