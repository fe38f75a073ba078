//! How a simulated pod lives, configured per pod by annotations — the one
//! place their names are defined:
//!
//! | annotation | values | effect |
//! |---|---|---|
//! | `sim.gantry.dev/ready-after` | a duration: `500ms`, `2s`, `1m` | containers become ready that long after the pod starts (default 500ms) |
//! | `sim.gantry.dev/behavior` | `ready` (default), `crashloop`, `never-ready`, `image-pull-backoff`, `fail` | see [`Behavior`] |
//! | `sim.gantry.dev/crash-after` | a duration: `3s`, `1m` | a `ready` pod's containers exit with code 1 (reason `Error`) that long after the pod starts, ready until then; a restarted pod crash-loops from then on, as `fail` does (a pod that was healthy and turns unhealthy) |
//! | `sim.gantry.dev/http-status` | an HTTP status code, e.g. `200` (default), `404` | what the pod answers on any path |
//! | `sim.gantry.dev/http-body` | text, e.g. `{"status":"ok"}` (default) | the body of that answer (JSON if it parses as JSON, else text) |
//! | `sim.gantry.dev/http-paths` | JSON: `{"/health": {"status": 503, "body": "down"}}` | per-path answers overriding status and body |
//! | `sim.gantry.dev/http-latency` | a duration: `250ms`, `1s` (default `0s`) | how long the pod takes before answering |
//! | `sim.gantry.dev/http-error-rate` | a fraction `0` (default) to `1`, e.g. `0.1` | that share of requests is answered with the error status, spread evenly (deterministic: request *n* of a pod fails when ⌊(n+1)·rate⌋ > ⌊n·rate⌋) |
//! | `sim.gantry.dev/http-error-status` | `500` (default), `503`, any 5xx | the status of those failed requests |
//! | `sim.gantry.dev/log-lines` | text, one line per line, e.g. `booting\nlistening on :8000` | what every container prints when it starts, instead of its image's app style (uvicorn; nginx for `nginx` images); `crate::logs` serves it |
//! | `sim.gantry.dev/http-upstream` | `http://127.0.0.1:PORT[/base]` | forward requests to a real HTTP server instead; only loopback (127.0.0.0/8, `::1`, `localhost`) is accepted, anything else is refused with a 503 naming the reason |
//! | `sim.gantry.dev/volume-binding` | `never` | on a PersistentVolumeClaim: it stays Pending (else a volume is provisioned and bound; see `volumes`) |
//! | `sim.gantry.dev/load-balancer` | `pending` | on a `type: LoadBalancer` Service: no ingress is ever given (else a 127.1.x.y IP; see `loadbalancer`) |
//!
//! Put them on the pod template (`spec.template.metadata.annotations`) of a
//! workload. A cluster can also be configured per image
//! (`ServerConfig::pod_images`, a list of [`ImageRule`]s: a pattern where `*`
//! matches any run of characters, and the behaviour of pods running a
//! matching image, and [`ImageRule::http`] for how they answer HTTP);
//! annotations win over image rules, field by field. This file only parses;
//! `pods` acts the lifecycle out and `crate::podhttp` the HTTP answers.

use std::time::Duration;

use serde_json::Value;

