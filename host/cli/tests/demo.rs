//! The README's first command, `gantry run --demo --wait …`, as a newcomer
//! meets it: the request's whole pipeline (build → scan → deploy-canary →
//! health-check-canary → wait-for-canary → promote-to-production →
//! health-check-production) on a simulated EKS and a simulated GKE cloud,
//! where production already runs (the demo first seeds each cloud with
//! stable `demo-previous`, then canaries the new build next to it and judges
//! it against stable from real Prometheus metrics when `prometheus` is
//! installed), with an environment that has no cloud account, no Docker (DOCKER_HOST
//! points at nothing) and no home configuration — only the binary. Also a
//! failing variant of the demo's own files (the canary, or production,
//! answering 503) and what the final state says then, `--wait`'s
//! refusals, and `validate`, `status`, `plan` and `history` with `--demo`.
//! The real binary runs in a temp dir; nothing here is timed.

use std::path::Path;
use std::process::{Command, Output};

const STAGES: [&str; 7] = ["build", "scan", "deploy-canary", "health-check-canary", "wait-for-canary", "promote-to-production", "health-check-production"];
const PER_TARGET: [&str; 5] = ["deploy-canary", "health-check-canary", "wait-for-canary", "promote-to-production", "health-check-production"];

/// The binary with an environment of nothing but PATH (for an optional
/// `prometheus`), a home of its own, CI on and a Docker host that does not exist.
fn bare(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
    cmd.current_dir(dir).env_clear().env("HOME", dir.join("home")).env("CI", "true").env("GANTRY_CACHE_DIR", dir.join("cache")).env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    for keep in ["PATH", "GANTRY_PROMETHEUS"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    cmd
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The only run record under `state`.
fn record(state: &Path) -> serde_json::Value {
    let runs: Vec<_> = std::fs::read_dir(state.join("runs")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    assert_eq!(runs.len(), 1, "one record per run: {runs:?}");
    serde_json::from_slice(&std::fs::read(&runs[0]).unwrap()).unwrap()
}

fn step<'a>(record: &'a serde_json::Value, stage: &str, target: Option<&str>) -> &'a serde_json::Value {
    let s = record["stages"].as_array().unwrap().iter().find(|s| s["name"] == stage).unwrap_or_else(|| panic!("no stage {stage}"));
    s["steps"].as_array().unwrap().iter().find(|st| st["target"].as_str() == target).unwrap_or_else(|| panic!("no step {stage}/{target:?}"))
}

/// The request count of `track` in an analysis reason "traffic over 20s: canary 57 requests (…), stable 114 requests (…)".
fn requests_of(traffic: &str, track: &str) -> f64 {
    let after = traffic.split(&format!("{track} ")).nth(1).unwrap_or_else(|| panic!("no {track} in {traffic}"));
    after.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no {track} count in {traffic}"))
}

fn state_of<'a>(record: &'a serde_json::Value, target: &str) -> &'a serde_json::Value {
    record["final_state"].as_array().expect("final_state in the record").iter().find(|t| t["target"] == target).unwrap_or_else(|| panic!("no final state for {target}"))
}

