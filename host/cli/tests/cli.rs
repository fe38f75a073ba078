//! The `gantry` binary as a user and a CI job meet it (the demo itself:
//! `demo.rs`): the JSON event stream, exit codes 0/1/2/3, located diagnostics, the plan,
//! `plugin inspect`, -q, and SIGINT handling.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub(crate) fn gantry(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
    cmd.current_dir(dir).env("GANTRY_CACHE_DIR", dir.join("cache")).env_remove("RUST_LOG").env("CI", "true");
    cmd
}

pub(crate) fn fixture(name: &str) -> String {
    gantry_tests::FIXTURES.iter().find(|(n, _)| *n == name).map(|(_, p)| p.to_string()).unwrap()
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn write(dir: &Path, yaml: &str) -> PathBuf {
    let p = dir.join("gantry.yaml");
    std::fs::write(&p, yaml).unwrap();
    p
}

const TWO_TARGETS: &str = "targets:\n  aws: { sim: {} }\n  gcp: { sim: {} }\n";

#[test]
fn json_output_is_one_event_per_line_from_start_to_finish() {
    let dir = tempfile::tempdir().unwrap();
    let out = gantry(dir.path()).args(["run", "--demo", "--wait", "1s", "--output", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let (stdout, _) = text(&out);
    let events: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"))).collect();
    // The demo's simulated clouds are started first, then the run begins.
    assert_eq!(events[0]["event"], "sim-ready");
    assert_eq!(events[1]["event"], "run-started");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "run-finished");
    assert_eq!(last["status"], "succeeded");
    // The last event carries every target's final state.
    let states = last["final_state"].as_array().unwrap();
    assert_eq!(states.iter().map(|s| (s["target"].as_str().unwrap(), s["stable"].as_str().unwrap())).collect::<Vec<_>>(), [("aws", "promoted"), ("gcp", "promoted")]);
    assert!(events.iter().any(|e| e["event"] == "log" && e["source"] == "plugin" && e["target"] == "gcp"));
    // build and scan once, five stages on each of two targets.
    assert_eq!(events.iter().filter(|e| e["event"] == "step-finished" && e["status"] == "succeeded").count(), 12);
}

#[test]
fn a_bad_file_exits_2_with_file_line_column_field_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &format!("name: x\n{TWO_TARGETS}stages:\n  - name: a\n    uses: builtin:echo\n    timeuot: 5s\n"));
    for cmd in ["validate", "run"] {
        let out = gantry(dir.path()).args([cmd, "-f", "gantry.yaml"]).output().unwrap();
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(err.contains("gantry.yaml:8:5: stages[0].timeuot: unknown field `timeuot`"), "{cmd}: {err}");
        assert!(err.contains("hint: did you mean `timeout`?"), "{err}");
    }
    let out = gantry(dir.path()).args(["validate", "-f", "missing.yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("missing.yaml: cannot read the pipeline file"));
}

#[test]
fn validate_prints_the_plan_of_stages_by_targets() {
    let dir = tempfile::tempdir().unwrap();
    let out = gantry(dir.path()).args(["validate", "--demo"]).output().unwrap();
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(stdout.contains("7 stages × 2 targets — valid"), "{stdout}");
    let build = stdout.lines().find(|l| l.starts_with("build ")).unwrap();
    assert!(build.contains("builtin:build") && build.contains("builder") && build.matches("once").count() == 2, "{build}");
    let wait = stdout.lines().find(|l| l.starts_with("wait-for-canary")).unwrap();
    assert!(wait.contains("builtin:canary-analysis") && wait.contains("metrics") && wait.matches(" run").count() == 2, "{wait}");
    assert!(stdout.lines().any(|l| l.starts_with("on-failure") && l.contains("builtin:rollback") && l.contains("if-failed")), "{stdout}");
}

#[test]
fn variables_come_from_the_environment_and_var_overrides_them() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &format!("name: v\n{TWO_TARGETS}stages:\n  - {{ name: say, once: true, uses: builtin:echo, with: {{ message: \"image ${{IMAGE_NAME}}\" }} }}\n"));
    let out = gantry(dir.path()).args(["run", "--output", "json"]).env("IMAGE_NAME", "from-env").output().unwrap();
    assert!(text(&out).0.contains("image from-env"));
    let out = gantry(dir.path()).args(["run", "--output", "json", "--var", "IMAGE_NAME=from-flag"]).env("IMAGE_NAME", "from-env").output().unwrap();
    assert!(text(&out).0.contains("image from-flag"));
    let out = gantry(dir.path()).args(["run"]).env_remove("IMAGE_NAME").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("variable `IMAGE_NAME` is not set"));
}

