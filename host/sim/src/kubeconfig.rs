//! Kubeconfig files for simulated clusters: one cluster entry (server URL and
//! the cluster's CA, base64 as `certificate-authority-data`), one bearer-token
//! user and one context per cluster, in the YAML kubectl, kube-rs and Helm
//! read. This file only renders text; it must not write files or pick tokens.

use base64::Engine;
use serde_json::{json, Value};

/// What a kubeconfig needs to reach one simulated cluster.
#[derive(Debug, Clone)]
pub struct KubeconfigEntry {
    /// Used as the cluster, user and context name.
    pub name: String,
    /// `https://127.0.0.1:PORT`
    pub server: String,
    pub ca_pem: String,
    pub token: String,
    /// The context's default namespace, if any.
    pub namespace: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("rendering the kubeconfig: {0}")]
pub struct KubeconfigError(#[from] serde_yaml::Error);

/// A kubeconfig with every entry; the current context is the first one.
pub fn render(entries: &[KubeconfigEntry]) -> Result<String, KubeconfigError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let clusters: Vec<Value> = entries
        .iter()
        .map(|e| json!({"name": e.name, "cluster": {"server": e.server, "certificate-authority-data": b64.encode(&e.ca_pem)}}))
        .collect();
    let users: Vec<Value> = entries.iter().map(|e| json!({"name": e.name, "user": {"token": e.token}})).collect();
    let contexts: Vec<Value> = entries.iter().map(context).collect();
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": clusters,
        "users": users,
        "contexts": contexts,
        "current-context": entries.first().map(|e| e.name.clone()).unwrap_or_default(),
    });
    Ok(serde_yaml::to_string(&doc)?)
}

fn context(e: &KubeconfigEntry) -> Value {
    let mut ctx = json!({"cluster": e.name, "user": e.name});
    if let Some(ns) = &e.namespace {
        ctx["namespace"] = json!(ns);
    }
    json!({"name": e.name, "context": ctx})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_context_per_cluster_with_ca_data_and_token() {
        let entry = |n: &str| KubeconfigEntry {
            name: n.into(),
            server: "https://127.0.0.1:1".into(),
            ca_pem: "PEM".into(),
            token: format!("tok-{n}"),
            namespace: None,
        };
        let text = render(&[entry("aws"), entry("gcp")]).unwrap();
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(doc["current-context"], "aws");
        assert_eq!(doc["contexts"].as_array().unwrap().len(), 2);
        assert_eq!(doc["users"][1]["user"]["token"], "tok-gcp");
        assert_eq!(doc["clusters"][0]["cluster"]["certificate-authority-data"], "UEVN");
    }
}
