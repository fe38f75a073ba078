//! `builtin:build`: builds the pipeline's image once (`image.build`) and
//! pushes it to every target's registry as `REGISTRY/NAME:TAG`, so every
//! target deploys the same digest and promotion never rebuilds. The host
//! does the building (Docker engine, or daemonless for Dockerfiles without
//! `RUN`) and holds the registry credentials; this plugin only asks.
//!
//! Outputs: `digest` (`sha256:…`), `pushed` (the references), `size`, and
//! `skipped` (RUN steps skipped in a simulated run, with their lines).
//!
//! Settings (`with:`), all optional: `backend: auto|docker|daemonless`,
//! `push: false` (build only), `labels: {K: V}`, `build-args: {K: V}`.

use std::collections::BTreeMap;

use gantry_sdk::cap::{builder, run};
use gantry_sdk::types::Pair;
use gantry_sdk::{Failure, Input, Output, Stage};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Settings {
    #[serde(default)]
    backend: Backend,
    #[serde(default = "yes")]
    push: bool,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    build_args: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Backend {
    #[default]
    Auto,
    Docker,
    Daemonless,
}

fn pairs(map: BTreeMap<String, String>) -> Vec<Pair> {
    map.into_iter().map(|(key, value)| Pair { key, value }).collect()
}

struct Build;

impl Stage for Build {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let info = run::info();
        let Some(image) = info.image else {
            return Err(Failure::new("builtin:build needs the pipeline's `image:`").hint("add `image: { name: NAME, tag: TAG, build: { context: DIR } }`"));
        };
        let settings = input.settings;
        let mut tags: Vec<String> = Vec::new();
        for target in &info.targets {
            if let Some(registry) = target.registry.as_deref().filter(|r| !r.is_empty()) {
                let tag = format!("{}/{}:{}", registry.trim_end_matches('/'), image.name, image.tag);
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
        }
        if settings.push && tags.is_empty() {
            return Err(Failure::new("no target names a `registry:` to push the image to").hint("give each target a `registry:`, or set `push: false` to build only"));
        }
        let request = builder::BuildRequest {
            context: String::new(),
            dockerfile: String::new(),
            target: None,
            build_args: pairs(settings.build_args),
            labels: pairs(settings.labels),
            tags: if settings.push { tags } else { Vec::new() },
            backend: match settings.backend {
                Backend::Auto => builder::Backend::Auto,
                Backend::Docker => builder::Backend::Docker,
                Backend::Daemonless => builder::Backend::Daemonless,
            },
            push: settings.push,
        };
        let built = builder::build(&request).map_err(|e| Failure::new(format!("building {}: {}", image.name, e.message)))?;
        for step in &built.skipped {
            gantry_sdk::warn!("skipped in a simulated run: {step}");
        }
        let summary = if built.pushed.is_empty() {
            format!("built {} ({})", image.name, built.digest)
        } else {
            format!("built {} and pushed {} to {} registr{}", image.name, built.digest, built.pushed.len(), if built.pushed.len() == 1 { "y" } else { "ies" })
        };
        Ok(Output::new(summary).with("digest", built.digest).with("pushed", built.pushed).with("size", built.size).with("skipped", built.skipped))
    }
}

gantry_sdk::export_stage!(Build);
