//! Sprig's regular expressions (regex.go) with Go's `regexp` semantics on
//! the `regex` crate: Go's RE2 syntax is translated where the two differ
//! (`\d \w \s \b` are ASCII in Go, `\Q…\E` quotes), matches are iterated
//! with Go's rules for empty matches (`FindAll`, `ReplaceAll`, `Split`),
//! `$name` expansion is Go's, and compile errors carry Go's wording
//! (`error parsing regexp: missing closing ): `(``; the non-`must` forms
//! panic through `MustCompile`'s `regexp: Compile(…): …`). Error kinds Go
//! and Rust see differently keep Rust's description after Go's prefix.

use regex::Regex;

use super::conv::*;
use crate::func::{FuncError, FuncMap, FuncResult};
use crate::value::Value;

pub fn register(m: &mut FuncMap) {
    fixed(m, "regexMatch", 2, |a| {
        let (re, s) = (want_str(&a[0])?, want_str(&a[1])?);
        Ok(Value::Bool(compile(re).map(|r| r.is_match(s)).unwrap_or(false)))
    });
    fixed(m, "mustRegexMatch", 2, |a| {
        let (re, s) = (want_str(&a[0])?, want_str(&a[1])?);
        Ok(Value::Bool(must(re)?.is_match(s)))
    });
    fixed(m, "regexFindAll", 3, |a| {
        let (re, s, n) = (want_str(&a[0])?, want_str(&a[1])?, want_int(&a[2])?);
        Ok(Value::strings(find_all(&panicking(re)?, s, n).into_iter().map(|(x, y)| &s[x..y])))
    });
    fixed(m, "mustRegexFindAll", 3, |a| {
        let (re, s, n) = (want_str(&a[0])?, want_str(&a[1])?, want_int(&a[2])?);
        Ok(Value::strings(find_all(&must(re)?, s, n).into_iter().map(|(x, y)| &s[x..y])))
    });
    fixed(m, "regexFind", 2, |a| {
        let (re, s) = (want_str(&a[0])?, want_str(&a[1])?);
        Ok(Value::from(panicking(re)?.find(s).map(|m| m.as_str()).unwrap_or("")))
    });
    fixed(m, "mustRegexFind", 2, |a| {
        let (re, s) = (want_str(&a[0])?, want_str(&a[1])?);
        Ok(Value::from(must(re)?.find(s).map(|m| m.as_str()).unwrap_or("")))
    });
    fixed(m, "regexReplaceAll", 3, |a| replace(a, panicking, false));
    fixed(m, "mustRegexReplaceAll", 3, |a| replace(a, must, false));
    fixed(m, "regexReplaceAllLiteral", 3, |a| replace(a, panicking, true));
    fixed(m, "mustRegexReplaceAllLiteral", 3, |a| replace(a, must, true));
    fixed(m, "regexSplit", 3, |a| {
        let (re, s, n) = (want_str(&a[0])?, want_str(&a[1])?, want_int(&a[2])?);
        Ok(Value::strings(split(&panicking(re)?, re, s, n)))
    });
    fixed(m, "mustRegexSplit", 3, |a| {
        let (re, s, n) = (want_str(&a[0])?, want_str(&a[1])?, want_int(&a[2])?);
        Ok(Value::strings(split(&must(re)?, re, s, n)))
    });
    fixed(m, "regexQuoteMeta", 1, |a| Ok(Value::from(quote_meta(want_str(&a[0])?))));
}

fn replace(a: &[Value], comp: fn(&str) -> Result<Regex, FuncError>, literal: bool) -> FuncResult {
    let (re, s, repl) = (want_str(&a[0])?, want_str(&a[1])?, want_str(&a[2])?);
    Ok(Value::from(replace_all(&comp(re)?, s, repl, literal)))
}

/// `regexp.Compile`'s error as the `must*` forms return it.
fn must(re: &str) -> Result<Regex, FuncError> {
    compile(re).map_err(FuncError::call)
}

