//! Strategic merge patches and server-side apply held against the real
//! kubectl: client-side `kubectl apply` (a three-way strategic merge through
//! the last-applied annotation), `kubectl set image`, strategic merge refused
//! for custom kinds, and server-side apply with its field managers and
//! conflicts. These tests fail (never skip) when `CI` is set and
//! kubectl is missing, and reach nothing but 127.0.0.1.

use crate::common;

use common::Cluster;

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        env:
        - {name: MODE, value: canary}
        - {name: DEBUG, value: '1'}
      - name: sidecar
        image: busybox:1
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_twice_merges_the_change_and_drops_what_the_file_dropped() {
    let Some(c) = Cluster::start().await else { return };
    assert!(c.ok(&["apply", "-f", &c.file("d.yaml", DEPLOYMENT)]).await.contains("deployment.apps/web created"));
    // Someone else adds a container env var; the file never mentioned it, so apply keeps it.
    c.ok(&["set", "env", "deployment/web", "-c", "web", "EXTRA=kept"]).await;
    let changed = DEPLOYMENT.replace("replicas: 2", "replicas: 3").replace("nginx:1.27", "nginx:1.28").replace("        - {name: DEBUG, value: '1'}\n", "");
    let out = c.ok(&["apply", "-f", &c.file("d.yaml", &changed)]).await;
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let d = c.json(&["get", "deploy", "web"]).await;
    assert_eq!(d["spec"]["replicas"], 3);
    let containers = d["spec"]["template"]["spec"]["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 2, "{containers:?}");
    assert_eq!(containers[0]["image"], "nginx:1.28");
    assert_eq!(containers[1]["name"], "sidecar");
    let env: Vec<&str> = containers[0]["env"].as_array().expect("env").iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(env, vec!["MODE", "EXTRA"], "DEBUG left the file and goes; EXTRA was never applied and stays");
    // The third apply only restates the order of lists that hold foreign items: nothing changes.
    c.ok(&["apply", "-f", &c.file("d.yaml", &changed)]).await;
    let again = c.json(&["get", "deploy", "web"]).await;
    assert_eq!(again["metadata"]["generation"], d["metadata"]["generation"], "the controllers may write status, nobody wrote spec");
    assert_eq!(again["spec"], d["spec"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_image_patches_one_container_by_name() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("d.yaml", DEPLOYMENT)]).await;
    assert!(c.ok(&["set", "image", "deployment/web", "sidecar=busybox:2"]).await.contains("deployment.apps/web image updated"));
    let d = c.json(&["get", "deploy", "web"]).await;
    let containers = &d["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["image"], "nginx:1.27");
    assert_eq!(containers[1]["image"], "busybox:2");
    assert_eq!(d["metadata"]["generation"], 2);
}

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {name: http, port: 80}
  - {name: https, port: 443}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_service_ports_merge_by_port_and_keep_their_node_ports() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["apply", "-f", &c.file("s.yaml", SERVICE)]).await;
    let before = c.json(&["get", "svc", "web"]).await;
    let changed = SERVICE.replace("  - {name: https, port: 443}\n", "  - {name: admin, port: 9000}\n");
    c.ok(&["apply", "-f", &c.file("s.yaml", &changed)]).await;
    let after = c.json(&["get", "svc", "web"]).await;
    let ports: Vec<i64> = after["spec"]["ports"].as_array().expect("ports").iter().filter_map(|p| p["port"].as_i64()).collect();
    assert_eq!(ports, vec![80, 9000]);
    assert_eq!(after["spec"]["ports"][0]["nodePort"], before["spec"]["ports"][0]["nodePort"], "port 80 keeps its allocation");
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategic_merge_is_unsupported_for_custom_kinds() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("crd.yaml", CRD)]).await;
    c.ok(&["wait", "--for", "condition=Established", "crd/widgets.example.com"]).await;
    c.ok(&["create", "-f", &c.file("w.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n")]).await;
    let refused = c.kubectl(&["patch", "widget", "w1", "--type", "strategic", "-p", r#"{"spec":{"size":4}}"#]).await;
    assert!(!refused.ok, "{}", refused.stdout);
    assert!(refused.stderr.contains("application/strategic-merge-patch+json is not supported"), "{}", refused.stderr);
    c.ok(&["patch", "widget", "w1", "--type", "merge", "-p", r#"{"spec":{"size":4}}"#]).await;
}

fn managers(obj: &serde_json::Value) -> Vec<String> {
    let entries = obj["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    entries.iter().map(|m| format!("{}/{}", m["manager"].as_str().unwrap_or(""), m["operation"].as_str().unwrap_or(""))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_owns_fields_conflicts_with_other_managers_and_force_takes_them() {
    let Some(c) = Cluster::start().await else { return };
    let with_tier = DEPLOYMENT.replace("  labels: {app: web}\nspec:", "  labels: {app: web, tier: front}\nspec:");
    let out = c.ok(&["apply", "--server-side", "-f", &c.file("d.yaml", &with_tier)]).await;
    assert!(out.contains("deployment.apps/web serverside-applied"), "{out}");
    let d = c.json(&["get", "deploy", "web", "--show-managed-fields"]).await;
    assert_eq!(managers(&d), vec!["kubectl/Apply"]);
    let fields = &d["metadata"]["managedFields"][0]["fieldsV1"];
    assert_eq!(fields["f:spec"]["f:replicas"], serde_json::json!({}));
    assert_eq!(fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:image"], serde_json::json!({}));

    c.ok(&["patch", "deploy", "web", "--type", "merge", "-p", r#"{"spec":{"replicas":5}}"#]).await;
    let shown = c.ok(&["get", "deploy", "web", "-o", "yaml", "--show-managed-fields"]).await;
    assert!(shown.contains("manager: kubectl-patch") && shown.contains("operation: Update") && shown.contains("manager: kubectl"), "{shown}");

    let three = with_tier.replace("replicas: 2", "replicas: 3");
    let refused = c.kubectl(&["apply", "--server-side", "-f", &c.file("d.yaml", &three)]).await;
    assert!(!refused.ok, "{}", refused.stdout);
    assert!(refused.stderr.contains(r#"Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: .spec.replicas"#), "{}", refused.stderr);
    assert_eq!(c.json(&["get", "deploy", "web"]).await["spec"]["replicas"], 5);

    // Agreeing with the owner is no conflict; forcing takes the field.
    c.ok(&["apply", "--server-side", "-f", &c.file("d.yaml", &with_tier.replace("replicas: 2", "replicas: 5"))]).await;
    c.ok(&["apply", "--server-side", "--force-conflicts", "-f", &c.file("d.yaml", &three)]).await;
    let d = c.json(&["get", "deploy", "web", "--show-managed-fields"]).await;
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(managers(&d), vec!["kubectl/Apply"], "kubectl-patch owned only replicas, and lost it");

    // A label and a container dropped from the file leave the object.
    let fewer = three.replace("{app: web, tier: front}", "{app: web}").replace("      - name: sidecar\n        image: busybox:1\n", "");
    c.ok(&["apply", "--server-side", "-f", &c.file("d.yaml", &fewer)]).await;
    let d = c.json(&["get", "deploy", "web"]).await;
    assert_eq!(d["metadata"]["labels"], serde_json::json!({"app": "web"}));
    assert_eq!(d["spec"]["template"]["spec"]["containers"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_records_its_manager_and_apply_merges_configmap_data() {
    let Some(c) = Cluster::start().await else { return };
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: canary, level: '1'}\n";
    c.ok(&["create", "-f", &c.file("cm.yaml", cm)]).await;
    c.ok(&["label", "cm", "settings", "team=a"]).await;
    let shown = c.json(&["get", "cm", "settings", "--show-managed-fields"]).await;
    assert_eq!(managers(&shown), vec!["kubectl-create/Update", "kubectl-label/Update"]);
    assert_eq!(shown["metadata"]["managedFields"][0]["fieldsV1"]["f:data"]["f:mode"], serde_json::json!({}));

    let applied = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {extra: x}\n";
    c.ok(&["apply", "--server-side", "--field-manager", "ci", "-f", &c.file("a.yaml", applied)]).await;
    let cm = c.json(&["get", "cm", "settings", "--show-managed-fields"]).await;
    assert_eq!(cm["data"], serde_json::json!({"mode": "canary", "level": "1", "extra": "x"}));
    assert_eq!(managers(&cm), vec!["kubectl-create/Update", "kubectl-label/Update", "ci/Apply"]);
    let plain = c.json(&["get", "cm", "settings"]).await;
    assert!(plain["metadata"].get("managedFields").is_none(), "kubectl hides managedFields unless asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_after_client_side_apply_conflicts_until_kubectl_migrates_ownership() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["apply", "-f", &c.file("d.yaml", DEPLOYMENT)]).await;
    let before = c.json(&["get", "deploy", "web", "--show-managed-fields"]).await;
    assert_eq!(managers(&before), vec!["kubectl-client-side-apply/Update"]);
    let four = DEPLOYMENT.replace("replicas: 2", "replicas: 4");
    let refused = c.kubectl(&["apply", "--server-side", "-f", &c.file("four.yaml", &four)]).await;
    assert!(!refused.ok, "{}", refused.stdout);
    let message = r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#;
    assert!(refused.stderr.contains(message), "{}", refused.stderr);
    // The same values conflict with no one; after that apply kubectl rewrites
    // managedFields so that its server-side manager owns what client-side apply did.
    c.ok(&["apply", "--server-side", "-f", &c.file("d.yaml", DEPLOYMENT)]).await;
    let migrated = c.json(&["get", "deploy", "web", "--show-managed-fields"]).await;
    assert_eq!(managers(&migrated), vec!["kubectl/Apply", "kubectl-last-applied/Apply"], "kubectl-last-applied keeps the annotation");
    c.ok(&["apply", "--server-side", "-f", &c.file("four.yaml", &four)]).await;
    assert_eq!(c.json(&["get", "deploy", "web"]).await["spec"]["replicas"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_scale_owns_replicas_through_the_scale_subresource_under_its_user_agent() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["apply", "--server-side", "-f", &c.file("d.yaml", DEPLOYMENT)]).await;
    c.ok(&["scale", "deploy", "web", "--replicas", "6"]).await;
    let d = c.json(&["get", "deploy", "web", "--show-managed-fields"]).await;
    // kubectl scale names no field manager: the server takes the User-Agent's program name.
    let entries = d["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    let scaler = entries.iter().find(|e| e["operation"] == "Update").cloned().expect("an Update entry");
    assert_eq!(scaler["manager"], "kubectl");
    assert_eq!(scaler["subresource"], "scale");
    assert_eq!(scaler["fieldsV1"], serde_json::json!({"f:spec": {"f:replicas": {}}}));
    let refused = c.kubectl(&["apply", "--server-side", "-f", &c.file("d.yaml", DEPLOYMENT)]).await;
    assert!(refused.stderr.contains(r#"Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas"#), "{}", refused.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_works_for_custom_kinds_and_needs_a_field_manager() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "-f", &c.file("crd.yaml", CRD)]).await;
    c.ok(&["wait", "--for", "condition=Established", "crd/widgets.example.com"]).await;
    let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3, tags: [a, b]}\n";
    c.ok(&["apply", "--server-side", "-f", &c.file("w.yaml", widget)]).await;
    c.ok(&["apply", "--server-side", "-f", &c.file("w.yaml", &widget.replace("size: 3, tags: [a, b]", "tags: [c]"))]).await;
    let w = c.json(&["get", "widget", "w1"]).await;
    assert_eq!(w["spec"], serde_json::json!({"tags": ["c"]}), "lists of custom kinds are atomic; size left the config");
    let nameless = c.kubectl(&["apply", "--server-side", "--field-manager", "", "-f", &c.file("w.yaml", widget)]).await;
    assert!(!nameless.ok, "{}", nameless.stdout);
}
