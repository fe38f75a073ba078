//! gantry's releases held against the real Helm library (Helm SDK v4.2 via
//! helm-python-sdk) on one simulated cluster, both ways: Helm lists, shows
//! the history of, reads the values of and rolls back a release gantry
//! installed and upgraded; gantry reads, upgrades (`--reuse-values`) and
//! rolls back a release Helm installed, and Helm still reads and upgrades it
//! after; records Helm wrote survive gantry's decode/encode unchanged; the
//! ConfigMap driver the same way; a pending release is refused with Helm's
//! words by both; objects a revision drops are deleted; `--history-max`
//! prunes the records Helm's pruning keeps; install applies in Helm's kind
//! order and uninstall deletes in Helm's uninstall order (seen through
//! watches on the cluster: the resourceVersions of the creations and
//! deletions). Waits poll with hang guards only.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{chart, revisions, Cluster};
use futures::StreamExt;
use gantry_release::{codec, Driver, InstallOptions, ReleaseError, RollbackOptions, Status, UninstallOptions, UpgradeOptions, ValuesPolicy};
use kube::api::{Api, DynamicObject, WatchEvent, WatchParams};
use kube::core::ApiResource;
use serde_json::{json, Map, Value};

const HANG_GUARD: Duration = Duration::from_secs(60);

fn values(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("an object")
}

fn web() -> String {
    chart("web").to_string_lossy().into_owned()
}

#[tokio::test]
async fn helm_reads_and_rolls_back_a_release_gantry_installed_and_upgraded() {
    let Some(c) = Cluster::start().await else { return };
    let releases = c.releases("default", Driver::Secret).await;

    let installed = releases.install("web", &chart("web"), &InstallOptions { values: values(json!({"replicaCount": 1})), ..Default::default() }).await.expect("gantry installs");
    assert_eq!((installed.version, installed.status(), installed.description()), (1, Status::Deployed, "Install complete"));
    let stored = c.stored("Secret", "default", "web").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, "sh.helm.release.v1.web.v1");
    let labels = &stored[0].1;
    assert_eq!((&labels["name"], &labels["owner"], &labels["status"], &labels["version"]), (&json!("web"), &json!("helm"), &json!("deployed"), &json!("1")));
    assert!(labels["modifiedAt"].is_string() && labels.get("createdAt").is_none(), "an update rewrites the labels, as Helm's does: {labels}");
    let secret = c.object("v1", "Secret", Some("default"), "sh.helm.release.v1.web.v1").await.expect("the record");
    assert_eq!(secret["type"], "helm.sh/release.v1");
    let deployment = c.object("apps/v1", "Deployment", Some("default"), "web-web").await.expect("the deployment");
    assert_eq!(deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm");
    assert_eq!(deployment["metadata"]["annotations"]["meta.helm.sh/release-name"], "web");
    let managers: Vec<&str> = deployment["metadata"]["managedFields"].as_array().unwrap().iter().filter_map(|m| m["manager"].as_str()).collect();
    assert_eq!(managers, ["helm"], "applied as Helm's CLI applies");
    assert!(c.object("v1", "ConfigMap", Some("default"), "web-extra").await.is_some());

    let upgrade = UpgradeOptions { values: values(json!({"replicaCount": 2, "extra": {"enabled": false}})), ..Default::default() };
    let upgraded = releases.upgrade("web", &chart("web"), &upgrade).await.expect("gantry upgrades");
    assert_eq!((upgraded.version, upgraded.description()), (2, "Upgrade complete"));
    assert!(c.object("v1", "ConfigMap", Some("default"), "web-extra").await.is_none(), "the ConfigMap the upgrade dropped is deleted");
    assert_eq!(c.object("apps/v1", "Deployment", Some("default"), "web-web").await.unwrap()["spec"]["replicas"], 2);

    let list = c.helm.ok(json!({"op": "list"})).await;
    assert_eq!(revisions(&list), [(2, "deployed".to_string())]);
    assert_eq!(list[0]["chart_name"], "web");
    assert_eq!(list[0]["app_version"], "1.0");
    assert_eq!(revisions(&c.helm.ok(json!({"op": "history", "release": "web"})).await), [(1, "superseded".into()), (2, "deployed".into())]);
    let status = c.helm.ok(json!({"op": "status", "release": "web"})).await;
    assert_eq!(status["notes"], "web runs web:v1 with 2 replicas.\n");
    assert_eq!(status["manifest"].as_str(), Some(upgraded.manifest.as_str()));
    assert_eq!(c.helm.ok(json!({"op": "get_values", "release": "web"})).await, json!({"replicaCount": 2, "extra": {"enabled": false}}));
    let all = c.helm.ok(json!({"op": "get_values", "release": "web", "all": true})).await;
    assert_eq!(all, Value::Object(releases.get_values("web", None, true).await.unwrap()));
    assert_eq!(all["image"]["tag"], "v1");

    c.helm.ok(json!({"op": "rollback", "release": "web", "version": 1})).await;
    assert_eq!(c.object("apps/v1", "Deployment", Some("default"), "web-web").await.unwrap()["spec"]["replicas"], 1, "Helm's rollback applied without a field conflict");
    assert!(c.object("v1", "ConfigMap", Some("default"), "web-extra").await.is_some());
    let history = releases.history("web", None).await.expect("gantry reads Helm's rollback");
    let states: Vec<(i64, Status, String)> = history.iter().map(|r| (r.version, r.status(), r.description().to_string())).collect();
    assert_eq!(
        states,
        [(1, Status::Superseded, "Install complete".into()), (2, Status::Superseded, "Upgrade complete".into()), (3, Status::Deployed, "Rollback to 1".into())]
    );
}

