//! Reading YAML as sigs.k8s.io/yaml's `Unmarshal` does: go-yaml v2 decodes
//! the first document into `interface{}` (YAML 1.1 scalars, anchors and
//! aliases, `<<` merges in document order, non-string keys kept), then
//! `convertToJSONableObject` stringifies keys the Go way (`1` → "1",
//! `true` → "true", floats with 32-bit precision), then `encoding/json`
//! marshals (NaN and ±Inf are errors) and decodes (every number a
//! `float64`). libyaml (whose Go port go-yaml is) parses, so the syntax
//! and its errors are go-yaml's. This file must not emit YAML.

use std::collections::{BTreeMap, HashMap};

use super::libyaml::{Event, Mark, ParseError, Parser};

use super::resolve::{resolve_plain, Resolved};
use super::YamlError;
use crate::value::Value;

use super::deep::READ_DEPTH as MAX_DEPTH;

/// A parsed node, before decoding.
enum Node {
    Scalar { value: String, plain: bool, tag: Option<String> },
    Seq(Vec<usize>),
    Map(Vec<(usize, usize)>),
    /// An alias to the node with this index, and the anchor's name.
    Alias(usize, String),
}

/// One document's nodes, the root last.
struct Doc {
    nodes: Vec<Node>,
    root: usize,
}

impl Doc {
    /// How deep decoding the root goes, aliases expanded (nodes come
    /// children first, so one pass suffices).
    fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            depth[i] = match n {
                Node::Scalar { .. } => 0,
                Node::Alias(t, _) => depth.get(*t).copied().unwrap_or(0),
                Node::Seq(items) => 1 + items.iter().map(|&c| depth.get(c).copied().unwrap_or(0)).max().unwrap_or(0),
                Node::Map(pairs) => 1 + pairs.iter().map(|&(k, v)| depth.get(k).copied().unwrap_or(0).max(depth.get(v).copied().unwrap_or(0))).max().unwrap_or(0),
            };
        }
        depth.get(self.root).copied().unwrap_or(0)
    }
}

/// go-yaml's decoded `interface{}` values.
#[derive(Clone, Debug)]
pub(crate) enum GoVal {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Seq(Vec<GoVal>),
    /// `map[interface{}]interface{}` in insertion order, keys unique.
    Map(Vec<(GoVal, GoVal)>),
    /// A scalar the emitter writes plain as it is (go-yaml v3's `time.Time`).
    Raw(String),
}

#[derive(Hash, PartialEq, Eq)]
enum KeyRepr {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(u64),
    Str(String),
}

fn key_repr(k: &GoVal) -> Option<KeyRepr> {
    Some(match k {
        GoVal::Null => KeyRepr::Null,
        GoVal::Bool(b) => KeyRepr::Bool(*b),
        GoVal::Int(i) => KeyRepr::Int(*i),
        GoVal::Uint(u) => KeyRepr::Uint(*u),
        // NaN never equals itself: each NaN key is a new entry, as in Go.
        GoVal::Float(f) if f.is_nan() => return None,
        GoVal::Float(f) => KeyRepr::Float(if *f == 0.0 { 0 } else { f.to_bits() }),
        GoVal::Str(s) => KeyRepr::Str(s.clone()),
        GoVal::Seq(_) | GoVal::Map(_) | GoVal::Raw(_) => return None,
    })
}

/// Parses the documents of `text` (only the first unless `all`).
fn parse_docs(text: &str, all: bool) -> Result<Vec<Doc>, YamlError> {
    let mut parser = Parser::new(text);
    let mut docs = Vec::new();
    loop {
        let (ev, _) = parser.next().map_err(|e| parse_error(&e))?;
        match ev {
            Event::StreamStart => continue,
            Event::StreamEnd => break,
            Event::DocumentStart => {
                docs.push(parse_doc(&mut parser)?);
                if !all {
                    break;
                }
            }
            other => return Err(YamlError::new(format!("yaml: unexpected event {other:?}"))),
        }
    }
    Ok(docs)
}

fn parse_error(e: &ParseError) -> YamlError {
    // The message keeps go-yaml's line quirk; the fields say where the
    // problem really is (1-based).
    let (message, _) = e.message();
    if e.reader {
        return YamlError::new(message);
    }
    YamlError { message, line: Some(e.problem_mark.line + 1), column: Some(e.problem_mark.column + 1) }
}

enum Open {
    Seq(Vec<usize>, Option<String>),
    Map(Vec<(usize, usize)>, Option<usize>, Option<String>),
}

