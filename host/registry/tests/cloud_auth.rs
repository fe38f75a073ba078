//! The credential sources on real parts: docker config files of each shape
//! with real credential-helper executables (shell scripts written by the
//! test that speak the helper protocol: `get`, the server URL on stdin,
//! `{ServerURL, Username, Secret}` on stdout), ECR's GetAuthorizationToken
//! against moto (started on 127.0.0.1 at a free port, killed by the test),
//! the docker CLI itself as the oracle for which credential a config gives
//! a registry (what it sends its daemon — a stand-in on a unix socket — for
//! `docker pull`, against what `DockerConfig` answers, for each shape of
//! file), Artifact Registry with a counting token source, `ByRegistry` routing
//! between them, and no secret in any error or `Debug` of these types.
//!
//! moto is GANTRY_MOTO's `moto_server`, else /tmp/motovenv/bin/moto_server,
//! else the one on PATH; missing, its tests fail when CI is set and skip
//! otherwise.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gantry_registry::docker_config::DockerConfig;
use gantry_registry::gar::{AccessTokenFuture, AccessTokenSource, ArtifactRegistryCredentials};
use gantry_registry::sources::ByRegistry;
use gantry_registry::{Credential, CredentialError, CredentialSource, Secret};

const HELPER_SECRET: &str = "helper-s3cret-value";
const HUB_TOKEN: &str = "hub-identity-t0ken";

/// A credential helper speaking the protocol: it records the server URL it
/// was asked about in `asked`, and answers by URL.
fn helper_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("docker-credential-{name}"));
    let script = format!("#!/bin/sh\n[ \"$1\" = get ] || {{ echo \"unexpected command $1\" >&2; exit 2; }}\nurl=$(cat)\nprintf '%s\\n' \"$url\" >> '{}/asked'\n{body}\n", dir.display());
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The store most tests use: Basic for one registry, an identity token for Docker Hub, "not found" otherwise.
fn store_helper(dir: &Path) {
    helper_script(
        dir,
        "gantry-store",
        &format!(
            r#"case "$url" in
  reg.example:5000) printf '{{"ServerURL":"%s","Username":"helper-user","Secret":"{HELPER_SECRET}"}}' "$url" ;;
  https://index.docker.io/v1/) printf '{{"ServerURL":"%s","Username":"<token>","Secret":"{HUB_TOKEN}"}}' "$url" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac"#
        ),
    );
}

fn write_config(dir: &Path, text: &str) -> DockerConfig {
    let path = dir.join("config.json");
    std::fs::write(&path, text).unwrap();
    DockerConfig::load_file(&path).unwrap().with_helper_path(vec![dir.to_path_buf()])
}

fn asked(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("asked")).unwrap_or_default().lines().map(str::to_string).collect()
}

fn no_secret(shown: &str) {
    for secret in [HELPER_SECRET, HUB_TOKEN, "file-passw0rd", "gar-access-t0ken", "ecr-secret-key"] {
        assert!(!shown.contains(secret), "a secret was shown: {shown}");
    }
}

