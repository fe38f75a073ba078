//! Sprig's string functions (strings.go, and the goutils/xstrings helpers
//! it wraps): trimming, case, `substr`/`trunc`/`abbrev` (byte offsets, as
//! Go's slicing), `wrap`, `quote`/`squote`/`cat`, `indent`/`nindent`,
//! `replace`, `plural`, `snakecase`/`camelcase`/`kebabcase`/`swapcase`/
//! `shuffle`, `toString`, `join`, `split`/`splitList`/`splitn`, `toStrings`.
//! Where Go slices a string in the middle of a UTF-8 sequence (`substr`,
//! `trunc`) the bytes are kept ([`Str`]); `abbrev`'s cut becomes U+FFFD
//! (knowingly different: it returns text). Printing values is `strval`'s
//! (conv.rs), never done here.

use std::collections::BTreeMap;

use super::conv::*;
use crate::func::{FuncError, FuncMap};
use crate::value::{Map, Str, Value};

/// The most bytes `repeat`, `indent` and `wrapWith` may produce: beyond
/// it a template is runaway, and the call fails instead of eating memory.
pub const MAX_OUTPUT: usize = 64 << 20;

fn bounded(name: &str, len: usize) -> Result<(), FuncError> {
    if len > MAX_OUTPUT {
        Err(FuncError::call(format!("{name}: output of {len} bytes exceeds the {MAX_OUTPUT}-byte limit")))
    } else {
        Ok(())
    }
}

