//! One trait per plugin world, the typed values they work with, and the
//! adapters the export macros call. Settings are parsed here, so a plugin
//! never sees raw JSON unless it asks for `serde_json::Value`.

use serde::de::DeserializeOwned;

use crate::bindings::host::gantry::deploy::stage_types::{StageFailure, StageInput, StageOutput};
use crate::types::{
    AnalysisDecision, AnalysisRequest, CapError, CheckReport, CheckRequest, Decision, Health,
    ScanReport, Severity, TargetInfo, Verdict, Violation,
};

/// What a stage gets: its typed settings and the target it runs for.
pub struct Input<S> {
    pub settings: S,
    /// None when the stage runs once for the whole pipeline.
    pub target: Option<TargetInfo>,
}

/// What a stage returns: a summary line and outputs later stages can read.
#[derive(Debug, Clone)]
pub struct Output {
    pub summary: String,
    pub outputs: serde_json::Map<String, serde_json::Value>,
}

impl Output {
    pub fn new(summary: impl Into<String>) -> Self {
        Output { summary: summary.into(), outputs: serde_json::Map::new() }
    }

    /// Add one output value, readable by later stages (and by `on-failure`).
    pub fn with(mut self, key: &str, value: impl serde::Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.outputs.insert(key.to_string(), value);
        self
    }
}

/// Why a stage failed, and what to do about it.
#[derive(Debug, Clone)]
pub struct Failure {
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure { message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl From<CapError> for Failure {
    fn from(e: CapError) -> Self {
        Failure::new(format!("{} {:?}: {}", e.capability, e.kind, e.message))
    }
}

/// A pipeline stage (world `stage`).
pub trait Stage {
    /// The `with:` block. Use `serde_json::Value` to take it as it is.
    type Settings: DeserializeOwned;
    fn run(input: Input<Self::Settings>) -> Result<Output, Failure>;
}

/// A scan policy (world `scan-policy`): pure, decides on a whole report.
pub trait ScanPolicy {
    type Settings: DeserializeOwned;
    fn evaluate(report: &ScanReport, settings: Self::Settings) -> Decision;
}

/// One health evaluation (world `health-check`).
pub trait HealthCheck {
    type Settings: DeserializeOwned;
    fn check(request: &CheckRequest, settings: Self::Settings) -> CheckReport;
}

/// One canary analysis interval (world `canary-analysis`).
pub trait CanaryAnalysis {
    type Settings: DeserializeOwned;
    fn analyze(request: &AnalysisRequest, settings: Self::Settings) -> Verdict;
}

fn parse_settings<S: DeserializeOwned>(json: &str) -> Result<S, String> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    let de = &mut serde_json::Deserializer::from_str(json);
    S::deserialize(de).map_err(|e| format!("bad `with:` settings: {e}"))
}

/// Used by the export macros; not part of the API.
#[doc(hidden)]
pub mod __private {
    use super::*;

    pub fn run_stage<T: Stage>(input: StageInput) -> Result<StageOutput, StageFailure> {
        let settings = parse_settings::<T::Settings>(&input.settings).map_err(|message| {
            StageFailure { message, hint: Some("fix the stage's `with:` block".into()) }
        })?;
        match T::run(Input { settings, target: input.target }) {
            Ok(out) => Ok(StageOutput {
                outputs: serde_json::Value::Object(out.outputs).to_string(),
                summary: out.summary,
            }),
            Err(f) => Err(StageFailure { message: f.message, hint: f.hint }),
        }
    }

    pub fn evaluate<T: ScanPolicy>(report: ScanReport, settings: String) -> Decision {
        match parse_settings::<T::Settings>(&settings) {
            Ok(s) => T::evaluate(&report, s),
            // A policy that cannot read its settings refuses: it fails closed.
            Err(message) => Decision {
                allowed: false,
                violations: vec![Violation {
                    rule: "policy-settings".into(),
                    severity: Severity::Critical,
                    subject: "with".into(),
                    message,
                }],
            },
        }
    }

