//! The simulated registries held against real clients: the docker CLI 28
//! and a real dockerd (`gantry_registry::testing::dockerd`), the real aws
//! CLI, gcp_auth (a real OAuth client) and Debian's docker-registry as a
//! peer. For each cloud's shape, the way a user would: ECR with `aws ecr
//! get-login-password` (the estate's AWS credentials, the sim's control
//! plane as endpoint) piped into `docker login --username AWS
//! --password-stdin`; Artifact Registry with `docker login -u
//! oauth2accesstoken` and an access token from the sim's OAuth endpoint;
//! then `docker push`, `docker rmi` and `docker pull` of an image made
//! without the internet (busybox imported), which runs after the pull;
//! wrong credentials are refused. With docker-registry, an image goes from
//! it to the sim and back by docker, and every digest is the same.
//! Missing tools fail the tests under CI and skip them otherwise. Nothing
//! leaves 127.0.0.1; no timed asserts.

use std::io::Write as _;
use std::process::{Output, Stdio};
use std::sync::Arc;

use gantry_registry::testing::dockerd::Dockerd;
use gantry_registry::testing::registry::{DockerRegistry, RegistryAuth};
use gantry_sim::estate::{ClusterSpec, Estate, AWS_REGION, GCP_PROJECT, GCP_REGION};

/// Starts dockerd off the async workers.
async fn dockerd() -> Option<Arc<Dockerd>> {
    tokio::task::spawn_blocking(Dockerd::start).await.expect("dockerd start joins").map(Arc::new)
}

