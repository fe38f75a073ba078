//! Runs one simulated cluster's API server in the foreground until Ctrl-C,
//! writing a kubeconfig (admin bearer token, the cluster's CA) to the path
//! given as the first argument (default `./sim-kubeconfig`), so any client —
//! kubectl, Helm, kube-rs — can be pointed at it by hand. Until `gantry sim up`
//! exists this is the way to poke at the server; it only binds 127.0.0.1.
//!
//! ```sh
//! cargo run -p gantry-sim --example serve -- /tmp/sim.kubeconfig
//! KUBECONFIG=/tmp/sim.kubeconfig kubectl get ns
//! ```

use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::kubeconfig;
use gantry_sim::{ApiServer, ServerConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "sim-kubeconfig".into());
    let token = format!("sim-{}", hex::encode(rand::random::<[u8; 16]>()));
    let auth = Authenticator::default();
    auth.add_token(&token, Identity::admin("admin"));
    let server = ApiServer::start(ServerConfig::new("sim", auth)).await?;
    std::fs::write(&path, kubeconfig::render(&[server.kubeconfig_entry(&token)])?)?;
    println!("API server: {}\nkubeconfig: {path}\nCtrl-C stops it.", server.url());
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
