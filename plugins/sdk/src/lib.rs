//! The Gantry plugin SDK: write a pipeline stage, scan policy, health check
//! or canary analysis in Rust as one function.
//!
//! A plugin is a WebAssembly component built for `wasm32-wasip2`. This crate
//! holds the generated bindings of the `gantry:deploy` WIT package (one module
//! per world, sharing the capability interfaces), a trait per world whose one
//! method the author writes, and a macro per world that exports it:
//!
//! ```ignore
//! use gantry_sdk::{Input, Output, Failure};
//!
//! #[derive(serde::Deserialize, Default)]
//! struct Settings { message: String }
//!
//! struct Hello;
//! impl gantry_sdk::Stage for Hello {
//!     type Settings = Settings;
//!     fn run(input: Input<Settings>) -> Result<Output, Failure> {
//!         gantry_sdk::info!("saying {}", input.settings.message);
//!         Ok(Output::new(input.settings.message))
//!     }
//! }
//! gantry_sdk::export_stage!(Hello);
//! ```
//!
//! Settings (the stage's `with:` block) arrive typed through serde; a settings
//! error fails the stage with the field that was wrong. What the plugin calls
//! is what its component imports, and so what the pipeline must grant: the
//! SDK adds no import the author did not use.

pub use serde;
pub use serde_json;

/// Generated bindings, one module per world. The capability interfaces are
/// generated once, in `host`, and shared by every world.
pub mod bindings {
    /// Every interface the host provides (imports only).
    pub mod host {
        wit_bindgen::generate!({
            world: "plugin-host",
            path: "wit",
            pub_export_macro: true,
            generate_all,
        });
    }

    /// The `stage` world.
    pub mod stage {
        wit_bindgen::generate!({
            world: "stage",
            path: "wit",
            with: { "gantry:deploy/types@0.1.0": crate::bindings::host::gantry::deploy::types,
                    "gantry:deploy/log@0.1.0": crate::bindings::host::gantry::deploy::log,
                    "gantry:deploy/clock@0.1.0": crate::bindings::host::gantry::deploy::clock,
                    "gantry:deploy/run@0.1.0": crate::bindings::host::gantry::deploy::run,
                    "gantry:deploy/cluster-read@0.1.0": crate::bindings::host::gantry::deploy::cluster_read,
                    "gantry:deploy/cluster-write@0.1.0": crate::bindings::host::gantry::deploy::cluster_write,
                    "gantry:deploy/helm@0.1.0": crate::bindings::host::gantry::deploy::helm,
                    "gantry:deploy/registry@0.1.0": crate::bindings::host::gantry::deploy::registry,
                    "gantry:deploy/builder@0.1.0": crate::bindings::host::gantry::deploy::builder,
                    "gantry:deploy/scan-types@0.1.0": crate::bindings::host::gantry::deploy::scan_types,
                    "gantry:deploy/scanner@0.1.0": crate::bindings::host::gantry::deploy::scanner,
                    "gantry:deploy/http-probe@0.1.0": crate::bindings::host::gantry::deploy::http_probe,
                    "gantry:deploy/metrics@0.1.0": crate::bindings::host::gantry::deploy::metrics,
                    "gantry:deploy/stage-types@0.1.0": crate::bindings::host::gantry::deploy::stage_types,
            },
            pub_export_macro: true,
            export_macro_name: "export_stage_world",
            default_bindings_module: "gantry_sdk::bindings::stage",
        });
    }

    /// The `scan-policy` world.
    pub mod scan_policy {
        wit_bindgen::generate!({
            world: "scan-policy",
            path: "wit",
            with: { "gantry:deploy/types@0.1.0": crate::bindings::host::gantry::deploy::types,
                    "gantry:deploy/log@0.1.0": crate::bindings::host::gantry::deploy::log,
                    "gantry:deploy/scan-types@0.1.0": crate::bindings::host::gantry::deploy::scan_types,
            },
            pub_export_macro: true,
            export_macro_name: "export_scan_policy_world",
            default_bindings_module: "gantry_sdk::bindings::scan_policy",
        });
    }

