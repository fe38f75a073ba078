//! `builtin:helm-deploy`: for its target, `helm upgrade --install` of the
//! pipeline's chart on one track — the request's
//! `helm upgrade --install fastapi-app-canary ./helm/fastapi-app -n default
//! --set image.repository=REGISTRY/IMAGE --set image.tag=SHA --set replicaCount=1`,
//! done by the host's Helm engine — and the record of how to undo it.
//!
//! - `track: canary` installs `<release>-canary` with `image.repository` =
//!   the target's registry + `/` + the image name, `image.tag` = the
//!   pipeline's tag and `image.digest` = the digest the build stage pushed
//!   (so the pods run exactly that image; no build stage: the tag alone),
//!   `track: canary` and `replicaCount: 1`. On a target without the stable
//!   release yet, `serviceAccount.create: false` too: the chart's canary
//!   uses the stable release's ServiceAccount, which does not exist yet.
//!   Undo: uninstall the canary.
//! - `track: stable` installs `<release>` with the repository, tag and digest
//!   the same target's canary stage deployed (what the analysis watched),
//!   then uninstalls the canary (`remove-canary`, default true). Undo:
//!   roll back to the revision that was live before, or uninstall when
//!   this was the first install. After weight stages on this target in
//!   the run, also `canary.weight: 0`: all traffic to stable, which now
//!   runs the canary's image, before the canary goes.
//! - `weight: N` (0 to 100, no `track`) steps traffic in Gateway API mode,
//!   as Argo Rollouts' `setWeight` does: `helm upgrade <release>
//!   --reuse-values --set canary.weight=N` on the stable release, which
//!   keeps its values and image, so its HTTPRoute sends N percent to the
//!   canary's Service. It refuses, changing nothing, when the stable
//!   release is missing or has no HTTPRoute (`httpRoute.enabled`), or when
//!   the canary release is missing or has no Service of its own. Undo: roll
//!   stable back to the revision that was live before (weight and all).
//!   It reads the live route back and fails (put back) when the route does
//!   not carry the weight.
//!
//! What gantry computes is a values document below the user's: `values:`
//! (merged like `-f`), then `set:` and `set-string:` (Helm's `--set`
//! grammar; nested maps and lists become `a.b[0]=v` paths) override it.
//!
//! A stage that fails records no outputs, so this plugin leaves its target
//! as it found it when it fails after changing it: a failed canary is
//! uninstalled, a failed promotion or weight step rolled back. It must not touch another
//! target, and it never installs another chart than the pipeline's (the
//! host refuses it anyway).
//!
//! Outputs: `track`, `release`, `namespace`, `revision`, `image`
//! (`REPO@sha256:…` or `REPO:TAG`), `repository`, `tag`, `digest` (empty
//! when deployed by tag), `undo`; for stable also `previous-revision`
//! (none on a first install) and `canary-removed`. A weight stage:
//! `track: stable`, `release`, `namespace`, `revision`, `weight`,
//! `previous-revision`, `route` (the HTTPRoute's name), `backends` (its
//! first rule's `[{name, weight}]`, as the API server stores them), `undo`.

use gantry_sdk::cap::{clock, cluster_read, helm, run};
use gantry_sdk::types::{CapError, ErrorKind};
use gantry_sdk::{Failure, Input, Output, Stage};
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Track {
    Canary,
    Stable,
}

