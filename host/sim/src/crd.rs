//! CustomResourceDefinitions make their kinds served: when a CRD is written,
//! every served version of it joins the registry (discovery, OpenAPI index,
//! REST paths) with its scope, names and subresources, and the CRD's status
//! says so as the real apiextensions controller would (NamesAccepted and
//! Established conditions, acceptedNames, storedVersions); when it is
//! deleted its kind stops being served and its objects go. Each served type
//! carries its CRD version (`ResourceType::definition`): its
//! `openAPIV3Schema` (structurally checked here on CRD writes, and applied
//! to custom resources by `schema::structural` — pruning, defaults,
//! validation), its scale subresource's paths, and its
//! `additionalPrinterColumns`, which make the Tables `kubectl get` prints.
//! This file must not parse requests.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::api::Api;
use crate::error::{ApiError, GroupResource};
use crate::resources::ResourceType;
use crate::schema::structural;
use crate::store::{now_rfc3339, Part, WriteOptions};
use crate::table;

/// Whether a resource type is the CRD kind itself.
pub fn is_crd(rt: &ResourceType) -> bool {
    rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions"
}

/// The resource types a CRD object defines: one per served version.
pub fn types_of(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let strings = |v: &Value| v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default();
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(false))
        .map(|v| ResourceType {
            group: spec["group"].as_str().unwrap_or("").to_string(),
            version: v["name"].as_str().unwrap_or("").to_string(),
            plural: names["plural"].as_str().unwrap_or("").to_string(),
            kind: names["kind"].as_str().unwrap_or("").to_string(),
            namespaced: spec["scope"].as_str() == Some("Namespaced"),
            short_names: strings(&names["shortNames"]),
            categories: strings(&names["categories"]),
            status: !v["subresources"]["status"].is_null(),
            scale: !v["subresources"]["scale"].is_null(),
            generation: true,
            custom: true,
            definition: Some(Arc::new(v.clone())),
        })
        .filter(|t| !t.group.is_empty() && !t.version.is_empty() && !t.plural.is_empty() && !t.kind.is_empty())
        .collect()
}

impl Api {
    /// After a CRD was created or changed: serve its kinds and mark it established.
    pub fn crd_written(&self, rt: &ResourceType, crd: &Value) -> Result<Value, ApiError> {
        let name = crd["metadata"]["name"].as_str().unwrap_or("");
        let types = types_of(crd);
        let Some(first) = types.first() else { return Ok(crd.clone()) };
        self.registry.replace(&first.gr(), types.clone());
        let storage = crd["spec"]["versions"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["storage"].as_bool() == Some(true)))
            .and_then(|v| v["name"].as_str())
            .unwrap_or(&first.version)
            .to_string();
        self.store.modify(rt, "", name, Part::Status, &WriteOptions::default(), |current| {
            let mut next = current.clone();
            next["status"] = established_status(&current["spec"]["names"], &storage);
            Ok(next)
        })
    }

    /// After a CRD was deleted: stop serving its kind and drop its objects.
    pub fn crd_deleted(&self, crd: &Value) {
        let Some(first) = types_of(crd).into_iter().next() else { return };
        let gr: GroupResource = first.gr();
        self.registry.replace(&gr, Vec::new());
        self.store.drop_resource(&gr);
    }
}

/// The warning every request to a deprecated CRD version is answered with:
/// its `deprecationWarning`, else `example.com/v1beta1 Widget is deprecated;
/// use example.com/v1 Widget` naming the newest served, not deprecated,
/// newer version (Kubernetes' version order: v2 > v1 > v1beta2 > v1alpha1).
pub fn deprecation_warning(registry: &crate::resources::Registry, rt: &ResourceType) -> Option<String> {
    let version = rt.definition.as_deref().filter(|v| v["deprecated"].as_bool() == Some(true))?;
    if let Some(text) = version["deprecationWarning"].as_str() {
        return Some(text.to_string());
    }
    let mut message = format!("{}/{} {} is deprecated", rt.group, rt.version, rt.kind);
    let newer = registry
        .group_versions()
        .into_iter()
        .filter(|(group, _)| *group == rt.group)
        .flat_map(|(group, version)| registry.types_of(&group, &version))
        .filter(|t| t.plural == rt.plural)
        .filter(|t| t.definition.as_deref().is_some_and(|d| d["deprecated"].as_bool() != Some(true)))
        .filter(|t| version_rank(&t.version) > version_rank(&rt.version))
        .max_by_key(|t| version_rank(&t.version));
    if let Some(newer) = newer {
        message.push_str(&format!("; use {}/{} {}", newer.group, newer.version, newer.kind));
    }
    Some(message)
}

