//! `${VAR}` expansion, as GitLab CI and the shell write it: `${VAR}`,
//! `${VAR:-default}` (default when unset or empty), `$$` for a literal `$`.
//! Variables come from the environment, overridden by `--var K=V`.
//! Expansion happens on parsed string values, never on the YAML text, so a
//! value full of quotes and newlines (a service-account key) stays one value.

use std::collections::{BTreeMap, HashMap};

/// The variables a pipeline file is expanded with.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: HashMap<String, String>,
}

/// Names that mark a variable's value as secret (masked in logs and records).
const SECRET_MARKERS: [&str; 7] = ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH"];

impl Vars {
    /// The process environment.
    pub fn from_env() -> Vars {
        Vars { values: std::env::vars().collect() }
    }

    /// No variables at all (tests).
    pub fn empty() -> Vars {
        Vars::default()
    }

    /// `--var K=V`.
    pub fn set(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_string(), value.to_string());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Values of the variables `names` whose names look secret, for masking.
    pub fn secrets_among<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        names
            .into_iter()
            .filter(|n| is_secret_name(n))
            .filter_map(|n| self.values.get(n.as_str()))
            .filter(|v| v.len() >= 4)
            .cloned()
            .collect()
    }
}

pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|m| upper.contains(m))
}

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandError {
    Unset(String),
    Malformed(String),
}

/// Expand one string; records the names it used in `used`.
pub fn expand(text: &str, vars: &Vars, used: &mut BTreeMap<String, ()>) -> Result<String, ExpandError> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = closing_brace(body).ok_or_else(|| {
                ExpandError::Malformed(format!("`${{` without a closing `}}` in `{text}`"))
            })?;
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ExpandError::Malformed(format!(
                    "`${{{inner}}}` is not a variable reference (use `${{NAME}}` or `${{NAME:-default}}`)"
                )));
            }
            used.insert(name.to_string(), ());
            match (vars.get(name), default) {
                (Some(v), Some(_)) if !v.is_empty() => out.push_str(v),
                (Some(v), None) => out.push_str(v),
                (_, Some(d)) => out.push_str(&expand(d, vars, used)?),
                (None, None) => return Err(ExpandError::Unset(name.to_string())),
            }
            rest = &body[end + 1..];
        } else {
            // A lone `$` (as in a regex or a price) stays as it is.
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Index of the `}` closing a `${`, allowing `${...}` nested in a default.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut v = Vars::empty();
        v.set("IMAGE_NAME", "fastapi-app");
        v.set("EMPTY", "");
        v
    }

    fn x(s: &str) -> Result<String, ExpandError> {
        expand(s, &vars(), &mut BTreeMap::new())
    }

    #[test]
    fn expands_braced_variables_and_defaults() {
        assert_eq!(x("${IMAGE_NAME}:1").unwrap(), "fastapi-app:1");
        assert_eq!(x("${CI_COMMIT_SHA:-dev}").unwrap(), "dev");
        assert_eq!(x("${EMPTY:-fallback}").unwrap(), "fallback");
        assert_eq!(x("${MISSING:-${IMAGE_NAME}}").unwrap(), "fastapi-app");
    }

    #[test]
    fn dollar_dollar_is_a_literal_dollar_and_lone_dollars_stay() {
        assert_eq!(x("cost $$5").unwrap(), "cost $5");
        assert_eq!(x("^v[0-9]+$").unwrap(), "^v[0-9]+$");
    }

    #[test]
    fn unset_variable_without_default_is_an_error_naming_it() {
        assert_eq!(x("${CLUSTER_AWS}"), Err(ExpandError::Unset("CLUSTER_AWS".into())));
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(matches!(x("${IMAGE_NAME"), Err(ExpandError::Malformed(_))));
        assert!(matches!(x("${a b}"), Err(ExpandError::Malformed(_))));
    }

    #[test]
    fn secret_looking_names_are_recognised() {
        assert!(is_secret_name("GCP_SERVICE_ACCOUNT_KEY"));
        assert!(is_secret_name("registry_password"));
        assert!(!is_secret_name("CI_COMMIT_SHA"));
    }
}
