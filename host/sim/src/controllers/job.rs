//! The Job controller, to the point `kubectl wait --for=condition=complete`
//! and Helm's `--wait-for-jobs` need: up to `parallelism` pods at a time
//! (`<job>-<5 random>`, labelled `job-name` and `controller-uid` as the real
//! controller labels them) until `completions` have succeeded, then the
//! SuccessCriteriaMet and Complete conditions, startTime and completionTime;
//! counts of active, ready, succeeded and failed pods. Simulated job pods
//! succeed when they would become ready (see `pods`). No backoff-limit
//! failures or indexed completion. This file must not change pod status.

use serde_json::{json, Value};

use super::replicaset::{is_ready, pod_from_template, PodName};
use super::index::Owned;
use super::{meta_str, report, write, Ctx, Severity};
use crate::store::{now_rfc3339, Part, Store};

pub(super) fn run(ctx: &mut Ctx, store: &Store) {
    let jobs = ctx.list(store, &ctx.jobs.clone());
    if jobs.is_empty() {
        return;
    }
    let pods = Owned::of(store, &ctx.pods);
    for job in jobs {
        if !job["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        let (ns, name, uid) = (meta_str(&job, "namespace"), meta_str(&job, "name"), meta_str(&job, "uid"));
        let _span = tracing::debug_span!("job", %name, namespace = %ns).entered();
        let owned: Vec<&Value> = pods.of_owner(uid).collect();
        let phase = |p: &&&Value| p["status"]["phase"].as_str().unwrap_or("").to_string();
        let succeeded = owned.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
        let failed = owned.iter().filter(|p| phase(p) == "Failed").count() as i64;
        let active: Vec<&&Value> = owned.iter().filter(|p| !matches!(phase(p).as_str(), "Succeeded" | "Failed")).collect();
        let completions = job["spec"]["completions"].as_i64().unwrap_or(1);
        let parallelism = job["spec"]["parallelism"].as_i64().unwrap_or(1);
        let complete = succeeded >= completions;
        let suspended = job["spec"]["suspend"].as_bool() == Some(true);
        let mut created = 0;
        if !complete && !suspended {
            let wanted = parallelism.min(completions - succeeded) - active.len() as i64;
            for _ in 0..wanted.max(0) {
                let labels = [("batch.kubernetes.io/controller-uid", uid), ("batch.kubernetes.io/job-name", name), ("controller-uid", uid), ("job-name", name)];
                let pod = pod_from_template(&job, "batch/v1", "Job", PodName::Generate(format!("{name}-")), &labels);
                if let Some(pod) = report("creating a job pod", store.create(&ctx.pods, ns, pod, &write())) {
                    ctx.event(store, &job, Severity::Normal, "SuccessfulCreate", &format!("Created pod: {}", meta_str(&pod, "name")), "job-controller");
                    created += 1;
                }
            }
        }
        let old = &job["status"];
        let now = now_rfc3339();
        let mut status = json!({
            "startTime": old["startTime"].as_str().map_or_else(|| now.clone(), String::from),
            "active": active.len() as i64 + created,
            "ready": active.iter().filter(|p| is_ready(p)).count(),
            "succeeded": succeeded, "failed": failed,
            "terminating": 0,
            "uncountedTerminatedPods": {},
        });
        if complete {
            let finished = old["completionTime"].as_str().map_or_else(|| now.clone(), String::from);
            let condition = |kind: &str| json!({"type": kind, "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": finished, "lastTransitionTime": finished});
            if old["completionTime"].is_null() {
                ctx.event(store, &job, Severity::Normal, "Completed", "Job completed", "job-controller");
            }
            status["completionTime"] = json!(finished);
            status["conditions"] = json!([condition("SuccessCriteriaMet"), condition("Complete")]);
            status["active"] = json!(0);
        }
        let update = |cur: &Value| {
            let mut next = cur.clone();
            next["status"] = status.clone();
            Ok(next)
        };
        report("writing job status", store.modify(&ctx.jobs, ns, name, Part::Status, &write(), update));
    }
}
