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
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n{auth}\r\n").as_bytes()).unwrap();
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

// ---------------------------------------------------------------------------
// The client against docker-registry.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use gantry_registry::credential::CredentialFuture;
use gantry_registry::image::digest_of;
use gantry_registry::spec::{self, Descriptor, ImageConfig, Index, Platform};
use gantry_registry::testing::registry::{TokenAuth, TokenUser};
use gantry_registry::{Blob, Client, ClientOptions, Credential, CredentialSource, Image, Layer, Reference, RegistryError, Secret, StaticCredentials};

/// Bytes that look random (xorshift), the same for the same seed.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// An image for `arch` with one layer of noise per size.
fn image(seed: u64, sizes: &[usize], arch: &str) -> Image {
    let layers = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let data = noise(seed * 100 + i as u64, n);
            Layer { diff_id: digest_of(&data), blob: Blob::new(spec::OCI_LAYER, data) }
        })
        .collect();
    Image::assemble(ImageConfig { architecture: arch.into(), os: "linux".into(), ..Default::default() }, layers)
}

fn anonymous() -> Arc<dyn CredentialSource> {
    Arc::new(StaticCredentials::new())
}

fn at(registry: &DockerRegistry, rest: &str) -> Reference {
    Reference::parse(&format!("{}/{rest}", registry.host())).unwrap()
}

/// Access-log lines of the registry that contain every needle.
fn log_lines(registry: &DockerRegistry, needles: &[&str]) -> usize {
    registry.log().lines().filter(|l| needles.iter().all(|n| l.contains(n))).count()
}

#[tokio::test]
async fn push_and_pull_round_trip_with_monolithic_and_chunked_uploads() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    // Blobs above 1000 bytes go in 700-byte PATCHes.
    let client = Client::with_options(anonymous(), ClientOptions::default().chunking(1000, 700)).unwrap();
    let img = image(1, &[300, 5000], "amd64");
    let reference = at(&registry, "team/app:1.0");
    let digest = client.push(&img, &reference).await.unwrap();
    assert_eq!(digest, img.digest());
    // 5000 bytes in 700-byte chunks: 8 PATCHes; the small blobs in one PUT each.
    assert_eq!(log_lines(&registry, &["\"PATCH /v2/team/app/blobs/uploads/", "\" 202 "]), 8, "{}", registry.log());
    assert_eq!(log_lines(&registry, &["\"PUT /v2/team/app/blobs/uploads/", "\" 201 "]), 3);

    assert_eq!(client.resolve(&reference).await.unwrap(), digest, "resolve by tag");
    let by_digest = at(&registry, &format!("team/app@{digest}"));
    assert_eq!(client.resolve(&by_digest).await.unwrap(), digest, "resolve by digest");
    let pulled = client.pull(&reference, &Platform::linux("amd64")).await.unwrap();
    assert_eq!(pulled, img, "what was pushed comes back byte for byte");
    let (config_digest, config) = client.config(&by_digest, &Platform::linux("amd64")).await.unwrap();
    assert_eq!((config_digest.as_str(), config.architecture.as_str()), (img.config.digest(), "amd64"));
    let (media_type, manifest_digest, bytes) = client.manifest(&reference).await.unwrap();
    assert_eq!((media_type.as_str(), manifest_digest.as_str(), &bytes), (spec::OCI_MANIFEST, img.digest(), &img.manifest.data));

    // Pushing again uploads nothing: every blob is found by HEAD.
    let puts = log_lines(&registry, &["\"PUT /v2/team/app/blobs/uploads/"]);
    client.push(&img, &at(&registry, "team/app:1.1")).await.unwrap();
    assert_eq!(log_lines(&registry, &["\"PUT /v2/team/app/blobs/uploads/"]), puts);
    let mut tags = client.tags(&reference).await.unwrap();
    tags.sort();
    assert_eq!(tags, ["1.0", "1.1"]);
    assert_eq!(client.catalog(registry.host()).await.unwrap(), ["team/app"]);

    // The streaming form gives the same bytes.
    let layer = &img.layers[1];
    let mut stream = client.blob_stream(&reference, &layer.descriptor).await.unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = stream.next_chunk().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, layer.data);
}

