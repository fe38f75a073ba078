//! Helm's `lookup` through [`ClusterLookup`], judged by real Helm: one
//! simulated cluster (controllers off, so nothing changes between the two
//! renders) holds a ConfigMap, a Secret, a Deployment and a few namespaces;
//! a chart looks them up every way Helm's lookup allows (one object, a
//! missing one, a list in a namespace, a cluster-wide list, a namespaced
//! kind with no namespace, an unknown kind, int64 fields through `kindOf`,
//! `%T` and `toYaml`), and gantry's render must equal the render of Helm's
//! Go library (helm-python-sdk's `Config.render`, lookup against the same
//! cluster through the same kubeconfig) byte for byte — nothing is
//! normalised: both read the same stored objects, and list
//! resourceVersions do not move while nothing writes. Failures (unknown
//! group versions, bad apiVersions and names, a refused read) must carry
//! Helm's exact message. The oracle is `GANTRY_HELM_PYTHON`, else
//! /tmp/helmvenv/bin/python; without it these tests fail under `CI` and are
//! skipped (with a message) otherwise. A cluster that stops answering is
//! checked without the oracle: a clear error naming the target and the
//! template, within the lookup's deadline (the test's timeout is a hang guard).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gantry_cluster::{ClusterLookup, Endpoint, KubeBackend, Target};
use gantry_helm::engine::{self, RenderOptions, RenderError};
use gantry_helm::value::Value;
use gantry_runtime::cluster::{ApplyOptions, ClusterBackend};
use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::faults::FaultRule;
use gantry_sim::{kubeconfig, ApiServer, ServerConfig};
use serde_json::json;

const TOKEN: &str = "lookup-admin";
const HANG_GUARD: Duration = Duration::from_secs(120);

/// Renders a chart with lookup against a kubeconfig's cluster; one JSON request on
/// stdin, `{"ok": true, "manifests": …}` or `{"ok": false, "error": …}` on stdout.
const ORACLE: &str = r#"
import json, sys
import helm_python as helm
req = json.load(sys.stdin)
try:
    with helm.Config(kubeconfig_path=req["kubeconfig"], namespace=req["namespace"]) as cfg, helm.Chart.load(req["chart"]) as chart:
        out = cfg.render(chart, req["values"], name=req["release"], namespace=req["namespace"], is_install=True)
    print(json.dumps({"ok": True, "manifests": out}))
except helm.HelmError as e:
    print(json.dumps({"ok": False, "error": str(e)}))
"#;

/// The oracle (see `gantry_helm::oracle`): None when missing and CI unset.
fn oracle_python() -> Option<PathBuf> {
    gantry_helm::oracle::python()
}

struct Cluster {
    server: ApiServer,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    async fn lookup(&self) -> ClusterLookup {
        let target = Target::static_token("sim", Endpoint { url: self.server.url(), ca_pem: Some(self.server.ca_pem().to_string()) }, TOKEN);
        ClusterLookup::new("sim", target.connect().await.expect("connects"), tokio::runtime::Handle::current())
    }
}

/// A cluster with the objects the chart looks up, and its kubeconfig.
async fn cluster(name: &str) -> Cluster {
    let auth = Authenticator::default();
    auth.add_token(TOKEN, Identity::admin("admin"));
    let mut config = ServerConfig::new(name, auth);
    config.controllers = false;
    let server = ApiServer::start(config).await.expect("server starts");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("kubeconfig"), kubeconfig::render(&[server.kubeconfig_entry(TOKEN)]).expect("kubeconfig")).expect("writes");
    let target = Target::static_token("sim", Endpoint { url: server.url(), ca_pem: Some(server.ca_pem().to_string()) }, TOKEN);
    let b = KubeBackend::new("sim", target.connect().await.expect("connects"));
    let objects = [
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "empty"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "apps", "labels": {"tier": "web"}}, "data": {"mode": "fast", "level": "3"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "default"}, "data": {"a": "b"}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "apps"}, "type": "Opaque", "data": {"password": "czNjcmV0"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"}, "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"terminationGracePeriodSeconds": 15, "containers": [
                {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 8080}], "resources": {"limits": {"cpu": "500m"}}}
            ]}}
        }}),
    ];
    for o in objects {
        b.apply(&o, ApplyOptions::default()).await.expect("applies");
    }
    Cluster { server, dir }
}

