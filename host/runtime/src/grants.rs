//! Capabilities, and what a component asks for.
//!
//! A component's imports are its requests: `gantry:deploy/helm` means "let me
//! run Helm". This module classifies every import, and `check` compares the
//! requested capabilities with what the stage grants — before anything runs.
//! Plain WASI (cli, io, clocks, random, filesystem, sockets) is part of the
//! sandbox, not a capability: it is linked with no directories, no
//! environment and no network, so a toolchain that always imports it works.
//! Anything else (wasi:http, unknown packages) is refused.

use std::fmt;

/// A capability interface of `gantry:deploy` that a stage can be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    Log,
    Clock,
    Run,
    ClusterRead,
    ClusterWrite,
    Helm,
    Registry,
    Builder,
    Scanner,
    HttpProbe,
    Metrics,
}

impl Capability {
    pub const ALL: [Capability; 11] = [
        Capability::Log,
        Capability::Clock,
        Capability::Run,
        Capability::ClusterRead,
        Capability::ClusterWrite,
        Capability::Helm,
        Capability::Registry,
        Capability::Builder,
        Capability::Scanner,
        Capability::HttpProbe,
        Capability::Metrics,
    ];

    /// The interface name, as written in WIT and in `grants:`.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Clock => "clock",
            Capability::Run => "run",
            Capability::ClusterRead => "cluster-read",
            Capability::ClusterWrite => "cluster-write",
            Capability::Helm => "helm",
            Capability::Registry => "registry",
            Capability::Builder => "builder",
            Capability::Scanner => "scanner",
            Capability::HttpProbe => "http-probe",
            Capability::Metrics => "metrics",
        }
    }

    pub fn from_name(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == name)
    }

    /// `log`, `clock` and `run` are granted to every plugin.
    pub fn always_granted(self) -> bool {
        matches!(self, Capability::Log | Capability::Clock | Capability::Run)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one import of a component is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Import {
    /// A gantry capability interface.
    Capability(Capability),
    /// A gantry interface that only holds types.
    Types(String),
    /// Plain WASI, sandboxed by the host.
    Wasi(String),
    /// Something the host does not provide.
    Foreign(String),
}

/// Interfaces of `gantry:deploy` that hold only types.
const TYPE_INTERFACES: [&str; 5] = ["types", "scan-types", "stage-types", "health-types", "analysis-types"];

/// WASI packages linked into the sandbox.
const SANDBOXED_WASI: [&str; 6] = ["cli", "io", "clocks", "random", "filesystem", "sockets"];

/// Classify one import name such as `gantry:deploy/helm@0.1.0`.
pub fn classify(import: &str) -> Import {
    let unversioned = import.split('@').next().unwrap_or(import);
    if let Some(iface) = unversioned.strip_prefix("gantry:deploy/") {
        if let Some(cap) = Capability::from_name(iface) {
            return Import::Capability(cap);
        }
        if TYPE_INTERFACES.contains(&iface) {
            return Import::Types(iface.to_string());
        }
        return Import::Foreign(import.to_string());
    }
    if let Some(rest) = unversioned.strip_prefix("wasi:") {
        let package = rest.split('/').next().unwrap_or(rest);
        if SANDBOXED_WASI.contains(&package) {
            return Import::Wasi(import.to_string());
        }
    }
    Import::Foreign(import.to_string())
}

/// Why a component may not run in a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Capabilities imported but not granted.
    pub ungranted: Vec<Capability>,
    /// Imports the host does not provide at all.
    pub foreign: Vec<String>,
}

/// Compare a component's imports with a stage's grants.
pub fn check(imports: &[Import], grants: &[Capability]) -> Result<(), Refusal> {
    let mut ungranted: Vec<Capability> = imports
        .iter()
        .filter_map(|i| match i {
            Import::Capability(c) if !c.always_granted() && !grants.contains(c) => Some(*c),
            _ => None,
        })
        .collect();
    ungranted.sort();
    ungranted.dedup();
    let foreign: Vec<String> = imports
        .iter()
        .filter_map(|i| match i {
            Import::Foreign(name) => Some(name.clone()),
            _ => None,
        })
        .collect();
    if ungranted.is_empty() && foreign.is_empty() {
        Ok(())
    } else {
        Err(Refusal { ungranted, foreign })
    }
}

/// The capabilities a component asks for, in a stable order.
pub fn requested(imports: &[Import]) -> Vec<Capability> {
    let mut caps: Vec<Capability> = imports
        .iter()
        .filter_map(|i| match i {
            Import::Capability(c) => Some(*c),
            _ => None,
        })
        .collect();
    caps.sort();
    caps.dedup();
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_gantry_wasi_and_foreign_imports() {
        assert_eq!(classify("gantry:deploy/helm@0.1.0"), Import::Capability(Capability::Helm));
        assert_eq!(classify("gantry:deploy/types@0.1.0"), Import::Types("types".into()));
        assert_eq!(classify("wasi:cli/environment@0.2.6"), Import::Wasi("wasi:cli/environment@0.2.6".into()));
        assert_eq!(classify("wasi:sockets/tcp@0.2.0"), Import::Wasi("wasi:sockets/tcp@0.2.0".into()));
        assert_eq!(classify("wasi:http/outgoing-handler@0.2.0"), Import::Foreign("wasi:http/outgoing-handler@0.2.0".into()));
        assert_eq!(classify("gantry:deploy/shell@0.1.0"), Import::Foreign("gantry:deploy/shell@0.1.0".into()));
    }

    #[test]
    fn always_granted_capabilities_need_no_grant() {
        let imports = [classify("gantry:deploy/log@0.1.0"), classify("gantry:deploy/clock@0.1.0"), classify("gantry:deploy/run@0.1.0")];
        assert_eq!(check(&imports, &[]), Ok(()));
    }

    #[test]
    fn ungranted_capability_is_refused_and_named() {
        let imports = [classify("gantry:deploy/helm@0.1.0"), classify("gantry:deploy/cluster-read@0.1.0")];
        let refusal = check(&imports, &[Capability::ClusterRead]).unwrap_err();
        assert_eq!(refusal.ungranted, vec![Capability::Helm]);
        assert!(refusal.foreign.is_empty());
    }

    #[test]
    fn foreign_import_is_refused_even_with_every_grant() {
        let imports = [classify("wasi:http/types@0.2.0")];
        let refusal = check(&imports, &Capability::ALL).unwrap_err();
        assert_eq!(refusal.foreign, vec!["wasi:http/types@0.2.0".to_string()]);
    }
}
