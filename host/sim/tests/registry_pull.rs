//! The simulated kubelet's image pulls held against a REAL registry:
//! Debian's `docker-registry` (the CNCF distribution registry) run as a
//! child process on 127.0.0.1 with a free port and a temporary storage
//! directory, an image pushed into it with the distribution upload API
//! (config blob, one layer, manifest) over plain HTTP, and the real kubectl
//! reading what the simulated cluster reports: a pushed image starts with its
//! manifest digest as imageID, a missing tag backs off (ErrImagePull,
//! ImagePullBackOff, the kubelet's events) until it is pushed, an
//! htpasswd-protected registry needs the configured credentials or a pod's
//! image pull secret (made by `kubectl create secret docker-registry`), a registry
//! behind token auth is pulled with a bearer token fetched from its realm (a
//! token server in the test signs the JWTs the real registry verifies
//! against its root certificate bundle), and one served over TLS is reached
//! with the CA it was configured with. The
//! registry binary comes from GANTRY_DOCKER_REGISTRY or PATH (`htpasswd`
//! from PATH); missing tools fail the tests when CI is set and skip them
//! otherwise. Nothing here reaches beyond 127.0.0.1; no timed asserts, only
//! hang guards.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::Cluster;
use gantry_sim::oci::RegistryConfig;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, HOST, LOCATION};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The hang guard of every wait here.
const GUARD: Duration = Duration::from_secs(120);
const USER: &str = "puller";
const PASSWORD: &str = "s3cret-pull";

/// A tool from `env` or PATH, or None (skip) outside CI.
fn tool(env: &str, name: &str) -> Option<PathBuf> {
    let from_env = std::env::var_os(env).map(PathBuf::from).filter(|p| p.is_file());
    let found = from_env.or_else(|| {
        std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).map(|d| d.join(name)).find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "{name} is required in CI but is neither in {env} nor on PATH (apt-get install -y docker-registry apache2-utils)");
        eprintln!("{name} not found: skipping (set CI to make this a failure)");
    }
    found
}

/// A real distribution registry on 127.0.0.1, stopped when dropped.
struct Registry {
    child: Child,
    port: u16,
    /// The Authorization for pushing, when the registry has auth.
    auth: Option<String>,
    /// The client side of its TLS, when it serves https; and the CA, PEM.
    tls: Option<(Arc<rustls::ClientConfig>, String)>,
    _dir: tempfile::TempDir,
}

