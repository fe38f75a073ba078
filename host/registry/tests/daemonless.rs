//! Daemonless builds end to end: the example context under
//! `tests/images/example` built without an engine (reproducibly, RUN
//! refused or skipped, .dockerignore honoured), and the same Dockerfile
//! built by a real Docker engine, whose config and layer file trees must
//! agree with ours.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use gantry_registry::daemonless::{self, BuildError, BuildEvent, Built, DaemonlessBuild, MemoryBases, NoBaseImages};
use gantry_registry::dockerfile::{self, Kind};
use gantry_registry::image::{digest_of, Blob, Image, Layer};
use gantry_registry::spec::{self, ImageConfig, Platform};
use gantry_registry::testing::dockerd::{self, Dockerd};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/images/example");
const TRICKY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/images/tricky");

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn set_mtimes(dir: &Path, when: std::time::SystemTime) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            set_mtimes(&e.path(), when);
        } else if e.file_type().unwrap().is_file() {
            std::fs::OpenOptions::new().write(true).open(e.path()).unwrap().set_modified(when).unwrap();
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A tar.gz for `ADD` to extract: a file owned by 1234:1234, a dir and a symlink.
fn assets_tar_gz() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o750);
    h.set_uid(1234);
    h.set_gid(1234);
    h.set_size(0);
    tar.append_data(&mut h, "img/", std::io::empty()).unwrap();
    let body = b"\x89PNG not really\n";
    let mut h = tar::Header::new_ustar();
    h.set_mode(0o640);
    h.set_uid(1234);
    h.set_gid(1234);
    h.set_size(body.len() as u64);
    tar.append_data(&mut h, "img/logo.png", &body[..]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_mode(0o777);
    h.set_size(0);
    tar.append_link(&mut h, "logo", "img/logo.png").unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

/// The example context copied to a temp dir, with what git cannot hold
/// (modes, a symlink, an archive) and every file's mtime set to `mtime`.
fn example_context(mtime: std::time::SystemTime) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(Path::new(EXAMPLE), dir.path());
    std::fs::write(dir.path().join("assets.tar.gz"), assets_tar_gz()).unwrap();
    std::os::unix::fs::symlink("main.sh", dir.path().join("app/current")).unwrap();
    chmod(&dir.path().join("app/main.sh"), 0o755);
    chmod(&dir.path().join("config/settings.conf"), 0o640);
    set_mtimes(dir.path(), mtime);
    dir
}

/// The busybox rootfs the test engine imports, as an in-memory base image
/// (what `docker import` makes: one layer, a bare config).
fn busybox_base() -> MemoryBases {
    let tar = dockerd::busybox_rootfs_tar();
    let config = ImageConfig { architecture: Platform::host().architecture, os: "linux".into(), ..Default::default() };
    let image = Image::assemble(config, vec![Layer { diff_id: digest_of(&tar), blob: Blob::new(spec::OCI_LAYER, tar) }]);
    let mut bases = MemoryBases::new();
    bases.insert(dockerd::BUSYBOX, image).unwrap();
    bases
}

fn build_at(ctx: &Path, dockerfile: &str, bases: &MemoryBases, tweak: impl FnOnce(&mut DaemonlessBuild)) -> (Result<Built, BuildError>, Vec<BuildEvent>) {
    let mut spec = DaemonlessBuild::new(ctx);
    spec.dockerfile = PathBuf::from(dockerfile);
    tweak(&mut spec);
    let mut events = Vec::new();
    let result = daemonless::build(&spec, bases, &mut |e| events.push(e));
    (result, events)
}

/// One entry of a layer: type, mode, owner, and content digest or link target.
type Tree = BTreeMap<String, (char, u32, u64, u64, String)>;

