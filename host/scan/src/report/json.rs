//! The report as JSON: exactly `model::Report`'s serde form, pretty-printed,
//! one trailing newline. The shape is stable: fields are only ever added
//! (with defaults), never renamed or removed. Top level: `image` (facts:
//! reference, digest, user, env_names, exposed_ports, labels as
//! `[key, value]` pairs, entrypoint, cmd, size, layers, base_image,
//! created), `packages` (name, version, ecosystem as `{"Debian": "12"}`,
//! `"PyPI"`…, purl, layer, path, source as `[name, version]`, licenses),
//! `vulnerabilities` (id, aliases, package_name, package_purl,
//! installed_version, fixed_version, severity in lowercase, cvss_score,
//! cvss_vector, summary), `secrets` (rule, location, layer — never a
//! value) and `database`. It must not reshape the model.

use crate::model::Report;

/// The report as pretty JSON.
pub fn render(report: &Report) -> String {
    // Report holds only strings, numbers, lists and maps with string keys: it always serializes.
    let mut s = serde_json::to_string_pretty(report).unwrap_or_default();
    s.push('\n');
    s
}

/// A report read back from its JSON form.
pub fn parse(text: &str) -> Result<Report, serde_json::Error> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_round_trips() {
        let mut r = Report::default();
        r.image.reference = "reg/app:1".into();
        r.database = "x".into();
        assert_eq!(parse(&render(&r)).unwrap(), r);
        assert!(render(&r).contains("\"env_names\""));
    }
}
