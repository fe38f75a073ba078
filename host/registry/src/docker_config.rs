//! The docker CLI's `config.json` as a [`CredentialSource`]: found where the
//! CLI finds it (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`),
//! read once, and asked per registry host the way the CLI resolves a host:
//! `credHelpers[host]` first, then `credsStore`, then `auths[host]`. Docker
//! Hub (`docker.io`) is known by its legacy server URL
//! `https://index.docker.io/v1/` in all three; `auths` keys are matched as
//! written first, then with scheme and path stripped (`https://host:5000/v2/`
//! is `host:5000`); `credHelpers` keys only as written — exactly what the
//! docker CLI 28 sends its daemon for the same file (a test compares them).
//! One difference: the CLI warns about a malformed file and goes on without
//! credentials, and ignores a credsStore helper it cannot run; here both are
//! errors. Credential helpers are run as the CLI runs them
//! (`docker-credential-NAME get`, the server URL on stdin, JSON back), each
//! within a time bound. It owns the file's format and the helper protocol; it
//! must never write the file, store or erase credentials, or put a secret or
//! a helper's output into an error or a log line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tokio::io::AsyncWriteExt as _;

use crate::credential::{Credential, CredentialError, CredentialFuture, CredentialSource, Secret};

/// The key docker stores Docker Hub's credentials under, and the server URL
/// its credential helpers are asked about for Docker Hub.
pub const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// How long a credential helper may take before it is killed.
pub const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// The message a credential helper prints when it has nothing for a server.
const NOT_FOUND: &str = "credentials not found in native keychain";

/// The `Username` a helper answers with when `Secret` is an identity token.
const TOKEN_USERNAME: &str = "<token>";

/// A docker `config.json`: the credentials part of it.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// The file read (or looked for), for messages.
    path: Option<PathBuf>,
    /// `auths`, by key as written.
    auths: BTreeMap<String, AuthEntry>,
    /// `credsStore`: the helper for every host without its own.
    creds_store: Option<String>,
    /// `credHelpers`: a helper per key as written.
    cred_helpers: BTreeMap<String, String>,
    /// Where helpers are looked for instead of `PATH` (tests).
    helper_path: Option<Vec<PathBuf>>,
    helper_timeout: Duration,
}

/// One `auths` entry, decoded.
#[derive(Debug, Clone, Default)]
struct AuthEntry {
    username: String,
    password: Option<Secret>,
    identity_token: Option<Secret>,
    registry_token: Option<Secret>,
}

/// A docker config file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("docker config {place}: {message}")]
pub struct DockerConfigError {
    /// The file.
    pub path: PathBuf,
    /// Line and column (1-based) of the problem, when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong and how to fix it (never a secret).
    pub message: String,
    place: String,
}

impl DockerConfigError {
    fn new(path: &Path, position: Option<(usize, usize)>, message: String) -> DockerConfigError {
        let place = match position {
            Some((line, column)) => format!("{}:{line}:{column}", path.display()),
            None => path.display().to_string(),
        };
        DockerConfigError { path: path.to_path_buf(), position, message, place }
    }
}

// The file's shape; unknown keys (proxies, formats, plugins…) are ignored as docker ignores what it does not use.
// No `Debug`: these hold secrets as plain strings until decoded.
#[derive(Deserialize, Default)]
struct RawFile {
    auths: Option<BTreeMap<String, Option<RawAuth>>>,
    #[serde(rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(rename = "credHelpers")]
    cred_helpers: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
struct RawAuth {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
    registrytoken: Option<String>,
}

/// What a credential helper answers to `get`.
#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

impl Default for DockerConfig {
    fn default() -> DockerConfig {
        DockerConfig {
            path: None,
            auths: BTreeMap::new(),
            creds_store: None,
            cred_helpers: BTreeMap::new(),
            helper_path: None,
            helper_timeout: DEFAULT_HELPER_TIMEOUT,
        }
    }
}

impl DockerConfig {
    /// The file the docker CLI reads: `$DOCKER_CONFIG/config.json`, else
    /// `$HOME/.docker/config.json`; `None` without either variable.
    pub fn default_path() -> Option<PathBuf> {
        config_path(std::env::var_os("DOCKER_CONFIG"), std::env::var_os("HOME"))
    }

