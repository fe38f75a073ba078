//! The namespace controller, after kube-controller-manager's: a namespace
//! being deleted (Terminating, still holding the `kubernetes` spec
//! finalizer) has every object in it deleted with background propagation,
//! its status conditions say what remains and which finalizers hold it
//! (as `kubectl describe ns` shows them), and once nothing is left the
//! `kubernetes` finalizer is removed, which deletes the namespace unless
//! metadata finalizers still hold it. This file must not touch anything
//! outside a namespace being deleted.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{meta_str, report, write, Ctx, Served};
use crate::error::{ApiError, GroupResource};
use crate::store::{now_rfc3339, Deletion, Part, Propagation, Store, WriteOptions, NAMESPACE_FINALIZER};

pub(super) fn run(ctx: &mut Ctx, store: &Store) {
    let terminating: Vec<Value> = ctx
        .list(store, &ctx.namespaces.clone())
        .into_iter()
        .filter(|ns| !ns["metadata"]["deletionTimestamp"].is_null() && holds_namespace_finalizer(ns))
        .collect();
    if terminating.is_empty() {
        return;
    }
    let served = Served::of(&ctx.registry);
    for ns in terminating {
        let name = meta_str(&ns, "name");
        let _span = tracing::debug_span!("namespace", %name).entered();
        let remaining = empty(&served, store, name);
        report("writing namespace deletion conditions", store.modify(&ctx.namespaces, "", name, Part::Status, &write(), |current| {
            let mut next = current.clone();
            next["status"]["conditions"] = conditions(current, &remaining);
            Ok(next)
        }));
        if remaining.resources.is_empty() {
            tracing::debug!("namespace empty: finalized");
            let finalize = |current: &Value| {
                let mut next = current.clone();
                let kept: Vec<Value> = current["spec"]["finalizers"].as_array().into_iter().flatten().filter(|f| *f != NAMESPACE_FINALIZER).cloned().collect();
                next["spec"]["finalizers"] = json!(kept);
                Ok(next)
            };
            report("finalizing a namespace", store.modify(&ctx.namespaces, "", name, Part::Main, &write(), finalize));
        }
    }
}

fn holds_namespace_finalizer(ns: &Value) -> bool {
    ns["spec"]["finalizers"].as_array().is_some_and(|f| f.iter().any(|f| f == NAMESPACE_FINALIZER))
}

/// What is left in a namespace after a round of deletes.
#[derive(Debug, Default)]
struct Remaining {
    /// Objects left, by `resource.group`.
    resources: BTreeMap<String, usize>,
    /// Objects left holding each finalizer.
    finalizers: BTreeMap<String, usize>,
}

/// Deletes what is in `namespace` (objects already being deleted are left to
/// finish) and counts what remains.
fn empty(served: &Served, store: &Store, namespace: &str) -> Remaining {
    let mut content: Vec<(GroupResource, String, String, bool)> = Vec::new();
    store.scan(&mut |gr, ns, obj| {
        if ns == namespace {
            let deleting = !obj["metadata"]["deletionTimestamp"].is_null();
            content.push((gr.clone(), obj["apiVersion"].as_str().unwrap_or("").to_string(), meta_str(obj, "name").to_string(), deleting));
        }
    });
    let mut remaining = Remaining::default();
    let background = WriteOptions { propagation: Some(Propagation::Background), ..write() };
    for (gr, api_version, name, deleting) in content {
        let left = match served.by_resource(&gr, &api_version) {
            Some(rt) if !deleting => match store.delete(rt, namespace, &name, &background) {
                Ok(Deletion::Gone(_)) | Err(ApiError::NotFound { .. }) => None,
                Ok(Deletion::Pending(obj)) => Some(obj),
                Err(e) => {
                    tracing::warn!(error = %e, kind = %gr, %name, "deleting namespace content");
                    store.get(&gr, namespace, &name).ok()
                }
            },
            _ => store.get(&gr, namespace, &name).ok(),
        };
        let Some(obj) = left else { continue };
        *remaining.resources.entry(format!("{}.{}", gr.resource, gr.group)).or_default() += 1;
        for f in obj["metadata"]["finalizers"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            *remaining.finalizers.entry(f.to_string()).or_default() += 1;
        }
    }
    remaining
}

/// The namespace controller's status conditions for what remains, each
/// keeping its lastTransitionTime while its status stays the same.
fn conditions(current: &Value, remaining: &Remaining) -> Value {
    let listed = |counts: &BTreeMap<String, usize>, joiner: &str| {
        counts.iter().map(|(what, n)| format!("{what} {joiner} {n} resource instances")).collect::<Vec<_>>().join(", ")
    };
    let content = if remaining.resources.is_empty() {
        ("False", "ContentRemoved", "All content successfully removed".to_string())
    } else {
        ("True", "SomeResourcesRemain", format!("Some resources are remaining: {}", listed(&remaining.resources, "has")))
    };
    let finalizers = if remaining.finalizers.is_empty() {
        ("False", "ContentHasNoFinalizers", "All content-preserving finalizers have been removed".to_string())
    } else {
        ("True", "SomeFinalizersRemain", format!("Some content in the namespace has finalizers remaining: {}", listed(&remaining.finalizers, "in")))
    };
    let wanted = [
        ("NamespaceDeletionDiscoveryFailure", ("False", "ResourcesDiscovered", "All resources successfully discovered".to_string())),
        ("NamespaceDeletionGroupVersionParsingFailure", ("False", "ParsedGroupVersions", "All legacy kube types successfully parsed".to_string())),
        ("NamespaceDeletionContentFailure", ("False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization".to_string())),
        ("NamespaceContentRemaining", content),
        ("NamespaceFinalizersRemaining", finalizers),
    ];
    let existing = current["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let now = now_rfc3339();
    let list: Vec<Value> = wanted
        .into_iter()
        .map(|(kind, (status, reason, message))| {
            let before = existing.iter().find(|c| c["type"] == kind);
            let since = before.filter(|c| c["status"] == status).and_then(|c| c["lastTransitionTime"].as_str()).unwrap_or(&now).to_string();
            json!({"type": kind, "status": status, "lastTransitionTime": since, "reason": reason, "message": message})
        })
        .collect();
    json!(list)
}
