//! The files that run the request's pipeline elsewhere, read as their
//! consumers read them: `examples/.gitlab-ci.yml` and
//! `examples/github/deploy.yml` parse as YAML, their one job runs `gantry
//! run -f examples/fastapi-app/gantry.yaml` and gives it every variable the
//! pipeline file uses (the request's, from the job, GitLab or the project's
//! secrets), and keeps the JUnit report where the reports are written; the
//! example pipeline itself loads with those variables and plans (the
//! stages whose built-ins this build lacks are named); gantry's own
//! `Dockerfile` and the app's parse with gantry's Dockerfile parser and
//! build what they say (the toolchain pin, the wasm target, a non-root
//! runtime). Nothing here runs a CI system, Docker or a cluster.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gantry_registry::dockerfile::{self, Command, Kind};
use serde_yaml::Value;

const PIPELINE: &str = "examples/fastapi-app/gantry.yaml";
const RUN: &str = "gantry run -f examples/fastapi-app/gantry.yaml";
const JUNIT: &str = ".gantry/reports/junit.xml";

/// The request's variables (DESIGN.md, "The pipeline we automate").
const REQUEST_VARIABLES: [&str; 8] = ["AWS_REGION", "GCP_PROJECT", "GCP_REGION", "IMAGE_NAME", "CLUSTER_AWS", "CLUSTER_GCP", "GCP_SERVICE_ACCOUNT_KEY", "CI_COMMIT_SHA"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}


/// The names the example pipeline expands (`${NAME}`, `${NAME:-default}`),
/// read from its text outside comments, so that this holds before every
/// built-in it names exists (loading checks those).
fn pipeline_variables() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in read(PIPELINE).lines() {
        let code = match line.find(" #") {
            _ if line.trim_start().starts_with('#') => "",
            Some(i) => &line[..i],
            None => line,
        };
        for part in code.split("${").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            names.insert(name);
        }
    }
    names
}

/// The built-ins of the example that other branches add; until they land,
/// loading and planning may fail on them, and only on them.
const NOT_YET: [&str; 2] = ["health-http", "canary-analysis"];

fn only_missing_builtins(problems: &gantry_engine::Diagnostics) {
    let missing: Vec<&str> = NOT_YET.into_iter().filter(|b| gantry_plugins::builtin(b).is_none()).collect();
    assert!(!missing.is_empty(), "every built-in exists, so the example must load and plan: {problems}");
    for p in &problems.0 {
        assert!(missing.iter().any(|m| p.message.contains(&format!("`{m}`"))), "only the missing built-ins {missing:?} may stop the example: {p}");
    }
}

fn names(map: &Value) -> BTreeSet<String> {
    map.as_mapping().map(|m| m.keys().filter_map(|k| k.as_str().map(String::from)).collect()).unwrap_or_default()
}

