//! The garbage collector, for the workload chain the controllers build:
//! a ReplicaSet or Pod whose every owner (Deployment, ReplicaSet,
//! StatefulSet, DaemonSet, Job) is gone — or was replaced by another object
//! of the same name, another uid — is deleted, as background propagation
//! does. Owners of other kinds are assumed to exist. This file must not
//! decide what a workload needs (see the controllers).

use serde_json::Value;

use super::{meta_str, report, write, Ctx};
use crate::error::GroupResource;
use crate::store::Store;

fn owner_resource(api_version: &str, kind: &str) -> Option<GroupResource> {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    match (group, kind) {
        ("apps", "Deployment") => Some(GroupResource::new("apps", "deployments")),
        ("apps", "ReplicaSet") => Some(GroupResource::new("apps", "replicasets")),
        ("apps", "StatefulSet") => Some(GroupResource::new("apps", "statefulsets")),
        ("apps", "DaemonSet") => Some(GroupResource::new("apps", "daemonsets")),
        ("batch", "Job") => Some(GroupResource::new("batch", "jobs")),
        _ => None,
    }
}

/// Whether an owner reference names an object that is no longer there.
fn dangling(store: &Store, namespace: &str, owner: &Value) -> bool {
    let Some(gr) = owner_resource(owner["apiVersion"].as_str().unwrap_or(""), owner["kind"].as_str().unwrap_or("")) else {
        return false;
    };
    match store.get(&gr, namespace, owner["name"].as_str().unwrap_or("")) {
        Ok(found) => found["metadata"]["uid"] != owner["uid"],
        Err(_) => true,
    }
}

pub(super) fn run(ctx: &mut Ctx, store: &Store) {
    for rt in [ctx.replicasets.clone(), ctx.pods.clone()] {
        for obj in ctx.list(store, &rt) {
            let Some(owners) = obj["metadata"]["ownerReferences"].as_array().filter(|o| !o.is_empty()) else { continue };
            let ns = meta_str(&obj, "namespace");
            if owners.iter().all(|o| dangling(store, ns, o)) {
                tracing::debug!(kind = %rt.kind, name = %meta_str(&obj, "name"), namespace = %ns, "garbage-collecting an orphaned dependent");
                report("garbage collection", store.delete(&rt, ns, meta_str(&obj, "name"), &write()));
            }
        }
    }
}