pub fn register(m: &mut FuncMap) {
    fixed(m, "trim", 1, |a| Ok(Value::from(want_str(&a[0])?.trim_matches(go_is_space))));
    fixed(m, "upper", 1, |a| Ok(Value::from(want_str(&a[0])?.chars().map(rune_upper).collect::<String>())));
    fixed(m, "lower", 1, |a| Ok(Value::from(want_str(&a[0])?.chars().map(rune_lower).collect::<String>())));
    fixed(m, "title", 1, |a| Ok(Value::from(title(want_str(&a[0])?))));
    fixed(m, "untitle", 1, |a| Ok(Value::from(untitle(want_str(&a[0])?))));
    fixed(m, "substr", 3, |a| {
        let (start, end, s) = (want_int(&a[0])?, want_int(&a[1])?, want_go_str(&a[2])?);
        substr(start, end, s.go_bytes()).map(Value::String)
    });
    fixed(m, "repeat", 2, |a| {
        let (n, s) = (want_int(&a[0])?, want_str(&a[1])?);
        repeat(s, n).map(Value::from)
    });
    for name in ["trimall", "trimAll"] {
        fixed(m, name, 2, |a| {
            let (cut, s) = (want_str(&a[0])?, want_str(&a[1])?);
            Ok(Value::from(s.trim_matches(|c| cut.contains(c))))
        });
    }
    fixed(m, "trimSuffix", 2, |a| {
        let (x, s) = (want_str(&a[0])?, want_str(&a[1])?);
        Ok(Value::from(s.strip_suffix(x).unwrap_or(s)))
    });
    fixed(m, "trimPrefix", 2, |a| {
        let (x, s) = (want_str(&a[0])?, want_str(&a[1])?);
        Ok(Value::from(s.strip_prefix(x).unwrap_or(s)))
    });
    fixed(m, "nospace", 1, |a| Ok(Value::from(nospace(want_str(&a[0])?))));
    fixed(m, "initials", 1, |a| Ok(Value::from(initials(want_str(&a[0])?))));
    fixed(m, "swapcase", 1, |a| Ok(Value::from(swapcase(want_str(&a[0])?))));
    fixed(m, "shuffle", 1, |a| Ok(Value::from(shuffle(want_str(&a[0])?))));
    fixed(m, "snakecase", 1, |a| Ok(Value::from(to_lower_case_words(want_str(&a[0])?, '_'))));
    fixed(m, "kebabcase", 1, |a| Ok(Value::from(to_lower_case_words(want_str(&a[0])?, '-'))));
    fixed(m, "camelcase", 1, |a| Ok(Value::from(pascal_case(want_str(&a[0])?))));
    fixed(m, "wrap", 2, |a| {
        let (n, s) = (want_int(&a[0])?, want_str(&a[1])?);
        wrap_custom(s, n, "", false).map(Value::from)
    });
    fixed(m, "wrapWith", 3, |a| {
        let (n, sep, s) = (want_int(&a[0])?, want_str(&a[1])?, want_str(&a[2])?);
        wrap_custom(s, n, sep, true).map(Value::from)
    });
    fixed(m, "contains", 2, |a| Ok(Value::Bool(want_str(&a[1])?.contains(want_str(&a[0])?))));
    fixed(m, "hasPrefix", 2, |a| Ok(Value::Bool(want_str(&a[1])?.starts_with(want_str(&a[0])?))));
    fixed(m, "hasSuffix", 2, |a| Ok(Value::Bool(want_str(&a[1])?.ends_with(want_str(&a[0])?))));
    variadic(m, "quote", 0, |a| {
        // `%q` of the bytes: an invalid byte is `\xNN`.
        Ok(Value::from(a.iter().filter(|v| !v.is_nil()).map(|v| crate::template::fmt::quote_bytes(strval_go(v).go_bytes())).collect::<Vec<_>>().join(" ")))
    });
    variadic(m, "squote", 0, |a| {
        Ok(Value::String(join_go(a.iter().filter(|v| !v.is_nil()).map(|v| {
            let mut b = vec![b'\''];
            b.extend_from_slice(crate::template::fmt::sprint_go(v).go_bytes());
            b.push(b'\'');
            b
        }), b" ")))
    });
    variadic(m, "cat", 0, |a| Ok(Value::String(join_go(a.iter().filter(|v| !v.is_nil()).map(|v| crate::template::fmt::sprint_go(v).go_bytes().to_vec()), b" "))));
    fixed(m, "indent", 2, |a| {
        let (n, s) = (want_int(&a[0])?, want_str(&a[1])?);
        indent(n, s, false).map(Value::from)
    });
    fixed(m, "nindent", 2, |a| {
        let (n, s) = (want_int(&a[0])?, want_str(&a[1])?);
        indent(n, s, true).map(Value::from)
    });
    fixed(m, "replace", 3, |a| {
        let (old, new, src) = (want_str(&a[0])?, want_str(&a[1])?, want_str(&a[2])?);
        bounded("replace", src.len().saturating_add(new.len().saturating_mul(if old.is_empty() { src.chars().count() + 1 } else { src.matches(old).count() })))?;
        Ok(Value::from(src.replace(old, new)))
    });
    fixed(m, "plural", 3, |a| {
        let (one, many, n) = (want_str(&a[0])?, want_str(&a[1])?, want_int(&a[2])?);
        Ok(Value::from(if n == 1 { one } else { many }))
    });
    fixed(m, "toString", 1, |a| Ok(Value::String(strval_go(&a[0]))));
    fixed(m, "abbrev", 2, |a| {
        let (w, s) = (want_int(&a[0])?, want_str(&a[1])?);
        Ok(Value::from(if w < 4 { s.to_string() } else { abbreviate_full(s.as_bytes(), 0, w).unwrap_or_default() }))
    });
    fixed(m, "abbrevboth", 3, |a| {
        let (l, r, s) = (want_int(&a[0])?, want_int(&a[1])?, want_str(&a[2])?);
        Ok(Value::from(if r < 4 || l > 0 && r < 7 { s.to_string() } else { abbreviate_full(s.as_bytes(), l, r).unwrap_or_default() }))
    });
    fixed(m, "trunc", 2, |a| {
        let (c, s) = (want_int(&a[0])?, want_go_str(&a[1])?);
        Ok(Value::String(trunc(c, s)))
    });
    fixed(m, "join", 2, |a| {
        let sep = want_go_str(&a[0])?;
        Ok(Value::String(join_go(strslice(&a[1]).iter().map(|s| s.go_bytes().to_vec()), sep.go_bytes())))
    });
    fixed(m, "toStrings", 1, |a| match &a[0] {
        // strslice returns a []string as is: the same slice.
        Value::List(l) if l.elem == "string" => Ok(a[0].clone()),
        other => Ok(Value::strings(strslice(other))),
    });
    fixed(m, "splitList", 2, |a| {
        let (sep, s) = (want_str(&a[0])?, want_str(&a[1])?);
        Ok(Value::strings(go_split(s, sep, -1)))
    });
    fixed(m, "split", 2, |a| {
        let (sep, s) = (want_str(&a[0])?, want_str(&a[1])?);
        Ok(indexed_map(go_split(s, sep, -1)))
    });
    fixed(m, "splitn", 3, |a| {
        let (sep, n, s) = (want_str(&a[0])?, want_int(&a[1])?, want_str(&a[2])?);
        Ok(indexed_map(go_split(s, sep, n)))
    });
}

