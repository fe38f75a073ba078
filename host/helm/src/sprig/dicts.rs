//! Sprig's dictionaries (dict.go) and defaults (defaults.go, less the JSON
//! functions, which are yaml.rs's): `dict`, `get`, `set`, `unset`,
//! `hasKey`, `pluck`, `keys`, `pick`, `omit`, `values`, `dig`, `merge`/
//! `mergeOverwrite` (mergo's rules) and their `must*` twins, `deepCopy`;
//! `default`, `empty`, `coalesce`, `all`, `any`, `ternary`, and `hello`.
//!
//! Go maps are references (value.rs's [`Map`]): `set`, `unset` and the
//! `merge*` functions change their first argument in place (mergo also the
//! maps nested in it) and return that same map, as the oracle shows (a
//! `set` on the result of `set`, `unset`, `merge`, `default`, `get`, `dig`,
//! `pluck`, `values`, `coalesce` or `ternary` is seen through the map given
//! to them); `dict`, `pick`, `omit` and `deepCopy` make new maps. A source
//! map that a merge stores where the destination had nothing (or an empty
//! map) is stored by reference, as mergo does. `keys` and `values` come in
//! key order, where Go's is random.

use std::collections::BTreeMap;

use super::conv::*;
use crate::func::{FuncError, FuncMap, FuncResult};
use crate::value::{Map, Value};

/// A `map[string]interface{}` parameter that a function changes in place:
/// the map itself. A named map type over it (an object of kind `map`) has
/// no map to share, so its marshalled copy is changed (see [`want_map`]).
fn want_map_ref(v: &Value) -> Result<Map, FuncError> {
    match v {
        Value::Map(m) if m.elem == "interface {}" => Ok(m.clone()),
        other => Ok(Map::new(want_map(other)?.as_ref().clone(), "interface {}")),
    }
}

/// Sprig's `deepCopy` (copystructure): every map in `v` anew, so changes
/// to the copy are not seen through the original; bounded in depth, so a
/// map that contains itself is an error rather than an endless copy.
pub fn deep_copy(v: &Value, depth: usize) -> Result<Value, FuncError> {
    v.deep_copy((MAX_DEPTH + 1).saturating_sub(depth)).ok_or_else(|| too_deep("deepCopy"))
}

fn map_value(m: BTreeMap<String, Value>) -> Value {
    Value::map(m)
}

pub fn register(m: &mut FuncMap) {
    variadic(m, "dict", 0, |a| {
        let mut d = BTreeMap::new();
        for pair in a.chunks(2) {
            d.insert(strval(&pair[0]), pair.get(1).cloned().unwrap_or_else(|| Value::from("")));
        }
        Ok(map_value(d))
    });
    fixed(m, "get", 2, |a| {
        let (d, k) = (want_map(&a[0])?, want_str(&a[1])?);
        Ok(d.get(k).cloned().unwrap_or_else(|| Value::from("")))
    });
    fixed(m, "set", 3, |a| {
        let (d, k) = (want_map_ref(&a[0])?, want_str(&a[1])?);
        d.insert(k.to_string(), a[2].clone());
        Ok(Value::Map(d))
    });
    fixed(m, "unset", 2, |a| {
        let (d, k) = (want_map_ref(&a[0])?, want_str(&a[1])?);
        d.remove(k);
        Ok(Value::Map(d))
    });
    fixed(m, "hasKey", 2, |a| {
        let (d, k) = (want_map(&a[0])?, want_str(&a[1])?);
        Ok(Value::Bool(d.contains_key(k)))
    });
    variadic(m, "pluck", 1, |a| {
        let k = want_str(&a[0])?;
        let mut out = Vec::new();
        for d in &a[1..] {
            if let Some(v) = want_map(d)?.get(k) {
                out.push(v.clone());
            }
        }
        Ok(Value::list(out))
    });
    variadic(m, "keys", 0, |a| {
        let mut out = Vec::new();
        for d in a {
            out.extend(want_map(d)?.keys().cloned());
        }
        Ok(Value::strings(out))
    });
    variadic(m, "pick", 1, |a| {
        let d = want_map(&a[0])?;
        let mut out = BTreeMap::new();
        for k in &a[1..] {
            let k = want_str(k)?;
            if let Some(v) = d.get(k) {
                out.insert(k.to_string(), v.clone());
            }
        }
        Ok(map_value(out))
    });
    variadic(m, "omit", 1, |a| {
        let d = want_map(&a[0])?;
        let omit = a[1..].iter().map(want_str).collect::<Result<Vec<_>, _>>()?;
        Ok(map_value(d.iter().filter(|(k, _)| !omit.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()))
    });
    fixed(m, "values", 1, |a| Ok(Value::list(want_map(&a[0])?.values().cloned().collect())));
    for (name, overwrite) in [("merge", false), ("mustMerge", false), ("mergeOverwrite", true), ("mustMergeOverwrite", true)] {
        m.add(name, move |a: &[Value]| {
            check_at_least(name, a, 1)?;
            let dst = want_map_ref(&a[0])?;
            for src in &a[1..] {
                let src = want_map(src)?;
                merge_into(&dst, &src, overwrite, 0)?;
            }
            Ok(Value::Map(dst))
        });
    }
    for name in ["deepCopy", "mustDeepCopy"] {
        fixed(m, name, 1, |a| {
            if a[0].is_nil() {
                return Err(FuncError::call("reflect: call of reflect.Value.Type on zero Value"));
            }
            deep_copy(&a[0], 0)
        });
    }
    variadic(m, "dig", 0, dig);

    // defaults.go
    variadic(m, "default", 1, |a| Ok(if a.len() < 2 || empty(&a[1]) { a[0].clone() } else { a[1].clone() }));
    fixed(m, "empty", 1, |a| Ok(Value::Bool(empty(&a[0]))));
    variadic(m, "coalesce", 0, |a| Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil)));
    variadic(m, "all", 0, |a| Ok(Value::Bool(a.iter().all(|v| !empty(v)))));
    variadic(m, "any", 0, |a| Ok(Value::Bool(a.iter().any(|v| !empty(v)))));
    fixed(m, "ternary", 3, |a| Ok(if want_bool(&a[2])? { a[0].clone() } else { a[1].clone() }));
    fixed(m, "hello", 0, |_| Ok(Value::from("Hello!")));
}

