//! `.Files` as Helm's engine gives it to templates: an `engine.files` (a
//! `map[string][]byte` with methods) over the chart's non-template files —
//! `Get`, `GetBytes`, `Glob` (gobwas/glob with `/` as separator; a bad
//! pattern matches everything, as Helm falls back to `**`), `Lines`,
//! `AsConfig` and `AsSecrets` (YAML maps of base names). It must not load
//! files; it is handed them.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::func::{arity, string_arg, FuncError};
use crate::value::{Member, Object, Value};

use super::File;

/// `engine.files`.
#[derive(Clone, Debug, Default)]
pub struct Files {
    entries: BTreeMap<String, Arc<[u8]>>,
}

impl Files {
    pub fn from_files(files: &[File]) -> Files {
        Files { entries: files.iter().map(|f| (f.name.clone(), f.data.clone())).collect() }
    }

    pub fn get_bytes(&self, name: &str) -> Arc<[u8]> {
        self.entries.get(name).cloned().unwrap_or_else(|| Arc::from(&b""[..]))
    }

    /// Helm's `Get`: `string(bytes)`, every byte kept (a binary file's too).
    pub fn get(&self, name: &str) -> crate::value::Str {
        crate::value::Str::from_bytes(self.get_bytes(name).to_vec())
    }

    pub fn glob(&self, pattern: &str) -> Files {
        let g = Glob::compile(pattern).unwrap_or(Glob { nodes: vec![Node::Super] });
        Files { entries: self.entries.iter().filter(|(k, _)| g.matches(k)).map(|(k, v)| (k.clone(), v.clone())).collect() }
    }

    /// Helm 4.2's `Lines`: a missing file has none; an empty one makes Go
    /// index out of range, which the template reports as an error (Helm
    /// reads an empty file from a directory as empty, not nil; from a `.tgz`
    /// as nil, so there it has no lines — knowing difference: always the
    /// directory's answer here).
    pub fn lines(&self, path: &str) -> Result<Vec<String>, String> {
        let Some(data) = self.entries.get(path) else { return Ok(Vec::new()) };
        if data.is_empty() {
            return Err("runtime error: index out of range [-1]".into());
        }
        let s = String::from_utf8_lossy(data);
        let s = s.strip_suffix('\n').unwrap_or(&s);
        Ok(s.split('\n').map(str::to_string).collect())
    }

    pub fn as_config(&self) -> String {
        let m: BTreeMap<String, String> = self.entries.iter().map(|(k, v)| (base(k).to_string(), String::from_utf8_lossy(v).into_owned())).collect();
        yaml_string_map(&m)
    }

