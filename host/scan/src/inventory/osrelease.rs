//! `/etc/os-release` (or `/usr/lib/os-release`, which it usually links to):
//! the distribution and release the OS packages belong to, for their purl
//! `distro` qualifier and their OSV ecosystem. It must not read package
//! databases.

/// The fields of os-release the inventory uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OsRelease {
    /// `debian`, `alpine`, `rhel`, `rocky`, `almalinux`, `fedora`, `ubuntu`…
    pub id: String,
    pub id_like: Vec<String>,
    /// `12`, `3.20.3`, `9.4`; empty on rolling releases (Debian sid).
    pub version_id: String,
    pub version_codename: String,
    pub pretty_name: String,
}

impl OsRelease {
    /// Parses `KEY=value` lines, values optionally quoted; unknown keys and comments ignored.
    pub fn parse(text: &str) -> OsRelease {
        let mut os = OsRelease::default();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else { continue };
            let v = unquote(v.trim());
            match k.trim() {
                "ID" => os.id = v.to_ascii_lowercase(),
                "ID_LIKE" => os.id_like = v.split_whitespace().map(str::to_string).collect(),
                "VERSION_ID" => os.version_id = v,
                "VERSION_CODENAME" => os.version_codename = v,
                "PRETTY_NAME" => os.pretty_name = v,
                _ => {}
            }
        }
        os
    }

    /// The purl `distro` qualifier: `debian-12`, `3.20.3` for Alpine (as apk purls carry it), `rhel-9.4`.
    pub fn purl_distro(&self) -> String {
        match (self.id.as_str(), self.version_id.is_empty()) {
            (_, true) => self.id.clone(),
            ("alpine", false) => self.version_id.clone(),
            (id, false) => format!("{id}-{}", self.version_id),
        }
    }

    /// The release as the model's ecosystems carry it: `debian:12`, `alpine:v3.20`, `ubuntu:22.04`.
    pub fn release(&self) -> Option<String> {
        if self.version_id.is_empty() {
            return None;
        }
        match self.id.as_str() {
            "alpine" => {
                let mm: Vec<&str> = self.version_id.split('.').take(2).collect();
                Some(format!("alpine:v{}", mm.join(".")))
            }
            "debian" => Some(format!("debian:{}", self.version_id.split('.').next().unwrap_or_default())),
            id => Some(format!("{id}:{}", self.version_id)),
        }
    }

    /// The rpm distribution as OSV names it, and the purl namespace.
    pub fn rpm_distro(&self) -> (&'static str, &'static str) {
        match self.id.as_str() {
            "rhel" => ("Red Hat", "redhat"),
            "rocky" => ("Rocky Linux", "rocky"),
            "almalinux" => ("AlmaLinux", "almalinux"),
            "fedora" => ("Fedora", "fedora"),
            "centos" => ("CentOS", "centos"),
            "amzn" => ("Amazon Linux", "amazon"),
            "ol" => ("Oracle Linux", "oracle"),
            "opensuse-leap" | "opensuse-tumbleweed" | "opensuse" => ("openSUSE", "opensuse"),
            "sles" | "sle-micro" => ("SUSE", "suse"),
            "mariner" | "azurelinux" => ("Azure Linux", "azurelinux"),
            _ if self.id_like.iter().any(|l| l == "rhel" || l == "fedora") => ("Red Hat", "redhat"),
            _ => ("rpm", "rpm"),
        }
    }
}

fn unquote(v: &str) -> String {
    let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\''))).unwrap_or(v);
    v.replace("\\\"", "\"").replace("\\$", "$").replace("\\\\", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_and_distro_qualifiers_follow_the_distribution() {
        let d = OsRelease::parse("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n");
        assert_eq!((d.purl_distro().as_str(), d.release().as_deref()), ("debian-12", Some("debian:12")));
        let a = OsRelease::parse("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n");
        assert_eq!((a.purl_distro().as_str(), a.release().as_deref()), ("3.20.3", Some("alpine:v3.20")));
        let r = OsRelease::parse("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n");
        assert_eq!((r.purl_distro().as_str(), r.rpm_distro()), ("rocky-9.4", ("Rocky Linux", "rocky")));
        let sid = OsRelease::parse("ID=debian\n");
        assert_eq!((sid.purl_distro().as_str(), sid.release()), ("debian", None));
    }
}
