//! The request end to end (issue 9, point 8): whole seven-stage runs of the
//! real `gantry` binary — `builtin:build` (a real Docker engine), `scan`
//! (`builtin:policy-default`, `no-root`), `helm-deploy` canary,
//! `health-http`, `canary-analysis` (a real Prometheus per cluster scraping
//! the simulated users' requests), `helm-deploy` stable, `health-http`,
//! `on-failure: builtin:rollback` — the stages of
//! examples/fastapi-app/gantry.yaml, on two simulated clouds that a `gantry
//! sim up` process serves: an EKS-flavoured and a GKE-flavoured cluster,
//! reached WITHOUT `--sim`, the clouds' way (DescribeCluster and an STS
//! token; clusters.get and an OAuth token for the service-account key),
//! with the environment `sim up` writes (`sim.env`, including
//! `PROMETHEUS_URL_<CLUSTER>`). The image is pushed to two real
//! docker-registry processes (the targets' registries), which the simulated
//! kubelets pull from (`sim up --registry`): a pod's `imageID` is the
//! pushed digest.
//!
//! Each test owns its bed (dockerd, two registries, `sim up`), so tests
//! run in parallel in nextest's processes; everything is on 127.0.0.1,
//! under temp dirs, and killed by pid when the test ends. Each scenario
//! asserts the exit code, the run record (`.gantry/runs/*.json`) and what
//! the clusters hold afterwards, read through `sim up`'s kubeconfig.
//! Scenario knobs are pod annotations (`gantry_sim::controllers::behavior`)
//! set per stage through the chart's `podAnnotations`. Nothing asserts on
//! time: timeouts are hang guards. Missing dockerd, docker-registry or
//! prometheus skips a test locally and fails it under `CI`.
//!
//! This file must not start anything beyond those services and `gantry`,
//! nor kill any process it did not start.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gantry_cluster::{KubeBackend, Target};
use gantry_registry::testing::dockerd::Dockerd;
use gantry_registry::testing::registry::{DockerRegistry, RegistryAuth};
use gantry_runtime::cluster::{ClusterBackend, ListQuery, ObjectKey};
use serde_json::{json, Value};

/// Pipeline target → simulated cluster (its kubeconfig context).
const TARGETS: [(&str, &str); 2] = [("aws", "e2e-eks"), ("gcp", "e2e-gke")];
const GCP_PROJECT: &str = "gantry-e2e";
const HANG_GUARD: Duration = Duration::from_secs(300);
const RELEASE: &str = "fastapi-app";
const CANARY: &str = "fastapi-app-canary";

/// The binary cargo built for these tests; `GANTRY_E2E_BINARY` names a copy
/// instead (a target directory shared by several checkouts may be rebuilt
/// under a running test).
fn gantry_binary() -> PathBuf {
    std::env::var_os("GANTRY_E2E_BINARY").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_gantry")), PathBuf::from)
}

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../helm/fastapi-app").canonicalize().expect("helm/fastapi-app exists")
}

/// Sends `signal` (`TERM`, `INT`) to a process this file started.
fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status();
}

