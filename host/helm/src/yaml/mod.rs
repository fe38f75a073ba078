//! YAML and JSON as Helm reads and writes them: values files and
//! `fromYaml` through sigs.k8s.io/yaml (YAML 1.1 scalars as go-yaml v2 reads
//! them, then JSON, so every number is a `float64`), `toYaml` as
//! sigs.k8s.io/yaml marshals (JSON, then go-yaml v2's emitter), `toJson` as
//! encoding/json, `toToml` as BurntSushi/toml. Error messages are Helm's.
//! This module owns the formats only: it must not render templates or load
//! charts (the chart loader and the engine call in here).
//!
//! Reading: [`parse`] (into `interface{}`), [`parse_map`] (values files,
//! `fromYaml`), [`parse_list`] (`fromYamlArray`), [`parse_all`],
//! [`parse_as`] (into a described Go struct, as `Chart.yaml` is read),
//! [`load_values`] (Helm 4's multi-document values files). Writing:
//! [`to_yaml`] (`toYaml`), [`to_yaml_pretty`] (`toYamlPretty`),
//! [`json::marshal`]/[`json::marshal_with`] (`toJson`, `toRawJson`,
//! `toPrettyJson`), [`toml::to_toml`]. Template functions: [`register`].
//!
//! Parts: `resolve` (YAML 1.1 plain scalars: which text is a bool, int,
//! float…), `libyaml` (the parser's events; the module's only `unsafe`),
//! `load` (reading, as sigs.k8s.io/yaml's `Unmarshal`), `target` (typed
//! targets), `docs` (values files), `emit` (writing, as its `Marshal`, and
//! go-yaml v3's layout for `toYamlPretty`), `json` (encoding/json), `toml`
//! (BurntSushi/toml), `deep` (nesting without stack overflows), `funcs`
//! (the template functions).

mod deep;
pub mod docs;
mod emit;
pub mod funcs;
pub mod json;
mod libyaml;
mod load;
pub mod resolve;
pub mod target;
pub mod toml;

pub use docs::{load_values, merge_maps, split_documents};
pub use funcs::register;
pub use target::{parse_as, GoType, StructType};

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
        Value::Map(m) => Ok((*m.entries()).clone()),
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
        Value::List(l) => Ok((*l.items()).clone()),
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

/// sigs.k8s.io/yaml's `Marshal`: the YAML text, ending in a line break as
/// Go's does (Helm's `toYaml` trims it). NaN and ±Inf are errors
/// (`error marshaling into JSON: json: unsupported value: NaN`).
pub fn to_yaml(v: &Value) -> Result<String, YamlError> {
    emit::marshal(v).map_err(|e| YamlError::new(e.0))
}

/// go-yaml v3's encoding with a 2-space indent, as Helm's `toYamlPretty`:
/// sequences indented under their key, no line folding, floats in Go's
/// `%g` form (`1e+06`), no JSON round trip.
pub fn to_yaml_pretty(v: &Value) -> Result<String, YamlError> {
    emit::marshal_pretty(v).map_err(|e| YamlError::new(e.0))
}