/// Annotation: how long after starting the pod's containers become ready.
pub const READY_AFTER: &str = "sim.gantry.dev/ready-after";
/// Annotation: the pod's behaviour, one of [`Behavior`]'s names.
pub const BEHAVIOR: &str = "sim.gantry.dev/behavior";
/// Annotation: when a `ready` pod's containers exit with code 1, after it starts.
pub const CRASH_AFTER: &str = "sim.gantry.dev/crash-after";
/// Annotations: how the pod answers HTTP (`crate::podhttp` reads them; see the table above).
pub const HTTP_STATUS: &str = "sim.gantry.dev/http-status";
pub const HTTP_BODY: &str = "sim.gantry.dev/http-body";
pub const HTTP_PATHS: &str = "sim.gantry.dev/http-paths";
pub const HTTP_LATENCY: &str = "sim.gantry.dev/http-latency";
pub const HTTP_ERROR_RATE: &str = "sim.gantry.dev/http-error-rate";
pub const HTTP_ERROR_STATUS: &str = "sim.gantry.dev/http-error-status";
pub const HTTP_UPSTREAM: &str = "sim.gantry.dev/http-upstream";
/// Annotation: the lines the pod's containers print at start-up (`crate::logs` reads it).
pub const LOG_LINES: &str = "sim.gantry.dev/log-lines";
/// Annotation on a PersistentVolumeClaim: `never` keeps it Pending.
pub const VOLUME_BINDING: &str = "sim.gantry.dev/volume-binding";
/// Annotation on a Service: `pending` keeps a LoadBalancer without ingress.
pub const LOAD_BALANCER: &str = "sim.gantry.dev/load-balancer";
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
    /// `fail`: Running, then after `ready-after` the containers exit with code 1 (reason `Error`);
    /// a pod that is not restarted (a Job's, `restartPolicy: Never`/`OnFailure`) goes `Failed`,
    /// any other crash-loops from then on.
    Fail,
}

/// A pod's configured life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodBehavior {
    pub behavior: Behavior,
    pub ready_after: Duration,
    /// When a `ready` pod's containers exit (`crash-after`), measured from the pod's start; None: never.
    pub crash_after: Option<Duration>,
}

/// Per-cluster configuration: pods running an image that matches `pattern`
/// (`*` matches any run of characters, e.g. `ghcr.io/acme/*:broken`) behave so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRule {
    pub pattern: String,
    pub behavior: Behavior,
    /// When containers become ready (for [`Behavior::Ready`]); None keeps the default.
    pub ready_after: Option<Duration>,
    /// How the pods answer HTTP; unset fields keep the defaults.
    pub http: crate::podhttp::HttpRule,
}

impl ImageRule {
    pub fn new(pattern: &str, behavior: Behavior) -> ImageRule {
        ImageRule { pattern: pattern.to_string(), behavior, ready_after: None, http: Default::default() }
    }

    /// The same rule, its pods answering HTTP as `http` says.
    pub fn with_http(self, http: crate::podhttp::HttpRule) -> ImageRule {
        ImageRule { http, ..self }
    }

