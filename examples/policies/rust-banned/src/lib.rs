//! A scan policy in Rust (world `scan-policy`): denies an image that
//! contains any package named in the settings' `banned` list, whatever its
//! ecosystem or version — e.g. `{"banned": ["log4j-core", "event-stream"]}`.
//! A name may carry a version, `name@version`, to ban one release only.
//!
//! Build: `cargo build --release --target wasm32-wasip2`; use as
//! `policy: examples/policies/rust-banned/target/wasm32-wasip2/release/rust_banned.wasm`.

use gantry_sdk::types::{Decision, ScanReport, Severity, Violation};
use gantry_sdk::ScanPolicy;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    banned: Vec<String>,
}

struct Banned;

impl ScanPolicy for Banned {
    type Settings = Settings;

    fn evaluate(report: &ScanReport, settings: Settings) -> Decision {
        let mut violations = Vec::new();
        for p in &report.packages {
            let hit = settings.banned.iter().find(|b| match b.split_once('@') {
                Some((name, version)) => *name == p.name && version == p.version,
                None => **b == p.name,
            });
            if let Some(rule) = hit {
                violations.push(Violation {
                    rule: "banned-package".into(),
                    severity: Severity::Critical,
                    subject: p.purl.clone(),
                    message: format!("{} {} ({}) is banned by `{rule}`; remove it from the image", p.name, p.version, p.ecosystem),
                });
            }
        }
        if !violations.is_empty() {
            gantry_sdk::info!("rust-banned: {} banned package(s)", violations.len());
        }
        Decision { allowed: violations.is_empty(), violations }
    }
}

gantry_sdk::export_scan_policy!(Banned);
