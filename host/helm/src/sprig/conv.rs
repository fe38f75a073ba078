//! What every Sprig family shares: the way Go's `text/template` checks an
//! argument against a parameter type before the call (a `string` parameter
//! refuses an `int`, an `int` refuses an `int64`), Sprig's own conversions
//! (`strval`, spf13/cast v1.7's `ToInt64`/`ToFloat64`, Go's
//! `strconv.ParseInt`/`ParseFloat`), Sprig's `empty`, `reflect.DeepEqual`,
//! and the runtime-panic texts Go's executor turns into `error calling X:`.
//! It registers no function and must not print values itself: `%v` is
//! `template::fmt::sprint`'s.

use crate::func::{FuncError, FuncMap, FuncResult};
use crate::template::fmt::sprint;
use crate::value::{IntType, Str, Value};

/// Go's type name of an argument for a type error. A nil that reached a
/// function came from a map lookup or a field, whose static type is
/// `interface {}`: Go says "got interface {}" for it.
fn got_name(v: &Value) -> String {
    match v {
        Value::Nil => "interface {}".into(),
        other => other.type_name(),
    }
}

/// Go's refusal of an argument of the wrong type.
pub fn wrong_type(expected: &str, got: &Value) -> FuncError {
    FuncError::argument(format!("wrong type for value; expected {expected}; got {}", got_name(got)))
}

/// A Go runtime panic inside the function, as the executor reports it.
pub fn runtime(msg: impl std::fmt::Display) -> FuncError {
    FuncError::call(format!("runtime error: {msg}"))
}

/// A Go `string` parameter.
pub fn want_str(v: &Value) -> Result<&str, FuncError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(wrong_type("string", other)),
    }
}

/// A Go `int` parameter: only an `int` is assignable.
pub fn want_int(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i, IntType::Int) => Ok(*i),
        other => Err(wrong_type("int", other)),
    }
}

/// A Go `bool` parameter.
pub fn want_bool(v: &Value) -> Result<bool, FuncError> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(wrong_type("bool", other)),
    }
}

/// A Go `map[string]interface{}` parameter. A named map type over it (Helm's
/// `.Values` is `common.Values`) is assignable too, as in Go.
pub fn want_map(v: &Value) -> Result<std::sync::Arc<std::collections::BTreeMap<String, Value>>, FuncError> {
    match v {
        Value::Map(m) if m.elem == "interface {}" => Ok(m.entries()),
        Value::Object(o) if o.kind() == "map" => match o.marshal() {
            Value::Map(m) if m.elem == "interface {}" => Ok(m.entries()),
            _ => Err(wrong_type("map[string]interface {}", v)),
        },
        other => Err(wrong_type("map[string]interface {}", other)),
    }
}

/// The items of a slice-kinded value (`[]interface{}`, `[]string`, `[]byte`…);
/// None for every other kind.
pub fn slice_items(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::List(l) => Some(l.items().as_ref().clone()),
        Value::Bytes(b) => Some(b.iter().map(|x| Value::Int(*x as i64, IntType::Uint8)).collect()),
        _ => None,
    }
}

/// `reflect.TypeOf(v).Kind()` as Sprig words it in its errors; None for a
/// nil interface (where Go panics with a nil dereference).
pub fn kind_or_nil_panic(v: &Value) -> Result<&'static str, FuncError> {
    match v {
        Value::Nil => Err(nil_deref()),
        other => Ok(other.kind_name()),
    }
}

pub fn nil_deref() -> FuncError {
    runtime("invalid memory address or nil pointer dereference")
}

/// How Go's executor checks the count before calling.
pub fn check_count(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    crate::func::arity(name, args, n)
}

pub fn check_at_least(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() >= n {
        Ok(())
    } else {
        Err(FuncError::argument(format!("wrong number of args for {name}: want at least {n} got {}", args.len())))
    }
}

/// Registers a function of exactly `n` parameters.
pub fn fixed(m: &mut FuncMap, name: &'static str, n: usize, f: fn(&[Value]) -> FuncResult) {
    m.add(name, move |args: &[Value]| {
        check_count(name, args, n)?;
        f(args)
    });
}

/// Registers a variadic function with `n` leading parameters.
pub fn variadic(m: &mut FuncMap, name: &'static str, n: usize, f: fn(&[Value]) -> FuncResult) {
    m.add(name, move |args: &[Value]| {
        check_at_least(name, args, n)?;
        f(args)
    });
}

