//! EKS and GKE targets against the simulated estate (`gantry_sim::Estate`):
//! DescribeCluster and clusters.get on the simulated control plane give the
//! API server's endpoint and CA, and the tokens gantry mints (presigned STS
//! URLs, OAuth tokens) are accepted by the simulated API servers, which
//! verify them as EKS and GKE do — a kube-rs client with them lists
//! namespaces. Refusals (a wrong secret key, an unknown cluster, a malformed
//! or unknown service-account key, another project, an unreachable API) give
//! errors that name the target and the fix. The EKS token is also compared
//! with the real `aws eks get-token`'s, byte for byte (the CLI presigns
//! locally; it is required when CI is set, skipped otherwise).
//!
//! The AWS and GCP settings come from the estate's env file, handed over
//! explicitly (`AwsEnvironment::Vars`, `GkeApi::at`, the key as an argument),
//! never by setting this process's environment; the production entry points
//! get it as the whole environment of a child process running one test. No
//! IMDS, no GCE metadata server: nothing but 127.0.0.1 is reached.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use gantry_cluster::eks::{AwsEnvironment, EksCluster, EksTokenSource};
use gantry_cluster::gke::{GkeApi, GkeCluster};
use gantry_cluster::{ClusterError, Endpoint, TokenSource};
use gantry_sim::estate::{ClusterSpec, Estate};
use k8s_openapi::api::core::v1::Namespace;

const REGION: &str = "eu-west-1";
const PROJECT: &str = "gantry-sim";
const LOCATION: &str = "europe-west1";

/// An estate with an EKS-flavoured `prod-eks` and a GKE-flavoured `prod-gke`,
/// and the variables of its env file.
async fn estate() -> (Estate, BTreeMap<String, String>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let estate = Estate::start_clusters(dir.path(), &[ClusterSpec::eks("prod-eks", REGION), ClusterSpec::gke("prod-gke", PROJECT, LOCATION)])
        .await
        .unwrap();
    let text = std::fs::read_to_string(&estate.env_file).unwrap();
    let vars = text
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect();
    (estate, vars, dir)
}

/// A kube-rs client for `endpoint` presenting `token`.
async fn client(endpoint: &Endpoint, token: &str) -> kube::Client {
    let kubeconfig: kube::config::Kubeconfig = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "c", "cluster": {
            "server": endpoint.url,
            "certificate-authority-data": STANDARD.encode(endpoint.ca_pem.as_deref().unwrap()),
        }}],
        "users": [{ "name": "u", "user": { "token": token } }],
        "contexts": [{ "name": "x", "context": { "cluster": "c", "user": "u" } }],
        "current-context": "x",
    }))
    .unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

async fn namespaces(endpoint: &Endpoint, token: &str) -> Result<Vec<String>, kube::Error> {
    let api: kube::Api<Namespace> = kube::Api::all(client(endpoint, token).await);
    let list = api.list(&Default::default()).await?;
    Ok(list.items.into_iter().filter_map(|n| n.metadata.name).collect())
}

fn assert_names(e: &ClusterError, needles: &[&str]) {
    let msg = e.to_string();
    eprintln!("{msg}");
    for n in needles {
        assert!(msg.contains(n), "{n:?} is not in: {msg}");
    }
}

#[tokio::test]
async fn eks_describe_cluster_gives_the_endpoint_and_ca_and_the_token_lists_namespaces() {
    let (estate, vars, _dir) = estate().await;
    let server = estate.cluster("prod-eks").unwrap();
    let env = AwsEnvironment::Vars(vars);
    let (endpoint, tokens) = EksCluster::connect_in(&env, "prod", "prod-eks", REGION, None).await.unwrap();
    assert_eq!(endpoint.url, server.url());
    assert_eq!(endpoint.ca_pem.as_deref(), Some(server.ca_pem()));

    let token = tokens.token().await.unwrap();
    assert!(token.value.starts_with("k8s-aws-v1."));
    let expires = token.expires.unwrap().duration_since(std::time::SystemTime::now()).unwrap();
    assert!(expires <= std::time::Duration::from_secs(14 * 60) && expires > std::time::Duration::from_secs(13 * 60), "{expires:?}");
    let names = namespaces(&endpoint, &token.value).await.unwrap();
    assert!(names.iter().any(|n| n == "default"), "{names:?}");

    // An `endpoint:` override replaces the URL and keeps the cluster's CA.
    let (overridden, _) = EksCluster::connect_in(&env, "prod", "prod-eks", REGION, Some("https://127.0.0.1:1")).await.unwrap();
    assert_eq!(overridden.url, "https://127.0.0.1:1");
    assert_eq!(overridden.ca_pem, endpoint.ca_pem);
}

