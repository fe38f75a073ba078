//! A loaded plugin: its bytes' digest, its compiled component, the world it
//! belongs to and the imports it asks for. Loading never runs guest code.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use wasmtime::component::{types::ComponentItem, Component, InstancePre};

use crate::cache::Origin;
use crate::grants::{self, Capability, Import};
use crate::sandbox::HostState;

/// The kind of plugin, from what the component exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    Stage,
    ScanPolicy,
    HealthCheck,
    CanaryAnalysis,
}

impl World {
    pub fn name(self) -> &'static str {
        match self {
            World::Stage => "stage",
            World::ScanPolicy => "scan-policy",
            World::HealthCheck => "health-check",
            World::CanaryAnalysis => "canary-analysis",
        }
    }

    fn export(self) -> &'static str {
        match self {
            World::Stage => "run",
            World::ScanPolicy => "evaluate",
            World::HealthCheck => "check",
            World::CanaryAnalysis => "analyze",
        }
    }

    pub const ALL: [World; 4] = [World::Stage, World::ScanPolicy, World::HealthCheck, World::CanaryAnalysis];
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `sha256:<hex>` of some bytes.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A compiled, analysed component.
pub struct Plugin {
    /// How the pipeline names it: `builtin:echo`, `./plugins/x.wasm`.
    pub name: String,
    pub digest: String,
    pub size: usize,
    pub world: World,
    /// Every import name, classified.
    pub imports: Vec<(String, Import)>,
    /// Every export name.
    pub exports: Vec<String>,
    pub origin: Origin,
    pub(crate) component: Component,
    pub(crate) pre: OnceLock<InstancePre<HostState>>,
}

impl Plugin {
    pub(crate) fn analyse(name: &str, digest: String, size: usize, component: Component, origin: Origin, engine: &wasmtime::Engine) -> Result<Plugin, crate::LoadError> {
        let ty = component.component_type();
        let imports: Vec<(String, Import)> =
            ty.imports(engine).map(|(n, _)| (n.to_string(), grants::classify(n))).collect();
        let exports: Vec<(String, bool)> = ty
            .exports(engine)
            .map(|(n, item)| (n.to_string(), matches!(item.ty, ComponentItem::ComponentFunc(_))))
            .collect();
        let world = World::ALL
            .into_iter()
            .find(|w| exports.iter().any(|(n, is_func)| *is_func && n == w.export()))
            .ok_or_else(|| crate::LoadError::UnknownWorld { plugin: name.to_string() })?;
        Ok(Plugin {
            name: name.to_string(),
            digest,
            size,
            world,
            imports,
            exports: exports.into_iter().map(|(n, _)| n).collect(),
            origin,
            component,
            pre: OnceLock::new(),
        })
    }

    fn import_kinds(&self) -> Vec<Import> {
        self.imports.iter().map(|(_, i)| i.clone()).collect()
    }

    /// The gantry capabilities this component asks for.
    pub fn capabilities(&self) -> Vec<Capability> {
        grants::requested(&self.import_kinds())
    }

    /// Check the component's imports against a stage's grants.
    pub fn check_grants(&self, grants: &[Capability]) -> Result<(), grants::Refusal> {
        grants::check(&self.import_kinds(), grants)
    }
}
