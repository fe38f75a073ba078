//! A real Prometheus for a simulated cluster: finds the `prometheus`
//! binary (`GANTRY_PROMETHEUS`, else on PATH), writes a configuration that
//! scrapes the cluster's pod-metrics endpoint every `scrape_interval`,
//! starts it on a free 127.0.0.1 port with its data under the given
//! directory, waits until it answers `/-/ready`, and kills it (by its pid,
//! through the child handle) when dropped. One per cluster, as each real
//! cluster has its own, so a target's queries see only its own pods. This
//! file must not start anything but that binary, nor listen beyond
//! 127.0.0.1.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Names the Prometheus binary to use instead of the one on PATH.
pub const BINARY_VAR: &str = "GANTRY_PROMETHEUS";
/// How long a starting Prometheus may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    #[error("{var}={path} does not name a file: point it at a `prometheus` binary, or unset it", var = BINARY_VAR)]
    NotAFile { path: PathBuf },
    #[error("writing the Prometheus configuration {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("finding a free port for Prometheus: {0}")]
    Port(std::io::Error),
    #[error("starting {binary}: {source}")]
    Spawn { binary: PathBuf, source: std::io::Error },
    #[error("Prometheus ({binary}) was not ready within {seconds}s; its log is {log}")]
    NotReady { binary: PathBuf, seconds: u64, log: PathBuf },
}

/// The Prometheus binary: `GANTRY_PROMETHEUS`, else `prometheus` on PATH; None when neither.
pub fn find_binary() -> Result<Option<PathBuf>, PrometheusError> {
    if let Some(path) = std::env::var_os(BINARY_VAR).filter(|v| !v.is_empty()).map(PathBuf::from) {
        return if path.is_file() { Ok(Some(path)) } else { Err(PrometheusError::NotAFile { path }) };
    }
    Ok(std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).map(|d| d.join("prometheus")).find(|p| p.is_file()))
}

/// A running Prometheus; dropping it kills it.
pub struct SimPrometheus {
    child: tokio::process::Child,
    addr: SocketAddr,
    /// Its configuration, data and log.
    pub dir: PathBuf,
}

/// The configuration scraping `target` (host:port of a `/metrics` endpoint).
pub fn config(target: &str, cluster: &str, scrape_interval: Duration) -> String {
    let every = format!("{}ms", scrape_interval.as_millis().max(1));
    format!(
        "global:\n  scrape_interval: {every}\n  evaluation_interval: {every}\nscrape_configs:\n  - job_name: gantry-sim\n    scrape_interval: {every}\n    scrape_timeout: {every}\n    static_configs:\n      - targets: ['{target}']\n        labels:\n          cluster: '{}'\n",
        cluster.replace('\'', "")
    )
}

fn free_port() -> Result<u16, PrometheusError> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(PrometheusError::Port)?;
    Ok(listener.local_addr().map_err(PrometheusError::Port)?.port())
}

/// Whether `GET /-/ready` answers 200.
async fn ready(addr: SocketAddr) -> bool {
    let Ok(mut tcp) = tokio::net::TcpStream::connect(addr).await else { return false };
    if tcp.write_all(b"GET /-/ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await.is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

impl SimPrometheus {
    /// Start `binary` scraping `target` (the cluster's metrics `host:port`) into `dir`.
    pub async fn start(binary: &Path, dir: &Path, cluster: &str, target: &str, scrape_interval: Duration) -> Result<SimPrometheus, PrometheusError> {
        let write = |path: PathBuf, text: &str| std::fs::write(&path, text).map_err(|source| PrometheusError::Write { path, source });
        // A fresh TSDB: a run's queries must not see an earlier run's pods.
        if dir.join("data").exists() {
            std::fs::remove_dir_all(dir.join("data")).map_err(|source| PrometheusError::Write { path: dir.join("data"), source })?;
        }
        std::fs::create_dir_all(dir.join("data")).map_err(|source| PrometheusError::Write { path: dir.join("data"), source })?;
        let config_file = dir.join("prometheus.yml");
        write(config_file.clone(), &config(target, cluster, scrape_interval))?;
        let log_path = dir.join("prometheus.log");
        let log = std::fs::File::create(&log_path).map_err(|source| PrometheusError::Write { path: log_path.clone(), source })?;
        let err_log = log.try_clone().map_err(|source| PrometheusError::Write { path: log_path.clone(), source })?;
        let port = free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let child = tokio::process::Command::new(binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--storage.tsdb.retention.time=1d")
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| PrometheusError::Spawn { binary: binary.to_path_buf(), source })?;
        let mut running = SimPrometheus { child, addr, dir: dir.to_path_buf() };
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if ready(addr).await {
                tracing::info!(%cluster, url = %running.url(), "prometheus scraping the simulated cluster");
                return Ok(running);
            }
            let exited = matches!(running.child.try_wait(), Ok(Some(_)));
            if exited || tokio::time::Instant::now() >= deadline {
                running.kill().await;
                return Err(PrometheusError::NotReady { binary: binary.to_path_buf(), seconds: READY_TIMEOUT.as_secs(), log: log_path });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:PORT`: the base URL of its HTTP API.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Kill it and wait for it to go.
    pub async fn kill(&mut self) {
        if let Err(e) = self.child.kill().await {
            tracing::debug!(error = %e, "stopping prometheus");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_configuration_scrapes_the_one_endpoint_with_its_cluster_label() {
        let text = super::config("127.0.0.1:4321", "aws", std::time::Duration::from_secs(1));
        assert!(text.contains("scrape_interval: 1000ms"), "{text}");
        assert!(text.contains("targets: ['127.0.0.1:4321']") && text.contains("cluster: 'aws'"), "{text}");
    }
}
