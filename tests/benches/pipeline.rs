//! The whole pipeline on the simulator with no wait (issue 9, point 10):
//! build (daemonless, pushed to a real docker-registry) → scan
//! (gantry-scan, `builtin:policy-default`) → deploy-canary
//! (`builtin:helm-deploy` through gantry-release) → health-check-canary
//! (`builtin:health-http`) → wait-for-canary (`builtin:canary-analysis`, one
//! 100 ms interval: the shortest wait) → promote → health-check-production, on 2 and on 20
//! simulated clusters, run as `gantry run` runs it (the engine with the
//! same backends). Per run: wall time and the process's CPU (getrusage,
//! user+sys), split into the simulator's threads (its own tokio runtime,
//! read from /proc/self/task/*/schedstat) and the rest — the host. Per
//! stage: wall time, the time spent waiting on cluster, Helm, registry and
//! scanner calls (`gantry_runtime::timing`: the backends wrapped in `Timed`,
//! busy time counted once however many targets call at once), and the
//! difference, the host's own overhead (the goal: ≤ 5 ms per stage
//! beyond cluster and registry latency). Medians over the runs; one
//! unmeasured run first fills the component cache and installs stable.
//!
//! Run: `cargo bench -p gantry-tests --bench pipeline` (release profile);
//! `GANTRY_BENCH_RUNS=N` runs each size N times (default 5). Needs
//! `docker-registry` on PATH (skipped without it, failed under `CI`).
//! Nothing here asserts on time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gantry_cluster::{KubeBackend, Target};
use gantry_engine::event::{Event, EventSink, RunStatus};
use gantry_engine::{RunOptions, Vars};
use gantry_registry::backend::RegistryBackend;
use gantry_registry::testing::registry::{DockerRegistry, RegistryAuth};
use gantry_registry::{Client, StaticCredentials};
use gantry_release::{Driver, ReleasesBackend};
use gantry_runtime::timing::{self, Meter, Reading};
use gantry_runtime::{ClusterBackend, HelmBackend, ImageBackend, Runtime, RuntimeConfig, ScanBackend};
use gantry_sim::estate::ClusterSpec;
use tokio_util::sync::CancellationToken;

/// The stages measured, in order: the request's seven, the wait at its
/// shortest (one interval of 100 ms, the least `--wait` allows), without a
/// metrics provider (the judge goes on health), so the wait costs a health
/// re-check and one `analyze`. The canary stage waits for its pods (`wait:
/// true`; by default it leaves that to the health check, whose 200 ms
/// interval would then be slept while the pods start and show as its host
/// time), so the health checks measure one evaluation each.
const STAGES: &str = "  - { name: build, uses: builtin:build, with: { backend: daemonless } }
  - { name: scan, uses: builtin:scan, with: { policy: \"builtin:policy-default\" } }
  - { name: deploy-canary, uses: builtin:helm-deploy, with: { track: canary, wait: true, timeout: 2m } }
  - { name: health-check-canary, uses: builtin:health-http, with: { interval: 200ms } }
  - { name: wait-for-canary, uses: builtin:canary-analysis, with: { duration: 100ms, interval: 100ms } }
  - { name: promote-to-production, uses: builtin:helm-deploy, with: { track: stable, timeout: 2m } }
  - { name: health-check-production, uses: builtin:health-http, with: { interval: 200ms } }
";

const STAGE_NAMES: [&str; 7] = ["build", "scan", "deploy-canary", "health-check-canary", "wait-for-canary", "promote-to-production", "health-check-production"];

fn client() -> Client {
    Client::new(Arc::new(StaticCredentials::new()))
}

/// The process's CPU time (user + system), from getrusage.
fn process_cpu() -> Duration {
    // SAFETY: getrusage writes one rusage into the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU time of this process's threads named `name` (their on-CPU time from schedstat).
fn threads_cpu(name: &str) -> Duration {
    let mut total = Duration::ZERO;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return total };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        if let Some(ns) = stat.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()) {
            total += Duration::from_nanos(ns);
        }
    }
    total
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs.get(xs.len() / 2).copied().unwrap_or_default()
}

/// One size of the estate, connected as `gantry run` connects it.
struct Setup {
    _sim: tokio::runtime::Runtime,
    estate: Option<gantry_sim::Estate>,
    targets: Vec<String>,
    clusters: gantry_runtime::Clusters,
    helm: gantry_runtime::HelmBackends,
    runtime: Arc<Runtime>,
    dir: tempfile::TempDir,
    registry: String,
}

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../helm/fastapi-app").canonicalize().expect("helm/fastapi-app exists")
}

