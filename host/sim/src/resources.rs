//! The kinds one simulated API server serves, and the discovery documents
//! that describe them: `/api`, `/api/v1`, `/apis`, `/apis/GROUP/VERSION` in
//! the legacy format, and `/api` and `/apis` as aggregated discovery
//! (apidiscovery.k8s.io v2, and v2beta1 which 1.32 still serves) for the
//! clients that ask for it first (kubectl, kube-rs's `run_aggregated`). The
//! table is shared and may grow at run time (custom resource definitions).
//! This file must not store objects or answer requests.

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
    /// For a kind served from a CRD: that CRD version (its schema, subresources, printer columns).
    pub definition: Option<Arc<Value>>,
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

    /// This type as an aggregated discovery `APIResourceDiscovery`.
    fn aggregated_entry(&self) -> Value {
        let kind = |group: &str, version: &str, kind: &str| json!({"group": group, "version": version, "kind": kind});
        let mut entry = json!({
            "resource": self.plural,
            "responseKind": kind(&self.group, &self.version, &self.kind),
            "scope": if self.namespaced { "Namespaced" } else { "Cluster" },
            "singularResource": self.kind.to_lowercase(),
            "verbs": self.verbs(),
        });
        if !self.short_names.is_empty() {
            entry["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            entry["categories"] = json!(self.categories);
        }
        let mut subresources = Vec::new();
        if self.group.is_empty() && self.plural == "pods" {
            subresources.push(json!({"subresource": "log", "responseKind": kind("", "v1", "Pod"), "verbs": ["get"]}));
        }
        if self.scale {
            subresources.push(json!({"subresource": "scale", "responseKind": kind("autoscaling", "v1", "Scale"), "verbs": ["get", "patch", "update"]}));
        }
        if self.status {
            subresources.push(json!({"subresource": "status", "responseKind": kind(&self.group, &self.version, &self.kind), "verbs": ["get", "patch", "update"]}));
        }
        if self.group.is_empty() && self.plural == "namespaces" {
            subresources.push(json!({"subresource": "finalize", "responseKind": kind("", "v1", "Namespace"), "verbs": ["update"]}));
        }
        if !subresources.is_empty() {
            entry["subresources"] = json!(subresources);
        }
        entry
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
        if self.group.is_empty() && self.plural == "pods" {
            let mut log = sub("log", None, None, &self.kind);
            log["verbs"] = json!(["get"]);
            out.push(log);
        }
        if self.status {
            out.push(sub("status", None, None, &self.kind));
        }
        if self.scale {
            out.push(sub("scale", Some("autoscaling"), Some("v1"), "Scale"));
        }
        if self.group.is_empty() && self.plural == "namespaces" {
            let mut finalize = sub("finalize", None, None, &self.kind);
            finalize["verbs"] = json!(["update"]);
            out.push(finalize);
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
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, &["pvc"], true, false, false, false),
    ("", "v1", "persistentvolumes", "PersistentVolume", false, &["pv"], true, false, false, false),
    // A view of the core events (see `events_v1`), as the real server serves them.
    ("events.k8s.io", "v1", "events", "Event", true, &["ev"], false, false, false, false),
    ("apps", "v1", "deployments", "Deployment", true, &["deploy"], true, true, true, true),
    ("apps", "v1", "replicasets", "ReplicaSet", true, &["rs"], true, true, true, true),
    ("apps", "v1", "statefulsets", "StatefulSet", true, &["sts"], true, true, true, true),
    ("apps", "v1", "daemonsets", "DaemonSet", true, &["ds"], true, false, true, true),
    ("batch", "v1", "jobs", "Job", true, &[], true, false, true, true),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", true, &["ing"], true, false, true, false),
    ("coordination.k8s.io", "v1", "leases", "Lease", true, &[], false, false, false, false),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, &["pdb"], true, false, true, false),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, &["hpa"], true, false, true, true),
    // Stored as v2 (see `conversion`); v2 is listed first, so preferred.
    ("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, &["hpa"], true, false, true, true),
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
            definition: None,
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
        // Every request looks its kind up: search in place, copy only the one found.
        let types = self.types.read().unwrap_or_else(|p| p.into_inner());
        types.iter().find(|t| t.group == group && t.version == version && t.plural == plural).cloned()
    }

    /// Serves `types` in place of whatever was served for `gr` (none: stop serving it).
    pub fn replace(&self, gr: &GroupResource, types: Vec<ResourceType>) {
        let mut all = self.types.write().unwrap_or_else(|p| p.into_inner());
        all.retain(|t| t.gr() != *gr);
        all.extend(types);
    }

    /// The types served under one group version.
    pub fn types_of(&self, group: &str, version: &str) -> Vec<ResourceType> {
        let types = self.types.read().unwrap_or_else(|p| p.into_inner());
        types.iter().filter(|t| t.group == group && t.version == version).cloned().collect()
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

/// The aggregated discovery media type of each version served.
pub const AGGREGATED_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
pub const AGGREGATED_V2BETA1: &str = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// The aggregated discovery media type an Accept header asks for before any
/// plain JSON, if any; ranges this server cannot give (protobuf) are skipped.
pub fn aggregated_media_type(accept: &str) -> Option<&'static str> {
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let params: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).map(|(k, v)| (k.trim(), v.trim())).collect();
        let param = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let json_like = matches!(media, "application/json" | "application/*" | "*/*");
        match (json_like, param("g"), param("v"), param("as")) {
            (true, Some("apidiscovery.k8s.io"), Some("v2"), Some("APIGroupDiscoveryList")) => return Some(AGGREGATED_V2),
            (true, Some("apidiscovery.k8s.io"), Some("v2beta1"), Some("APIGroupDiscoveryList")) => return Some(AGGREGATED_V2BETA1),
            (true, None, _, _) => return None,
            _ => {}
        }
    }
    None
}

