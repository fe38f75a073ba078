//! Matching real package versions against the real advisories in
//! tests/data/osv (see its README): findings and non-findings at each
//! boundary (the fixed version itself, one below, epochs, releases, source
//! packages), alias merging, severity choice, the fixed version reported,
//! and the store and import around them.

use std::path::{Path, PathBuf};

use gantry_scan::matcher::{self, match_packages};
use gantry_scan::model::{Ecosystem, Package, Severity, Vulnerability};
use gantry_scan::store::{self, Store};
use gantry_scan::{cvss, osv};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/osv")
}

/// A store of the fixture in a fresh temp dir (kept alive by the returned guard).
fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let summary = store::import(dir.path(), &[&fixture()]).unwrap();
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    (dir, Store::open(summary.path.parent().unwrap()).unwrap())
}

fn pkg(ecosystem: Ecosystem, name: &str, version: &str, source: Option<&str>) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        ecosystem,
        purl: format!("pkg:test/{name}@{version}"),
        layer: None,
        path: None,
        source: source.map(|s| (s.to_string(), None)),
        licenses: vec![],
    }
}

fn deb(release: &str, name: &str, version: &str, source: &str) -> Package {
    pkg(Ecosystem::Debian(Some(release.into())), name, version, Some(source))
}

fn scan(store: &Store, p: Package) -> Vec<Vulnerability> {
    match_packages(store, &[p]).unwrap()
}

/// (id, fixed version) of each finding, sorted by id.
fn found(v: &[Vulnerability]) -> Vec<(String, Option<String>)> {
    let mut out: Vec<_> = v.iter().map(|x| (x.id.clone(), x.fixed_version.clone())).collect();
    out.sort();
    out
}

fn f(id: &str, fixed: Option<&str>) -> (String, Option<String>) {
    (id.to_string(), fixed.map(str::to_string))
}

#[test]
fn the_fixture_imports_whole_and_the_store_says_what_it_holds() {
    let (_dir, s) = store();
    let m = s.metadata();
    assert_eq!(m.advisories, 31);
    assert_eq!(m.skipped, 0);
    assert_eq!(m.format_version, store::FORMAT_VERSION);
    assert!(m.describe().contains("31 advisories"), "{}", m.describe());
    assert!(s.lookup(&Ecosystem::PyPI, "no-such-package").unwrap().is_empty());
    // One group per (ecosystem, package): urllib3 holds exactly its four advisories.
    assert_eq!(s.lookup(&Ecosystem::PyPI, "urllib3").unwrap().len(), 4);
}

#[test]
fn debian_12_openssl_at_the_dsa_fix_is_clean_and_one_revision_below_is_not() {
    let (_dir, s) = store();
    assert!(scan(&s, deb("12", "libssl3", "3.0.11-1~deb12u2", "openssl")).is_empty());
    assert!(scan(&s, deb("12", "libssl3", "3.0.13-1~deb12u1", "openssl")).is_empty());
    let v = scan(&s, deb("12", "libssl3", "3.0.11-1~deb12u1", "openssl"));
    // The DSA names one CVE upstream: the finding is that CVE, the DSA listed as an alias.
    assert_eq!(found(&v), vec![f("CVE-2023-5363", Some("3.0.11-1~deb12u2"))]);
    assert_eq!(v[0].aliases, vec!["DSA-5532-1".to_string()]);
    assert_eq!(v[0].package_name, "libssl3");
    // The tilde: 3.0.11-1 (no ~deb12u) is above 3.0.11-1~deb12u2.
    assert!(scan(&s, deb("12", "openssl", "3.0.11-1", "openssl")).is_empty());
}

