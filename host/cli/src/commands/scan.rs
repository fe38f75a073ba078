//! `gantry scan IMAGE`: one image scanned standalone — from its registry
//! with the docker `config.json` credentials, or `docker:ID|NAME` from the
//! local engine — against the advisory store `gantry db import` wrote, and
//! the report written as a table, JSON, SARIF or an SBOM to stdout or a
//! file. Without `--policy`: exit 0 when the scan ran (whatever it found),
//! 2 for bad input, 1 when the image or the store could not be read. With
//! `--policy P [--policy-settings FILE|JSON]` the policy (`builtin:NAME` or
//! a `.wasm` path, `@sha256:` pins it) decides on the report and sets the
//! exit code: 0 allow, 1 deny (each violation printed: in the table, and as
//! the `decision` object of the JSON), 2 bad input (no such policy, settings
//! that are not a JSON object or that the policy refuses with rule
//! `policy-settings`, a policy that fails). The policy is loaded before the
//! image is read. It also builds the scanner `gantry run` gives every stage.
//! It must not print a credential.

use std::path::PathBuf;
use std::sync::Arc;

use gantry_engine::exit;
use gantry_registry::Client;
use gantry_scan::policy::{self, Decision};
use gantry_scan::report::{self, Format};
use gantry_scan::scan::{ScanOptions, Scanner};
use gantry_scan::store::{self, Store, StoreError};

use crate::output::{self, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The image: a registry reference (`registry.example/team/app:1`) or `docker:ID|NAME` for the local engine.
    pub image: String,
    /// `table`, `json` (the report), `sarif` (SARIF 2.1.0), `cyclonedx` (1.5 JSON) or `spdx` (2.3 JSON).
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: Format,
    /// Write the output to this file instead of stdout (`--output` is the global human/json switch).
    #[arg(short = 'o', long = "output-file", value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// The advisory store (default: $GANTRY_DB_DIR, else ~/.cache/gantry/db).
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// Do not look for credentials in the image.
    #[arg(long)]
    pub no_secrets: bool,
    /// Inventory only: no vulnerability matching.
    #[arg(long)]
    pub skip_vulnerabilities: bool,
    /// Decide with this scan policy (`builtin:policy-default`, or a path to a `.wasm` scan-policy component; `@sha256:DIGEST` pins it): exit 0 allow, 1 deny.
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<String>,
    /// The policy's settings: a JSON object (`'{"no-root": true}'`) or a file holding one (default `{}`).
    #[arg(long, value_name = "FILE|JSON", requires = "policy")]
    pub policy_settings: Option<String>,
}

