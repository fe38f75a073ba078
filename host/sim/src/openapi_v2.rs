//! `/openapi/v2`, for kubectl before 1.29: the same operations as the v3
//! documents, merged into one Swagger 2.0 document, answered as JSON or —
//! when the client asks for `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`,
//! as kubectl does — encoded as gnostic's `openapi.v2.Document` protobuf
//! (field numbers from gnostic's OpenAPIv2.proto; extensions carried as YAML
//! text, which JSON is). kubectl reads it to learn which PATCH operations
//! accept `fieldValidation`. This file must not describe object schemas yet.

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
    for (group, version) in registry.group_versions() {
        let v3 = openapi::document(registry, &group, &version);
        for (path, item) in v3["paths"].as_object().cloned().unwrap_or_default() {
            paths.insert(path, to_v2_item(item));
        }
    }
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0-gantry-sim"}, "paths": paths, "definitions": {}})
}

/// v3 parameters carry `schema.type`; v2 ones carry `type`.
fn to_v2_item(mut item: Value) -> Value {
    if let Some(ops) = item.as_object_mut() {
        for op in ops.values_mut() {
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
    out
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
    for (name, v) in op.as_object().into_iter().flatten().filter(|(k, _)| k.starts_with("x-")) {
        let mut any = Vec::new();
        string(&mut any, 2, &v.to_string());
        let mut named = Vec::new();
        string(&mut named, 1, name);
        message(&mut named, 2, &any);
        message(&mut out, 13, &named);
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
        assert_eq!(to_protobuf(&doc), [0x0a, 3, b'2', b'.', b'0', 0x12, 6, 0x0a, 1, b'T', 0x12, 1, b'v', 0x42, 0]);
    }
}
