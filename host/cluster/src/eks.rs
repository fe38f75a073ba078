//! EKS targets (`eks: {cluster, region}`): what `aws eks update-kubeconfig`
//! and `aws eks get-token` do, natively. Credentials come from the standard
//! AWS chain (environment, profile, web identity, IMDS) through aws-config;
//! DescribeCluster (aws-sdk-eks, honouring `AWS_ENDPOINT_URL_EKS` /
//! `AWS_ENDPOINT_URL`) gives the API server's endpoint and CA; the bearer
//! token is a presigned STS GetCallerIdentity URL signing `x-k8s-aws-id:
//! CLUSTER`, `X-Amz-Expires=60`, for the regional STS endpoint as aws-cli v2
//! presigns it, wrapped as `k8s-aws-v1.` + base64url without padding. A token
//! is good for fifteen minutes; it is reported to expire after fourteen (as
//! aws-cli reports it), or earlier with temporary credentials, so callers
//! refresh in time.
//!
//! This file owns the AWS side of a target only. It must not build kube
//! clients or put tokens on requests (`auth.rs` does), never prints a key or
//! a token, and in tests (`AwsEnvironment::Vars`) never reaches anything but
//! the endpoint it is given: no IMDS, no profile credentials.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sdk_eks::config::Region;
use aws_sdk_eks::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_eks::operation::describe_cluster::DescribeClusterError;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;

use crate::{ClusterError, Endpoint, Token, TokenSource};

/// What `aws eks get-token` puts before the base64url of the presigned URL.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The signed header naming the cluster the token is for.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// `X-Amz-Expires` of the presigned URL, as aws-cli sets it (STS ignores it for
/// GetCallerIdentity; aws-iam-authenticator accepts the URL for fifteen minutes).
pub const PRESIGN_EXPIRES: Duration = Duration::from_secs(60);
/// How long a token is reported valid: fifteen minutes less a minute, as
/// aws-cli's `expirationTimestamp` says, so callers refresh before EKS refuses it.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);
/// Credentials are fetched again this long before they expire, and at least
/// this often when they do not say (as the SDK's identity cache does).
const CREDENTIALS_REFRESH: Duration = Duration::from_secs(15 * 60);
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(5 * 60);

const FIX_NO_CREDENTIALS: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys), or AWS_PROFILE to a profile in ~/.aws/config, or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, or run on an instance with a role";

/// Where the AWS settings (credentials, endpoint overrides) come from.
#[derive(Clone, Default)]
pub enum AwsEnvironment {
    /// The process: the full default credential chain (environment, profile,
    /// web identity, IMDS) and the SDK's own reading of `AWS_ENDPOINT_URL_EKS`.
    #[default]
    Process,
    /// These variables only, as if they were the environment: static keys
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and
    /// `AWS_ENDPOINT_URL_EKS` / `AWS_ENDPOINT_URL`. No profile files, no IMDS:
    /// what tests running in parallel use, since they cannot set the process's.
    Vars(BTreeMap<String, String>),
}

impl AwsEnvironment {
    pub fn vars<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> AwsEnvironment {
        AwsEnvironment::Vars(vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

impl fmt::Debug for AwsEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AwsEnvironment::Process => f.write_str("Process"),
            // Names only: the values hold secrets.
            AwsEnvironment::Vars(vars) => f.debug_tuple("Vars").field(&vars.keys().collect::<Vec<_>>()).finish(),
        }
    }
}

/// An EKS target: `connect` resolves it to an [`Endpoint`] and a [`TokenSource`].
pub struct EksCluster;

impl EksCluster {
    /// Describes `cluster` in `region` with the process's AWS settings.
    /// `endpoint_override` replaces the API server URL EKS reports (private
    /// endpoints, tunnels); the CA stays the cluster's.
    pub async fn connect(
        target: &str,
        cluster: &str,
        region: &str,
        endpoint_override: Option<&str>,
    ) -> Result<(Endpoint, EksTokenSource), ClusterError> {
        EksCluster::connect_in(&AwsEnvironment::Process, target, cluster, region, endpoint_override).await
    }

