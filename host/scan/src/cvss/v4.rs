//! CVSS v4.0: a vector string parsed strictly (FIRST's specification,
//! section 7 and Table 23: the `CVSS:4.0/` prefix, every base metric, each
//! metric at most once, in the table's order, only the values it lists)
//! and scored the way the specification scores it: the vector's
//! MacroVector (the six equivalence sets EQ1..EQ6) picks a score from the
//! specification's MacroVector table, and the vector's severity distance
//! from the highest-severity vectors of that MacroVector moves the score
//! part of the way towards the next lower MacroVectors; the mean of those
//! moves is subtracted, the result clamped to 0..10 and rounded half up to
//! one decimal. Threat (`E`) and environmental metrics take part when the
//! vector carries them (CVSS-BT, CVSS-BE, CVSS-BTE); supplemental metrics
//! are parsed and validated but never change the score.
//!
//! The arithmetic is exact: scores are kept in tenths and the distances as
//! integer steps, so the result is the specification's rational value
//! rounded half up, with no floating-point ties to nudge.
//!
//! This module must not choose between several vectors of an advisory, nor
//! map scores onto the report's severities beyond the specification's own
//! qualitative rating; `cvss` and the store do that.

use std::fmt;

/// One metric of Table 23: its abbreviation, its name, its values (for an
/// optional metric the first is `X`, Not Defined).
struct Metric {
    key: &'static str,
    name: &'static str,
    values: &'static [&'static str],
}

const fn m(key: &'static str, name: &'static str, values: &'static [&'static str]) -> Metric {
    Metric { key, name, values }
}

/// Table 23, in its order. The first eleven are the base metrics, which every vector must carry.
const METRICS: [Metric; 32] = [
    m("AV", "Attack Vector", &["N", "A", "L", "P"]),
    m("AC", "Attack Complexity", &["L", "H"]),
    m("AT", "Attack Requirements", &["N", "P"]),
    m("PR", "Privileges Required", &["N", "L", "H"]),
    m("UI", "User Interaction", &["N", "P", "A"]),
    m("VC", "Vulnerable System Confidentiality", &["H", "L", "N"]),
    m("VI", "Vulnerable System Integrity", &["H", "L", "N"]),
    m("VA", "Vulnerable System Availability", &["H", "L", "N"]),
    m("SC", "Subsequent System Confidentiality", &["H", "L", "N"]),
    m("SI", "Subsequent System Integrity", &["H", "L", "N"]),
    m("SA", "Subsequent System Availability", &["H", "L", "N"]),
    m("E", "Exploit Maturity", &["X", "A", "P", "U"]),
    m("CR", "Confidentiality Requirement", &["X", "H", "M", "L"]),
    m("IR", "Integrity Requirement", &["X", "H", "M", "L"]),
    m("AR", "Availability Requirement", &["X", "H", "M", "L"]),
    m("MAV", "Modified Attack Vector", &["X", "N", "A", "L", "P"]),
    m("MAC", "Modified Attack Complexity", &["X", "L", "H"]),
    m("MAT", "Modified Attack Requirements", &["X", "N", "P"]),
    m("MPR", "Modified Privileges Required", &["X", "N", "L", "H"]),
    m("MUI", "Modified User Interaction", &["X", "N", "P", "A"]),
    m("MVC", "Modified Vulnerable System Confidentiality", &["X", "H", "L", "N"]),
    m("MVI", "Modified Vulnerable System Integrity", &["X", "H", "L", "N"]),
    m("MVA", "Modified Vulnerable System Availability", &["X", "H", "L", "N"]),
    m("MSC", "Modified Subsequent System Confidentiality", &["X", "H", "L", "N"]),
    m("MSI", "Modified Subsequent System Integrity", &["X", "S", "H", "L", "N"]),
    m("MSA", "Modified Subsequent System Availability", &["X", "S", "H", "L", "N"]),
    m("S", "Safety", &["X", "N", "P"]),
    m("AU", "Automatable", &["X", "N", "Y"]),
    m("R", "Recovery", &["X", "A", "U", "I"]),
    m("V", "Value Density", &["X", "D", "C"]),
    m("RE", "Vulnerability Response Effort", &["X", "L", "M", "H"]),
    m("U", "Provider Urgency", &["X", "Clear", "Green", "Amber", "Red"]),
];

