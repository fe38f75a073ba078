//! The report as a plain-text table for people: the image's facts, counts
//! by severity, the vulnerabilities (most severe first, then by package and
//! id), and the secrets (by rule, then location; never a value). Columns
//! are padded to their widest cell; long summaries are cut; a policy's
//! decision is its own section (`decision`). It must not colour or page:
//! the CLI decides where the text goes.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::model::{Report, Severity, Vulnerability};
use crate::policy::Decision;

const SEVERITIES: [Severity; 6] = [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Negligible, Severity::Unknown];
const SUMMARY: usize = 60;

/// The severity as the table and counts name it.
pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRITICAL",
        Severity::High => "HIGH",
        Severity::Medium => "MEDIUM",
        Severity::Low => "LOW",
        Severity::Negligible => "NEGLIGIBLE",
        Severity::Unknown => "UNKNOWN",
    }
}

/// Vulnerabilities most severe first, then by package name, version and id.
pub fn sorted(vulns: &[Vulnerability]) -> Vec<&Vulnerability> {
    let mut v: Vec<&Vulnerability> = vulns.iter().collect();
    v.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.package_name.cmp(&b.package_name)).then_with(|| a.installed_version.cmp(&b.installed_version)).then_with(|| a.id.cmp(&b.id)));
    v
}

/// Count per severity, most severe first, zeros included.
pub fn counts(report: &Report) -> Vec<(Severity, usize)> {
    let mut by: BTreeMap<Severity, usize> = BTreeMap::new();
    for v in &report.vulnerabilities {
        *by.entry(v.severity).or_default() += 1;
    }
    SEVERITIES.iter().map(|s| (*s, by.get(s).copied().unwrap_or(0))).collect()
}

