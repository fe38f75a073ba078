//! The simulated kubelet of the one simulated node `sim-node-1`: binds every
//! pod to it, gives it an IP, and acts out its life as `behavior` configures
//! it — containers running and (after a delay) ready, crash-looping with a
//! growing restartCount, never ready, or stuck pulling the image — writing
//! pod status (phase, conditions, containerStatuses) as the real kubelet
//! does; a Job's pods, and bare pods that are not restarted
//! (`restartPolicy: Never`/`OnFailure`, as Helm's test hooks are), run to
//! completion (Succeeded) where others would become ready. Time is the controller's own clock from when it first saw
//! the pod. A pod deleted gracefully (with a deletionTimestamp and a grace
//! period) is removed with grace period 0, as the kubelet does once its
//! containers stopped.
//! This file must not create pods nor decide which to delete (see `replicaset`).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::behavior::{Behavior, PodBehavior};
use super::pull::PullView;
use super::{meta_str, report, write, Ctx, Severity};
use crate::store::{now_rfc3339, Part, Store, WriteOptions};

/// The simulated node every pod runs on.
pub const NODE_NAME: &str = "sim-node-1";
const NODE_IP: &str = "10.0.0.1";
/// When a crash-looping container fails first; each later restart waits twice as long, up to the cap.
const FIRST_CRASH: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a pod reports ErrImagePull before ImagePullBackOff.
const PULL_ATTEMPT: Duration = Duration::from_secs(1);

