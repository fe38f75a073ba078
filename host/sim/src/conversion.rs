//! Kinds served in more than one version from one storage, and the
//! conversions between them, as the real API server's conversion functions
//! make them: HorizontalPodAutoscalers are stored as autoscaling/v2 and also
//! served as autoscaling/v1. v1 has only `targetCPUUtilizationPercentage`
//! (a Resource cpu Utilization metric) and `currentCPUUtilizationPercentage`;
//! what it cannot express travels in the `autoscaling.alpha.kubernetes.io/*`
//! annotations (metrics, current-metrics, conditions, behavior — the latter
//! with Go field names, as the real conversion writes it) and is lifted back
//! out of them when a v1 object is written. JSON written into those
//! annotations keeps Go's field order. This file only converts; the store
//! calls it for writes, `verbs` and `watch` for answers.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use crate::resources::ResourceType;

pub const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
pub const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
pub const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
pub const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
const ROUND_TRIP: [&str; 4] = [METRICS, CURRENT_METRICS, CONDITIONS, BEHAVIOR];
/// What autoscaling/v1 implies when it names no target.
const DEFAULT_CPU_UTILIZATION: i64 = 80;

fn is_hpa_v1(rt: &ResourceType) -> bool {
    rt.group == "autoscaling" && rt.version == "v1" && rt.plural == "horizontalpodautoscalers"
}

/// The type objects of `rt` are stored as, when it is not `rt` itself.
pub fn storage_of(rt: &ResourceType) -> Option<ResourceType> {
    if crate::events_v1::is_events_v1(rt) {
        return Some(crate::events_v1::storage(rt));
    }
    is_hpa_v1(rt).then(|| ResourceType { version: "v2".into(), ..rt.clone() })
}

/// The group and resource objects of `rt` are kept under in the store.
pub fn stored_gr(rt: &ResourceType) -> crate::error::GroupResource {
    storage_of(rt).as_ref().unwrap_or(rt).gr()
}

/// A stored object as `rt`'s version shows it (borrowed when it is that version).
pub fn out<'a>(rt: &ResourceType, stored: &'a Value) -> Cow<'a, Value> {
    if is_hpa_v1(rt) && stored.is_object() {
        Cow::Owned(hpa_v2_to_v1(stored))
    } else if crate::events_v1::is_events_v1(rt) && stored.is_object() {
        Cow::Owned(crate::events_v1::to_events_v1(stored))
    } else if rt.custom && stored.get("apiVersion").and_then(Value::as_str).is_some_and(|v| v != rt.api_version()) {
        // A CRD's `None` conversion strategy: a custom resource written in one
        // served version reads in another with only its apiVersion changed.
        let mut converted = stored.clone();
        converted["apiVersion"] = json!(rt.api_version());
        Cow::Owned(converted)
    } else {
        Cow::Borrowed(stored)
    }
}

/// An object written in `rt`'s version, as it is stored.
pub fn into_storage(rt: &ResourceType, given: Value) -> Value {
    if is_hpa_v1(rt) && given.is_object() {
        hpa_v1_to_v2(given)
    } else if crate::events_v1::is_events_v1(rt) && given.is_object() {
        crate::events_v1::to_core(given)
    } else {
        given
    }
}

// ---- JSON with Go's field order ----