impl Setup {
    fn start(rt: &tokio::runtime::Runtime, n: usize, registry: &str) -> Setup {
        // The simulator on threads of its own, named so their CPU can be told apart.
        let sim = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sim")
            .thread_keep_alive(Duration::from_secs(3600))
            .enable_all()
            .build()
            .expect("the simulator's runtime");
        let dir = tempfile::tempdir().expect("a temp dir");
        let targets: Vec<String> = (1..=n).map(|i| format!("c{i:02}")).collect();
        let specs: Vec<ClusterSpec> = targets.iter().map(|t| ClusterSpec::plain(t)).collect();
        let estate = sim.block_on(gantry_sim::Estate::start_clusters(&dir.path().join("sim"), &specs)).expect("the estate starts");
        let kubeconfig = estate.kubeconfig.clone();
        let (clusters, helm) = rt.block_on(async {
            let (mut clusters, mut helm) = (BTreeMap::new(), BTreeMap::new());
            for t in &targets {
                let client = Target::kubeconfig(t, Some(kubeconfig.clone()), t).connect().await.expect("connects");
                let c: Arc<dyn ClusterBackend> = Arc::new(KubeBackend::new(t, client.clone()));
                let h: Arc<dyn HelmBackend> = Arc::new(ReleasesBackend::new(t, client, Driver::Secret, &chart()));
                clusters.insert(t.clone(), c);
                helm.insert(t.clone(), h);
            }
            (Arc::new(clusters), Arc::new(helm))
        });
        let runtime = Arc::new(Runtime::new(RuntimeConfig { cache_dir: Some(dir.path().join("cache")) }).expect("the runtime"));
        Setup { _sim: sim, estate: Some(estate), targets, clusters, helm, runtime, dir, registry: registry.to_string() }
    }

    fn pipeline(&self, version: &str) -> PathBuf {
        let dir = self.dir.path();
        std::fs::create_dir_all(dir.join("app")).expect("app dir");
        std::fs::write(dir.join("app/Dockerfile"), "FROM scratch\nCOPY version.txt /srv/version.txt\nUSER 10001:10001\nEXPOSE 8000\nENTRYPOINT [\"/srv/app\"]\n").expect("Dockerfile");
        std::fs::write(dir.join("app/version.txt"), format!("{version}\n")).expect("version");
        let targets: String = self.targets.iter().map(|t| format!("  {t}: {{ sim: {{}}, registry: \"{}\" }}\n", self.registry)).collect();
        let yaml = format!(
            "name: bench\nimage: {{ name: app, tag: \"{version}\", build: {{ context: app }} }}\n\
             release: {{ name: fastapi-app, chart: \"{}\", namespace: default }}\n\
             targets:\n{targets}stages:\n{STAGES}on-failure: builtin:rollback\n",
            chart().display()
        );
        let path = dir.join("gantry.yaml");
        std::fs::write(&path, yaml).expect("gantry.yaml");
        path
    }

    /// One run of the pipeline, measured.
    fn run(&self, rt: &tokio::runtime::Runtime, version: &str) -> Measured {
        let path = self.pipeline(version);
        let meter = Meter::new();
        let pipeline = gantry_engine::load(&path, &Vars::empty()).unwrap_or_else(|d| panic!("{d}"));
        let images: Arc<dyn ImageBackend> = Arc::new(RegistryBackend::new(client()));
        let scanner: Arc<dyn ScanBackend> = Arc::new(gantry_scan::backend::ScanService::new(gantry_scan::scan::Scanner::new(Some(client())), self.runtime.clone(), pipeline.dir.clone(), None));
        let stages: Arc<Mutex<BTreeMap<String, StageTimes>>> = Arc::default();
        let events: EventSink = {
            let (stages, meter) = (stages.clone(), meter.clone());
            Arc::new(move |e: &Event| {
                let now = Instant::now();
                let mut stages = stages.lock().unwrap_or_else(|p| p.into_inner());
                match e {
                    Event::StageStarted { stage, .. } => {
                        stages.insert(stage.clone(), StageTimes { started: now, at_start: meter.reading(), wall: Duration::ZERO, busy: Duration::ZERO, calls: 0 });
                    }
                    Event::StageFinished { stage, .. } => {
                        if let Some(s) = stages.get_mut(stage) {
                            let reading = meter.reading();
                            s.wall = now - s.started;
                            s.busy = reading.busy_since(&s.at_start);
                            s.calls = reading.calls_since(&s.at_start);
                        }
                    }
                    _ => {}
                }
            })
        };
        let (cpu0, sim0, wall0) = (process_cpu(), threads_cpu("sim"), Instant::now());
        let outcome = rt.block_on(async {
            let plan = Arc::new(gantry_engine::plan(pipeline, &self.runtime).unwrap_or_else(|d| panic!("{d}")));
            let opts = RunOptions {
                state_dir: self.dir.path().join(".gantry"),
                cancel: CancellationToken::new(),
                abort: CancellationToken::new(),
                events,
                revision: None,
                clusters: timing::clusters(&self.clusters, &meter),
                helm: timing::helm(&self.helm, &meter),
                images: timing::images(&Some(images), &meter),
                scanner: timing::scanner(&Some(scanner), &meter),
                metrics: Default::default(),
            };
            gantry_engine::run(plan, self.runtime.clone(), opts).await
        });
        let wall = wall0.elapsed();
        let (cpu, sim) = (process_cpu().saturating_sub(cpu0), threads_cpu("sim").saturating_sub(sim0));
        assert_eq!(outcome.status, RunStatus::Succeeded, "the benchmarked run failed: {:#?}", outcome.record.stages);
        let stages = std::mem::take(&mut *stages.lock().unwrap_or_else(|p| p.into_inner()));
        Measured { wall, cpu, sim_cpu: sim, stages, busy: meter.reading().busy }
    }

