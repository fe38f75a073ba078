//! `gantry plan`: per target, what the pipeline's deploy stages would
//! change — the chart rendered as each deploy stage would install it
//! ([`deploy_values`] then [`render_release`]: the release name of its
//! track, the release namespace, `image.repository` from the target's
//! registry, `image.tag`, `track` and the stage's `set`/`set-string`), and
//! each rendered object compared with the live one of that release: the
//! live object against the server's dry run of applying the rendered one
//! (what Helm's server-side apply would make of it, defaults included), as
//! YAML, in a unified diff; objects the release does not have yet are
//! new, objects the live release has and the render has not are removed.
//! Server-populated fields (`metadata.managedFields`, `resourceVersion`,
//! `uid`, `creationTimestamp`, `generation`, `status`) never count.
//!
//! Which releases: one per `builtin:helm-deploy` stage (its `track`), else
//! — a pipeline deploying with its own plugin — the canary and the stable
//! release of the contract. The image digest is not known before a run:
//! the render carries the tag (and `image.digest` only when the live
//! release has the same tag and a digest). Hooks are not compared (they
//! are not live objects), nor CRDs in `crds/`.
//!
//! It only reads (the dry run changes nothing). Exit 0: no changes; 1:
//! changes; 2: a bad file or flag, a target that cannot be reached, a chart
//! that does not render.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use gantry_engine::exit;
use gantry_engine::pipeline::{Pipeline, PluginRef};
use gantry_release::action::{FIELD_MANAGER, MANAGED_BY_HELM, MANAGED_BY_LABEL, RELEASE_NAMESPACE_ANNOTATION, RELEASE_NAME_ANNOTATION};
use gantry_release::Releases;
use gantry_runtime::cluster::{ApplyOptions, BackendErrorKind, ClusterBackend, ObjectKey};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::commands::status::{self, TargetArgs};
use crate::output::{self, Ctx, Format};

#[derive(clap::Args, Debug)]
#[command(after_help = "Exit status: 0 when nothing would change, 1 when something would, 2 for a bad file or flag, an unreachable target or a chart that does not render.")]
pub struct Args {
    #[command(flatten)]
    pub targets: TargetArgs,
}

/// One release a deploy stage installs: its track and the stage's `with:`.
#[derive(Debug, Clone)]
pub struct Deploy {
    pub stage: Option<String>,
    /// `canary` or `stable`.
    pub track: String,
    pub with: Value,
}

/// The deploy stages of `pipeline`: its `builtin:helm-deploy` stages in
/// order, else the contract's canary then stable release. A `weight:`
/// stage is left out: it only steps the stable release's route between the
/// canary and the promotion, which ends at weight 0 (as the chart renders
/// stable without it).
pub fn deploys(pipeline: &Pipeline) -> Vec<Deploy> {
    let found: Vec<Deploy> = pipeline
        .spec
        .stages
        .iter()
        .filter(|s| matches!(PluginRef::parse(&s.uses), Ok(PluginRef::Builtin { name, .. }) if name == "helm-deploy"))
        .filter(|s| s.with.as_ref().and_then(|w| w.get("weight")).is_none())
        .map(|s| {
            let with = s.with.clone().unwrap_or(Value::Null);
            let track = with["track"].as_str().unwrap_or("stable").to_string();
            Deploy { stage: Some(s.name.clone()), track, with }
        })
        .collect();
    if !found.is_empty() {
        return found;
    }
    ["canary", "stable"].iter().map(|t| Deploy { stage: None, track: t.to_string(), with: Value::Null }).collect()
}

/// The release a track installs: `release.name`, or `<name>-canary`.
pub fn release_name(pipeline: &Pipeline, track: &str) -> Option<String> {
    let r = pipeline.spec.release.as_ref()?;
    Some(if track == "canary" { format!("{}-canary", r.name) } else { r.name.clone() })
}

