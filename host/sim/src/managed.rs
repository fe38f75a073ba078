//! Field ownership: `metadata.managedFields` and server-side apply. An
//! object's fields are a set of paths in the FieldsV1 format (`f:spec`,
//! `k:{"name":"web"}` for an item of a keyed list, `v:"x"` for a set member,
//! `.` for an item or map owned itself); each manager owns a set, per
//! operation (Apply or Update). An apply merges the applied configuration
//! (lists as `merge_keys` declares them), refuses changes to fields another
//! manager owns (409 with `FieldManagerConflict` causes) unless forced, and
//! removes the fields its manager applied before and omits now when no one
//! else owns them; every other write gives its manager the fields it changed.
//! This file must not touch the store or parse requests (see `verbs`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::merge_keys::{ListType, Lists};
use crate::strategic;

/// One element of a field path, as FieldsV1 spells it (`f:spec`, `k:{...}`, `v:...`).
type Path = Vec<String>;

/// What a path holds in an object: a value (a leaf) or an item/map owned as a whole.
#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Node,
    Leaf(Value),
}

/// Who is writing, and how the object is served.
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    /// Where the object's list types come from (`merge_keys` for built-in kinds, a CRD's schema).
    pub lists: Lists<'a>,
    pub now: &'a str,
    /// The subresource written through (`scale`, `status`), recorded on Update entries.
    pub subresource: Option<&'a str>,
}

/// A manager's entry in `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq)]
struct Manager {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: String,
    fields: BTreeSet<Path>,
}

/// Maps whose keys are owned one by one and which are owned themselves (`.`) when an update creates them.
const GRANULAR_MAPS: [&str; 8] = ["labels", "annotations", "data", "binaryData", "stringData", "matchLabels", "nodeSelector", "selector"];

/// Server-set metadata no manager owns.
const SERVER_METADATA: [&str; 8] = ["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "deletionTimestamp"];

/// Every owned path of `obj` with what it holds; `dots` adds `.` for granular maps.
fn entries(kind: Lists, obj: &Value, dots: bool) -> BTreeMap<Path, Entry> {
    let mut out = BTreeMap::new();
    let Some(top) = obj.as_object() else { return out };
    let mut names = Vec::new();
    let mut path = Vec::new();
    for (key, value) in top {
        if key == "apiVersion" || key == "kind" || key == "status" {
            continue;
        }
        if key == "metadata" {
            let Some(meta) = value.as_object() else { continue };
            for (mk, mv) in meta {
                if SERVER_METADATA.contains(&mk.as_str()) {
                    continue;
                }
                names.extend(["metadata".to_string(), mk.clone()]);
                path.extend(["f:metadata".to_string(), format!("f:{mk}")]);
                walk(kind, mv, &mut names, &mut path, dots, &mut out);
                names.truncate(0);
                path.truncate(0);
            }
            continue;
        }
        names.push(key.clone());
        path.push(format!("f:{key}"));
        walk(kind, value, &mut names, &mut path, dots, &mut out);
        names.pop();
        path.pop();
    }
    out
}

fn walk(kind: Lists, value: &Value, names: &mut Vec<String>, path: &mut Path, dots: bool, out: &mut BTreeMap<Path, Entry>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            if dots && names.last().is_some_and(|n| GRANULAR_MAPS.contains(&n.as_str())) {
                out.insert(path.clone(), Entry::Node);
            }
            for (k, v) in map {
                names.push(k.clone());
                path.push(format!("f:{k}"));
                walk(kind, v, names, path, dots, out);
                names.pop();
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match kind.list_type(names) {
            ListType::Map(keys) => {
                for item in items {
                    // A key field the item omits counts with its default, as the real server keys them.
                    let Ok(id) = ListType::key_of(&keys, item) else { continue };
                    path.push(format!("k:{}", Value::Object(id)));
                    out.insert(path.clone(), Entry::Node);
                    if let Some(fields) = item.as_object() {
                        for (k, v) in fields {
                            names.push(k.clone());
                            path.push(format!("f:{k}"));
                            walk(kind, v, names, path, dots, out);
                            names.pop();
                            path.pop();
                        }
                    }
                    path.pop();
                }
            }
            ListType::Set => {
                for item in items {
                    path.push(format!("v:{item}"));
                    out.insert(path.clone(), Entry::Leaf(item.clone()));
                    path.pop();
                }
            }
            ListType::Atomic => {
                out.insert(path.clone(), Entry::Leaf(value.clone()));
            }
        },
        other => {
            out.insert(path.clone(), Entry::Leaf(other.clone()));
        }
    }
}

/// A set of paths as the FieldsV1 tree (`{"f:spec": {"f:replicas": {}}}`).
fn render(fields: &BTreeSet<Path>) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for element in path {
            let child = node.entry(element.clone()).or_insert_with(|| json!({}));
            let Value::Object(child) = child else { break };
            node = child;
        }
    }
    let mut tree = Value::Object(root);
    mark_owned_nodes(&mut tree, fields, &mut Vec::new());
    tree
}

