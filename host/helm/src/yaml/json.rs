//! JSON as Go's `encoding/json` writes and reads it for Helm's templates:
//! `Marshal` (sorted keys, Go's float64 format — `1e+21`, `1e-7` —, `<>&`
//! HTML-escaped unless asked not to, `[]byte` as base64, `time.Time` as
//! RFC 3339 with nanoseconds, NaN/Inf refused with Go's words),
//! `MarshalIndent`, and `Unmarshal` into `interface{}` with Go's syntax
//! error wording. Also the small Go formatting helpers the YAML side shares
//! (`strconv.FormatFloat(f, 'g', -1, …)`; `strconv.Quote` is
//! template::fmt's `quote`). It must not
//! know about YAML documents.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::value::{Time, Value};

pub(crate) use super::deep::MAX_DEPTH;

/// Why JSON could not be written or read, in Go's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(pub String);

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, bits)`: `1e+06`, `0.0001`, `1e-05`,
/// `+Inf`, `NaN`.
pub fn format_float_g(f: f64, bits: u32) -> String {
    crate::template::fmt::format_float_bits(f, 'g', None, bits)
}

/// encoding/json's float64: 'f' form, or 'e' form (with `e-7`, not `e-07`)
/// below 1e-6 and from 1e21 on. Non-finite values are an error.
pub fn format_float_json(f: f64) -> Result<String, JsonError> {
    if !f.is_finite() {
        return Err(JsonError(format!("json: unsupported value: {}", format_float_g(f, 64))));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let mut s = crate::template::fmt::format_float(f, 'e', None);
        // clean up e-09 to e-9
        if let Some(pos) = s.find("e-0") {
            s.remove(pos + 2);
        }
        return Ok(s);
    }
    Ok(crate::template::fmt::format_float(f, 'f', None))
}

/// Standard base64 with padding (encoding/json's `[]byte`): Go's
/// `StdEncoding.EncodeToString`, which the `base64` crate's STANDARD is.
pub fn base64_encode(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Go's `base64.StdEncoding.DecodeString` (Sprig's `b64dec`'s decoder,
/// which, unlike the `base64` crate, allows non-zero trailing bits); None
/// on any error.
pub fn base64_decode(data: &[u8]) -> Option<Vec<u8>> {
    crate::sprig::encoding::base64_decode(data).ok()
}
/// How to write JSON.
#[derive(Clone, Copy)]
pub struct JsonStyle {
    /// Escape `<`, `>`, `&` as `\u003c`… (`json.Marshal`; not `toRawJson`).
    pub escape_html: bool,
    /// `MarshalIndent(v, "", indent)`: Some("  ") for `toPrettyJson`.
    pub indent: Option<&'static str>,
}

/// `json.Marshal(v)` (style: HTML escaping on, no indent).
pub fn marshal(v: &Value) -> Result<String, JsonError> {
    marshal_with(v, JsonStyle { escape_html: true, indent: None })
}

pub fn marshal_with(v: &Value, style: JsonStyle) -> Result<String, JsonError> {
    super::deep::run(super::deep::value_depth(v), super::deep::MAX_DEPTH, || {
        let mut out = String::new();
        write_value(&mut out, v, style, 0)?;
        Ok(out)
    })
    .map_err(|e| JsonError(format!("json: {e}")))?
}

fn newline(out: &mut String, style: JsonStyle, depth: usize) {
    if let Some(ind) = style.indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(ind);
        }
    }
}

fn write_value(out: &mut String, v: &Value, style: JsonStyle, depth: usize) -> Result<(), JsonError> {
    if depth > MAX_DEPTH {
        return Err(JsonError(format!("json: nesting deeper than {MAX_DEPTH} levels")));
    }
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i, t) => {
            if t.unsigned() {
                let _ = write!(out, "{}", *i as u64);
            } else {
                let _ = write!(out, "{i}");
            }
        }
        Value::Float(f) => out.push_str(&format_float_json(*f)?),
        Value::String(s) if s.is_utf8() => write_string(out, s, style.escape_html),
        // encoding/json writes each byte that is not UTF-8 as `\ufffd`.
        Value::String(s) => {
            out.push('"');
            crate::template::fmt::for_go_runes(s.go_bytes(), |r| match r {
                Ok(c) => write_char(out, c, style.escape_html),
                Err(_) => out.push_str("\\ufffd"),
            });
            out.push('"');
        }
        Value::Bytes(b) => {
            out.push('"');
            out.push_str(&base64_encode(b));
            out.push('"');
        }
        Value::List(l) => {
            if l.items().is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in l.items().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, style, depth + 1);
                write_value(out, item, style, depth + 1)?;
            }
            newline(out, style, depth);
            out.push(']');
        }
        Value::Map(m) => write_map(out, &m.entries(), style, depth)?,
        Value::Time(t) => {
            out.push('"');
            out.push_str(&marshal_time(t)?);
            out.push('"');
        }
        Value::Object(o) => write_value(out, &o.marshal(), style, depth + 1)?,
    }
    Ok(())
}

fn write_map(out: &mut String, m: &BTreeMap<String, Value>, style: JsonStyle, depth: usize) -> Result<(), JsonError> {
    if m.is_empty() {
        out.push_str("{}");
        return Ok(());
    }
    out.push('{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, style, depth + 1);
        write_string(out, k, style.escape_html);
        out.push(':');
        if style.indent.is_some() {
            out.push(' ');
        }
        write_value(out, v, style, depth + 1)?;
    }
    newline(out, style, depth);
    out.push('}');
    Ok(())
}

/// encoding/json's string: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`,
/// other controls as `\u00XX`, U+2028/9 escaped, `<>&` when `html`.
pub fn write_string(out: &mut String, s: &str, html: bool) {
    out.push('"');
    for c in s.chars() {
        write_char(out, c, html);
    }
    out.push('"');
}

