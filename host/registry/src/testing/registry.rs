//! docker-registry (distribution 2.8) for tests: the real registry started
//! on a free 127.0.0.1 port with a configuration, filesystem storage (delete
//! enabled) and a log under a temporary directory, anonymous, behind an
//! htpasswd file (Basic) or behind a token server of our own (Bearer). The
//! token server is a small hyper server on loopback that checks users'
//! passwords or refresh tokens, grants the requested scopes a user is
//! allowed, and signs ES256 JWTs with a self-signed certificate that the
//! registry trusts through `rootcertbundle` (sent in the token's `x5c`
//! header, as distribution's token verifier reads it). Everything is killed
//! by pid on drop. It must not reach beyond 127.0.0.0/8 nor be part of a
//! binary (feature `testing`).

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};

/// The `service` docker-registry names in its Bearer challenges, and the JWTs' audience.
pub const TOKEN_SERVICE: &str = "gantry-test-registry";
/// The issuer the registry trusts.
pub const TOKEN_ISSUER: &str = "gantry-test-token-issuer";

/// How the registry authenticates clients.
#[derive(Debug, Clone)]
pub enum RegistryAuth {
    /// Anyone may pull and push.
    None,
    /// An htpasswd file with one user (bcrypt).
    Basic { user: String, password: String },
    /// The token flow, with a token server of our own.
    Token(TokenAuth),
}

impl RegistryAuth {
    /// Token auth with one user allowed to pull and push everywhere.
    pub fn token(user: &str, password: &str) -> RegistryAuth {
        RegistryAuth::Token(TokenAuth { users: vec![TokenUser::new(user, password, &["pull", "push"])], anonymous_pull: false, expires_in: 300 })
    }

    pub fn basic(user: &str, password: &str) -> RegistryAuth {
        RegistryAuth::Basic { user: user.to_string(), password: password.to_string() }
    }
}

/// What the token server knows.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    pub users: Vec<TokenUser>,
    /// Whether a client without credentials gets `pull` on every repository.
    pub anonymous_pull: bool,
    /// The tokens' lifetime in seconds (`expires_in`).
    pub expires_in: u64,
}

/// A user of the token server and the actions it may be granted on any repository.
#[derive(Debug, Clone)]
pub struct TokenUser {
    pub user: String,
    pub password: String,
    /// `pull`, `push`, `delete`, or `*` (also the catalog).
    pub actions: Vec<String>,
    /// A refresh token (docker's identity token) accepted with `grant_type=refresh_token`.
    pub refresh_token: Option<String>,
}

impl TokenUser {
    pub fn new(user: &str, password: &str, actions: &[&str]) -> TokenUser {
        TokenUser { user: user.to_string(), password: password.to_string(), actions: actions.iter().map(|a| a.to_string()).collect(), refresh_token: None }
    }

    pub fn with_refresh_token(mut self, token: &str) -> TokenUser {
        self.refresh_token = Some(token.to_string());
        self
    }
}

/// One request the token server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The authenticated user; `None` for an anonymous request or refused credentials.
    pub user: Option<String>,
    /// `password`, `refresh_token` (POST), or empty (GET).
    pub grant_type: String,
    /// The `service` parameter.
    pub service: String,
    /// The `scope` parameters as sent (`repository:team/app:pull,push`).
    pub scopes: Vec<String>,
    /// What was granted, as scopes (`repository:team/app:pull`).
    pub granted: Vec<String>,
    /// The HTTP status answered.
    pub status: u16,
}

/// A running docker-registry; killed on drop.
pub struct DockerRegistry {
    child: Child,
    dir: tempfile::TempDir,
    host: String,
    token: Option<TokenServer>,
    /// The CA of a TLS registry's certificate.
    ca_pem: Option<String>,
}