#[test]
fn exit_codes_say_failed_and_rolled_back_or_rollback_failed() {
    let dir = tempfile::tempdir().unwrap();
    let scripted = fixture("scripted");
    write(dir.path(), &format!("name: f\n{TWO_TARGETS}stages:\n  - {{ name: boom, uses: {}, timeout: 1s }}\non-failure: builtin:rollback\n", fixture("trap")));
    let out = gantry(dir.path()).arg("run").output().unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("failed at stage boom; on-failure ran"), "{err}");
    assert!(err.contains("plugin trapped"), "{err}");

    write(dir.path(), &format!("name: f\nrelease: {{ name: app, chart: c }}\n{TWO_TARGETS}stages:\n  - {{ name: deploy, uses: {scripted}, with: {{ outputs: {{ undo: [{{ action: rollback, release: app, revision: 3 }}] }} }} }}\n  - {{ name: check, uses: {scripted}, with: {{ fail: unhealthy }} }}\non-failure: builtin:rollback\n"));
    let out = gantry(dir.path()).arg("run").output().unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("on-failure failed too"), "{err}");
}

/// `HELM_DRIVER` picks where the helm capability keeps releases; a value
/// Helm does not know is bad input before any stage runs, as `gantry helm` says.
#[test]
fn an_unknown_helm_driver_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &format!("name: f\nrelease: {{ name: app, chart: c }}\n{TWO_TARGETS}stages:\n  - {{ name: hold, uses: builtin:pause, with: {{ duration: 1s, interval: 1s }} }}\n"));
    let out = gantry(dir.path()).arg("run").env("HELM_DRIVER", "floppy").output().unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("unknown driver \"floppy\" in HELM_DRIVER: use `secret` (the default) or `configmap`"), "{err}");
    assert!(!err.contains("hold/aws started"), "no stage ran: {err}");
}

#[test]
fn quiet_prints_only_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let out = gantry(dir.path()).args(["-q", "run", "--demo", "--wait", "1s"]).output().unwrap();
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("succeeded in"));
}

#[test]
fn plugin_inspect_names_world_capabilities_and_the_grant_to_add() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture("ungranted");
    let out = gantry(dir.path()).args(["plugin", "inspect", &path]).output().unwrap();
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(stdout.contains("world:         gantry:deploy/stage"), "{stdout}");
    assert!(stdout.contains("grants needed: grants: [helm]"), "{stdout}");
    assert!(stdout.contains("digest:        sha256:"), "{stdout}");
    let out = gantry(dir.path()).args(["--output", "json", "plugin", "inspect", &path]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["world"], "stage");
    assert_eq!(v["grants_needed"], serde_json::json!(["helm"]));
    std::fs::write(dir.path().join("junk.wasm"), b"not wasm").unwrap();
    let out = gantry(dir.path()).args(["plugin", "inspect", "junk.wasm"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("junk.wasm: not a WebAssembly component"));
}

#[cfg(unix)]
#[test]
fn sigint_stops_the_stages_runs_on_failure_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &format!("name: s\n{TWO_TARGETS}stages:\n  - {{ name: wait, uses: builtin:pause, timeout: 20m, with: {{ duration: 10m }} }}\non-failure: builtin:rollback\n"));
    let mut child = gantry(dir.path()).args(["run", "--output", "json"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut pausing = 0;
    let mut events = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["event"] == "log" && v["stage"] == "wait" {
            pausing += 1;
            if pausing == 2 {
                let ok = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
                assert!(ok.success());
            }
        }
        events.push(v);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(events.iter().any(|e| e["event"] == "interrupted" && e["signal"] == "SIGINT"));
    assert!(events.iter().any(|e| e["event"] == "step-finished" && e["stage"] == "wait" && e["error"]["kind"] == "interrupted"));
    assert_eq!(events.iter().filter(|e| e["event"] == "step-finished" && e["stage"] == "on-failure" && e["status"] == "succeeded").count(), 2);
    assert_eq!(events.last().unwrap()["status"], "failed");
}

#[test]
fn verbose_adds_debug_logs_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = gantry(dir.path()).args(["-v", "run", "--demo", "--wait", "1s"]).output().unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(err.contains("DEBUG"), "no debug lines with -v: {err}");
    assert!(err.contains(": layer sha256:"), "-v shows the run's debug lines (the build's layers) too: {err}");
    let out = gantry(dir.path()).args(["run", "--demo", "--wait", "1s"]).output().unwrap();
    let (_, err) = text(&out);
    assert!(!err.contains("DEBUG") && !err.contains(": layer sha256:"), "{err}");
}

