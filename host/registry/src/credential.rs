//! What a registry is authenticated with, and where it comes from: a
//! [`Credential`] per registry host, given by a [`CredentialSource`] (a
//! fixed set, a docker `config.json` with its credential helpers, ECR's
//! GetAuthorizationToken, a GKE target's access token). Secrets are held in
//! [`Secret`], whose `Debug` and `Display` print `<redacted>`: nothing here
//! or in a caller can log one by accident. It must not do HTTP itself.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A secret string that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for a request header or a helper's stdin only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How to authenticate to one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// No credentials: anonymous pulls, and the token flow without a user.
    Anonymous,
    /// Username and password: sent on a Basic challenge, and to a Bearer
    /// challenge's token realm (ECR: `AWS` and the authorization token;
    /// Artifact Registry: `oauth2accesstoken` and an access token).
    Basic { username: String, password: Secret },
    /// An identity (refresh) token from `docker login`, exchanged at the
    /// token realm with `grant_type=refresh_token`.
    IdentityToken(Secret),
    /// A registry token sent as `Authorization: Bearer` from the first request.
    Bearer(Secret),
}

/// Why no credential could be had.
#[derive(Debug, thiserror::Error)]
#[error("credentials for {registry}: {message}")]
pub struct CredentialError {
    /// The registry host asked about.
    pub registry: String,
    /// What failed and how to fix it (never a secret).
    pub message: String,
}

pub type CredentialFuture<'a> = Pin<Box<dyn Future<Output = Result<Credential, CredentialError>> + Send + 'a>>;

/// Gives the credential for a registry host (`123.dkr.ecr.eu-west-1.amazonaws.com`,
/// `127.0.0.1:5000`). Asked again whenever a registry refuses a credential,
/// so sources that expire (ECR, access tokens) refresh there.
pub trait CredentialSource: Send + Sync {
    fn credential<'a>(&'a self, registry: &'a str) -> CredentialFuture<'a>;

    /// The registry refused the credential this source gave for it: a
    /// source that caches (ECR's tokens) forgets it, so the next ask fetches
    /// a new one. The client calls this before asking again.
    fn refused(&self, registry: &str) {
        let _ = registry;
    }
}

/// A fixed credential per registry host; anonymous for any other.
#[derive(Debug, Clone, Default)]
pub struct StaticCredentials(BTreeMap<String, Credential>);

impl StaticCredentials {
    pub fn new() -> StaticCredentials {
        StaticCredentials::default()
    }

    pub fn with(mut self, registry: &str, credential: Credential) -> StaticCredentials {
        self.0.insert(registry.to_string(), credential);
        self
    }
}

impl CredentialSource for StaticCredentials {
    fn credential<'a>(&'a self, registry: &'a str) -> CredentialFuture<'a> {
        let found = self.0.get(registry).cloned().unwrap_or(Credential::Anonymous);
        Box::pin(async move { Ok(found) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let c = Credential::Basic { username: "AWS".into(), password: Secret::new("hunter2") };
        let shown = format!("{c:?} {}", Secret::new("hunter2"));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
