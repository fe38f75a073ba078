//! `gantry`: the command line. Parses arguments, sets up logging, loads the
//! pipeline through the engine and draws its events. It decides nothing
//! about pipelines itself: every rule lives in the engine or the runtime.

mod commands;
mod output;

use clap::{Parser, Subcommand};

use gantry_engine::exit;

#[derive(Parser)]
#[command(name = "gantry", version, about = "Canary deployments across Kubernetes clusters, with every stage a sandboxed WebAssembly plugin")]
struct Cli {
    /// More log detail on stderr (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors and the final result.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// `human` (progress and tables) or `json` (one event per line on stdout).
    #[arg(long, global = true, value_enum, default_value_t = output::Format::Human)]
    output: output::Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pipeline.
    Run(commands::run::Args),
    /// Check the pipeline file, load every plugin, check grants, print the plan.
    Validate(commands::validate::Args),
    /// Write and inspect plugins.
    #[command(subcommand)]
    Plugin(commands::plugin::Command),
    /// Scan policies: `policy test POLICY --report FILE --expect allow|deny`.
    #[command(subcommand)]
    Policy(commands::policy::Command),
    /// Simulated clouds: Kubernetes API servers with EKS and GKE control planes.
    #[command(subcommand)]
    Sim(commands::sim::Command),
    /// Helm, natively: `template` prints what `helm template` prints; `install`, `upgrade`, `rollback`, `uninstall`, `status`, `history` and `get` act on releases Helm reads.
    #[command(subcommand)]
    Helm(Box<commands::helm::Command>),
    /// Scan an image: packages, known vulnerabilities and secrets; a table, JSON, SARIF or an SBOM.
    Scan(commands::scan::Args),
    /// The local advisory database `gantry scan` matches from: `import` OSV advisories, `status`.
    #[command(subcommand)]
    Db(commands::db::Command),
    /// Past runs from the run records, newest first; with a run id, that run's stages × targets and errors.
    History(commands::history::Args),
    /// Per target: the stable and canary releases, their image digests and health, and the last run.
    Status(commands::status::Args),
    /// Per target: what the deploy stages would change — the rendered chart diffed against the live release (exit 0 no changes, 1 changes, 2 bad input).
    Plan(commands::plan::Args),
}

fn main() {
    let cli = Cli::parse();
    output::init_tracing(cli.verbose, cli.quiet, cli.output);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(exit::INTERNAL);
        }
    };
    let ctx = output::Ctx { format: cli.output, quiet: cli.quiet, verbose: cli.verbose > 0 };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => commands::run::run(args, ctx).await,
            Command::Validate(args) => commands::validate::run(args, ctx),
            Command::Plugin(cmd) => commands::plugin::run(cmd, ctx),
            Command::Policy(cmd) => commands::policy::run(cmd, ctx).await,
            Command::Sim(cmd) => commands::sim::run(cmd, ctx).await,
            Command::Helm(cmd) => commands::helm::run(*cmd, matches!(ctx.format, output::Format::Json)).await,
            Command::Scan(args) => commands::scan::run(args, ctx).await,
            Command::Db(cmd) => commands::db::run(cmd, ctx),
            Command::History(args) => commands::history::run(args, ctx),
            Command::Status(args) => commands::status::run(args, ctx).await,
            Command::Plan(args) => commands::plan::run(args, ctx).await,
        }
    });
    // Plugins still sleeping after an interrupt must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}