/// encoding/json's name for what a JSON value is, in its type errors.
pub(crate) fn json_kind(v: &Value) -> &'static str {
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
        assert_eq!((e.line, e.column), (Some(3), Some(2)));
        let e = parse("a: 1\nb: \u{7f}").unwrap_err();
        assert_eq!((e.message.as_str(), e.line), ("error converting YAML to JSON: yaml: control characters are not allowed", None));
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

    // Known difference: keys that collide once stringified (`1` and `"1"`)
    // keep a random one in Go, the last one here.

    #[test]
    fn from_yaml_syntax_matches_helm() {
        compare(&[
            "# the helm create scaffold's values\nreplicaCount: 1\n\nimage:\n  repository: nginx\n  pullPolicy: IfNotPresent\n  # Overrides the image tag whose default is the chart appVersion.\n  tag: \"\"\n\nimagePullSecrets: []\nnameOverride: \"\"\n\nserviceAccount:\n  create: true\n  automount: true\n  annotations: {}\n  name: \"\"\n\npodAnnotations: {}\npodSecurityContext: {}\n  # fsGroup: 2000\n\nservice:\n  type: ClusterIP\n  port: 80\n\ningress:\n  enabled: false\n  className: \"\"\n  annotations: {}\n    # kubernetes.io/ingress.class: nginx\n  hosts:\n    - host: chart-example.local\n      paths:\n        - path: /\n          pathType: ImplementationSpecific\n  tls: []\n\nresources: {}\nautoscaling:\n  enabled: false\n  minReplicas: 1\n  maxReplicas: 100\n  targetCPUUtilizationPercentage: 80\nnodeSelector: {}\ntolerations: []\naffinity: {}\n",
            "lit: |\n  line1\n   indented\n\n  line3\nkeep: |+\n  a\n\nstrip: |-\n  a\n  b\nfold: >\n  folded\n  text\n\n  para\n   more\nfoldstrip: >-\n  x\n  y\nind: |2\n    two extra\nlast: end\n",
            "plain: a\n  multi\n  line\n\n  para\nsq: 'it''s\n  folded'\ndq: \"esc \\t \\u00e9 \\x41 \\\\ \\\"\n  next \\\n  joined\"\n",
            "flow: {a: 1, b: [x, y, {c: d}], 'e f': \"g\", h: }\nseq: [1, 2.5, -3, true, null, ~, '', \"\"]\nempty: []\n",
            "? complex key\n: value\n? [a, b]\n: listkey\n",
            "%YAML 1.1\n---\na: 1\n...\n",
            "--- !!map\na: !!seq\n- !!str 1\n- !!int '2'\n- !!float '3'\n- !!bool 'yes'\n- !!null ''\n",
            "a: &anc\n  x: 1\nb: *anc\nc: &s scalar\nd: *s\ne: [*s, *anc]\n",
            "base: &base {a: 1, b: 2}\nover: &over {b: 3, c: 4}\nm1:\n  <<: [*base, *over]\nm2:\n  <<: [*over, *base]\n  a: 9\nm3:\n  a: 0\n  <<: {a: 5, z: 6}\n",
            "\"quoted key\": 1\n'single': 2\n? |\n  block key\n: 3\n",
            "a: 1 # comment\nb: \"# not comment\"\nc: x#y\nd: x #y\n",
            "list:\n- a\n-   b\n- - c\n  - d\n- e: f\n  g: h\n-\n- ''\n",
            "unicode: héllo wörld 日本 😀\nkeyé: 1\n",
            "a: 2001-12-14t21:59:43.10-05:00\nb: 2001-12-14 21:59:43.10 -5\nc: 12:30:45\nd: 1:30\ne: 190:20:30.15\n",
            "octal: 0o777\nhex: 0xFF\nbin: 0b1010\nneg: -0x10\nplus: +0o7\nsci: 6.8523015e+5\nsmall: 685.230_15e+03\nsexa: 685_230.15\ninf: -.INF\nbig: 123456789012345678901234567890\n",
            "a: .NaN",
            "a: 1\n# trailing comment only\n",
            "  a: 1\n  b: 2\n",
            "- 1\n- 2\n",
            "---\n",
            "--- |\n  doc scalar\n",
            "a: 'multi\n\n  line'\n",
            "a: \"\\N\\_\\L\\P\\e\\a\\b\\v\\f\\0\\ \\U0001F600\"\n",
            "windows: crlf\r\nnext: line\r\n",
            "\u{feff}bom: 1\nnext: 2\nq: \"a \\/\"\n",
            "a:    \n  - x\nb:\n",
            "a: [\n  1,\n  2\n]\nb: {\n  c: d\n}\n",
            "{a: 1, b: 2}",
            "[a, b]",
            "a: b\u{85}c",
            "a: b\u{7f}",
            "key with spaces: v\n? \n: nullkey\n",
            "1.0: a\n0.5: c\n1e2: d\n",
            "a: !custom {x: 1}\nb: !custom [1]\nc: !<tag:yaml.org,2002:str> 5\n",
            "a: !!binary |\n  aGVsbG8g\n  d29ybGQ=\n",
            "a: !!timestamp 2001-12-14\n",
            "a: !!float abc",
            "a: !!bool maybe",
            "a: !!null x",
        ]);
    }

    #[test]
    fn from_yaml_errors_match_helm() {
        compare(&[
            "a: 1\nb: 2\nc: d: e\n",
            "a:\n  b: 1\n  c: 2\n d: 3\n",
            "a:\n  - b\n  - c\n d\n",
            "a: [1, 2\nb: 3\n",
            "a: {b: 1\nc: 2\n",
            "a: \"unterminated\nb: 1\n",
            "a: 'unterminated\nb: 1\n",
            "a: 1\n- b\n",
            "- a\n- b\nc: d\n",
            "a: |\n  ok\n bad\n",
            "a: b\n  c: d\n",
            "a:\n\tb: 1\n",
            "a: *undefined\n",
            "a: &x\n  b: *x\n",
            "<<: [1]\n",
            "a:\n  <<: *\n",
            "a: b\n...\nc: d\n",
            "]\n",
            "a: ]\n",
            "a: }\n",
            ",a\n",
            "a: 1\n  # c\n  b: 2\n",
            "x:\n  y: [a,\n  b\n",
            "%TAG ! tag:x,2000:\n%TAG ! tag:y,2000:\n---\na: 1\n",
            "a: !!int 1.5\n",
            "? - a\n: x\n",
            "? {a: b}\n: x\n",
            "a: b: c: d\n",
            "line1: ok\nline2: ok\nline3: ok\nline4: [unclosed\n",
            "a:\n- x\n- y\n  z: 1\n",
            "a: \"\\z\"\n",
            "a: 1\nb: \"x\" y\n",
            "@foo: 1\n",
            "a: `x`\n",
            "a: 0x\u{7f}",
            "a: 1\nb: 2\nc: \"x \\\"\\/\"\n",
            "a: 1\nb: \"multi\n  line \\/\"\n",
        ]);
    }

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
            "a:\tb",
            "\ta: b",
            "a: \"\\/\"",
            "{a:1, b:2}",
            "[a:1]",
            "a: b\n...\n",
            "a: 1 \t# c\n",
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

