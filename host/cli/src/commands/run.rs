//! `gantry run`: plan, then run with live progress; SIGINT/SIGTERM stop the
//! stages and run `on-failure` (a second signal stops that too). The exit
//! code says how it ended (0, 1, 2, 3, 4; see the README).

use std::path::PathBuf;
use std::sync::Arc;

use gantry_engine::event::Event;
use gantry_engine::RunOptions;
use tokio_util::sync::CancellationToken;

use crate::commands::{self, Source};
use crate::output::{self, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub source: Source,
    /// Where run records are written.
    #[arg(long, default_value = ".gantry", env = "GANTRY_STATE_DIR")]
    pub state_dir: PathBuf,
}

pub async fn run(args: Args, ctx: Ctx) -> i32 {
    let runtime = match commands::runtime(ctx) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let plan = match commands::plan(&args.source, &runtime, ctx) {
        Ok(p) => Arc::new(p),
        Err(code) => return code,
    };
    let events = output::sink(ctx);
    let cancel = CancellationToken::new();
    let abort = CancellationToken::new();
    spawn_signal_handler(cancel.clone(), abort.clone(), events.clone());

    let revision = args.source.vars().get("CI_COMMIT_SHA").map(String::from);
    let outcome = gantry_engine::run(plan, runtime, RunOptions { state_dir: args.state_dir, cancel, abort, events, revision }).await;
    output::summary(ctx, &outcome);
    outcome.status.exit_code()
}

/// First signal: cancel the stages. Second: abort on-failure too.
fn spawn_signal_handler(cancel: CancellationToken, abort: CancellationToken, events: gantry_engine::EventSink) {
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            let name = match next_signal().await {
                Some(n) => n,
                None => return,
            };
            count += 1;
            tracing::warn!(signal = name, "received signal");
            events(&Event::Interrupted { signal: name.to_string() });
            if count == 1 {
                cancel.cancel();
            } else {
                abort.cancel();
                return;
            }
        }
    });
}

#[cfg(unix)]
async fn next_signal() -> Option<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok()?;
    let mut int = signal(SignalKind::interrupt()).ok()?;
    tokio::select! {
        _ = int.recv() => Some("SIGINT"),
        _ = term.recv() => Some("SIGTERM"),
    }
}

#[cfg(not(unix))]
async fn next_signal() -> Option<&'static str> {
    tokio::signal::ctrl_c().await.ok().map(|_| "Ctrl-C")
}
