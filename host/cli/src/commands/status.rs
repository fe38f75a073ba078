//! `gantry status`: per target of the pipeline, what is live — the stable
//! release (`release.name`) and the canary (`<name>-canary`) read from
//! Helm's own storage on the cluster (`gantry_release`, as `gantry helm
//! status` reads it: revision, status, chart, updated), the image of each
//! release's Deployment with its digest (from the image reference, else
//! from its pods' `imageID`), the Deployment's health (desired, updated
//! and ready replicas; crash-looping pods) and the last run that touched
//! the target (from the run records). `--output json` prints one document.
//!
//! It also owns what `status` and `plan` share: reading the pipeline file
//! without loading its plugins (`commands::load`) and connecting its targets as
//! `gantry run` does (`--sim`: simulated clusters shaped like the targets,
//! started for the command — empty, so nothing is installed there).
//!
//! It only reads: no write reaches a cluster. Exit 0 when every target was
//! read, 1 when a target's releases or objects could not be read (the
//! others are still shown), 2 for a bad file, flag or unreachable target.

use std::path::PathBuf;

use gantry_engine::exit;
use gantry_engine::pipeline::Pipeline;
use gantry_engine::report::{self, RunView};
use gantry_release::{Driver, Releases};
use gantry_runtime::cluster::{ClusterBackend, ListQuery, ObjectKey};
use gantry_sim::estate;
use serde::Serialize;

use crate::commands::{self, Source};
use crate::output::{self, Ctx, Format};

/// The flags `status` and `plan` share: the pipeline, `--sim`, the state directory.
#[derive(clap::Args, Debug)]
pub struct TargetArgs {
    #[command(flatten)]
    pub source: Source,
    /// Every target on a simulated cluster started for this command (empty: nothing is installed there).
    #[arg(long)]
    pub sim: bool,
    /// Where run records are (and `--sim`'s files go).
    #[arg(long, default_value = ".gantry", env = "GANTRY_STATE_DIR")]
    pub state_dir: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub targets: TargetArgs,
}

/// A pipeline with its targets connected (and the simulated estate they
/// run on, if any: shut it down with [`Live::shutdown`]).
pub struct Live {
    pub pipeline: Pipeline,
    /// Each target's client, in the pipeline's order.
    pub clients: Vec<(String, gantry_cluster::lease::Client)>,
    estate: Option<gantry_sim::Estate>,
}

impl Live {
    pub async fn shutdown(self) {
        if let Some(e) = self.estate {
            e.shutdown().await;
        }
    }
}

/// Load the pipeline and connect every target, as `gantry run` does.
pub async fn connect(args: &TargetArgs, ctx: Ctx) -> Result<Live, i32> {
    let sim_dir = args.state_dir.join("sim");
    // The demo's targets are simulated clouds.
    let sim = args.sim || args.source.demo;
    let defaults = if sim { estate::default_variables(&sim_dir.join(estate::KEY_FILE)) } else { Vec::new() };
    let pipeline = commands::load(&args.source, &args.source.vars_over(&defaults), &args.state_dir, ctx)?;
    let clusters = commands::run::simulated_clusters(&pipeline, sim);
    let estate = if clusters.is_empty() {
        None
    } else {
        match gantry_sim::Estate::start_clusters(&sim_dir, &clusters).await {
            Ok(e) => Some(e),
            Err(e) => {
                output::error(ctx, &format!("cannot start the simulated clusters: {e}"));
                return Err(exit::INTERNAL);
            }
        }
    };
    match commands::run::connect_targets(&pipeline, estate.as_ref(), sim).await {
        Ok(connected) => {
            let mut clients = connected.clients;
            clients.sort_by_key(|(name, _)| pipeline.spec.targets.get_index_of(name));
            Ok(Live { pipeline, clients, estate })
        }
        Err(e) => {
            output::error(ctx, &format!("cannot connect to the clusters: {e}"));
            if let Some(estate) = estate {
                estate.shutdown().await;
            }
            Err(exit::BAD_INPUT)
        }
    }
}

/// Helm's storage driver from `HELM_DRIVER` (secret, the default, or configmap).
pub fn helm_driver() -> Result<Driver, String> {
    match std::env::var("HELM_DRIVER") {
        Err(_) => Ok(Driver::default()),
        Ok(d) => Driver::from_helm_driver(&d).ok_or_else(|| format!("unknown driver {d:?} in HELM_DRIVER: use `secret` (the default) or `configmap`")),
    }
}

/// The release names of the two tracks, per the pipeline's `release:`.
pub fn release_names(pipeline: &Pipeline) -> Option<(String, String, String)> {
    let r = pipeline.spec.release.as_ref()?;
    Some((r.name.clone(), format!("{}-canary", r.name), r.namespace.clone()))
}

#[derive(Debug, Serialize)]
pub struct TargetStatus {
    pub target: String,
    /// Stable, then canary.
    pub releases: Vec<ReleaseStatus>,
    pub last_run: Option<LastRun>,
}