/// The values a deploy stage gives the chart on `target`, merged as Helm
/// merges `--set-json` then `--set-string` (the names helm-deploy uses):
/// `image.repository` (`<target registry>/<image name>`, else the image
/// name), `image.tag`, `image.digest` when given, `track`, then the stage's
/// `set` (typed) and `set-string` over them.
pub fn deploy_values(pipeline: &Pipeline, target: &str, deploy: &Deploy, digest: Option<&str>) -> Result<Map<String, Value>, String> {
    let mut json_values = Vec::new();
    if let Some(image) = &pipeline.spec.image {
        let registry = pipeline.spec.targets.get(target).and_then(|t| t.registry.as_deref()).map(|r| r.trim_end_matches('/'));
        let repository = match registry {
            Some(r) if !r.is_empty() => format!("{r}/{}", image.name),
            _ => image.name.clone(),
        };
        json_values.push(format!("image.repository={}", Value::from(repository)));
        json_values.push(format!("image.tag={}", Value::from(image.tag.clone())));
        if let Some(d) = digest {
            json_values.push(format!("image.digest={}", Value::from(d)));
        }
    }
    json_values.push(format!("track={}", Value::from(deploy.track.clone())));
    let set_entries = |key: &str| -> Vec<(String, Value)> { deploy.with[key].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default() };
    json_values.extend(set_entries("set").into_iter().map(|(k, v)| format!("{k}={v}")));
    let string_values: Vec<String> = set_entries("set-string").into_iter().map(|(k, v)| format!("{k}={}", v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))).collect();
    let options = gantry_helm::values::Options { json_values, string_values, ..gantry_helm::values::Options::default() };
    let merged = options.merge(&|name: &str| Err(format!("{name}: a deploy stage reads no values files"))).map_err(|e| format!("the values of stage {}: {}", deploy.stage.as_deref().unwrap_or(&deploy.track), e.message))?;
    match gantry_release::record::helm_value_to_json(&merged) {
        Some(Value::Object(m)) => Ok(m),
        _ => Ok(Map::new()),
    }
}

/// One object of a rendered release, as it would be applied.
#[derive(Debug, Clone)]
pub struct RenderedObject {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub object: Value,
}

/// How to render a release as an install or upgrade of it would.
pub struct RenderRequest<'a> {
    pub chart: &'a Path,
    pub release: &'a str,
    pub namespace: &'a str,
    pub values: &'a Map<String, Value>,
    /// The revision the render would be (the live one + 1, or 1).
    pub revision: i64,
    pub is_install: bool,
    /// The cluster's `.Capabilities` (None: Helm's defaults).
    pub capabilities: Option<gantry_helm::helmfuncs::Capabilities>,
    /// What `lookup` asks (None: empty answers, as `helm template`).
    pub lookup: Option<Arc<dyn gantry_helm::helmfuncs::Lookup>>,
}

/// Kinds served cluster-wide (no namespace) among the built-in APIs.
const CLUSTER_SCOPED: [&str; 12] = [
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "IngressClass",
    "PriorityClass",
    "APIService",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
];