    /// [`EksCluster::connect`] with the AWS settings of `env`.
    #[tracing::instrument(name = "eks_connect", skip(env, endpoint_override))]
    pub async fn connect_in(
        env: &AwsEnvironment,
        target: &str,
        cluster: &str,
        region: &str,
        endpoint_override: Option<&str>,
    ) -> Result<(Endpoint, EksTokenSource), ClusterError> {
        let (sdk, eks_endpoint) = load_config(env, target, region).await?;
        let credentials = sdk.credentials_provider().ok_or_else(|| no_credentials(target, "no credential provider is configured"))?;
        // Resolve once up front: a missing key is a clear error here rather
        // than an opaque dispatch failure of the first call.
        let resolved = credentials.provide_credentials().await.map_err(|e| credentials_error(target, &e))?;

        let mut eks_config = aws_sdk_eks::config::Builder::from(&sdk);
        if let Some(url) = &eks_endpoint {
            eks_config = eks_config.endpoint_url(url.clone());
        }
        let client = aws_sdk_eks::Client::from_conf(eks_config.build());
        let where_ = eks_endpoint.clone().unwrap_or_else(|| format!("https://eks.{region}.amazonaws.com"));
        let described = client
            .describe_cluster()
            .name(cluster)
            .send()
            .await
            .map_err(|e| describe_error(target, cluster, region, &where_, e))?;
        let info = described.cluster().ok_or_else(|| ClusterError::Api {
            target: target.to_string(),
            code: 200,
            message: format!("DescribeCluster of `{cluster}` in {region} answered without a cluster"),
        })?;
        let status = info.status().map(|s| s.as_str().to_string()).unwrap_or_default();
        let url = match (endpoint_override, info.endpoint()) {
            (Some(url), _) => url.to_string(),
            (None, Some(url)) if !url.is_empty() => url.to_string(),
            (None, _) => {
                return Err(ClusterError::Config {
                    target: target.to_string(),
                    message: format!(
                        "EKS cluster `{cluster}` in {region} has no API endpoint yet (status {status}): wait until it is ACTIVE, or give an `endpoint:`"
                    ),
                })
            }
        };
        let ca_data = info.certificate_authority().and_then(|c| c.data()).unwrap_or_default();
        let ca_pem = ca_from_base64(target, cluster, ca_data)?;
        let endpoint = Endpoint { url, ca_pem: Some(ca_pem) };
        tracing::debug!(url = %endpoint.url, %status, "described the EKS cluster");
        let source = EksTokenSource::new(target, cluster, region, credentials);
        *source.cached.lock().await = Some((resolved, SystemTime::now()));
        Ok((endpoint, source))
    }
}

/// The SDK config for `region`, and the EKS endpoint override to apply
/// explicitly (Vars only: in the process the SDK reads its own).
async fn load_config(env: &AwsEnvironment, target: &str, region: &str) -> Result<(aws_config::SdkConfig, Option<String>), ClusterError> {
    load_config_for(env, target, region, "EKS").await
}

/// The AWS SDK settings of `env` for another service of the target's
/// account (`ECR`): region, credentials and, from `Vars`, the endpoint
/// `AWS_ENDPOINT_URL_<SERVICE>` or `AWS_ENDPOINT_URL` set on the config
/// (from the process, the SDK reads those variables itself).
pub async fn sdk_config(env: &AwsEnvironment, target: &str, region: &str, service: &str) -> Result<aws_config::SdkConfig, ClusterError> {
    let (sdk, endpoint) = load_config_for(env, target, region, service).await?;
    Ok(match endpoint {
        Some(url) => sdk.into_builder().endpoint_url(url).build(),
        None => sdk,
    })
}

async fn load_config_for(env: &AwsEnvironment, target: &str, region: &str, service: &str) -> Result<(aws_config::SdkConfig, Option<String>), ClusterError> {
    let loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_string()));
    match env {
        AwsEnvironment::Process => Ok((loader.load().await, None)),
        AwsEnvironment::Vars(vars) => {
            let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
            let (Some(id), Some(secret)) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) else {
                return Err(no_credentials(target, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set"));
            };
            let creds = Credentials::new(id, secret, get("AWS_SESSION_TOKEN"), None, "gantry-vars");
            let endpoint = get(&format!("AWS_ENDPOINT_URL_{service}")).or_else(|| get("AWS_ENDPOINT_URL"));
            // No profile files either: only these variables count.
            #[allow(deprecated)]
            let no_profiles = aws_config::profile::profile_file::ProfileFiles::builder()
                .include_default_config_file(false)
                .include_default_credentials_file(false)
                .with_contents(aws_config::profile::profile_file::ProfileFileKind::Config, "")
                .build();
            let sdk = loader.credentials_provider(creds).profile_files(no_profiles).load().await;
            Ok((sdk, endpoint))
        }
    }
}

fn no_credentials(target: &str, why: &str) -> ClusterError {
    ClusterError::Credentials { target: target.to_string(), message: format!("no AWS credentials found ({why}): {FIX_NO_CREDENTIALS}") }
}

