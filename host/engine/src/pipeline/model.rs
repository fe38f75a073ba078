//! The pipeline file, as written: serde types that mirror the YAML, field
//! for field, rejecting unknown fields. No behaviour lives here; `load`
//! fills and checks these, and `plan` turns them into something to run.

use indexmap::IndexMap;
use serde::Deserialize;

/// A whole `gantry.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PipelineFile {
    pub name: String,
    #[serde(default)]
    pub image: Option<ImageSpec>,
    #[serde(default)]
    pub release: Option<ReleaseSpec>,
    #[serde(default)]
    pub targets: IndexMap<String, TargetSpec>,
    pub stages: Vec<StageSpec>,
    #[serde(default)]
    pub on_failure: Option<OnFailure>,
    /// The metrics provider of every target without its own.
    #[serde(default)]
    pub metrics: Option<MetricsSpec>,
}

/// A metrics provider: `metrics: { prometheus: http://HOST:9090 }`, with
/// credentials named by environment variable (never written in the file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MetricsSpec {
    /// The Prometheus HTTP API's base URL (`/api/v1/...` is appended).
    pub prometheus: String,
    /// The variable holding a bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// The variables holding a basic-auth user name and password.
    #[serde(default)]
    pub username_env: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// Per query (`10s` when absent).
    #[serde(default)]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ImageSpec {
    pub name: String,
    #[serde(default = "default_tag")]
    pub tag: String,
    #[serde(default)]
    pub build: Option<BuildSpec>,
}

fn default_tag() -> String {
    "latest".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BuildSpec {
    pub context: String,
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    #[serde(default)]
    pub args: IndexMap<String, String>,
    #[serde(default)]
    pub target: Option<String>,
}

fn default_dockerfile() -> String {
    "Dockerfile".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReleaseSpec {
    pub name: String,
    pub chart: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
}

fn default_namespace() -> String {
    "default".into()
}

/// One target: exactly one of `eks`, `gke`, `kubeconfig`, `sim`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TargetSpec {
    #[serde(default)]
    pub eks: Option<EksSpec>,
    #[serde(default)]
    pub gke: Option<GkeSpec>,
    #[serde(default)]
    pub kubeconfig: Option<KubeconfigSpec>,
    #[serde(default)]
    pub sim: Option<SimSpec>,
    /// Where this target pulls the image from.
    #[serde(default)]
    pub registry: Option<String>,
    /// This target's metrics provider, winning over the pipeline's.
    #[serde(default)]
    pub metrics: Option<MetricsSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EksSpec {
    pub cluster: String,
    pub region: String,
    #[serde(default)]
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GkeSpec {
    pub cluster: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub zone: Option<String>,
    pub project: String,
    /// Service-account key: JSON, base64 JSON or a file path. Never shown.
    #[serde(default)]
    pub credentials: Option<String>,
    #[serde(default)]
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KubeconfigSpec {
    #[serde(default)]
    pub path: Option<String>,
    pub context: String,
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// A simulated cluster (the embedded default).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SimSpec {
    /// Shown as the cluster name; default: the target's name.
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
}

/// One stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StageSpec {
    pub name: String,
    pub uses: String,
    #[serde(default)]
    pub with: Option<serde_json::Value>,
    /// Capability interfaces granted beyond the plugin's defaults.
    #[serde(default)]
    pub grants: Vec<String>,
    /// `30s`, `10m`, `1h`: the deadline of each call. Default 10m.
    #[serde(default)]
    pub timeout: Option<String>,
    /// `256Mi`, `1Gi`: the memory cap of each call. Default 256Mi.
    #[serde(default)]
    pub memory: Option<String>,
    /// Run once for the whole pipeline instead of once per target. Unset:
    /// per target, except for built-ins that run once (`builtin:build`).
    #[serde(default)]
    pub once: Option<bool>,
}

impl StageSpec {
    /// Whether the stage runs once: its `once:`, else its built-in's default.
    pub fn runs_once(&self) -> bool {
        self.once.unwrap_or_else(|| match super::PluginRef::parse(&self.uses) {
            Ok(super::PluginRef::Builtin { name, .. }) => gantry_plugins::builtin(&name).is_some_and(|b| b.once),
            _ => false,
        })
    }
}

/// `on-failure: builtin:rollback`, or a stage body without a name.
#[derive(Debug, Clone)]
pub enum OnFailure {
    Uses(String),
    Stage(OnFailureStage),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OnFailureStage {
    pub uses: String,
    #[serde(default)]
    pub with: Option<serde_json::Value>,
    #[serde(default)]
    pub grants: Vec<String>,
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub memory: Option<String>,
}

impl<'de> Deserialize<'de> for OnFailure {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OnFailure;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a plugin reference such as `builtin:rollback`, or a mapping with `uses:`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OnFailure, E> {
                Ok(OnFailure::Uses(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<OnFailure, A::Error> {
                OnFailureStage::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(OnFailure::Stage)
            }
        }
        d.deserialize_any(V)
    }
}
