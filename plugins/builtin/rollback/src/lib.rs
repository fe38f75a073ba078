//! `builtin:rollback`: the default `on-failure` stage. It undoes, for its
//! target, what earlier stages recorded they did, newest first. A stage
//! that changes a cluster records how to undo it in its outputs:
//!
//! ```json
//! { "undo": [ { "action": "uninstall", "release": "fastapi-app-canary" },
//!             { "action": "rollback", "release": "fastapi-app", "revision": 4 } ] }
//! ```
//!
//! Each release goes back to the state its oldest record names, the one
//! before this run first changed it: later records of the same release
//! (a canary's weight stepped 10 → 50 → 100, then promoted) are covered by
//! it and skipped, with a log line, so a rollback does not walk traffic
//! back through every step (nor through a weight whose canary is gone).
//! Between releases the order stays newest first: stable is put back (its
//! route off the canary) before the canary is uninstalled.
//!
//! Nothing recorded means nothing was changed there, and nothing is done.
//! Every undo is attempted even when one fails; the stage fails if any did.
//! Undoing is idempotent: uninstalling a release that is already gone (a
//! promotion removed the canary, or an earlier rollback did) succeeds with
//! a log line, so a rollback can run again after a partial one.

use gantry_sdk::cap::{helm, run};
use gantry_sdk::types::ErrorKind;
use gantry_sdk::{Failure, Input, Output, Stage};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Wait for rolled-back workloads to be ready.
    #[serde(default)]
    wait: bool,
    /// Seconds per Helm operation; 0 for Helm's default.
    #[serde(default)]
    timeout_seconds: u32,
}

#[derive(Deserialize, Debug)]
#[serde(tag = "action", rename_all = "kebab-case")]
enum Undo {
    Uninstall { release: String },
    Rollback { release: String, revision: u32 },
}

impl std::fmt::Display for Undo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Undo::Uninstall { release } => write!(f, "uninstall {release}"),
            Undo::Rollback { release, revision } => write!(f, "roll {release} back to revision {revision}"),
        }
    }
}

impl Undo {
    fn release(&self) -> &str {
        match self {
            Undo::Uninstall { release } | Undo::Rollback { release, .. } => release,
        }
    }
}

/// An undo and the stage that recorded it.
type Entry = (String, Undo);
/// An undo left out, its stage, and the stage whose older undo covers it.
type Covered = (String, Undo, String);

/// Per release, the oldest undo only (it restores the release as it was
/// before the run); the others are returned apart, each with the stage
/// whose undo covers it. Order is kept.
fn oldest_per_release(undo: Vec<Entry>) -> (Vec<Entry>, Vec<Covered>) {
    let (mut kept, mut covered): (Vec<Entry>, Vec<Covered>) = (Vec::new(), Vec::new());
    for (stage, step) in undo {
        match kept.iter().find(|(_, k)| k.release() == step.release()) {
            Some((first, _)) => {
                let first = first.clone();
                covered.push((stage, step, first));
            }
            None => kept.push((stage, step)),
        }
    }
    (kept, covered)
}

#[derive(Deserialize, Default)]
struct Recorded {
    #[serde(default)]
    undo: Vec<Undo>,
}

struct Rollback;

impl Stage for Rollback {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let Some(target) = input.target.map(|t| t.name) else {
            return Err(Failure::new("builtin:rollback runs per target").hint("drop `once: true` from the on-failure stage"));
        };
        let mut undo: Vec<(String, Undo)> = Vec::new();
        for record in run::history() {
            if record.target.as_deref() != Some(target.as_str()) {
                continue;
            }
            let recorded: Recorded = serde_json::from_str(&record.outputs).unwrap_or_default();
            undo.extend(recorded.undo.into_iter().map(|u| (record.stage.clone(), u)));
        }
        if undo.is_empty() {
            gantry_sdk::info!("nothing to undo on {target}: no stage recorded a change there");
            return Ok(Output::new(format!("nothing to undo on {target}")).with("undone", 0));
        }
        let (undo, covered) = oldest_per_release(undo);
        for (stage, step, first) in &covered {
            gantry_sdk::info!("{target}: not doing `{step}` (recorded by {stage}): {first}'s undo puts {} back as it was before the run", step.release());
        }
        let mut failures = Vec::new();
        let mut done = 0;
        for (stage, step) in undo.into_iter().rev() {
            let result = match &step {
                Undo::Uninstall { release } => {
                    gantry_sdk::info!("{target}: uninstalling {release} (installed by {stage})");
                    match helm::uninstall(&target, release, None, false) {
                        Err(e) if e.kind == ErrorKind::NotFound => {
                            gantry_sdk::info!("{target}: {release} is already gone; nothing to uninstall");
                            Ok(())
                        }
                        other => other,
                    }
                }
                Undo::Rollback { release, revision } => {
                    gantry_sdk::info!("{target}: rolling {release} back to revision {revision} (changed by {stage})");
                    helm::rollback(&target, release, None, *revision, input.settings.wait, input.settings.timeout_seconds).map(|_| ())
                }
            };
            match result {
                Ok(()) => done += 1,
                Err(e) => {
                    gantry_sdk::error!("{target}: {step:?} failed: {}", e.message);
                    failures.push(format!("{step:?}: {}", e.message));
                }
            }
        }
        if failures.is_empty() {
            Ok(Output::new(format!("undid {done} change(s) on {target}")).with("undone", done).with("covered", covered.len()))
        } else {
            Err(Failure::new(format!("rollback on {target} incomplete: {}", failures.join("; ")))
                .hint("inspect the target with `helm history` and finish the rollback by hand"))
        }
    }
}

gantry_sdk::export_stage!(Rollback);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_release_goes_back_to_its_oldest_record_and_the_order_is_kept() {
        let undo = vec![
            ("deploy-canary".to_string(), Undo::Uninstall { release: "app-canary".into() }),
            ("shift-10".to_string(), Undo::Rollback { release: "app".into(), revision: 4 }),
            ("shift-50".to_string(), Undo::Rollback { release: "app".into(), revision: 5 }),
            ("promote".to_string(), Undo::Rollback { release: "app".into(), revision: 6 }),
        ];
        let (kept, covered) = oldest_per_release(undo);
        let kept: Vec<(&str, &str)> = kept.iter().map(|(s, u)| (s.as_str(), u.release())).collect();
        assert_eq!(kept, [("deploy-canary", "app-canary"), ("shift-10", "app")]);
        let covered: Vec<(&str, &str)> = covered.iter().map(|(s, _, first)| (s.as_str(), first.as_str())).collect();
        assert_eq!(covered, [("shift-50", "shift-10"), ("promote", "shift-10")]);
    }
}
