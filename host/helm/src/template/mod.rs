//! Go's `text/template`: lexer, parser, executor and the builtins (`and`,
//! `or`, `not`, `len`, `index`, `slice`, `eq`…, `print`, `printf`,
//! `println`, `html`, `js`, `urlquery`, `call`), and Go's `fmt` as templates
//! use it. Errors are worded as Go words them
//! (`template: NAME:LINE:COL: executing "NAME" at <…>: …`).
//! This module owns the template set ([`Templates`]) and its public API; it
//! knows nothing of charts, Sprig or Helm's own functions (those arrive
//! through the [`FuncMap`]).

pub mod fmt;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::func::FuncMap;
use crate::value::Value;

/// A template error, worded exactly as Go's `text/template` words it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
}

impl TemplateError {
    pub fn new(message: impl Into<String>) -> TemplateError {
        TemplateError { message: message.into() }
    }
}

/// Go's `Option("missingkey=…")`: what a missing map key yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// `missingkey=default`: the nil interface (prints `<no value>`).
    #[default]
    Default,
    /// `missingkey=zero`: the map's zero value (for `map[string]interface{}`
    /// also nil, printing `<no value>`); Helm's choice unless strict.
    Zero,
    /// `missingkey=error`: `map has no entry for key "x"`.
    Error,
}

/// Bounds on one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How deep `template`/`include`/`tpl` calls may nest.
    pub max_depth: usize,
    /// How many bytes one execution may write.
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        // Go's own limit on nested template calls is 100000; ours is lower so
        // a runaway recursion ends long before the native stack does.
        Limits { max_depth: 1000, max_output: 256 << 20 }
    }
}

/// A set of named templates sharing their `define`s (Go: a
/// `*template.Template` and the templates associated with it).
#[derive(Clone)]
pub struct Templates {
    funcs: Arc<FuncMap>,
    missing_key: MissingKey,
    limits: Limits,
    texts: BTreeMap<String, String>,
}

impl Templates {
    /// A new, empty set. The builtins are always there; `funcs` adds to them
    /// or replaces them (Go's `Funcs`).
    pub fn new(funcs: FuncMap) -> Templates {
        Templates { funcs: Arc::new(funcs), missing_key: MissingKey::Default, limits: Limits::default(), texts: BTreeMap::new() }
    }

    pub fn set_missing_key(&mut self, m: MissingKey) {
        self.missing_key = m;
    }

    pub fn set_limits(&mut self, l: Limits) {
        self.limits = l;
    }

    /// Go's `t.New(name).Parse(text)`: adds `name` and every `define` in it.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), TemplateError> {
        self.texts.insert(name.to_string(), text.to_string());
        Ok(())
    }

    pub fn has(&self, name: &str) -> bool {
        self.texts.contains_key(name)
    }

    pub fn names(&self) -> Vec<String> {
        self.texts.keys().cloned().collect()
    }

    /// Executes the template `name` with `data` as dot.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, TemplateError> {
        let _ = (data, &self.funcs, self.missing_key, self.limits);
        Err(TemplateError::new(format!("template: {name}: not yet implemented")))
    }
}