/// `split`'s `map[string]string` with keys `_0`, `_1`, ….
fn indexed_map(parts: Vec<String>) -> Value {
    let entries: BTreeMap<String, Value> = parts.into_iter().enumerate().map(|(i, p)| (format!("_{i}"), Value::from(p))).collect();
    Value::Map(Map::new(entries, "string"))
}

/// Go's `strings.SplitN(s, sep, n)` (`n < 0`: all; `n == 0`: none); an
/// empty separator splits after each UTF-8 sequence.
pub fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    let limit = if n < 0 { usize::MAX } else { n as usize };
    if sep.is_empty() {
        let chars: Vec<char> = s.chars().collect();
        let mut out: Vec<String> = Vec::new();
        for (i, c) in chars.iter().enumerate() {
            if out.len() + 1 == limit {
                out.push(chars[i..].iter().collect());
                return out;
            }
            out.push(c.to_string());
        }
        return out;
    }
    s.splitn(limit, sep).map(str::to_string).collect()
}

/// Sprig's `strslice`: a `[]string` as is; other slices item by item with
/// nils dropped; nil → empty; anything else → a one-item list.
/// Sprig's `strslice`, with Go's bytes.
pub fn strslice(v: &Value) -> Vec<Str> {
    match v {
        Value::List(l) => l.items().iter().filter(|x| !x.is_nil()).map(strval_go).collect(),
        Value::Bytes(b) => b.iter().map(|x| Str::from(x.to_string())).collect(),
        Value::Nil => Vec::new(),
        other => vec![strval_go(other)],
    }
}

/// Bytes as text, Go's way (`abbrev` cuts bytes but returns text here).
fn lossy(b: &[u8]) -> String {
    crate::value::go_lossy(b).into_owned()
}

/// Byte strings joined by `sep`, as Go's bytes.
fn join_go(parts: impl Iterator<Item = Vec<u8>>, sep: &[u8]) -> Str {
    let mut out = Vec::new();
    for (i, p) in parts.enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        out.extend_from_slice(&p);
    }
    Str::from_bytes(out)
}

/// Go's `s[lo:hi]` with its panic texts.
fn slice_str(s: &[u8], lo: i64, hi: i64) -> Result<Str, FuncError> {
    let len = s.len() as i64;
    if hi < 0 {
        return Err(runtime(format!("slice bounds out of range [:{hi}]")));
    }
    if hi > len {
        return Err(runtime(format!("slice bounds out of range [:{hi}] with length {len}")));
    }
    if lo < 0 || lo > hi {
        return Err(runtime(format!("slice bounds out of range [{lo}:{hi}]")));
    }
    // Go slices bytes: a cut inside a character keeps the bytes.
    Ok(Str::from_bytes(&s[lo as usize..hi as usize]))
}

pub fn substr(start: i64, end: i64, b: &[u8]) -> Result<Str, FuncError> {
    let len = b.len() as i64;
    if start < 0 {
        return slice_str(b, 0, end);
    }
    if end < 0 || end > len {
        return slice_str(b, start, len);
    }
    slice_str(b, start, end)
}

/// Sprig's `trunc`: Go slices bytes, so a cut inside a character keeps
/// the bytes.
pub fn trunc(c: i64, s: &Str) -> Str {
    let len = s.go_len() as i64;
    if c < 0 && len + c > 0 {
        return s.byte_slice((len + c) as usize, len as usize).unwrap_or_else(|| s.clone());
    }
    if c >= 0 && len > c {
        return s.byte_slice(0, c as usize).unwrap_or_else(|| s.clone());
    }
    s.clone()
}

fn repeat(s: &str, n: i64) -> Result<String, FuncError> {
    if n < 0 {
        return Err(FuncError::call("strings: negative Repeat count"));
    }
    bounded("repeat", s.len().saturating_mul(n as usize))?;
    Ok(s.repeat(n as usize))
}

