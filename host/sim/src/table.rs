//! Server-side printing: when a client asks for `as=Table` (kubectl's human
//! output does), lists, gets and watch events are answered as
//! `meta.k8s.io/v1` Tables with the columns the real server prints for that
//! kind (NAME, STATUS, DATA, READY, AGE, ...) and each row's object as
//! `includeObject` asks (PartialObjectMetadata by default). Ages are rendered
//! as kubectl's HumanDuration. This file only formats; it must not read the
//! store.

use serde_json::{json, Value};

use crate::resources::ResourceType;

/// Whether an Accept header asks for a Table.
pub fn wanted(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| first.contains("as=Table"))
}

/// A Table of `items`, with the list's metadata.
pub fn table(rt: &ResourceType, items: &[Value], metadata: Value, include: &str) -> Value {
    let columns = columns(rt);
    let definitions: Vec<Value> = columns
        .iter()
        .map(|(name, kind, _)| {
            let format = if *name == "Name" { "name" } else { "" };
            json!({"name": name, "type": kind, "format": format, "description": "", "priority": 0})
        })
        .collect();
    let rows: Vec<Value> = items.iter().map(|item| row(&columns, item, include)).collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": definitions, "rows": rows})
}

type Cell = fn(&Value) -> Value;

fn row(columns: &[(&'static str, &'static str, Cell)], item: &Value, include: &str) -> Value {
    let cells: Vec<Value> = columns.iter().map(|(_, _, cell)| cell(item)).collect();
    let object = match include {
        "None" => Value::Null,
        "Object" => item.clone(),
        _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": item["metadata"]}),
    };
    json!({"cells": cells, "object": object})
}

fn columns(rt: &ResourceType) -> Vec<(&'static str, &'static str, Cell)> {
    let mut cols: Vec<(&'static str, &'static str, Cell)> = vec![("Name", "string", |o| o["metadata"]["name"].clone())];
    let extra: Vec<(&'static str, &'static str, Cell)> = match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => vec![("Status", "string", |o| o["status"]["phase"].clone())],
        ("", "configmaps") => vec![("Data", "integer", |o| json!(count(&o["data"]) + count(&o["binaryData"])))],
        ("", "secrets") => vec![("Type", "string", |o| o["type"].clone()), ("Data", "integer", |o| json!(count(&o["data"])))],
        ("", "serviceaccounts") => vec![("Secrets", "integer", |o| json!(o["secrets"].as_array().map_or(0, Vec::len)))],
        ("", "pods") => vec![
            ("Ready", "string", pod_ready),
            ("Status", "string", pod_status),
            ("Restarts", "string", pod_restarts),
        ],
        ("", "services") => vec![
            ("Type", "string", |o| json!(o["spec"]["type"].as_str().unwrap_or("ClusterIP"))),
            ("Cluster-IP", "string", |o| json!(o["spec"]["clusterIP"].as_str().unwrap_or("<none>"))),
            ("External-IP", "string", |_| json!("<none>")),
            ("Port(s)", "string", service_ports),
        ],
        ("apps", "deployments") => vec![
            ("Ready", "string", |o| json!(format!("{}/{}", int(&o["status"]["readyReplicas"]), replicas(o)))),
            ("Up-to-date", "integer", |o| json!(int(&o["status"]["updatedReplicas"]))),
            ("Available", "integer", |o| json!(int(&o["status"]["availableReplicas"]))),
        ],
        ("apps", "replicasets") => vec![
            ("Desired", "integer", |o| json!(replicas(o))),
            ("Current", "integer", |o| json!(int(&o["status"]["replicas"]))),
            ("Ready", "integer", |o| json!(int(&o["status"]["readyReplicas"]))),
        ],
        ("apps", "statefulsets") => vec![("Ready", "string", |o| json!(format!("{}/{}", int(&o["status"]["readyReplicas"]), replicas(o))))],
        ("apps", "daemonsets") => vec![
            ("Desired", "integer", |o| json!(int(&o["status"]["desiredNumberScheduled"]))),
            ("Current", "integer", |o| json!(int(&o["status"]["currentNumberScheduled"]))),
            ("Ready", "integer", |o| json!(int(&o["status"]["numberReady"]))),
            ("Up-to-date", "integer", |o| json!(int(&o["status"]["updatedNumberScheduled"]))),
            ("Available", "integer", |o| json!(int(&o["status"]["numberAvailable"]))),
        ],
        ("batch", "jobs") => vec![
            ("Status", "string", job_status),
            ("Completions", "string", |o| json!(format!("{}/{}", int(&o["status"]["succeeded"]), o["spec"]["completions"].as_i64().unwrap_or(1)))),
        ],
        _ => vec![],
    };
    cols.extend(extra);
    cols.push(("Age", "string", |o| json!(age(o["metadata"]["creationTimestamp"].as_str().unwrap_or("")))));
    cols
}