#[tokio::test]
async fn gantry_upgrades_and_rolls_back_a_release_helm_installed_and_helm_still_reads_it() {
    let Some(c) = Cluster::start().await else { return };
    c.helm.ok(json!({"op": "install", "release": "fa", "chart": web(), "values": {"replicaCount": 1, "image": {"tag": "v7"}}})).await;
    c.helm.ok(json!({"op": "upgrade", "release": "fa", "chart": web(), "values": {"replicaCount": 3}})).await;
    let releases = c.releases("default", Driver::Secret).await;

    // Records Helm wrote lose nothing through gantry's model.
    for v in 1..=2 {
        let secret = c.object("v1", "Secret", Some("default"), &format!("sh.helm.release.v1.fa.v{v}")).await.unwrap();
        let data = String::from_utf8(base64_decode(secret["data"]["release"].as_str().unwrap())).unwrap();
        let helm_json = decode_json(&data);
        let through_gantry = serde_json::to_value(codec::decode(&data).unwrap()).unwrap();
        assert_eq!(through_gantry, helm_json, "revision {v} round-trips");
        assert_eq!(decode_json(&codec::encode(&codec::decode(&data).unwrap()).unwrap()), helm_json);
    }

    let current = releases.status("fa", None).await.expect("gantry reads Helm's release");
    assert_eq!((current.version, current.status(), current.description()), (2, Status::Deployed, "Upgrade complete"));
    assert_eq!(Value::Object(current.config.clone()), json!({"replicaCount": 3}));
    assert_eq!(current.chart_metadata().unwrap().name, "web");

    let reuse = UpgradeOptions { values: values(json!({"message": "reused"})), values_policy: ValuesPolicy::Reuse, ..Default::default() };
    let upgraded = releases.upgrade("fa", &chart("web"), &reuse).await.expect("gantry upgrades Helm's release");
    assert_eq!(Value::Object(upgraded.config.clone()), json!({"replicaCount": 3, "message": "reused"}));
    let config = c.object("v1", "ConfigMap", Some("default"), "fa-config").await.unwrap();
    assert_eq!((&config["data"]["message"], &config["data"]["previous"]), (&json!("reused"), &json!("hello")), "the chart's lookup read the live ConfigMap");
    assert_eq!(c.object("apps/v1", "Deployment", Some("default"), "fa-web").await.unwrap()["spec"]["replicas"], 3);

    let rolled = releases.rollback("fa", &RollbackOptions::default()).await.expect("gantry rolls back");
    assert_eq!((rolled.version, rolled.status(), rolled.description()), (4, Status::Deployed, "Rollback to 2"));
    assert_eq!(c.object("v1", "ConfigMap", Some("default"), "fa-config").await.unwrap()["data"]["message"], "hello");

    assert_eq!(
        revisions(&c.helm.ok(json!({"op": "history", "release": "fa"})).await),
        [(1, "superseded".into()), (2, "superseded".into()), (3, "superseded".into()), (4, "deployed".into())]
    );
    assert_eq!(c.helm.ok(json!({"op": "get_values", "release": "fa"})).await, json!({"replicaCount": 3}));
    assert_eq!(c.helm.ok(json!({"op": "status", "release": "fa"})).await["status"], "deployed");
    // Helm goes on from gantry's revisions: no conflict, no lost record.
    c.helm.ok(json!({"op": "upgrade", "release": "fa", "chart": web(), "values": {"replicaCount": 2, "image": {"tag": "v8"}}})).await;
    let after = releases.status("fa", None).await.unwrap();
    assert_eq!((after.version, after.status()), (5, Status::Deployed));
    assert_eq!(c.object("apps/v1", "Deployment", Some("default"), "fa-web").await.unwrap()["spec"]["template"]["spec"]["containers"][0]["image"], "web:v8");

    // gantry uninstalls keeping the history; Helm reads it, then purges it.
    let gone = releases.uninstall("fa", &UninstallOptions { keep_history: true, ..Default::default() }).await.expect("gantry uninstalls");
    assert!(gone.release.info.as_ref().unwrap().deleted.is_some());
    assert_eq!(revisions(&c.helm.ok(json!({"op": "history", "release": "fa"})).await).last(), Some(&(5, "uninstalled".into())));
    assert!(c.object("apps/v1", "Deployment", Some("default"), "fa-web").await.is_none());
    let again = releases.uninstall("fa", &UninstallOptions { keep_history: true, ..Default::default() }).await.expect_err("already deleted");
    assert_eq!(again.to_string(), "the release named \"fa\" is already deleted");
    c.helm.ok(json!({"op": "uninstall", "release": "fa"})).await;
    assert!(c.stored("Secret", "default", "fa").await.is_empty(), "Helm purged gantry's uninstalled release");
}

