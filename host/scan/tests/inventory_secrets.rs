//! Secret scanning of an image built in memory: findings by rule, place
//! and layer in env vars and files (including a file a later layer deleted),
//! binaries and large files skipped, and no value anywhere in findings,
//! their Debug and JSON, or in an error about a layer holding one.

use gantry_registry::spec::{ImageConfig, RunConfig};
use gantry_registry::{Blob, Image};
use gantry_scan::secrets::{self, SecretScanner};

use crate::inventory_images::{layer, E, Z};

const AWS_ID: &str = "AKIAZ7Q3EXAMPL3KEY42";
const GH: &str = "ghp_R4nd0mLook1ngT0kenValue0123456789abc";
const PASSWORD: &str = "Tr0ub4dor-and-3";

fn pem() -> String {
    format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ".repeat(3))
}

fn secret_image() -> Image {
    let l0 = layer(&[E::File("root/.ssh/id_ed25519", pem().into_bytes(), 0o600), E::File("app/config.yaml", format!("name: app\n\ngithub:\n  token: {GH}\n").into_bytes(), 0o644)], Z::Gzip);
    let mut binary = vec![0u8; 64];
    binary.extend_from_slice(AWS_ID.as_bytes());
    let mut large = vec![b'a'; (secrets::MAX_FILE + 10) as usize];
    large.extend_from_slice(AWS_ID.as_bytes());
    let l1 = layer(
        &[
            E::File("root/.ssh/.wh.id_ed25519", vec![], 0o644),
            E::File("app/.env", format!("# settings\nDB_HOST=db\nDB_PASSWORD={PASSWORD}\nAPI_KEY=${{API_KEY}}\n").into_bytes(), 0o644),
            E::File("app/bin/tool", binary, 0o755),
            E::File("app/big.log", large, 0o644),
            E::File("usr/share/doc/x/README", format!("example {GH}\n").into_bytes(), 0o644),
        ],
        Z::Zstd,
    );
    let config = ImageConfig { architecture: "amd64".into(), os: "linux".into(), config: Some(RunConfig { env: Some(vec![format!("AWS_ACCESS_KEY_ID={AWS_ID}"), "PATH=/bin".into()]), ..Default::default() }), ..Default::default() };
    Image::assemble(config, vec![l0, l1])
}

#[test]
fn findings_name_rule_place_and_layer_including_deleted_files() {
    let img = secret_image();
    let (l0, l1) = (img.layers[0].digest().to_string(), img.layers[1].digest().to_string());
    let (_, scan, _) = secrets::scan_image(&img).unwrap();
    let got: Vec<(&str, &str, Option<&str>)> = scan.findings.iter().map(|f| (f.rule.as_str(), f.location.as_str(), f.layer.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("aws-access-key-id", "env:AWS_ACCESS_KEY_ID", None),
            ("dotenv-password", "/app/.env:3", Some(l1.as_str())),
            ("github-token", "/app/config.yaml:4", Some(l0.as_str())),
            ("private-key", "/root/.ssh/id_ed25519:1", Some(l0.as_str())),
        ]
    );
    assert_eq!((scan.skipped_binary, scan.skipped_large), (1, 1));
}

#[test]
fn no_secret_value_reaches_findings_their_debug_or_json_or_an_error() {
    let img = secret_image();
    let (inv, scan, stats) = secrets::scan_image(&img).unwrap();
    let shown = format!("{scan:?}{}{inv:?}{stats:?}", serde_json::to_string(&scan.findings).unwrap());
    let key_line = pem().lines().nth(1).unwrap().to_string();
    for value in [AWS_ID, GH, PASSWORD, key_line.as_str()] {
        assert!(!shown.contains(value), "a secret value was shown");
    }
    // a corrupt layer holding secrets: the error names the layer, not its contents
    let mut bad = img.clone();
    let mut data = bad.layers[0].data.to_vec();
    let cut = data.len() - 20;
    data.truncate(cut);
    bad.layers[0] = Blob::new(&bad.layers[0].descriptor.media_type.clone(), data);
    let e = secrets::scan_image(&bad).unwrap_err();
    let shown = format!("{e}{e:?}");
    for value in [AWS_ID, GH, PASSWORD, key_line.as_str()] {
        assert!(!shown.contains(value), "a secret value was shown in {shown}");
    }
    let mut s = SecretScanner::with_max_file(10);
    let _ = gantry_scan::fs::walk(&mut gantry_scan::layers::ImageLayers::new(&img), &mut [&mut s]).unwrap();
    assert!(s.finish().findings.is_empty());
}