#[test]
fn the_demo_runs_the_whole_request_on_two_simulated_clouds_without_docker() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough for the canary to serve the analysis' `min-requests` (20) at the simulated users' rate.
    let out = bare(dir.path()).args(["run", "--demo", "--wait", "10s"]).output().unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");

    // What the demo is, said once; the embedded files written in the repository's layout.
    assert_eq!(err.matches("demo: canary analysis: ").count(), 1, "{err}");
    assert!(err.contains("FROM scratch") && err.contains("no Python") && err.contains("they do not run the app"), "{err}");
    for file in ["examples/fastapi-app/gantry.yaml", "examples/fastapi-app/Dockerfile", "examples/fastapi-app/app/main.py", "helm/fastapi-app/Chart.yaml"] {
        assert!(dir.path().join(".gantry/demo").join(file).is_file(), "{file} not written");
    }

    // Live progress per stage and target: starts, health-check attempts, wait verdicts, finishes.
    assert!(err.contains("build started") && err.contains("✓ build succeeded") && err.contains("✓ scan succeeded"), "{err}");
    for t in ["aws", "gcp"] {
        for s in PER_TARGET {
            assert!(err.contains(&format!("{s}/{t} started")) && err.contains(&format!("✓ {s}/{t} succeeded")), "{s}/{t}: {err}");
        }
        // The first attempt may find the rollout still progressing; one says healthy.
        for (stage, what) in [("health-check-canary", "canary fastapi-app-canary"), ("health-check-production", "stable fastapi-app")] {
            let healthy = err.lines().any(|l| l.contains(&format!("{stage}/{t} | {what} attempt ")) && l.contains(": healthy — "));
            assert!(healthy, "{stage}/{t}: {err}");
        }
        assert!(err.contains(&format!("wait-for-canary/{t} | interval 20/20: promote")), "{err}");
    }
    let verdicts = err.lines().filter(|l| l.contains("wait-for-canary/aws | interval ")).count();
    assert!((2..=11).contains(&verdicts), "the wait's 20 intervals are thinned to about ten lines, not a flood: {verdicts}\n{err}");

    // The summary: the table, every target's final state, the verdict.
    assert!(err.contains("STAGE                    AWS            GCP"), "{err}");
    for t in ["aws", "gcp"] {
        let line = err.lines().find(|l| l.starts_with(&format!("  {t}  stable "))).unwrap_or_else(|| panic!("no final state line for {t}: {err}"));
        assert!(line.contains("stable fastapi-app revision 2 runs sha256:") && line.contains("(promoted by this run, healthy)") && line.ends_with("no canary left"), "{line}");
    }
    assert!(err.contains("succeeded in") && err.contains("record: .gantry/runs/"), "{err}");

    // The record: all seven stages on both targets, the built digest live as stable on both.
    let r = record(&dir.path().join(".gantry"));
    assert_eq!(r["status"], "succeeded");
    let names: Vec<&str> = r["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, STAGES);
    assert!(r["stages"].as_array().unwrap().iter().all(|s| s["status"] == "succeeded"), "{r:#}");
    let built = step(&r, "build", None)["outputs"]["digest"].as_str().unwrap().to_string();
    assert!(built.starts_with("sha256:"), "{built}");
    assert!(!step(&r, "build", None)["outputs"]["skipped"].as_array().unwrap().is_empty(), "the Dockerfile's RUN steps are skipped, and said so");
    for t in ["aws", "gcp"] {
        for s in PER_TARGET {
            assert_eq!(step(&r, s, Some(t))["status"], "succeeded", "{s}/{t}");
        }
        let state = state_of(&r, t);
        assert_eq!(state["stable"], "promoted", "{state}");
        assert_eq!(state["release"], "fastapi-app");
        assert_eq!(state["digest"].as_str(), Some(built.as_str()), "{t} runs the digest the build pushed: {state}");
        assert_eq!((state["canary"].as_str(), state["canary_removed_by"].as_str()), (Some("removed"), Some("promotion")), "no canary left on {t}: {state}");
        assert_eq!(state["health"], "healthy");
        assert_eq!(state["revision"], 2, "the seeded stable was revision 1; this run promoted revision 2 on {t}: {state}");
    }
    let repos: Vec<&str> = ["aws", "gcp"].iter().map(|t| step(&r, "promote-to-production", Some(t))["outputs"]["repository"].as_str().unwrap()).collect();
    assert!(repos[0].contains(".dkr.ecr.") && repos[1].contains("-docker.pkg.dev/"), "each cloud pulls from its own registry: {repos:?}");

    // The wait judged real metrics: its last verdict on each target counted
    // requests of the canary and of the seeded stable (Prometheus only).
    match gantry_sim::prometheus::find_binary() {
        Ok(Some(_)) => {
            for t in ["aws", "gcp"] {
                let verdicts = step(&r, "wait-for-canary", Some(t))["outputs"]["verdicts"].as_array().unwrap().clone();
                let last = verdicts.last().unwrap_or_else(|| panic!("no verdict on {t}"));
                let reasons: Vec<&str> = last["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
                assert!(!reasons.iter().any(|r| r.contains("health only")), "{t} judged real metrics, not health only: {reasons:?}");
                let traffic = reasons.iter().find(|r| r.starts_with("traffic over ")).unwrap_or_else(|| panic!("no traffic reason on {t}: {reasons:?}"));
                let (canary, stable) = (requests_of(traffic, "canary"), requests_of(traffic, "stable"));
                assert!(canary > 0.0 && stable > 0.0, "{t}: canary and stable both served requests: {traffic}");
            }
        }
        Ok(None) => gantry_registry::testing::missing("a prometheus binary (PATH or GANTRY_PROMETHEUS) for the wait's real metrics", "install Prometheus; .ci/run does"),
        Err(e) => panic!("{e}"),
    }

    // The seed run is its own run, apart from the demo's history.
    assert!(err.contains("demo: seeding production: done in"), "{err}");
    let seed = record(&dir.path().join(".gantry/demo/seed"));
    assert_eq!((seed["status"].as_str(), seed["revision"].as_str()), (Some("succeeded"), Some("demo-previous")), "{seed:#}");
    let previous = step(&seed, "build", None)["outputs"]["digest"].as_str().unwrap();
    assert_ne!(previous, built, "the seeded stable is another build (VERSION=demo-previous)");
    for t in ["aws", "gcp"] {
        assert_eq!((state_of(&seed, t)["revision"].as_u64(), state_of(&seed, t)["digest"].as_str()), (Some(1), Some(previous)), "{t}");
    }

    // JUnit for the CI job.
    let junit = std::fs::read_to_string(dir.path().join(".gantry/reports/junit.xml")).unwrap();
    assert!(junit.contains("<testsuites") && junit.contains("health-check-production"), "{junit}");
}

/// The demo's own files with one change: the canary's pods (or, in the
/// second run, production's) answer 503 on the simulated clouds. Before
/// promotion the canaries go and stable is untouched; after it, stable
/// (this run's first install) is removed again.
#[test]
fn a_failing_variant_of_the_demo_says_what_rollback_left_on_every_target() {
    let dir = tempfile::tempdir().unwrap();
    let out = bare(dir.path()).args(["validate", "--demo"]).env("GANTRY_STATE_DIR", dir.path().join("state")).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let file = dir.path().join("state/demo/examples/fastapi-app/gantry.yaml");
    let original = std::fs::read_to_string(&file).unwrap();
    let unhealthy = "values: { podAnnotations: { sim.gantry.dev/http-status: \"503\" } }";
    for (stage, state_dir) in [("deploy-canary", "canary-fails"), ("promote-to-production", "production-fails")] {
        let line = original.lines().find(|l| l.contains(&format!("name: {stage},"))).unwrap();
        let changed = line.replacen("with: { ", &format!("with: {{ {unhealthy}, "), 1);
        assert_ne!(line, changed, "{line}");
        std::fs::write(&file, original.replace(line, &changed)).unwrap();
        let out = bare(dir.path())
            .args(["run", "--sim", "-f"])
            .arg(&file)
            .args(["--state-dir", state_dir, "--wait", "2s", "--var", "PYTHON_IMAGE=scratch", "--var", "BUILD_BACKEND=daemonless"])
            .output()
            .unwrap();
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stage}: {err}");
        let r = record(&dir.path().join(state_dir));
        for t in ["aws", "gcp"] {
            let state = state_of(&r, t);
            assert_eq!(state["on_failure"], "succeeded", "{state}");
            assert_eq!(state["canary"], "removed", "{state}");
            if stage == "deploy-canary" {
                assert_eq!((state["stable"].as_str(), state["canary_removed_by"].as_str()), (Some("unchanged"), Some("on-failure")), "{state}");
                assert_eq!(state["undone"], serde_json::json!(["uninstalled fastapi-app-canary"]));
                assert!(err.contains(&format!("  {t}  stable unchanged by this run; fastapi-app-canary removed by on-failure; no canary left")), "{err}");
            } else {
                assert_eq!((state["stable"].as_str(), state["canary_removed_by"].as_str()), (Some("uninstalled"), Some("promotion")), "{state}");
                assert!(err.contains(&format!("  {t}  stable fastapi-app uninstalled by on-failure")), "{err}");
            }
        }
    }
}

