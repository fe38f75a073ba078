//! GCP service accounts and the OAuth2 token endpoint that turns their
//! signed JWT-bearer assertions into access tokens, as
//! `https://oauth2.googleapis.com/token` does for `gcp_auth` and the Google
//! client libraries. This file owns key generation (RSA-2048, PKCS#8 PEM,
//! the JSON key-file shape), the RS256 check of an assertion against the
//! account's public key, the issued tokens with their expiry, and the
//! verifier that lets a simulated GKE API server accept them.
//!
//! It must not trust anything it did not verify (signature, issuer,
//! audience, times, scope) and never logs a private key, an assertion or an
//! access token.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::distributions::{Alphanumeric, DistString};
use rand::Rng;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use crate::auth::{Identity, TokenVerifier};

pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google's access tokens live an hour; the endpoint says 3599 s.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::seconds(3599);
/// An assertion may be valid for at most an hour (`exp - iat`).
pub const MAX_ASSERTION_LIFETIME: i64 = 3600;
/// How far `iat` may be ahead of the server's clock.
pub const CLOCK_SKEW_SECS: i64 = 300;
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The audiences Google's own token endpoint answers to. google-auth (and
/// so gcloud) always names the first, whatever `token_uri` says; gcp_auth
/// names `token_uri`. The sim stands in for Google, so it accepts these as
/// well as its own URI.
pub const GOOGLE_TOKEN_AUDIENCES: &[&str] = &[
    "https://oauth2.googleapis.com/token",
    "https://www.googleapis.com/oauth2/v4/token",
    "https://accounts.google.com/o/oauth2/token",
];

/// An OAuth2 error response (RFC 6749 §5.2), with Google's messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
}

impl OAuthError {
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
        }
    }

    pub fn description(&self) -> &str {
        match self {
            OAuthError::InvalidRequest(d)
            | OAuthError::UnsupportedGrantType(d)
            | OAuthError::InvalidGrant(d)
            | OAuthError::InvalidScope(d)
            | OAuthError::UnauthorizedClient(d) => d,
        }
    }

    /// The response body: `{"error": …, "error_description": …}` (status 400).
    pub fn body(&self) -> Value {
        json!({ "error": self.code(), "error_description": self.description() })
    }
}

/// Creating a key failed (RSA generation or PEM encoding).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("generating an RSA key: {0}")]
    Rsa(#[from] rsa::Error),
    #[error("encoding the private key as PKCS#8: {0}")]
    Pkcs8(#[from] rsa::pkcs8::Error),
    #[error("signing: {0}")]
    Sign(#[from] rsa::signature::Error),
}

/// The public side of a service account: what the token endpoint checks against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub project_id: String,
    /// `NAME@PROJECT.iam.gserviceaccount.com`
    pub email: String,
    /// 21 digits.
    pub client_id: String,
    /// 40 hex digits, the `kid` of its assertions.
    pub private_key_id: String,
    pub public_key: RsaPublicKey,
    /// Limits on the simulated clusters (None: every namespace / verb).
    pub namespaces: Option<Vec<String>>,
    pub verbs: Option<Vec<String>>,
}

impl ServiceAccount {
    pub fn identity(&self) -> Identity {
        Identity { user: self.email.clone(), namespaces: self.namespaces.clone(), verbs: self.verbs.clone() }
    }
}

/// A service account with its private key: what a downloaded key file holds.
#[derive(Clone)]
pub struct ServiceAccountKey {
    pub account: ServiceAccount,
    private_key: RsaPrivateKey,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey").field("email", &self.account.email).field("private_key", &"<redacted>").finish()
    }
}

