//! Structural schemas: what the real apiextensions server does with a
//! CustomResourceDefinition version's `openAPIV3Schema` (a JSON value here,
//! as the CRD holds it). On CRD writes, the structural checks (every field
//! typed, object at the root, items for arrays, list-map keys that exist and
//! are required or defaulted, metadata left to the server) with their real
//! messages. On custom resource writes: unknown fields found (for
//! `fieldValidation`) and pruned unless `x-kubernetes-preserve-unknown-fields`,
//! `default:`s filled, and values validated as kube-openapi's validator words
//! its errors (`spec.replicas in body must be of type integer: "string"`).
//! And the list types server-side apply reads (`x-kubernetes-list-type`,
//! `-list-map-keys`). This file must not touch the store or parse requests.

use serde_json::{Map, Value};

use crate::error::FieldCause;
use crate::merge_keys::{ListType, MapKey};
use crate::schema::types::META_OBJECT_META;

fn flag(node: &Value, name: &str) -> bool {
    node.get(name).and_then(Value::as_bool).unwrap_or(false)
}

fn preserves(node: &Value) -> bool {
    flag(node, "x-kubernetes-preserve-unknown-fields")
}

fn embedded(node: &Value) -> bool {
    flag(node, "x-kubernetes-embedded-resource")
}

/// The schema of field `name` in an object of schema `node`: a declared
/// property, else `additionalProperties` when it is a schema.
fn child<'a>(node: &'a Value, name: &str) -> Option<&'a Value> {
    node.get("properties").and_then(|p| p.get(name)).or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))
}

/// The server-side apply type of the list at `path` (field names from the
/// root, list indices left out). Lists without `x-kubernetes-list-type` are atomic.
pub fn list_type(schema: &Value, path: &[String]) -> ListType {
    let mut node = schema;
    for name in path {
        if node.get("type").and_then(Value::as_str) == Some("array") {
            let Some(items) = node.get("items") else { return ListType::Atomic };
            node = items;
        }
        let Some(next) = child(node, name) else { return ListType::Atomic };
        node = next;
    }
    match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => ListType::Set,
        Some("map") => {
            let items = node.get("items").unwrap_or(&Value::Null);
            let keys = node.get("x-kubernetes-list-map-keys").and_then(Value::as_array).cloned().unwrap_or_default();
            ListType::Map(
                keys.iter()
                    .filter_map(Value::as_str)
                    .map(|k| MapKey { field: k.to_string(), default: items["properties"][k].get("default").cloned() })
                    .collect(),
            )
        }
        _ => ListType::Atomic,
    }
}

// ---------------------------------------------------------------------------
// Unknown fields and pruning.

/// The paths of the fields of `obj` the schema does not declare, as strict
/// decoding names them (`spec.foo`, `spec.items[0].bar`); `keyed` names list
/// items by their map keys as server-side apply does (`items[name="a"]`).
pub fn unknown_fields(schema: &Value, obj: &Value, keyed: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut names = Vec::new();
    if let Value::Object(map) = obj {
        for (k, v) in map {
            match k.as_str() {
                "apiVersion" | "kind" => {}
                "metadata" => {
                    if let Value::Object(meta) = v {
                        out.extend(meta.keys().filter(|mk| META_OBJECT_META.field(mk).is_none()).map(|mk| format!("metadata.{mk}")));
                    }
                }
                _ => match child(schema, k) {
                    Some(s) => {
                        names.push(k.clone());
                        unknown_at(schema, s, v, k, &mut names, keyed, &mut out);
                        names.pop();
                    }
                    None if preserves(schema) => {}
                    None => out.push(k.clone()),
                },
            }
        }
    }
    out
}

