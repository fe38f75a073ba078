//! The render benchmark (`cargo bench -p gantry-helm --bench render`):
//! gantry's render of the `helm create` scaffold and of the largest corpus
//! chart, N times each, beside real Helm's (its Go library through
//! helm-python-sdk) render of the same charts, timed inside one Python
//! process, so neither side pays for process start-up. It prints mean and
//! p50 per render and the ratio; it asserts nothing about time.
//!
//! What each side's timed render includes (the chart is loaded once,
//! before timing, on both sides):
//! - gantry: cloning the loaded chart, dependencies (condition, tags,
//!   alias, import-values), coalescing, `values.schema.json`, the render.
//! - Helm: Python encoding the values and options as JSON, the cgo call of
//!   the SDK's `helm_render` (which does the same four steps in Go, then
//!   encodes the rendered map as JSON) and Python decoding that JSON; so
//!   Helm's column carries a little marshalling gantry does not pay.
//!
//! Also printed, for gantry only: `render_chart` from the path (loading
//! the chart from disk each time).
//!
//! The renders are taken in rounds (`GANTRY_BENCH_ROUNDS`, default 4):
//! each round times its share of gantry's renders, then its share of
//! Helm's (a fresh Python process, chart loaded and warmed untimed), so a
//! shared machine's load changing during the run weighs on both sides
//! alike instead of on whichever ran while it was busy; each side's
//! samples are pooled.
//!
//! Settings: `GANTRY_BENCH_ITERS` (default 200) renders per chart;
//! `GANTRY_BENCH_ROUNDS` (default 4) rounds they are split into;
//! `GANTRY_HELM_PYTHON` the oracle's python (else /tmp/helmvenv/bin/python).
//! Without the oracle it says so and prints gantry's numbers only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use gantry_helm::engine::{self, RenderOptions};
use gantry_helm::value::Value;

/// The Python half: loads the chart once, renders it `warm` times untimed,
/// then `n` times, each timed with `time.perf_counter`; prints one JSON line
/// `{"times": [seconds…], "manifests": {…}}` (the last render's output, so
/// the bench can check both sides rendered the same thing).
const HELM_TIMER: &str = r#"
import json, sys, time
import helm_python as helm
from helm_python import _native
chart_path, n, warm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
values = {}
opts = {"name": "release-name", "namespace": "default", "revision": 1, "is_install": True, "is_upgrade": False}
with helm.Chart.load(chart_path) as chart:
    raw = chart._raw()
    def once():
        return json.loads(_native.call_string("helm_render", raw, json.dumps(values), json.dumps(opts)))
    for _ in range(warm):
        once()
    times = []
    out = None
    for _ in range(n):
        t0 = time.perf_counter()
        out = once()
        times.append(time.perf_counter() - t0)
json.dump({"times": times, "manifests": out}, sys.stdout)
"#;

const WARM: usize = 5;

struct Stats {
    mean: f64,
    p50: f64,
}

fn stats(mut secs: Vec<f64>) -> Stats {
    secs.sort_by(f64::total_cmp);
    let mean = secs.iter().sum::<f64>() / secs.len().max(1) as f64;
    let p50 = if secs.is_empty() { 0.0 } else { secs[secs.len() / 2] };
    Stats { mean, p50 }
}

fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts")
}

fn bytes_under(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else { return 0 };
    rd.flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                bytes_under(&path)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}

/// The largest corpus chart (by bytes on disk) other than the scaffold
/// that renders without error.
fn largest_chart() -> Option<PathBuf> {
    let mut charts: Vec<(u64, PathBuf)> = std::fs::read_dir(chart_dir())
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "scaffold"))
        .map(|p| (bytes_under(&p), p))
        .collect();
    charts.sort_by_key(|c| std::cmp::Reverse(c.0));
    charts.into_iter().map(|(_, p)| p).find(|p| match engine::render_chart(p, &Value::empty_map(), &RenderOptions::default()) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("note: skipping {} (it does not render with default values: {})", p.display(), e.message.lines().next().unwrap_or(""));
            false
        }
    })
}

/// One gantry render of a loaded chart: what `render_chart` does after loading.
fn gantry_render(chart: &gantry_helm::chart::Chart, user: &Value, options: &RenderOptions) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut chart = chart.clone();
    gantry_helm::chart::process_dependencies(&mut chart, user).map_err(|e| e.message)?;
    let values = gantry_helm::values::coalesce(&chart, user).map_err(|e| e.message)?;
    gantry_helm::values::schema::validate(&chart, &values).map_err(|e| e.message)?;
    engine::render(&chart, &values, options).map_err(|e| e.message)
}

/// `n` timed gantry renders of a loaded chart (after `WARM` untimed), and the last output.
fn time_gantry(chart: &gantry_helm::chart::Chart, n: usize) -> Result<(Vec<f64>, std::collections::BTreeMap<String, String>), String> {
    let user = Value::empty_map();
    let options = RenderOptions::default();
    let mut out = gantry_render(chart, &user, &options)?;
    for _ in 0..WARM {
        out = gantry_render(chart, &user, &options)?;
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        out = std::hint::black_box(gantry_render(chart, &user, &options)?);
        times.push(t0.elapsed().as_secs_f64());
    }
    Ok((times, out))
}

