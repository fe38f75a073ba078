//! The simulated AWS accounts' callers: access key pairs (long-term `AKIA…`
//! user keys and temporary `ASIA…` session credentials with their session
//! token), the principal ARN each one acts as, and what that principal may do
//! on the simulated clusters. It owns the lookup by access key id that every
//! SigV4 check starts from; it must not check signatures itself (that is
//! `sigv4.rs`) and it never prints a secret, not even in `Debug`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rand::distributions::{Alphanumeric, DistString};
use rand::Rng;

use crate::auth::Identity;
use crate::cloud::sigv4::Credentials;

/// One caller: a key pair and the principal it authenticates as.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsPrincipal {
    /// 12 digits.
    pub account_id: String,
    /// `arn:aws:iam::ACCOUNT:user/NAME` or `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    /// `AIDA…` for users, `AROA…:SESSION` for assumed roles (what GetCallerIdentity calls UserId).
    pub user_id: String,
    pub credentials: Credentials,
    /// Limits on the simulated clusters (None: every namespace / verb).
    pub namespaces: Option<Vec<String>>,
    pub verbs: Option<Vec<String>>,
}

impl std::fmt::Debug for AwsPrincipal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsPrincipal")
            .field("arn", &self.arn)
            .field("credentials", &self.credentials)
            .field("namespaces", &self.namespaces)
            .field("verbs", &self.verbs)
            .finish()
    }
}

fn upper_alnum(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    (0..n).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

fn secret_key() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
}

impl AwsPrincipal {
    /// An IAM user with a fresh long-term key pair.
    pub fn user(account_id: &str, name: &str) -> AwsPrincipal {
        AwsPrincipal {
            account_id: account_id.to_string(),
            arn: format!("arn:aws:iam::{account_id}:user/{name}"),
            user_id: format!("AIDA{}", upper_alnum(17)),
            credentials: Credentials {
                access_key_id: format!("AKIA{}", upper_alnum(16)),
                secret_access_key: secret_key(),
                session_token: None,
            },
            namespaces: None,
            verbs: None,
        }
    }

    /// A role session with fresh temporary credentials (a session token is required with them).
    pub fn assumed_role(account_id: &str, role: &str, session: &str) -> AwsPrincipal {
        AwsPrincipal {
            account_id: account_id.to_string(),
            arn: format!("arn:aws:sts::{account_id}:assumed-role/{role}/{session}"),
            user_id: format!("AROA{}:{session}", upper_alnum(17)),
            credentials: Credentials {
                access_key_id: format!("ASIA{}", upper_alnum(16)),
                secret_access_key: secret_key(),
                session_token: Some(Alphanumeric.sample_string(&mut rand::thread_rng(), 300)),
            },
            namespaces: None,
            verbs: None,
        }
    }

    /// The same principal with given keys (for fixed test credentials).
    pub fn with_credentials(mut self, credentials: Credentials) -> AwsPrincipal {
        self.credentials = credentials;
        self
    }

    /// The same principal limited to some namespaces and verbs on the clusters.
    pub fn limited(mut self, namespaces: Option<Vec<String>>, verbs: Option<Vec<String>>) -> AwsPrincipal {
        self.namespaces = namespaces;
        self.verbs = verbs;
        self
    }

    /// The ARN an EKS access entry names: an assumed-role session maps to
    /// its role, `arn:aws:iam::ACCOUNT:role/ROLE` (as aws-iam-authenticator
    /// canonicalises it).
    pub fn canonical_arn(&self) -> String {
        let rest = self.arn.strip_prefix(&format!("arn:aws:sts::{}:assumed-role/", self.account_id));
        match rest.and_then(|r| r.split_once('/')) {
            Some((role, _session)) => format!("arn:aws:iam::{}:role/{role}", self.account_id),
            None => self.arn.clone(),
        }
    }

    /// Who this principal is on a simulated EKS cluster: the user is its
    /// (session) ARN, as EKS access entries name IAM users and role sessions.
    pub fn identity(&self) -> Identity {
        Identity { user: self.arn.clone(), namespaces: self.namespaces.clone(), verbs: self.verbs.clone() }
    }
}

/// Every simulated AWS caller, by access key id. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct AwsIam {
    principals: Arc<RwLock<HashMap<String, AwsPrincipal>>>,
}

impl AwsIam {
    pub fn add(&self, principal: AwsPrincipal) {
        self.principals
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(principal.credentials.access_key_id.clone(), principal);
    }

    pub fn remove(&self, access_key_id: &str) -> Option<AwsPrincipal> {
        self.principals.write().unwrap_or_else(|p| p.into_inner()).remove(access_key_id)
    }

    pub fn get(&self, access_key_id: &str) -> Option<AwsPrincipal> {
        self.principals.read().unwrap_or_else(|p| p.into_inner()).get(access_key_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_principals_look_like_aws_ones_and_hide_their_secrets() {
        let u = AwsPrincipal::user("111122223333", "deployer");
        assert!(u.credentials.access_key_id.starts_with("AKIA") && u.credentials.access_key_id.len() == 20);
        assert_eq!(u.credentials.secret_access_key.len(), 40);
        assert_eq!(u.arn, "arn:aws:iam::111122223333:user/deployer");
        assert_eq!(u.canonical_arn(), u.arn);
        let debug = format!("{u:?}");
        assert!(!debug.contains(&u.credentials.secret_access_key), "{debug}");

        let r = AwsPrincipal::assumed_role("111122223333", "ci", "run-7");
        assert!(r.credentials.access_key_id.starts_with("ASIA"));
        assert!(r.credentials.session_token.is_some());
        assert_eq!(r.canonical_arn(), "arn:aws:iam::111122223333:role/ci");
        assert!(!format!("{r:?}").contains(r.credentials.session_token.as_deref().unwrap()));
    }

    #[test]
    fn iam_finds_principals_by_access_key() {
        let iam = AwsIam::default();
        let u = AwsPrincipal::user("111122223333", "a");
        iam.add(u.clone());
        assert_eq!(iam.get(&u.credentials.access_key_id), Some(u.clone()));
        assert!(iam.get("AKIANOTKNOWN").is_none());
        iam.remove(&u.credentials.access_key_id);
        assert!(iam.get(&u.credentials.access_key_id).is_none());
    }
}
