//! `fixture-sleep`: sleeps as long as its settings say — through
//! `clock.sleep-ms`, or with `"wasi": true` through `std::thread::sleep`
//! (a WASI poll the host awaits). Proves neither kind of host-side wait
//! outlives the deadline or a cancelled run.

use std::time::Duration;

use gantry_sdk::cap::clock;
use gantry_sdk::{Failure, Input, Output, Stage};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    ms: u64,
    #[serde(default)]
    wasi: bool,
}

struct Sleep;

impl Stage for Sleep {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        if input.settings.wasi {
            std::thread::sleep(Duration::from_millis(input.settings.ms));
        } else {
            clock::sleep_ms(input.settings.ms);
        }
        Ok(Output::new("woke up"))
    }
}

gantry_sdk::export_stage!(Sleep);