pub(super) fn run(ctx: &mut Ctx, store: &Store) {
    // Shared with the store, not copied: most pods need no write in a pass.
    let pods = store.snapshot(&ctx.pods.gr());
    let live: std::collections::HashSet<String> = pods.iter().map(|p| meta_str(p, "uid").to_string()).collect();
    ctx.started.retain(|uid, _| live.contains(uid));
    ctx.puller.retain(&live);
    for pod in pods {
        let phase = pod["status"]["phase"].as_str().unwrap_or("");
        if !pod["metadata"]["deletionTimestamp"].is_null() {
            // Deleted gracefully: the containers stop at once here, then the kubelet removes the pod
            // (one held by finalizers has no grace period left and waits for them).
            if pod["metadata"]["deletionGracePeriodSeconds"].as_i64().is_some_and(|g| g > 0) {
                for container in pod["spec"]["containers"].as_array().into_iter().flatten() {
                    let message = format!("Stopping container {}", container["name"].as_str().unwrap_or(""));
                    ctx.event(store, &pod, Severity::Normal, "Killing", &message, "kubelet");
                }
                let now = WriteOptions { grace_period: Some(0), uid: Some(meta_str(&pod, "uid").to_string()), ..write() };
                report("removing a terminated pod", store.delete(&ctx.pods, meta_str(&pod, "namespace"), meta_str(&pod, "name"), &now));
            }
            continue;
        }
        if matches!(phase, "Succeeded" | "Failed") {
            continue;
        }
        let (ns, name, uid) = (meta_str(&pod, "namespace").to_string(), meta_str(&pod, "name").to_string(), meta_str(&pod, "uid").to_string());
        let _span = tracing::debug_span!("kubelet", pod = %name, namespace = %ns).entered();
        if pod["spec"]["nodeName"].as_str().unwrap_or("").is_empty() {
            let bind = |current: &Value| {
                let mut next = current.clone();
                next["spec"]["nodeName"] = json!(NODE_NAME);
                Ok(next)
            };
            if report("binding a pod", store.modify(&ctx.pods, &ns, &name, Part::Main, &write(), bind)).is_none() {
                continue;
            }
            ctx.event(store, &pod, Severity::Normal, "Scheduled", &format!("Successfully assigned {ns}/{name} to {NODE_NAME}"), "default-scheduler");
        }
        let ip = match pod["status"]["podIP"].as_str() {
            Some(ip) => ip.to_string(),
            None => {
                ctx.next_ip += 1;
                format!("10.244.{}.{}", (ctx.next_ip >> 8) & 0xff, ctx.next_ip & 0xff)
            }
        };
        // Images from configured registries are resolved before the containers start (`pull`).
        let secrets = crate::error::GroupResource::new("", "secrets");
        let gate = ctx.puller.gate(&pod, |secret| store.get(&secrets, &ns, secret).ok());
        if let Some(gate) = &gate {
            for (severity, reason, message) in &gate.events {
                ctx.event(store, &pod, *severity, reason, message, "kubelet");
            }
            if let Some(after) = gate.wake {
                ctx.wake_in(after);
            }
        }
        let (life, view) = match gate {
            Some(gate) if !gate.open => {
                let waiting = if gate.view.init_blocked { "PodInitializing" } else { "ContainerCreating" };
                (Life { phase: "Pending", ready: false, restarts: 0, waiting: Some((waiting, "")) }, gate.view)
            }
            gate => {
                // The pod's clock starts when its containers can.
                let started = *ctx.started.entry(uid).or_insert_with(Instant::now);
                let behavior = PodBehavior::resolve(&pod, &ctx.images);
                let (mut life, wake) = life_at(behavior, started.elapsed());
                if life.ready && runs_to_completion(&pod) {
                    // A job's pod runs to completion where another would become ready.
                    life = Life { phase: "Succeeded", ready: false, restarts: 0, waiting: None };
                }
                // `fail` at `ready_after`, a `ready` pod at `crash-after`: the containers exit.
                let exits_at = behavior.exits_at();
                if let Some(at) = exits_at.filter(|at| started.elapsed() < *at) {
                    ctx.wake_in(at - started.elapsed());
                }
                if let Some(at) = exits_at.filter(|at| started.elapsed() >= *at) {
                    life = if runs_to_completion(&pod) {
                        // Not restarted: the pod failed with its containers.
                        Life { phase: "Failed", ready: false, restarts: 0, waiting: None }
                    } else {
                        // Restarted: it crash-loops from its first exit on.
                        let (crashing, wake) = life_at(PodBehavior { behavior: Behavior::CrashLoop, ..behavior }, started.elapsed() - at + FIRST_CRASH);
                        if let Some(after) = wake {
                            ctx.wake_in(after);
                        }
                        crashing
                    };
                }
                if let Some(after) = wake {
                    ctx.wake_in(after);
                }
                (life, gate.map(|g| g.view).unwrap_or_default())
            }
        };
        let wanted = status(&pod, &life, &ip, &view);
        if pod["status"] == wanted {
            // Nothing changed: skip the write (and the store's lock).
            continue;
        }
        let update = |current: &Value| {
            let mut next = current.clone();
            // The status computed above, unless the pod changed since this pass read it.
            let unchanged = current["metadata"]["resourceVersion"] == pod["metadata"]["resourceVersion"];
            next["status"] = if unchanged { wanted } else { status(current, &life, &ip, &view) };
            Ok(next)
        };
        if let Some(after) = report("writing pod status", store.modify(&ctx.pods, &ns, &name, Part::Status, &write(), update)) {
            kubelet_events(ctx, store, &pod, &after, &view);
        }
    }
}

