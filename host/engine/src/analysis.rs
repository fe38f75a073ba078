//! The wait for a canary: a stage whose plugin is a `canary-analysis` world
//! component is driven here, per target. The host owns the clock — the
//! `duration` cut into `interval`s, `analyze` called at the end of each with
//! the window so far, the latest earlier health check re-run on the canary
//! before each call — and the plugin owns the verdict: `continue`, `promote`
//! (the wait ends, passed) or `abort` (the wait ends at once, failed, with
//! the verdict's reasons). An interrupt ends the wait at once. The reserved
//! `with:` keys (`duration`, `interval`, `health`) are parsed and checked
//! here; `gantry run --wait` shortens every wait through [`WaitSpec::shortened`].
//! This file must not read metrics itself: that is the plugin's, through
//! the `metrics` capability.

use std::time::{Duration, Instant, SystemTime};

use gantry_runtime::wit::analysis_types::{AnalysisRequest, Decision, Verdict};
use gantry_runtime::wit::health_types::Health;
use gantry_runtime::{CallEnv, CallError, Level, LogLine, Plugin, Runtime, Source, TargetInfo};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::event::{StepError, StepStatus};
use crate::health::{self, duration_setting, Checker, Driven, SettingError, SettingErrors};

/// The `with:` keys the host reads for a canary-analysis stage (never passed to the plugin).
pub const RESERVED: [&str; 3] = ["duration", "interval", "health"];

/// The shortest interval `--wait` scales down to.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// How the host drives a wait stage (its reserved `with:` keys).
#[derive(Debug, Clone, PartialEq)]
pub struct WaitSpec {
    pub duration: Duration,
    pub interval: Duration,
    /// Re-run the latest earlier health-check stage on the canary at every interval.
    pub health: bool,
}

impl Default for WaitSpec {
    fn default() -> Self {
        WaitSpec { duration: Duration::from_secs(600), interval: Duration::from_secs(30), health: true }
    }
}

impl WaitSpec {
    /// Read the reserved keys of a stage's `with:`; every bad key is reported.
    pub fn parse(with: &Value) -> Result<WaitSpec, Vec<SettingError>> {
        let d = WaitSpec::default();
        let mut errors = SettingErrors::default();
        let duration = errors.or(duration_setting(with, "duration", d.duration), d.duration);
        let interval = errors.or(duration_setting(with, "interval", d.interval), d.interval);
        let health = match with.get("health") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                errors.0.push(SettingError { key: "health", message: format!("`health` is {other}, not true or false"), hint: Some("write `health: false` to skip the health checks during the wait".into()) });
                true
            }
        };
        if errors.0.is_empty() && interval > duration {
            errors.0.push(SettingError {
                key: "interval",
                message: format!("`interval` ({}) is longer than `duration` ({})", humantime::format_duration(interval), humantime::format_duration(duration)),
                hint: Some("make the interval a fraction of the duration, e.g. `duration: 10m, interval: 30s`".into()),
            });
        }
        if errors.0.is_empty() {
            Ok(WaitSpec { duration, interval, health })
        } else {
            Err(errors.0)
        }
    }

    /// How many intervals the wait has: the duration in whole intervals, at least one.
    pub fn intervals(&self) -> u32 {
        let n = self.duration.as_nanos().div_ceil(self.interval.as_nanos().max(1));
        n.clamp(1, u128::from(u32::MAX)) as u32
    }

    /// The wait with `duration` instead, the interval scaled so that the
    /// count of intervals stays (but never under [`MIN_INTERVAL`]).
    pub fn shortened(&self, duration: Duration) -> WaitSpec {
        let n = self.intervals();
        let interval = (duration / n).max(MIN_INTERVAL).min(duration.max(MIN_INTERVAL));
        WaitSpec { duration: duration.max(interval), interval, health: self.health }
    }
}

/// The latest earlier health-check stage, re-run on the canary during the wait.
pub(crate) struct Recheck<'a> {
    pub checker: Checker<'a>,
    pub failure_threshold: u32,
    /// The stage it comes from, for messages.
    pub stage: String,
}

/// One analysis plugin bound to a target.
pub(crate) struct Analyzer<'a> {
    pub runtime: &'a Runtime,
    pub plugin: &'a Plugin,
    pub env: CallEnv,
    pub target: TargetInfo,
    pub stable: String,
    pub namespace: String,
    pub settings: String,
}

