//! `builtin:canary-analysis` called through the runtime, as the host's wait
//! loop calls it, with the target's metrics provider a real Prometheus
//! scraping a simulated cluster: a canary answering half its requests with
//! 500 is aborted, naming the error rate, its value and the limit; a canary
//! like stable continues, then is promoted at the last interval; without a
//! provider the judge goes on health only; an unreachable one is judged
//! again at the next interval (and fails the last); a call over targets with
//! different providers is refused by the host. And traffic through an HTTPRoute
//! follows its backendRefs weights, 10 → 50 → 100, as counted by Prometheus.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use gantry_runtime::scope::Scope;
use gantry_runtime::wit::analysis_types::{AnalysisRequest, Decision, Verdict};
use gantry_runtime::{CallEnv, Capability, Limits, MetricsBackends, Plugin, RunContext, Runtime, RuntimeConfig, TargetInfo, TargetKind};

use crate::common::{deployment, now_ms, service, Lab};

fn target() -> TargetInfo {
    TargetInfo { name: "lab".into(), kind: TargetKind::Sim, cluster: "lab".into(), region: None, registry: None }
}

fn env(metrics: MetricsBackends) -> CallEnv {
    env_for(metrics, &["lab"])
}

fn env_for(metrics: MetricsBackends, targets: &[&str]) -> CallEnv {
    let run = RunContext {
        run_id: "20260101T000000Z-analysis".into(),
        pipeline: "web".into(),
        stage: "wait-for-canary".into(),
        recovering: false,
        targets: vec![target()],
        image: None,
        release: None,
        revision: None,
        history: vec![],
    };
    let scope = Scope { targets: targets.iter().map(|t| t.to_string()).collect(), namespace: "default".into(), releases: vec!["web".into(), "web-canary".into()], ..Default::default() };
    CallEnv {
        run: Arc::new(run),
        scope: Arc::new(scope),
        grants: Arc::new(vec![Capability::Metrics]),
        limits: Limits { timeout: Duration::from_secs(60), ..Limits::default() },
        log: Arc::new(|line| eprintln!("plugin: {}", line.message)),
        cancel: tokio_util::sync::CancellationToken::new(),
        clusters: Default::default(),
        helm: Default::default(),
        images: None,
        scanner: None,
        metrics,
    }
}

fn judge() -> (Runtime, Plugin) {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("wasmtime starts");
    let builtin = gantry_plugins::builtin("canary-analysis").expect("builtin:canary-analysis is embedded");
    let plugin = runtime.load("builtin:canary-analysis", builtin.wasm, None).expect("it loads");
    (runtime, plugin)
}

/// The judge's settings for a lab that scrapes every second.
const SETTINGS: &str = r#"{"duration": "20s", "interval": "5s", "rate-window": "3s", "step": "1s", "min-requests": 20}"#;

async fn analyze(lab: Option<&Lab>, started_ms: u64, interval: u32, intervals: u32) -> Verdict {
    let metrics: MetricsBackends = Arc::new(match lab {
        Some(lab) => BTreeMap::from([("lab".to_string(), lab.metrics_backend())]),
        None => BTreeMap::new(),
    });
    analyze_in(env(metrics), started_ms, interval, intervals).await
}

async fn analyze_in(env: CallEnv, started_ms: u64, interval: u32, intervals: u32) -> Verdict {
    let (runtime, plugin) = judge();
    let request = AnalysisRequest {
        target: gantry_runtime::wit_target(&target()),
        canary_release: "web-canary".into(),
        stable_release: "web".into(),
        namespace: "default".into(),
        settings: SETTINGS.into(),
        interval,
        intervals,
        started_ms,
        now_ms: now_ms(),
    };
    let verdict = runtime.call_canary_analysis(&plugin, &env, request).await.unwrap_or_else(|e| panic!("the judge runs: {e}"));
    eprintln!("verdict {:?} score {}:\n  {}", verdict.decision, verdict.score, verdict.reasons.join("\n  "));
    verdict
}

/// Stable (3 pods) and canary (1 pod, `canary_annotations`) behind one Service with 40 requests/s.
async fn canary_lab(canary_annotations: &str) -> Option<(Lab, u64)> {
    let lab = Lab::start().await?;
    lab.apply(&deployment("web", "stable", 3, "")).await;
    lab.apply(&deployment("web-canary", "canary", 1, canary_annotations)).await;
    lab.apply(&service("web", "app: web", "sim.gantry.dev/traffic: \"40\"")).await;
    lab.wait_for("sum(http_requests_total{app=\"web\",track=\"canary\"})").await;
    let started = now_ms();
    // Enough scrapes for several steps of both tracks.
    tokio::time::sleep(Duration::from_secs(8)).await;
    Some((lab, started))
}

#[tokio::test]
async fn a_canary_with_a_higher_error_rate_is_aborted_naming_the_metric() {
    let Some((lab, started)) = canary_lab("sim.gantry.dev/http-error-rate: \"0.5\"").await else { return };
    let verdict = analyze(Some(&lab), started, 1, 4).await;
    assert_eq!(verdict.decision, Decision::Abort, "{:?}", verdict.reasons);
    assert_eq!(verdict.score, 0.0);
    let reason = verdict.reasons.iter().find(|r| r.starts_with("error rate: canary")).unwrap_or_else(|| panic!("{:?}", verdict.reasons));
    assert!(reason.contains("maximum 5.00%"), "{reason}");
    let share: f64 = reason["error rate: canary ".len()..].split('%').next().unwrap().parse().unwrap();
    assert!((40.0..=60.0).contains(&share), "about half the canary's requests failed: {reason}");
}

