//! Images built in memory from real package metadata (tests/data/images,
//! see its README) as gzip, zstd and plain-tar layers, read by the
//! inventory: exact package sets against what dpkg-query and rpm report on
//! the same files, purls, the layer each package came from, whiteouts,
//! opaque directories and links.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use gantry_registry::image::digest_of;
use gantry_registry::spec::{self, ImageConfig};
use gantry_registry::{Blob, Image, Layer};
use gantry_scan::fs::{self, FileMeta, Visitor};
use gantry_scan::inventory::{self, sqlite};
use gantry_scan::layers::{ImageLayers, LayerInfo, StreamLayers};
use gantry_scan::model::{Ecosystem, Package};

pub fn data(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/images").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// One tar entry of a test layer.
pub enum E {
    File(&'static str, Vec<u8>, u32),
    Dir(&'static str),
    Symlink(&'static str, &'static str),
    Hardlink(&'static str, &'static str),
}

#[derive(Clone, Copy, Debug)]
pub enum Z {
    Gzip,
    Zstd,
    Plain,
}

pub fn tar(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        match e {
            E::File(path, data, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                h.set_mode(*mode);
                b.append_data(&mut h, path, &data[..]).unwrap();
            }
            E::Dir(path) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                b.append_data(&mut h, path, &[][..]).unwrap();
            }
            E::Symlink(path, target) | E::Hardlink(path, target) => {
                h.set_entry_type(if matches!(e, E::Symlink(..)) { tar::EntryType::Symlink } else { tar::EntryType::Link });
                h.set_size(0);
                h.set_mode(0o777);
                b.append_link(&mut h, path, target).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

pub fn compress(raw: &[u8], z: Z) -> (Vec<u8>, &'static str) {
    match z {
        Z::Plain => (raw.to_vec(), spec::OCI_LAYER),
        Z::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, raw).unwrap();
            (e.finish().unwrap(), spec::OCI_LAYER_GZIP)
        }
        Z::Zstd => (ruzstd::encoding::compress_to_vec(raw, ruzstd::encoding::CompressionLevel::Fastest), spec::OCI_LAYER_ZSTD),
    }
}

pub fn layer(entries: &[E], z: Z) -> Layer {
    let raw = tar(entries);
    let (blob, media_type) = compress(&raw, z);
    Layer { blob: Blob::new(media_type, blob), diff_id: digest_of(&raw) }
}

pub fn image(layers: Vec<Layer>) -> Image {
    Image::assemble(ImageConfig { architecture: "amd64".into(), os: "linux".into(), ..Default::default() }, layers)
}

/// A fixture ELF padded to a real binary's minimum size (the inventory skips tiny executables).
fn binary(rel: &str) -> Vec<u8> {
    let mut b = data(rel);
    b.resize(b.len().max(8192), 0);
    b
}

fn debian_base() -> Vec<E> {
    vec![
        E::Dir("etc/"),
        E::Dir("usr/lib/"),
        E::File("usr/lib/os-release", data("debian-bookworm/usr/lib/os-release"), 0o644),
        E::Symlink("etc/os-release", "../usr/lib/os-release"),
        E::File("var/lib/dpkg/status", data("debian-bookworm/var/lib/dpkg/status"), 0o644),
        E::File("usr/bin/filler", vec![7u8; 100_000], 0o755),
    ]
}

fn by_ecosystem(pkgs: &[Package]) -> BTreeMap<&'static str, Vec<&Package>> {
    let mut m: BTreeMap<&'static str, Vec<&Package>> = BTreeMap::new();
    for p in pkgs {
        m.entry(p.ecosystem.short()).or_default().push(p);
    }
    m
}

fn find<'a>(pkgs: &'a [Package], purl: &str) -> &'a Package {
    pkgs.iter().find(|p| p.purl == purl).unwrap_or_else(|| panic!("no {purl} in {:#?}", pkgs.iter().map(|p| &p.purl).collect::<Vec<_>>()))
}

