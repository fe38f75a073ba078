//! What the kubectl tests share: a simulated cluster started in-process on
//! 127.0.0.1, a kubeconfig for it in a temporary directory, and the real
//! `kubectl` run against it. Missing kubectl fails the tests when `CI` is set
//! and skips them otherwise. Nothing here may reach beyond 127.0.0.1.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use gantry_sim::auth::{Authenticator, Identity, TokenVerifier};
use gantry_sim::kubeconfig::{self, KubeconfigEntry};
use gantry_sim::{ApiServer, ServerConfig};
use serde_json::Value;

pub const ADMIN: &str = "admin-token";
pub const LIMITED: &str = "limited-token";

/// Stands in for a cloud token verifier: accepts `verified-USER` as USER, limited to `default`.
pub struct PrefixVerifier;

impl TokenVerifier for PrefixVerifier {
    fn verify(&self, token: &str) -> Option<Identity> {
        let user = token.strip_prefix("verified-")?;
        Some(Identity { user: user.to_string(), namespaces: Some(vec!["default".into()]), verbs: None })
    }
}

/// `bin` found on PATH, or None (skip, saying so) when it is absent outside
/// CI; under CI its absence fails the test.
pub fn on_path(bin: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(bin))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "{bin} is not on PATH — required when CI is set (.ci/run installs it)");
        eprintln!("SKIPPED: {bin} is not on PATH (set CI to make this a failure)");
    }
    found
}

/// The kubectl binary, or None (skip) when it is absent outside CI.
pub fn kubectl_binary() -> Option<PathBuf> {
    on_path("kubectl")
}

/// A running cluster and a kubeconfig for it, with an admin token and a
/// token limited to get/list in `default`.
pub struct Cluster {
    pub server: ApiServer,
    pub dir: tempfile::TempDir,
    pub kubectl: PathBuf,
}

pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Cluster {
    pub async fn start() -> Option<Cluster> {
        Cluster::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut ServerConfig)) -> Option<Cluster> {
        let kubectl = kubectl_binary()?;
        let auth = Authenticator::default();
        auth.add_token(ADMIN, Identity::admin("admin"));
        auth.add_verifier(Arc::new(PrefixVerifier));
        auth.add_token(
            LIMITED,
            Identity { user: "ci".into(), namespaces: Some(vec!["default".into()]), verbs: Some(vec!["get".into(), "list".into()]) },
        );
        let mut config = ServerConfig::new("sim", auth);
        tune(&mut config);
        let server = ApiServer::start(config).await.expect("server starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let cluster = Cluster { server, dir, kubectl };
        cluster.write_kubeconfig("config", ADMIN);
        Some(cluster)
    }

    pub fn write_kubeconfig(&self, file: &str, token: &str) -> PathBuf {
        let entry: KubeconfigEntry = self.server.kubeconfig_entry(token);
        let path = self.dir.path().join(file);
        std::fs::write(&path, kubeconfig::render(&[entry]).expect("kubeconfig renders")).expect("kubeconfig written");
        path
    }

    pub fn command(&self, kubeconfig: &Path, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.kubectl);
        cmd.args(args)
            .env_clear()
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", self.dir.path())
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    pub async fn run_as(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        let out = self.command(kubeconfig, args).output().await.expect("kubectl runs");
        let output = Output {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!("$ kubectl {}\n{}{}", args.join(" "), output.stdout, output.stderr);
        output
    }

    pub async fn kubectl(&self, args: &[&str]) -> Output {
        self.run_as(&self.dir.path().join("config"), args).await
    }

    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(out.ok, "kubectl {} failed: {}", args.join(" "), out.stderr);
        out.stdout
    }

    pub async fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&all).await).expect("kubectl prints JSON")
    }

    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("manifest written");
        path.to_string_lossy().into_owned()
    }
}