fn unknown_at(root: &Value, s: &Value, v: &Value, path: &str, names: &mut Vec<String>, keyed: bool, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                if embedded(s) && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let at = if s.get("properties").is_some_and(|p| p.get(k).is_some()) || s.get("additionalProperties").is_none() {
                    format!("{path}.{k}")
                } else {
                    format!("{path}[{k}]")
                };
                match child(s, k) {
                    Some(cs) => {
                        names.push(k.clone());
                        unknown_at(root, cs, item, &at, names, keyed, out);
                        names.pop();
                    }
                    None if preserves(s) || s.get("additionalProperties") == Some(&Value::Bool(true)) => {}
                    None => out.push(at),
                }
            }
        }
        Value::Array(items) => {
            let Some(is) = s.get("items") else { return };
            let keys = match keyed.then(|| list_type(root, names)) {
                Some(ListType::Map(keys)) => Some(keys),
                _ => None,
            };
            for (i, item) in items.iter().enumerate() {
                let at = match keys.as_ref().and_then(|k| ListType::key_of(k, item).ok()) {
                    Some(key) => format!("{path}[{}]", key.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")),
                    None => format!("{path}[{i}]"),
                };
                unknown_at(root, is, item, &at, names, keyed, out);
            }
        }
        _ => {}
    }
}

/// Drops every field the schema does not declare (below the root's
/// `metadata`, the fields ObjectMeta does not have).
pub fn prune(schema: &Value, obj: &mut Value) {
    let Value::Object(map) = obj else { return };
    map.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata") || child(schema, k).is_some() || preserves(schema));
    for (k, v) in map.iter_mut() {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                if let Value::Object(meta) = v {
                    meta.retain(|mk, _| META_OBJECT_META.field(mk).is_some());
                }
            }
            _ => {
                if let Some(s) = child(schema, k) {
                    prune_at(s, v);
                }
            }
        }
    }
}

