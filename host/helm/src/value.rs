//! The values Go templates see. Helm hands its templates Go values of a few
//! dynamic types — `map[string]interface{}` and `[]interface{}` from YAML and
//! JSON (whose numbers are `float64`: Helm reads values through JSON), `int`
//! and `int64` from Sprig's arithmetic, `[]string` from `splitList` or
//! `keys`, `[]byte` from `.Files.GetBytes`, `time.Time` from `now`, and
//! structs with fields and methods (`.Chart`, `.Files`, `.Capabilities`).
//! [`Value`] keeps each one's Go type, because what Go prints (`%T`, `%v`,
//! `%d` of a float64), compares (`eq 1 1.0` is an error) and Sprig decides
//! (`kindIs "float64"`) depends on it. This file holds the model and the
//! questions every part asks of it (Go type name, truth, emptiness); how
//! values print is `template::fmt`'s, how they marshal is `yaml`'s.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::func::FuncError;

/// A Go value held in an `interface{}`.
#[derive(Clone, Debug)]
pub enum Value {
    /// A nil interface: a missing map key, a YAML `null`, a function that
    /// returned nothing. A template action prints it as `<no value>`.
    Nil,
    Bool(bool),
    /// A signed or unsigned integer and its Go type.
    Int(i64, IntType),
    /// A `float64`.
    Float(f64),
    String(Arc<str>),
    /// A `[]byte`.
    Bytes(Arc<[u8]>),
    /// A slice: `[]interface{}`, or `[]string` and the like (`elem` says which).
    List(List),
    /// A map with string keys: `map[string]interface{}`, or `map[string]string`
    /// (`elem`). Keys are kept sorted, the order Go's templates range over
    /// them, `fmt` prints them and encoders write them.
    Map(Map),
    /// A `time.Time`.
    Time(Time),
    /// A struct (or a pointer to one, or a named map with methods): its fields
    /// and methods are the object's.
    Object(Arc<dyn Object>),
}

/// Go's integer types that Helm's templates meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntType {
    Int,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
}

impl IntType {
    pub fn name(self) -> &'static str {
        match self {
            IntType::Int => "int",
            IntType::Int8 => "int8",
            IntType::Int16 => "int16",
            IntType::Int32 => "int32",
            IntType::Int64 => "int64",
            IntType::Uint => "uint",
            IntType::Uint8 => "uint8",
            IntType::Uint16 => "uint16",
            IntType::Uint32 => "uint32",
            IntType::Uint64 => "uint64",
        }
    }

    pub fn unsigned(self) -> bool {
        matches!(self, IntType::Uint | IntType::Uint8 | IntType::Uint16 | IntType::Uint32 | IntType::Uint64)
    }
}

/// A Go slice: its items and its element type as Go names it.
#[derive(Clone, Debug)]
pub struct List {
    pub items: Arc<Vec<Value>>,
    /// `interface {}` for `[]interface{}`, `string` for `[]string`, …
    pub elem: &'static str,
}

/// A Go map with string keys: its entries and its value type as Go names it.
#[derive(Clone, Debug)]
pub struct Map {
    pub entries: Arc<BTreeMap<String, Value>>,
    /// `interface {}` for `map[string]interface{}`, `string` for `map[string]string`, …
    pub elem: &'static str,
}

/// A `time.Time`: an instant and the zone it is shown in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Time {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    pub unix_nanos: i128,
    /// The zone's offset east of UTC, in seconds.
    pub offset: i32,
    /// The zone's abbreviation (`UTC`, `CET`, …), as Go prints it.
    pub zone: Arc<str>,
}

/// What a field or method name on an [`Object`] is.
pub enum Member {
    /// A struct field (or a map entry of a named map type).
    Field(Value),
    /// A method, called with the template's arguments.
    Method(MethodFn),
}

/// A method of an [`Object`], called with the template's arguments.
pub type MethodFn = Arc<dyn Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync>;

