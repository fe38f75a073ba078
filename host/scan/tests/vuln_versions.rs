//! Version order per ecosystem, proven by the reference implementations'
//! own expected orderings (dpkg via APT's list, apk-tools' version.data,
//! rpm's rpmvercmp.at, packaging's sorted VERSIONS, the semver spec's
//! precedence example, golang.org/x/mod/semver's list) and by what each
//! refuses to parse.

use std::cmp::Ordering;
use std::path::Path;

use gantry_scan::version::Scheme;

fn data(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/versions").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.split(" # ").next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

fn ord(r: &str) -> Ordering {
    match r {
        "-1" | "<" => Ordering::Less,
        "0" | "=" => Ordering::Equal,
        "1" | ">" => Ordering::Greater,
        other => panic!("bad expectation {other}"),
    }
}

/// Checks `a op b` and its mirror `b op' a`, so every pair is proven both ways.
fn check_pairs(scheme: Scheme, lines: &[String], infix: bool) -> usize {
    let mut n = 0;
    for line in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f[0] == "!" {
            assert!(scheme.parse(f[1]).is_err(), "{scheme} should refuse {:?}", f[1]);
            continue;
        }
        let (a, b, want) = if infix { (f[0], f[2], ord(f[1])) } else { (f[0], f[1], ord(f[2])) };
        assert_eq!(scheme.compare(a, b).unwrap(), want, "{scheme}: {a} vs {b}");
        assert_eq!(scheme.compare(b, a).unwrap(), want.reverse(), "{scheme}: {b} vs {a}");
        n += 1;
    }
    n
}

#[test]
fn dpkg_orders_as_dpkg_compare_versions_does() {
    let n = check_pairs(Scheme::Dpkg, &data("dpkg.txt"), false);
    assert!(n >= 70, "{n} pairs");
}

