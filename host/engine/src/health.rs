//! Health-check stages: a stage whose plugin is a `health-check` world
//! component is driven here, per target. The host owns the loop — one
//! `check` per `interval`, each bounded by `timeout`, `success-threshold`
//! healthy answers in a row pass, `failure-threshold` unhealthy ones in a row
//! fail, `progressing` evaluates again, `deadline` bounds the whole — and the
//! plugin owns one evaluation. The host-reserved `with:` keys are parsed and
//! checked here (for `load` and `plan`); the rest of `with:` is the plugin's.
//! This file must not talk to a cluster itself: every look at the release
//! goes through the plugin, inside its sandbox and scope.

use std::time::{Duration, Instant};

use gantry_runtime::wit::health_types::{CheckReport, CheckRequest, Health, Track as WitTrack};
use gantry_runtime::{CallEnv, CallError, Level, LogLine, Plugin, Runtime, Source, StageRecord, TargetInfo};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::event::{StepError, StepStatus};
use crate::pipeline::load::parse_duration;

/// The `with:` keys the host reads for a health-check stage (never passed to the plugin).
pub const RESERVED: [&str; 6] = ["track", "interval", "timeout", "success-threshold", "failure-threshold", "deadline"];

/// Which release of the pipeline a health check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Track {
    Stable,
    Canary,
}

impl Track {
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Stable => "stable",
            Track::Canary => "canary",
        }
    }

    /// The Helm release of this track: `NAME` or `NAME-canary`.
    pub fn release(self, stable: &str) -> String {
        match self {
            Track::Stable => stable.to_string(),
            Track::Canary => format!("{stable}-canary"),
        }
    }

    fn wit(self) -> WitTrack {
        match self {
            Track::Stable => WitTrack::Stable,
            Track::Canary => WitTrack::Canary,
        }
    }
}

/// How the host drives a health-check stage (its reserved `with:` keys).
#[derive(Debug, Clone, PartialEq)]
pub struct HealthSpec {
    /// None: the `track` of the latest earlier stage output for the target, else stable.
    pub track: Option<Track>,
    pub interval: Duration,
    /// Of each evaluation.
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
    /// Of the whole stage, per target.
    pub deadline: Duration,
}

impl Default for HealthSpec {
    fn default() -> Self {
        HealthSpec { track: None, interval: Duration::from_secs(2), timeout: Duration::from_secs(5), success_threshold: 1, failure_threshold: 3, deadline: Duration::from_secs(300) }
    }
}

/// A bad reserved `with:` key: which key, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub key: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

/// Every bad reserved key of one stage's `with:`: a setting read through
/// [`SettingErrors::or`] falls back to its default and keeps its error, so
/// a parse reports all of them at once.
#[derive(Default)]
pub(crate) struct SettingErrors(pub(crate) Vec<SettingError>);

impl SettingErrors {
    /// `read`'s value, or `default` with the error kept.
    pub(crate) fn or<T>(&mut self, read: Result<T, SettingError>, default: T) -> T {
        read.unwrap_or_else(|e| {
            self.0.push(e);
            default
        })
    }
}

/// A duration under `with.<key>` (`2s`, `500ms`, `5m`), `default` when absent.
pub(crate) fn duration_setting(with: &Value, key: &'static str, default: Duration) -> Result<Duration, SettingError> {
    let example = |d: Duration| humantime::format_duration(d).to_string();
    match with.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(s)) => match parse_duration(s) {
            Ok(d) if d.is_zero() => Err(SettingError { key, message: format!("`{key}` must be longer than zero"), hint: Some(format!("write it like `{}`", example(default))) }),
            Ok(d) => Ok(d),
            Err(m) => Err(SettingError { key, message: m, hint: Some(format!("write `{key}: {}` (units: ms, s, m, h)", example(default))) }),
        },
        Some(other) => Err(SettingError {
            key,
            message: format!("`{key}` is {other}, not a duration"),
            hint: Some(format!("write it with a unit, e.g. `{key}: {}`", example(default))),
        }),
    }
}

