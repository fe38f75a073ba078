//! Go's `fmt` as templates use it: `%v` of every value (`Sprint`,
//! `Sprintln`), and `Sprintf` with Go's verbs, flags, width, precision and
//! argument indexes, Go's float formatting (`strconv`'s shortest `%g`,
//! `1e+06`), and Go's complaints in the output (`%!d(string=x)`,
//! `%!d(MISSING)`, `%!(EXTRA int=1)`). Also `strconv.Quote`, which errors
//! and `%q` use. It formats values; it never evaluates templates.
//!
//! Go prints bytes: a string that is not UTF-8 prints its bytes (`%s`,
//! `%v`), escapes them (`%q`: `\xff`) or shows them in hex (`%x`). The
//! `*_go` functions return those bytes as a [`Str`]; the others the text
//! Go's way lossy ([`go_lossy`]), for messages and text-only callers.

use crate::value::{go_lossy_string, IntType, Str, Value};

/// How deep `print_value` nests before it prints a marker instead (a map
/// that contains itself; Go overflows its stack there and dies).
const MAX_PRINT_DEPTH: usize = crate::value::MAX_WALK_DEPTH;

/// The printer's output: bytes, as Go's `fmt` buffer holds them.
#[derive(Default)]
struct Buf(Vec<u8>);

impl Buf {
    fn push(&mut self, c: char) {
        let mut b = [0u8; 4];
        self.0.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    }

    fn push_str(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }

    fn push_bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
}

impl Printer {
    fn text(self) -> String {
        go_lossy_string(self.buf.0)
    }

    fn go(self) -> Str {
        Str::from_bytes(self.buf.0)
    }
}

/// `fmt.Sprint(v)`: how `{{ v }}`, `print` and `toString` show a value.
pub fn sprint(v: &Value) -> String {
    sprint_printer(v).text()
}

/// [`sprint`]'s bytes.
pub fn sprint_go(v: &Value) -> Str {
    match v {
        Value::String(s) => s.clone(),
        _ => sprint_printer(v).go(),
    }
}

/// [`sprint`]'s bytes, appended to `out` (the executor's output).
pub fn sprint_into(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::String(s) => out.extend_from_slice(s.go_bytes()),
        _ => out.extend_from_slice(&sprint_printer(v).buf.0),
    }
}

fn sprint_printer(v: &Value) -> Printer {
    let mut p = Printer::default();
    p.print_arg(v, 'v');
    p
}

/// `fmt.Sprint(args...)`: a space between two operands when neither is a string.
pub fn sprint_args(args: &[Value]) -> String {
    sprint_args_printer(args).text()
}

/// [`sprint_args`]'s bytes.
pub fn sprint_args_go(args: &[Value]) -> Str {
    sprint_args_printer(args).go()
}

fn sprint_args_printer(args: &[Value]) -> Printer {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
        prev_string = is_string;
    }
    p
}

/// `fmt.Sprintln(args...)`: spaces between all operands, a newline after.
pub fn sprintln(args: &[Value]) -> String {
    sprintln_printer(args).text()
}

/// [`sprintln`]'s bytes.
pub fn sprintln_go(args: &[Value]) -> Str {
    sprintln_printer(args).go()
}

fn sprintln_printer(args: &[Value]) -> Printer {
    let mut p = Printer::default();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
    }
    p.buf.push('\n');
    p
}

/// `fmt.Sprintf(format, args...)`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer::default();
    p.do_printf(format, args);
    p.text()
}

/// [`sprintf`]'s bytes.
pub fn sprintf_go(format: &str, args: &[Value]) -> Str {
    let mut p = Printer::default();
    p.do_printf(format, args);
    p.go()
}

/// `strconv.Quote` of any bytes: an invalid byte is `\xNN`.
pub fn quote_bytes(b: &[u8]) -> String {
    quote_bytes_with(b, '"', false)
}

fn quote_bytes_with(b: &[u8], q: char, ascii: bool) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push(q);
    for_go_runes(b, |r| match r {
        Ok(c) => quote_rune_into(&mut out, c, q, ascii),
        Err(x) => out.push_str(&format!("\\x{x:02x}")),
    });
    out.push(q);
    out
}

/// Go's `for range` over bytes: each rune, or `Err(byte)` for a byte that
/// does not start a valid UTF-8 sequence.
pub(crate) fn for_go_runes(mut b: &[u8], mut f: impl FnMut(Result<char, u8>)) {
    while !b.is_empty() {
        match std::str::from_utf8(b) {
            Ok(s) => {
                s.chars().for_each(|c| f(Ok(c)));
                return;
            }
            Err(e) => {
                let (good, bad) = b.split_at(e.valid_up_to());
                std::str::from_utf8(good).unwrap_or_default().chars().for_each(|c| f(Ok(c)));
                f(Err(bad[0]));
                b = &bad[1..];
            }
        }
    }
}

