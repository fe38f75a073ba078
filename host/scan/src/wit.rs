//! The boundary between the scan's plain Rust model and the WIT
//! `scan-types` the runtime passes to plugins: a `model::Report` becomes a
//! `ScanReport` (packages lose their source and licenses, which the WIT
//! record does not carry; ecosystems become their short names), and a WIT
//! `Decision` becomes a `policy::Decision`. Conversions only: nothing here
//! scans, evaluates or decides.

use gantry_runtime::wit::{scan_types as w, types::Pair};

use crate::model::{ImageFacts, Package, Report, SecretFinding, Severity, Vulnerability};
use crate::policy::{Decision, Violation};

impl From<Severity> for w::Severity {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Unknown => w::Severity::Unknown,
            Severity::Negligible => w::Severity::Negligible,
            Severity::Low => w::Severity::Low,
            Severity::Medium => w::Severity::Medium,
            Severity::High => w::Severity::High,
            Severity::Critical => w::Severity::Critical,
        }
    }
}

impl From<w::Severity> for Severity {
    fn from(s: w::Severity) -> Self {
        match s {
            w::Severity::Unknown => Severity::Unknown,
            w::Severity::Negligible => Severity::Negligible,
            w::Severity::Low => Severity::Low,
            w::Severity::Medium => Severity::Medium,
            w::Severity::High => Severity::High,
            w::Severity::Critical => Severity::Critical,
        }
    }
}

impl From<&ImageFacts> for w::ImageFacts {
    fn from(f: &ImageFacts) -> Self {
        w::ImageFacts {
            reference: f.reference.clone(),
            digest: f.digest.clone(),
            user: f.user.clone(),
            env_names: f.env_names.clone(),
            exposed_ports: f.exposed_ports.clone(),
            labels: f.labels.iter().map(|(k, v)| Pair { key: k.clone(), value: v.clone() }).collect(),
            entrypoint: f.entrypoint.clone(),
            cmd: f.cmd.clone(),
            size: f.size,
            layers: f.layers,
            base_image: f.base_image.clone(),
            created: f.created.clone(),
        }
    }
}

impl From<&Package> for w::Package {
    fn from(p: &Package) -> Self {
        w::Package {
            name: p.name.clone(),
            version: p.version.clone(),
            ecosystem: p.ecosystem.short().to_string(),
            purl: p.purl.clone(),
            layer: p.layer.clone(),
            path: p.path.clone(),
        }
    }
}

impl From<&Vulnerability> for w::Vulnerability {
    fn from(v: &Vulnerability) -> Self {
        w::Vulnerability {
            id: v.id.clone(),
            aliases: v.aliases.clone(),
            package_name: v.package_name.clone(),
            package_purl: v.package_purl.clone(),
            installed_version: v.installed_version.clone(),
            fixed_version: v.fixed_version.clone(),
            severity: v.severity.into(),
            cvss_score: v.cvss_score,
            cvss_vector: v.cvss_vector.clone(),
            summary: v.summary.clone(),
        }
    }
}

impl From<&SecretFinding> for w::SecretFinding {
    fn from(s: &SecretFinding) -> Self {
        w::SecretFinding { rule: s.rule.clone(), location: s.location.clone(), layer: s.layer.clone() }
    }
}

impl From<&Report> for w::ScanReport {
    fn from(r: &Report) -> Self {
        w::ScanReport {
            image: (&r.image).into(),
            packages: r.packages.iter().map(Into::into).collect(),
            vulnerabilities: r.vulnerabilities.iter().map(Into::into).collect(),
            secrets: r.secrets.iter().map(Into::into).collect(),
            database: r.database.clone(),
        }
    }
}

/// The WIT form of a report, as a policy receives it.
pub fn to_wit(report: &Report) -> w::ScanReport {
    report.into()
}

impl From<w::Violation> for Violation {
    fn from(v: w::Violation) -> Self {
        Violation { rule: v.rule, severity: v.severity.into(), subject: v.subject, message: v.message }
    }
}

impl From<w::Decision> for Decision {
    fn from(d: w::Decision) -> Self {
        Decision { allowed: d.allowed, violations: d.violations.into_iter().map(Into::into).collect() }
    }
}

impl From<&Violation> for w::Violation {
    fn from(v: &Violation) -> Self {
        w::Violation { rule: v.rule.clone(), severity: v.severity.into(), subject: v.subject.clone(), message: v.message.clone() }
    }
}

