//! Installed Python distributions: `*.dist-info/METADATA` and
//! `*.egg-info/PKG-INFO` (or an `*.egg-info` file) under a `site-packages`
//! or `dist-packages` directory, read as core-metadata headers (Name,
//! Version, License-Expression, License, license classifiers). It must not
//! read package sources.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonPackage {
    pub name: String,
    pub version: String,
    pub licenses: Vec<String>,
}

pub fn wants(path: &str) -> bool {
    if !(path.contains("/site-packages/") || path.contains("/dist-packages/")) {
        return false;
    }
    let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
    let site = |p: &str| p.ends_with("/site-packages") || p.ends_with("/dist-packages");
    (path.ends_with("/METADATA") && parent.ends_with(".dist-info") && site(parent.rsplit_once('/').map_or("", |(p, _)| p)))
        || (path.ends_with("/PKG-INFO") && parent.ends_with(".egg-info") && site(parent.rsplit_once('/').map_or("", |(p, _)| p)))
        || (path.ends_with(".egg-info") && site(parent))
}

/// The headers up to the first blank line; `None` without a Name and Version.
pub fn parse(text: &str) -> Option<PythonPackage> {
    let (mut name, mut version, mut expression, mut license, mut classifiers) = (None, None, None, None, Vec::new());
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            break;
        }
        let Some((k, v)) = line.split_once(':') else { continue };
        let v = v.trim();
        match k {
            "Name" => name = Some(v.to_string()),
            "Version" => version = Some(v.to_string()),
            "License-Expression" => expression = Some(v.to_string()),
            "License" => {
                // a whole license text may follow on continuation lines: only a one-line name counts
                let continued = lines.peek().is_some_and(|l| l.starts_with([' ', '\t']));
                if !continued && !v.is_empty() && v.len() <= 100 && v != "UNKNOWN" {
                    license = Some(v.to_string());
                }
            }
            "Classifier" => {
                if let Some(l) = v.strip_prefix("License :: ") {
                    let l = l.rsplit(" :: ").next().unwrap_or(l);
                    if l != "OSI Approved" {
                        classifiers.push(l.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    let licenses = match (expression, license) {
        (Some(e), _) => vec![e],
        (None, Some(l)) => vec![l],
        (None, None) => classifiers,
    };
    Some(PythonPackage { name: name?, version: version?, licenses })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_headers_give_name_version_and_license() {
        let m = "Metadata-Version: 2.1\nName: requests\nVersion: 2.32.3\nLicense: Apache-2.0\nClassifier: License :: OSI Approved :: Apache Software License\n\nbody License: not this\n";
        assert_eq!(parse(m).unwrap(), PythonPackage { name: "requests".into(), version: "2.32.3".into(), licenses: vec!["Apache-2.0".into()] });
        let c = "Name: x\nVersion: 1\nLicense: Copyright (c) someone\n long text\nClassifier: License :: OSI Approved :: MIT License\n";
        assert_eq!(parse(c).unwrap().licenses, ["MIT License"]);
        assert!(wants("/usr/lib/python3/dist-packages/requests-2.32.3.dist-info/METADATA"));
        assert!(wants("/usr/local/lib/python3.12/site-packages/six-1.16.0.egg-info/PKG-INFO"));
        assert!(wants("/usr/lib/python3/dist-packages/six-1.16.0.egg-info"));
        assert!(!wants("/usr/local/lib/python3.12/site-packages/pkg/vendored/x.dist-info/METADATA"));
        assert!(!wants("/src/requests-2.32.3.dist-info/METADATA"));
    }
}
