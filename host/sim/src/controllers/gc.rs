//! The garbage collector, after kube-controller-manager's, over every kind
//! in the store: it follows `ownerReferences` by uid.
//!
//! - An owner being deleted with the `orphan` finalizer has its references
//!   removed from all its dependents, then loses the finalizer.
//! - An owner being deleted with the `foregroundDeletion` finalizer has its
//!   dependents deleted (below) and loses the finalizer once no dependent
//!   whose reference has `blockOwnerDeletion: true` is left.
//! - A dependent not being deleted whose owners are all gone (absent, or
//!   replaced by another object of the same name: another uid) or waiting
//!   in foreground deletion is deleted: in the foreground when an owner waits
//!   and it has dependents of its own (so the cascade goes level by level),
//!   otherwise as its own finalizers say, else in the background. A
//!   dependent that keeps a live owner only loses the references to the
//!   gone and waiting ones.
//!
//! Owners of kinds the server does not serve cannot be checked and are
//! assumed to exist, as the real collector retries rather than deletes.
//! This file must not decide what a workload needs (see the controllers),
//! nor delete anything without an owner reference leading to it.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use super::{report, Ctx, Served};
use crate::error::GroupResource;
use crate::store::{Part, Propagation, Store, WriteOptions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER};

/// What the collector knows of one object.
#[derive(Debug, Clone)]
struct Node {
    gr: GroupResource,
    api_version: String,
    namespace: String,
    name: String,
    uid: String,
    deleting: bool,
    finalizers: Vec<String>,
    owners: Vec<Value>,
}

impl Node {
    fn of(gr: &GroupResource, namespace: &str, obj: &Value) -> Node {
        let meta = &obj["metadata"];
        let strings = |v: &Value| v.as_array().map(|a| a.iter().filter_map(|f| f.as_str().map(String::from)).collect()).unwrap_or_default();
        Node {
            gr: gr.clone(),
            api_version: obj["apiVersion"].as_str().unwrap_or("").to_string(),
            namespace: namespace.to_string(),
            name: meta["name"].as_str().unwrap_or("").to_string(),
            uid: meta["uid"].as_str().unwrap_or("").to_string(),
            deleting: !meta["deletionTimestamp"].is_null(),
            finalizers: strings(&meta["finalizers"]),
            owners: meta["ownerReferences"].as_array().cloned().unwrap_or_default(),
        }
    }

    fn has(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    /// Being deleted, and holding on until its dependents are gone.
    fn waiting_for_dependents(&self) -> bool {
        self.deleting && self.has(FOREGROUND_FINALIZER)
    }
}

/// What an owner reference leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// Exists (or cannot be checked).
    Solid,
    /// Absent, or another object under its name.
    Dangling,
    /// Being deleted in the foreground: its dependents must go first.
    Waiting,
}

/// The store as the collector sees it in one pass.
struct Graph {
    /// Objects with owner references, and objects being deleted with a collector finalizer.
    items: Vec<Node>,
    /// Every object some reference names, by uid.
    by_uid: HashMap<String, Node>,
    /// Dependents' indexes in `items`, by owner uid.
    dependents: HashMap<String, Vec<usize>>,
}

impl Graph {
    fn build(store: &Store) -> Graph {
        let mut items = Vec::new();
        let mut referenced = HashSet::new();
        store.scan(&mut |gr, ns, obj| {
            let meta = &obj["metadata"];
            let owned = meta["ownerReferences"].as_array().is_some_and(|o| !o.is_empty());
            let finalizing = !meta["deletionTimestamp"].is_null()
                && meta["finalizers"].as_array().is_some_and(|f| f.iter().any(|f| f == ORPHAN_FINALIZER || f == FOREGROUND_FINALIZER));
            if owned || finalizing {
                let node = Node::of(gr, ns, obj);
                referenced.extend(node.owners.iter().filter_map(|o| o["uid"].as_str().map(String::from)));
                items.push(node);
            }
        });
        let mut by_uid = HashMap::new();
        if !referenced.is_empty() {
            store.scan(&mut |gr, ns, obj| {
                if let Some(uid) = obj["metadata"]["uid"].as_str().filter(|u| referenced.contains(*u)) {
                    by_uid.insert(uid.to_string(), Node::of(gr, ns, obj));
                }
            });
        }
        let mut dependents: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            for uid in item.owners.iter().filter_map(|o| o["uid"].as_str()) {
                dependents.entry(uid.to_string()).or_default().push(i);
            }
        }
        Graph { items, by_uid, dependents }
    }

    fn dependents_of(&self, uid: &str) -> impl Iterator<Item = &Node> {
        self.dependents.get(uid).into_iter().flatten().map(|i| &self.items[*i])
    }

    /// What `reference`, held by `dependent`, leads to.
    fn owner(&self, served: &Served, dependent: &Node, reference: &Value) -> Owner {
        let (api_version, kind) = (reference["apiVersion"].as_str().unwrap_or(""), reference["kind"].as_str().unwrap_or(""));
        let Some(rt) = served.by_kind(api_version, kind) else { return Owner::Solid };
        if rt.namespaced && dependent.namespace.is_empty() {
            // A cluster-scoped object cannot be owned by a namespaced one.
            return Owner::Dangling;
        }
        let namespace = if rt.namespaced { dependent.namespace.as_str() } else { "" };
        match self.by_uid.get(reference["uid"].as_str().unwrap_or("")) {
            Some(found) if found.gr == rt.gr() && found.namespace == namespace && Some(found.name.as_str()) == reference["name"].as_str() => {
                if found.waiting_for_dependents() {
                    Owner::Waiting
                } else {
                    Owner::Solid
                }
            }
            _ => Owner::Dangling,
        }
    }
}

