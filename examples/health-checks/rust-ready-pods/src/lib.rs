//! A health check in Rust (world `health-check`), built with the gantry SDK:
//! the checked release has at least `min-ready` pods (default 1) and every
//! pod of it is ready. A pod that will not get ready by waiting — a
//! container in `CrashLoopBackOff`, `ImagePullBackOff`, `ErrImagePull` or
//! `CreateContainerConfigError` — is unhealthy at once; otherwise it is
//! progressing until the pods are ready, and the host evaluates again.
//!
//! Build: `cargo build --release --target wasm32-wasip2`; use it as a stage:
//! `{ name: health-check-canary, uses: examples/health-checks/rust-ready-pods/target/wasm32-wasip2/release/rust_ready_pods.wasm,
//!    grants: [cluster-read], with: { min-ready: 1, interval: 2s } }`.

use gantry_sdk::cap::cluster_read;
use gantry_sdk::types::{CheckReport, CheckRequest, CheckResult, Health};
use gantry_sdk::HealthCheck;
use serde::Deserialize;

/// Waiting reasons no amount of waiting fixes.
const STUCK: [&str; 4] = ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError"];

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Settings {
    #[serde(default = "one")]
    min_ready: u32,
}

struct ReadyPods;

fn report(health: Health, passed: bool, message: String) -> CheckReport {
    CheckReport { health, message: message.clone(), checks: vec![CheckResult { name: "ready-pods".into(), passed, message, latency_ms: None }] }
}

impl HealthCheck for ReadyPods {
    type Settings = Settings;

    fn check(request: &CheckRequest, settings: Settings) -> CheckReport {
        let selector = format!("app.kubernetes.io/instance={}", request.release);
        let pods = match cluster_read::pods(&request.target.name, None, &selector) {
            Ok(p) => p,
            Err(e) => return report(Health::Unhealthy, false, format!("cannot list the pods of {}: {}", request.release, e.message)),
        };
        for pod in &pods {
            for c in &pod.containers {
                if let Some(reason) = c.reason.as_deref().filter(|r| STUCK.contains(r)) {
                    return report(Health::Unhealthy, false, format!("pod {} container {} is stuck in {reason}", pod.name, c.name));
                }
            }
        }
        let ready = pods.iter().filter(|p| p.ready).count() as u32;
        let message = format!("{ready} of {} pods of {} ready (min-ready {})", pods.len(), request.release, settings.min_ready);
        if ready >= settings.min_ready && ready as usize == pods.len() {
            report(Health::Healthy, true, message)
        } else {
            report(Health::Progressing, false, message)
        }
    }
}

gantry_sdk::export_health_check!(ReadyPods);
