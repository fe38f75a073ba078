//! The parser of Go's `text/template`: builds parse trees (one per template
//! name: the file's own and each `define`/`block` in it) from the lexer's
//! items, with Go's checks (undefined functions and variables, `break`
//! outside `range`, empty pipelines…) and Go's error wordings and line
//! numbers (`template: NAME:LINE: unexpected "}" in operand`). It does not
//! execute anything and knows no values beyond literals.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use super::lex::{lex, Item, ItemType};

/// How deeply parentheses may nest: Go's own limit (its error is "max
/// expression depth exceeded").
pub const MAX_PAREN_DEPTH: usize = 10000;

/// How deeply control structures (`if`, `range`, `with`, `else if`
/// chains, `define`) may nest. Go has no limit; this one is far beyond any
/// template and keeps the recursion within the parser's large stack.
pub const MAX_BLOCK_DEPTH: usize = 100_000;

/// One parsed template: its name, the name of the text it came from (the
/// file; errors say it), that text (errors compute line and column in it),
/// and its body.
#[derive(Debug)]
pub struct Tree {
    pub name: String,
    pub parse_name: String,
    pub text: Arc<str>,
    pub root: List,
    /// At most how many levels (as `node_within` counts them) its nodes
    /// nest, from the parser's deepest control structure and parentheses:
    /// a tree within [`SHALLOW_DROP`] is dropped without looking.
    pub nesting: usize,
}

/// A tree is taken apart without deep recursion: a deeply nested one (ten
/// thousand parentheses) may be dropped on a thread with a small stack.
/// A node nested at most [`SHALLOW_DROP`] levels deep (nearly every node
/// of a real template) is dropped in place, by the compiler's recursive
/// drop; only deeper ones are taken apart on a heap stack, level by level.
/// (Taking every node apart was a seventh of a scaffold render: each moved
/// onto a growing stack before it was freed.)
impl Drop for Tree {
    fn drop(&mut self) {
        if self.nesting <= SHALLOW_DROP {
            return;
        }
        enum Part {
            Node(Node),
            Pipe(Pipe),
            Arg(Arg),
        }
        let mut stack: Vec<Part> = Vec::new();
        for n in std::mem::take(&mut self.root.nodes) {
            if !node_within(&n, SHALLOW_DROP) {
                stack.push(Part::Node(n));
            }
        }
        while let Some(part) = stack.pop() {
            let shallow = match &part {
                Part::Node(n) => node_within(n, SHALLOW_DROP),
                Part::Pipe(p) => pipe_within(p, SHALLOW_DROP),
                Part::Arg(a) => arg_within(a, SHALLOW_DROP),
            };
            if shallow {
                continue;
            }
            match part {
                Part::Node(Node::Action { pipe, .. }) | Part::Node(Node::Template { pipe: Some(pipe), .. }) => stack.push(Part::Pipe(pipe)),
                Part::Node(Node::If(b) | Node::Range(b) | Node::With(b)) => {
                    stack.push(Part::Pipe(b.pipe));
                    stack.extend(b.list.nodes.into_iter().map(Part::Node));
                    if let Some(e) = b.else_list {
                        stack.extend(e.nodes.into_iter().map(Part::Node));
                    }
                }
                Part::Pipe(p) => stack.extend(p.cmds.into_iter().flat_map(|c| c.args).map(Part::Arg)),
                Part::Arg(Arg::Pipe(p)) => stack.push(Part::Pipe(*p)),
                Part::Arg(Arg::Chain { node, .. }) => stack.push(Part::Arg(*node)),
                _ => {}
            }
        }
    }
}

/// How many levels of nodes, pipes and arguments a part of a tree may nest
/// for the compiler's recursive drop to take it apart (see `Drop for Tree`).
const SHALLOW_DROP: usize = 64;

/// Whether `n` nests at most `budget` levels deep (recursion bounded by `budget`).
fn node_within(n: &Node, budget: usize) -> bool {
    let Some(b) = budget.checked_sub(1) else { return false };
    match n {
        Node::Action { pipe, .. } | Node::Template { pipe: Some(pipe), .. } => pipe_within(pipe, b),
        Node::If(br) | Node::Range(br) | Node::With(br) => {
            pipe_within(&br.pipe, b) && br.list.nodes.iter().all(|x| node_within(x, b)) && br.else_list.as_ref().is_none_or(|e| e.nodes.iter().all(|x| node_within(x, b)))
        }
        _ => true,
    }
}

fn pipe_within(p: &Pipe, budget: usize) -> bool {
    let Some(b) = budget.checked_sub(1) else { return false };
    p.cmds.iter().all(|c| c.args.iter().all(|a| arg_within(a, b)))
}

fn arg_within(a: &Arg, budget: usize) -> bool {
    let Some(b) = budget.checked_sub(1) else { return false };
    match a {
        Arg::Pipe(p) => pipe_within(p, b),
        Arg::Chain { node, .. } => arg_within(node, b),
        _ => true,
    }
}

