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
use crate::value::{IntType, Value};

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

/// A Go `map[string]interface{}` parameter.
pub fn want_map(v: &Value) -> Result<&std::collections::BTreeMap<String, Value>, FuncError> {
    match v {
        Value::Map(m) if m.elem == "interface {}" => Ok(&m.entries),
        other => Err(wrong_type("map[string]interface {}", other)),
    }
}

/// The items of a slice-kinded value (`[]interface{}`, `[]string`, `[]byte`…);
/// None for every other kind.
pub fn slice_items(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::List(l) => Some(l.items.as_ref().clone()),
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
pub fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        // Go keeps the bytes; a Rust string cannot hold invalid UTF-8.
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => sprint(other),
    }
}

/// Go's `int64(f)` on amd64: truncation, and the "indefinite integer"
/// (minimum int64) for NaN and out-of-range values.
pub fn f64_to_i64(f: f64) -> i64 {
    if f.is_nan() || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
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
        Value::Int(i, t) => {
            if t.unsigned() {
                (*i as u64) as f64
            } else {
                *i as f64
            }
        }
        Value::Float(f) => *f,
        Value::Bool(b) => {
            if *b {
                1.0
            } else {
                0.0
            }
        }
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

/// Go's `underscoreOK`: underscores only between digits (or after a base
/// prefix), as Go literals allow.
fn underscore_ok(s: &str) -> bool {
    // saw: '^' start, '0' digit or prefix, '_' underscore, '!' other
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    if !b.is_empty() && (b[0] == b'-' || b[0] == b'+') {
        i = 1;
    }
    let mut hex = false;
    if b.len() - i >= 2 && b[i] == b'0' {
        let c = b[i + 1] | 0x20;
        if c == b'b' || c == b'o' || c == b'x' {
            hex = c == b'x';
            i += 2;
            saw = b'0';
        }
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseInt(s, 0, 64)`: sign, `0x`/`0o`/`0b`/leading-`0`
/// octal prefixes, underscores between digits; None on any error
/// (including overflow).
pub fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    let _ = prefixed;
    if body.contains('_') && !underscore_ok(s) {
        return None;
    }
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() {
        return None;
    }
    let mag = u64::from_str_radix(&digits, radix).ok()?;
    if neg {
        if mag > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((mag as i128).wrapping_neg() as i64)
        }
    } else if mag > i64::MAX as u64 {
        None
    } else {
        Some(mag as i64)
    }
}

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
    if body.contains('_') && !underscore_ok(s) {
        return None;
    }
    let clean: String = lower.chars().filter(|c| *c != '_').collect();
    let v = if let Some(hex) = clean.strip_prefix("0x") {
        parse_hex_float(hex)?
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

/// A hexadecimal float mantissa with its mandatory `p` exponent.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once('p')?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
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
        Value::List(l) => l.items.is_empty(),
        Value::Map(m) => m.entries.is_empty(),
        Value::Time(_) => false,
        Value::Object(o) => o.kind() != "struct" && !o.truthy(),
    }
}

/// Go's `reflect.DeepEqual` over template values: same dynamic type, then
/// equal contents (NaN is unequal to itself, as in Go).
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x, t), Value::Int(y, u)) => t == u && x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.elem == y.elem && x.items.len() == y.items.len() && x.items.iter().zip(y.items.iter()).all(|(p, q)| deep_equal(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.elem == y.elem
                && x.entries.len() == y.entries.len()
                && x.entries.iter().all(|(k, v)| y.entries.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        (Value::Time(x), Value::Time(y)) => x == y,
        (Value::Object(x), Value::Object(y)) => {
            std::sync::Arc::ptr_eq(x, y) || (x.type_name() == y.type_name() && x.format() == y.format())
        }
        _ => false,
    }
}

/// Go's `strconv.Quote` (what `%q` of a string prints): printable runes as
/// they are, the rest escaped.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if go_is_print(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`, approximated: controls, spaces other than
/// U+0020, format characters, private use and noncharacters are not
/// printable. (Go also refuses unassigned code points; Rust's std has no
/// table for them, so they print as they are here.)
pub fn go_is_print(c: char) -> bool {
    let u = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(u,
        0xA0 | 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x1680
        | 0x2000..=0x200F | 0x2028..=0x202F | 0x205F..=0x2064 | 0x2066..=0x206F
        | 0x3000 | 0xD800..=0xF8FF | 0xFEFF | 0xFFF9..=0xFFFB | 0xFFFE | 0xFFFF
        | 0x110BD | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        | 0xF0000..=0x10FFFF)
        && (u & 0xFFFE) != 0xFFFE
}

/// Go's `unicode.IsSpace`.
pub fn go_is_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}') || ((c as u32) > 0xff && c.is_whitespace())
}

/// Go's `unicode.ToUpper` of one rune (simple case mapping).
pub fn rune_upper(c: char) -> char {
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

/// Go's `unicode.IsUpper` (category Lu), approximated by Rust's Uppercase
/// property less the title-case digraphs.
pub fn is_upper(c: char) -> bool {
    c.is_uppercase() && !is_title(c) && c.is_alphabetic() && !('\u{2160}'..='\u{216F}').contains(&c) && !('\u{24B6}'..='\u{24CF}').contains(&c)
}

pub fn is_lower(c: char) -> bool {
    c.is_lowercase() && !('\u{2170}'..='\u{217F}').contains(&c) && !('\u{24D0}'..='\u{24E9}').contains(&c) && !matches!(c, '\u{AA}' | '\u{BA}')
}

pub fn is_title(c: char) -> bool {
    matches!(c, '\u{1C5}' | '\u{1C8}' | '\u{1CB}' | '\u{1F2}' | '\u{1F88}'..='\u{1F8F}' | '\u{1F98}'..='\u{1F9F}' | '\u{1FA8}'..='\u{1FAF}' | '\u{1FBC}' | '\u{1FCC}' | '\u{1FFC}')
}

/// Go's `unicode.IsLetter`, approximated by Rust's Alphabetic property.
pub fn is_letter(c: char) -> bool {
    c.is_alphabetic() && !('\u{2160}'..='\u{2188}').contains(&c) && !('\u{24B6}'..='\u{24E9}').contains(&c)
}

/// Go's `unicode.IsPunct` (category P): exact for ASCII and Latin-1, the
/// General Punctuation and CJK punctuation blocks beyond.
pub fn is_punct(c: char) -> bool {
    match c as u32 {
        0..=0x7f => matches!(c, '!' | '"' | '#' | '%' | '&' | '\'' | '(' | ')' | '*' | ',' | '-' | '.' | '/' | ':' | ';' | '?' | '@' | '[' | '\\' | ']' | '_' | '{' | '}'),
        0xA1 | 0xA7 | 0xAB | 0xB6 | 0xB7 | 0xBB | 0xBF => true,
        0x2010..=0x2027 | 0x2030..=0x2043 | 0x2045..=0x2051 | 0x2053..=0x205E => true,
        0x3001..=0x3003 | 0x3008..=0x3011 | 0x3014..=0x301F => true,
        0xFF01..=0xFF03 | 0xFF05..=0xFF0A | 0xFF0C..=0xFF0F | 0xFF1A | 0xFF1B | 0xFF1F | 0xFF20 => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(!deep_equal(&Value::int(1), &Value::Float(1.0)));
        assert!(!deep_equal(&Value::int(1), &Value::int64(1)));
        assert!(deep_equal(&Value::list(vec![Value::int(1)]), &Value::list(vec![Value::int(1)])));
        assert!(!deep_equal(&Value::list(vec![Value::str("a")]), &Value::strings(["a"])));
    }
}
