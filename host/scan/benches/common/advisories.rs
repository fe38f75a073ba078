//! Generated OSV advisories and a matching inventory for the benchmarks
//! (`match`, `scan`): deterministic, generated here only, never used as test
//! data. It must not be used by tests.

use gantry_scan::model::{Ecosystem, Package};
use gantry_scan::osv::{Advisory, Affected, AffectedPackage, Event, Range, RangeKind, SeverityScore};

pub const ADVISORIES: usize = 50_000;

/// xorshift64*: deterministic, no dependency.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The ecosystems and how many distinct package names each has in the generated database.
pub const ECOSYSTEMS: [(&str, usize); 5] = [("Debian:12", 6000), ("PyPI", 9000), ("npm", 12000), ("Go", 3000), ("crates.io", 2000)];

pub fn name(eco: &str, i: usize) -> String {
    match eco {
        "Debian:12" => format!("srcpkg{i}"),
        "PyPI" => format!("py-package-{i}"),
        "npm" => format!("npm-package-{i}"),
        "Go" => format!("example.com/mod{i}"),
        _ => format!("crate{i}"),
    }
}

pub fn version(eco: &str, major: u64, minor: u64, patch: u64) -> String {
    match eco {
        "Debian:12" => format!("{major}.{minor}.{patch}-{}~deb12u{}", 1 + patch % 3, 1 + minor % 4),
        _ => format!("{major}.{minor}.{patch}"),
    }
}

pub fn advisory(rng: &mut Rng, n: usize) -> Advisory {
    let (eco, names) = ECOSYSTEMS[rng.below(ECOSYSTEMS.len() as u64) as usize];
    // Popular packages get most advisories: the square skews toward low indexes.
    let r = rng.below(names as u64);
    let pkg = name(eco, ((r * r) / names as u64) as usize);
    let major = rng.below(5);
    let mut events = vec![Event::Introduced(if rng.below(3) == 0 { "0".into() } else { version(eco, major, 0, 0) })];
    events.push(Event::Fixed(version(eco, major, 1 + rng.below(9), rng.below(20))));
    if rng.below(4) == 0 {
        events.push(Event::Introduced(version(eco, major + 1, 0, 0)));
        events.push(Event::Fixed(version(eco, major + 1, rng.below(5), 1 + rng.below(9))));
    }
    let id = match eco {
        "Debian:12" => format!("DEBIAN-CVE-2099-{n:05}"),
        "Go" => format!("GO-2099-{n:05}"),
        "crates.io" => format!("RUSTSEC-2099-{n:04}"),
        _ => format!("GHSA-gen{n:05}-xxxx-yyyy"),
    };
    let score = ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"][rng.below(3) as usize];
    Advisory {
        id,
        schema_version: Some("1.6.0".into()),
        modified: Some("2099-01-01T00:00:00Z".into()),
        published: None,
        withdrawn: None,
        aliases: vec![format!("CVE-2099-{n:05}")],
        related: vec![],
        upstream: vec![],
        summary: Some(format!("generated advisory {n} for {pkg}")),
        details: Some("Generated for the benchmark only. ".repeat(8)),
        severity: vec![SeverityScore { kind: "CVSS_V3".into(), score: score.into() }],
        affected: vec![Affected {
            package: Some(AffectedPackage { ecosystem: eco.into(), name: pkg, purl: None }),
            severity: vec![],
            ranges: vec![Range { kind: if matches!(eco, "Go" | "crates.io") { RangeKind::Semver } else { RangeKind::Ecosystem }, repo: None, events, database_specific: None }],
            versions: vec![],
            ecosystem_specific: None,
            database_specific: None,
        }],
        references: vec![],
        database_specific: None,
    }
}

/// ~400 packages: 150 dpkg (with source packages), 120 PyPI, 130 npm, drawn from the popular end.
pub fn inventory(rng: &mut Rng) -> Vec<Package> {
    let mut out = Vec::new();
    let mut add = |eco: Ecosystem, osv: &str, count: usize, names: usize, rng: &mut Rng| {
        for i in 0..count {
            let idx = (i * 7 + rng.below(names as u64 / 20) as usize) % names;
            let v = version(osv, rng.below(5), rng.below(10), rng.below(20));
            let n = name(osv, idx);
            let (bin, source) = if osv == "Debian:12" { (format!("lib{n}"), Some((n.clone(), None))) } else { (n.clone(), None) };
            out.push(Package {
                purl: format!("pkg:generic/{bin}@{v}"),
                name: bin,
                version: v,
                ecosystem: eco.clone(),
                layer: None,
                path: None,
                source,
                licenses: vec![],
            });
        }
    };
    add(Ecosystem::Debian(Some("12".into())), "Debian:12", 150, 6000, rng);
    add(Ecosystem::PyPI, "PyPI", 120, 9000, rng);
    add(Ecosystem::Npm, "npm", 130, 12000, rng);
    out
}

