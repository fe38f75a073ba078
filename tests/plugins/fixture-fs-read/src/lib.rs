//! `fixture-fs-read`: reads the host file its settings name with
//! `std::fs`. It returns the contents when it can, so a breach of the
//! sandbox's "no filesystem" would show in the outputs.

use gantry_sdk::{Failure, Input, Output, Stage};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    path: String,
}

struct FsRead;

impl Stage for FsRead {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let path = input.settings.path;
        match std::fs::read_to_string(&path) {
            Ok(contents) => Ok(Output::new("read a host file").with("contents", contents)),
            Err(e) => Err(Failure::new(format!("could not read {path}: {e}"))),
        }
    }
}

gantry_sdk::export_stage!(FsRead);
