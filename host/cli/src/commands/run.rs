//! `gantry run`: plan, then run with live progress; SIGINT/SIGTERM stop the
//! stages and run `on-failure` (a second signal stops that too). The exit
//! code says how it ended (0, 1, 2, 3, 4; see the README).
//!
//! Targets of kind `sim:` — and with `--sim` every target — are simulated
//! clusters started in-process for the run (the same estate `gantry sim up`
//! serves, its files under `STATE_DIR/sim`), shaped like the targets: an
//! `eks:` target becomes an EKS-flavoured cluster of that name and region, a
//! `gke:` target a GKE-flavoured one, a `kubeconfig:` target a plain cluster
//! named after its context. With `--sim`, variables a cloud pipeline names
//! its clusters with (`CLUSTER_AWS`, `AWS_REGION`, `GCP_PROJECT`, …) default
//! to the simulated estate's when unset.
//!
//! Every target is connected before the first stage (`gantry_cluster`):
//! with `--sim`, `eks:` and `gke:` targets the clouds' way (DescribeCluster
//! and STS tokens, clusters.get and OAuth tokens) against the estate with
//! its credentials only, other simulated ones through the estate's
//! kubeconfig; real targets as their kind says; a target that cannot be reached stops the run with exit 2 and an
//! error naming the target and the fix. Then, for a pipeline with a
//! `release:`, the run lock is taken on every target (a Lease per release,
//! `gantry_cluster::lease`): held by another run, the run fails naming it
//! (or waits up to `--lock-timeout`); a lost lock cancels the run; the locks
//! are given back when the run ends, however it ends.
//!
//! `--demo` runs the embedded default (`commands::demo`: the request's
//! pipeline, written under `STATE_DIR/demo`) as `--sim` does, and first
//! says once what it is: what runs where, what the image holds, and whether
//! the canary analysis judges real metrics (a Prometheus per simulated
//! cluster) or health only. The demo starts where production already runs:
//! before its run, the same plan runs quietly on the same estate with
//! `CI_COMMIT_SHA` = `demo-previous` and a 1-second wait (its record apart,
//! under `STATE_DIR/demo/seed`), so the demo's canary is observed next to a
//! stable release, which shares the simulated users' traffic with it.
//!
//! `--wait DURATION` shortens (or lengthens) every canary wait of the plan
//! to DURATION, keeping its count of analysis intervals (`Plan::shorten_waits`).
//!
//! A pipeline with an `image:` gets one registry client for the run
//! (`commands::images`: credentials per target registry, the estate's
//! registries with `--sim`), shared by the `registry`/`builder`
//! capabilities and the scanner.
//!
//! Each target's `metrics` capability reaches its metrics provider: the
//! target's `metrics:`, else the pipeline's (credentials from the variables
//! they name). A simulated target without one gets a real Prometheus of its
//! own when the `prometheus` binary is installed (`GANTRY_PROMETHEUS`, else
//! PATH), scraping its cluster, whose simulated users send
//! `SIM_TRAFFIC` requests per second to every Service; with no Prometheus
//! at all, the analysis judges on health only and says so.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gantry_engine::event::Event;
use gantry_engine::{exit, Plan, RunOptions};
use gantry_sim::estate::{self, ClusterSpec};
use tokio_util::sync::CancellationToken;

use crate::commands::{self, demo, Source};
use crate::output::{self, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub source: Source,
    /// Where run records are written.
    #[arg(long, default_value = ".gantry", env = "GANTRY_STATE_DIR")]
    pub state_dir: PathBuf,
    /// Run every target on a simulated cluster started for this run (no cloud account).
    #[arg(long)]
    pub sim: bool,
    /// How long to wait for another run's lock on the release (`0`: fail at once; `90s`, `5m`).
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Shorten (or lengthen) every canary wait to DURATION (`20s`, `2m`); the count of analysis intervals stays.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,
}

/// `0`, `500ms`, `90s`, `5m`, `1h` (a bare number is seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration (try 0, 30s, 5m)"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
        _ => Err(format!("`{text}` has an unknown unit `{unit}` (use ms, s, m or h)")),
    }
}

