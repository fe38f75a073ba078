//! `gantry sim up`: the simulated clouds in the foreground — by default an
//! EKS-flavoured `aws` and a GKE-flavoured `gcp` cluster, or the clusters
//! `--cluster` names — with their control plane, until SIGINT or SIGTERM.
//! Prints where things are; credentials stay in the files it writes
//! (kubeconfig, service-account key, env file).
//!
//! Like `gantry run --sim`'s estate, every cluster gets simulated users
//! (`--traffic` requests per second to every Service) and, when the
//! `prometheus` binary is installed (`GANTRY_PROMETHEUS`, else PATH) and
//! `--no-prometheus` is not given, a real Prometheus of its own scraping
//! its pods; the env file names each one's URL as `PROMETHEUS_URL_<CLUSTER>`
//! (`PROMETHEUS_URL_AWS`), for a pipeline's `metrics.prometheus`.
//! `--registry HOST:PORT` names a registry on loopback whose images the
//! simulated kubelets resolve (plain HTTP, anonymous), so pods prove the
//! pushed image is there. This file must not run stages.

use std::path::PathBuf;

use gantry_engine::exit;
use gantry_sim::estate::{self, ClusterSpec};

use crate::output::{self, Ctx, Format};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Run the simulated clouds until interrupted.
    Up {
        /// Where the kubeconfig, key file and env file are written.
        #[arg(long, default_value = ".gantry/sim")]
        dir: PathBuf,
        /// A cluster to run instead of the default two (repeatable):
        /// `NAME=eks[:REGION]`, `NAME=gke[:PROJECT/LOCATION]` or `NAME=plain`.
        #[arg(long = "cluster", value_name = "NAME=KIND", value_parser = parse_cluster)]
        clusters: Vec<ClusterSpec>,
        /// Requests per second the simulated users send to every Service (`0`: annotated Services only).
        #[arg(long, value_name = "RPS", default_value_t = crate::commands::run::SIM_TRAFFIC)]
        traffic: f64,
        /// Start no Prometheus, even when the `prometheus` binary is installed.
        #[arg(long)]
        no_prometheus: bool,
        /// A registry on loopback (`127.0.0.1:5000`, plain HTTP, anonymous) the simulated kubelets pull from (repeatable).
        #[arg(long = "registry", value_name = "HOST:PORT")]
        registries: Vec<String>,
    },
}

/// `prod=eks:us-east-1`, `edge=gke:acme/europe-west4`, `lab=plain`; the
/// region, project and location default to the default estate's.
fn parse_cluster(s: &str) -> Result<ClusterSpec, String> {
    let (name, kind) = s.split_once('=').ok_or_else(|| format!("`{s}` is not NAME=KIND: write e.g. `prod=eks:us-east-1`, `edge=gke:my-project/europe-west4` or `lab=plain`"))?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("`{name}` is not a cluster name: use letters, digits and `-`"));
    }
    let (kind, place) = kind.split_once(':').map_or((kind, None), |(k, p)| (k, Some(p)));
    match (kind, place) {
        ("eks", region) => Ok(ClusterSpec::eks(name, region.unwrap_or(estate::AWS_REGION))),
        ("gke", None) => Ok(ClusterSpec::gke(name, estate::GCP_PROJECT, estate::GCP_REGION)),
        ("gke", Some(place)) => match place.split_once('/') {
            Some((project, location)) if !project.is_empty() && !location.is_empty() => Ok(ClusterSpec::gke(name, project, location)),
            _ => Err(format!("`{place}` is not PROJECT/LOCATION: write e.g. `gke:my-project/europe-west4`")),
        },
        ("plain", None) => Ok(ClusterSpec::plain(name)),
        _ => Err(format!("`{kind}` is not a kind of simulated cluster: use `eks[:REGION]`, `gke[:PROJECT/LOCATION]` or `plain`")),
    }
}

pub async fn run(cmd: Command, ctx: Ctx) -> i32 {
    let Command::Up { dir, clusters, traffic, no_prometheus, registries } = cmd;
    let clusters = if clusters.is_empty() { estate::default_clusters() } else { clusters };
    if !(traffic.is_finite() && traffic >= 0.0) {
        output::error(ctx, &format!("--traffic {traffic} is not a rate: give requests per second, 0 or more (e.g. 10)"));
        return exit::BAD_INPUT;
    }
    let prometheus = if no_prometheus {
        None
    } else {
        match gantry_sim::prometheus::find_binary() {
            Ok(found) => found,
            Err(e) => {
                output::error(ctx, &e.to_string());
                return exit::BAD_INPUT;
            }
        }
    };
    let options = estate::EstateOptions { traffic: (traffic > 0.0).then_some(traffic), prometheus, pull_from: registries };
    let estate = match gantry_sim::Estate::start_clusters_with(&dir, &clusters, &options).await {
        Ok(e) => e,
        Err(e) => {
            output::error(ctx, &format!("cannot start the simulated clouds: {e}"));
            return exit::INTERNAL;
        }
    };
    announce(ctx, &estate);
    println_human(ctx, "ready; Ctrl-C to stop");
    wait_for_signal().await;
    estate.shutdown().await;
    0
}

fn println_human(ctx: Ctx, line: &str) {
    if ctx.format == Format::Human {
        println!("{line}");
    }
}

/// Says where a started estate is: a `sim-ready` JSON event, or its summary for people.
pub fn announce(ctx: Ctx, estate: &gantry_sim::Estate) {
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({
                "event": "sim-ready",
                "clusters": estate.clusters.iter().map(|c| (c.spec.name.clone(), serde_json::Value::from(c.server.url()))).collect::<serde_json::Map<_, _>>(),
                "metrics": estate.clusters.iter().map(|c| (c.spec.name.clone(), serde_json::Value::from(c.server.metrics_url()))).collect::<serde_json::Map<_, _>>(),
                "prometheus": estate.prometheus.iter().map(|(name, p)| (name.clone(), serde_json::Value::from(p.url()))).collect::<serde_json::Map<_, _>>(),
                "control_plane": estate.control_plane.url(),
                "registries": estate.registries().into_iter().map(|(host, url)| (host, serde_json::Value::from(url))).collect::<serde_json::Map<_, _>>(),
                "kubeconfig": estate.kubeconfig.display().to_string(),
                "key_file": estate.key_file.display().to_string(),
                "env_file": estate.env_file.display().to_string(),
            })
        ),
        Format::Human if ctx.quiet => {}
        Format::Human => print!("{}", estate.summary()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_sim::estate::Flavour;

    #[test]
    fn cluster_flags_read_like_the_clouds_name_them() {
        assert_eq!(parse_cluster("prod=eks:us-east-1").unwrap(), ClusterSpec::eks("prod", "us-east-1"));
        assert_eq!(parse_cluster("prod=eks").unwrap().flavour, Flavour::Eks { region: estate::AWS_REGION.into() });
        assert_eq!(parse_cluster("edge=gke:acme/europe-west4").unwrap(), ClusterSpec::gke("edge", "acme", "europe-west4"));
        assert_eq!(parse_cluster("lab=plain").unwrap(), ClusterSpec::plain("lab"));
        assert!(parse_cluster("prod").unwrap_err().contains("NAME=KIND"));
        assert!(parse_cluster("prod=aks").unwrap_err().contains("`aks` is not a kind"));
        assert!(parse_cluster("edge=gke:acme").unwrap_err().contains("PROJECT/LOCATION"));
        assert!(parse_cluster("a b=plain").unwrap_err().contains("not a cluster name"));
    }
}
