//! `gantry status` against two simulated clusters (in-process API servers
//! with their controllers, reached through a written kubeconfig): the
//! repository's chart installed first with `gantry helm upgrade --install`
//! — the stable release on both, a crash-looping canary on one — and a run
//! recorded; status then shows per target both releases (revision, Helm
//! status, chart, updated), each Deployment's image and the digest its
//! pods pulled, ready/updated replicas, the crash-looping pods, and the
//! last run, as JSON and as a table. A simulated estate with nothing
//! installed shows both releases as not installed; a pipeline without a
//! `release:` is bad input. Waits poll status with a hang guard only.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::{kubeconfig, ApiServer, ServerConfig};
use serde_json::Value;

use crate::cli::fixture;

const TOKEN: &str = "status-admin";

/// Simulated clusters named `aws` and `gcp`, one kubeconfig with a
/// context each, and a directory to run `gantry` in.
pub(crate) struct Clusters {
    _servers: Vec<ApiServer>,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl Clusters {
    pub async fn start(names: &[&str]) -> Clusters {
        let mut servers = Vec::new();
        for name in names {
            let auth = Authenticator::default();
            auth.add_token(TOKEN, Identity::admin("admin"));
            servers.push(ApiServer::start(ServerConfig::new(name, auth)).await.expect("the simulated cluster starts"));
        }
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let entries: Vec<_> = servers.iter().map(|s| s.kubeconfig_entry(TOKEN)).collect();
        std::fs::write(&kubeconfig, kubeconfig::render(&entries).unwrap()).unwrap();
        Clusters { _servers: servers, dir, kubeconfig }
    }

    /// The repository's canary-aware chart.
    pub fn chart() -> String {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../helm/fastapi-app").display().to_string()
    }

    /// `gantry.yaml`: release `app` of the chart, a target per cluster
    /// (registry `reg.example`), image `app:TAG`, the given stages.
    pub fn pipeline(&self, tag: &str, stages: &str) {
        let targets: String = ["aws", "gcp"]
            .iter()
            .map(|t| format!("  {t}:\n    kubeconfig: {{ path: \"{}\", context: {t} }}\n    registry: reg.example/{t}\n", self.kubeconfig.display()))
            .collect();
        let yaml = format!("name: app\nimage: {{ name: app, tag: \"{tag}\" }}\nrelease: {{ name: app, chart: \"{}\", namespace: default }}\ntargets:\n{targets}stages:\n{stages}", Clusters::chart());
        std::fs::write(self.dir.path().join("gantry.yaml"), yaml).unwrap();
    }

    /// `gantry ARGS` in the directory, on a blocking thread.
    pub async fn gantry(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
        cmd.current_dir(self.dir.path()).args(args).env("GANTRY_CACHE_DIR", self.dir.path().join("cache")).env("CI", "true").stdin(Stdio::null());
        for var in ["RUST_LOG", "HELM_NAMESPACE", "HELM_DRIVER", "HELM_KUBECONTEXT", "KUBECONFIG", "GANTRY_STATE_DIR"] {
            cmd.env_remove(var);
        }
        tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
    }

    /// `gantry helm upgrade --install RELEASE CHART --kube-context CONTEXT ARGS`, which must succeed.
    pub async fn install(&self, context: &str, release: &str, args: &[&str]) {
        let kubeconfig = self.kubeconfig.display().to_string();
        let chart = Clusters::chart();
        let mut all = vec!["helm", "upgrade", "--install", release, chart.as_str(), "--kubeconfig", kubeconfig.as_str(), "--kube-context", context, "-n", "default"];
        all.extend_from_slice(args);
        let out = self.gantry(&all).await;
        assert!(out.status.success(), "{all:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Pods of the release ready at once (and crash-looping for `crash`).
pub fn pods(crash: bool) -> String {
    if crash {
        r#"podAnnotations={"sim.gantry.dev/ready-after":"0s","sim.gantry.dev/behavior":"crashloop"}"#.to_string()
    } else {
        r#"podAnnotations={"sim.gantry.dev/ready-after":"0s"}"#.to_string()
    }
}

fn release<'a>(status: &'a Value, target: &str, track: &str) -> &'a Value {
    let t = status["targets"].as_array().unwrap().iter().find(|t| t["target"] == target).unwrap_or_else(|| panic!("no target {target}: {status}"));
    t["releases"].as_array().unwrap().iter().find(|r| r["track"] == track).unwrap_or_else(|| panic!("no {track} on {target}: {status}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_stable_and_canary_releases_with_digest_health_and_the_last_run() {
    let c = Clusters::start(&["aws", "gcp"]).await;
    c.pipeline("v1", &format!("  - {{ name: note, uses: {}, with: {{ log: noted }} }}\n", fixture("scripted")));
    let pods_ok = pods(false);
    let pods_crash = pods(true);
    for ctx in ["aws", "gcp"] {
        c.install(ctx, "app", &["--set", &format!("image.repository=reg.example/{ctx}/app"), "--set", "image.tag=v1", "--set-json", &pods_ok]).await;
    }
    c.install("aws", "app-canary", &["--set", "image.repository=reg.example/aws/app", "--set", "image.tag=v2", "--set", "track=canary", "--set", "replicaCount=1", "--set-json", &pods_crash]).await;
    let run = c.gantry(&["run"]).await;
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let run_id = std::fs::read_dir(c.dir.path().join(".gantry/runs")).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|x| x == "json")).unwrap();
    let run_id = run_id.file_stem().unwrap().to_string_lossy().into_owned();

    // Poll until the pods have settled (a hang guard, not a timing assertion).
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let out = c.gantry(&["status", "--output", "json"]).await;
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let status: Value = serde_json::from_slice(&out.stdout).unwrap();
        let settled = ["aws", "gcp"].iter().all(|t| release(&status, t, "stable")["health"]["state"] == "healthy") && release(&status, "aws", "canary")["health"]["state"] == "crash-looping";
        if settled {
            break status;
        }
        assert!(Instant::now() < deadline, "the releases never settled: {status}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(status["pipeline"], "app");
    for t in ["aws", "gcp"] {
        let stable = release(&status, t, "stable");
        assert_eq!((stable["release"].as_str(), stable["revision"].as_u64(), stable["status"].as_str(), stable["installed"].as_bool()), (Some("app"), Some(1), Some("deployed"), Some(true)), "{stable}");
        assert!(stable["chart"].as_str().unwrap().starts_with("fastapi-app-"), "{stable}");
        assert!(stable["updated"].as_str().unwrap().contains('T'), "{stable}");
        assert_eq!(stable["image"], format!("reg.example/{t}/app:v1"));
        assert!(stable["digest"].as_str().unwrap().starts_with("sha256:"), "the digest the pods pulled: {stable}");
        let h = &stable["health"];
        assert_eq!((h["desired"].as_u64(), h["ready"].as_u64(), h["updated"].as_u64()), (Some(2), Some(2), Some(2)), "{h}");
        assert_eq!(h["crash_looping"], serde_json::json!([]));
        assert_eq!(status["targets"].as_array().unwrap().iter().find(|x| x["target"] == t).unwrap()["last_run"]["run_id"], run_id.as_str());
    }
    let canary = release(&status, "aws", "canary");
    assert_eq!((canary["release"].as_str(), canary["revision"].as_u64(), canary["image"].as_str()), (Some("app-canary"), Some(1), Some("reg.example/aws/app:v2")), "{canary}");
    assert_eq!(canary["health"]["crash_looping"].as_array().unwrap().len(), 1, "{canary}");
    let none = release(&status, "gcp", "canary");
    assert_eq!((none["installed"].as_bool(), none["revision"].as_u64(), none["health"].is_null()), (Some(false), None, true), "{none}");

    let out = c.gantry(&["status"]).await;
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("TARGET  TRACK   RELEASE") && lines[0].contains("DIGEST") && lines[0].ends_with("HEALTH"), "{table}");
    assert!(lines[1].starts_with("aws     stable  app ") && lines[1].contains("deployed") && lines[1].contains("reg.example/aws/app:v1") && lines[1].contains("2/2 (2 updated)") && lines[1].ends_with("healthy"), "{table}");
    assert!(lines[2].starts_with("aws     canary  app-canary") && lines[2].contains("crash-looping (app-fastapi-app-canary-"), "{table}");
    assert!(lines[4].starts_with("gcp     canary  app-canary") && lines[4].contains("not installed"), "{table}");
    assert!(table.contains(&format!("aws: last run {run_id} succeeded at ")), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_on_a_fresh_simulated_estate_shows_nothing_installed_and_needs_a_release() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: Vec<String>| {
        let mut cmd = crate::cli::gantry(dir.path());
        cmd.args(&args);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let yaml = format!("name: app\nrelease: {{ name: app, chart: \"{}\" }}\ntargets:\n  aws: {{ sim: {{}} }}\nstages:\n  - {{ name: a, uses: builtin:echo }}\n", Clusters::chart());
    std::fs::write(dir.path().join("gantry.yaml"), yaml).unwrap();
    let out = run(vec!["status".into(), "--output".into(), "json".into()]).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    for track in ["stable", "canary"] {
        assert_eq!(release(&status, "aws", track)["installed"], false, "{status}");
    }
    assert!(status["targets"][0]["last_run"].is_null());

    std::fs::write(dir.path().join("gantry.yaml"), "name: app\ntargets:\n  aws: { sim: {} }\nstages:\n  - { name: a, uses: builtin:echo }\n").unwrap();
    let out = run(vec!["status".into()]).await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the pipeline has no `release:`"), "{}", String::from_utf8_lossy(&out.stderr));
}
