//! Docker builds against a real engine (a dockerd per test, started by
//! `gantry_registry::testing::dockerd`), and that test engine itself: it
//! starts, stops and leaves nothing behind.

use gantry_registry::testing::dockerd::{self, Dockerd};

#[test]
fn the_test_engine_starts_and_stops_twice_leaving_nothing_behind() {
    for round in 0..2 {
        let Some(engine) = Dockerd::start() else { return };
        let image = engine.busybox_image();
        // A container makes the engine mount its layers (overlay2 or vfs).
        let out = engine.docker(&["run", "--rm", "--pull", "never", "--network", "none", &image, "sh", "-c", "echo ran in $0"]);
        assert_eq!(out.trim(), "ran in sh", "round {round}");
        // One still runs when the engine stops.
        engine.docker(&["run", "--detach", "--stop-timeout", "1", "--pull", "never", "--network", "none", &image, "sleep", "600"]);
        assert!(engine.host().starts_with("unix:///") && engine.host().ends_with("/docker.sock"));
        let dir = engine.dir().to_path_buf();
        let pid = engine.pid().unwrap();
        let containerd = std::fs::read_to_string(dir.join("exec/containerd/containerd.pid")).ok();
        drop(engine);
        assert!(!dir.exists(), "round {round}: {} is left behind", dir.display());
        assert!(dockerd::mounts_under(&dir).is_empty(), "round {round}: mounts left: {:?}", dockerd::mounts_under(&dir));
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "round {round}: dockerd {pid} still runs");
        if let Some(c) = containerd {
            let c = c.trim();
            let still = std::fs::read(format!("/proc/{c}/cmdline")).map(|l| String::from_utf8_lossy(&l).contains(&*dir.to_string_lossy())).unwrap_or(false);
            assert!(!still, "round {round}: its containerd {c} still runs");
        }
        let needle = format!("{}/", dir.display());
        let left: Vec<String> = std::fs::read_dir("/proc").unwrap().flatten().filter_map(|e| std::fs::read(e.path().join("cmdline")).ok()).map(|c| String::from_utf8_lossy(&c).replace('\0', " ")).filter(|c| c.contains(&needle)).collect();
        assert!(left.is_empty(), "round {round}: still running: {left:?}");
    }
}

use std::collections::BTreeMap;
use std::path::Path;

use gantry_registry::docker::{BuildEvent, BuildNetwork, DockerBuild, DockerEngine, DockerError, LABEL_CREATED, LABEL_REVISION, LABEL_SOURCE};
use gantry_registry::image::digest_of;
use gantry_registry::spec;

fn write(dir: &Path, path: &str, content: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

/// A test engine with the busybox base image, and a client connected to it.
async fn engine() -> Option<(Dockerd, DockerEngine)> {
    let dockerd = Dockerd::start()?;
    dockerd.busybox_image();
    let engine = DockerEngine::connect_to(&dockerd.host()).await.unwrap();
    Some((dockerd, engine))
}

/// `docker run` of `image` with no network, printing what `command` prints.
fn run(dockerd: &Dockerd, image: &str, command: &str) -> String {
    dockerd.docker(&["run", "--rm", "--pull", "never", "--network", "none", "--entrypoint", "/bin/sh", image, "-c", command])
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(data), &mut out).unwrap();
    out
}

