//! From a checked pipeline to a runnable plan: every plugin loaded (from the
//! embedded built-ins, a file, verified against its pin), its world checked,
//! its imports compared with the stage's grants, its limits resolved. A plan
//! that builds is a pipeline that can start; nothing here runs a plugin.

use std::sync::Arc;
use std::time::Duration;

use gantry_runtime::{Capability, Limits, Plugin, Runtime, TargetInfo, TargetKind, World};

use crate::analysis::WaitSpec;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::health::{HealthSpec, SettingError};
use crate::pipeline::load::{parse_duration, parse_memory, DEFAULT_MEMORY, DEFAULT_TIMEOUT};
use crate::pipeline::model::{OnFailure, TargetSpec};
use crate::pipeline::{Pipeline, PluginRef};

/// One stage, ready to run.
pub struct PlannedStage {
    pub name: String,
    pub uses: String,
    /// Field path of the stage in the file (`stages[2]`, `on-failure`).
    pub field: String,
    pub plugin: Arc<Plugin>,
    pub grants: Vec<Capability>,
    pub limits: Limits,
    pub once: bool,
    /// The plugin's settings: the stage's `with:`, without the keys the
    /// host reserves for health checks and waits.
    pub settings: serde_json::Value,
    /// Who drives the plugin: one `run` call, or the host's health or wait loop.
    pub driver: Driver,
}

/// How a stage's plugin is called, by its world.
#[derive(Debug, Clone, PartialEq)]
pub enum Driver {
    /// A `stage` component: one `run` per target (or once).
    Stage,
    /// A `health-check` component: `check` until healthy, unhealthy or the deadline.
    Health(HealthSpec),
    /// A `canary-analysis` component: `analyze` at every interval of the wait.
    Wait(WaitSpec),
}

/// A whole pipeline, ready to run.
pub struct Plan {
    pub pipeline: Pipeline,
    pub targets: Vec<TargetInfo>,
    pub stages: Vec<PlannedStage>,
    pub on_failure: Option<PlannedStage>,
}

/// Default log budget per plugin call.
pub const LOG_BYTES: usize = 1 << 20;

pub fn plan(pipeline: Pipeline, runtime: &Runtime) -> Result<Plan, Diagnostics> {
    let mut problems = Vec::new();
    let mut loaded: Vec<(String, Arc<Plugin>)> = Vec::new();
    let mut stages = Vec::new();
    let spec = &pipeline.spec;

    for (i, s) in spec.stages.iter().enumerate() {
        let field = format!("stages[{i}]");
        let body = Body { uses: &s.uses, grants: &s.grants, timeout: s.timeout.as_deref(), memory: s.memory.as_deref(), with: s.with.clone() };
        match prepare(&pipeline, runtime, &mut loaded, &s.name, &field, body) {
            Ok(mut p) => {
                p.once = s.runs_once();
                if p.once && p.driver != Driver::Stage {
                    let pos = pipeline.locator.value(&format!("{field}.once"));
                    problems.push(Diagnostic {
                        file: pipeline.file.clone(),
                        line: pos.line,
                        column: pos.column,
                        field: format!("{field}.once"),
                        message: format!("stage `{}`: a `{}` plugin runs per target", s.name, p.plugin.world),
                        hint: Some("remove `once: true`".into()),
                    });
                }
                stages.push(p);
            }
            Err(d) => problems.push(d),
        }
    }
    let on_failure = match &spec.on_failure {
        None => None,
        Some(of) => {
            let body = match of {
                OnFailure::Uses(uses) => Body { uses, grants: &[], timeout: None, memory: None, with: None },
                OnFailure::Stage(s) => Body { uses: &s.uses, grants: &s.grants, timeout: s.timeout.as_deref(), memory: s.memory.as_deref(), with: s.with.clone() },
            };
            match prepare(&pipeline, runtime, &mut loaded, "on-failure", "on-failure", body) {
                Ok(p) => Some(p),
                Err(d) => {
                    problems.push(d);
                    None
                }
            }
        }
    };
    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }
    let targets = spec.targets.iter().map(|(name, t)| target_info(name, t)).collect();
    Ok(Plan { pipeline, targets, stages, on_failure })
}