/// Sprig's `strval`: strings and bytes as they are, everything else as `%v`
/// prints it (errors and Stringers print themselves through `%v` too).
/// A Go `string` parameter with its bytes (for the functions Go defines
/// on bytes: `substr`, `trunc`, `b64enc`, the digests, …).
pub fn want_go_str(v: &Value) -> Result<&Str, FuncError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(wrong_type("string", other)),
    }
}

/// [`strval`] with Go's bytes: a string as it is, a `[]byte` as `string(b)`.
pub fn strval_go(v: &Value) -> Str {
    match v {
        Value::String(s) => s.clone(),
        Value::Bytes(b) => Str::from_bytes(b.to_vec()),
        other => Str::from(strval(other)),
    }
}

pub fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        // The text of Go's bytes (`strval_go` keeps them).
        Value::Bytes(b) => crate::value::go_lossy(b).into_owned(),
        // A Stringer (`*semver.Version`) prints through its String method.
        Value::Object(o) => o.format(),
        other => sprint(other),
    }
}

/// Go's `int64(f)` on amd64: truncation, and the "indefinite integer"
/// (minimum int64) for NaN and out-of-range values.
pub fn f64_to_i64(f: f64) -> i64 {
    // 2^63 is exactly representable; every float in [-2^63, 2^63) converts.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || !(-TWO_63..TWO_63).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// spf13/cast v1.7 `ToInt64` (errors become 0), which Sprig's arithmetic,
/// `int64` and `int` use. A `uint64` above the int64 range wraps as Go's
/// conversion does.
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i, _) => *i,
        Value::Float(f) => f64_to_i64(*f),
        Value::Bool(b) => *b as i64,
        Value::String(s) => parse_int_base0(&trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

/// spf13/cast v1.7 `ToFloat64` (errors become 0).
pub fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i, t) if t.unsigned() => (*i as u64) as f64,
        Value::Int(i, _) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(true) => 1.0,
        Value::Bool(false) => 0.0,
        Value::String(s) => parse_float(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

/// cast's `trimZeroDecimal`: "3.00" → "3", "3.10" unchanged.
fn trim_zero_decimal(s: &str) -> String {
    let b = s.as_bytes();
    let mut found_zero = false;
    let mut i = b.len();
    while i > 0 {
        match b[i - 1] {
            b'.' => {
                if found_zero {
                    return s[..i - 1].to_string();
                }
            }
            b'0' => found_zero = true,
            _ => return s.to_string(),
        }
        i -= 1;
    }
    s.to_string()
}

/// Go's `strconv.ParseInt(s, 0, 64)`: the template parser's.
pub(crate) use crate::template::parse::parse_int as parse_int_base0;

/// Go's `strconv.ParseFloat(s, 64)`; None on a syntax error or when the
/// value is out of range (Go returns ±Inf with an error there).
pub fn parse_float(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let special = match lower.as_str() {
        "inf" | "infinity" => Some(f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => None,
    };
    if let Some(v) = special {
        return Some(if neg { -v } else { v });
    }
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'+' || c == b'-') {
        return None;
    }
    if body.contains('_') && !crate::template::parse::underscore_ok(s) {
        return None;
    }
    let clean: String = lower.chars().filter(|c| *c != '_').collect();
    let v = if let Some(hex) = clean.strip_prefix("0x") {
        crate::template::parse::parse_hex_float(hex)?
    } else {
        // Rust accepts what Go's decimal syntax accepts, plus "inf"/"nan"
        // spellings handled above; refuse anything with letters but `e`.
        if clean.bytes().any(|c| c.is_ascii_alphabetic() && c != b'e') {
            return None;
        }
        clean.parse::<f64>().ok()?
    };
    if v.is_infinite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// Sprig's `empty`: nil, false, zero numbers, and empty strings, slices and
/// maps; structs (objects, times) never are.
pub fn empty(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::Bool(b) => !*b,
        Value::Int(i, _) => *i == 0,
        Value::Float(f) => *f == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::List(l) => l.items().is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Time(_) => false,
        Value::Object(o) => o.kind() != "struct" && !o.truthy(),
    }
}

/// How deep `deep_equal` and `merge` follow nested lists and maps before
/// giving up with an error (instead of exhausting the stack).
pub const MAX_DEPTH: usize = 1000;

pub fn too_deep(what: &str) -> FuncError {
    FuncError::call(format!("{what}: values nest deeper than {MAX_DEPTH} levels"))
}

/// Go's `reflect.DeepEqual` over template values: same dynamic type, then
/// equal contents (NaN is unequal to itself, as in Go).
pub fn deep_equal(a: &Value, b: &Value) -> Result<bool, FuncError> {
    deep_equal_at(a, b, 0)
}

fn deep_equal_at(a: &Value, b: &Value, depth: usize) -> Result<bool, FuncError> {
    if depth > MAX_DEPTH {
        return Err(too_deep("deepEqual"));
    }
    Ok(match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x, t), Value::Int(y, u)) => t == u && x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            if x.elem != y.elem || x.items().len() != y.items().len() {
                return Ok(false);
            }
            for (p, q) in x.items().iter().zip(y.items().iter()) {
                if !deep_equal_at(p, q, depth + 1)? {
                    return Ok(false);
                }
            }
            true
        }
        (Value::Map(x), Value::Map(y)) => {
            if x.elem != y.elem || x.len() != y.len() {
                return Ok(false);
            }
            for (k, v) in x.entries().iter() {
                match y.entries().get(k) {
                    Some(w) if deep_equal_at(v, w, depth + 1)? => {}
                    _ => return Ok(false),
                }
            }
            true
        }
        (Value::Time(x), Value::Time(y)) => x == y,
        (Value::Object(x), Value::Object(y)) => std::sync::Arc::ptr_eq(x, y) || (x.type_name() == y.type_name() && x.format() == y.format()),
        _ => false,
    })
}

