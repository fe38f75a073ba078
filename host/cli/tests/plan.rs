//! `gantry plan` against simulated clusters (in-process API servers,
//! reached through a written kubeconfig), the repository's chart installed
//! with `gantry helm upgrade --install` as the deploy stages would install
//! it: before anything is installed every object is new (exit 1); with
//! both tracks installed with the deploy values, nothing changes (exit 0)
//! — so server defaults and server-populated fields do not count; a new
//! image tag is a unified diff of the Deployment's image line; an object
//! the live release has and the render has not (an HPA) is removed; a
//! pipeline without a `release:`, or a bad flag, is bad input (exit 2);
//! `--sim` renders against a fresh simulated cluster shaped like an EKS
//! target, where everything is new.

use serde_json::Value;

use crate::status::Clusters;

fn release<'a>(plan: &'a Value, target: &str, track: &str) -> &'a Value {
    let t = plan["targets"].as_array().unwrap().iter().find(|t| t["target"] == target).unwrap_or_else(|| panic!("no target {target}: {plan}"));
    t["releases"].as_array().unwrap().iter().find(|r| r["track"] == track).unwrap_or_else(|| panic!("no {track} on {target}: {plan}"))
}

fn changes(release: &Value) -> Vec<(String, String)> {
    release["objects"].as_array().unwrap().iter().map(|o| (format!("{}/{}", o["kind"].as_str().unwrap(), o["name"].as_str().unwrap()), o["change"].as_str().unwrap().to_string())).collect()
}

async fn plan(c: &Clusters) -> (Option<i32>, Value) {
    let out = c.gantry(&["plan", "--output", "json"]).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), v)
}

/// Installs `track` of release `app` on `ctx` with the values a deploy stage gives (tag `tag`).
async fn deploy(c: &Clusters, ctx: &str, track: &str, tag: &str, extra: &[&str]) {
    let name = if track == "canary" { "app-canary" } else { "app" };
    let (repo, tag_set, track_set) = (format!("image.repository=reg.example/{ctx}/app"), format!("image.tag={tag}"), format!("track={track}"));
    let mut args = vec!["--set", repo.as_str(), "--set", tag_set.as_str(), "--set", track_set.as_str()];
    args.extend_from_slice(extra);
    c.install(ctx, name, &args).await;
}

const STAGES: &str = "  - { name: a, uses: builtin:echo }\n";

