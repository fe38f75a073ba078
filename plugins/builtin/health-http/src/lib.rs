//! `builtin:health-http`: one health evaluation of one release on one
//! target (world `health-check`; the host calls it every `interval` and
//! applies thresholds and the deadline). Three checks, each of which the
//! stage's `with:` can turn off:
//!
//! - `rollout`: the release's Deployment (label `app.kubernetes.io/instance`)
//!   has observed its spec and has every replica updated and available;
//!   not yet is `progressing`, a progress deadline exceeded is a failure.
//! - `crash-loop`: no container of the release's pods waits in
//!   `CrashLoopBackOff`, and none restarted more than `max-restarts` times.
//! - `http`: `GET path` answers `expect-status`, the `expect-json` fields
//!   (`{"status": "ok", "db.connected": true}`, dotted paths) and within
//!   `max-latency`. Through the API server's proxy: the stable release's
//!   Service — except on the canary track, whose pods share that Service
//!   with the stable pods (replica-ratio traffic): there every ready canary
//!   pod is probed itself, through the pod proxy. `service:` names a Service
//!   to probe instead.
//!
//! It only reads: it must never change the cluster.

use gantry_sdk::cap::{clock, cluster_read, http_probe};
use gantry_sdk::types::{CheckReport, CheckRequest, CheckResult, Health, ObjectRef, Track};
use gantry_sdk::HealthCheck;
use serde::Deserialize;
use serde_json::Value;

const INSTANCE: &str = "app.kubernetes.io/instance";

fn yes() -> bool {
    true
}
fn default_path() -> String {
    "/health".into()
}
fn default_port() -> String {
    "http".into()
}
fn default_status() -> u16 {
    200
}
fn default_restarts() -> u32 {
    3
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Settings {
    /// The rollout check.
    #[serde(default = "yes")]
    rollout: bool,
    /// The crash-loop and restarts check.
    #[serde(default = "yes")]
    crash_loop: bool,
    #[serde(default = "default_restarts")]
    max_restarts: u32,
    /// The HTTP check.
    #[serde(default = "yes")]
    http: bool,
    #[serde(default = "default_path")]
    path: String,
    /// The Service's (or the pods') port, by name or number.
    #[serde(default = "default_port")]
    port: String,
    /// The Service to probe; default the stable release's (pods on the canary track).
    #[serde(default)]
    service: Option<String>,
    #[serde(default = "default_status")]
    expect_status: u16,
    /// Dotted JSON field paths and the values they must have.
    #[serde(default)]
    expect_json: serde_json::Map<String, Value>,
    /// `300ms`, `1s`: the most a probe may take.
    #[serde(default)]
    max_latency: Option<String>,
}

/// How one check came out.
enum Outcome {
    Passed(String),
    /// Not decided yet (still rolling out).
    Pending(String),
    Failed(String),
}

struct Check {
    name: &'static str,
    outcome: Outcome,
    latency_ms: Option<u32>,
}

impl Check {
    fn new(name: &'static str, outcome: Outcome) -> Check {
        Check { name, outcome, latency_ms: None }
    }
}

/// `500ms`, `2s`, `1m` or a bare number of milliseconds.
fn millis(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("`max-latency: {text}` is not a duration; write it like `300ms` or `1s`"))?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        other => return Err(format!("`max-latency: {text}` has an unknown unit `{other}`; use ms, s or m")),
    };
    Ok((n * factor).round() as u64)
}

/// The value at a dotted path (`db.connected`, `items.0.name`).
fn field<'v>(json: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(json, |v, part| match v {
        Value::Object(m) => m.get(part),
        Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Equal as JSON, or as text when one side is a string (`"200"` and `200`).
