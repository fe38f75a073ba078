//! `fixture-ungranted`: calls `helm.status`, so its component imports
//! `gantry:deploy/helm`. Proves grants are read from imports before it runs.

use gantry_sdk::cap::helm;
use gantry_sdk::serde_json::Value;
use gantry_sdk::{Failure, Input, Output, Stage};

struct Ungranted;

impl Stage for Ungranted {
    type Settings = Value;

    fn run(_input: Input<Value>) -> Result<Output, Failure> {
        let status = helm::status("aws", "app", None)?;
        Ok(Output::new("asked helm").with("found", status.is_some()))
    }
}

gantry_sdk::export_stage!(Ungranted);
