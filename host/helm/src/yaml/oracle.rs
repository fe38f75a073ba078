//! Test support: real Helm (helm-python-sdk, Helm 4's Go library) as the
//! oracle. Renders a throwaway chart whose templates each hold one case
//! and returns what Helm printed for each. With `CI` set, a missing oracle
//! fails the test; otherwise the test is skipped with a message.

use std::process::Command;

const SCRIPT: &str = r#"
import sys, json, os
import helm_python as helm
d = sys.argv[1]
req = json.load(open(os.path.join(d, "request.json")))
n = req["n"]
def render(idx):
    tdir = os.path.join(d, "chart", "templates")
    for f in os.listdir(tdir):
        os.remove(os.path.join(tdir, f))
    for i in idx:
        open(os.path.join(tdir, "t%05d.txt" % i), "w").write(req["templates"][i])
    with helm.Chart.load(os.path.join(d, "chart")) as c:
        out = c.render(values=req["values"], name="r", namespace="default", is_install=True)
    return {i: out["c/templates/t%05d.txt" % i] for i in idx}
res = {}
try:
    res = {i: {"ok": v} for i, v in render(list(range(n))).items()}
except Exception:
    for i in range(n):
        try:
            res[i] = {"ok": render([i])[i]}
        except Exception as e:
            res[i] = {"err": str(e)}
json.dump([res[i] for i in range(n)], open(os.path.join(d, "response.json"), "w"))
"#;

/// What Helm renders for each template (Ok) or the error it fails with (Err).
pub fn render(templates: &[String], values: serde_json::Value) -> Option<Vec<Result<String, String>>> {
    let py = crate::oracle::python()?;
    let dir = tempfile::tempdir().expect("temp dir");
    let chart = dir.path().join("chart");
    std::fs::create_dir_all(chart.join("templates")).expect("chart dir");
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: c\nversion: 0.1.0\n").expect("Chart.yaml");
    let req = serde_json::json!({"n": templates.len(), "templates": templates, "values": values});
    std::fs::write(dir.path().join("request.json"), req.to_string()).expect("request");
    let out = Command::new(&py).arg("-c").arg(SCRIPT).arg(dir.path()).output().expect("run the oracle");
    assert!(out.status.success(), "oracle failed: {}", String::from_utf8_lossy(&out.stderr));
    let resp: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(dir.path().join("response.json")).expect("response")).expect("response json");
    Some(
        resp.into_iter()
            .map(|r| match (r.get("ok").and_then(|v| v.as_str()), r.get("err").and_then(|v| v.as_str())) {
                (Some(ok), _) => Ok(ok.to_string()),
                (_, Some(err)) => Err(err.to_string()),
                _ => Err("bad oracle response".into()),
            })
            .collect(),
    )
}