/// `regexp.MustCompile`'s panic as the plain forms raise it.
fn panicking(re: &str) -> Result<Regex, FuncError> {
    compile(re).map_err(|e| {
        let shown = if crate::template::fmt::can_backquote(re) { format!("`{re}`") } else { go_quote(re) };
        FuncError::call(format!("regexp: Compile({shown}): {e}"))
    })
}

/// The most compiled patterns kept for reuse (templates call the same few
/// patterns over and over; Go compiles each time, which only costs time).
const CACHE_SIZE: usize = 256;

/// Compiles a Go pattern (cached); the error is Go's text.
pub fn compile(re: &str) -> Result<Regex, String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Result<Regex, String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(c) = cache.lock() {
        if let Some(r) = c.get(re) {
            return r.clone();
        }
    }
    let r = compile_uncached(re);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= CACHE_SIZE {
            c.clear();
        }
        c.insert(re.to_string(), r.clone());
    }
    r
}

fn compile_uncached(re: &str) -> Result<Regex, String> {
    let translated = translate(re)?;
    if let Err(e) = regex_syntax::ast::parse::Parser::new().parse(&translated) {
        return Err(go_error(re, &translated, &e));
    }
    if let Err(regex_syntax::Error::Translate(t)) = regex_syntax::ParserBuilder::new().octal(true).build().parse(&translated) {
        let span = t.span();
        let frag = class_frag(translated.get(span.start.offset..span.end.offset).unwrap_or(""));
        return Err(format!("error parsing regexp: invalid character class range: `{frag}`"));
    }
    regex::RegexBuilder::new(&translated).octal(true).size_limit(64 << 20).build().map_err(|e| match e {
        regex::Error::CompiledTooBig(_) => format!("error parsing regexp: expression too large: `{re}`"),
        other => format!("error parsing regexp: {other}"),
    })
}

/// Go's wording for a syntax error the Rust parser found.
fn go_error(orig: &str, translated: &str, e: &regex_syntax::ast::Error) -> String {
    use regex_syntax::ast::ErrorKind as K;
    let span = e.span();
    let mut frag = translated.get(span.start.offset..span.end.offset).unwrap_or("");
    if frag.is_empty() {
        // Go names the operator itself (`*`, `{2}`).
        let rest = translated.get(span.start.offset..).unwrap_or("");
        frag = match rest.chars().next() {
            Some('{') => rest.find('}').map(|i| &rest[..=i]).unwrap_or(rest),
            Some(c) => &rest[..c.len_utf8()],
            None => "",
        };
    }
    let flag_frag = || {
        let start = translated[..span.start.offset.min(translated.len())].rfind("(?").unwrap_or(span.start.offset);
        translated.get(start..span.end.offset).unwrap_or("").to_string()
    };
    let (code, expr) = match e.kind() {
        K::GroupUnclosed => ("missing closing )", orig.to_string()),
        K::GroupUnopened => ("unexpected )", orig.to_string()),
        K::ClassUnclosed => ("missing closing ]", translated.get(span.start.offset..).unwrap_or("").to_string()),
        K::EscapeUnrecognized | K::EscapeHexInvalid | K::EscapeHexInvalidDigit | K::EscapeHexEmpty | K::UnsupportedBackreference | K::ClassEscapeInvalid => {
            ("invalid escape sequence", frag.to_string())
        }
        K::EscapeUnexpectedEof => ("trailing backslash at end of expression", String::new()),
        K::RepetitionMissing => ("missing argument to repetition operator", frag.to_string()),
        K::RepetitionCountInvalid | K::RepetitionCountUnclosed | K::RepetitionCountDecimalEmpty | K::DecimalInvalid => {
            ("invalid repeat count", frag.to_string())
        }
        K::ClassRangeInvalid | K::ClassRangeLiteral => ("invalid character class range", frag.to_string()),
        K::UnsupportedLookAround | K::FlagUnrecognized | K::FlagDanglingNegation | K::FlagRepeatedNegation { .. } | K::FlagUnexpectedEof => {
            ("invalid or unsupported Perl syntax", flag_frag())
        }
        K::GroupNameInvalid | K::GroupNameEmpty | K::GroupNameUnexpectedEof => ("invalid named capture", frag.to_string()),
        K::GroupNameDuplicate { .. } => ("duplicate capture group name", frag.to_string()),
        K::NestLimitExceeded(_) => ("expression nests too deeply", orig.to_string()),
        K::UnicodeClassInvalid => ("invalid character class range", class_frag(frag).to_string()),
        other => return format!("error parsing regexp: {other}: `{orig}`"),
    };
    format!("error parsing regexp: {code}: `{expr}`")
}

