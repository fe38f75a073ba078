//! `gantry helm install|upgrade|rollback|uninstall|status|history|get`: Helm
//! 4's release commands for the common cases, over `gantry_release::Releases`
//! on the cluster of a kubeconfig context. This file owns the commands'
//! flags (Helm's names and defaults; the values flags are `helm template`'s,
//! [`super::helm::ValueFlags`]), choosing the cluster, namespace and storage
//! driver as Helm does (`--kube-context`/`HELM_KUBECONTEXT`, `--kubeconfig`/
//! `KUBECONFIG`, `-n`/`HELM_NAMESPACE`/the context's namespace/`default`,
//! `HELM_DRIVER`), and printing what Helm prints (the status block, the NOTES,
//! the history table, `-o json|yaml`). It must not render charts, merge
//! values over a release or touch release records itself: `gantry-release`
//! does all of that.
//!
//! Errors are printed as `error: ` and Helm's words (with Helm's
//! `INSTALLATION FAILED: ` / `UPGRADE FAILED: ` prefixes); exit 2 for bad
//! input (no such release, bad chart, bad flag), 1 when an operation failed
//! on the cluster, 4 when stdout cannot be written.
//!
//! Known differences from Helm: charts are local paths only; `--wait`,
//! `--wait-for-jobs`, `--timeout` and `--atomic`/`--rollback-on-failure` are
//! accepted and checked but not acted on until `gantry-release` has its
//! waiter and atomic rollback (they are carried in [`Operation`]);
//! `--dry-run` is refused (releases have no dry run yet: `gantry helm
//! template --dry-run=server` renders against the cluster); times print as
//! stored (UTC for gantry's records), where Helm prints local time.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use gantry_engine::exit;
use gantry_release::{Driver, InstallOptions, Release, ReleaseError, Releases, RollbackOptions, StorageError, UninstallOptions, UpgradeOptions, ValuesPolicy};
use serde_json::{json, Map, Value};

use super::helm::{bad, go_quote, kube_context, validate_release_name, Failure, ValueFlags};

/// Which cluster and namespace (Helm's global flags).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ClusterFlags {
    /// The release namespace (default `HELM_NAMESPACE`, else the context's, else `default`).
    #[arg(short = 'n', long = "namespace")]
    pub namespace: Option<String>,
    /// The kubeconfig context (default `HELM_KUBECONTEXT`, else the file's current context).
    #[arg(long = "kube-context", value_name = "NAME")]
    pub kube_context: Option<String>,
    /// The kubeconfig file (default `KUBECONFIG`, else `~/.kube/config`).
    #[arg(long = "kubeconfig", value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
}

/// `--wait`, `--timeout` and `--atomic`, as Helm 4 spells them.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct WaitFlags {
    /// Wait until the release's objects are ready (`watcher`, `legacy`, or `hookOnly`: Helm 4's strategies).
    #[arg(long = "wait", value_name = "STRATEGY", num_args = 0..=1, require_equals = true, default_missing_value = "watcher")]
    pub wait: Option<String>,
    /// With `--wait`: wait for Jobs to complete too.
    #[arg(long = "wait-for-jobs")]
    pub wait_for_jobs: bool,
    /// How long to wait for each Kubernetes operation (Go duration, e.g. `5m0s`).
    #[arg(long = "timeout", value_name = "DURATION", default_value = "5m0s")]
    pub timeout: String,
    /// Do not run the chart's hooks (they are still recorded, as Helm records them).
    #[arg(long = "no-hooks")]
    pub no_hooks: bool,
}

/// How a release operation runs beyond its own options: waiting,
/// timeout, hooks, rolling back on failure.
#[derive(Clone, Debug, Default)]
pub struct Operation {
    /// `--wait` (any strategy but `hookOnly`).
    pub wait: bool,
    pub wait_for_jobs: bool,
    pub timeout: Duration,
    /// `--atomic` / `--rollback-on-failure` (implies `--wait`).
    pub atomic: bool,
    pub no_hooks: bool,
}

impl Operation {
    /// `releases` running as asked: hooks (unless `--no-hooks`) and each
    /// wait bounded by `--timeout`; readiness waited for with `--wait`.
    fn apply(&self, releases: Releases) -> Releases {
        let releases = releases.with_timeout(self.timeout);
        let releases = if self.wait { releases.with_wait(self.wait_for_jobs) } else { releases };
        if self.no_hooks {
            releases.without_hooks()
        } else {
            releases
        }
    }
}