fn count(v: &Value) -> usize {
    v.as_object().map_or(0, |m| m.len())
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn replicas(o: &Value) -> i64 {
    o["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn pod_ready(o: &Value) -> Value {
    let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
    let statuses = o["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
    let ready = statuses.iter().filter(|s| s["ready"].as_bool() == Some(true)).count();
    json!(format!("{ready}/{total}"))
}

/// kubectl's pod STATUS: a container's waiting or terminated reason over the phase; Terminating while deleted.
fn pod_status(o: &Value) -> Value {
    if !o["metadata"]["deletionTimestamp"].is_null() {
        return json!("Terminating");
    }
    let mut reason = o["status"]["reason"].as_str().or(o["status"]["phase"].as_str()).unwrap_or("").to_string();
    // Init containers first, as kubectl's printer: the first one not completed names the status.
    let inits = o["status"]["initContainerStatuses"].as_array().cloned().unwrap_or_default();
    for (i, s) in inits.iter().enumerate() {
        let (terminated, waiting) = (&s["state"]["terminated"], &s["state"]["waiting"]);
        if !terminated.is_null() && terminated["exitCode"].as_i64() == Some(0) {
            continue;
        }
        let waiting_reason = waiting["reason"].as_str().filter(|r| !r.is_empty() && *r != "PodInitializing");
        let init = match (terminated["reason"].as_str().filter(|r| !r.is_empty()), waiting_reason) {
            (Some(r), _) if !terminated.is_null() => format!("Init:{r}"),
            _ if !terminated.is_null() => format!("Init:ExitCode:{}", terminated["exitCode"].as_i64().unwrap_or(0)),
            (_, Some(r)) => format!("Init:{r}"),
            _ => format!("Init:{i}/{}", o["spec"]["initContainers"].as_array().map_or(inits.len(), Vec::len)),
        };
        return json!(init);
    }
    let statuses = o["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
    for s in statuses.iter().rev() {
        let state = &s["state"];
        if let Some(r) = state["waiting"]["reason"].as_str().filter(|r| !r.is_empty()) {
            reason = r.to_string();
        } else if let Some(r) = state["terminated"]["reason"].as_str().filter(|r| !r.is_empty()) {
            reason = r.to_string();
        }
    }
    json!(reason)
}

/// kubectl's job STATUS: Complete, Failed, Suspended or Running.
fn job_status(o: &Value) -> Value {
    let conditions = o["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let holds = |kind: &str| conditions.iter().any(|c| c["type"] == kind && c["status"] == "True");
    let status = ["Complete", "Failed", "Suspended"].into_iter().find(|k| holds(k)).unwrap_or("Running");
    json!(status)
}

fn pod_restarts(o: &Value) -> Value {
    let statuses = o["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
    json!(statuses.iter().map(|s| int(&s["restartCount"])).sum::<i64>().to_string())
}

fn service_ports(o: &Value) -> Value {
    let ports = o["spec"]["ports"].as_array().cloned().unwrap_or_default();
    let text: Vec<String> = ports
        .iter()
        .map(|p| {
            let node = p["nodePort"].as_i64().map(|n| format!(":{n}")).unwrap_or_default();
            format!("{}{node}/{}", int(&p["port"]), p["protocol"].as_str().unwrap_or("TCP"))
        })
        .collect();
    json!(if text.is_empty() { "<none>".to_string() } else { text.join(",") })
}

/// kubectl's HumanDuration of the time since `timestamp`.
fn age(timestamp: &str) -> String {
    let format = time::format_description::well_known::Rfc3339;
    let Ok(created) = time::OffsetDateTime::parse(timestamp, &format) else { return "<unknown>".into() };
    human_duration((time::OffsetDateTime::now_utc() - created).whole_seconds())
}

pub fn human_duration(seconds: i64) -> String {
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    let (days, years) = (hours / 24, hours / (24 * 365));
    let pair = |a: i64, ua: &str, b: i64, ub: &str| if b == 0 { format!("{a}{ua}") } else { format!("{a}{ua}{b}{ub}") };
    match () {
        _ if seconds < -1 => "<invalid>".into(),
        _ if seconds < 0 => "0s".into(),
        _ if seconds < 120 => format!("{seconds}s"),
        _ if minutes < 10 => pair(minutes, "m", seconds % 60, "s"),
        _ if minutes < 180 => format!("{minutes}m"),
        _ if hours < 8 => pair(hours, "h", minutes % 60, "m"),
        _ if hours < 48 => format!("{hours}h"),
        _ if hours < 24 * 8 => pair(days, "d", hours % 24, "h"),
        _ if hours < 24 * 365 * 2 => format!("{days}d"),
        _ if hours < 24 * 365 * 8 => pair(years, "y", days % 365, "d"),
        _ => format!("{years}y"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    #[test]
    fn human_durations_read_as_kubectl_prints_them() {
        let cases = [(5, "5s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (3 * 3600 + 60, "3h1m"), (30 * 3600, "30h"), (50 * 3600, "2d2h"), (400 * 86400, "400d")];
        for (secs, text) in cases {
            assert_eq!(human_duration(secs), text, "{secs}s");
        }
    }

    #[test]
    fn namespaces_print_name_status_and_age() {
        let rt = Registry::default().find("", "v1", "namespaces").unwrap();
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": "2020-01-01T00:00:00Z"}, "status": {"phase": "Active"}});
        let t = table(&rt, &[ns], json!({}), "Metadata");
        let names: Vec<&str> = t["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Name", "Status", "Age"]);
        assert_eq!(t["rows"][0]["cells"][1], "Active");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert!(wanted("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"));
        assert!(!wanted("application/json"));
    }
}
