//! Benchmark: ≥ 50,000 generated OSV advisories (generated here only, never
//! used as test data) written as osv.dev publishes them, imported into the
//! store, then the inventory of a realistic image (~400 packages: dpkg,
//! PyPI, npm) looked up and matched. Prints import time, store size, open
//! time and lookup+match time (goal: the whole scan ≤ 2 s, matching a small
//! part of it). Run: `cargo bench -p gantry-scan --bench match`.
//! Timings are printed, never asserted.

use std::time::{Duration, Instant};

use gantry_scan::matcher::match_packages;
use gantry_scan::store::{self, Store};

#[path = "common/advisories.rs"]
#[allow(dead_code)]
mod advisories;
use advisories::{advisory, inventory, Rng, ADVISORIES};

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("osv");
    std::fs::create_dir(&src).expect("osv dir");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let t = Instant::now();
    for n in 0..ADVISORIES {
        let a = advisory(&mut rng, n);
        std::fs::write(src.join(format!("{}.json", a.id)), serde_json::to_vec(&a).expect("json")).expect("write");
    }
    println!("generated {ADVISORIES} advisories as files in {}", ms(t.elapsed()));

    let db = dir.path().join("db");
    let t = Instant::now();
    let summary = store::import(&db, &[&src]).expect("import");
    let import = t.elapsed();
    let size = std::fs::metadata(&summary.path).expect("store file").len();
    println!(
        "import: {} advisories, {} packages in {} ({:.0} advisories/s); store {:.1} MiB",
        summary.metadata.advisories,
        summary.metadata.packages,
        ms(import),
        summary.metadata.advisories as f64 / import.as_secs_f64(),
        size as f64 / (1024.0 * 1024.0)
    );

    let packages = inventory(&mut rng);
    let mut open = Vec::new();
    let mut matching = Vec::new();
    let mut findings = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let store = Store::open(&db).expect("open");
        open.push(t.elapsed());
        let t = Instant::now();
        findings = match_packages(&store, &packages).expect("match").len();
        matching.push(t.elapsed());
    }
    open.sort();
    matching.sort();
    println!("inventory: {} packages (dpkg, PyPI, npm); {findings} findings", packages.len());
    println!("open store (header + index): median {}, max {}", ms(open[open.len() / 2]), ms(open[open.len() - 1]));
    println!("lookup + match of the inventory: median {}, max {}", ms(matching[matching.len() / 2]), ms(matching[matching.len() - 1]));
    println!("scan share (open + match, median): {}", ms(open[open.len() / 2] + matching[matching.len() / 2]));
}
