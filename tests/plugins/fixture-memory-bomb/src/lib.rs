//! `fixture-memory-bomb`: allocates 1 MiB blocks, writes into every page of
//! each and keeps them all, forever. Proves the memory cap stops it.

use gantry_sdk::serde_json::Value;
use gantry_sdk::{Failure, Input, Output, Stage};

const BLOCK: usize = 1 << 20;
const PAGE: usize = 4096;

struct Hoard;

impl Stage for Hoard {
    type Settings = Value;

    fn run(_input: Input<Value>) -> Result<Output, Failure> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut block = vec![0u8; BLOCK];
            for i in (0..BLOCK).step_by(PAGE) {
                block[i] = 1;
            }
            hoard.push(core::hint::black_box(block));
        }
    }
}

gantry_sdk::export_stage!(Hoard);
