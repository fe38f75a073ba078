//! `.helmignore` as Helm reads it (`pkg/ignore`): one rule a line, `#`
//! comments, `!` negation (with Helm's quirk: a negated rule ignores every
//! path it does *not* match), a trailing `/` for directories only, a leading
//! `/` or an inner `/` matching the whole path, otherwise the base name;
//! `**` refused; patterns are Go's `filepath.Match`. The default rule
//! `templates/.?*` hides dot files in templates/. It must not walk
//! directories (that is `load_dir`'s).

pub const HELM_IGNORE: &str = ".helmignore";

#[derive(Clone, Debug)]
struct Pattern {
    rule: String,
    negate: bool,
    must_dir: bool,
    /// Match against the whole path (else the base name).
    whole: bool,
}

/// The rules of a `.helmignore`.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

/// Go's `filepath.ErrBadPattern` text.
const BAD_PATTERN: &str = "syntax error in pattern";

impl Rules {
    pub fn empty() -> Rules {
        Rules::default()
    }

    /// Parses a `.helmignore`; the error is Helm's.
    pub fn parse(text: &str) -> Result<Rules, String> {
        let mut r = Rules::empty();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // bufio.Scanner lines: split on \n, a trailing \r dropped.
        for line in text.split('\n') {
            r.parse_rule(line.strip_suffix('\r').unwrap_or(line))?;
        }
        Ok(r)
    }

    pub fn add_defaults(&mut self) {
        // Invariant: the default rule is valid.
        let _ = self.parse_rule("templates/.?*");
    }

    fn parse_rule(&mut self, rule: &str) -> Result<(), String> {
        let rule = rule.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err("double-star (**) syntax is not supported".into());
        }
        go_filepath_match(rule, "abc")?;
        let mut rule = rule;
        let mut p = Pattern { rule: String::new(), negate: false, must_dir: false, whole: false };
        if let Some(r) = rule.strip_prefix('!') {
            p.negate = true;
            rule = r;
        }
        if let Some(r) = rule.strip_suffix('/') {
            p.must_dir = true;
            rule = r;
        }
        if let Some(r) = rule.strip_prefix('/') {
            p.whole = true;
            rule = r;
        } else if rule.contains('/') {
            p.whole = true;
        }
        p.rule = rule.to_string();
        self.patterns.push(p);
        Ok(())
    }

    /// Whether `path` (slash-separated, relative to the chart) is ignored.
    pub fn ignore(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for p in &self.patterns {
            let target = if p.whole { path } else { base(path) };
            let matched = go_filepath_match(&p.rule, target).unwrap_or(false);
            if p.negate {
                if p.must_dir && !is_dir {
                    return true;
                }
                if !matched {
                    return true;
                }
                continue;
            }
            if p.must_dir && !is_dir {
                continue;
            }
            if matched {
                return true;
            }
        }
        false
    }
}

/// Go's `filepath.Base` for a slash path.
fn base(p: &str) -> &str {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { "." } else { "/" };
    }
    match t.rfind('/') {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

/// Go's `filepath.Match` (Unix): `*` and `?` never match `/`, `[...]`
/// classes with `^` negation and ranges, `\` escapes; a malformed pattern
/// is an error even where matching already failed.
pub fn go_filepath_match(pattern: &str, name: &str) -> Result<bool, String> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok) = match_chunk(chunk, name)?;
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut p = pattern;
    let mut star = false;
    while let [b'*', rest @ ..] = p {
        p = rest;
        star = true;
    }
    let mut inrange = false;
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'\\' if i + 1 < p.len() => i += 1,
            b'[' => inrange = true,
            b']' => inrange = false,
            b'*' if !inrange => break,
            _ => {}
        }
        i += 1;
    }
    (star, &p[..i], &p[i..])
}

/// Go's `utf8.DecodeRune`: the rune and its length (U+FFFD, 1 when invalid).
fn decode_rune(b: &[u8]) -> (char, usize) {
    for n in 1..=b.len().min(4) {
        if let Ok(s) = std::str::from_utf8(&b[..n]) {
            if let Some(c) = s.chars().next() {
                return (c, n);
            }
        }
    }
    ('\u{FFFD}', 1.min(b.len()))
}

fn match_chunk<'a>(chunk: &[u8], s: &'a [u8]) -> Result<(&'a [u8], bool), String> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let (ch, n) = decode_rune(s);
                    r = ch;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let mut negated = false;
                if let [b'^', rest @ ..] = chunk {
                    negated = true;
                    chunk = rest;
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if nrange > 0 {
                        if let [b']', rest @ ..] = chunk {
                            chunk = rest;
                            break;
                        }
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if let [b'-', rest @ ..] = chunk {
                        let (h, rest) = get_esc(rest)?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            c => {
                if c == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(BAD_PATTERN.into());
                    }
                }
                if !failed {
                    if chunk[0] != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        Ok((b"", false))
    } else {
        Ok((s, true))
    }
}

fn get_esc(chunk: &[u8]) -> Result<(char, &[u8]), String> {
    let mut chunk = chunk;
    if chunk.is_empty() || chunk[0] == b'-' || chunk[0] == b']' {
        return Err(BAD_PATTERN.into());
    }
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return Err(BAD_PATTERN.into());
        }
    }
    let (r, n) = decode_rune(chunk);
    if r == '\u{FFFD}' && n == 1 && chunk[0] >= 0x80 {
        return Err(BAD_PATTERN.into());
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return Err(BAD_PATTERN.into());
    }
    Ok((r, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filepath_match_is_gos() {
        let m = |p, n| go_filepath_match(p, n);
        assert_eq!(m("*.txt", "a.txt"), Ok(true));
        assert_eq!(m("*.txt", "d/a.txt"), Ok(false));
        assert_eq!(m("a?c", "abc"), Ok(true));
        assert_eq!(m("a?c", "a/c"), Ok(false));
        assert_eq!(m("[a-c]x", "bx"), Ok(true));
        assert_eq!(m("[^a-c]x", "bx"), Ok(false));
        assert_eq!(m("a\\*b", "a*b"), Ok(true));
        assert_eq!(m("templates/.?*", "templates/.hidden"), Ok(true));
        assert_eq!(m("templates/.?*", "templates/x.yaml"), Ok(false));
        assert_eq!(m("[", "abc"), Err(BAD_PATTERN.into()));
        assert_eq!(m("x[", "abc"), Err(BAD_PATTERN.into()));
        assert_eq!(m("a*", "abc/d"), Ok(false));
        assert_eq!(m("*c", "abc"), Ok(true));
    }

    #[test]
    fn helmignore_rules() {
        let r = Rules::parse("# c\n*.bak\nsecret/\n/top.txt\ndocs/*.md\n").unwrap();
        assert!(r.ignore("a.bak", false));
        assert!(r.ignore("x/a.bak", false));
        assert!(r.ignore("secret", true));
        assert!(!r.ignore("secret", false));
        assert!(r.ignore("top.txt", false));
        assert!(!r.ignore("sub/top.txt", false));
        assert!(r.ignore("docs/a.md", false));
        assert!(!r.ignore("docs/x/a.md", false));
        assert_eq!(Rules::parse("a/**/b").unwrap_err(), "double-star (**) syntax is not supported");
        assert_eq!(Rules::parse("[").unwrap_err(), "syntax error in pattern");
        // Helm's negation: everything the negated pattern does not match is ignored.
        let n = Rules::parse("!keep.txt").unwrap();
        assert!(n.ignore("other.txt", false));
        assert!(!n.ignore("keep.txt", false));
    }
}
