//! `gantry db import` of the real OSV fixture and `gantry scan` of an image
//! made from real package data (host/scan's debootstrapped Debian 12 dpkg
//! status with glibc at 2.36-9+deb12u3, the real requests wheel metadata)
//! with a credential in a `.env` file and one in its env: from a real
//! docker-registry in table, JSON and SARIF (to a file), and the same
//! layers `docker import`ed into a real engine scanned as `docker:NAME`.
//! DSA-5611-1 is found for libc6 and libc-bin with its fix, the secrets by
//! rule and place, and no secret's value reaches the output. With
//! `--policy` the policy's decision sets the exit code (0 allow, 1 deny
//! with every violation in the table and the JSON, 2 bad input).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use gantry_registry::image::digest_of;
use gantry_registry::spec::{self, ImageConfig, RunConfig};
use gantry_registry::testing::dockerd::Dockerd;
use gantry_registry::testing::registry::{DockerRegistry, RegistryAuth};
use gantry_registry::{Blob, Client, Image, Layer, Reference, StaticCredentials};
use serde_json::Value;

const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const PASSWORD: &str = "pr0d-db-pa55w0rd-2026";

fn scan_data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scan/tests/data").join(rel)
}

fn gantry(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
    cmd.current_dir(dir).env("GANTRY_CACHE_DIR", dir.join("cache")).env("DOCKER_CONFIG", dir.join("docker-config")).env("HOME", dir).env_remove("RUST_LOG").env_remove("GANTRY_DB_DIR").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "exit {:?}\nstdout:\n{}\nstderr:\n{}", out.status.code(), String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains(AWS_KEY) && !text.contains(PASSWORD), "a secret's value in the output:\n{text}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Debian 12.2-era status: the debootstrapped one with the glibc packages at 2.36-9+deb12u3.
fn status() -> Vec<u8> {
    let status = std::fs::read_to_string(scan_data("images/debian-bookworm/var/lib/dpkg/status")).unwrap();
    let stanzas: Vec<String> = status
        .trim_end()
        .split("\n\n")
        .map(|s| if s.lines().any(|l| l == "Source: glibc") { s.lines().map(|l| if l.starts_with("Version: ") { "Version: 2.36-9+deb12u3" } else { l }).collect::<Vec<_>>().join("\n") } else { s.to_string() })
        .collect();
    format!("{}\n", stanzas.join("\n\n")).into_bytes()
}

/// The root filesystem as one tar.
fn rootfs() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let files: Vec<(&str, Vec<u8>, u32)> = vec![
        ("usr/lib/os-release", std::fs::read(scan_data("images/debian-bookworm/usr/lib/os-release")).unwrap(), 0o644),
        ("var/lib/dpkg/status", status(), 0o644),
        ("usr/lib/python3/dist-packages/requests-2.32.3.dist-info/METADATA", std::fs::read(scan_data("images/python/requests-2.32.3.dist-info__METADATA")).unwrap(), 0o644),
        ("app/.env", format!("DB_HOST=db\nDB_PASSWORD={PASSWORD}\n").into_bytes(), 0o600),
    ];
    for (path, data, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, &data[..]).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_mtime(0);
    h.set_size(0);
    h.set_mode(0o777);
    h.set_entry_type(tar::EntryType::Symlink);
    b.append_link(&mut h, "etc/os-release", "../usr/lib/os-release").unwrap();
    b.into_inner().unwrap()
}

fn image() -> Image {
    let raw = rootfs();
    let layer = Layer { blob: Blob::new(spec::OCI_LAYER_GZIP, gantry_registry::docker::gzip(&raw)), diff_id: digest_of(&raw) };
    let config = ImageConfig { architecture: "amd64".into(), os: "linux".into(), config: Some(RunConfig { env: Some(vec![format!("AWS_ACCESS_KEY_ID={AWS_KEY}")]), ..Default::default() }), ..Default::default() };
    Image::assemble(config, vec![layer])
}