#[test]
fn debian_glibc_is_matched_by_source_package_per_release() {
    let (_dir, s) = store();
    // At the Looney Tunables fix, only the later DSA applies.
    let v = scan(&s, deb("12", "libc6", "2.36-9+deb12u3", "glibc"));
    assert_eq!(found(&v), vec![f("DSA-5611-1", Some("2.36-9+deb12u4"))]);
    let v = scan(&s, deb("12", "libc6", "2.36-9+deb12u2", "glibc"));
    assert_eq!(found(&v), vec![f("CVE-2023-4911", Some("2.36-9+deb12u3")), f("DSA-5611-1", Some("2.36-9+deb12u4"))]);
    assert!(scan(&s, deb("12", "libc6", "2.36-9+deb12u4", "glibc")).is_empty());
    // Debian 11 gets its own fix, and not the Debian 12-only DSA.
    let v = scan(&s, deb("11", "libc6", "2.31-13+deb11u6", "glibc"));
    assert_eq!(found(&v), vec![f("CVE-2023-4911", Some("2.31-13+deb11u7"))]);
    // The release as os-release spells it, and as the inventory may prefix it.
    assert_eq!(scan(&s, deb("11.8", "libc6", "2.31-13+deb11u6", "glibc")).len(), 1);
    assert_eq!(scan(&s, deb("debian:11", "libc6", "2.31-13+deb11u6", "glibc")).len(), 1);
    // Without its source, the binary package's name finds nothing: advisories are per source.
    assert!(scan(&s, pkg(Ecosystem::Debian(Some("12".into())), "libc6", "2.36-9+deb12u2", None)).is_empty());
    // An unknown release matches no per-release advisory.
    assert!(scan(&s, pkg(Ecosystem::Debian(None), "libc6", "2.36-9+deb12u2", Some("glibc"))).is_empty());
}

#[test]
fn debian_epochs_decide_before_upstream_versions() {
    let (_dir, s) = store();
    assert_eq!(found(&scan(&s, deb("11", "zlib1g", "1:1.2.11.dfsg-2+deb11u1", "zlib"))), vec![f("CVE-2022-37434", Some("1:1.2.11.dfsg-2+deb11u2"))]);
    assert!(scan(&s, deb("11", "zlib1g", "1:1.2.11.dfsg-2+deb11u2", "zlib")).is_empty());
    assert!(scan(&s, deb("11", "zlib1g", "1:1.2.13.dfsg-1", "zlib")).is_empty());
    // Epoch 0 is below epoch 1 whatever the upstream version says.
    assert_eq!(scan(&s, deb("11", "zlib1g", "1.3.1.dfsg-1", "zlib")).len(), 1);
}

#[test]
fn alpine_openssl_by_origin_and_release() {
    let (_dir, s) = store();
    let apk = |rel: &str, v: &str| pkg(Ecosystem::Alpine(Some(rel.into())), "libssl3", v, Some("openssl"));
    assert_eq!(found(&scan(&s, apk("v3.17", "3.0.3-r0"))), vec![f("CVE-2022-2097", Some("3.0.5-r0"))]);
    let v = scan(&s, apk("3.17.2", "3.0.2-r0"));
    assert_eq!(found(&v).len(), 4, "{v:?}"); // 2097, 1343, 1434, 1473; not 0778 (fixed in 3.0.2-r0)
    assert!(found(&v).iter().all(|(id, _)| id != "CVE-2022-0778"));
    assert!(scan(&s, apk("v3.17", "3.0.5-r0")).is_empty());
    assert!(scan(&s, apk("v3.17", "3.0.15-r0")).is_empty());
    assert_eq!(found(&scan(&s, apk("v3.17", "3.0.4-r9"))), vec![f("CVE-2022-2097", Some("3.0.5-r0"))]);
    // Another release's advisories do not apply.
    assert!(scan(&s, apk("v3.18", "3.0.3-r0")).is_empty());
    // The 1.1.1 line: one letter is one release (k < l), and -r revisions count.
    let v = scan(&s, apk("v3.17", "1.1.1k-r0"));
    assert!(found(&v).contains(&f("CVE-2021-3711", Some("1.1.1l-r0"))), "{v:?}");
    assert!(!found(&v).iter().any(|(id, _)| id == "CVE-2021-3449"), "fixed in 1.1.1k-r0 itself");
    assert!(found(&scan(&s, apk("v3.17", "1.1.1j-r9"))).contains(&f("CVE-2021-3449", Some("1.1.1k-r0"))));
    assert!(!found(&scan(&s, apk("v3.17", "1.1.1l-r0"))).iter().any(|(id, _)| id == "CVE-2021-3711" || id == "CVE-2021-3449"));
}

