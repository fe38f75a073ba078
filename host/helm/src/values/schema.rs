//! `values.schema.json` validation as Helm 4 does it (santhosh-tekuri/jsonschema
//! v6): each chart's schema against its own values, subcharts against their
//! sections, errors worded, nested and grouped as Helm prints them
//! (`- at '/port': got string, want integer`, numbers as golang.org/x/text
//! prints them: `70,000`, `1×10⁰⁷`). Drafts 4, 6, 7, 2019-09 and 2020-12
//! (the default), their keywords and formats (asserted before 2019 only).
//!
//! It must not fetch remote schemas (Helm would, over HTTP or from local
//! files; gantry sends no traffic): such a `$ref` is an error. Knowing
//! differences: Go validates an object's properties in random map order, so
//! Helm's order of sibling errors varies from run to run; here properties go
//! in sorted order. Metaschema checks cover invalid `type` names, numeric
//! keywords that are not numbers and bad `pattern`s only; `$dynamicRef`,
//! `$recursiveRef`, `content*` and `dependentSchemas`' annotations for
//! `unevaluatedItems` are not implemented.

use std::collections::BTreeMap;

use serde_json::Value as J;

use super::strvals::go_quote_rune;
use crate::chart::Chart;
use crate::value::Value;

const SCHEMA_URL: &str = "file:///values.schema.json";

/// A schema failure; the message is Helm's `ValidateAgainstSchema` error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SchemaError {
    pub message: String,
}

impl SchemaError {
    /// The error as a render or install reports it.
    pub fn render_message(&self) -> String {
        format!("values don't meet the specifications of the schema(s) in the following chart(s):\n{}", self.message)
    }
}

/// Helm's `ValidateAgainstSchema`: `values` are the chart's coalesced values;
/// each subchart's section is checked against the subchart's schema.
pub fn validate(chart: &Chart, values: &Value) -> Result<(), SchemaError> {
    let mut sb = String::new();
    validate_into(chart, values, &mut sb, 0);
    if sb.is_empty() {
        Ok(())
    } else {
        Err(SchemaError { message: sb })
    }
}

const MAX_CHART_DEPTH: usize = 64;

fn validate_into(chart: &Chart, values: &Value, sb: &mut String, depth: usize) {
    if depth > MAX_CHART_DEPTH {
        return;
    }
    if let Some(schema) = &chart.schema {
        if let Err(e) = validate_single(values, schema) {
            sb.push_str(&format!("{}:\n", chart.name()));
            sb.push_str(&e);
        }
    }
    for sub in &chart.dependencies {
        let raw = values.get(sub.name());
        match &raw {
            None | Some(Value::Nil) => continue,
            Some(v) if super::is_table(v) => validate_into(sub, v, sb, depth + 1),
            Some(other) => {
                sb.push_str(&format!("{}:\ninvalid type for values: expected object (map), got {}\n", sub.name(), other.type_name()));
            }
        }
    }
}

/// Helm's `ValidateAgainstSingleSchema`: the error text as Helm prints it
/// (a validation failure ends in a newline; a broken schema does not).
pub fn validate_single(values: &Value, schema_json: &[u8]) -> Result<(), String> {
    let root: J = parse_schema_json(schema_json)?;
    let draft = draft_of(&root);
    check_metaschema(&root, draft)?;
    let scopes = std::cell::RefCell::new(Vec::new());
    let v = Validator { root: &root, draft, depth: 0, kw_loc: String::new(), sloc: String::new(), vid: 0, scopes: &scopes };
    match v.enter(&root, values, &mut Vec::new())? {
        None => Ok(()),
        Some(err) => {
            let causes = match err.kind {
                Kind::Group => err.causes,
                _ => vec![err],
            };
            let mut out = String::new();
            for c in &causes {
                display(c, &mut out, 1);
            }
            // Helm trims "jsonschema validation failed with '…#'\n" and adds "\n".
            Err(format!("{}\n", out.trim_start_matches('\n')))
        }
    }
}

/// jsonschema's `UnmarshalJSON`: one JSON document, encoding/json's errors,
/// nothing after it.
fn parse_schema_json(data: &[u8]) -> Result<J, String> {
    let (_, used) = super::strvals::go_json_decode(data)?;
    if data[used..].iter().any(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
        return Err("invalid character after top-level value".into());
    }
    serde_json::from_slice(data).map_err(|e| e.to_string())
}

fn draft_of(root: &J) -> u32 {
    let Some(s) = root.get("$schema").and_then(J::as_str) else { return 2020 };
    if s.contains("draft-04") {
        4
    } else if s.contains("draft-06") {
        6
    } else if s.contains("draft-07") {
        7
    } else if s.contains("2019-09") {
        2019
    } else {
        2020
    }
}

/// What went wrong, as jsonschema's `kind` words it.
#[derive(Debug)]
enum Kind {
    Group,
    Reference,
    Msg(String),
}

#[derive(Debug)]
struct VErr {
    loc: Vec<String>,
    kind: Kind,
    causes: Vec<VErr>,
}

fn display(e: &VErr, out: &mut String, indent: usize) {
    let skip = matches!(e.kind, Kind::Reference) && e.causes.len() == 1;
    let mut indent = indent;
    if !skip {
        out.push('\n');
        for _ in 0..indent.saturating_sub(1) {
            out.push_str("  ");
        }
        out.push_str("- ");
        indent += 1;
        let msg = match &e.kind {
            Kind::Group | Kind::Reference => "validation failed",
            Kind::Msg(m) => m,
        };
        out.push_str(&format!("at {}: {msg}", quote(&json_ptr(&e.loc))));
    }
    for c in &e.causes {
        display(c, out, indent);
    }
}

fn json_ptr(tokens: &[String]) -> String {
    tokens.iter().map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1"))).collect()
}

/// jsonschema's `quote`: Go's `%q` with `"` unescaped and `'` escaped, in single quotes.
fn quote(s: &str) -> String {
    let q = crate::chart::go_quote(s);
    let inner = &q[1..q.len() - 1];
    format!("'{}'", inner.replace("\\\"", "\"").replace('\'', "\\'"))
}

fn join_quoted(items: &[String]) -> String {
    items.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")
}

/// `fmt.Sprintf("%v")` of a schema value, as `display` shows enum and const members.
fn display_value(v: &J) -> String {
    match v {
        J::String(s) => quote(s),
        J::Array(_) | J::Object(_) => "value".into(),
        J::Null => "<nil>".into(),
        J::Bool(b) => b.to_string(),
        J::Number(n) => n.to_string(),
    }
}

fn display_instance(v: &Value) -> String {
    match v {
        Value::String(s) => quote(s),
        Value::List(_) | Value::Map(_) => "value".into(),
        Value::Nil => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Float(f) => crate::values::strvals::go_float_v(*f),
        Value::Int(i, _) => i.to_string(),
        other => format!("{other:?}"),
    }
}

