//! The simulated clouds' control planes: what an AWS or GCP SDK talks to
//! before it ever reaches a Kubernetes API server. EKS DescribeCluster (with
//! SigV4-checked requests), verification of `k8s-aws-v1.` tokens (presigned
//! STS GetCallerIdentity URLs), ECR GetAuthorizationToken (for the
//! simulated registries, `crate::registry`), GKE clusters.get and an OAuth2
//! JWT-bearer token endpoint, served over plain HTTP on 127.0.0.1 only.
//!
//! This module owns the cloud-side identities (AWS access keys, GCP service
//! accounts), the cluster registrations (name, endpoint, CA) and the token
//! verifiers the API server plugs into its `auth::Authenticator`. It must not
//! serve Kubernetes resources or know how the API server stores them, and
//! every check is a real one: a signature is recomputed, never assumed.
//!
//! Wiring, for whoever starts a simulated cloud:
//!
//! ```no_run
//! # async fn demo(api_endpoint: &str, ca_pem: &str, auth: &gantry_sim::auth::Authenticator) -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use gantry_sim::cloud::{AwsPrincipal, CloudRegistry, ControlPlane, EksCluster, GkeCluster, ServiceAccountKey};
//!
//! let clouds = CloudRegistry::default();
//! // AWS: a caller, and the cluster DescribeCluster reports (its API server's URL and CA).
//! let deployer = AwsPrincipal::user("111122223333", "deployer");
//! clouds.aws.add(deployer.clone());
//! let eks = EksCluster::new("aws", "eu-west-1", "111122223333", api_endpoint, ca_pem);
//! clouds.add_eks(eks.clone());
//! auth.add_verifier(Arc::new(clouds.eks_verifier(&eks))); // that API server now takes `k8s-aws-v1.` tokens
//! // GCP: a service account, and the cluster clusters.get reports.
//! let key = ServiceAccountKey::generate("demo-project", "deployer")?;
//! clouds.gcp.add(key.account.clone());
//! clouds.add_gke(GkeCluster::new("demo-project", "europe-west1", "gcp", api_endpoint, ca_pem));
//! auth.add_verifier(Arc::new(clouds.gke_verifier())); // ... and the access tokens /token issued
//!
//! let control_plane = ControlPlane::start(clouds).await?; // 127.0.0.1, a free port
//! let key_file_json = key.key_file_json(&control_plane.token_uri())?; // token_uri points here
//! let aws_env = control_plane.aws_env(&deployer, "eu-west-1"); // AWS_ENDPOINT_URL_EKS and keys
//! # Ok(()) }
//! ```

pub mod aws;
pub mod ecr;
pub mod eks;
pub mod gke;
pub mod http;
pub mod oauth;
pub mod registry;
pub mod sigv4;
pub mod sts;

pub use aws::{AwsIam, AwsPrincipal};
pub use ecr::EcrTokens;
pub use eks::EksCluster;
pub use gke::GkeCluster;
pub use http::{ControlPlane, ControlPlaneError};
pub use oauth::{GcpIam, GcpTokenVerifier, ServiceAccount, ServiceAccountKey};
pub use registry::CloudRegistry;
pub use sts::EksTokenVerifier;
