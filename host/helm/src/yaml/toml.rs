//! TOML as Helm's `toToml` and `fromToml` use it (BurntSushi/toml v1):
//! the encoder writes a map's plain values first, then its tables and
//! arrays of tables, keys sorted, nested tables indented two spaces per
//! level, floats in Go's `%g` form with `.0` added to integral ones; the
//! decoder reads a TOML document into a map (integers `int64`, floats
//! `float64`, offset date-times `time.Time`). It must not know YAML.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use super::json::{format_float_g, rfc3339_nano, MAX_DEPTH};
use crate::sprig::gotime::days_from_civil;
use crate::value::{IntType, Time, Value};

const INDENT: &str = "  ";

/// `toml.NewEncoder(w).Encode(v)`: the text, or Go's error message.
pub fn to_toml(v: &Value) -> Result<String, String> {
    super::deep::run(super::deep::value_depth(v), super::deep::MAX_DEPTH, || to_toml_inline(v)).map_err(|e| format!("toml: {e}"))?
}

fn to_toml_inline(v: &Value) -> Result<String, String> {
    let mut e = Encoder { out: String::new(), written: false };
    match v {
        Value::Nil => return Err("reflect: call of reflect.Value.Type on zero Value".into()),
        Value::Map(m) => e.map(&[], &m.entries(), false, 0)?,
        Value::Object(o) => return to_toml_inline(&o.marshal()),
        // A list of tables is an array of tables, which needs a key the top level has not.
        Value::List(l) if !l.items().is_empty() && l.items().iter().all(|i| matches!(i, Value::Map(_) | Value::Object(_))) => {
            return Err("toml: top-level values must be Go maps or structs".into());
        }
        other => e.element(other, 0)?,
    }
    Ok(e.out)
}

struct Encoder {
    out: String,
    written: bool,
}

fn is_bare(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x08' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\x0c' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key_part(k: &str) -> String {
    if is_bare(k) {
        k.to_string()
    } else {
        quoted(k)
    }
}

fn key_path(key: &[&str]) -> String {
    key.iter().map(|k| key_part(k)).collect::<Vec<_>>().join(".")
}

/// Whether TOML writes the value as a table (a map) or an array of tables
/// (a non-empty list of maps only).
enum Kind {
    Table,
    TableArray,
    Plain,
}

fn unwrap_object(v: &Value) -> std::borrow::Cow<'_, Value> {
    match v {
        Value::Object(o) => std::borrow::Cow::Owned(o.marshal()),
        other => std::borrow::Cow::Borrowed(other),
    }
}

fn kind(v: &Value) -> Result<Kind, String> {
    Ok(match &*unwrap_object(v) {
        Value::Map(_) => Kind::Table,
        Value::List(l) if !l.items().is_empty() => {
            let mut all_maps = true;
            for item in l.items().iter() {
                match &*unwrap_object(item) {
                    Value::Nil => return Err("toml: cannot encode array with nil element".into()),
                    Value::Map(_) => {}
                    _ => all_maps = false,
                }
            }
            if all_maps {
                Kind::TableArray
            } else {
                Kind::Plain
            }
        }
        _ => Kind::Plain,
    })
}

impl Encoder {
    fn wf(&mut self, s: &str) {
        self.out.push_str(s);
        self.written = true;
    }

    fn newline(&mut self) {
        if self.written {
            self.wf("\n");
        }
    }

    fn indent(&self, key: &[&str]) -> String {
        INDENT.repeat(key.len().saturating_sub(1))
    }