impl ServiceAccountKey {
    /// A fresh RSA-2048 key for `NAME@PROJECT.iam.gserviceaccount.com`.
    pub fn generate(project_id: &str, name: &str) -> Result<ServiceAccountKey, KeyError> {
        let mut rng = rand::rngs::OsRng;
        let private_key = RsaPrivateKey::new(&mut rng, 2048)?;
        let mut thread = rand::thread_rng();
        let client_id: String = std::iter::once(thread.gen_range(1..=9).to_string())
            .chain((0..20).map(|_| thread.gen_range(0..=9).to_string()))
            .collect();
        let key_id: [u8; 20] = thread.gen();
        Ok(ServiceAccountKey {
            account: ServiceAccount {
                project_id: project_id.to_string(),
                email: format!("{name}@{project_id}.iam.gserviceaccount.com"),
                client_id,
                private_key_id: hex::encode(key_id),
                public_key: RsaPublicKey::from(&private_key),
                namespaces: None,
                verbs: None,
            },
            private_key,
        })
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn private_key_pem(&self) -> Result<String, KeyError> {
        Ok(self.private_key.to_pkcs8_pem(LineEnding::LF)?.to_string())
    }

    /// The JSON key file Google hands out, with `token_uri` pointing at the sim.
    pub fn key_file_json(&self, token_uri: &str) -> Result<String, KeyError> {
        let a = &self.account;
        let email_path: String = url::form_urlencoded::byte_serialize(a.email.as_bytes()).collect();
        let file = json!({
            "type": "service_account",
            "project_id": a.project_id,
            "private_key_id": a.private_key_id,
            "private_key": self.private_key_pem()?,
            "client_email": a.email,
            "client_id": a.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": format!("https://www.googleapis.com/robot/v1/metadata/x509/{email_path}"),
            "universe_domain": "googleapis.com",
        });
        Ok(serde_json::to_string_pretty(&file).unwrap_or_default())
    }

    /// Signs `claims` as an RS256 JWT with this key (`kid` = private_key_id),
    /// as a client library does.
    pub fn sign_jwt(&self, claims: &Value) -> Result<String, KeyError> {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.account.private_key_id });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let key = SigningKey::<Sha256>::new(self.private_key.clone());
        let sig: Signature = key.try_sign(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes())))
    }

    /// The assertion a client sends for `scope` to `token_uri`, issued at `now`.
    pub fn assertion(&self, token_uri: &str, scope: &str, now: OffsetDateTime) -> Result<String, KeyError> {
        let iat = now.unix_timestamp();
        self.sign_jwt(&json!({
            "iss": self.account.email,
            "scope": scope,
            "aud": token_uri,
            "iat": iat,
            "exp": iat + 3600,
        }))
    }
}

/// A successful token response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: i64,
}

impl TokenResponse {
    pub fn body(&self) -> Value {
        json!({ "access_token": self.access_token, "expires_in": self.expires_in, "token_type": "Bearer" })
    }
}

/// An access token the endpoint issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub email: String,
    pub scopes: Vec<String>,
    pub expires_at: OffsetDateTime,
}

#[derive(Default)]
struct GcpState {
    accounts: HashMap<String, ServiceAccount>,
    tokens: HashMap<String, IssuedToken>,
    /// None: `ACCESS_TOKEN_LIFETIME`.
    token_lifetime: Option<Duration>,
}

/// The simulated GCP identities: service accounts by email and the access
/// tokens issued to them. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct GcpIam {
    state: Arc<RwLock<GcpState>>,
}

fn b64_json(part: &str, what: &str) -> Result<Value, OAuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| OAuthError::InvalidGrant(format!("Invalid JWT: the {what} is not base64url.")))?;
    serde_json::from_slice(&bytes).map_err(|_| OAuthError::InvalidGrant(format!("Invalid JWT: the {what} is not JSON.")))
}

impl GcpIam {
    pub fn add(&self, account: ServiceAccount) {
        self.state.write().unwrap_or_else(|p| p.into_inner()).accounts.insert(account.email.clone(), account);
    }

