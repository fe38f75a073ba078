//! `metrics`: PromQL against the metrics provider of the call's target (the
//! pipeline's `metrics:`, or the target's own, winning), through the run's
//! [`MetricsBackend`]s. The call's target is the stage's one target; a stage
//! running once over several targets may query only when they share one
//! provider. A target without a provider answers `unavailable` naming the
//! fix; bad arguments (empty query, end before start, zero step) are
//! `invalid`. Never a fake success. This file converts between WIT and the
//! backend's types; it must not talk to a provider itself, nor parse PromQL.

use std::sync::Arc;

use crate::bindings::wit::metrics::{Host, Sample, Series};
use crate::bindings::wit::types::{CapError, ErrorKind, Pair};
use crate::caps::cluster::run;
use crate::caps::tri;
use crate::metrics::{MetricSeries, MetricsBackend};
use crate::sandbox::HostState;

type Answer<T> = wasmtime::Result<Result<T, CapError>>;

const METRICS: &str = "metrics";

/// The most points one range query may ask for (Prometheus' own limit is 11,000 per series).
const MAX_POINTS: u64 = 11_000;

fn invalid(message: String) -> CapError {
    CapError { kind: ErrorKind::Invalid, capability: METRICS.to_string(), message }
}

fn no_provider(targets: &[String]) -> CapError {
    CapError {
        kind: ErrorKind::Unavailable,
        capability: METRICS.to_string(),
        message: format!(
            "target {} has no metrics provider: add `metrics: {{prometheus: http://HOST:9090}}` at the top of the pipeline file or under `targets.<name>.metrics`",
            targets.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
        ),
    }
}

impl HostState {
    /// The provider of the call's target(s); `unavailable` when there is none.
    fn metrics_backend(&self, call: &str) -> Result<Arc<dyn MetricsBackend>, CapError> {
        let targets = &self.env.scope.targets;
        let mut found: Option<Arc<dyn MetricsBackend>> = None;
        for t in targets {
            let Some(b) = self.env.metrics.get(t) else { return Err(no_provider(std::slice::from_ref(t))) };
            match &found {
                Some(f) if f.describe() != b.describe() => {
                    let e = invalid(format!("`{METRICS}.{call}` from a stage that runs once over targets with different metrics providers ({} and {}): run the stage per target", f.describe(), b.describe()));
                    return Err(self.deny(&format!("{METRICS}.{call}"), e));
                }
                _ => found = Some(b.clone()),
            }
        }
        found.ok_or_else(|| no_provider(targets))
    }
}

fn to_wit(series: Vec<MetricSeries>) -> Vec<Series> {
    series
        .into_iter()
        .map(|s| Series {
            labels: s.labels.into_iter().map(|(key, value)| Pair { key, value }).collect(),
            samples: s.samples.into_iter().map(|p| Sample { timestamp_ms: p.timestamp_ms, value: p.value }).collect(),
        })
        .collect()
}

impl Host for HostState {
    async fn query_range(&mut self, query: String, start_ms: u64, end_ms: u64, step_ms: u64) -> Answer<Vec<Series>> {
        if query.trim().is_empty() {
            return Ok(Err(invalid("`metrics.query-range` got an empty query: pass PromQL such as `sum(rate(http_requests_total[1m]))`".into())));
        }
        if end_ms < start_ms || step_ms == 0 {
            return Ok(Err(invalid(format!("`metrics.query-range` needs start <= end and a step above 0 (got start {start_ms}, end {end_ms}, step {step_ms} ms)"))));
        }
        if (end_ms - start_ms) / step_ms + 1 > MAX_POINTS {
            return Ok(Err(invalid(format!("`metrics.query-range` asks for {} points per series, more than {MAX_POINTS}: raise the step", (end_ms - start_ms) / step_ms + 1))));
        }
        let b = tri!(self.metrics_backend("query-range"));
        tracing::debug!(provider = %b.describe(), %query, start_ms, end_ms, step_ms, "metrics range query");
        Ok(run(self, METRICS, async move { b.query_range(&query, start_ms, end_ms, step_ms).await }).await.map(to_wit))
    }

    async fn query(&mut self, query: String, at_ms: u64) -> Answer<Vec<Series>> {
        if query.trim().is_empty() {
            return Ok(Err(invalid("`metrics.query` got an empty query: pass PromQL such as `sum(rate(http_requests_total[1m]))`".into())));
        }
        let b = tri!(self.metrics_backend("query"));
        tracing::debug!(provider = %b.describe(), %query, at_ms, "metrics instant query");
        Ok(run(self, METRICS, async move { b.query(&query, at_ms).await }).await.map(to_wit))
    }
}
