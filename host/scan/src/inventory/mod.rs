//! The package inventory: a `fs::Visitor` that asks for the files package
//! managers leave behind (decided from the path, and for binaries from the
//! mode and size), parses each as it streams past, and at the end turns
//! what it read into `model::Package`s with purls, OSV ecosystems and the
//! layer each record came from. OS packages get their distribution from
//! os-release, which may come before or after their database in the walk.
//! A file that cannot be parsed is a `problem` (named by path and layer),
//! never a failed scan. One file per ecosystem; this file only routes. It
//! must not match vulnerabilities or decide anything.

pub mod apk;
pub mod dpkg;
pub mod elf;
pub mod gobin;
pub mod npm;
pub mod osrelease;
pub mod purl;
pub mod python;
pub mod rpm;
pub mod rustbin;
pub mod sqlite;

use std::collections::HashSet;

use gantry_registry::Image;

use crate::fs::{self, FileMeta, Visitor, WalkStats};
use crate::layers::{ImageLayers, LayerError, LayerSource};
use crate::model::{Ecosystem, Package};
pub use osrelease::OsRelease;

/// Executables larger than this are not read for Go or Rust build info.
pub const MAX_BINARY: u64 = 256 << 20;
/// Package databases larger than this are not read (an rpmdb is the largest, tens of MB).
pub const MAX_DATABASE: u64 = 512 << 20;
/// Language metadata files larger than this are not read.
pub const MAX_METADATA: u64 = 16 << 20;
/// Executables smaller than this are scripts or stubs, not Go or Rust binaries.
const MIN_BINARY: u64 = 4096;

/// What the inventory found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub os: Option<OsRelease>,
    pub packages: Vec<Package>,
    /// Files that looked like package metadata but could not be read: `path (layer): why`.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone)]
enum OsKind {
    Deb,
    Apk,
    Rpm { epoch: Option<u32> },
}

#[derive(Debug, Clone)]
struct OsPackage {
    kind: OsKind,
    name: String,
    version: String,
    arch: String,
    source: Option<(String, Option<String>)>,
    licenses: Vec<String>,
    layer: String,
    path: String,
}

/// The visitor; `finish` gives the inventory.
#[derive(Debug, Default)]
pub struct Collector {
    /// (priority: 0 for /etc, 1 for /usr/lib) and the release
    os: Option<(u8, OsRelease)>,
    os_packages: Vec<OsPackage>,
    packages: Vec<Package>,
    /// npm purls seen in node_modules (preferred over lockfile entries)
    npm_lock: Vec<Package>,
    problems: Vec<String>,
}

fn is_os_release(path: &str) -> Option<u8> {
    match path {
        "/etc/os-release" => Some(0),
        "/usr/lib/os-release" => Some(1),
        _ => None,
    }
}

fn is_rpmdb(path: &str) -> bool {
    path == "/var/lib/rpm/rpmdb.sqlite" || path == "/usr/lib/sysimage/rpm/rpmdb.sqlite"
}

impl Visitor for Collector {
    fn wants(&self, path: &str, size: u64, mode: u32) -> bool {
        if is_os_release(path).is_some() || dpkg::wants(path) || apk::wants(path) {
            return size <= MAX_DATABASE;
        }
        if is_rpmdb(path) {
            return size <= MAX_DATABASE;
        }
        if python::wants(path) || npm::wants(path).is_some() {
            return size <= MAX_METADATA;
        }
        mode & 0o111 != 0 && (MIN_BINARY..=MAX_BINARY).contains(&size)
    }

