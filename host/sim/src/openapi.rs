//! The OpenAPI v3 documents kubectl reads before it writes: `/openapi/v3`
//! (the index of group versions, each with a content hash) and
//! `/openapi/v3/api/v1` or `/openapi/v3/apis/GROUP/VERSION` (paths and
//! operations per served resource, tagged with `x-kubernetes-group-version-kind`
//! and `x-kubernetes-action`, declaring the `fieldValidation`, `fieldManager`
//! and `dryRun` query parameters kubectl checks for before it sends them).
//! This slice describes operations, not object schemas: `kubectl explain` and
//! client-side strategic merge need schemas and come later. This file must
//! not answer anything but these documents.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};

use crate::resources::{Registry, ResourceType};

/// `/openapi/v3`: every served group version and where its document is.
pub fn index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (group, version) in registry.group_versions() {
        let prefix = gv_path(&group, &version);
        let hash = hex::encode_upper(Sha512::digest(document(registry, &group, &version).to_string().as_bytes()));
        paths.insert(prefix.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{prefix}?hash={hash}")}));
    }
    json!({"paths": paths})
}

/// `/openapi/v3/{api/v1 | apis/GROUP/VERSION}`, if served.
pub fn document_for(registry: &Registry, path: &str) -> Option<Value> {
    let parts: Vec<&str> = path.split('/').collect();
    let (group, version) = match parts.as_slice() {
        ["api", version] => ("", *version),
        ["apis", group, version] => (*group, *version),
        _ => return None,
    };
    registry.serves(group, version).then(|| document(registry, group, version))
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// One group version's document.
pub fn document(registry: &Registry, group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    for rt in registry.types_of(group, version) {
        let base = format!("/{}", gv_path(group, version));
        let collection = if rt.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", rt.plural)
        } else {
            format!("{base}/{}", rt.plural)
        };
        paths.insert(collection.clone(), collection_item(&rt));
        paths.insert(format!("{collection}/{{name}}"), object_item(&rt, &rt.kind));
        if rt.status {
            paths.insert(format!("{collection}/{{name}}/status"), object_item(&rt, &rt.kind));
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0-gantry-sim"},
        "paths": paths,
        "components": {"schemas": {}},
    })
}

fn gvk(rt: &ResourceType, kind: &str) -> Value {
    json!({"group": rt.group, "version": rt.version, "kind": kind})
}

fn operation(rt: &ResourceType, kind: &str, action: &str, writes: bool) -> Value {
    let mut params = vec![json!({"name": "pretty", "in": "query", "schema": {"type": "string"}})];
    if writes {
        for name in ["dryRun", "fieldManager", "fieldValidation"] {
            params.push(json!({"name": name, "in": "query", "schema": {"type": "string"}}));
        }
    }
    json!({
        "operationId": format!("{action}{kind}"),
        "parameters": params,
        "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(rt, kind),
    })
}

fn collection_item(rt: &ResourceType) -> Value {
    json!({
        "get": operation(rt, &rt.kind, "list", false),
        "post": operation(rt, &rt.kind, "post", true),
        "delete": operation(rt, &rt.kind, "deletecollection", false),
    })
}

fn object_item(rt: &ResourceType, kind: &str) -> Value {
    json!({
        "get": operation(rt, kind, "get", false),
        "put": operation(rt, kind, "put", true),
        "patch": operation(rt, kind, "patch", true),
        "delete": operation(rt, kind, "delete", false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_points_at_each_group_version_and_patches_declare_field_validation() {
        let registry = Registry::default();
        let idx = index(&registry);
        let url = idx["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
        let doc = document_for(&registry, "apis/apps/v1").unwrap();
        let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(patch["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation"));
        assert!(document_for(&registry, "apis/nope/v1").is_none());
    }
}