    /// Access tokens issued from now on live `lifetime` (tests of a
    /// client's refresh use a short one) instead of `ACCESS_TOKEN_LIFETIME`.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.state.write().unwrap_or_else(|p| p.into_inner()).token_lifetime = Some(lifetime);
    }

    pub fn account(&self, email: &str) -> Option<ServiceAccount> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).accounts.get(email).cloned()
    }

    /// The unexpired token's record.
    pub fn token(&self, access_token: &str, now: OffsetDateTime) -> Option<IssuedToken> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        state.tokens.get(access_token).filter(|t| t.expires_at > now).cloned()
    }

    /// Answers a token request's form body. `audiences` are the URIs this
    /// endpoint is known by (the `aud` an assertion must name, besides
    /// Google's own token endpoint).
    pub fn exchange(&self, form: &[u8], audiences: &[String], now: OffsetDateTime) -> Result<TokenResponse, OAuthError> {
        let mut grant_type = None;
        let mut assertion = None;
        for (k, v) in url::form_urlencoded::parse(form) {
            match k.as_ref() {
                "grant_type" => grant_type = Some(v.into_owned()),
                "assertion" => assertion = Some(v.into_owned()),
                _ => {}
            }
        }
        match grant_type.as_deref() {
            Some(JWT_BEARER_GRANT) => {}
            Some(other) => return Err(OAuthError::UnsupportedGrantType(format!("Invalid grant_type: {other}"))),
            None => return Err(OAuthError::InvalidRequest("Missing required parameter: grant_type".into())),
        }
        let assertion =
            assertion.ok_or_else(|| OAuthError::InvalidRequest("Missing required parameter: assertion".into()))?;
        let (account, scopes) = self.verify_assertion(&assertion, audiences, now)?;
        let access_token = format!("ya29.{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 120));
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let lifetime = state.token_lifetime.unwrap_or(ACCESS_TOKEN_LIFETIME);
        let issued = IssuedToken { email: account.email.clone(), scopes, expires_at: now + lifetime };
        state.tokens.retain(|_, t| t.expires_at > now);
        state.tokens.insert(access_token.clone(), issued);
        tracing::debug!(email = %account.email, "issued an access token");
        Ok(TokenResponse { access_token, expires_in: lifetime.whole_seconds() })
    }

    /// An access token for a known account issued without an assertion, as
    /// the metadata server hands one to a node's service account: for the
    /// simulated kubelets' registry credentials. None for an unknown account.
    pub fn issue(&self, email: &str, scopes: &[&str], lifetime: Duration, now: OffsetDateTime) -> Option<TokenResponse> {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.accounts.get(email)?;
        let access_token = format!("ya29.{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 120));
        let issued = IssuedToken { email: email.to_string(), scopes: scopes.iter().map(|s| s.to_string()).collect(), expires_at: now + lifetime };
        state.tokens.retain(|_, t| t.expires_at > now);
        state.tokens.insert(access_token.clone(), issued);
        Some(TokenResponse { access_token, expires_in: lifetime.whole_seconds() })
    }

    /// Checks a JWT-bearer assertion: RS256 over `header.claims` with the
    /// issuer's public key, `aud`, `iat`/`exp`, `scope`.
    pub fn verify_assertion(
        &self,
        jwt: &str,
        audiences: &[String],
        now: OffsetDateTime,
    ) -> Result<(ServiceAccount, Vec<String>), OAuthError> {
        let parts: Vec<&str> = jwt.split('.').collect();
        let [header_b64, claims_b64, sig_b64] = parts.as_slice() else {
            return Err(OAuthError::InvalidGrant("Invalid JWT: expected header.claims.signature.".into()));
        };
        let header = b64_json(header_b64, "header")?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err(OAuthError::InvalidGrant("Invalid JWT: the algorithm must be RS256.".into()));
        }
        let claims = b64_json(claims_b64, "claim set")?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| OAuthError::InvalidGrant("Invalid JWT: no iss claim.".into()))?;
        let account = self.account(iss).ok_or_else(|| OAuthError::InvalidGrant("Invalid grant: account not found".into()))?;
        if let Some(kid) = header.get("kid") {
            if kid.as_str() != Some(account.private_key_id.as_str()) {
                return Err(OAuthError::InvalidGrant("Invalid JWT Signature.".into()));
            }
        }
        if !rs256_signature_valid(&[header_b64, claims_b64, sig_b64], &account.public_key) {
            return Err(OAuthError::InvalidGrant("Invalid JWT Signature.".into()));
        }
        // Signed: the claims can now be judged.
        let aud = claims.get("aud").and_then(Value::as_str).unwrap_or_default();
        if !audiences.iter().any(|a| a == aud) && !GOOGLE_TOKEN_AUDIENCES.contains(&aud) {
            return Err(OAuthError::InvalidGrant("Invalid JWT: Failed audience check.".into()));
        }
        // gcp_auth sends `"sub": null` when it impersonates no one.
        if let Some(sub) = claims.get("sub").filter(|s| !s.is_null()) {
            if sub.as_str() != Some(iss) {
                return Err(OAuthError::UnauthorizedClient(
                    "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.".into(),
                ));
            }
        }
        let time_claim = |k: &str| claims.get(k).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)));
        let bad_time = || {
            OAuthError::InvalidGrant(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.".into(),
            )
        };
        let (iat, exp) = (time_claim("iat").ok_or_else(bad_time)?, time_claim("exp").ok_or_else(bad_time)?);
        let now_s = now.unix_timestamp();
        if exp <= now_s || iat > now_s + CLOCK_SKEW_SECS || exp <= iat || exp - iat > MAX_ASSERTION_LIFETIME {
            return Err(bad_time());
        }
        let scopes: Vec<String> =
            claims.get("scope").and_then(Value::as_str).unwrap_or_default().split_whitespace().map(String::from).collect();
        if scopes.is_empty() {
            return Err(OAuthError::InvalidScope("Invalid OAuth scope or ID token audience provided.".into()));
        }
        Ok((account, scopes))
    }

    pub fn verifier(&self) -> GcpTokenVerifier {
        GcpTokenVerifier { iam: self.clone() }
    }
}

