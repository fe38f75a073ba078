//! Label and field selectors as the API server parses them from
//! `labelSelector` and `fieldSelector`: `=`, `==`, `!=`, `in (…)`,
//! `notin (…)`, `key` and `!key` for labels; `metadata.name`,
//! `metadata.namespace` (and `status.phase`, `spec.nodeName`, `status.podIP`,
//! `spec.serviceAccountName` for pods; `involvedObject.*`, `type`, `reason`,
//! `reportingComponent` for events) for fields. Parse
//! errors are 400 BadRequest like the real server. This file only matches
//! objects; it must not read the store.

use serde_json::Value;

use crate::error::ApiError;

/// Whether a structured LabelSelector (`matchLabels` and `matchExpressions`,
/// as workloads and Jobs carry it) selects the labels `label` looks up. An
/// empty selector selects everything, as metav1.LabelSelectorAsSelector
/// makes it; controllers that treat it as selecting nothing check that first.
pub fn structured_selects<'a>(selector: &Value, label: impl Fn(&str) -> Option<&'a str>) -> bool {
    let match_labels = selector["matchLabels"].as_object().into_iter().flatten().all(|(k, v)| label(k) == v.as_str());
    let expressions = selector["matchExpressions"].as_array().into_iter().flatten().all(|e| {
        let key = e["key"].as_str().unwrap_or("");
        let values: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        match e["operator"].as_str() {
            Some("In") => label(key).is_some_and(|v| values.contains(&v)),
            Some("NotIn") => label(key).is_none_or(|v| !values.contains(&v)),
            Some("Exists") => label(key).is_some(),
            Some("DoesNotExist") => label(key).is_none(),
            _ => false,
        }
    });
    match_labels && expressions
}

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    pub fn parse(text: &str) -> Result<LabelSelector, ApiError> {
        let mut reqs = Vec::new();
        for term in split_top_level(text) {
            let term = term.trim();
            if !term.is_empty() {
                reqs.push(parse_requirement(term)?);
            }
        }
        Ok(LabelSelector(reqs))
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

/// Commas separate requirements, except inside `in (a,b)`.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn parse_requirement(term: &str) -> Result<Requirement, ApiError> {
    let bad = || ApiError::BadRequest(format!("unable to parse requirement: found '{term}', expected: valid label selector"));
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(valid_key(key.trim()).ok_or_else(bad)?));
    }
    for (op, ctor) in [("!=", Requirement::NotEquals as fn(String, String) -> Requirement), ("==", Requirement::Equals), ("=", Requirement::Equals)] {
        if let Some((k, v)) = term.split_once(op) {
            return Ok(ctor(valid_key(k.trim()).ok_or_else(bad)?, v.trim().to_string()));
        }
    }
    if let Some((key, rest)) = term.split_once(char::is_whitespace) {
        let key = valid_key(key).ok_or_else(bad)?;
        let rest = rest.trim();
        let (op, list) = rest.split_once(char::is_whitespace).map(|(o, l)| (o, l.trim())).unwrap_or((rest, ""));
        let list = list.strip_prefix('(').and_then(|l| l.strip_suffix(')')).ok_or_else(bad)?;
        let values: Vec<String> = list.split(',').map(|v| v.trim().to_string()).collect();
        return match op {
            "in" => Ok(Requirement::In(key, values)),
            "notin" => Ok(Requirement::NotIn(key, values)),
            _ => Err(bad()),
        };
    }
    Ok(Requirement::Exists(valid_key(term).ok_or_else(bad)?))
}

fn valid_key(key: &str) -> Option<String> {
    let ok = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    ok.then(|| key.to_string())
}

/// A parsed field selector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// `resource` decides which fields are supported (`status.phase` for pods).
    pub fn parse(text: &str, resource: &str) -> Result<FieldSelector, ApiError> {
        let mut reqs = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (f, true, v)
            } else {
                return Err(ApiError::BadRequest(format!("invalid selector: '{text}'; can't understand '{term}'")));
            };
            let supported = matches!(field, "metadata.name" | "metadata.namespace")
                || (resource == "pods" && matches!(field, "status.phase" | "spec.nodeName" | "status.podIP" | "spec.serviceAccountName"))
                || (resource == "events" && (field.starts_with("involvedObject.") || matches!(field, "type" | "reason" | "reportingComponent")));
            if !supported {
                return Err(ApiError::BadRequest(format!("field label not supported: {field}")));
            }
            reqs.push((field.to_string(), equal, value.to_string()));
        }
        Ok(FieldSelector(reqs))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let actual = field.split('.').fold(object, |v, part| &v[part]).as_str().unwrap_or("");
            (actual == value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns", "labels": labels}, "status": {"phase": "Running"}})
    }

    #[test]
    fn label_selector_operators_match_as_kubernetes_does() {
        let o = obj(json!({"app": "web", "track": "canary"}));
        let yes = ["app=web", "app==web", "app!=api", "app in (web, api)", "track notin (stable)", "app", "!tier", "app=web,track=canary", ""];
        for s in yes {
            assert!(LabelSelector::parse(s).unwrap().matches(&o), "{s} should match");
        }
        let no = ["app=api", "app!=web", "app in (api)", "track notin (canary,stable)", "tier", "!app", "app=web,track=stable"];
        for s in no {
            assert!(!LabelSelector::parse(s).unwrap().matches(&o), "{s} should not match");
        }
        assert!(LabelSelector::parse("tier notin (x)").unwrap().matches(&o), "notin matches a missing label");
    }

    #[test]
    fn bad_label_selector_is_a_bad_request() {
        assert_eq!(LabelSelector::parse("app in web").unwrap_err().code(), 400);
        assert_eq!(LabelSelector::parse("a b c").unwrap_err().code(), 400);
    }

    #[test]
    fn field_selectors_support_name_namespace_and_pod_phase() {
        let o = obj(json!({}));
        assert!(FieldSelector::parse("metadata.name=a", "configmaps").unwrap().matches(&o));
        assert!(FieldSelector::parse("metadata.namespace!=other", "configmaps").unwrap().matches(&o));
        assert!(FieldSelector::parse("status.phase==Running", "pods").unwrap().matches(&o));
        assert!(!FieldSelector::parse("metadata.name=b", "pods").unwrap().matches(&o));
        let err = FieldSelector::parse("status.phase=Running", "configmaps").unwrap_err();
        assert_eq!(err.to_string(), "field label not supported: status.phase");
    }
}
