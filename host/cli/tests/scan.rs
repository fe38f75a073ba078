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
//!
//! And the scan stage end to end through `gantry run --sim` on the
//! simulated clouds: a daemonless build pushed to the simulated ECR and
//! Artifact Registry, `builtin:scan` denying the root image, and the Helm
//! deploy after it skipped: exit 1, nothing of the release in either
//! cluster (listed through the simulated API servers by an `on-failure`
//! stage), the run record naming each violation and the saved reports.
//! The same run allowed deploys, and the same listing sees the release.

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

use crate::cli::fixture;

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

/// [`image`] pushed to `registry` as `team/app:1`: its reference and digest.
fn push(registry: &DockerRegistry) -> (String, String) {
    let reference = format!("{}/team/app:1", registry.host());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let digest = rt.block_on(Client::new(Arc::new(StaticCredentials::new())).push(&image(), &Reference::parse(&reference).unwrap())).unwrap();
    (reference, digest)
}

#[test]
fn gantry_scan_reads_a_registry_image_against_imported_osv_advisories_in_every_format() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = import_db(dir.path());
    let (reference, digest) = push(&registry);

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
    let (reference, _) = push(&registry);
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

/// The pipeline of the end-to-end runs: a per-target preflight (so that
/// `on-failure` has targets to look at), the build, the scan with `no-root`
/// as given, a Helm upgrade-install of the release on both clusters, and
/// the listing of the release namespace's Secrets and ConfigMaps through
/// the API servers, as the last stage and as `on-failure`.
fn guarded_pipeline(no_root: bool) -> String {
    let aws = "${AWS_ACCOUNT_ID}.dkr.ecr.${AWS_REGION}.amazonaws.com";
    let gcp = "${GCP_REGION}-docker.pkg.dev/${GCP_PROJECT}/apps";
    let inventory = format!(
        "    uses: {}\n    grants: [scanner, cluster-read]\n    with:\n      calls:\n        - {{ op: list, kind: Secret, namespace: default }}\n        - {{ op: list, kind: ConfigMap, namespace: default }}\n",
        fixture("scanner")
    );
    format!(
        r#"name: guarded
image: {{ name: guarded-app, tag: "${{CI_COMMIT_SHA}}", build: {{ context: app }} }}
release: {{ name: guarded, chart: ./chart }}
targets:
  aws:
    eks: {{ cluster: "${{CLUSTER_AWS}}", region: "${{AWS_REGION}}" }}
    registry: "{aws}"
  gcp:
    gke: {{ cluster: "${{CLUSTER_GCP}}", region: "${{GCP_REGION}}", project: "${{GCP_PROJECT}}", credentials: "${{GCP_SERVICE_ACCOUNT_KEY}}" }}
    registry: "{gcp}"
stages:
  - {{ name: preflight, uses: builtin:echo, with: {{ message: "checked out" }} }}
  - {{ name: build, uses: builtin:build, with: {{ backend: daemonless }} }}
  - {{ name: scan, uses: builtin:scan, with: {{ settings: {{ no-root: {no_root} }} }} }}
  - name: deploy
    uses: {helm}
    grants: [helm]
    with:
      calls:
        - {{ op: upgrade-install, release: guarded, set: [ "message=deployed" ] }}
  - name: inventory
{inventory}on-failure:
{inventory}"#,
        helm = fixture("helm"),
    )
}

/// `gantry run --sim` of [`guarded_pipeline`] in a fresh directory: exit code, stdout, stderr, the run record.
fn run_guarded(no_root: bool) -> (tempfile::TempDir, Option<i32>, String, String, Value) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    // No USER: the image runs as root.
    std::fs::write(dir.path().join("app/Dockerfile"), "FROM scratch\nCOPY main.py /app/main.py\nCMD [\"python\", \"/app/main.py\"]\n").unwrap();
    std::fs::write(dir.path().join("app/main.py"), "print('hello')\n").unwrap();
    let chart = dir.path().join("chart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: guarded\nversion: 0.1.0\n").unwrap();
    std::fs::write(chart.join("values.yaml"), "message: default\n").unwrap();
    std::fs::write(chart.join("templates/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  message: {{ .Values.message | quote }}\n").unwrap();
    std::fs::write(dir.path().join("gantry.yaml"), guarded_pipeline(no_root)).unwrap();
    let out = crate::cli::gantry(dir.path())
        .args(["--output", "json", "run", "--sim"])
        .env("HOME", dir.path())
        .env_remove("GANTRY_DB_DIR")
        .env("CI_COMMIT_SHA", "5e1f00d")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("AWS_ACCESS_KEY_ID", "AKIAPROCESSKEYNOTSIM")
        .env("AWS_SECRET_ACCESS_KEY", "the-process-secret-the-sim-does-not-know")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    let runs = dir.path().join(".gantry/runs");
    let record_path = std::fs::read_dir(&runs).unwrap_or_else(|e| panic!("no runs dir ({e}):\n{stdout}\n{stderr}")).map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|x| x == "json")).expect("a run record");
    let record: Value = serde_json::from_str(&std::fs::read_to_string(record_path).unwrap()).unwrap();
    assert!(!format!("{stdout}{stderr}{record}").contains("the-process-secret"), "no credential in the output or the record");
    (dir, out.status.code(), stdout, stderr, record)
}