#[tokio::test]
async fn tags_and_catalog_follow_link_pagination() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let client = Client::new(anonymous());
    let img = image(2, &[10], "amd64");
    for i in 0..3 {
        client.push(&img, &at(&registry, &format!("pages/r{i}:t{i}"))).await.unwrap();
        client.push(&img, &at(&registry, &format!("pages/r0:x{i}"))).await.unwrap();
    }
    // docker-registry pages only when asked (?n=); the client follows whatever Link says.
    let first = format!("{}/v2/_catalog?n=1", registry.url());
    let (status, text) = raw_get(&first, None);
    assert_eq!(status, 200);
    assert!(text.contains("rel=\"next\""), "docker-registry paginates with ?n=: {text}");
    let mut tags = client.tags(&at(&registry, "pages/r0")).await.unwrap();
    tags.sort();
    assert_eq!(tags, ["t0", "x0", "x1", "x2"]);
    assert_eq!(client.catalog(registry.host()).await.unwrap(), ["pages/r0", "pages/r1", "pages/r2"]);
}

/// Pushes amd64 and arm64 images by digest, then an index of both under `tag`.
async fn push_two_platforms(client: &Client, registry: &DockerRegistry, repo: &str, tag: &str) -> (Image, Image, String) {
    let amd = image(10, &[2000, 100], "amd64");
    let arm = image(11, &[1500], "arm64");
    let mut entries = Vec::new();
    for (img, arch) in [(&amd, "amd64"), (&arm, "arm64")] {
        client.push(img, &at(registry, &format!("{repo}@{}", img.digest()))).await.unwrap();
        let mut d = Descriptor::new(spec::OCI_MANIFEST, img.digest(), img.manifest.descriptor.size);
        d.platform = Some(Platform::linux(arch));
        entries.push(d);
    }
    let index = Index { schema_version: 2, media_type: Some(spec::OCI_INDEX.into()), manifests: entries, annotations: None };
    let bytes = Bytes::from(serde_json::to_vec(&index).unwrap());
    let digest = client.push_manifest(&at(registry, &format!("{repo}:{tag}")), spec::OCI_INDEX, bytes.clone()).await.unwrap();
    assert_eq!(digest, digest_of(&bytes));
    (amd, arm, digest)
}

#[tokio::test]
async fn an_index_of_two_platforms_gives_each_its_image() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let client = Client::new(anonymous());
    let (amd, arm, index_digest) = push_two_platforms(&client, &registry, "multi/app", "v1").await;
    let reference = at(&registry, "multi/app:v1");
    assert_eq!(client.resolve(&reference).await.unwrap(), index_digest, "a tag on an index resolves to the index");
    let (media_type, _, _) = client.manifest(&reference).await.unwrap();
    assert_eq!(media_type, spec::OCI_INDEX);
    let (digest, manifest) = client.image(&reference, &Platform::linux("arm64")).await.unwrap();
    assert_eq!((digest.as_str(), manifest.layers.len()), (arm.digest(), 1));
    assert_eq!(client.pull(&reference, &Platform::linux("amd64")).await.unwrap(), amd);
    assert_eq!(client.config(&reference, &Platform::linux("arm64")).await.unwrap().1.architecture, "arm64");
    let err = client.image(&reference, &Platform::linux("s390x")).await.unwrap_err();
    assert_eq!(err.code(), "PLATFORM_UNKNOWN");
    assert!(err.to_string().contains("no image for linux/s390x; it has: linux/amd64, linux/arm64"), "{err}");
}

