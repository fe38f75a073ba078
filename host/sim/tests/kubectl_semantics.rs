//! What the real API server adds to or refuses in objects, held against the
//! real kubectl: Jobs get the selector and pod template labels the job
//! strategy generates from their uid (and a selector not generated, or not
//! selecting the template, is refused with the real validation's words);
//! HorizontalPodAutoscalers are served as autoscaling/v2 and autoscaling/v1
//! from one storage, converted both ways (`kubectl autoscale` writes v1);
//! `kubectl get --chunk-size` pages a list through continue tokens.
//! Missing kubectl fails under CI and skips otherwise (see `common`).

use crate::common;

use common::Cluster;
use serde_json::{json, Value};

#[tokio::test]
async fn a_job_gets_the_generated_selector_and_labels_and_a_mismatched_selector_is_refused() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "job", "pi", "--image=busybox", "--", "true"]).await;
    let job: Value = serde_yaml::from_str(&c.ok(&["get", "job", "pi", "-o", "yaml"]).await).expect("kubectl prints YAML");
    let uid = job["metadata"]["uid"].as_str().expect("a uid").to_string();
    assert_eq!(job["spec"]["selector"], json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}));
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"],
        json!({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "pi", "controller-uid": uid, "job-name": "pi"})
    );
    assert!(job["spec"].get("manualSelector").is_none(), "not set by the server");
    // The controller's pods come from that template and are found by that selector.
    c.ok(&["wait", "--for=condition=complete", "job/pi", "--timeout=60s"]).await;
    let pods: Value = c.json(&["get", "pods", "-l", &format!("batch.kubernetes.io/controller-uid={uid}")]).await;
    let pod = &pods["items"][0];
    assert_eq!(pod["metadata"]["labels"]["job-name"], "pi");
    assert_eq!(pod["metadata"]["labels"]["controller-uid"], uid.as_str());
    let out = c.kubectl(&["patch", "job", "pi", "--type=merge", "-p", r#"{"spec":{"selector":{"matchLabels":{"job-name":"pi"}}}}"#]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"batch.kubernetes.io/controller-uid\":")
            && out.stderr.contains("\"job-name\":\"pi\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"),
        "a job's selector is immutable: {}",
        out.stderr
    );

    let mismatched = "apiVersion: batch/v1
kind: Job
metadata:
  name: odd
spec:
  selector:
    matchLabels:
      app: other
  template:
    metadata:
      labels:
        app: odd
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
";
    let out = c.kubectl(&["create", "-f", &c.file("odd.yaml", mismatched)]).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("The Job \"odd\" is invalid: "), "{}", out.stderr);
    assert!(
        out.stderr.contains("* spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"other\", \"batch.kubernetes.io/controller-uid\":\""),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated"), "{}", out.stderr);
    assert!(
        out.stderr.contains("* spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"odd\", \"batch.kubernetes.io/controller-uid\":\"")
            && out.stderr.contains("\"job-name\":\"odd\"}: `selector` does not match template `labels`"),
        "{}",
        out.stderr
    );
    let manual = mismatched.replace("spec:\n  selector:", "spec:\n  manualSelector: true\n  selector:");
    let out = c.kubectl(&["create", "-f", &c.file("manual.yaml", &manual)]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("The Job \"odd\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"odd\"}: `selector` does not match template `labels`"),
        "{}",
        out.stderr
    );
    let fixed = manual.replace("app: other", "app: odd");
    c.ok(&["create", "-f", &c.file("fixed.yaml", &fixed)]).await;
    let job = c.json(&["get", "job", "odd"]).await;
    assert_eq!(job["spec"]["selector"], json!({"matchLabels": {"app": "odd"}}), "a manual selector is kept");
    assert_eq!(job["spec"]["template"]["metadata"]["labels"], json!({"app": "odd"}), "and nothing is generated");
    c.ok(&["wait", "--for=condition=complete", "job/odd", "--timeout=60s"]).await;
}