#[cfg(test)]
mod to_yaml_differential {
    use super::*;

    /// Compares `toYaml` of each value (passed to Helm through values, so
    /// numbers are float64) with ours.
    pub(super) fn compare(cases: &[serde_json::Value]) {
        let templates: Vec<String> = (0..cases.len()).map(|i| format!("{{{{ toYaml (index .Values.c {i}) }}}}")).collect();
        let Some(want) = oracle::render(&templates, serde_json::json!({ "c": cases })) else { return };
        let mut bad = Vec::new();
        for (case, want) in cases.iter().zip(want) {
            let got = match to_yaml(&Value::from(case)) {
                Ok(s) => s.strip_suffix('\n').unwrap_or(&s).to_string(),
                Err(_) => String::new(),
            };
            let want = want.unwrap_or_else(|e| format!("RENDER ERROR {e}"));
            if got != want {
                bad.push(format!("case {case}\n  helm: {want:?}\n  ours: {got:?}"));
            }
        }
        assert!(bad.is_empty(), "{} of {} differ:\n{}", bad.len(), cases.len(), bad.join("\n"));
    }

    fn strings() -> Vec<String> {
        let mut v: Vec<String> = [
            "", " ", "a", "foo bar", " lead", "trail ", "a: b", "a:b", "a #b", "a#b", "#a", "- a", "-a", "-", "--", "---", "--- a", "...", "? a", "?a", ":a", ": a", "a:",
            "[a]", "{a}", "a,b", "a[b", "&a", "*a", "!a", "|a", ">a", "'a", "\"a", "%a", "@a", "`a", "a'b", "a\"b", "a\\b", "true", "True", "TRUE", "yes", "no", "y", "n", "Y",
            "on", "off", "null", "Null", "~", "0", "1", "-1", "+1", "1.5", ".5", "1e3", "1e400", "0x1F", "0o17", "0777", "08", "1_000", "_1", ".inf", "-.inf", ".nan",
            "1:20", "1:2:3", "190:20:30.15", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10", "2001-02-30", "2001-1-2", "12:30", "<<", "<", "=",
            "a\nb", "a\n", "a\n\n", "\na", "\n", "\n\n", " a\nb", "a \nb", "a\n b", "a\n\nb", "a\tb", "\t", "a\rb", "a\r\nb", "tab\there\nnext", "é", "héllo", "日本語", "😀",
            "a\u{85}b", "a\u{2028}b", "a\u{a0}b", "\u{feff}a", "\u{7f}", "\u{1b}", "\u{0}", "\u{80}", "a\u{200b}b", "http://example.com/a?b=c#d", "key=value", "a b  c",
            "  ", "a  ", "x\n  y\n", "line1\nline2 \nline3", "# comment", "a # b", "a\t#b", "@", "a@b", "<html>&amp;</html>", "\\n", "'", "''", "\"", "0.1.2", "1.2.3.4",
            "+", "+.inf", "-0", "0b101", "0x", "1e", "1.", "1.e5", "Yes please", "NULL", "nULL", "=b", "a=", "1,000", "$HOME", "${x}", "{{ x }}", "a]", "a}", "a, b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let long_words = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.";
        v.push(long_words.to_string());
        v.push(format!("{long_words} {long_words}"));
        v.push("x".repeat(200));
        v.push(format!("{} {}", "x".repeat(90), "y".repeat(90)));
        v.push(format!("{}  {}", "x".repeat(85), "y".repeat(10)));
        v.push(format!("'{long_words}'"));
        v.push(format!("\"{long_words}\""));
        v.push(format!("{long_words}\t"));
        v.push(format!(" {long_words}"));
        v.push(format!("{long_words}: x"));
        v.push(format!("{long_words}\n{long_words}"));
        v.push(format!("{}   {}", "a".repeat(81), "b".repeat(5)));
        v.push(format!("{} a", "é".repeat(79)));
        v.push(format!("{} {} {}", "a".repeat(78), "b", "c".repeat(10)));
        v.push(format!("{}😀 {}", "a".repeat(82), "b".repeat(10)));
        v
    }

    #[test]
    fn strings_match_helm() {
        let s = strings();
        let mut cases: Vec<serde_json::Value> = s.iter().map(|x| serde_json::json!(x)).collect();
        cases.extend(s.iter().map(|x| serde_json::json!({ "k": x })));
        cases.extend(s.iter().map(|x| serde_json::json!([x])));
        cases.extend(s.iter().map(|x| serde_json::json!({ "a": { "b": [ { "c": x } ] } })));
        compare(&cases);
    }

    #[test]
    fn keys_match_helm() {
        let s = strings();
        let mut cases: Vec<serde_json::Value> = s.iter().map(|x| serde_json::json!({ x.clone(): 1 })).collect();
        cases.push(serde_json::Value::Object(s.iter().map(|x| (x.clone(), serde_json::json!(x))).collect()));
        cases.push(serde_json::json!({"a10": 1, "a9": 2, "a1": 3, "a01": 4, "a001": 5, "b": 6, "B": 7, "_b": 8, "-b": 9, "1": 10, "10": 11, "2": 12, "x1y2": 13, "x1y10": 14, "x01": 15, "x0": 16, "x00": 17, "é": 18, "z": 19, "Z9": 20, "Z10": 21}));
        compare(&cases);
    }

    #[test]
    fn numbers_and_structure_match_helm() {
        let mut cases = Vec::new();
        for f in [0.0, -0.0, 1.0, -1.0, 1.5, 0.1, 100000.0, 1e6, 1234567.0, 12345678.5, 1e20, 1e21, 1.5e300, 1e-6, 1e-7, 0.000123, 123456789012345680.0, 9007199254740993.0, 18446744073709551615.0, 9.223372036854776e18, -9.223372036854776e18, 3.0e-5, 2.5e-300, 5e-324, 1.7976931348623157e308] {
            cases.push(serde_json::json!(f));
            cases.push(serde_json::json!({ "n": f }));
        }
        cases.extend([
            serde_json::json!(null),
            serde_json::json!(true),
            serde_json::json!({}),
            serde_json::json!([]),
            serde_json::json!({"a": {}, "b": [], "c": null, "d": [{}], "e": [[]], "f": [null, true, false]}),
            serde_json::json!([[1, 2], [3, [4, [5]]], {"a": [1, {"b": [2]}]}]),
            serde_json::json!([{"a": 1, "b": 2}, {"c": {"d": {"e": [1, 2]}}}]),
            serde_json::json!({"list": [{"name": "a", "value": "x"}, {"name": "b", "items": ["p", "q"]}]}),
            serde_json::json!({"a": [[[]]], "b": [{"c": []}], "d": {"e": {}}}),
            serde_json::json!({"resources": {"limits": {"cpu": "100m", "memory": "128Mi"}, "requests": {"cpu": 0.5}}}),
            serde_json::json!({"annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"}}),
        ]);
        compare(&cases);
    }
}

