//! Helm's `ProcessDependencies`, run before values are coalesced for a
//! render: each declared dependency is matched to a loaded subchart (name
//! and version range), copied and renamed for an `alias`, enabled or
//! disabled by `tags` and then `condition` (the first condition path that
//! holds a bool wins), disabled ones dropped; then `import-values` (strings
//! `exports.x`, maps `child`/`parent`) are merged into the parent's values.
//! It must not render nor load files.

use std::collections::BTreeMap;

use crate::value::{Map, Value};
use crate::values::{self, is_table, merge_tables, table_value, take_table, Table, ValuesError};

use crate::semver::is_compatible_range;
use super::Chart;

/// Processes `chart`'s dependencies against the user's values (what
/// `helm install` passes: the merged `-f`/`--set` values, not yet coalesced).
pub fn process_dependencies(chart: &mut Chart, user_values: &Value) -> Result<(), ValuesError> {
    process_enabled(chart, user_values, "", 0)?;
    process_import_values_tree(chart, 0)
}

const MAX_DEPTH: usize = 64;

fn depth_error() -> ValuesError {
    ValuesError::new(format!("chart dependencies nested more than {MAX_DEPTH} deep"))
}

/// Helm's `getAliasDependency`: the first loaded chart of that name whose
/// version fits the range, copied, renamed to the alias.
fn alias_dependency(charts: &[Chart], dep: &super::Dependency) -> Option<Chart> {
    let c = charts.iter().find(|c| c.name() == dep.name && is_compatible_range(&dep.version, &c.metadata.version))?;
    let mut out = c.clone();
    if !dep.alias.is_empty() {
        out.metadata.name = dep.alias.clone();
    }
    Some(out)
}

fn process_enabled(c: &mut Chart, v: &Value, path: &str, depth: usize) -> Result<(), ValuesError> {
    if depth > MAX_DEPTH {
        return Err(depth_error());
    }
    // Helm returns early for a nil list only: an empty `dependencies: []`
    // goes on into the subcharts' own dependencies.
    if !c.metadata.dependencies_listed {
        return Ok(());
    }
    let existing = std::mem::take(&mut c.dependencies);
    let mut chart_deps: Vec<Chart> = existing
        .iter()
        .filter(|e| !c.metadata.dependencies.iter().any(|req| e.name() == req.name && is_compatible_range(&req.version, &e.metadata.version)))
        .cloned()
        .collect();
    for req in c.metadata.dependencies.iter_mut() {
        if let Some(d) = alias_dependency(&existing, req) {
            chart_deps.push(d);
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
    }
    c.dependencies = chart_deps;
    for req in c.metadata.dependencies.iter_mut() {
        req.enabled = true;
    }
    let cvals = values::coalesce(c, v)?;
    process_tags(&mut c.metadata.dependencies, &cvals);
    process_conditions(&mut c.metadata.dependencies, &cvals, path);
    let rm: Vec<String> = c.metadata.dependencies.iter().filter(|r| !r.enabled).map(|r| r.name.clone()).collect();
    c.dependencies.retain(|d| !rm.contains(&d.metadata.name));
    c.metadata.dependencies.retain(|d| !rm.contains(&d.name));
    // Helm rebuilds the list by appending to nil: none left is nil again.
    c.metadata.dependencies_listed = !c.metadata.dependencies.is_empty();
    for t in c.dependencies.iter_mut() {
        let sub_path = format!("{path}{}.", t.metadata.name);
        process_enabled(t, &cvals, &sub_path, depth + 1)?;
    }
    Ok(())
}

fn process_tags(reqs: &mut [super::Dependency], cvals: &Value) {
    let Some(vt) = table_at(cvals, "tags") else { return };
    for r in reqs.iter_mut() {
        let (mut has_true, mut has_false) = (false, false);
        for k in &r.tags {
            if let Some(Value::Bool(b)) = vt.get(k) {
                if *b {
                    has_true = true;
                } else {
                    has_false = true;
                }
            }
            // a non-bool tag: Helm warns "returned non-bool value" and ignores it
        }
        r.enabled = has_true || !has_false;
    }
}

fn process_conditions(reqs: &mut [super::Dependency], cvals: &Value, cpath: &str) {
    for r in reqs.iter_mut() {
        for c in r.condition.trim().split(',') {
            if c.is_empty() {
                continue;
            }
            if let Some(Value::Bool(b)) = path_value(cvals, &format!("{cpath}{c}")) {
                r.enabled = b;
                break;
            }
            // a non-bool or missing value: Helm warns (non-bool) and tries the next path
        }
    }
}

/// Helm's `Values.Table`: the table at a dotted path.
pub(crate) fn table_at(v: &Value, path: &str) -> Option<std::sync::Arc<std::collections::BTreeMap<String, Value>>> {
    let mut cur = v.as_map()?;
    if path.is_empty() {
        return Some(cur);
    }
    for part in path.split('.') {
        let next = cur.get(part)?;
        if !is_table(next) {
            return None;
        }
        let t = next.as_map()?;
        cur = t;
    }
    Some(cur)
}

/// Helm's `Values.PathValue`: a non-table value at a dotted path.
fn path_value(v: &Value, path: &str) -> Option<Value> {
    if path.is_empty() {
        return None;
    }
    let (table_path, key) = match path.rfind('.') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    };
    let t = table_at(v, table_path)?;
    match t.get(key) {
        Some(x) if !is_table(x) => Some(x.clone()),
        _ => None,
    }
}

