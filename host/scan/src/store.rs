//! The local advisory store: written once per import to one file under a
//! directory (default `~/.cache/gantry/db`), read fast afterwards. Each
//! advisory is cut into one [`Entry`] per package it affects, grouped by
//! (ecosystem, package name), so looking up one package reads only its own
//! group. The file is `GANTRYDB`, a format version, a JSON header (the
//! metadata and the index: key → byte range) and the groups as JSON; it is
//! replaced atomically (written beside, renamed over). Severity is rated at
//! import (CVSS v3 > v4 > the advisory's own severity > CVSS v2). This
//! module must not compare versions or decide what is vulnerable; the
//! matcher does.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::cvss::{self, CvssVersion};
use crate::model::{Ecosystem, Severity};
use crate::osv::{self, Advisory, Event, OsvError, RangeKind, Skipped};

const MAGIC: &[u8; 8] = b"GANTRYDB";
/// Bumped whenever the file's layout or [`Entry`] changes; older files are refused with a hint to re-import.
pub const FORMAT_VERSION: u32 = 1;
/// The store's file inside its directory.
pub const FILE_NAME: &str = "advisories.gdb";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("advisory store {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("advisory store {path} is not a gantry advisory store ({reason}); run `gantry db import` again")]
    Corrupt { path: PathBuf, reason: String },
    #[error("advisory store {path} has format {found}, this gantry reads format {FORMAT_VERSION}; run `gantry db import` again")]
    Version { path: PathBuf, found: u32 },
    #[error("no advisory store at {path}; import advisories first (`gantry db import DIR-OR-ZIP`)")]
    Missing { path: PathBuf },
    #[error(transparent)]
    Osv(#[from] OsvError),
}

/// What the store holds and where it came from: the report's `database` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub format_version: u32,
    /// RFC 3339, UTC.
    pub imported_at: String,
    /// The paths imported, as given.
    pub sources: Vec<String>,
    /// Advisories stored (each counted once, however many packages it affects).
    pub advisories: usize,
    /// Distinct (ecosystem, package) groups.
    pub packages: usize,
    /// Files skipped as not OSV, and advisories only about ecosystems gantry does not scan.
    pub skipped: usize,
    pub unsupported: usize,
}

impl Metadata {
    /// One line for a report: `OSV, 31 advisories (27 packages) from tests/data/osv, imported 2026-11-27T03:20:00Z`.
    pub fn describe(&self) -> String {
        format!("OSV, {} advisories ({} packages) from {}, imported {}", self.advisories, self.packages, self.sources.join(", "), self.imported_at)
    }
}

/// An advisory's severity as rated at import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Rating {
    pub severity: Severity,
    pub score: Option<f32>,
    pub vector: Option<String>,
}

/// One range, versions as written; GIT ranges are not stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRange {
    /// A SEMVER range (compared as semver whatever the ecosystem), else ECOSYSTEM.
    pub semver: bool,
    pub events: Vec<Event>,
}

/// One advisory as it concerns one package in one release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    /// `aliases`, and `upstream` when it names exactly one advisory (the CVE a `DEBIAN-CVE-…` record is).
    pub aliases: Vec<String>,
    pub summary: String,
    pub withdrawn: bool,
    /// The distribution release the advisory is about (`12`, `3.20`), normalised.
    pub release: Option<String>,
    pub rating: Rating,
    pub ranges: Vec<StoredRange>,
    pub versions: Vec<String>,
}

/// The family part of a store key: the ecosystem without its release.
fn family(e: &Ecosystem) -> String {
    match e {
        Ecosystem::Debian(_) => "Debian".into(),
        Ecosystem::Alpine(_) => "Alpine".into(),
        Ecosystem::Rpm { distro, .. } => format!("Rpm/{distro}"),
        Ecosystem::PyPI => "PyPI".into(),
        Ecosystem::Npm => "npm".into(),
        Ecosystem::Go => "Go".into(),
        Ecosystem::CratesIo => "crates.io".into(),
    }
}

/// The index key of a package: its ecosystem family and its name as the ecosystem compares names.
pub fn key(ecosystem: &Ecosystem, name: &str) -> String {
    format!("{}\u{1f}{}", family(ecosystem), osv::normalise_name(ecosystem, name))
}

#[derive(Serialize, Deserialize)]
struct Header {
    metadata: Metadata,
    /// key → (offset into the body, length)
    index: HashMap<String, (u64, u32)>,
}

/// An opened store.
pub struct Store {
    path: PathBuf,
    metadata: Metadata,
    index: HashMap<String, (u64, u32)>,
    body_start: u64,
    file: Mutex<fs::File>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).field("metadata", &self.metadata).finish()
    }
}

/// What an import did.
#[derive(Debug)]
pub struct ImportSummary {
    pub metadata: Metadata,
    pub skipped: Vec<Skipped>,
    pub path: PathBuf,
}