#[tokio::test]
async fn a_busybox_build_copies_sets_env_runs_with_build_args_and_labels_the_image() {
    let Some((dockerd, engine)) = engine().await else { return };
    let server_api = dockerd.docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(engine.api_version(), server_api.trim(), "the client speaks the engine's version, not bollard's newer one");

    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), "Dockerfile", "FROM gantry-test/busybox:1\nARG GREETING=hello\nENV APP_MODE=production\nWORKDIR /app\nCOPY app.txt /app/\nRUN echo \"$GREETING from run in $APP_MODE\" > /app/run.txt\nUSER 1000\nEXPOSE 8080\nENTRYPOINT [\"/bin/sh\", \"-c\"]\nCMD [\"cat /app/app.txt\"]\n");
    write(ctx.path(), "app.txt", "the app\n");
    let mut build = DockerBuild::new(ctx.path());
    build.build_args.insert("GREETING".into(), "bonjour".into());
    build.network = BuildNetwork::None;
    build.tags = vec!["gantry-test/app:1".into(), "gantry-test/app:also".into()];
    build.labels.insert("team".into(), "deploy".into());
    build.revision = Some("0123456789abcdef0123456789abcdef01234567".into());
    build.source = Some("https://git.example.com/shop/app".into());
    build.created = Some(time::macros::datetime!(2026-11-27 01:02:03 UTC));
    let mut events = Vec::new();
    let id = engine.build(&build, |e| events.push(e)).await.unwrap();
    assert!(id.starts_with("sha256:"), "{id}");

    // Step progress: step N of the Dockerfile's 10 instructions, each with
    // its line, then the engine's own LABEL step per label (4), with none.
    let steps: Vec<(usize, usize, String, Option<usize>)> = events.iter().filter_map(|e| match e { BuildEvent::Step { step, of, instruction, line } => Some((*step, *of, instruction.clone(), *line)), _ => None }).collect();
    assert_eq!(steps[0], (1, 14, "FROM gantry-test/busybox:1".to_string(), Some(1)));
    assert_eq!(steps[4], (5, 14, "COPY app.txt /app/".to_string(), Some(5)));
    assert_eq!(steps.len(), 14, "{steps:?}");
    assert!(steps[10..].iter().all(|s| s.2.starts_with("LABEL") && s.3.is_none()), "the engine's label steps have no line: {:?}", &steps[10..]);
    assert_eq!(events.last(), Some(&BuildEvent::Built { id: id.clone() }));

    assert_eq!(run(&dockerd, "gantry-test/app:1", "cat /app/run.txt; cat /app/app.txt; id -u; pwd").trim(), "bonjour from run in production\nthe app\n1000\n/app");
    assert_eq!(dockerd.docker(&["image", "inspect", "--format", "{{.Id}}", "gantry-test/app:also"]).trim(), id, "every tag names the image");

    let image = engine.export(&id).await.unwrap();
    let config = image.config().unwrap();
    let run_config = config.config.clone().unwrap();
    assert!(run_config.env.as_ref().unwrap().contains(&"APP_MODE=production".to_string()));
    assert_eq!(run_config.user.as_deref(), Some("1000"));
    assert_eq!(run_config.working_dir.as_deref(), Some("/app"));
    assert_eq!(run_config.entrypoint, Some(vec!["/bin/sh".to_string(), "-c".to_string()]));
    assert_eq!(run_config.cmd, Some(vec!["cat /app/app.txt".to_string()]));
    assert!(run_config.exposed_ports.as_ref().unwrap().contains_key("8080/tcp"));
    let labels = run_config.labels.unwrap();
    assert_eq!(labels[LABEL_REVISION], "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(labels[LABEL_SOURCE], "https://git.example.com/shop/app");
    assert_eq!(labels[LABEL_CREATED], "2026-11-27T01:02:03Z");
    assert_eq!(labels["team"], "deploy");
    assert!(config.history.iter().any(|h| h.created_by.as_deref().is_some_and(|c| c.contains("COPY"))), "history is kept: {:?}", config.history);
}

#[tokio::test]
async fn run_steps_see_the_network_they_are_given() {
    let Some((dockerd, engine)) = engine().await else { return };
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), "Dockerfile", "FROM gantry-test/busybox:1\nRUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort > /interfaces\n");
    let interfaces = |network: BuildNetwork, tag: &str| {
        let mut build = DockerBuild::new(ctx.path());
        build.network = network;
        build.tags = vec![tag.to_string()];
        build.no_cache = true;
        (build, tag.to_string())
    };
    let (none, none_tag) = interfaces(BuildNetwork::None, "gantry-test/net:none");
    engine.build(&none, |_| {}).await.unwrap();
    assert_eq!(run(&dockerd, &none_tag, "cat /interfaces").trim(), "lo");

    let (host, host_tag) = interfaces(BuildNetwork::Host, "gantry-test/net:host");
    engine.build(&host, |_| {}).await.unwrap();
    let mut ours: Vec<String> = std::fs::read_to_string("/proc/net/dev").unwrap().lines().skip(2).map(|l| l.split(':').next().unwrap().trim().to_string()).collect();
    ours.sort();
    assert_eq!(run(&dockerd, &host_tag, "cat /interfaces").trim(), ours.join("\n"), "a host-network step sees the host's interfaces");
}