    /// The first rule in `rules` matching one of `pod`'s images.
    pub fn find<'a>(rules: &'a [ImageRule], pod: &Value) -> Option<&'a ImageRule> {
        rules.iter().find(|r| r.matches(pod))
    }

    fn matches(&self, pod: &Value) -> bool {
        let containers = pod["spec"]["containers"].as_array().into_iter().flatten();
        containers.filter_map(|c| c["image"].as_str()).any(|image| glob_match(&self.pattern, image))
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

impl PodBehavior {
    /// The behaviour `pod`'s annotations ask for; unknown values fall back to the default, with a warning.
    pub fn of(pod: &Value) -> PodBehavior {
        PodBehavior::resolve(pod, &[])
    }

    /// The behaviour of `pod`: its annotations, else the first image rule matching one of its images, else ready.
    pub fn resolve(pod: &Value, rules: &[ImageRule]) -> PodBehavior {
        let annotations = &pod["metadata"]["annotations"];
        let rule = rules.iter().find(|r| r.matches(pod));
        let behavior = match annotations[BEHAVIOR].as_str() {
            None => rule.map_or(Behavior::Ready, |r| r.behavior),
            Some("ready") => Behavior::Ready,
            Some("crashloop") => Behavior::CrashLoop,
            Some("never-ready") => Behavior::NeverReady,
            Some("image-pull-backoff") => Behavior::ImagePullBackOff,
            Some("fail") => Behavior::Fail,
            Some(other) => {
                tracing::warn!(annotation = BEHAVIOR, value = other, "unknown simulated pod behaviour; the pod becomes ready");
                Behavior::Ready
            }
        };
        let ready_after = match annotations[READY_AFTER].as_str() {
            None => rule.and_then(|r| r.ready_after).unwrap_or(DEFAULT_READY_AFTER),
            Some(text) => parse_duration(text).unwrap_or_else(|| {
                tracing::warn!(annotation = READY_AFTER, value = text, "not a duration like 500ms, 2s or 1m; using the default");
                DEFAULT_READY_AFTER
            }),
        };
        let crash_after = annotations[CRASH_AFTER].as_str().and_then(|text| {
            let parsed = parse_duration(text);
            if parsed.is_none() {
                tracing::warn!(annotation = CRASH_AFTER, value = text, "not a duration like 500ms, 2s or 1m; the pod does not crash");
            }
            parsed
        });
        PodBehavior { behavior, ready_after, crash_after }
    }

    /// When the pod's containers first exit with an error, if ever: `fail`'s
    /// `ready_after`, or a `ready` pod's `crash_after`.
    pub fn exits_at(&self) -> Option<Duration> {
        match self.behavior {
            Behavior::Fail => Some(self.ready_after),
            Behavior::Ready => self.crash_after,
            _ => None,
        }
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
    fn image_rules_match_globs_and_annotations_win() {
        assert!(glob_match("ghcr.io/acme/*:broken", "ghcr.io/acme/api:broken"));
        assert!(glob_match("*crash*", "example.com/crasher:1"));
        assert!(!glob_match("ghcr.io/acme/*:broken", "ghcr.io/acme/api:1.0"));
        assert!(glob_match("nginx:1.27", "nginx:1.27") && !glob_match("nginx", "nginx:1.27"));
        let rules = [ImageRule::new("*:broken", Behavior::CrashLoop), ImageRule { ready_after: Some(Duration::from_secs(3)), ..ImageRule::new("slow/*", Behavior::Ready) }];
        let pod = |image: &str, annotations: Value| json!({"metadata": {"annotations": annotations}, "spec": {"containers": [{"image": image}]}});
        assert_eq!(PodBehavior::resolve(&pod("api:broken", json!({})), &rules).behavior, Behavior::CrashLoop);
        assert_eq!(PodBehavior::resolve(&pod("slow/api", json!({})), &rules).ready_after, Duration::from_secs(3));
        assert_eq!(PodBehavior::resolve(&pod("api:broken", json!({BEHAVIOR: "ready"})), &rules).behavior, Behavior::Ready);
        assert_eq!(PodBehavior::resolve(&pod("api:1", json!({})), &rules).behavior, Behavior::Ready);
    }

    #[test]
    fn annotations_choose_the_behaviour_and_default_to_ready() {
        let plain = json!({"metadata": {}});
        assert_eq!(PodBehavior::of(&plain), PodBehavior { behavior: Behavior::Ready, ready_after: DEFAULT_READY_AFTER, crash_after: None });
        let crash = json!({"metadata": {"annotations": {BEHAVIOR: "crashloop", READY_AFTER: "2s"}}});
        assert_eq!(PodBehavior::of(&crash), PodBehavior { behavior: Behavior::CrashLoop, ready_after: Duration::from_secs(2), crash_after: None });
    }

    #[test]
    fn crash_after_makes_a_ready_pod_exit_later_and_only_a_ready_one() {
        let later = PodBehavior::of(&json!({"metadata": {"annotations": {CRASH_AFTER: "3s"}}}));
        assert_eq!(later, PodBehavior { behavior: Behavior::Ready, ready_after: DEFAULT_READY_AFTER, crash_after: Some(Duration::from_secs(3)) });
        assert_eq!(later.exits_at(), Some(Duration::from_secs(3)));
        let fail = PodBehavior::of(&json!({"metadata": {"annotations": {BEHAVIOR: "fail", READY_AFTER: "2s", CRASH_AFTER: "9s"}}}));
        assert_eq!(fail.exits_at(), Some(Duration::from_secs(2)), "fail exits at ready-after");
        let never = PodBehavior::of(&json!({"metadata": {"annotations": {BEHAVIOR: "never-ready", CRASH_AFTER: "1s"}}}));
        assert_eq!(never.exits_at(), None);
        assert_eq!(PodBehavior::of(&json!({"metadata": {"annotations": {CRASH_AFTER: "soon"}}})).crash_after, None, "a bad duration: no crash");
    }
}