#[tokio::test]
async fn creds_store_helper_answers_basic_and_docker_hub_identity_token() {
    let dir = tempfile::tempdir().unwrap();
    store_helper(dir.path());
    let config = write_config(dir.path(), r#"{"auths": {"https://index.docker.io/v1/": {}, "reg.example:5000": {}}, "credsStore": "gantry-store"}"#);

    let got = config.credential("reg.example:5000").await.unwrap();
    assert_eq!(got, Credential::Basic { username: "helper-user".into(), password: Secret::new(HELPER_SECRET) });
    // Docker Hub is asked about under its legacy URL, and `<token>` means an identity token.
    assert_eq!(config.credential("docker.io").await.unwrap(), Credential::IdentityToken(Secret::new(HUB_TOKEN)));
    // "credentials not found in native keychain" is anonymous, not an error.
    assert_eq!(config.credential("quay.io").await.unwrap(), Credential::Anonymous);
    assert_eq!(asked(dir.path()), ["reg.example:5000", "https://index.docker.io/v1/", "quay.io"]);
}

#[tokio::test]
async fn cred_helpers_win_over_creds_store_and_auths() {
    let dir = tempfile::tempdir().unwrap();
    store_helper(dir.path());
    helper_script(dir.path(), "per-host", &format!(r#"printf '{{"ServerURL":"%s","Username":"per-host","Secret":"{HELPER_SECRET}"}}' "$url""#));
    let config = write_config(
        dir.path(),
        r#"{
  "auths": {"reg.example:5000": {"username": "file-user", "password": "file-passw0rd"}, "plain.example": {"auth": "dTpmaWxlLXBhc3N3MHJk"}},
  "credHelpers": {"reg.example:5000": "per-host", "https://plain.example/v2/": "per-host"}
}"#,
    );
    let got = config.credential("reg.example:5000").await.unwrap();
    assert_eq!(got, Credential::Basic { username: "per-host".into(), password: Secret::new(HELPER_SECRET) });
    // Without a credsStore, other hosts come from auths; a credHelpers key with a scheme is not the host (as for docker).
    assert_eq!(config.credential("plain.example").await.unwrap(), Credential::Basic { username: "u".into(), password: Secret::new("file-passw0rd") });
    assert_eq!(asked(dir.path()), ["reg.example:5000"]);

    // With a credsStore, auths is not consulted for credentials: the store's "not found" is anonymous.
    let config = write_config(dir.path(), r#"{"auths": {"plain.example": {"auth": "dTpmaWxlLXBhc3N3MHJk"}}, "credsStore": "gantry-store"}"#);
    assert_eq!(config.credential("plain.example").await.unwrap(), Credential::Anonymous);
}

#[tokio::test]
async fn a_missing_helper_is_an_error_naming_the_helper_the_registry_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), r#"{"credHelpers": {"reg.example": "nope"}}"#);
    let err = config.credential("reg.example").await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("credentials for reg.example: credential helper `docker-credential-nope`"), "{msg}");
    assert!(msg.contains("credHelpers in") && msg.contains("config.json") && msg.contains("not on PATH"), "{msg}");

    // Looked up on PATH (the default), a helper that is nowhere is the same error.
    let on_path = DockerConfig::load_file(&dir.path().join("config.json")).unwrap();
    let err = on_path.credential("reg.example").await.unwrap_err();
    assert!(err.to_string().contains("`docker-credential-nope`") && err.to_string().contains("not on PATH"), "{err}");
}

#[tokio::test]
async fn a_failing_helper_is_an_error_that_shows_none_of_its_output() {
    let dir = tempfile::tempdir().unwrap();
    helper_script(dir.path(), "broken", &format!("echo \"oops {HELPER_SECRET}\"; echo \"{HELPER_SECRET}\" >&2; exit 3"));
    helper_script(dir.path(), "garbled", &format!("echo \"Username={HELPER_SECRET}\""));
    let config = write_config(dir.path(), r#"{"credHelpers": {"a.example": "broken", "b.example": "garbled"}}"#);

    let err = config.credential("a.example").await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`docker-credential-broken`") && msg.contains("a.example") && msg.contains("exit status: 3"), "{msg}");
    assert!(msg.contains("echo a.example | docker-credential-broken get"), "{msg}");
    no_secret(&format!("{err} {err:?}"));

    let err = config.credential("b.example").await.unwrap_err();
    assert!(err.to_string().contains("not the helper protocol's JSON"), "{err}");
    no_secret(&format!("{err} {err:?}"));
}

#[tokio::test]
async fn a_helper_that_never_answers_is_stopped_at_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    helper_script(dir.path(), "stuck", "exec sleep 600");
    let config = write_config(dir.path(), r#"{"credsStore": "stuck"}"#).with_helper_timeout(Duration::from_millis(300));
    let err = config.credential("reg.example").await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`docker-credential-stuck` (credsStore in") && msg.contains("did not answer within 300ms and was stopped"), "{msg}");
}

#[test]
fn a_malformed_file_on_disk_is_an_error_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, "{\n  \"auths\": {\n    \"reg.example\": {\"auth\": \"x\",}\n  }\n}\n").unwrap();
    let err = DockerConfig::load_file(&path).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("docker config {}:3:", path.display())), "{msg}");
    assert!(msg.contains("fix the file"), "{msg}");
}

/// Counts how often it is asked; refuses when told to.
struct CountingTokens {
    calls: AtomicUsize,
    refuse_first: bool,
}

impl AccessTokenSource for CountingTokens {
    fn access_token(&self) -> AccessTokenFuture<'_> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if self.refuse_first && n == 0 {
                return Err("the metadata server did not answer: check workload identity".to_string());
            }
            Ok(Secret::new(format!("gar-access-t0ken-{n}")))
        })
    }
}