#[tokio::test]
async fn kubectl_autoscale_writes_v1_and_both_versions_read_one_object() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "deployment", "web", "--image=nginx:1.27", "--replicas=2"]).await;
    c.ok(&["autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu-percent=80"]).await;

    c.ok(&["get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "yaml", "-v=6"]).await;
    c.ok(&["api-resources", "--api-group=autoscaling", "-v=6"]).await;
    let v1: Value = serde_yaml::from_str(&c.ok(&["get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "yaml"]).await).unwrap();
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"], json!({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 80}));
    assert_eq!(v1["status"], json!({"currentReplicas": 0, "desiredReplicas": 0}));
    let v2: Value = serde_yaml::from_str(&c.ok(&["get", "horizontalpodautoscalers.v2.autoscaling", "web", "-o", "yaml"]).await).unwrap();
    assert_eq!(v2["apiVersion"], "autoscaling/v2");
    assert_eq!(v2["spec"]["metrics"], json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]));
    assert_eq!((v2["spec"]["minReplicas"].as_i64(), v2["spec"]["maxReplicas"].as_i64()), (Some(2), Some(5)));
    assert_eq!(v1["metadata"]["uid"], v2["metadata"]["uid"], "one object");
    assert_eq!(v1["metadata"]["resourceVersion"], v2["metadata"]["resourceVersion"]);
    let shown: Value = serde_yaml::from_str(&c.ok(&["get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "yaml", "--show-managed-fields"]).await).unwrap();
    let fields = shown["metadata"]["managedFields"][0].clone();
    assert_eq!((fields["manager"].as_str(), fields["apiVersion"].as_str()), (Some("kubectl-autoscale"), Some("autoscaling/v1")), "recorded in the version written");

    // The preferred version is v2; both are discovered.
    let group: Value = serde_json::from_str(&c.ok(&["get", "--raw", "/apis/autoscaling"]).await).unwrap();
    assert_eq!(group["preferredVersion"]["version"], "v2");
    let versions: Vec<&str> = group["versions"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["v2", "v1"]);

    // `kubectl get hpa` prints the real columns.
    let table = c.ok(&["get", "hpa"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..7], ["web", "Deployment/web", "cpu:", "<unknown>/80%", "2", "5", "0"]);

    // What v1 cannot say, written through v2, reaches v1 in the annotations and survives a v1 round trip.
    let patch = r#"{"spec":{"metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":70}}},{"type":"Resource","resource":{"name":"memory","target":{"type":"AverageValue","averageValue":"500Mi"}}}]}}"#;
    c.ok(&["patch", "horizontalpodautoscalers.v2.autoscaling", "web", "--type=merge", "-p", patch]).await;
    let v1 = c.json(&["get", "horizontalpodautoscalers.v1.autoscaling", "web"]).await;
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
    assert_eq!(
        v1["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/metrics"],
        r#"[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"500Mi"}}]"#
    );
    c.ok(&["patch", "horizontalpodautoscalers.v1.autoscaling", "web", "--type=merge", "-p", r#"{"spec":{"maxReplicas":7}}"#]).await;
    let v2 = c.json(&["get", "horizontalpodautoscalers.v2.autoscaling", "web"]).await;
    assert_eq!(v2["spec"]["maxReplicas"], 7);
    assert_eq!(v2["spec"]["metrics"].as_array().map(Vec::len), Some(2), "the memory metric survived a write through v1: {}", v2["spec"]);
    assert!(v2["metadata"].get("annotations").is_none_or(|a| a.get("autoscaling.alpha.kubernetes.io/metrics").is_none()), "not stored as an annotation");

    // A v1 manifest applied (client-side, then changed) goes through v1 both times.
    let manifest = "apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: api
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  maxReplicas: 4
  targetCPUUtilizationPercentage: 60
";
    c.ok(&["apply", "-f", &c.file("api.yaml", manifest)]).await;
    c.ok(&["apply", "-f", &c.file("api.yaml", &manifest.replace("60", "65"))]).await;
    let api = c.json(&["get", "horizontalpodautoscalers.v2.autoscaling", "api"]).await;
    assert_eq!(api["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 65);
    assert_eq!(api["spec"]["minReplicas"], 1, "v1's default");

    // A watch through v1 sees v1 objects, the change made through v2 included.
    let mut watch = c.command(&c.dir.path().join("config"), &["get", "horizontalpodautoscalers.v1.autoscaling", "web", "-w", "-o", "json", "--output-watch-events"]);
    let mut child = watch.spawn().expect("kubectl watch starts");
    let mut stdout = child.stdout.take().expect("piped");
    let mut seen = String::new();
    read_until("\"ADDED\"", &mut seen, &mut stdout).await;
    c.ok(&["patch", "horizontalpodautoscalers.v2.autoscaling", "web", "--type=merge", "-p", r#"{"spec":{"minReplicas":3}}"#]).await;
    read_until("\"MODIFIED\"", &mut seen, &mut stdout).await;
    read_until("\"minReplicas\":3", &mut seen, &mut stdout).await;
    for line in seen.lines() {
        let event: Value = serde_json::from_str(line).expect("one JSON watch event a line");
        assert_eq!(event["object"]["apiVersion"], "autoscaling/v1", "{line}");
    }
    let _ = child.kill().await;
}

/// Reads a kubectl watch's output into `seen` until it contains `want`.
async fn read_until(want: &str, seen: &mut String, stdout: &mut tokio::process::ChildStdout) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    while !seen.contains(want) {
        let read = tokio::time::timeout(std::time::Duration::from_secs(60), stdout.read(&mut buf)).await;
        let n = read.unwrap_or_else(|_| panic!("hang guard: waiting for {want} in {seen:?}")).expect("reads");
        assert!(n > 0, "the watch ended early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

#[tokio::test]
async fn kubectl_pages_a_list_chunk_by_chunk_through_continue_tokens() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "namespace", "chunks"]).await;
    for name in ["a", "b", "c"] {
        c.ok(&["-n", "chunks", "create", "configmap", name, "--from-literal=k=v"]).await;
    }
    let out = c.kubectl(&["-n", "chunks", "get", "configmaps", "--chunk-size=1", "-v=6"]).await;
    assert!(out.ok, "{}", out.stderr);
    let names: Vec<&str> = out.stdout.lines().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let continued = out.stderr.lines().filter(|l| l.contains("limit=1") && l.contains("continue=")).count();
    assert_eq!(continued, 2, "two more chunks, each asked for with the previous one's token: {}", out.stderr);
}