/// A piece of a template's text (a text node, a name, a literal) that
/// shares the template's text instead of copying it: a tree's words cost
/// no allocation each (they were a third of a parse's allocations). It
/// reads as the `str` it covers.
#[derive(Clone)]
pub struct Span {
    text: Arc<str>,
    start: usize,
    end: usize,
}

impl Span {
    /// `text[start..end]`; the caller knows both are char boundaries in range.
    fn new(text: &Arc<str>, start: usize, end: usize) -> Span {
        debug_assert!(text.get(start..end).is_some());
        Span { text: text.clone(), start, end }
    }

    /// A string of its own (a literal with escapes, whose value is not in the text).
    pub fn owned(s: &str) -> Span {
        Span { text: Arc::from(s), start: 0, end: s.len() }
    }

    pub fn as_str(&self) -> &str {
        // Spans are made only of char-boundary ranges (see `new`); an empty
        // string rather than a panic if that were ever wrong.
        self.text.get(self.start..self.end).unwrap_or("")
    }
}

impl std::ops::Deref for Span {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for Span {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Span {
    fn eq(&self, other: &Span) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<str> for Span {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct List {
    pub pos: usize,
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
pub enum Node {
    Text { pos: usize, text: Span },
    Action { pos: usize, pipe: Pipe },
    If(Branch),
    Range(Branch),
    With(Branch),
    Template { pos: usize, name: String, pipe: Option<Pipe> },
    Break { pos: usize },
    Continue { pos: usize },
    /// Parser-internal: `{{end}}` and `{{else}}`, never in a finished tree.
    End { pos: usize },
    Else { pos: usize },
}

/// The parts of `if`, `range` and `with`.
#[derive(Debug, Clone)]
pub struct Branch {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: List,
    pub else_list: Option<List>,
}

#[derive(Debug, Clone)]
pub struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

#[derive(Debug, Clone)]
pub struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// A parsed number constant, as Go's `NumberNode` keeps it.
#[derive(Debug, Clone, Default)]
pub struct Number {
    pub is_int: bool,
    pub is_uint: bool,
    pub is_float: bool,
    pub is_complex: bool,
    pub int: i64,
    pub uint: u64,
    pub float: f64,
}

#[derive(Debug, Clone)]
pub enum Arg {
    Identifier { pos: usize, name: Span },
    Dot { pos: usize },
    Nil { pos: usize },
    /// `$`, `$x`, `$x.Field.Chain`.
    Variable { pos: usize, idents: Vec<Span> },
    /// `.Field.Chain`.
    Field { pos: usize, idents: Vec<Span> },
    Bool { pos: usize, value: bool },
    Number { pos: usize, text: Span, num: Number },
    String { pos: usize, quoted: Span, text: Span },
    Pipe(Box<Pipe>),
    /// `(pipeline).Field`, `"x".Field` and the like.
    Chain { pos: usize, node: Box<Arg>, fields: Vec<Span> },
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Variable { pos, .. }
            | Arg::Field { pos, .. }
            | Arg::Bool { pos, .. }
            | Arg::Number { pos, .. }
            | Arg::String { pos, .. }
            | Arg::Chain { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }

    fn write(&self, s: &mut String) {
        match self {
            Arg::Identifier { name, .. } => s.push_str(name),
            Arg::Dot { .. } => s.push('.'),
            Arg::Nil { .. } => s.push_str("nil"),
            Arg::Variable { idents, .. } => s.push_str(&idents.join(".")),
            Arg::Field { idents, .. } => {
                for i in idents {
                    s.push('.');
                    s.push_str(i);
                }
            }
            Arg::Bool { value, .. } => s.push_str(if *value { "true" } else { "false" }),
            Arg::Number { text, .. } => s.push_str(text),
            Arg::String { quoted, .. } => s.push_str(quoted),
            Arg::Pipe(p) => {
                s.push('(');
                p.write(s);
                s.push(')');
            }
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(p) = node.as_ref() {
                    s.push('(');
                    p.write(s);
                    s.push(')');
                } else {
                    node.write(s);
                }
                for f in fields {
                    s.push('.');
                    s.push_str(f);
                }
            }
        }
    }
}

impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        self.write(&mut s);
        f.write_str(&s)
    }
}

impl Pipe {
    fn write(&self, s: &mut String) {
        if !self.decl.is_empty() {
            s.push_str(&self.decl.join(", "));
            s.push_str(if self.is_assign { " = " } else { " := " });
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                s.push_str(" | ");
            }
            c.write(s);
        }
    }
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        self.write(&mut s);
        f.write_str(&s)
    }
}

impl Command {
    fn write(&self, s: &mut String) {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            a.write(s);
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        self.write(&mut s);
        f.write_str(&s)
    }
}

