//! EKS bearer tokens: `k8s-aws-v1.` + base64url (no padding) of a presigned
//! STS GetCallerIdentity URL, as `aws eks get-token` and
//! aws-iam-authenticator make them. This file owns both sides: the
//! presigner (what a client does — the tests' stand-in for the CLI) and the
//! verifier a simulated EKS API server plugs into its `Authenticator`.
//!
//! The verifier does what aws-iam-authenticator does before it calls STS
//! (size, prefix, https, STS host, path `/`, whitelisted single-valued
//! parameters, `Action=GetCallerIdentity`, `x-k8s-aws-id` signed,
//! `X-Amz-Expires` ≤ 900, valid for 15 minutes after `X-Amz-Date`) and then
//! what STS does: it recomputes the SigV4 signature from the secret of the
//! access key, with `x-k8s-aws-id` set to this cluster's name, so a token
//! for another cluster or signed with another secret fails. It must not
//! accept anything it could not recompute, and it never logs a token.
//!
//! It also answers STS GetCallerIdentity itself (the call
//! `aws sts get-caller-identity` makes, SigV4-checked by `eks.rs`'s request
//! check), so the sim's keys can be tried like real ones.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use time::{Duration, OffsetDateTime};

use crate::auth::{Identity, TokenVerifier};
use crate::cloud::aws::{AwsIam, AwsPrincipal};
use crate::cloud::sigv4::{self, Credentials, CredentialScope, PresignRequest};

pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The header the presigned URL signs, holding the cluster name.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// Presigned STS URLs are valid this long after `X-Amz-Date`, whatever `X-Amz-Expires` says.
pub const TOKEN_VALIDITY: Duration = Duration::minutes(15);
/// aws-iam-authenticator's limit.
pub const MAX_TOKEN_LEN: usize = 4096;
/// What `aws eks get-token` puts in `X-Amz-Expires` (ignored by STS).
pub const PRESIGN_EXPIRES_SECS: u64 = 60;
/// How far in the future `X-Amz-Date` may be (STS's clock-skew allowance).
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(15);

const ALLOWED_PARAMS: &[&str] = &[
    "action",
    "version",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-signedheaders",
];

/// Why a token was refused. The messages follow aws-iam-authenticator and STS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EksTokenError {
    #[error("input token was not properly formatted: {0}")]
    Format(String),
    #[error("X-Amz-Date parameter is expired ({1} s expiration) {0}")]
    Expired(String, i64),
    #[error("Signature not yet current: {0} is too far in the future")]
    NotYetValid(String),
    #[error("The security token included in the request is invalid (unknown access key id)")]
    InvalidClientTokenId,
    #[error("The security token included in the request is invalid (session token does not match the access key)")]
    InvalidSessionToken,
    #[error("The request signature we calculated does not match the signature you provided")]
    SignatureDoesNotMatch,
    #[error("{0} has no access to cluster {1} (it belongs to another account)")]
    NoAccess(String, String),
}

fn format_err(msg: impl Into<String>) -> EksTokenError {
    EksTokenError::Format(msg.into())
}

/// The STS endpoint host of a region (`None`: the global endpoint, signed for us-east-1).
pub fn sts_host(region: Option<&str>) -> String {
    match region {
        Some(r) => format!("sts.{r}.amazonaws.com"),
        None => "sts.amazonaws.com".to_string(),
    }
}

/// The signing region of an STS host, or None when it is not one.
pub fn sts_host_region(host: &str) -> Option<String> {
    if host == "sts.amazonaws.com" {
        return Some("us-east-1".to_string());
    }
    let region = host.strip_prefix("sts.")?.strip_suffix(".amazonaws.com")?;
    let valid = !region.is_empty()
        && region.split('-').count() >= 3
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    valid.then(|| region.to_string())
}

