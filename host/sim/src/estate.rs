//! A whole simulated estate, as `gantry sim up`, `gantry run --sim` and tests
//! start it: clusters that are EKS-flavoured, GKE-flavoured or plain (by
//! default an EKS-flavoured `aws` and a GKE-flavoured `gcp`; each its own
//! HTTPS API server and CA), the cloud control plane that describes them
//! and issues their tokens, and the files a user points tools at — a
//! kubeconfig with a context per cluster, a service-account key file, and an
//! env file for the AWS and GCP SDKs. Credentials go into files (mode 0600),
//! never into what is printed.
//!
//! Each EKS-flavoured cluster's account and region gets an ECR-shaped
//! registry and each GKE-flavoured cluster's region an Artifact-Registry-
//! shaped one (`crate::registry`; one per host, shared by the clusters that
//! share it). The simulated kubelets of a cluster resolve that registry's
//! images with the credentials a node would have: an ECR token or a GCP
//! access token the sim issues itself, valid `NODE_TOKEN_LIFETIME` (a real
//! node refreshes its credentials; the sim's kubelets do not).
//!
//! Asked to (`EstateOptions`), every cluster also gets simulated users
//! (`traffic`) and a real Prometheus of its own (`prometheus`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::auth::{Authenticator, Identity};
use crate::cloud::{AwsPrincipal, CloudRegistry, ControlPlane, EksCluster, GkeCluster, ServiceAccountKey};
use crate::kubeconfig;
use crate::oci::RegistryAuth;
use crate::registry::{Shape, SimRegistry};
use crate::server::{ApiServer, ServerConfig};

/// The account, project and regions of the default estate.
pub const AWS_ACCOUNT: &str = "111122223333";
pub const AWS_REGION: &str = "eu-west-1";
pub const GCP_PROJECT: &str = "gantry-sim";
pub const GCP_REGION: &str = "europe-west1";
/// How long the credentials of the simulated kubelets' registry pulls live.
pub const NODE_TOKEN_LIFETIME: time::Duration = time::Duration::days(30);

#[derive(Debug, thiserror::Error)]
pub enum EstateError {
    #[error(transparent)]
    Server(#[from] crate::server::ServerError),
    #[error(transparent)]
    ControlPlane(#[from] crate::cloud::ControlPlaneError),
    #[error("generating the service-account key: {0}")]
    Key(String),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    #[error("configuring the simulated kubelets of `{cluster}` for registry {host}: {reason}")]
    KubeletRegistry { cluster: String, host: String, reason: String },
    #[error(transparent)]
    Kubeconfig(#[from] kubeconfig::KubeconfigError),
    #[error("two simulated clusters are called `{0}`: give each its own name")]
    DuplicateCluster(String),
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("registry {host} to pull from: {reason} (name a loopback registry as HOST:PORT, e.g. 127.0.0.1:5000)")]
    PullFrom { host: String, reason: String },
    #[error("cluster `{cluster}`: {source}")]
    Prometheus { cluster: String, source: crate::prometheus::PrometheusError },
}

/// What an estate runs beside its clusters.
#[derive(Debug, Clone, Default)]
pub struct EstateOptions {
    /// Simulated users' requests per second to every Service (`traffic`); None: annotated Services only.
    pub traffic: Option<f64>,
    /// A Prometheus binary to run one per cluster, scraping its pod metrics every second.
    pub prometheus: Option<PathBuf>,
    /// Registries on loopback (`127.0.0.1:5000`: plain HTTP, anonymous) whose
    /// images every cluster's kubelets resolve before pods start, beside the
    /// cluster's own cloud registry; images of unlisted hosts are not checked.
    pub pull_from: Vec<String>,
}

/// How a simulated cluster presents itself to cloud tooling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavour {
    /// EKS: described by DescribeCluster, reached with `k8s-aws-v1.` tokens.
    Eks { region: String },
    /// GKE: described by clusters.get, reached with OAuth tokens of the service account.
    Gke { project: String, location: String },
    /// A plain cluster, reached with the kubeconfig's bearer token only.
    Plain,
}

/// One cluster of an estate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// The cluster's name: its kubeconfig context and what the clouds call it.
    pub name: String,
    pub flavour: Flavour,
}