fn credentials_error(target: &str, e: &CredentialsError) -> ClusterError {
    match e {
        CredentialsError::CredentialsNotLoaded(_) => no_credentials(target, &DisplayErrorContext(e).to_string()),
        _ => ClusterError::Credentials {
            target: target.to_string(),
            message: format!("loading AWS credentials failed: {}: check the AWS profile, web identity or instance role settings", DisplayErrorContext(e)),
        },
    }
}

fn describe_error(target: &str, cluster: &str, region: &str, where_: &str, e: SdkError<DescribeClusterError>) -> ClusterError {
    let target = target.to_string();
    match &e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let status = service.raw().status().as_u16();
            let code = err.code().unwrap_or("unknown");
            let text = err.message().unwrap_or("");
            if matches!(err, DescribeClusterError::ResourceNotFoundException(_)) {
                return ClusterError::UnknownCluster {
                    target,
                    message: format!("no EKS cluster `{cluster}` in region {region}: check the cluster name and region (`aws eks list-clusters --region {region}`)"),
                };
            }
            match (status, code) {
                (401 | 403, "AccessDeniedException") => ClusterError::Credentials {
                    target,
                    message: format!("AWS denied DescribeCluster of `{cluster}` in {region} ({code}: {text}): grant the caller eks:DescribeCluster on the cluster"),
                },
                (401 | 403, _) => ClusterError::Credentials {
                    target,
                    message: format!(
                        "AWS refused the credentials for DescribeCluster of `{cluster}` in {region} ({code}: {text}): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or the profile (AWS_PROFILE)"
                    ),
                },
                _ => ClusterError::Api {
                    target,
                    code: status,
                    message: format!("DescribeCluster of `{cluster}` in {region} failed ({code}: {text})"),
                },
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => ClusterError::Unreachable {
            target,
            message: format!(
                "cannot reach the EKS API at {where_} for region {region}: {}: check the network, the region, and AWS_ENDPOINT_URL_EKS / AWS_ENDPOINT_URL if set",
                error_chain(&e)
            ),
        },
        _ => ClusterError::Api {
            target,
            code: 0,
            message: format!("DescribeCluster of `{cluster}` in {region} failed: {}", DisplayErrorContext(&e)),
        },
    }
}

/// `e` and its sources, `: `-joined, each once (without the SDK's Debug
/// dump). gke.rs uses it too.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = s.source();
    }
    out
}

/// The PEM behind `certificateAuthority.data` (base64 of the PEM bundle).
fn ca_from_base64(target: &str, cluster: &str, data: &str) -> Result<String, ClusterError> {
    let bad = |why: &str| ClusterError::Api {
        target: target.to_string(),
        code: 200,
        message: format!("the CA certificate EKS reported for cluster `{cluster}` is unusable ({why}): check that the endpoint is a real EKS API (AWS_ENDPOINT_URL_EKS)"),
    };
    if data.is_empty() {
        return Err(bad("it is empty"));
    }
    let cleaned: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = STANDARD.decode(cleaned).map_err(|e| bad(&format!("not base64: {e}")))?;
    let pem = String::from_utf8(bytes).map_err(|_| bad("not a PEM certificate: the decoded bytes are not text"))?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") || !pem.contains("-----END CERTIFICATE-----") {
        return Err(bad("not a PEM certificate: no BEGIN/END CERTIFICATE block"));
    }
    Ok(pem)
}

/// The STS host `aws eks get-token` presigns for in `region` (aws-cli v2
/// uses the regional endpoint; China regions live under `amazonaws.com.cn`).
pub fn sts_host(region: &str) -> String {
    if region.starts_with("cn-") {
        format!("sts.{region}.amazonaws.com.cn")
    } else {
        format!("sts.{region}.amazonaws.com")
    }
}

/// Mints `k8s-aws-v1.` tokens for one EKS cluster from the credential chain.
#[derive(Clone)]
pub struct EksTokenSource {
    target: String,
    cluster: String,
    region: String,
    credentials: SharedCredentialsProvider,
    /// The last credentials and when they were fetched: the chain itself
    /// does not cache (web identity and IMDS would be asked at every token).
    cached: std::sync::Arc<tokio::sync::Mutex<Option<(Credentials, SystemTime)>>>,
}

impl fmt::Debug for EksTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EksTokenSource").field("target", &self.target).field("cluster", &self.cluster).field("region", &self.region).finish()
    }
}

