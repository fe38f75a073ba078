//! A policy's decision on a scan report, in plain Rust (`Decision`,
//! `Violation`), and — with the `runtime` feature — the evaluation of a
//! policy component on a report: the policy loaded from `builtin:NAME` or a
//! `.wasm` file, checked to be a `scan-policy` plugin, and run in its own
//! sandbox granted nothing but `log`. It must not decide anything itself nor
//! give a policy any capability beyond `log`.

use serde::{Deserialize, Serialize};

use crate::model::Severity;

/// One reason a policy refuses an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The rule's id, e.g. `max-severity`, `no-root`.
    pub rule: String,
    pub severity: Severity,
    /// What the rule is about: a package, a vulnerability id, a path.
    pub subject: String,
    pub message: String,
}

/// A policy's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub allowed: bool,
    pub violations: Vec<Violation>,
}

/// A policy that cannot use its settings says so with a violation of this
/// rule (`builtin:policy-default` and the example policies do): bad input,
/// not a decision on the image.
pub const SETTINGS_RULE: &str = "policy-settings";

impl Decision {
    /// `allow` or `deny`.
    pub fn verdict(&self) -> &'static str {
        if self.allowed {
            "allow"
        } else {
            "deny"
        }
    }

    /// The violations of [`SETTINGS_RULE`]: the policy refused its settings.
    pub fn settings_refused(&self) -> Vec<&Violation> {
        self.violations.iter().filter(|v| v.rule == SETTINGS_RULE).collect()
    }

    /// The decision as the JSON outputs carry it: `{"policy", "decision":
    /// "allow"|"deny", "allowed", "violations": [{rule, severity, subject, message}]}`.
    pub fn to_json(&self, policy: &str) -> serde_json::Value {
        serde_json::json!({ "policy": policy, "decision": self.verdict(), "allowed": self.allowed, "violations": self.violations })
    }

    /// One line per violation: `rule (severity) subject: message`.
    pub fn violation_lines(&self) -> Vec<String> {
        self.violations
            .iter()
            .map(|v| format!("{} ({}) {}: {}", v.rule, serde_json::to_value(v.severity).ok().and_then(|s| s.as_str().map(String::from)).unwrap_or_default(), v.subject, v.message))
            .collect()
    }
}

#[cfg(feature = "runtime")]
pub use eval::{evaluate, load, pure_env, Policy, PolicyError, DEFAULT_POLICY};

#[cfg(feature = "runtime")]
mod eval {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use gantry_runtime::{CallEnv, LogSink, Plugin, RunContext, Runtime, World};

    use super::Decision;
    use crate::model::Report;

    /// The policy a scan uses when none is named.
    pub const DEFAULT_POLICY: &str = "builtin:policy-default";

    /// A policy component, loaded and checked to be a `scan-policy` plugin.
    #[derive(Clone)]
    pub struct Policy {
        /// As the user named it: `builtin:policy-default`, `policies/mine.wasm`.
        pub name: String,
        pub plugin: Arc<Plugin>,
    }

