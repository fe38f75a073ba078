//! `gantry policy test`: the built-in policy on saved reports, the exit code
//! of an expectation that holds (0), that does not (1), and of bad input
//! (2: unreadable report, bad settings, a policy that does not exist or is
//! not a scan policy), with messages that name the file and the fix.

use std::path::Path;
use std::process::Command;

use gantry_scan::model::{Ecosystem, ImageFacts, Package, Report, Severity, Vulnerability};

fn gantry(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
    cmd.current_dir(dir).env("GANTRY_CACHE_DIR", dir.join("cache"));
    cmd
}

fn report(user: &str, severity: Severity) -> Report {
    Report {
        image: ImageFacts { reference: "registry.local/shop/api:1".into(), digest: "sha256:aa".into(), user: user.into(), size: 1000, layers: 1, ..Default::default() },
        packages: vec![Package {
            name: "urllib3".into(),
            version: "2.0.5".into(),
            ecosystem: Ecosystem::PyPI,
            purl: "pkg:pypi/urllib3@2.0.5".into(),
            layer: None,
            path: None,
            source: None,
            licenses: vec![],
        }],
        vulnerabilities: vec![Vulnerability {
            id: "CVE-2023-43804".into(),
            aliases: vec!["GHSA-v845-jxx5-vc9f".into()],
            package_name: "urllib3".into(),
            package_purl: "pkg:pypi/urllib3@2.0.5".into(),
            installed_version: "2.0.5".into(),
            fixed_version: Some("2.0.6".into()),
            severity,
            cvss_score: Some(8.1),
            cvss_vector: None,
            summary: "Cookie request header isn't stripped during cross-origin redirects".into(),
        }],
        secrets: vec![],
        database: "test".into(),
    }
}

fn write(dir: &Path, name: &str, r: &Report) -> String {
    std::fs::write(dir.join(name), serde_json::to_string_pretty(r).unwrap()).unwrap();
    name.to_string()
}

#[test]
fn expectations_that_hold_exit_0_and_those_that_do_not_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let high = write(d, "high.json", &report("app", Severity::High));
    let critical = write(d, "critical.json", &report("app", Severity::Critical));

    let out = gantry(d).args(["policy", "test", "builtin:policy-default", "--report", &high, "--expect", "allow"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("decision:   allow"));

    let out = gantry(d).args(["policy", "test", "builtin:policy-default", "--report", &critical, "--expect", "deny"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("decision:   deny (1 violation)"), "{text}");
    assert!(text.contains("max-severity (critical) CVE-2023-43804"), "{text}");

    // the expectation fails: exit 1, and it says what the policy decided
    let out = gantry(d).args(["policy", "test", "builtin:policy-default", "--report", &critical, "--expect", "allow"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("the policy decided deny"));

    // settings change the decision
    let out = gantry(d).args(["policy", "test", "builtin:policy-default", "--report", &high, "--expect", "deny", "--settings", r#"{"max-severity-fixed": "medium"}"#]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("max-severity-fixed"));

    // JSON output carries the violations
    let out = gantry(d).args(["--output", "json", "policy", "test", "builtin:policy-default", "--report", &critical, "--expect", "deny"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["as_expected"], true);
    assert_eq!(v["violations"][0]["rule"], "max-severity");
    assert_eq!(v["violations"][0]["severity"], "critical");
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ok = write(d, "ok.json", &report("app", Severity::Low));
    std::fs::write(d.join("bad.json"), r#"{"image": {"reference": 3}}"#).unwrap();

    let run = |args: &[&str]| {
        let out = gantry(d).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (code, err) = run(&["policy", "test", "builtin:policy-default", "--report", "missing.json", "--expect", "allow"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("missing.json"), "{err}");
    let (code, err) = run(&["policy", "test", "builtin:policy-default", "--report", "bad.json", "--expect", "allow"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("bad.json") && err.contains("image.reference") && err.contains("gantry scan"), "{err}");
    let (code, err) = run(&["policy", "test", "builtin:policy-default", "--report", &ok, "--expect", "allow", "--settings", "{nope"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--settings is not JSON"), "{err}");
    let (code, err) = run(&["policy", "test", "builtin:policy-defualt", "--report", &ok, "--expect", "allow"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("builtin:policy-default"), "the known policies are listed: {err}");
    let (code, err) = run(&["policy", "test", "builtin:echo", "--report", &ok, "--expect", "allow"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a scan policy"), "{err}");
    let (code, err) = run(&["policy", "test", "mine.wasm", "--report", &ok, "--expect", "allow"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("mine.wasm"), "{err}");
    // a policy that denies on its settings is a decision, not bad input
    let out = gantry(d).args(["policy", "test", "builtin:policy-default", "--report", &ok, "--expect", "deny", "--settings", r#"{"max-sevrity": "low"}"#]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("policy-settings"));
}
