//! Containment: each hostile fixture plugin (tests/plugins/) run through
//! `Runtime::call_stage` ends in the one `CallError` that names what it did,
//! reaches nothing of the host (files, network, environment, other
//! targets), and leaves the host able to run the next plugin. Also the
//! load-time guards: grants read from imports, the compiled-component cache
//! and digest pins. No assertion here depends on how long anything took.

use std::io::ErrorKind as IoErrorKind;
use std::time::Duration;

use gantry_runtime::{CallError, Capability, Level, Limits, LoadError, Origin, Runtime, RuntimeConfig, Source};
use gantry_tests::{assert_host_survives, call, fixture, load_fixture, outputs, runtime, small_limits, TestEnv};
use serde_json::json;

const SECRET: &str = "gantry-secret-marker-7f3a9c";

#[tokio::test(flavor = "multi_thread")]
async fn endless_loop_is_stopped_at_the_deadline() {
    let rt = runtime();
    let plugin = load_fixture(&rt, "loop");
    let env = TestEnv::new();
    let err = call(&rt, &plugin, &env, json!({})).await.unwrap_err();
    assert!(matches!(err, CallError::Deadline { timeout } if timeout == Duration::from_secs(2)), "{err:?}");
    assert_eq!(err.to_string(), "plugin ran past its deadline of 2s");
    assert!(err.hint().unwrap().contains("timeout:"));
    assert_host_survives(&rt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_bomb_is_stopped_at_the_memory_cap() {
    let rt = runtime();
    let plugin = load_fixture(&rt, "memory-bomb");
    let env = TestEnv::new();
    let err = call(&rt, &plugin, &env, json!({})).await.unwrap_err();
    let CallError::MemoryCap { cap, requested } = err else { panic!("expected MemoryCap, got {err:?}") };
    assert_eq!(cap, 64 << 20);
    assert!(requested > cap, "requested {requested} should exceed the cap {cap}");
    let message = err.to_string();
    assert!(message.contains("over the cap of 67108864 bytes"), "{message}");
    assert!(err.hint().unwrap().contains("memory:"));
    assert_host_survives(&rt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_instruction_is_a_trap() {
    let rt = runtime();
    let plugin = load_fixture(&rt, "trap");
    let env = TestEnv::new();
    let err = call(&rt, &plugin, &env, json!({})).await.unwrap_err();
    let CallError::Trap { message, stderr } = &err else { panic!("expected Trap, got {err:?}") };
    assert!(message.contains("unreachable"), "{message}");
    assert!(stderr.is_empty(), "nothing was written to stderr, got {stderr:?}");
    assert!(err.to_string().starts_with("plugin trapped: "), "{err}");
    assert_host_survives(&rt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn panic_is_a_trap_that_carries_the_panic_message() {
    let rt = runtime();
    let plugin = load_fixture(&rt, "panic");
    let env = TestEnv::new();
    let err = call(&rt, &plugin, &env, json!({})).await.unwrap_err();
    let CallError::Trap { message, stderr } = &err else { panic!("expected Trap, got {err:?}") };
    assert!(message.contains("panic"), "{message}");
    assert!(stderr.contains("fixture panicked on purpose"), "stderr tail: {stderr:?}");
    assert!(err.to_string().contains("fixture panicked on purpose"), "{err}");
    // The panic message is in the run log too, as the plugin's stderr.
    assert!(env.lines().iter().any(|l| l.source == Source::Stderr && l.message.contains("fixture panicked on purpose")));
    assert_host_survives(&rt).await;
}

/// Bytes the plugin itself put into the run log (not the host's notes).
fn plugin_log_bytes(env: &TestEnv) -> usize {
    env.lines()
        .iter()
        .filter(|l| l.source != Source::Host)
        .map(|l| l.message.len() + l.fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn log_flood_is_stopped_at_the_log_budget() {
    let rt = runtime();
    let plugin = load_fixture(&rt, "log-flood");
    let env = TestEnv::new();
    let err = call(&rt, &plugin, &env, json!({})).await.unwrap_err();
    assert!(matches!(err, CallError::LogFlood { cap: 65536 }), "{err:?}");
    assert_eq!(err.to_string(), "plugin wrote more than 65536 bytes of log output and was stopped");
    assert!(plugin_log_bytes(&env) <= 64 << 10, "the run log kept {} plugin bytes, over the budget", plugin_log_bytes(&env));
    assert!(env.lines().iter().any(|l| l.source == Source::Plugin && l.message.starts_with("log flood line 0:")));
    assert!(env.lines().iter().any(|l| l.source == Source::Host && l.message.contains("exceeded its log budget of 65536 bytes")));
    assert_host_survives(&rt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stdout_flood_is_stopped_at_the_log_budget() {
    let rt = runtime();
    let plugin = load_fixture(&rt, "stdout-flood");
    let env = TestEnv::new();
    let err = call(&rt, &plugin, &env, json!({})).await.unwrap_err();
    assert!(matches!(err, CallError::LogFlood { cap: 65536 }), "{err:?}");
    assert!(plugin_log_bytes(&env) <= 64 << 10, "the run log kept {} plugin bytes, over the budget", plugin_log_bytes(&env));
    assert!(env.lines().iter().any(|l| l.source == Source::Stdout && l.message.starts_with("stdout flood line 0:")));
    assert!(env.lines().iter().any(|l| l.source == Source::Host && l.message.contains("exceeded its log budget of 65536 bytes")));
    assert_host_survives(&rt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn host_files_are_invisible_to_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    std::fs::write(&path, format!("aws_secret_access_key = {SECRET}\n")).unwrap();

    let rt = runtime();
    let plugin = load_fixture(&rt, "fs-read");
    let env = TestEnv::new();
    let result = call(&rt, &plugin, &env, json!({ "path": path.to_str().unwrap() })).await;
    let err = match result {
        Ok(out) => panic!("the plugin read a host file: {}", out.outputs),
        Err(e) => e,
    };
    let CallError::Failed { message, hint } = &err else { panic!("expected the plugin's own failure, got {err:?}") };
    assert!(message.starts_with("could not read "), "{message}");
    assert!(!format!("{err:?}").contains(SECRET) && !hint.as_deref().unwrap_or("").contains(SECRET));
    assert!(!env.log_text().contains(SECRET), "the secret leaked into the run log:\n{}", env.log_text());
    assert_host_survives(&rt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_cannot_open_network_connections() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let rt = runtime();
    let plugin = load_fixture(&rt, "socket");
    assert!(plugin.imports.iter().any(|(name, _)| name.starts_with("wasi:sockets/")), "the fixture should really use WASI sockets: {:?}", plugin.imports);
    let env = TestEnv::new();
    let result = call(&rt, &plugin, &env, json!({ "port": port })).await;
    let err = match result {
        Ok(out) => panic!("the plugin opened a connection: {}", out.outputs),
        Err(e) => e,
    };
    let CallError::Failed { message, .. } = &err else { panic!("expected the plugin's own failure, got {err:?}") };
    assert!(message.starts_with(&format!("could not connect to 127.0.0.1:{port}")), "{message}");

    // The call is over: had it connected, the connection would be queued now.
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Ok((_, peer)) => panic!("the listener accepted a connection from {peer}"),
        Err(e) => assert_eq!(e.kind(), IoErrorKind::WouldBlock, "{e}"),
    }
    assert_host_survives(&rt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn host_environment_is_invisible_to_plugins() {
    // Edition 2021: set_var is safe; this test binary's other tests read no
    // variable of this name.
    std::env::set_var("GANTRY_TEST_SECRET", SECRET);

    let rt = runtime();
    let plugin = load_fixture(&rt, "env");
    let env = TestEnv::new();
    let out = call(&rt, &plugin, &env, json!({})).await.expect("reading the environment is allowed, it is just empty");
    assert_eq!(outputs(&out)["vars"], json!({}), "the plugin saw environment variables");
    assert_eq!(out.summary, "0 environment variables");
    assert!(!out.outputs.contains(SECRET) && !env.log_text().contains(SECRET));
    assert_host_survives(&rt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_call_on_another_target_is_denied_and_logged() {
    let rt = runtime();
    let plugin = load_fixture(&rt, "scope");
    let env = TestEnv::with(small_limits(), vec![Capability::ClusterRead]);
    let out = call(&rt, &plugin, &env, json!({ "target": "gcp" })).await.expect("a denied host call is an answer, not a failure");
    let outputs = outputs(&out);
    assert_eq!(outputs["kind"], "Denied");
    assert!(outputs["message"].as_str().unwrap().contains("target `gcp` is outside this stage"), "{outputs}");
    let denial = env
        .lines()
        .into_iter()
        .find(|l| l.source == Source::Host && l.message.starts_with("denied cluster-read.get"))
        .unwrap_or_else(|| panic!("no host line about the denial in:\n{}", env.log_text()));
    assert_eq!(denial.level, Level::Warn);
    assert!(denial.message.contains("`gcp`"), "{}", denial.message);
    assert_host_survives(&rt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_call_on_the_stage_target_passes_the_scope_check() {
    let rt = runtime();
    let plugin = load_fixture(&rt, "scope");
    let env = TestEnv::with(small_limits(), vec![Capability::ClusterRead]);
    let out = call(&rt, &plugin, &env, json!({ "target": "aws" })).await.unwrap();
    // In scope; this environment connected no cluster for the target.
    assert_eq!(outputs(&out)["kind"], "Unavailable");
    assert!(!env.lines().iter().any(|l| l.source == Source::Host && l.message.starts_with("denied")), "{}", env.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn sleep_past_the_deadline_ends_at_the_deadline() {
    let rt = runtime();
    let plugin = load_fixture(&rt, "sleep");
    let env = TestEnv::with_limits(Limits { timeout: Duration::from_secs(1), ..small_limits() });
    let err = call(&rt, &plugin, &env, json!({ "ms": 10 * 60 * 1000 })).await.unwrap_err();
    assert!(matches!(err, CallError::Deadline { timeout } if timeout == Duration::from_secs(1)), "{err:?}");
    assert_eq!(err.to_string(), "plugin ran past its deadline of 1s");
    assert_host_survives(&rt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wasi_sleep_past_the_deadline_ends_at_the_deadline() {
    // std::thread::sleep is a WASI poll the host awaits: no guest code runs
    // for the epoch deadline to stop, so the call's own backstop must.
    let rt = runtime();
    let plugin = load_fixture(&rt, "sleep");
    let env = TestEnv::with_limits(Limits { timeout: Duration::from_secs(1), ..small_limits() });
    let err = call(&rt, &plugin, &env, json!({ "ms": 10 * 60 * 1000, "wasi": true })).await.unwrap_err();
    assert!(matches!(err, CallError::Deadline { timeout } if timeout == Duration::from_secs(1)), "{err:?}");
    assert_host_survives(&rt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_the_run_interrupts_a_spinning_plugin() {
    let rt = runtime();
    let plugin = load_fixture(&rt, "loop");
    let env = TestEnv::with_limits(Limits { timeout: Duration::from_secs(600), ..small_limits() });
    let cancel = env.env.cancel.clone();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    });
    let err = call(&rt, &plugin, &env, json!({})).await.unwrap_err();
    canceller.await.unwrap();
    assert!(matches!(err, CallError::Interrupted), "{err:?}");
    assert_eq!(err.kind(), "interrupted");
    assert_host_survives(&rt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_the_run_interrupts_a_sleeping_plugin() {
    let rt = runtime();
    let plugin = load_fixture(&rt, "sleep");
    for wasi in [false, true] {
        let env = TestEnv::with_limits(Limits { timeout: Duration::from_secs(600), ..small_limits() });
        let cancel = env.env.cancel.clone();
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            cancel.cancel();
        });
        let err = call(&rt, &plugin, &env, json!({ "ms": 10 * 60 * 1000, "wasi": wasi })).await.unwrap_err();
        canceller.await.unwrap();
        assert!(matches!(err, CallError::Interrupted), "wasi sleep: {wasi}: {err:?}");
    }
    assert_host_survives(&rt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ungranted_capability_is_named_before_the_plugin_runs() {
    let rt = runtime();
    let plugin = load_fixture(&rt, "ungranted");
    assert!(plugin.capabilities().contains(&Capability::Helm), "{:?}", plugin.capabilities());
    let refusal = plugin.check_grants(&[]).unwrap_err();
    assert_eq!(refusal.ungranted, vec![Capability::Helm]);
    assert!(refusal.foreign.is_empty(), "{:?}", refusal.foreign);
    assert_eq!(plugin.check_grants(&[Capability::Helm]), Ok(()));
}

#[tokio::test(flavor = "multi_thread")]
async fn calling_a_plugin_without_its_grant_is_refused_before_it_runs() {
    let rt = runtime();
    let plugin = load_fixture(&rt, "ungranted");
    let env = TestEnv::new();
    let err = call(&rt, &plugin, &env, json!({})).await.unwrap_err();
    let CallError::Instantiate(message) = &err else { panic!("expected a refusal to start, got {err:?}") };
    assert_eq!(message, "fixture:ungranted imports capabilities this stage may not use: `helm` is not granted");
    assert!(env.lines().is_empty(), "the plugin ran: {}", env.log_text());

    // With the grant it runs, and reaches the helm capability (no backend connected here).
    let env = TestEnv::with(small_limits(), vec![Capability::Helm]);
    let err = call(&rt, &plugin, &env, json!({})).await.unwrap_err();
    let CallError::Failed { message, .. } = &err else { panic!("expected the plugin's own failure, got {err:?}") };
    assert!(message.contains("has no Helm backend in this run"), "{message}");
}

/// The compiled-component files of a cache directory.
fn cache_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect()
}

fn cached_runtime(dir: &std::path::Path) -> Runtime {
    Runtime::new(RuntimeConfig { cache_dir: Some(dir.to_path_buf()) }).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn second_runtime_loads_the_compiled_component_from_the_disk_cache() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = fixture("scope");

    let first = cached_runtime(dir.path()).load("fixture:scope", &bytes, None).unwrap();
    assert_eq!(first.origin, Origin::Compiled);
    assert_eq!(cache_files(dir.path()).len(), 1);

    let rt = cached_runtime(dir.path());
    let second = rt.load("fixture:scope", &bytes, None).unwrap();
    assert_eq!(second.origin, Origin::Cached);
    assert_eq!(second.digest, first.digest);
    // And the cached form runs.
    let env = TestEnv::with(small_limits(), vec![Capability::ClusterRead]);
    let out = call(&rt, &second, &env, json!({ "target": "aws" })).await.unwrap();
    assert_eq!(outputs(&out)["kind"], "Unavailable");
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_cache_entry_is_recompiled_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = fixture("scope");
    cached_runtime(dir.path()).load("fixture:scope", &bytes, None).unwrap();
    let [entry] = cache_files(dir.path()).try_into().expect("one cache entry");

    // Truncated: half a compiled component.
    let full = std::fs::read(&entry).unwrap();
    std::fs::write(&entry, &full[..full.len() / 2]).unwrap();
    let rt = cached_runtime(dir.path());
    let plugin = rt.load("fixture:scope", &bytes, None).unwrap();
    assert_eq!(plugin.origin, Origin::Compiled);
    let env = TestEnv::with(small_limits(), vec![Capability::ClusterRead]);
    let out = call(&rt, &plugin, &env, json!({ "target": "aws" })).await.unwrap();
    assert_eq!(outputs(&out)["kind"], "Unavailable");

    // Garbage: not a compiled component at all.
    std::fs::write(&entry, b"this is not a compiled component").unwrap();
    assert_eq!(cached_runtime(dir.path()).load("fixture:scope", &bytes, None).unwrap().origin, Origin::Compiled);

    // Each time the entry was rewritten whole, so the next load uses it.
    assert_eq!(cached_runtime(dir.path()).load("fixture:scope", &bytes, None).unwrap().origin, Origin::Cached);
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_pin_must_match_the_bytes() {
    let rt = runtime();
    let bytes = fixture("trap");
    let actual = gantry_runtime::digest(&bytes);
    let wrong = format!("sha256:{}", "0".repeat(64));

    let err = rt.load("fixture:trap", &bytes, Some(&wrong)).err().expect("a wrong pin is refused");
    let LoadError::DigestMismatch { plugin, expected, actual: got } = &err else { panic!("expected DigestMismatch, got {err:?}") };
    assert_eq!((plugin.as_str(), expected.as_str(), got.as_str()), ("fixture:trap", wrong.as_str(), actual.as_str()));
    assert!(err.to_string().contains(&actual), "{err}");

    assert!(rt.load("fixture:trap", &bytes, Some(&actual)).is_ok());
    assert!(rt.load("fixture:trap", &bytes, Some(&actual.to_uppercase())).is_ok());
}
