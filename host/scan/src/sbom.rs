//! Software bills of materials for a scanned image: CycloneDX 1.5 JSON and
//! SPDX 2.3 JSON, built from the image's facts and its inventory. The image
//! is the described component (CycloneDX `metadata.component` of type
//! `container`; the SPDX package the document DESCRIBES), the OS is an
//! `operating-system` component, every package a `library` with its purl,
//! licenses and the layer and path it was found in. Serial numbers and
//! namespaces are derived from the image digest and the creation time, so
//! the same inputs give the same document. It must not read images.

use std::collections::HashSet;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::inventory::OsRelease;
use crate::model::{ImageFacts, Package};

/// What an SBOM is made from.
#[derive(Debug, Clone, Copy)]
pub struct SbomInput<'a> {
    pub image: &'a ImageFacts,
    pub os: Option<&'a OsRelease>,
    pub packages: &'a [Package],
    /// RFC 3339 UTC (`2026-11-27T03:00:00Z`); `now_rfc3339()` for the current time.
    pub created: &'a str,
    /// The tool's version, as `gantry` writes itself into the document.
    pub tool_version: &'a str,
}

/// The current time as RFC 3339 UTC, to the second.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    rfc3339(secs)
}

/// `secs` since the Unix epoch as `YYYY-MM-DDThh:mm:ssZ` (proleptic Gregorian, UTC).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // civil date from days since 1970-01-01, by 400-year eras
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A version-4-shaped UUID from a hash of `parts` (stable for the same inputs).
fn uuid_from(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let mut b: [u8; 16] = h.finalize()[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &x[..8], &x[8..12], &x[12..16], &x[16..20], &x[20..])
}

/// The repository name of an image reference without registry, tag or digest: `reg:5000/team/app:1` -> `app`.
fn image_name(reference: &str) -> &str {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split(':').next().unwrap_or(last)
}

/// `pkg:oci/app@sha256%3A…?repository_url=reg:5000/team/app`.
pub fn image_purl(facts: &ImageFacts) -> String {
    let repo = facts.reference.split('@').next().unwrap_or(&facts.reference);
    let repo = match repo.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repo,
    };
    let name = image_name(&facts.reference).to_ascii_lowercase();
    crate::inventory::purl::build("oci", None, &name, &facts.digest, &[("repository_url", repo)]).replace("%2F", "/")
}

/// Unique ids for packages: the purl, with `#2`, `#3`… on repeats (the same module in two binaries).
fn unique_refs(packages: &[Package]) -> Vec<String> {
    let mut seen = HashSet::new();
    packages
        .iter()
        .map(|p| {
            let mut r = p.purl.clone();
            let mut n = 1;
            while !seen.insert(r.clone()) {
                n += 1;
                r = format!("{}#{n}", p.purl);
            }
            r
        })
        .collect()
}

/// A CycloneDX 1.5 JSON document.
pub fn cyclonedx(input: &SbomInput<'_>) -> Value {
    let image_ref = input.image.digest.clone();
    let mut components = Vec::new();
    let mut refs = Vec::new();
    if let Some(os) = input.os.filter(|o| !o.id.is_empty()) {
        let r = format!("os:{}@{}", os.id, os.version_id);
        components.push(json!({"type": "operating-system", "bom-ref": r, "name": os.id, "version": os.version_id, "description": os.pretty_name}));
        refs.push(r);
    }
    for (p, r) in input.packages.iter().zip(unique_refs(input.packages)) {
        let mut c = json!({"type": "library", "bom-ref": r, "name": p.name, "version": p.version, "purl": p.purl});
        if !p.licenses.is_empty() {
            c["licenses"] = Value::Array(p.licenses.iter().map(|l| json!({"license": {"name": l}})).collect());
        }
        let mut props = vec![json!({"name": "gantry:ecosystem", "value": p.ecosystem.short()})];
        if let Some(l) = &p.layer {
            props.push(json!({"name": "gantry:layer", "value": l}));
        }
        if let Some(path) = &p.path {
            props.push(json!({"name": "gantry:path", "value": path}));
        }
        if let Some((s, v)) = &p.source {
            props.push(json!({"name": "gantry:source", "value": match v { Some(v) => format!("{s} {v}"), None => s.clone() }}));
        }
        c["properties"] = Value::Array(props);
        components.push(c);
        refs.push(r);
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", uuid_from(&[&input.image.digest, input.created, "cyclonedx"])),
        "version": 1,
        "metadata": {
            "timestamp": input.created,
            "tools": {"components": [{"type": "application", "name": "gantry", "version": input.tool_version}]},
            "component": {
                "type": "container",
                "bom-ref": image_ref,
                "name": input.image.reference,
                "version": input.image.digest,
                "purl": image_purl(input.image),
            },
        },
        "components": components,
        "dependencies": [{"ref": image_ref, "dependsOn": refs}],
    })
}

