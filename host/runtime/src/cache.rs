//! The on-disk cache of compiled components.
//!
//! Compiling a component takes 70 ms to seconds; loading its compiled form
//! takes well under a millisecond. Entries are keyed by the component's
//! digest, the wasmtime version and the engine's compatibility hash (target,
//! tunables, features), so a changed engine never loads a stale artifact.
//! Writes are atomic (temp file + rename); a corrupt or incompatible entry is
//! recompiled and replaced. Only this module reads the cache directory.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Where compiled components live (`$GANTRY_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/gantry/components`, else `~/.cache/gantry/components`).
pub fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("GANTRY_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("gantry").join("components"))
}

/// How a component was obtained, for benchmarks and `--verbose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cached,
}

pub(crate) struct ComponentCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

impl ComponentCache {
    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>) -> ComponentCache {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let engine_key = format!("wasmtime{}-{:016x}", wasmtime_version(), h.finish());
        ComponentCache { dir, engine_key }
    }

    fn path_for(&self, digest: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut key = Sha256::new();
        key.update(digest.as_bytes());
        key.update(self.engine_key.as_bytes());
        Some(dir.join(format!("{}.cwasm", hex::encode(&key.finalize()[..16]))))
    }

    /// The compiled component for `bytes` (whose digest is `digest`).
    pub(crate) fn load(&self, engine: &Engine, digest: &str, bytes: &[u8]) -> wasmtime::Result<(Component, Origin)> {
        let path = self.path_for(digest);
        if let Some(path) = &path {
            if path.exists() {
                // SAFETY: the file is one this module wrote from a component
                // compiled by an engine with the same compatibility hash; a
                // truncated or foreign file fails wasmtime's header checks and
                // is replaced below.
                match unsafe { Component::deserialize_file(engine, path) } {
                    Ok(c) => return Ok((c, Origin::Cached)),
                    Err(e) => tracing::warn!(path = %path.display(), error = %e, "discarding unusable compiled component"),
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Some(path) = &path {
            if let Err(e) = store(path, &component) {
                tracing::debug!(path = %path.display(), error = %e, "could not cache compiled component");
            }
        }
        Ok((component, Origin::Compiled))
    }
}

fn store(path: &Path, component: &Component) -> wasmtime::Result<()> {
    let dir = path.parent().ok_or_else(|| wasmtime::format_err!("cache path has no parent"))?;
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize()?;
    let tmp = tempfile_in(dir)?;
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn tempfile_in(dir: &Path) -> std::io::Result<PathBuf> {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Ok(dir.join(format!(".tmp-{}-{nonce}", std::process::id())))
}

fn wasmtime_version() -> &'static str {
    // The exact pin in Cargo.toml; bumping wasmtime changes this key.
    "48.0.8"
}
