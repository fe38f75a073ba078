//! The simulated registries' distribution API held against a raw HTTP/1.1
//! client (hyper, no registry library in between), so every status, header
//! and error code is the one on the wire: chunked uploads with their
//! Content-Range checks (416 out of order), digest verification
//! (DIGEST_INVALID), manifests that reference what is not there
//! (MANIFEST_BLOB_UNKNOWN), cross-repository mounts (201, or 202 when not
//! mountable), tags and catalog pages with their `Link`, deletes, the
//! memory bound, and both auth shapes: ECR's Basic `AWS:<token>` (unknown,
//! expired and other-region tokens refused with ECR's words) and Artifact
//! Registry's token endpoint for `oauth2accesstoken:<access token>`, with
//! its `PROJECT/REPOSITORY/IMAGE` paths of known projects. Credentials never
//! appear in an answer. Everything runs in-process on 127.0.0.1.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, HOST, LOCATION};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use gantry_sim::cloud::{CloudRegistry, ServiceAccountKey};
use gantry_sim::registry::{RegistryOptions, Shape, SimRegistry};

pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "eu-west-1";

/// A raw client of one registry on 127.0.0.1, sending `authorization` on every request.
pub struct Http {
    pub port: u16,
    pub authorization: Option<String>,
}

pub type Answer = (StatusCode, HeaderMap, Bytes);

impl Http {
    pub fn new(port: u16, authorization: Option<String>) -> Http {
        Http { port, authorization }
    }

    /// One request (`target` is a path, or an absolute URL on this registry).
    pub async fn call(&self, method: Method, target: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Answer {
        let path = target.strip_prefix(&format!("http://127.0.0.1:{}", self.port)).unwrap_or(target).to_string();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.expect("registry reachable");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.expect("handshake");
        tokio::spawn(conn);
        let mut req = Request::builder().method(method).uri(path).header(HOST, format!("127.0.0.1:{}", self.port));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(a) = &self.authorization {
            req = req.header(AUTHORIZATION, HeaderValue::from_str(a).expect("header"));
        }
        let resp = sender.send_request(req.body(Full::new(body.into())).expect("request")).await.expect("answer");
        let (parts, body) = resp.into_parts();
        (parts.status, parts.headers, body.collect().await.expect("body").to_bytes())
    }

    /// Uploads a blob monolithically (POST with `?digest=`); returns its digest.
    pub async fn push_blob(&self, repo: &str, blob: &[u8]) -> String {
        let digest = digest(blob);
        let (status, _, body) = self.call(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={digest}"), &[], Bytes::copy_from_slice(blob)).await;
        assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
        digest
    }

    /// Pushes a one-layer OCI image as `repo:tag` whose layer holds `content`; returns the manifest digest.
    pub async fn push_image(&self, repo: &str, tag: &str, content: &str) -> String {
        let layer = content.as_bytes().to_vec();
        let layer_digest = self.push_blob(repo, &layer).await;
        let config = serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer_digest]}})).expect("config");
        let config_digest = self.push_blob(repo, &config).await;
        let manifest = manifest_json(&config_digest, config.len(), &[(&layer_digest, layer.len())]);
        let (status, headers, body) = self.call(Method::PUT, &format!("/v2/{repo}/manifests/{tag}"), &[("content-type", OCI_MANIFEST)], manifest.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
        let d = digest(&manifest);
        assert_eq!(header(&headers, "docker-content-digest"), d);
        d
    }
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub fn digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

pub fn header(headers: &HeaderMap, name: &str) -> String {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

pub fn manifest_json(config: &str, config_size: usize, layers: &[(&str, usize)]) -> Vec<u8> {
    let layers: Vec<Value> = layers.iter().map(|(d, s)| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s})).collect();
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
        "layers": layers,
    }))
    .expect("manifest")
}

/// The first error's code of a distribution error body.
pub fn code(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|_| panic!("an error body: {}", String::from_utf8_lossy(body)));
    v["errors"][0]["code"].as_str().unwrap_or("").to_string()
}

pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{user}:{password}")))
}

/// An ECR-shaped registry and a client holding a valid `AWS:<token>`.
async fn ecr() -> (CloudRegistry, SimRegistry, Http, String) {
    let clouds = CloudRegistry::default();
    let registry = SimRegistry::start(Shape::Ecr { account_id: ACCOUNT.into(), region: REGION.into() }, &clouds).await.expect("registry starts");
    let (token, _) = clouds.ecr.issue(ACCOUNT, REGION, "arn:aws:iam::111122223333:user/test", OffsetDateTime::now_utc(), Duration::hours(12));
    let http = Http::new(registry.addr().port(), Some(basic("AWS", &token)));
    (clouds, registry, http, token)
}

#[tokio::test]
async fn the_base_endpoint_answers_with_the_api_version() {
    let (_c, r, http, _) = ecr().await;
    assert_eq!(r.host(), "111122223333.dkr.ecr.eu-west-1.amazonaws.com");
    let (status, headers, _) = http.call(Method::GET, "/v2/", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "docker-distribution-api-version"), "registry/2.0");
}

#[tokio::test]
async fn a_chunked_upload_checks_each_content_range_and_416s_out_of_order() {
    let (_c, _r, http, _) = ecr().await;
    let (status, headers, _) = http.call(Method::POST, "/v2/app/blobs/uploads/", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let location = header(&headers, "location");
    assert!(location.starts_with("/v2/app/blobs/uploads/"), "{location}");
    assert_eq!(header(&headers, "docker-upload-uuid"), location.rsplit('/').next().unwrap());

    let (status, headers, _) = http.call(Method::PATCH, &location, &[("content-range", "0-4"), ("content-type", "application/octet-stream")], "hello").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(header(&headers, "range"), "0-4");
    // A chunk that starts past where the upload stands.
    let (status, _, body) = http.call(Method::PATCH, &location, &[("content-range", "7-9")], " wo").await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE, "{}", String::from_utf8_lossy(&body));
    assert_eq!(code(&body), "BLOB_UPLOAD_INVALID");
    // A range whose length is not the chunk's.
    let (status, _, _) = http.call(Method::PATCH, &location, &[("content-range", "5-9")], " wo").await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    // The status says where to go on from.
    let (status, headers, _) = http.call(Method::GET, &location, &[], Bytes::new()).await;
    assert_eq!((status, header(&headers, "range")), (StatusCode::NO_CONTENT, "0-4".to_string()));
    let (status, _, _) = http.call(Method::PATCH, &location, &[("content-range", "5-10")], " world").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let d = digest(b"hello world!");
    let (status, headers, body) = http.call(Method::PUT, &format!("{location}?digest={d}"), &[("content-range", "11-11")], "!").await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "docker-content-digest"), d);
    assert_eq!(header(&headers, "location"), format!("/v2/app/blobs/{d}"));

    let (status, headers, body) = http.call(Method::GET, &format!("/v2/app/blobs/{d}"), &[], Bytes::new()).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello world!"[..]));
    assert_eq!(header(&headers, "docker-content-digest"), d);
    let (status, headers, body) = http.call(Method::HEAD, &format!("/v2/app/blobs/{d}"), &[], Bytes::new()).await;
    assert_eq!((status, header(&headers, "content-length"), body.len()), (StatusCode::OK, "12".to_string(), 0));
    // A ranged read, as a resumed pull asks.
    let (status, headers, body) = http.call(Method::GET, &format!("/v2/app/blobs/{d}"), &[("range", "bytes=6-")], Bytes::new()).await;
    assert_eq!((status, &body[..]), (StatusCode::PARTIAL_CONTENT, &b"world!"[..]));
    assert_eq!(header(&headers, "content-range"), "bytes 6-11/12");
    let (status, _, _) = http.call(Method::GET, &format!("/v2/app/blobs/{d}"), &[("range", "bytes=12-")], Bytes::new()).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    // The finished upload is gone.
    let (status, _, body) = http.call(Method::GET, &location, &[], Bytes::new()).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN".to_string()));
}

