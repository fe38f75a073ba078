//! `fixture-panic`: panics with a known message. Guests abort on panic, so
//! this is a trap whose message the host must recover from stderr.

use gantry_sdk::serde_json::Value;
use gantry_sdk::{Failure, Input, Output, Stage};

struct Panic;

impl Stage for Panic {
    type Settings = Value;

    fn run(_input: Input<Value>) -> Result<Output, Failure> {
        panic!("fixture panicked on purpose")
    }
}

gantry_sdk::export_stage!(Panic);
