//! The executor of Go's `text/template`: walks parse trees over Go values,
//! with Go's semantics for fields, map keys and methods, variables and
//! their scopes, pipelines, `if`/`with`/`range` (maps in key order, ints,
//! `break`/`continue`), `template`/`block`, the missing-key option, and
//! Go's error wordings and positions
//! (`template: NAME:LINE:COL: executing "NAME" at <CONTEXT>: MESSAGE`).
//! It also is the [`Host`] that `include` and `tpl` use. The builtin
//! functions live in `builtins.rs`; how values print is `fmt.rs`'s.
//!
//! Go's reflection distinguishes an *invalid* value (a missing key under
//! `missingkey=default`, `nil` after a pipeline) from a nil `interface{}`
//! (a map's zero value, a YAML `null`), and a value reached through an
//! `interface{}`-typed map or slice element from a concrete one; error
//! messages and a few results depend on it, so [`Rv`] keeps both.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use super::builtins::{self, Builtin};
use super::parse::{Arg, Branch, Command, List, Node, Pipe, Span, Tree};
use super::{Limits, MissingKey, TemplateError};
use crate::func::{Call, Func, FuncError, FuncMap, Host};
use crate::value::{IntType, Member, Value};

/// How deeply execution may nest (template calls, `include`, `tpl`, nested
/// control structures and parenthesised pipelines, all counted together)
/// before it stops with an error rather than exhaust the native stack. Go
/// allows 100000 nested template calls on goroutine stacks that grow to
/// 1 GB; execution here runs on a thread with a large stack (`mod.rs`).
pub const MAX_NESTING: usize = 120_000;

/// A value as Go's reflection holds it during execution.
#[derive(Clone, Debug)]
pub enum Rv {
    /// Go's invalid `reflect.Value` (prints `<no value>`).
    Invalid,
    /// A value, and whether its static type is `interface {}` (an element
    /// of a `[]interface{}` or `map[string]interface{}`).
    V(Value, bool),
}

impl Rv {
    pub fn concrete(v: Value) -> Rv {
        Rv::V(v, false)
    }

    /// The value as a function receives it in an `interface{}` parameter.
    pub fn value(&self) -> Value {
        match self {
            Rv::Invalid => Value::Nil,
            Rv::V(v, _) => v.clone(),
        }
    }

    /// Go's `indirectInterface`: the value inside an interface; nil → invalid.
    pub fn indirect(&self) -> Rv {
        match self {
            Rv::V(Value::Nil, _) | Rv::Invalid => Rv::Invalid,
            Rv::V(v, _) => Rv::V(v.clone(), false),
        }
    }

    pub fn truthy(&self) -> bool {
        match self {
            Rv::Invalid => false,
            Rv::V(v, _) => v.truthy(),
        }
    }
}

/// How deep the lists and maps a function makes may nest.
pub const MAX_VALUE_DEPTH: usize = 10_000;

enum SizeError {
    Big,
    Deep,
}

/// The size of `v` as printed, roughly (an item a byte, a string its
/// length), if it is at most `budget`; stops as soon as it is more.
fn expanded_size(v: &Value, budget: usize, depth: usize) -> Result<usize, SizeError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(SizeError::Deep);
    }
    let mut used = 1usize;
    let add = |x: &Value, used: &mut usize| -> Result<(), SizeError> {
        let n = match x {
            Value::List(_) | Value::Map(_) => expanded_size(x, budget.saturating_sub(*used), depth + 1)?,
            Value::String(s) => s.go_len() + 1,
            Value::Bytes(b) => b.len() + 1,
            _ => 1,
        };
        *used = used.saturating_add(n);
        if *used > budget {
            Err(SizeError::Big)
        } else {
            Ok(())
        }
    };
    match v {
        Value::List(l) => {
            for x in l.items().iter() {
                add(x, &mut used)?;
            }
        }
        Value::Map(m) => {
            for (k, x) in m.entries().iter() {
                used = used.saturating_add(k.len());
                add(x, &mut used)?;
            }
        }
        _ => {}
    }
    if used > budget {
        return Err(SizeError::Big);
    }
    Ok(used)
}

/// What one execution shares with the nested ones it starts (`template`,
/// `include`, `tpl`): options, bounds and their counters.
pub struct Shared<'a> {
    pub funcs: &'a FuncMap,
    pub missing_key: MissingKey,
    pub limits: Limits,
    /// Bytes written so far by this execution and every nested one.
    pub written: Cell<usize>,
    /// Current template-call depth (`template`, `include`, `tpl`).
    pub calls: Cell<usize>,
    /// Current nesting of recursive evaluation.
    pub nesting: Cell<usize>,
}

pub type TreeSet = HashMap<String, Arc<Tree>>;

/// Why a walk stopped early.
pub enum Flow {
    Err(TemplateError),
    Break,
    Continue,
}