fn layer_tree(blob: &[u8]) -> Tree {
    let tar = if blob.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(blob).read_to_end(&mut out).unwrap();
        out
    } else {
        blob.to_vec()
    };
    let mut tree = Tree::new();
    let mut a = tar::Archive::new(&tar[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().trim_end_matches('/').to_string();
        let h = e.header().clone();
        let kind = match h.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Link => 'h',
            _ => 'f',
        };
        let what = match kind {
            'l' | 'h' => e.link_name().unwrap().unwrap().to_string_lossy().into_owned(),
            _ => {
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                if kind == 'f' {
                    digest_of(&data)
                } else {
                    String::new()
                }
            }
        };
        tree.insert(path, (kind, h.mode().unwrap() & 0o7777, h.uid().unwrap(), h.gid().unwrap(), what));
    }
    tree
}

fn new_layer_trees(image: &Image, base_layers: usize) -> Vec<Tree> {
    image.layers[base_layers..].iter().map(|l| layer_tree(&l.data)).filter(|t| !t.is_empty()).collect()
}

#[test]
fn the_example_dockerfile_parses_with_its_lines_and_steps() {
    let text = std::fs::read_to_string(Path::new(EXAMPLE).join("Dockerfile")).unwrap();
    let df = dockerfile::parse(&text).unwrap();
    assert_eq!(df.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(df.args_before_from.len(), 1);
    assert_eq!(df.stages.len(), 2);
    assert_eq!(df.stages[0].name.as_deref(), Some("base"));
    // Step 1 is the ARG, step 2 the first FROM (line 4), as `docker build` numbers them.
    assert_eq!(df.step(2).unwrap().line, 4);
    let label = df.step(3).unwrap();
    assert_eq!((label.line, label.end_line), (5, 6));
    assert!(matches!(&label.kind, Kind::Label(pairs) if pairs.len() == 2));
    assert_eq!(df.step_count(), df.instructions().count());
    let last = df.step(df.step_count()).unwrap();
    assert_eq!(last.keyword(), "CMD");
    assert_eq!(df.at_line(8).unwrap().line, 7);
}

#[test]
fn the_same_inputs_give_the_same_digest_across_contexts_and_mtimes() {
    let bases = busybox_base();
    let a = example_context(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000));
    let b = example_context(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000));
    let one = build_at(a.path(), "Dockerfile", &bases, |_| {}).0.unwrap();
    let two = build_at(b.path(), "Dockerfile", &bases, |_| {}).0.unwrap();
    let again = build_at(a.path(), "Dockerfile", &bases, |_| {}).0.unwrap();
    assert_eq!(one.image.digest(), two.image.digest());
    assert_eq!(one.image, again.image);
    // The base layer as it came; the new one gzipped.
    assert_eq!(one.image.layers[0].descriptor.media_type, spec::OCI_LAYER);
    assert!(one.image.layers[1..].iter().all(|l| l.descriptor.media_type == spec::OCI_LAYER_GZIP && l.data.starts_with(&[0x1f, 0x8b])));
    let config = one.image.config().unwrap();
    assert_eq!(config.created.as_deref(), Some("1970-01-01T00:00:00Z"));
    assert!(config.history.iter().all(|h| h.created.as_deref() == Some("1970-01-01T00:00:00Z")));

    // SOURCE_DATE_EPOCH moves the mtimes and `created`, so the digest.
    let dated = build_at(a.path(), "Dockerfile", &bases, |s| s.source_date_epoch = Some(1_700_000_000)).0.unwrap();
    assert_ne!(dated.image.digest(), one.image.digest());
    assert_eq!(dated.image.config().unwrap().created.as_deref(), Some("2023-11-14T22:13:20Z"));
    let tar = {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&dated.image.layers[1].data[..]).read_to_end(&mut out).unwrap();
        out
    };
    let mut archive = tar::Archive::new(&tar[..]);
    for e in archive.entries().unwrap() {
        assert_eq!(e.unwrap().header().mtime().unwrap(), 1_700_000_000);
    }
    // A changed file changes the digest.
    std::fs::write(b.path().join("app/lib/util.sh"), "changed\n").unwrap();
    let changed = build_at(b.path(), "Dockerfile", &bases, |_| {}).0.unwrap();
    assert_ne!(changed.image.digest(), one.image.digest());
}

