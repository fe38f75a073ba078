//! Upgrade benchmark (issue 6, point 7): `Releases::upgrade` of a release of
//! 20 objects (ConfigMaps, Secrets, ServiceAccounts, Services, Deployments,
//! two PodDisruptionBudgets) on an in-process simulated cluster, every
//! upgrade changing every object (a new `--set rev=N`), with no waits (the
//! default `NoWait`, no hooks). Prints the mean, p50 and p95 of host wall
//! time per upgrade, and where it goes: object round trips (apply, get,
//! delete, timed in place through a `ClusterBackend` wrapper), the render
//! (load, render, split and sort, timed alone on the same chart and values),
//! the storage encode (gzip+base64 of the release record, timed alone) and
//! the storage round trips with their decode (the calls an upgrade makes to
//! the Secret driver — history, create, two updates — timed alone). The
//! goal is ≤ 300 ms per upgrade. The API server runs on its own tokio
//! runtime so the client's runtime measures only gantry's side; everything
//! listens on 127.0.0.1. Run with `cargo bench -p gantry-release --bench
//! upgrade`; this file asserts nothing and must not print credentials.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry_cluster::{Endpoint, KubeBackend, Target};
use gantry_release::action::FIELD_MANAGER;
use gantry_release::{codec, Driver, InstallOptions, Releases, Storage, UpgradeOptions};
use gantry_runtime::cluster::*;
use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::{ApiServer, ServerConfig};
use serde_json::{json, Map, Value};

const TOKEN: &str = "bench-admin";
const UPGRADES: usize = 30;

/// A KubeBackend that adds up the time spent in its calls.
struct Timed {
    inner: KubeBackend,
    nanos: AtomicU64,
    calls: AtomicU64,
}

