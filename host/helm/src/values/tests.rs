//! Coalescing and dependency processing compared with real Helm: charts
//! whose every template prints `toJson .Values` are rendered by Helm with
//! value sets; ours must give each (enabled) chart the same values, and
//! disable the same subcharts.

use std::path::Path;

use serde_json::{json, Value as J};

use super::*;
use crate::chart::{load, process_dependencies};
use crate::values::oracle;

fn write(root: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

const TPL: &str = "{{ toJson .Values }}";

/// Our answer: each rendered chart's `.Values`, by template path, as Helm's
/// engine scopes them (`Values.<name>` for a subchart; library charts and
/// disabled subcharts render nothing).
fn our_render(root: &Path, user: &J) -> J {
    let user = Value::from(user);
    let mut chart = match load(root) {
        Ok(c) => c,
        Err(e) => return json!({"err": e.message}),
    };
    if let Err(e) = process_dependencies(&mut chart, &user) {
        return json!({"err": e.message});
    }
    let vals = match coalesce(&chart, &user) {
        Ok(v) => v,
        Err(e) => return json!({"err": e.message}),
    };
    let mut out = serde_json::Map::new();
    walk(&chart, &vals, chart.name(), &mut out);
    J::Object(out)
}

fn walk(c: &Chart, vals: &Value, path: &str, out: &mut serde_json::Map<String, J>) {
    for sub in &c.dependencies {
        let sv = match vals.get(sub.name()) {
            Some(v) if is_table(&v) => v,
            _ => Value::empty_map(),
        };
        walk(sub, &sv, &format!("{path}/charts/{}", sub.name()), out);
    }
    if c.is_library() {
        return;
    }
    for t in &c.templates {
        out.insert(format!("{path}/{}", t.name), oracle::to_json(vals));
    }
}

const RENDER_SCRIPT: &str = r#"
import json, sys
import helm_python as helm
req = json.load(sys.stdin)
out = []
for vals in req["values"]:
    # A fresh load each time: rendering processes dependencies in place.
    with helm.Chart.load(req["chart"]) as c:
        try:
            r = c.render(values=vals, name="r", namespace="default", is_install=True)
            out.append({k: json.loads(v) for k, v in r.items()})
        except Exception as ex:
            out.append({"err": str(ex)})
print(json.dumps(out))
"#;

fn compare(root: &Path, value_sets: &[J]) {
    let Some(answers) = oracle::run(RENDER_SCRIPT, &json!({"chart": root.display().to_string(), "values": value_sets})) else { return };
    let mut failures = Vec::new();
    for (vals, want) in value_sets.iter().zip(answers.as_array().unwrap()) {
        let got = our_render(root, vals);
        let same = match (want.get("err"), got.get("err")) {
            (Some(w), Some(g)) => w.as_str().unwrap_or("").contains(g.as_str().unwrap_or("?")),
            _ => oracle::numbers_as_f64(&got) == oracle::numbers_as_f64(want),
        };
        if !same {
            failures.push(format!("values {vals}:\n  helm {want}\n  ours {got}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), value_sets.len(), failures.join("\n"));
}

fn family(root: &Path) {
    write(
        root,
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: sub\n  version: ~0.1.0\n  condition: sub.enabled,global.subEnabled\n  tags: [front]\n- name: sub\n  version: \">=0.1.0\"\n  alias: sub2\n  import-values:\n  - data\n  - child: table\n    parent: imported.here\n- name: lib\n  version: 0.1.0\n- name: other\n  version: 2.0.0\n  condition: other.on\n  tags: [back, front]\n",
            ),
            (
                "values.yaml",
                "a: 1\nb:\n  c: 2\n  d: [1, 2]\n  e: null\nnothing: null\nsub:\n  x: from-parent\n  y:\n    w: 3\nglobal:\n  g: 1\n  t:\n    u: 1\n    deep:\n      p: 1\nimported:\n  here:\n    mine: 1\n",
            ),
            ("templates/v.yaml", TPL),
            ("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.5\n"),
            (
                "charts/sub/values.yaml",
                "x: 1\ny:\n  z: 1\n  gone: null\nglobal:\n  g: 0\n  h: 2\n  t:\n    v: 2\n    deep:\n      q: 2\n      p: 0\nexports:\n  data:\n    exported: yes\ntable:\n  tv: 1\n",
            ),
            ("charts/sub/templates/v.yaml", TPL),
            ("charts/sub/charts/deep/Chart.yaml", "apiVersion: v2\nname: deep\nversion: 0.0.1\n"),
            ("charts/sub/charts/deep/values.yaml", "k: 1\nglobal:\n  dg: 1\n"),
            ("charts/sub/charts/deep/templates/v.yaml", TPL),
            ("charts/lib/Chart.yaml", "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n"),
            ("charts/lib/values.yaml", "libval: 1\n"),
            ("charts/lib/templates/_h.tpl", "{{ define \"lib.x\" }}x{{ end }}"),
            ("charts/other/Chart.yaml", "apiVersion: v2\nname: other\nversion: 2.0.0\n"),
            ("charts/other/values.yaml", "on: true\no: 1\n"),
            ("charts/other/templates/v.yaml", TPL),
        ],
    );
}

#[test]
fn coalescing_globals_conditions_tags_aliases_and_imports_match_helm() {
    let dir = tempfile::tempdir().unwrap();
    family(dir.path());
    let sets = [
        json!({}),
        json!({"a": null}),
        json!({"b": {"c": null, "new": 1}}),
        json!({"b": 3}),
        json!({"b": {"c": {"deep": 1}}}),
        json!({"sub": {"enabled": false}}),
        json!({"sub": {"enabled": "no"}, "global": {"subEnabled": false}}),
        json!({"tags": {"front": false}}),
        json!({"tags": {"front": false, "back": true}}),
        json!({"tags": {"front": false}, "sub": {"enabled": true}}),
        json!({"tags": "x"}),
        json!({"other": {"on": false}}),
        json!({"global": {"g": 5, "t": {"u": 9, "w": 1}}}),
        json!({"global": {"t": 1}}),
        json!({"global": 3}),
        json!({"sub": {"x": null, "y": {"z": null}}}),
        json!({"sub": {"global": {"h": 7}}}),
        json!({"sub": "str"}),
        json!({"sub2": {"exports": {"data": {"exported": "over"}}}}),
        json!({"sub": {"deep": {"k": 2, "global": {"dg": 9}}}}),
        json!({"nothing": 1, "zzz": null}),
        json!({"imported": {"here": {"tv": 5}}}),
        json!({"lib": {"libval": 2}}),
    ];
    compare(dir.path(), &sets);
}

#[test]
fn values_files_merge_in_order_as_helm() {
    // Documents of one file merge as Helm's loader.MergeMaps does.
    let v = load_values(b"a: 1\nb:\n  c: 1\n---\nb:\n  d: 2\na: null\n--- # c\nlist: [1]\n").unwrap();
    assert_eq!(oracle::to_json(&v), json!({"a": null, "b": {"c": 1, "d": 2}, "list": [1]}));
    let opts = Options {
        value_files: vec!["one.yaml".into(), "two.yaml".into()],
        values: vec!["b.c=3,n=null".into()],
        string_values: vec!["s=1".into()],
        json_values: vec!["j={\"x\":[1]}".into(), "{\"k\": 1}".into()],
        file_values: vec!["f=body.txt".into()],
        literal_values: vec!["lit=a,b".into()],
    };
    let read = |p: &str| match p {
        "one.yaml" => Ok(b"a: 1\nb:\n  c: 1\n  d: 1\n".to_vec()),
        "two.yaml" => Ok(b"b:\n  d: 2\n".to_vec()),
        "body.txt" => Ok(b"text".to_vec()),
        _ => Err(format!("open {p}: no such file or directory")),
    };
    let v = opts.merge(&read).unwrap();
    assert_eq!(
        oracle::to_json(&v),
        json!({"a": 1, "b": {"c": 3, "d": 2}, "n": null, "s": "1", "j": {"x": [1]}, "k": 1, "f": "text", "lit": "a,b"})
    );
    let bad = Options { values: vec!["a".into()], ..Options::default() };
    assert_eq!(bad.merge(&read).unwrap_err().message, "failed parsing --set data: key \"a\" has no value");
    let bad = Options { json_values: vec!["a=x".into()], ..Options::default() };
    assert_eq!(bad.merge(&read).unwrap_err().message, "failed parsing --set-json data a=x");
    let bad = Options { value_files: vec!["nope.yaml".into()], ..Options::default() };
    assert_eq!(bad.merge(&read).unwrap_err().message, "open nope.yaml: no such file or directory");
}

/// Conditions on nested paths, non-bool tags and conditions, an empty
/// dependency list, a subchart whose own dependencies are processed.
fn nested(root: &Path) {
    write(
        root,
        &[
            ("Chart.yaml", "apiVersion: v2\nname: top\nversion: 1.0.0\ndependencies: []\n"),
            ("values.yaml", "mid:\n  leaf:\n    enabled: false\n"),
            ("templates/v.yaml", TPL),
            ("charts/mid/Chart.yaml", "apiVersion: v2\nname: mid\nversion: 0.1.0\ndependencies:\n- name: leaf\n  condition: leaf.enabled\n  tags: [t1, t2]\n- name: leaf2\n  condition: bad.path,leaf2.on\n  import-values:\n  - child: cfg\n    parent: fromleaf2\n  - child: missing\n    parent: x\n"),
            ("charts/mid/values.yaml", "m: 1\nleaf2:\n  on: \"yes\"\n"),
            ("charts/mid/templates/v.yaml", TPL),
            ("charts/mid/charts/leaf/Chart.yaml", "apiVersion: v2\nname: leaf\nversion: 0.1.0\n"),
            ("charts/mid/charts/leaf/values.yaml", "l: 1\n"),
            ("charts/mid/charts/leaf/templates/v.yaml", TPL),
            ("charts/mid/charts/leaf2/Chart.yaml", "apiVersion: v2\nname: leaf2\nversion: 0.1.0\n"),
            ("charts/mid/charts/leaf2/values.yaml", "cfg:\n  c: 1\n  n: null\n"),
            ("charts/mid/charts/leaf2/templates/v.yaml", TPL),
        ],
    );
}

#[test]
fn nested_conditions_and_empty_dependency_lists_match_helm() {
    let dir = tempfile::tempdir().unwrap();
    nested(dir.path());
    let sets = [
        json!({}),
        json!({"mid": {"leaf": {"enabled": true}}}),
        json!({"mid": {"leaf": {"enabled": "true"}}}),
        json!({"tags": {"t1": false}}),
        json!({"tags": {"t1": false, "t2": true}}),
        json!({"tags": {"t1": "no"}}),
        json!({"mid": {"leaf2": {"on": false}}}),
        json!({"mid": {"bad": {"path": false}, "leaf2": {"on": true}}}),
        json!({"mid": {"leaf2": {"cfg": {"c": 2, "n": 3}}}}),
        json!({"mid": null}),
        json!({"mid": {"leaf": null}}),
    ];
    compare(dir.path(), &sets);
}

/// Random user values (nulls, scalars, lists and tables at the keys the
/// family chart uses), deterministic.
fn random_values(n: usize, seed: u64) -> Vec<J> {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    fn tree(next: &mut dyn FnMut() -> u64, depth: u32) -> J {
        const KEYS: [&str; 14] = ["a", "b", "c", "d", "e", "x", "sub", "sub2", "global", "t", "deep", "enabled", "on", "nothing"];
        match next() % if depth >= 3 { 6 } else { 10 } {
            0 | 5 => J::Null,
            1 => json!(next() % 3),
            2 => json!("s"),
            3 => json!(next().is_multiple_of(2)),
            4 => json!([1, "x"]),
            _ => {
                let mut m = serde_json::Map::new();
                for _ in 0..(1 + next() % 4) {
                    let k = KEYS[(next() % KEYS.len() as u64) as usize];
                    m.insert(k.to_string(), tree(next, depth + 1));
                }
                J::Object(m)
            }
        }
    }
    (0..n)
        .map(|_| {
            let mut v = tree(&mut next, 0);
            if next().is_multiple_of(2) {
                v = json!({"b": tree(&mut next, 1), "sub": tree(&mut next, 1)});
            }
            if !v.is_object() {
                v = json!({"a": v});
            }
            v
        })
        .collect()
}

#[test]
fn coalescing_random_values_matches_helm() {
    let dir = tempfile::tempdir().unwrap();
    family(dir.path());
    compare(dir.path(), &random_values(300, 0x5851F42D4C957F2D));
    let dir = tempfile::tempdir().unwrap();
    nested(dir.path());
    compare(dir.path(), &random_values(150, 0x14057B7EF767814F));
}

#[test]
fn version_mismatches_and_missing_charts_match_helm() {
    // A range the loaded chart does not satisfy (no alias copy, the chart
    // stays under its own name), a declared chart that is not there, an
    // empty version (never compatible), a library chart with a condition.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: mm\nversion: 1.0.0\ndependencies:\n- name: a\n  version: ~2.0.0\n  alias: a2\n  condition: a2.on\n- name: ghost\n  version: 1.0.0\n- name: b\n  condition: b.on\n- name: lib\n  version: '*'\n  condition: lib.on\n",
            ),
            ("templates/v.yaml", TPL),
            ("charts/a/Chart.yaml", "apiVersion: v2\nname: a\nversion: 1.0.0\n"),
            ("charts/a/values.yaml", "av: 1\n"),
            ("charts/a/templates/v.yaml", TPL),
            ("charts/b/Chart.yaml", "apiVersion: v2\nname: b\nversion: 3.0.0\n"),
            ("charts/b/templates/v.yaml", TPL),
            ("charts/lib/Chart.yaml", "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n"),
            ("charts/lib/values.yaml", "lv: 1\n"),
            ("charts/lib/templates/_x.tpl", "{{ define \"x\" }}{{ end }}"),
        ],
    );
    let sets = [json!({}), json!({"a2": {"on": false}}), json!({"b": {"on": false}}), json!({"lib": {"on": false}}), json!({"a": {"av": 2}, "b": {"on": true}})];
    compare(dir.path(), &sets);
}
