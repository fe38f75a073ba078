//! Running a plan. Stages run in order and are barriers: a per-target stage
//! runs on every target at once (one task each), and the next stage starts
//! only when all of them passed. The first failure — or an interrupt —
//! stops the run; `on-failure` then runs for every target that a stage
//! touched, under its own cancellation token so that the first Ctrl-C does
//! not stop the rollback (a second one does). The record is written last,
//! whatever happened.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use gantry_runtime::{wit, CallEnv, ImageInfo, Limits, LogLine, ReleaseInfo, RunContext, Runtime, StageRecord, TargetInfo};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::event::{Event, EventSink, RunStatus, StepError, StepStatus};
use crate::analysis::{self, Analyzer, Recheck};
use crate::health::{self, Checker, Driven};
use crate::plan::{Driver, Plan, PlannedStage};
use crate::record::{self, RunRecord, StageRecordOut, StepRecord};
use crate::redact::Redactor;

/// How to run.
pub struct RunOptions {
    /// Where run records go (`.gantry`).
    pub state_dir: PathBuf,
    /// Cancelled on the first SIGINT/SIGTERM: stops the stages.
    pub cancel: CancellationToken,
    /// Cancelled on the second: stops `on-failure` too.
    pub abort: CancellationToken,
    pub events: EventSink,
    /// The commit being deployed (CI_COMMIT_SHA).
    pub revision: Option<String>,
    /// The targets' cluster connections, by target name; every stage's
    /// cluster capabilities reach them (scoped to the stage's targets).
    pub clusters: gantry_runtime::Clusters,
    /// The targets' Helm releases, by target name; every stage's `helm`
    /// capability reaches them (scoped to its targets, namespace and releases).
    pub helm: gantry_runtime::HelmBackends,
    /// The registries and builders of the run's image; every stage's
    /// `registry` and `builder` reach them (scoped to the pipeline's image).
    pub images: gantry_runtime::ImageBackendRef,
    /// Image scans of the run's image; every stage's `scanner` reaches it
    /// (scoped to the pipeline's image).
    pub scanner: gantry_runtime::ScanBackendRef,
    /// Each target's metrics provider, by target name; every stage's
    /// `metrics` reaches its own target's.
    pub metrics: gantry_runtime::MetricsBackends,
}

/// The result of a run.
pub struct RunOutcome {
    pub status: RunStatus,
    pub interrupted: bool,
    pub record: RunRecord,
    pub record_path: Option<PathBuf>,
}

/// Documented exit codes.
pub mod exit {
    pub const SUCCESS: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const BAD_INPUT: i32 = 2;
    pub const ROLLBACK_FAILED: i32 = 3;
    pub const INTERNAL: i32 = 4;
}

impl RunStatus {
    pub fn exit_code(self) -> i32 {
        match self {
            RunStatus::Succeeded => exit::SUCCESS,
            RunStatus::Failed => exit::FAILED,
            RunStatus::RollbackFailed => exit::ROLLBACK_FAILED,
        }
    }
}

/// A new run id: UTC time plus a random suffix, sortable by start time.
pub fn new_run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mix = (nanos as u64) ^ ((std::process::id() as u64) << 32) ^ (&now as *const _ as u64);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{:06x}",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        (mix.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) & 0xFF_FFFF
    )
}

struct Shared {
    runtime: Arc<Runtime>,
    plan: Arc<Plan>,
    run_id: String,
    revision: Option<String>,
    events: EventSink,
    redact: Redactor,
    clusters: gantry_runtime::Clusters,
    helm: gantry_runtime::HelmBackends,
    images: gantry_runtime::ImageBackendRef,
    scanner: gantry_runtime::ScanBackendRef,
    metrics: gantry_runtime::MetricsBackends,
}