impl Track {
    fn name(self) -> &'static str {
        match self {
            Track::Canary => "canary",
            Track::Stable => "stable",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Settings {
    /// `canary` or `stable`; none with `weight`.
    #[serde(default)]
    track: Option<Track>,
    /// Gateway API mode: the percent of requests the stable release's
    /// HTTPRoute sends to the canary, 0 to 100 (a signed type, so that a
    /// negative number gets this plugin's message, not serde's).
    #[serde(default)]
    weight: Option<i64>,
    /// `--set`: `{replicaCount: 2, image.pullPolicy: Always}`.
    #[serde(default)]
    set: Map<String, Value>,
    /// `--set-string`: never typed.
    #[serde(default)]
    set_string: Map<String, Value>,
    /// A values document, merged like `-f`.
    #[serde(default)]
    values: Option<Value>,
    /// Wait for the release's workloads to be ready (Helm's `--wait`).
    /// Default: yes for stable and weight stages; no for the canary, as
    /// the request's `helm upgrade --install` of it does not wait — the
    /// health check after it judges readiness, and fails a crash loop at
    /// once where Helm's wait would sit out its whole timeout.
    #[serde(default)]
    wait: Option<bool>,
    /// `5m`, `90s`, `1h`.
    #[serde(default = "five_minutes")]
    timeout: String,
    /// Stable only: uninstall the canary once stable is deployed.
    #[serde(default)]
    remove_canary: Option<bool>,
}

fn five_minutes() -> String {
    "5m".into()
}

/// `1h30m`, `5m`, `90s` in whole seconds (at least 1).
fn parse_seconds(text: &str) -> Result<u32, String> {
    let s = text.trim();
    let mut total: u64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("`{text}` is not a duration like `90s`, `5m` or `1h30m`"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| format!("`{text}`: number too large"))?;
        rest = &rest[digits..];
        let unit = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let millis = match &rest[..unit] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "" => return Err(format!("`{text}` needs a unit: s, m or h")),
            other => return Err(format!("`{text}`: unknown unit `{other}` (use ms, s, m or h)")),
        };
        total = total.saturating_add(n.saturating_mul(millis));
        rest = &rest[unit..];
    }
    Ok(u32::try_from(total.div_ceil(1000)).unwrap_or(u32::MAX).max(1))
}

/// Helm's `--set` grammar takes `\` as an escape and `,` as a separator;
/// `{` and `}` open and close lists.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '{' | '}') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(escape(s)),
        _ => None,
    }
}

/// `path=value` expressions for one setting; maps nest with `.`, lists of
/// scalars become `{a,b}`, other lists index (`path[0].x=…`).
fn flatten(path: &str, v: &Value, field: &str, out: &mut Vec<String>) -> Result<(), Failure> {
    match v {
        Value::Object(m) if m.is_empty() => Err(Failure::new(format!("with.{field}.{path}: an empty map cannot be set")).hint("use `values:` for maps")),
        Value::Object(m) => m.iter().try_for_each(|(k, v)| flatten(&format!("{path}.{k}"), v, field, out)),
        Value::Array(items) if items.iter().all(|i| scalar(i).is_some()) => {
            let items: Vec<String> = items.iter().filter_map(scalar).collect();
            out.push(format!("{path}={{{}}}", items.join(",")));
            Ok(())
        }
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, v)| flatten(&format!("{path}[{i}]"), v, field, out)),
        other => {
            out.push(format!("{path}={}", scalar(other).unwrap_or_default()));
            Ok(())
        }
    }
}

fn expressions(map: &Map<String, Value>, field: &str) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    for (k, v) in map {
        flatten(k, v, field, &mut out)?;
    }
    Ok(out)
}

/// What to deploy: a repository, the tag, and the digest that pins it.
#[derive(Debug, Clone)]
struct Image {
    repository: String,
    tag: String,
    digest: Option<String>,
}

impl Image {
    fn reference(&self) -> String {
        match &self.digest {
            Some(d) => format!("{}@{d}", self.repository),
            None => format!("{}:{}", self.repository, self.tag),
        }
    }
}

/// `REGISTRY/NAME:TAG` or `REGISTRY/NAME@sha256:…` → `REGISTRY/NAME`.
fn repository_of(reference: &str) -> &str {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].find([':', '@']) {
        Some(i) => &reference[..slash + i],
        None => reference,
    }
}

fn outputs(record: &run::StageRecord) -> Option<Value> {
    (record.status == "succeeded").then(|| serde_json::from_str(&record.outputs).ok()).flatten()
}

