//! What the Prometheus tests share: a simulated cluster (controllers and
//! simulated users on), a real Prometheus scraping its pod metrics every
//! second, `kubectl` to write objects into it, and a client of that
//! Prometheus. A missing `prometheus` or `kubectl` fails the tests when `CI`
//! is set and skips them (saying so) otherwise. Everything runs on
//! 127.0.0.1 under a temporary directory and is stopped when dropped.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gantry_metrics::{Prometheus, DEFAULT_TIMEOUT};
use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::prometheus::SimPrometheus;
use gantry_sim::{ApiServer, ServerConfig};

const ADMIN: &str = "admin-token";

/// `bin` on PATH, or None (skip) outside CI; under CI its absence fails.
pub fn required(bin: &str, found: Option<PathBuf>) -> Option<PathBuf> {
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "{bin} is not installed — required when CI is set (apt-get install -y {bin})");
        eprintln!("SKIPPED: {bin} is not installed (set CI to make this a failure)");
    }
    found
}

fn on_path(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).map(|d| d.join(bin)).find(|p| p.is_file())
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A cluster, its Prometheus and a client of it.
pub struct Lab {
    pub server: ApiServer,
    pub prometheus: SimPrometheus,
    pub client: Prometheus,
    pub dir: tempfile::TempDir,
    kubectl: PathBuf,
}

impl Lab {
    /// None when `prometheus` or `kubectl` is missing outside CI.
    pub async fn start() -> Option<Lab> {
        let binary = required("prometheus", gantry_sim::prometheus::find_binary().expect("GANTRY_PROMETHEUS names a file"))?;
        let kubectl = required("kubectl", on_path("kubectl"))?;
        let auth = Authenticator::default();
        auth.add_token(ADMIN, Identity::admin("admin"));
        let server = ApiServer::start(ServerConfig::new("lab", auth)).await.expect("the simulated cluster starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let prometheus = SimPrometheus::start(&binary, &dir.path().join("prometheus"), "lab", &server.metrics_addr().to_string(), Duration::from_secs(1))
            .await
            .expect("prometheus starts");
        let client = Prometheus::new(&prometheus.url(), None, DEFAULT_TIMEOUT).expect("client");
        let entry = server.kubeconfig_entry(ADMIN);
        std::fs::write(dir.path().join("config"), gantry_sim::kubeconfig::render(&[entry]).expect("kubeconfig")).expect("kubeconfig written");
        Some(Lab { server, prometheus, client, dir, kubectl })
    }

    /// `kubectl ARGS` with `stdin`; panics on failure.
    pub async fn kubectl(&self, args: &[&str], stdin: &str) -> String {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new(&self.kubectl)
            .args(args)
            .env_clear()
            .env("KUBECONFIG", self.dir.path().join("config"))
            .env("HOME", self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl runs");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.as_bytes()).await.expect("stdin written");
        drop(input);
        let out = child.wait_with_output().await.expect("kubectl ends");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(out.status.success(), "kubectl {args:?} failed:\n{stdout}{stderr}");
        stdout
    }

    pub async fn apply(&self, yaml: &str) {
        self.kubectl(&["apply", "-f", "-"], yaml).await;
    }

    /// Waits (hang guard 60 s) until `query` has an answer with a value above zero.
    pub async fn wait_for(&self, query: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(series) = self.client.query(query, now_ms()).await {
                if series.iter().any(|s| s.samples.iter().any(|p| p.value > 0.0)) {
                    return;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "`{query}` never answered above zero");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The per-track value of `query` at `at_ms`.
    pub async fn by_track(&self, query: &str, at_ms: u64) -> (f64, f64) {
        let series = self.client.query(query, at_ms).await.unwrap_or_else(|e| panic!("{e}"));
        let value = |track: &str| {
            series.iter().find(|s| s.labels.iter().any(|(k, v)| k == "track" && v == track)).and_then(|s| s.samples.first()).map_or(0.0, |p| p.value)
        };
        (value("canary"), value("stable"))
    }

    pub fn metrics_backend(&self) -> Arc<dyn gantry_runtime::MetricsBackend> {
        Arc::new(self.client.clone())
    }
}

/// A Deployment of `replicas` pods labelled app=web and `track`, with pod `annotations` (YAML map lines).
pub fn deployment(name: &str, track: &str, replicas: u32, annotations: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{ name: {name}, namespace: default }}
spec:
  replicas: {replicas}
  selector: {{ matchLabels: {{ app: web, track: {track} }} }}
  template:
    metadata:
      labels: {{ app: web, track: {track} }}
      annotations: {{ {annotations} }}
    spec:
      containers:
        - {{ name: web, image: "web:1", ports: [ {{ name: http, containerPort: 8000 }} ] }}
"#
    )
}

/// A Service selecting `selector` (flow map body) on port 80, with `annotations`.
pub fn service(name: &str, selector: &str, annotations: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Service
metadata: {{ name: {name}, namespace: default, annotations: {{ {annotations} }} }}
spec:
  selector: {{ {selector} }}
  ports: [ {{ name: http, port: 80, targetPort: http }} ]
"#
    )
}
