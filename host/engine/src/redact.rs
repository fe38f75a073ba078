//! Masking secrets: every value of a secret-looking variable the pipeline
//! uses, and every credential in a target, is replaced by `[masked]` in
//! log lines, summaries, outputs and errors before they are shown or stored.

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

pub const MASK: &str = "[masked]";

impl Redactor {
    pub fn new(mut secrets: Vec<String>) -> Redactor {
        secrets.retain(|s| s.len() >= 4);
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    pub fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    pub fn json(&self, v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::String(s) => serde_json::Value::String(self.text(s)),
            serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(|i| self.json(i)).collect()),
            serde_json::Value::Object(map) => serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), self.json(v))).collect()),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let r = Redactor::new(vec!["hunter2".into(), "hunter2-extended".into(), "ab".into()]);
        assert_eq!(r.text("pw=hunter2-extended and hunter2; ab stays"), "pw=[masked] and [masked]; ab stays");
        let v = serde_json::json!({"a": ["x hunter2 y"], "n": 1});
        assert_eq!(r.json(&v), serde_json::json!({"a": ["x [masked] y"], "n": 1}));
    }
}