const BASE: usize = 11;
/// How far after a base metric its modified (`M…`) twin is.
const MODIFIED: usize = 15;
const THREAT: std::ops::Range<usize> = 11..12;
const ENVIRONMENTAL: std::ops::Range<usize> = 12..26;

fn index(key: &str) -> Option<usize> {
    METRICS.iter().position(|m| m.key == key)
}

fn base_list() -> String {
    METRICS[..BASE].iter().map(|m| m.key).collect::<Vec<_>>().join("/")
}

/// Why a string is not a CVSS v4.0 vector. Each names the metric (or the
/// part) at fault and says what a valid vector has there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V4Error {
    #[error("it does not begin with \"CVSS:4.0/\"; a CVSS v4.0 vector is CVSS:4.0/AV:_/AC:_/AT:_/PR:_/UI:_/VC:_/VI:_/VA:_/SC:_/SI:_/SA:_ followed by optional metrics")]
    Prefix,
    #[error("part {position} ({part:?}) is not METRIC:VALUE; write each metric as e.g. AV:N, separated by single slashes, with no slash at the end")]
    Malformed { position: usize, part: String },
    #[error("{metric:?} is not a CVSS v4.0 metric; the metrics are {known} (names are case-sensitive)")]
    UnknownMetric { metric: String, known: String },
    #[error("{metric}:{value} is not a value of {metric} ({name}); use one of {allowed}")]
    UnknownValue { metric: &'static str, name: &'static str, value: String, allowed: String },
    #[error("the metric {metric} ({name}) appears twice; keep one {metric}:VALUE")]
    Duplicate { metric: &'static str, name: &'static str },
    #[error("the metric {metric} comes after {after}, but the specification orders metrics {order}; move {metric} before {after}")]
    Order { metric: &'static str, after: &'static str, order: String },
    #[error("the base metric {metric} ({name}) is missing; every CVSS v4.0 vector carries {base}: add {metric}:{example} (or its right value) after {previous}")]
    Missing { metric: &'static str, name: &'static str, base: String, example: &'static str, previous: &'static str },
}

/// A parsed CVSS v4.0 vector: each metric's value as an index into its Table 23 values
/// (an optional metric that is absent holds 0, `X`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vector {
    values: [u8; 32],
}

/// Which metric groups a score is made of (the specification's nomenclature, section 1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nomenclature {
    /// Base metrics only.
    B,
    /// Base and threat.
    BT,
    /// Base and environmental.
    BE,
    /// Base, threat and environmental.
    BTE,
}

impl fmt::Display for Nomenclature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Nomenclature::B => "CVSS-B",
            Nomenclature::BT => "CVSS-BT",
            Nomenclature::BE => "CVSS-BE",
            Nomenclature::BTE => "CVSS-BTE",
        })
    }
}

/// The qualitative severity rating scale (section 6): None 0.0, Low 0.1-3.9,
/// Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rating {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Rating {
    /// The rating of a score in tenths (0..=100).
    pub fn of_tenths(tenths: u8) -> Rating {
        match tenths {
            0 => Rating::None,
            1..=39 => Rating::Low,
            40..=69 => Rating::Medium,
            70..=89 => Rating::High,
            _ => Rating::Critical,
        }
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rating::None => "None",
            Rating::Low => "Low",
            Rating::Medium => "Medium",
            Rating::High => "High",
            Rating::Critical => "Critical",
        })
    }
}

