//! CVSS v4.0 scoring against published scores: real advisories' vectors
//! with the base scores their publishers gave (each cited), every
//! MacroVector against FIRST's reference calculator (tests/data/cvss), the
//! edges (no impact, the maximum, the minimum), threat and environmental
//! metrics, every malformed form a vector can take, and an OSV `CVSS_V4`
//! severity setting a finding's score and severity through the store.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gantry_scan::cvss::v4::{self, Nomenclature, Rating, V4Error};
use gantry_scan::cvss::{self, CvssVersion};
use gantry_scan::matcher::match_packages;
use gantry_scan::model::{Ecosystem, Package, Severity};
use gantry_scan::store::{self, Store};
use gantry_scan::osv;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cvss")
}

fn score(vector: &str) -> v4::V4Score {
    v4::parse(vector).unwrap_or_else(|e| panic!("{vector}: {e}")).score()
}

#[test]
fn v4_scores_match_the_scores_published_for_real_advisories() {
    for (vector, published, rating) in [
        // CVE-2024-9474 (PAN-OS privilege escalation), Palo Alto Networks' CNA record, first scenario: 6.9 MEDIUM.
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:N/VI:H/VA:N/SC:N/SI:N/SA:N/AU:N/R:U/V:C/RE:H/U:Red", 69, Rating::Medium),
        // CVE-2024-9474, the same record's second scenario (management interface restricted): 5.9 MEDIUM.
        ("CVSS:4.0/AV:N/AC:L/AT:P/PR:H/UI:N/VC:N/VI:H/VA:N/SC:N/SI:N/SA:N/AU:N/R:U/V:C/RE:H/U:Red", 59, Rating::Medium),
        // CVE-2024-3393 (PAN-OS DNS Security DoS), Palo Alto Networks' CNA record, Prisma Access scenario: 7.1 HIGH.
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:L/AU:N/R:U/V:C/RE:M/U:Amber", 71, Rating::High),
        // CVE-2022-41741 (nginx ngx_http_mp4_module), FIRST's "CVSS v4.0 Examples" document: CVSS-B 7.3 High.
        ("CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 73, Rating::High),
        // PYSEC-2026-3997 (vllm), osv.dev's record: the vector written out with every optional metric X.
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N/E:X/CR:X/IR:X/AR:X/MAV:X/MAC:X/MAT:X/MPR:X/MUI:X/MVC:X/MVI:X/MVA:X/MSC:X/MSI:X/MSA:X/S:X/AU:X/R:X/V:X/RE:X/U:X", 87, Rating::High),
    ] {
        let s = score(vector);
        assert_eq!((s.tenths, s.rating, s.nomenclature), (published, rating, Nomenclature::B), "{vector}");
        // Through the version-dispatching entry point too.
        let via = cvss::score(vector).unwrap();
        assert_eq!((via.version, via.base), (CvssVersion::V4_0, Some(f32::from(published) / 10.0)), "{vector}");
    }
}

#[test]
fn v4_scores_match_first_calculator_for_every_macro_vector() {
    let text = std::fs::read_to_string(data().join("v4-first-calculator.tsv")).unwrap();
    let mut macro_vectors = BTreeSet::new();
    let mut forms = BTreeSet::new();
    let mut lines = 0;
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.starts_with('#') && !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 4, "line {}: {line}", n + 1);
        let s = score(f[0]);
        let mv: String = s.macro_vector.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            (format!("{:.1}", s.value()), mv.as_str(), s.nomenclature.to_string()),
            (f[1].to_string(), f[2], f[3].to_string()),
            "line {}: {}",
            n + 1,
            f[0]
        );
        macro_vectors.insert(mv);
        forms.insert(f[3].to_string());
        lines += 1;
    }
    assert_eq!(macro_vectors.len(), 270, "every MacroVector of the specification's table is exercised");
    assert_eq!(forms.len(), 4, "CVSS-B, -BT, -BE and -BTE all appear: {forms:?}");
    assert!(lines >= 270);
}

