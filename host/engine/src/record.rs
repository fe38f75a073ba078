//! The run record: one JSON file per run under `.gantry/runs/`, holding
//! every stage × target with status, timings, logs, outputs and errors.
//! Beside them, `final_state`: every target as the run left it (stable
//! release, revision and digest, a canary left or not, what on-failure
//! undid; `crate::report::state`).
//! It is what `gantry history` and CI artifacts read; it never holds
//! settings (they may carry secrets) and its text is masked. Writing it
//! writes the run's reports too (`crate::report`: the JUnit XML).

use std::path::{Path, PathBuf};

use gantry_runtime::LogLine;

use crate::event::{RunStatus, StepError, StepStatus};

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    pub run_id: String,
    pub pipeline: String,
    pub file: String,
    pub started: String,
    pub finished: String,
    pub duration_ms: u64,
    pub status: RunStatus,
    pub exit_code: i32,
    pub interrupted: bool,
    pub revision: Option<String>,
    pub targets: Vec<String>,
    /// Names (never values) of the variables the file used.
    pub variables: Vec<String>,
    pub stages: Vec<StageRecordOut>,
    pub failed_stage: Option<String>,
    pub on_failure: Option<StageRecordOut>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StageRecordOut {
    pub name: String,
    pub uses: String,
    pub digest: String,
    pub once: bool,
    pub status: StepStatus,
    pub steps: Vec<StepRecord>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StepRecord {
    pub target: Option<String>,
    pub status: StepStatus,
    pub started: String,
    pub duration_ms: u64,
    pub summary: String,
    pub outputs: serde_json::Value,
    pub error: Option<StepError>,
    pub logs: Vec<LogLine>,
}

impl RunRecord {
    /// Every target as this run left it.
    pub fn final_state(&self) -> Vec<crate::report::TargetState> {
        crate::report::RunView::of(self).final_state
    }
}

/// Write `record` to `<state_dir>/runs/<run_id>.json` atomically, then its
/// reports (`reports/<run_id>/junit.xml` and `reports/junit.xml`); a report
/// that cannot be written is logged and does not fail the record.
pub fn write(state_dir: &Path, record: &RunRecord) -> std::io::Result<PathBuf> {
    let dir = state_dir.join("runs");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.json", record.run_id));
    let tmp = dir.join(format!(".{}.json.tmp", record.run_id));
    let view = crate::report::RunView::of(record);
    // The record as run, plus every target's final state (derived from the
    // stages' outputs, `crate::report::state`).
    let mut value = serde_json::to_value(record).map_err(std::io::Error::other)?;
    value["final_state"] = serde_json::to_value(&view.final_state).map_err(std::io::Error::other)?;
    let json = serde_json::to_vec_pretty(&value).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, &path)?;
    if let Err(e) = crate::report::write(state_dir, &view) {
        tracing::error!(error = %e, dir = %crate::report::dir(state_dir, &record.run_id).display(), "could not write the run's JUnit report");
    }
    Ok(path)
}

/// RFC 3339 UTC with milliseconds.
pub fn timestamp(t: std::time::SystemTime) -> String {
    let t: time::OffsetDateTime = t.into();
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