/// The digest the latest build stage pushed to `repository`, if a build
/// stage ran; an error when it pushed elsewhere only.
fn built_digest(repository: &str, target: &str) -> Result<Option<String>, Failure> {
    for record in run::history().iter().rev() {
        if record.target.as_deref().is_some_and(|t| t != target) {
            continue;
        }
        let Some(out) = outputs(record) else { continue };
        let (Some(digest), Some(pushed)) = (out.get("digest").and_then(Value::as_str), out.get("pushed").and_then(Value::as_array)) else { continue };
        let pushed: Vec<&str> = pushed.iter().filter_map(Value::as_str).collect();
        if pushed.iter().any(|p| repository_of(p) == repository) {
            return Ok(Some(digest.to_string()));
        }
        if pushed.is_empty() {
            gantry_sdk::warn!("stage `{}` built {digest} without pushing it; deploying {repository} by tag", record.stage);
            return Ok(None);
        }
        return Err(Failure::new(format!("stage `{}` pushed {} but not {repository}, the repository target `{target}` pulls from", record.stage, pushed.join(", ")))
            .hint("give the target a `registry:` (the build stage pushes to every target's registry)"));
    }
    Ok(None)
}

/// The canary the same target's latest canary stage deployed: stage name
/// and image. Any stage that records `track: canary` with an `image`
/// (`REPO@sha256:…` or `REPO:TAG`) counts, so a team's own canary stage
/// can stand in for this one; `repository`, `tag` and `digest`, when
/// recorded, say it exactly.
fn deployed_canary(target: &str, default_tag: &str) -> Option<(String, Image)> {
    for record in run::history().iter().rev() {
        if record.target.as_deref() != Some(target) {
            continue;
        }
        let Some(out) = outputs(record) else { continue };
        if out.get("track").and_then(Value::as_str) != Some("canary") {
            continue;
        }
        let text = |k: &str| out.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_string);
        let reference = text("image").unwrap_or_default();
        let Some(repository) = text("repository").or_else(|| Some(repository_of(&reference).to_string()).filter(|r| !r.is_empty())) else { continue };
        let digest = text("digest").or_else(|| reference.split_once('@').map(|(_, d)| d.to_string()));
        let tag = text("tag").or_else(|| reference.strip_prefix(repository.as_str()).and_then(|rest| rest.strip_prefix(':')).map(str::to_string)).unwrap_or_else(|| default_tag.to_string());
        return Some((record.stage.clone(), Image { repository, tag, digest }));
    }
    None
}

fn cap_failure(what: &str, e: CapError) -> Failure {
    Failure::new(format!("{what}: {} ({})", e.message, e.kind.name()))
}

/// The revision live before a stable upgrade: the deployed one, else the newest; none when there is no release.
fn live_revision(target: &str, release: &str) -> Result<Option<u32>, Failure> {
    let Some(status) = helm::status(target, release, None).map_err(|e| cap_failure(&format!("reading release `{release}` on {target}"), e))? else {
        return Ok(None);
    };
    if status.status == "uninstalled" {
        return Ok(None);
    }
    if status.status == "deployed" {
        return Ok(Some(status.revision));
    }
    let history = helm::history(target, release, None, 0).map_err(|e| cap_failure(&format!("reading the history of `{release}` on {target}"), e))?;
    Ok(Some(history.iter().rev().find(|r| r.status == "deployed").map_or(status.revision, |r| r.revision)))
}

/// Put `release` back as it was before this stage: rolled back to
/// `previous`, or uninstalled when it did not exist. Logged; a failure to
/// undo is added to the stage's error.
fn undo(target: &str, release: &str, previous: Option<u32>, wait: bool, timeout: u32) -> String {
    let result = match previous {
        Some(revision) => {
            gantry_sdk::warn!("{target}: rolling {release} back to revision {revision}");
            helm::rollback(target, release, None, revision, wait, timeout).map(|_| ())
        }
        None => {
            gantry_sdk::warn!("{target}: uninstalling {release}");
            match helm::uninstall(target, release, None, false) {
                Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
                other => other,
            }
        }
    };
    match result {
        Ok(()) => format!("; {release} was put back as it was"),
        Err(e) => format!("; putting {release} back failed too ({}): finish by hand with `helm history {release}`", e.message),
    }
}

