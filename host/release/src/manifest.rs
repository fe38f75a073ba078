//! A release's manifest as Helm builds and reads it
//! (`pkg/release/v1/util/{manifest,manifest_sorter,kind_sorter}.go` and
//! `action.renderResources`): rendered templates split into documents
//! (Helm's `---` regex), partials, blanks and `NOTES.txt` dropped, hooks
//! (`helm.sh/hook`) set apart, the rest stably sorted by kind in Helm's
//! `InstallOrder` (unknown kinds last, alphabetically), joined as
//! `---\n# Source: PATH\nDOC\n`; the stored manifest split again into
//! objects (JSON through the engine's YAML reader, as sigs.k8s.io/yaml reads
//! them) for applying in that order, or for deleting in `UninstallOrder`.
//! This file must not talk to a cluster.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{json, Map, Value};

/// Helm's `InstallOrder`.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Helm's `UninstallOrder` (not quite the reverse: validating webhooks go first).
pub const UNINSTALL_ORDER: &[&str] = &[
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
    "Ingress",
    "IngressClass",
    "Service",
    "CronJob",
    "Job",
    "StatefulSet",
    "HorizontalPodAutoscaler",
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "Pod",
    "DaemonSet",
    "RoleBindingList",
    "RoleBinding",
    "RoleList",
    "Role",
    "ClusterRoleBindingList",
    "ClusterRoleBinding",
    "ClusterRoleList",
    "ClusterRole",
    "CustomResourceDefinition",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "StorageClass",
    "ConfigMap",
    "SecretList",
    "Secret",
    "ServiceAccount",
    "PodDisruptionBudget",
    "PodSecurityPolicy",
    "LimitRange",
    "ResourceQuota",
    "NetworkPolicy",
    "Namespace",
    "PriorityClass",
];

pub const HOOK_ANNOTATION: &str = "helm.sh/hook";
pub const HOOK_WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
pub const HOOK_DELETE_ANNOTATION: &str = "helm.sh/hook-delete-policy";
pub const HOOK_OUTPUT_LOG_ANNOTATION: &str = "helm.sh/hook-output-log-policy";
pub const RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";
pub const KEEP_POLICY: &str = "keep";

const HOOK_EVENTS: &[&str] = &["pre-install", "post-install", "pre-delete", "post-delete", "pre-upgrade", "post-upgrade", "pre-rollback", "post-rollback", "test"];

/// One document of the manifest: the template it came from, its text, and
/// its head (apiVersion, kind, name, annotations).
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub name: String,
    pub content: String,
    pub api_version: String,
    pub kind: String,
    pub object_name: String,
    pub annotations: BTreeMap<String, String>,
}

/// A manifest split into hooks (as Helm's `release.Hook` JSON) and the rest.
#[derive(Clone, Debug, Default)]
pub struct Sorted {
    pub hooks: Vec<Value>,
    pub manifests: Vec<Manifest>,
}

/// Why a manifest could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub String);

fn separator() -> &'static Regex {
    static SEP: OnceLock<Regex> = OnceLock::new();
    // Go's RE2 `\s` is ASCII whitespace: [\t\n\f\r ].
    SEP.get_or_init(|| Regex::new(r"(?:^|[\t\n\x0C\r ]*\n)---[\t\n\x0C\r ]*").expect("a constant pattern (invariant)"))
}

/// Helm's `SplitManifests`, in document order.
pub fn split_manifests(big: &str) -> Vec<String> {
    let trimmed = big.trim_start();
    separator().split(trimmed).filter(|d| !d.trim().is_empty()).map(|d| d.trim_start().to_string()).collect()
}

/// A YAML document as JSON, read as sigs.k8s.io/yaml reads it (through the
/// engine's YAML reader and Go's encoding/json).
pub fn yaml_to_json(doc: &str) -> Result<Value, String> {
    let v = gantry_helm::yaml::parse(doc).map_err(|e| e.to_string())?;
    crate::record::helm_value_to_json(&v).ok_or_else(|| "the document cannot be written as JSON".to_string())
}

fn head(path: &str, doc: &str) -> Result<Manifest, ManifestError> {
    let v = yaml_to_json(doc).map_err(|e| ManifestError(format!("YAML parse error on {path}: {e}")))?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let annotations = v["metadata"]["annotations"].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))).collect()).unwrap_or_default();
    Ok(Manifest { name: path.to_string(), content: doc.to_string(), api_version: text(&v["apiVersion"]), kind: text(&v["kind"]), object_name: text(&v["metadata"]["name"]), annotations })
}

