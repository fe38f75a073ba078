//! `gantry plugin new KIND NAME` scaffolds a plugin crate that builds with
//! one `cargo build --release` and runs in a pipeline unchanged (it carries
//! the SDK and the WIT of this gantry, so versions always match);
//! `gantry plugin inspect FILE` shows what a component is and asks for.

use std::path::{Path, PathBuf};

use gantry_engine::exit;
use gantry_runtime::grants::Import;

use crate::commands;
use crate::output::{self, Ctx, Format};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Scaffold a plugin crate in ./NAME.
    New {
        #[arg(value_enum)]
        kind: Kind,
        /// Crate name (lowercase, digits, `-`).
        name: String,
        /// Parent directory of the new crate.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Print a component's world, imports, exports, size and digest.
    Inspect { file: PathBuf },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Kind {
    Stage,
    ScanPolicy,
    HealthCheck,
    CanaryAnalysis,
}

pub fn run(cmd: Command, ctx: Ctx) -> i32 {
    match cmd {
        Command::New { kind, name, dir } => new(kind, &name, &dir, ctx),
        Command::Inspect { file } => inspect(&file, ctx),
    }
}

fn inspect(file: &Path, ctx: Ctx) -> i32 {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            output::error(ctx, &format!("cannot read {}: {e}", file.display()));
            return exit::BAD_INPUT;
        }
    };
    let runtime = match commands::runtime(ctx) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let plugin = match runtime.load(&file.display().to_string(), &bytes, None) {
        Ok(p) => p,
        Err(e) => {
            output::error(ctx, &e.to_string());
            return exit::BAD_INPUT;
        }
    };
    let group = |f: &dyn Fn(&Import) -> bool| -> Vec<String> { plugin.imports.iter().filter(|(_, i)| f(i)).map(|(n, _)| n.clone()).collect() };
    let capabilities: Vec<&str> = plugin.capabilities().iter().map(|c| c.name()).collect();
    let wasi = group(&|i| matches!(i, Import::Wasi(_)));
    let foreign = group(&|i| matches!(i, Import::Foreign(_)));
    let grants_needed: Vec<&str> = plugin.capabilities().into_iter().filter(|c| !c.always_granted()).map(|c| c.name()).collect();
    if ctx.format == Format::Json {
        println!(
            "{}",
            serde_json::json!({
                "file": file.display().to_string(), "world": plugin.world.name(), "digest": plugin.digest, "size": plugin.size,
                "capabilities": capabilities, "grants_needed": grants_needed, "wasi": wasi, "foreign": foreign, "exports": plugin.exports,
            })
        );
        return 0;
    }
    println!("file:          {}", file.display());
    println!("world:         gantry:deploy/{}", plugin.world);
    println!("digest:        {}", plugin.digest);
    println!("size:          {} bytes", plugin.size);
    println!("capabilities:  {}", if capabilities.is_empty() { "(none)".into() } else { capabilities.join(", ") });
    println!("grants needed: {}", if grants_needed.is_empty() { "(none: log, clock and run are always granted)".into() } else { format!("grants: [{}]", grants_needed.join(", ")) });
    println!("wasi imports:  {}", if wasi.is_empty() { "(none)".into() } else { format!("{} (sandboxed: no files, env or network)", wasi.join(", ")) });
    if !foreign.is_empty() {
        println!("refused:       {} (gantry does not provide these; the plugin cannot run)", foreign.join(", "));
    }
    println!("exports:       {}", plugin.exports.join(", "));
    println!("pin:           uses: {}@{}", file.display(), plugin.digest);
    0
}

