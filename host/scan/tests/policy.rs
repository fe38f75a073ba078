//! `builtin:policy-default` run through `gantry_scan::policy` on real
//! reports: images built in memory from the real package metadata of
//! tests/data/images, inventoried, secret-scanned and matched against the
//! real advisories of tests/data/osv. Each setting is shown to allow and to
//! deny; loading errors name the policy and the fix.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use gantry_registry::spec::{ImageConfig, RunConfig};
use gantry_registry::Image;
use gantry_runtime::{LogLine, Runtime, RuntimeConfig};
use gantry_scan::model::{Report, Severity};
use gantry_scan::policy::{self, Decision, Policy, PolicyError};
use gantry_scan::{facts, matcher, secrets, store};

use crate::inventory_images::{data, layer, E, Z};

pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(RuntimeConfig { cache_dir: None }).unwrap())
}

/// How the test image is configured.
#[derive(Clone, Default)]
pub struct Shape {
    pub user: Option<&'static str>,
    pub labels: Vec<(&'static str, &'static str)>,
    pub env: Vec<&'static str>,
    /// A file with a private key in the app layer.
    pub key_file: bool,
}

pub fn policy_data(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/policy").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A fixture ELF padded to a real binary's minimum size (the inventory skips tiny executables).
fn elf(rel: &str) -> Vec<u8> {
    let mut b = data(rel);
    b.resize(b.len().max(8192), 0);
    b
}

/// A Debian bookworm image (the debootstrapped dpkg status) with Python
/// and npm packages (real dist-info and package.json files, some of
/// releases with real advisories) and two real Go binaries' build info.
pub fn image(shape: &Shape) -> Image {
    let base = layer(
        &[
            E::Dir("etc/"),
            E::Dir("usr/lib/"),
            E::File("usr/lib/os-release", data("debian-bookworm/usr/lib/os-release"), 0o644),
            E::Symlink("etc/os-release", "../usr/lib/os-release"),
            E::File("var/lib/dpkg/status", data("debian-bookworm/var/lib/dpkg/status"), 0o644),
        ],
        Z::Gzip,
    );
    let mut app = vec![
        E::File("usr/local/lib/python3.11/site-packages/requests-2.32.3.dist-info/METADATA", data("python/requests-2.32.3.dist-info__METADATA"), 0o644),
        E::File("usr/local/lib/python3.11/site-packages/urllib3-2.2.3.dist-info/METADATA", data("python/urllib3-2.2.3.dist-info__METADATA"), 0o644),
        E::File("app/package-lock.json", data("npm/package-lock.json"), 0o644),
        E::File("app/node_modules/debug/package.json", data("npm/node_modules/debug/package.json"), 0o644),
        E::File("app/node_modules/ms/package.json", data("npm/node_modules/ms/package.json"), 0o644),
        // Debian's docker-registry 2.8 (go1.19.8) and kubectl 1.33 (go1.24.2): their real build info
        E::File("usr/bin/registry", elf("go/registry.buildinfo.elf"), 0o755),
        E::File("usr/local/bin/kubectl", elf("go/kubectl.buildinfo.elf"), 0o755),
        // older releases with real advisories (tests/data/policy)
        E::File("usr/local/lib/python3.11/site-packages/urllib3-2.0.5.dist-info/METADATA", policy_data("python/urllib3-2.0.5.dist-info__METADATA"), 0o644),
        E::File("usr/local/lib/python3.11/site-packages/requests-2.30.0.dist-info/METADATA", policy_data("python/requests-2.30.0.dist-info__METADATA"), 0o644),
        E::File("usr/local/lib/python3.11/site-packages/Jinja2-3.1.2.dist-info/METADATA", policy_data("python/Jinja2-3.1.2.dist-info__METADATA"), 0o644),
        E::File("srv/web/node_modules/express/package.json", policy_data("npm/express-4.18.2.package.json"), 0o644),
        E::File("srv/web/node_modules/axios/package.json", policy_data("npm/axios-1.5.1.package.json"), 0o644),
        E::File("srv/web/node_modules/semver/package.json", policy_data("npm/semver-7.5.1.package.json"), 0o644),
        E::File("srv/web/node_modules/lodash/package.json", policy_data("npm/lodash-4.17.20.package.json"), 0o644),
    ];
    if shape.key_file {
        let pem = ["-----BEGIN ", "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx5Yf3lq0TUlUoKQoYVZ8y1bq3ZfBjz7Jm0u2XvW9sP4Q\n-----END ", "RSA PRIVATE KEY-----\n"].concat();
        app.push(E::File("app/deploy.pem", pem.into_bytes(), 0o600));
    }
    let app = layer(&app, Z::Zstd);
    let config = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        created: Some("2026-11-27T00:00:00Z".into()),
        config: Some(RunConfig {
            user: shape.user.map(str::to_string),
            env: Some(shape.env.iter().map(|e| e.to_string()).collect()),
            labels: Some(shape.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            entrypoint: Some(vec!["/usr/bin/python3".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    Image::assemble(config, vec![base, app])
}

/// The report of `image(shape)`: inventory, secrets, facts and findings
/// from the real OSV fixture.
pub fn report(shape: &Shape) -> Report {
    let img = image(shape);
    let (inv, found, _) = secrets::scan_image(&img).unwrap();
    let osv = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/osv");
    let dir = tempfile::tempdir().unwrap();
    let summary = store::import(dir.path(), &[&osv]).unwrap();
    let st = store::Store::open(summary.path.parent().unwrap()).unwrap();
    let vulnerabilities = matcher::match_packages(&st, &inv.packages).unwrap();
    Report {
        image: facts::facts("registry.local/shop/api:1.4.2", &img).unwrap(),
        packages: inv.packages,
        vulnerabilities,
        secrets: found.findings,
        database: "tests/data/osv".into(),
    }
}

pub fn default_policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| policy::load(runtime(), policy::DEFAULT_POLICY, Path::new(".")).unwrap())
}

/// Evaluate `policy` on `report`; the decision and the policy's log lines.
pub fn eval_with(policy: &Policy, report: &Report, settings: &str) -> (Decision, Vec<LogLine>) {
    let lines: Arc<Mutex<Vec<LogLine>>> = Arc::default();
    let sink = lines.clone();
    let env = policy::pure_env(Arc::new(move |l| sink.lock().unwrap().push(l)));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let d = rt.block_on(policy::evaluate(runtime(), policy, &env, report, settings)).unwrap();
    let l = lines.lock().unwrap().clone();
    (d, l)
}

fn eval(report: &Report, settings: &str) -> Decision {
    eval_with(default_policy(), report, settings).0
}

fn rules(d: &Decision) -> Vec<&str> {
    let mut r: Vec<&str> = d.violations.iter().map(|v| v.rule.as_str()).collect();
    r.dedup();
    r
}

pub fn clean_shape() -> Shape {
    Shape { user: Some("10001"), labels: vec![("org.opencontainers.image.source", "https://git.local/shop/api"), ("org.opencontainers.image.base.name", "docker.io/library/debian:12")], ..Default::default() }
}

#[test]
fn the_real_report_has_packages_and_findings_to_decide_on() {
    let r = report(&clean_shape());
    assert!(r.packages.len() > 80, "{} packages", r.packages.len());
    let ids: std::collections::BTreeSet<&str> = r.vulnerabilities.iter().map(|v| v.id.as_str()).collect();
    for id in ["GO-2023-2102", "CVE-2023-43804", "CVE-2023-32681", "CVE-2024-22195", "CVE-2024-29041", "CVE-2023-45857", "CVE-2022-25883", "CVE-2021-23337"] {
        assert!(ids.contains(id), "{id} not in {ids:?}");
    }
    assert!(r.vulnerabilities.iter().any(|v| v.severity >= Severity::High));
    assert!(r.packages.iter().any(|p| p.name == "requests") && r.packages.iter().any(|p| p.name == "debug"));
    assert_eq!(r.image.base_image.as_deref(), Some("docker.io/library/debian:12"));
}

#[test]
fn severity_limits_allow_and_deny_and_name_each_finding() {
    let r = report(&clean_shape());
    let worst = r.vulnerabilities.iter().map(|v| v.severity).max().unwrap();
    // the most lenient limit allows everything
    let d = eval(&r, r#"{"max-severity": "critical"}"#);
    assert!(d.allowed, "{:#?}", d.violations);
    // a limit one below the worst finding denies, once per finding above it
    let below = match worst {
        Severity::Critical => "high",
        Severity::High => "medium",
        Severity::Medium => "low",
        _ => "negligible",
    };
    let d = eval(&r, &format!(r#"{{"max-severity": "{below}"}}"#));
    assert!(!d.allowed);
    let above: Vec<&str> = r.vulnerabilities.iter().filter(|v| v.severity == worst).map(|v| v.id.as_str()).collect();
    for id in &above {
        let v = d.violations.iter().find(|v| v.subject == *id).unwrap_or_else(|| panic!("no violation for {id}: {:#?}", d.violations));
        assert_eq!(v.rule, "max-severity");
        assert!(v.message.contains(id) && v.message.contains(below), "{}", v.message);
    }
    assert!(d.violations.iter().all(|v| v.severity > serde_json::from_str::<Severity>(&format!("\"{below}\"")).unwrap()));
    // ignoring every id (or an alias) allows again
    let ignore: Vec<String> = r.vulnerabilities.iter().map(|v| v.aliases.first().cloned().unwrap_or(v.id.clone())).collect();
    let d = eval(&r, &serde_json::json!({"max-severity": "unknown", "ignore": ignore}).to_string());
    assert!(d.allowed, "{:#?}", d.violations);
}

#[test]
fn fixed_findings_meet_the_stricter_limit() {
    let r = report(&clean_shape());
    let fixed: Vec<&str> = r.vulnerabilities.iter().filter(|v| v.fixed_version.is_some() && v.severity > Severity::Unknown).map(|v| v.id.as_str()).collect();
    assert!(!fixed.is_empty(), "the fixture has fixed findings");
    let d = eval(&r, r#"{"max-severity": "critical", "max-severity-fixed": "unknown"}"#);
    assert!(!d.allowed);
    assert_eq!(rules(&d), vec!["max-severity-fixed"]);
    for id in fixed {
        let v = d.violations.iter().find(|v| v.subject == id).unwrap();
        assert!(v.message.contains("fixed in"), "{}", v.message);
    }
    // findings without a fix are judged by max-severity alone
    assert!(d.violations.iter().all(|v| r.vulnerabilities.iter().any(|x| x.id == v.subject && x.fixed_version.is_some())));
}

#[test]
fn root_secrets_labels_base_and_size_each_deny_with_their_rule() {
    let lenient = r#""max-severity": "critical""#;
    let clean = report(&clean_shape());
    let all = format!(r#"{{{lenient}, "no-root": true, "no-secrets": true, "required-labels": ["org.opencontainers.image.source"], "allowed-base-registries": ["docker.io/library", "registry.local"], "max-size": "500Mi"}}"#);
    let d = eval(&clean, &all);
    assert!(d.allowed, "{:#?}", d.violations);

    let root = report(&Shape { user: None, ..clean_shape() });
    let d = eval(&root, &format!(r#"{{{lenient}, "no-root": true}}"#));
    assert_eq!(rules(&d), vec!["no-root"]);
    assert!(d.violations[0].message.contains("USER"));
    let root0 = report(&Shape { user: Some("0:0"), ..clean_shape() });
    assert_eq!(rules(&eval(&root0, &format!(r#"{{{lenient}, "no-root": true}}"#))), vec!["no-root"]);
    // off by default
    assert!(eval(&root, &format!("{{{lenient}}}")).allowed);

    let leaky = report(&Shape { key_file: true, env: vec!["AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"], ..clean_shape() });
    assert!(leaky.secrets.len() >= 2, "{:?}", leaky.secrets);
    let d = eval(&leaky, &format!("{{{lenient}}}"));
    assert_eq!(rules(&d), vec!["no-secrets"], "no-secrets is on by default");
    assert!(d.violations.iter().any(|v| v.subject == "/app/deploy.pem:1"), "{:#?}", d.violations);
    assert!(d.violations.iter().all(|v| !v.message.contains("AKIAIOSFODNN7EXAMPLE") && !v.message.contains("MIIE")), "values never appear");
    assert!(eval(&leaky, &format!(r#"{{{lenient}, "no-secrets": false}}"#)).allowed);

    let unlabelled = report(&Shape { labels: vec![("org.opencontainers.image.base.name", "ghcr.io/acme/base:3")], ..clean_shape() });
    let d = eval(&unlabelled, &all);
    assert_eq!(rules(&d), vec!["required-labels", "allowed-base-registries"]);
    assert_eq!(d.violations[0].subject, "org.opencontainers.image.source");
    assert_eq!(d.violations[1].subject, "ghcr.io/acme/base:3");
    // a short Docker Hub name counts as docker.io/library, and prefixes match at a boundary
    let short = report(&Shape { labels: vec![("org.opencontainers.image.base.name", "debian:12")], ..clean_shape() });
    assert!(eval(&short, &format!(r#"{{{lenient}, "allowed-base-registries": ["docker.io/library"]}}"#)).allowed);
    assert!(!eval(&clean, &format!(r#"{{{lenient}, "allowed-base-registries": ["docker.io/lib"]}}"#)).allowed);
    // an unknown base image cannot be checked: denied when the list is set
    let unknown = report(&Shape { labels: vec![], ..clean_shape() });
    let d = eval(&unknown, &format!(r#"{{{lenient}, "allowed-base-registries": ["docker.io"]}}"#));
    assert_eq!(d.violations[0].subject, "base-image");

    let size = clean.image.size;
    let d = eval(&clean, &format!(r#"{{{lenient}, "max-size": {}}}"#, size - 1));
    assert_eq!(rules(&d), vec!["max-size"]);
    assert!(eval(&clean, &format!(r#"{{{lenient}, "max-size": {size}}}"#)).allowed);
    assert_eq!(rules(&eval(&clean, &format!(r#"{{{lenient}, "max-size": "1K"}}"#))), vec!["max-size"]);
}

#[test]
fn bad_settings_deny_naming_the_setting() {
    let r = report(&clean_shape());
    for (settings, needle) in [(r#"{"max-severty": "high"}"#, "max-severty"), (r#"{"max-severity": "severe"}"#, "severe"), (r#"{"max-size": "lots"}"#, "lots")] {
        let d = eval(&r, settings);
        assert!(!d.allowed);
        assert_eq!(d.violations[0].rule, "policy-settings");
        assert!(d.violations[0].message.contains(needle), "{}", d.violations[0].message);
    }
    // empty settings are the defaults
    assert_eq!(eval(&r, ""), eval(&r, "{}"));
}

#[test]
fn loading_errors_name_the_policy_and_the_fix() {
    let e = policy::load(runtime(), "builtin:nope", Path::new(".")).unwrap_err();
    assert!(matches!(e, PolicyError::NoBuiltin { .. }));
    assert!(e.to_string().contains("builtin:policy-default"), "{e}");
    let e = policy::load(runtime(), "builtin:echo", Path::new(".")).unwrap_err();
    assert!(e.to_string().contains("`stage` plugin") && e.to_string().contains("scan-policy"), "{e}");
    let e = policy::load(runtime(), "policies/missing.wasm", Path::new("/nonexistent")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/policies/missing.wasm"), "{e}");
    let e = policy::load(runtime(), "policy.rego", Path::new(".")).unwrap_err();
    assert!(e.to_string().contains("builtin:NAME"), "{e}");
    let wrong = format!("builtin:policy-default@sha256:{}", "0".repeat(64));
    let e = policy::load(runtime(), &wrong, Path::new(".")).unwrap_err();
    assert!(e.to_string().contains("builtin:policy-default"), "{e}");
    let right = format!("builtin:policy-default@{}", default_policy().plugin.digest);
    assert!(policy::load(runtime(), &right, Path::new(".")).is_ok());
}
