//! Strategic merge patch (`application/strategic-merge-patch+json`) for the
//! built-in kinds: JSON merge patch semantics for maps, plus lists merged as
//! `merge_keys` declares them, and the directives kubectl sends — `$patch:
//! replace|delete|merge`, `$retainKeys`, `$setElementOrder/<list>` and
//! `$deleteFromPrimitiveList/<list>`. Server-side apply merges applied
//! configurations with the same code, with lists as apply types them
//! (`merge_keys::ListType`: keys of several fields, defaulted key fields).
//! This file must not decide which kinds
//! accept a strategic patch (custom kinds are 415, see `verbs`) nor touch the
//! store.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::merge_keys::{list_strategy, ListStrategy, ListType, Lists, MapKey};

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// Which rules type the lists of one merge.
#[derive(Clone, Copy)]
enum Rules<'a> {
    /// A strategic merge patch of a built-in kind: one merge key per list map.
    Patch(&'a str),
    /// A server-side apply configuration: apply's list types.
    Apply(Lists<'a>),
}

impl Rules<'_> {
    fn list(&self, path: &[String]) -> ListType {
        match self {
            Rules::Patch(kind) => match list_strategy(kind, path) {
                ListStrategy::Atomic => ListType::Atomic,
                ListStrategy::Set => ListType::Set,
                ListStrategy::Map(key) => ListType::Map(vec![MapKey { field: key.into(), default: None }]),
            },
            Rules::Apply(lists) => lists.list_type(path),
        }
    }
}

/// `original` with the strategic merge `patch` of an object of `kind` applied.
pub fn apply(kind: &str, original: &Value, patch: &Value) -> Result<Value, ApiError> {
    merge(Rules::Patch(kind), original, patch)
}

/// `original` with a server-side apply configuration merged in, lists as `lists` types them.
pub fn apply_configuration(lists: Lists, original: &Value, config: &Value) -> Result<Value, ApiError> {
    merge(Rules::Apply(lists), original, config)
}

fn merge(kind: Rules, original: &Value, patch: &Value) -> Result<Value, ApiError> {
    let Value::Object(patch) = patch else {
        return Err(ApiError::BadRequest("a strategic merge patch must be a JSON object".into()));
    };
    let empty = Map::new();
    let original = original.as_object().unwrap_or(&empty);
    Ok(merge_map(kind, &mut Vec::new(), original, patch)?.map(Value::Object).unwrap_or_else(|| Value::Object(Map::new())))
}

fn bad(message: String) -> ApiError {
    ApiError::BadRequest(message)
}

/// Merges a patch map onto an original one; None when the patch deletes it.
fn merge_map(kind: Rules, path: &mut Vec<String>, original: &Map<String, Value>, patch: &Map<String, Value>) -> Result<Option<Map<String, Value>>, ApiError> {
    match patch.get(PATCH).map(|d| d.as_str()) {
        None | Some(Some("merge")) => {}
        Some(Some("delete")) => return Ok(None),
        Some(Some("replace")) => {
            let mut without = patch.clone();
            without.remove(PATCH);
            return merge_map(kind, path, &Map::new(), &without);
        }
        Some(other) => return Err(bad(format!("Unknown patch type: {}", other.unwrap_or("(not a string)")))),
    }
    let mut merged = original.clone();
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix(DELETE_PRIMITIVE) {
            let doomed = value.as_array().ok_or_else(|| bad(format!("{key} must be a list")))?;
            if let Some(Value::Array(items)) = merged.get_mut(list) {
                items.retain(|item| !doomed.contains(item));
            }
        }
    }
    for (key, value) in patch {
        if key == PATCH || key == RETAIN_KEYS || key.starts_with(ORDER) || key.starts_with(DELETE_PRIMITIVE) {
            continue;
        }
        path.push(key.clone());
        let next = match (merged.get(key), value) {
            (_, Value::Null) => None,
            (Some(Value::Object(o)), Value::Object(p)) => merge_map(kind, path, o, p)?.map(Value::Object),
            (None, Value::Object(p)) => merge_map(kind, path, &Map::new(), p)?.map(Value::Object),
            (Some(Value::Array(o)), Value::Array(p)) => Some(Value::Array(merge_list(kind, path, o, p)?)),
            (None, Value::Array(p)) => Some(Value::Array(merge_list(kind, path, &[], p)?)),
            (_, v) => Some(v.clone()),
        };
        path.pop();
        match next {
            Some(v) => merged.insert(key.clone(), v),
            None => merged.remove(key),
        };
    }
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let keep: Vec<&str> = retain.as_array().ok_or_else(|| bad("$retainKeys must be a list".into()))?.iter().filter_map(Value::as_str).collect();
        merged.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, order) in patch {
        if let Some(list) = key.strip_prefix(ORDER) {
            let order = order.as_array().ok_or_else(|| bad(format!("{key} must be a list")))?;
            path.push(list.to_string());
            let strategy = kind.list(path);
            path.pop();
            if let Some(Value::Array(items)) = merged.get_mut(list) {
                reorder(items, order, &strategy);
            }
        }
    }
    Ok(Some(merged))
}