impl ClusterSpec {
    pub fn eks(name: &str, region: &str) -> ClusterSpec {
        ClusterSpec { name: name.to_string(), flavour: Flavour::Eks { region: region.to_string() } }
    }

    pub fn gke(name: &str, project: &str, location: &str) -> ClusterSpec {
        ClusterSpec { name: name.to_string(), flavour: Flavour::Gke { project: project.to_string(), location: location.to_string() } }
    }

    pub fn plain(name: &str) -> ClusterSpec {
        ClusterSpec { name: name.to_string(), flavour: Flavour::Plain }
    }

    fn describe(&self) -> String {
        match &self.flavour {
            Flavour::Eks { region } => format!("EKS-flavoured, {region}"),
            Flavour::Gke { project, location } => format!("GKE-flavoured, {project}/{location}"),
            Flavour::Plain => "plain".to_string(),
        }
    }
}

/// The clusters `gantry sim up` starts when told nothing: an EKS-flavoured
/// `aws` and a GKE-flavoured `gcp`.
pub fn default_clusters() -> Vec<ClusterSpec> {
    vec![ClusterSpec::eks("aws", AWS_REGION), ClusterSpec::gke("gcp", GCP_PROJECT, GCP_REGION)]
}

/// The environment the default estate writes that holds no credential: what
/// a pipeline written for the clouds (`${CLUSTER_AWS}`, `${AWS_REGION}`, …)
/// needs to name the default clusters. `key_file` is where the estate will
/// write the service-account key.
pub fn default_variables(key_file: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCOUNT_ID", AWS_ACCOUNT.to_string()),
        ("AWS_REGION", AWS_REGION.to_string()),
        ("CLUSTER_AWS", "aws".to_string()),
        ("CLUSTER_GCP", "gcp".to_string()),
        ("GCP_PROJECT", GCP_PROJECT.to_string()),
        ("GCP_REGION", GCP_REGION.to_string()),
        ("GCP_SERVICE_ACCOUNT_KEY", key_file.display().to_string()),
    ]
}

/// `CLUSTER_AWS` for `aws`: the variable the env file names a cluster with.
fn cluster_variable(name: &str) -> String {
    let upper: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("CLUSTER_{upper}")
}

/// `PROMETHEUS_URL_AWS` for `aws`: the env file's variable for the URL of a cluster's Prometheus.
pub fn prometheus_variable(name: &str) -> String {
    cluster_variable(name).replacen("CLUSTER_", "PROMETHEUS_URL_", 1)
}

/// A running cluster of an estate.
pub struct SimCluster {
    pub spec: ClusterSpec,
    pub server: ApiServer,
}

/// A running estate; dropping it stops every server.
pub struct Estate {
    /// In the order they were asked for.
    pub clusters: Vec<SimCluster>,
    pub control_plane: ControlPlane,
    /// The simulated registries, one per host (ECR-shaped first, in cluster order).
    pub registries: Vec<SimRegistry>,
    /// kubeconfig with a context per cluster, named after it (admin bearer tokens).
    pub kubeconfig: PathBuf,
    /// GCP service-account key file, `token_uri` pointing at the control plane.
    pub key_file: PathBuf,
    /// `export K=V` lines for the AWS and GCP SDKs.
    pub env_file: PathBuf,
    /// One real Prometheus per cluster, by cluster name (when asked for).
    pub prometheus: Vec<(String, crate::prometheus::SimPrometheus)>,
    /// What the AWS SDK needs to reach the estate as its deployer (keys,
    /// region, EKS endpoint): for clients in this process, which must not
    /// read credentials from the process environment in a simulated run.
    pub aws_env: Vec<(String, String)>,
}

