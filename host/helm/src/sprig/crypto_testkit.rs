//! Test helpers for the crypto, encoding, random and date families: calling
//! a registered function without a template engine, and asking the oracle
//! (real Helm through helm-python-sdk) what Go renders. Tests only; it must
//! not grow into a second template engine.
//!
//! Finding the oracle (and failing under `CI` when it is missing) is
//! crate::oracle's.

use std::process::Command;

use crate::func::{Call, FuncError, FuncResult, Host};
use crate::value::Value;

struct NoHost;

impl Host for NoHost {
    fn execute_named(&mut self, name: &str, _: &Value) -> Result<String, FuncError> {
        Err(FuncError::call(format!("no template {name} in these tests")))
    }
    fn execute_text(&mut self, _: &str, _: &Value) -> Result<String, FuncError> {
        Err(FuncError::call("no templates in these tests"))
    }
}

/// Calls Sprig's `name` with `args`.
pub fn try_call(name: &str, args: &[Value]) -> FuncResult {
    let funcs = crate::sprig::funcs();
    let f = funcs.get(name).unwrap_or_else(|| panic!("{name} is not registered"));
    let mut host = NoHost;
    let mut call = Call { name, host: &mut host };
    f(&mut call, args)
}

/// Calls Sprig's `name` with `args`, which must succeed.
pub fn call(name: &str, args: &[Value]) -> Value {
    try_call(name, args).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const RENDER: &str = r#"
import json, sys, os
import helm_python as helm
d, values = sys.argv[1], json.loads(sys.argv[2])
try:
    with helm.Chart.load(d) as ch:
        r = ch.render(values=values, name="r", namespace="default", is_install=True)
    print(json.dumps({"ok": r["c/templates/t.yaml"]}))
except Exception as e:
    print(json.dumps({"err": str(e)}))
"#;

/// What Helm renders for `template` (the chart's only template) with
/// `values`, with extra environment variables (`TZ`) for the oracle:
/// Ok(output) or Err(Helm's message). None when the oracle is missing
/// outside CI.
pub fn oracle_env(template: &str, values: serde_json::Value, env: &[(&str, &str)]) -> Option<Result<String, String>> {
    let python = crate::oracle::python()?;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("templates")).expect("templates dir");
    std::fs::write(dir.path().join("Chart.yaml"), "apiVersion: v2\nname: c\nversion: 0.1.0\n").expect("Chart.yaml");
    std::fs::write(dir.path().join("templates/t.yaml"), template).expect("template");
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(RENDER).arg(dir.path()).arg(values.to_string());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the oracle");
    assert!(out.status.success(), "oracle failed: {}", String::from_utf8_lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("oracle answer");
    Some(match (answer.get("ok"), answer.get("err")) {
        (Some(serde_json::Value::String(s)), _) => Ok(s.clone()),
        (_, Some(serde_json::Value::String(e))) => Err(e.clone()),
        _ => panic!("odd oracle answer {answer}"),
    })
}

const RENDER_MANY: &str = r#"
import json, sys, os
import helm_python as helm
base, templates = sys.argv[1], json.load(sys.stdin)
out = []
for i, t in enumerate(templates):
    d = os.path.join(base, str(i))
    os.makedirs(os.path.join(d, "templates"))
    open(os.path.join(d, "Chart.yaml"), "w").write("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    open(os.path.join(d, "templates", "t.yaml"), "w").write(t)
    try:
        with helm.Chart.load(d) as ch:
            r = ch.render(values={}, name="r", namespace="default", is_install=True)
        out.append({"ok": r["c/templates/t.yaml"]})
    except Exception as e:
        out.append({"err": str(e)})
print(json.dumps(out))
"#;

/// What Helm renders for each of `templates` (each a chart's only
/// template, no values), in one oracle run. None when the oracle is missing
/// outside CI.
pub fn oracle_each(templates: &[String]) -> Option<Vec<Result<String, String>>> {
    use std::io::Write as _;
    let python = crate::oracle::python()?;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(python)
        .arg("-c")
        .arg(RENDER_MANY)
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the oracle");
    let input = serde_json::to_vec(templates).expect("templates as JSON");
    child.stdin.take().expect("stdin").write_all(&input).expect("feed the oracle");
    let out = child.wait_with_output().expect("oracle output");
    assert!(out.status.success(), "oracle failed: {}", String::from_utf8_lossy(&out.stderr));
    let answers: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("oracle answers");
    Some(
        answers
            .into_iter()
            .map(|a| match (a.get("ok"), a.get("err")) {
                (Some(serde_json::Value::String(s)), _) => Ok(s.clone()),
                (_, Some(serde_json::Value::String(e))) => Err(e.clone()),
                _ => panic!("odd oracle answer {a}"),
            })
            .collect(),
    )
}

/// What Helm renders for `template`, which must succeed.
pub fn oracle(template: &str, values: serde_json::Value) -> Option<String> {
    oracle_env(template, values, &[]).map(|r| r.unwrap_or_else(|e| panic!("Helm failed: {e}")))
}

/// Helm's output as lines (the template writes one answer a line).
pub fn oracle_lines(template: &str, values: serde_json::Value) -> Option<Vec<String>> {
    oracle(template, values).map(|s| s.lines().map(str::to_string).collect())
}
