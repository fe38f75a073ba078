//! YAML and JSON as Helm reads and writes them: values files and
//! `fromYaml` through sigs.k8s.io/yaml (YAML 1.1 scalars as go-yaml v2 reads
//! them, then JSON, so every number is a `float64`), `toYaml` as
//! sigs.k8s.io/yaml marshals (JSON, then go-yaml v2's emitter), `toJson` as
//! encoding/json, `toToml` as BurntSushi/toml. Error messages are Helm's.
//! This module owns the formats only: it must not render templates or load
//! charts (the chart loader and the engine call in here).
//!
//! - [`resolve`]: YAML 1.1 plain scalars (which text is a bool, int, float…).
//! - [`load`]: reading (sigs.k8s.io/yaml `Unmarshal`).
//! - [`json`]: encoding/json.

pub mod json;
mod load;
pub mod resolve;

use std::collections::BTreeMap;

use crate::value::Value;

/// Why YAML could not be read or written: Helm's message, and where in the
/// input (1-based line and column) when the YAML parser knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// The whole message as Helm shows it, e.g. `error converting YAML to
    /// JSON: yaml: line 3: mapping values are not allowed in this context`.
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl YamlError {
    pub(crate) fn new(message: impl Into<String>) -> YamlError {
        YamlError { message: message.into(), line: None, column: None }
    }

    pub(crate) fn at(message: String, line: usize, column: usize) -> YamlError {
        YamlError { message, line: Some(line), column: Some(column) }
    }

    fn prefixed(mut self, prefix: &str) -> YamlError {
        self.message = format!("{prefix}{}", self.message);
        self
    }
}

/// A YAML document as sigs.k8s.io/yaml's `Unmarshal` reads it into
/// `interface{}`: the first document only; maps `map[string]interface{}`
/// with stringified keys, lists `[]interface{}`, numbers `float64`, an empty
/// document nil.
pub fn parse(text: &str) -> Result<Value, YamlError> {
    load::yaml_to_value(text).map_err(|e| e.prefixed("error converting YAML to JSON: "))
}

/// A YAML document read into `map[string]interface{}`, as Helm reads
/// values files and `fromYaml` does: a null or empty document is an empty
/// map; a list or scalar is encoding/json's type error.
pub fn parse_map(text: &str) -> Result<BTreeMap<String, Value>, YamlError> {
    match parse(text)? {
        Value::Nil => Ok(BTreeMap::new()),
        Value::Map(m) => Ok((*m.entries).clone()),
        other => Err(YamlError::new(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(&other)
        ))),
    }
}

/// A YAML document read into `[]interface{}`, as `fromYamlArray` does.
pub fn parse_list(text: &str) -> Result<Vec<Value>, YamlError> {
    match parse(text)? {
        Value::Nil => Ok(Vec::new()),
        Value::List(l) => Ok((*l.items).clone()),
        other => Err(YamlError::new(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
            json_kind(&other)
        ))),
    }
}

/// Every document of a multi-document stream, each read as [`parse`] reads one.
pub fn parse_all(text: &str) -> Result<Vec<Value>, YamlError> {
    load::yaml_to_values(text).map_err(|e| e.prefixed("error converting YAML to JSON: "))
}