impl WaitFlags {
    fn operation(&self, atomic: bool) -> Result<Operation, String> {
        let wait = match self.wait.as_deref() {
            None | Some("hookOnly") => false,
            Some("watcher" | "legacy" | "true") => true,
            Some("false") => false,
            Some(other) => return Err(format!("invalid wait strategy {}: must be \"watcher\", \"legacy\" or \"hookOnly\"", go_quote(other))),
        };
        let timeout = go_duration(&self.timeout).map_err(|e| format!("invalid argument {} for \"--timeout\" flag: {e}", go_quote(&self.timeout)))?;
        Ok(Operation { wait: wait || atomic, wait_for_jobs: self.wait_for_jobs, timeout, atomic, no_hooks: self.no_hooks })
    }
}

/// `-o table|json|yaml`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

/// `helm install [NAME] CHART`.
#[derive(clap::Args, Debug)]
pub struct InstallArgs {
    /// `NAME CHART`: the release name and the chart directory or `.tgz`.
    #[arg(value_name = "NAME CHART", required = true, num_args = 1..)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub value_flags: ValueFlags,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    #[command(flatten)]
    pub wait: WaitFlags,
    /// Reuse the name of an uninstalled or failed release.
    #[arg(long = "replace")]
    pub replace: bool,
    #[command(flatten)]
    pub write: WriteFlags,
}

/// The flags `install` and `upgrade` share.
#[derive(clap::Args, Debug)]
pub struct WriteFlags {
    /// On failure roll the release back (uninstall it, for an install): Helm 4's name for `--atomic`.
    #[arg(long = "rollback-on-failure", alias = "atomic")]
    pub atomic: bool,
    /// A custom description of the revision.
    #[arg(long = "description")]
    pub description: Option<String>,
    /// Labels of the release's storage objects: `k=v,k2=v2`.
    #[arg(short = 'l', long = "labels", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Create the release namespace when it does not exist.
    #[arg(long = "create-namespace")]
    pub create_namespace: bool,
    /// Take fields other field managers own.
    #[arg(long = "force-conflicts")]
    pub force_conflicts: bool,
    /// Refused: releases have no dry run yet (`gantry helm template --dry-run=server` renders against the cluster).
    #[arg(long = "dry-run", value_name = "client|server", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
    /// `table` (Helm's status block), `json` or `yaml` (the release).
    #[arg(short = 'o', value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `helm upgrade RELEASE CHART`.
#[derive(clap::Args, Debug)]
pub struct UpgradeArgs {
    pub release: String,
    pub chart: String,
    #[command(flatten)]
    pub value_flags: ValueFlags,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    #[command(flatten)]
    pub wait: WaitFlags,
    /// Install the release when it does not exist (or was uninstalled).
    #[arg(short = 'i', long = "install")]
    pub install: bool,
    /// Merge the last release's values under the given ones.
    #[arg(long = "reuse-values")]
    pub reuse_values: bool,
    /// Only the given values and the chart's defaults.
    #[arg(long = "reset-values")]
    pub reset_values: bool,
    /// The last release's values under the given ones, over the new chart's defaults.
    #[arg(long = "reset-then-reuse-values")]
    pub reset_then_reuse_values: bool,
    /// Revisions kept per release (0: no limit).
    #[arg(long = "history-max", env = "HELM_MAX_HISTORY", default_value_t = 10)]
    pub history_max: usize,
    #[command(flatten)]
    pub write: WriteFlags,
}

/// `helm rollback RELEASE [REVISION]`.
#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    pub release: String,
    /// The revision to return to (default 0: the previous one).
    pub revision: Option<i64>,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    #[command(flatten)]
    pub wait: WaitFlags,
    #[arg(long = "history-max", env = "HELM_MAX_HISTORY", default_value_t = 10)]
    pub history_max: usize,
    #[arg(long = "force-conflicts")]
    pub force_conflicts: bool,
    #[arg(long = "dry-run", value_name = "client|server", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
}