/// The key file's name in an estate's directory.
pub const KEY_FILE: &str = "gcp-service-account.json";

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
        Estate::start_clusters(dir, &default_clusters()).await
    }

    /// Start `clusters` (names unique) and the control plane that describes
    /// them, and write their files into `dir`.
    pub async fn start_clusters(dir: &Path, clusters: &[ClusterSpec]) -> Result<Estate, EstateError> {
        Estate::start_clusters_with(dir, clusters, &EstateOptions::default()).await
    }

    /// [`Estate::start_clusters`], with simulated traffic and Prometheus as `options` say.
    pub async fn start_clusters_with(dir: &Path, clusters: &[ClusterSpec], options: &EstateOptions) -> Result<Estate, EstateError> {
        let mut names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(EstateError::DuplicateCluster(w[0].to_string()));
        }
        // Absolute, so what is printed and written works from any directory.
        let dir = &std::path::absolute(dir).map_err(|source| EstateError::Write { path: dir.to_path_buf(), source })?;
        let clouds = CloudRegistry::default();
        let deployer = AwsPrincipal::user(AWS_ACCOUNT, "deployer");
        clouds.aws.add(deployer.clone());
        // The deployer account lives in the first GKE cluster's project, so it
        // may describe that cluster (an account of one project is denied
        // another's, as IAM without cross-project bindings is).
        let sa_project = clusters
            .iter()
            .find_map(|c| match &c.flavour {
                Flavour::Gke { project, .. } => Some(project.as_str()),
                _ => None,
            })
            .unwrap_or(GCP_PROJECT);
        let key = ServiceAccountKey::generate(sa_project, "deployer").map_err(|e| EstateError::Key(e.to_string()))?;
        clouds.gcp.add(key.account.clone());

        let registries = start_registries(clusters, &clouds).await?;

        let mut running = Vec::with_capacity(clusters.len());
        let mut entries = Vec::with_capacity(clusters.len());
        for spec in clusters {
            let auth = Authenticator::default();
            let token = random_token();
            auth.add_token(&token, Identity::admin("sim-admin"));
            let mut config = ServerConfig::new(&spec.name, auth.clone());
            config.registries = kubelet_registries(spec, &registries, &clouds, &key.account.email)?;
            for host in &options.pull_from {
                let plain = crate::oci::RegistryConfig::new(host, &format!("http://{host}")).map_err(|e| EstateError::PullFrom { host: host.clone(), reason: e.to_string() })?;
                config.registries.push(plain);
            }
            config.traffic = options.traffic;
            let server = ApiServer::start(config).await?;
            match &spec.flavour {
                Flavour::Eks { region } => {
                    let eks = EksCluster::new(&spec.name, region, AWS_ACCOUNT, &server.url(), server.ca_pem());
                    clouds.add_eks(eks.clone());
                    auth.add_verifier(Arc::new(clouds.eks_verifier(&eks)));
                }
                Flavour::Gke { project, location } => {
                    clouds.add_gke(GkeCluster::new(project, location, &spec.name, &server.url(), server.ca_pem()));
                    auth.add_verifier(Arc::new(clouds.gke_verifier()));
                }
                Flavour::Plain => {}
            }
            entries.push(server.kubeconfig_entry(&token));
            running.push(SimCluster { spec: spec.clone(), server });
        }

        let control_plane = ControlPlane::start(clouds).await?;

        let mut prometheus = Vec::new();
        if let Some(binary) = &options.prometheus {
            for c in &running {
                let started = crate::prometheus::SimPrometheus::start(binary, &dir.join("prometheus").join(&c.spec.name), &c.spec.name, &c.server.metrics_addr().to_string(), std::time::Duration::from_secs(1)).await;
                prometheus.push((c.spec.name.clone(), started.map_err(|source| EstateError::Prometheus { cluster: c.spec.name.clone(), source })?));
            }
        }

        let kubeconfig_path = dir.join("kubeconfig");
        write_private(&kubeconfig_path, &kubeconfig::render(&entries)?)?;
        let key_file = dir.join(KEY_FILE);
        write_private(&key_file, &key.key_file_json(&control_plane.token_uri()).map_err(|e| EstateError::Key(e.to_string()))?)?;
        let env_file = dir.join("sim.env");
        let region = clusters
            .iter()
            .find_map(|c| match &c.flavour {
                Flavour::Eks { region } => Some(region.as_str()),
                _ => None,
            })
            .unwrap_or(AWS_REGION);
        let (project, location) = clusters
            .iter()
            .find_map(|c| match &c.flavour {
                Flavour::Gke { project, location } => Some((project.as_str(), location.as_str())),
                _ => None,
            })
            .unwrap_or((GCP_PROJECT, GCP_REGION));
        let aws_env: Vec<(String, String)> = control_plane.aws_env(&deployer, region).into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let mut env = aws_env.clone();
        env.extend(control_plane.gcp_env(&key_file).into_iter().map(|(k, v)| (k.to_string(), v)));
        env.extend([
            ("KUBECONFIG".to_string(), kubeconfig_path.display().to_string()),
            ("AWS_ACCOUNT_ID".to_string(), AWS_ACCOUNT.to_string()),
            ("GCP_PROJECT".to_string(), project.to_string()),
            ("GCP_REGION".to_string(), location.to_string()),
            ("GCP_SERVICE_ACCOUNT_KEY".to_string(), key_file.display().to_string()),
            // The bearer token of the control plane's fault endpoint (`faults`).
            ("GANTRY_SIM_FAULTS_TOKEN".to_string(), control_plane.admin_token().to_string()),
        ]);
        env.extend(clusters.iter().map(|c| (cluster_variable(&c.name), c.name.clone())));
        // Where a pipeline's `metrics.prometheus` reaches each cluster's Prometheus.
        env.extend(prometheus.iter().map(|(name, p)| (prometheus_variable(name), p.url())));
        let lines: String = env.iter().map(|(k, v)| format!("export {k}='{v}'\n")).collect();
        write_private(&env_file, &lines)?;

        Ok(Estate { clusters: running, control_plane, registries, kubeconfig: kubeconfig_path, key_file, env_file, prometheus, aws_env })
    }

    /// The running cluster called `name`.
    pub fn cluster(&self, name: &str) -> Option<&ApiServer> {
        self.clusters.iter().find(|c| c.spec.name == name).map(|c| &c.server)
    }

    /// The base URL of the Prometheus scraping cluster `name`, when one runs.
    pub fn prometheus_url(&self, name: &str) -> Option<String> {
        self.prometheus.iter().find(|(c, _)| c == name).map(|(_, p)| p.url())
    }

    /// The simulated registries as (host image references name, URL it is served at).
    pub fn registries(&self) -> Vec<(String, String)> {
        self.registries.iter().map(|r| (r.host().to_string(), r.url())).collect()
    }

    /// The simulated registry of `host` (`111122223333.dkr.ecr.eu-west-1.amazonaws.com`).
    pub fn registry(&self, host: &str) -> Option<&SimRegistry> {
        self.registries.iter().find(|r| r.host() == host)
    }

    /// What `gantry sim up` prints: places and endpoints, no credentials.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for c in &self.clusters {
            out.push_str(&format!("cluster {} ({}): {}\n", c.spec.name, c.spec.describe(), c.server.url()));
            out.push_str(&format!("  pod request metrics of {} (a Prometheus scrape target): {}\n", c.spec.name, c.server.metrics_url()));
            if let Some(url) = self.prometheus_url(&c.spec.name) {
                out.push_str(&format!("  prometheus of {}: {url}\n", c.spec.name));
            }
        }
        for r in &self.registries {
            let (kind, login) = match r.shape() {
                Shape::Ecr { region, .. } => ("ECR-shaped", format!("aws ecr get-login-password --region {region} | docker login --username AWS --password-stdin {}", r.docker_host())),
                Shape::ArtifactRegistry { .. } => ("Artifact-Registry-shaped", format!("docker login -u {} -p <access token> {}", crate::registry::AR_USERNAME, r.docker_host())),
            };
            out.push_str(&format!("registry {} ({kind}): {} ({login})\n", r.host(), r.url()));
        }
        let contexts: Vec<&str> = self.clusters.iter().map(|c| c.spec.name.as_str()).collect();
        out.push_str(&format!(
            "cloud control plane (EKS, ECR GetAuthorizationToken, STS check, GKE, OAuth token): {}\nkubeconfig: {} (contexts {})\nservice-account key: {}\nenvironment for the AWS and GCP SDKs: source {}\n",
            self.control_plane.url(),
            self.kubeconfig.display(),
            contexts.join(", "),
            self.key_file.display(),
            self.env_file.display()
        ));
        out
    }

    /// Stop every server.
    pub async fn shutdown(mut self) {
        for (_, p) in &mut self.prometheus {
            p.kill().await;
        }
        for c in self.clusters {
            c.server.shutdown().await;
        }
        for r in self.registries {
            r.shutdown().await;
        }
        self.control_plane.shutdown().await;
    }
}

