//! Python package versions (PEP 440) in the order the `packaging` library
//! gives them: epoch, release (trailing zeros ignored), then pre-release
//! (`a < b < rc`; a dev release of a plain version sorts before its
//! pre-releases), post-release, dev release, and local version (absent
//! first; numeric segments above alphanumeric ones). Parsing normalises
//! the spellings PEP 440 allows (`v` prefix, case, `alpha`/`c`/`pre`/
//! `preview`, `-`/`_`/`.` separators, implicit numbers, `1.0-1` as a
//! post-release). Legacy (non-PEP 440) versions are errors; this module
//! must not invent an order for them.

use std::cmp::Ordering;
use std::fmt;

use super::{Scheme, VersionError};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalPart {
    // Declared first so a string segment sorts below a number.
    Text(String),
    Number(u64),
}

#[derive(Debug, Clone)]
pub struct Version {
    pub epoch: u64,
    pub release: Vec<u64>,
    /// (0 = a, 1 = b, 2 = rc, number)
    pub pre: Option<(u8, u64)>,
    pub post: Option<u64>,
    pub dev: Option<u64>,
    local: Vec<LocalPart>,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat_sep(&mut self) -> bool {
        if matches!(self.peek(), Some(b'.' | b'-' | b'_')) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn number(&mut self) -> Option<Result<u64, ()>> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if start == self.i {
            return None;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        Some(text.parse().map_err(|_| ()))
    }
    /// The longest of `words` at the cursor (they are lowercase; the input is lowercased).
    fn word(&mut self, words: &[&str]) -> Option<usize> {
        let rest = &self.s[self.i..];
        let (n, w) = words.iter().enumerate().filter(|(_, w)| rest.starts_with(w.as_bytes())).max_by_key(|(_, w)| w.len())?;
        self.i += w.len();
        Some(n)
    }
}

impl Version {
    pub fn parse(input: &str) -> Result<Version, VersionError> {
        let err = |why: &str| VersionError::new(Scheme::Pep440, input, why);
        let lower = input.trim().to_ascii_lowercase();
        let mut c = Cursor { s: lower.as_bytes(), i: 0 };
        if c.peek() == Some(b'v') {
            c.i += 1;
        }
        let big = |_| err("a number is too big");
        let first = match c.number() {
            Some(n) => n.map_err(big)?,
            None => return Err(err("it does not start with a number")),
        };
        let (epoch, mut release) = if c.peek() == Some(b'!') {
            c.i += 1;
            match c.number() {
                Some(n) => (first, vec![n.map_err(big)?]),
                None => return Err(err("no release number after the epoch '!'")),
            }
        } else {
            (0, vec![first])
        };
        while c.peek() == Some(b'.') && c.s.get(c.i + 1).is_some_and(|d| d.is_ascii_digit()) {
            c.i += 1;
            release.push(c.number().unwrap_or(Ok(0)).map_err(big)?);
        }
        let mut v = Version { epoch, release, pre: None, post: None, dev: None, local: Vec::new() };

        // Pre-release: [sep](a|b|c|rc|alpha|beta|pre|preview)[sep][N]
        let save = c.i;
        c.eat_sep();
        const PRE: [&str; 8] = ["a", "b", "c", "rc", "alpha", "beta", "pre", "preview"];
        if let Some(n) = c.word(&PRE) {
            let kind = match PRE[n] {
                "a" | "alpha" => 0,
                "b" | "beta" => 1,
                _ => 2,
            };
            v.pre = Some((kind, implicit_number(&mut c).map_err(big)?));
        } else {
            c.i = save;
        }

        // Post-release: -N, or [sep](post|rev|r)[sep][N]
        let save = c.i;
        if c.peek() == Some(b'-') && c.s.get(c.i + 1).is_some_and(|d| d.is_ascii_digit()) {
            c.i += 1;
            v.post = Some(c.number().unwrap_or(Ok(0)).map_err(big)?);
        } else {
            c.eat_sep();
            if c.word(&["post", "rev", "r"]).is_some() {
                v.post = Some(implicit_number(&mut c).map_err(big)?);
            } else {
                c.i = save;
            }
        }

        // Dev release: [sep]dev[sep][N]
        let save = c.i;
        c.eat_sep();
        if c.word(&["dev"]).is_some() {
            v.dev = Some(implicit_number(&mut c).map_err(big)?);
        } else {
            c.i = save;
        }

        // Local version: +segment([-_.]segment)*
        if c.peek() == Some(b'+') {
            c.i += 1;
            let rest = std::str::from_utf8(&c.s[c.i..]).unwrap_or("");
            for part in rest.split(['.', '-', '_']) {
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(err("the local version (after '+') must be letters and digits separated by '.'"));
                }
                v.local.push(match part.bytes().all(|b| b.is_ascii_digit()) {
                    true => LocalPart::Number(part.parse().map_err(|_| err("a number is too big"))?),
                    false => LocalPart::Text(part.to_string()),
                });
            }
            c.i = c.s.len();
        }
        if c.i != c.s.len() {
            return Err(err(&format!("unexpected text {:?}", &lower[c.i..])));
        }
        Ok(v)
    }

    /// The ordering key of `packaging`: missing parts take the value that puts them in the right place.
    fn key(&self) -> Key<'_> {
        let mut release = self.release.as_slice();
        while let [rest @ .., 0] = release {
            release = rest;
        }
        let pre = match (self.pre, self.post, self.dev) {
            // 1.0.dev0 sorts before 1.0a0.
            (None, None, Some(_)) => Bound::Below,
            (None, _, _) => Bound::Above,
            (Some(p), _, _) => Bound::At(p),
        };
        let post = self.post.map_or(Bound::Below, Bound::At);
        let dev = self.dev.map_or(Bound::Above, Bound::At);
        let local = if self.local.is_empty() { None } else { Some(self.local.as_slice()) };
        (self.epoch, release, pre, post, dev, local)
    }
}

fn implicit_number(c: &mut Cursor<'_>) -> Result<u64, ()> {
    let save = c.i;
    c.eat_sep();
    match c.number() {
        Some(n) => n,
        None => {
            c.i = save;
            Ok(0)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Bound<T> {
    Below,
    At(T),
    Above,
}

type Key<'a> = (u64, &'a [u64], Bound<(u8, u64)>, Bound<u64>, Bound<u64>, Option<&'a [LocalPart]>);

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// The normalised form (`1!2.0rc1.post2.dev3+local.7`).
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}!", self.epoch)?;
        }
        let release: Vec<String> = self.release.iter().map(u64::to_string).collect();
        f.write_str(&release.join("."))?;
        if let Some((k, n)) = self.pre {
            write!(f, "{}{n}", ["a", "b", "rc"][usize::from(k)])?;
        }
        if let Some(n) = self.post {
            write!(f, ".post{n}")?;
        }
        if let Some(n) = self.dev {
            write!(f, ".dev{n}")?;
        }
        if !self.local.is_empty() {
            let parts: Vec<String> = self
                .local
                .iter()
                .map(|p| match p {
                    LocalPart::Text(t) => t.clone(),
                    LocalPart::Number(n) => n.to_string(),
                })
                .collect();
            write!(f, "+{}", parts.join("."))?;
        }
        Ok(())
    }
}