pub async fn run(args: Args, ctx: Ctx) -> i32 {
    let runtime = match commands::runtime(ctx) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let sim_dir = args.state_dir.join("sim");
    // The demo's targets are simulated clouds.
    let args = Args { sim: args.sim || args.source.demo, ..args };
    let defaults = if args.sim { estate::default_variables(&sim_dir.join(estate::KEY_FILE)) } else { Vec::new() };
    let vars = args.source.vars_over(&defaults);
    let plan = match commands::plan_with(&args.source, &vars, &args.state_dir, &runtime, ctx) {
        Ok(mut p) => {
            if let Some(wait) = args.wait {
                p.shorten_waits(wait);
            }
            Arc::new(p)
        }
        Err(code) => return code,
    };
    let clusters = simulated_clusters(&plan.pipeline, args.sim);
    let estate = if clusters.is_empty() {
        None
    } else {
        let options = match estate_options(&plan, args.sim) {
            Ok(o) => o,
            Err(e) => {
                output::error(ctx, &e);
                return exit::BAD_INPUT;
            }
        };
        let judged_on = options.prometheus.as_ref().map(|p| p.display().to_string());
        match gantry_sim::Estate::start_clusters_with(&sim_dir, &clusters, &options).await {
            Ok(e) => {
                commands::sim::announce(ctx, &e);
                if args.source.demo {
                    demo_banner(ctx, &plan, &args.state_dir, judged_on.as_deref(), args.wait);
                }
                Some(e)
            }
            Err(e) => {
                output::error(ctx, &format!("cannot start the simulated clusters: {e}"));
                return exit::INTERNAL;
            }
        }
    };
    let cancel = CancellationToken::new();
    let abort = CancellationToken::new();
    let events = output::sink(ctx);
    spawn_signal_handler(cancel.clone(), abort.clone(), events.clone());
    let shared = Shared { runtime: runtime.clone(), estate: estate.as_ref(), all_sim: args.sim, state_dir: &args.state_dir, lock_timeout: args.lock_timeout, ctx };

    if args.source.demo && plan.pipeline.spec.release.is_some() {
        if let Err((code, e)) = seed_production(&args, &defaults, &shared, cancel.clone(), abort.clone()).await {
            output::error(ctx, &e);
            if let Some(estate) = estate {
                estate.shutdown().await;
            }
            return code;
        }
    }

    let outcome = execute(plan, &vars, &shared, RunSetup { state_dir: args.state_dir.clone(), events, cancel, abort }).await;
    let code = match outcome {
        Ok(outcome) => {
            output::summary(ctx, &outcome);
            outcome.status.exit_code()
        }
        Err((code, e)) => {
            output::error(ctx, &e);
            code
        }
    };
    if let Some(estate) = estate {
        estate.shutdown().await;
    }
    code
}

/// The commit the demo's production runs before the demo's own run.
pub const DEMO_PREVIOUS: &str = "demo-previous";

/// The demo starts where production already runs: the same pipeline, run
/// quietly first on the same simulated estate with `CI_COMMIT_SHA` =
/// [`DEMO_PREVIOUS`] and a 1-second wait, leaves the release's stable
/// revision 1 on every target. Its record is its own run, kept apart from
/// the demo's history (under `STATE_DIR/demo/seed`) and named in the line
/// that says it is done. A failure is an error naming the seed run.
async fn seed_production(args: &Args, defaults: &[(&str, String)], shared: &Shared<'_>, cancel: CancellationToken, abort: CancellationToken) -> Result<(), (i32, String)> {
    let ctx = shared.ctx;
    let mut vars = args.source.vars_over(defaults);
    vars.set("CI_COMMIT_SHA", DEMO_PREVIOUS);
    let name = format!("{}:{DEMO_PREVIOUS}", vars.get("IMAGE_NAME").unwrap_or("fastapi-app"));
    let quiet = Ctx { quiet: true, ..ctx };
    let mut plan = commands::plan_with(&args.source, &vars, &args.state_dir, &shared.runtime, quiet).map_err(|code| (code, format!("seeding production with {name}: the demo's pipeline does not plan")))?;
    plan.shorten_waits(Duration::from_secs(1));
    let targets: Vec<String> = plan.targets.iter().map(|t| t.name.clone()).collect();
    let human = !ctx.quiet && ctx.format == output::Format::Human;
    if human {
        eprintln!("demo: seeding production: {name} as the stable release on {} (the same pipeline, its wait shortened to 1s) …", targets.join(" and "));
    }
    let seed_dir = args.state_dir.join("demo").join("seed");
    let events: gantry_engine::EventSink = Arc::new(|_: &Event| {});
    let outcome = execute(Arc::new(plan), &vars, shared, RunSetup { state_dir: seed_dir, events, cancel, abort }).await.map_err(|(code, e)| (code, format!("seeding production with {name} before the demo's run: {e}")))?;
    let record = outcome.record_path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "not written".into());
    if outcome.status != gantry_engine::RunStatus::Succeeded {
        let r = &outcome.record;
        let failed = r.failed_stage.as_deref().unwrap_or("?");
        let why: Vec<String> = r.stages.iter().flat_map(|s| s.steps.iter().filter_map(move |st| st.error.as_ref().map(|e| format!("{}/{}: {}", s.name, st.target.as_deref().unwrap_or("-"), e.message)))).collect();
        let code = if outcome.interrupted { outcome.status.exit_code() } else { exit::FAILED };
        return Err((code, format!("seeding production with {name} before the demo's run failed at stage {failed} ({}); the demo did not run — its record: {record}", why.join("; "))));
    }
    if human {
        eprintln!("demo: seeding production: done in {} — stable {name} on {} (its own run {}, record {record}); now the demo's run\n", output::duration(outcome.record.duration_ms), targets.join(" and "), outcome.record.run_id);
    }
    Ok(())
}