    fn map(&mut self, key: &[&str], m: &BTreeMap<String, Value>, inline: bool, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("toml: nesting deeper than {MAX_DEPTH} levels"));
        }
        let mut direct = Vec::new();
        let mut sub = Vec::new();
        for (k, v) in m {
            match kind(v)? {
                Kind::Table | Kind::TableArray => sub.push((k, v)),
                Kind::Plain => direct.push((k, v)),
            }
        }
        if inline {
            self.wf("{");
        }
        let trailing_comma = !sub.is_empty();
        for (list, trail) in [(&direct, trailing_comma), (&sub, false)] {
            let n = list.len();
            for (i, (k, v)) in list.iter().enumerate() {
                if v.is_nil() {
                    continue;
                }
                if inline {
                    self.wf(&key_part(k));
                    self.wf(" = ");
                    self.element(v, depth + 1)?;
                    if trail || i != n - 1 {
                        self.wf(", ");
                    }
                } else {
                    let mut path = key.to_vec();
                    path.push(k.as_str());
                    self.encode(&path, v, depth + 1)?;
                }
            }
        }
        if inline {
            self.wf("}");
        }
        Ok(())
    }

    fn encode(&mut self, key: &[&str], v: &Value, depth: usize) -> Result<(), String> {
        let v = unwrap_object(v);
        match kind(&v)? {
            Kind::Table => {
                let Value::Map(m) = &*v else { return Ok(()) };
                if key.len() == 1 {
                    self.newline();
                }
                if !key.is_empty() {
                    let line = format!("{}[{}]", self.indent(key), key_path(key));
                    self.wf(&line);
                    self.newline();
                }
                self.map(key, &m.entries(), false, depth)
            }
            Kind::TableArray => {
                let Value::List(l) = &*v else { return Ok(()) };
                for item in l.items().iter() {
                    let item = unwrap_object(item);
                    let Value::Map(m) = &*item else { continue };
                    self.newline();
                    let line = format!("{}[[{}]]", self.indent(key), key_path(key));
                    self.wf(&line);
                    self.newline();
                    self.map(key, &m.entries(), false, depth + 1)?;
                }
                Ok(())
            }
            Kind::Plain => {
                if v.is_nil() {
                    return Ok(());
                }
                let line = format!("{}{} = ", self.indent(key), key_part(key.last().copied().unwrap_or("")));
                self.wf(&line);
                self.element(&v, depth)?;
                self.newline();
                Ok(())
            }
        }
    }

    fn element(&mut self, v: &Value, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("toml: nesting deeper than {MAX_DEPTH} levels"));
        }
        match v {
            Value::Nil => return Err("toml: cannot encode a nil value".into()),
            Value::Bool(b) => self.wf(if *b { "true" } else { "false" }),
            Value::Int(i, t) => {
                let s = if t.unsigned() { (*i as u64).to_string() } else { i.to_string() };
                self.wf(&s);
            }
            Value::Float(f) => self.wf(&toml_float(*f)),
            Value::String(s) => self.wf(&quoted(s)),
            Value::Bytes(b) => {
                let items: Vec<String> = b.iter().map(u8::to_string).collect();
                self.wf(&format!("[{}]", items.join(", ")));
            }
            Value::List(l) => {
                self.wf("[");
                for (i, item) in l.items().iter().enumerate() {
                    if item.is_nil() {
                        return Err("toml: cannot encode array with nil element".into());
                    }
                    self.element(item, depth + 1)?;
                    if i + 1 != l.items().len() {
                        self.wf(", ");
                    }
                }
                self.wf("]");
            }
            Value::Map(m) => self.map(&[], &m.entries(), true, depth + 1)?,
            Value::Time(t) => self.wf(&rfc3339_nano(t)),
            Value::Object(o) => self.element(&o.marshal(), depth + 1)?,
        }
        Ok(())
    }
}

/// BurntSushi's float: Go's `%g`, `.0` added when it has neither `.` nor
/// an exponent; `nan`, `inf`, `-inf`.
fn toml_float(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format_float_g(f, 64);
    if s.contains('.') || s.contains('e') {
        s
    } else {
        s + ".0"
    }
}

// ---------------------------------------------------------------------------
// Reading

