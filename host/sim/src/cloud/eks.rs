//! The EKS control plane's read side: simulated cluster registrations (name,
//! region, account, API server endpoint and CA — supplied by whoever runs
//! the API server) and the DescribeCluster / ListClusters answers in the
//! real restJson1 shapes, for SDK requests whose SigV4 `Authorization`
//! header is checked against the sim's AWS keys first.
//!
//! This file owns the request check (service `eks`, signed `host` and date,
//! fifteen minutes of clock skew, session tokens) and the JSON; it must not
//! do HTTP plumbing (`http.rs` does) nor verify cluster tokens (`sts.rs`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::cloud::aws::{AwsIam, AwsPrincipal};
use crate::cloud::sigv4::{self, AuthorizationHeader};

/// The SigV4 service name of the EKS API.
pub const SERVICE: &str = "eks";
/// How far a request's date may be from the server's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(15);

/// One simulated EKS cluster, as DescribeCluster reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksCluster {
    pub name: String,
    pub region: String,
    /// 12 digits.
    pub account_id: String,
    /// The API server, `https://…`.
    pub endpoint: String,
    /// The API server's CA certificate, PEM.
    pub ca_pem: String,
    /// Kubernetes minor version, e.g. `1.31`.
    pub version: String,
    pub platform_version: String,
    pub created_at: OffsetDateTime,
}

impl EksCluster {
    pub fn new(name: &str, region: &str, account_id: &str, endpoint: &str, ca_pem: &str) -> EksCluster {
        EksCluster {
            name: name.to_string(),
            region: region.to_string(),
            account_id: account_id.to_string(),
            endpoint: endpoint.to_string(),
            ca_pem: ca_pem.to_string(),
            version: "1.31".to_string(),
            platform_version: "eks.12".to_string(),
            created_at: OffsetDateTime::now_utc(),
        }
    }

    pub fn arn(&self) -> String {
        format!("arn:aws:eks:{}:{}:cluster/{}", self.region, self.account_id, self.name)
    }

    /// The DescribeCluster response body.
    pub fn describe_json(&self) -> Value {
        let created = self.created_at.unix_timestamp_nanos() as f64 / 1e9;
        let oidc_id = sigv4::sha256_hex(self.arn().as_bytes())[..32].to_ascii_uppercase();
        json!({
            "cluster": {
                "name": self.name,
                "arn": self.arn(),
                "createdAt": created,
                "version": self.version,
                "endpoint": self.endpoint,
                "roleArn": format!("arn:aws:iam::{}:role/eks-cluster-role", self.account_id),
                "resourcesVpcConfig": {
                    "subnetIds": [],
                    "securityGroupIds": [],
                    "vpcId": "vpc-0sim",
                    "endpointPublicAccess": true,
                    "endpointPrivateAccess": false,
                    "publicAccessCidrs": ["0.0.0.0/0"]
                },
                "kubernetesNetworkConfig": { "serviceIpv4Cidr": "10.100.0.0/16", "ipFamily": "ipv4" },
                "logging": { "clusterLogging": [{ "types": ["api", "audit", "authenticator", "controllerManager", "scheduler"], "enabled": false }] },
                "identity": { "oidc": { "issuer": format!("https://oidc.eks.{}.amazonaws.com/id/{oidc_id}", self.region) } },
                "status": "ACTIVE",
                "certificateAuthority": { "data": STANDARD.encode(&self.ca_pem) },
                "platformVersion": self.platform_version,
                "tags": {},
                "accessConfig": { "authenticationMode": "API_AND_CONFIG_MAP" }
            }
        })
    }
}

/// Why an AWS API request was refused (HTTP 403 for all of them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsAuthError {
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    #[error("{0}")]
    IncompleteSignature(String),
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    #[error("{0}")]
    InvalidSignature(String),
}

impl AwsAuthError {
    /// The `x-amzn-ErrorType` an AWS service answers with.
    pub fn error_type(&self) -> &'static str {
        match self {
            AwsAuthError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            AwsAuthError::IncompleteSignature(_) => "IncompleteSignatureException",
            AwsAuthError::UnrecognizedClient => "UnrecognizedClientException",
            AwsAuthError::InvalidSignature(_) => "InvalidSignatureException",
        }
    }
}

const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// A received request, as the signature check needs it.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as it came on the wire (still percent-encoded).
    pub path: &'a str,
    /// The raw query string.
    pub query: &'a str,
    /// Every header, in order, names in any case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// The principal behind a SigV4-signed request to `service`, and the region
