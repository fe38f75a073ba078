//! Multi-document YAML as Helm 4 reads values files (`loader.LoadValues`):
//! k8s.io/apimachinery's `YAMLReader` splits the text at lines starting
//! with `---` (only spaces or a comment may follow), each piece is read
//! into a map as `fromYaml` reads one, and the maps are merged in order
//! (`MergeMaps`: nested maps merge, anything else is replaced). It must
//! not know about charts; the loader adds its `cannot load values.yaml: `.

use std::collections::BTreeMap;

use super::YamlError;
use crate::value::Value;

/// The documents `YAMLReader` returns: the text between separator lines
/// (each with its line breaks), empty pieces skipped; or its error.
pub fn split_documents(text: &str) -> Result<Vec<String>, YamlError> {
    let mut docs = Vec::new();
    let mut buffer = String::new();
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("---") {
            let trimmed = rest.trim();
            if !trimmed.is_empty() && !trimmed.starts_with('#') {
                return Err(YamlError::new(format!("error reading yaml document: invalid Yaml document separator: {trimmed}")));
            }
            if !buffer.is_empty() {
                docs.push(std::mem::take(&mut buffer));
            }
            continue;
        }
        buffer.push_str(line);
    }
    if !buffer.is_empty() {
        docs.push(buffer);
    }
    Ok(docs)
}

/// Helm 4's `LoadValues`: every document read as a map and merged in
/// order. Errors read `cannot unmarshal yaml document: error converting
/// YAML to JSON: …` as Helm's do.
pub fn load_values(text: &str) -> Result<BTreeMap<String, Value>, YamlError> {
    let mut values = BTreeMap::new();
    for doc in split_documents(text)? {
        let current = super::parse_map(&doc).map_err(|e| YamlError { message: format!("cannot unmarshal yaml document: {}", e.message), ..e })?;
        values = merge_maps(values, current);
    }
    Ok(values)
}

/// Helm's `MergeMaps`: `b` over `a`, maps merged recursively.
pub fn merge_maps(mut a: BTreeMap<String, Value>, b: BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    for (k, v) in b {
        let merged = match (a.remove(&k), &v) {
            (Some(Value::Map(old)), Value::Map(new)) => Value::map(merge_maps((*old.entries()).clone(), (*new.entries()).clone())),
            _ => v,
        };
        a.insert(k, merged);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> String {
        match load_values(text) {
            Ok(m) => super::super::json::marshal(&Value::map(m)).unwrap_or_default(),
            Err(e) => format!("ERR {e}"),
        }
    }

    /// Each answer is Helm 4's for the same values.yaml (`{{ toJson .Values }}`,
    /// or the load error after `cannot load values.yaml: `).
    #[test]
    fn values_files_as_helm_reads_them() {
        assert_eq!(values("a: 1\n--- x\nb: 2\n"), "ERR error reading yaml document: invalid Yaml document separator: x");
        assert_eq!(values("# c\n---\n# only comment\n---\na: {x: 1, y: 2}\n---\na: {y: 3}\nb: [1]\n---\nb: [2]\n"), r#"{"a":{"true":3,"x":1},"b":[2]}"#);
        assert_eq!(values("---\n---\n"), "{}");
        assert_eq!(values(""), "{}");
        assert_eq!(values("null\n"), "{}");
        assert_eq!(values("a: 1\n--- # comment\nc: 3"), r#"{"a":1,"c":3}"#);
        assert_eq!(values("a: |\n  x\n  ---\n  y\n"), r#"{"a":"x\n---\ny\n"}"#);
        assert_eq!(values("a: 1\n---   \nb: 2\n"), r#"{"a":1,"b":2}"#);
        assert_eq!(values("a: 1\n ---\nb: 2\n"), r#"{"a":"1 ---","b":2}"#);
        assert_eq!(
            values("a: 1\n---\n- x\n"),
            "ERR cannot unmarshal yaml document: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!(values("a:\n  b: 1\n---\na: 5\n"), r#"{"a":5}"#);
        assert_eq!(values("a: 1\n...\n---\nb: 2\n"), r#"{"a":1,"b":2}"#);
        assert_eq!(values("a: b: c\n"), "ERR cannot unmarshal yaml document: error converting YAML to JSON: yaml: mapping values are not allowed in this context");
        assert_eq!(values("a: .inf\n"), "ERR cannot unmarshal yaml document: error converting YAML to JSON: json: unsupported value: +Inf");
    }
}
