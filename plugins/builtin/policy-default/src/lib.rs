//! `builtin:policy-default`: the configurable scan policy (world
//! `scan-policy`). It reads the whole report and refuses the image with one
//! violation per broken rule; it imports nothing but `log` and decides on
//! the report alone (no network, no clock).
//!
//! Settings (JSON; every key optional; unknown keys are an error, which
//! denies with rule `policy-settings`):
//!
//! - `max-severity`: the highest vulnerability severity allowed
//!   (`unknown`, `negligible`, `low`, `medium`, `high`, `critical`).
//!   Default `high`: any critical finding denies. `critical` allows all.
//! - `max-severity-fixed`: the same for findings that have a fixed version
//!   (stricter: the lower of the two applies to them). Default: `max-severity`.
//! - `ignore`: advisory ids (or any of their aliases) never counted.
//! - `no-root`: deny when the image runs as root (user empty, `0` or `root`,
//!   with or without a group). Default `false`.
//! - `no-secrets`: deny when the scan found credentials. Default `true`.
//! - `required-labels`: label keys that must be present with a value.
//! - `allowed-base-registries`: prefixes (`docker.io/library`, `registry.local`)
//!   the base image (from the image facts) must start with; short Docker
//!   Hub names count as `docker.io/library/NAME`. An unknown base image is
//!   denied when the list is set.
//! - `max-size`: the largest compressed image size: bytes, or with a unit
//!   (`500Mi`, `1Gi`, `200MB`, `800K`).
//!
//! Violation rules: `max-severity`, `max-severity-fixed`, `no-root`,
//! `no-secrets`, `required-labels`, `allowed-base-registries`, `max-size`,
//! `policy-settings`.

use gantry_sdk::types::{Decision, ScanReport, Severity, Violation};
use gantry_sdk::ScanPolicy;
use serde::Deserialize;

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[serde(rename_all = "lowercase")]
enum Level {
    Unknown,
    Negligible,
    Low,
    Medium,
    #[default]
    High,
    Critical,
}

impl Level {
    fn of(s: Severity) -> Level {
        match s {
            Severity::Unknown => Level::Unknown,
            Severity::Negligible => Level::Negligible,
            Severity::Low => Level::Low,
            Severity::Medium => Level::Medium,
            Severity::High => Level::High,
            Severity::Critical => Level::Critical,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Level::Unknown => "unknown",
            Level::Negligible => "negligible",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Settings {
    #[serde(default)]
    max_severity: Level,
    max_severity_fixed: Option<Level>,
    #[serde(default)]
    ignore: Vec<String>,
    #[serde(default)]
    no_root: bool,
    #[serde(default = "yes")]
    no_secrets: bool,
    #[serde(default)]
    required_labels: Vec<String>,
    allowed_base_registries: Option<Vec<String>>,
    max_size: Option<Size>,
}

fn yes() -> bool {
    true
}

/// A size in bytes, from a number or a string with a unit.
#[derive(Clone, Copy)]
struct Size(u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Size(n)),
            Raw::S(s) => parse_size(&s).map(Size).ok_or_else(|| {
                serde::de::Error::custom(format!("`max-size: {s}` is not a size; write bytes or a number with Ki, Mi, Gi, K, M or G (e.g. `500Mi`)"))
            }),
        }
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim().trim_end_matches(['B', 'b']) {
        "" => 1.0,
        "K" | "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    (number >= 0.0).then(|| (number * factor) as u64)
}

fn human(bytes: u64) -> String {
    const MI: f64 = 1024.0 * 1024.0;
    if bytes as f64 >= 1024.0 * MI {
        format!("{:.1}Gi", bytes as f64 / (1024.0 * MI))
    } else {
        format!("{:.1}Mi", bytes as f64 / MI)
    }
}

fn violation(rule: &str, severity: Severity, subject: impl Into<String>, message: String) -> Violation {
    Violation { rule: rule.into(), severity, subject: subject.into(), message }
}

/// `debian:12` → `docker.io/library/debian:12`; `ghcr.io/o/x` unchanged.
fn normalize(image: &str) -> String {
    let first = image.split('/').next().unwrap_or("");
    let has_registry = image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_registry {
        image.to_string()
    } else if image.contains('/') {
        format!("docker.io/{image}")
    } else {
        format!("docker.io/library/{image}")
    }
}

/// `prefix` matches at a path boundary: `docker.io` matches
/// `docker.io/library/x`, not `docker.io.evil/x`.
fn has_prefix(image: &str, prefix: &str) -> bool {
    let prefix = prefix.trim();
    if prefix.is_empty() {
        return false;
    }
    match image.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with(['/', ':', '@']),
        None => false,
    }
}

fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or("").trim();
    name.is_empty() || name == "0" || name == "root"
}