#[test]
fn a_debian_image_with_language_packages_in_three_compressions_is_inventoried_exactly() {
    let base = layer(&debian_base(), Z::Gzip);
    let apps = layer(
        &[
            E::File("usr/lib/python3/dist-packages/requests-2.32.3.dist-info/METADATA", data("python/requests-2.32.3.dist-info__METADATA"), 0o644),
            E::File("usr/local/lib/python3.11/site-packages/urllib3-2.2.3.dist-info/METADATA", data("python/urllib3-2.2.3.dist-info__METADATA"), 0o644),
            E::File("app/package-lock.json", data("npm/package-lock.json"), 0o644),
            E::File("app/node_modules/debug/package.json", data("npm/node_modules/debug/package.json"), 0o644),
            E::File("app/node_modules/ms/package.json", data("npm/node_modules/ms/package.json"), 0o644),
            E::File("app/node_modules/@tootallnate/once/package.json", data("npm/node_modules/@tootallnate/once/package.json"), 0o644),
            E::File("usr/local/bin/kubectl", binary("go/kubectl.buildinfo.elf"), 0o755),
            E::File("usr/local/bin/registry", binary("go/registry.buildinfo.elf"), 0o755),
            E::File("usr/local/bin/audbin", binary("rust/audbin.dep-v0.elf"), 0o755),
        ],
        Z::Zstd,
    );
    // the top layer deletes the registry binary and hard-links kubectl
    let top = layer(&[E::File("usr/local/bin/.wh.registry", vec![], 0o644), E::Hardlink("usr/bin/kubectl", "usr/local/bin/kubectl")], Z::Plain);
    let (base_digest, apps_digest) = (base.blob.digest().to_string(), apps.blob.digest().to_string());
    let img = image(vec![base, apps, top]);
    let inv = inventory::inventory(&img).unwrap();
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let os = inv.os.as_ref().unwrap();
    assert_eq!((os.id.as_str(), os.version_id.as_str()), ("debian", "12"));
    let eco = by_ecosystem(&inv.packages);

    // dpkg: exactly what dpkg-query lists for the same status file
    let expected: BTreeSet<Vec<String>> = String::from_utf8(data("debian-bookworm/dpkg-query.tsv")).unwrap().lines().map(|l| l.split('\t').map(str::to_string).collect()).collect();
    let got: BTreeSet<Vec<String>> = eco["debian"]
        .iter()
        .map(|p| {
            let arch = p.purl.split("arch=").nth(1).unwrap().split('&').next().unwrap().to_string();
            let (src, src_ver) = match &p.source {
                Some((s, v)) => (s.clone(), v.clone().unwrap_or(p.version.clone())),
                None => (p.name.clone(), p.version.clone()),
            };
            vec![p.name.clone(), p.version.clone(), arch, src, src_ver]
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(eco["debian"].len(), 88);
    assert!(eco["debian"].iter().all(|p| p.layer.as_deref() == Some(base_digest.as_str()) && p.ecosystem == Ecosystem::Debian(Some("debian:12".into()))));
    let bf = find(&inv.packages, "pkg:deb/debian/base-files@12.4%2Bdeb12u15?arch=amd64&distro=debian-12");
    assert_eq!(bf.path.as_deref(), Some("/var/lib/dpkg/status"));
    let libc = eco["debian"].iter().find(|p| p.name == "libc6").unwrap();
    assert_eq!(libc.source.as_ref().unwrap().0, "glibc");

    // Python
    assert_eq!(eco["pypi"].len(), 2);
    let req = find(&inv.packages, "pkg:pypi/requests@2.32.3");
    assert_eq!((req.licenses.clone(), req.layer.as_deref()), (vec!["Apache-2.0".to_string()], Some(apps_digest.as_str())));
    find(&inv.packages, "pkg:pypi/urllib3@2.2.3");

    // npm: installed manifests; the lockfile's same packages are not counted twice
    let npm: BTreeSet<&str> = eco["npm"].iter().map(|p| p.purl.as_str()).collect();
    assert_eq!(npm, BTreeSet::from(["pkg:npm/%40tootallnate/once@2.0.0", "pkg:npm/debug@4.3.7", "pkg:npm/ms@2.1.3"]));
    assert!(eco["npm"].iter().all(|p| p.path.as_deref().unwrap().ends_with("/package.json")));

    // Go: kubectl's stdlib, main module and 81 deps; the whited-out registry binary is gone
    let go: Vec<&&Package> = eco["golang"].iter().collect();
    assert_eq!(go.len(), 1 + 1 + 81, "{:#?}", go.iter().map(|p| &p.purl).collect::<Vec<_>>());
    find(&inv.packages, "pkg:golang/stdlib@v1.24.2");
    find(&inv.packages, "pkg:golang/k8s.io/kubernetes@v1.33.1");
    find(&inv.packages, "pkg:golang/github.com/MakeNowJust/heredoc@v1.0.0");
    assert!(!inv.packages.iter().any(|p| p.version == "v1.19.8"));
    assert!(go.iter().all(|p| p.path.as_deref() == Some("/usr/local/bin/kubectl")));

    // Rust (cargo-auditable)
    let cargo: BTreeSet<&str> = eco["cargo"].iter().map(|p| p.purl.as_str()).collect();
    assert_eq!(cargo, BTreeSet::from(["pkg:cargo/audbin@0.1.0", "pkg:cargo/itoa@1.0.11"]));
}

#[test]
fn whiteouts_and_opaque_directories_delete_package_databases() {
    let base = layer(&debian_base(), Z::Gzip);
    let deleted = image(vec![base.clone(), layer(&[E::File("var/lib/dpkg/.wh.status", vec![], 0o644)], Z::Plain)]);
    let inv = inventory::inventory(&deleted).unwrap();
    assert!(inv.packages.is_empty(), "{:?}", inv.packages);
    assert_eq!(inv.os.unwrap().id, "debian");

    // an opaque /var/lib/dpkg with a new status of one package: only that package, from the top layer
    let one = "Package: only\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n";
    let top = layer(&[E::File("var/lib/dpkg/.wh..wh..opq", vec![], 0o644), E::File("var/lib/dpkg/status", one.as_bytes().to_vec(), 0o644)], Z::Zstd);
    let top_digest = top.blob.digest().to_string();
    let inv = inventory::inventory(&image(vec![base.clone(), top])).unwrap();
    assert_eq!(inv.packages.len(), 1);
    assert_eq!(inv.packages[0].purl, "pkg:deb/debian/only@1.0-1?arch=amd64&distro=debian-12");
    assert_eq!(inv.packages[0].layer.as_deref(), Some(top_digest.as_str()));

    // /var replaced by a file: everything under it is gone
    let inv = inventory::inventory(&image(vec![base, layer(&[E::File("var", b"x".to_vec(), 0o644)], Z::Gzip)])).unwrap();
    assert!(inv.packages.is_empty());
}

#[test]
fn distroless_status_d_files_are_read_and_md5sums_ignored() {
    let status = String::from_utf8(data("debian-bookworm/var/lib/dpkg/status")).unwrap();
    let para = |name: &str| status.split("\n\n").find(|p| p.starts_with(&format!("Package: {name}\n"))).unwrap().replace("Status: install ok installed\n", "");
    let img = image(vec![layer(
        &[
            E::File("etc/os-release", data("debian-bookworm/usr/lib/os-release"), 0o644),
            E::File("var/lib/dpkg/status.d/base-files", para("base-files").into_bytes(), 0o644),
            E::File("var/lib/dpkg/status.d/tzdata", para("tzdata").into_bytes(), 0o644),
            E::File("var/lib/dpkg/status.d/tzdata.md5sums", b"abc  usr/share/zoneinfo/UTC\n".to_vec(), 0o644),
        ],
        Z::Gzip,
    )]);
    let inv = inventory::inventory(&img).unwrap();
    let names: BTreeSet<&str> = inv.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["base-files", "tzdata"]));
    assert!(inv.packages.iter().all(|p| p.path.as_deref().unwrap().starts_with("/var/lib/dpkg/status.d/")));
}