fn kind_rank(order: &[&str], kind: &str) -> Option<usize> {
    order.iter().position(|k| *k == kind)
}

/// Helm's `lessByKind`: known kinds by `order`, unknown ones after them
/// alphabetically; a stable sort keeps equal kinds in their order.
pub fn sort_by_kind<T>(items: &mut [T], order: &[&str], kind: impl Fn(&T) -> &str) {
    items.sort_by(|a, b| {
        let (ka, kb) = (kind(a), kind(b));
        match (kind_rank(order, ka), kind_rank(order, kb)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => ka.cmp(kb),
        }
    });
}

fn annotation_list(m: &Manifest, key: &str) -> Vec<Value> {
    m.annotations.get(key).map(|v| v.split(',').map(|p| json!(p.trim().to_lowercase())).collect()).unwrap_or_default()
}

/// Helm's `SortManifests`: files by path, documents in order; partials and
/// blank files skipped; hooks apart (unknown hook events dropped, as Helm
/// drops them); both sorted by kind in `order`.
pub fn sort_manifests(files: &BTreeMap<String, String>, order: &[&str]) -> Result<Sorted, ManifestError> {
    let mut sorted = Sorted::default();
    let mut hooks: Vec<(String, Value)> = Vec::new();
    for (path, content) in files {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(content) {
            let m = head(path, &doc)?;
            let Some(hook_types) = m.annotations.get(HOOK_ANNOTATION) else {
                sorted.manifests.push(m);
                continue;
            };
            let events: Vec<String> = hook_types.split(',').map(|e| e.trim().to_lowercase()).map(|e| if e == "test-success" { "test".to_string() } else { e }).collect();
            if events.iter().any(|e| !HOOK_EVENTS.contains(&e.as_str())) {
                tracing::info!(hook_types = %hook_types, "skipping unknown hooks");
                continue;
            }
            let weight: i64 = m.annotations.get(HOOK_WEIGHT_ANNOTATION).and_then(|w| w.parse().ok()).unwrap_or(0);
            let mut hook = Map::new();
            let mut put = |k: &str, v: Value, omit: bool| {
                if !omit {
                    hook.insert(k.to_string(), v);
                }
            };
            put("name", json!(m.object_name), m.object_name.is_empty());
            put("kind", json!(m.kind), m.kind.is_empty());
            put("path", json!(m.name), false);
            put("manifest", json!(m.content), m.content.is_empty());
            put("events", json!(events), events.is_empty());
            put("last_run", json!({"phase": ""}), false);
            put("weight", json!(weight), weight == 0);
            let deletes = annotation_list(&m, HOOK_DELETE_ANNOTATION);
            put("delete_policies", json!(deletes), deletes.is_empty());
            let logs = annotation_list(&m, HOOK_OUTPUT_LOG_ANNOTATION);
            put("output_log_policies", json!(logs), logs.is_empty());
            hooks.push((m.kind.clone(), Value::Object(hook)));
        }
    }
    sort_by_kind(&mut hooks, order, |h| h.0.as_str());
    sorted.hooks = hooks.into_iter().map(|h| h.1).collect();
    sort_by_kind(&mut sorted.manifests, order, |m| m.kind.as_str());
    Ok(sorted)
}

/// The release's manifest and notes from a render, as `renderResources`
/// builds them: the top chart's `templates/NOTES.txt` is the notes; every
/// NOTES.txt is left out of the manifest.
pub fn build(mut files: BTreeMap<String, String>, chart_name: &str) -> Result<(Sorted, String, String), ManifestError> {
    let top_notes = format!("{chart_name}/templates/NOTES.txt");
    let notes = files.get(&top_notes).cloned().unwrap_or_default();
    files.retain(|k, _| !k.ends_with("NOTES.txt"));
    let sorted = sort_manifests(&files, INSTALL_ORDER)?;
    let mut text = String::new();
    for m in &sorted.manifests {
        text.push_str(&format!("---\n# Source: {}\n{}\n", m.name, m.content));
    }
    Ok((sorted, text, notes))
}

/// A stored manifest's documents in their order (as Helm's kube client
/// builds them for an update: the stored order is already the install order).
pub fn read(manifest: &str) -> Result<Vec<Manifest>, ManifestError> {
    split_manifests(manifest).iter().map(|doc| head("manifest", doc)).collect()
}