/// The chart rendered as the release's objects, in Helm's install order,
/// with what an install adds to each: the release namespace where none is
/// written (namespaced kinds), Helm's `managed-by` label and release
/// annotations. Hooks, NOTES and CRDs are left out. Blocking (templates
/// run here and `lookup` may wait on the cluster): call it off the async
/// runtime. The one rendering `plan` does; meant to be shared.
pub fn render_release(r: &RenderRequest) -> Result<Vec<RenderedObject>, String> {
    let chart = gantry_helm::chart::load(r.chart).map_err(|e| format!("chart {}: {}", r.chart.display(), e.message))?;
    let options = gantry_helm::engine::RenderOptions {
        release_name: r.release.to_string(),
        namespace: r.namespace.to_string(),
        revision: r.revision,
        is_install: r.is_install,
        is_upgrade: !r.is_install,
        capabilities: r.capabilities.clone(),
        install_checks: true,
        lookup: r.lookup.clone(),
        ..gantry_helm::engine::RenderOptions::default()
    };
    let values = gantry_helm::value::Value::from(&Value::Object(r.values.clone()));
    let files = gantry_helm::engine::render_chart(r.chart, &values, &options).map_err(|e| format!("rendering {} as release {}: {}", r.chart.display(), r.release, e.message))?;
    let (sorted, _, _) = gantry_release::manifest::build(files, chart.name()).map_err(|e| format!("release {}: {}", r.release, e.0))?;
    let mut out = Vec::new();
    for m in &sorted.manifests {
        let mut object = gantry_release::manifest::yaml_to_json(&m.content).map_err(|e| format!("YAML parse error on {}: {e}", m.name))?;
        if !object.is_object() {
            continue;
        }
        let namespaced = !CLUSTER_SCOPED.contains(&m.kind.as_str());
        let meta = &mut object["metadata"];
        if !namespaced {
            if let Some(meta) = meta.as_object_mut() {
                meta.remove("namespace");
            }
        } else if meta["namespace"].as_str().is_none_or(str::is_empty) {
            meta["namespace"] = json!(r.namespace);
        }
        if !meta["labels"].is_object() {
            meta["labels"] = json!({});
        }
        meta["labels"][MANAGED_BY_LABEL] = json!(MANAGED_BY_HELM);
        if !meta["annotations"].is_object() {
            meta["annotations"] = json!({});
        }
        meta["annotations"][RELEASE_NAME_ANNOTATION] = json!(r.release);
        meta["annotations"][RELEASE_NAMESPACE_ANNOTATION] = json!(r.namespace);
        let namespace = object["metadata"]["namespace"].as_str().map(String::from);
        out.push(RenderedObject { api_version: m.api_version.clone(), kind: m.kind.clone(), namespace, name: m.object_name.clone(), object });
    }
    Ok(out)
}

/// What would happen to one object.
#[derive(Debug, Serialize)]
pub struct ObjectPlan {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// `new`, `changed`, `removed` or `unchanged`.
    pub change: &'static str,
    /// The unified diff (live → planned); empty when unchanged.
    pub diff: String,
}

#[derive(Debug, Serialize)]
pub struct ReleasePlan {
    pub stage: Option<String>,
    pub track: String,
    pub release: String,
    pub namespace: String,
    /// The live release's revision and status, if it exists.
    pub live_revision: Option<i64>,
    pub live_status: Option<String>,
    pub values: Map<String, Value>,
    pub objects: Vec<ObjectPlan>,
}

impl ReleasePlan {
    fn count(&self, change: &str) -> usize {
        self.objects.iter().filter(|o| o.change == change).count()
    }

    fn changes(&self) -> bool {
        self.objects.iter().any(|o| o.change != "unchanged")
    }
}

#[derive(Debug, Serialize)]
pub struct TargetPlan {
    pub target: String,
    pub releases: Vec<ReleasePlan>,
}

pub async fn run(args: Args, ctx: Ctx) -> i32 {
    let driver = match status::helm_driver() {
        Ok(d) => d,
        Err(e) => {
            output::error(ctx, &e);
            return exit::BAD_INPUT;
        }
    };
    let live = match status::connect(&args.targets, ctx).await {
        Ok(l) => l,
        Err(code) => return code,
    };
    let planned = plan_all(&live, driver).await;
    live.shutdown().await;
    let targets = match planned {
        Ok(t) => t,
        Err(e) => {
            output::error(ctx, &e);
            return exit::BAD_INPUT;
        }
    };
    let changes = targets.iter().flat_map(|t| &t.releases).any(ReleasePlan::changes);
    match ctx.format {
        Format::Json => println!("{}", json!({ "changes": changes, "targets": targets })),
        Format::Human => print!("{}", human(&targets)),
    }
    if changes {
        exit::FAILED
    } else {
        exit::SUCCESS
    }
}

