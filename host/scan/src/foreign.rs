//! Reports from other scanners read as gantry's own findings: Trivy's JSON
//! (`trivy image -f json`: `Results[].Vulnerabilities[]`, and
//! `Results[].Packages[]` with `--list-all-pkgs`; the pre-0.20 top-level
//! array too) and Grype's JSON (`grype -o json`: `matches[]` of
//! vulnerability, artifact and related vulnerabilities). Each becomes
//! [`Vulnerability`] and [`Package`] values so a policy can decide on them
//! like on a native scan. Severity and fixed version are taken as the tool
//! reported them; nothing is re-matched here. It must not read images or
//! the advisory store.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{Ecosystem, Package, Severity, Vulnerability};
use crate::osv::normalise_release;

/// Which tool wrote a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Trivy,
    Grype,
}

/// What a foreign report holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Foreign {
    pub tool: Tool,
    pub vulnerabilities: Vec<Vulnerability>,
    /// Every package the report names (all of them when Trivy ran with `--list-all-pkgs`,
    /// otherwise only the vulnerable ones).
    pub packages: Vec<Package>,
}

#[derive(Debug, thiserror::Error)]
pub enum ForeignError {
    #[error("{file}: not a Trivy or Grype JSON report: {reason} (expected `trivy image -f json` or `grype -o json` output)")]
    Unknown { file: String, reason: String },
    #[error("{file}: not a valid {tool:?} report: {field}: {reason}")]
    Invalid { file: String, tool: Tool, field: String, reason: String },
}

/// Reads a Trivy or Grype report, telling them apart by their shape.
pub fn read(file: &str, bytes: &[u8]) -> Result<Foreign, ForeignError> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| ForeignError::Unknown { file: file.into(), reason: e.to_string() })?;
    if v.get("matches").is_some() {
        read_grype(file, bytes)
    } else if v.get("Results").is_some() || v.get("SchemaVersion").is_some() || v.is_array() {
        read_trivy(file, bytes)
    } else {
        Err(ForeignError::Unknown { file: file.into(), reason: "neither `Results` (Trivy) nor `matches` (Grype) at the top".into() })
    }
}

fn parse<'a, T: Deserialize<'a>>(file: &str, tool: Tool, bytes: &'a [u8]) -> Result<T, ForeignError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| ForeignError::Invalid {
        file: file.into(),
        tool,
        field: e.path().to_string(),
        reason: e.into_inner().to_string(),
    })
}

fn severity_word(s: &str) -> Severity {
    match s.trim().to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" | "moderate" => Severity::Medium,
        "low" => Severity::Low,
        "negligible" => Severity::Negligible,
        _ => Severity::Unknown,
    }
}

/// The ecosystem a purl's type names (`pkg:deb/debian/...?distro=debian-12`).
fn ecosystem_from_purl(purl: &str) -> Option<Ecosystem> {
    let rest = purl.strip_prefix("pkg:")?;
    let (kind, rest) = rest.split_once('/')?;
    let distro = rest.split_once('?').and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("distro=")).map(str::to_string));
    let release = |family: &str| distro.as_deref().map(|d| normalise_release(family, d.rsplit('-').next().unwrap_or(d)));
    Some(match kind {
        "deb" => Ecosystem::Debian(release("Debian")),
        "apk" => Ecosystem::Alpine(release("Alpine")),
        "rpm" => Ecosystem::Rpm { distro: rest.split('/').next().unwrap_or("").to_string(), release: release("Rpm") },
        "pypi" => Ecosystem::PyPI,
        "npm" => Ecosystem::Npm,
        "golang" => Ecosystem::Go,
        "cargo" => Ecosystem::CratesIo,
        _ => return None,
    })
}

