//! Which [`CredentialSource`] answers for which registry host: a
//! [`ByRegistry`] routes exact hosts to their sources (ECR's for the AWS
//! target's registry, Artifact Registry's for the GKE target's), asks a
//! fallback (typically the docker config) for any other host, and is
//! anonymous when it has no fallback. It must not look at credentials, only
//! route the question.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::credential::{Credential, CredentialFuture, CredentialSource};

/// Credential sources by registry host, with a fallback for the rest.
#[derive(Clone, Default)]
pub struct ByRegistry {
    routes: BTreeMap<String, Arc<dyn CredentialSource>>,
    fallback: Option<Arc<dyn CredentialSource>>,
}

impl fmt::Debug for ByRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByRegistry")
            .field("routes", &self.routes.keys().collect::<Vec<_>>())
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl ByRegistry {
    pub fn new() -> ByRegistry {
        ByRegistry::default()
    }

    /// `registry` (a host as in an image reference: `123.dkr.ecr.eu-west-1.amazonaws.com`,
    /// `127.0.0.1:5000`) is answered by `source`; a later route for the same host replaces it.
    pub fn route(mut self, registry: &str, source: Arc<dyn CredentialSource>) -> ByRegistry {
        self.routes.insert(registry.to_string(), source);
        self
    }

    /// Every host without a route is answered by `source`.
    pub fn fallback(mut self, source: Arc<dyn CredentialSource>) -> ByRegistry {
        self.fallback = Some(source);
        self
    }

    /// The hosts with their own source.
    pub fn registries(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }
}

impl CredentialSource for ByRegistry {
    fn credential<'a>(&'a self, registry: &'a str) -> CredentialFuture<'a> {
        match self.routes.get(registry).or(self.fallback.as_ref()) {
            Some(source) => source.credential(registry),
            None => Box::pin(async { Ok(Credential::Anonymous) }),
        }
    }

    fn refused(&self, registry: &str) {
        if let Some(source) = self.routes.get(registry).or(self.fallback.as_ref()) {
            source.refused(registry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::{Secret, StaticCredentials};

    fn basic(user: &str) -> Credential {
        Credential::Basic { username: user.into(), password: Secret::new("pw") }
    }

    #[tokio::test]
    async fn exact_host_then_fallback_then_anonymous() {
        let ecr = Arc::new(StaticCredentials::new().with("1.dkr.ecr.eu-west-1.amazonaws.com", basic("AWS")));
        let docker = Arc::new(StaticCredentials::new().with("127.0.0.1:5000", basic("local")).with("1.dkr.ecr.eu-west-1.amazonaws.com", basic("stale")));
        let routed = ByRegistry::new().route("1.dkr.ecr.eu-west-1.amazonaws.com", ecr.clone());
        let with_fallback = routed.clone().fallback(docker);

        // A routed host is answered by its source only, never by the fallback.
        assert_eq!(with_fallback.credential("1.dkr.ecr.eu-west-1.amazonaws.com").await.unwrap(), basic("AWS"));
        assert_eq!(with_fallback.credential("127.0.0.1:5000").await.unwrap(), basic("local"));
        assert_eq!(with_fallback.credential("quay.io").await.unwrap(), Credential::Anonymous);
        // Without a fallback, other hosts are anonymous; routes are exact (no port or case folding).
        assert_eq!(routed.credential("127.0.0.1:5000").await.unwrap(), Credential::Anonymous);
        assert_eq!(routed.credential("1.dkr.ecr.eu-west-1.amazonaws.com:443").await.unwrap(), Credential::Anonymous);
        assert_eq!(routed.registries().collect::<Vec<_>>(), ["1.dkr.ecr.eu-west-1.amazonaws.com"]);
        assert!(format!("{with_fallback:?}").contains("fallback: true"));
    }
}