    impl std::fmt::Debug for Policy {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Policy").field("name", &self.name).field("digest", &self.plugin.digest).finish()
        }
    }

    /// Why a policy could not be loaded or run; each names the policy.
    #[derive(Debug, thiserror::Error)]
    pub enum PolicyError {
        #[error("`{0}` is not a policy reference; write `builtin:NAME` or a path to a `.wasm` file, optionally with `@sha256:DIGEST`")]
        Reference(String),
        #[error("there is no built-in policy `builtin:{name}`; the built-in scan policies are: {known}")]
        NoBuiltin { name: String, known: String },
        #[error("cannot read policy `{policy}` at {path}: {source}; check the path (relative paths are from {base})")]
        Read { policy: String, path: PathBuf, base: String, source: std::io::Error },
        #[error("policy `{policy}` could not be loaded: {message}")]
        Load { policy: String, message: String },
        #[error("`{policy}` is a `{world}` plugin, not a scan policy; build it for the `scan-policy` world (`gantry plugin new scan-policy NAME`)")]
        NotAPolicy { policy: String, world: World },
        #[error("policy `{policy}` failed: {message}{}", .hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
        Call { policy: String, message: String, hint: Option<String> },
    }

    /// `NAME@sha256:HEX` → (`NAME`, `sha256:hex`).
    fn split_pin(text: &str) -> Result<(&str, Option<String>), PolicyError> {
        match text.rsplit_once("@sha256:") {
            Some((body, hex)) if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) => Ok((body, Some(format!("sha256:{}", hex.to_ascii_lowercase())))),
            Some(_) => Err(PolicyError::Reference(text.to_string())),
            None => Ok((text, None)),
        }
    }

    /// Load the policy `reference` (`builtin:NAME` or a `.wasm` path, relative
    /// to `base`; either with an optional `@sha256:` pin) and check that it is
    /// a `scan-policy` component that imports nothing but `log`.
    pub fn load(runtime: &Runtime, reference: &str, base: &Path) -> Result<Policy, PolicyError> {
        let text = reference.trim();
        let (body, pin) = split_pin(text)?;
        let bytes: std::borrow::Cow<'static, [u8]> = if let Some(name) = body.strip_prefix("builtin:") {
            match gantry_plugins::builtin(name) {
                Some(b) => std::borrow::Cow::Borrowed(b.wasm),
                None => {
                    let known: Vec<String> = gantry_plugins::builtins().iter().filter(|b| b.name.starts_with("policy-")).map(|b| format!("builtin:{}", b.name)).collect();
                    return Err(PolicyError::NoBuiltin { name: name.to_string(), known: known.join(", ") });
                }
            }
        } else if body.ends_with(".wasm") {
            let path = base.join(body);
            let bytes = std::fs::read(&path).map_err(|source| PolicyError::Read { policy: text.to_string(), path: path.clone(), base: base.display().to_string(), source })?;
            std::borrow::Cow::Owned(bytes)
        } else {
            return Err(PolicyError::Reference(text.to_string()));
        };
        let plugin = runtime.load(text, &bytes, pin.as_deref()).map_err(|e| PolicyError::Load { policy: text.to_string(), message: e.to_string() })?;
        if plugin.world != World::ScanPolicy {
            return Err(PolicyError::NotAPolicy { policy: text.to_string(), world: plugin.world });
        }
        if let Err(refusal) = plugin.check_grants(&[]) {
            let mut imports: Vec<String> = refusal.ungranted.iter().map(|c| format!("`{}`", c.name())).collect();
            imports.extend(refusal.foreign.iter().map(|f| format!("`{f}`")));
            return Err(PolicyError::Load {
                policy: text.to_string(),
                message: format!("it imports {}; a scan policy may import only `log` (it decides on the report alone)", imports.join(", ")),
            });
        }
        runtime.prepare(&plugin).map_err(|e| PolicyError::Load { policy: text.to_string(), message: e.to_string() })?;
        Ok(Policy { name: text.to_string(), plugin: Arc::new(plugin) })
    }

    /// The environment of a policy call: nothing granted but `log` (always
    /// granted), no clusters, registries or images, default limits.
    pub fn pure_env(log: LogSink) -> CallEnv {
        CallEnv {
            run: Arc::new(RunContext {
                run_id: String::new(),
                pipeline: String::new(),
                stage: "scan-policy".into(),
                recovering: false,
                targets: vec![],
                image: None,
                release: None,
                revision: None,
                history: vec![],
            }),
            scope: Arc::default(),
            grants: Arc::new(Vec::new()),
            limits: gantry_runtime::Limits::default(),
            log,
            cancel: Default::default(),
            clusters: Default::default(),
            helm: Default::default(),
            images: None,
            scanner: None,
            metrics: Default::default(),
        }
    }

    /// Run `policy` on `report` with `settings` (JSON; empty means `{}`).
    pub async fn evaluate(runtime: &Runtime, policy: &Policy, env: &CallEnv, report: &Report, settings: &str) -> Result<Decision, PolicyError> {
        let settings = if settings.trim().is_empty() { "{}".to_string() } else { settings.to_string() };
        runtime
            .call_scan_policy(&policy.plugin, env, crate::wit::to_wit(report), settings)
            .await
            .map(Decision::from)
            .map_err(|e| PolicyError::Call { policy: policy.name.clone(), hint: e.hint(), message: e.to_string() })
    }
}
