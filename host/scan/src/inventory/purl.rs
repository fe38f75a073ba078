//! Package URLs (purl-spec) for every ecosystem the inventory finds:
//! percent-encoding of each component and the type-specific rules
//! (lower-cased, dash-normalised PyPI names; `%40scope/name` npm names;
//! qualifiers sorted by key). It must not decide names or versions.

/// Percent-encodes everything but unreserved characters and `:` (which the spec leaves bare).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `pkg:TYPE/NAMESPACE/NAME@VERSION?k=v&…`, each part encoded; qualifiers with empty values dropped.
pub fn build(kind: &str, namespace: Option<&str>, name: &str, version: &str, qualifiers: &[(&str, &str)]) -> String {
    let mut out = format!("pkg:{kind}/");
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        for segment in ns.split('/') {
            out.push_str(&encode(segment));
            out.push('/');
        }
    }
    out.push_str(&encode(name));
    if !version.is_empty() {
        out.push('@');
        out.push_str(&encode(version));
    }
    let mut q: Vec<&(&str, &str)> = qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    q.sort_by_key(|(k, _)| *k);
    for (i, (k, v)) in q.into_iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        out.push_str(&encode(v));
    }
    out
}

/// `pkg:npm/%40scope/name@1.0.0` or `pkg:npm/name@1.0.0`.
pub fn npm(name: &str, version: &str) -> String {
    match name.strip_prefix('@').and_then(|n| n.split_once('/')) {
        Some((scope, n)) => build("npm", Some(&format!("@{scope}")), n, version, &[]),
        None => build("npm", None, name, version, &[]),
    }
}

/// `pkg:pypi/NAME@VERSION`, the name lower-cased with `_` and `.` runs as `-` (PEP 503 as purl-spec asks).
pub fn pypi(name: &str, version: &str) -> String {
    build("pypi", None, &pypi_name(name), version, &[])
}

/// A PyPI project name normalised.
pub fn pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if matches!(c, '_' | '.' | '-') { '-' } else { c.to_ascii_lowercase() };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

/// `pkg:golang/github.com/x/y@v1.2.3`: the module path's last segment is the name.
pub fn golang(module: &str, version: &str) -> String {
    match module.rsplit_once('/') {
        Some((ns, name)) => build("golang", Some(ns), name, version, &[]),
        None => build("golang", None, module, version, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_encode_each_part_by_the_spec() {
        assert_eq!(build("deb", Some("debian"), "libc6", "2.36-9+deb12u4", &[("distro", "debian-12"), ("arch", "amd64")]), "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12");
        assert_eq!(build("deb", Some("debian"), "bsdutils", "1:2.38.1-5+b1", &[("arch", "")]), "pkg:deb/debian/bsdutils@1:2.38.1-5%2Bb1");
        assert_eq!(npm("@babel/core", "7.24.0"), "pkg:npm/%40babel/core@7.24.0");
        assert_eq!(npm("left-pad", "1.3.0"), "pkg:npm/left-pad@1.3.0");
        assert_eq!(pypi("Typing_Extensions", "4.12.2"), "pkg:pypi/typing-extensions@4.12.2");
        assert_eq!(pypi("zope.interface", "6.0"), "pkg:pypi/zope-interface@6.0");
        assert_eq!(golang("github.com/docker/distribution", "v2.8.3+incompatible"), "pkg:golang/github.com/docker/distribution@v2.8.3%2Bincompatible");
        assert_eq!(golang("stdlib", "v1.22.5"), "pkg:golang/stdlib@v1.22.5");
    }
}
