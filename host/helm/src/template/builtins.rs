//! The builtin functions of Go's `text/template` that act on values:
//! `not`, `len`, `index`, `slice`, the comparisons (`eq` `ne` `lt` `le`
//! `gt` `ge`, with Go's basic-kind rules), `print`/`printf`/`println`,
//! `html`, `js`, `urlquery`. `and`, `or`, `call` and `printf`'s format
//! check need the executor and live there (`exec.rs`). Error texts are
//! Go's; the executor adds `error calling NAME: `.

use super::exec::Rv;
use crate::value::{IntType, List, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    And,
    Or,
    Not,
    Call,
    Html,
    Js,
    UrlQuery,
    Index,
    Slice,
    Len,
    Print,
    Printf,
    Println,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Builtin {
    pub fn from_name(name: &str) -> Option<Builtin> {
        Some(match name {
            "and" => Builtin::And,
            "or" => Builtin::Or,
            "not" => Builtin::Not,
            "call" => Builtin::Call,
            "html" => Builtin::Html,
            "js" => Builtin::Js,
            "urlquery" => Builtin::UrlQuery,
            "index" => Builtin::Index,
            "slice" => Builtin::Slice,
            "len" => Builtin::Len,
            "print" => Builtin::Print,
            "printf" => Builtin::Printf,
            "println" => Builtin::Println,
            "eq" => Builtin::Eq,
            "ne" => Builtin::Ne,
            "lt" => Builtin::Lt,
            "le" => Builtin::Le,
            "gt" => Builtin::Gt,
            "ge" => Builtin::Ge,
            _ => return None,
        })
    }

    /// (fixed parameters, variadic?) as Go's signatures have them.
    pub fn arity(self) -> (usize, bool) {
        match self {
            Builtin::And | Builtin::Or | Builtin::Index | Builtin::Slice | Builtin::Eq | Builtin::Call | Builtin::Printf => (1, true),
            Builtin::Not | Builtin::Len => (1, false),
            Builtin::Ne | Builtin::Lt | Builtin::Le | Builtin::Gt | Builtin::Ge => (2, false),
            Builtin::Html | Builtin::Js | Builtin::UrlQuery | Builtin::Print | Builtin::Println => (0, true),
        }
    }
}

/// The zero value of a map's element type, by its Go name.
pub fn zero_of(elem: &str) -> Value {
    match elem {
        "string" => Value::str(""),
        "bool" => Value::Bool(false),
        "float64" | "float32" => Value::Float(0.0),
        "int" => Value::int(0),
        "int64" => Value::int64(0),
        "int32" => Value::Int(0, IntType::Int32),
        "uint8" => Value::Int(0, IntType::Uint8),
        _ => Value::Nil,
    }
}

/// Runs a builtin on evaluated arguments (arity already checked).
pub fn call(b: Builtin, args: &[Rv]) -> Result<Rv, String> {
    let vals = || args.iter().map(Rv::value).collect::<Vec<_>>();
    let s = |x: String| Ok(Rv::concrete(Value::str(x)));
    let t = |x: bool| Ok(Rv::concrete(Value::Bool(x)));
    match b {
        Builtin::Not => t(!args[0].truthy()),
        Builtin::Len => length(&args[0]).map(|n| Rv::concrete(Value::int(n as i64))),
        Builtin::Index => index(&args[0], &args[1..]),
        Builtin::Slice => slice(&args[0], &args[1..]),
        // Go's bytes: two halves of a character printed together are one.
        Builtin::Print => Ok(Rv::concrete(Value::String(super::fmt::sprint_args_go(&vals())))),
        Builtin::Println => Ok(Rv::concrete(Value::String(super::fmt::sprintln_go(&vals())))),
        Builtin::Html => s(html_escape(&eval_args(args))),
        Builtin::Js => s(js_escape(&eval_args(args))),
        Builtin::UrlQuery => s(query_escape(&eval_args(args))),
        Builtin::Eq => eq(&args[0], &args[1..]).map(|x| Rv::concrete(Value::Bool(x))),
        Builtin::Ne => eq(&args[0], &args[1..2]).map(|x| Rv::concrete(Value::Bool(!x))),
        Builtin::Lt => lt(&args[0], &args[1]).map(|x| Rv::concrete(Value::Bool(x))),
        Builtin::Le => le(&args[0], &args[1]).map(|x| Rv::concrete(Value::Bool(x))),
        Builtin::Gt => le(&args[0], &args[1]).map(|x| Rv::concrete(Value::Bool(!x))),
        Builtin::Ge => lt(&args[0], &args[1]).map(|x| Rv::concrete(Value::Bool(!x))),
        // Handled by the executor.
        Builtin::And | Builtin::Or | Builtin::Call | Builtin::Printf => Ok(Rv::Invalid),
    }
}

/// Go's `evalArgs`: one string argument as is, else `fmt.Sprint` of the
/// arguments with a nil shown as `<no value>`.
fn eval_args(args: &[Rv]) -> String {
    if let [Rv::V(Value::String(s), _)] = args {
        return s.to_string();
    }
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let (text, is_string) = match a.indirect() {
            Rv::Invalid => ("<no value>".to_string(), true),
            Rv::V(v, _) => (super::fmt::sprint(&v), matches!(v, Value::String(_))),
        };
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        out.push_str(&text);
        prev_string = is_string;
    }
    out
}