#[test]
fn a_sqlite_rpmdb_written_by_rpm_gives_what_rpm_qa_lists() {
    let os = b"NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n".to_vec();
    let img = image(vec![layer(&[E::File("etc/os-release", os, 0o644), E::File("var/lib/rpm/rpmdb.sqlite", data("rpm/rpmdb.sqlite"), 0o644)], Z::Gzip)]);
    let inv = inventory::inventory(&img).unwrap();
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let expected: BTreeSet<String> = String::from_utf8(data("rpm/rpm-qa.tsv")).unwrap().lines().map(str::to_string).collect();
    let got: BTreeSet<String> = inv
        .packages
        .iter()
        .map(|p| {
            let (epoch, vr) = p.version.split_once(':').unwrap_or(("0", &p.version));
            let (v, r) = vr.split_once('-').unwrap();
            let src = match &p.source {
                Some((n, Some(v))) => format!("{n}-{v}.src.rpm"),
                _ => format!("{}-{vr}.src.rpm", p.name),
            };
            format!("{}\t{epoch}\t{v}\t{r}\tnoarch\t{src}\t{}", p.name, p.licenses.join(" "))
        })
        .collect();
    assert_eq!(got, expected);
    let tz = find(&inv.packages, "pkg:rpm/rocky/tzdata-lite@2024a-1.el9?arch=noarch&distro=rocky-9.4&epoch=1");
    assert_eq!(tz.version, "1:2024a-1.el9");
    assert_eq!(tz.ecosystem, Ecosystem::Rpm { distro: "Rocky Linux".into(), release: Some("9.4".into()) });
}

