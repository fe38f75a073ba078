//! `gantry helm template [NAME] CHART`: Helm 4's `helm template`, for a local
//! chart directory or `.tgz`, printing what `helm template` prints on stdout,
//! byte for byte. It owns the command's flags, the steps `helm template` takes
//! around the render (name, chart path, values, checks) and the assembly of
//! the output; it must not render templates, load charts or merge values
//! itself (`gantry-helm` does) and it never contacts a chart repository; a
//! cluster only with `--dry-run=server`, for `lookup`.
//!
//! How `helm template` assembles its stdout (Helm 4: `pkg/cmd/template.go`,
//! `action.Install.RunWithContext` with the client dry run,
//! `Configuration.renderResources`, `releaseutil.SortManifests`), which
//! [`assemble`] follows step by step:
//! 1. Every rendered template whose name ends in `NOTES.txt` is dropped
//!    (NOTES are never printed).
//! 2. The rest, in sorted name order: partials (`_*`) and whitespace-only
//!    files are skipped; each file is cut into documents as Helm 4.2.3's
//!    `SplitManifests` cuts ([`split_manifests`]: at `---` after a newline,
//!    taking the whitespace on both sides with it, so only a file's last
//!    document keeps its trailing newlines); blank documents are dropped
//!    and each left-trimmed. Each document's head is read as Helm reads it
//!    (`yaml.Unmarshal` into `SimpleHead`: `apiVersion`, `kind`,
//!    `metadata.name`, `metadata.annotations`; keys match ignoring case,
//!    scalars become strings; a YAML or type error stops everything with
//!    `YAML parse error on FILE: …`); a document with a `helm.sh/hook`
//!    annotation is a hook (dropped when one of its comma-separated,
//!    trimmed, lowercased events is unknown), any other is a manifest.
//! 3. Manifests and hooks are each sorted, stably, by kind in Helm's
//!    `InstallOrder` (unknown kinds last, alphabetically among themselves).
//! 4. The release manifest is, with `--include-crds`, every `crds/*.yaml|yml|json`
//!    file of the chart and its enabled subcharts as `---\n# Source: PATH\nDATA\n`,
//!    then each manifest as `---\n# Source: FILE\nDOC\n`.
//! 5. stdout gets that manifest with surrounding whitespace trimmed plus `\n`,
//!    then (without `--no-hooks`) each hook as `---\n# Source: FILE\nDOC\n`
//!    (test hooks skipped with `--skip-tests`).
//! 6. With `--show-only`, that text is cut again into documents as in step 2;
//!    for each pattern in order, every document whose first
//!    `# Source: CHART/PATH` line's PATH matches the pattern (Go's
//!    `filepath.Match`) is printed as `---\nDOC\n`; a pattern matching none
//!    fails with `could not find template PATTERN in chart`.
//!
//! With `--output-dir`, manifests and CRDs are written to files under it
//! (hooks appended to the file of their template) with a `wrote PATH` line
//! each, as Helm does.
//!
//! Known differences from Helm: charts come from local paths only (no
//! repositories, no OCI); the namespace is `-n`, else `HELM_NAMESPACE`, else
//! `default` (no kubeconfig context is read); `--debug` after a YAML error
//! prints the rendered files in name order (Helm: Go map order, random, and
//! then the hooks it had sorted before the error); `--name-template` sees
//! Sprig without `env`/`expandenv`; a render error's `--debug` output is
//! the empty manifest even with `--show-only`; `--post-renderer`,
//! `--validate`, `--dependency-update` and repository flags are not
//! offered; `--dry-run=server` reads the cluster for `lookup`
//! (`gantry_cluster::lookup`) and `.Capabilities` (the server's version, and
//! its group versions and kinds — added to Helm's default API versions,
//! which Helm's server dry run does not include; the version as
//! `--kube-version` parses it, so `v1.31.4-eks-1` shows as `v1.31.4`, where
//! Helm keeps the server's gitVersion whole), the namespace defaults to the
//! kubeconfig context's (there only), and the manifests are not checked against
//! the cluster (Helm's OpenAPI validation and its "resource that already
//! exists" check); a list or map as an annotation's value is
//! reported at `.metadata.annotations.KEY` (Helm: `.metadata.annotations`).
//!
//! The release commands (`install`, `upgrade`, …) live in `release.rs`; this
//! file holds their subcommand names and the flags they share with
//! `template` ([`ValueFlags`], [`kube_context`]).
//!
//! Every error is bad input (exit 2), printed as `error: ` and Helm's
//! words on stderr; only failing to write stdout is internal (exit 4).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_engine::exit;
use gantry_helm::chart::Chart;
use gantry_helm::engine::{self, RenderOptions};
use gantry_helm::value::Value;
use gantry_helm::yaml::target::{GoType, StructType};
use gantry_release::manifest::{self, split_manifests};