fn write_char(out: &mut String, c: char, html: bool) {
    {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '<' | '>' | '&' if html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// `t.Format(time.RFC3339Nano)`: what go-yaml and BurntSushi/toml write
/// for a `time.Time` (any year).
pub fn rfc3339_nano(t: &Time) -> String {
    crate::sprig::gotime::format(t, "2006-01-02T15:04:05.999999999Z07:00")
}

/// encoding/json's `time.Time`: `MarshalJSON`, which refuses years outside
/// 0..=9999 with Go's words (`toJson` then prints nothing, as Helm does).
pub fn marshal_time(t: &Time) -> Result<String, JsonError> {
    crate::sprig::gotime::rfc3339_nano(t).map_err(|e| JsonError(format!("json: error calling MarshalJSON for type time.Time: {e}")))
}

/// encoding/json's reading of a JSON text into `interface{}`.
struct Reader<'a> {
    b: &'a [u8],
    i: usize,
    /// The first type error (a number out of float64's range), kept while
    /// decoding goes on, as Go's `saveError`.
    saved: Option<JsonError>,
}

fn syntax(msg: String) -> JsonError {
    JsonError(msg)
}

impl Reader<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eof() -> JsonError {
        syntax("unexpected end of JSON input".into())
    }

    fn invalid(&self, c: u8, ctx: &str) -> JsonError {
        syntax(format!("invalid character {} {ctx}", crate::template::fmt::quote_rune(char::from(c))))
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.ws();
        let Some(c) = self.peek() else { return Err(Self::eof()) };
        if depth > MAX_DEPTH {
            return Err(syntax(format!("json: nesting deeper than {MAX_DEPTH} levels")));
        }
        match c {
            b'{' => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                match self.peek() {
                    None => return Err(Self::eof()),
                    Some(b'}') => {
                        self.i += 1;
                        return Ok(Value::map(m));
                    }
                    _ => {}
                }
                loop {
                    self.ws();
                    match self.peek() {
                        None => return Err(Self::eof()),
                        Some(b'"') => {}
                        Some(c) => return Err(self.invalid(c, "looking for beginning of object key string")),
                    }
                    let key = self.string()?;
                    self.ws();
                    match self.peek() {
                        None => return Err(Self::eof()),
                        Some(b':') => self.i += 1,
                        Some(c) => return Err(self.invalid(c, "after object key")),
                    }
                    let v = self.value(depth + 1)?;
                    m.insert(key, v);
                    self.ws();
                    match self.peek() {
                        None => return Err(Self::eof()),
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::map(m));
                        }
                        Some(c) => return Err(self.invalid(c, "after object key:value pair")),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                match self.peek() {
                    None => return Err(Self::eof()),
                    Some(b']') => {
                        self.i += 1;
                        return Ok(Value::list(items));
                    }
                    _ => {}
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        None => return Err(Self::eof()),
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::list(items));
                        }
                        Some(c) => return Err(self.invalid(c, "after array element")),
                    }
                }
            }
            b'"' => Ok(Value::from(self.string()?)),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Nil),
            b'-' | b'0'..=b'9' => self.number(),
            c => Err(self.invalid(c, "looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, JsonError> {
        for (k, &w) in word.as_bytes().iter().enumerate() {
            // At the end Go's scanner feeds a space to finish the value.
            match self.peek().or(Some(b' ')) {
                None => return Err(Self::eof()),
                Some(c) if c == w => self.i += 1,
                Some(c) => return Err(self.invalid(c, &format!("in literal {word} (expecting {})", crate::template::fmt::quote_rune(char::from(word.as_bytes()[k]))))),
            }
        }
        Ok(v)
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            None => return Err(self.invalid(b' ', "in numeric literal")),
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
            }
            Some(c) => return Err(self.invalid(c, "in numeric literal")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            match self.peek() {
                None => return Err(self.invalid(b' ', "after decimal point in numeric literal")),
                Some(b'0'..=b'9') => {}
                Some(c) => return Err(self.invalid(c, "after decimal point in numeric literal")),
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            match self.peek() {
                None => return Err(self.invalid(b' ', "in exponent of numeric literal")),
                Some(b'0'..=b'9') => {}
                Some(c) => return Err(self.invalid(c, "in exponent of numeric literal")),
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("0");
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => {
                if self.saved.is_none() {
                    self.saved = Some(JsonError(format!("json: cannot unmarshal number {text} into Go value of type float64")));
                }
                Ok(Value::Nil)
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut n = 0;
        for _ in 0..4 {
            let Some(c) = self.peek() else { return Err(Self::eof()) };
            let d = (c as char).to_digit(16).ok_or_else(|| self.invalid(c, "in \\u hexadecimal character escape"))?;
            n = n * 16 + d;
            self.i += 1;
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.i += 1; // the opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while self.i < self.b.len() && !matches!(self.b[self.i], b'"' | b'\\') && self.b[self.i] >= 0x20 {
                self.i += 1;
            }
            out.push_str(std::str::from_utf8(&self.b[start..self.i]).unwrap_or("\u{fffd}"));
            let Some(c) = self.peek() else { return Err(Self::eof()) };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.i += 1;
                    let Some(e) = self.peek() else { return Err(Self::eof()) };
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\x08'),
                        b'f' => out.push('\x0c'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let u = self.hex4()?;
                            if (0xd800..0xdc00).contains(&u) {
                                // A surrogate pair, when the next escape completes it.
                                let save = self.i;
                                if self.b.get(self.i) == Some(&b'\\') && self.b.get(self.i + 1) == Some(&b'u') {
                                    self.i += 2;
                                    let lo = self.hex4()?;
                                    if (0xdc00..0xe000).contains(&lo) {
                                        let c = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                                        out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                                        continue;
                                    }
                                    self.i = save;
                                }
                                out.push('\u{fffd}');
                            } else {
                                out.push(char::from_u32(u).unwrap_or('\u{fffd}'));
                            }
                        }
                        other => return Err(self.invalid(other, "in string escape code")),
                    }
                }
                c => return Err(self.invalid(c, "in string literal")),
            }
        }
    }
}