/// `helm uninstall RELEASE...`.
#[derive(clap::Args, Debug)]
pub struct UninstallArgs {
    #[arg(required = true, num_args = 1..)]
    pub releases: Vec<String>,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    #[command(flatten)]
    pub wait: WaitFlags,
    /// Keep the release's records, marked uninstalled (for `helm history` and a later rollback).
    #[arg(long = "keep-history")]
    pub keep_history: bool,
    /// A release that does not exist is not an error.
    #[arg(long = "ignore-not-found")]
    pub ignore_not_found: bool,
    #[arg(long = "description")]
    pub description: Option<String>,
    #[arg(long = "dry-run", value_name = "client|server", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
}

/// `helm status RELEASE`.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    pub release: String,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    /// A revision (default: the last).
    #[arg(long = "revision")]
    pub revision: Option<i64>,
    #[arg(short = 'o', value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `helm history RELEASE`.
#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    pub release: String,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    /// At most this many revisions (the newest).
    #[arg(long = "max", default_value_t = 256)]
    pub max: usize,
    #[arg(short = 'o', value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `helm get values|manifest RELEASE`.
#[derive(clap::Subcommand, Debug)]
pub enum GetCommand {
    /// The release's user-supplied values (`--all`: coalesced with the chart's).
    Values(GetValuesArgs),
    /// The release's manifest.
    Manifest(GetArgs),
}

#[derive(clap::Args, Debug)]
pub struct GetArgs {
    pub release: String,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    #[arg(long = "revision")]
    pub revision: Option<i64>,
}

#[derive(clap::Args, Debug)]
pub struct GetValuesArgs {
    #[command(flatten)]
    pub get: GetArgs,
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    #[arg(short = 'o', value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// One release command.
#[derive(Debug)]
pub enum ReleaseCommand {
    Install(InstallArgs),
    Upgrade(UpgradeArgs),
    Rollback(RollbackArgs),
    Uninstall(UninstallArgs),
    Status(StatusArgs),
    History(HistoryArgs),
    Get(GetCommand),
}

/// Runs one command, printing to stdout; the exit code.
pub async fn run(cmd: ReleaseCommand, global_json: bool) -> i32 {
    let mut out = Vec::new();
    let result = dispatch(cmd, global_json, &mut out).await;
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if let Err(e) = lock.write_all(&out).and_then(|()| lock.flush()) {
        eprintln!("error: cannot write to stdout: {e}");
        return exit::INTERNAL;
    }
    match result {
        Ok(()) => exit::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            f.code
        }
    }
}

/// `-o`, or json when gantry's global `--output json` was given.
fn format(given: Format, global_json: bool) -> Format {
    if given == Format::Table && global_json {
        Format::Json
    } else {
        given
    }
}

async fn dispatch(cmd: ReleaseCommand, global_json: bool, out: &mut Vec<u8>) -> Result<(), Failure> {
    match cmd {
        ReleaseCommand::Install(a) => install(a, global_json, out).await,
        ReleaseCommand::Upgrade(a) => upgrade(a, global_json, out).await,
        ReleaseCommand::Rollback(a) => rollback(a, out).await,
        ReleaseCommand::Uninstall(a) => uninstall(a, out).await,
        ReleaseCommand::Status(a) => {
            let releases = connect(&a.cluster, false).await?;
            let r = releases.status(&a.release, a.revision).await.map_err(|e| failure("", e))?;
            print_release(&r, format(a.format, global_json), out)
        }
        ReleaseCommand::History(a) => {
            let releases = connect(&a.cluster, false).await?;
            let h = releases.history(&a.release, Some(a.max)).await.map_err(|e| failure("", e))?;
            print_history(&h, format(a.format, global_json), out)
        }
        ReleaseCommand::Get(GetCommand::Values(a)) => {
            let releases = connect(&a.get.cluster, false).await?;
            let values = releases.get_values(&a.get.release, a.get.revision, a.all).await.map_err(|e| failure("", e))?;
            match format(a.format, global_json) {
                Format::Table => {
                    out.extend_from_slice(if a.all { b"COMPUTED VALUES:\n" } else { b"USER-SUPPLIED VALUES:\n" });
                    out.extend_from_slice(to_yaml(&Value::Object(values))?.as_bytes());
                    Ok(())
                }
                f => print_value(&Value::Object(values), f, out),
            }
        }
        ReleaseCommand::Get(GetCommand::Manifest(a)) => {
            let releases = connect(&a.cluster, false).await?;
            let manifest = releases.get_manifest(&a.release, a.revision).await.map_err(|e| failure("", e))?;
            out.extend_from_slice(manifest.as_bytes());
            out.push(b'\n');
            Ok(())
        }
    }
}