/// Helm commands, run locally.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Render a chart's templates locally and print them, as `helm template`.
    Template(TemplateArgs),
    /// Install a chart as a release, as `helm install NAME CHART`.
    Install(super::release::InstallArgs),
    /// Upgrade a release (`--install` to install it when missing), as `helm upgrade`.
    Upgrade(super::release::UpgradeArgs),
    /// Roll a release back to a revision, as `helm rollback RELEASE [REVISION]`.
    Rollback(super::release::RollbackArgs),
    /// Uninstall releases, as `helm uninstall` (`--keep-history` keeps their records).
    #[command(alias = "delete")]
    Uninstall(super::release::UninstallArgs),
    /// A release's status, as `helm status`.
    Status(super::release::StatusArgs),
    /// A release's revisions, as `helm history`.
    History(super::release::HistoryArgs),
    /// A release's values or manifest, as `helm get values|manifest`.
    #[command(subcommand)]
    Get(super::release::GetCommand),
}

/// Helm's values flags (`-f`, `--set`, `--set-string`, `--set-file`,
/// `--set-json`, `--set-literal`), shared by `template`, `install` and `upgrade`.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ValueFlags {
    /// Values files, merged in order (repeatable, or comma-separated); `-` reads stdin.
    #[arg(short = 'f', long = "values", value_name = "FILE", value_delimiter = ',')]
    pub values: Vec<String>,
    /// Set values: `a.b=1,c=x` (repeatable).
    #[arg(long = "set", value_name = "K=V")]
    pub set: Vec<String>,
    /// Set values as strings (repeatable).
    #[arg(long = "set-string", value_name = "K=V")]
    pub set_string: Vec<String>,
    /// Set values from files: `key=path` (repeatable).
    #[arg(long = "set-file", value_name = "K=PATH")]
    pub set_file: Vec<String>,
    /// Set JSON values: `key=JSON` or a JSON object (repeatable).
    #[arg(long = "set-json", value_name = "K=JSON")]
    pub set_json: Vec<String>,
    /// Set a literal string value (repeatable).
    #[arg(long = "set-literal", value_name = "K=V")]
    pub set_literal: Vec<String>,
}

impl ValueFlags {
    /// The flags merged as Helm merges them (files first, then each `--set*` kind).
    pub fn merge(&self) -> Result<Value, String> {
        let options = gantry_helm::values::Options {
            value_files: self.values.clone(),
            json_values: self.set_json.clone(),
            values: self.set.clone(),
            string_values: self.set_string.clone(),
            file_values: self.set_file.clone(),
            literal_values: self.set_literal.clone(),
        };
        options.merge(&read_values_file).map_err(|e| e.message)
    }
}

/// `helm template`'s flags for local rendering.
#[derive(clap::Args, Debug, Default)]
pub struct TemplateArgs {
    /// `[NAME] CHART`: the release name (default `release-name`) and the chart directory or `.tgz`.
    #[arg(value_name = "[NAME] CHART", required = true, num_args = 1..)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub value_flags: ValueFlags,
    /// The release namespace (`.Release.Namespace`); default `HELM_NAMESPACE` or `default`.
    #[arg(short = 'n', long = "namespace")]
    pub namespace: Option<String>,
    /// A template (Sprig functions) that names the release.
    #[arg(long = "name-template")]
    pub name_template: Option<String>,
    /// Generate the name (as `helm template`, the name stays `release-name`).
    #[arg(short = 'g', long = "generate-name")]
    pub generate_name: bool,
    /// Only print manifests from these templates: `templates/x.yaml`, globs allowed (repeatable).
    #[arg(short = 's', long = "show-only", value_name = "PATH")]
    pub show_only: Vec<String>,
    /// `.Capabilities.KubeVersion` (default v1.36.0).
    #[arg(long = "kube-version")]
    pub kube_version: Option<String>,
    /// Extra `.Capabilities.APIVersions` (repeatable, or comma-separated).
    #[arg(short = 'a', long = "api-versions", value_delimiter = ',')]
    pub api_versions: Vec<String>,
    /// Print the chart's CRDs (`crds/`) first.
    #[arg(long = "include-crds")]
    pub include_crds: bool,
    /// Leave out test hooks.
    #[arg(long = "skip-tests")]
    pub skip_tests: bool,
    /// Set `.Release.IsUpgrade` instead of `.Release.IsInstall`.
    #[arg(long = "is-upgrade")]
    pub is_upgrade: bool,
    /// Leave out hooks.
    #[arg(long = "no-hooks")]
    pub no_hooks: bool,
    /// Do not check values against `values.schema.json`.
    #[arg(long = "skip-schema-validation")]
    pub skip_schema_validation: bool,
    /// Write the manifests to files under this directory instead of stdout.
    #[arg(long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// With `--output-dir`: put the files under `DIR/NAME`.
    #[arg(long = "release-name")]
    pub use_release_name: bool,
    /// On a YAML error in the output, print the rendered files too.
    #[arg(long = "debug")]
    pub debug: bool,
    /// `client` (the default: `lookup` answers empty maps) or `server`
    /// (`lookup` reads the cluster of `--kube-context`/`--kubeconfig`).
    #[arg(long = "dry-run", value_name = "client|server", num_args = 0..=1, require_equals = true, default_missing_value = "unset")]
    pub dry_run: Option<String>,
    /// With `--dry-run=server`: the kubeconfig context (default `HELM_KUBECONTEXT`, else the file's current context).
    #[arg(long = "kube-context", value_name = "NAME")]
    pub kube_context: Option<String>,
    /// With `--dry-run=server`: the kubeconfig file (default `KUBECONFIG`, else `~/.kube/config`).
    #[arg(long = "kubeconfig", value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
}