/// Whether `sig_b64` is an RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature
/// by `key` over `header_b64.claims_b64`, the parts as they came (padded or not).
pub fn rs256_signature_valid([header_b64, claims_b64, sig_b64]: &[&str; 3], key: &RsaPublicKey) -> bool {
    let Ok(sig_bytes) = URL_SAFE_NO_PAD.decode(sig_b64.trim_end_matches('=')) else { return false };
    let Ok(signature) = Signature::try_from(sig_bytes.as_slice()) else { return false };
    let signing_input = format!("{header_b64}.{claims_b64}");
    VerifyingKey::<Sha256>::new(key.clone()).verify(signing_input.as_bytes(), &signature).is_ok()
}

/// Accepts access tokens the simulated token endpoint issued (unexpired):
/// the caller is the service account's email, as on GKE.
#[derive(Clone)]
pub struct GcpTokenVerifier {
    iam: GcpIam,
}

impl GcpTokenVerifier {
    pub fn verify_at(&self, token: &str, now: OffsetDateTime) -> Option<Identity> {
        let issued = self.iam.token(token, now)?;
        self.iam.account(&issued.email).map(|a| a.identity())
    }
}

impl TokenVerifier for GcpTokenVerifier {
    fn verify(&self, token: &str) -> Option<Identity> {
        self.verify_at(token, OffsetDateTime::now_utc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    const URI: &str = "http://127.0.0.1:9/token";

    /// One key for the module: RSA generation is the slow part.
    fn key() -> &'static ServiceAccountKey {
        static KEY: OnceLock<ServiceAccountKey> = OnceLock::new();
        KEY.get_or_init(|| ServiceAccountKey::generate("demo-project", "deployer").unwrap())
    }

    fn iam() -> GcpIam {
        let iam = GcpIam::default();
        iam.add(key().account.clone());
        iam
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn form(assertion: &str) -> Vec<u8> {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", JWT_BEARER_GRANT)
            .append_pair("assertion", assertion)
            .finish()
            .into_bytes()
    }

    fn claims(iat: i64, exp: i64) -> Value {
        json!({ "iss": key().account.email, "scope": CLOUD_PLATFORM_SCOPE, "aud": URI, "iat": iat, "exp": exp })
    }

    /// RFC 7515 Appendix A.2: the published RS256 JWS and the example key's public half.
    #[test]
    fn rs256_verification_accepts_the_rfc_7515_example_and_nothing_else() {
        let n = URL_SAFE_NO_PAD
            .decode(concat!(
                "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPM",
                "EzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-",
                "bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3",
                "qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9g",
                "b54h4FRWyuXpoQ",
            ))
            .unwrap();
        let rfc_key = RsaPublicKey::new(rsa::BigUint::from_bytes_be(&n), rsa::BigUint::from(65537u32)).unwrap();
        let header = "eyJhbGciOiJSUzI1NiJ9";
        let claims = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let sig = concat!(
            "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5",
            "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb",
            "1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QO",
            "YEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw",
        );
        assert!(rs256_signature_valid(&[header, claims, sig], &rfc_key));
        let tampered = claims.replacen("eyJpc3MiOiJqb2Ui", "eyJpc3MiOiJqb2Ki", 1);
        assert!(!rs256_signature_valid(&[header, &tampered, sig], &rfc_key));
        assert!(!rs256_signature_valid(&[header, claims, sig], &key().account.public_key));
        assert!(!rs256_signature_valid(&[header, claims, "AAAA"], &rfc_key));
    }

    #[test]
    fn key_files_have_google_shape_and_a_pkcs8_key() {
        let file: Value = serde_json::from_str(&key().key_file_json(URI).unwrap()).unwrap();
        assert_eq!(file["type"], "service_account");
        assert_eq!(file["project_id"], "demo-project");
        assert_eq!(file["client_email"], "deployer@demo-project.iam.gserviceaccount.com");
        assert_eq!(file["token_uri"], URI);
        assert_eq!(file["private_key_id"].as_str().unwrap().len(), 40);
        assert_eq!(file["client_id"].as_str().unwrap().len(), 21);
        let pem = file["private_key"].as_str().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n") && pem.trim_end().ends_with("-----END PRIVATE KEY-----"));
        use rsa::pkcs8::DecodePrivateKey;
        let back = RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
        assert_eq!(RsaPublicKey::from(&back), key().account.public_key);
        assert!(!format!("{:?}", key()).contains("PRIVATE"));
    }

    #[test]
    fn a_signed_assertion_buys_a_token_the_verifier_accepts_until_it_expires() {
        let iam = iam();
        let jwt = key().assertion(URI, CLOUD_PLATFORM_SCOPE, now()).unwrap();
        let resp = iam.exchange(&form(&jwt), &[URI.to_string()], now()).unwrap();
        assert!(resp.access_token.starts_with("ya29."));
        assert_eq!(resp.body()["token_type"], "Bearer");
        assert_eq!(resp.expires_in, 3599);
        let v = iam.verifier();
        assert_eq!(v.verify_at(&resp.access_token, now()).unwrap().user, key().account.email);
        assert!(v.verify_at(&resp.access_token, now() + Duration::seconds(3599)).is_none());
        assert!(v.verify_at("ya29.unknown", now()).is_none());
        assert_eq!(iam.token(&resp.access_token, now()).unwrap().scopes, [CLOUD_PLATFORM_SCOPE]);
    }

    #[test]
    fn a_shorter_token_lifetime_is_announced_and_enforced() {
        let iam = iam();
        iam.set_token_lifetime(Duration::seconds(30));
        let jwt = key().assertion(URI, CLOUD_PLATFORM_SCOPE, now()).unwrap();
        let resp = iam.exchange(&form(&jwt), &[URI.to_string()], now()).unwrap();
        assert_eq!(resp.expires_in, 30);
        let v = iam.verifier();
        assert!(v.verify_at(&resp.access_token, now() + Duration::seconds(29)).is_some());
        assert!(v.verify_at(&resp.access_token, now() + Duration::seconds(30)).is_none());
    }

    #[test]
    fn a_foreign_key_or_tampered_claims_fail_the_signature() {
        let iam = iam();
        let other = ServiceAccountKey::generate("demo-project", "deployer").unwrap();
        // Same email, another key (and kid): refused.
        let jwt = other.assertion(URI, CLOUD_PLATFORM_SCOPE, now()).unwrap();
        assert_eq!(iam.exchange(&form(&jwt), &[URI.into()], now()), Err(OAuthError::InvalidGrant("Invalid JWT Signature.".into())));
        // Another key with the right kid: refused by the signature itself.
        let mut forged = other.clone();
        forged.account.private_key_id = key().account.private_key_id.clone();
        let jwt = forged.assertion(URI, CLOUD_PLATFORM_SCOPE, now()).unwrap();
        assert_eq!(iam.exchange(&form(&jwt), &[URI.into()], now()), Err(OAuthError::InvalidGrant("Invalid JWT Signature.".into())));
        // Claims swapped after signing.
        let jwt = key().assertion(URI, CLOUD_PLATFORM_SCOPE, now()).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        let mut c = claims(now().unix_timestamp(), now().unix_timestamp() + 3600);
        c["scope"] = json!("https://www.googleapis.com/auth/admin");
        let swapped = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(c.to_string()), parts[2]);
        assert!(matches!(iam.exchange(&form(&swapped), &[URI.into()], now()), Err(OAuthError::InvalidGrant(_))));
        // alg=none.
        let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), parts[1]);
        assert!(matches!(iam.exchange(&form(&none), &[URI.into()], now()), Err(OAuthError::InvalidGrant(_))));
    }

    #[test]
    fn issuer_audience_times_and_scope_are_checked() {
        let iam = iam();
        let t = now().unix_timestamp();
        let check = |c: Value| iam.exchange(&form(&key().sign_jwt(&c).unwrap()), &[URI.into()], now());
        assert!(check(claims(t, t + 3600)).is_ok());
        let mut c = claims(t, t + 3600);
        c["aud"] = json!("https://oauth2.googleapis.com/token");
        assert!(check(c).is_ok(), "Google's own token endpoint, as google-auth names it");
        for other in ["https://example.com/token", "http://127.0.0.1:9/other", ""] {
            let mut c = claims(t, t + 3600);
            c["aud"] = json!(other);
            assert_eq!(check(c), Err(OAuthError::InvalidGrant("Invalid JWT: Failed audience check.".into())), "{other}");
        }
        let mut c = claims(t, t + 3600);
        c["iss"] = json!("stranger@demo-project.iam.gserviceaccount.com");
        assert_eq!(check(c), Err(OAuthError::InvalidGrant("Invalid grant: account not found".into())));
        for (iat, exp) in [(t - 4000, t - 400), (t, t + 7200), (t + 1000, t + 2000), (t, t), (t, t - 10)] {
            assert!(matches!(check(claims(iat, exp)), Err(OAuthError::InvalidGrant(d)) if d.contains("short-lived")), "{iat} {exp}");
        }
        let mut c = claims(t, t + 3600);
        c.as_object_mut().unwrap().remove("scope");
        assert!(matches!(check(c), Err(OAuthError::InvalidScope(_))));
        let mut c = claims(t, t + 3600);
        c["sub"] = Value::Null;
        assert!(check(c).is_ok(), "a null sub is no subject");
        let mut c = claims(t, t + 3600);
        c["sub"] = json!(key().account.email);
        assert!(check(c).is_ok(), "a subject equal to the issuer is the issuer");
        let mut c = claims(t, t + 3600);
        c["sub"] = json!("someone@example.com");
        assert!(matches!(check(c), Err(OAuthError::UnauthorizedClient(_))));
    }

    #[test]
    fn padded_base64url_parts_as_gcp_auth_sends_them_are_accepted() {
        use base64::engine::general_purpose::URL_SAFE;
        let iam = iam();
        let t = now().unix_timestamp();
        // gcp_auth 0.12: the fixed header, claims with "sub": null, all parts URL_SAFE with padding.
        let c = json!({ "iss": key().account.email, "aud": URI, "exp": t + 3595, "iat": t, "sub": null, "scope": CLOUD_PLATFORM_SCOPE });
        let input = format!("{}.{}", URL_SAFE.encode(r#"{"alg":"RS256","typ":"JWT"}"#), URL_SAFE.encode(c.to_string()));
        let sig: Signature = SigningKey::<Sha256>::new(key().private_key.clone()).sign(input.as_bytes());
        let jwt = format!("{input}.{}", URL_SAFE.encode(sig.to_bytes()));
        assert!(jwt.contains('='), "the sample must exercise padding: {jwt}");
        assert!(iam.exchange(&form(&jwt), &[URI.into()], now()).is_ok());
    }

    #[test]
    fn malformed_requests_get_oauth_errors() {
        let iam = iam();
        let aud = [URI.to_string()];
        assert_eq!(iam.exchange(b"", &aud, now()).unwrap_err().code(), "invalid_request");
        assert_eq!(iam.exchange(b"grant_type=client_credentials", &aud, now()).unwrap_err().code(), "unsupported_grant_type");
        let e = iam.exchange(format!("grant_type={}", JWT_BEARER_GRANT.replace(':', "%3A")).as_bytes(), &aud, now()).unwrap_err();
        assert_eq!(e.code(), "invalid_request");
        for junk in ["", "a.b", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA"] {
            let e = iam.exchange(&form(junk), &aud, now()).unwrap_err();
            assert_eq!(e.code(), "invalid_grant", "{junk}");
            assert_eq!(e.body()["error"], "invalid_grant");
        }
    }
}
