//! Reading a pipeline file: YAML → `${VAR}` expansion → typed model →
//! checks. Every problem becomes a `Diagnostic` with file, line, column and
//! field; unknown fields get a "did you mean". Nothing here loads plugins or
//! touches the network — that is `plan`'s job.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diagnostic::{suggest, Diagnostic, Diagnostics};
use crate::pipeline::locate::Locator;
use crate::pipeline::model::{MetricsSpec, OnFailure, PipelineFile};
use crate::pipeline::vars::{expand, ExpandError, Vars};
use crate::pipeline::PluginRef;

/// A loaded, expanded and checked pipeline file.
#[derive(Debug)]
pub struct Pipeline {
    pub file: PathBuf,
    /// Directory relative paths in the file are resolved against.
    pub dir: PathBuf,
    pub spec: PipelineFile,
    pub locator: Locator,
    /// Variables the file references.
    pub used_vars: BTreeSet<String>,
    /// Values to mask wherever output is shown or stored.
    pub secrets: Vec<String>,
}

/// The capability names a `grants:` list may hold.
pub const GRANTABLE: [&str; 8] = ["cluster-read", "cluster-write", "helm", "registry", "builder", "scanner", "http-probe", "metrics"];

/// Default stage deadline and memory cap.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
pub const DEFAULT_MEMORY: u64 = 256 << 20;

/// Read and check the pipeline file at `path`.
pub fn load(path: &Path, vars: &Vars) -> Result<Pipeline, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            field: String::new(),
            message: format!("cannot read the pipeline file: {e}"),
            hint: Some("pass the file with `-f PATH` (default: ./gantry.yaml)".into()),
        }])
    })?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(path, &dir, &text, vars)
}

/// Check pipeline `text`, reported as `file`, with relative paths under `dir`.
pub fn parse(file: &Path, dir: &Path, text: &str, vars: &Vars) -> Result<Pipeline, Diagnostics> {
    let locator = Locator::new(text);
    let diag = |field: &str, message: String, hint: Option<String>, key: bool| {
        let pos = if key { locator.key(field) } else { locator.value(field) };
        Diagnostic { file: file.to_path_buf(), line: pos.line, column: pos.column, field: field.to_string(), message, hint }
    };

    // 1. YAML.
    let mut value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        Diagnostics(vec![Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            field: String::new(),
            message: format!("not valid YAML: {}", strip_location(&e.to_string())),
            hint: yaml_hint(text, line),
        }])
    })?;
    if value.is_null() {
        return Err(Diagnostics(vec![diag("", "the file is empty".into(), Some("start from examples/fastapi-app/gantry.yaml (`gantry validate --demo` writes it under .gantry/demo)".into()), false)]));
    }

    // 2. ${VAR} expansion, on values.
    let mut used = BTreeMap::new();
    let mut errors = Vec::new();
    expand_value(&mut value, "", vars, &mut used, &mut |path, e| {
        let (message, hint) = match e {
            ExpandError::Unset(name) => (
                format!("variable `{name}` is not set"),
                Some(format!("export {name}=… or pass `--var {name}=…`, or write `${{{name}:-default}}`")),
            ),
            ExpandError::Malformed(m) => (m, None),
        };
        errors.push(diag(path, message, hint, false));
    });
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }

    // 3. The typed model.
    let spec: PipelineFile = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        Diagnostics(vec![type_error(&path, &e.into_inner().to_string(), &diag)])
    })?;

    // 4. Checks.
    let mut problems = Vec::new();
    check(&spec, dir, &mut |field, message, hint| problems.push(diag(field, message, hint, false)));
    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }

    let used_vars: BTreeSet<String> = used.into_keys().collect();
    let mut secrets = vars.secrets_among(used_vars.iter());
    for target in spec.targets.values() {
        if let Some(creds) = target.gke.as_ref().and_then(|g| g.credentials.clone()) {
            secrets.push(creds);
        }
    }
    secrets.retain(|s| !s.is_empty());
    Ok(Pipeline { file: file.to_path_buf(), dir: dir.to_path_buf(), spec, locator, used_vars, secrets })
}

