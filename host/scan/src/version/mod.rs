//! Exact version order per ecosystem: each scheme parses a version string
//! (an error for garbage, never a guess) into a value whose `Ord` is the
//! ecosystem's own total order — dpkg, apk, rpm, PEP 440, semver 2.0 (npm,
//! crates.io) and Go modules. The matcher compares advisory range events
//! with installed versions through [`Scheme`]. This module must not know
//! about advisories or packages beyond which scheme an ecosystem uses.

use std::cmp::Ordering;
use std::fmt;

use crate::model::Ecosystem;

pub mod apk;
pub mod dpkg;
pub mod go;
pub mod pep440;
pub mod rpm;
pub mod semver;

/// A version string that is not a version in its scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scheme} version {input:?} is not valid: {reason}")]
pub struct VersionError {
    pub scheme: Scheme,
    pub input: String,
    pub reason: String,
}

impl VersionError {
    pub(crate) fn new(scheme: Scheme, input: &str, reason: impl Into<String>) -> Self {
        VersionError { scheme, input: input.to_string(), reason: reason.into() }
    }
}

/// A version order: which algorithm compares two versions of one ecosystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    Dpkg,
    Apk,
    Rpm,
    Pep440,
    Semver,
    Go,
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Apk => "apk",
            Scheme::Rpm => "rpm",
            Scheme::Pep440 => "PEP 440",
            Scheme::Semver => "semver",
            Scheme::Go => "Go",
        })
    }
}

/// One parsed version. Versions of one scheme compare by that scheme's
/// order; versions of different schemes order by scheme first (never needed
/// by the matcher, there only so `Ord` is total).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    Dpkg(dpkg::Version),
    Apk(apk::Version),
    Rpm(rpm::Version),
    Pep440(pep440::Version),
    Semver(semver::Version),
    Go(go::Version),
}

impl Scheme {
    /// The order an ecosystem's advisories are written in.
    pub fn for_ecosystem(ecosystem: &Ecosystem) -> Scheme {
        match ecosystem {
            Ecosystem::Debian(_) => Scheme::Dpkg,
            Ecosystem::Alpine(_) => Scheme::Apk,
            Ecosystem::Rpm { .. } => Scheme::Rpm,
            Ecosystem::PyPI => Scheme::Pep440,
            Ecosystem::Npm | Ecosystem::CratesIo => Scheme::Semver,
            Ecosystem::Go => Scheme::Go,
        }
    }

    pub fn parse(self, input: &str) -> Result<Version, VersionError> {
        Ok(match self {
            Scheme::Dpkg => Version::Dpkg(dpkg::Version::parse(input)?),
            Scheme::Apk => Version::Apk(apk::Version::parse(input)?),
            Scheme::Rpm => Version::Rpm(rpm::Version::parse(input)?),
            Scheme::Pep440 => Version::Pep440(pep440::Version::parse(input)?),
            Scheme::Semver => Version::Semver(semver::Version::parse(input)?),
            Scheme::Go => Version::Go(go::Version::parse(input)?),
        })
    }

    /// `a` against `b` in this scheme's order.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        Ok(self.parse(a)?.cmp(&self.parse(b)?))
    }
}