#[tokio::test]
async fn blobs_known_in_another_repository_are_mounted_not_uploaded() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let client = Client::new(anonymous());
    let img = image(3, &[4000, 50], "amd64");
    client.push(&img, &at(&registry, "team/base:1")).await.unwrap();
    // The same client knows team/base holds the blobs: pushing to team/app mounts all three.
    client.push(&img, &at(&registry, "team/app:1")).await.unwrap();
    assert_eq!(log_lines(&registry, &["\"POST /v2/team/app/blobs/uploads/?mount=sha256%3A", "from=team%2Fbase", "\" 201 "]), 3, "{}", registry.log());
    assert_eq!(log_lines(&registry, &["\"PUT /v2/team/app/blobs/uploads/"]), 0, "nothing uploaded to team/app");
    assert_eq!(Client::new(anonymous()).pull(&at(&registry, "team/app:1"), &Platform::linux("amd64")).await.unwrap(), img);

    // A copy within one registry mounts too (a fresh client, knowing nothing).
    let copier = Client::new(anonymous());
    let digest = copier.copy(&at(&registry, "team/base:1"), &at(&registry, "team/copy:1")).await.unwrap();
    assert_eq!(digest, img.digest());
    assert_eq!(log_lines(&registry, &["\"POST /v2/team/copy/blobs/uploads/?mount=sha256%3A", "from=team%2Fbase", "\" 201 "]), 3);
    assert_eq!(log_lines(&registry, &["\"PUT /v2/team/copy/blobs/uploads/"]), 0);

    // A mount the registry cannot do (the repository known to hold the blob lost it) answers 202:
    // the blob is uploaded into the session that answer opened.
    let other = Client::new(anonymous());
    other.push(&img, &at(&registry, "team/lost:1")).await.unwrap();
    let layer = img.layers[0].digest();
    let (status, text) = raw_request("DELETE", &format!("{}/v2/team/lost/blobs/{layer}", registry.url()));
    assert_eq!(status, 202, "{text}");
    other.push(&img, &at(&registry, "team/third:1")).await.unwrap_or_else(|e| panic!("{e}\n{}", registry.log()));
    assert_eq!(log_lines(&registry, &["\"POST /v2/team/third/blobs/uploads/?mount=sha256%3A", "from=team%2Flost", "\" 201 "]), 2, "{}", registry.log());
    assert_eq!(log_lines(&registry, &["\"POST /v2/team/third/blobs/uploads/?mount=sha256%3A", "from=team%2Flost", "\" 202 "]), 1, "{}", registry.log());
    assert_eq!(log_lines(&registry, &["\"PUT /v2/team/third/blobs/uploads/", "\" 201 "]), 1, "the lost layer is uploaded");
    assert_eq!(Client::new(anonymous()).pull(&at(&registry, "team/third:1"), &Platform::linux("amd64")).await.unwrap(), img);
}

#[tokio::test]
async fn copy_between_registries_keeps_every_digest() {
    let Some(a) = DockerRegistry::start(RegistryAuth::None) else { return };
    let Some(b) = DockerRegistry::start(RegistryAuth::None) else { return };
    // Small chunks: the 2000-byte layer is streamed from a into b's PATCHes.
    let client = Client::with_options(anonymous(), ClientOptions::default().chunking(1000, 600)).unwrap();
    let (amd, arm, index_digest) = push_two_platforms(&client, &a, "multi/app", "v1").await;
    let copied = client.copy(&at(&a, "multi/app:v1"), &at(&b, "mirror/app:v1")).await.unwrap();
    assert_eq!(copied, index_digest, "the index is copied byte for byte");
    let fresh = Client::new(anonymous());
    assert_eq!(fresh.resolve(&at(&b, "mirror/app:v1")).await.unwrap(), index_digest);
    assert_eq!(fresh.pull(&at(&b, "mirror/app:v1"), &Platform::linux("amd64")).await.unwrap(), amd);
    assert_eq!(fresh.pull(&at(&b, "mirror/app:v1"), &Platform::linux("arm64")).await.unwrap(), arm);
    assert!(log_lines(&b, &["\"PATCH /v2/mirror/app/blobs/uploads/", "\" 202 "]) >= 4, "the big layer went in chunks: {}", b.log());

    // Without a tag the copy lands by digest only.
    let copied = client.copy(&at(&a, &format!("multi/app@{}", amd.digest())), &at(&b, "bydigest/app")).await.unwrap();
    assert_eq!(copied, amd.digest());
    // No tag was put: docker-registry lists no tags (it calls the repository unknown to tag listing).
    match fresh.tags(&at(&b, "bydigest/app")).await {
        Ok(tags) => assert!(tags.is_empty(), "{tags:?}"),
        Err(e) => assert_eq!(e.code(), "NAME_UNKNOWN", "{e}"),
    }
    assert_eq!(fresh.resolve(&at(&b, &format!("bydigest/app@{}", amd.digest()))).await.unwrap(), amd.digest());
}