#[test]
fn v4_edge_vectors_score_zero_ten_and_the_lowest_step() {
    // No impact on either system: 0.0 whatever the exploitability (the specification's exception).
    let none = score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N");
    assert_eq!((none.tenths, none.rating), (0, Rating::None));
    assert_eq!(cvss::score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N").unwrap().severity(), Some(Severity::Negligible));
    // Environmental metrics can take every impact away too.
    let modified_none = score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/MVC:N/MVI:N/MVA:N/MSC:N/MSI:N/MSA:N");
    assert_eq!((modified_none.tenths, modified_none.nomenclature), (0, Nomenclature::BE));
    // The maximum: MacroVector 000000's own vector.
    let max = score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H");
    assert_eq!((max.tenths, max.rating, max.macro_vector), (100, Rating::Critical, [0, 0, 0, 1, 0, 0]));
    let max_safety = score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:A/MSI:S/MSA:S");
    assert_eq!((max_safety.tenths, max_safety.macro_vector, max_safety.nomenclature), (100, [0; 6], Nomenclature::BTE));
    assert_eq!(cvss::score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H").unwrap().severity(), Some(Severity::Critical));
    // The lowest non-zero score: the least severe vector with any impact, unattacked.
    let min = score("CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:N/VI:N/VA:L/SC:N/SI:N/SA:N/E:U");
    assert_eq!((min.tenths, min.rating, min.macro_vector, min.nomenclature), (1, Rating::Low, [2, 1, 2, 2, 2, 1], Nomenclature::BT));
}

#[test]
fn v4_threat_and_environmental_metrics_move_the_score_and_name_it() {
    // CVE-2024-9474's first vector (6.9) under threat and environmental assessments (FIRST's calculator gives each).
    let base = "CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:N/VI:H/VA:N/SC:N/SI:N/SA:N";
    for (extra, tenths, form) in [
        ("", 69, Nomenclature::B),
        ("/E:A", 69, Nomenclature::BT),   // attacked is the default assumption: no change
        ("/E:U", 46, Nomenclature::BT),   // unreported exploitation lowers it
        ("/MAV:L", 67, Nomenclature::BE), // reachable only locally here
        ("/E:P/IR:L/MSI:S", 72, Nomenclature::BTE),
        ("/E:X/CR:X/MAV:X", 69, Nomenclature::B), // Not Defined everywhere: still CVSS-B
        ("/S:P/AU:Y/R:I/V:D/RE:L/U:Green", 69, Nomenclature::B), // supplemental metrics never score
    ] {
        let s = score(&format!("{base}{extra}"));
        assert_eq!((s.tenths, s.nomenclature), (tenths, form), "{base}{extra}");
    }
    assert_eq!(Nomenclature::BTE.to_string(), "CVSS-BTE");
    assert_eq!(Rating::of_tenths(39).to_string(), "Low");
    assert_eq!(Rating::of_tenths(40), Rating::Medium);
    assert_eq!(Rating::of_tenths(89), Rating::High);
    assert_eq!(Rating::of_tenths(90), Rating::Critical);
    let parsed = v4::parse(&format!("{base}/E:U/MAV:L")).unwrap();
    assert_eq!((parsed.get("AV"), parsed.get("MAV"), parsed.get("CR"), parsed.get("NOPE")), (Some("N"), Some("L"), Some("X"), None));
}

#[test]
fn v4_malformed_vectors_are_rejected_naming_the_metric_and_the_fix() {
    const GOOD: &str = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
    let err = |v: &str| v4::parse(v).expect_err(v);
    let msg = |v: &str| {
        let e = cvss::score(v).expect_err(v);
        assert_eq!(e.vector, v);
        e.to_string()
    };

    // The prefix.
    for v in ["CVSS:4.0", "cvss:4.0/AV:N", "CVSS:4.0AV:N/AC:L", "AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"] {
        assert_eq!(err(v), V4Error::Prefix, "{v}");
    }
    assert!(msg("CVSS:4.0").contains("CVSS:4.0/AV:_/AC:_"), "the fix shows the shape");
    assert!(msg("CVSS:4.1/AV:N").contains("unknown CVSS version"));

    // Parts that are not METRIC:VALUE: empty (a double or trailing slash), no colon, empty name or value, two colons.
    for (v, position) in [
        (format!("{GOOD}/"), 13),
        (GOOD.replace("/AC:L", "//AC:L"), 3),
        (GOOD.replace("AT:N", "ATN"), 4),
        (GOOD.replace("PR:N", ":N"), 5),
        (GOOD.replace("PR:N", "PR:"), 5),
        (GOOD.replace("PR:N", "PR::N"), 5),
        ("CVSS:4.0/".to_string(), 2),
    ] {
        assert!(matches!(err(&v), V4Error::Malformed { position: p, .. } if p == position), "{v}: {:?}", err(&v));
    }
    assert!(msg(&format!("{GOOD}/")).contains("no slash at the end"));

    // Unknown metrics (names are case-sensitive; v3's metrics are not v4's).
    for (v, metric) in [(GOOD.replace("AV:N", "av:N"), "av"), (format!("{GOOD}/XX:Y"), "XX"), (GOOD.replace("/VC:H", "/C:H"), "C")] {
        match err(&v) {
            V4Error::UnknownMetric { metric: m, known } => {
                assert_eq!(m, metric, "{v}");
                assert!(known.starts_with("AV, AC, AT") && known.ends_with("RE, U"), "{known}");
            }
            other => panic!("{v}: {other:?}"),
        }
    }
    // v3's S (Scope) is v4's Safety, whose values differ.
    assert!(matches!(err(&format!("{GOOD}/S:U")), V4Error::UnknownValue { metric: "S", .. }));
    assert!(msg(&format!("{GOOD}/XX:Y")).contains("\"XX\" is not a CVSS v4.0 metric; the metrics are AV, AC,"));

    // Unknown values: X is not allowed for a base metric, values are case-sensitive, U's words are capitalised.
    for (v, metric, allowed) in [
        (GOOD.replace("AV:N", "AV:X"), "AV", "N, A, L, P"),
        (GOOD.replace("UI:N", "UI:R"), "UI", "N, P, A"),
        (GOOD.replace("VC:H", "VC:h"), "VC", "H, L, N"),
        (GOOD.replace("SI:N", "SI:S"), "SI", "H, L, N"),
        (format!("{GOOD}/E:Q"), "E", "X, A, P, U"),
        (format!("{GOOD}/MSC:S"), "MSC", "X, H, L, N"),
        (format!("{GOOD}/U:red"), "U", "X, Clear, Green, Amber, Red"),
    ] {
        match err(&v) {
            V4Error::UnknownValue { metric: m, allowed: a, .. } => assert_eq!((m, a.as_str()), (metric, allowed), "{v}"),
            other => panic!("{v}: {other:?}"),
        }
    }
    assert_eq!(
        err(&GOOD.replace("AV:N", "AV:X")).to_string(),
        "AV:X is not a value of AV (Attack Vector); use one of N, A, L, P"
    );

    // Duplicates, base or optional, even with the same value.
    for (v, metric) in [
        (GOOD.replace("/AC:L", "/AV:N/AC:L"), "AV"),
        (format!("{GOOD}/E:A/E:A"), "E"),
        (format!("{GOOD}/CR:H/CR:L"), "CR"),
    ] {
        assert!(matches!(err(&v), V4Error::Duplicate { metric: m, .. } if m == metric), "{v}: {:?}", err(&v));
    }
    assert!(msg(&format!("{GOOD}/E:A/E:A")).contains("appears twice; keep one E:VALUE"));

    // Order: Table 23's, base and optional alike.
    for (v, metric, after) in [
        ("CVSS:4.0/AC:L/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "AV", "AC"),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SA:N/SC:N/SI:N", "SC", "SA"),
        (&*format!("{GOOD}/CR:H/E:A"), "E", "CR"),
        (&*format!("{GOOD}/AU:Y/MAV:L"), "MAV", "AU"),
        (&*format!("{GOOD}/U:Red/S:P"), "S", "U"),
    ] {
        assert!(matches!(err(v), V4Error::Order { metric: m, after: a, .. } if m == metric && a == after), "{v}: {:?}", err(v));
    }
    assert!(msg(&format!("{GOOD}/CR:H/E:A")).contains("move E before CR"));

    // Each missing base metric is named, with the place it goes.
    let parts: Vec<&str> = GOOD.trim_start_matches("CVSS:4.0/").split('/').collect();
    for (i, missing) in parts.iter().enumerate() {
        let kept: Vec<&str> = parts.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, p)| *p).collect();
        let v = format!("CVSS:4.0/{}", kept.join("/"));
        let key = missing.split(':').next().unwrap();
        assert!(matches!(err(&v), V4Error::Missing { metric, .. } if metric == key), "{v}: {:?}", err(&v));
    }
    let m = msg("CVSS:4.0/AV:N/AC:L/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N");
    assert!(m.contains("the base metric AT (Attack Requirements) is missing") && m.contains("add AT:N (or its right value) after AC"), "{m}");
    assert!(matches!(err("CVSS:4.0/E:A"), V4Error::Missing { metric: "AV", .. }));
}

