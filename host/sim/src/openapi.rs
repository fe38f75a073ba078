//! The OpenAPI v3 documents kubectl reads before it writes: `/openapi/v3`
//! (the index of group versions, each with a content hash) and
//! `/openapi/v3/api/v1` or `/openapi/v3/apis/GROUP/VERSION` (paths and
//! operations per served resource, tagged with `x-kubernetes-group-version-kind`
//! and `x-kubernetes-action`, declaring the `fieldValidation`, `fieldManager`
//! and `dryRun` query parameters kubectl checks for before it sends them,
//! and the patch content types it checks before computing a strategic merge
//! patch from the schemas), plus `components.schemas`: the object schemas of
//! every built-in kind, built from `schema`'s table, with the descriptions
//! `kubectl explain` prints, `x-kubernetes-group-version-kind` on the kinds and
//! the list merge metadata (`x-kubernetes-patch-strategy`/`-merge-key`,
//! `x-kubernetes-list-type`/`-map-keys`) from `merge_keys`, which kubectl's
//! client-side apply reads. Custom kinds served from a CRD get their
//! version's `openAPIV3Schema` as their object schema (named as the real
//! server names it, `com.example.v1.Widget`, with ObjectMeta for metadata),
//! which `kubectl explain` reads; kinds without one get operations only.
//! This file must not answer anything but these documents.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};

use crate::merge_keys::{self, ListStrategy, ListType};
use crate::resources::{Registry, ResourceType};
use crate::schema::{self, Card, Msg, Ty};

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
    let mut schemas = Map::new();
    for rt in registry.types_of(group, version) {
        if let Some(kind) = schema::find(group, version, &rt.kind).filter(|_| !rt.custom) {
            component(kind.msg, &rt.kind, &mut Vec::new(), &mut schemas);
            schemas[kind.msg.name]["x-kubernetes-group-version-kind"] = json!([gvk(&rt, &rt.kind)]);
        }
        if let Some((name, def)) = custom_schema(&rt) {
            component(&schema::types::META_OBJECT_META, "", &mut Vec::new(), &mut schemas);
            schemas.insert(name, def);
        }
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
        "components": {"schemas": schemas},
    })
}

/// The name the real server gives a CRD's schema (`example.com`, `v1`,
/// `Widget` → `com.example.v1.Widget`) and the schema as it publishes it:
/// apiVersion, kind and ObjectMeta metadata added, tagged with its kind.
fn custom_schema(rt: &ResourceType) -> Option<(String, Value)> {
    let given = rt.definition.as_deref().and_then(crate::crd::schema_of)?;
    let mut group: Vec<&str> = rt.group.split('.').collect();
    group.reverse();
    let name = format!("{}.{}.{}", group.join("."), rt.version, rt.kind);
    let mut def = given.clone();
    def["properties"]["apiVersion"] = json!({"type": "string",
        "description": "APIVersion defines the versioned schema of this representation of an object."});
    def["properties"]["kind"] = json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."});
    def["properties"]["metadata"] = json!({"allOf": [{"$ref": reference("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")}],
        "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"});
    def["type"] = json!("object");
    def["x-kubernetes-group-version-kind"] = json!([gvk(rt, &rt.kind)]);
    Some((name, def))
}

fn gvk(rt: &ResourceType, kind: &str) -> Value {
    json!({"group": rt.group, "version": rt.version, "kind": kind})
}

/// The media types a write accepts: patches list theirs (kubectl computes a
/// strategic merge patch only where the server declares it).
fn request_body(rt: &ResourceType, action: &str) -> Option<Value> {
    let types: &[&str] = match action {
        "post" | "put" => &["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"],
        "patch" if rt.custom => &["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"],
        "patch" => &["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"],
        _ => return None,
    };
    let schema = match schema::find(&rt.group, &rt.version, &rt.kind).filter(|_| !rt.custom) {
        Some(kind) if action != "patch" => json!({"$ref": reference(kind.msg.name)}),
        _ => match custom_schema(rt) {
            Some((name, _)) if action != "patch" => json!({"$ref": reference(&name)}),
            _ => json!({"type": "object"}),
        },
    };
    let content: Map<String, Value> = types.iter().map(|t| (t.to_string(), json!({"schema": schema}))).collect();
    Some(json!({"content": content, "required": true}))
}

fn operation(rt: &ResourceType, kind: &str, action: &str, writes: bool) -> Value {
    let mut params = vec![json!({"name": "pretty", "in": "query", "schema": {"type": "string"}})];
    if writes {
        for name in ["dryRun", "fieldManager", "fieldValidation"] {
            params.push(json!({"name": name, "in": "query", "schema": {"type": "string"}}));
        }
    }
    let mut op = json!({
        "operationId": format!("{action}{kind}"),
        "parameters": params,
        "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(rt, kind),
    });
    if let Some(body) = request_body(rt, action) {
        op["requestBody"] = body;
    }
    op
}

