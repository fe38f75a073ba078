//! What a scan finds, in plain Rust types shared by every part of the scan
//! (inventory, matching, secrets, outputs) and converted to the WIT
//! `scan-types` at the runtime's boundary: image facts, packages with their
//! purl and layer, vulnerabilities, secret findings, the report. It must
//! not read images or advisories itself.

use serde::{Deserialize, Serialize};

/// A vulnerability's severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

/// Where a package comes from: the OSV ecosystem it is matched in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Ecosystem {
    /// dpkg; the release (`debian:12`) when known from `/etc/os-release`.
    Debian(Option<String>),
    /// apk; the release (`alpine:v3.20`).
    Alpine(Option<String>),
    /// rpm; the distribution as OSV names it (`Red Hat`, `Rocky Linux`, `AlmaLinux`), and its release.
    Rpm { distro: String, release: Option<String> },
    PyPI,
    Npm,
    Go,
    CratesIo,
}

impl Ecosystem {
    /// The short name the WIT record carries: `debian`, `alpine`, `rpm`, `pypi`, `npm`, `golang`, `cargo`.
    pub fn short(&self) -> &'static str {
        match self {
            Ecosystem::Debian(_) => "debian",
            Ecosystem::Alpine(_) => "alpine",
            Ecosystem::Rpm { .. } => "rpm",
            Ecosystem::PyPI => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "golang",
            Ecosystem::CratesIo => "cargo",
        }
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub ecosystem: Ecosystem,
    /// Package URL: `pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12`.
    pub purl: String,
    /// Digest of the layer the package's record came from.
    pub layer: Option<String>,
    /// The file the inventory read it from.
    pub path: Option<String>,
    /// The source package (dpkg `Source:`, apk `o:`, rpm source rpm), when it differs:
    /// distribution advisories are published per source package.
    pub source: Option<(String, Option<String>)>,
    pub licenses: Vec<String>,
}

/// One known vulnerability of one package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vulnerability {
    pub id: String,
    pub aliases: Vec<String>,
    pub package_name: String,
    pub package_purl: String,
    pub installed_version: String,
    pub fixed_version: Option<String>,
    pub severity: Severity,
    pub cvss_score: Option<f32>,
    pub cvss_vector: Option<String>,
    pub summary: String,
}

/// A credential found in the image, by rule and place, never by value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretFinding {
    pub rule: String,
    /// `env:AWS_SECRET_ACCESS_KEY` or `/app/.env:3`.
    pub location: String,
    pub layer: Option<String>,
}

/// Facts about the image itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFacts {
    pub reference: String,
    pub digest: String,
    /// Empty means root.
    pub user: String,
    pub env_names: Vec<String>,
    pub exposed_ports: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// Compressed size in bytes.
    pub size: u64,
    pub layers: u32,
    pub base_image: Option<String>,
    pub created: Option<String>,
}

/// Everything a policy decides on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub image: ImageFacts,
    pub packages: Vec<Package>,
    pub vulnerabilities: Vec<Vulnerability>,
    pub secrets: Vec<SecretFinding>,
    /// Where the advisories came from and how fresh they are.
    pub database: String,
}