/// `indent`, and `nindent` (`newline_first`: a newline before it all).
fn indent(n: i64, s: &str, newline_first: bool) -> Result<String, FuncError> {
    if n < 0 {
        return Err(FuncError::call("strings: negative Repeat count"));
    }
    let lines = s.matches('\n').count() + 1;
    bounded("indent", s.len().saturating_add((n as usize).saturating_mul(lines)))?;
    // Sprig's `pad + strings.Replace(v, "\n", "\n"+pad, -1)`, in one string.
    let pad = n as usize;
    let mut out = String::with_capacity(s.len().saturating_add(pad.saturating_mul(lines)).saturating_add(1));
    if newline_first {
        out.push('\n');
    }
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.extend(std::iter::repeat_n(' ', pad));
        out.push_str(line);
    }
    Ok(out)
}

/// Go's `strings.Title`: the first letter of each word in title case; a
/// word starts after anything but an ASCII letter, digit or underscore,
/// or a non-ASCII letter, digit or mark.
pub fn title(s: &str) -> String {
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let sep = if (prev as u32) < 0x80 {
                !(prev.is_ascii_alphanumeric() || prev == '_')
            } else {
                !prev.is_alphanumeric() && go_is_space(prev)
            };
            prev = c;
            if sep {
                rune_title(c)
            } else {
                c
            }
        })
        .collect()
}

/// goutils `Uncapitalize`: the first letter after whitespace in lower case.
fn untitle(s: &str) -> String {
    let mut next = true;
    s.chars()
        .map(|c| {
            if go_is_space(c) {
                next = true;
                c
            } else if next {
                next = false;
                rune_lower(c)
            } else {
                c
            }
        })
        .collect()
}

/// goutils `DeleteWhiteSpace`: works on bytes, each kept byte written as
/// the rune of that value (so non-ASCII text is re-encoded as Latin-1
/// runes once any whitespace was removed, exactly as Go does).
fn nospace(s: &str) -> String {
    let kept: Vec<u8> = s.bytes().filter(|b| !go_is_space(*b as char)).collect();
    if kept.len() == s.len() {
        return s.to_string();
    }
    kept.iter().map(|b| *b as char).collect()
}

/// goutils `Initials`: byte-wise, like `nospace`.
fn initials(s: &str) -> String {
    let mut gap = true;
    let mut out = String::new();
    for b in s.bytes() {
        let c = b as char;
        if go_is_space(c) {
            gap = true;
        } else if gap {
            out.push(c);
            gap = false;
        }
    }
    out
}

/// goutils `SwapCase`.
fn swapcase(s: &str) -> String {
    let mut ws = true;
    s.chars()
        .map(|c| {
            if is_upper(c) || is_title(c) {
                ws = false;
                rune_lower(c)
            } else if is_lower(c) {
                if ws {
                    ws = false;
                    rune_title(c)
                } else {
                    rune_upper(c)
                }
            } else {
                ws = go_is_space(c);
                c
            }
        })
        .collect()
}

/// xstrings `Shuffle`: the runes in a random order (Fisher–Yates).
fn shuffle(s: &str) -> String {
    let mut runes: Vec<char> = s.chars().collect();
    let mut rng = super::reflect::seeded_rng();
    for i in (1..runes.len()).rev() {
        let j = (rng() % (i as u64 + 1)) as usize;
        runes.swap(i, j);
    }
    runes.into_iter().collect()
}

/// goutils `AbbreviateFull` on bytes; None where it errors (Sprig then
/// prints an empty string).
fn abbreviate_full(s: &[u8], offset: i64, max: i64) -> Option<String> {
    if s.is_empty() {
        return Some(String::new());
    }
    if max < 4 {
        return None;
    }
    let len = s.len() as i64;
    if len <= max {
        return Some(lossy(s));
    }
    let mut offset = offset.min(len);
    if len - offset < max - 3 {
        offset = len - (max - 3);
    }
    if offset <= 4 {
        return Some(format!("{}...", lossy(&s[..(max - 3) as usize])));
    }
    if max < 7 {
        return None;
    }
    if offset + max - 3 < len {
        let rest = abbreviate_full(&s[offset as usize..], 0, max - 3)?;
        return Some(format!("...{rest}"));
    }
    Some(format!("...{}", lossy(&s[(len - (max - 3)) as usize..])))
}