// ---- Trivy ----

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyReport {
    #[serde(default)]
    metadata: Option<TrivyMetadata>,
    #[serde(default)]
    results: Vec<TrivyResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyMetadata {
    #[serde(rename = "OS", default)]
    os: Option<TrivyOs>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyOs {
    family: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyResult {
    #[serde(default, rename = "Type")]
    kind: String,
    #[serde(default)]
    vulnerabilities: Option<Vec<TrivyVuln>>,
    #[serde(default)]
    packages: Option<Vec<TrivyPackage>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct TrivyIdentifier {
    #[serde(rename = "PURL", default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyLayer {
    #[serde(default)]
    digest: Option<String>,
    #[serde(rename = "DiffID", default)]
    diff_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyVuln {
    #[serde(rename = "VulnerabilityID")]
    vulnerability_id: String,
    pkg_name: String,
    installed_version: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    pkg_identifier: Option<TrivyIdentifier>,
    #[serde(default)]
    layer: Option<TrivyLayer>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    severity_source: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(rename = "CVSS", default)]
    cvss: BTreeMap<String, TrivyCvss>,
    #[serde(rename = "VendorIDs", default)]
    vendor_ids: Vec<String>,
}

#[derive(Deserialize)]
struct TrivyCvss {
    #[serde(rename = "V3Vector", default)]
    v3_vector: Option<String>,
    #[serde(rename = "V3Score", default)]
    v3_score: Option<f32>,
    #[serde(rename = "V40Vector", default)]
    v40_vector: Option<String>,
    #[serde(rename = "V40Score", default)]
    v40_score: Option<f32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyPackage {
    name: String,
    version: String,
    #[serde(default)]
    release: Option<String>,
    #[serde(default)]
    epoch: Option<u64>,
    #[serde(default)]
    src_name: Option<String>,
    #[serde(default)]
    src_version: Option<String>,
    #[serde(default)]
    identifier: Option<TrivyIdentifier>,
    #[serde(default)]
    layer: Option<TrivyLayer>,
    #[serde(default)]
    licenses: Option<Vec<String>>,
}

/// The ecosystem of a Trivy result `Type` (`debian`, `alpine`, `python-pkg`, `gomod`, …).
fn trivy_ecosystem(kind: &str, os: Option<&TrivyOs>) -> Option<Ecosystem> {
    let release = |family: &str| os.map(|o| normalise_release(family, &o.name)).filter(|r| !r.is_empty());
    Some(match kind {
        "debian" => Ecosystem::Debian(release("Debian")),
        "alpine" => Ecosystem::Alpine(release("Alpine")),
        "redhat" | "centos" | "rocky" | "alma" | "oracle" | "amazon" | "fedora" | "suse" | "photon" | "cbl-mariner" => {
            let distro = match kind {
                "redhat" => "Red Hat",
                "rocky" => "Rocky Linux",
                "alma" => "AlmaLinux",
                other => other,
            };
            Ecosystem::Rpm { distro: distro.to_string(), release: release("Rpm") }
        }
        "python-pkg" | "pip" | "pipenv" | "poetry" | "uv" => Ecosystem::PyPI,
        "node-pkg" | "npm" | "yarn" | "pnpm" | "bun" => Ecosystem::Npm,
        "gomod" | "gobinary" => Ecosystem::Go,
        "cargo" | "rust-binary" | "rustbinary" => Ecosystem::CratesIo,
        _ => return None,
    })
}

fn layer_of(l: &Option<TrivyLayer>) -> Option<String> {
    l.as_ref().and_then(|l| l.digest.clone().or_else(|| l.diff_id.clone()))
}

/// Reads `trivy … -f json` output.
pub fn read_trivy(file: &str, bytes: &[u8]) -> Result<Foreign, ForeignError> {
    // Before SchemaVersion 2 (Trivy 0.20) a report was the bare array of results.
    let legacy = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let (os, results) = if legacy {
        (None, parse::<Vec<TrivyResult>>(file, Tool::Trivy, bytes)?)
    } else {
        let r: TrivyReport = parse(file, Tool::Trivy, bytes)?;
        (r.metadata.and_then(|m| m.os), r.results)
    };
    let mut vulnerabilities = Vec::new();
    let mut packages: Vec<Package> = Vec::new();
    for result in &results {
        // Old reports have no Type on OS results; the OS family says it.
        let kind = match (&result.kind, &os) {
            (k, Some(o)) if k.is_empty() => o.family.as_str(),
            (k, _) => k.as_str(),
        };
        let ecosystem = trivy_ecosystem(kind, os.as_ref());
        for p in result.packages.iter().flatten() {
            let purl = p.identifier.as_ref().and_then(|i| i.purl.clone()).unwrap_or_default();
            let Some(eco) = ecosystem.clone().or_else(|| ecosystem_from_purl(&purl)) else { continue };
            let mut version = match &p.release {
                Some(r) if !r.is_empty() => format!("{}-{r}", p.version),
                _ => p.version.clone(),
            };
            if let Some(e) = p.epoch.filter(|e| *e > 0) {
                version = format!("{e}:{version}");
            }
            let source = p.src_name.as_ref().filter(|s| **s != p.name).map(|s| (s.clone(), p.src_version.clone()));
            packages.push(Package {
                name: p.name.clone(),
                version,
                ecosystem: eco,
                purl,
                layer: layer_of(&p.layer),
                path: None,
                source,
                licenses: p.licenses.clone().unwrap_or_default(),
            });
        }
        for v in result.vulnerabilities.iter().flatten() {
            let purl = v.pkg_identifier.as_ref().and_then(|i| i.purl.clone()).unwrap_or_default();
            // The source Trivy took its severity from, else NVD, else any vendor with a v3 vector.
            let pick = v
                .severity_source
                .as_ref()
                .and_then(|s| v.cvss.get(s))
                .filter(|c| c.v3_vector.is_some())
                .or_else(|| v.cvss.get("nvd").filter(|c| c.v3_vector.is_some()))
                .or_else(|| v.cvss.values().find(|c| c.v3_vector.is_some()))
                .or_else(|| v.cvss.values().find(|c| c.v40_vector.is_some()));
            let (cvss_score, cvss_vector) = match pick {
                Some(c) if c.v3_vector.is_some() => (c.v3_score, c.v3_vector.clone()),
                Some(c) => (c.v40_score, c.v40_vector.clone()),
                None => (None, None),
            };
            vulnerabilities.push(Vulnerability {
                id: v.vulnerability_id.clone(),
                aliases: v.vendor_ids.iter().filter(|a| **a != v.vulnerability_id).cloned().collect(),
                package_name: v.pkg_name.clone(),
                package_purl: purl.clone(),
                installed_version: v.installed_version.clone(),
                fixed_version: v.fixed_version.clone().filter(|f| !f.is_empty()),
                severity: v.severity.as_deref().map(severity_word).unwrap_or_default(),
                cvss_score,
                cvss_vector,
                summary: v.title.clone().unwrap_or_default(),
            });
            if result.packages.is_none() && !packages.iter().any(|p| p.name == v.pkg_name && p.version == v.installed_version) {
                if let Some(eco) = ecosystem.clone().or_else(|| ecosystem_from_purl(&purl)) {
                    packages.push(Package {
                        name: v.pkg_name.clone(),
                        version: v.installed_version.clone(),
                        ecosystem: eco,
                        purl,
                        layer: layer_of(&v.layer),
                        path: None,
                        source: None,
                        licenses: Vec::new(),
                    });
                }
            }
        }
    }
    Ok(Foreign { tool: Tool::Trivy, vulnerabilities, packages })
}

// ---- Grype ----

#[derive(Deserialize)]
struct GrypeReport {
    matches: Vec<GrypeMatch>,
    #[serde(default)]
    distro: Option<GrypeDistro>,
}

#[derive(Deserialize)]
struct GrypeDistro {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrypeMatch {
    vulnerability: GrypeVuln,
    #[serde(default)]
    related_vulnerabilities: Vec<GrypeVuln>,
    artifact: GrypeArtifact,
}

#[derive(Deserialize)]
struct GrypeVuln {
    id: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    cvss: Vec<GrypeCvss>,
    #[serde(default)]
    fix: Option<GrypeFix>,
}

#[derive(Deserialize)]
struct GrypeCvss {
    #[serde(default)]
    version: String,
    #[serde(default)]
    vector: Option<String>,
    #[serde(default)]
    metrics: Option<GrypeMetrics>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrypeMetrics {
    #[serde(default)]
    base_score: Option<f32>,
}

#[derive(Deserialize)]
struct GrypeFix {
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrypeArtifact {
    name: String,
    version: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    locations: Vec<GrypeLocation>,
    #[serde(default)]
    upstreams: Vec<GrypeUpstream>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrypeLocation {
    #[serde(default)]
    path: Option<String>,
    #[serde(rename = "layerID", default)]
    layer_id: Option<String>,
}

#[derive(Deserialize)]
struct GrypeUpstream {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

fn grype_ecosystem(a: &GrypeArtifact, distro: Option<&GrypeDistro>) -> Option<Ecosystem> {
    let purl = a.purl.as_deref().unwrap_or("");
    if let Some(e) = ecosystem_from_purl(purl) {
        // A purl without distro= still gets the report's distro release.
        return Some(match e {
            Ecosystem::Debian(None) => Ecosystem::Debian(distro.map(|d| normalise_release("Debian", &d.version))),
            Ecosystem::Alpine(None) => Ecosystem::Alpine(distro.map(|d| normalise_release("Alpine", &d.version))),
            other => other,
        });
    }
    Some(match a.kind.as_str() {
        "deb" => Ecosystem::Debian(distro.map(|d| normalise_release("Debian", &d.version))),
        "apk" => Ecosystem::Alpine(distro.map(|d| normalise_release("Alpine", &d.version))),
        "rpm" => Ecosystem::Rpm { distro: distro.map(|d| d.name.clone()).unwrap_or_default(), release: distro.map(|d| normalise_release("Rpm", &d.version)) },
        "python" => Ecosystem::PyPI,
        "npm" => Ecosystem::Npm,
        "go-module" => Ecosystem::Go,
        "rust-crate" => Ecosystem::CratesIo,
        _ => return None,
    })
}

/// A CVSS v3 score (else v4, else any) from the match's own vulnerability, then its related ones.
fn grype_cvss<'a>(vulns: impl Iterator<Item = &'a GrypeVuln> + Clone) -> (Option<f32>, Option<String>) {
    let all = vulns.flat_map(|v| v.cvss.iter());
    let pick = all.clone().find(|c| c.version.starts_with('3')).or_else(|| all.clone().find(|c| c.version.starts_with('4'))).or_else(|| all.clone().next());
    match pick {
        Some(c) => (c.metrics.as_ref().and_then(|m| m.base_score), c.vector.clone()),
        None => (None, None),
    }
}

/// Reads `grype … -o json` output.
pub fn read_grype(file: &str, bytes: &[u8]) -> Result<Foreign, ForeignError> {
    let report: GrypeReport = parse(file, Tool::Grype, bytes)?;
    let mut vulnerabilities = Vec::new();
    let mut packages: Vec<Package> = Vec::new();
    for m in &report.matches {
        let a = &m.artifact;
        let purl = a.purl.clone().unwrap_or_default();
        let mut aliases: Vec<String> = m.related_vulnerabilities.iter().map(|r| r.id.clone()).filter(|id| *id != m.vulnerability.id).collect();
        aliases.sort();
        aliases.dedup();
        let (cvss_score, cvss_vector) = grype_cvss(std::iter::once(&m.vulnerability).chain(&m.related_vulnerabilities));
        let summary = m.vulnerability.description.clone().or_else(|| m.related_vulnerabilities.iter().find_map(|r| r.description.clone())).unwrap_or_default();
        vulnerabilities.push(Vulnerability {
            id: m.vulnerability.id.clone(),
            aliases,
            package_name: a.name.clone(),
            package_purl: purl.clone(),
            installed_version: a.version.clone(),
            fixed_version: m.vulnerability.fix.as_ref().and_then(|f| f.versions.first().cloned()),
            severity: m.vulnerability.severity.as_deref().map(severity_word).unwrap_or_default(),
            cvss_score,
            cvss_vector,
            summary: summary.lines().next().unwrap_or("").to_string(),
        });
        if packages.iter().any(|p| p.name == a.name && p.version == a.version && p.purl == purl) {
            continue;
        }
        if let Some(eco) = grype_ecosystem(a, report.distro.as_ref()) {
            packages.push(Package {
                name: a.name.clone(),
                version: a.version.clone(),
                ecosystem: eco,
                purl,
                layer: a.locations.iter().find_map(|l| l.layer_id.clone()),
                path: a.locations.iter().find_map(|l| l.path.clone()),
                source: a.upstreams.first().filter(|u| u.name != a.name).map(|u| (u.name.clone(), u.version.clone())),
                licenses: Vec::new(),
            });
        }
    }
    Ok(Foreign { tool: Tool::Grype, vulnerabilities, packages })
}
