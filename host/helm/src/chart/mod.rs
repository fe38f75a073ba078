//! Charts as Helm loads them: directories and `.tgz` packages, Chart.yaml
//! (v1 and v2), `.helmignore`, `charts/` dependencies (condition, tags,
//! alias, import-values), library charts, `crds/`, and `.Files`.
//!
//! This module owns the [`Chart`] tree and its loading (Helm's
//! `loader.LoadFiles`: which file goes where, Chart.yaml through
//! sigs.k8s.io/yaml's target-aware conversion and `encoding/json`'s rules,
//! `Metadata.Validate`'s wording). It must not render templates nor coalesce
//! values (that is `values`'); it reads YAML only through `crate::yaml`.

mod archive;
mod dependencies;
mod files;
mod ignore;
mod metadata;

use std::path::Path;
use std::sync::Arc;

use crate::value::Value;

pub use archive::{MAX_DECOMPRESSED_CHART_SIZE, MAX_DECOMPRESSED_FILE_SIZE};
pub use dependencies::process_dependencies;
pub use files::{go_glob_match, Files};
pub use ignore::{go_filepath_match, Rules as IgnoreRules};
pub use metadata::{Dependency, Maintainer, Metadata};
pub(crate) use metadata::go_quote;

/// A file of a chart: its path inside the chart (slash-separated) and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub data: Arc<[u8]>,
}

impl File {
    pub fn new(name: impl Into<String>, data: impl Into<Arc<[u8]>>) -> File {
        File { name: name.into(), data: data.into() }
    }

    /// The bytes as text, Go's way (each invalid byte U+FFFD, as Helm's
    /// output shows it after `json.Marshal`; a template's own text keeps
    /// Go's bytes only in Go — a knowing difference, visible only to `len`
    /// of a text node's bytes through `include`).
    pub fn text(&self) -> String {
        crate::value::go_lossy(&self.data).into_owned()
    }
}

/// A CRD file of a chart or one of its subcharts (`Chart.CRDObjects`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crd {
    /// The path inside its chart (`crds/x.yaml`).
    pub name: String,
    /// The path from the root chart (`parent/charts/sub/crds/x.yaml`).
    pub filename: String,
    pub file: File,
}

/// A loaded chart, as Helm's `chart.Chart` (API v2 charts, which include v1).
#[derive(Clone, Debug)]
pub struct Chart {
    pub metadata: Metadata,
    /// Chart.lock (or requirements.lock), as YAML read it; not used to render.
    pub lock: Option<Value>,
    /// Every file of `templates/` (NOTES.txt and `_helpers.tpl` included),
    /// in load order (sorted paths for a directory, archive order for a `.tgz`).
    pub templates: Vec<File>,
    /// Everything that is not Chart.yaml, values.yaml, values.schema.json, a
    /// lock, a template or a subchart: what `.Files` shows.
    pub files: Vec<File>,
    /// Every file as loaded, subcharts' included.
    pub raw: Vec<File>,
    /// values.yaml as a `map[string]interface{}`; Nil when the chart has none
    /// (Helm's nil map).
    pub values: Value,
    /// values.schema.json as bytes, when the chart has one.
    pub schema: Option<Arc<[u8]>>,
    /// Subcharts (from `charts/`), after [`process_dependencies`] only the
    /// enabled ones, aliased copies renamed.
    pub dependencies: Vec<Chart>,
}

impl Default for Chart {
    fn default() -> Chart {
        Chart {
            metadata: Metadata::default(),
            lock: None,
            templates: Vec::new(),
            files: Vec::new(),
            raw: Vec::new(),
            values: Value::Nil,
            schema: None,
            dependencies: Vec::new(),
        }
    }
}

/// Why a chart could not be loaded; the message is Helm's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ChartError {
    pub message: String,
}

impl ChartError {
    pub fn new(message: impl Into<String>) -> ChartError {
        ChartError { message: message.into() }
    }
}

impl Chart {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// `type: library`: its templates only define; none renders.
    pub fn is_library(&self) -> bool {
        self.metadata.chart_type == "library"
    }

