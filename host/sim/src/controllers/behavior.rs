//! How a simulated pod lives, configured per pod by annotations — the one
//! place their names are defined:
//!
//! | annotation | values | effect |
//! |---|---|---|
//! | `sim.gantry.dev/ready-after` | a duration: `500ms`, `2s`, `1m` | containers become ready that long after the pod starts (default 500ms) |
//! | `sim.gantry.dev/behavior` | `ready` (default), `crashloop`, `never-ready`, `image-pull-backoff` | see [`Behavior`] |
//!
//! Put them on the pod template (`spec.template.metadata.annotations`) of a
//! workload. This file only parses; `pods` acts the behaviour out.

use std::time::Duration;

use serde_json::Value;

/// Annotation: how long after starting the pod's containers become ready.
pub const READY_AFTER: &str = "sim.gantry.dev/ready-after";
/// Annotation: the pod's behaviour, one of [`Behavior`]'s names.
pub const BEHAVIOR: &str = "sim.gantry.dev/behavior";
/// When a pod becomes ready without a `ready-after` annotation.
pub const DEFAULT_READY_AFTER: Duration = Duration::from_millis(500);

/// What a simulated pod does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// `ready`: Running, containers ready after `ready-after`.
    Ready,
    /// `crashloop`: Running, containers waiting in CrashLoopBackOff, restartCount growing.
    CrashLoop,
    /// `never-ready`: Running, containers running but never ready.
    NeverReady,
    /// `image-pull-backoff`: Pending, containers waiting in ErrImagePull then ImagePullBackOff.
    ImagePullBackOff,
}

/// A pod's configured life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodBehavior {
    pub behavior: Behavior,
    pub ready_after: Duration,
}

impl PodBehavior {
    /// The behaviour `pod`'s annotations ask for; unknown values fall back to the default, with a warning.
    pub fn of(pod: &Value) -> PodBehavior {
        let annotations = &pod["metadata"]["annotations"];
        let behavior = match annotations[BEHAVIOR].as_str() {
            None | Some("ready") => Behavior::Ready,
            Some("crashloop") => Behavior::CrashLoop,
            Some("never-ready") => Behavior::NeverReady,
            Some("image-pull-backoff") => Behavior::ImagePullBackOff,
            Some(other) => {
                tracing::warn!(annotation = BEHAVIOR, value = other, "unknown simulated pod behaviour; the pod becomes ready");
                Behavior::Ready
            }
        };
        let ready_after = match annotations[READY_AFTER].as_str() {
            None => DEFAULT_READY_AFTER,
            Some(text) => parse_duration(text).unwrap_or_else(|| {
                tracing::warn!(annotation = READY_AFTER, value = text, "not a duration like 500ms, 2s or 1m; using the default");
                DEFAULT_READY_AFTER
            }),
        };
        PodBehavior { behavior, ready_after }
    }
}

/// `500ms`, `2s`, `1.5s`, `1m`, `1h` (Go's duration units that matter here).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_parse_like_go_units() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("3"), None);
    }

    #[test]
    fn annotations_choose_the_behaviour_and_default_to_ready() {
        let plain = json!({"metadata": {}});
        assert_eq!(PodBehavior::of(&plain), PodBehavior { behavior: Behavior::Ready, ready_after: DEFAULT_READY_AFTER });
        let crash = json!({"metadata": {"annotations": {BEHAVIOR: "crashloop", READY_AFTER: "2s"}}});
        assert_eq!(PodBehavior::of(&crash), PodBehavior { behavior: Behavior::CrashLoop, ready_after: Duration::from_secs(2) });
    }
}
