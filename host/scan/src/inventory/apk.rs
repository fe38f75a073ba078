//! apk's database, `/lib/apk/db/installed`: one paragraph per package of
//! `X:value` lines (P name, V version, A arch, o origin, L license, and the
//! package's files: F a directory, each R after it a file or link in that
//! directory). apk-tools 2 and 3 write the same form. It must not read
//! other files, nor decide which files exist: it says what apk recorded.

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApkPackage {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// The origin (source) package.
    pub origin: Option<String>,
    pub license: Option<String>,
    /// The files and links apk installed for it, absolute (`/lib/libcrypto.so.3`), in database order.
    pub files: Vec<String>,
}

impl ApkPackage {
    /// Whether apk recorded `path` (absolute, as the inventory's walk writes it) as this package's.
    pub fn owns(&self, path: &str) -> bool {
        self.files.iter().any(|f| f == path)
    }
}

/// The package that installed `path`, if any.
pub fn owner<'a>(packages: &'a [ApkPackage], path: &str) -> Option<&'a ApkPackage> {
    packages.iter().find(|p| p.owns(path))
}

pub fn wants(path: &str) -> bool {
    path == "/lib/apk/db/installed" || path == "/usr/lib/apk/db/installed"
}

pub fn parse(text: &str) -> Vec<ApkPackage> {
    let mut out = Vec::new();
    for paragraph in text.split("\n\n") {
        let (mut name, mut version, mut arch, mut origin, mut license) = (None, None, String::new(), None, None);
        let (mut dir, mut files) = ("", Vec::new());
        for line in paragraph.lines() {
            let Some((k, v)) = line.split_once(':') else { continue };
            match k {
                "P" => name = Some(v.to_string()),
                "V" => version = Some(v.to_string()),
                "A" => arch = v.to_string(),
                "o" => origin = Some(v.to_string()),
                "L" => license = Some(v.to_string()).filter(|l| !l.is_empty()),
                // `F:` with no value is the root directory.
                "F" => dir = v.trim_matches('/'),
                "R" if dir.is_empty() => files.push(format!("/{v}")),
                "R" => files.push(format!("/{dir}/{v}")),
                _ => {}
            }
        }
        if let (Some(name), Some(version)) = (name, version) {
            out.push(ApkPackage { name, version, arch, origin, license, files });
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
        assert_eq!(p[1], ApkPackage { name: "libcrypto3".into(), version: "3.3.2-r0".into(), arch: "x86_64".into(), origin: Some("openssl".into()), license: Some("Apache-2.0".into()), files: vec![] });
        assert_eq!(p[0].files, ["/lib/ld-musl-x86_64.so.1"]);
    }

    #[test]
    fn files_are_joined_to_the_directory_before_them() {
        let db = "P:a\nV:1-r0\nF:\nR:lib64\nF:usr/lib\nR:x.so\na:0:0:755\nZ:Q1abc=\nR:y.so\nF:etc\n\nP:b\nV:2-r0\nR:top\n";
        let p = parse(db);
        assert_eq!(p[0].files, ["/lib64", "/usr/lib/x.so", "/usr/lib/y.so"]);
        assert_eq!(p[1].files, ["/top"], "a new paragraph starts at the root");
        assert_eq!(owner(&p, "/usr/lib/y.so").map(|p| p.name.as_str()), Some("a"));
        assert!(owner(&p, "/usr/lib").is_none(), "directories are not owned files");
    }
}
