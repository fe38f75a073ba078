//! Semantic versions and version constraints as Masterminds/semver v3 (the
//! version Helm links) reads and checks them, shared by the chart loader
//! (Chart.yaml `version`, dependency ranges, `kubeVersion` via
//! [`is_compatible_range`]) and Sprig's `semver`/`semverCompare`
//! (sprig/semver.rs keeps the template-facing `*semver.Version` object).
//! `NewVersion`'s coercing parse ("v1.2" is 1.2.0) with its error texts, and
//! constraint checking (`^`, `~`, x-ranges, `a - b` ranges, `||`, commas,
//! pre-releases only matched by constraints that name one). The grammar is
//! Masterminds' own regular expressions, run with Go's semantics through
//! sprig/regex.rs. Only what Helm needs; it must not grow into a general
//! semver library, and it knows nothing of template values.

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;

use crate::sprig::conv::go_quote;

/// A parsed semantic version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub metadata: String,
    pub original: String,
}

const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

fn re(cell: &'static OnceLock<Option<Regex>>, src: impl FnOnce() -> String) -> Result<&'static Regex, String> {
    cell.get_or_init(|| crate::sprig::regex::compile(&src()).ok()).as_ref().ok_or_else(|| "semver: internal pattern failed to compile".to_string())
}

fn loose() -> Result<&'static Regex, String> {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    re(&R, || r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$".to_string())
}

fn constraint_re() -> Result<&'static Regex, String> {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    re(&R, || format!(r"^\s*({OPS})\s*({CV})\s*$"))
}

fn range_re() -> Result<&'static Regex, String> {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    re(&R, || format!(r"\s*({CV})\s+-\s+({CV})\s*"))
}

fn find_re() -> Result<&'static Regex, String> {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    re(&R, || format!(r"({OPS})\s*({CV})"))
}

fn valid_re() -> Result<&'static Regex, String> {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    re(&R, || format!(r"^(\s*({OPS})\s*({CV})\s*)((?:\s+|,\s*)({OPS})\s*({CV})\s*)*$"))
}

const ALLOWED: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789";

fn only(s: &str, set: &str) -> bool {
    s.chars().all(|c| set.contains(c))
}

fn parse_u64(s: &str) -> Result<u64, String> {
    s.parse::<u64>().map_err(|_| format!("error parsing version segment: strconv.ParseUint: parsing {}: value out of range", go_quote(s)))
}

impl Version {
    /// Masterminds' `NewVersion` (with `CoerceNewVersion`).
    pub fn parse(v: &str) -> Result<Version, String> {
        let caps = loose()?.captures(v).ok_or("invalid semantic version")?;
        let g = |i: usize| caps.get(i).map(|m| m.as_str()).unwrap_or("");
        let mut sv = Version { major: 0, minor: 0, patch: 0, pre: g(5).to_string(), metadata: g(8).to_string(), original: v.to_string() };
        sv.major = parse_u64(g(1))?;
        if !g(2).is_empty() {
            sv.minor = parse_u64(g(2).trim_start_matches('.'))?;
        }
        if !g(3).is_empty() {
            sv.patch = parse_u64(g(3).trim_start_matches('.'))?;
        }
        if !sv.pre.is_empty() {
            for p in sv.pre.split('.') {
                if p.is_empty() {
                    return Err("invalid prerelease string".into());
                } else if only(p, "0123456789") {
                    if p.len() > 1 && p.starts_with('0') {
                        return Err("version segment starts with 0".into());
                    }
                } else if !only(p, ALLOWED) {
                    return Err("invalid prerelease string".into());
                }
            }
        }
        if !sv.metadata.is_empty() && sv.metadata.split('.').any(|p| p.is_empty() || !only(p, ALLOWED)) {
            return Err("invalid metadata string".into());
        }
        Ok(sv)
    }

    pub fn to_go_string(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }

    /// Masterminds' `Compare` (metadata ignored).
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

    fn v_prefix(&self) -> &str {
        if self.original.starts_with('v') {
            "v"
        } else {
            ""
        }
    }

