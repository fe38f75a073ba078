//! `fixture-roundtrip`: calls `clock.now-ms` `n` times and returns the last
//! value — the benchmark of one guest → host → guest import call.

use gantry_sdk::cap::clock;
use gantry_sdk::{Failure, Input, Output, Stage};

#[derive(serde::Deserialize)]
struct Settings {
    n: u64,
}

struct Roundtrip;

impl Stage for Roundtrip {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let mut last = 0;
        for _ in 0..input.settings.n {
            last = core::hint::black_box(clock::now_ms());
        }
        Ok(Output::new("done").with("last", last))
    }
}

gantry_sdk::export_stage!(Roundtrip);
