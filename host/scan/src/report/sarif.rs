//! The report as SARIF 2.1.0, as GitHub and GitLab code scanning read it:
//! one run of the `gantry` driver, one rule per advisory id (its summary,
//! help link to osv.dev, and `properties.security-severity` — the CVSS
//! score as a number string, or a score standing for the rated severity
//! when the advisory has none) and one per secret rule; one result per
//! (vulnerability, package) and per secret finding, its level from the
//! severity (critical/high → error, medium → warning, else note), a
//! location naming the file the package or secret was found in (the image
//! reference when there is none) and the package's purl as a logical
//! location, and a `partialFingerprints` hash of rule, subject and image
//! repository (not tag or digest) so a rebuilt image's alerts stay the same
//! alerts. It must not include a secret's value (findings never carry one).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::model::{Report, Severity};
use crate::report::table::{severity_name, sorted};

/// The SARIF schema this output declares.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The fingerprint key in `partialFingerprints`.
pub const FINGERPRINT: &str = "gantryFinding/v1";

/// The level of a result of this severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Negligible | Severity::Unknown => "note",
    }
}

/// A score standing for a severity when the advisory carries no CVSS
/// score: inside the band GitHub maps back to the same severity.
fn score_of(s: Severity) -> Option<f32> {
    match s {
        Severity::Critical => Some(9.5),
        Severity::High => Some(8.0),
        Severity::Medium => Some(5.5),
        Severity::Low => Some(2.0),
        Severity::Negligible => Some(0.1),
        Severity::Unknown => None,
    }
}

/// The image's repository without tag or digest: what fingerprints are about.
fn repository(reference: &str) -> &str {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    match no_digest.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => no_digest,
    }
}

fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..16])
}

/// A relative URI for a path in the image (`/var/lib/dpkg/status` → `var/lib/dpkg/status`).
fn uri(path: &str) -> String {
    path.trim_start_matches('/').split('/').map(|seg| seg.replace('%', "%25").replace(' ', "%20").replace('#', "%23").replace('?', "%3F")).collect::<Vec<_>>().join("/")
}