async fn plan_all(live: &status::Live, driver: gantry_release::Driver) -> Result<Vec<TargetPlan>, String> {
    let pipeline = &live.pipeline;
    let Some(release) = &pipeline.spec.release else {
        return Err(format!("{}: the pipeline has no `release:`, so there is nothing to render: add `release: {{ name: NAME, chart: PATH }}`", pipeline.file.display()));
    };
    let chart = pipeline.dir.join(&release.chart);
    let mut out = Vec::new();
    for (target, client) in &live.clients {
        let releases = Releases::new(target, client.clone(), &release.namespace, driver);
        let backend = gantry_cluster::KubeBackend::new(target, client.clone()).with_field_manager(FIELD_MANAGER);
        let lookup = gantry_cluster::ClusterLookup::new(target, client.clone(), tokio::runtime::Handle::current());
        let capabilities = lookup.capabilities().await.map_err(|e| format!("target `{target}`: reading the cluster's capabilities: {e}"))?;
        let mut plans = Vec::new();
        for deploy in deploys(pipeline) {
            let Some(name) = release_name(pipeline, &deploy.track) else { continue };
            let current = match releases.status(&name, None).await {
                Ok(r) if r.status() != gantry_release::Status::Uninstalled => Some(r),
                Ok(_) => None,
                Err(e) if super::release::is_not_found(&e) => None,
                Err(e) => return Err(format!("target `{target}`: reading release `{name}`: {e}")),
            };
            // The digest only when the live release runs the same tag (a run of the same commit).
            let tag = pipeline.spec.image.as_ref().map(|i| i.tag.clone());
            let digest = current.as_ref().and_then(|r| {
                let image = r.config.get("image")?;
                (image.get("tag").and_then(Value::as_str) == tag.as_deref()).then(|| image.get("digest").and_then(Value::as_str).map(String::from)).flatten()
            });
            let values = deploy_values(pipeline, target, &deploy, digest.as_deref()).map_err(|e| format!("target `{target}`: {e}"))?;
            let request = OwnedRequest {
                chart: chart.clone(),
                release: name.clone(),
                namespace: release.namespace.clone(),
                values: values.clone(),
                revision: current.as_ref().map_or(1, |r| r.version + 1),
                is_install: current.is_none(),
                capabilities: Some(capabilities.clone()),
                lookup: Some(Arc::new(lookup.clone())),
            };
            let rendered = tokio::task::spawn_blocking(move || render_release(&request.borrow()))
                .await
                .map_err(|e| format!("the render stopped: {e}"))?
                .map_err(|e| format!("target `{target}`: {e}"))?;
            let live_manifest = match &current {
                Some(r) => gantry_release::manifest::read(&r.manifest).map_err(|e| format!("target `{target}`: release `{name}`: its stored manifest does not read: {}", e.0))?,
                None => Vec::new(),
            };
            let objects = compare(&backend, &rendered, &live_manifest, &release.namespace).await.map_err(|e| format!("target `{target}`: release `{name}`: {e}"))?;
            plans.push(ReleasePlan {
                stage: deploy.stage.clone(),
                track: deploy.track.clone(),
                release: name,
                namespace: release.namespace.clone(),
                live_revision: current.as_ref().map(|r| r.version),
                live_status: current.as_ref().map(|r| r.status().to_string()),
                values,
                objects,
            });
        }
        out.push(TargetPlan { target: target.clone(), releases: plans });
    }
    Ok(out)
}

/// [`RenderRequest`]'s owned form, to move onto a blocking thread.
struct OwnedRequest {
    chart: std::path::PathBuf,
    release: String,
    namespace: String,
    values: Map<String, Value>,
    revision: i64,
    is_install: bool,
    capabilities: Option<gantry_helm::helmfuncs::Capabilities>,
    lookup: Option<Arc<dyn gantry_helm::helmfuncs::Lookup>>,
}