/// What both of the demo's runs (and any run) share.
struct Shared<'a> {
    runtime: Arc<gantry_runtime::Runtime>,
    estate: Option<&'a gantry_sim::Estate>,
    all_sim: bool,
    /// The scanner's state (its database), whichever run.
    state_dir: &'a std::path::Path,
    lock_timeout: Duration,
    ctx: Ctx,
}

/// Where one run goes: its records, its events, its cancellation.
struct RunSetup {
    state_dir: PathBuf,
    events: gantry_engine::EventSink,
    cancel: CancellationToken,
    abort: CancellationToken,
}

/// Connect the targets, make the backends, take the locks and run `plan`.
async fn execute(plan: Arc<Plan>, vars: &gantry_engine::Vars, shared: &Shared<'_>, setup: RunSetup) -> Result<gantry_engine::RunOutcome, (i32, String)> {
    let (estate, ctx) = (shared.estate, shared.ctx);
    let Connected { clusters, clients, google_tokens } = connect_targets(&plan.pipeline, estate, shared.all_sim).await.map_err(|e| (exit::BAD_INPUT, format!("cannot connect to the clusters: {e}")))?;
    let helm = helm_backends(&plan, &clients).map_err(|e| (exit::BAD_INPUT, e))?;
    let revision = vars.get("CI_COMMIT_SHA").map(String::from);
    let registry_client = commands::images::run_client(&plan, estate, shared.all_sim, &google_tokens).await;
    let backends = registry_client.and_then(|client| {
        let scanner = commands::scan::run_backend(client.clone(), shared.runtime.clone(), plan.pipeline.dir.clone(), shared.state_dir.to_path_buf())?;
        Ok((commands::images::backend(client, shared.all_sim, revision.clone(), vars.get("CI_PROJECT_URL").map(String::from))?, scanner))
    });
    let (images, scanner) = backends.map_err(|e| (exit::BAD_INPUT, e))?;
    let metrics = metrics_backends(&plan, estate, shared.all_sim, vars).map_err(|e| (exit::BAD_INPUT, e))?;
    let RunSetup { state_dir, events, cancel, abort } = setup;
    let taken = tokio::select! {
        taken = take_locks(&plan, clients, shared.lock_timeout) => taken.map_err(|e| e.to_string()),
        // Interrupted while waiting for another run's lock: no stage has started.
        _ = cancel.cancelled() => Err("interrupted while waiting for the run lock".to_string()),
    };
    let locks = taken.map_err(|e| (exit::FAILED, format!("cannot start the run: {e}")))?;
    let watcher = watch_locks(&locks, cancel.clone(), ctx);
    let outcome = gantry_engine::run(plan, shared.runtime.clone(), RunOptions { state_dir, cancel, abort, events, revision, clusters, helm, images, scanner, metrics }).await;
    if let Some(w) = watcher {
        w.abort();
    }
    release_locks(locks, ctx).await;
    Ok(outcome)
}

