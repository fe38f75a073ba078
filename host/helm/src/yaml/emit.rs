//! Writing YAML as sigs.k8s.io/yaml's `Marshal` does: the value goes
//! through encoding/json, the JSON is read back by go-yaml v2 (so `1e+21`
//! is a float, `100000` an int, every string a string), and go-yaml v2's
//! emitter (a libyaml port) writes it: block style with 2-space indentation,
//! sequences not indented under their key, `{}`/`[]` for empty collections,
//! keys in go-yaml's "natural" order, strings plain when they read back as
//! strings, else single- or double-quoted, `|`/`|-` literals for multi-line
//! strings, and plain and quoted scalars folded past column 80. It must not
//! read YAML.

use std::cmp::Ordering;

use super::json::{self, format_float_g, JsonError};
use super::load::GoVal;
use super::resolve::{is_base60_float, resolve_plain, Resolved};
use crate::value::Value;

const BEST_INDENT: i32 = 2;
const BEST_WIDTH: usize = 80;
/// Output larger than this is refused (a `toYaml` of a huge value).
const MAX_OUTPUT: usize = 256 << 20;

/// The value as go-yaml v2 reads the JSON encoding/json writes for it.
/// JSON's errors come first (`json.Marshal` runs to the end before YAML
/// reads anything); then a character go-yaml's reader refuses (DEL, C1
/// controls, U+FFFE/U+FFFF, which JSON leaves unescaped).
pub(crate) fn value_to_go(v: &Value, depth: usize) -> Result<GoVal, JsonError> {
    let mut reread = Reread::default();
    let go = to_go(v, depth, &mut reread).map_err(|e| JsonError(format!("error marshaling into JSON: {}", e.0)))?;
    if let Some(e) = reread.error {
        return Err(JsonError(e));
    }
    Ok(go)
}

/// What go-yaml meets reading the JSON back: line breaks (only U+0085
/// reaches it raw) and the first error.
#[derive(Default)]
struct Reread {
    lines: usize,
    error: Option<String>,
}

impl Reread {
    fn string(&mut self, s: &str, key: bool) -> GoVal {
        if self.error.is_none() && !s.chars().all(super::load::reader_allows_json) {
            self.error = Some("yaml: control characters are not allowed".into());
        }
        let nels = s.chars().filter(|&c| c == '\u{85}').count();
        self.lines += nels;
        // A key spanning lines, or longer than 1024 characters as JSON
        // wrote it (quotes and escapes counted), is no simple key to
        // go-yaml: its flow mapping breaks at the ':'.
        if key && self.error.is_none() && (nels > 0 || json_length(s) > 1024) {
            self.error = Some(if self.lines > 0 {
                format!("yaml: line {}: did not find expected ',' or '}}'", self.lines)
            } else {
                "yaml: did not find expected ',' or '}'".to_string()
            });
        }
        GoVal::Str(json_string_through_yaml(s))
    }
}

/// How many characters encoding/json writes for `s`, quotes included.
fn json_length(s: &str) -> usize {
    2 + s
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\x08' | '\x0c' => 2,
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => 6,
            c if (c as u32) < 0x20 => 6,
            _ => 1,
        })
        .sum::<usize>()
}

fn to_go(v: &Value, depth: usize, control: &mut Reread) -> Result<GoVal, JsonError> {
    if depth > json::MAX_DEPTH {
        return Err(JsonError(format!("json: nesting deeper than {} levels", json::MAX_DEPTH)));
    }
    Ok(match v {
        Value::Nil => GoVal::Null,
        Value::Bool(b) => GoVal::Bool(*b),
        Value::Int(i, t) => {
            if t.unsigned() && *i < 0 {
                GoVal::Uint(*i as u64)
            } else {
                GoVal::Int(*i)
            }
        }
        Value::Float(f) => number(&json::format_float_json(*f)?),
        Value::String(s) => control.string(s, false),
        Value::Bytes(b) => GoVal::Str(json::base64_encode(b)),
        Value::List(l) => GoVal::Seq(l.items().iter().map(|i| to_go(i, depth + 1, control)).collect::<Result<_, _>>()?),
        Value::Map(m) => GoVal::Map(
            m.entries()
                .iter()
                .map(|(k, v)| Ok((control.string(k, true), to_go(v, depth + 1, control)?)))
                .collect::<Result<_, JsonError>>()?,
        ),
        Value::Time(t) => GoVal::Str(json::marshal_time(t)?),
        Value::Object(o) => to_go(&o.marshal(), depth + 1, control)?,
    })
}

