//! Helm's `--set` grammar (`pkg/strvals`), for `--set`, `--set-string`,
//! `--set-file`, `--set-json` and `--set-literal`: `a.b.c=v` nests, `a[0].b=v`
//! indexes lists (at most index 65536, 30 name levels), `\` escapes the next
//! character, `{a,b}` is a list, commas separate assignments; `--set` types
//! `true`/`false` as bools, `null` as nil, integers as int64, the rest as
//! strings; `--set-string` never types. Errors are Helm's words, including
//! those Go produces by recovering a panic (`unable to parse key: interface
//! conversion: …`). It must not merge whole value sets (that is `values`').

use std::collections::BTreeMap;

use crate::value::Value;

use super::{is_table, table_mut, table_value, take_table, Table};

/// Helm's `MaxIndex`.
pub const MAX_INDEX: i64 = 65536;
/// Helm's `MaxNestedNameLevel`.
pub const MAX_NESTED_NAME_LEVEL: usize = 30;
/// Lists nested in lists (`a[0][0]…`) beyond which parsing stops. Helm has
/// no limit (Go's stacks grow); ours keeps the recursion bounded.
pub const MAX_LIST_NESTING: usize = 200;

/// A `--set` expression Helm refuses; the message is Helm's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StrvalsError {
    pub message: String,
}

#[derive(Debug)]
enum Err {
    /// Go's `io.EOF`: the end of the expression, not a failure at the top.
    Eof,
    Msg(String),
}

impl From<String> for Err {
    fn from(s: String) -> Err {
        Err::Msg(s)
    }
}

type Res<T> = Result<T, Err>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Typed,
    String,
    Json,
    File,
    Literal,
}

type Reader<'a> = &'a dyn Fn(&str) -> Result<Vec<u8>, String>;

struct Parser<'a> {
    sc: Vec<char>,
    pos: usize,
    mode: Mode,
    read: Option<Reader<'a>>,
    list_depth: usize,
}

/// Go's `%v` of a float64: `strconv.FormatFloat(f, 'g', -1, 64)` (`1e+06`).
pub(crate) fn go_float_v(f: f64) -> String {
    crate::yaml::json::format_float_g(f, 64)
}

/// Go's type name as a panic message shows it.
fn go_type(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Nil) => "nil".into(),
        Some(v) => v.type_name(),
    }
}

fn conversion_panic(v: Option<&Value>, want: &str) -> Err {
    Err::Msg(format!("unable to parse key: interface conversion: interface {{}} is {}, not {want}", go_type(v)))
}