fn parse_doc(parser: &mut Parser) -> Result<Doc, YamlError> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut anchors: HashMap<String, usize> = HashMap::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut root = None;
    loop {
        let (ev, mark) = parser.next().map_err(|e| parse_error(&e))?;
        let (node, anchor) = match ev {
            Event::DocumentEnd => break,
            Event::Scalar { value, anchor, tag, plain_implicit } => {
                (Node::Scalar { value, plain: plain_implicit, tag: tag.map(|t| tag_name(&t)) }, anchor)
            }
            Event::Alias(name) => {
                let open = stack.iter().any(|o| match o {
                    Open::Seq(_, a) | Open::Map(_, _, a) => a.as_deref() == Some(name.as_str()),
                });
                if open {
                    return Err(YamlError::new(format!("yaml: anchor '{name}' value contains itself")));
                }
                match anchors.get(&name) {
                    Some(&target) => (Node::Alias(target, name), None),
                    None => return Err(YamlError::new(format!("yaml: unknown anchor '{name}' referenced"))),
                }
            }
            Event::SequenceStart { anchor } => {
                if stack.len() >= MAX_DEPTH {
                    return Err(depth_error(&mark));
                }
                stack.push(Open::Seq(Vec::new(), anchor));
                continue;
            }
            Event::MappingStart { anchor } => {
                if stack.len() >= MAX_DEPTH {
                    return Err(depth_error(&mark));
                }
                stack.push(Open::Map(Vec::new(), None, anchor));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq(items, anchor)) => (Node::Seq(items), anchor),
                _ => return Err(YamlError::new("yaml: unbalanced sequence end")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map(pairs, _, anchor)) => (Node::Map(pairs), anchor),
                _ => return Err(YamlError::new("yaml: unbalanced mapping end")),
            },
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart => {
                return Err(YamlError::new("yaml: unexpected document structure"));
            }
        };
        let idx = nodes.len();
        nodes.push(node);
        if let Some(a) = anchor {
            anchors.insert(a, idx);
        }
        match stack.last_mut() {
            Some(Open::Seq(items, _)) => items.push(idx),
            Some(Open::Map(pairs, key, _)) => match key.take() {
                None => *key = Some(idx),
                Some(k) => pairs.push((k, idx)),
            },
            None => root = Some(idx),
        }
    }
    let root = match root {
        Some(r) => r,
        None => {
            nodes.push(Node::Scalar { value: String::new(), plain: true, tag: None });
            nodes.len() - 1
        }
    };
    Ok(Doc { nodes, root })
}

fn depth_error(mark: &Mark) -> YamlError {
    YamlError::at(format!("yaml: nesting deeper than {MAX_DEPTH} levels"), mark.line + 1, mark.column + 1)
}

fn tag_name(t: &str) -> String {
    // go-yaml works with short tags (`!!int`) for the core schema.
    match t.strip_prefix("tag:yaml.org,2002:") {
        Some(suffix) => format!("!!{suffix}"),
        None => t.to_string(),
    }
}

/// go-yaml v2's decoder over one document's nodes.
struct Decoder<'a> {
    nodes: &'a [Node],
    /// Nodes being expanded through an alias (to catch self-reference).
    active_aliases: Vec<usize>,
    decode_count: u64,
    alias_count: u64,
    alias_depth: u32,
    depth: usize,
}