/// The seed run fails (its build asks a Docker engine that does not
/// exist): the demo stops with an error naming the seed, and its own run
/// never starts.
#[test]
fn a_failing_seed_stops_the_demo_with_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = bare(dir.path()).args(["run", "--demo", "--wait", "1s", "--var", "BUILD_BACKEND=docker"]).output().unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = err.lines().find(|l| l.contains("seeding production with fastapi-app:demo-previous before the demo's run failed at stage build")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("the demo did not run — its record: .gantry/demo/seed/runs/"), "{line}");
    assert!(!dir.path().join(".gantry/runs").exists(), "the demo's own run never started: {err}");
    assert_eq!(record(&dir.path().join(".gantry/demo/seed"))["status"], "failed");
}

#[test]
fn wait_refuses_what_is_not_a_duration_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    for (bad, says) in [("20x", "`20x` has an unknown unit `x` (use ms, s, m or h)"), ("soon", "`soon` is not a duration (try 0, 30s, 5m)")] {
        let out = bare(dir.path()).args(["run", "--demo", "--wait", bad]).output().unwrap();
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("--wait") && err.contains(says), "{err}");
        assert!(!dir.path().join(".gantry/runs").exists(), "nothing ran: {err}");
    }
}

/// `validate`, `status`, `plan` and `history` read the same embedded
/// pipeline; `status` and `plan` on simulated clouds as `run --demo` does.
#[test]
fn every_command_with_demo_reads_the_embedded_request() {
    let dir = tempfile::tempdir().unwrap();
    let out = bare(dir.path()).args(["validate", "--demo"]).output().unwrap();
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(stdout.contains("pipeline fastapi-app (.gantry/demo/examples/fastapi-app/gantry.yaml): 7 stages × 2 targets — valid"), "{stdout}");
    for s in STAGES {
        assert!(stdout.lines().any(|l| l.starts_with(s)), "{s}: {stdout}");
    }

    let out = bare(dir.path()).args(["status", "--demo"]).output().unwrap();
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for t in ["aws", "gcp"] {
        assert!(stdout.lines().any(|l| l.starts_with(t) && l.contains("fastapi-app-canary") && l.contains("not installed")), "{stdout}");
    }

    let out = bare(dir.path()).args(["plan", "--demo"]).output().unwrap();
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "changes to make: {err}");
    assert!(stdout.contains("aws: release fastapi-app-canary (canary track") && stdout.contains("gcp: release fastapi-app (stable track"), "{stdout}");

    let out = bare(dir.path()).args(["history", "--demo"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert!(text(&out).1.contains("no runs recorded"), "{:?}", text(&out));
}