fn mark_owned_nodes(tree: &mut Value, fields: &BTreeSet<Path>, path: &mut Path) {
    let Value::Object(map) = tree else { return };
    if !map.is_empty() && fields.contains(path) {
        map.insert(".".into(), json!({}));
    }
    for (k, v) in map.iter_mut() {
        if k != "." {
            path.push(k.clone());
            mark_owned_nodes(v, fields, path);
            path.pop();
        }
    }
}

/// The set of paths a FieldsV1 tree holds.
fn parse(tree: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
    let Some(map) = tree.as_object() else { return };
    if map.is_empty() && !path.is_empty() {
        out.insert(path.clone());
    }
    for (k, v) in map {
        if k == "." {
            out.insert(path.clone());
            continue;
        }
        path.push(k.clone());
        parse(v, path, out);
        path.pop();
    }
}

fn managers_of(obj: &Value) -> Vec<Manager> {
    let Some(list) = obj["metadata"]["managedFields"].as_array() else { return Vec::new() };
    list.iter()
        .map(|m| {
            let mut fields = BTreeSet::new();
            parse(&m["fieldsV1"], &mut Vec::new(), &mut fields);
            let text = |k: &str| m[k].as_str().unwrap_or("").to_string();
            Manager {
                manager: text("manager"),
                operation: text("operation"),
                api_version: text("apiVersion"),
                time: text("time"),
                subresource: text("subresource"),
                fields,
            }
        })
        .collect()
}

fn set_managers(obj: &mut Value, managers: &[Manager]) {
    let list: Vec<Value> = managers
        .iter()
        .filter(|m| !m.fields.is_empty())
        .map(|m| {
            let mut entry = json!({"manager": m.manager, "operation": m.operation, "apiVersion": m.api_version, "time": m.time,
                "fieldsType": "FieldsV1", "fieldsV1": render(&m.fields)});
            if !m.subresource.is_empty() {
                entry["subresource"] = json!(m.subresource);
            }
            entry
        })
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// Keeps the current entries verbatim when no ownership changed (a no-op write stays a no-op).
fn store_managers(next: &mut Value, current: &Value, old: &[Manager], new: Vec<Manager>) {
    let same = |a: &[Manager], b: &[Manager]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (&x.manager, &x.operation, &x.fields) == (&y.manager, &y.operation, &y.fields));
    let kept: Vec<Manager> = new.into_iter().filter(|m| !m.fields.is_empty()).collect();
    if same(old, &kept) {
        match current["metadata"].get("managedFields") {
            Some(fields) => next["metadata"]["managedFields"] = fields.clone(),
            None => set_managers(next, &[]),
        }
    } else {
        set_managers(next, &kept);
    }
}