/// The fix for the YAML mistake pipeline authors make most: `${VAR}` unquoted
/// inside a `{ … }` flow mapping, where `{` and `}` are YAML's own.
fn yaml_hint(text: &str, line: usize) -> Option<String> {
    let source = text.lines().nth(line.checked_sub(1)?)?;
    let at = source.find("${")?;
    let inside_flow = source[..at].contains('{');
    let var_end = source[at..].find('}').map(|i| at + i + 1)?;
    inside_flow.then(|| format!("inside `{{ … }}` quote a value that uses a variable: write \"{}\" (or use block style, one key per line)", &source[at..var_end]))
}

fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Makes a diagnostic at a field: (field path, message, hint, whether it
/// points at the field's key rather than its value).
type MakeDiagnostic<'a> = dyn Fn(&str, String, Option<String>, bool) -> Diagnostic + 'a;

/// Turn a serde error at `path` into a diagnostic, with a suggestion for
/// unknown fields and a hint for type mismatches.
fn type_error(path: &str, message: &str, diag: &MakeDiagnostic<'_>) -> Diagnostic {
    let message = strip_location(message);
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let full = if path.is_empty() {
            field.to_string()
        } else if path == field || path.ends_with(&format!(".{field}")) {
            path.to_string()
        } else {
            format!("{path}.{field}")
        };
        let hint = match suggest(field, candidates.iter().copied()) {
            Some(s) => Some(format!("did you mean `{s}`?")),
            None => Some(format!("known fields here: {}", candidates.join(", "))),
        };
        return diag(&full, format!("unknown field `{field}`"), hint, true);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return diag(path, format!("missing field `{field}`"), Some(format!("add `{field}:` here")), true);
    }
    let hint = message.contains("invalid type").then(|| "check the value's type; quote it if it is meant as text".to_string());
    diag(path, message, hint, false)
}

fn expand_value(v: &mut serde_yaml::Value, path: &str, vars: &Vars, used: &mut BTreeMap<String, ()>, err: &mut dyn FnMut(&str, ExpandError)) {
    match v {
        serde_yaml::Value::String(s) => match expand(s, vars, used) {
            Ok(x) => *s = x,
            Err(e) => err(path, e),
        },
        serde_yaml::Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_value(item, &format!("{path}[{i}]"), vars, used, err);
            }
        }
        serde_yaml::Value::Mapping(map) => {
            for (k, item) in map.iter_mut() {
                let key = match k {
                    serde_yaml::Value::String(s) => s.clone(),
                    other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
                };
                let child = if path.is_empty() { key } else { format!("{path}.{key}") };
                expand_value(item, &child, vars, used, err);
            }
        }
        serde_yaml::Value::Tagged(t) => expand_value(&mut t.value, path, vars, used, err),
        _ => {}
    }
}

/// Parse `30s`, `10m`, `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| format!("`{text}` is not a duration ({e}); write it like `30s`, `10m` or `1h30m`"))
}

/// Parse a Kubernetes-style quantity of bytes: `256Mi`, `1Gi`, `512M`, `1048576`.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("`{text}` is not a memory size; write it like `256Mi` or `1Gi`"))?;
    let factor: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "K" | "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (use Ki, Mi, Gi, K, M or G)")),
    };
    n.checked_mul(factor).ok_or_else(|| format!("`{text}` is too large"))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 63 && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || c == '.')
}

type Report<'a> = dyn FnMut(&str, String, Option<String>) + 'a;