#[test]
fn the_example_image_has_the_config_and_files_docker_would_give_it() {
    let bases = busybox_base();
    let ctx = example_context(std::time::SystemTime::now());
    let (built, events) = build_at(ctx.path(), "Dockerfile", &bases, |s| {
        s.build_args.insert("VERSION".into(), "1.2.3".into());
        s.build_args.insert("UNUSED".into(), "x".into());
    });
    let built = built.unwrap();
    let config = built.image.config().unwrap();
    let rc = config.config.clone().unwrap();
    assert_eq!(rc.env.unwrap(), vec!["PATH=/srv/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(), "APP_HOME=/srv/app".to_string()]);
    assert_eq!(rc.entrypoint.unwrap(), vec!["/bin/sh", "/srv/app/main.sh"]);
    assert_eq!(rc.cmd.unwrap(), vec!["--port", "8080"]);
    assert_eq!(rc.working_dir.as_deref(), Some("/srv/app"));
    assert_eq!(rc.user.as_deref(), Some("1000:1000"));
    assert_eq!(rc.exposed_ports.unwrap().keys().cloned().collect::<Vec<_>>(), vec!["8080/tcp", "9090/udp"]);
    assert_eq!(rc.labels.unwrap().get("version").map(String::as_str), Some("1.2.3"));
    assert_eq!(rc.stop_signal.as_deref(), Some("SIGINT"));
    assert!(rc.volumes.unwrap().contains_key("/data"));
    // The final stage: busybox's layer and one COPY --from layer (its WORKDIR exists).
    assert_eq!(built.image.layers.len(), 2);
    let files = layer_tree(&built.image.layers[1].data);
    for present in ["srv/app/main.sh", "srv/app/current", "srv/app/lib/util.sh", "srv/app/static/index.html", "srv/app/tmp/keep.txt", "srv/app/docs/README.txt", "srv/app/docs/NOTES.txt", "srv/assets/img/logo.png", "srv/assets/logo", "srv/app/settings.copy"] {
        assert!(files.contains_key(present), "{present} is missing from {:?}", files.keys().collect::<Vec<_>>());
    }
    for absent in ["srv/app/tmp/cache.bin", "srv/app/static/index.html.bak", "srv/app/debug.log", "srv/app/secret", "srv/app/docs/debug.log"] {
        assert!(!files.contains_key(absent), "{absent} should be left out by .dockerignore");
    }
    assert_eq!(files["srv/app/main.sh"].1, 0o755);
    assert_eq!(files["srv/app/current"], ('l', 0o777, 0, 0, "main.sh".to_string()));
    // COPY --from keeps owners (here those ADD took from the archive).
    assert_eq!((files["srv/assets/img/logo.png"].2, files["srv/assets/img/logo.png"].3), (1234, 1234));
    let warned: Vec<&BuildEvent> = events.iter().filter(|e| matches!(e, BuildEvent::Warning { .. })).collect();
    assert_eq!(warned, vec![&BuildEvent::Warning { line: None, message: "one or more build-args [UNUSED] were not consumed".into() }]);
    let steps = events.iter().filter(|e| matches!(e, BuildEvent::Step { .. })).count();
    assert_eq!(steps, 23);

    // The first stage: ADD extracted the archive with its owners, --chown set 1000:1000.
    let base = build_at(ctx.path(), "Dockerfile", &bases, |s| s.target = Some("base".into())).0.unwrap();
    let trees: Vec<Tree> = new_layer_trees(&base.image, 1);
    let all: Tree = trees.into_iter().flatten().collect();
    let logo = &all["srv/assets/img/logo.png"];
    assert_eq!((logo.1, logo.2, logo.3), (0o640, 1234, 1234));
    assert_eq!((all["etc/example/settings.conf"].2, all["etc/example/settings.conf"].3), (1000, 1000));
    assert_eq!(all["etc/example/settings.conf"].1, 0o640);
    assert_eq!(all["srv/app/settings.copy"].2, 0);
    // --chown by name, through the image's /etc/passwd; new parents take the owner too.
    assert_eq!((all["srv/by-name/notes/NOTES.txt"].2, all["srv/by-name/notes/NOTES.txt"].3), (65534, 65534));
    assert_eq!((all["srv/by-name"].2, all["srv"].2), (65534, 0));
}

#[test]
fn run_is_refused_naming_its_line_unless_runs_are_simulated() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\nCOPY a /a\nRUN echo one \\\n  two\nENV X=1\nRUN [\"/bin/true\"]\n").unwrap();
    std::fs::write(dir.path().join("a"), "a").unwrap();
    let bases = MemoryBases::new();
    let (result, events) = build_at(dir.path(), "Dockerfile", &bases, |_| {});
    let err = result.unwrap_err();
    assert!(matches!(err, BuildError::RunNeedsEngine { line: 3, .. }), "{err:?}");
    let shown = err.to_string();
    assert!(shown.starts_with("Dockerfile:3: RUN echo one   two: RUN needs a Docker engine"), "{shown}");
    assert!(shown.contains("docker backend"), "{shown}");
    assert!(events.is_empty(), "nothing is done before a RUN is refused: {events:?}");

    let (result, events) = build_at(dir.path(), "Dockerfile", &bases, |s| s.skip_run = true);
    let built = result.unwrap();
    assert_eq!(built.skipped.iter().map(|s| s.line).collect::<Vec<_>>(), vec![3, 6]);
    assert_eq!(built.skipped[1].instruction, "RUN [\"/bin/true\"]");
    let warnings: Vec<String> = events.iter().filter_map(|e| if let BuildEvent::Warning { line: Some(l), message } = e { Some(format!("{l} {message}")) } else { None }).collect();
    assert_eq!(warnings.len(), 2);
    assert!(warnings[0].starts_with("3 Dockerfile:3: RUN echo one   two skipped"), "{warnings:?}");
    let config = built.image.config().unwrap();
    assert_eq!(config.config.unwrap().env.unwrap(), vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "X=1"]);
    assert!(config.history.iter().any(|h| h.created_by.as_deref() == Some("RUN [\"/bin/true\"]") && h.empty_layer && h.comment.is_some()));
    // A skipped RUN adds no layer: one COPY, one layer.
    assert_eq!(built.image.layers.len(), 1);
}