/// Kubernetes' version order: GA above beta above alpha, then by numbers;
/// names of another form sort below all of them.
fn version_rank(version: &str) -> (u8, u64, u8, u64) {
    let Some(rest) = version.strip_prefix('v') else { return (0, 0, 0, 0) };
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let Ok(major) = rest[..digits].parse::<u64>() else { return (0, 0, 0, 0) };
    let (stage, minor) = match &rest[digits..] {
        "" => (3, 0),
        tail => match tail.strip_prefix("beta").or_else(|| tail.strip_prefix("alpha")) {
            Some(n) => (if tail.starts_with("beta") { 2 } else { 1 }, n.parse::<u64>().unwrap_or(0)),
            None => return (0, 0, 0, 0),
        },
    };
    (1, major, stage, minor)
}

/// A CRD version's `openAPIV3Schema`, if it has one.
pub fn schema_of(version: &Value) -> Option<&Value> {
    version["schema"].get("openAPIV3Schema").filter(|s| s.is_object())
}

/// The CRD's schemas as the real server checks them on create and update:
/// structural (422 naming each offending schema field) or refused.
pub fn check(rt: &ResourceType, crd: &Value) -> Result<(), ApiError> {
    let causes = structural::crd_errors(crd);
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(&rt.gr(), &rt.kind, crd["metadata"]["name"].as_str().unwrap_or(""), causes))
}

/// A custom resource as the real server takes it in, after its unknown
/// fields were handled: its schema's defaults filled in, then validated (422
/// with kube-openapi's words). `status` is left out of the check on a main
/// write when the status subresource owns it. Kinds without a schema pass.
pub fn admit(rt: &ResourceType, obj: &mut Value, status_write: bool) -> Result<(), ApiError> {
    let Some(schema) = rt.definition.as_deref().and_then(schema_of) else { return Ok(()) };
    structural::default(schema, obj);
    let mut causes = structural::validate(schema, obj);
    if rt.status && !status_write {
        causes.retain(|c| c.field != "status" && !c.field.starts_with("status.") && !c.field.starts_with("status["));
    }
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(&rt.gr(), &rt.kind, obj["metadata"]["name"].as_str().unwrap_or(""), causes))
}

/// Where a custom kind's scale subresource reads and writes: `specReplicasPath`,
/// `statusReplicasPath`, `labelSelectorPath` (JSON paths such as `.spec.replicas`).
pub struct ScalePaths {
    pub spec_replicas: Vec<String>,
    pub status_replicas: Vec<String>,
    pub label_selector: Option<Vec<String>>,
}

fn dotted(path: &str) -> Vec<String> {
    path.trim_start_matches('.').split('.').filter(|p| !p.is_empty()).map(String::from).collect()
}

/// The scale paths the CRD version declares, if it declares a scale subresource.
pub fn scale_paths(rt: &ResourceType) -> Option<ScalePaths> {
    let scale = &rt.definition.as_deref()?["subresources"]["scale"];
    let spec = scale["specReplicasPath"].as_str()?;
    Some(ScalePaths {
        spec_replicas: dotted(spec),
        status_replicas: dotted(scale["statusReplicasPath"].as_str().unwrap_or(".status.replicas")),
        label_selector: scale["labelSelectorPath"].as_str().map(dotted),
    })
}

/// The value at a dotted path.
pub fn at<'a>(obj: &'a Value, path: &[String]) -> &'a Value {
    path.iter().fold(obj, |v, k| v.get(k).unwrap_or(&Value::Null))
}

/// Sets the value at a dotted path, creating objects on the way.
pub fn set_at(obj: &mut Value, path: &[String], value: Value) {
    let Some((last, above)) = path.split_last() else { return };
    let mut node = obj;
    for k in above {
        if !node[k.as_str()].is_object() {
            node[k.as_str()] = json!({});
        }
        node = &mut node[k.as_str()];
    }
    node[last.as_str()] = value;
}

/// The Table of custom resources, if `rt` is served from a CRD: Name, then
/// the version's `additionalPrinterColumns` (Age alone when it declares
/// none), cells read by each column's JSON path as the real server reads them.
pub fn table(rt: &ResourceType, items: &[Value], metadata: Value, include: &str) -> Option<Value> {
    let version = rt.definition.as_deref()?;
    let declared = version["additionalPrinterColumns"].as_array().cloned().unwrap_or_default();
    let columns = if declared.is_empty() {
        vec![json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})]
    } else {
        declared
    };
    let mut definitions = vec![json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0})];
    for c in &columns {
        definitions.push(json!({"name": c["name"], "type": c["type"], "format": c["format"].as_str().unwrap_or(""),
            "description": c["description"].as_str().unwrap_or(""), "priority": c["priority"].as_i64().unwrap_or(0)}));
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut cells = vec![item["metadata"]["name"].clone()];
            cells.extend(columns.iter().map(|c| cell(c, item)));
            let object = match include {
                "None" => Value::Null,
                "Object" => item.clone(),
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": item["metadata"]}),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    Some(json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": definitions, "rows": rows}))
}

