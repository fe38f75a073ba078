//! Building guest crates (plugins) from a host crate's `build.rs`.
//!
//! Host crates embed or test WebAssembly components that are Rust crates in
//! their own cargo workspaces (`plugins/`, `tests/plugins/`). This helper
//! runs the nested `cargo build --target wasm32-wasip2 --profile guest` with
//! the outer build's toolchain and jobserver, into `<target>/guest`, and
//! turns a missing wasm target into a one-line fix. Used only by build scripts.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "wasm32-wasip2";
pub const PROFILE: &str = "guest";

/// The outer build's target directory, found from `OUT_DIR`
/// (`<target>/<profile>/build/<pkg>-<hash>/out`).
pub fn outer_target_dir() -> PathBuf {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set for build scripts"));
    out.ancestors().nth(4).map(Path::to_path_buf).unwrap_or(out)
}

/// Fail the build with one line saying how to install the wasm target.
pub fn require_wasm_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    if let Some(message) = missing_wasm_target(&rustc) {
        panic!("\n\n{message}\n");
    }
}

/// The one-line fix when `rustc`'s sysroot lacks the wasm target.
pub fn missing_wasm_target(rustc: &str) -> Option<String> {
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let installed = sysroot
        .map(|s| !s.is_empty() && Path::new(&s).join("lib/rustlib").join(TARGET).exists())
        .unwrap_or(false);
    (!installed).then(|| format!("error: the {TARGET} target is not installed; run `rustup target add {TARGET}` and build again"))
}

/// Build `packages` of the guest workspace at `manifest` and return the
/// component of each, in order. Re-runs the build script when the
/// workspace, the SDK or the WIT change.
pub fn build(manifest: &Path, packages: &[String], watch: &[PathBuf]) -> Vec<PathBuf> {
    require_wasm_target();
    for path in watch {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let target_dir = outer_target_dir().join("guest");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--target", TARGET, "--profile", PROFILE, "--locked"])
        .arg("--target-dir")
        .arg(&target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    // The outer build's flags are for the host, not the guest.
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "CARGO_BUILD_RUSTFLAGS", "RUSTC_WORKSPACE_WRAPPER"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("could not run cargo for the guest build: {e}"));
    if !status.success() {
        panic!("building the guest crates {packages:?} in {} failed (see the errors above)", manifest.display());
    }
    packages
        .iter()
        .map(|p| target_dir.join(TARGET).join(PROFILE).join(format!("{}.wasm", p.replace('-', "_"))))
        .collect()
}

/// Package names of the crates directly under `dir` (each with a Cargo.toml).
pub fn crates_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            if let Some(name) = manifest_value(&text, "name") {
                found.push((name, entry.path()));
            }
        }
    }
    found.sort();
    found
}

/// The first `key = "value"` (or `key = [..]` as raw text) in a manifest.
pub fn manifest_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        if k.trim() != key {
            return None;
        }
        let v = v.trim();
        Some(v.trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_wasm_target_gives_the_rustup_command() {
        let dir = std::env::temp_dir().join(format!("gantry-fake-rustc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("rustc");
        std::fs::write(&fake, format!("#!/bin/sh\necho {}\n", dir.display())).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let message = missing_wasm_target(fake.to_str().unwrap()).expect("the fake sysroot has no wasm target");
        assert_eq!(message.lines().count(), 1);
        assert!(message.contains("rustup target add wasm32-wasip2"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_real_toolchain_has_the_wasm_target() {
        assert_eq!(missing_wasm_target("rustc"), None);
    }
}
