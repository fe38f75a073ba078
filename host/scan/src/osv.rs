//! The OSV schema (ossf.github.io/osv-schema) as serde types, osv.dev's
//! ecosystem strings (`Debian:12`, `Alpine:v3.20`, `Red Hat:…`, `PyPI`, …)
//! mapped onto [`Ecosystem`], and reading advisories from a directory of
//! OSV JSON files or a zip as osv.dev publishes them per ecosystem
//! (`all.zip` of `ID.json`). Reading is all it does: it must not index,
//! store or match (store.rs and matcher.rs do).
//!
//! Bad input: a single file that is not an OSV advisory is an error naming
//! the file and the field. In a directory or zip, bad files are skipped,
//! counted and named in [`Imported::skipped`] so one broken record does not
//! block a database of thousands — unless no file at all is good, which is
//! an error. Advisories whose every package is in an ecosystem gantry does
//! not scan (Maven, NuGet, …) are counted in `unsupported`.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::Ecosystem;

/// One OSV advisory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default)]
    pub schema_version: Option<String>,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub published: Option<String>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub related: Vec<String>,
    /// OSV 1.6: the upstream advisories this one derives from (Debian's `DEBIAN-CVE-…` → the CVE).
    #[serde(default)]
    pub upstream: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub severity: Vec<SeverityScore>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityScore {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`.
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default)]
    pub package: Option<AffectedPackage>,
    #[serde(default)]
    pub severity: Vec<SeverityScore>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedPackage {
    pub ecosystem: String,
    pub name: String,
    #[serde(default)]
    pub purl: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RangeKind {
    Semver,
    Ecosystem,
    Git,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: RangeKind,
    #[serde(default)]
    pub repo: Option<String>,
    pub events: Vec<Event>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

/// One range event; each JSON object has exactly one of these keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

impl Event {
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

/// The `ecosystem` string osv.dev writes, read as gantry's [`Ecosystem`];
/// `None` for ecosystems gantry does not scan.
pub fn parse_ecosystem(osv: &str) -> Option<Ecosystem> {
    let (family, rest) = match osv.split_once(':') {
        Some((f, r)) => (f, Some(r)),
        None => (osv, None),
    };
    let release = |family: &str| rest.filter(|r| !r.is_empty()).map(|r| normalise_release(family, r));
    Some(match family {
        "Debian" => Ecosystem::Debian(release("Debian")),
        "Alpine" => Ecosystem::Alpine(release("Alpine")),
        "PyPI" => Ecosystem::PyPI,
        "npm" => Ecosystem::Npm,
        "Go" => Ecosystem::Go,
        "crates.io" => Ecosystem::CratesIo,
        "Red Hat" | "Rocky Linux" | "AlmaLinux" | "SUSE" | "openSUSE" | "Mageia" | "openEuler" => {
            // Red Hat writes `Red Hat:enterprise_linux:9::appstream`: the release is the numeric part.
            let rel = rest.and_then(|r| r.split(':').find(|p| p.starts_with(|c: char| c.is_ascii_digit())).map(|p| normalise_release("Rpm", p)));
            Ecosystem::Rpm { distro: family.to_string(), release: rel }
        }
        _ => return None,
    })
}

/// A release as both OSV and the inventory may spell it (`debian:12`, `12.5`,
/// `v3.20`, `3.20.3`, `9.3`) brought to the form advisories are keyed by:
/// Debian and rpm distributions by major version, Alpine by `major.minor`.
pub fn normalise_release(family: &str, release: &str) -> String {
    let r = release.rsplit(':').next().unwrap_or(release).trim();
    let r = r.strip_prefix('v').unwrap_or(r);
    let keep = if family == "Alpine" { 2 } else { 1 };
    // Only numeric releases are cut; `bookworm` or `edge` stay as they are.
    if r.starts_with(|c: char| c.is_ascii_digit()) {
        r.split('.').take(keep).collect::<Vec<_>>().join(".")
    } else {
        r.to_string()
    }
}

/// Package names as each ecosystem compares them: PyPI by PEP 503
/// (case and runs of `-_.` ignored), crates.io case-insensitively, the rest exactly.
pub fn normalise_name(ecosystem: &Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::PyPI => {
            let mut out = String::with_capacity(name.len());
            let mut sep = false;
            for c in name.trim().chars() {
                if matches!(c, '-' | '_' | '.') {
                    sep = true;
                } else {
                    if sep && !out.is_empty() {
                        out.push('-');
                    }
                    sep = false;
                    out.push(c.to_ascii_lowercase());
                }
            }
            out
        }
        Ecosystem::CratesIo => name.trim().to_ascii_lowercase().replace('_', "-"),
        _ => name.trim().to_string(),
    }
}

/// Why an import failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum OsvError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{file}: not an OSV advisory: {field}: {reason} (fix the file or remove it from the import)")]
    Invalid { file: String, field: String, reason: String },
    #[error("{path}: not a readable zip archive: {reason} (osv.dev publishes gs://osv-vulnerabilities/<ecosystem>/all.zip)")]
    Zip { path: PathBuf, reason: String },
    #[error("{path}: none of its {bad} files is an OSV advisory; the first: {first}")]
    NothingGood { path: PathBuf, bad: usize, first: String },
    #[error("{path}: no .json files found (expected OSV advisories as ID.json, or an all.zip of them)")]
    Empty { path: PathBuf },
}

/// A file that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub file: String,
    pub reason: String,
}

/// What an import read.
#[derive(Debug, Default)]
pub struct Imported {
    pub advisories: Vec<Advisory>,
    /// Bad files in a directory or zip, skipped.
    pub skipped: Vec<Skipped>,
    /// Good advisories about ecosystems gantry does not scan only.
    pub unsupported: usize,
}

/// Parses one OSV JSON document; the error names the field (`affected[0].ranges[1].type`).
pub fn parse(file: &str, bytes: &[u8]) -> Result<Advisory, OsvError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, Advisory>(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        OsvError::Invalid {
            file: file.to_string(),
            field: if field == "." { "(document)".to_string() } else { field },
            reason: inner.to_string(),
        }
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OsvError + '_ {
    move |source| OsvError::Io { path: path.to_path_buf(), source }
}

/// Reads a single `.json` advisory, a directory of them (recursively), or a zip of them.
pub fn import(path: &Path) -> Result<Imported, OsvError> {
    let meta = fs::metadata(path).map_err(io(path))?;
    let mut out = Imported::default();
    if meta.is_dir() {
        let mut files = Vec::new();
        collect_json(path, &mut files)?;
        files.sort();
        if files.is_empty() {
            return Err(OsvError::Empty { path: path.to_path_buf() });
        }
        for f in files {
            let bytes = fs::read(&f).map_err(io(&f))?;
            let name = f.strip_prefix(path).unwrap_or(&f).display().to_string();
            take(&mut out, &name, &bytes);
        }
    } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
        let file = fs::File::open(path).map_err(io(path))?;
        let zerr = |e: zip::result::ZipError| OsvError::Zip { path: path.to_path_buf(), reason: e.to_string() };
        let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(zerr)?;
        let mut bytes = Vec::new();
        let mut any = false;
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(zerr)?;
            let name = match entry.name() {
                Ok(n) => n.to_string(),
                Err(e) => {
                    out.skipped.push(Skipped { file: format!("entry #{i}"), reason: format!("unreadable name: {e}") });
                    continue;
                }
            };
            if entry.is_dir() || !name.to_ascii_lowercase().ends_with(".json") {
                continue;
            }
            any = true;
            bytes.clear();
            if let Err(e) = entry.read_to_end(&mut bytes) {
                out.skipped.push(Skipped { file: name, reason: format!("cannot decompress: {e}") });
                continue;
            }
            take(&mut out, &name, &bytes);
        }
        if !any {
            return Err(OsvError::Empty { path: path.to_path_buf() });
        }
    } else {
        let bytes = fs::read(path).map_err(io(path))?;
        let advisory = parse(&path.display().to_string(), &bytes)?;
        keep(&mut out, advisory);
        return Ok(out);
    }
    if out.advisories.is_empty() && out.unsupported == 0 && !out.skipped.is_empty() {
        let first = &out.skipped[0];
        return Err(OsvError::NothingGood { path: path.to_path_buf(), bad: out.skipped.len(), first: format!("{}: {}", first.file, first.reason) });
    }
    Ok(out)
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), OsvError> {
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let p = entry.path();
        let kind = entry.file_type().map_err(io(&p))?;
        if kind.is_dir() {
            collect_json(&p, out)?;
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            out.push(p);
        }
    }
    Ok(())
}

fn take(out: &mut Imported, name: &str, bytes: &[u8]) {
    match parse(name, bytes) {
        Ok(a) => keep(out, a),
        Err(OsvError::Invalid { field, reason, .. }) => out.skipped.push(Skipped { file: name.to_string(), reason: format!("{field}: {reason}") }),
        Err(e) => out.skipped.push(Skipped { file: name.to_string(), reason: e.to_string() }),
    }
}

fn keep(out: &mut Imported, a: Advisory) {
    let supported = a.affected.iter().any(|af| af.package.as_ref().is_some_and(|p| parse_ecosystem(&p.ecosystem).is_some()));
    if supported {
        out.advisories.push(a);
    } else {
        out.unsupported += 1;
    }
}