/// A Go struct, pointer to struct or named type with methods, as templates
/// use it: `.Chart.Name`, `.Files.Get "x"`, `.Capabilities.APIVersions.Has "v1"`.
pub trait Object: Send + Sync + fmt::Debug {
    /// Go's name of the type, as `%T` prints it (`*chart.Metadata`).
    fn type_name(&self) -> String;
    /// The field or method `name`; None when the type has neither.
    fn member(&self, name: &str) -> Option<Member>;
    /// How `fmt`'s `%v` prints it (`{name 0.1.0 …}`, `&{…}` for pointers).
    fn format(&self) -> String;
    /// What an encoder sees (`toYaml`, `toJson`): the struct through its
    /// JSON tags, as a map; Nil for a nil pointer.
    fn marshal(&self) -> Value;
    /// Go's `reflect.Kind` name (`struct`, `ptr`, `map`, `slice`).
    fn kind(&self) -> &'static str {
        "struct"
    }
    /// Truth in `if`/`with`: a struct is always true; a nil pointer or an
    /// empty named map or slice is not.
    fn truthy(&self) -> bool {
        true
    }
    /// For a named map type (`kind() == "map"`, like Helm's `files`): its
    /// entries in key order, which `range`, `index`, `len` and `.key` see
    /// (methods come first, as in Go). None for other kinds.
    fn map_entries(&self) -> Option<Vec<(String, Value)>> {
        None
    }
}

impl Value {
    pub fn str(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    pub fn int(i: i64) -> Value {
        Value::Int(i, IntType::Int)
    }

    pub fn int64(i: i64) -> Value {
        Value::Int(i, IntType::Int64)
    }

    /// A `[]interface{}`.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(List { items: Arc::new(items), elem: "interface {}" })
    }

    /// A `[]string`.
    pub fn strings<S: Into<Arc<str>>>(items: impl IntoIterator<Item = S>) -> Value {
        Value::List(List { items: Arc::new(items.into_iter().map(|s| Value::String(s.into())).collect()), elem: "string" })
    }

    /// A `map[string]interface{}`.
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Map { entries: Arc::new(entries), elem: "interface {}" })
    }

    pub fn empty_map() -> Value {
        Value::map(BTreeMap::new())
    }

    /// Go's name of the dynamic type, as `%T` and Sprig's `typeOf` print it
    /// (`<nil>` for a nil interface).
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_, t) => t.name().into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::Bytes(_) => "[]uint8".into(),
            Value::List(l) => format!("[]{}", l.elem),
            Value::Map(m) => format!("map[string]{}", m.elem),
            Value::Time(_) => "time.Time".into(),
            Value::Object(o) => o.type_name(),
        }
    }

    /// Go's `reflect.Kind` name, as Sprig's `kindOf` prints it (`invalid` for nil).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_, t) => t.name(),
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) | Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Time(_) => "struct",
            Value::Object(o) => o.kind(),
        }
    }

    /// Truth as `if`, `with`, `and`, `or` and `not` decide it: false for
    /// nil, false, zero numbers, and empty strings, slices and maps.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i, _) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l) => !l.items.is_empty(),
            Value::Map(m) => !m.entries.is_empty(),
            Value::Time(_) => true,
            Value::Object(o) => o.truthy(),
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(&m.entries),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(&l.items),
            _ => None,
        }
    }

    /// The value at `key` of a map; None for other values and missing keys.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s.into())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

/// From JSON as Go's `encoding/json` decodes into `interface{}`: every
/// number a `float64`, objects `map[string]interface{}`, arrays `[]interface{}`.
impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::str(s.as_str()),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => Value::map(o.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_type_names_and_kinds() {
        assert_eq!(Value::Nil.type_name(), "<nil>");
        assert_eq!(Value::Float(1.0).type_name(), "float64");
        assert_eq!(Value::int64(1).type_name(), "int64");
        assert_eq!(Value::list(vec![]).type_name(), "[]interface {}");
        assert_eq!(Value::strings(["a"]).type_name(), "[]string");
        assert_eq!(Value::empty_map().type_name(), "map[string]interface {}");
        assert_eq!(Value::Bytes(Arc::from(&b"x"[..])).type_name(), "[]uint8");
        assert_eq!((Value::Nil.kind_name(), Value::strings(["a"]).kind_name(), Value::empty_map().kind_name()), ("invalid", "slice", "map"));
    }

    #[test]
    fn truth_is_gos() {
        for v in [Value::Nil, Value::Bool(false), Value::int(0), Value::Float(0.0), Value::str(""), Value::list(vec![]), Value::empty_map()] {
            assert!(!v.truthy(), "{v:?}");
        }
        for v in [Value::Bool(true), Value::int(-1), Value::Float(0.5), Value::str("0"), Value::list(vec![Value::Nil])] {
            assert!(v.truthy(), "{v:?}");
        }
    }

    #[test]
    fn json_numbers_are_float64() {
        let v = Value::from(&serde_json::json!({"replicas": 3, "name": "web", "tags": [1, "a"], "none": null}));
        assert_eq!(v.get("replicas").unwrap().type_name(), "float64");
        assert_eq!(v.get("tags").unwrap().type_name(), "[]interface {}");
        assert!(v.get("none").unwrap().is_nil());
    }
}