pub(super) fn run(ctx: &mut Ctx, store: &Store) {
    let served = Served::of(&ctx.registry);
    let ctx = &served;
    let graph = Graph::build(store);
    for node in graph.items.iter().filter(|n| n.deleting) {
        if node.has(ORPHAN_FINALIZER) {
            orphan_dependents(ctx, store, &graph, node);
        } else if node.has(FOREGROUND_FINALIZER) {
            let blocking = graph.dependents_of(&node.uid).any(|d| {
                d.owners.iter().any(|o| o["uid"].as_str() == Some(node.uid.as_str()) && o["blockOwnerDeletion"].as_bool() == Some(true))
            });
            if !blocking {
                tracing::debug!(kind = %node.gr, name = %node.name, "no blocking dependents left: the owner goes");
                remove_finalizer(ctx, store, node, FOREGROUND_FINALIZER);
            }
        }
    }
    for item in graph.items.iter().filter(|n| !n.deleting && !n.owners.is_empty()) {
        collect(ctx, store, &graph, item);
    }
}

/// Strips the references to `owner` from its dependents, then lets it go.
fn orphan_dependents(ctx: &Served, store: &Store, graph: &Graph, owner: &Node) {
    let gone = HashSet::from([owner.uid.clone()]);
    let all_done = graph.dependents_of(&owner.uid).fold(true, |done, dependent| strip_references(ctx, store, dependent, &gone) && done);
    if all_done {
        tracing::debug!(kind = %owner.gr, name = %owner.name, "dependents orphaned");
        remove_finalizer(ctx, store, owner, ORPHAN_FINALIZER);
    }
}

/// Deletes a dependent none of whose owners is left, or cleans the references of one that keeps one.
fn collect(ctx: &Served, store: &Store, graph: &Graph, item: &Node) {
    let states: Vec<(Owner, &Value)> = item.owners.iter().map(|o| (graph.owner(ctx, item, o), o)).collect();
    let uids_in = |state: Owner| -> HashSet<String> {
        states.iter().filter(|(s, _)| *s == state).filter_map(|(_, o)| o["uid"].as_str().map(String::from)).collect()
    };
    let (dangling, waiting) = (uids_in(Owner::Dangling), uids_in(Owner::Waiting));
    if states.iter().any(|(s, _)| *s == Owner::Solid) {
        if !dangling.is_empty() || !waiting.is_empty() {
            strip_references(ctx, store, item, &dangling.union(&waiting).cloned().collect());
        }
        return;
    }
    let Some(rt) = ctx.by_resource(&item.gr, &item.api_version) else { return };
    let propagation = if !waiting.is_empty() && graph.dependents_of(&item.uid).next().is_some() { Some(Propagation::Foreground) } else { None };
    tracing::debug!(kind = %item.gr, name = %item.name, namespace = %item.namespace, ?propagation, "garbage-collecting a dependent whose owners are gone");
    let opts = WriteOptions { uid: Some(item.uid.clone()), propagation, ..WriteOptions::default() };
    report("garbage collection", store.delete(rt, &item.namespace, &item.name, &opts));
}

/// Removes the references to `uids` from `item`; false when that failed (retried next pass).
fn strip_references(ctx: &Served, store: &Store, item: &Node, uids: &HashSet<String>) -> bool {
    let Some(rt) = ctx.by_resource(&item.gr, &item.api_version) else { return false };
    let change = |current: &Value| {
        let mut next = current.clone();
        if current["metadata"]["uid"].as_str() != Some(item.uid.as_str()) {
            return Err(crate::error::ApiError::not_found(&item.gr, &item.name));
        }
        let kept: Vec<Value> = current["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| !o["uid"].as_str().is_some_and(|u| uids.contains(u)))
            .cloned()
            .collect();
        match next["metadata"].as_object_mut() {
            Some(meta) if kept.is_empty() => {
                meta.remove("ownerReferences");
            }
            Some(meta) => {
                meta.insert("ownerReferences".into(), json!(kept));
            }
            None => {}
        }
        Ok(next)
    };
    report("removing owner references", store.modify(rt, &item.namespace, &item.name, Part::Main, &WriteOptions::default(), change)).is_some()
}

/// Removes one finalizer; the store deletes the object when it was the last.
fn remove_finalizer(ctx: &Served, store: &Store, node: &Node, finalizer: &str) {
    let Some(rt) = ctx.by_resource(&node.gr, &node.api_version) else { return };
    let change = |current: &Value| {
        let mut next = current.clone();
        let kept: Vec<Value> = current["metadata"]["finalizers"].as_array().into_iter().flatten().filter(|f| *f != finalizer).cloned().collect();
        match next["metadata"].as_object_mut() {
            Some(meta) if kept.is_empty() => {
                meta.remove("finalizers");
            }
            Some(meta) => {
                meta.insert("finalizers".into(), json!(kept));
            }
            None => {}
        }
        Ok(next)
    };
    report("removing a garbage collector finalizer", store.modify(rt, &node.namespace, &node.name, Part::Main, &WriteOptions::default(), change));
}
