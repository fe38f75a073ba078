//! Wasm plugins reaching registries and builders through the runtime: a
//! pipeline whose two targets pull from two real docker-registry instances,
//! with gantry-registry's `RegistryBackend` as the run's image backend (as
//! `gantry run` plugs it in). `fixture-images` builds the pipeline's image
//! daemonless and pushes it to both, resolves, reads config and layers and
//! copies it by digest; another repository, another registry and another
//! build context are `denied`, and nothing of theirs reaches a registry.
//! `builtin:build` builds once for every target and pushes one digest to
//! both registries; a RUN step fails a daemonless build naming its line,
//! except in a simulated run, which skips it with a warning; with a real
//! Docker engine the RUN runs and the engine's image is pushed.

use std::sync::Arc;

use gantry_engine::event::{RunStatus, StepStatus};
use gantry_registry::backend::RegistryBackend;
use gantry_registry::testing::dockerd::Dockerd;
use gantry_registry::testing::registry::{DockerRegistry, RegistryAuth};
use gantry_registry::{Client, Reference, StaticCredentials};
use gantry_runtime::ImageBackend;
use serde_json::Value;

use crate::common::{fixture_path, run_pipeline_images};

fn client() -> Client {
    Client::new(Arc::new(StaticCredentials::new()))
}

