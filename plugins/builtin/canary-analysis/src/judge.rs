//! The judge's settings, the PromQL it asks, and the judgement itself:
//! thresholds on the window's totals (a breach is critical: abort, score 0),
//! then per metric (error rate, p95, p99) a ratio to stable and a one-sided
//! Mann-Whitney U test of the canary's per-step samples against stable's;
//! the score is the share of compared metrics that passed. Pure: it gets
//! numbers and returns a decision with reasons that name the metric, the
//! values and the limit. It must not call the host.

use gantry_sdk::types::{AnalysisDecision, AnalysisRequest};

use crate::stats::{mann_whitney, median};

fn default_max_error_rate() -> f64 {
    0.05
}
fn default_max_p95_ms() -> f64 {
    500.0
}
fn default_max_p99_ms() -> f64 {
    1000.0
}
fn default_max_ratio() -> f64 {
    1.5
}
fn default_min_requests() -> f64 {
    20.0
}
fn default_min_samples() -> usize {
    5
}
fn default_confidence() -> f64 {
    0.95
}
fn default_error_tolerance() -> f64 {
    0.01
}
fn default_latency_tolerance_ms() -> f64 {
    5.0
}
fn default_pass_score() -> f64 {
    75.0
}
fn default_marginal_score() -> f64 {
    50.0
}
fn default_rate_window() -> String {
    "1m".into()
}
fn default_requests_metric() -> String {
    "http_requests_total".into()
}
fn default_duration_metric() -> String {
    "http_request_duration_seconds".into()
}

/// What to do when the canary had too little traffic to judge by the last interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoData {
    Pass,
    Fail,
}

fn default_no_data() -> NoData {
    NoData::Pass
}

/// The stage's `with:` (the host's own keys `duration`, `interval` and `health` are accepted and ignored).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Settings {
    #[serde(default)]
    pub duration: Option<serde_json::Value>,
    #[serde(default)]
    pub interval: Option<serde_json::Value>,
    #[serde(default)]
    pub health: Option<serde_json::Value>,
    /// Most 5xx share of the canary's requests over the window (0.05 = 5%).
    #[serde(default = "default_max_error_rate")]
    pub max_error_rate: f64,
    #[serde(default = "default_max_p95_ms")]
    pub max_p95_ms: f64,
    #[serde(default = "default_max_p99_ms")]
    pub max_p99_ms: f64,
    /// Most canary/stable ratio of each metric.
    #[serde(default = "default_max_ratio")]
    pub max_ratio: f64,
    /// Canary requests over the window before anything is judged.
    #[serde(default = "default_min_requests")]
    pub min_requests: f64,
    /// Steps per track before the U test is run.
    #[serde(default = "default_min_samples")]
    pub min_samples: usize,
    /// "Significantly worse" when the one-sided p-value is below 1 - confidence.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// Differences at or below these are not worse, whatever the test says.
    #[serde(default = "default_error_tolerance")]
    pub error_rate_tolerance: f64,
    #[serde(default = "default_latency_tolerance_ms")]
    pub latency_tolerance_ms: f64,
    #[serde(default = "default_pass_score")]
    pub pass_score: f64,
    #[serde(default = "default_marginal_score")]
    pub marginal_score: f64,
    /// The range of PromQL's `rate()` for the per-step samples.
    #[serde(default = "default_rate_window")]
    pub rate_window: String,
    /// Between per-step samples (`5s`, `1m`); default a twentieth of the window, 1s to 1m.
    #[serde(default)]
    pub step: Option<String>,
    /// The `app` label of the release's pods; default the stable release's name.
    #[serde(default)]
    pub app: Option<String>,
    /// More label matchers for every query, e.g. `handler!="/health"`.
    #[serde(default)]
    pub selector: Option<String>,
    #[serde(default = "default_requests_metric")]
    pub requests_metric: String,
    #[serde(default = "default_duration_metric")]
    pub duration_metric: String,
    /// Too little canary traffic by the last interval: `pass` (default) or `fail`.
    #[serde(default = "default_no_data")]
    pub no_data: NoData,
}