/// Whether `s` reads as an SPDX license expression (ids joined by AND/OR/WITH, parentheses); otherwise it is kept as a comment.
fn spdx_expression(s: &str) -> bool {
    let spaced = s.replace('(', " ( ").replace(')', " ) ");
    let mut expect_id = true;
    let mut depth = 0i32;
    for t in spaced.split_whitespace() {
        match t {
            "(" if expect_id => depth += 1,
            ")" if !expect_id => depth -= 1,
            "AND" | "OR" | "WITH" if !expect_id => expect_id = true,
            id if expect_id && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')) && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) => expect_id = false,
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    !expect_id && depth == 0
}

/// An SPDX 2.3 JSON document.
pub fn spdx(input: &SbomInput<'_>) -> Value {
    let image_id = "SPDXRef-Image";
    let mut packages = vec![json!({
        "name": input.image.reference,
        "SPDXID": image_id,
        "versionInfo": input.image.digest,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": image_purl(input.image)}],
    })];
    let mut relationships = vec![json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": image_id})];
    if let Some(os) = input.os.filter(|o| !o.id.is_empty()) {
        packages.push(json!({"name": os.id, "SPDXID": "SPDXRef-OperatingSystem", "versionInfo": os.version_id, "downloadLocation": "NOASSERTION", "filesAnalyzed": false, "primaryPackagePurpose": "OPERATING_SYSTEM"}));
        relationships.push(json!({"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-OperatingSystem"}));
    }
    for (i, p) in input.packages.iter().enumerate() {
        let id = format!("SPDXRef-Package-{}", i + 1);
        let declared = p.licenses.join(" AND ");
        let mut pkg = json!({
            "name": p.name,
            "SPDXID": id,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": if spdx_expression(&declared) { declared.clone() } else { "NOASSERTION".to_string() },
            "primaryPackagePurpose": "LIBRARY",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": p.purl}],
        });
        if !declared.is_empty() && !spdx_expression(&declared) {
            pkg["licenseComments"] = json!(format!("declared: {declared}"));
        }
        let mut found = Vec::new();
        if let Some(path) = &p.path {
            found.push(format!("path {path}"));
        }
        if let Some(l) = &p.layer {
            found.push(format!("layer {l}"));
        }
        if !found.is_empty() {
            pkg["sourceInfo"] = json!(format!("found at {}", found.join(", ")));
        }
        packages.push(pkg);
        relationships.push(json!({"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": id}));
    }
    let name = image_name(&input.image.reference);
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": input.image.reference,
        "documentNamespace": format!("https://gantry.dev/spdx/{}-{}", crate::inventory::purl::encode(name), uuid_from(&[&input.image.digest, input.created, "spdx"])),
        "creationInfo": {"created": input.created, "creators": [format!("Tool: gantry-{}", input.tool_version)]},
        "documentDescribes": [image_id],
        "packages": packages,
        "relationships": relationships,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_uuids_names_and_expressions() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_748_645), "2026-11-27T03:04:05Z");
        let u = uuid_from(&["a"]);
        assert_eq!((u.len(), &u[14..15]), (36, "4"));
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(image_name("reg:5000/team/app:1.2@sha256:ab"), "app");
        let f = ImageFacts { reference: "reg:5000/team/app:1.2".into(), digest: "sha256:ab".into(), ..Default::default() };
        assert_eq!(image_purl(&f), "pkg:oci/app@sha256:ab?repository_url=reg:5000/team/app");
        for ok in ["MIT", "Apache-2.0 OR MIT", "(MIT OR Apache-2.0) AND BSD-3-Clause", "GPL-2.0+ WITH Classpath-exception-2.0"] {
            assert!(spdx_expression(ok), "{ok}");
        }
        for bad in ["ASL 2.0", "", "MIT OR", "(MIT", "Public Domain", "MIT/X11"] {
            assert!(!spdx_expression(bad), "{bad}");
        }
    }
}