/// Go names a bad Unicode class whole: `\pX`, `\p{Name}`.
fn class_frag(span_text: &str) -> &str {
    match span_text.find("\\p").or_else(|| span_text.find("\\P")) {
        Some(i) => &span_text[i..],
        None => span_text,
    }
}

/// Rewrites Go's syntax where Rust's differs: ASCII `\d \w \s \b`, and
/// `\Q…\E` quoting.
fn translate(re: &str) -> Result<String, String> {
    let mut out = String::with_capacity(re.len() + 8);
    let mut chars = re.chars().peekable();
    let mut class_depth = 0usize;
    let mut class_start = false;
    // The text of the repetition operator just emitted, for Go's refusal of `a**`.
    let mut last_rep: Option<String> = None;
    while let Some(c) = chars.next() {
        let at_class_start = class_start;
        class_start = false;
        if class_depth == 0 {
            let op = match c {
                '*' | '+' | '?' => Some(c.to_string()),
                '{' => {
                    let rest: String = chars.clone().collect();
                    match repeat_spec(&rest) {
                        Some((text, lo, hi)) => {
                            if lo > 1000 || hi.is_some_and(|h| h > 1000 || h < lo) {
                                return Err(format!("error parsing regexp: invalid repeat count: `{{{text}`"));
                            }
                            for _ in 0..text.len() {
                                chars.next();
                            }
                            Some(format!("{{{text}"))
                        }
                        None => {
                            // Go reads a `{` that starts no count literally.
                            out.push_str("\\{");
                            last_rep = None;
                            continue;
                        }
                    }
                }
                _ => None,
            };
            if let Some(mut op) = op {
                if chars.peek() == Some(&'?') {
                    chars.next();
                    op.push('?');
                }
                if let Some(prev) = &last_rep {
                    return Err(format!("error parsing regexp: invalid nested repetition operator: `{prev}{op}`"));
                }
                out.push_str(&op);
                last_rep = Some(op);
                continue;
            }
            last_rep = None;
        }
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    return Err("error parsing regexp: trailing backslash at end of expression: ``".into());
                };
                let inside = class_depth > 0;
                let rep = match (n, inside) {
                    ('d', false) => Some("[0-9]"),
                    ('D', false) => Some("[^0-9]"),
                    ('w', false) => Some("[0-9A-Za-z_]"),
                    ('W', false) => Some("[^0-9A-Za-z_]"),
                    ('s', false) => Some("[\\t\\n\\f\\r ]"),
                    ('S', false) => Some("[^\\t\\n\\f\\r ]"),
                    ('b', false) => Some("(?-u:\\b)"),
                    ('B', false) => Some("(?-u:\\B)"),
                    ('d', true) => Some("0-9"),
                    ('D', true) => Some("[^0-9]"),
                    ('w', true) => Some("0-9A-Za-z_"),
                    ('W', true) => Some("[^0-9A-Za-z_]"),
                    ('s', true) => Some("\\t\\n\\f\\r "),
                    ('S', true) => Some("[^\\t\\n\\f\\r ]"),
                    _ => None,
                };
                if let Some(r) = rep {
                    out.push_str(r);
                } else if n == 'Q' && !inside {
                    let mut lit = String::new();
                    loop {
                        match chars.next() {
                            None => break,
                            Some('\\') if chars.peek() == Some(&'E') => {
                                chars.next();
                                break;
                            }
                            Some(x) => lit.push(x),
                        }
                    }
                    out.push_str(&regex::escape(&lit));
                } else {
                    out.push('\\');
                    out.push(n);
                    if matches!(n, 'p' | 'P' | 'x') && chars.peek() == Some(&'{') {
                        // `\p{Greek}`, `\x{263a}`: the braces are the escape's own.
                        for x in chars.by_ref() {
                            out.push(x);
                            if x == '}' {
                                break;
                            }
                        }
                    }
                }
            }
            '[' => {
                if class_depth > 0 && chars.peek() == Some(&':') {
                    // a POSIX class `[:alpha:]` inside a bracket
                    out.push('[');
                    for x in chars.by_ref() {
                        out.push(x);
                        if x == ']' {
                            break;
                        }
                    }
                    continue;
                }
                if class_depth > 0 {
                    // Go takes a `[` inside a class literally.
                    out.push_str("\\[");
                    continue;
                }
                class_depth += 1;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                class_start = true;
            }
            ']' if class_depth > 0 && !at_class_start => {
                class_depth -= 1;
                out.push(']');
            }
            ']' if class_depth > 0 => out.push_str("\\]"),
            '-' | '&' | '~' if class_depth > 0 && chars.peek() == Some(&c) => {
                // Rust reads `--`, `&&`, `~~` in a class as set operations; Go as literals.
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// After a `{`: the rest of a repetition count `n}`, `n,}` or `n,m}` with
/// its bounds; None when the brace starts no count.
fn repeat_spec(rest: &str) -> Option<(String, u64, Option<u64>)> {
    let end = rest.find('}')?;
    let body = &rest[..end];
    let num = |s: &str| if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) { Some(s.parse::<u64>().unwrap_or(u64::MAX)) } else { None };
    let (lo, hi) = match body.split_once(',') {
        None => {
            let n = num(body)?;
            (n, Some(n))
        }
        Some((a, "")) => (num(a)?, None),
        Some((a, b)) => (num(a)?, Some(num(b)?)),
    };
    Some((rest[..=end].to_string(), lo, hi))
}