#[derive(Debug, Serialize)]
pub struct ReleaseStatus {
    pub track: &'static str,
    pub release: String,
    pub namespace: String,
    pub installed: bool,
    pub revision: Option<u32>,
    /// Helm's status: `deployed`, `failed`, `uninstalled`, `pending-upgrade`, …
    pub status: Option<String>,
    pub chart: Option<String>,
    pub app_version: Option<String>,
    pub updated: Option<String>,
    pub image: Option<String>,
    pub digest: Option<String>,
    pub health: Option<Health>,
    /// Why the release or its objects could not be read.
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Health {
    pub deployment: String,
    /// `healthy`, `progressing`, `crash-looping` or `missing` (the Deployment is gone).
    pub state: String,
    pub desired: u32,
    pub updated: u32,
    pub ready: u32,
    pub available: u32,
    /// Pods with a container in CrashLoopBackOff.
    pub crash_looping: Vec<String>,
    /// `kubectl rollout status`'s line.
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct LastRun {
    pub run_id: String,
    pub started: String,
    pub status: String,
    pub revision: Option<String>,
    pub failed_stage: Option<String>,
}

pub async fn run(args: Args, ctx: Ctx) -> i32 {
    let driver = match helm_driver() {
        Ok(d) => d,
        Err(e) => {
            output::error(ctx, &e);
            return exit::BAD_INPUT;
        }
    };
    let live = match connect(&args.targets, ctx).await {
        Ok(l) => l,
        Err(code) => return code,
    };
    let Some((stable, canary, namespace)) = release_names(&live.pipeline) else {
        output::error(ctx, &format!("{}: the pipeline has no `release:`, so there is no release to show: add `release: {{ name: NAME, chart: PATH }}`", live.pipeline.file.display()));
        live.shutdown().await;
        return exit::BAD_INPUT;
    };
    let runs = match report::runs(&args.targets.state_dir) {
        Ok(r) => r.runs,
        Err(e) => {
            tracing::warn!(dir = %args.targets.state_dir.display(), error = %e, "cannot read the run records");
            Vec::new()
        }
    };
    let mut targets = Vec::new();
    for (name, client) in &live.clients {
        let releases = Releases::new(name, client.clone(), &namespace, driver);
        let backend = gantry_cluster::KubeBackend::new(name, client.clone());
        let mut shown = Vec::new();
        for (track, release) in [("stable", &stable), ("canary", &canary)] {
            shown.push(release_status(&releases, &backend, track, release, &namespace).await);
        }
        let last_run = report::last_touching(&runs, name).map(last_run);
        targets.push(TargetStatus { target: name.clone(), releases: shown, last_run });
    }
    let pipeline = live.pipeline.spec.name.clone();
    live.shutdown().await;
    let failed = targets.iter().flat_map(|t| &t.releases).any(|r| r.error.is_some());
    match ctx.format {
        Format::Json => println!("{}", serde_json::json!({ "pipeline": pipeline, "targets": targets })),
        Format::Human => print!("{}", human(&targets)),
    }
    if failed {
        exit::FAILED
    } else {
        exit::SUCCESS
    }
}

fn last_run(r: &RunView) -> LastRun {
    LastRun { run_id: r.run_id.clone(), started: r.started.clone(), status: r.status.clone(), revision: r.revision.clone(), failed_stage: r.failed_stage.clone() }
}

/// One release of one target, read from Helm's storage and the cluster.
async fn release_status(releases: &Releases, backend: &gantry_cluster::KubeBackend, track: &'static str, name: &str, namespace: &str) -> ReleaseStatus {
    let mut s = ReleaseStatus {
        track,
        release: name.to_string(),
        namespace: namespace.to_string(),
        installed: false,
        revision: None,
        status: None,
        chart: None,
        app_version: None,
        updated: None,
        image: None,
        digest: None,
        health: None,
        error: None,
    };
    let r = match releases.status(name, None).await {
        Ok(r) => r,
        Err(e) if commands::release::is_not_found(&e) => return s,
        Err(e) => {
            s.error = Some(format!("reading release `{name}` in namespace `{namespace}`: {e}"));
            return s;
        }
    };
    let summary = gantry_release::backend::summary(&r);
    s.installed = r.status() != gantry_release::Status::Uninstalled;
    s.revision = Some(summary.revision);
    s.status = Some(summary.status);
    s.chart = Some(summary.chart).filter(|c| !c.is_empty());
    s.app_version = Some(summary.app_version).filter(|c| !c.is_empty());
    s.updated = Some(summary.updated).filter(|c| !c.is_empty());
    if !s.installed {
        return s;
    }
    let manifests = match gantry_release::manifest::read(&r.manifest) {
        Ok(m) => m,
        Err(e) => {
            s.error = Some(format!("release `{name}` revision {}: its stored manifest does not read: {}", r.version, e.0));
            return s;
        }
    };
    let Some(deployment) = manifests.iter().find(|m| m.kind == "Deployment") else { return s };
    let ns = gantry_release::manifest::yaml_to_json(&deployment.content).ok().and_then(|j| j["metadata"]["namespace"].as_str().map(String::from)).unwrap_or_else(|| namespace.to_string());
    let key = ObjectKey { api_version: deployment.api_version.clone(), kind: "Deployment".into(), namespace: Some(ns.clone()), name: deployment.object_name.clone() };
    match deployment_health(backend, &key).await {
        Ok((health, image, digest)) => {
            s.health = Some(health);
            s.image = image;
            s.digest = digest;
        }
        Err(e) => s.error = Some(e),
    }
    s
}

/// A Deployment's rollout, crash-looping pods, image and digest.
async fn deployment_health(backend: &gantry_cluster::KubeBackend, key: &ObjectKey) -> Result<(Health, Option<String>, Option<String>), String> {
    let missing = || Health { deployment: key.name.clone(), state: "missing".into(), desired: 0, updated: 0, ready: 0, available: 0, crash_looping: vec![], message: "the Deployment is not in the cluster".into() };
    let live = match backend.get(key).await {
        Ok(l) => l,
        Err(e) if e.kind == gantry_runtime::cluster::BackendErrorKind::NotFound => return Ok((missing(), None, None)),
        Err(e) => return Err(e.message),
    };
    let rollout = gantry_cluster::access::rollout_status("Deployment", &live)?;
    let image = live["spec"]["template"]["spec"]["containers"][0]["image"].as_str().map(String::from);
    let selector: Vec<String> = live["spec"]["selector"]["matchLabels"].as_object().into_iter().flatten().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    let namespace = key.namespace.clone().unwrap_or_default();
    let pods = if selector.is_empty() {
        Vec::new()
    } else {
        backend.list("v1", "Pod", &namespace, &ListQuery { label_selector: Some(selector.join(",")), ..ListQuery::default() }).await.map_err(|e| e.message)?
    };
    let crash_looping: Vec<String> = pods
        .iter()
        .map(gantry_cluster::access::pod_info)
        .filter(|p| p.containers.iter().any(|c| c.reason.as_deref() == Some("CrashLoopBackOff")))
        .map(|p| p.name)
        .collect();
    // The digest: in the reference itself, else what the kubelet pulled (`imageID`, `REPO@sha256:…`).
    let digest = image.as_deref().and_then(|i| i.split_once('@')).map(|(_, d)| d.to_string()).or_else(|| {
        pods.iter()
            .flat_map(|p| p["status"]["containerStatuses"].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c["imageID"].as_str().and_then(|id| id.rsplit_once('@')).map(|(_, d)| d.to_string()))
            .find(|d| d.starts_with("sha256:"))
    });
    let state = if !crash_looping.is_empty() {
        "crash-looping"
    } else if rollout.done && rollout.ready >= rollout.desired {
        "healthy"
    } else {
        "progressing"
    };
    let health = Health {
        deployment: key.name.clone(),
        state: state.into(),
        desired: rollout.desired,
        updated: rollout.updated,
        ready: rollout.ready,
        available: rollout.available,
        crash_looping,
        message: rollout.message,
    };
    Ok((health, image, digest))
}

/// A row per target × track, then each target's last run and any errors.
fn human(targets: &[TargetStatus]) -> String {
    let header = ["TARGET", "TRACK", "RELEASE", "REVISION", "STATUS", "CHART", "UPDATED", "IMAGE", "DIGEST", "READY", "HEALTH"].map(String::from);
    let dash = || "-".to_string();
    let mut rows = Vec::new();
    for t in targets {
        for r in &t.releases {
            let (ready, health) = match &r.health {
                Some(h) => {
                    let mut state = h.state.clone();
                    if !h.crash_looping.is_empty() {
                        state = format!("{state} ({})", h.crash_looping.join(", "));
                    }
                    (format!("{}/{} ({} updated)", h.ready, h.desired, h.updated), state)
                }
                None => (dash(), dash()),
            };
            rows.push(vec![
                t.target.clone(),
                r.track.to_string(),
                r.release.clone(),
                r.revision.map(|v| v.to_string()).unwrap_or_else(dash),
                r.status.clone().unwrap_or_else(|| if r.error.is_some() { "unknown".into() } else { "not installed".into() }),
                r.chart.clone().unwrap_or_else(dash),
                r.updated.as_deref().map(output::when).unwrap_or_else(dash),
                r.image.as_deref().map(|i| i.split('@').next().unwrap_or(i).to_string()).unwrap_or_else(dash),
                r.digest.as_deref().map(output::short_digest).unwrap_or_else(dash),
                ready,
                health,
            ]);
        }
    }
    let mut out = output::table(&header, &rows);
    for t in targets {
        match &t.last_run {
            Some(l) => {
                let failed = l.failed_stage.as_ref().map(|f| format!(", failed at {f}")).unwrap_or_default();
                out.push_str(&format!("{}: last run {} {} at {}{failed}\n", t.target, l.run_id, l.status, output::when(&l.started)));
            }
            None => out.push_str(&format!("{}: no run recorded\n", t.target)),
        }
        for r in t.releases.iter().filter_map(|r| r.error.as_ref()) {
            out.push_str(&format!("{}: error: {r}\n", t.target));
        }
    }
    out
}