#[tokio::test]
async fn a_multi_stage_build_stops_at_its_target() {
    let Some((dockerd, engine)) = engine().await else { return };
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), "Dockerfile", "ARG BASE=gantry-test/busybox:1\nFROM $BASE AS base\nRUN echo base > /stage\n\nFROM base AS test\nRUN echo test > /stage\n\nFROM base AS final\nCOPY --from=test /stage /from-test\nRUN echo final > /stage\n");
    let mut build = DockerBuild::new(ctx.path());
    build.network = BuildNetwork::None;
    build.target = Some("test".into());
    build.tags = vec!["gantry-test/stages:test".into()];
    let mut events = Vec::new();
    engine.build(&build, |e| events.push(e)).await.unwrap();
    assert_eq!(run(&dockerd, "gantry-test/stages:test", "cat /stage").trim(), "test");
    let instructions: Vec<String> = events.iter().filter_map(|e| match e { BuildEvent::Step { instruction, .. } => Some(instruction.clone()), _ => None }).collect();
    assert!(!instructions.iter().any(|i| i.contains("final")), "the stages after the target are not built: {instructions:?}");

    build.target = None;
    build.tags = vec!["gantry-test/stages:final".into()];
    engine.build(&build, |_| {}).await.unwrap();
    assert_eq!(run(&dockerd, "gantry-test/stages:final", "cat /stage /from-test").trim(), "final\ntest");
}

#[tokio::test]
async fn a_dockerfile_at_another_path_builds_a_context_without_what_dockerignore_excludes() {
    let Some((dockerd, engine)) = engine().await else { return };
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), "build/app.Dockerfile", "FROM gantry-test/busybox:1\nCOPY . /ctx/\n");
    write(ctx.path(), ".dockerignore", "# not for the image\nsecret.txt\nbuild\n*.log\n!keep.log\n");
    write(ctx.path(), "secret.txt", "s3cret\n");
    write(ctx.path(), "debug.log", "noise\n");
    write(ctx.path(), "keep.log", "kept\n");
    write(ctx.path(), "app.txt", "app\n");
    write(ctx.path(), "src/main.txt", "main\n");
    let mut build = DockerBuild::new(ctx.path());
    build.dockerfile = "build/app.Dockerfile".into();
    build.network = BuildNetwork::None;
    build.tags = vec!["gantry-test/ignore:1".into()];
    let id = engine.build(&build, |_| {}).await.unwrap();

    // The Dockerfile is sent though `build` is excluded (the build reads
    // it), and the engine leaves it out of the context the steps see, as
    // `docker build` does for an excluded Dockerfile.
    let listed = run(&dockerd, "gantry-test/ignore:1", "cd /ctx && find . | sort");
    assert_eq!(listed.trim(), ".\n./.dockerignore\n./app.txt\n./build\n./keep.log\n./src\n./src/main.txt");

    // And the exported layers hold no excluded file either.
    let image = engine.export(&id).await.unwrap();
    let mut paths = Vec::new();
    for layer in &image.layers {
        let tar = gunzip(&layer.data);
        for entry in tar::Archive::new(tar.as_slice()).entries().unwrap() {
            paths.push(entry.unwrap().path().unwrap().to_string_lossy().to_string());
        }
    }
    assert!(paths.iter().any(|p| p == "ctx/app.txt"), "{paths:?}");
    assert!(!paths.iter().any(|p| p.ends_with("secret.txt") || p.ends_with("debug.log")), "{paths:?}");
}

