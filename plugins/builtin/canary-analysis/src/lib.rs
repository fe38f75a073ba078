//! `builtin:canary-analysis`: the built-in judge of the wait for canary. At
//! each interval the host calls `analyze`; this plugin reads canary and
//! stable from the target's Prometheus over the window [started, now] —
//! request rate, error rate (the 5xx share), p95 and p99 latency from the
//! `http_request_duration_seconds` histogram, by `track` and the release's
//! `app` and `namespace` labels — and judges as Kayenta does: thresholds
//! first (a breach aborts at once), then each metric compared with stable by
//! a ratio and a Mann-Whitney U test over the window's steps ("significantly
//! worse" at the configured confidence), giving a score of 0-100 from the
//! metrics that passed. Continue while the score is at least marginal;
//! promote at the last interval when it reaches the pass score.
//!
//! Without a metrics provider it judges on health only (the host re-runs
//! the health checks) and says so. It must not touch the cluster, and it
//! decides nothing about rollback: it only answers continue, promote or abort.

mod judge;
mod stats;

use gantry_sdk::cap::metrics;
use gantry_sdk::types::{AnalysisDecision, AnalysisRequest, CapError, ErrorKind, Verdict};
use gantry_sdk::CanaryAnalysis;

pub use judge::{judge, Judgement, Measured, Settings, TrackData};

struct Builtin;

/// One PromQL answer, split by the `track` label.
#[derive(Default)]
struct ByTrack {
    canary: Vec<f64>,
    stable: Vec<f64>,
}

fn by_track(series: Vec<metrics::Series>) -> ByTrack {
    let mut out = ByTrack::default();
    for s in series {
        let track = s.labels.iter().find(|p| p.key == "track").map(|p| p.value.as_str()).unwrap_or("");
        let values = s.samples.iter().map(|p| p.value);
        match track {
            "canary" => out.canary.extend(values),
            "stable" => out.stable.extend(values),
            _ => {}
        }
    }
    out
}

/// The first value of a track's instant answer (NaN when absent).
fn first(values: &[f64]) -> f64 {
    values.first().copied().unwrap_or(f64::NAN)
}

fn measure(request: &AnalysisRequest, s: &Settings) -> Result<Measured, CapError> {
    let q = judge::Queries::new(request, s);
    let window_s = q.window_s;
    let step = s.step_ms(request.now_ms.saturating_sub(request.started_ms));
    let start = request.started_ms.min(request.now_ms);
    let at = request.now_ms;
    let requests = by_track(metrics::query(&q.requests_total(), at)?);
    let errors = by_track(metrics::query(&q.errors_total(), at)?);
    let p95 = by_track(metrics::query(&q.quantile_total(0.95), at)?);
    let p99 = by_track(metrics::query(&q.quantile_total(0.99), at)?);
    let error_steps = by_track(metrics::query_range(&q.error_ratio_steps(), start, at, step)?);
    let p95_steps = by_track(metrics::query_range(&q.quantile_steps(0.95), start, at, step)?);
    let p99_steps = by_track(metrics::query_range(&q.quantile_steps(0.99), start, at, step)?);
    let track = |requests: &[f64], errors: &[f64], p95: &[f64], p99: &[f64], e: &[f64], s95: &[f64], s99: &[f64]| TrackData {
        requests: first(requests).max(0.0),
        errors: if errors.is_empty() { 0.0 } else { first(errors).max(0.0) },
        p95: first(p95),
        p99: first(p99),
        error_steps: e.iter().copied().filter(|v| v.is_finite()).collect(),
        p95_steps: s95.iter().copied().filter(|v| v.is_finite()).collect(),
        p99_steps: s99.iter().copied().filter(|v| v.is_finite()).collect(),
    };
    Ok(Measured {
        window_s,
        canary: track(&requests.canary, &errors.canary, &p95.canary, &p99.canary, &error_steps.canary, &p95_steps.canary, &p99_steps.canary),
        stable: track(&requests.stable, &errors.stable, &p95.stable, &p99.stable, &error_steps.stable, &p95_steps.stable, &p99_steps.stable),
    })
}

fn verdict(j: Judgement) -> Verdict {
    Verdict { decision: j.decision, score: j.score, reasons: j.reasons }
}

impl CanaryAnalysis for Builtin {
    type Settings = Settings;

    fn analyze(request: &AnalysisRequest, settings: Settings) -> Verdict {
        if let Err(e) = settings.check() {
            return Verdict { decision: AnalysisDecision::Abort, score: 0.0, reasons: vec![format!("bad `with:` settings: {e}")] };
        }
        let last = request.interval >= request.intervals;
        match measure(request, &settings) {
            Ok(measured) => {
                let j = judge(&measured, &settings, last);
                gantry_sdk::info!("interval {}/{}: {:?} (score {:.0})", request.interval, request.intervals, j.decision, j.score);
                verdict(j)
            }
            Err(e) => verdict(judge::without_metrics(&e, last)),
        }
    }
}

impl judge::ErrorView for CapError {
    fn is_missing_provider(&self) -> bool {
        matches!(self.kind, ErrorKind::Unsupported) || (matches!(self.kind, ErrorKind::Unavailable) && self.message.contains("no metrics provider"))
    }
    fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Unavailable | ErrorKind::Timeout)
    }
    fn text(&self) -> String {
        format!("{} ({}): {}", self.capability, self.kind.name(), self.message)
    }
}

gantry_sdk::export_canary_analysis!(Builtin);
