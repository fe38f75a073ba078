//! The simulated clouds' control planes: what an AWS or GCP SDK talks to
//! before it ever reaches a Kubernetes API server. EKS DescribeCluster (with
//! SigV4-checked requests), verification of `k8s-aws-v1.` tokens (presigned
//! STS GetCallerIdentity URLs), GKE clusters.get and an OAuth2 JWT-bearer
//! token endpoint, served over plain HTTP on 127.0.0.1 only.
//!
//! This module owns the cloud-side identities (AWS access keys, GCP service
//! accounts), the cluster registrations (name, endpoint, CA) and the token
//! verifiers the API server plugs into its `auth::Authenticator`. It must not
//! serve Kubernetes resources or know how the API server stores them, and
//! every check is a real one: a signature is recomputed, never assumed.

pub mod aws;
pub mod eks;
pub mod gke;
pub mod http;
pub mod oauth;
pub mod registry;
pub mod sigv4;
pub mod sts;

pub use aws::{AwsIam, AwsPrincipal};
pub use eks::EksCluster;
pub use gke::GkeCluster;
pub use http::{ControlPlane, ControlPlaneError};
pub use oauth::{GcpIam, GcpTokenVerifier, ServiceAccount, ServiceAccountKey};
pub use registry::CloudRegistry;
pub use sts::EksTokenVerifier;
