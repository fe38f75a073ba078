//! Schemas as the real API server uses them, held against the real kubectl:
//! a CRD's `openAPIV3Schema` (structural checks on the CRD, pruning,
//! defaulting and validation of its custom resources with the real
//! messages, strict field validation, status and scale subresources,
//! printer columns, `kubectl explain` from the published OpenAPI, apply's
//! list maps from `x-kubernetes-list-map-keys`), and server-side apply's
//! list-map keys for built-in kinds (service and container ports keyed by
//! number and protocol, defaulted TCP) and ownership of defaulted fields.
//! These tests fail (never skip) when `CI` is set and kubectl is missing,
//! and reach nothing but 127.0.0.1.

use crate::common;

use common::Cluster;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas, labelSelectorPath: .status.selector}
    additionalPrinterColumns:
    - {name: Size, type: string, jsonPath: .spec.size}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the widget should be.
            required: [size]
            properties:
              replicas: {type: integer, minimum: 1, maximum: 10, default: 1, description: How many widgets.}
              size: {type: string, enum: [small, large], description: The widget's size.}
              name: {type: string, pattern: '^[a-z]+$'}
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [port, protocol]
                items:
                  type: object
                  required: [port]
                  properties:
                    port: {type: integer}
                    protocol: {type: string, default: TCP}
                    name: {type: string}
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            properties:
              replicas: {type: integer}
              selector: {type: string}
"#;

async fn with_crd() -> Option<Cluster> {
    let c = Cluster::start().await?;
    c.ok(&["apply", "--server-side", "-f", &c.file("crd.yaml", CRD)]).await;
    c.ok(&["wait", "--for", "condition=Established", "crd/widgets.example.com"]).await;
    Some(c)
}

fn widget(spec: &str) -> String {
    format!("apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w1}}\nspec: {spec}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_structural_schema_is_refused_with_the_real_messages() {
    let Some(c) = Cluster::start().await else { return };
    let untyped = CRD.replace("            type: object\n            description: What the widget should be.\n", "            description: What the widget should be.\n");
    let out = c.kubectl(&["apply", "--server-side", "-f", &c.file("bad.yaml", &untyped)]).await;
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr.contains("spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"),
        "{}",
        out.stderr
    );
    let unkeyed = CRD.replace("                    protocol: {type: string, default: TCP}", "                    protocol: {type: string}");
    let out = c.kubectl(&["create", "-f", &c.file("bad2.yaml", &unkeyed)]).await;
    assert!(
        out.stderr.contains("properties[ports].items.properties[protocol].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"),
        "{}",
        out.stderr
    );
    assert!(!c.kubectl(&["get", "crd", "widgets.example.com"]).await.ok, "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_are_pruned_defaulted_and_validated_by_their_schema() {
    let Some(c) = with_crd().await else { return };
    // kubectl asks for Strict by default: unknown fields are refused, named.
    let strict = c.kubectl(&["create", "-f", &c.file("w.yaml", &widget("{size: small, colour: red}"))]).await;
    assert!(!strict.ok);
    assert!(strict.stderr.contains(r#"strict decoding error: unknown field "spec.colour""#), "{}", strict.stderr);
    let applied = c.kubectl(&["apply", "--server-side", "-f", &c.file("w.yaml", &widget("{size: small, colour: red}"))]).await;
    assert!(applied.stderr.contains(".spec.colour: field not declared in schema"), "{}", applied.stderr);

    // Without validation they are pruned, except below preserve-unknown-fields; defaults fill in.
    c.ok(&["create", "--validate=false", "-f", &c.file("w.yaml", &widget("{size: small, colour: red, extra: {any: {thing: 1}}}"))]).await;
    let w = c.json(&["get", "widget", "w1"]).await;
    assert_eq!(w["spec"], json!({"size": "small", "replicas": 1, "extra": {"any": {"thing": 1}}}));

    // Invalid values: 422 with kube-openapi's words.
    let bad = c.kubectl(&["apply", "--server-side", "--force-conflicts", "-f", &c.file("w.yaml", &widget("{size: medium, replicas: three, name: Web}"))]).await;
    assert!(!bad.ok);
    for want in [
        r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#,
        r#"spec.size: Unsupported value: "medium": supported values: "small", "large""#,
        r#"spec.name: Invalid value: "Web": spec.name in body should match '^[a-z]+$'"#,
    ] {
        assert!(bad.stderr.contains(want), "missing {want} in {}", bad.stderr);
    }
    let too_many = c.kubectl(&["patch", "widget", "w1", "--type", "merge", "-p", r#"{"spec":{"replicas":11}}"#]).await;
    assert!(too_many.stderr.contains("spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"), "{}", too_many.stderr);
    let missing = c.kubectl(&["patch", "widget", "w1", "--type", "json", "-p", r#"[{"op":"remove","path":"/spec/size"}]"#]).await;
    assert!(missing.stderr.contains("spec.size: Required value"), "{}", missing.stderr);
    assert_eq!(c.json(&["get", "widget", "w1"]).await["spec"]["replicas"], 1, "nothing invalid was stored");

    // Client-side apply (a JSON merge patch for custom kinds) goes through the same schema.
    c.ok(&["apply", "-f", &c.file("w3.yaml", &widget("{size: large, name: web}").replace("name: w1", "name: w3"))]).await;
    c.ok(&["apply", "-f", &c.file("w3.yaml", &widget("{size: small}").replace("name: w1", "name: w3"))]).await;
    assert_eq!(c.json(&["get", "widget", "w3"]).await["spec"], json!({"size": "small", "replicas": 1}), "name left the file");
    let bad = c.kubectl(&["apply", "-f", &c.file("w3.yaml", &widget("{size: small, replicas: 0}").replace("name: w1", "name: w3"))]).await;
    assert!(bad.stderr.contains("spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printer_columns_scale_status_and_explain_follow_the_crd() {
    let Some(c) = with_crd().await else { return };
    c.ok(&["apply", "--server-side", "-f", &c.file("w.yaml", &widget("{size: large, replicas: 2}"))]).await;
    let table = c.ok(&["get", "widgets"]).await;
    let header: Vec<&str> = table.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["NAME", "SIZE", "REPLICAS", "AGE"], "{table}");
    let row: Vec<&str> = table.lines().nth(1).unwrap_or("").split_whitespace().collect();
    assert_eq!(&row[..3], ["w1", "large", "2"], "{table}");
    // A watch prints the same columns for each change.
    let mut watch = c.command(&c.dir.path().join("config"), &["get", "widgets", "-w"]).spawn().expect("kubectl starts");
    let mut lines = BufReader::new(watch.stdout.take().expect("piped stdout")).lines();
    assert!(next_line(&mut lines).await.starts_with("NAME"));
    assert!(next_line(&mut lines).await.starts_with("w1"));
    c.ok(&["apply", "--server-side", "-f", &c.file("w.yaml", &widget("{size: small, replicas: 2}"))]).await;
    let changed = next_line(&mut lines).await;
    assert!(changed.split_whitespace().take(3).eq(["w1", "small", "2"]), "{changed}");
    watch.kill().await.expect("kubectl stops");

    c.ok(&["scale", "widget", "w1", "--replicas", "4"]).await;
    assert_eq!(c.json(&["get", "wd", "w1"]).await["spec"]["replicas"], 4, "scale writes specReplicasPath");
    let out = c.kubectl(&["scale", "widget", "w1", "--replicas", "40"]).await;
    assert!(out.stderr.contains("should be less than or equal to 10"), "the scaled object is validated: {}", out.stderr);

    // The status subresource owns status: the main resource ignores it, and the other way round.
    c.ok(&["patch", "widget", "w1", "--subresource", "status", "--type", "merge", "-p", r#"{"status":{"replicas":4,"selector":"app=w"},"spec":{"size":"large"}}"#]).await;
    let w = c.json(&["get", "widget", "w1"]).await;
    assert_eq!((w["status"]["replicas"].clone(), w["spec"]["size"].clone()), (json!(4), json!("small")));
    let scale: Value = serde_json::from_str(&c.ok(&["get", "--raw", "/apis/example.com/v1/namespaces/default/widgets/w1/scale"]).await).expect("a Scale");
    assert_eq!(scale["status"], json!({"replicas": 4, "selector": "app=w"}));

    let explained = c.ok(&["explain", "widget.spec"]).await;
    assert!(explained.contains("What the widget should be."), "{explained}");
    assert!(explained.contains("replicas\t<integer>") && explained.contains("How many widgets."), "{explained}");
    assert!(explained.contains("size\t<string>") && explained.contains("-required-"), "{explained}");
    let v2 = c.ok(&["explain", "widget.spec.ports", "--output=plaintext-openapiv2"]).await;
    assert!(v2.contains("port\t<integer>") && v2.contains("protocol\t<string>"), "the v2 document carries the CRD's schema: {v2}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kubectl_minor_on_the_machine_applies_explains_and_prints_custom_resources() {
    let Some(mut c) = with_crd().await else { return };
    let mut minors: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/google-cloud-sdk/bin")
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    minors.retain(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("kubectl.1.")));
    minors.sort();
    for (i, kubectl) in minors.into_iter().enumerate() {
        let version = kubectl.display().to_string();
        c.kubectl = kubectl;
        let name = format!("w{i}");
        c.ok(&["apply", "--server-side", "-f", &c.file("w.yaml", &widget("{size: small}").replace("name: w1", &format!("name: {name}")))]).await;
        let bad = c.kubectl(&["apply", "--server-side", "-f", &c.file("w.yaml", &widget("{size: small, replicas: 0}").replace("name: w1", &format!("name: {name}")))]).await;
        assert!(bad.stderr.contains("should be greater than or equal to 1"), "{version}: {}", bad.stderr);
        let table = c.ok(&["get", "widget", &name]).await;
        assert!(table.starts_with("NAME") && table.contains("SIZE") && table.contains("small"), "{version}: {table}");
        assert!(c.ok(&["explain", "widget.spec.size"]).await.contains("The widget's size."), "{version}");
    }
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line()).await.expect("kubectl printed nothing for a minute");
    line.expect("read").unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_resource_reads_in_every_served_version_each_with_its_schema() {
    let Some(c) = Cluster::start().await else { return };
    let beta = "  - name: v1beta1\n    served: true\n    storage: false\n    deprecated: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}\n";
    let two = CRD.replace("  versions:\n", &format!("  versions:\n{beta}"));
    c.ok(&["apply", "--server-side", "-f", &c.file("crd.yaml", &two)]).await;
    c.ok(&["wait", "--for", "condition=Established", "crd/widgets.example.com"]).await;
    let old = "apiVersion: example.com/v1beta1\nkind: Widget\nmetadata: {name: old}\nspec: {size: tiny}\n";
    c.ok(&["apply", "--server-side", "-f", &c.file("old.yaml", old)]).await;
    let warned = c.kubectl(&["get", "widgets.v1beta1.example.com", "old", "-o", "json"]).await;
    assert!(warned.stderr.contains("Warning: example.com/v1beta1 Widget is deprecated; use example.com/v1 Widget"), "{}", warned.stderr);
    let as_beta: Value = serde_json::from_str(&warned.stdout).expect("JSON");
    assert_eq!((as_beta["apiVersion"].clone(), as_beta["spec"]["size"].clone()), (json!("example.com/v1beta1"), json!("tiny")), "v1beta1's schema allows it");
    let as_v1 = c.json(&["get", "widgets.v1.example.com", "old"]).await;
    assert_eq!(as_v1["apiVersion"], "example.com/v1");
    let listed = c.json(&["get", "widgets.v1.example.com"]).await;
    assert_eq!(listed["items"][0]["apiVersion"], "example.com/v1");
    let bad = c.kubectl(&["apply", "--server-side", "-f", &c.file("new.yaml", &old.replace("v1beta1", "v1"))]).await;
    assert!(bad.stderr.contains("spec.size: Unsupported value: \"tiny\""), "v1 writes are held to v1's schema: {}", bad.stderr);
}

fn fields_of(obj: &Value, manager: &str) -> Value {
    let entries = obj["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    entries.into_iter().find(|m| m["manager"] == manager).map(|m| m["fieldsV1"].clone()).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_merges_custom_list_maps_by_their_schema_keys() {
    let Some(c) = with_crd().await else { return };
    c.ok(&["apply", "--server-side", "--field-manager", "a", "-f", &c.file("w.yaml", &widget("{size: small, ports: [{port: 80, name: web}]}"))]).await;
    c.ok(&["apply", "--server-side", "--field-manager", "b", "-f", &c.file("w2.yaml", &widget("{ports: [{port: 80, protocol: UDP, name: dns}]}"))]).await;
    let w = c.json(&["get", "widget", "w1", "--show-managed-fields"]).await;
    assert_eq!(w["spec"]["ports"], json!([{"port": 80, "protocol": "TCP", "name": "web"}, {"port": 80, "protocol": "UDP", "name": "dns"}]));
    let a = fields_of(&w, "a");
    assert_eq!(a["f:spec"]["f:ports"], json!({"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}}}), "{a}");
    assert!(a["f:spec"].get("f:replicas").is_none(), "a defaulted field is not the applier's: {a}");
    let b = fields_of(&w, "b");
    assert!(b["f:spec"]["f:ports"].get("k:{\"port\":80,\"protocol\":\"UDP\"}").is_some(), "{b}");
}

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata: {name: dns}
spec:
  selector: {app: dns}
  ports:
  - {name: dns-tcp, port: 53}
  - {name: dns-udp, port: 53, protocol: UDP}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_with_53_tcp_and_udp_applies_server_side_keyed_by_port_and_protocol() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["apply", "--server-side", "-f", &c.file("svc.yaml", SERVICE)]).await;
    c.ok(&["apply", "--server-side", "-f", &c.file("svc.yaml", &SERVICE.replace("name: dns-udp", "name: dns-u"))]).await;
    let svc = c.json(&["get", "service", "dns", "--show-managed-fields"]).await;
    let ports: Vec<(Value, Value, Value)> = svc["spec"]["ports"].as_array().unwrap().iter().map(|p| (p["name"].clone(), p["port"].clone(), p["protocol"].clone())).collect();
    assert_eq!(ports, [(json!("dns-tcp"), json!(53), json!("TCP")), (json!("dns-u"), json!(53), json!("UDP"))]);
    let fields = fields_of(&svc, "kubectl");
    let keys: Vec<&String> = fields["f:spec"]["f:ports"].as_object().unwrap().keys().filter(|k| *k != ".").collect();
    assert_eq!(keys, [r#"k:{"port":53,"protocol":"TCP"}"#, r#"k:{"port":53,"protocol":"UDP"}"#]);
    assert!(fields["f:spec"]["f:ports"][r#"k:{"port":53,"protocol":"TCP"}"#].get("f:protocol").is_none(), "TCP was defaulted, not applied: {fields}");
    assert!(fields["f:spec"].get("f:type").is_none() && fields["f:spec"].get("f:sessionAffinity").is_none(), "{fields}");
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaulted_fields_belong_to_an_updater_but_never_to_an_applier() {
    let Some(c) = Cluster::start().await else { return };
    c.ok(&["apply", "--server-side", "-f", &c.file("d.yaml", DEPLOYMENT)]).await;
    let applied = c.json(&["get", "deployment", "web", "--show-managed-fields"]).await;
    assert_eq!(applied["spec"]["progressDeadlineSeconds"], 600, "defaulted");
    let fields = fields_of(&applied, "kubectl");
    let spec = &fields["f:spec"];
    assert!(spec.get("f:progressDeadlineSeconds").is_none() && spec.get("f:replicas").is_none() && spec.get("f:strategy").is_none(), "{fields}");
    let web = &spec["f:template"]["f:spec"]["f:containers"][r#"k:{"name":"web"}"#];
    assert_eq!(web["f:ports"], json!({r#"k:{"containerPort":80,"protocol":"TCP"}"#: {".": {}, "f:containerPort": {}}}), "{fields}");
    assert!(web.get("f:imagePullPolicy").is_none(), "{fields}");

    c.ok(&["create", "-f", &c.file("d2.yaml", &DEPLOYMENT.replace("name: web}", "name: web2}"))]).await;
    let created = c.json(&["get", "deployment", "web2", "--show-managed-fields"]).await;
    let fields = fields_of(&created, "kubectl-create");
    let spec = &fields["f:spec"];
    assert!(spec.get("f:progressDeadlineSeconds").is_some() && spec.get("f:replicas").is_some(), "an update owns what decoding defaulted: {fields}");
    let web = &spec["f:template"]["f:spec"]["f:containers"][r#"k:{"name":"web"}"#];
    assert!(web.get("f:imagePullPolicy").is_some(), "{fields}");
    assert!(web["f:ports"][r#"k:{"containerPort":80,"protocol":"TCP"}"#].get("f:protocol").is_some(), "{fields}");
}

/// A kube-rs client for the cluster, never through a proxy from the environment.
async fn kube_client(c: &Cluster) -> kube::Client {
    let text = gantry_sim::kubeconfig::render(&[c.server.kubeconfig_entry(common::ADMIN)]).expect("kubeconfig renders");
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).expect("kube-rs reads the kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await.expect("kube-rs config");
    config.proxy_url = None;
    kube::Client::try_from(config).expect("kube-rs client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_sees_invalid_custom_resources_as_422_with_causes_and_applies_two_port_services() {
    use k8s_openapi::api::core::v1::Service;
    use kube::api::{Api, DynamicObject, Patch, PatchParams};
    use kube::core::{ApiResource, GroupVersionKind};
    let Some(c) = with_crd().await else { return };
    let client = kube_client(&c).await;
    let guard = std::time::Duration::from_secs(60);

    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("example.com", "v1", "Widget"), "widgets");
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let apply = PatchParams::apply("kube-rs");
    let bad = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "k1"}, "spec": {"size": "small", "replicas": 0}});
    let err = tokio::time::timeout(guard, widgets.patch("k1", &apply, &Patch::Apply(&bad))).await.expect("hang guard").expect_err("invalid");
    let kube::Error::Api(status) = err else { panic!("an API error: {err:?}") };
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    let causes = status.details.expect("details").causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].field, "spec.replicas");
    assert_eq!(causes[0].message, "Invalid value: 0: spec.replicas in body should be greater than or equal to 1");
    let good = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "k1"}, "spec": {"size": "small"}});
    let made = tokio::time::timeout(guard, widgets.patch("k1", &apply, &Patch::Apply(&good))).await.expect("hang guard").expect("valid");
    assert_eq!(made.data["spec"]["replicas"], 1, "defaulted");

    let services: Api<Service> = Api::namespaced(client, "default");
    let svc: Service = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns"},
        "spec": {"selector": {"app": "dns"}, "ports": [{"name": "tcp", "port": 53}, {"name": "udp", "port": 53, "protocol": "UDP"}]}}))
    .expect("a Service");
    let svc = tokio::time::timeout(guard, services.patch("dns", &apply, &Patch::Apply(&svc))).await.expect("hang guard").expect("applied");
    let ports = svc.spec.and_then(|s| s.ports).unwrap_or_default();
    let seen: Vec<(i32, Option<String>)> = ports.iter().map(|p| (p.port, p.protocol.clone())).collect();
    assert_eq!(seen, [(53, Some("TCP".into())), (53, Some("UDP".into()))]);
}
