//! A timing hook around the backends the runtime calls: [`Timed`] wraps a
//! [`ClusterBackend`], [`HelmBackend`], [`ImageBackend`] or [`ScanBackend`]
//! in a type implementing the same trait, and a shared [`Meter`] adds up how
//! long calls to them took — per kind, and as *busy time*: the wall time
//! during which at least one call was in flight, so calls to two targets at
//! once count once. Stage wall time minus busy time is what the host spent
//! on its own (instantiating and running plugins, the engine's
//! bookkeeping); the pipeline benchmark (`tests/benches/pipeline.rs`) reads
//! it at every stage's start and end. This file only measures: it must not
//! change a call's arguments, answer or error, nor log anything.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bindings::wit::scan_types::{Decision, ScanReport};
use crate::cluster::{ApplyOptions, BackendResult, ClusterBackend, Clusters, EventInfo, ListQuery, LogQuery, ObjectKey, PodInfo, PodProbe, ProbeAnswer, Propagation, Rollout, ServiceProbe};
use crate::metrics::{MetricSeries, MetricsBackend, MetricsBackends};
use crate::context::LogSink;
use crate::helm::{HelmBackend, HelmBackends, HelmRelease, HelmUpgrade};
use crate::images::{BuiltImage, ImageBackend, ImageBackendRef, ImageBuild, ImageFacts, LayerInfo};
use crate::scan::{ScanBackend, ScanBackendRef};

/// What a [`Meter`] has measured so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// Wall time with at least one call in flight (up to the reading).
    pub busy: Duration,
    /// Calls finished, and their summed durations, by backend kind
    /// (`cluster`, `helm`, `images`, `scan`).
    pub calls: BTreeMap<&'static str, (u64, Duration)>,
}

impl Reading {
    /// Busy time between an earlier reading and this one.
    pub fn busy_since(&self, earlier: &Reading) -> Duration {
        self.busy.saturating_sub(earlier.busy)
    }

    /// Calls finished between an earlier reading and this one.
    pub fn calls_since(&self, earlier: &Reading) -> u64 {
        let count = |r: &Reading| r.calls.values().map(|(n, _)| n).sum::<u64>();
        count(self).saturating_sub(count(earlier))
    }
}

#[derive(Default)]
struct State {
    in_flight: u32,
    busy_since: Option<Instant>,
    busy: Duration,
    calls: BTreeMap<&'static str, (u64, Duration)>,
}

/// Adds up the time spent in backend calls; shared by every [`Timed`] of a run.
#[derive(Default)]
pub struct Meter {
    state: Mutex<State>,
}

impl Meter {
    pub fn new() -> Arc<Meter> {
        Arc::new(Meter::default())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the counters half-written
        // in a way that matters for a measurement: take the data as it is.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The totals now (an interval still in flight counts up to now).
    pub fn reading(&self) -> Reading {
        let s = self.lock();
        let open = s.busy_since.map_or(Duration::ZERO, |since| since.elapsed());
        Reading { busy: s.busy + open, calls: s.calls.clone() }
    }

    /// Start timing one call of `kind`; it ends when the guard is dropped
    /// (answered, failed or cancelled).
    fn start(self: &Arc<Meter>, kind: &'static str) -> CallGuard {
        let now = Instant::now();
        let mut s = self.lock();
        if s.in_flight == 0 {
            s.busy_since = Some(now);
        }
        s.in_flight += 1;
        CallGuard { meter: self.clone(), kind, started: now }
    }
}

struct CallGuard {
    meter: Arc<Meter>,
    kind: &'static str,
    started: Instant,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut s = self.meter.lock();
        let entry = s.calls.entry(self.kind).or_default();
        entry.0 += 1;
        entry.1 += now - self.started;
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0 {
            if let Some(since) = s.busy_since.take() {
                s.busy += now - since;
            }
        }
    }
}

/// A backend whose every call is timed on `meter`.
pub struct Timed<T: ?Sized> {
    inner: Arc<T>,
    meter: Arc<Meter>,
}

impl<T: ?Sized> Timed<T> {
    pub fn new(inner: Arc<T>, meter: Arc<Meter>) -> Timed<T> {
        Timed { inner, meter }
    }
}

/// Every target's cluster backend, timed.
pub fn clusters(clusters: &Clusters, meter: &Arc<Meter>) -> Clusters {
    let timed = clusters.iter().map(|(name, b)| {
        let b: Arc<dyn ClusterBackend> = Arc::new(Timed::new(b.clone(), meter.clone()));
        (name.clone(), b)
    });
    Arc::new(timed.collect())
}

