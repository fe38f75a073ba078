//! Registry authentication as docker and containerd do it: `WWW-Authenticate`
//! challenges parsed (Basic and Bearer, quoted values with commas, several
//! challenges in one header), Basic credentials sent on a Basic challenge,
//! the token flow on a Bearer one (GET the realm with `service` and `scope`
//! and Basic credentials if any, or POST `grant_type=refresh_token` for an
//! identity token; `token` or `access_token` in the answer, `expires_in`),
//! tokens cached per registry and scope, and a registry token
//! ([`Credential::Bearer`]) sent as is. Secrets go into request headers only:
//! never into an error, a log line or a `Debug` output.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use hyper::{Method, StatusCode};

use crate::client::{Operation, RegistryError};
use crate::credential::{Credential, CredentialSource, Secret};
use crate::transport::{header, Outgoing, Transport};

/// One challenge of a `WWW-Authenticate` header: its scheme and parameters
/// (names lower-cased, values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    pub fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }

    pub fn is_basic(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("basic")
    }
}

/// Parses a `WWW-Authenticate` value into its challenges, in order:
/// `Bearer realm="https://a/token",service="a",scope="repository:x:pull,push", Basic realm="r"`.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let chars: Vec<char> = header.chars().collect();
    let mut i = 0;
    let mut out: Vec<Challenge> = Vec::new();
    let is_sep = |c: char| c == ',' || c.is_whitespace();
    loop {
        while i < chars.len() && is_sep(chars[i]) {
            i += 1;
        }
        if i >= chars.len() {
            return out;
        }
        let start = i;
        while i < chars.len() && !is_sep(chars[i]) && chars[i] != '=' {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        if j < chars.len() && chars[j] == '=' && !token.is_empty() {
            // A parameter of the current challenge (or a token68 run of `=`).
            i = j + 1;
            if i < chars.len() && chars[i] == '=' {
                while i < chars.len() && chars[i] == '=' {
                    i += 1;
                }
                continue;
            }
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            let mut value = String::new();
            if i < chars.len() && chars[i] == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    value.push(chars[i]);
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && !is_sep(chars[i]) {
                    value.push(chars[i]);
                    i += 1;
                }
            }
            if let Some(current) = out.last_mut() {
                current.params.insert(token.to_ascii_lowercase(), value);
            }
        } else if !token.is_empty() {
            out.push(Challenge { scheme: token, params: BTreeMap::new() });
        } else {
            i += 1;
        }
    }
}

/// A token and until when it may be used.
struct Cached {
    authorization: Secret,
    until: Instant,
}

/// The token server's answer.
#[derive(serde::Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Authorization for each request: the challenges learned per registry and
/// the tokens fetched per registry and scope.
pub(crate) struct Authenticator {
    credentials: Arc<dyn CredentialSource>,
    challenges: Mutex<HashMap<String, Challenge>>,
    tokens: Mutex<HashMap<(String, String), Cached>>,
    fetching: tokio::sync::Mutex<()>,
}

/// Tokens are renewed this long before they expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

impl Authenticator {
    pub fn new(credentials: Arc<dyn CredentialSource>) -> Authenticator {
        Authenticator { credentials, challenges: Mutex::new(HashMap::new()), tokens: Mutex::new(HashMap::new()), fetching: tokio::sync::Mutex::new(()) }
    }

    pub fn credentials(&self) -> &Arc<dyn CredentialSource> {
        &self.credentials
    }

    /// Remembers the challenge a registry answered a 401 with (Bearer first, else Basic).
    /// Returns false when the answer had none it can meet.
    pub fn learn(&self, registry: &str, www_authenticate: Option<&str>) -> bool {
        let challenges = www_authenticate.map(parse_challenges).unwrap_or_default();
        let chosen = challenges.iter().find(|c| c.is_bearer() && c.param("realm").is_some()).or_else(|| challenges.iter().find(|c| c.is_basic()));
        match chosen {
            Some(c) => {
                lock(&self.challenges).insert(registry.to_string(), c.clone());
                true
            }
            None => false,
        }
    }

    /// Drops the cached token for these scopes (after a registry refused it).
    pub fn forget(&self, registry: &str, scopes: &[String]) {
        lock(&self.tokens).remove(&(registry.to_string(), scopes.join(" ")));
    }

