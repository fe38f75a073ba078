//! The run's registries and builders (`gantry_registry::backend`), as
//! `gantry run` hands them to every stage's `registry` and `builder`
//! capabilities: one OCI client whose credentials are routed per registry
//! host — an EKS target's ECR registry through GetAuthorizationToken with
//! the target's AWS settings, a GKE target's Artifact Registry with the
//! target's Google token, any other through the docker `config.json` and its
//! credential helpers — and whose endpoints are the simulated estate's
//! registries when the run simulates its clouds. It builds nothing itself
//! and prints no credential.

use std::collections::BTreeMap;
use std::sync::Arc;

use gantry_cluster::eks::AwsEnvironment;
use gantry_cluster::TokenSource;
use gantry_engine::Plan;
use gantry_registry::backend::RegistryBackend;
use gantry_registry::docker_config::DockerConfig;
use gantry_registry::ecr::{EcrCredentials, EcrHost};
use gantry_registry::gar::{self, AccessTokenFuture, AccessTokenSource, ArtifactRegistryCredentials};
use gantry_registry::sources::ByRegistry;
use gantry_registry::{Client, ClientOptions, CredentialSource, Secret};

/// A GKE target's Google OAuth token, as Artifact Registry's password.
struct GoogleToken(Arc<dyn TokenSource>);

impl AccessTokenSource for GoogleToken {
    fn access_token(&self) -> AccessTokenFuture<'_> {
        Box::pin(async move { self.0.token().await.map(|t| Secret::new(t.value)).map_err(|e| e.to_string()) })
    }
}

/// The image backend of a run over `client` (None: a pipeline without `image:`, no backend).
pub fn backend(client: Option<Client>, sim: bool, revision: Option<String>, source: Option<String>) -> Result<gantry_runtime::ImageBackendRef, String> {
    let Some(client) = client else {
        return Ok(None);
    };
    let epoch = std::env::var("SOURCE_DATE_EPOCH").ok().map(|v| v.trim().parse::<i64>().map_err(|_| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds: unset it or give Unix seconds"))).transpose()?;
    let backend = RegistryBackend::new(client).simulated(sim).provenance(revision, source).source_date_epoch(epoch);
    Ok(Some(Arc::new(backend)))
}

/// The registry client of a run of `plan` (the image backend and the
/// scanner share it); None for a pipeline without `image:`. `google_tokens`
/// are the connected GKE targets' token sources; `estate` the simulated
/// clouds, whose registries stand in for the real hosts.
pub async fn run_client(plan: &Plan, estate: Option<&gantry_sim::Estate>, sim: bool, google_tokens: &BTreeMap<String, Arc<dyn TokenSource>>) -> Result<Option<Client>, String> {
    if plan.pipeline.spec.image.is_none() {
        return Ok(None);
    }
    let docker_config = DockerConfig::load().map_err(|e| format!("cannot read registry credentials: {e}"))?;
    let mut routes = ByRegistry::new().fallback(Arc::new(docker_config));
    for (name, target) in &plan.pipeline.spec.targets {
        let Some(registry) = target.registry.as_deref().filter(|r| !r.is_empty()) else { continue };
        let host = registry.split('/').next().unwrap_or(registry);
        let source: Option<Arc<dyn CredentialSource>> = if let (Some(ecr), Some(_)) = (EcrHost::parse(host), &target.eks) {
            // The target's AWS settings: with --sim the estate's only, never the process's.
            let env = match estate.filter(|_| sim) {
                Some(e) => AwsEnvironment::Vars(e.aws_env.iter().cloned().collect()),
                None => AwsEnvironment::Process,
            };
            let sdk = gantry_cluster::eks::sdk_config(&env, name, &ecr.region, "ECR").await.map_err(|e| format!("registry {host}: {e}"))?;
            Some(Arc::new(EcrCredentials::new(&sdk)))
        } else if gar::is_google_registry(host) {
            google_tokens.get(name).map(|t| Arc::new(ArtifactRegistryCredentials::new(Arc::new(GoogleToken(t.clone())))) as Arc<dyn CredentialSource>)
        } else {
            None
        };
        if let Some(source) = source {
            routes = routes.route(host, source);
        }
    }
    let mut options = ClientOptions::default();
    if let Some(estate) = estate {
        for (host, url) in estate.registries() {
            options = options.endpoint(&host, &url);
        }
    }
    Client::with_options(Arc::new(routes), options).map(Some).map_err(|e| format!("cannot set up the registry client: {e}"))
}

/// A registry client with the docker `config.json` credentials (and its
/// credential helpers), as `gantry scan` reads images.
pub fn docker_config_client() -> Result<Client, String> {
    let docker_config = DockerConfig::load().map_err(|e| format!("cannot read registry credentials: {e}"))?;
    Client::with_options(Arc::new(docker_config), ClientOptions::default()).map_err(|e| format!("cannot set up the registry client: {e}"))
}
