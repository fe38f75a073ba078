//! Test support: real Helm (Go, through helm-python-sdk) as the oracle the
//! chart and values tests compare with. With `CI` set a missing oracle fails
//! the test; locally it is skipped with a message. It must not be used
//! outside tests.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `script` with `input` as JSON on stdin (the script reads it with
/// `json.load(sys.stdin)` and prints one JSON document); None when skipped.
pub(crate) fn run(script: &str, input: &serde_json::Value) -> Option<serde_json::Value> {
    let py = crate::oracle::python()?;
    let mut child = Command::new(py)
        .arg("-c")
        .arg(script)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the oracle");
    child.stdin.take().expect("stdin").write_all(input.to_string().as_bytes()).expect("write to the oracle");
    let out = child.wait_with_output().expect("oracle output");
    assert!(out.status.success(), "oracle failed: {}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("oracle printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))))
}

/// A value as Go's encoding/json writes it and Python reads it back:
/// integral float64s are integers.
pub(crate) fn to_json(v: &crate::value::Value) -> serde_json::Value {
    use crate::value::Value;
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i, _) => (*i).into(),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                (*f as i64).into()
            } else {
                serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
        }
        Value::String(s) => s.to_string().into(),
        Value::List(l) => l.items().iter().map(to_json).collect::<Vec<_>>().into(),
        Value::Map(m) => serde_json::Value::Object(m.entries().iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        other => format!("{other:?}").into(),
    }
}

/// The same tree with every number as an f64: Go's float64 and int64 both
/// travel as JSON numbers, so only their values can be compared.
pub(crate) fn numbers_as_f64(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::Number(n) => serde_json::Number::from_f64(n.as_f64().unwrap_or(f64::NAN)).map_or(J::Null, J::Number),
        J::Array(a) => J::Array(a.iter().map(numbers_as_f64).collect()),
        J::Object(o) => J::Object(o.iter().map(|(k, v)| (k.clone(), numbers_as_f64(v))).collect()),
        other => other.clone(),
    }
}
