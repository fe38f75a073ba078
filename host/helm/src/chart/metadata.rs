//! Chart.yaml as Helm reads and checks it: `sigs.k8s.io/yaml.Unmarshal` into
//! `chart.Metadata` (YAML scalars turned into strings where the Go field is a
//! string, keys matched exactly or case-insensitively, unknown keys ignored,
//! `encoding/json`'s type errors word for word), `Metadata.Validate` (its
//! checks in its order, its sanitising), and `.Chart` as Helm 4 hands it to
//! templates (the struct as a `map[string]interface{}` keyed by Go field
//! names). It must not read files; `mod.rs` gives it bytes.

use std::collections::BTreeMap;

use crate::value::{Map, Value};

pub const API_VERSION_V1: &str = "v1";

/// A maintainer of a chart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Maintainer {
    pub name: String,
    pub email: String,
    pub url: String,
}

/// One entry of Chart.yaml's `dependencies` (requirements.yaml for v1).
#[derive(Clone, Debug, Default)]
pub struct Dependency {
    pub name: String,
    pub version: String,
    pub repository: String,
    pub condition: String,
    pub tags: Vec<String>,
    pub enabled: bool,
    /// As written (strings and `{child, parent}` maps); after
    /// `process_dependencies`, `{child, parent}` `map[string]string`s.
    pub import_values: Vec<Value>,
    pub alias: String,
}

/// Chart.yaml, as Helm's `chart.Metadata`.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    pub name: String,
    pub home: String,
    pub sources: Vec<String>,
    pub version: String,
    pub description: String,
    pub keywords: Vec<String>,
    pub maintainers: Vec<Maintainer>,
    pub icon: String,
    pub api_version: String,
    pub condition: String,
    pub tags: String,
    pub app_version: String,
    pub deprecated: bool,
    /// None when Chart.yaml has no `annotations` (a nil Go map).
    pub annotations: Option<BTreeMap<String, String>>,
    pub kube_version: String,
    pub dependencies: Vec<Dependency>,
    /// Whether Chart.yaml lists `dependencies` at all (a Go nil slice when
    /// not; an empty list is not nil, and Helm then still looks into the
    /// subcharts' own dependencies).
    pub dependencies_listed: bool,
    /// `type`: "", `application` or `library`.
    pub chart_type: String,
}

/// Metadata as decoded, before `Validate`: null list items are kept so that
/// validation can refuse them with Helm's words.
#[derive(Default)]
pub(crate) struct RawMetadata {
    pub md: Metadata,
    maintainers: Vec<Option<Maintainer>>,
    dependencies: Vec<Option<Dependency>>,
}

/// encoding/json's name for a JSON value's kind in type errors.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Nil => "null",
        Value::Bool(_) => "bool",
        Value::Int(..) | Value::Float(_) => "number",
        Value::String(_) | Value::Bytes(_) | Value::Time(_) => "string",
        Value::List(_) => "array",
        Value::Map(_) | Value::Object(_) => "object",
    }
}

/// A scalar as sigs.k8s.io/yaml turns it into a string for a string field.
/// Our YAML reader gives every number as a float64; an integral one is
/// taken to have been a YAML integer (Go: `FormatInt`). Knowing difference:
/// a YAML float literal such as `1e6` prints `1000000` here, `1e+06` in Go.
fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i, _) => Some(i.to_string()),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Some(format!("{}", *f as i64))
            } else {
                Some(crate::yaml::json::format_float_g(*f, 32))
            }
        }
        _ => None,
    }
}

/// Collects the first `encoding/json` type error, as `Unmarshal` reports it.
struct Decoder {
    err: Option<String>,
}

impl Decoder {
    fn fail(&mut self, v: &Value, strukt: &str, path: &str, ty: &str) {
        if self.err.is_none() {
            self.err = Some(format!("json: cannot unmarshal {} into Go struct field {strukt}.{path} of type {ty}", json_kind(v)));
        }
    }

    fn string(&mut self, v: &Value, into: &mut String, strukt: &str, path: &str) {
        if v.is_nil() {
            return;
        }
        match scalar_string(v) {
            Some(s) => *into = s,
            None => self.fail(v, strukt, path, "string"),
        }
    }

    fn boolean(&mut self, v: &Value, into: &mut bool, strukt: &str, path: &str) {
        match v {
            Value::Nil => {}
            Value::Bool(b) => *into = *b,
            _ => self.fail(v, strukt, path, "bool"),
        }
    }