fn check(spec: &PipelineFile, dir: &Path, report: &mut Report<'_>) {
    if spec.name.trim().is_empty() {
        report("name", "the pipeline needs a name".into(), None);
    }
    if let Some(release) = &spec.release {
        if !valid_name(&release.namespace) {
            report("release.namespace", format!("`{}` is not a valid namespace name", release.namespace), None);
        }
        if !valid_name(&release.name) {
            report("release.name", format!("`{}` is not a valid release name (lowercase letters, digits, `-`)", release.name), None);
        }
    }
    for (name, target) in &spec.targets {
        let field = format!("targets.{name}");
        if !valid_name(name) {
            report(&field, format!("`{name}` is not a valid target name (lowercase letters, digits, `-`)"), None);
        }
        let kinds = [target.eks.is_some(), target.gke.is_some(), target.kubeconfig.is_some(), target.sim.is_some()];
        match kinds.iter().filter(|k| **k).count() {
            1 => {}
            0 => report(&field, "a target needs one of `eks`, `gke`, `kubeconfig` or `sim`".into(), Some("for a try-out without a cloud account, write `sim: {}`".into())),
            _ => report(&field, "a target has exactly one of `eks`, `gke`, `kubeconfig` or `sim`".into(), Some("split it into two targets".into())),
        }
        if let Some(m) = &target.metrics {
            check_metrics(&format!("{field}.metrics"), m, report);
        }
        if let Some(gke) = &target.gke {
            if gke.region.is_some() == gke.zone.is_some() {
                report(&format!("{field}.gke"), "a GKE target has either `region` (regional cluster) or `zone` (zonal cluster)".into(), None);
            }
        }
    }
    if let Some(m) = &spec.metrics {
        check_metrics("metrics", m, report);
    }
    if spec.stages.is_empty() {
        report("stages", "the pipeline has no stages".into(), Some("add at least one stage, e.g. `- { name: hello, uses: builtin:echo, with: { message: hi } }`".into()));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, stage) in spec.stages.iter().enumerate() {
        let field = format!("stages[{i}]");
        if !valid_name(&stage.name) {
            report(&format!("{field}.name"), format!("`{}` is not a valid stage name (lowercase letters, digits, `-`)", stage.name), None);
        }
        if let Some(first) = seen.insert(&stage.name, i) {
            report(&format!("{field}.name"), format!("stage name `{}` is already used by stages[{first}]", stage.name), Some("stage names must be unique".into()));
        }
        check_body(&field, &stage.uses, &stage.grants, stage.timeout.as_deref(), stage.memory.as_deref(), dir, report);
        check_driven(&field, stage, report);
        if !stage.runs_once() && spec.targets.is_empty() {
            report(&field, format!("stage `{}` runs per target, but the pipeline has no targets", stage.name), Some("add `targets:`, or `once: true` to run it once".into()));
        }
    }
    match &spec.on_failure {
        Some(OnFailure::Uses(uses)) => check_body("on-failure", uses, &[], None, None, dir, report),
        Some(OnFailure::Stage(s)) => check_body("on-failure", &s.uses, &s.grants, s.timeout.as_deref(), s.memory.as_deref(), dir, report),
        None => {}
    }
}

/// Built-ins the host drives (health checks, waits): their reserved `with:`
/// keys are checked here already, so that a bad one is reported with every
/// other problem of the file; `plan` checks those of any plugin by its world.
const DRIVEN_BUILTINS: [(&str, gantry_runtime::World); 2] = [("health-http", gantry_runtime::World::HealthCheck), ("canary-analysis", gantry_runtime::World::CanaryAnalysis)];

fn check_driven(field: &str, stage: &crate::pipeline::model::StageSpec, report: &mut Report<'_>) {
    let Ok(PluginRef::Builtin { name, .. }) = PluginRef::parse(&stage.uses) else { return };
    let Some((_, world)) = DRIVEN_BUILTINS.iter().find(|(n, _)| *n == name) else { return };
    let with = stage.with.clone().unwrap_or_else(|| serde_json::json!({}));
    if let Err(errors) = crate::plan::driver_of(*world, &with) {
        for e in errors {
            report(&format!("{field}.with.{}", e.key), e.message, e.hint);
        }
    }
}