#[tokio::test]
async fn the_configmap_driver_is_shared_with_helm() {
    let Some(mut c) = Cluster::start().await else { return };
    c.helm.driver = "configmap";
    let releases = c.releases("default", Driver::ConfigMap).await;
    let labels = [("team".to_string(), "web".to_string())].into_iter().collect();
    releases.install("cm", &chart("web"), &InstallOptions { labels, ..Default::default() }).await.expect("gantry installs");
    let stored = c.stored("ConfigMap", "default", "cm").await;
    assert_eq!(stored.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["sh.helm.release.v1.cm.v1"]);
    assert_eq!((&stored[0].1["status"], &stored[0].1["team"]), (&json!("deployed"), &json!("web")), "custom labels beside Helm's");
    assert_eq!(c.helm.ok(json!({"op": "history", "release": "cm"})).await[0]["labels"]["team"], "web");
    assert!(c.stored("Secret", "default", "cm").await.is_empty(), "nothing in Secrets");
    assert_eq!(revisions(&c.helm.ok(json!({"op": "list"})).await), [(1, "deployed".into())]);

    c.helm.ok(json!({"op": "upgrade", "release": "cm", "chart": web(), "values": {"message": "from helm"}})).await;
    let current = releases.status("cm", None).await.unwrap();
    assert_eq!((current.version, Value::Object(current.config)), (2, json!({"message": "from helm"})));
    assert_eq!(current.labels.get("team").map(String::as_str), Some("web"), "Helm's upgrade kept gantry's custom label");
    // As in Helm: a revision read by key has only custom labels; one found by a query has all.
    let by_key = releases.storage().get("cm", 2).await.unwrap();
    assert_eq!((by_key.labels.get("team").map(String::as_str), by_key.labels.contains_key("status")), (Some("web"), false));
    let rolled = releases.rollback("cm", &RollbackOptions { revision: 1, ..Default::default() }).await.expect("gantry rolls back");
    assert_eq!(rolled.description(), "Rollback to 1");
    assert_eq!(revisions(&c.helm.ok(json!({"op": "history", "release": "cm"})).await), [(1, "superseded".into()), (2, "superseded".into()), (3, "deployed".into())]);
    assert_eq!(c.stored("ConfigMap", "default", "cm").await.len(), 3);

    let gone = releases.uninstall("cm", &UninstallOptions { keep_history: true, ..Default::default() }).await.expect("uninstalls");
    assert_eq!(gone.release.description(), "Uninstallation complete");
    assert_eq!(revisions(&c.helm.ok(json!({"op": "history", "release": "cm"})).await), [(1, "superseded".into()), (2, "superseded".into()), (3, "uninstalled".into())]);
    assert!(c.object("apps/v1", "Deployment", Some("default"), "cm-web").await.is_none());
    // upgrade --install over an uninstalled release installs it again as the next revision.
    let again = releases.upgrade("cm", &chart("web"), &UpgradeOptions { install: true, ..Default::default() }).await.expect("reinstalls");
    assert_eq!((again.version, again.description()), (4, "Install complete"));
    assert_eq!(revisions(&c.helm.ok(json!({"op": "history", "release": "cm"})).await).last(), Some(&(4, "deployed".into())));
}