/// goutils `WrapCustom` (byte offsets, spaces only).
fn wrap_custom(s: &str, width: i64, newline: &str, long_words: bool) -> Result<String, FuncError> {
    if s.is_empty() {
        return Ok(String::new());
    }
    let nl = if newline.is_empty() { "\n" } else { newline };
    let width = width.max(1) as usize;
    let b = s.as_bytes();
    let len = b.len();
    let mut off = 0usize;
    let mut out: Vec<u8> = Vec::new();
    while len - off > width {
        bounded("wrapWith", out.len())?;
        if b[off] == b' ' {
            off += 1;
            continue;
        }
        let end = width + off + 1;
        let at = b[off..end].iter().rposition(|c| *c == b' ');
        if let Some(p) = at {
            out.extend_from_slice(&b[off..off + p]);
            out.extend_from_slice(nl.as_bytes());
            off += p + 1;
        } else if long_words {
            out.extend_from_slice(&b[off..off + width]);
            out.extend_from_slice(nl.as_bytes());
            off += width;
        } else {
            let end = width + off;
            match b[end..].iter().position(|c| *c == b' ') {
                None => {
                    out.extend_from_slice(&b[off..]);
                    off = len;
                }
                Some(i) => {
                    out.extend_from_slice(&b[off..end + i]);
                    out.extend_from_slice(nl.as_bytes());
                    off = end + i + 1;
                }
            }
        }
    }
    out.extend_from_slice(&b[off..]);
    Ok(lossy(&out))
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || go_is_space(c)
}

/// xstrings `isAlphabet`: a letter that is not a CJK ideograph.
fn is_alphabet(c: char) -> bool {
    if !is_letter(c) {
        return false;
    }
    let u = c as u32;
    if u < 0x3400 {
        return true;
    }
    !((0x4E00..=0x9FCC).contains(&u) || (0x3400..=0x4D85).contains(&u) || (0x20000..=0x2B81D).contains(&u))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alpha,
    Connector,
    Punct,
    Other,
}

/// xstrings `nextWord`.
fn next_word(s: &str) -> (Word, &str, &str) {
    let mut chars = s.char_indices().peekable();
    let Some((_, first)) = chars.next() else {
        return (Word::Invalid, "", "");
    };
    let mut end = first.len_utf8();
    let take_while = |end: &mut usize, pred: &dyn Fn(char) -> bool| {
        for c in s[*end..].chars() {
            if !pred(c) {
                break;
            }
            *end += c.len_utf8();
        }
    };
    let wt = if is_connector(first) {
        take_while(&mut end, &is_connector);
        Word::Connector
    } else if is_punct(first) {
        take_while(&mut end, &is_punct);
        Word::Punct
    } else if is_upper(first) {
        if let Some(r) = s[end..].chars().next() {
            if is_upper(r) {
                let mut prev = r.len_utf8();
                end += prev;
                let mut stop = None;
                for c in s[end..].chars() {
                    if !is_upper(c) {
                        stop = Some(c);
                        break;
                    }
                    prev = c.len_utf8();
                    end += prev;
                }
                // "HTTPStatus": the S belongs to the next word.
                if let Some(c) = stop {
                    if is_alphabet(c) {
                        end -= prev;
                    }
                }
            } else if is_alphabet(r) {
                end += r.len_utf8();
                take_while(&mut end, &|c| is_alphabet(c) && !is_upper(c));
            }
        }
        Word::Upper
    } else if is_alphabet(first) {
        take_while(&mut end, &|c| is_alphabet(c) && !is_upper(c));
        Word::Alpha
    } else if first.is_numeric() {
        take_while(&mut end, &|c: char| c.is_numeric());
        Word::Number
    } else {
        take_while(&mut end, &|c: char| !(is_connector(c) || is_alphabet(c) || c.is_numeric() || is_punct(c)));
        Word::Other
    };
    (wt, &s[..end], &s[end..])
}

fn to_lower_word(buf: &mut String, wt: Word, s: &str, connector: char) {
    if wt != Word::Upper && wt != Word::Connector {
        buf.push_str(s);
        return;
    }
    for c in s.chars() {
        if is_connector(c) {
            buf.push(connector);
        } else if is_upper(c) {
            buf.push(rune_lower(c));
        } else {
            buf.push(c);
        }
    }
}

