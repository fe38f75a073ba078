//! Inventory throughput: an image of ~150 MB of layer data (the real package
//! metadata of tests/data/images, plus filler files: text, and executables
//! that the inventory must read for Go/Rust build info) is built once per
//! compression (gzip, zstd, plain tar) and inventoried repeatedly on one
//! thread; MB/s is of decompressed tar bytes (and of compressed blob bytes).
//! Run: `cargo bench -p gantry-scan --bench inventory` (`-- --quick` for one round).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use gantry_registry::image::digest_of;
use gantry_registry::spec::{self, ImageConfig};
use gantry_registry::{Blob, Image, Layer};
use gantry_scan::inventory;
use gantry_scan::secrets;

fn data(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/images").join(rel)).expect("fixture")
}

/// Deterministic text-like filler (words from a small vocabulary), which compresses like source and config files do.
fn text(seed: &mut u64, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &["the", "package", "install", "config", "value", "return", "error", "function", "import", "module", "version", "library", "=", "{", "}", "\n", "    ", "self", "data", "0x1f", "path", "/usr/lib"];
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.extend_from_slice(WORDS[(*seed >> 33) as usize % WORDS.len()].as_bytes());
        out.push(b' ');
    }
    out.truncate(len);
    out
}

/// Machine-code-like filler: an ELF header then bytes that compress about as well as real binaries (~2.5x).
fn binary(seed: &mut u64, len: usize) -> Vec<u8> {
    let mut out = b"\x7fELF\x02\x01\x01\0".to_vec();
    while out.len() < len {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let x = (*seed >> 24).to_le_bytes();
        out.extend_from_slice(&x[..4]);
        out.extend_from_slice(&[0x48, 0x89, 0xe5, 0, 0, 0x0f, 0x1f]);
    }
    out.truncate(len);
    out
}

fn tar_of(files: &[(String, Vec<u8>, u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, &content[..]).expect("tar in memory");
    }
    b.into_inner().expect("tar in memory")
}

fn layers() -> Vec<Vec<u8>> {
    let mut seed = 42u64;
    let mut base = vec![
        ("usr/lib/os-release".to_string(), data("debian-bookworm/usr/lib/os-release"), 0o644),
        ("var/lib/dpkg/status".to_string(), data("debian-bookworm/var/lib/dpkg/status"), 0o644),
    ];
    // base: ~60 MB, like a distribution (many small text files, some binaries)
    for i in 0..6000 {
        base.push((format!("usr/share/misc/f{i}.txt"), text(&mut seed, 4000 + (i % 7) * 900), 0o644));
    }
    for i in 0..120 {
        base.push((format!("usr/bin/tool{i}"), binary(&mut seed, 200_000 + (i % 5) * 50_000), 0o755));
    }
    let mut app = vec![
        ("usr/local/lib/python3.11/site-packages/requests-2.32.3.dist-info/METADATA".to_string(), data("python/requests-2.32.3.dist-info__METADATA"), 0o644),
        ("app/package-lock.json".to_string(), data("npm/package-lock.json"), 0o644),
        ("app/node_modules/debug/package.json".to_string(), data("npm/node_modules/debug/package.json"), 0o644),
        ("app/node_modules/ms/package.json".to_string(), data("npm/node_modules/ms/package.json"), 0o644),
    ];
    // app: ~90 MB, node_modules-like sources, a few big binaries with build info
    for i in 0..8000 {
        app.push((format!("app/node_modules/pkg{}/lib/file{i}.js", i % 400), text(&mut seed, 3000 + (i % 11) * 500), 0o644));
    }
    for i in 0..4 {
        let mut b = data("go/kubectl.buildinfo.elf");
        b.extend_from_slice(&binary(&mut seed, 12_000_000));
        app.push((format!("usr/local/bin/go{i}"), b, 0o755));
    }
    vec![tar_of(&base), tar_of(&app)]
}

fn image(tars: &[Vec<u8>], how: &str) -> Image {
    let layers = tars
        .iter()
        .map(|raw| {
            let (blob, media_type) = match how {
                "gzip" => {
                    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
                    e.write_all(raw).expect("in memory");
                    (e.finish().expect("in memory"), spec::OCI_LAYER_GZIP)
                }
                "zstd" => (ruzstd::encoding::compress_to_vec(&raw[..], ruzstd::encoding::CompressionLevel::Fastest), spec::OCI_LAYER_ZSTD),
                _ => (raw.clone(), spec::OCI_LAYER),
            };
            Layer { blob: Blob::new(media_type, blob), diff_id: digest_of(raw) }
        })
        .collect();
    Image::assemble(ImageConfig { architecture: "amd64".into(), os: "linux".into(), ..Default::default() }, layers)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 1 } else { 5 };
    let tars = layers();
    let tar_bytes: usize = tars.iter().map(Vec::len).sum();
    println!("layer data: {:.1} MB of tar in {} layers; best of {rounds} rounds, one thread", tar_bytes as f64 / 1e6, tars.len());
    for how in ["plain", "gzip", "zstd"] {
        let img = image(&tars, how);
        let blob_bytes: u64 = img.layers.iter().map(|l| l.descriptor.size).sum();
        let mut best = f64::MAX;
        let mut packages = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            let inv = inventory::inventory(&img).expect("inventory");
            best = best.min(t.elapsed().as_secs_f64());
            packages = inv.packages.len();
        }
        let mut best_secrets = f64::MAX;
        for _ in 0..rounds {
            let t = Instant::now();
            let _ = secrets::scan_image(&img).expect("scan");
            best_secrets = best_secrets.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{how:>5}: inventory {:7.1} MB/s of tar ({:6.1} MB/s of blob, {:.1} MB), {:.3} s, {packages} packages | inventory+secrets {:7.1} MB/s",
            tar_bytes as f64 / 1e6 / best,
            blob_bytes as f64 / 1e6 / best,
            blob_bytes as f64 / 1e6,
            best,
            tar_bytes as f64 / 1e6 / best_secrets,
        );
    }
}