/// golang.org/x/text/message's `%v` of a float64: digits grouped by
/// thousands, or `1.5×10⁰⁷` where Go's `%v` would write an exponent.
fn x_text_float(f: f64) -> String {
    let g = crate::yaml::json::format_float_g(f, 64);
    if let Some((mant, exp)) = g.split_once('e') {
        let neg = exp.starts_with('-');
        let digits = exp.trim_start_matches(['+', '-']);
        let sup: String = digits
            .chars()
            .map(|c| match c {
                '0' => '⁰',
                '1' => '¹',
                '2' => '²',
                '3' => '³',
                '4' => '⁴',
                '5' => '⁵',
                '6' => '⁶',
                '7' => '⁷',
                '8' => '⁸',
                _ => '⁹',
            })
            .collect();
        return format!("{mant}×10{}{sup}", if neg { "⁻" } else { "" });
    }
    let (sign, body) = match g.strip_prefix('-') {
        Some(b) => ("-", b),
        None => ("", g.as_str()),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, fr)) => (i, Some(fr)),
        None => (body, None),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(fr) => format!("{sign}{grouped}.{fr}"),
        None => format!("{sign}{grouped}"),
    }
}

/// x/text's `%d`: digits grouped by thousands.
fn x_text_int(i: usize) -> String {
    x_text_float(i as f64)
}

fn json_type(v: &Value) -> Option<&'static str> {
    Some(match v {
        Value::Nil => "null",
        Value::Bool(_) => "boolean",
        Value::Int(..) | Value::Float(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "array",
        Value::Map(m) if m.elem == "interface {}" => "object",
        _ => return None,
    })
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Int(i, _) => Some(*i as f64),
        _ => None,
    }
}

fn is_integer(v: &Value) -> bool {
    match v {
        Value::Int(..) => true,
        Value::Float(f) => f.is_finite() && f.fract() == 0.0,
        _ => false,
    }
}

/// A number as an exact decimal `m × 10^e` of its shortest text (what
/// `big.Rat` reads from `%v`).
fn decimal(f: f64) -> Option<(i128, i32)> {
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e')?;
    let exp: i32 = exp.parse().ok()?;
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let frac_len = mant.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
    let m: i128 = digits.parse().ok()?;
    Some((if neg { -m } else { m }, exp - frac_len))
}

/// Whether `a / b` is an integer, in exact decimal arithmetic.
fn is_multiple(a: f64, b: f64) -> bool {
    if b == 0.0 {
        return false;
    }
    if let (Some((ma, ea)), Some((mb, eb))) = (decimal(a), decimal(b)) {
        let pow = |n: i32| 10i128.checked_pow(n as u32);
        if ea >= eb {
            if let Some(num) = pow(ea - eb).and_then(|p| ma.checked_mul(p)) {
                return num % mb == 0;
            }
        } else if let Some(den) = pow(eb - ea).and_then(|p| mb.checked_mul(p)) {
            return ma % den == 0;
        }
    }
    (a / b).fract() == 0.0
}

