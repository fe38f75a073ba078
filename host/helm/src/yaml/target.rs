//! Reading YAML into a typed Go target, as sigs.k8s.io/yaml's `Unmarshal`
//! does into a struct (Helm's `Chart.yaml` into `chart.Metadata`,
//! `requirements.yaml`, `index.yaml`): before the JSON step, scalars bound
//! for a `string` field become strings (`appVersion: 1.10` is "1.1": Go
//! formats the float with 32-bit precision; `0777` is "511"), struct fields
//! match keys exactly or else case-insensitively, unknown keys are dropped,
//! and a value of the wrong kind is encoding/json's type error (`json:
//! cannot unmarshal array into Go struct field Metadata.appVersion of type
//! string`). The caller describes the target with [`GoType`]; this file
//! knows no Helm types itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::json::{format_float_g, format_float_json};
use super::load::{self, GoVal};
use super::YamlError;
use crate::value::{IntType, List, Map, Value};

/// A Go type a document is read into.
#[derive(Clone, Debug)]
pub enum GoType {
    /// `interface{}`: anything, as [`super::parse`] reads it.
    Any,
    String,
    Bool,
    Int,
    Float64,
    /// `[]T`.
    List(Box<GoType>),
    /// `map[string]T`.
    Map(Box<GoType>),
    /// A struct (or a pointer to one: `null` leaves it nil).
    Struct(Arc<StructType>),
}

/// A struct's name (as encoding/json's errors give it), its Go type as
/// `%T` prints it, and its fields by JSON name.
#[derive(Debug)]
pub struct StructType {
    /// `Metadata`, as in `Go struct field Metadata.appVersion`.
    pub name: String,
    /// `*chart.Metadata`, as in `of type []*chart.Dependency`.
    pub type_name: String,
    pub fields: Vec<(String, GoType)>,
}

impl GoType {
    /// Go's name of the type in encoding/json's errors.
    pub fn go_name(&self) -> String {
        match self {
            GoType::Any => "interface {}".into(),
            GoType::String => "string".into(),
            GoType::Bool => "bool".into(),
            GoType::Int => "int".into(),
            GoType::Float64 => "float64".into(),
            GoType::List(t) => format!("[]{}", t.go_name()),
            GoType::Map(t) => format!("map[string]{}", t.go_name()),
            GoType::Struct(s) => s.type_name.clone(),
        }
    }

    fn elem_name(&self) -> &'static str {
        match self {
            GoType::String => "string",
            GoType::Bool => "bool",
            GoType::Int => "int",
            GoType::Float64 => "float64",
            _ => "interface {}",
        }
    }
}

impl StructType {
    /// encoding/json's field for a key: the exact name, else the first
    /// that matches ignoring case.
    fn field(&self, key: &str) -> Option<&(String, GoType)> {
        self.fields.iter().find(|(n, _)| n == key).or_else(|| self.fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(key) || n.to_lowercase() == key.to_lowercase()))
    }
}

/// `yaml.Unmarshal(text, &target)` with sigs.k8s.io/yaml: the value shaped
/// by `target` (a struct is a map of the fields present, by JSON name), or
/// Helm's error.
pub fn parse_as(text: &str, target: &GoType) -> Result<Value, YamlError> {
    let decoded = load::with_first_doc(text, |go| {
        let go = stringify(go, Some(target)).map_err(YamlError::new)?;
        let generic = load::go_to_value(go)?;
        let mut d = Decode { error: None, path: Vec::new(), strukt: None };
        let v = d.value(&generic, target);
        Ok((v, d.error))
    })
    .map_err(|e| YamlError { message: format!("error converting YAML to JSON: {}", e.message), ..e })?;
    match decoded {
        (_, Some(e)) => Err(YamlError::new(format!("error unmarshaling JSON: while decoding JSON: {e}"))),
        (v, None) => Ok(v),
    }
}