    fn stop(mut self) {
        if let Some(estate) = self.estate.take() {
            self._sim.block_on(estate.shutdown());
        }
    }
}

struct StageTimes {
    started: Instant,
    at_start: Reading,
    wall: Duration,
    busy: Duration,
    calls: u64,
}

struct Measured {
    wall: Duration,
    cpu: Duration,
    sim_cpu: Duration,
    busy: Duration,
    stages: BTreeMap<String, StageTimes>,
}

fn report(n: usize, runs: &[Measured]) {
    let col = |f: &dyn Fn(&Measured) -> Duration| median(runs.iter().map(f).collect());
    println!("\n{n} simulated clusters, {} runs (medians, ms)", runs.len());
    println!("{:<24} {:>10} {:>14} {:>14} {:>8}", "stage", "wall", "backend wait", "host overhead", "calls");
    for name in STAGE_NAMES {
        let get = |m: &Measured| m.stages.get(name).map(|s| (s.wall, s.busy, s.calls));
        let wall = median(runs.iter().filter_map(|m| get(m).map(|s| s.0)).collect());
        let busy = median(runs.iter().filter_map(|m| get(m).map(|s| s.1)).collect());
        let overhead = median(runs.iter().filter_map(|m| get(m).map(|s| s.0.saturating_sub(s.1))).collect());
        let calls = runs.iter().filter_map(|m| get(m).map(|s| s.2)).max().unwrap_or(0);
        println!("{name:<24} {:>10.1} {:>14.1} {:>14.1} {:>8}", ms(wall), ms(busy), ms(overhead), calls);
    }
    let outside = col(&|m| m.wall.saturating_sub(m.stages.values().map(|s| s.wall).sum()));
    println!("{:<24} {:>10.1} {:>14} {:>14.1} {:>8}", "(outside stages)", ms(outside), "", ms(outside), "");
    println!("{:<24} {:>10.1} {:>14.1} {:>14.1}", "whole run", ms(col(&|m| m.wall)), ms(col(&|m| m.busy)), ms(col(&|m| m.wall.saturating_sub(m.busy))));
    println!(
        "CPU per run: process {:.1} ms (user+sys) = simulator threads {:.1} ms + host {:.1} ms",
        ms(col(&|m| m.cpu)),
        ms(col(&|m| m.sim_cpu)),
        ms(col(&|m| m.cpu.saturating_sub(m.sim_cpu)))
    );
}

fn main() {
    let runs: usize = std::env::var("GANTRY_BENCH_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(5).max(1);
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else {
        eprintln!("pipeline bench skipped: docker-registry is not installed (see TESTING.md)");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("gantry").enable_all().build().expect("the host's runtime");
    for n in [2, 20] {
        let setup = Setup::start(&rt, n, registry.host());
        // Unmeasured: compiles the built-ins into the cache and installs stable.
        setup.run(&rt, "warm-up");
        let measured: Vec<Measured> = (0..runs).map(|i| setup.run(&rt, &format!("v{i}"))).collect();
        report(n, &measured);
        setup.stop();
    }
}