#[tokio::test]
async fn a_wrong_digest_is_digest_invalid_and_nothing_is_stored() {
    let (_c, r, http, _) = ecr().await;
    let wrong = digest(b"something else");
    let (status, _, body) = http.call(Method::POST, &format!("/v2/app/blobs/uploads/?digest={wrong}"), &[], "content").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "DIGEST_INVALID".to_string()));
    let (_, headers, _) = http.call(Method::POST, "/v2/app/blobs/uploads/", &[], Bytes::new()).await;
    let location = header(&headers, "location");
    let (status, _, body) = http.call(Method::PUT, &format!("{location}?digest={wrong}"), &[], "content").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "DIGEST_INVALID".to_string()));
    let (status, _, body) = http.call(Method::HEAD, &format!("/v2/app/blobs/{wrong}"), &[], Bytes::new()).await;
    assert_eq!((status, body.len()), (StatusCode::NOT_FOUND, 0));
    let (status, _, body) = http.call(Method::GET, "/v2/app/blobs/sha256:nothex", &[], Bytes::new()).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "DIGEST_INVALID".to_string()));
    assert_eq!(r.held_bytes(), 0);
}

#[tokio::test]
async fn manifests_are_refused_when_what_they_reference_is_missing_or_their_digest_differs() {
    let (_c, _r, http, _) = ecr().await;
    let config = http.push_blob("app", b"{}").await;
    let missing = digest(b"a layer never pushed");
    let manifest = manifest_json(&config, 2, &[(&missing, 20)]);
    let (status, _, body) = http.call(Method::PUT, "/v2/app/manifests/v1", &[("content-type", OCI_MANIFEST)], manifest).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN".to_string()));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["errors"][0]["detail"]["digest"], missing.as_str());

    // A blob of another repository is not this one's.
    let layer = http.push_blob("other", b"layer").await;
    let manifest = manifest_json(&config, 2, &[(&layer, 5)]);
    let (status, _, body) = http.call(Method::PUT, "/v2/app/manifests/v1", &[("content-type", OCI_MANIFEST)], manifest.clone()).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN".to_string()));
    http.push_blob("app", b"layer").await;
    // Named by a digest it does not have.
    let (status, _, body) = http.call(Method::PUT, &format!("/v2/app/manifests/{}", digest(b"x")), &[("content-type", OCI_MANIFEST)], manifest.clone()).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "DIGEST_INVALID".to_string()));
    // A Content-Type that is not the manifest's mediaType.
    let (status, _, body) = http.call(Method::PUT, "/v2/app/manifests/v1", &[("content-type", "application/vnd.docker.distribution.manifest.v2+json")], manifest.clone()).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "MANIFEST_INVALID".to_string()));
    let (status, _, body) = http.call(Method::PUT, "/v2/app/manifests/v1", &[("content-type", OCI_MANIFEST)], "not json").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "MANIFEST_INVALID".to_string()));

    let (status, headers, _) = http.call(Method::PUT, &format!("/v2/app/manifests/{}", digest(&manifest)), &[("content-type", OCI_MANIFEST)], manifest.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(header(&headers, "docker-content-digest"), digest(&manifest));
    // An index of a manifest that is here and one that is not.
    let index = |digests: &[&str]| {
        let entries: Vec<Value> = digests.iter().map(|d| json!({"mediaType": OCI_MANIFEST, "digest": d, "size": 1, "platform": {"architecture": "amd64", "os": "linux"}})).collect();
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})).unwrap()
    };
    let present = digest(&manifest);
    let (status, _, body) = http.call(Method::PUT, "/v2/app/manifests/multi", &[("content-type", OCI_INDEX)], index(&[&present, &missing])).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN".to_string()));
    let good = index(&[&present]);
    let (status, _, _) = http.call(Method::PUT, "/v2/app/manifests/multi", &[("content-type", OCI_INDEX)], good.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    // Served as stored, by tag and by digest, GET and HEAD.
    for reference in ["multi".to_string(), digest(&good)] {
        let (status, headers, body) = http.call(Method::GET, &format!("/v2/app/manifests/{reference}"), &[("accept", OCI_INDEX)], Bytes::new()).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &good[..]));
        assert_eq!(header(&headers, "content-type"), OCI_INDEX);
        let (status, headers, body) = http.call(Method::HEAD, &format!("/v2/app/manifests/{reference}"), &[], Bytes::new()).await;
        assert_eq!((status, body.len()), (StatusCode::OK, 0));
        assert_eq!(header(&headers, "docker-content-digest"), digest(&good));
        assert_eq!(header(&headers, "content-length"), good.len().to_string());
    }
    let (status, _, body) = http.call(Method::GET, "/v2/app/manifests/nope", &[], Bytes::new()).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN".to_string()));
    for path in ["/v2/never/manifests/v1", &format!("/v2/never/blobs/{present}")] {
        let (status, _, body) = http.call(Method::GET, path, &[], Bytes::new()).await;
        assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "NAME_UNKNOWN".to_string()), "{path}");
    }
}

