//! `fixture-env`: returns every environment variable it can see as the
//! output `vars`. Proves the host's environment does not reach plugins.

use gantry_sdk::serde_json::{Map, Value};
use gantry_sdk::{Failure, Input, Output, Stage};

struct Env;

impl Stage for Env {
    type Settings = Value;

    fn run(_input: Input<Value>) -> Result<Output, Failure> {
        let vars: Map<String, Value> = std::env::vars().map(|(k, v)| (k, Value::String(v))).collect();
        Ok(Output::new(format!("{} environment variables", vars.len())).with("vars", vars))
    }
}

gantry_sdk::export_stage!(Env);
