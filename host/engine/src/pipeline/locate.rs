//! Where each field of a YAML document is: a map from field paths
//! (`stages[2].with.duration`) to the line and column of the key and the
//! value. serde gives us the path of an error; this gives us its place.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of(m: Marker) -> Pos {
        Pos { line: m.line(), column: m.col() + 1 }
    }
}

/// Positions of every key and value in a document.
#[derive(Debug, Default)]
pub struct Locator {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl Locator {
    /// Build from YAML text; a document that does not parse yields an empty
    /// locator (the parse error itself carries a position).
    pub fn new(text: &str) -> Locator {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut builder, false).is_err() {
            return Locator::default();
        }
        Locator { values: builder.values, keys: builder.keys }
    }

    /// Where the value of `path` is; falls back to the nearest ancestor.
    pub fn value(&self, path: &str) -> Pos {
        self.find(path, &self.values)
    }

    /// Where the key of `path` is (for "unknown field" and "missing"
    /// errors); falls back to the value, then to ancestors.
    pub fn key(&self, path: &str) -> Pos {
        self.keys.get(path).copied().unwrap_or_else(|| self.value(path))
    }

    fn find(&self, path: &str, map: &HashMap<String, Pos>) -> Pos {
        let mut p = path.to_string();
        loop {
            if let Some(pos) = map.get(&p) {
                return *pos;
            }
            match parent(&p) {
                Some(up) => p = up,
                None => return map.get("").copied().unwrap_or_default(),
            }
        }
    }
}

fn parent(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(path[..cut].to_string())
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

enum Frame {
    Map { path: String, pending_key: Option<String> },
    Seq { path: String, index: usize },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl Builder {
    /// The path of the node that starts now, or None when it is a map key.
    fn next_path(&mut self, key_text: Option<&str>, mark: Marker) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, index }) => {
                let p = format!("{path}[{index}]");
                *index += 1;
                Some(p)
            }
            Some(Frame::Map { path, pending_key }) => match pending_key.take() {
                Some(key) => Some(join(path, &key)),
                None => {
                    // This node is a key.
                    let key = key_text.unwrap_or("?").to_string();
                    let full = join(path, &key);
                    self.keys.insert(full, Pos::of(mark));
                    *pending_key = Some(key);
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, ..) => {
                if let Some(path) = self.next_path(Some(&text), mark) {
                    self.values.insert(path, Pos::of(mark));
                }
            }
            Event::Alias(_) => {
                if let Some(path) = self.next_path(Some("*alias"), mark) {
                    self.values.insert(path, Pos::of(mark));
                }
            }
            Event::MappingStart(..) => {
                let path = self.next_path(None, mark).unwrap_or_default();
                self.values.insert(path.clone(), Pos::of(mark));
                self.stack.push(Frame::Map { path, pending_key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.next_path(None, mark).unwrap_or_default();
                self.values.insert(path.clone(), Pos::of(mark));
                self.stack.push(Frame::Seq { path, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name: app\nstages:\n  - name: build\n    uses: builtin:echo\n  - { name: wait, uses: builtin:pause, with: { duration: 5s } }\n";

    #[test]
    fn finds_keys_and_values_in_block_and_flow_style() {
        let l = Locator::new(DOC);
        assert_eq!(l.value("name"), Pos { line: 1, column: 7 });
        assert_eq!(l.key("stages[0].uses"), Pos { line: 4, column: 5 });
        assert_eq!(l.value("stages[0].uses"), Pos { line: 4, column: 11 });
        assert_eq!(l.value("stages[1].with.duration").line, 5);
    }

    #[test]
    fn unknown_paths_fall_back_to_the_nearest_ancestor() {
        let l = Locator::new(DOC);
        assert_eq!(l.value("stages[0].grants"), l.value("stages[0]"));
        assert_eq!(l.value("stages[0]").line, 3);
    }
}