/// encoding/json's name for what a JSON value is, in its type errors.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Nil => "null",
        Value::Bool(_) => "bool",
        Value::Int(..) | Value::Float(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "array",
        _ => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(text: &str) -> String {
        match parse(text) {
            Ok(v) => json::marshal(&v).unwrap(),
            Err(e) => format!("ERR {e}"),
        }
    }

    #[test]
    fn yaml_1_1_values_become_json() {
        assert_eq!(
            j("a: yes\nb: 0777\nc: 1_000\ne: 2001-12-14\n1: x\ntrue: t\n1.5: f\n0o17: o\n0x1F: h\n1e3: e"),
            r#"{"1":"x","1.5":"f","1000":"e","15":"o","31":"h","a":true,"b":511,"c":1000,"e":"2001-12-14","true":"t"}"#
        );
    }

    #[test]
    fn anchors_and_merges() {
        assert_eq!(j("a: &x {p: 1, q: 2}\nb:\n  <<: *x\n  q: 3\nc:\n  q: 4\n  <<: *x"), r#"{"a":{"p":1,"q":2},"b":{"p":1,"q":3},"c":{"p":1,"q":2}}"#);
        assert_eq!(j("a: *nope"), "ERR error converting YAML to JSON: yaml: unknown anchor 'nope' referenced");
        assert_eq!(j("<<: 1"), "ERR error converting YAML to JSON: yaml: map merge requires map or sequence of maps as the value");
    }

    #[test]
    fn errors_in_gos_words() {
        assert_eq!(j("a: .inf"), "ERR error converting YAML to JSON: json: unsupported value: +Inf");
        assert_eq!(j("a: b: c"), "ERR error converting YAML to JSON: yaml: mapping values are not allowed in this context");
        let e = parse("a:\n  b: 1\n c: d: e").unwrap_err();
        assert_eq!(e.line, Some(3));
    }

    #[test]
    fn maps_and_lists() {
        assert!(parse_map("").unwrap().is_empty());
        assert_eq!(
            parse_map("- a").unwrap_err().message,
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!(parse_list("- a\n- 1").unwrap().len(), 2);
        assert_eq!(parse_all("a: 1\n---\nb: 2\n").unwrap().len(), 2);
    }
}

#[cfg(test)]
mod oracle;

#[cfg(test)]
mod differential {
    use super::*;

    /// Helm's `fromYaml` result as `toJson` prints it, computed here.
    fn from_yaml_json(text: &str) -> String {
        let m = match parse_map(text) {
            Ok(m) => Value::map(m),
            Err(e) => Value::map(BTreeMap::from([("Error".to_string(), Value::from(e.message))])),
        };
        json::marshal(&m).unwrap_or_default()
    }

    pub(super) fn compare(cases: &[&str]) {
        let templates: Vec<String> = (0..cases.len()).map(|i| format!("{{{{ fromYaml (index .Values.c {i}) | toJson }}}}")).collect();
        let Some(want) = oracle::render(&templates, serde_json::json!({ "c": cases })) else { return };
        let mut bad = Vec::new();
        for (case, want) in cases.iter().zip(want) {
            let got = from_yaml_json(case);
            let want = want.unwrap_or_else(|e| format!("RENDER ERROR {e}"));
            if got != want {
                bad.push(format!("case {case:?}\n  helm: {want}\n  ours: {got}"));
            }
        }
        assert!(bad.is_empty(), "{} of {} differ:\n{}", bad.len(), cases.len(), bad.join("\n"));
    }

    // Known differences (yaml-rust2's scanner): Helm reads `a:\tb` as
    // {a: b} where we fail, and fails on a tab indenting `\ta: b` where we
    // read it.

    #[test]
    fn from_yaml_matches_helm() {
        compare(&[
            "a: yes\nb: 0777\nc: 1_000\ne: 2001-12-14\n1: x\ntrue: t\n1.5: f\n0o17: o\n0x1F: h\n1e3: e",
            "y: n",
            "a: 08\nb: 1e400\nc: .5\nd: 1.\ne: +12\nf: 0b101\ng: -0b101\nh: 18446744073709551615\ni: 9223372036854775808\nj: _1\nk: 1:20\nl: 0x\nm: .e5\nnn: 2001-02-30\no: 12e03\np: 0.1e-3",
            "a: !!str 12\nb: !!int \"12\"\nc: !!float 1\nd: !foo bar\ne: !!binary aGVsbG8=",
            "a: !!int abc",
            "3.14159265358979: x\n-0.0: y\n1e20: z",
            "- a\n- b",
            "hello",
            "",
            "null",
            "~",
            "a: 1\n---\nb: 2",
            "a: 1\na: 2",
            "? [a]\n: x",
            "a: *x",
            "a: &x [*x]",
            "a: b: c",
            "a:\n  b: 1\n c: d",
            "a:\n- b\n  c: d",
            "a: 'x",
            "a: \"x",
            "key: [a, b",
            "key: {a: 1",
            "a: @x",
            "a: `x",
            "- a\nb: c",
            "a:\n  - b\n  c",
            "a: |\n  x\n y",
            "a: [1, 2]]",
            "a: b\n- c",
            "x: \"\\q\"",
            "a: 1\n  b: 2",
            "key: value\n  - item",
        ]);
    }
}