/// `$GANTRY_DB_DIR`, else `$XDG_CACHE_HOME/gantry/db`, else `~/.cache/gantry/db`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("GANTRY_DB_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("gantry/db"));
    }
    std::env::var_os("HOME").filter(|d| !d.is_empty()).map(|h| PathBuf::from(h).join(".cache/gantry/db"))
}

/// Reads every source (a directory, a zip, or one file of OSV JSON) and replaces the store in `dir` with them.
pub fn import(dir: &Path, sources: &[&Path]) -> Result<ImportSummary, StoreError> {
    let mut advisories = Vec::new();
    let mut skipped = Vec::new();
    let mut unsupported = 0;
    for source in sources {
        let got = osv::import(source)?;
        advisories.extend(got.advisories);
        skipped.extend(got.skipped);
        unsupported += got.unsupported;
    }
    let names: Vec<String> = sources.iter().map(|s| s.display().to_string()).collect();
    let (metadata, path) = write(dir, advisories, names, skipped.len(), unsupported)?;
    Ok(ImportSummary { metadata, skipped, path })
}

/// Writes a store of `advisories` into `dir`, replacing any there. Duplicate ids keep the most recently modified.
pub fn write(dir: &Path, advisories: Vec<Advisory>, sources: Vec<String>, skipped: usize, unsupported: usize) -> Result<(Metadata, PathBuf), StoreError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| StoreError::Io { path: p, source }
    };
    let mut by_id: HashMap<String, Advisory> = HashMap::with_capacity(advisories.len());
    for a in advisories {
        match by_id.get(&a.id) {
            Some(old) if old.modified >= a.modified => {}
            _ => {
                by_id.insert(a.id.clone(), a);
            }
        }
    }
    let mut groups: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let count = by_id.len();
    let mut ids: Vec<&String> = by_id.keys().collect();
    ids.sort();
    for id in ids {
        let a = &by_id[id];
        for (k, entry) in entries(a) {
            let group = groups.entry(k).or_default();
            // One advisory naming the same package and release twice: one entry with both ranges.
            match group.iter_mut().find(|e| e.id == entry.id && e.release == entry.release) {
                Some(e) => {
                    e.ranges.extend(entry.ranges);
                    e.versions.extend(entry.versions);
                }
                None => group.push(entry),
            }
        }
    }
    let imported_at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| "unknown".into());
    let metadata = Metadata { format_version: FORMAT_VERSION, imported_at, sources, advisories: count, packages: groups.len(), skipped, unsupported };

    let mut body = Vec::new();
    let mut index = HashMap::with_capacity(groups.len());
    for (k, entries) in &groups {
        let start = body.len() as u64;
        serde_json::to_writer(&mut body, entries).map_err(|e| StoreError::Corrupt { path: dir.to_path_buf(), reason: e.to_string() })?;
        index.insert(k.clone(), (start, (body.len() as u64 - start) as u32));
    }
    let header = serde_json::to_vec(&Header { metadata: metadata.clone(), index }).map_err(|e| StoreError::Corrupt { path: dir.to_path_buf(), reason: e.to_string() })?;

    fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(FILE_NAME);
    let tmp = dir.join(format!("{FILE_NAME}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::io::BufWriter::new(fs::File::create(&tmp)?);
        f.write_all(MAGIC)?;
        f.write_all(&FORMAT_VERSION.to_le_bytes())?;
        f.write_all(&(header.len() as u64).to_le_bytes())?;
        f.write_all(&header)?;
        f.write_all(&body)?;
        let f = f.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        fs::rename(&tmp, &path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::Io { path: tmp, source: e });
    }
    Ok((metadata, path))
}

/// The store entries of one advisory: (key, entry) per affected package gantry scans.
fn entries(a: &Advisory) -> Vec<(String, Entry)> {
    let mut aliases = a.aliases.clone();
    if let [one] = a.upstream.as_slice() {
        if !aliases.contains(one) {
            aliases.push(one.clone());
        }
    }
    aliases.retain(|x| x != &a.id);
    let summary = a.summary.clone().filter(|s| !s.is_empty()).or_else(|| a.details.as_ref().map(|d| d.lines().next().unwrap_or("").chars().take(200).collect())).unwrap_or_default();
    let mut out = Vec::new();
    for af in &a.affected {
        let Some(pkg) = &af.package else { continue };
        let Some(eco) = osv::parse_ecosystem(&pkg.ecosystem) else { continue };
        let release = match &eco {
            Ecosystem::Debian(r) | Ecosystem::Alpine(r) => r.clone(),
            Ecosystem::Rpm { release, .. } => release.clone(),
            _ => None,
        };
        let ranges = af
            .ranges
            .iter()
            .filter(|r| r.kind != RangeKind::Git)
            .map(|r| StoredRange { semver: r.kind == RangeKind::Semver, events: r.events.clone() })
            .collect();
        out.push((
            key(&eco, &pkg.name),
            Entry {
                id: a.id.clone(),
                aliases: aliases.clone(),
                summary: summary.clone(),
                withdrawn: a.withdrawn.is_some(),
                release,
                rating: rate(a, af),
                ranges,
                versions: af.versions.clone(),
            },
        ));
    }
    out
}