/// The registry shapes an estate of `clusters` has: ECR per EKS region, AR per GKE region.
pub fn registry_shapes(clusters: &[ClusterSpec]) -> Vec<Shape> {
    let mut projects: Vec<String> = clusters
        .iter()
        .filter_map(|c| match &c.flavour {
            Flavour::Gke { project, .. } => Some(project.clone()),
            _ => None,
        })
        .collect();
    projects.sort();
    projects.dedup();
    let mut shapes: Vec<Shape> = Vec::new();
    for c in clusters {
        if let Flavour::Eks { region } = &c.flavour {
            let shape = Shape::Ecr { account_id: AWS_ACCOUNT.to_string(), region: region.clone() };
            if !shapes.contains(&shape) {
                shapes.push(shape);
            }
        }
    }
    for c in clusters {
        if let Flavour::Gke { location, .. } = &c.flavour {
            let shape = Shape::ArtifactRegistry { location: crate::registry::gcp_region(location).to_string(), projects: projects.clone() };
            if !shapes.contains(&shape) {
                shapes.push(shape);
            }
        }
    }
    shapes
}

async fn start_registries(clusters: &[ClusterSpec], clouds: &CloudRegistry) -> Result<Vec<SimRegistry>, EstateError> {
    let mut started = Vec::new();
    for shape in registry_shapes(clusters) {
        started.push(SimRegistry::start(shape, clouds).await?);
    }
    Ok(started)
}