impl Analyzer<'_> {
    fn log(&self, level: Level, message: String, progress: Option<(u64, u64)>) {
        (self.env.log)(LogLine { level, source: Source::Host, message, fields: vec![], progress });
    }
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Continue => "continue",
        Decision::Promote => "promote",
        Decision::Abort => "abort",
    }
}

/// Drive a wait stage on one target to its end.
pub(crate) async fn drive(analyzer: &Analyzer<'_>, spec: &WaitSpec, recheck: Option<&Recheck<'_>>, cancel: &CancellationToken) -> Driven {
    let n = spec.intervals();
    let canary = format!("{}-canary", analyzer.stable);
    let started_wall = SystemTime::now();
    let started = Instant::now();
    let mut verdicts: Vec<Value> = Vec::new();
    let mut checks: Vec<Value> = Vec::new();
    let mut unhealthy_run = 0u32;
    let outputs = |verdicts: &Vec<Value>, checks: &Vec<Value>, decision: &str| {
        json!({
            "track": "canary", "release": canary, "stable-release": analyzer.stable, "namespace": analyzer.namespace,
            "intervals": n, "interval-ms": spec.interval.as_millis() as u64, "duration-ms": spec.duration.as_millis() as u64,
            "completed": verdicts.len(), "decision": decision, "verdicts": verdicts, "health": checks,
        })
    };
    let interrupted = |verdicts: &Vec<Value>, checks: &Vec<Value>, i: u32| Driven {
        status: StepStatus::Interrupted,
        summary: String::new(),
        outputs: outputs(verdicts, checks, "interrupted"),
        error: Some(StepError { kind: "interrupted".into(), message: format!("the wait for {canary} on {} was interrupted at interval {i} of {n}", analyzer.target.name), hint: None }),
    };
    analyzer.log(Level::Info, format!("observing {canary} against {} for {} in {n} interval{} of {}", analyzer.stable, humantime::format_duration(spec.duration), if n == 1 { "" } else { "s" }, humantime::format_duration(spec.interval)), Some((0, u64::from(n))));
    for i in 1..=n {
        let due = started + spec.interval * i;
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = cancel.cancelled() => return interrupted(&verdicts, &checks, i),
        }
        if let Some(re) = recheck {
            let evaluated = tokio::select! {
                r = re.checker.evaluate(i) => r,
                _ = cancel.cancelled() => return interrupted(&verdicts, &checks, i),
            };
            let report = match evaluated {
                Ok(r) => r,
                Err(CallError::Interrupted) => return interrupted(&verdicts, &checks, i),
                Err(e) => {
                    let message = format!("the health check of {canary} on {} (from stage `{}`) could not run at interval {i}: {e}", analyzer.target.name, re.stage);
                    return Driven { status: StepStatus::Failed, summary: String::new(), outputs: outputs(&verdicts, &checks, "abort"), error: Some(StepError { kind: e.kind().to_string(), message, hint: e.hint() }) };
                }
            };
            let mut entry = health::report_json(&report);
            entry["interval"] = json!(i);
            checks.push(entry);
            if report.health == Health::Unhealthy {
                unhealthy_run += 1;
                analyzer.log(Level::Warn, format!("interval {i}/{n}: {canary} unhealthy — {}", health::failed_checks(&report)), None);
                if unhealthy_run >= re.failure_threshold {
                    let message = format!("{canary} on {} became unhealthy during the wait (interval {i} of {n}, {unhealthy_run} time{} in a row): {}", analyzer.target.name, if unhealthy_run == 1 { "" } else { "s" }, health::failed_checks(&report));
                    return Driven { status: StepStatus::Failed, summary: String::new(), outputs: outputs(&verdicts, &checks, "abort"), error: Some(StepError { kind: "unhealthy".into(), message, hint: None }) };
                }
            } else {
                unhealthy_run = 0;
            }
        }
        let request = AnalysisRequest {
            target: gantry_runtime::wit_target(&analyzer.target),
            canary_release: canary.clone(),
            stable_release: analyzer.stable.clone(),
            namespace: analyzer.namespace.clone(),
            settings: analyzer.settings.clone(),
            interval: i,
            intervals: n,
            started_ms: epoch_ms(started_wall),
            now_ms: epoch_ms(SystemTime::now()),
        };
        let answer = tokio::select! {
            r = analyzer.runtime.call_canary_analysis(analyzer.plugin, &analyzer.env, request) => r,
            _ = cancel.cancelled() => return interrupted(&verdicts, &checks, i),
        };
        let verdict: Verdict = match answer {
            Ok(v) => v,
            Err(CallError::Interrupted) => return interrupted(&verdicts, &checks, i),
            Err(e) => {
                let message = format!("the analysis of {canary} on {} could not run at interval {i} of {n}: {e}", analyzer.target.name);
                return Driven { status: StepStatus::Failed, summary: String::new(), outputs: outputs(&verdicts, &checks, "abort"), error: Some(StepError { kind: e.kind().to_string(), message, hint: e.hint() }) };
            }
        };
        let name = decision_name(verdict.decision);
        verdicts.push(json!({"interval": i, "decision": name, "score": verdict.score, "reasons": verdict.reasons}));
        let reasons = if verdict.reasons.is_empty() { String::new() } else { format!(" — {}", verdict.reasons.join("; ")) };
        let level = if verdict.decision == Decision::Abort { Level::Warn } else { Level::Info };
        analyzer.log(level, format!("interval {i}/{n}: {name}, score {:.1}{reasons}", verdict.score), Some((u64::from(i), u64::from(n))));
        match verdict.decision {
            Decision::Abort => {
                let why = if verdict.reasons.is_empty() { "the analysis gave no reason".to_string() } else { verdict.reasons.join("; ") };
                return Driven {
                    status: StepStatus::Failed,
                    summary: String::new(),
                    outputs: outputs(&verdicts, &checks, "abort"),
                    error: Some(StepError { kind: "aborted".into(), message: format!("the analysis aborted {canary} on {} at interval {i} of {n} (score {:.1}): {why}", analyzer.target.name, verdict.score), hint: None }),
                };
            }
            Decision::Promote => {
                return Driven { status: StepStatus::Succeeded, summary: format!("{canary} promoted at interval {i} of {n} (score {:.1})", verdict.score), outputs: outputs(&verdicts, &checks, "promote"), error: None };
            }
            Decision::Continue if i == n => {
                return Driven { status: StepStatus::Succeeded, summary: format!("{canary} passed {n} interval{} (score {:.1})", if n == 1 { "" } else { "s" }, verdict.score), outputs: outputs(&verdicts, &checks, "continue"), error: None };
            }
            Decision::Continue => {}
        }
    }
    // n ≥ 1, and the last interval always returns above.
    Driven { status: StepStatus::Succeeded, summary: format!("{canary} observed"), outputs: outputs(&verdicts, &checks, "continue"), error: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_keys() {
        assert_eq!(WaitSpec::parse(&json!({"thresholds": {}})).unwrap(), WaitSpec::default());
        let w = WaitSpec::parse(&json!({"duration": "2m", "interval": "10s", "health": false})).unwrap();
        assert_eq!(w, WaitSpec { duration: Duration::from_secs(120), interval: Duration::from_secs(10), health: false });
        assert_eq!(w.intervals(), 12);
    }

    #[test]
    fn bad_keys_are_named() {
        let e = WaitSpec::parse(&json!({"duration": "ten minutes", "health": "yes"})).unwrap_err();
        assert_eq!(e.iter().map(|e| e.key).collect::<Vec<_>>(), ["duration", "health"]);
        let e = WaitSpec::parse(&json!({"duration": "10s", "interval": "1m"})).unwrap_err();
        assert_eq!(e[0].key, "interval");
    }

    #[test]
    fn shortening_keeps_the_count_of_intervals_down_to_100ms() {
        let w = WaitSpec { duration: Duration::from_secs(600), interval: Duration::from_secs(30), health: true };
        let s = w.shortened(Duration::from_secs(2));
        assert_eq!((s.duration, s.interval, s.intervals()), (Duration::from_secs(2), Duration::from_millis(100), 20));
        let s = w.shortened(Duration::from_secs(1));
        assert_eq!(s.interval, MIN_INTERVAL, "never below 100ms");
        assert_eq!(s.intervals(), 10);
        let s = w.shortened(Duration::from_secs(60));
        assert_eq!((s.interval, s.intervals()), (Duration::from_secs(3), 20));
    }
}