#[tokio::test]
async fn a_dockerfile_outside_the_context_is_built_and_left_out_of_it() {
    let Some((dockerd, engine)) = engine().await else { return };
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "dockerfiles/app.Dockerfile", "FROM gantry-test/busybox:1\nCOPY . /ctx/\nRUN false\n");
    write(root.path(), "ctx/app.txt", "app\n");
    write(root.path(), "ctx/.dockerignore", "*.log");
    write(root.path(), "ctx/debug.log", "noise\n");
    let mut build = DockerBuild::new(root.path().join("ctx"));
    build.dockerfile = "../dockerfiles/app.Dockerfile".into();
    build.network = BuildNetwork::None;
    build.tags = vec!["gantry-test/outside:1".into()];
    // A failure names the Dockerfile where it is, not where it was sent.
    let err = engine.build(&build, |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("dockerfiles/app.Dockerfile:3: step 3/"), "{err}");

    write(root.path(), "dockerfiles/app.Dockerfile", "FROM gantry-test/busybox:1\nCOPY . /ctx/\n");
    engine.build(&build, |_| {}).await.unwrap();
    let listed = run(&dockerd, "gantry-test/outside:1", "cd /ctx && find . | sort");
    assert_eq!(listed.trim(), ".\n./.dockerignore\n./app.txt", "the sent Dockerfile is not in the context the steps see");
    // As with the docker CLI, the .dockerignore the steps see is the user's
    // plus the line that leaves the sent Dockerfile out.
    let ignore = run(&dockerd, "gantry-test/outside:1", "cat /ctx/.dockerignore");
    assert!(ignore.starts_with("*.log\n.dockerfile.") && ignore.lines().count() == 2, "{ignore:?}");
}

#[tokio::test]
async fn a_failing_run_names_its_dockerfile_line_exit_code_and_output() {
    let Some((_dockerd, engine)) = engine().await else { return };
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), "Dockerfile", "FROM gantry-test/busybox:1\n# a comment\n\nRUN echo fine\nRUN echo 'about to fail' && \\\n    echo 'really' && exit 3\nRUN echo never\n");
    let mut build = DockerBuild::new(ctx.path());
    build.network = BuildNetwork::None;
    let mut events = Vec::new();
    let err = engine.build(&build, |e| events.push(e)).await.unwrap_err();
    match &err {
        DockerError::StepFailed(failure) => {
            assert_eq!(failure.dockerfile, ctx.path().join("Dockerfile"));
            assert_eq!((failure.line, failure.step, failure.exit_code), (5, 3, Some(3)));
            assert!(failure.instruction.starts_with("RUN echo 'about to fail'"), "{}", failure.instruction);
            assert_eq!(failure.output, vec!["about to fail".to_string(), "really".to_string()]);
        }
        other => panic!("not a step failure: {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&format!("{}:5: step 3/", ctx.path().join("Dockerfile").display())), "{text}");
    assert!(text.contains("exit code 3") && text.contains("about to fail"), "{text}");
    assert!(!events.iter().any(|e| matches!(e, BuildEvent::Output(l) if l == "never")));
    assert!(!events.iter().any(|e| matches!(e, BuildEvent::Built { .. })));

    // A Dockerfile the engine cannot read fails before any step, with the engine's words and the file.
    write(ctx.path(), "Dockerfile", "FROM gantry-test/busybox:1\n\nFETCH something\n");
    let err = engine.build(&build, |_| {}).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DockerError::Build { step: None, .. }), "{err:?}");
    assert!(text.contains(&ctx.path().join("Dockerfile").display().to_string()) && text.contains("line 3") && text.contains("FETCH"), "{text}");

    // A missing Dockerfile says the path is relative to the context.
    build.dockerfile = "docker/Dockerfile.prod".into();
    let err = engine.build(&build, |_| {}).await.unwrap_err();
    assert!(matches!(err, DockerError::Dockerfile { .. }) && err.to_string().contains("relative to the context"), "{err}");
}

