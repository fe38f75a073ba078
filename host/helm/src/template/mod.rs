//! Go's `text/template`: lexer, parser, executor and the builtins (`and`,
//! `or`, `not`, `len`, `index`, `slice`, `eq`…, `print`, `printf`,
//! `println`, `html`, `js`, `urlquery`, `call`), and Go's `fmt` as templates
//! use it. Errors are worded as Go words them
//! (`template: NAME:LINE:COL: executing "NAME" at <…>: …`).
//! This module owns the template set ([`Templates`]) and its public API; it
//! knows nothing of charts, Sprig or Helm's own functions (those arrive
//! through the [`FuncMap`]; `include` and `tpl` reach back through the
//! executor's [`crate::func::Host`]).
//!
//! Parsing and execution recurse natively, bounded (parentheses and block
//! nesting at Go's 10000, template calls at [`Limits::max_depth`], all
//! nesting together at `exec::MAX_NESTING`), on a worker thread with a
//! large stack that each calling thread keeps, so no template can overflow
//! the caller's stack (or, with [`Templates::set_inline`], on a caller that
//! promises a large stack of its own). Output (and any string a function makes) is bounded
//! by [`Limits::max_output`].
//!
//! Go maps are references, and so are the value model's (`value::Map`):
//! `set`, `unset` and the merges change a map in place and every reference
//! (another variable, `.Values` in a later template) sees it.
//!
//! Where this differs from Go, knowingly: complex constants (`1i`) are an
//! error (the value model has no complex numbers); `\xNN` escapes in a
//! string constant that make invalid UTF-8 give U+FFFD (strings made at run
//! time keep Go's bytes: `value::Str`); `unicode.IsPrint`
//! (for `%q` and `js`) is approximated; nesting of blocks is bounded.

mod builtins;
mod exec;
pub mod fmt;
mod lex;
pub(crate) mod parse;

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::func::FuncMap;
use crate::value::Value;

pub use builtins::{html_escape, js_escape, query_escape};

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
    /// `missingkey=default`: the invalid value (prints `<no value>`).
    #[default]
    Default,
    /// `missingkey=zero`: the map's zero value (for `map[string]interface{}`
    /// a nil interface, also printing `<no value>`); Helm's choice unless strict.
    Zero,
    /// `missingkey=error`: `map has no entry for key "x"`.
    Error,
}

/// Bounds on one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How deep `template`/`include`/`tpl` calls may nest.
    pub max_depth: usize,
    /// How many bytes one execution may write, counting what nested
    /// `include`/`tpl` executions write.
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        // Go's own limit on nested template calls is 100000; Helm stops
        // `include` recursion after 1000 levels, and so does this default
        // (each level of a failing include chain wraps the error of the
        // next, so the message grows with the square of the depth).
        Limits { max_depth: 1000, max_output: 256 << 20 }
    }
}

/// The name of the set's root template, as Helm's engine names it
/// (`template.New("gotpl")`): `tpl` parses its text under it, and Go names
/// it in "no template … associated with template …".
pub const ROOT_NAME: &str = "gotpl";

/// The stack the parser and executor run on: deep (but bounded) recursion
/// must not overflow the caller's thread. Only touched pages are committed.
const STACK_SIZE: usize = 1 << 30;

type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    /// Whether this thread is a template worker (already on a large stack).
    static IN_WORKER: Cell<bool> = const { Cell::new(false) };
    /// This thread's worker, started on first use and ended when the thread
    /// ends (its sender is dropped then). Starting a thread costs far more
    /// than a render, so each caller keeps one.
    static WORKER: std::cell::RefCell<Option<std::sync::mpsc::Sender<Job>>> = const { std::cell::RefCell::new(None) };
}

fn start_worker() -> Option<std::sync::mpsc::Sender<Job>> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("gotemplate".into())
        .stack_size(STACK_SIZE)
        .spawn(move || {
            IN_WORKER.set(true);
            while let Ok(job) = rx.recv() {
                job();
            }
        })
        .ok()?;
    Some(tx)
}

/// Runs `f` on this thread's template worker (the thread with a large
/// stack that `parse` and `execute` use), or inline when already on one.
/// Every `parse` and `execute` inside `f` then runs inline: a caller that
/// makes many (a whole chart's render) pays for one hop instead of one per
/// call.
pub fn on_worker<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    on_big_stack(false, f)
}