/// `docker ARGS` (with `stdin`) against `d`, off the async workers, whatever its outcome.
async fn docker_output(d: &Arc<Dockerd>, args: &[&str], stdin: Option<String>) -> Output {
    let (d, args): (Arc<Dockerd>, Vec<String>) = (d.clone(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || {
        let mut child = d.cli().args(&args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("docker runs");
        let mut input = child.stdin.take().expect("piped stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("docker reads stdin");
        }
        drop(input);
        child.wait_with_output().expect("docker ends")
    })
    .await
    .expect("docker joins")
}

/// `docker ARGS`, which must succeed; its stdout.
async fn docker(d: &Arc<Dockerd>, args: &[&str]) -> String {
    let out = docker_output(d, args, None).await;
    assert!(out.status.success(), "docker {args:?} failed: {}\n--- dockerd log tail:\n{}", String::from_utf8_lossy(&out.stderr), tail(&d.log()));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// The digest `docker push` reports (`TAG: digest: sha256:… size: N`).
fn pushed_digest(output: &str) -> String {
    output
        .lines()
        .find_map(|l| l.split("digest: ").nth(1).and_then(|rest| rest.split_whitespace().next()))
        .unwrap_or_else(|| panic!("docker push printed no digest:\n{output}"))
        .to_string()
}

/// The repo digest docker records for `image` pulled from `registry_host`.
async fn repo_digest(d: &Arc<Dockerd>, image: &str) -> String {
    let out = docker(d, &["image", "inspect", "--format", "{{json .RepoDigests}}", image]).await;
    let digests: Vec<String> = serde_json::from_str(out.trim()).expect("RepoDigests is JSON");
    let name = image.rsplit_once(':').map_or(image, |(n, _)| n);
    digests.iter().find_map(|d| d.strip_prefix(&format!("{name}@")).map(String::from)).unwrap_or_else(|| panic!("no repo digest of {name} in {digests:?}"))
}

/// Tags a fresh busybox image as `target`, pushes it, removes every local
/// copy, pulls it back and runs it; returns the pushed digest.
async fn push_remove_pull_run(d: &Arc<Dockerd>, target: &str) -> String {
    let base = tokio::task::spawn_blocking({
        let d = d.clone();
        move || d.busybox_image()
    })
    .await
    .expect("busybox image");
    docker(d, &["tag", &base, target]).await;
    let pushed = pushed_digest(&docker(d, &["push", target]).await);
    docker(d, &["rmi", target, &base]).await;
    let gone = docker_output(d, &["image", "inspect", target], None).await;
    assert!(!gone.status.success(), "{target} is gone before the pull");
    docker(d, &["pull", target]).await;
    assert_eq!(repo_digest(d, target).await, pushed, "the pulled image is the pushed one");
    let said = docker(d, &["run", "--rm", "--network", "none", target, "/bin/busybox", "echo", "pulled from the sim"]).await;
    assert_eq!(said.trim(), "pulled from the sim");
    pushed
}

/// `aws ecr get-login-password` with the estate's AWS environment (only it: no profile files, no IMDS).
pub(crate) async fn ecr_login_password(estate: &Estate, home: &std::path::Path) -> Option<String> {
    ecr_login_password_with(estate, home, &["--endpoint-url", &estate.control_plane.url(), "--region", AWS_REGION]).await
}

/// The same with `extra` arguments (none: the endpoint comes from `AWS_ENDPOINT_URL_ECR`).
pub(crate) async fn ecr_login_password_with(estate: &Estate, home: &std::path::Path, extra: &[&str]) -> Option<String> {
    let aws = crate::common::on_path("aws")?;
    let out = tokio::process::Command::new(aws)
        .args(["ecr", "get-login-password", "--cli-connect-timeout", "5", "--cli-read-timeout", "20"])
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .envs(estate.aws_env.iter().map(|(k, v)| (k, v)))
        .output()
        .await
        .expect("aws runs");
    assert!(out.status.success(), "aws ecr get-login-password failed: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).expect("a password").trim().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_logs_in_to_the_ecr_shaped_registry_with_aws_ecr_get_login_password_and_pushes_and_pulls() {
    let dir = tempfile::tempdir().unwrap();
    let estate = Estate::start_clusters(dir.path(), &[ClusterSpec::eks("aws", AWS_REGION)]).await.expect("estate starts");
    let Some(password) = ecr_login_password(&estate, dir.path()).await else { return };
    let Some(d) = dockerd().await else { return };
    let registry = estate.registry(&format!("111122223333.dkr.ecr.{AWS_REGION}.amazonaws.com")).expect("an ECR-shaped registry for the EKS region");
    let host = registry.docker_host();

    // Wrong credentials first: refused, and the refusal is ECR's.
    let refused = docker_output(&d, &["login", "--username", "AWS", "--password-stdin", &host], Some("sim-ecr-not-issued".into())).await;
    assert!(!refused.status.success(), "a password the ECR API never issued is refused");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("401") || said.contains("nauthorized") || said.contains("Not Authorized"), "{said}");
    let refused = docker_output(&d, &["login", "--username", "admin", "--password-stdin", &host], Some(password.clone())).await;
    assert!(!refused.status.success(), "ECR takes the user AWS only");

    let login = docker_output(&d, &["login", "--username", "AWS", "--password-stdin", &host], Some(password.clone())).await;
    assert!(login.status.success(), "docker login: {}", String::from_utf8_lossy(&login.stderr));
    assert!(!String::from_utf8_lossy(&login.stdout).contains(&password) && !String::from_utf8_lossy(&login.stderr).contains(&password));
    let digest = push_remove_pull_run(&d, &format!("{host}/team/app:v1")).await;
    assert!(digest.starts_with("sha256:"));
    // The same layers into another repository: docker mounts them across repositories.
    docker(&d, &["tag", &format!("{host}/team/app:v1"), &format!("{host}/team/other:v1")]).await;
    let pushed = docker(&d, &["push", &format!("{host}/team/other:v1")]).await;
    assert!(pushed.contains("Mounted from team/app"), "{pushed}");
    assert_eq!(pushed_digest(&pushed), digest);
    // What the estate prints names the registry and never the password.
    let summary = estate.summary();
    assert!(summary.contains(registry.host()) && summary.contains(&registry.url()), "{summary}");
    assert!(!summary.contains(&password));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_logs_in_to_the_artifact_registry_shaped_registry_with_an_access_token_and_pushes_and_pulls() {
    use gcp_auth::TokenProvider as _;
    let dir = tempfile::tempdir().unwrap();
    let estate = Estate::start_clusters(dir.path(), &[ClusterSpec::gke("gcp", GCP_PROJECT, &format!("{GCP_REGION}-b"))]).await.expect("estate starts");
    let Some(d) = dockerd().await else { return };
    let key = std::fs::read_to_string(&estate.key_file).unwrap();
    let provider = gcp_auth::CustomServiceAccount::from_json(&key).expect("the estate's key file");
    let token = provider.token(&["https://www.googleapis.com/auth/cloud-platform"]).await.expect("the sim's OAuth endpoint issues a token");
    // A zonal cluster's registry is its region's.
    let registry = estate.registry(&format!("{GCP_REGION}-docker.pkg.dev")).expect("an AR-shaped registry for the GKE region");
    let host = registry.docker_host();

    let refused = docker_output(&d, &["login", "-u", "oauth2accesstoken", "--password-stdin", &host], Some("ya29.not-issued".into())).await;
    assert!(!refused.status.success(), "an access token the sim never issued is refused");
    let login = docker_output(&d, &["login", "-u", "oauth2accesstoken", "--password-stdin", &host], Some(token.as_str().to_string())).await;
    assert!(login.status.success(), "docker login: {}", String::from_utf8_lossy(&login.stderr));
    let image = format!("{host}/{GCP_PROJECT}/apps/app:v1");
    push_remove_pull_run(&d, &image).await;
    // As a CI job logs in with the service-account key itself (GCP_SERVICE_ACCOUNT_KEY).
    docker(&d, &["logout", &host]).await;
    docker(&d, &["rmi", &image]).await;
    let login = docker_output(&d, &["login", "-u", "_json_key", "--password-stdin", &host], Some(key.clone())).await;
    assert!(login.status.success(), "docker login with the key file: {}", String::from_utf8_lossy(&login.stderr));
    docker(&d, &["pull", &image]).await;
    let stranger = gantry_sim::cloud::ServiceAccountKey::generate(GCP_PROJECT, "deployer").unwrap().key_file_json("http://127.0.0.1:9/token").unwrap();
    let refused = docker_output(&d, &["login", "-u", "_json_key", "--password-stdin", &host], Some(stranger)).await;
    assert!(!refused.status.success(), "a key file whose private key is not the account's is refused");
    // A project the sim does not know is refused.
    docker(&d, &["tag", &format!("{host}/{GCP_PROJECT}/apps/app:v1"), &format!("{host}/unknown-project/apps/app:v1")]).await;
    let out = docker_output(&d, &["push", &format!("{host}/unknown-project/apps/app:v1")], None).await;
    assert!(!out.status.success(), "pushing to an unknown project fails");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_copy_between_docker_registry_and_the_sim_both_ways_with_equal_digests() {
    let dir = tempfile::tempdir().unwrap();
    let estate = Estate::start_clusters(dir.path(), &[ClusterSpec::eks("aws", AWS_REGION)]).await.expect("estate starts");
    let Some(password) = ecr_login_password(&estate, dir.path()).await else { return };
    let Some(peer) = tokio::task::spawn_blocking(|| DockerRegistry::start(RegistryAuth::None)).await.expect("registry start joins") else { return };
    let Some(d) = dockerd().await else { return };
    let sim = estate.registries[0].docker_host();
    let login = docker_output(&d, &["login", "--username", "AWS", "--password-stdin", &sim], Some(password)).await;
    assert!(login.status.success(), "docker login: {}", String::from_utf8_lossy(&login.stderr));

    // Into docker-registry first.
    let at_peer = format!("{}/copy/app:v1", peer.host());
    let original = push_remove_pull_run(&d, &at_peer).await;
    // docker-registry → sim.
    let at_sim = format!("{sim}/copy/app:v1");
    docker(&d, &["tag", &at_peer, &at_sim]).await;
    let in_sim = pushed_digest(&docker(&d, &["push", &at_sim]).await);
    assert_eq!(in_sim, original, "the sim stores the manifest docker-registry served, byte for byte");
    // sim → docker-registry, under another name, from a pull of the sim only.
    docker(&d, &["rmi", &at_peer, &at_sim]).await;
    docker(&d, &["pull", &at_sim]).await;
    assert_eq!(repo_digest(&d, &at_sim).await, original);
    let back = format!("{}/copy/back:v1", peer.host());
    docker(&d, &["tag", &at_sim, &back]).await;
    let in_peer = pushed_digest(&docker(&d, &["push", &back]).await);
    assert_eq!(in_peer, original, "and docker-registry stores what the sim served");
}