fn valid_crate_name(name: &str) -> bool {
    !name.is_empty() && name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn new(kind: Kind, name: &str, dir: &Path, ctx: Ctx) -> i32 {
    if !valid_crate_name(name) {
        output::error(ctx, &format!("`{name}` is not a valid plugin name: start with a letter; use lowercase letters, digits and `-`"));
        return exit::BAD_INPUT;
    }
    let root = dir.join(name);
    if root.exists() {
        output::error(ctx, &format!("{} already exists; choose another name or remove it", root.display()));
        return exit::BAD_INPUT;
    }
    match scaffold(kind, name, &root) {
        Ok(()) => {
            if ctx.format == Format::Json {
                println!("{}", serde_json::json!({ "event": "created", "path": root.display().to_string() }));
            } else {
                let wasm = format!("{}/target/wasm32-wasip2/release/{}.wasm", root.display(), name.replace('-', "_"));
                println!("created {}", root.display());
                println!("build:  cd {} && cargo build --release", root.display());
                println!("use:    uses: {wasm}");
            }
            0
        }
        Err(e) => {
            output::error(ctx, &format!("cannot write {}: {e}", root.display()));
            exit::INTERNAL
        }
    }
}

/// The standalone Cargo.toml of the SDK copy (the in-repo one inherits from
/// the plugins workspace).
const SDK_MANIFEST: &str = r#"[package]
name = "gantry-sdk"
version = "0.1.0"
edition = "2021"
license = "Apache-2.0"

[dependencies]
wit-bindgen = { version = "0.63", default-features = false, features = ["macros", "realloc"] }
serde = { version = "1", default-features = false, features = ["derive", "std"] }
serde_json = "1"
"#;

fn scaffold(kind: Kind, name: &str, root: &Path) -> std::io::Result<()> {
    let write = |rel: &str, text: &str| -> std::io::Result<()> {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)
    };
    for (rel, text) in gantry_plugins::sdk_files() {
        if *rel == "Cargo.toml" {
            continue;
        }
        write(&format!("gantry-sdk/{rel}"), text)?;
    }
    write("gantry-sdk/Cargo.toml", SDK_MANIFEST)?;
    write(
        "Cargo.toml",
        &format!(
            r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"

[lib]
crate-type = ["cdylib"]

[dependencies]
gantry-sdk = {{ path = "gantry-sdk" }}
serde = {{ version = "1", features = ["derive"] }}

# A standalone workspace: small components, abort on panic.
[workspace]

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"
"#
        ),
    )?;
    write(".cargo/config.toml", "[build]\ntarget = \"wasm32-wasip2\"\n")?;
    write("rust-toolchain.toml", "[toolchain]\nchannel = \"1.95.0\"\ntargets = [\"wasm32-wasip2\"]\nprofile = \"minimal\"\n")?;
    write(".gitignore", "/target\n")?;
    write("src/lib.rs", &template(kind, name))?;
    let wasm = format!("target/wasm32-wasip2/release/{}.wasm", name.replace('-', "_"));
    write(
        "README.md",
        &format!(
            "# {name}\n\nA Gantry `{world}` plugin.\n\n```sh\ncargo build --release     # -> {wasm}\ngantry plugin inspect {wasm}\n```\n\nIn `gantry.yaml`:\n\n```yaml\n{usage}\n```\n\n`gantry-sdk/` is the plugin SDK and WIT of the gantry that scaffolded this crate.\n",
            world = world(kind),
            usage = match kind {
                Kind::Stage => format!("stages:\n  - {{ name: {name}, uses: ./{name}/{wasm}, with: {{ message: hello }} }}"),
                _ => format!("# a {} plugin is referenced from a stage's settings, e.g. with: {{ check: ./{name}/{wasm} }}", world(kind)),
            }
        ),
    )?;
    Ok(())
}

fn world(kind: Kind) -> &'static str {
    match kind {
        Kind::Stage => "stage",
        Kind::ScanPolicy => "scan-policy",
        Kind::HealthCheck => "health-check",
        Kind::CanaryAnalysis => "canary-analysis",
    }
}

