//! `gantry history` and the JUnit report, over real runs of the binary on
//! simulated targets: a good run and a failing one (its error carrying XML
//! markup, a control character and a secret) are listed newest first with
//! status, commit, digest and failed stage, as a table and as JSON, with
//! `--limit` and `-f`; `history RUN_ID` prints that run's stage × target
//! table and errors (masked); every run leaves `reports/<run-id>/junit.xml`
//! and `reports/junit.xml` (the latest), which counts its cases, marks the
//! failure and the skipped stage, and validates against the engine's JUnit
//! schema with xmllint (missing: fails under `CI`, skipped locally).

use std::path::Path;
use std::process::Output;

use crate::cli::{fixture, gantry};

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const SECRET: &str = "s3cr3t-deploy-t0ken";

/// A pipeline whose deploy stage outputs what builtin:helm-deploy does and
/// whose check fails on `fail_on` (if any) with a nasty message.
fn pipeline(dir: &Path, name: &str, fail_on: Option<&str>) {
    let scripted = fixture("scripted");
    let fail = match fail_on {
        Some(t) => format!(", fail: \"pods <crash> & ]]> \\u001b[31m token=${{DEPLOY_TOKEN}}\", fail_on: {t}"),
        None => String::new(),
    };
    let yaml = format!(
        r#"name: {name}
targets:
  aws: {{ sim: {{}} }}
  gcp: {{ sim: {{}} }}
stages:
  - name: deploy-canary
    uses: {scripted}
    with:
      log: "installing with ${{DEPLOY_TOKEN}}"
      outputs: {{ track: canary, release: app-canary, namespace: default, revision: 2, image: "reg.example/app@{DIGEST}", digest: "{DIGEST}" }}
  - name: check
    uses: {scripted}
    with: {{ log: checked{fail} }}
  - name: promote
    uses: {scripted}
on-failure: builtin:rollback
"#
    );
    std::fs::write(dir.join(format!("{name}.yaml")), yaml).unwrap();
}

fn run(dir: &Path, name: &str, sha: &str) -> Output {
    gantry(dir).args(["run", "-f", &format!("{name}.yaml")]).env("CI_COMMIT_SHA", sha).env("DEPLOY_TOKEN", SECRET).output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Both runs of one state directory: the good one, then the failing one.
fn two_runs(dir: &Path) -> (String, String) {
    pipeline(dir, "app", None);
    let good = run(dir, "app", "1111111");
    assert_eq!(good.status.code(), Some(0), "{:?}", text(&good));
    pipeline(dir, "app", Some("gcp"));
    let bad = run(dir, "app", "2222222");
    assert_eq!(bad.status.code(), Some(1), "{:?}", text(&bad));
    let out = gantry(dir).args(["history", "--output", "json"]).output().unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (runs[1]["run_id"].as_str().unwrap().to_string(), runs[0]["run_id"].as_str().unwrap().to_string())
}

#[test]
fn history_lists_runs_newest_first_with_status_revision_digest_and_failed_stage() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bad) = two_runs(dir.path());

    let out = gantry(dir.path()).args(["history", "--output", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    let (newest, oldest) = (&runs[0], &runs[1]);
    assert_eq!((newest["run_id"].as_str(), newest["status"].as_str(), newest["revision"].as_str(), newest["failed_stage"].as_str()), (Some(bad.as_str()), Some("failed"), Some("2222222"), Some("check")));
    assert_eq!((oldest["status"].as_str(), oldest["revision"].as_str(), oldest["failed_stage"].as_str()), (Some("succeeded"), Some("1111111"), None));
    assert_eq!(oldest["digest"], DIGEST);
    assert_eq!(oldest["image"], format!("reg.example/app@{DIGEST}"));
    assert!(newest["duration_ms"].is_u64() && newest["started"].as_str().unwrap().ends_with('Z'));

    let (table, _) = text(&gantry(dir.path()).arg("history").output().unwrap());
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("RUN") && lines[0].contains("STARTED") && lines[0].contains("FAILED STAGE"), "{table}");
    assert!(lines[1].starts_with(&bad) && lines[1].contains("failed") && lines[1].contains("2222222") && lines[1].ends_with("check"), "{table}");
    assert!(lines[2].starts_with(&good) && lines[2].contains("succeeded") && lines[2].contains("sha256:111111111111 "), "{table}");

    let (one, _) = text(&gantry(dir.path()).args(["history", "--limit", "1"]).output().unwrap());
    assert_eq!(one.lines().count(), 2, "a header and one run: {one}");
    std::fs::write(dir.path().join("other.yaml"), "name: other\nstages: []\n").unwrap();
    let out = gantry(dir.path()).args(["history", "-f", "other.yaml", "--output", "json"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]", "only the runs of that pipeline");
    let out = gantry(dir.path()).args(["history", "-f", "app.yaml", "--output", "json"]).output().unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().len(), 2);
}

