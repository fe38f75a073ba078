//! Artifact Registry (`REGION-docker.pkg.dev`) and Container Registry
//! (`gcr.io`, `*.gcr.io`) credentials from an OAuth access token: the user
//! `oauth2accesstoken` and the token as password, as `gcloud auth
//! configure-docker` arranges. The token comes from an [`AccessTokenSource`]
//! (the GKE target's, adapted to it), asked on every call so that a refused
//! token is replaced; caching and refreshing tokens is the source's job. It
//! must not fetch tokens itself, nor answer for hosts that are not Google's.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::credential::{Credential, CredentialError, CredentialFuture, CredentialSource, Secret};

/// The username Google's registries take with an access token as password.
pub const ACCESS_TOKEN_USER: &str = "oauth2accesstoken";

pub type AccessTokenFuture<'a> = Pin<Box<dyn Future<Output = Result<Secret, String>> + Send + 'a>>;

/// Gives a current OAuth 2 access token for Google Cloud. The error says
/// what failed and how to fix it, and never holds a secret.
pub trait AccessTokenSource: Send + Sync {
    fn access_token(&self) -> AccessTokenFuture<'_>;
}

/// Credentials for Google's registries from an access token.
#[derive(Clone)]
pub struct ArtifactRegistryCredentials {
    token: Arc<dyn AccessTokenSource>,
}

impl fmt::Debug for ArtifactRegistryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArtifactRegistryCredentials").finish_non_exhaustive()
    }
}

impl ArtifactRegistryCredentials {
    pub fn new(token: Arc<dyn AccessTokenSource>) -> ArtifactRegistryCredentials {
        ArtifactRegistryCredentials { token }
    }
}

/// Whether `registry` (a host, maybe with a port) is Artifact Registry's
/// Docker host (`europe-west1-docker.pkg.dev`) or Container Registry's
/// (`gcr.io`, `eu.gcr.io`).
pub fn is_google_registry(registry: &str) -> bool {
    let host = registry.split(':').next().unwrap_or(registry).to_ascii_lowercase();
    let artifact = host.strip_suffix("-docker.pkg.dev").is_some_and(|location| !location.is_empty() && !location.contains('.'));
    let container = host == "gcr.io" || host.strip_suffix(".gcr.io").is_some_and(|sub| !sub.is_empty());
    artifact || container
}

impl CredentialSource for ArtifactRegistryCredentials {
    fn credential<'a>(&'a self, registry: &'a str) -> CredentialFuture<'a> {
        Box::pin(async move {
            let fail = |message: String| CredentialError { registry: registry.to_string(), message };
            if !is_google_registry(registry) {
                return Err(fail(
                    "not an Artifact Registry (`LOCATION-docker.pkg.dev`) or Container Registry (`gcr.io`, `*.gcr.io`) host: route this registry to another credential source".to_string(),
                ));
            }
            let token = self.token.access_token().await.map_err(|why| {
                fail(format!("no Google Cloud access token ({why}): check the GKE target's credentials (service account key or workload identity)"))
            })?;
            Ok(Credential::Basic { username: ACCESS_TOKEN_USER.to_string(), password: token })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_registry_hosts() {
        for yes in ["europe-west1-docker.pkg.dev", "us-docker.pkg.dev", "gcr.io", "eu.gcr.io", "us.gcr.io:443"] {
            assert!(is_google_registry(yes), "{yes}");
        }
        for no in ["docker.pkg.dev", "-docker.pkg.dev", "evil.com-docker.pkg.dev", "notgcr.io", "gcr.io.evil.com", "docker.io", "europe-west1-npm.pkg.dev"] {
            assert!(!is_google_registry(no), "{no}");
        }
    }
}