#[test]
fn scratch_builds_need_no_registry_and_errors_name_the_instruction() {
    let ctx = example_context(std::time::SystemTime::now());
    let mut spec = DaemonlessBuild::new(ctx.path());
    spec.dockerfile = PathBuf::from("scratch.Dockerfile");
    let built = daemonless::build(&spec, &NoBaseImages, &mut |_| {}).unwrap();
    // COPY app, COPY config/, WORKDIR /work (a new directory): three layers.
    assert_eq!(built.image.layers.len(), 3);
    let work = layer_tree(&built.image.layers[2].data);
    assert_eq!(work.get("work"), Some(&('d', 0o755, 0, 0, String::new())));
    let etc = layer_tree(&built.image.layers[1].data);
    assert!(etc.contains_key("etc/example/settings.conf") && etc.contains_key("etc") && !etc.contains_key("etc/example/config"));

    let cases = [
        ("FROM busybox\n", "Dockerfile:1: FROM busybox: pulling docker.io/library/busybox:latest"),
        ("FROM scratch\nCOPY secret/token /t\n", "Dockerfile:2: COPY secret/token /t: secret/token: not found (the file is missing from the context or excluded by .dockerignore)"),
        ("FROM scratch\nCOPY ../x /x\n", "forbidden path outside the build context"),
        ("FROM scratch\nCOPY *.nothing /x/\n", "Dockerfile:2: COPY *.nothing /x/: no source files were specified"),
        ("FROM scratch\nCOPY README.txt NOTES.txt /docs\n", "the destination must be a directory and end with a /"),
        ("FROM scratch\nCOPY --chown=app README.txt /r\n", "no user \"app\" in the image's /etc/passwd (use a numeric uid:gid"),
        ("FROM scratch\nADD https://example.com/x.tgz /x\n", "ADD of a URL (https://example.com/x.tgz) is not done by the daemonless builder"),
        ("FROM scratch\nCOPY --from=later README.txt /r\nFROM scratch AS later\n", "names a stage that is not built before this one"),
        ("FROM scratch\nCOPY --chmod=rwx README.txt /r\n", "--chmod=rwx is not an octal mode"),
        ("FROM scratch\nEXPOSE 80/tcpx\n", "invalid port"),
        ("FROM scratch\nCOPPY a b\n", "Dockerfile:2: unknown instruction: COPPY (did you mean COPY?)"),
    ];
    for (text, want) in cases {
        std::fs::write(ctx.path().join("Bad.Dockerfile"), text).unwrap();
        let mut spec = DaemonlessBuild::new(ctx.path());
        spec.dockerfile = PathBuf::from("Bad.Dockerfile");
        let shown = daemonless::build(&spec, &NoBaseImages, &mut |_| {}).unwrap_err().to_string();
        let want = want.replace("Dockerfile:", "Bad.Dockerfile:");
        assert!(shown.contains(&want), "{text:?}\n  gave {shown}\n  want {want}");
    }
}

