//! The DaemonSet controller for a one-node cluster: one pod per DaemonSet on
//! `sim-node-1` (`<name>-<5 random>`, `controller-revision-hash` label; an
//! orphaned pod its selector matches is adopted),
//! replaced when the template changes (RollingUpdate; OnDelete leaves it),
//! and the status `kubectl rollout status` and Helm's `--wait` read
//! (desiredNumberScheduled 1, currentNumberScheduled, numberReady,
//! numberAvailable, updatedNumberScheduled). This file must not change pod
//! status (see `pods`).

use serde_json::{json, Value};

use super::deployment::template_hash;
use super::replicaset::{is_active, is_ready, pod_from_template, PodName};
use super::index::Owned;
use super::{meta_str, report, write, Ctx};
use crate::store::{Part, Store};

const REVISION_LABEL: &str = "controller-revision-hash";

pub(super) fn run(ctx: &mut Ctx, store: &Store) {
    let sets = ctx.list(store, &ctx.daemonsets.clone());
    if sets.is_empty() {
        return;
    }
    let pods = Owned::of(store, &ctx.pods);
    for ds in sets {
        if !ds["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        let (ns, name) = (meta_str(&ds, "namespace"), meta_str(&ds, "name"));
        let _span = tracing::debug_span!("daemonset", %name, namespace = %ns).entered();
        let adopted = super::adopt(store, &ctx.pods, &ds, "apps/v1", "DaemonSet", &pods.orphans());
        let owned: Vec<&Value> = pods.of_owner(meta_str(&ds, "uid")).chain(&adopted).filter(|p| is_active(p)).collect();
        let hash = template_hash(&ds["spec"]["template"]);
        let current = |p: &&Value| p["metadata"]["labels"][REVISION_LABEL] == json!(hash);
        let rolling = ds["spec"]["updateStrategy"]["type"] != "OnDelete";
        if owned.is_empty() {
            let mut pod = pod_from_template(&ds, "apps/v1", "DaemonSet", PodName::Generate(format!("{name}-")), &[(REVISION_LABEL, &hash)]);
            pod["spec"]["nodeName"] = json!(super::pods::NODE_NAME);
            report("creating a daemon pod", store.create(&ctx.pods, ns, pod, &write()));
        }
        // Surplus pods, or (rolling) the outdated one.
        for pod in owned.iter().skip(1).chain(owned.iter().take(1).filter(|p| rolling && !current(p))) {
            report("replacing a daemon pod", store.delete(&ctx.pods, ns, meta_str(pod, "name"), &write()));
        }
        let ready = owned.iter().filter(|p| is_ready(p)).count().min(1);
        let status = json!({
            "observedGeneration": ds["metadata"]["generation"].as_i64().unwrap_or(1),
            "desiredNumberScheduled": 1, "currentNumberScheduled": owned.len().min(1), "numberMisscheduled": 0,
            "numberReady": ready, "numberAvailable": ready, "numberUnavailable": 1 - ready,
            "updatedNumberScheduled": owned.iter().filter(|p| current(p)).count().min(1),
        });
        let update = |cur: &Value| {
            let mut next = cur.clone();
            next["status"] = status.clone();
            Ok(next)
        };
        report("writing daemonset status", store.modify(&ctx.daemonsets, ns, name, Part::Status, &write(), update));
    }
}
