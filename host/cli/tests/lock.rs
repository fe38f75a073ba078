//! `gantry run` takes the run lock (a Lease on the pipeline's release) on
//! every target after connecting it and gives it back at the end: while
//! another run holds it, the run fails at once naming the holder and no
//! stage starts; with `--lock-timeout` it waits and runs once the holder lets
//! go; after the run the lock is free. The other run is this test holding a
//! lock through gantry-cluster on a simulated cluster on 127.0.0.1 that the
//! run reaches through a kubeconfig target. Nothing asserts on time.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use gantry_cluster::lease::{LockOptions, RunLock};
use gantry_cluster::{Endpoint, Target};
use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::kubeconfig;
use gantry_sim::{ApiServer, ServerConfig};

const TOKEN: &str = "cli-admin";

fn gantry(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
    cmd.current_dir(dir).env("GANTRY_CACHE_DIR", dir.join("cache")).env_remove("RUST_LOG").env("CI", "true");
    cmd
}

const PIPELINE: &str = "name: locked\nrelease: { name: fastapi-app, chart: ./chart }\ntargets:\n  aws:\n    kubeconfig: { path: ./kubeconfig, context: live }\nstages:\n  - { name: hello, uses: builtin:echo, with: { message: reached } }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_takes_the_release_lock_fails_or_waits_while_another_run_holds_it_and_gives_it_back() {
    let auth = Authenticator::default();
    auth.add_token(TOKEN, Identity::admin("admin"));
    let server = ApiServer::start(ServerConfig::new("live", auth)).await.expect("server starts");
    let dir = tempfile::tempdir().unwrap();
    let mut live = server.kubeconfig_entry(TOKEN);
    live.name = "live".into();
    std::fs::write(dir.path().join("kubeconfig"), kubeconfig::render(&[live]).unwrap()).unwrap();
    std::fs::write(dir.path().join("gantry.yaml"), PIPELINE).unwrap();
    let client = Target::static_token("aws", Endpoint { url: server.url(), ca_pem: Some(server.ca_pem().to_string()) }, TOKEN).connect().await.expect("connects");
    let hold = |timeout: Duration| {
        let client = client.clone();
        async move { RunLock::acquire(client, "aws", "fastapi-app", "default", "run OTHER on host elsewhere (pid 7)", &LockOptions { timeout, ..LockOptions::default() }).await }
    };
    let run = |extra: &[&str]| {
        let out = gantry(dir.path()).arg("run").args(extra).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    // Another run holds the lock: this one fails at once, naming it.
    let other = hold(Duration::ZERO).await.expect("the other run takes the lock");
    let (code, err) = tokio::task::block_in_place(|| run(&[]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("release fastapi-app on target aws is locked by run OTHER on host elsewhere (pid 7) since "), "{err}");
    assert!(err.contains("pass --lock-timeout"), "{err}");
    assert!(!err.contains("reached"), "no stage ran: {err}");

    // With --lock-timeout it waits; the other run lets go and this one runs.
    let waiting = {
        let dir = dir.path().to_path_buf();
        std::thread::spawn(move || {
            let out = gantry(&dir).args(["run", "--lock-timeout", "120s"]).output().unwrap();
            (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    other.release().await.expect("the other run releases");
    let (code, err) = tokio::task::spawn_blocking(move || waiting.join().unwrap()).await.unwrap();
    assert_eq!(code, Some(0), "{err}");

    // The run gave its lock back: it is free at once.
    let again = hold(Duration::ZERO).await.expect("free after the run");
    again.release().await.expect("releases");

    // A bad --lock-timeout is refused by the command line.
    let (code, err) = tokio::task::block_in_place(|| run(&["--lock-timeout", "soon"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not a duration"), "{err}");
}