/// The value as go-yaml v3's encoder sees it (Helm's `toYamlPretty`
/// encodes the Go value directly, without JSON): floats stay floats,
/// `time.Time` is written plain in RFC 3339.
pub(crate) fn value_to_go_direct(v: &Value, depth: usize) -> Result<GoVal, JsonError> {
    if depth > json::MAX_DEPTH {
        return Err(JsonError(format!("yaml: nesting deeper than {} levels", json::MAX_DEPTH)));
    }
    Ok(match v {
        Value::Nil => GoVal::Null,
        Value::Bool(b) => GoVal::Bool(*b),
        Value::Int(i, t) => {
            if t.unsigned() && *i < 0 {
                GoVal::Uint(*i as u64)
            } else {
                GoVal::Int(*i)
            }
        }
        Value::Float(f) => GoVal::Float(*f),
        Value::String(s) => GoVal::Str(s.to_string()),
        // go-yaml v3 writes a []byte as a sequence of its numbers.
        Value::Bytes(b) => GoVal::Seq(b.iter().map(|&x| GoVal::Int(i64::from(x))).collect()),
        Value::List(l) => GoVal::Seq(l.items().iter().map(|i| value_to_go_direct(i, depth + 1)).collect::<Result<_, _>>()?),
        Value::Map(m) => GoVal::Map(
            m.entries().iter().map(|(k, v)| Ok((GoVal::Str(k.clone()), value_to_go_direct(v, depth + 1)?))).collect::<Result<_, JsonError>>()?,
        ),
        Value::Time(t) => GoVal::Raw(json::rfc3339_nano(t)),
        Value::Object(o) => value_to_go_direct(&o.marshal(), depth + 1)?,
    })
}

/// A JSON number's text as go-yaml resolves it.
fn number(text: &str) -> GoVal {
    match resolve_plain(text) {
        Resolved::Int(i) => GoVal::Int(i),
        Resolved::Uint(u) => GoVal::Uint(u),
        Resolved::Float(f) => GoVal::Float(f),
        _ => GoVal::Str(text.to_string()),
    }
}

