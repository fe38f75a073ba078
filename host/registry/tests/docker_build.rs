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
    }
}