/// `render_chart` from the path (loading the chart each time), `n` times.
fn time_gantry_with_load(path: &Path, n: usize) -> Result<Stats, String> {
    let user = Value::empty_map();
    let options = RenderOptions::default();
    let mut with_load = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        std::hint::black_box(engine::render_chart(path, &user, &options).map_err(|e| e.message)?);
        with_load.push(t0.elapsed().as_secs_f64());
    }
    Ok(stats(with_load))
}

fn oracle_python() -> Option<String> {
    if let Ok(p) = std::env::var("GANTRY_HELM_PYTHON") {
        return Some(p);
    }
    let p = "/tmp/helmvenv/bin/python";
    Path::new(p).exists().then(|| p.to_string())
}

/// Helm's times for `n` renders of `path`, and its last output.
fn time_helm(python: &str, path: &Path, n: usize) -> Result<(Vec<f64>, serde_json::Map<String, serde_json::Value>), String> {
    let out = Command::new(python)
        .arg("-c")
        .arg(HELM_TIMER)
        .arg(path)
        .arg(n.to_string())
        .arg(WARM.to_string())
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{python} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("bad answer from the Helm timer: {e}"))?;
    let times = v["times"].as_array().map(|a| a.iter().filter_map(|t| t.as_f64()).collect()).unwrap_or_default();
    let manifests = v["manifests"].as_object().cloned().unwrap_or_default();
    Ok((times, manifests))
}

fn ms(s: f64) -> String {
    format!("{:.3} ms", s * 1e3)
}

fn main() {
    let n: usize = std::env::var("GANTRY_BENCH_ITERS").ok().and_then(|s| s.parse().ok()).filter(|&n| n > 0).unwrap_or(200);
    let rounds: usize = std::env::var("GANTRY_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).filter(|&r| r > 0).unwrap_or(4).min(n);
    let mut charts = vec![chart_dir().join("scaffold")];
    match largest_chart() {
        Some(p) => charts.push(p),
        None => eprintln!("note: no other corpus chart renders; benchmarking the scaffold only"),
    }
    let python = oracle_python();
    let mut helm_note = match &python {
        None => Some("the Helm oracle is missing (set GANTRY_HELM_PYTHON or create /tmp/helmvenv): gantry's numbers only".to_string()),
        Some(_) => None,
    };

    println!("render benchmark: {n} renders per chart in {rounds} alternating rounds, each after {WARM} untimed; times per render");
    println!("{:<10} {:>12} {:>12} {:>12} {:>12} {:>9} {:>9}  {:>16}  same output", "chart", "gantry mean", "gantry p50", "helm mean", "helm p50", "mean ×", "p50 ×", "gantry+load mean");
    for path in &charts {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let chart = match gantry_helm::chart::load(path) {
            Ok(c) => c,
            Err(e) => {
                println!("{name:<10} gantry failed to load: {}", e.message);
                continue;
            }
        };
        let (mut g_times, mut g_out, mut h_times, mut h_out) = (Vec::new(), Default::default(), Vec::new(), None);
        let mut failed = None;
        for r in 0..rounds {
            // This round's share of the n renders.
            let share = n / rounds + usize::from(r < n % rounds);
            match time_gantry(&chart, share) {
                Ok((t, out)) => {
                    g_times.extend(t);
                    g_out = out;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            if let (Some(py), None) = (&python, &helm_note) {
                match time_helm(py, path, share) {
                    Ok((t, out)) => {
                        h_times.extend(t);
                        h_out = Some(out);
                    }
                    Err(e) => helm_note = Some(format!("the Helm oracle could not run ({e}): gantry's numbers only")),
                }
            }
        }
        if let Some(e) = failed {
            println!("{name:<10} gantry failed to render: {e}");
            continue;
        }
        let g = stats(g_times);
        let g_load = match time_gantry_with_load(path, n) {
            Ok(s) => s,
            Err(e) => {
                println!("{name:<10} gantry failed to render from the path: {e}");
                continue;
            }
        };
        let helm = match (&helm_note, h_out) {
            (None, Some(out)) => Some((stats(h_times), out)),
            _ => None,
        };
        match helm {
            Some((h, h_out)) => {
                let same = h_out.len() == g_out.len() && g_out.iter().all(|(k, v)| h_out.get(k).and_then(|x| x.as_str()) == Some(v.as_str()));
                println!(
                    "{name:<10} {:>12} {:>12} {:>12} {:>12} {:>8.2}× {:>8.2}×  {:>16}  {}",
                    ms(g.mean),
                    ms(g.p50),
                    ms(h.mean),
                    ms(h.p50),
                    h.mean / g.mean,
                    h.p50 / g.p50,
                    ms(g_load.mean),
                    if same { "yes" } else { "NO" }
                );
            }
            None => println!("{name:<10} {:>12} {:>12} {:>12} {:>12} {:>9} {:>9}  {:>16}  -", ms(g.mean), ms(g.p50), "-", "-", "-", "-", ms(g_load.mean)),
        }
    }
    if let Some(note) = helm_note {
        println!("note: {note}");
    }
    println!("× = Helm's time / gantry's (above 1: gantry faster). Both sides: chart loaded once; each render = dependencies, coalescing, schema, render (Helm's also JSON in and out of Python). gantry+load = render_chart from disk.");
}