#[tokio::test]
async fn a_canary_like_stable_continues_then_is_promoted() {
    let Some((lab, started)) = canary_lab("").await else { return };
    let first = analyze(Some(&lab), started, 1, 2).await;
    assert_eq!(first.decision, Decision::Continue, "{:?}", first.reasons);
    assert_eq!(first.score, 100.0);
    assert!(first.reasons.iter().any(|r| r.starts_with("error rate: canary 0.00%, stable 0.00%: ok")), "{:?}", first.reasons);
    assert!(first.reasons.iter().any(|r| r.starts_with("traffic over")), "{:?}", first.reasons);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let last = analyze(Some(&lab), started, 2, 2).await;
    assert_eq!(last.decision, Decision::Promote, "{:?}", last.reasons);
    // Traffic follows the replica ratio: 1 canary pod of 4 gets a quarter.
    let (canary, stable) = lab.by_track("sum by (track) (http_requests_total{app=\"web\"})", now_ms()).await;
    let share = canary / (canary + stable);
    assert!((0.2..=0.3).contains(&share), "canary share {share} (canary {canary}, stable {stable})");
}

#[tokio::test]
async fn without_a_metrics_provider_the_judge_goes_on_health_only() {
    let first = analyze(None, now_ms(), 1, 2).await;
    assert_eq!(first.decision, Decision::Continue);
    assert!(first.reasons[0].starts_with("no metrics provider: judging on health only"), "{:?}", first.reasons);
    assert!(first.reasons[0].contains("metrics: { prometheus:") || first.reasons[0].contains("metrics: {prometheus:"), "names the fix: {:?}", first.reasons);
    assert_eq!(analyze(None, now_ms(), 2, 2).await.decision, Decision::Promote);
}

/// A client of a Prometheus that is not there: a port taken and released.
fn absent_prometheus() -> Arc<dyn gantry_runtime::MetricsBackend> {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    Arc::new(gantry_metrics::Prometheus::new(&format!("http://{closed}"), None, Duration::from_secs(5)).unwrap())
}

#[tokio::test]
async fn an_unreachable_provider_is_judged_again_at_the_next_interval_and_fails_the_last() {
    let metrics: MetricsBackends = Arc::new(BTreeMap::from([("lab".to_string(), absent_prometheus())]));
    let first = analyze_in(env(metrics.clone()), now_ms(), 1, 3).await;
    assert_eq!(first.decision, Decision::Continue, "{:?}", first.reasons);
    assert!(first.reasons[0].contains("metrics not readable this interval") && first.reasons[0].contains("cannot be reached"), "{:?}", first.reasons);
    let last = analyze_in(env(metrics), now_ms(), 3, 3).await;
    assert_eq!(last.decision, Decision::Abort, "{:?}", last.reasons);
    assert!(last.reasons[0].starts_with("cannot judge the canary"), "{:?}", last.reasons);
}

#[tokio::test]
async fn a_call_over_targets_with_different_providers_is_refused_by_the_host() {
    let metrics: MetricsBackends = Arc::new(BTreeMap::from([("a".to_string(), absent_prometheus()), ("b".to_string(), absent_prometheus())]));
    let verdict = analyze_in(env_for(metrics, &["a", "b"]), now_ms(), 1, 3).await;
    assert_eq!(verdict.decision, Decision::Abort, "{:?}", verdict.reasons);
    assert!(verdict.reasons[0].contains("different metrics providers") && verdict.reasons[0].contains("run the stage per target"), "{:?}", verdict.reasons);
}

fn route(canary_weight: u32) -> String {
    format!(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{ name: web, namespace: default, annotations: {{ sim.gantry.dev/traffic: "50" }} }}
spec:
  parentRefs: [ {{ name: gateway }} ]
  rules:
    - backendRefs:
        - {{ name: web, port: 80, weight: {} }}
        - {{ name: web-canary, port: 80, weight: {canary_weight} }}
"#,
        100 - canary_weight
    )
}

#[tokio::test]
async fn httproute_weights_move_the_traffic_share_counted_by_prometheus() {
    let Some(lab) = Lab::start().await else { return };
    lab.apply(&deployment("web", "stable", 2, "")).await;
    lab.apply(&deployment("web-canary", "canary", 1, "")).await;
    lab.apply(&service("web", "app: web, track: stable", "")).await;
    lab.apply(&service("web-canary", "app: web, track: canary", "")).await;
    lab.apply(&route(10)).await;
    lab.wait_for("sum(http_requests_total{app=\"web\",track=\"canary\"})").await;
    let counts = "sum by (track) (http_requests_total{app=\"web\"})";
    let mut shares = Vec::new();
    for weight in [10, 50, 100] {
        lab.apply(&route(weight)).await;
        // Let the previous weight's requests be scraped before counting from here.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let t0 = now_ms();
        let (c0, s0) = lab.by_track(counts, t0).await;
        tokio::time::sleep(Duration::from_secs(8)).await;
        let (c1, s1) = lab.by_track(counts, now_ms()).await;
        let share = 100.0 * (c1 - c0) / ((c1 - c0) + (s1 - s0));
        eprintln!("weight {weight}: canary +{} stable +{} -> {share:.1}%", c1 - c0, s1 - s0);
        shares.push(share);
    }
    assert!((5.0..=15.0).contains(&shares[0]), "weight 10: {shares:?}");
    assert!((42.0..=58.0).contains(&shares[1]), "weight 50: {shares:?}");
    assert!(shares[2] >= 97.0, "weight 100: {shares:?}");
}