/// An object whose fields keep the order given (Go's struct order).
struct Ordered(Vec<(&'static str, Value)>);

impl Ordered {
    fn new() -> Ordered {
        Ordered(Vec::new())
    }

    /// Adds a field when the value is not null (Go's omitempty of a nil pointer).
    fn opt(mut self, key: &'static str, value: &Value) -> Ordered {
        if !value.is_null() {
            self.0.push((key, value.clone()));
        }
        self
    }

    /// Adds a field whatever it is.
    fn put(mut self, key: &'static str, value: Value) -> Ordered {
        self.0.push((key, value));
        self
    }

    /// A nested ordered object, as a JSON string placeholder.
    fn nested(self, key: &'static str, value: Option<Ordered>) -> Ordered {
        match value {
            Some(o) => self.put(key, Value::String(format!("\u{1}{}", o.text()))),
            None => self,
        }
    }

    fn text(&self) -> String {
        let fields: Vec<String> = self.0.iter().map(|(k, v)| format!("{}:{}", json!(k), raw(v))).collect();
        format!("{{{}}}", fields.join(","))
    }
}

/// A value's JSON; strings marked by `Ordered::nested` are already JSON.
fn raw(v: &Value) -> String {
    match v {
        Value::String(s) if s.starts_with('\u{1}') => s[1..].to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(raw).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

fn list_text(items: Vec<Ordered>) -> String {
    format!("[{}]", items.iter().map(Ordered::text).collect::<Vec<_>>().join(","))
}

fn reference(r: &Value) -> Option<Ordered> {
    r.is_object().then(|| Ordered::new().put("kind", json!(r["kind"].as_str().unwrap_or(""))).put("name", json!(r["name"].as_str().unwrap_or(""))).opt("apiVersion", &r["apiVersion"]))
}

fn label_selector(s: &Value) -> Option<Ordered> {
    s.is_object().then(|| {
        let expressions: Vec<Value> = s["matchExpressions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| Value::String(format!("\u{1}{}", Ordered::new().put("key", e["key"].clone()).put("operator", e["operator"].clone()).opt("values", &e["values"]).text())))
            .collect();
        let o = Ordered::new().opt("matchLabels", &s["matchLabels"]);
        if expressions.is_empty() {
            o
        } else {
            o.put("matchExpressions", Value::Array(expressions))
        }
    })
}

/// A Quantity that is not a pointer in v1: its zero is "0".
fn quantity(v: &Value) -> Value {
    if v.is_null() {
        json!("0")
    } else {
        v.clone()
    }
}

// ---- v2 -> v1 ----

fn is_cpu_utilization(m: &Value) -> bool {
    m["type"] == "Resource" && m["resource"]["name"] == "cpu" && !m["resource"]["target"]["averageUtilization"].is_null()
}

fn metric_spec_v1(m: &Value) -> Ordered {
    let t = &m["type"];
    let mut o = Ordered::new().put("type", t.clone());
    let (object, pods, resource, container, external) = (&m["object"], &m["pods"], &m["resource"], &m["containerResource"], &m["external"]);
    if object.is_object() {
        let target = &object["target"];
        let src = Ordered::new()
            .nested("target", reference(&object["describedObject"]))
            .put("metricName", json!(object["metric"]["name"].as_str().unwrap_or("")))
            .put("targetValue", quantity(&target["value"]))
            .nested("selector", label_selector(&object["metric"]["selector"]))
            .opt("averageValue", &target["averageValue"]);
        o = o.nested("object", Some(src));
    }
    if pods.is_object() {
        let src = Ordered::new()
            .put("metricName", json!(pods["metric"]["name"].as_str().unwrap_or("")))
            .put("targetAverageValue", quantity(&pods["target"]["averageValue"]))
            .nested("selector", label_selector(&pods["metric"]["selector"]));
        o = o.nested("pods", Some(src));
    }
    if resource.is_object() {
        let src = Ordered::new()
            .put("name", resource["name"].clone())
            .opt("targetAverageUtilization", &resource["target"]["averageUtilization"])
            .opt("targetAverageValue", &resource["target"]["averageValue"]);
        o = o.nested("resource", Some(src));
    }
    if container.is_object() {
        let src = Ordered::new()
            .put("name", container["name"].clone())
            .opt("targetAverageUtilization", &container["target"]["averageUtilization"])
            .opt("targetAverageValue", &container["target"]["averageValue"])
            .put("container", container["container"].clone());
        o = o.nested("containerResource", Some(src));
    }
    if external.is_object() {
        let src = Ordered::new()
            .put("metricName", json!(external["metric"]["name"].as_str().unwrap_or("")))
            .nested("metricSelector", label_selector(&external["metric"]["selector"]))
            .opt("targetValue", &external["target"]["value"])
            .opt("targetAverageValue", &external["target"]["averageValue"]);
        o = o.nested("external", Some(src));
    }
    o
}

fn metric_status_v1(m: &Value) -> Ordered {
    let mut o = Ordered::new().put("type", m["type"].clone());
    let (object, pods, resource, container, external) = (&m["object"], &m["pods"], &m["resource"], &m["containerResource"], &m["external"]);
    if object.is_object() {
        let src = Ordered::new()
            .nested("target", reference(&object["describedObject"]))
            .put("metricName", json!(object["metric"]["name"].as_str().unwrap_or("")))
            .put("currentValue", quantity(&object["current"]["value"]))
            .nested("selector", label_selector(&object["metric"]["selector"]))
            .opt("averageValue", &object["current"]["averageValue"]);
        o = o.nested("object", Some(src));
    }
    if pods.is_object() {
        let src = Ordered::new()
            .put("metricName", json!(pods["metric"]["name"].as_str().unwrap_or("")))
            .put("currentAverageValue", quantity(&pods["current"]["averageValue"]))
            .nested("selector", label_selector(&pods["metric"]["selector"]));
        o = o.nested("pods", Some(src));
    }
    if resource.is_object() {
        let src = Ordered::new()
            .put("name", resource["name"].clone())
            .opt("currentAverageUtilization", &resource["current"]["averageUtilization"])
            .put("currentAverageValue", quantity(&resource["current"]["averageValue"]));
        o = o.nested("resource", Some(src));
    }
    if container.is_object() {
        let src = Ordered::new()
            .put("name", container["name"].clone())
            .opt("currentAverageUtilization", &container["current"]["averageUtilization"])
            .put("currentAverageValue", quantity(&container["current"]["averageValue"]))
            .put("container", container["container"].clone());
        o = o.nested("containerResource", Some(src));
    }
    if external.is_object() {
        let src = Ordered::new()
            .put("metricName", json!(external["metric"]["name"].as_str().unwrap_or("")))
            .nested("metricSelector", label_selector(&external["metric"]["selector"]))
            .put("currentValue", quantity(&external["current"]["value"]))
            .opt("currentAverageValue", &external["current"]["averageValue"]);
        o = o.nested("external", Some(src));
    }
    o
}

/// The internal (Go field names, no JSON tags) HorizontalPodAutoscalerBehavior.
fn behavior_go(b: &Value) -> String {
    let rules = |r: &Value| -> Value {
        if !r.is_object() {
            return Value::Null;
        }
        let policies = match r["policies"].as_array() {
            None => Value::Null,
            Some(ps) => Value::Array(
                ps.iter()
                    .map(|p| Value::String(format!("\u{1}{}", Ordered::new().put("Type", p["type"].clone()).put("Value", int(&p["value"])).put("PeriodSeconds", int(&p["periodSeconds"])).text())))
                    .collect(),
            ),
        };
        let text = Ordered::new().put("StabilizationWindowSeconds", r["stabilizationWindowSeconds"].clone()).put("SelectPolicy", r["selectPolicy"].clone()).put("Policies", policies).text();
        Value::String(format!("\u{1}{text}"))
    };
    Ordered::new().put("ScaleUp", rules(&b["scaleUp"])).put("ScaleDown", rules(&b["scaleDown"])).text()
}

fn int(v: &Value) -> Value {
    json!(v.as_i64().unwrap_or(0))
}

fn hpa_v2_to_v1(v2: &Value) -> Value {
    let (spec, status) = (&v2["spec"], &v2["status"]);
    let mut metadata = v2["metadata"].clone();
    let mut annotations: Map<String, Value> = metadata["annotations"].as_object().cloned().unwrap_or_default();
    annotations.retain(|k, _| !ROUND_TRIP.contains(&k.as_str()));
    let metrics = spec["metrics"].as_array().cloned().unwrap_or_default();
    let others: Vec<Ordered> = metrics.iter().filter(|m| !is_cpu_utilization(m)).map(metric_spec_v1).collect();
    if !others.is_empty() {
        annotations.insert(METRICS.into(), json!(list_text(others)));
    }
    let current = status["currentMetrics"].as_array().cloned().unwrap_or_default();
    if !current.is_empty() {
        annotations.insert(CURRENT_METRICS.into(), json!(list_text(current.iter().map(metric_status_v1).collect())));
    }
    if spec["behavior"].is_object() {
        annotations.insert(BEHAVIOR.into(), json!(behavior_go(&spec["behavior"])));
    }
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    if !conditions.is_empty() {
        let each = conditions
            .iter()
            .map(|c| {
                Ordered::new()
                    .put("type", c["type"].clone())
                    .put("status", c["status"].clone())
                    .put("lastTransitionTime", c["lastTransitionTime"].clone())
                    .opt("reason", &c["reason"])
                    .opt("message", &c["message"])
            })
            .collect();
        annotations.insert(CONDITIONS.into(), json!(list_text(each)));
    }
    match (annotations.is_empty(), metadata.as_object_mut()) {
        (true, Some(m)) => {
            m.remove("annotations");
        }
        (false, Some(_)) => metadata["annotations"] = Value::Object(annotations),
        _ => {}
    }
    let mut spec_v1 = json!({"scaleTargetRef": spec["scaleTargetRef"], "maxReplicas": spec["maxReplicas"]});
    if !spec["minReplicas"].is_null() {
        spec_v1["minReplicas"] = spec["minReplicas"].clone();
    }
    if let Some(cpu) = metrics.iter().find(|m| is_cpu_utilization(m)) {
        spec_v1["targetCPUUtilizationPercentage"] = cpu["resource"]["target"]["averageUtilization"].clone();
    }
    let mut out = json!({"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v1", "metadata": metadata, "spec": spec_v1});
    if status.is_object() {
        let mut status_v1 = json!({"currentReplicas": int(&status["currentReplicas"]), "desiredReplicas": int(&status["desiredReplicas"])});
        for key in ["observedGeneration", "lastScaleTime"] {
            if !status[key].is_null() {
                status_v1[key] = status[key].clone();
            }
        }
        for m in &current {
            if m["type"] == "Resource" && m["resource"]["name"] == "cpu" && !m["resource"]["current"]["averageUtilization"].is_null() {
                status_v1["currentCPUUtilizationPercentage"] = m["resource"]["current"]["averageUtilization"].clone();
            }
        }
        out["status"] = status_v1;
    }
    out
}

// ---- v1 -> v2 ----

/// A field by name as Go's JSON decoding finds it: exactly, else ignoring ASCII case.
fn field<'a>(obj: &'a Value, name: &str) -> &'a Value {
    match obj.get(name) {
        Some(v) => v,
        None => obj.as_object().and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)).unwrap_or(&Value::Null),
    }
}

/// Sets `key` when `value` is not null.
fn set(obj: &mut Value, key: &str, value: &Value) {
    if !value.is_null() {
        obj[key] = value.clone();
    }
}

fn metric_identifier(name: &Value, selector: &Value) -> Value {
    let mut id = json!({"name": name.as_str().unwrap_or("")});
    set(&mut id, "selector", selector);
    id
}

fn target(kind: &str, value: &Value, average_value: &Value, utilization: &Value) -> Value {
    let mut t = json!({"type": kind});
    set(&mut t, "value", value);
    set(&mut t, "averageValue", average_value);
    set(&mut t, "averageUtilization", utilization);
    t
}

fn metric_spec_v2(m: &Value) -> Value {
    let mut out = json!({"type": field(m, "type")});
    let (object, pods, resource, container, external) = (field(m, "object"), field(m, "pods"), field(m, "resource"), field(m, "containerResource"), field(m, "external"));
    if object.is_object() {
        let average = field(object, "averageValue");
        let kind = if average.is_null() { "Value" } else { "AverageValue" };
        out["object"] = json!({
            "describedObject": field(object, "target"),
            "target": target(kind, &quantity(field(object, "targetValue")), average, &Value::Null),
            "metric": metric_identifier(field(object, "metricName"), field(object, "selector")),
        });
    }
    if pods.is_object() {
        out["pods"] = json!({
            "metric": metric_identifier(field(pods, "metricName"), field(pods, "selector")),
            "target": target("AverageValue", &Value::Null, &quantity(field(pods, "targetAverageValue")), &Value::Null),
        });
    }
    for (key, src) in [("resource", resource), ("containerResource", container)] {
        if src.is_object() {
            let utilization = field(src, "targetAverageUtilization");
            let kind = if utilization.is_null() { "AverageValue" } else { "Utilization" };
            out[key] = json!({"name": field(src, "name"), "target": target(kind, &Value::Null, field(src, "targetAverageValue"), utilization)});
            if key == "containerResource" {
                out[key]["container"] = field(src, "container").clone();
            }
        }
    }
    if external.is_object() {
        let value = field(external, "targetValue");
        let kind = if value.is_null() { "AverageValue" } else { "Value" };
        out["external"] = json!({
            "metric": metric_identifier(field(external, "metricName"), field(external, "metricSelector")),
            "target": target(kind, value, field(external, "targetAverageValue"), &Value::Null),
        });
    }
    out
}

fn current(value: &Value, average_value: &Value, utilization: &Value) -> Value {
    let mut c = json!({});
    set(&mut c, "value", value);
    set(&mut c, "averageValue", average_value);
    set(&mut c, "averageUtilization", utilization);
    c
}

fn metric_status_v2(m: &Value) -> Value {
    let mut out = json!({"type": field(m, "type")});
    let (object, pods, resource, container, external) = (field(m, "object"), field(m, "pods"), field(m, "resource"), field(m, "containerResource"), field(m, "external"));
    if object.is_object() {
        out["object"] = json!({
            "metric": metric_identifier(field(object, "metricName"), field(object, "selector")),
            "current": current(&quantity(field(object, "currentValue")), field(object, "averageValue"), &Value::Null),
            "describedObject": field(object, "target"),
        });
    }
    if pods.is_object() {
        out["pods"] = json!({
            "metric": metric_identifier(field(pods, "metricName"), field(pods, "selector")),
            "current": current(&Value::Null, &quantity(field(pods, "currentAverageValue")), &Value::Null),
        });
    }
    for (key, src) in [("resource", resource), ("containerResource", container)] {
        if src.is_object() {
            out[key] = json!({"name": field(src, "name"), "current": current(&Value::Null, &quantity(field(src, "currentAverageValue")), field(src, "currentAverageUtilization"))});
            if key == "containerResource" {
                out[key]["container"] = field(src, "container").clone();
            }
        }
    }
    if external.is_object() {
        out["external"] = json!({
            "metric": metric_identifier(field(external, "metricName"), field(external, "metricSelector")),
            "current": current(&quantity(field(external, "currentValue")), field(external, "currentAverageValue"), &Value::Null),
        });
    }
    out
}

fn behavior_v2(b: &Value) -> Option<Value> {
    let rules = |r: &Value| -> Value {
        if !r.is_object() {
            return Value::Null;
        }
        let mut out = json!({});
        set(&mut out, "stabilizationWindowSeconds", field(r, "StabilizationWindowSeconds"));
        set(&mut out, "selectPolicy", field(r, "SelectPolicy"));
        if let Some(ps) = field(r, "Policies").as_array() {
            out["policies"] = ps.iter().map(|p| json!({"type": field(p, "Type"), "value": int(field(p, "Value")), "periodSeconds": int(field(p, "PeriodSeconds"))})).collect();
        }
        out
    };
    let mut out = json!({});
    set(&mut out, "scaleUp", &rules(field(b, "ScaleUp")));
    set(&mut out, "scaleDown", &rules(field(b, "ScaleDown")));
    (out != json!({})).then_some(out)
}

fn parse_list(text: Option<&str>) -> Option<Vec<Value>> {
    serde_json::from_str::<Vec<Value>>(text?).ok()
}

fn hpa_v1_to_v2(mut v1: Value) -> Value {
    let spec = v1["spec"].take();
    let status = v1["status"].take();
    let mut metadata = v1["metadata"].take();
    let annotations = metadata["annotations"].as_object().cloned().unwrap_or_default();
    let note = |key: &str| annotations.get(key).and_then(Value::as_str);

    let mut metrics: Vec<Value> = parse_list(note(METRICS)).map(|ms| ms.iter().map(metric_spec_v2).collect()).unwrap_or_default();
    if let Some(cpu) = spec.get("targetCPUUtilizationPercentage").filter(|v| !v.is_null()) {
        metrics.push(json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}}));
    }
    if metrics.is_empty() {
        metrics.push(json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}));
    }
    let mut spec_v2 = json!({"scaleTargetRef": spec["scaleTargetRef"], "maxReplicas": spec["maxReplicas"], "metrics": metrics});
    // autoscaling/v1's own default.
    spec_v2["minReplicas"] = if spec["minReplicas"].is_null() { json!(1) } else { spec["minReplicas"].clone() };
    if let Some(behavior) = note(BEHAVIOR).and_then(|t| serde_json::from_str::<Value>(t).ok()).and_then(|b| behavior_v2(&b)) {
        spec_v2["behavior"] = behavior;
    }

    let mut out = json!({"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v2", "spec": spec_v2});
    if status.is_object() {
        let mut status_v2 = json!({"desiredReplicas": int(&status["desiredReplicas"])});
        if status["currentReplicas"].as_i64().is_some_and(|c| c != 0) {
            status_v2["currentReplicas"] = status["currentReplicas"].clone();
        }
        set(&mut status_v2, "observedGeneration", &status["observedGeneration"]);
        set(&mut status_v2, "lastScaleTime", &status["lastScaleTime"]);
        if let Some(cpu) = status.get("currentCPUUtilizationPercentage").filter(|v| !v.is_null()) {
            status_v2["currentMetrics"] = json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}}]);
        }
        if let Some(current) = parse_list(note(CURRENT_METRICS)) {
            status_v2["currentMetrics"] = current.iter().map(metric_status_v2).collect();
        }
        if let Some(conditions) = parse_list(note(CONDITIONS)) {
            status_v2["conditions"] = Value::Array(conditions);
        }
        out["status"] = status_v2;
    }
    let mut kept = annotations.clone();
    kept.retain(|k, _| !ROUND_TRIP.contains(&k.as_str()));
    if let Some(m) = metadata.as_object_mut() {
        if kept.is_empty() {
            m.remove("annotations");
        } else {
            m.insert("annotations".into(), Value::Object(kept));
        }
    }
    out["metadata"] = metadata;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    fn v1() -> ResourceType {
        Registry::default().find("autoscaling", "v1", "horizontalpodautoscalers").unwrap()
    }

    #[test]
    fn the_v1_cpu_target_is_a_v2_resource_metric_and_back() {
        let given = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 80}});
        let stored = into_storage(&v1(), given.clone());
        assert_eq!(stored["apiVersion"], "autoscaling/v2");
        assert_eq!(stored["spec"]["metrics"], json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]));
        assert_eq!(stored["spec"]["minReplicas"], 2);
        let back = out(&v1(), &stored).into_owned();
        assert_eq!(back["spec"], given["spec"]);
        assert!(back["metadata"].get("annotations").is_none(), "nothing v1 cannot say");
        let defaulted = into_storage(&v1(), json!({"metadata": {"name": "x"}, "spec": {"maxReplicas": 3}}));
        assert_eq!(defaulted["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 80);
        assert_eq!(defaulted["spec"]["minReplicas"], 1);
    }

    #[test]
    fn what_v1_cannot_say_travels_in_annotations_and_comes_back() {
        let stored = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "annotations": {"team": "a"}},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                    {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}},
            "status": {"currentReplicas": 2, "desiredReplicas": 3,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 55, "averageValue": "100m"}}}],
                "conditions": [{"type": "AbleToScale", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "ReadyForNewScale"}]}});
        let v = out(&v1(), &stored).into_owned();
        assert_eq!(v["spec"]["targetCPUUtilizationPercentage"], 70);
        assert_eq!(v["status"], json!({"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 55}));
        let notes = &v["metadata"]["annotations"];
        assert_eq!(notes["team"], "a");
        assert_eq!(notes[METRICS], r#"[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"500Mi"}},{"type":"Pods","pods":{"metricName":"qps","targetAverageValue":"10"}}]"#);
        assert_eq!(notes[CURRENT_METRICS], r#"[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":55,"currentAverageValue":"100m"}}]"#);
        assert_eq!(notes[BEHAVIOR], r#"{"ScaleUp":null,"ScaleDown":{"StabilizationWindowSeconds":300,"SelectPolicy":"Max","Policies":[{"Type":"Percent","Value":100,"PeriodSeconds":15}]}}"#);
        assert_eq!(notes[CONDITIONS], r#"[{"type":"AbleToScale","status":"True","lastTransitionTime":"2026-01-01T00:00:00Z","reason":"ReadyForNewScale"}]"#);
        let round = into_storage(&v1(), v);
        assert_eq!(round["metadata"]["annotations"], json!({"team": "a"}), "the round-trip annotations are not stored");
        let mut expected_metrics = stored["spec"]["metrics"].as_array().unwrap().clone();
        expected_metrics.rotate_left(1);
        assert_eq!(round["spec"]["metrics"], json!(expected_metrics), "the others first, then the cpu target, as the real conversion orders them");
        assert_eq!(round["spec"]["behavior"], stored["spec"]["behavior"]);
        assert_eq!(round["status"], stored["status"]);
    }
}
