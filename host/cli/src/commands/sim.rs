//! `gantry sim up`: the simulated clouds in the foreground — an EKS-flavoured
//! `aws` and a GKE-flavoured `gcp` cluster with their control plane — until
//! SIGINT or SIGTERM. Prints where things are; credentials stay in the files
//! it writes (kubeconfig, service-account key, env file).

use std::path::PathBuf;

use gantry_engine::exit;

use crate::output::{self, Ctx, Format};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Run the simulated clouds until interrupted.
    Up {
        /// Where the kubeconfig, key file and env file are written.
        #[arg(long, default_value = ".gantry/sim")]
        dir: PathBuf,
    },
}

pub async fn run(cmd: Command, ctx: Ctx) -> i32 {
    let Command::Up { dir } = cmd;
    let estate = match gantry_sim::Estate::start(&dir).await {
        Ok(e) => e,
        Err(e) => {
            output::error(ctx, &format!("cannot start the simulated clouds: {e}"));
            return exit::INTERNAL;
        }
    };
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({
                "event": "sim-ready",
                "aws": estate.aws.url(), "gcp": estate.gcp.url(), "control_plane": estate.control_plane.url(),
                "kubeconfig": estate.kubeconfig.display().to_string(),
                "key_file": estate.key_file.display().to_string(),
                "env_file": estate.env_file.display().to_string(),
            })
        ),
        Format::Human => {
            print!("{}", estate.summary());
            println!("ready; Ctrl-C to stop");
        }
    }
    wait_for_signal().await;
    estate.shutdown().await;
    0
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
