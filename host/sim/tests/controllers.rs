//! The simulated controllers held against the real kubectl: deployments roll
//! out through ReplicaSets to pods that `kubectl rollout status` and
//! `kubectl wait` accept, template changes roll to a new revision, scaling
//! works, misbehaving pods (annotations from `gantry_sim::controllers::behavior`)
//! fail rollouts the way a real cluster does, and Endpoints list ready pods.
//! Each test starts a cluster in-process on 127.0.0.1 and fails (never skips)
//! when `CI` is set and kubectl is missing. No timed asserts: kubectl's own
//! `--timeout` is the only guard.

use crate::common;

use common::Cluster;
use gantry_sim::controllers::behavior;
use serde_json::Value;

/// Writes a manifest and creates what it holds.
async fn create(c: &Cluster, file: &str, text: &str) {
    c.ok(&["create", "-f", &c.file(file, text)]).await;
}

/// A deployment `name` of `replicas` nginx pods, with extra pod annotations.
fn deployment(name: &str, replicas: u32, annotations: &[(&str, &str)], extra_spec: &str) -> String {
    let annotations: String = annotations.iter().map(|(k, v)| format!("        {k}: \"{v}\"\n")).collect();
    let annotations = if annotations.is_empty() { String::new() } else { format!("      annotations:\n{annotations}") };
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
{extra_spec}  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
{annotations}    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - {{name: http, containerPort: 8080}}
"
    )
}

fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

