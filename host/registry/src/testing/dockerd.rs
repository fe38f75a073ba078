//! A real Docker engine for tests: `dockerd` started as a child on a unix
//! socket under its own temporary directory (data root, exec root, pid file,
//! log), with no bridge and no iptables rules, so it touches nothing of the
//! machine's and listens on no network. overlay2 is tried first and vfs when
//! the kernel refuses overlay2. Dropping a [`Dockerd`] stops it (SIGTERM to
//! its pid, then waits), unmounts whatever it left mounted under its
//! directory and removes the directory. Also a tiny base image made without
//! the internet ([`Dockerd::busybox_image`]). Tests only: it must not be
//! reachable from the binary, and never starts or stops the packaged daemon.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::missing;

/// The tag [`Dockerd::busybox_image`] gives the base image it imports.
pub const BUSYBOX: &str = "gantry-test/busybox:1";

/// How long dockerd may take to answer `/_ping` (it usually takes well under a second).
const START_DEADLINE: Duration = Duration::from_secs(90);
/// How long dockerd may take to stop after SIGTERM before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// A running dockerd, stopped and cleaned up on drop.
pub struct Dockerd {
    dir: PathBuf,
    child: Option<Child>,
    driver: &'static str,
}

impl Dockerd {
    /// Starts dockerd under a fresh temporary directory and waits until it
    /// answers `/_ping`. `None` (with a message) when dockerd or the docker
    /// CLI is missing or the test does not run as root; under `CI` that
    /// fails the test instead. A dockerd that is there but will not start
    /// fails the test with its log.
    pub fn start() -> Option<Dockerd> {
        let Some(dockerd) = find_program("GANTRY_DOCKERD", "dockerd") else {
            missing("dockerd (the Docker engine)", "apt-get install docker.io, or set GANTRY_DOCKERD to the dockerd binary");
            return None;
        };
        if find_program("GANTRY_DOCKER_CLI", "docker").is_none() {
            missing("the docker CLI", "apt-get install docker.io, or set GANTRY_DOCKER_CLI to the docker binary");
            return None;
        }
        if !running_as_root() {
            missing("root (dockerd must run as root)", "run the tests as root, as CI does");
            return None;
        }
        let mut refused = String::new();
        for driver in ["overlay2", "vfs"] {
            let dir = fresh_dir();
            match launch(&dockerd, &dir, driver) {
                Ok(d) => return Some(d),
                Err((log, driver_refused)) => {
                    if driver_refused && driver == "overlay2" {
                        refused = log;
                        continue;
                    }
                    panic!("dockerd ({}) did not start with --storage-driver={driver}{}\n--- its log:\n{log}", dockerd.display(), if refused.is_empty() { String::new() } else { format!(" (overlay2 was refused too:\n{refused})") });
                }
            }
        }
        unreachable!("the vfs attempt either returns or panics")
    }

    /// `unix:///…/docker.sock`: what `DOCKER_HOST` is set to for this engine.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// The directory everything of this engine lives under.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `overlay2`, or `vfs` when overlay2 was refused.
    pub fn storage_driver(&self) -> &str {
        self.driver
    }

    /// The pid of dockerd while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// dockerd's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    /// The docker CLI pointed at this engine (`DOCKER_HOST`), with a config
    /// directory of its own (`DOCKER_CONFIG`), so the user's is never read.
    pub fn cli(&self) -> Command {
        // Invariant: start() returned only after finding the CLI.
        let docker = find_program("GANTRY_DOCKER_CLI", "docker").expect("the docker CLI was found when the engine started");
        let mut cmd = Command::new(docker);
        cmd.env("DOCKER_HOST", self.host()).env("DOCKER_CONFIG", self.dir.join("cli-config")).env("DOCKER_BUILDKIT", "0").env_remove("DOCKER_CONTEXT").env_remove("DOCKER_TLS_VERIFY").env_remove("DOCKER_CERT_PATH");
        cmd
    }

    /// Runs `docker ARGS` against this engine and returns its stdout; panics
    /// with stderr when it fails.
    pub fn docker(&self, args: &[&str]) -> String {
        let out = self.cli().args(args).output().unwrap_or_else(|e| panic!("docker {args:?}: {e}"));
        assert!(out.status.success(), "docker {args:?} failed ({}):\n{}\n--- dockerd log tail:\n{}", out.status, String::from_utf8_lossy(&out.stderr), tail(&self.log(), 20));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Imports [`busybox_rootfs_tar`] as [`BUSYBOX`] (once per engine) and
    /// returns the tag: a base image for `FROM` with a shell and the usual
    /// commands, made without the internet.
    pub fn busybox_image(&self) -> String {
        let present = self.cli().args(["image", "inspect", BUSYBOX]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
        if present {
            return BUSYBOX.to_string();
        }
        let tar = busybox_rootfs_tar();
        let mut child = self.cli().args(["import", "-", BUSYBOX]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("docker import starts");
        // Invariant: stdin was piped just above.
        child.stdin.take().expect("piped stdin").write_all(&tar).expect("docker import reads the rootfs");
        let out = child.wait_with_output().expect("docker import ends");
        assert!(out.status.success(), "docker import of the busybox rootfs failed: {}", String::from_utf8_lossy(&out.stderr));
        BUSYBOX.to_string()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child);
        }
        // containerd is dockerd's child; dockerd stops it, unless dockerd was
        // killed: then it is ended by the pid it recorded, if it is still ours.
        kill_if_ours(&self.dir.join("exec/containerd/containerd.pid"), &self.dir);
        unmount_under(&self.dir);
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("could not remove the test engine's directory {}: {e}", self.dir.display());
        }
    }
}

