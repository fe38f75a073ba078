//! Who may use a simulated registry, in the two shapes of the clouds:
//!
//! - ECR (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`): HTTP Basic `AWS:<token>`
//!   where the token is one the simulated ECR API's GetAuthorizationToken
//!   issued for this account and region (`cloud::ecr`); anything else gets
//!   401 with `WWW-Authenticate: Basic realm="https://HOST/",service="ecr.amazonaws.com"`.
//! - Artifact Registry (`LOCATION-docker.pkg.dev`): 401 with a Bearer
//!   challenge whose realm is this server's own `/v2/token`; the token
//!   endpoint takes Basic `oauth2accesstoken:<access token>` (a token the
//!   simulated OAuth endpoint issued to a known service account, checked
//!   with `GcpIam`) and answers `{token, expires_in}`; like Artifact
//!   Registry it also takes `_json_key:<key file>` and
//!   `_json_key_base64:<base64 key file>` (the key's private key must be the
//!   known account's). An access token sent
//!   straight as `Bearer` is accepted too, as Artifact Registry does.
//!   Repository paths are `PROJECT/REPOSITORY/IMAGE`, and the project must be
//!   one the sim knows.
//!
//! This file owns the checks and the token store of the AR shape; it must
//! not touch the registry's content, and never logs a token or a password.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::cloud::ecr::{self, EcrTokenError, EcrTokens};
use crate::cloud::oauth::GcpIam;
use crate::registry::errors::ApiError;

/// How long a token from an Artifact-Registry-shaped `/v2/token` lives.
pub const AR_TOKEN_LIFETIME: Duration = Duration::minutes(60);
/// The user name Artifact Registry takes an access token with.
pub const AR_USERNAME: &str = "oauth2accesstoken";
/// The user names Artifact Registry takes a service-account key file with (plain and base64).
pub const AR_JSON_KEY_USERNAMES: [&str; 2] = ["_json_key", "_json_key_base64"];

/// Which cloud's registry a simulated registry plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// ECR of an account in a region.
    Ecr { account_id: String, region: String },
    /// Artifact Registry's Docker repositories of a location, for the projects the sim knows.
    ArtifactRegistry { location: String, projects: Vec<String> },
}

impl Shape {
    /// The registry host image references name it by.
    pub fn host(&self) -> String {
        match self {
            Shape::Ecr { account_id, region } => ecr::registry_host(account_id, region),
            Shape::ArtifactRegistry { location, .. } => ar_host(location),
        }
    }
}

/// `LOCATION-docker.pkg.dev`.
pub fn ar_host(location: &str) -> String {
    format!("{location}-docker.pkg.dev")
}

/// The region of a GCP location: `europe-west1` for `europe-west1` and `europe-west1-b`.
pub fn gcp_region(location: &str) -> &str {
    if location.matches('-').count() >= 2 {
        location.rsplit_once('-').map_or(location, |(region, _)| region)
    } else {
        location
    }
}

/// Who a request came from (for logs: never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

struct ArToken {
    email: String,
    expires_at: OffsetDateTime,
}

/// A registry's access checks.
pub(crate) struct Gate {
    shape: Shape,
    host: String,
    /// `http://127.0.0.1:PORT/v2/token` (AR shape).
    realm: String,
    ecr: EcrTokens,
    gcp: GcpIam,
    tokens: Mutex<HashMap<String, ArToken>>,
}

/// A refusal, with the challenge to send.
pub(crate) struct Refusal {
    pub error: ApiError,
    pub challenge: String,
}

fn basic_credentials(authorization: &str) -> Option<(String, String)> {
    let (scheme, rest) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, rest) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

impl Gate {
    pub fn new(shape: Shape, port: u16, ecr: EcrTokens, gcp: GcpIam) -> Gate {
        let host = shape.host();
        Gate { shape, host, realm: format!("http://127.0.0.1:{port}/v2/token"), ecr, gcp, tokens: Mutex::new(HashMap::new()) }
    }

    fn challenge(&self, scope: Option<&str>) -> String {
        match &self.shape {
            Shape::Ecr { .. } => format!("Basic realm=\"https://{}/\",service=\"ecr.amazonaws.com\"", self.host),
            Shape::ArtifactRegistry { .. } => match scope {
                Some(scope) => format!("Bearer realm=\"{}\",service=\"{}\",scope=\"{scope}\"", self.realm, self.host),
                None => format!("Bearer realm=\"{}\",service=\"{}\"", self.realm, self.host),
            },
        }
    }

