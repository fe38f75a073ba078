//! Benchmarks of the simulated API server as kube-rs sees it (issue 3 point
//! 9): GETs per second of one ConfigMap and one Deployment at several
//! concurrency levels, over HTTP/1.1 (kube-rs's own client) and HTTP/2 (the
//! same kube-rs stack over an h2 connector); server-side applies per second;
//! pods created per second as the simulated controllers scale a Deployment
//! from 0 to N until every pod is Ready; and the resident memory of 50
//! clusters holding 5,000 pods. Everything runs in this one process on
//! 127.0.0.1 only: the API servers on a multi-threaded tokio runtime of their
//! own (threads `sim-server`, one worker per core), the kube-rs clients on another.
//!
//! Run: `cargo bench -p gantry-sim --bench sim` (all sections), or name
//! sections: `cargo bench -p gantry-sim --bench sim -- get apply pods memory`.
//! `SIM_BENCH_SECS` sets how long each throughput measurement runs (default 3);
//! `SIM_BENCH_HISTORY` overrides the clusters' watch history (for finding where memory goes).
//! It prints tables; besides rates per second of wall time it reports the CPU
//! time the servers' threads, and the whole process (client and server), spent
//! per operation, which other load on shared cores does not distort: the
//! server's share says what limits the server, the rest is kube-rs and the
//! kernel's loopback TCP. It asserts nothing about speed.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::kubeconfig;
use gantry_sim::{ApiServer, ServerConfig};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::client::ConfigExt;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

const TOKEN: &str = "bench-token";
const CONCURRENCY: [usize; 4] = [1, 4, 16, 64];

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    let sections: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |s: &str| sections.is_empty() || sections.iter().any(|x| x == s);
    if let Ok(which) = std::env::var("SIM_BENCH_CHILD") {
        // A fresh process for the memory measurement, so the other sections' heap does not count.
        let rt = runtime();
        if let Err(e) = rt.block_on(memory_child(&which)) {
            eprintln!("memory benchmark failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    let rt = runtime();
    println!("gantry-sim benchmarks: {} cores, {}s per throughput measurement", cores(), secs().as_secs_f64());
    let result: Result<(), Error> = rt.block_on(async {
        if wanted("get") {
            get_section().await?;
        }
        if wanted("apply") {
            apply_section().await?;
        }
        if wanted("pods") {
            pods_section().await?;
        }
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
    if wanted("memory") {
        memory_section();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime")
}

/// Where the API servers (and their controllers) run: a runtime of their own,
/// its threads named `sim-server`, so their CPU time can be told from the client's.
fn server_runtime() -> &'static tokio::runtime::Runtime {
    static SERVERS: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    SERVERS.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().thread_name("sim-server").enable_all().build().expect("a tokio runtime for the servers")
    })
}

/// CPU time (user and system) of the API servers' threads, from /proc/self/task.
fn server_cpu_time() -> Duration {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Duration::ZERO };
    let mut total = 0.0;
    for task in tasks.flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.starts_with("sim-server") {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
        let fields: Vec<&str> = stat.rsplit_once(") ").map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        total += (field(11) + field(12)) / ticks;
    }
    Duration::from_secs_f64(total)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn secs() -> Duration {
    let s = std::env::var("SIM_BENCH_SECS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(3.0);
    Duration::from_secs_f64(s)
}

async fn start(name: &str, controllers: bool) -> Result<ApiServer, Error> {
    let auth = Authenticator::default();
    auth.add_token(TOKEN, Identity::admin("bench"));
    let mut config = ServerConfig::new(name, auth);
    config.controllers = controllers;
    if let Some(h) = std::env::var("SIM_BENCH_HISTORY").ok().and_then(|h| h.parse().ok()) {
        config.history = h;
    }
    Ok(server_runtime().spawn(ApiServer::start(config)).await??)
}

async fn kube_config(server: &ApiServer) -> Result<Config, Error> {
    let text = kubeconfig::render(&[server.kubeconfig_entry(TOKEN)])?;
    let kc = Kubeconfig::from_yaml(&text)?;
    Ok(Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?)
}

/// kube-rs's own client: HTTP/1.1 over rustls, one pooled connection per concurrent request.
async fn http1_client(server: &ApiServer) -> Result<Client, Error> {
    Ok(Client::try_from(kube_config(server).await?)?)
}

/// The same kube-rs stack (base URI, bearer auth) over an HTTP/2-only
/// connector: every request multiplexed on one TLS connection.
async fn http2_client(server: &ApiServer) -> Result<Client, Error> {
    let config = kube_config(server).await?;
    let tls = config.rustls_client_config()?;
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_only().enable_http2().wrap_connector(http);
    let hyper: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).http2_only(true).build(https);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .map_err(tower::BoxError::from)
        .service(hyper);
    Ok(kube::client::ClientBuilder::new(service, config.default_namespace.clone()).build())
}

/// CPU time this process has used (user and system, every thread), from getrusage.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// What a throughput run measured.
struct Rate {
    /// Operations per second of wall time (shared cores: depends on what else runs).
    per_sec: f64,
    /// CPU time the API server's threads spent per operation, in µs: what
    /// limits a server alone on the cores (µs per op ÷ cores = its ceiling).
    server_us: f64,
    /// CPU time this process (client and server) spent per operation, in µs:
    /// steadier than `per_sec` on a machine others use.
    cpu_us: f64,
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.0} | {:.0} | {:.0}", self.per_sec, self.server_us, self.cpu_us)
    }
}

