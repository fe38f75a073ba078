//! Matching installed packages against the advisory store: each package's
//! advisories are looked up by (ecosystem, name) — distribution packages
//! also by their source package, which Debian and Alpine advisories are
//! written for — and every range evaluated exactly as the OSV schema's
//! evaluation pseudocode says (introduced / fixed / last_affected / limit,
//! the `versions` list, GIT ranges ignored), in the package's own version
//! order. Withdrawn advisories are skipped, advisories of another
//! distribution release are skipped, and advisories that are aliases of one
//! another become one finding per package, named by its CVE when it has
//! exactly one. The fixed version is the lowest `fixed` above the installed
//! version. This module must not read advisories from anywhere but the
//! store, nor decide whether a finding is acceptable (the policy does).

use std::collections::{BTreeSet, HashMap};

use crate::model::{Ecosystem, Package, Vulnerability};
use crate::osv::{self, Event};
use crate::store::{Entry, Rating, Store, StoreError};
use crate::version::{Scheme, Version, VersionError};

/// Why one advisory was not evaluated for one package (an unparsable version on either side).
#[derive(Debug, Clone, PartialEq)]
pub struct Unmatched {
    pub package: String,
    pub advisory: String,
    pub error: VersionError,
}

/// The findings, and what could not be evaluated.
#[derive(Debug, Default, Clone)]
pub struct Matches {
    pub vulnerabilities: Vec<Vulnerability>,
    pub unmatched: Vec<Unmatched>,
}

/// The findings for `packages`; versions that cannot be compared are logged and skipped
/// ([`match_packages_detailed`] returns them).
pub fn match_packages(store: &Store, packages: &[Package]) -> Result<Vec<Vulnerability>, StoreError> {
    let m = match_packages_detailed(store, packages)?;
    for u in &m.unmatched {
        tracing::warn!(package = %u.package, advisory = %u.advisory, error = %u.error, "advisory not evaluated");
    }
    Ok(m.vulnerabilities)
}

/// An advisory entry that affects the installed version.
#[derive(Debug, Clone)]
pub struct Hit<'a> {
    pub entry: &'a Entry,
    /// The lowest `fixed` above the installed version, parsed and as written.
    pub fixed: Option<(Version, String)>,
}

pub fn match_packages_detailed(store: &Store, packages: &[Package]) -> Result<Matches, StoreError> {
    let mut out = Matches::default();
    for pkg in packages {
        // (name to look up, version to compare): the source package first for distributions.
        let mut lookups: Vec<(&str, &str)> = Vec::new();
        let distro = matches!(pkg.ecosystem, Ecosystem::Debian(_) | Ecosystem::Alpine(_) | Ecosystem::Rpm { .. });
        if distro {
            if let Some((src, src_version)) = &pkg.source {
                lookups.push((src.as_str(), src_version.as_deref().unwrap_or(&pkg.version)));
            }
        }
        if !lookups.iter().any(|(n, _)| *n == pkg.name) {
            lookups.push((pkg.name.as_str(), pkg.version.as_str()));
        }
        let mut entries: Vec<(Entry, &str)> = Vec::new();
        for (name, version) in &lookups {
            for e in store.lookup(&pkg.ecosystem, name)? {
                if !entries.iter().any(|(seen, _)| seen.id == e.id && seen.release == e.release) {
                    entries.push((e, version));
                }
            }
        }
        let release = package_release(&pkg.ecosystem);
        let mut hits = Vec::new();
        for (entry, version) in &entries {
            if entry.withdrawn || !release_matches(entry.release.as_deref(), release.as_deref()) {
                continue;
            }
            match evaluate(&pkg.ecosystem, version, entry) {
                Ok(Some(hit)) => hits.push(hit),
                Ok(None) => {}
                Err(error) => out.unmatched.push(Unmatched { package: format!("{} {}", pkg.name, pkg.version), advisory: entry.id.clone(), error }),
            }
        }
        out.vulnerabilities.extend(merge(pkg, hits));
    }
    Ok(out)
}

/// The package's release in the form store entries carry.
fn package_release(e: &Ecosystem) -> Option<String> {
    match e {
        Ecosystem::Debian(r) => r.as_deref().map(|r| osv::normalise_release("Debian", r)),
        Ecosystem::Alpine(r) => r.as_deref().map(|r| osv::normalise_release("Alpine", r)),
        Ecosystem::Rpm { release, .. } => release.as_deref().map(|r| osv::normalise_release("Rpm", r)),
        _ => None,
    }
}

/// An advisory for a release applies only to that release; an advisory for no release applies to all.
/// A package whose release is unknown is matched only by advisories for no release.
fn release_matches(advisory: Option<&str>, package: Option<&str>) -> bool {
    match (advisory, package) {
        (None, _) => true,
        (Some(a), Some(p)) => a == p,
        (Some(_), None) => false,
    }
}

fn scheme_for(ecosystem: &Ecosystem, semver_range: bool) -> Scheme {
    match (semver_range, ecosystem) {
        (true, Ecosystem::Go) => Scheme::Go,
        (true, _) => Scheme::Semver,
        (false, e) => Scheme::for_ecosystem(e),
    }
}

