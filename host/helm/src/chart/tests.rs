//! Chart loading compared with real Helm: the same directories and
//! packages loaded by both, metadata, files, templates, values and errors
//! required to be identical.

use std::path::{Path, PathBuf};

use serde_json::{json, Value as J};

use super::*;
use crate::values::oracle;

fn write(root: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// Metadata as encoding/json writes `chart.Metadata` (its json tags, omitempty).
fn metadata_json(md: &Metadata) -> J {
    let mut m = serde_json::Map::new();
    let mut s = |k: &str, v: &str| {
        if !v.is_empty() {
            m.insert(k.into(), v.into());
        }
    };
    s("name", &md.name);
    s("home", &md.home);
    s("version", &md.version);
    s("description", &md.description);
    s("icon", &md.icon);
    s("apiVersion", &md.api_version);
    s("condition", &md.condition);
    s("tags", &md.tags);
    s("appVersion", &md.app_version);
    s("kubeVersion", &md.kube_version);
    s("type", &md.chart_type);
    if !md.sources.is_empty() {
        m.insert("sources".into(), json!(md.sources));
    }
    if !md.keywords.is_empty() {
        m.insert("keywords".into(), json!(md.keywords));
    }
    if md.deprecated {
        m.insert("deprecated".into(), json!(true));
    }
    if let Some(a) = &md.annotations {
        if !a.is_empty() {
            m.insert("annotations".into(), json!(a));
        }
    }
    if !md.maintainers.is_empty() {
        let list: Vec<J> = md
            .maintainers
            .iter()
            .map(|mt| {
                let mut o = serde_json::Map::new();
                for (k, v) in [("name", &mt.name), ("email", &mt.email), ("url", &mt.url)] {
                    if !v.is_empty() {
                        o.insert(k.into(), v.as_str().into());
                    }
                }
                J::Object(o)
            })
            .collect();
        m.insert("maintainers".into(), J::Array(list));
    }
    if !md.dependencies.is_empty() {
        let list: Vec<J> = md
            .dependencies
            .iter()
            .map(|d| {
                let mut o = serde_json::Map::new();
                o.insert("name".into(), d.name.as_str().into());
                if !d.version.is_empty() {
                    o.insert("version".into(), d.version.as_str().into());
                }
                o.insert("repository".into(), d.repository.as_str().into());
                if !d.condition.is_empty() {
                    o.insert("condition".into(), d.condition.as_str().into());
                }
                if !d.tags.is_empty() {
                    o.insert("tags".into(), json!(d.tags));
                }
                if d.enabled {
                    o.insert("enabled".into(), json!(true));
                }
                if !d.import_values.is_empty() {
                    o.insert("import-values".into(), J::Array(d.import_values.iter().map(oracle::to_json).collect()));
                }
                if !d.alias.is_empty() {
                    o.insert("alias".into(), d.alias.as_str().into());
                }
                J::Object(o)
            })
            .collect();
        m.insert("dependencies".into(), J::Array(list));
    }
    J::Object(m)
}

/// What the oracle reports of a loaded chart, from our side.
fn summary(c: &Chart) -> J {
    let files: Vec<J> = c.files.iter().map(|f| json!({"name": f.name, "data": f.text()})).collect();
    let templates: Vec<J> = c.templates.iter().map(|f| json!(f.name)).collect();
    let deps: Vec<J> = c.dependencies.iter().map(|d| metadata_json(&d.metadata)).collect();
    json!({"ok": {
        "metadata": metadata_json(&c.metadata),
        "files": files,
        "templates": templates,
        "values": oracle::to_json(&c.values),
        "deps": deps,
        "schema": c.schema.as_ref().map(|s| serde_json::from_slice::<J>(s).unwrap_or(J::Null)),
    }})
}

const LOAD_SCRIPT: &str = r#"
import json, sys
import helm_python as helm
out = []
for p in json.load(sys.stdin):
    try:
        with helm.Chart.load(p) as c:
            out.append({"ok": {
                "metadata": c.metadata,
                "files": sorted(c.files, key=lambda f: f["name"]),
                "templates": sorted(t["name"] for t in c.templates),
                "values": c.values,
                "deps": sorted(c.dependencies, key=lambda d: d.get("name", "")),
                "schema": c.schema,
            }})
    except Exception as ex:
        out.append({"err": str(ex)})
print(json.dumps(out))
"#;

fn ours(path: &Path) -> J {
    match load(path) {
        Ok(mut c) => {
            c.files.sort_by(|a, b| a.name.cmp(&b.name));
            c.templates.sort_by(|a, b| a.name.cmp(&b.name));
            c.dependencies.sort_by(|a, b| a.name().cmp(b.name()));
            summary(&c)
        }
        Err(e) => json!({"err": e.message}),
    }
}

/// Loads every path with Helm and with us; all must agree.
fn compare_with_helm(paths: &[PathBuf]) {
    let input: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let Some(answers) = oracle::run(LOAD_SCRIPT, &json!(input)) else { return };
    let mut failures = Vec::new();
    for (p, want) in paths.iter().zip(answers.as_array().unwrap()) {
        let got = ours(p);
        if oracle::numbers_as_f64(&got) != oracle::numbers_as_f64(want) {
            failures.push(format!("{}:\n  helm {want}\n  ours {got}", p.display()));
        }
    }
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), paths.len(), failures.join("\n"));
}

