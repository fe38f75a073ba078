//! What the real API server adds to or refuses in objects, held against the
//! real kubectl: Jobs get the selector and pod template labels the job
//! strategy generates from their uid (and a selector not generated, or not
//! selecting the template, is refused with the real validation's words);
//! HorizontalPodAutoscalers are served as autoscaling/v2 and autoscaling/v1
//! from one storage, converted both ways (`kubectl autoscale` writes v1).
//! Missing kubectl fails under CI and skips otherwise (see `common`).

mod common;

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