/// xstrings `camelCaseToLowerCase` (`snakecase`, `kebabcase`).
pub fn to_lower_case_words(s: &str, connector: char) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut buf = String::new();
    let (mut wt, mut word, mut rem) = next_word(s);
    while !rem.is_empty() {
        if wt != Word::Connector {
            to_lower_word(&mut buf, wt, word, connector);
        }
        let prev = wt;
        let last = word;
        (wt, word, rem) = next_word(rem);
        match prev {
            Word::Number => {
                while wt == Word::Alpha || wt == Word::Number {
                    to_lower_word(&mut buf, wt, word, connector);
                    (wt, word, rem) = next_word(rem);
                }
                if wt != Word::Invalid && wt != Word::Punct && wt != Word::Connector {
                    buf.push(connector);
                }
            }
            Word::Connector => to_lower_word(&mut buf, prev, last, connector),
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        buf.push(connector);
                    }
                    continue;
                }
                if rem.is_empty() {
                    continue;
                }
                let last = word;
                (wt, word, rem) = next_word(rem);
                if wt != Word::Alpha {
                    to_lower_word(&mut buf, Word::Number, last, connector);
                    if wt != Word::Connector && wt != Word::Punct {
                        buf.push(connector);
                    }
                    continue;
                }
                buf.push(connector);
                to_lower_word(&mut buf, Word::Number, last, connector);
                while wt == Word::Alpha || wt == Word::Number {
                    to_lower_word(&mut buf, wt, word, connector);
                    (wt, word, rem) = next_word(rem);
                }
                if wt != Word::Invalid && wt != Word::Connector && wt != Word::Punct {
                    buf.push(connector);
                }
            }
        }
    }
    to_lower_word(&mut buf, wt, word, connector);
    buf
}

/// xstrings v1.5 `ToPascalCase` (Sprig's `camelcase`).
pub fn pascal_case(s: &str) -> String {
    let mut buf = String::new();
    let mut chars = s.chars();
    let mut r0 = '\0';
    let mut first_upper = false;
    let mut got = false;
    for c in chars.by_ref() {
        if !is_connector(c) {
            first_upper = is_upper(c);
            r0 = rune_upper(c);
            got = true;
            break;
        }
        buf.push(c);
    }
    if !got {
        // xstrings writes the last rune once more when only connectors were seen.
        if let Some(last) = s.chars().last() {
            buf.push(last);
        }
        return buf;
    }
    for c in chars {
        let r1 = r0;
        r0 = c;
        if is_connector(r0) && is_connector(r1) {
            buf.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = is_upper(r0);
            r0 = rune_upper(r0);
        } else {
            if first_upper {
                if is_upper(r0) {
                    r0 = rune_lower(r0);
                } else {
                    first_upper = false;
                }
            }
            buf.push(r1);
        }
    }
    buf.push(r0);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substr_panics_as_go() {
        assert_eq!(substr(0, 5, b"abc").unwrap(), "abc");
        assert_eq!(substr(-1, 5, b"abc").unwrap_err().render("substr"), "error calling substr: runtime error: slice bounds out of range [:5] with length 3");
        assert_eq!(substr(2, 1, b"abc").unwrap_err().render("substr"), "error calling substr: runtime error: slice bounds out of range [2:1]");
        assert_eq!(substr(1, 2, b"abc").unwrap(), "b");
    }

    #[test]
    fn trunc_and_abbrev() {
        let abc = Str::from("abc");
        assert_eq!(trunc(2, &abc), "ab");
        assert_eq!(trunc(-2, &abc), "bc");
        assert_eq!(trunc(-5, &abc), "abc");
        // Helm: trunc 1 "é" | len → 1; trunc -1 "é" | b64enc → qQ==
        let e = Str::from("é");
        assert_eq!(trunc(1, &e).go_bytes(), &[0xc3]);
        assert_eq!(trunc(-1, &e).go_bytes(), &[0xa9]);
    }

    #[test]
    fn shuffle_permutes_runes() {
        let s = "héllo wörld";
        let mut a: Vec<char> = shuffle(s).chars().collect();
        let mut b: Vec<char> = s.chars().collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert_eq!(shuffle(""), "");
    }

    #[test]
    fn split_as_go() {
        assert_eq!(go_split("a,b,c", ",", 2), vec!["a", "b,c"]);
        assert_eq!(go_split("abc", "", -1), vec!["a", "b", "c"]);
        assert_eq!(go_split("abc", "", 2), vec!["a", "bc"]);
        assert_eq!(go_split("", ",", -1), vec![""]);
        assert!(go_split("a", ",", 0).is_empty());
    }
}
