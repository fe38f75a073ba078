//! `gantry history [RUN_ID]`: past runs from the run records under the
//! state directory, newest first — id, start, duration, status, commit,
//! the image deployed and the stage that failed; with a run id (or a
//! unique prefix of one), that run's stage × target table and its errors.
//! `-f FILE`/`--demo` keep the runs of that pipeline (by its `name:`).
//! `--output json` prints one JSON document: an array of runs, or the run's
//! record. It reads records only (`gantry_engine::report`); it never
//! reaches a cluster. Exit 0, or 2 for a run id that names no single run
//! or an unreadable pipeline file.

use std::path::PathBuf;

use gantry_engine::exit;
use gantry_engine::report::{self, RunView};
use serde_json::json;

use crate::output::{self, Ctx, Format};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A run's id (or the start of one): print its stages × targets and errors.
    pub run_id: Option<String>,
    /// Only the runs of this pipeline file (matched by its `name:`).
    #[arg(short = 'f', long = "file", conflicts_with = "demo")]
    pub file: Option<PathBuf>,
    /// Only the runs of the embedded example pipeline.
    #[arg(long)]
    pub demo: bool,
    /// How many runs to list, newest first (0: all).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Where run records are read from.
    #[arg(long, default_value = ".gantry", env = "GANTRY_STATE_DIR")]
    pub state_dir: PathBuf,
}

pub fn run(args: Args, ctx: Ctx) -> i32 {
    if let Some(id) = &args.run_id {
        return match report::find(&args.state_dir, id) {
            Ok(run) => {
                show(&run, ctx);
                exit::SUCCESS
            }
            Err(e) => {
                output::error(ctx, &e.to_string());
                exit::BAD_INPUT
            }
        };
    }
    let pipeline = match pipeline_name(&args) {
        Ok(p) => p,
        Err(e) => {
            output::error(ctx, &e);
            return exit::BAD_INPUT;
        }
    };
    let all = match report::runs(&args.state_dir) {
        Ok(r) => r,
        Err(e) => {
            output::error(ctx, &format!("reading the run records in {}: {e}", args.state_dir.join("runs").display()));
            return exit::BAD_INPUT;
        }
    };
    for (path, why) in &all.unreadable {
        tracing::warn!(file = %path.display(), "skipped: {why}");
    }
    let limit = if args.limit == 0 { usize::MAX } else { args.limit };
    let runs: Vec<&RunView> = all.runs.iter().filter(|r| pipeline.as_ref().is_none_or(|p| &r.pipeline == p)).take(limit).collect();
    match ctx.format {
        Format::Json => println!("{}", serde_json::Value::Array(runs.iter().map(|r| row_json(r)).collect())),
        Format::Human if runs.is_empty() => eprintln!("no runs recorded in {}", args.state_dir.join("runs").display()),
        Format::Human => print!("{}", list(&runs)),
    }
    exit::SUCCESS
}

/// The `name:` of the pipeline the runs are filtered by, if any.
fn pipeline_name(args: &Args) -> Result<Option<String>, String> {
    let text = match (&args.file, args.demo) {
        (_, true) => super::demo::pipeline_text().to_string(),
        (Some(f), false) => std::fs::read_to_string(f).map_err(|e| format!("{}: cannot read the pipeline file: {e}", f.display()))?,
        (None, false) => return Ok(None),
    };
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| format!("{}: not YAML: {e}", args.file.as_ref().map(|f| f.display().to_string()).unwrap_or_else(|| format!("<embedded>/{}", super::demo::PIPELINE))))?;
    match doc.get("name").and_then(|n| n.as_str()) {
        Some(name) => Ok(Some(name.to_string())),
        None => Err(format!("{}: the pipeline has no `name:` to find its runs by", args.file.as_ref().map(|f| f.display().to_string()).unwrap_or_default())),
    }
}

/// One run as a row of `gantry history --output json`.
fn row_json(r: &RunView) -> serde_json::Value {
    json!({
        "run_id": r.run_id,
        "pipeline": r.pipeline,
        "started": r.started,
        "finished": r.finished,
        "duration_ms": r.duration_ms,
        "status": r.status,
        "exit_code": r.exit_code,
        "interrupted": r.interrupted,
        "revision": r.revision,
        "image": r.image(),
        "digest": r.digest(),
        "failed_stage": r.failed_stage,
        "targets": r.targets,
    })
}

/// The runs as a table, newest first.
fn list(runs: &[&RunView]) -> String {
    let header = ["RUN", "STARTED", "DURATION", "STATUS", "REVISION", "DIGEST", "FAILED STAGE"].map(String::from);
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let status = if r.interrupted { format!("{} (interrupted)", r.status) } else { r.status.clone() };
            vec![
                r.run_id.clone(),
                output::when(&r.started),
                output::duration(r.duration_ms),
                status,
                r.revision.clone().unwrap_or_else(|| "-".into()),
                r.digest().map(|d| output::short_digest(&d)).unwrap_or_else(|| "-".into()),
                r.failed_stage.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    output::table(&header, &rows)
}

/// One run: its record as JSON, or a heading, the stage table and errors.
fn show(run: &RunView, ctx: Ctx) {
    if ctx.format == Format::Json {
        println!("{}", serde_json::to_string(run).unwrap_or_else(|e| json!({ "event": "error", "message": e.to_string() }).to_string()));
        return;
    }
    let mut head = format!("run {} of {}: {} in {}, started {}", run.run_id, run.pipeline, run.status, output::duration(run.duration_ms), output::when(&run.started));
    if let Some(r) = &run.revision {
        head.push_str(&format!(", revision {r}"));
    }
    if let Some(image) = run.image() {
        head.push_str(&format!(", image {image}"));
    }
    if let Some(f) = &run.failed_stage {
        head.push_str(&format!("; failed at stage {f}"));
    }
    println!("{head}\n");
    print!("{}{}", output::stage_table(run), output::final_state(&run.final_state));
}
