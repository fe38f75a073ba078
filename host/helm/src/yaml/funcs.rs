//! The template functions of the YAML/JSON/TOML family, as Helm 4's
//! engine has them: Helm's own (`toYaml`, `mustToYaml`, `toYamlPretty`,
//! `fromYaml`, `fromYamlArray`, `toJson`, `mustToJson`, `fromJson`,
//! `fromJsonArray`, `toToml`, `mustToToml`, `fromToml`), which replace
//! Sprig's of the same name, and Sprig's that remain (`toPrettyJson`,
//! `toRawJson`, `mustToPrettyJson`, `mustToRawJson`, `mustFromJson`). Each
//! keeps Helm's way of failing: some swallow errors (`toYaml` gives ""),
//! some put them in the result (`fromYaml`'s "Error" key), the `must`
//! ones fail the template. Only the wiring lives here; the formats are the
//! sibling modules'.

use std::collections::BTreeMap;

use super::json::{self, JsonStyle};
use crate::func::{arity, string_arg, FuncError, FuncMap};
use crate::value::Value;

/// Every name this family registers, for the engine's inventory.
pub const NAMES: &[&str] = &[
    "toYaml",
    "mustToYaml",
    "toYamlPretty",
    "fromYaml",
    "fromYamlArray",
    "toJson",
    "mustToJson",
    "fromJson",
    "fromJsonArray",
    "toPrettyJson",
    "mustToPrettyJson",
    "toRawJson",
    "mustToRawJson",
    "mustFromJson",
    "toToml",
    "mustToToml",
    "fromToml",
];

fn one<'a>(name: &str, args: &'a [Value]) -> Result<&'a Value, FuncError> {
    arity(name, args, 1)?;
    Ok(&args[0])
}

fn string_of(name: &str, args: &[Value]) -> Result<String, FuncError> {
    arity(name, args, 1)?;
    // A missing value (a nil interface) for a `string` parameter. (A
    // literal `nil` is refused by the executor first: "cannot assign nil
    // to string".)
    if args[0].is_nil() {
        return Err(FuncError::argument("wrong type for value; expected string; got interface {}"));
    }
    Ok(string_arg(args, 0)?.to_string())
}

/// Helm's `toYaml` text: Go's YAML without its final line break.
fn yaml_text(v: &Value) -> Result<String, String> {
    let s = super::to_yaml(v).map_err(|e| e.message)?;
    Ok(s.strip_suffix('\n').map(str::to_string).unwrap_or(s))
}

fn json_with(v: &Value, escape_html: bool, indent: Option<&'static str>) -> Result<String, String> {
    json::marshal_with(v, JsonStyle { escape_html, indent }).map_err(|e| e.0)
}