#[tokio::test]
async fn artifact_registry_asks_the_token_source_every_time() {
    let tokens = Arc::new(CountingTokens { calls: AtomicUsize::new(0), refuse_first: true });
    let gar = ArtifactRegistryCredentials::new(tokens.clone());

    let err = gar.credential("europe-west1-docker.pkg.dev").await.unwrap_err();
    assert!(err.to_string().contains("no Google Cloud access token (the metadata server did not answer"), "{err}");
    // Asked again (as after a 401), the source is asked again.
    let first = gar.credential("europe-west1-docker.pkg.dev").await.unwrap();
    assert_eq!(first, Credential::Basic { username: "oauth2accesstoken".into(), password: Secret::new("gar-access-t0ken-1") });
    let second = gar.credential("eu.gcr.io").await.unwrap();
    assert_eq!(second, Credential::Basic { username: "oauth2accesstoken".into(), password: Secret::new("gar-access-t0ken-2") });
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 3);

    // Not Google's: refused without asking for a token.
    let err = gar.credential("docker.io").await.unwrap_err();
    assert!(err.to_string().contains("not an Artifact Registry"), "{err}");
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn by_registry_routes_to_google_and_falls_back_to_the_docker_config() {
    let dir = tempfile::tempdir().unwrap();
    store_helper(dir.path());
    let docker = write_config(dir.path(), r#"{"credsStore": "gantry-store"}"#);
    let tokens = Arc::new(CountingTokens { calls: AtomicUsize::new(0), refuse_first: false });
    let sources = ByRegistry::new()
        .route("us-docker.pkg.dev", Arc::new(ArtifactRegistryCredentials::new(tokens.clone())))
        .fallback(Arc::new(docker));

    let gar = sources.credential("us-docker.pkg.dev").await.unwrap();
    assert!(matches!(gar, Credential::Basic { ref username, .. } if username == "oauth2accesstoken"), "{gar:?}");
    assert_eq!(sources.credential("reg.example:5000").await.unwrap(), Credential::Basic { username: "helper-user".into(), password: Secret::new(HELPER_SECRET) });
    assert_eq!(sources.credential("quay.io").await.unwrap(), Credential::Anonymous);
    // Only the fallback's hosts reached the helper; only the routed host reached the token source.
    assert_eq!(asked(dir.path()), ["reg.example:5000", "quay.io"]);
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn no_secret_in_any_debug_or_error() {
    let dir = tempfile::tempdir().unwrap();
    store_helper(dir.path());
    helper_script(dir.path(), "broken", &format!("echo \"{HELPER_SECRET}\"; exit 1"));
    let config = write_config(
        dir.path(),
        r#"{"auths": {"a.example": {"username": "u", "password": "file-passw0rd"}, "b.example": {"identitytoken": "file-passw0rd"}, "c.example": {"registrytoken": "file-passw0rd"}},
            "credHelpers": {"reg.example:5000": "gantry-store", "broken.example": "broken"}}"#,
    );
    let tokens = Arc::new(CountingTokens { calls: AtomicUsize::new(0), refuse_first: false });
    let gar = ArtifactRegistryCredentials::new(tokens);
    let mut shown = format!("{config:?} {gar:?}");
    for registry in ["a.example", "b.example", "c.example", "reg.example:5000", "docker.io"] {
        shown += &format!(" {:?}", config.credential(registry).await.unwrap());
    }
    shown += &format!(" {:?}", gar.credential("us-docker.pkg.dev").await.unwrap());
    let err: CredentialError = config.credential("broken.example").await.unwrap_err();
    shown += &format!(" {err} {err:?}");
    let sources = ByRegistry::new().route("us-docker.pkg.dev", Arc::new(gar)).fallback(Arc::new(config));
    shown += &format!(" {sources:?}");
    assert!(shown.contains("<redacted>"), "{shown}");
    no_secret(&shown);
}

#[cfg(feature = "ecr")]
mod ecr {
    //! GetAuthorizationToken against moto: moto answers `AWS:ACCOUNT-auth-token`
    //! with an expiry in 2015.

    use super::*;
    use gantry_registry::ecr::EcrCredentials;

    const ACCOUNT: &str = "123456789012";
    const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

    fn moto_binary() -> Option<PathBuf> {
        let found = match std::env::var_os("GANTRY_MOTO") {
            Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
            None => std::iter::once(PathBuf::from("/tmp/motovenv/bin/moto_server"))
                .chain(std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).map(|dir| dir.join("moto_server")))
                .find(|p| p.is_file()),
        };
        if found.is_none() {
            gantry_registry::testing::missing(
                "moto_server",
                "set GANTRY_MOTO, or `python3 -m venv /tmp/motovenv && /tmp/motovenv/bin/pip install 'moto[server]'`",
            );
        }
        found
    }

    /// moto on 127.0.0.1 at a free port; killed (by pid, through its handle) when dropped.
    struct Moto {
        child: std::process::Child,
        url: String,
    }

    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// moto started from Python with every ECR token expiring in an hour.
    const MOTO_FUTURE_EXPIRY: &str = r#"
import datetime, sys, threading, time, types
import moto.ecr.responses as responses
# moto answers GetAuthorizationToken with a fixed past expiry, computed with
# time.mktime in older releases and datetime(2015, 1, 1) in newer ones: both
# are made an hour from now.
if hasattr(responses, "time"):
    responses.time = types.SimpleNamespace(mktime=lambda _t: time.time() + 3600)
class InAnHour(datetime.datetime):
    def __new__(cls, *args, **kwargs):
        t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        return datetime.datetime(t.year, t.month, t.day, t.hour, t.minute, t.second, tzinfo=datetime.timezone.utc)
if hasattr(responses, "datetime"):
    responses.datetime = InAnHour
from moto.server import ThreadedMotoServer
ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False).start()
threading.Event().wait()
"#;

    async fn start(bin: &Path, future_expiry: bool) -> Moto {
        start_with(bin, future_expiry, &[]).await
    }

    async fn start_with(bin: &Path, future_expiry: bool, env: &[(&str, &str)]) -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut command = if future_expiry {
            let python = bin.with_file_name("python");
            assert!(python.is_file(), "{} has no python beside it (a venv's moto_server has)", bin.display());
            let mut c = std::process::Command::new(python);
            c.args(["-c", MOTO_FUTURE_EXPIRY, &port.to_string()]);
            c
        } else {
            let mut c = std::process::Command::new(bin);
            c.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            c
        };
        command.envs(env.iter().copied());
        let child = command.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        let moto = Moto { child, url: format!("http://127.0.0.1:{port}") };
        // Hang guard only: wait until it accepts connections.
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(ready.is_ok(), "moto did not listen on 127.0.0.1:{port}");
        moto
    }

    async fn sdk(url: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_credential_types::Credentials::new("AKIDTESTING", "ecr-secret-key", None, None, "test"))
            .endpoint_url(url)
            .load()
            .await
    }

    fn aws_password(c: &Credential) -> &str {
        match c {
            Credential::Basic { username, password } if username == "AWS" => password.expose(),
            other => panic!("not AWS basic credentials: {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_expired_token_is_used_once_and_asked_for_again() {
        let Some(bin) = moto_binary() else { return };
        let mut moto = start(&bin, false).await;
        let ecr = EcrCredentials::new(&sdk(&moto.url).await);

        let got = ecr.credential(HOST).await.unwrap();
        assert_eq!(aws_password(&got), format!("{ACCOUNT}-auth-token"));
        no_secret(&format!("{got:?} {ecr:?}"));
        assert!(!format!("{got:?} {ecr:?}").contains("auth-token"));

        // moto's token expired in 2015: it is not kept, so the next ask goes to ECR — which is gone.
        moto.child.kill().unwrap();
        moto.child.wait().unwrap();
        let err = ecr.credential(HOST).await.unwrap_err();
        let msg = err.to_string();
        eprintln!("{msg}");
        assert!(msg.starts_with(&format!("credentials for {HOST}: GetAuthorizationToken for account {ACCOUNT} in us-east-1: cannot reach ECR at {}", moto.url)), "{msg}");
        assert!(msg.contains("check the network, the region, and the endpoint URL"), "{msg}");
        no_secret(&format!("{err} {err:?}"));
    }

    #[tokio::test]
    async fn a_token_is_kept_per_host_until_it_nears_expiry() {
        let Some(bin) = moto_binary() else { return };
        let mut moto = start(&bin, true).await;
        let ecr = EcrCredentials::new(&sdk(&moto.url).await);
        let first = ecr.credential(HOST).await.unwrap();
        assert_eq!(aws_password(&first), format!("{ACCOUNT}-auth-token"));
        assert!(format!("{ecr:?}").contains(HOST), "{ecr:?}");
        ecr.forget(HOST);
        assert!(!format!("{ecr:?}").contains(HOST), "{ecr:?}");
        assert_eq!(ecr.credential(HOST).await.unwrap(), first);
        // A registry that refused the token makes the client say so: the token is forgotten too.
        ecr.refused(HOST);
        assert!(!format!("{ecr:?}").contains(HOST), "{ecr:?}");
        assert_eq!(ecr.credential(HOST).await.unwrap(), first);

        // With ECR gone, the same host is answered from the cache, and another account's host is not.
        moto.child.kill().unwrap();
        moto.child.wait().unwrap();
        assert_eq!(ecr.credential(HOST).await.unwrap(), first);
        let other = "210987654321.dkr.ecr.us-east-1.amazonaws.com";
        assert!(ecr.credential(other).await.unwrap_err().to_string().contains("cannot reach ECR"));

        // A margin longer than the token's life: never kept.
        let moto = start(&bin, true).await;
        let short = EcrCredentials::new(&sdk(&moto.url).await).with_refresh_margin(Duration::from_secs(7200));
        short.credential(HOST).await.unwrap();
        assert!(!format!("{short:?}").contains(HOST), "{short:?}");
    }

    #[tokio::test]
    async fn credentials_aws_does_not_know_are_refused_with_the_fix() {
        let Some(bin) = moto_binary() else { return };
        // moto checks signatures against its IAM users from the first request on.
        let moto = start_with(&bin, false, &[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]).await;
        let err = EcrCredentials::new(&sdk(&moto.url).await).credential(HOST).await.unwrap_err();
        let msg = err.to_string();
        eprintln!("{msg}");
        assert!(msg.starts_with(&format!("credentials for {HOST}: AWS refused GetAuthorizationToken for account {ACCOUNT} in us-east-1 (")), "{msg}");
        assert!(msg.contains("check the target's AWS credentials") && msg.contains("ecr:GetAuthorizationToken"), "{msg}");
        no_secret(&format!("{err} {err:?}"));
    }

    #[tokio::test]
    async fn a_host_that_is_not_ecr_is_refused_without_a_call() {
        // No endpoint answers at this address: a call would fail differently.
        let ecr = EcrCredentials::new(&sdk("http://127.0.0.1:9").await);
        let err = ecr.credential("us-docker.pkg.dev").await.unwrap_err();
        assert!(err.to_string().contains("not an ECR registry host"), "{err}");
    }

    #[tokio::test]
    async fn without_aws_credentials_the_error_says_so() {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let err = EcrCredentials::new(&sdk).credential(HOST).await.unwrap_err();
        let msg = err.to_string();
        eprintln!("{msg}");
        assert!(msg.contains("GetAuthorizationToken for account 123456789012 in us-east-1 could not be signed or sent (no AWS credentials): check the target's AWS credentials"), "{msg}");
    }
}

mod docker_cli {
    //! `docker pull IMAGE` sends the daemon the credential the CLI resolved
    //! from the config (`X-Registry-Auth`, base64url JSON) before anything
    //! else happens; a stand-in daemon records it and refuses the pull.

    use super::*;
    use base64::Engine as _;
    use gantry_registry::Reference;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    fn docker_cli() -> Option<PathBuf> {
        let found = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|dir| dir.join("docker"))
            .find(|p| p.is_file());
        if found.is_none() {
            gantry_registry::testing::missing("the docker CLI", "install docker-ce-cli (or docker.io) so that `docker` is on PATH");
        }
        found
    }

    /// Answers every request with a 500, keeping each request's X-Registry-Auth.
    fn stand_in_daemon(sock: &Path) -> Arc<Mutex<Vec<String>>> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::UnixListener::bind(sock).unwrap();
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    for line in head.lines() {
                        if let Some((name, value)) = line.split_once(':') {
                            if name.eq_ignore_ascii_case("x-registry-auth") {
                                record.lock().unwrap().push(value.trim().to_string());
                            }
                        }
                    }
                    let body = r#"{"message":"stand-in daemon"}"#;
                    let answer = format!(
                        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(answer.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        seen
    }

    /// The credential the daemon would use, from X-Registry-Auth: a registry
    /// token first, then an identity token, then username and password.
    fn from_header(header: &str) -> Credential {
        let json = base64::engine::general_purpose::URL_SAFE.decode(header).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let field = |k: &str| v.get(k).and_then(|s| s.as_str()).filter(|s| !s.is_empty()).map(str::to_string);
        if let Some(t) = field("registrytoken") {
            Credential::Bearer(Secret::new(t))
        } else if let Some(t) = field("identitytoken") {
            Credential::IdentityToken(Secret::new(t))
        } else if field("username").is_some() || field("password").is_some() {
            Credential::Basic { username: field("username").unwrap_or_default(), password: Secret::new(field("password").unwrap_or_default()) }
        } else {
            Credential::Anonymous
        }
    }

    #[tokio::test]
    async fn docker_config_gives_each_registry_what_the_docker_cli_sends() {
        let Some(docker) = docker_cli() else { return };
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("docker.sock");
        let seen = stand_in_daemon(&sock);
        store_helper(dir.path());
        helper_script(dir.path(), "per-host", &format!(r#"printf '{{"ServerURL":"%s","Username":"per-host","Secret":"{HELPER_SECRET}"}}' "$url""#));
        let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());

        let hub = b64("hub-user:file-passw0rd");
        let shapes = [
            // Docker Hub only under its legacy URL (not `docker.io`, not `index.docker.io`); other keys by exact match or with scheme and path stripped.
            format!(
                r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{hub}"}}, "https://reg.example:5000/v2/": {{"username": "u", "password": "file-passw0rd"}}}}}}"#
            ),
            format!(r#"{{"auths": {{"docker.io": {{"auth": "{hub}"}}, "index.docker.io": {{"auth": "{hub}"}}, "http://quay.io": {{"auth": "{hub}"}}}}}}"#),
            r#"{"auths": {"reg.example:5000": {"username": "u", "identitytoken": "file-passw0rd"}, "quay.io": {"auth": "dTpw", "identitytoken": "i", "registrytoken": "file-passw0rd"}}}"#.to_string(),
            format!(r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{hub}"}}, "reg.example:5000": {{}}}}, "credsStore": "gantry-store"}}"#),
            format!(
                r#"{{"auths": {{"quay.io": {{"auth": "{hub}"}}}}, "credsStore": "gantry-store", "credHelpers": {{"https://index.docker.io/v1/": "per-host", "reg.example:5000": "", "quay.io": "per-host", "docker.io": "per-host"}}}}"#
            ),
            String::new(),
        ];
        let images = ["busybox", "index.docker.io/library/busybox", "reg.example:5000/team/app:1", "quay.io/x/y"];
        let mut kinds = std::collections::BTreeSet::new();
        for shape in &shapes {
            std::fs::write(dir.path().join("config.json"), shape).unwrap();
            let config = DockerConfig::load_file(&dir.path().join("config.json")).unwrap().with_helper_path(vec![dir.path().to_path_buf()]);
            for image in images {
                let before = seen.lock().unwrap().len();
                let pull = tokio::process::Command::new(&docker)
                    .args(["pull", image])
                    .env("DOCKER_CONFIG", dir.path())
                    .env("DOCKER_HOST", format!("unix://{}", sock.display()))
                    .env("PATH", &path)
                    .stdin(std::process::Stdio::null())
                    .output();
                // Hang guard only.
                let out = tokio::time::timeout(Duration::from_secs(120), pull).await.expect("docker pull hung").unwrap();
                let sent = seen.lock().unwrap()[before..].last().cloned();
                let Some(sent) = sent else { panic!("docker pull {image} sent no X-Registry-Auth: {}", String::from_utf8_lossy(&out.stderr)) };
                let registry = Reference::parse(image).unwrap().domain;
                let ours = config.credential(&registry).await.unwrap();
                kinds.insert(format!("{ours:?}").split(['(', ' ']).next().unwrap_or_default().to_string());
                assert_eq!(ours, from_header(&sent), "config {shape:?}, image {image}: docker sent {:?}", String::from_utf8_lossy(&base64::engine::general_purpose::URL_SAFE.decode(&sent).unwrap()));
            }
        }
        // The shapes reached every kind of credential.
        assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["Anonymous", "Basic", "Bearer", "IdentityToken"]);
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }
}