#[test]
fn dpkg_refuses_what_dpkg_refuses() {
    for bad in ["", "a:1.0", ":1.0", "1.0-", "1:", "1.0 1", "1.0-a_b", "1.0$", "-1"] {
        assert!(Scheme::Dpkg.parse(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn apk_orders_as_apk_tools_version_data_says() {
    let n = check_pairs(Scheme::Apk, &data("apk.txt"), true);
    assert!(n >= 600, "{n} pairs");
}

#[test]
fn apk_refuses_versions_outside_its_grammar() {
    for bad in ["", "r1", "1.0-r", "1.0_foo", "1.0ab", "1.0-1", "1..2", "1.0a.1", "1.0 "] {
        assert!(Scheme::Apk.parse(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn rpm_orders_as_rpmvercmp_tests_say() {
    let n = check_pairs(Scheme::Rpm, &data("rpm.txt"), false);
    assert!(n >= 90, "{n} pairs");
}

#[test]
fn rpm_refuses_empty_parts_and_bad_epochs() {
    for bad in ["", "x:1.0", "1.0-", "1:2:3", "1.0 -1"] {
        assert!(Scheme::Rpm.parse(bad).is_err(), "{bad:?} should be refused");
    }
}

/// packaging's tests/test_version.py VERSIONS, which "must be in the correct sorting order".
const PEP440_SORTED: &[&str] = &[
    "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
    "1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345",
    "1.0b2-346", "1.0c1.dev456", "1.0c1", "1.0rc2", "1.0c3", "1.0",
    "1.0.post456.dev34", "1.0.post456", "1.1.dev1", "1.2+123abc",
    "1.2+123abc456", "1.2+abc", "1.2+abc123", "1.2+abc123def", "1.2+1234.abc",
    "1.2+123456",
    "1!1.0.dev456", "1!1.0a1", "1!1.0a2.dev456", "1!1.0a12.dev456", "1!1.0a12",
    "1!1.0b1.dev456", "1!1.0b2", "1!1.0b2.post345.dev456", "1!1.0b2.post345",
    "1!1.0b2-346", "1!1.0c1.dev456", "1!1.0c1", "1!1.0rc2", "1!1.0c3", "1!1.0",
    "1!1.0.post456.dev34", "1!1.0.post456", "1!1.1.dev1", "1!1.2+123abc",
    "1!1.2+123abc456", "1!1.2+abc", "1!1.2+abc123", "1!1.2+abc123def",
    "1!1.2+1234.abc", "1!1.2+123456",
];

/// Every pair (i, j) of a sorted list compares as i against j.
fn check_sorted(scheme: Scheme, sorted: &[&str]) -> usize {
    let mut n = 0;
    for (i, a) in sorted.iter().enumerate() {
        for (j, b) in sorted.iter().enumerate() {
            assert_eq!(scheme.compare(a, b).unwrap(), i.cmp(&j), "{scheme}: {a} vs {b}");
            n += 1;
        }
    }
    n
}

#[test]
fn pep440_orders_as_packaging_sorts() {
    assert!(check_sorted(Scheme::Pep440, PEP440_SORTED) > 2000);
    // The PEP's own example and the release-segment padding rule.
    check_sorted(Scheme::Pep440, &["1.dev0", "1.0.dev456", "1.0a1", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1"]);
}

#[test]
fn pep440_normalises_every_spelling_the_pep_allows() {
    for (spelled, normal) in [
        ("1.0", "1.0.0"), ("v1.0", "1.0"), ("V1.0", "1.0"), ("1.0a", "1.0a0"), ("1.0alpha1", "1.0a1"),
        ("1.0-a.1", "1.0a1"), ("1.0_beta_2", "1.0b2"), ("1.0c1", "1.0rc1"), ("1.0pre1", "1.0rc1"),
        ("1.0preview1", "1.0rc1"), ("1.0RC1", "1.0rc1"), ("1.0-1", "1.0.post1"), ("1.0post", "1.0.post0"),
        ("1.0-r4", "1.0.post4"), ("1.0rev4", "1.0.post4"), ("1.0.dev", "1.0.dev0"), ("1.0-dev-1", "1.0.dev1"),
        ("1.0+ubuntu-1", "1.0+ubuntu.1"), ("1.0+UBUNTU_1", "1.0+ubuntu.1"), ("0!1.0", "1.0"), (" 1.0 ", "1.0"),
        ("1.0+01", "1.0+1"),
    ] {
        assert_eq!(Scheme::Pep440.compare(spelled, normal).unwrap(), Ordering::Equal, "{spelled} == {normal}");
    }
    let v = gantry_scan::version::pep440::Version::parse("1!2.0-RC.1.POST.2-dev3+Local.7").unwrap();
    assert_eq!(v.to_string(), "1!2.0rc1.post2.dev3+local.7");
}

#[test]
fn pep440_refuses_legacy_versions() {
    // packaging's INVALID_VERSIONS.
    for bad in ["foo bar", "1.0+a+", "1.0++", "1.0+_foobar", "1.0+foo&asd", "1.0+1+1", "-3.0", "version 4", "beta alpha", "4.0ba3", "seven", "7..34", "1.0bb3", "1.0omega4", "", "1.0+"] {
        assert!(Scheme::Pep440.parse(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn semver_orders_by_the_specs_precedence() {
    // Semantic Versioning 2.0.0, section 11.
    check_sorted(Scheme::Semver, &["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1"]);
    check_sorted(Scheme::Semver, &["0.0.0-0", "0.0.0", "0.0.1", "0.1.0", "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0-x-y-z.--", "1.0.0", "1.2.3-a-b", "1.2.3", "10.0.0"]);
    for (a, b) in [("1.0.0+build.1", "1.0.0+build.2"), ("1.0.0-alpha+001", "1.0.0-alpha"), ("v1.2.3", "1.2.3"), ("=1.2.3", "1.2.3")] {
        assert_eq!(Scheme::Semver.compare(a, b).unwrap(), Ordering::Equal, "build metadata and prefixes: {a} == {b}");
    }
}

#[test]
fn semver_refuses_what_the_spec_forbids() {
    for bad in ["", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-01", "1.2.3-", "1.2.3-a..b", "1.2.3+", "1.2.3+a..b", "1.2.3-a$", "a.b.c", "1.2.3 4"] {
        assert!(Scheme::Semver.parse(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn go_orders_as_x_mod_semver_does() {
    let lines = data("go.txt");
    let mut groups: Vec<Vec<&str>> = Vec::new();
    for line in &lines {
        if let Some(bad) = line.strip_prefix("! ") {
            assert!(Scheme::Go.parse(bad).is_err(), "{bad:?} should be refused");
        } else {
            groups.push(line.split_whitespace().collect());
        }
    }
    let mut n = 0;
    for (i, gi) in groups.iter().enumerate() {
        for (j, gj) in groups.iter().enumerate() {
            for a in gi {
                for b in gj {
                    assert_eq!(Scheme::Go.compare(a, b).unwrap(), i.cmp(&j), "Go: {a} vs {b}");
                    n += 1;
                }
            }
        }
    }
    assert!(n > 400, "{n} pairs");
}

#[test]
fn go_reads_pseudo_versions_incompatible_and_toolchains() {
    let sorted = [
        "v0.0.0-20190101000000-aaaaaaaaaaaa",
        "v0.0.0-20210101000000-abcdef123456",
        "v0.1.0",
        "v0.1.1-0.20220101000000-abcdef123456",
        "v0.1.1",
        "v2.0.0+incompatible",
        "v2.1.0-pre.0.20220101000000-abcdef123456",
        "v2.1.0",
    ];
    check_sorted(Scheme::Go, &sorted);
    // OSV's Go ranges carry no "v".
    assert_eq!(Scheme::Go.compare("0.1.1", "v0.1.1").unwrap(), Ordering::Equal);
    // The standard library: go1.21rc2 < go1.21.0 == 1.21.0 < go1.21.3 < 1.22.0.
    check_sorted(Scheme::Go, &["go1.20", "go1.21rc2", "go1.21.0", "go1.21.3", "1.22.0"]);
    assert_eq!(Scheme::Go.compare("go1.21rc2", "1.21.0-rc.2").unwrap(), Ordering::Equal);
    assert_eq!(Scheme::Go.compare("go1.20", "1.20.0").unwrap(), Ordering::Equal);
    for bad in ["go1.21x1", "go", "gox", "1.2", "v1.2.3.4", "v01.2.3"] {
        assert!(Scheme::Go.parse(bad).is_err(), "{bad:?} should be refused");
    }
}
