//! `gantry validate`: everything `run` checks before it starts — the file,
//! every plugin (loaded and linked), every grant — then the plan: each stage
//! against each target. Exit 0 when runnable, 2 when not.

use crate::commands::{self, Source};
use crate::output::{Ctx, Format};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub source: Source,
}

pub fn run(args: Args, ctx: Ctx) -> i32 {
    let runtime = match commands::runtime(ctx) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let plan = match commands::plan(&args.source, &runtime, ctx) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let targets: Vec<&str> = plan.targets.iter().map(|t| t.name.as_str()).collect();
    let stages: Vec<&gantry_engine::PlannedStage> = plan.stages.iter().chain(plan.on_failure.iter()).collect();
    if ctx.format == Format::Json {
        let json = serde_json::json!({
            "event": "plan",
            "pipeline": plan.pipeline.spec.name,
            "file": plan.pipeline.file.display().to_string(),
            "targets": plan.targets,
            "stages": stages.iter().map(|s| serde_json::json!({
                "name": s.name,
                "uses": s.uses,
                "digest": s.plugin.digest,
                "world": s.plugin.world.name(),
                "grants": s.grants.iter().map(|g| g.name()).collect::<Vec<_>>(),
                "imports": s.plugin.capabilities().iter().map(|g| g.name()).collect::<Vec<_>>(),
                "once": s.once,
                "on_failure": s.field == "on-failure",
                "timeout_ms": s.limits.timeout.as_millis() as u64,
                "memory": s.limits.memory,
            })).collect::<Vec<_>>(),
        });
        println!("{json}");
        return 0;
    }
    let name_w = stages.iter().map(|s| s.name.len()).chain([5]).max().unwrap_or(5);
    let uses_w = stages.iter().map(|s| s.uses.len()).chain([4]).max().unwrap_or(4);
    let caps = |s: &gantry_engine::PlannedStage| {
        let c: Vec<&str> = s.plugin.capabilities().iter().map(|c| c.name()).collect();
        if c.is_empty() { "-".to_string() } else { c.join(",") }
    };
    let caps_w = stages.iter().map(|s| caps(s).len()).chain([12]).max().unwrap_or(12);
    let cell = |s: &gantry_engine::PlannedStage| if s.field == "on-failure" { "if-failed" } else if s.once { "once" } else { "run" };
    let cell_w: Vec<usize> = targets.iter().map(|t| t.len().max(if plan.on_failure.is_some() { 9 } else { 4 })).collect();
    println!("pipeline {} ({}): {} stages × {} targets — valid", plan.pipeline.spec.name, plan.pipeline.file.display(), plan.stages.len(), targets.len());
    let mut header = format!("{:name_w$}  {:uses_w$}  {:caps_w$}", "STAGE", "USES", "CAPABILITIES");
    for (t, w) in targets.iter().zip(&cell_w) {
        header.push_str(&format!("  {:w$}", t.to_uppercase(), w = *w));
    }
    println!("{header}");
    for s in &stages {
        let mut line = format!("{:name_w$}  {:uses_w$}  {:caps_w$}", s.name, s.uses, caps(s));
        for w in &cell_w {
            line.push_str(&format!("  {:w$}", cell(s), w = *w));
        }
        println!("{line}");
    }
    0
}