#[cfg(test)]
mod diff_tests;

#[cfg(test)]
mod robustness {
    use super::*;

    #[test]
    fn alias_bombs_are_refused_as_go_yaml_does() {
        let mut bomb = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        let mut prev = 'a';
        for n in "bcdefghi".chars() {
            bomb.push_str(&format!("{n}: &{n} [{}]\n", vec![format!("*{prev}"); 9].join(",")));
            prev = n;
        }
        assert_eq!(parse(&bomb).unwrap_err().message, "error converting YAML to JSON: yaml: document contains excessive aliasing");
        // Modest reuse stays fine.
        assert!(parse("a: &a [1, 2]\nb: [*a, *a, *a]\n").is_ok());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // Read: up to 1000 levels (on a stack of its own), then an error.
        let deep = format!("{}{}", "[".repeat(999), "]".repeat(999));
        assert_eq!(parse_list(&deep).unwrap().len(), 1);
        assert_eq!(json::unmarshal(&deep).unwrap().as_list().map(|l| l.len()), Some(1));
        let deeper = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(parse(&deeper).unwrap_err().message.contains("nesting deeper than 1000 levels"));
        assert!(json::unmarshal(&deeper).unwrap_err().0.contains("nesting deeper than 1000 levels"));
        let toml_deep = format!("a = {}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(toml::from_toml(&toml_deep).unwrap_err().contains("nesting deeper than 1000 levels"));
        // Aliases multiply depth: refused before decoding.
        let mut chain = String::from("a0: &a0 [[[[[[[[[[1]]]]]]]]]]\n");
        for i in 1..120 {
            chain.push_str(&format!("a{i}: &a{i} [[[[[[[[[[*a{}]]]]]]]]]]\n", i - 1));
        }
        assert!(parse(&chain).unwrap_err().message.contains("nesting deeper than 1000 levels"));
        // Written: up to 10000 levels, as Go. (The test's own values are
        // built and dropped on a big stack: dropping is recursive.)
        let written = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(|| {
                let mut v = Value::list(vec![]);
                for _ in 0..5000 {
                    v = Value::list(vec![v]);
                }
                assert!(to_yaml(&v).unwrap().starts_with("- - - "));
                assert!(to_yaml_pretty(&v).is_ok());
                assert!(json::marshal(&v).unwrap().starts_with("[[[["));
                let wrapped = Value::map(BTreeMap::from([("a".to_string(), v.clone())]));
                assert!(toml::to_toml(&wrapped).is_ok());
                for _ in 0..5100 {
                    v = Value::list(vec![v]);
                }
                assert!(to_yaml(&v).unwrap_err().message.contains("nesting deeper than 10000 levels"));
                assert!(to_yaml_pretty(&v).unwrap_err().message.contains("nesting deeper"));
                assert!(json::marshal(&v).unwrap_err().0.contains("nesting deeper"));
            })
            .expect("test thread");
        written.join().expect("deep writes");
    }

    /// Odd bytes everywhere: every prefix of some tricky documents, and
    /// random mixes, must give a value or an error, never a panic.
    #[test]
    fn no_panics_on_odd_input() {
        let seeds = [
            "a: &x [1, {b: *x}]\n<<: *x\n? [c]\n: d\n",
            "- !!binary aGk=\n- !!int '0x1F'\n- \"\\u00e9\\\n  x\"\n- |2-\n   y\n",
            "%YAML 1.1\n%TAG !e! tag:e,2000:\n--- !e!t\na: !!float 1\n...\n--- b\n",
            "{a: [1, 2, {b: c}], 'd': \"e\", ? f : g}\n",
            "a: >+\n\n  folded\n\n\nb: '''q'''\n",
        ];
        let mut state: u64 = 0x1234_5678_9abc_def1;
        for seed in seeds {
            let chars: Vec<char> = seed.chars().collect();
            for end in 0..=chars.len() {
                let prefix: String = chars[..end].iter().collect();
                let _ = parse(&prefix);
                let _ = parse_all(&prefix);
                let _ = toml::from_toml(&prefix);
                let _ = json::unmarshal(&prefix);
            }
            for _ in 0..300 {
                let mut s = String::new();
                for _ in 0..(chars.len() / 2) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    s.push(chars[(state % chars.len() as u64) as usize]);
                }
                if let Ok(v) = parse(&s) {
                    // Whatever reads back writes out, and reads back the same.
                    let y = to_yaml(&v).expect("what parse gives, to_yaml writes");
                    let again = parse(&y).expect("to_yaml's output parses");
                    assert_eq!(json::marshal(&again).ok(), json::marshal(&v).ok(), "{s:?} -> {y:?}");
                }
                let _ = toml::from_toml(&s);
                let _ = json::unmarshal(&s);
            }
        }
    }
}

