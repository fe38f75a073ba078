//! Benchmark: a full scan of a ~100 MB image (four gzip layers: the real
//! debootstrapped Debian 12 dpkg status, the real requests/urllib3 wheel
//! metadata and npm package.json files, ~400 generated packages whose names
//! the generated advisories use, and filler — binary libraries and text
//! files, as an application image carries) pushed to a real docker-registry,
//! scanned from it against a store of 50,000 generated advisories. Prints
//! the wall time of each part — manifest and config (pull), layers streamed
//! through inventory and secrets (walk), matching — for the streamed scan
//! and for pull-into-memory then scan. Goal: ≤ 2 s. Timings are printed,
//! never asserted. Run: `cargo bench -p gantry-scan --bench scan` (needs
//! docker-registry; see TESTING.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry_registry::image::digest_of;
use gantry_registry::spec::{self, ImageConfig};
use gantry_registry::testing::registry::{DockerRegistry, RegistryAuth};
use gantry_registry::{Blob, Client, Image, Layer, Reference, StaticCredentials};
use gantry_scan::model::Ecosystem;
use gantry_scan::scan::{ScanOptions, Scanned, Scanner};
use gantry_scan::store::{self, Store};

#[path = "common/advisories.rs"]
#[allow(dead_code)]
mod advisories;
use advisories::{advisory, inventory, Rng, ADVISORIES};

const FILLER_LAYERS: usize = 3;
const FILLER_BYTES_PER_LAYER: usize = 32 << 20;

fn data(rel: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/images").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn tar_of(files: &[(String, Vec<u8>, u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, contents, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        h.set_size(contents.len() as u64);
        h.set_mode(*mode);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, &contents[..]).expect("tar entry");
    }
    b.into_inner().expect("tar")
}

fn gzip_layer(raw: Vec<u8>) -> Layer {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, &raw).expect("gzip");
    let blob = e.finish().expect("gzip");
    Layer { blob: Blob::new(spec::OCI_LAYER_GZIP, blob), diff_id: digest_of(&raw) }
}

/// The packages layer: the real files, and the generated inventory written as each database writes it.
fn packages_layer(rng: &mut Rng) -> (Layer, usize) {
    let mut status = String::from_utf8(data("debian-bookworm/var/lib/dpkg/status")).expect("utf-8");
    let mut files: Vec<(String, Vec<u8>, u32)> = vec![
        ("usr/lib/os-release".into(), data("debian-bookworm/usr/lib/os-release"), 0o644),
        ("etc/os-release".into(), data("debian-bookworm/usr/lib/os-release"), 0o644),
        ("usr/lib/python3/dist-packages/requests-2.32.3.dist-info/METADATA".into(), data("python/requests-2.32.3.dist-info__METADATA"), 0o644),
        ("usr/lib/python3/dist-packages/urllib3-2.2.3.dist-info/METADATA".into(), data("python/urllib3-2.2.3.dist-info__METADATA"), 0o644),
        ("app/node_modules/debug/package.json".into(), data("npm/node_modules/debug/package.json"), 0o644),
        ("app/node_modules/ms/package.json".into(), data("npm/node_modules/ms/package.json"), 0o644),
    ];
    let generated = inventory(rng);
    for p in &generated {
        match &p.ecosystem {
            Ecosystem::Debian(_) => {
                let source = p.source.as_ref().map(|(s, _)| s.as_str()).unwrap_or(&p.name);
                status.push_str(&format!(
                    "\nPackage: {}\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: 100\nMaintainer: Bench <bench@example.invalid>\nArchitecture: amd64\nSource: {source}\nVersion: {}\nDescription: generated for the benchmark\n",
                    p.name, p.version
                ));
            }
            Ecosystem::PyPI => files.push((format!("usr/lib/python3/dist-packages/{}-{}.dist-info/METADATA", p.name.replace('-', "_"), p.version), format!("Metadata-Version: 2.1\nName: {}\nVersion: {}\n", p.name, p.version).into_bytes(), 0o644)),
            Ecosystem::Npm => files.push((format!("app/node_modules/{}/package.json", p.name), format!("{{\"name\": \"{}\", \"version\": \"{}\"}}\n", p.name, p.version).into_bytes(), 0o644)),
            _ => {}
        }
    }
    files.push(("var/lib/dpkg/status".into(), status.into_bytes(), 0o644));
    (gzip_layer(tar_of(&files)), generated.len())
}

