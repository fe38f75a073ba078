//! The Deployment controller, after kube-controller-manager's: one
//! ReplicaSet per pod template (orphaned ones its selector matches adopted) (`<deploy>-<pod-template-hash>`, labelled
//! `pod-template-hash`, controlled through an ownerReference, annotated with
//! `deployment.kubernetes.io/revision`), rolling updates that honour
//! `maxSurge`/`maxUnavailable` (scale the new set up, the old ones down as new
//! pods become available) or Recreate, old sets pruned to
//! `revisionHistoryLimit`, and the status `kubectl rollout status`, `kubectl
//! wait` and Helm read: replica counts, observedGeneration, and the
//! Available and Progressing conditions (ReplicaSetUpdated,
//! NewReplicaSetAvailable, ProgressDeadlineExceeded). This file must not
//! create pods (see `replicaset`).

use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::index::Owned;
use super::{meta_str, owner_ref, report, write, Ctx, Severity};
use crate::store::{now_rfc3339, Part, Store};

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const HASH_LABEL: &str = "pod-template-hash";

pub(super) fn run(ctx: &mut Ctx, store: &Store) {
    let deployments = ctx.list(store, &ctx.deployments.clone());
    let sets = Owned::of(store, &ctx.replicasets);
    for d in deployments {
        if !d["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        let _span = tracing::debug_span!("deployment", name = %meta_str(&d, "name"), namespace = %meta_str(&d, "namespace")).entered();
        let mut owned: Vec<Value> = sets.of_owner(meta_str(&d, "uid")).cloned().collect();
        owned.extend(super::adopt(store, &ctx.replicasets, &d, "apps/v1", "Deployment", &sets.orphans()));
        sync(ctx, store, &d, owned);
    }
}

/// A replica count or percentage of `total` (`"25%"`), rounded up or down.
pub fn resolve(value: &Value, total: i64, round_up: bool) -> i64 {
    match value {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(pct) if round_up => (pct * total + 99) / 100,
            Some(pct) => pct * total / 100,
            None => s.parse().unwrap_or(0),
        },
        _ => 0,
    }
}

/// The pod-template-hash of a template: a stable digest, spelled with the
/// alphabet Kubernetes uses for generated names.
pub fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let digest = Sha256::digest(template.to_string().as_bytes());
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    n.to_string().bytes().map(|b| ALPHABET[b as usize % ALPHABET.len()] as char).collect()
}

fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
    }
    t
}

fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION].as_str().and_then(|r| r.parse().ok()).unwrap_or(0)
}