/// Go's words for a failed `x.(T)` on an `interface{}`.
fn conversion(v: &Value, want: &str) -> FuncError {
    let got = match v {
        Value::Nil => "nil".to_string(),
        other => other.type_name(),
    };
    FuncError::call(format!("interface conversion: interface {{}} is {got}, not {want}"))
}

fn as_dict(v: &Value) -> Result<std::sync::Arc<BTreeMap<String, Value>>, FuncError> {
    match v {
        Value::Map(m) if m.elem == "interface {}" => Ok(m.entries()),
        other => Err(conversion(other, "map[string]interface {}")),
    }
}

/// Sprig's `dig KEY… DEFAULT DICT`.
fn dig(a: &[Value]) -> FuncResult {
    if a.len() < 3 {
        return Err(FuncError::call("dig needs at least three arguments"));
    }
    let mut dict = as_dict(&a[a.len() - 1])?;
    let default = &a[a.len() - 2];
    let keys = a[..a.len() - 2]
        .iter()
        .map(|k| match k {
            Value::String(s) => Ok(s.as_ref()),
            other => Err(conversion(other, "string")),
        })
        .collect::<Result<Vec<&str>, _>>()?;
    for (i, k) in keys.iter().enumerate() {
        let Some(step) = dict.get(*k) else {
            return Ok(default.clone());
        };
        if i == keys.len() - 1 {
            return Ok(step.clone());
        }
        let next = as_dict(step)?;
        dict = next;
    }
    Ok(default.clone())
}

/// mergo's `isEmptyValue` with dereferencing, over an interface's content.
fn mergo_empty(v: &Value) -> bool {
    match v {
        Value::Time(_) => false,
        Value::Object(o) => o.kind() != "struct" && !o.truthy(),
        other => empty(other),
    }
}