/// Runs `op` in a loop on `tasks` tasks for the measurement time.
async fn throughput<F, Fut>(tasks: usize, op: F) -> Result<Rate, Error>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send,
{
    let op = Arc::new(op);
    // Warm up: open the connections the tasks will use.
    let warm: Vec<_> = (0..tasks).map(|_| tokio::spawn({ let op = op.clone(); async move { op(0).await } })).collect();
    for w in warm {
        w.await??;
    }
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let (started, cpu, server_cpu) = (Instant::now(), cpu_time(), server_cpu_time());
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (op, done, count) = (op.clone(), done.clone(), count.clone());
            tokio::spawn(async move {
                let mut i = (t as u64) << 32;
                while !done.load(Ordering::Relaxed) {
                    op(i).await?;
                    i += 1;
                    count.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<(), Error>(())
            })
        })
        .collect();
    tokio::time::sleep(secs()).await;
    done.store(true, Ordering::Relaxed);
    for h in handles {
        h.await??;
    }
    let (elapsed, cpu, n) = (started.elapsed(), cpu_time().saturating_sub(cpu), count.load(Ordering::Relaxed).max(1) as f64);
    let server = server_cpu_time().saturating_sub(server_cpu);
    Ok(Rate { per_sec: n / elapsed.as_secs_f64(), server_us: server.as_secs_f64() * 1e6 / n, cpu_us: cpu.as_secs_f64() * 1e6 / n })
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}},
        },
    }))
    .expect("a valid Deployment")
}

async fn get_section() -> Result<(), Error> {
    println!("\n## GET one object (kube-rs, controllers off)\n");
    println!("| object | protocol | tasks | GET/s | server CPU µs/GET | CPU µs/GET (client+server) |");
    println!("|---|---|---:|---:|---:|---:|");
    let server = start("bench-get", false).await?;
    for (protocol, client) in [("HTTP/1.1", http1_client(&server).await?), ("HTTP/2", http2_client(&server).await?)] {
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "bench"}, "data": {"key": "value", "other": "x".repeat(200)}}))?;
        if cms.get_opt("bench").await?.is_none() {
            cms.create(&PostParams::default(), &cm).await?;
        }
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
        if deployments.get_opt("bench").await?.is_none() {
            deployments.create(&PostParams::default(), &deployment("bench", 3)).await?;
        }
        for tasks in CONCURRENCY {
            let api = cms.clone();
            let rate = throughput(tasks, move |_| {
                let api = api.clone();
                async move { api.get("bench").await.map(drop).map_err(Error::from) }
            })
            .await?;
            println!("| ConfigMap | {protocol} | {tasks} | {rate} |");
        }
        for tasks in CONCURRENCY {
            let api = deployments.clone();
            let rate = throughput(tasks, move |_| {
                let api = api.clone();
                async move { api.get("bench").await.map(drop).map_err(Error::from) }
            })
            .await?;
            println!("| Deployment | {protocol} | {tasks} | {rate} |");
        }
    }
    Ok(())
}

async fn apply_section() -> Result<(), Error> {
    println!("\n## Server-side apply of a Deployment, one annotation changed each time (kube-rs HTTP/1.1, controllers off)\n");
    println!("| deployments | tasks | applies/s | server CPU µs/apply | CPU µs/apply (client+server) |");
    println!("|---:|---:|---:|---:|---:|");
    let server = start("bench-apply", false).await?;
    let client = http1_client(&server).await?;
    for (deployments, tasks) in [(1usize, 1usize), (1, 8), (8, 8)] {
        let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
        let rate = throughput(tasks, move |i| {
            let api = api.clone();
            async move {
                let name = format!("apply-{}", (i >> 32) as usize % deployments);
                let mut d = serde_json::to_value(deployment(&name, 2))?;
                d["metadata"]["annotations"] = json!({"bench/iteration": i.to_string()});
                let params = PatchParams::apply("bench").force();
                api.patch(&name, &params, &Patch::Apply(&d)).await?;
                Ok(())
            }
        })
        .await?;
        println!("| {deployments} | {tasks} | {rate} |");
    }
    Ok(())
}

