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
//! In foreground deletion through an ownership cycle, a dependent stops
//! blocking its waiting owners before it waits itself, so nothing deadlocks.
//! This file must not decide what a workload needs (see the controllers),
//! nor delete anything without an owner reference leading to it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::{report, Ctx, Served};
use crate::error::GroupResource;
use crate::store::{Part, Propagation, Store, WriteOptions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER};

/// What the collector knows of one object: the object as the store shares it.
#[derive(Debug, Clone)]
struct Node {
    gr: Arc<GroupResource>,
    obj: Arc<Value>,
}

impl Node {
    fn text(&self, field: &str) -> &str {
        self.obj["metadata"][field].as_str().unwrap_or("")
    }

    fn name(&self) -> &str {
        self.text("name")
    }

    fn uid(&self) -> &str {
        self.text("uid")
    }

    /// "" for a cluster-scoped object.
    fn namespace(&self) -> &str {
        self.text("namespace")
    }

    fn api_version(&self) -> &str {
        self.obj["apiVersion"].as_str().unwrap_or("")
    }

    fn deleting(&self) -> bool {
        !self.obj["metadata"]["deletionTimestamp"].is_null()
    }

    fn owners(&self) -> &[Value] {
        self.obj["metadata"]["ownerReferences"].as_array().map_or(&[], Vec::as_slice)
    }

    fn has(&self, finalizer: &str) -> bool {
        self.obj["metadata"]["finalizers"].as_array().is_some_and(|f| f.iter().any(|f| f == finalizer))
    }

