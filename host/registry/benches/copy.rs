//! Benchmark: copy a ~200 MB image (several layers of random bytes) between
//! two local docker-registry instances with the distribution client, and
//! compare its throughput with a plain file copy of the same bytes (the
//! source registry's blob files, `std::fs::copy`). `GANTRY_BENCH_COPY_MB`
//! sets the size (default 200), `GANTRY_BENCH_COPY_RUNS` the runs (default 3;
//! each copies into a fresh registry), `GANTRY_BENCH_COPY_CHUNK_MB` the upload
//! chunk (default: the client's). It prints numbers and asserts no
//! timing; it must not reach beyond loopback.
//!
//! `cargo bench -p gantry-registry --bench copy`

use std::sync::Arc;
use std::time::Instant;

use gantry_registry::image::digest_of;
use gantry_registry::spec::{self, ImageConfig, Platform};
use gantry_registry::testing::registry::{DockerRegistry, RegistryAuth};
use gantry_registry::{Blob, Client, ClientOptions, Image, Layer, Reference, StaticCredentials};

const LAYERS: usize = 5;

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn main() {
    let size_mb: usize = std::env::var("GANTRY_BENCH_COPY_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let runs: usize = std::env::var("GANTRY_BENCH_COPY_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let Some(source) = DockerRegistry::start(RegistryAuth::None) else { return };

    let layer_size = size_mb * 1_000_000 / LAYERS;
    let layers = (0..LAYERS)
        .map(|i| {
            let data = noise(i as u64 + 1, layer_size);
            Layer { diff_id: digest_of(&data), blob: Blob::new(spec::OCI_LAYER, data) }
        })
        .collect();
    let image = Image::assemble(ImageConfig { architecture: "amd64".into(), os: "linux".into(), ..Default::default() }, layers);
    let total = image.size();
    println!("copy bench: image of {LAYERS} layers, {:.1} MB in all", mb(total));

    let client = Client::new(Arc::new(StaticCredentials::new()));
    let from = Reference::parse(&format!("{}/bench/app:1", source.host())).expect("a reference");
    let started = Instant::now();
    runtime.block_on(client.push(&image, &from)).expect("push into the source registry");
    let push = started.elapsed();
    println!("  push (from memory, chunked):   {:>8.0} ms  {:>7.1} MB/s", push.as_secs_f64() * 1e3, mb(total) / push.as_secs_f64());
    drop(image);

    let mut options = ClientOptions::default();
    if let Some(chunk) = std::env::var("GANTRY_BENCH_COPY_CHUNK_MB").ok().and_then(|v| v.parse::<usize>().ok()) {
        options = options.chunking((chunk as u64) << 20, chunk << 20);
    }
    println!("  upload chunks of {} MB above {} MB", options.chunk_size >> 20, options.chunk_threshold >> 20);
    let mut copies = Vec::new();
    for run in 0..runs {
        let Some(destination) = DockerRegistry::start(RegistryAuth::None) else { return };
        let to = Reference::parse(&format!("{}/mirror/app:1", destination.host())).expect("a reference");
        let fresh = Client::with_options(Arc::new(StaticCredentials::new()), options.clone()).expect("client options");
        let started = Instant::now();
        let digest = runtime.block_on(fresh.copy(&from, &to)).expect("copy between the registries");
        let took = started.elapsed();
        copies.push(took.as_secs_f64());
        println!("  copy run {}: registry → registry {:>8.0} ms  {:>7.1} MB/s  ({digest})", run + 1, took.as_secs_f64() * 1e3, mb(total) / took.as_secs_f64());
    }

    // The same bytes as files: the source registry's blobs copied with std::fs::copy.
    let manifest = runtime.block_on(client.image(&from, &Platform::linux("amd64"))).expect("the manifest").1;
    let target = tempfile::tempdir().expect("a temp dir");
    let mut files = Vec::new();
    for run in 0..runs {
        let started = Instant::now();
        let mut copied = 0;
        for (i, d) in std::iter::once(&manifest.config).chain(manifest.layers.iter()).enumerate() {
            copied += std::fs::copy(source.blob_path(&d.digest), target.path().join(format!("{run}-{i}"))).expect("copy a blob file");
        }
        let took = started.elapsed();
        files.push(took.as_secs_f64());
        println!("  file copy run {}: std::fs::copy {:>8.0} ms  {:>7.1} MB/s", run + 1, took.as_secs_f64() * 1e3, mb(copied) / took.as_secs_f64());
    }

    // Within one registry a copy is a mount: no bytes move.
    let same = Reference::parse(&format!("{}/bench/mounted:1", source.host())).expect("a reference");
    let started = Instant::now();
    runtime.block_on(Client::new(Arc::new(StaticCredentials::new())).copy(&from, &same)).expect("copy within the registry");
    println!("  copy within one registry (mounts): {:>8.0} ms", started.elapsed().as_secs_f64() * 1e3);

    let best = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
    let (copy, file) = (best(&copies), best(&files));
    println!(
        "best: registry copy {:.1} MB/s, file copy {:.1} MB/s: the registry copy runs at {:.0}% of a file copy ({:.1}x slower)",
        mb(total) / copy,
        mb(total) / file,
        100.0 * file / copy,
        copy / file
    );
}