#[test]
fn copy_chmod_wildcards_and_stages_from_scratch() {
    let ctx = example_context(std::time::SystemTime::now());
    std::fs::write(
        ctx.path().join("More.Dockerfile"),
        "FROM scratch AS one\nCOPY --chmod=600 app/lib /lib/\nCOPY app/ma*.sh app/static/*.html /bin/\n\
         FROM scratch\nCOPY --from=one --chown=7:8 /bin/main.sh /usr/local/bin/main\nCOPY --from=0 /lib /opt/lib\n",
    )
    .unwrap();
    let mut spec = DaemonlessBuild::new(ctx.path());
    spec.dockerfile = PathBuf::from("More.Dockerfile");
    spec.target = None;
    let built = daemonless::build(&spec, &NoBaseImages, &mut |_| {}).unwrap();
    let first = layer_tree(&built.image.layers[0].data);
    // A file to a new path: the parents are made for the --chown identity, as docker makes them.
    let main = &first["usr/local/bin/main"];
    assert_eq!((main.1, main.2, main.3), (0o755, 7, 8));
    assert_eq!((first["usr"].2, first["usr/local/bin"].3), (7, 8));
    let second = layer_tree(&built.image.layers[1].data);
    assert_eq!(second["opt/lib/util.sh"].1, 0o600);
    spec.target = Some("one".into());
    let one = daemonless::build(&spec, &NoBaseImages, &mut |_| {}).unwrap();
    let bins = layer_tree(&one.image.layers[1].data);
    assert!(bins.contains_key("bin/main.sh") && bins.contains_key("bin/index.html"));
    spec.target = Some("nope".into());
    let e = daemonless::build(&spec, &NoBaseImages, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("target stage \"nope\" could not be found (the stages are: one, 1)"), "{e}");
}

/// The image `docker save` wrote for `tag`, with its layers' trees.
fn saved(engine: &Dockerd, tag: &str) -> Image {
    let out = engine.cli().args(["save", tag]).output().unwrap();
    assert!(out.status.success(), "docker save {tag}: {}", String::from_utf8_lossy(&out.stderr));
    daemonless::image_from_docker_archive(&out.stdout, Some(tag)).unwrap()
}