/// How a test registry is protected.
#[derive(Default)]
struct Options<'a> {
    basic_auth: bool,
    token: Option<&'a TokenServer>,
    tls: bool,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// Starts `docker-registry serve`; with `basic_auth`, behind an htpasswd file of USER:PASSWORD.
    async fn start(basic_auth: bool) -> Option<Registry> {
        Registry::start_with(Options { basic_auth, ..Options::default() }).await
    }

    async fn start_with(options: Options<'_>) -> Option<Registry> {
        let basic_auth = options.basic_auth;
        let binary = tool("GANTRY_DOCKER_REGISTRY", "docker-registry")?;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut push_auth = None;
        let auth_section = if let Some(token) = options.token {
            let bundle = dir.path().join("token-root.pem");
            std::fs::write(&bundle, &token.cert_pem).expect("root bundle written");
            push_auth = Some(format!("Bearer {}", token.mint("app", &["pull", "push"])));
            format!(
                "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                token.port,
                bundle.display()
            )
        } else if basic_auth {
            let htpasswd = tool("GANTRY_HTPASSWD", "htpasswd")?;
            let out = Command::new(htpasswd).args(["-Bbn", USER, PASSWORD]).output().expect("htpasswd runs");
            assert!(out.status.success(), "htpasswd failed: {}", String::from_utf8_lossy(&out.stderr));
            std::fs::write(dir.path().join("htpasswd"), &out.stdout).expect("htpasswd written");
            format!("auth:\n  htpasswd:\n    realm: gantry-sim-test\n    path: {}\n", dir.path().join("htpasswd").display())
        } else {
            String::new()
        };
        let port = free_port();
        let (tls_section, tls) = if options.tls {
            let (ca_pem, cert_pem, key_pem) = server_certificate();
            std::fs::write(dir.path().join("server.crt"), cert_pem).expect("certificate written");
            std::fs::write(dir.path().join("server.key"), key_pem).expect("key written");
            let section = format!("  tls:\n    certificate: {}\n    key: {}\n", dir.path().join("server.crt").display(), dir.path().join("server.key").display());
            (section, Some((client_config(&ca_pem), ca_pem)))
        } else {
            (String::new(), None)
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{tls_section}{auth_section}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("registry config written");
        let child = Command::new(binary).arg("serve").arg(&config_path).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().expect("docker-registry starts");
        let auth = push_auth.or_else(|| basic_auth.then(|| basic(USER, PASSWORD)));
        let mut registry = Registry { child, port, auth, tls, _dir: dir };
        // The registry answers /v2/ (200, or 401 behind auth) once it listens; the deadline is a hang guard.
        let deadline = std::time::Instant::now() + GUARD;
        loop {
            if let Ok((status, _, _)) = registry.call(Method::GET, "/v2/", &[], Bytes::new(), false).await {
                if status == StatusCode::OK || status == StatusCode::UNAUTHORIZED {
                    break;
                }
            }
            if let Ok(Some(exit)) = registry.child.try_wait() {
                panic!("docker-registry exited before listening: {exit}");
            }
            assert!(std::time::Instant::now() < deadline, "docker-registry never listened on {}", registry.host());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(registry)
    }

    /// `127.0.0.1:PORT`, the host image references name it by.
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// One HTTP/1.1 request to the registry (`target` is a path, or an absolute URL on it).
    async fn call(&self, method: Method, target: &str, headers: &[(&str, &str)], body: Bytes, authed: bool) -> Result<(StatusCode, HeaderMap, Bytes), String> {
        let path = target.strip_prefix(&self.url()).unwrap_or(target);
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.map_err(|e| e.to_string())?;
        let mut sender = match &self.tls {
            Some((config, _)) => {
                let name = rustls::pki_types::ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
                let stream = tokio_rustls::TlsConnector::from(config.clone()).connect(name, tcp).await.map_err(|e| e.to_string())?;
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                sender
            }
            None => {
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                sender
            }
        };
        let mut req = Request::builder().method(method).uri(path).header(HOST, self.host());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(auth) = self.auth.as_ref().filter(|_| authed) {
            req = req.header(AUTHORIZATION, HeaderValue::from_str(auth).expect("header"));
        }
        let resp = sender.send_request(req.body(Full::new(body)).expect("request")).await.map_err(|e| e.to_string())?;
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((parts.status, parts.headers, bytes))
    }

    /// Uploads a blob (POST then a monolithic PUT) and returns its digest.
    async fn push_blob(&self, repo: &str, blob: &[u8]) -> String {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(blob)));
        let (status, headers, body) = self.call(Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &[], Bytes::new(), true).await.expect("upload starts");
        assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
        let location = headers.get(LOCATION).and_then(|v| v.to_str().ok()).expect("upload location").to_string();
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = format!("{location}{separator}digest={digest}");
        let headers = [("content-type", "application/octet-stream")];
        let (status, _, body) = self.call(Method::PUT, &put, &headers, Bytes::copy_from_slice(blob), true).await.expect("blob uploaded");
        assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
        digest
    }

    /// Pushes a tiny single-layer OCI image as `repo:tag`; returns the manifest digest.
    async fn push_image(&self, repo: &str, tag: &str, content: &str) -> String {
        let layer = tar_with_one_file("hello.txt", content.as_bytes());
        let layer_digest = self.push_blob(repo, &layer).await;
        let config = json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["/hello"]},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        });
        let config = serde_json::to_vec(&config).expect("config");
        let config_digest = self.push_blob(repo, &config).await;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
        });
        let manifest = serde_json::to_vec(&manifest).expect("manifest");
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&manifest)));
        let headers = [("content-type", "application/vnd.oci.image.manifest.v1+json")];
        let (status, headers, body) = self.call(Method::PUT, &format!("/v2/{repo}/manifests/{tag}"), &headers, Bytes::from(manifest), true).await.expect("manifest pushed");
        assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
        assert_eq!(headers.get("docker-content-digest").and_then(|v| v.to_str().ok()), Some(digest.as_str()), "the registry stores the manifest under its digest");
        digest
    }
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{user}:{password}")))
}