fn reference(name: &str) -> String {
    format!("#/components/schemas/{name}")
}

/// A reference with siblings, as the real v3 documents write one.
fn ref_to(name: &str) -> Value {
    json!({"allOf": [{"$ref": reference(name)}]})
}

/// Where a list keeps its keys on `kubectl apply`, beyond merge keys: the
/// fields whose Go tags add `retainKeys` (a union: setting one member clears the others).
const RETAIN_KEYS: &[(&str, &str)] = &[("io.k8s.api.apps.v1.DeploymentSpec", "strategy"), ("io.k8s.api.core.v1.PodSpec", "volumes")];

/// Shared definitions of the types with their own JSON form.
fn builtin_component(ty: Ty) -> Option<(&'static str, Value)> {
    Some(match ty {
        Ty::Time => ("io.k8s.apimachinery.pkg.apis.meta.v1.Time", json!({"description": "A point in time, RFC 3339 at the second.", "type": "string", "format": "date-time"})),
        Ty::MicroTime => ("io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime", json!({"description": "A point in time, RFC 3339 with microseconds.", "type": "string", "format": "date-time"})),
        Ty::Quantity => ("io.k8s.apimachinery.pkg.api.resource.Quantity", json!({"description": "An amount such as 500m, 2 or 1Gi.", "type": "string"})),
        Ty::IntOrString => ("io.k8s.apimachinery.pkg.util.intstr.IntOrString", json!({"description": "A number or a string, such as 8080 or \"http\" or \"25%\".", "type": "string", "format": "int-or-string"})),
        Ty::Raw => ("io.k8s.apimachinery.pkg.runtime.RawExtension", json!({"description": "Any embedded JSON object.", "type": "object"})),
        _ => return None,
    })
}

/// The schema of one value of type `ty` (no list or map around it).
fn value_schema(ty: Ty, kind: &str, path: &mut Vec<String>, schemas: &mut Map<String, Value>) -> Value {
    if let Some((name, def)) = builtin_component(ty) {
        schemas.entry(name).or_insert(def);
        return ref_to(name);
    }
    match ty {
        Ty::Str => json!({"type": "string"}),
        Ty::Bytes => json!({"type": "string", "format": "byte"}),
        Ty::Bool => json!({"type": "boolean"}),
        Ty::Int32 => json!({"type": "integer", "format": "int32"}),
        Ty::Int64 => json!({"type": "integer", "format": "int64"}),
        Ty::Double => json!({"type": "number", "format": "double"}),
        Ty::Duration => json!({"type": "string"}),
        Ty::M(msg) => {
            component(msg, kind, path, schemas);
            let mut v = ref_to(msg.name);
            v["default"] = json!({});
            v
        }
        _ => json!({}),
    }
}

