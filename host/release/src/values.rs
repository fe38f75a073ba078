//! Values as a release operation merges them, on JSON: Helm's
//! `CoalesceTables` (the first table wins, tables merge, a null in the first
//! deletes the key) and what `upgrade` does with the last release's values
//! (`--reuse-values`, `--reset-values`, `--reset-then-reuse-values`, and
//! reusing the last values when none are given). Coalescing against a whole
//! chart (subcharts, globals, schemas) is the engine's, not this file's.

use serde_json::{Map, Value};

/// Helm's `CoalesceTables(dst, src)`: `dst` wins.
pub fn coalesce_tables(mut dst: Map<String, Value>, src: &Map<String, Value>) -> Map<String, Value> {
    coalesce_into(&mut dst, src);
    dst
}

fn coalesce_into(dst: &mut Map<String, Value>, src: &Map<String, Value>) {
    for (key, val) in src {
        match dst.get_mut(key) {
            Some(Value::Null) => {
                dst.remove(key);
            }
            None => {
                dst.insert(key.clone(), val.clone());
            }
            Some(Value::Object(d)) => {
                if let Value::Object(s) = val {
                    coalesce_into(d, s);
                } else if !val.is_null() {
                    tracing::warn!(key = %key, "destination is a table; ignoring non-table value");
                }
            }
            Some(_) => {
                if val.is_object() {
                    tracing::warn!(key = %key, "cannot overwrite table with non table");
                }
            }
        }
    }
    // A null given for a key the source does not have is deleted too.
    dst.retain(|_, v| !v.is_null());
}

/// How `upgrade` treats the values of the release it replaces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ValuesPolicy {
    /// Helm's default: the given values, or the last release's when none are given.
    #[default]
    Default,
    /// `--reuse-values`: the last values under the given ones, and the
    /// last chart's coalesced values as the chart's defaults.
    Reuse,
    /// `--reset-values`: only the given values.
    Reset,
    /// `--reset-then-reuse-values`: the last values under the given ones, the new chart's defaults.
    ResetThenReuse,
}

/// What to render an upgrade with: the values stored as the release's
/// config, and the chart defaults to put under them (Some for
/// `--reuse-values`: the last chart's values coalesced with its config).
pub fn upgrade_values(policy: ValuesPolicy, given: Map<String, Value>, last_config: &Map<String, Value>, last_chart_values: Option<&Map<String, Value>>) -> (Map<String, Value>, Option<Map<String, Value>>) {
    match policy {
        ValuesPolicy::Reset => (given, None),
        ValuesPolicy::Reuse => {
            let old = coalesce_tables(last_config.clone(), last_chart_values.unwrap_or(&Map::new()));
            (coalesce_tables(given, last_config), Some(old))
        }
        ValuesPolicy::ResetThenReuse => (coalesce_tables(given, last_config), None),
        ValuesPolicy::Default => {
            if given.is_empty() && !last_config.is_empty() {
                (last_config.clone(), None)
            } else {
                (given, None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn coalesce_tables_keeps_the_first_and_deletes_nulls() {
        let got = coalesce_tables(m(json!({"a": 1, "t": {"x": 1, "gone": null}, "n": null})), &m(json!({"a": 2, "b": 3, "t": {"y": 2, "gone": 5}, "n": 4})));
        assert_eq!(Value::Object(got), json!({"a": 1, "b": 3, "t": {"x": 1, "y": 2}}));
    }

    #[test]
    fn upgrade_values_follow_helms_flags() {
        let last = m(json!({"image": {"tag": "v1"}, "replicaCount": 1}));
        let given = m(json!({"replicaCount": 2}));
        let chart = m(json!({"replicaCount": 5, "port": 80}));
        assert_eq!(Value::Object(upgrade_values(ValuesPolicy::Default, given.clone(), &last, None).0), json!({"replicaCount": 2}));
        assert_eq!(Value::Object(upgrade_values(ValuesPolicy::Default, Map::new(), &last, None).0), Value::Object(last.clone()));
        assert_eq!(Value::Object(upgrade_values(ValuesPolicy::Reset, Map::new(), &last, None).0), json!({}));
        let (config, defaults) = upgrade_values(ValuesPolicy::Reuse, given.clone(), &last, Some(&chart));
        assert_eq!(Value::Object(config), json!({"image": {"tag": "v1"}, "replicaCount": 2}));
        assert_eq!(defaults.map(Value::Object), Some(json!({"image": {"tag": "v1"}, "replicaCount": 1, "port": 80})));
        assert_eq!(upgrade_values(ValuesPolicy::ResetThenReuse, given, &last, Some(&chart)).1, None);
    }
}