impl From<&Decision> for w::Decision {
    fn from(d: &Decision) -> Self {
        w::Decision { allowed: d.allowed, violations: d.violations.iter().map(Into::into).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Ecosystem;

    fn report() -> Report {
        Report {
            image: ImageFacts {
                reference: "registry.local/app:1".into(),
                digest: "sha256:ab".into(),
                user: "1000".into(),
                env_names: vec!["PATH".into()],
                exposed_ports: vec!["8080/tcp".into()],
                labels: vec![("org.opencontainers.image.source".into(), "https://git.local/app".into())],
                entrypoint: vec!["/app".into()],
                cmd: vec!["serve".into()],
                size: 1234,
                layers: 3,
                base_image: Some("docker.io/library/debian:12".into()),
                created: Some("2026-01-01T00:00:00Z".into()),
            },
            packages: vec![Package {
                name: "openssl".into(),
                version: "3.0.11-1~deb12u2".into(),
                ecosystem: Ecosystem::Debian(Some("debian:12".into())),
                purl: "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64".into(),
                layer: Some("sha256:11".into()),
                path: Some("/var/lib/dpkg/status".into()),
                source: Some(("openssl".into(), None)),
                licenses: vec!["Apache-2.0".into()],
            }],
            vulnerabilities: vec![Vulnerability {
                id: "CVE-2024-5535".into(),
                aliases: vec!["DSA-5000-1".into()],
                package_name: "openssl".into(),
                package_purl: "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64".into(),
                installed_version: "3.0.11-1~deb12u2".into(),
                fixed_version: Some("3.0.14-1~deb12u1".into()),
                severity: Severity::Critical,
                cvss_score: Some(9.1),
                cvss_vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H".into()),
                summary: "SSL_select_next_proto buffer overread".into(),
            }],
            secrets: vec![SecretFinding { rule: "aws-access-key-id".into(), location: "env:AWS_ACCESS_KEY_ID".into(), layer: None }],
            database: "osv 2026-11-01".into(),
        }
    }

    #[test]
    fn every_severity_round_trips() {
        for s in [Severity::Unknown, Severity::Negligible, Severity::Low, Severity::Medium, Severity::High, Severity::Critical] {
            let w: w::Severity = s.into();
            assert_eq!(Severity::from(w), s);
        }
        assert_eq!(w::Severity::from(Severity::High), w::Severity::High);
    }

    #[test]
    fn a_report_keeps_every_field_the_wit_record_carries() {
        let r = report();
        let w = to_wit(&r);
        assert_eq!(w.image.reference, "registry.local/app:1");
        assert_eq!(w.image.user, "1000");
        assert_eq!(w.image.labels[0].key, "org.opencontainers.image.source");
        assert_eq!(w.image.labels[0].value, "https://git.local/app");
        assert_eq!(w.image.base_image.as_deref(), Some("docker.io/library/debian:12"));
        assert_eq!((w.image.size, w.image.layers), (1234, 3));
        assert_eq!(w.image.exposed_ports, vec!["8080/tcp".to_string()]);
        assert_eq!(w.packages[0].ecosystem, "debian");
        assert_eq!(w.packages[0].purl, r.packages[0].purl);
        assert_eq!(w.packages[0].layer.as_deref(), Some("sha256:11"));
        let v = &w.vulnerabilities[0];
        assert_eq!(v.severity, w::Severity::Critical);
        assert_eq!(v.fixed_version.as_deref(), Some("3.0.14-1~deb12u1"));
        assert_eq!(v.cvss_score, Some(9.1));
        assert_eq!(v.aliases, vec!["DSA-5000-1".to_string()]);
        assert_eq!(w.secrets[0].location, "env:AWS_ACCESS_KEY_ID");
        assert_eq!(w.database, "osv 2026-11-01");
    }

    #[test]
    fn a_wit_decision_becomes_the_plain_one_and_back() {
        let w = w::Decision {
            allowed: false,
            violations: vec![w::Violation { rule: "no-root".into(), severity: w::Severity::High, subject: "user".into(), message: "runs as root".into() }],
        };
        let d = Decision::from(w.clone());
        assert_eq!(d, Decision { allowed: false, violations: vec![Violation { rule: "no-root".into(), severity: Severity::High, subject: "user".into(), message: "runs as root".into() }] });
        let back = w::Decision::from(&d);
        assert_eq!(back.allowed, w.allowed);
        assert_eq!(back.violations[0].rule, "no-root");
        assert_eq!(back.violations[0].severity, w::Severity::High);
    }
}