#[tokio::test]
async fn a_pending_release_is_refused_as_helm_refuses_it() {
    let Some(c) = Cluster::start().await else { return };
    let releases = c.releases("default", Driver::Secret).await;
    releases.install("busy", &chart("web"), &InstallOptions::default()).await.unwrap();
    let mut record = releases.storage().get("busy", 1).await.unwrap();
    record.set_status(Status::PendingUpgrade, "Preparing upgrade");
    releases.storage().update(&record).await.unwrap();

    let ours = releases.upgrade("busy", &chart("web"), &UpgradeOptions::default()).await.expect_err("refused");
    assert!(matches!(ours, ReleaseError::Pending), "{ours:?}");
    let helms = c.helm.run(json!({"op": "upgrade", "release": "busy", "chart": web()})).await.expect_err("Helm refuses too");
    assert!(helms.message.contains(&ours.to_string()), "gantry: {ours}; Helm: {}", helms.message);
    assert_eq!(ours.to_string(), "another operation (install/upgrade/rollback) is in progress");

    let ours = releases.install("busy", &chart("web"), &InstallOptions::default()).await.expect_err("refused");
    let helms = c.helm.run(json!({"op": "install", "release": "busy", "chart": web()})).await.expect_err("Helm refuses too");
    assert!(helms.message.contains("cannot reuse a name that is still in use") && ours.to_string().contains("cannot reuse a name that is still in use"), "gantry: {ours}; Helm: {}", helms.message);
    let ours = releases.upgrade("nobody", &chart("web"), &UpgradeOptions::default()).await.expect_err("no release");
    let helms = c.helm.run(json!({"op": "upgrade", "release": "nobody", "chart": web()})).await.expect_err("Helm finds none either");
    assert_eq!((ours.to_string(), helms.message), ("\"nobody\" has no deployed releases".to_string(), "\"nobody\" has no deployed releases".to_string()));
    let stored = c.stored("Secret", "default", "busy").await;
    assert_eq!(stored.len(), 1, "nothing was written by either");
    assert_eq!(stored[0].1["status"], "pending-upgrade");
}

