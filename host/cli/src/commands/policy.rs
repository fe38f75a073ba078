//! `gantry policy test POLICY --report FILE --expect allow|deny [--settings JSON]`:
//! for policy authors, runs a scan policy (`builtin:NAME` or a `.wasm` file)
//! on a saved report (the JSON `gantry scan --format json` prints) and says
//! whether it decided as expected. Exit 0 when it did, 1 when not, 2 on bad
//! input (unreadable report or settings, a policy that cannot be loaded or
//! fails). It only reads: no image, registry or cluster is touched.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_engine::exit;
use gantry_scan::model::Report;
use gantry_scan::policy::{self, Decision};

use crate::commands;
use crate::output::{self, Ctx, Format};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Run a scan policy on a saved report and check its decision.
    Test(TestArgs),
}

#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// `builtin:NAME` or a path to a `.wasm` scan-policy component (`@sha256:…` pins it).
    pub policy: String,
    /// A report as JSON (what `gantry scan --format json` prints).
    #[arg(long)]
    pub report: PathBuf,
    /// The decision the policy must reach.
    #[arg(long, value_enum)]
    pub expect: Expect,
    /// The policy's settings as JSON (default `{}`).
    #[arg(long, default_value = "{}")]
    pub settings: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Expect {
    Allow,
    Deny,
}

pub async fn run(cmd: Command, ctx: Ctx) -> i32 {
    match cmd {
        Command::Test(args) => test(args, ctx).await,
    }
}

fn read_report(path: &Path) -> Result<Report, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read report {}: {e}", path.display()))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        format!("report {}: `{}`: {}; give the JSON that `gantry scan IMAGE --format json` prints", path.display(), e.path(), e.inner())
    })
}

async fn test(args: TestArgs, ctx: Ctx) -> i32 {
    let report = match read_report(&args.report) {
        Ok(r) => r,
        Err(m) => {
            output::error(ctx, &m);
            return exit::BAD_INPUT;
        }
    };
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&args.settings) {
        output::error(ctx, &format!("--settings is not JSON: {e}; write e.g. --settings '{{\"max-severity\": \"high\"}}'"));
        return exit::BAD_INPUT;
    }
    let runtime = match commands::runtime(ctx) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let loaded = match policy::load(&runtime, &args.policy, Path::new(".")) {
        Ok(p) => p,
        Err(e) => {
            output::error(ctx, &e.to_string());
            return exit::BAD_INPUT;
        }
    };
    let human = ctx.format == Format::Human;
    let env = policy::pure_env(Arc::new(move |line| {
        if human {
            eprintln!("policy: {}", line.message);
        }
    }));
    let decision = match policy::evaluate(&runtime, &loaded, &env, &report, &args.settings).await {
        Ok(d) => d,
        Err(e) => {
            output::error(ctx, &e.to_string());
            return exit::BAD_INPUT;
        }
    };
    let held = decision.allowed == (args.expect == Expect::Allow);
    print(ctx, &args, &decision, held);
    if held {
        exit::SUCCESS
    } else {
        exit::FAILED
    }
}

fn print(ctx: Ctx, args: &TestArgs, d: &Decision, held: bool) {
    let decided = if d.allowed { "allow" } else { "deny" };
    let expected = match args.expect {
        Expect::Allow => "allow",
        Expect::Deny => "deny",
    };
    if ctx.format == Format::Json {
        println!("{}", serde_json::json!({ "policy": args.policy, "decision": decided, "expected": expected, "as_expected": held, "violations": d.violations }));
        return;
    }
    println!("policy:     {}", args.policy);
    println!("decision:   {decided} ({} violation{})", d.violations.len(), if d.violations.len() == 1 { "" } else { "s" });
    for line in d.violation_lines() {
        println!("  - {line}");
    }
    if held {
        println!("expected:   {expected}: ok");
    } else {
        println!("expected:   {expected}: the policy decided {decided}");
    }
}