#[tokio::test]
async fn a_corrupt_blob_is_an_error_naming_it() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let Some(other) = DockerRegistry::start(RegistryAuth::None) else { return };
    let client = Client::with_options(anonymous(), ClientOptions::default().chunking(1000, 600)).unwrap();
    let img = image(4, &[3000], "amd64");
    let reference = at(&registry, "team/app:1");
    client.push(&img, &reference).await.unwrap();
    // The registry's storage now holds other bytes of the same length under the layer's digest.
    let layer = &img.layers[0];
    let path = registry.blob_path(layer.digest());
    let mut data = std::fs::read(&path).unwrap();
    data[1234] ^= 0xff;
    std::fs::write(&path, &data).unwrap();

    let err = client.blob(&reference, &layer.descriptor).await.unwrap_err();
    assert_eq!(err.code(), "DIGEST_MISMATCH");
    assert!(err.to_string().contains(&format!("blob {}", layer.digest())) && err.to_string().contains(&digest_of(&data)), "{err}");
    let err = client.pull(&reference, &Platform::linux("amd64")).await.unwrap_err();
    assert_eq!(err.code(), "DIGEST_MISMATCH", "{err}");
    // A copy stops and leaves no manifest behind.
    let err = client.copy(&reference, &at(&other, "team/app:1")).await.unwrap_err();
    assert!(err.code() == "DIGEST_MISMATCH" || err.code() == "DIGEST_INVALID", "{err}");
    let err = client.resolve(&at(&other, "team/app:1")).await.unwrap_err();
    assert!(err.code() == "MANIFEST_UNKNOWN" || err.code() == "NAME_UNKNOWN", "{err}");
    // A descriptor with the wrong size is caught before any byte is trusted.
    let mut wrong = img.config.descriptor.clone();
    wrong.size += 1;
    assert_eq!(client.blob(&reference, &wrong).await.unwrap_err().code(), "SIZE_MISMATCH");
}

#[tokio::test]
async fn unknown_tags_repositories_and_blobs_are_errors_in_the_registrys_words() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let client = Client::new(anonymous());
    let img = image(5, &[10], "amd64");
    client.push(&img, &at(&registry, "team/app:1")).await.unwrap();
    let err = client.resolve(&at(&registry, "team/app:nope")).await.unwrap_err();
    assert_eq!((err.code(), err.status(), err.repository()), ("MANIFEST_UNKNOWN", Some(404), Some("team/app")));
    let text = err.to_string();
    assert!(text.contains(registry.host()) && text.contains("team/app") && text.contains("nope") && text.contains("fix:"), "{text}");
    // docker-registry answers a manifest of an unknown repository as an unknown manifest; its tags as an unknown name.
    let err = client.pull(&at(&registry, "team/none:1"), &Platform::linux("amd64")).await.unwrap_err();
    assert_eq!(err.code(), "MANIFEST_UNKNOWN", "{err}");
    let err = client.tags(&at(&registry, "team/none")).await.unwrap_err();
    assert_eq!(err.code(), "NAME_UNKNOWN", "{err}");
    let missing = Descriptor::new(spec::OCI_LAYER, &digest_of(b"never pushed"), 12);
    let err = client.blob(&at(&registry, "team/app"), &missing).await.unwrap_err();
    assert_eq!(err.code(), "BLOB_UNKNOWN", "{err}");
    // A manifest whose blobs are missing is refused with the registry's code.
    let lonely = image(6, &[20], "amd64");
    let err = client.push_manifest(&at(&registry, "team/app:lonely"), spec::OCI_MANIFEST, lonely.manifest.data.clone()).await.unwrap_err();
    assert!(err.code() == "MANIFEST_BLOB_UNKNOWN" || err.code() == "BLOB_UNKNOWN", "{err}");
    assert!(err.fix().contains("before"), "{err}");
    // Nothing listening: a transport error that names the registry.
    let gone = format!("127.0.0.1:{}", gantry_registry::testing::registry::free_port());
    let err = client.resolve(&Reference::parse(&format!("{gone}/x:1")).unwrap()).await.unwrap_err();
    assert_eq!(err.code(), "TRANSPORT");
    assert!(err.to_string().contains(&gone), "{err}");
}

/// Every way an error can be shown, for the secret checks.
fn shown(err: &RegistryError) -> String {
    format!("{err} {err:?}")
}

