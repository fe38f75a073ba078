//! API faults during a deploy (issue 9, 8(f)), on two simulated clusters
//! with the simulator's fault injection (`gantry_sim::faults`, switched in
//! process through `ApiServer::faults()`): the request's build (daemonless,
//! to two real docker-registry instances) → deploy-canary → promote
//! (`builtin:helm-deploy` through gantry-release, as `gantry run` plugs it
//! in), `on-failure: builtin:rollback`.
//!
//! Transient faults on the calls a deploy makes — a 429 with `Retry-After`
//! on the release record's create, 503s on the Deployment's server-side
//! apply, a 500 on a read, a dropped connection on a read — are retried by
//! gantry-cluster's retry layer and the run succeeds; the rules' hit counts
//! show each fault was injected. A persistent 500 on every write of
//! Deployments on one cluster fails the canary stage there within seconds
//! (a server error is retried three times, not to the stage's deadline),
//! the stage puts that cluster's canary back and `builtin:rollback`
//! uninstalls the other's, and afterwards each cluster holds exactly the
//! objects and release records it held before the run (listed through the
//! simulator's API and compared with a snapshot). Nothing asserts on time;
//! nothing here reaches beyond 127.0.0.1.

use std::collections::BTreeMap;

use gantry_engine::event::{RunStatus, StepStatus};
use gantry_engine::RunOutcome;
use gantry_runtime::cluster::ListQuery;
use gantry_sim::faults::FaultRule;
use serde_json::Value;

use crate::common::bed::{Bed, TARGETS};

const STAGES: &str = "  - { name: build, uses: builtin:build, with: { backend: daemonless } }
  - { name: deploy-canary, uses: builtin:helm-deploy, with: { track: canary, timeout: 2m } }
  - { name: promote-to-production, uses: builtin:helm-deploy, with: { track: stable, timeout: 2m } }
";

/// What the fault tests read beyond the shared bed.
impl Bed {
    fn faults(&self, target: &str) -> gantry_sim::faults::Faults {
        self.estate.cluster(target).expect("the target's cluster").faults()
    }

    /// What `target` holds in `default`, read through the simulator's API:
    /// every object of the kinds a release makes, by kind and name, with
    /// what a change to it would change (a Deployment's generation and
    /// image, the others' resourceVersion; a release Secret's status too).
    async fn snapshot(&self, target: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let kinds = [("v1", "Secret"), ("v1", "ConfigMap"), ("v1", "Service"), ("v1", "ServiceAccount"), ("apps/v1", "Deployment"), ("networking.k8s.io/v1", "Ingress")];
        for (api_version, kind) in kinds {
            let items = self.objects[target].list(api_version, kind, "default", &ListQuery::default()).await.unwrap_or_else(|e| panic!("{target}: listing {kind}: {}", e.message));
            for o in items {
                let meta = &o["metadata"];
                let what = match kind {
                    "Deployment" => format!("generation {} image {}", meta["generation"], o["spec"]["template"]["spec"]["containers"][0]["image"]),
                    "Secret" => format!("rv {} status {}", meta["resourceVersion"], meta["labels"]["status"]),
                    _ => format!("rv {}", meta["resourceVersion"]),
                };
                out.insert(format!("{kind}/{}", meta["name"].as_str().unwrap_or_default()), what);
            }
        }
        out
    }
}

fn stage<'a>(outcome: &'a RunOutcome, name: &str) -> &'a gantry_engine::record::StageRecordOut {
    outcome.record.stages.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no stage {name}: {:#?}", outcome.record.stages))
}

fn step<'a>(outcome: &'a RunOutcome, name: &str, target: &str) -> &'a gantry_engine::record::StepRecord {
    let s = stage(outcome, name);
    s.steps.iter().find(|st| st.target.as_deref() == Some(target)).unwrap_or_else(|| panic!("{name} did not run on {target}: {s:#?}"))
}