fn replicas(obj: &Value) -> i64 {
    obj["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn status_count(obj: &Value, field: &str) -> i64 {
    obj["status"][field].as_i64().unwrap_or(0)
}

fn sync(ctx: &mut Ctx, store: &Store, d: &Value, mut owned: Vec<Value>) {
    if d["spec"]["paused"].as_bool() == Some(true) {
        return write_paused(ctx, store, d);
    }
    let ns = meta_str(d, "namespace").to_string();
    let template = &d["spec"]["template"];
    let desired = replicas(d);
    let recreate = d["spec"]["strategy"]["type"] == "Recreate";
    let rolling = &d["spec"]["strategy"]["rollingUpdate"];
    let mut surge = if recreate { 0 } else { resolve(&rolling["maxSurge"], desired, true) };
    let mut unavailable = if recreate { 0 } else { resolve(&rolling["maxUnavailable"], desired, false) };
    if surge == 0 && unavailable == 0 && !recreate {
        unavailable = 1;
    }
    surge = surge.max(0);
    owned.sort_by_key(revision);
    let max_old = owned.iter().filter(|rs| without_hash(&rs["spec"]["template"]) != *template).map(revision).max().unwrap_or(0);
    let mut created_message = None;
    let new_index = match owned.iter().position(|rs| without_hash(&rs["spec"]["template"]) == *template) {
        Some(i) => {
            if revision(&owned[i]) <= max_old {
                // A rollback to an older template: that set becomes the newest revision.
                let rev = (max_old + 1).to_string();
                let bump = |current: &Value| {
                    let mut next = current.clone();
                    next["metadata"]["annotations"][REVISION] = json!(rev);
                    Ok(next)
                };
                if let Some(rs) = report("bumping a revision", store.modify(&ctx.replicasets, &ns, meta_str(&owned[i], "name"), Part::Main, &write(), bump)) {
                    owned[i] = rs;
                }
            }
            i
        }
        None => {
            let active_old: i64 = owned.iter().map(replicas).sum();
            let initial = if active_old == 0 { desired } else if recreate { 0 } else { (desired + surge - active_old).clamp(0, desired) };
            let rs = new_replicaset(d, max_old + 1, initial, surge);
            match report("creating a replicaset", store.create(&ctx.replicasets, &ns, rs, &write())) {
                Some(rs) => {
                    tracing::info!(replicaset = %meta_str(&rs, "name"), revision = max_old + 1, "new replica set");
                    created_message = Some(format!("Created new replica set \"{}\"", meta_str(&rs, "name")));
                    if initial > 0 {
                        let message = format!("Scaled up replica set {} from 0 to {initial}", meta_str(&rs, "name"));
                        ctx.event(store, d, Severity::Normal, "ScalingReplicaSet", &message, "deployment-controller");
                    }
                    owned.push(rs);
                    owned.len() - 1
                }
                None => return,
            }
        }
    };

    // The deployment carries its current revision too (`kubectl rollout undo` patches next to it).
    let current_revision = revision(&owned[new_index]).to_string();
    if d["metadata"]["annotations"][REVISION].as_str() != Some(current_revision.as_str()) {
        let annotate = |current: &Value| {
            let mut next = current.clone();
            next["metadata"]["annotations"][REVISION] = json!(current_revision);
            Ok(next)
        };
        report("annotating a deployment's revision", store.modify(&ctx.deployments, &ns, meta_str(d, "name"), Part::Main, &write(), annotate));
    }

    // Replica counts the sets should have: index-aligned with `owned`.
    let mut want: Vec<i64> = owned.iter().map(replicas).collect();
    let olds: Vec<usize> = (0..owned.len()).filter(|i| *i != new_index).collect();
    let old_active = olds.iter().any(|i| want[*i] > 0 || status_count(&owned[*i], "replicas") > 0);
    if !old_active {
        want[new_index] = desired;
    } else if recreate {
        for i in &olds {
            want[*i] = 0;
        }
        let old_pods: i64 = olds.iter().map(|i| status_count(&owned[*i], "replicas")).sum();
        want[new_index] = if old_pods == 0 { desired } else { 0 };
    } else {
        let total: i64 = want.iter().sum();
        let new = want[new_index];
        if new > desired {
            want[new_index] = desired;
        } else if total < desired + surge {
            want[new_index] = (new + desired + surge - total).min(desired);
        }
        let all: i64 = want.iter().sum();
        let min_available = desired - unavailable;
        let new_unavailable = (want[new_index] - status_count(&owned[new_index], "availableReplicas")).max(0);
        let mut budget = all - min_available - new_unavailable;
        // First the old sets' unavailable pods, then available ones down to the minimum.
        for i in &olds {
            if budget <= 0 {
                break;
            }
            let unhealthy = (want[*i] - status_count(&owned[*i], "availableReplicas")).max(0).min(budget);
            want[*i] -= unhealthy;
            budget -= unhealthy;
        }
        let available: i64 = owned.iter().map(|rs| status_count(rs, "availableReplicas")).sum();
        let mut removable = available - min_available;
        for i in &olds {
            if removable <= 0 {
                break;
            }
            let take = want[*i].min(removable);
            want[*i] -= take;
            removable -= take;
        }
    }
    for (i, rs) in owned.iter_mut().enumerate() {
        let annotated = rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == json!(desired.to_string());
        if replicas(rs) == want[i] && annotated {
            continue;
        }
        let (count, max) = (want[i], desired + surge);
        let scale = |current: &Value| {
            let mut next = current.clone();
            next["spec"]["replicas"] = json!(count);
            next["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = json!(desired.to_string());
            next["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] = json!(max.to_string());
            Ok(next)
        };
        let before = replicas(rs);
        if let Some(updated) = report("scaling a replicaset", store.modify(&ctx.replicasets, &ns, meta_str(rs, "name"), Part::Main, &write(), scale)) {
            tracing::debug!(replicaset = %meta_str(&updated, "name"), replicas = count, "scaled");
            if before != count {
                let direction = if count > before { "up" } else { "down" };
                let message = format!("Scaled {direction} replica set {} from {before} to {count}", meta_str(&updated, "name"));
                ctx.event(store, d, Severity::Normal, "ScalingReplicaSet", &message, "deployment-controller");
            }
            *rs = updated;
        }
    }
    prune_history(ctx, store, d, &owned, new_index);
    write_status(ctx, store, d, &owned, new_index, recreate, unavailable, created_message);
}

fn new_replicaset(d: &Value, revision: i64, replicas: i64, surge: i64) -> Value {
    let hash = template_hash(&d["spec"]["template"]);
    let mut template = d["spec"]["template"].clone();
    template["metadata"]["labels"][HASH_LABEL] = json!(hash);
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    let mut selector = d["spec"]["selector"].clone();
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let desired = self::replicas(d);
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": format!("{}-{hash}", meta_str(d, "name")),
            "labels": labels,
            "annotations": {
                REVISION: revision.to_string(),
                "deployment.kubernetes.io/desired-replicas": desired.to_string(),
                "deployment.kubernetes.io/max-replicas": (desired + surge).to_string(),
            },
            "ownerReferences": [owner_ref(d, "apps/v1", "Deployment")],
        },
        "spec": {"replicas": replicas, "minReadySeconds": d["spec"]["minReadySeconds"].as_i64().unwrap_or(0), "selector": selector, "template": template},
    })
}

