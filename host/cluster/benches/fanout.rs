//! Fan-out benchmark (issue 4, point 7): connect to 50 simulated clusters
//! and server-side apply a 10-object namespace-scoped manifest set (a
//! namespace-scoped mix: ConfigMaps, a Secret, a ServiceAccount, a Service, a
//! Deployment) to all of them concurrently, through gantry-cluster's
//! `Target::connect` and `KubeBackend::apply`, as `gantry run` would. Prints
//! connect time, apply time, total wall and per-cluster p50/p95; the goal is
//! ≤ 3 s wall on 2 cores. The API servers run on their own tokio runtime
//! (as host/sim/benches/sim.rs does) so the clients' runtime measures only
//! gantry's side. Everything listens on 127.0.0.1. Run with
//! `cargo bench -p gantry-cluster --bench fanout`; this file asserts nothing
//! and must not print credentials.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry_cluster::{Endpoint, KubeBackend, Target};
use gantry_runtime::cluster::{ApplyOptions, ClusterBackend};
use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::{ApiServer, ServerConfig};
use serde_json::{json, Value};

const CLUSTERS: usize = 50;
const TOKEN: &str = "fanout-admin";

/// The 10 objects applied to every cluster, in the order a chart installs them.
fn manifests() -> Vec<Value> {
    let ns = "default";
    let mut out = Vec::new();
    for i in 0..5 {
        out.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("settings-{i}"), "namespace": ns}, "data": {"key": format!("value-{i}"), "mode": "canary"}}));
    }
    out.push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-secret", "namespace": ns}, "type": "Opaque", "stringData": {"password": "bench-only"}}));
    out.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": ns}}));
    out.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "app", "namespace": ns}, "spec": {"selector": {"app": "app"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}));
    out.push(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": ns}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "app"}},
        "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"serviceAccountName": "app", "containers": [{"name": "app", "image": "registry.local/app:1", "ports": [{"name": "http", "containerPort": 8000}]}]}}}}));
    out.push(json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "app", "namespace": ns}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "app"}}}}));
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let servers_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("server runtime");
    let servers: Vec<ApiServer> = servers_rt.block_on(async {
        let mut out = Vec::new();
        for i in 0..CLUSTERS {
            let auth = Authenticator::default();
            auth.add_token(TOKEN, Identity::admin("admin"));
            out.push(ApiServer::start(ServerConfig::new(&format!("fanout-{i}"), auth)).await.expect("server starts"));
        }
        out
    });
    let endpoints: Vec<(String, Endpoint)> = servers.iter().enumerate().map(|(i, s)| (format!("c{i}"), Endpoint { url: s.url(), ca_pem: Some(s.ca_pem().to_string()) })).collect();
    let manifests = Arc::new(manifests());

    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("client runtime");
    let result = client_rt.block_on(async move {
        let wall = Instant::now();
        // Connect to all concurrently.
        let mut connects = tokio::task::JoinSet::new();
        for (name, endpoint) in endpoints {
            connects.spawn(async move {
                let t = Instant::now();
                let client = Target::static_token(&name, endpoint, TOKEN).connect().await.map_err(|e| e.to_string())?;
                Ok::<_, String>((Arc::new(KubeBackend::new(&name, client)), t.elapsed()))
            });
        }
        let mut backends = Vec::new();
        let mut connect_times = Vec::new();
        while let Some(r) = connects.join_next().await {
            let (b, d) = r.map_err(|e| e.to_string())??;
            backends.push(b);
            connect_times.push(d);
        }
        let connect_wall = wall.elapsed();

        // Apply the set to all concurrently; within a cluster, in order.
        let apply_start = Instant::now();
        let mut applies = tokio::task::JoinSet::new();
        for b in backends {
            let manifests = manifests.clone();
            applies.spawn(async move {
                let t = Instant::now();
                for m in manifests.iter() {
                    b.apply(m, ApplyOptions::default()).await.map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(t.elapsed())
            });
        }
        let mut apply_times = Vec::new();
        while let Some(r) = applies.join_next().await {
            apply_times.push(r.map_err(|e| e.to_string())??);
        }
        let apply_wall = apply_start.elapsed();
        Ok::<_, String>((connect_wall, apply_wall, wall.elapsed(), connect_times, apply_times))
    });
    match result {
        Ok((connect_wall, apply_wall, total, mut connects, mut applies)) => {
            connects.sort();
            applies.sort();
            let mut per_cluster: Vec<Duration> = Vec::new();
            per_cluster.extend(connects.iter().zip(applies.iter()).map(|(c, a)| *c + *a));
            per_cluster.sort();
            println!("fan-out: {CLUSTERS} simulated clusters, {} objects each, {} cores", manifests_len(), std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));
            println!("  connect (all, concurrent): {}", ms(connect_wall));
            println!("  apply   (all, concurrent): {}", ms(apply_wall));
            println!("  total wall:                {}  (goal <= 3000 ms: {})", ms(total), if total <= Duration::from_secs(3) { "met" } else { "NOT met" });
            println!("  per-cluster connect p50 {} p95 {}", ms(percentile(&connects, 0.5)), ms(percentile(&connects, 0.95)));
            println!("  per-cluster apply   p50 {} p95 {}", ms(percentile(&applies, 0.5)), ms(percentile(&applies, 0.95)));
        }
        Err(e) => {
            eprintln!("fan-out failed: {e}");
            std::process::exit(1);
        }
    }
    drop(client_rt);
    servers_rt.block_on(async {
        for s in servers {
            s.shutdown().await;
        }
    });
}

fn manifests_len() -> usize {
    manifests().len()
}
