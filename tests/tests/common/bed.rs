//! A test bed for pipelines that deploy the request's chart: two
//! docker-registry processes (the targets' registries), two simulated
//! clusters `aws` and `gcp`, each target's cluster and Helm backends
//! connected, and a one-file app whose content sets its digest; on
//! request a real Prometheus per cluster, each target's metrics provider. It owns the
//! setup and the reads tests check; the tests own their stages and asserts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_cluster::{KubeBackend, Target};
use gantry_engine::RunOutcome;
use gantry_registry::backend::RegistryBackend;
use gantry_registry::testing::registry::{DockerRegistry, RegistryAuth};
use gantry_registry::{Client, StaticCredentials};
use gantry_release::{Driver, ReleasesBackend};
use gantry_runtime::cluster::{ClusterBackend, ObjectKey};
use gantry_runtime::{HelmBackend, ImageBackend};
use gantry_sim::estate::{ClusterSpec, EstateOptions};
use serde_json::Value;

use super::run_pipeline_measured;

pub const TARGETS: [&str; 2] = ["aws", "gcp"];

/// The repository's chart, as the pipeline names it.
pub fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../helm/fastapi-app").canonicalize().expect("helm/fastapi-app exists")
}

/// Two registries and two simulated clusters, each target's backends connected.
pub struct Bed {
    _registries: [DockerRegistry; 2],
    pub registry: BTreeMap<String, String>,
    pub estate: gantry_sim::Estate,
    pub objects: BTreeMap<String, Arc<dyn ClusterBackend>>,
    pub helm: BTreeMap<String, Arc<dyn HelmBackend>>,
    pub dir: tempfile::TempDir,
}

impl Bed {
    /// None (the test is skipped, or fails under CI) without docker-registry.
    pub async fn start() -> Option<Bed> {
        Bed::start_with(&EstateOptions::default()).await
    }

    /// [`Bed::start`] with a real Prometheus per cluster scraping its pods
    /// every second. None (the test is skipped) without `prometheus` or
    /// docker-registry; under CI their absence fails.
    pub async fn start_measured() -> Option<Bed> {
        let Some(binary) = gantry_sim::prometheus::find_binary().expect("GANTRY_PROMETHEUS names a file") else {
            gantry_registry::testing::missing("prometheus", "apt-get install -y prometheus, or set GANTRY_PROMETHEUS");
            return None;
        };
        Bed::start_with(&EstateOptions { prometheus: Some(binary), traffic: None, ..EstateOptions::default() }).await
    }

    /// [`Bed::start`] with the estate's `options`.
    pub async fn start_with(options: &EstateOptions) -> Option<Bed> {
        let (Some(a), Some(b)) = (DockerRegistry::start(RegistryAuth::None), DockerRegistry::start(RegistryAuth::None)) else { return None };
        let dir = tempfile::tempdir().unwrap();
        let estate = gantry_sim::Estate::start_clusters_with(&dir.path().join("sim"), &TARGETS.map(ClusterSpec::plain), options).await.expect("estate starts");
        let (mut objects, mut helm) = (BTreeMap::new(), BTreeMap::new());
        for t in TARGETS {
            let client = Target::kubeconfig(t, Some(estate.kubeconfig.clone()), t).connect().await.expect("connects");
            let o: Arc<dyn ClusterBackend> = Arc::new(KubeBackend::new(t, client.clone()));
            let h: Arc<dyn HelmBackend> = Arc::new(ReleasesBackend::new(t, client, Driver::Secret, &chart()));
            objects.insert(t.to_string(), o);
            helm.insert(t.to_string(), h);
        }
        let registry = BTreeMap::from([("aws".to_string(), a.host().to_string()), ("gcp".to_string(), b.host().to_string())]);
        Some(Bed { _registries: [a, b], registry, estate, objects, helm, dir })
    }

    /// Run `stages` with the app's `version` (its content, and so its digest).
    pub async fn run(&self, version: &str, stages: &str) -> RunOutcome {
        self.run_with(version, stages, Default::default()).await
    }

    /// [`Bed::run`] with each target's Prometheus as its metrics provider
    /// (a bed from [`Bed::start_measured`]).
    pub async fn run_measured(&self, version: &str, stages: &str) -> RunOutcome {
        let metrics: BTreeMap<String, Arc<dyn gantry_runtime::MetricsBackend>> = TARGETS
            .iter()
            .map(|t| {
                let url = self.estate.prometheus_url(t).unwrap_or_else(|| panic!("{t} has no Prometheus: start the bed with Bed::start_measured"));
                let client = gantry_metrics::Prometheus::new(&url, None, gantry_metrics::DEFAULT_TIMEOUT).expect("a Prometheus client");
                (t.to_string(), Arc::new(client) as Arc<dyn gantry_runtime::MetricsBackend>)
            })
            .collect();
        self.run_with(version, stages, Arc::new(metrics)).await
    }

    async fn run_with(&self, version: &str, stages: &str, metrics: gantry_runtime::MetricsBackends) -> RunOutcome {
        let dir = self.dir.path();
        std::fs::create_dir_all(dir.join("app")).unwrap();
        std::fs::write(dir.join("app/Dockerfile"), "FROM scratch\nCOPY version.txt /srv/version.txt\nUSER 10001:10001\nEXPOSE 8000\nENTRYPOINT [\"/srv/app\"]\n").unwrap();
        std::fs::write(dir.join("app/version.txt"), format!("{version}\n")).unwrap();
        let yaml = format!(
            "name: bed\nimage: {{ name: app, tag: \"{version}\", build: {{ context: app }} }}\n\
             release: {{ name: fastapi-app, chart: \"{}\", namespace: default }}\n\
             targets:\n  aws: {{ sim: {{}}, registry: \"{}\" }}\n  gcp: {{ sim: {{}}, registry: \"{}\" }}\n\
             stages:\n{stages}on-failure: builtin:rollback\n",
            chart().display(),
            self.registry["aws"],
            self.registry["gcp"]
        );
        let images: Arc<dyn ImageBackend> = Arc::new(RegistryBackend::new(Client::new(Arc::new(StaticCredentials::new()))));
        run_pipeline_measured(dir, &yaml, Arc::new(self.objects.clone()), Arc::new(self.helm.clone()), Some(images), |_, _| None, metrics).await
    }

    pub async fn get(&self, target: &str, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        let key = ObjectKey { api_version: api_version.into(), kind: kind.into(), namespace: Some("default".into()), name: name.into() };
        self.objects[target].get(&key).await.ok()
    }

    /// Helm's record of `release` revision `n`: its status label, if stored.
    pub async fn revision(&self, target: &str, release: &str, n: u32) -> Option<String> {
        let secret = self.get(target, "v1", "Secret", &format!("sh.helm.release.v1.{release}.v{n}")).await?;
        assert_eq!(secret["type"], "helm.sh/release.v1", "{target}: {secret}");
        Some(secret["metadata"]["labels"]["status"].as_str().unwrap_or_default().to_string())
    }

    /// The image of `deployment`'s one container, if the Deployment exists.
    pub async fn image(&self, target: &str, deployment: &str) -> Option<String> {
        let d = self.get(target, "apps/v1", "Deployment", deployment).await?;
        Some(d["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string())
    }

    /// `REGISTRY/app@DIGEST` as `target` pulls it.
    pub fn pinned(&self, target: &str, digest: &str) -> String {
        format!("{}/app@{digest}", self.registry[target])
    }
}