/// Runs a helm command; `global_json`: gantry's `--output json` was given
/// (the release commands' `-o json` then).
pub async fn run(cmd: Command, global_json: bool) -> i32 {
    use super::release::{self, ReleaseCommand};
    let release_cmd = match cmd {
        Command::Install(a) => ReleaseCommand::Install(a),
        Command::Upgrade(a) => ReleaseCommand::Upgrade(a),
        Command::Rollback(a) => ReleaseCommand::Rollback(a),
        Command::Uninstall(a) => ReleaseCommand::Uninstall(a),
        Command::Status(a) => ReleaseCommand::Status(a),
        Command::History(a) => ReleaseCommand::History(a),
        Command::Get(a) => ReleaseCommand::Get(a),
        Command::Template(args) => return template_command(args),
    };
    release::run(release_cmd, global_json).await
}

fn template_command(args: TemplateArgs) -> i32 {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = template(&args, &mut out);
    let _ = out.flush();
    match result {
        Ok(()) => exit::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            e.code
        }
    }
}

/// A failure, with Helm's words and our exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

pub fn bad(message: impl Into<String>) -> Failure {
    Failure { message: message.into(), code: exit::BAD_INPUT }
}

/// Helm's `Install.NameAndChart` as `helm template` calls it (its release
/// name is preset to `release-name`, so `--generate-name` alone keeps it).
pub fn name_and_chart(args: &[String], name_template: Option<&str>, generate_name: bool) -> Result<(String, String), String> {
    let name_flags = || {
        if generate_name {
            return Err("cannot set --generate-name and also specify a name".to_string());
        }
        if name_template.is_some_and(|t| !t.is_empty()) {
            return Err("cannot set --name-template and also specify a name".to_string());
        }
        Ok(())
    };
    match args {
        [] => Err("\"gantry helm template\" requires at least 1 argument".into()),
        [chart] => match name_template.filter(|t| !t.is_empty()) {
            Some(t) => Ok((template_name(t)?, chart.clone())),
            None => Ok(("release-name".into(), chart.clone())),
        },
        [name, chart] => name_flags().map(|()| (name.clone(), chart.clone())),
        [_, _, rest @ ..] => Err(format!("expected at most two arguments, unexpected arguments: {}", rest.join(", "))),
    }
}

/// `--name-template`: a Go template with Sprig, executed with nil data.
fn template_name(text: &str) -> Result<String, String> {
    let mut t = gantry_helm::template::Templates::new(gantry_helm::sprig::funcs());
    t.parse("name-template", text).map_err(|e| e.to_string())?;
    t.execute("name-template", &Value::Nil).map_err(|e| e.to_string())
}

/// Helm's `ValidateReleaseName`.
pub fn validate_release_name(name: &str) -> Result<(), String> {
    const REGEX: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
    if name.is_empty() {
        return Err(format!("release name {}: no name provided", go_quote(name)));
    }
    // Dot-separated labels of [a-z0-9-], each starting and ending alphanumeric.
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    if name.len() > 53 || !name.split('.').all(label_ok) {
        return Err(format!("release name {}: invalid release name, must match regex {REGEX} and the length must not be longer than 53", go_quote(name)));
    }
    Ok(())
}

/// Go's `%q` for the strings Helm quotes here (printable ASCII as is).
pub fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn io_error_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

/// Reads a `-f`/`--set-file` path as Helm's `readFile` does (`-` is stdin).
pub fn read_values_file(path: &str) -> Result<Vec<u8>, String> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map_err(|e| format!("read -: {}", io_error_text(&e)))?;
        return Ok(buf);
    }
    if path.contains("://") {
        return Err(format!("{path}: only local files are read (no URLs)"));
    }
    std::fs::read(path).map_err(|e| {
        let op = if e.kind() == std::io::ErrorKind::IsADirectory { "read" } else { "open" };
        format!("{op} {path}: {}", io_error_text(&e))
    })
}

