//! Differential tests of the registered functions against real Helm: each
//! case is a template pipeline Helm renders and the same calls made here
//! through [`super::register`]'s functions, with the Go-typed arguments the
//! template literals give (ints, int64s, lists, times).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::oracle;
use crate::func::{Call, FuncError, FuncMap, Host};
use crate::value::{Time, Value};

struct NoHost;

impl Host for NoHost {
    fn execute_named(&mut self, _: &str, _: &Value) -> Result<String, FuncError> {
        Err(FuncError::call("no templates here"))
    }
    fn execute_text(&mut self, _: &str, _: &Value) -> Result<String, FuncError> {
        Err(FuncError::call("no templates here"))
    }
}

/// One case: Helm's template action, the arguments of the first call as
/// Values, and the functions piped through (first gets `args`, each next
/// one the previous result).
pub(super) struct Case {
    pub tpl: String,
    pub args: Vec<Value>,
    pub chain: Vec<&'static str>,
}

fn funcs() -> FuncMap {
    let mut m = FuncMap::new();
    super::register(&mut m);
    m
}

/// What our functions give: the printed string, or the error as Go shows
/// it after `at <…>: `.
fn ours(m: &FuncMap, case: &Case) -> Result<String, String> {
    let mut host = NoHost;
    let mut cur: Option<Value> = None;
    for name in &case.chain {
        let f = m.get(name).unwrap_or_else(|| panic!("{name} not registered"));
        let args = match cur.take() {
            None => case.args.clone(),
            Some(v) => vec![v],
        };
        let mut call = Call { name, host: &mut host };
        cur = Some(f(&mut call, &args).map_err(|e| e.render(name))?);
    }
    match cur {
        Some(Value::String(s)) => Ok(s.to_string()),
        other => panic!("case {} does not end in a string: {other:?}", case.tpl),
    }
}

pub(super) fn compare(cases: &[Case], values: serde_json::Value) {
    let templates: Vec<String> = cases.iter().map(|c| format!("{{{{ {} }}}}", c.tpl)).collect();
    let Some(want) = oracle::render(&templates, values) else { return };
    let m = funcs();
    let mut bad = Vec::new();
    for (case, want) in cases.iter().zip(want) {
        let got = ours(&m, case);
        let ok = match (&want, &got) {
            (Ok(w), Ok(g)) => w == g,
            // Helm's message ends with ours (it starts with the template's place).
            (Err(w), Err(g)) => w.ends_with(g.as_str()),
            _ => false,
        };
        if !ok {
            bad.push(format!("case {} {:?}\n  helm: {want:?}\n  ours: {got:?}", case.tpl, case.args.first().and_then(Value::as_str)));
        }
    }
    assert!(bad.is_empty(), "{} of {} differ:\n{}", bad.len(), cases.len(), bad.join("\n"));
}

fn s(x: &str) -> Value {
    Value::from(x)
}

fn map(pairs: &[(&str, Value)]) -> Value {
    Value::map(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<BTreeMap<_, _>>())
}

/// `toDate "2006-01-02" "2024-05-06"` in the oracle's UTC zone.
fn date_2024_05_06() -> Value {
    Value::Time(Time { unix_nanos: 1_714_953_600 * 1_000_000_000, offset: 0, zone: Arc::from("UTC") })
}

/// `toDate "2006-01-02 15:04:05.000000000 -0700" "2024-05-06 07:08:09.120000000 +0530"`.
fn time_with_offset() -> Value {
    Value::Time(Time { unix_nanos: 1_714_959_489 * 1_000_000_000 + 120_000_000, offset: 19_800, zone: Arc::from("") })
}

const TIME_WITH_OFFSET: &str = "(toDate \"2006-01-02 15:04:05.000000000 -0700\" \"2024-05-06 07:08:09.120000000 +0530\")";

