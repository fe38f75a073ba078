//! The scan crate's integration tests, one binary: each file is a module.
mod cvss_v4;
mod inventory_alpine;
mod inventory_images;
mod inventory_sbom;
#[cfg(feature = "runtime")]
mod policy;
#[cfg(feature = "runtime")]
mod policy_examples;
mod inventory_secrets;
mod scan_report;
mod vuln_foreign;
mod vuln_match;
mod vuln_versions;