    /// The config the docker CLI would use ([`DockerConfig::default_path`]);
    /// no file means no credentials. Reads one small file synchronously:
    /// call it before async work starts, or in `spawn_blocking`.
    pub fn load() -> Result<DockerConfig, DockerConfigError> {
        match DockerConfig::default_path() {
            Some(path) => DockerConfig::load_file(&path),
            None => Ok(DockerConfig::default()),
        }
    }

    /// The config at `path`; a missing file means no credentials.
    pub fn load_file(path: &Path) -> Result<DockerConfig, DockerConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => DockerConfig::from_json(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DockerConfig { path: Some(path.to_path_buf()), ..DockerConfig::default() }),
            Err(e) => Err(DockerConfigError::new(
                path,
                None,
                format!("cannot be read ({e}): make it readable, or point DOCKER_CONFIG at another directory"),
            )),
        }
    }

    /// Parses a config's text; `path` is where it came from, for messages.
    /// An empty file is an empty config, as docker takes it.
    pub fn from_json(text: &str, path: &Path) -> Result<DockerConfig, DockerConfigError> {
        let raw: RawFile = if text.trim().is_empty() {
            RawFile::default()
        } else {
            serde_json::from_str(text).map_err(|e| json_error(path, &e))?
        };
        let mut auths = BTreeMap::new();
        for (key, entry) in raw.auths.unwrap_or_default() {
            let entry = entry.unwrap_or_default();
            let decoded = decode_entry(entry).map_err(|why| {
                DockerConfigError::new(
                    path,
                    position_of(text, &key),
                    format!("auths entry `{key}`: {why}: log in again (`docker login {key}`) or remove the entry"),
                )
            })?;
            auths.insert(key, decoded);
        }
        Ok(DockerConfig {
            path: Some(path.to_path_buf()),
            auths,
            creds_store: raw.creds_store.filter(|s| !s.is_empty()),
            cred_helpers: raw.cred_helpers.unwrap_or_default(),
            ..DockerConfig::default()
        })
    }

    /// Looks for credential helpers in these directories instead of `PATH`.
    pub fn with_helper_path(mut self, dirs: Vec<PathBuf>) -> DockerConfig {
        self.helper_path = Some(dirs);
        self
    }

    /// How long a helper may run before it is killed (default 30 s).
    pub fn with_helper_timeout(mut self, timeout: Duration) -> DockerConfig {
        self.helper_timeout = timeout;
        self
    }

    /// The file this config was read from (or looked for).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The credential helper for `registry` and where it was configured
    /// (`credHelpers` beats `credsStore`; an empty `credHelpers` entry means
    /// the file's `auths`), if any.
    pub fn helper_for(&self, registry: &str) -> Option<(&str, &'static str)> {
        match self.cred_helpers.get(&server_url(registry)) {
            Some(helper) if helper.is_empty() => None,
            Some(helper) => Some((helper.as_str(), "credHelpers")),
            None => self.creds_store.as_deref().map(|store| (store, "credsStore")),
        }
    }

    fn auth_for(&self, registry: &str) -> Option<&AuthEntry> {
        let server = server_url(registry);
        self.auths.get(&server).or_else(|| self.auths.iter().find(|(key, _)| key_host(key) == server).map(|(_, entry)| entry))
    }

    fn file_name(&self) -> String {
        self.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "the docker config".to_string())
    }

    async fn resolve(&self, registry: &str) -> Result<Credential, String> {
        if let Some((helper, setting)) = self.helper_for(registry) {
            let credential = self.run_helper(helper, setting, registry).await?;
            tracing::debug!(registry, helper, setting, credential = kind(&credential), "docker config: credential from a helper");
            return Ok(credential);
        }
        let credential = match self.auth_for(registry) {
            None => Credential::Anonymous,
            Some(entry) => entry.credential(),
        };
        tracing::debug!(registry, credential = kind(&credential), "docker config: credential from auths");
        Ok(credential)
    }

    /// `docker-credential-HELPER get` for `registry`; never echoes its output.
    async fn run_helper(&self, helper: &str, setting: &str, registry: &str) -> Result<Credential, String> {
        let program = format!("docker-credential-{helper}");
        let configured = format!("{setting} in {}", self.file_name());
        let command_path = match &self.helper_path {
            None => PathBuf::from(&program),
            Some(dirs) => match dirs.iter().map(|d| d.join(&program)).find(|p| p.is_file()) {
                Some(found) => found,
                None => return Err(missing_helper(&program, &configured)),
            },
        };
        let server = server_url(registry);
        let mut child = match tokio::process::Command::new(&command_path)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing_helper(&program, &configured)),
            Err(e) => return Err(format!("credential helper `{program}` ({configured}) could not be started: {e}: check that it is executable")),
        };
        let stdin = child.stdin.take();
        let ran = tokio::time::timeout(self.helper_timeout, async move {
            if let Some(mut stdin) = stdin {
                // A helper that exits without reading its stdin closes the pipe: that is its answer, not an error.
                match stdin.write_all(server.as_bytes()).await {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e),
                    _ => {}
                }
            }
            child.wait_with_output().await
        })
        .await;
        let output = match ran {
            Err(_) => {
                return Err(format!(
                    "credential helper `{program}` ({configured}) did not answer within {:?} and was stopped: it may be waiting for a keychain to unlock or a prompt; try `echo {} | {program} get`",
                    self.helper_timeout,
                    server_url(registry)
                ))
            }
            Ok(Err(e)) => return Err(format!("credential helper `{program}` ({configured}) failed to run: {e}")),
            Ok(Ok(output)) => output,
        };
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stdout);
            let said_err = String::from_utf8_lossy(&output.stderr);
            if said.trim() == NOT_FOUND || said_err.trim() == NOT_FOUND {
                return Ok(Credential::Anonymous);
            }
            return Err(format!(
                "credential helper `{program}` ({configured}) failed ({}); its output is not shown as it may hold a secret: run `echo {} | {program} get` to see it, or `docker login {registry}` again",
                output.status,
                server_url(registry)
            ));
        }
        let answer: HelperAnswer = serde_json::from_slice(&output.stdout).map_err(|_| {
            format!(
                "credential helper `{program}` ({configured}) answered `get` with something that is not the helper protocol's JSON ({{ServerURL, Username, Secret}}); its output is not shown as it may hold a secret: check the helper's version"
            )
        })?;
        Ok(if answer.username == TOKEN_USERNAME {
            Credential::IdentityToken(Secret::new(answer.secret))
        } else if answer.username.is_empty() && answer.secret.is_empty() {
            Credential::Anonymous
        } else {
            Credential::Basic { username: answer.username, password: Secret::new(answer.secret) }
        })
    }
}

