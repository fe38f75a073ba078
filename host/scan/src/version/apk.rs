//! Alpine package versions in apk-tools' order. The grammar is
//! `digits{.digits}[letter]{_suffix[digits]}[-rN]`, with suffixes
//! `_alpha < _beta < _pre < _rc` (before the plain release) and
//! `_cvs < _svn < _git < _hg < _p` (after it). A version is read as a
//! sequence of typed tokens and two versions compare token by token the way
//! apk does, including its treatment of a dot-component with leading zeros
//! (`1.02 < 1.1`, the zeros counted, the rest a number). Anything outside
//! the grammar is a parse error here, where apk would fall back to a fuzzy
//! string order; this module must not guess.

use std::cmp::Ordering;
use std::fmt;

use super::{Scheme, VersionError};

/// Token kinds in the order apk ranks them when two versions' structures differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// A number after a `.` (leading zeros are their own token).
    DotNumber,
    /// The first number, or the digits after a component's leading zeros.
    Number,
    Letter,
    Suffix,
    SuffixNumber,
    Revision,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token {
    kind: Kind,
    value: i64,
}

const PRE: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    tokens: Vec<Token>,
}

fn number(s: &[u8], i: &mut usize) -> Option<i64> {
    let start = *i;
    let mut v: i64 = 0;
    while *i < s.len() && s[*i].is_ascii_digit() {
        v = v.checked_mul(10)?.checked_add(i64::from(s[*i] - b'0'))?;
        *i += 1;
    }
    let _ = start;
    Some(v)
}

impl Version {
    pub fn parse(input: &str) -> Result<Version, VersionError> {
        let err = |why: &str| VersionError::new(Scheme::Apk, input, why);
        let s = input.as_bytes();
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        if !s[0].is_ascii_digit() {
            return Err(err("it does not start with a digit"));
        }
        let mut tokens = Vec::new();
        let mut i = 0;
        let mut kind = Kind::Number;
        loop {
            // Read the value of a token of `kind` at `i`.
            let mut forced = None;
            let value = match kind {
                Kind::DotNumber if s.get(i) == Some(&b'0') => {
                    let start = i;
                    while i < s.len() && s[i] == b'0' {
                        i += 1;
                    }
                    forced = Some(Kind::Number);
                    -((i - start) as i64)
                }
                Kind::DotNumber | Kind::Number | Kind::SuffixNumber | Kind::Revision => {
                    if kind != Kind::Number && !s.get(i).is_some_and(u8::is_ascii_digit) {
                        return Err(err(&format!("a number is missing at byte {i}")));
                    }
                    number(s, &mut i).ok_or_else(|| err("a number is too big"))?
                }
                Kind::Letter => {
                    i += 1;
                    i64::from(s[i - 1])
                }
                Kind::Suffix => {
                    let rest = &input[i..];
                    if let Some(n) = PRE.iter().position(|p| rest.starts_with(p)) {
                        i += PRE[n].len();
                        n as i64 - PRE.len() as i64
                    } else if let Some(n) = POST.iter().position(|p| rest.starts_with(p)) {
                        i += POST[n].len();
                        n as i64
                    } else {
                        return Err(err(&format!("unknown suffix at byte {i} (known: _alpha _beta _pre _rc _cvs _svn _git _hg _p)")));
                    }
                }
                Kind::End => unreachable!("the loop ends at End"),
            };
            tokens.push(Token { kind, value });
            if i >= s.len() {
                tokens.push(Token { kind: Kind::End, value: 0 });
                break;
            }
            if let Some(next) = forced {
                kind = next;
                continue;
            }
            // Which token comes next, from the character at `i`.
            let c = s[i];
            let next = if matches!(kind, Kind::Number | Kind::DotNumber) && c.is_ascii_lowercase() {
                Kind::Letter
            } else if kind == Kind::Letter && c.is_ascii_digit() {
                Kind::Number
            } else if kind == Kind::Suffix && c.is_ascii_digit() {
                Kind::SuffixNumber
            } else {
                let n = match c {
                    b'.' => Kind::DotNumber,
                    b'_' => Kind::Suffix,
                    b'-' if s.get(i + 1) == Some(&b'r') => {
                        i += 1;
                        Kind::Revision
                    }
                    _ => return Err(err(&format!("unexpected {:?} at byte {i}", c as char))),
                };
                i += 1;
                n
            };
            // Tokens only move forward through the grammar, with apk's three ways back.
            let allowed = next >= kind
                || (next == Kind::DotNumber && kind == Kind::Number)
                || (next == Kind::Suffix && kind == Kind::SuffixNumber)
                || (next == Kind::Number && kind == Kind::Letter);
            if !allowed || (next == kind && matches!(kind, Kind::Letter | Kind::Revision)) {
                return Err(err(&format!("{next:?} cannot follow {kind:?} at byte {i}")));
            }
            kind = next;
        }
        Ok(Version { text: input.to_string(), tokens })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.tokens.iter().zip(&other.tokens) {
            if a.kind == b.kind {
                if a.value != b.value {
                    return a.value.cmp(&b.value);
                }
                if a.kind == Kind::End {
                    return Ordering::Equal;
                }
                continue;
            }
            // Same so far, different structure: a pre-release suffix is older than
            // anything; otherwise the version that goes on with an earlier kind is newer.
            if a.kind == Kind::Suffix && a.value < 0 {
                return Ordering::Less;
            }
            if b.kind == Kind::Suffix && b.value < 0 {
                return Ordering::Greater;
            }
            return b.kind.cmp(&a.kind);
        }
        Ordering::Equal
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

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