#[tokio::test]
async fn history_max_prunes_the_records_helm_prunes() {
    let Some(c) = Cluster::start().await else { return };
    let releases = c.releases("default", Driver::Secret).await;
    releases.install("ours", &chart("web"), &InstallOptions::default()).await.unwrap();
    c.helm.ok(json!({"op": "install", "release": "theirs", "chart": web()})).await;
    for n in 2..=5 {
        let upgrade = UpgradeOptions { values: values(json!({"replicaCount": n})), max_history: 3, ..Default::default() };
        releases.upgrade("ours", &chart("web"), &upgrade).await.unwrap();
        c.helm.ok(json!({"op": "upgrade", "release": "theirs", "chart": web(), "values": {"replicaCount": n}, "max_history": 3})).await;
    }
    let names = |stored: Vec<(String, Value)>, release: &str| -> Vec<String> { stored.into_iter().map(|s| s.0.replace(release, "R")).collect() };
    let ours = names(c.stored("Secret", "default", "ours").await, "ours");
    let theirs = names(c.stored("Secret", "default", "theirs").await, "theirs");
    assert_eq!(ours, theirs);
    assert_eq!(ours, ["sh.helm.release.v1.R.v3", "sh.helm.release.v1.R.v4", "sh.helm.release.v1.R.v5"]);
}

/// The first resourceVersion at which each object was created, or went away
/// (a DELETED event or a deletionTimestamp), seen by watches.
pub(crate) type Seen = Arc<Mutex<Vec<(String, String, u64)>>>;

pub(crate) async fn watch(c: &Cluster, resource: ApiResource, namespace: Option<&str>, seen: Seen) {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(c.client.clone(), ns, &resource),
        None => Api::all_with(c.client.clone(), &resource),
    };
    let rv = api.list_metadata(&Default::default()).await.expect("list").metadata.resource_version.expect("a resourceVersion");
    let mut stream = api.watch(&WatchParams::default().timeout(290), &rv).await.expect("watch").boxed();
    let kind = resource.kind.clone();
    tokio::spawn(async move {
        while let Some(Ok(event)) = stream.next().await {
            let (what, obj) = match event {
                WatchEvent::Added(o) => ("created", o),
                WatchEvent::Modified(o) if o.metadata.deletion_timestamp.is_some() => ("deleted", o),
                WatchEvent::Deleted(o) => ("deleted", o),
                _ => continue,
            };
            let rv: u64 = obj.metadata.resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
            let name = format!("{kind}/{}", obj.metadata.name.unwrap_or_default());
            let mut seen = seen.lock().unwrap();
            if !seen.iter().any(|(w, n, _)| w == what && *n == name) {
                seen.push((what.to_string(), name, rv));
            }
        }
    });
}

/// The objects `what` happened to, by resourceVersion, once `count` are seen.
pub(crate) async fn order(seen: &Seen, what: &str, count: usize) -> Vec<String> {
    let start = std::time::Instant::now();
    loop {
        let mut events: Vec<(String, String, u64)> = seen.lock().unwrap().iter().filter(|e| e.0 == what).cloned().collect();
        if events.len() >= count {
            events.sort_by_key(|e| e.2);
            return events.into_iter().map(|e| e.1).collect();
        }
        assert!(start.elapsed() < HANG_GUARD, "hung waiting for {count} {what} events: {events:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn install_applies_in_helms_kind_order_and_uninstall_deletes_in_its_reverse() {
    let Some(c) = Cluster::start().await else { return };
    use k8s_openapi::api::{apps::v1::Deployment, core::v1::ConfigMap, core::v1::Namespace, core::v1::Service};
    let seen: Seen = Arc::default();
    watch(&c, ApiResource::erase::<Namespace>(&()), None, seen.clone()).await;
    watch(&c, ApiResource::erase::<ConfigMap>(&()), Some("default"), seen.clone()).await;
    watch(&c, ApiResource::erase::<Service>(&()), Some("default"), seen.clone()).await;
    watch(&c, ApiResource::erase::<Deployment>(&()), Some("default"), seen.clone()).await;
    let releases = c.releases("default", Driver::Secret).await;
    // The chart's files sort Deployment, Service, ConfigMap, Namespace: the opposite of Helm's order.
    let release = releases.install("ord", &chart("web"), &InstallOptions::default()).await.unwrap();
    let kinds: Vec<String> = gantry_release::manifest::read(&release.manifest).unwrap().into_iter().map(|m| m.kind).collect();
    assert_eq!(kinds, ["Namespace", "ConfigMap", "ConfigMap", "Service", "Deployment"], "the stored manifest is in install order");
    let created = order(&seen, "created", 5).await;
    assert_eq!(created, ["Namespace/default-ord-side", "ConfigMap/ord-config", "ConfigMap/ord-extra", "Service/ord-web", "Deployment/ord-web"]);
    assert_eq!(c.helm.ok(json!({"op": "status", "release": "ord"})).await["manifest"].as_str(), Some(release.manifest.as_str()));

    let gone = releases.uninstall("ord", &UninstallOptions::default()).await.expect("uninstalls");
    assert_eq!(gone.release.status(), Status::Uninstalled);
    let deleted = order(&seen, "deleted", 5).await;
    assert_eq!(deleted, ["Service/ord-web", "Deployment/ord-web", "ConfigMap/ord-config", "ConfigMap/ord-extra", "Namespace/default-ord-side"]);
    assert!(c.stored("Secret", "default", "ord").await.is_empty(), "without --keep-history the records go");
    let helms = c.helm.run(json!({"op": "history", "release": "ord"})).await.expect_err("Helm finds no release");
    assert!(helms.message.contains("not found"), "{}", helms.message);
}

/// A record as its Secret holds it, decoded to plain JSON.
async fn stored_record(c: &Cluster, namespace: &str, key: &str) -> Value {
    let secret = c.object("v1", "Secret", Some(namespace), key).await.expect("the record");
    decode_json(&String::from_utf8(base64_decode(secret["data"]["release"].as_str().expect("data"))).expect("text"))
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).expect("base64")
}

/// A stored record's JSON (base64, gzip) as plain JSON.
fn decode_json(data: &str) -> Value {
    use std::io::Read;
    let bytes = base64_decode(data);
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice()).read_to_end(&mut json).expect("gzip");
    serde_json::from_slice(&json).expect("json")
}