/// jsonschema's `equals`: numbers by value, objects by keys.
fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Map(x), Value::Map(y)) => x.len() == y.len() && x.entries().iter().all(|(k, v)| y.entries().get(k).is_some_and(|w| equals(v, w))),
        (Value::List(x), Value::List(y)) => x.items().len() == y.items().len() && x.items().iter().zip(y.items().iter()).all(|(v, w)| equals(v, w)),
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        _ => match (number_of(a), number_of(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

fn equals_json(a: &Value, b: &J) -> bool {
    equals(a, &Value::from(b))
}

struct Validator<'a> {
    root: &'a J,
    draft: u32,
    depth: usize,
    /// Where this scope is, as jsonschema tracks it for `$ref` cycles: the
    /// keyword path from the root, the schema's own location, and which
    /// value (a new id for each child value).
    kw_loc: String,
    sloc: String,
    vid: usize,
    /// The chain of scopes above: schema address, value id, keyword path.
    scopes: &'a std::cell::RefCell<Vec<(usize, usize, String)>>,
}

/// How a subschema is reached from its parent scope.
enum Step {
    /// A child value (`properties`, `items`, …): the schema path below.
    Child(String),
    /// The same value (`allOf`, `not`, `if`, …): the schema path below.
    Same(String),
    /// A `$ref` jump to the schema at this location (a JSON pointer).
    Ref(String),
}

/// A JSON-pointer token.
fn esc(t: &str) -> String {
    t.replace('~', "~0").replace('/', "~1")
}

/// Nesting of subschemas and `$ref`s beyond which validation stops (a
/// `$ref` cycle would never end).
const MAX_DEPTH: usize = 256;

impl<'a> Validator<'a> {
    fn err(&self, loc: &[String], msg: impl Into<String>) -> VErr {
        VErr { loc: loc.to_vec(), kind: Kind::Msg(msg.into()), causes: Vec::new() }
    }

    /// Resolves a local `$ref`.
    fn resolve(&self, r: &str) -> Result<&'a J, String> {
        let Some(frag) = r.strip_prefix('#') else {
            let url = if r.contains("://") || r.starts_with("urn:") { r.to_string() } else { format!("file:///{}", r.trim_start_matches("./")) };
            return Err(format!("failing loading {:?}: remote and file schemas are not loaded by gantry", url));
        };
        if frag.is_empty() {
            return Ok(self.root);
        }
        if let Some(ptr) = frag.strip_prefix('/') {
            let mut cur = self.root;
            for tok in ptr.split('/') {
                let tok = percent_decode(tok).replace("~1", "/").replace("~0", "~");
                cur = match cur {
                    J::Object(o) => o.get(&tok),
                    J::Array(a) => tok.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => None,
                }
                .ok_or_else(|| format!("json-pointer in \"{SCHEMA_URL}#{frag}\" not found"))?;
            }
            return Ok(cur);
        }
        // An anchor: `$anchor` (2019+) or an `$id` of `#name` (before).
        find_anchor(self.root, frag).ok_or_else(|| format!("anchor in \"{SCHEMA_URL}#{frag}\" not found"))
    }

    /// Validates `v` at `loc` against `s`; `Ok(None)` when valid, `Err` when
    /// the schema itself is broken.
    fn validate(&self, s: &'a J, v: &Value, loc: &mut Vec<String>, step: Step) -> Result<Option<VErr>, String> {
        let (kw_loc, sloc, vid) = match step {
            Step::Child(rel) => (format!("{}{rel}", self.kw_loc), format!("{}{rel}", self.sloc), self.vid + 1),
            Step::Same(rel) => (format!("{}{rel}", self.kw_loc), format!("{}{rel}", self.sloc), self.vid),
            Step::Ref(target) => (format!("{}/$ref", self.kw_loc), target, self.vid),
        };
        let sub = Validator { root: self.root, draft: self.draft, depth: self.depth + 1, kw_loc, sloc, vid, scopes: self.scopes };
        if sub.depth > MAX_DEPTH {
            return Ok(Some(self.err(loc, "schema nesting too deep")));
        }
        sub.enter(s, v, loc)
    }

    /// Checks for a `$ref` cycle (the same schema again for the same value),
    /// then validates in this scope.
    fn enter(&self, s: &'a J, v: &Value, loc: &mut Vec<String>) -> Result<Option<VErr>, String> {
        let addr = s as *const J as usize;
        let cycle = {
            let scopes = self.scopes.borrow();
            scopes.iter().rev().take_while(|(_, vid, _)| *vid == self.vid).find(|(a, _, _)| *a == addr).map(|(_, _, k)| k.clone())
        };
        if let Some(other) = cycle {
            let url = crate::chart::go_quote(&format!("{SCHEMA_URL}#{}", self.sloc));
            return Ok(Some(self.err(loc, format!("both {} and {other} resolve to {url} causing reference cycle", self.kw_loc))));
        }
        self.scopes.borrow_mut().push((addr, self.vid, self.kw_loc.clone()));
        let r = self.validate_here(s, v, loc);
        self.scopes.borrow_mut().pop();
        r
    }

    fn validate_here(&self, s: &'a J, v: &Value, loc: &mut Vec<String>) -> Result<Option<VErr>, String> {
        let obj = match s {
            J::Bool(true) => return Ok(None),
            J::Bool(false) => return Ok(Some(self.err(loc, "false schema"))),
            J::Object(o) => o,
            _ => return Ok(None),
        };
        let Some(t) = json_type(v) else {
            return Ok(Some(self.err(loc, format!("invalid jsonType {}", v.type_name()))));
        };
        // type
        if let Some(types) = obj.get("type") {
            let wanted: Vec<&str> = match types {
                J::String(s) => vec![s.as_str()],
                J::Array(a) => a.iter().filter_map(J::as_str).collect(),
                _ => vec![],
            };
            if !wanted.is_empty() {
                let ok = wanted.contains(&t) || (wanted.contains(&"integer") && t == "number" && is_integer(v));
                if !ok {
                    let order = ["null", "boolean", "number", "integer", "string", "array", "object"];
                    let want: Vec<&str> = order.iter().copied().filter(|o| wanted.contains(o)).collect();
                    return Ok(Some(self.err(loc, format!("got {t}, want {}", want.join(" or ")))));
                }
            }
        }
        // const
        if self.draft >= 6 {
            if let Some(c) = obj.get("const") {
                if !equals_json(v, c) {
                    let msg = match c {
                        J::Array(_) | J::Object(_) => "'const' failed".to_string(),
                        other => format!("value must be {}", display_value(other)),
                    };
                    return Ok(Some(self.err(loc, msg)));
                }
            }
        }
        // enum
        if let Some(J::Array(items)) = obj.get("enum") {
            if !items.iter().any(|i| equals_json(v, i)) {
                let primitive = items.iter().all(|i| !matches!(i, J::Array(_) | J::Object(_)));
                let msg = if !primitive {
                    "'enum' failed".to_string()
                } else if items.len() == 1 {
                    format!("value must be {}", display_value(&items[0]))
                } else {
                    format!("value must be one of {}", items.iter().map(display_value).collect::<Vec<_>>().join(", "))
                };
                return Ok(Some(self.err(loc, msg)));
            }
        }
        // format (asserted before 2019-09)
        if self.draft < 2019 {
            if let (Some(J::String(f)), Value::String(sv)) = (obj.get("format"), v) {
                if let Some(Err(e)) = check_format(f, sv) {
                    return Ok(Some(self.err(loc, format!("{} is not valid {f}: {e}", display_instance(v)))));
                }
            }
        }
        let mut errors: Vec<VErr> = Vec::new();
        // $ref
        if let Some(J::String(r)) = obj.get("$ref") {
            let target = self.resolve(r)?;
            let target_loc = r.strip_prefix('#').filter(|f| f.is_empty() || f.starts_with('/')).unwrap_or("").to_string();
            let res = self.validate(target, v, loc, Step::Ref(target_loc))?;
            let res = res.map(|e| {
                let causes = match e.kind {
                    Kind::Group => e.causes,
                    _ => vec![e],
                };
                VErr { loc: loc.clone(), kind: Kind::Reference, causes }
            });
            if self.draft < 2019 {
                return Ok(res);
            }
            errors.extend(res);
        }
        match v {
            Value::Map(m) => self.object(obj, &m.entries(), loc, &mut errors)?,
            Value::List(l) => self.array(obj, &l.items(), loc, &mut errors)?,
            Value::String(sv) => self.string(obj, sv, loc, &mut errors)?,
            Value::Int(..) | Value::Float(_) => self.number(obj, number_of(v).unwrap_or(0.0), loc, &mut errors),
            _ => {}
        }
        self.conditional(obj, v, loc, &mut errors)?;
        if self.draft >= 2019 {
            if let (Some(u), Value::Map(m)) = (obj.get("unevaluatedProperties"), v) {
                let evaluated = self.evaluated_props(s, v, 0, true);
                for (k, pv) in m.entries().iter() {
                    if !evaluated.contains(k) {
                        loc.push(k.clone());
                        let r = self.validate(u, pv, loc, Step::Child("/unevaluatedProperties".into()))?;
                        loc.pop();
                        errors.extend(r);
                    }
                }
            }
        }
        Ok(match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(VErr { loc: loc.clone(), kind: Kind::Group, causes: errors }),
        })
    }

    /// The properties `s` evaluates on `v` (for `unevaluatedProperties`):
    /// its own keywords and those of the subschemas that hold.
    fn evaluated_props(&self, s: &'a J, v: &Value, depth: usize, top: bool) -> Vec<String> {
        let mut out = Vec::new();
        let (Some(o), Some(m)) = (s.as_object(), v.as_map()) else { return out };
        if depth > 32 {
            return out;
        }
        let props = o.get("properties").and_then(J::as_object);
        let pats: Vec<regex::Regex> =
            o.get("patternProperties").and_then(J::as_object).map(|p| p.keys().filter_map(|k| compile_regex(k).ok()).collect()).unwrap_or_default();
        for k in m.keys() {
            if props.is_some_and(|p| p.contains_key(k)) || pats.iter().any(|r| r.is_match(k)) || o.contains_key("additionalProperties") || (!top && o.contains_key("unevaluatedProperties")) {
                out.push(k.clone());
            }
        }
        let holds = |sch: &'a J| self.validate(sch, v, &mut Vec::new(), Step::Same(String::new())).ok().flatten().is_none();
        let mut subs: Vec<&'a J> = Vec::new();
        for kw in ["allOf", "anyOf", "oneOf"] {
            if let Some(J::Array(a)) = o.get(kw) {
                subs.extend(a.iter().filter(|x| holds(x)));
            }
        }
        if let Some(i) = o.get("if") {
            if holds(i) {
                subs.push(i);
                subs.extend(o.get("then"));
            } else {
                subs.extend(o.get("else").filter(|e| holds(e)));
            }
        }
        if let Some(J::String(r)) = o.get("$ref") {
            if let Ok(t) = self.resolve(r) {
                subs.push(t);
            }
        }
        if let Some(J::Object(ds)) = o.get("dependentSchemas") {
            for (k, sch) in ds {
                if m.contains_key(k) && holds(sch) {
                    subs.push(sch);
                }
            }
        }
        for sub in subs {
            out.extend(self.evaluated_props(sub, v, depth + 1, false));
        }
        out
    }

    fn object(&self, o: &'a serde_json::Map<String, J>, m: &BTreeMap<String, Value>, loc: &mut Vec<String>, errors: &mut Vec<VErr>) -> Result<(), String> {
        let n = m.len();
        if let Some(min) = o.get("minProperties").and_then(J::as_u64) {
            if (n as u64) < min {
                errors.push(self.err(loc, format!("minProperties: got {}, want {}", x_text_int(n), x_text_int(min as usize))));
            }
        }
        if let Some(max) = o.get("maxProperties").and_then(J::as_u64) {
            if n as u64 > max {
                errors.push(self.err(loc, format!("maxProperties: got {}, want {}", x_text_int(n), x_text_int(max as usize))));
            }
        }
        if let Some(J::Array(req)) = o.get("required") {
            let missing: Vec<String> = req.iter().filter_map(J::as_str).filter(|r| !m.contains_key(*r)).map(str::to_string).collect();
            if missing.len() == 1 {
                errors.push(self.err(loc, format!("missing property {}", quote(&missing[0]))));
            } else if !missing.is_empty() {
                errors.push(self.err(loc, format!("missing properties {}", join_quoted(&missing))));
            }
        }
        if self.draft < 2019 {
            if let Some(J::Object(deps)) = o.get("dependencies") {
                for (pname, dep) in deps {
                    if !m.contains_key(pname) {
                        continue;
                    }
                    match dep {
                        J::Array(list) => {
                            let missing: Vec<String> = list.iter().filter_map(J::as_str).filter(|r| !m.contains_key(*r)).map(str::to_string).collect();
                            if !missing.is_empty() {
                                errors.push(self.err(loc, format!("properties {} required, if {} exists", join_quoted(&missing), quote(pname))));
                            }
                        }
                        sch => {
                            let value = Value::map(m.clone());
                            errors.extend(self.validate(sch, &value, loc, Step::Same(format!("/dependencies/{}", esc(pname))))?);
                        }
                    }
                }
            }
        }
        let props = o.get("properties").and_then(J::as_object);
        let mut pattern_props: Vec<(regex::Regex, &'a J, &String)> = Vec::new();
        if let Some(J::Object(pp)) = o.get("patternProperties") {
            for (p, sch) in pp {
                let re = compile_regex(p)?;
                pattern_props.push((re, sch, p));
            }
        }
        let additional = o.get("additionalProperties");
        let mut not_allowed: Vec<String> = Vec::new();
        for (pname, pvalue) in m {
            let mut evaluated = false;
            if let Some(sch) = props.and_then(|p| p.get(pname)) {
                evaluated = true;
                loc.push(pname.clone());
                let r = self.validate(sch, pvalue, loc, Step::Child(format!("/properties/{}", esc(pname))))?;
                loc.pop();
                errors.extend(r);
            }
            for (re, sch, p) in &pattern_props {
                if re.is_match(pname) {
                    evaluated = true;
                    loc.push(pname.clone());
                    let r = self.validate(sch, pvalue, loc, Step::Child(format!("/patternProperties/{}", esc(p))))?;
                    loc.pop();
                    errors.extend(r);
                }
            }
            if !evaluated {
                match additional {
                    Some(J::Bool(false)) => not_allowed.push(pname.clone()),
                    Some(sch @ J::Object(_)) => {
                        loc.push(pname.clone());
                        let r = self.validate(sch, pvalue, loc, Step::Child("/additionalProperties".into()))?;
                        loc.pop();
                        errors.extend(r);
                    }
                    _ => {}
                }
            }
        }
        if !not_allowed.is_empty() {
            errors.push(self.err(loc, format!("additional properties {} not allowed", join_quoted(&not_allowed))));
        }
        if self.draft == 4 {
            return Ok(());
        }
        if let Some(pn) = o.get("propertyNames") {
            for pname in m.keys() {
                let r = self.validate(pn, &Value::str(pname.as_str()), loc, Step::Child("/propertyNames".into()))?;
                if let Some(e) = r {
                    let causes = match e.kind {
                        Kind::Group => e.causes,
                        _ => vec![e],
                    };
                    errors.push(VErr { loc: loc.clone(), kind: Kind::Msg(format!("invalid propertyName {}", quote(pname))), causes });
                }
            }
        }
        if self.draft >= 2019 {
            if let Some(J::Object(ds)) = o.get("dependentSchemas") {
                for (pname, sch) in ds {
                    if m.contains_key(pname) {
                        let value = Value::map(m.clone());
                        errors.extend(self.validate(sch, &value, loc, Step::Same(format!("/dependentSchemas/{}", esc(pname))))?);
                    }
                }
            }
            if let Some(J::Object(dr)) = o.get("dependentRequired") {
                for (pname, list) in dr {
                    if !m.contains_key(pname) {
                        continue;
                    }
                    let missing: Vec<String> =
                        list.as_array().into_iter().flatten().filter_map(J::as_str).filter(|r| !m.contains_key(*r)).map(str::to_string).collect();
                    if !missing.is_empty() {
                        errors.push(self.err(loc, format!("properties {} required, if {} exists", join_quoted(&missing), quote(pname))));
                    }
                }
            }
        }
        Ok(())
    }

    fn array(&self, o: &'a serde_json::Map<String, J>, arr: &[Value], loc: &mut Vec<String>, errors: &mut Vec<VErr>) -> Result<(), String> {
        let n = arr.len();
        if let Some(min) = o.get("minItems").and_then(J::as_u64) {
            if (n as u64) < min {
                errors.push(self.err(loc, format!("minItems: got {}, want {}", x_text_int(n), x_text_int(min as usize))));
            }
        }
        if let Some(max) = o.get("maxItems").and_then(J::as_u64) {
            if n as u64 > max {
                errors.push(self.err(loc, format!("maxItems: got {}, want {}", x_text_int(n), x_text_int(max as usize))));
            }
        }
        if o.get("uniqueItems") == Some(&J::Bool(true)) && n > 1 {
            'outer: for i in 1..n {
                for j in 0..i {
                    if equals(&arr[i], &arr[j]) {
                        errors.push(self.err(loc, format!("items at {} and {} are equal", x_text_int(j), x_text_int(i))));
                        break 'outer;
                    }
                }
            }
        }
        let item = |sch: &'a J, rel: String, i: usize, errors: &mut Vec<VErr>, loc: &mut Vec<String>| -> Result<(), String> {
            loc.push(i.to_string());
            let r = self.validate(sch, &arr[i], loc, Step::Child(rel))?;
            loc.pop();
            errors.extend(r);
            Ok(())
        };
        if self.draft < 2020 {
            let mut evaluated = 0;
            match o.get("items") {
                Some(J::Array(tuple)) => {
                    let k = n.min(tuple.len());
                    for (i, sch) in tuple.iter().enumerate().take(k) {
                        item(sch, format!("/items/{i}"), i, errors, loc)?;
                    }
                    evaluated = k;
                }
                Some(sch) => {
                    for i in 0..n {
                        item(sch, "/items".into(), i, errors, loc)?;
                    }
                    evaluated = n;
                }
                None => {}
            }
            match o.get("additionalItems") {
                Some(J::Bool(false)) if evaluated != n && o.contains_key("items") => {
                    errors.push(self.err(loc, format!("last {} additionalItem(s) not allowed", x_text_int(n - evaluated))));
                }
                Some(sch @ J::Object(_)) if o.contains_key("items") => {
                    // Go indexes these from 0 again (its quirk, kept).
                    for (k, v) in arr.iter().enumerate().skip(evaluated) {
                        loc.push((k - evaluated).to_string());
                        let r = self.validate(sch, v, loc, Step::Child("/additionalItems".into()))?;
                        loc.pop();
                        errors.extend(r);
                    }
                }
                _ => {}
            }
        } else {
            let prefix = o.get("prefixItems").and_then(J::as_array);
            let k = prefix.map_or(0, |p| p.len().min(n));
            if let Some(p) = prefix {
                for (i, sch) in p.iter().enumerate().take(k) {
                    item(sch, format!("/prefixItems/{i}"), i, errors, loc)?;
                }
            }
            if let Some(sch) = o.get("items") {
                // Go indexes these from 0 again (its quirk, kept).
                for (i, v) in arr.iter().enumerate().skip(k) {
                    loc.push((i - k).to_string());
                    let r = self.validate(sch, v, loc, Step::Child("/items".into()))?;
                    loc.pop();
                    errors.extend(r);
                }
            }
        }
        if let Some(c) = o.get("contains").filter(|_| self.draft >= 6) {
            let mut errs = Vec::new();
            let mut matched = Vec::new();
            for (i, v) in arr.iter().enumerate() {
                loc.push(i.to_string());
                let r = self.validate(c, v, loc, Step::Child("/contains".into()))?;
                loc.pop();
                match r {
                    Some(e) => errs.push(e),
                    None => matched.push(i),
                }
            }
            let min = o.get("minContains").filter(|_| self.draft >= 2019).and_then(J::as_u64);
            if let Some(min) = min {
                if (matched.len() as u64) < min {
                    let msg = if matched.is_empty() {
                        format!("min {} items required to match contains schema, but none matched", x_text_int(min as usize))
                    } else {
                        let at: Vec<String> = matched.iter().map(|i| i.to_string()).collect();
                        format!("min {} items required to match contains schema, but matched {} items at {}", x_text_int(min as usize), x_text_int(matched.len()), at.join(" "))
                    };
                    errors.push(VErr { loc: loc.clone(), kind: Kind::Msg(msg), causes: errs });
                }
            } else if matched.is_empty() {
                errors.push(VErr { loc: loc.clone(), kind: Kind::Msg("no items match contains schema".into()), causes: errs });
            }
            if let Some(max) = o.get("maxContains").filter(|_| self.draft >= 2019).and_then(J::as_u64) {
                if matched.len() as u64 > max {
                    let at: Vec<String> = matched.iter().map(|i| i.to_string()).collect();
                    errors.push(self.err(
                        loc,
                        format!("max {} items required to match contains schema, but matched {} items at {}", x_text_int(max as usize), x_text_int(matched.len()), at.join(" ")),
                    ));
                }
            }
        }
        Ok(())
    }

    fn string(&self, o: &'a serde_json::Map<String, J>, s: &str, loc: &[String], errors: &mut Vec<VErr>) -> Result<(), String> {
        let len = s.chars().count();
        if let Some(min) = o.get("minLength").and_then(J::as_u64) {
            if (len as u64) < min {
                errors.push(self.err(loc, format!("minLength: got {}, want {}", x_text_int(len), x_text_int(min as usize))));
            }
        }
        if let Some(max) = o.get("maxLength").and_then(J::as_u64) {
            if len as u64 > max {
                errors.push(self.err(loc, format!("maxLength: got {}, want {}", x_text_int(len), x_text_int(max as usize))));
            }
        }
        if let Some(J::String(p)) = o.get("pattern") {
            let re = compile_regex(p)?;
            if !re.is_match(s) {
                errors.push(self.err(loc, format!("{} does not match pattern {}", quote(s), quote(p))));
            }
        }
        Ok(())
    }

    fn number(&self, o: &'a serde_json::Map<String, J>, n: f64, loc: &[String], errors: &mut Vec<VErr>) {
        let get = |k: &str| o.get(k).and_then(J::as_f64);
        let mut minimum = get("minimum");
        let mut maximum = get("maximum");
        let mut ex_min = get("exclusiveMinimum");
        let mut ex_max = get("exclusiveMaximum");
        if self.draft == 4 {
            // Draft 4: exclusiveMinimum/Maximum are booleans modifying minimum/maximum.
            ex_min = None;
            ex_max = None;
            if o.get("exclusiveMinimum") == Some(&J::Bool(true)) {
                ex_min = minimum.take();
            }
            if o.get("exclusiveMaximum") == Some(&J::Bool(true)) {
                ex_max = maximum.take();
            }
        }
        let f = x_text_float;
        if let Some(m) = minimum.filter(|m| n < *m) {
            errors.push(self.err(loc, format!("minimum: got {}, want {}", f(n), f(m))));
        }
        if let Some(m) = maximum.filter(|m| n > *m) {
            errors.push(self.err(loc, format!("maximum: got {}, want {}", f(n), f(m))));
        }
        if let Some(m) = ex_min.filter(|m| n <= *m) {
            errors.push(self.err(loc, format!("exclusiveMinimum: got {}, want {}", f(n), f(m))));
        }
        if let Some(m) = ex_max.filter(|m| n >= *m) {
            errors.push(self.err(loc, format!("exclusiveMaximum: got {}, want {}", f(n), f(m))));
        }
        if let Some(m) = get("multipleOf") {
            if !is_multiple(n, m) {
                errors.push(self.err(loc, format!("multipleOf: got {}, want {}", f(n), f(m))));
            }
        }
    }

    fn conditional(&self, o: &'a serde_json::Map<String, J>, v: &Value, loc: &mut Vec<String>, errors: &mut Vec<VErr>) -> Result<(), String> {
        if let Some(not) = o.get("not") {
            if self.validate(not, v, loc, Step::Same("/not".into()))?.is_none() {
                errors.push(self.err(loc, "'not' failed"));
            }
        }
        if let Some(J::Array(all)) = o.get("allOf") {
            let mut errs = Vec::new();
            for (i, sch) in all.iter().enumerate() {
                errs.extend(self.validate(sch, v, loc, Step::Same(format!("/allOf/{i}")))?);
            }
            if !errs.is_empty() {
                errors.push(VErr { loc: loc.clone(), kind: Kind::Msg("'allOf' failed".into()), causes: errs });
            }
        }
        if let Some(J::Array(any)) = o.get("anyOf") {
            let mut errs = Vec::new();
            let mut matched = false;
            for (i, sch) in any.iter().enumerate() {
                match self.validate(sch, v, loc, Step::Same(format!("/anyOf/{i}")))? {
                    Some(e) => errs.push(e),
                    None => {
                        matched = true;
                        break;
                    }
                }
            }
            if !matched {
                errors.push(VErr { loc: loc.clone(), kind: Kind::Msg("'anyOf' failed".into()), causes: errs });
            }
        }
        if let Some(J::Array(one)) = o.get("oneOf") {
            let mut errs = Vec::new();
            let mut matched: Option<usize> = None;
            for (i, sch) in one.iter().enumerate() {
                match self.validate(sch, v, loc, Step::Same(format!("/oneOf/{i}")))? {
                    Some(e) => {
                        if matched.is_none() {
                            errs.push(e);
                        }
                    }
                    None => match matched {
                        None => matched = Some(i),
                        Some(first) => {
                            errors.push(self.err(loc, format!("'oneOf' failed, subschemas {first}, {i} matched")));
                            break;
                        }
                    },
                }
            }
            if matched.is_none() {
                errors.push(VErr { loc: loc.clone(), kind: Kind::Msg("'oneOf' failed, none matched".into()), causes: errs });
            }
        }
        if self.draft >= 7 {
            if let Some(cond) = o.get("if") {
                if self.validate(cond, v, loc, Step::Same("/if".into()))?.is_none() {
                    if let Some(then) = o.get("then") {
                        errors.extend(self.validate(then, v, loc, Step::Same("/then".into()))?);
                    }
                } else if let Some(els) = o.get("else") {
                    errors.extend(self.validate(els, v, loc, Step::Same("/else".into()))?);
                }
            }
        }
        Ok(())
    }
}

