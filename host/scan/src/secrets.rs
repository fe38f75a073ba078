//! Credentials left in an image: the config's environment variables and the
//! text files in its layers matched against a fixed set of rules (AWS key
//! ids and secret keys, PEM private keys, GCP service-account JSON,
//! GitHub, GitLab and Slack tokens, Slack webhooks, password assignments in
//! `.env` files). A finding names the rule, the place (`env:NAME` or
//! `/path:LINE`) and the layer — never the value: matched text is not
//! kept, logged or put in an error. Files larger than `max_file` and binary
//! files (a NUL byte in the first 8 KiB) are skipped and counted, as are
//! documentation, man pages, locales, zoneinfo and headers. Files deleted
//! or overwritten by a later layer are scanned too: they are still in the
//! image's blobs for anyone who pulls it. It must not
//! decide whether a finding is acceptable; the policy does.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::LazyLock;

use gantry_registry::Image;
use regex::bytes::{Regex, RegexSet};

use crate::fs::{self, FileMeta, Visitor, WalkStats};
use crate::inventory::{Collector, Inventory, InventoryError};
use crate::layers::{ImageLayers, LayerSource};
use crate::model::SecretFinding;

/// Files larger than this are not scanned by default.
pub const MAX_FILE: u64 = 1 << 20;

/// One rule: its id (what findings carry) and what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretRule {
    pub id: &'static str,
    pub description: &'static str,
    /// Only in files named `.env` / `*.env` (and env vars), where assignments are configuration.
    pub dotenv_only: bool,
    pattern: &'static str,
}

