//! The Prometheus client against a real Prometheus scraping a simulated
//! cluster whose simulated users call a Service: range and instant queries
//! return the pods' series, scalars, NaN and infinities come back as values,
//! a malformed query comes back as Prometheus' own `bad_data` message naming
//! the query, and a Prometheus that is not there is `unreachable`.

use std::time::Duration;

use gantry_metrics::{MetricsError, Prometheus};

use crate::common::{deployment, now_ms, service, Lab};

#[tokio::test]
async fn range_and_instant_queries_read_the_simulated_pods_series() {
    let Some(lab) = Lab::start().await else { return };
    lab.apply(&deployment("web", "stable", 2, "")).await;
    lab.apply(&service("web", "app: web", "sim.gantry.dev/traffic: \"20\"")).await;
    lab.wait_for("sum(http_requests_total{app=\"web\"})").await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let now = now_ms();
    let instant = lab.client.query("sum by (pod, track) (http_requests_total{app=\"web\",namespace=\"default\"})", now).await.unwrap();
    assert_eq!(instant.len(), 2, "one series per pod: {instant:?}");
    for s in &instant {
        assert!(s.labels.iter().any(|(k, v)| k == "track" && v == "stable"), "{s:?}");
        assert_eq!(s.samples.len(), 1);
        assert!(s.samples[0].value > 0.0, "{s:?}");
        assert!(s.samples[0].timestamp_ms.abs_diff(now) <= 1, "the instant asked for: {s:?}");
    }
    let range = lab.client.query_range("sum(rate(http_requests_total{app=\"web\"}[3s]))", now - 4_000, now, 1_000).await.unwrap();
    assert_eq!(range.len(), 1, "{range:?}");
    assert!(range[0].samples.len() >= 2, "several steps: {range:?}");
    let steps: Vec<u64> = range[0].samples.iter().map(|p| p.timestamp_ms).collect();
    assert!(steps.windows(2).all(|w| w[1] - w[0] == 1_000), "one sample per step: {steps:?}");
    assert!(range[0].samples.iter().all(|p| p.value > 0.0), "traffic at every step: {range:?}");

    let scalar = lab.client.query("scalar(vector(2)) * 3", now).await.unwrap();
    assert_eq!((scalar[0].labels.len(), scalar[0].samples[0].value), (0, 6.0));
    let inf = lab.client.query("vector(1) / vector(0)", now).await.unwrap();
    assert_eq!(inf[0].samples[0].value, f64::INFINITY);
    let nan = lab.client.query("vector(0) / vector(0)", now).await.unwrap();
    assert!(nan[0].samples[0].value.is_nan());
}

#[tokio::test]
async fn prometheus_errors_name_the_query_and_its_message() {
    let Some(lab) = Lab::start().await else { return };
    let e = lab.client.query("sum(rate(http_requests_total[1m]", now_ms()).await.unwrap_err();
    let MetricsError::BadQuery { query, message, .. } = &e else { panic!("{e:?}") };
    assert_eq!(query, "sum(rate(http_requests_total[1m]");
    assert!(message.contains("parse error"), "Prometheus' own message: {message}");
    assert!(e.to_string().contains(&lab.prometheus.url()), "{e}");
    let e = lab.client.query_range("up", now_ms(), now_ms() - 10_000, 1_000).await.unwrap_err();
    assert!(matches!(e, MetricsError::BadQuery { .. }), "end before start is Prometheus' bad_data: {e:?}");

    // Nothing listens on a port the lab took and released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let gone = Prometheus::new(&format!("http://{closed}"), None, Duration::from_secs(5)).unwrap();
    let e = gone.query("up", now_ms()).await.unwrap_err();
    assert!(matches!(e, MetricsError::Unreachable { .. }), "{e:?}");
    assert_eq!(e.kind(), gantry_runtime::cluster::BackendErrorKind::Unavailable);
}
