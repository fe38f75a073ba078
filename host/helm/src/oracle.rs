//! Where the oracle is — real Helm's Go library through helm-python-sdk,
//! the judge of every Helm test in the workspace — and what a test does
//! when it is missing. The python is `GANTRY_HELM_PYTHON`, else
//! `/tmp/helmvenv/bin/python`, and counts only if it imports `helm_python`.
//! When it does not, a test fails if `CI` is set and is skipped with a
//! message otherwise. Each test keeps its own way of asking the oracle;
//! this file must not grow a render driver. Compiled for this crate's unit
//! tests and, with the `oracle` feature, for other crates' tests (as a
//! dev-dependency); never part of the binary.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The oracle's python, or None (after saying why) when it is missing and
/// `CI` is unset; with `CI` set a missing oracle panics, failing the test.
pub fn python() -> Option<PathBuf> {
    // Asked once per test binary: whether the python imports helm_python.
    static FOUND: OnceLock<(PathBuf, bool)> = OnceLock::new();
    let (py, ok) = FOUND.get_or_init(|| {
        let py = std::env::var_os("GANTRY_HELM_PYTHON").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp/helmvenv/bin/python"));
        let ok = std::process::Command::new(&py).args(["-c", "import helm_python"]).output().is_ok_and(|o| o.status.success());
        (py, ok)
    });
    if *ok {
        return Some(py.clone());
    }
    if std::env::var_os("CI").is_some() {
        panic!("the Helm oracle ({} with helm_python) is missing and CI is set: install helm-python-sdk and set GANTRY_HELM_PYTHON", py.display());
    }
    eprintln!("skipping: the Helm oracle ({} with helm_python) is missing (set GANTRY_HELM_PYTHON)", py.display());
    None
}
