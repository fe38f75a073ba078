//! `/openapi/v2`, for kubectl before 1.29: the same operations as the v3
//! documents, merged into one Swagger 2.0 document, answered as JSON or —
//! when the client asks for `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`,
//! as kubectl does — encoded as gnostic's `openapi.v2.Document` protobuf
//! (field numbers from gnostic's OpenAPIv2.proto; extensions carried as YAML
//! text, which JSON is). kubectl reads it to learn which PATCH operations
//! accept `fieldValidation` and which media types they consume, and reads
//! the `definitions` (the v3 object schemas in Swagger 2.0 form: plain
//! `$ref`s under `#/definitions/`) for client-side apply and validation.
//! This file must not build schemas itself (see `openapi`).

use serde_json::{json, Map, Value};

use crate::openapi;
use crate::resources::Registry;

/// The protobuf media type kubectl asks for.
pub const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// What the answer is labelled, as kube-openapi labels it: clients parse the
/// Content-Type with Go's `mime`, which refuses the `@` of the Accept form.
pub const PROTOBUF_CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The Swagger 2.0 document: every served group version's paths.
pub fn document(registry: &Registry) -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    for (group, version) in registry.group_versions() {
        let v3 = openapi::document(registry, &group, &version);
        for (path, item) in v3["paths"].as_object().cloned().unwrap_or_default() {
            paths.insert(path, to_v2_item(item));
        }
        for (name, schema) in v3["components"]["schemas"].as_object().cloned().unwrap_or_default() {
            definitions.entry(name).or_insert_with(|| to_v2_schema(schema));
        }
    }
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0-gantry-sim"}, "paths": paths, "definitions": definitions})
}

/// v3's `allOf: [{$ref}]` (a reference with siblings) is a plain `$ref` in
/// v2, under `#/definitions/`; v2 has no `default` beside a reference.
fn to_v2_schema(schema: Value) -> Value {
    match schema {
        Value::Object(mut map) => {
            if let Some(Value::Array(all_of)) = map.get("allOf").cloned() {
                if let [Value::Object(only)] = all_of.as_slice() {
                    if let Some(r) = only.get("$ref") {
                        map.remove("allOf");
                        map.remove("default");
                        map.insert("$ref".into(), r.clone());
                    }
                }
            }
            let converted = map.into_iter().map(|(k, v)| {
                let v = match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => Value::String(r.replace("#/components/schemas/", "#/definitions/")),
                    (_, v) => to_v2_schema(v),
                };
                (k, v)
            });
            Value::Object(converted.collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(to_v2_schema).collect()),
        other => other,
    }
}

/// v3 parameters carry `schema.type`; v2 ones carry `type`. v3 request
/// bodies list media types; v2 operations list them as `consumes`.
fn to_v2_item(mut item: Value) -> Value {
    if let Some(ops) = item.as_object_mut() {
        for op in ops.values_mut() {
            if let Some(body) = op.as_object_mut().and_then(|o| o.remove("requestBody")) {
                let types: Vec<&String> = body["content"].as_object().map(|c| c.keys().collect()).unwrap_or_default();
                op["consumes"] = json!(types);
            }
            if let Some(params) = op["parameters"].as_array_mut() {
                for p in params.iter_mut() {
                    let kind = p["schema"]["type"].clone();
                    p["type"] = kind;
                    p.as_object_mut().map(|m| m.remove("schema"));
                }
            }
        }
    }
    item
}

/// gnostic's `openapi.v2.Document` encoding of `doc`.
pub fn to_protobuf(doc: &Value) -> Vec<u8> {
    let mut info = Vec::new();
    string(&mut info, 1, doc["info"]["title"].as_str().unwrap_or(""));
    string(&mut info, 2, doc["info"]["version"].as_str().unwrap_or(""));
    let mut paths = Vec::new();
    for (name, item) in doc["paths"].as_object().into_iter().flatten() {
        let mut named = Vec::new();
        string(&mut named, 1, name);
        message(&mut named, 2, &path_item(item));
        message(&mut paths, 2, &named);
    }
    let mut out = Vec::new();
    string(&mut out, 1, doc["swagger"].as_str().unwrap_or("2.0"));
    message(&mut out, 2, &info);
    message(&mut out, 8, &paths);
    let mut definitions = Vec::new();
    for (name, schema) in doc["definitions"].as_object().into_iter().flatten() {
        message(&mut definitions, 1, &named_schema(name, schema));
    }
    message(&mut out, 9, &definitions);
    out
}

/// NamedSchema { name = 1, value = 2 }.
fn named_schema(name: &str, schema: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    string(&mut out, 1, name);
    message(&mut out, 2, &schema_message(schema));
    out
}

