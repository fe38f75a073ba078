//! One module per subcommand, plus what `run` and `validate` share: finding
//! the pipeline file (or the embedded demo), the variables, the runtime and
//! the plan.

pub mod db;
pub mod demo;
pub mod helm;
pub mod history;
pub mod images;
pub mod plan;
pub mod plugin;
pub mod policy;
pub mod release;
pub mod run;
pub mod scan;
pub mod sim;
pub mod status;
pub mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_engine::{exit, Plan, Vars};
use gantry_runtime::{Runtime, RuntimeConfig};

use crate::output::{self, Ctx};

/// Where the pipeline comes from.
#[derive(clap::Args, Debug)]
pub struct Source {
    /// The pipeline file.
    #[arg(short = 'f', long = "file", default_value = "gantry.yaml", conflicts_with = "demo")]
    pub file: PathBuf,
    /// Use the embedded default: the request's pipeline (examples/fastapi-app) on simulated clouds; no cloud account, no Docker.
    #[arg(long)]
    pub demo: bool,
    /// Set a variable, overriding the environment (repeatable): `--var IMAGE_NAME=app`.
    #[arg(long = "var", value_name = "K=V", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not K=V (a variable name, `=`, a value)")),
    }
}

impl Source {
    /// The environment over `defaults` (and the demo's, with `--demo`), then `--var` over both.
    pub fn vars_over(&self, defaults: &[(&str, String)]) -> Vars {
        let mut vars = Vars::from_env();
        let demo = demo::VARIABLES.iter().filter(|_| self.demo).map(|(k, v)| (*k, v.to_string()));
        for (k, v) in defaults.iter().cloned().chain(demo) {
            if vars.get(k).is_none() {
                vars.set(k, &v);
            }
        }
        for (k, v) in &self.vars {
            vars.set(k, v);
        }
        vars
    }
}

pub fn runtime(ctx: Ctx) -> Result<Arc<Runtime>, i32> {
    Runtime::new(RuntimeConfig { cache_dir: gantry_runtime::cache::default_dir() }).map(Arc::new).map_err(|e| {
        output::error(ctx, &format!("cannot start the WebAssembly runtime: {e:#}"));
        exit::INTERNAL
    })
}

/// Load, check and plan the pipeline; print diagnostics and return exit 2 on bad input.
pub fn plan(source: &Source, runtime: &Runtime, ctx: Ctx) -> Result<Plan, i32> {
    let state_dir = demo::default_state_dir();
    // The demo's clouds are simulated: their names default to the estate's.
    let defaults = if source.demo { gantry_sim::estate::default_variables(&state_dir.join("sim").join(gantry_sim::estate::KEY_FILE)) } else { Vec::new() };
    plan_with(source, &source.vars_over(&defaults), &state_dir, runtime, ctx)
}

/// Read, expand and check the pipeline file (with `--demo`, the embedded
/// one written under `<state_dir>/demo/`), without loading its plugins;
/// diagnostics printed and exit 2 on bad input.
pub fn load(source: &Source, vars: &Vars, state_dir: &Path, ctx: Ctx) -> Result<gantry_engine::Pipeline, i32> {
    let file = if source.demo {
        demo::materialize(state_dir).map_err(|e| {
            output::error(ctx, &e);
            exit::BAD_INPUT
        })?
    } else {
        source.file.clone()
    };
    gantry_engine::load(&file, vars).map_err(|d| {
        output::diagnostics(ctx, &d);
        exit::BAD_INPUT
    })
}

/// [`plan`] with the variables given; `state_dir` is where `--demo` writes its files.
pub fn plan_with(source: &Source, vars: &Vars, state_dir: &Path, runtime: &Runtime, ctx: Ctx) -> Result<Plan, i32> {
    let pipeline = load(source, vars, state_dir, ctx)?;
    gantry_engine::plan(pipeline, runtime).map_err(|d| {
        output::diagnostics(ctx, &d);
        exit::BAD_INPUT
    })
}