#[tokio::test]
async fn a_mount_from_a_repository_holding_the_blob_is_201_and_otherwise_an_upload_starts() {
    let (_c, _r, http, _) = ecr().await;
    let d = http.push_blob("base", b"shared layer").await;
    let (status, headers, _) = http.call(Method::POST, &format!("/v2/app/blobs/uploads/?mount={d}&from=base"), &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(header(&headers, "location"), format!("/v2/app/blobs/{d}"));
    assert_eq!(header(&headers, "docker-content-digest"), d);
    let (status, _, body) = http.call(Method::GET, &format!("/v2/app/blobs/{d}"), &[], Bytes::new()).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"shared layer"[..]));
    // Not in `from`: a plain upload session instead.
    let (status, headers, _) = http.call(Method::POST, &format!("/v2/third/blobs/uploads/?mount={d}&from=nowhere"), &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(header(&headers, "location").starts_with("/v2/third/blobs/uploads/"));
    let (status, _, _) = http.call(Method::GET, &format!("/v2/third/blobs/{d}"), &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Deleting the blob from one repository leaves the other's.
    let (status, _, _) = http.call(Method::DELETE, &format!("/v2/base/blobs/{d}"), &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _, _) = http.call(Method::GET, &format!("/v2/app/blobs/{d}"), &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = http.call(Method::GET, &format!("/v2/base/blobs/{d}"), &[], Bytes::new()).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "BLOB_UNKNOWN".to_string()));
}

