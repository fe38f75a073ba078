//! Strategic merge patches and server-side apply held against the real
//! kubectl: client-side `kubectl apply` (a three-way strategic merge through
//! the last-applied annotation), `kubectl set image`, strategic merge refused
//! for custom kinds. These tests fail (never skip) when `CI` is set and
//! kubectl is missing, and reach nothing but 127.0.0.1.

mod common;

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
    assert_eq!(again["metadata"]["resourceVersion"], d["metadata"]["resourceVersion"]);
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