/// The whole command, writing to `out`.
pub fn template(args: &TemplateArgs, out: &mut dyn Write) -> Result<(), Failure> {
    if let Some(v) = &args.kube_version {
        if !v.is_empty() {
            gantry_helm::helmfuncs::KubeVersion::parse(v).map_err(|e| bad(format!("invalid kube version '{v}': {e}")))?;
        }
    }
    let server = dry_run_server(args.dry_run.as_deref()).map_err(bad)?;
    let (name, chart_ref) = name_and_chart(&args.args, args.name_template.as_deref(), args.generate_name).map_err(bad)?;
    let chart_ref = chart_ref.trim().to_string();
    let chart_path = Path::new(&chart_ref);
    if std::fs::metadata(chart_path).is_err() {
        return Err(bad(format!("path {} not found", go_quote(&chart_ref))));
    }
    let user_values = args.value_flags.merge().map_err(bad)?;
    let mut chart = gantry_helm::chart::load(chart_path).map_err(|e| bad(e.message))?;
    engine::check_installable(&chart).map_err(|e| bad(e.message))?;
    validate_release_name(&name).map_err(|e| bad(format!("release name check failed: {e}")))?;
    gantry_helm::chart::process_dependencies(&mut chart, &user_values).map_err(|e| bad(format!("chart dependencies processing failed: {}", e.message)))?;

    let namespace = match &args.namespace {
        Some(n) => n.clone(),
        None => std::env::var("HELM_NAMESPACE").ok().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".into()),
    };
    let mut render_options = RenderOptions {
        release_name: name.clone(),
        namespace,
        revision: 1,
        is_install: !args.is_upgrade,
        is_upgrade: args.is_upgrade,
        kube_version: args.kube_version.clone().filter(|v| !v.is_empty()),
        api_versions: args.api_versions.clone(),
        ..RenderOptions::default()
    };
    // Kept alive for the render: the runtime a lookup's calls run on, when this thread has none.
    let _runtime = match server {
        true => {
            let (runtime, lookup, context_namespace) = cluster_lookup(args).map_err(bad)?;
            if let (None, true, Some(ns)) = (&args.namespace, std::env::var("HELM_NAMESPACE").map_or(true, |n| n.is_empty()), context_namespace) {
                render_options.namespace = ns;
            }
            // Helm's server dry run takes `.Capabilities` from the cluster (the flags are ignored).
            let handle = lookup_handle(&runtime);
            let ask = lookup.clone();
            let caps = gantry_cluster::lookup::run_blocking(&handle, async move { ask.capabilities().await }, CONNECT_WAIT).and_then(|r| r).map_err(bad)?;
            render_options.capabilities = Some(caps);
            render_options.lookup = Some(Arc::new(lookup));
            runtime
        }
        false => None,
    };
    let values = gantry_helm::values::coalesce(&chart, &user_values).map_err(|e| bad(e.message))?;
    if !args.skip_schema_validation {
        if let Err(e) = gantry_helm::values::schema::validate(&chart, &values) {
            const PREFIX: &str = "values don't meet the specifications of the schema(s) in the following chart(s):";
            let message = if e.message.starts_with(PREFIX) { e.message } else { format!("{PREFIX}\n{}", e.message) };
            return Err(bad(message));
        }
    }
    // From here on Helm has a (failed) release: its errors get the `--debug`
    // hint, and with `--debug` what it has of the manifest is printed first.
    let after_render = |out: &mut dyn Write, message: String, blob: &str| -> Failure {
        if args.debug {
            if let Err(f) = write_out(out, format!("{}\n", blob.trim()).as_bytes()) {
                return f;
            }
            return bad(message);
        }
        bad(format!("{message}\n\nUse --debug flag to render out invalid YAML"))
    };
    if let Err(e) = engine::check_kube_version(&chart, &render_options) {
        return Err(after_render(out, e.message, ""));
    }
    let rendered = match engine::render(&chart, &values, &render_options) {
        Ok(r) => r,
        Err(e) => return Err(after_render(out, e.message, "")),
    };

    let output_dir = args.output_dir.as_ref().map(|d| OutputDir { root: d.clone(), release: args.use_release_name.then(|| name.clone()) });
    let settings = Assembly { include_crds: args.include_crds, no_hooks: args.no_hooks, skip_tests: args.skip_tests, show_only: args.show_only.clone(), output_dir };
    let text = match assemble(&chart, rendered, &settings, out) {
        Ok(text) => text,
        Err(AssembleError::Yaml { message, files }) => return Err(after_render(out, message, &files)),
        Err(AssembleError::Other(f)) => return Err(f),
    };
    write_out(out, text.as_bytes())
}

/// Helm 4's `--dry-run` for `helm template` (`cmdGetDryRunFlagStrategy`):
/// whether the render reads the cluster. A bare `--dry-run` (and `true`) is
/// `client`, as Helm takes it (it also warns that the form is deprecated).
pub fn dry_run_server(value: Option<&str>) -> Result<bool, String> {
    let Some(v) = value else { return Ok(false) };
    match v {
        "unset" | "client" => return Ok(false),
        "server" => return Ok(true),
        "none" => return Err(format!("invalid dry-run value ({}). Must be \"server\" or \"client\"", go_quote(v))),
        _ => {}
    }
    // Go's strconv.ParseBool.
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(false),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Err(format!("invalid dry-run value ({}). Must be \"server\" or \"client\"", go_quote(v))),
        _ => Err(format!("invalid dry-run value ({}). Must be \"none\", \"server\", or \"client\"", go_quote(v))),
    }
}

/// The runtime cluster calls run on: the one made for them, else this thread's.
fn lookup_handle(made: &Option<tokio::runtime::Runtime>) -> tokio::runtime::Handle {
    match made {
        Some(rt) => rt.handle().clone(),
        // cluster_lookup made none because this thread has a runtime.
        None => tokio::runtime::Handle::current(),
    }
}

