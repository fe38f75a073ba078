//! Image references as Docker and containerd read them: the grammar of
//! `[domain/]path[:tag][@digest]` and its normalisation (`docker.io` and
//! `library/` filled in, the registry host told apart by `.`, `:`,
//! `localhost` or upper case), with Docker's error messages. It owns no
//! network access and no knowledge of any registry's API.

use std::fmt;

/// The registry of references without a host.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The old name of the default registry, read as `docker.io`.
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// An image reference, normalised as Docker's `ParseNormalizedNamed` does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The registry host: `docker.io`, `127.0.0.1:5000`, `localhost:5000`, `ghcr.io`.
    pub domain: String,
    /// The repository inside it: `library/nginx`, `acme/api`.
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`
    pub digest: Option<String>,
}

/// Why a string is not an image reference (Docker's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    InvalidFormat,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    NotLowercase(String),
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    #[error("invalid checksum digest format")]
    InvalidDigest,
    #[error("unsupported digest algorithm")]
    UnsupportedDigest,
}

impl Reference {
    /// Parses `text` as Docker does, filling in `docker.io` and `library/`.
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        if text.len() == 64 && text.bytes().all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9')) {
            return Err(ReferenceError::HexName(text.to_string()));
        }
        let (domain, remainder) = split_docker_domain(text);
        let remote_name = remainder.split(':').next().unwrap_or("");
        if remote_name.to_lowercase() != remote_name {
            return Err(ReferenceError::NotLowercase(remote_name.to_string()));
        }
        if !domain_valid(&domain) {
            return Err(ReferenceError::InvalidFormat);
        }
        let (name_tag, digest) = match remainder.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (remainder.as_str(), None),
        };
        let (path, tag) = match name_tag.rsplit_once(':') {
            Some((p, t)) => (p, Some(t)),
            None => (name_tag, None),
        };
        if path.is_empty() || !path.split('/').all(component_valid) {
            return Err(ReferenceError::InvalidFormat);
        }
        if tag.is_some_and(|t| !tag_valid(t)) {
            return Err(ReferenceError::InvalidFormat);
        }
        if let Some(d) = digest {
            digest_valid(d)?;
        }
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        Ok(Reference { domain, path: path.to_string(), tag: tag.map(String::from), digest: digest.map(String::from) })
    }

    /// `domain/path`: the repository's full name.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// What the manifest is fetched by: the digest if any, else the tag, else `latest`.
    pub fn manifest_ref(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }

    /// The imageID a kubelet on containerd reports for this image: `domain/path@sha256:...`.
    pub fn image_id(&self, digest: &str) -> String {
        format!("{}@{digest}", self.name())
    }
}

/// containerd's form: the full name, `:latest` when neither tag nor digest is given.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        match (&self.tag, &self.digest) {
            (None, None) => write!(f, ":latest"),
            (tag, digest) => {
                if let Some(t) = tag {
                    write!(f, ":{t}")?;
                }
                if let Some(d) = digest {
                    write!(f, "@{d}")?;
                }
                Ok(())
            }
        }
    }
}

/// Docker's `splitDockerDomain`: the first component is a registry host when
/// it has a `.` or `:`, is `localhost`, or has upper-case letters.
fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first => (first.to_string(), rest.to_string()),
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

/// `host[:port]` where host is DNS labels joined by `.` or a bracketed IPv6 address.
pub fn domain_valid(domain: &str) -> bool {
    let label_ok = |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !l.starts_with('-') && !l.ends_with('-');
    let (host_ok, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else { return false };
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return false,
            },
        };
        (!v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'), port)
    } else {
        let (host, port) = match domain.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        };
        (host.split('.').all(label_ok), port)
    };
    host_ok && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A path component: `[a-z0-9]+` runs joined by `.`, `_`, `__` or dashes.
fn component_valid(c: &str) -> bool {
    let bytes = c.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[\w][\w.-]{0,127}`
