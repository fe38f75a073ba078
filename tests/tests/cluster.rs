//! A Wasm plugin reaching real (simulated) clusters through the runtime:
//! a pipeline whose two `sim` targets are in-process simulated clusters,
//! connected with gantry-cluster as `gantry run` connects them, and a stage
//! (`fixture-cluster`) that server-side applies, reads back and scales
//! objects on its own target, then reaches for the other target and another
//! namespace — which are `denied`, with the denial in the run log — while
//! the objects it wrote are really on both clusters, owned by `gantry`.

use std::collections::BTreeMap;
use std::sync::Arc;

use gantry_cluster::{KubeBackend, Target};
use gantry_engine::event::{RunStatus, StepStatus};
use gantry_runtime::cluster::{ClusterBackend, ObjectKey};
use gantry_sim::estate::ClusterSpec;
use serde_json::Value;

use crate::common;
use common::{fixture_path, run_pipeline};

const CALLS: &str = r#"
      calls:
        - op: apply
          manifest: { apiVersion: v1, kind: ConfigMap, metadata: { name: from-plugin }, data: { written: by-plugin } }
        - { op: get, api_version: v1, kind: ConfigMap, name: from-plugin }
        - op: apply
          manifest:
            apiVersion: apps/v1
            kind: Deployment
            metadata: { name: web }
            spec:
              replicas: 1
              selector: { matchLabels: { app: web } }
              template: { metadata: { labels: { app: web } }, spec: { containers: [ { name: web, image: "registry.local/web:1" } ] } }
        - { op: scale, api_version: apps/v1, kind: Deployment, name: web, replicas: 3 }
        - { op: get, target: aws, api_version: v1, kind: ConfigMap, name: from-plugin }
        - { op: get, api_version: v1, kind: ConfigMap, name: from-plugin, namespace: kube-system }
        - { op: get, api_version: v1, kind: ConfigMap, name: nothing-here }
"#;

/// The estate's cluster `name`, connected as `gantry run` connects a target.
async fn connect(estate: &gantry_sim::Estate, name: &str) -> Arc<dyn ClusterBackend> {
    let client = Target::kubeconfig(name, Some(estate.kubeconfig.clone()), name).connect().await.expect("connects");
    Arc::new(KubeBackend::new(name, client))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_applies_reads_and_scales_on_its_target_and_is_denied_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let estate = gantry_sim::Estate::start_clusters(&dir.path().join("sim"), &[ClusterSpec::plain("aws"), ClusterSpec::plain("gcp")]).await.expect("estate starts");
    let mut clusters: BTreeMap<String, Arc<dyn ClusterBackend>> = BTreeMap::new();
    for name in ["aws", "gcp"] {
        clusters.insert(name.to_string(), connect(&estate, name).await);
    }
    let clusters = Arc::new(clusters);

    let yaml = format!(
        "name: cluster-calls\nrelease: {{ name: app, chart: ./chart }}\ntargets:\n  aws: {{ sim: {{}} }}\n  gcp: {{ sim: {{}} }}\nstages:\n  - name: touch\n    uses: {}\n    grants: [cluster-read, cluster-write, http-probe]\n    with:{CALLS}",
        fixture_path("cluster")
    );
    let outcome = run_pipeline(dir.path(), &yaml, clusters.clone()).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);

    for step in &outcome.record.stages[0].steps {
        let target = step.target.clone().unwrap();
        assert_eq!(step.status, StepStatus::Succeeded);
        let results = step.outputs["results"].as_array().unwrap();
        let answer = |i: usize| &results[i]["answer"];
        // The apply landed in the stage's namespace, owned by gantry.
        assert_eq!(answer(0)["metadata"]["namespace"], "default", "{}", answer(0));
        assert!(answer(0)["metadata"]["managedFields"].as_array().unwrap().iter().any(|m| m["manager"] == "gantry"), "{}", answer(0));
        assert_eq!(answer(1)["data"]["written"], "by-plugin");
        assert_eq!(answer(3), &Value::from("scaled"));
        // The other target: allowed on aws's own step, denied on gcp's.
        if target == "aws" {
            assert_eq!(answer(4)["data"]["written"], "by-plugin", "{}", answer(4));
        } else {
            assert_eq!(answer(4)["error"], "denied", "{}", answer(4));
            assert!(answer(4)["message"].as_str().unwrap().contains("target `aws` is outside this stage"), "{}", answer(4));
        }
        assert_eq!(answer(5)["error"], "denied", "{}", answer(5));
        assert!(answer(5)["message"].as_str().unwrap().contains("namespace `kube-system`"), "{}", answer(5));
        assert_eq!(answer(6)["error"], "not-found", "{}", answer(6));

        let log: Vec<&str> = step.logs.iter().map(|l| l.message.as_str()).collect();
        assert!(log.iter().any(|l| l.starts_with("denied cluster-read.get") && l.contains("kube-system")), "{log:?}");
        if target == "gcp" {
            assert!(log.iter().any(|l| l.starts_with("denied cluster-read.get") && l.contains("`aws`")), "{log:?}");
        }

        // What the plugin wrote is really on its cluster.
        let backend = &clusters[&target];
        let key = |api: &str, kind: &str, name: &str| ObjectKey { api_version: api.into(), kind: kind.into(), namespace: Some("default".into()), name: name.into() };
        assert_eq!(backend.get(&key("v1", "ConfigMap", "from-plugin")).await.unwrap()["data"]["written"], "by-plugin");
        assert_eq!(backend.get(&key("apps/v1", "Deployment", "web")).await.unwrap()["spec"]["replicas"], 3);
    }
    estate.shutdown().await;
}