/// A whole number ≥ 1 under `with.<key>`, `default` when absent.
pub(crate) fn count_setting(with: &Value, key: &'static str, default: u32) -> Result<u32, SettingError> {
    match with.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=u64::from(u32::MAX)).contains(&n) => Ok(n as u32),
            _ => Err(SettingError { key, message: format!("`{key}` is {v}, not a whole number of at least 1"), hint: Some(format!("write e.g. `{key}: {default}`")) }),
        },
    }
}

impl HealthSpec {
    /// Read the reserved keys of a stage's `with:`; every bad key is reported.
    pub fn parse(with: &Value) -> Result<HealthSpec, Vec<SettingError>> {
        let d = HealthSpec::default();
        let mut errors = SettingErrors::default();
        let track = match with.get("track") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s == "stable" => Some(Track::Stable),
            Some(Value::String(s)) if s == "canary" => Some(Track::Canary),
            Some(other) => {
                errors.0.push(SettingError { key: "track", message: format!("`track` is {other}; it is `stable` or `canary`"), hint: Some("leave it out to check the track the previous stage deployed".into()) });
                None
            }
        };
        let interval = errors.or(duration_setting(with, "interval", d.interval), d.interval);
        let timeout = errors.or(duration_setting(with, "timeout", d.timeout), d.timeout);
        let deadline = errors.or(duration_setting(with, "deadline", d.deadline), d.deadline);
        let success_threshold = errors.or(count_setting(with, "success-threshold", d.success_threshold), d.success_threshold);
        let failure_threshold = errors.or(count_setting(with, "failure-threshold", d.failure_threshold), d.failure_threshold);
        if errors.0.is_empty() {
            Ok(HealthSpec { track, interval, timeout, success_threshold, failure_threshold, deadline })
        } else {
            Err(errors.0)
        }
    }
}

/// `with` without `reserved`: what the plugin gets as its settings.
pub(crate) fn plugin_settings(with: &Value, reserved: &[&str]) -> Value {
    match with {
        Value::Object(map) => Value::Object(map.iter().filter(|(k, _)| !reserved.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()),
        other => other.clone(),
    }
}

/// The track to check on `target`: the spec's, else the `track` output of the
/// latest earlier stage on that target, else stable.
pub(crate) fn resolve_track(spec: Option<Track>, target: &str, history: &[StageRecord]) -> Track {
    spec.unwrap_or_else(|| {
        history
            .iter()
            .rev()
            .filter(|r| r.target.as_deref() == Some(target))
            .find_map(|r| match r.outputs.get("track").and_then(Value::as_str) {
                Some("canary") => Some(Track::Canary),
                Some("stable") => Some(Track::Stable),
                _ => None,
            })
            .unwrap_or(Track::Stable)
    })
}

/// What a driven step ends with (the engine turns it into a `StepRecord`).
pub(crate) struct Driven {
    pub status: StepStatus,
    pub summary: String,
    pub outputs: Value,
    pub error: Option<StepError>,
}

/// One health-check plugin bound to a target and release: what both the
/// health stage and the wait's re-checks call.
pub(crate) struct Checker<'a> {
    pub runtime: &'a Runtime,
    pub plugin: &'a Plugin,
    /// The call environment; its limits' timeout is the per-evaluation timeout.
    pub env: CallEnv,
    pub target: TargetInfo,
    pub track: Track,
    pub release: String,
    pub namespace: String,
    /// The plugin's settings (reserved keys removed), as JSON text.
    pub settings: String,
}

impl Checker<'_> {
    /// One evaluation. A per-evaluation timeout is an unhealthy report, not an error.
    pub async fn evaluate(&self, attempt: u32) -> Result<CheckReport, CallError> {
        let request = CheckRequest {
            target: gantry_runtime::wit_target(&self.target),
            track: self.track.wit(),
            release: self.release.clone(),
            namespace: self.namespace.clone(),
            settings: self.settings.clone(),
            attempt,
        };
        match self.runtime.call_health_check(self.plugin, &self.env, request).await {
            Err(CallError::Deadline { timeout }) => Ok(CheckReport {
                health: Health::Unhealthy,
                message: format!("the check gave no answer within its timeout of {}", humantime::format_duration(timeout)),
                checks: vec![],
            }),
            other => other,
        }
    }

    pub fn log(&self, level: Level, message: String, progress: Option<(u64, u64)>) {
        (self.env.log)(LogLine { level, source: Source::Host, message, fields: vec![], progress });
    }
}