/// A chart `lk` with these templates, in a fresh directory.
fn chart(templates: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Chart.yaml"), "apiVersion: v2\nname: lk\nversion: 0.1.0\n").expect("writes");
    std::fs::create_dir(dir.path().join("templates")).expect("mkdir");
    for (name, text) in templates {
        std::fs::write(dir.path().join("templates").join(name), text).expect("writes");
    }
    dir
}

/// gantry's render, lookup through `lookup`, on a blocking thread (as the CLI renders).
async fn gantry_render(chart: &Path, values: serde_json::Value, lookup: ClusterLookup) -> Result<BTreeMap<String, String>, RenderError> {
    let chart = chart.to_path_buf();
    let render = tokio::task::spawn_blocking(move || {
        let chart = gantry_helm::chart::load(&chart).expect("chart loads");
        let values = gantry_helm::values::coalesce(&chart, &Value::from(&values)).expect("values");
        let options = RenderOptions { release_name: "r".into(), namespace: "default".into(), lookup: Some(Arc::new(lookup)), ..RenderOptions::default() };
        engine::render(&chart, &values, &options)
    });
    tokio::time::timeout(HANG_GUARD, render).await.expect("hang guard").expect("render thread")
}

/// Real Helm's render against the same cluster; None when the oracle is missing (and CI unset).
async fn helm_render(cluster: &Cluster, chart: &Path, values: serde_json::Value) -> Option<Result<BTreeMap<String, String>, String>> {
    let py = oracle_python()?;
    let request = json!({"kubeconfig": cluster.kubeconfig(), "chart": chart, "values": values, "release": "r", "namespace": "default"});
    let run = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(py)
            .args(["-c", ORACLE])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("oracle starts");
        child.stdin.take().expect("stdin").write_all(request.to_string().as_bytes()).expect("request");
        let out = child.wait_with_output().expect("oracle runs");
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("oracle answer ({e}): {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
        if answer["ok"] == true {
            Ok(serde_json::from_value::<BTreeMap<String, String>>(answer["manifests"].clone()).expect("manifests"))
        } else {
            Err(answer["error"].as_str().unwrap_or_default().to_string())
        }
    });
    Some(tokio::time::timeout(HANG_GUARD, run).await.expect("hang guard").expect("oracle thread"))
}

const OBJECTS: &str = r#"{{- $cm := lookup "v1" "ConfigMap" "apps" "settings" }}
mode: {{ $cm.data.mode }}
labels: {{ $cm.metadata.labels | toJson }}
configmap:
{{ toYaml $cm | indent 2 }}
password: {{ (lookup "v1" "Secret" "apps" "creds").data.password | b64dec }}
secret: {{ lookup "v1" "Secret" "apps" "creds" | toJson }}
missing: {{ lookup "v1" "ConfigMap" "apps" "nope" | toJson }} {{ printf "%T" (lookup "v1" "ConfigMap" "apps" "nope") }}
{{- if not (lookup "v1" "Secret" "apps" "nope") }}
create-it: true
{{- end }}
missing-namespace: {{ lookup "v1" "ConfigMap" "ghost" "settings" | toJson }}
"#;