/// sigs.k8s.io/yaml's `convertToJSONableObject` with a target: scalars
/// bound for a `string` become strings; the target follows struct fields,
/// map values and slice items.
fn stringify(v: GoVal, target: Option<&GoType>) -> Result<GoVal, String> {
    Ok(match v {
        GoVal::Map(pairs) => {
            let mut out = Vec::with_capacity(pairs.len());
            for (k, val) in pairs {
                let key = match load::key_string(&k, &val) {
                    Ok(s) => s,
                    Err(e) => return Err(e.message),
                };
                let sub = match target {
                    Some(GoType::Struct(s)) => s.field(&key).map(|(_, t)| t),
                    Some(GoType::Map(t)) => Some(&**t),
                    _ => None,
                };
                out.push((GoVal::Str(key), stringify(val, sub)?));
            }
            GoVal::Map(out)
        }
        GoVal::Seq(items) => {
            let sub = match target {
                Some(GoType::List(t)) => Some(&**t),
                _ => None,
            };
            GoVal::Seq(items.into_iter().map(|i| stringify(i, sub)).collect::<Result<_, _>>()?)
        }
        scalar => match (target, &scalar) {
            (Some(GoType::String), GoVal::Int(i)) => GoVal::Str(i.to_string()),
            (Some(GoType::String), GoVal::Uint(u)) => GoVal::Str(u.to_string()),
            (Some(GoType::String), GoVal::Float(f)) => GoVal::Str(format_float_g(*f, 32)),
            (Some(GoType::String), GoVal::Bool(b)) => GoVal::Str(b.to_string()),
            _ => scalar,
        },
    })
}

/// encoding/json's decoding of the JSON value into the target: the first
/// type error is kept and decoding goes on, as Go's `saveError`.
struct Decode {
    error: Option<String>,
    /// JSON names from the root to here (Go 1.20's error field path).
    path: Vec<String>,
    /// The innermost struct decoding is in.
    strukt: Option<String>,
}

impl Decode {
    fn type_error(&mut self, what: String, target: &GoType) {
        if self.error.is_some() {
            return;
        }
        let into = match &self.strukt {
            Some(s) => format!("Go struct field {s}.{}", self.path.join(".")),
            None => "Go value".to_string(),
        };
        self.error = Some(format!("json: cannot unmarshal {what} into {into} of type {}", target.go_name()));
    }

