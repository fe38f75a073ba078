//! `fixture-loop`: spins forever in pure guest code, never calling the host.
//! Proves the epoch deadline stops a guest that never yields.

use gantry_sdk::serde_json::Value;
use gantry_sdk::{Failure, Input, Output, Stage};

struct Spin;

impl Stage for Spin {
    type Settings = Value;

    fn run(_input: Input<Value>) -> Result<Output, Failure> {
        let mut n: u64 = 0;
        loop {
            // black_box keeps the optimiser from proving the loop pointless.
            n = core::hint::black_box(n.wrapping_add(1));
        }
    }
}

gantry_sdk::export_stage!(Spin);