/// Every target's Helm backend, timed.
pub fn helm(helm: &HelmBackends, meter: &Arc<Meter>) -> HelmBackends {
    let timed = helm.iter().map(|(name, b)| {
        let b: Arc<dyn HelmBackend> = Arc::new(Timed::new(b.clone(), meter.clone()));
        (name.clone(), b)
    });
    Arc::new(timed.collect())
}

/// The run's image backend, timed.
pub fn images(images: &ImageBackendRef, meter: &Arc<Meter>) -> ImageBackendRef {
    images.as_ref().map(|b| Arc::new(Timed::new(b.clone(), meter.clone())) as Arc<dyn ImageBackend>)
}

/// The run's scan backend, timed.
pub fn scanner(scanner: &ScanBackendRef, meter: &Arc<Meter>) -> ScanBackendRef {
    scanner.as_ref().map(|b| Arc::new(Timed::new(b.clone(), meter.clone())) as Arc<dyn ScanBackend>)
}

/// Every target's metrics provider, timed.
pub fn metrics(metrics: &MetricsBackends, meter: &Arc<Meter>) -> MetricsBackends {
    let timed = metrics.iter().map(|(name, b)| {
        let b: Arc<dyn MetricsBackend> = Arc::new(Timed::new(b.clone(), meter.clone()));
        (name.clone(), b)
    });
    Arc::new(timed.collect())
}

#[async_trait::async_trait]
impl MetricsBackend for Timed<dyn MetricsBackend> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn query_range(&self, query: &str, start_ms: u64, end_ms: u64, step_ms: u64) -> BackendResult<Vec<MetricSeries>> {
        let _t = self.meter.start("metrics");
        self.inner.query_range(query, start_ms, end_ms, step_ms).await
    }
    async fn query(&self, query: &str, at_ms: u64) -> BackendResult<Vec<MetricSeries>> {
        let _t = self.meter.start("metrics");
        self.inner.query(query, at_ms).await
    }
}

#[async_trait::async_trait]
impl ClusterBackend for Timed<dyn ClusterBackend> {
    async fn get(&self, object: &ObjectKey) -> BackendResult<Value> {
        let _t = self.meter.start("cluster");
        self.inner.get(object).await
    }
    async fn list(&self, api_version: &str, kind: &str, namespace: &str, query: &ListQuery) -> BackendResult<Vec<Value>> {
        let _t = self.meter.start("cluster");
        self.inner.list(api_version, kind, namespace, query).await
    }
    async fn apply(&self, manifest: &Value, options: ApplyOptions) -> BackendResult<Value> {
        let _t = self.meter.start("cluster");
        self.inner.apply(manifest, options).await
    }
    async fn delete(&self, object: &ObjectKey, propagation: Propagation) -> BackendResult<()> {
        let _t = self.meter.start("cluster");
        self.inner.delete(object, propagation).await
    }
    async fn scale(&self, object: &ObjectKey, replicas: u32) -> BackendResult<()> {
        let _t = self.meter.start("cluster");
        self.inner.scale(object, replicas).await
    }
    async fn rollout(&self, object: &ObjectKey) -> BackendResult<Rollout> {
        let _t = self.meter.start("cluster");
        self.inner.rollout(object).await
    }
    async fn pods(&self, namespace: &str, label_selector: &str) -> BackendResult<Vec<PodInfo>> {
        let _t = self.meter.start("cluster");
        self.inner.pods(namespace, label_selector).await
    }
    async fn events(&self, object: &ObjectKey) -> BackendResult<Vec<EventInfo>> {
        let _t = self.meter.start("cluster");
        self.inner.events(object).await
    }
    async fn logs(&self, namespace: &str, pod: &str, query: &LogQuery) -> BackendResult<String> {
        let _t = self.meter.start("cluster");
        self.inner.logs(namespace, pod, query).await
    }
    async fn probe_service(&self, probe: &ServiceProbe) -> BackendResult<ProbeAnswer> {
        let _t = self.meter.start("cluster");
        self.inner.probe_service(probe).await
    }
    async fn probe_pod(&self, probe: &PodProbe) -> BackendResult<ProbeAnswer> {
        let _t = self.meter.start("cluster");
        self.inner.probe_pod(probe).await
    }
}