/// Builds `ctx` with `docker build` and with the daemonless builder (FROM
/// the base image the engine holds) and asserts the configs and the file
/// trees of the new layers agree.
fn agree(engine: &Dockerd, busybox: &str, ctx: &Path, tag: &str, target: Option<&str>, build_args: &[(&str, &str)]) {
    let ctx_path = ctx.to_string_lossy().into_owned();
    let arg_strings: Vec<String> = build_args.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut args = vec!["build", "--network", "none", "-q", "-t", tag];
    for a in &arg_strings {
        args.extend(["--build-arg", a.as_str()]);
    }
    if let Some(t) = target {
        args.extend(["--target", t]);
    }
    args.push(&ctx_path);
    engine.docker(&args);
    let theirs = saved(engine, tag);

    let mut bases = MemoryBases::new();
    bases.insert(busybox, saved(engine, busybox)).unwrap();
    let (ours, _) = build_at(ctx, "Dockerfile", &bases, |s| {
        for (k, v) in build_args {
            s.build_args.insert(k.to_string(), v.to_string());
        }
        s.target = target.map(String::from);
    });
    let ours = ours.unwrap().image;

    let (tc, oc) = (theirs.config().unwrap().config.unwrap(), ours.config().unwrap().config.unwrap());
    assert_eq!(oc.env, tc.env, "{tag}: Env");
    assert_eq!(oc.entrypoint, tc.entrypoint, "{tag}: Entrypoint");
    assert_eq!(oc.cmd, tc.cmd, "{tag}: Cmd");
    assert_eq!(oc.working_dir, tc.working_dir, "{tag}: WorkingDir");
    assert_eq!(oc.user.unwrap_or_default(), tc.user.unwrap_or_default(), "{tag}: User");
    assert_eq!(oc.exposed_ports, tc.exposed_ports, "{tag}: ExposedPorts");
    assert_eq!(oc.labels, tc.labels, "{tag}: Labels");
    assert_eq!(oc.volumes, tc.volumes, "{tag}: Volumes");
    assert_eq!(oc.stop_signal, tc.stop_signal, "{tag}: StopSignal");
    let null = serde_json::Value::Null;
    for key in ["Shell", "Healthcheck", "OnBuild"] {
        let (o, t) = (oc.other.get(key).unwrap_or(&null), tc.other.get(key).unwrap_or(&null));
        assert_eq!(o, t, "{tag}: {key}");
    }

    // The layers past the base: the same files, types, modes, owners, contents and links.
    // (docker's classic builder also commits an empty layer for a WORKDIR that exists.)
    let (t, o) = (new_layer_trees(&theirs, 1), new_layer_trees(&ours, 1));
    assert_eq!(o.len(), t.len(), "{tag}: layer count\n ours {o:#?}\n theirs {t:#?}");
    for (i, (o, t)) in o.iter().zip(&t).enumerate() {
        assert_eq!(o, t, "{tag}: layer {} differs", i + 1);
    }
}

