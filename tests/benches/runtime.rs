//! Benchmarks of the plugin runtime, with the goals:
//! - warm instantiate + call of a built-in (`builtin:echo`): ≤ 100 µs median
//! - one host-import round trip (`clock.now-ms`): ≤ 2 µs
//! - loading every built-in from the disk cache: ≤ 50 ms
//! - loading every built-in cold (compiling): reported
//!
//! Run with `cargo bench -p gantry-tests` (release profile). Medians of
//! repeated samples; nothing here asserts on time.

use std::time::{Duration, Instant};

use gantry_runtime::{Limits, Runtime, RuntimeConfig};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn load_all(runtime: &Runtime) {
    for b in gantry_plugins::builtins() {
        let plugin = runtime.load(&format!("builtin:{}", b.name), b.wasm, None).expect("built-in loads");
        runtime.prepare(&plugin).expect("built-in links");
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let limits = Limits { memory: 256 << 20, timeout: Duration::from_secs(60), log_bytes: 1 << 30 };
    let env = gantry_tests::TestEnv::with_limits(limits);

    // 1. Warm instantiate + call of builtin:echo.
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let echo = gantry_plugins::builtin("echo").unwrap();
    let plugin = runtime.load("builtin:echo", echo.wasm, None).unwrap();
    runtime.prepare(&plugin).unwrap();
    let input = || gantry_tests::stage_input(serde_json::json!({ "message": "bench" }));
    let samples: Vec<Duration> = rt.block_on(async {
        for _ in 0..200 {
            runtime.call_stage(&plugin, &env.env, input()).await.unwrap();
        }
        let mut samples = Vec::with_capacity(3000);
        for _ in 0..3000 {
            let i = input();
            let t = Instant::now();
            runtime.call_stage(&plugin, &env.env, i).await.unwrap();
            samples.push(t.elapsed());
        }
        samples
    });
    let p90 = { let mut s = samples.clone(); s.sort(); s[s.len() * 9 / 10] };
    println!("warm instantiate + call (builtin:echo): median {:.1} µs, p90 {:.1} µs, n=3000 [goal ≤ 100 µs]", us(median(samples)), us(p90));

    // 2. Host-import round trip: (t(n) - t(0)) / n.
    let roundtrip = runtime.load("fixture:roundtrip", &gantry_tests::fixture("roundtrip"), None).unwrap();
    let n: u64 = 200_000;
    let per_call: Vec<Duration> = rt.block_on(async {
        let mut out = Vec::new();
        for _ in 0..15 {
            let t0 = Instant::now();
            runtime.call_stage(&roundtrip, &env.env, gantry_tests::stage_input(serde_json::json!({ "n": 0 }))).await.unwrap();
            let base = t0.elapsed();
            let t1 = Instant::now();
            runtime.call_stage(&roundtrip, &env.env, gantry_tests::stage_input(serde_json::json!({ "n": n }))).await.unwrap();
            let full = t1.elapsed();
            out.push(full.saturating_sub(base) / n as u32);
        }
        out
    });
    println!("host-import round trip (clock.now-ms): median {:.3} µs per call, n={n} × 15 [goal ≤ 2 µs]", us(median(per_call)));

    // 3. Every built-in from the disk cache, with a fresh runtime each time.
    let cache = tempfile::tempdir().unwrap();
    let config = RuntimeConfig { cache_dir: Some(cache.path().to_path_buf()) };
    load_all(&Runtime::new(config.clone()).unwrap());
    let mut load_only = Vec::new();
    let mut with_engine = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        let runtime = Runtime::new(config.clone()).unwrap();
        let t1 = Instant::now();
        load_all(&runtime);
        load_only.push(t1.elapsed());
        with_engine.push(t0.elapsed());
    }
    let count = gantry_plugins::builtins().len();
    println!(
        "load all {count} built-ins from the disk cache: median {:.2} ms (with engine start {:.2} ms), n=20 [goal ≤ 50 ms]",
        ms(median(load_only)),
        ms(median(with_engine))
    );

    // 4. Cold: an empty cache every time.
    let mut cold = Vec::new();
    for _ in 0..3 {
        let empty = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        load_all(&Runtime::new(RuntimeConfig { cache_dir: Some(empty.path().to_path_buf()) }).unwrap());
        cold.push(t0.elapsed());
    }
    println!("load all {count} built-ins cold (compile + write cache): median {:.0} ms, n=3", ms(median(cold)));
}