/// A case whose single argument comes from `.Values.c[i]` (JSON, so
/// float64 numbers) and is piped through `chain`.
fn from_values(cases: &mut Vec<Case>, values: &mut Vec<serde_json::Value>, v: serde_json::Value, chain: &[&'static str]) {
    let i = values.len();
    let tpl = std::iter::once(format!("index .Values.c {i}")).chain(chain.iter().map(|f| f.to_string())).collect::<Vec<_>>().join(" | ");
    cases.push(Case { tpl, args: vec![Value::from(&v)], chain: chain.to_vec() });
    values.push(v);
}

#[test]
fn json_functions_match_helm() {
    let mut cases = Vec::new();
    let mut values = Vec::new();
    let samples = [
        serde_json::json!({"a": "<b>&</b>", "b": [1, 2.5, -0.0, 1e21, 1e-7, 100000000000000000000.0, 0.000001], "c": null, "d": {}, "e": [], "f": true}),
        serde_json::json!("quote \" backslash \\ newline \n tab \t cr \r bell \u{7} del \u{7f} ls \u{2028} ps \u{2029} é 😀"),
        serde_json::json!([{"z": 1, "a": {"y": [null, "x"]}}]),
        serde_json::json!(12345678.5),
        serde_json::json!(1.7976931348623157e308),
        serde_json::json!(5e-324),
        serde_json::json!(""),
        serde_json::json!({"": 1, "<": 2}),
    ];
    for v in &samples {
        for chain in [&["toJson"][..], &["toRawJson"], &["toPrettyJson"], &["mustToJson"], &["mustToRawJson"], &["mustToPrettyJson"]] {
            from_values(&mut cases, &mut values, v.clone(), chain);
        }
    }
    let nan = || Value::Float(f64::NAN);
    for f in ["toJson", "mustToJson", "toRawJson", "mustToRawJson", "toPrettyJson", "mustToPrettyJson"] {
        cases.push(Case { tpl: format!("{f} (dict \"a\" (float64 \"NaN\"))"), args: vec![map(&[("a", nan())])], chain: vec![f] });
        cases.push(Case { tpl: format!("{f} (list 1 (int64 -2) \"x\")"), args: vec![Value::list(vec![Value::int(1), Value::int64(-2), s("x")])], chain: vec![f] });
        cases.push(Case { tpl: format!("{f} (toDate \"2006-01-02\" \"2024-05-06\")"), args: vec![date_2024_05_06()], chain: vec![f] });
        cases.push(Case { tpl: format!("{f} nil"), args: vec![Value::Nil], chain: vec![f] });
    }
    for f in ["toJson", "toRawJson", "toPrettyJson"] {
        cases.push(Case { tpl: format!("{f} {TIME_WITH_OFFSET}"), args: vec![time_with_offset()], chain: vec![f] });
    }
    cases.push(Case { tpl: "splitList \",\" \"a,b\" | toJson".into(), args: vec![Value::strings(["a", "b"])], chain: vec!["toJson"] });
    cases.push(Case { tpl: "toJson (float64 \"+Inf\")".into(), args: vec![Value::Float(f64::INFINITY)], chain: vec!["toJson"] });
    cases.push(Case { tpl: "mustToJson (float64 \"-Inf\")".into(), args: vec![Value::Float(f64::NEG_INFINITY)], chain: vec!["mustToJson"] });
    for text in [
        r#"{"a":1,"b":[true,null,"x"],"c":{"d":1.5e3}}"#,
        r#"{"a":1e400}"#,
        r#"{"a":1,"b":1e400,"c":2}"#,
        r#"[1,2]"#,
        r#""str""#,
        "3",
        "",
        "   ",
        "{",
        "{\"a\"",
        "{\"a\":",
        "{\"a\":1",
        "{\"a\" 1}",
        "{\"a\":1 \"b\":2}",
        "{a:1}",
        "{\"a\":1,}",
        "[1,]",
        "[1 2]",
        "tru",
        "trux",
        "nul",
        "nulx",
        "falsy",
        "01",
        "-",
        "-a",
        "1.",
        "1.a",
        "1e",
        "1ex",
        "1e+",
        "\"a\tb\"",
        "\"\\x\"",
        "\"\\u12g4\"",
        "\"\\ud83d\\ude00 \\u00e9 \\ud800\"",
        "{\"a\":1}x",
        "{\"a\":1} {}",
        "'a'",
        "{\"a\":{\"b\":[1,{\"c\":\"\\n\"}]}}",
        "{\"dup\":1,\"dup\":2}",
        "\u{feff}{}",
    ] {
        for chain in [&["fromJson", "toJson"][..], &["fromJsonArray", "toJson"], &["mustFromJson", "toJson"]] {
            from_values(&mut cases, &mut values, serde_json::json!(text), chain);
        }
    }
    // A missing value where a string is wanted: the executor's argument error.
    for f in ["fromJson", "fromJsonArray", "mustFromJson"] {
        cases.push(Case { tpl: format!("{f} .Values.missing"), args: vec![Value::Nil], chain: vec![f] });
    }
    compare(&cases, serde_json::json!({ "c": values }));
}

/// Known difference: Go decodes JSON `null` into a nil map (or slice),
/// which `toJson` prints as `null`; the value model has no typed nil, so
/// `fromJson "null"` is an empty map here.
#[test]
fn from_json_null_is_empty() {
    assert!(super::funcs::from_json_map("null").is_empty());
    assert!(super::funcs::from_json_list("null").is_empty());
}

#[test]
fn yaml_functions_match_helm() {
    let mut cases = Vec::new();
    let mut values = Vec::new();
    for text in [
        "- a\n- 1\n- {b: c}",
        "a: 1",
        "",
        "[1, [2, [3]]]",
        "- &x {a: 1}\n- *x\n- <<: *x\n  b: 2",
        "- [",
        "scalar",
        "- .inf",
    ] {
        from_values(&mut cases, &mut values, serde_json::json!(text), &["fromYamlArray", "toJson"]);
        from_values(&mut cases, &mut values, serde_json::json!(text), &["fromYaml", "toJson"]);
        from_values(&mut cases, &mut values, serde_json::json!(text), &["fromYaml", "toYaml"]);
    }
    let samples = [
        serde_json::json!({"a": [[1, [2, 3]], {"b": 1, "c": [{"d": 1}]}], "f": 1000000, "g": 0.000001, "h": "x\u{85}y", "m": "a\nb", "n": "yes", "e": {}, "z": [], "k": {"p": {"q": [1]}}}),
        serde_json::json!("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua."),
        serde_json::json!([{"a": "b"}, ["c", ["d"]], [], {}]),
        serde_json::json!({"n": 12345678.5, "i": 3, "s": "3", "t": "2001-12-14", "nl": "a\n\nb\n", "lead": " x", "u": "日本 😀", "x": "\u{7f}"}),
        serde_json::json!(null),
        serde_json::json!({"long key that is longer than one hundred and twenty eight characters, which makes go-yaml write it as a complex key with a question mark": 1}),
    ];
    for v in &samples {
        for chain in [&["toYaml"][..], &["mustToYaml"], &["toYamlPretty"]] {
            from_values(&mut cases, &mut values, v.clone(), chain);
        }
    }
    for f in ["toYaml", "mustToYaml", "toYamlPretty"] {
        cases.push(Case { tpl: format!("{f} (dict \"a\" (float64 \"NaN\"))"), args: vec![map(&[("a", Value::Float(f64::NAN))])], chain: vec![f] });
        cases.push(Case { tpl: format!("{f} (list 1 (int64 -2) \"x\" 1.5)"), args: vec![Value::list(vec![Value::int(1), Value::int64(-2), s("x"), Value::Float(1.5)])], chain: vec![f] });
        cases.push(Case { tpl: format!("{f} (toDate \"2006-01-02\" \"2024-05-06\")"), args: vec![date_2024_05_06()], chain: vec![f] });
        cases.push(Case { tpl: format!("{f} (dict \"t\" (toDate \"2006-01-02\" \"2024-05-06\"))"), args: vec![map(&[("t", date_2024_05_06())])], chain: vec![f] });
        cases.push(Case { tpl: format!("{f} nil"), args: vec![Value::Nil], chain: vec![f] });
        cases.push(Case { tpl: format!("{f} (list {TIME_WITH_OFFSET})"), args: vec![Value::list(vec![time_with_offset()])], chain: vec![f] });
        cases.push(Case { tpl: format!("{f} (splitList \",\" \"a,b\")"), args: vec![Value::strings(["a", "b"])], chain: vec![f] });
    }
    for f in ["fromYaml", "fromYamlArray"] {
        cases.push(Case { tpl: format!("{f} .Values.missing"), args: vec![Value::Nil], chain: vec![f] });
    }
    // Keys near go-yaml's 1024-character limit for simple keys, as the
    // JSON that sigs.k8s.io/yaml writes and reads back spells them.
    // (Known difference: libyaml counts that limit in bytes, go-yaml in
    // characters, so a key of 513 to 1024 characters that is longer than
    // 1024 bytes in UTF-8 reads in Helm and fails here.)
    for (n, piece) in [(1021, "a"), (1022, "a"), (1023, "a"), (1100, "a"), (170, "<>"), (171, "<>"), (1020, "é"), (1030, "é"), (500, "\\"), (511, "\\"), (512, "\\")] {
        let key = piece.repeat(n);
        from_values(&mut cases, &mut values, serde_json::json!({ key.clone(): 1, "b": 2 }), &["mustToYaml"]);
        if piece.is_ascii() {
            from_values(&mut cases, &mut values, serde_json::json!(format!("{}: 1", key.replace('\\', "x"))), &["fromYaml", "toJson"]);
        }
    }
    cases.push(Case { tpl: "fromYaml (list 1)".into(), args: vec![Value::list(vec![Value::int(1)])], chain: vec!["fromYaml"] });
    compare(&cases, serde_json::json!({ "c": values }));
}

#[test]
fn toml_functions_match_helm() {
    let mut cases = Vec::new();
    let mut values = Vec::new();
    let samples = [
        serde_json::json!({"a": 1, "b": 1.5, "c": 1e21, "d": 1e-7, "e": "x\"y\\z\n\t\u{1}\u{7f}é", "f": true, "g": {"h": {"i": 1}, "j": 2}, "k": [{"x": 1}, {"y": {"z": 2}}], "m": {}, "z": "last", "big": 123456789012.0, "neg": -0.0}),
        serde_json::json!({"": 1, "a-b_C9": 2, "a\"b": 3, "a b": {"c.d": [1, "a", [2]], "s": []}}),
        serde_json::json!({"a": [{"b": 1}, 2]}),
        serde_json::json!({"a": [1, null]}),
        serde_json::json!({"x": {"y": {"z": [{"a": 1, "t": {"u": 2}}]}}}),
        serde_json::json!({"a": {"b": null, "c": [[{"x": 1}]]}}),
        serde_json::json!({"h": [{}, {"q": 1}], "a": 1e6, "b": 123456.0, "c": 0.0001}),
        serde_json::json!("x"),
        serde_json::json!([1, 2]),
        serde_json::json!({"b": {"c": 1}}),
    ];
    for v in &samples {
        for chain in [&["toToml"][..], &["mustToToml"]] {
            from_values(&mut cases, &mut values, v.clone(), chain);
        }
    }
    cases.push(Case { tpl: "toToml (dict \"a\" (toDate \"2006-01-02\" \"2024-05-06\") \"i\" 1 \"j\" (int64 5))".into(), args: vec![map(&[("a", date_2024_05_06()), ("i", Value::int(1)), ("j", Value::int64(5))])], chain: vec!["toToml"] });
    cases.push(Case { tpl: "toToml nil".into(), args: vec![Value::Nil], chain: vec!["toToml"] });
    cases.push(Case { tpl: format!("toToml (dict \"t\" {TIME_WITH_OFFSET})"), args: vec![map(&[("t", time_with_offset())])], chain: vec!["toToml"] });
    cases.push(Case { tpl: "fromToml .Values.missing".into(), args: vec![Value::Nil], chain: vec!["fromToml"] });
    for text in [
        "a = 1\nb = \"x\"\n[t]\nc = [1.5, true]\n[[arr]]\nd = 1\n[[arr]]\nd = 2\n",
        "# comment\nname = 'lit' # trailing\n\"quoted key\" = 0x1F\nf = 1_000.5e-2\nm = \"\"\"\nmulti\nline\"\"\"\n",
        "[a.b.c]\nd = 1\n[a]\ne = 2\n",
        "inline = {x = 1, y = {z = \"w\"}}\narr = [ 1, 2,\n 3, ]\n",
        "t = 1979-05-27T07:32:00Z\n",
        "a = 1\na = 2",
        "a = ",
        "a = \"x",
        "a = [1,",
        "[t]\n[t]",
        "a = 1 b",
        "a.b = 1\na = 2",
        "x = tru",
        "= 1",
        "a = 1979-05-27\nb = 07:32:00\nc = 1979-05-27T07:32:00\nd = 1979-05-27T07:32:00.5+01:00\ne = 07:32:00.25",
        "a = 0.1e400",
        "a = 9223372036854775808",
        "[t]\nx = 1\nx = 2",
    ] {
        from_values(&mut cases, &mut values, serde_json::json!(text), &["fromToml", "toJson"]);
    }
    compare(&cases, serde_json::json!({ "c": values }));
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a", "b", "Z", "0", "1", "9", " ", "  ", ":", ": ", "#", " #", "-", "- ", "?", ",", "[", "]", "{", "}", "'", "\"", "\\", "\n", "\n\n", "\t", "\r", "é", "日",
            "😀", "\u{85}", "\u{a0}", "\u{2028}", "yes", "no", "true", "null", "~", "0x1F", "0777", "1e3", ".5", "1_0", "2001-12-14", "1:20", "&", "*", "!", "|", ">", "%",
            "@", "`", "word", "http://x.y/z", "=", "<<", "...", "---", "\u{1}", "\u{1b}",
        ];
        let n = self.below(6);
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(PIECES[self.below(PIECES.len())]);
        }
        if self.below(12) == 0 {
            // A long one, to fold.
            for _ in 0..(8 + self.below(20)) {
                s.push_str(["lorem", "ipsum", " ", "dolor", "  ", "sit-amet", ": x", "\n"][self.below(8)]);
                s.push(' ');
            }
        }
        s
    }
    fn value(&mut self, depth: usize) -> serde_json::Value {
        let pick = if depth >= 4 { self.below(4) } else { self.below(7) };
        match pick {
            0 => serde_json::json!(self.string()),
            1 => {
                let f = [0.0, 1.0, -3.0, 0.5, 1e21, 1e20, 1e-7, 123456789.0, 12345678.5, 0.1, 1e6, 3.0e-5, 255.0][self.below(13)];
                serde_json::json!(f)
            }
            2 => [serde_json::json!(true), serde_json::json!(false), serde_json::Value::Null][self.below(3)].clone(),
            3 => serde_json::json!(self.string()),
            4 | 5 => {
                let n = self.below(4);
                serde_json::Value::Object((0..n).map(|_| (self.string(), self.value(depth + 1))).collect())
            }
            _ => {
                let n = self.below(4);
                serde_json::Value::Array((0..n).map(|_| self.value(depth + 1)).collect())
            }
        }
    }
}

