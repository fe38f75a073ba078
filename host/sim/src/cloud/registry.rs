//! What the simulated clouds know at run time: the AWS callers and the ECR
//! tokens issued to them, the GCP service accounts and their tokens, and the registered EKS and GKE
//! clusters (whoever starts an API server registers its endpoint and CA
//! here). It owns lookups and the construction of the token verifiers an
//! API server plugs into its `Authenticator`; it must not do HTTP or
//! cryptography itself. Cheap to clone: every clone shares the same state.

use std::sync::{Arc, RwLock};

use crate::cloud::aws::AwsIam;
use crate::cloud::ecr::EcrTokens;
use crate::cloud::eks::EksCluster;
use crate::cloud::gke::GkeCluster;
use crate::cloud::oauth::{GcpIam, GcpTokenVerifier};
use crate::cloud::sts::EksTokenVerifier;

#[derive(Clone, Default)]
pub struct CloudRegistry {
    pub aws: AwsIam,
    pub gcp: GcpIam,
    /// The tokens ECR's GetAuthorizationToken issued (the ECR-shaped registries check them).
    pub ecr: EcrTokens,
    eks: Arc<RwLock<Vec<EksCluster>>>,
    gke: Arc<RwLock<Vec<GkeCluster>>>,
}

impl CloudRegistry {
    /// Registers (or replaces) the cluster with this account, region and name.
    pub fn add_eks(&self, cluster: EksCluster) {
        let mut all = self.eks.write().unwrap_or_else(|p| p.into_inner());
        all.retain(|c| !(c.account_id == cluster.account_id && c.region == cluster.region && c.name == cluster.name));
        all.push(cluster);
    }

    pub fn eks(&self, account_id: &str, region: &str, name: &str) -> Option<EksCluster> {
        let all = self.eks.read().unwrap_or_else(|p| p.into_inner());
        all.iter().find(|c| c.account_id == account_id && c.region == region && c.name == name).cloned()
    }

    /// The cluster names of one account in one region, sorted.
    pub fn eks_names(&self, account_id: &str, region: &str) -> Vec<String> {
        let all = self.eks.read().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<String> =
            all.iter().filter(|c| c.account_id == account_id && c.region == region).map(|c| c.name.clone()).collect();
        names.sort();
        names
    }

    /// Registers (or replaces) the cluster with this project, location and name.
    pub fn add_gke(&self, cluster: GkeCluster) {
        let mut all = self.gke.write().unwrap_or_else(|p| p.into_inner());
        all.retain(|c| !(c.project == cluster.project && c.location == cluster.location && c.name == cluster.name));
        all.push(cluster);
    }

    pub fn gke(&self, project: &str, location: &str, name: &str) -> Option<GkeCluster> {
        let all = self.gke.read().unwrap_or_else(|p| p.into_inner());
        all.iter().find(|c| c.project == project && c.location == location && c.name == name).cloned()
    }

    /// The clusters of a project in a location (`-`: every location).
    pub fn gke_in(&self, project: &str, location: &str) -> Vec<GkeCluster> {
        let all = self.gke.read().unwrap_or_else(|p| p.into_inner());
        all.iter().filter(|c| c.project == project && (location == "-" || c.location == location)).cloned().collect()
    }

    /// The verifier an EKS-flavoured API server adds to its `Authenticator`:
    /// `k8s-aws-v1.` tokens signed for this cluster by a principal of its account.
    pub fn eks_verifier(&self, cluster: &EksCluster) -> EksTokenVerifier {
        EksTokenVerifier::new(&cluster.name, &cluster.account_id, self.aws.clone())
    }

    /// The verifier a GKE-flavoured API server adds to its `Authenticator`:
    /// unexpired access tokens from the simulated token endpoint.
    pub fn gke_verifier(&self) -> GcpTokenVerifier {
        self.gcp.verifier()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_are_found_by_their_full_address_and_replaced_on_re_registration() {
        let r = CloudRegistry::default();
        r.add_eks(EksCluster::new("prod", "eu-west-1", "111122223333", "https://127.0.0.1:1", "ca"));
        r.add_eks(EksCluster::new("prod", "eu-west-1", "111122223333", "https://127.0.0.1:2", "ca"));
        r.add_eks(EksCluster::new("dev", "eu-west-1", "111122223333", "https://127.0.0.1:3", "ca"));
        assert_eq!(r.eks("111122223333", "eu-west-1", "prod").unwrap().endpoint, "https://127.0.0.1:2");
        assert!(r.eks("111122223333", "us-east-1", "prod").is_none());
        assert!(r.eks("999999999999", "eu-west-1", "prod").is_none());
        assert_eq!(r.eks_names("111122223333", "eu-west-1"), ["dev", "prod"]);

        r.add_gke(GkeCluster::new("demo", "europe-west1", "prod", "127.0.0.1:4", "ca"));
        r.add_gke(GkeCluster::new("demo", "europe-west1-b", "zonal", "127.0.0.1:5", "ca"));
        assert_eq!(r.gke("demo", "europe-west1", "prod").unwrap().endpoint, "127.0.0.1:4");
        assert!(r.gke("other", "europe-west1", "prod").is_none());
        assert_eq!(r.gke_in("demo", "-").len(), 2);
        assert_eq!(r.gke_in("demo", "europe-west1").len(), 1);
    }
}
