//! The SBOMs of an image built from real package metadata, validated
//! against the official CycloneDX 1.5 and SPDX 2.3 JSON schemas
//! (tests/data/sbom-schemas, see its README) with formats checked, and the
//! fields a consumer reads checked by hand: the described image, one
//! component/package per inventoried package with its purl, unique refs,
//! DESCRIBES/CONTAINS relationships.

use std::path::Path;

use gantry_scan::facts;
use gantry_scan::inventory;
use gantry_scan::sbom::{self, SbomInput};
use serde_json::Value;

use crate::inventory_images::{data, image, layer, E, Z};

fn schema(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sbom-schemas").join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn errors(schema_value: &Value, extra: &[(&str, Value)], doc: &Value) -> Vec<String> {
    let mut builder = jsonschema::Registry::new();
    for (uri, v) in extra {
        builder = builder.add(*uri, v.clone()).unwrap();
    }
    let registry = builder.prepare().unwrap();
    let v = jsonschema::options().with_registry(&registry).should_validate_formats(true).build(schema_value).unwrap();
    v.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

fn input_image() -> gantry_registry::Image {
    image(vec![
        layer(
            &[
                E::File("usr/lib/os-release", data("debian-bookworm/usr/lib/os-release"), 0o644),
                E::Symlink("etc/os-release", "../usr/lib/os-release"),
                E::File("var/lib/dpkg/status", data("debian-bookworm/var/lib/dpkg/status"), 0o644),
            ],
            Z::Gzip,
        ),
        layer(
            &[
                E::File("usr/lib/python3/dist-packages/requests-2.32.3.dist-info/METADATA", data("python/requests-2.32.3.dist-info__METADATA"), 0o644),
                E::File("app/node_modules/@tootallnate/once/package.json", data("npm/node_modules/@tootallnate/once/package.json"), 0o644),
                E::File("bin/a", { let mut b = data("go/kubectl.buildinfo.elf"); b.resize(8192, 0); b }, 0o755),
                // the same Go modules twice: refs must stay unique
                E::File("bin/b", { let mut b = data("go/kubectl.buildinfo.elf"); b.resize(8192, 0); b }, 0o755),
            ],
            Z::Zstd,
        ),
    ])
}

#[test]
fn cyclonedx_and_spdx_documents_validate_against_the_official_schemas() {
    let img = input_image();
    let inv = inventory::inventory(&img).unwrap();
    let facts = facts::facts("registry.example:5000/team/app:1.0", &img).unwrap();
    let input = SbomInput { image: &facts, os: inv.os.as_ref(), packages: &inv.packages, created: "2026-11-27T03:04:05Z", tool_version: "0.1.0" };
    let n = inv.packages.len();
    assert_eq!(n, 88 + 1 + 1 + 2 * 83);

    let cdx = sbom::cyclonedx(&input);
    let errs = errors(
        &schema("bom-1.5.schema.json"),
        &[("http://cyclonedx.org/schema/spdx.schema.json", schema("spdx.schema.json")), ("http://cyclonedx.org/schema/jsf-0.82.schema.json", schema("jsf-0.82.schema.json"))],
        &cdx,
    );
    assert!(errs.is_empty(), "{errs:#?}");
    assert_eq!(cdx["specVersion"], "1.5");
    assert!(cdx["serialNumber"].as_str().unwrap().starts_with("urn:uuid:"));
    assert_eq!(cdx["metadata"]["component"]["type"], "container");
    assert_eq!(cdx["metadata"]["component"]["version"], img.digest());
    let comps = cdx["components"].as_array().unwrap();
    assert_eq!(comps.len(), n + 1);
    assert_eq!(comps[0]["type"], "operating-system");
    let refs: std::collections::HashSet<&str> = comps.iter().map(|c| c["bom-ref"].as_str().unwrap()).collect();
    assert_eq!(refs.len(), comps.len(), "bom-refs are unique");
    let req = comps.iter().find(|c| c["purl"] == "pkg:pypi/requests@2.32.3").unwrap();
    assert_eq!(req["licenses"][0]["license"]["name"], "Apache-2.0");
    assert!(comps.iter().any(|c| c["purl"] == "pkg:npm/%40tootallnate/once@2.0.0"));
    assert_eq!(cdx["dependencies"][0]["dependsOn"].as_array().unwrap().len(), n + 1);
    // the same inputs give the same document
    assert_eq!(sbom::cyclonedx(&input), cdx);

    let spdx = sbom::spdx(&input);
    let errs = errors(&schema("spdx-2.3.schema.json"), &[], &spdx);
    assert!(errs.is_empty(), "{errs:#?}");
    assert_eq!((spdx["spdxVersion"].as_str(), spdx["dataLicense"].as_str()), (Some("SPDX-2.3"), Some("CC0-1.0")));
    assert!(spdx["documentNamespace"].as_str().unwrap().starts_with("https://gantry.dev/spdx/app-"));
    let pkgs = spdx["packages"].as_array().unwrap();
    assert_eq!(pkgs.len(), n + 2);
    let rels = spdx["relationships"].as_array().unwrap();
    assert_eq!(rels.iter().filter(|r| r["relationshipType"] == "DESCRIBES").count(), 1);
    assert_eq!(rels.iter().filter(|r| r["relationshipType"] == "CONTAINS").count(), n + 1);
    let libc = pkgs.iter().find(|p| p["name"] == "libc6").unwrap();
    assert_eq!(libc["externalRefs"][0]["referenceType"], "purl");
    assert!(libc["externalRefs"][0]["referenceLocator"].as_str().unwrap().starts_with("pkg:deb/debian/libc6@2.36-9%2Bdeb12u"));
    let ids: std::collections::HashSet<&str> = pkgs.iter().map(|p| p["SPDXID"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), pkgs.len());
}

#[test]
fn a_schema_violation_is_caught_by_the_validation() {
    // the validation is not vacuous: a document missing required fields fails
    let bad = serde_json::json!({"spdxVersion": "SPDX-2.3", "packages": [{"name": "x"}]});
    assert!(!errors(&schema("spdx-2.3.schema.json"), &[], &bad).is_empty());
    let bad = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"type": "nonsense", "name": "x"}]});
    assert!(!errors(&schema("bom-1.5.schema.json"), &[("http://cyclonedx.org/schema/spdx.schema.json", schema("spdx.schema.json")), ("http://cyclonedx.org/schema/jsf-0.82.schema.json", schema("jsf-0.82.schema.json"))], &bad).is_empty());
}