/// What the demo is, said once before it runs: what runs where, what the
/// image is and is not, and what the canary analysis judges on
/// (`prometheus`: the binary the estate's Prometheus servers run, if any).
fn demo_banner(ctx: Ctx, plan: &Plan, state_dir: &std::path::Path, prometheus: Option<&str>, wait: Option<Duration>) {
    if ctx.quiet || ctx.format == output::Format::Json {
        return;
    }
    let stages: Vec<&str> = plan.stages.iter().map(|s| s.name.as_str()).collect();
    let targets: Vec<&str> = plan.targets.iter().map(|t| t.name.as_str()).collect();
    let waits = plan.stages.iter().filter(|s| s.uses == "builtin:canary-analysis").count();
    let analysis = match prometheus {
        Some(bin) => format!("canary analysis: the canary against stable {DEMO_PREVIOUS} — request counts, error rate, p95 and p99 of each, from a real Prometheus per simulated cluster ({bin}) scraping simulated users' traffic, which the stable Service splits between stable and canary pods by replica count; until the canary has served enough requests to judge (the first few seconds), a verdict passes on health only, and each interval's line says which"),
        None => format!("canary analysis: on health only, next to stable {DEMO_PREVIOUS} — no `prometheus` binary found (install it, or set GANTRY_PROMETHEUS, to judge real request metrics)"),
    };
    eprintln!(
        "demo: the request's pipeline ({}, embedded; written to {}) — {} — on {} simulated clouds ({}) with their own token auth and registries.\n\
         demo: production already runs: first the same pipeline installs {DEMO_PREVIOUS} as the stable release on every cloud (its own quiet run), then this run deploys its canary next to it.\n\
         demo: the image is built without Docker, FROM scratch (PYTHON_IMAGE=scratch): it holds the app's files but no Python; the simulated pods answer HTTP as the simulator does, they do not run the app.\n\
         demo: {analysis}{}",
        demo::PIPELINE,
        state_dir.join("demo").display(),
        stages.join(" → "),
        targets.len(),
        targets.join(", "),
        match (waits, wait) {
            (0, _) => String::new(),
            (_, Some(w)) => format!("; the canary wait shortened to {} by --wait", output::duration(w.as_millis() as u64)),
            (_, None) => "; the canary wait is the file's (`--wait 20s` shortens it)".to_string(),
        },
    );
}

/// Requests per second the simulated users send to every Service of a simulated cluster.
pub const SIM_TRAFFIC: f64 = 10.0;

/// What the estate runs beside the clusters: simulated users, and a
/// Prometheus per cluster when a simulated target has no metrics provider
/// and the binary is installed.
fn estate_options(plan: &Plan, all_sim: bool) -> Result<estate::EstateOptions, String> {
    let spec = &plan.pipeline.spec;
    let unprovided = spec.targets.iter().any(|(name, t)| simulated_cluster_of(name, t, all_sim).is_some() && t.metrics.is_none() && spec.metrics.is_none());
    let prometheus = if unprovided { gantry_sim::prometheus::find_binary().map_err(|e| e.to_string())? } else { None };
    Ok(estate::EstateOptions { traffic: Some(SIM_TRAFFIC), prometheus, ..Default::default() })
}

/// Each target's metrics provider: its own `metrics:`, else the pipeline's,
/// else (simulated) the Prometheus of its cluster when one runs.
fn metrics_backends(plan: &Plan, estate: Option<&gantry_sim::Estate>, all_sim: bool, vars: &gantry_engine::Vars) -> Result<gantry_runtime::MetricsBackends, String> {
    let spec = &plan.pipeline.spec;
    let mut out: std::collections::BTreeMap<String, Arc<dyn gantry_runtime::MetricsBackend>> = Default::default();
    for (name, t) in &spec.targets {
        let (field, configured) = match (&t.metrics, &spec.metrics) {
            (Some(m), _) => (format!("targets.{name}.metrics"), Some(m)),
            (None, Some(m)) => ("metrics".to_string(), Some(m)),
            (None, None) => (String::new(), None),
        };
        let client = match configured {
            Some(m) => {
                let lookup = |var: &str| vars.get(var).map(String::from);
                let auth = gantry_metrics::Auth::from_env(m.token_env.as_deref(), m.username_env.as_deref(), m.password_env.as_deref(), lookup).map_err(|e| format!("{field}: {e}"))?;
                let timeout = match &m.timeout {
                    Some(t) => gantry_engine::pipeline::parse_duration(t).map_err(|e| format!("{field}.timeout: {e}"))?,
                    None => gantry_metrics::DEFAULT_TIMEOUT,
                };
                gantry_metrics::Prometheus::new(&m.prometheus, auth, timeout).map_err(|e| format!("{field}.prometheus: {e}"))?
            }
            None => {
                let url = simulated_cluster_of(name, t, all_sim).and_then(|cluster| estate.and_then(|e| e.prometheus_url(&cluster)));
                let Some(url) = url else { continue };
                gantry_metrics::Prometheus::new(&url, None, gantry_metrics::DEFAULT_TIMEOUT).map_err(|e| format!("the simulated Prometheus of target `{name}`: {e}"))?
            }
        };
        out.insert(name.clone(), Arc::new(client));
    }
    Ok(Arc::new(out))
}

