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
    /// Registries (host[:port], maybe with a path: `europe-west1-docker.pkg.dev/proj`)
    /// the stage's image may live in: the targets'.
    pub registries: Vec<String>,
    /// The pipeline's image name (`fastapi-app`): the one repository the
    /// stage may touch in those registries (None: the pipeline has no image).
    pub image: Option<String>,
    /// The pipeline's build: the only context and Dockerfile `builder` may use.
    pub build: Option<BuildScope>,
}

/// The pipeline's `image.build`, as written and resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildScope {
    /// As written in the pipeline file (`examples/fastapi-app`).
    pub context: String,
    /// Resolved against the pipeline file's directory.
    pub dir: std::path::PathBuf,
    pub dockerfile: String,
    pub target: Option<String>,
    pub args: Vec<(String, String)>,
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
    /// An image reference must be the pipeline's image (any tag or digest)
    /// in one of the targets' registries.
    pub fn image(&self, capability: &str, reference: &str) -> Result<(), CapError> {
        let Some(name) = self.image.as_deref() else {
            return Err(denied(capability, format!("image `{reference}` is outside this pipeline: it has no `image:`")));
        };
        let within = self.registries.iter().any(|r| {
            let Some(rest) = reference.strip_prefix(r.trim_end_matches('/')).and_then(|rest| rest.strip_prefix('/')) else { return false };
            let repository = rest.split_once('@').map_or(rest, |(repo, _)| repo);
            let repository = match repository.rsplit_once(':') {
                Some((repo, tag)) if !tag.contains('/') => repo,
                _ => repository,
            };
            repository == name
        });
        if within {
            return Ok(());
        }
        let allowed: Vec<String> = self.registries.iter().map(|r| format!("{}/{name}", r.trim_end_matches('/'))).collect();
        Err(denied(capability, format!("image `{reference}` is outside this pipeline's images ({})", list(&allowed))))
    }

    /// The pipeline's build, when `context` and `dockerfile` are empty or
    /// the pipeline's own; anything else is denied.
    pub fn build(&self, capability: &str, context: &str, dockerfile: &str) -> Result<BuildScope, CapError> {
        let Some(build) = &self.build else {
            return Err(denied(capability, "this pipeline's image has no `build:` (add `image.build.context`)".to_string()));
        };
        let same = |asked: &str, own: &str| asked.is_empty() || asked.trim_end_matches('/') == own.trim_end_matches('/');
        if !same(context, &build.context) {
            return Err(denied(capability, format!("build context `{context}` is not the pipeline's (`{}`); leave it empty to use it", build.context)));
        }
        if !same(dockerfile, &build.dockerfile) {
            return Err(denied(capability, format!("Dockerfile `{dockerfile}` is not the pipeline's (`{}`); leave it empty to use it", build.dockerfile)));
        }
        Ok(build.clone())
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
            registries: vec!["123.dkr.ecr.eu-west-1.amazonaws.com".into(), "europe-west1-docker.pkg.dev/proj".into(), "127.0.0.1:5000".into()],
            image: Some("app".into()),
            build: Some(BuildScope { context: "examples/app".into(), dir: "/work/examples/app".into(), dockerfile: "Dockerfile".into(), target: None, args: vec![] }),
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
    fn image_outside_the_pipelines_image_in_the_targets_registries_is_denied() {
        let s = scope();
        assert!(s.image("registry", "123.dkr.ecr.eu-west-1.amazonaws.com/app:1").is_ok());
        assert!(s.image("registry", "123.dkr.ecr.eu-west-1.amazonaws.com/app").is_ok());
        assert!(s.image("registry", "europe-west1-docker.pkg.dev/proj/app@sha256:00").is_ok());
        assert!(s.image("registry", "europe-west1-docker.pkg.dev/proj/app:1@sha256:00").is_ok());
        assert!(s.image("registry", "127.0.0.1:5000/app:1").is_ok(), "a port is not a tag");
        assert!(s.image("registry", "europe-west1-docker.pkg.dev/other/app:1").is_err());
        assert!(s.image("registry", "docker.io/library/app:1").is_err());
        let other = s.image("registry", "123.dkr.ecr.eu-west-1.amazonaws.com/other-app:1").unwrap_err();
        assert!(other.message.contains("`123.dkr.ecr.eu-west-1.amazonaws.com/app`"), "{}", other.message);
        assert!(s.image("registry", "123.dkr.ecr.eu-west-1.amazonaws.com/app/sub:1").is_err());
        assert!(s.image("registry", "123.dkr.ecr.eu-west-1.amazonaws.com.evil/app:1").is_err());
        assert!(Scope { image: None, ..scope() }.image("registry", "123.dkr.ecr.eu-west-1.amazonaws.com/app:1").is_err());
    }

    #[test]
    fn only_the_pipelines_build_context_and_dockerfile_are_built() {
        let s = scope();
        assert_eq!(s.build("builder", "", "").unwrap().context, "examples/app");
        assert!(s.build("builder", "examples/app/", "Dockerfile").is_ok());
        assert!(s.build("builder", "/etc", "").is_err());
        assert!(s.build("builder", "", "../Dockerfile").is_err());
        assert!(Scope { build: None, ..scope() }.build("builder", "", "").is_err());
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
