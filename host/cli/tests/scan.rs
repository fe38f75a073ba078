//! `gantry db import` of the real OSV fixture and `gantry scan` of an image
//! made from real package data (host/scan's debootstrapped Debian 12 dpkg
//! status with glibc at 2.36-9+deb12u3, the real requests wheel metadata)
//! with a credential in a `.env` file and one in its env: from a real
//! docker-registry in table, JSON and SARIF (to a file), and the same
//! layers `docker import`ed into a real engine scanned as `docker:NAME`.
//! DSA-5611-1 is found for libc6 and libc-bin with its fix, the secrets by
//! rule and place, and no secret's value reaches the output.

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