/// The longest `--dry-run=server` waits to connect (credential plugins included).
const CONNECT_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The kubeconfig context Helm uses (`--kube-context`, else `HELM_KUBECONTEXT`,
/// else the file's current context) and that context's namespace, if it names one.
pub fn kube_context(kubeconfig: Option<&Path>, kube_context: Option<&str>) -> Result<(String, Option<String>), String> {
    let file = gantry_cluster::kubeconfig::read("kubeconfig", kubeconfig).map_err(|e| format!("Kubernetes cluster unreachable: {e}"))?;
    let context = match kube_context.map(str::to_string).filter(|c| !c.is_empty()).or_else(|| std::env::var("HELM_KUBECONTEXT").ok().filter(|c| !c.is_empty())) {
        Some(c) => c,
        None => file.current_context.clone().filter(|c| !c.is_empty()).ok_or("Kubernetes cluster unreachable: the kubeconfig has no current context; name one with --kube-context")?,
    };
    let namespace = file.contexts.iter().find(|c| c.name == context).and_then(|c| c.context.as_ref()).and_then(|c| c.namespace.clone()).filter(|n| !n.is_empty());
    Ok((context, namespace))
}

/// `--dry-run=server`'s lookup: the cluster of the kubeconfig context,
/// connected (an unreachable one fails here, as Helm's reachability check
/// does), on this thread's tokio runtime or, when it has none, on a small
/// one returned to be kept alive for the render.
/// The context's own namespace is returned too (Helm's release namespace when
/// neither `-n` nor `HELM_NAMESPACE` names one).
fn cluster_lookup(args: &TemplateArgs) -> Result<(Option<tokio::runtime::Runtime>, gantry_cluster::ClusterLookup, Option<String>), String> {
    let (context, namespace) = kube_context(args.kubeconfig.as_deref(), args.kube_context.as_deref())?;
    let (runtime, handle) = match tokio::runtime::Handle::try_current() {
        Ok(h) => (None, h),
        Err(_) => {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().map_err(|e| format!("cannot start the async runtime: {e}"))?;
            let h = rt.handle().clone();
            (Some(rt), h)
        }
    };
    let target = gantry_cluster::Target::kubeconfig(&context, args.kubeconfig.clone(), &context);
    let client = gantry_cluster::lookup::run_blocking(&handle, async move { target.connect().await }, CONNECT_WAIT)?.map_err(|e| {
        // The error names the context as a target; say it once.
        let text = e.to_string();
        format!("Kubernetes cluster unreachable: {}", text.strip_prefix(&format!("target `{context}`: ")).unwrap_or(&text))
    })?;
    Ok((runtime, gantry_cluster::ClusterLookup::new(&context, client, handle), namespace))
}

fn write_out(out: &mut dyn Write, bytes: &[u8]) -> Result<(), Failure> {
    out.write_all(bytes).map_err(|e| Failure { message: format!("cannot write to stdout: {e}"), code: exit::INTERNAL })
}

/// Where `--output-dir` writes.
#[derive(Debug, Clone)]
pub struct OutputDir {
    pub root: PathBuf,
    /// `--release-name`: manifests (and hooks) go under `root/NAME`.
    pub release: Option<String>,
}

/// How [`assemble`] assembles.
#[derive(Debug, Clone, Default)]
pub struct Assembly {
    pub include_crds: bool,
    pub no_hooks: bool,
    pub skip_tests: bool,
    pub show_only: Vec<String>,
    pub output_dir: Option<OutputDir>,
}

#[derive(Debug)]
pub enum AssembleError {
    /// A document's head is not YAML: Helm's message, and the rendered
    /// files as Helm shows them with `--debug`.
    Yaml { message: String, files: String },
    Other(Failure),
}

/// One document of a rendered template, and its head.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The template it came from (`chart/templates/x.yaml`).
    pub path: String,
    pub content: String,
    pub kind: String,
    /// The hook's events, for hooks.
    pub events: Option<Vec<String>>,
}


const HOOK_EVENTS: &[&str] = &["pre-install", "post-install", "pre-delete", "post-delete", "pre-upgrade", "post-upgrade", "pre-rollback", "post-rollback", "test", "test-success"];

/// Sorts, stably, by kind in Helm's `InstallOrder`; unknown kinds last, by name.
pub fn sort_by_kind(docs: &mut [Doc]) {
    manifest::sort_by_kind(docs, manifest::INSTALL_ORDER, |d| d.kind.as_str());
}

/// Helm's `SimpleHead` as a Go type for `sigs.k8s.io/yaml`.
fn simple_head() -> GoType {
    let metadata = StructType {
        // An anonymous struct: encoding/json names its fields `.metadata.x`.
        name: String::new(),
        type_name: "struct { Name string \"json:\\\"name\\\"\"; Annotations map[string]string \"json:\\\"annotations\\\"\" }".into(),
        fields: vec![("name".into(), GoType::String), ("annotations".into(), GoType::Map(Box::new(GoType::String)))],
    };
    GoType::Struct(Arc::new(StructType {
        name: "SimpleHead".into(),
        type_name: "util.SimpleHead".into(),
        fields: vec![("apiVersion".into(), GoType::String), ("kind".into(), GoType::String), ("metadata".into(), GoType::Struct(Arc::new(metadata)))],
    }))
}

/// What Helm reads of a document (`yaml.Unmarshal` into `SimpleHead`,
/// through the YAML module's typed reader: scalars bound for a string
/// become strings, keys match case-insensitively, a wrong kind is
/// encoding/json's error): its kind and its `helm.sh/hook` annotation.
fn read_head(doc: &str) -> Result<(String, Option<String>), String> {
    let head = gantry_helm::yaml::target::parse_as(doc, &simple_head()).map_err(|e| e.message)?;
    let kind = head.get("kind").as_ref().and_then(Value::as_str).unwrap_or("").to_string();
    let hook = head.get("metadata").and_then(|m| m.get("annotations")).and_then(|a| a.get("helm.sh/hook")).as_ref().and_then(Value::as_str).map(str::to_string);
    Ok((kind, hook))
}

