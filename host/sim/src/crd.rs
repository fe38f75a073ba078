//! CustomResourceDefinitions make their kinds served: when a CRD is written,
//! every served version of it joins the registry (discovery, OpenAPI index,
//! REST paths) with its scope, names and subresources, and the CRD's status
//! says so as the real apiextensions controller would (NamesAccepted and
//! Established conditions, acceptedNames, storedVersions); when it is
//! deleted its kind stops being served and its objects go. Schemas are not
//! validated in this slice. This file must not parse requests.

use serde_json::{json, Value};

use crate::api::Api;
use crate::error::{ApiError, GroupResource};
use crate::resources::ResourceType;
use crate::store::{now_rfc3339, Part, WriteOptions};

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
}