fn find_anchor<'a>(s: &'a J, name: &str) -> Option<&'a J> {
    match s {
        J::Object(o) => {
            if o.get("$anchor").and_then(J::as_str) == Some(name) || o.get("$id").and_then(J::as_str) == Some(&format!("#{name}")) {
                return Some(s);
            }
            o.values().find_map(|v| find_anchor(v, name))
        }
        J::Array(a) => a.iter().find_map(|v| find_anchor(v, name)),
        _ => None,
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Go (RE2) pattern as the `regex` crate reads it: a `{` that does not
/// open a repetition is a literal in Go.
fn go_regex(p: &str) -> String {
    let c: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len());
    let mut i = 0;
    let mut in_class = false;
    while i < c.len() {
        let ch = c[i];
        if ch == '\\' {
            out.push(ch);
            if let Some(n) = c.get(i + 1) {
                out.push(*n);
            }
            i += 2;
            continue;
        }
        if in_class {
            if ch == ']' {
                in_class = false;
            }
            out.push(ch);
        } else if ch == '[' {
            in_class = true;
            out.push(ch);
            // A `]` right after `[` or `[^` is a literal member.
            if c.get(i + 1) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            if c.get(i + 1) == Some(&']') {
                out.push_str("\\]");
                i += 1;
            }
        } else if ch == '{' {
            let rest: String = c[i + 1..].iter().collect();
            let end = rest.find('}');
            let valid = end.is_some_and(|e| {
                let body = &rest[..e];
                let (lo, hi) = body.split_once(',').map_or((body, None), |(l, h)| (l, Some(h)));
                !lo.is_empty() && lo.bytes().all(|b| b.is_ascii_digit()) && hi.is_none_or(|h| h.bytes().all(|b| b.is_ascii_digit()))
            });
            out.push_str(if valid { "{" } else { "\\{" });
        } else {
            out.push(ch);
        }
        i += 1;
    }
    out
}