    /// The `Authorization` value for a request needing `scopes`: a registry
    /// token as is; Basic on a Basic challenge; a (cached) token on a Bearer
    /// one; nothing before the registry has challenged.
    pub async fn authorization(&self, transport: &Transport, op: &Operation, scopes: &[String]) -> Result<Option<Secret>, RegistryError> {
        let registry = op.registry.as_str();
        let key = (registry.to_string(), scopes.join(" "));
        if let Some(cached) = lock(&self.tokens).get(&key) {
            if cached.until > Instant::now() + EXPIRY_MARGIN {
                return Ok(Some(cached.authorization.clone()));
            }
        }
        let challenge = lock(&self.challenges).get(registry).cloned();
        let credential = self.credentials.credential(registry).await.map_err(|e| op.clone().fail(None, "CREDENTIALS", &e.message, &format!("fix the credentials configured for {registry}")))?;
        if let Credential::Bearer(token) = &credential {
            return Ok(Some(Secret::new(format!("Bearer {}", token.expose()))));
        }
        let Some(challenge) = challenge else { return Ok(None) };
        if challenge.is_basic() {
            return Ok(match &credential {
                Credential::Basic { username, password } => Some(basic(username, password)),
                _ => None,
            });
        }
        // One token fetch at a time: blobs pushed together need the same token.
        let _fetching = self.fetching.lock().await;
        if let Some(cached) = lock(&self.tokens).get(&key) {
            if cached.until > Instant::now() + EXPIRY_MARGIN {
                return Ok(Some(cached.authorization.clone()));
            }
        }
        let (token, lifetime) = self.fetch_token(transport, op, &challenge, &credential, scopes).await?;
        let authorization = Secret::new(format!("Bearer {}", token.expose()));
        lock(&self.tokens).insert(key, Cached { authorization: authorization.clone(), until: Instant::now() + lifetime });
        Ok(Some(authorization))
    }

    /// The token flow against the challenge's realm.
    async fn fetch_token(&self, transport: &Transport, op: &Operation, challenge: &Challenge, credential: &Credential, scopes: &[String]) -> Result<(Secret, Duration), RegistryError> {
        let realm = challenge.param("realm").unwrap_or_default();
        let realm_url = url::Url::parse(realm).map_err(|e| op.clone().fail(None, "TOKEN_REALM", &format!("the registry's token realm {realm:?} is not a URL ({e})"), "check the registry's auth configuration"))?;
        let mut url = transport.rewrite(&realm_url);
        // Our scopes, with what the challenge says the registry needs merged in.
        let all = merge_scopes(scopes.iter().map(String::as_str).chain(challenge.param("scope").unwrap_or("").split(' ')));
        let service = challenge.param("service").unwrap_or("");
        let (outgoing, authorization) = match credential {
            Credential::IdentityToken(refresh) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token").append_pair("refresh_token", refresh.expose()).append_pair("service", service).append_pair("client_id", "gantry");
                if !all.is_empty() {
                    form.append_pair("scope", &all.join(" "));
                }
                let outgoing = Outgoing::new(Method::POST, url.clone()).header("content-type", "application/x-www-form-urlencoded").body(Bytes::from(form.finish()));
                (outgoing, None)
            }
            _ => {
                {
                    let mut query = url.query_pairs_mut();
                    if !service.is_empty() {
                        query.append_pair("service", service);
                    }
                    for s in &all {
                        query.append_pair("scope", s);
                    }
                }
                let authorization = match credential {
                    Credential::Basic { username, password } => Some(basic(username, password)),
                    _ => None,
                };
                (Outgoing::new(Method::GET, url.clone()), authorization)
            }
        };
        // The realm without its query: what an error may show.
        url.set_query(None);
        let who = match credential {
            Credential::Basic { username, .. } => format!(" for user {username}"),
            Credential::IdentityToken(_) => " for the identity token".to_string(),
            _ => " anonymously".to_string(),
        };
        let response = transport.send_following(&outgoing, authorization.as_ref()).await.map_err(|e| op.clone().fail(None, "TOKEN", &format!("token server {url}: {e}"), "check that the token server is reachable"))?;
        let status = response.status();
        let body = transport.read_body(response.into_body(), 1 << 20).await.map_err(|e| op.clone().fail(Some(status.as_u16()), "TOKEN", &format!("token server {url}: {e}"), "retry"))?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let said = crate::client::distribution_errors(&body).map(|(_, m)| format!(": {m}")).unwrap_or_default();
            return Err(op.clone().fail(Some(status.as_u16()), "UNAUTHORIZED", &format!("the token server {url} refused the credentials{who}{said}"), &login_fix(&op.registry)));
        }
        if !status.is_success() {
            return Err(op.clone().fail(Some(status.as_u16()), "TOKEN", &format!("the token server {url} answered HTTP {status}{who}"), "check the registry's token service"));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| op.clone().fail(Some(status.as_u16()), "TOKEN", &format!("the token server {url} answered something that is not a token ({e})"), "check the registry's token service"))?;
        let Some(token) = answer.token.filter(|t| !t.is_empty()).or(answer.access_token.filter(|t| !t.is_empty())) else {
            return Err(op.clone().fail(Some(status.as_u16()), "TOKEN", &format!("the token server {url} answered without a token"), "check the registry's token service"));
        };
        // Docker's rule: a token lives at least 60 s when the server says less or nothing.
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(60).max(60));
        Ok((Secret::new(token), lifetime))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another task panicked; the maps stay usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Scopes (`type:name:actions`) with the actions of one resource joined, in first-seen order:
