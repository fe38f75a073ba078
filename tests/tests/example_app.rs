//! The request's FastAPI app (`examples/fastapi-app/app`) really serving:
//! uvicorn on a free 127.0.0.1 port, started from the example's directory
//! as its Dockerfile starts it, asked over plain HTTP. `/health` answers
//! `{"status":"ok"}`; `/metrics` counts the requests by route template,
//! method and status in the names the canary analysis queries
//! (`http_requests_total`, `http_request_duration_seconds`), and not its
//! own scrapes. Needs python3 with fastapi, uvicorn and prometheus_client
//! (`GANTRY_PYTHON3`, else /usr/bin/python3): missing, the test fails when
//! `CI` is set and is skipped with a message otherwise. The server is
//! killed (by its pid) when the test ends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn python() -> String {
    std::env::var("GANTRY_PYTHON3").unwrap_or_else(|_| "/usr/bin/python3".into())
}

/// The python to run the app with, or None (skipped locally, a failure under CI).
fn app_python() -> Option<String> {
    let python = python();
    let ok = Command::new(&python).args(["-c", "import fastapi, uvicorn, prometheus_client"]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    let why = format!("{python} cannot import fastapi, uvicorn and prometheus_client (apt-get install python3-fastapi python3-uvicorn python3-prometheus-client, or set GANTRY_PYTHON3)");
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("skipped: {why}");
    None
}

/// The uvicorn process; killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path` over HTTP/1.0: (status, content type, body).
fn get(port: u16, path: &str) -> std::io::Result<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let content_type = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_string())).unwrap_or_default();
    Ok((status, content_type, body.to_string()))
}

#[test]
fn the_example_app_answers_health_and_counts_requests_for_prometheus() {
    let Some(python) = app_python() else { return };
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fastapi-app");
    let child = Command::new(python)
        .args(["-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", &port.to_string(), "--no-access-log"])
        .current_dir(&dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("uvicorn starts");
    let mut server = Server(child);

    // Up when it answers (or gone when it exited).
    let mut health = None;
    for _ in 0..300 {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("uvicorn exited with {status} before answering");
        }
        if let Ok(answer) = get(port, "/health") {
            health = Some(answer);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, content_type, body) = health.expect("uvicorn answers /health");
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap(), serde_json::json!({"status": "ok"}));
    assert_eq!(get(port, "/health").unwrap().0, 200);
    assert_eq!(get(port, "/no-such-page").unwrap().0, 404);
    let _ = get(port, "/metrics").unwrap();

    let (status, content_type, metrics) = get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    for line in [
        r#"http_requests_total{handler="/health",method="GET",status="200"} 2.0"#,
        r#"http_requests_total{handler="unmatched",method="GET",status="404"} 1.0"#,
        r#"http_request_duration_seconds_count{handler="/health",method="GET"} 2.0"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in:\n{metrics}");
    }
    assert!(metrics.contains(r#"http_request_duration_seconds_bucket{handler="/health",le="0.1",method="GET"}"#), "{metrics}");
    assert!(!metrics.contains(r#"handler="/metrics""#), "scrapes are not counted:\n{metrics}");
    drop(server);
}