#[tokio::test]
async fn a_kind_the_cluster_does_not_serve_is_refused_before_anything_is_stored() {
    let Some(c) = Cluster::start().await else { return };
    let releases = c.releases("default", Driver::Secret).await;
    let ours = releases.install("wid", &chart("web"), &InstallOptions { values: values(json!({"widget": true})), ..Default::default() }).await.expect_err("refused");
    assert!(matches!(ours, ReleaseError::Build { .. }), "{ours:?}");
    let helms = c.helm.run(json!({"op": "install", "release": "wid2", "chart": web(), "values": {"widget": true}})).await.expect_err("Helm refuses too");
    assert_eq!(ours.to_string().replace("wid-", "wid2-"), helms.message);
    assert!(c.stored("Secret", "default", "wid").await.is_empty() && c.stored("Secret", "default", "wid2").await.is_empty());
    assert!(c.object("apps/v1", "Deployment", Some("default"), "wid-web").await.is_none(), "nothing applied");
}

#[tokio::test]
async fn a_failed_apply_is_recorded_as_failed_as_helm_records_it() {
    let Some(c) = Cluster::start().await else { return };
    use gantry_sim::faults::FaultRule;
    let rule = FaultRule::status(422).method("PATCH").path("/apis/apps/v1/namespaces/default/deployments/*").message("the simulated cluster refuses this Deployment");
    let id = c.server.faults().add(rule).expect("a valid rule");
    let releases = c.releases("default", Driver::Secret).await;
    let ours = releases.install("bad", &chart("web"), &InstallOptions::default()).await.expect_err("fails");
    let helms = c.helm.run(json!({"op": "install", "release": "worse", "chart": web()})).await.expect_err("Helm fails too");
    let ReleaseError::Failed { release, .. } = &ours else { panic!("{ours:?}") };
    assert_eq!(release.status(), Status::Failed);
    let helm_words = "server-side apply failed for object default/NAME-web apps/v1, Kind=Deployment: ";
    assert!(helms.message.starts_with(&helm_words.replace("NAME", "worse")), "{}", helms.message);
    let ours_prefix = format!("Release \"bad\" failed: {}", helm_words.replace("NAME", "bad"));
    assert!(release.description().starts_with(&ours_prefix) && release.description().contains("the simulated cluster refuses this Deployment"), "{}", release.description());
    c.server.faults().remove(&id);
    let theirs = releases.status("worse", None).await.expect("gantry reads Helm's failed release");
    assert_eq!(theirs.status(), Status::Failed);
    assert!(theirs.description().starts_with("Release \"worse\" failed: ") && theirs.description().contains("the simulated cluster refuses this Deployment"), "{}", theirs.description());
    let stored = c.stored("Secret", "default", "bad").await;
    assert_eq!(stored[0].1["status"], "failed");
    assert_eq!(revisions(&c.helm.ok(json!({"op": "history", "release": "bad"})).await), [(1, "failed".into())]);
    // A failed first revision is upgraded (it is the current one), by gantry as by Helm.
    let fixed = releases.upgrade("bad", &chart("web"), &UpgradeOptions::default()).await.expect("upgrades the failed release");
    assert_eq!((fixed.version, fixed.status()), (2, Status::Deployed));
    c.helm.ok(json!({"op": "upgrade", "release": "worse", "chart": web()})).await;
    assert_eq!(revisions(&c.helm.ok(json!({"op": "history", "release": "bad"})).await), [(1, "superseded".into()), (2, "deployed".into())]);
    assert_eq!(revisions(&c.helm.ok(json!({"op": "history", "release": "worse"})).await), [(1, "superseded".into()), (2, "deployed".into())]);
}

