//! ECR's GetAuthorizationToken on the simulated cloud control plane, on the
//! wire (the aws CLI's own use of it is in `registry_docker.rs`): a JSON 1.1
//! POST naming the operation in `X-Amz-Target`, SigV4-checked for service
//! `ecr` like DescribeCluster is for `eks`; the answer's token is Basic
//! `AWS:<password>` for the ECR-shaped registry of the caller's account and
//! the signed region, valid twelve hours. Unsigned, badly signed and unknown
//! operations are refused in ECR's shapes, and an injected fault comes back
//! as a JSON 1.1 error, not as STS's XML.

use base64::Engine as _;
use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::registry_protocol::{basic, header, Http, ACCOUNT, REGION};
use gantry_sim::cloud::sigv4::{self, Scope};
use gantry_sim::cloud::{AwsPrincipal, CloudRegistry, ControlPlane};
use gantry_sim::faults::FaultRule;
use gantry_sim::registry::{Shape, SimRegistry};

const TARGET: &str = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";

/// The headers of an SDK's signed JSON 1.1 request to `port`, as `principal` in `region`.
fn signed(principal: &AwsPrincipal, port: u16, target: &str, body: &[u8], region: &str, service: &str) -> Vec<(String, String)> {
    let now = OffsetDateTime::now_utc();
    let date = sigv4::amz_date(now);
    let mut headers = vec![
        ("host".to_string(), format!("127.0.0.1:{port}")),
        ("x-amz-date".to_string(), date.clone()),
        ("x-amz-target".to_string(), target.to_string()),
        ("content-type".to_string(), "application/x-amz-json-1.1".to_string()),
    ];
    let auth = sigv4::authorization_header(&principal.credentials, "POST", "/", &[], &headers, body, &Scope::new(now, region, service), &date);
    headers.push(("authorization".to_string(), auth));
    headers
}

async fn post(port: u16, headers: &[(String, String)], body: &[u8]) -> (u16, String, Value) {
    let pairs: Vec<(&str, &str)> = headers.iter().filter(|(k, _)| k != "host").map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, h, body) = Http::new(port, None).call(Method::POST, "/", &pairs, Bytes::copy_from_slice(body)).await;
    (status.as_u16(), header(&h, "x-amzn-errortype"), serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn get_authorization_token_answers_a_signed_call_with_a_password_the_ecr_shaped_registry_takes() {
    let clouds = CloudRegistry::default();
    let deployer = AwsPrincipal::user(ACCOUNT, "deployer");
    clouds.aws.add(deployer.clone());
    let cp = ControlPlane::start(clouds.clone()).await.unwrap();
    let port = cp.addr().port();
    let registry = SimRegistry::start(Shape::Ecr { account_id: ACCOUNT.into(), region: REGION.into() }, &clouds).await.unwrap();

    let (status, _, answer) = post(port, &signed(&deployer, port, TARGET, b"{}", REGION, "ecr"), b"{}").await;
    assert_eq!(status, 200, "{answer}");
    let data = &answer["authorizationData"][0];
    assert_eq!(data["proxyEndpoint"], format!("https://{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"));
    let expires = data["expiresAt"].as_i64().unwrap();
    let hours = (expires - OffsetDateTime::now_utc().unix_timestamp()) as f64 / 3600.0;
    assert!((11.9..=12.0).contains(&hours), "{hours} hours");
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data["authorizationToken"].as_str().unwrap()).unwrap()).unwrap();
    let (user, password) = decoded.split_once(':').unwrap();
    assert_eq!(user, "AWS");
    let http = Http::new(registry.addr().port(), Some(basic(user, password)));
    assert_eq!(http.call(Method::GET, "/v2/", &[], Bytes::new()).await.0.as_u16(), 200);

    // Signed for another region: a token for that region's registry, not this one's.
    let (status, _, answer) = post(port, &signed(&deployer, port, TARGET, b"", "us-east-1", "ecr"), b"").await;
    assert_eq!(status, 200);
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(answer["authorizationData"][0]["authorizationToken"].as_str().unwrap()).unwrap()).unwrap();
    let east = Http::new(registry.addr().port(), Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(&decoded))));
    assert_eq!(east.call(Method::GET, "/v2/", &[], Bytes::new()).await.0.as_u16(), 401);
}

#[tokio::test]
async fn unsigned_forged_and_unknown_calls_are_refused_in_ecrs_shapes() {
    let clouds = CloudRegistry::default();
    let deployer = AwsPrincipal::user(ACCOUNT, "deployer");
    clouds.aws.add(deployer.clone());
    let cp = ControlPlane::start(clouds).await.unwrap();
    let port = cp.addr().port();

    let unsigned = vec![("x-amz-target".to_string(), TARGET.to_string()), ("content-type".to_string(), "application/x-amz-json-1.1".to_string())];
    let (status, kind, _) = post(port, &unsigned, b"{}").await;
    assert_eq!((status, kind.as_str()), (400, "MissingAuthenticationTokenException"));
    let stranger = AwsPrincipal::user(ACCOUNT, "stranger");
    let (status, kind, _) = post(port, &signed(&stranger, port, TARGET, b"{}", REGION, "ecr"), b"{}").await;
    assert_eq!((status, kind.as_str()), (400, "UnrecognizedClientException"));
    let (status, kind, answer) = post(port, &signed(&deployer, port, TARGET, b"{}", REGION, "eks"), b"{}").await;
    assert_eq!((status, kind.as_str()), (400, "InvalidSignatureException"), "{answer}");
    // The body is signed: another body does not match the signature.
    let (status, kind, _) = post(port, &signed(&deployer, port, TARGET, b"{}", REGION, "ecr"), br#"{"registryIds":["999999999999"]}"#).await;
    assert_eq!((status, kind.as_str()), (400, "InvalidSignatureException"));
    let other = "AmazonEC2ContainerRegistry_V20150921.CreateRepository";
    let (status, kind, answer) = post(port, &signed(&deployer, port, other, b"{}", REGION, "ecr"), b"{}").await;
    assert_eq!((status, kind.as_str()), (400, "UnknownOperationException"));
    assert!(answer["message"].as_str().unwrap().contains("CreateRepository"), "{answer}");
    let bad = br#"{"registryIds":["12"]}"#;
    let (status, kind, _) = post(port, &signed(&deployer, port, TARGET, bad, REGION, "ecr"), bad).await;
    assert_eq!((status, kind.as_str()), (400, "InvalidParameterException"));

    cp.faults().add(FaultRule::status(503).message("ECR is having a moment").path("/").times(1)).unwrap();
    let (status, kind, answer) = post(port, &signed(&deployer, port, TARGET, b"{}", REGION, "ecr"), b"{}").await;
    assert_eq!((status, kind.as_str()), (503, "ServerException"));
    assert_eq!(answer, json!({"__type": "ServerException", "message": "ECR is having a moment"}));
}