fn name(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_rolls_out_through_a_replica_set_to_ready_pods() {
    let Some(c) = Cluster::start().await else { return };
    create(&c, "web.yaml", &deployment("web", 2, &[], "")).await;
    let out = c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    assert!(out.contains("successfully rolled out"), "{out}");
    c.ok(&["wait", "--for=condition=Available", "deployment/web", "--timeout=60s"]).await;

    let d = c.json(&["get", "deployment", "web"]).await;
    let status = &d["status"];
    assert_eq!((status["replicas"].as_i64(), status["updatedReplicas"].as_i64(), status["readyReplicas"].as_i64(), status["availableReplicas"].as_i64()), (Some(2), Some(2), Some(2), Some(2)), "{status}");
    assert_eq!(status["observedGeneration"], d["metadata"]["generation"]);
    let progressing = status["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == "Progressing")).cloned().unwrap_or_default();
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable", "{status}");

    let sets = items(&c.json(&["get", "rs", "-l", "app=web"]).await);
    assert_eq!(sets.len(), 1);
    let rs = &sets[0];
    let hash = rs["metadata"]["labels"]["pod-template-hash"].as_str().unwrap_or_default().to_string();
    assert_eq!(name(rs), format!("web-{hash}"));
    assert_eq!(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1");
    let owner = &rs["metadata"]["ownerReferences"][0];
    assert_eq!((owner["kind"].as_str(), owner["name"].as_str(), owner["controller"].as_bool()), (Some("Deployment"), Some("web"), Some(true)));
    assert_eq!(owner["uid"], d["metadata"]["uid"]);
    assert_eq!(rs["status"]["readyReplicas"], 2);

    let pods = items(&c.json(&["get", "pods", "-l", "app=web"]).await);
    assert_eq!(pods.len(), 2);
    for pod in &pods {
        let pod_name = name(pod);
        assert!(pod_name.starts_with(&format!("web-{hash}-")) && pod_name.len() == format!("web-{hash}-").len() + 5, "{pod_name}");
        assert_eq!(pod["metadata"]["labels"]["pod-template-hash"].as_str(), Some(hash.as_str()));
        assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], rs["metadata"]["uid"]);
        assert_eq!(pod["status"]["phase"], "Running");
        assert_eq!(pod["status"]["containerStatuses"][0]["ready"], true);
        assert_eq!(pod["spec"]["nodeName"], "sim-node-1");
    }

    let events = items(&c.json(&["get", "events"]).await);
    let reasons: Vec<(&str, &str)> = events.iter().map(|e| (e["involvedObject"]["kind"].as_str().unwrap_or(""), e["reason"].as_str().unwrap_or(""))).collect();
    for wanted in [("Deployment", "ScalingReplicaSet"), ("ReplicaSet", "SuccessfulCreate"), ("Pod", "Scheduled"), ("Pod", "Started")] {
        assert!(reasons.contains(&wanted), "no {wanted:?} event in {reasons:?}");
    }
    // kubectl prints events with the real server's columns.
    let printed = c.ok(&["get", "events"]).await;
    let header: Vec<&str> = printed.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], "{printed}");
    assert!(printed.lines().any(|l| l.contains("Normal") && l.contains("ScalingReplicaSet") && l.contains("deployment/web")), "{printed}");
    // And the wide columns: where each pod runs, what a deployment runs.
    let wide = c.ok(&["get", "pods", "-l", "app=web", "-o", "wide"]).await;
    let header: Vec<&str> = wide.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header[5..], ["IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"], "{wide}");
    assert!(wide.lines().skip(1).all(|l| l.contains("10.244.") && l.contains("sim-node-1")), "{wide}");
    let wide = c.ok(&["get", "deployment", "web", "-o", "wide"]).await;
    let last: Vec<&str> = wide.lines().nth(1).unwrap_or("").split_whitespace().rev().take(3).collect();
    assert_eq!(last, ["app=web", "nginx:1.27", "web"], "CONTAINERS, IMAGES, SELECTOR: {wide}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_image_rolls_to_a_new_revision_and_scaling_follows() {
    let Some(c) = Cluster::start().await else { return };
    create(&c, "web.yaml", &deployment("web", 2, &[], "")).await;
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    let patch = r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28","ports":[{"name":"http","containerPort":8080}]}]}}}}"#;
    c.ok(&["patch", "deployment", "web", "--type", "merge", "-p", patch]).await;
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;

    let mut sets = items(&c.json(&["get", "rs", "-l", "app=web"]).await);
    sets.sort_by_key(|rs| rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str().unwrap_or("").to_string());
    assert_eq!(sets.len(), 2, "the old set is kept for rollbacks");
    let revisions: Vec<&str> = sets.iter().filter_map(|rs| rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str()).collect();
    assert_eq!(revisions, ["1", "2"]);
    assert_eq!((sets[0]["spec"]["replicas"].as_i64(), sets[1]["spec"]["replicas"].as_i64()), (Some(0), Some(2)));
    assert_eq!(sets[1]["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.28");
    let pods = items(&c.json(&["get", "pods", "-l", "app=web"]).await);
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.28"));

    c.ok(&["scale", "deployment/web", "--replicas=3"]).await;
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    let d = c.json(&["get", "deployment", "web"]).await;
    assert_eq!((d["status"]["readyReplicas"].as_i64(), d["status"]["updatedReplicas"].as_i64()), (Some(3), Some(3)), "{}", d["status"]);
    assert_eq!(items(&c.json(&["get", "pods", "-l", "app=web"]).await).len(), 3);

    c.ok(&["rollout", "undo", "deployment/web"]).await;
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    let sets = items(&c.json(&["get", "rs", "-l", "app=web"]).await);
    let back = sets.iter().find(|rs| rs["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27").cloned().unwrap_or_default();
    assert_eq!(back["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3", "a rollback makes the old set the newest revision");
    assert_eq!(back["spec"]["replicas"], 3);
    let history = c.ok(&["rollout", "history", "deployment/web"]).await;
    assert!(history.contains('2') && history.contains('3'), "{history}");

    c.ok(&["delete", "deployment", "web"]).await;
    c.ok(&["wait", "--for=delete", "pods", "-l", "app=web", "--timeout=60s"]).await;
    assert!(items(&c.json(&["get", "rs", "-l", "app=web"]).await).is_empty(), "replica sets are garbage-collected with their deployment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_looping_deployment_fails_its_rollout_with_restarting_pods() {
    let Some(c) = Cluster::start().await else { return };
    create(&c, "crash.yaml", &deployment("crash", 1, &[(behavior::BEHAVIOR, "crashloop")], "")).await;
    let out = c.kubectl(&["rollout", "status", "deployment/crash", "--timeout=5s"]).await;
    assert!(!out.ok, "a crash-looping rollout does not succeed: {}", out.stdout);
    let pods = items(&c.json(&["get", "pods", "-l", "app=crash"]).await);
    let container = &pods[0]["status"]["containerStatuses"][0];
    assert_eq!(container["state"]["waiting"]["reason"], "CrashLoopBackOff", "{container}");
    assert!(container["restartCount"].as_i64().unwrap_or(0) >= 1, "{container}");
    let table = c.ok(&["get", "pods", "-l", "app=crash"]).await;
    assert!(table.contains("CrashLoopBackOff"), "kubectl's STATUS column shows the waiting reason:\n{table}");
    let events = items(&c.json(&["get", "events", "--field-selector", "type=Warning"]).await);
    assert!(events.iter().any(|e| e["reason"] == "BackOff"), "the kubelet warns of the back-off");
    let described = c.ok(&["describe", "pods", "-l", "app=crash"]).await;
    assert!(described.contains("Back-off restarting failed container"), "kubectl describe shows the pod's events:\n{described}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_with_crash_after_rolls_out_ready_then_crash_loops() {
    let Some(c) = Cluster::start().await else { return };
    create(&c, "later.yaml", &deployment("later", 1, &[(behavior::CRASH_AFTER, "5s")], "")).await;
    // Healthy first: the rollout completes with a ready pod that has not restarted.
    let out = c.ok(&["rollout", "status", "deployment/later", "--timeout=60s"]).await;
    assert!(out.contains("successfully rolled out"), "{out}");
    // Then its container exits and is restarted into a crash loop.
    c.ok(&["wait", "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=CrashLoopBackOff", "pods", "-l", "app=later", "--timeout=60s"]).await;
    let pods = items(&c.json(&["get", "pods", "-l", "app=later"]).await);
    let container = &pods[0]["status"]["containerStatuses"][0];
    assert_eq!(container["ready"], false, "{container}");
    assert!(container["restartCount"].as_i64().unwrap_or(0) >= 1, "{container}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_never_ready_deployment_exceeds_its_progress_deadline() {
    let Some(c) = Cluster::start().await else { return };
    create(&c, "stuck.yaml", &deployment("stuck", 1, &[(behavior::BEHAVIOR, "never-ready")], "  progressDeadlineSeconds: 2\n")).await;
    let out = c.kubectl(&["rollout", "status", "deployment/stuck", "--timeout=60s"]).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("exceeded its progress deadline"), "{}", out.stderr);
    c.ok(&["wait", "--for=jsonpath={.status.conditions[?(@.type==\"Progressing\")].reason}=ProgressDeadlineExceeded", "deployment/stuck", "--timeout=60s"]).await;
    let d = c.json(&["get", "deployment", "stuck"]).await;
    assert_eq!(d["status"]["unavailableReplicas"], 1);
    let pods = items(&c.json(&["get", "pods", "-l", "app=stuck"]).await);
    assert_eq!((pods[0]["status"]["phase"].as_str(), pods[0]["status"]["containerStatuses"][0]["ready"].as_bool()), (Some("Running"), Some(false)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_pull_failures_show_in_pod_status() {
    let Some(c) = Cluster::start().await else { return };
    create(&c, "pull.yaml", &deployment("pull", 1, &[(behavior::BEHAVIOR, "image-pull-backoff")], "")).await;
    c.ok(&["wait", "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ImagePullBackOff", "pods", "-l", "app=pull", "--timeout=60s"]).await;
    let pods = items(&c.json(&["get", "pods", "-l", "app=pull"]).await);
    assert_eq!(pods[0]["status"]["phase"], "Pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_list_ready_pods_on_the_target_port() {
    let Some(c) = Cluster::start().await else { return };
    create(&c, "web.yaml", &deployment("web", 2, &[], "")).await;
    create(&c, "slow.yaml", &deployment("slow", 1, &[(behavior::BEHAVIOR, "never-ready")], "")).await;
    let service = |name: &str| format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  selector: {{app: {name}}}\n  ports:\n  - {{name: web, port: 80, targetPort: http}}\n");
    create(&c, "svc.yaml", &service("web")).await;
    create(&c, "slow-svc.yaml", &service("slow")).await;
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    c.ok(&["wait", "--for=jsonpath={.subsets[0].addresses[1].ip}", "endpoints/web", "--timeout=60s"]).await;

    let pods = items(&c.json(&["get", "pods", "-l", "app=web"]).await);
    let mut pod_ips: Vec<String> = pods.iter().filter_map(|p| p["status"]["podIP"].as_str().map(String::from)).collect();
    pod_ips.sort();
    let ep = c.json(&["get", "endpoints", "web"]).await;
    let mut ips: Vec<String> = ep["subsets"][0]["addresses"].as_array().into_iter().flatten().filter_map(|a| a["ip"].as_str().map(String::from)).collect();
    ips.sort();
    assert_eq!(ips, pod_ips);
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 8080, "the named targetPort resolves to the container port");

    c.ok(&["wait", "--for=jsonpath={.subsets[0].notReadyAddresses[0].targetRef.kind}=Pod", "endpoints/slow", "--timeout=60s"]).await;
    let slow = c.json(&["get", "endpoints", "slow"]).await;
    assert!(slow["subsets"][0]["addresses"].is_null(), "{slow}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_waits_for_its_ready_after_annotation() {
    let Some(c) = Cluster::start().await else { return };
    create(&c, "late.yaml", &deployment("late", 1, &[(behavior::READY_AFTER, "2s")], "")).await;
    c.ok(&["wait", "--for=condition=Available", "deployment/late", "--timeout=60s"]).await;
    let pods = items(&c.json(&["get", "pods", "-l", "app=late"]).await);
    assert_eq!(pods[0]["status"]["conditions"].as_array().map(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")), Some(true));
}

const STATEFULSET: &str = "apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 3
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: postgres:16
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statefulset_creates_ordered_pods_and_rolls_to_a_new_revision() {
    let Some(c) = Cluster::start().await else { return };
    create(&c, "db.yaml", STATEFULSET).await;
    let out = c.ok(&["rollout", "status", "statefulset/db", "--timeout=60s"]).await;
    assert!(out.contains("roll out complete"), "{out}");
    let mut names: Vec<String> = items(&c.json(&["get", "pods", "-l", "app=db"]).await).iter().map(|p| name(p).to_string()).collect();
    names.sort();
    assert_eq!(names, ["db-0", "db-1", "db-2"]);
    let first = c.json(&["get", "statefulset", "db"]).await;
    assert_eq!(first["status"]["readyReplicas"], 3);
    assert_eq!(first["status"]["currentRevision"], first["status"]["updateRevision"]);

    let patch = r#"{"spec":{"template":{"spec":{"containers":[{"name":"db","image":"postgres:17"}]}}}}"#;
    c.ok(&["patch", "statefulset", "db", "--type", "merge", "-p", patch]).await;
    c.ok(&["rollout", "status", "statefulset/db", "--timeout=60s"]).await;
    let rolled = c.json(&["get", "statefulset", "db"]).await;
    assert_ne!(rolled["status"]["updateRevision"], first["status"]["updateRevision"]);
    assert_eq!(rolled["status"]["currentRevision"], rolled["status"]["updateRevision"]);
    let pods = items(&c.json(&["get", "pods", "-l", "app=db"]).await);
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| p["spec"]["containers"][0]["image"] == "postgres:17"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemonset_runs_one_pod_on_the_simulated_node() {
    let Some(c) = Cluster::start().await else { return };
    let ds = STATEFULSET.replace("kind: StatefulSet", "kind: DaemonSet").replace("  serviceName: db\n  replicas: 3\n", "").replace("db", "agent");
    create(&c, "agent.yaml", &ds).await;
    let out = c.ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]).await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let d = c.json(&["get", "daemonset", "agent"]).await;
    assert_eq!((d["status"]["desiredNumberScheduled"].as_i64(), d["status"]["numberReady"].as_i64()), (Some(1), Some(1)));
    let pods = items(&c.json(&["get", "pods", "-l", "app=agent"]).await);
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["spec"]["nodeName"], "sim-node-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_completes_when_its_pods_succeed() {
    let Some(c) = Cluster::start().await else { return };
    let job = "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: busybox:1.36
";
    create(&c, "job.yaml", job).await;
    c.ok(&["wait", "--for=condition=complete", "job/migrate", "--timeout=60s"]).await;
    let j = c.json(&["get", "job", "migrate"]).await;
    assert_eq!(j["status"]["succeeded"], 2);
    assert!(j["status"]["completionTime"].is_string());
    let pods = items(&c.json(&["get", "pods", "-l", "job-name=migrate"]).await);
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Succeeded"));
    assert_eq!(pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
    let table = c.ok(&["get", "jobs"]).await;
    assert!(table.lines().nth(1).is_some_and(|l| l.split_whitespace().take(3).eq(["migrate", "Complete", "2/2"])), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_configures_pod_behaviour_by_image_and_annotations_win() {
    use gantry_sim::controllers::behavior::{Behavior, ImageRule};
    let rules = vec![ImageRule::new("nginx:1.27", Behavior::ImagePullBackOff)];
    let Some(c) = Cluster::start_with(|config| config.pod_images = rules).await else { return };
    create(&c, "web.yaml", &deployment("web", 1, &[], "")).await;
    create(&c, "ok.yaml", &deployment("ok", 1, &[(behavior::BEHAVIOR, "ready")], "")).await;
    c.ok(&["wait", "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ImagePullBackOff", "pods", "-l", "app=web", "--timeout=60s"]).await;
    c.ok(&["rollout", "status", "deployment/ok", "--timeout=60s"]).await;
    let out = c.kubectl(&["rollout", "status", "deployment/web", "--timeout=2s"]).await;
    assert!(!out.ok, "pods that cannot pull their image never roll out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_deployment_rolls_its_new_template_only_when_resumed() {
    let Some(c) = Cluster::start().await else { return };
    create(&c, "web.yaml", &deployment("web", 1, &[], "")).await;
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    c.ok(&["rollout", "pause", "deployment/web"]).await;
    let patch = r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}"#;
    c.ok(&["patch", "deployment", "web", "--type", "merge", "-p", patch]).await;
    c.ok(&["wait", "--for=jsonpath={.status.conditions[?(@.type==\"Progressing\")].reason}=DeploymentPaused", "deployment/web", "--timeout=60s"]).await;
    assert_eq!(items(&c.json(&["get", "rs", "-l", "app=web"]).await).len(), 1, "no new replica set while paused");
    c.ok(&["rollout", "resume", "deployment/web"]).await;
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    let pods = items(&c.json(&["get", "pods", "-l", "app=web"]).await);
    assert!(pods.iter().all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.28"), "resumed, the new template rolls out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_pod_runs_and_becomes_ready() {
    let Some(c) = Cluster::start().await else { return };
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: solo}\nspec:\n  containers:\n  - {name: app, image: busybox:1.36}\n";
    create(&c, "pod.yaml", pod).await;
    c.ok(&["wait", "--for=condition=Ready", "pod/solo", "--timeout=60s"]).await;
    let p = c.json(&["get", "pod", "solo"]).await;
    assert_eq!((p["status"]["phase"].as_str(), p["spec"]["nodeName"].as_str()), (Some("Running"), Some("sim-node-1")));
    assert!(p["status"]["podIP"].as_str().is_some_and(|ip| ip.starts_with("10.244.")), "{}", p["status"]);
    let table = c.ok(&["get", "pod", "solo"]).await;
    assert!(table.lines().nth(1).is_some_and(|l| l.split_whitespace().take(3).eq(["solo", "1/1", "Running"])), "{table}");
}
