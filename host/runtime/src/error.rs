//! Errors of loading and calling plugins. Each says whose fault it is: the
//! plugin's (trap, limit, refusal), the input's (bad component) or the host's.

use std::time::Duration;

/// A plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{plugin}: not a WebAssembly component: {reason}")]
    NotAComponent { plugin: String, reason: String },
    #[error("{plugin}: exports none of the gantry:deploy worlds (a `run`, `evaluate`, `check` or `analyze` function); build it with gantry-sdk's export_stage!/export_health_check!/... macro")]
    UnknownWorld { plugin: String },
    #[error("{plugin}: cannot be linked: {reason}")]
    Link { plugin: String, reason: String },
    #[error("{plugin}: digest {actual} does not match the pinned {expected}; rebuild the pin with `gantry plugin inspect {plugin}`")]
    DigestMismatch { plugin: String, expected: String, actual: String },
    #[error("{plugin}: {reason}")]
    Unreadable { plugin: String, reason: String },
}

/// A plugin call did not return a value.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin answered with its own failure.
    #[error("{message}")]
    Failed { message: String, hint: Option<String> },
    #[error("plugin ran past its deadline of {}", humanize(*.timeout))]
    Deadline { timeout: Duration },
    #[error("plugin was interrupted (the run is being cancelled)")]
    Interrupted,
    #[error("plugin tried to grow its memory to {requested} bytes, over the cap of {cap} bytes")]
    MemoryCap { cap: u64, requested: u64 },
    #[error("plugin wrote more than {cap} bytes of log output and was stopped")]
    LogFlood { cap: usize },
    #[error("plugin trapped: {message}{}", last_words(.stderr))]
    Trap { message: String, stderr: String },
    #[error("plugin could not be started: {0}")]
    Instantiate(String),
}

impl CallError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            CallError::Failed { hint, .. } => hint.clone(),
            CallError::Deadline { .. } => Some("raise the stage's `timeout:` if the work is legitimately slow".into()),
            CallError::MemoryCap { .. } => Some("raise the stage's `memory:` if the plugin legitimately needs more".into()),
            CallError::LogFlood { .. } => Some("the plugin logs too much; log less, or summarise".into()),
            _ => None,
        }
    }

    /// A stable name for the kind of failure, for reports and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Failed { .. } => "failed",
            CallError::Deadline { .. } => "deadline",
            CallError::Interrupted => "interrupted",
            CallError::MemoryCap { .. } => "memory-cap",
            CallError::LogFlood { .. } => "log-flood",
            CallError::Trap { .. } => "trap",
            CallError::Instantiate(_) => "instantiate",
        }
    }
}

fn humanize(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn last_words(stderr: &str) -> String {
    let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if tail.is_empty() {
        return String::new();
    }
    let start = tail.len().saturating_sub(3);
    format!(" (stderr: {})", tail[start..].join(" | "))
}