impl Registry {
    /// `/api` (core) or `/apis` as an `APIGroupDiscoveryList` of `media_type`'s version.
    pub fn aggregated(&self, core: bool, media_type: &str) -> Value {
        let version = if media_type == AGGREGATED_V2BETA1 { "v2beta1" } else { "v2" };
        let groups = if core { vec![(String::new(), vec!["v1".to_string()])] } else { self.groups() };
        let items: Vec<Value> = groups
            .iter()
            .map(|(group, versions)| {
                let versions: Vec<Value> = versions
                    .iter()
                    .map(|v| {
                        let resources: Vec<Value> = self.types_of(group, v).iter().map(ResourceType::aggregated_entry).collect();
                        json!({"version": v, "resources": resources, "freshness": "Current"})
                    })
                    .collect();
                let mut metadata = json!({"creationTimestamp": null});
                if !group.is_empty() {
                    metadata["name"] = json!(group);
                }
                json!({"metadata": metadata, "versions": versions})
            })
            .collect();
        json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"), "metadata": {}, "items": items})
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
    fn aggregated_discovery_is_given_when_asked_for_before_plain_json() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_media_type(kubectl), Some(AGGREGATED_V2));
        let kubectl_1_27 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_media_type(kubectl_1_27), Some(AGGREGATED_V2BETA1));
        let protobuf_first = "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
        assert_eq!(aggregated_media_type(protobuf_first), Some(AGGREGATED_V2));
        assert_eq!(aggregated_media_type("application/json, */*"), None);
        assert_eq!(aggregated_media_type("application/json,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"), None);
        assert_eq!(aggregated_media_type(""), None);
    }

    #[test]
    fn aggregated_discovery_describes_kinds_scopes_and_subresources() {
        let registry = Registry::default();
        let core = registry.aggregated(true, AGGREGATED_V2);
        assert_eq!((core["kind"].as_str(), core["apiVersion"].as_str()), (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io/v2")));
        assert_eq!(core["items"].as_array().unwrap().len(), 1);
        assert!(core["items"][0]["metadata"].get("name").is_none(), "the core group has no name");
        let v1 = &core["items"][0]["versions"][0];
        assert_eq!((v1["version"].as_str(), v1["freshness"].as_str()), (Some("v1"), Some("Current")));
        let ns = v1["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "namespaces").unwrap();
        assert_eq!(ns["scope"], "Cluster");
        assert_eq!(ns["responseKind"], json!({"group": "", "version": "v1", "kind": "Namespace"}));

        let apis = registry.aggregated(false, AGGREGATED_V2BETA1);
        assert_eq!(apis["apiVersion"], "apidiscovery.k8s.io/v2beta1");
        let apps = apis["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == "apps").unwrap();
        let deploy = apps["versions"][0]["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "deployments").unwrap();
        assert_eq!((deploy["scope"].as_str(), deploy["singularResource"].as_str()), (Some("Namespaced"), Some("deployment")));
        assert_eq!(deploy["shortNames"], json!(["deploy"]));
        let subs: Vec<(&str, &str)> =
            deploy["subresources"].as_array().unwrap().iter().map(|s| (s["subresource"].as_str().unwrap(), s["responseKind"]["kind"].as_str().unwrap())).collect();
        assert_eq!(subs, [("scale", "Scale"), ("status", "Deployment")]);
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