/// Deletes the oldest scaled-down sets beyond `revisionHistoryLimit`.
fn prune_history(ctx: &Ctx, store: &Store, d: &Value, owned: &[Value], new_index: usize) {
    let limit = d["spec"]["revisionHistoryLimit"].as_u64().unwrap_or(10) as usize;
    let idle: Vec<&Value> = owned
        .iter()
        .enumerate()
        .filter(|(i, rs)| *i != new_index && replicas(rs) == 0 && status_count(rs, "replicas") == 0)
        .map(|(_, rs)| rs)
        .collect();
    for rs in idle.iter().take(idle.len().saturating_sub(limit)) {
        report("pruning an old replicaset", store.delete(&ctx.replicasets, meta_str(d, "namespace"), meta_str(rs, "name"), &write()));
    }
}

#[allow(clippy::too_many_arguments)]
fn write_status(ctx: &mut Ctx, store: &Store, d: &Value, owned: &[Value], new_index: usize, recreate: bool, unavailable: i64, created: Option<String>) {
    let desired = replicas(d);
    let sum = |field: &str| owned.iter().map(|rs| status_count(rs, field)).sum::<i64>();
    let new_rs = &owned[new_index];
    let available = sum("availableReplicas");
    let total_spec: i64 = owned.iter().map(replicas).sum();
    let generation = d["metadata"]["generation"].as_i64().unwrap_or(1);
    let mut status = json!({
        "observedGeneration": generation,
        "replicas": sum("replicas"),
        "updatedReplicas": status_count(new_rs, "replicas"),
        "readyReplicas": sum("readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": (total_spec - available).max(0),
    });
    let old = &d["status"];
    let mut conditions: Vec<Value> = old["conditions"].as_array().cloned().unwrap_or_default();
    let now = now_rfc3339();
    let max_unavailable = if recreate || desired == 0 { 0 } else { unavailable };
    let (ok, reason, message) = if available >= desired - max_unavailable {
        (true, "MinimumReplicasAvailable", "Deployment has minimum availability.")
    } else {
        (false, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
    };
    set_condition(&mut conditions, "Available", ok, reason, message, &now, false);

    let rs_name = meta_str(new_rs, "name");
    if conditions.iter().any(|c| c["type"] == "Progressing" && c["reason"] == "DeploymentPaused") {
        set_unknown(&mut conditions, "DeploymentResumed", "Deployment is resumed");
    }
    if let Some(message) = created {
        set_condition(&mut conditions, "Progressing", true, "ReplicaSetUpdated", &message, &now, false);
    }
    let progressing = conditions.iter().find(|c| c["type"] == "Progressing").cloned();
    let count = |s: &Value, f: &str| s[f].as_i64().unwrap_or(0);
    let complete_already = count(&status, "replicas") == count(&status, "updatedReplicas")
        && progressing.as_ref().is_some_and(|c| c["reason"] == "NewReplicaSetAvailable");
    let deadline = d["spec"]["progressDeadlineSeconds"].as_i64().filter(|s| *s > 0 && *s < i64::from(i32::MAX));
    if let (Some(deadline), false) = (deadline, complete_already) {
        let complete = count(&status, "updatedReplicas") == desired && count(&status, "replicas") == desired && available == desired;
        let progressed = count(&status, "updatedReplicas") > count(old, "updatedReplicas")
            || count(&status, "replicas") - count(&status, "updatedReplicas") < count(old, "replicas") - count(old, "updatedReplicas")
            || count(&status, "readyReplicas") > count(old, "readyReplicas")
            || available > count(old, "availableReplicas");
        if complete {
            let message = format!("ReplicaSet \"{rs_name}\" has successfully progressed.");
            set_condition(&mut conditions, "Progressing", true, "NewReplicaSetAvailable", &message, &now, false);
        } else if progressed {
            let message = format!("ReplicaSet \"{rs_name}\" is progressing.");
            set_condition(&mut conditions, "Progressing", true, "ReplicaSetUpdated", &message, &now, true);
        } else if let Some(cond) = conditions.iter().find(|c| c["type"] == "Progressing") {
            let since = cond["lastUpdateTime"].as_str().and_then(parse_time);
            let left = since.map(|t| t + time::Duration::seconds(deadline) - time::OffsetDateTime::now_utc());
            match left {
                Some(left) if left.is_positive() => ctx.wake_in(Duration::from_millis(left.whole_milliseconds().clamp(0, i128::from(u32::MAX)) as u64 + 100)),
                _ if cond["reason"] != "ProgressDeadlineExceeded" => {
                    let message = format!("ReplicaSet \"{rs_name}\" has timed out progressing.");
                    tracing::info!(replicaset = %rs_name, "progress deadline exceeded");
                    set_condition(&mut conditions, "Progressing", false, "ProgressDeadlineExceeded", &message, &now, false);
                }
                _ => {}
            }
        }
    }
    // The order the real controller leaves them in: Available, then Progressing.
    conditions.sort_by_key(|c| if c["type"] == "Available" { 0 } else { 1 });
    status["conditions"] = json!(conditions);
    let update = |current: &Value| {
        let mut next = current.clone();
        next["status"] = status.clone();
        Ok(next)
    };
    report("writing deployment status", store.modify(&ctx.deployments, meta_str(d, "namespace"), meta_str(d, "name"), Part::Status, &write(), update));
}

/// A paused deployment rolls nothing; it only says so (Progressing Unknown, DeploymentPaused).
fn write_paused(ctx: &Ctx, store: &Store, d: &Value) {
    let mut status = d["status"].clone();
    let mut conditions: Vec<Value> = status["conditions"].as_array().cloned().unwrap_or_default();
    set_unknown(&mut conditions, "DeploymentPaused", "Deployment is paused");
    status["conditions"] = json!(conditions);
    status["observedGeneration"] = d["metadata"]["generation"].clone();
    let update = |current: &Value| {
        let mut next = current.clone();
        next["status"] = status.clone();
        Ok(next)
    };
    report("writing paused deployment status", store.modify(&ctx.deployments, meta_str(d, "namespace"), meta_str(d, "name"), Part::Status, &write(), update));
}

/// Progressing Unknown with `reason`, unless it already says so.
fn set_unknown(conditions: &mut Vec<Value>, reason: &str, message: &str) {
    if conditions.iter().any(|c| c["type"] == "Progressing" && c["reason"] == reason) {
        return;
    }
    let now = now_rfc3339();
    conditions.retain(|c| c["type"] != "Progressing");
    conditions.push(json!({"type": "Progressing", "status": "Unknown", "lastUpdateTime": now, "lastTransitionTime": now, "reason": reason, "message": message}));
}

fn parse_time(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// Sets a condition as the real controller does: unchanged when status and
/// reason are the same (unless `touch`), keeping lastTransitionTime while the status holds.
fn set_condition(conditions: &mut Vec<Value>, kind: &str, ok: bool, reason: &str, message: &str, now: &str, touch: bool) {
    let status = if ok { "True" } else { "False" };
    let existing = conditions.iter().position(|c| c["type"] == kind);
    let mut transition = now.to_string();
    if let Some(i) = existing {
        let c = &conditions[i];
        if c["status"] == status && c["reason"] == reason && !touch {
            return;
        }
        if c["status"] == status {
            transition = c["lastTransitionTime"].as_str().unwrap_or(now).to_string();
        }
        conditions.remove(i);
    }
    conditions.push(json!({"type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": transition, "reason": reason, "message": message}));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surge_and_unavailability_resolve_like_intstr_percentages() {
        assert_eq!(resolve(&json!("25%"), 3, true), 1);
        assert_eq!(resolve(&json!("25%"), 3, false), 0);
        assert_eq!(resolve(&json!("25%"), 4, false), 1);
        assert_eq!(resolve(&json!(2), 10, true), 2);
        assert_eq!(resolve(&json!("50%"), 5, true), 3);
    }

    #[test]
    fn template_hashes_are_stable_and_differ_by_template() {
        let a = json!({"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}});
        let b = json!({"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}});
        assert_eq!(template_hash(&a), template_hash(&a.clone()));
        assert_ne!(template_hash(&a), template_hash(&b));
        assert!(template_hash(&a).chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
