//! `gantry run --sim` with an image: `builtin:build` builds the pipeline's
//! image once (daemonless, no Docker engine) and pushes one digest to the
//! simulated ECR (through GetAuthorizationToken with the estate's AWS keys)
//! and the simulated Artifact Registry (with the GKE target's Google
//! token), where a later stage's plugin resolves both to that digest; a RUN
//! step is skipped with a warning, and no credential reaches the output.

use std::path::Path;

use crate::cli::{fixture, gantry};

#[test]
fn a_simulated_run_builds_once_and_pushes_one_digest_to_ecr_and_artifact_registry() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    std::fs::write(dir.path().join("app/Dockerfile"), "FROM scratch\nCOPY main.py /app/main.py\nRUN [\"pip\", \"install\", \"fastapi\"]\nEXPOSE 8000\nCMD [\"python\", \"/app/main.py\"]\n").unwrap();
    std::fs::write(dir.path().join("app/main.py"), "print('hello')\n").unwrap();
    let aws = "${AWS_ACCOUNT_ID}.dkr.ecr.${AWS_REGION}.amazonaws.com";
    let gcp = "${GCP_REGION}-docker.pkg.dev/${GCP_PROJECT}/apps";
    let yaml = format!(
        r#"name: fastapi
image: {{ name: fastapi-app, tag: "${{CI_COMMIT_SHA}}", build: {{ context: app }} }}
targets:
  aws:
    eks: {{ cluster: "${{CLUSTER_AWS}}", region: "${{AWS_REGION}}" }}
    registry: "{aws}"
  gcp:
    gke: {{ cluster: "${{CLUSTER_GCP}}", region: "${{GCP_REGION}}", project: "${{GCP_PROJECT}}", credentials: "${{GCP_SERVICE_ACCOUNT_KEY}}" }}
    registry: "{gcp}"
stages:
  - {{ name: build, uses: builtin:build, with: {{ backend: daemonless }} }}
  - name: check
    uses: {}
    once: true
    grants: [registry, builder]
    with:
      calls:
        - {{ op: resolve, reference: "{aws}/fastapi-app:${{CI_COMMIT_SHA}}" }}
        - {{ op: resolve, reference: "{gcp}/fastapi-app:${{CI_COMMIT_SHA}}" }}
"#,
        fixture("images")
    );
    std::fs::write(dir.path().join("gantry.yaml"), yaml).unwrap();
    let out = gantry(dir.path())
        .args(["--output", "json", "run", "--sim"])
        .env("CI_COMMIT_SHA", "4f2a9c1")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("AWS_ACCESS_KEY_ID", "AKIAPROCESSKEYNOTSIM")
        .env("AWS_SECRET_ACCESS_KEY", "the-process-secret-the-sim-does-not-know")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let events: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let last = events.last().unwrap();
    assert_eq!(last["status"], "succeeded", "{last}");

    let runs = dir.path().join(".gantry/runs");
    let record_path = std::fs::read_dir(&runs).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|x| x == "json")).expect("a run record");
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(record_path).unwrap()).unwrap();
    let build = &record["stages"][0];
    assert_eq!(build["steps"].as_array().unwrap().len(), 1, "built once: {build}");
    let outputs = &build["steps"][0]["outputs"];
    let digest = outputs["digest"].as_str().unwrap();
    assert_eq!(
        outputs["pushed"],
        serde_json::json!(["111122223333.dkr.ecr.eu-west-1.amazonaws.com/fastapi-app:4f2a9c1", "europe-west1-docker.pkg.dev/gantry-sim/apps/fastapi-app:4f2a9c1"]),
        "{outputs}"
    );
    assert_eq!(outputs["skipped"], serde_json::json!(["Dockerfile:3: RUN [\"pip\", \"install\", \"fastapi\"]"]));
    assert!(build["steps"][0]["logs"].as_array().unwrap().iter().any(|l| l["level"] == "warn" && l["message"].as_str().unwrap().contains("Dockerfile:3")), "{build}");
    let check = record["stages"][1]["steps"][0]["outputs"]["results"].as_array().unwrap();
    assert_eq!((check[0]["answer"].as_str(), check[1]["answer"].as_str()), (Some(digest), Some(digest)), "{check:?}");

    let all = format!("{stdout}{stderr}{record}");
    assert!(!all.contains("the-process-secret") && !all.contains("PRIVATE KEY"), "no credential in the output or the record");
}

/// The README's images example: `gantry run --sim -f examples/images/gantry.yaml`.
#[test]
fn the_images_example_builds_and_pushes_with_no_engine_and_no_cloud() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let state = tempfile::tempdir().unwrap();
    let run = |sha: &str| {
        let out = gantry(&root)
            .args(["--output", "json", "run", "--sim", "-f", "examples/images/gantry.yaml", "--state-dir"])
            .arg(state.path())
            .env("CI_COMMIT_SHA", sha)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env_remove("SOURCE_DATE_EPOCH")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let done = stdout.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find(|e| e["event"] == "stage-finished" || e["event"] == "step-finished").unwrap_or_default();
        let _ = done;
        let runs = state.path().join("runs");
        let mut records: Vec<_> = std::fs::read_dir(&runs).unwrap().map(|e| e.unwrap().path()).collect();
        records.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
        let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(records.last().unwrap()).unwrap()).unwrap();
        record["stages"][0]["steps"][0]["outputs"].clone()
    };
    let first = run("1111111");
    assert_eq!(first["pushed"].as_array().unwrap().len(), 2, "{first}");
    assert!(first["pushed"][0].as_str().unwrap().starts_with("111122223333.dkr.ecr.eu-west-1.amazonaws.com/site:1111111"), "{first}");
    assert!(first["pushed"][1].as_str().unwrap().starts_with("europe-west1-docker.pkg.dev/gantry-sim/apps/site:1111111"), "{first}");
    // The same inputs again (a fresh estate, the same commit): the same digest.
    assert_eq!(run("1111111")["digest"], first["digest"]);
    // Another commit changes the VERSION label, so the digest.
    assert_ne!(run("2222222")["digest"], first["digest"]);
}
