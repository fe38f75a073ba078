//! Values as Helm builds them: chart defaults coalesced with parents'
//! overrides, `-f` files, `--set`, `--set-string`, `--set-file` and
//! `--set-json` (Helm's strvals grammar), globals, and `values.schema.json`.
//!
//! This file owns coalescing (Helm's `CoalesceValues`/`MergeValues`,
//! `CoalesceTables`/`MergeTables`: user values over chart defaults, `null`
//! deleting a default, subchart sections, `global` copied down), values
//! files (`LoadValues`: several YAML documents merged) and the order
//! `helm install` merges its flags in. It must not parse the `--set` grammar
//! (`strvals`) nor validate (`schema`). Helm prints type-mismatch warnings
//! through `log.Printf`; they are dropped here (they change nothing).

pub mod schema;
pub mod strvals;

use std::collections::BTreeMap;

use crate::chart::Chart;
use crate::value::{Map, Value};

/// A values error; the message is Helm's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValuesError {
    pub message: String,
}

impl ValuesError {
    pub fn new(message: impl Into<String>) -> ValuesError {
        ValuesError { message: message.into() }
    }
}

pub(crate) type Table = BTreeMap<String, Value>;

/// Go's `istable`: a `map[string]interface{}` (not a `map[string]string`).
pub(crate) fn is_table(v: &Value) -> bool {
    matches!(v, Value::Map(m) if m.elem == "interface {}")
}

/// The entries of a table, owned (cheap when not shared).
pub(crate) fn take_table(v: Value) -> Option<Table> {
    match v {
        Value::Map(m) if m.elem == "interface {}" => Some(m.into_entries()),
        _ => None,
    }
}

/// The entries of a table to change as a value: a table another value
/// shares is copied first (coalescing builds new values, as Helm's copies
/// do; it never changes a map a template could hold).
pub(crate) fn table_mut(v: &mut Value) -> Option<&mut Table> {
    match v {
        Value::Map(m) if m.elem == "interface {}" => Some(m.make_mut()),
        _ => None,
    }
}

pub(crate) fn table_value(t: Table) -> Value {
    Value::Map(Map::new(t, "interface {}"))
}

fn concat_prefix(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}.{b}")
    }
}

/// Helm's `CoalesceValues`: `user` over the chart's defaults (a `null` in
/// `user` deletes the default), recursively into subcharts, globals copied
/// down. This is what templates see as `.Values`.
pub fn coalesce(chart: &Chart, user: &Value) -> Result<Value, ValuesError> {
    coalesce_with(chart, user, false)
}

/// Helm's `MergeValues`: as [`coalesce`], but `null`s are kept (used for
/// import-values).
pub fn merge_values(chart: &Chart, user: &Value) -> Result<Value, ValuesError> {
    coalesce_with(chart, user, true)
}

fn coalesce_with(chart: &Chart, user: &Value, merge: bool) -> Result<Value, ValuesError> {
    let mut dest = take_table(user.clone()).unwrap_or_default();
    coalesce_chart(chart, &mut dest, "", merge)?;
    Ok(table_value(dest))
}

fn coalesce_chart(chart: &Chart, dest: &mut Table, prefix: &str, merge: bool) -> Result<(), ValuesError> {
    coalesce_defaults(chart, dest, prefix, merge);
    coalesce_deps(chart, dest, prefix, merge)
}

fn coalesce_deps(chart: &Chart, dest: &mut Table, prefix: &str, merge: bool) -> Result<(), ValuesError> {
    for sub in &chart.dependencies {
        let name = sub.name().to_string();
        let mut dv = match dest.remove(&name) {
            None => Table::new(),
            Some(v) if is_table(&v) => take_table(v).unwrap_or_default(),
            Some(v) => {
                let msg = format!("type mismatch on {name}: {}", go_format_t(&v));
                dest.insert(name, v);
                return Err(ValuesError::new(msg));
            }
        };
        let sub_prefix = concat_prefix(prefix, chart.name());
        coalesce_globals(&mut dv, dest, &sub_prefix);
        coalesce_chart(sub, &mut dv, &sub_prefix, merge)?;
        share_back_globals(dest, &dv);
        dest.insert(name, table_value(dv));
    }
    Ok(())
}

/// Go's `%t` of a value that may not be a bool (`%!t(string=x)`).
fn go_format_t(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::List(l) => format!("[{}]", l.items().iter().map(go_format_t).collect::<Vec<_>>().join(" ")),
        Value::Nil => "%!t(<nil>)".into(),
        Value::String(s) => format!("%!t(string={s})"),
        Value::Float(f) => format!("%!t(float64={})", crate::values::strvals::go_float_v(*f)),
        Value::Int(i, t) => format!("%!t({}={i})", t.name()),
        other => format!("%!t({}=…)", other.type_name()),
    }
}

