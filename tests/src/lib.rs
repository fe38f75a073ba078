//! gantry_tests: what the whole-system tests under `tests/tests/` share —
//! the hostile fixture components built by `build.rs`, a call environment
//! with small limits whose run log is kept for assertions, and the check
//! that a host is still healthy after a hostile call. Test support only:
//! nothing here is used by the gantry binary.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gantry_runtime::scope::Scope;
use gantry_runtime::wit::stage_types::{StageInput, StageOutput};
use gantry_runtime::{CallEnv, CallError, Capability, Limits, LogLine, Plugin, ReleaseInfo, RunContext, Runtime, RuntimeConfig, TargetInfo, TargetKind};

include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));

/// The component of `fixture-<name>` (e.g. `fixture("loop")`).
pub fn fixture(name: &str) -> Vec<u8> {
    let (_, path) = FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fixture `{name}`; tests/plugins has: {:?}", FIXTURES.iter().map(|(n, _)| n).collect::<Vec<_>>()));
    std::fs::read(path).unwrap_or_else(|e| panic!("reading fixture `{name}` at {path}: {e}"))
}

/// A runtime without a disk cache.
pub fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig::default()).expect("the wasmtime engine starts")
}

/// Load `fixture-<name>` into `runtime` as plugin `fixture:<name>`.
pub fn load_fixture(runtime: &Runtime, name: &str) -> Plugin {
    runtime.load(&format!("fixture:{name}"), &fixture(name), None).unwrap_or_else(|e| panic!("loading fixture `{name}`: {e}"))
}

/// The limits of a test call: 2 s, 64 MiB of memory, 64 KiB of log.
pub fn small_limits() -> Limits {
    Limits { memory: 64 << 20, timeout: Duration::from_secs(2), log_bytes: 64 << 10 }
}

/// The one target of the test stage.
pub fn aws_target() -> TargetInfo {
    TargetInfo {
        name: "aws".into(),
        kind: TargetKind::Sim,
        cluster: "sim-aws".into(),
        region: Some("eu-west-1".into()),
        registry: Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com".into()),
    }
}

/// The stage's reach: target `aws`, namespace `default`, releases `app` and `app-canary`.
pub fn scope() -> Scope {
    Scope {
        targets: vec!["aws".into()],
        namespace: "default".into(),
        releases: vec!["app".into(), "app-canary".into()],
        urls: vec![],
        registries: vec!["123456789012.dkr.ecr.eu-west-1.amazonaws.com".into()],
        image: Some("app".into()),
        build: None,
    }
}

/// A fixed run: pipeline `sandbox`, stage `hostile`, no history.
pub fn run_context() -> RunContext {
    RunContext {
        run_id: "20260101-000000-test".into(),
        pipeline: "sandbox".into(),
        stage: "hostile".into(),
        recovering: false,
        targets: vec![aws_target()],
        image: None,
        release: Some(ReleaseInfo { name: "app".into(), chart: "./chart".into(), namespace: "default".into() }),
        revision: None,
        history: vec![],
    }
}

/// A call environment whose run log is collected for assertions.
pub struct TestEnv {
    pub env: CallEnv,
    pub lines: Arc<Mutex<Vec<LogLine>>>,
}

impl TestEnv {
    /// Small limits (see [`small_limits`]), no grants beyond the always-granted ones.
    pub fn new() -> TestEnv {
        TestEnv::with_limits(small_limits())
    }

    pub fn with_limits(limits: Limits) -> TestEnv {
        TestEnv::with(limits, vec![])
    }

    pub fn with(limits: Limits, grants: Vec<Capability>) -> TestEnv {
        let lines: Arc<Mutex<Vec<LogLine>>> = Arc::default();
        let sink = lines.clone();
        let env = CallEnv {
            run: Arc::new(run_context()),
            scope: Arc::new(scope()),
            grants: Arc::new(grants),
            limits,
            log: Arc::new(move |line| sink.lock().unwrap().push(line)),
            cancel: tokio_util::sync::CancellationToken::new(),
            clusters: Default::default(),
            helm: Default::default(),
            images: None,
            scanner: None,
            metrics: Default::default(),
        };
        TestEnv { env, lines }
    }

    /// Every run-log line so far.
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().unwrap().clone()
    }

    /// The whole run log as text (messages and fields), for "appears nowhere" checks.
    pub fn log_text(&self) -> String {
        let mut text = String::new();
        for line in self.lines() {
            text.push_str(&line.message);
            for (k, v) in &line.fields {
                text.push_str(&format!(" {k}={v}"));
            }
            text.push('\n');
        }
        text
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

/// A stage input for target `aws` with `settings` as the `with:` block.
pub fn stage_input(settings: serde_json::Value) -> StageInput {
    StageInput { settings: settings.to_string(), target: Some(gantry_runtime::wit_target(&aws_target())) }
}

/// Run `plugin` as a stage with `settings` in `env`.
pub async fn call(runtime: &Runtime, plugin: &Plugin, env: &TestEnv, settings: serde_json::Value) -> Result<StageOutput, CallError> {
    runtime.call_stage(plugin, &env.env, stage_input(settings)).await
}

/// The stage's outputs as JSON.
pub fn outputs(output: &StageOutput) -> serde_json::Value {
    serde_json::from_str(&output.outputs).expect("stage outputs are JSON")
}

/// Panic unless `runtime` still runs a well-behaved plugin: `builtin:echo`
/// with `{"message": "still alive"}` succeeds and echoes its message.
pub async fn assert_host_survives(runtime: &Runtime) {
    let echo = gantry_plugins::builtin("echo").expect("builtin:echo is embedded");
    let plugin = runtime.load("builtin:echo", echo.wasm, None).expect("builtin:echo loads");
    let env = TestEnv::new();
    let out = call(runtime, &plugin, &env, serde_json::json!({ "message": "still alive" }))
        .await
        .unwrap_or_else(|e| panic!("the host no longer runs builtin:echo after a hostile call: {e}"));
    assert_eq!(outputs(&out)["message"], "still alive");
}