pub(crate) fn health_name(h: Health) -> &'static str {
    match h {
        Health::Healthy => "healthy",
        Health::Unhealthy => "unhealthy",
        Health::Progressing => "progressing",
    }
}

/// A report as JSON: health, message, and each check with its latency.
pub(crate) fn report_json(r: &CheckReport) -> Value {
    json!({
        "health": health_name(r.health),
        "message": r.message,
        "checks": r.checks.iter().map(|c| json!({"name": c.name, "passed": c.passed, "message": c.message, "latency_ms": c.latency_ms})).collect::<Vec<_>>(),
    })
}

/// Which checks failed and why, or the report's message when none is named.
pub(crate) fn failed_checks(r: &CheckReport) -> String {
    let failed: Vec<String> = r.checks.iter().filter(|c| !c.passed).map(|c| format!("check `{}` failed: {}", c.name, c.message)).collect();
    if failed.is_empty() {
        r.message.clone()
    } else {
        failed.join("; ")
    }
}

/// Drive a health-check stage on one target to its end.
pub(crate) async fn drive(checker: &Checker<'_>, spec: &HealthSpec, cancel: &CancellationToken) -> Driven {
    let started = Instant::now();
    let until = started + spec.deadline;
    let (mut healthy_run, mut unhealthy_run, mut attempt) = (0u32, 0u32, 0u32);
    let mut last: Option<CheckReport> = None;
    let base = |last: &Option<CheckReport>, attempts: u32| {
        let mut out = last.as_ref().map(report_json).unwrap_or_else(|| json!({"health": null, "message": "", "checks": []}));
        out["track"] = json!(checker.track.as_str());
        out["release"] = json!(checker.release);
        out["namespace"] = json!(checker.namespace);
        out["attempts"] = json!(attempts);
        out
    };
    let interrupted = |last: &Option<CheckReport>, attempts: u32| Driven {
        status: StepStatus::Interrupted,
        summary: String::new(),
        outputs: base(last, attempts),
        error: Some(StepError { kind: "interrupted".into(), message: format!("the health check of {} was interrupted (the run is being cancelled)", checker.release), hint: None }),
    };
    loop {
        attempt += 1;
        let remaining = until.saturating_duration_since(Instant::now());
        let evaluation = tokio::select! {
            r = tokio::time::timeout(remaining, checker.evaluate(attempt)) => r,
            _ = cancel.cancelled() => return interrupted(&last, attempt),
        };
        let report = match evaluation {
            Err(_) => break,
            Ok(Err(CallError::Interrupted)) => return interrupted(&last, attempt),
            Ok(Err(e)) => {
                let message = format!("the health check of {} on {} could not run: {e}", checker.release, checker.target.name);
                return Driven { status: StepStatus::Failed, summary: String::new(), outputs: base(&last, attempt), error: Some(StepError { kind: e.kind().to_string(), message, hint: e.hint() }) };
            }
            Ok(Ok(report)) => report,
        };
        match report.health {
            Health::Healthy => {
                healthy_run += 1;
                unhealthy_run = 0;
            }
            Health::Unhealthy => {
                unhealthy_run += 1;
                healthy_run = 0;
            }
            Health::Progressing => {
                healthy_run = 0;
                unhealthy_run = 0;
            }
        }
        let level = if report.health == Health::Unhealthy { Level::Warn } else { Level::Info };
        let detail = if report.health == Health::Unhealthy { failed_checks(&report) } else { report.message.clone() };
        checker.log(level, format!("{} {} attempt {attempt}: {}{}", checker.track.as_str(), checker.release, health_name(report.health), if detail.is_empty() { String::new() } else { format!(" — {detail}") }), None);
        let health = report.health;
        last = Some(report);
        if health == Health::Healthy && healthy_run >= spec.success_threshold {
            let r = last.as_ref().map(|r| r.message.clone()).unwrap_or_default();
            let summary = format!("{} healthy after {attempt} attempt{}{}", checker.release, if attempt == 1 { "" } else { "s" }, if r.is_empty() { String::new() } else { format!(": {r}") });
            return Driven { status: StepStatus::Succeeded, summary, outputs: base(&last, attempt), error: None };
        }
        if health == Health::Unhealthy && unhealthy_run >= spec.failure_threshold {
            let why = last.as_ref().map(failed_checks).unwrap_or_default();
            let message = format!("{} on {} is unhealthy ({unhealthy_run} time{} in a row, failure-threshold {}): {why}", checker.release, checker.target.name, if unhealthy_run == 1 { "" } else { "s" }, spec.failure_threshold);
            return Driven {
                status: StepStatus::Failed,
                summary: String::new(),
                outputs: base(&last, attempt),
                error: Some(StepError { kind: "unhealthy".into(), message, hint: Some(format!("look at the pods of {} (`kubectl -n {} get pods`, their events and logs)", checker.release, checker.namespace)) }),
            };
        }
        let pause = spec.interval.min(until.saturating_duration_since(Instant::now()));
        if pause.is_zero() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = cancel.cancelled() => return interrupted(&last, attempt),
        }
        if Instant::now() >= until {
            break;
        }
    }
    let state = match &last {
        Some(r) if r.health == Health::Unhealthy => format!("last unhealthy: {}", failed_checks(r)),
        Some(r) => format!("last {}: {}", health_name(r.health), r.message),
        None => "no evaluation finished".to_string(),
    };
    Driven {
        status: StepStatus::Failed,
        summary: String::new(),
        outputs: base(&last, attempt),
        error: Some(StepError {
            kind: "deadline".into(),
            message: format!("{} on {} was not healthy within the deadline of {} ({attempt} attempt{}; {state})", checker.release, checker.target.name, humantime::format_duration(spec.deadline), if attempt == 1 { "" } else { "s" }),
            hint: Some("raise the stage's `with: { deadline: … }` if the rollout is legitimately slow".into()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_reserved_keys_are_read() {
        assert_eq!(HealthSpec::parse(&json!({"path": "/health"})).unwrap(), HealthSpec::default());
        let s = HealthSpec::parse(&json!({"track": "canary", "interval": "500ms", "timeout": "1s", "success-threshold": 2, "failure-threshold": 1, "deadline": "1m"})).unwrap();
        assert_eq!(s, HealthSpec { track: Some(Track::Canary), interval: Duration::from_millis(500), timeout: Duration::from_secs(1), success_threshold: 2, failure_threshold: 1, deadline: Duration::from_secs(60) });
    }

    #[test]
    fn every_bad_key_is_named_with_a_fix() {
        let e = HealthSpec::parse(&json!({"track": "blue", "interval": "soon", "timeout": 5, "failure-threshold": 0, "deadline": "0s"})).unwrap_err();
        let keys: Vec<&str> = e.iter().map(|e| e.key).collect();
        assert_eq!(keys, ["track", "interval", "timeout", "deadline", "failure-threshold"]);
        assert!(e[1].hint.as_deref().unwrap().contains("interval: 2s"), "{:?}", e[1]);
        assert!(e[2].hint.as_deref().unwrap().contains("timeout: 5s"), "{:?}", e[2]);
    }

    #[test]
    fn the_plugin_gets_with_without_the_reserved_keys() {
        assert_eq!(plugin_settings(&json!({"path": "/h", "interval": "1s", "track": "canary"}), &RESERVED), json!({"path": "/h"}));
    }

    #[test]
    fn the_track_defaults_to_the_last_stage_output_on_the_target() {
        let rec = |target: &str, track: &str| StageRecord { stage: "s".into(), target: Some(target.into()), status: "succeeded".into(), outputs: json!({"track": track}) };
        let history = vec![rec("aws", "canary"), rec("gcp", "stable"), StageRecord { stage: "x".into(), target: Some("aws".into()), status: "succeeded".into(), outputs: json!({}) }];
        assert_eq!(resolve_track(None, "aws", &history), Track::Canary);
        assert_eq!(resolve_track(None, "gcp", &history), Track::Stable);
        assert_eq!(resolve_track(None, "other", &history), Track::Stable);
        assert_eq!(resolve_track(Some(Track::Stable), "aws", &history), Track::Stable);
    }
}
