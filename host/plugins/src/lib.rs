//! The built-in plugins, compiled for wasm32-wasip2 by this crate's build
//! script and embedded, so that the `gantry` binary is one file; and the
//! plugin SDK's sources, for `gantry plugin new`.
//!
//! Nothing here runs a plugin: the runtime loads these bytes like any other.

/// One built-in plugin: `builtin:<name>`.
#[derive(Debug)]
pub struct Builtin {
    pub name: &'static str,
    pub description: &'static str,
    /// Capabilities granted without a `grants:` line in the pipeline.
    pub grants: &'static [&'static str],
    /// Runs once for the whole pipeline (not per target) unless the stage
    /// says `once: false`: `build` makes one image for every target.
    pub once: bool,
    /// The component.
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));
include!(concat!(env!("OUT_DIR"), "/sdk.rs"));

/// Every built-in, by name.
pub fn builtins() -> &'static [Builtin] {
    BUILTINS
}

/// `builtin:<name>` without the prefix.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The SDK crate's files (`Cargo.toml`, `src/*.rs`, `wit/*.wit`), relative to the crate.
pub fn sdk_files() -> &'static [(&'static str, &'static str)] {
    SDK_FILES
}