/// The rules, in the order findings are reported.
pub const RULES: &[SecretRule] = &[
    SecretRule { id: "aws-access-key-id", description: "AWS access key id (AKIA…/ASIA…)", dotenv_only: false, pattern: r"\b(?:AKIA|ASIA)[A-Z2-7]{16}\b" },
    SecretRule {
        id: "aws-secret-access-key",
        description: "AWS secret access key assigned to an aws_secret_access_key name",
        dotenv_only: false,
        pattern: r#"(?i)aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?[A-Za-z0-9/+]{40}(?:[^A-Za-z0-9/+=]|$)"#,
    },
    SecretRule {
        id: "private-key",
        description: "PEM private key (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP) with key material after the header",
        dotenv_only: false,
        pattern: r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----\r?\n(?:[A-Za-z-]+: [^\r\n]*\r?\n)*\r?\n?[A-Za-z0-9+/=]{60}",
    },
    SecretRule { id: "gcp-service-account", description: "GCP service-account key JSON (\"type\": \"service_account\" with a \"private_key\")", dotenv_only: false, pattern: r#""type"\s*:\s*"service_account""# },
    SecretRule { id: "github-token", description: "GitHub token (ghp_, gho_, ghs_, ghu_, ghr_, github_pat_)", dotenv_only: false, pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b" },
    SecretRule { id: "gitlab-token", description: "GitLab personal access token (glpat-)", dotenv_only: false, pattern: r"\bglpat-[A-Za-z0-9_-]{20}\b" },
    SecretRule { id: "slack-token", description: "Slack token (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-)", dotenv_only: false, pattern: r"\bxox[bpars]-[0-9]{6,}-[A-Za-z0-9-]{10,}" },
    SecretRule { id: "slack-webhook", description: "Slack incoming webhook URL", dotenv_only: false, pattern: r"https://hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,}" },
    SecretRule {
        id: "dotenv-password",
        description: "a PASSWORD/SECRET/TOKEN/API_KEY variable assigned a literal of 8+ characters in a .env file (not a ${reference}, a path or a placeholder)",
        dotenv_only: true,
        pattern: r#"(?m)^[ \t]*(?:export[ \t]+)?[A-Za-z0-9_]*(?i:password|passwd|secret|token|api_?key)[A-Za-z0-9_]*[ \t]*=[ \t]*["']?[^\s"'$<{/][^\s"']{7,}"#,
    },
];

const PLACEHOLDERS: &[&[u8]] = &[b"changeme", b"change_me", b"example", b"placeholder", b"xxxxxxxx", b"your_", b"your-", b"dummy", b"redacted", b"********"];

struct Compiled {
    set: RegexSet,
    each: Vec<Regex>,
    private_key_field: Regex,
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    // Invariant: the patterns are constants, compiled and tested by this file's tests.
    let set = RegexSet::new(RULES.iter().map(|r| r.pattern)).expect("secret rules compile");
    let each = RULES.iter().map(|r| Regex::new(r.pattern).expect("secret rule compiles")).collect();
    let private_key_field = Regex::new(r#""private_key"\s*:\s*"-----BEGIN"#).expect("secret rule compiles");
    Compiled { set, each, private_key_field }
});

fn is_dotenv(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == ".env" || name.ends_with(".env") || name.starts_with(".env.")
}

const SKIPPED_PREFIXES: &[&str] = &["/usr/share/doc/", "/usr/share/man/", "/usr/share/locale/", "/usr/share/zoneinfo/", "/usr/share/i18n/", "/usr/include/", "/proc/", "/sys/"];

/// The rule ids matching `text` and the 1-based line of each match (values are not kept).
fn matches(text: &[u8], dotenv: bool) -> Vec<(&'static str, usize)> {
    let c = &*COMPILED;
    let mut out = Vec::new();
    for i in c.set.matches(text).into_iter() {
        let rule = &RULES[i];
        if rule.dotenv_only && !dotenv {
            continue;
        }
        if rule.id == "gcp-service-account" && !c.private_key_field.is_match(text) {
            continue;
        }
        for m in c.each[i].find_iter(text) {
            if rule.dotenv_only && placeholder(m.as_bytes()) {
                continue;
            }
            let line = 1 + memchr::memchr_iter(b'\n', &text[..m.start()]).count();
            out.push((rule.id, line));
        }
    }
    out
}

fn placeholder(m: &[u8]) -> bool {
    let value = m.splitn(2, |b| *b == b'=').nth(1).unwrap_or(m).to_ascii_lowercase();
    PLACEHOLDERS.iter().any(|p| memchr::memmem::find(&value, p).is_some())
}

/// Findings in the config's environment (`NAME=VALUE` strings): `env:NAME`, no layer.
pub fn scan_env(env: &[String]) -> Vec<SecretFinding> {
    let mut out = BTreeSet::new();
    for e in env {
        let (name, value) = e.split_once('=').unwrap_or((e, ""));
        if value.is_empty() {
            continue;
        }
        // An env var is an assignment, like a line of a .env file.
        for (rule, _) in matches(e.as_bytes(), true) {
            out.insert((rule, name.to_string()));
        }
    }
    out.into_iter().map(|(rule, name)| SecretFinding { rule: rule.to_string(), location: format!("env:{name}"), layer: None }).collect()
}

/// A `fs::Visitor` finding credentials in text files; `finish` gives the scan.
#[derive(Debug)]
pub struct SecretScanner {
    max_file: u64,
    findings: Vec<SecretFinding>,
    skipped_large: Cell<u64>,
    skipped_binary: u64,
    files_scanned: u64,
}

impl Default for SecretScanner {
    fn default() -> Self {
        SecretScanner::with_max_file(MAX_FILE)
    }
}

impl SecretScanner {
    pub fn new() -> SecretScanner {
        SecretScanner::default()
    }

    /// A scanner skipping files larger than `max_file` bytes.
    pub fn with_max_file(max_file: u64) -> SecretScanner {
        SecretScanner { max_file, findings: Vec::new(), skipped_large: Cell::new(0), skipped_binary: 0, files_scanned: 0 }
    }

    pub fn finish(self) -> SecretScan {
        SecretScan { findings: self.findings, files_scanned: self.files_scanned, skipped_large: self.skipped_large.get(), skipped_binary: self.skipped_binary }
    }
}

impl Visitor for SecretScanner {
    fn wants(&self, path: &str, size: u64, _mode: u32) -> bool {
        if SKIPPED_PREFIXES.iter().any(|p| path.starts_with(p)) {
            return false;
        }
        if size > self.max_file {
            self.skipped_large.set(self.skipped_large.get() + 1);
            return false;
        }
        // links are asked with size 0; their targets are scanned under their own path
        size > 0
    }

    /// A credential in a file a later layer deleted is still in the image.
    fn all_layers(&self) -> bool {
        true
    }

    fn file(&mut self, file: &FileMeta<'_>, contents: &[u8]) {
        if file.target.is_some() {
            return;
        }
        if memchr::memchr(0, &contents[..contents.len().min(8192)]).is_some() {
            self.skipped_binary += 1;
            return;
        }
        self.files_scanned += 1;
        let mut seen = BTreeSet::new();
        for (rule, line) in matches(contents, is_dotenv(file.path)) {
            if seen.insert((rule, line)) {
                self.findings.push(SecretFinding { rule: rule.to_string(), location: format!("{}:{line}", file.path), layer: Some(file.layer.to_string()) });
            }
        }
    }
}

/// What a secret scan found, and what it skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecretScan {
    pub findings: Vec<SecretFinding>,
    pub files_scanned: u64,
    /// Files larger than the limit, and binary files: not scanned.
    pub skipped_large: u64,
    pub skipped_binary: u64,
}

/// The inventory and the secret scan of `image` in one pass over its layers.
pub fn scan_image(image: &Image) -> Result<(Inventory, SecretScan, WalkStats), InventoryError> {
    let env = image.config().ok().and_then(|c| c.config).and_then(|c| c.env).unwrap_or_default();
    scan_source(&mut ImageLayers::new(image), &env)
}

/// The inventory and the secret scan of the layers in `source` (one pass)
/// and of the config's environment `env` (`NAME=VALUE` strings).
pub fn scan_source(source: &mut dyn LayerSource, env: &[String]) -> Result<(Inventory, SecretScan, WalkStats), InventoryError> {
    let mut collector = Collector::new();
    let mut scanner = SecretScanner::new();
    let stats = fs::walk(source, &mut [&mut collector, &mut scanner])?;
    let mut scan = scanner.finish();
    // by path, then line, then rule: the walk's order is top layer first
    scan.findings.sort_by_cached_key(|f| {
        let (path, line) = f.location.rsplit_once(':').unwrap_or((&f.location, "0"));
        (path.to_string(), line.parse::<u64>().unwrap_or(0), f.rule.clone(), f.layer.clone())
    });
    let mut findings = scan_env(env);
    findings.append(&mut scan.findings);
    scan.findings = findings;
    Ok((collector.finish(), scan, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_of(text: &str, dotenv: bool) -> Vec<(&'static str, usize)> {
        matches(text.as_bytes(), dotenv)
    }

    #[test]
    fn each_rule_finds_its_credential_and_not_lookalikes() {
        // AWS documentation's example key pair
        assert_eq!(rules_of("x\nkey = AKIAIOSFODNN7EXAMPLE\n", false), [("aws-access-key-id", 2)]);
        assert!(rules_of("AKIAIOSFODNN7EXAMPL", false).is_empty());
        assert_eq!(rules_of("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", false), [("aws-secret-access-key", 1)]);
        assert!(rules_of("aws_secret_access_key = ${AWS_SECRET}\n", false).is_empty());
        let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n", "MIIEpAIBAAKCAQEA".repeat(5));
        assert_eq!(rules_of(&pem, false), [("private-key", 1)]);
        assert!(rules_of("if line == \"-----BEGIN RSA PRIVATE KEY-----\" {", false).is_empty());
        let sa = r#"{"type": "service_account", "project_id": "p", "private_key": "-----BEGIN PRIVATE KEY-----\nabc"}"#;
        assert!(rules_of(sa, false).contains(&("gcp-service-account", 1)));
        assert!(rules_of(r#"{"type": "service_account"}"#, false).is_empty());
        assert_eq!(rules_of(&format!("t={}", format_args!("ghp_{}", "a".repeat(36))), false), [("github-token", 1)]);
        assert!(rules_of(&format!("ghp_{}", "a".repeat(20)), false).is_empty());
        assert_eq!(rules_of("glpat-abcdefghij0123456789", false), [("gitlab-token", 1)]);
        assert_eq!(rules_of("xoxb-123456789012-abcdefghijkl", false), [("slack-token", 1)]);
        assert_eq!(rules_of("https://hooks.slack.com/services/T0000000/B0000000/abcdefghijklmnopqrstuvwx", false), [("slack-webhook", 1)]);
        assert_eq!(rules_of("DB_PASSWORD=s3cr3t-pa55\n", true), [("dotenv-password", 1)]);
        assert!(rules_of("DB_PASSWORD=s3cr3t-pa55\n", false).is_empty());
        for fine in ["DB_PASSWORD=${DB_PASSWORD}", "DB_PASSWORD=changeme123", "DB_PASSWORD_FILE=/run/secrets/db", "DB_PASSWORD=", "DB_PASSWORD=short"] {
            assert!(rules_of(fine, true).is_empty(), "{fine}");
        }
    }

    #[test]
    fn env_findings_carry_names_never_values() {
        let value = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let env = vec![format!("AWS_SECRET_ACCESS_KEY={value}"), "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE".into(), "PATH=/usr/bin".into(), "API_TOKEN=hunter2hunter2".into()];
        let f = scan_env(&env);
        let got: Vec<(&str, &str)> = f.iter().map(|f| (f.rule.as_str(), f.location.as_str())).collect();
        assert_eq!(got, [("aws-access-key-id", "env:AWS_ACCESS_KEY_ID"), ("aws-secret-access-key", "env:AWS_SECRET_ACCESS_KEY"), ("dotenv-password", "env:API_TOKEN")]);
        let shown = format!("{f:?}{}", serde_json::to_string(&f).unwrap());
        for v in [value, "AKIAIOSFODNN7EXAMPLE", "hunter2hunter2"] {
            assert!(!shown.contains(v), "{shown}");
        }
    }
}