    /// Masterminds' `IncMajor` (0), `IncMinor` (1), `IncPatch` (2).
    pub fn inc(&self, which: u8) -> Version {
        let mut n = self.clone();
        n.metadata.clear();
        match which {
            0 => {
                n.pre.clear();
                n.major += 1;
                n.minor = 0;
                n.patch = 0;
            }
            1 => {
                n.pre.clear();
                n.minor += 1;
                n.patch = 0;
            }
            _ => {
                if self.pre.is_empty() {
                    n.patch += 1;
                }
                n.pre.clear();
            }
        }
        n.original = format!("{}{}", self.v_prefix(), n.to_go_string());
        n
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let (ap, bp): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..ap.len().max(bp.len()) {
        let d = compare_pre_part(ap.get(i).copied().unwrap_or(""), bp.get(i).copied().unwrap_or(""));
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
    let num = |x: &str| if !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()) { x.parse::<u64>().ok() } else { None };
    match (num(s), num(o)) {
        (None, None) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(a), Some(b)) => {
            if a > b {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

struct Constraint {
    op: String,
    con: Version,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

/// A parsed constraint set: OR groups of AND-ed constraints.
pub struct Constraints {
    groups: Vec<(Vec<Constraint>, bool)>,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "*" | "X")
}

impl Constraints {
    pub fn parse(c: &str) -> Result<Constraints, String> {
        let c = rewrite_range(c)?;
        let mut groups = Vec::new();
        for part in c.split("||") {
            if !valid_re()?.is_match(part) {
                return Err(format!("improper constraint: {}", go_quote(part)));
            }
            let found: Vec<String> = crate::sprig::regex::find_all(find_re()?, part, -1).into_iter().map(|(a, b)| part[a..b].to_string()).collect();
            let found = if found.is_empty() { vec![part.to_string()] } else { found };
            let mut list = Vec::new();
            let mut has_pre = false;
            for s in found {
                let pc = parse_constraint(&s)?;
                has_pre |= !pc.con.pre.is_empty();
                list.push(pc);
            }
            groups.push((list, has_pre));
        }
        Ok(Constraints { groups })
    }

    pub fn check(&self, v: &Version) -> bool {
        self.groups.iter().any(|(list, pre)| list.iter().all(|c| check(v, c, *pre)))
    }
}

fn rewrite_range(i: &str) -> Result<String, String> {
    let r = range_re()?;
    let mut out = i.to_string();
    let mut locs = r.capture_locations();
    let mut pos = 0;
    let mut reps = Vec::new();
    // FindAllStringSubmatch: non-overlapping, and this pattern never matches empty.
    while pos <= i.len() {
        let Some(m) = r.captures_read_at(&mut locs, i, pos) else { break };
        let g = |k: usize| locs.get(k).map(|(a, b)| &i[a..b]).unwrap_or("");
        reps.push((m.as_str().to_string(), format!(">= {}, <= {} ", g(1), g(11))));
        pos = if m.end() > m.start() { m.end() } else { m.end() + 1 };
    }
    for (from, to) in reps {
        out = out.replacen(&from, &to, 1);
    }
    Ok(out)
}

fn parse_constraint(c: &str) -> Result<Constraint, String> {
    if c.is_empty() {
        let con = Version { major: 0, minor: 0, patch: 0, pre: String::new(), metadata: String::new(), original: "0.0.0".into() };
        return Ok(Constraint { op: String::new(), con, dirty: true, minor_dirty: false, patch_dirty: false });
    }
    let caps = constraint_re()?.captures(c).ok_or_else(|| format!("improper constraint: {}", go_quote(c)))?;
    let g = |i: usize| caps.get(i).map(|m| m.as_str()).unwrap_or("");
    let (m3, m4, m5, m6) = (g(3), g(4), g(5), g(6));
    let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
    let ver = if is_x(m3) || m3.is_empty() {
        dirty = true;
        format!("0.0.0{m6}")
    } else if is_x(m4.trim_start_matches('.')) || m4.is_empty() {
        minor_dirty = true;
        dirty = true;
        format!("{m3}.0.0{m6}")
    } else if is_x(m5.trim_start_matches('.')) || m5.is_empty() {
        dirty = true;
        patch_dirty = true;
        format!("{m3}{m4}.0{m6}")
    } else {
        g(2).to_string()
    };
    let con = Version::parse(&ver).map_err(|_| "constraint parser error".to_string())?;
    Ok(Constraint { op: g(1).to_string(), con, dirty, minor_dirty, patch_dirty })
}

fn check(v: &Version, c: &Constraint, include_pre: bool) -> bool {
    if !v.pre.is_empty() && !include_pre {
        return false;
    }
    let cv = &c.con;
    let less = v.compare(cv) == Ordering::Less;
    let tilde = || {
        if less {
            return false;
        }
        if cv.major == 0 && cv.minor == 0 && cv.patch == 0 && !c.minor_dirty && !c.patch_dirty {
            return true;
        }
        if v.major != cv.major {
            return false;
        }
        v.minor == cv.minor || c.minor_dirty
    };
    match c.op.as_str() {
        "" | "=" => {
            if c.dirty {
                tilde()
            } else {
                v.compare(cv) == Ordering::Equal
            }
        }
        "!=" => {
            if c.dirty {
                if cv.major != v.major {
                    return true;
                }
                if cv.minor != v.minor && !c.minor_dirty {
                    return true;
                } else if c.minor_dirty {
                    return false;
                } else if cv.patch != v.patch && !c.patch_dirty {
                    return true;
                } else if c.patch_dirty {
                    if !v.pre.is_empty() || !cv.pre.is_empty() {
                        return compare_prerelease(&v.pre, &cv.pre) != Ordering::Equal;
                    }
                    return false;
                }
            }
            v.compare(cv) != Ordering::Equal
        }
        ">" => {
            if !c.dirty {
                return v.compare(cv) == Ordering::Greater;
            }
            if v.major > cv.major {
                true
            } else if v.major < cv.major || c.minor_dirty {
                false
            } else if c.patch_dirty {
                v.minor > cv.minor
            } else {
                v.compare(cv) == Ordering::Greater
            }
        }
        "<" => less,
        ">=" | "=>" => !less,
        "<=" | "=<" => {
            if !c.dirty {
                return v.compare(cv) != Ordering::Greater;
            }
            !(v.major > cv.major || (v.major == cv.major && v.minor > cv.minor && !c.minor_dirty))
        }
        "~" | "~>" => tilde(),
        "^" => {
            if less {
                return false;
            }
            if cv.major > 0 || c.minor_dirty {
                return v.major == cv.major;
            }
            if v.major > 0 {
                return false;
            }
            if cv.minor > 0 || c.patch_dirty {
                return v.minor == cv.minor;
            }
            if v.minor > 0 {
                return false;
            }
            cv.patch == v.patch
        }
        _ => false,
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

    fn cmp(c: &str, v: &str) -> Result<bool, String> {
        Ok(Constraints::parse(c)?.check(&Version::parse(v)?))
    }

    #[test]
    fn versions_parse_like_masterminds() {
        assert_eq!(Version::parse("v1.2").unwrap().to_go_string(), "1.2.0");
        assert_eq!(Version::parse("1.2.3-beta.1+b5").unwrap().to_go_string(), "1.2.3-beta.1+b5");
        assert_eq!(Version::parse("abc").unwrap_err(), "invalid semantic version");
        assert_eq!(Version::parse("1.2.3-01").unwrap_err(), "version segment starts with 0");
        // Helm: the loose grammar refuses empty parts before validation does.
        assert_eq!(Version::parse("1.2.3-a..b").unwrap_err(), "invalid semantic version");
    }

    #[test]
    fn constraints_check_like_masterminds() {
        assert!(cmp(">=1.20.0-0", "1.25.3").unwrap());
        assert!(cmp("^1.2.3", "1.9.0").unwrap());
        assert!(!cmp("^1.2.3", "2.0.0").unwrap());
        assert!(cmp("~1.2.3", "1.2.9").unwrap());
        assert!(!cmp("~1.2.3", "1.3.0").unwrap());
        assert!(cmp("1.2.x", "1.2.7").unwrap());
        assert!(cmp("1.0 - 2.0", "1.5.0").unwrap());
        assert!(!cmp(">=1.0.0", "1.5.0-beta").unwrap());
        assert!(cmp(">=1.0.0-0", "1.5.0-beta").unwrap());
        assert!(cmp("<1.0 || >=2.0, <3", "2.5.0").unwrap());
        assert!(cmp("^0.2.3", "0.2.9").unwrap());
        assert!(!cmp("^0.2.3", "0.3.0").unwrap());
        assert_eq!(cmp("foo", "1.0.0").unwrap_err(), "improper constraint: \"foo\"");
    }

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