const WORDS: [&str; 16] = ["the", "service", "config", "request", "handler", "cluster", "deploy", "value", "timeout", "retry", "image", "layer", "package", "version", "token_count", "path"];

/// Filler: half binary libraries (not executables), half text files, as an application image's bulk.
fn filler_layer(rng: &mut Rng, index: usize) -> Layer {
    let mut files = Vec::new();
    let mut total = 0;
    let mut n = 0;
    while total < FILLER_BYTES_PER_LAYER {
        let size = 64 * 1024 + rng.below(900 * 1024) as usize;
        let contents: Vec<u8> = if n % 2 == 0 {
            let mut b = Vec::with_capacity(size + 8);
            while b.len() < size {
                b.extend_from_slice(&rng.next().to_le_bytes());
            }
            b.truncate(size);
            files.push((format!("usr/lib/x86_64-linux-gnu/fill{index}/libfill{n}.so.1"), b, 0o644));
            n += 1;
            total += size;
            continue;
        } else {
            let mut t = String::with_capacity(size + 64);
            while t.len() < size {
                for _ in 0..10 {
                    t.push_str(WORDS[rng.below(16) as usize]);
                    t.push(' ');
                }
                t.push('\n');
            }
            t.into_bytes()
        };
        total += contents.len();
        files.push((format!("usr/share/app{index}/doc{n}.txt"), contents, 0o644));
        n += 1;
    }
    gzip_layer(tar_of(&files))
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn line(label: &str, s: &Scanned, total: Duration) {
    println!(
        "{label}: total {} = pull {} + inventory+secrets {} + match {}; {} packages, {} findings, {} secrets; {:.1} MB of tar read ({:.0} MB/s in the walk)",
        ms(total),
        ms(s.timings.pull),
        ms(s.timings.walk),
        ms(s.timings.matching),
        s.report.packages.len(),
        s.report.vulnerabilities.len(),
        s.report.secrets.len(),
        s.walk.tar_bytes as f64 / 1e6,
        s.walk.tar_bytes as f64 / 1e6 / s.timings.walk.as_secs_f64(),
    );
}

fn main() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else {
        eprintln!("docker-registry is needed for this benchmark");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("osv");
    std::fs::create_dir(&src).expect("osv dir");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for n in 0..ADVISORIES {
        let a = advisory(&mut rng, n);
        std::fs::write(src.join(format!("{}.json", a.id)), serde_json::to_vec(&a).expect("json")).expect("write");
    }
    let db = dir.path().join("db");
    let summary = store::import(&db, &[&src]).expect("import");
    println!("store: {} generated advisories, {} packages", summary.metadata.advisories, summary.metadata.packages);

    let t = Instant::now();
    let (packages, generated) = packages_layer(&mut rng);
    let mut layers = vec![packages];
    for i in 0..FILLER_LAYERS {
        layers.push(filler_layer(&mut rng, i));
    }
    let image = Image::assemble(ImageConfig { architecture: "amd64".into(), os: "linux".into(), ..Default::default() }, layers);
    let compressed: u64 = image.layers.iter().map(|l| l.descriptor.size).sum();
    println!("image: {} layers, {:.1} MB compressed, {generated} generated packages beside the real ones (made in {})", image.layers.len(), compressed as f64 / 1e6, ms(t.elapsed()));

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let client = Client::new(Arc::new(StaticCredentials::new()));
    let reference = format!("{}/bench/app:1", registry.host());
    rt.block_on(client.push(&image, &Reference::parse(&reference).expect("reference"))).expect("push");

    let store = Arc::new(Store::open(&db).expect("open store"));
    let scanner = Scanner::new(Some(client)).store(Some(store));
    for (label, streamed) in [("streamed", true), ("pulled into memory", false)] {
        let scanner = scanner.clone().streaming(streamed);
        let mut runs = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let s = rt.block_on(scanner.scan(&reference, ScanOptions::default())).expect("scan");
            runs.push((t.elapsed(), s));
        }
        runs.sort_by_key(|(d, _)| *d);
        let (total, s) = &runs[runs.len() / 2];
        line(&format!("{label} (median of 5)"), s, *total);
    }
    drop(registry);
}
