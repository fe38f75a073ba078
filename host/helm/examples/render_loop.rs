//! A profiling harness, not a benchmark: renders one chart (default: the
//! `helm create` scaffold of the corpus) N times exactly as the render
//! benchmark's timed loop does (clone, dependencies, coalesce, schema,
//! render), so `perf record` / `valgrind --tool=callgrind` see only the
//! per-render work. Usage: `cargo run --release -p gantry-helm --example
//! render_loop -- [CHART_DIR] [N]`.

use std::path::PathBuf;

use gantry_helm::engine::{self, RenderOptions};
use gantry_helm::value::Value;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/charts/scaffold"));
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let chart = match gantry_helm::chart::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot load {}: {}", path.display(), e.message);
            std::process::exit(1);
        }
    };
    let user = Value::empty_map();
    let options = RenderOptions::default();
    let t0 = std::time::Instant::now();
    let mut total = 0usize;
    for _ in 0..n {
        let mut c = chart.clone();
        let r = gantry_helm::chart::process_dependencies(&mut c, &user)
            .map_err(|e| e.message)
            .and_then(|()| gantry_helm::values::coalesce(&c, &user).map_err(|e| e.message))
            .and_then(|v| gantry_helm::values::schema::validate(&c, &v).map(|()| v).map_err(|e| e.message))
            .and_then(|v| engine::render(&c, &v, &options).map_err(|e| e.message));
        match r {
            Ok(out) => total += out.values().map(String::len).sum::<usize>(),
            Err(e) => {
                eprintln!("render failed: {e}");
                std::process::exit(1);
            }
        }
    }
    let el = t0.elapsed();
    println!("{n} renders of {}: {:.3} ms mean ({total} bytes out)", path.display(), el.as_secs_f64() * 1e3 / n as f64);
}