/// On a terminal (outside CI) progress is drawn with spinners that end in a
/// status mark, not printed as timestamped lines.
#[cfg(target_os = "linux")]
#[test]
fn a_terminal_gets_spinners_instead_of_plain_lines() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = format!("{} run --demo --wait 1s", env!("CARGO_BIN_EXE_gantry"));
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(dir.path())
        .env("GANTRY_CACHE_DIR", dir.path().join("cache"))
        .env_remove("CI")
        .env("TERM", "xterm")
        .output()
        .expect("script(1) from util-linux runs the command on a pty");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains("\u{1b}["), "no terminal drawing: {screen}");
    assert!(screen.contains("wait-for-canary/gcp") && screen.contains("✓ 1.0s fastapi-app-canary promoted at interval"), "{screen}");
    assert!(!screen.contains("wait-for-canary/gcp started"), "plain CI lines on a terminal: {screen}");
}

#[cfg(unix)]
#[test]
fn sigterm_is_handled_like_sigint() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &format!("name: s\n{TWO_TARGETS}stages:\n  - {{ name: wait, uses: builtin:pause, timeout: 20m, with: {{ duration: 10m }} }}\non-failure: builtin:rollback\n"));
    let mut child = gantry(dir.path()).args(["run", "--output", "json"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut sent = false;
    let mut last = serde_json::Value::Null;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if !sent && v["event"] == "log" && v["stage"] == "wait" {
            assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
            sent = true;
        }
        last = v;
    }
    assert_eq!(child.wait().unwrap().code(), Some(1));
    assert_eq!(last["event"], "run-finished");
    assert_eq!(last["status"], "failed");
}