    fn value(&mut self, v: &Value, target: &GoType) -> Value {
        match (target, v) {
            (GoType::Any, _) => v.clone(),
            (_, Value::Nil) => Value::Nil,
            (GoType::String, Value::String(_)) | (GoType::Bool, Value::Bool(_)) | (GoType::Float64, Value::Float(_)) => v.clone(),
            (GoType::Int, Value::Float(f)) => {
                if f.fract() == 0.0 && f.abs() < 9.2e18 {
                    Value::Int(*f as i64, IntType::Int)
                } else {
                    let text = format_float_json(*f).unwrap_or_default();
                    self.type_error(format!("number {text}"), target);
                    Value::Int(0, IntType::Int)
                }
            }
            (GoType::List(t), Value::List(l)) => {
                let items = l.items().iter().map(|i| self.value(i, t)).collect();
                Value::List(List::new(items, t.elem_name()))
            }
            (GoType::Map(t), Value::Map(m)) => {
                let mut out = BTreeMap::new();
                for (k, val) in m.entries().iter() {
                    self.path.push(k.clone());
                    out.insert(k.clone(), self.value(val, t));
                    self.path.pop();
                }
                Value::Map(Map::new(out, t.elem_name()))
            }
            (GoType::Struct(s), Value::Map(m)) => {
                let outer = self.strukt.replace(s.name.clone());
                let mut out = BTreeMap::new();
                for (k, val) in m.entries().iter() {
                    let Some((name, t)) = s.field(k) else { continue };
                    self.path.push(name.clone());
                    let decoded = self.value(val, t);
                    self.path.pop();
                    if !decoded.is_nil() {
                        out.insert(name.clone(), decoded);
                    }
                }
                self.strukt = outer;
                Value::map(out)
            }
            (_, other) => {
                self.type_error(super::json_kind(other).to_string(), target);
                Value::Nil
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> GoType {
        let dependency = Arc::new(StructType {
            name: "Dependency".into(),
            type_name: "*chart.Dependency".into(),
            fields: vec![
                ("name".into(), GoType::String),
                ("version".into(), GoType::String),
                ("repository".into(), GoType::String),
                ("condition".into(), GoType::String),
                ("tags".into(), GoType::List(Box::new(GoType::String))),
                ("enabled".into(), GoType::Bool),
                ("import-values".into(), GoType::List(Box::new(GoType::Any))),
                ("alias".into(), GoType::String),
            ],
        });
        let maintainer = Arc::new(StructType {
            name: "Maintainer".into(),
            type_name: "*chart.Maintainer".into(),
            fields: vec![("name".into(), GoType::String), ("email".into(), GoType::String), ("url".into(), GoType::String)],
        });
        GoType::Struct(Arc::new(StructType {
            name: "Metadata".into(),
            type_name: "*chart.Metadata".into(),
            fields: vec![
                ("name".into(), GoType::String),
                ("home".into(), GoType::String),
                ("sources".into(), GoType::List(Box::new(GoType::String))),
                ("version".into(), GoType::String),
                ("description".into(), GoType::String),
                ("keywords".into(), GoType::List(Box::new(GoType::String))),
                ("maintainers".into(), GoType::List(Box::new(GoType::Struct(maintainer)))),
                ("icon".into(), GoType::String),
                ("apiVersion".into(), GoType::String),
                ("condition".into(), GoType::String),
                ("tags".into(), GoType::String),
                ("appVersion".into(), GoType::String),
                ("deprecated".into(), GoType::Bool),
                ("annotations".into(), GoType::Map(Box::new(GoType::String))),
                ("kubeVersion".into(), GoType::String),
                ("dependencies".into(), GoType::List(Box::new(GoType::Struct(dependency)))),
                ("type".into(), GoType::String),
            ],
        }))
    }

    fn chart(text: &str) -> Result<String, String> {
        parse_as(text, &metadata()).map(|v| super::super::json::marshal(&v).unwrap_or_default()).map_err(|e| e.message)
    }

    /// Each answer is what Helm 4 gives for the same Chart.yaml (its
    /// `.Chart` fields, or `cannot load Chart.yaml: <this message>`).
    #[test]
    fn chart_yaml_as_helm_reads_it() {
        assert_eq!(
            chart("apiVersion: v2\nname: c\nversion: 1.0.0\nappVersion: 1.10\ndescription: 12\nkeywords: [1, true, 1.5]\nannotations: {a: 1, b: 1.0e+3}\n").unwrap(),
            r#"{"annotations":{"a":"1","b":"1000"},"apiVersion":"v2","appVersion":"1.1","description":"12","keywords":["1","true","1.5"],"name":"c","version":"1.0.0"}"#
        );
        assert_eq!(
            chart("apiVersion: v2\nname: c\nversion: 1.0.0\nappVersion: [a]\n").unwrap_err(),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go struct field Metadata.appVersion of type string"
        );
        assert_eq!(
            chart("apiVersion: v2\nname: c\nversion: 1.0.0\ndeprecated: 'yes'\n").unwrap_err(),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field Metadata.deprecated of type bool"
        );
        assert_eq!(
            chart("apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n- name: [x]\n").unwrap_err(),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go struct field Dependency.dependencies.name of type string"
        );
        assert_eq!(chart("apiVersion: v2\nname: c\nversion: 1.0.0\nAPPVERSION: up\nDescription: d\n").unwrap(), r#"{"apiVersion":"v2","appVersion":"up","description":"d","name":"c","version":"1.0.0"}"#);
        assert_eq!(chart("apiVersion: v2\nname: c\nversion: 1.0.0\nappVersion: 0777\ndescription: 1e400\n").unwrap(), r#"{"apiVersion":"v2","appVersion":"511","description":"1e400","name":"c","version":"1.0.0"}"#);
        assert_eq!(chart("apiVersion: v2\nname: c\nversion: 1.0.0\nappVersion: 123456789\n").unwrap(), r#"{"apiVersion":"v2","appVersion":"123456789","name":"c","version":"1.0.0"}"#);
        assert_eq!(
            chart("apiVersion: v2\nname: c\nversion: 1.0.0\nmaintainers:\n- name: 5\n  email: true\n").unwrap(),
            r#"{"apiVersion":"v2","maintainers":[{"email":"true","name":"5"}],"name":"c","version":"1.0.0"}"#
        );
        assert_eq!(
            chart("apiVersion: v2\nname: c\nversion: 1.0.0\ndeprecated: yes\nkeywords: x\n").unwrap_err(),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field Metadata.keywords of type []string"
        );
        assert_eq!(chart("name: [").unwrap_err(), "error converting YAML to JSON: yaml: line 1: did not find expected node content");
    }
}
