//! `gantry plugin new` for each kind of plugin: the scaffold builds with one
//! `cargo build --release`, `plugin inspect` recognises its world, the stage
//! runs in a pipeline unchanged, and the other three answer their world's
//! call through the runtime. Slow (it compiles four crates); the builds
//! share one target directory under `target/scaffold` so re-runs are quick.

use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_runtime::wit;

fn gantry(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
    cmd.current_dir(dir).env("GANTRY_CACHE_DIR", dir.join("cache")).env("CI", "true");
    cmd
}

/// `gantry plugin new KIND NAME` then `cargo build --release`; the component.
fn scaffold_and_build(dir: &Path, kind: &str, name: &str) -> PathBuf {
    let out = gantry(dir).args(["plugin", "new", kind, name]).output().unwrap();
    assert!(out.status.success(), "plugin new {kind}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cargo build --release"));
    let target_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/scaffold");
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.current_dir(dir.join(name)).args(["build", "--release"]).env("CARGO_TARGET_DIR", &target_dir);
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
        cargo.env_remove(var);
    }
    let build = cargo.output().unwrap();
    assert!(build.status.success(), "cargo build of the {kind} scaffold failed:\n{}", String::from_utf8_lossy(&build.stderr));
    let wasm = target_dir.join("wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")));
    assert!(wasm.exists(), "{} was not produced", wasm.display());
    wasm
}

fn inspect_world(dir: &Path, wasm: &Path) -> String {
    let out = gantry(dir).args(["--output", "json", "plugin", "inspect"]).arg(wasm).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["world"].as_str().unwrap().to_string()
}

#[test]
fn scaffolds_of_every_kind_build_with_one_command_and_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // stage: build, inspect, run in a pipeline unchanged.
    let stage = scaffold_and_build(dir, "stage", "hello-stage");
    assert_eq!(inspect_world(dir, &stage), "stage");
    std::fs::write(
        dir.join("gantry.yaml"),
        format!("name: scaffold\ntargets:\n  aws: {{ sim: {{}} }}\n  gcp: {{ sim: {{}} }}\nstages:\n  - {{ name: hello, uses: {}, with: {{ message: hi }} }}\n", stage.display()),
    )
    .unwrap();
    let out = gantry(dir).args(["--output", "json", "run"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("said hi on aws") && stdout.contains("said hi on gcp"), "{stdout}");

    // The other worlds: build, inspect, and call through the runtime.
    let policy = scaffold_and_build(dir, "scan-policy", "my-policy");
    let health = scaffold_and_build(dir, "health-check", "my-health");
    let analysis = scaffold_and_build(dir, "canary-analysis", "my-analysis");
    assert_eq!(inspect_world(dir, &policy), "scan-policy");
    assert_eq!(inspect_world(dir, &health), "health-check");
    assert_eq!(inspect_world(dir, &analysis), "canary-analysis");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let runtime = gantry_tests::runtime();
        let env = gantry_tests::TestEnv::new();
        let target = gantry_runtime::wit_target(&gantry_tests::aws_target());

        let p = runtime.load("my-policy", &std::fs::read(&policy).unwrap(), None).unwrap();
        let report = wit::scan_types::ScanReport {
            image: wit::scan_types::ImageFacts {
                reference: "r/app:1".into(), digest: "sha256:00".into(), user: String::new(), env_names: vec![], exposed_ports: vec![], labels: vec![],
                entrypoint: vec![], cmd: vec![], size: 1, layers: 1, base_image: None, created: None,
            },
            packages: vec![],
            vulnerabilities: vec![wit::scan_types::Vulnerability {
                id: "CVE-2024-0001".into(), aliases: vec![], package_name: "openssl".into(), package_purl: "pkg:deb/debian/openssl@3".into(),
                installed_version: "3".into(), fixed_version: None, severity: wit::scan_types::Severity::Critical, cvss_score: None, cvss_vector: None, summary: String::new(),
            }],
            secrets: vec![],
            database: "test".into(),
        };
        let d = runtime.call_scan_policy(&p, &env.env, report.clone(), "{}".into()).await.unwrap();
        assert!(!d.allowed && d.violations[0].subject == "CVE-2024-0001");
        let d = runtime.call_scan_policy(&p, &env.env, report, r#"{"max_critical": 1}"#.into()).await.unwrap();
        assert!(d.allowed);

        let h = runtime.load("my-health", &std::fs::read(&health).unwrap(), None).unwrap();
        let request = wit::health_types::CheckRequest { target: target.clone(), track: wit::health_types::Track::Canary, release: "app-canary".into(), namespace: "default".into(), settings: "{}".into(), attempt: 1 };
        let r = runtime.call_health_check(&h, &env.env, request).await.unwrap();
        assert_eq!(r.health, wit::health_types::Health::Healthy);

        let a = runtime.load("my-analysis", &std::fs::read(&analysis).unwrap(), None).unwrap();
        let request = wit::analysis_types::AnalysisRequest { target, canary_release: "app-canary".into(), stable_release: "app".into(), namespace: "default".into(), settings: "{}".into(), interval: 3, intervals: 3, started_ms: 0, now_ms: 1 };
        let v = runtime.call_canary_analysis(&a, &env.env, request).await.unwrap();
        assert_eq!(v.decision, wit::analysis_types::Decision::Promote);
    });
}

#[test]
fn plugin_new_refuses_bad_names_and_existing_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let out = gantry(tmp.path()).args(["plugin", "new", "stage", "Bad_Name"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    let out = gantry(tmp.path()).args(["plugin", "new", "stage", "taken"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}