fn matches(actual: &Value, expected: &Value) -> bool {
    if actual == expected {
        return true;
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    (actual.is_string() || expected.is_string()) && text(actual) == text(expected)
}

fn rollout(target: &str, request: &CheckRequest) -> Check {
    let selector = format!("{INSTANCE}={}", request.release);
    let options = cluster_read::ListOptions { label_selector: Some(selector.clone()), field_selector: None, limit: None };
    let deployments = match cluster_read::list(target, "apps/v1", "Deployment", None, &options) {
        Ok(d) => d,
        Err(e) => return Check::new("rollout", Outcome::Failed(format!("cannot list the Deployments of {}: {}", request.release, e.message))),
    };
    let names: Vec<String> = deployments.iter().filter_map(|d| serde_json::from_str::<Value>(d).ok()).filter_map(|d| d["metadata"]["name"].as_str().map(String::from)).collect();
    if names.is_empty() {
        return Check::new("rollout", Outcome::Failed(format!("release {} has no Deployment ({selector}) in namespace {}; is it installed?", request.release, request.namespace)));
    }
    let mut done = Vec::new();
    for name in names {
        let object = ObjectRef { api_version: "apps/v1".into(), kind: "Deployment".into(), namespace: None, name: name.clone() };
        let status = match cluster_read::rollout(target, &object) {
            Ok(s) => s,
            Err(e) => return Check::new("rollout", Outcome::Failed(format!("cannot read the rollout of Deployment {name}: {}", e.message))),
        };
        if status.deadline_exceeded {
            return Check::new("rollout", Outcome::Failed(format!("Deployment {name} exceeded its progress deadline: {}", status.message)));
        }
        if !status.done || !status.observed || status.updated < status.desired || status.available < status.desired {
            let detail = format!("Deployment {name}: {} of {} updated, {} available{}", status.updated, status.desired, status.available, if status.observed { "" } else { ", spec not observed yet" });
            return Check::new("rollout", Outcome::Pending(detail));
        }
        done.push(format!("{name} {}/{} available", status.available, status.desired));
    }
    Check::new("rollout", Outcome::Passed(format!("rollout complete: {}", done.join(", "))))
}

fn crash_loop(target: &str, request: &CheckRequest, max_restarts: u32) -> Check {
    let pods = match cluster_read::pods(target, None, &format!("{INSTANCE}={}", request.release)) {
        Ok(p) => p,
        Err(e) => return Check::new("crash-loop", Outcome::Failed(format!("cannot list the pods of {}: {}", request.release, e.message))),
    };
    let mut problems = Vec::new();
    let mut most = 0;
    for pod in &pods {
        for c in &pod.containers {
            most = most.max(c.restarts);
            if c.reason.as_deref() == Some("CrashLoopBackOff") {
                problems.push(format!("pod {} container {} is in CrashLoopBackOff ({} restarts)", pod.name, c.name, c.restarts));
            } else if c.restarts > max_restarts {
                problems.push(format!("pod {} container {} restarted {} times (max-restarts {max_restarts})", pod.name, c.name, c.restarts));
            }
        }
    }
    if problems.is_empty() {
        Check::new("crash-loop", Outcome::Passed(format!("no crash loop in {} pod(s), at most {most} restart(s)", pods.len())))
    } else {
        Check::new("crash-loop", Outcome::Failed(problems.join("; ")))
    }
}

/// Judge one answer against the settings; `who` names what answered.
fn judge(who: &str, s: &Settings, budget: Option<u64>, response: &http_probe::ProbeResponse) -> Result<String, String> {
    if response.status != s.expect_status {
        let body = String::from_utf8_lossy(&response.body);
        let body: String = body.chars().take(200).collect();
        return Err(format!("GET {} on {who} answered {} (expected {}): {}", s.path, response.status, s.expect_status, body.trim()));
    }
    if !s.expect_json.is_empty() {
        let json: Value = serde_json::from_slice(&response.body).map_err(|e| format!("GET {} on {who}: the body is not JSON ({e})", s.path))?;
        for (path, expected) in &s.expect_json {
            match field(&json, path) {
                Some(actual) if matches(actual, expected) => {}
                Some(actual) => return Err(format!("GET {} on {who}: `{path}` is {actual}, expected {expected}", s.path)),
                None => return Err(format!("GET {} on {who}: the body has no `{path}` (expected {expected})", s.path)),
            }
        }
    }
    if let Some(max) = budget {
        if u64::from(response.latency_ms) > max {
            return Err(format!("GET {} on {who} took {} ms, over the max-latency of {max} ms", s.path, response.latency_ms));
        }
    }
    Ok(format!("GET {} on {who}: {} in {} ms", s.path, response.status, response.latency_ms))
}

fn probe(target: &str, destination: http_probe::Destination, path: &str) -> Result<http_probe::ProbeResponse, gantry_sdk::types::CapError> {
    // What is left of the evaluation's timeout, less a margin to report in.
    let timeout_ms = clock::remaining_ms().saturating_sub(200).clamp(100, u64::from(u32::MAX)) as u32;
    let request = http_probe::ProbeRequest { target: target.into(), destination, path: path.into(), headers: vec![gantry_sdk::types::Pair { key: "accept".into(), value: "application/json".into() }], timeout_ms };
    http_probe::get(&request)
}

fn http(target: &str, request: &CheckRequest, s: &Settings) -> Check {
    let budget = match s.max_latency.as_deref().map(millis).transpose() {
        Ok(b) => b,
        Err(m) => return Check::new("http", Outcome::Failed(m)),
    };
    let stable = match request.track {
        Track::Canary => request.release.strip_suffix("-canary").unwrap_or(&request.release).to_string(),
        Track::Stable => request.release.clone(),
    };
    if s.service.is_none() && request.track == Track::Canary {
        return http_pods(target, request, s, budget);
    }
    let service = match &s.service {
        Some(name) => name.clone(),
        None => match stable_service(target, &stable) {
            Ok(name) => name,
            Err(m) => return Check::new("http", Outcome::Failed(m)),
        },
    };
    let destination = http_probe::Destination::Service(http_probe::ServiceRef { namespace: None, name: service.clone(), port: s.port.clone() });
    let who = format!("service {service}");
    match probe(target, destination, &s.path) {
        Ok(response) => {
            let latency = Some(response.latency_ms);
            let outcome = match judge(&who, s, budget, &response) {
                Ok(m) => Outcome::Passed(m),
                Err(m) => Outcome::Failed(m),
            };
            Check { name: "http", outcome, latency_ms: latency }
        }
        Err(e) => Check::new("http", Outcome::Failed(format!("GET {} on {who} failed ({}): {}", s.path, e.kind.name(), e.message))),
    }
}

/// The Service of the stable release: the one labelled with its instance,
/// else one named after it.
fn stable_service(target: &str, stable: &str) -> Result<String, String> {
    let options = cluster_read::ListOptions { label_selector: Some(format!("{INSTANCE}={stable}")), field_selector: None, limit: None };
    let services = cluster_read::list(target, "v1", "Service", None, &options).map_err(|e| format!("cannot list the Services of {stable}: {}", e.message))?;
    let names: Vec<String> = services.iter().filter_map(|d| serde_json::from_str::<Value>(d).ok()).filter_map(|d| d["metadata"]["name"].as_str().map(String::from)).collect();
    names.into_iter().next().ok_or_else(|| format!("the stable release {stable} has no Service ({INSTANCE}={stable}); set `service:` to the one to probe"))
}

/// Every ready pod of the (canary) release, each through the pod proxy.
fn http_pods(target: &str, request: &CheckRequest, s: &Settings, budget: Option<u64>) -> Check {
    let pods = match cluster_read::pods(target, None, &format!("{INSTANCE}={}", request.release)) {
        Ok(p) => p,
        Err(e) => return Check::new("http", Outcome::Failed(format!("cannot list the pods of {}: {}", request.release, e.message))),
    };
    let ready: Vec<_> = pods.iter().filter(|p| p.ready && p.phase == "Running").collect();
    if ready.is_empty() {
        return Check::new("http", Outcome::Pending(format!("no ready pod of {} to probe yet", request.release)));
    }
    let mut worst = 0;
    let mut passed = Vec::new();
    for pod in ready {
        let port = match pod_port(target, &pod.name, &s.port) {
            Ok(p) => p,
            Err(m) => return Check::new("http", Outcome::Failed(m)),
        };
        let destination = http_probe::Destination::Pod(http_probe::PodRef { namespace: None, name: pod.name.clone(), port });
        let who = format!("pod {}", pod.name);
        match probe(target, destination, &s.path) {
            Ok(response) => {
                worst = worst.max(response.latency_ms);
                match judge(&who, s, budget, &response) {
                    Ok(m) => passed.push(m),
                    Err(m) => return Check { name: "http", outcome: Outcome::Failed(m), latency_ms: Some(response.latency_ms) },
                }
            }
            Err(e) => return Check::new("http", Outcome::Failed(format!("GET {} on {who} failed ({}): {}", s.path, e.kind.name(), e.message))),
        }
    }
    Check { name: "http", outcome: Outcome::Passed(passed.join("; ")), latency_ms: Some(worst) }
}

/// The pod proxy dials a port number: a named port is looked up in the pod's containers.
fn pod_port(target: &str, pod: &str, port: &str) -> Result<String, String> {
    if port.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(port.to_string());
    }
    let object = ObjectRef { api_version: "v1".into(), kind: "Pod".into(), namespace: None, name: pod.into() };
    let json = cluster_read::get(target, &object).map_err(|e| format!("cannot read pod {pod}: {}", e.message))?;
    let json: Value = serde_json::from_str(&json).map_err(|e| format!("pod {pod} is not JSON: {e}"))?;
    json["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .find(|p| p["name"] == port)
        .and_then(|p| p["containerPort"].as_u64())
        .map(|n| n.to_string())
        .ok_or_else(|| format!("pod {pod} has no container port named `{port}`; set `port:` to its name or number"))
}

struct HealthHttp;

impl HealthCheck for HealthHttp {
    type Settings = Settings;

    fn check(request: &CheckRequest, s: Settings) -> CheckReport {
        let target = request.target.name.clone();
        let mut checks = Vec::new();
        let mut rolled_out = true;
        if s.rollout {
            let c = rollout(&target, request);
            rolled_out = matches!(c.outcome, Outcome::Passed(_));
            checks.push(c);
        }
        if s.crash_loop {
            checks.push(crash_loop(&target, request, s.max_restarts));
        }
        if s.http {
            if rolled_out {
                checks.push(http(&target, request, &s));
            } else {
                checks.push(Check::new("http", Outcome::Pending("waiting for the rollout before probing".into())));
            }
        }
        let failed = checks.iter().any(|c| matches!(c.outcome, Outcome::Failed(_)));
        let pending = checks.iter().any(|c| matches!(c.outcome, Outcome::Pending(_)));
        let health = if failed {
            Health::Unhealthy
        } else if pending {
            Health::Progressing
        } else {
            Health::Healthy
        };
        let message = checks
            .iter()
            .filter(|c| match health {
                Health::Unhealthy => matches!(c.outcome, Outcome::Failed(_)),
                Health::Progressing => matches!(c.outcome, Outcome::Pending(_)),
                Health::Healthy => true,
            })
            .map(|c| match &c.outcome {
                Outcome::Passed(m) | Outcome::Pending(m) | Outcome::Failed(m) => format!("{}: {m}", c.name),
            })
            .collect::<Vec<_>>()
            .join("; ");
        let message = if checks.is_empty() { "every check is turned off".to_string() } else { message };
        let checks = checks
            .into_iter()
            .map(|c| {
                let (passed, message) = match c.outcome {
                    Outcome::Passed(m) => (true, m),
                    Outcome::Pending(m) => (false, format!("pending: {m}")),
                    Outcome::Failed(m) => (false, m),
                };
                CheckResult { name: c.name.into(), passed, message, latency_ms: c.latency_ms }
            })
            .collect();
        CheckReport { health, message, checks }
    }
}

gantry_sdk::export_health_check!(HealthHttp);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn latency_budgets_parse() {
        assert_eq!(millis("300ms"), Ok(300));
        assert_eq!(millis("1.5s"), Ok(1500));
        assert_eq!(millis("250"), Ok(250));
        assert!(millis("fast").is_err());
    }

    #[test]
    fn dotted_fields_and_loose_scalars_match() {
        let body = json!({"status": "ok", "db": {"connected": true}, "items": [{"n": 2}]});
        assert_eq!(field(&body, "db.connected"), Some(&json!(true)));
        assert_eq!(field(&body, "items.0.n"), Some(&json!(2)));
        assert!(field(&body, "db.missing").is_none());
        assert!(matches(&json!(2), &json!("2")));
        assert!(!matches(&json!(true), &json!(false)));
    }
}