fn digest(outcome: &RunOutcome) -> String {
    stage(outcome, "build").steps[0].outputs["digest"].as_str().expect("the build's digest").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_api_faults_during_the_deploy_are_retried_and_the_release_succeeds() {
    let Some(bed) = Bed::start().await else { return };
    let secrets = "/api/v1/namespaces/default/secrets";
    let deployments = "/apis/apps/v1/namespaces/default/deployments";
    let mut rules = BTreeMap::new();
    for t in TARGETS {
        let f = bed.faults(t);
        let add = |rule: FaultRule| f.add(rule).expect("a valid rule");
        rules.insert(
            t,
            [
                // Helm's release record: its create refused once with Retry-After (safe to send again).
                ("429 on the release record's create", add(FaultRule::too_many_requests(1).verb("create").path(secrets).times(1)), 1),
                // The Deployment's server-side apply: twice unavailable.
                ("503 on the Deployment's apply", add(FaultRule::status(503).verb("patch").path(deployments).times(2)), 2),
                // `helm status` lists the release records: a 500 on a read is retried.
                ("500 on listing release records", add(FaultRule::status(500).verb("list").path(secrets).times(1)), 1),
                // A read of the Deployment (ownership check, then the wait) whose connection drops.
                ("dropped connection on a Deployment read", add(FaultRule::drop_connection().verb("get").path(deployments).times(1)), 1),
            ],
        );
        // A watch cut: the deploy's wait polls as Helm's legacy waiter does and
        // never watches, so this may never fire; the run must not mind either way.
        add(FaultRule::reset_watch(1).path(deployments).times(1));
    }
    let retries = gantry_cluster::retry::retries();

    let outcome = bed.run("v1", STAGES).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    for t in TARGETS {
        for (what, id, times) in &rules[t] {
            assert_eq!(bed.faults(t).hits(id), Some(*times), "{t}: {what} was injected {times} time(s)");
        }
    }
    let injected: u64 = TARGETS.iter().map(|t| rules[t].iter().map(|(_, _, n)| n).sum::<u64>()).sum();
    assert!(gantry_cluster::retry::retries() - retries >= injected, "every injected fault was retried");
    let v1 = digest(&outcome);
    for t in TARGETS {
        assert_eq!(step(&outcome, "promote-to-production", t).outputs["revision"], 1, "{t}");
        assert_eq!(bed.image(t, "fastapi-app").await, Some(format!("{}/app@{v1}", bed.registry[t])), "{t}: stable runs the built digest");
        assert_eq!(bed.image(t, "fastapi-app-canary").await, None, "{t}: the canary was removed");
        let history = bed.helm[t].history("fastapi-app", "default", 0).await.expect("history");
        assert_eq!(history.iter().map(|r| (r.revision, r.status.as_str())).collect::<Vec<_>>(), [(1, "deployed")], "{t}: one clean revision");
    }
    bed.estate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_500_on_deployments_fails_the_canary_and_leaves_both_clusters_as_they_were() {
    let Some(bed) = Bed::start().await else { return };
    let first = bed.run("v1", STAGES).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{:#?}", first.record.stages);
    let v1 = digest(&first);
    let mut before = BTreeMap::new();
    for t in TARGETS {
        before.insert(t, bed.snapshot(t).await);
    }
    assert!(before["gcp"].contains_key("Secret/sh.helm.release.v1.fastapi-app.v1") && before["gcp"].contains_key("Deployment/fastapi-app"), "{:#?}", before["gcp"]);

    // Every write of a Deployment on gcp answers 500 (server-side apply is a
    // patch; a create is covered too), for as long as the rule stays.
    let rule = bed.faults("gcp").add(FaultRule::status(500).verb("create").verb("patch").path("/apis/apps/v1/namespaces/default/deployments").message("admission webhook \"deny.example\" failed")).expect("rule");
    let failed = bed.run("v2", STAGES).await;
    let hits = bed.faults("gcp").hits(&rule);
    bed.faults("gcp").clear();

    assert_eq!(failed.status, RunStatus::Failed, "{:#?}", failed.record.stages);
    assert_eq!(failed.record.failed_stage.as_deref(), Some("deploy-canary"));
    assert_eq!(hits, Some(1 + gantry_cluster::retry::SERVER_ERROR_RETRIES as u64), "the apply and its retries, then the answer");
    assert_eq!(step(&failed, "deploy-canary", "aws").status, StepStatus::Succeeded, "aws took its canary");
    let gcp = step(&failed, "deploy-canary", "gcp");
    let error = gcp.error.as_ref().expect("gcp's error");
    assert!(error.message.contains("500") || error.message.contains("Internal error"), "names the server's error: {error:#?}");
    assert!(error.message.contains("fastapi-app-canary was put back as it was"), "the stage put gcp back: {error:#?}");
    assert_eq!(stage(&failed, "promote-to-production").status, StepStatus::Skipped);

    let rollback = failed.record.on_failure.as_ref().expect("the rollback ran");
    assert_eq!(rollback.status, StepStatus::Succeeded, "{rollback:#?}");
    let undone = |t: &str| rollback.steps.iter().find(|s| s.target.as_deref() == Some(t)).map(|s| s.outputs["undone"].clone());
    assert_eq!(undone("aws"), Some(Value::from(1)), "aws's canary uninstalled by the rollback: {rollback:#?}");
    assert_eq!(undone("gcp"), Some(Value::from(0)), "gcp's failed step recorded nothing to undo: {rollback:#?}");

    for t in TARGETS {
        assert_eq!(bed.snapshot(t).await, before[t], "{t} holds exactly what it held before the run");
        assert_eq!(bed.image(t, "fastapi-app").await, Some(format!("{}/app@{v1}", bed.registry[t])), "{t}: stable untouched");
        assert_eq!(bed.helm[t].status("fastapi-app-canary", "default").await.expect("status"), None, "{t}: no canary release left");
    }
    bed.estate.shutdown().await;
}