    /// The `health-check` world.
    pub mod health_check {
        wit_bindgen::generate!({
            world: "health-check",
            path: "wit",
            with: { "gantry:deploy/types@0.1.0": crate::bindings::host::gantry::deploy::types,
                    "gantry:deploy/log@0.1.0": crate::bindings::host::gantry::deploy::log,
                    "gantry:deploy/clock@0.1.0": crate::bindings::host::gantry::deploy::clock,
                    "gantry:deploy/cluster-read@0.1.0": crate::bindings::host::gantry::deploy::cluster_read,
                    "gantry:deploy/http-probe@0.1.0": crate::bindings::host::gantry::deploy::http_probe,
                    "gantry:deploy/health-types@0.1.0": crate::bindings::host::gantry::deploy::health_types,
            },
            pub_export_macro: true,
            export_macro_name: "export_health_check_world",
            default_bindings_module: "gantry_sdk::bindings::health_check",
        });
    }

    /// The `canary-analysis` world.
    pub mod canary_analysis {
        wit_bindgen::generate!({
            world: "canary-analysis",
            path: "wit",
            with: { "gantry:deploy/types@0.1.0": crate::bindings::host::gantry::deploy::types,
                    "gantry:deploy/log@0.1.0": crate::bindings::host::gantry::deploy::log,
                    "gantry:deploy/clock@0.1.0": crate::bindings::host::gantry::deploy::clock,
                    "gantry:deploy/metrics@0.1.0": crate::bindings::host::gantry::deploy::metrics,
                    "gantry:deploy/cluster-read@0.1.0": crate::bindings::host::gantry::deploy::cluster_read,
                    "gantry:deploy/http-probe@0.1.0": crate::bindings::host::gantry::deploy::http_probe,
                    "gantry:deploy/analysis-types@0.1.0": crate::bindings::host::gantry::deploy::analysis_types,
            },
            pub_export_macro: true,
            export_macro_name: "export_canary_analysis_world",
            default_bindings_module: "gantry_sdk::bindings::canary_analysis",
        });
    }
}

/// The capabilities a plugin may call, each an interface the pipeline grants.
/// `log`, `clock` and `run` are always granted; the rest need a line in the
/// stage's `grants:` (built-ins carry their own).
pub mod cap {
    pub use crate::bindings::host::gantry::deploy::{
        builder, clock, cluster_read, cluster_write, helm, http_probe, log, metrics, registry,
        run, scanner,
    };
}

/// Shared WIT types: errors, targets, scan reports, health and analysis records.
pub mod types {
    pub use crate::bindings::host::gantry::deploy::analysis_types::{
        AnalysisRequest, Decision as AnalysisDecision, Verdict,
    };
    pub use crate::bindings::host::gantry::deploy::health_types::{
        CheckReport, CheckRequest, CheckResult, Health, Track,
    };
    pub use crate::bindings::host::gantry::deploy::scan_types::{
        Decision, ImageFacts, Package, ScanReport, SecretFinding, Severity, Violation,
        Vulnerability,
    };
    pub use crate::bindings::host::gantry::deploy::types::{
        CapError, ErrorKind, ImageInfo, ObjectRef, Pair, ReleaseInfo, TargetInfo, TargetKind,
    };
}

impl types::ErrorKind {
    /// The kind as the contract spells it: `denied`, `not-found`, …
    pub fn name(self) -> &'static str {
        use types::ErrorKind as K;
        match self {
            K::Unsupported => "unsupported",
            K::Denied => "denied",
            K::Invalid => "invalid",
            K::NotFound => "not-found",
            K::Conflict => "conflict",
            K::Unavailable => "unavailable",
            K::Timeout => "timeout",
            K::Failed => "failed",
        }
    }
}

mod log_helpers;
mod worlds;

pub use log_helpers::{emit, progress, Level};
pub use worlds::{
    CanaryAnalysis, Failure, HealthCheck, Input, Output, ScanPolicy, Stage, __private,
};

