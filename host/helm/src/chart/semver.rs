//! Semantic versions and version constraints as Masterminds/semver v3 (what
//! Helm uses) reads and checks them: `NewVersion` for Chart.yaml's
//! `version`, `NewConstraint` + `Check` for a dependency's `version` range
//! (`IsCompatibleRange`). Only what Helm needs; it must not grow into a
//! general semver library.

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;

/// Not a version Masterminds' `NewVersion` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidVersion;

/// A version as Masterminds' `NewVersion` accepts it (`v` prefix, missing
/// minor/patch allowed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub metadata: String,
}

/// The loose form: Masterminds' `NewVersion` coerces leading zeros
/// (`CoerceNewVersion` is on by default).
const SEMVER: &str = r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
/// Go's `\s`.
const WS: &str = r"[\t\n\x0C\r ]";

struct Regexes {
    version: Regex,
    constraint: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

fn regexes() -> &'static Regexes {
    static R: OnceLock<Regexes> = OnceLock::new();
    R.get_or_init(|| {
        // Invariant: these patterns are constants known to compile.
        let re = |s: String| Regex::new(&s).expect("constant semver pattern");
        Regexes {
            version: re(format!("^{SEMVER}$")),
            constraint: re(format!(r"^{WS}*({OPS}){WS}*({CV}){WS}*$")),
            range: re(format!(r"{WS}*({CV}){WS}+-{WS}+({CV}){WS}*")),
            find: re(format!(r"({OPS}){WS}*({CV})")),
            valid: re(format!(r"^({WS}*({OPS}){WS}*({CV}){WS}*)((?:{WS}+|,{WS}*)({OPS}){WS}*({CV}){WS}*)*$")),
        }
    })
}

impl Version {
    /// Masterminds' `NewVersion`; the error is only "not a version".
    pub fn parse(v: &str) -> Result<Version, InvalidVersion> {
        let caps = regexes().version.captures(v).ok_or(InvalidVersion)?;
        let num = |i: usize| caps.get(i).map_or(Ok(0), |m| m.as_str().trim_start_matches('.').parse::<u64>().map_err(|_| InvalidVersion));
        let pre = caps.get(5).map_or("", |m| m.as_str()).to_string();
        // validatePrerelease: numeric parts without leading zeros.
        for part in pre.split('.').filter(|_| !pre.is_empty()) {
            if part.bytes().all(|b| b.is_ascii_digit()) && part.len() > 1 && part.starts_with('0') {
                return Err(InvalidVersion);
            }
        }
        Ok(Version { major: num(1)?, minor: num(2)?, patch: num(3)?, pre, metadata: caps.get(8).map_or("", |m| m.as_str()).to_string() })
    }

