//! A second concurrent run of the same pipeline on the same targets is
//! refused by the run lock (issue 9, 8(h)), end to end: two real `gantry
//! run` processes (this package's binary) of one
//! pipeline — deploy-canary then promote with `builtin:helm-deploy`,
//! `on-failure: builtin:rollback` — against two simulated clusters started
//! in this process and reached through kubeconfig targets. The first run
//! takes the Lease on both clusters and is held inside its canary stage by
//! a fault rule (every apply of a Deployment answers 503 with `Retry-After:
//! 1`, which its retry layer waits out); the second run, started then,
//! exits 1 naming the first as the holder, and the clusters hold exactly
//! what they held before it (objects, release records, the Lease's holder).
//! The rule is lifted, the first run finishes its release and exits 0,
//! and the lock is free afterwards. `lock.rs` beside this file proves the
//! lock against a holder that is not a run; this proves it between runs.
//! Nothing asserts on time (timeouts are hang guards); nothing reaches
//! beyond 127.0.0.1; the processes started here are killed by pid if a
//! check fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use gantry_cluster::{KubeBackend, Target};
use gantry_runtime::cluster::{ClusterBackend, ListQuery, ObjectKey};
use gantry_sim::estate::ClusterSpec;
use gantry_sim::faults::FaultRule;

const TARGETS: [&str; 2] = ["aws", "gcp"];
const HANG_GUARD: Duration = Duration::from_secs(300);

/// A `gantry run` process that is killed (by its pid) if the test ends first.
struct Run(Option<Child>);

impl Run {
    fn start(gantry: &Path, dir: &Path) -> Run {
        let child = Command::new(gantry)
            .current_dir(dir)
            .args(["run", "--lock-timeout", "0"])
            .env("GANTRY_CACHE_DIR", dir.join("cache"))
            .env("CI", "true")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gantry starts");
        Run(Some(child))
    }