/// `gantry sim up` serves two clusters that the real kubectl reaches through
/// the kubeconfig it writes, and stops cleanly on SIGINT.
#[cfg(unix)]
#[test]
fn sim_up_serves_two_clusters_kubectl_can_use() {
    let dir = tempfile::tempdir().unwrap();
    let sim_dir = dir.path().join("sim");
    let mut child = gantry(dir.path()).args(["--output", "json", "sim", "up", "--dir"]).arg(&sim_dir).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready: serde_json::Value = serde_json::from_str(&lines.next().expect("a ready line").unwrap()).unwrap();
    assert_eq!(ready["event"], "sim-ready");
    let kubeconfig = ready["kubeconfig"].as_str().unwrap().to_string();
    for context in ["aws", "gcp"] {
        let out = Command::new("kubectl").args(["--kubeconfig", &kubeconfig, "--context", context, "get", "namespaces", "-o", "name"]).output();
        let out = match out {
            Ok(o) => o,
            Err(e) => panic!("kubectl is required (it is on the machine image): {e}"),
        };
        assert!(out.status.success(), "{context}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("namespace/default"));
    }
    let env = std::fs::read_to_string(sim_dir.join("sim.env")).unwrap();
    assert!(env.contains("AWS_ENDPOINT_URL_EKS=") && env.contains("GOOGLE_APPLICATION_CREDENTIALS="), "{env}");
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

fn kubectl_can_list_namespaces(kubeconfig: &str, context: &str) -> Result<(), String> {
    let out = Command::new("kubectl").args(["--kubeconfig", kubeconfig, "--context", context, "--request-timeout", "20s", "get", "namespaces", "-o", "name"]).output();
    let out = out.unwrap_or_else(|e| panic!("kubectl is required (it is on the machine image): {e}"));
    if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("namespace/default") {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `gantry sim up --cluster` runs the clusters it names, each with a context
/// and a `CLUSTER_*` variable, instead of the default two.
#[cfg(unix)]
#[test]
fn sim_up_runs_the_clusters_it_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let sim_dir = dir.path().join("sim");
    let mut child = gantry(dir.path())
        .args(["--output", "json", "sim", "up", "--cluster", "prod=eks:us-east-1", "--cluster", "lab=plain", "--dir"])
        .arg(&sim_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready: serde_json::Value = serde_json::from_str(&lines.next().expect("a ready line").unwrap()).unwrap();
    let clusters = ready["clusters"].as_object().unwrap();
    assert_eq!(clusters.keys().collect::<Vec<_>>(), ["lab", "prod"], "{ready}");
    let kubeconfig = ready["kubeconfig"].as_str().unwrap().to_string();
    for context in ["prod", "lab"] {
        kubectl_can_list_namespaces(&kubeconfig, context).unwrap_or_else(|e| panic!("{context}: {e}"));
    }
    assert!(kubectl_can_list_namespaces(&kubeconfig, "aws").is_err(), "the default clusters are not started");
    let env = std::fs::read_to_string(sim_dir.join("sim.env")).unwrap();
    assert!(env.contains("export CLUSTER_PROD='prod'") && env.contains("export CLUSTER_LAB='lab'") && env.contains("export AWS_REGION='us-east-1'"), "{env}");
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    assert_eq!(child.wait().unwrap().code(), Some(0));

    let out = gantry(dir.path()).args(["sim", "up", "--cluster", "prod=aks"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("`aks` is not a kind of simulated cluster"), "{}", text(&out).1);
}

/// `gantry run --sim` runs a cloud pipeline (eks and gke targets named by
/// variables it does not set) on clusters started in-process for the run:
/// shaped like its targets, reachable while it runs, gone when it ends.
#[test]
fn run_sim_starts_clusters_shaped_like_the_targets_for_the_run_only() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        r#"name: cloud
image: { name: app, tag: dev }
targets:
  aws:
    eks: { cluster: "${CLUSTER_AWS}", region: "${AWS_REGION}" }
  gcp:
    gke:
      cluster: ${CLUSTER_GCP}
      region: ${GCP_REGION}
      project: ${GCP_PROJECT}
      credentials: ${GCP_SERVICE_ACCOUNT_KEY}
stages:
  - { name: hold, uses: builtin:pause, once: true, with: { duration: 10s, interval: 1s } }
"#,
    );
    for var in ["CLUSTER_AWS", "AWS_REGION", "CLUSTER_GCP", "GCP_REGION", "GCP_PROJECT", "GCP_SERVICE_ACCOUNT_KEY"] {
        assert!(std::env::var_os(var).is_none() || std::env::var_os("GANTRY_TEST_KEEP_ENV").is_some(), "{var} is set in the test environment");
    }
    // Without --sim the unset variables are bad input.
    let out = gantry(dir.path()).args(["run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    assert!(text(&out).1.contains("CLUSTER_AWS"), "{}", text(&out).1);

    // The simulated EKS and GKE targets are reached the clouds' way with the
    // estate's credentials, never the process's (which may be real ones); a
    // project the environment names hosts the simulated GKE cluster.
    let mut child = gantry(dir.path())
        .args(["--output", "json", "run", "--sim"])
        .env("AWS_ACCESS_KEY_ID", "AKIAPROCESSKEYNOTSIM")
        .env("AWS_SECRET_ACCESS_KEY", "the-process-secret-the-sim-does-not-know")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("GCP_PROJECT", "acme-prod")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready: serde_json::Value = serde_json::from_str(&lines.next().expect("a sim-ready line").unwrap()).unwrap();
    assert_eq!(ready["event"], "sim-ready");
    let clusters = ready["clusters"].as_object().unwrap();
    assert_eq!(clusters.keys().collect::<Vec<_>>(), ["aws", "gcp"], "{ready}");
    let kubeconfig = ready["kubeconfig"].as_str().unwrap().to_string();
    assert!(kubeconfig.ends_with(".gantry/sim/kubeconfig"), "{kubeconfig}");
    for context in ["aws", "gcp"] {
        kubectl_can_list_namespaces(&kubeconfig, context).unwrap_or_else(|e| panic!("{context} while the run holds: {e}"));
    }
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    let last: serde_json::Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(last["status"], "succeeded");
    assert!(kubectl_can_list_namespaces(&kubeconfig, "aws").is_err(), "the clusters stop with the run");
    let key = std::fs::read_to_string(dir.path().join(".gantry/sim/gcp-service-account.json")).unwrap();
    assert!(!rest.iter().any(|l| l.contains("PRIVATE KEY")) && key.contains("PRIVATE KEY"), "the key is in its file, never in the output");
}