impl<'a> Parser<'a> {
    fn new(s: &str, mode: Mode, read: Option<Reader<'a>>) -> Parser<'a> {
        Parser { sc: s.chars().collect(), pos: 0, mode, read, list_depth: 0 }
    }

    fn read_rune(&mut self) -> Option<char> {
        let c = self.sc.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    /// Runes up to a stop rune (consumed); `\` takes the next rune as is.
    /// `Err(Eof)` carries what was read when the input ended.
    fn runes_until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut v = String::new();
        loop {
            let Some(r) = self.read_rune() else { return (v, None) };
            if stop.contains(&r) {
                return (v, Some(r));
            }
            if r == '\\' && self.mode != Mode::Literal {
                match self.read_rune() {
                    Some(n) => v.push(n),
                    None => return (v, None),
                }
                continue;
            }
            v.push(r);
        }
    }

    fn parse(&mut self, data: &mut Table) -> Result<(), StrvalsError> {
        loop {
            match self.key(data, 0) {
                Ok(()) => continue,
                Err(Err::Eof) => return Ok(()),
                Err(Err::Msg(m)) => return Err(StrvalsError { message: m }),
            }
        }
    }

    fn key_index(&mut self) -> Res<i64> {
        let (v, last) = self.runes_until(&[']']);
        if last.is_none() {
            return Err(Err::Eof);
        }
        go_atoi(&v).map_err(Err::Msg)
    }

    /// A typed (or string, or file) value from its runes.
    fn reader(&self, rs: &str) -> Res<Value> {
        match self.mode {
            Mode::String | Mode::Literal => Ok(Value::str(rs)),
            Mode::File => {
                let read = self.read.ok_or_else(|| Err::Msg("no file reader".into()))?;
                let data = read(rs).map_err(Err::Msg)?;
                // `string(data)`: every byte kept.
                Ok(Value::String(crate::value::Str::from_bytes(data)))
            }
            _ => Ok(typed_val(rs)),
        }
    }

    fn key(&mut self, data: &mut Table, mut level: usize) -> Res<()> {
        let stop: &[char] = if self.mode == Mode::Literal { &['=', '[', '.'] } else { &['=', '[', ',', '.'] };
        let (k, last) = self.runes_until(stop);
        let Some(last) = last else {
            if k.is_empty() {
                return Err(Err::Eof);
            }
            return Err(format!("key {} has no value", quote(&k)).into());
        };
        match last {
            '[' => {
                let i = self.key_index().map_err(|e| match e {
                    Err::Eof => Err::Eof,
                    Err::Msg(m) => Err::Msg(format!("error parsing index: {m}")),
                })?;
                let list = match data.get(&k) {
                    None => Vec::new(),
                    Some(Value::List(l)) if l.elem == "interface {}" => l.items().to_vec(),
                    Some(other) => return Err(conversion_panic(Some(other), "[]interface {}")),
                };
                let (list, res) = self.list_item(list, i, level);
                set(data, &k, Value::list(list));
                res
            }
            '=' => {
                if self.mode == Mode::Literal {
                    let (v, _) = self.runes_until(&[]);
                    set(data, &k, Value::str(v));
                    return Ok(());
                }
                if self.mode == Mode::Json {
                    if self.empty_val() {
                        set(data, &k, Value::Nil);
                        return Ok(());
                    }
                    let v = self.json_value()?;
                    set(data, &k, v);
                    self.empty_val();
                    return Ok(());
                }
                match self.val_list() {
                    Ok(vl) => {
                        set(data, &k, Value::list(vl));
                        Ok(())
                    }
                    Err(ListErr::Eof) => {
                        set(data, &k, Value::str(""));
                        Err(Err::Eof)
                    }
                    Err(ListErr::NotList) => {
                        let (rs, _) = self.runes_until(&[',']);
                        let v = self.reader(&rs)?;
                        set(data, &k, v);
                        Ok(())
                    }
                    Err(ListErr::Msg(m)) => Err(Err::Msg(m)),
                }
            }
            ',' => {
                set(data, &k, Value::str(""));
                Err(format!("key {} has no value (cannot end with ,)", quote(&k)).into())
            }
            _ => {
                // '.'
                level += 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(format!("value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}").into());
                }
                let mut inner = match data.get(&k) {
                    None => Table::new(),
                    Some(v) if is_table(v) => take_table(v.clone()).unwrap_or_default(),
                    Some(other) => return Err(conversion_panic(Some(other), "map[string]interface {}")),
                };
                let e = self.key(&mut inner, level);
                if e.is_ok() && inner.is_empty() {
                    return Err(format!("key map {} has no value", quote(&k)).into());
                }
                if !inner.is_empty() {
                    set(data, &k, table_value(inner));
                }
                e
            }
        }
    }