/// `toml.Unmarshal` into `map[string]interface{}`: the table, or an error
/// message (BurntSushi's wording for the common cases, with the line).
pub fn from_toml(text: &str) -> Result<BTreeMap<String, Value>, String> {
    super::deep::run(super::deep::bracket_depth(text), super::deep::READ_DEPTH, || {
        let mut p = TomlParser { s: text.as_bytes(), i: 0, line: 1, last_key: None };
        p.document()
    })
    .map_err(|e| format!("toml: {e}"))?
}

struct TomlParser<'a> {
    s: &'a [u8],
    i: usize,
    line: usize,
    /// The key being defined, for BurntSushi's `(last key "a.b")`.
    last_key: Option<String>,
}

/// A table under construction: entries, and whether it was defined
/// explicitly or as an array of tables (to refuse redefinitions).
#[derive(Default, Clone)]
struct Table {
    entries: BTreeMap<String, Node>,
    defined: bool,
    inline: bool,
}

#[derive(Clone)]
enum Node {
    Value(Value),
    Table(Table),
    /// An array of tables (`[[x]]`).
    Tables(Vec<Table>),
}

fn table_value(t: Table) -> Value {
    Value::map(t.entries.into_iter().map(|(k, n)| (k, node_value(n))).collect())
}

fn node_value(n: Node) -> Value {
    match n {
        Node::Value(v) => v,
        Node::Table(t) => table_value(t),
        Node::Tables(ts) => Value::list(ts.into_iter().map(table_value).collect()),
    }
}

