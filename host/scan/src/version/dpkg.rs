//! Debian package versions (`[epoch:]upstream[-revision]`) in dpkg's order:
//! epochs numerically, then upstream and revision each by dpkg's
//! verrevcmp — runs of non-digits compared character by character where
//! `~` sorts before everything (even the end), letters before non-letters,
//! then runs of digits numerically. It must not accept what dpkg refuses
//! (empty parts, a non-numeric epoch, spaces, characters outside policy).

use std::cmp::Ordering;
use std::fmt;

use super::{Scheme, VersionError};

#[derive(Debug, Clone)]
pub struct Version {
    pub epoch: u64,
    pub upstream: String,
    /// Empty when the version has none (a native package), which dpkg treats like `0`.
    pub revision: String,
}

impl Version {
    pub fn parse(input: &str) -> Result<Version, VersionError> {
        let err = |why: &str| VersionError::new(Scheme::Dpkg, input, why);
        let s = input.trim();
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(err("it contains whitespace"));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err("the epoch (before ':') is not a number"));
                }
                let epoch = e.parse::<u64>().map_err(|_| err("the epoch is too big"))?;
                (epoch, rest)
            }
            None => (0, s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => {
                if r.is_empty() {
                    return Err(err("the revision (after the last '-') is empty"));
                }
                (u, r)
            }
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(err("the upstream version is empty"));
        }
        if let Some(c) = upstream.chars().find(|c| !(c.is_ascii_alphanumeric() || ".+~-:".contains(*c))) {
            return Err(err(&format!("the upstream version contains {c:?}")));
        }
        if let Some(c) = revision.chars().find(|c| !(c.is_ascii_alphanumeric() || ".+~".contains(*c))) {
            return Err(err(&format!("the revision contains {c:?}")));
        }
        Ok(Version { epoch, upstream: upstream.to_string(), revision: revision.to_string() })
    }
}

/// The weight of one non-digit character (or the end, `None`) in verrevcmp.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

/// dpkg's comparison of one upstream or revision string.
pub fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // The non-digit prefix, one character at a time.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let wa = weight(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let wb = weight(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            // Only a non-digit advances; a digit (weight 0, like the end) waits for the number run.
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let (si, sj) = (i, j);
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        // Without leading zeros the longer run is the bigger number; equal lengths compare digit-wise.
        let ord = (i - si).cmp(&(j - sj)).then_with(|| a[si..i].cmp(&b[sj..j]));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
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
        if self.epoch != 0 {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.upstream)?;
        if !self.revision.is_empty() {
            write!(f, "-{}", self.revision)?;
        }
        Ok(())
    }
}
