//! The pipeline file: its model, where its fields are, `${VAR}` expansion,
//! and loading with checks. `Pipeline` is the checked result.

pub mod load;
pub mod locate;
pub mod model;
pub mod vars;

pub use load::{load, parse, parse_duration, parse_memory, Pipeline};
pub use vars::Vars;

use std::path::PathBuf;

/// Where a plugin comes from: `builtin:NAME`, a `.wasm` path or `oci://REF`,
/// each optionally pinned with `@sha256:<hex>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginRef {
    Builtin { name: String, pin: Option<String> },
    File { path: PathBuf, pin: Option<String> },
    Oci { reference: String, pin: Option<String> },
}

impl PluginRef {
    pub fn parse(text: &str) -> Result<PluginRef, String> {
        let text = text.trim();
        let (body, pin) = match text.rsplit_once("@sha256:") {
            Some((body, hex)) => {
                if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(format!("`sha256:{hex}` is not a sha256 digest (64 hex digits)"));
                }
                (body, Some(format!("sha256:{}", hex.to_ascii_lowercase())))
            }
            None => (text, None),
        };
        if let Some(name) = body.strip_prefix("builtin:") {
            if name.is_empty() {
                return Err("`builtin:` needs a name, e.g. `builtin:rollback`".into());
            }
            return Ok(PluginRef::Builtin { name: name.to_string(), pin });
        }
        if let Some(reference) = body.strip_prefix("oci://") {
            return Ok(PluginRef::Oci { reference: reference.to_string(), pin });
        }
        if body.ends_with(".wasm") {
            return Ok(PluginRef::File { path: PathBuf::from(body), pin });
        }
        Err(format!("`{text}` is not a plugin reference"))
    }

    pub fn pin(&self) -> Option<&str> {
        match self {
            PluginRef::Builtin { pin, .. } | PluginRef::File { pin, .. } | PluginRef::Oci { pin, .. } => pin.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_references_parse_with_optional_pins() {
        assert_eq!(PluginRef::parse("builtin:rollback"), Ok(PluginRef::Builtin { name: "rollback".into(), pin: None }));
        let hex = "ab".repeat(32);
        assert_eq!(
            PluginRef::parse(&format!("./p/x.wasm@sha256:{hex}")),
            Ok(PluginRef::File { path: "./p/x.wasm".into(), pin: Some(format!("sha256:{hex}")) })
        );
        assert!(PluginRef::parse("./p/x.wasm@sha256:abc").is_err());
        assert!(PluginRef::parse("rollback").is_err());
        assert!(matches!(PluginRef::parse("oci://ghcr.io/x/y:1"), Ok(PluginRef::Oci { .. })));
    }
}
