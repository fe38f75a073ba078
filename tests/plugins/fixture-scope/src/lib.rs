//! `fixture-scope`: calls `cluster-read.get` on the target its settings
//! name and returns the error kind it got as the output `kind` (`Ok` when
//! the call succeeded). Proves a target outside the stage is denied.

use gantry_sdk::cap::cluster_read;
use gantry_sdk::types::{ErrorKind, ObjectRef};
use gantry_sdk::{Failure, Input, Output, Stage};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    target: String,
}

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unsupported => "Unsupported",
        ErrorKind::Denied => "Denied",
        ErrorKind::Invalid => "Invalid",
        ErrorKind::NotFound => "NotFound",
        ErrorKind::Conflict => "Conflict",
        ErrorKind::Unavailable => "Unavailable",
        ErrorKind::Timeout => "Timeout",
        ErrorKind::Failed => "Failed",
    }
}

struct Scope;

impl Stage for Scope {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let object = ObjectRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: None,
            name: "app".into(),
        };
        match cluster_read::get(&input.settings.target, &object) {
            Ok(_) => Ok(Output::new("got the object").with("kind", "Ok")),
            Err(e) => Ok(Output::new(e.message.clone()).with("kind", kind_name(e.kind)).with("message", e.message)),
        }
    }
}

gantry_sdk::export_stage!(Scope);