    /// `templates/NOTES.txt`, when the chart has one.
    pub fn notes(&self) -> Option<&File> {
        self.templates.iter().find(|f| f.name == "templates/NOTES.txt")
    }

    /// `.Chart` as Helm 4 gives it to templates: the metadata as a
    /// `map[string]interface{}` keyed by Go field names, plus `IsRoot`.
    pub fn metadata_value(&self, is_root: bool) -> Value {
        self.metadata.to_value(is_root)
    }

    /// `.Files`: the chart's [`files`](Chart::files) as an `engine.files`.
    pub fn files_value(&self) -> Value {
        Value::Object(Arc::new(Files::from_files(&self.files)))
    }

    /// The CRD files (`crds/*.yaml|yml|json`, any depth) of this chart and
    /// its dependencies, as Helm's `Chart.CRDObjects`, this chart taken as
    /// the root (`filename` is `root/charts/sub/crds/x.yaml`).
    pub fn crd_objects(&self) -> Vec<Crd> {
        let mut out = Vec::new();
        self.collect_crds(self.name(), &mut out);
        out
    }

    fn collect_crds(&self, full_path: &str, out: &mut Vec<Crd>) {
        for f in &self.files {
            if f.name.starts_with("crds/") && has_manifest_extension(&f.name) {
                out.push(Crd { name: f.name.clone(), filename: format!("{full_path}/{}", f.name), file: f.clone() });
            }
        }
        for d in &self.dependencies {
            d.collect_crds(&format!("{full_path}/charts/{}", d.name()), out);
        }
    }
}

fn has_manifest_extension(name: &str) -> bool {
    let ext = match name.rfind('.') {
        Some(i) if !name[i..].contains('/') => &name[i..],
        _ => "",
    };
    [".yaml", ".yml", ".json"].iter().any(|e| ext.eq_ignore_ascii_case(e))
}

/// Loads a chart from a directory or a `.tgz` package, as Helm's `loader.Load`.
pub fn load(path: &Path) -> Result<Chart, ChartError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| ChartError::new(format!("stat {shown}: {}", io_error_text(&e))))?;
    if meta.is_dir() {
        load_dir(path)
    } else {
        let data = std::fs::read(path).map_err(|e| ChartError::new(format!("open {shown}: {}", io_error_text(&e))))?;
        archive::ensure_archive(&shown, &data)?;
        load_archive(&data).map_err(|e| {
            if e.message.starts_with(archive::GZIP_HEADER_ERROR) {
                ChartError::new(format!("file '{shown}' does not appear to be a valid chart file (details: {})", e.message))
            } else {
                e
            }
        })
    }
}

/// Loads a chart from `.tgz` bytes, as Helm's `loader.LoadArchive`.
pub fn load_archive(data: &[u8]) -> Result<Chart, ChartError> {
    let files = archive::load_archive_files(data)?;
    load_files(files)
}

/// Go's wording of common OS errors (`no such file or directory`).
pub(crate) fn io_error_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            // Rust appends " (os error N)"; Go does not.
            match s.find(" (os error") {
                Some(i) => {
                    let mut t = s[..i].to_string();
                    if let Some(c) = t.get(..1) {
                        t = c.to_lowercase() + &t[1..];
                    }
                    t
                }
                None => s,
            }
        }
    }
}

/// Loads a chart directory, as Helm's `loader.LoadDir`: `.helmignore` and
/// the default rule (`templates/.?*`) applied, symlinks followed, a UTF-8
/// byte-order mark dropped, files over 5 MiB refused.
pub fn load_dir(dir: &Path) -> Result<Chart, ChartError> {
    let top = std::path::absolute(dir).map_err(|e| ChartError::new(io_error_text(&e)))?;
    let mut rules = IgnoreRules::empty();
    let ifile = top.join(ignore::HELM_IGNORE);
    if ifile.exists() {
        let text = std::fs::read(&ifile).map_err(|e| ChartError::new(format!("open {}: {}", ifile.display(), io_error_text(&e))))?;
        rules = IgnoreRules::parse(&String::from_utf8_lossy(&text)).map_err(ChartError::new)?;
    }
    rules.add_defaults();
    let mut files = Vec::new();
    walk(&top, "", &rules, &mut files, 0)?;
    load_files(files)
}