/// Whether any of `hay` is deeply equal to `needle`.
pub fn in_list(hay: &[Value], needle: &Value) -> Result<bool, FuncError> {
    for h in hay {
        if deep_equal(needle, h)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `strconv.Quote` (what `%q` of a string prints): template::fmt's.
pub use crate::template::fmt::quote as go_quote;

/// Unicode general categories Go's `unicode` package tests, through the
/// `regex` crate's tables (std has none). Its Unicode version may be a
/// little newer than Go's.
#[derive(Clone, Copy)]
enum Cat {
    Upper,
    Lower,
    Title,
    Letter,
    Punct,
}

fn in_cat(c: char, cat: Cat) -> bool {
    use std::sync::OnceLock;
    static CLASSES: OnceLock<Vec<Option<regex::Regex>>> = OnceLock::new();
    let classes = CLASSES.get_or_init(|| {
        [r"^\p{Lu}$", r"^\p{Ll}$", r"^\p{Lt}$", r"^\p{L}$", r"^\p{P}$"]
            .iter()
            .map(|p| regex::Regex::new(p).ok())
            .collect()
    });
    let mut buf = [0u8; 4];
    classes.get(cat as usize).and_then(Option::as_ref).is_some_and(|r| r.is_match(c.encode_utf8(&mut buf)))
}

/// Go's `unicode.IsSpace`.
pub fn go_is_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}') || ((c as u32) > 0xff && c.is_whitespace())
}

/// Go's `unicode.ToUpper` of one rune (simple case mapping).
pub fn rune_upper(c: char) -> char {
    // Greek with ypogegrammeni: Go's simple mapping goes to the title-case
    // letter, where Rust's full mapping has two runes.
    let u = c as u32;
    if matches!(u, 0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7) {
        return char::from_u32(u + 8).unwrap_or(c);
    }
    match c {
        '\u{1FB3}' => return '\u{1FBC}',
        '\u{1FC3}' => return '\u{1FCC}',
        '\u{1FF3}' => return '\u{1FFC}',
        _ => {}
    }
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToLower` of one rune (simple case mapping).
pub fn rune_lower(c: char) -> char {
    if c == '\u{130}' {
        // Go: İ lowers to i (simple mapping); Rust's full mapping is two runes.
        return 'i';
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToTitle` of one rune: upper case except the few letters
/// with a distinct title case (the DŽ/Lj/Nj/Dz digraphs).
pub fn rune_title(c: char) -> char {
    match c {
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}',
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}',
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}',
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}',
        c => rune_upper(c),
    }
}

/// Go's `unicode.IsUpper` (category Lu).
pub fn is_upper(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_uppercase();
    }
    in_cat(c, Cat::Upper)
}

