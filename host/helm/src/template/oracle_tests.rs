//! Differential tests: each snippet is rendered by real Helm (the Go
//! library, through helm-python-sdk) as the only template of a one-file
//! chart, and by this engine with `.Values` only and no Sprig, and the
//! outputs (or errors) must be identical. Helm drops `<no value>` from its
//! output and rewords some errors over several lines; both are undone
//! before comparing. When the oracle is missing the test fails under CI
//! (`CI` set) and is skipped with a message otherwise.

use super::{MissingKey, Templates};
use crate::func::FuncMap;
use crate::value::Value;

const ORACLE: &str = r#"
import sys, json, os, tempfile, shutil
import helm_python as helm
cases = json.load(sys.stdin)
out = []
base = tempfile.mkdtemp()
for i, c in enumerate(cases):
    d = os.path.join(base, "c%d" % i)
    os.makedirs(d + "/templates")
    open(d + "/Chart.yaml", "w").write("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    for n, t in c["files"].items():
        open(d + "/templates/" + n, "w").write(t)
    try:
        with helm.Chart.load(d) as ch:
            r = ch.render(values=c["values"], name="r", namespace="default", is_install=True)
        out.append({"ok": r.get("c/templates/x.yaml")})
    except Exception as e:
        out.append({"err": str(e)})
shutil.rmtree(base)
json.dump(out, sys.stdout)
"#;

/// Renders each case (files by name; the one rendered is `x.yaml`) with the oracle.
fn run_oracle(py: &std::path::Path, cases: &[(Vec<(&str, &str)>, &str)]) -> Vec<Result<String, String>> {
    use std::io::Write;
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(files, values)| {
            let files: serde_json::Map<String, serde_json::Value> = files.iter().map(|(n, t)| (n.to_string(), serde_json::Value::from(*t))).collect();
            let values: serde_json::Value = serde_json::from_str(values).expect("test values are JSON");
            serde_json::json!({"files": files, "values": values})
        })
        .collect();
    let mut child = std::process::Command::new(py)
        .args(["-c", ORACLE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("oracle starts");
    child.stdin.take().expect("stdin").write_all(serde_json::to_string(&input).expect("json").as_bytes()).expect("write");
    let out = child.wait_with_output().expect("oracle runs");
    let res: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("oracle answers JSON");
    assert_eq!(res.len(), cases.len(), "the oracle answered every case");
    res.into_iter()
        .map(|r| match (r.get("ok"), r.get("err")) {
            (Some(ok), _) => Ok(ok.as_str().unwrap_or("").to_string()),
            (_, Some(e)) => Err(go_error_from_helm(e.as_str().unwrap_or(""))),
            _ => Err("oracle answered nothing".into()),
        })
        .collect()
}

/// Undoes Helm v4's rewording of Go's template errors:
/// `NAME:L:C\n  executing "N" at <X>:\n    MSG` and `parse error at (NAME:L): MSG`.
pub(crate) fn go_error_from_helm(e: &str) -> String {
    if let Some(rest) = e.strip_prefix("parse error at (") {
        if let Some((loc, msg)) = rest.split_once("): ") {
            return format!("template: {loc}: {msg}");
        }
    }
    let lines: Vec<&str> = e.split('\n').collect();
    if lines.len() >= 3 && lines[1].starts_with("  executing ") {
        let exec = lines[1].trim_start().trim_end_matches(':');
        let first = lines[2].strip_prefix("    ").unwrap_or(lines[2]);
        // A nested error (`error calling include:` and the inner error's
        // own lines) is reworded the same way.
        let msg = if first.starts_with("error calling ") && first.ends_with(':') && lines.len() > 3 {
            format!("{first} {}", go_error_from_helm(&lines[3..].join("\n")))
        } else {
            lines[2..].iter().map(|l| l.strip_prefix("    ").unwrap_or(l)).collect::<Vec<_>>().join("\n")
        };
        return format!("template: {}: {}: {}", lines[0], exec, msg);
    }
    e.to_string()
}

/// A few of Helm's functions, as small as the tests need: `upper` (a
/// string parameter), `fail`, and `include`/`tpl` worded as Helm words them.
fn test_funcs() -> FuncMap {
    use crate::func::{arity, string_arg, FuncError};
    let mut f = FuncMap::new();
    f.add("upper", |a| {
        arity("upper", a, 1)?;
        Ok(Value::from(string_arg(a, 0)?.to_uppercase()))
    });
    f.add("fail", |a| {
        arity("fail", a, 1)?;
        Err(FuncError::call(string_arg(a, 0)?))
    });
    // Sprig's dict, list, set, unset, merge and deepCopy: set, unset and
    // merge change their first map in place (Go maps are references).
    f.add("dict", |a| {
        let mut m = std::collections::BTreeMap::new();
        for p in a.chunks(2) {
            m.insert(super::fmt::sprint(&p[0]).to_string(), p.get(1).cloned().unwrap_or(Value::str("")));
        }
        Ok(Value::map(m))
    });
    f.add("list", |a| Ok(Value::list(a.to_vec())));
    fn map_arg(a: &[Value]) -> Result<crate::value::Map, FuncError> {
        match &a[0] {
            Value::Map(m) => Ok(m.clone()),
            other => Err(FuncError::wrong_type("map[string]interface {}", other)),
        }
    }
    fn merge(a: &[Value], overwrite: bool) -> Result<Value, FuncError> {
        let dst = map_arg(a)?;
        for s in &a[1..] {
            let Value::Map(s) = s else { return Err(FuncError::wrong_type("map[string]interface {}", s)) };
            crate::sprig::dicts::merge_into(&dst, &s.entries(), overwrite, 0)?;
        }
        Ok(Value::Map(dst))
    }
    f.add("merge", |a| merge(a, false));
    f.add("mergeOverwrite", |a| merge(a, true));
    f.add("deepCopy", |a| {
        arity("deepCopy", a, 1)?;
        crate::sprig::dicts::deep_copy(&a[0], 0)
    });
    f.add("set", |a| {
        arity("set", a, 3)?;
        let m = map_arg(a)?;
        m.insert(string_arg(a, 1)?.to_string(), a[2].clone());
        Ok(Value::Map(m))
    });
    f.add("unset", |a| {
        arity("unset", a, 2)?;
        let m = map_arg(a)?;
        m.remove(string_arg(a, 1)?);
        Ok(Value::Map(m))
    });
    f.add_with_host("include", |c, a| {
        arity("include", a, 2)?;
        let name = string_arg(a, 0)?.to_string();
        c.host.execute_named(&name, &a[1]).map(Value::from)
    });
    f.add_with_host("tpl", |c, a| {
        arity("tpl", a, 2)?;
        let text = string_arg(a, 0)?.to_string();
        match c.host.execute_text(&text, &a[1]) {
            Ok(s) => Ok(Value::from(s.replace("<no value>", ""))),
            Err(FuncError::Argument(e)) => Err(FuncError::call(format!("cannot parse template {}: {e}", super::fmt::quote(&text)))),
            Err(e) => Err(FuncError::call(format!("error during tpl function execution for {}: {e}", super::fmt::quote(&text)))),
        }
    });
    f
}

/// Renders like Helm: `.Values` as data, `missingkey=zero`, `<no value>` removed.
fn render_files(files: &[(&str, &str)], values: &str) -> Result<String, String> {
    let mut t = Templates::new(test_funcs());
    t.set_missing_key(MissingKey::Zero);
    for (name, text) in files {
        t.parse(&format!("c/templates/{name}"), text).map_err(|e| e.message)?;
    }
    let v: serde_json::Value = serde_json::from_str(values).expect("test values are JSON");
    let mut top = std::collections::BTreeMap::new();
    top.insert("Values".to_string(), Value::from(&v));
    // Helm executes every file in order; the first error wins.
    let mut out = None;
    for (name, _) in files {
        let r = t.execute(&format!("c/templates/{name}"), &Value::map(top.clone())).map_err(|e| e.message)?;
        if *name == "x.yaml" {
            out = Some(r.replace("<no value>", ""));
        }
    }
    Ok(out.unwrap_or_default())
}

/// Snippets with the values they run on. Each is one line of a template.
const CASES: &[(&str, &str)] = &[
    // Printing values.
    ("{{ .Values.a }} {{ .Values.b }} {{ .Values.c }} {{ .Values.d }}", r#"{"a": 1, "b": 1.5, "c": "x", "d": true}"#),
    ("{{ .Values.big }} {{ .Values.small }} {{ .Values.e6 }} {{ .Values.e5 }} {{ .Values.neg }}", r#"{"big": 12345678901, "small": 0.00001, "e6": 1000000, "e5": 100000, "neg": -2.5}"#),
    ("{{ .Values.m }} {{ .Values.l }} {{ .Values.n }}", r#"{"m": {"b": 1, "a": [1, "x", null, {"z": true}]}, "l": [], "n": null}"#),
    ("[{{ .Values.missing }}] [{{ .Values.a.missing }}]", r#"{"a": {}}"#),
    ("{{ .Values.a.b.c }}", r#"{}"#),
    ("{{ .Values.a.b }}", r#"{"a": null}"#),
    ("{{ .Values.s.x }}", r#"{"s": "str"}"#),
    ("{{ with .Values.s }}{{ .x }}{{ end }}", r#"{"s": "str"}"#),
    // Literals.
    ("{{ 1 }} {{ 1.0 }} {{ 1e3 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }} {{ 'a' }} {{ -3 }} {{ +4 }} {{ 017 }}", "{}"),
    ("{{ \"a\\tb\" }} {{ `raw\\n` }} {{ true }} {{ false }} {{ \"\\u00e9\" }}", "{}"),
    ("{{ 0x1p4 }} {{ .5 }} {{ 1.5e-7 }} {{ 1e21 }} {{ 123456789.0 }}", "{}"),
    ("{{ nil }}", "{}"),
    ("{{ 99999999999999999999 }}", "{}"),
    ("{{ 08 }}", "{}"),
    // Trimming and comments.
    ("a  {{- 1 -}}  b\n  {{- /* c */ -}}\n  c {{/* x */}} d", "{}"),
    ("a\n{{- \"x\" }}\n{{ \"y\" -}}\n\nb", "{}"),
    ("{{- 3 }}{{-3}}", "{}"),
    // Variables.
    ("{{ $x := 1 }}{{ $x }}{{ $x = 2 }}{{ $x }}{{ if true }}{{ $x = 3 }}{{ $y := 4 }}{{ end }}{{ $x }}", "{}"),
    ("{{ $.Values.a }}", r#"{"a": "top"}"#),
    ("{{ $x := .Values.m }}{{ $x.k }}", r#"{"m": {"k": "v"}}"#),
    ("{{ $z }}", "{}"),
    // Pipelines.
    ("{{ .Values.a | printf \"%v-%v\" \"x\" }}", r#"{"a": 2}"#),
    ("{{ \"x\" | printf \"%s|%s\" \"y\" }}", "{}"),
    ("{{ (printf \"%d\" 3) }} {{ (len \"abc\") | printf \"%03d\" }}", "{}"),
    ("{{ 1 | 2 }}", "{}"),
    ("{{ printf \"a\" | . }}", "{}"),
    // if / else if / with / else with.
    ("{{ if .Values.a }}A{{ else if .Values.b }}B{{ else }}C{{ end }}", r#"{"a": 0, "b": "x"}"#),
    ("{{ if .Values.l }}L{{ else }}empty{{ end }} {{ if .Values.m }}M{{ else }}nomap{{ end }}", r#"{"l": [], "m": {}}"#),
    ("{{ with .Values.a }}{{ . }}{{ else with .Values.b }}b={{ . }}{{ else }}none{{ end }}", r#"{"a": "", "b": 2}"#),
    ("{{ with $x := .Values.a }}{{ $x }}{{ end }}", r#"{"a": "w"}"#),
    // range.
    ("{{ range .Values.l }}[{{ . }}]{{ end }}", r#"{"l": [1, "a", null, true]}"#),
    ("{{ range $i, $v := .Values.l }}{{ $i }}={{ $v }};{{ end }}", r#"{"l": ["a", "b"]}"#),
    ("{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}", r#"{"m": {"z": 1, "a": 2, "M": 3}}"#),
    ("{{ range $v := .Values.m }}{{ $v }};{{ end }}", r#"{"m": {"z": 1, "a": 2}}"#),
    ("{{ range .Values.l }}x{{ else }}empty{{ end }}", r#"{"l": []}"#),
    ("{{ range .Values.missing }}x{{ else }}none{{ end }}", r#"{}"#),
    ("{{ range .Values.l }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}", r#"{"l": [1, 2, 3, 4, 5]}"#),
    ("{{ range 3 }}{{ . }}{{ end }} {{ range $i := 2 }}{{ $i }}{{ end }}", "{}"),
    ("{{ range $i, $v := 3 }}{{ end }}", "{}"),
    ("{{ range .Values.n }}{{ . }}{{ end }}", r#"{"n": 3}"#),
    ("{{ range .Values.s }}{{ . }}{{ end }}", r#"{"s": "abc"}"#),
    ("{{ range $i, $e := .Values.l }}{{ $e.x }}{{ end }}", r#"{"l": ["s"]}"#),
    ("{{ range .Values.l }}{{ $.Values.t }}{{ end }}", r#"{"l": [1, 2], "t": "T"}"#),
    ("{{ break }}", "{}"),
    // define / template / block.
    ("{{ define \"t\" }}T({{ . }}){{ end }}{{ template \"t\" }} {{ template \"t\" .Values.a }}", r#"{"a": 5}"#),
    ("{{ block \"b\" .Values.a }}B{{ . }}{{ end }}", r#"{"a": 7}"#),
    ("{{ template \"nope\" }}", "{}"),
    ("{{ define \"r\" }}{{ if .a }}{{ .v }}{{ template \"r\" .a }}{{ end }}{{ end }}{{ template \"r\" .Values }}", r#"{"v": 1, "a": {"v": 2, "a": {"v": 3}}}"#),
    // and / or / not.
    ("{{ and 1 0 \"x\" }} {{ and 1 2 3 }} {{ or 0 \"\" }} {{ or 0 \"a\" 1 }} {{ not 0 }} {{ not \"x\" }}", "{}"),
    ("{{ and .Values.missing .Values.missing.x }} {{ or 1 .Values.missing.x }}", "{}"),
    ("{{ and }}", "{}"),
    // Comparisons.
    ("{{ eq 1 1 }} {{ eq \"a\" \"b\" \"a\" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}", "{}"),
    ("{{ eq .Values.a 1.0 }} {{ eq .Values.missing \"x\" }} {{ eq .Values.missing nil }}", r#"{"a": 1}"#),
    ("{{ eq .Values.a 1 }}", r#"{"a": 1}"#),
    ("{{ eq 1 \"1\" }}", "{}"),
    ("{{ lt true false }}", "{}"),
    ("{{ lt .Values.l 1 }}", r#"{"l": []}"#),
    ("{{ eq .Values.l .Values.l }}", r#"{"l": [1]}"#),
    ("{{ eq 1 }}", "{}"),
    ("{{ ne 1 }}", "{}"),
    // len / index / slice.
    ("{{ len .Values.l }} {{ len .Values.m }} {{ len \"héllo\" }}", r#"{"l": [1, 2], "m": {"a": 1}}"#),
    ("{{ len 3 }}", "{}"),
    ("{{ len .Values.missing }}", "{}"),
    ("{{ index .Values.l 1 }} {{ index .Values.m \"a\" }} {{ index .Values.n \"x\" 1 \"y\" }} [{{ index .Values.m \"zz\" }}] {{ index \"abc\" 1 }}", r#"{"l": [1, 2], "m": {"a": "A"}, "n": {"x": [0, {"y": "deep"}]}}"#),
    ("{{ index .Values.l 5 }}", r#"{"l": [1, 2]}"#),
    ("{{ index .Values.l 2 }}", r#"{"l": [1, 2]}"#),
    ("{{ index .Values.l \"a\" }}", r#"{"l": [1, 2]}"#),
    ("{{ index .Values.m 1 }}", r#"{"m": {}}"#),
    ("{{ index .Values.missing 1 }}", "{}"),
    ("{{ index 3 1 }}", "{}"),
    ("{{ index .Values.l .Values.i }}", r#"{"l": [1], "i": 0}"#),
    // (Helm's `slice` is Sprig's, which replaces Go's: see the unit tests.)
    // print / printf / println.
    ("{{ print 1 2 \"a\" \"b\" 3 nil .Values.missing }}|{{ println 1 \"a\" }}|", "{}"),
    ("{{ printf \"%d %5d %-5d| %05d %x %X %o %O %b %c %q %U %#U\" 42 42 42 -42 255 255 8 8 5 65 65 65 65 }}", "{}"),
    ("{{ printf \"%s %q %v %10s|%-10s|%.2s %x % x %#x\" \"hi\" \"hi\" \"hi\" \"hi\" \"hi\" \"hello\" \"hi\" \"hi\" \"hi\" }}", "{}"),
    ("{{ printf \"%f %.2f %e %E %g %G %.3g %8.3f|%-8.2f|%+.1f %v\" 3.14159 3.14159 1234.5678 0.000123 1e21 1e-7 123456.0 3.14159 2.5 2.5 0.1 }}", "{}"),
    ("{{ printf \"%v %v %v %v %v\" 1e6 1e20 1e21 123456789.0 0.0001 }}", "{}"),
    ("{{ printf \"%d %s %t\" 1.5 1 \"x\" }}", "{}"),
    ("{{ printf \"%d %d\" 1 }} {{ printf \"%d\" 1 2 \"x\" }}", "{}"),
    ("{{ printf \"%v %T %T %T %T\" .Values.m .Values.m .Values.l .Values.a nil }}", r#"{"m": {"a": [1, "b"]}, "l": ["x"], "a": 1}"#),
    ("{{ printf \"%s %d\" .Values.l .Values.l }}", r#"{"l": ["a", 1, null]}"#),
    ("{{ printf \"%[2]d %[1]d %d\" 1 2 }} {{ printf \"%[3]d\" 1 }} {{ printf \"%*d|%-*d|\" 5 1 5 2 }}", "{}"),
    ("{{ printf \"%!\" }} {{ printf \"%\" }} {{ printf \"100%%\" }} {{ printf \"%.f|%6.2v\" 2.5 3.14159 }}", "{}"),
    ("{{ printf \"%t %v %5t\" true false true }} {{ printf \"%+d % d %+v\" 5 5 5 }}", "{}"),
    ("{{ printf \"%#v %#v %#v %#v\" .Values.m .Values.l \"s\" 1.0 }}", r#"{"m": {"a": 1}, "l": [1, "x", null]}"#),
    ("{{ printf \"%x %X %.3e %08.3f %+08.2f % .2f\" 3.5 -1.0 123456.789 -3.14159 3.14159 2.0 }}", "{}"),
    ("{{ printf 1 }}", "{}"),
    ("{{ printf .Values.missing }}", "{}"),
    ("{{ printf \"%s\" }} {{ printf \"%v %v\" nil .Values.missing }}", "{}"),
    ("{{ printf \"%q %v\" .Values.u .Values.u }}", r#"{"u": "a\"b\n\u0001é😀"}"#),
    ("{{ printf \"%5.1q|%-4q|%x\" \"abc\" 'x' \"\" }}", "{}"),
    // html / js / urlquery.
    ("{{ html \"<a href='x'>&\\\"</a>\" }} {{ js \"it's <b> & \\\"q\\\" = \\\\ \\n é\" }} {{ urlquery \"a b&c=d/é~\" }}", "{}"),
    ("{{ html 1 \"a\" 2 }} {{ html nil }} {{ js .Values.missing }} {{ urlquery 1 2 }}", "{}"),
    // call.
    ("{{ call .Values.a }}", r#"{"a": 1}"#),
    ("{{ call .Values.missing }}", r#"{}"#),
    // Field and function errors.
    ("{{ .Values.a 1 }}", r#"{"a": 1}"#),
    ("{{ 1 2 }}", "{}"),
    ("{{ nope }}", "{}"),
    ("{{ .Values.l.x }}", r#"{"l": [1]}"#),
    ("{{ (1).x }}", "{}"),
    ("{{ (.Values.m).k }}", r#"{"m": {"k": "v"}}"#),
    ("{{ $x := .Values.m }}{{ $x.k.j }}", r#"{"m": {"k": "v"}}"#),
    ("{{ nil.x }}", "{}"),
    // Parse errors.
    ("{{ 1 }", "{}"),
    ("{{ if }}{{ end }}", "{}"),
    ("{{ if 1 }}", "{}"),
    ("{{ end }}", "{}"),
    ("{{ else }}", "{}"),
    ("{{ range $a, $b, $c := . }}{{ end }}", "{}"),
    ("{{ $x, $y := 1 }}", "{}"),
    ("{{ \"unterminated }}", "{}"),
    ("{{ `unterminated }}", "{}"),
    ("{{ 'ab' }}", "{}"),
    ("{{ 3x }}", "{}"),
    ("{{ /* unclosed }}", "{}"),
    ("{{ /* c */ 1 }}", "{}"),
    ("{{ ( 1 }}", "{}"),
    ("{{ 1 ) }}", "{}"),
    ("{{ define \"a\" }}x{{ end }}{{ define \"a\" }}y{{ end }}", "{}"),
    ("{{ template }}", "{}"),
    ("{{ template \"x\" 1 2 }}", "{}"),
    ("{{ continue }}", "{}"),
    ("{{ range . }}{{ continue 1 }}{{ end }}", "{}"),
    ("{{ .Values.a\n.b }}", r#"{"a": {"b": "multi"}}"#),
    ("line1\nline2 {{ .Values.a.b.c }}", "{}"),
    ("line1\n{{ if true }}\n  {{ bad }}\n{{ end }}", "{}"),
    ("{{ 1 \n }}x{{ \"a\" |\n printf \"%s\" }}", "{}"),
    ("{{ $x := 1 }}{{ $x := 2 }}{{ $x }}", "{}"),
    ("{{ .Values.a.b | printf \"%v\" }}", r#"{"a": {"b": 1}}"#),
    ("{{ $x=1 }}", "{}"),
    ("{{ .Values.m.a.b }}", r#"{"m": {"a": [1]}}"#),
    ("{{ with .Values.m }}{{ .a }}{{ end }}{{ with 0 }}x{{ else }}zero{{ end }}", r#"{"m": {"a": "ma"}}"#),
    ("{{ index . \"Values\" \"a\" }}", r#"{"a": "viaindex"}"#),
    ("{{ if and .Values.a (eq .Values.a.b \"x\") }}yes{{ end }}", r#"{"a": {"b": "x"}}"#),
    ("{{ if and .Values.a (eq .Values.a.b \"x\") }}yes{{ else }}no{{ end }}", r#"{}"#),
    // More lexing: trim markers, comments, characters, numbers.
    ("a \t\n{{- /* c */}}b{{/* c */ -}} \n c{{- /* c */ -}}  d", "{}"),
    ("{{/*x*/}}a{{/* multi\nline */}}b\n{{ bad }}", "{}"),
    ("{{-/* c */}}", "{}"),
    ("{{/* a */ 1 }}", "{}"),
    ("{{- 1 -}}\n\n{{- \"a\" }}{{ \"b\" -}}\t\n", "{}"),
    ("{{ '\\n' }} {{ '\\'' }} {{ '\\x41' }} {{ 'é' }} {{ '\\u00e9' }} {{ \"\\x41\\101\\u00e9\" }}", "{}"),
    ("{{ 1e100 }} {{ -0.0 }} {{ 0x10 }} {{ 1_0.5 }} {{ 0X1P-2 }} {{ 0.1e1 }} {{ 1E2 }} {{ 0x_1F }}", "{}"),
    ("{{ 1__0 }}", "{}"),
    ("{{ 0x }}", "{}"),
    ("{{ 1.2.3 }}", "{}"),
    ("{{ .Values.a.1 }}", r#"{"a": {"1": "x"}}"#),
    ("{{ $.Values.a }}{{ $ := 1 }}", r#"{"a": 1}"#),
    ("{{ .Values.é }}", r#"{"é": "unicode"}"#),
    ("{{ .Values.a-b }}", r#"{}"#),
    ("{{ . Values }}", "{}"),
    ("{{ printf \"%s\" \"a\" \"b\" | printf \"%s\" }}", "{}"),
    ("{{ $x := 1 }}{{ range $x = .Values.l }}{{ $x }}{{ end }}{{ $x }}", r#"{"l": [5, 6]}"#),
    ("{{ $i := 0 }}{{ $v := 0 }}{{ range $i, $v = .Values.l }}{{ end }}{{ $i }}-{{ $v }}", r#"{"l": ["a", "b"]}"#),
    ("{{ range $i, $v := .Values.l }}{{ $i }}{{ else }}E{{ end }}{{ range $k, $v := .Values.m }}{{ $k }}{{ else }}M{{ end }}", r#"{"l": [], "m": {}}"#),
    ("{{ if $x := .Values.a }}{{ $x }}{{ else if $y := .Values.b }}{{ $x }}{{ $y }}{{ end }}", r#"{"a": 0, "b": 2}"#),
    ("{{ with $x := .Values.a }}A{{ else with $y := .Values.b }}{{ $y }}{{ else }}none{{ $x }}{{ end }}", r#"{"a": 0, "b": 0}"#),
    ("{{ if .Values.a }}1{{ else if .Values.b }}2{{ else if .Values.c }}3{{ else }}4{{ end }}", r#"{"c": 1}"#),
    ("{{ if 1 }}a{{ else }}b{{ else }}c{{ end }}", "{}"),
    ("{{ with 1 }}a{{ else if 1 }}b{{ end }}", "{}"),
    ("{{ range .Values.l }}{{ range . }}{{ . }}{{ break }}{{ end }};{{ end }}", r#"{"l": [[1, 2], [3, 4]]}"#),
    ("{{ range .Values.l }}{{ if . }}{{ continue }}{{ end }}x{{ end }}", r#"{"l": [1, 0, 1]}"#),
    ("{{ define \"t\" }}{{ range . }}{{ break }}{{ end }}{{ end }}{{ template \"t\" .Values.l }}ok", r#"{"l": [1]}"#),
    ("{{ define \"t\" }}{{ break }}{{ end }}", "{}"),
    ("{{ range .Values.l }}{{ define \"u\" }}{{ continue }}{{ end }}{{ end }}", r#"{"l": [1]}"#),
    ("{{ .Values.m }} {{ .Values.l }}", r#"{"m": {"a": null, "b": [null], "c": {}}, "l": [[], {}, 1.5, "s s"]}"#),
    ("{{ printf \"%v %v %v %v\" 1e-5 0.000123 -1e-7 1e+300 }} {{ .Values.f }}", r#"{"f": 1e21}"#),
    ("{{ printf \"%.2f %.3e %g %G %.10g\" .Values.f .Values.f .Values.f .Values.f .Values.f }}", r#"{"f": 0.1234567890123}"#),
    ("{{ printf \"%5.1f|%-7.2e|%07.2f|%+g|% g\" -2.25 2.5 -1.5 1.0 1.0 }}", "{}"),
    ("{{ printf \"%x %X %o %b %c %U\" .Values.f .Values.f .Values.f .Values.f .Values.f .Values.f }}", r#"{"f": 10}"#),
    ("{{ printf \"%s|%10v|%-10v|%v\" .Values.m .Values.l .Values.l .Values.n }}", r#"{"m": {"a": 1}, "l": [1, "a"], "n": null}"#),
    ("{{ printf \"%d|%5d|%s\" .Values.l .Values.l .Values.m }}", r#"{"l": [1, 2], "m": {"k": 1}}"#),
    ("{{ printf \"%t|%q|%x\" .Values.b .Values.l .Values.l }}", r#"{"b": 1, "l": ["a", "b"]}"#),
    ("{{ printf \"%[1]s %[1]q %[2]*[1]s|\" \"x\" 4 }}", "{}"),
    ("{{ printf \"%.*f|%-*d|\" 2 3.14159 -4 7 }}", "{}"),
    ("{{ printf \"%[0]d %[x]d %[1]\" 1 }}", "{}"),
    ("{{ printf \"%v\" }} {{ printf \"%z %!\" 1 }}", "{}"),
    ("{{ print }}|{{ print nil }}|{{ print \"a\" 1 2 \"b\" }}|{{ println }}|", "{}"),
    ("{{ print .Values.m .Values.l }}", r#"{"m": {}, "l": ["x"]}"#),
    ("{{ html .Values.l }} {{ js 1 2 }} {{ urlquery \"?\" .Values.missing }}", r#"{"l": ["<a>"]}"#),
    ("{{ js \"\\u2028\\u00a0\\t\\x7f\" }}", "{}"),
    ("{{ len .Values.s }} {{ index .Values.s 0 }} {{ len .Values.l }}", r#"{"s": "héllo", "l": [[1], 2]}"#),
    ("{{ index .Values.l 0 0 }} {{ index .Values.l -1 }}", r#"{"l": [[7]]}"#),
    ("{{ index .Values.l 1.0 }}", r#"{"l": [1, 2]}"#),
    ("{{ index .Values.m nil }}", r#"{"m": {}}"#),
    ("{{ index nil 1 }}", "{}"),
    ("{{ index .Values.n }}", r#"{"n": 5}"#),
    ("{{ index .Values.m.a \"b\" }}", r#"{"m": {"a": null}}"#),
    ("{{ not .Values.missing }} {{ not .Values.l }} {{ not nil }}", r#"{"l": [0]}"#),
    ("{{ not 1 2 }}", "{}"),
    ("{{ and 1 .Values.missing }}|{{ or .Values.missing \"\" }}|{{ and \"a\" .Values.l }}", r#"{"l": []}"#),
    ("{{ eq .Values.a .Values.b }} {{ eq .Values.s \"x\" \"y\" }} {{ ne .Values.s \"x\" }} {{ lt .Values.a .Values.b }}", r#"{"a": 1.5, "b": 1.5, "s": "y"}"#),
    ("{{ eq .Values.t true }} {{ eq .Values.n nil }} {{ eq nil nil }} {{ lt \"a\" \"b\" }} {{ ge 2 2 }} {{ gt 1.5 2.5 }}", r#"{"t": true, "n": null}"#),
    ("{{ eq .Values.m .Values.m }}", r#"{"m": {}}"#),
    ("{{ eq .Values.l 1 }}", r#"{"l": []}"#),
    ("{{ gt .Values.l 1 }}", r#"{"l": []}"#),
    ("{{ le 1 1.5 }}", "{}"),
    ("{{ lt nil 1 }}", "{}"),
    ("{{ .Values.a.b.c.d }}", r#"{"a": {"b": {}}}"#),
    ("{{ .Values.a.b }}", r#"{"a": [1]}"#),
    ("{{ (index .Values.l 0).x }} {{ (.Values.m).k.j }}", r#"{"l": [{"x": "X"}], "m": {"k": {"j": "J"}}}"#),
    ("{{ (index .Values.l 0).x }}", r#"{"l": [null]}"#),
    ("{{ (.Values.missing).x }}", r#"{}"#),
    ("{{ \"str\".x }}", "{}"),
    ("{{ $x := \"s\" }}{{ $x.y }}", "{}"),
    ("{{ .Values.f.g 1 }}", r#"{"f": {"g": 1}}"#),
    ("{{ $ 1 }}", r#"{}"#),
    ("{{ (1) 2 }}", "{}"),
    ("{{ true 1 }}", "{}"),
    ("{{ template \"a\" }}{{ define \"a\" }}A{{ template \"b\" . }}{{ end }}{{ define \"b\" }}[{{ . }}]{{ end }}", "{}"),
    ("{{ block \"bb\" . }}default{{ end }}{{ define \"bb\" }}override{{ end }}", "{}"),
    ("{{ define \"x.yaml\" }}shadow{{ end }}", "{}"),
    ("{{ define \"x.yaml\" }}shadow{{ end }}body", "{}"),
    ("{{ define \"e\" }}{{ end }}[{{ template \"e\" }}]", "{}"),
    ("{{ define 1 }}{{ end }}", "{}"),
    ("{{ define \"a\" }}", "{}"),
    ("{{ define \"a\" }}{{ else }}{{ end }}", "{}"),
    ("{{ template \"a\" | printf }}", "{}"),
    ("{{ if }}", "{}"),
    ("{{ range }}{{ end }}", "{}"),
    ("{{ with }}{{ end }}", "{}"),
    ("{{ end 1 }}", "{}"),
    ("{{ else 1 }}", "{}"),
    ("{{ if 1 }}{{ else }}{{ else }}{{ end }}", "{}"),
    ("{{ $x := }}", "{}"),
    ("{{ $x := 1 | }}", "{}"),
    ("{{ | 1 }}", "{}"),
    ("{{ printf \"a\" 1 | }}", "{}"),
    ("{{ ) }}", "{}"),
    ("{{ (1 }}", "{}"),
    ("{{ () }}", "{}"),
    ("{{ 1 , 2 }}", "{}"),
    ("{{ @ }}", "{}"),
    ("{{ .a@ }}", "{}"),
    ("{{ $a@ }}", "{}"),
    ("{{ ab@ }}", "{}"),
    ("{{ 1 :x }}", "{}"),
    ("{{ \"\\q\" }}", "{}"),
    ("text {{ if 1 }}\n{{ end }\nmore", "{}"),
    ("a\nb\n{{ 1 }}\n{{ .Values.x.y.z }}", "{}"),
    ("a\n{{ define \"d\" }}\n\n{{ .x.y }}{{ end }}{{ template \"d\" .Values }}", r#"{"x": null}"#),
    ("{{ if 1 }}\n{{ 1 \n", "{}"),
    ("{{ \"a\nb\" }}", "{}"),
    ("{{\n.Values.a\n}}", r#"{"a": "nl"}"#),
    ("{{ 1 -}}\n{{- \"x\" }}{{ - 1 }}", "{}"),
    ("{{ -1 -}} {{ 3 - 1 }}", "{}"),
    ("a \n{{-\n1\n-}}\n b {{-\t2\t-}} c", "{}"),
    ("a {{- -}} b", "{}"),
    ("a {{-1}} b {{ 1-}} c", "{}"),
    ("{{ 1. }} {{ 0.5e+2 }} {{ 1e-2 }} {{ -0x10 }} {{ 0b_1 }}", "{}"),
    ("{{ printf \"%q|%+q|%x\" \"\\u200b\\u00ad\\u0301é中\" \"中\" \"中\" }} {{ js \"\\u200b中\" }}", "{}"),
    ("{{ printf \"%#v|%#v|%#v\" 1.0 1e21 \"a\\tb\" }}", "{}"),
    ("{{ printf \"%#x|%#o|%#b|%#X|%O\" 255 8 5 255 8 }}", "{}"),
    ("{{ printf \"%e|%.0e|%#.0f|%#e|%b|%x|%X\" 0.0 1234.5 1.0 1.0 1.0 1.0 -0.5 }}", "{}"),
    ("{{ printf \"%6.3v|%.3v|%10.4e|%-10.1g|\" 1234.5678 0.000012345 -1234.5678 99.0 }}", "{}"),
    ("{{ printf \"%v %v %v\" .Values.a .Values.b .Values.c }}", r#"{"a": 1e-320, "b": 1.7976931348623157e308, "c": 0.30000000000000004}"#),
    ("{{ if 1 }}{{ define \"a\" }}{{ end }}{{ end }}", "{}"),
    ("{{ define \"a\" }}{{ define \"b\" }}{{ end }}{{ end }}", "{}"),
    ("{{ define \"t\" }}[{{ . }}]{{ end }}{{ template \"t\" $x := 5 }}{{ $x }}", "{}"),
    ("{{ define \"t\" }}{{ $ }}{{ end }}{{ $y := 1 }}{{ template \"t\" \"dot\" }}", "{}"),
    ("{{ define \"t\" }}{{ $y }}{{ end }}{{ $y := 1 }}", "{}"),
    // Go maps are references: set and unset change the map every reference sees.
    ("{{ $d := dict \"a\" 1 }}{{ $_ := set $d \"z\" 26 }}{{ $d }} {{ $e := $d }}{{ $_ := unset $e \"a\" }}{{ $d }} {{ len $d }}", "{}"),
    ("{{ $_ := set .Values.a.b \"k\" \"v\" }}{{ .Values.a }} {{ .Values.a.b.k }} {{ .Values }}", r#"{"a": {"b": {"c": 1}}, "l": [{"x": 1}]}"#),
    ("{{ define \"t\" }}{{ .Values.a.b.k }}{{ end }}{{ $_ := set .Values.a.b \"k\" \"v\" }}{{ template \"t\" . }}{{ include \"t\" . }}", r#"{"a": {"b": {"c": 1}}}"#),
    ("{{ $d := dict }}{{ if $d }}T{{ else }}F{{ end }}{{ $_ := set $d \"k\" 1 }}{{ if $d }}T{{ else }}F{{ end }}{{ range $k, $v := $d }}{{ $k }}{{ end }}{{ and $d 1 }}", "{}"),
    ("{{ $d := dict \"n\" (dict) }}{{ $_ := set $d.n \"x\" 1 }}{{ $_ := set $d \"y\" 2 }}{{ $_ := set $d.n \"z\" 3 }}{{ $d }} {{ index $d \"n\" \"z\" }}", "{}"),
    ("{{ $l := list (dict) }}{{ $_ := set (index $l 0) \"k\" 1 }}{{ $l }} {{ printf \"%v\" $l }}", "{}"),
    ("{{ $d := dict }}{{ $x := set $d \"a\" 1 }}{{ $_ := set $x \"b\" 2 }}{{ $d }} {{ $x }}", "{}"),
    ("{{ $d := dict }}{{ $_ := set $d \"self\" 1 }}{{ range $i := list 1 2 3 }}{{ $_ := set $d (print $i) $i }}{{ end }}{{ $d }}", "{}"),
    ("{{ $o := dict \"n\" \"app\" \"in\" (dict \"k\" 1) }}{{ $c := deepCopy $o }}{{ $_ := set $c \"n\" \"changed\" }}{{ $_ := set $c.in \"k\" 2 }}{{ $c.n }} {{ $o.n }} {{ $o.in.k }} {{ $c.in.k }}", "{}"),
    ("{{ $a := dict \"n\" (dict \"x\" 1) }}{{ $n := $a.n }}{{ $_ := merge $a (dict \"n\" (dict \"y\" 2) \"z\" 3) }}{{ $n }} {{ $a }}", "{}"),
    ("{{ $a := dict \"n\" (dict \"x\" 1) }}{{ $n := $a.n }}{{ $_ := mergeOverwrite $a (dict \"n\" (dict \"x\" 2)) }}{{ $n }} {{ $a }}", "{}"),
    ("{{ $_ := merge .Values.a (dict \"m\" 1) }}{{ .Values.a }} {{ .Values }}", r#"{"a": {"b": {"c": 1}}}"#),
    // fmt: verbs, flags, widths, precisions and argument indexes.
    ("{{ printf \"%08q|%-8q|%+s|% s|%#s|%#v\" \"a\" \"b\" \"c\" \"d\" \"e\" \"f\" }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%.2U|%.6U|%08U|%c|%c|%q\" 65 65 65 -1 1114112 -1 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%6.2x|%-6X|%#08x|% x|% X|%#x\" 255 255 255 -255 \"ab\" \"ab\" }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%o|%#o|%O|%b|%#b|%08b\" -8 0 -8 -5 5 5 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%x|%.2x|%10.3x|%-10x|\" \"hello\" \"hello\" \"hello\" \"hi\" }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%5t|%-6t|%q|%v\" false true true nil }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%e|%E|%.3E|%g|%G|%.3G\" 1e-10 1e+10 123456.0 1e-5 1e-5 1e-5 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%f|%.0f|%.1f|%.15f|%.20f\" 1e15 1e15 1e-15 0.1 0.1 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%g|%g|%g|%g|%.1g|%.0g\" 1e6 999999.0 0.0001 0.00001 15.0 2.5 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%+.3e|% .3e|%+g|%+v|%+d\" 1.0 1.0 -0.0 1.5 0 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%010.3f|%-010.3f|%+010.3f|% 010.3f\" 3.14159 3.14159 3.14159 3.14159 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%s|%v|%d\" .Values.f .Values.f .Values.f }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%5.1v|%-5v|%05v\" .Values.l .Values.l .Values.l }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%[2]v %[1]v %v %[1]T\" \"a\" 2 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%[1]*d|%[2]*[1]d\" 3 5 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%.*[1]d|\" 3 5 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%-*d|%*d|\" 3 1 -3 2 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%.[2]d\" 1 2 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%*.*f|\" 8 2 3.14159 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%d %%d %d\" 1 2 }} {{ printf \"%%\" }} {{ printf \"%5%\" }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%v\" .Values.m }} {{ printf \"%+v\" .Values.m }} {{ printf \"%#v\" .Values.m }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%s\" .Values.m }} {{ printf \"%d\" .Values.m }} {{ printf \"%x\" .Values.m }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%v|%s|%q\" .Values.n .Values.n .Values.n }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%T|%T|%T|%T|%T\" 1 1.5 \"s\" true .Values.l }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%10T|%-10T|\" 1 \"s\" }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%v %v\" 1e-7 123456789012345678.0 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%.3v|%.0v|%#.3v\" 3.14159 3.14159 3.0 }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%c%c%c\" 72 105 0x263A }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    ("{{ printf \"%08.3s|%8.3q|\" \"abcdef\" \"abcdef\" }}", r#"{"f": 1.5, "l": [1, 22, "x"], "m": {"a": [1, "b"], "c": null, "d": 1.5}, "n": null}"#),
    // Functions with typed parameters, and how Go words their misuse.
    ("{{ upper \"a\" }} {{ \"b\" | upper }} {{ .Values.s | upper }}", r#"{"s": "c"}"#),
    ("{{ upper .Values.missing }}", "{}"),
    ("{{ .Values.missing | upper }}", "{}"),
    ("{{ upper 1 }}", "{}"),
    ("{{ upper .Values.n }}", r#"{"n": 1.5}"#),
    ("{{ 1 | upper }}", "{}"),
    ("{{ upper nil }}", "{}"),
    ("{{ upper \"a\" \"b\" }}", "{}"),
    ("{{ upper true }}", "{}"),
    ("{{ upper (len \"ab\") }}", "{}"),
    ("{{ fail \"stop here\" }}", "{}"),
    ("x\n  {{ if true }}{{ fail (printf \"%s!\" \"boom\") }}{{ end }}", "{}"),
    // include and tpl through the executor's Host.
    ("{{ define \"h\" }}[{{ .a }}]{{ end }}{{ include \"h\" .Values }}{{ include \"h\" .Values | upper }}", r#"{"a": "x"}"#),
    ("{{ tpl .Values.t . }}", r#"{"t": "{{ .Values.a }}-{{ upper .Values.a }}", "a": "v"}"#),
    ("{{ define \"d\" }}D{{ end }}{{ tpl \"{{ include \\\"d\\\" . }}{{ define \\\"z\\\" }}Z{{ end }}{{ template \\\"z\\\" }}\" . }}", "{}"),
    ("{{ tpl .Values.t . }}", r#"{"t": "{{ .Values.a.b.c }}"}"#),
    ("{{ tpl .Values.t . }}", r#"{"t": "{{ 1 }"}"#),
    ("{{ tpl .Values.t . }}", r#"{"t": "{{ template \"nope\" }}"}"#),
    ("{{ tpl \"\" . }}|{{ tpl \"{{ .Values.missing }}\" . }}|", "{}"),
];

/// Helm v4 keeps only the last `: `-separated part of a parse error's
/// message; ours must end with it and agree on the location.
fn same_result(got: &Result<String, String>, want: &Result<String, String>) -> bool {
    match (got, want) {
        (Err(g), Err(w)) if w.starts_with("execution error at (") => {
            // Helm shows a `fail` as "execution error at (LOC): MSG".
            let Some((loc, msg)) = w["execution error at (".len()..].split_once("): ") else { return false };
            g.starts_with(&format!("template: {loc}: executing ")) && g.ends_with(&format!(": error calling fail: {msg}"))
        }
        (Err(g), Err(w)) if g != w => {
            let loc = |s: &str| s.splitn(3, ": ").take(2).collect::<Vec<_>>().join(": ");
            let is_parse = |s: &str| loc(s).rsplit(':').next().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
            is_parse(w) && loc(g) == loc(w) && g.ends_with(w.splitn(3, ": ").nth(2).unwrap_or("\u{0}"))
        }
        _ => got == want,
    }
}

/// Charts of several files: defines shared between them, and errors inside
/// a define named by the file it was written in.
const MULTI: &[(&[(&str, &str)], &str)] = &[
    (&[("_helpers.tpl", "{{- define \"c.name\" -}}{{ .Values.name }}-{{ .Values.x.y }}{{- end }}"), ("x.yaml", "name: {{ template \"c.name\" . }}")], r#"{"name": "n", "x": {"y": 1}}"#),
    (&[("_helpers.tpl", "\n\n{{- define \"c.name\" -}}\n  {{ .Values.x.y.z }}\n{{- end }}"), ("x.yaml", "name: {{ include \"c.name\" . }}")], r#"{}"#),
    (&[("_helpers.tpl", "{{ define \"h\" }}{{ fail \"in helper\" }}{{ end }}"), ("x.yaml", "a\nb: {{ template \"h\" . }}")], r#"{}"#),
    (&[("a.yaml", "{{ define \"h\" }}from a{{ end }}"), ("x.yaml", "{{ template \"h\" }}")], r#"{}"#),
    // A change in place to .Values in one template is seen by those Helm
    // executes after it (z.yaml before x.yaml; the list is in Helm's order).
    (&[("z.yaml", "{{ $_ := set .Values \"added\" \"by z\" }}"), ("x.yaml", "[{{ .Values.added }}]")], r#"{}"#),
    (&[("z.yaml", "{{ $_ := set .Values.m \"added\" \"by z\" }}"), ("x.yaml", "[{{ .Values.m.added }}] {{ .Values }}")], r#"{"m": {}}"#),
];

#[test]
fn multi_file_charts_render_as_helm_renders_them() {
    let Some(py) = crate::oracle::python() else { return };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = MULTI.iter().map(|(f, v)| (f.to_vec(), *v)).collect();
    let want = run_oracle(&py, &cases);
    let mut failures = Vec::new();
    for ((files, values), want) in cases.iter().zip(want) {
        let got = render_files(files, values);
        if !same_result(&got, &want) {
            failures.push(format!("files {files:?}\n  values {values}\n  helm: {want:?}\n  ours: {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} charts differ from Helm:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn snippets_render_as_helm_renders_them() {
    let Some(py) = crate::oracle::python() else { return };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = CASES.iter().map(|(t, v)| (vec![("x.yaml", *t)], *v)).collect();
    let want = run_oracle(&py, &cases);
    let mut failures = Vec::new();
    for ((files, values), want) in cases.iter().zip(want) {
        let got = render_files(files, values);
        if !same_result(&got, &want) {
            failures.push(format!("template {:?}\n  values {values}\n  helm: {want:?}\n  ours: {got:?}", files[0].1));
        }
    }
    assert!(failures.is_empty(), "{} of {} snippets differ from Helm:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