    fn list_item(&mut self, mut list: Vec<Value>, i: i64, level: usize) -> (Vec<Value>, Res<()>) {
        if i < 0 {
            return (list, Err(format!("negative {i} index not allowed").into()));
        }
        let (k, last) = self.runes_until(&['[', '.', '=']);
        if !k.is_empty() {
            return (list, Err(format!("unexpected data at end of array index: {}", quote_runes(&k)).into()));
        }
        let Some(last) = last else { return (list, Err(Err::Eof)) };
        let iu = i as usize;
        match last {
            '=' => {
                if self.mode == Mode::Literal {
                    let (v, _) = self.runes_until(&[]);
                    return set_index(list, i, Value::str(v));
                }
                if self.mode == Mode::Json {
                    if self.empty_val() {
                        return set_index(list, i, Value::Nil);
                    }
                    let v = match self.json_value() {
                        Ok(v) => v,
                        Err(e) => return (list, Err(e)),
                    };
                    let (list, r) = set_index(list, i, v);
                    if r.is_err() {
                        return (list, r);
                    }
                    self.empty_val();
                    return (list, Ok(()));
                }
                match self.val_list() {
                    Ok(vl) => set_index(list, i, Value::list(vl)),
                    Err(ListErr::Eof) => set_index(list, i, Value::str("")),
                    Err(ListErr::NotList) => {
                        let (rs, _) = self.runes_until(&[',']);
                        match self.reader(&rs) {
                            Ok(v) => set_index(list, i, v),
                            Err(e) => (list, Err(e)),
                        }
                    }
                    Err(ListErr::Msg(m)) => (list, Err(Err::Msg(m))),
                }
            }
            '[' => {
                let next_i = match self.key_index() {
                    Ok(n) => n,
                    Err(Err::Eof) => return (list, Err(Err::Eof)),
                    Err(Err::Msg(m)) => return (list, Err(format!("error parsing index: {m}").into())),
                };
                let crt = match list.get(iu) {
                    None | Some(Value::Nil) => Vec::new(),
                    Some(Value::List(l)) if l.elem == "interface {}" => l.items().to_vec(),
                    Some(other) => {
                        let e = conversion_panic(Some(other), "[]interface {}");
                        return (list, Err(e));
                    }
                };
                if self.list_depth >= MAX_LIST_NESTING {
                    return (list, Err(format!("list nesting is greater than maximum supported nesting of {MAX_LIST_NESTING}").into()));
                }
                self.list_depth += 1;
                let (list2, r) = self.list_item(crt, next_i, level);
                self.list_depth -= 1;
                if r.is_err() {
                    return (list, r);
                }
                set_index(list, i, Value::list(list2))
            }
            _ => {
                // '.'
                let mut inner = Table::new();
                if iu < list.len() {
                    match take_table(list[iu].clone()) {
                        Some(t) => inner = t,
                        None => list[iu] = Value::empty_map(),
                    }
                }
                let e = self.key(&mut inner, level);
                if e.is_err() {
                    return (list, e);
                }
                set_index(list, i, table_value(inner))
            }
        }
    }

    /// Skips white space; true at the end or after a comma (consumed).
    fn empty_val(&mut self) -> bool {
        loop {
            match self.read_rune() {
                None => return true,
                Some(',') => return true,
                Some(r) if r.is_whitespace() => continue,
                Some(_) => {
                    self.unread();
                    return false;
                }
            }
        }
    }

    /// One JSON value from here, as Go's `json.Decoder` reads it (numbers
    /// float64); the input after it stays. Knowing difference: a syntax
    /// error is worded by serde_json, not encoding/json.
    fn json_value(&mut self) -> Res<Value> {
        let rest: String = self.sc[self.pos..].iter().collect();
        let (v, used) = go_json_decode(rest.as_bytes()).map_err(Err::Msg)?;
        self.pos += rest[..used].chars().count();
        Ok(v)
    }

    fn val_list(&mut self) -> Result<Vec<Value>, ListErr> {
        let Some(r) = self.read_rune() else { return Err(ListErr::Eof) };
        if r != '{' {
            self.unread();
            return Err(ListErr::NotList);
        }
        let mut list = Vec::new();
        loop {
            let (rs, last) = self.runes_until(&[',', '}']);
            match last {
                None => return Err(ListErr::Msg("list must terminate with '}'".into())),
                Some('}') => {
                    if let Some(r) = self.read_rune() {
                        if r != ',' {
                            self.unread();
                        }
                    }
                    let v = self.reader(&rs).map_err(|e| match e {
                        Err::Eof => ListErr::Eof,
                        Err::Msg(m) => ListErr::Msg(m),
                    })?;
                    list.push(v);
                    return Ok(list);
                }
                Some(_) => {
                    let v = self.reader(&rs).map_err(|e| match e {
                        Err::Eof => ListErr::Eof,
                        Err::Msg(m) => ListErr::Msg(m),
                    })?;
                    list.push(v);
                }
            }
        }
    }
}

/// Nesting beyond which the decoder gives up (Go: 10000; lower here to
/// keep the recursion's stack small).
const MAX_JSON_DEPTH: usize = 200;

/// One JSON value from the start of `b`, as Go's `json.Decoder.Decode` reads
/// it into `interface{}` (numbers float64), with encoding/json's error words;
/// the value and the bytes used (what follows is left for the caller).
pub(crate) fn go_json_decode(b: &[u8]) -> Result<(Value, usize), String> {
    let mut d = JsonDec { b, i: 0 };
    d.skip_ws();
    if d.i >= b.len() {
        return Err("EOF".into());
    }
    let v = d.value(0)?;
    Ok((v, d.i))
}