/// A vector's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V4Score {
    /// The score in tenths, 0..=100 (`73` is 7.3): exact, for comparisons.
    pub tenths: u8,
    pub nomenclature: Nomenclature,
    pub rating: Rating,
    /// EQ1..EQ6, e.g. `[0, 0, 1, 2, 0, 1]` for MacroVector 001201.
    pub macro_vector: [u8; 6],
}

impl V4Score {
    /// The score as a number, e.g. 7.3.
    pub fn value(&self) -> f32 {
        f32::from(self.tenths) / 10.0
    }
}

/// Parses `CVSS:4.0/...` strictly. Errors are reported in this order: a part that is
/// not `METRIC:VALUE`, an unknown metric or value, a duplicate, the order, a missing base metric.
pub fn parse(vector: &str) -> Result<Vector, V4Error> {
    let rest = vector.strip_prefix("CVSS:4.0/").ok_or(V4Error::Prefix)?;
    let mut values = [0u8; 32];
    let mut seen = [false; 32];
    let mut read: Vec<usize> = Vec::new();
    for (n, part) in rest.split('/').enumerate() {
        let position = n + 2; // the prefix is part 1
        let (key, value) = match part.split_once(':') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() && !v.contains(':') => (k, v),
            _ => return Err(V4Error::Malformed { position, part: part.to_string() }),
        };
        let i = index(key).ok_or_else(|| V4Error::UnknownMetric {
            metric: key.to_string(),
            known: METRICS.iter().map(|m| m.key).collect::<Vec<_>>().join(", "),
        })?;
        let metric = &METRICS[i];
        let v = metric.values.iter().position(|x| *x == value).ok_or_else(|| V4Error::UnknownValue {
            metric: metric.key,
            name: metric.name,
            value: value.to_string(),
            allowed: metric.values.join(", "),
        })?;
        if seen[i] {
            return Err(V4Error::Duplicate { metric: metric.key, name: metric.name });
        }
        // Invariant: no metric has more than five values.
        values[i] = v as u8;
        seen[i] = true;
        read.push(i);
    }
    if let Some(w) = read.windows(2).find(|w| w[1] < w[0]) {
        return Err(V4Error::Order {
            metric: METRICS[w[1]].key,
            after: METRICS[w[0]].key,
            order: METRICS.iter().map(|m| m.key).collect::<Vec<_>>().join("/"),
        });
    }
    if let Some(missing) = (0..BASE).find(|&i| !seen[i]) {
        return Err(missing_error(missing));
    }
    Ok(Vector { values })
}

fn missing_error(i: usize) -> V4Error {
    let metric = &METRICS[i];
    V4Error::Missing {
        metric: metric.key,
        name: metric.name,
        base: base_list(),
        example: metric.values[0],
        previous: if i == 0 { "CVSS:4.0/" } else { METRICS[i - 1].key },
    }
}