impl List {
    fn write(&self, s: &mut String) {
        for n in &self.nodes {
            n.write(s);
        }
    }
}

impl Node {
    pub fn pos(&self) -> usize {
        match self {
            Node::Text { pos, .. }
            | Node::Action { pos, .. }
            | Node::Template { pos, .. }
            | Node::Break { pos }
            | Node::Continue { pos }
            | Node::End { pos }
            | Node::Else { pos } => *pos,
            Node::If(b) | Node::Range(b) | Node::With(b) => b.pos,
        }
    }

    fn write(&self, s: &mut String) {
        match self {
            Node::Text { text, .. } => s.push_str(&super::fmt::quote(text)),
            Node::Action { pipe, .. } => {
                s.push_str("{{");
                pipe.write(s);
                s.push_str("}}");
            }
            Node::If(b) | Node::Range(b) | Node::With(b) => {
                let kw = match self {
                    Node::If(_) => "if",
                    Node::Range(_) => "range",
                    _ => "with",
                };
                let _ = write!(s, "{{{{{kw} ");
                b.pipe.write(s);
                s.push_str("}}");
                b.list.write(s);
                if let Some(e) = &b.else_list {
                    s.push_str("{{else}}");
                    e.write(s);
                }
                s.push_str("{{end}}");
            }
            Node::Template { name, pipe, .. } => {
                let _ = write!(s, "{{{{template {}", super::fmt::quote(name));
                if let Some(p) = pipe {
                    s.push(' ');
                    p.write(s);
                }
                s.push_str("}}");
            }
            Node::Break { .. } => s.push_str("{{break}}"),
            Node::Continue { .. } => s.push_str("{{continue}}"),
            Node::End { .. } => s.push_str("{{end}}"),
            Node::Else { .. } => s.push_str("{{else}}"),
        }
    }
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        self.write(&mut s);
        f.write_str(&s)
    }
}

/// Go's `parse.IsEmptyTree`: only space text (and comments).
pub fn is_empty_list(l: &List) -> bool {
    l.nodes.iter().all(|n| match n {
        Node::Text { text, .. } => text.trim_matches(|c: char| c.is_whitespace()).is_empty(),
        _ => false,
    })
}

pub type ParseError = String;

/// Parses `text` as the template `name`; returns every tree it defines
/// (its own under `name`, and each `define`/`block`), as Go's `parse.Parse`.
/// `has_func` answers whether a function name exists (builtin or added).
pub fn parse(name: &str, text: &str, has_func: &dyn Fn(&str) -> bool) -> Result<HashMap<String, Tree>, ParseError> {
    let items = lex(text, !has_func("break"), !has_func("continue"));
    let src = text;
    let text: Arc<str> = Arc::from(text);
    let mut p = Parser {
        items,
        src,
        next_item: 0,
        token: [dummy(), dummy(), dummy()],
        peek_count: 0,
        vars: vec![Cow::Borrowed("$")],
        action_pos: None,
        range_depth: 0,
        depth: 0,
        paren_depth: 0,
        max_depth: 0,
        max_paren: 0,
        parse_name: name.to_string(),
        text: text.clone(),
        has_func,
        tree_set: HashMap::new(),
    };
    let root = p.parse_top()?;
    p.add(name, root)?;
    Ok(p.tree_set)
}

fn dummy<'a>() -> Item<'a> {
    Item { typ: ItemType::Eof, pos: 0, val: Cow::Borrowed("") }
}