#[tokio::test]
async fn basic_auth_logs_in_and_a_wrong_password_says_how_to_log_in() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::basic("ci", "basic-pass-7Qx")) else { return };
    let right = StaticCredentials::new().with(registry.host(), Credential::Basic { username: "ci".into(), password: Secret::new("basic-pass-7Qx") });
    let client = Client::new(Arc::new(right));
    let img = image(7, &[100], "amd64");
    client.push(&img, &at(&registry, "team/app:1")).await.unwrap();
    assert_eq!(client.pull(&at(&registry, "team/app:1"), &Platform::linux("amd64")).await.unwrap(), img);

    let wrong = StaticCredentials::new().with(registry.host(), Credential::Basic { username: "ci".into(), password: Secret::new("wrong-pass-Zy9") });
    let err = Client::new(Arc::new(wrong)).pull(&at(&registry, "team/app:1"), &Platform::linux("amd64")).await.unwrap_err();
    assert_eq!((err.code(), err.status()), ("UNAUTHORIZED", Some(401)));
    assert!(err.fix().contains(&format!("docker login {}", registry.host())), "{err}");
    assert!(!shown(&err).contains("wrong-pass-Zy9") && !shown(&err).contains("basic-pass-7Qx"), "{err:?}");
    let err = Client::new(anonymous()).resolve(&at(&registry, "team/app:1")).await.unwrap_err();
    assert_eq!(err.code(), "UNAUTHORIZED", "{err}");
}

/// Wrong credentials on the first ask, right ones after: counts the asks.
struct Rotating {
    asks: AtomicUsize,
    registry: String,
}

impl CredentialSource for Rotating {
    fn credential<'a>(&'a self, registry: &'a str) -> CredentialFuture<'a> {
        let n = self.asks.fetch_add(1, Ordering::SeqCst);
        let password = if n == 0 { "stale-pass" } else { "basic-pass-7Qx" };
        let found = if registry == self.registry { Credential::Basic { username: "ci".into(), password: Secret::new(password) } } else { Credential::Anonymous };
        Box::pin(async move { Ok(found) })
    }
}

#[tokio::test]
async fn a_refused_credential_is_asked_for_again_once() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::basic("ci", "basic-pass-7Qx")) else { return };
    let source = Arc::new(Rotating { asks: AtomicUsize::new(0), registry: registry.host().to_string() });
    let client = Client::new(source.clone());
    let img = image(8, &[100], "amd64");
    client.push(&img, &at(&registry, "team/app:1")).await.unwrap();
    assert!(source.asks.load(Ordering::SeqCst) >= 2, "the source was asked again after the 401");
}