/// Releases have no dry run yet: say so instead of changing the cluster.
fn refuse_dry_run(dry_run: &Option<String>) -> Result<(), Failure> {
    match dry_run.as_deref() {
        None | Some("none" | "false") => Ok(()),
        Some(v) => Err(bad(format!("--dry-run={v} is not supported by gantry's releases yet; render with `gantry helm template --dry-run=server` instead"))),
    }
}

fn labels(given: &[String]) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    given
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| bad(format!("invalid label {}: expected key=value", go_quote(l)))))
        .collect()
}

/// The user's values as JSON, and the chart path checked as Helm checks it.
fn values_and_chart(flags: &ValueFlags, chart: &str) -> Result<(Map<String, Value>, PathBuf), Failure> {
    let chart = chart.trim();
    if std::fs::metadata(chart).is_err() {
        return Err(bad(format!("path {} not found", go_quote(chart))));
    }
    let merged = flags.merge().map_err(bad)?;
    let values = match gantry_release::record::helm_value_to_json(&merged) {
        Some(Value::Object(m)) => m,
        Some(Value::Null) | None => Map::new(),
        Some(other) => return Err(bad(format!("values must be a map, got {other}"))),
    };
    Ok((values, PathBuf::from(chart)))
}

async fn install(a: InstallArgs, global_json: bool, out: &mut Vec<u8>) -> Result<(), Failure> {
    let prefix = "INSTALLATION FAILED: ";
    let (name, chart) = match a.args.as_slice() {
        [name, chart] => (name.clone(), chart.clone()),
        [_] => return Err(bad(format!("{prefix}must either provide a name or specify --generate-name"))),
        _ => return Err(bad(format!("\"gantry helm install\" requires at most 2 arguments, received {}", a.args.len()))),
    };
    refuse_dry_run(&a.write.dry_run)?;
    let operation = a.wait.operation(a.write.atomic).map_err(bad)?;
    validate_release_name(&name).map_err(|e| bad(format!("{prefix}release name check failed: {e}")))?;
    let (values, chart) = values_and_chart(&a.value_flags, &chart).map_err(|f| prefixed(prefix, f))?;
    let releases = connect(&a.cluster, true).await?;
    if a.write.create_namespace {
        create_namespace(&releases).await.map_err(|m| prefixed(prefix, bad(m)))?;
    }
    let options = InstallOptions { values, description: a.write.description, labels: labels(&a.write.labels)?, replace: a.replace, force_conflicts: a.write.force_conflicts, rollback_on_failure: operation.atomic };
    let releases = operation.apply(releases);
    let r = releases.install(&name, &chart, &options).await.map_err(|e| failure(prefix, e))?;
    print_release(&r, format(a.write.format, global_json), out)
}

async fn upgrade(a: UpgradeArgs, global_json: bool, out: &mut Vec<u8>) -> Result<(), Failure> {
    let prefix = "UPGRADE FAILED: ";
    refuse_dry_run(&a.write.dry_run)?;
    let operation = a.wait.operation(a.write.atomic).map_err(bad)?;
    validate_release_name(&a.release).map_err(|e| bad(format!("{prefix}release name check failed: {e}")))?;
    let values_policy = match (a.reuse_values, a.reset_values, a.reset_then_reuse_values) {
        (_, true, _) => ValuesPolicy::Reset,
        (true, false, _) => ValuesPolicy::Reuse,
        (false, false, true) => ValuesPolicy::ResetThenReuse,
        _ => ValuesPolicy::Default,
    };
    let (values, chart) = values_and_chart(&a.value_flags, &a.chart).map_err(|f| prefixed(prefix, f))?;
    let releases = connect(&a.cluster, true).await?;
    if a.install && a.write.create_namespace {
        create_namespace(&releases).await.map_err(|m| prefixed(prefix, bad(m)))?;
    }
    // Helm says which way `--install` went before it goes.
    let mut installing = false;
    if a.install {
        match releases.history(&a.release, Some(1)).await {
            Err(ReleaseError::Storage(StorageError::NotFound)) => installing = true,
            Ok(h) if h.last().is_some_and(|r| r.status() == gantry_release::Status::Uninstalled) => installing = true,
            Ok(_) => {}
            Err(e) => return Err(failure(prefix, e)),
        }
        if installing && format(a.write.format, global_json) == Format::Table {
            out.extend_from_slice(format!("Release {} does not exist. Installing it now.\n", go_quote(&a.release)).as_bytes());
        }
    }
    let options = UpgradeOptions {
        values,
        install: a.install,
        values_policy,
        max_history: a.history_max,
        description: a.write.description,
        labels: labels(&a.write.labels)?,
        force_conflicts: a.write.force_conflicts,
        rollback_on_failure: operation.atomic,
    };
    let releases = operation.apply(releases);
    let r = releases.upgrade(&a.release, &chart, &options).await.map_err(|e| failure(if installing { "INSTALLATION FAILED: " } else { prefix }, e))?;
    let f = format(a.write.format, global_json);
    if f == Format::Table && !installing {
        out.extend_from_slice(format!("Release {} has been upgraded. Happy Helming!\n", go_quote(&a.release)).as_bytes());
    }
    print_release(&r, f, out)
}