/// The events the kubelet records when a pod's first container changes state
/// (image pulls from configured registries record their own, in `pull`).
fn kubelet_events(ctx: &Ctx, store: &Store, before: &Value, after: &Value, view: &PullView) {
    let first = |pod: &Value| pod["status"]["containerStatuses"][0].clone();
    let (old, new) = (first(before), first(after));
    let (container, image) = (new["name"].as_str().unwrap_or(""), new["image"].as_str().unwrap_or(""));
    let waiting = |s: &Value| s["state"]["waiting"]["reason"].as_str().unwrap_or("").to_string();
    let restarts = |s: &Value| s["restartCount"].as_i64().unwrap_or(0);
    let started = |s: &Value| !s["state"]["running"].is_null();
    if started(&new) && !started(&old) && restarts(&new) == 0 {
        if !view.pulled.contains(container) {
            ctx.event(store, after, Severity::Normal, "Pulled", &format!("Container image \"{image}\" already present on machine"), "kubelet");
        }
        ctx.event(store, after, Severity::Normal, "Created", &format!("Created container {container}"), "kubelet");
        ctx.event(store, after, Severity::Normal, "Started", &format!("Started container {container}"), "kubelet");
    }
    if restarts(&new) > restarts(&old) {
        ctx.event(store, after, Severity::Warning, "BackOff", &format!("Back-off restarting failed container {container} in pod {}", meta_str(after, "name")), "kubelet");
    }
    if waiting(&new) != waiting(&old) && !view.waiting.contains_key(container) {
        match waiting(&new).as_str() {
            "ErrImagePull" => ctx.event(store, after, Severity::Warning, "Failed", &format!("Failed to pull image \"{image}\": not found"), "kubelet"),
            "ImagePullBackOff" => ctx.event(store, after, Severity::Normal, "BackOff", &format!("Back-off pulling image \"{image}\""), "kubelet"),
            _ => {}
        }
    }
}

/// A Job's pod, or a pod its kubelet does not restart: its containers exit.
fn runs_to_completion(pod: &Value) -> bool {
    let by_job = pod["metadata"]["ownerReferences"].as_array().is_some_and(|refs| refs.iter().any(|r| r["kind"] == "Job" && r["controller"] == true));
    by_job || matches!(pod["spec"]["restartPolicy"].as_str(), Some("Never" | "OnFailure"))
}

/// Where a pod is in its life at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Life {
    phase: &'static str,
    ready: bool,
    restarts: u64,
    /// `(reason, message)` when the containers are waiting rather than running.
    waiting: Option<(&'static str, &'static str)>,
}

/// The pod's life `elapsed` after it started, and how long until it next changes.
pub(super) fn life_at(b: PodBehavior, elapsed: Duration) -> (Life, Option<Duration>) {
    let running = Life { phase: "Running", ready: false, restarts: 0, waiting: None };
    match b.behavior {
        Behavior::Ready if elapsed >= b.ready_after => (Life { ready: true, ..running }, None),
        Behavior::Ready => (running, Some(b.ready_after - elapsed)),
        Behavior::NeverReady => (running, None),
        // Runs until `ready_after`, then exits (acted out in `run`, which knows whether the pod is restarted).
        Behavior::Fail if elapsed >= b.ready_after => (running, None),
        Behavior::Fail => (running, Some(b.ready_after - elapsed)),
        Behavior::ImagePullBackOff => {
            let pending = |reason| Life { phase: "Pending", ready: false, restarts: 0, waiting: Some((reason, "")) };
            if elapsed < PULL_ATTEMPT {
                (pending("ErrImagePull"), Some(PULL_ATTEMPT - elapsed))
            } else {
                (pending("ImagePullBackOff"), None)
            }
        }
        Behavior::CrashLoop => {
            let (mut restarts, mut at, mut gap) = (0u64, FIRST_CRASH, FIRST_CRASH);
            while at <= elapsed {
                restarts += 1;
                gap = (gap * 2).min(MAX_BACKOFF);
                at += gap;
            }
            let waiting = (restarts > 0).then_some(("CrashLoopBackOff", "back-off restarting failed container"));
            (Life { restarts, waiting, ..running }, Some(at - elapsed))
        }
    }
}