impl OwnedRequest {
    fn borrow(&self) -> RenderRequest<'_> {
        RenderRequest {
            chart: &self.chart,
            release: &self.release,
            namespace: &self.namespace,
            values: &self.values,
            revision: self.revision,
            is_install: self.is_install,
            capabilities: self.capabilities.clone(),
            lookup: self.lookup.clone(),
        }
    }
}

/// Each rendered object against the live one (through a server dry run of
/// applying it), and the live release's objects the render no longer has.
async fn compare(backend: &gantry_cluster::KubeBackend, rendered: &[RenderedObject], live_manifest: &[gantry_release::manifest::Manifest], namespace: &str) -> Result<Vec<ObjectPlan>, String> {
    let identity = |api_version: &str, kind: &str, ns: Option<&str>, name: &str| {
        let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        (group.to_string(), kind.to_string(), ns.unwrap_or("").to_string(), name.to_string())
    };
    let mut out = Vec::new();
    let mut planned = std::collections::HashSet::new();
    for o in rendered {
        planned.insert(identity(&o.api_version, &o.kind, o.namespace.as_deref(), &o.name));
        let key = ObjectKey { api_version: o.api_version.clone(), kind: o.kind.clone(), namespace: o.namespace.clone(), name: o.name.clone() };
        let (change, diff) = match backend.get(&key).await {
            Err(e) if e.kind == BackendErrorKind::NotFound => ("new", unified_diff(&describe(o), "", &yaml(&normalize(&o.object)))),
            Err(e) => return Err(format!("reading {}: {}", describe(o), e.message)),
            Ok(live) => {
                // What the server would make of the apply; the rendered object if it refuses the dry run.
                let after = match backend.apply(&o.object, ApplyOptions { force: true, dry_run: true }).await {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(object = %describe(o), error = %e.message, "the server's dry run failed; comparing with the rendered object");
                        o.object.clone()
                    }
                };
                let (before, after) = (yaml(&normalize(&live)), yaml(&normalize(&after)));
                if before == after {
                    ("unchanged", String::new())
                } else {
                    ("changed", unified_diff(&describe(o), &before, &after))
                }
            }
        };
        out.push(ObjectPlan { api_version: o.api_version.clone(), kind: o.kind.clone(), namespace: o.namespace.clone(), name: o.name.clone(), change, diff });
    }
    for m in live_manifest {
        let written = gantry_release::manifest::yaml_to_json(&m.content).ok();
        let ns = if CLUSTER_SCOPED.contains(&m.kind.as_str()) {
            None
        } else {
            Some(written.as_ref().and_then(|w| w["metadata"]["namespace"].as_str()).filter(|n| !n.is_empty()).unwrap_or(namespace).to_string())
        };
        if planned.contains(&identity(&m.api_version, &m.kind, ns.as_deref(), &m.object_name)) {
            continue;
        }
        let key = ObjectKey { api_version: m.api_version.clone(), kind: m.kind.clone(), namespace: ns.clone(), name: m.object_name.clone() };
        let before = match backend.get(&key).await {
            Ok(live) => yaml(&normalize(&live)),
            Err(e) if e.kind == BackendErrorKind::NotFound => continue,
            Err(e) => return Err(format!("reading {} {}: {}", m.kind, m.object_name, e.message)),
        };
        let label = format!("{} {}{}", m.kind, ns.as_ref().map(|n| format!("{n}/")).unwrap_or_default(), m.object_name);
        out.push(ObjectPlan { api_version: m.api_version.clone(), kind: m.kind.clone(), namespace: ns, name: m.object_name.clone(), change: "removed", diff: unified_diff(&label, &before, "") });
    }
    Ok(out)
}

fn describe(o: &RenderedObject) -> String {
    format!("{} {}{}", o.kind, o.namespace.as_ref().map(|n| format!("{n}/")).unwrap_or_default(), o.name)
}

