//! Server-side printing: when a client asks for `as=Table` (kubectl's human
//! output does), lists, gets and watch events are answered as
//! `meta.k8s.io/v1` Tables with the columns the real server prints for that
//! kind (NAME, STATUS, DATA, READY, AGE, ...) and each row's object as
//! `includeObject` asks (PartialObjectMetadata by default); like the real
//! server, cells include the priority-1 columns kubectl shows with `-o wide`
//! (Events: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE and the wide ones).
//! Ages are rendered as kubectl's HumanDuration. This file only formats; it must not read the
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
            json!({"name": name, "type": kind, "format": format, "description": "", "priority": priority(rt, name)})
        })
        .collect();
    let rows: Vec<Value> = items.iter().map(|item| row(rt, &columns, item, include)).collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": definitions, "rows": rows})
}

type Cell = fn(&Value) -> Value;

/// Cells from the stored object; the row's object in the version asked for (`conversion`).
fn row(rt: &ResourceType, columns: &[(&'static str, &'static str, Cell)], item: &Value, include: &str) -> Value {
    let cells: Vec<Value> = columns.iter().map(|(_, _, cell)| cell(item)).collect();
    let object = match include {
        "None" => Value::Null,
        "Object" => crate::conversion::out(rt, item).into_owned(),
        _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": item["metadata"]}),
    };
    json!({"cells": cells, "object": object})
}

/// 1 for the columns the real server marks wide-only (kubectl shows them with `-o wide`).
fn priority(rt: &ResourceType, column: &str) -> i64 {
    match (rt.group.as_str(), rt.plural.as_str(), column) {
        ("" | "events.k8s.io", "events", "Subobject" | "Source" | "First Seen" | "Count" | "Name") => 1,
        (_, _, "IP" | "Node" | "Nominated Node" | "Readiness Gates" | "Containers" | "Images" | "Selector") => 1,
        _ => 0,
    }
}

fn columns(rt: &ResourceType) -> Vec<(&'static str, &'static str, Cell)> {
    if (rt.group.is_empty() || rt.group == "events.k8s.io") && rt.plural == "events" {
        return event_columns();
    }
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
            ("Node Selector", "string", |o| json!(label_map(&o["spec"]["template"]["spec"]["nodeSelector"]))),
        ],
        ("batch", "jobs") => vec![
            ("Status", "string", job_status),
            ("Completions", "string", |o| json!(format!("{}/{}", int(&o["status"]["succeeded"]), o["spec"]["completions"].as_i64().unwrap_or(1)))),
            ("Duration", "string", job_duration),
        ],
        ("autoscaling", "horizontalpodautoscalers") => vec![
            ("Reference", "string", |o| {
                let target = &o["spec"]["scaleTargetRef"];
                json!(format!("{}/{}", target["kind"].as_str().unwrap_or(""), target["name"].as_str().unwrap_or("")))
            }),
            ("Targets", "string", |o| json!(hpa_targets(o))),
            ("MinPods", "string", |o| json!(o["spec"]["minReplicas"].as_i64().map_or_else(|| "<unset>".to_string(), |m| m.to_string()))),
            ("MaxPods", "integer", |o| json!(int(&o["spec"]["maxReplicas"]))),
            ("Replicas", "integer", |o| json!(int(&o["status"]["currentReplicas"]))),
        ],
        _ => vec![],
    };
    cols.extend(extra);
    cols.push(("Age", "string", |o| json!(age(o["metadata"]["creationTimestamp"].as_str().unwrap_or("")))));
    cols.extend(wide_columns(rt));
    cols
}

/// The priority-1 columns after AGE, as the real server's printers add them.
fn wide_columns(rt: &ResourceType) -> Vec<(&'static str, &'static str, Cell)> {
    let containers: (&'static str, &'static str, Cell) = ("Containers", "string", |o| json!(template_containers(o, "name")));
    let images: (&'static str, &'static str, Cell) = ("Images", "string", |o| json!(template_containers(o, "image")));
    let selector: (&'static str, &'static str, Cell) = ("Selector", "string", |o| json!(label_selector(&o["spec"]["selector"])));
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "pods") => vec![
            ("IP", "string", |o| json!(o["status"]["podIP"].as_str().filter(|s| !s.is_empty()).unwrap_or("<none>"))),
            ("Node", "string", |o| json!(o["spec"]["nodeName"].as_str().filter(|s| !s.is_empty()).unwrap_or("<none>"))),
            ("Nominated Node", "string", |o| json!(o["status"]["nominatedNodeName"].as_str().filter(|s| !s.is_empty()).unwrap_or("<none>"))),
            ("Readiness Gates", "string", pod_readiness_gates),
        ],
        ("", "services") => vec![("Selector", "string", |o| json!(label_map(&o["spec"]["selector"])))],
        ("apps", "deployments" | "replicasets" | "daemonsets") | ("batch", "jobs") => vec![containers, images, selector],
        ("apps", "statefulsets") => vec![containers, images],
        _ => vec![],
    }
}