/// The clusters to simulate for `plan`: its `sim:` targets, and with `all`
/// every target, shaped as [the module doc](self) says; targets naming the
/// same cluster share it.
pub(crate) fn simulated_clusters(pipeline: &gantry_engine::Pipeline, all: bool) -> Vec<ClusterSpec> {
    let mut clusters: Vec<ClusterSpec> = Vec::new();
    for (name, t) in &pipeline.spec.targets {
        let spec = match (&t.eks, &t.gke, &t.kubeconfig, &t.sim) {
            (_, _, _, Some(sim)) => ClusterSpec::plain(sim.cluster.as_deref().unwrap_or(name)),
            _ if !all => continue,
            (Some(eks), _, _, _) => ClusterSpec::eks(&eks.cluster, &eks.region),
            (_, Some(gke), _, _) => {
                let location = gke.region.as_deref().or(gke.zone.as_deref()).unwrap_or(estate::GCP_REGION);
                ClusterSpec::gke(&gke.cluster, &gke.project, location)
            }
            (_, _, Some(k), _) => ClusterSpec::plain(&k.context),
            _ => ClusterSpec::plain(name),
        };
        if !clusters.iter().any(|c| c.name == spec.name) {
            clusters.push(spec);
        }
    }
    clusters
}

/// The estate cluster (and kubeconfig context) a target runs on, if simulated.
fn simulated_cluster_of(name: &str, t: &gantry_engine::pipeline::model::TargetSpec, all: bool) -> Option<String> {
    match (&t.eks, &t.gke, &t.kubeconfig, &t.sim) {
        (_, _, _, Some(sim)) => Some(sim.cluster.clone().unwrap_or_else(|| name.to_string())),
        _ if !all => None,
        (Some(eks), _, _, _) => Some(eks.cluster.clone()),
        (_, Some(gke), _, _) => Some(gke.cluster.clone()),
        (_, _, Some(k), _) => Some(k.context.clone()),
        _ => Some(name.to_string()),
    }
}

/// Each connected target's Helm releases (the `helm` capability's backend):
/// stored by `HELM_DRIVER` (secret, the default, or configmap), installing
/// the pipeline's chart, resolved against the pipeline file's directory.
/// None without a `release:` (nothing for the capability to operate); an
/// error for a `HELM_DRIVER` that is neither, as `gantry helm` refuses it.
fn helm_backends(plan: &Plan, clients: &[(String, gantry_cluster::lease::Client)]) -> Result<gantry_runtime::HelmBackends, String> {
    let Some(release) = &plan.pipeline.spec.release else {
        return Ok(Default::default());
    };
    let driver = match std::env::var("HELM_DRIVER") {
        Err(_) => gantry_release::Driver::default(),
        Ok(d) => gantry_release::Driver::from_helm_driver(&d).ok_or_else(|| format!("unknown driver {d:?} in HELM_DRIVER: use `secret` (the default) or `configmap`"))?,
    };
    let chart = plan.pipeline.dir.join(&release.chart);
    let backends = clients.iter().map(|(name, client)| {
        let backend: Arc<dyn gantry_runtime::HelmBackend> = Arc::new(gantry_release::ReleasesBackend::new(name, client.clone(), driver, &chart));
        (name.clone(), backend)
    });
    Ok(Arc::new(backends.collect()))
}