/// Runs `f` on this thread's template worker (a thread with a large
/// stack), or inline when already on one or when no thread can be started.
fn on_big_stack<T: Send + 'static>(inline: bool, f: impl FnOnce() -> T + Send + 'static) -> T {
    if inline || IN_WORKER.get() {
        return f();
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    let unsent = WORKER.with(|w| {
        let mut w = w.borrow_mut();
        if w.is_none() {
            *w = start_worker();
        }
        match w.as_ref() {
            Some(s) => s.send(job).err().map(|e| {
                // The worker is gone: start another next time.
                *w = None;
                e.0
            }),
            None => Some(job),
        }
    });
    if let Some(job) = unsent {
        job();
    }
    match rx.recv() {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        // Invariant: every job sends its result before it is dropped; a job
        // is only dropped unrun if its worker died, which catch_unwind prevents.
        Err(_) => unreachable!("a template job ended without an answer"),
    }
}

/// A set of named templates sharing their `define`s (Go: a
/// `*template.Template` and the templates associated with it).
#[derive(Clone)]
pub struct Templates {
    funcs: Arc<FuncMap>,
    missing_key: MissingKey,
    limits: Limits,
    trees: Arc<exec::TreeSet>,
    /// Run on the caller's thread instead of the worker (see `set_inline`).
    inline: bool,
}

/// Adds parsed trees to a set as Go's `AddParseTree` does (an empty
/// template does not replace an existing one); returns the tree named `own`.
fn add_trees(set: &mut exec::TreeSet, own: &str, trees: HashMap<String, parse::Tree>) -> Arc<parse::Tree> {
    let mut own_tree = None;
    for (name, tree) in trees {
        let tree = Arc::new(tree);
        if name == own {
            own_tree = Some(tree.clone());
        }
        let keep_old = set.contains_key(&name) && parse::is_empty_list(&tree.root);
        if !keep_old {
            set.insert(name, tree);
        }
    }
    // parse() always returns the tree of its own name.
    own_tree.unwrap_or_else(|| {
        Arc::new(parse::Tree { name: own.to_string(), parse_name: own.to_string(), text: Arc::from(""), root: parse::List { pos: 0, nodes: Vec::new() }, nesting: 0 })
    })
}

impl Templates {
    /// A new, empty set. The builtins are always there; `funcs` adds to them
    /// or replaces them (Go's `Funcs`).
    pub fn new(funcs: FuncMap) -> Templates {
        Templates { funcs: Arc::new(funcs), missing_key: MissingKey::Default, limits: Limits::default(), trees: Arc::new(HashMap::new()), inline: false }
    }

    pub fn set_missing_key(&mut self, m: MissingKey) {
        self.missing_key = m;
    }

    /// By default `parse` and `execute` run on a worker thread with a 1 GiB
    /// stack that the calling thread keeps (so functions run there too and
    /// do not see the caller's thread-locals: a Tokio runtime context, the
    /// current tracing span). With `inline` they run on the caller's thread
    /// instead, which must then have as large a stack as the worker's
    /// (1 GiB, reserved, touched only as deep as templates nest) for the
    /// nesting bounds to keep it from overflowing in a debug build.
    pub fn set_inline(&mut self, inline: bool) {
        self.inline = inline;
    }

    pub fn set_limits(&mut self, l: Limits) {
        self.limits = l;
    }

    /// Go's `t.New(name).Parse(text)`: adds `name` and every `define` in it;
    /// a later non-empty definition replaces an earlier one.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), TemplateError> {
        fn parse_with(funcs: &FuncMap, name: &str, text: &str) -> Result<HashMap<String, parse::Tree>, String> {
            let has = |n: &str| funcs.contains(n) || builtins::Builtin::from_name(n).is_some();
            parse::parse(name, text, &has)
        }
        let trees = if self.inline || IN_WORKER.get() {
            // Already on a large stack: no copies of the name and text for a hop.
            parse_with(&self.funcs, name, text)
        } else {
            let funcs = self.funcs.clone();
            let (owned_name, text) = (name.to_string(), text.to_string());
            on_big_stack(false, move || parse_with(&funcs, &owned_name, &text))
        }
        .map_err(TemplateError::new)?;
        add_trees(Arc::make_mut(&mut self.trees), name, trees);
        Ok(())
    }

    pub fn has(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// The names of every template in the set, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.trees.keys().cloned().collect();
        v.sort();
        v
    }

    /// Executes the template `name` with `data` as dot.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, TemplateError> {
        let Some(tree) = self.trees.get(name).cloned() else {
            return Err(TemplateError::new(format!("template: no template {} associated with template {}", fmt::quote(name), fmt::quote(ROOT_NAME))));
        };
        let this = self.clone();
        let data = data.clone();
        on_big_stack(self.inline, move || {
            let shared = exec::Shared {
                funcs: &this.funcs,
                missing_key: this.missing_key,
                limits: this.limits,
                written: Cell::new(0),
                calls: Cell::new(0),
                nesting: Cell::new(0),
            };
            exec::execute(&this.trees, &shared, &tree, &data)
        })
    }
}

#[cfg(test)]
mod oracle_tests;
#[cfg(test)]
mod tests;