    fn file(&mut self, file: &FileMeta<'_>, contents: &[u8]) {
        let path = file.path;
        let text = || String::from_utf8_lossy(contents);
        if let Some(priority) = is_os_release(path) {
            if self.os.as_ref().is_none_or(|(p, _)| priority < *p) {
                self.os = Some((priority, OsRelease::parse(&text())));
            }
        } else if dpkg::wants(path) {
            for p in dpkg::parse(&text()) {
                self.os_packages.push(OsPackage { kind: OsKind::Deb, name: p.name, version: p.version, arch: p.arch, source: p.source, licenses: vec![], layer: file.layer.to_string(), path: path.to_string() });
            }
        } else if apk::wants(path) {
            for p in apk::parse(&text()) {
                let source = p.origin.filter(|o| *o != p.name).map(|o| (o, None));
                self.os_packages.push(OsPackage { kind: OsKind::Apk, name: p.name, version: p.version, arch: p.arch, source, licenses: p.license.into_iter().collect(), layer: file.layer.to_string(), path: path.to_string() });
            }
        } else if is_rpmdb(path) {
            match rpm::read_sqlite(contents) {
                Ok(found) => {
                    for p in found {
                        let version = format!("{}-{}", p.version, p.release);
                        let source = p.source_rpm.as_deref().and_then(rpm::split_source_rpm).filter(|(n, _)| *n != p.name).map(|(n, v)| (n.to_string(), Some(v.to_string())));
                        self.os_packages.push(OsPackage { kind: OsKind::Rpm { epoch: p.epoch }, name: p.name, version, arch: p.arch, source, licenses: p.license.into_iter().collect(), layer: file.layer.to_string(), path: path.to_string() });
                    }
                }
                Err(e) => self.problem(file, &e),
            }
        } else if python::wants(path) {
            match python::parse(&text()) {
                Some(p) => {
                    let purl = purl::pypi(&p.name, &p.version);
                    self.packages.push(package(p.name, p.version, Ecosystem::PyPI, purl, file, p.licenses));
                }
                None => self.problem(file, "no Name or Version header"),
            }
        } else if let Some(kind) = npm::wants(path) {
            match kind {
                npm::NpmFile::Manifest => match npm::parse_manifest(contents) {
                    Ok(Some(p)) => {
                        let purl = purl::npm(&p.name, &p.version);
                        self.packages.push(package(p.name, p.version, Ecosystem::Npm, purl, file, p.licenses));
                    }
                    Ok(None) => {}
                    Err(e) => self.problem(file, &format!("not JSON: {e}")),
                },
                npm::NpmFile::Lockfile => match npm::parse_lockfile(contents) {
                    Ok(found) => {
                        for p in found {
                            let purl = purl::npm(&p.name, &p.version);
                            self.npm_lock.push(package(p.name, p.version, Ecosystem::Npm, purl, file, p.licenses));
                        }
                    }
                    Err(e) => self.problem(file, &format!("not JSON: {e}")),
                },
            }
        } else if elf::is_elf(contents) {
            self.binary(file, contents);
        }
    }
}

fn package(name: String, version: String, ecosystem: Ecosystem, purl: String, file: &FileMeta<'_>, licenses: Vec<String>) -> Package {
    Package { name, version, ecosystem, purl, layer: Some(file.layer.to_string()), path: Some(file.path.to_string()), source: None, licenses }
}

impl Collector {
    pub fn new() -> Collector {
        Collector::default()
    }

    fn problem(&mut self, file: &FileMeta<'_>, why: &str) {
        tracing::warn!(path = file.path, layer = file.layer, why, "package metadata not read");
        self.problems.push(format!("{} ({}): {why}", file.path, file.layer));
    }

