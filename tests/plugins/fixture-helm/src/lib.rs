//! `fixture-helm`: makes the `helm` capability calls its settings list, in
//! order (`upgrade-install`, `status`, `history`, `rollback`, `uninstall`,
//! `template`), and returns each answer (or error kind and message) as the
//! output `results`, so pipeline tests see what a plugin sees. A call's
//! `target` of `self` (the default) means the stage's own target.

use gantry_sdk::cap::helm;
use gantry_sdk::types::CapError;
use gantry_sdk::{Failure, Input, Output, Stage};
use serde_json::{json, Value};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    op: String,
    #[serde(default = "self_target")]
    target: String,
    release: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    chart: Option<String>,
    #[serde(default)]
    set: Vec<String>,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    install: Option<bool>,
    #[serde(default)]
    revision: u32,
    #[serde(default)]
    max: u32,
    #[serde(default)]
    keep_history: bool,
}

fn self_target() -> String {
    "self".into()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    calls: Vec<Call>,
}


fn err(e: CapError) -> Value {
    json!({"error": e.kind.name(), "message": e.message})
}

fn release(r: &helm::ReleaseStatus) -> Value {
    json!({"name": r.name, "namespace": r.namespace, "revision": r.revision, "status": r.status, "chart": r.chart,
           "app_version": r.app_version, "updated": r.updated, "description": r.description})
}

struct Helm;

impl Stage for Helm {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let own = input.target.map(|t| t.name).unwrap_or_default();
        let mut results = Vec::new();
        for call in input.settings.calls {
            let target = if call.target == "self" { own.clone() } else { call.target.clone() };
            let options = helm::UpgradeOptions {
                release: call.release.clone(),
                chart: call.chart.clone(),
                namespace: call.namespace.clone(),
                values: call.values.clone(),
                set: call.set.clone(),
                set_string: Vec::new(),
                set_json: Vec::new(),
                install: call.install.unwrap_or(true),
                reuse_values: false,
                reset_values: false,
                wait: false,
                atomic: false,
                timeout_seconds: 0,
                description: None,
            };
            let ns = call.namespace.as_deref();
            let answer = match call.op.as_str() {
                "upgrade-install" => helm::upgrade_install(&target, &options).map(|r| release(&r)).unwrap_or_else(err),
                "status" => helm::status(&target, &call.release, ns).map(|r| r.as_ref().map(release).unwrap_or(Value::Null)).unwrap_or_else(err),
                "history" => helm::history(&target, &call.release, ns, call.max).map(|h| Value::Array(h.iter().map(release).collect())).unwrap_or_else(err),
                "rollback" => helm::rollback(&target, &call.release, ns, call.revision, false, 0).map(|r| release(&r)).unwrap_or_else(err),
                "uninstall" => helm::uninstall(&target, &call.release, ns, call.keep_history).map(|()| json!("uninstalled")).unwrap_or_else(err),
                "template" => helm::template(&target, &options).map(|files| json!(files.iter().map(|f| f.path.clone()).collect::<Vec<_>>())).unwrap_or_else(err),
                other => return Err(Failure::new(format!("unknown op `{other}`"))),
            };
            results.push(json!({"op": call.op, "target": target, "answer": answer}));
        }
        Ok(Output::new("called helm").with("results", results))
    }
}

gantry_sdk::export_stage!(Helm);
