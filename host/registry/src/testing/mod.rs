//! Real services for tests, in this crate and others (the `testing`
//! feature, as a dev-dependency): a Docker engine and docker-registry
//! started on loopback under a temporary directory. A test that needs one
//! fails when `CI` is set and the service is missing, and is skipped with a
//! message otherwise. Never part of the binary.

pub mod dockerd;
pub mod registry;

/// A tool a test needs (a toolchain binary, say): the path in `env`, else
/// `default`; None, after `missing` says so (a panic under CI), when it is
/// not there.
pub fn tool(env: &str, default: std::path::PathBuf) -> Option<std::path::PathBuf> {
    let path = std::env::var_os(env).map(std::path::PathBuf::from).unwrap_or(default);
    if path.exists() {
        return Some(path);
    }
    missing(&format!("{} ({env})", path.display()), ".ci/run installs it");
    None
}

/// Fails the test under `CI`, else says why it is skipped; for callers to `return` after.
pub fn missing(what: &str, fix: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is missing and CI is set: {fix}");
    }
    eprintln!("skipping: {what} is missing ({fix})");
}