/// The pod status for `life` and the image pulls in `view`, keeping the timestamps of what did not change.
fn status(current: &Value, life: &Life, ip: &str, view: &PullView) -> Value {
    let old = &current["status"];
    let now = now_rfc3339();
    let start_time = old["startTime"].as_str().map_or_else(|| now.clone(), String::from);
    let containers = current["spec"]["containers"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = containers.iter().filter_map(|c| c["name"].as_str()).collect();
    let unready = format!("containers with unready status: [{}]", names.join(" "));
    let condition = |kind: &str, ok: bool| {
        let status = if ok { "True" } else { "False" };
        let previous = old["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == kind));
        let since = previous.filter(|c| c["status"] == status).and_then(|c| c["lastTransitionTime"].as_str()).map_or_else(|| now.clone(), String::from);
        let mut c = json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": since});
        if !ok && matches!(life.phase, "Succeeded" | "Failed") {
            c["reason"] = json!(if life.phase == "Failed" { "PodFailed" } else { "PodCompleted" });
        } else if !ok {
            c["reason"] = json!("ContainersNotReady");
            c["message"] = json!(unready);
        }
        c
    };
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap_or("");
            let image = c["image"].as_str().unwrap_or("");
            let previous = old["containerStatuses"].as_array().and_then(|cs| cs.iter().find(|s| s["name"] == name));
            let id = format!("containerd://{}", hex::encode(Sha256::digest(format!("{}/{name}", meta_str(current, "uid")).as_bytes())));
            let mut s = json!({
                "name": name, "image": image, "imageID": "", "ready": life.ready, "restartCount": life.restarts,
                "started": life.waiting.is_none(),
            });
            match life.waiting {
                Some((reason @ ("ContainerCreating" | "PodInitializing"), _)) => s["state"] = json!({"waiting": {"reason": reason}}),
                Some((reason, message)) => {
                    let message = match reason {
                        "ErrImagePull" => format!("failed to pull and unpack image \"{image}\": not found in the simulated registry"),
                        "ImagePullBackOff" => format!("Back-off pulling image \"{image}\""),
                        _ => format!("{message} {name} in pod {}", meta_str(current, "name")),
                    };
                    s["state"] = json!({"waiting": {"reason": reason, "message": message}});
                }
                None if life.phase == "Failed" => {
                    let since = previous.and_then(|p| p["state"]["running"]["startedAt"].as_str()).unwrap_or(&start_time).to_string();
                    s["state"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": since, "finishedAt": now}});
                    s["started"] = json!(false);
                }
                None if life.phase == "Succeeded" => {
                    let since = previous.and_then(|p| p["state"]["running"]["startedAt"].as_str()).unwrap_or(&start_time).to_string();
                    s["state"] = json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": since, "finishedAt": now}});
                    s["started"] = json!(false);
                }
                None => {
                    let since = previous.and_then(|p| p["state"]["running"]["startedAt"].as_str()).map_or_else(|| now.clone(), String::from);
                    s["state"] = json!({"running": {"startedAt": since}});
                }
            }
            if life.restarts > 0 {
                s["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": start_time, "finishedAt": start_time}});
            }
            if matches!(life.phase, "Running" | "Succeeded" | "Failed") {
                s["imageID"] = json!(format!("{image}@sha256:{}", &id["containerd://".len()..]));
                s["containerID"] = json!(id);
            }
            pulled(&mut s, name, view);
            s
        })
        .collect();
    let inits = current["spec"]["initContainers"].as_array().cloned().unwrap_or_default();
    let init_statuses: Vec<Value> = inits
        .iter()
        .map(|c| {
            let (name, image) = (c["name"].as_str().unwrap_or(""), c["image"].as_str().unwrap_or(""));
            let id = format!("containerd://{}", hex::encode(Sha256::digest(format!("{}/init/{name}", meta_str(current, "uid")).as_bytes())));
            let mut s = json!({"name": name, "image": image, "imageID": "", "ready": false, "restartCount": 0, "started": false});
            if view.init_blocked {
                s["state"] = json!({"waiting": {"reason": "PodInitializing"}});
            } else {
                s["state"] = json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": start_time, "finishedAt": start_time, "containerID": id}});
                s["ready"] = json!(true);
                s["imageID"] = json!(format!("{image}@sha256:{}", &id["containerd://".len()..]));
                s["containerID"] = json!(id);
            }
            pulled(&mut s, name, view);
            s
        })
        .collect();
    let scheduled = life.phase != "Pending" || life.waiting.is_some();
    let mut status = json!({
        "phase": life.phase,
        "conditions": [condition("Initialized", true), condition("Ready", life.ready), condition("ContainersReady", life.ready), condition("PodScheduled", scheduled)],
        "hostIP": NODE_IP,
        "hostIPs": [{"ip": NODE_IP}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": start_time,
        "containerStatuses": statuses,
        "qosClass": old["qosClass"].as_str().unwrap_or("BestEffort"),
    });
    if !init_statuses.is_empty() {
        status["initContainerStatuses"] = json!(init_statuses);
    }
    if view.init_blocked {
        // Initialized is False while an init container's image is not pulled.
        let names: Vec<&str> = inits.iter().filter_map(|c| c["name"].as_str()).collect();
        let mut initialized = condition("Initialized", false);
        initialized["reason"] = json!("ContainersNotInitialized");
        initialized["message"] = json!(format!("containers with incomplete status: [{}]", names.join(" ")));
        status["conditions"][0] = initialized;
    }
    status
}

