//! Builds every crate under `plugins/builtin/` for wasm32-wasip2 and writes
//! `builtins.rs` (the components, embedded), plus `sdk.rs` (the SDK's files,
//! for `gantry plugin new`).

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let plugins = root.join("plugins");
    let crates = gantry_guest_build::crates_in(&plugins.join("builtin"));
    let names: Vec<String> = crates.iter().map(|(n, _)| n.clone()).collect();
    let watch = vec![
        plugins.join("Cargo.toml"),
        plugins.join("Cargo.lock"),
        plugins.join("sdk"),
        plugins.join("builtin"),
        root.join("wit"),
    ];
    let built = gantry_guest_build::build(&plugins.join("Cargo.toml"), &names, &watch);

    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut src = String::from("pub static BUILTINS: &[Builtin] = &[\n");
    for ((package, dir), wasm) in crates.iter().zip(&built) {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let name = package.strip_prefix("builtin-").unwrap_or(package);
        let description = gantry_guest_build::manifest_value(&manifest, "description").unwrap_or_default();
        let grants = gantry_guest_build::manifest_value(&manifest, "grants").unwrap_or_else(|| "[]".into());
        let once = gantry_guest_build::manifest_value(&manifest, "once").is_some_and(|v| v == "true");
        let copy = out.join(format!("{name}.wasm"));
        std::fs::copy(wasm, &copy).unwrap();
        writeln!(
            src,
            "    Builtin {{ name: {name:?}, description: {description:?}, grants: &{grants}, once: {once}, wasm: include_bytes!({copy:?}) }},"
        )
        .unwrap();
    }
    src.push_str("];\n");
    std::fs::write(out.join("builtins.rs"), src).unwrap();

    // The SDK as files, for scaffolding plugin crates outside this repository.
    let mut sdk = String::from("pub static SDK_FILES: &[(&str, &str)] = &[\n");
    let mut files = vec![
        ("Cargo.toml".to_string(), plugins.join("sdk/Cargo.toml")),
        ("src/lib.rs".to_string(), plugins.join("sdk/src/lib.rs")),
        ("src/worlds.rs".to_string(), plugins.join("sdk/src/worlds.rs")),
        ("src/log_helpers.rs".to_string(), plugins.join("sdk/src/log_helpers.rs")),
    ];
    let mut wit: Vec<_> = std::fs::read_dir(root.join("wit")).unwrap().flatten().map(|e| e.path()).collect();
    wit.sort();
    for path in wit {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        files.push((format!("wit/{name}"), path));
    }
    for (name, path) in files {
        writeln!(sdk, "    ({name:?}, include_str!({path:?})),").unwrap();
    }
    sdk.push_str("];\n");
    std::fs::write(out.join("sdk.rs"), sdk).unwrap();
}
