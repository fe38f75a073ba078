//! `fixture-deploy`: a stand-in for a deploy stage in pipeline tests. It
//! upgrade-installs the pipeline's chart as the `track`'s release on its
//! target (`NAME` or `NAME-canary`) with the `values` documents (YAML) and
//! `set` expressions of its settings, and puts in its outputs what the
//! issue-9 contract says a deploy stage records: track, release,
//! namespace, revision and the `undo` entry `builtin:rollback` reads
//! (uninstall a new release, roll an upgraded one back).

use gantry_sdk::cap::{helm, run};
use gantry_sdk::{Failure, Input, Output, Stage};
use serde_json::json;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default = "canary")]
    track: String,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    set: Vec<String>,
}

fn canary() -> String {
    "canary".into()
}

struct Deploy;

impl Stage for Deploy {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let target = input.target.map(|t| t.name).ok_or_else(|| Failure::new("fixture-deploy runs per target"))?;
        let release = run::info().release.ok_or_else(|| Failure::new("the pipeline has no release"))?;
        let s = input.settings;
        let name = match s.track.as_str() {
            "canary" => format!("{}-canary", release.name),
            "stable" => release.name.clone(),
            other => return Err(Failure::new(format!("track `{other}` is not canary or stable"))),
        };
        let before = helm::status(&target, &name, None).map_err(Failure::from)?;
        let options = helm::UpgradeOptions {
            release: name.clone(),
            chart: None,
            namespace: None,
            values: s.values,
            set: s.set,
            set_string: Vec::new(),
            set_json: Vec::new(),
            install: true,
            reuse_values: false,
            reset_values: false,
            wait: false,
            atomic: false,
            timeout_seconds: 0,
            description: None,
        };
        let done = helm::upgrade_install(&target, &options).map_err(Failure::from)?;
        let undo = match before {
            Some(b) => json!({"action": "rollback", "release": name, "revision": b.revision}),
            None => json!({"action": "uninstall", "release": name}),
        };
        Ok(Output::new(format!("{name} revision {} on {target}", done.revision))
            .with("track", &s.track)
            .with("release", &name)
            .with("namespace", &release.namespace)
            .with("revision", done.revision)
            .with("undo", vec![undo]))
    }
}

gantry_sdk::export_stage!(Deploy);