#[tokio::test]
async fn no_engine_is_an_error_that_says_which_address_and_how_to_point_to_one() {
    // Each test runs in its own process under nextest: this DOCKER_HOST is this test's alone.
    std::env::set_var("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let err = DockerEngine::connect().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DockerError::NoEngine { .. }), "{err:?}");
    for needle in ["unix:///nonexistent/docker.sock", "DOCKER_HOST", "Start dockerd", "daemonless"] {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }

    // A TCP address where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("tcp://127.0.0.1:{port}");
    let err = DockerEngine::connect_to(&address).await.unwrap_err();
    assert!(matches!(err, DockerError::NoEngine { .. }) && err.to_string().contains(&address), "{err}");

    let err = DockerEngine::connect_to("ssh://builder@example.com").await.unwrap_err();
    assert!(matches!(err, DockerError::UnsupportedHost { .. }) && err.to_string().contains("ssh -L"), "{err}");
}

#[tokio::test]
async fn docker_host_names_the_engine() {
    let Some(dockerd) = Dockerd::start() else { return };
    // One test per process, as above.
    std::env::set_var("DOCKER_HOST", dockerd.host());
    let engine = DockerEngine::connect().await.unwrap();
    assert_eq!(engine.address(), dockerd.host());
}

#[tokio::test]
async fn an_export_is_stable_and_its_layers_are_the_engines() {
    let Some((dockerd, engine)) = engine().await else { return };
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), "Dockerfile", "FROM gantry-test/busybox:1\nENV A=1\nCOPY one.txt /one.txt\nRUN echo two > /two.txt\nCMD [\"cat\", \"/one.txt\"]\n");
    write(ctx.path(), "one.txt", "one\n");
    let mut build = DockerBuild::new(ctx.path());
    build.network = BuildNetwork::None;
    build.tags = vec!["gantry-test/export:1".into()];
    // A fixed created label (it is the time of the build otherwise, and a new label is a new image).
    build.created = Some(time::macros::datetime!(2026-01-02 03:04:05 UTC));
    let id = engine.build(&build, |_| {}).await.unwrap();

    // The same build again is the engine's cache, step by step: the same image.
    let mut events = Vec::new();
    assert_eq!(engine.build(&build, |e| events.push(e)).await.unwrap(), id);
    assert!(events.iter().filter(|e| **e == BuildEvent::Cached).count() >= 4, "{events:?}");

    let first = engine.export(&id).await.unwrap();
    let second = engine.export("gantry-test/export:1").await.unwrap();
    assert_eq!(first.digest(), second.digest(), "the same engine image exports to the same digest");
    assert_eq!(first, second);

    let engine_layers: Vec<String> = serde_json::from_str(&dockerd.docker(&["image", "inspect", "--format", "{{json .RootFS.Layers}}", &id])).unwrap();
    let config = first.config().unwrap();
    assert_eq!(config.rootfs.diff_ids, engine_layers, "diff_ids are the engine's");
    assert_eq!(first.layers.len(), 3);
    for (layer, diff_id) in first.layers.iter().zip(&engine_layers) {
        assert_eq!(layer.descriptor.media_type, spec::OCI_LAYER_GZIP);
        assert_eq!(&digest_of(&gunzip(&layer.data)), diff_id);
        assert_eq!(&layer.data[4..8], &[0, 0, 0, 0], "no mtime in the gzip header");
    }
    let manifest: spec::Manifest = serde_json::from_slice(&first.manifest.data).unwrap();
    assert_eq!(manifest.media_type.as_deref(), Some(spec::OCI_MANIFEST));
    assert_eq!(manifest.config.digest, first.config.digest());
    let raw: serde_json::Value = serde_json::from_slice(&first.config.data).unwrap();
    assert!(raw.get("container_config").is_none() && raw.get("docker_version").is_none(), "the builder's bookkeeping is dropped: {raw}");
    assert_eq!(raw["config"]["Cmd"], serde_json::json!(["cat", "/one.txt"]));
    assert_eq!(raw["created"], serde_json::to_value(dockerd.docker(&["image", "inspect", "--format", "{{.Created}}", &id]).trim()).unwrap());
    let labels: BTreeMap<String, String> = serde_json::from_value(raw["config"]["Labels"].clone()).unwrap();
    assert!(labels.contains_key(LABEL_CREATED));

    // The exported image is whole: another engine loads it and runs it,
    // and takes its config's digest as the image's id.
    drop(dockerd);
    let Some(other) = Dockerd::start() else { return };
    load(&other, &first, "gantry-test/roundtrip:1");
    assert_eq!(other.docker(&["image", "inspect", "--format", "{{.Id}}", "gantry-test/roundtrip:1"]).trim(), first.config.digest());
    assert_eq!(other.docker(&["run", "--rm", "--pull", "never", "--network", "none", "gantry-test/roundtrip:1"]).trim(), "one");
    assert_eq!(run(&other, "gantry-test/roundtrip:1", "echo $A; cat /two.txt").trim(), "1\ntwo");
}

