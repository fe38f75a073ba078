//! `events.k8s.io/v1` Events as a view of the core/v1 events the store keeps,
//! as the real server serves them from one storage: the field mapping of
//! Kubernetes' `pkg/apis/events/v1` conversion (regarding ↔ involvedObject,
//! note ↔ message, reportingController ↔ reportingComponent,
//! deprecatedSource ↔ source, deprecatedFirstTimestamp/deprecatedLastTimestamp/
//! deprecatedCount ↔ firstTimestamp/lastTimestamp/count; series, action,
//! reason, type, eventTime, related and reportingInstance by name). It plugs
//! into `conversion`'s one mechanism (`storage_of`/`out`/`into_storage`); this
//! file must not touch the store nor decide routing.

use serde_json::{json, Map, Value};

use crate::error::{ApiError, FieldCause};
use crate::resources::ResourceType;

/// Whether `rt` is `events.k8s.io/v1` events.
pub fn is_events_v1(rt: &ResourceType) -> bool {
    rt.group == "events.k8s.io" && rt.plural == "events"
}

/// The core/v1 type those events are stored as.
pub fn storage(rt: &ResourceType) -> ResourceType {
    ResourceType { group: String::new(), version: "v1".into(), short_names: vec!["ev".into()], ..rt.clone() }
}

fn copy(from: &Value, from_key: &str, to: &mut Map<String, Value>, to_key: &str) {
    if let Some(v) = from.get(from_key).filter(|v| !v.is_null()) {
        to.insert(to_key.to_string(), v.clone());
    }
}

/// A stored core/v1 Event as events.k8s.io/v1 shows it.
pub fn to_events_v1(core: &Value) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!("Event"));
    out.insert("apiVersion".into(), json!("events.k8s.io/v1"));
    copy(core, "metadata", &mut out, "metadata");
    // MicroTime is not a pointer in events.k8s.io/v1: its zero is null.
    out.insert("eventTime".into(), core.get("eventTime").cloned().unwrap_or(Value::Null));
    copy(core, "series", &mut out, "series");
    for key in ["reportingInstance", "action", "reason"] {
        if core[key].as_str().is_some_and(|s| !s.is_empty()) {
            out.insert(key.into(), core[key].clone());
        }
    }
    if core["reportingComponent"].as_str().is_some_and(|s| !s.is_empty()) {
        out.insert("reportingController".into(), core["reportingComponent"].clone());
    }
    copy(core, "involvedObject", &mut out, "regarding");
    copy(core, "related", &mut out, "related");
    if core["message"].as_str().is_some_and(|s| !s.is_empty()) {
        out.insert("note".into(), core["message"].clone());
    }
    if core["type"].as_str().is_some_and(|s| !s.is_empty()) {
        out.insert("type".into(), core["type"].clone());
    }
    if core["source"].as_object().is_some_and(|s| !s.is_empty()) {
        out.insert("deprecatedSource".into(), core["source"].clone());
    }
    copy(core, "firstTimestamp", &mut out, "deprecatedFirstTimestamp");
    copy(core, "lastTimestamp", &mut out, "deprecatedLastTimestamp");
    if core["count"].as_i64().is_some_and(|c| c != 0) {
        out.insert("deprecatedCount".into(), core["count"].clone());
    }
    Value::Object(out)
}

/// The most a note may hold (Kubernetes' `NoteLengthLimit`).
const NOTE_LIMIT: usize = 1024;

