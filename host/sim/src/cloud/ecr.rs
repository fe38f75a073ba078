//! The ECR control plane's one call the registries need:
//! `GetAuthorizationToken` (JSON 1.1, `X-Amz-Target:
//! AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken`), and the
//! tokens it issues, which the simulated ECR-shaped registries
//! (`crate::registry`) accept as the password of `AWS:<token>`. A token is
//! bound to the caller's account and the region the request was signed for,
//! and lives twelve hours, as ECR's do.
//!
//! This file owns the token store and the answer's JSON; the SigV4 check is
//! `eks::verify_signed_request` (service `ecr`) and the HTTP plumbing is
//! `http.rs`. It must never log a token.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

/// The SigV4 service name of the ECR API.
pub const SERVICE: &str = "ecr";
/// The `X-Amz-Target` of GetAuthorizationToken.
pub const GET_AUTHORIZATION_TOKEN: &str = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";
/// The prefix every ECR API target shares.
pub const TARGET_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921.";
/// How long an authorization token is valid, as ECR's are.
pub const TOKEN_LIFETIME: Duration = Duration::hours(12);
/// The user name docker logs in with.
pub const USERNAME: &str = "AWS";

/// `ACCOUNT.dkr.ecr.REGION.amazonaws.com`: the registry host of an account in a region.
pub fn registry_host(account_id: &str, region: &str) -> String {
    format!("{account_id}.dkr.ecr.{region}.amazonaws.com")
}

/// One issued token: whose, for which registry, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrToken {
    pub account_id: String,
    pub region: String,
    /// The principal it was issued to.
    pub arn: String,
    pub expires_at: OffsetDateTime,
}

/// Why a registry refused an `AWS:<token>` password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcrTokenError {
    #[error("Your authorization token has expired. Reauthenticate and try again.")]
    Expired,
    #[error("Your authorization token is invalid.")]
    Invalid,
    #[error("Your authorization token is for another registry. Get one for this registry's account and region.")]
    OtherRegistry,
}

/// The tokens GetAuthorizationToken issued. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct EcrTokens {
    tokens: Arc<RwLock<HashMap<String, EcrToken>>>,
}

impl std::fmt::Debug for EcrTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.tokens.read().map(|t| t.len()).unwrap_or(0);
        write!(f, "EcrTokens({n} issued)")
    }
}

impl EcrTokens {
    /// A fresh token for `arn` of `account_id` in `region`, valid `lifetime` from `now`.
    pub fn issue(&self, account_id: &str, region: &str, arn: &str, now: OffsetDateTime, lifetime: Duration) -> (String, EcrToken) {
        let token = format!("sim-ecr-{}", hex::encode(rand::random::<[u8; 32]>()));
        let record = EcrToken { account_id: account_id.to_string(), region: region.to_string(), arn: arn.to_string(), expires_at: now + lifetime };
        let mut all = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        all.retain(|_, t| t.expires_at > now);
        all.insert(token.clone(), record.clone());
        (token, record)
    }

    /// Whether `password` is a token for the registry of `account_id` in `region` at `now`.
    pub fn check(&self, password: &str, account_id: &str, region: &str, now: OffsetDateTime) -> Result<EcrToken, EcrTokenError> {
        let all = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let t = all.get(password).ok_or(EcrTokenError::Invalid)?;
        if t.expires_at <= now {
            return Err(EcrTokenError::Expired);
        }
        if t.account_id != account_id || t.region != region {
            return Err(EcrTokenError::OtherRegistry);
        }
        Ok(t.clone())
    }

    /// Makes `password` expire now (tests of a refused, expired token).
    pub fn expire(&self, password: &str) {
        let mut all = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = all.get_mut(password) {
            t.expires_at = OffsetDateTime::UNIX_EPOCH;
        }
    }
}

/// An ECR API request body that is not what GetAuthorizationToken takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidParameter(pub String);

/// The GetAuthorizationToken answer for a caller of `account_id` signed for
/// `region`; `body` is the request's JSON (`{}` or `{"registryIds": [...]}`).
pub fn get_authorization_token(
    tokens: &EcrTokens,
    account_id: &str,
    region: &str,
    arn: &str,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Value, InvalidParameter> {
    let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| InvalidParameter(format!("the request body is not JSON: {e}")))?
    };
    // registryIds is deprecated in ECR; ids must still be 12 digits, and the token is always the caller's account's.
    if let Some(ids) = request.get("registryIds") {
        let ok = ids.as_array().is_some_and(|a| a.iter().all(|id| id.as_str().is_some_and(|s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()))));
        if !ok {
            return Err(InvalidParameter("1 validation error detected: Value at 'registryIds' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]{12}]".into()));
        }
    }
    let (token, record) = tokens.issue(account_id, region, arn, now, TOKEN_LIFETIME);
    Ok(json!({
        "authorizationData": [{
            "authorizationToken": STANDARD.encode(format!("{USERNAME}:{token}")),
            "expiresAt": record.expires_at.unix_timestamp(),
            "proxyEndpoint": format!("https://{}", registry_host(account_id, region)),
        }]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_for_its_account_and_region_until_it_expires() {
        let tokens = EcrTokens::default();
        let now = OffsetDateTime::now_utc();
        let body = get_authorization_token(&tokens, "111122223333", "eu-west-1", "arn:aws:iam::111122223333:user/d", b"", now).unwrap();
        let data = &body["authorizationData"][0];
        let decoded = String::from_utf8(STANDARD.decode(data["authorizationToken"].as_str().unwrap()).unwrap()).unwrap();
        let password = decoded.strip_prefix("AWS:").unwrap();
        assert_eq!(data["expiresAt"].as_i64().unwrap(), (now + TOKEN_LIFETIME).unix_timestamp());
        assert_eq!(data["proxyEndpoint"], "https://111122223333.dkr.ecr.eu-west-1.amazonaws.com");
        assert!(tokens.check(password, "111122223333", "eu-west-1", now).is_ok());
        assert_eq!(tokens.check(password, "111122223333", "us-east-1", now), Err(EcrTokenError::OtherRegistry));
        assert_eq!(tokens.check(password, "111122223333", "eu-west-1", now + Duration::hours(13)), Err(EcrTokenError::Expired));
        assert_eq!(tokens.check("sim-ecr-nope", "111122223333", "eu-west-1", now), Err(EcrTokenError::Invalid));
        assert!(!format!("{tokens:?}").contains(password));
    }

    #[test]
    fn malformed_registry_ids_are_refused() {
        let tokens = EcrTokens::default();
        let now = OffsetDateTime::now_utc();
        assert!(get_authorization_token(&tokens, "111122223333", "eu-west-1", "a", br#"{"registryIds":["12"]}"#, now).is_err());
        assert!(get_authorization_token(&tokens, "111122223333", "eu-west-1", "a", b"{", now).is_err());
        assert!(get_authorization_token(&tokens, "111122223333", "eu-west-1", "a", br#"{"registryIds":["111122223333"]}"#, now).is_ok());
    }
}