/// What a stage does: deploy a track, or step the traffic to the canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Deploy(Track),
    Weight(u32),
}

/// The stage's mode from `track` and `weight`, refusing what is ambiguous
/// or out of range, and the settings a weight stage does not take.
fn mode(settings: &Settings) -> Result<Mode, Failure> {
    match (settings.track, settings.weight) {
        (Some(track), None) => Ok(Mode::Deploy(track)),
        (None, Some(w)) => {
            let weight = u32::try_from(w).ok().filter(|w| *w <= 100).ok_or_else(|| {
                Failure::new(format!("with.weight: {w} is not a percent from 0 to 100")).hint("write e.g. `weight: 10`, `weight: 50`, then `weight: 100` (100 sends every request to the canary)")
            })?;
            let unused = [
                ("set", !settings.set.is_empty()),
                ("set-string", !settings.set_string.is_empty()),
                ("values", settings.values.is_some()),
                ("remove-canary", settings.remove_canary.is_some()),
            ];
            if let Some((field, _)) = unused.iter().find(|(_, given)| *given) {
                return Err(Failure::new(format!("with.{field}: a `weight` stage keeps the stable release's values (`--reuse-values`) and sets only `canary.weight`"))
                    .hint(format!("drop `{field}` here; give it to the `track: stable` (or `track: canary`) stage that installs the release")));
            }
            Ok(Mode::Weight(weight))
        }
        (Some(Track::Stable), Some(_)) => Err(Failure::new("with.weight: `track: stable` promotes the canary's image; a `weight` stage only shifts traffic and has no `track`")
            .hint("to shift traffic write `with: { weight: N }` without `track`; to promote drop `weight` (promotion ends at weight 0)")),
        (Some(Track::Canary), Some(_)) => Err(Failure::new("with.weight: `track: canary` installs the canary; the weight is stepped on the stable release by a stage of its own")
            .hint("drop `weight` here and add `- { name: shift-10, uses: builtin:helm-deploy, with: { weight: 10 } }` after the canary's health check")),
        (None, None) => Err(Failure::new("with.track: missing; builtin:helm-deploy needs `track: canary`, `track: stable` or `weight: N`")
            .hint("write `with: { track: canary }` to install the canary, `{ track: stable }` to promote it, `{ weight: 10 }` to shift traffic to it")),
    }
}

const INSTANCE: &str = "app.kubernetes.io/instance";

/// The objects of `api_version`/`kind` that `release` labels as its own; a
/// kind the cluster does not serve (no Gateway API CRDs) has none.
fn owned(target: &str, api_version: &str, kind: &str, release: &str) -> Result<Vec<Value>, Failure> {
    let options = cluster_read::ListOptions { label_selector: Some(format!("{INSTANCE}={release}")), field_selector: None, limit: None };
    match cluster_read::list(target, api_version, kind, None, &options) {
        Ok(items) => Ok(items.iter().filter_map(|i| serde_json::from_str(i).ok()).collect()),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(cap_failure(&format!("{target}: listing the {kind}s of `{release}`"), e)),
    }
}