impl EksTokenSource {
    /// Tokens for `cluster` in `region`, signed with what `credentials` provides.
    pub fn new(target: &str, cluster: &str, region: &str, credentials: impl ProvideCredentials + 'static) -> EksTokenSource {
        EksTokenSource {
            target: target.to_string(),
            cluster: cluster.to_string(),
            region: region.to_string(),
            credentials: SharedCredentialsProvider::new(credentials),
            cached: Default::default(),
        }
    }

    /// The cached credentials while they are fresh, else new ones from the chain.
    async fn credentials(&self) -> Result<Credentials, ClusterError> {
        let mut cached = self.cached.lock().await;
        let now = SystemTime::now();
        if let Some((creds, fetched)) = cached.as_ref() {
            let stale_at = creds.expiry().map(|e| e.checked_sub(CREDENTIALS_MARGIN).unwrap_or(e)).unwrap_or(*fetched + CREDENTIALS_REFRESH);
            if now < stale_at.min(*fetched + CREDENTIALS_REFRESH) {
                return Ok(creds.clone());
            }
        }
        let fresh = self.credentials.provide_credentials().await.map_err(|e| credentials_error(&self.target, &e))?;
        *cached = Some((fresh.clone(), now));
        Ok(fresh)
    }

    /// The token for `credentials` signed at `now`.
    pub fn token_with(&self, credentials: &Credentials, now: SystemTime) -> Result<Token, ClusterError> {
        let url = presign_url(credentials, &self.cluster, &self.region, now).map_err(|message| ClusterError::Credentials {
            target: self.target.clone(),
            message: format!("signing the EKS token failed: {message}"),
        })?;
        let mut expires = now + TOKEN_LIFETIME;
        if let Some(creds_expire) = credentials.expiry() {
            expires = expires.min(creds_expire);
        }
        Ok(Token { value: format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(url)), expires: Some(expires) })
    }
}

#[async_trait::async_trait]
impl TokenSource for EksTokenSource {
    async fn token(&self) -> Result<Token, ClusterError> {
        let credentials = self.credentials().await?;
        self.token_with(&credentials, SystemTime::now())
    }
}