#[test]
fn the_example_pipeline_uses_the_requests_variables_and_plans() {
    let used = pipeline_variables();
    for v in REQUEST_VARIABLES {
        assert!(used.contains(v), "{PIPELINE} does not use ${{{v}}}: {used:?}");
    }
    // As `gantry validate` reads it: the file, then its plugins and grants.
    let pipeline = match gantry_engine::load(&root().join(PIPELINE), &crate::common::request_job_vars()) {
        Ok(p) => p,
        Err(problems) => return only_missing_builtins(&problems),
    };
    assert_eq!(pipeline.used_vars, used, "the text's variables are the loader's");
    let spec = &pipeline.spec;
    let stages: Vec<(&str, &str)> = spec.stages.iter().map(|s| (s.name.as_str(), s.uses.as_str())).collect();
    assert_eq!(
        stages,
        [
            ("build", "builtin:build"),
            ("scan", "builtin:scan"),
            ("deploy-canary", "builtin:helm-deploy"),
            ("health-check-canary", "builtin:health-http"),
            ("wait-for-canary", "builtin:canary-analysis"),
            ("promote-to-production", "builtin:helm-deploy"),
            ("health-check-production", "builtin:health-http"),
        ]
    );
    let release = spec.release.as_ref().expect("a release");
    assert_eq!((release.name.as_str(), release.namespace.as_str()), ("fastapi-app", "default"));
    assert!(pipeline.dir.join(&release.chart).join("Chart.yaml").is_file(), "the chart resolves from the pipeline's directory: {}", release.chart);
    let registries: Vec<Option<&str>> = spec.targets.values().map(|t| t.registry.as_deref()).collect();
    assert_eq!(registries, [Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com"), Some("europe-west1-docker.pkg.dev/my-project/apps")]);
    assert_eq!(spec.stages[2].with.as_ref().map(|w| w["track"].clone()), Some(serde_json::json!("canary")));
    assert_eq!(spec.stages[2].with.as_ref().map(|w| w["set"]["replicaCount"].clone()), Some(serde_json::json!(1)));
    let runtime = gantry_runtime::Runtime::new(gantry_runtime::RuntimeConfig::default()).unwrap();
    match gantry_engine::plan(pipeline, &runtime) {
        Ok(plan) => assert_eq!((plan.stages.len(), plan.on_failure.as_ref().map(|s| s.uses.as_str())), (7, Some("builtin:rollback"))),
        Err(problems) => only_missing_builtins(&problems),
    }
}

#[test]
fn the_gitlab_job_runs_the_pipeline_with_the_requests_variables_and_keeps_its_junit_report() {
    let ci = yaml("examples/.gitlab-ci.yml");
    let job = &ci["deploy"];
    let script: Vec<&str> = job["script"].as_sequence().expect("a script").iter().filter_map(Value::as_str).collect();
    assert_eq!(script.last(), Some(&RUN), "{script:?}");
    assert_eq!(job["image"]["entrypoint"], serde_yaml::from_str::<Value>("[\"\"]").unwrap(), "gantry's image has an ENTRYPOINT; GitLab needs a shell");
    assert_eq!(job["artifacts"]["reports"]["junit"].as_str(), Some(JUNIT));
    assert_eq!(job["artifacts"]["when"].as_str(), Some("always"), "a failed run's reports matter most");

    // Each variable the pipeline uses comes from the job's variables, GitLab itself, or a masked project variable the file names.
    let defined = names(&ci["variables"]);
    let text = read("examples/.gitlab-ci.yml");
    for v in pipeline_variables() {
        let from_gitlab = v.starts_with("CI_");
        let from_settings = v == "GCP_SERVICE_ACCOUNT_KEY" && text.contains("Settings > CI/CD > Variables") && text.contains("GCP_SERVICE_ACCOUNT_KEY");
        assert!(defined.contains(&v) || from_gitlab || from_settings, "${{{v}}} is not given to the job: {defined:?}");
    }
    assert!(!text.contains("BEGIN PRIVATE KEY"), "no key in the file");
}

#[test]
fn the_github_workflow_runs_the_pipeline_with_the_requests_variables() {
    let wf = yaml("examples/github/deploy.yml");
    let job = &wf["jobs"]["deploy"];
    let runs: Vec<&str> = job["steps"].as_sequence().expect("steps").iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(runs.contains(&RUN), "{runs:?}");
    let env = names(&wf["env"]);
    for v in pipeline_variables() {
        assert!(env.contains(&v), "${{{v}}} is not in the workflow's env: {env:?}");
    }
    assert_eq!(wf["env"]["GCP_SERVICE_ACCOUNT_KEY"].as_str(), Some("${{ secrets.GCP_SERVICE_ACCOUNT_KEY }}"));
    assert_eq!(wf["env"]["CI_COMMIT_SHA"].as_str(), Some("${{ github.sha }}"));
    assert!(!root().join(".github/workflows/deploy.yml").exists(), "the example must not run in gantry's own CI");
}

fn exec(c: &Command) -> Vec<&str> {
    match c {
        Command::Exec(words) => words.iter().map(String::as_str).collect(),
        Command::Shell(text) => vec![text.as_str()],
    }
}

#[test]
fn gantrys_dockerfile_builds_the_pinned_toolchain_with_the_wasm_target_and_runs_as_non_root() {
    let text = read("Dockerfile");
    let file = dockerfile::parse(&text).unwrap_or_else(|e| panic!("Dockerfile: {e:?}"));
    assert_eq!(file.stages.len(), 2, "a build stage and a runtime stage");
    let pinned = read("rust-toolchain.toml").lines().find_map(|l| l.strip_prefix("channel = ").map(|c| c.trim_matches('"').to_string())).expect("a channel");
    let arg = |name: &str| {
        file.args_before_from.iter().find_map(|i| match &i.kind {
            Kind::Arg(decls) => decls.iter().find(|d| d.name == name).and_then(|d| d.default.clone()),
            _ => None,
        })
    };
    assert_eq!(arg("RUST_VERSION"), Some(pinned), "the build stage's Rust is rust-toolchain.toml's");
    let build = &file.stages[0];
    assert!(build.base().starts_with("rust:${RUST_VERSION}"), "{}", build.base());
    let runs: Vec<String> = build.instructions.iter().filter_map(|i| match &i.kind {
        Kind::Run { command, .. } => Some(exec(command).join(" ")),
        _ => None,
    }).collect();
    assert!(runs.iter().any(|r| r.contains("rustup target add wasm32-wasip2")), "{runs:?}");
    assert!(runs.iter().any(|r| r.contains("cargo build --release --locked -p gantry")), "{runs:?}");

    let runtime = &file.stages[1];
    assert!(runtime.base().contains("slim"), "{}", runtime.base());
    let kinds: Vec<&Kind> = runtime.instructions.iter().map(|i| &i.kind).collect();
    assert!(kinds.iter().any(|k| matches!(k, Kind::Copy(c) if c.from.as_deref() == Some(build.name.as_deref().unwrap_or("0")))), "the binary comes from the build stage");
    let user = kinds.iter().rev().find_map(|k| match k { Kind::User(u) => Some(u.as_str()), _ => None }).expect("a USER");
    assert!(!user.is_empty() && !user.starts_with('0') && !user.starts_with("root"), "runs as {user}");
    let entrypoint = kinds.iter().find_map(|k| match k { Kind::Entrypoint(c) => Some(exec(c)), _ => None });
    assert_eq!(entrypoint, Some(vec!["gantry"]));
    assert!(read(".dockerignore").lines().any(|l| l.trim() == "target"), "the build context leaves target/ out");
}

#[test]
fn the_apps_dockerfile_runs_uvicorn_on_8000_as_the_charts_non_root_user() {
    let file = dockerfile::parse(&read("examples/fastapi-app/Dockerfile")).unwrap_or_else(|e| panic!("examples/fastapi-app/Dockerfile: {e:?}"));
    let last = file.stages.last().expect("a stage");
    let kinds: Vec<&Kind> = last.instructions.iter().map(|i| &i.kind).collect();
    let user = kinds.iter().rev().find_map(|k| match k { Kind::User(u) => Some(u.as_str()), _ => None });
    assert_eq!(user, Some("10001:10001"), "the chart's podSecurityContext runs uid and gid 10001");
    let cmd = kinds.iter().find_map(|k| match k { Kind::Cmd(c) => Some(exec(c)), _ => None }).expect("a CMD");
    assert_eq!(&cmd[..6], ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]);
    assert!(kinds.iter().any(|k| matches!(k, Kind::Expose(p) if p == &vec!["8000".to_string()])));
    let app = read("examples/fastapi-app/app/main.py");
    for route in ["@app.get(\"/health\")", "@app.get(\"/metrics\")", "http_requests_total", "http_request_duration_seconds"] {
        assert!(app.contains(route), "app/main.py lacks {route}");
    }
}