/// Symlink levels followed before giving up (a loop would never end).
const MAX_WALK_DEPTH: usize = 64;

fn walk(dir: &Path, rel: &str, rules: &IgnoreRules, out: &mut Vec<File>, depth: usize) -> Result<(), ChartError> {
    if depth > MAX_WALK_DEPTH {
        return Err(ChartError::new(format!("{}: too many levels of directories or symbolic links", dir.display())));
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| ChartError::new(format!("open {}: {}", dir.display(), io_error_text(&e))))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let full = dir.join(&name);
        let n = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
        // sympath.Walk follows symlinks: stat, not lstat.
        let meta = std::fs::metadata(&full).map_err(|e| {
            let dangling = if e.kind() == std::io::ErrorKind::NotFound { broken_link_error(&full) } else { None };
            dangling.unwrap_or_else(|| ChartError::new(format!("stat {}: {}", full.display(), io_error_text(&e))))
        })?;
        if meta.is_dir() {
            if rules.ignore(&n, true) {
                continue;
            }
            walk(&full, &n, rules, out, depth + 1)?;
            continue;
        }
        if rules.ignore(&n, false) {
            continue;
        }
        if !meta.is_file() {
            return Err(ChartError::new(format!("cannot load irregular file {} as it has file mode type bits set", full.display())));
        }
        if meta.len() > MAX_DECOMPRESSED_FILE_SIZE {
            return Err(ChartError::new(format!("chart file {name:?} is larger than the maximum file size {MAX_DECOMPRESSED_FILE_SIZE}")));
        }
        let data = std::fs::read(&full).map_err(|e| ChartError::new(format!("error reading {n}: {}", io_error_text(&e))))?;
        out.push(File::new(n, trim_bom(data)));
    }
    Ok(())
}

/// sympath's words for a symlink that leads nowhere:
/// `error evaluating symlink X: lstat /missing: no such file or directory`.
fn broken_link_error(link: &Path) -> Option<ChartError> {
    let target = std::fs::read_link(link).ok()?;
    let target = match link.parent() {
        Some(dir) if target.is_relative() => dir.join(target),
        _ => target,
    };
    // The first path component that does not exist is the one Go names.
    let mut cur = std::path::PathBuf::new();
    let mut missing = target.clone();
    for comp in target.components() {
        cur.push(comp);
        if std::fs::symlink_metadata(&cur).is_err() {
            missing = cur.clone();
            break;
        }
    }
    Some(ChartError::new(format!("error evaluating symlink {}: lstat {}: no such file or directory", link.display(), missing.display())))
}

pub(crate) fn trim_bom(mut data: Vec<u8>) -> Vec<u8> {
    if data.starts_with(&[0xEF, 0xBB, 0xBF]) {
        data.drain(..3);
    }
    data
}

/// Subchart nesting beyond which loading stops (Helm has no limit; a
/// chart archive nested in itself would never end).
const MAX_CHART_DEPTH: usize = 32;

/// Builds a chart from its files, as Helm's `loader.LoadFiles`.
pub fn load_files(files: Vec<File>) -> Result<Chart, ChartError> {
    load_files_at(files, 0)
}

