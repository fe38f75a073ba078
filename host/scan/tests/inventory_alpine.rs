//! An Alpine root that the real apk (apk-tools 3) installed, read as an
//! image layer (tests/data/alpine, see its README): the packages apk
//! recorded, with their versions, origins (source packages), licenses and
//! purls, each file of the layer owned by the package apk says installed
//! it, and the database the walk reads equal to the one apk wrote.

use std::collections::BTreeMap;
use std::path::Path;

use gantry_registry::image::digest_of;
use gantry_registry::{Blob, Layer};
use gantry_scan::fs::{self, FileMeta, Visitor};
use gantry_scan::inventory::{self, apk};
use gantry_scan::layers::ImageLayers;
use gantry_scan::model::Ecosystem;

use crate::inventory_images::{compress, image, Z};

/// name, version, source package, licenses, purl.
type Row<'a> = (&'a str, &'a str, Option<&'a str>, Vec<&'a str>, &'a str);

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/alpine").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The fixture's layer.tar (as GNU tar wrote it from apk's root) as an image layer.
fn alpine_layer(z: Z) -> Layer {
    let raw = fixture("layer.tar");
    let (blob, media_type) = compress(&raw, z);
    Layer { blob: Blob::new(media_type, blob), diff_id: digest_of(&raw) }
}

/// Every file and link the walk reaches, and the contents of apk's database.
#[derive(Default)]
struct Everything {
    paths: Vec<String>,
    db: Option<Vec<u8>>,
}

impl Visitor for Everything {
    fn wants(&self, _: &str, _: u64, _: u32) -> bool {
        true
    }
    fn file(&mut self, file: &FileMeta<'_>, contents: &[u8]) {
        self.paths.push(file.path.to_string());
        if apk::wants(file.path) {
            self.db = Some(contents.to_vec());
        }
    }
}

#[test]
fn an_apk_installed_root_is_inventoried_with_origins_licenses_and_purls() {
    for z in [Z::Plain, Z::Gzip, Z::Zstd] {
        let layer = alpine_layer(z);
        let digest = layer.blob.digest().to_string();
        let inv = inventory::inventory(&image(vec![layer])).unwrap();
        assert!(inv.problems.is_empty(), "{:?}", inv.problems);
        let os = inv.os.as_ref().expect("os-release read");
        assert_eq!((os.id.as_str(), os.version_id.as_str()), ("alpine", "3.17.0_alpha20220809"));
        let got: Vec<Row> = inv
            .packages
            .iter()
            .map(|p| {
                assert_eq!(p.ecosystem, Ecosystem::Alpine(Some("alpine:v3.17".into())), "{p:?}");
                assert_eq!((p.layer.as_deref(), p.path.as_deref()), (Some(digest.as_str()), Some("/lib/apk/db/installed")));
                (p.name.as_str(), p.version.as_str(), p.source.as_ref().map(|(s, _)| s.as_str()), p.licenses.iter().map(String::as_str).collect(), p.purl.as_str())
            })
            .collect();
        // What apk add printed and wrote, in its database's order; the source is the origin when it differs from the name.
        // Alpine's distro qualifier is its VERSION_ID alone (osrelease::purl_distro).
        let distro = "distro=3.17.0_alpha20220809";
        assert_eq!(
            got,
            [
                ("libc6-compat", "1.1.16-r3", Some("musl"), vec!["MIT"], &*format!("pkg:apk/alpine/libc6-compat@1.1.16-r3?arch=x86_64&{distro}")),
                ("libcrypto3", "3.0.5-r2", Some("openssl"), vec!["Apache-2.0"], &*format!("pkg:apk/alpine/libcrypto3@3.0.5-r2?arch=x86_64&{distro}")),
                ("libssl3", "3.0.5-r2", Some("openssl"), vec!["Apache-2.0"], &*format!("pkg:apk/alpine/libssl3@3.0.5-r2?arch=x86_64&{distro}")),
                ("musl", "1.1.16-r3", None, vec!["MIT"], &*format!("pkg:apk/alpine/musl@1.1.16-r3?arch=x86_64&{distro}")),
                ("musl-utils", "1.1.16-r3", Some("musl"), vec!["MIT BSD GPL2+"], &*format!("pkg:apk/alpine/musl-utils@1.1.16-r3?arch=x86_64&{distro}")),
                ("openssl", "3.0.5-r2", None, vec!["Apache-2.0"], &*format!("pkg:apk/alpine/openssl@3.0.5-r2?arch=x86_64&{distro}")),
            ],
            "{z:?}"
        );
    }
}

#[test]
fn each_file_of_the_apk_root_maps_to_the_package_apk_installed_it_from() {
    let mut seen = Everything::default();
    fs::walk(&mut ImageLayers::new(&image(vec![alpine_layer(Z::Gzip)])), &mut [&mut seen]).unwrap();
    // The database read through the layer is, byte for byte, the one apk wrote.
    let db = seen.db.clone().expect("the walk reaches /lib/apk/db/installed");
    assert_eq!(db, fixture("installed"));
    let packages = apk::parse(&String::from_utf8(db).unwrap());

    // apk's own bookkeeping and the os-release we added belong to no package; everything else to exactly one.
    let unowned = ["/etc/apk/arch", "/etc/apk/world", "/etc/os-release", "/lib/apk/db/installed", "/lib/apk/db/scripts.tar.gz", "/lib/apk/db/triggers", "/var/log/apk.log"];
    let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
    for path in &seen.paths {
        let by: Vec<&str> = packages.iter().filter(|p| p.owns(path)).map(|p| p.name.as_str()).collect();
        if unowned.contains(&path.as_str()) {
            assert!(by.is_empty(), "{path} owned by {by:?}");
        } else {
            assert_eq!(by.len(), 1, "{path} owned by {by:?}");
            owners.insert(path, by[0]);
        }
    }
    for (path, package) in [
        ("/lib/ld-musl-x86_64.so.1", "musl"),
        ("/lib/libc.musl-x86_64.so.1", "musl"), // a link, to the file above
        ("/usr/bin/ldd", "musl-utils"),         // a link into another package
        ("/sbin/ldconfig", "musl-utils"),
        ("/lib/libc.so.6", "libc6-compat"),
        ("/lib/libcrypto.so.3", "libcrypto3"),
        ("/usr/lib/libcrypto.so.3", "libcrypto3"),
        ("/etc/ssl/openssl.cnf", "libcrypto3"),
        ("/usr/lib/ossl-modules/legacy.so", "libcrypto3"),
        ("/lib/libssl.so.3", "libssl3"),
        ("/usr/bin/openssl", "openssl"),
    ] {
        assert_eq!(owners.get(path), Some(&package), "{path}");
        assert_eq!(apk::owner(&packages, path).map(|p| p.name.as_str()), Some(package), "{path}");
    }
    // And the other way: every file apk recorded is in the layer (the link to a directory, /lib64, included if the walk lists it).
    for p in &packages {
        for f in &p.files {
            assert!(seen.paths.contains(f) || f == "/lib64", "{} lists {f}, which the layer does not have", p.name);
        }
    }
    assert_eq!(packages.iter().map(|p| p.files.len()).sum::<usize>(), 20);
}