/// Merges a patch list onto an original one by the list's strategy.
fn merge_list(kind: Rules, path: &mut Vec<String>, original: &[Value], patch: &[Value]) -> Result<Vec<Value>, ApiError> {
    let replace = patch.iter().any(|item| item.get(PATCH).and_then(Value::as_str) == Some("replace"));
    let strategy = kind.list(path);
    if replace || strategy == ListType::Atomic {
        let items = patch.iter().filter(|item| item.get(PATCH).is_none());
        return items.map(|item| strip_directives(kind, path, item)).collect();
    }
    let mut merged = original.to_vec();
    for (i, item) in patch.iter().enumerate() {
        match &strategy {
            ListType::Set => {
                if !merged.contains(item) {
                    merged.push(item.clone());
                }
            }
            ListType::Map(keys) => {
                let Value::Object(p) = item else {
                    return Err(bad(format!("the list {} holds objects keyed by {}", path.join("."), names(keys))));
                };
                let id = ListType::key_of(keys, item).map_err(|missing| match kind {
                    Rules::Patch(_) => bad(format!("map: {p:?} does not contain declared merge key: {missing}")),
                    Rules::Apply(_) => bad(format!(
                        ".{}: element {i}: associative list with keys has an element that omits key field {missing:?} (and doesn't have default value)",
                        path.join(".")
                    )),
                })?;
                let at = merged.iter().position(|o| ListType::key_of(keys, o).is_ok_and(|k| k == id));
                if p.get(PATCH).and_then(Value::as_str) == Some("delete") {
                    if let Some(i) = at {
                        merged.remove(i);
                    }
                    continue;
                }
                let empty = Map::new();
                let base = at.and_then(|i| merged[i].as_object()).unwrap_or(&empty).clone();
                let Some(next) = merge_map(kind, path, &base, p)? else { continue };
                match at {
                    Some(i) => merged[i] = Value::Object(next),
                    None => merged.push(Value::Object(next)),
                }
            }
            ListType::Atomic => {}
        }
    }
    Ok(merged)
}

fn names(keys: &[MapKey]) -> String {
    keys.iter().map(|k| k.field.as_str()).collect::<Vec<_>>().join(",")
}

/// A value set whole, with any directives it carries resolved against nothing.
fn strip_directives(kind: Rules, path: &mut Vec<String>, value: &Value) -> Result<Value, ApiError> {
    match value {
        Value::Object(p) => Ok(merge_map(kind, path, &Map::new(), p)?.map(Value::Object).unwrap_or_default()),
        other => Ok(other.clone()),
    }
}