/// A string as go-yaml reads it back from its JSON encoding: JSON escapes
/// every line break YAML knows except U+0085 (NEL), which go-yaml folds,
/// inside a double-quoted scalar, to a space (dropping the blanks around it).
fn json_string_through_yaml(s: &str) -> String {
    if !s.contains('\u{85}') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{85}' {
            while out.ends_with(' ') {
                out.pop();
            }
            // A run of breaks: the first folds to a space unless more follow,
            // then each further one is kept as a newline.
            let mut breaks = 1;
            loop {
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
                if chars.peek() == Some(&'\u{85}') {
                    chars.next();
                    breaks += 1;
                } else {
                    break;
                }
            }
            if breaks == 1 {
                out.push(' ');
            } else {
                for _ in 1..breaks {
                    out.push('\n');
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// go-yaml's `keyList.Less` for string keys: a "natural" order where
/// runs of digits compare as numbers and non-letters sort before letters
/// (in v3, letters sort first right after a digit both keys share).
fn key_less(a: &str, b: &str, v3: bool) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    let mut digits = false;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            digits = ar[i].is_ascii_digit();
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return if v3 && digits { al } else { bl };
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 {
                j -= 1;
                if !ar[j].is_ascii_digit() {
                    break;
                }
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

fn key_order(a: &GoVal, b: &GoVal, v3: bool) -> Ordering {
    match (a, b) {
        (GoVal::Str(a), GoVal::Str(b)) => {
            if key_less(a, b, v3) {
                Ordering::Less
            } else if key_less(b, a, v3) {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        _ => Ordering::Equal,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// libyaml's `yaml_emitter_analyze_scalar` results.
#[derive(Default)]
struct Analysis {
    multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `is_printable` (on the UTF-8 bytes; 4-byte characters are not).
fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0a
        || (0x20..=0x7e).contains(&u)
        || (0xa0..=0xd7ff).contains(&u)
        || ((0xe000..=0xfffd).contains(&u) && u != 0xfeff)
}

/// libyaml's analysis; `v3` is go-yaml v3's, where a tab forbids plain and
/// single-quoted styles but not a literal block.
fn analyze(value: &str, v3: bool) -> Analysis {
    let mut a = Analysis::default();
    if value.is_empty() {
        a.block_plain_allowed = true;
        a.single_quoted_allowed = true;
        return a;
    }
    let (mut block_ind, mut flow_ind, mut line_breaks, mut special) = (false, false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut tabs = false;
    if value.starts_with("---") || value.starts_with("...") {
        block_ind = true;
        flow_ind = true;
    }
    // One character of lookahead, without collecting the scalar's chars
    // (an allocation per scalar emitted).
    let mut chars = value.chars().enumerate().peekable();
    let mut preceded_by_ws = true;
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let followed_by_ws = next.is_none_or(|n| n == ' ' || n == '\t' || is_break(n));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' => {
                    flow_ind = true;
                    block_ind = true;
                }
                '?' | ':' => {
                    flow_ind = true;
                    if followed_by_ws {
                        block_ind = true;
                    }
                }
                '-' if followed_by_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_ind = true,
                ':' => {
                    flow_ind = true;
                    if followed_by_ws {
                        block_ind = true;
                    }
                }
                '#' if preceded_by_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        }
        if v3 && c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        let last = next.is_none();
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = c == ' ' || c == '\t' || is_break(c);
    }
    a.multiline = line_breaks;
    a.flow_plain_allowed = true;
    a.block_plain_allowed = true;
    a.single_quoted_allowed = true;
    a.block_allowed = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if tabs {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if flow_ind {
        a.flow_plain_allowed = false;
    }
    if block_ind {
        a.block_plain_allowed = false;
    }
    a
}

/// The text and requested style go-yaml v2's encoder gives a scalar.
fn scalar_text(v: &GoVal) -> (String, Style) {
    match v {
        GoVal::Null => ("null".into(), Style::Plain),
        GoVal::Bool(b) => (b.to_string(), Style::Plain),
        GoVal::Int(i) => (i.to_string(), Style::Plain),
        GoVal::Uint(u) => (u.to_string(), Style::Plain),
        GoVal::Float(f) => {
            let s = match format_float_g(*f, 64).as_str() {
                "+Inf" => ".inf".to_string(),
                "-Inf" => "-.inf".to_string(),
                "NaN" => ".nan".to_string(),
                s => s.to_string(),
            };
            (s, Style::Plain)
        }
        GoVal::Str(s) => {
            let style = if s.contains('\n') {
                Style::Literal
            } else if resolve_plain(s) == Resolved::Str && !is_base60_float(s) {
                Style::Plain
            } else {
                Style::Double
            };
            (s.clone(), style)
        }
        GoVal::Raw(s) => (s.clone(), Style::Plain),
        GoVal::Seq(_) | GoVal::Map(_) => (String::new(), Style::Plain),
    }
}

/// go-yaml v2's emitter state for one document.
struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    open_ended: bool,
    indent: i32,
    indents: Vec<i32>,
    flow_level: usize,
    root_context: bool,
    mapping_context: bool,
    simple_key_context: bool,
    /// go-yaml v3 with `SetIndent(2)` (`toYamlPretty`): sequences indented
    /// under their key, no folding of long lines.
    v3: bool,
    best_width: usize,
}

impl Emitter {
    fn new() -> Emitter {
        Emitter {
            out: String::new(),
            column: 0,
            whitespace: true,
            indention: true,
            open_ended: false,
            indent: -1,
            indents: Vec::new(),
            flow_level: 0,
            root_context: false,
            mapping_context: false,
            simple_key_context: false,
            v3: false,
            best_width: BEST_WIDTH,
        }
    }

    fn check_size(&self) -> Result<(), JsonError> {
        if self.out.len() > MAX_OUTPUT {
            return Err(JsonError(format!("yaml: output larger than {} MiB", MAX_OUTPUT >> 20)));
        }
        Ok(())
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        for c in ind.chars() {
            self.write(c);
        }
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
        self.open_ended = false;
    }

    fn emit_node(&mut self, v: &GoVal, root: bool, mapping: bool, simple_key: bool, depth: usize) -> Result<(), JsonError> {
        if depth > json::MAX_DEPTH {
            return Err(JsonError(format!("yaml: nesting deeper than {} levels", json::MAX_DEPTH)));
        }
        self.check_size()?;
        self.root_context = root;
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        match v {
            GoVal::Seq(items) if items.is_empty() || self.flow_level > 0 => self.emit_flow_empty("[", "]"),
            GoVal::Map(pairs) if pairs.is_empty() || self.flow_level > 0 => self.emit_flow_empty("{", "}"),
            GoVal::Seq(items) => {
                self.increase_indent(false, !self.v3 && self.mapping_context && !self.indention);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.emit_node(item, false, false, false, depth + 1)?;
                }
                self.pop_indent();
                Ok(())
            }
            GoVal::Map(pairs) => {
                let mut sorted: Vec<&(GoVal, GoVal)> = pairs.iter().collect();
                let v3 = self.v3;
                sorted.sort_by(|a, b| key_order(&a.0, &b.0, v3));
                self.increase_indent(false, false);
                for (k, v) in sorted {
                    self.write_indent();
                    let (text, _) = scalar_text(k);
                    let simple = matches!(k, GoVal::Seq(_) | GoVal::Map(_)) || (!analyze(&text, self.v3).multiline && text.len() <= 128);
                    if simple {
                        self.emit_node(k, false, true, true, depth + 1)?;
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.emit_node(k, false, true, false, depth + 1)?;
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.emit_node(v, false, true, false, depth + 1)?;
                }
                self.pop_indent();
                Ok(())
            }
            scalar => {
                let (text, style) = scalar_text(scalar);
                self.emit_scalar(&text, style);
                Ok(())
            }
        }
    }

    fn emit_flow_empty(&mut self, open: &str, close: &str) -> Result<(), JsonError> {
        self.write_indicator(open, true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        self.flow_level -= 1;
        self.pop_indent();
        self.write_indicator(close, false, false, false);
        Ok(())
    }

    fn select_style(&self, text: &str, requested: Style, a: &Analysis) -> Style {
        let mut style = requested;
        if self.simple_key_context && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            if (self.flow_level > 0 && !a.flow_plain_allowed) || (self.flow_level == 0 && !a.block_plain_allowed) {
                style = Style::Single;
            }
            if text.is_empty() && (self.flow_level > 0 || self.simple_key_context) {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || self.flow_level > 0 || self.simple_key_context) {
            style = Style::Double;
        }
        style
    }

    fn emit_scalar(&mut self, text: &str, requested: Style) {
        let a = analyze(text, self.v3);
        let style = self.select_style(text, requested, &a);
        self.increase_indent(true, false);
        let allow_breaks = !self.simple_key_context;
        match style {
            Style::Plain => self.write_plain(text, allow_breaks),
            Style::Single => self.write_single(text, allow_breaks),
            Style::Double => self.write_double(text, allow_breaks),
            Style::Literal => self.write_literal(text),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, value: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = value.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == ' ' {
                if allow_breaks && !spaces && self.column > self.best_width && chars.get(i + 1) != Some(&' ') {
                    self.write_indent();
                } else {
                    self.write(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.write(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
            i += 1;
        }
        self.whitespace = false;
        self.indention = false;
        if self.root_context {
            self.open_ended = true;
        }
    }

    fn write_single(&mut self, value: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = value.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks && !spaces && self.column > self.best_width && i > 0 && i + 1 < chars.len() && chars[i + 1] != ' ' {
                    self.write_indent();
                } else {
                    self.write(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.write(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double(&mut self, value: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = value.chars().collect();
        let mut spaces = false;
        // go-yaml's `is_bom(value, i)` looks at the value's first bytes, not
        // at i: a value starting with a BOM has every character escaped.
        let bom = value.starts_with('\u{feff}');
        for (i, &c) in chars.iter().enumerate() {
            if bom || !is_printable(c) || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let esc = match c {
                    '\0' => Some('0'),
                    '\x07' => Some('a'),
                    '\x08' => Some('b'),
                    '\t' => Some('t'),
                    '\n' => Some('n'),
                    '\x0b' => Some('v'),
                    '\x0c' => Some('f'),
                    '\r' => Some('r'),
                    '\x1b' => Some('e'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '\u{85}' => Some('N'),
                    '\u{a0}' => Some('_'),
                    '\u{2028}' => Some('L'),
                    '\u{2029}' => Some('P'),
                    _ => None,
                };
                match esc {
                    Some(e) => self.put(e),
                    None => {
                        let u = c as u32;
                        let (ind, width) = if u <= 0xff {
                            ('x', 2)
                        } else if u <= 0xffff {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(ind);
                        for k in (0..width).rev() {
                            let digit = (u >> (k * 4)) & 0xf;
                            self.put(char::from_digit(digit, 16).unwrap_or('0').to_ascii_uppercase());
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                // Byte positions in Go: not the first byte, not the last.
                if allow_breaks && !spaces && self.column > self.best_width && i > 0 && i + 1 < chars.len() {
                    self.write_indent();
                    if chars[i + 1] == ' ' {
                        self.put('\\');
                    }
                } else {
                    self.write(c);
                }
                spaces = true;
            } else {
                self.write(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        // Block scalar hints: an indentation indicator when the text starts
        // with a space or break, and the chomping indicator.
        let first = value.chars().next();
        if first.is_some_and(|c| c == ' ' || is_break(c)) {
            self.write_indicator(&BEST_INDENT.to_string(), false, false, false);
        }
        self.open_ended = false;
        let mut rev = value.chars().rev();
        let chomp = match rev.next() {
            None => Some("-"),
            Some(last) if !is_break(last) => Some("-"),
            Some(_) => match rev.next() {
                None => {
                    self.open_ended = true;
                    Some("+")
                }
                Some(prev) if is_break(prev) => {
                    self.open_ended = true;
                    Some("+")
                }
                Some(_) => None,
            },
        };
        if let Some(ch) = chomp {
            self.write_indicator(ch, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in value.chars() {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.write(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// go-yaml v2's `Marshal` of a decoded value: one implicit document.
pub(crate) fn emit_document(v: &GoVal) -> Result<String, JsonError> {
    let mut e = Emitter::new();
    e.emit_node(v, true, false, false, 0)?;
    // Document end: an indent (the final line break). go-yaml v2 writes no
    // `...` after an open-ended scalar at the stream's end.
    e.write_indent();
    Ok(e.out)
}

/// go-yaml v3's `Encoder` with `SetIndent(2)`, as Helm's `toYamlPretty`.
pub fn marshal_pretty(v: &Value) -> Result<String, JsonError> {
    super::deep::run(super::deep::value_depth(v), super::deep::MAX_DEPTH, || marshal_pretty_inline(v)).map_err(|e| JsonError(format!("yaml: {e}")))?
}

fn marshal_pretty_inline(v: &Value) -> Result<String, JsonError> {
    let go = value_to_go_direct(v, 0)?;
    let mut e = Emitter::new();
    e.v3 = true;
    e.best_width = usize::MAX;
    e.emit_node(&go, true, false, false, 0)?;
    e.write_indent();
    Ok(e.out)
}

/// sigs.k8s.io/yaml's `Marshal`: JSON, then YAML. The text ends with a
/// line break, as Go's does (Helm's `toYaml` trims it).
pub fn marshal(v: &Value) -> Result<String, JsonError> {
    super::deep::run(super::deep::value_depth(v), super::deep::MAX_DEPTH, || {
        let go = value_to_go(v, 0)?;
        emit_document(&go)
    })
    .map_err(|e| JsonError(format!("error marshaling into JSON: json: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_key_order() {
        let mut keys = vec!["a10", "a9", "b", "A", "_x", "1", "a01", "a1", "é"];
        keys.sort_by(|a, b| key_order(&GoVal::Str(a.to_string()), &GoVal::Str(b.to_string()), false));
        assert_eq!(keys, vec!["_x", "1", "A", "a1", "a01", "a9", "a10", "b", "é"]);
    }
}