fn record_stage<'a>(record: &'a Value, name: &str) -> &'a Value {
    record["stages"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no stage {name}: {record:#}"))
}

/// What a listing step saw: (target, Secret names, ConfigMap names).
fn listed(step: &Value) -> (String, Vec<String>, Vec<String>) {
    let results = step["outputs"]["results"].as_array().unwrap_or_else(|| panic!("{step:#}"));
    let names = |i: usize| -> Vec<String> { results[i]["answer"].as_array().unwrap_or_else(|| panic!("the listing failed: {}", results[i])).iter().map(|n| n.as_str().unwrap().to_string()).collect() };
    (step["target"].as_str().unwrap().to_string(), names(0), names(1))
}

#[test]
fn a_run_whose_scan_policy_denies_the_image_deploys_nothing_and_says_why() {
    let (dir, code, stdout, stderr, record) = run_guarded(true);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert_eq!(record["status"], "failed", "{record:#}");
    assert_eq!(record["failed_stage"], "scan", "{record:#}");
    let events: Vec<Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert_eq!(events.last().unwrap()["status"], "failed", "{stdout}");

    let digest = record_stage(&record, "build")["steps"][0]["outputs"]["digest"].as_str().unwrap().to_string();
    let scan = record_stage(&record, "scan");
    assert_eq!(scan["status"], "failed");
    assert_eq!(scan["steps"].as_array().unwrap().len(), 1, "scanned once");
    let message = scan["steps"][0]["error"]["message"].as_str().unwrap();
    // Why: the policy, the image (by the digest the build pushed), each violation, and the saved reports.
    assert!(message.starts_with("policy `builtin:policy-default` denies 111122223333.dkr.ecr.eu-west-1.amazonaws.com/guarded-app@"), "{message}");
    assert!(message.contains(&digest) && message.contains("(1 violation)"), "{message}");
    assert!(message.contains("\n  - no-root (") && message.contains(") user: "), "each violation, rule (severity) subject: message: {message}");
    let hex = digest.strip_prefix("sha256:").unwrap();
    let stem = format!(".gantry/reports/{}/scan-{}", record["run_id"].as_str().unwrap(), &hex[..12]);
    assert!(message.contains(&format!("\nreports: {stem}.json, {stem}.sarif")), "the message names the saved reports: {message}");
    for ext in ["json", "sarif"] {
        let path = dir.path().join(format!("{stem}.{ext}"));
        let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        match ext {
            "json" => assert_eq!(saved["image"]["digest"].as_str(), Some(digest.as_str())),
            _ => assert_eq!(saved["version"], "2.1.0"),
        }
    }
    let logged: Vec<&Value> = scan["steps"][0]["logs"].as_array().unwrap().iter().filter(|l| l["level"] == "error").collect();
    assert_eq!(logged.len(), 1, "one error line per violation: {logged:#?}");
    assert!(logged[0]["fields"].as_array().unwrap().contains(&serde_json::json!(["rule", "no-root"])), "{:#}", logged[0]);

    for later in ["deploy", "inventory"] {
        let s = record_stage(&record, later);
        assert_eq!((s["status"].as_str(), s["steps"].as_array().map(Vec::len)), (Some("skipped"), Some(0)), "{s:#}");
    }
    // Nothing of the release reached either cluster, as their API servers list it.
    let on_failure = &record["on_failure"];
    let steps = on_failure["steps"].as_array().unwrap_or_else(|| panic!("on-failure ran: {record:#}"));
    let mut targets = Vec::new();
    for step in steps {
        let (target, secrets, configmaps) = listed(step);
        assert!(!secrets.iter().any(|n| n.starts_with("sh.helm.release.v1.guarded")), "{target}: a release Secret: {secrets:?}");
        assert!(!configmaps.iter().any(|n| n.starts_with("guarded")), "{target}: the release's ConfigMap: {configmaps:?}");
        targets.push(target);
    }
    assert_eq!(targets, ["aws", "gcp"]);
}

#[test]
fn the_same_run_allowed_by_the_scan_policy_deploys_and_the_listing_sees_it() {
    let (dir, code, stdout, stderr, record) = run_guarded(false);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let outputs = &record_stage(&record, "scan")["steps"][0]["outputs"];
    assert_eq!(outputs["decision"], "allow", "{outputs:#}");
    assert_eq!(outputs["counts"]["critical"], 0, "{outputs:#}");
    for ext in ["json", "sarif"] {
        let path = outputs["reports"][ext].as_str().unwrap_or_else(|| panic!("{outputs:#}"));
        assert!(dir.path().join(path).is_file() || std::path::Path::new(path).is_file(), "{path}");
    }
    let steps = record_stage(&record, "inventory")["steps"].as_array().unwrap().clone();
    assert_eq!(steps.len(), 2);
    for step in &steps {
        let (target, secrets, configmaps) = listed(step);
        assert!(secrets.contains(&"sh.helm.release.v1.guarded.v1".to_string()), "{target}: {secrets:?}");
        assert!(configmaps.contains(&"guarded-settings".to_string()), "{target}: {configmaps:?}");
    }
}
