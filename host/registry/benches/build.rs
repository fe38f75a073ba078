//! Daemonless build of an example against `docker build` of the same
//! Dockerfile on a real engine (the classic builder: the docker CLI here has
//! no buildx), `--no-cache` and with a warm cache. The context is a few MB
//! over several COPYs, made here from a fixed seed. Prints mean and p50 of
//! N rounds (`GANTRY_BENCH_ROUNDS`, 5 by default); it asserts nothing about
//! time. Without a Docker engine only the daemonless side runs (under `CI`
//! a missing engine fails). Run: `cargo bench -p gantry-registry --bench build`.

use std::path::Path;
use std::time::{Duration, Instant};

use gantry_registry::daemonless::{self, DaemonlessBuild, MemoryBases};
use gantry_registry::image::{digest_of, Blob, Image, Layer};
use gantry_registry::spec::{self, ImageConfig, Platform};
use gantry_registry::testing::dockerd::{self, Dockerd};

const DOCKERFILE: &str = "FROM gantry-test/busybox:1
WORKDIR /app
COPY bin/ /app/bin/
COPY lib/ /app/lib/
COPY assets/ /app/assets/
COPY config/app.conf /etc/app/
ENV MODE=bench
EXPOSE 8080
CMD [\"/app/bin/app\"]
";

/// Bytes from a fixed seed (xorshift): the same context every run, and not
/// trivially compressible.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Half the bytes from a small alphabet: text-like, compresses ~2x.
        let b = x.to_le_bytes();
        out.extend_from_slice(&[b[0], b'a' + b[1] % 16, b[2], b'a' + b[3] % 16, b'a' + b[4] % 8, b[5], b'a' + b[6] % 16, b[7]]);
    }
    out.truncate(len);
    out
}

/// About 4.5 MB: a 1 MB "binary", 200 small files, 64 larger ones, a config.
fn make_context(dir: &Path) -> u64 {
    let mut total = 0u64;
    let mut write = |rel: &str, data: Vec<u8>| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        total += data.len() as u64;
        std::fs::write(p, data).unwrap();
    };
    write("bin/app", bytes(1, 1 << 20));
    for i in 0..200 {
        write(&format!("lib/mod{:03}/code.py", i % 20 * 10 + i / 20), bytes(100 + i as u64, 4096 + (i * 37) % 2048));
    }
    for i in 0..64 {
        write(&format!("assets/img{i:02}.bin"), bytes(1000 + i as u64, 48 * 1024));
    }
    write("config/app.conf", b"listen = 8080\n".to_vec());
    write("Dockerfile", DOCKERFILE.as_bytes().to_vec());
    write(".dockerignore", b"*.tmp\n".to_vec());
    write("scratch.tmp", bytes(7, 1 << 20));
    total
}

struct Stats {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Stats {
    fn mean(&self) -> Duration {
        self.samples.iter().sum::<Duration>() / self.samples.len().max(1) as u32
    }

    fn p50(&self) -> Duration {
        let mut s = self.samples.clone();
        s.sort();
        s.get(s.len() / 2).copied().unwrap_or_default()
    }
}

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

/// The busybox rootfs as a one-layer image, when there is no engine to export it.
fn busybox_in_memory() -> Image {
    let tar = dockerd::busybox_rootfs_tar();
    let config = ImageConfig { architecture: Platform::host().architecture, os: "linux".into(), ..Default::default() };
    Image::assemble(config, vec![Layer { diff_id: digest_of(&tar), blob: Blob::new(spec::OCI_LAYER, tar) }])
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let rounds: usize = std::env::var("GANTRY_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5).max(1);
    let dir = tempfile::tempdir().unwrap();
    let size = make_context(dir.path());
    let sent: u64 = gantry_registry::context::Context::open(dir.path()).unwrap().files().unwrap().iter().map(|e| e.size).sum();
    println!("context: {:.1} MB ({:.1} MB after .dockerignore) in {}, {rounds} rounds", size as f64 / 1e6, sent as f64 / 1e6, dir.path().display());

    let engine = Dockerd::start();
    let mut bases = MemoryBases::new();
    let base = match &engine {
        Some(e) => {
            let tag = e.busybox_image();
            let out = e.cli().args(["save", &tag]).output().unwrap();
            assert!(out.status.success(), "docker save: {}", String::from_utf8_lossy(&out.stderr));
            daemonless::image_from_docker_archive(&out.stdout, Some(&tag)).unwrap()
        }
        None => busybox_in_memory(),
    };
    bases.insert(dockerd::BUSYBOX, base).unwrap();

    let spec = DaemonlessBuild::new(dir.path());
    let mut results = Vec::new();
    let mut ours = Stats { name: "daemonless build", samples: Vec::new() };
    let mut digest = String::new();
    for _ in 0..rounds {
        let (d, built) = time(|| daemonless::build(&spec, &bases, &mut |_| {}).unwrap());
        ours.samples.push(d);
        if !digest.is_empty() {
            assert_eq!(digest, built.image.digest(), "the daemonless build is reproducible");
        }
        digest = built.image.digest().to_string();
    }
    println!("daemonless image {digest}");
    results.push(ours);

    if let Some(engine) = &engine {
        let ctx = dir.path().to_string_lossy().into_owned();
        let build = |extra: &[&str]| {
            let mut args = vec!["build", "-q", "--network", "none", "-t", "gantry-bench/build:1"];
            args.extend_from_slice(extra);
            args.push(&ctx);
            engine.docker(&args);
        };
        let mut cold = Stats { name: "docker build --no-cache", samples: Vec::new() };
        for _ in 0..rounds {
            cold.samples.push(time(|| build(&["--no-cache"])).0);
        }
        results.push(cold);
        build(&[]);
        let mut warm = Stats { name: "docker build (warm cache)", samples: Vec::new() };
        for _ in 0..rounds {
            warm.samples.push(time(|| build(&[])).0);
        }
        results.push(warm);
        println!("engine storage driver: {}", engine.storage_driver());
    }

    println!("{:<28} {:>12} {:>12}", "", "mean", "p50");
    let ours_mean = results[0].mean();
    for r in &results {
        println!("{:<28} {:>10.1}ms {:>10.1}ms   ({:.2}x daemonless)", r.name, r.mean().as_secs_f64() * 1e3, r.p50().as_secs_f64() * 1e3, r.mean().as_secs_f64() / ours_mean.as_secs_f64());
    }
}