impl TomlParser<'_> {
    fn err(&self, msg: impl std::fmt::Display) -> String {
        match &self.last_key {
            Some(k) => format!("toml: line {} (last key {}): {msg}", self.line, crate::template::fmt::quote(k)),
            None => format!("toml: line {}: {msg}", self.line),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// Whitespace, comments and newlines.
    fn ws_nl(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r') => self.i += 1,
                Some(b'\n') => {
                    self.i += 1;
                    self.line += 1;
                }
                Some(b'#') => self.comment(),
                _ => return,
            }
        }
    }

    fn comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'\n' {
                break;
            }
            self.i += 1;
        }
    }

    fn end_of_line(&mut self) -> Result<(), String> {
        self.ws();
        // BurntSushi reports a bad line ending without the key.
        let last_key = self.last_key.take();
        if self.peek() == Some(b'#') {
            self.comment();
        }
        if self.peek() == Some(b'\r') {
            self.i += 1;
        }
        match self.peek() {
            None => Ok(()),
            Some(b'\n') => {
                self.i += 1;
                self.line += 1;
                Ok(())
            }
            Some(c) => Err(self.err(format!("expected a top-level item to end with a newline, comment, or EOF, but got {:?} instead", char::from(c)))),
        }
        .inspect(|_| self.last_key = last_key)
    }

    fn document(&mut self) -> Result<BTreeMap<String, Value>, String> {
        let mut root = Table::default();
        let mut current: Vec<String> = Vec::new();
        loop {
            self.ws_nl();
            let Some(c) = self.peek() else { break };
            if c == b'[' {
                self.last_key = None;
                self.i += 1;
                let array = self.peek() == Some(b'[');
                if array {
                    self.i += 1;
                }
                self.ws();
                let path = self.key()?;
                self.ws();
                if self.peek() != Some(b']') || (array && self.s.get(self.i + 1) != Some(&b']')) {
                    return Err(self.err("expected ']' to close the table name"));
                }
                self.i += if array { 2 } else { 1 };
                self.end_of_line()?;
                self.open_table(&mut root, &path, array)?;
                current = path;
            } else {
                if c == b'=' {
                    return Err(self.err("unexpected '=': key name appears blank"));
                }
                let path = self.key()?;
                self.last_key = Some(current.iter().chain(path.iter()).cloned().collect::<Vec<_>>().join("."));
                self.ws();
                if self.peek() != Some(b'=') {
                    return Err(self.err(format!("expected key separator '=', but got {:?} instead", self.peek().map(char::from).unwrap_or(' '))));
                }
                self.i += 1;
                self.ws();
                let v = self.value(0)?;
                self.end_of_line()?;
                let table = self.current_table(&mut root, &current)?;
                self.insert(table, &path, v)?;
            }
        }
        Ok(root.entries.into_iter().map(|(k, n)| (k, node_value(n))).collect())
    }

    fn current_table<'t>(&self, root: &'t mut Table, path: &[String]) -> Result<&'t mut Table, String> {
        let mut t = root;
        for k in path {
            t = match t.entries.get_mut(k) {
                Some(Node::Table(sub)) => sub,
                Some(Node::Tables(list)) => match list.last_mut() {
                    Some(last) => last,
                    None => return Err(self.err(format!("key {k:?} is not a table"))),
                },
                _ => return Err(self.err(format!("key {k:?} is not a table"))),
            };
        }
        Ok(t)
    }

    fn open_table(&self, root: &mut Table, path: &[String], array: bool) -> Result<(), String> {
        let Some((last, parents)) = path.split_last() else { return Err(self.err("empty table name")) };
        let mut t = root;
        for k in parents {
            let node = t.entries.entry(k.clone()).or_insert_with(|| Node::Table(Table::default()));
            t = match node {
                Node::Table(sub) if !sub.inline => sub,
                Node::Tables(list) => match list.last_mut() {
                    Some(last) => last,
                    None => return Err(self.err(format!("key {k:?} is not a table"))),
                },
                _ => return Err(self.err(format!("key {k:?} has already been defined"))),
            };
        }
        let name = path.join(".");
        match (t.entries.get_mut(last), array) {
            (None, false) => {
                t.entries.insert(last.clone(), Node::Table(Table { defined: true, ..Table::default() }));
            }
            (None, true) => {
                t.entries.insert(last.clone(), Node::Tables(vec![Table { defined: true, ..Table::default() }]));
            }
            (Some(Node::Table(sub)), false) if !sub.defined && !sub.inline => sub.defined = true,
            (Some(Node::Tables(list)), true) => list.push(Table { defined: true, ..Table::default() }),
            _ => return Err(self.err(format!("Key '{name}' has already been defined."))),
        }
        Ok(())
    }

    fn insert(&self, t: &mut Table, path: &[String], v: Value) -> Result<(), String> {
        let Some((last, parents)) = path.split_last() else { return Err(self.err("empty key")) };
        let mut t = t;
        for k in parents {
            let node = t.entries.entry(k.clone()).or_insert_with(|| Node::Table(Table::default()));
            t = match node {
                Node::Table(sub) if !sub.inline => sub,
                _ => return Err(self.err(format!("key {k:?} has already been defined"))),
            };
        }
        match t.entries.get(last) {
            // BurntSushi quietly keeps a table made by dotted keys.
            Some(Node::Table(sub)) if !sub.defined && !sub.inline => return Ok(()),
            Some(_) => return Err(self.err(format!("Key '{}' has already been defined.", self.last_key.clone().unwrap_or_else(|| path.join("."))))),
            None => {}
        }
        t.entries.insert(last.clone(), Node::Value(v));
        Ok(())
    }

    fn key(&mut self) -> Result<Vec<String>, String> {
        let mut parts = Vec::new();
        loop {
            self.ws();
            let part = match self.peek() {
                Some(b'"') => self.basic_string()?,
                Some(b'\'') => self.literal_string()?,
                Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' => {
                    let start = self.i;
                    while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') {
                        self.i += 1;
                    }
                    String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
                }
                Some(c) => return Err(self.err(format!("bare keys cannot contain {:?}", char::from(c)))),
                None => return Err(self.err("unexpected EOF; expected key")),
            };
            parts.push(part);
            self.ws();
            if self.peek() == Some(b'.') {
                self.i += 1;
            } else {
                return Ok(parts);
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        match self.peek() {
            Some(b'"') => Ok(Value::from(self.basic_string()?)),
            Some(b'\'') => Ok(Value::from(self.literal_string()?)),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws_nl();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                        return Ok(Value::list(items));
                    }
                    items.push(self.value(depth + 1)?);
                    self.ws_nl();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::list(items));
                        }
                        _ => return Err(self.err("expected a comma (',') or array terminator (']')")),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut t = Table::default();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(table_value(t));
                }
                loop {
                    let path = self.key()?;
                    self.ws();
                    if self.peek() != Some(b'=') {
                        return Err(self.err("expected key separator '='"));
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    self.insert(&mut t, &path, v)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            t.inline = true;
                            return Ok(table_value(t));
                        }
                        _ => return Err(self.err("expected a comma (',') or inline table terminator ('}')")),
                    }
                    self.ws();
                }
            }
            Some(_) => self.bare_value(),
            None => Err(self.err("unexpected EOF; expected value")),
        }
    }

    fn bare_value(&mut self) -> Result<Value, String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(c, b',' | b']' | b'}' | b'\n' | b'\r' | b'#') || (c == b' ' && !self.date_time_space(start)) || c == b'\t' {
                break;
            }
            self.i += 1;
        }
        let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        match text.as_str() {
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            "inf" | "+inf" => return Ok(Value::Float(f64::INFINITY)),
            "-inf" => return Ok(Value::Float(f64::NEG_INFINITY)),
            "nan" | "+nan" | "-nan" => return Ok(Value::Float(f64::NAN)),
            _ => {}
        }
        match toml_int(&text) {
            Some(Some(v)) => return Ok(Value::Int(v, IntType::Int64)),
            Some(None) => return Err(self.err(format!("{text} is out of range for int64"))),
            None => {}
        }
        if let Some(f) = toml_float_parse(&text) {
            if f.is_infinite() {
                return Err(self.err(format!("{text} is out of range for float64")));
            }
            return Ok(Value::Float(f));
        }
        if let Some(t) = toml_datetime(&text) {
            return Ok(t);
        }
        if text.is_empty() {
            return Err(self.err("unexpected EOF; expected value"));
        }
        Err(self.err(format!("expected value but found {} instead", crate::template::fmt::quote(&text))))
    }

    /// A space inside `1979-05-27 07:32:00`: between a date and a time.
    fn date_time_space(&self, start: usize) -> bool {
        let before = &self.s[start..self.i];
        before.len() == 10 && before[4] == b'-' && self.s.get(self.i + 1).is_some_and(u8::is_ascii_digit)
    }

    fn basic_string(&mut self) -> Result<String, String> {
        let multi = self.s[self.i..].starts_with(b"\"\"\"");
        self.i += if multi { 3 } else { 1 };
        if multi && self.peek() == Some(b'\n') {
            self.i += 1;
            self.line += 1;
        } else if multi && self.s[self.i..].starts_with(b"\r\n") {
            self.i += 2;
            self.line += 1;
        }
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else { return Err(self.err("unexpected EOF; expected '\"'")) };
            if c == b'"' {
                if !multi {
                    self.i += 1;
                    break;
                }
                if self.s[self.i..].starts_with(b"\"\"\"") {
                    // Up to two quotes may end the content.
                    let mut n = 3;
                    while self.s.get(self.i + n) == Some(&b'"') && n < 5 {
                        n += 1;
                    }
                    out.extend(std::iter::repeat_n(b'"', n - 3));
                    self.i += n;
                    break;
                }
                out.push(c);
                self.i += 1;
                continue;
            }
            if c == b'\n' {
                if !multi {
                    return Err(self.err("strings cannot contain newlines"));
                }
                self.line += 1;
            }
            if c == b'\\' {
                self.i += 1;
                let Some(e) = self.peek() else { return Err(self.err("unexpected EOF")) };
                self.i += 1;
                match e {
                    b'b' => out.push(8),
                    b't' => out.push(b'\t'),
                    b'n' => out.push(b'\n'),
                    b'f' => out.push(12),
                    b'r' => out.push(b'\r'),
                    b'e' => out.push(0x1b),
                    b'"' => out.push(b'"'),
                    b'\\' => out.push(b'\\'),
                    b'u' | b'U' => {
                        let n = if e == b'u' { 4 } else { 8 };
                        let hex = self.s.get(self.i..self.i + n).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u32::from_str_radix(h, 16).ok());
                        let ch = hex.and_then(char::from_u32).ok_or_else(|| self.err("invalid escape in string"))?;
                        self.i += n;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    b'\n' | b' ' | b'\t' | b'\r' if multi => {
                        // A line-ending backslash trims the break and following whitespace.
                        self.i -= 1;
                        while let Some(w) = self.peek() {
                            match w {
                                b' ' | b'\t' | b'\r' => self.i += 1,
                                b'\n' => {
                                    self.i += 1;
                                    self.line += 1;
                                }
                                _ => break,
                            }
                        }
                    }
                    other => return Err(self.err(format!("invalid escape character {:?}", char::from(other)))),
                }
                continue;
            }
            out.push(c);
            self.i += 1;
        }
        String::from_utf8(out).map_err(|_| self.err("invalid UTF-8"))
    }

    fn literal_string(&mut self) -> Result<String, String> {
        let multi = self.s[self.i..].starts_with(b"'''");
        self.i += if multi { 3 } else { 1 };
        if multi && self.peek() == Some(b'\n') {
            self.i += 1;
            self.line += 1;
        }
        let start = self.i;
        loop {
            let Some(c) = self.peek() else { return Err(self.err("unexpected EOF; expected \"'\"")) };
            if c == b'\'' {
                if !multi {
                    let s = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                    self.i += 1;
                    return Ok(s);
                }
                if self.s[self.i..].starts_with(b"'''") {
                    let mut n = 3;
                    while self.s.get(self.i + n) == Some(&b'\'') && n < 5 {
                        n += 1;
                    }
                    let s = String::from_utf8_lossy(&self.s[start..self.i + n - 3]).into_owned();
                    self.i += n;
                    return Ok(s);
                }
            }
            if c == b'\n' {
                if !multi {
                    return Err(self.err("strings cannot contain newlines"));
                }
                self.line += 1;
            }
            self.i += 1;
        }
    }
}