#[test]
fn osv_cvss_v4_severity_sets_the_finding_score_and_severity() {
    let dir = tempfile::tempdir().unwrap();
    let summary = store::import(dir.path(), &[&data().join("osv")]).unwrap();
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    let store = Store::open(summary.path.parent().unwrap()).unwrap();
    let vllm = |version: &str| Package {
        name: "vllm".into(),
        version: version.into(),
        ecosystem: Ecosystem::PyPI,
        purl: format!("pkg:pypi/vllm@{version}"),
        layer: None,
        path: None,
        source: None,
        licenses: vec![],
    };
    let found = match_packages(&store, &[vllm("0.27.0")]).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let v = &found[0];
    assert_eq!((v.id.as_str(), v.fixed_version.as_deref()), ("PYSEC-2026-3997", Some("0.28.0")));
    assert_eq!((v.cvss_score, v.severity), (Some(8.7), Severity::High), "the v4 vector's own score and its band");
    assert!(v.cvss_vector.as_deref().unwrap().starts_with("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/"));
    assert!(match_packages(&store, &[vllm("0.28.0")]).unwrap().is_empty());

    // The rating rules around it: a v4 score beats the advisory's own word; a v3 vector, when
    // the advisory has one too, still comes first; a vector that does not parse is skipped.
    let text = std::fs::read_to_string(data().join("osv/PYSEC-2026-3997.json")).unwrap();
    let mut a = osv::parse("PYSEC-2026-3997.json", text.as_bytes()).unwrap();
    a.database_specific = Some(serde_json::json!({ "severity": "LOW" }));
    let r = store::rate(&a, &a.affected[0]);
    assert_eq!((r.score, r.severity), (Some(8.7), Severity::High));
    a.severity.push(osv::SeverityScore { kind: "CVSS_V3".into(), score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H".into() });
    let r = store::rate(&a, &a.affected[0]);
    assert_eq!((r.score, r.severity), (Some(7.5), Severity::High));
    assert!(r.vector.unwrap().starts_with("CVSS:3.1/"));
    a.severity = vec![osv::SeverityScore { kind: "CVSS_V4".into(), score: "CVSS:4.0/AV:N/AC:L".into() }];
    let r = store::rate(&a, &a.affected[0]);
    assert_eq!((r.score, r.severity, r.vector), (None, Severity::Low, None), "falls back to the advisory's own severity");
}