    fn strings(&mut self, v: &Value, into: &mut Vec<String>, strukt: &str, path: &str) {
        match v {
            Value::Nil => into.clear(),
            Value::List(l) => {
                into.clear();
                for item in l.items.iter() {
                    let mut s = String::new();
                    self.string(item, &mut s, strukt, path);
                    into.push(s);
                }
            }
            _ => self.fail(v, strukt, path, "[]string"),
        }
    }
}

/// The field a JSON key sets: the exact name, else one equal under case folding.
fn field_for<'a>(key: &str, fields: &[&'a str]) -> Option<&'a str> {
    fields.iter().find(|f| **f == key).or_else(|| fields.iter().find(|f| f.to_lowercase() == key.to_lowercase())).copied()
}

const METADATA_FIELDS: &[&str] = &[
    "name", "home", "sources", "version", "description", "keywords", "maintainers", "icon", "apiVersion", "condition", "tags", "appVersion", "deprecated", "annotations", "kubeVersion", "dependencies", "type",
];
const MAINTAINER_FIELDS: &[&str] = &["name", "email", "url"];
const DEPENDENCY_FIELDS: &[&str] = &["name", "version", "repository", "condition", "tags", "enabled", "import-values", "alias"];

impl RawMetadata {
    /// `yaml.Unmarshal(data, &metadata)`: decodes onto what is there
    /// (requirements.yaml is decoded onto Chart.yaml's metadata).
    pub fn unmarshal(&mut self, data: &[u8]) -> Result<(), String> {
        let text = String::from_utf8_lossy(data);
        let v = crate::yaml::parse(&text).map_err(|e| e.message)?;
        let mut d = Decoder { err: None };
        match &v {
            Value::Nil => {}
            Value::Map(m) => self.decode(&mut d, m),
            other => {
                return Err(format!(
                    "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type v2.Metadata",
                    json_kind(other)
                ))
            }
        }
        match d.err {
            Some(e) => Err(format!("error unmarshaling JSON: while decoding JSON: {e}")),
            None => Ok(()),
        }
    }

    fn decode(&mut self, d: &mut Decoder, m: &Map) {
        const S: &str = "Metadata";
        for (key, v) in m.entries.iter() {
            let Some(field) = field_for(key, METADATA_FIELDS) else { continue };
            let md = &mut self.md;
            match field {
                "name" => d.string(v, &mut md.name, S, field),
                "home" => d.string(v, &mut md.home, S, field),
                "sources" => d.strings(v, &mut md.sources, S, field),
                "version" => d.string(v, &mut md.version, S, field),
                "description" => d.string(v, &mut md.description, S, field),
                "keywords" => d.strings(v, &mut md.keywords, S, field),
                "icon" => d.string(v, &mut md.icon, S, field),
                "apiVersion" => d.string(v, &mut md.api_version, S, field),
                "condition" => d.string(v, &mut md.condition, S, field),
                "tags" => d.string(v, &mut md.tags, S, field),
                "appVersion" => d.string(v, &mut md.app_version, S, field),
                "deprecated" => d.boolean(v, &mut md.deprecated, S, field),
                "kubeVersion" => d.string(v, &mut md.kube_version, S, field),
                "type" => d.string(v, &mut md.chart_type, S, field),
                "annotations" => match v {
                    Value::Nil => md.annotations = None,
                    Value::Map(am) => {
                        let out = md.annotations.get_or_insert_with(BTreeMap::new);
                        for (k, av) in am.entries.iter() {
                            let mut s = String::new();
                            d.string(av, &mut s, S, field);
                            out.insert(k.clone(), s);
                        }
                    }
                    _ => d.fail(v, S, field, "map[string]string"),
                },
                "maintainers" => match v {
                    Value::Nil => self.maintainers.clear(),
                    Value::List(l) => {
                        self.maintainers.clear();
                        for item in l.items.iter() {
                            match item {
                                Value::Nil => self.maintainers.push(None),
                                Value::Map(im) => {
                                    let mut mt = Maintainer::default();
                                    for (k, fv) in im.entries.iter() {
                                        let Some(f) = field_for(k, MAINTAINER_FIELDS) else { continue };
                                        let path = format!("maintainers.{f}");
                                        let into = match f {
                                            "name" => &mut mt.name,
                                            "email" => &mut mt.email,
                                            _ => &mut mt.url,
                                        };
                                        d.string(fv, into, "Maintainer", &path);
                                    }
                                    self.maintainers.push(Some(mt));
                                }
                                other => d.fail(other, S, field, "v2.Maintainer"),
                            }
                        }
                    }
                    _ => d.fail(v, S, field, "[]*v2.Maintainer"),
                },
                "dependencies" => match v {
                    Value::Nil => {
                        self.dependencies.clear();
                        self.md.dependencies_listed = false;
                    }
                    Value::List(l) => {
                        self.dependencies.clear();
                        self.md.dependencies_listed = true;
                        for item in l.items.iter() {
                            match item {
                                Value::Nil => self.dependencies.push(None),
                                Value::Map(im) => {
                                    let mut dep = Dependency::default();
                                    for (k, fv) in im.entries.iter() {
                                        let Some(f) = field_for(k, DEPENDENCY_FIELDS) else { continue };
                                        let path = format!("dependencies.{f}");
                                        const D: &str = "Dependency";
                                        match f {
                                            "name" => d.string(fv, &mut dep.name, D, &path),
                                            "version" => d.string(fv, &mut dep.version, D, &path),
                                            "repository" => d.string(fv, &mut dep.repository, D, &path),
                                            "condition" => d.string(fv, &mut dep.condition, D, &path),
                                            "alias" => d.string(fv, &mut dep.alias, D, &path),
                                            "tags" => d.strings(fv, &mut dep.tags, D, &path),
                                            "enabled" => d.boolean(fv, &mut dep.enabled, D, &path),
                                            _ => match fv {
                                                Value::Nil => dep.import_values.clear(),
                                                Value::List(il) => dep.import_values = il.items.to_vec(),
                                                other => d.fail(other, D, &path, "[]interface {}"),
                                            },
                                        }
                                    }
                                    self.dependencies.push(Some(dep));
                                }
                                other => d.fail(other, S, field, "v2.Dependency"),
                            }
                        }
                    }
                    _ => d.fail(v, S, field, "[]*v2.Dependency"),
                },
                _ => {}
            }
        }
    }