    pub fn check<T: HealthCheck>(request: CheckRequest) -> CheckReport {
        match parse_settings::<T::Settings>(&request.settings) {
            Ok(s) => T::check(&request, s),
            Err(message) => CheckReport { health: Health::Unhealthy, message, checks: vec![] },
        }
    }

    pub fn analyze<T: CanaryAnalysis>(request: AnalysisRequest) -> Verdict {
        match parse_settings::<T::Settings>(&request.settings) {
            Ok(s) => T::analyze(&request, s),
            Err(message) => {
                Verdict { decision: AnalysisDecision::Abort, score: 0.0, reasons: vec![message] }
            }
        }
    }
}

/// Export a [`Stage`] implementation as the component's `run`.
#[macro_export]
macro_rules! export_stage {
    ($ty:ty) => {
        struct __GantryExport;
        impl $crate::bindings::stage::Guest for __GantryExport {
            fn run(
                input: $crate::bindings::host::gantry::deploy::stage_types::StageInput,
            ) -> ::core::result::Result<
                $crate::bindings::host::gantry::deploy::stage_types::StageOutput,
                $crate::bindings::host::gantry::deploy::stage_types::StageFailure,
            > {
                $crate::__private::run_stage::<$ty>(input)
            }
        }
        $crate::bindings::stage::export_stage_world!(__GantryExport with_types_in $crate::bindings::stage);
    };
}

/// Export a [`ScanPolicy`] implementation as the component's `evaluate`.
#[macro_export]
macro_rules! export_scan_policy {
    ($ty:ty) => {
        struct __GantryExport;
        impl $crate::bindings::scan_policy::Guest for __GantryExport {
            fn evaluate(
                report: $crate::types::ScanReport,
                settings: ::std::string::String,
            ) -> $crate::types::Decision {
                $crate::__private::evaluate::<$ty>(report, settings)
            }
        }
        $crate::bindings::scan_policy::export_scan_policy_world!(__GantryExport with_types_in $crate::bindings::scan_policy);
    };
}

/// Export a [`HealthCheck`] implementation as the component's `check`.
#[macro_export]
macro_rules! export_health_check {
    ($ty:ty) => {
        struct __GantryExport;
        impl $crate::bindings::health_check::Guest for __GantryExport {
            fn check(request: $crate::types::CheckRequest) -> $crate::types::CheckReport {
                $crate::__private::check::<$ty>(request)
            }
        }
        $crate::bindings::health_check::export_health_check_world!(__GantryExport with_types_in $crate::bindings::health_check);
    };
}

/// Export a [`CanaryAnalysis`] implementation as the component's `analyze`.
#[macro_export]
macro_rules! export_canary_analysis {
    ($ty:ty) => {
        struct __GantryExport;
        impl $crate::bindings::canary_analysis::Guest for __GantryExport {
            fn analyze(request: $crate::types::AnalysisRequest) -> $crate::types::Verdict {
                $crate::__private::analyze::<$ty>(request)
            }
        }
        $crate::bindings::canary_analysis::export_canary_analysis_world!(__GantryExport with_types_in $crate::bindings::canary_analysis);
    };
}

#[cfg(test)]
mod tests {
    use super::parse_settings;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Settings {
        #[allow(dead_code)]
        duration: String,
    }

    #[test]
    fn settings_errors_name_the_field() {
        let e = parse_settings::<Settings>("{}").unwrap_err();
        assert!(e.contains("missing field `duration`"), "{e}");
        let e = parse_settings::<Settings>(r#"{"duration":"1m","durration":"2m"}"#).unwrap_err();
        assert!(e.contains("unknown field `durration`"), "{e}");
    }

    #[test]
    fn absent_settings_are_an_empty_object() {
        assert_eq!(parse_settings::<serde_json::Value>("").unwrap(), serde_json::json!({}));
    }
}