/// Records a non-apply write (create, update, patch): the writer owns the
/// fields it changed, which no one else owns any longer.
pub fn record_update(writer: &Writer, current: &Value, mut next: Value) -> Value {
    let old_managers = managers_of(current);
    let before = entries(writer.lists, current, true);
    let after = entries(writer.lists, &next, true);
    let changed: BTreeSet<Path> = after.iter().filter(|(p, e)| before.get(*p) != Some(*e)).map(|(p, _)| p.clone()).collect();
    let removed: BTreeSet<Path> = before.keys().filter(|p| !after.contains_key(*p)).cloned().collect();
    // Entries a write sets itself are taken as given (kubectl moves client-side
    // apply ownership to its server-side manager this way); left alone, they stay.
    let given = next["metadata"].get("managedFields");
    let mut managers = match given {
        Some(list) if Some(list) != current["metadata"].get("managedFields") => managers_of(&next),
        _ => old_managers.clone(),
    };
    for m in managers.iter_mut() {
        m.fields.retain(|p| !changed.contains(p) && !removed.contains(p));
    }
    if !changed.is_empty() {
        let subresource = writer.subresource.unwrap_or("");
        let at = managers.iter().position(|m| m.manager == writer.manager && m.operation == "Update" && m.subresource == subresource);
        let entry = match at {
            Some(i) => &mut managers[i],
            None => {
                managers.push(Manager {
                    manager: writer.manager.into(),
                    operation: "Update".into(),
                    api_version: String::new(),
                    time: String::new(),
                    subresource: subresource.into(),
                    fields: BTreeSet::new(),
                });
                let last = managers.len() - 1;
                &mut managers[last]
            }
        };
        entry.fields.extend(changed);
        entry.api_version = writer.api_version.into();
        entry.time = writer.now.into();
    }
    store_managers(&mut next, current, &old_managers, managers);
    next
}

/// Server-side apply of `config` onto `current` (`{}` for a new object).
pub fn apply(writer: &Writer, current: &Value, config: &Value, force: bool) -> Result<Value, ApiError> {
    if !config.is_object() {
        return Err(ApiError::BadRequest("an applied configuration must be an object".into()));
    }
    if config["metadata"].get("managedFields").is_some_and(|m| !m.is_null()) {
        return Err(ApiError::BadRequest("metadata.managedFields must be nil".into()));
    }
    let old_managers = managers_of(current);
    let mut managers = old_managers.clone();
    let applied = entries(writer.lists, config, false);
    let now_owned: BTreeSet<Path> = applied.keys().cloned().collect();
    let existing = entries(writer.lists, current, false);
    let is_me = |m: &Manager| m.manager == writer.manager && m.operation == "Apply" && m.subresource.is_empty();

    let mut conflicts: Vec<(String, String, Path)> = Vec::new();
    for m in managers.iter().filter(|m| !is_me(m)) {
        for (path, entry) in &applied {
            let Entry::Leaf(value) = entry else { continue };
            if m.fields.contains(path) && existing.get(path).is_some_and(|e| e != &Entry::Leaf(value.clone())) {
                let who = match m.subresource.as_str() {
                    "" => format!("\"{}\"", m.manager),
                    sub => format!("\"{}\" with subresource \"{sub}\"", m.manager),
                };
                conflicts.push((who, m.api_version.clone(), path.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(&conflicts));
    }
    let taken: BTreeSet<&Path> = conflicts.iter().map(|(_, _, p)| p).collect();
    for m in managers.iter_mut().filter(|m| !is_me(m)) {
        m.fields.retain(|p| !taken.contains(p));
    }

    let previously: BTreeSet<Path> = managers.iter().filter(|m| is_me(m)).flat_map(|m| m.fields.iter().cloned()).collect();
    let others: BTreeSet<&Path> = managers.iter().filter(|m| !is_me(m)).flat_map(|m| m.fields.iter()).collect();
    let mut base = current.clone();
    // Parents before children: a removed item takes its fields along, and a
    // kept item keeps its key fields.
    for path in previously.iter().filter(|p| !now_owned.contains(*p)) {
        let shared = others.iter().any(|o| o.starts_with(path));
        if !shared && !is_key_of_its_item(path) {
            remove_path(&mut base, path);
        }
    }
    let mut next = strategic::apply_configuration(writer.lists, &base, config)?;
    match managers.iter().position(is_me) {
        Some(i) => {
            managers[i].fields = now_owned;
            managers[i].api_version = writer.api_version.into();
            managers[i].time = writer.now.into();
        }
        None => managers.push(Manager {
            manager: writer.manager.into(),
            operation: "Apply".into(),
            api_version: writer.api_version.into(),
            time: writer.now.into(),
            subresource: String::new(),
            fields: now_owned,
        }),
    }
    store_managers(&mut next, current, &old_managers, managers);
    Ok(next)
}

/// Whether `path` is the key field of a keyed item (`k:{"name":..}` then `f:name`).
fn is_key_of_its_item(path: &[String]) -> bool {
    let [.., item, field] = path else { return false };
    let (Some(key), Some(field)) = (item.strip_prefix("k:"), field.strip_prefix("f:")) else { return false };
    serde_json::from_str::<Map<String, Value>>(key).is_ok_and(|k| k.contains_key(field))
}

/// Deletes what `path` names: a field, a keyed item, or a set member.
fn remove_path(obj: &mut Value, path: &[String]) {
    let Some((last, above)) = path.split_last() else { return };
    let mut node = obj;
    for element in above {
        let next = match locate(node, element) {
            Some(n) => n,
            None => return,
        };
        node = next;
    }
    if let Some(name) = last.strip_prefix("f:") {
        if let Some(map) = node.as_object_mut() {
            map.remove(name);
        }
    } else if let Value::Array(items) = node {
        items.retain(|item| !matches_element(item, last));
    }
}

fn locate<'a>(node: &'a mut Value, element: &str) -> Option<&'a mut Value> {
    if let Some(name) = element.strip_prefix("f:") {
        return node.as_object_mut()?.get_mut(name);
    }
    node.as_array_mut()?.iter_mut().find(|item| matches_element(item, element))
}

fn matches_element(item: &Value, element: &str) -> bool {
    if let Some(key) = element.strip_prefix("k:") {
        let Ok(Value::Object(key)) = serde_json::from_str::<Value>(key) else { return false };
        return key.iter().all(|(k, v)| item.get(k) == Some(v));
    }
    if let Some(value) = element.strip_prefix("v:") {
        return serde_json::from_str::<Value>(value).is_ok_and(|v| &v == item);
    }
    false
}

/// A path as the real server prints it: `.spec.template.spec.containers[name="web"].image`.
fn display(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(name) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(name);
        } else if let Some(key) = element.strip_prefix("k:") {
            let parts = serde_json::from_str::<Map<String, Value>>(key).unwrap_or_default();
            let keys: Vec<String> = parts.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", keys.join(",")));
        } else if let Some(value) = element.strip_prefix("v:") {
            out.push_str(&format!("[={value}]"));
        }
    }
    out
}