    /// `Metadata.Validate`: sanitises, then checks in Helm's order. The
    /// message is Helm's, without its `validation: ` prefix.
    pub fn validate(self) -> Result<Metadata, String> {
        let RawMetadata { mut md, maintainers, dependencies } = self;
        for s in [&mut md.name, &mut md.description, &mut md.home, &mut md.icon, &mut md.condition, &mut md.tags, &mut md.app_version, &mut md.kube_version] {
            *s = sanitize(s);
        }
        for s in md.sources.iter_mut().chain(md.keywords.iter_mut()) {
            *s = sanitize(s);
        }
        if md.api_version.is_empty() {
            return Err("chart.metadata.apiVersion is required".into());
        }
        if md.name.is_empty() {
            return Err("chart.metadata.name is required".into());
        }
        if md.name == "." || md.name == ".." {
            return Err(format!("chart.metadata.name {} is not allowed", go_quote(&md.name)));
        }
        if md.name != go_base(&md.name) {
            return Err(format!("chart.metadata.name {} is invalid", go_quote(&md.name)));
        }
        if md.version.is_empty() {
            return Err("chart.metadata.version is required".into());
        }
        if super::semver::Version::parse(&md.version).is_err() {
            return Err(format!("chart.metadata.version {} is invalid", go_quote(&md.version)));
        }
        if !matches!(md.chart_type.as_str(), "" | "application" | "library") {
            return Err("chart.metadata.type must be application or library".into());
        }
        md.maintainers.clear();
        for m in maintainers {
            let Some(mut m) = m else {
                return Err("maintainers must not contain empty or null nodes".into());
            };
            m.name = sanitize(&m.name);
            m.email = sanitize(&m.email);
            m.url = sanitize(&m.url);
            md.maintainers.push(m);
        }
        md.dependencies.clear();
        let mut seen: Vec<String> = Vec::new();
        for dep in dependencies {
            let Some(mut dep) = dep else {
                return Err("dependencies must not contain empty or null nodes".into());
            };
            dep.name = sanitize(&dep.name);
            dep.version = sanitize(&dep.version);
            dep.repository = sanitize(&dep.repository);
            dep.condition = sanitize(&dep.condition);
            for t in dep.tags.iter_mut() {
                *t = sanitize(t);
            }
            if !dep.alias.is_empty() && !dep.alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(format!("dependency {} has disallowed characters in the alias", go_quote(&dep.name)));
            }
            let key = if dep.alias.is_empty() { dep.name.clone() } else { dep.alias.clone() };
            if seen.contains(&key) {
                return Err(format!("more than one dependency with name or alias {}", go_quote(&key)));
            }
            seen.push(key);
            md.dependencies.push(dep);
        }
        Ok(md)
    }
}

