//! Who is calling the API server: bearer tokens mapped to identities with
//! optional per-namespace and per-verb limits. Static tokens are registered
//! directly; cloud-flavoured tokens (EKS `k8s-aws-v1.`, GKE OAuth access
//! tokens) are checked by a `TokenVerifier` the cloud module provides.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    /// None: every namespace.
    pub namespaces: Option<Vec<String>>,
    /// None: every verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`).
    pub verbs: Option<Vec<String>>,
}

impl Identity {
    pub fn admin(user: &str) -> Identity {
        Identity { user: user.to_string(), namespaces: None, verbs: None }
    }

    pub fn allows(&self, verb: &str, namespace: Option<&str>) -> bool {
        let verb_ok = self.verbs.as_ref().is_none_or(|v| v.iter().any(|x| x == verb));
        let ns_ok = match (&self.namespaces, namespace) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(list), Some(ns)) => list.iter().any(|x| x == ns),
        };
        verb_ok && ns_ok
    }
}

/// Checks tokens the static table does not know (EKS, GKE).
pub trait TokenVerifier: Send + Sync {
    /// `Some` when this verifier recognises and accepts `token`.
    fn verify(&self, token: &str) -> Option<Identity>;
}

/// The tokens one API server accepts.
#[derive(Clone, Default)]
pub struct Authenticator {
    tokens: Arc<RwLock<HashMap<String, Identity>>>,
    verifiers: Arc<RwLock<Vec<Arc<dyn TokenVerifier>>>>,
}

impl Authenticator {
    pub fn add_token(&self, token: &str, identity: Identity) {
        self.tokens.write().unwrap_or_else(|p| p.into_inner()).insert(token.to_string(), identity);
    }

    pub fn add_verifier(&self, verifier: Arc<dyn TokenVerifier>) {
        self.verifiers.write().unwrap_or_else(|p| p.into_inner()).push(verifier);
    }

    /// The identity behind a bearer token, if any.
    pub fn authenticate(&self, token: &str) -> Option<Identity> {
        if let Some(id) = self.tokens.read().unwrap_or_else(|p| p.into_inner()).get(token) {
            return Some(id.clone());
        }
        let verifiers = self.verifiers.read().unwrap_or_else(|p| p.into_inner()).clone();
        verifiers.iter().find_map(|v| v.verify(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_identities_allow_only_their_namespaces_and_verbs() {
        let id = Identity { user: "ci".into(), namespaces: Some(vec!["default".into()]), verbs: Some(vec!["get".into(), "list".into()]) };
        assert!(id.allows("get", Some("default")));
        assert!(!id.allows("delete", Some("default")));
        assert!(!id.allows("get", Some("kube-system")));
        assert!(!id.allows("get", None), "cluster-scoped reads need an unrestricted identity");
        assert!(Identity::admin("a").allows("delete", None));
    }

    #[test]
    fn static_tokens_and_verifiers_authenticate() {
        struct Prefix;
        impl TokenVerifier for Prefix {
            fn verify(&self, token: &str) -> Option<Identity> {
                token.strip_prefix("ok-").map(Identity::admin)
            }
        }
        let auth = Authenticator::default();
        auth.add_token("t1", Identity::admin("alice"));
        auth.add_verifier(Arc::new(Prefix));
        assert_eq!(auth.authenticate("t1").unwrap().user, "alice");
        assert_eq!(auth.authenticate("ok-bob").unwrap().user, "bob");
        assert!(auth.authenticate("nope").is_none());
    }
}