/// The pod template's containers' `field`s, comma-separated.
fn template_containers(o: &Value, field: &str) -> String {
    let containers = o["spec"]["template"]["spec"]["containers"].as_array().cloned().unwrap_or_default();
    containers.iter().filter_map(|c| c[field].as_str()).collect::<Vec<_>>().join(",")
}

/// labels.FormatLabels: `k=v` sorted by key, comma-separated, `<none>` when empty.
fn label_map(map: &Value) -> String {
    let mut pairs: Vec<String> = map.as_object().into_iter().flatten().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect();
    pairs.sort();
    if pairs.is_empty() { "<none>".into() } else { pairs.join(",") }
}

/// metav1.FormatLabelSelector: requirements sorted by key (`k=v`, `k in (a,b)`,
/// `k notin (a,b)`, `k`, `!k`), `<none>` when empty.
fn label_selector(selector: &Value) -> String {
    let mut requirements: Vec<(String, String)> = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))))
        .collect();
    for e in selector["matchExpressions"].as_array().into_iter().flatten() {
        let key = e["key"].as_str().unwrap_or("").to_string();
        let mut values: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        values.sort();
        let text = match e["operator"].as_str().unwrap_or("") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            "DoesNotExist" => format!("!{key}"),
            _ => return "<error>".into(),
        };
        requirements.push((key, text));
    }
    requirements.sort();
    if requirements.is_empty() { "<none>".into() } else { requirements.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(",") }
}

