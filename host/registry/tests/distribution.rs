//! The distribution client against the real docker-registry (2.8): the
//! harness itself (anonymous, htpasswd and token auth come up and answer as
//! a registry does), then the client's pulls, pushes, mounts, copies and
//! errors. Each test starts its own registries on loopback.

use std::io::{Read, Write};

use base64::Engine as _;
use gantry_registry::testing::registry::{DockerRegistry, RegistryAuth, TOKEN_SERVICE};

/// A blocking HTTP/1.0 GET on loopback: (status, headers and body as text).
fn raw_get(url: &str, authorization: Option<&str>) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n{auth}\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[test]
fn the_harness_starts_docker_registry_anonymous_basic_and_token() {
    let Some(open) = DockerRegistry::start(RegistryAuth::None) else { return };
    assert_eq!(raw_get(&format!("{}/v2/", open.url()), None).0, 200, "{}", open.log());

    let Some(basic) = DockerRegistry::start(RegistryAuth::basic("ci", "s3cret")) else { return };
    let (status, text) = raw_get(&format!("{}/v2/", basic.url()), None);
    assert_eq!(status, 401);
    assert!(text.contains("Basic realm"), "{text}");
    let creds = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
    assert_eq!(raw_get(&format!("{}/v2/", basic.url()), Some(&format!("Basic {creds}"))).0, 200, "{}", basic.log());

    let Some(token) = DockerRegistry::start(RegistryAuth::token("ci", "s3cret")) else { return };
    let (status, text) = raw_get(&format!("{}/v2/", token.url()), None);
    assert_eq!(status, 401);
    assert!(text.contains("Bearer realm") && text.contains(TOKEN_SERVICE), "{text}");
    let realm = token.token_realm().unwrap();
    let (status, answer) = raw_get(&format!("{realm}?service={TOKEN_SERVICE}&scope=repository:team/app:pull"), Some(&format!("Basic {creds}")));
    assert_eq!(status, 200, "{answer}");
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let jwt = serde_json::from_str::<serde_json::Value>(body).unwrap()["token"].as_str().unwrap().to_string();
    let (status, text) = raw_get(&format!("{}/v2/", token.url()), Some(&format!("Bearer {jwt}")));
    assert_eq!(status, 200, "the registry accepts the token server's JWT: {text}\n{}", token.log());
    let requests = token.token_requests();
    assert_eq!(requests[0].user.as_deref(), Some("ci"));
    assert_eq!(requests[0].granted, vec!["repository:team/app:pull".to_string()]);
}
