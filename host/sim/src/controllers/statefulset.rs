//! The StatefulSet controller, to the point `kubectl rollout status` and
//! Helm's `--wait` need: pods `<name>-0..n-1` (orphans its selector matches
//! adopted, as after a `--cascade=orphan` delete; stable names, hostname and
//! subdomain, `controller-revision-hash`, `statefulset.kubernetes.io/pod-name`
//! and `apps.kubernetes.io/pod-index` labels), created in order — each only
//! once the ones before it are ready, unless `podManagementPolicy: Parallel` —
//! scaled down from the highest ordinal, rolled to a new template one pod at
//! a time from the highest ordinal down to the partition, and the status
//! (replicas, readyReplicas, currentReplicas, updatedReplicas,
//! currentRevision, updateRevision). No PersistentVolumeClaims. This file
//! must not change pod status (see `pods`).

use serde_json::{json, Value};

use super::deployment::template_hash;
use super::replicaset::{is_active, is_ready, pod_from_template, PodName};
use super::index::Owned;
use super::{meta_str, report, write, Ctx, Severity};
use crate::store::{Part, Store};

const REVISION_LABEL: &str = "controller-revision-hash";

pub(super) fn run(ctx: &mut Ctx, store: &Store) {
    let sets = ctx.list(store, &ctx.statefulsets.clone());
    if sets.is_empty() {
        return;
    }
    let pods = Owned::of(store, &ctx.pods);
    for sts in sets {
        if !sts["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        let _span = tracing::debug_span!("statefulset", name = %meta_str(&sts, "name"), namespace = %meta_str(&sts, "namespace")).entered();
        let adopted = super::adopt(store, &ctx.pods, &sts, "apps/v1", "StatefulSet", &pods.orphans());
        let owned: Vec<&Value> = pods.of_owner(meta_str(&sts, "uid")).chain(&adopted).filter(|p| is_active(p)).collect();
        sync(ctx, store, &sts, &owned);
    }
}

fn ordinal(sts: &Value, pod: &Value) -> Option<i64> {
    meta_str(pod, "name").strip_prefix(&format!("{}-", meta_str(sts, "name")))?.parse().ok()
}

fn sync(ctx: &Ctx, store: &Store, sts: &Value, owned: &[&Value]) {
    let (ns, name) = (meta_str(sts, "namespace"), meta_str(sts, "name"));
    let desired = sts["spec"]["replicas"].as_i64().unwrap_or(1);
    let parallel = sts["spec"]["podManagementPolicy"] == "Parallel";
    let partition = sts["spec"]["updateStrategy"]["rollingUpdate"]["partition"].as_i64().unwrap_or(0);
    let on_delete = sts["spec"]["updateStrategy"]["type"] == "OnDelete";
    let update_revision = format!("{name}-{}", template_hash(&sts["spec"]["template"]));
    let at = |i: i64| owned.iter().find(|p| ordinal(sts, p) == Some(i)).copied();
    let revision_of = |p: &Value| p["metadata"]["labels"][REVISION_LABEL].as_str().unwrap_or("").to_string();

    // Create missing ordinals (in order, each after the previous is ready, unless Parallel).
    for i in 0..desired {
        match at(i) {
            Some(pod) if !parallel && !is_ready(pod) => break,
            Some(_) => {}
            None => {
                let pod_name = format!("{name}-{i}");
                let index = i.to_string();
                let labels = [(REVISION_LABEL, update_revision.as_str()), ("statefulset.kubernetes.io/pod-name", pod_name.as_str()), ("apps.kubernetes.io/pod-index", index.as_str())];
                let mut pod = pod_from_template(sts, "apps/v1", "StatefulSet", PodName::Fixed(pod_name.clone()), &labels);
                pod["spec"]["hostname"] = json!(pod_name);
                if let Some(service) = sts["spec"]["serviceName"].as_str().filter(|s| !s.is_empty()) {
                    pod["spec"]["subdomain"] = json!(service);
                }
                if report("creating a statefulset pod", store.create(&ctx.pods, ns, pod, &write())).is_some() {
                    let message = format!("create Pod {pod_name} in StatefulSet {name} successful");
                    ctx.event(store, sts, Severity::Normal, "SuccessfulCreate", &message, "statefulset-controller");
                }
                if !parallel {
                    break;
                }
            }
        }
    }
    // Scale down from the highest ordinal, one at a time unless Parallel.
    let mut extra: Vec<&Value> = owned.iter().filter(|p| ordinal(sts, p).is_none_or(|i| i >= desired)).copied().collect();
    extra.sort_by_key(|p| std::cmp::Reverse(ordinal(sts, p)));
    for pod in extra.iter().take(if parallel { extra.len() } else { 1 }) {
        report("scaling down a statefulset", store.delete(&ctx.pods, ns, meta_str(pod, "name"), &write()));
    }
    // Roll: once every pod is ready, replace the highest outdated ordinal at or above the partition.
    let all_ready = (0..desired).all(|i| at(i).is_some_and(is_ready));
    if all_ready && !on_delete {
        let outdated = (partition..desired).rev().find_map(|i| at(i).filter(|p| revision_of(p) != update_revision));
        if let Some(pod) = outdated {
            tracing::debug!(pod = %meta_str(pod, "name"), "rolling a pod to the update revision");
            report("rolling a statefulset pod", store.delete(&ctx.pods, ns, meta_str(pod, "name"), &write()));
        }
    }

    let in_range: Vec<&Value> = owned.iter().filter(|p| ordinal(sts, p).is_some_and(|i| i < desired)).copied().collect();
    let updated = in_range.iter().filter(|p| revision_of(p) == update_revision).count() as i64;
    let ready = owned.iter().filter(|p| is_ready(p)).count();
    let mut current_revision = sts["status"]["currentRevision"].as_str().unwrap_or(&update_revision).to_string();
    if updated == desired && in_range.len() as i64 == desired {
        current_revision = update_revision.clone();
    }
    let current = in_range.iter().filter(|p| revision_of(p) == current_revision).count();
    let status = json!({
        "observedGeneration": sts["metadata"]["generation"].as_i64().unwrap_or(1),
        "replicas": owned.len(), "readyReplicas": ready, "availableReplicas": ready,
        "currentReplicas": current, "updatedReplicas": updated,
        "currentRevision": current_revision, "updateRevision": update_revision, "collisionCount": 0,
    });
    let update = |cur: &Value| {
        let mut next = cur.clone();
        next["status"] = status.clone();
        Ok(next)
    };
    report("writing statefulset status", store.modify(&ctx.statefulsets, ns, name, Part::Status, &write(), update));
}
