//! AWS Signature Version 4, both ways: signing (the presigned STS URL an EKS
//! token carries, and the `Authorization` header an SDK sends) and checking
//! (recomputing the signature from the secret the sim knows). Pure functions
//! over strings and bytes: this file owns the canonical request, the string
//! to sign, the signing key and the `AWS4-HMAC-SHA256` header grammar. It
//! must not know about STS, EKS or who the callers are — `sts.rs` and
//! `eks.rs` decide what a valid request is; this file only says whether the
//! arithmetic matches. It never logs a secret or a signature.

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// The only algorithm SigV4 (as opposed to SigV4a) defines.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// `hex(sha256(""))`: the payload hash of a request without a body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Malformed SigV4 input (the signature itself is compared elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    #[error("malformed query string: {0}")]
    Query(String),
    #[error("malformed Authorization header: {0}")]
    Authorization(String),
    #[error("malformed credential scope {0:?} (want AKID/YYYYMMDD/REGION/SERVICE/aws4_request)")]
    Scope(String),
    #[error("malformed X-Amz-Date {0:?} (want YYYYMMDDTHHMMSSZ)")]
    Date(String),
}

/// An access key pair, with the session token of temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The credential scope: `YYYYMMDD/REGION/SERVICE/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub date: String,
    pub region: String,
    pub service: String,
}

impl Scope {
    pub fn new(time: OffsetDateTime, region: &str, service: &str) -> Scope {
        Scope { date: amz_date(time)[..8].to_string(), region: region.to_string(), service: service.to_string() }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

/// `X-Amz-Credential` / `Credential=`: an access key id and its scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    pub access_key_id: String,
    pub scope: Scope,
}

impl CredentialScope {
    pub fn parse(s: &str) -> Result<CredentialScope, SigV4Error> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [akid, date, region, service, "aws4_request"]
                if !akid.is_empty()
                    && date.len() == 8
                    && date.bytes().all(|b| b.is_ascii_digit())
                    && !region.is_empty()
                    && !service.is_empty() =>
            {
                Ok(CredentialScope {
                    access_key_id: akid.to_string(),
                    scope: Scope { date: date.to_string(), region: region.to_string(), service: service.to_string() },
                })
            }
            _ => Err(SigV4Error::Scope(s.to_string())),
        }
    }
}

/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    pub credential: CredentialScope,
    /// Lower-case names, in the order given (SigV4 requires them sorted).
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl AuthorizationHeader {
    pub fn parse(value: &str) -> Result<AuthorizationHeader, SigV4Error> {
        let rest = value
            .strip_prefix(ALGORITHM)
            .filter(|r| r.starts_with(' '))
            .ok_or_else(|| SigV4Error::Authorization(format!("not an {ALGORITHM} authorization")))?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let part = part.trim();
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| SigV4Error::Authorization(format!("component without '=': {part:?}")))?;
            let slot = match k {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                _ => return Err(SigV4Error::Authorization(format!("unknown component {k:?}"))),
            };
            if slot.replace(v.to_string()).is_some() {
                return Err(SigV4Error::Authorization(format!("{k} given twice")));
            }
        }
        let credential = credential.ok_or_else(|| SigV4Error::Authorization("no Credential".into()))?;
        let signed = signed.ok_or_else(|| SigV4Error::Authorization("no SignedHeaders".into()))?;
        let signature = signature.ok_or_else(|| SigV4Error::Authorization("no Signature".into()))?;
        Ok(AuthorizationHeader {
            credential: CredentialScope::parse(&credential)?,
            signed_headers: parse_signed_headers(&signed),
            signature,
        })
    }
}

/// `host;x-amz-date` → `["host", "x-amz-date"]` (lower-cased, empties dropped).
pub fn parse_signed_headers(s: &str) -> Vec<String> {
    s.split(';').filter(|h| !h.is_empty()).map(|h| h.to_ascii_lowercase()).collect()
}

/// SigV4's URI encoding: everything but `A-Za-z0-9-_.~` as `%XX` (upper-case
/// hex); `/` kept when `encode_slash` is false (paths).
pub fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b'/' if !encode_slash => out.push('/'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// The canonical URI of a path as it appears on the wire. Every AWS service
/// but S3 encodes the (already encoded) path once more, so `%` becomes `%25`.
pub fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        "/".to_string()
    } else {
        uri_encode(path, false)
    }
}