/// `--policy-settings`: inline JSON when it starts with `{`, else a file of
/// JSON; either must be an object. Returns the JSON text for the policy.
fn policy_settings(given: Option<&str>) -> Result<String, String> {
    let Some(given) = given else {
        return Ok("{}".to_string());
    };
    let (text, from) = if given.trim_start().starts_with('{') {
        (given.to_string(), "--policy-settings".to_string())
    } else {
        let text = std::fs::read_to_string(given).map_err(|e| format!("cannot read --policy-settings file {given}: {e}; give a file of JSON or the JSON itself, e.g. --policy-settings '{{\"no-root\": true}}'"))?;
        (text, format!("--policy-settings file {given}"))
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(_)) => Ok(text),
        Ok(other) => Err(format!("{from} is JSON but not an object (it is {}); write the settings as an object, e.g. {{\"max-severity\": \"high\"}}", json_kind(&other))),
        Err(e) => Err(format!("{from} is not JSON: {e} (line {}, column {}); write e.g. {{\"max-severity\": \"high\"}}", e.line(), e.column())),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The policy of `--policy`, loaded (relative paths from the working
/// directory), on the runtime it runs on, with its settings.
struct Judge {
    runtime: Arc<gantry_runtime::Runtime>,
    policy: policy::Policy,
    settings: String,
}

impl Judge {
    fn load(args: &Args, ctx: Ctx) -> Result<Option<Judge>, i32> {
        let Some(name) = &args.policy else {
            return Ok(None);
        };
        let settings = policy_settings(args.policy_settings.as_deref()).map_err(|e| {
            output::error(ctx, &e);
            exit::BAD_INPUT
        })?;
        let runtime = crate::commands::runtime(ctx)?;
        let policy = policy::load(&runtime, name, std::path::Path::new(".")).map_err(|e| {
            output::error(ctx, &e.to_string());
            exit::BAD_INPUT
        })?;
        Ok(Some(Judge { runtime, policy, settings }))
    }

    async fn decide(&self, report: &gantry_scan::model::Report, ctx: Ctx) -> Result<Decision, i32> {
        let human = ctx.format == crate::output::Format::Human;
        let env = policy::pure_env(Arc::new(move |line| {
            if human {
                eprintln!("policy: {}", line.message);
            }
        }));
        let decision = policy::evaluate(&self.runtime, &self.policy, &env, report, &self.settings).await.map_err(|e| {
            output::error(ctx, &e.to_string());
            exit::BAD_INPUT
        })?;
        let refused = decision.settings_refused();
        if !refused.is_empty() {
            let why: Vec<String> = refused.iter().map(|v| format!("{}: {}", v.subject, v.message)).collect();
            output::error(ctx, &format!("policy `{}` refuses its settings: {}; fix --policy-settings", self.policy.name, why.join("; ")));
            return Err(exit::BAD_INPUT);
        }
        Ok(decision)
    }
}

/// The report in `format`, with the decision where the format has room for
/// it: a section under the table, the `decision` object of the JSON.
fn render(scanned: &gantry_scan::scan::Scanned, format: Format, decision: Option<(&str, &Decision)>) -> String {
    let text = || report::render(&scanned.report, scanned.os.as_ref(), format, &gantry_scan::sbom::now_rfc3339(), env!("CARGO_PKG_VERSION"));
    match (format, decision) {
        (Format::Table, Some((policy, d))) => format!("{}\n{}", text(), report::table::decision(policy, d)),
        (Format::Json, Some((policy, d))) => {
            let mut value = serde_json::to_value(&scanned.report).unwrap_or_default();
            if let serde_json::Value::Object(map) = &mut value {
                map.insert("decision".to_string(), d.to_json(policy));
            }
            // A serde_json::Value always serializes.
            let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
            s.push('\n');
            s
        }
        _ => text(),
    }
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

/// The store in `dir` (or the default); None when none was imported yet.
pub fn open_store(dir: Option<PathBuf>) -> Result<Option<Arc<Store>>, String> {
    let Some(dir) = dir.or_else(store::default_dir) else {
        return Ok(None);
    };
    match Store::open(&dir) {
        Ok(s) => Ok(Some(Arc::new(s))),
        Err(StoreError::Missing { .. }) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The scanner `gantry run` gives every stage: the run's registry client
/// and the default advisory store (None without a client); policies run on
/// `runtime`, their `.wasm` paths read from `pipeline_dir`; each scan's
/// report saved under `state_dir/reports/<run-id>/` (the run's `--state-dir`).
pub fn run_backend(client: Option<Client>, runtime: Arc<gantry_runtime::Runtime>, pipeline_dir: PathBuf, state_dir: PathBuf) -> Result<gantry_runtime::ScanBackendRef, String> {
    let Some(client) = client else {
        return Ok(None);
    };
    let scanner = Scanner::new(Some(client)).store(open_store(None)?);
    Ok(Some(Arc::new(gantry_scan::backend::ScanService::new(scanner, runtime, pipeline_dir, Some(state_dir)))))
}

pub async fn run(args: Args, ctx: Ctx) -> i32 {
    let judge = match Judge::load(&args, ctx) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let store = match open_store(args.db.clone()) {
        Ok(s) => s,
        Err(e) => {
            output::error(ctx, &e);
            return exit::FAILED;
        }
    };
    if store.is_none() && !args.skip_vulnerabilities {
        if let Some(dir) = args.db.clone().or_else(store::default_dir) {
            tracing::warn!(dir = %dir.display(), "no advisory database: vulnerabilities are not checked; run `gantry db import`");
        }
    }
    let client = if args.image.starts_with(gantry_scan::scan::DOCKER_PREFIX) {
        None
    } else {
        match super::images::docker_config_client() {
            Ok(c) => Some(c),
            Err(e) => {
                output::error(ctx, &e);
                return exit::BAD_INPUT;
            }
        }
    };
    let scanner = Scanner::new(client).store(store);
    let options = ScanOptions { secrets: !args.no_secrets, skip_vulnerabilities: args.skip_vulnerabilities };
    let scanned = match scanner.scan(&args.image, options).await {
        Ok(s) => s,
        Err(e) => {
            output::error(ctx, &e.to_string());
            return match e {
                gantry_scan::scan::ScanError::Reference { .. } => exit::BAD_INPUT,
                _ => exit::FAILED,
            };
        }
    };
    for p in &scanned.problems {
        tracing::warn!(problem = %p, "package metadata not read");
    }
    tracing::info!(pull_ms = scanned.timings.pull.as_millis() as u64, walk_ms = scanned.timings.walk.as_millis() as u64, match_ms = scanned.timings.matching.as_millis() as u64, streamed = scanned.streamed, "scanned");
    let decision = match &judge {
        Some(j) => match j.decide(&scanned.report, ctx).await {
            Ok(d) => Some((j.policy.name.as_str(), d)),
            Err(code) => return code,
        },
        None => None,
    };
    let decision = decision.as_ref().map(|(p, d)| (*p, d));
    let text = render(&scanned, args.format, decision);
    match &args.output_file {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                output::error(ctx, &format!("cannot write the report to {}: {e}", path.display()));
                return exit::FAILED;
            }
        }
        None => print!("{text}"),
    }
    let Some((policy, d)) = decision else {
        return exit::SUCCESS;
    };
    // The decision goes where a person reads it too when stdout held no table or JSON.
    let shown = args.output_file.is_none() && matches!(args.format, Format::Table | Format::Json);
    if !shown && ctx.format == crate::output::Format::Human {
        eprint!("{}", report::table::decision(policy, d));
    }
    if d.allowed {
        exit::SUCCESS
    } else {
        exit::FAILED
    }
}
