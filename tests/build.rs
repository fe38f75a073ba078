//! Builds the hostile fixture plugins under `tests/plugins/` for
//! wasm32-wasip2 and tells the test crate where each component is:
//! `FIXTURE_<NAME>` (e.g. `FIXTURE_LOOP` for `fixture-loop`) as a
//! compile-time environment variable, and the whole list in
//! `$OUT_DIR/fixtures.rs` for `gantry_tests::fixture`.

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let here = here.canonicalize().unwrap_or(here);
    let root = here.join("..");
    let fixtures = here.join("plugins");
    let crates = gantry_guest_build::crates_in(&fixtures);
    let names: Vec<String> = crates.iter().map(|(n, _)| n.clone()).collect();
    let mut watch = vec![
        fixtures.join("Cargo.toml"),
        fixtures.join("Cargo.lock"),
        root.join("plugins/sdk"),
        root.join("wit"),
    ];
    watch.extend(crates.iter().map(|(_, dir)| dir.clone()));
    let built = gantry_guest_build::build(&fixtures.join("Cargo.toml"), &names, &watch);

    let mut table = String::from("pub static FIXTURES: &[(&str, &str)] = &[\n");
    for (package, wasm) in names.iter().zip(&built) {
        let name = package.strip_prefix("fixture-").unwrap_or(package);
        let var = format!("FIXTURE_{}", name.replace('-', "_").to_uppercase());
        println!("cargo:rustc-env={var}={}", wasm.display());
        writeln!(table, "    ({name:?}, {:?}),", wasm.display().to_string()).unwrap();
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out.join("fixtures.rs"), table).unwrap();
}