#[test]
fn urllib3_1_26_5_is_past_its_redos_fix_and_before_three_later_ones() {
    let (_dir, s) = store();
    let py = |n: &str, v: &str| pkg(Ecosystem::PyPI, n, v, None);
    assert_eq!(
        found(&scan(&s, py("urllib3", "1.26.5"))),
        vec![f("CVE-2023-43804", Some("1.26.17")), f("CVE-2023-45803", Some("1.26.18")), f("CVE-2024-37891", Some("1.26.19"))]
    );
    assert_eq!(found(&scan(&s, py("urllib3", "1.26.4"))).len(), 4);
    assert_eq!(found(&scan(&s, py("urllib3", "1.25.3"))).len(), 3, "the ReDoS was introduced in 1.25.4");
    assert_eq!(found(&scan(&s, py("urllib3", "2.0.6"))), vec![f("CVE-2023-45803", Some("2.0.7")), f("CVE-2024-37891", Some("2.2.2"))]);
    assert!(scan(&s, py("urllib3", "2.2.2")).is_empty());
    assert!(scan(&s, py("urllib3", "1.26.19")).is_empty());
    // PEP 503 names and PEP 440 spellings.
    assert_eq!(scan(&s, py("URLLib3", "1.26.19rc1")).len(), 1);
}

#[test]
fn requests_advisories_that_alias_each_other_are_one_finding() {
    let (_dir, s) = store();
    let v = scan(&s, pkg(Ecosystem::PyPI, "requests", "2.30.0", None));
    assert_eq!(v.len(), 1, "{v:?}");
    let x = &v[0];
    assert_eq!(x.id, "CVE-2023-32681");
    assert_eq!(x.aliases, vec!["GHSA-j8r2-6x86-q33q".to_string(), "PYSEC-2023-74".to_string()]);
    assert_eq!(x.fixed_version.as_deref(), Some("2.31.0"));
    // Severity from GitHub's CVSS v3 vector, not its MODERATE label.
    assert_eq!(x.cvss_score, Some(6.1));
    assert_eq!(x.severity, Severity::Medium);
    assert_eq!(x.cvss_vector.as_deref(), Some("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N"));
    assert!(scan(&s, pkg(Ecosystem::PyPI, "requests", "2.31.0", None)).is_empty());
    // PYSEC's GIT range (introduced 0) is ignored: below 2.3.0 nothing matches.
    assert!(scan(&s, pkg(Ecosystem::PyPI, "requests", "2.2.1", None)).is_empty());
}

#[test]
fn jinja2_names_match_whatever_their_case() {
    let (_dir, s) = store();
    let v = scan(&s, pkg(Ecosystem::PyPI, "Jinja2", "3.1.2", None));
    assert_eq!(found(&v), vec![f("CVE-2024-22195", Some("3.1.3")), f("CVE-2024-34064", Some("3.1.4"))]);
    assert_eq!(found(&scan(&s, pkg(Ecosystem::PyPI, "jinja2", "3.1.3", None))), vec![f("CVE-2024-34064", Some("3.1.4"))]);
}

#[test]
fn a_cvss_v3_vector_wins_over_the_advisorys_label_even_at_zero() {
    let (_dir, s) = store();
    let v = scan(&s, pkg(Ecosystem::PyPI, "fastapi", "0.109.0", None));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].cvss_score, Some(0.0));
    assert_eq!(v[0].severity, Severity::Negligible);
    assert!(scan(&s, pkg(Ecosystem::PyPI, "fastapi", "0.109.1", None)).is_empty());
    // Without a vector, GitHub's label decides (axios: MODERATE).
    let v = scan(&s, pkg(Ecosystem::Npm, "axios", "1.5.1", None));
    assert_eq!((v[0].severity, v[0].cvss_score), (Severity::Medium, None));
}

#[test]
fn npm_ranges_per_major_line_report_that_lines_fix() {
    let (_dir, s) = store();
    let npm = |n: &str, v: &str| pkg(Ecosystem::Npm, n, v, None);
    assert_eq!(found(&scan(&s, npm("semver", "7.5.1"))), vec![f("CVE-2022-25883", Some("7.5.2"))]);
    assert_eq!(found(&scan(&s, npm("semver", "6.3.0"))), vec![f("CVE-2022-25883", Some("6.3.1"))]);
    assert_eq!(found(&scan(&s, npm("semver", "5.7.1"))), vec![f("CVE-2022-25883", Some("5.7.2"))]);
    for clean in ["7.5.2", "6.3.1", "5.7.2", "7.6.0"] {
        assert!(scan(&s, npm("semver", clean)).is_empty(), "semver {clean}");
    }
    assert_eq!(found(&scan(&s, npm("express", "5.0.0-beta.1"))), vec![f("CVE-2024-29041", Some("5.0.0-beta.3"))]);
    assert!(scan(&s, npm("express", "5.0.0")).is_empty());
    assert!(scan(&s, npm("express", "4.19.2")).is_empty());
    assert_eq!(scan(&s, npm("express", "4.18.2")).len(), 1);
    assert_eq!(found(&scan(&s, npm("lodash-es", "4.17.20"))), vec![f("CVE-2021-23337", Some("4.17.21"))]);
    assert!(scan(&s, npm("axios", "0.8.0")).is_empty(), "below introduced");
}

