//! The simulated API server held against kubectl's typed-client commands and
//! its schema readers: `kubectl create deployment|service|job|ingress|
//! poddisruptionbudget` send protobuf bodies (proven from kubectl's own
//! request log), and the objects the server then holds carry what kubectl
//! set; `kubectl explain` reads the OpenAPI v3 object schemas; client-side
//! apply computes its strategic merge patch from them (no fallback warning,
//! `retainKeys` honoured); `--validate=strict` is answered by the server's
//! strict field validation, naming the unknown field (`warn` by a warning). These tests fail (never
//! skip) when `CI` is set and kubectl is missing; they reach only 127.0.0.1.

use crate::common;

use common::Cluster;
use serde_json::{json, Value};

async fn cluster() -> Option<Cluster> {
    Cluster::start_with(|config| config.controllers = false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_deployment_sends_protobuf_and_the_deployment_holds_what_kubectl_set() {
    let Some(c) = cluster().await else { return };
    let out = c.kubectl(&["create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=8080", "-v=8"]).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stderr.contains("Content-Type: application/vnd.kubernetes.protobuf") && out.stderr.contains("POST https://127.0.0.1"),
        "kubectl sent protobuf:\n{}",
        out.stderr
    );
    let d = c.json(&["get", "deployment", "web"]).await;
    assert_eq!(d["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["spec"]["selector"], json!({"matchLabels": {"app": "web"}}));
    assert_eq!(d["spec"]["template"]["metadata"]["labels"], json!({"app": "web"}));
    let container = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "nginx");
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(container["ports"], json!([{"containerPort": 8080, "protocol": "TCP"}]));
    assert_eq!(container["resources"], json!({}), "an empty struct reads as {{}}, as Go's JSON writes it");
    assert!(container.get("stdin").is_none() && container.get("tty").is_none(), "omitempty zeros are left out: {container}");
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate", "an empty strategy is defaulted");

    // An explicit zero in a pointer field survives the protobuf decoding.
    c.ok(&["create", "deployment", "idle", "--image=nginx", "--replicas=0"]).await;
    assert_eq!(c.json(&["get", "deployment", "idle"]).await["spec"]["replicas"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_pods_jobs_ingresses_and_budgets_from_typed_commands_hold_their_fields() {
    let Some(c) = cluster().await else { return };
    c.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"]).await;
    let svc = c.json(&["get", "service", "web"]).await;
    assert_eq!(svc["spec"]["ports"], json!([{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]));
    assert_eq!(svc["spec"]["selector"], json!({"app": "web"}));
    assert_eq!(svc["spec"]["type"], "ClusterIP");

    c.ok(&["create", "deployment", "api", "--image=nginx", "--port=9000"]).await;
    c.ok(&["expose", "deployment", "api", "--port=80", "--target-port=9000"]).await;
    let exposed = c.json(&["get", "service", "api"]).await;
    assert_eq!(exposed["spec"]["ports"][0]["port"], 80);
    assert_eq!(exposed["spec"]["ports"][0]["targetPort"], 9000);
    assert_eq!(exposed["spec"]["selector"], json!({"app": "api"}));

    c.ok(&["run", "pod1", "--image=nginx", "--labels=tier=front", "--port=80", "--env=MODE=canary"]).await;
    let pod = c.json(&["get", "pod", "pod1"]).await;
    assert_eq!(pod["metadata"]["labels"], json!({"tier": "front"}));
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx");
    assert_eq!(pod["spec"]["containers"][0]["env"], json!([{"name": "MODE", "value": "canary"}]));

    c.ok(&["create", "job", "j", "--image=busybox", "--", "echo", "hi"]).await;
    let job = c.json(&["get", "job", "j"]).await;
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!((container["name"].clone(), container["image"].clone()), (json!("j"), json!("busybox")));
    assert_eq!(container["command"], json!(["echo", "hi"]));
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");

    c.ok(&["create", "ingress", "ing", "--class=nginx", "--rule=foo.com/bar*=svc1:8080"]).await;
    let ing = c.json(&["get", "ingress", "ing"]).await;
    assert_eq!(ing["spec"]["ingressClassName"], "nginx");
    let rule = &ing["spec"]["rules"][0];
    assert_eq!(rule["host"], "foo.com");
    assert_eq!(
        rule["http"]["paths"][0],
        json!({"path": "/bar", "pathType": "Prefix", "backend": {"service": {"name": "svc1", "port": {"number": 8080}}}})
    );

    c.ok(&["create", "poddisruptionbudget", "pdb", "--selector=app=web", "--max-unavailable=25%"]).await;
    let pdb = c.json(&["get", "pdb", "pdb"]).await;
    assert_eq!(pdb["spec"]["maxUnavailable"], "25%", "an IntOrString string");
    assert_eq!(pdb["spec"]["selector"], json!({"matchLabels": {"app": "web"}}));
    c.ok(&["create", "pdb", "pdb0", "--selector=app=web", "--min-available=0"]).await;
    assert_eq!(c.json(&["get", "pdb", "pdb0"]).await["spec"]["minAvailable"], 0, "an IntOrString zero in a pointer");

    c.ok(&["create", "secret", "generic", "creds", "--from-literal=token=s3cr3t"]).await;
    let secret = c.json(&["get", "secret", "creds"]).await;
    assert_eq!(secret["data"]["token"], "czNjcjN0", "bytes come back base64");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_prints_field_types_and_descriptions_from_the_v3_schemas() {
    let Some(c) = cluster().await else { return };
    let replicas = c.ok(&["explain", "deployment.spec.replicas"]).await;
    assert!(replicas.contains("KIND:       Deployment") && replicas.contains("FIELD: replicas <integer>"), "{replicas}");
    assert!(replicas.contains("How many pods the deployment should run"), "{replicas}");
    let containers = c.ok(&["explain", "pod.spec.containers"]).await;
    assert!(containers.contains("FIELD: containers <[]Container>"), "{containers}");
    assert!(containers.contains("The containers of the pod"), "{containers}");
    let fields: Vec<&str> = containers.lines().filter_map(|l| l.strip_prefix("  ")).filter(|l| !l.starts_with(' ')).collect();
    assert!(fields.iter().any(|l| l.starts_with("image\t<string>")), "{containers}");
    assert!(fields.iter().any(|l| l.starts_with("name\t<string> -required-")), "{containers}");
    assert!(fields.iter().any(|l| l.starts_with("ports\t<[]ContainerPort>")), "{containers}");
    // The protobuf OpenAPI v2 document (what kubectl before 1.29 reads) carries the same schemas.
    let v2 = c.ok(&["explain", "pod.spec.containers.ports", "--output=plaintext-openapiv2"]).await;
    assert!(v2.contains("Ports the container exposes") && v2.contains("containerPort\t<integer> -required-"), "{v2}");
        let unknown = c.kubectl(&["explain", "deployment.spec.replicaz"]).await;
    assert!(!unknown.ok && unknown.stderr.contains("replicaz"), "{}", unknown.stderr);
}

const GOOD: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 8080}]
        resources: {limits: {cpu: 500m, memory: 64Mi}}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_validation_names_the_unknown_field_and_passes_a_good_manifest() {
    let Some(c) = cluster().await else { return };
    let bad = c.file("bad.yaml", &GOOD.replace("        image: nginx:1.27\n", "        image: nginx:1.27\n        imagee: typo\n"));
    let out = c.kubectl(&["apply", "--validate=strict", "-f", &bad]).await;
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr.contains(r#"Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.template.spec.containers[0].imagee""#),
        "{}",
        out.stderr
    );
    let ssa = c.kubectl(&["apply", "--server-side", "--validate=strict", "-f", &bad]).await;
    assert!(!ssa.ok && ssa.stderr.contains(r#".spec.template.spec.containers[name="web"].imagee: field not declared in schema"#), "{}", ssa.stderr);
    let create = c.kubectl(&["create", "--validate=true", "-f", &bad]).await;
    assert!(!create.ok && create.stderr.contains(r#"unknown field "spec.template.spec.containers[0].imagee""#), "{}", create.stderr);
    assert!(!c.kubectl(&["get", "deployment", "web"]).await.ok, "nothing was created");

    let good = c.file("good.yaml", GOOD);
    c.ok(&["apply", "--validate=strict", "-f", &good]).await;
    // An update by patch is checked too: the patched object must be clean.
    let out = c.kubectl(&["apply", "--validate=strict", "-f", &bad]).await;
    assert!(!out.ok && out.stderr.contains(r#"unknown field "spec.template.spec.containers[0].imagee""#), "{}", out.stderr);
    // --validate=warn: applied without the unknown field, with the real server's warning.
    let warn = c.kubectl(&["apply", "--validate=warn", "-f", &bad]).await;
    assert!(warn.ok && warn.stderr.contains(r#"Warning: unknown field "spec.template.spec.containers[0].imagee""#), "{}", warn.stderr);
    let held = c.json(&["get", "deployment", "web"]).await;
    assert!(held["spec"]["template"]["spec"]["containers"][0].get("imagee").is_none(), "unknown fields are dropped, as decoding drops them");
    // --validate=false is Ignore: dropped without a word.
    let ignore = c.kubectl(&["create", "--validate=false", "-f", &c.file("other.yaml", &GOOD.replace("name: web\n  labels", "name: other\n  labels").replace("        image: nginx:1.27\n", "        image: nginx:1.27\n        imagee: typo\n"))]).await;
    assert!(ignore.ok && !ignore.stderr.contains("unknown field"), "{}", ignore.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_computes_its_patch_from_the_v3_schemas() {
    let Some(c) = cluster().await else { return };
    let good = c.file("good.yaml", GOOD);
    c.ok(&["apply", "-f", &good]).await;
    let changed = GOOD
        .replace("    type: RollingUpdate\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n", "    type: Recreate\n")
        .replace("      - name: web\n", "      - name: side\n        image: busybox\n      - name: web\n");
    let out = c.kubectl(&["apply", "-f", &c.file("changed.yaml", &changed), "-v=6"]).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(!out.stderr.contains("error calculating patch"), "kubectl fell back from the server's schemas:\n{}", out.stderr);
    let d = c.json(&["get", "deployment", "web"]).await;
    assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}), "retainKeys drops rollingUpdate");
    let names: Vec<&str> = d["spec"]["template"]["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap_or("")).collect();
    assert_eq!(names, ["side", "web"], "containers merge by name, in the applied order");
    assert_eq!(d["spec"]["template"]["spec"]["containers"][1]["resources"]["limits"], json!({"cpu": "500m", "memory": "64Mi"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_carry_object_schemas_with_merge_metadata() {
    let Some(c) = cluster().await else { return };
    let v3: Value = serde_json::from_str(&c.ok(&["get", "--raw", "/openapi/v3/apis/apps/v1"]).await).expect("JSON");
    let schemas = &v3["components"]["schemas"];
    let deploy = &schemas["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(deploy["x-kubernetes-group-version-kind"], json!([{"group": "apps", "version": "v1", "kind": "Deployment"}]));
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
    assert_eq!(schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"]["x-kubernetes-patch-merge-key"], "containerPort");
    let v2: Value = serde_json::from_str(&c.ok(&["get", "--raw", "/openapi/v2"]).await).expect("JSON");
    let spec = &v2["definitions"]["io.k8s.api.apps.v1.DeploymentSpec"];
    assert_eq!(spec["properties"]["replicas"]["type"], "integer");
    assert_eq!(spec["properties"]["template"]["$ref"], "#/definitions/io.k8s.api.core.v1.PodTemplateSpec");
}

/// Strict validation checks patched objects whole, so what the simulated
/// controllers write (status, pods, replica sets, endpoints, events) must fit
/// the served schemas: a later `kubectl apply` would fail on any stray field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_controllers_write_fits_the_served_schemas() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "--port=80"]).await;
    c.ok(&["expose", "deployment", "web", "--port=80"]).await;
    c.ok(&["create", "job", "j", "--image=busybox", "--", "true"]).await;
    let sets = GOOD.replace("kind: Deployment", "kind: StatefulSet").replace("  strategy:\n    type: RollingUpdate\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n", "  serviceName: web\n");
    let daemons = GOOD.replace("kind: Deployment", "kind: DaemonSet").replace("name: web\n  labels", "name: agent\n  labels").replace("  replicas: 2\n  strategy:\n    type: RollingUpdate\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n", "");
    c.ok(&["apply", "-f", &c.file("sts.yaml", &sets), "-f", &c.file("ds.yaml", &daemons)]).await;
    for workload in ["deployment/web", "statefulset/web", "daemonset/agent"] {
        c.ok(&["rollout", "status", workload, "--timeout=60s"]).await;
    }
    c.ok(&["wait", "--for=condition=Complete", "job/j", "--timeout=60s"]).await;
    let kinds = ["deployments", "replicasets", "statefulsets", "daemonsets", "pods", "services", "endpoints", "jobs", "events", "namespaces"];
    for kind in kinds {
        let list = c.json(&["get", kind, "-A"]).await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        assert!(!items.is_empty(), "{kind}: nothing to check");
        for item in items {
            let (api_version, k) = (item["apiVersion"].as_str().unwrap_or(""), item["kind"].as_str().unwrap_or(""));
            let table = gantry_sim::schema::find_api_version(api_version, k).unwrap_or_else(|| panic!("no table for {api_version} {k}"));
            let unknown = gantry_sim::schema::unknown_fields(table.msg, &item);
            assert!(unknown.is_empty(), "{k} {}: fields the schema lacks: {unknown:?}", item["metadata"]["name"]);
        }
    }
    // And kubectl's strict patch of a controller-written object goes through.
    c.ok(&["label", "deployment", "web", "track=stable"]).await;
    c.ok(&["annotate", "pods", "--all", "checked=yes"]).await;
}
