//! Helm's render (v4 `pkg/engine` `Engine.Render`): every template of a
//! chart and of its enabled subcharts parsed into one set under its full
//! name (`parent/charts/sub/templates/x.yaml`), deepest paths first so a
//! parent's `define` replaces a subchart's; partials (`_*`) and a library
//! chart's other files not rendered; each template executed with its own
//! chart's scope (`.Values` of that chart, `.Chart`, `.Files`,
//! `.Subcharts`, `.Template`, `.Release`, `.Capabilities`); missing keys as
//! Go's `missingkey=zero` (or `error` when strict) and Helm's `<no value>`
//! removal; errors reworded as Helm rewords them (`parse error at (…)`,
//! `execution error at (…)`, the multi-line trace). The output is every
//! rendered template by name, NOTES.txt of subcharts included (as the
//! engine's map has them; [`top_notes`] picks the release's).
//!
//! Helm's scopes are shared Go maps (one per chart, `value::Map`): a
//! parent's `.Subcharts.x.Template` shows the last template of `x` rendered
//! before it, and what a template `set`s on `.` (or on `.Values`) the
//! chart's later templates, and its parent's through `.Subcharts`, see.
//! Known difference from Helm: `typeOf .Values` and `typeOf .Template` say
//! `map[string]interface {}` (Helm: `common.Values`, a named map type the
//! value model does not name).
//!
//! It does not load charts, build `.Chart`/`.Files`, coalesce values or
//! validate schemas (`chart` and `values` do; [`render_chart`] chains them
//! as `helm template` does).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::chart::Chart;
use crate::func::FuncMap;
use crate::helmfuncs::{self, Capabilities, Lookup, WARN_END, WARN_START};
use crate::template::{Limits, MissingKey, Templates};
use crate::value::{Map, Value};

/// How to render: the release, the cluster's capabilities, strictness.
#[derive(Clone)]
pub struct RenderOptions {
    pub release_name: String,
    pub namespace: String,
    pub revision: i64,
    pub is_install: bool,
    pub is_upgrade: bool,
    /// `--kube-version`; Helm's default (v1.36.0 for Helm 4.2) when None.
    pub kube_version: Option<String>,
    /// `--api-versions`, added to Helm's default set.
    pub api_versions: Vec<String>,
    /// A cluster's own capabilities (Helm's server-side dry run, install
    /// and upgrade): when given, `kube_version` and `api_versions` are not read.
    pub capabilities: Option<Capabilities>,
    /// `--strict`: a missing map key is an error (`missingkey=error`).
    pub strict: bool,
    /// The cluster `lookup` asks; None answers an empty map, as `helm template`.
    pub lookup: Option<Arc<dyn Lookup>>,
    /// Bounds on nesting and output; None for the defaults (deep enough for
    /// Helm's include limit of 1000 nested includes to speak first).
    pub limits: Option<Limits>,
    /// [`render_chart`] also refuses what `helm template`/`helm install`
    /// refuse before rendering ([`check_installable`], the chart's
    /// `kubeVersion`); Helm's engine alone (and so the oracle) does not.
    pub install_checks: bool,
}

impl Default for RenderOptions {
    fn default() -> RenderOptions {
        RenderOptions {
            release_name: "release-name".into(),
            namespace: "default".into(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
            kube_version: None,
            api_versions: Vec::new(),
            capabilities: None,
            strict: false,
            lookup: None,
            limits: None,
            install_checks: false,
        }
    }
}

impl std::fmt::Debug for RenderOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderOptions")
            .field("release_name", &self.release_name)
            .field("namespace", &self.namespace)
            .field("revision", &self.revision)
            .field("is_install", &self.is_install)
            .field("is_upgrade", &self.is_upgrade)
            .field("kube_version", &self.kube_version)
            .field("api_versions", &self.api_versions)
            .field("capabilities", &self.capabilities.as_ref().map(|c| &c.kube_version.version))
            .field("strict", &self.strict)
            .field("lookup", &self.lookup.is_some())
            .field("limits", &self.limits)
            .field("install_checks", &self.install_checks)
            .finish()
    }
}

/// A render that failed, worded as Helm words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RenderError {
    pub message: String,
}

impl RenderError {
    pub fn new(message: impl Into<String>) -> RenderError {
        RenderError { message: message.into() }
    }
}

