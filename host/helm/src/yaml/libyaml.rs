//! A safe event stream over libyaml's parser (the `unsafe-libyaml`
//! translation of libyaml 0.2.5). go-yaml v2 is a Go port of libyaml, so
//! its scanner and parser accept the same text and fail with the same
//! problems at the same marks; using libyaml itself keeps Helm's error
//! messages (`mapping values are not allowed in this context`, `could not
//! find expected ':'`) and line numbers. All `unsafe` of the YAML module
//! lives here. This file must not decide what scalars mean.

use std::ffi::CStr;
use std::mem::MaybeUninit;


/// One parser event, owned.
#[derive(Debug)]
pub(crate) enum Event {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias(String),
    Scalar {
        value: String,
        anchor: Option<String>,
        tag: Option<String>,
        /// libyaml's `plain_implicit`: a plain scalar with no tag.
        plain_implicit: bool,
    },
    SequenceStart {
        anchor: Option<String>,
    },
    SequenceEnd,
    MappingStart {
        anchor: Option<String>,
    },
    MappingEnd,
}

/// Where an event starts: 0-based line and column, as libyaml counts.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Mark {
    pub line: usize,
    pub column: usize,
}

/// A libyaml failure: which stage, the problem and the marks go-yaml reads.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub scanner: bool,
    /// A reader error (a character YAML forbids): libyaml gives it no mark.
    pub reader: bool,
    pub problem: String,
    pub problem_mark: Mark,
    pub context_mark: Mark,
}

impl ParseError {
    /// go-yaml's wording (`yaml.v2`'s `parser.fail`): the line shown is
    /// the problem mark's (1-based for scanner errors, the raw 0-based
    /// value for parser errors), else the context mark's, else none.
    pub fn message(&self) -> (String, Option<usize>) {
        let line = if self.problem_mark.line != 0 {
            if self.scanner {
                self.problem_mark.line + 1
            } else {
                self.problem_mark.line
            }
        } else {
            self.context_mark.line
        };
        if line != 0 {
            (format!("yaml: line {line}: {}", self.problem), Some(line))
        } else {
            (format!("yaml: {}", self.problem), None)
        }
    }
}

/// The parser and the text it reads (kept alive, and unmoved, with it).
pub(crate) struct Parser {
    parser: Box<MaybeUninit<unsafe_libyaml::yaml_parser_t>>,
    _input: Box<[u8]>,
    failed: bool,
    /// An error go-yaml's older scanner finds where libyaml 0.2.5 does not.
    late: Option<ParseError>,
}

impl Parser {
    pub fn new(text: &str) -> Parser {
        let input: Box<[u8]> = text.as_bytes().into();
        let mut parser = Box::new(MaybeUninit::<unsafe_libyaml::yaml_parser_t>::zeroed());
        // SAFETY: `parser` is a zeroed, heap-allocated parser that never
        // moves; `input` is heap-allocated and lives (unmoved) as long as
        // the parser, which reads it through the pointer given here.
        unsafe {
            let p = parser.as_mut_ptr();
            // Initialization only fails on allocation failure, which aborts in Rust.
            let _ = unsafe_libyaml::yaml_parser_initialize(p);
            // The encoding is left for libyaml to detect, so that it eats a
            // leading BOM as go-yaml does (a preset encoding keeps the BOM
            // as a character, shifting the first line's columns).
            unsafe_libyaml::yaml_parser_set_input_string(p, input.as_ptr(), input.len() as u64);
        }
        Parser { parser, _input: input, failed: false, late: None }
    }

    fn error(&self) -> ParseError {
        if let Some(e) = &self.late {
            return ParseError { scanner: e.scanner, reader: false, problem: e.problem.clone(), problem_mark: e.problem_mark, context_mark: e.context_mark };
        }
        // SAFETY: the parser was initialized in `new`; libyaml sets
        // `problem` to a static C string (or leaves it null).
        unsafe {
            let p = &*self.parser.as_ptr();
            let problem = if p.problem.is_null() {
                "unknown problem parsing YAML content".to_string()
            } else {
                CStr::from_ptr(p.problem).to_string_lossy().into_owned()
            };
            ParseError {
                scanner: p.error == unsafe_libyaml::YAML_SCANNER_ERROR,
                reader: p.error == unsafe_libyaml::YAML_READER_ERROR,
                problem,
                problem_mark: Mark { line: p.problem_mark.line as usize, column: p.problem_mark.column as usize },
                context_mark: Mark { line: p.context_mark.line as usize, column: p.context_mark.column as usize },
            }
        }
    }