#[tokio::test]
async fn values_policies_render_and_store_what_helms_do() {
    let Some(c) = Cluster::start().await else { return };
    // The same release name in two namespaces: gantry's in `default`, Helm's in `theirs`.
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.client.clone());
    ns.create(&Default::default(), &serde_json::from_value(json!({"metadata": {"name": "theirs"}})).unwrap()).await.expect("namespace");
    let releases = c.releases("default", Driver::Secret).await;
    let helm = |mut request: Value| {
        request["namespace"] = json!("theirs");
        request["release"] = json!("v");
        request["chart"] = json!(web());
        c.helm.ok(request)
    };
    let first = json!({"image": {"tag": "v2"}, "replicaCount": 2});
    releases.install("v", &chart("web"), &InstallOptions { values: values(first.clone()), ..Default::default() }).await.unwrap();
    helm(json!({"op": "install", "values": first})).await;
    // The stored records are the same but for times and the namespace.
    let (mut ours, mut theirs) = (stored_record(&c, "default", "sh.helm.release.v1.v.v1").await, stored_record(&c, "theirs", "sh.helm.release.v1.v.v1").await);
    for r in [&mut ours, &mut theirs] {
        for time in ["first_deployed", "last_deployed"] {
            r["info"][time] = json!("T");
        }
        r["namespace"] = json!("NS");
        r["manifest"] = json!(r["manifest"].as_str().unwrap().replace("default-v-side", "NS-v-side").replace("theirs-v-side", "NS-v-side"));
    }
    assert_eq!(ours, theirs, "gantry stores the record Helm stores");
    let steps = [
        ("none given: the last values", json!({}), ValuesPolicy::Default),
        ("--reuse-values", json!({"message": "m"}), ValuesPolicy::Reuse),
        ("--reset-values", json!({}), ValuesPolicy::Reset),
        ("given values only", json!({"replicaCount": 3}), ValuesPolicy::Default),
    ];
    for (what, given, policy) in steps {
        let ours = releases.upgrade("v", &chart("web"), &UpgradeOptions { values: values(given.clone()), values_policy: policy, ..Default::default() }).await.unwrap();
        helm(json!({"op": "upgrade", "values": given, "reuse_values": policy == ValuesPolicy::Reuse, "reset_values": policy == ValuesPolicy::Reset})).await;
        let theirs = helm(json!({"op": "status"})).await;
        // Only the side Namespace's name (it carries the release's namespace) differs.
        assert_eq!(ours.manifest, theirs["manifest"].as_str().unwrap().replace("theirs-v-side", "default-v-side"), "{what}: the same manifest");
        // Helm answers a nil map (no values) as null.
        let stored = helm(json!({"op": "get_values"})).await;
        assert_eq!(Value::Object(ours.config.clone()), if stored.is_null() { json!({}) } else { stored }, "{what}: the same stored values");
        assert_eq!(Value::Object(releases.get_values("v", None, true).await.unwrap()), helm(json!({"op": "get_values", "all": true})).await, "{what}: the same computed values");
    }
}