/// An object without what the server fills in: `status`, and the metadata
/// fields `managedFields`, `resourceVersion`, `uid`, `creationTimestamp`,
/// `generation`.
pub fn normalize(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(map) = o.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"] {
                meta.remove(field);
            }
        }
    }
    o
}

/// An object as YAML with its keys in sorted order, so that two reads of
/// the same object are the same text.
fn yaml(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), sorted(v))).collect::<BTreeMap<_, _>>().into_iter().collect()),
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_yaml::to_string(&sorted(v)).unwrap_or_else(|e| format!("# not YAML: {e}\n"))
}

/// A unified diff of `before` → `after` (`--- live` / `+++ planned`
/// headers naming `what`), with three lines of context; empty when equal.
pub fn unified_diff(what: &str, before: &str, after: &str) -> String {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    if a == b {
        return String::new();
    }
    // Longest common subsequence table, from the ends.
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    // The edit script: (' ' | '-' | '+', line in a, line in b).
    let mut ops: Vec<(char, usize, usize)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', i, j));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', i, j));
            i += 1;
        } else {
            ops.push(('+', i, j));
            j += 1;
        }
    }
    const CONTEXT: usize = 3;
    let mut out = format!("--- live {what}\n+++ planned {what}\n");
    let changed: Vec<usize> = ops.iter().enumerate().filter(|(_, o)| o.0 != ' ').map(|(k, _)| k).collect();
    let mut k = 0;
    while k < changed.len() {
        // A hunk: changes closer than two contexts apart, with context around.
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        while k + 1 < changed.len() && changed[k + 1] <= end + 2 * CONTEXT + 1 {
            k += 1;
            end = changed[k];
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let hunk = &ops[start..end];
        let (a_start, b_start) = (hunk[0].1, hunk[0].2);
        let a_len = hunk.iter().filter(|o| o.0 != '+').count();
        let b_len = hunk.iter().filter(|o| o.0 != '-').count();
        let range = |start: usize, len: usize| if len == 0 { format!("{start},0") } else if len == 1 { format!("{}", start + 1) } else { format!("{},{len}", start + 1) };
        out.push_str(&format!("@@ -{} +{} @@\n", range(a_start, a_len), range(b_start, b_len)));
        for (op, ai, bj) in hunk {
            let line = if *op == '+' { b[*bj] } else { a[*ai] };
            out.push(*op);
            out.push_str(line);
            out.push('\n');
        }
        k += 1;
    }
    out
}

