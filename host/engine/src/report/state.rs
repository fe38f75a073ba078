//! Every target's final state after a run, derived from what the run
//! recorded: the deploy stages' outputs (`track`, `release`, `revision`,
//! `image`, `digest`, `canary-removed`, `undo` — `builtin:helm-deploy`'s)
//! and the on-failure stage's result on that target (it carries out the
//! recorded `undo` entries, newest first, as `builtin:rollback` does). It
//! says what the stable release is (promoted, unchanged, rolled back,
//! uninstalled, or unknown when on-failure failed), whether a canary is
//! left, and what on-failure undid. It reads the record only: it never
//! asks a cluster (`gantry status` does), so a target changed by hand
//! after the run is not seen here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::view::{RunView, StepView};

/// One target as the run left it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetState {
    pub target: String,
    /// The stable release: `promoted` (this run's image), `unchanged` (the
    /// run did not change it), `rolled-back` (to `revision`), `uninstalled`
    /// (the run had installed it first, on-failure removed it), `unknown`
    /// (on-failure failed on this target: look at it).
    pub stable: String,
    /// The stable release's name, when the run deployed or undid it.
    pub release: Option<String>,
    /// Its revision: the one deployed, or the one rolled back to.
    pub revision: Option<u64>,
    /// The image it runs (`REPO@sha256:…`), when the run deployed it.
    pub image: Option<String>,
    pub digest: Option<String>,
    /// The promoted stable release's health at the run's last health check
    /// of it (`healthy`, …), when one ran after the promotion.
    pub health: Option<String>,
    /// The canary release: `none` (not installed by this run), `removed`
    /// (by the promotion or by on-failure: `canary_removed_by`), `left`
    /// (still installed), `unknown` (on-failure failed on this target).
    pub canary: String,
    pub canary_release: Option<String>,
    /// `promotion` or `on-failure`, when `canary` is `removed`.
    pub canary_removed_by: Option<String>,
    /// What on-failure did here, in order (`uninstalled fastapi-app-canary`,
    /// `rolled fastapi-app back to revision 3`).
    pub undone: Vec<String>,
    /// Stages interrupted on this target (SIGINT, a lost lock): what they
    /// changed before they stopped is not recorded, so `gantry status`
    /// tells what is live.
    pub interrupted: Vec<String>,
    /// The on-failure step's status on this target, when it ran.
    pub on_failure: Option<String>,
    /// Its error, when it failed.
    pub on_failure_error: Option<String>,
}

/// A release the run installed, as its deploy stage recorded it.
#[derive(Debug, Clone)]
struct Deployed {
    release: String,
    revision: Option<u64>,
    image: Option<String>,
    digest: Option<String>,
}

fn deployed(o: &Value) -> Option<Deployed> {
    let release = o["release"].as_str()?.to_string();
    let nonempty = |k: &str| o[k].as_str().filter(|s| !s.is_empty()).map(String::from);
    Some(Deployed { release, revision: o["revision"].as_u64(), image: nonempty("image"), digest: nonempty("digest") })
}

/// Every target of `run`, in the run's order.
pub fn of(run: &RunView) -> Vec<TargetState> {
    run.targets.iter().map(|t| target(run, t)).collect()
}