/// Helm's `coalesceGlobals`: the parent's `global` over the subchart's.
fn coalesce_globals(dest: &mut Table, src: &Table, prefix: &str) {
    let mut dg = match dest.get("global") {
        None => Table::new(),
        Some(v) => match take_table(v.clone()) {
            Some(t) => t,
            None => return, // "warning: skipping globals because destination global is not a table."
        },
    };
    let sg = match src.get("global") {
        None => Table::new(),
        Some(v) => match take_table(v.clone()) {
            Some(t) => t,
            None => return,
        },
    };
    for (key, val) in sg.iter() {
        if let Some(mut vv) = take_table(val.clone()) {
            match dg.get(key) {
                None => {
                    dg.insert(key.clone(), table_value(vv));
                }
                Some(destv) => {
                    if let Some(destvmap) = take_table(destv.clone()) {
                        let sub_prefix = concat_prefix(prefix, key);
                        coalesce_tables_full_key(&mut vv, destvmap, &sub_prefix, true);
                        dg.insert(key.clone(), table_value(vv));
                    }
                    // else: "Conflict: cannot merge map onto non-map"; skipped.
                }
            }
        } else if dg.get(key).is_some_and(is_table) {
            // "key is table. Skipping"
        } else {
            dg.insert(key.clone(), val.clone());
        }
    }
    dest.insert("global".into(), table_value(dg));
}

/// Helm copies a parent's global tables into a subchart's one level deep
/// only (`copyMap`): the tables inside are shared, so whatever the
/// subchart's coalescing adds or deletes below them (its own default
/// globals, its subcharts') shows in the parent's globals too, and in every
/// later sibling's. Emulated by writing those tables back from the
/// subchart's final globals.
fn share_back_globals(parent: &mut Table, child: &Table) {
    let Some(pg) = parent.get_mut("global").and_then(table_mut) else { return };
    let Some(cg) = child.get("global").filter(|g| is_table(g)).and_then(Value::as_map) else { return };
    for (key, pv) in pg.iter_mut() {
        let Some(ct) = cg.get(key).filter(|c| is_table(c)).and_then(Value::as_map) else { continue };
        let Some(pt) = table_mut(pv) else { continue };
        for (k, v) in pt.iter_mut() {
            if is_table(v) {
                if let Some(cv) = ct.get(k).filter(|c| is_table(c)) {
                    *v = cv.clone();
                }
            }
        }
    }
}

/// Helm's `coalesceValues`: the chart's defaults under `v`.
fn coalesce_defaults(chart: &Chart, v: &mut Table, prefix: &str, merge: bool) {
    let sub_prefix = concat_prefix(prefix, chart.name());
    let Some(defaults) = chart.values.as_map() else { return };
    for (key, val) in defaults.iter() {
        match v.get_mut(key) {
            Some(value) => {
                if value.is_nil() && !merge {
                    v.remove(key);
                } else if let Some(dest) = table_mut(value) {
                    if let Some(mut src) = take_table(val.clone()) {
                        let merge = merge || chart.dependencies.iter().any(|d| d.name() == key);
                        if !merge {
                            clean_nil_values(&mut src);
                        }
                        coalesce_tables_full_key(dest, src, &concat_prefix(&sub_prefix, key), merge);
                    }
                    // else: "warning: skipped value for …: Not a table."
                }
            }
            None => {
                let mut val = val.clone();
                if !merge {
                    if val.is_nil() {
                        continue;
                    }
                    if let Some(t) = table_mut(&mut val) {
                        clean_nil_values(t);
                    }
                }
                v.insert(key.clone(), val);
            }
        }
    }
}

fn clean_nil_values(m: &mut Table) {
    m.retain(|_, v| !v.is_nil());
    for v in m.values_mut() {
        if let Some(t) = table_mut(v) {
            clean_nil_values(t);
        }
    }
}

/// Helm's `CoalesceTables`: `src`'s keys fill in what `dst` lacks; a `null`
/// in `dst` deletes `src`'s value.
pub fn coalesce_tables(dst: &mut Table, src: Table) {
    coalesce_tables_full_key(dst, src, "", false)
}

/// Helm's `MergeTables`: as [`coalesce_tables`], `null`s kept.
pub fn merge_tables(dst: &mut Table, src: Table) {
    coalesce_tables_full_key(dst, src, "", true)
}

