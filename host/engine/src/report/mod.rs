//! Reports made from run records, for people and CI systems: the JUnit XML
//! written at the end of every run (`junit`), and the records read back
//! for `gantry history` and `gantry status` (`view`, [`runs`], [`find`]).
//! Files live under the state directory: `runs/<run-id>.json` (the record,
//! `crate::record`), `reports/<run-id>/junit.xml` and `reports/junit.xml`
//! (the latest run's, for a CI job to pick up at a fixed path); every
//! target's final state derived from a record (`state`). Scan
//! reports go beside them (`reports/<run-id>/scan-*`, written by the scan
//! stage). This module only reads what the record holds (already masked);
//! it never changes a record and never reaches a cluster.

pub mod junit;
pub mod state;
pub mod view;

use std::path::{Path, PathBuf};

pub use state::TargetState;
pub use view::RunView;

/// Where the reports of `run_id` go under `state_dir`.
pub fn dir(state_dir: &Path, run_id: &str) -> PathBuf {
    state_dir.join("reports").join(run_id)
}

/// Write the reports of a finished run: `reports/<run-id>/junit.xml`, then
/// the same bytes to `reports/junit.xml` (replaced atomically). Returns the
/// run's JUnit path.
pub fn write(state_dir: &Path, run: &RunView) -> std::io::Result<PathBuf> {
    let xml = junit::render(run);
    let dir = dir(state_dir, &run.run_id);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("junit.xml");
    write_atomically(&path, xml.as_bytes())?;
    write_atomically(&state_dir.join("reports").join("junit.xml"), xml.as_bytes())?;
    Ok(path)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The records under `<state_dir>/runs`, newest first, and the files that
/// could not be read (path, why) — an unreadable record never hides the others.
#[derive(Debug, Default)]
pub struct Runs {
    pub runs: Vec<RunView>,
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Every run record under `state_dir`, newest first (by start time, then id).
/// No `runs` directory: no runs.
pub fn runs(state_dir: &Path) -> std::io::Result<Runs> {
    let dir = state_dir.join("runs");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Runs::default()),
        Err(e) => return Err(e),
    };
    let mut out = Runs::default();
    for entry in entries {
        let path = entry?.path();
        let is_record = path.extension().is_some_and(|x| x == "json") && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !is_record {
            continue;
        }
        match std::fs::read(&path).map_err(|e| e.to_string()).and_then(|b| serde_json::from_slice::<RunView>(&b).map_err(|e| format!("not a run record: {e}"))) {
            Ok(run) => out.runs.push(run.with_final_state()),
            Err(why) => out.unreadable.push((path, why)),
        }
    }
    out.runs.sort_by(|a, b| (&b.started, &b.run_id).cmp(&(&a.started, &a.run_id)));
    Ok(out)
}

/// Why [`find`] found no single run.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("no run `{id}` in {dir}: `gantry history` lists the runs recorded there")]
    NotFound { id: String, dir: String },
    #[error("`{id}` names {count} runs in {dir}: give more of the id ({examples})")]
    Ambiguous { id: String, dir: String, count: usize, examples: String },
    #[error("reading the run records in {dir}: {source}")]
    Io { dir: String, source: std::io::Error },
}

/// The run whose id is `id`, or the only one that starts with it.
pub fn find(state_dir: &Path, id: &str) -> Result<RunView, FindError> {
    let dir = state_dir.join("runs").display().to_string();
    let all = runs(state_dir).map_err(|source| FindError::Io { dir: dir.clone(), source })?;
    if let Some(exact) = all.runs.iter().find(|r| r.run_id == id) {
        return Ok(exact.clone());
    }
    let mut matching: Vec<RunView> = all.runs.into_iter().filter(|r| !id.is_empty() && r.run_id.starts_with(id)).collect();
    match matching.len() {
        0 => Err(FindError::NotFound { id: id.to_string(), dir }),
        1 => Ok(matching.remove(0)),
        count => Err(FindError::Ambiguous { id: id.to_string(), dir, count, examples: matching.iter().take(3).map(|r| r.run_id.as_str()).collect::<Vec<_>>().join(", ") }),
    }
}

/// The newest run that ran a stage on `target`, from `runs` (newest first).
pub fn last_touching<'a>(runs: &'a [RunView], target: &str) -> Option<&'a RunView> {
    runs.iter().find(|r| r.touched(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(dir: &Path, id: &str, started: &str, target: &str) {
        let run = serde_json::json!({"run_id": id, "started": started, "status": "succeeded", "targets": [target],
            "stages": [{"name": "a", "status": "succeeded", "steps": [{"target": target, "status": "succeeded"}]}]});
        std::fs::create_dir_all(dir.join("runs")).unwrap();
        std::fs::write(dir.join("runs").join(format!("{id}.json")), run.to_string()).unwrap();
    }

    #[test]
    fn runs_read_newest_first_and_an_unreadable_file_is_named_not_fatal() {
        let d = tempfile::tempdir().unwrap();
        assert!(runs(d.path()).unwrap().runs.is_empty(), "no runs directory: no runs");
        record(d.path(), "20261127T060000Z-aaaaaa", "2026-11-27T06:00:00.000Z", "aws");
        record(d.path(), "20261127T070000Z-bbbbbb", "2026-11-27T07:00:00.000Z", "gcp");
        std::fs::write(d.path().join("runs/broken.json"), "{").unwrap();
        std::fs::write(d.path().join("runs/.x.json.tmp"), "{").unwrap();
        let all = runs(d.path()).unwrap();
        assert_eq!(all.runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["20261127T070000Z-bbbbbb", "20261127T060000Z-aaaaaa"]);
        assert_eq!(all.unreadable.len(), 1);
        assert!(all.unreadable[0].1.contains("not a run record"));
        assert_eq!(last_touching(&all.runs, "aws").unwrap().run_id, "20261127T060000Z-aaaaaa");
        assert!(last_touching(&all.runs, "azure").is_none());
    }

    #[test]
    fn find_takes_a_whole_id_or_a_unique_prefix() {
        let d = tempfile::tempdir().unwrap();
        record(d.path(), "20261127T060000Z-aaaaaa", "2026-11-27T06:00:00.000Z", "aws");
        record(d.path(), "20261127T060500Z-bbbbbb", "2026-11-27T06:05:00.000Z", "aws");
        assert_eq!(find(d.path(), "20261127T060500Z-bbbbbb").unwrap().run_id, "20261127T060500Z-bbbbbb");
        assert_eq!(find(d.path(), "20261127T0600").unwrap().run_id, "20261127T060000Z-aaaaaa");
        let e = find(d.path(), "20261127T06").unwrap_err().to_string();
        assert!(e.contains("names 2 runs") && e.contains("give more of the id"), "{e}");
        let e = find(d.path(), "nope").unwrap_err().to_string();
        assert!(e.contains("no run `nope`") && e.contains("gantry history"), "{e}");
    }

    #[test]
    fn writing_a_run_puts_its_junit_beside_the_latest() {
        let d = tempfile::tempdir().unwrap();
        let run = RunView { run_id: "r1".into(), pipeline: "p".into(), targets: vec!["aws".into()], ..RunView::default() };
        let path = write(d.path(), &run).unwrap();
        assert_eq!(path, d.path().join("reports/r1/junit.xml"));
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(d.path().join("reports/junit.xml")).unwrap());
        let second = RunView { run_id: "r2".into(), ..run };
        write(d.path(), &second).unwrap();
        assert!(std::fs::read_to_string(d.path().join("reports/junit.xml")).unwrap().contains(" r2\""), "the latest is the last run's");
    }
}