/// Helm's `SortManifests` over the rendered files (NOTES already removed):
/// (hooks, manifests), each sorted by kind.
pub fn sort_manifests(files: &BTreeMap<String, String>) -> Result<(Vec<Doc>, Vec<Doc>), String> {
    let mut hooks = Vec::new();
    let mut manifests = Vec::new();
    for (path, content) in files {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(content) {
            let (kind, hook) = read_head(&doc).map_err(|e| format!("YAML parse error on {path}: {e}"))?;
            match hook {
                None => manifests.push(Doc { path: path.clone(), content: doc, kind, events: None }),
                Some(h) => {
                    let events: Vec<String> = h.split(',').map(|e| e.trim().to_lowercase()).collect();
                    if events.iter().all(|e| HOOK_EVENTS.contains(&e.as_str())) {
                        hooks.push(Doc { path: path.clone(), content: doc, kind, events: Some(events) });
                    }
                }
            }
        }
    }
    sort_by_kind(&mut hooks);
    sort_by_kind(&mut manifests);
    Ok((hooks, manifests))
}

/// The text `helm template` prints for a render (see the module doc); with
/// `--output-dir`, the files are written and `wrote …` lines go to `out`
/// first, as Helm prints them.
pub fn assemble(chart: &Chart, mut rendered: BTreeMap<String, String>, settings: &Assembly, out: &mut dyn Write) -> Result<String, AssembleError> {
    rendered.retain(|k, _| !k.ends_with("NOTES.txt"));
    let (hooks, manifests) = sort_manifests(&rendered).map_err(|message| {
        let mut files = String::new();
        for (name, content) in &rendered {
            if !content.trim().is_empty() {
                files.push_str(&format!("---\n# Source: {name}\n{content}\n"));
            }
        }
        AssembleError::Yaml { message, files }
    })?;
    let io = |e: String| AssembleError::Other(bad(e));
    let mut release = String::new();
    let mut written: BTreeMap<String, bool> = BTreeMap::new();
    if settings.include_crds {
        for crd in chart.crd_objects() {
            let data = String::from_utf8_lossy(&crd.file.data).into_owned();
            match &settings.output_dir {
                None => release.push_str(&format!("---\n# Source: {}\n{data}\n", crd.filename)),
                Some(dir) => {
                    let append = written.get(&crd.filename).copied().unwrap_or(false);
                    write_to_file(&dir.root, &crd.filename, &data, append, out).map_err(io)?;
                    written.insert(crd.filename.clone(), true);
                }
            }
        }
    }
    for m in &manifests {
        match &settings.output_dir {
            None => release.push_str(&format!("---\n# Source: {}\n{}\n", m.path, m.content)),
            Some(dir) => {
                let root = dir.release.as_ref().map_or(dir.root.clone(), |r| dir.root.join(r));
                let append = written.get(&m.path).copied().unwrap_or(false);
                write_to_file(&root, &m.path, &m.content, append, out).map_err(io)?;
                written.insert(m.path.clone(), true);
            }
        }
    }
    let mut text = format!("{}\n", release.trim());
    if !settings.no_hooks {
        let mut hook_written: BTreeMap<String, bool> = BTreeMap::new();
        for h in &hooks {
            let is_test = h.events.as_ref().is_some_and(|e| e.iter().any(|e| e == "test" || e == "test-success"));
            if settings.skip_tests && is_test {
                continue;
            }
            match &settings.output_dir {
                None => text.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.content)),
                Some(dir) => {
                    let root = dir.release.as_ref().map_or(dir.root.clone(), |r| dir.root.join(r));
                    if root.join(&h.path).exists() {
                        hook_written.insert(h.path.clone(), true);
                    }
                    let append = hook_written.get(&h.path).copied().unwrap_or(false);
                    write_to_file(&root, &h.path, &h.content, append, out).map_err(io)?;
                }
            }
        }
    }
    if settings.show_only.is_empty() {
        return Ok(text);
    }
    let docs = split_manifests(&text);
    let mut shown = String::new();
    for pattern in &settings.show_only {
        let mut missing = true;
        for doc in &docs {
            let Some(path) = source_path(doc) else { continue };
            if !go_match(pattern, path) {
                continue;
            }
            shown.push_str(&format!("---\n{doc}\n"));
            missing = false;
        }
        if missing {
            return Err(AssembleError::Other(bad(format!("could not find template {pattern} in chart"))));
        }
    }
    Ok(shown)
}

/// The PATH of the first `# Source: CHART/PATH` in a document (Helm's
/// regexp `# Source: [^/]+/(.+)`, unanchored, on one line).
fn source_path(doc: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(i) = doc[from..].find("# Source: ") {
        let at = from + i + "# Source: ".len();
        let line = doc[at..].split('\n').next().unwrap_or("");
        if let Some(slash) = line.find('/') {
            if slash > 0 && slash + 1 < line.len() {
                return Some(&line[slash + 1..]);
            }
        }
        from = at;
    }
    None
}