#[test]
fn go_modules_and_the_standard_library() {
    let (_dir, s) = store();
    let go = |n: &str, v: &str| pkg(Ecosystem::Go, n, v, None);
    assert_eq!(found(&scan(&s, go("golang.org/x/net", "v0.16.0"))), vec![f("GO-2023-2102", Some("0.17.0"))]);
    assert!(scan(&s, go("golang.org/x/net", "v0.17.0")).is_empty());
    assert_eq!(scan(&s, go("golang.org/x/net", "v0.0.0-20230905000000-abcdefabcdef")).len(), 1, "a pseudo-version");
    // The Go database and GitHub say the same thing about x/crypto: one finding.
    let v = scan(&s, go("golang.org/x/crypto", "v0.16.0"));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].id, "CVE-2023-48795");
    assert_eq!(v[0].aliases, vec!["GHSA-45x7-px36-x8w8".to_string(), "GO-2023-2402".to_string()]);
    assert_eq!(v[0].cvss_score, Some(5.9));
    // The toolchain as a Go binary's build info records it.
    assert_eq!(found(&scan(&s, go("stdlib", "go1.21.2"))), vec![f("GO-2023-2102", Some("1.21.3"))]);
    assert_eq!(found(&scan(&s, go("stdlib", "go1.20.9"))), vec![f("GO-2023-2102", Some("1.20.10"))]);
    assert_eq!(found(&scan(&s, go("stdlib", "go1.21rc2"))), vec![f("GO-2023-2102", Some("1.21.3"))]);
    assert!(scan(&s, go("stdlib", "go1.21.3")).is_empty());
    assert!(scan(&s, go("stdlib", "go1.20.10")).is_empty());
}

#[test]
fn crates_last_affected_includes_that_version_and_no_later() {
    let (_dir, s) = store();
    let c = |n: &str, v: &str| pkg(Ecosystem::CratesIo, n, v, None);
    let v = scan(&s, c("h2", "0.3.16"));
    assert_eq!(found(&v), vec![f("CVE-2023-26964", None), f("RUSTSEC-2024-0332", Some("0.3.26"))]);
    assert_eq!(v.iter().find(|x| x.id == "CVE-2023-26964").unwrap().severity, Severity::High);
    assert_eq!(found(&scan(&s, c("h2", "0.3.17"))), vec![f("RUSTSEC-2024-0332", Some("0.3.26"))]);
    assert_eq!(found(&scan(&s, c("h2", "0.4.3"))), vec![f("RUSTSEC-2024-0332", Some("0.4.4"))]);
    assert!(scan(&s, c("h2", "0.4.4")).is_empty());
    assert!(scan(&s, c("h2", "0.3.26")).is_empty());
    assert_eq!(scan(&s, c("russh", "0.40.1")).len(), 1);
}