/// `500ms`, `5s`, `1m`, `1h` in milliseconds.
fn duration_ms(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = t[..split].parse().ok()?;
    let factor = match &t[split..] {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    Some(n * factor).filter(|ms| *ms > 0)
}

/// A name PromQL accepts for a metric or label.
fn metric_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

impl Settings {
    /// The settings' own consistency; the message names the field.
    pub fn check(&self) -> Result<(), String> {
        let fraction = |name: &str, v: f64| if (0.0..=1.0).contains(&v) { Ok(()) } else { Err(format!("`{name}` is {v}, not a fraction between 0 and 1")) };
        fraction("max-error-rate", self.max_error_rate)?;
        fraction("error-rate-tolerance", self.error_rate_tolerance)?;
        if !(0.5..1.0).contains(&self.confidence) {
            return Err(format!("`confidence` is {}, not between 0.5 and 1 (0.95 is usual)", self.confidence));
        }
        if self.max_ratio < 1.0 {
            return Err(format!("`max-ratio` is {}, below 1 (a canary equal to stable would fail)", self.max_ratio));
        }
        if self.marginal_score > self.pass_score || !(0.0..=100.0).contains(&self.pass_score) {
            return Err(format!("scores must satisfy 0 <= marginal-score ({}) <= pass-score ({}) <= 100", self.marginal_score, self.pass_score));
        }
        if duration_ms(&self.rate_window).is_none() {
            return Err(format!("`rate-window` is `{}`, not a duration like 30s or 1m", self.rate_window));
        }
        if let Some(step) = &self.step {
            if duration_ms(step).is_none() {
                return Err(format!("`step` is `{step}`, not a duration like 5s or 1m"));
            }
        }
        for (field, name) in [("requests-metric", &self.requests_metric), ("duration-metric", &self.duration_metric)] {
            if !metric_name(name) {
                return Err(format!("`{field}` is `{name}`, not a metric name"));
            }
        }
        Ok(())
    }

    /// The range queries' step for a window of `window_ms`.
    pub fn step_ms(&self, window_ms: u64) -> u64 {
        match self.step.as_deref().and_then(duration_ms) {
            Some(ms) => ms,
            None => (window_ms / 20).clamp(1_000, 60_000),
        }
    }
}

/// The PromQL of one call.
pub struct Queries {
    matchers: String,
    requests: String,
    duration: String,
    range: String,
    rate_window: String,
    pub window_s: f64,
}

fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

impl Queries {
    pub fn new(request: &AnalysisRequest, s: &Settings) -> Queries {
        let app = s.app.clone().unwrap_or_else(|| request.stable_release.clone());
        let mut matchers = format!("namespace=\"{}\",app=\"{}\",track=~\"canary|stable\"", quote(&request.namespace), quote(&app));
        if let Some(extra) = s.selector.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            matchers.push(',');
            matchers.push_str(extra);
        }
        let window_ms = request.now_ms.saturating_sub(request.started_ms).max(1_000);
        Queries {
            matchers,
            requests: s.requests_metric.clone(),
            duration: s.duration_metric.clone(),
            range: format!("{}s", window_ms.div_ceil(1000)),
            rate_window: s.rate_window.trim().to_string(),
            window_s: window_ms as f64 / 1000.0,
        }
    }

    fn errors(&self) -> String {
        format!("{}{{{},status=~\"5..\"}}", self.requests, self.matchers)
    }

    fn all(&self) -> String {
        format!("{}{{{}}}", self.requests, self.matchers)
    }

    /// Requests per track over the window.
    pub fn requests_total(&self) -> String {
        format!("sum by (track) (increase({}[{}]))", self.all(), self.range)
    }

    /// 5xx answers per track over the window (no series: none).
    pub fn errors_total(&self) -> String {
        format!("sum by (track) (increase({}[{}]))", self.errors(), self.range)
    }

    /// The `q` quantile of latency per track over the window, seconds.
    pub fn quantile_total(&self, q: f64) -> String {
        format!("histogram_quantile({q}, sum by (track, le) (increase({}_bucket{{{}}}[{}])))", self.duration, self.matchers, self.range)
    }

    /// Per step: the 5xx share per track (0 for a track with traffic and no 5xx).
    pub fn error_ratio_steps(&self) -> String {
        let all = format!("sum by (track) (rate({}[{}]))", self.all(), self.rate_window);
        format!("(sum by (track) (rate({}[{}])) or {all} * 0) / {all}", self.errors(), self.rate_window)
    }

    /// Per step: the `q` quantile of latency per track, seconds.
    pub fn quantile_steps(&self, q: f64) -> String {
        format!("histogram_quantile({q}, sum by (track, le) (rate({}_bucket{{{}}}[{}])))", self.duration, self.matchers, self.rate_window)
    }
}