/// A CA and a server certificate for 127.0.0.1 it signed: (CA PEM, certificate PEM, key PEM).
fn server_certificate() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "registry test CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("server key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("server params").signed_by(&key, &ca, &ca_key).expect("server certificate");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

fn client_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA added");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions().expect("TLS versions").with_root_certificates(roots).with_no_client_auth();
    Arc::new(config)
}

const TOKEN_SERVICE: &str = "sim-test-registry";
const TOKEN_ISSUER: &str = "sim-test-token-issuer";

/// A token server on 127.0.0.1 as the distribution token spec describes it:
/// `GET /token?scope=...&service=...` with basic credentials answers a JWT
/// (RS256, its certificate in `x5c`) granting the scope's actions. The real
/// registry verifies the JWT against `cert_pem`, its root bundle.
struct TokenServer {
    port: u16,
    key: Arc<rsa::RsaPrivateKey>,
    cert_der: Arc<Vec<u8>>,
    cert_pem: String,
    /// The query strings it was asked with.
    asked: Arc<std::sync::Mutex<Vec<String>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl TokenServer {
    async fn start() -> TokenServer {
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("RSA key");
        let der = key.to_pkcs8_der().expect("PKCS#8");
        let pkcs8 = rustls::pki_types::PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
        let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).expect("rcgen key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(rcgen::DnType::CommonName, "token signer");
        let cert = params.self_signed(&key_pair).expect("certificate");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("token server binds");
        let port = listener.local_addr().expect("addr").port();
        let (key, cert_der, asked) = (Arc::new(key), Arc::new(cert.der().to_vec()), Arc::new(std::sync::Mutex::new(Vec::new())));
        let (k, c, a) = (key.clone(), cert_der.clone(), asked.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (k, c, a) = (k.clone(), c.clone(), a.clone());
                let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (k, c, a) = (k.clone(), c.clone(), a.clone());
                    async move { Ok::<_, std::convert::Infallible>(answer_token(&req, &k, &c, &a)) }
                });
                tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service));
            }
        });
        TokenServer { port, key, cert_der, cert_pem: cert.pem(), asked, _task: task }
    }

    /// A token granting `actions` on repository `repo`.
    fn mint(&self, repo: &str, actions: &[&str]) -> String {
        jwt(&self.key, &self.cert_der, repo, actions)
    }
}

fn answer_token(req: &Request<hyper::body::Incoming>, key: &rsa::RsaPrivateKey, cert_der: &[u8], asked: &std::sync::Mutex<Vec<String>>) -> hyper::Response<Full<Bytes>> {
    let query = req.uri().query().unwrap_or("").to_string();
    asked.lock().expect("lock").push(query.clone());
    let authorized = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(basic(USER, PASSWORD).as_str());
    let respond = |status: StatusCode, body: Value| {
        let mut resp = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
        *resp.status_mut() = status;
        resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
        resp
    };
    if !authorized {
        return respond(StatusCode::UNAUTHORIZED, json!({"details": "incorrect username or password"}));
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let scope = pairs.iter().find(|(k, _)| k == "scope").map(|(_, v)| v.clone()).unwrap_or_default();
    // repository:NAME:ACTIONS, granted as asked.
    let mut parts = scope.splitn(3, ':');
    let (kind, repo, actions) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if kind != "repository" || repo.is_empty() {
        return respond(StatusCode::BAD_REQUEST, json!({"details": format!("unsupported scope {scope:?}")}));
    }
    let actions: Vec<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
    let token = jwt(key, cert_der, repo, &actions);
    respond(StatusCode::OK, json!({"token": token, "access_token": token, "expires_in": 300}))
}

/// A distribution registry token: RS256, signed by `key`, its certificate in `x5c`.
fn jwt(key: &rsa::RsaPrivateKey, cert_der: &[u8], repo: &str, actions: &[&str]) -> String {
    use base64::Engine;
    use rsa::signature::{SignatureEncoding, Signer};
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [base64::engine::general_purpose::STANDARD.encode(cert_der)]});
    let claims = json!({
        "iss": TOKEN_ISSUER, "sub": USER, "aud": TOKEN_SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{repo}"),
        "access": [{"type": "repository", "name": repo, "actions": actions}],
    });
    let signing_input = format!("{}.{}", b64.encode(header.to_string()), b64.encode(claims.to_string()));
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
    let signature = signer.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64.encode(signature.to_bytes()))
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("addr").port()
}