/// Where the docker-registry binary is: `GANTRY_DOCKER_REGISTRY`, else `docker-registry` on PATH.
pub fn docker_registry_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("GANTRY_DOCKER_REGISTRY") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("docker-registry")).find(|p| p.is_file())
}

impl DockerRegistry {
    /// Starts docker-registry with `auth`; `None` (after [`super::missing`]) when it is not installed.
    /// Panics with the registry's log when it does not come up.
    pub fn start(auth: RegistryAuth) -> Option<DockerRegistry> {
        DockerRegistry::start_with(auth, false)
    }

    /// As [`DockerRegistry::start`], serving https with a certificate for
    /// `127.0.0.1` and `localhost` signed by a CA of its own ([`DockerRegistry::ca_pem`]).
    pub fn start_tls(auth: RegistryAuth) -> Option<DockerRegistry> {
        DockerRegistry::start_with(auth, true)
    }

    fn start_with(auth: RegistryAuth, tls: bool) -> Option<DockerRegistry> {
        let Some(binary) = docker_registry_binary() else {
            super::missing("docker-registry", "install it (Debian: apt-get install docker-registry) or set GANTRY_DOCKER_REGISTRY to its path");
            return None;
        };
        let mut last_log = String::new();
        // A free port is found by binding and letting go; another process may take it first, so try again.
        for _ in 0..3 {
            let dir = tempfile::Builder::new().prefix("gantry-docker-registry").tempdir().expect("a temporary directory for docker-registry");
            let port = free_port();
            let host = format!("127.0.0.1:{port}");
            let (auth_yaml, token) = match &auth {
                RegistryAuth::None => (String::new(), None),
                RegistryAuth::Basic { user, password } => {
                    let hash = bcrypt::hash(password, 4).expect("bcrypt hashes a password");
                    let path = dir.path().join("htpasswd");
                    std::fs::write(&path, format!("{user}:{hash}\n")).expect("write htpasswd");
                    (format!("auth:\n  htpasswd:\n    realm: gantry-test\n    path: {}\n", path.display()), None)
                }
                RegistryAuth::Token(token_auth) => {
                    let server = TokenServer::start(token_auth.clone());
                    let bundle = dir.path().join("token-root.pem");
                    std::fs::write(&bundle, &server.cert_pem).expect("write the token root certificate");
                    let yaml = format!(
                        "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                        server.realm(),
                        bundle.display()
                    );
                    (yaml, Some(server))
                }
            };
            let (tls_yaml, ca_pem) = if tls {
                let (ca_pem, cert_pem, key_pem) = tls_certificates();
                let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
                std::fs::write(&cert, cert_pem).expect("write the registry's certificate");
                std::fs::write(&key, key_pem).expect("write the registry's key");
                (format!("  tls:\n    certificate: {}\n    key: {}\n", cert.display(), key.display()), Some(ca_pem))
            } else {
                (String::new(), None)
            };
            let config = format!(
                "version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: {host}\n  secret: gantry-test-secret\n{tls_yaml}{auth_yaml}",
                dir.path().join("data").display()
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).expect("write docker-registry's config");
            let log_path = dir.path().join("registry.log");
            let log = std::fs::File::create(&log_path).expect("create docker-registry's log");
            let child = Command::new(&binary)
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone a file handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
            let mut registry = DockerRegistry { child, dir, host, token, ca_pem };
            match registry.wait_ready() {
                Ok(()) => return Some(registry),
                Err(log) => last_log = log,
            }
        }
        panic!("docker-registry did not start; its log:\n{last_log}");
    }

