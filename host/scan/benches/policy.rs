//! Benchmark: policy evaluation time. A generated report (~400 packages,
//! ~300 vulnerabilities, a few secrets and labels; generated here only) is
//! handed to each policy — `builtin:policy-default`, and the example
//! policies under examples/policies when they have been built (paths in
//! `GANTRY_POLICY_BENCH`, `:`-separated) — each call a fresh instance
//! (instantiate + convert + call), as the scan stage runs it. Prints the
//! mean and p50 per call; timings are printed, never asserted.
//! Run: `cargo bench -p gantry-scan --bench policy`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry_runtime::{Runtime, RuntimeConfig};
use gantry_scan::model::{Ecosystem, ImageFacts, Package, Report, SecretFinding, Severity, Vulnerability};
use gantry_scan::policy;

const PACKAGES: usize = 400;
const VULNS: usize = 300;
const RUNS: usize = 200;

fn report() -> Report {
    let sev = [Severity::Unknown, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];
    let packages: Vec<Package> = (0..PACKAGES)
        .map(|i| {
            let (eco, kind) = match i % 3 {
                0 => (Ecosystem::Debian(Some("debian:12".into())), "deb/debian"),
                1 => (Ecosystem::PyPI, "pypi"),
                _ => (Ecosystem::Npm, "npm"),
            };
            let name = format!("package-{i}");
            Package {
                purl: format!("pkg:{kind}/{name}@1.{i}.0"),
                name,
                version: format!("1.{i}.0"),
                ecosystem: eco,
                layer: Some(format!("sha256:{:064x}", i % 5)),
                path: Some("/var/lib/dpkg/status".into()),
                source: None,
                licenses: vec!["MIT".into()],
            }
        })
        .collect();
    let vulnerabilities = (0..VULNS)
        .map(|i| {
            let p = &packages[(i * 7) % PACKAGES];
            Vulnerability {
                id: format!("CVE-2024-{:05}", 10_000 + i),
                aliases: vec![format!("GHSA-gen-{i:04}")],
                package_name: p.name.clone(),
                package_purl: p.purl.clone(),
                installed_version: p.version.clone(),
                fixed_version: (i % 2 == 0).then(|| format!("2.{i}.0")),
                severity: sev[i % sev.len()],
                cvss_score: Some((i % 100) as f32 / 10.0),
                cvss_vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
                summary: format!("generated advisory {i} for the benchmark: a summary line of ordinary length"),
            }
        })
        .collect();
    Report {
        image: ImageFacts {
            reference: "registry.local/bench/app:1".into(),
            digest: format!("sha256:{:064x}", 1),
            user: "0".into(),
            env_names: vec!["PATH".into(), "HOME".into()],
            exposed_ports: vec!["8080/tcp".into()],
            labels: vec![("org.opencontainers.image.source".into(), "https://git.local/bench".into())],
            entrypoint: vec!["/app".into()],
            cmd: vec![],
            size: 180 << 20,
            layers: 5,
            base_image: Some("docker.io/library/debian:12".into()),
            created: None,
        },
        packages,
        vulnerabilities,
        secrets: vec![SecretFinding { rule: "private-key".into(), location: "/app/key.pem:1".into(), layer: None }],
        database: "generated".into(),
    }
}

fn main() {
    let runtime = Runtime::new(RuntimeConfig { cache_dir: None }).expect("the wasm engine starts");
    let report = report();
    let mut policies: Vec<(String, String)> = vec![(policy::DEFAULT_POLICY.to_string(), r#"{"max-severity": "high", "no-root": true, "required-labels": ["org.opencontainers.image.source"], "max-size": "500Mi"}"#.to_string())];
    if let Ok(extra) = std::env::var("GANTRY_POLICY_BENCH") {
        for p in extra.split(':').filter(|p| !p.is_empty()) {
            policies.push((p.to_string(), r#"{"banned": ["package-7"], "max-high": 5}"#.to_string()));
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    println!("policy evaluation: {PACKAGES} packages, {VULNS} vulnerabilities, {RUNS} calls each (fresh instance per call)");
    for (name, settings) in policies {
        let compile = Instant::now();
        let loaded = match policy::load(&runtime, &name, Path::new(".")) {
            Ok(p) => p,
            Err(e) => {
                println!("{name}: not benchmarked: {e}");
                continue;
            }
        };
        let compile = compile.elapsed();
        let env = policy::pure_env(Arc::new(|_| {}));
        let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
        let mut last = None;
        for _ in 0..RUNS {
            let t = Instant::now();
            let d = rt.block_on(policy::evaluate(&runtime, &loaded, &env, &report, &settings));
            times.push(t.elapsed());
            last = Some(d);
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / RUNS as u32;
        let p50 = times[RUNS / 2];
        let p99 = times[RUNS * 99 / 100];
        let outcome = match last {
            Some(Ok(d)) => format!("{} ({} violations)", if d.allowed { "allow" } else { "deny" }, d.violations.len()),
            Some(Err(e)) => format!("error: {e}"),
            None => String::new(),
        };
        println!("{name}: load+compile {:.1} ms; instantiate+call mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms; {outcome}", ms(compile), ms(mean), ms(p50), ms(p99));
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
