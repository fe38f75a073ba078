//! A whole scan of an image made from real package data — the debootstrapped
//! Debian 12 dpkg status (libc6 and libc-bin at 2.36-9+deb12u3, the real
//! bookworm version of Debian 12.2, before DSA-5611-1), the real requests
//! and urllib3 wheels' metadata — with a credential in a `.env` file and one
//! in the config's env, pushed to a real docker-registry and scanned
//! against the real OSV fixture: streamed from the registry it gives the
//! same report as pulled into memory; DSA-5611-1 is found for both glibc
//! packages with its fix; secrets by rule and place, never by value; the
//! table sorts, the JSON round-trips and the SARIF validates against the
//! OASIS SARIF 2.1.0 schema.

use std::path::Path;
use std::sync::Arc;

use gantry_registry::spec::{ImageConfig, RunConfig};
use gantry_registry::testing::registry::{DockerRegistry, RegistryAuth};
use gantry_registry::{Client, Image, Reference, StaticCredentials};
use gantry_scan::report::{self, Format};
use gantry_scan::scan::{ScanOptions, Scanner, NO_DATABASE};
use gantry_scan::store::{self, Store};
use serde_json::Value;

use crate::inventory_images::{data, layer, E, Z};

pub const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
pub const DOTENV_PASSWORD: &str = "pr0d-db-pa55w0rd-2026";

/// The debootstrapped status with the glibc binary packages at 2.36-9+deb12u3.
pub fn debian_12_2_status() -> Vec<u8> {
    let status = String::from_utf8(data("debian-bookworm/var/lib/dpkg/status")).unwrap();
    let mut out = String::new();
    for stanza in status.split("\n\n") {
        let glibc = stanza.lines().any(|l| l == "Source: glibc");
        if glibc {
            out.push_str(&stanza.lines().map(|l| if l.starts_with("Version: ") { "Version: 2.36-9+deb12u3" } else { l }).collect::<Vec<_>>().join("\n"));
        } else {
            out.push_str(stanza);
        }
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len() + 1);
    out.into_bytes()
}

pub fn test_image() -> Image {
    let base = layer(
        &[
            E::Dir("etc/"),
            E::Dir("usr/lib/"),
            E::File("usr/lib/os-release", data("debian-bookworm/usr/lib/os-release"), 0o644),
            E::Symlink("etc/os-release", "../usr/lib/os-release"),
            E::File("var/lib/dpkg/status", debian_12_2_status(), 0o644),
        ],
        Z::Gzip,
    );
    let app = layer(
        &[
            E::File("usr/lib/python3/dist-packages/requests-2.32.3.dist-info/METADATA", data("python/requests-2.32.3.dist-info__METADATA"), 0o644),
            E::File("usr/lib/python3/dist-packages/urllib3-2.2.3.dist-info/METADATA", data("python/urllib3-2.2.3.dist-info__METADATA"), 0o644),
            E::File("app/.env", format!("# settings\nDB_HOST=db\nDB_PASSWORD={DOTENV_PASSWORD}\n").into_bytes(), 0o600),
        ],
        Z::Zstd,
    );
    let config = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        config: Some(RunConfig { env: Some(vec!["PATH=/usr/bin".into(), format!("AWS_ACCESS_KEY_ID={AWS_KEY}")]), user: Some("app".into()), ..Default::default() }),
        ..Default::default()
    };
    Image::assemble(config, vec![base, app])
}

pub fn osv_fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/osv")
}

fn store() -> (tempfile::TempDir, Arc<Store>) {
    let dir = tempfile::tempdir().unwrap();
    store::import(dir.path(), &[&osv_fixture()]).unwrap();
    let s = Store::open(dir.path()).unwrap();
    (dir, Arc::new(s))
}

fn schema_errors(doc: &Value) -> Vec<String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    let v = jsonschema::options().should_validate_formats(true).build(&schema).unwrap();
    v.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

