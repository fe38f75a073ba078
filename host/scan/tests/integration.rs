//! The scan crate's integration tests, one binary: each file is a module.
mod inventory_images;
mod inventory_secrets;
mod inventory_sbom;
