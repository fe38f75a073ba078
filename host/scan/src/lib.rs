//! Image scanning: an image's layers read as one filesystem (streamed,
//! whiteouts applied), its packages found in their databases (dpkg, apk,
//! rpm, Python, npm, Go and Rust binaries), credentials found by rule,
//! vulnerabilities matched from OSV advisories in a local store with each
//! ecosystem's own version order, and the report written as a table, JSON,
//! SARIF, CycloneDX or SPDX. A policy (a Wasm component) decides on the
//! report; nothing here decides.

#[cfg(feature = "runtime")]
pub mod backend;
pub mod cvss;
pub mod facts;
pub mod foreign;
pub mod fs;
pub mod inventory;
pub mod layers;
pub mod matcher;
pub mod model;
pub mod osv;
pub mod policy;
pub mod report;
pub mod sbom;
pub mod scan;
pub mod secrets;
pub mod store;
pub mod version;
#[cfg(feature = "runtime")]
pub mod wit;

pub use model::{Ecosystem, ImageFacts, Package, Report, SecretFinding, Severity, Vulnerability};