fn conflict_error(conflicts: &[(String, String, Path)]) -> ApiError {
    let mut by_manager: Vec<(&str, &str, Vec<String>)> = Vec::new();
    for (manager, api_version, path) in conflicts {
        match by_manager.iter_mut().find(|(m, _, _)| m == manager) {
            Some((_, _, fields)) => fields.push(display(path)),
            None => by_manager.push((manager, api_version, vec![display(path)])),
        }
    }
    let using = |v: &str| if v.is_empty() { String::new() } else { format!(" using {v}") };
    let parts: Vec<String> = by_manager
        .iter()
        .map(|(m, v, fields)| match fields.as_slice() {
            [one] => format!("conflict with {m}{}: {one}", using(v)),
            many => format!("conflicts with {m}{}:\n- {}", using(v), many.join("\n- ")),
        })
        .collect();
    let n = conflicts.len();
    let message = format!("Apply failed with {n} conflict{}: {}", if n == 1 { "" } else { "s" }, parts.join("\n"));
    let causes = conflicts.iter().map(|(m, v, p)| (format!("conflict with {m}{}", using(v)), display(p))).collect();
    ApiError::ApplyConflict { message, causes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(manager: &str) -> Writer<'_> {
        Writer { manager, api_version: "apps/v1", lists: Lists::Kind("Deployment"), now: "2026-01-01T00:00:00Z", subresource: None }
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    #[test]
    fn apply_records_fields_in_the_fieldsv1_format() {
        let out = apply(&writer("ci"), &json!({}), &deployment(2, "nginx:1"), false).unwrap();
        let entry = &out["metadata"]["managedFields"][0];
        assert_eq!(entry["manager"], "ci");
        assert_eq!(entry["operation"], "Apply");
        assert_eq!(entry["fieldsType"], "FieldsV1");
        assert_eq!(
            entry["fieldsV1"],
            json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {},
                "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})
        );
    }

    #[test]
    fn changing_a_field_another_manager_owns_conflicts_unless_forced() {
        let created = apply(&writer("ci"), &json!({}), &deployment(2, "nginx:1"), false).unwrap();
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(5);
        let scaled = record_update(&writer("kubectl-scale"), &created, scaled);
        let err = apply(&writer("ci"), &scaled, &deployment(3, "nginx:1"), false).unwrap_err();
        assert_eq!(err.to_string(), "Apply failed with 1 conflict: conflict with \"kubectl-scale\" using apps/v1: .spec.replicas");
        let status = err.to_status();
        assert_eq!(status["code"], 409);
        assert_eq!(status["details"]["causes"][0], json!({"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-scale\" using apps/v1", "field": ".spec.replicas"}));

        let same = apply(&writer("ci"), &scaled, &deployment(5, "nginx:1"), false).unwrap();
        assert_eq!(same["spec"]["replicas"], 5, "agreeing with the owner is no conflict");
        let forced = apply(&writer("ci"), &scaled, &deployment(3, "nginx:1"), true).unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        let owners: Vec<_> = forced["metadata"]["managedFields"].as_array().unwrap().iter().map(|m| m["manager"].clone()).collect();
        assert_eq!(owners, vec![json!("ci")], "the scaler owned only replicas and lost it");
    }

    #[test]
    fn a_field_dropped_from_the_config_is_removed_unless_someone_else_owns_it() {
        let mut config = deployment(2, "nginx:1");
        config["metadata"]["labels"]["tier"] = json!("front");
        config["spec"]["paused"] = json!(true);
        let first = apply(&writer("ci"), &json!({}), &config, false).unwrap();
        let mut edited = first.clone();
        edited["spec"]["paused"] = json!(false);
        let edited = record_update(&writer("kubectl-edit"), &first, edited);
        let second = apply(&writer("ci"), &edited, &deployment(2, "nginx:2"), false).unwrap();
        assert_eq!(second["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(second["spec"]["paused"], false, "kubectl-edit owns paused now");
        assert_eq!(second["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:2");
    }

    #[test]
    fn an_update_owns_what_it_changed_and_a_no_op_keeps_the_entries() {
        let created = record_update(&writer("kubectl-create"), &json!({}), deployment(1, "a"));
        assert_eq!(created["metadata"]["managedFields"][0]["operation"], "Update");
        assert_eq!(created["metadata"]["managedFields"][0]["fieldsV1"]["f:metadata"]["f:labels"]["."], json!({}));
        let again = record_update(&Writer { now: "later", ..writer("kubectl-create") }, &created, created.clone());
        assert_eq!(again["metadata"]["managedFields"], created["metadata"]["managedFields"]);
    }

    #[test]
    fn a_container_dropped_from_the_config_is_removed() {
        let mut two = deployment(2, "nginx:1");
        two["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap().push(json!({"name": "side", "image": "b"}));
        let first = apply(&writer("ci"), &json!({}), &two, false).unwrap();
        let second = apply(&writer("ci"), &first, &deployment(2, "nginx:1"), false).unwrap();
        assert_eq!(second["spec"]["template"]["spec"]["containers"], json!([{"name": "web", "image": "nginx:1"}]));
    }

    #[test]
    fn an_applied_configuration_may_not_carry_managed_fields() {
        let mut config = deployment(1, "a");
        config["metadata"]["managedFields"] = json!([]);
        let err = apply(&writer("ci"), &json!({}), &config, false).unwrap_err();
        assert_eq!((err.code(), err.to_string()), (400, "metadata.managedFields must be nil".to_string()));
    }

    #[test]
    fn fieldsv1_round_trips() {
        let tree = json!({"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}, "f:replicas": {}}});
        let mut set = BTreeSet::new();
        parse(&tree, &mut Vec::new(), &mut set);
        assert_eq!(render(&set), tree);
    }
}
