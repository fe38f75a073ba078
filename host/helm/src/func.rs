//! How the template executor calls functions (Sprig's, Helm's, the
//! builtins), and what it offers those that need more than their arguments:
//! Helm's `include` and `tpl` execute templates. A function checks its own
//! arguments (Go does it by reflection before the call) and says which way
//! it failed, because Go words the two differently:
//!
//! - a wrong argument type: `template: T:1:3: executing "T" at <quote>: wrong type for value; expected string; got int`;
//! - an error the function returned: `… at <required "x" .Values.x>: error calling required: x`.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use crate::value::Value;

/// Why a function call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FuncError {
    /// The function returned an error; Go prefixes it with `error calling NAME: `.
    Call(String),
    /// The executor refused an argument (type, count); Go prints it as is.
    Argument(String),
}

impl FuncError {
    pub fn call(message: impl Into<String>) -> FuncError {
        FuncError::Call(message.into())
    }

    pub fn argument(message: impl Into<String>) -> FuncError {
        FuncError::Argument(message.into())
    }

    /// Go's words for an argument of the wrong type: `wrong type for value; expected string; got int`.
    pub fn wrong_type(expected: &str, got: &Value) -> FuncError {
        FuncError::Argument(format!("wrong type for value; expected {expected}; got {}", got.type_name()))
    }

    /// Go's words for a call with the wrong number of arguments.
    pub fn wrong_count(name: &str, want: usize, got: usize) -> FuncError {
        FuncError::Argument(format!("wrong number of args for {name}: want {want} got {got}"))
    }

    /// The message as Go shows it after `at <…>: `.
    pub fn render(&self, name: &str) -> String {
        match self {
            FuncError::Call(m) => format!("error calling {name}: {m}"),
            FuncError::Argument(m) => m.clone(),
        }
    }
}

impl std::fmt::Display for FuncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FuncError::Call(m) | FuncError::Argument(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for FuncError {}

pub type FuncResult = Result<Value, FuncError>;

/// What the executor offers a function while it runs.
pub trait Host {
    /// Executes the named template (`define`d in any file of the render)
    /// with `data` as dot, as Helm's `include` does.
    fn execute_named(&mut self, name: &str, data: &Value) -> Result<String, FuncError>;
    /// [`Host::execute_named`]'s output as Go's bytes (a template may print
    /// bytes that are not UTF-8, and `include "x" . | b64enc` keeps them).
    /// By default, the text.
    fn execute_named_go(&mut self, name: &str, data: &Value) -> Result<crate::value::Str, FuncError> {
        self.execute_named(name, data).map(crate::value::Str::from)
    }
    /// Parses `text` as a template in the current render's set (so it may
    /// `include` what the chart defines) and executes it with `data`, as
    /// Helm's `tpl` does.
    fn execute_text(&mut self, text: &str, data: &Value) -> Result<String, FuncError>;
    /// [`Host::execute_text`]'s output as Go's bytes. By default, the text.
    fn execute_text_go(&mut self, text: &str, data: &Value) -> Result<crate::value::Str, FuncError> {
        self.execute_text(text, data).map(crate::value::Str::from)
    }
}

/// One call: the function's name as the template wrote it, and the host.
pub struct Call<'a> {
    pub name: &'a str,
    pub host: &'a mut dyn Host,
}