#[test]
fn the_sqlite_reader_follows_interior_pages_and_overflow_chains() {
    let db = data("rpm/overflow.sqlite");
    let (mut rows, mut bytes) = (0usize, 0usize);
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    let mut last = 0;
    sqlite::each_row(&db, "packages", &mut |rowid, cols| {
        assert!(rowid > last, "rowid order");
        last = rowid;
        let b = cols[1].bytes().unwrap();
        rows += 1;
        bytes += b.len();
        sha2::Digest::update(&mut h, b);
    })
    .unwrap();
    let got = format!("rows {rows}\nbytes {bytes}\nsha256 {}\n", hex::encode(sha2::Digest::finalize(h)));
    assert_eq!(got, String::from_utf8(data("rpm/overflow.expected")).unwrap());
    assert!(sqlite::each_row(&db, "nope", &mut |_, _| {}).unwrap_err().contains("no table nope"));
    // every truncation is an error or fewer rows, never a panic
    for cut in [100, 4096, 8192, 30000, db.len() - 1] {
        let _ = sqlite::each_row(&db[..cut], "Packages", &mut |_, _| {});
    }
}

/// Records every file it is given.
#[derive(Default)]
struct Record {
    want: Vec<&'static str>,
    got: Vec<(String, Option<String>, usize, Vec<u8>)>,
}

impl Visitor for Record {
    fn wants(&self, path: &str, _: u64, _: u32) -> bool {
        self.want.is_empty() || self.want.contains(&path)
    }
    fn file(&mut self, f: &FileMeta<'_>, contents: &[u8]) {
        self.got.push((f.path.to_string(), f.target.map(str::to_string), f.layer_index, contents.to_vec()));
    }
}

#[test]
fn the_walk_sees_the_final_filesystem_each_file_from_its_last_layer() {
    let l0 = layer(&[E::File("a/1", b"a1".to_vec(), 0o644), E::File("a/2", b"a2".to_vec(), 0o644), E::File("b/1", b"b1".to_vec(), 0o644), E::File("c", b"old".to_vec(), 0o644), E::File("d/x", b"dx".to_vec(), 0o644)], Z::Gzip);
    // a path longer than a tar header holds (written as a GNU long name)
    const LONG: &str = "b/very/deep/node_modules/@scope/with-a-long-name/node_modules/another-package/lib/deeper/still/deeper/file.txt";
    let l1 = layer(&[E::File("a/.wh.1", vec![], 0o644), E::File("b/.wh..wh..opq", vec![], 0o644), E::File("b/2", b"b2".to_vec(), 0o644), E::File("c", b"new".to_vec(), 0o644), E::Symlink("d", "/a"), E::File(LONG, b"long".to_vec(), 0o644)], Z::Zstd);
    let img = image(vec![l0, l1]);
    let mut r = Record::default();
    let stats = fs::walk(&mut ImageLayers::new(&img), &mut [&mut r]).unwrap();
    let mut got: Vec<(String, usize, String)> = r.got.into_iter().map(|(p, _, l, c)| (p, l, String::from_utf8(c).unwrap())).collect();
    got.sort();
    assert_eq!(got, [("/a/2".to_string(), 0, "a2".to_string()), ("/b/2".into(), 1, "b2".into()), (format!("/{LONG}"), 1, "long".into()), ("/c".into(), 1, "new".into())]);
    assert_eq!(stats.layers, 2);
    assert!(stats.tar_bytes > 0 && stats.files_read == 4);
}