/// The SARIF document.
pub fn render(report: &Report, tool_version: &str) -> Value {
    let image = &report.image;
    let repo = repository(&image.reference);
    let mut rules: Vec<Value> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let vulns = sorted(&report.vulnerabilities);
    // One rule per advisory id, rated by its most severe finding.
    for v in &vulns {
        if index.contains_key(&v.id) {
            continue;
        }
        let score = vulns.iter().filter(|o| o.id == v.id).filter_map(|o| o.cvss_score).fold(None, |m: Option<f32>, s| Some(m.map_or(s, |m| m.max(s)))).or_else(|| score_of(v.severity));
        let summary = if v.summary.is_empty() { format!("{} in {}", v.id, v.package_name) } else { v.summary.clone() };
        let mut help = format!("{}\n\nSeverity: {}", summary, severity_name(v.severity));
        if !v.aliases.is_empty() {
            help.push_str(&format!("\nAliases: {}", v.aliases.join(", ")));
        }
        if let Some(vec) = &v.cvss_vector {
            help.push_str(&format!("\nCVSS: {vec}"));
        }
        let mut properties = json!({"tags": ["security", "vulnerability", severity_name(v.severity).to_ascii_lowercase()]});
        if let Some(s) = score {
            properties["security-severity"] = Value::String(format!("{s:.1}"));
        }
        index.insert(v.id.clone(), rules.len());
        rules.push(json!({
            "id": v.id,
            "name": "Vulnerability",
            "shortDescription": {"text": format!("{}: {}", v.id, summary.lines().next().unwrap_or(""))},
            "fullDescription": {"text": summary},
            "helpUri": format!("https://osv.dev/vulnerability/{}", v.id),
            "help": {"text": help.clone(), "markdown": help.replace('\n', "  \n")},
            "defaultConfiguration": {"level": level(v.severity)},
            "properties": properties,
        }));
    }
    let mut secret_rules: Vec<&str> = report.secrets.iter().map(|s| s.rule.as_str()).collect();
    secret_rules.sort();
    secret_rules.dedup();
    for r in secret_rules {
        let id = format!("secret/{r}");
        let description = crate::secrets::RULES.iter().find(|x| x.id == r).map_or(r, |x| x.description);
        index.insert(id.clone(), rules.len());
        rules.push(json!({
            "id": id,
            "name": "Secret",
            "shortDescription": {"text": format!("Credential in the image: {description}")},
            "fullDescription": {"text": format!("A credential matching the rule {r} ({description}) is in the image's configuration or layers. Anyone who pulls the image can read it: remove it from the image (and from every layer) and rotate it.")},
            "help": {"text": "Remove the credential from the image and rotate it; pass credentials at run time (secrets, environment from the orchestrator) instead."},
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["security", "secret"]},
        }));
    }

    let mut results = Vec::new();
    for v in &vulns {
        let path = report.packages.iter().find(|p| p.purl == v.package_purl).and_then(|p| p.path.clone());
        let artifact = path.as_deref().map(uri).unwrap_or_else(|| uri(repo));
        let fixed = v.fixed_version.as_deref().map(|f| format!(", fixed in {f}")).unwrap_or_else(|| ", no fix yet".into());
        results.push(json!({
            "ruleId": v.id,
            "ruleIndex": index[&v.id],
            "level": level(v.severity),
            "message": {"text": format!("{} {} in image {} ({}) is affected by {} ({}){}.", v.package_name, v.installed_version, image.reference, image.digest, v.id, severity_name(v.severity), fixed)},
            "locations": [{
                "physicalLocation": {"artifactLocation": {"uri": artifact}, "region": {"startLine": 1}},
                "logicalLocations": [{"name": v.package_name, "fullyQualifiedName": v.package_purl, "kind": "package"}],
                "message": {"text": format!("{} in {}", v.package_purl, image.reference)},
            }],
            "partialFingerprints": {FINGERPRINT: fingerprint(&[&v.id, &v.package_purl, repo])},
            "properties": {"image": image.reference, "digest": image.digest, "purl": v.package_purl, "installedVersion": v.installed_version, "fixedVersion": v.fixed_version, "aliases": v.aliases},
        }));
    }
    for s in &report.secrets {
        let id = format!("secret/{}", s.rule);
        let (artifact, line) = match s.location.strip_prefix("env:") {
            Some(_) => (uri(repo), 1),
            None => match s.location.rsplit_once(':') {
                Some((p, l)) => (uri(p), l.parse::<u64>().unwrap_or(1).max(1)),
                None => (uri(&s.location), 1),
            },
        };
        results.push(json!({
            "ruleId": id,
            "ruleIndex": index[&id],
            "level": "error",
            "message": {"text": format!("A credential ({}) is in image {} ({}) at {}{}.", s.rule, image.reference, image.digest, s.location, s.layer.as_deref().map(|l| format!(" in layer {l}")).unwrap_or_else(|| " (the image's configuration)".into()))},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": artifact}, "region": {"startLine": line}}}],
            "partialFingerprints": {FINGERPRINT: fingerprint(&[&id, &s.location, repo])},
            "properties": {"image": image.reference, "digest": image.digest, "location": s.location, "layer": s.layer},
        }));
    }

    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "gantry",
                "version": tool_version,
                "semanticVersion": tool_version,
                "informationUri": "https://github.com/gantry-deploy/gantry",
                "rules": rules,
            }},
            "automationDetails": {"id": format!("gantry/scan/{repo}/")},
            "results": results,
            "properties": {"image": image.reference, "digest": image.digest, "database": report.database},
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SecretFinding, Vulnerability};

    #[test]
    fn levels_scores_and_fingerprints_follow_the_findings() {
        let mut r = Report::default();
        r.image.reference = "reg:5000/team/app:1".into();
        r.image.digest = "sha256:d".into();
        let v = Vulnerability { id: "CVE-1".into(), aliases: vec![], package_name: "p".into(), package_purl: "pkg:x/p@1".into(), installed_version: "1".into(), fixed_version: Some("2".into()), severity: Severity::High, cvss_score: Some(7.5), cvss_vector: None, summary: "bad".into() };
        r.vulnerabilities = vec![v.clone(), Vulnerability { id: "CVE-2".into(), severity: Severity::Medium, cvss_score: None, ..v }];
        r.secrets = vec![SecretFinding { rule: "private-key".into(), location: "/app/key.pem:3".into(), layer: Some("sha256:l".into()) }];
        let doc = render(&r, "0.1.0");
        let run = &doc["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"][0]["properties"]["security-severity"], "7.5");
        assert_eq!(run["tool"]["driver"]["rules"][1]["properties"]["security-severity"], "5.5");
        assert_eq!(run["results"][0]["level"], "error");
        assert_eq!(run["results"][1]["level"], "warning");
        assert_eq!(run["results"][2]["ruleId"], "secret/private-key");
        assert_eq!(run["results"][2]["locations"][0]["physicalLocation"]["region"]["startLine"], 3);
        assert_eq!(run["results"][2]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "app/key.pem");
        // the same finding in the next tag of the image keeps its fingerprint
        let mut next = r.clone();
        next.image.reference = "reg:5000/team/app:2".into();
        assert_eq!(render(&next, "0.1.0")["runs"][0]["results"][0]["partialFingerprints"], run["results"][0]["partialFingerprints"]);
    }
}
