//! The EKS target's AWS API calls against moto, an independent AWS
//! simulator (TESTING.md): a cluster created through moto's EKS API is
//! described by `EksCluster::connect_in` — the request is signed and
//! routed as the real SDK does it, and moto's answer parsed — and moto's
//! random, non-PEM CA is refused with an error naming the cluster; an
//! unknown cluster is moto's ResourceNotFoundException, reported as such.
//! And moto made to report a simulated cluster's endpoint and CA (its
//! `Cluster` wrapped, as TESTING.md describes) hands gantry what it needs to
//! reach that cluster with its token.
//!
//! moto runs as a child of the test on 127.0.0.1 at a free port: the
//! `moto_server` of GANTRY_MOTO, or the one on PATH. Missing, the test fails
//! when CI is set (.ci/run installs it) and skips otherwise.

use std::path::PathBuf;
use std::time::Duration;

use gantry_cluster::eks::{AwsEnvironment, EksCluster};
use gantry_cluster::ClusterError;

const REGION: &str = "us-east-1";

fn moto_binary() -> Option<PathBuf> {
    let found = match std::env::var_os("GANTRY_MOTO") {
        Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
        None => std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file()),
    };
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "moto_server (GANTRY_MOTO) is required when CI is set: .ci/run installs it");
        eprintln!("SKIPPED: moto_server not found (set GANTRY_MOTO to its path)");
    }
    found
}

/// A moto server on 127.0.0.1; killed when dropped.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_moto(bin: &PathBuf) -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = std::process::Command::new(bin);
    command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    spawn_moto(command, port).await
}

/// moto started from Python with every EKS cluster reporting `endpoint` and the CA in `ca_file`.
const MOTO_WITH_ENDPOINT: &str = r#"
import base64, os, sys, threading
import moto.eks.models as eks
from moto.server import ThreadedMotoServer
endpoint = os.environ["GANTRY_SIM_ENDPOINT"]
ca = open(os.environ["GANTRY_SIM_CA_FILE"]).read()
original = eks.Cluster.__init__
def init(self, *args, **kwargs):
    original(self, *args, **kwargs)
    self.endpoint = endpoint
    self.certificate_authority = {"data": base64.b64encode(ca.encode()).decode()}
eks.Cluster.__init__ = init
ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False).start()
threading.Event().wait()
"#;

async fn start_moto_reporting(python: &PathBuf, endpoint: &str, ca_file: &std::path::Path) -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = std::process::Command::new(python);
    command.args(["-c", MOTO_WITH_ENDPOINT, &port.to_string()]).env("GANTRY_SIM_ENDPOINT", endpoint).env("GANTRY_SIM_CA_FILE", ca_file);
    spawn_moto(command, port).await
}

async fn spawn_moto(mut command: std::process::Command, port: u16) -> Moto {
    let child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let moto = Moto { child, url: format!("http://127.0.0.1:{port}") };
    // Hang guard only: wait until it accepts connections.
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(ready.is_ok(), "moto_server did not listen on 127.0.0.1:{port}");
    moto
}

async fn create_cluster(url: &str, name: &str, id: &str, secret: &str) {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_eks::config::Region::new(REGION))
        .credentials_provider(aws_credential_types::Credentials::new(id, secret, None, None, "test"))
        .endpoint_url(url)
        .load()
        .await;
    let eks = aws_sdk_eks::Client::new(&sdk);
    let vpc = aws_sdk_eks::types::VpcConfigRequest::builder().subnet_ids("subnet-1").subnet_ids("subnet-2").build();
    let created = eks.create_cluster().name(name).role_arn("arn:aws:iam::123456789012:role/eks").resources_vpc_config(vpc).send().await.unwrap();
    assert_eq!(created.cluster().and_then(|c| c.name()), Some(name));
}

fn vars(url: &str) -> AwsEnvironment {
    AwsEnvironment::vars([
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_ENDPOINT_URL_EKS", url),
    ])
}

#[tokio::test]
async fn describe_cluster_of_a_cluster_created_in_moto_reaches_the_ca_check() {
    let Some(bin) = moto_binary() else { return };
    let moto = start_moto(&bin).await;

    // Create the cluster through moto's EKS API, with the same SDK.
    create_cluster(&moto.url, "moto-prod", "testing", "testing").await;

    // moto answers DescribeCluster with an endpoint and a random CA that is not PEM:
    // gantry gets that far and says so, naming the target and the cluster.
    let err = EksCluster::connect_in(&vars(&moto.url), "moto", "moto-prod", REGION, None).await.unwrap_err();
    assert!(matches!(err, ClusterError::Api { .. }), "{err:?}");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains("target `moto`") && msg.contains("cluster `moto-prod`") && msg.contains("CA certificate"), "{msg}");

    let err = EksCluster::connect_in(&vars(&moto.url), "moto", "nope", REGION, None).await.unwrap_err();
    assert!(matches!(err, ClusterError::UnknownCluster { .. }), "{err:?}");
    assert!(err.to_string().contains("no EKS cluster `nope` in region us-east-1"), "{err}");
}

#[tokio::test]
async fn a_cluster_moto_describes_with_a_simulated_endpoint_and_ca_is_reached_with_the_token() {
    let Some(bin) = moto_binary() else { return };
    let python = bin.with_file_name("python");
    assert!(python.is_file(), "{} has no python beside it (a venv's moto_server has)", bin.display());
    let dir = tempfile::tempdir().unwrap();
    let estate = gantry_sim::Estate::start_clusters(dir.path(), &[gantry_sim::estate::ClusterSpec::eks("prod-eks", REGION)]).await.unwrap();
    let server = estate.cluster("prod-eks").unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, server.ca_pem()).unwrap();
    let moto = start_moto_reporting(&python, &server.url(), &ca_file).await;

    // The estate's keys: moto accepts any, the simulated cluster only these.
    let env = std::fs::read_to_string(&estate.env_file).unwrap();
    let var = |k: &str| {
        env.lines().find_map(|l| l.strip_prefix(&format!("export {k}="))).map(|v| v.trim_matches('\'').to_string()).unwrap()
    };
    let (id, secret) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"));
    create_cluster(&moto.url, "prod-eks", &id, &secret).await;
    let env = AwsEnvironment::vars([("AWS_ACCESS_KEY_ID", id), ("AWS_SECRET_ACCESS_KEY", secret), ("AWS_ENDPOINT_URL_EKS", moto.url.clone())]);
    let (endpoint, tokens) = EksCluster::connect_in(&env, "moto", "prod-eks", REGION, None).await.unwrap();
    assert_eq!(endpoint.url, server.url());
    assert_eq!(endpoint.ca_pem.as_deref(), Some(server.ca_pem()));

    let token = gantry_cluster::TokenSource::token(&tokens).await.unwrap();
    let kubeconfig: kube::config::Kubeconfig = serde_json::from_value(serde_json::json!({
        "clusters": [{ "name": "c", "cluster": { "server": endpoint.url, "certificate-authority-data": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, server.ca_pem()) } }],
        "users": [{ "name": "u", "user": { "token": token.value } }],
        "contexts": [{ "name": "x", "context": { "cluster": "c", "user": "u" } }],
        "current-context": "x",
    }))
    .unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(kube::Client::try_from(config).unwrap());
    let names: Vec<String> = api.list(&Default::default()).await.unwrap().items.into_iter().filter_map(|n| n.metadata.name).collect();
    assert!(names.iter().any(|n| n == "default"), "{names:?}");
}