#[test]
fn chart_yaml_decoding_and_validation_match_helm() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        ("num_version", "apiVersion: v2\nname: x\nversion: 1.0\n"),
        ("missing_name", "apiVersion: v2\nversion: 1.0.0\n"),
        ("missing_version", "apiVersion: v2\nname: x\n"),
        ("bad_semver", "apiVersion: v2\nname: x\nversion: abc\n"),
        ("bad_semver2", "apiVersion: v2\nname: x\nversion: 1.2.3.4\n"),
        ("leading_zero", "apiVersion: v2\nname: x\nversion: 01.2.3\n"),
        ("v_prefix", "apiVersion: v2\nname: x\nversion: v1.2\n"),
        ("name_slash", "apiVersion: v2\nname: a/b\nversion: 1.0.0\n"),
        ("name_dot", "apiVersion: v2\nname: ..\nversion: 1.0.0\n"),
        ("bad_type", "apiVersion: v2\nname: x\nversion: 1.0.0\ntype: foo\n"),
        ("library", "apiVersion: v2\nname: x\nversion: 1.0.0\ntype: library\n"),
        ("no_api", "name: x\nversion: 1.0.0\n"),
        ("caps", "apiVersion: v2\nNAME: x\nVersion: 1.0.0\nname: y\n"),
        ("kw_str", "apiVersion: v2\nname: x\nversion: 1.0.0\nkeywords: abc\n"),
        ("dep_bad_alias", "apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n- name: a\n  alias: a.b\n"),
        ("dup_dep", "apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n- name: a\n- name: b\n  alias: a\n"),
        ("null_dep", "apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n- null\n"),
        ("null_maint", "apiVersion: v2\nname: x\nversion: 1.0.0\nmaintainers:\n- null\n"),
        ("list", "- a\n"),
        ("badyaml", "a: [\n"),
        ("deprecated_str", "apiVersion: v2\nname: x\nversion: 1.0.0\ndeprecated: 'yes'\n"),
        ("annot_num", "apiVersion: v2\nname: x\nversion: 1.0.0\nannotations:\n  a: 1\n  b: true\n"),
        ("tab_name", "apiVersion: v2\nname: \"a\\tb\"\nversion: 1.0.0\n"),
        ("maint_name_list", "apiVersion: v2\nname: x\nversion: 1.0.0\nmaintainers:\n- name: [1]\n"),
        ("maint_str", "apiVersion: v2\nname: x\nversion: 1.0.0\nmaintainers:\n- abc\n"),
        ("dep_tags", "apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n- name: a\n  tags: x\n"),
        ("dep_enabled", "apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n- name: a\n  enabled: 'x'\n"),
        ("annot_list", "apiVersion: v2\nname: x\nversion: 1.0.0\nannotations:\n  a: [1]\n"),
        ("ver_float", "apiVersion: v2\nname: x\nversion: 1.10\nappVersion: 2.5\nhome: 1234567\n"),
        ("name_obj", "apiVersion: v2\nname: {a: 1}\nversion: 1.0.0\n"),
        ("empty", ""),
        ("octal_float", "apiVersion: v2\nname: x\nversion: 1.0.0\nappVersion: 0777\nhome: 1e6\ndescription: 1.0e+3\nicon: 0x1F\n"),
        ("null_fields", "apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies: null\nannotations: null\nkeywords: ~\n"),
        (
            "full",
            "apiVersion: v2\nname: full\nversion: 1.2.3-rc.1+b5\nkubeVersion: '>=1.20'\ndescription: d\ntype: application\nkeywords: [a, b]\nhome: https://x\nsources: [https://s]\nmaintainers:\n- name: me\n  email: m@x\n  url: https://u\nicon: https://i\nappVersion: '1.0'\ndeprecated: true\nannotations:\n  k: v\ndependencies:\n- name: dep\n  version: ~1.2.0\n  repository: https://r\n  condition: dep.enabled,global.dep\n  tags: [t1]\n  import-values:\n  - data\n  - child: a.b\n    parent: c\n  alias: d2\nunknownField: 1\n",
        ),
    ];
    let mut paths = Vec::new();
    for (name, text) in cases {
        let root = dir.path().join(name);
        write(&root, &[("Chart.yaml", text), ("templates/a.yaml", "a: 1\n")]);
        paths.push(root);
    }
    let missing = dir.path().join("no_chart_yaml");
    write(&missing, &[("values.yaml", "a: 1\n")]);
    paths.push(missing);
    paths.push(dir.path().join("does-not-exist"));
    compare_with_helm(&paths);
}