impl CredentialSource for DockerConfig {
    fn credential<'a>(&'a self, registry: &'a str) -> CredentialFuture<'a> {
        Box::pin(async move {
            self.resolve(registry).await.map_err(|message| CredentialError { registry: registry.to_string(), message })
        })
    }
}

impl AuthEntry {
    /// As docker's registry client uses an entry: a registry token first,
    /// then an identity token, then username and password.
    fn credential(&self) -> Credential {
        if let Some(token) = &self.registry_token {
            return Credential::Bearer(token.clone());
        }
        if let Some(token) = &self.identity_token {
            return Credential::IdentityToken(token.clone());
        }
        match (&self.password, self.username.is_empty()) {
            (None, true) => Credential::Anonymous,
            (password, _) => Credential::Basic {
                username: self.username.clone(),
                password: password.clone().unwrap_or_else(|| Secret::new("")),
            },
        }
    }
}

/// The host an `auths` key names: scheme and path stripped
/// (`https://host:5000/v2/` → `host:5000`).
pub fn key_host(key: &str) -> &str {
    let rest = key.split_once("://").map(|(_, rest)| rest).unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

/// What docker looks `registry` up as, and asks a credential helper about:
/// Docker Hub's legacy URL for `docker.io` (and `index.docker.io`), else the
/// host as written.
pub fn server_url(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" => DOCKER_HUB_SERVER.to_string(),
        other => other.to_string(),
    }
}

/// What kind of credential, for a log line.
fn kind(credential: &Credential) -> &'static str {
    match credential {
        Credential::Anonymous => "anonymous",
        Credential::Basic { .. } => "basic",
        Credential::IdentityToken(_) => "identity token",
        Credential::Bearer(_) => "registry token",
    }
}

/// `DOCKER_CONFIG/config.json`, else `HOME/.docker/config.json` (empty variables count as unset).
fn config_path(docker_config: Option<std::ffi::OsString>, home: Option<std::ffi::OsString>) -> Option<PathBuf> {
    if let Some(dir) = docker_config.filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    let home = home.filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".docker").join("config.json"))
}

