//! Trivy and Grype JSON reports (small hand-written samples in the tools'
//! real formats, tests/data/foreign) read as gantry findings and packages.

use std::path::Path;

use gantry_scan::foreign::{self, Tool};
use gantry_scan::model::{Ecosystem, Severity};

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/foreign").join(name)).unwrap()
}

#[test]
fn trivy_findings_keep_the_tools_severity_fix_and_nvd_score() {
    let r = foreign::read("trivy-debian12.json", &sample("trivy-debian12.json")).unwrap();
    assert_eq!(r.tool, Tool::Trivy);
    assert_eq!(r.vulnerabilities.len(), 4);
    let ssl = &r.vulnerabilities[0];
    assert_eq!((ssl.id.as_str(), ssl.package_name.as_str(), ssl.installed_version.as_str()), ("CVE-2023-5363", "libssl3", "3.0.11-1~deb12u1"));
    assert_eq!(ssl.fixed_version.as_deref(), Some("3.0.11-1~deb12u2"));
    assert_eq!(ssl.aliases, vec!["DSA-5532-1".to_string()]);
    assert_eq!((ssl.severity, ssl.cvss_score), (Severity::High, Some(7.5)));
    assert!(ssl.package_purl.starts_with("pkg:deb/debian/libssl3@"));
    let zlib = r.vulnerabilities.iter().find(|v| v.id == "CVE-2023-45853").unwrap();
    assert_eq!((zlib.fixed_version.as_deref(), zlib.severity), (None, Severity::Critical));
    // The score comes from the source Trivy took the severity from (GitHub), not NVD's.
    let u = r.vulnerabilities.iter().find(|v| v.package_name == "urllib3").unwrap();
    assert_eq!((u.cvss_score, u.severity), (Some(5.9), Severity::Medium));
    assert_eq!(u.fixed_version.as_deref(), Some("2.0.6, 1.26.17"));
}

#[test]
fn trivy_packages_carry_epoch_release_source_and_layer() {
    let r = foreign::read("trivy-debian12.json", &sample("trivy-debian12.json")).unwrap();
    let zlib = r.packages.iter().find(|p| p.name == "zlib1g").unwrap();
    assert_eq!(zlib.version, "1:1.2.13.dfsg-1");
    assert_eq!(zlib.ecosystem, Ecosystem::Debian(Some("12".into())));
    assert_eq!(zlib.source, Some(("zlib".to_string(), Some("1.2.13.dfsg".to_string()))));
    let ssl = r.packages.iter().find(|p| p.name == "libssl3").unwrap();
    assert_eq!(ssl.version, "3.0.11-1~deb12u1");
    assert!(ssl.layer.as_deref().unwrap().starts_with("sha256:0bc8"));
    // Language results without --list-all-pkgs still name their vulnerable package.
    let u = r.packages.iter().find(|p| p.name == "urllib3").unwrap();
    assert_eq!((u.ecosystem.clone(), u.version.as_str()), (Ecosystem::PyPI, "1.26.5"));
    assert_eq!(r.packages.len(), 4);
}

#[test]
fn grype_matches_become_findings_with_related_cves_as_aliases() {
    let r = foreign::read("grype-debian12.json", &sample("grype-debian12.json")).unwrap();
    assert_eq!(r.tool, Tool::Grype);
    assert_eq!(r.vulnerabilities.len(), 3);
    let ssl = &r.vulnerabilities[0];
    assert_eq!(ssl.id, "CVE-2023-5363");
    assert!(ssl.aliases.is_empty(), "the related CVE is itself");
    assert_eq!((ssl.severity, ssl.cvss_score), (Severity::High, Some(7.5)), "score from the related NVD record");
    assert_eq!(ssl.fixed_version.as_deref(), Some("3.0.11-1~deb12u2"));
    let u = &r.vulnerabilities[1];
    assert_eq!(u.id, "GHSA-v845-jxx5-vc9f");
    assert_eq!(u.aliases, vec!["CVE-2023-43804".to_string()]);
    assert_eq!((u.severity, u.cvss_score), (Severity::Medium, Some(5.9)), "GitHub's own vector first");
    assert_eq!(u.fixed_version.as_deref(), Some("1.26.17"));
    assert_eq!(r.vulnerabilities[2].cvss_score, None);

    let ssl_pkg = r.packages.iter().find(|p| p.name == "libssl3").unwrap();
    assert_eq!(ssl_pkg.ecosystem, Ecosystem::Debian(Some("12".into())));
    assert_eq!(ssl_pkg.source, Some(("openssl".to_string(), None)));
    assert_eq!(ssl_pkg.path.as_deref(), Some("/var/lib/dpkg/status"));
    assert_eq!(r.packages.iter().filter(|p| p.name == "urllib3").count(), 2, "two installs, two packages");
}

#[test]
fn a_legacy_trivy_array_reads_too() {
    let legacy = br#"[{"Target": "node-app/package-lock.json", "Type": "npm", "Vulnerabilities": [
        {"VulnerabilityID": "CVE-2021-23337", "PkgName": "lodash", "InstalledVersion": "4.17.20", "FixedVersion": "4.17.21", "Severity": "HIGH"}]}]"#;
    let r = foreign::read("old.json", legacy).unwrap();
    assert_eq!(r.vulnerabilities[0].id, "CVE-2021-23337");
    assert_eq!(r.packages[0].ecosystem, Ecosystem::Npm);
}

#[test]
fn other_json_is_refused_with_the_file_and_field() {
    let err = foreign::read("sbom.json", br#"{"bomFormat": "CycloneDX"}"#).unwrap_err().to_string();
    assert!(err.contains("sbom.json") && err.contains("Trivy") && err.contains("Grype"), "{err}");
    let err = foreign::read("bad.json", br#"{"matches": [{"vulnerability": {"id": 5}}]}"#).unwrap_err().to_string();
    assert!(err.contains("bad.json") && err.contains("matches[0].vulnerability.id"), "{err}");
    assert!(foreign::read("x.json", b"not json").is_err());
}