#[test]
fn files_templates_values_and_helmignore_match_helm() {
    let dir = tempfile::tempdir().unwrap();
    let base: &[(&str, &str)] = &[
        ("Chart.yaml", "apiVersion: v2\nname: files\nversion: 0.1.0\n"),
        ("values.yaml", "a: 1\nb:\n  c: [1, x]\n---\nb:\n  d: 2\n"),
        ("values.schema.json", "{\"type\": \"object\"}"),
        ("templates/_helpers.tpl", "{{/* x */}}"),
        ("templates/deploy.yaml", "kind: Deployment\n"),
        ("templates/.hidden.yaml", "hidden\n"),
        ("templates/NOTES.txt", "notes\n"),
        ("templates/sub/x.yaml", "x\n"),
        ("crds/crd.yaml", "kind: CustomResourceDefinition\n"),
        ("files/a.txt", "a\n"),
        ("files/b.bak", "b\n"),
        ("files/sub/c.conf", "c\n"),
        ("secret/key", "k\n"),
        ("README.md", "\u{feff}readme\n"),
        ("Chart.lock", "generated: \"2020-01-01T00:00:00Z\"\ndigest: x\ndependencies: []\n"),
        ("requirements.yaml", "dependencies: []\n"),
        ("charts/_skip/x", "x\n"),
        ("charts/x.prov", "prov\n"),
    ];
    let ignores = [
        "",
        "*.bak\nsecret/\n",
        "# comment\n/files/sub\n",
        "!files/a.txt\n",
        "files/*\n!files/a.txt\n",
        "*.md\ntemplates/sub/\n",
        "[",
        "a/**/b\n",
        "crds/\n",
        ".helmignore\n",
    ];
    let mut paths = Vec::new();
    for (i, ig) in ignores.iter().enumerate() {
        let root = dir.path().join(format!("c{i}"));
        write(&root, base);
        if !ig.is_empty() {
            write(&root, &[(".helmignore", ig)]);
        }
        paths.push(root);
    }
    // A v1 chart keeps requirements.yaml among its files and reads its dependencies.
    let v1 = dir.path().join("v1");
    write(
        &v1,
        &[
            ("Chart.yaml", "apiVersion: v1\nname: v1chart\nversion: 0.1.0\n"),
            ("requirements.yaml", "dependencies:\n- name: sub\n  version: 0.1.0\n  repository: file://x\n"),
            ("charts/sub/Chart.yaml", "name: sub\nversion: 0.1.0\n"),
            ("charts/sub/values.yaml", "s: 1\n"),
        ],
    );
    paths.push(v1);
    let bad_values = dir.path().join("bad_values");
    write(&bad_values, &[("Chart.yaml", "apiVersion: v2\nname: bv\nversion: 0.1.0\n"), ("values.yaml", "- a\n")]);
    paths.push(bad_values);
    let stray = dir.path().join("stray_in_charts");
    write(&stray, &[("Chart.yaml", "apiVersion: v2\nname: st\nversion: 0.1.0\n"), ("charts/README.md", "x\n"), ("charts/.gitkeep", "")]);
    paths.push(stray);
    let bad_tgz = dir.path().join("bad_sub_tgz");
    write(&bad_tgz, &[("Chart.yaml", "apiVersion: v2\nname: bt\nversion: 0.1.0\n"), ("charts/x-1.0.0.tgz", "not gzip")]);
    paths.push(bad_tgz);
    let bad_sub = dir.path().join("bad_sub");
    write(&bad_sub, &[("Chart.yaml", "apiVersion: v2\nname: bs\nversion: 0.1.0\n"), ("charts/s/Chart.yaml", "apiVersion: v2\nname: s\n")]);
    paths.push(bad_sub);
    compare_with_helm(&paths);
}

