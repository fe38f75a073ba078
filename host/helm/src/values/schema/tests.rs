//! Schema validation compared with real Helm: the same schema and values
//! through Helm's `ValidateAgainstSchema` and ours. Helm orders sibling
//! property errors at random (Go map order), so sibling lines are compared
//! as sets.

use serde_json::{json, Value as J};

use super::*;
use crate::values::oracle;

const SCRIPT: &str = r#"
import json, sys, os, tempfile
import helm_python as helm
out = []
for schema, sub_schema, vals in json.load(sys.stdin):
    d = tempfile.mkdtemp()
    os.makedirs(d + "/templates")
    open(d + "/Chart.yaml", "w").write("apiVersion: v2\nname: top\nversion: 0.1.0\n")
    open(d + "/values.schema.json", "w").write(schema)
    if sub_schema is not None:
        os.makedirs(d + "/charts/sub/templates")
        open(d + "/charts/sub/Chart.yaml", "w").write("apiVersion: v2\nname: sub\nversion: 0.1.0\n")
        open(d + "/charts/sub/values.schema.json", "w").write(sub_schema)
    with helm.Chart.load(d) as c:
        try:
            c.validate_schema(vals)
            out.append({"ok": True})
        except Exception as ex:
            out.append({"err": str(ex)})
print(json.dumps(out))
"#;

fn chart(schema: &str, sub_schema: Option<&str>) -> Chart {
    let mut c = Chart::default();
    c.metadata.name = "top".into();
    c.schema = Some(schema.as_bytes().into());
    if let Some(s) = sub_schema {
        let mut sub = Chart::default();
        sub.metadata.name = "sub".into();
        sub.schema = Some(s.as_bytes().into());
        c.dependencies.push(sub);
    }
    c
}