/// `strconv.Quote(s)`.
pub fn quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// `strconv.QuoteRune(c)` (`%q` of a rune): `'a'`, `'\''`, `'"'`, `'\n'`.
/// Also encoding/json's `quoteChar` of a byte (as the rune of that value).
pub fn quote_rune(c: char) -> String {
    let mut s = String::from("'");
    quote_rune_into(&mut s, c, '\'', false);
    s.push('\'');
    s
}

/// `%#U` of a rune: `U+0041 'A'`.
pub fn unicode_sharp(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{}'", c as u32, c)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

/// Go's `unicode.IsPrint` (and `strconv.IsPrint`, the same set): letters,
/// marks, numbers, punctuation, symbols and the ASCII space. The general
/// categories come from the `regex` crate's tables (std has none), whose
/// Unicode version may be a little newer than Go's. The one test of
/// printability in this crate (`%q`, `strconv.Quote`, JS escaping, Helm's
/// `sanitizeString`).
pub fn is_print(c: char) -> bool {
    use std::sync::OnceLock;
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    static PRINT: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let mut buf = [0u8; 4];
    // The pattern is a constant; were it ever to fail to compile, nothing
    // non-ASCII would be printable (escaped, never lost).
    PRINT.get_or_init(|| regex::Regex::new(r"^[\p{L}\p{M}\p{N}\p{P}\p{S}]$").ok()).as_ref().is_some_and(|r| r.is_match(c.encode_utf8(&mut buf)))
}

fn quote_with(s: &str, q: char, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        quote_rune_into(&mut out, c, q, ascii);
    }
    out.push(q);
    out
}

fn quote_rune_into(out: &mut String, c: char, q: char, ascii: bool) {
    if c == q || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if ascii {
        if (c as u32) < 0x80 && is_print(c) {
            out.push(c);
            return;
        }
    } else if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go's `strconv.CanBackquote`: no control byte but tab, no backquote, no
/// BOM (C1 controls such as U+0085 are multi-byte, so allowed). Also what
/// `regexp.MustCompile`'s panic message uses.
pub(crate) fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| c == '\t' || !(c == '`' || c == '\u{FEFF}' || (c as u32) < 0x20 || c == '\u{7f}'))
}

#[derive(Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

#[derive(Default)]
struct Printer {
    buf: Buf,
    f: Flags,
}

fn tool_large(x: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&x)
}

/// Reads a decimal number at `s[i..end]`: (number, found, new index).
fn parse_num(s: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num: i64 = 0;
    let mut found = false;
    let mut i = start;
    while i < end && s[i].is_ascii_digit() {
        if tool_large(num) {
            return (0, false, end);
        }
        num = num * 10 + (s[i] - b'0') as i64;
        found = true;
        i += 1;
    }
    (num as usize, found, i)
}