fn tag_valid(t: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = t.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && word(bytes[0]) && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `algorithm:hex`, of which only `sha256` with 64 lower-case hex digits is accepted.
pub fn digest_valid(d: &str) -> Result<(), ReferenceError> {
    let (algorithm, hex) = d.split_once(':').ok_or(ReferenceError::InvalidFormat)?;
    if algorithm.is_empty() || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ReferenceError::InvalidFormat);
    }
    match algorithm {
        "sha256" if hex.len() == 64 && hex.bytes().all(|b| !b.is_ascii_uppercase()) => Ok(()),
        "sha256" => Err(ReferenceError::InvalidDigest),
        "sha384" | "sha512" => Err(ReferenceError::UnsupportedDigest),
        _ => Err(ReferenceError::UnsupportedDigest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        (r.domain, r.path, r.tag, r.digest)
    }

    const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn references_normalise_as_docker_does() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(parsed("nginx"), ("docker.io".into(), "library/nginx".into(), None, None));
        assert_eq!(parsed("nginx:1.27"), ("docker.io".into(), "library/nginx".into(), s("1.27"), None));
        assert_eq!(parsed("acme/api:v1"), ("docker.io".into(), "acme/api".into(), s("v1"), None));
        assert_eq!(parsed("index.docker.io/nginx"), ("docker.io".into(), "library/nginx".into(), None, None));
        assert_eq!(parsed("localhost/app"), ("localhost".into(), "app".into(), None, None));
        assert_eq!(parsed("localhost:5000/app:1"), ("localhost:5000".into(), "app".into(), s("1"), None));
        assert_eq!(parsed("127.0.0.1:5000/team/app"), ("127.0.0.1:5000".into(), "team/app".into(), None, None));
        assert_eq!(parsed("ghcr.io/acme/api:1.0"), ("ghcr.io".into(), "acme/api".into(), s("1.0"), None));
        assert_eq!(parsed("111122223333.dkr.ecr.eu-west-1.amazonaws.com/api:7"), ("111122223333.dkr.ecr.eu-west-1.amazonaws.com".into(), "api".into(), s("7"), None));
        assert_eq!(parsed(&format!("nginx@{DIGEST}")), ("docker.io".into(), "library/nginx".into(), None, s(DIGEST)));
        assert_eq!(parsed(&format!("127.0.0.1:5000/app:1@{DIGEST}")), ("127.0.0.1:5000".into(), "app".into(), s("1"), s(DIGEST)));
        // A first component without `.`, `:` nor `localhost` is a path, not a host.
        assert_eq!(parsed("registry/app"), ("docker.io".into(), "registry/app".into(), None, None));
        // A registry port is not a tag.
        assert_eq!(parsed("foo:5000"), ("docker.io".into(), "library/foo".into(), s("5000"), None));
        assert_eq!(parsed("[::1]:5000/app"), ("[::1]:5000".into(), "app".into(), None, None));
        assert_eq!(parsed("a/b__c/d-e.f---g"), ("docker.io".into(), "a/b__c/d-e.f---g".into(), None, None));
    }

    #[test]
    fn invalid_references_are_refused_with_dockers_messages() {
        let err = |t: &str| Reference::parse(t).unwrap_err();
        assert_eq!(err("Nginx").to_string(), "invalid reference format: repository name (library/Nginx) must be lowercase");
        assert_eq!(err("nginx:"), ReferenceError::InvalidFormat);
        assert_eq!(err("nginx:-1"), ReferenceError::InvalidFormat);
        assert_eq!(err("a//b"), ReferenceError::InvalidFormat);
        assert_eq!(err("-app"), ReferenceError::InvalidFormat);
        assert_eq!(err("app_"), ReferenceError::InvalidFormat);
        assert_eq!(err("a___b"), ReferenceError::InvalidFormat);
        assert_eq!(err("nginx@sha256:abc"), ReferenceError::InvalidFormat);
        assert_eq!(err(&format!("nginx@sha256:{}", "A".repeat(64))), ReferenceError::InvalidDigest);
        assert!(matches!(err(&"e".repeat(64)), ReferenceError::HexName(_)));
        assert_eq!(err(&format!("example.com/{}", "a".repeat(250))), ReferenceError::NameTooLong);
        assert_eq!(err("exa_mple.com:5000/app"), ReferenceError::InvalidFormat);
    }

    #[test]
    fn references_print_and_fetch_as_containerd_does() {
        let r = Reference::parse("nginx").unwrap();
        assert_eq!((r.to_string(), r.manifest_ref()), ("docker.io/library/nginx:latest".into(), "latest"));
        let r = Reference::parse("127.0.0.1:5000/app:1").unwrap();
        assert_eq!((r.to_string(), r.manifest_ref(), r.image_id(DIGEST)), ("127.0.0.1:5000/app:1".into(), "1", format!("127.0.0.1:5000/app@{DIGEST}")));
        let r = Reference::parse(&format!("localhost:5000/app:1@{DIGEST}")).unwrap();
        assert_eq!(r.manifest_ref(), DIGEST, "a digest wins over a tag");
    }
}