fn prune_at(s: &Value, v: &mut Value) {
    match v {
        Value::Object(map) => {
            let keep_all = preserves(s) || s.get("additionalProperties") == Some(&Value::Bool(true));
            let is_embedded = embedded(s);
            map.retain(|k, _| keep_all || child(s, k).is_some() || (is_embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata")));
            for (k, item) in map.iter_mut() {
                if let Some(cs) = child(s, k) {
                    prune_at(cs, item);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                items.iter_mut().for_each(|item| prune_at(is, item));
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Defaulting.

/// Fills the schema's `default:`s where fields are absent (or null and not
/// nullable), top down, into defaulted values too, as the real server does
/// on decoding; other nulls of fields that are not nullable are dropped.
pub fn default(schema: &Value, obj: &mut Value) {
    let Value::Object(map) = obj else { return };
    default_fields(schema, map, true);
}

fn default_fields(s: &Value, map: &mut Map<String, Value>, root: bool) {
    if let Some(Value::Object(props)) = s.get("properties") {
        for (k, ps) in props {
            if root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            let missing = match map.get(k) {
                None => true,
                Some(Value::Null) => !flag(ps, "nullable"),
                Some(_) => false,
            };
            if let (true, Some(d)) = (missing, ps.get("default")) {
                map.insert(k.clone(), d.clone());
            }
        }
    }
    // A null the schema neither allows nor defaults is dropped, as the real
    // server's PruneNonNullableNullsWithoutDefaults does.
    map.retain(|k, v| !v.is_null() || (root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata")) || child(s, k).is_none_or(|cs| flag(cs, "nullable")));
    for (k, v) in map.iter_mut() {
        if root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(cs) = child(s, k) {
            default_at(cs, v);
        }
    }
}

fn default_at(s: &Value, v: &mut Value) {
    match v {
        Value::Object(map) => default_fields(s, map, false),
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for item in items.iter_mut() {
                    if item.is_null() && !flag(is, "nullable") {
                        if let Some(d) = is.get("default") {
                            *item = d.clone();
                        }
                    }
                    default_at(is, item);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Validation.

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as the real field errors print it: strings quoted, numbers bare.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn invalid(path: &str, value: String, detail: String) -> FieldCause {
    FieldCause { reason: "FieldValueInvalid", field: path.to_string(), message: format!("Invalid value: {value}: {detail}") }
}

/// The field errors of `obj` against the schema (metadata, apiVersion and
/// kind are the server's to check), in kube-openapi's words.
pub fn validate(schema: &Value, obj: &Value) -> Vec<FieldCause> {
    let mut out = Vec::new();
    let Value::Object(map) = obj else { return out };
    if let Some(Value::Array(required)) = schema.get("required") {
        for r in required.iter().filter_map(Value::as_str).filter(|r| !matches!(*r, "apiVersion" | "kind" | "metadata")) {
            if !map.contains_key(r) {
                out.push(FieldCause { reason: "FieldValueRequired", field: r.to_string(), message: "Required value".into() });
            }
        }
    }
    for (k, v) in map {
        if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(s) = child(schema, k) {
            validate_at(s, v, k, &mut out);
        }
    }
    out
}

/// Go's `%#v` of an unstructured value, as `field.Duplicate` prints it.
fn go_syntax(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Object(m) => {
            let fields: Vec<String> = m.iter().map(|(k, v)| format!("{k:?}:{}", go_syntax(v))).collect();
            format!("map[string]interface {{}}{{{}}}", fields.join(", "))
        }
        other => other.to_string(),
    }
}

/// Items a `set` or `map` list repeats (by value, or by their map keys), as
/// the real server's list-type validation names them: `spec.ports[1]: Duplicate value: ...`.
fn list_duplicates(s: &Value, items: &[Value], path: &str, out: &mut Vec<FieldCause>) {
    let keys: Vec<&str> = s.get("x-kubernetes-list-map-keys").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let identity = |item: &Value| -> Value {
        match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("map") => Value::Object(keys.iter().filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone()))).collect()),
            _ => item.clone(),
        }
    };
    let typed = matches!(s.get("x-kubernetes-list-type").and_then(Value::as_str), Some("set" | "map"));
    if !typed && !flag(s, "uniqueItems") {
        return;
    }
    let ids: Vec<Value> = items.iter().map(identity).collect();
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            out.push(FieldCause { reason: "FieldValueDuplicate", field: format!("{path}[{i}]"), message: format!("Duplicate value: {}", go_syntax(id)) });
        }
    }
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn validate_at(s: &Value, v: &Value, path: &str, out: &mut Vec<FieldCause>) {
    if v.is_null() && flag(s, "nullable") {
        return;
    }
    let int_or_string = flag(s, "x-kubernetes-int-or-string");
    if let Some(want) = s.get("type").and_then(Value::as_str) {
        let got = type_name(v);
        let fits = got == want || (want == "number" && got == "integer");
        if !fits {
            let detail = format!("{path} in body must be of type {want}: {got:?}");
            out.push(FieldCause { reason: "FieldValueTypeInvalid", field: path.into(), message: format!("Invalid value: {got:?}: {detail}") });
            return;
        }
    } else if int_or_string && !matches!(v, Value::String(_)) && type_name(v) != "integer" {
        let got = type_name(v);
        let detail = format!("{path} in body must be of type integer,string: {got:?}");
        out.push(FieldCause { reason: "FieldValueTypeInvalid", field: path.into(), message: format!("Invalid value: {got:?}: {detail}") });
        return;
    }
    if let Some(Value::Array(allowed)) = s.get("enum") {
        if !allowed.contains(v) {
            let values: Vec<String> = allowed.iter().map(|a| format!("{:?}", a.as_str().map(String::from).unwrap_or_else(|| a.to_string()))).collect();
            out.push(FieldCause {
                reason: "FieldValueNotSupported",
                field: path.into(),
                message: format!("Unsupported value: {}: supported values: {}", shown(v), values.join(", ")),
            });
        }
    }
    match v {
        Value::Number(_) => {
            let x = number(v).unwrap_or(0.0);
            let bound = |k: &str| s.get(k).filter(|b| b.is_number());
            if let Some(max) = bound("maximum") {
                let exclusive = flag(s, "exclusiveMaximum");
                let m = number(max).unwrap_or(0.0);
                if x > m || (exclusive && x == m) {
                    let rel = if exclusive { "less than" } else { "less than or equal to" };
                    out.push(invalid(path, shown(v), format!("{path} in body should be {rel} {max}")));
                }
            }
            if let Some(min) = bound("minimum") {
                let exclusive = flag(s, "exclusiveMinimum");
                let m = number(min).unwrap_or(0.0);
                if x < m || (exclusive && x == m) {
                    let rel = if exclusive { "greater than" } else { "greater than or equal to" };
                    out.push(invalid(path, shown(v), format!("{path} in body should be {rel} {min}")));
                }
            }
            if let Some(of) = bound("multipleOf").and_then(number).filter(|m| *m != 0.0) {
                if (x / of).fract() != 0.0 {
                    out.push(invalid(path, shown(v), format!("{path} in body should be a multiple of {}", s["multipleOf"])));
                }
            }
        }
        Value::String(text) => {
            let len = text.chars().count() as u64;
            if let Some(max) = s.get("maxLength").and_then(Value::as_u64).filter(|m| len > *m) {
                let unit = if max == 1 { "byte" } else { "bytes" };
                out.push(FieldCause { reason: "FieldValueTooLong", field: path.into(), message: format!("Too long: may not be more than {max} {unit}") });
            }
            if let Some(min) = s.get("minLength").and_then(Value::as_u64).filter(|m| len < *m) {
                out.push(invalid(path, shown(v), format!("{path} in body should be at least {min} chars long")));
            }
            if let Some(pattern) = s.get("pattern").and_then(Value::as_str) {
                if regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(text)) {
                    out.push(invalid(path, shown(v), format!("{path} in body should match '{pattern}'")));
                }
            }
        }
        Value::Array(items) => {
            let n = items.len() as u64;
            if let Some(max) = s.get("maxItems").and_then(Value::as_u64).filter(|m| n > *m) {
                let unit = if max == 1 { "item" } else { "items" };
                out.push(FieldCause { reason: "FieldValueTooMany", field: path.into(), message: format!("Too many: {n}: must have at most {max} {unit}") });
            }
            if let Some(min) = s.get("minItems").and_then(Value::as_u64).filter(|m| n < *m) {
                out.push(invalid(path, n.to_string(), format!("{path} in body should have at least {min} items")));
            }
            list_duplicates(s, items, path, out);
            if let Some(is) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate_at(is, item, &format!("{path}[{i}]"), out);
                }
            }
        }
        Value::Object(map) => {
            let n = map.len() as u64;
            if let Some(max) = s.get("maxProperties").and_then(Value::as_u64).filter(|m| n > *m) {
                let unit = if max == 1 { "item" } else { "items" };
                out.push(FieldCause { reason: "FieldValueTooMany", field: path.into(), message: format!("Too many: {n}: must have at most {max} {unit}") });
            }
            if let Some(min) = s.get("minProperties").and_then(Value::as_u64).filter(|m| n < *m) {
                out.push(invalid(path, n.to_string(), format!("{path} in body should have at least {min} properties")));
            }
            if let Some(Value::Array(required)) = s.get("required") {
                for r in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(r) {
                        out.push(FieldCause { reason: "FieldValueRequired", field: format!("{path}.{r}"), message: "Required value".into() });
                    }
                }
            }
            if embedded(s) {
                for field in ["apiVersion", "kind"] {
                    if !map.contains_key(field) {
                        out.push(FieldCause { reason: "FieldValueRequired", field: format!("{path}.{field}"), message: "Required value: must not be empty".into() });
                    }
                }
            }
            for (k, item) in map {
                let declared = s.get("properties").is_some_and(|p| p.get(k).is_some());
                let at = if declared { format!("{path}.{k}") } else { format!("{path}[{k}]") };
                if let Some(cs) = child(s, k) {
                    validate_at(cs, item, &at, out);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Structural checks of a CRD's schemas.

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Root,
    Items,
    Field,
}

fn required(field: String, detail: &str) -> FieldCause {
    let message = if detail.is_empty() { "Required value".to_string() } else { format!("Required value: {detail}") };
    FieldCause { reason: "FieldValueRequired", field, message }
}

fn forbidden(field: String, detail: &str) -> FieldCause {
    FieldCause { reason: "FieldValueForbidden", field, message: format!("Forbidden: {detail}") }
}

/// The errors of a CRD's versions' schemas, as the real server's CRD
/// validation words them (`spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: ...`).
pub fn crd_errors(crd: &Value) -> Vec<FieldCause> {
    let mut out = Vec::new();
    let spec = &crd["spec"];
    let name = crd["metadata"]["name"].as_str().unwrap_or("");
    let wanted = format!("{}.{}", spec["names"]["plural"].as_str().unwrap_or(""), spec["group"].as_str().unwrap_or(""));
    if !name.is_empty() && name != wanted {
        out.push(FieldCause {
            reason: "FieldValueInvalid",
            field: "metadata.name".into(),
            message: format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        });
    }
    let versions = crd["spec"]["versions"].as_array().cloned().unwrap_or_default();
    for (i, version) in versions.iter().enumerate() {
        let at = format!("spec.versions[{i}].schema.openAPIV3Schema");
        match version["schema"].get("openAPIV3Schema").filter(|s| s.is_object()) {
            None => out.push(required(at, "")),
            Some(schema) => {
                if flag(schema, "nullable") {
                    out.push(forbidden(format!("{at}.nullable"), "nullable cannot be true at the root"));
                }
                structural_at(schema, Level::Root, &at, &mut out);
            }
        }
    }
    out
}

fn structural_at(s: &Value, level: Level, at: &str, out: &mut Vec<FieldCause>) {
    let ty = s.get("type").and_then(Value::as_str).unwrap_or("");
    if ty == "array" && s.get("items").is_none() {
        out.push(required(format!("{at}.items"), "must be specified"));
    }
    if let Some(items) = s.get("items") {
        structural_at(items, Level::Items, &format!("{at}.items"), out);
    }
    if let Some(Value::Object(props)) = s.get("properties") {
        for (k, p) in props {
            if level == Level::Root && k == "metadata" {
                let allowed = p.get("properties").and_then(Value::as_object).is_none_or(|m| m.keys().all(|k| k == "name" || k == "generateName"));
                let extra = p.as_object().is_some_and(|m| m.keys().any(|k| !matches!(k.as_str(), "type" | "properties" | "description")));
                if !allowed || extra {
                    out.push(forbidden(format!("{at}.properties[metadata]"), "must not specify anything other than name and generateName, but metadata is implicitly specified"));
                }
                continue;
            }
            structural_at(p, Level::Field, &format!("{at}.properties[{k}]"), out);
        }
    }
    if let Some(additional) = s.get("additionalProperties") {
        if level == Level::Root {
            out.push(forbidden(format!("{at}.additionalProperties"), "must not be used at the root"));
        }
        if additional.is_object() {
            if s.get("properties").is_some() {
                out.push(forbidden(format!("{at}.additionalProperties"), "additionalProperties and properties are mutual exclusive"));
            }
            structural_at(additional, Level::Field, &format!("{at}.additionalProperties"), out);
        }
    }
    const TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];
    if !ty.is_empty() && !TYPES.contains(&ty) {
        let supported: Vec<String> = TYPES.iter().map(|t| format!("{t:?}")).collect();
        out.push(FieldCause {
            reason: "FieldValueNotSupported",
            field: format!("{at}.type"),
            message: format!("Unsupported value: {ty:?}: supported values: {}", supported.join(", ")),
        });
    }
    let int_or_string = flag(s, "x-kubernetes-int-or-string");
    if embedded(s) && ty != "object" {
        if ty.is_empty() {
            out.push(required(format!("{at}.type"), "must be object if x-kubernetes-embedded-resource is true"));
        } else {
            out.push(FieldCause {
                reason: "FieldValueInvalid",
                field: format!("{at}.type"),
                message: format!("Invalid value: {ty:?}: must be object if x-kubernetes-embedded-resource is true"),
            });
        }
    } else if ty.is_empty() && !int_or_string && !preserves(s) {
        let detail = match level {
            Level::Root => "must not be empty at the root",
            Level::Items => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        out.push(required(format!("{at}.type"), detail));
    }
    if level == Level::Root && !ty.is_empty() && ty != "object" {
        out.push(FieldCause { reason: "FieldValueInvalid", field: format!("{at}.type"), message: format!("Invalid value: {ty:?}: must be object at the root") });
    }
    if int_or_string && preserves(s) {
        out.push(FieldCause {
            reason: "FieldValueInvalid",
            field: format!("{at}.x-kubernetes-preserve-unknown-fields"),
            message: "Invalid value: true: must be false if x-kubernetes-int-or-string is true".into(),
        });
    }
    if let Some(pattern) = s.get("pattern").and_then(Value::as_str) {
        if let Err(e) = regex::Regex::new(pattern) {
            out.push(FieldCause {
                reason: "FieldValueInvalid",
                field: format!("{at}.pattern"),
                message: format!("Invalid value: {pattern:?}: must be a valid regular expression, but isn't: {e}"),
            });
        }
    }
    list_map_errors(s, at, out);
}

fn list_map_errors(s: &Value, at: &str, out: &mut Vec<FieldCause>) {
    let list_type = s.get("x-kubernetes-list-type").and_then(Value::as_str);
    let keys: Vec<&str> = s.get("x-kubernetes-list-map-keys").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if !keys.is_empty() && list_type != Some("map") {
        match list_type {
            None => out.push(required(format!("{at}.x-kubernetes-list-type"), "must be map if x-kubernetes-list-map-keys is non-empty")),
            Some(t) => out.push(FieldCause {
                reason: "FieldValueInvalid",
                field: format!("{at}.x-kubernetes-list-type"),
                message: format!("Invalid value: {t:?}: must be map if x-kubernetes-list-map-keys is non-empty"),
            }),
        }
    }
    if list_type != Some("map") {
        return;
    }
    if keys.is_empty() {
        out.push(required(format!("{at}.x-kubernetes-list-map-keys"), "must not be empty if x-kubernetes-list-type is map"));
        return;
    }
    let items = s.get("items").unwrap_or(&Value::Null);
    let props = items.get("properties").and_then(Value::as_object);
    if keys.iter().any(|k| props.is_none_or(|p| !p.contains_key(*k))) {
        let shown: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
        out.push(FieldCause {
            reason: "FieldValueInvalid",
            field: format!("{at}.x-kubernetes-list-map-keys"),
            message: format!("Invalid value: []string{{{}}}: entries must all be names of item properties", shown.join(", ")),
        });
        return;
    }
    let required_keys: Vec<&str> = items.get("required").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    for k in keys {
        let p = &items["properties"][k];
        if p.get("default").is_none() && !required_keys.contains(&k) {
            out.push(required(format!("{at}.items.properties[{k}].default"), "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn widget_schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "required": ["size"], "properties": {
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                "size": {"type": "string", "enum": ["small", "large"]},
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
                    "items": {"type": "object", "required": ["port"], "properties": {
                        "port": {"type": "integer"}, "protocol": {"type": "string", "default": "TCP"}}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}})
    }

    #[test]
    fn unknown_fields_are_found_and_pruned_except_where_preserved() {
        let mut obj = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "bogus": 1},
            "spec": {"size": "small", "colour": "red", "free": {"anything": {"goes": 1}}, "labels": {"a": "b"},
                "ports": [{"port": 80, "extra": true}]}, "other": 1});
        let mut found = unknown_fields(&widget_schema(), &obj, false);
        found.sort();
        assert_eq!(found, ["metadata.bogus", "other", "spec.colour", "spec.ports[0].extra"]);
        assert!(unknown_fields(&widget_schema(), &obj, true).contains(&r#"spec.ports[port=80,protocol="TCP"].extra"#.to_string()));
        prune(&widget_schema(), &mut obj);
        assert_eq!(obj, json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"size": "small", "free": {"anything": {"goes": 1}}, "labels": {"a": "b"}, "ports": [{"port": 80}]}}));
    }

    #[test]
    fn defaults_fill_absent_fields_and_list_items() {
        let mut obj = json!({"spec": {"size": "small", "name": null, "replicas": null, "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}});
        default(&widget_schema(), &mut obj);
        assert_eq!(obj["spec"]["replicas"], 1);
        assert!(obj["spec"].get("name").is_none(), "a null without a default is dropped");
        assert_eq!(obj["spec"]["ports"], json!([{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]));
    }

    #[test]
    fn validation_errors_are_worded_as_the_real_server_words_them() {
        let obj = json!({"spec": {"replicas": "three", "name": "ABCDEFG", "tags": ["a", "b", "c"]}});
        let messages: Vec<String> = validate(&widget_schema(), &obj).iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
        assert_eq!(messages, [
            "spec.size: Required value",
            "spec.name: Too long: may not be more than 5 bytes",
            "spec.name: Invalid value: \"ABCDEFG\": spec.name in body should match '^[a-z]+$'",
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
            "spec.tags: Too many: 3: must have at most 2 items",
        ]);
        let obj = json!({"spec": {"size": "small", "ports": [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "UDP"}, {"port": 80, "protocol": "TCP", "name": "again"}]}});
        let messages: Vec<String> = validate(&widget_schema(), &obj).iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
        assert_eq!(messages, [r#"spec.ports[2]: Duplicate value: map[string]interface {}{"port":80, "protocol":"TCP"}"#]);
        let obj = json!({"spec": {"replicas": 20, "size": "medium"}});
        let messages: Vec<String> = validate(&widget_schema(), &obj).iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
        assert_eq!(messages, [
            "spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10",
            "spec.size: Unsupported value: \"medium\": supported values: \"small\", \"large\"",
        ]);
    }

    #[test]
    fn list_types_come_from_the_schema() {
        let path = |p: &str| p.split('.').map(String::from).collect::<Vec<_>>();
        let ListType::Map(keys) = list_type(&widget_schema(), &path("spec.ports")) else { panic!("a map") };
        assert_eq!(keys[1], MapKey { field: "protocol".into(), default: Some(json!("TCP")) });
        assert_eq!(list_type(&widget_schema(), &path("spec.tags")), ListType::Atomic);
    }

    #[test]
    fn non_structural_schemas_are_named_with_the_real_messages() {
        let crd = json!({"spec": {"versions": [
            {"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"properties": {"x": {"type": "array"}}},
                "list": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}}}},
            {"name": "v2"}]}, "metadata": {"name": "widgets.example.org"}});
        let messages: Vec<String> = crd_errors(&crd).iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
        assert_eq!(messages, [
            "metadata.name: Invalid value: \"widgets.example.org\": must be spec.names.plural+\".\"+spec.group",
            "spec.versions[0].schema.openAPIV3Schema.properties[list].items.properties[name].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[x].items: Required value: must be specified",
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
            "spec.versions[1].schema.openAPIV3Schema: Required value",
        ]);
        assert!(crd_errors(&json!({"spec": {"versions": [{"schema": {"openAPIV3Schema": widget_schema()}}]}})).is_empty());
    }
}