/// Per target and release: a summary line, then the diffs.
fn human(targets: &[TargetPlan]) -> String {
    let mut out = String::new();
    for t in targets {
        for r in &t.releases {
            let live = match (r.live_revision, &r.live_status) {
                (Some(rev), Some(s)) => format!("live revision {rev} ({s})"),
                _ => "not installed".to_string(),
            };
            let stage = r.stage.as_ref().map(|s| format!(", stage {s}")).unwrap_or_default();
            out.push_str(&format!(
                "{}: release {} ({} track{stage}, namespace {}, {live}): {} new, {} changed, {} removed, {} unchanged\n",
                t.target,
                r.release,
                r.track,
                r.namespace,
                r.count("new"),
                r.count("changed"),
                r.count("removed"),
                r.count("unchanged")
            ));
            for o in r.objects.iter().filter(|o| !o.diff.is_empty()) {
                out.push_str(&o.diff);
            }
        }
    }
    let changes = targets.iter().flat_map(|t| &t.releases).any(ReleasePlan::changes);
    out.push_str(if changes { "the pipeline would change the releases above\n" } else { "no changes\n" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unified_diff_has_headers_hunks_and_context() {
        let before = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let after = "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk\n";
        let d = unified_diff("Deployment default/x", before, after);
        assert_eq!(d, "--- live Deployment default/x\n+++ planned Deployment default/x\n@@ -1,10 +1,11 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n h\n i\n j\n+k\n");
        assert_eq!(unified_diff("x", "same\n", "same\n"), "");
        assert_eq!(unified_diff("x", "", "new\n"), "--- live x\n+++ planned x\n@@ -0,0 +1 @@\n+new\n");
        let far = unified_diff("x", &(0..20).map(|i| format!("{i}\n")).collect::<String>(), &(0..20).map(|i| if i == 1 || i == 18 { "X\n".to_string() } else { format!("{i}\n") }).collect::<String>());
        assert_eq!(far.matches("@@ -").count(), 2, "changes far apart are two hunks: {far}");
    }

    fn pipeline(stages: &str) -> Pipeline {
        let yaml = format!("name: app\nimage: {{ name: app, tag: v7 }}\nrelease: {{ name: web, chart: c }}\ntargets:\n  aws: {{ sim: {{}}, registry: 111.dkr.ecr.eu-west-1.amazonaws.com/ }}\n  gcp: {{ sim: {{}} }}\nstages:\n{stages}");
        gantry_engine::pipeline::parse(Path::new("gantry.yaml"), Path::new("."), &yaml, &gantry_engine::Vars::default()).unwrap_or_else(|d| panic!("{:?}", d.0))
    }

    #[test]
    fn deploy_values_carry_the_targets_registry_the_tag_the_track_and_the_stages_set() {
        let p = pipeline("  - { name: a, uses: builtin:echo }\n");
        let tracks: Vec<String> = deploys(&p).into_iter().map(|d| d.track).collect();
        assert_eq!(tracks, ["canary", "stable"], "no helm-deploy stage: the contract's two releases");
        assert_eq!((release_name(&p, "canary").as_deref(), release_name(&p, "stable").as_deref()), (Some("web-canary"), Some("web")));
        let canary = Deploy { stage: Some("deploy-canary".into()), track: "canary".into(), with: json!({"track": "canary", "set": {"replicaCount": 1, "image.pullPolicy": "Always", "podLabels": {"team": "a"}}, "set-string": {"podAnnotations.commit": "0123"}}) };
        let v = deploy_values(&p, "aws", &canary, Some("sha256:abc")).unwrap();
        assert_eq!(
            Value::Object(v),
            json!({"image": {"repository": "111.dkr.ecr.eu-west-1.amazonaws.com/app", "tag": "v7", "digest": "sha256:abc", "pullPolicy": "Always"}, "track": "canary", "replicaCount": 1, "podLabels": {"team": "a"}, "podAnnotations": {"commit": "0123"}})
        );
        let stable = Deploy { stage: None, track: "stable".into(), with: Value::Null };
        assert_eq!(Value::Object(deploy_values(&p, "gcp", &stable, None).unwrap()), json!({"image": {"repository": "app", "tag": "v7"}, "track": "stable"}), "no registry: the image name alone");
    }

    #[test]
    fn weight_stages_only_step_traffic_and_are_not_planned_as_deploys() {
        let p = pipeline("  - { name: deploy-canary, uses: builtin:helm-deploy, with: { track: canary } }\n  - { name: shift-10, uses: builtin:helm-deploy, with: { weight: 10 } }\n  - { name: promote, uses: builtin:helm-deploy, with: { track: stable } }\n");
        let planned: Vec<(Option<String>, String)> = deploys(&p).into_iter().map(|d| (d.stage, d.track)).collect();
        assert_eq!(planned, [(Some("deploy-canary".to_string()), "canary".to_string()), (Some("promote".to_string()), "stable".to_string())]);
    }

    #[test]
    fn normalizing_drops_what_the_server_fills_in() {
        let live = json!({"kind": "Service", "metadata": {"name": "s", "uid": "u", "resourceVersion": "7", "generation": 2, "creationTimestamp": "t", "managedFields": [], "labels": {"a": "b"}}, "spec": {"x": 1}, "status": {"y": 2}});
        assert_eq!(normalize(&live), json!({"kind": "Service", "metadata": {"name": "s", "labels": {"a": "b"}}, "spec": {"x": 1}}));
    }
}