/// Puts items in the order `$setElementOrder` gives; items it does not name
/// (the server's own) keep their relative place after the named ones.
fn reorder(items: &mut [Value], order: &[Value], strategy: &ListType) {
    let id = |item: &Value| match strategy {
        ListType::Map(keys) => ListType::key_of(keys, item).ok().map(Value::Object),
        _ => Some(item.clone()),
    };
    let order: Vec<Option<Value>> = order.iter().map(id).collect();
    let rank = |item: &Value| {
        let id = id(item);
        order.iter().position(|o| o.is_some() && *o == id).unwrap_or(usize::MAX)
    };
    items.sort_by_key(rank);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({"metadata": {"name": "web", "finalizers": ["a"]},
            "spec": {"replicas": 1, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "1"}]},
                {"name": "side", "image": "busybox"}],
            "tolerations": [{"key": "x"}]}}}})
    }

    #[test]
    fn containers_merge_by_name_and_keep_the_fields_the_patch_leaves_out() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}});
        let out = apply("Deployment", &deployment(), &patch).unwrap();
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "nginx:2");
        assert_eq!(containers[0]["ports"], json!([{"containerPort": 80}]));
        assert_eq!(containers[1]["name"], "side");
    }

    #[test]
    fn a_new_item_is_appended_and_a_delete_directive_removes_one() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "side", "$patch": "delete"}, {"name": "new", "image": "x"}]}}}});
        let out = apply("Deployment", &deployment(), &patch).unwrap();
        let names: Vec<_> = out["spec"]["template"]["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].clone()).collect();
        assert_eq!(names, vec![json!("web"), json!("new")]);
    }

    #[test]
    fn env_and_ports_merge_by_their_keys_and_nulls_delete_fields() {
        let patch = json!({"spec": {"replicas": null, "template": {"spec": {"containers": [
            {"name": "web", "env": [{"name": "B", "value": "2"}], "ports": [{"containerPort": 80, "name": "http"}]}]}}}});
        let out = apply("Deployment", &deployment(), &patch).unwrap();
        let web = &out["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(web["env"], json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]));
        assert_eq!(web["ports"], json!([{"containerPort": 80, "name": "http"}]));
        assert!(out["spec"].get("replicas").is_none());
    }

    #[test]
    fn atomic_lists_are_replaced_and_finalizers_are_a_set() {
        let patch = json!({"metadata": {"finalizers": ["b", "a"]}, "spec": {"template": {"spec": {"tolerations": [{"key": "y"}]}}}});
        let out = apply("Deployment", &deployment(), &patch).unwrap();
        assert_eq!(out["spec"]["template"]["spec"]["tolerations"], json!([{"key": "y"}]));
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
    }

    #[test]
    fn replace_retain_keys_order_and_delete_from_primitive_list_directives() {
        let patch = json!({
            "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]},
            "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                "template": {"spec": {
                    "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
                    "containers": [{"name": "web", "image": "nginx:3"}]}}}});
        let out = apply("Deployment", &deployment(), &patch).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!([]));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(out["spec"]["template"]["spec"]["containers"][0]["name"], "side");
        assert_eq!(out["spec"]["template"]["spec"]["containers"][1]["image"], "nginx:3");

        let replace = json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}},
            "strategy": {"$patch": "replace", "type": "Recreate"}}});
        let out = apply("Deployment", &deployment(), &replace).unwrap();
        assert_eq!(out["spec"]["template"]["spec"]["containers"], json!([{"name": "only", "image": "x"}]));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn service_ports_merge_by_port() {
        let svc = json!({"spec": {"ports": [{"port": 80, "nodePort": 30001}, {"port": 443}]}});
        let out = apply("Service", &svc, &json!({"spec": {"ports": [{"port": 80, "name": "http"}]}})).unwrap();
        assert_eq!(out["spec"]["ports"], json!([{"port": 80, "nodePort": 30001, "name": "http"}, {"port": 443}]));
    }

    #[test]
    fn applied_service_ports_are_keyed_by_port_and_protocol_defaulted_tcp() {
        let svc = json!({"spec": {"ports": [{"port": 53, "protocol": "TCP", "nodePort": 30001}]}});
        let config = json!({"spec": {"ports": [{"port": 53, "name": "dns"}, {"port": 53, "protocol": "UDP", "name": "dns-udp"}]}});
        let out = apply_configuration(Lists::Kind("Service"), &svc, &config).unwrap();
        assert_eq!(out["spec"]["ports"], json!([{"port": 53, "protocol": "TCP", "nodePort": 30001, "name": "dns"}, {"port": 53, "protocol": "UDP", "name": "dns-udp"}]));
        let err = apply_configuration(Lists::Kind("Service"), &svc, &json!({"spec": {"ports": [{"name": "x"}]}})).unwrap_err();
        assert!(err.to_string().contains(r#"element 0: associative list with keys has an element that omits key field "port""#), "{err}");
    }
}
