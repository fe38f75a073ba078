//! The whole path the request's pipeline takes today with cloud CLIs, on the
//! simulated clouds: `aws eks update-kubeconfig` (DescribeCluster against
//! the control plane) or `gcloud container clusters get-credentials`
//! (clusters.get, with a token from the simulated OAuth endpoint) writes a
//! kubeconfig whose exec plugin (`aws eks get-token`,
//! `gke-gcloud-auth-plugin`) makes a token, and the real kubectl presents it
//! to the simulated API server, which accepts it only through the cloud
//! verifiers. Each test skips, saying so, when a CLI it needs is not on PATH.
//! Only 127.0.0.1 is ever reached.

use std::path::Path;
use std::sync::Arc;

use gantry_sim::auth::Authenticator;
use gantry_sim::cloud::{AwsPrincipal, CloudRegistry, ControlPlane, EksCluster, GkeCluster, ServiceAccountKey};
use gantry_sim::{ApiServer, ServerConfig};

use crate::common::on_path;

const ACCOUNT: &str = "111122223333";

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `bin` with a clean environment: PATH, HOME and `env` only.
async fn run(bin: &Path, args: &[&str], home: &Path, env: &[(&str, String)]) -> Run {
    let out = tokio::process::Command::new(bin)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let run = Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!("$ {} {}\n{}{}", bin.display(), args.join(" "), run.stdout, run.stderr);
    run
}

#[tokio::test]
async fn kubectl_reaches_a_simulated_eks_cluster_through_aws_eks_update_kubeconfig() {
    let (Some(aws), Some(kubectl)) = (on_path("aws"), on_path("kubectl")) else { return };
    let clouds = CloudRegistry::default();
    let deployer = AwsPrincipal::user(ACCOUNT, "deployer");
    clouds.aws.add(deployer.clone());
    let auth = Authenticator::default();
    let server = ApiServer::start(ServerConfig::new("aws", auth.clone())).await.unwrap();
    let eks = EksCluster::new("aws", "eu-west-1", ACCOUNT, &server.url(), server.ca_pem());
    clouds.add_eks(eks.clone());
    auth.add_verifier(Arc::new(clouds.eks_verifier(&eks)));
    let cp = ControlPlane::start(clouds.clone()).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let env_for = |p: &AwsPrincipal| {
        let mut env = cp.aws_env(p, "eu-west-1");
        env.push(("AWS_CONFIG_FILE", dir.path().join("aws-config").display().to_string()));
        env.push(("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("aws-credentials").display().to_string()));
        env.push(("AWS_EC2_METADATA_DISABLED", "true".into()));
        env.push(("KUBECONFIG", kubeconfig.display().to_string()));
        env
    };
    let env = env_for(&deployer);
    let kc = kubeconfig.display().to_string();
    let written = run(&aws, &["eks", "update-kubeconfig", "--name", "aws", "--kubeconfig", &kc], dir.path(), &env).await;
    assert!(written.ok, "update-kubeconfig: {}", written.stderr);
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(text.contains(&server.url()) && text.contains("get-token"), "{text}");

    let got = run(&kubectl, &["get", "namespaces", "-o", "name"], dir.path(), &env).await;
    assert!(got.ok, "kubectl with an aws eks get-token credential: {}", got.stderr);
    assert!(got.stdout.contains("namespace/default"), "{}", got.stdout);

    // Keys the simulated IAM does not know: the same kubeconfig is refused.
    let stranger = AwsPrincipal::user(ACCOUNT, "stranger");
    let refused = run(&kubectl, &["get", "namespaces"], dir.path(), &env_for(&stranger)).await;
    assert!(!refused.ok);
    assert!(refused.stderr.contains("Unauthorized") || refused.stderr.contains("must be logged in"), "{}", refused.stderr);
}

#[tokio::test]
async fn kubectl_reaches_a_simulated_gke_cluster_through_gcloud_get_credentials() {
    let (Some(gcloud), Some(kubectl)) = (on_path("gcloud"), on_path("kubectl")) else { return };
    if on_path("gke-gcloud-auth-plugin").is_none() {
        return;
    }
    let clouds = CloudRegistry::default();
    let key = ServiceAccountKey::generate("demo-project", "deployer").unwrap();
    clouds.gcp.add(key.account.clone());
    let auth = Authenticator::default();
    auth.add_verifier(Arc::new(clouds.gke_verifier()));
    let server = ApiServer::start(ServerConfig::new("gcp", auth.clone())).await.unwrap();
    clouds.add_gke(GkeCluster::new("demo-project", "europe-west1", "gcp", &server.url(), server.ca_pem()));
    let cp = ControlPlane::start(clouds.clone()).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.json");
    std::fs::write(&key_path, key.key_file_json(&cp.token_uri()).unwrap()).unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut env = cp.gcp_env(&key_path);
    env.push(("CLOUDSDK_CONFIG", dir.path().join("gcloud").display().to_string()));
    env.push(("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "true".into()));
    env.push(("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "true".into()));
    env.push(("CLOUDSDK_CORE_DISABLE_PROMPTS", "1".into()));
    env.push(("KUBECONFIG", kubeconfig.display().to_string()));
    let key_arg = format!("--key-file={}", key_path.display());
    let activated = run(&gcloud, &["auth", "activate-service-account", &key_arg], dir.path(), &env).await;
    assert!(activated.ok, "{}", activated.stderr);
    let creds = run(
        &gcloud,
        &["container", "clusters", "get-credentials", "gcp", "--location", "europe-west1", "--project", "demo-project"],
        dir.path(),
        &env,
    )
    .await;
    assert!(creds.ok, "get-credentials: {}", creds.stderr);
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(text.contains(&server.url()) && text.contains("gke-gcloud-auth-plugin"), "{text}");

    let got = run(&kubectl, &["get", "namespaces", "-o", "name"], dir.path(), &env).await;
    assert!(got.ok, "kubectl with a gke-gcloud-auth-plugin credential: {}", got.stderr);
    assert!(got.stdout.contains("namespace/default"), "{}", got.stdout);
}