/// A template function.
pub type Func = Arc<dyn Fn(&mut Call<'_>, &[Value]) -> FuncResult + Send + Sync>;

/// Functions by name, as Go's `template.FuncMap`. A map may be layered
/// over a shared `base` ([`FuncMap::layered`]): its own functions first,
/// then the base's, so a table built once (Sprig's, stateless) is not
/// rebuilt for every render.
#[derive(Clone, Default)]
pub struct FuncMap {
    funcs: HashMap<String, Func, BuildHasherDefault<NameHasher>>,
    base: Option<Arc<FuncMap>>,
}

/// FNV-1a over a function's name: the executor looks a name up for every
/// call and the parser for every identifier, and SipHash (which guards a
/// map whose keys an attacker chooses; these are a fixed table) was a
/// noticeable part of that.
#[derive(Clone, Copy)]
struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> NameHasher {
        NameHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FuncMap {
    pub fn new() -> FuncMap {
        FuncMap::default()
    }

    /// A map with every function of `base` (shared, not copied), to which
    /// functions may be added, replaced or removed as in any map.
    pub fn layered(base: Arc<FuncMap>) -> FuncMap {
        FuncMap { funcs: HashMap::default(), base: Some(base) }
    }

    /// Adds (or replaces) a function that needs only its arguments.
    pub fn add(&mut self, name: &str, f: impl Fn(&[Value]) -> FuncResult + Send + Sync + 'static) {
        self.funcs.insert(name.to_string(), Arc::new(move |_: &mut Call<'_>, args: &[Value]| f(args)));
    }

    /// Adds (or replaces) a function that uses the executor (`include`, `tpl`).
    pub fn add_with_host(&mut self, name: &str, f: impl Fn(&mut Call<'_>, &[Value]) -> FuncResult + Send + Sync + 'static) {
        self.funcs.insert(name.to_string(), Arc::new(f));
    }

    pub fn remove(&mut self, name: &str) {
        if self.base.as_ref().is_some_and(|b| b.contains(name)) {
            // The base is shared: this map takes its own copy of it first.
            self.flatten();
        }
        self.funcs.remove(name);
    }

    pub fn get(&self, name: &str) -> Option<&Func> {
        match self.funcs.get(name) {
            Some(f) => Some(f),
            None => self.base.as_ref()?.get(name),
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.funcs.contains_key(name) || self.base.as_ref().is_some_and(|b| b.contains(name))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        let base = self.base.iter().flat_map(|b| b.names().filter(|n| !self.funcs.contains_key(*n)).collect::<Vec<_>>());
        self.funcs.keys().map(String::as_str).chain(base)
    }

    /// Adds every function of `other`, replacing those of the same name.
    pub fn extend(&mut self, mut other: FuncMap) {
        other.flatten();
        self.funcs.extend(other.funcs);
    }

    /// Copies the base's functions (those not replaced) into this map's own.
    fn flatten(&mut self) {
        if let Some(base) = self.base.take() {
            for name in base.names() {
                if !self.funcs.contains_key(name) {
                    if let Some(f) = base.get(name) {
                        self.funcs.insert(name.to_string(), f.clone());
                    }
                }
            }
        }
    }
}

/// `args` has exactly `n` items, else Go's wrong-count error for `name`.
pub fn arity(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(FuncError::wrong_count(name, n, args.len()))
    }
}

/// The string argument `i`: Go converts only a string to a `string` parameter.
pub fn string_arg(args: &[Value], i: usize) -> Result<&str, FuncError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(FuncError::wrong_type("string", other)),
        None => Err(FuncError::argument(format!("missing argument {}", i + 1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(m: &FuncMap, name: &str) -> Option<i64> {
        struct NoHost;
        impl Host for NoHost {
            fn execute_named(&mut self, _: &str, _: &Value) -> Result<String, FuncError> {
                Err(FuncError::call("none"))
            }
            fn execute_text(&mut self, _: &str, _: &Value) -> Result<String, FuncError> {
                Err(FuncError::call("none"))
            }
        }
        let f = m.get(name)?.clone();
        let mut host = NoHost;
        match f(&mut Call { name, host: &mut host }, &[]) {
            Ok(Value::Int(n, _)) => Some(n),
            _ => None,
        }
    }

    #[test]
    fn a_layered_map_sees_its_base_and_its_own_functions_first() {
        let mut base = FuncMap::new();
        base.add("a", |_| Ok(Value::int(1)));
        base.add("b", |_| Ok(Value::int(2)));
        let base = Arc::new(base);
        let mut m = FuncMap::layered(base.clone());
        m.add("b", |_| Ok(Value::int(20)));
        m.add("c", |_| Ok(Value::int(30)));
        assert_eq!(answer(&m, "a"), Some(1));
        assert_eq!(answer(&m, "b"), Some(20));
        assert_eq!(answer(&m, "c"), Some(30));
        assert!(m.contains("a") && m.contains("c") && !m.contains("d"));
        let mut names: Vec<&str> = m.names().collect();
        names.sort();
        assert_eq!(names, ["a", "b", "c"]);
        // Removing a base function removes it from this map only.
        m.remove("a");
        assert!(!m.contains("a"));
        assert_eq!(answer(&m, "b"), Some(20));
        assert!(base.contains("a"));
        // extend takes the other map's base functions too.
        let mut n = FuncMap::new();
        n.extend(FuncMap::layered(base));
        assert_eq!(answer(&n, "a"), Some(1));
        assert_eq!(answer(&n, "b"), Some(2));
    }
}