/// Run `plan` to the end (success, failure and rollback, or interrupt).
pub async fn run(plan: Arc<Plan>, runtime: Arc<Runtime>, opts: RunOptions) -> RunOutcome {
    let run_id = new_run_id();
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let spec = &plan.pipeline.spec;
    let shared = Arc::new(Shared {
        runtime,
        plan: plan.clone(),
        run_id: run_id.clone(),
        revision: opts.revision.clone(),
        events: opts.events.clone(),
        redact: Redactor::new(plan.pipeline.secrets.clone()),
        clusters: opts.clusters.clone(),
        helm: opts.helm.clone(),
        images: opts.images.clone(),
        scanner: opts.scanner.clone(),
        metrics: opts.metrics.clone(),
    });
    let span = tracing::info_span!("run", run_id = %run_id, pipeline = %spec.name);
    let _enter = span.enter();
    (opts.events)(&Event::RunStarted {
        run_id: run_id.clone(),
        pipeline: spec.name.clone(),
        file: plan.pipeline.file.display().to_string(),
        stages: plan.stages.iter().map(|s| s.name.clone()).collect(),
        targets: plan.targets.iter().map(|t| t.name.clone()).collect(),
    });

    let mut history: Vec<StageRecord> = Vec::new();
    let mut stage_records: Vec<StageRecordOut> = Vec::new();
    let mut touched: Vec<String> = Vec::new();
    let mut failed_stage: Option<String> = None;

    for stage in &plan.stages {
        if failed_stage.is_some() || opts.cancel.is_cancelled() {
            if failed_stage.is_none() {
                failed_stage = Some(stage.name.clone());
            }
            stage_records.push(StageRecordOut { name: stage.name.clone(), uses: stage.uses.clone(), digest: stage.plugin.digest.clone(), once: stage.once, status: StepStatus::Skipped, steps: vec![] });
            continue;
        }
        let targets: Vec<Option<TargetInfo>> = if stage.once { vec![None] } else { plan.targets.iter().cloned().map(Some).collect() };
        for t in targets.iter().flatten() {
            if !touched.contains(&t.name) {
                touched.push(t.name.clone());
            }
        }
        let steps = run_stage(&shared, stage, targets, &history, false, opts.cancel.clone()).await;
        let status = stage_status(&steps);
        for s in &steps {
            history.push(StageRecord { stage: stage.name.clone(), target: s.target.clone(), status: s.status.as_str().to_string(), outputs: s.outputs.clone() });
        }
        stage_records.push(StageRecordOut { name: stage.name.clone(), uses: stage.uses.clone(), digest: stage.plugin.digest.clone(), once: stage.once, status, steps });
        if status != StepStatus::Succeeded {
            failed_stage = Some(stage.name.clone());
        }
    }

    let interrupted = opts.cancel.is_cancelled();
    let mut status = RunStatus::Succeeded;
    let mut on_failure_record = None;
    if let Some(failed) = &failed_stage {
        status = RunStatus::Failed;
        if let Some(recovery) = &plan.on_failure {
            touched.sort_by_key(|t| plan.targets.iter().position(|p| &p.name == t));
            (opts.events)(&Event::RecoveryStarted { failed_stage: failed.clone(), targets: touched.clone() });
            let targets: Vec<Option<TargetInfo>> = plan.targets.iter().filter(|t| touched.contains(&t.name)).cloned().map(Some).collect();
            if !targets.is_empty() {
                let steps = run_stage(&shared, recovery, targets, &history, true, opts.abort.clone()).await;
                let rstatus = stage_status(&steps);
                if rstatus != StepStatus::Succeeded {
                    status = RunStatus::RollbackFailed;
                }
                on_failure_record = Some(StageRecordOut { name: recovery.name.clone(), uses: recovery.uses.clone(), digest: recovery.plugin.digest.clone(), once: false, status: rstatus, steps });
            }
        }
    }

    let duration_ms = clock.elapsed().as_millis() as u64;
    let mut record = RunRecord {
        run_id: run_id.clone(),
        pipeline: spec.name.clone(),
        file: plan.pipeline.file.display().to_string(),
        started: record::timestamp(started_at),
        finished: record::timestamp(SystemTime::now()),
        duration_ms,
        status,
        exit_code: status.exit_code(),
        interrupted,
        revision: opts.revision.clone(),
        targets: plan.targets.iter().map(|t| t.name.clone()).collect(),
        variables: plan.pipeline.used_vars.iter().cloned().collect(),
        stages: stage_records,
        failed_stage,
        on_failure: on_failure_record,
    };
    let record_path = match record::write(&opts.state_dir, &record) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(error = %e, dir = %opts.state_dir.display(), "could not write the run record");
            None
        }
    };
    record.exit_code = status.exit_code();
    (opts.events)(&Event::RunFinished { run_id, status, duration_ms, record: record_path.as_ref().map(|p| p.display().to_string()) });
    RunOutcome { status, interrupted, record, record_path }
}