/// A gzipped tar with the given (name, data) entries, written raw so that
/// names Helm must refuse can be made.
fn tgz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        {
            let bytes = name.as_bytes();
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name[..bytes.len()].copy_from_slice(bytes);
        }
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        builder.append(&h, *data).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

#[test]
fn packages_and_their_refusals_match_helm() {
    let dir = tempfile::tempdir().unwrap();
    let chart_yaml: &[u8] = b"apiVersion: v2\nname: pkg\nversion: 0.1.0\n";
    let sub = tgz(&[("sub/Chart.yaml", b"apiVersion: v2\nname: sub\nversion: 0.2.0\n"), ("sub/values.yaml", b"s: 1\n")]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("good.tgz", tgz(&[("pkg/Chart.yaml", chart_yaml), ("pkg/values.yaml", b"a: 1\n"), ("pkg/templates/t.yaml", b"t\n"), ("pkg/charts/sub-0.2.0.tgz", &sub)])),
        ("dotdot.tgz", tgz(&[("pkg/Chart.yaml", chart_yaml), ("pkg/../../etc/x", b"x")])),
        ("top_chart_yaml.tgz", tgz(&[("Chart.yaml", chart_yaml)])),
        ("only_top_dir.tgz", tgz(&[("pkg/Chart.yaml", chart_yaml), ("pkg", b"x")])),
        ("drive.tgz", tgz(&[("pkg/Chart.yaml", chart_yaml), ("pkg/c:/x", b"x")])),
        ("backslash.tgz", tgz(&[("pkg\\Chart.yaml", chart_yaml), ("pkg\\templates\\t.yaml", b"t\n")])),
        ("empty.tgz", tgz(&[])),
        ("not_gzip.tgz", b"hello world".to_vec()),
        ("values.yaml", b"a: 1\n".to_vec()),
        ("truncated.tgz", {
            let mut t = tgz(&[("pkg/Chart.yaml", chart_yaml)]);
            t.truncate(t.len() / 2);
            t
        }),
    ];
    let mut paths = Vec::new();
    for (name, data) in &cases {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        paths.push(p);
    }
    compare_with_helm(&paths);
}

#[test]
fn chart_object_is_helms_map() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: c1\nversion: 0.1.0\nappVersion: \"1.2\"\ndescription: A chart\nkeywords: [a, b]\nmaintainers:\n  - name: me\n    email: me@x.io\nannotations:\n  k: v\n"),
            ("templates/t.yaml", "{{ toJson .Chart }}"),
        ],
    );
    let script = r#"
import json, sys
import helm_python as helm
with helm.Chart.load(json.load(sys.stdin)) as c:
    out = c.render(values={}, name="r", namespace="default", is_install=True)
print(json.dumps(json.loads(out["c1/templates/t.yaml"])))
"#;
    let Some(want) = oracle::run(script, &json!(dir.path().display().to_string())) else { return };
    let c = load(dir.path()).unwrap();
    assert_eq!(oracle::to_json(&c.metadata_value(true)), want);
    let v = c.metadata_value(true);
    assert_eq!(v.get("Keywords").unwrap().type_name(), "[]interface {}");
    assert_eq!(v.get("Annotations").unwrap().type_name(), "map[string]string");
}