fn write_context(dir: &std::path::Path, dockerfile: &str) {
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(dir.join("app/Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join("app/hello.txt"), "hello from gantry\n").unwrap();
    std::fs::write(dir.join("app/secret.env"), "TOKEN=do-not-ship\n").unwrap();
    std::fs::write(dir.join("app/.dockerignore"), "*.env\n").unwrap();
}

const DAEMONLESS: &str = "FROM scratch\nCOPY hello.txt /srv/hello.txt\nENV GREETING=hello\nLABEL org.example.team=platform\nEXPOSE 8000\nUSER 1000\nENTRYPOINT [\"/srv/app\"]\n";

fn pipeline(a: &str, b: &str, stage: &str) -> String {
    format!("name: images\nimage: {{ name: app, tag: \"1.0\", build: {{ context: app }} }}\ntargets:\n  a: {{ sim: {{}}, registry: \"{a}\" }}\n  b: {{ sim: {{}}, registry: \"{b}\" }}\nstages:\n{stage}")
}

fn results(outcome: &gantry_engine::RunOutcome) -> Vec<Value> {
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let step = &outcome.record.stages[0].steps[0];
    assert_eq!(step.status, StepStatus::Succeeded);
    step.outputs["results"].as_array().unwrap().iter().map(|r| r["answer"].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_reaches_the_pipelines_image_in_the_targets_registries_and_is_denied_others() {
    let (Some(ra), Some(rb)) = (DockerRegistry::start(RegistryAuth::None), DockerRegistry::start(RegistryAuth::None)) else { return };
    let (a, b) = (ra.host().to_string(), rb.host().to_string());
    let dir = tempfile::tempdir().unwrap();
    write_context(dir.path(), DAEMONLESS);
    let stage = format!(
        "  - name: images\n    uses: {}\n    once: true\n    grants: [registry, builder]\n    with:\n      calls:\n\
        \x20       - {{ op: build, backend: daemonless, tags: [\"{a}/app:1.0\", \"{b}/app:1.0\"] }}\n\
        \x20       - {{ op: resolve, reference: \"{a}/app:1.0\" }}\n\
        \x20       - {{ op: resolve, reference: \"{b}/app:1.0\" }}\n\
        \x20       - {{ op: config, reference: \"{b}/app:1.0\" }}\n\
        \x20       - {{ op: layers, reference: \"{a}/app:1.0\" }}\n\
        \x20       - {{ op: copy, reference: \"{a}/app:1.0\", destination: \"{b}/app:promoted\" }}\n\
        \x20       - {{ op: resolve, reference: \"{a}/other:1.0\" }}\n\
        \x20       - {{ op: resolve, reference: \"docker.io/library/app:1.0\" }}\n\
        \x20       - {{ op: copy, reference: \"{a}/app:1.0\", destination: \"127.0.0.1:1/app:stolen\" }}\n\
        \x20       - {{ op: build, context: /etc, tags: [\"{a}/app:2.0\"] }}\n\
        \x20       - {{ op: build, tags: [\"{a}/other:2.0\"] }}\n\
        \x20       - {{ op: resolve, reference: \"{a}/app:missing\" }}\n",
        fixture_path("images")
    );
    let backend: Arc<dyn ImageBackend> = Arc::new(RegistryBackend::new(client()));
    let outcome = run_pipeline_images(dir.path(), &pipeline(&a, &b, &stage), Some(backend)).await;
    let r = results(&outcome);

    let digest = r[0]["digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"), "{}", r[0]);
    assert_eq!(r[0]["pushed"], serde_json::json!([format!("{a}/app:1.0"), format!("{b}/app:1.0")]));
    assert_eq!(r[0]["skipped"], serde_json::json!([]));
    assert_eq!((r[1].as_str(), r[2].as_str()), (Some(digest.as_str()), Some(digest.as_str())), "one digest in both registries");
    let config = &r[3];
    assert_eq!(config["digest"].as_str(), Some(digest.as_str()));
    assert_eq!((config["user"].as_str(), config["exposed_ports"].clone(), config["entrypoint"].clone()), (Some("1000"), serde_json::json!(["8000/tcp"]), serde_json::json!(["/srv/app"])));
    assert_eq!(config["labels"]["org.example.team"], "platform");
    assert!(config["env"].as_array().unwrap().iter().any(|e| e == "GREETING=hello"), "{config}");
    let layers = r[4].as_array().unwrap();
    assert_eq!(layers.len(), 1, "one COPY, one layer: {layers:?}");
    assert_eq!(r[5].as_str(), Some(digest.as_str()), "a copy keeps the digest");

    for (i, what) in [(6, "other"), (7, "docker.io"), (8, "127.0.0.1:1"), (9, "/etc"), (10, "other")] {
        assert_eq!(r[i]["error"], "denied", "call {i}: {}", r[i]);
        assert!(r[i]["message"].as_str().unwrap().contains(what), "call {i}: {}", r[i]);
    }
    assert_eq!(r[11]["error"], "not-found", "{}", r[11]);
    assert!(r[11]["message"].as_str().unwrap().contains("MANIFEST_UNKNOWN"), "{}", r[11]);

    // What the registries hold: the pipeline's repository only, both tags on the one digest.
    let c = client();
    assert_eq!(c.catalog(&a).await.unwrap(), vec!["app".to_string()]);
    assert_eq!(c.catalog(&b).await.unwrap(), vec!["app".to_string()]);
    let promoted = Reference::parse(&format!("{b}/app:promoted")).unwrap();
    assert_eq!(c.resolve(&promoted).await.unwrap(), digest);
    // .dockerignore kept the secret out of the only layer.
    let image = c.pull(&promoted, &gantry_registry::spec::Platform::host()).await.unwrap();
    let layer = flate2::read::GzDecoder::new(&image.layers[0].data[..]);
    let names: Vec<String> = tar::Archive::new(layer).entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
    assert!(names.iter().any(|n| n.ends_with("srv/hello.txt")) && !names.iter().any(|n| n.contains("secret")), "{names:?}");
    // The denials are in the run log.
    let log: Vec<&str> = outcome.record.stages[0].steps[0].logs.iter().map(|l| l.message.as_str()).collect();
    assert!(log.iter().any(|l| l.starts_with("denied registry.resolve")), "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_build_builds_once_and_pushes_one_digest_to_every_targets_registry() {
    let (Some(ra), Some(rb)) = (DockerRegistry::start(RegistryAuth::None), DockerRegistry::start(RegistryAuth::None)) else { return };
    let (a, b) = (ra.host().to_string(), rb.host().to_string());
    let dir = tempfile::tempdir().unwrap();
    write_context(dir.path(), DAEMONLESS);
    let backend: Arc<dyn ImageBackend> = Arc::new(RegistryBackend::new(client()).provenance(Some("0123abc".into()), Some("https://git.example/app".into())));
    let stage = "  - { name: build, uses: builtin:build, with: { backend: daemonless } }\n";
    let outcome = run_pipeline_images(dir.path(), &pipeline(&a, &b, stage), Some(backend.clone())).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let stage = &outcome.record.stages[0];
    assert_eq!(stage.steps.len(), 1, "built once, not per target");
    let out = &stage.steps[0].outputs;
    let digest = out["digest"].as_str().unwrap().to_string();
    assert_eq!(out["pushed"], serde_json::json!([format!("{a}/app:1.0"), format!("{b}/app:1.0")]));
    let c = client();
    for host in [&a, &b] {
        assert_eq!(c.resolve(&Reference::parse(&format!("{host}/app:1.0")).unwrap()).await.unwrap(), digest);
    }
    let facts = backend.config(&format!("{a}/app:1.0")).await.unwrap();
    let label = |k: &str| facts.labels.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!((label("org.opencontainers.image.revision"), label("org.opencontainers.image.source")), (Some("0123abc"), Some("https://git.example/app")));
    let log: Vec<&str> = stage.steps[0].logs.iter().map(|l| l.message.as_str()).collect();
    assert!(log.iter().any(|l| l.starts_with("Step 2/7 : COPY hello.txt /srv/hello.txt")), "{log:?}");

    // The same inputs again: the same digest (a daemonless build is reproducible).
    let again = run_pipeline_images(dir.path(), &pipeline(&a, &b, "  - { name: build, uses: builtin:build, with: { backend: daemonless } }\n"), Some(backend)).await;
    assert_eq!(again.record.stages[0].steps[0].outputs["digest"].as_str(), Some(digest.as_str()));
}

const WITH_RUN: &str = "FROM scratch\nCOPY hello.txt /hello.txt\nRUN [\"/bin/busybox\", \"true\"]\nCMD [\"/hello\"]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_step_needs_an_engine_except_in_a_simulated_run() {
    let (Some(ra), Some(rb)) = (DockerRegistry::start(RegistryAuth::None), DockerRegistry::start(RegistryAuth::None)) else { return };
    let (a, b) = (ra.host().to_string(), rb.host().to_string());
    let dir = tempfile::tempdir().unwrap();
    write_context(dir.path(), WITH_RUN);
    let stage = "  - { name: build, uses: builtin:build, with: { backend: daemonless } }\n";

    let real: Arc<dyn ImageBackend> = Arc::new(RegistryBackend::new(client()));
    let outcome = run_pipeline_images(dir.path(), &pipeline(&a, &b, stage), Some(real)).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.record.stages[0].steps[0].error.as_ref().unwrap().message.clone();
    assert!(error.contains("Dockerfile:3") && error.contains("RUN needs a Docker engine"), "{error}");
    assert!(client().catalog(&a).await.unwrap().is_empty(), "nothing pushed");

    let simulated: Arc<dyn ImageBackend> = Arc::new(RegistryBackend::new(client()).simulated(true));
    let outcome = run_pipeline_images(dir.path(), &pipeline(&a, &b, stage), Some(simulated)).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let step = &outcome.record.stages[0].steps[0];
    assert_eq!(step.outputs["skipped"], serde_json::json!(["Dockerfile:3: RUN [\"/bin/busybox\", \"true\"]"]));
    assert!(step.logs.iter().any(|l| l.level == gantry_runtime::Level::Warn && l.message.contains("Dockerfile:3")), "{:?}", step.logs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_docker_engine_the_run_step_runs_and_the_engines_image_is_pushed() {
    let Some(ra) = DockerRegistry::start(RegistryAuth::None) else { return };
    let Some(engine) = Dockerd::start() else { return };
    let a = ra.host().to_string();
    let base = engine.busybox_image();
    let dir = tempfile::tempdir().unwrap();
    write_context(dir.path(), &format!("FROM {base}\nCOPY hello.txt /hello.txt\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo built-by-docker > /proof\"]\nCMD [\"/bin/busybox\", \"cat\", \"/proof\"]\n"));
    let backend: Arc<dyn ImageBackend> = Arc::new(RegistryBackend::new(client()).docker_host(Some(engine.host().to_string())).provenance(Some("0123abc".into()), None));
    let yaml = format!("name: images\nimage: {{ name: app, tag: \"1.0\", build: {{ context: app }} }}\ntargets:\n  a: {{ sim: {{}}, registry: \"{a}\" }}\nstages:\n  - {{ name: build, uses: builtin:build }}\n");
    let outcome = run_pipeline_images(dir.path(), &yaml, Some(backend.clone())).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let step = &outcome.record.stages[0].steps[0];
    assert!(step.logs.iter().any(|l| l.message.starts_with("Step 3/") && l.message.contains(": RUN [") && l.message.ends_with("(Dockerfile:3)")), "{:?}", step.logs);
    let digest = step.outputs["digest"].as_str().unwrap();
    let reference = format!("{a}/app:1.0");
    assert_eq!(backend.resolve(&reference).await.unwrap(), digest);
    // The RUN's file is in the pushed image: the engine ran it.
    let out = engine.cli().args(["run", "--rm", "--network", "none", &reference]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "built-by-docker", "{}", String::from_utf8_lossy(&out.stderr));
    let facts = backend.config(&reference).await.unwrap();
    assert!(facts.labels.iter().any(|(k, v)| k == "org.opencontainers.image.revision" && v == "0123abc"), "{:?}", facts.labels);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_docker_build_pulls_its_private_base_with_the_runs_credentials() {
    let Some(private) = DockerRegistry::start(RegistryAuth::basic("ci", "base-image-password")) else { return };
    let Some(out) = DockerRegistry::start(RegistryAuth::None) else { return };
    let Some(engine) = Dockerd::start() else { return };
    let host = private.host().to_string();
    let credentials = Arc::new(StaticCredentials::new().with(&host, gantry_registry::Credential::Basic { username: "ci".into(), password: gantry_registry::Secret::new("base-image-password") }));
    // The base image, read out of the engine and pushed to the private registry.
    let docker = gantry_registry::docker::DockerEngine::connect_to(&engine.host()).await.unwrap();
    let busybox = docker.export(&engine.busybox_image()).await.unwrap();
    Client::new(credentials.clone()).push(&busybox, &Reference::parse(&format!("{host}/base/busybox:1")).unwrap()).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    write_context(dir.path(), &format!("ARG BASE={host}/base/busybox:1\nFROM $BASE\nCOPY hello.txt /hello.txt\nCMD [\"/bin/busybox\", \"cat\", \"/hello.txt\"]\n"));
    let yaml = format!("name: images\nimage: {{ name: app, tag: \"1.0\", build: {{ context: app }} }}\ntargets:\n  a: {{ sim: {{}}, registry: \"{}\" }}\nstages:\n  - {{ name: build, uses: builtin:build, with: {{ backend: docker }} }}\n", out.host());

    // Without the run's credentials the engine's pull of FROM is refused, at line 2.
    let anonymous: Arc<dyn ImageBackend> = Arc::new(RegistryBackend::new(client()).docker_host(Some(engine.host())));
    let outcome = run_pipeline_images(dir.path(), &yaml, Some(anonymous)).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.record.stages[0].steps[0].error.as_ref().unwrap().message.clone();
    assert!(error.contains("Dockerfile:2"), "{error}");

    // With them, the build pulls the base and pushes; the password is nowhere in the record.
    let backend: Arc<dyn ImageBackend> = Arc::new(RegistryBackend::new(Client::new(credentials.clone())).docker_host(Some(engine.host())));
    let outcome = run_pipeline_images(dir.path(), &yaml, Some(backend)).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let record = serde_json::to_string(&outcome.record).unwrap();
    assert!(!record.contains("base-image-password"), "the password leaked into the record");
    let pushed = format!("{}/app:1.0", out.host());
    let run = engine.cli().args(["run", "--rm", "--network", "none", &pushed]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "hello from gantry", "{}", String::from_utf8_lossy(&run.stderr));

    // The daemonless builder pulls the same private base through the run's client: its layers, then one for the COPY.
    let daemonless: Arc<dyn ImageBackend> = Arc::new(RegistryBackend::new(Client::new(credentials.clone())));
    let outcome = run_pipeline_images(dir.path(), &yaml.replace("backend: docker", "backend: daemonless"), Some(daemonless.clone())).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:#?}", outcome.record.stages);
    let layers = daemonless.layers(&pushed).await.unwrap();
    assert_eq!(layers.len(), busybox.layers.len() + 1, "{layers:?}");
    assert_eq!(layers[0].digest, busybox.layers[0].digest(), "the base's layer as the registry holds it");
    let run = engine.cli().args(["run", "--rm", "--network", "none", "--pull", "always", &pushed]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "hello from gantry", "{}", String::from_utf8_lossy(&run.stderr));
}