#[tokio::test(flavor = "multi_thread")]
async fn plan_shows_new_objects_then_no_changes_once_both_tracks_are_live() {
    let c = Clusters::start(&["aws", "gcp"]).await;
    c.pipeline("v1", STAGES);
    let (code, before) = plan(&c).await;
    assert_eq!(code, Some(1), "{before}");
    assert_eq!(before["changes"], true);
    let stable = release(&before, "aws", "stable");
    assert_eq!(stable["release"], "app");
    assert!(stable["live_revision"].is_null());
    assert_eq!(stable["values"]["image"]["repository"], "reg.example/aws/app", "the target's registry: {stable}");
    assert_eq!((stable["values"]["image"]["tag"].as_str(), stable["values"]["track"].as_str()), (Some("v1"), Some("stable")));
    let kinds = changes(stable);
    assert!(kinds.contains(&("Deployment/app-fastapi-app".into(), "new".into())) && kinds.contains(&("Service/app-fastapi-app".into(), "new".into())), "{kinds:?}");
    assert!(kinds.iter().all(|(_, change)| change == "new"), "{kinds:?}");
    let canary = release(&before, "gcp", "canary");
    assert_eq!(canary["release"], "app-canary");
    assert_eq!(changes(canary), vec![("Deployment/app-fastapi-app-canary".to_string(), "new".to_string())], "a canary is its Deployment only");
    let deployment = stable["objects"].as_array().unwrap().iter().find(|o| o["kind"] == "Deployment").unwrap()["diff"].as_str().unwrap().to_string();
    assert!(deployment.starts_with("--- live Deployment default/app-fastapi-app\n+++ planned Deployment default/app-fastapi-app\n@@ -0,0 +1,"), "{deployment}");
    assert!(deployment.contains("\n+      - image: reg.example/aws/app:v1\n"), "{deployment}");

    for ctx in ["aws", "gcp"] {
        for track in ["stable", "canary"] {
            deploy(&c, ctx, track, "v1", &[]).await;
        }
    }
    let (code, after) = plan(&c).await;
    let pending: Vec<_> = after["targets"].as_array().unwrap().iter().flat_map(|t| t["releases"].as_array().unwrap().iter()).flat_map(|r| r["objects"].as_array().unwrap().iter()).filter(|o| o["change"] != "unchanged").collect();
    assert!(pending.is_empty(), "server defaults and server-populated fields must not count: {pending:#?}");
    assert_eq!(code, Some(0));
    let out = c.gantry(&["plan"]).await;
    let human = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{human}");
    assert!(human.contains("aws: release app (stable track, namespace default, live revision 1 (deployed)): 0 new, 0 changed, 0 removed, "), "{human}");
    assert!(human.contains("gcp: release app-canary (canary track, namespace default, live revision 1 (deployed)): 0 new, 0 changed, 0 removed, 1 unchanged\n"), "{human}");
    assert!(human.ends_with("no changes\n"), "{human}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_diffs_a_new_tag_and_finds_objects_the_render_removes() {
    let c = Clusters::start(&["aws", "gcp"]).await;
    for ctx in ["aws", "gcp"] {
        deploy(&c, ctx, "canary", "v1", &[]).await;
        deploy(&c, ctx, "stable", "v1", &["--set", "autoscaling.enabled=true"]).await;
    }
    c.pipeline("v2", STAGES);
    let (code, plan) = plan(&c).await;
    assert_eq!(code, Some(1), "{plan}");
    let stable = release(&plan, "aws", "stable");
    assert_eq!(stable["live_revision"], 1);
    let objects = changes(stable);
    assert!(objects.contains(&("HorizontalPodAutoscaler/app-fastapi-app".into(), "removed".into())), "{objects:?}");
    assert!(objects.contains(&("Service/app-fastapi-app".into(), "changed".into())) || objects.contains(&("Service/app-fastapi-app".into(), "unchanged".into())), "{objects:?}");
    let diff = stable["objects"].as_array().unwrap().iter().find(|o| o["kind"] == "Deployment").unwrap()["diff"].as_str().unwrap().to_string();
    assert!(diff.starts_with("--- live Deployment default/app-fastapi-app\n+++ planned Deployment default/app-fastapi-app\n@@ -"), "{diff}");
    assert!(diff.contains("\n-      - image: reg.example/aws/app:v1\n+      - image: reg.example/aws/app:v2\n"), "{diff}");
    assert!(diff.contains("\n+  replicas: 2\n"), "the HPA no longer owns the replicas: {diff}");
    for server_field in ["resourceVersion", "managedFields", "uid:", "creationTimestamp", "generation", "status:"] {
        assert!(!diff.contains(server_field), "{server_field} in {diff}");
    }
    let hpa = stable["objects"].as_array().unwrap().iter().find(|o| o["kind"] == "HorizontalPodAutoscaler").unwrap()["diff"].as_str().unwrap().to_string();
    assert!(hpa.contains("+++ planned HorizontalPodAutoscaler default/app-fastapi-app\n@@ -1,") && hpa.contains(" +0,0 @@\n-apiVersion: autoscaling/v2\n"), "{hpa}");

    let out = c.gantry(&["plan"]).await;
    let human = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(human.contains("aws: release app (stable track, namespace default, live revision 1 (deployed)): 0 new, "), "{human}");
    assert!(human.contains(" 1 removed, ") && human.contains("-      - image: reg.example/gcp/app:v1\n+      - image: reg.example/gcp/app:v2\n"), "{human}");
    assert!(human.ends_with("the pipeline would change the releases above\n"), "{human}");

    std::fs::write(c.dir.path().join("gantry.yaml"), format!("name: app\ntargets:\n  aws: {{ kubeconfig: {{ path: \"{}\", context: aws }} }}\nstages:\n{STAGES}", c.kubeconfig.display())).unwrap();
    let out = c.gantry(&["plan"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the pipeline has no `release:`"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = c.gantry(&["plan", "--nope"]).await;
    assert_eq!(out.status.code(), Some(2), "a bad flag");
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_with_sim_renders_against_a_fresh_simulated_cluster_where_everything_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("name: app\nimage: {{ name: app, tag: v1 }}\nrelease: {{ name: app, chart: \"{}\" }}\ntargets:\n  aws:\n    eks: {{ cluster: prod, region: eu-west-1 }}\n    registry: 111122223333.dkr.ecr.eu-west-1.amazonaws.com\nstages:\n{STAGES}", Clusters::chart());
    std::fs::write(dir.path().join("gantry.yaml"), yaml).unwrap();
    let mut cmd = crate::cli::gantry(dir.path());
    cmd.args(["plan", "--sim", "--output", "json"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stable = release(&plan, "aws", "stable");
    assert_eq!(stable["values"]["image"]["repository"], "111122223333.dkr.ecr.eu-west-1.amazonaws.com/app");
    assert!(changes(stable).iter().all(|(_, c)| c == "new") && !changes(stable).is_empty(), "{stable}");
}