/// After the canary's uninstall, wait (up to `timeout` seconds, and the
/// stage's time) until each of its pods is gone or terminating: until the
/// garbage collector reaches a pod it still answers behind the stable
/// Service, so a production health check right after the promotion could
/// be passed by a canary pod. A terminating pod (`deletionTimestamp` set)
/// is out of the Service's ready endpoints already, so its grace period is
/// not waited out. Waiting too long is logged, not failed: the promotion
/// itself is done.
fn await_pods_gone(target: &str, canary: &str, timeout: u32) {
    let deadline = clock::now_ms().saturating_add(u64::from(timeout) * 1000);
    loop {
        let left = match owned(target, "v1", "Pod", canary) {
            Ok(pods) => pods.iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).count(),
            Err(e) => {
                gantry_sdk::warn!("{target}: could not check that the pods of {canary} are gone: {}", e.message);
                return;
            }
        };
        if left == 0 {
            gantry_sdk::info!("{target}: the pods of {canary} are gone or terminating");
            return;
        }
        let now = clock::now_ms();
        if now >= deadline || clock::remaining_ms() < 1_000 {
            gantry_sdk::warn!("{target}: {left} pod(s) of {canary} not deleted yet; the production health check may reach them through the stable Service");
            return;
        }
        clock::sleep_ms(100);
    }
}

const ROUTE_API: &str = "gateway.networking.k8s.io/v1";

/// An HTTPRoute's name and its first rule's backends (Service name, weight).
type Route = (String, Vec<(String, u64)>);