#[tokio::test]
async fn tags_and_the_catalog_come_in_pages_linked_to_the_next() {
    let (_c, _r, http, _) = ecr().await;
    for tag in ["v3", "v1", "v2"] {
        http.push_image("team/app", tag, tag).await;
    }
    for repo in ["b", "a", "c"] {
        http.push_blob(repo, repo.as_bytes()).await;
    }
    let (status, headers, body) = http.call(Method::GET, "/v2/team/app/tags/list?n=2", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), json!({"name": "team/app", "tags": ["v1", "v2"]}));
    let link = header(&headers, "link");
    assert_eq!(link, "</v2/team/app/tags/list?last=v2&n=2>; rel=\"next\"");
    let next = link.trim_start_matches('<').split('>').next().unwrap().to_string();
    let (_, headers, body) = http.call(Method::GET, &next, &[], Bytes::new()).await;
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["tags"], json!(["v3"]));
    assert_eq!(header(&headers, "link"), "");

    let (_, headers, body) = http.call(Method::GET, "/v2/_catalog?n=3", &[], Bytes::new()).await;
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["repositories"], json!(["a", "b", "c"]));
    assert_eq!(header(&headers, "link"), "</v2/_catalog?last=c&n=3>; rel=\"next\"");
    let (_, _, body) = http.call(Method::GET, "/v2/_catalog?last=c", &[], Bytes::new()).await;
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["repositories"], json!(["team/app"]));
    let (status, _, body) = http.call(Method::GET, "/v2/unknown/tags/list", &[], Bytes::new()).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "NAME_UNKNOWN".to_string()));
    let (status, _, body) = http.call(Method::GET, "/v2/Bad/tags/list", &[], Bytes::new()).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "NAME_INVALID".to_string()));

    // Deleting a tag leaves the manifest; deleting the manifest takes its tags.
    let d = http.push_image("team/app", "v4", "v4").await;
    http.call(Method::PUT, "/v2/team/app/manifests/latest", &[("content-type", OCI_MANIFEST)], http.call(Method::GET, "/v2/team/app/manifests/v4", &[], Bytes::new()).await.2).await;
    let (status, _, _) = http.call(Method::DELETE, "/v2/team/app/manifests/v4", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _, _) = http.call(Method::GET, &format!("/v2/team/app/manifests/{d}"), &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = http.call(Method::DELETE, &format!("/v2/team/app/manifests/{d}"), &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _, _) = http.call(Method::GET, "/v2/team/app/manifests/latest", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn referrers_list_the_manifests_whose_subject_is_a_digest() {
    let (_c, _r, http, _) = ecr().await;
    let subject = http.push_image("app", "v1", "app").await;
    let config = http.push_blob("app", b"{}").await;
    let sbom = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/spdx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1},
    }))
    .unwrap();
    let (status, headers, _) = http.call(Method::PUT, &format!("/v2/app/manifests/{}", digest(&sbom)), &[("content-type", OCI_MANIFEST)], sbom.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(header(&headers, "oci-subject"), subject);
    let (status, _, body) = http.call(Method::GET, &format!("/v2/app/referrers/{subject}"), &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::OK);
    let index: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(index["manifests"][0]["digest"], digest(&sbom).as_str());
    assert_eq!(index["manifests"][0]["artifactType"], "application/spdx+json");
    let (_, headers, body) = http.call(Method::GET, &format!("/v2/app/referrers/{subject}?artifactType=text/other"), &[], Bytes::new()).await;
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["manifests"], json!([]));
    assert_eq!(header(&headers, "oci-filters-applied"), "artifactType");
}

#[tokio::test]
async fn the_memory_bound_refuses_writes_past_it() {
    let clouds = CloudRegistry::default();
    let mut options = RegistryOptions::new(Shape::Ecr { account_id: ACCOUNT.into(), region: REGION.into() });
    options.max_bytes = 16;
    let registry = SimRegistry::start_with(options, &clouds).await.unwrap();
    let (token, _) = clouds.ecr.issue(ACCOUNT, REGION, "arn:x", OffsetDateTime::now_utc(), Duration::hours(1));
    let http = Http::new(registry.addr().port(), Some(basic("AWS", &token)));
    http.push_blob("app", b"0123456789").await;
    let big = [7u8; 10];
    let (status, _, body) = http.call(Method::POST, &format!("/v2/app/blobs/uploads/?digest={}", digest(&big)), &[], big.to_vec()).await;
    assert_eq!(status.as_u16(), 507, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("at most 16 bytes"), "{}", String::from_utf8_lossy(&body));
    assert_eq!(registry.held_bytes(), 10);
}