async fn rollback(a: RollbackArgs, out: &mut Vec<u8>) -> Result<(), Failure> {
    refuse_dry_run(&a.dry_run)?;
    let operation = a.wait.operation(false).map_err(bad)?;
    let releases = operation.apply(connect(&a.cluster, true).await?);
    let options = RollbackOptions { revision: a.revision.unwrap_or(0), max_history: a.history_max, force_conflicts: a.force_conflicts };
    releases.rollback(&a.release, &options).await.map_err(|e| failure("", e))?;
    out.extend_from_slice(b"Rollback was a success! Happy Helming!\n");
    Ok(())
}

async fn uninstall(a: UninstallArgs, out: &mut Vec<u8>) -> Result<(), Failure> {
    refuse_dry_run(&a.dry_run)?;
    let operation = a.wait.operation(false).map_err(bad)?;
    let releases = operation.apply(connect(&a.cluster, false).await?);
    let options = UninstallOptions { keep_history: a.keep_history, description: a.description };
    for name in &a.releases {
        match releases.uninstall(name, &options).await {
            Ok(done) => {
                if !done.kept.is_empty() {
                    out.extend_from_slice(done.kept.as_bytes());
                }
                out.extend_from_slice(format!("release {} uninstalled\n", go_quote(name)).as_bytes());
            }
            Err(e) if a.ignore_not_found && is_not_found(&e) => {}
            Err(e) => return Err(failure("", e)),
        }
    }
    Ok(())
}

pub(crate) fn is_not_found(e: &ReleaseError) -> bool {
    match e {
        ReleaseError::Storage(StorageError::NotFound) => true,
        ReleaseError::Cluster(m) => m.ends_with("release: not found"),
        _ => false,
    }
}

fn prefixed(prefix: &str, f: Failure) -> Failure {
    Failure { message: format!("{prefix}{}", f.message), code: f.code }
}

/// A release error in Helm's words: bad input (exit 2) when nothing was
/// changed because of what was asked; a failed operation (exit 1) otherwise.
fn failure(prefix: &str, e: ReleaseError) -> Failure {
    let code = match &e {
        e if is_not_found(e) => exit::BAD_INPUT,
        ReleaseError::Failed { .. } | ReleaseError::Delete(_) | ReleaseError::Cluster(_) => exit::FAILED,
        ReleaseError::Storage(StorageError::NotFound | StorageError::NoDeployed(_)) => exit::BAD_INPUT,
        ReleaseError::Storage(_) => exit::FAILED,
        _ => exit::BAD_INPUT,
    };
    let message = match &e {
        // Helm's own words, without the cluster's prefix.
        ReleaseError::Cluster(m) if is_not_found(&e) => m.clone(),
        _ => e.to_string(),
    };
    Failure { message: format!("{prefix}{message}"), code }
}

