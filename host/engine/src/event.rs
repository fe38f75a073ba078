//! What happens during a run, as events: the command line draws progress
//! from them, `--output json` prints them, and the run record is built from
//! the same facts. Events never carry a secret: the engine masks first.

use std::sync::Arc;

use gantry_runtime::LogLine;

/// The state of one stage on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Succeeded,
    Failed,
    Interrupted,
    Skipped,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Interrupted => "interrupted",
            StepStatus::Skipped => "skipped",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Every stage passed on every target.
    Succeeded,
    /// A stage failed (or the run was interrupted) and `on-failure` undid
    /// what was touched, or nothing needed undoing.
    Failed,
    /// A stage failed and `on-failure` failed too: a person must look.
    RollbackFailed,
}

/// The failure of one step, for people and machines.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepError {
    /// `failed`, `deadline`, `interrupted`, `memory-cap`, `log-flood`, `trap`, `instantiate`.
    pub kind: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    RunStarted { run_id: String, pipeline: String, file: String, stages: Vec<String>, targets: Vec<String> },
    StageStarted { stage: String, targets: Vec<Option<String>>, recovering: bool },
    StepStarted { stage: String, target: Option<String> },
    Log { stage: String, target: Option<String>, #[serde(flatten)] line: LogLine },
    StepFinished { stage: String, target: Option<String>, status: StepStatus, duration_ms: u64, summary: String, #[serde(skip_serializing_if = "Option::is_none")] error: Option<StepError> },
    StageFinished { stage: String, status: StepStatus },
    Interrupted { signal: String },
    RecoveryStarted { failed_stage: String, targets: Vec<String> },
    RunFinished { run_id: String, status: RunStatus, duration_ms: u64, record: Option<String> },
}

/// Where events go.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;
