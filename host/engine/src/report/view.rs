//! The run record as reports read it: a lenient mirror of
//! [`crate::record::RunRecord`] that deserializes records written by this
//! and earlier versions (every field defaults), so `gantry history` and the
//! JUnit report read a fresh run and an old file the same way. It derives
//! facts the record holds only inside stage outputs (the image deployed).
//! It must not write records, nor hold anything the record does not
//! (the record's text is already masked).

use serde::{Deserialize, Serialize};

use crate::record::RunRecord;

/// One run, as read back from `<state-dir>/runs/<run-id>.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunView {
    pub run_id: String,
    pub pipeline: String,
    pub file: String,
    pub started: String,
    pub finished: String,
    pub duration_ms: u64,
    /// `succeeded`, `failed` or `rollback-failed`.
    pub status: String,
    pub exit_code: i32,
    pub interrupted: bool,
    pub revision: Option<String>,
    pub targets: Vec<String>,
    pub stages: Vec<StageView>,
    pub failed_stage: Option<String>,
    pub on_failure: Option<StageView>,
    /// Every target as the run left it (`super::state`); derived from the
    /// stages when a record predates the field.
    pub final_state: Vec<super::TargetState>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StageView {
    pub name: String,
    pub uses: String,
    pub once: bool,
    /// `succeeded`, `failed`, `interrupted` or `skipped`.
    pub status: String,
    pub steps: Vec<StepView>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepView {
    pub target: Option<String>,
    pub status: String,
    pub started: String,
    pub duration_ms: u64,
    pub summary: String,
    pub outputs: serde_json::Value,
    pub error: Option<ErrorView>,
    pub logs: Vec<LogView>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorView {
    pub kind: String,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogView {
    pub level: String,
    pub source: String,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

impl RunView {
    /// The view of a record just written (the same JSON the file holds).
    pub fn of(record: &RunRecord) -> RunView {
        // The record is plain data (strings, numbers, JSON outputs): it
        // always serializes, and its JSON always reads back as a view.
        let view: RunView = serde_json::to_value(record).ok().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
        view.with_final_state()
    }

    /// This view with its `final_state` derived from its stages when it has none.
    pub fn with_final_state(mut self) -> RunView {
        if self.final_state.is_empty() {
            self.final_state = super::state::of(&self);
        }
        self
    }

    /// Every stage in run order, then the on-failure stage.
    pub fn all_stages(&self) -> impl Iterator<Item = &StageView> {
        self.stages.iter().chain(self.on_failure.iter())
    }

    /// The image the run deployed (`REPO@sha256:…`, per the deploy stages'
    /// outputs), else the digest a build pushed; the latest stage wins.
    pub fn image(&self) -> Option<String> {
        let mut found = None;
        for step in self.stages.iter().flat_map(|s| &s.steps) {
            let o = &step.outputs;
            if let Some(image) = o["image"].as_str().filter(|i| !i.is_empty()) {
                found = Some(image.to_string());
            } else if let (None, Some(d)) = (&found, o["digest"].as_str()) {
                found = Some(d.to_string());
            }
        }
        found
    }

    /// The digest of [`RunView::image`] (`sha256:…`), when it has one.
    pub fn digest(&self) -> Option<String> {
        let mut found = None;
        for step in self.stages.iter().flat_map(|s| &s.steps) {
            let o = &step.outputs;
            let digest = o["digest"].as_str().map(String::from).or_else(|| o["image"].as_str().and_then(|i| i.split_once('@')).map(|(_, d)| d.to_string()));
            if let Some(d) = digest.filter(|d| d.starts_with("sha256:")) {
                found = Some(d);
            }
        }
        found
    }

    /// Whether a stage ran (or was undone) on `target` in this run.
    pub fn touched(&self, target: &str) -> bool {
        self.all_stages().flat_map(|s| &s.steps).any(|step| step.target.as_deref() == Some(target) && step.status != "skipped")
    }

    /// Per target: the releases this run's deploy stages left (`track`,
    /// `release`, `revision` outputs), latest first within the run.
    pub fn deployed(&self, target: &str) -> Vec<(String, String, Option<u64>)> {
        let mut out = Vec::new();
        for step in self.all_stages().flat_map(|s| &s.steps).filter(|s| s.target.as_deref() == Some(target)) {
            let o = &step.outputs;
            if let (Some(track), Some(release)) = (o["track"].as_str(), o["release"].as_str()) {
                out.push((track.to_string(), release.to_string(), o["revision"].as_u64()));
            }
        }
        out.reverse();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_record_with_missing_fields_reads_with_defaults() {
        let v: RunView = serde_json::from_str(r#"{"run_id":"r1","status":"failed","stages":[{"name":"a","steps":[{"target":"aws","status":"failed"}]}]}"#).unwrap();
        assert_eq!(v.run_id, "r1");
        assert_eq!(v.stages[0].steps[0].target.as_deref(), Some("aws"));
        assert!(v.on_failure.is_none() && v.targets.is_empty());
    }

    #[test]
    fn the_deployed_image_and_digest_come_from_the_latest_deploy_output() {
        let v: RunView = serde_json::from_value(serde_json::json!({
            "stages": [
                {"name": "build", "steps": [{"outputs": {"digest": "sha256:aaa"}}]},
                {"name": "deploy-canary", "steps": [{"target": "aws", "status": "succeeded", "outputs": {"track": "canary", "release": "app-canary", "revision": 3, "image": "r/app@sha256:bbb", "digest": "sha256:bbb"}}]},
            ]
        }))
        .unwrap();
        assert_eq!(v.image().as_deref(), Some("r/app@sha256:bbb"));
        assert_eq!(v.digest().as_deref(), Some("sha256:bbb"));
        assert_eq!(v.deployed("aws"), vec![("canary".to_string(), "app-canary".to_string(), Some(3))]);
        assert!(v.touched("aws") && !v.touched("gcp"));
    }
}