    /// The next event and where it starts.
    pub fn next(&mut self) -> Result<(Event, Mark), ParseError> {
        if self.failed {
            return Err(self.error());
        }
        let mut event = MaybeUninit::<unsafe_libyaml::yaml_event_t>::zeroed();
        // SAFETY: the parser is initialized; on success libyaml fills
        // `event`, whose pointers (value, anchor, tag) stay valid until
        // `yaml_event_delete`, after everything is copied out.
        unsafe {
            let p = self.parser.as_mut_ptr();
            let ev = event.as_mut_ptr();
            if unsafe_libyaml::yaml_parser_parse(p, ev).fail {
                self.failed = true;
                return Err(self.error());
            }
            let e = &*ev;
            let mark = Mark { line: e.start_mark.line as usize, column: e.start_mark.column as usize };
            let out = match e.type_ {
                unsafe_libyaml::YAML_STREAM_START_EVENT => Event::StreamStart,
                unsafe_libyaml::YAML_STREAM_END_EVENT => Event::StreamEnd,
                unsafe_libyaml::YAML_DOCUMENT_START_EVENT => Event::DocumentStart,
                unsafe_libyaml::YAML_DOCUMENT_END_EVENT => Event::DocumentEnd,
                unsafe_libyaml::YAML_ALIAS_EVENT => Event::Alias(cstr(e.data.alias.anchor).unwrap_or_default()),
                unsafe_libyaml::YAML_SCALAR_EVENT => {
                    let s = e.data.scalar;
                    if s.style == unsafe_libyaml::YAML_DOUBLE_QUOTED_SCALAR_STYLE {
                        // Marks count from after a leading BOM.
                        let bom = if self._input.starts_with(&[0xef, 0xbb, 0xbf]) { 3 } else { 0 };
                        let (start, end) = (e.start_mark.index as usize + bom, e.end_mark.index as usize + bom);
                        if let Some(at) = slash_escape(self._input.get(start..end).unwrap_or(&[]), mark) {
                            unsafe_libyaml::yaml_event_delete(ev);
                            self.failed = true;
                            self.late = Some(ParseError {
                                scanner: true,
                                reader: false,
                                problem: "found unknown escape character".into(),
                                problem_mark: at,
                                context_mark: mark,
                            });
                            return Err(self.error());
                        }
                    }
                    let bytes = if s.value.is_null() { &[][..] } else { std::slice::from_raw_parts(s.value, s.length as usize) };
                    Event::Scalar {
                        value: String::from_utf8_lossy(bytes).into_owned(),
                        anchor: cstr(s.anchor),
                        tag: cstr(s.tag),
                        plain_implicit: s.plain_implicit,
                    }
                }
                unsafe_libyaml::YAML_SEQUENCE_START_EVENT => Event::SequenceStart { anchor: cstr(e.data.sequence_start.anchor) },
                unsafe_libyaml::YAML_SEQUENCE_END_EVENT => Event::SequenceEnd,
                unsafe_libyaml::YAML_MAPPING_START_EVENT => Event::MappingStart { anchor: cstr(e.data.mapping_start.anchor) },
                unsafe_libyaml::YAML_MAPPING_END_EVENT => Event::MappingEnd,
                // YAML_NO_EVENT: libyaml gives it only after the stream's end.
                _ => Event::StreamEnd,
            };
            unsafe_libyaml::yaml_event_delete(ev);
            Ok((out, mark))
        }
    }
}

/// Where a double-quoted scalar's source (`raw`, starting at `start`)
/// uses the `\/` escape, which libyaml 0.2.5 knows and go-yaml v2 does not.
fn slash_escape(raw: &[u8], start: Mark) -> Option<Mark> {
    let mut at = start;
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\\' => {
                if raw.get(i + 1) == Some(&b'/') {
                    return Some(at);
                }
                // Skip the escaped character (a line break counts as one).
                i += 1;
                at.column += 1;
                if raw.get(i) == Some(&b'\n') {
                    at.line += 1;
                    at.column = 0;
                    i += 1;
                    continue;
                }
            }
            b'\n' => {
                at.line += 1;
                at.column = 0;
                i += 1;
                continue;
            }
            _ => {}
        }
        // Columns count characters: skip UTF-8 continuation bytes.
        if raw.get(i).is_some_and(|b| b & 0xc0 != 0x80) {
            at.column += 1;
        }
        i += 1;
    }
    None
}

/// A libyaml NUL-terminated string, or None for a null pointer.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string.
unsafe fn cstr(p: *const u8) -> Option<String> {
    if p.is_null() {
        None
    } else {
        // SAFETY: per the contract above.
        Some(unsafe { CStr::from_ptr(p.cast()) }.to_string_lossy().into_owned())
    }
}

impl Drop for Parser {
    fn drop(&mut self) {
        // SAFETY: initialized in `new`, deleted once.
        unsafe { unsafe_libyaml::yaml_parser_delete(self.parser.as_mut_ptr()) }
    }
}
