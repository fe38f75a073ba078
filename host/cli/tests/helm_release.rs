//! `gantry helm install|upgrade|rollback|uninstall|status|history|get`, run
//! as the binary against an in-process simulated cluster through a written
//! kubeconfig, with the real Helm library (helm-python-sdk, host/release's
//! oracle) reading what gantry wrote: Helm lists what `gantry helm install`
//! installed (Secret and ConfigMap drivers); `upgrade --install` twice gives
//! revision 2; history prints Helm's table and JSON; rollback adds a
//! revision; `uninstall --keep-history` leaves an uninstalled revision in
//! history; missing releases and bad charts fail with Helm's words. The
//! oracle missing fails under `CI` and skips (with a message) otherwise.
//! Waits are hang guards only; nothing leaves 127.0.0.1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::{kubeconfig, ApiServer, ServerConfig};
use serde_json::{json, Value};

const TOKEN: &str = "cli-admin";

/// The oracle (see `gantry_helm::oracle`): None when missing and CI unset.
fn helm_python() -> Option<PathBuf> {
    gantry_helm::oracle::python()
}

fn web_chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../release/tests/helm/charts/web")
}

/// A chart with hooks of every event and a Deployment whose pods live as `behavior` says.
fn hooked_chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../release/tests/helm/charts/hooked")
}

/// A simulated cluster, a kubeconfig naming it, and the Helm oracle.
struct Fixture {
    _server: ApiServer,
    url: String,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    python: PathBuf,
}

impl Fixture {
    async fn start() -> Option<Fixture> {
        Fixture::start_with(false).await
    }