    /// Waits for the port to accept connections; the log when the process exits or never listens.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr: SocketAddr = self.host.parse().expect("a loopback address");
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(self.log());
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `127.0.0.1:PORT`: the registry part of references.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `http://127.0.0.1:PORT` (`https://` when started with TLS)
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.host)
    }

    /// The CA (PEM) that signed a TLS registry's certificate.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The registry's log so far (access lines carry method, path and status).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The storage's root directory.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Where the registry keeps a blob's bytes (filesystem driver layout).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.storage().join("docker/registry/v2/blobs/sha256").join(&hex[..2.min(hex.len())]).join(hex).join("data")
    }

    /// The token server's realm, when the registry uses one.
    pub fn token_realm(&self) -> Option<String> {
        self.token.as_ref().map(|t| t.realm())
    }

    /// Every request the token server answered, oldest first.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.token.as_ref().map(|t| t.state.requests.lock().expect("token log lock").clone()).unwrap_or_default()
    }

    fn kill(&mut self) {
        // The child is ours: killed by its pid through the handle, then reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("a bound address").port()
}

/// (CA PEM, certificate PEM, key PEM): a CA and a server certificate it signs for 127.0.0.1 and localhost.
fn tls_certificates() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("generate the CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "gantry test registry CA");
    let ca = ca_params.self_signed(&ca_key).expect("self-sign the CA");
    let key = rcgen::KeyPair::generate().expect("generate the server key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("server parameters");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("sign the server certificate");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// Signs JWTs with a P-256 key whose self-signed certificate the registry trusts.
struct Signer {
    key: ring::signature::EcdsaKeyPair,
    cert_der: Vec<u8>,
    cert_pem: String,
}

impl Signer {
    fn new() -> Signer {
        let key_pair = rcgen::KeyPair::generate().expect("generate a P-256 key");
        let params = rcgen::CertificateParams::new(vec!["gantry-test-token-issuer".to_string()]).expect("certificate parameters");
        let cert = params.self_signed(&key_pair).expect("self-sign the token certificate");
        let rng = ring::rand::SystemRandom::new();
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(&ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING, &key_pair.serialize_der(), &rng).expect("ring reads rcgen's key");
        Signer { key, cert_der: cert.der().to_vec(), cert_pem: cert.pem() }
    }

    /// A compact JWS (ES256) over `claims`, the certificate in `x5c`.
    fn sign(&self, claims: &serde_json::Value) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = serde_json::json!({
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.cert_der)],
        });
        let signing_input = format!("{}.{}", b64.encode(header.to_string()), b64.encode(claims.to_string()));
        let rng = ring::rand::SystemRandom::new();
        let signature = self.key.sign(&rng, signing_input.as_bytes()).expect("ECDSA signs");
        format!("{signing_input}.{}", b64.encode(signature.as_ref()))
    }
}

struct TokenState {
    auth: TokenAuth,
    signer: Signer,
    requests: Mutex<Vec<TokenRequest>>,
    issued: AtomicU64,
}

/// The token server: a thread with its own runtime, stopped on drop.
struct TokenServer {
    addr: SocketAddr,
    state: Arc<TokenState>,
    /// The certificate the registry's `rootcertbundle` holds.
    cert_pem: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TokenServer {
    fn start(auth: TokenAuth) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the token server");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let addr = listener.local_addr().expect("a bound address");
        let signer = Signer::new();
        let cert_pem = signer.cert_pem.clone();
        let state = Arc::new(TokenState { auth, signer, requests: Mutex::new(Vec::new()), issued: AtomicU64::new(0) });
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime for the token server");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let state = served.clone();
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |req| {
                                    let state = state.clone();
                                    async move { Ok::<_, std::convert::Infallible>(answer_token(&state, req).await) }
                                });
                                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                            });
                        }
                    }
                }
            });
        });
        TokenServer { addr, state, cert_pem, stop: Some(stop), thread: Some(thread) }
    }

    fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}