#[test]
fn history_of_one_run_prints_its_stage_table_and_masked_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bad) = two_runs(dir.path());
    let out = gantry(dir.path()).args(["history", &bad[..bad.len() - 2]]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.starts_with(&format!("run {bad} of app: failed")) && stdout.contains("revision 2222222") && stdout.contains("failed at stage check"), "{stdout}");
    assert!(stdout.contains("STAGE          AWS") && stdout.contains("GCP"), "{stdout}");
    assert!(stdout.contains("promote        - skipped"), "{stdout}");
    assert!(stdout.contains("on-failure"), "{stdout}");
    assert!(stdout.contains("✗ check/gcp: pods <crash> & ]]>") && stdout.contains("token=[masked]"), "{stdout}");
    assert!(!stdout.contains(SECRET), "the secret stays masked");

    let out = gantry(dir.path()).args(["history", &bad, "--output", "json"]).output().unwrap();
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["run_id"], bad.as_str());
    assert_eq!(record["stages"][1]["steps"][1]["error"]["hint"], "scripted failure");

    let out = gantry(dir.path()).args(["history", "20"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("names 2 runs"), "{:?}", text(&out));
    let out = gantry(dir.path()).args(["history", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("no run `nope`"));
}

#[test]
fn every_run_writes_junit_for_ci_beside_the_latest() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bad) = two_runs(dir.path());
    let reports = dir.path().join(".gantry/reports");
    let first = std::fs::read_to_string(reports.join(&good).join("junit.xml")).unwrap();
    let xml = std::fs::read_to_string(reports.join(&bad).join("junit.xml")).unwrap();
    assert_eq!(std::fs::read_to_string(reports.join("junit.xml")).unwrap(), xml, "reports/junit.xml is the latest run's");
    assert!(first.contains(r#"tests="6" failures="0" errors="0" skipped="0""#), "{first}");

    // deploy-canary ×2, check ×2 (gcp failed), promote ×2 skipped, on-failure ×2.
    assert!(xml.contains(r#"<testsuites name="gantry app "#) && xml.contains(r#"tests="8" failures="1" errors="0" skipped="2""#), "{xml}");
    assert!(xml.contains(r#"<testsuite name="check" tests="2" failures="1" errors="0" skipped="0""#), "{xml}");
    assert!(xml.contains(r#"<testcase classname="check" name="gcp" time=""#), "{xml}");
    assert!(xml.contains(r#"<failure message="pods &lt;crash&gt; &amp; ]]&gt; \u{1b}[31m token=[masked]" type="failed">"#), "{xml}");
    assert!(xml.contains("hint: scripted failure</failure>"), "{xml}");
    assert!(xml.contains(r#"<skipped message="not run: stage check failed first"/>"#), "{xml}");
    assert!(xml.contains(r#"<testsuite name="on-failure""#), "{xml}");
    assert!(xml.contains("<system-out>[info] installing with [masked]\n"), "{xml}");
    assert!(!xml.contains(SECRET) && !xml.contains('\u{1b}'));

    let Some(xmllint) = xmllint() else { return };
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/src/report/junit.xsd");
    for file in [reports.join("junit.xml"), reports.join(&good).join("junit.xml")] {
        let out = std::process::Command::new(&xmllint).args(["--noout", "--schema"]).arg(&xsd).arg(&file).output().unwrap();
        assert!(out.status.success(), "{} does not validate: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    }
}

/// xmllint on PATH: missing fails under `CI`, skips the schema check locally.
fn xmllint() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("xmllint")).find(|p| p.is_file()));
    if found.is_none() {
        let why = "xmllint is not installed (Debian: apt-get install libxml2-utils; .ci/run installs it)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped the schema check: {why}");
    }
    found
}