fn target(run: &RunView, name: &str) -> TargetState {
    let mut stable: Option<Deployed> = None;
    let mut canary: Option<Deployed> = None;
    let mut canary_removed_by = None;
    let mut undo: Vec<Value> = Vec::new();
    let mut stable_health = None;
    let here = |step: &&StepView| step.target.as_deref() == Some(name);
    let mut interrupted = Vec::new();
    for (stage, step) in run.stages.iter().flat_map(|s| s.steps.iter().map(move |step| (s, step))).filter(|(_, step)| here(step)) {
        if step.status == "interrupted" {
            interrupted.push(stage.name.clone());
        }
        // A failed stage records no outputs: it left its target as it found it.
        if step.status != "succeeded" {
            continue;
        }
        let o = &step.outputs;
        // A stage that changed the target records how to undo it; others
        // (health checks, the wait) only name the release they looked at.
        if !o["undo"].is_array() {
            if o["track"].as_str() == Some("stable") {
                stable_health = o["health"].as_str().map(String::from);
            }
            continue;
        }
        match o["track"].as_str() {
            Some("canary") => {
                canary = deployed(o);
                canary_removed_by = None;
            }
            Some("stable") => {
                stable = deployed(o);
                stable_health = None;
                if o["canary-removed"].as_bool() == Some(true) && canary.is_some() {
                    canary_removed_by = Some("promotion".to_string());
                }
            }
            _ => {}
        }
        if let Some(entries) = o["undo"].as_array() {
            undo.extend(entries.iter().cloned());
        }
    }
    let mut state = TargetState { target: name.to_string(), interrupted, ..TargetState::default() };
    let recovery = run.on_failure.iter().flat_map(|s| &s.steps).find(here).filter(|s| s.status != "skipped");
    state.on_failure = recovery.map(|s| s.status.clone());
    state.on_failure_error = recovery.and_then(|s| s.error.as_ref()).map(|e| e.message.clone());
    let mut stable_state = if stable.is_some() { "promoted" } else { "unchanged" };
    match recovery.map(|s| s.status.as_str()) {
        Some("succeeded") => {
            for entry in undo.iter().rev() {
                let release = entry["release"].as_str().unwrap_or_default().to_string();
                match entry["action"].as_str() {
                    Some("rollback") => {
                        let revision = entry["revision"].as_u64();
                        state.undone.push(format!("rolled {release} back to revision {}", revision.map(|r| r.to_string()).unwrap_or_else(|| "?".into())));
                        stable_state = "rolled-back";
                        stable = Some(Deployed { release, revision, image: None, digest: None });
                    }
                    Some("uninstall") => {
                        let is_canary = canary.as_ref().is_some_and(|c| c.release == release);
                        if is_canary && canary_removed_by.is_some() {
                            state.undone.push(format!("{release} was already removed by the promotion"));
                            continue;
                        }
                        state.undone.push(format!("uninstalled {release}"));
                        if is_canary {
                            canary_removed_by = Some("on-failure".to_string());
                        } else if stable.as_ref().is_some_and(|s| s.release == release) {
                            stable_state = "uninstalled";
                            stable = Some(Deployed { release, revision: None, image: None, digest: None });
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(_) => {
            stable_state = if stable.is_some() || canary.is_some() { "unknown" } else { stable_state };
        }
        None => {}
    }
    state.stable = stable_state.to_string();
    if stable_state == "promoted" {
        state.health = stable_health;
    }
    if let Some(s) = stable {
        state.release = Some(s.release);
        state.revision = s.revision;
        state.image = s.image;
        state.digest = s.digest;
    }
    let recovery_failed = recovery.is_some_and(|s| s.status != "succeeded");
    state.canary = match (&canary, &canary_removed_by) {
        (None, _) => "none",
        (Some(_), Some(_)) => "removed",
        (Some(_), None) if recovery_failed => "unknown",
        (Some(_), None) => "left",
    }
    .to_string();
    state.canary_release = canary.map(|c| c.release);
    state.canary_removed_by = canary_removed_by;
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DIGEST: &str = "sha256:2e66e8193693b9f7d3dd0171d2d7549586369c303e6b1f17c8d96a2825df3180";

    fn canary(target: &str) -> Value {
        json!({"target": target, "status": "succeeded", "outputs": {"track": "canary", "release": "app-canary", "revision": 1, "image": format!("r/app@{DIGEST}"), "digest": DIGEST, "undo": [{"action": "uninstall", "release": "app-canary"}]}})
    }

    fn stable(target: &str, previous: Option<u64>) -> Value {
        let undo = match previous {
            Some(r) => json!({"action": "rollback", "release": "app", "revision": r}),
            None => json!({"action": "uninstall", "release": "app"}),
        };
        json!({"target": target, "status": "succeeded", "outputs": {"track": "stable", "release": "app", "revision": previous.map_or(1, |r| r + 1), "image": format!("r/app@{DIGEST}"), "digest": DIGEST, "canary-removed": true, "undo": [undo]}})
    }

    fn run(stages: Value, on_failure: Value) -> RunView {
        serde_json::from_value(json!({"targets": ["aws", "gcp"], "stages": stages, "on_failure": on_failure})).unwrap()
    }

    #[test]
    fn a_good_release_leaves_stable_on_the_built_digest_and_no_canary() {
        let check = |t: &str, track: &str| json!({"target": t, "status": "succeeded", "outputs": {"track": track, "release": "app", "health": "healthy"}});
        let r = run(
            json!([{"name": "deploy", "steps": [canary("aws"), canary("gcp")]}, {"name": "check", "steps": [check("aws", "canary")]}, {"name": "promote", "steps": [stable("aws", Some(3)), stable("gcp", None)]}, {"name": "check-production", "steps": [check("aws", "stable")]}]),
            json!({"name": "rollback", "status": "skipped"}),
        );
        let s = of(&r);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].stable.as_str(), s[0].release.as_deref(), s[0].revision, s[0].digest.as_deref()), ("promoted", Some("app"), Some(4), Some(DIGEST)));
        assert_eq!((s[0].canary.as_str(), s[0].canary_removed_by.as_deref()), ("removed", Some("promotion")));
        assert_eq!((s[1].stable.as_str(), s[1].revision), ("promoted", Some(1)));
        assert_eq!((s[0].health.as_deref(), s[1].health.as_deref()), (Some("healthy"), None), "a health check names, and does not replace, the release");
        assert!(s.iter().all(|t| t.undone.is_empty() && t.on_failure.is_none()));
    }

    #[test]
    fn a_failed_canary_is_removed_by_on_failure_and_stable_is_unchanged() {
        let failed = json!({"target": "gcp", "status": "failed", "error": {"message": "crash loop"}});
        let r = run(
            json!([{"name": "deploy", "steps": [canary("aws"), canary("gcp")]}, {"name": "check", "steps": [failed]}, {"name": "promote", "status": "skipped"}]),
            json!({"name": "rollback", "steps": [{"target": "aws", "status": "succeeded"}, {"target": "gcp", "status": "succeeded"}]}),
        );
        for t in of(&r) {
            assert_eq!((t.stable.as_str(), t.release.as_deref()), ("unchanged", None), "{t:?}");
            assert_eq!((t.canary.as_str(), t.canary_removed_by.as_deref(), t.canary_release.as_deref()), ("removed", Some("on-failure"), Some("app-canary")));
            assert_eq!(t.undone, ["uninstalled app-canary"]);
        }
    }

    #[test]
    fn a_failure_after_promotion_rolls_stable_back_or_uninstalls_a_first_install() {
        let r = run(
            json!([{"name": "deploy", "steps": [canary("aws"), canary("gcp")]}, {"name": "promote", "steps": [stable("aws", Some(3)), stable("gcp", None)]}, {"name": "check", "steps": [{"target": "aws", "status": "failed"}]}]),
            json!({"name": "rollback", "steps": [{"target": "aws", "status": "succeeded"}, {"target": "gcp", "status": "succeeded"}]}),
        );
        let s = of(&r);
        assert_eq!((s[0].stable.as_str(), s[0].revision, s[0].digest.as_deref()), ("rolled-back", Some(3), None));
        assert_eq!(s[0].undone, ["rolled app back to revision 3", "app-canary was already removed by the promotion"]);
        assert_eq!((s[1].stable.as_str(), s[1].release.as_deref()), ("uninstalled", Some("app")));
        assert_eq!(s[0].canary_removed_by.as_deref(), Some("promotion"), "the promotion removed it first");
    }

    #[test]
    fn a_failed_on_failure_leaves_the_state_unknown_and_says_why() {
        let r = run(
            json!([{"name": "deploy", "steps": [canary("aws")]}, {"name": "check", "steps": [{"target": "aws", "status": "failed"}]}]),
            json!({"name": "rollback", "steps": [{"target": "aws", "status": "failed", "error": {"message": "rollback on aws incomplete: boom"}}]}),
        );
        let s = of(&r);
        assert_eq!((s[0].stable.as_str(), s[0].canary.as_str(), s[0].on_failure_error.as_deref()), ("unknown", "unknown", Some("rollback on aws incomplete: boom")));
        assert_eq!((s[1].stable.as_str(), s[1].canary.as_str(), s[1].on_failure.as_deref()), ("unchanged", "none", None), "gcp was never touched");
    }

    #[test]
    fn an_interrupted_stage_is_named_as_unrecorded() {
        let r = run(json!([{"name": "deploy", "steps": [canary("aws"), {"target": "gcp", "status": "interrupted"}]}]), json!({"name": "rollback", "steps": [{"target": "aws", "status": "succeeded"}, {"target": "gcp", "status": "succeeded"}]}));
        let s = of(&r);
        assert!(s[0].interrupted.is_empty());
        assert_eq!((s[1].interrupted.as_slice(), s[1].canary.as_str()), (["deploy".to_string()].as_slice(), "none"));
    }
}
