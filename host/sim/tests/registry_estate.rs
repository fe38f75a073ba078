//! The simulated registries inside an estate: an EKS-flavoured cluster's
//! kubelets pull from the ECR-shaped registry of its account and region,
//! a GKE-flavoured one's from the Artifact-Registry-shaped registry of its
//! region, each with node credentials the sim issued (nothing configured by
//! the test). An image pushed there (with a password from the real `aws ecr
//! get-login-password`, or a token from the sim's OAuth endpoint through
//! gcp_auth) starts its pod, whose imageID is the pushed digest; an image
//! never pushed gets ErrImagePull, then ImagePullBackOff, as the real
//! kubectl shows. Missing tools fail the tests under CI and skip them
//! otherwise; nothing leaves 127.0.0.1; waits are hang guards only.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::registry_protocol::{basic, Http};
use gantry_sim::estate::{ClusterSpec, Estate, AWS_ACCOUNT, AWS_REGION, GCP_PROJECT, GCP_REGION};

const GUARD: Duration = Duration::from_secs(120);

async fn kubectl(estate: &Estate, home: &Path, context: &str, args: &[&str]) -> String {
    let Some(bin) = crate::common::kubectl_binary() else { panic!("kubectl was found before") };
    let out = tokio::process::Command::new(bin)
        .args(["--context", context])
        .args(args)
        .env_clear()
        .env("KUBECONFIG", &estate.kubeconfig)
        .env("HOME", home)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .await
        .expect("kubectl runs");
    assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: app\n        image: {image}\n"
    )
}

async fn deploy(estate: &Estate, home: &Path, context: &str, name: &str, image: &str) {
    let file = home.join(format!("{context}-{name}.yaml"));
    std::fs::write(&file, deployment(name, image)).unwrap();
    kubectl(estate, home, context, &["create", "-f", file.to_str().unwrap()]).await;
}

/// Waits (hang guard only) until the app's pod shows one of `statuses`; returns the status seen.
async fn until_status(estate: &Estate, home: &Path, context: &str, app: &str, statuses: &[&str]) -> String {
    let wait = async {
        loop {
            let out = kubectl(estate, home, context, &["get", "pods", "-l", &format!("app={app}"), "--no-headers"]).await;
            if let Some(s) = out.lines().filter_map(|l| l.split_whitespace().nth(2)).find(|s| statuses.contains(s)) {
                return s.to_string();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(GUARD, wait).await.unwrap_or_else(|_| panic!("the pod of {app} on {context} never showed {statuses:?}"))
}

async fn image_id(estate: &Estate, home: &Path, context: &str, app: &str) -> String {
    let out = kubectl(estate, home, context, &["get", "pods", "-l", &format!("app={app}"), "-o", "json"]).await;
    let pods: Value = serde_json::from_str(&out).unwrap();
    pods["items"][0]["status"]["containerStatuses"][0]["imageID"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_pull_from_their_clouds_simulated_registry_and_back_off_on_images_never_pushed() {
    use gcp_auth::TokenProvider as _;
    if crate::common::kubectl_binary().is_none() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let clusters = [ClusterSpec::eks("aws", AWS_REGION), ClusterSpec::gke("gcp", GCP_PROJECT, GCP_REGION)];
    let estate = Estate::start_clusters(home.path(), &clusters).await.expect("estate starts");
    let ecr_host = format!("{AWS_ACCOUNT}.dkr.ecr.{AWS_REGION}.amazonaws.com");
    let ar_host = format!("{GCP_REGION}-docker.pkg.dev");
    let hosts: Vec<String> = estate.registries().into_iter().map(|(h, _)| h).collect();
    assert_eq!(hosts, [ecr_host.clone(), ar_host.clone()]);
    assert!(std::fs::read_to_string(&estate.env_file).unwrap().contains(&format!("AWS_ENDPOINT_URL_ECR='{}'", estate.control_plane.url())));

    // Push into the ECR-shaped registry as a user would authenticate.
    // The estate's environment alone (AWS_ENDPOINT_URL_ECR) points the aws CLI at the sim's ECR API.
    let Some(password) = crate::registry_docker::ecr_login_password_with(&estate, home.path(), &[]).await else { return };
    let ecr = estate.registry(&ecr_host).unwrap();
    let pushed = Http::new(ecr.addr().port(), Some(basic("AWS", &password))).push_image("team/app", "v1", "app v1").await;
    deploy(&estate, home.path(), "aws", "pushed", &format!("{ecr_host}/team/app:v1")).await;
    deploy(&estate, home.path(), "aws", "never", &format!("{ecr_host}/team/app:never-pushed")).await;
    assert_eq!(until_status(&estate, home.path(), "aws", "pushed", &["Running"]).await, "Running");
    assert_eq!(image_id(&estate, home.path(), "aws", "pushed").await, format!("{ecr_host}/team/app@{pushed}"));
    let status = until_status(&estate, home.path(), "aws", "never", &["ErrImagePull", "ImagePullBackOff"]).await;
    assert!(status == "ErrImagePull" || status == "ImagePullBackOff");
    let described = kubectl(&estate, home.path(), "aws", &["describe", "pod", "-l", "app=never"]).await;
    assert!(described.contains(&format!("Failed to pull image \"{ecr_host}/team/app:never-pushed\"")), "{described}");

    // The AR-shaped registry, with an access token from the sim's OAuth endpoint.
    let key = std::fs::read_to_string(&estate.key_file).unwrap();
    let token = gcp_auth::CustomServiceAccount::from_json(&key).unwrap().token(&["https://www.googleapis.com/auth/cloud-platform"]).await.unwrap();
    let ar = estate.registry(&ar_host).unwrap();
    let pushed = Http::new(ar.addr().port(), Some(format!("Bearer {}", token.as_str()))).push_image(&format!("{GCP_PROJECT}/apps/web"), "v1", "web v1").await;
    deploy(&estate, home.path(), "gcp", "web", &format!("{ar_host}/{GCP_PROJECT}/apps/web:v1")).await;
    deploy(&estate, home.path(), "gcp", "absent", &format!("{ar_host}/{GCP_PROJECT}/apps/web:absent")).await;
    until_status(&estate, home.path(), "gcp", "web", &["Running"]).await;
    assert_eq!(image_id(&estate, home.path(), "gcp", "web").await, format!("{ar_host}/{GCP_PROJECT}/apps/web@{pushed}"));
    until_status(&estate, home.path(), "gcp", "absent", &["ErrImagePull", "ImagePullBackOff"]).await;
    estate.shutdown().await;
}