/// None: not an integer; Some(None): an integer out of int64's range.
fn toml_int(s: &str) -> Option<Option<i64>> {
    let digits_ok = |d: &str, radix: u32| -> bool {
        !d.is_empty() && !d.starts_with('_') && !d.ends_with('_') && !d.contains("__") && d.chars().all(|c| c == '_' || c.is_digit(radix))
    };
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(d) = s.strip_prefix(prefix) {
            if !digits_ok(d, radix) {
                return None;
            }
            return Some(i64::from_str_radix(&d.replace('_', ""), radix).ok());
        }
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if !digits_ok(body, 10) || (body.len() > 1 && body.starts_with('0')) {
        return None;
    }
    Some(s.replace('_', "").parse().ok())
}

fn toml_float_parse(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() || !body.as_bytes()[0].is_ascii_digit() || !(body.contains('.') || body.contains(['e', 'E'])) {
        return None;
    }
    if body.len() > 1 && body.starts_with('0') && body.as_bytes()[1].is_ascii_digit() {
        return None;
    }
    if body.contains("._") || body.contains("_.") || body.ends_with('.') || body.contains(".e") || body.contains(".E") {
        return None;
    }
    if !body.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-' | '_')) {
        return None;
    }
    s.replace('_', "").parse().ok()
}