/// The stable release's HTTPRoute.
fn route_of(target: &str, stable: &str) -> Result<Option<Route>, Failure> {
    let routes = owned(target, ROUTE_API, "HTTPRoute", stable)?;
    Ok(routes.first().map(|r| {
        let name = r["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let backends = r["spec"]["rules"][0]["backendRefs"]
            .as_array()
            .map(|refs| refs.iter().map(|b| (b["name"].as_str().unwrap_or_default().to_string(), b["weight"].as_u64().unwrap_or(1))).collect())
            .unwrap_or_default();
        (name, backends)
    }))
}

/// A weight stage on `t`: checks the releases, upgrades stable with
/// `--reuse-values --set canary.weight=N`, reads the route back.
fn step_weight(t: &str, stable: &str, canary: &str, weight: u32, wait: bool, timeout: u32) -> Result<Output, Failure> {
    let Some(previous) = live_revision(t, stable)? else {
        return Err(Failure::new(format!("{t}: no stable release `{stable}` to shift traffic from; nothing was changed"))
            .hint("a `weight` stage steps the HTTPRoute of an installed stable release; install it first (a run that promotes with `track: stable`)"));
    };
    if live_revision(t, canary)?.is_none() {
        return Err(Failure::new(format!("{t}: no canary release `{canary}` to shift traffic to; nothing was changed"))
            .hint("put a `- { name: deploy-canary, uses: builtin:helm-deploy, with: { track: canary } }` stage before the `weight` stages"));
    }
    if route_of(t, stable)?.is_none() {
        return Err(Failure::new(format!("{t}: the stable release `{stable}` has no HTTPRoute: it does not run in Gateway API mode; nothing was changed"))
            .hint("set httpRoute.enabled=true on the stable release (values or set) to step traffic by weight, or drop `weight` to keep the replica ratio"));
    }
    if owned(t, "v1", "Service", canary)?.is_empty() {
        return Err(Failure::new(format!("{t}: the canary release `{canary}` has no Service of its own, so the route has nothing to send its share to; nothing was changed"))
            .hint("set httpRoute.enabled=true on the canary too (the `track: canary` stage's values or set), as on the stable release"));
    }

    let options = helm::UpgradeOptions {
        release: stable.to_string(),
        chart: None,
        namespace: None,
        values: Vec::new(),
        set: vec![format!("canary.weight={weight}")],
        set_string: Vec::new(),
        set_json: Vec::new(),
        install: false,
        reuse_values: true,
        reset_values: false,
        wait,
        atomic: false,
        timeout_seconds: timeout,
        description: Some(format!("canary.weight={weight}")),
    };
    gantry_sdk::info!("{t}: helm upgrade {stable} --reuse-values --set canary.weight={weight} (revision {previous} live)");
    let deployed = match helm::upgrade_install(t, &options) {
        Ok(d) => d,
        Err(e) => {
            let undone = undo(t, stable, Some(previous), false, timeout);
            return Err(Failure::new(format!("{t}: helm upgrade {stable} --set canary.weight={weight}: {} ({}){undone}", e.message, e.kind.name()))
                .hint("`helm history` shows the release; `gantry status` the live route"));
        }
    };
    let (route, backends) = route_of(t, stable)?.unwrap_or_default();
    let carried = if weight == 0 { backends.len() == 1 } else { backends.iter().any(|(_, w)| u64::from(weight) == *w) };
    if !carried {
        let undone = undo(t, stable, Some(previous), wait, timeout);
        return Err(Failure::new(format!("{t}: after `--set canary.weight={weight}` the HTTPRoute `{route}` of `{stable}` sends {backends:?}, not {weight}% to the canary{undone}"))
            .hint("the chart must build its route's backendRefs weights from `canary.weight`, as helm/fastapi-app does"));
    }
    let shown: Vec<String> = backends.iter().map(|(n, w)| format!("{n} {w}")).collect();
    gantry_sdk::info!("{t}: {stable} revision {}: HTTPRoute {route} sends {}", deployed.revision, shown.join(", "));
    let backends: Vec<Value> = backends.into_iter().map(|(name, weight)| json!({ "name": name, "weight": weight })).collect();
    Ok(Output::new(format!("{weight}% of requests to {canary} on {t} ({stable} revision {})", deployed.revision))
        .with("track", Track::Stable.name())
        .with("release", stable)
        .with("namespace", &deployed.namespace)
        .with("revision", deployed.revision)
        .with("weight", weight)
        .with("previous-revision", previous)
        .with("route", route)
        .with("backends", backends)
        .with("undo", vec![json!({ "action": "rollback", "release": stable, "revision": previous })]))
}

/// Whether a weight stage ran on `target` earlier in this run.
fn weighted(target: &str) -> bool {
    run::history().iter().any(|r| r.target.as_deref() == Some(target) && outputs(r).is_some_and(|o| o.get("weight").is_some_and(Value::is_u64)))
}

struct HelmDeploy;

impl Stage for HelmDeploy {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let settings = input.settings;
        let Some(target) = input.target else {
            return Err(Failure::new("builtin:helm-deploy runs per target").hint("drop `once: true` from this stage"));
        };
        let info = run::info();
        let Some(release) = info.release else {
            return Err(Failure::new("builtin:helm-deploy needs the pipeline's `release:`").hint("add `release: { name: NAME, chart: PATH, namespace: NS }`"));
        };
        let timeout = parse_seconds(&settings.timeout).map_err(|e| Failure::new(format!("with.timeout: {e}")))?;
        let track = match mode(&settings)? {
            Mode::Deploy(track) => track,
            Mode::Weight(weight) => return step_weight(&target.name, &release.name, &format!("{}-canary", release.name), weight, settings.wait.unwrap_or(true), timeout),
        };
        let wait = settings.wait.unwrap_or(track == Track::Stable);
        let Some(pipeline_image) = info.image else {
            return Err(Failure::new("builtin:helm-deploy needs the pipeline's `image:`").hint("add `image: { name: NAME, tag: TAG }`"));
        };
        if track == Track::Canary && settings.remove_canary.is_some() {
            return Err(Failure::new("with.remove-canary: only a `track: stable` stage removes the canary").hint("drop `remove-canary` from this canary stage"));
        }
        if let Some(v) = settings.values.as_ref().filter(|v| !v.is_object()) {
            return Err(Failure::new(format!("with.values: a map of values, like a values file, not {v}")));
        }
        let (t, stable) = (target.name.as_str(), release.name.clone());
        let canary = format!("{stable}-canary");
        let name = if track == Track::Canary { canary.clone() } else { stable.clone() };

        let repository = match target.registry.as_deref().map(|r| r.trim_end_matches('/')).filter(|r| !r.is_empty()) {
            Some(registry) => format!("{registry}/{}", pipeline_image.name),
            None => pipeline_image.name.clone(),
        };
        let built = || -> Result<Image, Failure> {
            let digest = built_digest(&repository, t)?.or(pipeline_image.digest.clone());
            Ok(Image { repository: repository.clone(), tag: pipeline_image.tag.clone(), digest })
        };
        let image = match track {
            Track::Canary => built()?,
            Track::Stable => match deployed_canary(t, &pipeline_image.tag) {
                Some((stage, image)) => {
                    gantry_sdk::info!("{t}: promoting {} (deployed as the canary by `{stage}`)", image.reference());
                    image
                }
                None => {
                    let image = built()?;
                    gantry_sdk::info!("{t}: no canary stage ran before this one; deploying {}", image.reference());
                    image
                }
            },
        };

        // gantry's values, below the user's.
        let mut ours = json!({
            "image": { "repository": image.repository, "tag": image.tag, "digest": image.digest.clone().unwrap_or_default() },
            "track": track.name(),
        });
        let previous = live_revision(t, &stable)?;
        if track == Track::Canary {
            ours["replicaCount"] = json!(1);
            if previous.is_none() {
                gantry_sdk::info!("{t}: no stable release `{stable}` yet: the canary runs under the namespace's default ServiceAccount");
                ours["serviceAccount"] = json!({ "create": false });
            }
        } else if weighted(t) {
            gantry_sdk::info!("{t}: weight stages ran: promoting with canary.weight=0, every request to {stable}");
            ours["canary"] = json!({ "weight": 0 });
        }
        let mut values = vec![ours.to_string()];
        if let Some(v) = &settings.values {
            values.push(v.to_string());
        }
        let options = helm::UpgradeOptions {
            release: name.clone(),
            chart: None,
            namespace: None,
            values,
            set: expressions(&settings.set, "set")?,
            set_string: expressions(&settings.set_string, "set-string")?,
            set_json: Vec::new(),
            install: true,
            reuse_values: false,
            reset_values: false,
            wait,
            atomic: false,
            timeout_seconds: timeout,
            description: None,
        };

        gantry_sdk::info!("{t}: helm upgrade --install {name} ({} track) with {}", track.name(), image.reference());
        let deployed = match helm::upgrade_install(t, &options) {
            Ok(d) => d,
            Err(e) => {
                let before = if track == Track::Canary { None } else { previous };
                let undone = undo(t, &name, before, false, timeout);
                return Err(Failure::new(format!("{t}: helm upgrade --install {name}: {} ({}){undone}", e.message, e.kind.name()))
                    .hint("`gantry status` and `helm history` show the release; the pods' events say why they did not become ready"));
            }
        };
        gantry_sdk::info!("{t}: {name} revision {} {}", deployed.revision, deployed.status);

        let mut out = Output::new(format!("{name} revision {} on {t}: {}", deployed.revision, image.reference()))
            .with("track", track.name())
            .with("release", &name)
            .with("namespace", &deployed.namespace)
            .with("revision", deployed.revision)
            .with("image", image.reference())
            .with("repository", &image.repository)
            .with("tag", &image.tag)
            .with("digest", image.digest.clone().unwrap_or_default());
        let undo_entry = match (track, previous) {
            (Track::Canary, _) => json!({ "action": "uninstall", "release": name }),
            (Track::Stable, Some(revision)) => json!({ "action": "rollback", "release": name, "revision": revision }),
            (Track::Stable, None) => json!({ "action": "uninstall", "release": name }),
        };
        out = out.with("undo", vec![undo_entry]);
        if track == Track::Stable {
            out = out.with("previous-revision", previous);
            let removed = if settings.remove_canary.unwrap_or(true) {
                match helm::uninstall(t, &canary, None, false) {
                    Ok(()) => {
                        gantry_sdk::info!("{t}: uninstalled {canary}: stable serves {}", image.reference());
                        if wait {
                            await_pods_gone(t, &canary, timeout);
                        }
                        true
                    }
                    Err(e) if e.kind == ErrorKind::NotFound => {
                        gantry_sdk::info!("{t}: no {canary} to remove");
                        false
                    }
                    Err(e) => {
                        let undone = undo(t, &name, previous, wait, timeout);
                        return Err(Failure::new(format!("{t}: removing {canary} after promoting {name}: {} ({}){undone}", e.message, e.kind.name()))
                            .hint("the promotion was undone on this target; `helm history` shows both releases"));
                    }
                }
            } else {
                false
            };
            out = out.with("canary-removed", removed);
        }
        Ok(out)
    }
}

