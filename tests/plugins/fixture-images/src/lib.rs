//! `fixture-images`: makes the `registry` and `builder` capability calls its
//! settings list, in order (`resolve`, `config`, `layers`, `copy`,
//! `build`), and returns each answer (or error kind and message) as the
//! output `results`, so pipeline tests see what a plugin sees.

use gantry_sdk::cap::{builder, registry};
use gantry_sdk::types::{CapError, Pair};
use gantry_sdk::{Failure, Input, Output, Stage};
use serde_json::{json, Value};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    op: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    destination: String,
    #[serde(default)]
    context: String,
    #[serde(default)]
    dockerfile: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    labels: Vec<(String, String)>,
    #[serde(default)]
    build_args: Vec<(String, String)>,
    #[serde(default)]
    backend: Option<String>,
    #[serde(default = "yes")]
    push: bool,
}

fn yes() -> bool {
    true
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    calls: Vec<Call>,
}


fn err(e: CapError) -> Value {
    json!({"error": e.kind.name(), "message": e.message})
}

fn pairs(list: &[(String, String)]) -> Vec<Pair> {
    list.iter().map(|(key, value)| Pair { key: key.clone(), value: value.clone() }).collect()
}

struct Images;

impl Stage for Images {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let mut results = Vec::new();
        for call in input.settings.calls {
            let answer = match call.op.as_str() {
                "resolve" => registry::resolve(&call.reference).map(Value::String).unwrap_or_else(err),
                "config" => registry::config(&call.reference)
                    .map(|c| {
                        json!({"digest": c.digest, "architecture": c.architecture, "os": c.os, "user": c.user, "env": c.env,
                               "entrypoint": c.entrypoint, "cmd": c.cmd, "working_dir": c.working_dir, "exposed_ports": c.exposed_ports,
                               "labels": c.labels.iter().map(|p| (p.key.clone(), Value::String(p.value.clone()))).collect::<serde_json::Map<_, _>>(),
                               "created": c.created})
                    })
                    .unwrap_or_else(err),
                "layers" => registry::layers(&call.reference)
                    .map(|ls| json!(ls.iter().map(|l| json!({"media_type": l.media_type, "digest": l.digest, "size": l.size})).collect::<Vec<_>>()))
                    .unwrap_or_else(err),
                "copy" => registry::copy(&call.reference, &call.destination).map(Value::String).unwrap_or_else(err),
                "build" => {
                    let backend = match call.backend.as_deref() {
                        None | Some("auto") => builder::Backend::Auto,
                        Some("docker") => builder::Backend::Docker,
                        Some("daemonless") => builder::Backend::Daemonless,
                        Some(other) => return Err(Failure::new(format!("unknown backend `{other}`"))),
                    };
                    let request = builder::BuildRequest {
                        context: call.context.clone(),
                        dockerfile: call.dockerfile.clone(),
                        target: None,
                        build_args: pairs(&call.build_args),
                        labels: pairs(&call.labels),
                        tags: call.tags.clone(),
                        backend,
                        push: call.push,
                    };
                    builder::build(&request)
                        .map(|r| json!({"digest": r.digest, "pushed": r.pushed, "size": r.size, "skipped": r.skipped}))
                        .unwrap_or_else(err)
                }
                other => return Err(Failure::new(format!("unknown op `{other}`"))),
            };
            results.push(json!({"op": call.op, "answer": answer}));
        }
        Ok(Output::new("called registry and builder").with("results", results))
    }
}

gantry_sdk::export_stage!(Images);
