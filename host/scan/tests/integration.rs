//! The scan crate's integration tests, one binary: each file is a module.
mod vuln_foreign;
mod vuln_match;
mod vuln_versions;