const LISTS: &str = r#"in-apps:
{{ toYaml (lookup "v1" "ConfigMap" "apps" "") | indent 2 }}
in-empty: {{ lookup "v1" "ConfigMap" "empty" "" | toJson }}
all-configmaps: {{ range (lookup "v1" "ConfigMap" "" "").items }}{{ .metadata.namespace }}/{{ .metadata.name }} {{ end }}
namespaces: {{ range (lookup "v1" "Namespace" "" "").items }}{{ .metadata.name }}={{ .kind }},{{ .apiVersion }} {{ end }}
namespace-ignored: {{ (lookup "v1" "Namespace" "apps" "apps").metadata.name }}
no-namespace-by-name: {{ lookup "v1" "ConfigMap" "" "settings" | toJson }}
list-kind: {{ (lookup "apps/v1" "Deployment" "apps" "").kind }} {{ printf "%T" (lookup "apps/v1" "Deployment" "apps" "").items }}
unknown-kind: {{ lookup "v1" "Gadget" "apps" "x" | toJson }}
unknown-kind-list: {{ (lookup "v1" "Gadget" "" "").items | toJson }} {{ (lookup "v1" "Gadget" "" "").kind }}
unknown-kind-in-group: {{ lookup "apps/v1" "Gadget" "apps" "x" | toJson }}
slash-v1: {{ (lookup "/v1" "ConfigMap" "apps" "settings").metadata.name }}
"#;

const DEPLOYMENT: &str = r#"{{- $d := lookup "apps/v1" "Deployment" "apps" "web" }}
replicas: {{ $d.spec.replicas }} {{ kindOf $d.spec.replicas }} {{ printf "%T %v %d" $d.spec.replicas $d.spec.replicas $d.spec.replicas }}
port: {{ (index (index $d.spec.template.spec.containers 0).ports 0).containerPort | printf "%T" }}
grace: {{ typeOf $d.spec.template.spec.terminationGracePeriodSeconds }} {{ add $d.spec.replicas 1 }} {{ eq $d.spec.replicas 3 }}
generation: {{ kindOf $d.metadata.generation }}
spec:
{{ toYaml $d.spec | indent 2 }}
json: {{ toJson $d.spec.template }}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_render_as_real_helm_renders_them_against_the_same_cluster() {
    let cluster = cluster("lookup-same").await;
    let chart = chart(&[("objects.yaml", OBJECTS), ("lists.yaml", LISTS), ("deployment.yaml", DEPLOYMENT)]);
    let ours = gantry_render(chart.path(), json!({}), cluster.lookup().await).await.expect("gantry renders");
    // What gantry answers stands on its own too (the oracle may be absent).
    let objects = &ours["lk/templates/objects.yaml"];
    assert!(objects.contains("mode: fast\n") && objects.contains("password: s3cret\n") && objects.contains("create-it: true"), "{objects}");
    assert!(objects.contains("missing: {} map[string]interface {}\n"), "{objects}");
    let deployment = &ours["lk/templates/deployment.yaml"];
    assert!(deployment.contains("replicas: 3 int64 int64 3 3\n") && deployment.contains("port: int64\n"), "{deployment}");
    let lists = &ours["lk/templates/lists.yaml"];
    assert!(lists.contains("all-configmaps: apps/settings default/other \n"), "{lists}");
    assert!(lists.contains("unknown-kind: {}\n") && lists.contains("unknown-kind-list: [] APIVersions\n"), "{lists}");

    let Some(helm) = helm_render(&cluster, chart.path(), json!({})).await else { return };
    let helm = helm.expect("Helm renders");
    assert_eq!(ours.keys().collect::<Vec<_>>(), helm.keys().collect::<Vec<_>>());
    for (name, text) in &helm {
        assert_eq!(&ours[name], text, "{name} differs from Helm's");
    }
}