/// A POSIX tar archive holding one regular file.
fn tar_with_one_file(name: &str, data: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    let octal = |field: &mut [u8], value: u64| {
        let text = format!("{value:0width$o}\0", width = field.len() - 1);
        field.copy_from_slice(text.as_bytes());
    };
    octal(&mut header[100..108], 0o644);
    octal(&mut header[108..116], 0);
    octal(&mut header[116..124], 0);
    octal(&mut header[124..136], data.len() as u64);
    octal(&mut header[136..148], 0);
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u64 = header.iter().map(|&b| u64::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(text.as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(data);
    tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
    tar
}

/// A Deployment `name` of one pod running `image`.
fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: app
        image: {image}
"
    )
}

async fn create(c: &Cluster, name: &str, image: &str) {
    c.ok(&["create", "-f", &c.file(&format!("{name}.yaml"), &deployment(name, image))]).await;
}

/// The deployment's one pod, as JSON.
async fn pod_of(c: &Cluster, app: &str) -> Value {
    let pods = c.json(&["get", "pods", "-l", &format!("app={app}")]).await;
    let items = pods["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "one pod of {app}: {pods}");
    items[0].clone()
}

/// Waits (hang guard only) until `kubectl get pods` shows `status` for the app's pod; returns the line.
async fn until_status(c: &Cluster, app: &str, status: &str) -> String {
    let wait = async {
        loop {
            let out = c.ok(&["get", "pods", "-l", &format!("app={app}"), "--no-headers"]).await;
            if let Some(line) = out.lines().find(|l| l.split_whitespace().nth(2) == Some(status)) {
                return line.to_string();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(GUARD, wait).await.unwrap_or_else(|_| panic!("the pod of {app} never showed {status}"))
}

async fn available(c: &Cluster, app: &str) {
    c.ok(&["wait", "--for=condition=Available", &format!("deployment/{app}"), "--timeout=120s"]).await;
}

/// The kubelet's events about the app's pod, as `kubectl describe` prints them.
async fn describe(c: &Cluster, app: &str) -> String {
    c.ok(&["describe", "pod", "-l", &format!("app={app}")]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_image_starts_with_its_manifest_digest_as_image_id() {
    let Some(registry) = Registry::start(false).await else { return };
    let digest = registry.push_image("team/app", "1.0", "hello from 1.0").await;
    // An ECR-style host mapped to the local registry, as a user would point the sim at a mirror.
    let ecr = "111122223333.dkr.ecr.eu-west-1.amazonaws.com";
    let configs = vec![RegistryConfig::new(&registry.host(), &registry.url()).unwrap(), RegistryConfig::new(ecr, &registry.url()).unwrap()];
    let Some(c) = Cluster::start_with(|config| config.registries = configs).await else { return };
    // Docker Hub's names mapped to the same registry: `busybox:1.36` is docker.io/library/busybox.
    let hub_digest = registry.push_image("library/busybox", "1.36", "busybox").await;
    let hub = vec![RegistryConfig::new("docker.io", &registry.url()).unwrap()];
    let Some(d) = Cluster::start_with(|config| config.registries = hub).await else { return };
    create(&d, "busybox", "busybox:1.36").await;
    create(&d, "missing", "busybox:0.0").await;
    available(&d, "busybox").await;
    assert_eq!(pod_of(&d, "busybox").await["status"]["containerStatuses"][0]["imageID"], format!("docker.io/library/busybox@{hub_digest}"));
    until_status(&d, "missing", "ImagePullBackOff").await;
    let message = pod_of(&d, "missing").await["status"]["containerStatuses"][0]["state"]["waiting"]["message"].as_str().unwrap_or("").to_string();
    assert!(message.ends_with("failed to resolve reference \"docker.io/library/busybox:0.0\": docker.io/library/busybox:0.0: not found"), "{message}");

    create(&c, "web", &format!("{}/team/app:1.0", registry.host())).await;
    create(&c, "ecr", &format!("{ecr}/team/app:1.0")).await;
    create(&c, "pinned", &format!("{}/team/app@{digest}", registry.host())).await;
    // Not a configured host: not checked, starts as before.
    create(&c, "hub", "nginx:1.27").await;
    for app in ["web", "ecr", "pinned", "hub"] {
        available(&c, app).await;
    }
    let image_id = |pod: &Value| pod["status"]["containerStatuses"][0]["imageID"].as_str().unwrap_or("").to_string();
    assert_eq!(image_id(&pod_of(&c, "web").await), format!("{}/team/app@{digest}", registry.host()));
    assert_eq!(image_id(&pod_of(&c, "ecr").await), format!("{ecr}/team/app@{digest}"));
    assert_eq!(image_id(&pod_of(&c, "pinned").await), format!("{}/team/app@{digest}", registry.host()));
    assert!(!image_id(&pod_of(&c, "hub").await).contains(&digest));
    let events = describe(&c, "web").await;
    assert!(events.contains(&format!("Pulling image \"{}/team/app:1.0\"", registry.host())), "{events}");
    assert!(events.contains(&format!("Successfully pulled image \"{}/team/app:1.0\"", registry.host())), "{events}");
    assert!(!events.contains("already present on machine"), "{events}");
    let hub = describe(&c, "hub").await;
    assert!(hub.contains("Container image \"nginx:1.27\" already present on machine") && !hub.contains("Pulling image"), "{hub}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_tag_backs_off_until_it_is_pushed() {
    let Some(registry) = Registry::start(false).await else { return };
    registry.push_image("app", "1.0", "one").await;
    let configs = vec![RegistryConfig::new(&registry.host(), &registry.url()).unwrap()];
    let Some(c) = Cluster::start_with(|config| config.registries = configs).await else { return };
    let image = format!("{}/app:2.0", registry.host());
    create(&c, "late", &image).await;
    let line = until_status(&c, "late", "ImagePullBackOff").await;
    assert!(line.contains("0/1"), "{line}");
    let pod = pod_of(&c, "late").await;
    assert_eq!(pod["status"]["phase"], "Pending");
    let waiting = &pod["status"]["containerStatuses"][0]["state"]["waiting"];
    let expected = format!(
        "Back-off pulling image \"{image}\": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"
    );
    assert_eq!((waiting["reason"].as_str(), waiting["message"].as_str()), (Some("ImagePullBackOff"), Some(expected.as_str())));
    let events = describe(&c, "late").await;
    for expected in [
        format!("Pulling image \"{image}\""),
        format!("Failed to pull image \"{image}\": rpc error: code = NotFound"),
        "Error: ErrImagePull".to_string(),
        format!("Back-off pulling image \"{image}\""),
        "Error: ImagePullBackOff".to_string(),
    ] {
        assert!(events.contains(&expected), "describe lacks {expected:?}:\n{events}");
    }
    let listed = c.ok(&["get", "events", "--field-selector", "reason=BackOff"]).await;
    assert!(listed.contains(&format!("Back-off pulling image \"{image}\"")), "{listed}");
    // The kubelet retries after its back-off and fails again: the same events count up instead of piling up.
    let retried = async {
        loop {
            let failed = c.json(&["get", "events", "--field-selector", "reason=Failed"]).await;
            let same: Vec<Value> = failed["items"].as_array().into_iter().flatten().filter(|e| e["message"] == "Error: ErrImagePull").cloned().collect();
            assert_eq!(same.len(), 1, "one event object for the repeated failure: {same:?}");
            if same[0]["count"].as_i64().unwrap_or(0) >= 2 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(GUARD, retried).await.expect("the pull is retried after its back-off");
    let again = describe(&c, "late").await;
    assert!(again.contains("Error: ErrImagePull") && again.contains("(x2 over"), "{again}");
    // Pushing the tag lets the kubelet's next retry start the pod.
    let digest = registry.push_image("app", "2.0", "two").await;
    available(&c, "late").await;
    let pod = pod_of(&c, "late").await;
    assert_eq!(pod["status"]["containerStatuses"][0]["imageID"], format!("{}/app@{digest}", registry.host()));
    assert_eq!(pod["status"]["containerStatuses"][0]["ready"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_behind_basic_auth_needs_the_configured_credentials() {
    let Some(registry) = Registry::start(true).await else { return };
    let (status, _, _) = registry.call(Method::HEAD, "/v2/app/manifests/1.0", &[], Bytes::new(), false).await.expect("registry answers");
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the registry wants credentials");
    let digest = registry.push_image("app", "1.0", "secret").await;
    let image = format!("{}/app:1.0", registry.host());

    let anonymous = vec![RegistryConfig::new(&registry.host(), &registry.url()).unwrap()];
    let Some(c) = Cluster::start_with(|config| config.registries = anonymous).await else { return };
    create(&c, "denied", &image).await;
    until_status(&c, "denied", "ImagePullBackOff").await;
    let message = pod_of(&c, "denied").await["status"]["containerStatuses"][0]["state"]["waiting"]["message"].as_str().unwrap_or("").to_string();
    let denial = format!("unexpected status from HEAD request to {}/v2/app/manifests/1.0: 401 Unauthorized", registry.url());
    assert!(message.contains(&denial) && message.contains("code = Unknown"), "{message}");
    let events = describe(&c, "denied").await;
    assert!(events.contains("401 Unauthorized"), "{events}");

    // The pod's image pull secret, made by kubectl, gives the credentials the cluster lacks.
    c.ok(&["create", "secret", "docker-registry", "regcred", &format!("--docker-server={}", registry.host()), &format!("--docker-username={USER}"), &format!("--docker-password={PASSWORD}")]).await;
    let with_secret = |name: &str, secret: &str| deployment(name, &image).replace("      containers:", &format!("      imagePullSecrets:\n      - name: {secret}\n      containers:"));
    c.ok(&["create", "-f", &c.file("nosecret.yaml", &with_secret("nosecret", "nosuch"))]).await;
    until_status(&c, "nosecret", "ImagePullBackOff").await;
    let events = describe(&c, "nosecret").await;
    assert!(events.contains("FailedToRetrieveImagePullSecret") && events.contains("Unable to retrieve some image pull secrets (nosuch)"), "{events}");
    c.ok(&["create", "-f", &c.file("secret.yaml", &with_secret("secret", "regcred"))]).await;
    available(&c, "secret").await;
    assert_eq!(pod_of(&c, "secret").await["status"]["containerStatuses"][0]["imageID"], format!("{}/app@{digest}", registry.host()));
    // Now on the node, the image serves IfNotPresent pods without credentials, as a real node's cache does.
    available(&c, "nosecret").await;

    let wrong = vec![RegistryConfig::new(&registry.host(), &registry.url()).unwrap().with_basic(USER, "not-the-password")];
    let Some(w) = Cluster::start_with(|config| config.registries = wrong).await else { return };
    create(&w, "wrong", &image).await;
    until_status(&w, "wrong", "ImagePullBackOff").await;

    let authed = vec![RegistryConfig::new(&registry.host(), &registry.url()).unwrap().with_basic(USER, PASSWORD)];
    let Some(a) = Cluster::start_with(|config| config.registries = authed).await else { return };
    create(&a, "allowed", &image).await;
    available(&a, "allowed").await;
    assert_eq!(pod_of(&a, "allowed").await["status"]["containerStatuses"][0]["imageID"], format!("{}/app@{digest}", registry.host()));
    assert!(!describe(&a, "allowed").await.contains(PASSWORD), "credentials never show");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_fails_the_pull_with_the_connection_error() {
    let port = free_port();
    let host = format!("127.0.0.1:{port}");
    let configs = vec![RegistryConfig::new(&host, &format!("http://{host}")).unwrap()];
    let Some(c) = Cluster::start_with(|config| config.registries = configs).await else { return };
    create(&c, "gone", &format!("{host}/app:1.0")).await;
    until_status(&c, "gone", "ImagePullBackOff").await;
    let message = pod_of(&c, "gone").await["status"]["containerStatuses"][0]["state"]["waiting"]["message"].as_str().unwrap_or("").to_string();
    assert!(message.contains(&format!("failed to do request: Head \"http://{host}/v2/app/manifests/1.0\": dial tcp {host}: connect: connection refused")), "{message}");
    let events = describe(&c, "gone").await;
    assert!(events.contains("connection refused") && events.contains("ErrImagePull"), "{events}");
}

#[tokio::test]
async fn registries_off_loopback_or_https_without_a_ca_are_refused() {
    let err = RegistryConfig::new("registry.example.com", "https://registry.example.com").unwrap_err();
    assert!(err.to_string().contains("loopback only"), "{err}");
    let mut config = gantry_sim::ServerConfig::new("sim", gantry_sim::auth::Authenticator::default());
    config.registries = vec![RegistryConfig::new("localhost:5443", "https://localhost:5443").unwrap()];
    let refused = gantry_sim::ApiServer::start(config).await.err().expect("an https registry without a CA is refused");
    assert!(refused.to_string().contains("no CA"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_behind_token_auth_is_pulled_with_a_token_from_its_realm() {
    let token = TokenServer::start().await;
    let Some(registry) = Registry::start_with(Options { token: Some(&token), ..Options::default() }).await else { return };
    let digest = registry.push_image("app", "1.0", "tokens").await;
    let image = format!("{}/app:1.0", registry.host());
    let asked_before = token.asked.lock().expect("lock").len();

    // Anonymous: the realm turns the node down.
    let anonymous = vec![RegistryConfig::new(&registry.host(), &registry.url()).unwrap()];
    let Some(c) = Cluster::start_with(|config| config.registries = anonymous).await else { return };
    create(&c, "anon", &image).await;
    until_status(&c, "anon", "ImagePullBackOff").await;
    let message = pod_of(&c, "anon").await["status"]["containerStatuses"][0]["state"]["waiting"]["message"].as_str().unwrap_or("").to_string();
    let realm = format!("http://127.0.0.1:{}/token?scope=repository%3Aapp%3Apull&service={TOKEN_SERVICE}", token.port);
    assert!(message.contains(&format!("failed to authorize: failed to fetch anonymous token: unexpected status from GET request to {realm}: 401 Unauthorized")), "{message}");

    // With credentials: a token for repository:app:pull from the realm, which the real registry accepts.
    let authed = vec![RegistryConfig::new(&registry.host(), &registry.url()).unwrap().with_basic(USER, PASSWORD)];
    let Some(a) = Cluster::start_with(|config| config.registries = authed).await else { return };
    create(&a, "authed", &image).await;
    available(&a, "authed").await;
    assert_eq!(pod_of(&a, "authed").await["status"]["containerStatuses"][0]["imageID"], format!("{}/app@{digest}", registry.host()));
    let asked = token.asked.lock().expect("lock")[asked_before..].to_vec();
    assert!(asked.iter().all(|q| q == &format!("scope=repository%3Aapp%3Apull&service={TOKEN_SERVICE}")), "{asked:?}");

    // A configured bearer token is sent from the first request.
    let bearer = vec![RegistryConfig::new(&registry.host(), &registry.url()).unwrap().with_bearer(&token.mint("app", &["pull"]))];
    let Some(b) = Cluster::start_with(|config| config.registries = bearer).await else { return };
    create(&b, "bearer", &image).await;
    available(&b, "bearer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_over_tls_is_reached_with_its_configured_ca() {
    let Some(registry) = Registry::start_with(Options { tls: true, ..Options::default() }).await else { return };
    let digest = registry.push_image("app", "1.0", "tls").await;
    let image = format!("{}/app:1.0", registry.host());
    let ca = registry.tls.as_ref().map(|(_, ca)| ca.clone()).expect("CA");
    let trusted = vec![RegistryConfig::new(&registry.host(), &registry.url()).unwrap().with_ca_pem(&ca).unwrap()];
    let Some(c) = Cluster::start_with(|config| config.registries = trusted).await else { return };
    create(&c, "tls", &image).await;
    available(&c, "tls").await;
    assert_eq!(pod_of(&c, "tls").await["status"]["containerStatuses"][0]["imageID"], format!("{}/app@{digest}", registry.host()));
    // Another CA: the handshake fails and the pull with it.
    let (other_ca, _, _) = server_certificate();
    let untrusted = vec![RegistryConfig::new(&registry.host(), &registry.url()).unwrap().with_ca_pem(&other_ca).unwrap()];
    let Some(u) = Cluster::start_with(|config| config.registries = untrusted).await else { return };
    create(&u, "untrusted", &image).await;
    until_status(&u, "untrusted", "ImagePullBackOff").await;
    let message = pod_of(&u, "untrusted").await["status"]["containerStatuses"][0]["state"]["waiting"]["message"].as_str().unwrap_or("").to_string();
    assert!(message.contains("failed to do request: Head") && message.contains("tls:"), "{message}");
}

/// A Deployment `name` whose pod runs `image` with `policy`, after an init container running `init`.
fn with_init(name: &str, init: Option<&str>, image: &str, policy: &str) -> String {
    let init = init.map(|i| format!("      initContainers:\n      - name: setup\n        image: {i}\n")).unwrap_or_default();
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
{init}      containers:
      - name: app
        image: {image}
        imagePullPolicy: {policy}
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_container_images_are_pulled_first_and_pulled_images_stay_on_the_node() {
    let Some(registry) = Registry::start(false).await else { return };
    let digest = registry.push_image("app", "1.0", "main").await;
    let configs = vec![RegistryConfig::new(&registry.host(), &registry.url()).unwrap()];
    let Some(c) = Cluster::start_with(|config| config.registries = configs).await else { return };
    let (image, setup) = (format!("{}/app:1.0", registry.host()), format!("{}/setup:1.0", registry.host()));

    // An init container's missing image holds the pod in Init:ImagePullBackOff.
    c.ok(&["create", "-f", &c.file("init.yaml", &with_init("init", Some(&setup), &image, "IfNotPresent"))]).await;
    until_status(&c, "init", "Init:ImagePullBackOff").await;
    let pod = pod_of(&c, "init").await;
    let initialized = pod["status"]["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == "Initialized")).cloned().unwrap_or_default();
    assert_eq!((initialized["status"].as_str(), initialized["reason"].as_str()), (Some("False"), Some("ContainersNotInitialized")), "{initialized}");
    assert_eq!(pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], "PodInitializing");
    let setup_digest = registry.push_image("setup", "1.0", "setup").await;
    available(&c, "init").await;
    let pod = pod_of(&c, "init").await;
    let init = &pod["status"]["initContainerStatuses"][0];
    assert_eq!((init["state"]["terminated"]["reason"].as_str(), init["imageID"].as_str()), (Some("Completed"), Some(format!("{}/setup@{setup_digest}", registry.host()).as_str())));
    assert_eq!(pod["status"]["containerStatuses"][0]["imageID"], format!("{}/app@{digest}", registry.host()));

    // The image is on the node now: IfNotPresent pods start without the registry,
    // even once the manifest is deleted there; Always pods go to the registry and fail.
    let (status, _, body) = registry.call(Method::DELETE, &format!("/v2/app/manifests/{digest}"), &[], Bytes::new(), true).await.expect("delete");
    assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
    c.ok(&["create", "-f", &c.file("cached.yaml", &with_init("cached", None, &image, "IfNotPresent"))]).await;
    c.ok(&["create", "-f", &c.file("always.yaml", &with_init("always", None, &image, "Always"))]).await;
    available(&c, "cached").await;
    let cached = describe(&c, "cached").await;
    assert!(cached.contains(&format!("Container image \"{image}\" already present on machine")) && !cached.contains("Pulling image"), "{cached}");
    assert_eq!(pod_of(&c, "cached").await["status"]["containerStatuses"][0]["imageID"], format!("{}/app@{digest}", registry.host()));
    until_status(&c, "always", "ImagePullBackOff").await;
    // Never: present images run, absent ones are ErrImageNeverPull.
    c.ok(&["create", "-f", &c.file("never.yaml", &with_init("never", None, &format!("{}/other:1.0", registry.host()), "Never"))]).await;
    until_status(&c, "never", "ErrImageNeverPull").await;
    let never = describe(&c, "never").await;
    assert!(never.contains(&format!("Container image \"{}/other:1.0\" is not present with pull policy of Never", registry.host())) && never.contains("Error: ErrImageNeverPull"), "{never}");
    // A malformed reference of a checked cluster: InvalidImageName.
    c.ok(&["create", "-f", &c.file("invalid.yaml", &with_init("invalid", None, &format!("{}/App:1.0", registry.host()), "IfNotPresent"))]).await;
    until_status(&c, "invalid", "InvalidImageName").await;
    let invalid = describe(&c, "invalid").await;
    assert!(invalid.contains("InspectFailed") && invalid.contains("must be lowercase"), "{invalid}");
}