/// `repository:a:pull,push` and `repository:a:pull` make `repository:a:pull,push`.
pub fn merge_scopes<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut merged: Vec<(String, Vec<String>)> = Vec::new();
    for scope in scopes.into_iter().filter(|s| !s.is_empty()) {
        let (resource, actions) = match scope.rsplit_once(':') {
            Some((r, a)) if r.contains(':') => (r.to_string(), a.split(',').filter(|a| !a.is_empty()).map(str::to_string).collect::<Vec<_>>()),
            _ => (scope.to_string(), Vec::new()),
        };
        match merged.iter_mut().find(|(r, _)| *r == resource) {
            Some((_, have)) => {
                for a in actions {
                    if !have.contains(&a) {
                        have.push(a);
                    }
                }
            }
            None => merged.push((resource, actions)),
        }
    }
    merged.into_iter().map(|(r, a)| if a.is_empty() { r } else { format!("{r}:{}", a.join(",")) }).collect()
}

fn basic(username: &str, password: &Secret) -> Secret {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose()));
    Secret::new(format!("Basic {encoded}"))
}

/// How to give a registry credentials, in an error.
pub(crate) fn login_fix(registry: &str) -> String {
    format!("log in with `docker login {registry}` (or give {registry}'s credentials in docker's config.json or the target's cloud credentials)")
}

/// The `WWW-Authenticate` of a response, for [`Authenticator::learn`].
pub(crate) fn www_authenticate(headers: &hyper::HeaderMap) -> Option<&str> {
    header(headers, "www-authenticate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_with_quoted_commas_and_several_schemes() {
        let c = parse_challenges(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push""#);
        assert_eq!(c.len(), 1);
        assert!(c[0].is_bearer());
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(c[0].param("scope"), Some("repository:library/nginx:pull,push"));

        let c = parse_challenges(r#"Basic realm="Registry Realm", Bearer realm="https://t/x", service=reg , error="insufficient_scope""#);
        assert_eq!(c.iter().map(|c| c.scheme.as_str()).collect::<Vec<_>>(), ["Basic", "Bearer"]);
        assert_eq!(c[0].param("realm"), Some("Registry Realm"));
        assert_eq!(c[1].param("service"), Some("reg"));
        assert_eq!(c[1].param("error"), Some("insufficient_scope"));

        let c = parse_challenges(r#"Bearer Realm="a\"b", SCOPE="x""#);
        assert_eq!(c[0].param("realm"), Some("a\"b"));
        assert_eq!(c[0].param("scope"), Some("x"));
        let c = parse_challenges("Negotiate abc==, Basic realm=r");
        assert_eq!(c.iter().map(|c| c.scheme.as_str()).collect::<Vec<_>>(), ["Negotiate", "Basic"]);
        assert!(parse_challenges("").is_empty());
    }

    #[test]
    fn scopes_of_one_resource_merge() {
        let merged = merge_scopes(["repository:team/app:pull,push", "repository:team/app:pull", "repository:team/base:pull", "", "registry:catalog:*"]);
        assert_eq!(merged, ["repository:team/app:pull,push", "repository:team/base:pull", "registry:catalog:*"]);
    }

    #[test]
    fn basic_authorization_is_a_secret() {
        let b = basic("AWS", &Secret::new("hunter2"));
        assert_eq!(b.expose(), format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("AWS:hunter2")));
        assert!(!format!("{b:?} {b}").contains("hunter2"));
    }
}