/// Connect every target of `plan` at once: simulated ones to `estate`'s
/// clusters, the rest by their kind. The first failure names its target.
pub(crate) async fn connect_targets(pipeline: &gantry_engine::Pipeline, estate: Option<&gantry_sim::Estate>, all_sim: bool) -> Result<Connected, gantry_cluster::ClusterError> {
    use gantry_cluster::{eks::EksCluster, gke::GkeCluster, ClusterError, Target};
    let mut tasks = tokio::task::JoinSet::new();
    for (name, t) in &pipeline.spec.targets {
        let name = name.clone();
        let t = t.clone();
        let sim = simulated_cluster_of(&name, &t, all_sim).map(|cluster| (estate.map(|e| e.kubeconfig.clone()), cluster));
        // Simulated EKS and GKE targets go the clouds' way (DescribeCluster and
        // STS tokens, clusters.get and OAuth tokens), with the estate's
        // credentials only: never the process's, which may be real ones.
        let sim_clouds = estate.filter(|_| all_sim).map(|e| {
            let aws = gantry_cluster::eks::AwsEnvironment::Vars(e.aws_env.iter().cloned().collect());
            (aws, gantry_cluster::gke::GkeApi::at(&e.control_plane.url()), e.key_file.display().to_string())
        });
        tasks.spawn(async move {
            // A GKE target's Google token: its Artifact Registry's credential too.
            let mut google = None;
            let target = if let (Some((aws, _, _)), Some(e)) = (&sim_clouds, &t.eks) {
                let (endpoint, source) = EksCluster::connect_in(aws, &name, &e.cluster, &e.region, e.endpoint.as_deref()).await?;
                Target { name: name.clone(), source: gantry_cluster::TargetSource::Token { endpoint, source: Arc::new(source) }, endpoint: None }
            } else if let (Some((_, api, key)), Some(g)) = (&sim_clouds, &t.gke) {
                let location = g.region.as_deref().or(g.zone.as_deref()).unwrap_or_default();
                let (endpoint, source) = GkeCluster::connect_via(api, &name, &g.project, location, &g.cluster, Some(key.clone()), g.endpoint.as_deref()).await?;
                let source: Arc<dyn gantry_cluster::TokenSource> = Arc::new(source);
                google = Some(source.clone());
                Target { name: name.clone(), source: gantry_cluster::TargetSource::Token { endpoint, source }, endpoint: None }
            } else if let Some((kubeconfig, cluster)) = sim {
                let kubeconfig = kubeconfig.ok_or_else(|| ClusterError::Config { target: name.clone(), message: "its simulated cluster was not started".into() })?;
                Target::kubeconfig(&name, Some(kubeconfig), &cluster)
            } else if let Some(k) = &t.kubeconfig {
                Target::kubeconfig(&name, k.path.as_ref().map(std::path::PathBuf::from), &k.context).with_endpoint(k.endpoint.clone())
            } else if let Some(e) = &t.eks {
                let (endpoint, source) = EksCluster::connect(&name, &e.cluster, &e.region, e.endpoint.as_deref()).await?;
                Target { name: name.clone(), source: gantry_cluster::TargetSource::Token { endpoint, source: Arc::new(source) }, endpoint: None }
            } else if let Some(g) = &t.gke {
                let location = g.region.as_deref().or(g.zone.as_deref()).unwrap_or_default();
                let (endpoint, source) = GkeCluster::connect(&name, &g.project, location, &g.cluster, g.credentials.clone(), g.endpoint.as_deref()).await?;
                let source: Arc<dyn gantry_cluster::TokenSource> = Arc::new(source);
                google = Some(source.clone());
                Target { name: name.clone(), source: gantry_cluster::TargetSource::Token { endpoint, source }, endpoint: None }
            } else {
                return Err(ClusterError::Config { target: name.clone(), message: "the target names no cluster (eks, gke, kubeconfig or sim)".into() });
            };
            let client = target.connect().await?;
            let backend: Arc<dyn gantry_runtime::ClusterBackend> = Arc::new(gantry_cluster::KubeBackend::new(&name, client.clone()));
            Ok::<_, ClusterError>((name, backend, client, google))
        });
    }
    let mut clusters = std::collections::BTreeMap::new();
    let mut clients = Vec::new();
    let mut google_tokens = std::collections::BTreeMap::new();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((name, backend, client, google))) => {
                clusters.insert(name.clone(), backend);
                if let Some(token) = google {
                    google_tokens.insert(name.clone(), token);
                }
                clients.push((name, client));
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(ClusterError::Config { target: "?".into(), message: format!("connecting panicked: {e}") });
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(Connected { clusters: Arc::new(clusters), clients, google_tokens }),
    }
}

