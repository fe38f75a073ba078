//! `fixture-scripted`: a well-behaved stage that does what its settings
//! say — sleep first, log a line, then return `outputs` or fail with `fail`
//! — so pipeline tests can script ordering, outputs and failures.

use gantry_sdk::cap::clock;
use gantry_sdk::{Failure, Input, Output, Stage};

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    sleep_ms: u64,
    #[serde(default)]
    log: Option<String>,
    #[serde(default)]
    outputs: Option<serde_json::Map<String, serde_json::Value>>,
    /// Fail with this message (on every target, or only on `fail_on`).
    #[serde(default)]
    fail: Option<String>,
    #[serde(default)]
    fail_on: Option<String>,
}

struct Scripted;

impl Stage for Scripted {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let s = input.settings;
        if s.sleep_ms > 0 {
            clock::sleep_ms(s.sleep_ms);
        }
        if let Some(line) = &s.log {
            gantry_sdk::info!("{line}");
        }
        let target = input.target.map(|t| t.name);
        if let Some(message) = s.fail {
            if s.fail_on.is_none() || s.fail_on == target {
                return Err(Failure::new(message).hint("scripted failure"));
            }
        }
        let mut out = Output::new("scripted");
        out.outputs = s.outputs.unwrap_or_default();
        Ok(out)
    }
}

gantry_sdk::export_stage!(Scripted);