#[test]
fn files_object_matches_helm() {
    let dir = tempfile::tempdir().unwrap();
    let files: &[(&str, &str)] = &[
        ("Chart.yaml", "apiVersion: v2\nname: f\nversion: 0.1.0\n"),
        ("files/a.txt", "line1\nline2\n"),
        ("files/b.yaml", "x: \"y\"\nz"),
        ("files/sub/c.conf", "  leading\ntrailing  \n\n"),
        ("files/sub/deep/d.json", "{\"k\": [1, 2]}"),
        ("files/empty.txt", ""),
        ("files/crlf.txt", "a\r\nb\r\n"),
        ("files/true", "yes"),
        ("files/.dot", "dot\n"),
        ("config/app.properties", "key=value\n# comment: x\n"),
        ("config/num.txt", "123"),
        ("README.md", "# readme\n"),
    ];
    write(dir.path(), files);
    let patterns = [
        "files/*", "files/**", "**", "*", "**.txt", "files/*.txt", "files/**/*.json", "files/{a.txt,b.yaml}", "files/[ab].*", "files/[!ab]*", "files/?.txt", "config/*",
        "*/*", "files/sub/*", "files/sub/**", "[", "files/{a", "files\\/a.txt", "**/c.conf", "files/.*", "nope/*",
    ];
    let mut tpl = String::new();
    for (i, p) in patterns.iter().enumerate() {
        tpl.push_str(&format!("G{i}={{{{ range $k, $v := .Files.Glob {p:?} }}}}{{{{ $k }}}},{{{{ end }}}}\n"));
    }
    for (i, p) in ["files/**", "config/*", "files/sub/**", "nope"].iter().enumerate() {
        tpl.push_str(&format!("C{i}={{{{ (.Files.Glob {p:?}).AsConfig | quote }}}}\nS{i}={{{{ (.Files.Glob {p:?}).AsSecrets | quote }}}}\n"));
    }
    for (i, f) in ["files/a.txt", "files/sub/c.conf", "files/crlf.txt", "nope", "files/b.yaml"].iter().enumerate() {
        tpl.push_str(&format!("L{i}={{{{ .Files.Lines {f:?} | toJson }}}}\nB{i}={{{{ .Files.Get {f:?} | quote }}}}\n"));
    }
    write(dir.path(), &[("templates/t.yaml", &tpl)]);
    let script = r#"
import json, sys
import helm_python as helm
with helm.Chart.load(json.load(sys.stdin)) as c:
    out = c.render(values={}, name="r", namespace="default", is_install=True)
print(json.dumps(out["f/templates/t.yaml"]))
"#;
    let Some(want) = oracle::run(script, &json!(dir.path().display().to_string())) else { return };
    let want = want.as_str().unwrap();
    let c = load(dir.path()).unwrap();
    let f = Files::from_files(&c.files);
    let q = |s: &str| crate::chart::go_quote(s);
    let mut got = String::new();
    for (i, p) in patterns.iter().enumerate() {
        let g = f.glob(p);
        got.push_str(&format!("G{i}={}\n", g.names().map(|n| format!("{n},")).collect::<String>()));
    }
    for (i, p) in ["files/**", "config/*", "files/sub/**", "nope"].iter().enumerate() {
        let g = f.glob(p);
        got.push_str(&format!("C{i}={}\nS{i}={}\n", q(&g.as_config()), q(&g.as_secrets())));
    }
    for (i, name) in ["files/a.txt", "files/sub/c.conf", "files/crlf.txt", "nope", "files/b.yaml"].iter().enumerate() {
        got.push_str(&format!("L{i}={}\nB{i}={}\n", serde_json::to_string(&f.lines(name).unwrap()).unwrap(), q(&f.get(name))));
    }
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let diffs: Vec<String> = w.iter().zip(&g).filter(|(a, b)| a != b).map(|(a, b)| format!("helm {a}\nours {b}")).collect();
    assert!(diffs.is_empty() && w.len() == g.len(), "{}", diffs.join("\n"));
}