impl Timed {
    fn add(&self, t: Instant) {
        self.nanos.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
    fn take(&self) -> (Duration, u64) {
        (Duration::from_nanos(self.nanos.swap(0, Ordering::Relaxed)), self.calls.swap(0, Ordering::Relaxed))
    }
}

#[async_trait::async_trait]
impl ClusterBackend for Timed {
    async fn get(&self, object: &ObjectKey) -> BackendResult<Value> {
        let t = Instant::now();
        let r = self.inner.get(object).await;
        self.add(t);
        r
    }
    async fn list(&self, api_version: &str, kind: &str, namespace: &str, query: &ListQuery) -> BackendResult<Vec<Value>> {
        let t = Instant::now();
        let r = self.inner.list(api_version, kind, namespace, query).await;
        self.add(t);
        r
    }
    async fn apply(&self, manifest: &Value, options: ApplyOptions) -> BackendResult<Value> {
        let t = Instant::now();
        let r = self.inner.apply(manifest, options).await;
        self.add(t);
        r
    }
    async fn delete(&self, object: &ObjectKey, propagation: Propagation) -> BackendResult<()> {
        let t = Instant::now();
        let r = self.inner.delete(object, propagation).await;
        self.add(t);
        r
    }
    async fn scale(&self, object: &ObjectKey, replicas: u32) -> BackendResult<()> {
        self.inner.scale(object, replicas).await
    }
    async fn rollout(&self, object: &ObjectKey) -> BackendResult<Rollout> {
        self.inner.rollout(object).await
    }
    async fn pods(&self, namespace: &str, label_selector: &str) -> BackendResult<Vec<PodInfo>> {
        self.inner.pods(namespace, label_selector).await
    }
    async fn events(&self, object: &ObjectKey) -> BackendResult<Vec<EventInfo>> {
        self.inner.events(object).await
    }
    async fn logs(&self, namespace: &str, pod: &str, query: &LogQuery) -> BackendResult<String> {
        self.inner.logs(namespace, pod, query).await
    }
    async fn probe_service(&self, probe: &ServiceProbe) -> BackendResult<ProbeAnswer> {
        self.inner.probe_service(probe).await
    }
}

/// A chart of 20 objects, each carrying `.Values.rev`.
fn write_chart(dir: &Path) {
    let t = dir.join("templates");
    std::fs::create_dir_all(&t).expect("chart dir");
    std::fs::write(dir.join("Chart.yaml"), "apiVersion: v2\nname: bench\nversion: 0.1.0\nappVersion: \"1.0\"\n").expect("Chart.yaml");
    std::fs::write(dir.join("values.yaml"), "rev: 0\nimage: registry.local/app\nreplicas: 2\n").expect("values.yaml");
    std::fs::write(
        t.join("_helpers.tpl"),
        "{{- define \"bench.labels\" -}}\napp.kubernetes.io/name: bench\napp.kubernetes.io/instance: {{ .Release.Name }}\nhelm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}\n{{- end }}\n",
    )
    .expect("helpers");
    std::fs::write(
        t.join("configmaps.yaml"),
        "{{- range $i := until 8 }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ $.Release.Name }}-settings-{{ $i }}\n  labels:\n    {{- include \"bench.labels\" $ | nindent 4 }}\ndata:\n  rev: {{ $.Values.rev | quote }}\n  mode: canary\n  index: {{ $i | quote }}\n{{- end }}\n",
    )
    .expect("configmaps");
    std::fs::write(
        t.join("secrets.yaml"),
        "{{- range $i := until 2 }}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ $.Release.Name }}-secret-{{ $i }}\n  labels:\n    {{- include \"bench.labels\" $ | nindent 4 }}\ntype: Opaque\nstringData:\n  token: {{ printf \"bench-%d-%v\" $i $.Values.rev | b64enc | quote }}\n{{- end }}\n",
    )
    .expect("secrets");
    std::fs::write(
        t.join("accounts.yaml"),
        "{{- range $i := until 2 }}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ $.Release.Name }}-sa-{{ $i }}\n  labels:\n    {{- include \"bench.labels\" $ | nindent 4 }}\n  annotations:\n    rev: {{ $.Values.rev | quote }}\n{{- end }}\n",
    )
    .expect("accounts");
    std::fs::write(
        t.join("budgets.yaml"),
        "{{- range $i := until 2 }}\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: {{ $.Release.Name }}-app-{{ $i }}\n  annotations:\n    rev: {{ $.Values.rev | quote }}\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app: app-{{ $i }}\n{{- end }}\n",
    )
    .expect("budgets");
    std::fs::write(
        t.join("apps.yaml"),
        "{{- range $i := until 3 }}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {{ $.Release.Name }}-app-{{ $i }}\n  labels:\n    {{- include \"bench.labels\" $ | nindent 4 }}\n  annotations:\n    rev: {{ $.Values.rev | quote }}\nspec:\n  selector:\n    app: app-{{ $i }}\n  ports:\n    - name: http\n      port: 80\n      targetPort: http\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ $.Release.Name }}-app-{{ $i }}\n  labels:\n    {{- include \"bench.labels\" $ | nindent 4 }}\nspec:\n  replicas: {{ $.Values.replicas }}\n  selector:\n    matchLabels:\n      app: app-{{ $i }}\n  template:\n    metadata:\n      labels:\n        app: app-{{ $i }}\n      annotations:\n        rev: {{ $.Values.rev | quote }}\n    spec:\n      serviceAccountName: {{ $.Release.Name }}-sa-0\n      containers:\n        - name: app\n          image: {{ $.Values.image }}:{{ $.Values.rev }}\n          ports:\n            - name: http\n              containerPort: 8000\n          readinessProbe:\n            httpGet:\n              path: /health\n              port: http\n{{- end }}\n",
    )
    .expect("apps");
    std::fs::write(t.join("NOTES.txt"), "{{ .Release.Name }} is at rev {{ .Values.rev }}.\n").expect("notes");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mean(v: &[Duration]) -> Duration {
    v.iter().sum::<Duration>() / v.len().max(1) as u32
}

fn rev(n: usize) -> Map<String, Value> {
    json!({"rev": n}).as_object().cloned().unwrap_or_default()
}

fn main() {
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("server runtime");
    let server = server_rt.block_on(async {
        let auth = Authenticator::default();
        auth.add_token(TOKEN, Identity::admin("admin"));
        let mut config = ServerConfig::new("bench", auth);
        // No controllers: no pods to schedule, nothing waited for; the host's side alone.
        config.controllers = false;
        ApiServer::start(config).await.expect("server starts")
    });
    let endpoint = Endpoint { url: server.url(), ca_pem: Some(server.ca_pem().to_string()) };
    let dir = tempfile::tempdir().expect("temp dir");
    let chart = dir.path().join("bench");
    write_chart(&chart);

    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("client runtime");
    client_rt.block_on(async move {
        let client = Target::static_token("bench", endpoint, TOKEN).connect().await.expect("connects");
        let timed = Arc::new(Timed { inner: KubeBackend::new("bench", client.clone()).with_field_manager(FIELD_MANAGER), nanos: AtomicU64::new(0), calls: AtomicU64::new(0) });
        let releases = Releases::with_backend("bench", Storage::new(client.clone(), "default", Driver::Secret), timed.clone()).with_cluster_version().await.expect("the cluster's version");
        let installed = releases.install("bench", &chart, &InstallOptions { values: rev(0), ..Default::default() }).await.expect("installs");
        let objects = gantry_release::manifest::read(&installed.manifest).expect("manifest").len();
        timed.take();

        // Upgrades, each changing every object.
        let mut walls = Vec::new();
        let mut object_trips = Vec::new();
        let mut object_calls = 0;
        for n in 1..=UPGRADES {
            let t = Instant::now();
            let r = releases.upgrade("bench", &chart, &UpgradeOptions { values: rev(n), ..Default::default() }).await.expect("upgrades");
            walls.push(t.elapsed());
            let (d, calls) = timed.take();
            object_trips.push(d);
            object_calls = calls;
            assert_eq!(r.version as usize, n + 1);
        }

        // The render alone: what render_release does, through the engine's public entry points.
        let mut renders = Vec::new();
        let mut last = None;
        for n in 1..=UPGRADES {
            let t = Instant::now();
            let loaded = gantry_helm::chart::load(&chart).expect("loads");
            let _record = gantry_release::record::chart_record(&loaded, Some(&chart));
            let options = gantry_helm::engine::RenderOptions { release_name: "bench".into(), namespace: "default".into(), revision: n as i64 + 1, is_upgrade: true, install_checks: true, ..Default::default() };
            let values = gantry_helm::value::Value::from(&Value::Object(rev(n)));
            let files = gantry_helm::engine::render_chart(&chart, &values, &options).expect("renders");
            let built = gantry_release::manifest::build(files, loaded.name()).expect("sorts");
            renders.push(t.elapsed());
            last = Some(built);
        }
        let _ = last;

        // The storage encode alone, on the last revision's record.
        let record = releases.get("bench", None).await.expect("the last revision");
        let mut encodes = Vec::new();
        let mut size = 0;
        for _ in 0..UPGRADES {
            let t = Instant::now();
            size = codec::encode(&record).expect("encodes").len();
            encodes.push(t.elapsed());
        }

        // The storage calls an upgrade makes, alone (history, create, two updates), on another name.
        let storage = Storage::new(client.clone(), "default", Driver::Secret);
        let mut copy = record.clone();
        copy.name = "bench-storage".into();
        copy.labels = BTreeMap::new();
        copy.version = 1;
        storage.create(&copy).await.expect("stores");
        let mut stores = Vec::new();
        for n in 2..=UPGRADES + 1 {
            let t = Instant::now();
            let _ = storage.history(&copy.name).await.expect("history");
            copy.version = n as i64;
            storage.create(&copy).await.expect("creates");
            storage.update(&copy).await.expect("updates");
            storage.update(&copy).await.expect("updates");
            stores.push(t.elapsed());
        }

        let mut sorted = walls.clone();
        sorted.sort();
        let (wall, render, encode, trips, store) = (mean(&walls), mean(&renders), mean(&encodes), mean(&object_trips), mean(&stores));
        println!("upgrade of a {objects}-object release on a simulated cluster, {UPGRADES} upgrades, no waits, no hooks:");
        println!("  per upgrade: mean {}, p50 {}, p95 {}, max {} (goal <= 300 ms)", ms(wall), ms(percentile(&sorted, 0.5)), ms(percentile(&sorted, 0.95)), ms(sorted[sorted.len() - 1]));
        println!("  object round trips (in place, {object_calls} backend calls: applies, reads, deletes): mean {}", ms(trips));
        println!("  render (load, render, split and sort; alone): mean {}", ms(render));
        println!("  storage encode (gzip+base64 of the {size}-byte record; alone): mean {}", ms(encode));
        println!("  storage round trips with decode (history, create, 2 updates, each encoding; alone): mean {}", ms(store));
        let rest = wall.saturating_sub(trips + render + store);
        println!("  rest (discovery of kinds, ownership reads, values, bookkeeping): about {}", ms(rest));
    });
    drop(server);
}