fn missing_helper(program: &str, configured: &str) -> String {
    format!("credential helper `{program}` ({configured}) is not on PATH: install it, or remove the entry so docker and gantry stop asking it")
}

/// Decodes one `auths` entry as docker does: `auth` (base64 of
/// `user:password`) wins over `username`/`password`.
fn decode_entry(raw: RawAuth) -> Result<AuthEntry, String> {
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    let mut entry = AuthEntry {
        username: raw.username.unwrap_or_default(),
        password: nonempty(raw.password).map(Secret::new),
        identity_token: nonempty(raw.identitytoken).map(Secret::new),
        registry_token: nonempty(raw.registrytoken).map(Secret::new),
    };
    if let Some(auth) = nonempty(raw.auth) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| "`auth` is not base64 (it must be the base64 of `username:password`)".to_string())?;
        let text = String::from_utf8(bytes).map_err(|_| "`auth` does not decode to text (it must be the base64 of `username:password`)".to_string())?;
        let (user, password) = text.split_once(':').ok_or_else(|| "`auth` decodes to text without a `:` (it must be the base64 of `username:password`)".to_string())?;
        entry.username = user.to_string();
        entry.password = Some(Secret::new(password.trim_matches('\0')));
    }
    Ok(entry)
}

/// A JSON error as `file:line:column` and a fix. Syntax errors keep
/// serde's words (they never quote values); type errors do not, as theirs
/// quote the value, which may be a secret.
fn json_error(path: &Path, e: &serde_json::Error) -> DockerConfigError {
    let what = match e.classify() {
        serde_json::error::Category::Data => {
            "a value has the wrong type (docker expects `auths` to map registries to {auth, username, password, identitytoken, registrytoken} strings, `credHelpers` to map registries to helper names, `credsStore` to be a helper name)".to_string()
        }
        _ => format!("not valid JSON ({})", strip_position(&e.to_string())),
    };
    DockerConfigError::new(
        path,
        Some((e.line(), e.column())),
        format!("{what}: fix the file (docker reads it too), or move it away and `docker login` again"),
    )
}

/// serde_json's message without its own " at line L column C".
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    }
}