/// Applies an image pull's outcome to a container status: waiting on the
/// pull, or the pulled image's real imageID.
fn pulled(s: &mut Value, name: &str, view: &PullView) {
    if let Some((reason, message)) = view.waiting.get(name) {
        s["state"] = if message.is_empty() { json!({"waiting": {"reason": reason}}) } else { json!({"waiting": {"reason": reason, "message": message}}) };
        s["ready"] = json!(false);
        s["started"] = json!(false);
        s["imageID"] = json!("");
        if let Some(m) = s.as_object_mut() {
            m.remove("containerID");
        }
    } else if let Some(image_id) = view.image_ids.get(name).filter(|_| !s["imageID"].as_str().unwrap_or("").is_empty()) {
        s["imageID"] = json!(image_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(behavior: Behavior) -> PodBehavior {
        PodBehavior { behavior, ready_after: Duration::from_secs(2), crash_after: None }
    }

    #[test]
    fn a_ready_pod_is_running_then_ready_after_its_delay() {
        let (before, wake) = life_at(of(Behavior::Ready), Duration::from_secs(1));
        assert_eq!((before.phase, before.ready, wake), ("Running", false, Some(Duration::from_secs(1))));
        let (after, wake) = life_at(of(Behavior::Ready), Duration::from_secs(2));
        assert_eq!((after.ready, wake), (true, None));
    }

    #[test]
    fn a_crash_looping_pod_restarts_with_growing_back_off() {
        let restarts = |secs| life_at(of(Behavior::CrashLoop), Duration::from_secs(secs)).0.restarts;
        assert_eq!([restarts(0), restarts(1), restarts(2), restarts(3), restarts(7)], [0, 1, 1, 2, 3]);
        let (life, _) = life_at(of(Behavior::CrashLoop), Duration::from_secs(3));
        assert_eq!(life.waiting.map(|w| w.0), Some("CrashLoopBackOff"));
        assert!(!life.ready);
    }

    #[test]
    fn image_pulls_fail_then_back_off_and_never_ready_stays_unready() {
        assert_eq!(life_at(of(Behavior::ImagePullBackOff), Duration::ZERO).0.waiting.map(|w| w.0), Some("ErrImagePull"));
        let (life, wake) = life_at(of(Behavior::ImagePullBackOff), Duration::from_secs(5));
        assert_eq!((life.phase, life.waiting.map(|w| w.0), wake), ("Pending", Some("ImagePullBackOff"), None));
        assert!(!life_at(of(Behavior::NeverReady), Duration::from_secs(100)).0.ready);
    }
}