#[tokio::test]
async fn the_token_flow_grants_scopes_and_refuses_what_a_token_lacks() {
    let users = vec![
        TokenUser::new("ci", "token-pass-Hk2", &["pull", "push"]).with_refresh_token("refresh-Tk8"),
        TokenUser::new("reader", "reader-pass-Lm4", &["pull"]),
    ];
    let Some(registry) = DockerRegistry::start(RegistryAuth::Token(TokenAuth { users, anonymous_pull: false, expires_in: 300 })) else { return };
    let host = registry.host().to_string();
    let basic = |user: &str, password: &str| Arc::new(StaticCredentials::new().with(&host, Credential::Basic { username: user.into(), password: Secret::new(password) }));

    let ci = Client::new(basic("ci", "token-pass-Hk2"));
    let img = image(9, &[2000, 10], "amd64");
    ci.push(&img, &at(&registry, "team/app:1")).await.unwrap();
    let requests = registry.token_requests();
    assert!(requests.iter().all(|r| r.service == TOKEN_SERVICE && r.user.as_deref() == Some("ci")), "{requests:?}");
    assert!(requests.iter().any(|r| r.scopes.contains(&"repository:team/app:pull,push".to_string()) && r.granted == ["repository:team/app:pull,push"]), "{requests:?}");
    let asked = requests.len();
    ci.push(&img, &at(&registry, "team/app:2")).await.unwrap();
    assert_eq!(registry.token_requests().len(), asked, "tokens are cached per registry and scope");

    // A mount asks for pull on the repository mounted from.
    ci.push(&img, &at(&registry, "team/other:1")).await.unwrap();
    assert!(registry.token_requests().iter().any(|r| r.scopes.contains(&"repository:team/other:pull,push".to_string()) && r.scopes.contains(&"repository:team/app:pull".to_string())), "{:?}", registry.token_requests());
    assert_eq!(log_lines(&registry, &["\"POST /v2/team/other/blobs/uploads/?mount=sha256%3A", "from=team%2Fapp", "\" 201 "]), 3, "{}", registry.log());

    // A pull-only user pulls, and its push is refused in words that say so.
    let reader = Client::new(basic("reader", "reader-pass-Lm4"));
    assert_eq!(reader.pull(&at(&registry, "team/app:1"), &Platform::linux("amd64")).await.unwrap(), img);
    let err = reader.push(&image(12, &[10], "amd64"), &at(&registry, "team/app:3")).await.unwrap_err();
    assert_eq!(err.code(), "UNAUTHORIZED", "{err}");
    assert!(err.fix().contains("not allowed"), "{err}");
    assert!(registry.token_requests().iter().any(|r| r.user.as_deref() == Some("reader") && r.scopes.contains(&"repository:team/app:pull,push".to_string()) && r.granted == ["repository:team/app:pull"]));

    // An identity token is exchanged with grant_type=refresh_token (the answer's `access_token`).
    let identity = Client::new(Arc::new(StaticCredentials::new().with(&host, Credential::IdentityToken(Secret::new("refresh-Tk8")))));
    assert_eq!(identity.resolve(&at(&registry, "team/app:1")).await.unwrap(), img.digest());
    assert!(registry.token_requests().iter().any(|r| r.method == "POST" && r.grant_type == "refresh_token" && r.user.as_deref() == Some("ci")));

    // A registry token given directly is sent as Bearer from the first request.
    let realm = registry.token_realm().unwrap();
    let creds = base64::engine::general_purpose::STANDARD.encode("ci:token-pass-Hk2");
    let (_, answer) = raw_get(&format!("{realm}?service={TOKEN_SERVICE}&scope=repository:team/app:pull"), Some(&format!("Basic {creds}")));
    let jwt = serde_json::from_str::<serde_json::Value>(&answer[answer.find("\r\n\r\n").unwrap() + 4..]).unwrap()["token"].as_str().unwrap().to_string();
    let before = registry.token_requests().len();
    let bearer = Client::new(Arc::new(StaticCredentials::new().with(&host, Credential::Bearer(Secret::new(jwt.clone())))));
    assert_eq!(bearer.resolve(&at(&registry, "team/app:1")).await.unwrap(), img.digest());
    assert_eq!(registry.token_requests().len(), before, "no token flow with a registry token");

    // Wrong password: the token server refuses, the error says how to log in and shows no secret.
    let wrong = Client::new(basic("ci", "wrong-token-pass-Qq1"));
    let err = wrong.resolve(&at(&registry, "team/app:1")).await.unwrap_err();
    assert_eq!(err.code(), "UNAUTHORIZED", "{err}");
    assert!(err.message().contains("refused the credentials for user ci"), "{err}");
    assert!(err.fix().contains(&format!("docker login {host}")), "{err}");
    let mut everything = shown(&err);
    everything.push_str(&shown(&reader.push(&image(13, &[10], "amd64"), &at(&registry, "team/app:4")).await.unwrap_err()));
    everything.push_str(&shown(&Client::new(anonymous()).resolve(&at(&registry, "team/app:1")).await.unwrap_err()));
    for secret in ["wrong-token-pass-Qq1", "token-pass-Hk2", "reader-pass-Lm4", "refresh-Tk8", &jwt, &creds] {
        assert!(!everything.contains(secret), "a secret in an error: {everything}");
    }
}

/// A server that answers every request with a 307 to the same path on
/// `target` (counting them), until it is asked for `/stop`.
fn redirector(target: String, redirected: Arc<AtomicUsize>) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 8192];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = head.split(' ').nth(1).unwrap_or("/").to_string();
            if path == "/stop" {
                let _ = stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
                return;
            }
            redirected.fetch_add(1, Ordering::SeqCst);
            let _ = write!(stream, "HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (host, handle)
}