/// Answers `GET /token` (Basic credentials or none) and `POST /token`
/// (`grant_type=password` or `refresh_token`), as docker's token servers do.
async fn answer_token(state: &TokenState, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let basic = req.headers().get(hyper::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic ")).map(str::to_string);
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let params: Vec<(String, String)> = if method == "POST" { url::form_urlencoded::parse(&body).into_owned().collect() } else { url::form_urlencoded::parse(query.as_bytes()).into_owned().collect() };
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let scopes: Vec<String> = if method == "POST" {
        params.iter().filter(|(k, _)| k == "scope").flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>()).filter(|s| !s.is_empty()).collect()
    } else {
        params.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.clone()).collect()
    };
    let grant_type = if method == "POST" { param("grant_type") } else { String::new() };
    let mut record = TokenRequest { method: method.clone(), user: None, grant_type: grant_type.clone(), service: param("service"), scopes: scopes.clone(), granted: Vec::new(), status: 200 };

    // Who is asking: Basic on GET; password or refresh token on POST; nobody otherwise.
    let user: Result<Option<&TokenUser>, ()> = match (method.as_str(), grant_type.as_str()) {
        ("GET", _) => match basic {
            None => Ok(None),
            Some(b64) => {
                let decoded = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok().and_then(|d| String::from_utf8(d).ok()).unwrap_or_default();
                let (name, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
                state.auth.users.iter().find(|u| u.user == name && u.password == password).map(Some).ok_or(())
            }
        },
        ("POST", "password") => {
            let (name, password) = (param("username"), param("password"));
            state.auth.users.iter().find(|u| u.user == name && u.password == password).map(Some).ok_or(())
        }
        ("POST", "refresh_token") => {
            let token = param("refresh_token");
            state.auth.users.iter().find(|u| u.refresh_token.as_deref() == Some(token.as_str())).map(Some).ok_or(())
        }
        _ => Err(()),
    };
    let user = match user {
        Ok(u) => u,
        Err(()) => {
            record.status = 401;
            state.requests.lock().expect("token log lock").push(record);
            return json_response(StatusCode::UNAUTHORIZED, serde_json::json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required: invalid username, password or refresh token"}]}));
        }
    };
    record.user = user.map(|u| u.user.clone());
    let allowed: BTreeSet<String> = match user {
        Some(u) => u.actions.iter().cloned().collect(),
        None if state.auth.anonymous_pull => ["pull".to_string()].into_iter().collect(),
        None => BTreeSet::new(),
    };
    let mut access = Vec::new();
    for scope in &scopes {
        let mut parts = scope.splitn(2, ':');
        let (Some(kind), Some(rest)) = (parts.next(), parts.next()) else { continue };
        let Some((name, actions)) = rest.rsplit_once(':') else { continue };
        let granted: Vec<String> = actions.split(',').filter(|a| allowed.contains("*") || (kind == "repository" && allowed.contains(*a))).map(str::to_string).collect();
        if !granted.is_empty() {
            record.granted.push(format!("{kind}:{name}:{}", granted.join(",")));
            access.push(serde_json::json!({"type": kind, "name": name, "actions": granted}));
        }
    }
    let issued_at = now();
    let claims = serde_json::json!({
        "iss": TOKEN_ISSUER,
        "sub": record.user.clone().unwrap_or_default(),
        "aud": record.service.clone(),
        "exp": issued_at + state.auth.expires_in,
        "nbf": issued_at.saturating_sub(1),
        "iat": issued_at,
        "jti": format!("gantry-{}", state.issued.fetch_add(1, Ordering::Relaxed)),
        "access": access,
    });
    let token = state.signer.sign(&claims);
    state.requests.lock().expect("token log lock").push(record);
    // GET answers `token`, POST `access_token` (both shapes exist in the wild).
    let mut body = if method == "POST" { serde_json::json!({"access_token": token}) } else { serde_json::json!({"token": token}) };
    body["expires_in"] = serde_json::json!(state.auth.expires_in);
    if method == "POST" && grant_type == "password" && param("access_type") == "offline" {
        if let Some(refresh) = user.and_then(|u| u.refresh_token.clone()) {
            body["refresh_token"] = serde_json::json!(refresh);
        }
    }
    json_response(StatusCode::OK, body)
}