fn stage_status(steps: &[StepRecord]) -> StepStatus {
    if steps.iter().all(|s| s.status == StepStatus::Succeeded) {
        StepStatus::Succeeded
    } else if steps.iter().any(|s| s.status == StepStatus::Interrupted) {
        StepStatus::Interrupted
    } else {
        StepStatus::Failed
    }
}

/// One stage on the given targets, all at once; returns when all are done.
async fn run_stage(shared: &Arc<Shared>, stage: &PlannedStage, targets: Vec<Option<TargetInfo>>, history: &[StageRecord], recovering: bool, cancel: CancellationToken) -> Vec<StepRecord> {
    let index = if recovering { None } else { shared.plan.stages.iter().position(|s| std::ptr::eq(s, stage)) };
    (shared.events)(&Event::StageStarted { stage: stage.name.clone(), targets: targets.iter().map(|t| t.as_ref().map(|t| t.name.clone())).collect(), recovering });
    let history = Arc::new(history.to_vec());
    let mut tasks = tokio::task::JoinSet::new();
    for (slot, target) in targets.iter().cloned().enumerate() {
        let shared = shared.clone();
        let history = history.clone();
        let cancel = cancel.clone();
        let span = tracing::info_span!("stage", stage = %stage.name, target = target.as_ref().map(|t| t.name.as_str()).unwrap_or("-"));
        tasks.spawn(
            async move {
                let stage = match index {
                    Some(i) => &shared.plan.stages[i],
                    None => shared.plan.on_failure.as_ref().expect("recovering implies on-failure"),
                };
                (slot, step(&shared, stage, target, history, recovering, cancel).await)
            }
            .instrument(span),
        );
    }
    let mut results: Vec<Option<StepRecord>> = vec![None; targets.len()];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((slot, record)) => results[slot] = Some(record),
            Err(e) => tracing::error!(error = %e, "a stage task panicked"),
        }
    }
    let steps: Vec<StepRecord> = results
        .into_iter()
        .zip(targets)
        .map(|(r, t)| {
            r.unwrap_or_else(|| StepRecord {
                target: t.map(|t| t.name),
                status: StepStatus::Failed,
                started: record::timestamp(SystemTime::now()),
                duration_ms: 0,
                summary: String::new(),
                outputs: serde_json::json!({}),
                error: Some(StepError { kind: "internal".into(), message: "the stage task panicked; this is a gantry bug".into(), hint: None }),
                logs: vec![],
            })
        })
        .collect();
    (shared.events)(&Event::StageFinished { stage: stage.name.clone(), status: stage_status(&steps) });
    steps
}