impl Vector {
    /// The value written for a metric (`X` for an absent optional one); `None` for an unknown metric name.
    pub fn get(&self, key: &str) -> Option<&'static str> {
        index(key).map(|i| METRICS[i].values[usize::from(self.values[i])])
    }

    fn raw(&self, i: usize) -> &'static str {
        METRICS[i].values[usize::from(self.values[i])]
    }

    /// The value the score uses for a metric: the environmental `M…` value when one is
    /// given, else the base value; `E`, `CR`, `IR`, `AR` left Not Defined count as their
    /// highest-severity value (`A`, `H`).
    fn effective(&self, key: &str) -> &'static str {
        let Some(i) = index(key) else { return "X" };
        match (key, self.raw(i)) {
            ("E", "X") => "A",
            ("CR" | "IR" | "AR", "X") => "H",
            // Each base metric's modified twin sits MODIFIED places later in Table 23 (AV → MAV, …).
            (_, own) if i < BASE => match self.raw(i + MODIFIED) {
                "X" => own,
                modified => modified,
            },
            (_, own) => own,
        }
    }

    pub fn nomenclature(&self) -> Nomenclature {
        let threat = THREAT.clone().any(|i| self.values[i] != 0);
        let environmental = ENVIRONMENTAL.clone().any(|i| self.values[i] != 0);
        match (threat, environmental) {
            (false, false) => Nomenclature::B,
            (true, false) => Nomenclature::BT,
            (false, true) => Nomenclature::BE,
            (true, true) => Nomenclature::BTE,
        }
    }

    /// The vector's MacroVector: its level in each of EQ1..EQ6 (Tables 24-29).
    pub fn macro_vector(&self) -> [u8; 6] {
        let e = |k: &str| self.effective(k);
        let (av, pr, ui) = (e("AV"), e("PR"), e("UI"));
        let eq1 = if av == "N" && pr == "N" && ui == "N" {
            0
        } else if (av == "N" || pr == "N" || ui == "N") && av != "P" {
            1
        } else {
            2
        };
        let eq2 = if e("AC") == "L" && e("AT") == "N" { 0 } else { 1 };
        let (vc, vi, va) = (e("VC"), e("VI"), e("VA"));
        let eq3 = if vc == "H" && vi == "H" {
            0
        } else if vc == "H" || vi == "H" || va == "H" {
            1
        } else {
            2
        };
        // MSI:S / MSA:S (Safety) are reachable only through the environmental metrics.
        let eq4 = if e("SI") == "S" || e("SA") == "S" {
            0
        } else if e("SC") == "H" || e("SI") == "H" || e("SA") == "H" {
            1
        } else {
            2
        };
        let eq5 = match e("E") {
            "A" => 0,
            "P" => 1,
            _ => 2,
        };
        let eq6 = if (e("CR") == "H" && vc == "H") || (e("IR") == "H" && vi == "H") || (e("AR") == "H" && va == "H") { 0 } else { 1 };
        [eq1, eq2, eq3, eq4, eq5, eq6]
    }

    /// Scores the vector (section 8.2: the MacroVector's score less the mean proportional distance).
    pub fn score(&self) -> V4Score {
        let mv = self.macro_vector();
        let nomenclature = self.nomenclature();
        let done = |tenths: u8| V4Score { tenths, nomenclature, rating: Rating::of_tenths(tenths), macro_vector: mv };
        if ["VC", "VI", "VA", "SC", "SI", "SA"].iter().all(|k| self.effective(k) == "N") {
            return done(0);
        }
        let [eq1, eq2, eq3, eq4, eq5, eq6] = mv;
        let value = i64::from(lookup(mv).unwrap_or(0));

        // The next lower MacroVector along each EQ; EQ3 and EQ6 move together.
        let lower = |d: [u8; 6]| lookup([eq1 + d[0], eq2 + d[1], eq3 + d[2], eq4 + d[3], eq5 + d[4], eq6 + d[5]]);
        let eq3eq6_lower = match (eq3, eq6) {
            (0, 0) => match (lower([0, 0, 0, 0, 0, 1]), lower([0, 0, 1, 0, 0, 0])) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            (1, 0) => lower([0, 0, 0, 0, 0, 1]),
            _ => lower([0, 0, 1, 0, 0, 0]),
        };
        let lowers = [lower([1, 0, 0, 0, 0, 0]), lower([0, 1, 0, 0, 0, 0]), eq3eq6_lower, lower([0, 0, 0, 1, 0, 0]), lower([0, 0, 0, 0, 1, 0])];

        // The severity distance from the first highest-severity vector of each EQ that
        // the vector does not exceed (the specification's candidates, in its order).
        let lv = |k: &str| level(k, self.effective(k));
        let distance = |metrics: &[&str], candidates: &[&[&str]]| -> i64 {
            let pick = candidates
                .iter()
                .map(|c| metrics.iter().zip(c.iter()).map(|(k, v)| lv(k) - level(k, v)).collect::<Vec<i64>>())
                .find(|d| d.iter().all(|x| *x >= 0))
                .or_else(|| {
                    // No candidate is at or above the vector in every metric: the last one (as FIRST's calculator does).
                    candidates.last().map(|c| metrics.iter().zip(c.iter()).map(|(k, v)| lv(k) - level(k, v)).collect())
                })
                .unwrap_or_default();
            pick.iter().sum()
        };
        let distances = [
            distance(&["AV", "PR", "UI"], EQ1_HIGHEST[usize::from(eq1)]),
            distance(&["AC", "AT"], EQ2_HIGHEST[usize::from(eq2)]),
            distance(&["VC", "VI", "VA", "CR", "IR", "AR"], eq3eq6_highest(eq3, eq6)),
            distance(&["SC", "SI", "SA"], EQ4_HIGHEST[usize::from(eq4)]),
            0, // EQ5 (Exploit Maturity) has one vector per level: never a distance.
        ];
        let depths = [
            EQ1_DEPTH[usize::from(eq1)],
            EQ2_DEPTH[usize::from(eq2)],
            eq3eq6_depth(eq3, eq6),
            EQ4_DEPTH[usize::from(eq4)],
            1,
        ];

        // mean = (Σ (value − lower_i) · distance_i / depth_i) / n over the EQs that have a lower
        // MacroVector. Exactly: every depth divides 2520 (lcm 1..10), so the sum is S / 2520.
        const L: i64 = 2520;
        let mut sum = 0i64;
        let mut n = 0i64;
        for i in 0..5 {
            if let Some(low) = lowers[i] {
                n += 1;
                sum += (value - i64::from(low)) * distances[i] * (L / depths[i]);
            }
        }
        // score (tenths) = value − sum / (L·n), clamped to 0..100, rounded half up.
        let den = L * n.max(1);
        let num = (value * den - sum).clamp(0, 100 * den);
        let tenths = (2 * num + den) / (2 * den);
        // Invariant: num ≤ 100·den, so tenths ≤ 100.
        done(tenths as u8)
    }
}