#[tokio::test]
async fn eks_a_wrong_secret_key_is_refused_by_the_eks_api_and_by_the_cluster() {
    let (estate, mut vars, _dir) = estate().await;
    let id = vars["AWS_ACCESS_KEY_ID"].clone();
    vars.insert("AWS_SECRET_ACCESS_KEY".into(), "not-the-secret-key-of-this-access-key-id".into());
    let err = EksCluster::connect_in(&AwsEnvironment::Vars(vars), "prod", "prod-eks", REGION, None).await.unwrap_err();
    assert!(matches!(err, ClusterError::Credentials { .. }), "{err:?}");
    assert_names(&err, &["target `prod`", "AWS refused the credentials", "InvalidSignatureException", "AWS_SECRET_ACCESS_KEY"]);

    // A token signed with the wrong secret does not get into the cluster either.
    let server = estate.cluster("prod-eks").unwrap();
    let endpoint = Endpoint { url: server.url(), ca_pem: Some(server.ca_pem().to_string()) };
    let wrong = aws_credential_types::Credentials::new(id, "not-the-secret", None, None, "test");
    let token = EksTokenSource::new("prod", "prod-eks", REGION, wrong).token().await.unwrap();
    match namespaces(&endpoint, &token.value).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 401, "{status:?}"),
        other => panic!("a token with the wrong secret was not refused: {other:?}"),
    }
}

#[tokio::test]
async fn eks_an_unknown_cluster_is_resource_not_found_naming_the_cluster_and_region() {
    let (_estate, vars, _dir) = estate().await;
    let err = EksCluster::connect_in(&AwsEnvironment::Vars(vars.clone()), "prod", "nope", REGION, None).await.unwrap_err();
    assert!(matches!(err, ClusterError::UnknownCluster { .. }), "{err:?}");
    assert_names(&err, &["target `prod`", "no EKS cluster `nope` in region eu-west-1: check the cluster name and region"]);
    // The right name in another region is not there either.
    let err = EksCluster::connect_in(&AwsEnvironment::Vars(vars), "prod", "prod-eks", "us-east-2", None).await.unwrap_err();
    assert_names(&err, &["no EKS cluster `prod-eks` in region us-east-2"]);
}