/// One track's numbers over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackData {
    pub requests: f64,
    pub errors: f64,
    /// Seconds; NaN when there were no requests.
    pub p95: f64,
    pub p99: f64,
    /// Per-step samples, finite values only.
    pub error_steps: Vec<f64>,
    pub p95_steps: Vec<f64>,
    pub p99_steps: Vec<f64>,
}

impl TrackData {
    pub fn error_rate(&self) -> f64 {
        if self.requests > 0.0 {
            (self.errors / self.requests).clamp(0.0, 1.0)
        } else {
            f64::NAN
        }
    }
}

/// Canary and stable over one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    pub window_s: f64,
    pub canary: TrackData,
    pub stable: TrackData,
}

/// The answer, before it becomes a WIT verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub decision: AnalysisDecision,
    pub score: f64,
    pub reasons: Vec<String>,
}

/// What the judge needs to know about a failed metrics call.
pub trait ErrorView {
    /// No provider is configured for the target (or the host has no metrics at all).
    fn is_missing_provider(&self) -> bool;
    /// The provider may answer later (unreachable, timed out).
    fn is_transient(&self) -> bool;
    fn text(&self) -> String;
}

/// The judgement when the metrics could not be read.
pub fn without_metrics(e: &dyn ErrorView, last: bool) -> Judgement {
    if e.is_missing_provider() {
        let decision = if last { AnalysisDecision::Promote } else { AnalysisDecision::Continue };
        return Judgement { decision, score: 100.0, reasons: vec![format!("no metrics provider: judging on health only ({})", e.text())] };
    }
    if e.is_transient() && !last {
        return Judgement { decision: AnalysisDecision::Continue, score: 50.0, reasons: vec![format!("metrics not readable this interval; judging again at the next: {}", e.text())] };
    }
    Judgement { decision: AnalysisDecision::Abort, score: 0.0, reasons: vec![format!("cannot judge the canary: {}", e.text())] }
}

fn pct(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else {
        format!("{:.2}%", v * 100.0)
    }
}

fn ms(seconds: f64) -> String {
    if seconds.is_nan() {
        "n/a".into()
    } else {
        format!("{:.1} ms", seconds * 1000.0)
    }
}

/// One metric compared with stable.
struct Metric<'a> {
    name: &'a str,
    canary: f64,
    stable: f64,
    canary_steps: &'a [f64],
    stable_steps: &'a [f64],
    /// Absolute difference below which canary is not worse.
    tolerance: f64,
    show: fn(f64) -> String,
}