/// Adds `msg`'s schema (and every schema it refers to) to `schemas`, once.
/// `path` is where it was first met in `kind`, for the list strategies.
fn component(msg: &'static Msg, kind: &str, path: &mut Vec<String>, schemas: &mut Map<String, Value>) {
    if schemas.contains_key(msg.name) {
        return;
    }
    schemas.insert(msg.name.to_string(), json!({}));
    let mut properties = Map::new();
    let mut required = Vec::new();
    if schema::KINDS.iter().any(|k| std::ptr::eq(k.msg, msg)) {
        properties.insert("apiVersion".into(), json!({"type": "string"}));
        properties.insert("kind".into(), json!({"type": "string"}));
    }
    for field in msg.json_fields() {
        path.push(field.name.to_string());
        let mut prop = match field.card {
            Card::List => {
                let mut p = json!({"type": "array", "items": value_schema(field.ty, kind, path, schemas)});
                match merge_keys::apply_type(kind, path) {
                    ListType::Map(keys) => {
                        p["x-kubernetes-list-type"] = json!("map");
                        p["x-kubernetes-list-map-keys"] = json!(keys.iter().map(|k| k.field.as_str()).collect::<Vec<_>>());
                        // A defaulted key field (a port's protocol) shows its default, as the Go types' +default does.
                        if let Ty::M(item) = field.ty {
                            for key in keys.iter().filter(|k| k.default.is_some()) {
                                if let Some(prop) = schemas.get_mut(item.name).and_then(|d| d["properties"].get_mut(&key.field)) {
                                    prop["default"] = key.default.clone().unwrap_or_default();
                                }
                            }
                        }
                    }
                    ListType::Set => p["x-kubernetes-list-type"] = json!("set"),
                    ListType::Atomic => p["x-kubernetes-list-type"] = json!("atomic"),
                }
                match merge_keys::list_strategy(kind, path) {
                    ListStrategy::Map(key) => {
                        p["x-kubernetes-patch-strategy"] = json!("merge");
                        p["x-kubernetes-patch-merge-key"] = json!(key);
                    }
                    ListStrategy::Set => p["x-kubernetes-patch-strategy"] = json!("merge"),
                    ListStrategy::Atomic => {}
                }
                p
            }
            Card::Map => json!({"type": "object", "additionalProperties": value_schema(field.ty, kind, path, schemas)}),
            Card::One | Card::Inline => value_schema(field.ty, kind, path, schemas),
        };
        path.pop();
        if RETAIN_KEYS.contains(&(msg.name, field.name)) {
            let merged = prop["x-kubernetes-patch-strategy"].as_str().map(|s| format!("{s},retainKeys"));
            prop["x-kubernetes-patch-strategy"] = json!(merged.unwrap_or_else(|| "retainKeys".into()));
        }
        if let Some(doc) = schema::field_doc(msg.short_name(), field.name) {
            prop["description"] = json!(doc);
        }
        if !field.omitempty {
            required.push(field.name);
        }
        properties.insert(field.name.to_string(), prop);
    }
    let mut def = json!({"type": "object", "properties": properties});
    if let Some(doc) = schema::message_doc(msg.short_name()) {
        def["description"] = json!(doc);
    }
    if !required.is_empty() {
        def["required"] = json!(required);
    }
    schemas.insert(msg.name.to_string(), def);
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

    #[test]
    fn object_schemas_carry_kinds_merge_metadata_retain_keys_and_required_fields() {
        let registry = Registry::default();
        let doc = document_for(&registry, "apis/apps/v1").unwrap();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"], json!([{"group": "apps", "version": "v1", "kind": "Deployment"}]));
        assert!(schemas["io.k8s.api.apps.v1.DeploymentSpec"].get("x-kubernetes-group-version-kind").is_none());
        let spec = &schemas["io.k8s.api.apps.v1.DeploymentSpec"];
        assert_eq!(spec["properties"]["replicas"], json!({"type": "integer", "format": "int32", "description": "How many pods the deployment should run. Defaults to 1."}));
        assert_eq!(spec["properties"]["strategy"]["x-kubernetes-patch-strategy"], "retainKeys");
        assert_eq!(spec["properties"]["selector"]["allOf"], json!([{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"}]));
        assert_eq!(spec["required"], json!(["selector", "template"]));
        let pod_spec = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"];
        assert_eq!(pod_spec["volumes"]["x-kubernetes-patch-strategy"], "merge,retainKeys");
        assert_eq!(pod_spec["tolerations"]["x-kubernetes-list-type"], "atomic");
        assert!(pod_spec["tolerations"].get("x-kubernetes-patch-strategy").is_none());
        // Inlined Go structs read as the parent's fields: Volume has configMap, not VolumeSource.
        let volume = &schemas["io.k8s.api.core.v1.Volume"]["properties"];
        assert!(volume.get("configMap").is_some() && volume.get("VolumeSource").is_none());
        let meta = &schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"];
        assert_eq!(meta["finalizers"]["x-kubernetes-list-type"], "set");
        assert_eq!(meta["labels"]["additionalProperties"], json!({"type": "string"}));
        let port = &schemas["io.k8s.api.core.v1.ServicePort"];
        assert!(port.is_null(), "services live in the core document, not apps");
        let core = document_for(&registry, "api/v1").unwrap();
        let svc_ports = &core["components"]["schemas"]["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"];
        assert_eq!(svc_ports["x-kubernetes-patch-merge-key"], "port");
        assert_eq!(svc_ports["x-kubernetes-list-map-keys"], json!(["port", "protocol"]), "apply keys by both, as +listMapKey declares");
        assert_eq!(core["components"]["schemas"]["io.k8s.api.core.v1.ServicePort"]["properties"]["protocol"]["default"], "TCP");
        assert_eq!(core["components"]["schemas"]["io.k8s.api.core.v1.ContainerPort"]["properties"]["protocol"]["default"], "TCP");
        let target = &core["components"]["schemas"]["io.k8s.api.core.v1.ServicePort"]["properties"]["targetPort"];
        assert_eq!(target["allOf"][0]["$ref"], "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString");
        let patch = &core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]["requestBody"]["content"];
        assert!(patch.get("application/strategic-merge-patch+json").is_some());
    }

    #[test]
    fn custom_kinds_get_operations_without_schemas_or_strategic_merge() {
        let registry = Registry::default();
        let doc = document_for(&registry, "apis/gateway.networking.k8s.io/v1").unwrap();
        assert_eq!(doc["components"]["schemas"], json!({}));
        let content = &doc["paths"]["/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/httproutes/{name}"]["patch"]["requestBody"]["content"];
        assert!(content.get("application/merge-patch+json").is_some());
        assert!(content.get("application/strategic-merge-patch+json").is_none());
    }
}
