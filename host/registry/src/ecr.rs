//! ECR credentials (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`, `.amazonaws.com.cn`,
//! `dkr.ecr-fips`): GetAuthorizationToken through aws-sdk-ecr with the
//! target's AWS settings, the token's base64 `AWS:password` decoded into
//! Basic credentials and kept per host until shortly before it expires (a
//! token that has already expired — moto's — is used once and asked for
//! again next time). The region asked is the one in the host; credentials,
//! endpoint and retries are the caller's `SdkConfig`. It must not read the
//! environment or profile files itself (the caller decides where AWS
//! settings come from), answer for hosts that are not ECR's, or put a token
//! into an error or a log line.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_sdk_ecr::error::{DisplayErrorContext, ProvideErrorMetadata as _, SdkError};
use aws_sdk_ecr::config::timeout::TimeoutConfig;
use aws_sdk_ecr::operation::get_authorization_token::GetAuthorizationTokenError;
use base64::Engine as _;

use crate::credential::{Credential, CredentialError, CredentialFuture, CredentialSource, Secret};

/// How long before its expiry a cached token is replaced.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The bound on one GetAuthorizationToken (retries included) when the
/// caller's `SdkConfig` sets none: a registry operation must not hang on it.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(60);

/// An ECR registry host, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrHost {
    /// The 12-digit AWS account (the registry id).
    pub account: String,
    pub region: String,
    /// `dkr.ecr-fips`: the FIPS endpoint.
    pub fips: bool,
}

impl EcrHost {
    /// `ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn]` (a `:443` port
    /// allowed); `None` for any other host.
    pub fn parse(registry: &str) -> Option<EcrHost> {
        let host = registry.strip_suffix(":443").unwrap_or(registry).to_ascii_lowercase();
        let rest = host.strip_suffix(".amazonaws.com").or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
        let (account, rest) = rest.split_once('.')?;
        let (fips, region) = if let Some(region) = rest.strip_prefix("dkr.ecr.") {
            (false, region)
        } else {
            (true, rest.strip_prefix("dkr.ecr-fips.")?)
        };
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        let region_ok = !region.is_empty() && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        (account_ok && region_ok).then(|| EcrHost { account: account.to_string(), region: region.to_string(), fips })
    }
}

/// ECR credentials from GetAuthorizationToken, cached per host.
pub struct EcrCredentials {
    sdk: aws_config::SdkConfig,
    refresh_margin: Duration,
    cache: Mutex<HashMap<String, (Credential, SystemTime)>>,
}

impl fmt::Debug for EcrCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcrCredentials")
            .field("endpoint", &self.sdk.endpoint_url())
            .field("cached", &self.cached_hosts())
            .finish_non_exhaustive()
    }
}

impl EcrCredentials {
    /// With the target's AWS settings (credentials, region, optional
    /// endpoint URL), as built for its other AWS calls.
    pub fn new(sdk_config: &aws_config::SdkConfig) -> EcrCredentials {
        EcrCredentials { sdk: sdk_config.clone(), refresh_margin: DEFAULT_REFRESH_MARGIN, cache: Mutex::new(HashMap::new()) }
    }

    /// Replace cached tokens this long before they expire (default 5 minutes).
    pub fn with_refresh_margin(mut self, margin: Duration) -> EcrCredentials {
        self.refresh_margin = margin;
        self
    }

    /// Drops the token kept for `registry`, so the next ask calls ECR: for a
    /// caller that saw the registry refuse it before it expired.
    pub fn forget(&self, registry: &str) {
        self.lock().remove(registry);
    }