#[test]
fn withdrawn_advisories_are_not_findings() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let text = std::fs::read_to_string(fixture().join("GHSA-wf5p-g6vw-rhxx.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["withdrawn"] = "2024-01-01T00:00:00Z".into();
    std::fs::write(src.join("GHSA-wf5p-g6vw-rhxx.json"), json.to_string()).unwrap();
    store::import(&dir.path().join("db"), &[&src]).unwrap();
    let s = Store::open(&dir.path().join("db")).unwrap();
    assert!(scan(&s, pkg(Ecosystem::Npm, "axios", "1.5.1", None)).is_empty());
}

#[test]
fn the_versions_list_alone_is_enough() {
    let text = std::fs::read_to_string(fixture().join("PYSEC-2023-74.json")).unwrap();
    let mut a = osv::parse("PYSEC-2023-74.json", text.as_bytes()).unwrap();
    a.affected[0].ranges.clear();
    let dir = tempfile::tempdir().unwrap();
    store::write(dir.path(), vec![a], vec!["test".into()], 0, 0).unwrap();
    let s = Store::open(dir.path()).unwrap();
    let entries = s.lookup(&Ecosystem::PyPI, "requests").unwrap();
    assert!(matcher::evaluate(&Ecosystem::PyPI, "2.28.1", &entries[0]).unwrap().is_some());
    assert!(matcher::evaluate(&Ecosystem::PyPI, "2.28.3", &entries[0]).unwrap().is_none());
    assert!(matcher::evaluate(&Ecosystem::PyPI, "2.31.0", &entries[0]).unwrap().is_none());
}

#[test]
fn an_unparsable_installed_version_is_reported_not_guessed() {
    let (_dir, s) = store();
    let m = matcher::match_packages_detailed(&s, &[pkg(Ecosystem::PyPI, "requests", "not a version", None)]).unwrap();
    assert!(m.vulnerabilities.is_empty());
    assert_eq!(m.unmatched.len(), 2);
    assert!(m.unmatched[0].error.to_string().contains("not a version"));
}

#[test]
fn a_zip_as_osv_dev_publishes_imports_like_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("all.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for e in std::fs::read_dir(fixture()).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                z.start_file(p.file_name().unwrap().to_str().unwrap(), opts).unwrap();
                std::io::Write::write_all(&mut z, &std::fs::read(&p).unwrap()).unwrap();
            }
        }
        z.finish().unwrap();
    }
    let got = osv::import(&zip_path).unwrap();
    assert_eq!(got.advisories.len(), 31);
    assert!(got.skipped.is_empty());
}

#[test]
fn bad_files_are_skipped_and_named_in_a_directory_but_refused_alone() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["GHSA-j8r2-6x86-q33q.json", "GO-2023-2102.json"] {
        std::fs::copy(fixture().join(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join("broken.json"), r#"{"id": "X-1", "affected": [{"ranges": [{"type": "RANGEY", "events": []}]}]}"#).unwrap();
    std::fs::write(dir.path().join("maven.json"), r#"{"id": "GHSA-mvn", "affected": [{"package": {"ecosystem": "Maven", "name": "a:b"}}]}"#).unwrap();
    let got = osv::import(dir.path()).unwrap();
    assert_eq!(got.advisories.len(), 2);
    assert_eq!(got.unsupported, 1);
    assert_eq!(got.skipped.len(), 1);
    assert_eq!(got.skipped[0].file, "broken.json");
    assert!(got.skipped[0].reason.contains("affected[0].ranges[0].type"), "{}", got.skipped[0].reason);

    let err = osv::import(&dir.path().join("broken.json")).unwrap_err().to_string();
    assert!(err.contains("broken.json") && err.contains("affected[0].ranges[0].type"), "{err}");

    let only_bad = tempfile::tempdir().unwrap();
    std::fs::write(only_bad.path().join("a.json"), "not json").unwrap();
    let err = osv::import(only_bad.path()).unwrap_err().to_string();
    assert!(err.contains("a.json"), "{err}");
}

#[test]
fn a_store_from_another_format_or_nothing_at_all_says_to_import_again() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("gantry db import"), "{err}");
    std::fs::write(dir.path().join(store::FILE_NAME), b"SQLite format 3\0....").unwrap();
    let err = Store::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("not a gantry advisory store"), "{err}");
    let mut v2 = b"GANTRYDB".to_vec();
    v2.extend_from_slice(&99u32.to_le_bytes());
    v2.extend_from_slice(&0u64.to_le_bytes());
    std::fs::write(dir.path().join(store::FILE_NAME), v2).unwrap();
    let err = Store::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("format 99"), "{err}");
}

#[test]
fn a_reimport_replaces_the_store_and_leaves_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    store::import(dir.path(), &[&fixture()]).unwrap();
    let one = fixture().join("GO-2023-2102.json");
    store::import(dir.path(), &[&one]).unwrap();
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.metadata().advisories, 1);
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from(store::FILE_NAME)]);
}

