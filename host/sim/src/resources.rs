//! The kinds one simulated API server serves, and the discovery documents
//! that describe them (`/api`, `/api/v1`, `/apis`, `/apis/GROUP/VERSION`) in
//! the legacy format kubectl falls back to when it asked for aggregated
//! discovery. The table is shared and may grow at run time (custom resource
//! definitions). This file must not store objects or answer requests.

use std::sync::{Arc, RwLock};

use serde_json::{json, Value};

use crate::error::GroupResource;

/// One served resource, as its discovery entry describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Has a `status` subresource: updates of the main resource keep status.
    pub status: bool,
    /// Has a `scale` subresource.
    pub scale: bool,
    /// Keeps `metadata.generation`, bumped when anything but metadata and status changes.
    pub generation: bool,
    /// Served from a CustomResourceDefinition (as Gateway API kinds are on real
    /// clusters): no default status on create, DELETE answers the object.
    pub custom: bool,
}

impl ResourceType {
    pub fn gr(&self) -> GroupResource {
        GroupResource::new(&self.group, &self.plural)
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn verbs(&self) -> Vec<&'static str> {
        let mut verbs = vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
        if self.plural == "namespaces" {
            verbs.retain(|v| *v != "deletecollection");
        }
        verbs
    }

    fn discovery_entries(&self) -> Vec<Value> {
        let mut main = json!({
            "name": self.plural,
            "singularName": self.kind.to_lowercase(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": self.verbs(),
        });
        if !self.short_names.is_empty() {
            main["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            main["categories"] = json!(self.categories);
        }
        let mut out = vec![main];
        let sub = |name: &str, group: Option<&str>, version: Option<&str>, kind: &str| {
            let mut v = json!({"name": format!("{}/{name}", self.plural), "singularName": "", "namespaced": self.namespaced,
                "kind": kind, "verbs": ["get", "patch", "update"]});
            if let (Some(g), Some(ver)) = (group, version) {
                v["group"] = json!(g);
                v["version"] = json!(ver);
            }
            v
        };
        if self.status {
            out.push(sub("status", None, None, &self.kind));
        }
        if self.scale {
            out.push(sub("scale", Some("autoscaling"), Some("v1"), "Scale"));
        }
        out
    }
}

/// (group, version, plural, kind, namespaced, short names, status, scale, generation, in category "all")
type Row = (&'static str, &'static str, &'static str, &'static str, bool, &'static [&'static str], bool, bool, bool, bool);

const BUILTIN: &[Row] = &[
    ("", "v1", "namespaces", "Namespace", false, &["ns"], true, false, false, false),
    ("", "v1", "pods", "Pod", true, &["po"], true, false, false, true),
    ("", "v1", "services", "Service", true, &["svc"], true, false, false, true),
    ("", "v1", "endpoints", "Endpoints", true, &["ep"], false, false, false, false),
    ("", "v1", "configmaps", "ConfigMap", true, &["cm"], false, false, false, false),
    ("", "v1", "secrets", "Secret", true, &[], false, false, false, false),
    ("", "v1", "serviceaccounts", "ServiceAccount", true, &["sa"], false, false, false, false),
    ("", "v1", "events", "Event", true, &["ev"], false, false, false, false),
    ("apps", "v1", "deployments", "Deployment", true, &["deploy"], true, true, true, true),
    ("apps", "v1", "replicasets", "ReplicaSet", true, &["rs"], true, true, true, true),
    ("apps", "v1", "statefulsets", "StatefulSet", true, &["sts"], true, true, true, true),
    ("apps", "v1", "daemonsets", "DaemonSet", true, &["ds"], true, false, true, true),
    ("batch", "v1", "jobs", "Job", true, &[], true, false, true, true),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", true, &["ing"], true, false, true, false),
    ("coordination.k8s.io", "v1", "leases", "Lease", true, &[], false, false, false, false),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, &["pdb"], true, false, true, false),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, &["hpa"], true, false, true, true),
    ("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", true, &[], true, false, true, false),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, &["crd", "crds"], true, false, true, false),
];