#[async_trait::async_trait]
impl HelmBackend for Timed<dyn HelmBackend> {
    async fn upgrade_install(&self, request: &HelmUpgrade) -> BackendResult<HelmRelease> {
        let _t = self.meter.start("helm");
        self.inner.upgrade_install(request).await
    }
    async fn uninstall(&self, release: &str, namespace: &str, keep_history: bool) -> BackendResult<()> {
        let _t = self.meter.start("helm");
        self.inner.uninstall(release, namespace, keep_history).await
    }
    async fn rollback(&self, release: &str, namespace: &str, revision: u32, wait: bool, timeout_seconds: u32) -> BackendResult<HelmRelease> {
        let _t = self.meter.start("helm");
        self.inner.rollback(release, namespace, revision, wait, timeout_seconds).await
    }
    async fn status(&self, release: &str, namespace: &str) -> BackendResult<Option<HelmRelease>> {
        let _t = self.meter.start("helm");
        self.inner.status(release, namespace).await
    }
    async fn history(&self, release: &str, namespace: &str, max: u32) -> BackendResult<Vec<HelmRelease>> {
        let _t = self.meter.start("helm");
        self.inner.history(release, namespace, max).await
    }
    async fn template(&self, request: &HelmUpgrade) -> BackendResult<Vec<(String, String)>> {
        let _t = self.meter.start("helm");
        self.inner.template(request).await
    }
}

#[async_trait::async_trait]
impl ImageBackend for Timed<dyn ImageBackend> {
    async fn resolve(&self, reference: &str) -> BackendResult<String> {
        let _t = self.meter.start("images");
        self.inner.resolve(reference).await
    }
    async fn config(&self, reference: &str) -> BackendResult<ImageFacts> {
        let _t = self.meter.start("images");
        self.inner.config(reference).await
    }
    async fn layers(&self, reference: &str) -> BackendResult<Vec<LayerInfo>> {
        let _t = self.meter.start("images");
        self.inner.layers(reference).await
    }
    async fn copy(&self, source: &str, destination: &str) -> BackendResult<String> {
        let _t = self.meter.start("images");
        self.inner.copy(source, destination).await
    }
    async fn build(&self, request: &ImageBuild, log: LogSink) -> BackendResult<BuiltImage> {
        let _t = self.meter.start("images");
        self.inner.build(request, log).await
    }
}

#[async_trait::async_trait]
impl ScanBackend for Timed<dyn ScanBackend> {
    async fn scan(&self, run_id: &str, reference: &str, secrets: bool, skip_vulnerabilities: bool) -> BackendResult<ScanReport> {
        let _t = self.meter.start("scan");
        self.inner.scan(run_id, reference, secrets, skip_vulnerabilities).await
    }
    async fn saved_reports(&self, run_id: &str, digest: &str) -> Vec<String> {
        let _t = self.meter.start("scan");
        self.inner.saved_reports(run_id, digest).await
    }
    async fn sbom(&self, reference: &str, format: &str) -> BackendResult<String> {
        let _t = self.meter.start("scan");
        self.inner.sbom(reference, format).await
    }
    async fn evaluate(&self, report: ScanReport, policy: &str, settings: &str) -> BackendResult<Decision> {
        let _t = self.meter.start("scan");
        self.inner.evaluate(report, policy, settings).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_calls_count_once_as_busy_time_and_each_as_a_call() {
        let meter = Meter::new();
        let a = meter.start("cluster");
        let b = meter.start("helm");
        std::thread::sleep(Duration::from_millis(5));
        drop(a);
        drop(b);
        let r = meter.reading();
        let (cluster, helm) = (r.calls["cluster"], r.calls["helm"]);
        assert_eq!((cluster.0, helm.0), (1, 1));
        assert!(r.busy <= cluster.1 + helm.1, "{r:?}");
        assert!(r.busy >= cluster.1.max(helm.1), "one interval spans both calls: {r:?}");
        assert_eq!(r.calls_since(&Reading::default()), 2);
    }

    #[test]
    fn a_reading_counts_the_call_in_flight_up_to_now() {
        let meter = Meter::new();
        let _a = meter.start("scan");
        std::thread::sleep(Duration::from_millis(2));
        let first = meter.reading();
        assert!(first.busy > Duration::ZERO && first.calls.is_empty(), "{first:?}");
        assert!(meter.reading().busy_since(&first) <= meter.reading().busy);
    }
}