/// The presigned `GET https://sts.REGION.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-…`.
fn presign_url(credentials: &Credentials, cluster: &str, region: &str, now: SystemTime) -> Result<String, String> {
    let base = format!("https://{}/?Action=GetCallerIdentity&Version=2011-06-15", sts_host(region));
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN_EXPIRES);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let headers = [(CLUSTER_ID_HEADER, cluster)];
    let signable = SignableRequest::new("GET", base.as_str(), headers.into_iter(), SignableBody::Bytes(&[])).map_err(|e| e.to_string())?;
    let (instructions, _signature) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
    let mut request = http::Request::builder()
        .method("GET")
        .uri(base.as_str())
        .header(CLUSTER_ID_HEADER, cluster)
        .body(())
        .map_err(|e| e.to_string())?;
    instructions.apply_to_request_http1x(&mut request);
    // aws-sigv4 appends X-Amz-Security-Token after the signature; botocore
    // (so `aws eks get-token`) puts the signature last. Same signature, but
    // the token is then the CLI's byte for byte.
    let url = request.uri().to_string();
    let Some((path, query)) = url.split_once('?') else { return Ok(url) };
    let (signature, mut rest): (Vec<&str>, Vec<&str>) = query.split('&').partition(|p| p.starts_with("X-Amz-Signature="));
    rest.extend(signature);
    Ok(format!("{path}?{}", rest.join("&")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_sim::cloud::{AwsIam, AwsPrincipal};

    fn decode(token: &str) -> url::Url {
        let encoded = token.strip_prefix(TOKEN_PREFIX).unwrap();
        assert!(!encoded.contains('='), "no padding: {encoded}");
        url::Url::parse(&String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap()).unwrap()
    }

    fn creds_of(p: &AwsPrincipal) -> Credentials {
        let c = &p.credentials;
        Credentials::new(&c.access_key_id, &c.secret_access_key, c.session_token.clone(), None, "test")
    }

    #[test]
    fn tokens_are_presigned_get_caller_identity_urls_as_aws_eks_get_token_makes_them() {
        let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "test");
        let source = EksTokenSource::new("prod", "prod-eks", "eu-west-1", creds.clone());
        let now = SystemTime::now();
        let token = source.token_with(&creds, now).unwrap();
        assert_eq!(token.expires, Some(now + TOKEN_LIFETIME));
        let url = decode(&token.value);
        assert_eq!(url.scheme(), "https");
        assert_eq!(url.host_str(), Some("sts.eu-west-1.amazonaws.com"));
        assert_eq!(url.path(), "/");
        let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["Action"], "GetCallerIdentity");
        assert_eq!(q["Version"], "2011-06-15");
        assert_eq!(q["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert_eq!(q["X-Amz-Expires"], "60");
        assert_eq!(q["X-Amz-SignedHeaders"], "host;x-k8s-aws-id");
        assert!(q["X-Amz-Credential"].ends_with("/eu-west-1/sts/aws4_request"), "{}", q["X-Amz-Credential"]);
        assert_eq!(q["X-Amz-Signature"].len(), 64);
        assert_eq!(sts_host("cn-north-1"), "sts.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn the_simulated_verifier_accepts_the_token_only_for_its_cluster_and_secret() {
        let iam = AwsIam::default();
        let deployer = AwsPrincipal::user("111122223333", "deployer");
        iam.add(deployer.clone());
        let role = AwsPrincipal::assumed_role("111122223333", "deploy", "ci");
        iam.add(role.clone());
        let now = time::OffsetDateTime::now_utc();
        let verify = |token: &str, cluster: &str| gantry_sim::cloud::sts::verify_token(token, cluster, "111122223333", &iam, now);
        let source = EksTokenSource::new("prod", "prod-eks", "eu-west-1", creds_of(&deployer));
        let token = source.token_with(&creds_of(&deployer), SystemTime::now()).unwrap();
        assert_eq!(verify(&token.value, "prod-eks").unwrap().arn, deployer.arn);
        assert!(verify(&token.value, "other").is_err(), "a token names its cluster");
        // Temporary credentials: the session token travels in the URL, and the token expires with them.
        let expiry = SystemTime::now() + Duration::from_secs(300);
        let mut temp = creds_of(&role);
        *temp.expiry_mut() = Some(expiry);
        let token = source.token_with(&temp, SystemTime::now()).unwrap();
        assert_eq!(token.expires, Some(expiry));
        assert!(decode(&token.value).query_pairs().any(|(k, _)| k == "X-Amz-Security-Token"));
        assert_eq!(verify(&token.value, "prod-eks").unwrap().arn, role.arn);
        let wrong = Credentials::new(&deployer.credentials.access_key_id, "not-the-secret", None, None, "test");
        let token = source.token_with(&wrong, SystemTime::now()).unwrap();
        assert_eq!(verify(&token.value, "prod-eks").unwrap_err(), gantry_sim::cloud::sts::EksTokenError::SignatureDoesNotMatch);
    }

    /// Hands out keys expiring `lifetime` from now, counting the calls.
    #[derive(Debug)]
    struct Counting {
        calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        lifetime: Duration,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let expiry = SystemTime::now() + self.lifetime;
            aws_credential_types::provider::future::ProvideCredentials::ready(Ok(Credentials::new("ASIAX", "s", Some("t".into()), Some(expiry), "test")))
        }
    }

    #[tokio::test]
    async fn credentials_are_reused_until_shortly_before_they_expire() {
        for (lifetime, expected_calls) in [(Duration::from_secs(3600), 1), (Duration::from_secs(120), 3)] {
            let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let source = EksTokenSource::new("t", "c", "eu-west-1", Counting { calls: calls.clone(), lifetime });
            for _ in 0..3 {
                let token = source.token().await.unwrap();
                // A token never outlives the keys that signed it.
                assert!(token.expires.unwrap() <= SystemTime::now() + lifetime.min(TOKEN_LIFETIME));
            }
            assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), expected_calls, "{lifetime:?}");
        }
    }

    #[test]
    fn a_ca_that_is_not_base64_pem_is_refused_clearly() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(ca_from_base64("t", "c", &STANDARD.encode(pem)).unwrap(), pem);
        for (data, why) in [("", "empty"), ("%%%", "not base64"), (&STANDARD.encode("random-ca-data")[..], "no BEGIN/END CERTIFICATE")] {
            let msg = ca_from_base64("t", "c", data).unwrap_err().to_string();
            assert!(msg.contains("target `t`") && msg.contains("cluster `c`") && msg.contains(why), "{msg}");
        }
    }

    #[test]
    fn vars_debug_shows_names_not_secrets() {
        let env = AwsEnvironment::vars([("AWS_SECRET_ACCESS_KEY", "very-secret")]);
        let shown = format!("{env:?}");
        assert!(shown.contains("AWS_SECRET_ACCESS_KEY") && !shown.contains("very-secret"), "{shown}");
    }
}