#[tokio::test]
async fn ecr_refuses_missing_unknown_expired_and_other_region_tokens_in_its_words() {
    let (clouds, r, http, token) = ecr().await;
    let challenge = format!("Basic realm=\"https://{}/\",service=\"ecr.amazonaws.com\"", r.host());
    let anonymous = Http::new(http.port, None);
    let (status, headers, body) = anonymous.call(Method::GET, "/v2/", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(header(&headers, "www-authenticate"), challenge);
    assert_eq!(code(&body), "DENIED");
    let wrong = Http::new(http.port, Some(basic("AWS", "sim-ecr-forged")));
    let (status, headers, body) = wrong.call(Method::GET, "/v2/app/manifests/v1", &[], Bytes::new()).await;
    assert_eq!((status, header(&headers, "www-authenticate")), (StatusCode::UNAUTHORIZED, challenge.clone()));
    assert!(String::from_utf8_lossy(&body).contains("Not Authorized"));
    let other_user = Http::new(http.port, Some(basic("admin", &token)));
    assert_eq!(other_user.call(Method::GET, "/v2/", &[], Bytes::new()).await.0, StatusCode::UNAUTHORIZED);
    let (east, _) = clouds.ecr.issue(ACCOUNT, "us-east-1", "arn:x", OffsetDateTime::now_utc(), Duration::hours(1));
    let (status, _, body) = Http::new(http.port, Some(basic("AWS", &east))).call(Method::GET, "/v2/", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!String::from_utf8_lossy(&body).contains(&east), "a token never comes back in an answer");
    assert_eq!(http.call(Method::GET, "/v2/", &[], Bytes::new()).await.0, StatusCode::OK);
    clouds.ecr.expire(&token);
    let (status, _, body) = http.call(Method::GET, "/v2/", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("Your authorization token has expired. Reauthenticate and try again."), "{text}");
    assert!(!text.contains(&token), "{text}");
}

#[tokio::test]
async fn artifact_registry_trades_an_access_token_for_a_registry_token_and_checks_projects() {
    let clouds = CloudRegistry::default();
    let key = ServiceAccountKey::generate("demo-project", "deployer").unwrap();
    clouds.gcp.add(key.account.clone());
    let shape = Shape::ArtifactRegistry { location: "europe-west1".into(), projects: vec!["demo-project".into()] };
    let registry = SimRegistry::start(shape, &clouds).await.unwrap();
    assert_eq!(registry.host(), "europe-west1-docker.pkg.dev");
    let port = registry.addr().port();
    let (status, headers, _) = Http::new(port, None).call(Method::GET, "/v2/demo-project/repo/app/manifests/v1", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&headers, "www-authenticate"),
        format!("Bearer realm=\"http://127.0.0.1:{port}/v2/token\",service=\"europe-west1-docker.pkg.dev\",scope=\"repository:demo-project/repo/app:pull\"")
    );
    let access = clouds.gcp.issue(&key.account.email, &["https://www.googleapis.com/auth/cloud-platform"], Duration::hours(1), OffsetDateTime::now_utc()).unwrap().access_token;
    // The token endpoint wants oauth2accesstoken and a token the OAuth endpoint issued.
    let token_path = "/v2/token?service=europe-west1-docker.pkg.dev&scope=repository:demo-project/repo/app:pull,push";
    let (status, _, body) = Http::new(port, Some(basic("oauth2accesstoken", "ya29.forged"))).call(Method::GET, token_path, &[], Bytes::new()).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED".to_string()));
    let (status, _, _) = Http::new(port, Some(basic("someone", &access))).call(Method::GET, token_path, &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = Http::new(port, Some(basic("oauth2accesstoken", &access))).call(Method::GET, token_path, &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::OK);
    let answer: Value = serde_json::from_slice(&body).unwrap();
    let token = answer["token"].as_str().unwrap().to_string();
    assert!(answer["expires_in"].as_i64().unwrap() > 0);
    assert!(!String::from_utf8_lossy(&body).contains(&access));

    let http = Http::new(port, Some(format!("Bearer {token}")));
    let d = http.push_image("demo-project/repo/app", "v1", "hello").await;
    let (status, headers, _) = http.call(Method::HEAD, "/v2/demo-project/repo/app/manifests/v1", &[], Bytes::new()).await;
    assert_eq!((status, header(&headers, "docker-content-digest")), (StatusCode::OK, d));
    // The access token itself is taken as a bearer token too.
    let direct = Http::new(port, Some(format!("Bearer {access}")));
    assert_eq!(direct.call(Method::HEAD, "/v2/demo-project/repo/app/manifests/v1", &[], Bytes::new()).await.0, StatusCode::OK);
    // Paths are PROJECT/REPOSITORY/IMAGE of a known project.
    let (status, _, body) = http.call(Method::POST, "/v2/demo-project/app/blobs/uploads/", &[], Bytes::new()).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "NAME_INVALID".to_string()));
    let (status, _, body) = http.call(Method::POST, "/v2/other-project/repo/app/blobs/uploads/", &[], Bytes::new()).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "DENIED".to_string()));
    assert!(String::from_utf8_lossy(&body).contains("projects/other-project/locations/europe-west1/repositories/repo"));
    let (status, _, _) = Http::new(port, Some("Bearer sim-ar-forged".into())).call(Method::GET, "/v2/", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The key file itself, base64, straight to the registry.
    let key_file = key.key_file_json("http://127.0.0.1:9/token").unwrap();
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &key_file);
    let with_key = Http::new(port, Some(basic("_json_key_base64", &b64)));
    assert_eq!(with_key.call(Method::HEAD, "/v2/demo-project/repo/app/manifests/v1", &[], Bytes::new()).await.0, StatusCode::OK);
    let forged = ServiceAccountKey::generate("demo-project", "deployer").unwrap().key_file_json("http://127.0.0.1:9/token").unwrap();
    assert_eq!(Http::new(port, Some(basic("_json_key", &forged))).call(Method::GET, "/v2/", &[], Bytes::new()).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_uploaded_bytes_do_not_leak_into_other_repositories_and_locations_are_usable() {
    let (_c, _r, http, _) = ecr().await;
    let (_, headers, _) = http.call(Method::POST, "/v2/a/blobs/uploads/", &[], Bytes::new()).await;
    let location = header(&headers, "location");
    // Someone else's repository path with this upload's id.
    let id = location.rsplit('/').next().unwrap();
    let (status, _, body) = http.call(Method::PATCH, &format!("/v2/b/blobs/uploads/{id}"), &[], "x").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN".to_string()));
    let (status, _, _) = http.call(Method::DELETE, &location, &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(LOCATION.as_str() == "location");
}

/// Everything logged while it is the default subscriber.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn credentials_stay_out_of_the_logs_at_every_level() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).finish();
    // The current-thread runtime runs the servers' tasks on this thread, under this subscriber.
    let _default = tracing::subscriber::set_default(subscriber);
    let (clouds, _r, http, token) = ecr().await;
    http.push_image("app", "v1", "app").await;
    Http::new(http.port, Some(basic("AWS", "sim-ecr-forged-secret"))).call(Method::GET, "/v2/app/manifests/v1", &[], Bytes::new()).await;
    http.call(Method::GET, "/v2/app/manifests/missing", &[], Bytes::new()).await;

    let key = ServiceAccountKey::generate("demo-project", "deployer").unwrap();
    clouds.gcp.add(key.account.clone());
    let ar = SimRegistry::start(Shape::ArtifactRegistry { location: "europe-west1".into(), projects: vec!["demo-project".into()] }, &clouds).await.unwrap();
    let access = clouds.gcp.issue(&key.account.email, &["https://www.googleapis.com/auth/cloud-platform"], Duration::hours(1), OffsetDateTime::now_utc()).unwrap().access_token;
    let (_, _, body) = Http::new(ar.addr().port(), Some(basic("oauth2accesstoken", &access))).call(Method::GET, "/v2/token?service=europe-west1-docker.pkg.dev", &[], Bytes::new()).await;
    let registry_token = serde_json::from_slice::<Value>(&body).unwrap()["token"].as_str().unwrap().to_string();
    Http::new(ar.addr().port(), Some(format!("Bearer {registry_token}"))).call(Method::GET, "/v2/demo-project/r/app/tags/list", &[], Bytes::new()).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("registry request refused") && logs.contains("MANIFEST_UNKNOWN"), "the registries did log: {logs}");
    for secret in [token.as_str(), "sim-ecr-forged-secret", access.as_str(), registry_token.as_str()] {
        assert!(!logs.contains(secret), "a credential was logged:\n{logs}");
    }
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("AWS:{token}"));
    assert!(!logs.contains(&b64));
}
