//! `fixture-cluster`: makes the `cluster-read` / `cluster-write` / `http-probe` calls its
//! settings list, in order, and returns each answer (or error kind and
//! message) as the output `results`, so pipeline tests can drive real
//! clusters through the runtime and see what a plugin sees. A call's
//! `target` of `self` means the stage's own target.

use gantry_sdk::cap::{cluster_read, cluster_write, http_probe};
use gantry_sdk::types::{CapError, ObjectRef};
use gantry_sdk::{Failure, Input, Output, Stage};
use serde_json::{json, Value};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    op: String,
    #[serde(default = "self_target")]
    target: String,
    #[serde(default)]
    manifest: Option<Value>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    replicas: Option<u32>,
    #[serde(default)]
    selector: Option<String>,
    /// `probe`: a Service (with `port`) or a `url`, and the `path`.
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    port: Option<String>,
    #[serde(default)]
    url: Option<String>,
    /// `probe`: one pod (with `port`) through the pod proxy.
    #[serde(default)]
    pod: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u32>,
}

fn self_target() -> String {
    "self".into()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    calls: Vec<Call>,
    /// The URLs `http-probe` may reach; read by the host, not here.
    #[serde(default)]
    #[allow(dead_code)]
    urls: Vec<String>,
}


fn err(e: CapError) -> Value {
    json!({"error": e.kind.name(), "message": e.message})
}

fn parsed(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

struct Cluster;

impl Stage for Cluster {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let own = input.target.map(|t| t.name).unwrap_or_default();
        let mut results = Vec::new();
        for call in input.settings.calls {
            let target = if call.target == "self" { own.clone() } else { call.target.clone() };
            let object = ObjectRef {
                api_version: call.api_version.clone().unwrap_or_default(),
                kind: call.kind.clone().unwrap_or_default(),
                namespace: call.namespace.clone(),
                name: call.name.clone().unwrap_or_default(),
            };
            let answer = match call.op.as_str() {
                "apply" => {
                    let manifest = call.manifest.clone().unwrap_or(Value::Null).to_string();
                    let options = cluster_write::ApplyOptions { force: false, dry_run: false };
                    cluster_write::apply(&target, &manifest, options).map(parsed).unwrap_or_else(err)
                }
                "get" => cluster_read::get(&target, &object).map(parsed).unwrap_or_else(err),
                "scale" => cluster_write::scale(&target, &object, call.replicas.unwrap_or(1)).map(|()| json!("scaled")).unwrap_or_else(err),
                "rollout" => cluster_read::rollout(&target, &object).map(|r| json!({"done": r.done, "message": r.message})).unwrap_or_else(err),
                "pods" => cluster_read::pods(&target, call.namespace.as_deref(), call.selector.as_deref().unwrap_or_default())
                    .map(|pods| json!(pods.iter().map(|p| p.name.clone()).collect::<Vec<_>>()))
                    .unwrap_or_else(err),
                "probe" => {
                    let destination = match (&call.service, &call.url) {
                        _ if call.pod.is_some() => http_probe::Destination::Pod(http_probe::PodRef {
                            namespace: call.namespace.clone(),
                            name: call.pod.clone().unwrap_or_default(),
                            port: call.port.clone().unwrap_or_else(|| "8000".into()),
                        }),
                        (Some(name), _) => http_probe::Destination::Service(http_probe::ServiceRef {
                            namespace: call.namespace.clone(),
                            name: name.clone(),
                            port: call.port.clone().unwrap_or_else(|| "http".into()),
                        }),
                        (None, Some(url)) => http_probe::Destination::Url(url.clone()),
                        (None, None) => return Err(Failure::new("a probe needs `service` or `url`")),
                    };
                    let request = http_probe::ProbeRequest {
                        target: target.clone(),
                        destination,
                        path: call.path.clone().unwrap_or_default(),
                        headers: Vec::new(),
                        timeout_ms: call.timeout_ms.unwrap_or(10_000),
                    };
                    http_probe::get(&request)
                        .map(|r| json!({"status": r.status, "body": String::from_utf8_lossy(&r.body), "latency_ms": r.latency_ms, "headers": r.headers.iter().map(|p| (p.key.clone(), p.value.clone())).collect::<Vec<_>>()}))
                        .unwrap_or_else(err)
                }
                other => return Err(Failure::new(format!("unknown op `{other}`"))),
            };
            results.push(json!({"op": call.op, "target": target, "answer": answer}));
        }
        Ok(Output::new("called the cluster").with("results", results))
    }
}

gantry_sdk::export_stage!(Cluster);
