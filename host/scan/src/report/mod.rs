//! A scan's report written out: a table for people, the `model::Report`
//! as JSON for programs, SARIF 2.1.0 for code-scanning dashboards, and the
//! SBOMs (CycloneDX, SPDX) from `sbom`. Rendering only: it must not scan,
//! match or decide.

pub mod json;
pub mod sarif;
pub mod table;

use std::str::FromStr;

use crate::inventory::OsRelease;
use crate::model::Report;
use crate::sbom::{self, SbomInput};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Sarif,
    CycloneDx,
    Spdx,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Ok(match s {
            "table" => Format::Table,
            "json" => Format::Json,
            "sarif" => Format::Sarif,
            "cyclonedx" => Format::CycloneDx,
            "spdx" => Format::Spdx,
            other => return Err(format!("`{other}` is not an output format: use table, json, sarif, cyclonedx or spdx")),
        })
    }
}

/// `report` in `format`; `os` for the SBOMs' operating-system component,
/// `created` (RFC 3339 UTC) and `tool_version` for the documents that carry them.
pub fn render(report: &Report, os: Option<&OsRelease>, format: Format, created: &str, tool_version: &str) -> String {
    let sbom_input = || SbomInput { image: &report.image, os, packages: &report.packages, created, tool_version };
    match format {
        Format::Table => table::render(report),
        Format::Json => json::render(report),
        Format::Sarif => pretty(&sarif::render(report, tool_version)),
        Format::CycloneDx => pretty(&sbom::cyclonedx(&sbom_input())),
        Format::Spdx => pretty(&sbom::spdx(&sbom_input())),
    }
}

fn pretty(v: &serde_json::Value) -> String {
    // A serde_json::Value always serializes.
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}
