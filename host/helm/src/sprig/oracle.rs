//! Tests only: Sprig's answers as real Helm gives them. `testdata/exprs.txt`
//! lists template expressions; `testdata/cases.tsv` records, for each, the
//! Go type and `%v` text (a JSON string; or `ERR` and the error) that Helm
//! rendered (regenerate with `python testdata/record.py --tsv
//! testdata/exprs.txt > testdata/cases.tsv`). The first test evaluates
//! every expression with these functions and compares. The second re-asks
//! the oracle (real Helm through helm-python-sdk; `GANTRY_HELM_PYTHON`, else
//! /tmp/helmvenv/bin/python) so the record cannot drift from Helm; it fails
//! when `CI` is set and the oracle is missing, and skips with a message
//! otherwise. The small evaluator here (calls, parentheses, pipes,
//! literals, `.Values.*`, methods of a parenthesized result) stands in for
//! the template engine, which is another module's.

use std::collections::BTreeMap;

use super::tests::call;
use crate::value::Value;

const CASES: &str = include_str!("testdata/cases.tsv");

/// The values the recording chart was rendered with (JSON, so numbers are float64).
fn values() -> Value {
    Value::from(&serde_json::json!({"f": 1.5, "i": 3, "s": "str", "l": [1, "a"], "m": {"a": 1}, "e": "", "z": 0, "nested": {"a": {"b": "deep"}}}))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Pipe,
    Word(String),
    Str(String),
}

