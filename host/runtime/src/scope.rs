//! The reach of one stage: which targets, namespace, releases and URLs its
//! host calls may touch. Every capability checks its arguments here first;
//! a call outside the scope is `denied`, and the denial goes into the run log.

use crate::bindings::wit::types::{CapError, ErrorKind};

/// What a stage's host calls may touch.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Targets the call runs for (one for a per-target stage, all for a
    /// stage that runs once).
    pub targets: Vec<String>,
    /// The release's namespace.
    pub namespace: String,
    /// Release names the stage may operate (`NAME` and `NAME-canary`).
    pub releases: Vec<String>,
    /// URL prefixes `http-probe` may GET directly (from the stage's `with.urls`).
    pub urls: Vec<String>,
    /// Registries (host[:port]) the stage's image may live in: the targets'.
    pub registries: Vec<String>,
}

impl Scope {
    pub fn target(&self, capability: &str, target: &str) -> Result<(), CapError> {
        if self.targets.iter().any(|t| t == target) {
            return Ok(());
        }
        Err(denied(
            capability,
            format!("target `{target}` is outside this stage (it runs on: {})", list(&self.targets)),
        ))
    }

    /// Resolve an optional namespace argument to the stage's namespace,
    /// refusing any other.
    pub fn namespace(&self, capability: &str, namespace: Option<&str>) -> Result<String, CapError> {
        match namespace {
            None => Ok(self.namespace.clone()),
            Some(ns) if ns == self.namespace || ns.is_empty() => Ok(self.namespace.clone()),
            Some(ns) => Err(denied(
                capability,
                format!("namespace `{ns}` is outside this stage (its namespace is `{}`)", self.namespace),
            )),
        }
    }

    pub fn release(&self, capability: &str, release: &str) -> Result<(), CapError> {
        if self.releases.iter().any(|r| r == release) {
            return Ok(());
        }
        Err(denied(
            capability,
            format!("release `{release}` is outside this stage (it may operate: {})", list(&self.releases)),
        ))
    }

    pub fn url(&self, capability: &str, url: &str) -> Result<(), CapError> {
        if self.urls.iter().any(|prefix| url_within(url, prefix)) {
            return Ok(());
        }
        Err(denied(
            capability,
            format!("URL `{url}` is not allowed; list it under the stage's `with: {{ urls: [...] }}`"),
        ))
    }
}

/// `url` is `prefix` itself or below it on a path boundary, so that
/// `http://a/b` does not allow `http://a/bc` or `http://a.evil/`.
impl Scope {
    /// An image reference must live in one of the targets' registries.
    pub fn image(&self, capability: &str, reference: &str) -> Result<(), CapError> {
        let host = reference.split('/').next().unwrap_or_default();
        if reference.contains('/') && self.registries.iter().any(|r| {
            let r = r.trim_end_matches('/');
            reference.starts_with(r) && reference[r.len()..].starts_with('/') || host == r
        }) {
            return Ok(());
        }
        Err(denied(
            capability,
            format!("image `{reference}` is outside this pipeline's registries ({})", list(&self.registries)),
        ))
    }
}

fn url_within(url: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    match url.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'),
        None => false,
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
    }
}

pub(crate) fn denied(capability: &str, message: String) -> CapError {
    CapError { kind: ErrorKind::Denied, capability: capability.to_string(), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            targets: vec!["aws".into()],
            namespace: "default".into(),
            releases: vec!["app".into(), "app-canary".into()],
            urls: vec!["http://127.0.0.1:8080/api".into()],
            registries: vec!["123.dkr.ecr.eu-west-1.amazonaws.com".into(), "europe-west1-docker.pkg.dev/proj".into()],
        }
    }

    #[test]
    fn other_target_is_denied() {
        assert!(scope().target("helm", "aws").is_ok());
        let e = scope().target("helm", "gcp").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Denied);
        assert!(e.message.contains("`gcp`") && e.message.contains("`aws`"), "{}", e.message);
    }

    #[test]
    fn other_namespace_is_denied_and_none_means_the_stage_namespace() {
        assert_eq!(scope().namespace("cluster-read", None).unwrap(), "default");
        assert!(scope().namespace("cluster-read", Some("kube-system")).is_err());
    }

    #[test]
    fn release_outside_the_pipeline_is_denied() {
        assert!(scope().release("helm", "app-canary").is_ok());
        assert!(scope().release("helm", "someone-elses").is_err());
    }

    #[test]
    fn image_outside_the_targets_registries_is_denied() {
        let s = scope();
        assert!(s.image("registry", "123.dkr.ecr.eu-west-1.amazonaws.com/app:1").is_ok());
        assert!(s.image("registry", "europe-west1-docker.pkg.dev/proj/app@sha256:00").is_ok());
        assert!(s.image("registry", "europe-west1-docker.pkg.dev/other/app:1").is_err());
        assert!(s.image("registry", "docker.io/library/app:1").is_err());
    }

    #[test]
    fn url_prefix_matches_on_path_boundaries_only() {
        let s = scope();
        assert!(s.url("http-probe", "http://127.0.0.1:8080/api/health").is_ok());
        assert!(s.url("http-probe", "http://127.0.0.1:8080/api").is_ok());
        assert!(s.url("http-probe", "http://127.0.0.1:8080/apix").is_err());
        assert!(s.url("http-probe", "http://127.0.0.1:80800/api").is_err());
    }
}