/// Go's `regexp.QuoteMeta`.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Go's `FindAllStringIndex(s, n)`: an empty match right after the
/// previous match is skipped.
pub fn find_all(re: &Regex, s: &str, n: i64) -> Vec<(usize, usize)> {
    let limit = if n < 0 { usize::MAX } else { n as usize };
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut prev_end: Option<usize> = None;
    while out.len() < limit && pos <= s.len() {
        let Some(m) = re.find_at(s, pos) else { break };
        let mut accept = true;
        if m.end() == pos {
            if Some(m.start()) == prev_end {
                accept = false;
            }
            pos += s[pos..].chars().next().map(char::len_utf8).unwrap_or(1);
        } else {
            pos = m.end();
        }
        prev_end = Some(m.end());
        if accept {
            out.push((m.start(), m.end()));
        }
    }
    out
}

/// Go's `ReplaceAllString` / `ReplaceAllLiteralString`.
pub fn replace_all(re: &Regex, s: &str, repl: &str, literal: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_end = 0usize;
    let mut search = 0usize;
    let mut locs = re.capture_locations();
    while search <= s.len() {
        let Some(m) = re.captures_read_at(&mut locs, s, search) else { break };
        out.push_str(&s[last_end..m.start()]);
        if m.end() > last_end || m.start() == 0 {
            if literal {
                out.push_str(repl);
            } else {
                expand(re, &locs, s, repl, &mut out);
            }
        }
        last_end = m.end();
        let width = s[search..].chars().next().map(char::len_utf8).unwrap_or(1);
        if search + width > m.end() {
            search += width;
        } else if search + 1 > m.end() {
            search += 1;
        } else {
            search = m.end();
        }
    }
    out.push_str(&s[last_end.min(s.len())..]);
    out
}