#[tokio::test]
async fn reads_follow_redirects_to_storage() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let client = Client::new(anonymous());
    let img = image(14, &[500], "amd64");
    client.push(&img, &at(&registry, "team/app:1")).await.unwrap();
    let redirected = Arc::new(AtomicUsize::new(0));
    let (front, handle) = redirector(registry.url(), redirected.clone());
    // `storage.example` reached through the redirector; every read is sent on to the registry.
    let redirected_count = redirected;
    let redirected = Client::with_options(anonymous(), ClientOptions::default().endpoint("storage.example", &format!("http://{front}"))).unwrap();
    let reference = Reference::parse("storage.example/team/app:1").unwrap();
    let pulled = redirected.pull(&reference, &Platform::linux("amd64")).await.unwrap();
    assert_eq!(pulled, img);
    assert_eq!(redirected.resolve(&reference).await.unwrap(), img.digest());
    // Manifest, config, layer, the HEAD: each went through a redirect.
    assert!(redirected_count.load(Ordering::SeqCst) >= 4);
    let _ = raw_get(&format!("http://{front}/stop"), None);
    handle.join().unwrap();
}

/// A blocking HTTP/1.0 request without a body.
fn raw_request(method: &str, url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream.write_all(format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    (text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), text)
}

#[tokio::test]
async fn https_registries_are_trusted_through_an_extra_ca() {
    let Some(registry) = DockerRegistry::start_tls(RegistryAuth::basic("ci", "tls-pass-Vb3")) else { return };
    let creds = || Arc::new(StaticCredentials::new().with(registry.host(), Credential::Basic { username: "ci".into(), password: Secret::new("tls-pass-Vb3") }));
    // Loopback is plain http by default: an https registry there needs an override.
    let https = ClientOptions::default().endpoint(registry.host(), &registry.url());
    let untrusted = Client::with_options(creds(), https.clone()).unwrap();
    let err = untrusted.resolve(&at(&registry, "team/app:1")).await.unwrap_err();
    assert_eq!(err.code(), "TRANSPORT", "{err}");
    assert!(err.message().to_lowercase().contains("certificate") && err.message().contains(&registry.url()), "the TLS failure and the URL are named: {err}");
    assert!(err.fix().contains("CA"), "{err}");
    assert!(!shown(&err).contains("tls-pass-Vb3"));

    let client = Client::with_options(creds(), https.ca_pem(registry.ca_pem().unwrap())).unwrap();
    let img = image(15, &[3000], "amd64");
    client.push(&img, &at(&registry, "team/app:1")).await.unwrap();
    assert_eq!(client.pull(&at(&registry, "team/app:1"), &Platform::linux("amd64")).await.unwrap(), img);
}

#[tokio::test]
async fn a_registry_that_never_answers_times_out_naming_itself() {
    // Accepts connections and never answers (held until the test ends).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let held = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let client = Client::with_options(anonymous(), ClientOptions::default().timeout(std::time::Duration::from_millis(300))).unwrap();
    let err = client.resolve(&Reference::parse(&format!("{host}/team/app:1")).unwrap()).await.unwrap_err();
    assert_eq!(err.code(), "TIMEOUT", "{err}");
    assert!(err.to_string().contains(&host) && err.fix().contains("timeout"), "{err}");
    drop(held.join());
}