gantry_sdk::export_stage!(HelmDeploy);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_maps_become_helm_paths_with_escaped_values() {
        let map: Map<String, Value> = serde_json::from_str(r#"{"replicaCount": 1, "image": {"pullPolicy": "Always"}, "a.b": "x,y", "hosts": ["a", "b"], "rules": [{"path": "/"}], "off": null}"#).unwrap();
        let got = expressions(&map, "set").unwrap();
        assert_eq!(got, ["a.b=x\\,y", "hosts={a,b}", "image.pullPolicy=Always", "off=null", "replicaCount=1", "rules[0].path=/"]);
        let empty: Map<String, Value> = serde_json::from_str(r#"{"x": {}}"#).unwrap();
        assert!(expressions(&empty, "set").unwrap_err().message.contains("with.set.x"));
    }

    fn mode_of(json: &str) -> Result<Mode, Failure> {
        mode(&serde_json::from_str::<Settings>(json).unwrap())
    }

    #[test]
    fn a_stage_deploys_a_track_or_steps_a_weight_and_ambiguity_is_refused_naming_the_field() {
        assert_eq!(mode_of(r#"{"track": "canary"}"#).unwrap(), Mode::Deploy(Track::Canary));
        assert_eq!(mode_of(r#"{"weight": 0}"#).unwrap(), Mode::Weight(0));
        assert_eq!(mode_of(r#"{"weight": 100, "wait": false, "timeout": "1m"}"#).unwrap(), Mode::Weight(100));
        for (json, field, fix) in [
            (r#"{"weight": 150}"#, "with.weight: 150 is not a percent from 0 to 100", "weight: 10"),
            (r#"{"weight": -1}"#, "with.weight: -1", "weight: 10"),
            (r#"{"track": "stable", "weight": 10}"#, "with.weight: `track: stable` promotes", "without `track`"),
            (r#"{"track": "canary", "weight": 10}"#, "with.weight: `track: canary` installs the canary", "drop `weight` here"),
            (r#"{"weight": 10, "set": {"image.tag": "x"}}"#, "with.set: a `weight` stage keeps", "drop `set` here"),
            (r#"{"weight": 10, "remove-canary": false}"#, "with.remove-canary:", "drop `remove-canary` here"),
            (r#"{}"#, "with.track: missing", "{ weight: 10 }"),
        ] {
            let e = mode_of(json).unwrap_err();
            assert!(e.message.contains(field), "{json}: {}", e.message);
            assert!(e.hint.as_deref().is_some_and(|h| h.contains(fix)), "{json}: {:?}", e.hint);
        }
    }

    #[test]
    fn timeouts_are_whole_seconds() {
        assert_eq!(parse_seconds("5m"), Ok(300));
        assert_eq!(parse_seconds("1h30m"), Ok(5400));
        assert_eq!(parse_seconds("500ms"), Ok(1));
        assert!(parse_seconds("5").unwrap_err().contains("needs a unit"));
    }

    #[test]
    fn repositories_lose_their_tag_or_digest_but_keep_a_registry_port() {
        assert_eq!(repository_of("127.0.0.1:5000/app:1.0"), "127.0.0.1:5000/app");
        assert_eq!(repository_of("r.example/a/app@sha256:00"), "r.example/a/app");
        assert_eq!(repository_of("app"), "app");
    }
}
