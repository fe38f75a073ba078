//! The example policies under examples/policies, each built with its own
//! toolchain (cargo + gantry-sdk for Rust, componentize-py for Python,
//! componentize-js for JavaScript) and evaluated on real reports (see
//! `policy.rs`): one report each policy allows and one it denies. A missing
//! Python or JS toolchain fails under CI (`.ci/run` installs both under
//! target/policy-toolchains) and skips locally with a message.

use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_scan::model::Severity;
use gantry_scan::policy;

use crate::policy::{clean_shape, eval_with, report, runtime, Shape};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Where built examples go: under the build's target directory.
fn out_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let dir = target.join("policy-examples");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A toolchain binary from `env` or the default place; None (after saying
/// why) when missing outside CI; a panic under CI.
fn tool(env: &str, default: &str) -> Option<PathBuf> {
    gantry_registry::testing::tool(env, root().join(default))
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{what} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn load(path: &Path) -> policy::Policy {
    policy::load(runtime(), path.to_str().unwrap(), Path::new("/")).unwrap()
}

#[test]
fn the_rust_example_denies_banned_packages() {
    let dir = root().join("examples/policies/rust-banned");
    let target = out_dir().join("rust");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(
        Command::new(cargo).current_dir(&dir).args(["build", "--release", "--locked", "--target", "wasm32-wasip2", "--target-dir"]).arg(&target).env_remove("CARGO_TARGET_DIR"),
        "cargo build of examples/policies/rust-banned",
    );
    let p = load(&target.join("wasm32-wasip2/release/rust_banned.wasm"));
    let r = report(&clean_shape());
    let (d, _) = eval_with(&p, &r, r#"{"banned": ["left-pad", "lodash@4.17.21"]}"#);
    assert!(d.allowed, "{:#?}", d.violations);
    let (d, log) = eval_with(&p, &r, r#"{"banned": ["lodash", "requests@2.30.0"]}"#);
    assert!(!d.allowed);
    let subjects: Vec<&str> = d.violations.iter().map(|v| v.subject.as_str()).collect();
    assert_eq!(subjects, vec!["pkg:pypi/requests@2.30.0", "pkg:npm/lodash@4.17.20"], "{:#?}", d.violations);
    assert!(d.violations.iter().all(|v| v.rule == "banned-package" && v.severity == Severity::Critical));
    assert!(log.iter().any(|l| l.message.contains("2 banned package(s)")));
}

#[test]
fn the_python_example_denies_root_and_a_missing_source_label() {
    let Some(componentize) = tool("GANTRY_COMPONENTIZE_PY", "target/policy-toolchains/py/bin/componentize-py") else { return };
    let wasm = out_dir().join("python-provenance.wasm");
    run(
        Command::new(componentize).current_dir(root().join("examples/policies/python-provenance")).args(["-d", "../../../wit", "-w", "scan-policy", "componentize", "app", "-o"]).arg(&wasm),
        "componentize-py of examples/policies/python-provenance",
    );
    let p = load(&wasm);
    let (d, _) = eval_with(&p, &report(&clean_shape()), "");
    assert!(d.allowed, "{:#?}", d.violations);
    let root_unlabelled = report(&Shape { user: None, labels: vec![], ..clean_shape() });
    let (d, _) = eval_with(&p, &root_unlabelled, "{}");
    let rules: Vec<&str> = d.violations.iter().map(|v| v.rule.as_str()).collect();
    assert_eq!(rules, vec!["no-root", "source-label"]);
    assert!(!d.allowed && d.violations[1].subject == "org.opencontainers.image.source");
    let (d, _) = eval_with(&p, &report(&Shape { user: Some("root"), ..clean_shape() }), "{}");
    assert_eq!(d.violations.len(), 1);
    assert_eq!(d.violations[0].severity, Severity::High);
    let (d, _) = eval_with(&p, &root_unlabelled, r#"{"allow-root": true, "label": "none.such"}"#);
    assert_eq!(d.violations.iter().map(|v| v.subject.as_str()).collect::<Vec<_>>(), vec!["none.such"]);
}

#[test]
fn the_js_example_denies_more_than_n_high_findings() {
    let Some(componentize) = tool("GANTRY_COMPONENTIZE_JS", "target/policy-toolchains/js/node_modules/.bin/componentize-js") else { return };
    let wasm = out_dir().join("js-high-findings.wasm");
    // run from the repository root: componentize-js reads the WIT through a sandbox that sees only the working directory
    run(
        Command::new(componentize)
            .current_dir(root())
            .args(["examples/policies/js-high-findings/policy.js", "--wit", "wit", "--world-name", "scan-policy", "-d", "stdio", "random", "clocks", "http", "fetch-event", "-o"])
            .arg(&wasm),
        "componentize-js of examples/policies/js-high-findings",
    );
    let p = load(&wasm);
    let r = report(&clean_shape());
    let high = r.vulnerabilities.iter().filter(|v| v.severity >= Severity::High).count();
    assert!(high >= 1, "the real report has {high} high or critical findings");
    let (d, _) = eval_with(&p, &r, &format!(r#"{{"max-high": {high}}}"#));
    assert!(d.allowed, "{:#?}", d.violations);
    let (d, log) = eval_with(&p, &r, &format!(r#"{{"max-high": {}}}"#, high - 1));
    assert!(!d.allowed);
    assert_eq!(d.violations.len(), high);
    assert!(d.violations.iter().all(|v| v.rule == "max-high" && v.severity >= Severity::High));
    assert!(log.iter().any(|l| l.message.contains("high or critical findings")));
    // ignoring one finding brings it back under the limit
    let one = &d.violations[0].subject;
    let (d, _) = eval_with(&p, &r, &format!(r#"{{"max-high": {}, "ignore": ["{one}"]}}"#, high - 1));
    assert!(d.allowed);
    let (d, _) = eval_with(&p, &r, "{not json");
    assert_eq!(d.violations[0].rule, "policy-settings");
}