fn length(item: &Rv) -> Result<usize, String> {
    match item {
        Rv::Invalid => Err("reflect: call of reflect.Value.Type on zero Value".into()),
        Rv::V(Value::Nil, _) => Err("len of nil pointer".into()),
        Rv::V(Value::String(s), _) => Ok(s.go_len()),
        Rv::V(Value::Bytes(b), _) => Ok(b.len()),
        Rv::V(Value::List(l), _) => Ok(l.items().len()),
        Rv::V(Value::Map(m), _) => Ok(m.len()),
        Rv::V(Value::Object(o), _) if o.map_entries().is_some() => Ok(o.map_entries().map(|e| e.len()).unwrap_or(0)),
        Rv::V(v, _) => Err(format!("len of type {}", v.type_name())),
    }
}

fn index_arg(index: &Rv, cap: usize) -> Result<usize, String> {
    let x = match index.indirect() {
        Rv::V(Value::Int(i, t), _) => {
            if t.unsigned() && i < 0 {
                return Err(format!("index out of range: {}", i as u64));
            }
            i
        }
        Rv::Invalid => return Err("cannot index slice/array with nil".into()),
        Rv::V(v, _) => return Err(format!("cannot index slice/array with type {}", v.type_name())),
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(item: &Rv, indexes: &[Rv]) -> Result<Rv, String> {
    let mut item = item.indirect();
    if let Rv::Invalid = item {
        return Err("index of untyped nil".into());
    }
    for ix in indexes {
        let cur = match &item {
            Rv::V(Value::Nil, _) | Rv::Invalid => return Err("index of nil pointer".into()),
            Rv::V(v, _) => v.clone(),
        };
        item = match &cur {
            Value::List(l) => {
                let x = index_arg(ix, l.items().len())?;
                match l.items().get(x) {
                    Some(v) => Rv::V(v.clone(), l.elem == "interface {}"),
                    None => return Err("reflect: slice index out of range".into()),
                }
            }
            Value::Bytes(b) => {
                let x = index_arg(ix, b.len())?;
                match b.get(x) {
                    Some(v) => Rv::concrete(Value::Int(*v as i64, IntType::Uint8)),
                    None => return Err("reflect: slice index out of range".into()),
                }
            }
            Value::String(s) => {
                let x = index_arg(ix, s.go_len())?;
                match s.go_bytes().get(x) {
                    Some(v) => Rv::concrete(Value::Int(*v as i64, IntType::Uint8)),
                    None => return Err("reflect: string index out of range".into()),
                }
            }
            Value::Map(m) => {
                let key = match ix.indirect() {
                    Rv::V(Value::String(k), _) => k,
                    Rv::Invalid => return Err("value is nil; should be of type string".into()),
                    Rv::V(v, _) => return Err(format!("value has type {}; should be string", v.type_name())),
                };
                let iface = m.elem == "interface {}";
                match m.entries().get(&*key) {
                    Some(v) => Rv::V(v.clone(), iface),
                    None => Rv::V(zero_of(m.elem), iface),
                }
            }
            Value::Object(o) if o.map_entries().is_some() => {
                let key = match ix.indirect() {
                    Rv::V(Value::String(k), _) => k,
                    Rv::Invalid => return Err("value is nil; should be of type string".into()),
                    Rv::V(v, _) => return Err(format!("value has type {}; should be string", v.type_name())),
                };
                let entries = o.map_entries().unwrap_or_default();
                match entries.into_iter().find(|(k, _)| **k == *key) {
                    Some((_, v)) => Rv::concrete(v),
                    // The zero value of Helm's `files` entries: a nil []byte.
                    None => Rv::concrete(Value::Bytes(std::sync::Arc::from(&[][..]))),
                }
            }
            v => return Err(format!("can't index item of type {}", v.type_name())),
        };
    }
    Ok(item)
}

fn slice(item: &Rv, indexes: &[Rv]) -> Result<Rv, String> {
    let item = match item.indirect() {
        Rv::Invalid => return Err("slice of untyped nil".into()),
        Rv::V(v, _) => v,
    };
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match &item {
        Value::String(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.go_len()
        }
        Value::List(l) => l.items().len(),
        Value::Bytes(b) => b.len(),
        v => return Err(format!("can't slice item of type {}", v.type_name())),
    };
    // Go slices up to the capacity; a slice's capacity is taken as its length here.
    let mut idx = [0, len, len];
    for (i, ix) in indexes.iter().enumerate() {
        idx[i] = index_arg(ix, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    let (a, z) = (idx[0], idx[1]);
    Ok(Rv::concrete(match item {
        // Go may cut a string inside a UTF-8 sequence: the bytes are kept.
        Value::String(s) => Value::String(s.byte_slice(a, z).unwrap_or_else(|| s.clone())),
        Value::Bytes(b) => Value::Bytes(std::sync::Arc::from(&b[a..z])),
        Value::List(l) => Value::List(List::new(l.items()[a..z].to_vec(), l.elem)),
        other => other,
    }))
}

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum Kind {
    Bool,
    Int,
    Uint,
    Float,
    String,
    /// Not a basic kind (or invalid).
    Other,
}

fn basic_kind(v: &Rv) -> Kind {
    match v {
        Rv::V(Value::Bool(_), _) => Kind::Bool,
        Rv::V(Value::Int(_, t), _) => {
            if t.unsigned() {
                Kind::Uint
            } else {
                Kind::Int
            }
        }
        Rv::V(Value::Float(_), _) => Kind::Float,
        Rv::V(Value::String(_), _) => Kind::String,
        _ => Kind::Other,
    }
}

fn int_of(v: &Rv) -> i64 {
    match v {
        Rv::V(Value::Int(i, _), _) => *i,
        _ => 0,
    }
}

fn uint_of(v: &Rv) -> u64 {
    int_of(v) as u64
}

fn float_of(v: &Rv) -> f64 {
    match v {
        Rv::V(Value::Float(f), _) => *f,
        _ => 0.0,
    }
}

/// A string's bytes: Go compares strings byte by byte.
fn str_of(v: &Rv) -> &[u8] {
    match v {
        Rv::V(Value::String(s), _) => s.go_bytes(),
        _ => b"",
    }
}

fn bool_of(v: &Rv) -> bool {
    matches!(v, Rv::V(Value::Bool(true), _))
}

/// Go's reflect kind name, for comparing non-basic values.
fn reflect_kind(v: &Rv) -> &'static str {
    match v {
        Rv::Invalid => "invalid",
        Rv::V(v, _) => v.kind_name(),
    }
}

/// Go's `incompatible types for comparison: int and string`.
fn bad_comparison(a: &Rv, b: &Rv) -> String {
    format!("incompatible types for comparison: {} and {}", a.value().type_name(), b.value().type_name())
}
const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";

fn eq(arg1: &Rv, rest: &[Rv]) -> Result<bool, String> {
    let a = arg1.indirect();
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(&a);
    for arg in rest {
        let b = arg.indirect();
        let k2 = basic_kind(&b);
        let truth = if k1 != k2 {
            match (k1, k2) {
                (Kind::Int, Kind::Uint) => int_of(&a) >= 0 && int_of(&a) as u64 == uint_of(&b),
                (Kind::Uint, Kind::Int) => int_of(&b) >= 0 && uint_of(&a) == int_of(&b) as u64,
                _ => {
                    if !matches!(a, Rv::Invalid) && !matches!(b, Rv::Invalid) {
                        return Err(bad_comparison(&a, &b));
                    }
                    false
                }
            }
        } else {
            match k1 {
                Kind::Bool => bool_of(&a) == bool_of(&b),
                Kind::Float => float_of(&a) == float_of(&b),
                Kind::Int => int_of(&a) == int_of(&b),
                Kind::Uint => uint_of(&a) == uint_of(&b),
                Kind::String => str_of(&a) == str_of(&b),
                Kind::Other => {
                    let invalid = |v: &Rv| matches!(v, Rv::Invalid);
                    if !invalid(&a) && !invalid(&b) && reflect_kind(&a) != reflect_kind(&b) {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            show(&a),
                            a.value().type_name(),
                            b.value().type_name(),
                            show(&b)
                        ));
                    }
                    if invalid(&a) || invalid(&b) {
                        invalid(&a) == invalid(&b)
                    } else {
                        match (&a, &b) {
                            (Rv::V(Value::Time(x), _), Rv::V(Value::Time(y), _)) => x == y,
                            (Rv::V(Value::Object(x), _), Rv::V(Value::Object(y), _)) => std::sync::Arc::ptr_eq(x, y),
                            _ => return Err(format!("non-comparable type {}: {}", show(&b), b.value().type_name())),
                        }
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn show(v: &Rv) -> String {
    super::fmt::sprintf("%s", &[v.value()])
}

fn lt(arg1: &Rv, arg2: &Rv) -> Result<bool, String> {
    let a = arg1.indirect();
    let k1 = basic_kind(&a);
    if k1 == Kind::Other {
        return Err(BAD_COMPARISON_TYPE.into());
    }
    let b = arg2.indirect();
    let k2 = basic_kind(&b);
    if k2 == Kind::Other {
        return Err(BAD_COMPARISON_TYPE.into());
    }
    if k1 != k2 {
        return match (k1, k2) {
            (Kind::Int, Kind::Uint) => Ok(int_of(&a) < 0 || (int_of(&a) as u64) < uint_of(&b)),
            (Kind::Uint, Kind::Int) => Ok(int_of(&b) >= 0 && uint_of(&a) < int_of(&b) as u64),
            _ => Err(bad_comparison(&a, &b)),
        };
    }
    Ok(match k1 {
        Kind::Bool => return Err(BAD_COMPARISON_TYPE.into()),
        Kind::Float => float_of(&a) < float_of(&b),
        Kind::Int => int_of(&a) < int_of(&b),
        Kind::Uint => uint_of(&a) < uint_of(&b),
        Kind::String => str_of(&a) < str_of(&b),
        Kind::Other => false,
    })
}

fn le(a: &Rv, b: &Rv) -> Result<bool, String> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if (c as u32) < 0x80 => out.push(c),
            c if super::fmt::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