fn lex(s: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut it = s.chars().peekable();
    while let Some(&c) = it.peek() {
        match c {
            ' ' => {
                it.next();
            }
            '(' => {
                it.next();
                out.push(Tok::Open);
            }
            ')' => {
                it.next();
                out.push(Tok::Close);
            }
            '|' => {
                it.next();
                out.push(Tok::Pipe);
            }
            '"' => {
                it.next();
                let mut v = String::new();
                while let Some(c) = it.next() {
                    match c {
                        '"' => break,
                        '\\' => match it.next() {
                            Some('n') => v.push('\n'),
                            Some('t') => v.push('\t'),
                            Some('r') => v.push('\r'),
                            Some(u @ ('u' | 'U')) => {
                                let n = if u == 'u' { 4 } else { 8 };
                                let h: String = (0..n).filter_map(|_| it.next()).collect();
                                v.push(u32::from_str_radix(&h, 16).ok().and_then(char::from_u32).unwrap_or('?'));
                            }
                            Some('x') => {
                                let h: String = [it.next(), it.next()].into_iter().flatten().collect();
                                v.push(char::from(u8::from_str_radix(&h, 16).unwrap_or(b'?')));
                            }
                            Some(o) => v.push(o),
                            None => {}
                        },
                        o => v.push(o),
                    }
                }
                out.push(Tok::Str(v));
            }
            '`' => {
                it.next();
                let mut v = String::new();
                for c in it.by_ref() {
                    if c == '`' {
                        break;
                    }
                    v.push(c);
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let mut w = String::new();
                while let Some(&c) = it.peek() {
                    if " ()|".contains(c) {
                        break;
                    }
                    w.push(c);
                    it.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    out
}

type R = Result<Value, (String, crate::func::FuncError)>;

/// pipeline := command ('|' command)*
fn pipeline(toks: &[Tok], pos: &mut usize) -> R {
    let mut prev: Option<Value> = None;
    loop {
        let v = command(toks, pos, prev.take())?;
        prev = Some(v);
        if toks.get(*pos) == Some(&Tok::Pipe) {
            *pos += 1;
            continue;
        }
        return Ok(prev.unwrap_or(Value::Nil));
    }
}

fn command(toks: &[Tok], pos: &mut usize, piped: Option<Value>) -> R {
    let first = toks.get(*pos).cloned();
    let name = match first {
        Some(Tok::Word(w)) if w.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && !matches!(w.as_str(), "true" | "false" | "nil") => {
            *pos += 1;
            w
        }
        _ => {
            let v = operand(toks, pos)?;
            return Ok(v);
        }
    };
    let mut args = Vec::new();
    while let Some(t) = toks.get(*pos) {
        if matches!(t, Tok::Close | Tok::Pipe) {
            break;
        }
        args.push(operand(toks, pos)?);
    }
    if let Some(p) = piped {
        args.push(p);
    }
    call(&name, &args).map_err(|e| (name.clone(), e))
}

fn operand(toks: &[Tok], pos: &mut usize) -> R {
    let t = toks.get(*pos).cloned();
    *pos += 1;
    match t {
        Some(Tok::Open) => {
            let v = pipeline(toks, pos)?;
            *pos += 1; // ')'
            // `(semver "1.2.3").Major`: a method of the result.
            if let Some(Tok::Word(w)) = toks.get(*pos) {
                if let (Some(field), Value::Object(o)) = (w.strip_prefix('.'), &v) {
                    *pos += 1;
                    return match o.member(field) {
                        Some(crate::value::Member::Method(m)) => m(&[]).map_err(|e| (field.to_string(), e)),
                        Some(crate::value::Member::Field(f)) => Ok(f),
                        None => panic!("no member {field}"),
                    };
                }
            }
            Ok(v)
        }
        Some(Tok::Str(s)) => Ok(Value::from(s)),
        Some(Tok::Word(w)) => Ok(match w.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "nil" => Value::Nil,
            p if p.starts_with(".Values") => {
                let mut v = values();
                for k in p.split('.').skip(2) {
                    v = v.get(k).unwrap_or(Value::Nil);
                }
                v
            }
            f if f.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) => {
                // A function name as an operand is a call without arguments.
                return call(f, &[]).map_err(|e| (f.to_string(), e));
            }
            n if n.contains(['.', 'e']) && !n.starts_with("0x") => Value::Float(n.parse().unwrap_or(f64::NAN)),
            n => Value::int(super::conv::parse_int_base0(n).unwrap_or(0)),
        }),
        other => panic!("unexpected token {other:?}"),
    }
}

fn render(r: &R) -> (String, String) {
    match r {
        Ok(v) => {
            let shown = if v.is_nil() { String::new() } else { crate::template::fmt::sprint(v) };
            (v.type_name(), shown)
        }
        Err((name, e)) => ("ERR".into(), e.render(name)),
    }
}

/// Go's executor refuses a literal of the wrong type before any call
/// ("expected string; found 5"); that wording is the template engine's, and
/// ours, without the literal, is the one Go gives for a value of that type.
fn literal_refusal(ty: &str, out: &str, gty: &str, gout: &str) -> bool {
    if ty != "ERR" || gty != "ERR" {
        return false;
    }
    let want = if let Some(rest) = out.strip_prefix("expected ") {
        match rest.split_once("; found ") {
            Some(("integer", _)) => "int",
            Some((w, _)) => w,
            None => return false,
        }
    } else if let Some(t) = out.strip_prefix("cannot assign nil to ") {
        t
    } else if let Some((_, t)) = out.split_once(" for arg of type ") {
        // "can't handle "x" for arg of type map[string]interface {}"
        t
    } else {
        return false;
    };
    gout.starts_with(&format!("wrong type for value; expected {want}; got "))
}

/// Where these functions knowingly differ from Helm (the report names them).
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[("mustRegexFind \"(?P<x>a)(?P<x>b)\" \"ab\"", "Go accepts duplicate group names; the regex crate refuses them")];

fn eval(expr: &str) -> R {
    let toks = lex(expr);
    let mut pos = 0;
    pipeline(&toks, &mut pos)
}

fn cases() -> Vec<(&'static str, &'static str, String)> {
    CASES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut p = l.splitn(3, '\t');
            let expr = p.next().unwrap_or("");
            let ty = p.next().unwrap_or("");
            let out: String = serde_json::from_str(p.next().unwrap_or("")).unwrap_or_else(|e| panic!("bad case line {l:?}: {e}"));
            (expr, ty, out)
        })
        .collect()
}

#[test]
fn sprig_answers_match_recorded_helm() {
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() > 100, "the case table is missing");
    for (expr, ty, out) in &all {
        let (gty, gout) = render(&eval(expr));
        if literal_refusal(ty, out, &gty, &gout) || KNOWN_DIFFERENCES.iter().any(|(e, _)| e == expr) {
            continue;
        }
        if (gty.as_str(), gout.as_str()) != (*ty, out.as_str()) {
            failures.push(format!("{expr}\n   helm: {ty} {out:?}\n   ours: {gty} {gout:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), all.len(), failures.join("\n"));
}

#[test]
fn recorded_answers_are_still_helms() {
    let Some(py) = crate::oracle::python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let all = cases();
    let exprs: Vec<&str> = all.iter().map(|c| c.0).collect();
    let input = dir.path().join("exprs.json");
    std::fs::write(&input, serde_json::to_string(&exprs).expect("json")).expect("write");
    let script = include_str!("testdata/record.py");
    let out = std::process::Command::new(&py).arg("-c").arg(script).arg(&input).arg(dir.path()).output().expect("run oracle");
    assert!(out.status.success(), "oracle failed: {}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<(String, String)> = serde_json::from_slice(&out.stdout).expect("oracle output");
    let mut diffs = Vec::new();
    for ((expr, ty, text), (gty, gtext)) in all.iter().zip(got.iter()) {
        if (ty.to_string(), text.clone()) != (gty.clone(), gtext.clone()) {
            diffs.push(format!("{expr}: recorded {ty} {text:?}, helm now {gty} {gtext:?}"));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    let _: BTreeMap<(), ()> = BTreeMap::new();
}