/// Default limits: nesting deeper than Helm's include limit (1001 nested
/// includes of one name, each of which may count twice: the call and the
/// template it runs), so Helm's own error is the one reported; output up to
/// 256 MiB per template. (Go's own limit on `{{ template }}` nesting is
/// 100000 with its own message; a runaway `template` recursion stops here
/// sooner, with ours.)
pub const DEFAULT_LIMITS: Limits = Limits { max_depth: 2100, max_output: 256 << 20 };

/// The functions templates see: Sprig, the YAML family, then Helm's own.
/// Sprig's and the YAML family's hold no state: they are built once per
/// process and shared (building them was a twelfth of a scaffold render);
/// Helm's own (`include` counts its nesting, `lookup` asks this render's
/// cluster) are made for each call.
pub fn funcs(lookup: Option<Arc<dyn Lookup>>) -> FuncMap {
    static STATELESS: std::sync::OnceLock<Arc<FuncMap>> = std::sync::OnceLock::new();
    let base = STATELESS.get_or_init(|| {
        let mut f = crate::sprig::funcs();
        // Helm removes these two from Sprig's map.
        f.remove("env");
        f.remove("expandenv");
        // Helm's extras (toYaml, fromYaml, toJson, toToml, …) replace Sprig's.
        crate::yaml::register(&mut f);
        Arc::new(f)
    });
    let mut f = FuncMap::layered(base.clone());
    helmfuncs::register(&mut f, lookup);
    f
}

/// One template to render: its text, its chart (an index into the
/// render's [`Scope`]s), its chart's template folder.
struct Renderable<'c> {
    /// Borrowed from the chart unless it is not UTF-8 (Helm's `string(data)`).
    text: std::borrow::Cow<'c, str>,
    chart: usize,
    base_path: String,
}

/// One chart's scope as Helm's engine shares it between the chart's
/// templates and its parent's `.Subcharts`: `Chart`, `Files`, `Release`,
/// `Capabilities`, `Values`, `Subcharts` (the subcharts' own scope maps);
/// `Template` is set on it before each of its templates executes. One
/// shared Go map: `.Subcharts.x.Template` is the last template of `x`
/// rendered so far.
struct Scope {
    map: Map,
}

/// Helm's render of `chart` with `values` (the root chart's coalesced
/// values): every non-partial template's output by full name.
/// (Deep nesting is the template set's concern: it parses and executes on
/// a thread with a large stack.)
pub fn render(chart: &Chart, values: &Value, options: &RenderOptions) -> Result<BTreeMap<String, String>, RenderError> {
    // The whole render on the template worker: one thread hop per render,
    // not one per template parsed and executed (the hops were a third of a
    // scaffold's render).
    let (chart, values, options) = (chart.clone(), values.clone(), options.clone());
    crate::template::on_worker(move || render_here(&chart, &values, &options))
}

fn render_here(chart: &Chart, values: &Value, options: &RenderOptions) -> Result<BTreeMap<String, String>, RenderError> {
    let caps = capabilities(options)?;
    let funcs = funcs(options.lookup.clone());

    // Templates change `.Values` in place (`set`, `merge`: Go maps are
    // shared references), so they get a copy, as Helm's coalescing copies
    // (copystructure): the caller's values and the chart's own are never
    // changed, and a chart rendered twice renders the same.
    let values = values.deep_copy(crate::value::MAX_WALK_DEPTH).ok_or_else(|| RenderError::new(format!("values nest more than {} maps and lists deep", crate::value::MAX_WALK_DEPTH)))?;
    let mut top = BTreeMap::new();
    top.insert("Values".to_string(), values);
    top.insert("Release".to_string(), helmfuncs::release(&options.release_name, &options.namespace, options.revision, options.is_install, options.is_upgrade));
    top.insert("Capabilities".to_string(), Value::Object(Arc::new(caps)));

    let mut templates = BTreeMap::new();
    let mut scopes = Vec::new();
    collect(chart, None, &top, true, &mut scopes, &mut templates);

    let mut set = Templates::new(funcs);
    set.set_missing_key(if options.strict { MissingKey::Error } else { MissingKey::Zero });
    set.set_limits(options.limits.unwrap_or(DEFAULT_LIMITS));

    let order = sort_templates(templates.keys().cloned().collect());
    for name in &order {
        if let Err(e) = set.parse(name, &templates[name].text) {
            return Err(cleanup_parse_error(name, &e.message));
        }
    }

    let mut out = BTreeMap::new();
    for name in &order {
        if base_name(name).starts_with('_') {
            continue;
        }
        let r = &templates[name];
        let mut t = BTreeMap::new();
        t.insert("Name".to_string(), Value::str(name.as_str()));
        t.insert("BasePath".to_string(), Value::str(r.base_path.as_str()));
        let scope = &scopes[r.chart].map;
        scope.insert("Template".to_string(), Value::map(t));
        match set.execute(name, &Value::Map(scope.clone())) {
            Ok(text) => {
                // Helm's `<no value>` removal; most outputs have none to remove.
                let text = if text.contains("<no value>") { text.replace("<no value>", "") } else { text };
                out.insert(name.clone(), text);
            }
            Err(e) => return Err(reformat_exec_error(name, &e.message)),
        }
    }
    Ok(out)
}

