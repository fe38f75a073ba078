//! The wasmtime host: one engine and linker for the process, an epoch ticker
//! for deadlines and cancellation, and the four world calls. Every call gets
//! a fresh store with the call's limits; whatever the guest does — returns,
//! fails, traps, loops, floods, over-allocates — the call returns a value or
//! a `CallError` and the host carries on.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::{Config, Engine, Store, UpdateDeadline};

use crate::bindings::{canary_analysis, health_check, plugin_host, scan_policy, stage, wit};
use crate::cache::ComponentCache;
use crate::context::CallEnv;
use crate::error::{CallError, LoadError};
use crate::plugin::{digest, Plugin, World};
use crate::sandbox::{HostState, Stop};

/// How often the epoch advances: the granularity of deadlines and cancellation.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Runtime settings.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Compiled-component cache directory; none disables the disk cache.
    pub cache_dir: Option<PathBuf>,
}

/// The plugin host of one process.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: ComponentCache,
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> wasmtime::Result<Runtime> {
        let mut c = Config::new();
        c.wasm_component_model(true);
        c.epoch_interruption(true);
        c.cranelift_opt_level(wasmtime::OptLevel::Speed);
        let engine = Engine::new(&c)?;

        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        plugin_host::PluginHost::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;

        // The ticker holds only a weak handle: it ends when the engine is dropped.
        let weak = engine.weak();
        std::thread::Builder::new().name("gantry-epoch".into()).spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        })?;

        let cache = ComponentCache::new(&engine, config.cache_dir);
        Ok(Runtime { engine, linker, cache })
    }

    /// Compile (or load from the disk cache) and analyse a component.
    /// `pin` is an optional `sha256:<hex>` the bytes must match.
    pub fn load(&self, name: &str, bytes: &[u8], pin: Option<&str>) -> Result<Plugin, LoadError> {
        let actual = digest(bytes);
        if let Some(expected) = pin {
            if !expected.eq_ignore_ascii_case(&actual) {
                return Err(LoadError::DigestMismatch { plugin: name.into(), expected: expected.into(), actual });
            }
        }
        if is_core_module(bytes) {
            return Err(LoadError::NotAComponent {
                plugin: name.into(),
                reason: "this is a core WebAssembly module; build for `wasm32-wasip2` (or run `wasm-tools component new`) to get a component".into(),
            });
        }
        let (component, origin) = self
            .cache
            .load(&self.engine, &actual, bytes)
            .map_err(|e| LoadError::NotAComponent { plugin: name.into(), reason: format!("{e:#}") })?;
        Plugin::analyse(name, actual, bytes.len(), component, origin, &self.engine)
    }

    /// Link a plugin against the host (once per plugin). Fails when it
    /// imports something the host does not provide, or a newer WASI.
    pub fn prepare<'p>(&self, plugin: &'p Plugin) -> Result<&'p InstancePre<HostState>, LoadError> {
        if let Some(pre) = plugin.pre.get() {
            return Ok(pre);
        }
        let pre = self
            .linker
            .instantiate_pre(&plugin.component)
            .map_err(|e| LoadError::Link { plugin: plugin.name.clone(), reason: format!("{e:#}") })?;
        Ok(plugin.pre.get_or_init(|| pre))
    }

    fn store(&self, env: &CallEnv) -> Store<HostState> {
        let mut store = Store::new(&self.engine, HostState::new(env.clone()));
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        let cancel = env.cancel.clone();
        store.epoch_deadline_callback(move |mut ctx| {
            let state = ctx.data_mut();
            if cancel.is_cancelled() {
                state.stop = Some(Stop::Interrupted);
                return Ok(UpdateDeadline::Interrupt);
            }
            if Instant::now() >= state.deadline {
                state.stop = Some(Stop::Deadline);
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }

    /// Refuse a call before any guest code runs: a plugin of another world,
    /// or one importing a capability `env.grants` does not hold (the linker
    /// provides every capability, so the grants are enforced here).
    fn admit(plugin: &Plugin, env: &CallEnv, want: World) -> Result<(), CallError> {
        if plugin.world != want {
            return Err(CallError::Instantiate(format!(
                "{} is a `{}` plugin, but is used where a `{}` plugin is expected",
                plugin.name, plugin.world, want
            )));
        }
        if let Err(refusal) = plugin.check_grants(&env.grants) {
            let mut why: Vec<String> = refusal.ungranted.iter().map(|c| format!("`{c}` is not granted")).collect();
            why.extend(refusal.foreign.iter().map(|f| format!("`{f}` is not provided by gantry")));
            return Err(CallError::Instantiate(format!("{} imports capabilities this stage may not use: {}", plugin.name, why.join(", "))));
        }
        Ok(())
    }

    /// Run a `stage` plugin's `run`.
    pub async fn call_stage(&self, plugin: &Plugin, env: &CallEnv, input: wit::stage_types::StageInput) -> Result<wit::stage_types::StageOutput, CallError> {
        Self::admit(plugin, env, World::Stage)?;
        let pre = self.prepare(plugin).map_err(|e| CallError::Instantiate(e.to_string()))?;
        let mut store = self.store(env);
        let result = guarded(env, async {
            let bindings = stage::StagePre::new(pre.clone())?.instantiate_async(&mut store).await?;
            bindings.call_run(&mut store, &input).await
        })
        .await;
        match finish(&mut store, env, result)? {
            Ok(out) => Ok(out),
            Err(f) => Err(CallError::Failed { message: f.message, hint: f.hint }),
        }
    }

    /// Run a `scan-policy` plugin's `evaluate`.
    pub async fn call_scan_policy(&self, plugin: &Plugin, env: &CallEnv, report: wit::scan_types::ScanReport, settings: String) -> Result<wit::scan_types::Decision, CallError> {
        Self::admit(plugin, env, World::ScanPolicy)?;
        let pre = self.prepare(plugin).map_err(|e| CallError::Instantiate(e.to_string()))?;
        let mut store = self.store(env);
        let result = guarded(env, async {
            let bindings = scan_policy::ScanPolicyPre::new(pre.clone())?.instantiate_async(&mut store).await?;
            bindings.call_evaluate(&mut store, &report, &settings).await
        })
        .await;
        finish(&mut store, env, result)
    }

    /// Run a `health-check` plugin's `check`.
    pub async fn call_health_check(&self, plugin: &Plugin, env: &CallEnv, request: wit::health_types::CheckRequest) -> Result<wit::health_types::CheckReport, CallError> {
        Self::admit(plugin, env, World::HealthCheck)?;
        let pre = self.prepare(plugin).map_err(|e| CallError::Instantiate(e.to_string()))?;
        let mut store = self.store(env);
        let result = guarded(env, async {
            let bindings = health_check::HealthCheckPre::new(pre.clone())?.instantiate_async(&mut store).await?;
            bindings.call_check(&mut store, &request).await
        })
        .await;
        finish(&mut store, env, result)
    }

    /// Run a `canary-analysis` plugin's `analyze`.
    pub async fn call_canary_analysis(&self, plugin: &Plugin, env: &CallEnv, request: wit::analysis_types::AnalysisRequest) -> Result<wit::analysis_types::Verdict, CallError> {
        Self::admit(plugin, env, World::CanaryAnalysis)?;
        let pre = self.prepare(plugin).map_err(|e| CallError::Instantiate(e.to_string()))?;
        let mut store = self.store(env);
        let result = guarded(env, async {
            let bindings = canary_analysis::CanaryAnalysisPre::new(pre.clone())?.instantiate_async(&mut store).await?;
            bindings.call_analyze(&mut store, &request).await
        })
        .await;
        finish(&mut store, env, result)
    }
}

/// A backstop around the epoch deadline: host calls that await (sleeps,
/// network) are bounded by the deadline too, with a little grace so the
/// epoch callback, which knows the cause, normally fires first.
async fn guarded<T>(env: &CallEnv, fut: impl std::future::Future<Output = wasmtime::Result<T>>) -> Result<wasmtime::Result<T>, Stop> {
    let grace = env.limits.timeout + Duration::from_millis(250);
    tokio::select! {
        r = tokio::time::timeout(grace, fut) => r.map_err(|_| Stop::Deadline),
        // The epoch callback also sees the token and traps a running guest;
        // this branch ends calls parked in a host future (a WASI sleep).
        _ = env.cancel.cancelled() => Err(Stop::Interrupted),
    }
}

/// Turn a call's outcome into a value or a `CallError` that names the cause.
fn finish<T>(store: &mut Store<HostState>, env: &CallEnv, result: Result<wasmtime::Result<T>, Stop>) -> Result<T, CallError> {
    let state = store.data_mut();
    state.log().finish();
    let flooded = state.log().flooded();
    let stderr = state.log().stderr_tail();
    let stop = match (&result, state.stop, state.limiter.refused) {
        (Err(stop), _, _) => Some(*stop),
        (Ok(Err(_)), Some(stop), _) => Some(stop),
        (Ok(Err(_)), None, Some(requested)) => Some(Stop::MemoryCap { requested }),
        (Ok(Err(_)), None, None) if flooded => Some(Stop::LogFlood),
        _ => None,
    };
    let error = match (result, stop) {
        (Ok(Ok(value)), _) => return Ok(value),
        (_, Some(Stop::Deadline)) => CallError::Deadline { timeout: env.limits.timeout },
        (_, Some(Stop::Interrupted)) => CallError::Interrupted,
        (_, Some(Stop::MemoryCap { requested })) => CallError::MemoryCap { cap: env.limits.memory, requested },
        (_, Some(Stop::LogFlood)) => CallError::LogFlood { cap: env.limits.log_bytes },
        (Ok(Err(e)), None) => CallError::Trap { message: describe_trap(&e), stderr },
        (Err(_), None) => unreachable_stop(),
    };
    state.log().host(crate::context::Level::Error, error.to_string());
    Err(error)
}

fn unreachable_stop() -> CallError {
    CallError::Instantiate("internal: a stopped call without a cause".into())
}

fn describe_trap(e: &wasmtime::Error) -> String {
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        return match trap {
            wasmtime::Trap::UnreachableCodeReached => "the plugin aborted (a panic, or `unreachable`)".into(),
            other => other.to_string(),
        };
    }
    let mut chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    chain.dedup();
    chain.join(": ")
}

/// A core module starts with the magic and version 1; a component with
/// layer 1 in the version field.
fn is_core_module(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [1, 0, 0, 0]
}

