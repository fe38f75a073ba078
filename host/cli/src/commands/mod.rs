//! One module per subcommand, plus what `run` and `validate` share: finding
//! the pipeline file (or the embedded demo), the variables, the runtime and
//! the plan.

pub mod db;
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

/// The embedded default pipeline: `examples/hello/gantry.yaml`.
pub const DEMO: &str = include_str!("../../../../examples/hello/gantry.yaml");
pub const DEMO_NAME: &str = "<embedded>/examples/hello/gantry.yaml";

/// Where the pipeline comes from.
#[derive(clap::Args, Debug)]
pub struct Source {
    /// The pipeline file.
    #[arg(short = 'f', long = "file", default_value = "gantry.yaml", conflicts_with = "demo")]
    pub file: PathBuf,
    /// Use the embedded example pipeline (simulated targets; no cloud account).
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
    pub fn vars(&self) -> Vars {
        self.vars_over(&[])
    }

    /// The environment over `defaults`, then `--var` over both.
    pub fn vars_over(&self, defaults: &[(&str, String)]) -> Vars {
        let mut vars = Vars::from_env();
        for (k, v) in defaults {
            if vars.get(k).is_none() {
                vars.set(k, v);
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
    plan_with(source, &source.vars(), runtime, ctx)
}

/// [`plan`] with the variables given.
pub fn plan_with(source: &Source, vars: &Vars, runtime: &Runtime, ctx: Ctx) -> Result<Plan, i32> {
    let pipeline = if source.demo {
        gantry_engine::pipeline::parse(Path::new(DEMO_NAME), Path::new("."), DEMO, vars)
    } else {
        gantry_engine::load(&source.file, vars)
    };
    let pipeline = pipeline.map_err(|d| {
        output::diagnostics(ctx, &d);
        exit::BAD_INPUT
    })?;
    gantry_engine::plan(pipeline, runtime).map_err(|d| {
        output::diagnostics(ctx, &d);
        exit::BAD_INPUT
    })
}
