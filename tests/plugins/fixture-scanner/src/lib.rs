//! `fixture-scanner`: makes the `scanner` calls its settings list, in order
//! (`scan`, `sbom`, `saved-reports`), and `cluster-read` `list` calls (what
//! a cluster holds, to check that a denied scan left it untouched), and
//! returns each answer (or error kind and message) as the output
//! `results`, so pipeline tests see what a plugin sees. A scan's answer is
//! its digest, user and counts, not the whole report. A `list` call's
//! `target` of `self` (the default) is the stage's own target. It decides
//! nothing itself and never fails on a refused call.

use gantry_sdk::cap::{cluster_read, scanner};
use gantry_sdk::types::CapError;
use gantry_sdk::{Failure, Input, Output, Stage};
use serde_json::{json, Value};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    op: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    digest: String,
    #[serde(default = "self_target")]
    target: String,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
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

/// An object's `metadata.name`, or the whole text when it is not JSON.
fn name_of(object: &str) -> Value {
    serde_json::from_str::<Value>(object).ok().and_then(|v| v["metadata"]["name"].as_str().map(|n| json!(n))).unwrap_or_else(|| json!(object))
}

struct Scanner;

impl Stage for Scanner {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let own = input.target.map(|t| t.name).unwrap_or_default();
        let mut results = Vec::new();
        for call in input.settings.calls {
            let answer = match call.op.as_str() {
                "scan" => scanner::scan(&call.reference, scanner::ScanOptions { secrets: true, skip_vulnerabilities: false })
                    .map(|r| json!({"digest": r.image.digest, "user": r.image.user, "packages": r.packages.len(), "vulnerabilities": r.vulnerabilities.len(), "secrets": r.secrets.len()}))
                    .unwrap_or_else(err),
                "sbom" => scanner::sbom(&call.reference, &call.format)
                    .map(|doc| serde_json::from_str::<Value>(&doc).map(|d| json!({"bytes": doc.len(), "specVersion": d["specVersion"], "spdxVersion": d["spdxVersion"]})).unwrap_or(Value::String(doc)))
                    .unwrap_or_else(err),
                "saved-reports" => json!(scanner::saved_reports(&call.digest)),
                "list" => {
                    let target = if call.target == "self" { own.clone() } else { call.target.clone() };
                    let options = cluster_read::ListOptions { label_selector: None, field_selector: None, limit: None };
                    cluster_read::list(&target, call.api_version.as_deref().unwrap_or("v1"), call.kind.as_deref().unwrap_or_default(), call.namespace.as_deref(), &options)
                        .map(|items| json!(items.iter().map(|o| name_of(o)).collect::<Vec<_>>()))
                        .unwrap_or_else(err)
                }
                other => return Err(Failure::new(format!("unknown op `{other}`"))),
            };
            results.push(json!({"op": call.op, "reference": call.reference, "kind": call.kind, "target": if call.op == "list" { json!(if call.target == "self" { own.clone() } else { call.target.clone() }) } else { Value::Null }, "answer": answer}));
        }
        Ok(Output::new("called the scanner").with("results", results))
    }
}

gantry_sdk::export_stage!(Scanner);
