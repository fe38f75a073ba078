//! CVSS base scores from vectors: v4.0 by its MacroVector method (in
//! [`v4`], with the threat and environmental metrics when the vector has
//! them), v3.0 and v3.1 by the specification's formulas (with each
//! version's round-up), v2 by its own, and the qualitative bands
//! (None/Low/Medium/High/Critical) mapped onto [`Severity`]. This module
//! must not pick between an advisory's severities; the store and the
//! matcher do.

use crate::model::Severity;

pub mod v4;

/// A vector that is not a CVSS vector this module can score.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CVSS vector {vector:?} is not valid: {reason}")]
pub struct CvssError {
    pub vector: String,
    pub reason: String,
}

/// Which CVSS a vector is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvssVersion {
    V2,
    V3_0,
    V3_1,
    V4_0,
}

/// A vector's version and, where computable, its base score.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub version: CvssVersion,
    /// The score the vector's metrics give: for v4.0 that is CVSS-B, or CVSS-BT/-BE/-BTE
    /// when the vector carries threat or environmental metrics ([`v4::V4Score::nomenclature`]).
    pub base: Option<f32>,
}

impl Score {
    pub fn severity(&self) -> Option<Severity> {
        self.base.map(|s| band(self.version, s))
    }
}

/// The qualitative rating of a base score. A score of 0.0 ("None") is `Negligible`.
pub fn band(version: CvssVersion, score: f32) -> Severity {
    match version {
        // v2 has no None or Critical band.
        CvssVersion::V2 => match score {
            s if s < 4.0 => Severity::Low,
            s if s < 7.0 => Severity::Medium,
            _ => Severity::High,
        },
        _ => match score {
            s if s <= 0.0 => Severity::Negligible,
            s if s < 4.0 => Severity::Low,
            s if s < 7.0 => Severity::Medium,
            s if s < 9.0 => Severity::High,
            _ => Severity::Critical,
        },
    }
}

/// Parses a vector (`CVSS:4.0/...`, `CVSS:3.1/AV:N/...`, or a bare v2 `AV:N/AC:L/...`) and scores it.
pub fn score(vector: &str) -> Result<Score, CvssError> {
    let err = |why: &str| CvssError { vector: vector.to_string(), reason: why.to_string() };
    let v = vector.trim();
    if let Some(rest) = v.strip_prefix("CVSS:3.1/") {
        return Ok(Score { version: CvssVersion::V3_1, base: Some(v3(rest, true).map_err(|e| err(&e))?) });
    }
    if let Some(rest) = v.strip_prefix("CVSS:3.0/") {
        return Ok(Score { version: CvssVersion::V3_0, base: Some(v3(rest, false).map_err(|e| err(&e))?) });
    }
    if v.starts_with("CVSS:4.0") {
        let parsed = v4::parse(v).map_err(|e| err(&e.to_string()))?;
        return Ok(Score { version: CvssVersion::V4_0, base: Some(parsed.score().value()) });
    }
    if v.starts_with("CVSS:") {
        return Err(err("unknown CVSS version"));
    }
    let rest = v.strip_prefix('(').and_then(|r| r.strip_suffix(')')).unwrap_or(v);
    Ok(Score { version: CvssVersion::V2, base: Some(v2(rest).map_err(|e| err(&e))?) })
}

fn metrics(s: &str) -> Result<Vec<(&str, &str)>, String> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for part in s.split('/') {
        let (k, v) = part.split_once(':').ok_or_else(|| format!("{part:?} is not METRIC:VALUE"))?;
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(format!("the metric {k} appears twice"));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn weight(metrics: &[(&str, &str)], name: &str, table: &[(&str, f64)]) -> Result<f64, String> {
    let value = metrics.iter().find(|(k, _)| *k == name).map(|(_, v)| *v).ok_or_else(|| format!("the base metric {name} is missing"))?;
    table.iter().find(|(k, _)| *k == value).map(|(_, w)| *w).ok_or_else(|| format!("{name}:{value} is not a valid value"))
}

/// CVSS v3.1's Roundup: the smallest one-decimal number not below the input,
/// computed on integers so 4.000000001 does not become 4.1.
fn roundup_31(x: f64) -> f64 {
    let i = (x * 100_000.0).round() as i64;
    if i % 10_000 == 0 {
        i as f64 / 100_000.0
    } else {
        ((i / 10_000) + 1) as f64 / 10.0
    }
}

fn roundup_30(x: f64) -> f64 {
    (x * 10.0).ceil() / 10.0
}

fn v3(s: &str, v31: bool) -> Result<f32, String> {
    let m = metrics(s)?;
    let changed = weight(&m, "S", &[("U", 0.0), ("C", 1.0)])? > 0.0;
    let av = weight(&m, "AV", &[("N", 0.85), ("A", 0.62), ("L", 0.55), ("P", 0.2)])?;
    let ac = weight(&m, "AC", &[("L", 0.77), ("H", 0.44)])?;
    let pr = if changed {
        weight(&m, "PR", &[("N", 0.85), ("L", 0.68), ("H", 0.5)])?
    } else {
        weight(&m, "PR", &[("N", 0.85), ("L", 0.62), ("H", 0.27)])?
    };
    let ui = weight(&m, "UI", &[("N", 0.85), ("R", 0.62)])?;
    let cia = [("H", 0.56), ("L", 0.22), ("N", 0.0)];
    let (c, i, a) = (weight(&m, "C", &cia)?, weight(&m, "I", &cia)?, weight(&m, "A", &cia)?);
    let iss = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
    let impact = if changed { 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15) } else { 6.42 * iss };
    let exploitability = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Ok(0.0);
    }
    let raw = if changed { (1.08 * (impact + exploitability)).min(10.0) } else { (impact + exploitability).min(10.0) };
    let rounded = if v31 { roundup_31(raw) } else { roundup_30(raw) };
    Ok(rounded as f32)
}

fn v2(s: &str) -> Result<f32, String> {
    let m = metrics(s)?;
    let av = weight(&m, "AV", &[("L", 0.395), ("A", 0.646), ("N", 1.0)])?;
    let ac = weight(&m, "AC", &[("H", 0.35), ("M", 0.61), ("L", 0.71)])?;
    let au = weight(&m, "Au", &[("M", 0.45), ("S", 0.56), ("N", 0.704)])?;
    let cia = [("N", 0.0), ("P", 0.275), ("C", 0.660)];
    let (c, i, a) = (weight(&m, "C", &cia)?, weight(&m, "I", &cia)?, weight(&m, "A", &cia)?);
    let impact = 10.41 * (1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a));
    let exploitability = 20.0 * av * ac * au;
    let f = if impact == 0.0 { 0.0 } else { 1.176 };
    let base = ((0.6 * impact) + (0.4 * exploitability) - 1.5) * f;
    Ok(((base * 10.0).round() / 10.0) as f32)
}