/// `docker load` of `image` as a `docker save` archive tagged `tag`.
fn load(dockerd: &Dockerd, image: &gantry_registry::Image, tag: &str) {
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        tar.append_data(&mut h, name, data).unwrap();
    };
    let layers: Vec<String> = (0..image.layers.len()).map(|i| format!("layer{i}.tar.gz")).collect();
    let manifest = serde_json::json!([{ "Config": "config.json", "RepoTags": [tag], "Layers": layers }]);
    add("manifest.json", manifest.to_string().as_bytes());
    add("config.json", &image.config.data);
    for (name, layer) in layers.iter().zip(&image.layers) {
        add(name, &layer.data);
    }
    let tar = tar.into_inner().unwrap();
    let mut child = dockerd.cli().args(["load", "--quiet"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &tar).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "docker load: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_test_engine_runs_on_vfs_too() {
    let Some(engine) = Dockerd::start_with_storage_driver("vfs") else { return };
    assert_eq!(engine.storage_driver(), "vfs");
    assert_eq!(engine.docker(&["info", "--format", "{{.Driver}}"]).trim(), "vfs");
    let image = engine.busybox_image();
    assert_eq!(engine.docker(&["run", "--rm", "--pull", "never", "--network", "none", &image, "echo", "on vfs"]).trim(), "on vfs");
    let dir = engine.dir().to_path_buf();
    drop(engine);
    assert!(!dir.exists() && dockerd::mounts_under(&dir).is_empty());
}

#[tokio::test]
async fn a_base_image_in_a_private_registry_is_pulled_with_credentials_that_never_print() {
    use gantry_registry::testing::registry::{DockerRegistry, RegistryAuth};
    use gantry_registry::{Credential, Secret};
    const PASSWORD: &str = "hunter2-build-pass";
    let Some((dockerd, engine)) = engine().await else { return };
    let Some(registry) = DockerRegistry::start(RegistryAuth::basic("builder", PASSWORD)) else { return };
    // The base goes into the registry with the docker CLI, then leaves the engine.
    let base = format!("{}/base/busybox:1", registry.host());
    dockerd.docker(&["tag", dockerd::BUSYBOX, &base]);
    let mut login = dockerd.cli().args(["login", "--username", "builder", "--password-stdin", registry.host()]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut login.stdin.take().unwrap(), PASSWORD.as_bytes()).unwrap();
    assert!(login.wait_with_output().unwrap().status.success());
    dockerd.docker(&["push", &base]);
    dockerd.docker(&["logout", registry.host()]);
    dockerd.docker(&["rmi", &base]);

    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), "Dockerfile", &format!("FROM {base}\nRUN echo pulled > /pulled\n"));
    let mut build = DockerBuild::new(ctx.path());
    build.network = BuildNetwork::None;
    build.tags = vec!["gantry-test/private-base:1".into()];

    // Without credentials the engine is refused at the FROM line, and the error says where and what to do.
    let err = engine.build(&build, |_| {}).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(&err, DockerError::StepFailed(f) if f.line == 1 && f.step == 1), "{err:?}");
    assert!(text.contains(registry.host()) && text.contains("registry credentials"), "{text}");

    // A wrong password is refused too, and printed nowhere.
    build.registry_credentials.insert(registry.host().to_string(), Credential::Basic { username: "builder".into(), password: Secret::new("wrong-pass-123") });
    let mut events = Vec::new();
    let err = engine.build(&build, |e| events.push(e)).await.unwrap_err();
    let shown = format!("{err} {err:?} {build:?} {events:?}");
    assert!(!shown.contains("wrong-pass-123"), "{shown}");

    // The right one pulls the base.
    build.registry_credentials.insert(registry.host().to_string(), Credential::Basic { username: "builder".into(), password: Secret::new(PASSWORD) });
    let mut events = Vec::new();
    engine.build(&build, |e| events.push(e)).await.unwrap();
    assert_eq!(run(&dockerd, "gantry-test/private-base:1", "cat /pulled").trim(), "pulled");
    let shown = format!("{build:?} {events:?}");
    assert!(!shown.contains(PASSWORD) && shown.contains("<redacted>"), "{shown}");
}