fn check_body(field: &str, uses: &str, grants: &[String], timeout: Option<&str>, memory: Option<&str>, dir: &Path, report: &mut Report<'_>) {
    match PluginRef::parse(uses) {
        Err(message) => report(&format!("{field}.uses"), message, Some("write `builtin:NAME`, a path to a `.wasm` file, optionally with `@sha256:<digest>`".into())),
        Ok(PluginRef::Builtin { name, .. }) => {
            if gantry_plugins::builtin(&name).is_none() {
                let names: Vec<&str> = gantry_plugins::builtins().iter().map(|b| b.name).collect();
                let hint = match suggest(&name, names.iter().copied()) {
                    Some(s) => format!("did you mean `builtin:{s}`?"),
                    None => format!("built-ins: {}", names.iter().map(|n| format!("builtin:{n}")).collect::<Vec<_>>().join(", ")),
                };
                report(&format!("{field}.uses"), format!("there is no built-in plugin `{name}`"), Some(hint));
            }
        }
        Ok(PluginRef::File { path, .. }) => {
            let full = dir.join(&path);
            if !full.is_file() {
                report(&format!("{field}.uses"), format!("plugin file `{}` does not exist", full.display()), Some("paths are relative to the pipeline file's directory".into()));
            }
        }
        Ok(PluginRef::Oci { .. }) => report(
            &format!("{field}.uses"),
            "`oci://` plugin references are not supported by this build of gantry yet".into(),
            Some("pull the component (e.g. with `wkg oci pull`) and reference the `.wasm` file, pinned with `@sha256:`".into()),
        ),
    }
    for (j, grant) in grants.iter().enumerate() {
        if !GRANTABLE.contains(&grant.as_str()) {
            let hint = if ["log", "clock", "run"].contains(&grant.as_str()) {
                Some(format!("`{grant}` is always granted; remove it"))
            } else {
                suggest(grant, GRANTABLE).map(|s| format!("did you mean `{s}`?")).or_else(|| Some(format!("grantable: {}", GRANTABLE.join(", "))))
            };
            report(&format!("{field}.grants[{j}]"), format!("`{grant}` is not a capability"), hint);
        }
    }
    if let Some(t) = timeout {
        if let Err(e) = parse_duration(t) {
            report(&format!("{field}.timeout"), e, None);
        }
    }
    if let Some(m) = memory {
        match parse_memory(m) {
            Err(e) => report(&format!("{field}.memory"), e, None),
            Ok(bytes) if bytes < (1 << 20) => report(&format!("{field}.memory"), format!("`{m}` is too small for any plugin"), Some("give at least `16Mi`".into())),
            Ok(bytes) if bytes > (4 << 30) => report(&format!("{field}.memory"), format!("`{m}` is over the 4Gi a 32-bit plugin can address"), None),
            Ok(_) => {}
        }
    }
}

/// Whether `url` is an absolute `http(s)://host[:port][/path]` URL without
/// credentials, query or fragment; the reason when it is not.
pub fn check_provider_url(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")).ok_or_else(|| format!("`{url}` is not an http:// or https:// URL"))?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err(format!("`{url}` carries credentials; name them with `token-env` or `username-env`/`password-env` instead"));
    }
    if rest.contains('?') || rest.contains('#') {
        return Err(format!("`{url}` has a query or fragment; give the base URL of the Prometheus HTTP API"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, p)) => (h, Some(p.strip_prefix(':').unwrap_or(p))),
            None => return Err(format!("`{url}` has an unclosed `[`")),
        },
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace()) {
        return Err(format!("`{url}` has no host"));
    }
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |n| n == 0) {
            return Err(format!("`{url}` has a bad port `{p}`"));
        }
    }
    Ok(())
}