/// A stage whose target has no connection gets `unavailable`, not a fake answer.
#[tokio::test]
async fn without_a_connection_a_cluster_call_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: unconnected\nrelease: {{ name: app, chart: ./chart }}\ntargets:\n  aws: {{ sim: {{}} }}\nstages:\n  - name: touch\n    uses: {}\n    grants: [cluster-read, cluster-write, http-probe]\n    with:\n      calls: [ {{ op: get, api_version: v1, kind: ConfigMap, name: x }} ]\n",
        fixture_path("cluster")
    );
    let outcome = run_pipeline(dir.path(), &yaml, Default::default()).await;
    let step = &outcome.record.stages[0].steps[0];
    let answer = &step.outputs["results"][0]["answer"];
    assert_eq!(answer["error"], "unavailable", "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("no cluster connection"), "{answer}");
}

/// A server that answers 503 to every read (unavailable: try again later;
/// a 500 is retried only three times): the backend retries, and the
/// retries stop at the *stage's* deadline (3 s), not the backend's own 30 s
/// default — the plugin gets the backend's `unavailable` answer naming the
/// status and the attempts, not the runtime's `timeout` backstop (which is
/// what a retry loop blind to the stage deadline would run into).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_call_against_a_failing_server_retries_until_the_stage_deadline_then_fails() {
    let dir = tempfile::tempdir().unwrap();
    let estate = gantry_sim::Estate::start_clusters(&dir.path().join("sim"), &[ClusterSpec::plain("aws")]).await.expect("estate starts");
    let backend = connect(&estate, "aws").await;
    // Discovery first, so the fault hits only the plugin's read.
    let key = ObjectKey { api_version: "v1".into(), kind: "ConfigMap".into(), namespace: Some("default".into()), name: "x".into() };
    let _ = backend.get(&key).await;
    let server = estate.cluster("aws").expect("cluster");
    let rule = server.faults().add(gantry_sim::faults::FaultRule::status(503).verb("get")).expect("rule");
    let clusters: BTreeMap<String, Arc<dyn ClusterBackend>> = BTreeMap::from([("aws".to_string(), backend)]);

    let yaml = format!(
        "name: failing-server\nrelease: {{ name: app, chart: ./chart }}\ntargets:\n  aws: {{ sim: {{}} }}\nstages:\n  - name: read\n    uses: {}\n    timeout: 3s\n    grants: [cluster-read, cluster-write, http-probe]\n    with:\n      calls: [ {{ op: get, api_version: v1, kind: ConfigMap, name: x }} ]\n",
        fixture_path("cluster")
    );
    let outcome = run_pipeline(dir.path(), &yaml, Arc::new(clusters)).await;
    let step = &outcome.record.stages[0].steps[0];
    let answer = &step.outputs["results"][0]["answer"];
    assert_eq!(answer["error"], "unavailable", "the backend gave up, not the runtime's backstop: {answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains("gave up at the call's deadline") && message.contains("503"), "{message}");
    assert!(server.faults().hits(&rule).unwrap_or(0) > 1, "retried before giving up");
    estate.shutdown().await;
}