/// Helm's `sanitizeString`: white space becomes a space, unprintable
/// characters go. (Go's `unicode.IsPrint`; here: not a control or format
/// character — close, not identical, for exotic code points.)
fn sanitize(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control() || is_format_char(c) {
                None
            } else {
                Some(c)
            }
        })
        .collect()
}

fn is_format_char(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// Go's `filepath.Base` on Unix.
fn go_base(p: &str) -> &str {
    if p.is_empty() {
        return ".";
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/";
    }
    match t.rfind('/') {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

/// Go's `%q` of a string.
pub(crate) fn go_quote(s: &str) -> String {
    crate::yaml::json::go_quote(s)
}

fn strings_value(items: &[String]) -> Value {
    Value::list(items.iter().map(|s| Value::str(s.as_str())).collect())
}

impl Dependency {
    /// The dependency as `structToMap` gives it (inside `.Chart.Dependencies`).
    pub fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Name".into(), Value::str(self.name.as_str()));
        m.insert("Version".into(), Value::str(self.version.as_str()));
        m.insert("Repository".into(), Value::str(self.repository.as_str()));
        m.insert("Condition".into(), Value::str(self.condition.as_str()));
        m.insert("Tags".into(), strings_value(&self.tags));
        m.insert("Enabled".into(), Value::Bool(self.enabled));
        m.insert("ImportValues".into(), Value::list(self.import_values.clone()));
        m.insert("Alias".into(), Value::str(self.alias.as_str()));
        Value::map(m)
    }
}

impl Metadata {
    /// `.Chart` as Helm 4's engine builds it (`structToMap` of the metadata
    /// plus `IsRoot`): Go field names as keys, slices as `[]interface{}`,
    /// `Annotations` a `map[string]string`. Knowing difference: a nil
    /// annotations map is an empty one here (`toJson` shows `{}`, Go `null`).
    pub fn to_value(&self, is_root: bool) -> Value {
        let mut m = BTreeMap::new();
        let s = |x: &str| Value::str(x);
        m.insert("APIVersion".into(), s(&self.api_version));
        let ann: BTreeMap<String, Value> =
            self.annotations.iter().flatten().map(|(k, v)| (k.clone(), Value::str(v.as_str()))).collect();
        m.insert("Annotations".into(), Value::Map(Map { entries: std::sync::Arc::new(ann), elem: "string" }));
        m.insert("AppVersion".into(), s(&self.app_version));
        m.insert("Condition".into(), s(&self.condition));
        m.insert("Dependencies".into(), Value::list(self.dependencies.iter().map(Dependency::to_value).collect()));
        m.insert("Deprecated".into(), Value::Bool(self.deprecated));
        m.insert("Description".into(), s(&self.description));
        m.insert("Home".into(), s(&self.home));
        m.insert("Icon".into(), s(&self.icon));
        m.insert("IsRoot".into(), Value::Bool(is_root));
        m.insert("Keywords".into(), strings_value(&self.keywords));
        m.insert("KubeVersion".into(), s(&self.kube_version));
        m.insert(
            "Maintainers".into(),
            Value::list(
                self.maintainers
                    .iter()
                    .map(|mt| {
                        let mut mm = BTreeMap::new();
                        mm.insert("Email".into(), s(&mt.email));
                        mm.insert("Name".into(), s(&mt.name));
                        mm.insert("URL".into(), s(&mt.url));
                        Value::map(mm)
                    })
                    .collect(),
            ),
        );
        m.insert("Name".into(), s(&self.name));
        m.insert("Sources".into(), strings_value(&self.sources));
        m.insert("Tags".into(), s(&self.tags));
        m.insert("Type".into(), s(&self.chart_type));
        m.insert("Version".into(), s(&self.version));
        Value::map(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("a/b"), "\"a/b\"");
        assert_eq!(go_quote("a\"b\\\n"), "\"a\\\"b\\\\\\n\"");
    }

    #[test]
    fn sanitize_turns_space_into_blank() {
        assert_eq!(sanitize("a\tb\u{0}c"), "a bc");
    }
}