    /// Being deleted, and holding on until its dependents are gone.
    fn waiting_for_dependents(&self) -> bool {
        self.deleting() && self.has(FOREGROUND_FINALIZER)
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

/// The store's objects with their group-resource, one shared copy of each group-resource.
fn scan(store: &Store, visit: &mut dyn FnMut(&Arc<GroupResource>, &Arc<Value>)) {
    let mut current: Option<Arc<GroupResource>> = None;
    store.scan(&mut |gr, _, obj| {
        let shared = match &current {
            Some(c) if **c == *gr => c.clone(),
            _ => {
                let c = Arc::new(gr.clone());
                current = Some(c.clone());
                c
            }
        };
        visit(&shared, obj);
    });
}

impl Graph {
    fn build(store: &Store) -> Graph {
        let mut items = Vec::new();
        let mut referenced: HashSet<String> = HashSet::new();
        let mut dependents: HashMap<String, Vec<usize>> = HashMap::new();
        scan(store, &mut |gr, obj| {
            let meta = &obj["metadata"];
            let owners = meta["ownerReferences"].as_array().map_or(&[][..], Vec::as_slice);
            let finalizing = !meta["deletionTimestamp"].is_null()
                && meta["finalizers"].as_array().is_some_and(|f| f.iter().any(|f| f == ORPHAN_FINALIZER || f == FOREGROUND_FINALIZER));
            if owners.is_empty() && !finalizing {
                return;
            }
            for uid in owners.iter().filter_map(|o| o["uid"].as_str()) {
                // Owners are few: allocate per distinct uid, not per reference.
                match dependents.get_mut(uid) {
                    Some(list) => list.push(items.len()),
                    None => {
                        dependents.insert(uid.to_string(), vec![items.len()]);
                        referenced.insert(uid.to_string());
                    }
                }
            }
            items.push(Node { gr: gr.clone(), obj: obj.clone() });
        });
        let mut by_uid = HashMap::new();
        if !referenced.is_empty() {
            scan(store, &mut |gr, obj| {
                if let Some(uid) = obj["metadata"]["uid"].as_str().filter(|u| referenced.contains(*u)) {
                    by_uid.insert(uid.to_string(), Node { gr: gr.clone(), obj: obj.clone() });
                }
            });
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
        if rt.namespaced && dependent.namespace().is_empty() {
            // A cluster-scoped object cannot be owned by a namespaced one.
            return Owner::Dangling;
        }
        let namespace = if rt.namespaced { dependent.namespace() } else { "" };
        match self.by_uid.get(reference["uid"].as_str().unwrap_or("")) {
            Some(found)
                if found.gr.group == rt.group && found.gr.resource == rt.plural && found.namespace() == namespace && Some(found.name()) == reference["name"].as_str() =>
            {
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

/// How soon a pass whose orphaning raced another writer is retried.
const RETRY: Duration = Duration::from_millis(100);

pub(super) fn run(controllers: &mut Ctx, store: &Store) {
    let served = Served::of(&controllers.registry);
    let ctx = &served;
    let graph = Graph::build(store);
    for node in graph.items.iter().filter(|n| n.deleting()) {
        if node.has(ORPHAN_FINALIZER) {
            if !orphan_dependents(ctx, store, &graph, node) {
                // A dependent changed under us: nothing else may wake the pass that finishes this.
                controllers.wake_in(RETRY);
            }
        } else if node.has(FOREGROUND_FINALIZER) {
            let blocking = graph.dependents_of(node.uid()).any(|d| {
                d.owners().iter().any(|o| o["uid"].as_str() == Some(node.uid()) && o["blockOwnerDeletion"].as_bool() == Some(true))
            });
            if !blocking {
                tracing::debug!(kind = %node.gr, name = %node.name(), "no blocking dependents left: the owner goes");
                remove_finalizer(ctx, store, node, FOREGROUND_FINALIZER);
            }
        }
    }
    for item in graph.items.iter().filter(|n| !n.deleting() && !n.owners().is_empty()) {
        collect(ctx, store, &graph, item);
    }
}

/// Strips the references to `owner` from its dependents, then lets it go;
/// false when a dependent could not be written (tried again later).
fn orphan_dependents(ctx: &Served, store: &Store, graph: &Graph, owner: &Node) -> bool {
    let gone = HashSet::from([owner.uid().to_string()]);
    // Every dependent is tried, even after one failed.
    let failed = graph.dependents_of(owner.uid()).filter(|dependent| !strip_references(ctx, store, dependent, &gone)).count();
    if failed > 0 {
        return false;
    }
    tracing::debug!(kind = %owner.gr, name = %owner.name(), "dependents orphaned");
    remove_finalizer(ctx, store, owner, ORPHAN_FINALIZER);
    true
}

/// Deletes a dependent none of whose owners is left, or cleans the references of one that keeps one.
fn collect(ctx: &Served, store: &Store, graph: &Graph, item: &Node) {
    let (mut solid, mut dangling, mut waiting) = (false, HashSet::new(), HashSet::new());
    for reference in item.owners() {
        let uid = || reference["uid"].as_str().unwrap_or("").to_string();
        match graph.owner(ctx, item, reference) {
            Owner::Solid => solid = true,
            Owner::Dangling => {
                dangling.insert(uid());
            }
            Owner::Waiting => {
                waiting.insert(uid());
            }
        }
    }
    if solid {
        if !dangling.is_empty() || !waiting.is_empty() {
            strip_references(ctx, store, item, &dangling.union(&waiting).cloned().collect());
        }
        return;
    }
    let Some(rt) = ctx.by_resource(&item.gr, item.api_version()) else { return };
    let has_dependents = graph.dependents_of(item.uid()).next().is_some();
    if !waiting.is_empty() && graph.dependents_of(item.uid()).any(Node::waiting_for_dependents) {
        // A dependent of ours waits for its own dependents while an owner waits for us: a
        // possible cycle. As the real collector, stop blocking the waiting owners first.
        unblock_references(ctx, store, item, &waiting);
    }
    // As the real collector: foreground when an owner waits and this has dependents, else as its own finalizers say, else background.
    let propagation = Some(if !waiting.is_empty() && has_dependents {
        Propagation::Foreground
    } else if item.has(ORPHAN_FINALIZER) {
        Propagation::Orphan
    } else if item.has(FOREGROUND_FINALIZER) {
        Propagation::Foreground
    } else {
        Propagation::Background
    });
    tracing::debug!(kind = %item.gr, name = %item.name(), namespace = %item.namespace(), ?propagation, "garbage-collecting a dependent whose owners are gone");
    let opts = WriteOptions { uid: Some(item.uid().to_string()), propagation, ..WriteOptions::default() };
    report("garbage collection", store.delete(rt, item.namespace(), item.name(), &opts));
}

/// Removes the references to `uids` from `item`; false when that failed (retried next pass).
fn strip_references(ctx: &Served, store: &Store, item: &Node, uids: &HashSet<String>) -> bool {
    let Some(rt) = ctx.by_resource(&item.gr, item.api_version()) else { return false };
    let change = |current: &Value| {
        let mut next = current.clone();
        if current["metadata"]["uid"].as_str() != Some(item.uid()) {
            return Err(crate::error::ApiError::not_found(&item.gr, item.name()));
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
    report("removing owner references", store.modify(rt, item.namespace(), item.name(), Part::Main, &WriteOptions::default(), change)).is_some()
}

/// Sets `blockOwnerDeletion: false` on `item`'s references to `uids`.
fn unblock_references(ctx: &Served, store: &Store, item: &Node, uids: &HashSet<String>) {
    let Some(rt) = ctx.by_resource(&item.gr, item.api_version()) else { return };
    let change = |current: &Value| {
        let mut next = current.clone();
        if let Some(refs) = next["metadata"]["ownerReferences"].as_array_mut() {
            for reference in refs.iter_mut().filter(|r| r["uid"].as_str().is_some_and(|u| uids.contains(u))) {
                reference["blockOwnerDeletion"] = json!(false);
            }
        }
        Ok(next)
    };
    report("unblocking owner references", store.modify(rt, item.namespace(), item.name(), Part::Main, &WriteOptions::default(), change));
}

/// Removes one finalizer; the store deletes the object when it was the last.
fn remove_finalizer(ctx: &Served, store: &Store, node: &Node, finalizer: &str) {
    let Some(rt) = ctx.by_resource(&node.gr, node.api_version()) else { return };
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
    report("removing a garbage collector finalizer", store.modify(rt, node.namespace(), node.name(), Part::Main, &WriteOptions::default(), change));
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::{behavior, Ctx};
    use crate::error::GroupResource;
    use crate::resources::Registry;
    use crate::store::{Deletion, Part, Propagation, Store, WriteOptions};

    fn cluster() -> (Ctx, Store) {
        let registry = Registry::default();
        let store = Store::new(100_000, &registry.find("", "v1", "namespaces").unwrap());
        (Ctx::new(&registry).unwrap(), store)
    }

    /// Runs passes until the store stops changing, checking `each` after every pass.
    fn settle(ctx: &mut Ctx, store: &Store, each: &mut dyn FnMut(&Store)) {
        for _ in 0..200 {
            let before = store.resource_version();
            ctx.reconcile(store);
            each(store);
            if store.resource_version() == before {
                return;
            }
        }
        panic!("the controllers did not settle");
    }

    fn names(store: &Store, group: &str, resource: &str) -> Vec<String> {
        let page = store.list(&GroupResource::new(group, resource), None, &|_| true, None, None).unwrap();
        page.items.iter().map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_string()).collect()
    }

    fn items(store: &Store, group: &str, resource: &str) -> Vec<Value> {
        store.list(&GroupResource::new(group, resource), None, &|_| true, None, None).unwrap().items
    }

    /// A settled deployment `web` with two ready pods.
    fn web(ctx: &mut Ctx, store: &Store) {
        let d = json!({"metadata": {"name": "web"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}, "annotations": {behavior::READY_AFTER: "0s"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}});
        store.create(&ctx.deployments, "default", d, &WriteOptions::default()).unwrap();
        settle(ctx, store, &mut |_| {});
        assert_eq!((names(store, "apps", "replicasets").len(), names(store, "", "pods").len()), (1, 2));
    }

    fn delete_web(ctx: &Ctx, store: &Store, policy: Propagation) -> Deletion {
        let opts = WriteOptions { propagation: Some(policy), ..WriteOptions::default() };
        store.delete(&ctx.deployments, "default", "web", &opts).unwrap()
    }

    #[test]
    fn background_deletion_collects_the_replica_sets_and_their_pods() {
        let (mut ctx, store) = cluster();
        web(&mut ctx, &store);
        assert!(delete_web(&ctx, &store, Propagation::Background).is_gone());
        settle(&mut ctx, &store, &mut |_| {});
        assert!(names(&store, "apps", "replicasets").is_empty() && names(&store, "", "pods").is_empty());
    }

    #[test]
    fn foreground_deletion_keeps_each_owner_until_its_dependents_are_gone() {
        let (mut ctx, store) = cluster();
        web(&mut ctx, &store);
        let Deletion::Pending(d) = delete_web(&ctx, &store, Propagation::Foreground) else { panic!("the deployment waits") };
        assert_eq!(d["metadata"]["finalizers"], json!(["foregroundDeletion"]));
        let mut rs_waited = false;
        settle(&mut ctx, &store, &mut |s| {
            let (deployments, sets, pods) = (names(s, "apps", "deployments"), items(s, "apps", "replicasets"), names(s, "", "pods"));
            assert!(!deployments.is_empty() || (sets.is_empty() && pods.is_empty()), "the owner went before its dependents");
            assert!(!sets.is_empty() || pods.is_empty(), "a replica set went before its pods");
            rs_waited |= sets.iter().any(|rs| rs["metadata"]["finalizers"] == json!(["foregroundDeletion"]));
        });
        assert!(rs_waited, "the replica set, which has dependents, is deleted in the foreground too");
        assert!(names(&store, "apps", "deployments").is_empty() && names(&store, "apps", "replicasets").is_empty() && names(&store, "", "pods").is_empty());
    }

    #[test]
    fn orphaning_leaves_the_replica_set_and_its_pods_running_without_the_owner() {
        let (mut ctx, store) = cluster();
        web(&mut ctx, &store);
        let pods_before = names(&store, "", "pods");
        assert!(matches!(delete_web(&ctx, &store, Propagation::Orphan), Deletion::Pending(_)));
        settle(&mut ctx, &store, &mut |_| {});
        assert!(names(&store, "apps", "deployments").is_empty());
        let sets = items(&store, "apps", "replicasets");
        assert_eq!(sets.len(), 1);
        assert!(sets[0]["metadata"].get("ownerReferences").is_none(), "{}", sets[0]["metadata"]);
        assert_eq!(names(&store, "", "pods"), pods_before, "the orphaned replica set keeps its pods");
        let pods = items(&store, "", "pods");
        assert!(pods.iter().all(|p| p["metadata"]["ownerReferences"][0]["uid"] == sets[0]["metadata"]["uid"] && p["metadata"]["deletionTimestamp"].is_null()));
    }

    #[test]
    fn any_kind_is_collected_and_a_live_owner_keeps_its_dependent() {
        let (mut ctx, store) = cluster();
        let cms = ctx.registry.find("", "v1", "configmaps").unwrap();
        let w = WriteOptions::default();
        let owner = store.create(&cms, "default", json!({"metadata": {"name": "owner"}}), &w).unwrap();
        let other = store.create(&cms, "default", json!({"metadata": {"name": "other"}}), &w).unwrap();
        let reference = |o: &Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "name": o["metadata"]["name"], "uid": o["metadata"]["uid"]});
        let unknown = json!({"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": "not-checkable"});
        store.create(&cms, "default", json!({"metadata": {"name": "solo", "ownerReferences": [reference(&owner)]}}), &w).unwrap();
        store.create(&cms, "default", json!({"metadata": {"name": "shared", "ownerReferences": [reference(&owner), reference(&other)]}}), &w).unwrap();
        store.create(&cms, "default", json!({"metadata": {"name": "foreign", "ownerReferences": [unknown]}}), &w).unwrap();
        settle(&mut ctx, &store, &mut |_| {});
        assert_eq!(names(&store, "", "configmaps"), ["foreign", "other", "owner", "shared", "solo"], "live owners keep everything");
        store.delete(&cms, "default", "owner", &w).unwrap();
        settle(&mut ctx, &store, &mut |_| {});
        assert_eq!(names(&store, "", "configmaps"), ["foreign", "other", "shared"]);
        let shared = store.get(&cms.gr(), "default", "shared").unwrap();
        assert_eq!(shared["metadata"]["ownerReferences"], json!([reference(&other)]), "the gone owner's reference is stripped");
    }

    #[test]
    fn a_foreground_deletion_through_an_ownership_cycle_does_not_deadlock() {
        let (mut ctx, store) = cluster();
        let cms = ctx.registry.find("", "v1", "configmaps").unwrap();
        let w = WriteOptions::default();
        let a = store.create(&cms, "default", json!({"metadata": {"name": "a"}}), &w).unwrap();
        let reference = |o: &Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "name": o["metadata"]["name"], "uid": o["metadata"]["uid"], "blockOwnerDeletion": true});
        let b = store.create(&cms, "default", json!({"metadata": {"name": "b", "ownerReferences": [reference(&a)]}}), &w).unwrap();
        store.modify(&cms, "default", "a", Part::Main, &w, |c| {
            let mut n = c.clone();
            n["metadata"]["ownerReferences"] = json!([reference(&b)]);
            Ok(n)
        }).unwrap();
        let foreground = WriteOptions { propagation: Some(Propagation::Foreground), ..w };
        assert!(matches!(store.delete(&cms, "default", "a", &foreground).unwrap(), Deletion::Pending(_)));
        settle(&mut ctx, &store, &mut |_| {});
        assert!(names(&store, "", "configmaps").is_empty(), "both went: {:?}", items(&store, "", "configmaps"));
    }

    #[test]
    fn a_deleted_namespace_is_emptied_waits_for_finalizers_then_goes() {
        let (mut ctx, store) = cluster();
        let w = WriteOptions::default();
        let cms = ctx.registry.find("", "v1", "configmaps").unwrap();
        store.create(&ctx.namespaces.clone(), "", json!({"metadata": {"name": "team"}}), &w).unwrap();
        store.create(&cms, "team", json!({"metadata": {"name": "plain"}}), &w).unwrap();
        store.create(&cms, "team", json!({"metadata": {"name": "held", "finalizers": ["example.com/block"]}}), &w).unwrap();
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        store.create(&ctx.pods.clone(), "team", pod, &w).unwrap();
        settle(&mut ctx, &store, &mut |_| {});
        assert!(matches!(store.delete(&ctx.namespaces.clone(), "", "team", &w).unwrap(), Deletion::Pending(_)));
        settle(&mut ctx, &store, &mut |_| {});
        let ns = store.get(&ctx.namespaces.gr(), "", "team").unwrap();
        assert_eq!(ns["status"]["phase"], "Terminating");
        let condition = |ns: &Value, kind: &str| ns["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == kind).cloned().unwrap();
        assert_eq!(condition(&ns, "NamespaceContentRemaining")["message"], "Some resources are remaining: configmaps. has 1 resource instances");
        assert_eq!(condition(&ns, "NamespaceFinalizersRemaining")["message"], "Some content in the namespace has finalizers remaining: example.com/block in 1 resource instances");
        assert_eq!(items(&store, "", "configmaps").iter().filter(|c| c["metadata"]["namespace"] == "team").count(), 1);
        store.modify(&cms, "team", "held", Part::Main, &w, |c| {
            let mut n = c.clone();
            n["metadata"]["finalizers"] = Value::Null;
            Ok(n)
        }).unwrap();
        settle(&mut ctx, &store, &mut |_| {});
        assert_eq!(store.get(&ctx.namespaces.gr(), "", "team").unwrap_err().code(), 404);
    }
}