/// Offset date-times become `time.Time`; local dates and times are kept
/// as BurntSushi's local types, which templates print like strings here.
fn toml_datetime(s: &str) -> Option<Value> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { std::str::from_utf8(b.get(r)?).ok()?.parse().ok() };
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if b.len() == 10 {
            return Some(utc_time(days_from_civil(y, mo as u32, d as u32) * 86_400, 0));
        }
        if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut i = 19;
        let mut nanos = 0i64;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i += 1;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let frac = std::str::from_utf8(&b[start..i]).ok()?;
            let frac9: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
            nanos = frac9.parse().ok()?;
        }
        let offset: i32 = match b.get(i) {
            None => {
                let local = days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + sec;
                return Some(utc_time(local, nanos));
            }
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(b'+' | b'-') if b.len() == i + 6 && b[i + 3] == b':' => {
                let sign = if b[i] == b'-' { -1 } else { 1 };
                sign * (num(i + 1..i + 3)? as i32 * 3600 + num(i + 4..i + 6)? as i32 * 60)
            }
            _ => return None,
        };
        let days = days_from_civil(y, mo as u32, d as u32);
        let local = days * 86_400 + h * 3600 + mi * 60 + sec;
        let unix = i128::from(local - i64::from(offset)) * 1_000_000_000 + i128::from(nanos);
        let zone: Arc<str> = if offset == 0 { Arc::from("UTC") } else { Arc::from("") };
        return Some(Value::Time(Time { unix_nanos: unix, offset, zone }));
    }
    if b.len() >= 8 && b[2] == b':' && b[5] == b':' {
        // A local time: BurntSushi's time.Time on 0000-01-01, in UTC.
        let (h, mi, sec) = (num(0..2)?, num(3..5)?, num(6..8)?);
        let mut nanos = 0i64;
        if b.get(8) == Some(&b'.') {
            let frac = std::str::from_utf8(&b[9..]).ok()?;
            let frac9: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
            nanos = frac9.parse().ok()?;
        } else if b.len() != 8 {
            return None;
        }
        return Some(utc_time(days_from_civil(0, 1, 1) * 86_400 + h * 3600 + mi * 60 + sec, nanos));
    }
    None
}