/// Line and column of the first `"key"` in `text`: where an entry sits.
fn position_of(text: &str, key: &str) -> Option<(usize, usize)> {
    let quoted = serde_json::to_string(key).ok()?;
    let at = text.find(&quoted)?;
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    Some((line, column))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> DockerConfig {
        DockerConfig::from_json(text, Path::new("/home/u/.docker/config.json")).unwrap()
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    async fn get(c: &DockerConfig, registry: &str) -> Credential {
        c.credential(registry).await.unwrap()
    }

    #[test]
    fn keys_and_hosts_as_docker_reads_them() {
        assert_eq!(key_host("https://index.docker.io/v1/"), "index.docker.io");
        assert_eq!(key_host("http://registry.example:5000/v2/"), "registry.example:5000");
        assert_eq!(key_host("registry.example:5000"), "registry.example:5000");
        assert_eq!(key_host("registry.example:5000/v1/"), "registry.example:5000");
        assert_eq!(server_url("docker.io"), DOCKER_HUB_SERVER);
        assert_eq!(server_url("index.docker.io"), DOCKER_HUB_SERVER);
        assert_eq!(server_url("127.0.0.1:5000"), "127.0.0.1:5000");
    }

    #[tokio::test]
    async fn auth_field_is_base64_user_colon_password_and_wins_over_username() {
        let text = format!(
            r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{}", "username": "ignored"}}, "reg.example:5000": {{"username": "bob", "password": "pw"}}, "docker.io": {{"auth": "{}"}}}}}}"#,
            b64("alice:s3:cret\0"),
            b64("not:used")
        );
        let c = config(&text);
        let hub = Credential::Basic { username: "alice".into(), password: Secret::new("s3:cret") };
        assert_eq!(get(&c, "docker.io").await, hub);
        assert_eq!(get(&c, "index.docker.io").await, hub);
        assert_eq!(get(&c, "reg.example:5000").await, Credential::Basic { username: "bob".into(), password: Secret::new("pw") });
        assert_eq!(get(&c, "other.example").await, Credential::Anonymous);
    }

    #[tokio::test]
    async fn keys_with_scheme_and_path_match_the_host() {
        let c = config(r#"{"auths": {"https://reg.example:5000/v2/": {"username": "u", "password": "p"}, "ghcr.io": {}}}"#);
        assert_eq!(get(&c, "reg.example:5000").await, Credential::Basic { username: "u".into(), password: Secret::new("p") });
        // An empty entry (as docker writes next to a credsStore) is anonymous.
        assert_eq!(get(&c, "ghcr.io").await, Credential::Anonymous);
    }

    #[tokio::test]
    async fn identity_and_registry_tokens() {
        let c = config(
            r#"{"auths": {"a.example": {"auth": "dTpw", "identitytoken": "refresh"}, "b.example": {"registrytoken": "bearer", "identitytoken": "x"}}}"#,
        );
        assert_eq!(get(&c, "a.example").await, Credential::IdentityToken(Secret::new("refresh")));
        assert_eq!(get(&c, "b.example").await, Credential::Bearer(Secret::new("bearer")));
    }

    #[test]
    fn cred_helpers_beat_creds_store_with_keys_as_written() {
        let c = config(r#"{"credsStore": "desktop", "credHelpers": {"https://index.docker.io/v1/": "hub", "gcr.io": "gcloud", "https://quay.io": "ignored", "file.example": ""}}"#);
        assert_eq!(c.helper_for("docker.io"), Some(("hub", "credHelpers")));
        assert_eq!(c.helper_for("gcr.io"), Some(("gcloud", "credHelpers")));
        // credHelpers keys are taken as written (as docker takes them), and "" means the file.
        assert_eq!(c.helper_for("quay.io"), Some(("desktop", "credsStore")));
        assert_eq!(c.helper_for("file.example"), None);
        assert_eq!(config("{}").helper_for("quay.io"), None);
    }

    #[test]
    fn empty_file_and_nulls_are_no_credentials() {
        assert!(config("").auths.is_empty());
        assert!(config(r#"{"auths": null, "credHelpers": null, "psFormat": "table"}"#).auths.is_empty());
    }

    #[test]
    fn malformed_json_names_file_line_and_column() {
        let err = DockerConfig::from_json("{\n  \"auths\": {\n    \"x\": {}\n  \n", Path::new("/c/config.json")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("docker config /c/config.json:5:"), "{msg}");
        assert!(msg.contains("not valid JSON") && msg.contains("fix the file"), "{msg}");

        let err = DockerConfig::from_json("{\"auths\": {\"x\": {\"auth\": 7}},\n \"credsStore\": \"s3cret-ish\"}", Path::new("/c/config.json"))
            .unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(1), "{err}");
        assert!(err.to_string().contains("wrong type"), "{err}");
    }

    #[test]
    fn a_bad_auth_entry_names_its_key_and_line_but_not_its_value() {
        let text = format!("{{\n \"auths\": {{\n  \"reg.example\": {{\"auth\": \"{}\"}}\n }}\n}}", b64("no-colon-secret"));
        let err = DockerConfig::from_json(&text, Path::new("/c/config.json")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("docker config /c/config.json:3:3: auths entry `reg.example`"), "{msg}");
        assert!(msg.contains("docker login reg.example"), "{msg}");
        assert!(!msg.contains("no-colon-secret") && !msg.contains(&b64("no-colon-secret")), "{msg}");
    }

    #[test]
    fn a_type_error_does_not_quote_the_value() {
        let err = DockerConfig::from_json(r#"{"auths": "hunter2"}"#, Path::new("/c/config.json")).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
    }

    #[test]
    fn the_file_is_found_where_the_docker_cli_finds_it() {
        let some = |s: &str| Some(std::ffi::OsString::from(s));
        assert_eq!(config_path(some("/etc/dc"), some("/home/u")), Some(PathBuf::from("/etc/dc/config.json")));
        assert_eq!(config_path(some(""), some("/home/u")), Some(PathBuf::from("/home/u/.docker/config.json")));
        assert_eq!(config_path(None, some("/home/u")), Some(PathBuf::from("/home/u/.docker/config.json")));
        assert_eq!(config_path(None, None), None);
    }

    #[test]
    fn a_missing_file_is_no_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let c = DockerConfig::load_file(&dir.path().join("config.json")).unwrap();
        assert!(c.auths.is_empty() && c.creds_store.is_none());
        assert_eq!(c.path(), Some(dir.path().join("config.json").as_path()));
    }
}