#[test]
fn osv_dev_ecosystem_strings_map_to_gantry_ecosystems() {
    assert_eq!(osv::parse_ecosystem("Debian:12"), Some(Ecosystem::Debian(Some("12".into()))));
    assert_eq!(osv::parse_ecosystem("Alpine:v3.20"), Some(Ecosystem::Alpine(Some("3.20".into()))));
    assert_eq!(osv::parse_ecosystem("PyPI"), Some(Ecosystem::PyPI));
    assert_eq!(osv::parse_ecosystem("npm"), Some(Ecosystem::Npm));
    assert_eq!(osv::parse_ecosystem("Go"), Some(Ecosystem::Go));
    assert_eq!(osv::parse_ecosystem("crates.io"), Some(Ecosystem::CratesIo));
    assert_eq!(
        osv::parse_ecosystem("Red Hat:enterprise_linux:9::appstream"),
        Some(Ecosystem::Rpm { distro: "Red Hat".into(), release: Some("9".into()) })
    );
    assert_eq!(osv::parse_ecosystem("Rocky Linux:9"), Some(Ecosystem::Rpm { distro: "Rocky Linux".into(), release: Some("9".into()) }));
    assert_eq!(osv::parse_ecosystem("AlmaLinux:8"), Some(Ecosystem::Rpm { distro: "AlmaLinux".into(), release: Some("8".into()) }));
    assert_eq!(osv::parse_ecosystem("Maven"), None);
}

#[test]
fn cvss_base_scores_match_the_published_ones() {
    for (vector, score) in [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),  // CVE-2022-37434 (NVD)
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),  // CVE-2023-5363 (NVD)
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),  // CVE-2023-6246 (NVD)
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N", 6.1),  // CVE-2023-32681 (GitHub)
        ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2),  // CVE-2021-23337 (GitHub)
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:N", 5.9),  // CVE-2023-48795 (GitHub)
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3),  // CVE-2022-25883 (GitHub)
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("AV:N/AC:L/Au:N/C:N/I:N/A:P", 5.0),                   // CVE-2022-0778 (NVD v2)
        ("AV:N/AC:L/Au:N/C:C/I:N/A:N", 7.8),                   // CVE-2023-5363 (v2)
        ("AV:L/AC:L/Au:S/C:C/I:C/A:C", 6.8),                   // CVE-2023-6246 (v2)
        ("AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0),
    ] {
        let got = cvss::score(vector).unwrap();
        assert_eq!(got.base, Some(score), "{vector}");
    }
    assert_eq!(cvss::score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap().severity(), Some(Severity::Critical));
    assert_eq!(cvss::band(cvss::CvssVersion::V3_1, 8.9), Severity::High);
    assert_eq!(cvss::band(cvss::CvssVersion::V3_1, 4.0), Severity::Medium);
    assert_eq!(cvss::band(cvss::CvssVersion::V3_1, 3.9), Severity::Low);
    let v4 = cvss::score("CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N").unwrap();
    assert_eq!((v4.version, v4.base), (cvss::CvssVersion::V4_0, Some(5.1)));
    for bad in ["CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N", "CVSS:9.9/AV:N", "garbage", "CVSS:4.0/AV:N"] {
        assert!(cvss::score(bad).is_err(), "{bad}");
    }
}

#[test]
fn almalinux_rpms_match_by_binary_name_with_epochs() {
    let (_dir, s) = store();
    let rpm = |name: &str, v: &str| pkg(Ecosystem::Rpm { distro: "AlmaLinux".into(), release: Some("9.3".into()) }, name, v, Some("vim"));
    let v = scan(&s, rpm("vim-minimal", "2:8.2.2637-15.el9"));
    assert_eq!(found(&v), vec![f("ALSA-2022:5242", Some("2:8.2.2637-16.el9_0.2"))]);
    assert_eq!(v[0].aliases.len(), 6, "six CVEs: none of them names the finding alone");
    assert!(scan(&s, rpm("vim-minimal", "2:8.2.2637-16.el9_0.2")).is_empty());
    assert!(scan(&s, rpm("vim-enhanced", "2:8.2.2637-20.el9_1")).is_empty());
    // Epoch 0 is below epoch 2: a later-looking version without the epoch is still older.
    assert_eq!(scan(&s, rpm("vim-common", "9.0.0000-1.el9")).len(), 1);
    // Another distribution's packages are not AlmaLinux's.
    let rocky = pkg(Ecosystem::Rpm { distro: "Rocky Linux".into(), release: Some("9".into()) }, "vim-minimal", "2:8.2.2637-15.el9", None);
    assert!(scan(&s, rocky).is_empty());
}