/// it signed for.
pub fn verify_signed_request(
    iam: &AwsIam,
    service: &str,
    req: &SignedRequest<'_>,
    now: OffsetDateTime,
) -> Result<(AwsPrincipal, String), AwsAuthError> {
    let header = |name: &str| req.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let auth = header("authorization").ok_or(AwsAuthError::MissingAuthenticationToken)?;
    let auth = AuthorizationHeader::parse(auth).map_err(|e| AwsAuthError::IncompleteSignature(e.to_string()))?;
    let scope = &auth.credential.scope;
    if scope.service != service {
        return Err(AwsAuthError::InvalidSignature(format!("Credential should be scoped to correct service: '{service}'.")));
    }
    let signed = |h: &str| auth.signed_headers.iter().any(|s| s == h);
    if !signed("host") {
        return Err(AwsAuthError::InvalidSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.".into()));
    }
    let amz_date = header("x-amz-date")
        .filter(|_| signed("x-amz-date"))
        .ok_or_else(|| AwsAuthError::IncompleteSignature("Authorization header requires existence of a signed 'X-Amz-Date' header.".into()))?;
    let date = sigv4::parse_amz_date(amz_date).map_err(|e| AwsAuthError::IncompleteSignature(e.to_string()))?;
    if (date - now).abs() > MAX_CLOCK_SKEW {
        return Err(AwsAuthError::InvalidSignature(format!(
            "Signature expired: {amz_date} is now earlier or later than 15 minutes from {}",
            sigv4::amz_date(now)
        )));
    }
    if scope.date != amz_date[..8] {
        return Err(AwsAuthError::InvalidSignature(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP".into(),
        ));
    }
    let principal = iam.get(&auth.credential.access_key_id).ok_or(AwsAuthError::UnrecognizedClient)?;
    if header("x-amz-security-token") != principal.credentials.session_token.as_deref() {
        return Err(AwsAuthError::UnrecognizedClient);
    }
    if principal.credentials.session_token.is_some() && !signed("x-amz-security-token") {
        return Err(AwsAuthError::InvalidSignature(SIGNATURE_MISMATCH.into()));
    }
    let payload_hash = sigv4::sha256_hex(req.body);
    if let Some(claimed) = header("x-amz-content-sha256") {
        if claimed != payload_hash && claimed != "UNSIGNED-PAYLOAD" {
            return Err(AwsAuthError::InvalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed.".into()));
        }
    }
    let query = sigv4::parse_query(req.query).map_err(|e| AwsAuthError::InvalidSignature(e.to_string()))?;
    let creq = sigv4::canonical_request(
        req.method,
        &sigv4::canonical_uri(req.path),
        &sigv4::canonical_query(&query),
        req.headers,
        &auth.signed_headers,
        &payload_hash,
    );
    let expected = sigv4::signature(&principal.credentials.secret_access_key, amz_date, scope, &creq);
    if !sigv4::signatures_match(&expected, &auth.signature) {
        return Err(AwsAuthError::InvalidSignature(SIGNATURE_MISMATCH.into()));
    }
    Ok((principal, scope.region.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::sigv4::Scope;

    fn now() -> OffsetDateTime {
        sigv4::parse_amz_date("20240102T120000Z").unwrap()
    }

    /// Signs like an AWS SDK: host, x-amz-date, x-amz-user-agent (and the session token).
    fn sign(p: &AwsPrincipal, path: &str, at: OffsetDateTime, region: &str) -> Vec<(String, String)> {
        let date = sigv4::amz_date(at);
        let mut headers = vec![
            ("host".to_string(), "127.0.0.1:4510".to_string()),
            ("x-amz-date".to_string(), date.clone()),
            ("x-amz-user-agent".to_string(), "aws-sdk-rust/1.0 api/eks/1.0".to_string()),
        ];
        if let Some(t) = &p.credentials.session_token {
            headers.push(("x-amz-security-token".to_string(), t.clone()));
        }
        let auth = sigv4::authorization_header(&p.credentials, "GET", path, &[], &headers, b"", &Scope::new(at, region, "eks"), &date);
        headers.push(("user-agent".to_string(), "unsigned".to_string()));
        headers.push(("authorization".to_string(), auth));
        headers
    }

    fn req<'a>(path: &'a str, headers: &'a [(String, String)]) -> SignedRequest<'a> {
        SignedRequest { method: "GET", path, query: "", headers, body: b"" }
    }

    #[test]
    fn a_signed_sdk_request_names_its_principal_and_region() {
        let iam = AwsIam::default();
        let p = AwsPrincipal::user("111122223333", "deployer");
        iam.add(p.clone());
        let h = sign(&p, "/clusters/prod", now(), "eu-west-1");
        let (got, region) = verify_signed_request(&iam, SERVICE, &req("/clusters/prod", &h), now()).unwrap();
        assert_eq!((got.arn.as_str(), region.as_str()), (p.arn.as_str(), "eu-west-1"));

        let role = AwsPrincipal::assumed_role("111122223333", "ci", "s");
        iam.add(role.clone());
        let h = sign(&role, "/clusters/prod", now(), "eu-west-1");
        assert!(verify_signed_request(&iam, SERVICE, &req("/clusters/prod", &h), now()).is_ok());
    }

    #[test]
    fn bad_requests_get_the_aws_error_types() {
        let iam = AwsIam::default();
        let p = AwsPrincipal::user("111122223333", "deployer");
        iam.add(p.clone());
        let check = |h: &[(String, String)], path: &str, at: OffsetDateTime| {
            verify_signed_request(&iam, SERVICE, &req(path, h), at).map(|_| ()).map_err(|e| e.error_type())
        };
        let good = sign(&p, "/clusters/prod", now(), "us-east-1");
        assert_eq!(check(&good, "/clusters/prod", now()), Ok(()));
        assert_eq!(check(&good, "/clusters/other", now()), Err("InvalidSignatureException"));
        assert_eq!(check(&good, "/clusters/prod", now() + Duration::minutes(16)), Err("InvalidSignatureException"));
        assert_eq!(check(&[], "/clusters/prod", now()), Err("MissingAuthenticationTokenException"));
        let garbled: Vec<_> = good.iter().map(|(k, v)| if k == "authorization" { (k.clone(), "AWS4-HMAC-SHA256 nonsense".to_string()) } else { (k.clone(), v.clone()) }).collect();
        assert_eq!(check(&garbled, "/clusters/prod", now()), Err("IncompleteSignatureException"));
        let stranger = AwsPrincipal::user("111122223333", "stranger");
        assert_eq!(check(&sign(&stranger, "/clusters/prod", now(), "us-east-1"), "/clusters/prod", now()), Err("UnrecognizedClientException"));
        let mut wrong = p.clone();
        wrong.credentials.secret_access_key = "x".repeat(40);
        assert_eq!(check(&sign(&wrong, "/clusters/prod", now(), "us-east-1"), "/clusters/prod", now()), Err("InvalidSignatureException"));
        // A signed header changed in transit.
        let changed: Vec<_> = good.iter().map(|(k, v)| if k == "x-amz-user-agent" { (k.clone(), "other".to_string()) } else { (k.clone(), v.clone()) }).collect();
        assert_eq!(check(&changed, "/clusters/prod", now()), Err("InvalidSignatureException"));
        // An unsigned header changed in transit is fine.
        let unsigned: Vec<_> = good.iter().map(|(k, v)| if k == "user-agent" { (k.clone(), "other".to_string()) } else { (k.clone(), v.clone()) }).collect();
        assert_eq!(check(&unsigned, "/clusters/prod", now()), Ok(()));
    }

    #[test]
    fn describe_cluster_has_the_real_shape() {
        let c = EksCluster::new("prod", "eu-west-1", "111122223333", "https://127.0.0.1:6443", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        let v = c.describe_json();
        let cl = &v["cluster"];
        assert_eq!(cl["arn"], "arn:aws:eks:eu-west-1:111122223333:cluster/prod");
        assert_eq!(cl["status"], "ACTIVE");
        assert_eq!(cl["endpoint"], "https://127.0.0.1:6443");
        let ca = STANDARD.decode(cl["certificateAuthority"]["data"].as_str().unwrap()).unwrap();
        assert_eq!(String::from_utf8(ca).unwrap(), c.ca_pem);
        assert!(cl["createdAt"].as_f64().unwrap() > 1.7e9);
        let issuer = cl["identity"]["oidc"]["issuer"].as_str().unwrap();
        let id = issuer.strip_prefix("https://oidc.eks.eu-west-1.amazonaws.com/id/").unwrap();
        assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)), "{id}");
    }
}