    fn pid(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// Its exit code and everything it printed.
    async fn finish(mut self) -> (Option<i32>, String) {
        let child = self.0.take().expect("running");
        let waited = tokio::task::spawn_blocking(move || child.wait_with_output());
        let out = tokio::time::timeout(HANG_GUARD, waited).await.expect("hang guard").expect("joins").expect("waits");
        (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What a cluster holds in `default`: objects a release makes, release
/// records, and who holds the run lock.
async fn snapshot(b: &Arc<dyn ClusterBackend>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let kinds = [("v1", "Secret"), ("v1", "ConfigMap"), ("v1", "Service"), ("v1", "ServiceAccount"), ("apps/v1", "Deployment")];
    for (api_version, kind) in kinds {
        for o in b.list(api_version, kind, "default", &ListQuery::default()).await.expect("lists") {
            let meta = &o["metadata"];
            let what = match kind {
                "Deployment" => format!("generation {} image {}", meta["generation"], o["spec"]["template"]["spec"]["containers"][0]["image"]),
                _ => format!("rv {} status {}", meta["resourceVersion"], meta["labels"]["status"]),
            };
            out.insert(format!("{kind}/{}", meta["name"].as_str().unwrap_or_default()), what);
        }
    }
    out.insert("Lease/holder".into(), holder(b).await.unwrap_or_default());
    out
}

/// The run lock's holder on a cluster, if anyone holds it.
async fn holder(b: &Arc<dyn ClusterBackend>) -> Option<String> {
    let key = ObjectKey { api_version: "coordination.k8s.io/v1".into(), kind: "Lease".into(), namespace: Some("default".into()), name: gantry_cluster::lease::lease_name("fastapi-app") };
    let lease = b.get(&key).await.ok()?;
    lease["spec"]["holderIdentity"].as_str().filter(|h| !h.is_empty()).map(str::to_string)
}

async fn revision_status(b: &Arc<dyn ClusterBackend>, release: &str, n: u32) -> Option<String> {
    let key = ObjectKey { api_version: "v1".into(), kind: "Secret".into(), namespace: Some("default".into()), name: format!("sh.helm.release.v1.{release}.v{n}") };
    let secret = b.get(&key).await.ok()?;
    Some(secret["metadata"]["labels"]["status"].as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_concurrent_run_is_refused_naming_the_first_which_finishes_undisturbed() {
    let gantry = PathBuf::from(env!("CARGO_BIN_EXE_gantry"));
    let dir = tempfile::tempdir().unwrap();
    let estate = gantry_sim::Estate::start_clusters(&dir.path().join("sim"), &TARGETS.map(ClusterSpec::plain)).await.expect("estate starts");
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../helm/fastapi-app").canonicalize().expect("helm/fastapi-app exists");
    let kubeconfig = estate.kubeconfig.display().to_string();
    let yaml = format!(
        "name: locked\nimage: {{ name: app, tag: v1 }}\n\
         release: {{ name: fastapi-app, chart: \"{}\", namespace: default }}\n\
         targets:\n  aws: {{ kubeconfig: {{ path: \"{kubeconfig}\", context: aws }}, registry: \"127.0.0.1:5999\" }}\n  gcp: {{ kubeconfig: {{ path: \"{kubeconfig}\", context: gcp }}, registry: \"127.0.0.1:5999\" }}\n\
         stages:\n\
         \x20 - {{ name: deploy-canary, uses: builtin:helm-deploy, with: {{ track: canary, timeout: 2m }} }}\n\
         \x20 - {{ name: promote-to-production, uses: builtin:helm-deploy, with: {{ track: stable, timeout: 2m }} }}\n\
         on-failure: builtin:rollback\n",
        chart.display()
    );
    std::fs::write(dir.path().join("gantry.yaml"), yaml).unwrap();
    let mut clusters: BTreeMap<&str, Arc<dyn ClusterBackend>> = BTreeMap::new();
    for t in TARGETS {
        let client = Target::kubeconfig(t, Some(estate.kubeconfig.clone()), t).connect().await.expect("connects");
        clusters.insert(t, Arc::new(KubeBackend::new(t, client)));
    }

    // The gate: every Deployment apply answers 503 (try again later) until lifted.
    let gates: Vec<(&str, String)> = TARGETS
        .iter()
        .map(|t| {
            let rule = FaultRule::status(503).retry_after(1).verb("patch").path("/apis/apps/v1/namespaces/default/deployments");
            (*t, estate.cluster(t).expect("cluster").faults().add(rule).expect("rule"))
        })
        .collect();

    let first = Run::start(&gantry, dir.path());
    // The first run is inside its canary stage on both clusters: it holds both locks.
    tokio::time::timeout(HANG_GUARD, async {
        while !gates.iter().all(|(t, id)| estate.cluster(t).expect("cluster").faults().hits(id).unwrap_or(0) >= 1) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the first run reaches its canary stage (hang guard)");
    let mut holders = BTreeMap::new();
    for t in TARGETS {
        let h = holder(&clusters[t]).await.unwrap_or_else(|| panic!("{t}: the first run holds the lock"));
        assert!(h.ends_with(&format!("(pid {})", first.pid())), "{t}: held by the first run: {h}");
        holders.insert(t, h);
    }
    let mut before = BTreeMap::new();
    for t in TARGETS {
        before.insert(t, snapshot(&clusters[t]).await);
    }

    let (code, output) = Run::start(&gantry, dir.path()).finish().await;
    assert_eq!(code, Some(1), "the second run is refused: {output}");
    assert!(output.contains("is locked by ") && (output.contains(holders["aws"].as_str()) || output.contains(holders["gcp"].as_str())), "names the first run as the holder: {output}");
    assert!(output.contains("release fastapi-app on target "), "{output}");
    assert!(!output.contains("helm upgrade"), "no stage of the second run started: {output}");
    for t in TARGETS {
        assert_eq!(snapshot(&clusters[t]).await, before[t], "{t}: the second run changed nothing");
    }

    // Lift the gate: the first run finishes its release.
    for (t, id) in &gates {
        estate.cluster(t).expect("cluster").faults().remove(id);
    }
    let (code, output) = first.finish().await;
    assert_eq!(code, Some(0), "the first run succeeds: {output}");
    for t in TARGETS {
        let c = &clusters[t];
        assert_eq!(revision_status(c, "fastapi-app", 1).await.as_deref(), Some("deployed"), "{t}");
        assert_eq!(revision_status(c, "fastapi-app", 2).await, None, "{t}: one release, one revision");
        assert_eq!(revision_status(c, "fastapi-app-canary", 1).await, None, "{t}: the canary was removed by the promotion");
        let key = ObjectKey { api_version: "apps/v1".into(), kind: "Deployment".into(), namespace: Some("default".into()), name: "fastapi-app".into() };
        let stable = c.get(&key).await.expect("stable's Deployment");
        assert_eq!(stable["spec"]["template"]["spec"]["containers"][0]["image"], "127.0.0.1:5999/app:v1", "{t}");
        assert_eq!(holder(c).await, None, "{t}: the lock is free after the run");
    }
    estate.shutdown().await;
}
