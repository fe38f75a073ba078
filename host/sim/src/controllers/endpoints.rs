//! The Endpoints controller: for every Service with a selector, an Endpoints
//! object of the same name listing the selected pods' IPs — ready pods under
//! `addresses`, the others under `notReadyAddresses` — with the service's
//! ports resolved through `targetPort` (a number, or a container port's
//! name). Endpoints it wrote (marked, as the real controller marks them,
//! with `endpoints.kubernetes.io/last-change-trigger-time`) are deleted with
//! their service. This file must not touch Services or Pods.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::replicaset::{is_active, is_ready};
use super::{meta_str, report, write, Ctx};
use crate::error::ApiError;
use crate::store::{now_rfc3339, Part, Store};

const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";

pub(super) fn run(ctx: &mut Ctx, store: &Store) {
    let services = ctx.list(store, &ctx.services.clone());
    let selects = |svc: &Value| svc["spec"]["selector"].as_object().is_some_and(|s| !s.is_empty());
    // The pods (shared, not copied) by namespace, read only when some service selects pods.
    let pods = if services.iter().any(selects) { store.snapshot(&ctx.pods.gr()) } else { Vec::new() };
    let mut by_namespace: HashMap<&str, Vec<&Value>> = HashMap::new();
    for pod in &pods {
        by_namespace.entry(meta_str(pod, "namespace")).or_default().push(pod);
    }
    for svc in &services {
        let Some(selector) = svc["spec"]["selector"].as_object().filter(|s| !s.is_empty()) else { continue };
        let ns = meta_str(svc, "namespace");
        let selected: Vec<&Value> = by_namespace
            .get(ns)
            .into_iter()
            .flatten()
            .copied()
            .filter(|p| is_active(p) && p["status"]["podIP"].is_string())
            .filter(|p| selector.iter().all(|(k, v)| p["metadata"]["labels"][k] == *v))
            .collect();
        let subsets = subsets(svc, &selected);
        upsert(ctx, store, svc, subsets);
    }
    for ep in ctx.list(store, &ctx.endpoints.clone()) {
        let ns = meta_str(&ep, "namespace");
        let managed = ep["metadata"]["annotations"][TRIGGER_TIME].is_string();
        let served = services.iter().any(|s| meta_str(s, "namespace") == ns && meta_str(s, "name") == meta_str(&ep, "name"));
        if managed && !served {
            report("deleting endpoints of a deleted service", store.delete(&ctx.endpoints, ns, meta_str(&ep, "name"), &write()));
        }
    }
}

fn address(pod: &Value) -> Value {
    json!({
        "ip": pod["status"]["podIP"],
        "nodeName": pod["spec"]["nodeName"],
        "targetRef": {"kind": "Pod", "namespace": pod["metadata"]["namespace"], "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
    })
}

/// The container port named `name` in `pod`.
fn named_port(pod: &Value, name: &str) -> Option<i64> {
    let containers = pod["spec"]["containers"].as_array()?;
    containers.iter().flat_map(|c| c["ports"].as_array().into_iter().flatten()).find(|p| p["name"] == name).and_then(|p| p["containerPort"].as_i64())
}

fn subsets(svc: &Value, pods: &[&Value]) -> Value {
    if pods.is_empty() {
        return json!([]);
    }
    let ports: Vec<Value> = svc["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let number = match &p["targetPort"] {
                Value::Number(n) => n.as_i64(),
                Value::String(name) => pods.iter().find_map(|pod| named_port(pod, name)).or_else(|| name.parse().ok()),
                _ => p["port"].as_i64(),
            }?;
            let mut port = Map::new();
            if let Some(name) = p["name"].as_str().filter(|n| !n.is_empty()) {
                port.insert("name".into(), json!(name));
            }
            port.insert("port".into(), json!(number));
            port.insert("protocol".into(), p["protocol"].as_str().map_or(json!("TCP"), |s| json!(s)));
            Some(Value::Object(port))
        })
        .collect();
    let mut sorted: Vec<&Value> = pods.to_vec();
    sorted.sort_by_key(|p| p["status"]["podIP"].as_str().unwrap_or("").to_string());
    let ready: Vec<Value> = sorted.iter().filter(|p| is_ready(p)).map(|p| address(p)).collect();
    let not_ready: Vec<Value> = sorted.iter().filter(|p| !is_ready(p)).map(|p| address(p)).collect();
    let mut subset = json!({"ports": ports});
    if !ready.is_empty() {
        subset["addresses"] = json!(ready);
    }
    if !not_ready.is_empty() {
        subset["notReadyAddresses"] = json!(not_ready);
    }
    json!([subset])
}

fn upsert(ctx: &Ctx, store: &Store, svc: &Value, subsets: Value) {
    let (ns, name) = (meta_str(svc, "namespace"), meta_str(svc, "name"));
    let labels = svc["metadata"]["labels"].clone();
    match store.get(&ctx.endpoints.gr(), ns, name) {
        Ok(current) if current["subsets"] == subsets && current["metadata"]["labels"] == labels => {}
        Ok(_) => {
            let change = |current: &Value| {
                let mut next = current.clone();
                next["subsets"] = subsets.clone();
                next["metadata"]["labels"] = labels.clone();
                next["metadata"]["annotations"][TRIGGER_TIME] = json!(now_rfc3339());
                Ok(next)
            };
            report("updating endpoints", store.modify(&ctx.endpoints, ns, name, Part::Main, &write(), change));
        }
        Err(ApiError::NotFound { .. }) => {
            let mut metadata = json!({"name": name, "annotations": {TRIGGER_TIME: now_rfc3339()}});
            if labels.is_object() {
                metadata["labels"] = labels;
            }
            let ep = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": metadata, "subsets": subsets});
            report("creating endpoints", store.create(&ctx.endpoints, ns, ep, &write()));
        }
        Err(e) => tracing::warn!(error = %e, "reading endpoints"),
    }
}