/// Helm's `recAllTpls`: the chart's scope (into `scopes`; its index is
/// returned), its subcharts', and its templates under their full names.
fn collect<'c>(chart: &'c Chart, parent_path: Option<&str>, parent: &BTreeMap<String, Value>, is_root: bool, scopes: &mut Vec<Scope>, out: &mut BTreeMap<String, Renderable<'c>>) -> usize {
    // The root sees all values; a subchart the table under its name (an
    // empty map when that is absent or not a map).
    let values = if is_root {
        parent.get("Values").cloned().unwrap_or_else(Value::empty_map)
    } else {
        match parent.get("Values").and_then(|v| v.get(chart.name())) {
            Some(v @ Value::Map(_)) => v.clone(),
            _ => Value::empty_map(),
        }
    };

    let full_path = match parent_path {
        None => chart.name().to_string(),
        Some(p) => format!("{p}/charts/{}", chart.name()),
    };

    let mut scope = BTreeMap::new();
    scope.insert("Chart".to_string(), chart.metadata_value(is_root));
    scope.insert("Files".to_string(), chart.files_value());
    scope.insert("Release".to_string(), parent.get("Release").cloned().unwrap_or(Value::Nil));
    scope.insert("Capabilities".to_string(), parent.get("Capabilities").cloned().unwrap_or(Value::Nil));
    scope.insert("Values".to_string(), values);

    let idx = scopes.len();
    // (Filled in below, once the subcharts' scopes exist.)
    scopes.push(Scope { map: Map::new(BTreeMap::new(), "interface {}") });
    let mut subs = BTreeMap::new();
    for dep in &chart.dependencies {
        let sub = collect(dep, Some(&full_path), &scope, false, scopes, out);
        // Helm keys `.Subcharts` by name: a later namesake replaces an earlier one.
        subs.insert(dep.name().to_string(), Value::Map(scopes[sub].map.clone()));
    }
    let mut base = scope;
    base.insert("Subcharts".to_string(), Value::map(subs));
    scopes[idx].map = Map::new(base, "interface {}");

    let base_path = format!("{full_path}/templates");
    for t in &chart.templates {
        if chart.is_library() && !base_name(&t.name).starts_with('_') {
            continue;
        }
        out.insert(format!("{full_path}/{}", t.name), Renderable { text: utf8_text(&t.data), chart: idx, base_path: base_path.clone() });
    }
    idx
}

/// A template's text as Helm's `string(data)` has it (invalid UTF-8 as
/// U+FFFD here), borrowed when it is valid: `from_utf8` checks ASCII a
/// word at a time, `from_utf8_lossy` a byte at a time (it was 3% of a
/// scaffold render).
fn utf8_text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(data) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(data),
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Helm's parse order: more `/` first; names of equal depth in reverse
/// lexical order.
fn sort_templates(mut names: Vec<String>) -> Vec<String> {
    names.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then_with(|| b.cmp(a))
    });
    names
}

/// Helm's `cleanupParseError`: `parse error at (FILE:LINE): MESSAGE`.
fn cleanup_parse_error(name: &str, message: &str) -> RenderError {
    let tokens: Vec<&str> = message.split(": ").collect();
    if tokens.len() == 1 {
        return RenderError::new(format!("parse error in ({name}): {message}"));
    }
    RenderError::new(format!("parse error at ({}): {}", tokens[1], tokens[tokens.len() - 1]))
}