/// Every target, connected.
pub(crate) struct Connected {
    clusters: gantry_runtime::Clusters,
    pub(crate) clients: Vec<(String, gantry_cluster::lease::Client)>,
    /// GKE targets' Google token sources, by target name.
    google_tokens: std::collections::BTreeMap<String, Arc<dyn gantry_cluster::TokenSource>>,
}

/// Take the run lock (a Lease on the release) on every target at once,
/// waiting up to `timeout` for another run; none without a `release:`.
/// On a failure the locks already taken are given back.
async fn take_locks(plan: &Plan, clients: Vec<(String, gantry_cluster::lease::Client)>, timeout: Duration) -> Result<Vec<gantry_cluster::lease::RunLock>, gantry_cluster::lease::LockError> {
    use gantry_cluster::lease::{holder_identity, LockOptions, RunLock};
    let Some(release) = plan.pipeline.spec.release.clone() else {
        return Ok(Vec::new());
    };
    let identity = holder_identity(&gantry_engine::exec::new_run_id());
    let options = LockOptions { timeout, ..LockOptions::default() };
    let mut tasks = tokio::task::JoinSet::new();
    for (target, client) in clients {
        let (release, identity, options) = (release.clone(), identity.clone(), options.clone());
        tasks.spawn(async move { RunLock::acquire(client, &target, &release.name, &release.namespace, &identity, &options).await });
    }
    let mut locks = Vec::new();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(lock)) => locks.push(lock),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(gantry_cluster::lease::LockError::Api {
                    release: release.name.clone(),
                    target: "?".into(),
                    namespace: release.namespace.clone(),
                    name: gantry_cluster::lease::lease_name(&release.name),
                    message: format!("taking the lock panicked: {e}"),
                });
            }
        }
    }
    match first_error {
        Some(e) => {
            for lock in locks {
                if let Err(e) = lock.release().await {
                    tracing::warn!(error = %e, "giving back a run lock failed");
                }
            }
            Err(e)
        }
        None => Ok(locks),
    }
}

/// Cancel the run when any lock is lost, saying why.
fn watch_locks(locks: &[gantry_cluster::lease::RunLock], cancel: CancellationToken, ctx: Ctx) -> Option<tokio::task::JoinHandle<()>> {
    if locks.is_empty() {
        return None;
    }
    let mut losses = tokio::task::JoinSet::new();
    for lock in locks {
        losses.spawn(lock.lost_signal());
    }
    Some(tokio::spawn(async move {
        // The set is aborted with this task (dropped) when the run ends first.
        if let Some(Ok(why)) = losses.join_next().await {
            output::error(ctx, &why);
            cancel.cancel();
        }
    }))
}

/// Give every lock back (the run is over, however it ended).
async fn release_locks(locks: Vec<gantry_cluster::lease::RunLock>, ctx: Ctx) {
    for lock in locks {
        if let Err(e) = lock.release().await {
            output::error(ctx, &format!("{e}; it expires by itself"));
        }
    }
}

/// First signal: cancel the stages. Second: abort on-failure too.
fn spawn_signal_handler(cancel: CancellationToken, abort: CancellationToken, events: gantry_engine::EventSink) {
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            let name = match next_signal().await {
                Some(n) => n,
                None => return,
            };
            count += 1;
            tracing::warn!(signal = name, "received signal");
            events(&Event::Interrupted { signal: name.to_string() });
            if count == 1 {
                cancel.cancel();
            } else {
                abort.cancel();
                return;
            }
        }
    });
}

#[cfg(unix)]
async fn next_signal() -> Option<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok()?;
    let mut int = signal(SignalKind::interrupt()).ok()?;
    tokio::select! {
        _ = int.recv() => Some("SIGINT"),
        _ = term.recv() => Some("SIGTERM"),
    }
}

#[cfg(not(unix))]
async fn next_signal() -> Option<&'static str> {
    tokio::signal::ctrl_c().await.ok().map(|_| "Ctrl-C")
}