/// A metric value's severity level (0 = most severe) for the distance computation; an
/// unknown pair (not reachable from a parsed vector) counts as 0.
fn level(metric: &str, value: &str) -> i64 {
    let order: &[&str] = match metric {
        "AV" => &["N", "A", "L", "P"],
        "PR" => &["N", "L", "H"],
        "UI" => &["N", "P", "A"],
        "AC" => &["L", "H"],
        "AT" => &["N", "P"],
        "VC" | "VI" | "VA" => &["H", "L", "N"],
        // SC has no Safety value; its levels start one below SI's and SA's.
        "SC" => &["", "H", "L", "N"],
        "SI" | "SA" => &["S", "H", "L", "N"],
        "CR" | "IR" | "AR" => &["H", "M", "L"],
        _ => &[],
    };
    order.iter().position(|x| *x == value).unwrap_or(0) as i64
}

// The highest-severity vectors of each EQ level (the specification's Tables 24-29, "highest
// severity vector(s)"), as values of the metrics each EQ covers, in the order given there.

/// EQ1: AV/PR/UI.
const EQ1_HIGHEST: [&[&[&str]]; 3] = [
    &[&["N", "N", "N"]],
    &[&["A", "N", "N"], &["N", "L", "N"], &["N", "N", "P"]],
    &[&["P", "N", "N"], &["A", "L", "P"]],
];
/// EQ2: AC/AT.
const EQ2_HIGHEST: [&[&[&str]]; 2] = [&[&["L", "N"]], &[&["H", "N"], &["L", "P"]]];
/// EQ4: SC/SI/SA.
const EQ4_HIGHEST: [&[&[&str]]; 3] = [&[&["H", "S", "S"]], &[&["H", "H", "H"]], &[&["L", "L", "L"]]];