#[test]
fn links_to_files_already_streamed_past_are_resolved_by_a_second_read_when_the_source_can_reopen() {
    // the target is in the upper layer (read first); the link in the lower one
    let upper = layer(&[E::File("usr/lib/os-release", b"ID=debian\nVERSION_ID=13\n".to_vec(), 0o644)], Z::Zstd);
    let lower = layer(&[E::File("usr/lib/os-release", b"ID=debian\nVERSION_ID=12\n".to_vec(), 0o644), E::Symlink("etc/os-release", "../usr/lib/os-release"), E::Hardlink("etc/hard", "usr/lib/os-release")], Z::Gzip);
    let img = image(vec![lower, upper]);
    let want = || Record { want: vec!["/etc/os-release", "/etc/hard"], got: vec![] };
    let mut r = want();
    let stats = fs::walk(&mut ImageLayers::new(&img), &mut [&mut r]).unwrap();
    assert!(stats.unresolved_links.is_empty(), "{:?}", stats.unresolved_links);
    r.got.sort();
    assert_eq!(r.got.len(), 2);
    let (path, target, layer, contents) = &r.got[1];
    assert_eq!((path.as_str(), target.as_deref(), *layer), ("/etc/os-release", Some("/usr/lib/os-release"), 1));
    assert_eq!(contents, b"ID=debian\nVERSION_ID=13\n");

    // a stream source cannot go back: the link is reported unresolved, not guessed
    let streams: Vec<(LayerInfo, &[u8])> = img.layers.iter().map(|b| (LayerInfo { digest: b.digest().into(), media_type: b.descriptor.media_type.clone(), size: b.descriptor.size }, &b.data[..])).collect();
    let mut r = want();
    let stats = fs::walk(&mut StreamLayers::new(streams), &mut [&mut r]).unwrap();
    assert_eq!(stats.unresolved_links, ["/etc/hard", "/etc/os-release"]);
    assert!(r.got.is_empty());
}

#[test]
fn a_corrupt_layer_is_an_error_naming_the_layer() {
    let mut l = layer(&debian_base(), Z::Gzip);
    let mut data = l.blob.data.to_vec();
    data.truncate(data.len() / 2);
    l.blob = Blob::new(spec::OCI_LAYER_GZIP, data);
    let digest = l.blob.digest().to_string();
    let e = inventory::inventory(&image(vec![l])).unwrap_err().to_string();
    assert!(e.contains(&digest) && e.contains("pull it again"), "{e}");
}

#[test]
fn a_stream_per_layer_gives_the_same_inventory_as_the_image_in_memory() {
    let img = image(vec![layer(&debian_base(), Z::Gzip), layer(&[E::File("srv/package-lock.json", data("npm/package-lock.json"), 0o644)], Z::Zstd)]);
    let from_image = inventory::inventory(&img).unwrap();
    let streams: Vec<(LayerInfo, std::io::Cursor<Vec<u8>>)> =
        img.layers.iter().map(|b| (LayerInfo { digest: b.digest().into(), media_type: b.descriptor.media_type.clone(), size: b.descriptor.size }, std::io::Cursor::new(b.data.to_vec()))).collect();
    let (from_streams, stats) = inventory::inventory_of(&mut StreamLayers::new(streams)).unwrap();
    assert_eq!(from_streams, from_image);
    assert!(stats.unresolved_links.is_empty());
    // a lockfile without node_modules: its packages, found in the lockfile
    let npm: Vec<(&str, &str)> = from_image.packages.iter().filter(|p| p.ecosystem == Ecosystem::Npm).map(|p| (p.purl.as_str(), p.path.as_deref().unwrap())).collect();
    assert_eq!(npm, [("pkg:npm/%40tootallnate/once@2.0.0", "/srv/package-lock.json"), ("pkg:npm/debug@4.3.7", "/srv/package-lock.json"), ("pkg:npm/ms@2.1.3", "/srv/package-lock.json")]);
}