fn template(kind: Kind, name: &str) -> String {
    let ty: String = name.split('-').map(|p| { let mut c = p.chars(); c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default() }).collect();
    match kind {
        Kind::Stage => format!(
            r#"//! `{name}`: a Gantry stage. `run` is called once per target (or once,
//! with `once: true`); what it imports is what the pipeline must grant.

use gantry_sdk::{{Failure, Input, Output, Stage}};

/// The stage's `with:` block.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {{
    message: String,
}}

struct {ty};

impl Stage for {ty} {{
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {{
        let target = input.target.map(|t| t.name).unwrap_or_else(|| "all targets".into());
        gantry_sdk::info!("{{}}: {{}}", target, input.settings.message);
        Ok(Output::new(format!("said {{}} on {{}}", input.settings.message, target)).with("message", input.settings.message))
    }}
}}

gantry_sdk::export_stage!({ty});
"#
        ),
        Kind::ScanPolicy => format!(
            r#"//! `{name}`: a Gantry scan policy. Pure: it gets the whole scan report and
//! decides; it can only log.

use gantry_sdk::types::{{Decision, ScanReport, Severity, Violation}};
use gantry_sdk::ScanPolicy;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {{
    /// Refuse images with more than this many critical vulnerabilities.
    #[serde(default)]
    max_critical: usize,
}}

struct {ty};

impl ScanPolicy for {ty} {{
    type Settings = Settings;

    fn evaluate(report: &ScanReport, settings: Settings) -> Decision {{
        let critical: Vec<Violation> = report
            .vulnerabilities
            .iter()
            .filter(|v| v.severity == Severity::Critical)
            .map(|v| Violation {{ rule: "max-critical".into(), severity: Severity::Critical, subject: v.id.clone(), message: format!("{{}} in {{}} {{}}", v.id, v.package_name, v.installed_version) }})
            .collect();
        let allowed = critical.len() <= settings.max_critical;
        Decision {{ allowed, violations: if allowed {{ vec![] }} else {{ critical }} }}
    }}
}}

gantry_sdk::export_scan_policy!({ty});
"#
        ),
        Kind::HealthCheck => format!(
            r#"//! `{name}`: a Gantry health check: one evaluation of one target's
//! release. The host calls it at every interval and applies thresholds.

use gantry_sdk::types::{{CheckReport, CheckRequest, CheckResult, Health}};
use gantry_sdk::HealthCheck;

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Settings {{
    #[serde(default)]
    path: Option<String>,
}}

struct {ty};

impl HealthCheck for {ty} {{
    type Settings = Settings;

    fn check(request: &CheckRequest, settings: Settings) -> CheckReport {{
        let path = settings.path.unwrap_or_else(|| "/health".into());
        gantry_sdk::info!("checking {{}} on {{}} ({{}})", request.release, request.target.name, path);
        CheckReport {{
            health: Health::Healthy,
            message: format!("{{}} looks healthy", request.release),
            checks: vec![CheckResult {{ name: "example".into(), passed: true, message: "replace me with real checks".into(), latency_ms: None }}],
        }}
    }}
}}

gantry_sdk::export_health_check!({ty});
"#
        ),
        Kind::CanaryAnalysis => format!(
            r#"//! `{name}`: a Gantry canary analysis, called at every interval of the
//! wait: continue, promote or abort.

use gantry_sdk::types::{{AnalysisDecision, AnalysisRequest, Verdict}};
use gantry_sdk::CanaryAnalysis;

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Settings {{}}

struct {ty};

impl CanaryAnalysis for {ty} {{
    type Settings = Settings;

    fn analyze(request: &AnalysisRequest, _settings: Settings) -> Verdict {{
        let decision = if request.interval >= request.intervals {{ AnalysisDecision::Promote }} else {{ AnalysisDecision::Continue }};
        Verdict {{ decision, score: 100.0, reasons: vec![format!("interval {{}} of {{}}", request.interval, request.intervals)] }}
    }}
}}

gantry_sdk::export_canary_analysis!({ty});
"#
        ),
    }
}