/// Schema: _ref = 1, format = 2, description = 4, required = 19,
/// additional_properties = 21 {schema = 1}, type = 22 {value = 1},
/// items = 23 {schema = 1}, properties = 25 {additional_properties = 1},
/// vendor_extension = 31.
fn schema_message(schema: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    string(&mut out, 1, schema["$ref"].as_str().unwrap_or(""));
    string(&mut out, 2, schema["format"].as_str().unwrap_or(""));
    string(&mut out, 4, schema["description"].as_str().unwrap_or(""));
    for r in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        message(&mut out, 19, r.as_bytes());
    }
    if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        let mut item = Vec::new();
        message(&mut item, 1, &schema_message(additional));
        message(&mut out, 21, &item);
    }
    if let Some(t) = schema["type"].as_str() {
        let mut item = Vec::new();
        string(&mut item, 1, t);
        message(&mut out, 22, &item);
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        let mut item = Vec::new();
        message(&mut item, 1, &schema_message(items));
        message(&mut out, 23, &item);
    }
    if let Some(props) = schema["properties"].as_object() {
        let mut properties = Vec::new();
        for (name, prop) in props {
            message(&mut properties, 1, &named_schema(name, prop));
        }
        message(&mut out, 25, &properties);
    }
    for (name, v) in schema.as_object().into_iter().flatten().filter(|(k, _)| k.starts_with("x-")) {
        message(&mut out, 31, &named_any(name, v));
    }
    out
}

/// NamedAny { name = 1, value = 2: Any { yaml = 2 } }: JSON text is YAML.
fn named_any(name: &str, v: &Value) -> Vec<u8> {
    let mut any = Vec::new();
    string(&mut any, 2, &v.to_string());
    let mut named = Vec::new();
    string(&mut named, 1, name);
    message(&mut named, 2, &any);
    named
}

/// PathItem: get = 2, put = 3, post = 4, delete = 5, patch = 8.
fn path_item(item: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    for (method, field) in [("get", 2), ("put", 3), ("post", 4), ("delete", 5), ("patch", 8)] {
        if let Some(op) = item.get(method) {
            message(&mut out, field, &operation(op));
        }
    }
    out
}

/// Operation: operation_id = 5, parameters = 8, responses = 9, vendor_extension = 13.
fn operation(op: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    string(&mut out, 5, op["operationId"].as_str().unwrap_or(""));
    for p in op["parameters"].as_array().into_iter().flatten() {
        message(&mut out, 8, &query_parameter(p));
    }
    let mut response = Vec::new();
    string(&mut response, 1, "OK");
    let mut value = Vec::new();
    message(&mut value, 1, &response);
    let mut code = Vec::new();
    string(&mut code, 1, "200");
    message(&mut code, 2, &value);
    let mut responses = Vec::new();
    message(&mut responses, 1, &code);
    message(&mut out, 9, &responses);
    for t in op["consumes"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        string(&mut out, 7, t);
    }
    for (name, v) in op.as_object().into_iter().flatten().filter(|(k, _)| k.starts_with("x-")) {
        message(&mut out, 13, &named_any(name, v));
    }
    out
}

/// ParametersItem.parameter(1) > Parameter.non_body_parameter(2) >
/// NonBodyParameter.query_parameter_sub_schema(3) { in = 2, name = 4, type = 6 }.
fn query_parameter(p: &Value) -> Vec<u8> {
    let mut sub = Vec::new();
    string(&mut sub, 2, p["in"].as_str().unwrap_or("query"));
    string(&mut sub, 4, p["name"].as_str().unwrap_or(""));
    string(&mut sub, 6, p["type"].as_str().unwrap_or("string"));
    let mut non_body = Vec::new();
    message(&mut non_body, 3, &sub);
    let mut parameter = Vec::new();
    message(&mut parameter, 2, &non_body);
    let mut item = Vec::new();
    message(&mut item, 1, &parameter);
    item
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A length-delimited field (wire type 2).
fn message(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, (field << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn string(out: &mut Vec<u8>, field: u64, s: &str) {
    if !s.is_empty() {
        message(out, field, s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_merges_every_group_version_with_v2_parameters() {
        let doc = document(&Registry::default());
        let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        let field_validation = patch["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "fieldValidation").unwrap();
        assert_eq!(field_validation["type"], "string");
        assert!(doc["paths"]["/api/v1/namespaces/{namespace}/configmaps"].is_object());
    }

    #[test]
    fn protobuf_encoding_uses_gnostic_field_numbers() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        let doc = json!({"swagger": "2.0", "info": {"title": "T", "version": "v"}, "paths": {}});
        // swagger (1) "2.0", info (2) {title (1) "T", version (2) "v"}, paths (8) {}
        // ... definitions (9) {}
        assert_eq!(to_protobuf(&doc), [0x0a, 3, b'2', b'.', b'0', 0x12, 6, 0x0a, 1, b'T', 0x12, 1, b'v', 0x42, 0, 0x4a, 0]);
    }

    #[test]
    fn definitions_use_plain_v2_references_and_encode_as_gnostic_schemas() {
        let doc = document(&Registry::default());
        let spec = &doc["definitions"]["io.k8s.api.apps.v1.DeploymentSpec"];
        assert_eq!(spec["properties"]["selector"]["$ref"], "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector");
        assert!(spec["properties"]["selector"].get("allOf").is_none());
        let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert!(patch["consumes"].as_array().unwrap().contains(&json!("application/strategic-merge-patch+json")));
        // {type: string, x-a: 1}: type (22) {value (1) "string"}, vendor_extension (31) {name "x-a", value {yaml "1"}}
        let encoded = schema_message(&json!({"type": "string", "x-a": 1}));
        assert_eq!(encoded, [0xb2, 1, 8, 0x0a, 6, b's', b't', b'r', b'i', b'n', b'g', 0xfa, 1, 10, 0x0a, 3, b'x', b'-', b'a', 0x12, 3, 0x12, 1, b'1']);
    }
}