/// One stage on one target (or once).
async fn step(shared: &Arc<Shared>, stage: &PlannedStage, target: Option<TargetInfo>, history: Arc<Vec<StageRecord>>, recovering: bool, cancel: CancellationToken) -> StepRecord {
    let plan = &shared.plan;
    let spec = &plan.pipeline.spec;
    let target_name = target.as_ref().map(|t| t.name.clone());
    (shared.events)(&Event::StepStarted { stage: stage.name.clone(), target: target_name.clone() });
    let started = SystemTime::now();
    let clock = Instant::now();

    let logs: Arc<Mutex<Vec<LogLine>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let logs = logs.clone();
        let events = shared.events.clone();
        let redact = shared.redact.clone();
        let stage_name = stage.name.clone();
        let target_name = target_name.clone();
        Arc::new(move |mut line: LogLine| {
            line.message = redact.text(&line.message);
            for (_, v) in line.fields.iter_mut() {
                *v = redact.text(v);
            }
            tracing::debug!(source = ?line.source, "{}", line.message);
            events(&Event::Log { stage: stage_name.clone(), target: target_name.clone(), line: line.clone() });
            logs.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        })
    };

    let release = spec.release.as_ref();
    let run = RunContext {
        run_id: shared.run_id.clone(),
        pipeline: spec.name.clone(),
        stage: stage.name.clone(),
        recovering,
        targets: plan.targets.clone(),
        image: spec.image.as_ref().map(|i| ImageInfo { name: i.name.clone(), tag: i.tag.clone(), digest: None }),
        release: release.map(|r| ReleaseInfo { name: r.name.clone(), chart: r.chart.clone(), namespace: r.namespace.clone() }),
        revision: shared.revision.clone(),
        history: history.to_vec(),
    };
    let env = CallEnv {
        run: Arc::new(run),
        scope: Arc::new(scope_of(plan, stage, target.as_ref())),
        grants: Arc::new(stage.grants.clone()),
        limits: stage.limits,
        log: sink,
        cancel: cancel.clone(),
        clusters: shared.clusters.clone(),
        helm: shared.helm.clone(),
        images: shared.images.clone(),
        scanner: shared.scanner.clone(),
        metrics: shared.metrics.clone(),
    };
    let Driven { status, summary, outputs, error } = match (&stage.driver, target.as_ref(), release) {
        (Driver::Stage, _, _) => call_stage(shared, stage, &env, target.as_ref()).await,
        (Driver::Health(health_spec), Some(t), Some(r)) => {
            let track = health::resolve_track(health_spec.track, &t.name, &history);
            let env = CallEnv { limits: Limits { timeout: health_spec.timeout, ..stage.limits }, ..env };
            let checker = Checker { runtime: &shared.runtime, plugin: &stage.plugin, env, target: t.clone(), track, release: track.release(&r.name), namespace: r.namespace.clone(), settings: stage.settings.to_string() };
            health::drive(&checker, health_spec, &cancel).await
        }
        (Driver::Wait(wait_spec), Some(t), Some(r)) => {
            let recheck = if wait_spec.health { recheck_of(shared, stage, t, r, &env) } else { None };
            let analyzer = Analyzer { runtime: &shared.runtime, plugin: &stage.plugin, env, target: t.clone(), stable: r.name.clone(), namespace: r.namespace.clone(), settings: stage.settings.to_string() };
            analysis::drive(&analyzer, wait_spec, recheck.as_ref(), &cancel).await
        }
        (_, _, _) => Driven {
            status: StepStatus::Failed,
            summary: String::new(),
            outputs: serde_json::json!({}),
            error: Some(StepError { kind: "internal".into(), message: format!("stage `{}` is driven per target on the pipeline's release, but has no target or release here; this is a gantry bug", stage.name), hint: None }),
        },
    };
    let summary = shared.redact.text(&summary);
    let outputs = shared.redact.json(&outputs);
    let error = error.map(|e| StepError { kind: e.kind, message: shared.redact.text(&e.message), hint: e.hint.map(|h| shared.redact.text(&h)) });
    let duration_ms = clock.elapsed().as_millis() as u64;
    (shared.events)(&Event::StepFinished { stage: stage.name.clone(), target: target_name.clone(), status, duration_ms, summary: summary.clone(), error: error.clone() });
    let logs = std::mem::take(&mut *logs.lock().unwrap_or_else(|p| p.into_inner()));
    StepRecord { target: target_name, status, started: record::timestamp(started), duration_ms, summary, outputs, error, logs }
}