impl Decoder<'_> {
    fn count(&mut self) -> Result<(), YamlError> {
        self.decode_count += 1;
        if self.alias_depth > 0 {
            self.alias_count += 1;
        }
        if self.alias_count > 100 && self.decode_count > 1000 && (self.alias_count as f64 / self.decode_count as f64) > allowed_alias_ratio(self.decode_count) {
            return Err(YamlError::new("yaml: document contains excessive aliasing"));
        }
        Ok(())
    }

    fn decode(&mut self, idx: usize) -> Result<GoVal, YamlError> {
        self.count()?;
        match &self.nodes[idx] {
            Node::Scalar { value, plain, tag } => scalar(value, *plain, tag.as_deref()),
            Node::Alias(target, name) => {
                if self.active_aliases.contains(target) {
                    return Err(YamlError::new(format!("yaml: anchor '{name}' value contains itself")));
                }
                self.active_aliases.push(*target);
                self.alias_depth += 1;
                let v = self.decode(*target);
                self.alias_depth -= 1;
                self.active_aliases.pop();
                v
            }
            Node::Seq(items) => {
                self.enter()?;
                let mut out = Vec::with_capacity(items.len());
                for &i in items {
                    out.push(self.decode(i)?);
                }
                self.depth -= 1;
                Ok(GoVal::Seq(out))
            }
            Node::Map(_) => {
                self.enter()?;
                let mut m = MapBuilder::default();
                self.mapping_into(idx, &mut m)?;
                self.depth -= 1;
                Ok(GoVal::Map(m.entries))
            }
        }
    }

    fn enter(&mut self) -> Result<(), YamlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(YamlError::new(format!("yaml: nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// Decodes the mapping at `idx` into `m` (go-yaml's `mapping` on an
    /// existing map, which `<<` merges use): later keys replace earlier ones.
    fn mapping_into(&mut self, idx: usize, m: &mut MapBuilder) -> Result<(), YamlError> {
        let Node::Map(pairs) = &self.nodes[idx] else {
            return Err(merge_error());
        };
        for &(k, v) in pairs {
            if self.is_merge(k) {
                self.merge(v, m)?;
                continue;
            }
            let key = self.decode(k)?;
            if matches!(key, GoVal::Seq(_) | GoVal::Map(_)) {
                return Err(YamlError::new(format!("yaml: invalid map key: {}", go_syntax(&key))));
            }
            let value = self.decode(v)?;
            m.insert(key, value);
        }
        Ok(())
    }

    fn is_merge(&self, idx: usize) -> bool {
        match &self.nodes[idx] {
            Node::Scalar { value, plain, tag } => value == "<<" && ((*plain && tag.is_none()) || tag.as_deref() == Some("!!merge")),
            _ => false,
        }
    }

    /// The mapping behind `idx`, through an alias.
    fn target(&self, idx: usize) -> usize {
        match &self.nodes[idx] {
            Node::Alias(t, _) => *t,
            _ => idx,
        }
    }

    fn merge(&mut self, idx: usize, m: &mut MapBuilder) -> Result<(), YamlError> {
        match &self.nodes[idx] {
            Node::Map(_) => {
                self.count()?;
                self.mapping_into(idx, m)
            }
            Node::Alias(t, name) => {
                let t = *t;
                if !matches!(self.nodes[t], Node::Map(_)) {
                    return Err(merge_error());
                }
                if self.active_aliases.contains(&t) {
                    return Err(YamlError::new(format!("yaml: anchor '{name}' value contains itself")));
                }
                self.count()?;
                self.active_aliases.push(t);
                self.alias_depth += 1;
                self.count()?;
                let r = self.mapping_into(t, m);
                self.alias_depth -= 1;
                self.active_aliases.pop();
                r
            }
            Node::Seq(items) => {
                // Earlier maps take precedence: go-yaml merges them last first.
                let items = items.clone();
                for &i in items.iter().rev() {
                    let t = self.target(i);
                    if !matches!(self.nodes[t], Node::Map(_)) {
                        return Err(merge_error());
                    }
                    self.merge(i, m)?;
                }
                Ok(())
            }
            Node::Scalar { .. } => Err(merge_error()),
        }
    }
}

fn merge_error() -> YamlError {
    YamlError::new("yaml: map merge requires map or sequence of maps as the value")
}

fn allowed_alias_ratio(decode_count: u64) -> f64 {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    if decode_count <= LOW {
        0.99
    } else if decode_count >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decode_count - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

#[derive(Default)]
struct MapBuilder {
    entries: Vec<(GoVal, GoVal)>,
    index: HashMap<KeyRepr, usize>,
}

impl MapBuilder {
    fn insert(&mut self, k: GoVal, v: GoVal) {
        match key_repr(&k) {
            Some(r) => match self.index.get(&r) {
                Some(&i) => self.entries[i].1 = v,
                None => {
                    self.index.insert(r, self.entries.len());
                    self.entries.push((k, v));
                }
            },
            None => self.entries.push((k, v)),
        }
    }
}

/// go-yaml v2's decoding of a scalar into `interface{}`.
fn scalar(value: &str, plain: bool, tag: Option<&str>) -> Result<GoVal, YamlError> {
    let tag = match tag {
        // A non-specific `!` tag makes the scalar a string.
        Some("!") => return Ok(GoVal::Str(value.to_string())),
        Some(t) => t,
        None if !plain => return Ok(GoVal::Str(value.to_string())),
        None => "",
    };
    let resolved = resolve_plain(value);
    let out = resolved_val(value, &resolved);
    let rtag = match resolved {
        Resolved::Null => "!!null",
        Resolved::Bool(_) => "!!bool",
        Resolved::Int(_) | Resolved::Uint(_) => "!!int",
        Resolved::Float(_) => "!!float",
        Resolved::Timestamp => "!!timestamp",
        Resolved::Str => "!!str",
    };
    match tag {
        "" => Ok(out),
        "!!str" => Ok(GoVal::Str(value.to_string())),
        "!!binary" => decode_binary(value),
        t if t == rtag => Ok(out),
        "!!float" if rtag == "!!int" => Ok(match out {
            GoVal::Int(i) => GoVal::Float(i as f64),
            GoVal::Uint(u) => GoVal::Float(u as f64),
            o => o,
        }),
        "!!null" | "!!bool" | "!!int" | "!!float" | "!!timestamp" => {
            Err(YamlError::new(format!("yaml: cannot decode {rtag} `{value}` as a {tag}")))
        }
        // Any other tag: go-yaml keeps the text as it is.
        _ => Ok(GoVal::Str(value.to_string())),
    }
}

fn resolved_val(value: &str, r: &Resolved) -> GoVal {
    match r {
        Resolved::Null => GoVal::Null,
        Resolved::Bool(b) => GoVal::Bool(*b),
        Resolved::Int(i) => GoVal::Int(*i),
        Resolved::Uint(u) => GoVal::Uint(*u),
        Resolved::Float(f) => GoVal::Float(*f),
        Resolved::Timestamp | Resolved::Str => GoVal::Str(value.to_string()),
    }
}

fn decode_binary(value: &str) -> Result<GoVal, YamlError> {
    let clean: Vec<u8> = value.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    match crate::yaml::json::base64_decode(&clean) {
        Some(bytes) => Ok(GoVal::Str(String::from_utf8_lossy(&bytes).into_owned())),
        None => Err(YamlError::new("yaml: !!binary value contains invalid base64 data".to_string())),
    }
}

/// Go's `%#v` of a decoded value, for error messages.
pub(crate) fn go_syntax(v: &GoVal) -> String {
    go_syntax_in(v, false)
}

/// `%#v` inside a composite, where a nil interface is `interface {}(nil)`
/// and maps print with their keys sorted.
fn go_syntax_in(v: &GoVal, nested: bool) -> String {
    match v {
        GoVal::Null if nested => "interface {}(nil)".into(),
        GoVal::Null => "<nil>".into(),
        GoVal::Bool(b) => b.to_string(),
        GoVal::Int(i) => i.to_string(),
        GoVal::Uint(u) => format!("0x{u:x}"),
        GoVal::Float(f) => crate::yaml::json::format_float_g(*f, 64),
        GoVal::Str(s) | GoVal::Raw(s) => crate::template::fmt::quote(s),
        GoVal::Seq(items) => format!("[]interface {{}}{{{}}}", items.iter().map(|i| go_syntax_in(i, true)).collect::<Vec<_>>().join(", ")),
        GoVal::Map(pairs) => {
            let mut shown: Vec<(String, String, Option<&str>)> = pairs
                .iter()
                .map(|(k, v)| (go_syntax_in(k, true), go_syntax_in(v, true), if let GoVal::Str(s) = k { Some(s.as_str()) } else { None }))
                .collect();
            if shown.iter().all(|(_, _, s)| s.is_some()) {
                shown.sort_by(|a, b| a.2.cmp(&b.2));
            }
            format!("map[interface {{}}]interface {{}}{{{}}}", shown.iter().map(|(k, v, _)| format!("{k}:{v}")).collect::<Vec<_>>().join(", "))
        }
    }
}

/// Go's `reflect.TypeOf(v)` name.
fn go_type(v: &GoVal) -> &'static str {
    match v {
        GoVal::Null => "%!s(<nil>)",
        GoVal::Bool(_) => "bool",
        GoVal::Int(_) => "int",
        GoVal::Uint(_) => "uint64",
        GoVal::Float(_) => "float64",
        GoVal::Str(_) => "string",
        GoVal::Raw(_) => "time.Time",
        GoVal::Seq(_) => "[]interface {}",
        GoVal::Map(_) => "map[interface {}]interface {}",
    }
}

/// sigs.k8s.io/yaml's `convertToJSONableObject`, then encoding/json's
/// marshal and decode into `interface{}`.
fn to_json_value(v: GoVal) -> Result<Value, YamlError> {
    Ok(match v {
        GoVal::Null => Value::Nil,
        GoVal::Bool(b) => Value::Bool(b),
        GoVal::Int(i) => Value::Float(i as f64),
        GoVal::Uint(u) => Value::Float(u as f64),
        GoVal::Float(f) => Value::Float(f),
        GoVal::Str(s) | GoVal::Raw(s) => Value::str(s),
        GoVal::Seq(items) => Value::list(items.into_iter().map(to_json_value).collect::<Result<_, _>>()?),
        GoVal::Map(pairs) => {
            let mut m = BTreeMap::new();
            for (k, v) in pairs {
                let key = key_string(&k, &v)?;
                m.insert(key, to_json_value(v)?);
            }
            Value::map(m)
        }
    })
}

/// `convertToJSONableObject`'s string for a map key (`1` → "1", `true` →
/// "true", floats with 32-bit precision), or its error naming key and value.
pub(crate) fn key_string(k: &GoVal, v: &GoVal) -> Result<String, YamlError> {
    Ok(match k {
        GoVal::Str(s) => s.clone(),
        GoVal::Int(i) => i.to_string(),
        GoVal::Float(f) => match crate::yaml::json::format_float_g(*f, 32).as_str() {
            "+Inf" => ".inf".into(),
            "-Inf" => "-.inf".into(),
            "NaN" => ".nan".into(),
            s => s.to_string(),
        },
        GoVal::Bool(b) => b.to_string(),
        other => {
            return Err(YamlError::new(format!(
                "unsupported map key of type: {}, key: {}, value: {}",
                go_type(other),
                go_syntax(other),
                go_syntax(v)
            )))
        }
    })
}

/// go-yaml's value of the first document (nil when there is none) handed
/// to `f`, both on a stack deep enough for the document.
pub(crate) fn with_first_doc<T: Send>(text: &str, f: impl FnOnce(GoVal) -> Result<T, YamlError> + Send) -> Result<T, YamlError> {
    let docs = parse_docs(text, false)?;
    let doc = docs.into_iter().next();
    let depth = doc.as_ref().map_or(0, Doc::depth);
    super::deep::run(depth, super::deep::READ_DEPTH, || {
        let go = match &doc {
            Some(doc) => {
                let mut d = Decoder { nodes: &doc.nodes, active_aliases: Vec::new(), decode_count: 0, alias_count: 0, alias_depth: 0, depth: 0 };
                d.decode(doc.root)?
            }
            None => GoVal::Null,
        };
        f(go)
    })
    .map_err(|e| YamlError::new(format!("yaml: {e}")))?
}

/// The JSON round trip of a decoded value: keys stringified, NaN and ±Inf
/// refused, numbers float64.
pub(crate) fn go_to_value(go: GoVal) -> Result<Value, YamlError> {
    let v = to_json_value(go)?;
    if let Some(f) = unsupported_float(&v) {
        return Err(YamlError::new(format!("json: unsupported value: {}", crate::yaml::json::format_float_g(f, 64))));
    }
    Ok(v)
}

/// The first non-finite float json.Marshal would meet (keys in sorted order).
fn unsupported_float(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) if !f.is_finite() => Some(*f),
        Value::List(l) => l.items().iter().find_map(unsupported_float),
        Value::Map(m) => m.entries().values().find_map(unsupported_float),
        _ => None,
    }
}