    pub fn compare(&self, o: &Version) -> Ordering {
        self.major
            .cmp(&o.major)
            .then(self.minor.cmp(&o.minor))
            .then(self.patch.cmp(&o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &o.pre),
            })
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let sa: Vec<&str> = a.split('.').collect();
    let sb: Vec<&str> = b.split('.').collect();
    for i in 0..sa.len().max(sb.len()) {
        let d = compare_pre_part(sa.get(i).copied().unwrap_or(""), sb.get(i).copied().unwrap_or(""));
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (_, Err(_)) => Ordering::Less,
        (Err(_), _) => Ordering::Greater,
        (Ok(si), Ok(oi)) => {
            if si > oi {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

struct Constraint {
    con: Version,
    op: String,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

/// A version range: `||`-separated groups of constraints that must all hold.
pub struct Constraints {
    groups: Vec<(Vec<Constraint>, bool)>,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "*" | "X")
}

fn rewrite_range(i: &str) -> String {
    let r = &regexes().range;
    let mut o = i.to_string();
    for caps in r.captures_iter(i) {
        // Group 1 is the first version, group 11 the second (as in Masterminds).
        let (Some(all), Some(a), Some(b)) = (caps.get(0), caps.get(1), caps.get(11)) else { continue };
        let t = format!(">= {}, <= {} ", a.as_str(), b.as_str());
        o = o.replacen(all.as_str(), &t, 1);
    }
    o
}

fn parse_constraint(c: &str) -> Result<Constraint, String> {
    if c.is_empty() {
        return Ok(Constraint { con: Version::parse("0.0.0").map_err(|_| "constraint parser error")?, op: String::new(), minor_dirty: false, patch_dirty: false, dirty: true });
    }
    let caps = regexes().constraint.captures(c).ok_or_else(|| format!("improper constraint: {c:?}"))?;
    let g = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let (m3, m4, m5, m6) = (g(3), g(4), g(5), g(6));
    let mut ver = g(2).to_string();
    let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
    if is_x(m3) || m3.is_empty() {
        ver = format!("0.0.0{m6}");
        dirty = true;
    } else if is_x(m4.trim_start_matches('.')) || m4.is_empty() {
        minor_dirty = true;
        dirty = true;
        ver = format!("{m3}.0.0{m6}");
    } else if is_x(m5.trim_start_matches('.')) || m5.is_empty() {
        dirty = true;
        patch_dirty = true;
        ver = format!("{m3}{m4}.0{m6}");
    }
    let con = Version::parse(&ver).map_err(|_| "constraint parser error".to_string())?;
    Ok(Constraint { con, op: g(1).to_string(), minor_dirty, patch_dirty, dirty })
}

impl Constraints {
    /// Masterminds' `NewConstraint`.
    pub fn parse(c: &str) -> Result<Constraints, String> {
        let c = rewrite_range(c);
        let r = regexes();
        let mut groups = Vec::new();
        for v in c.split("||") {
            if !r.valid.is_match(v) {
                return Err(format!("improper constraint: {v:?}"));
            }
            let mut found: Vec<&str> = r.find.find_iter(v).map(|m| m.as_str()).collect();
            if found.is_empty() {
                found.push(v);
            }
            let mut list = Vec::new();
            let mut has_pre = false;
            for s in found {
                let pc = parse_constraint(s)?;
                has_pre |= !pc.con.pre.is_empty();
                list.push(pc);
            }
            groups.push((list, has_pre));
        }
        Ok(Constraints { groups })
    }

    pub fn check(&self, v: &Version) -> bool {
        self.groups.iter().any(|(list, pre)| list.iter().all(|c| c.check(v, *pre)))
    }
}

impl Constraint {
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let c = &self.con;
        match self.op.as_str() {
            "" | "=" => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.compare(c) == Ordering::Equal
                }
            }
            "!=" => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        if !v.pre.is_empty() || !c.pre.is_empty() {
                            return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                        }
                        return false;
                    }
                }
                v.compare(c) != Ordering::Equal
            }
            ">" => {
                if !self.dirty {
                    return v.compare(c) == Ordering::Greater;
                }
                if v.major > c.major {
                    true
                } else if v.major < c.major || self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    v.compare(c) == Ordering::Greater
                }
            }
            "<" => v.compare(c) == Ordering::Less,
            ">=" | "=>" => v.compare(c) != Ordering::Less,
            "<=" | "=<" => {
                if !self.dirty {
                    return v.compare(c) != Ordering::Greater;
                }
                !(v.major > c.major || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            "~" | "~>" => self.tilde(v),
            "^" => {
                if v.compare(c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                c.patch == v.patch
            }
            _ => false,
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }
}

/// Helm's `IsCompatibleRange`: `version` parses and satisfies `constraint`.
pub fn is_compatible_range(constraint: &str, version: &str) -> bool {
    let Ok(v) = Version::parse(version) else { return false };
    let Ok(c) = Constraints::parse(constraint) else { return false };
    c.check(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_masterminds_accepts() {
        for ok in ["1.0.0", "v1.2", "1", "0.1.0-rc.1+build.5", "1.2.3-alpha-1"] {
            assert!(Version::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(Version::parse("01.02.3").unwrap().minor, 2, "leading zeros are coerced");
        for bad in ["abc", "1.2.3.4", "1.2.3-01", "", "1.2.3-", "1.2.3+"] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_as_masterminds_checks_them() {
        let cases = [
            ("~1.2.0", "1.2.9", true),
            ("~1.2.0", "1.3.0", false),
            ("^1.2.0", "1.9.0", true),
            ("^1.2.0", "2.0.0", false),
            ("^0.2.0", "0.2.5", true),
            ("^0.2.0", "0.3.0", false),
            (">=1.0.0 <2.0.0", "1.5.0", true),
            (">=1.0.0, <2.0.0", "2.0.0", false),
            ("1.x", "1.7.3", true),
            ("*", "3.0.0", true),
            ("", "3.0.0", false),
            ("1.0.0 - 2.0.0", "2.0.0", true),
            ("1.0.0 - 2.0.0", "2.0.1", false),
            ("<1.0.0 || >=3.0.0", "3.1.0", true),
            ("1.2.3", "1.2.3", true),
            ("1.2.3", "1.2.4", false),
            ("^1.0.0", "1.1.0-rc.1", false),
            ("^1.0.0-0", "1.1.0-rc.1", true),
            ("!=1.2.3", "1.2.4", true),
            ("garbage", "1.0.0", false),
        ];
        for (c, v, want) in cases {
            assert_eq!(is_compatible_range(c, v), want, "{c} {v}");
        }
    }
}
