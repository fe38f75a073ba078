//! npm packages: each `node_modules/NAME/package.json` (and
//! `node_modules/@scope/NAME/package.json`) installed, and the `packages`
//! map of `package-lock.json` lockfiles v2/v3 outside `node_modules`
//! (their entries may not be installed; the inventory prefers installed
//! records for the same package). Nested `package.json` files inside a
//! package (`lib/package.json`) are not packages. It must not run npm.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpmPackage {
    pub name: String,
    pub version: String,
    pub licenses: Vec<String>,
}

/// What a path is to npm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpmFile {
    Manifest,
    Lockfile,
}

pub fn wants(path: &str) -> Option<NpmFile> {
    if let Some(dir) = path.strip_suffix("/package.json") {
        let (parent, name) = dir.rsplit_once('/')?;
        let installed = parent.ends_with("/node_modules") || parent.rsplit_once('/').is_some_and(|(pp, scope)| scope.starts_with('@') && pp.ends_with("/node_modules"));
        return (installed && !name.is_empty() && !name.starts_with('.')).then_some(NpmFile::Manifest);
    }
    (path.ends_with("/package-lock.json") && !path.contains("/node_modules/")).then_some(NpmFile::Lockfile)
}

fn licenses(v: &Value) -> Vec<String> {
    match v.get("license") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Object(o)) => o.get("type").and_then(Value::as_str).map(|s| vec![s.to_string()]).unwrap_or_default(),
        _ => match v.get("licenses") {
            Some(Value::Array(a)) => a.iter().filter_map(|l| l.get("type").and_then(Value::as_str).or(l.as_str()).map(str::to_string)).collect(),
            _ => vec![],
        },
    }
}

/// A package.json with a name and a version.
pub fn parse_manifest(data: &[u8]) -> Result<Option<NpmPackage>, serde_json::Error> {
    let v: Value = serde_json::from_slice(data)?;
    let (Some(name), Some(version)) = (v.get("name").and_then(Value::as_str), v.get("version").and_then(Value::as_str)) else { return Ok(None) };
    Ok(Some(NpmPackage { name: name.to_string(), version: version.to_string(), licenses: licenses(&v) }))
}

/// The packages of a v2/v3 lockfile (links and the root project left out); a v1 lockfile gives none.
pub fn parse_lockfile(data: &[u8]) -> Result<Vec<NpmPackage>, serde_json::Error> {
    let v: Value = serde_json::from_slice(data)?;
    let mut out = Vec::new();
    let Some(Value::Object(packages)) = v.get("packages") else { return Ok(out) };
    for (key, p) in packages {
        let Some(at) = key.rfind("node_modules/") else { continue };
        if p.get("link").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let name = p.get("name").and_then(Value::as_str).unwrap_or(&key[at + "node_modules/".len()..]);
        let Some(version) = p.get("version").and_then(Value::as_str) else { continue };
        out.push(NpmPackage { name: name.to_string(), version: version.to_string(), licenses: licenses(p) });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_manifests_and_lockfile_entries() {
        assert_eq!(wants("/app/node_modules/@babel/core/package.json"), Some(NpmFile::Manifest));
        assert_eq!(wants("/app/node_modules/ms/package.json"), Some(NpmFile::Manifest));
        assert_eq!(wants("/app/node_modules/ms/lib/package.json"), None);
        assert_eq!(wants("/app/package.json"), None);
        assert_eq!(wants("/app/package-lock.json"), Some(NpmFile::Lockfile));
        assert_eq!(wants("/app/node_modules/.package-lock.json"), None);
        let lock = br#"{"lockfileVersion":3,"packages":{"":{"name":"app","version":"1.0.0"},"node_modules/ms":{"version":"2.1.3","license":"MIT"},"node_modules/a/node_modules/@s/b":{"version":"1.0.0"},"node_modules/l":{"resolved":"../l","link":true}}}"#;
        let p = parse_lockfile(lock).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0], NpmPackage { name: "@s/b".into(), version: "1.0.0".into(), licenses: vec![] });
        assert_eq!(parse_manifest(br#"{"name":"x","version":"1","license":{"type":"ISC"}}"#).unwrap().unwrap().licenses, ["ISC"]);
        assert_eq!(parse_manifest(br#"{"type":"module"}"#).unwrap(), None);
    }
}
