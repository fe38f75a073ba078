//! The ReplicaSet controller: keeps `spec.replicas` pods of each ReplicaSet
//! (orphaned pods its selector matches adopted, others created from its template as `<rs>-<5 random>`, controlled through an
//! ownerReference), deleting the least useful extras first (unready, then
//! newest), and writes its status (replicas, fullyLabeledReplicas,
//! readyReplicas, availableReplicas, observedGeneration). This file must not
//! change pod status (see `pods`) nor decide replica counts (see `deployment`).

use serde_json::{json, Value};

use super::index::Owned;
use super::{controller_uid, meta_str, owner_ref, report, write, Ctx, Severity};
use crate::store::{Part, Store};

pub(super) fn run(ctx: &mut Ctx, store: &Store) {
    let sets = ctx.list(store, &ctx.replicasets.clone());
    let pods = Owned::of(store, &ctx.pods);
    for rs in sets {
        if !rs["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        let (ns, name, uid) = (meta_str(&rs, "namespace"), meta_str(&rs, "name"), meta_str(&rs, "uid"));
        let _span = tracing::debug_span!("replicaset", %name, namespace = %ns).entered();
        let adopted = super::adopt(store, &ctx.pods, &rs, "apps/v1", "ReplicaSet", &pods.orphans());
        let mut owned: Vec<&Value> = pods.of_owner(uid).chain(adopted.iter().filter(|p| controller_uid(p) == Some(uid))).filter(|p| is_active(p)).collect();
        let desired = rs["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
        let mut count = owned.len();
        if count < desired {
            let missing = desired - count;
            for _ in 0..missing {
                if let Some(pod) = report("creating a pod", store.create(&ctx.pods, ns, pod_for(&rs), &write())) {
                    ctx.event(store, &rs, Severity::Normal, "SuccessfulCreate", &format!("Created pod: {}", meta_str(&pod, "name")), "replicaset-controller");
                    count += 1;
                }
            }
            tracing::debug!(created = count - owned.len(), "scaled up");
        } else if count > desired {
            // Least useful first: not ready, not running, then the newest.
            owned.sort_by_key(|p| (is_ready(p), p["status"]["phase"] == "Running", std::cmp::Reverse(meta_str(p, "creationTimestamp").to_string())));
            for pod in &owned[..count - desired] {
                if report("deleting a pod", store.delete(&ctx.pods, ns, meta_str(pod, "name"), &write())).is_some() {
                    ctx.event(store, &rs, Severity::Normal, "SuccessfulDelete", &format!("Deleted pod: {}", meta_str(pod, "name")), "replicaset-controller");
                    count -= 1;
                }
            }
            tracing::debug!(deleted = owned.len() - count, "scaled down");
            owned.drain(..owned.len() - count);
        }
        let ready = owned.iter().filter(|p| is_ready(p)).count();
        let status = json!({
            "replicas": count, "fullyLabeledReplicas": count, "readyReplicas": ready, "availableReplicas": ready,
            "observedGeneration": rs["metadata"]["generation"].as_i64().unwrap_or(1),
        });
        let update = |current: &Value| {
            let mut next = current.clone();
            next["status"] = status.clone();
            Ok(next)
        };
        report("writing replicaset status", store.modify(&ctx.replicasets, ns, name, Part::Status, &write(), update));
    }
}

/// A pod that still counts: not finished, not being deleted.
pub(super) fn is_active(pod: &Value) -> bool {
    !matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed")) && pod["metadata"]["deletionTimestamp"].is_null()
}

/// A pod whose Ready condition is True.
pub(super) fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// A new pod from `rs`'s template.
fn pod_for(rs: &Value) -> Value {
    pod_from_template(rs, "apps/v1", "ReplicaSet", PodName::Generate(format!("{}-", meta_str(rs, "name"))), &[])
}

/// How a new pod is named.
pub(super) enum PodName {
    /// `generateName`: the prefix and five random characters.
    Generate(String),
    Fixed(String),
}

/// A new pod from `owner`'s `spec.template`, controlled by `owner`, with extra labels.
pub(super) fn pod_from_template(owner: &Value, api_version: &str, kind: &str, name: PodName, labels: &[(&str, &str)]) -> Value {
    let template = &owner["spec"]["template"];
    let mut metadata = template["metadata"].clone();
    if !metadata.is_object() {
        metadata = json!({});
    }
    if let Some(m) = metadata.as_object_mut() {
        m.remove("name");
        m.remove("namespace");
        m.remove("generateName");
    }
    match name {
        PodName::Generate(prefix) => metadata["generateName"] = json!(prefix),
        PodName::Fixed(name) => metadata["name"] = json!(name),
    }
    for (k, v) in labels {
        metadata["labels"][*k] = json!(v);
    }
    metadata["ownerReferences"] = json!([owner_ref(owner, api_version, kind)]);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"].clone()})
}