/// YAML text to the `interface{}` sigs.k8s.io/yaml's Unmarshal gives,
/// errors worded without the "error converting YAML to JSON: " prefix.
pub(crate) fn yaml_to_value(text: &str) -> Result<Value, YamlError> {
    let docs = parse_docs(text, false)?;
    let Some(doc) = docs.into_iter().next() else {
        return Ok(Value::Nil);
    };
    doc_to_value(&doc)
}

fn doc_to_value(doc: &Doc) -> Result<Value, YamlError> {
    super::deep::run(doc.depth(), super::deep::READ_DEPTH, || doc_to_value_inline(doc)).map_err(|e| YamlError::new(format!("yaml: {e}")))?
}

fn doc_to_value_inline(doc: &Doc) -> Result<Value, YamlError> {
    let mut d = Decoder { nodes: &doc.nodes, active_aliases: Vec::new(), decode_count: 0, alias_count: 0, alias_depth: 0, depth: 0 };
    go_to_value(d.decode(doc.root)?)
}

/// Every document of `text`, each as [`yaml_to_value`] reads one.
pub(crate) fn yaml_to_values(text: &str) -> Result<Vec<Value>, YamlError> {
    parse_docs(text, true)?.iter().map(doc_to_value).collect()
}

/// go-yaml's reader: the characters a YAML stream may hold at all.
pub(crate) fn reader_allows(c: char) -> bool {
    matches!(c as u32, 0x09 | 0x0a | 0x0d | 0x20..=0x7e | 0x85 | 0xa0..=0xd7ff | 0xe000..=0xfffd | 0x10000..=0x10ffff)
}

/// What go-yaml's reader accepts of a string encoding/json wrote raw
/// (JSON escapes C0 controls and U+2028/U+2029).
pub(crate) fn reader_allows_json(c: char) -> bool {
    (c as u32) < 0x20 || reader_allows(c)
}
