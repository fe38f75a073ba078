//! A whole simulated estate, as `gantry sim up` and tests start it: an
//! EKS-flavoured cluster `aws` and a GKE-flavoured cluster `gcp` (each its
//! own HTTPS API server and CA), the cloud control plane that describes them
//! and issues their tokens, and the files a user points tools at — a
//! kubeconfig with a context per cluster, a service-account key file, and an
//! env file for the AWS and GCP SDKs. Credentials go into files (mode 0600),
//! never into what is printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::auth::{Authenticator, Identity};
use crate::cloud::{AwsPrincipal, CloudRegistry, ControlPlane, EksCluster, GkeCluster, ServiceAccountKey};
use crate::kubeconfig;
use crate::server::{ApiServer, ServerConfig};

/// The account, project and regions of the default estate.
pub const AWS_ACCOUNT: &str = "111122223333";
pub const AWS_REGION: &str = "eu-west-1";
pub const GCP_PROJECT: &str = "gantry-sim";
pub const GCP_REGION: &str = "europe-west1";

#[derive(Debug, thiserror::Error)]
pub enum EstateError {
    #[error(transparent)]
    Server(#[from] crate::server::ServerError),
    #[error(transparent)]
    ControlPlane(#[from] crate::cloud::ControlPlaneError),
    #[error("generating the service-account key: {0}")]
    Key(String),
    #[error(transparent)]
    Kubeconfig(#[from] kubeconfig::KubeconfigError),
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// A running estate; dropping it stops every server.
pub struct Estate {
    pub aws: ApiServer,
    pub gcp: ApiServer,
    pub control_plane: ControlPlane,
    /// kubeconfig with contexts `aws` and `gcp` (admin bearer tokens).
    pub kubeconfig: PathBuf,
    /// GCP service-account key file, `token_uri` pointing at the control plane.
    pub key_file: PathBuf,
    /// `export K=V` lines for the AWS and GCP SDKs.
    pub env_file: PathBuf,
}

fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::thread_rng().gen();
    format!("sim-{}", hex::encode(bytes))
}

fn write_private(path: &Path, text: &str) -> Result<(), EstateError> {
    let err = |source| EstateError::Write { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    std::fs::write(path, text).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    Ok(())
}

impl Estate {
    /// Start the default estate and write its files into `dir`.
    pub async fn start(dir: &Path) -> Result<Estate, EstateError> {
        let clouds = CloudRegistry::default();

        let aws_auth = Authenticator::default();
        let aws_token = random_token();
        aws_auth.add_token(&aws_token, Identity::admin("sim-admin"));
        let aws = ApiServer::start(ServerConfig::new("aws", aws_auth.clone())).await?;
        let deployer = AwsPrincipal::user(AWS_ACCOUNT, "deployer");
        clouds.aws.add(deployer.clone());
        let eks = EksCluster::new("aws", AWS_REGION, AWS_ACCOUNT, &aws.url(), aws.ca_pem());
        clouds.add_eks(eks.clone());
        aws_auth.add_verifier(Arc::new(clouds.eks_verifier(&eks)));

        let gcp_auth = Authenticator::default();
        let gcp_token = random_token();
        gcp_auth.add_token(&gcp_token, Identity::admin("sim-admin"));
        let gcp = ApiServer::start(ServerConfig::new("gcp", gcp_auth.clone())).await?;
        let key = ServiceAccountKey::generate(GCP_PROJECT, "deployer").map_err(|e| EstateError::Key(e.to_string()))?;
        clouds.gcp.add(key.account.clone());
        clouds.add_gke(GkeCluster::new(GCP_PROJECT, GCP_REGION, "gcp", &gcp.url(), gcp.ca_pem()));
        gcp_auth.add_verifier(Arc::new(clouds.gke_verifier()));

        let control_plane = ControlPlane::start(clouds).await?;

        let kubeconfig_path = dir.join("kubeconfig");
        let text = kubeconfig::render(&[aws.kubeconfig_entry(&aws_token), gcp.kubeconfig_entry(&gcp_token)])?;
        write_private(&kubeconfig_path, &text)?;
        let key_file = dir.join("gcp-service-account.json");
        write_private(&key_file, &key.key_file_json(&control_plane.token_uri()).map_err(|e| EstateError::Key(e.to_string()))?)?;
        let env_file = dir.join("sim.env");
        let mut env: Vec<(&str, String)> = control_plane.aws_env(&deployer, AWS_REGION);
        env.extend(control_plane.gcp_env(&key_file));
        env.extend([
            ("KUBECONFIG", kubeconfig_path.display().to_string()),
            ("AWS_ACCOUNT_ID", AWS_ACCOUNT.to_string()),
            ("CLUSTER_AWS", "aws".to_string()),
            ("CLUSTER_GCP", "gcp".to_string()),
            ("GCP_PROJECT", GCP_PROJECT.to_string()),
            ("GCP_REGION", GCP_REGION.to_string()),
            ("GCP_SERVICE_ACCOUNT_KEY", key_file.display().to_string()),
        ]);
        let lines: String = env.iter().map(|(k, v)| format!("export {k}='{v}'\n")).collect();
        write_private(&env_file, &lines)?;

        Ok(Estate { aws, gcp, control_plane, kubeconfig: kubeconfig_path, key_file, env_file })
    }

    /// What `gantry sim up` prints: places and endpoints, no credentials.
    pub fn summary(&self) -> String {
        format!(
            "cluster aws (EKS-flavoured, {AWS_REGION}): {}\ncluster gcp (GKE-flavoured, {GCP_REGION}): {}\ncloud control plane (EKS, STS check, GKE, OAuth token): {}\nkubeconfig: {} (contexts aws, gcp)\nservice-account key: {}\nenvironment for the AWS and GCP SDKs: source {}\n",
            self.aws.url(),
            self.gcp.url(),
            self.control_plane.url(),
            self.kubeconfig.display(),
            self.key_file.display(),
            self.env_file.display()
        )
    }

    /// Stop every server.
    pub async fn shutdown(self) {
        self.aws.shutdown().await;
        self.gcp.shutdown().await;
        self.control_plane.shutdown().await;
    }
}