/// Registers the family in `m`, replacing Sprig's functions of the same name.
pub fn register(m: &mut FuncMap) {
    m.add("toYaml", |args| Ok(Value::from(yaml_text(one("toYaml", args)?).unwrap_or_default())));
    m.add("mustToYaml", |args| yaml_text(one("mustToYaml", args)?).map(Value::from).map_err(FuncError::call));
    m.add("toYamlPretty", |args| {
        let v = one("toYamlPretty", args)?;
        let s = super::to_yaml_pretty(v).unwrap_or_default();
        Ok(Value::from(s.strip_suffix('\n').map(str::to_string).unwrap_or(s)))
    });
    m.add("fromYaml", |args| {
        let text = string_of("fromYaml", args)?;
        Ok(Value::map(match super::parse_map(&text) {
            Ok(m) => m,
            Err(e) => BTreeMap::from([("Error".to_string(), Value::from(e.message))]),
        }))
    });
    m.add("fromYamlArray", |args| {
        let text = string_of("fromYamlArray", args)?;
        Ok(Value::list(match super::parse_list(&text) {
            Ok(l) => l,
            Err(e) => vec![Value::from(e.message)],
        }))
    });
    m.add("toJson", |args| Ok(Value::from(json_with(one("toJson", args)?, true, None).unwrap_or_default())));
    m.add("mustToJson", |args| json_with(one("mustToJson", args)?, true, None).map(Value::from).map_err(FuncError::call));
    m.add("toPrettyJson", |args| Ok(Value::from(json_with(one("toPrettyJson", args)?, true, Some("  ")).unwrap_or_default())));
    m.add("mustToPrettyJson", |args| json_with(one("mustToPrettyJson", args)?, true, Some("  ")).map(Value::from).map_err(FuncError::call));
    // Sprig's toRawJson panics on error; the executor reports the panic as the call's error.
    m.add("toRawJson", |args| json_with(one("toRawJson", args)?, false, None).map(Value::from).map_err(FuncError::call));
    m.add("mustToRawJson", |args| json_with(one("mustToRawJson", args)?, false, None).map(Value::from).map_err(FuncError::call));
    m.add("fromJson", |args| {
        let text = string_of("fromJson", args)?;
        Ok(Value::map(from_json_map(&text)))
    });
    m.add("fromJsonArray", |args| {
        let text = string_of("fromJsonArray", args)?;
        Ok(Value::list(from_json_list(&text)))
    });
    m.add("mustFromJson", |args| {
        let text = string_of("mustFromJson", args)?;
        json::unmarshal(&text).map_err(|e| FuncError::call(e.0))
    });
    m.add("toToml", |args| {
        let v = one("toToml", args)?;
        // Go's reflection panics on a nil interface: the call fails.
        if v.is_nil() {
            return super::toml::to_toml(v).map(Value::from).map_err(FuncError::call);
        }
        Ok(Value::from(super::toml::to_toml(v).unwrap_or_else(|e| e)))
    });
    m.add("mustToToml", |args| super::toml::to_toml(one("mustToToml", args)?).map(Value::from).map_err(FuncError::call));
    m.add("fromToml", |args| {
        let text = string_of("fromToml", args)?;
        Ok(Value::map(match super::toml::from_toml(&text) {
            Ok(m) => m,
            Err(e) => BTreeMap::from([("Error".to_string(), Value::from(e))]),
        }))
    });
}

/// Helm's `fromJson`: `json.Unmarshal` into a `map[string]interface{}`,
/// the error (if any) under "Error" next to what was decoded.
pub fn from_json_map(text: &str) -> BTreeMap<String, Value> {
    match json::unmarshal_partial(text) {
        Err(e) => BTreeMap::from([("Error".to_string(), Value::from(e.0))]),
        Ok((Value::Map(m), err)) => {
            let mut m = (*m.entries()).clone();
            if let Some(e) = err {
                m.insert("Error".into(), Value::from(e.0));
            }
            m
        }
        Ok((Value::Nil, _)) => BTreeMap::new(),
        Ok((other, _)) => BTreeMap::from([(
            "Error".to_string(),
            Value::from(format!("json: cannot unmarshal {} into Go value of type map[string]interface {{}}", super::json_kind(&other))),
        )]),
    }
}

/// Helm's `fromJsonArray`: `json.Unmarshal` into `[]interface{}`; on
/// error, the message as the only item.
pub fn from_json_list(text: &str) -> Vec<Value> {
    match json::unmarshal_partial(text) {
        Err(e) => vec![Value::from(e.0)],
        Ok((Value::List(l), None)) => (*l.items()).clone(),
        Ok((Value::List(_), Some(e))) => vec![Value::from(e.0)],
        Ok((Value::Nil, _)) => Vec::new(),
        Ok((other, _)) => vec![Value::from(format!("json: cannot unmarshal {} into Go value of type []interface {{}}", super::json_kind(&other)))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_the_whole_family() {
        let mut m = FuncMap::new();
        register(&mut m);
        let mut got: Vec<&str> = m.names().collect();
        got.sort_unstable();
        let mut want = NAMES.to_vec();
        want.sort_unstable();
        assert_eq!(got, want);
    }
}