/// The releases of the context's cluster, in the namespace Helm would use,
/// stored by `HELM_DRIVER`; `render`: ask the cluster's capabilities (for
/// operations that render).
async fn connect(flags: &ClusterFlags, render: bool) -> Result<Releases, Failure> {
    let driver_name = std::env::var("HELM_DRIVER").unwrap_or_default();
    let driver = match Driver::from_helm_driver(&driver_name) {
        Some(d) => d,
        None if driver_name == "memory" || driver_name == "sql" => return Err(bad(format!("HELM_DRIVER={driver_name} is not supported by gantry: use secret (the default) or configmap"))),
        None => return Err(bad(format!("unknown driver {}", go_quote(&driver_name)))),
    };
    let (context, context_namespace) = kube_context(flags.kubeconfig.as_deref(), flags.kube_context.as_deref()).map_err(bad)?;
    let namespace = flags
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| std::env::var("HELM_NAMESPACE").ok().filter(|n| !n.is_empty()))
        .or(context_namespace)
        .unwrap_or_else(|| "default".into());
    let target = gantry_cluster::Target::kubeconfig(&context, flags.kubeconfig.clone(), &context);
    let client = target.connect().await.map_err(|e| {
        let text = e.to_string();
        bad(format!("Kubernetes cluster unreachable: {}", text.strip_prefix(&format!("target `{context}`: ")).unwrap_or(&text)))
    })?;
    let releases = Releases::new(&context, client, &namespace, driver);
    if !render {
        return Ok(releases);
    }
    releases.with_cluster_version().await.map_err(|e| Failure { message: format!("Kubernetes cluster unreachable: {e}"), code: exit::FAILED })
}

/// `--create-namespace`: the release namespace, created (as Helm creates
/// it, labelled `name: NAMESPACE`) when it does not exist.
async fn create_namespace(releases: &Releases) -> Result<(), String> {
    use gantry_runtime::cluster::{ApplyOptions, BackendErrorKind, ClusterBackend, ObjectKey};
    let namespace = releases.namespace();
    let backend = gantry_cluster::KubeBackend::new("kubeconfig", releases.storage().client().clone()).with_field_manager(gantry_release::action::FIELD_MANAGER);
    let key = ObjectKey { api_version: "v1".into(), kind: "Namespace".into(), namespace: None, name: namespace.to_string() };
    match backend.get(&key).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind == BackendErrorKind::NotFound => {
            let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {"name": namespace}}});
            backend.apply(&object, ApplyOptions::default()).await.map(|_| ()).map_err(|e| format!("failed to create namespace {namespace}: {}", e.message))
        }
        Err(e) => Err(format!("failed to read namespace {namespace}: {}", e.message)),
    }
}

/// Helm's status block (`statusPrinter.WriteTable`) or the release as JSON/YAML.
fn print_release(r: &Release, format: Format, out: &mut Vec<u8>) -> Result<(), Failure> {
    match format {
        Format::Table => {
            out.extend_from_slice(status_text(r).as_bytes());
            Ok(())
        }
        f => print_value(&serde_json::to_value(r).map_err(|e| internal(format!("cannot write the release as JSON: {e}")))?, f, out),
    }
}

/// What `helm status` (and install, upgrade) print for a release.
pub fn status_text(r: &Release) -> String {
    let mut s = format!("NAME: {}\n", r.name);
    if let Some(t) = r.info.as_ref().and_then(|i| i.last_deployed.as_deref()).and_then(ansic) {
        s.push_str(&format!("LAST DEPLOYED: {t}\n"));
    }
    s.push_str(&format!("NAMESPACE: {}\nSTATUS: {}\nREVISION: {}\n", r.namespace, r.status(), r.version));
    s.push_str(&format!("DESCRIPTION: {}\n", r.description()));
    let tests = r.hooks.iter().any(|h| h["events"].as_array().is_some_and(|e| e.iter().any(|e| e == "test")) && h["last_run"]["phase"].as_str().is_some_and(|p| !p.is_empty()));
    if !tests {
        s.push_str("TEST SUITE: None\n");
    }
    let notes = r.info.as_ref().map(|i| i.notes.trim()).unwrap_or_default();
    if !notes.is_empty() {
        s.push_str(&format!("NOTES:\n{notes}\n"));
    }
    s
}

/// `helm history`'s table or its JSON/YAML rows.
fn print_history(h: &[Release], format: Format, out: &mut Vec<u8>) -> Result<(), Failure> {
    let rows: Vec<Value> = h
        .iter()
        .map(|r| {
            let md = r.chart_metadata();
            json!({
                "revision": r.version,
                "updated": r.info.as_ref().and_then(|i| i.last_deployed.clone()).unwrap_or_default(),
                "status": r.status().to_string(),
                "chart": md.map(|m| format!("{}-{}", m.name, m.version)).unwrap_or_else(|| "MISSING".into()),
                "app_version": md.map(|m| m.app_version.clone()).unwrap_or_else(|| "MISSING".into()),
                "description": r.description(),
            })
        })
        .collect();
    match format {
        Format::Table => {
            let mut table = vec![["REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION"].map(String::from).to_vec()];
            for row in &rows {
                let text = |k: &str| row[k].as_str().map(str::to_string).unwrap_or_else(|| row[k].to_string());
                table.push(vec![text("revision"), ansic(&text("updated")).unwrap_or_default(), text("status"), text("chart"), text("app_version"), text("description")]);
            }
            out.extend_from_slice(ui_table(&table).as_bytes());
            Ok(())
        }
        f => print_value(&Value::Array(rows), f, out),
    }
}