fn process_import_values_tree(c: &mut Chart, depth: usize) -> Result<(), ValuesError> {
    if depth > MAX_DEPTH {
        return Err(depth_error());
    }
    for d in c.dependencies.iter_mut() {
        process_import_values_tree(d, depth + 1)?;
    }
    process_import_values(c)
}

/// `fmt.Sprintf("%v", x)` for the values an import-values map holds.
fn go_v(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Nil) => "<nil>".into(),
        Some(Value::String(s)) => s.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Float(f)) => crate::values::strvals::go_float_v(*f),
        Some(Value::Int(i, _)) => i.to_string(),
        Some(other) => format!("{other:?}"),
    }
}

/// Helm's `pathToMap`: `data` nested under the dotted `path` (`.` = top).
fn path_to_map(path: &str, data: Table) -> Table {
    if path == "." {
        return data;
    }
    let mut cur = data;
    for part in path.split('.').rev() {
        let mut m = Table::new();
        m.insert(part.to_string(), table_value(cur));
        cur = m;
    }
    cur
}

fn process_import_values(c: &mut Chart) -> Result<(), ValuesError> {
    if !c.metadata.dependencies_listed {
        return Ok(());
    }
    let cvals = values::merge_values(c, &Value::empty_map())?;
    let mut b = Table::new();
    for r in c.metadata.dependencies.iter_mut() {
        let mut outiv = Vec::new();
        for riv in &r.import_values {
            match riv {
                Value::Map(m) if is_table(riv) => {
                    let child = go_v(m.entries().get("child"));
                    let parent = go_v(m.entries().get("parent"));
                    outiv.push(string_map(&child, &parent));
                    // "ImportValues missing table from chart": skipped
                    let Some(vv) = table_at(&cvals, &format!("{}.{child}", r.name)) else { continue };
                    merge_tables(&mut b, path_to_map(&parent, (*vv).clone()));
                }
                Value::String(s) => {
                    let child = format!("exports.{s}");
                    outiv.push(string_map(&child, "."));
                    let Some(vm) = table_at(&cvals, &format!("{}.{child}", r.name)) else { continue };
                    merge_tables(&mut b, (*vm).clone());
                }
                _ => {}
            }
        }
        r.import_values = outiv;
    }
    let mut merged = take_table(cvals).unwrap_or_default();
    merge_tables(&mut merged, b);
    c.values = table_value(merged);
    Ok(())
}

/// A `map[string]string{"child": …, "parent": …}`.
fn string_map(child: &str, parent: &str) -> Value {
    let mut m = BTreeMap::new();
    m.insert("child".to_string(), Value::str(child));
    m.insert("parent".to_string(), Value::str(parent));
    Value::Map(Map::new(m, "string"))
}