/// Compiles a schema pattern with Go's syntax and Go's error words.
fn compile_regex(p: &str) -> Result<regex::Regex, String> {
    if let Some(e) = go_regex_error(p) {
        return Err(format!("{} is not valid regex: error parsing regexp: {e}", quote(p)));
    }
    regex::Regex::new(&go_regex(p)).map_err(|e| regex_error(p, &e))
}

/// Go's regexp errors for the common mistakes: parentheses, classes.
fn go_regex_error(p: &str) -> Option<String> {
    let c: Vec<char> = p.chars().collect();
    let mut depth = 0i32;
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '\\' => i += 1,
            '(' => depth += 1,
            ')' => {
                if depth == 0 {
                    return Some(format!("unexpected ): `{p}`"));
                }
                depth -= 1;
            }
            '[' => {
                let start = i;
                i += 1;
                if c.get(i) == Some(&'^') {
                    i += 1;
                }
                let mut first = true;
                loop {
                    let Some(&ch) = c.get(i) else {
                        return Some(format!("missing closing ]: `{}`", c[start..].iter().collect::<String>()));
                    };
                    if ch == ']' && !first {
                        break;
                    }
                    first = false;
                    if ch == '[' && c.get(i + 1) == Some(&':') {
                        if let Some(end) = c[i..].iter().collect::<String>().find(":]") {
                            i += end + 2;
                            continue;
                        }
                    }
                    let lo = if ch == '\\' {
                        i += 1;
                        c.get(i).copied()
                    } else {
                        Some(ch)
                    };
                    if c.get(i + 1) == Some(&'-') && c.get(i + 2).is_some_and(|x| *x != ']') {
                        let hi = if c[i + 2] == '\\' { c.get(i + 3).copied() } else { Some(c[i + 2]) };
                        if let (Some(l), Some(h)) = (lo, hi) {
                            if h < l {
                                let end = if c[i + 2] == '\\' { i + 4 } else { i + 3 };
                                let from = if ch == '\\' { i - 1 } else { i };
                                return Some(format!("invalid character class range: `{}`", c[from..end.min(c.len())].iter().collect::<String>()));
                            }
                        }
                        i += if c[i + 2] == '\\' { 4 } else { 3 };
                        continue;
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if depth > 0 {
        return Some(format!("missing closing ): `{p}`"));
    }
    None
}

/// A bad regular expression, in the metaschema's words (Go's parser words
/// it; what `go_regex_error` does not know is worded by Rust's parser —
/// knowing difference).
fn regex_error(p: &str, e: &regex::Error) -> String {
    let detail = e.to_string();
    let last = detail.lines().rev().find(|l| l.starts_with("error:")).map(|l| l.trim_start_matches("error: ").to_string()).unwrap_or(detail);
    format!("{} is not valid regex: error parsing regexp: {last}: `{p}`", quote(p))
}

/// One line of a metaschema failure below the failing keyword: its depth
/// below the keyword, where, and what.
type MetaLine = (usize, Vec<String>, String);

/// The metaschema checks gantry makes (`type` names, `pattern`s, numeric
/// keywords that are not numbers), worded and nested as jsonschema words a
/// failure against the draft's metaschema.
fn check_metaschema(root: &J, draft: u32) -> Result<(), String> {
    let mut path: Vec<String> = Vec::new();
    let mut found: Option<(Vec<String>, Vec<MetaLine>)> = None;
    walk_schema(root, &mut path, &mut found, 0);
    let Some((schema_path, lines)) = found else { return Ok(()) };
    let meta = match draft {
        4 => "http://json-schema.org/draft-04/schema#",
        6 => "http://json-schema.org/draft-06/schema#",
        7 => "http://json-schema.org/draft-07/schema#",
        2019 => "https://json-schema.org/draft/2019-09/schema#",
        _ => "https://json-schema.org/draft/2020-12/schema#",
    };
    let mut out = format!("\"{SCHEMA_URL}#\" is not valid against metaschema: jsonschema validation failed with {}", quote(meta));
    let mut level = 0;
    if draft >= 2019 {
        // One "'allOf' failed" per schema level: the metaschema is an allOf
        // of its vocabularies' metaschemas.
        let mut ls = vec![Vec::new()];
        let mut i = 0;
        while i < schema_path.len() {
            i += if two_step(&schema_path[i]) { 2 } else { 1 };
            ls.push(schema_path[..i.min(schema_path.len())].to_vec());
        }
        for l in &ls {
            out.push('\n');
            out.push_str(&"  ".repeat(level));
            out.push_str(&format!("- at {}: 'allOf' failed", quote(&json_ptr(l))));
            level += 1;
        }
    }
    for (d, loc, msg) in lines {
        out.push('\n');
        out.push_str(&"  ".repeat(level + d));
        out.push_str(&format!("- at {}: {msg}", quote(&json_ptr(&loc))));
    }
    Err(out)
}

fn two_step(kw: &str) -> bool {
    matches!(kw, "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" | "prefixItems" | "allOf" | "anyOf" | "oneOf")
}

const TYPE_NAMES: [&str; 7] = ["array", "boolean", "integer", "null", "number", "object", "string"];

fn json_kind(v: &J) -> &'static str {
    match v {
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
        J::Number(_) => "number",
        J::Bool(_) => "boolean",
        J::Null => "null",
    }
}

fn walk_schema(s: &J, path: &mut Vec<String>, found: &mut Option<(Vec<String>, Vec<MetaLine>)>, depth: usize) {
    if found.is_some() || depth > 64 {
        return;
    }
    let J::Object(o) = s else { return };
    let at = |kw: &str, more: Option<String>| {
        let mut p = path.clone();
        p.push(kw.to_string());
        p.extend(more);
        p
    };
    let one_of_types = "value must be one of 'array', 'boolean', 'integer', 'null', 'number', 'object', 'string'".to_string();
    if let Some(t) = o.get("type") {
        let lines = match t {
            J::String(n) if TYPE_NAMES.contains(&n.as_str()) => None,
            J::Array(a) => a.iter().position(|x| x.as_str().is_none_or(|n| !TYPE_NAMES.contains(&n))).map(|bad| {
                vec![
                    (0, at("type", None), "'anyOf' failed".to_string()),
                    (1, at("type", None), one_of_types.clone()),
                    (1, at("type", Some(bad.to_string())), one_of_types.clone()),
                ]
            }),
            other => Some(vec![
                (0, at("type", None), "'anyOf' failed".to_string()),
                (1, at("type", None), one_of_types.clone()),
                (1, at("type", None), format!("got {}, want array", json_kind(other))),
            ]),
        };
        if let Some(lines) = lines {
            *found = Some((path.clone(), lines));
            return;
        }
    }
    for kw in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"] {
        if let Some(v) = o.get(kw) {
            if !(v.is_number() || v.is_boolean() && kw.starts_with("exclusive")) {
                *found = Some((path.clone(), vec![(0, at(kw, None), format!("got {}, want number", json_kind(v)))]));
                return;
            }
        }
    }
    if let Some(J::String(p)) = o.get("pattern") {
        if let Err(e) = compile_regex(p) {
            *found = Some((path.clone(), vec![(0, at("pattern", None), e)]));
            return;
        }
    }
    for (k, v) in o {
        match k.as_str() {
            "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" => {
                if let J::Object(m) = v {
                    for (name, sub) in m {
                        path.push(k.clone());
                        path.push(name.clone());
                        walk_schema(sub, path, found, depth + 1);
                        path.pop();
                        path.pop();
                    }
                }
            }
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                if let J::Array(a) = v {
                    for (i, sub) in a.iter().enumerate() {
                        path.push(k.clone());
                        path.push(i.to_string());
                        walk_schema(sub, path, found, depth + 1);
                        path.pop();
                        path.pop();
                    }
                }
            }
            "items" | "additionalProperties" | "not" | "if" | "then" | "else" | "contains" | "propertyNames" | "unevaluatedProperties" | "unevaluatedItems" | "additionalItems" => {
                path.push(k.clone());
                walk_schema(v, path, found, depth + 1);
                path.pop();
            }
            _ => {}
        }
    }
}

