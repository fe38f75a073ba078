//! A Wasm plugin probing over HTTP through the runtime: a pipeline whose
//! `sim` target is an in-process simulated cluster (connected with
//! gantry-cluster as `gantry run` connects it) and a stage
//! (`fixture-cluster`) that calls `http-probe` on a Service through the API
//! server's proxy (the simulated pods answer as their annotations say) and
//! on a loopback URL its `with.urls` allows (a server this test runs on
//! 127.0.0.1) — and is `denied`, with the denial in the run log, for an
//! unlisted URL, a `..` climb out of the allowed one and another namespace.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry_cluster::{KubeBackend, Target};
use gantry_engine::event::{RunStatus, StepStatus};
use gantry_runtime::cluster::{ApplyOptions, ClusterBackend, ObjectKey};
use gantry_sim::estate::ClusterSpec;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common;
use common::{fixture_path, run_pipeline};

/// A loopback HTTP/1.1 server answering every request `200 ready` and recording request lines.
async fn loopback_server() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&got).lines().next().unwrap_or_default().to_string();
                record.lock().unwrap().push(line);
                let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nx-internal: hidden\r\nconnection: close\r\n\r\nready").await;
            });
        }
    });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_probes_a_service_and_an_allowed_url_and_is_denied_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let estate = gantry_sim::Estate::start_clusters(&dir.path().join("sim"), &[ClusterSpec::plain("aws")]).await.expect("estate starts");
    let client = Target::kubeconfig("aws", Some(estate.kubeconfig.clone()), "aws").connect().await.expect("connects");
    let backend = Arc::new(KubeBackend::new("aws", client));

    // A Service whose pods answer /health with a body, after a delay.
    let annotations = json!({"sim.gantry.dev/ready-after": "0s", "sim.gantry.dev/http-paths": r#"{"/health": {"status": 200, "body": "healthy"}}"#, "sim.gantry.dev/http-latency": "100ms"});
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}, "annotations": annotations}, "spec": {"containers": [{"name": "web", "image": "registry.local/web:1", "ports": [{"name": "http", "containerPort": 8000}]}]}}}});
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}});
    backend.apply(&deployment, ApplyOptions::default()).await.unwrap();
    backend.apply(&service, ApplyOptions::default()).await.unwrap();
    let ep = ObjectKey { api_version: "v1".into(), kind: "Endpoints".into(), namespace: Some("default".into()), name: "web".into() };
    let guard = Instant::now() + Duration::from_secs(60);
    while backend.get(&ep).await.ok().and_then(|e| e["subsets"][0]["addresses"].as_array().map(|a| !a.is_empty())) != Some(true) {
        assert!(Instant::now() < guard, "the service never had a ready endpoint");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (port, seen) = loopback_server().await;
    let allowed = format!("http://127.0.0.1:{port}/app");
    let mut clusters: BTreeMap<String, Arc<dyn ClusterBackend>> = BTreeMap::new();
    clusters.insert("aws".into(), backend.clone());
    let calls = format!(
        r#"
      urls: ["{allowed}"]
      calls:
        - {{ op: probe, service: web, port: http, path: /health }}
        - {{ op: probe, url: "{allowed}", path: /ready }}
        - {{ op: probe, url: "http://127.0.0.1:{port}/admin", path: / }}
        - {{ op: probe, url: "{allowed}", path: /../admin }}
        - {{ op: probe, service: web, port: http, namespace: kube-system, path: /health }}
        - {{ op: probe, service: web, port: http, path: /health, timeout_ms: 10 }}
"#
    );
    let yaml = format!(
        "name: probe-calls\nrelease: {{ name: app, chart: ./chart }}\ntargets:\n  aws: {{ sim: {{}} }}\nstages:\n  - name: check\n    uses: {}\n    grants: [cluster-read, cluster-write, http-probe]\n    with:{calls}",
        fixture_path("cluster")
    );
    let outcome = run_pipeline(dir.path(), &yaml, Arc::new(clusters)).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let step = &outcome.record.stages[0].steps[0];
    assert_eq!(step.status, StepStatus::Succeeded);
    let results = step.outputs["results"].as_array().unwrap();
    let answer = |i: usize| &results[i]["answer"];

    // Through the service proxy: the pod's answer, and its delay in the host's measurement.
    assert_eq!(answer(0)["status"], 200, "{}", answer(0));
    assert_eq!(answer(0)["body"], "healthy", "{}", answer(0));
    assert!(answer(0)["latency_ms"].as_u64().unwrap() >= 100, "{}", answer(0));
    // The allowed URL, with the call's path; only the headers that matter come back.
    assert_eq!(answer(1)["status"], 200, "{}", answer(1));
    assert_eq!(answer(1)["body"], "ready", "{}", answer(1));
    assert_eq!(answer(1)["headers"], json!([["content-type", "text/plain"], ["content-length", "5"]]), "{}", answer(1));
    // Unlisted URLs and another namespace are denied, and nothing was sent for them.
    for i in [2, 3, 4] {
        assert_eq!(answer(i)["error"], "denied", "{i}: {}", answer(i));
    }
    assert!(answer(2)["message"].as_str().unwrap().contains("/admin"), "{}", answer(2));
    assert!(answer(4)["message"].as_str().unwrap().contains("namespace `kube-system`"), "{}", answer(4));
    assert_eq!(*seen.lock().unwrap(), vec!["GET /app/ready HTTP/1.1".to_string()]);
    // The probe's own timeout, shorter than the pod's delay.
    assert_eq!(answer(5)["error"], "timeout", "{}", answer(5));

    let log: Vec<&str> = step.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(log.iter().filter(|l| l.starts_with("denied http-probe.get")).count(), 3, "{log:?}");
    assert!(log.iter().any(|l| l.starts_with("denied http-probe.get") && l.contains("/admin")), "{log:?}");
    estate.shutdown().await;
}
