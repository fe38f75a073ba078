//! What the release tests share: a simulated cluster started in-process on
//! 127.0.0.1, gantry's [`Releases`] on it (Secret or ConfigMap driver), and
//! the real Helm library on the same cluster through `tests/helm/oracle.py`.
//! The oracle's python is `GANTRY_HELM_PYTHON`, else
//! `/tmp/helmvenv/bin/python` (as host/helm's tests find it); missing, the
//! tests fail when `CI` is set and skip with a message otherwise. Nothing
//! here reaches beyond 127.0.0.1; waits are hang guards, never timed asserts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use gantry_cluster::{Endpoint, Target};
use gantry_release::{Driver, Releases};
use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::{ApiServer, ServerConfig};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

pub const TOKEN: &str = "release-admin";
/// What a Helm action may take before the test is considered hung.
const HANG_GUARD: Duration = Duration::from_secs(300);

/// The python that can `import helm_python` (see `gantry_helm::oracle`),
/// or None (skip, said why) outside CI.
pub fn helm_python() -> Option<PathBuf> {
    gantry_helm::oracle::python()
}

pub fn chart(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm/charts").join(name)
}

/// A simulated cluster, gantry's client for it, and Helm's.
pub struct Cluster {
    pub server: ApiServer,
    pub client: kube::Client,
    pub dir: tempfile::TempDir,
    pub helm: Helm,
}

impl Cluster {
    /// Starts a cluster, or None when the Helm oracle is missing outside CI.
    pub async fn start() -> Option<Cluster> {
        let python = helm_python()?;
        let auth = Authenticator::default();
        auth.add_token(TOKEN, Identity::admin("admin"));
        let server = ApiServer::start(ServerConfig::new("release", auth)).await.expect("server starts");
        let target = Target::static_token("sim", Endpoint { url: server.url(), ca_pem: Some(server.ca_pem().to_string()) }, TOKEN);
        let client = target.connect().await.expect("connects");
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_file = dir.path().join("ca.crt");
        std::fs::write(&ca_file, server.ca_pem()).expect("CA written");
        let helm = Helm { python, server: server.url(), ca_file, home: dir.path().to_path_buf(), driver: "secret" };
        Some(Cluster { server, client, dir, helm })
    }

    /// gantry's releases in `namespace`, kept by `driver`, rendering for the cluster's version.
    pub async fn releases(&self, namespace: &str, driver: Driver) -> Releases {
        Releases::new("sim", self.client.clone(), namespace, driver).with_cluster_version().await.expect("the cluster's version")
    }

    /// A live object as JSON, or None when it does not exist.
    pub async fn object(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk).await.expect("kind served");
        let api: kube::Api<kube::api::DynamicObject> = match (caps.scope, namespace) {
            (kube::discovery::Scope::Namespaced, Some(ns)) => kube::Api::namespaced_with(self.client.clone(), ns, &resource),
            _ => kube::Api::all_with(self.client.clone(), &resource),
        };
        api.get_opt(name).await.expect("get").map(|o| serde_json::to_value(o).expect("json"))
    }

    /// The names and labels of the release's storage objects (Secrets or ConfigMaps).
    pub async fn stored(&self, kind: &str, namespace: &str, release: &str) -> Vec<(String, Value)> {
        let path = match kind {
            "Secret" => "secrets",
            _ => "configmaps",
        };
        let list: Value = self
            .client
            .request(http::Request::get(format!("/api/v1/namespaces/{namespace}/{path}?labelSelector=owner%3Dhelm,name%3D{release}")).body(Vec::new()).expect("request"))
            .await
            .expect("list");
        let mut out: Vec<(String, Value)> =
            list["items"].as_array().into_iter().flatten().map(|i| (i["metadata"]["name"].as_str().unwrap_or_default().to_string(), i["metadata"]["labels"].clone())).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// The real Helm library pointed at one simulated cluster.
pub struct Helm {
    python: PathBuf,
    server: String,
    ca_file: PathBuf,
    home: PathBuf,
    pub driver: &'static str,
}

/// Helm's own error: the library's exception type and message.
#[derive(Debug)]
pub struct HelmFailure {
    pub kind: String,
    pub message: String,
}

impl Helm {
    /// Runs one action; Ok is what the library returned, Err its error.
    pub async fn run(&self, mut request: Value) -> Result<Value, HelmFailure> {
        let op = request["op"].as_str().unwrap_or("").to_string();
        request["server"] = json!(self.server);
        request["token"] = json!(TOKEN);
        request["ca_file"] = json!(self.ca_file);
        if request.get("storage_driver").is_none() {
            request["storage_driver"] = json!(self.driver);
        }
        if request.get("namespace").is_none() {
            request["namespace"] = json!("default");
        }
        let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm/oracle.py");
        // argv[0] named `helm` beside the python: Helm takes its field manager
        // from the program's name, so the library applies as the CLI does.
        let arg0 = self.python.with_file_name("helm");
        let mut child = tokio::process::Command::new(&self.python)
            .arg0(&arg0)
            .arg(oracle)
            .env_clear()
            .env("HOME", &self.home)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the Helm oracle starts");
        let mut stdin = child.stdin.take().expect("oracle stdin");
        stdin.write_all(request.to_string().as_bytes()).await.expect("request written");
        drop(stdin);
        let out = tokio::time::timeout(HANG_GUARD, child.wait_with_output()).await.expect("Helm hung").expect("the oracle runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        eprintln!("helm {op}: {}\n{}", stdout.trim(), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "the oracle failed to run helm {op}");
        let answer: Value = serde_json::from_str(stdout.trim()).expect("the oracle prints JSON");
        if answer["ok"] == true {
            Ok(answer["result"].clone())
        } else {
            let error = &answer["error"];
            Err(HelmFailure { kind: error["type"].as_str().unwrap_or_default().into(), message: error["message"].as_str().unwrap_or_default().into() })
        }
    }

    pub async fn ok(&self, request: Value) -> Value {
        let op = request["op"].clone();
        self.run(request).await.unwrap_or_else(|e| panic!("helm {op} failed: {e:?}"))
    }
}

/// (revision, status, description-free) of Helm's history answer.
pub fn revisions(history: &Value) -> Vec<(i64, String)> {
    history.as_array().into_iter().flatten().map(|r| (r["revision"].as_i64().unwrap_or(0), r["status"].as_str().unwrap_or_default().to_string())).collect()
}