/// A tar of a root filesystem holding `/bin/busybox` (static, from the host's
/// busybox-static) and a symlink per applet it lists, plus `/tmp`, `/etc`
/// and `/root`. Deterministic: fixed times and owners.
pub fn busybox_rootfs_tar() -> Vec<u8> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"].into_iter().map(Path::new).find(|p| p.exists());
    let Some(busybox) = busybox else {
        panic!("/bin/busybox is missing: apt-get install busybox-static");
    };
    let binary = std::fs::read(busybox).expect("busybox is readable");
    let list = Command::new(busybox).arg("--list").output().expect("busybox --list runs");
    let mut applets: Vec<String> = String::from_utf8_lossy(&list.stdout).lines().map(str::trim).filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/')).map(String::from).collect();
    applets.sort();
    applets.dedup();
    let mut tar = tar::Builder::new(Vec::new());
    let dir = |tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        h.set_mtime(0);
        tar.append_data(&mut h, path, std::io::empty()).expect("a tar in memory");
    };
    dir(&mut tar, "bin/", 0o755);
    dir(&mut tar, "etc/", 0o755);
    dir(&mut tar, "root/", 0o700);
    dir(&mut tar, "tmp/", 0o1777);
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(binary.len() as u64);
    h.set_mtime(0);
    tar.append_data(&mut h, "bin/busybox", binary.as_slice()).expect("a tar in memory");
    for applet in &applets {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        h.set_mtime(0);
        tar.append_link(&mut h, format!("bin/{applet}"), "busybox").expect("a tar in memory");
    }
    let mut h = tar::Header::new_gnu();
    let passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n";
    h.set_mode(0o644);
    h.set_size(passwd.len() as u64);
    h.set_mtime(0);
    tar.append_data(&mut h, "etc/passwd", &passwd[..]).expect("a tar in memory");
    tar.into_inner().expect("a tar in memory")
}

fn launch(dockerd: &Path, dir: &Path, driver: &'static str) -> Result<Dockerd, (String, bool)> {
    let log_path = dir.join("dockerd.log");
    let log = std::fs::File::create(&log_path).map_err(|e| (format!("cannot create {}: {e}", log_path.display()), false))?;
    let err_log = log.try_clone().map_err(|e| (e.to_string(), false))?;
    // Its own (empty) daemon.json, so the machine's /etc/docker/daemon.json is never read.
    std::fs::write(dir.join("daemon.json"), "{}").map_err(|e| (format!("cannot write daemon.json: {e}"), false))?;
    let child = Command::new(dockerd)
        .arg(format!("--storage-driver={driver}"))
        .args(["--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-forward=false", "--ip-masq=false"])
        .arg(format!("--data-root={}", dir.join("root").display()))
        .arg(format!("--exec-root={}", dir.join("exec").display()))
        .arg(format!("--host=unix://{}", dir.join("docker.sock").display()))
        .arg(format!("--pidfile={}", dir.join("dockerd.pid").display()))
        .arg(format!("--config-file={}", dir.join("daemon.json").display()))
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(dir);
            return Err((format!("cannot run {}: {e}", dockerd.display()), false));
        }
    };
    let mut engine = Dockerd { dir: dir.to_path_buf(), child: Some(child), driver };
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if ping(&engine.socket()) {
            return Ok(engine);
        }
        // Invariant: the child is only taken in drop.
        let exited = engine.child.as_mut().expect("the child until drop").try_wait().ok().flatten();
        if let Some(status) = exited {
            let log = format!("{}(dockerd exited: {status})", engine.log());
            let refused = log.contains("overlay") && (log.contains("not supported") || log.contains("error initializing graphdriver") || log.contains("driver not supported"));
            drop(engine);
            return Err((log, refused));
        }
        if Instant::now() > deadline {
            let log = engine.log();
            drop(engine);
            return Err((format!("{log}(no answer on /_ping within {START_DEADLINE:?})"), false));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `GET /_ping` on the socket answers 200.
fn ping(socket: &Path) -> bool {
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(socket) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

fn stop(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    let deadline = Instant::now() + STOP_DEADLINE;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("dockerd (pid {}) did not stop within {STOP_DEADLINE:?} of SIGTERM: killing it", child.id());
    let _ = child.kill();
    let _ = child.wait();
}

/// SIGKILL to the pid in `pid_file` if that process still runs with `dir` in its command line.
fn kill_if_ours(pid_file: &Path, dir: &Path) {
    let Some(pid) = std::fs::read_to_string(pid_file).ok().and_then(|p| p.trim().parse::<u32>().ok()) else { return };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy()) {
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
}

/// The mount points at or under `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")))
        .filter(|p| p.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

fn unmount_under(dir: &Path) {
    for mount in mounts_under(dir) {
        let ok = Command::new("umount").arg("--lazy").arg(&mount).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
        if !ok {
            eprintln!("could not unmount {} left by the test engine", mount.display());
        }
    }
}

fn fresh_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // A short path: the socket's must fit in sun_path (108 bytes).
    let base = std::env::temp_dir();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("gantry-dockerd-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("cannot create a directory for dockerd under {}: {e}", base.display()),
        }
    }
}

/// `$VAR` if set, else `name` on PATH or in the sbin directories.
fn find_program(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from)).map(|d| d.join(name)).find(|p| p.is_file())
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").ok().and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)).map(|euid| euid == "0")).unwrap_or(false)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