/// `json.Unmarshal` into `interface{}`: the value (numbers `float64`) and
/// the first type error Go reports after decoding all it could (a number
/// beyond float64 decodes as nil). Syntax errors come first and alone.
pub fn unmarshal_partial(text: &str) -> Result<(Value, Option<JsonError>), JsonError> {
    super::deep::run(super::deep::bracket_depth(text), super::deep::READ_DEPTH, || unmarshal_inline(text)).map_err(|e| JsonError(format!("json: {e}")))?
}

fn unmarshal_inline(text: &str) -> Result<(Value, Option<JsonError>), JsonError> {
    let mut r = Reader { b: text.as_bytes(), i: 0, saved: None };
    let v = r.value(0)?;
    r.ws();
    if let Some(c) = r.peek() {
        return Err(r.invalid(c, "after top-level value"));
    }
    Ok((v, r.saved))
}

/// `json.Unmarshal` into `interface{}`.
pub fn unmarshal(text: &str) -> Result<Value, JsonError> {
    match unmarshal_partial(text)? {
        (_, Some(e)) => Err(e),
        (v, None) => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Helm (`toDate "2006-01-02" "9999-12-31" | dateModify "+48h"`):
    /// `mustToJson`/`mustToYaml` fail with MarshalJSON's words, `toToml`
    /// and go-yaml write the year as it is.
    #[test]
    fn times_past_9999_are_refused_by_encoding_json_only() {
        let t = Time { unix_nanos: 253_402_387_200_000_000_000, offset: 0, zone: std::sync::Arc::from("UTC") };
        assert_eq!(
            marshal(&Value::list(vec![Value::Time(t.clone())])).unwrap_err().0,
            "json: error calling MarshalJSON for type time.Time: Time.MarshalJSON: year outside of range [0,9999]"
        );
        assert_eq!(
            crate::yaml::to_yaml(&Value::list(vec![Value::Time(t.clone())])).unwrap_err().to_string(),
            "error marshaling into JSON: json: error calling MarshalJSON for type time.Time: Time.MarshalJSON: year outside of range [0,9999]"
        );
        assert_eq!(rfc3339_nano(&t), "10000-01-02T00:00:00Z");
        let ok = Time { unix_nanos: 1_700_000_000_120_000_000, offset: 3600, zone: std::sync::Arc::from("CET") };
        assert_eq!(marshal(&Value::Time(ok)).unwrap(), "\"2023-11-14T23:13:20.12+01:00\"");
    }

    #[test]
    fn go_float_formats() {
        for (f, g, j) in [
            (1.0, "1", "1"),
            (1e6, "1e+06", "1000000"),
            (123456.0, "123456", "123456"),
            (1234567.0, "1.234567e+06", "1234567"),
            (0.0001, "0.0001", "0.0001"),
            (0.00001, "1e-05", "0.00001"),
            (1e-7, "1e-07", "1e-7"),
            (1e21, "1e+21", "1e+21"),
            (1e20, "1e+20", "100000000000000000000"),
            (-2.5, "-2.5", "-2.5"),
            (0.1, "0.1", "0.1"),
            (1.5e300, "1.5e+300", "1.5e+300"),
        ] {
            assert_eq!(format_float_g(f, 64), g, "{f}");
            assert_eq!(format_float_json(f).unwrap(), j, "{f}");
        }
        assert_eq!(format_float_g(1.234_567_89, 32), "1.2345679");
        assert_eq!(format_float_json(f64::NAN).unwrap_err().0, "json: unsupported value: NaN");
    }

    #[test]
    fn base64_round_trip() {
        for s in ["", "a", "ab", "abc", "abcd", "hello world"] {
            assert_eq!(base64_decode(base64_encode(s.as_bytes()).as_bytes()).unwrap(), s.as_bytes());
        }
        assert_eq!(base64_encode(b"hello"), "aGVsbG8=");
        assert!(base64_decode(b"a===").is_none());
        assert!(base64_decode(b"aGVsbG8").is_none());
        // Go's decoder keeps going past non-zero trailing bits.
        assert_eq!(base64_decode(b"aGl=").unwrap(), b"hi");
    }
}