fn import_db(dir: &Path) -> String {
    let db = dir.join("db");
    let out = ok(&gantry(dir, &["db", "import", scan_data("osv").to_str().unwrap(), "--db", db.to_str().unwrap()], &[]));
    assert!(out.contains("imported 31 advisories"), "{out}");
    let status = ok(&gantry(dir, &["db", "status", "--db", db.to_str().unwrap()], &[]));
    assert!(status.contains("31 advisories") && status.contains("tests/data/osv"), "{status}");
    db.to_str().unwrap().to_string()
}

fn glibc_findings(report: &Value) -> Vec<(String, String, String)> {
    report["vulnerabilities"].as_array().unwrap().iter().map(|v| (v["id"].as_str().unwrap().to_string(), v["package_name"].as_str().unwrap().to_string(), v["fixed_version"].as_str().unwrap_or("").to_string())).collect()
}

fn expected() -> Vec<(String, String, String)> {
    ["libc-bin", "libc6"].iter().map(|p| ("DSA-5611-1".to_string(), p.to_string(), "2.36-9+deb12u4".to_string())).collect()
}

#[test]
fn gantry_scan_reads_a_registry_image_against_imported_osv_advisories_in_every_format() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = import_db(dir.path());
    let reference = format!("{}/team/app:1", registry.host());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let digest = rt.block_on(Client::new(Arc::new(StaticCredentials::new())).push(&image(), &Reference::parse(&reference).unwrap())).unwrap();

    let report: Value = serde_json::from_str(&ok(&gantry(dir.path(), &["scan", &reference, "--db", &db, "--format", "json"], &[]))).unwrap();
    assert_eq!(report["image"]["digest"], digest.as_str());
    assert_eq!(glibc_findings(&report), expected());
    let secrets: Vec<(&str, &str)> = report["secrets"].as_array().unwrap().iter().map(|s| (s["rule"].as_str().unwrap(), s["location"].as_str().unwrap())).collect();
    assert_eq!(secrets, [("aws-access-key-id", "env:AWS_ACCESS_KEY_ID"), ("dotenv-password", "/app/.env:2")]);
    assert_eq!(report["packages"].as_array().unwrap().len(), 89);

    let table = ok(&gantry(dir.path(), &["scan", &reference, "--db", &db], &[]));
    assert!(table.contains(&format!("Digest     {digest}")) && table.contains("Vulnerabilities: 2 (") && table.contains("Secrets: 2"), "{table}");
    assert_eq!(table.lines().filter(|l| l.contains("DSA-5611-1") && l.contains("2.36-9+deb12u4")).count(), 2, "{table}");

    let sarif_path = dir.path().join("out.sarif");
    ok(&gantry(dir.path(), &["scan", &reference, "--db", &db, "--format", "sarif", "-o", sarif_path.to_str().unwrap()], &[]));
    let sarif: Value = serde_json::from_slice(&std::fs::read(&sarif_path).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let rules: Vec<&str> = sarif["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(rules, ["DSA-5611-1", "secret/aws-access-key-id", "secret/dotenv-password"]);
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 4);

    let bare: Value = serde_json::from_str(&ok(&gantry(dir.path(), &["scan", &reference, "--format", "json", "--skip-vulnerabilities", "--no-secrets"], &[]))).unwrap();
    assert!(bare["vulnerabilities"].as_array().unwrap().is_empty() && bare["secrets"].as_array().unwrap().is_empty());
    assert!(bare["database"].as_str().unwrap().contains("not checked"), "{}", bare["database"]);
    // no store imported where gantry looks by default: inventory only, and the report says how to get advisories
    let nodb: Value = serde_json::from_str(&ok(&gantry(dir.path(), &["scan", &reference, "--format", "json"], &[]))).unwrap();
    assert_eq!(nodb["database"], "no advisory database: run `gantry db import`");

    let sbom: Value = serde_json::from_str(&ok(&gantry(dir.path(), &["scan", &reference, "--format", "cyclonedx"], &[]))).unwrap();
    assert_eq!(sbom["specVersion"], "1.5");

    let missing = gantry(dir.path(), &["scan", &format!("{}/team/nope:1", registry.host()), "--db", &db], &[]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("team/nope:1"), "{}", String::from_utf8_lossy(&missing.stderr));
    let bad = gantry(dir.path(), &["scan", "Not A Reference", "--db", &db], &[]);
    assert_eq!(bad.status.code(), Some(2));
    drop(registry);
}

