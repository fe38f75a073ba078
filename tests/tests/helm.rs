//! A Wasm plugin keeping Helm releases through the runtime: a pipeline whose
//! `sim` target is an in-process simulated cluster, connected as `gantry run`
//! connects it, with gantry-release's `ReleasesBackend` as the target's
//! `helm` backend (as `gantry run` plugs it in), and a stage
//! (`fixture-helm`) that upgrade-installs, reads status and history of,
//! rolls back and uninstalls the pipeline's releases (`app`,
//! `app-canary`) on its target; a release outside the pipeline, another
//! namespace, another chart and another target are `denied`, with the
//! denial in the run log, and nothing of theirs reaches the cluster. What
//! the plugin did is really on the cluster, in Helm's storage.

use std::collections::BTreeMap;
use std::sync::Arc;

use gantry_cluster::{KubeBackend, Target};
use gantry_engine::event::{RunStatus, StepStatus};
use gantry_release::{Driver, ReleasesBackend};
use gantry_runtime::cluster::{ClusterBackend, ObjectKey};
use gantry_runtime::HelmBackend;
use gantry_sim::estate::ClusterSpec;
use serde_json::Value;

use crate::common;
use common::{fixture_path, run_pipeline_with};

const CALLS: &str = r#"
      calls:
        - { op: status, release: app }
        - { op: upgrade-install, release: app, set: [ "message=one" ] }
        - { op: upgrade-install, release: app, set: [ "message=two" ] }
        - { op: status, release: app }
        - { op: history, release: app }
        - { op: rollback, release: app, revision: 1 }
        - { op: history, release: app, max: 1 }
        - { op: upgrade-install, release: app-canary, set: [ "message=canary" ] }
        - { op: uninstall, release: app-canary }
        - { op: status, release: app-canary }
        - { op: template, release: app, values: [ "message: rendered\n" ] }
        - { op: upgrade-install, release: someone-elses }
        - { op: status, release: app, namespace: kube-system }
        - { op: upgrade-install, release: app, chart: /etc }
        - { op: history, release: app, target: gcp }
        - { op: upgrade-install, release: app, install: false, set: [ "message=three" ] }
"#;