    fn cached_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self.lock().keys().cloned().collect();
        hosts.sort();
        hosts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Credential, SystemTime)>> {
        // The map is only ever replaced whole-entry, so a panic elsewhere leaves it consistent.
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cached(&self, registry: &str, now: SystemTime) -> Option<Credential> {
        let mut cache = self.lock();
        match cache.get(registry) {
            Some((credential, until)) if now < *until => Some(credential.clone()),
            Some(_) => {
                cache.remove(registry);
                None
            }
            None => None,
        }
    }

    async fn fetch(&self, registry: &str, host: &EcrHost) -> Result<Credential, String> {
        let region = &host.region;
        let mut config = aws_sdk_ecr::config::Builder::from(&self.sdk).region(aws_sdk_ecr::config::Region::new(region.clone()));
        // FIPS endpoints are chosen by the SDK; an explicit endpoint URL is taken as given.
        if host.fips && self.sdk.endpoint_url().is_none() {
            config = config.use_fips(true);
        }
        if let Some(bounded) = with_operation_timeout(self.sdk.timeout_config()) {
            config = config.timeout_config(bounded);
        }
        let client = aws_sdk_ecr::Client::from_conf(config.build());
        // registryIds is deprecated (ECR now ignores it: a token reaches every registry the caller
        // may use) but harmless, and moto answers per registry id with it.
        #[allow(deprecated)]
        let answer = client
            .get_authorization_token()
            .registry_ids(host.account.clone())
            .send()
            .await
            .map_err(|e| sdk_error(&self.sdk, host, e))?;
        let call = format!("GetAuthorizationToken for account {} in {region}", host.account);
        let data = answer
            .authorization_data()
            .first()
            .ok_or_else(|| format!("{call} answered without authorization data: check that the account id in the registry host is right"))?;
        let token = data.authorization_token().ok_or_else(|| format!("{call} answered without a token: try again; if it persists, check the ECR endpoint"))?;
        let credential = decode_token(token).ok_or_else(|| {
            format!("{call} answered with a token that is not base64 of `AWS:password` (not shown): check that the endpoint URL points at ECR")
        })?;
        let expires = data.expires_at().and_then(|at| SystemTime::try_from(*at).ok());
        match expires.and_then(|at| at.checked_sub(self.refresh_margin)) {
            Some(until) if SystemTime::now() < until => {
                self.lock().insert(registry.to_string(), (credential.clone(), until));
            }
            _ => tracing::debug!(registry, "ECR token expires within the refresh margin (or has no expiry): used once, not cached"),
        }
        Ok(credential)
    }
}

impl CredentialSource for EcrCredentials {
    fn credential<'a>(&'a self, registry: &'a str) -> CredentialFuture<'a> {
        Box::pin(async move {
            let fail = |message: String| CredentialError { registry: registry.to_string(), message };
            let host = EcrHost::parse(registry).ok_or_else(|| {
                fail("not an ECR registry host (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`): route this registry to another credential source".to_string())
            })?;
            if let Some(credential) = self.cached(registry, SystemTime::now()) {
                return Ok(credential);
            }
            self.fetch(registry, &host).await.map_err(fail)
        })
    }

    fn refused(&self, registry: &str) {
        self.forget(registry);
    }
}

/// The caller's timeouts with [`DEFAULT_OPERATION_TIMEOUT`] added when they
/// have no operation timeout; `None` when they have one.
fn with_operation_timeout(given: Option<&TimeoutConfig>) -> Option<TimeoutConfig> {
    if given.and_then(|t| t.operation_timeout()).is_some() {
        return None;
    }
    let mut bounded = TimeoutConfig::builder().operation_timeout(DEFAULT_OPERATION_TIMEOUT);
    if let Some(given) = given {
        if let Some(t) = given.connect_timeout() {
            bounded = bounded.connect_timeout(t);
        }
        if let Some(t) = given.read_timeout() {
            bounded = bounded.read_timeout(t);
        }
        if let Some(t) = given.operation_attempt_timeout() {
            bounded = bounded.operation_attempt_timeout(t);
        }
    }
    Some(bounded.build())
}

/// `base64("AWS:password")` → Basic `AWS` / password.
fn decode_token(token: &str) -> Option<Credential> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (username, password) = text.split_once(':')?;
    (!username.is_empty()).then(|| Credential::Basic { username: username.to_string(), password: Secret::new(password) })
}