/// What one stage's host calls may touch on `target` (all targets when none).
fn scope_of(plan: &Plan, stage: &PlannedStage, target: Option<&TargetInfo>) -> gantry_runtime::scope::Scope {
    let spec = &plan.pipeline.spec;
    let release = spec.release.as_ref();
    gantry_runtime::scope::Scope {
        targets: match target {
            Some(t) => vec![t.name.clone()],
            None => plan.targets.iter().map(|t| t.name.clone()).collect(),
        },
        namespace: release.map(|r| r.namespace.clone()).unwrap_or_else(|| "default".into()),
        releases: release.map(|r| vec![r.name.clone(), format!("{}-canary", r.name)]).unwrap_or_default(),
        urls: stage.settings.get("urls").and_then(|u| u.as_array()).map(|a| a.iter().filter_map(|u| u.as_str().map(String::from)).collect()).unwrap_or_default(),
        registries: plan.targets.iter().filter_map(|t| t.registry.clone()).collect(),
        image: spec.image.as_ref().map(|i| i.name.clone()),
        build: spec.image.as_ref().and_then(|i| i.build.as_ref()).map(|b| gantry_runtime::scope::BuildScope {
            context: b.context.clone(),
            dir: plan.pipeline.dir.join(&b.context),
            dockerfile: b.dockerfile.clone(),
            target: b.target.clone(),
            args: b.args.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }),
    }
}

/// One `run` of a `stage` plugin.
async fn call_stage(shared: &Shared, stage: &PlannedStage, env: &CallEnv, target: Option<&TargetInfo>) -> Driven {
    let input = wit::stage_types::StageInput { settings: stage.settings.to_string(), target: target.map(gantry_runtime::wit_target) };
    match shared.runtime.call_stage(&stage.plugin, env, input).await {
        Ok(out) => {
            let outputs: serde_json::Value = serde_json::from_str(&out.outputs).unwrap_or_else(|_| serde_json::json!({ "raw": out.outputs }));
            Driven { status: StepStatus::Succeeded, summary: out.summary, outputs, error: None }
        }
        Err(e) => {
            let status = if matches!(e, gantry_runtime::CallError::Interrupted) { StepStatus::Interrupted } else { StepStatus::Failed };
            Driven { status, summary: String::new(), outputs: serde_json::json!({}), error: Some(StepError { kind: e.kind().to_string(), message: e.to_string(), hint: e.hint() }) }
        }
    }
}

/// The health check a wait re-runs on the canary: the latest health-check
/// stage before `wait`, with its own plugin, settings, grants and timeout.
fn recheck_of<'a>(shared: &'a Shared, wait: &PlannedStage, target: &TargetInfo, release: &crate::pipeline::model::ReleaseSpec, env: &CallEnv) -> Option<Recheck<'a>> {
    let index = shared.plan.stages.iter().position(|s| std::ptr::eq(s, wait))?;
    let (stage, spec) = shared.plan.stages[..index].iter().rev().find_map(|s| match &s.driver {
        Driver::Health(spec) => Some((s, spec)),
        _ => None,
    })?;
    let env = CallEnv {
        scope: Arc::new(scope_of(&shared.plan, stage, Some(target))),
        grants: Arc::new(stage.grants.clone()),
        limits: Limits { timeout: spec.timeout, ..stage.limits },
        ..env.clone()
    };
    let track = health::Track::Canary;
    let checker = Checker { runtime: &shared.runtime, plugin: &stage.plugin, env, target: target.clone(), track, release: track.release(&release.name), namespace: release.namespace.clone(), settings: stage.settings.to_string() };
    Some(Recheck { checker, failure_threshold: spec.failure_threshold, stage: stage.name.clone() })
}