fn utc_time(secs: i64, nanos: i64) -> Value {
    Value::Time(Time { unix_nanos: i128::from(secs) * 1_000_000_000 + i128::from(nanos), offset: 0, zone: Arc::from("UTC") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_toml() {
        let m = from_toml("a = 1\nb = \"x\"\n[t]\nc = [1.5, true]\n[[arr]]\nd = 1\n[[arr]]\nd = 2\n").unwrap();
        let v = super::super::json::marshal(&Value::map(m)).unwrap();
        assert_eq!(v, r#"{"a":1,"arr":[{"d":1},{"d":2}],"b":"x","t":{"c":[1.5,true]}}"#);
        assert!(from_toml("a = 1\na = 2\n").is_err());
        assert!(from_toml("a = \n").is_err());
    }

    #[test]
    fn top_level_lists_of_tables_have_no_key_but_other_lists_are_inline() {
        // Helm: `toToml (list (dict "a" 1))` is BurntSushi's error; `toToml (list 1 2)` is `[1, 2]`.
        let tables = Value::list(vec![Value::map([("a".to_string(), Value::Float(1.0))].into()), Value::empty_map()]);
        assert_eq!(to_toml(&tables).unwrap_err(), "toml: top-level values must be Go maps or structs");
        assert_eq!(to_toml(&Value::list(vec![Value::int(1), Value::int(2)])).unwrap(), "[1, 2]");
    }

    #[test]
    fn writes_floats_as_burntsushi() {
        assert_eq!(toml_float(1.0), "1.0");
        assert_eq!(toml_float(1e6), "1e+06");
        assert_eq!(toml_float(-0.0), "-0.0");
        assert_eq!(toml_float(f64::NEG_INFINITY), "-inf");
    }
}