fn load_files_at(files: Vec<File>, depth: usize) -> Result<Chart, ChartError> {
    if depth > MAX_CHART_DEPTH {
        return Err(ChartError::new(format!("subcharts nested more than {MAX_CHART_DEPTH} deep")));
    }
    let mut c = Chart { values: Value::Nil, ..Chart::default() };
    let mut meta: Option<metadata::RawMetadata> = None;
    for f in &files {
        c.raw.push(f.clone());
        if f.name == "Chart.yaml" {
            let m = meta.get_or_insert_with(metadata::RawMetadata::default);
            m.unmarshal(&f.data).map_err(|e| ChartError::new(format!("cannot load Chart.yaml: {e}")))?;
            if m.md.api_version.is_empty() {
                m.md.api_version = metadata::API_VERSION_V1.into();
            }
        }
    }
    // Subcharts by their directory (or archive) name under charts/, in first-seen order.
    let mut subcharts: Vec<(String, Vec<File>)> = Vec::new();
    for f in files {
        let name = f.name.as_str();
        match name {
            "Chart.yaml" => continue,
            "Chart.lock" => {
                c.lock = Some(parse_yaml_any(&f.data).map_err(|e| ChartError::new(format!("cannot load Chart.lock: {e}")))?);
            }
            "values.yaml" => {
                c.values = crate::values::load_values(&f.data).map_err(|e| ChartError::new(format!("cannot load values.yaml: {e}")))?;
            }
            "values.schema.json" => c.schema = Some(f.data.clone()),
            "requirements.yaml" => {
                let m = meta.get_or_insert_with(metadata::RawMetadata::default);
                // Helm logs a warning for v2 charts here; we stay silent.
                m.unmarshal(&f.data).map_err(|e| ChartError::new(format!("cannot load requirements.yaml: {e}")))?;
                if m.md.api_version == metadata::API_VERSION_V1 {
                    c.files.push(f);
                }
            }
            "requirements.lock" => {
                c.lock = Some(parse_yaml_any(&f.data).map_err(|e| ChartError::new(format!("cannot load requirements.lock: {e}")))?);
                let m = meta.get_or_insert_with(metadata::RawMetadata::default);
                if m.md.api_version == metadata::API_VERSION_V1 {
                    c.files.push(f);
                }
            }
            _ if name.starts_with("templates/") => c.templates.push(f),
            _ if name.starts_with("charts/") => {
                if ext_of(name) == ".prov" {
                    c.files.push(f);
                    continue;
                }
                let fname = &name["charts/".len()..];
                let cname = fname.split('/').next().unwrap_or("").to_string();
                let sub = File { name: fname.to_string(), data: f.data };
                match subcharts.iter_mut().find(|(n, _)| *n == cname) {
                    Some((_, list)) => list.push(sub),
                    None => subcharts.push((cname, vec![sub])),
                }
            }
            _ => c.files.push(f),
        }
    }
    let Some(meta) = meta else {
        return Err(ChartError::new("Chart.yaml file is missing"));
    };
    c.metadata = meta.validate().map_err(|e| ChartError::new(format!("validation: {e}")))?;

    // Go ranges over a map here: the order subcharts load in is random. We
    // keep the order their files came in (sorted for directories).
    for (n, files) in subcharts {
        if n.starts_with('_') || n.starts_with('.') {
            continue;
        }
        let sc = if ext_of(&n) == ".tgz" {
            let file = &files[0];
            if file.name != n {
                return Err(ChartError::new(format!("error unpacking subchart tar in {}: expected {n}, got {}", c.name(), file.name)));
            }
            archive::load_archive_files(&file.data).and_then(|fs| load_files_at(fs, depth + 1))
        } else {
            let buff: Vec<File> = files
                .into_iter()
                .filter_map(|f| f.name.split_once('/').map(|(_, rest)| File { name: rest.to_string(), data: f.data }))
                .collect();
            load_files_at(buff, depth + 1)
        };
        let sc = sc.map_err(|e| ChartError::new(format!("error unpacking subchart {n} in {}: {}", c.name(), e.message)))?;
        c.dependencies.push(sc);
    }
    Ok(c)
}

/// Go's `filepath.Ext`: from the last dot of the last element, or "".
pub(crate) fn ext_of(name: &str) -> &str {
    for (i, ch) in name.char_indices().rev() {
        if ch == '/' {
            return "";
        }
        if ch == '.' {
            return &name[i..];
        }
    }
    ""
}

fn parse_yaml_any(data: &[u8]) -> Result<Value, String> {
    crate::yaml::parse(&String::from_utf8_lossy(data)).map_err(|e| e.message)
}

#[cfg(test)]
mod tests;