    pub fn as_secrets(&self) -> String {
        let m: BTreeMap<String, String> = self.entries.iter().map(|(k, v)| (base(k).to_string(), base64(v))).collect();
        yaml_string_map(&m)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

fn base(p: &str) -> &str {
    match p.rfind('/') {
        Some(i) if i + 1 < p.len() => &p[i + 1..],
        _ => p,
    }
}

fn base64(data: &[u8]) -> String {
    crate::yaml::json::base64_encode(data)
}

/// Helm's `toYAML` of a `map[string]string` (sigs.k8s.io/yaml, the final
/// newline trimmed; "" when marshalling fails), for `AsConfig`/`AsSecrets`.
fn yaml_string_map(m: &BTreeMap<String, String>) -> String {
    let entries: BTreeMap<String, Value> = m.iter().map(|(k, v)| (k.clone(), Value::str(v.as_str()))).collect();
    let v = Value::Map(crate::value::Map::new(entries, "string"));
    match crate::yaml::to_yaml(&v) {
        Ok(s) => s.strip_suffix('\n').map(str::to_string).unwrap_or(s),
        Err(_) => String::new(),
    }
}

/// A compiled gobwas/glob pattern (separator `/`).
struct Glob {
    nodes: Vec<Node>,
}

enum Node {
    Lit(char),
    /// `*`: any run of non-separator characters.
    Any,
    /// `**`: any run of characters.
    Super,
    /// `?`: one non-separator character.
    Single,
    Class { negated: bool, items: Vec<(char, char)> },
    Alt(Vec<Vec<Node>>),
    /// What gobwas makes of an unclosed `{`: a glob that matches nothing.
    Never,
}

impl Glob {
    fn compile(pattern: &str) -> Result<Glob, ()> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pos = 0;
        let nodes = parse_seq(&chars, &mut pos, false)?;
        if pos != chars.len() {
            return Err(());
        }
        Ok(Glob { nodes })
    }

    fn matches(&self, s: &str) -> bool {
        let chars: Vec<char> = s.chars().collect();
        let mut budget = 1_000_000u32;
        match_nodes(&self.nodes, &[], &chars, 0, &mut budget)
    }
}

fn parse_seq(c: &[char], pos: &mut usize, in_alt: bool) -> Result<Vec<Node>, ()> {
    let mut out = Vec::new();
    while *pos < c.len() {
        match c[*pos] {
            '*' => {
                if c.get(*pos + 1) == Some(&'*') {
                    *pos += 2;
                    out.push(Node::Super);
                } else {
                    *pos += 1;
                    out.push(Node::Any);
                }
            }
            '?' => {
                *pos += 1;
                out.push(Node::Single);
            }
            '\\' => {
                *pos += 1;
                let ch = *c.get(*pos).ok_or(())?;
                *pos += 1;
                out.push(Node::Lit(ch));
            }
            '[' => {
                *pos += 1;
                let mut negated = false;
                if c.get(*pos) == Some(&'!') {
                    negated = true;
                    *pos += 1;
                }
                let mut items = Vec::new();
                loop {
                    let ch = *c.get(*pos).ok_or(())?;
                    if ch == ']' {
                        *pos += 1;
                        break;
                    }
                    *pos += 1;
                    if c.get(*pos) == Some(&'-') && c.get(*pos + 1).is_some_and(|x| *x != ']') {
                        let hi = c[*pos + 1];
                        *pos += 2;
                        items.push((ch, hi));
                    } else {
                        items.push((ch, ch));
                    }
                }
                if items.is_empty() {
                    return Err(());
                }
                out.push(Node::Class { negated, items });
            }
            '{' => {
                *pos += 1;
                let mut alts = Vec::new();
                loop {
                    alts.push(parse_seq(c, pos, true)?);
                    match c.get(*pos) {
                        Some(',') => *pos += 1,
                        Some('}') => {
                            *pos += 1;
                            break;
                        }
                        None => return Ok(vec![Node::Never]),
                        _ => return Err(()),
                    }
                }
                out.push(Node::Alt(alts));
            }
            ',' | '}' if in_alt => return Ok(out),
            ch => {
                *pos += 1;
                out.push(Node::Lit(ch));
            }
        }
    }
    Ok(out)
}

/// Backtracking match of `nodes` then `rest` (the continuation after an
/// alternation) against `s[i..]`; `budget` bounds the work.
fn match_nodes(nodes: &[Node], rest: &[&[Node]], s: &[char], i: usize, budget: &mut u32) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let Some((first, tail)) = nodes.split_first() else {
        return match rest.split_first() {
            Some((next, more)) => match_nodes(next, more, s, i, budget),
            None => i == s.len(),
        };
    };
    match first {
        Node::Lit(ch) => s.get(i) == Some(ch) && match_nodes(tail, rest, s, i + 1, budget),
        Node::Single => s.get(i).is_some_and(|c| *c != '/') && match_nodes(tail, rest, s, i + 1, budget),
        Node::Class { negated, items } => {
            s.get(i).is_some_and(|c| items.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated) && match_nodes(tail, rest, s, i + 1, budget)
        }
        Node::Any => {
            let mut j = i;
            loop {
                if match_nodes(tail, rest, s, j, budget) {
                    return true;
                }
                if j >= s.len() || s[j] == '/' {
                    return false;
                }
                j += 1;
            }
        }
        Node::Super => (i..=s.len()).any(|j| match_nodes(tail, rest, s, j, budget)),
        Node::Never => false,
        Node::Alt(alts) => {
            let mut cont: Vec<&[Node]> = Vec::with_capacity(rest.len() + 1);
            cont.push(tail);
            cont.extend_from_slice(rest);
            alts.iter().any(|a| match_nodes(a, &cont, s, i, budget))
        }
    }
}

/// Whether gobwas/glob (separator `/`) matches `name` with `pattern`; None
/// when the pattern does not compile.
pub fn go_glob_match(pattern: &str, name: &str) -> Option<bool> {
    Glob::compile(pattern).ok().map(|g| g.matches(name))
}

fn bytes_list(data: &[u8]) -> String {
    let items: Vec<String> = data.iter().map(|b| b.to_string()).collect();
    format!("[{}]", items.join(" "))
}

impl Object for Files {
    fn type_name(&self) -> String {
        "engine.files".into()
    }