impl Plan {
    /// `gantry run --wait DURATION`: every wait lasts `duration`, its
    /// interval scaled so that the count of intervals stays (at least 100ms).
    pub fn shorten_waits(&mut self, duration: Duration) {
        for stage in &mut self.stages {
            if let Driver::Wait(spec) = &stage.driver {
                stage.driver = Driver::Wait(spec.shortened(duration));
            }
        }
    }
}

struct Body<'a> {
    uses: &'a str,
    grants: &'a [String],
    timeout: Option<&'a str>,
    memory: Option<&'a str>,
    with: Option<serde_json::Value>,
}

fn prepare(pipeline: &Pipeline, runtime: &Runtime, loaded: &mut Vec<(String, Arc<Plugin>)>, name: &str, field: &str, body: Body<'_>) -> Result<PlannedStage, Diagnostic> {
    let at = |sub: &str, message: String, hint: Option<String>| {
        let path = format!("{field}.{sub}");
        let pos = pipeline.locator.value(&path);
        Diagnostic { file: pipeline.file.clone(), line: pos.line, column: pos.column, field: path, message, hint }
    };
    let reference = PluginRef::parse(body.uses).map_err(|m| at("uses", m, None))?;
    let (plugin_name, bytes, default_grants): (String, Vec<u8>, Vec<Capability>) = match &reference {
        PluginRef::Builtin { name: b, .. } => {
            let builtin = gantry_plugins::builtin(b).ok_or_else(|| at("uses", format!("there is no built-in plugin `{b}`"), None))?;
            let grants = builtin.grants.iter().filter_map(|g| Capability::from_name(g)).collect();
            (format!("builtin:{b}"), builtin.wasm.to_vec(), grants)
        }
        PluginRef::File { path, .. } => {
            let full = pipeline.dir.join(path);
            let bytes = std::fs::read(&full).map_err(|e| at("uses", format!("cannot read plugin `{}`: {e}", full.display()), None))?;
            (path.display().to_string(), bytes, Vec::new())
        }
        PluginRef::Oci { .. } => return Err(at("uses", "`oci://` plugin references are not supported by this build of gantry yet".into(), None)),
    };

    let key = format!("{}{}", plugin_name, reference.pin().unwrap_or(""));
    let plugin = match loaded.iter().find(|(k, _)| *k == key) {
        Some((_, p)) => p.clone(),
        None => {
            let p = Arc::new(runtime.load(&plugin_name, &bytes, reference.pin()).map_err(|e| at("uses", e.to_string(), None))?);
            loaded.push((key, p.clone()));
            p
        }
    };
    let recovering = field == "on-failure";
    let allowed = if recovering { plugin.world == World::Stage } else { plugin.world != World::ScanPolicy };
    if !allowed {
        let wanted = if recovering { "`on-failure` needs a `stage` plugin" } else { "a stage needs a `stage`, `health-check` or `canary-analysis` plugin" };
        return Err(at("uses", format!("`{plugin_name}` is a `{}` plugin; {wanted}", plugin.world), Some(format!("a `{}` plugin is used inside a stage's settings, not as `uses:`", plugin.world))));
    }
    let with = body.with.unwrap_or_else(|| serde_json::json!({}));
    let (driver, settings) = driver_of(plugin.world, &with).map_err(|e| {
        let e = e.into_iter().next().expect("driver_of reports at least one error");
        at(&format!("with.{}", e.key), e.message, e.hint)
    })?;
    if driver != Driver::Stage && pipeline.spec.release.is_none() {
        return Err(at("uses", format!("stage `{name}`: a `{}` plugin checks the pipeline's release, but the pipeline has no `release:`", plugin.world), Some("add `release: { name: …, chart: … }`".into())));
    }

    let mut grants = default_grants;
    grants.extend(body.grants.iter().filter_map(|g| Capability::from_name(g)));
    grants.sort();
    grants.dedup();
    if let Err(refusal) = plugin.check_grants(&grants) {
        if !refusal.foreign.is_empty() {
            return Err(at(
                "uses",
                format!("stage `{name}`: plugin `{plugin_name}` imports {}, which gantry does not provide", refusal.foreign.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")),
                Some("plugins reach clusters, registries and the network only through gantry:deploy capabilities; rebuild it without that import (e.g. `--disable http` for jco)".into()),
            ));
        }
        let missing: Vec<&str> = refusal.ungranted.iter().map(|c| c.name()).collect();
        let (sub, hint) = if body.grants.is_empty() {
            ("uses".to_string(), format!("add `grants: [{}]` to stage `{name}`", missing.join(", ")))
        } else {
            let pos = pipeline.locator.value(&format!("{field}.grants"));
            ("grants".to_string(), format!("add {} to the `grants:` list of stage `{name}` (line {})", missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "), pos.line))
        };
        return Err(at(
            &sub,
            format!("stage `{name}`: plugin `{plugin_name}` imports the capabilit{} {}, which the pipeline does not grant it", if missing.len() == 1 { "y" } else { "ies" }, missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")),
            Some(hint),
        ));
    }
    runtime.prepare(&plugin).map_err(|e| at("uses", e.to_string(), None))?;

    let timeout = match (body.timeout, &driver) {
        (Some(t), _) => parse_duration(t).map_err(|m| at("timeout", m, None))?,
        // A health check's calls are bounded by its per-evaluation `with.timeout`.
        (None, Driver::Health(spec)) => spec.timeout,
        (None, _) => DEFAULT_TIMEOUT,
    };
    let memory = match body.memory {
        Some(m) => parse_memory(m).map_err(|e| at("memory", e, None))?,
        None => DEFAULT_MEMORY,
    };
    Ok(PlannedStage {
        name: name.to_string(),
        uses: body.uses.to_string(),
        field: field.to_string(),
        plugin,
        grants,
        limits: Limits { memory, timeout: timeout.max(Duration::from_millis(1)), log_bytes: LOG_BYTES },
        once: false,
        settings,
        driver,
    })
}

/// The driver of a plugin of `world` with `with:`, and the settings it gets;
/// or every bad reserved key.
pub fn driver_of(world: World, with: &serde_json::Value) -> Result<(Driver, serde_json::Value), Vec<SettingError>> {
    Ok(match world {
        World::HealthCheck => (Driver::Health(HealthSpec::parse(with)?), crate::health::plugin_settings(with, &crate::health::RESERVED)),
        World::CanaryAnalysis => (Driver::Wait(WaitSpec::parse(with)?), crate::health::plugin_settings(with, &crate::analysis::RESERVED)),
        World::Stage | World::ScanPolicy => (Driver::Stage, with.clone()),
    })
}

fn target_info(name: &str, t: &TargetSpec) -> TargetInfo {
    let (kind, cluster, region) = if let Some(e) = &t.eks {
        (TargetKind::Eks, e.cluster.clone(), Some(e.region.clone()))
    } else if let Some(g) = &t.gke {
        (TargetKind::Gke, g.cluster.clone(), g.region.clone().or_else(|| g.zone.clone()))
    } else if let Some(k) = &t.kubeconfig {
        (TargetKind::Kubeconfig, k.context.clone(), None)
    } else {
        let sim = t.sim.clone().unwrap_or_default();
        (TargetKind::Sim, sim.cluster.unwrap_or_else(|| name.to_string()), sim.region)
    };
    TargetInfo { name: name.to_string(), kind, cluster, region, registry: t.registry.clone() }
}