/// Scales a Deployment from 0 to `n` and waits until the controllers have made every pod Ready.
async fn scale_up(client: &Client, name: &str, n: i32) -> Result<(Duration, Duration), Error> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments.create(&PostParams::default(), &deployment(name, 0)).await?;
    let started = Instant::now();
    deployments.patch(name, &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": n}}))).await?;
    let mut created = None;
    loop {
        let d = deployments.get(name).await?;
        let status = d.status.unwrap_or_default();
        if created.is_none() && status.replicas.unwrap_or(0) >= n {
            created = Some(started.elapsed());
        }
        if status.ready_replicas.unwrap_or(0) >= n && status.updated_replicas.unwrap_or(0) >= n {
            let ready = started.elapsed();
            return Ok((created.unwrap_or(ready), ready));
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(format!("{name}: not all {n} pods ready after 10 minutes ({status:?})").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn pods_section() -> Result<(), Error> {
    println!("\n## Pods created per second: a Deployment scaled 0 → N, simulated controllers on, pods ready 500ms after start\n");
    println!("| pods | all created (s) | all Ready (s) | pods/s created | pods/s Ready | server CPU ms per pod |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in [1_000, 5_000] {
        // A fresh cluster for each size, so one's history does not slow the other.
        let server = start("bench-pods", true).await?;
        let client = http1_client(&server).await?;
        let cpu = server_cpu_time();
        let (created, ready) = scale_up(&client, "scale", n).await?;
        let cpu_ms = server_cpu_time().saturating_sub(cpu).as_secs_f64() * 1e3 / f64::from(n);
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let listed = pods.list(&Default::default()).await?.items.len();
        if listed != n as usize {
            return Err(format!("expected {n} pods, listed {listed}").into());
        }
        let (c, r) = (created.as_secs_f64(), ready.as_secs_f64());
        println!("| {n} | {c:.2} | {r:.2} | {:.0} | {:.0} | {cpu_ms:.2} |", f64::from(n) / c, f64::from(n) / r);
        server.shutdown().await;
    }
    Ok(())
}

fn memory_section() {
    println!("\n## Memory: 50 clusters (each its own API server, controllers on), 100 pods each via a Deployment\n");
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("memory benchmark: cannot find this executable: {e}");
            return;
        }
    };
    match std::process::Command::new(exe).env("SIM_BENCH_CHILD", "memory").status() {
        Ok(status) if status.success() => {}
        Ok(status) => eprintln!("memory benchmark failed: {status}"),
        Err(e) => eprintln!("memory benchmark could not start: {e}"),
    }
}

/// `VmRSS` and `VmHWM` of this process from /proc/self/status, in MB.
fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Bytes the allocator has handed out and not had back (glibc's mallinfo2), in MB:
/// the live heap, as against the RSS, which also counts freed memory not yet returned.
fn heap_mb() -> f64 {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let info = unsafe { libc::mallinfo2() };
    (info.uordblks + info.hblkhd) as f64 / (1024.0 * 1024.0)
}

async fn memory_child(_which: &str) -> Result<(), Error> {
    const CLUSTERS: usize = 50;
    const PODS: i32 = 100;
    let (before, _) = rss_mb();
    let started = Instant::now();
    let mut servers = Vec::new();
    for i in 0..CLUSTERS {
        servers.push(start(&format!("bench-{i}"), true).await?);
    }
    let (servers_only, _) = rss_mb();
    let mut clients = Vec::new();
    for server in &servers {
        let client = http1_client(server).await?;
        let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
        api.create(&PostParams::default(), &deployment("web", PODS)).await?;
        clients.push(client);
    }
    let mut pods = 0;
    for client in &clients {
        let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
        loop {
            let status = api.get("web").await?.status.unwrap_or_default();
            if status.ready_replicas.unwrap_or(0) >= PODS {
                pods += PODS;
                break;
            }
            if started.elapsed() > Duration::from_secs(600) {
                return Err(format!("not all pods ready after 10 minutes ({status:?})").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let settle = started.elapsed();
    // Let the last passes finish before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (after, peak) = rss_mb();
    let heap = heap_mb();
    drop(clients);
    println!("| measure | MB |");
    println!("|---|---:|");
    println!("| RSS before any cluster | {before:.0} |");
    println!("| RSS with {CLUSTERS} idle clusters | {servers_only:.0} |");
    println!("| RSS with {CLUSTERS} clusters, {pods} Ready pods | {after:.0} |");
    println!("| growth for the clusters and pods | {:.0} |", after - before);
    println!("| peak RSS (VmHWM) | {peak:.0} |");
    println!("| live heap then (mallinfo2) | {heap:.0} |");
    println!("\n{pods} pods Ready in {CLUSTERS} clusters after {:.1}s", settle.as_secs_f64());
    Ok(())
}
