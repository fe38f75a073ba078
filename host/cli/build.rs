//! Embeds the demo's files in the `gantry` binary: every file of
//! `examples/fastapi-app` (the request's pipeline, the app, its Dockerfile)
//! and of `helm/fastapi-app` (the chart), as `include_bytes!` entries in
//! `$OUT_DIR/demo_files.rs` keyed by their path in the repository
//! (`commands::demo` writes them out for `--demo`). It reads only those two
//! directories, skips Python caches, and writes nothing else.

use std::path::{Path, PathBuf};

/// The directories the demo needs, relative to the repository root.
const DIRS: &[&str] = &["examples/fastapi-app", "helm/fastapi-app"];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    let mut files = Vec::new();
    for dir in DIRS {
        let abs = root.join(dir);
        println!("cargo:rerun-if-changed={}", abs.display());
        walk(&abs, dir, &mut files);
    }
    files.sort();
    let mut out = String::from("/// Every file of the demo: (path in the repository, contents).\npub const FILES: &[(&str, &[u8])] = &[\n");
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={}", abs.display());
        out.push_str(&format!("    ({rel:?}, include_bytes!({:?})),\n", abs.display().to_string()));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("demo_files.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));
}

/// Every file under `dir` (its repository path `rel`), directories first
/// reported to cargo so a new file reruns this script.
fn walk(dir: &Path, rel: &str, files: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("the demo's files: reading {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("the demo's files: reading {}: {e}", dir.display()));
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "__pycache__" || name.ends_with(".pyc") {
            continue;
        }
        let path = entry.path();
        let child = format!("{rel}/{name}");
        let kind = entry.file_type().unwrap_or_else(|e| panic!("the demo's files: {}: {e}", path.display()));
        if kind.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            walk(&path, &child, files);
        } else if kind.is_file() {
            files.push((child, path));
        }
    }
}