/// Whether `m` is worse than stable, with the reason either way.
fn compare(m: &Metric<'_>, s: &Settings) -> (bool, String) {
    let show = m.show;
    let mut failures = Vec::new();
    if m.canary.is_finite() && m.stable.is_finite() && m.canary - m.stable > m.tolerance && m.canary > m.stable * s.max_ratio {
        let ratio = if m.stable > 0.0 { format!("{:.2}×", m.canary / m.stable) } else { "above zero".into() };
        failures.push(format!("canary/stable {ratio} (max {:.2}×)", s.max_ratio));
    }
    let test = if m.canary_steps.len() >= s.min_samples && m.stable_steps.len() >= s.min_samples {
        mann_whitney(m.canary_steps, m.stable_steps)
    } else {
        None
    };
    let test_text = match test {
        Some(t) => {
            let (mc, ms_) = (median(m.canary_steps), median(m.stable_steps));
            let worse = t.p_greater < 1.0 - s.confidence && mc - ms_ > m.tolerance;
            if worse {
                failures.push(format!("significantly worse (Mann-Whitney U {:.1}, p {:.4} < {:.3}; medians {} vs {})", t.u, t.p_greater, 1.0 - s.confidence, show(mc), show(ms_)));
            }
            format!("U {:.1}, p {:.4} over {}+{} steps", t.u, t.p_greater, m.canary_steps.len(), m.stable_steps.len())
        }
        None => format!("U test not run ({}+{} steps, {} needed each)", m.canary_steps.len(), m.stable_steps.len(), s.min_samples),
    };
    let head = format!("{}: canary {}, stable {}", m.name, show(m.canary), show(m.stable));
    if failures.is_empty() {
        (false, format!("{head}: ok ({test_text})"))
    } else {
        (true, format!("{head}: {}", failures.join("; ")))
    }
}