fn print_value(v: &Value, format: Format, out: &mut Vec<u8>) -> Result<(), Failure> {
    match format {
        Format::Json => {
            out.extend_from_slice(serde_json::to_string(v).map_err(|e| internal(format!("cannot write JSON: {e}")))?.as_bytes());
            out.push(b'\n');
        }
        _ => out.extend_from_slice(to_yaml(v)?.as_bytes()),
    }
    Ok(())
}

fn to_yaml(v: &Value) -> Result<String, Failure> {
    serde_yaml::to_string(v).map_err(|e| internal(format!("cannot write YAML: {e}")))
}

fn internal(message: String) -> Failure {
    Failure { message, code: exit::INTERNAL }
}

/// Helm's tables (gosuri/uitable as Helm sets it: cells padded to their
/// column's width, at most 60 characters, joined by a tab).
pub fn ui_table(rows: &[Vec<String>]) -> String {
    const MAX: usize = 60;
    let cut = |s: &str| -> String {
        if s.chars().count() <= MAX {
            s.to_string()
        } else {
            format!("{}...", s.chars().take(MAX - 3).collect::<String>())
        }
    };
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| cut(c)).collect()).collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns).map(|i| rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0)).collect();
    let mut s = String::new();
    for r in &rows {
        let cells: Vec<String> = r.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        s.push_str(&cells.join("\t"));
        s.push('\n');
    }
    s
}

/// An RFC 3339 time as Go's `time.ANSIC` prints it (`Mon Jan _2 15:04:05 2006`),
/// in the offset it was written with.
pub fn ansic(rfc3339: &str) -> Option<String> {
    let b = rfc3339.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| rfc3339.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) {
        return None;
    }
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    // Sakamoto's day of the week.
    const T: [i64; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let yy = if m < 3 { y - 1 } else { y };
    let wd = (yy + yy / 4 - yy / 100 + yy / 400 + T[(m - 1) as usize] + d).rem_euclid(7);
    Some(format!("{} {} {:>2} {} {}", DAYS[wd as usize], MONTHS[(m - 1) as usize], d, rfc3339.get(11..19)?, y))
}

/// A Go duration (`time.ParseDuration`): `300s`, `5m0s`, `1h2m3.5s`, `0`.
pub fn go_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(s));
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() || rest.starts_with('-') {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(invalid)?;
        let value: f64 = rest[..n].parse().map_err(|_| invalid())?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += value * unit;
        rest = &rest[u..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_gos_ansic() {
        assert_eq!(ansic("2026-11-27T01:03:18.123456789Z").unwrap(), "Fri Nov 27 01:03:18 2026");
        assert_eq!(ansic("2006-01-02T15:04:05-07:00").unwrap(), "Mon Jan  2 15:04:05 2006");
        assert!(ansic("yesterday").is_none());
    }

    #[test]
    fn durations_parse_as_gos() {
        assert_eq!(go_duration("5m0s").unwrap(), Duration::from_secs(300));
        assert_eq!(go_duration("1h2m3.5s").unwrap(), Duration::from_secs_f64(3723.5));
        assert_eq!(go_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(go_duration("5").unwrap_err(), "time: invalid duration \"5\"");
        assert!(go_duration("").is_err() && go_duration("5x").is_err());
    }

    #[test]
    fn tables_pad_cells_and_join_them_with_tabs_as_uitable_does() {
        let t = ui_table(&[vec!["REVISION".into(), "STATUS".into()], vec!["1".into(), "superseded".into()], vec!["10".into(), "x".repeat(70)]]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "REVISION\tSTATUS                                                      ");
        assert_eq!(lines[1], "1       \tsuperseded                                                  ");
        assert_eq!(lines[2], format!("10      \t{}...", "x".repeat(57)));
    }
}