/// A token exactly as `aws eks get-token --cluster-name CLUSTER [--region R]`
/// makes it at `now` (`region` None: the global STS endpoint).
pub fn presign_token(creds: &Credentials, cluster: &str, region: Option<&str>, now: OffsetDateTime) -> String {
    let host = sts_host(region);
    let url = presign_url(creds, &host, region.unwrap_or("us-east-1"), cluster, now);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(url))
}

/// The presigned GetCallerIdentity URL behind a token.
pub fn presign_url(creds: &Credentials, host: &str, signing_region: &str, cluster: &str, now: OffsetDateTime) -> String {
    let query = sigv4::presign_query(
        creds,
        &PresignRequest {
            method: "GET",
            host,
            path: "/",
            query: vec![("Action".into(), "GetCallerIdentity".into()), ("Version".into(), "2011-06-15".into())],
            headers: vec![(CLUSTER_ID_HEADER.into(), cluster.into())],
            region: signing_region,
            service: "sts",
            time: now,
            expires_secs: PRESIGN_EXPIRES_SECS,
        },
    );
    format!("https://{host}/?{query}")
}

/// Checks `token` for the cluster `cluster` of account `account_id` at `now`
/// and returns the principal it was signed by.
pub fn verify_token(
    token: &str,
    cluster: &str,
    account_id: &str,
    iam: &AwsIam,
    now: OffsetDateTime,
) -> Result<AwsPrincipal, EksTokenError> {
    verify_token_within(token, cluster, account_id, iam, now, TOKEN_VALIDITY)
}

/// `verify_token` with another validity than STS's fifteen minutes (tests
/// of a client's refresh use a short one).
pub fn verify_token_within(
    token: &str,
    cluster: &str,
    account_id: &str,
    iam: &AwsIam,
    now: OffsetDateTime,
    validity: Duration,
) -> Result<AwsPrincipal, EksTokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(format_err("token is too large"));
    }
    let encoded = token
        .strip_prefix(TOKEN_PREFIX)
        .ok_or_else(|| format_err(format!("token is missing expected {TOKEN_PREFIX:?} prefix")))?;
    let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|e| format_err(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| format_err("pre-signed URL is not UTF-8"))?;
    let url = url::Url::parse(&text).map_err(|e| format_err(e.to_string()))?;
    if url.scheme() != "https" {
        return Err(format_err(format!("unexpected scheme {:?} in pre-signed URL", url.scheme())));
    }
    let host = url.host_str().unwrap_or_default();
    let region = match (url.port(), sts_host_region(host)) {
        (None, Some(region)) if url.username().is_empty() && url.password().is_none() => region,
        _ => return Err(format_err(format!("unexpected hostname {host:?} in pre-signed URL"))),
    };
    if url.path() != "/" || url.fragment().is_some() {
        return Err(format_err("unexpected path in pre-signed URL"));
    }
    let pairs = sigv4::parse_query(url.query().unwrap_or_default()).map_err(|_| format_err("malformed query parameter"))?;
    let mut params = std::collections::HashMap::new();
    for (k, v) in &pairs {
        let lower = k.to_ascii_lowercase();
        if !ALLOWED_PARAMS.contains(&lower.as_str()) {
            return Err(format_err(format!("non-whitelisted query parameter {k:?}")));
        }
        if params.insert(lower, v.as_str()).is_some() {
            return Err(format_err("query parameter with multiple values not supported"));
        }
    }
    let get = |k: &str| params.get(k).copied().unwrap_or_default();
    if get("action") != "GetCallerIdentity" {
        return Err(format_err("unexpected action parameter in pre-signed URL"));
    }
    if get("version") != "2011-06-15" {
        return Err(format_err("unexpected version parameter in pre-signed URL"));
    }
    let signed_headers = sigv4::parse_signed_headers(get("x-amz-signedheaders"));
    if !signed_headers.iter().any(|h| h == CLUSTER_ID_HEADER) {
        return Err(format_err(format!("client did not sign the {CLUSTER_ID_HEADER} header in the pre-signed URL")));
    }
    match get("x-amz-expires").parse::<u64>() {
        Ok(e) if e <= 900 => {}
        _ => return Err(format_err(format!("invalid X-Amz-Expires parameter in pre-signed URL: {:?}", get("x-amz-expires")))),
    }
    let amz_date = get("x-amz-date");
    if amz_date.is_empty() {
        return Err(format_err("X-Amz-Date parameter must be present in pre-signed URL"));
    }
    let date = sigv4::parse_amz_date(amz_date).map_err(|e| format_err(e.to_string()))?;
    if now > date + validity {
        return Err(EksTokenError::Expired(amz_date.to_string(), validity.whole_seconds()));
    }
    if date > now + MAX_CLOCK_SKEW {
        return Err(EksTokenError::NotYetValid(amz_date.to_string()));
    }
    if get("x-amz-algorithm") != sigv4::ALGORITHM {
        return Err(format_err("unexpected X-Amz-Algorithm in pre-signed URL"));
    }
    let credential = CredentialScope::parse(get("x-amz-credential")).map_err(|e| format_err(e.to_string()))?;
    let scope = &credential.scope;
    if scope.service != "sts" || scope.region != region || scope.date != amz_date[..8] {
        return Err(format_err(format!("credential scope {scope} does not match sts in {region} on {}", &amz_date[..8])));
    }
    let principal = iam.get(&credential.access_key_id).ok_or(EksTokenError::InvalidClientTokenId)?;
    let given_token = params.get("x-amz-security-token").copied();
    if given_token != principal.credentials.session_token.as_deref() {
        return Err(EksTokenError::InvalidSessionToken);
    }
    // STS sees the request aws-iam-authenticator replays: the URL, plus the
    // cluster-id header set to the cluster doing the checking.
    let headers = vec![("host".to_string(), host.to_string()), (CLUSTER_ID_HEADER.to_string(), cluster.to_string())];
    let unsigned: Vec<(String, String)> =
        pairs.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("x-amz-signature")).cloned().collect();
    let creq = sigv4::canonical_request(
        "GET",
        "/",
        &sigv4::canonical_query(&unsigned),
        &headers,
        &signed_headers,
        sigv4::EMPTY_SHA256,
    );
    let expected = sigv4::signature(&principal.credentials.secret_access_key, amz_date, scope, &creq);
    if !sigv4::signatures_match(&expected, get("x-amz-signature")) {
        return Err(EksTokenError::SignatureDoesNotMatch);
    }
    if principal.account_id != account_id {
        return Err(EksTokenError::NoAccess(principal.arn.clone(), cluster.to_string()));
    }
    Ok(principal)
}