/// Helm's `writeToFile`: `DIR/NAME`, created (or appended to), with a
/// `wrote …` line on stdout.
fn write_to_file(dir: &Path, name: &str, data: &str, append: bool, out: &mut dyn Write) -> Result<(), String> {
    let file = PathBuf::from(format!("{}/{name}", dir.display()));
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("mkdir {}: {}", parent.display(), io_error_text(&e)))?;
    }
    let mut f = if append { std::fs::OpenOptions::new().append(true).open(&file) } else { std::fs::File::create(&file) }
        .map_err(|e| format!("open {}: {}", file.display(), io_error_text(&e)))?;
    f.write_all(format!("---\n# Source: {name}\n{data}\n").as_bytes()).map_err(|e| format!("write {}: {}", file.display(), io_error_text(&e)))?;
    writeln!(out, "wrote {}", file.display()).map_err(|e| format!("cannot write to stdout: {e}"))
}

/// Go's `filepath.Match` on Unix; a malformed pattern matches nothing.
pub fn go_match(pattern: &str, name: &str) -> bool {
    match_from(pattern.as_bytes(), name.as_bytes()).unwrap_or(false)
}

fn match_from(p: &[u8], s: &[u8]) -> Result<bool, ()> {
    // Iterative `*` with backtracking over one star at a time; `*` never
    // crosses `/`. Bounded: O(len(p) * len(s)).
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                b'*' => {
                    star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                b'?' if si < s.len() && s[si] != b'/' => {
                    let w = utf8_width(s[si]);
                    si += w.min(s.len() - si);
                    pi += 1;
                    continue;
                }
                b'[' if si < s.len() => {
                    let (end, ok) = class(p, pi, s, si)?;
                    if ok {
                        si += utf8_width(s[si]).min(s.len() - si);
                        pi = end;
                        continue;
                    }
                }
                b'[' => {
                    // Validate the class even at the end of the name.
                    let (_, _) = class(p, pi, b"a", 0)?;
                }
                b'\\' => {
                    let c = *p.get(pi + 1).ok_or(())?;
                    if si < s.len() && s[si] == c {
                        pi += 2;
                        si += 1;
                        continue;
                    }
                }
                c if c != b'?' && si < s.len() && s[si] == c => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                _ => {}
            }
        } else if si == s.len() {
            return Ok(true);
        }
        // Mismatch: let the last star eat one more (non-`/`) byte.
        match star {
            Some((sp, ss)) if ss < s.len() && s[ss] != b'/' => {
                star = Some((sp, ss + 1));
                pi = sp + 1;
                si = ss + 1;
            }
            _ => {
                // Go still reports a malformed rest of the pattern.
                check_pattern(&p[pi.min(p.len())..])?;
                return Ok(false);
            }
        }
    }
}

