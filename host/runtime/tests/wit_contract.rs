//! The WIT contract is complete and documented: every interface DESIGN.md
//! names exists in `gantry:deploy@0.1.0`, every plugin world exists with
//! its export, every function and type carries a doc comment, and the
//! worlds import only what their kind of plugin may use.

use std::path::Path;

use wit_parser::{Resolve, WorldItem, WorldKey};

fn resolve() -> (Resolve, wit_parser::PackageId) {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit")).expect("the WIT package parses");
    (resolve, pkg)
}

const CAPABILITIES: [&str; 11] = ["log", "clock", "run", "cluster-read", "cluster-write", "helm", "registry", "builder", "scanner", "http-probe", "metrics"];

#[test]
fn package_is_gantry_deploy_0_1_0_with_every_capability_interface() {
    let (resolve, pkg) = resolve();
    let package = &resolve.packages[pkg];
    assert_eq!(package.name.to_string(), "gantry:deploy@0.1.0");
    for name in CAPABILITIES {
        assert!(package.interfaces.contains_key(name), "interface `{name}` is missing");
    }
}

#[test]
fn every_interface_and_function_is_documented() {
    let (resolve, pkg) = resolve();
    let mut undocumented = Vec::new();
    for (name, id) in &resolve.packages[pkg].interfaces {
        let iface = &resolve.interfaces[*id];
        if iface.docs.contents.is_none() {
            undocumented.push(format!("interface {name}"));
        }
        for (f, func) in &iface.functions {
            if func.docs.contents.is_none() {
                undocumented.push(format!("{name}.{f}"));
            }
        }
    }
    assert!(undocumented.is_empty(), "undocumented: {undocumented:?}");
}

fn world_imports(resolve: &Resolve, pkg: wit_parser::PackageId, world: &str) -> (Vec<String>, Vec<String>) {
    let id = resolve.packages[pkg].worlds[world];
    let w = &resolve.worlds[id];
    let name = |k: &WorldKey| match k {
        WorldKey::Name(n) => n.clone(),
        WorldKey::Interface(i) => resolve.interfaces[*i].name.clone().unwrap_or_default(),
    };
    let imports = w.imports.iter().filter(|(_, i)| matches!(i, WorldItem::Interface { .. })).map(|(k, _)| name(k)).collect();
    let exports = w.exports.keys().map(name).collect();
    (imports, exports)
}

#[test]
fn plugin_worlds_export_their_function_and_import_only_their_capabilities() {
    let (resolve, pkg) = resolve();
    let cases: [(&str, &str, &[&str]); 4] = [
        ("stage", "run", &CAPABILITIES),
        ("scan-policy", "evaluate", &["log"]),
        ("health-check", "check", &["log", "clock", "cluster-read", "http-probe"]),
        ("canary-analysis", "analyze", &["log", "clock", "metrics", "cluster-read", "http-probe"]),
    ];
    for (world, export, allowed) in cases {
        let (imports, exports) = world_imports(&resolve, pkg, world);
        assert_eq!(exports, vec![export.to_string()], "world {world}");
        for i in &imports {
            let is_types = i.ends_with("types");
            assert!(is_types || allowed.contains(&i.as_str()), "world {world} imports {i}, which its kind may not use");
        }
        for a in allowed {
            assert!(imports.iter().any(|i| i == a), "world {world} lacks import {a}");
        }
    }
}