#[tokio::test]
async fn eks_without_credentials_or_a_reachable_api_says_what_to_set() {
    let (_estate, vars, _dir) = estate().await;
    let mut no_keys = vars.clone();
    no_keys.remove("AWS_ACCESS_KEY_ID");
    no_keys.remove("AWS_SECRET_ACCESS_KEY");
    let err = EksCluster::connect_in(&AwsEnvironment::Vars(no_keys), "prod", "prod-eks", REGION, None).await.unwrap_err();
    assert!(matches!(err, ClusterError::Credentials { .. }), "{err:?}");
    assert_names(&err, &["target `prod`", "no AWS credentials", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"]);

    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut closed = vars;
    closed.insert("AWS_ENDPOINT_URL_EKS".into(), format!("http://127.0.0.1:{port}"));
    let err = EksCluster::connect_in(&AwsEnvironment::Vars(closed), "prod", "prod-eks", REGION, None).await.unwrap_err();
    assert!(matches!(err, ClusterError::Unreachable { .. }), "{err:?}");
    assert_names(&err, &["target `prod`", "cannot reach the EKS API", &format!("127.0.0.1:{port}"), "AWS_ENDPOINT_URL_EKS"]);
}

fn gke_api(vars: &BTreeMap<String, String>) -> GkeApi {
    GkeApi::at(&vars["CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER"])
}

#[tokio::test]
async fn gke_with_the_key_as_json_base64_or_a_path_reaches_the_cluster() {
    let (estate, vars, _dir) = estate().await;
    let server = estate.cluster("prod-gke").unwrap();
    let json = std::fs::read_to_string(&estate.key_file).unwrap();
    let forms = [json.clone(), STANDARD.encode(&json), estate.key_file.display().to_string()];
    for key in forms {
        let (endpoint, tokens) =
            GkeCluster::connect_via(&gke_api(&vars), "prod", PROJECT, LOCATION, "prod-gke", Some(key), None).await.unwrap();
        assert_eq!(endpoint.url, server.url());
        assert_eq!(endpoint.ca_pem.as_deref(), Some(server.ca_pem()));
        let token = tokens.token().await.unwrap();
        assert!(token.expires.unwrap() > std::time::SystemTime::now());
        let names = namespaces(&endpoint, &token.value).await.unwrap();
        assert!(names.iter().any(|n| n == "default"), "{names:?}");
    }
}

#[tokio::test]
async fn gke_a_malformed_or_unknown_key_names_the_target_and_the_form() {
    let (estate, vars, _dir) = estate().await;
    let json = std::fs::read_to_string(&estate.key_file).unwrap();
    let truncated = json[..json.len() / 2].to_string();
    let err = GkeCluster::connect_via(&gke_api(&vars), "prod", PROJECT, LOCATION, "prod-gke", Some(truncated), None).await.unwrap_err();
    assert!(matches!(err, ClusterError::Credentials { .. }), "{err:?}");
    assert_names(&err, &["target `prod`", "given as JSON", "not valid JSON", "GCP_SERVICE_ACCOUNT_KEY"]);
    assert!(!err.to_string().contains("PRIVATE KEY"), "{err}");

    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["private_key"] = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n".into();
    let err = GkeCluster::connect_via(&gke_api(&vars), "prod", PROJECT, LOCATION, "prod-gke", Some(STANDARD.encode(value.to_string())), None)
        .await
        .unwrap_err();
    assert_names(&err, &["target `prod`", "given as base64 JSON", "malformed"]);
    assert!(!err.to_string().contains("bm90IGEga2V5"), "{err}");

    // A well-formed key the simulated IAM never issued: the token endpoint refuses it.
    let stranger = gantry_sim::cloud::ServiceAccountKey::generate(PROJECT, "stranger").unwrap();
    let token_uri = format!("{}/token", vars["CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER"].trim_end_matches('/'));
    let key = stranger.key_file_json(&token_uri).unwrap();
    let err = GkeCluster::connect_via(&gke_api(&vars), "prod", PROJECT, LOCATION, "prod-gke", Some(key), None).await.unwrap_err();
    assert!(matches!(err, ClusterError::Credentials { .. }), "{err:?}");
    assert_names(&err, &["target `prod`", "getting a Google OAuth token failed"]);
}

#[tokio::test]
async fn gke_an_unknown_cluster_is_a_404_and_another_project_is_denied() {
    let (estate, vars, _dir) = estate().await;
    let key = Some(estate.key_file.display().to_string());
    let err = GkeCluster::connect_via(&gke_api(&vars), "prod", PROJECT, LOCATION, "nope", key.clone(), None).await.unwrap_err();
    assert!(matches!(err, ClusterError::UnknownCluster { .. }), "{err:?}");
    assert_names(&err, &["target `prod`", "no GKE cluster `nope` in project gantry-sim, location europe-west1", "Not found", "gcloud container clusters list"]);

    let err = GkeCluster::connect_via(&gke_api(&vars), "prod", "other-project", LOCATION, "prod-gke", key, None).await.unwrap_err();
    assert!(matches!(err, ClusterError::Credentials { .. }), "{err:?}");
    assert_names(&err, &["target `prod`", "container.clusters.get", "roles/container.clusterViewer"]);

    // Nothing listens: unreachable, naming the API.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let key = Some(std::fs::read_to_string(&estate.key_file).unwrap());
    let api = GkeApi::at(&format!("http://127.0.0.1:{port}/"));
    let err = GkeCluster::connect_via(&api, "prod", PROJECT, LOCATION, "prod-gke", key, None).await.unwrap_err();
    assert!(matches!(err, ClusterError::Unreachable { .. }), "{err:?}");
    assert_names(&err, &["target `prod`", "cannot reach the GKE container API", &format!("127.0.0.1:{port}")]);
}

fn on_path(bin: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(bin))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "{bin} is not on PATH — required when CI is set (.ci/run installs it)");
        eprintln!("SKIPPED: {bin} is not on PATH");
    }
    found
}