/// Splits a raw query string into decoded pairs (`+` is a space, as in form
/// encoding). Empty components are skipped; `k` alone is `k=""`.
pub fn parse_query(raw: &str) -> Result<Vec<(String, String)>, SigV4Error> {
    let decode = |s: &str| -> Result<String, SigV4Error> {
        let s = s.replace('+', " ");
        percent_decode_str(&s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| SigV4Error::Query(format!("component {s:?} is not UTF-8 once decoded")))
    };
    raw.split('&')
        .filter(|c| !c.is_empty())
        .map(|c| {
            let (k, v) = c.split_once('=').unwrap_or((c, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

/// The canonical query string: every pair encoded, sorted by key then value.
pub fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> =
        pairs.iter().map(|(k, v)| (uri_encode(k, true), uri_encode(v, true))).collect();
    encoded.sort();
    encoded.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// A header value as SigV4 canonicalises it: trimmed, inner runs of
/// whitespace collapsed to one space.
pub fn canonical_header_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical request. `headers` holds (name, value) pairs in any case and
/// order, repeated names allowed (joined with `,` in order); only the names
/// in `signed_headers` are used, and a signed header with no value is an
/// empty value (the signature will then simply not match).
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &[(String, String)],
    signed_headers: &[String],
    payload_hash: &str,
) -> String {
    let mut signed: Vec<String> = signed_headers.iter().map(|h| h.to_ascii_lowercase()).collect();
    signed.sort();
    signed.dedup();
    let mut out = format!("{method}\n{canonical_uri}\n{canonical_query}\n");
    for name in &signed {
        let values: Vec<String> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| canonical_header_value(v))
            .collect();
        let _ = writeln!(out, "{name}:{}", values.join(","));
    }
    let _ = write!(out, "\n{}\n{payload_hash}", signed.join(";"));
    out
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub fn string_to_sign(amz_date: &str, scope: &Scope, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

pub fn signing_key(secret: &str, scope: &Scope) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), scope.date.as_bytes());
    let k_region = hmac_sha256(&k_date, scope.region.as_bytes());
    let k_service = hmac_sha256(&k_region, scope.service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// The hex signature of a canonical request.
pub fn signature(secret: &str, amz_date: &str, scope: &Scope, canonical_request: &str) -> String {
    let key = signing_key(secret, scope);
    hex::encode(hmac_sha256(&key, string_to_sign(amz_date, scope, canonical_request).as_bytes()))
}

/// Compares two signatures without an early exit.
pub fn signatures_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `20150830T123600Z`.
pub fn amz_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub fn parse_amz_date(s: &str) -> Result<OffsetDateTime, SigV4Error> {
    let bad = || SigV4Error::Date(s.to_string());
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, SigV4Error> {
        let part = s.get(r).ok_or_else(bad)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    let month = Month::try_from(num(4..6)? as u8).map_err(|_| bad())?;
    let date = Date::from_calendar_date(num(0..4)? as i32, month, num(6..8)? as u8).map_err(|_| bad())?;
    let t = Time::from_hms(num(9..11)? as u8, num(11..13)? as u8, num(13..15)? as u8).map_err(|_| bad())?;
    Ok(PrimitiveDateTime::new(date, t).assume_utc())
}

/// What to presign: the request a URL stands for.
pub struct PresignRequest<'a> {
    pub method: &'a str,
    /// `host` or `host:port`, as the URL will carry it.
    pub host: &'a str,
    pub path: &'a str,
    /// The request's own query parameters (decoded).
    pub query: Vec<(String, String)>,
    /// Extra headers to sign besides `host` (the caller sends them).
    pub headers: Vec<(String, String)>,
    pub region: &'a str,
    pub service: &'a str,
    pub time: OffsetDateTime,
    pub expires_secs: u64,
}

/// Presigns a request the way the AWS SDKs do: the `X-Amz-*` parameters go
/// in the query (including `X-Amz-Security-Token`, signed), the payload is
/// the empty body. Returns the full query string, `X-Amz-Signature` last.
pub fn presign_query(creds: &Credentials, req: &PresignRequest<'_>) -> String {
    let date = amz_date(req.time);
    let scope = Scope::new(req.time, req.region, req.service);
    let mut headers = vec![("host".to_string(), req.host.to_string())];
    headers.extend(req.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())));
    let mut signed: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
    signed.sort();
    signed.dedup();
    let mut query = req.query.clone();
    query.push(("X-Amz-Algorithm".into(), ALGORITHM.into()));
    query.push(("X-Amz-Credential".into(), format!("{}/{scope}", creds.access_key_id)));
    query.push(("X-Amz-Date".into(), date.clone()));
    query.push(("X-Amz-Expires".into(), req.expires_secs.to_string()));
    if let Some(token) = &creds.session_token {
        query.push(("X-Amz-Security-Token".into(), token.clone()));
    }
    query.push(("X-Amz-SignedHeaders".into(), signed.join(";")));
    let canonical_q = canonical_query(&query);
    let creq = canonical_request(req.method, &canonical_uri(req.path), &canonical_q, &headers, &signed, EMPTY_SHA256);
    let sig = signature(&creds.secret_access_key, &date, &scope, &creq);
    format!("{canonical_q}&X-Amz-Signature={sig}")
}

/// Signs a request with an `Authorization` header, as the SDKs do. `headers`
/// must already hold `host` and `x-amz-date` (and `x-amz-security-token` for
/// session credentials); every header given is signed. Returns the header value.
#[allow(clippy::too_many_arguments)]
pub fn authorization_header(
    creds: &Credentials,
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    payload: &[u8],
    scope: &Scope,
    amz_date: &str,
) -> String {
    let mut signed: Vec<String> = headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
    signed.sort();
    signed.dedup();
    let creq = canonical_request(
        method,
        &canonical_uri(path),
        &canonical_query(query),
        headers,
        &signed,
        &sha256_hex(payload),
    );
    let sig = signature(&creds.secret_access_key, amz_date, scope, &creq);
    format!("{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={sig}", creds.access_key_id, signed.join(";"))
}

#[cfg(test)]
mod tests {
    //! Vectors from the AWS SigV4 test suite as published in
    //! awslabs/aws-c-auth `tests/aws-signing-test-suite/v4/*` (the
    //! successor of the suite in the AWS General Reference): credentials
    //! AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, region
    //! us-east-1, service `service`, time 2015-08-30T12:36:00Z.
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const HOST: &str = "example.amazonaws.com";

    fn creds(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: SECRET.into(),
            session_token: token.map(String::from),
        }
    }

    fn when() -> OffsetDateTime {
        parse_amz_date("20150830T123600Z").unwrap()
    }

    fn scope() -> Scope {
        Scope::new(when(), "us-east-1", "service")
    }

    fn pairs(raw: &str) -> Vec<(String, String)> {
        parse_query(raw).unwrap()
    }

    /// `query-signature.txt` of a GET vector, presigned for 3600 s.
    fn presigned_signature(token: Option<&str>, path: &str, query: &str) -> (String, String) {
        let q = presign_query(
            &creds(token),
            &PresignRequest {
                method: "GET",
                host: HOST,
                path,
                query: pairs(query),
                headers: vec![],
                region: "us-east-1",
                service: "service",
                time: when(),
                expires_secs: 3600,
            },
        );
        let (canonical, sig) = q.rsplit_once("&X-Amz-Signature=").unwrap();
        (canonical.to_string(), sig.to_string())
    }

    #[test]
    fn presigned_get_vanilla_query_order_key_case_matches_the_suite() {
        let (canonical, sig) = presigned_signature(None, "/", "Param2=value2&Param1=value1");
        assert_eq!(
            canonical,
            "Param1=value1&Param2=value2&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
        );
        assert_eq!(sig, "86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5");
    }

    #[test]
    fn presigned_get_vanilla_with_session_token_signs_the_token() {
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
        let (_, sig) = presigned_signature(Some(token), "/", "");
        assert_eq!(sig, "7ff2b50b376cb4d151970630573d6291dc128cc5c2a12ffb237f73cc53f67b6c");
    }

    #[test]
    fn presigned_query_encoding_matches_the_suite() {
        // get-vanilla-utf8-query, get-vanilla-query-order-encoded, get-vanilla-query-unreserved
        assert_eq!(
            presigned_signature(None, "/", "%E1%88%B4=bar").1,
            "0bdd809b1519ac4f0c1dc3540e2cc46bd0c7f778eda408b2ebf3b913d21ff600"
        );
        assert_eq!(
            presigned_signature(None, "/", "Param-3=Value3&Param=Value2&%E1%88%B4=Value1").1,
            "c5f1848ceec943ac2ca68ee720460c23aaae30a2300586597ada94c4a65e4787"
        );
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        assert_eq!(
            presigned_signature(None, "/", &format!("{unreserved}={unreserved}")).1,
            "8e76a88a7433637b12778d5592799b29ad21ecd6cf6325051c21d86f0acda2bf"
        );
    }

    fn header_signed(token: Option<&str>, method: &str, path: &str, query: &str, extra: &[(&str, &str)], body: &[u8]) -> AuthorizationHeader {
        let mut headers = vec![("Host".to_string(), HOST.to_string()), ("X-Amz-Date".to_string(), "20150830T123600Z".to_string())];
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        if let Some(t) = token {
            headers.push(("X-Amz-Security-Token".into(), t.into()));
        }
        let value = authorization_header(&creds(token), method, path, &pairs(query), &headers, body, &scope(), "20150830T123600Z");
        AuthorizationHeader::parse(&value).unwrap()
    }

    #[test]
    fn header_signed_vectors_match_the_suite() {
        let a = header_signed(None, "GET", "/", "Param2=value2&Param1=value1", &[], b"");
        assert_eq!(a.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
        assert_eq!(a.signed_headers, ["host", "x-amz-date"]);
        let t = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
        assert_eq!(
            header_signed(Some(t), "GET", "/", "", &[], b"").signature,
            "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"
        );
        assert_eq!(
            header_signed(None, "GET", "/ሴ", "", &[], b"").signature,
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"
        );
        assert_eq!(
            header_signed(None, "GET", "/example space/", "", &[], b"").signature,
            "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"
        );
    }

    #[test]
    fn header_signed_post_with_body_hash_matches_the_suite() {
        // post-x-www-form-urlencoded: the body hash is both the payload hash and a signed header.
        let body = b"Param1=value1";
        let a = header_signed(
            None,
            "POST",
            "/",
            "",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Length", "13"),
                ("x-amz-content-sha256", &sha256_hex(body)),
            ],
            body,
        );
        assert_eq!(a.signature, "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b");
    }

    #[test]
    fn canonical_request_matches_the_suite_text() {
        let headers = vec![("Host".to_string(), HOST.to_string()), ("X-Amz-Date".to_string(), "20150830T123600Z".to_string())];
        let signed = parse_signed_headers("host;x-amz-date");
        let creq = canonical_request("GET", &canonical_uri("/"), &canonical_query(&pairs("Param2=value2&Param1=value1")), &headers, &signed, EMPTY_SHA256);
        assert_eq!(
            creq,
            "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn authorization_header_grammar_is_strict() {
        let ok = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/eks/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        let a = AuthorizationHeader::parse(ok).unwrap();
        assert_eq!(a.credential.access_key_id, "AKIDEXAMPLE");
        assert_eq!(a.credential.scope.service, "eks");
        for bad in [
            "",
            "Bearer x",
            "AWS4-HMAC-SHA256Credential=x",
            "AWS4-HMAC-SHA256 Credential=AKID/2015/us-east-1/eks/aws4_request, SignedHeaders=host, Signature=a",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/eks/aws4_request, SignedHeaders=host",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/eks/aws4_request, SignedHeaders=host, Signature=a, Signature=b",
        ] {
            assert!(AuthorizationHeader::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn amz_dates_round_trip_and_reject_garbage() {
        assert_eq!(amz_date(when()), "20150830T123600Z");
        for bad in ["", "20150830T123600", "2015083OT123600Z", "20151330T123600Z", "20150830T250000Z", "２0150830T12360Z"] {
            assert!(parse_amz_date(bad).is_err(), "{bad:?}");
        }
    }
}