    /// With `controllers`, the simulated cluster runs pods (ready or
    /// crash-looping as their `sim.gantry.dev/behavior` annotation says).
    async fn start_with(controllers: bool) -> Option<Fixture> {
        let python = helm_python()?;
        let auth = Authenticator::default();
        auth.add_token(TOKEN, Identity::admin("admin"));
        let mut config = ServerConfig::new("live", auth);
        config.controllers = controllers;
        let server = ApiServer::start(config).await.expect("server starts");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig::render(&[server.kubeconfig_entry(TOKEN)]).unwrap()).unwrap();
        std::fs::write(dir.path().join("ca.crt"), server.ca_pem()).unwrap();
        Some(Fixture { url: server.url(), _server: server, dir, kubeconfig, python })
    }

    /// `gantry helm ARGS --kubeconfig K` with `env`, on a blocking thread.
    async fn gantry(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
        cmd.current_dir(self.dir.path()).arg("helm").args(args).arg("--kubeconfig").arg(&self.kubeconfig);
        for var in ["RUST_LOG", "HELM_NAMESPACE", "HELM_DRIVER", "HELM_KUBECONTEXT", "HELM_MAX_HISTORY", "KUBECONFIG"] {
            cmd.env_remove(var);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null());
        tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
    }

    /// One action of the real Helm library on the same cluster (its result, or its error).
    async fn helm(&self, mut request: Value) -> Value {
        request["server"] = json!(self.url);
        request["token"] = json!(TOKEN);
        request["ca_file"] = json!(self.dir.path().join("ca.crt"));
        if request.get("namespace").is_none() {
            request["namespace"] = json!("default");
        }
        let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("../release/tests/helm/oracle.py");
        let mut cmd = Command::new(&self.python);
        cmd.arg(oracle).env_clear().env("HOME", self.dir.path()).env("NO_PROXY", "127.0.0.1,localhost").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().expect("the Helm oracle starts");
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), request.to_string().as_bytes()).unwrap();
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        assert!(out.status.success(), "oracle: {}", String::from_utf8_lossy(&out.stderr));
        let answer: Value = serde_json::from_slice(&out.stdout).expect("the oracle's JSON");
        assert_eq!(answer["ok"], true, "Helm failed: {answer}");
        answer["result"].clone()
    }
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn ok(o: &Output) -> String {
    let (stdout, stderr) = text(o);
    assert_eq!(o.status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    stdout
}

fn revisions(list: &Value) -> Vec<(i64, String)> {
    list.as_array().unwrap().iter().map(|r| (r["revision"].as_i64().unwrap_or(0), r["status"].as_str().unwrap_or_default().to_string())).collect()
}

#[tokio::test]
async fn helm_release_commands_write_releases_helm_reads() {
    let Some(f) = Fixture::start().await else { return };
    let chart = web_chart().to_string_lossy().into_owned();

    // install: Helm's status block and NOTES; the real Helm lists the release.
    let out = ok(&f.gantry(&["install", "web", &chart, "--set", "replicaCount=2"], &[]).await);
    assert!(out.starts_with("NAME: web\nLAST DEPLOYED: "), "{out}");
    assert!(out.contains("\nNAMESPACE: default\nSTATUS: deployed\nREVISION: 1\nDESCRIPTION: Install complete\nTEST SUITE: None\nNOTES:\nweb runs web:v1 with 2 replicas.\n"), "{out}");
    let list = f.helm(json!({"op": "list"})).await;
    assert_eq!(revisions(&list), [(1, "deployed".to_string())]);
    assert_eq!(list[0]["name"], "web");
    assert_eq!(f.helm(json!({"op": "get_values", "release": "web"})).await, json!({"replicaCount": 2}));
    let status = ok(&f.gantry(&["status", "web"], &[]).await);
    assert!(status.starts_with("NAME: web\n") && status.contains("REVISION: 1\n"), "{status}");
    let json_status: Value = serde_json::from_str(&ok(&f.gantry(&["status", "web", "-o", "json"], &[]).await)).expect("status -o json");
    assert_eq!((json_status["name"].as_str(), json_status["version"].as_i64(), json_status["info"]["status"].as_str()), (Some("web"), Some(1), Some("deployed")));
    assert_eq!(ok(&f.gantry(&["get", "values", "web"], &[]).await), "USER-SUPPLIED VALUES:\nreplicaCount: 2\n");
    assert!(ok(&f.gantry(&["get", "manifest", "web"], &[]).await).contains("# Source: web/templates/a-deployment.yaml\n"));

    // upgrade --install twice: installs, then revision 2.
    let first = ok(&f.gantry(&["upgrade", "--install", "api", &chart, "-n", "apps", "--create-namespace"], &[]).await);
    assert!(first.starts_with("Release \"api\" does not exist. Installing it now.\nNAME: api\n"), "{first}");
    assert!(first.contains("NAMESPACE: apps\nSTATUS: deployed\nREVISION: 1\n"), "{first}");
    let second = ok(&f.gantry(&["upgrade", "--install", "api", &chart, "--set", "image.tag=v2", "--description", "to v2"], &[("HELM_NAMESPACE", "apps")]).await);
    assert!(second.starts_with("Release \"api\" has been upgraded. Happy Helming!\nNAME: api\n"), "{second}");
    assert!(second.contains("STATUS: deployed\nREVISION: 2\nDESCRIPTION: to v2\n") && second.contains("NOTES:\napi runs web:v2 with 1 replicas.\n"), "{second}");
    assert_eq!(revisions(&f.helm(json!({"op": "history", "release": "api", "namespace": "apps"})).await), [(1, "superseded".to_string()), (2, "deployed".to_string())]);

    // history: Helm's table (uitable: padded cells joined by tabs) and JSON.
    let table = ok(&f.gantry(&["history", "api", "-n", "apps"], &[]).await);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let header: Vec<&str> = lines[0].split('\t').map(str::trim_end).collect();
    assert_eq!(header, ["REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION"]);
    let row: Vec<&str> = lines[2].split('\t').map(str::trim_end).collect();
    assert_eq!((row[0], row[2], row[3], row[4], row[5]), ("2", "deployed", "web-0.1.0", "1.0", "to v2"), "{table}");
    assert_eq!(lines[1].split('\t').map(str::trim_end).nth(5), Some("Install complete"));
    assert_eq!(lines[0].split('\t').next().map(str::len), lines[2].split('\t').next().map(str::len), "cells are padded to their column");
    let rows: Value = serde_json::from_str(&ok(&f.gantry(&["history", "api", "-n", "apps", "-o", "json", "--max", "1"], &[]).await)).expect("history -o json");
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
    assert_eq!((rows[0]["revision"].as_i64(), rows[0]["status"].as_str(), rows[0]["chart"].as_str(), rows[0]["app_version"].as_str()), (Some(2), Some("deployed"), Some("web-0.1.0"), Some("1.0")));
    let yaml = ok(&f.gantry(&["history", "api", "-n", "apps", "-o", "yaml"], &[]).await);
    assert!(yaml.contains("- app_version: '1.0'\n") || yaml.contains("app_version: '1.0'"), "{yaml}");

    // rollback to 1: revision 3, Helm's history agrees.
    assert_eq!(ok(&f.gantry(&["rollback", "api", "1", "-n", "apps"], &[]).await), "Rollback was a success! Happy Helming!\n");
    let history = f.helm(json!({"op": "history", "release": "api", "namespace": "apps"})).await;
    assert_eq!(revisions(&history), [(1, "superseded".to_string()), (2, "superseded".to_string()), (3, "deployed".to_string())]);
    let status = ok(&f.gantry(&["status", "api", "-n", "apps"], &[]).await);
    assert!(status.contains("REVISION: 3\nDESCRIPTION: Rollback to 1\n") && status.contains("api runs web:v1"), "{status}");

    // uninstall --keep-history: history shows the uninstalled revision.
    assert_eq!(ok(&f.gantry(&["uninstall", "api", "-n", "apps", "--keep-history"], &[]).await), "release \"api\" uninstalled\n");
    let table = ok(&f.gantry(&["history", "api", "-n", "apps"], &[]).await);
    let last: Vec<&str> = table.lines().last().unwrap().split('\t').map(str::trim_end).collect();
    assert_eq!((last[0], last[2], last[5]), ("3", "uninstalled", "Uninstallation complete"), "{table}");
    // Helm reads it as uninstalled.
    assert_eq!(revisions(&f.helm(json!({"op": "history", "release": "api", "namespace": "apps"})).await).last(), Some(&(3, "uninstalled".to_string())));
    // upgrade --install over an uninstalled release installs it again (revision 4).
    let again = ok(&f.gantry(&["upgrade", "-i", "api", &chart, "-n", "apps"], &[]).await);
    assert!(again.starts_with("Release \"api\" does not exist. Installing it now.\n") && again.contains("REVISION: 4\n"), "{again}");
    // uninstall without --keep-history removes every record.
    assert_eq!(ok(&f.gantry(&["uninstall", "api", "-n", "apps"], &[]).await), "release \"api\" uninstalled\n");
    let (_, stderr) = text(&f.gantry(&["history", "api", "-n", "apps"], &[]).await);
    assert_eq!(stderr, "error: release: not found\n");

    // HELM_DRIVER=configmap: records Helm reads with its ConfigMap driver.
    ok(&f.gantry(&["install", "cm", &chart, "-n", "cms", "--create-namespace"], &[("HELM_DRIVER", "configmap")]).await);
    let list = f.helm(json!({"op": "list", "namespace": "cms", "storage_driver": "configmap"})).await;
    assert_eq!(revisions(&list), [(1, "deployed".to_string())]);
    assert!(f.helm(json!({"op": "list", "namespace": "cms", "storage_driver": "secret"})).await.as_array().is_none_or(Vec::is_empty));
}

#[tokio::test]
async fn helm_release_commands_fail_with_helms_words() {
    let Some(f) = Fixture::start().await else { return };
    let chart = web_chart().to_string_lossy().into_owned();
    let fails = |o: &Output, code: i32, message: &str| {
        let (stdout, stderr) = text(o);
        assert_eq!(o.status.code(), Some(code), "stdout: {stdout}\nstderr: {stderr}");
        assert_eq!(stderr, format!("error: {message}\n"));
        assert!(stdout.is_empty(), "{stdout}");
    };
    fails(&f.gantry(&["status", "missing"], &[]).await, 2, "release: not found");
    fails(&f.gantry(&["rollback", "missing"], &[]).await, 2, "release: not found");
    fails(&f.gantry(&["upgrade", "missing", &chart], &[]).await, 2, "UPGRADE FAILED: \"missing\" has no deployed releases");
    fails(&f.gantry(&["install", "web", "/no/such/chart"], &[]).await, 2, "INSTALLATION FAILED: path \"/no/such/chart\" not found");
    fails(&f.gantry(&["install", "Bad", &chart], &[]).await, 2, r#"INSTALLATION FAILED: release name check failed: release name "Bad": invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53"#);
    fails(&f.gantry(&["upgrade", "web", &chart, "--timeout", "soon"], &[]).await, 2, "invalid argument \"soon\" for \"--timeout\" flag: time: invalid duration \"soon\"");
    fails(&f.gantry(&["status", "web"], &[("HELM_DRIVER", "floppy")]).await, 2, "unknown driver \"floppy\"");
    // A chart whose template names a kind the cluster does not serve: nothing is stored.
    let o = f.gantry(&["install", "web", &chart, "--set", "widget=true"], &[]).await;
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: INSTALLATION FAILED: unable to build kubernetes objects from release manifest: ") && stderr.contains("Widget"), "{stderr}");
    fails(&f.gantry(&["history", "web"], &[]).await, 2, "release: not found");
    // A chart that does not render.
    let broken = f.dir.path().join("broken");
    std::fs::create_dir_all(broken.join("templates")).unwrap();
    std::fs::write(broken.join("Chart.yaml"), "apiVersion: v2\nname: broken\nversion: 0.1.0\n").unwrap();
    std::fs::write(broken.join("templates/cm.yaml"), "{{ required \"tag is required\" .Values.tag }}\n").unwrap();
    let o = f.gantry(&["upgrade", "--install", "broken", &broken.to_string_lossy()], &[]).await;
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: INSTALLATION FAILED: ") && stderr.contains("tag is required"), "{stderr}");
    // Installing a name in use.
    ok(&f.gantry(&["install", "web", &chart], &[]).await);
    let o = f.gantry(&["install", "web", &chart], &[]).await;
    let (_, stderr) = text(&o);
    assert_eq!((o.status.code(), stderr.as_str()), (Some(2), "error: INSTALLATION FAILED: release name check failed: cannot reuse a name that is still in use\n"));
    // --dry-run is refused, not ignored: the release stays at revision 1.
    let o = f.gantry(&["upgrade", "web", &chart, "--dry-run"], &[]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(ok(&f.gantry(&["status", "web"], &[]).await).contains("REVISION: 1\n"));
    // Not found is no error with --ignore-not-found.
    assert_eq!(ok(&f.gantry(&["uninstall", "missing", "--ignore-not-found"], &[]).await), "");
    fails(&f.gantry(&["uninstall", "missing"], &[]).await, 2, "uninstall: Release not loaded: missing: release: not found");
}

/// The hooks of a release as `-o json` shows them: name → the phase of its last run ("" if never run).
fn hook_phases(release: &Value) -> BTreeMap<String, String> {
    release["hooks"].as_array().expect("the release's hooks").iter().map(|h| (h["name"].as_str().unwrap_or_default().to_string(), h["last_run"]["phase"].as_str().unwrap_or_default().to_string())).collect()
}

/// `--wait`, `--timeout`, `--rollback-on-failure` (`--atomic`) and
/// `--no-hooks` reach the release operations: each changes what happens on
/// the cluster and what is recorded.
#[tokio::test]
async fn helm_release_commands_wait_roll_back_and_skip_hooks_as_asked() {
    let Some(f) = Fixture::start_with(true).await else { return };
    let chart = hooked_chart().to_string_lossy().into_owned();

    // Hooks run (their last run recorded); --wait returns once the pods are ready.
    let good: Value = serde_json::from_str(&ok(&f.gantry(&["install", "good", &chart, "--wait", "--timeout", "60s", "-o", "json"], &[]).await)).expect("-o json");
    let phases = hook_phases(&good);
    assert_eq!(phases.get("good-pre-job").map(String::as_str), Some("Succeeded"), "{phases:?}");
    assert_eq!(phases.get("good-pre-a").map(String::as_str), Some("Succeeded"), "{phases:?}");

    // --no-hooks: the hooks are recorded, none runs.
    let quiet: Value = serde_json::from_str(&ok(&f.gantry(&["install", "quiet", &chart, "--no-hooks", "-o", "json"], &[]).await)).expect("-o json");
    let phases = hook_phases(&quiet);
    assert!(!phases.is_empty() && phases.values().all(String::is_empty), "{phases:?}");

    // --wait on pods that never become ready fails within --timeout, naming the object; the release stays, failed.
    let o = f.gantry(&["install", "bad", &chart, "--set", "behavior=crashloop", "--wait", "--timeout", "3s"], &[]).await;
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: INSTALLATION FAILED: ") && stderr.contains("resource Deployment/default/bad-web not ready"), "{stderr}");
    assert!(ok(&f.gantry(&["history", "bad"], &[]).await).contains("failed"));

    // --atomic: the failed install is uninstalled, and the error says so and why.
    let o = f.gantry(&["install", "gone", &chart, "--set", "behavior=crashloop", "--atomic", "--timeout", "3s"], &[]).await;
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("release gone failed, and has been uninstalled due to rollback-on-failure being set: ") && stderr.contains("Deployment/default/gone-web"), "{stderr}");
    let o = f.gantry(&["history", "gone"], &[]).await;
    assert_eq!(text(&o).1, "error: release: not found\n");

    // --rollback-on-failure on an upgrade: rolled back to the deployed revision.
    let o = f.gantry(&["upgrade", "good", &chart, "--set", "behavior=crashloop", "--rollback-on-failure", "--timeout", "3s"], &[]).await;
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("release good failed, and has been rolled back due to rollback-on-failure being set: "), "{stderr}");
    let history = f.helm(json!({"op": "history", "release": "good"})).await;
    assert_eq!(revisions(&history), [(1, "superseded".to_string()), (2, "failed".to_string()), (3, "deployed".to_string())]);
}