/// The GetCallerIdentity answer for `principal`: STS's XML, or its JSON
/// shape when the caller asked for `application/json`.
pub fn caller_identity_body(principal: &AwsPrincipal, request_id: &str, json: bool) -> String {
    if json {
        return serde_json::json!({
            "GetCallerIdentityResponse": {
                "GetCallerIdentityResult": {
                    "Account": principal.account_id,
                    "Arn": principal.arn,
                    "UserId": principal.user_id,
                },
                "ResponseMetadata": { "RequestId": request_id },
            }
        })
        .to_string();
    }
    let esc = |v: &str| v.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <GetCallerIdentityResult>\n    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
        esc(&principal.arn),
        esc(&principal.user_id),
        esc(&principal.account_id),
        esc(request_id)
    )
}

/// STS's error document (query protocol), for a refused call.
pub fn error_body(code: &str, message: &str, request_id: &str) -> String {
    let esc = |v: &str| v.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        esc(code),
        esc(message),
        esc(request_id)
    )
}

/// Accepts `k8s-aws-v1.` tokens for one simulated EKS cluster.
#[derive(Clone)]
pub struct EksTokenVerifier {
    cluster: String,
    account_id: String,
    iam: AwsIam,
    validity: Duration,
}

impl EksTokenVerifier {
    pub fn new(cluster: &str, account_id: &str, iam: AwsIam) -> EksTokenVerifier {
        EksTokenVerifier { cluster: cluster.to_string(), account_id: account_id.to_string(), iam, validity: TOKEN_VALIDITY }
    }