/// CVSS v3 > CVSS v4 > the advisory's own severity > CVSS v2; a CVSS vector's score sets the severity.
pub fn rate(a: &Advisory, af: &osv::Affected) -> Rating {
    let scores: Vec<&osv::SeverityScore> = af.severity.iter().chain(&a.severity).collect();
    let own = own_severity(a, af);
    let find = |kind: &str| scores.iter().find(|s| s.kind == kind).and_then(|s| cvss::score(&s.score).ok().map(|sc| (s.score.clone(), sc)));
    if let Some((vector, sc)) = find("CVSS_V3") {
        return Rating { severity: sc.severity().unwrap_or_default(), score: sc.base, vector: Some(vector) };
    }
    if let Some((vector, sc)) = find("CVSS_V4") {
        return Rating { severity: sc.severity().unwrap_or_default(), score: sc.base, vector: Some(vector) };
    }
    if let Some(s) = own {
        return Rating { severity: s, score: None, vector: None };
    }
    if let Some((vector, sc)) = find("CVSS_V2") {
        debug_assert_eq!(sc.version, CvssVersion::V2);
        return Rating { severity: sc.severity().unwrap_or_default(), score: sc.base, vector: Some(vector) };
    }
    Rating::default()
}

/// `database_specific.severity` (GitHub: LOW/MODERATE/HIGH/CRITICAL) of the affected entry or the advisory,
/// or `ecosystem_specific.severity`.
fn own_severity(a: &Advisory, af: &osv::Affected) -> Option<Severity> {
    [af.database_specific.as_ref(), af.ecosystem_specific.as_ref(), a.database_specific.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|v| v.get("severity").and_then(|s| s.as_str()).and_then(parse_severity))
}

/// A severity word as advisories write it.
pub fn parse_severity(s: &str) -> Option<Severity> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" | "important" => Severity::High,
        "moderate" | "medium" => Severity::Medium,
        "low" => Severity::Low,
        "negligible" | "unimportant" | "none" => Severity::Negligible,
        _ => return None,
    })
}

impl Store {
    /// Opens the store in `dir` (reads the header and index only).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(FILE_NAME);
        let mut file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::Missing { path }),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        let corrupt = |p: &Path, why: String| StoreError::Corrupt { path: p.to_path_buf(), reason: why };
        let mut fixed = [0u8; 20];
        file.read_exact(&mut fixed).map_err(|_| corrupt(&path, "shorter than its header".into()))?;
        if &fixed[..8] != MAGIC {
            return Err(corrupt(&path, "wrong magic bytes".into()));
        }
        let version = u32::from_le_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);
        if version != FORMAT_VERSION {
            return Err(StoreError::Version { path, found: version });
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&fixed[12..20]);
        let header_len = u64::from_le_bytes(len);
        let size = file.metadata().map_err(|source| StoreError::Io { path: path.clone(), source })?.len();
        if 20 + header_len > size {
            return Err(corrupt(&path, "truncated header".into()));
        }
        let mut header = vec![0u8; header_len as usize];
        file.read_exact(&mut header).map_err(|source| StoreError::Io { path: path.clone(), source })?;
        let header: Header = serde_json::from_slice(&header).map_err(|e| corrupt(&path, format!("header: {e}")))?;
        Ok(Store { path, metadata: header.metadata, index: header.index, body_start: 20 + header_len, file: Mutex::new(file) })
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry about the package `name` in `ecosystem`'s family (all releases; the matcher picks).
    pub fn lookup(&self, ecosystem: &Ecosystem, name: &str) -> Result<Vec<Entry>, StoreError> {
        let Some(&(offset, len)) = self.index.get(&key(ecosystem, name)) else {
            return Ok(Vec::new());
        };
        let mut buf = vec![0u8; len as usize];
        {
            // A poisoned lock only means another lookup panicked mid-read; the file handle is still usable.
            let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
            f.seek(SeekFrom::Start(self.body_start + offset)).map_err(|source| StoreError::Io { path: self.path.clone(), source })?;
            f.read_exact(&mut buf).map_err(|source| StoreError::Io { path: self.path.clone(), source })?;
        }
        serde_json::from_slice(&buf).map_err(|e| StoreError::Corrupt { path: self.path.clone(), reason: format!("group {name}: {e}") })
    }
}