#[test]
fn an_image_of_real_packages_scans_the_same_streamed_and_in_memory_and_every_output_says_what_it_found() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let image = test_image();
    let reference = format!("{}/team/app:1", registry.host());
    let client = Client::new(Arc::new(StaticCredentials::default()));
    let digest = rt.block_on(client.push(&image, &Reference::parse(&reference).unwrap())).unwrap();
    let (_dir, store) = store();

    let scanner = Scanner::new(Some(client.clone())).store(Some(store.clone()));
    let options = ScanOptions::default();
    let streamed = rt.block_on(scanner.scan(&reference, options)).unwrap();
    assert!(streamed.streamed);
    let pulled = rt.block_on(scanner.clone().streaming(false).scan(&reference, options)).unwrap();
    assert!(!pulled.streamed);
    let memory = scanner.scan_image(&reference, &image, options).unwrap();
    assert_eq!(streamed.report, pulled.report);
    assert_eq!(streamed.report, memory.report);
    let r = &streamed.report;
    assert_eq!(r.image.digest, digest);
    assert_eq!(r.image.user, "app");
    assert_eq!(r.image.layers, 2);
    assert!(r.database.contains("31 advisories"), "{}", r.database);
    // 88 dpkg packages (the debootstrap's) and the two wheels
    assert_eq!(r.packages.len(), 90, "{:?}", r.packages.iter().map(|p| &p.name).collect::<Vec<_>>());
    let found: Vec<(&str, &str, Option<&str>)> = r.vulnerabilities.iter().map(|v| (v.id.as_str(), v.package_name.as_str(), v.fixed_version.as_deref())).collect();
    assert_eq!(found, [("DSA-5611-1", "libc-bin", Some("2.36-9+deb12u4")), ("DSA-5611-1", "libc6", Some("2.36-9+deb12u4"))], "{found:?}");
    let secrets: Vec<(&str, &str)> = r.secrets.iter().map(|s| (s.rule.as_str(), s.location.as_str())).collect();
    assert_eq!(secrets, [("aws-access-key-id", "env:AWS_ACCESS_KEY_ID"), ("dotenv-password", "/app/.env:3")]);

    // every output, and none carries a secret's value
    for format in [Format::Table, Format::Json, Format::Sarif, Format::CycloneDx, Format::Spdx] {
        let text = report::render(r, streamed.os.as_ref(), format, "2026-11-27T04:00:00Z", "0.1.0");
        assert!(!text.contains(AWS_KEY) && !text.contains(DOTENV_PASSWORD), "{format:?} shows a secret");
    }
    let table = report::render(r, None, Format::Table, "", "0.1.0");
    assert!(table.contains("Vulnerabilities: 2 ("), "{table}");
    let rows: Vec<&str> = table.lines().filter(|l| l.contains("DSA-5611-1")).collect();
    assert!(rows.len() == 2 && rows[0].contains("libc-bin") && rows[1].contains("libc6") && rows[0].contains("2.36-9+deb12u4"), "{table}");
    assert!(table.find("aws-access-key-id").unwrap() < table.find("dotenv-password").unwrap(), "{table}");
    let json = report::render(r, None, Format::Json, "", "0.1.0");
    assert_eq!(&report::json::parse(&json).unwrap(), r);
    let sarif: Value = serde_json::from_str(&report::render(r, None, Format::Sarif, "", "0.1.0")).unwrap();
    assert_eq!(schema_errors(&sarif), Vec::<String>::new());
    let run = &sarif["runs"][0];
    let rule_ids: Vec<&str> = run["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(rule_ids, ["DSA-5611-1", "secret/aws-access-key-id", "secret/dotenv-password"]);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "var/lib/dpkg/status");
    assert!(results[0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].as_str().unwrap().starts_with("pkg:deb/debian/libc-bin@2.36-9%2Bdeb12u3"), "{}", results[0]);
    assert!(results.iter().all(|r| r["partialFingerprints"]["gantryFinding/v1"].is_string()));

    // without a store: inventory only, and the report says how to get advisories
    let bare = Scanner::new(Some(client)).scan_image(&reference, &image, ScanOptions { secrets: false, skip_vulnerabilities: false }).unwrap();
    assert_eq!(bare.report.database, NO_DATABASE);
    assert!(bare.report.vulnerabilities.is_empty() && bare.report.secrets.is_empty());
    assert_eq!(bare.report.packages, r.packages);
    drop(registry);
}

#[test]
fn an_image_the_registry_does_not_hold_fails_the_scan_naming_it() {
    let Some(registry) = DockerRegistry::start(RegistryAuth::None) else { return };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let scanner = Scanner::new(Some(Client::new(Arc::new(StaticCredentials::default()))));
    let reference = format!("{}/team/missing:1", registry.host());
    let e = rt.block_on(scanner.scan(&reference, ScanOptions::default())).unwrap_err().to_string();
    assert!(e.contains(&reference), "{e}");
}