struct Parser<'a, 'f> {
    items: Vec<Item<'a>>,
    /// The text the items borrow from (`text` is a copy of it).
    src: &'a str,
    next_item: usize,
    token: [Item<'a>; 3],
    peek_count: usize,
    vars: Vec<Cow<'a, str>>,
    /// Where the action being parsed started (for "in action started at").
    action_pos: Option<usize>,
    range_depth: usize,
    /// Nesting of control structures, and of parentheses (Go's stackDepth).
    depth: usize,
    paren_depth: usize,
    /// The deepest `depth` and `paren_depth` seen (a tree's `nesting`).
    max_depth: usize,
    max_paren: usize,
    parse_name: String,
    text: Arc<str>,
    has_func: &'f dyn Fn(&str) -> bool,
    tree_set: HashMap<String, Tree>,
}

type R<T> = Result<T, ParseError>;

impl<'a> Parser<'a, '_> {
    fn lex_next(&mut self) -> Item<'a> {
        match self.items.get(self.next_item) {
            Some(i) => {
                self.next_item += 1;
                i.clone()
            }
            // After EOF or an error the lexer yields nothing more; Go's
            // closed channel gives zero items (type Error, empty).
            None => {
                let last = self.items.last().map(|i| i.pos).unwrap_or(0);
                Item { typ: ItemType::Eof, pos: last, val: Cow::Borrowed("") }
            }
        }
    }

    fn next(&mut self) -> Item<'a> {
        if self.peek_count > 0 {
            self.peek_count -= 1;
        } else {
            self.token[0] = self.lex_next();
        }
        self.token[self.peek_count].clone()
    }

    fn backup(&mut self) {
        self.peek_count += 1;
    }

    fn backup2(&mut self, t1: Item<'a>) {
        self.token[1] = t1;
        self.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item<'a>, t1: Item<'a>) {
        self.token[1] = t1;
        self.token[2] = t2;
        self.peek_count = 3;
    }

    fn peek(&mut self) -> Item<'a> {
        if self.peek_count > 0 {
            return self.token[self.peek_count - 1].clone();
        }
        self.peek_count = 1;
        self.token[0] = self.lex_next();
        self.token[0].clone()
    }

    fn next_non_space(&mut self) -> Item<'a> {
        loop {
            let t = self.next();
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item<'a> {
        let t = self.next_non_space();
        self.backup();
        t
    }

    /// The line of a byte offset (Go keeps it in each item; only errors need it).
    fn line(&self, pos: usize) -> usize {
        1 + self.text.as_bytes()[..pos.min(self.text.len())].iter().filter(|&&b| b == b'\n').count()
    }

    fn errorf(&self, msg: impl std::fmt::Display) -> ParseError {
        format!("template: {}:{}: {}", self.parse_name, self.line(self.token[0].pos), msg)
    }

    fn expect(&mut self, typ: ItemType, context: &str) -> R<Item<'a>> {
        let t = self.next_non_space();
        if t.typ != typ {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn expect_one_of(&mut self, a: ItemType, b: ItemType, context: &str) -> R<Item<'a>> {
        let t = self.next_non_space();
        if t.typ != a && t.typ != b {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn unexpected(&self, t: &Item<'_>, context: &str) -> ParseError {
        if t.typ == ItemType::Error {
            let mut extra = String::new();
            let action_line = self.action_pos.map(|p| self.line(p));
            if action_line.is_some_and(|l| l != self.line(t.pos)) {
                extra = format!(" in action started at {}:{}", self.parse_name, action_line.unwrap_or(0));
                if t.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format!("{t}{extra}"));
        }
        self.errorf(format!("unexpected {t} in {context}"))
    }

    fn add(&mut self, name: &str, root: List) -> R<()> {
        match self.tree_set.get(name) {
            Some(old) if !is_empty_list(&old.root) => {
                if !is_empty_list(&root) {
                    return Err(self.errorf(format!("template: multiple definition of template {}", super::fmt::quote(name))));
                }
            }
            _ => {
                self.tree_set.insert(name.to_string(), Tree { name: name.to_string(), parse_name: self.parse_name.clone(), text: self.text.clone(), root, nesting: self.nesting() });
            }
        }
        Ok(())
    }

    /// The text of item `t` (which the lexer borrowed from the template's
    /// text at `t.pos`) without its first `skip` bytes, as a [`Span`].
    fn span(&self, t: &Item<'_>, skip: usize) -> Span {
        match &t.val {
            Cow::Borrowed(v) if v.as_ptr() as usize == self.src.as_ptr() as usize + t.pos && v.is_char_boundary(skip) => Span::new(&self.text, t.pos + skip, t.pos + v.len()),
            // Not expected (only errors own their text): a copy then.
            v => Span::owned(v.get(skip..).unwrap_or("")),
        }
    }

    /// A bound on how many levels `node_within` would count in any tree
    /// parsed so far: each control structure nests a node and its list
    /// (2), each parenthesis an argument, its pipe and maybe a chain (3).
    fn nesting(&self) -> usize {
        self.max_depth.saturating_mul(2).saturating_add(self.max_paren.saturating_mul(3)).saturating_add(8)
    }

    fn enter_paren(&mut self) -> R<()> {
        if self.paren_depth >= MAX_PAREN_DEPTH {
            return Err(self.errorf("max expression depth exceeded"));
        }
        self.paren_depth += 1;
        self.max_paren = self.max_paren.max(self.paren_depth);
        Ok(())
    }

    fn enter(&mut self) -> R<()> {
        if self.depth >= MAX_BLOCK_DEPTH {
            return Err(self.errorf(format!("control structures nested deeper than {MAX_BLOCK_DEPTH}")));
        }
        self.depth += 1;
        self.max_depth = self.max_depth.max(self.depth);
        Ok(())
    }

    fn parse_top(&mut self) -> R<List> {
        let mut root = List { pos: self.peek().pos, nodes: Vec::new() };
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let delim = self.next();
                if self.next_non_space().typ == ItemType::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.backup2(delim);
            }
            let n = self.text_or_action()?;
            match n {
                Node::End { .. } | Node::Else { .. } => return Err(self.errorf(format!("unexpected {n}"))),
                n => root.nodes.push(n),
            }
        }
        Ok(root)
    }

    /// `{{define "name"}} … {{end}}`; the `define` keyword is consumed.
    fn parse_definition(&mut self) -> R<()> {
        let context = "define clause";
        let saved_vars = std::mem::replace(&mut self.vars, vec![Cow::Borrowed("$")]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let name = self.expect_one_of(ItemType::String, ItemType::RawString, context)?;
        let name = unquote(&name.val).ok_or_else(|| self.errorf("invalid syntax"))?;
        self.expect(ItemType::RightDelim, context)?;
        let (list, end) = self.item_list()?;
        if !matches!(end, Node::End { .. }) {
            return Err(self.errorf(format!("unexpected {end} in {context}")));
        }
        self.add(&name, list)?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        Ok(())
    }

    fn item_list(&mut self) -> R<(List, Node)> {
        self.enter()?;
        let mut list = List { pos: self.peek_non_space().pos, nodes: Vec::new() };
        while self.peek_non_space().typ != ItemType::Eof {
            let n = self.text_or_action()?;
            match n {
                Node::End { .. } | Node::Else { .. } => {
                    self.depth -= 1;
                    return Ok((list, n));
                }
                n => list.nodes.push(n),
            }
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> R<Node> {
        let t = self.next_non_space();
        match t.typ {
            ItemType::Text => Ok(Node::Text { pos: t.pos, text: self.span(&t, 0) }),
            ItemType::LeftDelim => {
                self.action_pos = Some(t.pos);
                let r = self.action();
                self.action_pos = None;
                r
            }
            _ => Err(self.unexpected(&t, "input")),
        }
    }

    fn action(&mut self) -> R<Node> {
        let t = self.next_non_space();
        match t.typ {
            ItemType::Block => return self.block_control(),
            ItemType::Break => return self.break_control(t.pos, "{{break}}"),
            ItemType::Continue => return self.break_control(t.pos, "{{continue}}"),
            ItemType::Else => return self.else_control(),
            ItemType::End => return self.end_control(),
            ItemType::If => return self.branch_control("if").map(Node::If),
            ItemType::Range => return self.branch_control("range").map(Node::Range),
            ItemType::Template => return self.template_control(),
            ItemType::With => return self.branch_control("with").map(Node::With),
            _ => {}
        }
        self.backup();
        let t = self.peek();
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Node::Action { pos: t.pos, pipe })
    }

    fn break_control(&mut self, pos: usize, what: &str) -> R<Node> {
        let t = self.next_non_space();
        if t.typ != ItemType::RightDelim {
            return Err(self.unexpected(&t, what));
        }
        if self.range_depth == 0 {
            return Err(self.errorf(format!("{what} outside {{{{range}}}}")));
        }
        Ok(if what == "{{break}}" { Node::Break { pos } } else { Node::Continue { pos } })
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> R<Pipe> {
        let t = self.peek_non_space();
        // Room for the usual one or two commands (`x | nindent 4`) from the start.
        let mut pipe = Pipe { pos: t.pos, is_assign: false, decl: Vec::new(), cmds: Vec::with_capacity(2) };
        // Declarations or assignments?
        loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            self.next();
            // "$x foo" versus "$x := foo": keep the token after the variable
            // so it can be pushed back.
            let after = self.peek();
            let next = self.peek_non_space();
            if next.typ == ItemType::Assign || next.typ == ItemType::Declare {
                pipe.is_assign = next.typ == ItemType::Assign;
                self.next_non_space();
                pipe.decl.push(v.val.to_string());
                self.vars.push(v.val.clone());
            } else if next.typ == ItemType::Char && next.val == "," {
                self.next_non_space();
                pipe.decl.push(v.val.to_string());
                self.vars.push(v.val.clone());
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().typ {
                        ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => continue,
                        _ => return Err(self.errorf("range can only initialize variables")),
                    }
                }
                return Err(self.errorf(format!("too many declarations in {context}")));
            } else if after.typ == ItemType::Space {
                self.backup3(v, after);
            } else {
                self.backup2(v);
            }
            break;
        }
        loop {
            let t = self.next_non_space();
            match t.typ {
                x if x == end => {
                    self.check_pipeline(&pipe, context)?;
                    return Ok(pipe);
                }
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let c = self.command()?;
                    pipe.cmds.push(c);
                }
                _ => return Err(self.unexpected(&t, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> R<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(c.args.first(), Some(Arg::Bool { .. } | Arg::Dot { .. } | Arg::Nil { .. } | Arg::Number { .. } | Arg::String { .. })) {
                return Err(self.errorf(format!("non executable command in pipeline stage {}", i + 1)));
            }
        }
        Ok(())
    }

    fn branch_control(&mut self, context: &str) -> R<Branch> {
        let nvars = self.vars.len();
        let r = self.branch_control_inner(context);
        self.vars.truncate(nvars);
        r
    }

    fn branch_control_inner(&mut self, context: &str) -> R<Branch> {
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let Node::Else { pos } = next {
            // "{{else if …}}" and "{{else with …}}" are "{{else}}{{if …}}…{{end}}{{end}}".
            if context == "if" && self.peek().typ == ItemType::If {
                self.next();
                self.enter()?;
                let inner = Node::If(self.branch_control("if")?);
                self.depth -= 1;
                else_list = Some(List { pos, nodes: vec![inner] });
            } else if context == "with" && self.peek().typ == ItemType::With {
                self.next();
                self.enter()?;
                let inner = Node::With(self.branch_control("with")?);
                self.depth -= 1;
                else_list = Some(List { pos, nodes: vec![inner] });
            } else {
                let (l, next) = self.item_list()?;
                if !matches!(next, Node::End { .. }) {
                    return Err(self.errorf(format!("expected end; found {next}")));
                }
                else_list = Some(l);
            }
        }
        Ok(Branch { pos: pipe.pos, pipe, list, else_list })
    }

    fn end_control(&mut self) -> R<Node> {
        let t = self.expect(ItemType::RightDelim, "end")?;
        Ok(Node::End { pos: t.pos })
    }

    fn else_control(&mut self) -> R<Node> {
        let peek = self.peek_non_space();
        if peek.typ == ItemType::If || peek.typ == ItemType::With {
            return Ok(Node::Else { pos: peek.pos });
        }
        let t = self.expect(ItemType::RightDelim, "else")?;
        Ok(Node::Else { pos: t.pos })
    }

    fn block_control(&mut self) -> R<Node> {
        let context = "block clause";
        let t = self.next_non_space();
        let name = self.parse_template_name(&t, context)?;
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec![Cow::Borrowed("$")]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        if !matches!(end, Node::End { .. }) {
            return Err(self.errorf(format!("unexpected {end} in {context}")));
        }
        self.add(&name, list)?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        Ok(Node::Template { pos: t.pos, name, pipe: Some(pipe) })
    }

    fn template_control(&mut self) -> R<Node> {
        let context = "template clause";
        let t = self.next_non_space();
        let name = self.parse_template_name(&t, context)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(context, ItemType::RightDelim)?);
        }
        Ok(Node::Template { pos: t.pos, name, pipe })
    }

    fn parse_template_name(&mut self, t: &Item<'_>, context: &str) -> R<String> {
        match t.typ {
            ItemType::String | ItemType::RawString => unquote(&t.val).ok_or_else(|| self.errorf("invalid syntax")),
            _ => Err(self.unexpected(t, context)),
        }
    }

    fn command(&mut self) -> R<Command> {
        let pos = self.peek_non_space().pos;
        // Room for the usual few arguments from the start.
        let mut cmd = Command { pos, args: Vec::with_capacity(3) };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let t = self.next();
            match t.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return Err(self.unexpected(&t, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.errorf("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> R<Option<Arg>> {
        let Some(mut node) = self.term()? else { return Ok(None) };
        if self.peek().typ == ItemType::Field {
            let pos = self.peek().pos;
            // `.a.b.c` and `$x.a.b`: the fields join the term's own list
            // (which has room for a few), as Go's chain does.
            if let Arg::Field { idents, pos: at } | Arg::Variable { idents, pos: at } = &mut node {
                while self.peek().typ == ItemType::Field {
                    let f = self.next();
                    idents.push(self.span(&f, 1));
                }
                *at = pos;
                return Ok(Some(node));
            }
            let mut fields = Vec::new();
            while self.peek().typ == ItemType::Field {
                let f = self.next();
                fields.push(self.span(&f, 1));
            }
            return Ok(Some(match node {
                Arg::Bool { .. } | Arg::String { .. } | Arg::Number { .. } | Arg::Nil { .. } | Arg::Dot { .. } => {
                    return Err(self.errorf(format!("unexpected . after term {}", super::fmt::quote(&node.to_string()))));
                }
                node => Arg::Chain { pos, node: Box::new(node), fields },
            }));
        }
        Ok(Some(node))
    }

    fn term(&mut self) -> R<Option<Arg>> {
        let t = self.next_non_space();
        Ok(Some(match t.typ {
            ItemType::Identifier => {
                if !(self.has_func)(&t.val) {
                    return Err(self.errorf(format!("function {} not defined", super::fmt::quote(&t.val))));
                }
                Arg::Identifier { pos: t.pos, name: self.span(&t, 0) }
            }
            ItemType::Dot => Arg::Dot { pos: t.pos },
            ItemType::Nil => Arg::Nil { pos: t.pos },
            ItemType::Variable => {
                let mut idents = Vec::with_capacity(4);
                let mut at = t.pos;
                for part in t.val.split('.') {
                    idents.push(Span::new(&self.text, at, at + part.len()));
                    at += part.len() + 1;
                }
                if !self.vars.iter().any(|v| v.as_ref() == idents[0].as_str()) {
                    return Err(self.errorf(format!("undefined variable {}", super::fmt::quote(&idents[0]))));
                }
                Arg::Variable { pos: t.pos, idents }
            }
            ItemType::Field => {
                // Room for the fields `operand` may add (`.Values.image.tag`).
                let mut idents = Vec::with_capacity(4);
                idents.push(self.span(&t, 1));
                Arg::Field { pos: t.pos, idents }
            }
            ItemType::Bool => Arg::Bool { pos: t.pos, value: t.val == "true" },
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                let num = new_number(&t.val, t.typ).map_err(|e| self.errorf(e))?;
                Arg::Number { pos: t.pos, text: self.span(&t, 0), num }
            }
            ItemType::LeftParen => {
                self.enter_paren()?;
                let p = self.pipeline("parenthesized pipeline", ItemType::RightParen)?;
                self.paren_depth -= 1;
                Arg::Pipe(Box::new(p))
            }
            ItemType::String | ItemType::RawString => {
                let s = unquote(&t.val).ok_or_else(|| self.errorf("invalid syntax"))?;
                // The value is the text inside the quotes unless escapes (or
                // a raw string's dropped `\r`) made it differ.
                let inner = t.val.get(1..t.val.len() - 1).unwrap_or("");
                let text = if s == inner { Span::new(&self.text, t.pos + 1, t.pos + 1 + inner.len()) } else { Span::owned(&s) };
                Arg::String { pos: t.pos, quoted: self.span(&t, 0), text }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

/// Go's `strconv.Unquote` for `"…"` and `` `…` `` strings; None is Go's "invalid syntax".
pub fn unquote(s: &str) -> Option<String> {
    if s.len() >= 2 && s.starts_with('`') && s.ends_with('`') {
        let inner = &s[1..s.len() - 1];
        if inner.contains('`') {
            return None;
        }
        return Some(inner.replace('\r', ""));
    }
    if s.len() < 2 || !s.starts_with('"') || !s.ends_with('"') {
        return None;
    }
    let mut inner = &s[1..s.len() - 1];
    // Without escapes (nearly every literal) the text is its value: one
    // copy. (A `"` inside can only come escaped from the lexer; checked
    // all the same, as Go does.)
    if !inner.contains(['\\', '"']) {
        return Some(inner.to_string());
    }
    let mut out = String::with_capacity(inner.len());
    while !inner.is_empty() {
        let (c, rest) = unquote_char(inner, b'"')?;
        out.push(c);
        inner = rest;
    }
    Some(out)
}

/// Go's `strconv.UnquoteChar`: one (possibly escaped) character of a quoted
/// literal (`\xNN` may be a lone byte in Go: kept as U+FFFD here, Rust
/// strings are UTF-8).
pub fn unquote_char(s: &str, quote: u8) -> Option<(char, &str)> {
    let mut chars = s.chars();
    let c = chars.next()?;
    if c as u32 == quote as u32 && (quote == b'\'' || quote == b'"') {
        return None;
    }
    if c != '\\' {
        if c == '\n' && quote != b'`' {
            // Go rejects a raw newline only through the lexer; keep it.
        }
        return Some((c, chars.as_str()));
    }
    let e = chars.next()?;
    let rest = chars.as_str();
    let simple = |ch: char| Some((ch, rest));
    match e {
        'a' => simple('\u{7}'),
        'b' => simple('\u{8}'),
        'f' => simple('\u{c}'),
        'n' => simple('\n'),
        'r' => simple('\r'),
        't' => simple('\t'),
        'v' => simple('\u{b}'),
        '\\' => simple('\\'),
        '\'' | '"' => {
            if e as u32 != quote as u32 {
                return None;
            }
            simple(e)
        }
        'x' | 'u' | 'U' => {
            let n = match e {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            if rest.len() < n || !rest.is_char_boundary(n) {
                return None;
            }
            let v = u32::from_str_radix(&rest[..n], 16).ok()?;
            if rest[..n].starts_with(['+', '-']) {
                return None;
            }
            let ch = if e == 'x' {
                // A single byte: ASCII stays, others are not valid UTF-8 alone.
                if v < 0x80 {
                    char::from_u32(v)?
                } else {
                    '\u{FFFD}'
                }
            } else {
                char::from_u32(v)?
            };
            Some((ch, &rest[n..]))
        }
        '0'..='7' => {
            let digits = &s[1..];
            if digits.len() < 3 || !digits.is_char_boundary(3) {
                return None;
            }
            let v = u32::from_str_radix(&digits[..3], 8).ok()?;
            if v > 255 {
                return None;
            }
            let ch = if v < 0x80 { char::from_u32(v)? } else { '\u{FFFD}' };
            Some((ch, &digits[3..]))
        }
        _ => None,
    }
}

/// Go's `NumberNode` construction from a number, char or complex literal.
fn new_number(text: &str, typ: ItemType) -> Result<Number, String> {
    let mut n = Number::default();
    if typ == ItemType::CharConstant {
        let inner = &text[1..];
        let (c, tail) = unquote_char(inner, b'\'').ok_or("invalid syntax")?;
        if tail != "'" {
            return Err(format!("malformed character constant: {text}"));
        }
        let r = c as i64;
        n.is_int = true;
        n.int = r;
        n.is_uint = true;
        n.uint = r as u64;
        n.is_float = true;
        n.float = r as f64;
        return Ok(n);
    }
    if typ == ItemType::Complex || text.ends_with('i') {
        // Complex constants are parsed but cannot be used (no complex type here).
        if typ == ItemType::Complex || parse_float(&text[..text.len() - 1]).is_some() {
            n.is_complex = true;
            return Ok(n);
        }
    }
    let u = parse_uint(text);
    if let Some(u) = u {
        n.is_uint = true;
        n.uint = u;
    }
    if let Some(i) = parse_int(text) {
        n.is_int = true;
        n.int = i;
        if i == 0 {
            n.is_uint = true;
            n.uint = u.unwrap_or(0);
        }
    }
    if n.is_int {
        n.is_float = true;
        n.float = n.int as f64;
    } else if n.is_uint {
        n.is_float = true;
        n.float = n.uint as f64;
    } else if let Some(f) = parse_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            // A huge integer, or one like "08". Helm shows the message's
            // tail as the quoted text; the wording before it is assumed.
            return Err(format!("illegal number syntax: {}", super::fmt::quote(text)));
        }
        n.is_float = true;
        n.float = f;
        if !n.is_int && (f as i64) as f64 == f && f.fract() == 0.0 && f.abs() < 9.2e18 {
            n.is_int = true;
            n.int = f as i64;
        }
        if !n.is_uint && f >= 0.0 && (f as u64) as f64 == f && f.fract() == 0.0 && f < 1.8e19 {
            n.is_uint = true;
            n.uint = f as u64;
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!("illegal number syntax: {}", super::fmt::quote(text)));
    }
    Ok(n)
}

/// Go's `underscoreOK`: underscores only between digits (or after a base
/// prefix), as Go literals allow. Also Sprig's number conversions'.
pub(crate) fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    if !b.is_empty() && (b[0] == b'-' || b[0] == b'+') {
        i = 1;
    }
    let mut hex = false;
    if b.len() - i >= 2 && b[i] == b'0' && matches!(b[i + 1] | 0x20, b'b' | b'o' | b'x') {
        hex = b[i + 1] | 0x20 == b'x';
        i += 2;
        saw = b'0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || hex && c.is_ascii_hexdigit() {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || s.starts_with(['+', '-']) {
        return None;
    }
    let (digits, radix) = split_base(s);
    // Rust's from_str_radix takes a leading sign; Go has none after a prefix.
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    if s.contains('_') && !underscore_ok(s) {
        return None;
    }
    if !digits.contains('_') {
        return u64::from_str_radix(digits, radix).ok();
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    u64::from_str_radix(&clean, radix).ok()
}

fn split_base(s: &str) -> (&str, u32) {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'0' {
        match b[1] | 0x20 {
            b'x' => return (&s[2..], 16),
            b'o' => return (&s[2..], 8),
            b'b' => return (&s[2..], 2),
            _ => return (&s[1..], 8),
        }
    }
    (s, 10)
}

/// Go's `strconv.ParseInt(s, 0, 64)`: sign, `0x`/`0o`/`0b`/leading-`0`
/// octal prefixes, underscores between digits; None on any error
/// (including overflow). Also Sprig's `int`/`int64` of a string.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if s.contains('_') && !underscore_ok(s) {
        return None;
    }
    let u = parse_uint(body)?;
    if neg {
        if u <= i64::MAX as u64 + 1 {
            Some((u as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else if u <= i64::MAX as u64 {
        Some(u as i64)
    } else {
        None
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the literals the lexer lets through
/// (decimal, and hexadecimal with a `p` exponent).
pub fn parse_float(s: &str) -> Option<f64> {
    if s.contains('_') && !underscore_ok(s) {
        return None;
    }
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let v = if body.len() > 2 && (body.starts_with("0x") || body.starts_with("0X")) {
        parse_hex_float(&body[2..])?
    } else {
        if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')) {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    if v.is_infinite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// A hexadecimal float's digits after `0x`, with the mandatory `p`
/// exponent (Sprig's `float64` shares it). Summed in f64: a mantissa of
/// more than 53 bits may round differently from Go's exact conversion.
pub(crate) fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => return None,
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}
