//! Rust binaries built with cargo-auditable: the `.dep-v0` ELF section
//! holds the dependency tree as zlib-compressed JSON
//! (`{"packages":[{"name","version","source","kind","root"}…]}`). Build-time
//! dependencies (`kind: build`) are not in the binary and are left out. The
//! decompressed JSON is capped (8 MiB). It must not execute anything.

use std::io::Read;

use super::elf;

const MAX_JSON: u64 = 8 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crate {
    pub name: String,
    pub version: String,
    /// `crates.io`, `local`, `git`, a registry's name…
    pub source: String,
    pub root: bool,
}

#[derive(serde::Deserialize)]
struct Audit {
    packages: Vec<AuditPackage>,
}

#[derive(serde::Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    root: bool,
}

/// The crates of `data`, `Ok(None)` without a `.dep-v0` section.
pub fn read(data: &[u8]) -> Result<Option<Vec<Crate>>, String> {
    let Some(section) = elf::section(data, ".dep-v0") else { return Ok(None) };
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(section).take(MAX_JSON).read_to_end(&mut json).map_err(|e| format!(".dep-v0 is not zlib data: {e}"))?;
    let audit: Audit = serde_json::from_slice(&json).map_err(|e| format!(".dep-v0 JSON: {e}"))?;
    Ok(Some(audit.packages.into_iter().filter(|p| p.kind.as_deref() != Some("build")).map(|p| Crate { name: p.name, version: p.version, source: p.source, root: p.root }).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_dependency_tree_is_inflated_and_build_deps_dropped() {
        let json = br#"{"format":1,"packages":[{"name":"app","version":"0.1.0","source":"local","root":true,"dependencies":[1,2]},{"name":"serde","version":"1.0.210","source":"crates.io"},{"name":"cc","version":"1.1.0","source":"crates.io","kind":"build"}]}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json).unwrap();
        let elf = super::elf::tests::elf_with(&[(".dep-v0", &z.finish().unwrap())]);
        let crates = read(&elf).unwrap().unwrap();
        assert_eq!(crates.iter().map(|c| (c.name.as_str(), c.root)).collect::<Vec<_>>(), [("app", true), ("serde", false)]);
        assert!(read(&super::elf::tests::elf_with(&[(".dep-v0", b"nope")])).is_err());
        assert_eq!(read(&super::elf::tests::elf_with(&[])), Ok(None));
    }
}
