//! Chart.yaml as Helm reads and checks it: `sigs.k8s.io/yaml.Unmarshal` into
//! `chart.Metadata` (through `yaml::parse_as`: YAML scalars turned into
//! strings where the Go field is a string, keys matched exactly or
//! case-insensitively, unknown keys ignored, `encoding/json`'s type errors
//! word for word), `Metadata.Validate` (its
//! checks in its order, its sanitising), and `.Chart` as Helm 4 hands it to
//! templates (the struct as a `map[string]interface{}` keyed by Go field
//! names). It must not read files; `mod.rs` gives it bytes.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use crate::value::{Map, Value};
use crate::yaml::{GoType, StructType};

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

/// `chart.Metadata` as Go types it, for `yaml::parse_as` (sigs.k8s.io/yaml's
/// target-aware reading: scalars bound for strings become strings, keys
/// matched ignoring case, encoding/json's type errors).
fn metadata_type() -> &'static GoType {
    static T: OnceLock<GoType> = OnceLock::new();
    T.get_or_init(|| {
        let s = || GoType::String;
        let strings = || GoType::List(Box::new(GoType::String));
        let dependency = Arc::new(StructType {
            name: "Dependency".into(),
            type_name: "v2.Dependency".into(),
            fields: vec![
                ("name".into(), s()),
                ("version".into(), s()),
                ("repository".into(), s()),
                ("condition".into(), s()),
                ("tags".into(), strings()),
                ("enabled".into(), GoType::Bool),
                ("import-values".into(), GoType::List(Box::new(GoType::Any))),
                ("alias".into(), s()),
            ],
        });
        let maintainer = Arc::new(StructType {
            name: "Maintainer".into(),
            type_name: "v2.Maintainer".into(),
            fields: vec![("name".into(), s()), ("email".into(), s()), ("url".into(), s())],
        });
        GoType::Struct(Arc::new(StructType {
            name: "Metadata".into(),
            type_name: "v2.Metadata".into(),
            fields: vec![
                ("name".into(), s()),
                ("home".into(), s()),
                ("sources".into(), strings()),
                ("version".into(), s()),
                ("description".into(), s()),
                ("keywords".into(), strings()),
                ("maintainers".into(), GoType::List(Box::new(GoType::Struct(maintainer)))),
                ("icon".into(), s()),
                ("apiVersion".into(), s()),
                ("condition".into(), s()),
                ("tags".into(), s()),
                ("appVersion".into(), s()),
                ("deprecated".into(), GoType::Bool),
                ("annotations".into(), GoType::Map(Box::new(GoType::String))),
                ("kubeVersion".into(), s()),
                ("dependencies".into(), GoType::List(Box::new(GoType::Struct(dependency)))),
                ("type".into(), s()),
            ],
        }))
    })
}

/// encoding/json names a map-typed field without the key in its type errors
/// (`Go struct field Metadata.annotations of type string`); `parse_as`
/// adds the key today, so it is taken out here (a no-op once it does not).
fn map_key_out_of_path(message: String) -> String {
    const FIELD: &str = "Go struct field Metadata.annotations.";
    match message.find(FIELD) {
        Some(i) => {
            let rest = &message[i + FIELD.len()..];
            match rest.find(" of type ") {
                Some(j) => format!("{}Go struct field Metadata.annotations{}", &message[..i], &rest[j..]),
                None => message,
            }
        }
        None => message,
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

fn texts(v: &Value) -> Vec<String> {
    v.as_list().map(|l| l.iter().map(text).collect()).unwrap_or_default()
}

impl RawMetadata {
    /// `yaml.Unmarshal(data, &metadata)`: decodes onto what is there
    /// (requirements.yaml is decoded onto Chart.yaml's metadata).
    pub fn unmarshal(&mut self, data: &[u8]) -> Result<(), String> {
        let text_in = String::from_utf8_lossy(data);
        let v = crate::yaml::parse_as(&text_in, metadata_type()).map_err(|e| map_key_out_of_path(e.message))?;
        let Some(m) = v.as_map() else { return Ok(()) };
        let md = &mut self.md;
        for (field, fv) in m.iter() {
            match field.as_str() {
                "name" => md.name = text(fv),
                "home" => md.home = text(fv),
                "sources" => md.sources = texts(fv),
                "version" => md.version = text(fv),
                "description" => md.description = text(fv),
                "keywords" => md.keywords = texts(fv),
                "icon" => md.icon = text(fv),
                "apiVersion" => md.api_version = text(fv),
                "condition" => md.condition = text(fv),
                "tags" => md.tags = text(fv),
                "appVersion" => md.app_version = text(fv),
                "deprecated" => md.deprecated = matches!(fv, Value::Bool(true)),
                "kubeVersion" => md.kube_version = text(fv),
                "type" => md.chart_type = text(fv),
                "annotations" => {
                    // encoding/json decodes into the map that is there.
                    let out = md.annotations.get_or_insert_with(BTreeMap::new);
                    for (k, av) in fv.as_map().iter().flat_map(|m| m.iter()) {
                        out.insert(k.clone(), text(av));
                    }
                }
                "maintainers" => {
                    self.maintainers = fv
                        .as_list()
                        .unwrap_or_default()
                        .iter()
                        .map(|item| {
                            item.as_map().map(|im| Maintainer {
                                name: im.get("name").map(text).unwrap_or_default(),
                                email: im.get("email").map(text).unwrap_or_default(),
                                url: im.get("url").map(text).unwrap_or_default(),
                            })
                        })
                        .collect();
                }
                "dependencies" => {
                    md.dependencies_listed = true;
                    self.dependencies = fv
                        .as_list()
                        .unwrap_or_default()
                        .iter()
                        .map(|item| {
                            item.as_map().map(|im| {
                                let t = |k: &str| im.get(k).map(text).unwrap_or_default();
                                Dependency {
                                    name: t("name"),
                                    version: t("version"),
                                    repository: t("repository"),
                                    condition: t("condition"),
                                    tags: im.get("tags").map(texts).unwrap_or_default(),
                                    enabled: matches!(im.get("enabled"), Some(Value::Bool(true))),
                                    import_values: im.get("import-values").and_then(|v| v.as_list()).map(|l| l.to_vec()).unwrap_or_default(),
                                    alias: t("alias"),
                                }
                            })
                        })
                        .collect();
                }
                _ => {}
            }
        }
        Ok(())
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
        if md.name != crate::sprig::paths::base(&md.name) {
            return Err(format!("chart.metadata.name {} is invalid", go_quote(&md.name)));
        }
        if md.version.is_empty() {
            return Err("chart.metadata.version is required".into());
        }
        if crate::semver::Version::parse(&md.version).is_err() {
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
/// characters go (Go's `unicode.IsSpace` and `IsPrint`).
fn sanitize(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if crate::template::fmt::is_print(c) {
                Some(c)
            } else {
                None
            }
        })
        .collect()
}

/// Go's `%q` of a string: template::fmt's `strconv.Quote`.
pub(crate) use crate::template::fmt::quote as go_quote;

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
        m.insert("Annotations".into(), Value::Map(Map::new(ann, "string")));
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