/// EQ3 with EQ6: VC/VI/VA/CR/IR/AR.
fn eq3eq6_highest(eq3: u8, eq6: u8) -> &'static [&'static [&'static str]] {
    match (eq3, eq6) {
        (0, 0) => &[&["H", "H", "H", "H", "H", "H"]],
        (0, _) => &[&["H", "H", "L", "M", "M", "H"], &["H", "H", "H", "M", "M", "M"]],
        (1, 0) => &[&["L", "H", "H", "H", "H", "H"], &["H", "L", "H", "H", "H", "H"]],
        (1, _) => &[
            &["L", "H", "L", "H", "M", "H"],
            &["L", "H", "H", "H", "M", "M"],
            &["H", "L", "H", "M", "H", "M"],
            &["H", "L", "L", "M", "H", "H"],
            &["L", "L", "H", "H", "H", "M"],
        ],
        _ => &[&["L", "L", "L", "H", "H", "H"]],
    }
}

// The depth of each MacroVector along an EQ: the largest severity distance within it, plus one.
const EQ1_DEPTH: [i64; 3] = [1, 4, 5];
const EQ2_DEPTH: [i64; 2] = [1, 2];
const EQ4_DEPTH: [i64; 3] = [6, 5, 4];

fn eq3eq6_depth(eq3: u8, eq6: u8) -> i64 {
    match (eq3, eq6) {
        (0, 0) => 7,
        (0, _) => 6,
        (1, _) => 8,
        _ => 10,
    }
}

/// The MacroVector's score in tenths; `None` for a MacroVector that does not exist
/// (a level past the last, or EQ3=2 with EQ6=0).
fn lookup(mv: [u8; 6]) -> Option<u8> {
    let [eq1, eq2, eq3, eq4, eq5, eq6] = mv.map(usize::from);
    if eq1 > 2 || eq2 > 1 || eq3 > 2 || eq4 > 2 || eq5 > 2 || eq6 > 1 {
        return None;
    }
    let eq36 = match (eq3, eq6) {
        (0, 0) => 0,
        (0, 1) => 1,
        (1, 0) => 2,
        (1, 1) => 3,
        (2, 1) => 4,
        _ => return None,
    };
    Some(MACRO_SCORES[(eq1 * 2 + eq2) * 5 + eq36][eq4 * 3 + eq5])
}