#[test]
fn docker_build_and_the_daemonless_build_agree_on_config_and_files() {
    let Some(engine) = Dockerd::start() else { return };
    let busybox = engine.busybox_image();
    let ctx = example_context(std::time::SystemTime::now());
    agree(&engine, &busybox, ctx.path(), "gantry-test/example:base", Some("base"), &[("VERSION", "1.2.3")]);
    agree(&engine, &busybox, ctx.path(), "gantry-test/example:final", None, &[("VERSION", "1.2.3")]);
    // Context::tar sends what the CLI sends for the directory: the same image.
    let tar = gantry_registry::context::Context::open(ctx.path()).unwrap().tar(&["Dockerfile", ".dockerignore"]).unwrap();
    let mut child = engine
        .cli()
        .args(["build", "--network", "none", "-q", "--build-arg", "VERSION=1.2.3", "-t", "gantry-test/example:from-tar", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &tar).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "docker build - (our context tar): {}", String::from_utf8_lossy(&out.stderr));
    let (from_tar, from_dir) = (saved(&engine, "gantry-test/example:from-tar"), saved(&engine, "gantry-test/example:final"));
    assert_eq!(new_layer_trees(&from_tar, 1), new_layer_trees(&from_dir, 1), "the context tar and the CLI's context give different files");
    // The corners of the syntax: escape directive, quotes, substitutions, continuations.
    agree(&engine, &busybox, Path::new(TRICKY), "gantry-test/tricky:1", None, &[]);
    agree(&engine, &busybox, Path::new(TRICKY), "gantry-test/tricky:2", None, &[("NAME", "gantry"), ("PORT", "81")]);
    agree(&engine, &busybox, Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/images/onbuild")), "gantry-test/onbuild:1", None, &[]);
}

#[test]
fn the_tricky_dockerfile_expands_as_buildkits_lexer_does() {
    let text = std::fs::read_to_string(Path::new(TRICKY).join("Dockerfile")).unwrap();
    let df = dockerfile::parse(&text).unwrap();
    assert_eq!(df.directives.escape, '`');
    assert_eq!(df.warnings.len(), 1, "the empty continuation line is warned about");
    let label = df.instructions().find(|i| i.keyword() == "LABEL").unwrap();
    assert_eq!((label.line, label.end_line), (19, 21));

    let (built, events) = build_at(Path::new(TRICKY), "Dockerfile", &busybox_base(), |s| {
        s.build_args.insert("PORT".into(), "81".into());
    });
    let config = built.unwrap().image.config().unwrap();
    let rc = config.config.unwrap();
    let env = rc.env.unwrap();
    assert_eq!(
        env,
        [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "GREETING=hello world",
            "QUOTED=single $NAME stays",
            "ESCAPED=$NAME",
            "DEFAULTED=fallback",
            "ALT=set",
            "ALT_EMPTY=",
            "BRACED=worlds",
            "WINPATH=C:\\dir\\file",
            "LEGACY=value with  quoted spaces",
        ]
    );
    let labels = rc.labels.unwrap();
    assert_eq!(labels.get("com.example.key with space").map(String::as_str), Some("v 1"));
    assert_eq!(labels.get("joined").map(String::as_str), Some("ab"));
    // PORT is a build arg of the meta scope only: the stage never declared it.
    assert_eq!(rc.exposed_ports.unwrap().keys().cloned().collect::<Vec<_>>(), ["8080/tcp", "9000/udp", "9001/udp"]);
    assert_eq!(rc.working_dir.as_deref(), Some("/srv/app/final"));
    assert_eq!(rc.user.as_deref(), Some("world:1000"));
    assert_eq!(rc.entrypoint.unwrap(), ["/bin/sh", "-ec", "echo \"$GREETING\""]);
    assert_eq!(rc.cmd.unwrap(), ["a", "b c"]);
    assert_eq!(rc.other["Healthcheck"], serde_json::json!({"Test": ["CMD-SHELL", "echo ok"], "Interval": 5_000_000_000i64, "Timeout": 2_000_000_000i64, "Retries": 2}));
    assert_eq!(rc.other["OnBuild"], serde_json::json!(["COPY . /onbuild"]));
    // PORT is declared before FROM, so it is not unused: the only warning is the parser's.
    let warnings: Vec<&BuildEvent> = events.iter().filter(|e| matches!(e, BuildEvent::Warning { .. })).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(matches!(warnings[0], BuildEvent::Warning { line: Some(10), message } if message.starts_with("Dockerfile:10: empty continuation line")), "{warnings:?}");
}

#[test]
fn onbuild_triggers_of_the_base_run_at_from_and_are_dropped() {
    let ctx = example_context(std::time::SystemTime::now());
    std::fs::write(ctx.path().join("Onbuild.Dockerfile"), "FROM scratch AS parent\nONBUILD COPY README.txt /onbuild/\nONBUILD ENV TRIGGERED=yes\nFROM parent\nCMD [\"x\"]\n").unwrap();
    let mut spec = DaemonlessBuild::new(ctx.path());
    spec.dockerfile = PathBuf::from("Onbuild.Dockerfile");
    let built = daemonless::build(&spec, &NoBaseImages, &mut |_| {}).unwrap();
    let rc = built.image.config().unwrap().config.unwrap();
    assert!(rc.env.unwrap().contains(&"TRIGGERED=yes".to_string()));
    assert!(!rc.other.contains_key("OnBuild"), "triggers are not inherited twice");
    assert!(layer_tree(&built.image.layers[0].data).contains_key("onbuild/README.txt"));
    spec.target = Some("parent".into());
    let parent = daemonless::build(&spec, &NoBaseImages, &mut |_| {}).unwrap();
    assert_eq!(parent.image.config().unwrap().config.unwrap().other["OnBuild"], serde_json::json!(["COPY README.txt /onbuild/", "ENV TRIGGERED=yes"]));
    assert!(parent.image.layers.is_empty());
}