/// `aws eks get-token` makes no network call: it presigns locally. Given the
/// same keys, cluster, region and signing second, gantry's token is the
/// CLI's, byte for byte — with long-term keys and with a session token.
#[tokio::test]
async fn eks_tokens_are_byte_for_byte_those_of_aws_eks_get_token() {
    let Some(aws) = on_path("aws") else { return };
    let home = tempfile::tempdir().unwrap();
    for session in [None, Some("FwoGZXIvYXdzEBYaDExampleSessionToken/with+chars=")] {
        let mut command = tokio::process::Command::new(&aws);
        command
            .args(["eks", "get-token", "--cluster-name", "prod-eks", "--region", REGION, "--output", "json"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", home.path().join("none"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        if let Some(token) = session {
            command.env("AWS_SESSION_TOKEN", token);
        }
        let out = command.output().await.unwrap();
        assert!(out.status.success(), "aws eks get-token: {}", String::from_utf8_lossy(&out.stderr));
        let cred: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let cli_token = cred["status"]["token"].as_str().unwrap();

        // The CLI's signing second, from its X-Amz-Date.
        let encoded = cli_token.strip_prefix("k8s-aws-v1.").unwrap();
        let url = String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap();
        let date = url.split("X-Amz-Date=").nth(1).unwrap().split('&').next().unwrap();
        let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        let signed_at: std::time::SystemTime = time::PrimitiveDateTime::parse(date, format).unwrap().assume_utc().into();

        let creds = aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session.map(str::to_string),
            None,
            "test",
        );
        let ours = EksTokenSource::new("prod", "prod-eks", REGION, creds.clone()).token_with(&creds, signed_at).unwrap();
        assert_eq!(ours.value, cli_token, "session token: {}", session.is_some());
    }
}

/// Production reads the process environment (the SDK's own
/// `AWS_ENDPOINT_URL_EKS`, gcloud's `CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER`),
/// which a test running beside others must not set: this test runs itself
/// again in a child process with the estate's env file as its whole
/// environment (IMDS disabled, no AWS config files), and the child connects.
#[tokio::test]
async fn eks_and_gke_connect_read_the_process_environment() {
    if std::env::var_os(CHILD).is_some() {
        return child_connects_with_the_process_environment().await;
    }
    let (estate, vars, dir) = estate().await;
    // The harness names a test by its module path below the crate root.
    let name = format!("{}::eks_and_gke_connect_read_the_process_environment", module_path!().split_once("::").map_or("", |(_, m)| m));
    let out = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name.trim_start_matches("::"), "--nocapture"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .envs(&vars)
        .env(CHILD, "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.path().join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("no-aws-credentials"))
        .env("GANTRY_EXPECT_EKS_URL", estate.cluster("prod-eks").unwrap().url())
        .env("GANTRY_EXPECT_GKE_URL", estate.cluster("prod-gke").unwrap().url())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("1 passed"), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// Set in the child of the test above: it connects instead of spawning.
const CHILD: &str = "GANTRY_TEST_CONNECT_CHILD";

async fn child_connects_with_the_process_environment() {
    let expect = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run through its parent test"));
    let (endpoint, tokens) = EksCluster::connect("prod", "prod-eks", REGION, None).await.unwrap();
    assert_eq!(endpoint.url, expect("GANTRY_EXPECT_EKS_URL"));
    let names = namespaces(&endpoint, &tokens.token().await.unwrap().value).await.unwrap();
    assert!(names.iter().any(|n| n == "default"), "{names:?}");

    let key = std::env::var("GCP_SERVICE_ACCOUNT_KEY").ok();
    assert!(key.is_some(), "the estate's env file sets GCP_SERVICE_ACCOUNT_KEY");
    let (endpoint, tokens) = GkeCluster::connect("prod", PROJECT, LOCATION, "prod-gke", key, None).await.unwrap();
    assert_eq!(endpoint.url, expect("GANTRY_EXPECT_GKE_URL"));
    let names = namespaces(&endpoint, &tokens.token().await.unwrap().value).await.unwrap();
    assert!(names.iter().any(|n| n == "default"), "{names:?}");
}
