//! YAML 1.1 plain-scalar resolution as go-yaml v2 does it (`resolve.go`):
//! which untagged plain scalars are bools (`yes`, `on`, `y`…), nulls (`~`),
//! ints (Go's `strconv.ParseInt(s, 0, 64)` after dropping `_`: `0777`
//! octal, `0x1F`, `0b101`, `0o17`), uints, floats and timestamps. The loader
//! uses it to type what it reads; the emitter uses it to decide which
//! strings must be quoted. It must not know about documents or Helm.

/// What a scalar resolves to, before Go's JSON round trip.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    /// An `int` (go-yaml gives `int` whenever the value fits, as on 64-bit).
    Int(i64),
    /// A `uint64` above `int64`'s range.
    Uint(u64),
    Float(f64),
    /// A timestamp, kept as its text (go-yaml v2 decodes timestamps into
    /// `interface{}` as strings, "for backward compatibility").
    Timestamp,
    Str,
}

/// go-yaml v2's resolution of an untagged plain scalar.
pub fn resolve_plain(s: &str) -> Resolved {
    let Some(&first) = s.as_bytes().first() else {
        return Resolved::Null;
    };
    let hint = match first {
        b'+' | b'-' => b'S',
        b'0'..=b'9' => b'D',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => b'M',
        b'.' => b'.',
        _ => return Resolved::Str,
    };
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => return Resolved::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => return Resolved::Bool(false),
        "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match hint {
        b'.' => match go_parse_float(s) {
            Some(f) => Resolved::Float(f),
            None => Resolved::Str,
        },
        b'D' | b'S' => {
            if is_timestamp(s) {
                return Resolved::Timestamp;
            }
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            if let Some(r) = go_parse_int(&plain) {
                return r;
            }
            if yaml_style_float(&plain) {
                if let Some(f) = go_parse_float(&plain) {
                    return Resolved::Float(f);
                }
            }
            // `0b…` and `-0b…` are handled by ParseInt's base-0 rules above
            // already; go-yaml's own retry gives the same answers.
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint(s, 0, 64)`
/// as go-yaml does. `s` has no underscores left.
fn go_parse_int(s: &str) -> Option<Resolved> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(r) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        (8, r)
    } else if let Some(r) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        (2, r)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if neg {
        if magnitude <= 1u128 << 63 {
            return Some(Resolved::Int((magnitude as i128).wrapping_neg() as i64));
        }
        return None;
    }
    if magnitude <= i64::MAX as u128 {
        Some(Resolved::Int(magnitude as i64))
    } else if magnitude <= u64::MAX as u128 {
        // ParseUint takes no sign at all: "+18446744073709551615" fails it.
        if s.starts_with('+') {
            None
        } else {
            Some(Resolved::Uint(magnitude as u64))
        }
    } else {
        None
    }
}

/// go-yaml's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms go-yaml passes
/// it: None on bad syntax and on overflow (Go's ErrRange), as go-yaml then
/// keeps the text a string.
fn go_parse_float(s: &str) -> Option<f64> {
    // Decimal syntax only: sign, digits with at most one '.', optional exponent.
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let mut mant = 0;
    let mut dot = false;
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' => mant += 1,
            b'.' if !dot => dot = true,
            _ => break,
        }
        i += 1;
    }
    if mant == 0 {
        return None;
    }
    if i < b.len() {
        if !matches!(b[i], b'e' | b'E') {
            return None;
        }
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i != b.len() {
            return None;
        }
    }
    let f: f64 = s.parse().ok()?;
    if f.is_infinite() {
        None
    } else {
        Some(f)
    }
}

/// go-yaml v2's `parseTimestamp`: four digits and '-', then one of Go's
/// layouts `2006-1-2T15:4:5.999999999Z07:00` (also with `t`),
/// `2006-1-2 15:4:5.999999999` and `2006-1-2`, as `time.Parse` accepts them.
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let mut p = TsParser { b, i: 5 };
    let year: u32 = b[..4].iter().fold(0, |a, d| a * 10 + u32::from(d - b'0'));
    let Some(month) = p.num(1, 12) else { return false };
    if !p.eat(b'-') {
        return false;
    }
    let Some(day) = p.num(1, 31) else { return false };
    if day > days_in(year, month) {
        return false;
    }
    if p.done() {
        return true;
    }
    let zone = match p.next() {
        Some(b'T' | b't') => true,
        Some(b' ') => false,
        _ => return false,
    };
    // time.Parse: hour `15` takes two digits when present…
    if p.num_hour().is_none() || !p.eat(b':') || p.num(0, 59).is_none() || !p.eat(b':') || p.num(0, 59).is_none() {
        return false;
    }
    // Fractional seconds after the seconds: Go accepts them whether or not
    // the layout has them (`.999999999` makes them optional).
    if p.peek() == Some(b'.') || p.peek() == Some(b',') {
        let save = p.i;
        p.i += 1;
        let start = p.i;
        while p.peek().is_some_and(|c| c.is_ascii_digit()) {
            p.i += 1;
        }
        if p.i == start {
            p.i = save;
        }
    }
    if !zone {
        return p.done();
    }
    match p.next() {
        Some(b'Z') => p.done(),
        Some(b'+' | b'-') => {
            let ok = p.fixed2(0, 24).is_some() && p.eat(b':') && p.fixed2(0, 60).is_some();
            ok && p.done()
        }
        _ => false,
    }
}

struct TsParser<'a> {
    b: &'a [u8],
    i: usize,
}

impl TsParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += 1;
        c
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    /// One or two digits (Go's `getnum(value, false)`) in `lo..=hi`.
    fn num(&mut self, lo: u32, hi: u32) -> Option<u32> {
        let d0 = self.peek().filter(u8::is_ascii_digit)?;
        self.i += 1;
        let mut n = u32::from(d0 - b'0');
        if let Some(d1) = self.peek().filter(u8::is_ascii_digit) {
            self.i += 1;
            n = n * 10 + u32::from(d1 - b'0');
        }
        (lo..=hi).contains(&n).then_some(n)
    }
    /// Go's `15`: `getnum(value, len(value) >= 2 && isDigit(value, 1))` —
    /// one or two digits, 0..=23.
    fn num_hour(&mut self) -> Option<u32> {
        self.num(0, 23)
    }
    /// Exactly two digits below `lim`.
    fn fixed2(&mut self, lo: u32, lim: u32) -> Option<u32> {
        let a = self.peek().filter(u8::is_ascii_digit)?;
        let b = self.b.get(self.i + 1).copied().filter(u8::is_ascii_digit)?;
        self.i += 2;
        let n = u32::from(a - b'0') * 10 + u32::from(b - b'0');
        (n >= lo && n < lim).then_some(n)
    }
}

fn days_in(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// go-yaml v2's `isBase60Float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
/// Such strings are quoted on output for old parsers' sake.
pub fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    i += 1;
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        // [0-5]?[0-9]: one digit, or two with the first 0-5.
        let d1 = b.get(i).copied().filter(u8::is_ascii_digit);
        let d2 = b.get(i + 1).copied().filter(u8::is_ascii_digit);
        match (d1, d2) {
            (Some(a), Some(_)) if a <= b'5' => i += 2,
            (Some(_), _) => i += 1,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_scalars() {
        use Resolved::*;
        for (s, want) in [
            ("yes", Bool(true)),
            ("y", Bool(true)),
            ("On", Bool(true)),
            ("NO", Bool(false)),
            ("off", Bool(false)),
            ("yEs", Str),
            ("~", Null),
            ("", Null),
            ("0777", Int(511)),
            ("0o17", Int(15)),
            ("0x1F", Int(31)),
            ("0b101", Int(5)),
            ("-0b101", Int(-5)),
            ("1_000", Int(1000)),
            ("+12", Int(12)),
            ("08", Float(8.0)),
            ("1e3", Float(1000.0)),
            (".5", Float(0.5)),
            ("1.", Float(1.0)),
            ("1e400", Str),
            ("18446744073709551615", Uint(u64::MAX)),
            ("-9223372036854775808", Int(i64::MIN)),
            ("2001-12-14", Timestamp),
            ("2001-12-14T21:59:43.10-05:00", Timestamp),
            ("2001-12-14 21:59:43.10", Timestamp),
            ("2001-02-30", Str),
            ("_1", Str),
            ("1:20", Str),
            (".", Str),
            ("<<", Str),
        ] {
            assert_eq!(resolve_plain(s), want, "{s:?}");
        }
    }

    #[test]
    fn base60() {
        assert!(is_base60_float("1:20"));
        assert!(is_base60_float("-190:20:30.15"));
        assert!(!is_base60_float("1:2a"));
        assert!(!is_base60_float("120"));
    }
}