/// A `format` check for the formats jsonschema knows; None for others.
fn check_format(name: &str, s: &str) -> Option<Result<(), String>> {
    Some(match name {
        "email" => validate_email(s),
        "hostname" => validate_hostname(s),
        "ipv4" => validate_ipv4(s),
        "ipv6" => validate_ipv6(s),
        "uuid" => validate_uuid(s),
        "date" => validate_date(s),
        "time" => validate_time(s),
        "date-time" => validate_date_time(s),
        "uri" | "iri" => validate_uri(s),
        "uri-reference" | "iri-reference" => {
            if s.contains('\\') {
                Err("contains \\".into())
            } else {
                Ok(())
            }
        }
        "regex" => compile_regex(s).map(|_| ()).map_err(|e| e.trim_start_matches(&format!("{} is not valid regex: ", quote(s))).to_string()),
        _ => return None,
    })
}

fn validate_uuid(s: &str) -> Result<(), String> {
    let groups: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    if groups.len() != 5 {
        return Err("must have 5 elements".into());
    }
    for (i, g) in groups.iter().enumerate() {
        if g.len() != lens[i] {
            return Err(format!("element {} must be {} characters long", i + 1, lens[i]));
        }
        if let Some(c) = g.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(format!("non-hex character {}", go_quote_rune(c)));
        }
    }
    Ok(())
}