/// The verdict on `m` at an interval (`last`: the wait's last).
pub fn judge(m: &Measured, s: &Settings, last: bool) -> Judgement {
    let (c, st) = (&m.canary, &m.stable);
    let traffic = format!(
        "traffic over {:.0}s: canary {:.0} requests ({:.2}/s), stable {:.0} requests ({:.2}/s)",
        m.window_s,
        c.requests,
        c.requests / m.window_s.max(1e-9),
        st.requests,
        st.requests / m.window_s.max(1e-9)
    );
    if c.requests.is_nan() || c.requests < s.min_requests {
        let why = format!("only {:.0} canary requests so far, {} needed before judging", c.requests, s.min_requests);
        return match (last, s.no_data) {
            (false, _) => Judgement { decision: AnalysisDecision::Continue, score: 100.0, reasons: vec![why, traffic] },
            (true, NoData::Pass) => Judgement { decision: AnalysisDecision::Promote, score: 100.0, reasons: vec![format!("{why}; passing on health only (`no-data: pass`)"), traffic] },
            (true, NoData::Fail) => Judgement { decision: AnalysisDecision::Abort, score: 0.0, reasons: vec![format!("{why} by the last interval (`no-data: fail`)"), traffic] },
        };
    }

    // Thresholds: critical.
    let mut breaches = Vec::new();
    let error_rate = c.error_rate();
    if error_rate > s.max_error_rate {
        breaches.push(format!("error rate: canary {} ({:.0} of {:.0} requests answered 5xx) is over the maximum {}", pct(error_rate), c.errors, c.requests, pct(s.max_error_rate)));
    }
    if c.p95 * 1000.0 > s.max_p95_ms {
        breaches.push(format!("p95 latency: canary {} is over the maximum {:.1} ms", ms(c.p95), s.max_p95_ms));
    }
    if c.p99 * 1000.0 > s.max_p99_ms {
        breaches.push(format!("p99 latency: canary {} is over the maximum {:.1} ms", ms(c.p99), s.max_p99_ms));
    }
    if !breaches.is_empty() {
        breaches.insert(0, format!("abort: {} threshold{} breached", breaches.len(), if breaches.len() == 1 { "" } else { "s" }));
        breaches.push(traffic);
        return Judgement { decision: AnalysisDecision::Abort, score: 0.0, reasons: breaches };
    }

    // Compared with stable.
    let mut reasons = Vec::new();
    let (mut judged, mut passed) = (0u32, 0u32);
    if st.requests >= s.min_requests {
        let tol = s.latency_tolerance_ms / 1000.0;
        let metrics = [
            Metric { name: "error rate", canary: error_rate, stable: st.error_rate(), canary_steps: &c.error_steps, stable_steps: &st.error_steps, tolerance: s.error_rate_tolerance, show: pct },
            Metric { name: "p95 latency", canary: c.p95, stable: st.p95, canary_steps: &c.p95_steps, stable_steps: &st.p95_steps, tolerance: tol, show: ms },
            Metric { name: "p99 latency", canary: c.p99, stable: st.p99, canary_steps: &c.p99_steps, stable_steps: &st.p99_steps, tolerance: tol, show: ms },
        ];
        for metric in &metrics {
            let (worse, reason) = compare(metric, s);
            judged += 1;
            if !worse {
                passed += 1;
            }
            reasons.push(reason);
        }
    } else {
        reasons.push(format!(
            "stable had {:.0} requests, fewer than {}: canary judged on thresholds only (error rate {} ≤ {}, p95 {} ≤ {:.1} ms, p99 {} ≤ {:.1} ms)",
            st.requests,
            s.min_requests,
            pct(error_rate),
            pct(s.max_error_rate),
            ms(c.p95),
            s.max_p95_ms,
            ms(c.p99),
            s.max_p99_ms
        ));
    }
    reasons.push(traffic);
    let score = if judged == 0 { 100.0 } else { 100.0 * f64::from(passed) / f64::from(judged) };
    let (decision, head) = if score < s.marginal_score {
        (AnalysisDecision::Abort, format!("abort: score {score:.0} is below the marginal score {:.0}", s.marginal_score))
    } else if last && score >= s.pass_score {
        (AnalysisDecision::Promote, format!("promote: score {score:.0} at the last interval (pass score {:.0})", s.pass_score))
    } else if last {
        (AnalysisDecision::Abort, format!("abort: score {score:.0} at the last interval is below the pass score {:.0}", s.pass_score))
    } else {
        (AnalysisDecision::Continue, format!("continue: score {score:.0} (pass {:.0}, marginal {:.0})", s.pass_score, s.marginal_score))
    };
    reasons.insert(0, head);
    Judgement { decision, score, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> Settings {
        serde_json::from_str(json).unwrap()
    }

    fn track(requests: f64, errors: f64, p95: f64, err_steps: f64, lat_steps: f64) -> TrackData {
        TrackData {
            requests,
            errors,
            p95,
            p99: p95 * 1.2,
            error_steps: vec![err_steps; 10],
            p95_steps: vec![lat_steps; 10],
            p99_steps: vec![lat_steps * 1.2; 10],
        }
    }

    #[test]
    fn a_canary_over_the_error_threshold_aborts_naming_metric_value_and_limit() {
        let m = Measured { window_s: 60.0, canary: track(300.0, 90.0, 0.01, 0.3, 0.01), stable: track(300.0, 0.0, 0.01, 0.0, 0.01) };
        let j = judge(&m, &settings("{}"), false);
        assert_eq!((j.decision, j.score), (AnalysisDecision::Abort, 0.0));
        assert!(j.reasons[1].contains("error rate: canary 30.00%") && j.reasons[1].contains("maximum 5.00%"), "{:?}", j.reasons);
    }

    #[test]
    fn an_equal_canary_continues_then_promotes_at_the_last_interval() {
        let m = Measured { window_s: 60.0, canary: track(300.0, 0.0, 0.00475, 0.0, 0.00475), stable: track(300.0, 0.0, 0.00475, 0.0, 0.00475) };
        let s = settings(r#"{"duration": "10m", "interval": "30s"}"#);
        let j = judge(&m, &s, false);
        assert_eq!((j.decision, j.score), (AnalysisDecision::Continue, 100.0), "{:?}", j.reasons);
        assert_eq!(judge(&m, &s, true).decision, AnalysisDecision::Promote);
    }

    #[test]
    fn a_significantly_slower_canary_under_the_thresholds_loses_score() {
        let mut canary = track(300.0, 0.0, 0.2, 0.0, 0.2);
        canary.p95_steps = (0..10).map(|i| 0.2 + f64::from(i) * 0.001).collect();
        let stable = track(300.0, 0.0, 0.05, 0.0, 0.05);
        let j = judge(&Measured { window_s: 60.0, canary, stable }, &settings("{}"), false);
        // p95 and p99 both worse (ratio 4× and U test), error rate fine: 1 of 3.
        assert!((j.score - 100.0 / 3.0).abs() < 1e-9, "{:?}", j);
        assert_eq!(j.decision, AnalysisDecision::Abort);
        assert!(j.reasons.iter().any(|r| r.starts_with("p95 latency") && r.contains("significantly worse") && r.contains("canary/stable 4.00×")), "{:?}", j.reasons);
    }

    #[test]
    fn too_little_traffic_continues_and_the_last_interval_follows_no_data() {
        let m = Measured { window_s: 10.0, canary: track(3.0, 0.0, 0.01, 0.0, 0.01), stable: track(3.0, 0.0, 0.01, 0.0, 0.01) };
        assert_eq!(judge(&m, &settings("{}"), false).decision, AnalysisDecision::Continue);
        assert_eq!(judge(&m, &settings("{}"), true).decision, AnalysisDecision::Promote);
        assert_eq!(judge(&m, &settings(r#"{"no-data": "fail"}"#), true).decision, AnalysisDecision::Abort);
    }

    struct E(bool, bool);
    impl ErrorView for E {
        fn is_missing_provider(&self) -> bool {
            self.0
        }
        fn is_transient(&self) -> bool {
            self.1
        }
        fn text(&self) -> String {
            "metrics (unavailable): …".into()
        }
    }

    #[test]
    fn without_a_provider_the_judge_goes_on_health_only() {
        let j = without_metrics(&E(true, true), false);
        assert_eq!(j.decision, AnalysisDecision::Continue);
        assert!(j.reasons[0].starts_with("no metrics provider: judging on health only"), "{:?}", j.reasons);
        assert_eq!(without_metrics(&E(true, true), true).decision, AnalysisDecision::Promote);
        assert_eq!(without_metrics(&E(false, true), false).decision, AnalysisDecision::Continue);
        assert_eq!(without_metrics(&E(false, true), true).decision, AnalysisDecision::Abort);
        assert_eq!(without_metrics(&E(false, false), false).decision, AnalysisDecision::Abort);
    }

    #[test]
    fn settings_are_checked_and_unknown_keys_refused() {
        assert!(serde_json::from_str::<Settings>(r#"{"max-eror-rate": 0.1}"#).is_err());
        assert!(settings(r#"{"max-error-rate": 2}"#).check().unwrap_err().contains("max-error-rate"));
        assert!(settings(r#"{"rate-window": "soon"}"#).check().unwrap_err().contains("rate-window"));
        assert!(settings(r#"{"max-ratio": 0.5}"#).check().is_err());
        assert_eq!(settings("{}").step_ms(600_000), 30_000);
        assert_eq!(settings(r#"{"step": "2s"}"#).step_ms(600_000), 2_000);
        assert_eq!(settings("{}").step_ms(5_000), 1_000);
    }

    #[test]
    fn queries_select_the_release_by_namespace_app_and_track() {
        let request = AnalysisRequest {
            target: gantry_sdk::types::TargetInfo { name: "aws".into(), kind: gantry_sdk::types::TargetKind::Sim, cluster: "aws".into(), region: None, registry: None },
            canary_release: "web-canary".into(),
            stable_release: "web".into(),
            namespace: "shop".into(),
            settings: "{}".into(),
            interval: 1,
            intervals: 2,
            started_ms: 10_000,
            now_ms: 70_500,
        };
        let q = Queries::new(&request, &settings(r#"{"selector": "handler!=\"/health\""}"#));
        assert_eq!(q.requests_total(), r#"sum by (track) (increase(http_requests_total{namespace="shop",app="web",track=~"canary|stable",handler!="/health"}[61s]))"#);
        assert!(q.error_ratio_steps().contains(r#"status=~"5.."}[1m])) or sum by (track)"#), "{}", q.error_ratio_steps());
        assert!(q.quantile_total(0.99).starts_with("histogram_quantile(0.99, sum by (track, le) (increase(http_request_duration_seconds_bucket{"));
    }
}