fn sdk_error(sdk: &aws_config::SdkConfig, host: &EcrHost, e: SdkError<GetAuthorizationTokenError>) -> String {
    let region = &host.region;
    let call = format!("GetAuthorizationToken for account {} in {region}", host.account);
    let endpoint = sdk.endpoint_url().map(str::to_string).unwrap_or_else(|| format!("https://api.ecr.{region}.amazonaws.com"));
    match &e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let status = service.raw().status().as_u16();
            // What AWS said: the status, and its error code and message when the body could be read.
            let said = match (err.code(), err.message()) {
                (Some(code), Some(text)) => format!("HTTP {status}, {code}: {text}"),
                (Some(code), None) => format!("HTTP {status}, {code}"),
                (None, _) => format!("HTTP {status}"),
            };
            match status {
                401 | 403 => format!(
                    "AWS refused {call} ({said}): check the target's AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or the profile) and that they may call ecr:GetAuthorizationToken"
                ),
                _ => format!("{call} failed at {endpoint} ({said}): check the account and region in the registry host"),
            }
        }
        SdkError::DispatchFailure(failure) if !(failure.is_io() || failure.is_timeout()) => format!(
            "{call} could not be signed or sent ({}): check the target's AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the profile)",
            if failure.is_other() && error_chain(&e).contains("no identity resolver") { "no AWS credentials".to_string() } else { error_chain(&e) }
        ),
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => format!(
            "{call}: cannot reach ECR at {endpoint}: {}: check the network, the region, and the endpoint URL (AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL) if one is set",
            error_chain(&e)
        ),
        _ => format!(
            "{call} could not be sent to {endpoint}: {}: check the target's AWS credentials and region, and the endpoint URL if one is set",
            DisplayErrorContext(&e)
        ),
    }
}

/// An error and its sources, each once.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(source) = next {
        let text = source.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = source.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_hosts() {
        let parsed = EcrHost::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com").unwrap();
        assert_eq!(parsed, EcrHost { account: "123456789012".into(), region: "eu-west-1".into(), fips: false });
        let cn = EcrHost::parse("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn").unwrap();
        assert_eq!(cn.region, "cn-north-1");
        let fips = EcrHost::parse("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com").unwrap();
        assert!(fips.fips && fips.region == "us-gov-west-1");
        assert!(EcrHost::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com:443").is_some());
        for no in [
            "docker.io",
            "12345.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr..amazonaws.com",
            "123456789012.ecr.us-east-1.amazonaws.com",
            "public.ecr.aws",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com:5000",
        ] {
            assert_eq!(EcrHost::parse(no), None, "{no}");
        }
    }

    #[test]
    fn tokens_decode_to_basic_aws() {
        let token = base64::engine::general_purpose::STANDARD.encode("AWS:pass:word");
        assert_eq!(decode_token(&token), Some(Credential::Basic { username: "AWS".into(), password: Secret::new("pass:word") }));
        assert_eq!(decode_token("!!"), None);
        assert_eq!(decode_token(&base64::engine::general_purpose::STANDARD.encode("nocolon")), None);
    }

    #[test]
    fn an_operation_timeout_is_added_only_when_the_caller_has_none() {
        let none = with_operation_timeout(None).unwrap();
        assert_eq!(none.operation_timeout(), Some(DEFAULT_OPERATION_TIMEOUT));
        let connect = TimeoutConfig::builder().connect_timeout(Duration::from_secs(2)).build();
        let added = with_operation_timeout(Some(&connect)).unwrap();
        assert_eq!((added.connect_timeout(), added.operation_timeout()), (Some(Duration::from_secs(2)), Some(DEFAULT_OPERATION_TIMEOUT)));
        let own = TimeoutConfig::builder().operation_timeout(Duration::from_secs(5)).build();
        assert!(with_operation_timeout(Some(&own)).is_none());
    }

    #[test]
    fn cache_keeps_until_the_margin_and_drops_after() {
        let ecr = EcrCredentials::new(&aws_config::SdkConfig::builder().build());
        let now = SystemTime::now();
        let c = Credential::Basic { username: "AWS".into(), password: Secret::new("t") };
        ecr.lock().insert("h".into(), (c.clone(), now + Duration::from_secs(60)));
        assert_eq!(ecr.cached("h", now), Some(c));
        assert_eq!(ecr.cached("h", now + Duration::from_secs(60)), None);
        assert!(ecr.cached_hosts().is_empty());
    }
}
