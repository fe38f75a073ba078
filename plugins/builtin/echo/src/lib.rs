//! `builtin:echo`: writes its `message` into the run log and returns it as
//! the output `message` — the pipeline's `echo` step, for annotations and
//! for checking what `${VAR}` expanded to. Imports nothing but `log`.

use gantry_sdk::{Failure, Input, Output, Stage};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    message: String,
}

struct Echo;

impl Stage for Echo {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let message = input.settings.message;
        match &input.target {
            Some(t) => gantry_sdk::info!("[{}] {}", t.name, message),
            None => gantry_sdk::info!("{}", message),
        }
        Ok(Output::new(message.clone()).with("message", message))
    }
}

gantry_sdk::export_stage!(Echo);