    /// The caller of a request with this `Authorization`, or the refusal; `scope`
    /// is what the request needs (`repository:NAME:pull,push`), for the challenge.
    pub fn check(&self, authorization: Option<&str>, scope: Option<&str>, now: OffsetDateTime) -> Result<Caller, Refusal> {
        let refuse = |error: ApiError| Refusal { error, challenge: self.challenge(scope) };
        let Some(authorization) = authorization else {
            let error = match &self.shape {
                Shape::Ecr { .. } => ApiError::denied_401("Not Authorized"),
                Shape::ArtifactRegistry { .. } => ApiError::unauthorized("authentication required"),
            };
            return Err(refuse(error));
        };
        match &self.shape {
            Shape::Ecr { account_id, region } => {
                let (user, password) = basic_credentials(authorization).ok_or_else(|| refuse(ApiError::denied_401("Not Authorized")))?;
                if user != ecr::USERNAME {
                    return Err(refuse(ApiError::denied_401("Not Authorized")));
                }
                match self.ecr.check(&password, account_id, region, now) {
                    Ok(t) => Ok(Caller(t.arn)),
                    Err(EcrTokenError::Expired) => Err(refuse(ApiError::denied_401(EcrTokenError::Expired.to_string()))),
                    Err(e @ EcrTokenError::OtherRegistry) => Err(refuse(ApiError::denied_401(e.to_string()))),
                    Err(EcrTokenError::Invalid) => Err(refuse(ApiError::denied_401("Not Authorized"))),
                }
            }
            Shape::ArtifactRegistry { .. } => {
                if let Some((user, password)) = basic_credentials(authorization).filter(|(u, _)| AR_JSON_KEY_USERNAMES.contains(&u.as_str())) {
                    return match self.json_key_account(&password, user == AR_JSON_KEY_USERNAMES[1]) {
                        Some(email) => Ok(Caller(email)),
                        None => Err(refuse(ApiError::unauthorized("the service-account key is not one of a known account: download a key of the sim's account (gantry sim up writes it)"))),
                    };
                }
                let token = bearer(authorization).map(str::to_string).or_else(|| {
                    // Basic oauth2accesstoken:<access token> straight to the registry is accepted as well.
                    basic_credentials(authorization).filter(|(u, _)| u == AR_USERNAME).map(|(_, p)| p)
                });
                let Some(token) = token else { return Err(refuse(ApiError::unauthorized("authentication required"))) };
                if let Some(email) = self.registry_token(&token, now) {
                    return Ok(Caller(email));
                }
                match self.gcp.token(&token, now) {
                    Some(issued) if self.gcp.account(&issued.email).is_some() => Ok(Caller(issued.email)),
                    _ => Err(refuse(ApiError::unauthorized("Your credentials are invalid or have expired: get a new access token (gcloud auth print-access-token) and log in again"))),
                }
            }
        }
    }

    /// The service account whose key file `password` is (`_json_key`, or
    /// `_json_key_base64` when `base64`), when its private key is the known account's.
    fn json_key_account(&self, password: &str, base64: bool) -> Option<String> {
        use rsa::pkcs8::DecodePrivateKey as _;
        let text = if base64 { String::from_utf8(STANDARD.decode(password.trim()).ok()?).ok()? } else { password.to_string() };
        let key: Value = serde_json::from_str(&text).ok()?;
        let email = key["client_email"].as_str()?;
        let account = self.gcp.account(email)?;
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(key["private_key"].as_str()?).ok()?;
        (rsa::RsaPublicKey::from(&private) == account.public_key).then(|| email.to_string())
    }