/// One level of Go's error chain as Helm's `TraceableError` keeps it.
#[derive(PartialEq, Eq)]
struct Traceable {
    location: String,
    message: String,
    executed: String,
}

impl Traceable {
    fn render(&self) -> String {
        let mut s = String::new();
        if !self.location.is_empty() {
            s.push_str(&self.location);
            s.push_str("\n  ");
        }
        if !self.executed.is_empty() {
            s.push_str(&self.executed);
            s.push_str("\n    ");
        }
        if !self.message.is_empty() {
            s.push_str(&self.message);
            s.push('\n');
        }
        s
    }
}

/// Helm's `parseTemplateExecErrorString`.
fn parse_traceable(s: &str) -> Option<Traceable> {
    let rem = s.strip_prefix("template: ")?;
    if rem.starts_with("no template ") {
        return Some(Traceable { location: String::new(), message: s.to_string(), executed: String::new() });
    }
    if let Some((tname, after)) = rem.split_once(": executing ") {
        let after_q = after.strip_prefix('"')?;
        let end = after_q.find('"')?;
        let func = &after_q[..end];
        let after_func = after_q[end + 1..].strip_prefix(" at <")?;
        let (loc, msg) = after_func.split_once(">: ")?;
        let msg = msg.find(" template:").map_or(msg, |c| &msg[..c]);
        return Some(Traceable { location: tname.to_string(), message: msg.to_string(), executed: format!("executing \"{func}\" at <{loc}>:") });
    }
    let sep = rem.rfind(": ")?;
    let msg = &rem[sep + 2..];
    let msg = msg.find(" template:").map_or(msg, |c| &msg[..c]);
    Some(Traceable { location: rem[..sep].to_string(), message: msg.to_string(), executed: String::new() })
}

/// Go's error chain under a flat execution error message: each level wraps
/// the next after `error calling NAME: ` (Go's `%w`); a level Go built
/// without `%w` (a failed field, a wrong argument) ends the chain at
/// itself. Returns the levels' texts and whether the innermost error is
/// itself a template error (else Helm gives the message unchanged).
fn error_chain(message: &str) -> (Vec<&str>, bool) {
    let mut levels = vec![message];
    let mut cur = message;
    loop {
        // Only an "executing" level can wrap a function's error.
        let Some(rest) = cur.strip_prefix("template: ") else { return (levels, false) };
        let Some((_, after)) = rest.split_once(": executing \"") else { return (levels, true) };
        let Some(at) = after.find(">: ") else { return (levels, true) };
        let msg = &after[at + 3..];
        let Some(call) = msg.strip_prefix("error calling ") else { return (levels, true) };
        let Some(colon) = call.find(": ") else { return (levels, true) };
        let inner = &call[colon + 2..];
        levels.push(inner);
        cur = inner;
    }
}

/// Helm's `reformatExecErrorMsg` over the flat message Go's error prints.
fn reformat_exec_error(name: &str, message: &str) -> RenderError {
    let tokens: Vec<&str> = message.splitn(3, ": ").collect();
    if tokens.len() != 3 {
        return RenderError::new(format!("execution error in ({name}): {message}"));
    }
    let location = tokens[1];
    if let Some(start) = tokens[2].find(WARN_START) {
        let after = &tokens[2][start + WARN_START.len()..];
        if let Some(end) = after.rfind(WARN_END) {
            return RenderError::new(format!("execution error at ({location}): {}", &after[..end]));
        }
    }
    let (levels, templated) = error_chain(message);
    if !templated {
        return RenderError::new(message);
    }
    let mut traces: Vec<Traceable> = Vec::new();
    for level in levels {
        match parse_traceable(level) {
            Some(t) => {
                if traces.last() != Some(&t) {
                    traces.push(t);
                }
            }
            None => return RenderError::new(message),
        }
    }
    let text: String = traces.iter().map(Traceable::render).collect();
    RenderError::new(text.trim())
}

/// The release's notes from a render: the top chart's `templates/NOTES.txt`
/// (Helm shows no subchart's).
pub fn top_notes<'a>(rendered: &'a BTreeMap<String, String>, chart_name: &str) -> Option<&'a str> {
    rendered.get(&format!("{chart_name}/templates/NOTES.txt")).map(String::as_str)
}