fn utf8_width(b: u8) -> usize {
    match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn check_pattern(p: &[u8]) -> Result<(), ()> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'\\' => {
                if i + 1 >= p.len() {
                    return Err(());
                }
                i += 2;
            }
            b'[' => {
                let (end, _) = class(p, i, b"a", 0)?;
                i = end;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// A `[...]` class at `p[start]`: (index after `]`, whether `s[si]` is in it).
fn class(p: &[u8], start: usize, s: &[u8], si: usize) -> Result<(usize, bool), ()> {
    let c = decode(s, si).0;
    let mut i = start + 1;
    let negated = p.get(i) == Some(&b'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut n = 0;
    loop {
        if i < p.len() && p[i] == b']' && n > 0 {
            i += 1;
            break;
        }
        let (lo, next) = class_char(p, i)?;
        i = next;
        let mut hi = lo;
        if p.get(i) == Some(&b'-') {
            let (h, next) = class_char(p, i + 1)?;
            hi = h;
            i = next;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
        n += 1;
    }
    Ok((i, matched != negated))
}

fn class_char(p: &[u8], i: usize) -> Result<(char, usize), ()> {
    match p.get(i) {
        None | Some(b'-') | Some(b']') => Err(()),
        Some(b'\\') => {
            if i + 1 >= p.len() {
                return Err(());
            }
            let (c, w) = decode(p, i + 1);
            Ok((c, i + 1 + w))
        }
        Some(_) => {
            let (c, w) = decode(p, i);
            Ok((c, i + w))
        }
    }
}

fn decode(b: &[u8], i: usize) -> (char, usize) {
    let w = utf8_width(*b.get(i).unwrap_or(&0)).min(b.len().saturating_sub(i)).max(1);
    match std::str::from_utf8(&b[i.min(b.len())..(i + w).min(b.len())]).ok().and_then(|s| s.chars().next()) {
        Some(c) => (c, w),
        None => ('\u{FFFD}', 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_values_are_helm_4s() {
        // Helm 4's cmdGetDryRunFlagStrategy for `helm template`.
        for (v, server) in [(None, false), (Some("unset"), false), (Some("client"), false), (Some("true"), false), (Some("server"), true)] {
            assert_eq!(dry_run_server(v), Ok(server), "{v:?}");
        }
        assert_eq!(dry_run_server(Some("none")).unwrap_err(), "invalid dry-run value (\"none\"). Must be \"server\" or \"client\"");
        assert_eq!(dry_run_server(Some("false")).unwrap_err(), "invalid dry-run value (\"false\"). Must be \"server\" or \"client\"");
        assert_eq!(dry_run_server(Some("maybe")).unwrap_err(), "invalid dry-run value (\"maybe\"). Must be \"none\", \"server\", or \"client\"");
    }

    #[test]
    fn kinds_sort_in_install_order_then_by_name() {
        let doc = |kind: &str, path: &str| Doc { path: path.into(), content: String::new(), kind: kind.into(), events: None };
        let mut docs = vec![doc("Zed", "1"), doc("Deployment", "2"), doc("", "3"), doc("Alpha", "4"), doc("Service", "5"), doc("Deployment", "6"), doc("Alpha", "7")];
        sort_by_kind(&mut docs);
        let order: Vec<&str> = docs.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(order, ["5", "2", "6", "3", "4", "7", "1"]);
    }

    #[test]
    fn names_are_helms() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(name_and_chart(&a(&["c"]), None, false).unwrap(), ("release-name".into(), "c".into()));
        assert_eq!(name_and_chart(&a(&["c"]), None, true).unwrap().0, "release-name");
        assert_eq!(name_and_chart(&a(&["n", "c"]), None, true).unwrap_err(), "cannot set --generate-name and also specify a name");
        assert_eq!(name_and_chart(&a(&["n", "c"]), Some("x"), false).unwrap_err(), "cannot set --name-template and also specify a name");
        assert_eq!(name_and_chart(&a(&["n", "c", "d", "e"]), None, false).unwrap_err(), "expected at most two arguments, unexpected arguments: d, e");
        assert_eq!(name_and_chart(&a(&["c"]), Some("{{ \"ab\" | upper | lower }}-x"), false).unwrap().0, "ab-x");
        assert!(validate_release_name("a.b-c").is_ok());
        assert_eq!(
            validate_release_name("Bad").unwrap_err(),
            r#"release name "Bad": invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53"#
        );
        assert!(validate_release_name(&"a".repeat(54)).is_err());
        assert!(validate_release_name("a..b").is_err() && validate_release_name("-a").is_err());
    }

    #[test]
    fn globs_are_gos_filepath_match() {
        assert!(go_match("templates/*.yaml", "templates/a.yaml"));
        assert!(!go_match("templates/*", "templates/x/a.yaml"));
        assert!(!go_match("*", "templates/a.yaml"));
        assert!(go_match("templates/[a-c]?.yaml", "templates/b1.yaml"));
        assert!(!go_match("templates/[^a-c]?.yaml", "templates/b1.yaml"));
        assert!(go_match("charts/*/templates/*.yaml", "charts/sub/templates/s.yaml"));
        assert!(go_match("a\\*b", "a*b"));
        assert!(!go_match("templates/[", "templates/["));
        assert!(go_match("templates/a.yaml", "templates/a.yaml"));
        assert!(!go_match("templates/a.yaml", "templates/a.yamlx"));
    }

    #[test]
    fn heads_read_kind_and_hooks() {
        assert_eq!(read_head("kind: Job\nmetadata:\n  annotations:\n    helm.sh/hook: test\n").unwrap(), ("Job".into(), Some("test".into())));
        assert_eq!(read_head("# only a comment\n").unwrap(), (String::new(), None));
        // Oracle: Helm installs `kind: 5` (the scalar becomes the string).
        assert_eq!(read_head("kind: 5\nmetadata:\n  annotations:\n    helm.sh/hook: test\n    helm.sh/hook-weight: 5\n").unwrap(), ("5".into(), Some("test".into())));
        // Oracle: encoding/json matches keys ignoring case.
        assert_eq!(read_head("KIND: Service\nMetadata:\n  Annotations:\n    helm.sh/hook: test\n").unwrap(), ("Service".into(), Some("test".into())));
        assert!(read_head("metadata: x\n").unwrap_err().ends_with("cannot unmarshal string into Go struct field SimpleHead.metadata of type struct { Name string \"json:\\\"name\\\"\"; Annotations map[string]string \"json:\\\"annotations\\\"\" }"));
        assert!(read_head("metadata:\n  name: [x]\n").unwrap_err().ends_with("cannot unmarshal array into Go struct field .metadata.name of type string"));
        // Helm says `… Go struct field .metadata.annotations of type string`;
        // the YAML module's typed reader adds the map key to the path
        // (`.metadata.annotations.helm.sh/hook`): a known difference.
        assert!(read_head("metadata:\n  annotations:\n    helm.sh/hook: [x]\n").unwrap_err().contains("cannot unmarshal array into Go struct field .metadata.annotations"));
        assert!(read_head("kind: [a]\n").unwrap_err().contains("cannot unmarshal array into Go struct field SimpleHead.kind of type string"));
        assert!(read_head("metadata:\n  annotations: [1]\n").unwrap_err().ends_with("cannot unmarshal array into Go struct field .metadata.annotations of type map[string]string"));
        assert!(read_head("- a\n").unwrap_err().contains("cannot unmarshal array into Go value of type util.SimpleHead"));
    }
}