fn builtin() -> Vec<ResourceType> {
    BUILTIN
        .iter()
        .map(|&(group, version, plural, kind, namespaced, shorts, status, scale, generation, all)| ResourceType {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            kind: kind.into(),
            namespaced,
            short_names: shorts.iter().map(|s| s.to_string()).collect(),
            categories: if all { vec!["all".into()] } else { vec![] },
            status,
            scale,
            generation,
            custom: group == "gateway.networking.k8s.io",
        })
        .collect()
}

/// Every resource type the server serves.
#[derive(Clone)]
pub struct Registry {
    types: Arc<RwLock<Vec<ResourceType>>>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry { types: Arc::new(RwLock::new(builtin())) }
    }
}

impl Registry {
    fn all(&self) -> Vec<ResourceType> {
        self.types.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.all().into_iter().find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// Serves `types` in place of whatever was served for `gr` (none: stop serving it).
    pub fn replace(&self, gr: &GroupResource, types: Vec<ResourceType>) {
        let mut all = self.types.write().unwrap_or_else(|p| p.into_inner());
        all.retain(|t| t.gr() != *gr);
        all.extend(types);
    }

    /// The types served under one group version.
    pub fn types_of(&self, group: &str, version: &str) -> Vec<ResourceType> {
        self.all().into_iter().filter(|t| t.group == group && t.version == version).collect()
    }

    /// Every served (group, version), the core group first.
    pub fn group_versions(&self) -> Vec<(String, String)> {
        let mut out = vec![(String::new(), "v1".to_string())];
        for (group, versions) in self.groups() {
            out.extend(versions.into_iter().map(|v| (group.clone(), v)));
        }
        out
    }

    pub fn serves(&self, group: &str, version: &str) -> bool {
        self.all().iter().any(|t| t.group == group && t.version == version)
    }

    /// `/api`: the core group's versions.
    pub fn core_versions(&self, server_address: &str) -> Value {
        json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        })
    }

    /// `/apis`: every named group with its versions.
    pub fn group_list(&self) -> Value {
        let groups: Vec<Value> = self.groups().iter().map(|(g, versions)| group_entry(g, versions)).collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `/apis/GROUP`, if the group is served.
    pub fn group(&self, group: &str) -> Option<Value> {
        let groups = self.groups();
        let (name, versions) = groups.iter().find(|(g, _)| g == group)?;
        let mut entry = group_entry(name, versions);
        entry["kind"] = json!("APIGroup");
        entry["apiVersion"] = json!("v1");
        Some(entry)
    }

    fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for t in self.all().into_iter().filter(|t| !t.group.is_empty()) {
            match groups.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, versions)) if !versions.contains(&t.version) => versions.push(t.version.clone()),
                Some(_) => {}
                None => groups.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        groups
    }

    /// `/api/v1` or `/apis/GROUP/VERSION`: the APIResourceList.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        if !self.serves(group, version) {
            return None;
        }
        let resources: Vec<Value> = self.types_of(group, version).iter().flat_map(|t| t.discovery_entries()).collect();
        let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
        Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}))
    }
}

fn group_entry(group: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect();
    json!({"name": group, "versions": versions, "preferredVersion": versions[0]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_v1_lists_deployments_with_status_and_scale() {
        let list = Registry::default().resource_list("apps", "v1").unwrap();
        let names: Vec<&str> = list["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"deployments"));
        assert!(names.contains(&"deployments/status"));
        assert!(names.contains(&"deployments/scale"));
        let deploy = &list["resources"][0];
        assert_eq!(deploy["shortNames"], json!(["deploy"]));
        assert_eq!(deploy["kind"], "Deployment");
    }

    #[test]
    fn group_list_names_every_named_group_once() {
        let list = Registry::default().group_list();
        let groups = list["groups"].as_array().unwrap();
        assert!(groups.iter().any(|g| g["name"] == "gateway.networking.k8s.io"));
        assert_eq!(groups.iter().filter(|g| g["name"] == "apps").count(), 1);
        assert!(Registry::default().resource_list("nope", "v1").is_none());
    }
}