/// Hundreds of generated values (odd strings, numbers, nesting) through
/// `toYaml`, `toYamlPretty`, `toJson` and `toYaml | fromYaml | toJson`.
#[test]
fn generated_values_match_helm() {
    let seed = std::env::var("GANTRY_YAML_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut rng = Rng(seed);
    let mut cases = Vec::new();
    let mut values = Vec::new();
    for _ in 0..300 {
        let v = rng.value(0);
        from_values(&mut cases, &mut values, v.clone(), &["toYaml"]);
        from_values(&mut cases, &mut values, v.clone(), &["toYamlPretty"]);
        from_values(&mut cases, &mut values, v.clone(), &["toJson"]);
        from_values(&mut cases, &mut values, v, &["toYaml", "fromYaml", "toJson"]);
    }
    compare(&cases, serde_json::json!({ "c": values }));
}

impl Rng {
    /// A YAML-ish text: lines of keys, list items, flow collections,
    /// quotes, block scalars, anchors, tags and comments at random indents.
    fn yaml_text(&mut self) -> String {
        const KEYS: &[&str] = &["a", "b", "key", "1", "yes", "~", "\"q\"", "'s'", "<<", "? k", "-1.5", "x y", "c", "a"];
        const VALUES: &[&str] = &[
            "", "1", "0777", "0x1F", "1e3", ".inf", "-.inf", ".nan", "yes", "No", "~", "null", "true", "str", "two words", "'single'", "\"dbl\\n\"", "[1, 2]", "{a: 1}", "[]",
            "{}", "|", "|-", ">", "&x 1", "*x", "&m {p: 1}", "*m", "!!str 12", "!!int '7'", "!!float 2", "# c", "a # c", "2001-12-14", "1_000", "+12", "08", "[a, [b]]",
            "{a: [1, {b: c}]}", "'it''s'", "\"\\u00e9\"", "é", "[", "}", "\"open", "'open", "@", "`", "a: b", "- x", "!!binary aGk=", "!custom v", "1:20", "-0", "0.1",
        ];
        let lines = 1 + self.below(7);
        let mut out = String::new();
        for _ in 0..lines {
            let indent = [0, 0, 0, 2, 2, 4, 1, 3][self.below(8)];
            out.push_str(&" ".repeat(indent));
            match self.below(10) {
                0..=4 => {
                    out.push_str(KEYS[self.below(KEYS.len())]);
                    out.push(':');
                    let v = VALUES[self.below(VALUES.len())];
                    if !v.is_empty() {
                        out.push(' ');
                        out.push_str(v);
                    }
                }
                5 | 6 => {
                    out.push_str("- ");
                    out.push_str(VALUES[self.below(VALUES.len())]);
                }
                7 => out.push_str(VALUES[self.below(VALUES.len())]),
                8 => out.push_str(["---", "...", "# comment", "", "\t", "  text"][self.below(6)]),
                _ => {
                    out.push_str("- ");
                    out.push_str(KEYS[self.below(KEYS.len())]);
                    out.push_str(": ");
                    out.push_str(VALUES[self.below(VALUES.len())]);
                }
            }
            out.push('\n');
        }
        if self.below(5) == 0 {
            out.pop();
        }
        out
    }
}

/// Hundreds of generated YAML texts, many of them broken, through
/// `fromYaml | toJson` and `fromYamlArray | toJson`: values, and errors
/// with go-yaml's words and line numbers.
///
/// Known difference (about 1 text in 1000 of other seeds): go-yaml v2.4
/// hands a flow collection's `[`/`{` to its parser without looking ahead
/// for a `:` that would make it a key, libyaml looks ahead; so in a broken
/// document where such a line is followed by a bad one, Helm reports the
/// parser's error (`did not find expected key`) and we the scanner's
/// (`could not find expected ':'`), and where a first document ends at it,
/// Helm never sees the bad line that we fail on.
#[test]
fn generated_yaml_texts_match_helm() {
    let seed = std::env::var("GANTRY_YAML_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x2545_f491_4f6c_dd1d);
    let mut rng = Rng(seed);
    let mut cases = Vec::new();
    let mut values = Vec::new();
    for _ in 0..400 {
        let text = rng.yaml_text();
        from_values(&mut cases, &mut values, serde_json::json!(text), &["fromYaml", "toJson"]);
        from_values(&mut cases, &mut values, serde_json::json!(text), &["fromYamlArray", "toJson"]);
    }
    compare(&cases, serde_json::json!({ "c": values }));
}