#[test]
fn gantry_scan_reads_an_image_of_the_local_engine_by_docker_name() {
    let Some(engine) = Dockerd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = import_db(dir.path());
    let mut child = engine.cli().args(["import", "--change", &format!("ENV AWS_ACCESS_KEY_ID={AWS_KEY}"), "-", "scan-local:1"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(&rootfs()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "docker import: {}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(&ok(&gantry(dir.path(), &["scan", "docker:scan-local:1", "--db", &db, "--format", "json"], &[("DOCKER_HOST", &engine.host())]))).unwrap();
    assert_eq!(report["image"]["reference"], "docker:scan-local:1");
    assert_eq!(glibc_findings(&report), expected());
    let rules: Vec<&str> = report["secrets"].as_array().unwrap().iter().map(|s| s["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["aws-access-key-id", "dotenv-password"]);
    let absent = gantry(dir.path(), &["scan", "docker:no-such-image:1", "--db", &db], &[("DOCKER_HOST", &engine.host())]);
    assert_eq!(absent.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&absent.stderr).contains("no-such-image"), "{}", String::from_utf8_lossy(&absent.stderr));
}

/// `gantry scan IMAGE --policy P`, every way it can end, on one pushed image.
fn decided(out: &Output) -> (Option<i32>, String, String) {
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(!stdout.contains(AWS_KEY) && !stdout.contains(PASSWORD) && !stderr.contains(AWS_KEY) && !stderr.contains(PASSWORD), "a secret's value in the output:\n{stdout}\n{stderr}");
    (out.status.code(), stdout, stderr)
}

#[test]
fn gantry_scan_policy_sets_the_exit_code_from_the_decision_and_prints_every_violation() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = import_db(dir.path());
    let reference = format!("{}/team/app:1", registry.host());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(Client::new(Arc::new(StaticCredentials::new())).push(&image(), &Reference::parse(&reference).unwrap())).unwrap();
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", reference.as_str(), "--db", db.as_str()];
        args.extend_from_slice(extra);
        decided(&gantry(dir.path(), &args, &[]))
    };
    let default = ["--policy", "builtin:policy-default"];

    // Deny (the image runs as root and holds two credentials): exit 1, each violation in the table.
    let (code, table, stderr) = scan(&[&default[..], &["--policy-settings", r#"{"no-root": true}"#]].concat());
    assert_eq!(code, Some(1), "{table}\n{stderr}");
    assert!(table.contains("Vulnerabilities: 2 ("), "the report is still printed: {table}");
    let policy = &table[table.find("Policy builtin:policy-default: deny (").expect("the decision under the report")..];
    assert!(policy.starts_with("Policy builtin:policy-default: deny (3 violations)\n"), "{policy}");
    assert!(policy.contains("RULE") && policy.contains("SEVERITY") && policy.contains("SUBJECT") && policy.contains("MESSAGE"), "{policy}");
    for (rule, subject) in [("no-root", "user"), ("no-secrets", "env:AWS_ACCESS_KEY_ID"), ("no-secrets", "/app/.env:2")] {
        assert!(policy.lines().any(|l| l.starts_with(rule) && l.contains(subject)), "no `{rule}` row about {subject}: {policy}");
    }

    // The same as JSON: the report with its `decision`.
    let (code, json, _) = scan(&[&default[..], &["--policy-settings", r#"{"no-root": true}"#, "--format", "json"]].concat());
    assert_eq!(code, Some(1), "{json}");
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(glibc_findings(&report), expected(), "the report is whole");
    let decision = &report["decision"];
    assert_eq!((decision["policy"].as_str(), decision["decision"].as_str(), decision["allowed"].as_bool()), (Some("builtin:policy-default"), Some("deny"), Some(false)), "{decision}");
    let violations: Vec<(&str, &str, &str)> = decision["violations"].as_array().unwrap().iter().map(|v| (v["rule"].as_str().unwrap(), v["severity"].as_str().unwrap(), v["subject"].as_str().unwrap())).collect();
    assert_eq!(violations.len(), 3, "{decision}");
    for rule in ["no-root", "no-secrets"] {
        assert!(violations.iter().any(|(r, _, _)| *r == rule), "{decision}");
    }
    assert!(decision["violations"].as_array().unwrap().iter().all(|v| !v["message"].as_str().unwrap().is_empty()), "{decision}");

    // Allow, with the settings in a file: exit 0 and an empty decision.
    std::fs::write(dir.path().join("lenient.json"), r#"{"no-secrets": false, "max-severity": "critical"}"#).unwrap();
    let (code, json, stderr) = scan(&[&default[..], &["--policy-settings", "lenient.json", "--format", "json"]].concat());
    assert_eq!(code, Some(0), "{json}\n{stderr}");
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["decision"], serde_json::json!({"policy": "builtin:policy-default", "decision": "allow", "allowed": true, "violations": []}));
    let (code, table, _) = scan(&[&default[..], &["--policy-settings", "lenient.json"]].concat());
    assert_eq!(code, Some(0));
    assert!(table.ends_with("Policy builtin:policy-default: allow (0 violations)\n"), "{table}");

    // SARIF to a file: the document is unchanged, the decision goes to stderr, the exit code is still the policy's.
    let sarif = dir.path().join("out.sarif");
    let (code, stdout, stderr) = scan(&[&default[..], &["--format", "sarif", "-o", sarif.to_str().unwrap()]].concat());
    assert_eq!(code, Some(1), "no-secrets is on by default: {stdout}{stderr}");
    assert!(stderr.contains("Policy builtin:policy-default: deny (2 violations)"), "{stderr}");
    assert_eq!(serde_json::from_slice::<Value>(&std::fs::read(&sarif).unwrap()).unwrap()["version"], "2.1.0");

    // A policy file pinned by digest (as `gantry plugin inspect` prints it), relative to the working directory.
    let wasm = gantry_plugins::builtin("policy-default").unwrap().wasm;
    std::fs::write(dir.path().join("mine.wasm"), wasm).unwrap();
    let pin = format!("mine.wasm@{}", digest_of(wasm));
    let (code, json, stderr) = scan(&["--policy", &pin, "--policy-settings", r#"{"no-root": true}"#, "--format", "json"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap()["decision"]["policy"].as_str(), Some(pin.as_str()));

    // Bad input is 2, and the policy is checked before the image is read (a missing image would be 1).
    let missing = format!("{}/team/nope:1", registry.host());
    let bad = |args: &[&str], says: &str| {
        let mut all = vec!["scan", missing.as_str(), "--db", db.as_str()];
        all.extend_from_slice(args);
        let (code, stdout, stderr) = decided(&gantry(dir.path(), &all, &[]));
        assert_eq!(code, Some(2), "{args:?}: {stdout}\n{stderr}");
        assert!(stderr.contains(says), "{args:?} should say `{says}`: {stderr}");
    };
    bad(&["--policy", "builtin:policy-nope"], "no built-in policy `builtin:policy-nope`");
    bad(&["--policy", "nowhere.wasm"], "cannot read policy `nowhere.wasm`");
    bad(&["--policy", &format!("mine.wasm@sha256:{}", "0".repeat(64))], "mine.wasm");
    bad(&["--policy", "builtin:echo"], "not a scan policy");
    bad(&[&default[..], &["--policy-settings", "{no-root: true"]].concat(), "--policy-settings is not JSON");
    bad(&[&default[..], &["--policy-settings", "absent.json"]].concat(), "cannot read --policy-settings file absent.json");
    std::fs::write(dir.path().join("list.json"), "[1]").unwrap();
    bad(&[&default[..], &["--policy-settings", "list.json"]].concat(), "not an object");
    // Settings the policy refuses (`policy-settings`) are bad input too, found once the image is read.
    let (code, _, stderr) = scan(&[&default[..], &["--policy-settings", r#"{"no-rot": true}"#]].concat());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("refuses its settings") && stderr.contains("no-rot"), "{stderr}");
    let (code, _, stderr) = scan(&["--policy-settings", "{}"]);
    assert_eq!(code, Some(2), "--policy-settings needs --policy: {stderr}");
}