    /// Tokens expire `validity` after signing instead of fifteen minutes.
    pub fn with_validity(mut self, validity: Duration) -> EksTokenVerifier {
        self.validity = validity;
        self
    }

    pub fn verify_at(&self, token: &str, now: OffsetDateTime) -> Result<Identity, EksTokenError> {
        verify_token_within(token, &self.cluster, &self.account_id, &self.iam, now, self.validity).map(|p| p.identity())
    }
}

impl TokenVerifier for EksTokenVerifier {
    fn verify(&self, token: &str) -> Option<Identity> {
        if !token.starts_with(TOKEN_PREFIX) {
            return None;
        }
        match self.verify_at(token, OffsetDateTime::now_utc()) {
            Ok(identity) => {
                tracing::debug!(cluster = %self.cluster, user = %identity.user, "accepted EKS token");
                Some(identity)
            }
            Err(error) => {
                tracing::info!(cluster = %self.cluster, %error, "refused EKS token");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "111122223333";

    fn setup() -> (AwsIam, AwsPrincipal) {
        let iam = AwsIam::default();
        let p = AwsPrincipal::user(ACCOUNT, "deployer");
        iam.add(p.clone());
        (iam, p)
    }

    fn now() -> OffsetDateTime {
        sigv4::parse_amz_date("20240102T120000Z").unwrap()
    }

    fn decode(token: &str) -> String {
        String::from_utf8(URL_SAFE_NO_PAD.decode(token.strip_prefix(TOKEN_PREFIX).unwrap()).unwrap()).unwrap()
    }

    fn encode(url: &str) -> String {
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(url))
    }

    #[test]
    fn a_cli_shaped_token_is_accepted_and_names_the_caller() {
        let (iam, p) = setup();
        let token = presign_token(&p.credentials, "prod", Some("eu-west-1"), now());
        let url = decode(&token);
        assert!(url.starts_with("https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="), "{url}");
        assert!(url.contains("%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20240102T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature="), "{url}");
        let got = verify_token(&token, "prod", ACCOUNT, &iam, now()).unwrap();
        assert_eq!(got.arn, "arn:aws:iam::111122223333:user/deployer");
        let v = EksTokenVerifier::new("prod", ACCOUNT, iam);
        assert_eq!(v.verify_at(&token, now() + Duration::minutes(14)).unwrap().user, p.arn);
    }

    #[test]
    fn the_global_endpoint_and_session_credentials_are_accepted() {
        let iam = AwsIam::default();
        let role = AwsPrincipal::assumed_role(ACCOUNT, "ci", "run-1");
        iam.add(role.clone());
        let token = presign_token(&role.credentials, "prod", None, now());
        assert!(decode(&token).starts_with("https://sts.amazonaws.com/?"));
        assert!(decode(&token).contains("X-Amz-Security-Token="));
        let got = verify_token(&token, "prod", ACCOUNT, &iam, now()).unwrap();
        assert_eq!(got.identity().user, "arn:aws:sts::111122223333:assumed-role/ci/run-1");

        // The same keys without their session token are not valid.
        let mut stripped = role.credentials.clone();
        stripped.session_token = None;
        let token = presign_token(&stripped, "prod", None, now());
        assert_eq!(verify_token(&token, "prod", ACCOUNT, &iam, now()), Err(EksTokenError::InvalidSessionToken));
    }

    #[test]
    fn a_wrong_secret_or_unknown_key_is_refused() {
        let (iam, p) = setup();
        let mut wrong = p.credentials.clone();
        wrong.secret_access_key.push('x');
        let token = presign_token(&wrong, "prod", Some("us-west-2"), now());
        assert_eq!(verify_token(&token, "prod", ACCOUNT, &iam, now()), Err(EksTokenError::SignatureDoesNotMatch));
        let stranger = AwsPrincipal::user(ACCOUNT, "stranger");
        let token = presign_token(&stranger.credentials, "prod", Some("us-west-2"), now());
        assert_eq!(verify_token(&token, "prod", ACCOUNT, &iam, now()), Err(EksTokenError::InvalidClientTokenId));
    }

    #[test]
    fn a_token_for_another_cluster_is_refused() {
        let (iam, p) = setup();
        let token = presign_token(&p.credentials, "staging", Some("us-west-2"), now());
        assert_eq!(verify_token(&token, "prod", ACCOUNT, &iam, now()), Err(EksTokenError::SignatureDoesNotMatch));
    }

    #[test]
    fn a_principal_of_another_account_has_no_access() {
        let (iam, p) = setup();
        let token = presign_token(&p.credentials, "prod", Some("us-west-2"), now());
        assert!(matches!(verify_token(&token, "prod", "999999999999", &iam, now()), Err(EksTokenError::NoAccess(..))));
    }

    #[test]
    fn tokens_expire_fifteen_minutes_after_signing_and_cannot_come_from_the_future() {
        let (iam, p) = setup();
        let token = presign_token(&p.credentials, "prod", Some("us-west-2"), now());
        assert!(verify_token(&token, "prod", ACCOUNT, &iam, now() + Duration::minutes(15)).is_ok());
        assert!(matches!(
            verify_token(&token, "prod", ACCOUNT, &iam, now() + Duration::minutes(15) + Duration::seconds(1)),
            Err(EksTokenError::Expired(..))
        ));
        assert!(matches!(
            verify_token(&token, "prod", ACCOUNT, &iam, now() - Duration::minutes(16)),
            Err(EksTokenError::NotYetValid(_))
        ));
    }

    /// Re-signs a URL whose query was edited, so only the edit can be blamed.
    fn resign(p: &AwsPrincipal, host: &str, region: &str, query: Vec<(String, String)>, headers: Vec<(String, String)>) -> String {
        let q = sigv4::presign_query(
            &p.credentials,
            &PresignRequest {
                method: "GET",
                host,
                path: "/",
                query,
                headers,
                region,
                service: "sts",
                time: now(),
                expires_secs: 60,
            },
        );
        encode(&format!("https://{host}/?{q}"))
    }

    fn base_query() -> Vec<(String, String)> {
        vec![("Action".into(), "GetCallerIdentity".into()), ("Version".into(), "2011-06-15".into())]
    }

    #[test]
    fn an_unsigned_cluster_id_is_refused_even_when_the_signature_is_right() {
        let (iam, p) = setup();
        let token = resign(&p, "sts.us-west-2.amazonaws.com", "us-west-2", base_query(), vec![]);
        let err = verify_token(&token, "prod", ACCOUNT, &iam, now()).unwrap_err();
        assert!(err.to_string().contains("did not sign the x-k8s-aws-id header"), "{err}");
    }

    #[test]
    fn a_non_sts_host_is_refused_even_when_the_signature_is_right() {
        let (iam, p) = setup();
        let cluster = vec![(CLUSTER_ID_HEADER.to_string(), "prod".to_string())];
        for host in ["evil.example.com", "sts.us-west-2.amazonaws.com.evil.com", "iam.amazonaws.com", "sts..amazonaws.com"] {
            let token = resign(&p, host, "us-west-2", base_query(), cluster.clone());
            let err = verify_token(&token, "prod", ACCOUNT, &iam, now()).unwrap_err();
            assert!(err.to_string().contains("unexpected hostname"), "{host}: {err}");
        }
        // An http URL, a port, another path, another action: all refused.
        let good = decode(&presign_token(&p.credentials, "prod", Some("us-west-2"), now()));
        for bad in [
            good.replacen("https://", "http://", 1),
            good.replacen(".amazonaws.com/", ".amazonaws.com:8443/", 1),
            good.replacen(".com/?", ".com/x?", 1),
            good.replacen("GetCallerIdentity", "AssumeRole", 1),
            format!("{good}&Extra=1"),
            format!("{good}&Action=GetCallerIdentity"),
        ] {
            assert!(verify_token(&encode(&bad), "prod", ACCOUNT, &iam, now()).is_err(), "{bad}");
        }
        // A region in the scope that is not the host's.
        let token = resign(&p, "sts.us-west-2.amazonaws.com", "eu-west-1", base_query(), cluster);
        assert!(verify_token(&token, "prod", ACCOUNT, &iam, now()).is_err());
    }

    #[test]
    fn a_tampered_url_fails_the_signature() {
        let (iam, p) = setup();
        let good = decode(&presign_token(&p.credentials, "prod", Some("us-west-2"), now()));
        let tampered = good.replacen("X-Amz-Expires=60", "X-Amz-Expires=61", 1);
        assert_eq!(verify_token(&encode(&tampered), "prod", ACCOUNT, &iam, now()), Err(EksTokenError::SignatureDoesNotMatch));
        let later = good.replacen("T120000Z", "T120500Z", 1);
        assert_eq!(verify_token(&encode(&later), "prod", ACCOUNT, &iam, now()), Err(EksTokenError::SignatureDoesNotMatch));
    }

    #[test]
    fn garbage_is_refused_and_the_verifier_ignores_foreign_tokens() {
        let (iam, p) = setup();
        for bad in [
            "".to_string(),
            "k8s-aws-v1.".to_string(),
            "k8s-aws-v1.!!!!".to_string(),
            "k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8=".to_string(),
            encode("not a url"),
            encode("https://sts.amazonaws.com/"),
            format!("k8s-aws-v1.{}", "A".repeat(MAX_TOKEN_LEN)),
            presign_token(&p.credentials, "prod", None, now()).replacen("k8s-aws-v1.", "k8s-aws-v2.", 1),
        ] {
            assert!(verify_token(&bad, "prod", ACCOUNT, &iam, now()).is_err(), "{bad}");
        }
        let v = EksTokenVerifier::new("prod", ACCOUNT, iam);
        assert!(v.verify("ya29.something").is_none());
        assert!(v.verify(&presign_token(&p.credentials, "prod", None, now())).is_none(), "a token signed in 2024 is long expired");
    }

    #[test]
    fn caller_identity_has_the_sts_shapes() {
        let (_, p) = setup();
        let xml = caller_identity_body(&p, "r-1", false);
        assert!(xml.contains("<Arn>arn:aws:iam::111122223333:user/deployer</Arn>") && xml.contains("<Account>111122223333</Account>"), "{xml}");
        let json: serde_json::Value = serde_json::from_str(&caller_identity_body(&p, "r-1", true)).unwrap();
        assert_eq!(json["GetCallerIdentityResponse"]["GetCallerIdentityResult"]["UserId"], p.user_id);
        assert!(error_body("InvalidClientTokenId", "a <b>", "r").contains("<Message>a &lt;b&gt;</Message>"));
    }

    #[test]
    fn a_shorter_validity_expires_tokens_sooner() {
        let (iam, p) = setup();
        let v = EksTokenVerifier::new("prod", ACCOUNT, iam).with_validity(Duration::seconds(60));
        let token = presign_token(&p.credentials, "prod", Some("us-west-2"), now());
        assert!(v.verify_at(&token, now() + Duration::seconds(60)).is_ok());
        let err = v.verify_at(&token, now() + Duration::seconds(61)).unwrap_err();
        assert_eq!(err, EksTokenError::Expired("20240102T120000Z".into(), 60));
        assert!(err.to_string().contains("60 s expiration"), "{err}");
    }

    #[test]
    fn the_verifier_accepts_a_fresh_token_on_the_real_clock() {
        let (iam, p) = setup();
        let v = EksTokenVerifier::new("prod", ACCOUNT, iam);
        let token = presign_token(&p.credentials, "prod", Some("us-east-2"), OffsetDateTime::now_utc());
        assert_eq!(v.verify(&token).map(|i| i.user), Some(p.arn));
    }
}
