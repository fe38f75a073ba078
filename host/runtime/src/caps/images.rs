//! `registry` and `builder`: scoped to the pipeline's image in the targets'
//! registries and to the pipeline's build context, then handed to the run's
//! [`ImageBackend`] (`gantry-registry`: an OCI distribution client with the
//! targets' credentials, the Docker engine or the daemonless builder). A
//! call outside the scope is `denied` and logged; a run without a backend
//! answers `unavailable`; never a fake success. This file converts between
//! WIT types and the backend's; it must not talk to a registry itself.

use std::sync::Arc;

use crate::bindings::wit::builder::{self, Backend, BuildRequest, BuildResult};
use crate::bindings::wit::registry::{self, Descriptor, ImageConfig};
use crate::bindings::wit::types::{CapError, ErrorKind, Pair};
use crate::caps::cluster::run;
use crate::caps::tri;
use crate::images::{BuildEngine, ImageBackend, ImageBuild, ImageFacts};
use crate::sandbox::HostState;

type Answer<T> = wasmtime::Result<Result<T, CapError>>;

const REGISTRY: &str = "registry";
const BUILDER: &str = "builder";

impl HostState {
    /// Scope-check every reference (denials logged), then find the run's backend.
    fn image_call(&self, capability: &'static str, call: &str, references: &[&str]) -> Result<Arc<dyn ImageBackend>, CapError> {
        let s = self.env.scope.clone();
        for reference in references {
            s.image(capability, reference).map_err(|e| self.deny(&format!("{capability}.{call}"), e))?;
        }
        self.env.images.clone().ok_or_else(|| CapError {
            kind: ErrorKind::Unavailable,
            capability: capability.to_string(),
            message: "this run has no registry access (gantry was started without one; `gantry run` gives every stage the targets' registries)".to_string(),
        })
    }
}

fn config(f: ImageFacts) -> ImageConfig {
    ImageConfig {
        digest: f.digest,
        architecture: f.architecture,
        os: f.os,
        user: f.user,
        env: f.env,
        entrypoint: f.entrypoint,
        cmd: f.cmd,
        working_dir: f.working_dir,
        exposed_ports: f.exposed_ports,
        labels: f.labels.into_iter().map(|(key, value)| Pair { key, value }).collect(),
        created: f.created,
    }
}

impl registry::Host for HostState {
    async fn resolve(&mut self, reference: String) -> Answer<String> {
        let b = tri!(self.image_call(REGISTRY, "resolve", &[&reference]));
        Ok(run(self, REGISTRY, async move { b.resolve(&reference).await }).await)
    }

    async fn config(&mut self, reference: String) -> Answer<ImageConfig> {
        let b = tri!(self.image_call(REGISTRY, "config", &[&reference]));
        Ok(run(self, REGISTRY, async move { b.config(&reference).await }).await.map(config))
    }

    async fn layers(&mut self, reference: String) -> Answer<Vec<Descriptor>> {
        let b = tri!(self.image_call(REGISTRY, "layers", &[&reference]));
        let layers = run(self, REGISTRY, async move { b.layers(&reference).await }).await;
        Ok(layers.map(|ls| ls.into_iter().map(|l| Descriptor { media_type: l.media_type, digest: l.digest, size: l.size }).collect()))
    }

    async fn copy(&mut self, source: String, destination: String) -> Answer<String> {
        let b = tri!(self.image_call(REGISTRY, "copy", &[&source, &destination]));
        Ok(run(self, REGISTRY, async move { b.copy(&source, &destination).await }).await)
    }
}

impl builder::Host for HostState {
    async fn build(&mut self, request: BuildRequest) -> Answer<BuildResult> {
        let tags: Vec<&str> = request.tags.iter().map(String::as_str).collect();
        let b = tri!(self.image_call(BUILDER, "build", &tags));
        let scope = self.env.scope.clone();
        let build = tri!(scope.build(BUILDER, &request.context, &request.dockerfile).map_err(|e| self.deny("builder.build", e)));
        if request.push && request.tags.is_empty() {
            return Ok(Err(CapError { kind: ErrorKind::Invalid, capability: BUILDER.to_string(), message: "`push` needs at least one tag: the pipeline's image in a target's registry".to_string() }));
        }
        // The pipeline's build arguments, then the plugin's (which win, as later `--build-arg`s do).
        let mut build_args = build.args.clone();
        build_args.extend(request.build_args.into_iter().map(|p| (p.key, p.value)));
        let request = ImageBuild {
            context: build.dir.clone(),
            dockerfile: build.dockerfile.clone(),
            target: request.target.or(build.target.clone()),
            build_args,
            labels: request.labels.into_iter().map(|p| (p.key, p.value)).collect(),
            tags: request.tags,
            engine: match request.backend {
                Backend::Auto => BuildEngine::Auto,
                Backend::Docker => BuildEngine::Docker,
                Backend::Daemonless => BuildEngine::Daemonless,
            },
            push: request.push,
        };
        let log = self.env.log.clone();
        let built = run(self, BUILDER, async move { b.build(&request, log).await }).await;
        Ok(built.map(|r| BuildResult { digest: r.digest, pushed: r.pushed, size: r.size, skipped: r.skipped }))
    }
}