/// The real `ValidateEventCreate` for an Event created through events.k8s.io/v1.
pub fn validate_create(rt: &ResourceType, ev: &Value) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    let required = |field: &str| FieldCause { reason: "FieldValueRequired", field: field.to_string(), message: "Required value".into() };
    let empty = |key: &str| ev[key].as_str().is_none_or(str::is_empty);
    if empty("eventTime") {
        causes.push(required("eventTime"));
    }
    match ev["type"].as_str() {
        Some("Normal" | "Warning") => {}
        other => causes.push(FieldCause {
            reason: "FieldValueNotSupported",
            field: "type".into(),
            message: format!("Unsupported value: \"{}\": supported values: \"Normal\", \"Warning\"", other.unwrap_or("")),
        }),
    }
    for key in ["reportingController", "reportingInstance", "action", "reason"] {
        if empty(key) {
            causes.push(required(key));
        }
    }
    if ev["note"].as_str().is_some_and(|n| n.len() > NOTE_LIMIT) {
        causes.push(FieldCause { reason: "FieldValueTooLong", field: "note".into(), message: format!("Too long: may not be more than {NOTE_LIMIT} bytes") });
    }
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(&rt.gr(), &rt.kind, ev["metadata"]["name"].as_str().unwrap_or(""), causes))
}

/// An events.k8s.io/v1 Event as core/v1 stores it.
pub fn to_core(ev: Value) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!("Event"));
    out.insert("apiVersion".into(), json!("v1"));
    copy(&ev, "metadata", &mut out, "metadata");
    out.insert("involvedObject".into(), ev.get("regarding").filter(|v| !v.is_null()).cloned().unwrap_or_else(|| json!({})));
    copy(&ev, "reason", &mut out, "reason");
    copy(&ev, "note", &mut out, "message");
    out.insert("source".into(), ev.get("deprecatedSource").filter(|v| !v.is_null()).cloned().unwrap_or_else(|| json!({})));
    out.insert("firstTimestamp".into(), ev.get("deprecatedFirstTimestamp").cloned().unwrap_or(Value::Null));
    out.insert("lastTimestamp".into(), ev.get("deprecatedLastTimestamp").cloned().unwrap_or(Value::Null));
    copy(&ev, "deprecatedCount", &mut out, "count");
    copy(&ev, "type", &mut out, "type");
    out.insert("eventTime".into(), ev.get("eventTime").cloned().unwrap_or(Value::Null));
    copy(&ev, "series", &mut out, "series");
    copy(&ev, "action", &mut out, "action");
    copy(&ev, "related", &mut out, "related");
    out.insert("reportingComponent".into(), ev.get("reportingController").filter(|v| !v.is_null()).cloned().unwrap_or_else(|| json!("")));
    out.insert("reportingInstance".into(), ev.get("reportingInstance").filter(|v| !v.is_null()).cloned().unwrap_or_else(|| json!("")));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_events_read_with_the_events_k8s_io_names_and_round_trip() {
        let core = json!({
            "kind": "Event", "apiVersion": "v1",
            "metadata": {"name": "web.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
            "reason": "Pulled", "message": "Container image pulled", "type": "Normal",
            "source": {"component": "kubelet", "host": "sim-node"},
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:01:00Z", "count": 3,
            "eventTime": null, "reportingComponent": "kubelet", "reportingInstance": "sim-node",
        });
        let v1 = to_events_v1(&core);
        assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
        assert_eq!(v1["regarding"]["name"], "web");
        assert_eq!(v1["note"], "Container image pulled");
        assert_eq!(v1["reportingController"], "kubelet");
        assert_eq!(v1["deprecatedSource"]["component"], "kubelet");
        assert_eq!((v1["deprecatedCount"].as_i64(), v1["deprecatedLastTimestamp"].as_str()), (Some(3), Some("2026-01-01T00:01:00Z")));
        assert!(v1.get("message").is_none() && v1.get("involvedObject").is_none());
        assert_eq!(to_core(v1.clone()), core);
        let rt = ResourceType { group: "events.k8s.io".into(), version: "v1".into(), plural: "events".into(), kind: "Event".into(), ..storage_dummy() };
        let refused = validate_create(&rt, &v1).unwrap_err().to_string();
        // A kubelet-style core event lacks what events.k8s.io/v1 requires, but not its controller.
        assert!(refused.contains("eventTime: Required value") && refused.contains("action: Required value"), "{refused}");
        assert!(!refused.contains("reportingController"), "{refused}");
    }

    fn storage_dummy() -> ResourceType {
        crate::resources::Registry::default().find("", "v1", "events").expect("core events")
    }
}
