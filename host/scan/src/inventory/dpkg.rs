//! dpkg's database: `/var/lib/dpkg/status` (paragraphs of RFC 822-style
//! fields, one per package) and the per-package files of
//! `/var/lib/dpkg/status.d/` that distroless images ship instead. Only
//! installed packages count (`Status: … installed`; status.d files carry no
//! Status and are installed by construction). It must not read other files.

/// One package paragraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgPackage {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// `Source: glibc (2.36-9+deb12u4)`: the source package and its version when it differs from the binary's.
    pub source: Option<(String, Option<String>)>,
}

/// Whether `path` is one of dpkg's databases.
pub fn wants(path: &str) -> bool {
    path == "/var/lib/dpkg/status" || path.strip_prefix("/var/lib/dpkg/status.d/").is_some_and(|f| !f.is_empty() && !f.contains('/') && !f.ends_with(".md5sums"))
}

/// The installed packages of one status file.
pub fn parse(text: &str) -> Vec<DpkgPackage> {
    let mut out = Vec::new();
    for paragraph in text.split("\n\n") {
        let (mut name, mut version, mut arch, mut source, mut status) = (None, None, String::new(), None, None);
        for line in paragraph.lines() {
            if line.starts_with([' ', '\t']) {
                continue; // continuation of a multi-line field (Description, Conffiles)
            }
            let Some((k, v)) = line.split_once(':') else { continue };
            let v = v.trim();
            match k {
                "Package" => name = Some(v.to_string()),
                "Version" => version = Some(v.to_string()),
                "Architecture" => arch = v.to_string(),
                "Source" => source = Some(v.to_string()),
                "Status" => status = Some(v.to_string()),
                _ => {}
            }
        }
        let (Some(name), Some(version)) = (name, version) else { continue };
        if status.is_some_and(|s| s.split_whitespace().nth(2) != Some("installed")) {
            continue;
        }
        let source = source.and_then(|s| {
            let (src, ver) = match s.split_once('(') {
                Some((n, v)) => (n.trim().to_string(), Some(v.trim_end_matches(')').trim().to_string())),
                None => (s.trim().to_string(), None),
            };
            (src != name || ver.is_some()).then_some((src, ver))
        });
        out.push(DpkgPackage { name, version, arch, source });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_installed_packages_with_their_source_are_kept() {
        let status = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\nDescription: GNU C Library\n continuation: not a field\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: bsdutils\nStatus: install ok installed\nArchitecture: amd64\nSource: util-linux (2.38.1-5)\nVersion: 1:2.38.1-5+b1\n\nPackage: dash\nStatus: install ok installed\nSource: dash\nVersion: 0.5.12-2\n";
        let p = parse(status);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0], DpkgPackage { name: "libc6".into(), version: "2.36-9+deb12u4".into(), arch: "amd64".into(), source: Some(("glibc".into(), None)) });
        assert_eq!(p[1].source, Some(("util-linux".into(), Some("2.38.1-5".into()))));
        assert_eq!(p[2].source, None);
        assert!(wants("/var/lib/dpkg/status.d/libssl3") && !wants("/var/lib/dpkg/status.d/libssl3.md5sums") && !wants("/var/lib/dpkg/status-old"));
    }
}