/// Go's `Regexp.Expand`: `$1`, `${1}`, `$name`, `${name}`, `$$`; a
/// malformed reference is kept as a literal `$`.
fn expand(re: &Regex, locs: &regex::CaptureLocations, s: &str, tmpl: &str, out: &mut String) {
    let mut rest = tmpl;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.len() > 1 && rest.as_bytes()[1] == b'$' {
            out.push('$');
            rest = &rest[2..];
            continue;
        }
        let Some((name, after)) = extract_name(rest) else {
            out.push('$');
            rest = &rest[1..];
            continue;
        };
        rest = after;
        let idx = match name.parse::<usize>() {
            Ok(n) if name.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => re.capture_names().position(|n| n == Some(name)),
        };
        if let Some((a, b)) = idx.and_then(|i| locs.get(i)) {
            out.push_str(&s[a..b]);
        }
    }
    out.push_str(rest);
}

fn extract_name(t: &str) -> Option<(&str, &str)> {
    let b = t.as_bytes();
    if b.len() < 2 || b[0] != b'$' {
        return None;
    }
    let brace = b[1] == b'{';
    let start = if brace { 2 } else { 1 };
    let mut i = start;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    if i == start {
        return None;
    }
    let name = &t[start..i];
    if brace {
        if i >= b.len() || b[i] != b'}' {
            return None;
        }
        i += 1;
    }
    Some((name, &t[i..]))
}

/// Go's `Regexp.Split(s, n)`.
pub fn split(re: &Regex, expr: &str, s: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if !expr.is_empty() && s.is_empty() {
        return vec![String::new()];
    }
    let matches = find_all(re, s, n);
    let mut out = Vec::new();
    let (mut beg, mut end) = (0usize, 0usize);
    for (a, b) in matches {
        if n > 0 && out.len() as i64 == n - 1 {
            break;
        }
        end = a;
        if b != 0 {
            out.push(s[beg..end].to_string());
        }
        beg = b;
    }
    if end != s.len() {
        out.push(s[beg..].to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_in_go_words() {
        assert_eq!(compile("(").unwrap_err(), "error parsing regexp: missing closing ): `(`");
        assert_eq!(panicking("(").unwrap_err().to_string(), "regexp: Compile(`(`): error parsing regexp: missing closing ): `(`");
    }

    #[test]
    fn ascii_classes_like_go() {
        let r = compile(r"^\d+$").unwrap();
        assert!(r.is_match("123"));
        assert!(!r.is_match("١٢٣"));
        assert!(compile(r"\bfoo\b").unwrap().is_match("a foo b"));
        assert!(compile(r"[\d_]+").unwrap().is_match("1_2"));
        assert!(compile(r"\Qa.b\E").unwrap().is_match("a.b"));
        assert!(!compile(r"\Qa.b\E").unwrap().is_match("axb"));
    }

    #[test]
    fn empty_matches_like_go() {
        let r = compile("a*").unwrap();
        let got: Vec<_> = find_all(&r, "baaac", -1).into_iter().map(|(a, b)| &"baaac"[a..b]).collect();
        assert_eq!(got, vec!["", "aaa", ""]);
        assert_eq!(replace_all(&r, "baaac", "X", false), "XbXcX");
        assert_eq!(replace_all(&compile("a(x*)b").unwrap(), "-ab-axxb-", "${1}W", false), "-W-xxW-");
        assert_eq!(replace_all(&compile("a(x*)b").unwrap(), "-ab-axxb-", "$1W", false), "---");
    }
}