/// What Helm's `install`/`template` commands refuse before anything is
/// rendered, in their words: a chart that is not an application chart,
/// and dependencies declared in Chart.yaml but absent from `charts/`.
pub fn check_installable(chart: &Chart) -> Result<(), RenderError> {
    let t = &chart.metadata.chart_type;
    if !t.is_empty() && t != "application" {
        return Err(RenderError::new(format!("{t} charts are not installable")));
    }
    let missing: Vec<&str> = chart.metadata.dependencies.iter().map(|d| d.name.as_str()).filter(|n| !chart.dependencies.iter().any(|c| c.name() == *n)).collect();
    if !missing.is_empty() {
        return Err(RenderError::new(format!(
            "an error occurred while checking for chart dependencies. You may need to run 'helm dependency build' to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
            missing.join(", ")
        )));
    }
    Ok(())
}

/// The render's `.Capabilities`: the cluster's when given, else Helm's
/// client-side ones from `kube_version` and `api_versions`.
fn capabilities(options: &RenderOptions) -> Result<Capabilities, RenderError> {
    match &options.capabilities {
        Some(c) => Ok(c.clone()),
        None => Capabilities::new(options.kube_version.as_deref(), &options.api_versions).map_err(RenderError::new),
    }
}

/// Helm's check of a chart's `kubeVersion` constraint against the target
/// (`chart requires kubeVersion: … which is incompatible with Kubernetes …`).
pub fn check_kube_version(chart: &Chart, options: &RenderOptions) -> Result<(), RenderError> {
    let constraint = &chart.metadata.kube_version;
    if constraint.is_empty() {
        return Ok(());
    }
    let caps = capabilities(options)?;
    if crate::semver::is_compatible_range(constraint, &caps.kube_version.normalized) {
        Ok(())
    } else {
        Err(RenderError::new(format!("chart requires kubeVersion: {constraint} which is incompatible with Kubernetes {}", caps.kube_version.version)))
    }
}

/// Loads the chart at `path` and renders it as `helm template` does: load,
/// ([`check_installable`] when `install_checks`), dependencies (condition,
/// tags, alias, import-values) against `user_values`, coalescing,
/// `values.schema.json`, ([`check_kube_version`] when `install_checks`),
/// render.
pub fn render_chart(path: &std::path::Path, user_values: &Value, options: &RenderOptions) -> Result<BTreeMap<String, String>, RenderError> {
    // On the template worker as a whole (see `render`): the loaded chart is
    // rendered there without the copy `render` makes of a borrowed one.
    let (path, user_values, options) = (path.to_path_buf(), user_values.clone(), options.clone());
    crate::template::on_worker(move || load_and_render(&path, &user_values, &options))
}