fn validate_ipv4(s: &str) -> Result<(), String> {
    let groups: Vec<&str> = s.split('.').collect();
    if groups.len() != 4 {
        return Err("expected four decimals".into());
    }
    for g in groups {
        if g.len() > 1 && g.starts_with('0') {
            return Err("leading zeros".into());
        }
        let n: i64 = g.parse().map_err(|_| format!("strconv.Atoi: parsing {}: invalid syntax", crate::chart::go_quote(g)))?;
        if !(0..=255).contains(&n) {
            return Err("decimal must be between 0 and 255".into());
        }
    }
    Ok(())
}

fn validate_ipv6(s: &str) -> Result<(), String> {
    if !s.contains(':') {
        return Err("missing colon".into());
    }
    if s.contains('%') {
        return Err("zone id is not a part of ipv6 address".into());
    }
    s.parse::<std::net::Ipv6Addr>().map(|_| ()).map_err(|_| format!("ParseAddr({}): invalid IPv6 address", crate::chart::go_quote(s)))
}

fn validate_hostname(s: &str) -> Result<(), String> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.len() > 253 {
        return Err("more than 253 characters long".into());
    }
    for label in s.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("label must be 1 to 63 characters long".into());
        }
        if label.starts_with('-') {
            return Err("label starts with hyphen".into());
        }
        if label.ends_with('-') {
            return Err("label ends with hyphen".into());
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(format!("invalid character {}", go_quote_rune(c)));
        }
    }
    Ok(())
}