/// A stored manifest as uninstall orders it: Helm names each document
/// `manifest-N`, sorts those names as strings, then sorts by kind in
/// `UNINSTALL_ORDER`.
pub fn read_for_uninstall(manifest: &str) -> Result<Vec<Manifest>, ManifestError> {
    let files: BTreeMap<String, String> = split_manifests(manifest).into_iter().enumerate().map(|(i, d)| (format!("manifest-{i}"), d)).collect();
    Ok(sort_manifests(&files, UNINSTALL_ORDER)?.manifests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_manifests_is_helms() {
        // Helm 4.2.3's SplitManifests (checked with Python's `re.split` of
        // the same pattern, and through the oracle's release manifests in
        // host/cli/tests/helm_template.rs, which prints through this function): whitespace before a separator goes with
        // it, the rest of a `---` line stays, a `---` line right after
        // another stays in the document, the last document keeps its end.
        assert_eq!(split_manifests("\n\n---\na: 1\n\n---  # c\nb: 2\n---\n  \n---apiVersion: v1\n"), vec!["a: 1", "# c\nb: 2", "---apiVersion: v1\n"]);
        assert_eq!(split_manifests("a: 1\n----\nb: 2"), vec!["a: 1", "-\nb: 2"]);
        assert_eq!(split_manifests("a: 1 \t\n---x: 2\n\n"), vec!["a: 1", "x: 2\n\n"]);
        assert!(split_manifests("  \n").is_empty());
    }

    #[test]
    fn splits_as_helms_regex_does() {
        assert_eq!(split_manifests("\n---\na: 1\n---\nb: 2\n  \n---\nc: 3\n"), ["a: 1", "b: 2", "c: 3\n"]);
        // The trailing `\s*` eats the newline a following `---` needed: Go's regex keeps that `---`.
        assert_eq!(split_manifests("a: 1\n---   \n\n---\nc: 3\n"), ["a: 1", "---\nc: 3\n"]);
        assert_eq!(split_manifests("# only\nkind: A\n"), ["# only\nkind: A\n"]);
    }

    #[test]
    fn sorts_by_kind_in_install_order_keeping_file_order_within_a_kind() {
        let files = BTreeMap::from([
            ("c/templates/a.yaml".to_string(), "kind: Deployment\nmetadata: {name: d}\n---\nkind: Service\nmetadata: {name: s}\n".to_string()),
            ("c/templates/b.yaml".to_string(), "kind: ConfigMap\nmetadata: {name: c1}\n---\nkind: Widget\nmetadata: {name: w}\n---\nkind: ConfigMap\nmetadata: {name: c2}\n".to_string()),
            ("c/templates/c.yaml".to_string(), "kind: Namespace\nmetadata: {name: ns1}\n---\nkind: Apple\nmetadata: {name: a}\n".to_string()),
            ("c/templates/_p.tpl".to_string(), "kind: Pod\n".to_string()),
            ("c/templates/h.yaml".to_string(), "kind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install,Post-Upgrade\n    helm.sh/hook-weight: \"-5\"\n    helm.sh/hook-delete-policy: before-hook-creation\n".to_string()),
        ]);
        let s = sort_manifests(&files, INSTALL_ORDER).unwrap();
        let names: Vec<&str> = s.manifests.iter().map(|m| m.object_name.as_str()).collect();
        assert_eq!(names, ["ns1", "c1", "c2", "s", "d", "a", "w"]);
        assert_eq!(s.hooks.len(), 1);
        assert_eq!(s.hooks[0]["events"], json!(["pre-install", "post-upgrade"]));
        assert_eq!(s.hooks[0]["weight"], json!(-5));
        assert_eq!(s.hooks[0]["delete_policies"], json!(["before-hook-creation"]));
        let mut un = s.manifests.clone();
        sort_by_kind(&mut un, UNINSTALL_ORDER, |m| m.kind.as_str());
        let names: Vec<&str> = un.iter().map(|m| m.object_name.as_str()).collect();
        assert_eq!(names, ["s", "d", "c1", "c2", "ns1", "a", "w"]);
    }

    #[test]
    fn builds_the_manifest_text_and_notes_as_helm() {
        let files = BTreeMap::from([
            ("c/templates/NOTES.txt".to_string(), "hello".to_string()),
            ("c/charts/s/templates/NOTES.txt".to_string(), "sub".to_string()),
            ("c/templates/svc.yaml".to_string(), "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n".to_string()),
            ("c/templates/empty.yaml".to_string(), "\n".to_string()),
        ]);
        let (_, text, notes) = build(files, "c").unwrap();
        assert_eq!(notes, "hello");
        assert_eq!(text, "---\n# Source: c/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n\n");
        let back = read_for_uninstall(&text).unwrap();
        assert_eq!((back[0].kind.as_str(), back[0].object_name.as_str()), ("Service", "s"));
    }
}