fn check_metrics(field: &str, m: &MetricsSpec, report: &mut Report<'_>) {
    if let Err(e) = check_provider_url(m.prometheus.trim()) {
        report(&format!("{field}.prometheus"), e, Some("write the Prometheus base URL, e.g. `http://prometheus.monitoring:9090`".into()));
    }
    for (key, var) in [("token-env", &m.token_env), ("username-env", &m.username_env), ("password-env", &m.password_env)] {
        if let Some(v) = var {
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || v.starts_with(|c: char| c.is_ascii_digit()) {
                report(&format!("{field}.{key}"), format!("`{v}` is not an environment variable name"), Some("name the variable (e.g. `PROMETHEUS_TOKEN`), not its value".into()));
            }
        }
    }
    if m.username_env.is_some() != m.password_env.is_some() {
        report(field, "basic auth needs both `username-env` and `password-env`".into(), None);
    }
    if m.token_env.is_some() && m.username_env.is_some() {
        report(field, "give either `token-env` (bearer) or `username-env`/`password-env` (basic), not both".into(), None);
    }
    if let Some(t) = &m.timeout {
        if let Err(e) = parse_duration(t) {
            report(&format!("{field}.timeout"), e, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Pipeline, Diagnostics> {
        let mut vars = Vars::empty();
        vars.set("IMAGE_NAME", "fastapi-app");
        parse(Path::new("gantry.yaml"), Path::new("."), text, &vars)
    }

    fn first_error(text: &str) -> Diagnostic {
        parse_text(text).unwrap_err().0.remove(0)
    }

    const OK: &str = "name: app\ntargets:\n  aws: { sim: {} }\nstages:\n  - name: hello\n    uses: builtin:echo\n    with: { message: \"${IMAGE_NAME}\" }\n";

    #[test]
    fn a_valid_file_loads_with_variables_expanded() {
        let p = parse_text(OK).unwrap();
        assert_eq!(p.spec.stages[0].with.as_ref().unwrap()["message"], "fastapi-app");
        assert!(p.used_vars.contains("IMAGE_NAME"));
    }

    #[test]
    fn unknown_field_names_file_line_column_and_suggests() {
        let d = first_error("name: app\ntargets:\n  aws: { sim: {} }\nstages:\n  - name: hello\n    usse: builtin:echo\n");
        assert_eq!((d.line, d.column), (6, 5), "{d}");
        assert_eq!(d.field, "stages[0].usse");
        assert!(d.message.contains("unknown field `usse`"), "{d}");
        assert_eq!(d.hint.as_deref(), Some("did you mean `uses`?"));
        assert!(d.to_string().starts_with("gantry.yaml:6:5: stages[0].usse:"), "{d}");
    }

    #[test]
    fn unset_variable_is_located_at_its_value() {
        let d = first_error("name: app\ntargets:\n  aws:\n    eks: { cluster: \"${CLUSTER_AWS}\", region: eu-west-1 }\nstages:\n  - { name: a, uses: builtin:echo }\n");
        assert_eq!(d.line, 4, "{d}");
        assert_eq!(d.field, "targets.aws.eks.cluster");
        assert!(d.message.contains("CLUSTER_AWS"));
        assert!(d.hint.unwrap().contains("--var CLUSTER_AWS="));
    }

    #[test]
    fn builtin_build_runs_once_unless_the_stage_says_otherwise() {
        let once = "name: app\nimage: { name: app, build: { context: . } }\nstages:\n  - { name: build, uses: builtin:build }\n";
        let parsed = parse_text(once).unwrap_or_else(|d| panic!("{:?}", d.0));
        assert!(parsed.spec.stages[0].runs_once(), "builtin:build makes one image for every target");
        let per_target = "name: app\nstages:\n  - { name: build, uses: builtin:build, once: false }\n";
        assert!(first_error(per_target).message.contains("runs per target, but the pipeline has no targets"));
        let echo = "name: app\ntargets: { aws: { sim: {} } }\nstages:\n  - { name: e, uses: builtin:echo }\n";
        assert!(!parse_text(echo).unwrap_or_else(|d| panic!("{:?}", d.0)).spec.stages[0].runs_once());
    }

    #[test]
    fn wrong_types_and_bad_durations_are_located() {
        let d = first_error("name: app\ntargets: { aws: { sim: {} } }\nstages:\n  - { name: a, uses: builtin:echo, once: maybe }\n");
        assert_eq!(d.field, "stages[0].once");
        assert_eq!(d.line, 4);
        let d = first_error("name: app\ntargets: { aws: { sim: {} } }\nstages:\n  - name: a\n    uses: builtin:echo\n    timeout: soon\n");
        assert_eq!((d.field.as_str(), d.line), ("stages[0].timeout", 6));
    }

    #[test]
    fn unknown_builtin_and_grant_get_suggestions() {
        let d = first_error("name: app\ntargets: { aws: { sim: {} } }\nstages:\n  - { name: a, uses: builtin:ecko }\n");
        assert_eq!(d.hint.as_deref(), Some("did you mean `builtin:echo`?"));
        let d = first_error("name: app\ntargets: { aws: { sim: {} } }\nstages:\n  - { name: a, uses: builtin:echo, grants: [hlem] }\n");
        assert_eq!(d.field, "stages[0].grants[0]");
        assert_eq!(d.hint.as_deref(), Some("did you mean `helm`?"));
    }

    #[test]
    fn every_semantic_problem_is_reported_at_once() {
        let e = parse_text("name: app\ntargets: { aws: {} }\nstages:\n  - { name: a, uses: builtin:echo }\n  - { name: a, uses: builtin:echo, memory: \"10\" }\n").unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["targets.aws", "stages[1].name", "stages[1].memory"]);
    }

    #[test]
    fn metrics_providers_are_checked_at_the_top_and_per_target() {
        let ok = "name: app\nmetrics: { prometheus: \"http://127.0.0.1:9090\" }\ntargets:\n  aws: { sim: {}, metrics: { prometheus: \"https://prom.example:443/prom\", token-env: PROM_TOKEN, timeout: 5s } }\nstages:\n  - { name: a, uses: builtin:echo }\n";
        let p = parse_text(ok).unwrap_or_else(|d| panic!("{:?}", d.0));
        assert_eq!(p.spec.metrics.as_ref().unwrap().prometheus, "http://127.0.0.1:9090");
        assert_eq!(p.spec.targets["aws"].metrics.as_ref().unwrap().token_env.as_deref(), Some("PROM_TOKEN"));
        let d = first_error("name: app\nmetrics: { prometheus: \"127.0.0.1:9090\" }\ntargets: { aws: { sim: {} } }\nstages:\n  - { name: a, uses: builtin:echo }\n");
        assert_eq!((d.field.as_str(), d.line), ("metrics.prometheus", 2), "{d}");
        assert!(d.message.contains("not an http:// or https:// URL"), "{d}");
        let d = first_error("name: app\ntargets:\n  aws: { sim: {}, metrics: { prometheus: \"http://u:secret@prom:9090\" } }\nstages:\n  - { name: a, uses: builtin:echo }\n");
        assert_eq!(d.field, "targets.aws.metrics.prometheus", "{d}");
        assert!(d.message.contains("carries credentials"), "{d}");
        let d = first_error("name: app\nmetrics: { prometheus: \"http://prom:9090\", username-env: U }\ntargets: { aws: { sim: {} } }\nstages:\n  - { name: a, uses: builtin:echo }\n");
        assert!(d.message.contains("needs both"), "{d}");
        for bad in ["http://:9090", "http://prom:0", "http://prom:http", "ftp://prom", "http://[::1"] {
            assert!(check_provider_url(bad).is_err(), "{bad}");
        }
        for good in ["http://prom", "http://[::1]:9090/", "https://prom.monitoring.svc:9090/prometheus"] {
            assert!(check_provider_url(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn yaml_syntax_errors_carry_a_position() {
        let d = first_error("name: app\nstages:\n  - { name: a, uses: builtin:echo\n");
        assert!(d.line >= 3, "{d}");
        assert!(d.message.starts_with("not valid YAML"));
    }

    #[test]
    fn an_unquoted_variable_in_a_flow_mapping_gets_the_quoting_fix() {
        let text = "name: x\ntargets:\n  aws:\n    eks: { cluster: ${CLUSTER_AWS}, region: eu-west-1 }\nstages: []\n";
        let d = parse(Path::new("gantry.yaml"), Path::new("."), text, &Vars::empty()).unwrap_err().0.remove(0);
        assert_eq!(d.line, 4, "{d}");
        assert!(d.message.starts_with("not valid YAML"), "{d}");
        assert_eq!(d.hint.as_deref(), Some("inside `{ … }` quote a value that uses a variable: write \"${CLUSTER_AWS}\" (or use block style, one key per line)"));
    }

    #[test]
    fn gke_credentials_are_treated_as_secret() {
        let p = parse_text("name: app\ntargets:\n  gcp:\n    gke: { cluster: c, region: r, project: p, credentials: '{\"private_key\": \"xyz\"}' }\nstages:\n  - { name: a, uses: builtin:echo, with: { message: hi } }\n").unwrap();
        assert_eq!(p.secrets, vec!["{\"private_key\": \"xyz\"}".to_string()]);
    }

    #[test]
    fn memory_quantities_parse_like_kubernetes() {
        assert_eq!(parse_memory("256Mi"), Ok(256 << 20));
        assert_eq!(parse_memory("1Gi"), Ok(1 << 30));
        assert_eq!(parse_memory("500M"), Ok(500_000_000));
        assert!(parse_memory("lots").is_err());
    }
}