    fn registry_token(&self, token: &str, now: OffsetDateTime) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.get(token).filter(|t| t.expires_at > now).map(|t| t.email.clone())
    }

    /// Whether repository `name` may exist here: AR needs `PROJECT/REPOSITORY/IMAGE` of a known project.
    pub fn repository_allowed(&self, name: &str) -> Result<(), ApiError> {
        match &self.shape {
            Shape::Ecr { .. } => Ok(()),
            Shape::ArtifactRegistry { location, projects } => {
                let parts: Vec<&str> = name.split('/').collect();
                if parts.len() < 3 {
                    return Err(ApiError::name_invalid(name, &format!("Artifact Registry paths are PROJECT/REPOSITORY/IMAGE, as in {}/PROJECT/REPOSITORY/IMAGE", self.host)));
                }
                if !projects.iter().any(|p| p == parts[0]) {
                    return Err(ApiError::denied(format!(
                        "Permission \"artifactregistry.repositories.downloadArtifacts\" denied on resource \"projects/{}/locations/{location}/repositories/{}\" (or it may not exist): the simulated projects are {}",
                        parts[0],
                        parts[1],
                        projects.join(", ")
                    )));
                }
                Ok(())
            }
        }
    }

    /// The AR-shaped token endpoint: `GET /v2/token?service=&scope=` with Basic
    /// `oauth2accesstoken:<access token>`. Ok(body) or the refusal (401).
    pub fn token_endpoint(&self, authorization: Option<&str>, query: &str, now: OffsetDateTime) -> Result<Value, ApiError> {
        if matches!(self.shape, Shape::Ecr { .. }) {
            return Err(ApiError::not_found("ECR has no token endpoint: log in with Basic AWS:<aws ecr get-login-password>"));
        }
        let service = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "service").map(|(_, v)| v.into_owned());
        if let Some(service) = service.filter(|s| *s != self.host) {
            return Err(ApiError::unauthorized(format!("this token endpoint serves {}, not {service}", self.host)));
        }
        let Some((user, password)) = authorization.and_then(basic_credentials) else {
            return Err(ApiError::unauthorized(format!("the token endpoint needs Basic {AR_USERNAME}:<access token>")));
        };
        let email = if AR_JSON_KEY_USERNAMES.contains(&user.as_str()) {
            self.json_key_account(&password, user == AR_JSON_KEY_USERNAMES[1])
                .ok_or_else(|| ApiError::unauthorized("the service-account key is not one of a known account: download a key of the sim's account (gantry sim up writes it)"))?
        } else if user == AR_USERNAME {
            let issued = self.gcp.token(&password, now).filter(|t| self.gcp.account(&t.email).is_some());
            let Some(issued) = issued else {
                return Err(ApiError::unauthorized("Your credentials are invalid or have expired: get a new access token and log in again"));
            };
            issued.email
        } else {
            return Err(ApiError::unauthorized(format!("unknown user {user:?}: log in as {AR_USERNAME} with an access token, or as _json_key with a key file")));
        };
        let token = format!("sim-ar-{}", hex::encode(rand::random::<[u8; 32]>()));
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.retain(|_, t| t.expires_at > now);
        tokens.insert(token.clone(), ArToken { email, expires_at: now + AR_TOKEN_LIFETIME });
        Ok(json!({
            "token": token,
            "access_token": token,
            "expires_in": AR_TOKEN_LIFETIME.whole_seconds(),
            "issued_at": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_of_locations() {
        assert_eq!(gcp_region("europe-west1"), "europe-west1");
        assert_eq!(gcp_region("europe-west1-b"), "europe-west1");
        assert_eq!(ar_host("europe-west1"), "europe-west1-docker.pkg.dev");
    }

    #[test]
    fn ecr_takes_its_own_tokens_only() {
        let tokens = EcrTokens::default();
        let now = OffsetDateTime::now_utc();
        let gate = Gate::new(Shape::Ecr { account_id: "111122223333".into(), region: "eu-west-1".into() }, 1, tokens.clone(), GcpIam::default());
        let (t, _) = tokens.issue("111122223333", "eu-west-1", "arn:x", now, Duration::hours(1));
        let basic = |u: &str, p: &str| format!("Basic {}", STANDARD.encode(format!("{u}:{p}")));
        assert_eq!(gate.check(Some(&basic("AWS", &t)), None, now).ok(), Some(Caller("arn:x".into())));
        let refused = gate.check(Some(&basic("AWS", "nope")), None, now).err().unwrap();
        assert_eq!((refused.error.status, refused.error.message.as_str()), (401, "Not Authorized"));
        assert_eq!(refused.challenge, "Basic realm=\"https://111122223333.dkr.ecr.eu-west-1.amazonaws.com/\",service=\"ecr.amazonaws.com\"");
        assert!(gate.check(Some(&basic("admin", &t)), None, now).is_err());
        let expired = gate.check(Some(&basic("AWS", &t)), None, now + Duration::hours(2)).err().unwrap();
        assert!(expired.error.message.contains("expired"), "{}", expired.error.message);
        assert!(gate.check(None, None, now).is_err());
    }
}