/// One lookup from values, so each failing call is its own render.
const ONE: &str = r#"x: {{ lookup .Values.apiVersion .Values.kind .Values.namespace .Values.name | toJson }}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_lookups_fail_with_helms_message() {
    let cluster = cluster("lookup-errors").await;
    let chart = chart(&[("one.yaml", ONE)]);
    let forbidden = "secrets \"creds\" is forbidden: User \"admin\" cannot get resource \"secrets\" in API group \"\" in the namespace \"apps\"";
    let rule = cluster.server.faults().add(FaultRule::status(403).verb("get").path("/api/v1/namespaces/apps/secrets").message(forbidden)).expect("rule");
    let cases = [
        (json!({"apiVersion": "nope.io/v1", "kind": "X", "namespace": "apps", "name": "x"}), "unable to get apiresource from unstructured: nope.io/v1, Kind=X: the server could not find the requested resource"),
        (json!({"apiVersion": "v2", "kind": "ConfigMap", "namespace": "apps", "name": "x"}), "unable to get apiresource from unstructured: /v2, Kind=ConfigMap: the server could not find the requested resource"),
        (json!({"apiVersion": "a/b/c", "kind": "X", "namespace": "", "name": ""}), "unable to get apiresource from unstructured: /, Kind=X: groupVersion shouldn't be empty"),
        (json!({"apiVersion": "", "kind": "ConfigMap", "namespace": "apps", "name": "x"}), "unable to get apiresource from unstructured: /, Kind=ConfigMap: groupVersion shouldn't be empty"),
        (json!({"apiVersion": "v1", "kind": "ConfigMap", "namespace": "apps", "name": "a/b"}), "invalid resource name \"a/b\": [may not contain '/']"),
        (json!({"apiVersion": "v1", "kind": "ConfigMap", "namespace": "..", "name": "x"}), "invalid namespace \"..\": [may not be '..']"),
        (json!({"apiVersion": "v1", "kind": "Secret", "namespace": "apps", "name": "creds"}), forbidden),
    ];
    let at = "template: lk/templates/one.yaml:1:6: executing \"lk/templates/one.yaml\" at <lookup .Values.apiVersion .Values.kind .Values.namespace .Values.name>: error calling lookup: ";
    for (values, message) in &cases {
        let ours = gantry_render(chart.path(), values.clone(), cluster.lookup().await).await.expect_err("gantry fails");
        assert_eq!(ours.message, format!("{at}{message}"), "{values}");
        if let Some(helm) = helm_render(&cluster, chart.path(), values.clone()).await {
            assert_eq!(helm.expect_err("Helm fails"), ours.message, "{values}");
        }
    }
    assert!(cluster.server.faults().hits(&rule).unwrap_or(0) >= 1, "the refused read reached the cluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_stops_answering_fails_the_render_naming_cluster_and_template() {
    let cluster = cluster("lookup-stall").await;
    let chart = chart(&[("objects.yaml", OBJECTS)]);
    let lookup = cluster.lookup().await.with_timeout(Duration::from_secs(2));
    // Discovery answered, then every read of ConfigMaps stalls far beyond the deadline.
    cluster.server.faults().add(FaultRule::latency(Duration::from_secs(3600)).verb("get").path("/api/v1/namespaces/apps/configmaps")).expect("rule");
    let err = gantry_render(chart.path(), json!({}), lookup).await.expect_err("the render fails");
    assert!(err.message.starts_with("template: lk/templates/objects.yaml:1:"), "{}", err.message);
    assert!(err.message.contains("error calling lookup: the API server of target `sim` did not answer within 2s (lookup of v1 ConfigMap apps/settings)"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_gone_mid_render_fails_it_naming_cluster_and_template() {
    let cluster = cluster("lookup-gone").await;
    let chart = chart(&[("objects.yaml", OBJECTS)]);
    let lookup = cluster.lookup().await.with_timeout(Duration::from_secs(2));
    // Discovery of v1 is cached, then the server goes away: the reads are refused until the deadline.
    lookup.lookup_async("v1", "ConfigMap", "apps", "settings").await.expect("answers while up");
    let Cluster { server, dir: _dir } = cluster;
    server.shutdown().await;
    let err = gantry_render(chart.path(), json!({}), lookup).await.expect_err("the render fails");
    assert!(err.message.starts_with("template: lk/templates/objects.yaml:1:"), "{}", err.message);
    assert!(err.message.contains("error calling lookup: cannot reach the API server of target `sim`: connection refused"), "{}", err.message);
}