struct DefaultPolicy;

impl ScanPolicy for DefaultPolicy {
    type Settings = Settings;

    fn evaluate(report: &ScanReport, s: Settings) -> Decision {
        let mut violations = Vec::new();
        let fixed_limit = s.max_severity_fixed.map_or(s.max_severity, |f| f.min(s.max_severity));
        for v in &report.vulnerabilities {
            if s.ignore.iter().any(|i| *i == v.id || v.aliases.contains(i)) {
                continue;
            }
            let level = Level::of(v.severity);
            let (rule, limit) = match &v.fixed_version {
                Some(_) if s.max_severity_fixed.is_some() => ("max-severity-fixed", fixed_limit),
                _ => ("max-severity", s.max_severity),
            };
            if level > limit {
                let fix = match &v.fixed_version {
                    Some(f) => format!("; fixed in {f}: upgrade {} to {f} or later", v.package_name),
                    None => "; no fix yet: add the id to `ignore` if it does not apply".to_string(),
                };
                violations.push(violation(
                    rule,
                    v.severity,
                    &v.id,
                    format!("{} in {} {} is {}, above the {} allowed{}", v.id, v.package_name, v.installed_version, level.name(), limit.name(), fix),
                ));
            }
        }
        if s.no_root && is_root(&report.image.user) {
            let shown = if report.image.user.is_empty() { "no USER (root)".to_string() } else { format!("USER {}", report.image.user) };
            violations.push(violation("no-root", Severity::High, "user", format!("the image runs as root ({shown}); add a non-root `USER` to the Dockerfile")));
        }
        if s.no_secrets {
            for f in &report.secrets {
                violations.push(violation("no-secrets", Severity::Critical, &f.location, format!("a credential ({}) is in the image at {}; remove it and rotate it", f.rule, f.location)));
            }
        }
        for key in &s.required_labels {
            let present = report.image.labels.iter().any(|p| p.key == *key && !p.value.trim().is_empty());
            if !present {
                violations.push(violation("required-labels", Severity::Medium, key, format!("the image has no `{key}` label; add `LABEL {key}=...` to the Dockerfile")));
            }
        }
        if let Some(prefixes) = &s.allowed_base_registries {
            match &report.image.base_image {
                None => violations.push(violation(
                    "allowed-base-registries",
                    Severity::High,
                    "base-image",
                    "the base image is not known, so it cannot be checked against the allowed registries; set the `org.opencontainers.image.base.name` label".into(),
                )),
                Some(base) => {
                    let full = normalize(base);
                    if !prefixes.iter().any(|p| has_prefix(&full, p) || has_prefix(base, p)) {
                        violations.push(violation(
                            "allowed-base-registries",
                            Severity::High,
                            base,
                            format!("the base image {full} is not from an allowed registry ({})", prefixes.join(", ")),
                        ));
                    }
                }
            }
        }
        if let Some(Size(max)) = s.max_size {
            if report.image.size > max {
                violations.push(violation(
                    "max-size",
                    Severity::Medium,
                    &report.image.reference,
                    format!("the image is {} ({} bytes), above the {} allowed", human(report.image.size), report.image.size, human(max)),
                ));
            }
        }
        if !violations.is_empty() {
            gantry_sdk::info!("policy-default: {} violation(s)", violations.len());
        }
        Decision { allowed: violations.is_empty(), violations }
    }
}

gantry_sdk::export_scan_policy!(DefaultPolicy);