fn pod_readiness_gates(o: &Value) -> Value {
    let gates = o["spec"]["readinessGates"].as_array().cloned().unwrap_or_default();
    if gates.is_empty() {
        return json!("<none>");
    }
    let conditions = o["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let met = gates.iter().filter(|g| conditions.iter().any(|c| c["type"] == g["conditionType"] && c["status"] == "True")).count();
    json!(format!("{met}/{}", gates.len()))
}

/// kubectl's job DURATION: start to completion, or to now while running.
fn job_duration(o: &Value) -> Value {
    let format = time::format_description::well_known::Rfc3339;
    let at = |field: &str| o["status"][field].as_str().and_then(|t| time::OffsetDateTime::parse(t, &format).ok());
    let Some(start) = at("startTime") else { return json!("") };
    let end = at("completionTime").unwrap_or_else(time::OffsetDateTime::now_utc);
    json!(human_duration((end - start).whole_seconds()))
}

/// The real server's event columns: no leading NAME nor AGE.
fn event_columns() -> Vec<(&'static str, &'static str, Cell)> {
    vec![
        ("Last Seen", "string", event_last_seen),
        ("Type", "string", |o| json!(o["type"].as_str().unwrap_or(""))),
        ("Reason", "string", |o| json!(o["reason"].as_str().unwrap_or(""))),
        ("Object", "string", |o| {
            let (kind, name) = (o["involvedObject"]["kind"].as_str().unwrap_or("").to_lowercase(), o["involvedObject"]["name"].as_str().unwrap_or(""));
            json!(if name.is_empty() { kind } else { format!("{kind}/{name}") })
        }),
        ("Subobject", "string", |o| json!(o["involvedObject"]["fieldPath"].as_str().unwrap_or(""))),
        ("Source", "string", |o| {
            let first = |a: &Value, b: &Value| a.as_str().filter(|s| !s.is_empty()).or(b.as_str()).unwrap_or("").to_string();
            let component = first(&o["source"]["component"], &o["reportingComponent"]);
            let instance = first(&o["source"]["host"], &o["reportingInstance"]);
            json!(if instance.is_empty() { component } else { format!("{component}, {instance}") })
        }),
        ("Message", "string", |o| json!(o["message"].as_str().unwrap_or("").trim())),
        ("First Seen", "string", event_first_seen),
        ("Count", "string", |o| {
            let count = o["series"]["count"].as_i64().or(o["count"].as_i64()).unwrap_or(0);
            json!(count.max(1))
        }),
        ("Name", "string", |o| o["metadata"]["name"].clone()),
    ]
}

fn event_first_seen(o: &Value) -> Value {
    let at = o["firstTimestamp"].as_str().or(o["eventTime"].as_str()).unwrap_or("");
    json!(age(at))
}

fn event_last_seen(o: &Value) -> Value {
    match o["series"]["lastObservedTime"].as_str().or(o["lastTimestamp"].as_str()) {
        Some(at) => json!(age(at)),
        None => event_first_seen(o),
    }
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

/// The printer's TARGETS of an autoscaling/v2 HorizontalPodAutoscaler (as
/// stored; v1 is printed from the same object): `cpu: 40%/80%`, `<unknown>`
/// where no current value is known yet, two at most and `+ N more...`.
fn hpa_targets(o: &Value) -> String {
    let specs = o["spec"]["metrics"].as_array().cloned().unwrap_or_default();
    if specs.is_empty() {
        return "<none>".into();
    }
    let statuses = o["status"]["currentMetrics"].as_array().cloned().unwrap_or_default();
    let text = |v: &Value| v.as_str().map(String::from).unwrap_or_else(|| v.to_string());
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let status = statuses.get(i).cloned().unwrap_or(Value::Null);
            let known = |key: &str, field: &str| status[key]["current"][field].as_str().or(None).map(String::from);
            let unknown = || "<unknown>".to_string();
            match spec["type"].as_str().unwrap_or("") {
                kind @ ("External" | "Object") => {
                    let key = if kind == "External" { "external" } else { "object" };
                    let target = &spec[key]["target"];
                    if !target["averageValue"].is_null() {
                        format!("{}/{} (avg)", known(key, "averageValue").unwrap_or_else(unknown), text(&target["averageValue"]))
                    } else {
                        let current = if status[key].is_object() { known(key, "value").unwrap_or_else(|| "0".into()) } else { unknown() };
                        format!("{current}/{}", text(&target["value"]))
                    }
                }
                "Pods" => {
                    let current = if status["pods"].is_object() { known("pods", "averageValue").unwrap_or_else(|| "0".into()) } else { unknown() };
                    format!("{current}/{}", text(&spec["pods"]["target"]["averageValue"]))
                }
                kind @ ("Resource" | "ContainerResource") => {
                    let key = if kind == "Resource" { "resource" } else { "containerResource" };
                    let (source, name) = (&spec[key], spec[key]["name"].as_str().unwrap_or(""));
                    if !source["target"]["averageValue"].is_null() {
                        let current = if status[key].is_object() { known(key, "averageValue").unwrap_or_else(|| "0".into()) } else { unknown() };
                        format!("{name}: {current}/{}", text(&source["target"]["averageValue"]))
                    } else {
                        let current = status[key]["current"]["averageUtilization"].as_i64().map_or_else(unknown, |u| format!("{u}%"));
                        let target = source["target"]["averageUtilization"].as_i64().map_or_else(|| "<auto>".to_string(), |u| format!("{u}%"));
                        format!("{name}: {current}/{target}")
                    }
                }
                _ => "<unknown type>".into(),
            }
        })
        .collect();
    if list.len() > 2 {
        return format!("{} + {} more...", list[..2].join(", "), list.len() - 2);
    }
    list.join(", ")
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
    fn events_print_as_the_real_server_prints_them_with_wide_columns_at_priority_one() {
        let rt = Registry::default().find("", "v1", "events").unwrap();
        let event = json!({
            "metadata": {"name": "web-1.18ebab2d672f770f", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{web}"},
            "reason": "Started", "message": "Started container web\n", "type": "Normal",
            "source": {"component": "kubelet", "host": "sim-node-1"},
            "firstTimestamp": "2020-01-01T00:00:00Z", "lastTimestamp": "2020-01-01T00:00:00Z", "count": 1,
        });
        let t = table(&rt, &[event], json!({}), "Metadata");
        let columns: Vec<(&str, i64)> =
            t["columnDefinitions"].as_array().unwrap().iter().map(|c| (c["name"].as_str().unwrap(), c["priority"].as_i64().unwrap())).collect();
        assert_eq!(
            columns,
            [("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0), ("Subobject", 1), ("Source", 1), ("Message", 0), ("First Seen", 1), ("Count", 1), ("Name", 1)]
        );
        let cells = t["rows"][0]["cells"].as_array().unwrap();
        assert_eq!(cells[1..7], [json!("Normal"), json!("Started"), json!("pod/web-1"), json!("spec.containers{web}"), json!("kubelet, sim-node-1"), json!("Started container web")]);
        assert!(cells[0].as_str().unwrap().ends_with('d') && cells[0] == cells[7], "last and first seen: {cells:?}");
        assert_eq!(cells[8..], [json!(1), json!("web-1.18ebab2d672f770f")]);
    }

    #[test]
    fn wide_columns_follow_age_at_priority_one() {
        let registry = Registry::default();
        let names = |t: &Value| -> Vec<(String, i64)> {
            t["columnDefinitions"].as_array().unwrap().iter().map(|c| (c["name"].as_str().unwrap().to_string(), c["priority"].as_i64().unwrap())).collect()
        };
        let pod = json!({"metadata": {"name": "web-1"}, "spec": {"nodeName": "sim-node-1", "containers": [{"name": "web"}]}, "status": {"podIP": "10.244.0.5"}});
        let t = table(&registry.find("", "v1", "pods").unwrap(), &[pod], json!({}), "None");
        assert_eq!(names(&t)[5..], [("IP".into(), 1), ("Node".into(), 1), ("Nominated Node".into(), 1), ("Readiness Gates".into(), 1)]);
        assert_eq!(t["rows"][0]["cells"].as_array().unwrap()[5..], [json!("10.244.0.5"), json!("sim-node-1"), json!("<none>"), json!("<none>")]);

        let d = json!({"metadata": {"name": "web"}, "spec": {"replicas": 2,
            "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable", "canary"]}, {"key": "old", "operator": "DoesNotExist"}]},
            "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "proxy", "image": "envoy:1"}]}}}});
        let t = table(&registry.find("apps", "v1", "deployments").unwrap(), &[d], json!({}), "None");
        assert_eq!(names(&t).iter().map(|(n, p)| format!("{n}:{p}")).collect::<Vec<_>>().join(" "),
            "Name:0 Ready:0 Up-to-date:0 Available:0 Age:0 Containers:1 Images:1 Selector:1");
        assert_eq!(t["rows"][0]["cells"].as_array().unwrap()[5..], [json!("web,proxy"), json!("nginx:1.27,envoy:1"), json!("app=web,!old,track in (canary,stable)")]);

        let svc = json!({"metadata": {"name": "web"}, "spec": {"selector": {"tier": "front", "app": "web"}}});
        let t = table(&registry.find("", "v1", "services").unwrap(), &[svc], json!({}), "None");
        assert_eq!(t["rows"][0]["cells"].as_array().unwrap().last(), Some(&json!("app=web,tier=front")));
        let ds = table(&registry.find("apps", "v1", "daemonsets").unwrap(), &[json!({"metadata": {"name": "agent"}})], json!({}), "None");
        assert!(names(&ds).contains(&("Node Selector".into(), 0)));
        let job = json!({"metadata": {"name": "migrate"}, "status": {"startTime": "2020-01-01T00:00:00Z", "completionTime": "2020-01-01T00:00:07Z"}});
        let t = table(&registry.find("batch", "v1", "jobs").unwrap(), &[job], json!({}), "None");
        assert_eq!(t["rows"][0]["cells"][3], "7s", "Duration: start to completion");
    }

    #[test]
    fn horizontal_pod_autoscalers_print_reference_targets_and_bounds() {
        let rt = Registry::default().find("autoscaling", "v2", "horizontalpodautoscalers").unwrap();
        let hpa = json!({"metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 5, "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}]},
            "status": {"currentReplicas": 3, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 41}}}]}});
        let t = table(&rt, &[hpa], json!({}), "Metadata");
        let names: Vec<&str> = t["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"]);
        let cells = t["rows"][0]["cells"].as_array().unwrap();
        assert_eq!(cells[..6], [json!("web"), json!("Deployment/web"), json!("cpu: 41%/80%, memory: <unknown>/500Mi + 1 more..."), json!("2"), json!(5), json!(3)]);
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