#[test]
fn garbage_archives_are_errors_not_panics() {
    let good = tgz(&[("pkg/Chart.yaml", b"apiVersion: v2\nname: pkg\nversion: 0.1.0\n"), ("pkg/values.yaml", b"a: 1\n")]);
    let mut seed = 0x243F6A8885A308D3u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..400 {
        let mut data = good.clone();
        // Flip a few bytes past the gzip header, or cut the stream short.
        for _ in 0..(1 + next() % 4) {
            let i = 10 + (next() as usize) % (data.len() - 10);
            data[i] ^= (next() % 255 + 1) as u8;
        }
        if next() % 3 == 0 {
            data.truncate(10 + (next() as usize) % (data.len() - 10));
        }
        let _ = load_archive(&data);
    }
    assert_eq!(load_archive(&[]).unwrap_err().message, "EOF");
    assert_eq!(load_archive(b"\x1f\x8b\x08").unwrap_err().message, "unexpected EOF");
}

#[test]
fn oversized_files_are_refused() {
    let big = vec![b'a'; (MAX_DECOMPRESSED_FILE_SIZE + 1) as usize];
    let data = tgz(&[("pkg/Chart.yaml", b"apiVersion: v2\nname: pkg\nversion: 0.1.0\n"), ("pkg/big.txt", &big)]);
    assert_eq!(load_archive(&data).unwrap_err().message, format!("decompressed chart file \"pkg/big.txt\" is larger than the maximum file size {MAX_DECOMPRESSED_FILE_SIZE}"));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("Chart.yaml", "apiVersion: v2\nname: d\nversion: 0.1.0\n")]);
    std::fs::write(dir.path().join("big.txt"), &big).unwrap();
    assert_eq!(load(dir.path()).unwrap_err().message, format!("chart file \"big.txt\" is larger than the maximum file size {MAX_DECOMPRESSED_FILE_SIZE}"));
}

#[test]
fn a_symlink_loop_ends_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("Chart.yaml", "apiVersion: v2\nname: d\nversion: 0.1.0\n")]);
    std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
    let err = load(dir.path()).unwrap_err();
    assert!(err.message.contains("too many levels"), "{}", err.message);
}

#[test]
fn crds_of_a_chart_and_its_subcharts_match_helm() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: top\nversion: 0.1.0\n"),
            ("crds/a.yaml", "kind: A\n"),
            ("crds/b.JSON", "{}\n"),
            ("crds/notes.txt", "not a crd\n"),
            ("crds/nested/c.yml", "kind: C\n"),
            ("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n"),
            ("charts/sub/crds/s.yaml", "kind: S\n"),
        ],
    );
    let script = r#"
import json, sys
import helm_python as helm
with helm.Chart.load(json.load(sys.stdin)) as c:
    print(json.dumps(c.crds))
"#;
    let Some(want) = oracle::run(script, &json!(dir.path().display().to_string())) else { return };
    let c = load(dir.path()).unwrap();
    let got: Vec<J> = c.crd_objects().iter().map(|crd| json!({"name": crd.name, "filename": crd.filename, "data": crd.file.text()})).collect();
    assert_eq!(J::Array(got), want);
}

#[test]
fn chart_object_after_dependency_processing_matches_helm() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: p\nversion: 1.0.0\ndependencies:\n- name: s\n  version: ^0.1.0\n  repository: file://charts/s\n  alias: s2\n  tags: [a]\n  condition: s2.on\n  import-values:\n  - data\n  - child: x.y\n    parent: z\n- name: gone\n  version: 1.0.0\n  condition: gone.enabled\n",
            ),
            ("values.yaml", "gone:\n  enabled: false\n"),
            ("templates/t.yaml", "{{ toJson .Chart }}"),
            ("charts/s/Chart.yaml", "apiVersion: v2\nname: s\nversion: 0.1.2\n"),
            ("charts/s/templates/t.yaml", "{{ toJson .Chart }}"),
            ("charts/gone/Chart.yaml", "apiVersion: v2\nname: gone\nversion: 1.0.0\n"),
        ],
    );
    let script = r#"
import json, sys
import helm_python as helm
with helm.Chart.load(json.load(sys.stdin)) as c:
    out = c.render(values={}, name="r", namespace="default", is_install=True)
