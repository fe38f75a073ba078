//! apk's database, `/lib/apk/db/installed`: one paragraph per package of
//! `X:value` lines (P name, V version, A arch, o origin, L license). It
//! must not read other files.

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApkPackage {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// The origin (source) package.
    pub origin: Option<String>,
    pub license: Option<String>,
}

pub fn wants(path: &str) -> bool {
    path == "/lib/apk/db/installed" || path == "/usr/lib/apk/db/installed"
}

pub fn parse(text: &str) -> Vec<ApkPackage> {
    let mut out = Vec::new();
    for paragraph in text.split("\n\n") {
        let (mut name, mut version, mut arch, mut origin, mut license) = (None, None, String::new(), None, None);
        for line in paragraph.lines() {
            let Some((k, v)) = line.split_once(':') else { continue };
            match k {
                "P" => name = Some(v.to_string()),
                "V" => version = Some(v.to_string()),
                "A" => arch = v.to_string(),
                "o" => origin = Some(v.to_string()),
                "L" => license = Some(v.to_string()).filter(|l| !l.is_empty()),
                _ => {}
            }
        }
        if let (Some(name), Some(version)) = (name, version) {
            out.push(ApkPackage { name, version, arch, origin, license });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_become_packages() {
        let db = "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n\nP:libcrypto3\nV:3.3.2-r0\nA:x86_64\nL:Apache-2.0\no:openssl\n\n";
        let p = parse(db);
        assert_eq!(p.len(), 2);
        assert_eq!(p[1], ApkPackage { name: "libcrypto3".into(), version: "3.3.2-r0".into(), arch: "x86_64".into(), origin: Some("openssl".into()), license: Some("Apache-2.0".into()) });
    }
}