#[tokio::test]
async fn docker_schema2_manifests_and_lists_are_read_and_copied_as_they_are() {
    let Some(a) = DockerRegistry::start(RegistryAuth::None) else { return };
    let Some(b) = DockerRegistry::start(RegistryAuth::None) else { return };
    let client = Client::new(anonymous());
    // A Docker schema 2 image: Docker media types for manifest, config and layer.
    let layer = Blob::new(spec::DOCKER_LAYER_GZIP, noise(16, 700));
    let config = ImageConfig { architecture: "arm64".into(), os: "linux".into(), rootfs: spec::RootFs { kind: "layers".into(), diff_ids: vec![digest_of(b"tar")] }, ..Default::default() };
    let config = Blob::new(spec::DOCKER_CONFIG, serde_json::to_vec(&config).unwrap());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": spec::DOCKER_MANIFEST,
        "config": config.descriptor,
        "layers": [layer.descriptor],
    });
    let manifest = Blob::new(spec::DOCKER_MANIFEST, serde_json::to_vec(&manifest).unwrap());
    let img = Image { manifest, config, layers: vec![layer] };
    client.push(&img, &at(&a, &format!("docker/app@{}", img.digest()))).await.unwrap();
    let mut entry = Descriptor::new(spec::DOCKER_MANIFEST, img.digest(), img.manifest.descriptor.size);
    entry.platform = Some(Platform::linux("arm64"));
    let list = serde_json::json!({"schemaVersion": 2, "mediaType": spec::DOCKER_LIST, "manifests": [entry]});
    let list_digest = client.push_manifest(&at(&a, "docker/app:v2"), spec::DOCKER_LIST, Bytes::from(serde_json::to_vec(&list).unwrap())).await.unwrap();

    let (media_type, digest, _) = client.manifest(&at(&a, "docker/app:v2")).await.unwrap();
    assert_eq!((media_type.as_str(), digest.as_str()), (spec::DOCKER_LIST, list_digest.as_str()));
    let pulled = client.pull(&at(&a, "docker/app:v2"), &Platform::linux("arm64")).await.unwrap();
    assert_eq!(pulled, img);
    assert_eq!(pulled.manifest.descriptor.media_type, spec::DOCKER_MANIFEST);
    assert_eq!(client.copy(&at(&a, "docker/app:v2"), &at(&b, "docker/app:v2")).await.unwrap(), list_digest);
    let (media_type, _, _) = client.manifest(&at(&b, &format!("docker/app@{}", img.digest()))).await.unwrap();
    assert_eq!(media_type, spec::DOCKER_MANIFEST, "the child keeps its Docker media type");
}

#[tokio::test]
async fn anonymous_token_flow_pulls_and_cannot_push() {
    let auth = TokenAuth { users: vec![TokenUser::new("ci", "anon-test-pass", &["pull", "push"])], anonymous_pull: true, expires_in: 300 };
    let Some(registry) = DockerRegistry::start(RegistryAuth::Token(auth)) else { return };
    let ci = Client::new(Arc::new(StaticCredentials::new().with(registry.host(), Credential::Basic { username: "ci".into(), password: Secret::new("anon-test-pass") })));
    let img = image(17, &[100], "amd64");
    ci.push(&img, &at(&registry, "public/app:1")).await.unwrap();
    let anon = Client::new(anonymous());
    assert_eq!(anon.pull(&at(&registry, "public/app:1"), &Platform::linux("amd64")).await.unwrap(), img);
    assert!(registry.token_requests().iter().any(|r| r.user.is_none() && r.granted == ["repository:public/app:pull"]));
    let err = anon.push(&image(18, &[10], "amd64"), &at(&registry, "public/app:2")).await.unwrap_err();
    assert_eq!(err.code(), "UNAUTHORIZED", "{err}");
}

/// Every tracing event's message and fields, as text.
struct Recorder(Arc<std::sync::Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut text = self.0.lock().unwrap();
        span.record(&mut Fields(&mut text));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut Fields(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = self.0.lock().unwrap();
        event.record(&mut Fields(&mut text));
        text.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(flavor = "current_thread")]
async fn secrets_stay_out_of_the_log() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::token("ci", "log-pass-Rr5")) else { return };
    let recorded = Arc::new(std::sync::Mutex::new(String::new()));
    let _guard = tracing::subscriber::set_default(Recorder(recorded.clone()));
    let client = Client::new(Arc::new(StaticCredentials::new().with(registry.host(), Credential::Basic { username: "ci".into(), password: Secret::new("log-pass-Rr5") })));
    let img = image(19, &[1500], "amd64");
    client.push(&img, &at(&registry, "team/app:1")).await.unwrap();
    client.pull(&at(&registry, "team/app:1"), &Platform::linux("amd64")).await.unwrap();
    let wrong = Client::new(Arc::new(StaticCredentials::new().with(registry.host(), Credential::Basic { username: "ci".into(), password: Secret::new("log-wrong-Pp0") })));
    let _ = wrong.resolve(&at(&registry, "team/app:1")).await.unwrap_err();
    let log = recorded.lock().unwrap().clone();
    assert!(log.contains("registry request"), "the client logs its requests: {log}");
    let basic = base64::engine::general_purpose::STANDARD.encode("ci:log-pass-Rr5");
    for secret in ["log-pass-Rr5", "log-wrong-Pp0", basic.as_str(), "Bearer ", "eyJ"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}