fn cut(s: &str, n: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() <= n {
        line.to_string()
    } else {
        let mut out: String = line.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

fn columns(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut String, cells: Vec<&str>| {
        let last = cells.len() - 1;
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(out, header.to_vec());
    for r in rows {
        line(out, r.iter().map(String::as_str).collect());
    }
}

/// The whole table.
pub fn render(report: &Report) -> String {
    let f = &report.image;
    let mut out = String::new();
    let _ = writeln!(out, "Image      {}", f.reference);
    let _ = writeln!(out, "Digest     {}", f.digest);
    let _ = writeln!(out, "User       {}", if f.user.is_empty() { "root (none set)" } else { &f.user });
    if let Some(b) = &f.base_image {
        let _ = writeln!(out, "Base       {b}");
    }
    let _ = writeln!(out, "Size       {} bytes in {} layers", f.size, f.layers);
    if !f.exposed_ports.is_empty() {
        let _ = writeln!(out, "Ports      {}", f.exposed_ports.join(", "));
    }
    if !f.entrypoint.is_empty() || !f.cmd.is_empty() {
        let _ = writeln!(out, "Runs       {}", f.entrypoint.iter().chain(&f.cmd).cloned().collect::<Vec<_>>().join(" "));
    }
    if let Some(c) = &f.created {
        let _ = writeln!(out, "Created    {c}");
    }
    if !f.labels.is_empty() {
        let _ = writeln!(out, "Labels     {}", f.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "));
    }
    let _ = writeln!(out, "Packages   {}", report.packages.len());
    let _ = writeln!(out, "Database   {}", report.database);
    out.push('\n');
    let counts = counts(report);
    let _ = writeln!(out, "Vulnerabilities: {} ({})", report.vulnerabilities.len(), counts.iter().map(|(s, n)| format!("{} {n}", severity_name(*s))).collect::<Vec<_>>().join(", "));
    if !report.vulnerabilities.is_empty() {
        let rows: Vec<Vec<String>> = sorted(&report.vulnerabilities)
            .into_iter()
            .map(|v| {
                vec![
                    severity_name(v.severity).to_string(),
                    v.id.clone(),
                    v.package_name.clone(),
                    v.installed_version.clone(),
                    v.fixed_version.clone().unwrap_or_else(|| "-".into()),
                    v.cvss_score.map(|s| format!("{s:.1}")).unwrap_or_else(|| "-".into()),
                    cut(&v.summary, SUMMARY),
                ]
            })
            .collect();
        out.push('\n');
        columns(&mut out, &["SEVERITY", "ID", "PACKAGE", "INSTALLED", "FIXED", "CVSS", "SUMMARY"], &rows);
    }
    out.push('\n');
    let _ = writeln!(out, "Secrets: {}", report.secrets.len());
    if !report.secrets.is_empty() {
        let mut s: Vec<_> = report.secrets.iter().collect();
        s.sort_by(|a, b| a.rule.cmp(&b.rule).then_with(|| a.location.cmp(&b.location)));
        let rows: Vec<Vec<String>> = s.into_iter().map(|s| vec![s.rule.clone(), s.location.clone(), s.layer.clone().unwrap_or_else(|| "config".into())]).collect();
        out.push('\n');
        columns(&mut out, &["RULE", "LOCATION", "LAYER"], &rows);
    }
    out
}

/// The policy's decision under the report: the verdict, then one row per
/// violation (rule, severity, subject, message), most severe first.
pub fn decision(policy: &str, d: &Decision) -> String {
    let mut out = String::new();
    let n = d.violations.len();
    let _ = writeln!(out, "Policy {policy}: {} ({n} violation{})", d.verdict(), if n == 1 { "" } else { "s" });
    if n > 0 {
        let mut v: Vec<_> = d.violations.iter().collect();
        v.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.rule.cmp(&b.rule)).then_with(|| a.subject.cmp(&b.subject)));
        let rows: Vec<Vec<String>> = v.into_iter().map(|v| vec![v.rule.clone(), severity_name(v.severity).to_string(), v.subject.clone(), v.message.clone()]).collect();
        out.push('\n');
        columns(&mut out, &["RULE", "SEVERITY", "SUBJECT", "MESSAGE"], &rows);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SecretFinding;

    fn v(id: &str, pkg: &str, s: Severity) -> Vulnerability {
        Vulnerability { id: id.into(), aliases: vec![], package_name: pkg.into(), package_purl: format!("pkg:x/{pkg}"), installed_version: "1".into(), fixed_version: None, severity: s, cvss_score: None, cvss_vector: None, summary: "s".into() }
    }

    #[test]
    fn vulnerabilities_sort_most_severe_first_then_by_package_and_secrets_by_rule() {
        let r = Report {
            vulnerabilities: vec![v("CVE-3", "b", Severity::Low), v("CVE-1", "z", Severity::Critical), v("CVE-2", "a", Severity::Low)],
            secrets: vec![
                SecretFinding { rule: "private-key".into(), location: "/b:1".into(), layer: Some("sha256:l".into()) },
                SecretFinding { rule: "aws-access-key-id".into(), location: "env:K".into(), layer: None },
            ],
            ..Default::default()
        };
        let t = render(&r);
        let order: Vec<usize> = ["CVE-1", "CVE-2", "CVE-3", "aws-access-key-id", "private-key"].iter().map(|n| t.find(n).unwrap()).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{t}");
        assert!(t.contains("Vulnerabilities: 3 (CRITICAL 1, HIGH 0, MEDIUM 0, LOW 2, NEGLIGIBLE 0, UNKNOWN 0)"), "{t}");
        assert!(t.contains("User       root (none set)"));
    }

    #[test]
    fn a_decision_lists_every_violation_most_severe_first() {
        use crate::policy::Violation;
        let d = Decision {
            allowed: false,
            violations: vec![
                Violation { rule: "no-root".into(), severity: Severity::Medium, subject: "user".into(), message: "the image runs as root".into() },
                Violation { rule: "no-secrets".into(), severity: Severity::Critical, subject: "env:AWS_ACCESS_KEY_ID".into(), message: "aws-access-key-id found".into() },
            ],
        };
        let t = decision("builtin:policy-default", &d);
        assert!(t.starts_with("Policy builtin:policy-default: deny (2 violations)\n"), "{t}");
        let secrets = t.find("no-secrets  CRITICAL  env:AWS_ACCESS_KEY_ID  aws-access-key-id found").unwrap();
        let root = t.find("no-root     MEDIUM    user").unwrap();
        assert!(secrets < root, "{t}");
        assert_eq!(decision("p", &Decision { allowed: true, violations: vec![] }), "Policy p: allow (0 violations)\n");
    }
}
