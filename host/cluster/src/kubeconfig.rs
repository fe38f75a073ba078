//! kubeconfig targets (`kubeconfig: {path?, context}`): the file kubectl
//! would read (the given path, else every file of `$KUBECONFIG`, else
//! `~/.kube/config`), the named context, and kube-rs's own loading of it — so
//! exec credential plugins, client certificates, token files and in-cluster
//! config behave as kube-rs supports them. This file only turns a file into a
//! `kube::Config`; it must not connect, and its errors never quote credentials.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::ClusterError;

/// The files kubectl would read when no path is given: `$KUBECONFIG`'s list,
/// else `~/.kube/config`.
pub fn default_paths() -> Vec<PathBuf> {
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        return std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()).collect();
    }
    std::env::var_os("HOME").map(|h| vec![PathBuf::from(h).join(".kube").join("config")]).unwrap_or_default()
}

/// Read and merge the kubeconfig files (kubectl's rule: the first file
/// setting a value wins).
pub fn read(target: &str, path: Option<&Path>) -> Result<Kubeconfig, ClusterError> {
    let paths: Vec<PathBuf> = match path {
        Some(p) => vec![p.to_path_buf()],
        None => default_paths(),
    };
    let config_err = |message: String| ClusterError::Config { target: target.to_string(), message };
    let present: Vec<&PathBuf> = paths.iter().filter(|p| p.is_file()).collect();
    if present.is_empty() {
        let shown = if paths.is_empty() { "no kubeconfig path ($KUBECONFIG and $HOME are unset)".to_string() } else { paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ") };
        return Err(config_err(format!(
            "kubeconfig file not found: {shown}; set `kubeconfig: {{path: ...}}` on the target or KUBECONFIG to the file that has the context"
        )));
    }
    let mut merged: Option<Kubeconfig> = None;
    for p in present {
        let one = Kubeconfig::read_from(p).map_err(|e| config_err(format!("cannot read kubeconfig {}: {e}", p.display())))?;
        merged = Some(match merged {
            None => one,
            Some(m) => m.merge(one).map_err(|e| config_err(format!("cannot merge kubeconfig {}: {e}", p.display())))?,
        });
    }
    merged.ok_or_else(|| config_err("no kubeconfig".into()))
}

/// The kube-rs config of `context` in `kubeconfig`; an unknown context lists the known ones.
pub async fn config(target: &str, kubeconfig: Kubeconfig, context: &str, source: &str) -> Result<kube::Config, ClusterError> {
    let known: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
    if !known.iter().any(|c| c == context) {
        let list = if known.is_empty() { "it has none".to_string() } else { format!("it has: {}", known.join(", ")) };
        return Err(ClusterError::Config {
            target: target.to_string(),
            message: format!("context `{context}` is not in the kubeconfig {source} ({list}); set the target's `context:` to one of them"),
        });
    }
    let options = KubeConfigOptions { context: Some(context.to_string()), ..KubeConfigOptions::default() };
    kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| ClusterError::Config { target: target.to_string(), message: format!("context `{context}` of the kubeconfig {source} cannot be used: {e}") })
}

/// Read `path` (or the default files) and load `context`.
pub async fn load(target: &str, path: Option<&Path>, context: &str) -> Result<kube::Config, ClusterError> {
    let kubeconfig = read(target, path)?;
    let source = match path {
        Some(p) => p.display().to_string(),
        None => default_paths().iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":"),
    };
    config(target, kubeconfig, context, &source).await
}

/// kube-rs's in-cluster config (the pod's service account), for a target
/// whose kubeconfig context is `in-cluster` and no file has it.
pub fn in_cluster(target: &str) -> Result<kube::Config, ClusterError> {
    kube::Config::incluster().map_err(|e| ClusterError::Config {
        target: target.to_string(),
        message: format!("in-cluster config is unavailable ({e}); run inside a pod with a service account, or name a kubeconfig context"),
    })
}
