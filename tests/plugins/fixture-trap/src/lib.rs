//! `fixture-trap`: executes the wasm `unreachable` instruction. Proves a raw
//! trap becomes a `CallError::Trap`, not a host crash.

use gantry_sdk::serde_json::Value;
use gantry_sdk::{Failure, Input, Output, Stage};

struct Trap;

impl Stage for Trap {
    type Settings = Value;

    fn run(_input: Input<Value>) -> Result<Output, Failure> {
        core::arch::wasm32::unreachable()
    }
}

gantry_sdk::export_stage!(Trap);