struct JsonDec<'a> {
    b: &'a [u8],
    i: usize,
}

impl JsonDec<'_> {
    fn skip_ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// encoding/json's `invalid character 'x' <ctx>`, or `unexpected EOF`.
    fn invalid(&self, ctx: &str) -> String {
        match self.b.get(self.i) {
            None => "unexpected EOF".into(),
            Some(&c) => format!("invalid character {} {ctx}", go_quote_byte(c)),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_JSON_DEPTH {
            return Err("exceeded max depth".into());
        }
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut m = Table::new();
                self.skip_ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(table_value(m));
                }
                loop {
                    self.skip_ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return Err(self.invalid("looking for beginning of object key string"));
                    }
                    let k = self.string()?;
                    self.skip_ws();
                    if self.b.get(self.i) != Some(&b':') {
                        return Err(self.invalid("after object key"));
                    }
                    self.i += 1;
                    self.skip_ws();
                    let v = self.value(depth + 1)?;
                    m.insert(k, v);
                    self.skip_ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(table_value(m));
                        }
                        _ => return Err(self.invalid("after object key:value pair")),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut l = Vec::new();
                self.skip_ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::list(l));
                }
                loop {
                    self.skip_ws();
                    l.push(self.value(depth + 1)?);
                    self.skip_ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::list(l));
                        }
                        _ => return Err(self.invalid("after array element")),
                    }
                }
            }
            Some(b'"') => Ok(Value::str(self.string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Nil),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.invalid("looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
        for (k, w) in word.bytes().enumerate() {
            if k > 0 && self.b.get(self.i) != Some(&w) {
                return Err(self.invalid(&format!("in literal {word} (expecting {})", go_quote_byte(w))));
            }
            self.i += 1;
        }
        Ok(v)
    }

    fn digits(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.invalid("in numeric literal")),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
                return Err(self.invalid("after decimal point in numeric literal"));
            }
            self.digits();
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
                return Err(self.invalid("in exponent of numeric literal"));
            }
            self.digits();
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("0");
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(format!("json: cannot unmarshal number {text} into Go value of type float64")),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut n = 0u32;
        for _ in 0..4 {
            let Some(&c) = self.b.get(self.i) else { return Err("unexpected EOF".into()) };
            let d = (c as char).to_digit(16).ok_or_else(|| self.invalid("in \\u hexadecimal character escape"))?;
            n = n * 16 + d;
            self.i += 1;
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // the opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.i) else { return Err("unexpected EOF".into()) };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    let Some(&e) = self.b.get(self.i) else { return Err("unexpected EOF".into()) };
                    let simple = match e {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(8),
                        b'f' => Some(12),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        _ => None,
                    };
                    if let Some(s) = simple {
                        out.push(s);
                        self.i += 1;
                        continue;
                    }
                    if e != b'u' {
                        return Err(self.invalid("in string escape code"));
                    }
                    self.i += 1;
                    let mut u = self.hex4()?;
                    if (0xD800..0xDC00).contains(&u) && self.b.get(self.i) == Some(&b'\\') && self.b.get(self.i + 1) == Some(&b'u') {
                        let save = self.i;
                        self.i += 2;
                        let lo = self.hex4()?;
                        if (0xDC00..0xE000).contains(&lo) {
                            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                        } else {
                            self.i = save;
                        }
                    }
                    let ch = char::from_u32(u).unwrap_or('\u{FFFD}');
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(self.invalid("in string literal")),
                c => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

/// encoding/json's `quoteChar`: a byte shown as a quoted rune.
fn go_quote_byte(c: u8) -> String {
    go_quote_rune(char::from(c))
}

enum ListErr {
    Eof,
    NotList,
    Msg(String),
}

fn set(data: &mut Table, key: &str, v: Value) {
    if !key.is_empty() {
        data.insert(key.to_string(), v);
    }
}

fn set_index(mut list: Vec<Value>, i: i64, v: Value) -> (Vec<Value>, Res<()>) {
    if i < 0 {
        return (list, Err(format!("negative {i} index not allowed").into()));
    }
    if i > MAX_INDEX {
        return (list, Err(format!("index of {i} is greater than maximum supported index of {MAX_INDEX}").into()));
    }
    let i = i as usize;
    if list.len() <= i {
        list.resize(i + 1, Value::Nil);
    }
    list[i] = v;
    (list, Ok(()))
}

/// Go's `strconv.Atoi` and its errors.
fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {}: invalid syntax", quote(s)));
    }
    s.parse::<i64>().map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", quote(s)))
}

