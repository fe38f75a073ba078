//! `fixture-analysis`: a `canary-analysis` plugin for the wait-loop tests.
//! Its settings map interval numbers to decisions (`answers: {"3":
//! "promote"}`; unlisted intervals `continue`) and give the reasons of an
//! abort. Every call is logged as `analyze N/M`, and the request's fields
//! come back as the verdict's first reason, so a test sees what the host
//! sent and which intervals were called.

use std::collections::BTreeMap;

use gantry_sdk::types::{AnalysisDecision, AnalysisRequest, Verdict};
use gantry_sdk::CanaryAnalysis;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    answers: BTreeMap<String, String>,
    #[serde(default)]
    reasons: Vec<String>,
}

struct Fixture;

impl CanaryAnalysis for Fixture {
    type Settings = Settings;

    fn analyze(r: &AnalysisRequest, s: Settings) -> Verdict {
        gantry_sdk::info!("analyze {}/{}", r.interval, r.intervals);
        let echo = format!(
            "target={} canary={} stable={} namespace={} interval={}/{} window={}ms started={}",
            r.target.name,
            r.canary_release,
            r.stable_release,
            r.namespace,
            r.interval,
            r.intervals,
            r.now_ms.saturating_sub(r.started_ms),
            r.started_ms
        );
        let decision = match s.answers.get(&r.interval.to_string()).map(String::as_str) {
            Some("promote") => AnalysisDecision::Promote,
            Some("abort") => AnalysisDecision::Abort,
            _ => AnalysisDecision::Continue,
        };
        let mut reasons = vec![echo];
        if decision == AnalysisDecision::Abort {
            reasons.extend(s.reasons);
        }
        Verdict { decision, score: if decision == AnalysisDecision::Abort { 10.0 } else { 95.0 }, reasons }
    }
}

gantry_sdk::export_canary_analysis!(Fixture);
