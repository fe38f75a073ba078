//! Semantic Versioning 2.0.0 (npm and crates.io) in the spec's precedence:
//! major, minor, patch numerically; a version with a pre-release is lower
//! than the same version without; pre-release identifiers compared one by
//! one, numeric ones numerically and below alphanumeric ones (ASCII order),
//! a shorter list lower when it is a prefix of the longer; build metadata
//! ignored. A leading `v` or `=` is accepted (npm's loose habit); leading
//! zeros, empty identifiers and missing parts are errors.

use std::cmp::Ordering;
use std::fmt;

use super::{Scheme, VersionError};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Identifier {
    // Declared first: numeric identifiers have lower precedence than alphanumeric ones.
    Numeric(u64),
    Alpha(String),
}

#[derive(Debug, Clone)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<Identifier>,
    pub build: String,
}

fn numeric(part: &str) -> Result<u64, &'static str> {
    if part.is_empty() {
        return Err("a number is missing");
    }
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a number has non-digits");
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err("a number has a leading zero");
    }
    part.parse().map_err(|_| "a number is too big")
}

/// Parses the `-pre` identifiers (without the dash); shared with Go.
pub(crate) fn prerelease(pre: &str) -> Result<Vec<Identifier>, &'static str> {
    pre.split('.')
        .map(|id| {
            if id.is_empty() {
                Err("an empty pre-release identifier")
            } else if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                Err("a pre-release identifier has characters outside [0-9A-Za-z-]")
            } else if id.bytes().all(|b| b.is_ascii_digit()) {
                numeric(id).map(Identifier::Numeric)
            } else {
                Ok(Identifier::Alpha(id.to_string()))
            }
        })
        .collect()
}

pub(crate) fn build(build: &str) -> Result<(), &'static str> {
    if build.split('.').any(|id| id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
        return Err("build metadata identifiers must be non-empty [0-9A-Za-z-]");
    }
    Ok(())
}

impl Version {
    pub fn parse(input: &str) -> Result<Version, VersionError> {
        let err = |why: &str| VersionError::new(Scheme::Semver, input, why);
        let s = input.trim();
        let s = s.strip_prefix('=').unwrap_or(s);
        let s = s.strip_prefix('v').unwrap_or(s);
        let (s, build_meta) = match s.split_once('+') {
            Some((v, b)) => {
                build(b).map_err(err)?;
                (v, b)
            }
            None => (s, ""),
        };
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, prerelease(p).map_err(err)?),
            None => (s, Vec::new()),
        };
        let mut parts = core.split('.');
        let mut next = |name: &str| -> Result<u64, VersionError> {
            let p = parts.next().ok_or_else(|| err(&format!("the {name} version is missing")))?;
            numeric(p).map_err(|why| err(&format!("{why} in the {name} version")))
        };
        let (major, minor, patch) = (next("major")?, next("minor")?, next("patch")?);
        if parts.next().is_some() {
            return Err(err("more than three numbers"));
        }
        Ok(Version { major, minor, patch, pre, build: build_meta.to_string() })
    }
}

/// The spec's precedence of two (core, pre-release) pairs.
pub(crate) fn precedence(a: (u64, u64, u64, &[Identifier]), b: (u64, u64, u64, &[Identifier])) -> Ordering {
    (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)).then_with(|| match (a.3.is_empty(), b.3.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.3.cmp(b.3),
    })
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        precedence((self.major, self.minor, self.patch, &self.pre), (other.major, other.minor, other.patch, &other.pre))
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

pub(crate) fn write_pre(f: &mut fmt::Formatter<'_>, pre: &[Identifier]) -> fmt::Result {
    for (n, id) in pre.iter().enumerate() {
        f.write_str(if n == 0 { "-" } else { "." })?;
        match id {
            Identifier::Numeric(v) => write!(f, "{v}")?,
            Identifier::Alpha(s) => f.write_str(s)?,
        }
    }
    Ok(())
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        write_pre(f, &self.pre)?;
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}
