//! The guest workspace (`plugins/`: the SDK and the built-ins) has unit
//! tests of its own logic (duration parsing, settings). They are plain Rust,
//! so they run natively; this test runs them as part of the workspace's one
//! test command, in a target directory of their own.

use std::path::Path;
use std::process::Command;

#[test]
fn the_plugin_workspace_unit_tests_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(root.join("plugins"))
        .args(["test", "--workspace", "--locked"])
        .env("CARGO_TARGET_DIR", root.join("target/guest-native-tests"));
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
        cargo.env_remove(var);
    }
    let out = cargo.output().expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "plugins/ unit tests failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("durations_parse_like_go_and_argo ... ok") && stdout.contains("settings_errors_name_the_field ... ok"), "the guest tests did not run:\n{stdout}");
}