fn validate_email(s: &str) -> Result<(), String> {
    if s.len() > 254 {
        return Err("more than 255 characters long".into());
    }
    let Some(at) = s.rfind('@') else { return Err("missing @".into()) };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.len() > 64 {
        return Err("local part more than 64 characters long".into());
    }
    if local.len() > 1 && local.starts_with('"') {
        let inner = &local.as_bytes()[1..local.len() - 1];
        if inner.contains(&b'\\') || inner.contains(&b'"') {
            return Err("backslash and quote are not allowed within quoted local part".into());
        }
    } else {
        if local.starts_with('.') {
            return Err("starts with dot".into());
        }
        if local.ends_with('.') {
            return Err("ends with dot".into());
        }
        if local.contains("..") {
            return Err("consecutive dots".into());
        }
        if let Some(c) = local.chars().find(|c| !(c.is_ascii_alphanumeric() || ".!#$%&'*+-/=?^_`{|}~".contains(*c))) {
            return Err(format!("invalid character {}", go_quote_rune(c)));
        }
    }
    if domain.starts_with('[') && domain.ends_with(']') {
        let d = &domain[1..domain.len() - 1];
        if let Some(rem) = d.strip_prefix("IPv6:") {
            return validate_ipv6(rem).map_err(|e| format!("invalid ipv6 address: {e}"));
        }
        return validate_ipv4(d).map_err(|e| format!("invalid ipv4 address: {e}"));
    }
    validate_hostname(domain).map_err(|e| format!("invalid domain: {e}"))
}

fn validate_date(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let ok = b.len() == 10 && b[4] == b'-' && b[7] == b'-' && [0, 1, 2, 3, 5, 6, 8, 9].iter().all(|i| b[*i].is_ascii_digit());
    if !ok {
        return Err(format!("parsing time {} as \"2006-01-02\": cannot parse {} as \"2006\"", crate::chart::go_quote(s), crate::chart::go_quote(s)));
    }
    let y: u32 = s[0..4].parse().unwrap_or(0);
    let m: u32 = s[5..7].parse().unwrap_or(0);
    let d: u32 = s[8..10].parse().unwrap_or(0);
    if !(1..=12).contains(&m) {
        return Err(format!("parsing time {}: month out of range", crate::chart::go_quote(s)));
    }
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][(m - 1) as usize];
    if d < 1 || d > days {
        return Err(format!("parsing time {}: day out of range", crate::chart::go_quote(s)));
    }
    Ok(())
}

fn validate_time(s: &str) -> Result<(), String> {
    if s.len() < 9 {
        return Err("less than 9 characters long".into());
    }
    let b = s.as_bytes();
    if b[2] != b':' || b[5] != b':' {
        return Err("missing colon in correct place".into());
    }
    if !s.is_char_boundary(8) {
        return Err("invalid hour/min/sec".into());
    }
    let mut hms = Vec::new();
    for tok in s[..8].splitn(3, ':') {
        let i: i64 = tok.parse().map_err(|_| "invalid hour/min/sec".to_string())?;
        if i < 0 {
            return Err("non-positive hour/min/sec".into());
        }
        hms.push(i);
    }
    let (mut h, mut m, sec) = (hms[0], hms[1], hms[2]);
    if h > 23 || m > 59 || sec > 60 {
        return Err("hour/min/sec out of range".into());
    }
    let mut rest = &s[8..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err("no digits in second fraction".into());
        }
        rest = &r[n..];
    }
    if rest != "z" && rest != "Z" {
        if rest.len() != 6 {
            return Err("offset must be 6 characters long".into());
        }
        let sign = match rest.as_bytes()[0] {
            b'+' => -1,
            b'-' => 1,
            _ => return Err("offset must begin with plus/minus".into()),
        };
        let r = &rest[1..];
        if r.as_bytes()[2] != b':' {
            return Err("missing colon in offset in correct place".into());
        }
        let mut zhm = Vec::new();
        for tok in r.splitn(2, ':') {
            let i: i64 = tok.parse().map_err(|_| "invalid hour/min in offset".to_string())?;
            if i < 0 {
                return Err("non-positive hour/min in offset".into());
            }
            zhm.push(i);
        }
        if zhm[0] > 23 || zhm[1] > 59 {
            return Err("hour/min in offset out of range".into());
        }
        let mut hm = h * 60 + m + sign * (zhm[0] * 60 + zhm[1]);
        if hm < 0 {
            hm += 24 * 60;
        }
        h = hm / 60;
        m = hm % 60;
    }
    if sec >= 60 && (h != 23 || m != 59) {
        return Err("invalid leap second".into());
    }
    Ok(())
}

fn validate_date_time(s: &str) -> Result<(), String> {
    if s.len() < 20 {
        return Err("less than 20 characters long".into());
    }
    if !s.is_char_boundary(10) || !s.is_char_boundary(11) {
        return Err("11th character must be t or T".into());
    }
    let b = s.as_bytes();
    if b[10] != b't' && b[10] != b'T' {
        return Err("11th character must be t or T".into());
    }
    validate_date(&s[..10]).map_err(|e| format!("invalid date element: {e}"))?;
    validate_time(&s[11..]).map_err(|e| format!("invalid time element: {e}"))
}

fn validate_uri(s: &str) -> Result<(), String> {
    // Go's url.Parse is lenient; an absolute URL has a scheme.
    let scheme_end = s.find(':');
    let is_abs = scheme_end.is_some_and(|i| {
        i > 0 && s[..i].chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && s[..i].chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if !is_abs {
        if scheme_end == Some(0) {
            return Err(format!("parse {}: missing protocol scheme", crate::chart::go_quote(s)));
        }
        return Err("relative url".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
