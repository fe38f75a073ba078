//! Go versions: module versions (`v1.2.3`, pre-releases, pseudo-versions
//! such as `v0.0.0-20210101000000-abcdef123456`, `+incompatible`) in the
//! order of golang.org/x/mod/semver — semver precedence, build metadata
//! ignored, `v1` and `v1.2` shorthand for `v1.0.0` and `v1.2.0` — and Go
//! toolchain versions (`go1.21.3`, `go1.21rc2`, `go1.20`) as OSV's `stdlib`
//! package writes them (`1.21.3`, `1.21.0-rc.2`). The `v` is optional
//! because OSV's Go ranges omit it. It must not accept what x/mod rejects.

use std::cmp::Ordering;
use std::fmt;

use super::semver::{self, Identifier};
use super::{Scheme, VersionError};

#[derive(Debug, Clone)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<Identifier>,
    /// `+incompatible` or other build metadata, kept for display only.
    pub build: String,
}

fn number(p: &str) -> Option<u64> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || (p.len() > 1 && p.starts_with('0')) {
        return None;
    }
    p.parse().ok()
}

impl Version {
    pub fn parse(input: &str) -> Result<Version, VersionError> {
        let err = |why: &str| VersionError::new(Scheme::Go, input, why);
        let s = input.trim();
        if let Some(toolchain) = s.strip_prefix("go") {
            return Self::toolchain(toolchain).ok_or_else(|| err("not a Go toolchain version (go1.N[.P][rcK|betaK])"));
        }
        let shorthand_allowed = s.starts_with('v');
        let s = s.strip_prefix('v').unwrap_or(s);
        let (s, build) = match s.split_once('+') {
            Some((v, b)) => {
                semver::build(b).map_err(err)?;
                (v, b)
            }
            None => (s, ""),
        };
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, semver::prerelease(p).map_err(err)?),
            None => (s, Vec::new()),
        };
        let nums: Vec<&str> = core.split('.').collect();
        let nums: Vec<u64> = nums.iter().map(|p| number(p)).collect::<Option<_>>().ok_or_else(|| err("major.minor.patch must be numbers without leading zeros"))?;
        let (major, minor, patch) = match nums[..] {
            [a, b, c] => (a, b, c),
            // x/mod accepts v1 and v1.2 only without pre-release or build.
            [a, b] if shorthand_allowed && pre.is_empty() && build.is_empty() => (a, b, 0),
            [a] if shorthand_allowed && pre.is_empty() && build.is_empty() => (a, 0, 0),
            _ => return Err(err("expected vMAJOR.MINOR.PATCH")),
        };
        Ok(Version { major, minor, patch, pre, build: build.to_string() })
    }

    /// `1.21.3`, `1.21rc2`, `1.21beta1`, `1.20` (the part after `go`).
    fn toolchain(s: &str) -> Option<Version> {
        let cut = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
        let (nums, pre) = s.split_at(cut);
        let nums: Vec<u64> = nums.split('.').map(number).collect::<Option<_>>()?;
        let (major, minor, patch) = match nums[..] {
            [a] => (a, 0, 0),
            [a, b] => (a, b, 0),
            [a, b, c] => (a, b, c),
            _ => return None,
        };
        let pre = if pre.is_empty() {
            Vec::new()
        } else {
            let (kind, n) = pre.split_at(pre.find(|c: char| c.is_ascii_digit())?);
            if !matches!(kind, "rc" | "beta") {
                return None;
            }
            vec![Identifier::Alpha(kind.to_string()), Identifier::Numeric(number(n)?)]
        };
        Some(Version { major, minor, patch, pre, build: String::new() })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        semver::precedence((self.major, self.minor, self.patch, &self.pre), (other.major, other.minor, other.patch, &other.pre))
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
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)?;
        semver::write_pre(f, &self.pre)?;
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}