/// Go's `unicode.IsLower` (category Ll).
pub fn is_lower(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_lowercase();
    }
    in_cat(c, Cat::Lower)
}

/// Go's `unicode.IsTitle` (category Lt).
pub fn is_title(c: char) -> bool {
    !c.is_ascii() && in_cat(c, Cat::Title)
}

/// Go's `unicode.IsLetter` (category L).
pub fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    in_cat(c, Cat::Letter)
}

/// Go's `unicode.IsPunct` (category P).
pub fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        return matches!(c, '!' | '"' | '#' | '%' | '&' | '\'' | '(' | ')' | '*' | ',' | '-' | '.' | '/' | ':' | ';' | '?' | '@' | '[' | '\\' | ']' | '_' | '{' | '}');
    }
    in_cat(c, Cat::Punct)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `int64`/`int` of strings as Helm answered: a sign after a base
    /// prefix is Go's syntax error (0); underscores after a prefix are fine.
    #[test]
    fn string_to_int_is_gos_parse_int() {
        for (s, want) in [("0x+1", 0), ("0b-1", 0), ("+0x10", 16), ("0x_1", 1)] {
            assert_eq!(to_int64(&Value::from(s)), want, "{s}");
        }
    }

    #[test]
    fn cast_to_int64_matches_cast_v1_7() {
        // Checked with Helm: `add "0x10" "1.5" " 3" "010" "08"` is 24.
        let cases = [("0x10", 16), ("1.5", 0), (" 3", 0), ("010", 8), ("08", 0), ("3.0", 3), ("3.00", 3), ("0b11", 3), ("0o17", 15), ("1_000", 1000), ("+5", 5), ("-0x1F", -31), ("abc", 0), ("1e3", 0), ("", 0)];
        for (s, want) in cases {
            assert_eq!(to_int64(&Value::str(s)), want, "{s}");
        }
        assert_eq!(to_int64(&Value::Float(3.9)), 3);
        assert_eq!(to_int64(&Value::Float(-3.9)), -3);
        assert_eq!(to_int64(&Value::Bool(true)), 1);
        assert_eq!(to_int64(&Value::Nil), 0);
        assert_eq!(to_int64(&Value::list(vec![])), 0);
    }

    #[test]
    fn cast_to_float64_matches_cast_v1_7() {
        // Helm: float64 of "0x10" "1_0.5" " 1" "inf" "NaN" true → 0 10.5 0 +Inf NaN 1
        assert_eq!(to_float64(&Value::str("0x10")), 0.0);
        assert_eq!(to_float64(&Value::str("1_0.5")), 10.5);
        assert_eq!(to_float64(&Value::str(" 1")), 0.0);
        assert_eq!(to_float64(&Value::str("inf")), f64::INFINITY);
        assert!(to_float64(&Value::str("NaN")).is_nan());
        assert_eq!(to_float64(&Value::Bool(true)), 1.0);
        assert_eq!(to_float64(&Value::str("1e3")), 1000.0);
        assert_eq!(to_float64(&Value::str("1e400")), 0.0);
        assert_eq!(to_float64(&Value::str("0x1p4")), 16.0);
        assert_eq!(to_float64(&Value::str("_1")), 0.0);
    }

    #[test]
    fn go_quote_escapes_as_strconv() {
        assert_eq!(go_quote("a\"b\\\n\t\u{7f}é\u{a0}"), "\"a\\\"b\\\\\\n\\t\\x7fé\\u00a0\"");
    }

    #[test]
    fn deep_equal_keeps_go_types() {
        assert!(!deep_equal(&Value::int(1), &Value::Float(1.0)).unwrap());
        assert!(!deep_equal(&Value::int(1), &Value::int64(1)).unwrap());
        assert!(deep_equal(&Value::list(vec![Value::int(1)]), &Value::list(vec![Value::int(1)])).unwrap());
        assert!(!deep_equal(&Value::list(vec![Value::str("a")]), &Value::strings(["a"])).unwrap());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut v = Value::int(1);
        for _ in 0..MAX_DEPTH + 5 {
            v = Value::list(vec![v]);
        }
        let e = deep_equal(&v, &v.clone()).unwrap_err();
        assert_eq!(e.to_string(), format!("deepEqual: values nest deeper than {MAX_DEPTH} levels"));
    }
}