/// Go's `strings.EqualFold` against a lower-case ASCII word (`ſ` folds to `s`).
fn equal_fold(s: &str, word: &str) -> bool {
    let mut a = s.chars();
    for w in word.chars() {
        match a.next() {
            Some(c) if c.to_ascii_lowercase() == w || (w == 's' && c == '\u{17F}') || (w == 'k' && c == '\u{212A}') => {}
            _ => return false,
        }
    }
    a.next().is_none()
}

/// `--set`'s typing: `true`/`false` (any case), `null`, `0`, and integers
/// without a leading zero as int64; anything else a string.
fn typed_val(v: &str) -> Value {
    if equal_fold(v, "true") {
        return Value::Bool(true);
    }
    if equal_fold(v, "false") {
        return Value::Bool(false);
    }
    if equal_fold(v, "null") {
        return Value::Nil;
    }
    if v == "0" {
        return Value::int64(0);
    }
    if !v.is_empty() && !v.starts_with('0') {
        if let Some(i) = go_parse_int64(v) {
            return Value::int64(i);
        }
    }
    Value::str(v)
}

/// `strconv.ParseInt(s, 10, 64)`: optional sign, decimal digits, in range.
/// (Go also accepts `_` only with base 0, so not here.)
fn go_parse_int64(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Go's `%q` of a rune (`strconv.QuoteRune`): template::fmt's.
pub(crate) use crate::template::fmt::quote_rune as go_quote_rune;

/// Go's `%q` of a `[]rune`: each rune quoted, `['a' 'b']`.
fn quote_runes(s: &str) -> String {
    let items: Vec<String> = s.chars().map(go_quote_rune).collect();
    format!("[{}]", items.join(" "))
}

/// Go's `%q`.
fn quote(s: &str) -> String {
    crate::chart::go_quote(s)
}

fn run(expr: &str, into: &mut Value, mode: Mode, read: Option<Reader<'_>>) -> Result<(), StrvalsError> {
    if !is_table(into) {
        *into = Value::empty_map();
    }
    let Some(table) = table_mut(into) else { return Ok(()) };
    let mut p = Parser::new(expr, mode, read);
    p.parse(table)
}

/// `--set`: Helm's `strvals.ParseInto`.
pub fn parse_set(expr: &str, into: &mut Value) -> Result<(), StrvalsError> {
    run(expr, into, Mode::Typed, None)
}

/// `--set-string`: Helm's `strvals.ParseIntoString` (no typing).
pub fn parse_set_string(expr: &str, into: &mut Value) -> Result<(), StrvalsError> {
    run(expr, into, Mode::String, None)
}

/// `--set-json`: Helm's `strvals.ParseJSON` (each value a JSON document).
pub fn parse_set_json(expr: &str, into: &mut Value) -> Result<(), StrvalsError> {
    run(expr, into, Mode::Json, None)
}

/// `--set-file`: Helm's `strvals.ParseIntoFile`; `read` gives a path's bytes.
pub fn parse_set_file(expr: &str, into: &mut Value, read: &dyn Fn(&str) -> Result<Vec<u8>, String>) -> Result<(), StrvalsError> {
    run(expr, into, Mode::File, Some(read))
}

/// `--set-literal`: Helm's `strvals.ParseLiteralInto` (the value verbatim,
/// commas and backslashes included).
pub fn parse_set_literal(expr: &str, into: &mut Value) -> Result<(), StrvalsError> {
    run(expr, into, Mode::Literal, None)
}

/// `strvals.Parse`: one `--set` expression into a new map.
pub fn parse(expr: &str) -> Result<Value, StrvalsError> {
    let mut v = table_value(BTreeMap::new());
    parse_set(expr, &mut v)?;
    Ok(v)
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::oracle;

    fn json(v: &Value) -> serde_json::Value {
        oracle::to_json(v)
    }

    #[test]
    fn typing_and_nesting_as_helm() {
        // Each expected value checked with helm.parse_set_string (Helm 4.2.3).
        let v = parse("x=1.5,y=01,z=+5,w=-0,v=TRUE,u=fal\u{17F}e,n=null,l={a,1,true}").unwrap();
        assert_eq!(json(&v), serde_json::json!({"u": false, "v": true, "w": 0, "x": "1.5", "y": "01", "z": 5, "n": null, "l": ["a", 1, true]}));
        assert_eq!(v.get("z").unwrap().type_name(), "int64");
        assert_eq!(json(&parse("a\\.b=c\\,d").unwrap()), serde_json::json!({"a.b": "c,d"}));
        assert_eq!(json(&parse("a[0].b=1,a[0]=2").unwrap()), serde_json::json!({"a": [2]}));
        assert_eq!(json(&parse("=1").unwrap()), serde_json::json!({}));
        let mut s = Value::empty_map();
        parse_set_string("port=80,on=true", &mut s).unwrap();
        assert_eq!(json(&s), serde_json::json!({"port": "80", "on": "true"}));
        let mut l = Value::empty_map();
        parse_set_literal("a=b,c=d\\e", &mut l).unwrap();
        assert_eq!(json(&l), serde_json::json!({"a": "b,c=d\\e"}));
        let mut j = Value::empty_map();
        parse_set_json("a={\"b\": [1, 2.5]},c=null", &mut j).unwrap();
        assert_eq!(json(&j), serde_json::json!({"a": {"b": [1, 2.5]}, "c": null}));
        assert_eq!(j.get("a").unwrap().get("b").unwrap().as_list().unwrap()[0].type_name(), "float64");
    }

    #[test]
    fn errors_are_helms_words() {
        let err = |e: &str| parse(e).unwrap_err().message;
        assert_eq!(err("a"), "key \"a\" has no value");
        assert_eq!(err("a=1,b"), "key \"b\" has no value");
        assert_eq!(err("a.b=1,a=2,a.c=3"), "unable to parse key: interface conversion: interface {} is int64, not map[string]interface {}");
        assert_eq!(err("a[0]=1,a[x]=2"), "error parsing index: strconv.Atoi: parsing \"x\": invalid syntax");
        assert_eq!(err("a=1,,b=2"), "key \"\" has no value (cannot end with ,)");
        assert_eq!(err("a[70000]=1"), "index of 70000 is greater than maximum supported index of 65536");
        assert_eq!(err("a={1,2"), "list must terminate with '}'");
        assert_eq!(err("a.=1"), "key map \"a\" has no value");
        let deep = format!("{}=1", vec!["k"; 40].join("."));
        assert_eq!(err(&deep), "value name nested level is greater than maximum supported nested level of 30");
    }

    #[test]
    fn set_file_matches_helm() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "hello\n").unwrap();
        std::fs::write(dir.path().join("b.txt"), "x,y").unwrap();
        let d = dir.path().display().to_string();
        let exprs: Vec<String> = [
            "a={d}/a.txt",
            "a={d}/nope",
            "l={{d}/a.txt,{d}/b.txt}",
            "m={{{d}/a.txt}}",
            "x[1]={d}/b.txt",
            "a=",
            "a=-x",
            "a= {d}/a.txt",
            "n.m={d}/a.txt,o={d}/b.txt",
            "p\\.q={d}/a.txt",
        ]
        .iter()
        .map(|e| e.replace("{d}", &d))
        .collect();
        differential(
            "parse_set_file",
            &exprs,
            |e| {
                let mut v = Value::empty_map();
                parse_set_file(e, &mut v, &crate::values::read_local_file).map(|_| v)
            },
            true,
        );
    }

    #[test]
    fn deep_input_is_bounded_not_a_crash() {
        let deep_list = format!("a{}=1", "[0]".repeat(5000));
        assert_eq!(parse(&deep_list).unwrap_err().message, "list nesting is greater than maximum supported nesting of 200");
        let ok_list = format!("a{}=1", "[0]".repeat(190));
        assert!(parse(&ok_list).is_ok());
        let deep_json = format!("a={}{}", "[".repeat(5000), "]".repeat(5000));
        let mut v = Value::empty_map();
        assert_eq!(parse_set_json(&deep_json, &mut v).unwrap_err().message, "exceeded max depth");
        let ok_json = format!("a={}{}", "[".repeat(190), "]".repeat(190));
        assert!(parse_set_json(&ok_json, &mut Value::empty_map()).is_ok());
    }

    #[test]
    fn file_values_are_read() {
        let mut v = Value::empty_map();
        let read = |p: &str| if p == "f.txt" { Ok(b"hello\n".to_vec()) } else { Err(format!("open {p}: no such file or directory")) };
        parse_set_file("a=f.txt", &mut v, &read).unwrap();
        assert_eq!(json(&v), serde_json::json!({"a": "hello\n"}));
        assert_eq!(parse_set_file("a=g", &mut v, &read).unwrap_err().message, "open g: no such file or directory");
    }

    /// A deterministic generator of `--set` expressions, biased to the
    /// grammar's corners.
    fn generate(n: usize, seed: u64) -> Vec<String> {
        let atoms = [
            "a", "b", "c", "name", "x y", "", ".", ".", "[", "]", "[0]", "[1]", "[2]", "[-1]", "[x]", "[65537]", "=", "=", "=", ",", ",", "{", "}", "{a,b}", "{1,2}", "{}", "\\",
            "\\.", "\\,", "\\=", "1", "0", "01", "-3", "+4", "true", "False", "NULL", "null", "1.5", "9223372036854775808", "é", " ", "\"q\"", "{\"k\":1}", "[1,2]",
        ];
        let mut s = seed;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut out = Vec::new();
        for _ in 0..n {
            let len = 1 + (next() % 9) as usize;
            let mut e = String::new();
            for _ in 0..len {
                e.push_str(atoms[(next() % atoms.len() as u64) as usize]);
            }
            out.push(e);
        }
        out
    }

    fn differential(mode: &str, exprs: &[String], ours: impl Fn(&str) -> Result<Value, StrvalsError>, compare_errors: bool) {
        let script = format!(
            "import json, sys\nimport helm_python as helm\nout = []\nfor e in json.load(sys.stdin):\n    try:\n        out.append({{'ok': helm.{mode}(e)}})\n    except Exception as ex:\n        out.append({{'err': str(ex)}})\nprint(json.dumps(out))\n"
        );
        let Some(answers) = oracle::run(&script, &serde_json::json!(exprs)) else { return };
        let answers = answers.as_array().expect("a list");
        let mut failures = Vec::new();
        for (e, want) in exprs.iter().zip(answers) {
            let got = match ours(e) {
                Ok(v) => serde_json::json!({"ok": json(&v)}),
                Err(err) => serde_json::json!({"err": err.message}),
            };
            let same = if !compare_errors && want.get("err").is_some() {
                got.get("err").is_some()
            } else {
                oracle::numbers_as_f64(&got) == oracle::numbers_as_f64(want)
            };
            if !same {
                failures.push(format!("{e:?}: helm {want}, ours {got}"));
            }
        }
        assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), exprs.len(), failures.join("\n"));
    }

    #[test]
    fn set_matches_helm_on_generated_expressions() {
        let exprs = generate(3000, 0x9E3779B97F4A7C15);
        differential("parse_set_string", &exprs, parse, true);
    }

    #[test]
    fn set_string_matches_helm_on_generated_expressions() {
        let exprs = generate(1500, 0xD1B54A32D192ED03);
        differential(
            "parse_set_string_values",
            &exprs,
            |e| {
                let mut v = Value::empty_map();
                parse_set_string(e, &mut v).map(|_| v)
            },
            true,
        );
    }

    #[test]
    fn set_literal_matches_helm_on_generated_expressions() {
        let exprs = generate(1500, 0x2545F4914F6CDD1D);
        differential(
            "parse_set_literal",
            &exprs,
            |e| {
                let mut v = Value::empty_map();
                parse_set_literal(e, &mut v).map(|_| v)
            },
            true,
        );
    }

    #[test]
    fn set_json_matches_helm_on_generated_expressions() {
        // JSON syntax errors are worded by serde_json, not encoding/json:
        // only that both fail is compared for those.
        let exprs = generate(3000, 0x853C49E6748FEA9B);
        differential(
            "parse_set_json",
            &exprs,
            |e| {
                let mut v = Value::empty_map();
                parse_set_json(e, &mut v).map(|_| v)
            },
            true,
        );
    }
}