/// Lines with sibling order made irrelevant.
fn normalized(s: &str) -> Vec<String> {
    let mut lines: Vec<String> = s.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn compare(cases: &[(J, Option<J>, J)]) {
    let raw: Vec<(String, Option<String>, J)> = cases.iter().map(|(s, sub, v)| (s.to_string(), sub.as_ref().map(J::to_string), v.clone())).collect();
    compare_raw(&raw);
}

fn compare_raw(cases: &[(String, Option<String>, J)]) {
    let input: Vec<J> = cases.iter().map(|(s, sub, v)| json!([s, sub, v])).collect();
    let Some(answers) = oracle::run(SCRIPT, &J::Array(input)) else { return };
    let mut failures = Vec::new();
    for ((schema, sub, vals), want) in cases.iter().zip(answers.as_array().unwrap()) {
        let c = chart(schema, sub.as_deref());
        let got = match crate::values::coalesce(&c, &Value::from(vals)) {
            Err(e) => json!({"err": e.message}),
            Ok(values) => match validate(&c, &values) {
                Ok(()) => json!({"ok": true}),
                Err(e) => json!({"err": e.message}),
            },
        };
        let same = match (want.get("err").and_then(J::as_str), got.get("err").and_then(J::as_str)) {
            (Some(w), Some(g)) => normalized(w) == normalized(g),
            (None, None) => true,
            _ => false,
        };
        if !same {
            failures.push(format!("schema {schema} values {vals}:\n  helm {want}\n  ours {got}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn validation_errors_match_helm() {
    let main = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": ["name", "port"],
        "additionalProperties": false,
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 5},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "mode": {"enum": ["a", "b", 3]},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2, "uniqueItems": true},
            "obj": {"type": "object", "properties": {"x": {"type": ["string", "null"]}}, "required": ["x"]},
            "c": {"const": "k"},
            "sub": {"type": "object"},
            "global": {"type": "object"}
        }
    });
    let sub = json!({"type": "object", "properties": {"replicas": {"type": "integer"}}, "required": ["replicas"]});
    let mut cases: Vec<(J, Option<J>, J)> = vec![
        (main.clone(), Some(sub.clone()), json!({"name": "ab", "port": 80, "sub": {"replicas": 1}})),
        (main.clone(), Some(sub.clone()), json!({})),
        (main.clone(), Some(sub.clone()), json!({"name": 5, "port": "x", "sub": {"replicas": 1}})),
        (main.clone(), Some(sub.clone()), json!({"name": "ABC", "port": 0, "extra": 1, "sub": {"replicas": 1}})),
        (main.clone(), Some(sub.clone()), json!({"name": "ab", "port": 80, "mode": "z", "sub": {"replicas": 1}})),
        (main.clone(), Some(sub.clone()), json!({"name": "ab", "port": 70000, "sub": {"replicas": "x"}})),
        (main.clone(), Some(sub.clone()), json!({"name": "ab", "port": 1, "ratio": 0.3, "sub": {"replicas": 1}})),
        (main.clone(), Some(sub.clone()), json!({"name": "ab", "port": 1, "tags": ["a", "a", "b"], "sub": {"replicas": 1}})),
        (main.clone(), Some(sub.clone()), json!({"name": "ab", "port": 1, "obj": {}, "c": "j", "sub": {"replicas": 1}})),
        (main.clone(), Some(sub.clone()), json!({"name": "ab", "port": 1.5, "tags": [], "obj": {"x": 1}, "sub": {"replicas": 1}})),
        (main.clone(), Some(sub.clone()), json!({"name": "ab", "port": 80, "ratio": -1})),
    ];
    let numbers = json!({"type": "object", "properties": {
        "a": {"maximum": -1000000.5}, "b": {"maximum": -3}, "g": {"minimum": 3.0}, "k": {"multipleOf": 0.1}, "m": {"multipleOf": 0.01},
        "l": {"minimum": 12345678901234567890u64}, "j": {"type": ["integer", "null", "string"]}, "i": {"const": 1.5}
    }});
    for v in [
        json!({"a": 1234567.5}),
        json!({"b": 10000000.0}),
        json!({"b": 0.00001}),
        json!({"b": 1e21}),
        json!({"b": 123456789012u64}),
        json!({"b": 1234.5}),
        json!({"g": -0.5}),
        json!({"k": 0.35}),
        json!({"k": 0.3}),
        json!({"m": 19.99}),
        json!({"l": 5}),
        json!({"j": 1.5}),
        json!({"i": 2}),
    ] {
        cases.push((numbers.clone(), None, v));
    }
    let t = |s: J, v: J| (s, None, v);
    cases.extend([
        t(json!({"properties": {"a": {"const": {"x": 1}}}}), json!({"a": 2})),
        t(json!({"properties": {"a": {"enum": [[1], 2]}}}), json!({"a": 3})),
        t(json!({"properties": {"a": {"not": {"type": "string"}}}}), json!({"a": "s"})),
        t(json!({"properties": {"a": {"allOf": [{"type": "string"}, {"minLength": 3}]}}}), json!({"a": "s"})),
        t(json!({"properties": {"a": {"anyOf": [{"type": "string"}, {"type": "boolean"}]}}}), json!({"a": 1})),
        t(json!({"properties": {"a": {"oneOf": [{"type": "string"}, {"type": "boolean"}]}}}), json!({"a": 1})),
        t(json!({"properties": {"a": {"oneOf": [{"type": "number"}, {"minimum": 0}]}}}), json!({"a": 1})),
        t(json!({"properties": {"a": {"if": {"type": "string"}, "then": {"minLength": 3}, "else": {"type": "boolean"}}}}), json!({"a": "s"})),
        t(json!({"properties": {"a": {"if": {"type": "string"}, "then": {"minLength": 3}, "else": {"type": "boolean"}}}}), json!({"a": 1})),
        t(json!({"$defs": {"p": {"type": "integer", "minimum": 1}}, "properties": {"a": {"$ref": "#/$defs/p"}}}), json!({"a": 0})),
        t(json!({"$defs": {"p": {"type": "integer", "minimum": 1, "maximum": 0}}, "properties": {"a": {"$ref": "#/$defs/p"}}}), json!({"a": 5})),
        t(json!({"$defs": {"p": {"minimum": 1, "maximum": 0}}, "properties": {"a": {"$ref": "#/$defs/p", "type": "string"}}}), json!({"a": 0.5})),
        t(json!({"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"p": {"type": "integer"}}, "properties": {"a": {"$ref": "#/definitions/p", "minimum": 5}}}), json!({"a": 1})),
        t(json!({"additionalProperties": {"type": "string"}, "properties": {"a": {}}}), json!({"a": 1, "b": 2, "c": "x"})),
        t(json!({"additionalProperties": false, "properties": {"a": {}}}), json!({"b": 2, "a": 1})),
        t(json!({"patternProperties": {"^x": {"type": "string"}}}), json!({"xa": 1})),
        t(json!({"minProperties": 2, "maxProperties": 0}), json!({"a": 1})),
        t(json!({"dependentRequired": {"a": ["b", "c"]}}), json!({"a": 1})),
        t(json!({"$schema": "http://json-schema.org/draft-07/schema#", "dependencies": {"a": ["b"]}}), json!({"a": 1})),
        t(json!({"propertyNames": {"pattern": "^[a-z]+$"}}), json!({"A": 1})),
        t(json!({"properties": {"a": {"contains": {"type": "string"}}}}), json!({"a": [1, 2]})),
        t(json!({"properties": {"a": {"contains": {"type": "string"}, "minContains": 2}}}), json!({"a": [1, "x"]})),
        t(json!({"properties": {"a": {"prefixItems": [{"type": "string"}], "items": false}}}), json!({"a": [1, 2]})),
        t(json!({"$schema": "http://json-schema.org/draft-07/schema#", "properties": {"a": {"items": [{"type": "string"}], "additionalItems": false}}}), json!({"a": [1, 2]})),
        t(
            json!({"$schema": "http://json-schema.org/draft-07/schema#", "properties": {"a": {"format": "email"}, "b": {"format": "ipv4"}, "c": {"format": "date-time"}, "d": {"format": "uri"}, "e": {"format": "hostname"}, "f": {"format": "uuid"}, "g": {"format": "date"}}}),
            json!({"a": "x", "b": "300.1.1.1", "c": "yesterday", "d": "foo", "e": "-bad-", "f": "abc", "g": "2020-01-01"}),
        ),
        t(json!({"properties": {"a": {"format": "email"}}}), json!({"a": "x"})),
        t(json!({"properties": {"a": {"type": "strin"}}}), json!({"a": "x"})),
        t(json!({"properties": {"a": false}}), json!({"a": 1})),
        t(json!(false), json!({"a": 1})),
        t(json!({"properties": {"a": {"unevaluatedProperties": false, "properties": {"x": {}}}}}), json!({"a": {"x": 1, "y": 2}})),
        t(json!({"type": "object", "properties": {"o": {"type": "object", "properties": {"p": {"type": "object", "properties": {"q": {"type": "string"}}}}}}}), json!({"o": {"p": {"q": 1}}})),
        t(json!({"properties": {"a/b": {"type": "string"}, "c~d": {"type": "string"}, "e'f": {"type": "string"}}}), json!({"a/b": 1, "c~d": 1, "e'f": 1})),
        t(json!({"properties": {"a": {"items": {"type": "string"}}}}), json!({"a": ["x", 1, 2]})),
        t(json!({"required": ["a'b", "c"]}), json!({})),
        t(json!({"properties": {"a": {"pattern": "^\\d+$"}}}), json!({"a": "x\n"})),
        t(json!({"properties": {"a": {"maxLength": 2}}}), json!({"a": "héé"})),
        t(json!({"$ref": "#/$defs/x"}), json!({})),
        t(json!({"$ref": "#"}), json!({"x": 1})),
        t(json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "properties": {"x": {"$ref": "#/$defs/a"}}}), json!({"x": 1})),
        t(json!({"properties": {"n": {"$ref": "#"}, "v": {"type": "string"}}}), json!({"n": {"n": {"v": 1}}})),
        t(json!({"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}, "properties": {"x": {"$ref": "#/$defs/a"}}}), json!({"x": 1})),
        t(json!({"$schema": "http://json-schema.org/draft-07/schema#", "properties": {"a": {"type": "strin"}}}), json!({"a": "x"})),
        t(json!({"$schema": "http://json-schema.org/draft-07/schema#", "properties": {"a": {"properties": {"b": {"type": "strin"}}}}}), json!({"a": "x"})),
        t(json!({"properties": {"a": {"properties": {"b": {"type": "strin"}}}}}), json!({"a": "x"})),
        t(json!({"properties": {"a": {"items": {"type": "strin"}}}}), json!({"a": "x"})),
        t(json!({"type": "strin"}), json!({"a": "x"})),
        t(json!({"properties": {"a": {"type": ["string", "bad"]}}}), json!({"a": "x"})),
        t(json!({"properties": {"a": {"type": 3}}}), json!({"a": "x"})),
        t(json!({"properties": {"a": {"minimum": "x"}}}), json!({"a": "x"})),
        t(json!({"properties": {"a": {"pattern": "a{"}}}), json!({"a": "x"})),
        t(json!({"properties": {"a": {"pattern": "a{2}b{1,}c{1,3}"}}}), json!({"a": "aabccc"})),
        t(json!({"properties": {"a": {"pattern": "[z-a]"}}}), json!({"a": "x"})),
        t(json!({"properties": {"a": {"pattern": "(a"}}}), json!({"a": "x"})),
        t(json!({"properties": {"a": {"pattern": "a)"}}}), json!({"a": "x"})),
        t(json!({"properties": {"a": {"pattern": "x[ab"}}}), json!({"a": "x"})),
        t(json!({"properties": {"a": {"pattern": "[]a]"}}}), json!({"a": "]"})),
        t(json!({"$schema": "http://json-schema.org/draft-07/schema#", "properties": {"a": {"format": "regex"}}}), json!({"a": "(x"})),
        t(json!({"$schema": "http://json-schema.org/draft-04/schema#", "properties": {"a": {"minimum": 5, "exclusiveMinimum": true}}}), json!({"a": 5})),
    ]);
    // Random values against the main schema.
    let mut seed = 0x9E3779B97F4A7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pool = [
        json!(null), json!(0), json!(1), json!(80), json!(70000), json!(1.5), json!(0.5), json!(-2), json!("ab"), json!("ABC"), json!("abcdefgh"), json!("a"), json!(true),
        json!(["a"]), json!(["a", "a"]), json!([]), json!([1, "x", "y"]), json!({}), json!({"x": null}), json!({"x": 1}), json!({"replicas": 1}), json!({"replicas": "x"}), json!("k"), json!(3),
    ];
    let keys = ["name", "port", "mode", "ratio", "tags", "obj", "c", "sub", "extra", "global"];
    for _ in 0..150 {
        let mut m = serde_json::Map::new();
        for _ in 0..(next() % 6) {
            let k = keys[(next() % keys.len() as u64) as usize];
            m.insert(k.to_string(), pool[(next() % pool.len() as u64) as usize].clone());
        }
        cases.push((main.clone(), Some(sub.clone()), J::Object(m)));
    }
    compare(&cases);
}

#[test]
fn broken_schema_files_are_worded_as_helm() {
    let texts = ["{\"type\": \"object\",}", "{\"type\": }", "", "  ", "{\"a\":1} x", "[1", "{\"a\":1}{", "nul", "{\"a\": \"\\q\"}", "{\"a\": 01}", "true", "{} \n"];
    let cases: Vec<(String, Option<String>, J)> = texts.iter().map(|t| (t.to_string(), None, json!({}))).collect();
    compare_raw(&cases);
}

#[test]
fn formats_take_any_text_without_panicking() {
    let texts = ["", "é", "12:00:0é00Z", "\"é@x.io", "\"aé\"@x.io", "2020-01-01Té", "2020-01-0éT00:00:00Z", "[é]", "é@[IPv6:é]", "a@é", "::é", "1.2.3.é"];
    for f in ["email", "hostname", "ipv4", "ipv6", "uuid", "date", "time", "date-time", "uri", "uri-reference", "regex"] {
        for t in texts {
            let _ = check_format(f, t);
        }
    }
}

#[test]
fn subchart_values_of_the_wrong_type_are_named() {
    let c = chart("{}", Some("{}"));
    let mut values = BTreeMap::new();
    values.insert("sub".to_string(), Value::str("x"));
    let err = validate(&c, &Value::map(values)).unwrap_err();
    assert_eq!(err.message, "sub:\ninvalid type for values: expected object (map), got string\n");
}