/// The registry a cluster's kubelets pull from, with the node's credentials.
fn kubelet_registries(spec: &ClusterSpec, registries: &[SimRegistry], clouds: &CloudRegistry, node_account: &str) -> Result<Vec<crate::oci::RegistryConfig>, EstateError> {
    let now = time::OffsetDateTime::now_utc();
    let host = match &spec.flavour {
        Flavour::Eks { region } => crate::cloud::ecr::registry_host(AWS_ACCOUNT, region),
        Flavour::Gke { location, .. } => crate::registry::ar_host(crate::registry::gcp_region(location)),
        Flavour::Plain => return Ok(Vec::new()),
    };
    let failed = |reason: String| EstateError::KubeletRegistry { cluster: spec.name.clone(), host: host.clone(), reason };
    let registry = registries.iter().find(|r| r.host() == host).ok_or_else(|| failed("no simulated registry was started for it".into()))?;
    let auth = match &spec.flavour {
        Flavour::Eks { region } => {
            let node = format!("arn:aws:sts::{AWS_ACCOUNT}:assumed-role/eks-node-role/{}", spec.name);
            let (token, _) = clouds.ecr.issue(AWS_ACCOUNT, region, &node, now, NODE_TOKEN_LIFETIME);
            RegistryAuth::Basic { username: crate::cloud::ecr::USERNAME.to_string(), password: token }
        }
        _ => {
            let issued = clouds
                .gcp
                .issue(node_account, &[crate::cloud::oauth::CLOUD_PLATFORM_SCOPE], NODE_TOKEN_LIFETIME, now)
                .ok_or_else(|| failed(format!("service account {node_account} is unknown")))?;
            RegistryAuth::Basic { username: crate::registry::AR_USERNAME.to_string(), password: issued.access_token }
        }
    };
    Ok(vec![registry.kubelet_config(auth).map_err(|e| failed(e.to_string()))?])
}
