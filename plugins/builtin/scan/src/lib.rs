//! `builtin:scan`: scans the pipeline's image once and fails the stage (so
//! the run stops before anything is deployed) when a scan policy denies it.
//! The image is the one an earlier build stage pushed (`pushed[0]` with its
//! `digest`, so the scan is of exactly what will be deployed), else the
//! pipeline's image by tag in the first target's registry. The host reads
//! the image and runs the policy in its own sandbox; this plugin only asks
//! and reports. It must not decide anything the policy does not.
//!
//! The host saves each scan's report for CI (`gantry run`: under
//! `<state-dir>/reports/<run-id>/`, JSON and SARIF); the stage names those
//! files. A deny fails the stage with a message listing every violation
//! (rule, severity, subject, message) and the report files, and logs each
//! violation with those fields, so the run record says why.
//!
//! Outputs (when allowed): `decision` (`allow`), `violations` (rule,
//! severity, subject, message: a policy may allow with some), `counts`
//! (vulnerabilities by severity, every severity present), `secrets` and
//! `packages` (how many), `reports` (`{"json": PATH, "sarif": PATH}`, empty
//! when the run saves none), `digest`, `reference`, `policy`.
//!
//! Settings (`with:`), all optional: `policy: builtin:NAME | PATH.wasm`
//! (default `builtin:policy-default`; a path is inside the pipeline's
//! directory), `settings: {…}` (the policy's settings).

use std::collections::BTreeMap;

use gantry_sdk::cap::{run, scanner};
use gantry_sdk::types::{Severity, Violation};
use gantry_sdk::{emit, Failure, Input, Level, Output, Stage};
use serde::Deserialize;

const DEFAULT_POLICY: &str = "builtin:policy-default";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Settings {
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    settings: Option<serde_json::Value>,
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Unknown => "unknown",
        Severity::Negligible => "negligible",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// The reference the build stage pushed, pinned to its digest.
fn built_reference() -> Option<(String, String)> {
    for record in run::history().iter().rev() {
        if record.status != "succeeded" {
            continue;
        }
        let Ok(outputs) = serde_json::from_str::<serde_json::Value>(&record.outputs) else { continue };
        let (Some(pushed), Some(digest)) = (outputs.get("pushed").and_then(|p| p.get(0)).and_then(|p| p.as_str()), outputs.get("digest").and_then(|d| d.as_str())) else {
            continue;
        };
        // `REGISTRY/NAME:TAG` → `REGISTRY/NAME` (a `:` after the last `/` is the tag).
        let slash = pushed.rfind('/').map_or(0, |i| i + 1);
        let repository = match pushed[slash..].find([':', '@']) {
            Some(i) => &pushed[..slash + i],
            None => pushed,
        };
        return Some((format!("{repository}@{digest}"), digest.to_string()));
    }
    None
}

fn violation_json(v: &Violation) -> serde_json::Value {
    serde_json::json!({ "rule": v.rule, "severity": severity_name(v.severity), "subject": v.subject, "message": v.message })
}

struct Scan;

impl Stage for Scan {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let settings = input.settings;
        let reference = match built_reference() {
            Some((reference, _)) => reference,
            None => {
                let info = run::info();
                let Some(image) = info.image else {
                    return Err(Failure::new("builtin:scan needs the pipeline's `image:`").hint("add `image: { name: NAME, tag: TAG }`, or a build stage before this one"));
                };
                let Some(registry) = info.targets.iter().find_map(|t| t.registry.clone().filter(|r| !r.is_empty())) else {
                    return Err(Failure::new("no target names a `registry:` to scan the image from").hint("give the targets a `registry:`, or run a build stage before this one"));
                };
                format!("{}/{}:{}", registry.trim_end_matches('/'), image.name, image.tag)
            }
        };
        let report = scanner::scan(&reference, scanner::ScanOptions { secrets: true, skip_vulnerabilities: false })
            .map_err(|e| Failure::new(format!("scanning {reference}: {} ({})", e.message, e.kind.name())))?;
        let digest = report.image.digest.clone();
        let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
        for s in [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Negligible, Severity::Unknown] {
            counts.insert(severity_name(s), 0);
        }
        for v in &report.vulnerabilities {
            *counts.entry(severity_name(v.severity)).or_default() += 1;
        }
        let policy = settings.policy.unwrap_or_else(|| DEFAULT_POLICY.to_string());
        let policy_settings = match &settings.settings {
            Some(v) => serde_json::to_string(v).map_err(|e| Failure::new(format!("the policy settings are not JSON: {e}")))?,
            None => "{}".to_string(),
        };
        let saved = scanner::saved_reports(&digest);
        let decision = scanner::evaluate(&report, &policy, &policy_settings)
            .map_err(|e| Failure::new(format!("policy `{policy}` on {reference}: {} ({})", e.message, e.kind.name())))?;
        for v in &decision.violations {
            let level = if decision.allowed { Level::Warn } else { Level::Error };
            emit(level, &format!("{} ({}) {}: {}", v.rule, severity_name(v.severity), v.subject, v.message), &[("rule", &v.rule), ("severity", severity_name(v.severity)), ("subject", &v.subject), ("policy", &policy)]);
        }
        if !decision.allowed {
            let lines: Vec<String> = decision.violations.iter().map(|v| format!("  - {} ({}) {}: {}", v.rule, severity_name(v.severity), v.subject, v.message)).collect();
            let n = decision.violations.len();
            let mut message = format!("policy `{policy}` denies {reference} ({n} violation{}):\n{}", if n == 1 { "" } else { "s" }, lines.join("\n"));
            if !saved.is_empty() {
                message.push_str(&format!("\nreports: {}", saved.join(", ")));
            }
            return Err(Failure::new(message).hint("change the image to satisfy the rules above, or change the policy's `settings:` in this stage's `with:`"));
        }
        let total: u64 = counts.values().sum();
        let violations: Vec<serde_json::Value> = decision.violations.iter().map(violation_json).collect();
        let mut reports = serde_json::Map::new();
        for path in &saved {
            if let Some((_, ext)) = path.rsplit_once('.') {
                reports.insert(ext.to_string(), serde_json::Value::String(path.clone()));
            }
        }
        Ok(Output::new(format!("{reference}: allowed by {policy} ({} packages, {total} vulnerabilities)", report.packages.len()))
            .with("decision", "allow")
            .with("violations", violations)
            .with("counts", counts)
            .with("secrets", report.secrets.len())
            .with("packages", report.packages.len())
            .with("reports", reports)
            .with("digest", digest)
            .with("reference", reference)
            .with("policy", policy))
    }
}

gantry_sdk::export_stage!(Scan);