impl Printer {
    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero && !self.f.minus { '0' } else { ' ' };
        for _ in 0..n {
            self.buf.push(c);
        }
    }

    fn pad(&mut self, s: &str) {
        let Some(w) = self.f.wid.filter(|&w| w > 0) else {
            self.buf.push_str(s);
            return;
        };
        let n = w.saturating_sub(s.chars().count());
        if !self.f.minus {
            self.write_padding(n);
            self.buf.push_str(s);
        } else {
            self.buf.push_str(s);
            self.write_padding(n);
        }
    }

    fn truncate<'a>(&self, s: &'a str) -> &'a str {
        if let Some(p) = self.f.prec {
            if let Some((i, _)) = s.char_indices().nth(p) {
                return &s[..i];
            }
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    /// `%s` of bytes: Go's precision and width count runes, an invalid
    /// byte one rune.
    fn fmt_s_bytes(&mut self, b: &[u8]) {
        if let Ok(s) = std::str::from_utf8(b) {
            return self.fmt_s(s);
        }
        let mut ends = Vec::new();
        let mut at = 0;
        for_go_runes(b, |r| {
            at += r.map_or(1, char::len_utf8);
            ends.push(at);
        });
        let (b, runes) = match self.f.prec {
            Some(p) if p < ends.len() => (&b[..if p == 0 { 0 } else { ends[p - 1] }], p),
            _ => (b, ends.len()),
        };
        let n = self.f.wid.filter(|&w| w > 0).map_or(0, |w| w.saturating_sub(runes));
        if !self.f.minus {
            self.write_padding(n);
            self.buf.push_bytes(b);
        } else {
            self.buf.push_bytes(b);
            self.write_padding(n);
        }
    }

    /// `%q` of bytes: invalid bytes as `\xNN`; never backquoted.
    fn fmt_q_bytes(&mut self, b: &[u8]) {
        if let Ok(s) = std::str::from_utf8(b) {
            return self.fmt_q(s);
        }
        let mut end = b.len();
        if let Some(p) = self.f.prec {
            let mut ends = Vec::new();
            let mut at = 0;
            for_go_runes(b, |r| {
                at += r.map_or(1, char::len_utf8);
                ends.push(at);
            });
            if p < ends.len() {
                end = if p == 0 { 0 } else { ends[p - 1] };
            }
        }
        let q = quote_bytes_with(&b[..end], '"', self.f.plus);
        self.pad(&q);
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s).to_string();
        if self.f.sharp && can_backquote(&s) {
            self.pad(&format!("`{s}`"));
            return;
        }
        let q = quote_with(&s, '"', self.f.plus);
        self.pad(&q);
    }

    fn fmt_sbx(&mut self, b: &[u8], upper: bool) {
        let digits: &[u8; 16] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
        let x = if upper { 'X' } else { 'x' };
        let mut length = b.len();
        if let Some(p) = self.f.prec {
            length = length.min(p);
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(x);
        }
        for (i, c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(x);
                }
            }
            self.buf.push(digits[(c >> 4) as usize] as char);
            self.buf.push(digits[(c & 15) as usize] as char);
        }
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }

    fn fmt_integer(&mut self, u: u64, base: u32, signed: bool, verb: char, upper: bool) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative { (u as i64).unsigned_abs() } else { u };
        let mut prec = 0usize;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                let w = self.f.wid.unwrap_or(0);
                self.write_padding(w);
                self.f.zero = old;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid.is_some() {
            prec = self.f.wid.unwrap_or(0);
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let digits: &[u8] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
        let mut rev: Vec<u8> = Vec::new();
        if u == 0 {
            rev.push(b'0');
        }
        while u > 0 {
            rev.push(digits[(u % base as u64) as usize]);
            u /= base as u64;
        }
        while rev.len() < prec {
            rev.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => rev.extend_from_slice(b"b0"),
                8 if rev.last() != Some(&b'0') => rev.push(b'0'),
                16 => {
                    rev.push(if upper { b'X' } else { b'x' });
                    rev.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            rev.extend_from_slice(b"o0");
        }
        if negative {
            rev.push(b'-');
        } else if self.f.plus {
            rev.push(b'+');
        } else if self.f.space {
            rev.push(b' ');
        }
        rev.reverse();
        let s = String::from_utf8_lossy(&rev).into_owned();
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn fmt_0x64(&mut self, v: u64, leading: bool) {
        let sharp = self.f.sharp;
        self.f.sharp = leading;
        self.fmt_integer(v, 16, false, 'v', false);
        self.f.sharp = sharp;
    }

    fn fmt_c(&mut self, v: u64) {
        let c = if v > 0x10FFFF { '\u{FFFD}' } else { char::from_u32(v as u32).unwrap_or('\u{FFFD}') };
        self.pad(&c.to_string());
    }

    fn fmt_qc(&mut self, v: u64) {
        let c = if v > 0x10FFFF { '\u{FFFD}' } else { char::from_u32(v as u32).unwrap_or('\u{FFFD}') };
        if self.f.sharp && c != '\'' && c != '\u{FEFF}' && (c == '\t' || !c.is_control()) && is_print(c) {
            self.pad(&format!("'{c}'"));
            return;
        }
        let mut s = String::from("'");
        quote_rune_into(&mut s, c, '\'', self.f.plus);
        s.push('\'');
        self.pad(&s);
    }

    fn fmt_unicode(&mut self, v: u64) {
        let prec = self.f.prec.unwrap_or(4).max(4);
        // Padded by hand: Rust's formatter panics on a width above 65535
        // (found by fuzzing: `%.70000U`).
        let hex = format!("{v:X}");
        let mut s = String::from("U+");
        s.extend(std::iter::repeat_n('0', prec.saturating_sub(hex.len())));
        s.push_str(&hex);
        if self.f.sharp && v <= 0x10FFFF {
            if let Some(c) = char::from_u32(v as u32) {
                if is_print(c) {
                    s.push_str(&format!(" '{c}'"));
                }
            }
        }
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn fmt_float(&mut self, v: f64, verb: char, default_prec: Option<usize>) {
        let prec = if self.f.prec.is_some() { self.f.prec } else { default_prec };
        let mut num = format_float(v, verb, prec);
        if self.f.sharp && verb != 'b' {
            num = sharpen(&num, verb, prec);
        }
        let (sign, body) = match num.as_bytes().first() {
            Some(b'-') => ('-', num[1..].to_string()),
            Some(b'+') => ('+', num[1..].to_string()),
            _ => ('+', num.clone()),
        };
        let sign = if self.f.space && sign == '+' && !self.f.plus { ' ' } else { sign };
        if body.starts_with("Inf") || body.starts_with("NaN") {
            let old = self.f.zero;
            self.f.zero = false;
            let s = if body.starts_with("NaN") && !self.f.space && !self.f.plus { body } else { format!("{sign}{body}") };
            self.pad(&s);
            self.f.zero = old;
            return;
        }
        if self.f.plus || sign != '+' {
            let full = format!("{sign}{body}");
            if self.f.zero && !self.f.minus {
                if let Some(w) = self.f.wid {
                    if w > full.len() {
                        self.buf.push(sign);
                        self.write_padding(w - full.len());
                        self.buf.push_str(&body);
                        return;
                    }
                }
            }
            self.pad(&full);
            return;
        }
        self.pad(&body);
    }

    fn bad_verb(&mut self, verb: char, v: Option<&Value>) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        match v {
            None | Some(Value::Nil) => self.buf.push_str("<nil>"),
            Some(v) => {
                self.buf.push_str(&v.type_name());
                self.buf.push('=');
                self.print_value(v, 'v', 0);
            }
        }
        self.buf.push(')');
    }

    fn print_arg(&mut self, v: &Value, verb: char) {
        if let Value::Nil = v {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, None),
            }
            return;
        }
        if verb == 'T' {
            let t = v.type_name();
            self.fmt_s(&t);
            return;
        }
        if verb == 'p' {
            self.bad_verb(verb, Some(v));
            return;
        }
        self.print_value(v, verb, 0);
    }

    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        if depth > MAX_PRINT_DEPTH {
            self.buf.push_str("%!v(TOO DEEP: a map or list that contains itself?)");
            return;
        }
        match v {
            Value::Nil => {
                if depth == 0 {
                    self.print_arg(v, verb);
                } else if self.f.sharp_v {
                    self.buf.push_str("interface {}(nil)");
                } else {
                    self.buf.push_str("<nil>");
                }
            }
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(verb, Some(v)),
            },
            Value::Int(i, t) => self.fmt_int(*i, *t, verb, v),
            Value::Float(f) => match verb {
                'v' => self.fmt_float(*f, 'g', None),
                'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(*f, verb, None),
                'f' | 'e' | 'E' | 'F' => self.fmt_float(*f, verb, Some(6)),
                _ => self.bad_verb(verb, Some(v)),
            },
            Value::String(s) => match verb {
                'v' => {
                    if self.f.sharp_v {
                        self.fmt_q_bytes(s.go_bytes())
                    } else {
                        self.fmt_s_bytes(s.go_bytes())
                    }
                }
                's' => self.fmt_s_bytes(s.go_bytes()),
                'x' => self.fmt_sbx(s.go_bytes(), false),
                'X' => self.fmt_sbx(s.go_bytes(), true),
                'q' => self.fmt_q_bytes(s.go_bytes()),
                _ => self.bad_verb(verb, Some(v)),
            },
            Value::Bytes(b) => match verb {
                'v' | 'd' => {
                    if self.f.sharp_v {
                        self.buf.push_str("[]byte{");
                        for (i, c) in b.iter().enumerate() {
                            if i > 0 {
                                self.buf.push_str(", ");
                            }
                            self.fmt_0x64(*c as u64, true);
                        }
                        self.buf.push('}');
                    } else {
                        self.buf.push('[');
                        for (i, c) in b.iter().enumerate() {
                            if i > 0 {
                                self.buf.push(' ');
                            }
                            self.fmt_integer(*c as u64, 10, false, verb, false);
                        }
                        self.buf.push(']');
                    }
                }
                's' => self.fmt_s_bytes(b),
                'x' => self.fmt_sbx(b, false),
                'X' => self.fmt_sbx(b, true),
                'q' => {
                    self.fmt_q_bytes(b)
                }
                _ => {
                    self.buf.push('[');
                    for (i, c) in b.iter().enumerate() {
                        if i > 0 {
                            self.buf.push(' ');
                        }
                        self.fmt_int(*c as i64, IntType::Uint8, verb, &Value::Int(*c as i64, IntType::Uint8));
                    }
                    self.buf.push(']');
                }
            },
            Value::List(l) => {
                if self.f.sharp_v {
                    self.buf.push_str(&v.type_name());
                    self.buf.push('{');
                    for (i, x) in l.items().iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        self.print_value(x, verb, depth + 1);
                    }
                    self.buf.push('}');
                } else {
                    self.buf.push('[');
                    for (i, x) in l.items().iter().enumerate() {
                        if i > 0 {
                            self.buf.push(' ');
                        }
                        self.print_value(x, verb, depth + 1);
                    }
                    self.buf.push(']');
                }
            }
            Value::Map(m) => {
                if self.f.sharp_v {
                    self.buf.push_str(&v.type_name());
                    self.buf.push('{');
                } else {
                    self.buf.push_str("map[");
                }
                for (i, (k, x)) in m.entries().iter().enumerate() {
                    if i > 0 {
                        if self.f.sharp_v {
                            self.buf.push_str(", ");
                        } else {
                            self.buf.push(' ');
                        }
                    }
                    self.print_value(&Value::str(k.as_str()), verb, depth + 1);
                    self.buf.push(':');
                    self.print_value(x, verb, depth + 1);
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Value::Time(t) => match verb {
                'v' | 's' => {
                    let s = time_string(t);
                    self.fmt_s(&s)
                }
                'q' => {
                    let s = time_string(t);
                    self.fmt_q(&s)
                }
                'x' | 'X' => {
                    let s = time_string(t);
                    self.fmt_sbx(s.as_bytes(), verb == 'X')
                }
                _ => self.bad_verb(verb, Some(v)),
            },
            Value::Object(o) => {
                let s = o.format();
                match verb {
                    'q' => self.fmt_q(&s),
                    _ => self.fmt_s(&s),
                }
            }
        }
    }

    fn fmt_int(&mut self, i: i64, t: IntType, verb: char, v: &Value) {
        let signed = !t.unsigned();
        let u = i as u64;
        match verb {
            'v' => {
                if self.f.sharp_v && !signed {
                    self.fmt_0x64(u, true)
                } else {
                    self.fmt_integer(u, 10, signed, verb, false)
                }
            }
            'd' => self.fmt_integer(u, 10, signed, verb, false),
            'b' => self.fmt_integer(u, 2, signed, verb, false),
            'o' | 'O' => self.fmt_integer(u, 8, signed, verb, false),
            'x' => self.fmt_integer(u, 16, signed, verb, false),
            'X' => self.fmt_integer(u, 16, signed, verb, true),
            'c' => self.fmt_c(u),
            'q' => self.fmt_qc(u),
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb, Some(v)),
        }
    }

    fn do_printf(&mut self, format: &str, args: &[Value]) {
        let fb = format.as_bytes();
        let end = fb.len();
        let mut arg_num = 0usize;
        let mut reordered = false;
        let mut i = 0usize;
        'format: while i < end {
            let mut good_arg_num = true;
            let last = i;
            while i < end && fb[i] != b'%' {
                i += 1;
            }
            if i > last {
                self.buf.push_str(&format[last..i]);
            }
            if i >= end {
                break;
            }
            i += 1;
            self.f = Flags::default();
            // Flags, and the fast path for a simple verb.
            while i < end {
                let c = fb[i];
                match c {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus,
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    _ => {
                        if c.is_ascii_lowercase() && arg_num < args.len() {
                            if c == b'v' {
                                self.f.sharp_v = self.f.sharp;
                                self.f.sharp = false;
                                self.f.plus_v = self.f.plus;
                                self.f.plus = false;
                            }
                            self.print_arg(&args[arg_num], c as char);
                            arg_num += 1;
                            i += 1;
                            continue 'format;
                        }
                        break;
                    }
                }
                i += 1;
            }
            // Argument index?
            let (n, ni, mut after_index) = self.arg_number(arg_num, fb, i, args.len(), &mut good_arg_num, &mut reordered);
            arg_num = n;
            i = ni;
            // Width.
            if i < end && fb[i] == b'*' {
                i += 1;
                let (w, ok, n) = int_from_arg(args, arg_num);
                arg_num = n;
                if !ok {
                    self.buf.push_str("%!(BADWIDTH)");
                    self.f.wid = None;
                } else if w < 0 {
                    self.f.wid = Some(w.unsigned_abs() as usize);
                    self.f.minus = true;
                    self.f.zero = false;
                } else {
                    self.f.wid = Some(w as usize);
                }
                after_index = false;
            } else {
                let (w, found, ni) = parse_num(fb, i, end);
                i = ni;
                self.f.wid = if found { Some(w) } else { None };
                if after_index && found {
                    good_arg_num = false;
                }
            }
            // Precision.
            if i + 1 < end && fb[i] == b'.' {
                i += 1;
                if after_index {
                    good_arg_num = false;
                }
                let (n, ni, ai) = self.arg_number(arg_num, fb, i, args.len(), &mut good_arg_num, &mut reordered);
                arg_num = n;
                i = ni;
                after_index = ai;
                if i < end && fb[i] == b'*' {
                    i += 1;
                    let (p, ok, n) = int_from_arg(args, arg_num);
                    arg_num = n;
                    if p < 0 || !ok {
                        self.f.prec = None;
                        if !ok {
                            self.buf.push_str("%!(BADPREC)");
                        }
                    } else {
                        self.f.prec = Some(p as usize);
                    }
                    after_index = false;
                } else {
                    let (p, _found, ni) = parse_num(fb, i, end);
                    i = ni;
                    self.f.prec = Some(p);
                }
            }
            if !after_index {
                let (n, ni, _) = self.arg_number(arg_num, fb, i, args.len(), &mut good_arg_num, &mut reordered);
                arg_num = n;
                i = ni;
            }
            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }
            let verb = format[i..].chars().next().unwrap_or('?');
            i += verb.len_utf8();
            if verb == '%' {
                self.buf.push('%');
            } else if !good_arg_num {
                self.buf.push_str(&format!("%!{verb}(BADINDEX)"));
            } else if arg_num >= args.len() {
                self.buf.push_str(&format!("%!{verb}(MISSING)"));
            } else {
                if verb == 'v' {
                    self.f.sharp_v = self.f.sharp;
                    self.f.sharp = false;
                    self.f.plus_v = self.f.plus;
                    self.f.plus = false;
                }
                self.print_arg(&args[arg_num], verb);
                arg_num += 1;
            }
        }
        if !reordered && arg_num < args.len() {
            self.f = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (i, a) in args[arg_num..].iter().enumerate() {
                if i > 0 {
                    self.buf.push_str(", ");
                }
                if a.is_nil() {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str(&a.type_name());
                    self.buf.push('=');
                    self.print_arg(a, 'v');
                }
            }
            self.buf.push(')');
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn arg_number(&mut self, arg_num: usize, f: &[u8], i: usize, nargs: usize, good: &mut bool, reordered: &mut bool) -> (usize, usize, bool) {
        if f.len() <= i || f[i] != b'[' {
            return (arg_num, i, false);
        }
        *reordered = true;
        let (index, wid, ok) = parse_arg_number(&f[i..]);
        if ok && index >= 0 && (index as usize) < nargs {
            return (index as usize, i + wid, true);
        }
        *good = false;
        (arg_num, i + wid, ok)
    }
}