type R<T> = Result<T, Flow>;

/// What the state is at, for error messages (Go's `s.node`).
#[derive(Clone, Copy)]
enum At<'t> {
    None,
    Node(&'t Node),
    List(&'t List),
    Pipe(&'t Pipe),
    Cmd(&'t Command),
    Arg(&'t Arg),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::None => 0,
            At::Node(n) => n.pos(),
            At::List(l) => l.pos,
            At::Pipe(p) => p.pos,
            At::Cmd(c) => c.pos,
            At::Arg(a) => a.pos(),
        }
    }

    fn context(&self) -> String {
        match self {
            At::None => String::new(),
            At::Node(n) => n.to_string(),
            At::List(l) => l.nodes.iter().map(|n| n.to_string()).collect(),
            At::Pipe(p) => p.to_string(),
            At::Cmd(c) => c.to_string(),
            At::Arg(a) => a.to_string(),
        }
    }
}

/// Runs the template `tree` of `set` with `data` as dot; the output as
/// text. Go writes bytes, and a string that is not UTF-8 (`b64dec` of
/// random bytes, half a character cut by `substr`) prints as its bytes:
/// they are kept until the whole output is made (two halves printed one
/// after the other are a character again) and only then turned into text,
/// an invalid byte U+FFFD. That is what Helm's output looks like after
/// Go's `json.Marshal`, which writes each invalid byte as U+FFFD — and
/// JSON is how the oracle (and any caller through the Python SDK) gets it.
pub fn execute(set: &Arc<TreeSet>, shared: &Shared<'_>, tree: &Tree, data: &Value) -> Result<String, TemplateError> {
    execute_bytes(set, shared, tree, data).map(crate::value::go_lossy_string)
}

/// [`execute`]'s output as Go's bytes.
pub fn execute_bytes(set: &Arc<TreeSet>, shared: &Shared<'_>, tree: &Tree, data: &Value) -> Result<Vec<u8>, TemplateError> {
    let dot = if data.is_nil() { Rv::Invalid } else { Rv::concrete(data.clone()) };
    let mut st = State { set, shared, tree, at: At::None, vars: vec![("$".into(), dot.clone())], out: Vec::new() };
    match st.walk_list(&dot, &tree.root) {
        Ok(()) => Ok(st.out),
        Err(Flow::Err(e)) => Err(e),
        // The parser allows break/continue only inside range.
        Err(Flow::Break | Flow::Continue) => Ok(st.out),
    }
}

struct State<'s, 't> {
    set: &'s Arc<TreeSet>,
    shared: &'s Shared<'s>,
    tree: &'t Tree,
    at: At<'t>,
    vars: Vec<(String, Rv)>,
    out: Vec<u8>,
}


/// A method of an [`crate::value::Object`].
type MethodFn = Arc<dyn Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync>;

enum Callee {
    Builtin(Builtin),
    Func(Func),
    Method(MethodFn),
}

impl<'s, 't> State<'s, 't> {
    fn errorf(&self, msg: impl std::fmt::Display) -> Flow {
        Flow::Err(self.error(msg))
    }

    fn error(&self, msg: impl std::fmt::Display) -> TemplateError {
        // Go doubles '%' in the name and context and then formats again, so
        // they show as written.
        let name = &self.tree.name;
        if let At::None = self.at {
            return TemplateError::new(format!("template: {name}: {msg}"));
        }
        let pos = self.at.pos().min(self.tree.text.len());
        let text = &self.tree.text.as_bytes()[..pos];
        let line = 1 + text.iter().filter(|&&b| b == b'\n').count();
        let col = match text.iter().rposition(|&b| b == b'\n') {
            Some(i) => pos - (i + 1),
            None => pos,
        };
        TemplateError::new(format!(
            "template: {}:{}:{}: executing {} at <{}>: {}",
            self.tree.parse_name,
            line,
            col,
            super::fmt::quote(name),
            self.at.context(),
            msg
        ))
    }

    fn enter(&self) -> R<()> {
        let n = self.shared.nesting.get() + 1;
        if n > MAX_NESTING {
            return Err(self.errorf(format!("exceeded maximum nesting depth ({MAX_NESTING})")));
        }
        self.shared.nesting.set(n);
        Ok(())
    }

    fn leave(&self) {
        self.shared.nesting.set(self.shared.nesting.get().saturating_sub(1));
    }

    fn write(&mut self, s: &str) -> R<()> {
        self.write_bytes(s.as_bytes())
    }

    fn write_bytes(&mut self, b: &[u8]) -> R<()> {
        let total = self.shared.written.get() + b.len();
        if total > self.shared.limits.max_output {
            return Err(self.errorf(format!("output exceeds the limit of {} bytes", self.shared.limits.max_output)));
        }
        self.shared.written.set(total);
        self.out.extend_from_slice(b);
        Ok(())
    }

    fn walk_list(&mut self, dot: &Rv, list: &'t List) -> R<()> {
        self.at = At::List(list);
        for n in &list.nodes {
            self.walk(dot, n)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Rv, node: &'t Node) -> R<()> {
        self.at = At::Node(node);
        match node {
            Node::Text { text, .. } => self.write(text),
            Node::Action { pipe, .. } => {
                let val = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at = At::Node(node);
                    match &val {
                        Rv::Invalid => self.write("<no value>")?,
                        // A string prints as its bytes: no copy.
                        Rv::V(Value::String(s), _) => self.write_bytes(s.go_bytes())?,
                        Rv::V(v, _) => {
                            let mut b = Vec::new();
                            super::fmt::sprint_into(&mut b, v);
                            self.write_bytes(&b)?;
                        }
                    }
                }
                Ok(())
            }
            Node::If(b) => self.walk_if_or_with(false, dot, b),
            Node::With(b) => self.walk_if_or_with(true, dot, b),
            Node::Range(b) => self.walk_range(dot, b),
            Node::Template { name, pipe, .. } => self.walk_template(dot, node, name, pipe.as_ref()),
            Node::Break { .. } => Err(Flow::Break),
            Node::Continue { .. } => Err(Flow::Continue),
            Node::End { .. } | Node::Else { .. } => Err(self.errorf(format!("unknown node: {node}"))),
        }
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Rv, b: &'t Branch) -> R<()> {
        self.enter()?;
        let mark = self.vars.len();
        let r = (|| {
            let val = self.eval_pipeline(dot, &b.pipe)?;
            if val.truthy() {
                if with {
                    self.walk_list(&val, &b.list)
                } else {
                    self.walk_list(dot, &b.list)
                }
            } else if let Some(e) = &b.else_list {
                self.walk_list(dot, e)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        self.leave();
        r
    }

    fn walk_range(&mut self, dot: &Rv, r: &'t Branch) -> R<()> {
        self.enter()?;
        let outer = self.vars.len();
        let res = self.walk_range_inner(dot, r);
        self.vars.truncate(outer);
        self.leave();
        match res {
            Err(Flow::Break) => Ok(()),
            other => other,
        }
    }

    fn walk_range_inner(&mut self, dot: &Rv, r: &'t Branch) -> R<()> {
        let val = self.eval_pipeline(dot, &r.pipe)?.indirect();
        let mark = self.vars.len();
        let mut items: Vec<(Rv, Rv)> = Vec::new();
        match &val {
            Rv::V(Value::List(l), _) => {
                let iface = l.elem == "interface {}";
                for (i, v) in l.items().iter().enumerate() {
                    items.push((Rv::concrete(Value::int(i as i64)), Rv::V(v.clone(), iface)));
                }
            }
            Rv::V(Value::Bytes(b), _) => {
                for (i, v) in b.iter().enumerate() {
                    items.push((Rv::concrete(Value::int(i as i64)), Rv::concrete(Value::Int(*v as i64, IntType::Uint8))));
                }
            }
            Rv::V(Value::Map(m), _) => {
                let iface = m.elem == "interface {}";
                // Go's range sorts the map's keys and values first
                // (`fmtsort.Sort`): a body that changes the map does not
                // change what this range visits (the oracle agrees). So a
                // snapshot, and no lock held while the body runs.
                for (k, v) in m.entries().iter() {
                    items.push((Rv::concrete(Value::str(k.as_str())), Rv::V(v.clone(), iface)));
                }
            }
            Rv::V(Value::Int(n, t), _) => {
                if r.pipe.decl.len() > 1 {
                    return Err(self.errorf(format!("can't use {} to iterate over more than one variable", super::fmt::sprint(&Value::Int(*n, *t)))));
                }
                // Ranging over an int yields values as it goes (no list built).
                let n = *n;
                let t = *t;
                let limit = if t.unsigned() && n < 0 { i64::MAX } else { n };
                let mut i = 0;
                let mut ran = false;
                while i < limit {
                    ran = true;
                    let v = Rv::concrete(Value::Int(i, t));
                    match self.one_iteration(r, mark, v.clone(), v) {
                        Err(Flow::Break) => return Ok(()),
                        Err(Flow::Continue) | Ok(()) => {}
                        Err(e) => return Err(e),
                    }
                    i += 1;
                }
                if ran {
                    return Ok(());
                }
            }
            Rv::V(Value::Object(o), _) if o.map_entries().is_some() => {
                let mut entries = o.map_entries().unwrap_or_default();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                for (k, v) in entries {
                    items.push((Rv::concrete(Value::str(k)), Rv::concrete(v)));
                }
            }
            Rv::Invalid => {}
            Rv::V(v, _) => {
                return Err(self.errorf(format!("range can't iterate over {}", super::fmt::sprint(v))));
            }
        }
        if !items.is_empty() {
            for (k, v) in items {
                match self.one_iteration(r, mark, k, v) {
                    Err(Flow::Break) => return Ok(()),
                    Err(Flow::Continue) | Ok(()) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(());
        }
        if let Some(e) = &r.else_list {
            self.walk_list(dot, e)?;
        }
        Ok(())
    }

    fn one_iteration(&mut self, r: &'t Branch, mark: usize, index: Rv, elem: Rv) -> R<()> {
        let decl = &r.pipe.decl;
        if !decl.is_empty() {
            if r.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(&decl[0], index.clone())?;
                } else {
                    self.set_var(&decl[0], elem.clone())?;
                }
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if r.pipe.is_assign {
                self.set_var(&decl[1], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let res = self.walk_list(&elem, &r.list);
        self.vars.truncate(mark);
        res
    }

    fn walk_template(&mut self, dot: &Rv, node: &'t Node, name: &str, pipe: Option<&'t Pipe>) -> R<()> {
        self.at = At::Node(node);
        let Some(tree) = self.set.get(name).cloned() else {
            return Err(self.errorf(format!("template {} not defined", super::fmt::quote(name))));
        };
        let max = self.shared.limits.max_depth;
        if self.shared.calls.get() >= max {
            return Err(self.errorf(format!("exceeded maximum template depth ({max})")));
        }
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Rv::Invalid,
        };
        self.enter()?;
        self.shared.calls.set(self.shared.calls.get() + 1);
        let mut st = State {
            set: self.set,
            shared: self.shared,
            tree: &tree,
            at: At::None,
            vars: vec![("$".into(), new_dot.clone())],
            out: std::mem::take(&mut self.out),
        };
        let r = st.walk_list(&new_dot, &tree.root);
        self.out = std::mem::take(&mut st.out);
        self.shared.calls.set(self.shared.calls.get() - 1);
        self.leave();
        match r {
            Err(Flow::Err(e)) => Err(Flow::Err(e)),
            _ => Ok(()),
        }
    }

    fn push_var(&mut self, name: &str, v: Rv) {
        self.vars.push((name.to_string(), v));
    }

    fn set_var(&mut self, name: &str, v: Rv) -> R<()> {
        for i in (0..self.vars.len()).rev() {
            if self.vars[i].0 == name {
                self.vars[i].1 = v;
                return Ok(());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn set_top_var(&mut self, n: usize, v: Rv) {
        let len = self.vars.len();
        if n <= len {
            self.vars[len - n].1 = v;
        }
    }

    fn var_value(&self, name: &str) -> R<Rv> {
        for (n, v) in self.vars.iter().rev() {
            if n == name {
                return Ok(v.clone());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn eval_pipeline(&mut self, dot: &Rv, pipe: &'t Pipe) -> R<Rv> {
        self.at = At::Pipe(pipe);
        let mut value: Option<Rv> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            // A value of type interface{} is unwrapped to what it holds.
            value = Some(match v {
                Rv::V(Value::Nil, _) => Rv::Invalid,
                Rv::V(v, _) => Rv::V(v, false),
                Rv::Invalid => Rv::Invalid,
            });
        }
        let value = value.unwrap_or(Rv::Invalid);
        for d in &pipe.decl {
            if pipe.is_assign {
                self.set_var(d, value.clone())?;
            } else {
                self.push_var(d, value.clone());
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], fin: &Option<Rv>) -> R<()> {
        if args.len() > 1 || fin.is_some() {
            // Go shows a parenthesised pipeline here without its parentheses.
            let what = match &args[0] {
                Arg::Pipe(p) => p.to_string(),
                a => a.to_string(),
            };
            return Err(self.errorf(format!("can't give argument to non-function {what}")));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Rv, cmd: &'t Command, fin: Option<Rv>) -> R<Rv> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => {
                self.at = At::Arg(first);
                return self.eval_field_chain(dot, dot.clone(), first, idents, &cmd.args, fin);
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, &cmd.args, fin),
            Arg::Identifier { name, .. } => return self.eval_function(dot, first, name, Some(cmd), &cmd.args, fin),
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                self.enter()?;
                let r = self.eval_pipeline(dot, p);
                self.leave();
                return r;
            }
            Arg::Variable { .. } => return self.eval_variable(dot, first, &cmd.args, fin),
            _ => {}
        }
        self.at = At::Arg(first);
        self.not_a_function(&cmd.args, &fin)?;
        match first {
            Arg::Bool { value, .. } => Ok(Rv::concrete(Value::Bool(*value))),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Err(self.errorf("nil is not a command")),
            Arg::Number { .. } => self.ideal_constant(first),
            Arg::String { text, .. } => Ok(Rv::concrete(Value::str(text.as_str()))),
            _ => Err(self.errorf(format!("can't evaluate command {}", super::fmt::quote(&first.to_string())))),
        }
    }

    fn ideal_constant(&mut self, n: &'t Arg) -> R<Rv> {
        self.at = At::Arg(n);
        let Arg::Number { text, num, .. } = n else { return Ok(Rv::Invalid) };
        let is_hex_int = text.len() > 2 && text.starts_with('0') && matches!(text.as_bytes()[1], b'x' | b'X') && !text.contains(['p', 'P']);
        let is_rune = text.starts_with('\'');
        if num.is_complex {
            // Knowingly different: Go has complex128 values; the value model here has none.
            return Err(self.errorf(format!("complex constant {text} is not supported")));
        }
        if num.is_float && !is_hex_int && !is_rune && text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Rv::concrete(Value::Float(num.float)));
        }
        if num.is_int {
            return Ok(Rv::concrete(Value::int(num.int)));
        }
        if num.is_uint {
            return Err(self.errorf(format!("{text} overflows int")));
        }
        Ok(Rv::Invalid)
    }

    fn eval_chain(&mut self, dot: &Rv, chain: &'t Arg, args: &'t [Arg], fin: Option<Rv>) -> R<Rv> {
        self.at = At::Arg(chain);
        let Arg::Chain { node, fields, .. } = chain else { return Ok(Rv::Invalid) };
        if fields.is_empty() {
            return Err(self.errorf("internal error: no fields in evalChainNode"));
        }
        if let Arg::Nil { .. } = node.as_ref() {
            return Err(self.errorf(format!("indirection through explicit nil in {chain}")));
        }
        let recv = self.eval_arg_any(dot, node)?;
        self.eval_field_chain(dot, recv, chain, fields, args, fin)
    }

    fn eval_variable(&mut self, dot: &Rv, var: &'t Arg, args: &'t [Arg], fin: Option<Rv>) -> R<Rv> {
        self.at = At::Arg(var);
        let Arg::Variable { idents, .. } = var else { return Ok(Rv::Invalid) };
        let value = self.var_value(&idents[0])?;
        if idents.len() == 1 {
            self.not_a_function(args, &fin)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, var, &idents[1..], args, fin)
    }

    fn eval_field_chain(&mut self, dot: &Rv, mut recv: Rv, node: &'t Arg, idents: &[Span], args: &'t [Arg], fin: Option<Rv>) -> R<Rv> {
        let n = idents.len();
        for id in &idents[..n - 1] {
            recv = self.eval_field(dot, id, node, &[], None, recv)?;
        }
        self.eval_field(dot, &idents[n - 1], node, args, fin, recv)
    }

    fn eval_field(&mut self, dot: &Rv, name: &str, node: &'t Arg, args: &'t [Arg], fin: Option<Rv>, recv: Rv) -> R<Rv> {
        let (v, iface) = match recv {
            Rv::Invalid => {
                if self.shared.missing_key == MissingKey::Error {
                    return Err(self.errorf(format!("nil data; no entry for key {}", super::fmt::quote(name))));
                }
                return Ok(Rv::Invalid);
            }
            Rv::V(v, iface) => (v, iface),
        };
        // The receiver's type as Go names it in errors (computed only then).
        let typ = || if iface || v.is_nil() { "interface {}".to_string() } else { v.type_name() };
        let has_args = args.len() > 1 || fin.is_some();
        match &v {
            Value::Nil => return Err(self.errorf(format!("nil pointer evaluating {}.{name}", typ()))),
            Value::Object(o) => match o.member(name) {
                Some(Member::Method(m)) => return self.eval_call(dot, Callee::Method(m), At::Arg(node), name, args, fin),
                Some(Member::Field(f)) => {
                    if has_args {
                        return Err(self.errorf(format!("{name} has arguments but cannot be invoked as function")));
                    }
                    let nil = f.is_nil();
                    return Ok(Rv::V(f, nil));
                }
                None => {
                    if o.kind() == "ptr" && !o.truthy() {
                        return Err(self.errorf(format!("nil pointer evaluating {}.{name}", typ())));
                    }
                    if let Some(entries) = o.map_entries() {
                        if has_args {
                            return Err(self.errorf(format!("{name} is not a method but has arguments")));
                        }
                        return match entries.into_iter().find(|(k, _)| k == name) {
                            Some((_, x)) => Ok(Rv::concrete(x)),
                            None => match self.shared.missing_key {
                                MissingKey::Default => Ok(Rv::Invalid),
                                // The zero value of Helm's only named map type
                                // (`files`, map[string][]byte): a nil []byte.
                                MissingKey::Zero => Ok(Rv::concrete(Value::Bytes(Arc::from(&[][..])))),
                                MissingKey::Error => Err(self.errorf(format!("map has no entry for key {}", super::fmt::quote(name)))),
                            },
                        };
                    }
                }
            },
            Value::Map(m) => {
                if has_args {
                    return Err(self.errorf(format!("{name} is not a method but has arguments")));
                }
                let elem_iface = m.elem == "interface {}";
                return match m.get(name) {
                    Some(x) => Ok(Rv::V(x.clone(), elem_iface)),
                    None => match self.shared.missing_key {
                        MissingKey::Default => Ok(Rv::Invalid),
                        MissingKey::Zero => Ok(Rv::V(builtins::zero_of(m.elem), elem_iface)),
                        MissingKey::Error => Err(self.errorf(format!("map has no entry for key {}", super::fmt::quote(name)))),
                    },
                };
            }
            _ => {}
        }
        Err(self.errorf(format!("can't evaluate field {name} in type {}", typ())))
    }

    fn eval_function(&mut self, dot: &Rv, ident: &'t Arg, name: &str, cmd: Option<&'t Command>, args: &'t [Arg], fin: Option<Rv>) -> R<Rv> {
        self.at = At::Arg(ident);
        let callee = if let Some(f) = self.shared.funcs.get(name) {
            Callee::Func(f.clone())
        } else if let Some(b) = Builtin::from_name(name) {
            Callee::Builtin(b)
        } else {
            return Err(self.errorf(format!("{} is not a defined function", super::fmt::quote(name))));
        };
        let at = match cmd {
            Some(c) => At::Cmd(c),
            None => At::Arg(ident),
        };
        self.eval_call(dot, callee, at, name, args, fin)
    }

    /// Evaluates an argument for an `interface{}` (or `reflect.Value`) parameter.
    fn eval_arg_any(&mut self, dot: &Rv, n: &'t Arg) -> R<Rv> {
        self.at = At::Arg(n);
        match n {
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Ok(Rv::Invalid),
            Arg::Field { idents, .. } => self.eval_field_chain(dot, dot.clone(), n, idents, std::slice::from_ref(n), None),
            Arg::Variable { .. } => self.eval_variable(dot, n, &[], None),
            Arg::Pipe(p) => {
                self.enter()?;
                let r = self.eval_pipeline(dot, p);
                self.leave();
                r
            }
            Arg::Identifier { name, .. } => self.eval_function(dot, n, name, None, std::slice::from_ref(n), None),
            Arg::Chain { .. } => self.eval_chain(dot, n, &[], None),
            Arg::Bool { value, .. } => Ok(Rv::concrete(Value::Bool(*value))),
            Arg::Number { .. } => self.ideal_constant(n),
            Arg::String { text, .. } => Ok(Rv::concrete(Value::str(text.as_str()))),
        }
    }

    /// Calls a function, builtin or method. `args[0]` is the function's own
    /// node (not passed); `fin` is the value piped in, passed last.
    fn eval_call(&mut self, dot: &Rv, callee: Callee, at: At<'t>, name: &str, args: &'t [Arg], fin: Option<Rv>) -> R<Rv> {
        let args = if args.is_empty() { args } else { &args[1..] };
        if let Callee::Builtin(b) = callee {
            return self.eval_builtin(dot, b, at, name, args, fin);
        }
        let fn_at = self.at;
        let mut vals = Vec::with_capacity(args.len() + 1);
        let mut raw = Vec::with_capacity(args.len() + 1);
        for a in args {
            let v = self.eval_arg_any(dot, a)?;
            vals.push(v.value());
            raw.push((Some(a), v, self.at));
        }
        if let Some(f) = fin {
            vals.push(f.value());
            raw.push((None, f, self.at));
        }
        let result = match &callee {
            Callee::Func(f) => {
                let mut host = ExecHost { set: self.set, shared: self.shared };
                let mut call = Call { name, host: &mut host };
                f(&mut call, &vals)
            }
            Callee::Method(m) => m(&vals),
            Callee::Builtin(_) => Ok(Value::Nil),
        };
        match result {
            Ok(v) => {
                self.check_size(&v, at, name)?;
                let nil = v.is_nil();
                Ok(Rv::V(v, nil))
            }
            Err(FuncError::Call(m)) => {
                self.at = at;
                Err(self.errorf(format!("error calling {name}: {m}")))
            }
            Err(FuncError::Argument(m)) => Err(self.argument_error(&m, fn_at, &raw)),
        }
    }

    /// Words an argument error of a function (which checks its own argument
    /// types) as Go's executor would have, checking them by reflection.
    fn argument_error(&mut self, m: &str, fn_at: At<'t>, raw: &[(Option<&'t Arg>, Rv, At<'t>)]) -> Flow {
        if m.starts_with("wrong number of args") {
            self.at = fn_at;
            return self.errorf(m);
        }
        if let Some(rest) = m.strip_prefix("wrong type for value; expected ") {
            if let Some((expected, got)) = rest.split_once("; got ") {
                let culprit = raw.iter().find(|(_, v, _)| match v {
                    Rv::Invalid => got == "<nil>" || got == "interface {}",
                    Rv::V(Value::Nil, _) => got == "<nil>" || got == "interface {}",
                    Rv::V(v, _) => v.type_name() == got,
                });
                if let Some((node, v, at)) = culprit {
                    self.at = *at;
                    match (node, v) {
                        (Some(a @ Arg::Nil { .. }), _) => {
                            self.at = At::Arg(a);
                            return self.errorf(format!("cannot assign nil to {expected}"));
                        }
                        (Some(a @ (Arg::Number { .. } | Arg::String { .. } | Arg::Bool { .. })), _) => {
                            self.at = At::Arg(a);
                            let want = match expected {
                                "string" => "string",
                                "bool" => "bool",
                                "float64" | "float32" => "float",
                                e if e.starts_with("int") || e.starts_with("uint") => "integer",
                                _ => "",
                            };
                            if !want.is_empty() {
                                // A float-typed parameter takes any number literal in Go.
                                let fits = match (want, a) {
                                    ("float", Arg::Number { num, .. }) => num.is_float,
                                    ("integer", Arg::Number { num, .. }) => num.is_int,
                                    _ => false,
                                };
                                if !fits {
                                    return self.errorf(format!("expected {want}; found {a}"));
                                }
                            }
                        }
                        (_, Rv::Invalid) => return self.errorf(format!("invalid value; expected {expected}")),
                        (_, Rv::V(Value::Nil, _)) => {
                            return self.errorf(format!("wrong type for value; expected {expected}; got interface {{}}"));
                        }
                        _ => {}
                    }
                }
            }
        }
        self.errorf(m)
    }

    fn eval_builtin(&mut self, dot: &Rv, b: Builtin, at: At<'t>, name: &str, args: &'t [Arg], fin: Option<Rv>) -> R<Rv> {
        let n_in = args.len() + usize::from(fin.is_some());
        let (fixed, variadic) = b.arity();
        if variadic {
            if n_in < fixed {
                return Err(self.errorf(format!("wrong number of args for {name}: want at least {fixed} got {}", args.len())));
            }
        } else if n_in != fixed {
            return Err(self.errorf(format!("wrong number of args for {name}: want {fixed} got {n_in}")));
        }
        // and/or short-circuit and return the deciding value.
        if matches!(b, Builtin::And | Builtin::Or) {
            let or = b == Builtin::Or;
            let mut v = Rv::Invalid;
            for a in args {
                v = self.eval_arg_any(dot, a)?;
                if v.truthy() == or {
                    return Ok(v);
                }
            }
            if let Some(f) = fin {
                v = f;
            }
            return Ok(v);
        }
        if b == Builtin::Printf {
            // printf's format is a string parameter: Go checks it as such.
            let mut vals = Vec::new();
            let mut it = args.iter();
            let format: String = match it.next() {
                Some(a) => match a {
                    Arg::String { text, .. } => {
                        self.at = At::Arg(a);
                        text.to_string()
                    }
                    Arg::Number { .. } | Arg::Bool { .. } => {
                        self.at = At::Arg(a);
                        return Err(self.errorf(format!("expected string; found {a}")));
                    }
                    Arg::Nil { .. } => {
                        self.at = At::Arg(a);
                        return Err(self.errorf("cannot assign nil to string"));
                    }
                    _ => {
                        let v = self.eval_arg_any(dot, a)?;
                        self.string_param(v)?
                    }
                },
                None => match fin.clone() {
                    Some(v) => self.string_param(v)?,
                    None => String::new(),
                },
            };
            for a in it {
                let v = self.eval_arg_any(dot, a)?.value();
                vals.push(v);
            }
            if !args.is_empty() {
                if let Some(f) = fin {
                    vals.push(f.value());
                }
            }
            let v = Value::String(super::fmt::sprintf_go(&format, &vals));
            self.check_size(&v, at, name)?;
            return Ok(Rv::concrete(v));
        }
        let mut vals = Vec::with_capacity(n_in);
        for a in args {
            let v = self.eval_arg_any(dot, a)?;
            vals.push(v);
        }
        if let Some(f) = fin {
            vals.push(f);
        }
        if b == Builtin::Call {
            let callee = args.first().map(|a| a.to_string()).unwrap_or_default();
            let err = match vals.first().map(Rv::indirect) {
                None | Some(Rv::Invalid) => "call of nil".to_string(),
                Some(Rv::V(v, _)) => format!("non-function {callee} of type {}", v.type_name()),
            };
            self.at = at;
            return Err(self.errorf(format!("error calling call: {err}")));
        }
        match builtins::call(b, &vals) {
            Ok(v) => {
                if let Rv::V(x, _) = &v {
                    self.check_size(x, at, name)?;
                }
                Ok(v)
            }
            Err(e) => {
                self.at = at;
                Err(self.errorf(format!("error calling {name}: {e}")))
            }
        }
    }

    /// A string a function made may not outgrow the output limit: strings
    /// doubled in a loop would otherwise exhaust memory without printing.
    /// So may a list or map, counted as printing it would count it (each
    /// item a byte, each string its length, a part it holds twice twice):
    /// lists of themselves doubled in a loop (`$x = list $x $x`) share
    /// their parts, so they cost nothing to make but would exhaust time or
    /// memory when printed, encoded, compared or copied (found by fuzzing).
    /// Nor may one nest deeper than [`MAX_VALUE_DEPTH`].
    fn check_size(&mut self, v: &Value, at: At<'t>, name: &str) -> R<()> {
        let max = self.shared.limits.max_output;
        let problem = match v {
            Value::String(s) if s.go_len() > max => format!("result of {} bytes exceeds the output limit of {max} bytes", s.go_len()),
            Value::List(_) | Value::Map(_) => match expanded_size(v, max, 0) {
                Ok(_) => return Ok(()),
                Err(SizeError::Big) => format!("result exceeds the output limit of {max} bytes when printed"),
                Err(SizeError::Deep) => format!("result nests more than {MAX_VALUE_DEPTH} lists or maps deep (a map that contains itself?)"),
            },
            _ => return Ok(()),
        };
        self.at = at;
        Err(self.errorf(format!("error calling {name}: {problem}")))
    }

    fn string_param(&self, v: Rv) -> R<String> {
        match v {
            Rv::V(Value::String(s), _) => Ok(s.to_string()),
            Rv::Invalid => Err(self.errorf("invalid value; expected string")),
            Rv::V(Value::Nil, _) => Err(self.errorf("wrong type for value; expected string; got interface {}")),
            Rv::V(v, _) => Err(self.errorf(format!("wrong type for value; expected string; got {}", v.type_name()))),
        }
    }
}

/// The executor as functions see it: `include` and `tpl` run templates of
/// the current set through it.
pub struct ExecHost<'a> {
    pub set: &'a Arc<TreeSet>,
    pub shared: &'a Shared<'a>,
}

impl ExecHost<'_> {
    /// Runs `tree` as `include` and `tpl` do; the output as Go's bytes.
    fn nested_go(&mut self, set: &Arc<TreeSet>, tree: &Tree, data: &Value) -> Result<Vec<u8>, FuncError> {
        let max = self.shared.limits.max_depth;
        if self.shared.calls.get() >= max {
            return Err(FuncError::Call(format!("template: {}: exceeded maximum template depth ({max})", tree.name)));
        }
        let nesting = self.shared.nesting.get() + 1;
        if nesting > MAX_NESTING {
            return Err(FuncError::Call(format!("template: {}: exceeded maximum nesting depth ({MAX_NESTING})", tree.name)));
        }
        self.shared.nesting.set(nesting);
        self.shared.calls.set(self.shared.calls.get() + 1);
        let r = execute_bytes(set, self.shared, tree, data);
        self.shared.calls.set(self.shared.calls.get() - 1);
        self.shared.nesting.set(nesting - 1);
        r.map_err(|e| FuncError::Call(e.message))
    }
}

impl Host for ExecHost<'_> {
    fn execute_named(&mut self, name: &str, data: &Value) -> Result<String, FuncError> {
        self.execute_named_go(name, data).map(|s| s.as_str().to_string())
    }

    fn execute_named_go(&mut self, name: &str, data: &Value) -> Result<crate::value::Str, FuncError> {
        let Some(tree) = self.set.get(name).cloned() else {
            return Err(FuncError::Call(format!(
                "template: no template {} associated with template {}",
                super::fmt::quote(name),
                super::fmt::quote(super::ROOT_NAME)
            )));
        };
        let set = self.set.clone();
        self.nested_go(&set, &tree, data).map(crate::value::Str::from_bytes)
    }

    fn execute_text(&mut self, text: &str, data: &Value) -> Result<String, FuncError> {
        self.execute_text_go(text, data).map(|s| s.as_str().to_string())
    }

    fn execute_text_go(&mut self, text: &str, data: &Value) -> Result<crate::value::Str, FuncError> {
        let funcs = self.shared.funcs;
        let has = |n: &str| funcs.contains(n) || Builtin::from_name(n).is_some();
        // Helm's `tpl` parses into a clone of the set as `t.New(root.Name())`:
        // errors name the set's root template ("gotpl"), not the caller.
        let root = super::ROOT_NAME;
        // A parse error comes back as an argument error, an execution error as
        // a call error, so `tpl` can word each as Helm does.
        let trees = super::parse::parse(root, text, &has).map_err(FuncError::Argument)?;
        let mut set: TreeSet = (**self.set).clone();
        let own = super::add_trees(&mut set, root, trees);
        let set = Arc::new(set);
        self.nested_go(&set, &own, data).map(crate::value::Str::from_bytes)
    }
}