/// The specification's MacroVector scores, in tenths. A row per EQ1, EQ2 and (EQ3, EQ6);
/// its nine columns are (EQ4, EQ5) = 00 01 02 10 11 12 20 21 22.
#[rustfmt::skip]
const MACRO_SCORES: [[u8; 9]; 30] = [
    /* EQ1=0 EQ2=0 EQ3=0 EQ6=0 */ [100,  98,  95, 100,  93,  91,  93,  89,  81],
    /* EQ1=0 EQ2=0 EQ3=0 EQ6=1 */ [ 99,  95,  92,  96,  87,  81,  90,  80,  68],
    /* EQ1=0 EQ2=0 EQ3=1 EQ6=0 */ [ 98,  95,  90,  93,  89,  81,  88,  78,  69],
    /* EQ1=0 EQ2=0 EQ3=1 EQ6=1 */ [ 95,  92,  84,  92,  81,  65,  80,  70,  48],
    /* EQ1=0 EQ2=0 EQ3=2 EQ6=1 */ [ 92,  82,  72,  79,  69,  50,  69,  55,  27],
    /* EQ1=0 EQ2=1 EQ3=0 EQ6=0 */ [ 99,  95,  92,  95,  90,  84,  92,  82,  72],
    /* EQ1=0 EQ2=1 EQ3=0 EQ6=1 */ [ 97,  92,  85,  91,  83,  71,  81,  71,  53],
    /* EQ1=0 EQ2=1 EQ3=1 EQ6=0 */ [ 95,  92,  85,  92,  80,  70,  84,  71,  50],
    /* EQ1=0 EQ2=1 EQ3=1 EQ6=1 */ [ 93,  85,  73,  82,  72,  59,  70,  52,  30],
    /* EQ1=0 EQ2=1 EQ3=2 EQ6=1 */ [ 86,  75,  52,  71,  52,  29,  63,  29,  17],
    /* EQ1=1 EQ2=0 EQ3=0 EQ6=0 */ [ 98,  94,  91,  94,  86,  77,  87,  74,  63],
    /* EQ1=1 EQ2=0 EQ3=0 EQ6=1 */ [ 95,  87,  81,  89,  74,  64,  75,  63,  49],
    /* EQ1=1 EQ2=0 EQ3=1 EQ6=0 */ [ 94,  88,  76,  86,  74,  59,  72,  57,  52],
    /* EQ1=1 EQ2=0 EQ3=1 EQ6=1 */ [ 89,  77,  67,  76,  58,  50,  57,  52,  25],
    /* EQ1=1 EQ2=0 EQ3=2 EQ6=1 */ [ 83,  70,  54,  65,  58,  26,  53,  21,  13],
    /* EQ1=1 EQ2=1 EQ3=0 EQ6=0 */ [ 95,  88,  76,  90,  75,  61,  77,  68,  52],
    /* EQ1=1 EQ2=1 EQ3=0 EQ6=1 */ [ 90,  76,  70,  77,  62,  53,  66,  59,  30],
    /* EQ1=1 EQ2=1 EQ3=1 EQ6=0 */ [ 89,  76,  62,  74,  57,  47,  61,  57,  24],
    /* EQ1=1 EQ2=1 EQ3=1 EQ6=1 */ [ 78,  67,  58,  59,  57,  23,  52,  29,  16],
    /* EQ1=1 EQ2=1 EQ3=2 EQ6=1 */ [ 71,  59,  30,  58,  26,  15,  23,  13,   6],
    /* EQ1=2 EQ2=0 EQ3=0 EQ6=0 */ [ 93,  86,  75,  86,  74,  56,  70,  52,  40],
    /* EQ1=2 EQ2=0 EQ3=0 EQ6=1 */ [ 87,  72,  58,  74,  61,  34,  54,  40,  22],
    /* EQ1=2 EQ2=0 EQ3=1 EQ6=0 */ [ 85,  74,  62,  72,  55,  46,  53,  34,  19],
    /* EQ1=2 EQ2=0 EQ3=1 EQ6=1 */ [ 75,  55,  51,  57,  41,  19,  36,  19,   8],
    /* EQ1=2 EQ2=0 EQ3=2 EQ6=1 */ [ 64,  51,  20,  47,  21,  11,  24,   9,   4],
    /* EQ1=2 EQ2=1 EQ3=0 EQ6=0 */ [ 88,  73,  60,  73,  59,  41,  54,  45,  20],
    /* EQ1=2 EQ2=1 EQ3=0 EQ6=1 */ [ 75,  53,  50,  55,  40,  20,  43,  22,  11],
    /* EQ1=2 EQ2=1 EQ3=1 EQ6=0 */ [ 75,  58,  40,  61,  48,  20,  46,  17,   8],
    /* EQ1=2 EQ2=1 EQ3=1 EQ6=1 */ [ 55,  45,  21,  51,  18,   9,  18,   7,   2],
    /* EQ1=2 EQ2=1 EQ3=2 EQ6=1 */ [ 53,  24,  14,  24,  12,   5,  10,   3,   1],
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_existing_macro_vector_has_a_score_and_no_other_does() {
        let mut n = 0;
        for i in 0..3u16.pow(6) {
            let mv = [0, 1, 2, 3, 4, 5].map(|p| ((i / 3u16.pow(p)) % 3) as u8);
            let exists = mv[1] < 2 && mv[5] < 2 && !(mv[2] == 2 && mv[5] == 0);
            assert_eq!(lookup(mv).is_some(), exists, "{mv:?}");
            n += usize::from(exists);
        }
        assert_eq!(n, 270);
    }

    #[test]
    fn distances_use_the_level_orders() {
        assert_eq!(level("AV", "P") - level("AV", "N"), 3);
        assert_eq!(level("SC", "H"), 1);
        assert_eq!(level("SI", "S"), 0);
    }
}