#[tokio::test]
async fn a_release_helm_3_applied_client_side_is_upgraded_without_field_conflicts() {
    let Some(c) = Cluster::start().await else { return };
    let releases = c.releases("default", Driver::Secret).await;
    releases.install("old", &chart("web"), &InstallOptions { values: values(json!({"replicaCount": 1})), ..Default::default() }).await.unwrap();
    // Make it what Helm 3 leaves: the Deployment created client-side (manager
    // `helm`, operation Update) and a record without apply_method whose
    // zero `deleted` time is "".
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(c.client.clone(), "default");
    let mut live = deployments.get("old-web").await.unwrap();
    deployments.delete("old-web", &Default::default()).await.unwrap();
    live.metadata = kube::api::ObjectMeta { name: live.metadata.name, namespace: live.metadata.namespace, labels: live.metadata.labels, annotations: live.metadata.annotations, ..Default::default() };
    live.status = None;
    let created = deployments.create(&kube::api::PostParams { field_manager: Some("helm".into()), ..Default::default() }, &live).await.unwrap();
    let ops: Vec<String> = created.metadata.managed_fields.unwrap().iter().filter_map(|m| m.operation.clone()).collect();
    assert_eq!(ops, ["Update"]);
    let mut record = releases.storage().get("old", 1).await.unwrap();
    record.apply_method.clear();
    record.info_mut().deleted = Some(String::new());
    releases.storage().update(&record).await.unwrap();

    let upgraded = releases.upgrade("old", &chart("web"), &UpgradeOptions { values: values(json!({"replicaCount": 2})), ..Default::default() }).await.expect("no conflict with Helm's own client-side fields");
    assert_eq!(upgraded.apply_method, "ssa");
    let after = c.object("apps/v1", "Deployment", Some("default"), "old-web").await.unwrap();
    assert_eq!(after["spec"]["replicas"], 2);
    let managers: Vec<(String, String)> = after["metadata"]["managedFields"].as_array().unwrap().iter().map(|m| (m["manager"].as_str().unwrap().to_string(), m["operation"].as_str().unwrap().to_string())).filter(|m| m.0 == "helm").collect();
    assert_eq!(managers, [("helm".to_string(), "Apply".to_string())], "Helm's client-side entry was folded into its apply entry");
    assert_eq!(revisions(&c.helm.ok(json!({"op": "history", "release": "old"})).await), [(1, "superseded".into()), (2, "deployed".into())]);
    c.helm.ok(json!({"op": "rollback", "release": "old", "version": 1})).await;
    assert_eq!(c.object("apps/v1", "Deployment", Some("default"), "old-web").await.unwrap()["spec"]["replicas"], 1);
}

#[tokio::test]
async fn crds_of_a_chart_are_installed_before_its_objects_and_kept_on_uninstall() {
    let Some(c) = Cluster::start().await else { return };
    let releases = c.releases("default", Driver::Secret).await;
    let installed = releases.install("can", &chart("crd"), &InstallOptions::default()).await.expect("installs the CRD, then the custom resource");
    assert!(!installed.manifest.contains("CustomResourceDefinition"), "CRDs are not part of the manifest");
    let canary = c.object("gantry.dev/v1alpha1", "Canary", Some("default"), "can").await.expect("the custom resource");
    assert_eq!(canary["spec"]["weight"], 10);
    assert_eq!(c.helm.ok(json!({"op": "status", "release": "can"})).await["status"], "deployed");
    releases.uninstall("can", &UninstallOptions::default()).await.unwrap();
    assert!(c.object("gantry.dev/v1alpha1", "Canary", Some("default"), "can").await.is_none());
    assert!(c.object("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "canaries.gantry.dev").await.is_some(), "the CRD stays, as Helm leaves it");
    // Helm installs the same chart again over the CRD gantry installed.
    c.helm.ok(json!({"op": "install", "release": "can2", "chart": chart("crd").to_string_lossy()})).await;
}
