//! The EKS target's AWS API calls against moto, an independent AWS
//! simulator (TESTING.md): a cluster created through moto's EKS API is
//! described by `EksCluster::connect_in` — the request is signed and
//! routed as the real SDK does it, and moto's answer parsed — and moto's
//! random, non-PEM CA is refused with an error naming the cluster; an
//! unknown cluster is moto's ResourceNotFoundException, reported as such.
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
    let child = std::process::Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
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
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_eks::config::Region::new(REGION))
        .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(&moto.url)
        .load()
        .await;
    let eks = aws_sdk_eks::Client::new(&sdk);
    let vpc = aws_sdk_eks::types::VpcConfigRequest::builder().subnet_ids("subnet-1").subnet_ids("subnet-2").build();
    let created = eks
        .create_cluster()
        .name("moto-prod")
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(vpc)
        .send()
        .await
        .unwrap();
    assert_eq!(created.cluster().and_then(|c| c.name()), Some("moto-prod"));

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