print(json.dumps({k: json.loads(v) for k, v in out.items()}))
"#;
    let Some(mut want) = oracle::run(script, &json!(dir.path().display().to_string())) else { return };
    // Knowing difference: a nil map[string]string is an empty one here
    // (`index` works on both; only toJson tells `null` from `{}`).
    for v in want.as_object_mut().unwrap().values_mut() {
        if v["Annotations"].is_null() {
            v["Annotations"] = json!({});
        }
    }
    let mut c = load(dir.path()).unwrap();
    process_dependencies(&mut c, &Value::empty_map()).unwrap();
    let got = json!({
        "p/templates/t.yaml": oracle::to_json(&c.metadata_value(true)),
        "p/charts/s2/templates/t.yaml": oracle::to_json(&c.dependencies[0].metadata_value(false)),
    });
    assert_eq!(got, want);
}

#[test]
fn values_files_read_as_helm_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let texts = [
        "a: 1\n--- x\nb: 2\n",
        "a: 1\n---\nb: 2\n",
        "a: 1\n----\n",
        "a: 1\n---\n- 1\n",
        "a: 1\n--- # c\nb: 2\n---\n---\n",
        "a: 1",
        "a: 1\nb: [\n",
        "x: 1\n---\ny: [\n",
        "---\na: 1\n...\n---\nb: 1\n",
        "a:\n  b: 1\n---\na:\n  c: 2\n",
        "",
        "# only a comment\n",
        "a: null\nb: ~\nc: yes\nd: 0x1F\ne: 1e3\nf: .inf\n",
    ];
    let mut paths = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let root = dir.path().join(format!("v{i}"));
        write(&root, &[("Chart.yaml", "apiVersion: v2\nname: v\nversion: 0.1.0\n"), ("values.yaml", t)]);
        paths.push(root);
    }
    compare_with_helm(&paths);
}

#[test]
fn packages_made_by_helm_load_as_helm_loads_them() {
    // `helm package` of a chart with subcharts, a .helmignore, CRDs and
    // files; then both sides load the package.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src/pk");
    write(
        &src,
        &[
            ("Chart.yaml", "apiVersion: v2\nname: pk\nversion: 1.2.3\ndependencies:\n- name: sub\n  version: 0.1.0\n"),
            ("values.yaml", "a: 1\nsub:\n  b: 2\n"),
            (".helmignore", "*.bak\n"),
            ("skip.bak", "x\n"),
            ("templates/t.yaml", "t\n"),
            ("templates/NOTES.txt", "notes\n"),
            ("crds/c.yaml", "kind: C\n"),
            ("files/f.txt", "\u{feff}bom\n"),
            ("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n"),
            ("charts/sub/values.yaml", "b: 1\n"),
            ("charts/sub/templates/s.yaml", "s\n"),
        ],
    );
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let script = r#"
import json, sys
import helm_python as helm
req = json.load(sys.stdin)
print(json.dumps(helm.package(req[0], destination=req[1])))
"#;
    let Some(tgz_path) = oracle::run(script, &json!([src.display().to_string(), out.display().to_string()])) else { return };
    let tgz_path = PathBuf::from(tgz_path.as_str().unwrap());
    compare_with_helm(&[tgz_path.clone(), src]);
    let c = load(&tgz_path).unwrap();
    assert!(c.notes().is_some());
    assert_eq!(c.dependencies.len(), 1);
}

#[test]
fn symlinks_are_followed_and_broken_ones_named_as_helm() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere");
    write(&target, &[("f.txt", "hi\n")]);
    let ok = dir.path().join("ok");
    write(&ok, &[("Chart.yaml", "apiVersion: v2\nname: sl\nversion: 0.1.0\n")]);
    std::os::unix::fs::symlink(&target, ok.join("linked")).unwrap();
    std::os::unix::fs::symlink(target.join("f.txt"), ok.join("lf.txt")).unwrap();
    let broken = dir.path().join("broken");
    write(&broken, &[("Chart.yaml", "apiVersion: v2\nname: sl\nversion: 0.1.0\n")]);
    std::os::unix::fs::symlink(dir.path().join("nowhere/x"), broken.join("dangling")).unwrap();
    compare_with_helm(&[ok, broken]);
}