fn load_and_render(path: &std::path::Path, user_values: &Value, options: &RenderOptions) -> Result<BTreeMap<String, String>, RenderError> {
    let mut chart = crate::chart::load(path).map_err(|e| RenderError::new(e.message))?;
    if options.install_checks {
        check_installable(&chart)?;
    }
    crate::chart::process_dependencies(&mut chart, user_values).map_err(|e| RenderError::new(e.message))?;
    let values = crate::values::coalesce(&chart, user_values).map_err(|e| RenderError::new(e.message))?;
    if let Err(e) = crate::values::schema::validate(&chart, &values) {
        const PREFIX: &str = "values don't meet the specifications of the schema(s) in the following chart(s):";
        let message = if e.message.starts_with(PREFIX) { e.message } else { format!("{PREFIX}\n{}", e.message) };
        return Err(RenderError::new(message));
    }
    if options.install_checks {
        check_kube_version(&chart, options)?;
    }
    render_here(&chart, &values, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_order_is_helms() {
        let names = ["c/templates/b.yaml", "c/charts/s/templates/a.yaml", "c/templates/a.yaml", "c/templates/_h.tpl", "c/charts/s/templates/z.yaml"];
        let sorted = sort_templates(names.iter().map(|s| s.to_string()).collect());
        assert_eq!(sorted, ["c/charts/s/templates/z.yaml", "c/charts/s/templates/a.yaml", "c/templates/b.yaml", "c/templates/a.yaml", "c/templates/_h.tpl"]);
    }

    #[test]
    fn parse_errors_are_cleaned_up() {
        // Oracle (parse-error chart).
        let e = cleanup_parse_error("parse-error/templates/broken.yaml", "template: parse-error/templates/broken.yaml:4: unexpected EOF");
        assert_eq!(e.message, "parse error at (parse-error/templates/broken.yaml:4): unexpected EOF");
        let e = cleanup_parse_error("x", "plain");
        assert_eq!(e.message, "parse error in (x): plain");
    }

    #[test]
    fn required_and_fail_become_execution_errors() {
        // Oracle (required-fail/nested): the outer location, the inner message.
        let m = "template: required-fail/templates/app.yaml:9:9: executing \"required-fail/templates/app.yaml\" at <include \"required-fail.dbHost\" .>: error calling include: template: required-fail/templates/_checks.tpl:2:3: executing \"required-fail.dbHost\" at <required \"database.host is required inside a named template\" .Values.database.host>: error calling required: HELM_ERR_STARTdatabase.host is required inside a named templateHELM_ERR_END";
        assert_eq!(reformat_exec_error("required-fail/templates/app.yaml", m).message, "execution error at (required-fail/templates/app.yaml:9:9): database.host is required inside a named template");
    }

    #[test]
    fn field_errors_become_traces() {
        // Oracle (errors/nilField).
        let m = "template: errors/templates/errors.yaml:3:13: executing \"errors/templates/errors.yaml\" at <.Values.nothere.deeper>: nil pointer evaluating interface {}.deeper";
        assert_eq!(reformat_exec_error("errors/templates/errors.yaml", m).message, "errors/templates/errors.yaml:3:13\n  executing \"errors/templates/errors.yaml\" at <.Values.nothere.deeper>:\n    nil pointer evaluating interface {}.deeper");
        // Oracle (errors/nestedStrict): one trace per include level.
        let m = "template: errors/templates/errors.yaml:15:6: executing \"errors/templates/errors.yaml\" at <include \"errors.outer\" .>: error calling include: template: errors/templates/_inner.tpl:11:3: executing \"errors.outer\" at <include \"errors.innerMissing\" .>: error calling include: template: errors/templates/_inner.tpl:5:10: executing \"errors.innerMissing\" at <.Values.missingKey>: map has no entry for key \"missingKey\"";
        assert_eq!(
            reformat_exec_error("errors/templates/errors.yaml", m).message,
            "errors/templates/errors.yaml:15:6\n  executing \"errors/templates/errors.yaml\" at <include \"errors.outer\" .>:\n    error calling include:\nerrors/templates/_inner.tpl:11:3\n  executing \"errors.outer\" at <include \"errors.innerMissing\" .>:\n    error calling include:\nerrors/templates/_inner.tpl:5:10\n  executing \"errors.innerMissing\" at <.Values.missingKey>:\n    map has no entry for key \"missingKey\""
        );
        // Oracle (errors/noTemplate).
        let m = "template: errors/templates/errors.yaml:7:6: executing \"errors/templates/errors.yaml\" at <include \"errors.undefined\" .>: error calling include: template: no template \"errors.undefined\" associated with template \"gotpl\"";
        assert_eq!(
            reformat_exec_error("errors/templates/errors.yaml", m).message,
            "errors/templates/errors.yaml:7:6\n  executing \"errors/templates/errors.yaml\" at <include \"errors.undefined\" .>:\n    error calling include:\ntemplate: no template \"errors.undefined\" associated with template \"gotpl\""
        );
    }

    #[test]
    fn function_errors_stay_as_go_words_them() {
        // Oracle (errors/sprigError, tpl-include/tpl-parse-error): unchanged.
        let m = "template: errors/templates/errors.yaml:27:6: executing \"errors/templates/errors.yaml\" at <mustRegexMatch \"[\" \"x\">: error calling mustRegexMatch: error parsing regexp: missing closing ]: `[`";
        assert_eq!(reformat_exec_error("errors/templates/errors.yaml", m).message, m);
        let m = "template: tpl-include/templates/tpl.yaml:1:13: executing \"tpl-include/templates/tpl.yaml\" at <tpl .Values.greeting .>: error calling tpl: cannot parse template \"{{ .Values.name \": template: gotpl:1: unclosed action";
        assert_eq!(reformat_exec_error("tpl-include/templates/tpl.yaml", m).message, m);
    }

    fn file_chart(name: &str, files: &[(&str, &str)], dependencies: Vec<Chart>) -> Chart {
        let mut c = Chart { templates: files.iter().map(|(n, t)| crate::chart::File::new(*n, t.as_bytes())).collect(), dependencies, ..Chart::default() };
        c.metadata.name = name.into();
        c
    }

    fn values(json: serde_json::Value) -> Value {
        Value::from(&json)
    }

    #[test]
    fn renders_each_template_in_its_charts_scope() {
        let sub = file_chart("sub", &[("templates/_h.tpl", r#"{{ define "x" }}sub-x{{ end }}"#), ("templates/b.yaml", r#"{{ include "x" . }}|{{ .Values.v }}|{{ .Chart.IsRoot }}|{{ .Values.global.g }}"#)], vec![]);
        let top = file_chart(
            "top",
            &[("templates/_h.tpl", r#"{{ define "x" }}top-x{{ end }}"#), ("templates/a.yaml", r#"{{ include "x" . }}|{{ .Template.Name }}|{{ .Template.BasePath }}|{{ .Values.v }}|{{ .Values.missing }}|{{ .Chart.Name }}|{{ .Release.Name }}"#)],
            vec![sub],
        );
        let v = values(serde_json::json!({"v": 1, "sub": {"v": 2, "global": {"g": "G"}}, "global": {"g": "G"}}));
        let opts = RenderOptions { release_name: "rel".into(), ..RenderOptions::default() };
        let out = render(&top, &v, &opts).unwrap();
        // Oracle: the parent's define (parsed last) wins in both charts; partials are not rendered.
        assert_eq!(out.keys().collect::<Vec<_>>(), ["top/charts/sub/templates/b.yaml", "top/templates/a.yaml"]);
        assert_eq!(out["top/charts/sub/templates/b.yaml"], "top-x|2|false|G");
        assert_eq!(out["top/templates/a.yaml"], "top-x|top/templates/a.yaml|top/templates|1||top|rel");
    }

    #[test]
    fn install_checks_are_helms() {
        // Worded as Helm 4.2.3's cmd/install.go and action.renderResources
        // word them (the oracle's engine-level render makes no such checks).
        let mut lib = file_chart("lib", &[], vec![]);
        lib.metadata.chart_type = "library".into();
        assert_eq!(check_installable(&lib).unwrap_err().message, "library charts are not installable");
        let mut app = file_chart("app", &[], vec![file_chart("present", &[], vec![])]);
        for name in ["present", "nothere", "gone"] {
            app.metadata.dependencies.push(crate::chart::Dependency { name: name.into(), ..Default::default() });
        }
        assert_eq!(
            check_installable(&app).unwrap_err().message,
            "an error occurred while checking for chart dependencies. You may need to run 'helm dependency build' to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: nothere, gone"
        );
        app.metadata.dependencies.truncate(1);
        assert!(check_installable(&app).is_ok());
        app.metadata.kube_version = ">=1.20.0-0".into();
        let old = RenderOptions { kube_version: Some("1.19.3-gke.1".into()), ..RenderOptions::default() };
        assert_eq!(check_kube_version(&app, &old).unwrap_err().message, "chart requires kubeVersion: >=1.20.0-0 which is incompatible with Kubernetes v1.19.3-gke.1");
        assert!(check_kube_version(&app, &RenderOptions::default()).is_ok());
    }

    #[test]
    fn subcharts_show_their_last_rendered_template() {
        let sub = file_chart("sub", &[("templates/b.yaml", "b")], vec![]);
        let top = file_chart("top", &[("templates/a.yaml", r#"{{ .Subcharts.sub.Template }}|{{ keys .Subcharts.sub | sortAlpha }}"#)], vec![sub]);
        let out = render(&top, &values(serde_json::json!({})), &RenderOptions::default()).unwrap();
        // Oracle, word for word.
        assert_eq!(out["top/templates/a.yaml"], "map[BasePath:top/charts/sub/templates Name:top/charts/sub/templates/b.yaml]|[Capabilities Chart Files Release Subcharts Template Values]");
    }

    #[test]
    fn strict_renders_fail_with_helms_trace() {
        let sub = file_chart("sub", &[("templates/b.yaml", r#"{{ include "x" . }}|{{ .Values.v }}"#)], vec![]);
        let top = file_chart("top", &[("templates/_h.tpl", r#"{{ define "x" }}top-x{{ end }}"#)], vec![sub]);
        let opts = RenderOptions { strict: true, ..RenderOptions::default() };
        let err = render(&top, &values(serde_json::json!({"v": 1})), &opts).unwrap_err();
        // Oracle, word for word.
        assert_eq!(err.message, "top/charts/sub/templates/b.yaml:1:30\n  executing \"top/charts/sub/templates/b.yaml\" at <.Values.v>:\n    map has no entry for key \"v\"");
    }

    #[test]
    fn a_library_chart_only_defines() {
        let mut lib = file_chart("lib", &[("templates/_l.tpl", r#"{{ define "lib.x" }}from lib {{ .Chart.Name }}{{ end }}"#), ("templates/x.yaml", "{{ .Broken")], vec![]);
        lib.metadata.chart_type = "library".into();
        let top = file_chart("app", &[("templates/a.yaml", r#"{{ include "lib.x" . }}"#)], vec![lib]);
        let out = render(&top, &values(serde_json::json!({})), &RenderOptions::default()).unwrap();
        assert_eq!(out.into_iter().collect::<Vec<_>>(), [("app/templates/a.yaml".to_string(), "from lib app".to_string())]);
    }

    #[test]
    fn templates_change_a_copy_of_the_values() {
        // Helm renders this "1 map[k:1]" every time: its coalescing copies
        // the values, so a template's set never reaches the caller's.
        let mut c = Chart { templates: vec![crate::chart::File::new("templates/t.yaml", &b"{{ $_ := set .Values \"n\" (add1 (.Values.n | default 0)) }}{{ $_ := set .Values.m \"k\" 1 }}{{ .Values.n }} {{ .Values.m }}"[..])], ..Chart::default() };
        c.metadata.name = "c".into();
        let values = Value::from(&serde_json::json!({"m": {}}));
        for _ in 0..2 {
            let out = render(&c, &values, &RenderOptions::default()).unwrap();
            assert_eq!(out["c/templates/t.yaml"], "1 map[k:1]");
        }
        assert_eq!(crate::template::fmt::sprint(&values), "map[m:map[]]");
    }

    #[test]
    fn scopes_follow_the_chart_tree() {
        let chart = |name: &str, library: bool, templates: &[&str], dependencies: Vec<Chart>| {
            let mut c = Chart { templates: templates.iter().map(|t| crate::chart::File::new(*t, &b""[..])).collect(), dependencies, ..Chart::default() };
            c.metadata.name = name.into();
            if library {
                c.metadata.chart_type = "library".into();
            }
            c
        };
        let sub = chart("sub", false, &["templates/s.yaml"], vec![]);
        let lib = chart("lib", true, &["templates/_l.tpl", "templates/x.yaml"], vec![]);
        let root = chart("top", false, &["templates/t.yaml"], vec![sub, lib]);
        let mut top = BTreeMap::new();
        let mut vals = BTreeMap::new();
        vals.insert("sub".to_string(), Value::map(BTreeMap::from([("a".to_string(), Value::Float(1.0))])));
        vals.insert("lib".to_string(), Value::str("not a map"));
        top.insert("Values".to_string(), Value::map(vals));
        let mut out = BTreeMap::new();
        let mut scopes = Vec::new();
        let root_idx = collect(&root, None, &top, true, &mut scopes, &mut out);
        assert_eq!(out.keys().collect::<Vec<_>>(), ["top/charts/lib/templates/_l.tpl", "top/charts/sub/templates/s.yaml", "top/templates/t.yaml"]);
        let s = &out["top/charts/sub/templates/s.yaml"];
        assert_eq!(s.base_path, "top/charts/sub/templates");
        let sub_scope = scopes[s.chart].map.entries();
        assert!(matches!(sub_scope["Values"].get("a"), Some(Value::Float(f)) if f == 1.0));
        assert!(matches!(sub_scope["Chart"].get("IsRoot"), Some(Value::Bool(false))));
        assert!(scopes[out["top/charts/lib/templates/_l.tpl"].chart].map.entries()["Values"].as_map().is_some_and(|m| m.is_empty()));
        let root_scope = scopes[root_idx].map.entries();
        assert_eq!(root_scope["Subcharts"].as_map().unwrap().keys().collect::<Vec<_>>(), ["lib", "sub"]);
        assert!(!root_scope.contains_key("Template"));
        // Once a template of `sub` has rendered, the parent sees it there.
        scopes[s.chart].map.insert("Template".into(), Value::str("t"));
        let root_scope = scopes[root_idx].map.entries();
        assert!(root_scope["Subcharts"].get("sub").and_then(|v| v.get("Template")).is_some());
    }
}