/// Waits for `child` up to `within`; None if it still runs.
fn wait_for(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let until = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `gantry sim up` process: stopped with SIGTERM (it stops its
/// Prometheus servers), killed if it does not stop.
struct SimUp {
    child: Option<Child>,
    /// What `sim.env` exports.
    env: Vec<(String, String)>,
    kubeconfig: PathBuf,
    /// The `sim-ready` event it printed.
    ready: Value,
}

impl SimUp {
    fn start(dir: &Path, registries: &[&str]) -> SimUp {
        let sim_dir = dir.join("sim");
        let mut cmd = Command::new(gantry_binary());
        cmd.current_dir(dir).args(["--output", "json", "sim", "up", "--dir"]).arg(&sim_dir);
        cmd.args(["--cluster", &format!("{}=eks:eu-west-1", TARGETS[0].1), "--cluster", &format!("{}=gke:{GCP_PROJECT}/europe-west1", TARGETS[1].1)]);
        for r in registries {
            cmd.args(["--registry", r]);
        }
        let log = std::fs::File::create(dir.join("sim-up.log")).unwrap();
        let mut child = cmd.env_remove("RUST_LOG").stdout(Stdio::piped()).stderr(log).spawn().expect("gantry sim up starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Drain the rest, so a later line never meets a closed pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let mut up = SimUp { child: Some(child), env: Vec::new(), kubeconfig: PathBuf::new(), ready: Value::Null };
        let line = rx.recv_timeout(HANG_GUARD).expect("sim up announces itself (hang guard)");
        let log = || std::fs::read_to_string(dir.join("sim-up.log")).unwrap_or_default();
        up.ready = serde_json::from_str(&line).unwrap_or_else(|e| panic!("sim up's first line is its sim-ready event ({e}): {line:?}\nits log:\n{}", log()));
        assert_eq!(up.ready["event"], "sim-ready", "{}", up.ready);
        let env_file = up.ready["env_file"].as_str().expect("env_file").to_string();
        up.env = parse_env(&std::fs::read_to_string(&env_file).expect("sim.env is written"));
        up.kubeconfig = PathBuf::from(up.ready["kubeconfig"].as_str().expect("kubeconfig"));
        up
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl Drop for SimUp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            if wait_for(&mut child, Duration::from_secs(30)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// `export K='V'` lines.
fn parse_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// How a scenario's pipeline differs from the good release.
#[derive(Default, Clone)]
struct Knobs {
    /// Pod annotations of the canary stage's release.
    canary_pods: Value,
    /// Pod annotations the promotion gives stable.
    stable_pods: Value,
    /// More `with:` for health-check-canary.
    health_canary: Value,
    /// The image runs as root (no `USER`): the policy denies it.
    root: bool,
}

/// One finished `gantry run`.
struct Finished {
    code: Option<i32>,
    output: String,
    record: Value,
}

impl Finished {
    fn stage(&self, name: &str) -> &Value {
        self.record["stages"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no stage {name} in the record: {}", self.record))
    }

    fn statuses(&self) -> Vec<(String, String)> {
        self.record["stages"].as_array().unwrap().iter().map(|s| (s["name"].as_str().unwrap().to_string(), s["status"].as_str().unwrap().to_string())).collect()
    }

    /// The digest the build pushed.
    fn digest(&self) -> String {
        self.stage("build")["steps"][0]["outputs"]["digest"].as_str().unwrap_or_else(|| panic!("build's digest: {}", self.stage("build"))).to_string()
    }

    /// The steps of `stage`, after asserting that it failed on every target.
    fn failed_steps(&self, stage: &str) -> Vec<Value> {
        let steps = self.stage(stage)["steps"].as_array().unwrap().clone();
        assert_eq!(steps.len(), TARGETS.len(), "{steps:#?}");
        assert!(steps.iter().all(|s| s["status"] == "failed"), "{stage} failed on every target: {steps:#?}");
        steps
    }
}

/// A running `gantry run`, its stdout (JSON events) collected as it comes.
struct Running {
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: PathBuf,
    dir: PathBuf,
    before: Vec<PathBuf>,
}

impl Running {
    /// Waits until an event line satisfies `pred` (hang guard).
    fn wait_for_event(&self, pred: impl Fn(&Value) -> bool) {
        let until = Instant::now() + HANG_GUARD;
        loop {
            if self.lines.lock().unwrap().iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).any(|v| pred(&v)) {
                return;
            }
            assert!(Instant::now() < until, "the awaited event did not come (hang guard): {}", self.lines.lock().unwrap().join("\n"));
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn finish(mut self) -> Finished {
        let mut child = self.child.take().expect("running");
        let status = wait_for(&mut child, HANG_GUARD).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("gantry run did not finish (hang guard)")
        });
        // The reader thread sees EOF once the process is gone.
        std::thread::sleep(Duration::from_millis(200));
        let output = format!("{}\n--- stderr:\n{}", self.lines.lock().unwrap().join("\n"), std::fs::read_to_string(&self.stderr).unwrap_or_default());
        let runs = self.dir.join(".gantry/runs");
        let new: Vec<PathBuf> = std::fs::read_dir(&runs).map(|d| d.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "json") && !self.before.contains(p)).collect()).unwrap_or_default();
        assert_eq!(new.len(), 1, "one new run record under {}: {new:?}\n{output}", runs.display());
        let record = serde_json::from_slice(&std::fs::read(&new[0]).unwrap()).unwrap();
        Finished { code: status.code(), output, record }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Everything a scenario runs against.
struct Bed {
    // Dropped in this order: sim up (and its Prometheus servers), the engine, the registries.
    sim: SimUp,
    engine: Dockerd,
    registries: [DockerRegistry; 2],
    clusters: BTreeMap<String, Arc<dyn ClusterBackend>>,
    dir: tempfile::TempDir,
}

impl Bed {
    /// None when a service is missing (and not under CI).
    async fn start() -> Option<Bed> {
        match gantry_sim::prometheus::find_binary() {
            Ok(Some(_)) => {}
            Ok(None) => {
                gantry_registry::testing::missing("prometheus", "apt-get install -y prometheus, or set GANTRY_PROMETHEUS to its binary (TESTING.md)");
                return None;
            }
            Err(e) => panic!("{e}"),
        }
        let (Some(a), Some(b)) = (DockerRegistry::start(RegistryAuth::None), DockerRegistry::start(RegistryAuth::None)) else { return None };
        let engine = Dockerd::start()?;
        let dir = tempfile::tempdir().unwrap();
        let sim = {
            let (dir, hosts) = (dir.path().to_path_buf(), [a.host().to_string(), b.host().to_string()]);
            tokio::task::spawn_blocking(move || SimUp::start(&dir, &[&hosts[0], &hosts[1]])).await.unwrap()
        };
        let mut clusters = BTreeMap::new();
        for (target, context) in TARGETS {
            let client = Target::kubeconfig(target, Some(sim.kubeconfig.clone()), context).connect().await.expect("the test connects through sim up's kubeconfig");
            let backend: Arc<dyn ClusterBackend> = Arc::new(KubeBackend::new(target, client));
            clusters.insert(target.to_string(), backend);
        }
        Some(Bed { sim, engine, registries: [a, b], clusters, dir })
    }

    fn registry(&self, target: &str) -> &str {
        if target == TARGETS[0].0 {
            self.registries[0].host()
        } else {
            self.registries[1].host()
        }
    }

    /// The app (`version` is its content, so its digest) and `gantry.yaml`.
    fn write(&self, version: &str, knobs: &Knobs) {
        let dir = self.dir.path();
        std::fs::create_dir_all(dir.join("app")).unwrap();
        let user = if knobs.root { "" } else { "USER 10001:10001\n" };
        std::fs::write(dir.join("app/Dockerfile"), format!("FROM scratch\nLABEL org.opencontainers.image.title=e2e-app\nENV APP_VERSION={version}\nCOPY version.txt /srv/version.txt\n{user}EXPOSE 8000\nENTRYPOINT [\"/srv/app\"]\n")).unwrap();
        std::fs::write(dir.join("app/version.txt"), format!("{version}\n")).unwrap();
        let with = |base: Value, extra: &Value| {
            let mut base = base;
            if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
                b.extend(e.clone());
            }
            base
        };
        let pods = |annotations: &Value| if annotations.is_null() { json!({}) } else { annotations.clone() };
        let health = json!({"path": "/health", "interval": "1s", "deadline": "90s"});
        let stages = [
            json!({"name": "build", "uses": "builtin:build", "with": {"backend": "docker"}}),
            json!({"name": "scan", "uses": "builtin:scan", "with": {"policy": "builtin:policy-default", "settings": {"no-root": true}}}),
            json!({"name": "deploy-canary", "uses": "builtin:helm-deploy", "with": {"track": "canary", "set": {"replicaCount": 1}, "values": {"podAnnotations": pods(&knobs.canary_pods)}, "timeout": "2m"}}),
            json!({"name": "health-check-canary", "uses": "builtin:health-http", "with": with(health.clone(), &knobs.health_canary)}),
            // The request's wait (10m in 30s steps), shortened per run by `--wait`; a short rate window for short waits.
            json!({"name": "wait-for-canary", "uses": "builtin:canary-analysis", "with": {"duration": "10m", "interval": "30s", "rate-window": "3s", "step": "1s", "min-requests": 5}}),
            json!({"name": "promote-to-production", "uses": "builtin:helm-deploy", "with": {"track": "stable", "values": {"podAnnotations": pods(&knobs.stable_pods)}, "timeout": "2m"}}),
            json!({"name": "health-check-production", "uses": "builtin:health-http", "with": health}),
        ];
        let stages: String = stages.iter().map(|s| format!("  - {s}\n")).collect();
        let (aws, gcp) = (TARGETS[0], TARGETS[1]);
        let var = |cluster: &str, what: &str| format!("${{{what}_{}}}", cluster.to_uppercase().replace('-', "_"));
        let yaml = format!(
            "name: e2e\n\
             image: {{ name: app, tag: \"${{TAG}}\", build: {{ context: app, dockerfile: Dockerfile }} }}\n\
             release: {{ name: {RELEASE}, chart: \"{chart}\", namespace: default }}\n\
             targets:\n\
             \x20 {t0}:\n\
             \x20   eks: {{ cluster: \"{c0}\", region: \"${{AWS_REGION}}\" }}\n\
             \x20   registry: \"{r0}\"\n\
             \x20   metrics: {{ prometheus: \"{p0}\" }}\n\
             \x20 {t1}:\n\
             \x20   gke: {{ cluster: \"{c1}\", region: \"${{GCP_REGION}}\", project: \"${{GCP_PROJECT}}\", credentials: \"${{GCP_SERVICE_ACCOUNT_KEY}}\" }}\n\
             \x20   registry: \"{r1}\"\n\
             \x20   metrics: {{ prometheus: \"{p1}\" }}\n\
             stages:\n{stages}\
             on-failure: builtin:rollback\n",
            chart = chart().display(),
            t0 = aws.0,
            c0 = var(aws.1, "CLUSTER"),
            r0 = self.registry(aws.0),
            p0 = var(aws.1, "PROMETHEUS_URL"),
            t1 = gcp.0,
            c1 = var(gcp.1, "CLUSTER"),
            r1 = self.registry(gcp.0),
            p1 = var(gcp.1, "PROMETHEUS_URL"),
        );
        std::fs::write(dir.join("gantry.yaml"), yaml).unwrap();
    }

    /// `gantry ARGS` with sim up's environment, the engine's `DOCKER_HOST`
    /// and nothing of the user's (home, docker config, cache).
    fn command(&self, args: &[&str]) -> Command {
        let dir = self.dir.path();
        let mut cmd = Command::new(gantry_binary());
        cmd.current_dir(dir).args(args);
        for var in ["RUST_LOG", "GANTRY_STATE_DIR", "GANTRY_DB_DIR", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_SESSION_TOKEN", "CLOUDSDK_CONFIG"] {
            cmd.env_remove(var);
        }
        cmd.envs(self.sim.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd.env("DOCKER_HOST", self.engine.host()).env("DOCKER_CONFIG", dir.join("docker-config")).env("HOME", dir).env("GANTRY_CACHE_DIR", dir.join("cache"));
        cmd
    }

    /// Starts `gantry --output json run --wait WAIT --var TAG=VERSION` of the app `version`.
    fn start_run(&self, version: &str, knobs: &Knobs, wait: &str) -> Running {
        self.write(version, knobs);
        let dir = self.dir.path().to_path_buf();
        let runs = dir.join(".gantry/runs");
        let before = std::fs::read_dir(&runs).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
        let stderr = dir.join(format!("run-{version}.stderr"));
        let tag = format!("TAG={version}");
        let mut child = self.command(&["--output", "json", "run", "--wait", wait, "--var", &tag]).stdout(Stdio::piped()).stderr(std::fs::File::create(&stderr).unwrap()).spawn().expect("gantry run starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (stdout, sink) = (child.stdout.take().expect("piped"), lines.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Running { child: Some(child), lines, stderr, dir, before }
    }

    async fn run(&self, version: &str, knobs: &Knobs, wait: &str) -> Finished {
        let running = self.start_run(version, knobs, wait);
        tokio::task::spawn_blocking(move || running.finish()).await.unwrap()
    }

    /// A good release of `version`: exit 0, every stage passed.
    async fn release(&self, version: &str) -> Finished {
        let done = self.run(version, &Knobs::default(), "4s").await;
        assert_eq!(done.code, Some(0), "the good release {version} passes: {}", done.output);
        done
    }

    async fn get(&self, target: &str, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        let key = ObjectKey { api_version: api_version.into(), kind: kind.into(), namespace: Some("default".into()), name: name.into() };
        self.clusters[target].get(&key).await.ok()
    }

    /// Every Helm release record in `default`: `release.vN` → its status label.
    async fn releases(&self, target: &str) -> BTreeMap<String, String> {
        let secrets = self.clusters[target].list("v1", "Secret", "default", &ListQuery::default()).await.expect("lists Secrets");
        secrets
            .iter()
            .filter(|s| s["type"] == "helm.sh/release.v1")
            .map(|s| (s["metadata"]["name"].as_str().unwrap_or_default().trim_start_matches("sh.helm.release.v1.").to_string(), s["metadata"]["labels"]["status"].as_str().unwrap_or_default().to_string()))
            .collect()
    }

    /// Who holds the run lock (the release's Lease) on `target`, if anyone.
    async fn lock_holder(&self, target: &str) -> Option<String> {
        let lease = self.get(target, "coordination.k8s.io/v1", "Lease", &gantry_cluster::lease::lease_name(RELEASE)).await?;
        lease["spec"]["holderIdentity"].as_str().filter(|h| !h.is_empty()).map(str::to_string)
    }

    /// The Deployments in `default` by name.
    async fn deployments(&self, target: &str) -> BTreeMap<String, Value> {
        let list = self.clusters[target].list("apps/v1", "Deployment", "default", &ListQuery::default()).await.expect("lists Deployments");
        list.into_iter().map(|d| (d["metadata"]["name"].as_str().unwrap_or_default().to_string(), d)).collect()
    }

    /// The stable Deployment's image and pod annotations.
    async fn stable(&self, target: &str) -> (String, Value) {
        let d = self.deployments(target).await.remove(RELEASE).unwrap_or_else(|| panic!("{target}: no stable Deployment"));
        (d["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string(), d["spec"]["template"]["metadata"]["annotations"].clone())
    }

    /// `REGISTRY/app@DIGEST` as `target` runs it.
    fn pinned(&self, target: &str, digest: &str) -> String {
        format!("{}/app@{digest}", self.registry(target))
    }

    /// The imageIDs of the pods of `release`'s track (what the kubelet pulled), once they all run (hang guard).
    async fn pulled(&self, target: &str, track: &str) -> Vec<String> {
        let until = Instant::now() + HANG_GUARD;
        loop {
            let pods = self.clusters[target].list("v1", "Pod", "default", &ListQuery::default()).await.expect("lists Pods");
            let ids: Vec<String> = pods
                .iter()
                .filter(|p| p["metadata"]["labels"]["track"] == track && p["metadata"]["deletionTimestamp"].is_null())
                .map(|p| p["status"]["containerStatuses"][0]["imageID"].as_str().unwrap_or_default().to_string())
                .collect();
            if !ids.is_empty() && ids.iter().all(|i| !i.is_empty()) {
                return ids;
            }
            assert!(Instant::now() < until, "{target}: the {track} pods did not start (hang guard): {pods:#?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Asserts that every stage up to `failed` has `statuses` as given and the rest were skipped.
fn assert_stages(done: &Finished, expected: &[(&str, &str)]) {
    let got = done.statuses();
    let want: Vec<(String, String)> = expected.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(got, want, "{}", done.output);
}

const SEVEN: [&str; 7] = ["build", "scan", "deploy-canary", "health-check-canary", "wait-for-canary", "promote-to-production", "health-check-production"];

/// The seven stages: those before `failed` succeeded, `failed` failed, the rest skipped.
fn failed_at(failed: &str) -> Vec<(&'static str, &'static str)> {
    let at = SEVEN.iter().position(|s| *s == failed).expect("a stage");
    SEVEN.iter().enumerate().map(|(i, s)| (*s, if i < at { "succeeded" } else if i == at { "failed" } else { "skipped" })).collect()
}

/// What the first good release leaves on `target`: stable revision 1 of `digest`, no canary.
async fn assert_released(bed: &Bed, target: &str, digest: &str, revisions: &[(&str, &str)]) {
    let want: BTreeMap<String, String> = revisions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(bed.releases(target).await, want, "{target}: the release records");
    let deployments = bed.deployments(target).await;
    assert!(!deployments.contains_key(CANARY), "{target}: the canary is gone: {:?}", deployments.keys());
    assert_eq!(bed.stable(target).await.0, bed.pinned(target, digest), "{target}: stable runs the build's digest");
    assert_eq!(bed.lock_holder(target).await, None, "{target}: the run gave its lock back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_a_good_release_goes_through_all_seven_stages_on_eks_and_gke_then_plan_and_status_agree() {
    let Some(bed) = Bed::start().await else { return };
    // sim up serves what the run needs: both clouds, a Prometheus each, named in sim.env.
    for (_, cluster) in TARGETS {
        let var = format!("PROMETHEUS_URL_{}", cluster.to_uppercase().replace('-', "_"));
        let url = bed.sim.var(&var).unwrap_or_else(|| panic!("sim.env names {var}: {:?}", bed.sim.env.iter().map(|(k, _)| k).collect::<Vec<_>>()));
        assert_eq!(bed.sim.ready["prometheus"][cluster], url, "{}", bed.sim.ready);
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    }
    for var in ["AWS_ENDPOINT_URL_EKS", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER", "KUBECONFIG"] {
        assert!(bed.sim.var(var).is_some(), "sim.env sets {var}");
    }

    // A wait long enough for Prometheus to have scraped the canary's requests.
    let done = bed.run("v1", &Knobs::default(), "10s").await;
    assert_eq!(done.code, Some(0), "{}", done.output);
    assert_stages(&done, &SEVEN.map(|s| (s, "succeeded")));
    assert_eq!((done.record["status"].as_str(), done.record["exit_code"].as_i64(), done.record["interrupted"].as_bool()), (Some("succeeded"), Some(0), Some(false)));
    assert!(done.record["on_failure"].is_null(), "no rollback: {}", done.record["on_failure"]);
    let digest = done.digest();
    assert!(digest.starts_with("sha256:"), "{digest}");
    // The analysis judged on real metrics of both tracks, per target.
    let wait = done.stage("wait-for-canary");
    for step in wait["steps"].as_array().unwrap() {
        assert_eq!(step["outputs"]["decision"], "promote", "{step}");
        let verdicts = step["outputs"]["verdicts"].to_string();
        assert!(!verdicts.contains("no metrics provider"), "judged with Prometheus: {verdicts}");
        // The last verdict judged the canary's real requests (a first release: no stable to compare with).
        let last = step["outputs"]["verdicts"].as_array().and_then(|v| v.last()).cloned().unwrap_or_default().to_string();
        assert!(last.contains("error rate 0.00%") && !last.contains("canary 0 requests"), "{}: the last verdict judged real traffic: {last}", step["target"]);
    }
    for (target, _) in TARGETS {
        assert_released(&bed, target, &digest, &[("fastapi-app.v1", "deployed")]).await;
        // The kubelet resolved the pushed digest in the target's own registry.
        for id in bed.pulled(target, "stable").await {
            assert_eq!(id, bed.pinned(target, &digest), "{target}: the pod's imageID");
        }
    }

    // gantry plan with the same environment: stable matches the live release on both targets …
    let plan = |args: &[&str]| {
        let out = bed.command(&[&["--output", "json", "plan"], args].concat()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), v)
    };
    let release_of = |plan: &Value, target: &str, track: &str| -> Value {
        let t = plan["targets"].as_array().unwrap().iter().find(|t| t["target"] == target).unwrap_or_else(|| panic!("no {target}: {plan}"));
        t["releases"].as_array().unwrap().iter().find(|r| r["track"] == track).cloned().unwrap_or_else(|| panic!("no {track} on {target}: {plan}"))
    };
    let changed = |release: &Value| -> Vec<(String, String)> {
        release["objects"].as_array().unwrap().iter().filter(|o| o["change"] != "unchanged").map(|o| (format!("{}/{}", o["kind"].as_str().unwrap(), o["name"].as_str().unwrap()), o["change"].as_str().unwrap().to_string())).collect()
    };
    let (_, same) = plan(&["--var", "TAG=v1"]);
    for (target, _) in TARGETS {
        let stable = release_of(&same, target, "stable");
        assert_eq!(stable["live_revision"], 1, "{stable}");
        assert_eq!(changed(&stable), Vec::<(String, String)>::new(), "{target}: nothing changes for the same release");
        // The canary was removed by the promotion: a next run installs it anew.
        let canary = release_of(&same, target, "canary");
        assert!(changed(&canary).iter().all(|(_, c)| c == "new"), "{target}: {canary}");
    }
    // … and a new tag is a diff of stable's Deployment on both.
    let (code, next) = plan(&["--var", "TAG=v2"]);
    assert_eq!(code, Some(1), "{next}");
    for (target, _) in TARGETS {
        let stable = release_of(&next, target, "stable");
        let changes = changed(&stable);
        assert!(changes.iter().any(|(what, c)| what.starts_with("Deployment/") && c == "changed"), "{target}: {changes:?}");
        let diff = stable["objects"].as_array().unwrap().iter().find(|o| o["kind"] == "Deployment").unwrap()["diff"].as_str().unwrap_or_default().to_string();
        assert!(diff.contains(&format!("+      - image: {}/app:v2", bed.registry(target))), "{target}: {diff}");
    }

    // gantry status: stable with the build's digest, healthy, and the last run.
    let until = Instant::now() + HANG_GUARD;
    let status = loop {
        let out = bed.command(&["--output", "json", "status", "--var", "TAG=v1"]).output().unwrap();
        let status: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
        let healthy = |t: &Value| t["releases"].as_array().unwrap().iter().any(|r| r["track"] == "stable" && r["health"]["state"] == "healthy");
        if status["targets"].as_array().unwrap().iter().all(healthy) {
            break status;
        }
        assert!(Instant::now() < until, "stable becomes healthy in status (hang guard): {status}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for t in status["targets"].as_array().unwrap() {
        let target = t["target"].as_str().unwrap();
        let stable = t["releases"].as_array().unwrap().iter().find(|r| r["track"] == "stable").unwrap();
        assert_eq!((stable["release"].as_str(), stable["revision"].as_u64(), stable["status"].as_str()), (Some(RELEASE), Some(1), Some("deployed")), "{stable}");
        assert_eq!(stable["image"], bed.pinned(target, &digest), "{stable}");
        assert!(stable["digest"].as_str().unwrap_or_default().ends_with(&digest), "the digest the pods pulled is the build's: {stable}");
        let canary = t["releases"].as_array().unwrap().iter().find(|r| r["track"] == "canary").unwrap();
        assert_eq!(canary["installed"], false, "{canary}");
        assert_eq!(t["last_run"]["run_id"], done.record["run_id"], "{t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_a_crash_looping_canary_is_rolled_back_and_stable_is_untouched() {
    let Some(bed) = Bed::start().await else { return };
    let v1 = bed.release("v1").await.digest();
    // The canary stage does not wait for readiness by default (as the request's
    // `helm upgrade --install` of it does not): the health check catches the crash loop.
    let knobs = Knobs { canary_pods: json!({"sim.gantry.dev/behavior": "crashloop"}), ..Knobs::default() };
    let done = bed.run("v2", &knobs, "4s").await;
    assert_eq!(done.code, Some(1), "{}", done.output);
    assert_stages(&done, &failed_at("health-check-canary"));
    assert_eq!(done.record["failed_stage"], "health-check-canary");
    assert_eq!(done.record["on_failure"]["status"], "succeeded", "{}", done.record["on_failure"]);
    for step in done.failed_steps("health-check-canary") {
        let lower = step["error"]["message"].as_str().unwrap_or_default().to_lowercase();
        assert!(lower.contains("crash") || lower.contains("restart"), "the health check names the crash loop: {step}");
    }
    for (target, _) in TARGETS {
        // The canary's records and objects are gone; stable is revision 1 of v1, untouched.
        assert_released(&bed, target, &v1, &[("fastapi-app.v1", "deployed")]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_a_canary_with_a_higher_error_rate_is_aborted_by_the_analysis_and_rolled_back() {
    let Some(bed) = Bed::start().await else { return };
    let v1 = bed.release("v1").await.digest();
    // Half the canary's answers fail (its health probes too: a run of 10 failures ends the health check, not 3).
    let knobs = Knobs { canary_pods: json!({"sim.gantry.dev/http-error-rate": "0.5"}), health_canary: json!({"failure-threshold": 10}), ..Knobs::default() };
    let done = bed.run("v2", &knobs, "60s").await;
    assert_eq!(done.code, Some(1), "{}", done.output);
    assert_stages(&done, &failed_at("wait-for-canary"));
    assert_eq!(done.record["on_failure"]["status"], "succeeded", "{}", done.record["on_failure"]);
    for step in done.failed_steps("wait-for-canary") {
        assert_eq!(step["outputs"]["decision"], "abort", "{step}");
        let error = step["error"]["message"].as_str().unwrap_or_default();
        assert!(error.contains("error rate: canary") && error.contains("is over the maximum 5.00%"), "the abort names the error rate: {step}");
        assert!(step["outputs"]["completed"].as_u64().unwrap_or(0) < step["outputs"]["intervals"].as_u64().unwrap_or(0), "abort ends the wait at once: {}", step["outputs"]);
    }
    for (target, _) in TARGETS {
        assert_released(&bed, target, &v1, &[("fastapi-app.v1", "deployed")]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_production_failing_its_health_check_after_promotion_rolls_stable_back_on_both_clusters() {
    let Some(bed) = Bed::start().await else { return };
    let v1 = bed.release("v1").await.digest();
    // The promotion's pods answer /health with 503; the health check keeps its
    // defaults (one success would pass it): the promotion returns only once the
    // canary's pods are gone, so no canary pod behind the stable Service answers it.
    let knobs = Knobs { stable_pods: json!({"sim.gantry.dev/http-paths": r#"{"/health": {"status": 503, "body": "down"}}"#}), ..Knobs::default() };
    let done = bed.run("v2", &knobs, "4s").await;
    assert_eq!(done.code, Some(1), "{}", done.output);
    assert_stages(&done, &failed_at("health-check-production"));
    assert_eq!(done.record["on_failure"]["status"], "succeeded", "{}", done.record["on_failure"]);
    let v2 = done.digest();
    assert_ne!(v1, v2);
    for step in done.failed_steps("health-check-production") {
        assert!(step["error"]["message"].as_str().unwrap_or_default().contains("503"), "production's /health answered 503: {step}");
    }
    for (target, _) in TARGETS {
        // v2 was promoted (revision 2), then rolled back to revision 1's config as revision 3.
        let records = bed.releases(target).await;
        assert_eq!(records.get("fastapi-app.v3").map(String::as_str), Some("deployed"), "{target}: {records:?}");
        assert_eq!(records.get("fastapi-app.v1").map(String::as_str), Some("superseded"), "{target}: {records:?}");
        assert!(records.contains_key("fastapi-app.v2") && records.get("fastapi-app.v2").map(String::as_str) != Some("deployed"), "{target}: {records:?}");
        assert!(!records.keys().any(|k| k.starts_with(CANARY)), "{target}: the promotion removed the canary: {records:?}");
        let (image, annotations) = bed.stable(target).await;
        assert_eq!(image, bed.pinned(target, &v1), "{target}: stable runs v1 again");
        assert!(annotations.get("sim.gantry.dev/http-paths").is_none(), "{target}: without v2's pod annotations: {annotations}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_a_policy_deny_stops_the_run_before_any_cluster_is_touched() {
    let Some(bed) = Bed::start().await else { return };
    let done = bed.run("v1", &Knobs { root: true, ..Knobs::default() }, "4s").await;
    assert_eq!(done.code, Some(1), "{}", done.output);
    assert_stages(&done, &failed_at("scan"));
    let error = done.stage("scan")["steps"][0]["error"]["message"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("root"), "the deny names the rule: {error}");
    for (target, _) in TARGETS {
        assert_eq!(bed.releases(target).await, BTreeMap::new(), "{target}: no release record");
        assert_eq!(bed.deployments(target).await.keys().collect::<Vec<_>>(), Vec::<&String>::new(), "{target}: no Deployment");
        assert!(bed.get(target, "v1", "Service", RELEASE).await.is_none(), "{target}: no Service");
        assert_eq!(bed.lock_holder(target).await, None, "{target}: the run gave its lock back");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_sigint_during_the_wait_removes_the_canaries_on_both_clusters_and_leaves_stable() {
    let Some(bed) = Bed::start().await else { return };
    let v1 = bed.release("v1").await.digest();
    // A long wait, interrupted once it has begun on both targets.
    let running = bed.start_run("v2", &Knobs::default(), "5m");
    let running = tokio::task::spawn_blocking(move || {
        running.wait_for_event(|e| e["event"] == "log" && e["stage"] == "wait-for-canary" && e["target"] == TARGETS[0].0);
        running.wait_for_event(|e| e["event"] == "log" && e["stage"] == "wait-for-canary" && e["target"] == TARGETS[1].0);
        running
    })
    .await
    .unwrap();
    for (target, _) in TARGETS {
        assert!(bed.deployments(target).await.contains_key(CANARY), "{target}: the canary runs during the wait");
    }
    signal(running.pid(), "INT");
    let done = tokio::task::spawn_blocking(move || running.finish()).await.unwrap();
    assert_eq!(done.code, Some(1), "interrupted and rolled back: {}", done.output);
    assert_eq!(done.record["interrupted"], true);
    assert_eq!(done.stage("wait-for-canary")["status"], "interrupted", "{}", done.stage("wait-for-canary"));
    for stage in ["promote-to-production", "health-check-production"] {
        assert_eq!(done.stage(stage)["status"], "skipped");
    }
    assert_eq!(done.record["on_failure"]["status"], "succeeded", "{}", done.record["on_failure"]);
    for (target, _) in TARGETS {
        assert_released(&bed, target, &v1, &[("fastapi-app.v1", "deployed")]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_a_canary_that_turns_unhealthy_during_the_wait_fails_the_health_rerun_and_is_rolled_back() {
    let Some(bed) = Bed::start().await else { return };
    let v1 = bed.release("v1").await.digest();
    // Healthy when health-check-canary runs (seconds after the pod starts), crash-looping 15s after it started: in the wait.
    let knobs = Knobs { canary_pods: json!({"sim.gantry.dev/crash-after": "15s"}), ..Knobs::default() };
    let done = bed.run("v2", &knobs, "1m").await;
    assert_eq!(done.code, Some(1), "{}", done.output);
    assert_stages(&done, &failed_at("wait-for-canary"));
    for step in done.failed_steps("wait-for-canary") {
        assert_eq!(step["error"]["kind"], "unhealthy", "the health re-run ended the wait: {step}");
        let message = step["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("became unhealthy during the wait"), "{message}");
        // Re-run at every interval: healthy at first, then unhealthy three times in a row (the stage's failure-threshold).
        let states: Vec<&str> = step["outputs"]["health"].as_array().unwrap().iter().map(|h| h["health"].as_str().unwrap_or_default()).collect();
        assert_eq!(states.first(), Some(&"healthy"), "the canary was healthy when the wait began: {states:?}");
        assert!(states.ends_with(&["unhealthy", "unhealthy", "unhealthy"]), "{states:?}");
    }
    assert_eq!(done.record["on_failure"]["status"], "succeeded", "{}", done.record["on_failure"]);
    for (target, _) in TARGETS {
        assert_released(&bed, target, &v1, &[("fastapi-app.v1", "deployed")]).await;
    }
}