#[cfg(test)]
mod objects {
    use super::*;
    use crate::value::{Member, Object};
    use std::sync::Arc;

    /// A stand-in for Helm's `*chart.Metadata`: encoders see its JSON form.
    #[derive(Debug)]
    struct Meta;

    impl Object for Meta {
        fn type_name(&self) -> String {
            "*chart.Metadata".into()
        }
        fn member(&self, _: &str) -> Option<Member> {
            None
        }
        fn format(&self) -> String {
            "&{c 0.1.0}".into()
        }
        fn marshal(&self) -> Value {
            Value::map(BTreeMap::from([
                ("name".to_string(), Value::from("c")),
                ("version".to_string(), Value::from("0.1.0")),
                ("apiVersion".to_string(), Value::from("v2")),
            ]))
        }
    }

    #[test]
    fn objects_encode_as_their_json_form() {
        let v = Value::map(BTreeMap::from([("Chart".to_string(), Value::Object(Arc::new(Meta)))]));
        assert_eq!(to_yaml(&v).unwrap(), "Chart:\n  apiVersion: v2\n  name: c\n  version: 0.1.0\n");
        assert_eq!(json::marshal(&v).unwrap(), r#"{"Chart":{"apiVersion":"v2","name":"c","version":"0.1.0"}}"#);
        assert_eq!(toml::to_toml(&v).unwrap(), "[Chart]\n  apiVersion = \"v2\"\n  name = \"c\"\n  version = \"0.1.0\"\n");
    }
}