    fn kind(&self) -> &'static str {
        "map"
    }

    fn truthy(&self) -> bool {
        !self.entries.is_empty()
    }

    /// `range`, `index` and `len` see a `map[string][]byte`.
    fn map_entries(&self) -> Option<Vec<(String, Value)>> {
        Some(self.entries.iter().map(|(k, v)| (k.clone(), Value::Bytes(v.clone()))).collect())
    }

    fn format(&self) -> String {
        let items: Vec<String> = self.entries.iter().map(|(k, v)| format!("{k}:{}", bytes_list(v))).collect();
        format!("map[{}]", items.join(" "))
    }

    /// encoding/json of a `map[string][]byte`: base64 strings.
    fn marshal(&self) -> Value {
        Value::map(self.entries.iter().map(|(k, v)| (k.clone(), Value::str(base64(v)))).collect())
    }

    fn member(&self, name: &str) -> Option<Member> {
        let me = self.clone();
        let m = move |f: fn(&Files, &[Value]) -> Result<Value, FuncError>| -> Option<Member> {
            let me = me.clone();
            Some(Member::Method(Arc::new(move |args: &[Value]| f(&me, args))))
        };
        match name {
            "Get" => m(|f, a| {
                arity("Get", a, 1)?;
                Ok(Value::String(f.get(string_arg(a, 0)?)))
            }),
            "GetBytes" => m(|f, a| {
                arity("GetBytes", a, 1)?;
                Ok(Value::Bytes(f.get_bytes(string_arg(a, 0)?)))
            }),
            "Glob" => m(|f, a| {
                arity("Glob", a, 1)?;
                Ok(Value::Object(Arc::new(f.glob(string_arg(a, 0)?))))
            }),
            "Lines" => m(|f, a| {
                arity("Lines", a, 1)?;
                Ok(Value::strings(f.lines(string_arg(a, 0)?).map_err(FuncError::call)?))
            }),
            "AsConfig" => m(|f, a| {
                arity("AsConfig", a, 0)?;
                Ok(Value::str(f.as_config()))
            }),
            "AsSecrets" => m(|f, a| {
                arity("AsSecrets", a, 0)?;
                Ok(Value::str(f.as_secrets()))
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Files {
        Files::from_files(&[
            File::new(".helmignore", &b"*.bak\n"[..]),
            File::new("crds/crd.yaml", &b"kind: CustomResourceDefinition\n"[..]),
            File::new("files/a.txt", &b"line1\nline2\n"[..]),
            File::new("files/sub/b.yaml", &b"x: \"y\"\nz"[..]),
        ])
    }

    #[test]
    fn glob_is_gobwas() {
        let f = sample();
        let names = |p: &str| f.glob(p).names().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(names("files/**"), ["files/a.txt", "files/sub/b.yaml"]);
        assert_eq!(names("files/*"), ["files/a.txt"]);
        assert_eq!(names("**.yaml"), ["crds/crd.yaml", "files/sub/b.yaml"]);
        assert_eq!(names("files/{a.txt,sub/*}"), ["files/a.txt", "files/sub/b.yaml"]);
        assert!(names("files/[!a]*").is_empty());
        assert_eq!(names("[").len(), 4, "a bad pattern matches everything");
    }

    #[test]
    fn files_methods_answer_as_helm() {
        // Checked with Helm 4.2.3 (see /tmp probe in the report): Lines drops
        // one final newline, AsConfig uses base names and literal blocks.
        let f = sample();
        assert_eq!(f.lines("files/a.txt").unwrap(), ["line1", "line2"]);
        assert!(f.lines("nope").unwrap().is_empty());
        let empty = Files::from_files(&[File::new("e", &b""[..])]);
        assert_eq!(empty.lines("e").unwrap_err(), "runtime error: index out of range [-1]");
        assert_eq!(f.get("files/a.txt"), "line1\nline2\n");
        let g = f.glob("files/**");
        assert_eq!(g.as_config(), "a.txt: |\n  line1\n  line2\nb.yaml: |-\n  x: \"y\"\n  z");
        assert_eq!(g.as_secrets(), "a.txt: bGluZTEKbGluZTIK\nb.yaml: eDogInkiCno=");
        assert_eq!(g.format(), "map[files/a.txt:[108 105 110 101 49 10 108 105 110 101 50 10] files/sub/b.yaml:[120 58 32 34 121 34 10 122]]");
        assert_eq!(Files::default().as_config(), "{}");
        let entries = g.map_entries().unwrap();
        assert_eq!(entries.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["files/a.txt", "files/sub/b.yaml"]);
        assert_eq!(entries[0].1.type_name(), "[]uint8");
    }
}