fn write_chart(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(dir.join("Chart.yaml"), "apiVersion: v2\nname: app\nversion: 0.2.0\nappVersion: \"2.1\"\n").unwrap();
    std::fs::write(dir.join("values.yaml"), "message: default\n").unwrap();
    std::fs::write(dir.join("templates/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  message: {{ .Values.message | quote }}\n").unwrap();
    std::fs::write(dir.join("templates/NOTES.txt"), "{{ .Release.Name }} says {{ .Values.message }}\n").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_keeps_the_pipelines_releases_on_its_target_and_is_denied_others() {
    let dir = tempfile::tempdir().unwrap();
    write_chart(&dir.path().join("chart"));
    let estate = gantry_sim::Estate::start_clusters(&dir.path().join("sim"), &[ClusterSpec::plain("aws")]).await.expect("estate starts");
    let client = Target::kubeconfig("aws", Some(estate.kubeconfig.clone()), "aws").connect().await.expect("connects");
    let objects: Arc<dyn ClusterBackend> = Arc::new(KubeBackend::new("aws", client.clone()));
    let helm: Arc<dyn HelmBackend> = Arc::new(ReleasesBackend::new("aws", client.clone(), Driver::Secret, &dir.path().join("chart")));
    let clusters = Arc::new(BTreeMap::from([("aws".to_string(), objects.clone())]));
    let helm = Arc::new(BTreeMap::from([("aws".to_string(), helm)]));

    let yaml = format!(
        "name: helm-calls\nrelease: {{ name: app, chart: ./chart }}\ntargets:\n  aws: {{ sim: {{}} }}\nstages:\n  - name: releases\n    uses: {}\n    grants: [helm]\n    with:{CALLS}",
        fixture_path("helm")
    );
    let outcome = run_pipeline_with(dir.path(), &yaml, clusters, helm).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let step = &outcome.record.stages[0].steps[0];
    assert_eq!(step.status, StepStatus::Succeeded);
    let results = step.outputs["results"].as_array().unwrap();
    let answer = |i: usize| &results[i]["answer"];
    let revisions = |v: &Value| v.as_array().unwrap().iter().map(|r| (r["revision"].as_u64().unwrap(), r["status"].as_str().unwrap().to_string())).collect::<Vec<_>>();

    assert_eq!(answer(0), &Value::Null, "no release yet: status is none");
    assert_eq!((answer(1)["revision"].as_u64(), answer(1)["status"].as_str(), answer(1)["description"].as_str()), (Some(1), Some("deployed"), Some("Install complete")), "{}", answer(1));
    assert_eq!((answer(1)["chart"].as_str(), answer(1)["app_version"].as_str(), answer(1)["namespace"].as_str()), (Some("app-0.2.0"), Some("2.1"), Some("default")));
    assert_eq!((answer(2)["revision"].as_u64(), answer(2)["description"].as_str()), (Some(2), Some("Upgrade complete")), "{}", answer(2));
    assert_eq!(answer(3)["revision"], 2);
    assert_eq!(revisions(answer(4)), [(1, "superseded".to_string()), (2, "deployed".to_string())]);
    assert_eq!((answer(5)["revision"].as_u64(), answer(5)["description"].as_str()), (Some(3), Some("Rollback to 1")), "{}", answer(5));
    assert_eq!(revisions(answer(6)), [(3, "deployed".to_string())], "history's max keeps the newest");
    assert_eq!(answer(7)["revision"], 1, "{}", answer(7));
    assert_eq!(answer(8), "uninstalled");
    assert_eq!(answer(9), &Value::Null, "uninstalled without history: gone");
    assert_eq!(answer(10), &serde_json::json!(["app/templates/cm.yaml"]), "{}", answer(10));
    for (i, says) in [(11, "release `someone-elses` is outside this stage"), (12, "namespace `kube-system`"), (13, "chart `/etc` is not the pipeline's chart"), (14, "target `gcp` is outside this stage")] {
        assert_eq!(answer(i)["error"], "denied", "{i}: {}", answer(i));
        assert!(answer(i)["message"].as_str().unwrap().contains(says), "{i}: {}", answer(i));
    }
    assert_eq!(answer(15)["revision"], 4, "a plain upgrade of an existing release: {}", answer(15));

    let log: Vec<&str> = step.logs.iter().map(|l| l.message.as_str()).collect();
    for call in ["denied helm.upgrade-install", "denied helm.status", "denied helm.history"] {
        assert!(log.iter().any(|l| l.starts_with(call)), "{call}: {log:?}");
    }
    assert!(log.iter().any(|l| l.contains("someone-elses")), "{log:?}");

    // On the cluster: the rollback's values then the last upgrade's; Helm's records; nothing of the denied calls.
    let key = |kind: &str, name: &str| ObjectKey { api_version: "v1".into(), kind: kind.into(), namespace: Some("default".into()), name: name.into() };
    assert_eq!(objects.get(&key("ConfigMap", "app-settings")).await.unwrap()["data"]["message"], "three");
    let record = objects.get(&key("Secret", "sh.helm.release.v1.app.v4")).await.expect("Helm's record of revision 4");
    assert_eq!((record["type"].as_str(), record["metadata"]["labels"]["status"].as_str()), (Some("helm.sh/release.v1"), Some("deployed")));
    assert!(objects.get(&key("Secret", "sh.helm.release.v1.app.v3")).await.is_ok());
    assert!(objects.get(&key("ConfigMap", "app-canary-settings")).await.is_err(), "the canary's objects were uninstalled");
    assert!(objects.get(&key("ConfigMap", "someone-elses-settings")).await.is_err());
    assert!(objects.get(&key("Secret", "sh.helm.release.v1.someone-elses.v1")).await.is_err());
    estate.shutdown().await;
}
