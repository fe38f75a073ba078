//! `gantry run` connects every target before the first stage: a kubeconfig
//! target whose cluster answers runs; one whose endpoint refuses
//! connections, or whose context the file lacks, stops the run with exit 2
//! and an error naming the target and the fix, before any stage starts.
//! The clusters are simulated in-process on 127.0.0.1.

use std::path::Path;
use std::process::Command;

use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::kubeconfig;
use gantry_sim::{ApiServer, ServerConfig};

fn gantry(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
    cmd.current_dir(dir).env("GANTRY_CACHE_DIR", dir.join("cache")).env_remove("RUST_LOG").env("CI", "true");
    cmd
}

fn pipeline(context: &str) -> String {
    format!("name: reach\ntargets:\n  prod:\n    kubeconfig: {{ path: ./kubeconfig, context: {context} }}\nstages:\n  - {{ name: hello, uses: builtin:echo, with: {{ message: reached }} }}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_connects_kubeconfig_targets_first_and_an_unreachable_one_exits_2() {
    let auth = Authenticator::default();
    auth.add_token("cli-admin", Identity::admin("admin"));
    let server = ApiServer::start(ServerConfig::new("live", auth)).await.expect("server starts");
    let dir = tempfile::tempdir().unwrap();
    let live = server.kubeconfig_entry("cli-admin");
    let mut dead = live.clone();
    dead.name = "dead".into();
    dead.server = "https://127.0.0.1:1".into();
    std::fs::write(dir.path().join("kubeconfig"), kubeconfig::render(&[live, dead]).unwrap()).unwrap();
    let run = |context: &str| {
        std::fs::write(dir.path().join("gantry.yaml"), pipeline(context)).unwrap();
        let out = gantry(dir.path()).arg("run").output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let (code, err) = tokio::task::block_in_place(|| run("live"));
    assert_eq!(code, Some(0), "{err}");

    let (code, err) = tokio::task::block_in_place(|| run("dead"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`prod`") && err.contains("connection refused") && err.contains("is the cluster running?"), "{err}");
    assert!(!err.contains("hello"), "no stage started: {err}");

    let (code, err) = tokio::task::block_in_place(|| run("missing"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("context `missing`") && err.contains("live, dead"), "{err}");
}