/// Does `entry` affect `installed`? The OSV evaluation: any range, or the versions list.
pub fn evaluate<'a>(ecosystem: &Ecosystem, installed: &str, entry: &'a Entry) -> Result<Option<Hit<'a>>, VersionError> {
    let mut affected = false;
    let mut fixed: Option<(Version, String)> = None;
    for range in &entry.ranges {
        let scheme = scheme_for(ecosystem, range.semver);
        let v = scheme.parse(installed)?;
        // "0" is the start of time in every ecosystem, even where it is not a valid version.
        let mut events: Vec<(Option<Version>, &Event)> = Vec::with_capacity(range.events.len());
        let mut limits = Vec::new();
        for e in &range.events {
            match e {
                Event::Introduced(s) if s == "0" => events.push((None, e)),
                Event::Limit(s) if s == "*" => limits.push(None),
                Event::Limit(s) => limits.push(Some(scheme.parse(s)?)),
                _ => events.push((Some(scheme.parse(e.version())?), e)),
            }
        }
        events.sort_by(|a, b| a.0.cmp(&b.0));
        for (ev, e) in &events {
            if let (Event::Fixed(s), Some(f)) = (e, ev) {
                if *f > v && fixed.as_ref().is_none_or(|(best, _)| f < best) {
                    fixed = Some((f.clone(), s.clone()));
                }
            }
        }
        let before_limits = limits.is_empty() || limits.iter().any(|l| l.as_ref().is_none_or(|l| v < *l));
        if !before_limits {
            continue;
        }
        let mut vulnerable = false;
        for (ev, e) in &events {
            match (e, ev) {
                (Event::Introduced(_), None) => vulnerable = true,
                (Event::Introduced(_), Some(x)) if v >= *x => vulnerable = true,
                (Event::Fixed(_), Some(x)) if v >= *x => vulnerable = false,
                (Event::LastAffected(_), Some(x)) if v > *x => vulnerable = false,
                _ => {}
            }
        }
        affected |= vulnerable;
    }
    if !affected && !entry.versions.is_empty() {
        let scheme = Scheme::for_ecosystem(ecosystem);
        let v = scheme.parse(installed).ok();
        affected = entry.versions.iter().any(|listed| listed == installed || (v.is_some() && scheme.parse(listed).ok() == v));
    }
    Ok(affected.then_some(Hit { entry, fixed }))
}

/// One finding per group of hits that are aliases of one another.
fn merge(pkg: &Package, hits: Vec<Hit<'_>>) -> Vec<Vulnerability> {
    // Union-find over advisory ids and their aliases.
    let mut parent: Vec<usize> = (0..hits.len()).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, h) in hits.iter().enumerate() {
        for name in std::iter::once(&h.entry.id).chain(&h.entry.aliases) {
            match owner.get(name.as_str()) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    owner.insert(name, i);
                }
            }
        }
    }
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for i in 0..hits.len() {
        let r = root(&mut parent, i);
        match groups.iter_mut().find(|(g, _)| *g == r) {
            Some((_, members)) => members.push(i),
            None => groups.push((r, vec![i])),
        }
    }
    let mut out = Vec::new();
    for (_, members) in groups {
        let names: BTreeSet<&str> = members.iter().flat_map(|&i| std::iter::once(hits[i].entry.id.as_str()).chain(hits[i].entry.aliases.iter().map(String::as_str))).collect();
        let cves: Vec<&str> = names.iter().copied().filter(|n| n.starts_with("CVE-")).collect();
        let id = if let [cve] = cves.as_slice() {
            cve.to_string()
        } else {
            // No single CVE: the matched advisory ids, GitHub's first.
            let mut ids: Vec<&str> = members.iter().map(|&i| hits[i].entry.id.as_str()).collect();
            ids.sort_by_key(|s| (!s.starts_with("GHSA-"), *s));
            ids[0].to_string()
        };
        let aliases: Vec<String> = names.iter().filter(|n| **n != id).map(|n| n.to_string()).collect();
        let best = members.iter().map(|&i| hits[i].entry).max_by(|a, b| rank(&a.rating).partial_cmp(&rank(&b.rating)).unwrap_or(std::cmp::Ordering::Equal)).unwrap_or(hits[members[0]].entry);
        let fixed = members.iter().filter_map(|&i| hits[i].fixed.as_ref()).min_by(|a, b| a.0.cmp(&b.0)).map(|(_, s)| s.clone());
        let summary = if best.summary.is_empty() { members.iter().map(|&i| hits[i].entry.summary.clone()).find(|s| !s.is_empty()).unwrap_or_default() } else { best.summary.clone() };
        out.push(Vulnerability {
            id,
            aliases,
            package_name: pkg.name.clone(),
            package_purl: pkg.purl.clone(),
            installed_version: pkg.version.clone(),
            fixed_version: fixed,
            severity: best.rating.severity,
            cvss_score: best.rating.score,
            cvss_vector: best.rating.vector.clone(),
            summary,
        });
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    out
}

/// Which of several aliased advisories' ratings to report: a CVSS v3 score, then a v4 score, then any severity; higher first.
fn rank(r: &Rating) -> (u8, crate::model::Severity, f32) {
    let class = match (&r.score, &r.vector) {
        (Some(_), Some(v)) if v.starts_with("CVSS:3") => 3,
        (Some(_), Some(v)) if v.starts_with("CVSS:4") => 2,
        _ if r.severity != crate::model::Severity::Unknown => 1,
        _ => 0,
    };
    (class, r.severity, r.score.unwrap_or(0.0))
}