    fn binary(&mut self, file: &FileMeta<'_>, contents: &[u8]) {
        match gobin::read(contents) {
            Ok(Some(info)) => {
                let go = info.go_version.strip_prefix("go").unwrap_or(&info.go_version);
                // `go1.22.5 X:boringcrypto` carries experiment tags after a space
                let go = format!("v{}", go.split_whitespace().next().unwrap_or(go));
                self.packages.push(package("stdlib".into(), go.clone(), Ecosystem::Go, purl::golang("stdlib", &go), file, vec![]));
                if let Some((m, v)) = info.main.filter(|(_, v)| v != "(devel)" && !v.is_empty()) {
                    let p = purl::golang(&m, &v);
                    self.packages.push(package(m, v, Ecosystem::Go, p, file, vec![]));
                }
                for (m, v) in info.deps {
                    let p = purl::golang(&m, &v);
                    self.packages.push(package(m, v, Ecosystem::Go, p, file, vec![]));
                }
            }
            Ok(None) => {}
            Err(gobin::GoError::PointerFormat) => self.problem(file, "a Go binary built before Go 1.18 (build info behind pointers; not read)"),
            Err(gobin::GoError::Truncated) => self.problem(file, "Go build info is truncated"),
        }
        match rustbin::read(contents) {
            Ok(Some(crates)) => {
                for c in crates {
                    let p = purl::build("cargo", None, &c.name, &c.version, &[]);
                    self.packages.push(package(c.name, c.version, Ecosystem::CratesIo, p, file, vec![]));
                }
            }
            Ok(None) => {}
            Err(e) => self.problem(file, &e),
        }
    }

    /// The packages found, OS packages qualified by the distribution.
    pub fn finish(self) -> Inventory {
        let os = self.os.map(|(_, o)| o);
        let fallback = OsRelease::default();
        let rel = os.as_ref().unwrap_or(&fallback);
        let mut packages: Vec<Package> = Vec::with_capacity(self.os_packages.len() + self.packages.len());
        for p in self.os_packages {
            let distro = rel.purl_distro();
            let (ecosystem, purl) = match &p.kind {
                OsKind::Deb => {
                    let ns = if rel.id.is_empty() { "debian" } else { rel.id.as_str() };
                    (Ecosystem::Debian(rel.release()), purl::build("deb", Some(ns), &p.name, &p.version, &[("arch", &p.arch), ("distro", &distro)]))
                }
                OsKind::Apk => {
                    let ns = if rel.id.is_empty() { "alpine" } else { rel.id.as_str() };
                    (Ecosystem::Alpine(rel.release()), purl::build("apk", Some(ns), &p.name, &p.version, &[("arch", &p.arch), ("distro", &distro)]))
                }
                OsKind::Rpm { epoch } => {
                    let (osv, ns) = rel.rpm_distro();
                    let epoch = epoch.map(|e| e.to_string()).unwrap_or_default();
                    let release = (!rel.version_id.is_empty()).then(|| rel.version_id.clone());
                    (Ecosystem::Rpm { distro: osv.to_string(), release }, purl::build("rpm", Some(ns), &p.name, &p.version, &[("arch", &p.arch), ("epoch", &epoch), ("distro", &distro)]))
                }
            };
            // rpm's version carries its epoch (`1:2024a-1.el9`) as rpm compares it; the purl has it as a qualifier
            let version = match &p.kind {
                OsKind::Rpm { epoch: Some(e) } => format!("{e}:{}", p.version),
                _ => p.version,
            };
            packages.push(Package { name: p.name, version, ecosystem, purl, layer: Some(p.layer), path: Some(p.path), source: p.source, licenses: p.licenses });
        }
        packages.extend(self.packages);
        let installed: HashSet<String> = packages.iter().filter(|p| p.ecosystem == Ecosystem::Npm).map(|p| p.purl.clone()).collect();
        let mut from_lock = HashSet::new();
        for p in self.npm_lock {
            if !installed.contains(&p.purl) && from_lock.insert(p.purl.clone()) {
                packages.push(p);
            }
        }
        Inventory { os, packages, problems: self.problems }
    }
}

/// Why an inventory could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error(transparent)]
    Layer(#[from] LayerError),
}

/// The inventory of the image in `source`, and what the walk read.
pub fn inventory_of(source: &mut dyn LayerSource) -> Result<(Inventory, WalkStats), InventoryError> {
    let mut collector = Collector::new();
    let stats = fs::walk(source, &mut [&mut collector])?;
    Ok((collector.finish(), stats))
}

/// The inventory of an image held in memory.
pub fn inventory(image: &Image) -> Result<Inventory, InventoryError> {
    Ok(inventory_of(&mut ImageLayers::new(image))?.0)
}