/// The Table of `items` as the real server prints them: a CRD's columns for
/// a kind served from one, the built-in columns otherwise.
pub fn printed(rt: &ResourceType, items: &[Value], metadata: Value, include: &str) -> Value {
    if rt.definition.is_some() {
        if let Some(custom) = table(rt, items, metadata.clone(), include) {
            return custom;
        }
    }
    table::table(rt, items, metadata, include)
}

/// One printer column's cell: the value at its JSON path (simple paths,
/// `[n]` indices and `[?(@.field=="value")]` filters), a `date` as an age.
fn cell(column: &Value, item: &Value) -> Value {
    let found = json_path(item, column["jsonPath"].as_str().unwrap_or(""));
    match (column["type"].as_str(), found) {
        (_, None | Some(Value::Null)) => Value::Null,
        (Some("date"), Some(Value::String(t))) => {
            let format = time::format_description::well_known::Rfc3339;
            match time::OffsetDateTime::parse(&t, &format) {
                Ok(at) => json!(table::human_duration((time::OffsetDateTime::now_utc() - at).whole_seconds())),
                Err(_) => json!(t),
            }
        }
        (_, Some(v @ (Value::Object(_) | Value::Array(_)))) => json!(v.to_string()),
        (_, Some(v)) => v,
    }
}

fn json_path(obj: &Value, path: &str) -> Option<Value> {
    let mut node = obj.clone();
    let mut rest = path.trim().trim_start_matches('{').trim_end_matches('}').trim_start_matches('.');
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']')?;
            let selector = &inner[..end];
            rest = inner[end + 1..].trim_start_matches('.');
            node = match selector.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                Some(filter) => {
                    let (field, want) = filter.split_once("==")?;
                    let want = want.trim().trim_matches(|c| c == '"' || c == '\'');
                    node.as_array()?.iter().find(|i| i[field.trim()].as_str() == Some(want) || i[field.trim()].to_string().as_str() == want)?.clone()
                }
                None => node.get(selector.parse::<usize>().ok()?)?.clone(),
            };
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        node = node.get(&rest[..end])?.clone();
        rest = rest[end..].trim_start_matches('.');
    }
    Some(node)
}

fn established_status(names: &Value, storage: &str) -> Value {
    let now = now_rfc3339();
    let condition = |kind: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message})
    };
    json!({
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": names,
        "storedVersions": [storage],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crd_defines_one_type_per_served_version() {
        let crd = json!({"spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [
                {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}},
                {"name": "v1beta1", "served": false, "storage": false}
            ]}});
        let types = types_of(&crd);
        assert_eq!(types.len(), 1);
        assert_eq!(types[0].api_version(), "example.com/v1");
        assert!(types[0].namespaced && types[0].status && !types[0].scale);
        assert_eq!(types[0].short_names, ["wd"]);
    }

    #[test]
    fn printer_columns_read_json_paths_and_default_to_age() {
        let crd = json!({"spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "additionalPrinterColumns": [
                {"name": "Size", "type": "string", "jsonPath": ".spec.size"},
                {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}]}]}});
        let rt = types_of(&crd).remove(0);
        let item = json!({"metadata": {"name": "w1"}, "spec": {"size": "small", "replicas": 3},
            "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        let t = table(&rt, &[item], json!({}), "").unwrap();
        let names: Vec<&Value> = t["columnDefinitions"].as_array().unwrap().iter().map(|c| &c["name"]).collect();
        assert_eq!(names, [&json!("Name"), &json!("Size"), &json!("Replicas"), &json!("Ready")]);
        assert_eq!(t["rows"][0]["cells"], json!(["w1", "small", 3, "True"]));
        let plain = json!({"spec": {"group": "example.com", "names": {"plural": "gadgets", "kind": "Gadget"}, "versions": [{"name": "v1", "served": true}]}});
        let t = table(&types_of(&plain)[0], &[json!({"metadata": {"name": "g"}})], json!({}), "").unwrap();
        assert_eq!(t["columnDefinitions"][1]["name"], "Age");
    }

    #[test]
    fn versions_rank_as_kubernetes_orders_them() {
        let mut versions = ["v1alpha1", "v2", "v1beta2", "foo", "v1", "v1beta1", "v10"];
        versions.sort_by_key(|v| version_rank(v));
        assert_eq!(versions, ["foo", "v1alpha1", "v1beta1", "v1beta2", "v1", "v2", "v10"]);
    }
}
