//! `fixture-log-flood`: logs through the `log` interface forever. Proves
//! the log budget stops a plugin that would fill the run log.

use gantry_sdk::serde_json::Value;
use gantry_sdk::{Failure, Input, Output, Stage};

struct Flood;

impl Stage for Flood {
    type Settings = Value;

    fn run(_input: Input<Value>) -> Result<Output, Failure> {
        let mut n: u64 = 0;
        loop {
            gantry_sdk::info!("log flood line {n}: the quick brown fox jumps over the lazy dog");
            n = n.wrapping_add(1);
        }
    }
}

gantry_sdk::export_stage!(Flood);