fn parse_arg_number(f: &[u8]) -> (i64, usize, bool) {
    if f.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..f.len() {
        if f[i] == b']' {
            let (w, ok, ni) = parse_num(f, 1, i);
            if !ok || ni != i {
                return (0, i + 1, false);
            }
            return (w as i64 - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

fn int_from_arg(args: &[Value], n: usize) -> (i64, bool, usize) {
    if n >= args.len() {
        return (0, false, n);
    }
    let (v, ok) = match &args[n] {
        Value::Int(i, t) => {
            if t.unsigned() && *i < 0 {
                (0, false)
            } else {
                (*i, true)
            }
        }
        _ => (0, false),
    };
    if tool_large(v) {
        return (0, false, n + 1);
    }
    (v, ok, n + 1)
}

/// The decimal digits of `v` (no leading zeros) and the decimal point's
/// position, as Go's `strconv` has them: shortest (`None`) for a float64
/// or (`bits` 32) a float32, or rounded to `Some(n)` significant digits.
fn digits(v: f64, sig: Option<usize>, bits: u32) -> (Vec<u8>, i32) {
    let v = v.abs();
    if v == 0.0 {
        return (Vec::new(), 0);
    }
    let s = match sig {
        None if bits == 32 => format!("{:e}", v as f32),
        None => format!("{v:e}"),
        // A float64 has at most 767 significant decimal digits; the rest
        // are zeros (which callers pad back). Rust's formatter also panics
        // on a precision above 65535 (found by fuzzing: `%.202111e`).
        Some(n) => format!("{:.*e}", n.clamp(1, 800) - 1, v),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.len() > 1 && d.last() == Some(&b'0') {
        d.pop();
    }
    if d == b"0" {
        return (Vec::new(), 0);
    }
    (d, exp + 1)
}

fn fmt_e(neg: bool, d: &[u8], dp: i32, prec: usize, e: char) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push(if d.is_empty() { '0' } else { d[0] as char });
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            s.push(d.get(i).map(|&c| c as char).unwrap_or('0'));
        }
    }
    s.push(e);
    let exp = if d.is_empty() { 0 } else { dp - 1 };
    s.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        s.push('0');
    }
    s.push_str(&a.to_string());
    s
}

fn fmt_f(neg: bool, d: &[u8], dp: i32, prec: usize) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    if dp > 0 {
        let m = (dp as usize).min(d.len());
        for &c in &d[..m] {
            s.push(c as char);
        }
        for _ in m..dp as usize {
            s.push('0');
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 0..prec {
            let j = dp as i64 + i as i64;
            let c = if j < 0 || j as usize >= d.len() { b'0' } else { d[j as usize] };
            s.push(c as char);
        }
    }
    s
}

/// `strconv.FormatFloat(v, verb, prec, 64)`; `prec` None is -1 (shortest).
pub fn format_float(v: f64, verb: char, prec: Option<usize>) -> String {
    format_float_bits(v, verb, prec, 64)
}

/// `strconv.FormatFloat(v, verb, prec, bits)`: `bits` 32 rounds `v` to a
/// float32 first and takes a float32's shortest digits (the `e`, `f` and
/// `g` verbs; `b` and `x` always show a float64's bits, which nothing here
/// asks for with 32). Shared by `printf` and the JSON/YAML writers.
pub(crate) fn format_float_bits(v: f64, verb: char, prec: Option<usize>, bits: u32) -> String {
    let v = if bits == 32 { v as f32 as f64 } else { v };
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let neg = v.is_sign_negative();
    match verb {
        'e' | 'E' => {
            let (d, dp, prec) = match prec {
                None => {
                    let (d, dp) = digits(v, None, bits);
                    let p = d.len().saturating_sub(1);
                    (d, dp, p)
                }
                Some(p) => {
                    let (d, dp) = digits(v, Some(p + 1), bits);
                    (d, dp, p)
                }
            };
            fmt_e(neg, &d, dp, prec, verb)
        }
        'f' | 'F' => match prec {
            None => {
                let (d, dp) = digits(v, None, bits);
                let p = (d.len() as i32 - dp).max(0) as usize;
                fmt_f(neg, &d, dp, p)
            }
            Some(p) => {
                // At most 1074 fractional digits of a float64 are not zero;
                // Rust's formatter panics on a precision above 65535.
                let mut s = format!("{:.*}", p.min(1100), v.abs());
                s.extend(std::iter::repeat_n('0', p.saturating_sub(1100)));
                if neg {
                    format!("-{s}")
                } else {
                    s
                }
            }
        },
        'g' | 'G' => {
            let e = if verb == 'g' { 'e' } else { 'E' };
            let shortest = prec.is_none();
            let (d, dp) = match prec {
                None => digits(v, None, bits),
                Some(p) => digits(v, Some(p.max(1)), bits),
            };
            let mut p = match prec {
                None => d.len(),
                Some(p) => p.max(1),
            };
            let mut eprec = p as i32;
            if eprec > d.len() as i32 && d.len() as i32 >= dp {
                eprec = d.len() as i32;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            if d.is_empty() {
                // Zero: Go's digits are empty with dp 0, exponent -1.
                return if neg { "-0".into() } else { "0".into() };
            }
            if exp < -4 || exp >= eprec {
                if p > d.len() {
                    p = d.len();
                }
                return fmt_e(neg, &d, dp, p.saturating_sub(1), e);
            }
            if p as i32 > dp {
                p = d.len();
            }
            fmt_f(neg, &d, dp, (p as i32 - dp).max(0) as usize)
        }
        'b' => {
            let bits = v.to_bits();
            let exp = ((bits >> 52) & 0x7ff) as i64;
            let mut mant = bits & ((1u64 << 52) - 1);
            let e = if exp == 0 { -1074 } else {
                mant |= 1u64 << 52;
                exp - 1075
            };
            format!("{}{}p{}{}", if neg { "-" } else { "" }, mant, if e >= 0 { "+" } else { "" }, e)
        }
        'x' | 'X' => hex_float(v, prec, verb == 'X'),
        _ => format!("%{verb}"),
    }
}

fn hex_float(v: f64, prec: Option<usize>, upper: bool) -> String {
    let neg = v.is_sign_negative();
    let bits = v.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 && mant == 0 {
        exp = 0;
    } else if exp == 0 {
        // Subnormal: normalise.
        exp = -1022;
        while mant & (1u64 << 52) == 0 {
            mant <<= 1;
            exp -= 1;
        }
        mant &= (1u64 << 52) - 1;
    } else {
        exp -= 1023;
    }
    let zero = v == 0.0;
    let mut lead = if zero { 0u64 } else { 1 };
    // 52 fraction bits = 13 hex digits.
    let mut frac = mant;
    let mut ndig = 13usize;
    if let Some(p) = prec {
        if p < 13 {
            let shift = (13 - p) * 4;
            let half = 1u64 << (shift - 1);
            let rem = frac & ((1u64 << shift) - 1);
            frac >>= shift;
            if rem > half || (rem == half && frac & 1 == 1) {
                frac += 1;
                if frac >> (p * 4) != 0 {
                    frac = 0;
                    lead += 1;
                    if lead == 2 {
                        lead = 1;
                        exp += 1;
                    }
                }
            }
            ndig = p;
        }
    }
    let mut fs = if ndig > 0 { format!("{:0width$x}", frac, width = ndig) } else { String::new() };
    if prec.is_none() {
        while fs.ends_with('0') {
            fs.pop();
        }
    }
    if let Some(p) = prec {
        while fs.len() < p {
            fs.push('0');
        }
    }
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str("0x");
    s.push_str(&lead.to_string());
    if !fs.is_empty() {
        s.push('.');
        s.push_str(&fs);
    }
    s.push('p');
    s.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        s.push('0');
    }
    s.push_str(&a.to_string());
    if upper {
        s = s.to_uppercase();
    }
    s
}

/// The `#` flag on floats: always a decimal point, and `%g` keeps trailing zeros.
fn sharpen(num: &str, verb: char, prec: Option<usize>) -> String {
    let (body, exp) = match num.find(['e', 'E', 'p', 'P']) {
        Some(i) if !matches!(verb, 'f' | 'F') => (&num[..i], &num[i..]),
        _ => (num, ""),
    };
    let mut body = body.to_string();
    if !body.contains('.') {
        body.push('.');
    }
    if matches!(verb, 'g' | 'G') || verb == 'v' {
        let want = prec.unwrap_or(6);
        let digits = body.bytes().filter(u8::is_ascii_digit).skip_while(|&c| c == b'0').count();
        let digits = if digits == 0 { 1 } else { digits };
        for _ in digits..want {
            body.push('0');
        }
    }
    format!("{body}{exp}")
}

/// Go's `time.Time.String()` (without a monotonic clock reading): gotime's.
pub use crate::sprig::gotime::time_string;

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf "%q"` of single runes, as Helm (Go 1.24, Unicode 15) printed
    /// them: unassigned (U+0378, U+2065), format (U+0600, U+061C, U+0890,
    /// U+1D173, U+E0001), private-use and non-characters are escaped;
    /// marks, symbols and newer letters are not.
    #[test]
    fn quote_escapes_what_go_cannot_print() {
        let cases = [
            (0x378, r#""\u0378""#),
            (0x600, r#""\u0600""#),
            (0x61c, r#""\u061c""#),
            (0x180e, r#""\u180e""#),
            (0xfffe, r#""\ufffe""#),
            (0xe000, r#""\ue000""#),
            (0x300, "\"\u{300}\""),
            (0xad, r#""\u00ad""#),
            (0x1d173, r#""\U0001d173""#),
            (0xe0001, r#""\U000e0001""#),
            (0x2065, r#""\u2065""#),
            (0xfffc, "\"\u{fffc}\""),
            (0x10ffff, r#""\U0010ffff""#),
            (0x890, r#""\u0890""#),
            (0x1f600, "\"\u{1f600}\""),
            (0x2028, r#""\u2028""#),
            (0xa0, r#""\u00a0""#),
            (0x3000, r#""\u3000""#),
            (0xfeff, r#""\ufeff""#),
            (0x85, r#""\u0085""#),
            (0xfff9, r#""\ufff9""#),
            (0x1f8b0, "\"\u{1f8b0}\""),
            (0x31350, "\"\u{31350}\""),
        ];
        for (u, want) in cases {
            let c = char::from_u32(u).expect("test rune");
            assert_eq!(quote(&c.to_string()), want, "U+{u:04X}");
        }
        assert_eq!(quote("a\"b\\\n\t\u{7f}\u{7}"), r#""a\"b\\\n\t\x7f\a""#);
    }

    /// `printf "%#q"` backquotes what Go's `CanBackquote` allows: C1
    /// controls and non-ASCII spaces, as Helm printed them.
    #[test]
    fn sharp_q_backquotes_as_go() {
        let q = |s: &str| sprintf("%#q", &[Value::from(s)]);
        assert_eq!(q("a\u{85}b"), "`a\u{85}b`");
        assert_eq!(q("a\u{a0}\u{2028}b"), "`a\u{a0}\u{2028}b`");
        assert_eq!(q("a`b"), "\"a`b\"");
        assert_eq!(q("a\u{7f}"), "\"a\\x7f\"");
        assert_eq!(q("\u{feff}"), "\"\\ufeff\"");
    }

    #[test]
    fn quote_rune_is_strconv_quote_rune() {
        assert_eq!(quote_rune('\''), r"'\''");
        assert_eq!(quote_rune('"'), "'\"'");
        assert_eq!(quote_rune('\n'), r"'\n'");
        assert_eq!(quote_rune('\\'), r"'\\'");
        assert_eq!(quote_rune('é'), "'é'");
        assert_eq!(quote_rune('\u{85}'), r"'\u0085'");
        assert_eq!(sprintf("%q", &[Value::int(0x27)]), quote_rune('\''));
    }

    /// `%v` of a time is Go's `Time.String`: the numeric zone has no
    /// seconds (New York's LMT is -4:56:02), as Helm printed `toDate` of
    /// 1800-01-01 with TZ=America/New_York; a nameless zone shows `+0000`.
    #[test]
    fn times_print_as_go() {
        let t = |n: i128, offset: i32, zone: &str| Value::Time(crate::value::Time { unix_nanos: n, offset, zone: std::sync::Arc::from(zone) });
        assert_eq!(sprint(&t(-5_364_644_638_000_000_000, -17762, "LMT")), "1800-01-01 00:00:00 -0456 LMT");
        assert_eq!(sprint(&t(1_700_000_000_500_000_000, 19800, "IST")), "2023-11-15 03:43:20.5 +0530 IST");
        assert_eq!(sprint(&t(1_700_000_000_000_000_000, 0, "")), "2023-11-14 22:13:20 +0000 +0000");
    }

    /// `strconv.FormatFloat(f, 'g', -1, 32)`: rounded to a float32, then
    /// that float32's shortest digits.
    #[test]
    fn float32_shortest_digits() {
        assert_eq!(format_float_bits(0.1, 'g', None, 32), "0.1");
        assert_eq!(format_float_bits(16_777_217.0, 'g', None, 32), "1.6777216e+07");
        assert_eq!(format_float_bits(1e-7, 'g', None, 32), "1e-07");
        assert_eq!(format_float_bits(1e39, 'g', None, 32), "+Inf");
        assert_eq!(format_float_bits(0.1, 'g', None, 64), "0.1");
        assert_eq!(format_float_bits(1.0 / 3.0, 'g', None, 64), "0.3333333333333333");
    }
}