/// mergo's `Merge` (`overwrite` false) and `MergeWithOverwrite` of two
/// `map[string]interface{}`: nested maps merge key by key; otherwise a
/// source value replaces an empty destination value, or any value when
/// overwriting (a nil source only when overwriting); a non-empty
/// destination slice is kept unless overwriting.
pub fn merge_into(dst: &Map, src: &BTreeMap<String, Value>, overwrite: bool, depth: usize) -> Result<(), FuncError> {
    if depth > MAX_DEPTH {
        return Err(too_deep("merge"));
    }
    for (k, sv) in src {
        if sv.is_nil() {
            if overwrite {
                dst.insert(k.clone(), Value::Nil);
            }
            continue;
        }
        let dv = dst.get(k);
        if let (Value::Map(sm), Some(Value::Map(dm))) = (sv, &dv) {
            if sm.elem == "interface {}" && dm.elem == "interface {}" {
                // mergo merges into the nested destination map in place:
                // every other reference to it sees the merge.
                let was_empty = dm.is_empty();
                let src_entries = sm.entries();
                merge_into(dm, &src_entries, overwrite, depth + 1)?;
                // mergo looks at the destination after merging into it:
                // a merged map is no longer empty, so it stays.
                if !was_empty || !src_entries.is_empty() {
                    continue;
                }
            }
        }
        let dv_empty = dv.as_ref().is_none_or(mergo_empty);
        if !dv_empty {
            if matches!(sv, Value::List(_) | Value::Bytes(_)) && !overwrite {
                continue;
            }
            if matches!(sv, Value::Map(_)) && matches!(dv, Some(Value::Map(_))) && !overwrite {
                continue;
            }
        }
        if overwrite || dv_empty {
            dst.insert(k.clone(), sv.clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn show(m: &BTreeMap<String, Value>) -> String {
        crate::template::fmt::sprint(&Value::map(m.clone()))
    }

    /// `dst` after merging `src` into it.
    fn merged(dst: &BTreeMap<String, Value>, src: &BTreeMap<String, Value>, overwrite: bool) -> BTreeMap<String, Value> {
        let m = Map::new(dst.clone(), "interface {}");
        merge_into(&m, src, overwrite, 0).unwrap();
        m.into_entries()
    }

    #[test]
    fn merge_follows_mergo() {
        // Helm: merge (dict "a" 1 "n" (dict "x" 1)) (dict "a" 2 "b" 3 "n" (dict "y" 2)) → map[a:1 b:3 n:map[x:1 y:2]]
        let dst0 = d(&[("a", Value::int(1)), ("n", Value::map(d(&[("x", Value::int(1))])))]);
        let src = d(&[("a", Value::int(2)), ("b", Value::int(3)), ("n", Value::map(d(&[("y", Value::int(2))])))]);
        let dst = merged(&dst0, &src, false);
        assert_eq!(dst.get("a").map(|v| matches!(v, Value::Int(1, _))), Some(true));
        assert!(dst.get("n").and_then(|n| n.get("y")).is_some());
        let dst0 = d(&[("a", Value::int(1)), ("n", Value::map(d(&[("x", Value::int(1))])))]);
        let dst2 = merged(&dst0, &src, true);
        assert!(matches!(dst2.get("a"), Some(Value::Int(2, _))));
        let _ = show;
    }

    /// Helm v4's `.Values`: a named type over `map[string]interface{}`.
    #[derive(Debug)]
    struct NamedValues(BTreeMap<String, Value>);

    impl crate::value::Object for NamedValues {
        fn type_name(&self) -> String {
            "common.Values".into()
        }
        fn member(&self, _: &str) -> Option<crate::value::Member> {
            None
        }
        fn format(&self) -> String {
            String::new()
        }
        fn marshal(&self) -> Value {
            Value::map(self.0.clone())
        }
        fn kind(&self) -> &'static str {
            "map"
        }
    }

    #[test]
    fn named_map_types_are_assignable_but_not_asserted() {
        use crate::sprig::tests::call;
        let values = Value::Object(std::sync::Arc::new(NamedValues(d(&[("a", Value::Float(1.0))]))));
        // Helm: hasKey .Values "a" → true (assignable to the parameter type)
        assert!(matches!(call("hasKey", &[values.clone(), Value::from("a")]), Ok(Value::Bool(true))));
        // Helm: dig "a" 0 .Values → error calling dig: interface conversion: interface {} is common.Values, not map[string]interface {}
        let err = call("dig", &[Value::from("a"), Value::int(0), values]).unwrap_err();
        assert_eq!(err.render("dig"), "error calling dig: interface conversion: interface {} is common.Values, not map[string]interface {}");
    }

    #[test]
    fn merge_empty_and_nil() {
        // Helm: mergeOverwrite (dict "a" "x" "b" 5) (dict "a" "" "b" 0 "c" nil) → map[a: b:0 c:<nil>]
        let dst = merged(&d(&[("a", Value::from("x")), ("b", Value::int(5))]), &d(&[("a", Value::from("")), ("b", Value::int(0)), ("c", Value::Nil)]), true);
        assert_eq!(dst.get("a").and_then(Value::as_str), Some(""));
        assert!(dst.get("c").is_some_and(Value::is_nil));
        // merge replaces empty destination values: "" 0 nil []
        let dst = merged(&d(&[("a", Value::from("")), ("b", Value::int(0)), ("c", Value::Nil), ("d", Value::list(vec![]))]), &d(&[("a", Value::from("x")), ("b", Value::int(5)), ("c", Value::int(6)), ("d", Value::list(vec![Value::int(1)]))]), false);
        assert_eq!(dst.get("a").and_then(Value::as_str), Some("x"));
        assert!(matches!(dst.get("c"), Some(Value::Int(6, _))));
        assert_eq!(dst.get("d").and_then(|v| v.as_list()).map(|l| l.len()), Some(1));
        // a scalar never merges into a map, nor a map over a scalar without overwrite
        let dst = merged(&d(&[("n", Value::int(1))]), &d(&[("n", Value::map(d(&[("x", Value::int(1))])))]), false);
        assert!(matches!(dst.get("n"), Some(Value::Int(1, _))));
        let dst = merged(&dst, &d(&[("n", Value::map(d(&[("x", Value::int(1))])))]), true);
        assert!(matches!(dst.get("n"), Some(Value::Map(_))));
    }
}