fn coalesce_tables_full_key(dst: &mut Table, mut src: Table, prefix: &str, merge: bool) {
    let src_non_nil: Vec<String> = src.iter().filter(|(_, v)| !v.is_nil()).map(|(k, _)| k.clone()).collect();
    for (key, val) in dst.iter() {
        if val.is_nil() {
            src.insert(key.clone(), Value::Nil);
        }
    }
    for (key, val) in src {
        let full = concat_prefix(prefix, &key);
        match dst.get_mut(&key) {
            Some(dv) if !merge && dv.is_nil() && src_non_nil.contains(&key) => {
                dst.remove(&key);
            }
            None => {
                dst.insert(key, val);
            }
            Some(dv) => {
                if is_table(&val) {
                    if let Some(dt) = table_mut(dv) {
                        if let Some(st) = take_table(val) {
                            coalesce_tables_full_key(dt, st, &full, merge);
                        }
                    }
                    // else: "warning: cannot overwrite table with non table"
                }
                // else if dst is a table and val non-nil: "destination … is a table"
            }
        }
    }
}

/// Helm's `loader.LoadValues`: every YAML document of a values file, merged
/// in order (`yaml::load_values`), as a `map[string]interface{}`.
pub fn load_values(data: &[u8]) -> Result<Value, String> {
    crate::yaml::load_values(&String::from_utf8_lossy(data)).map(table_value).map_err(|e| e.message)
}

/// How Helm's `readFile` reads a `-f` or `--set-file` path, for local
/// paths: `-` is standard input, anything else a file, errors in Go's words
/// (`open x: no such file or directory`). Knowing difference: Helm fetches
/// `http(s)://` and `oci://` paths through its getters; here they are file
/// names (gantry sends no traffic from here).
pub fn read_local_file(path: &str) -> Result<Vec<u8>, String> {
    if path.trim() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map_err(|e| crate::chart::io_error_text(&e))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| format!("open {path}: {}", crate::chart::io_error_text(&e)))
}

/// The user's values flags, in the order `helm install` merges them:
/// `-f` files, `--set-json`, `--set`, `--set-string`, `--set-file`,
/// `--set-literal` (Helm's `values.Options.MergeValues`).
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub value_files: Vec<String>,
    pub json_values: Vec<String>,
    pub values: Vec<String>,
    pub string_values: Vec<String>,
    pub file_values: Vec<String>,
    pub literal_values: Vec<String>,
}

impl Options {
    /// Merges the flags; `read` reads a `-f` or `--set-file` path (`-` is
    /// stdin for Helm; the caller decides).
    pub fn merge(&self, read: &dyn Fn(&str) -> Result<Vec<u8>, String>) -> Result<Value, ValuesError> {
        let mut base = Table::new();
        for path in &self.value_files {
            let raw = read(path).map_err(ValuesError::new)?;
            let cur = load_values(&raw).map_err(|e| ValuesError::new(format!("failed to parse {path}: {e}")))?;
            base = crate::yaml::merge_maps(base, take_table(cur).unwrap_or_default());
        }
        let mut base = table_value(base);
        for value in &self.json_values {
            let trimmed = value.trim();
            if trimmed.starts_with('{') {
                let parsed = crate::yaml::json::unmarshal(trimmed).map_err(|_| ValuesError::new(format!("failed parsing --set-json data JSON: {value}")))?;
                let Some(t) = take_table(parsed) else {
                    return Err(ValuesError::new(format!("failed parsing --set-json data JSON: {value}")));
                };
                base = table_value(crate::yaml::merge_maps(take_table(base).unwrap_or_default(), t));
            } else if strvals::parse_set_json(value, &mut base).is_err() {
                return Err(ValuesError::new(format!("failed parsing --set-json data {value}")));
            }
        }
        for value in &self.values {
            strvals::parse_set(value, &mut base).map_err(|e| ValuesError::new(format!("failed parsing --set data: {e}")))?;
        }
        for value in &self.string_values {
            strvals::parse_set_string(value, &mut base).map_err(|e| ValuesError::new(format!("failed parsing --set-string data: {e}")))?;
        }
        for value in &self.file_values {
            strvals::parse_set_file(value, &mut base, read).map_err(|e| ValuesError::new(format!("failed parsing --set-file data: {e}")))?;
        }
        for value in &self.literal_values {
            strvals::parse_set_literal(value, &mut base).map_err(|e| ValuesError::new(format!("failed parsing --set-literal data: {e}")))?;
        }
        Ok(base)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod oracle;
