//! The values Go templates see. Helm hands its templates Go values of a few
//! dynamic types — `map[string]interface{}` and `[]interface{}` from YAML and
//! JSON (whose numbers are `float64`: Helm reads values through JSON), `int`
//! and `int64` from Sprig's arithmetic, `[]string` from `splitList` or
//! `keys`, `[]byte` from `.Files.GetBytes`, `time.Time` from `now`, and
//! structs with fields and methods (`.Chart`, `.Files`, `.Capabilities`).
//! [`Value`] keeps each one's Go type, because what Go prints (`%T`, `%v`,
//! `%d` of a float64), compares (`eq 1 1.0` is an error) and Sprig decides
//! (`kindIs "float64"`) depends on it. This file holds the model and the
//! questions every part asks of it (Go type name, truth, emptiness); how
//! values print is `template::fmt`'s, how they marshal is `yaml`'s.
//!
//! Two of Go's types are not Rust's: a Go `string` holds any bytes, not
//! only UTF-8 ([`Str`] keeps them losslessly), and a Go map is a reference
//! that every holder shares and `set`, `unset` and mergo's merges change in
//! place ([`Map`] is a shared, locked cell). Neither may hold a lock while
//! template code or a function runs.
//!
//! Slices ([`List`]) are shared too: the only Sprig function that changes
//! one in place is `sortAlpha` of a `[]string`, whose argument ends sorted.
//!
//! Known differences from Go: a sub-slice (`slice`, `rest`, `initial`) is a
//! copy, not a view of its parent's array; map keys are text, so a key made of bytes that are not UTF-8 gets U+FFFD
//! (Go keeps the bytes); a map that contains itself is an error where Go
//! dies of a stack overflow.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::func::FuncError;

/// A Go value held in an `interface{}`.
#[derive(Clone, Debug)]
pub enum Value {
    /// A nil interface: a missing map key, a YAML `null`, a function that
    /// returned nothing. A template action prints it as `<no value>`.
    Nil,
    Bool(bool),
    /// A signed or unsigned integer and its Go type.
    Int(i64, IntType),
    /// A `float64`.
    Float(f64),
    /// A `string`: any bytes (see [`Str`]).
    String(Str),
    /// A `[]byte`.
    Bytes(Arc<[u8]>),
    /// A slice: `[]interface{}`, or `[]string` and the like (`elem` says which).
    List(List),
    /// A map with string keys: `map[string]interface{}`, or `map[string]string`
    /// (`elem`). Keys are kept sorted, the order Go's templates range over
    /// them, `fmt` prints them and encoders write them.
    Map(Map),
    /// A `time.Time`.
    Time(Time),
    /// A struct (or a pointer to one, or a named map with methods): its fields
    /// and methods are the object's.
    Object(Arc<dyn Object>),
}

/// Go's integer types that Helm's templates meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntType {
    Int,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
}

impl IntType {
    pub fn name(self) -> &'static str {
        match self {
            IntType::Int => "int",
            IntType::Int8 => "int8",
            IntType::Int16 => "int16",
            IntType::Int32 => "int32",
            IntType::Int64 => "int64",
            IntType::Uint => "uint",
            IntType::Uint8 => "uint8",
            IntType::Uint16 => "uint16",
            IntType::Uint32 => "uint32",
            IntType::Uint64 => "uint64",
        }
    }

    pub fn unsigned(self) -> bool {
        matches!(self, IntType::Uint | IntType::Uint8 | IntType::Uint16 | IntType::Uint32 | IntType::Uint64)
    }
}

/// A Go slice: shared items and its element type as Go names it.
///
/// Like a Go slice, a `List` refers to its items: cloning it clones the
/// reference, and a change in place ([`sort_in_place`](List::sort_in_place):
/// Sprig's `sortAlpha` of a `[]string`) is seen by every holder. Reads take
/// a snapshot ([`items`](List::items)), so no lock is held outside these
/// methods. (Go's sub-slices share their parent's array; here `slice` and
/// the like copy — a known difference, seen only through `sortAlpha`.)
#[derive(Clone)]
pub struct List {
    cell: Arc<Mutex<Arc<Vec<Value>>>>,
    /// `interface {}` for `[]interface{}`, `string` for `[]string`, …
    pub elem: &'static str,
}

impl List {
    /// A new slice (a new array) with these items.
    pub fn new(items: Vec<Value>, elem: &'static str) -> List {
        List { cell: Arc::new(Mutex::new(Arc::new(items))), elem }
    }

    fn lock(&self) -> MutexGuard<'_, Arc<Vec<Value>>> {
        // Every change is one call on the Vec: poison leaves it whole.
        self.cell.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The items as they are now.
    pub fn items(&self) -> Arc<Vec<Value>> {
        self.lock().clone()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The item at `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<Value> {
        self.lock().get(i).cloned()
    }

    /// Sorts the items in place, as Go's `sort.Sort` on the slice does:
    /// every holder sees the new order. `cmp` must not run template code.
    pub fn sort_in_place(&self, cmp: impl FnMut(&Value, &Value) -> std::cmp::Ordering) {
        let mut g = self.lock();
        Arc::make_mut(&mut g).sort_by(cmp);
    }

    /// Whether both are the same slice (not merely equal).
    pub fn same(&self, other: &List) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let depth = DEBUG_DEPTH.with(|d| d.get());
        if depth >= DEBUG_DEPTH_MAX {
            return write!(f, "List(…)");
        }
        DEBUG_DEPTH.with(|d| d.set(depth + 1));
        let r = f.debug_struct("List").field("items", &*self.items()).field("elem", &self.elem).finish();
        DEBUG_DEPTH.with(|d| d.set(depth));
        r
    }
}

/// How deep maps and lists may nest when a value is walked whole (printed,
/// encoded, copied, compared, measured). Go maps are references, so a map
/// can hold itself (`set $m "self" $m`); Go then recurses until its stack
/// overflows and the process dies. Here a walk deeper than this stops with
/// an error (or, in `fmt`, which has none, a marker) instead. YAML and
/// JSON input nest far less (their loaders bound depth), so only a cycle or
/// a pathological template reaches it.
pub const MAX_WALK_DEPTH: usize = 10_000;

/// A Go map with string keys: shared entries and its value type as Go names it.
///
/// Cloning a `Map` clones the reference, as assigning a Go map does: both
/// see every later [`insert`](Map::insert) and [`remove`](Map::remove).
/// Reads take a snapshot ([`entries`](Map::entries): an `Arc` of the entries
/// at that moment, cheap; a later change copies them first), so no lock is
/// ever held outside these methods — a template that changes a map while it
/// ranges over it, or a map that contains itself, cannot deadlock.
/// A map that holds itself is a reference cycle and is never freed (Go's
/// collector would); only a template that builds one leaks it.
#[derive(Clone)]
pub struct Map {
    cell: Arc<Mutex<Arc<BTreeMap<String, Value>>>>,
    /// `interface {}` for `map[string]interface{}`, `string` for `map[string]string`, …
    pub elem: &'static str,
}

impl Map {
    /// A new map (a new identity) with these entries.
    pub fn new(entries: BTreeMap<String, Value>, elem: &'static str) -> Map {
        Map { cell: Arc::new(Mutex::new(Arc::new(entries))), elem }
    }

    fn lock(&self) -> MutexGuard<'_, Arc<BTreeMap<String, Value>>> {
        // A panic while the lock was held cannot leave the entries half
        // changed (every change is one BTreeMap call), so poison is ignored.
        self.cell.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entries as they are now, in key order. Later changes to the map
    /// do not change this snapshot.
    pub fn entries(&self) -> Arc<BTreeMap<String, Value>> {
        self.lock().clone()
    }

    /// The value at `key`, if the map has it.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.lock().get(key).cloned()
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.lock().contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Go's `m[key] = v`: every reference to the map sees it.
    pub fn insert(&self, key: String, v: Value) -> Option<Value> {
        let mut g = self.lock();
        Arc::make_mut(&mut g).insert(key, v)
        // (The old value drops here, under the lock; dropping a value never
        // locks a map, so this cannot deadlock even when it held this map.)
    }

    /// Go's `delete(m, key)`: every reference to the map sees it.
    pub fn remove(&self, key: &str) -> Option<Value> {
        let mut g = self.lock();
        if !g.contains_key(key) {
            return None;
        }
        Arc::make_mut(&mut g).remove(key)
    }

    /// The entries to change as a *value*: when another reference shares
    /// this map, this one first becomes a copy of its own (a new identity),
    /// so the change is seen through `self` only. For code that builds
    /// values (loading, coalescing, scoping), not for Go's in-place changes.
    pub fn make_mut(&mut self) -> &mut BTreeMap<String, Value> {
        if Arc::get_mut(&mut self.cell).is_none() {
            let snapshot = self.entries();
            self.cell = Arc::new(Mutex::new(snapshot));
        }
        // Just made unique, and a `&mut self` keeps it so.
        let inner = Arc::get_mut(&mut self.cell).map(|m| m.get_mut().unwrap_or_else(|p| p.into_inner()));
        match inner {
            Some(inner) => Arc::make_mut(inner),
            None => unreachable!("a map's cell was made unique just above"),
        }
    }

    /// The entries, owned: taken when this is the only reference, else copied.
    pub fn into_entries(self) -> BTreeMap<String, Value> {
        match Arc::try_unwrap(self.cell) {
            Ok(m) => {
                let inner = m.into_inner().unwrap_or_else(|p| p.into_inner());
                Arc::try_unwrap(inner).unwrap_or_else(|a| (*a).clone())
            }
            Err(cell) => (**cell.lock().unwrap_or_else(|p| p.into_inner())).clone(),
        }
    }

    /// Whether both are the same Go map (not merely equal).
    pub fn same(&self, other: &Map) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }

    /// The map's identity, for cycle checks.
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.cell) as *const u8 as usize
    }
}

thread_local! {
    static DEBUG_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Debug output nests at most this deep (a map may contain itself).
const DEBUG_DEPTH_MAX: usize = 64;

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let depth = DEBUG_DEPTH.with(|d| d.get());
        if depth >= DEBUG_DEPTH_MAX {
            return write!(f, "Map(…)");
        }
        DEBUG_DEPTH.with(|d| d.set(depth + 1));
        let r = f.debug_struct("Map").field("entries", &*self.entries()).field("elem", &self.elem).finish();
        DEBUG_DEPTH.with(|d| d.set(depth));
        r
    }
}

/// A Go `string`: a sequence of bytes, usually but not always UTF-8.
///
/// Valid UTF-8 (nearly every string) is an `Arc<str>` and derefs to it at
/// no cost. Other bytes (`b64dec` of random bytes, `substr` cutting a
/// character, `.Files.Get` of a binary file) are kept as they are, with
/// their lossy UTF-8 form (U+FFFD for each invalid sequence) computed once
/// beside them: `Deref` gives that form, for the functions that treat a
/// string as text. Functions Go defines on bytes (`len`, `substr`, `trunc`,
/// `b64enc`, `printf`, `index`, `slice`, comparisons) use [`go_bytes`](Str::go_bytes)
/// and [`go_len`](Str::go_len). Equality and order are the bytes'.
#[derive(Clone)]
pub struct Str(Repr);

#[derive(Clone)]
enum Repr {
    Utf8(Arc<str>),
    Raw(Arc<RawStr>),
}

struct RawStr {
    bytes: Box<[u8]>,
    lossy: Box<str>,
}

impl Str {
    /// A string of these bytes, UTF-8 or not (validated once, here).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Str {
        match String::from_utf8(bytes.into()) {
            Ok(s) => Str(Repr::Utf8(s.into())),
            Err(e) => {
                let bytes = e.into_bytes().into_boxed_slice();
                let lossy = go_lossy(&bytes).into_owned().into_boxed_str();
                Str(Repr::Raw(Arc::new(RawStr { bytes, lossy })))
            }
        }
    }

    /// The bytes, as Go holds them.
    pub fn go_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Utf8(s) => s.as_bytes(),
            Repr::Raw(r) => &r.bytes,
        }
    }

    /// The length in bytes, as Go's `len` counts it.
    pub fn go_len(&self) -> usize {
        self.go_bytes().len()
    }

    /// The text: the string itself when it is UTF-8, else its lossy form.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Utf8(s) => s,
            Repr::Raw(r) => &r.lossy,
        }
    }

    /// Whether the bytes are valid UTF-8 (then the text is exact).
    pub fn is_utf8(&self) -> bool {
        matches!(self.0, Repr::Utf8(_))
    }

    /// Go's `s[from:to]` in bytes; None when out of range.
    pub fn byte_slice(&self, from: usize, to: usize) -> Option<Str> {
        let b = self.go_bytes();
        if from > to || to > b.len() {
            return None;
        }
        if let Repr::Utf8(s) = &self.0 {
            if let Some(sub) = s.get(from..to) {
                return Some(Str::from(sub));
            }
        }
        Some(Str::from_bytes(&b[from..to]))
    }
}

/// Bytes as UTF-8 text the way Go reads them rune by rune (`for range`,
/// `strings.Map`, `encoding/json`): each byte that does not start a valid
/// sequence becomes one U+FFFD. (Rust's `from_utf8_lossy` writes one U+FFFD
/// per maximal invalid run — `E2 82` gives one, Go two.) No copy when the
/// bytes are UTF-8.
pub fn go_lossy(bytes: &[u8]) -> Cow<'_, str> {
    let mut rest = match std::str::from_utf8(bytes) {
        Ok(s) => return Cow::Borrowed(s),
        Err(_) => bytes,
    };
    let mut out = String::with_capacity(bytes.len() + 8);
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return Cow::Owned(out);
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                // `good` was just validated.
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                out.push('\u{FFFD}');
                rest = &bad[1..];
            }
        }
    }
}

/// Bytes as a `String`, Go's way ([`go_lossy`]); no copy when UTF-8.
pub fn go_lossy_string(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => go_lossy(e.as_bytes()).into_owned(),
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        self.go_bytes() == other.go_bytes()
    }
}

impl Eq for Str {}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.go_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.go_bytes() == other.as_bytes()
    }
}

impl PartialOrd for Str {
    fn partial_cmp(&self, other: &Str) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Str {
    fn cmp(&self, other: &Str) -> std::cmp::Ordering {
        self.go_bytes().cmp(other.go_bytes())
    }
}

impl std::hash::Hash for Str {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.go_bytes().hash(h)
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Utf8(s) => fmt::Debug::fmt(&**s, f),
            Repr::Raw(r) => write!(f, "b{:?}", r.lossy),
        }
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str(Repr::Utf8(s.into()))
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        Str(Repr::Utf8(s.into()))
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Str {
        Str(Repr::Utf8(s.as_str().into()))
    }
}

impl From<Arc<str>> for Str {
    fn from(s: Arc<str>) -> Str {
        Str(Repr::Utf8(s))
    }
}

impl From<Box<str>> for Str {
    fn from(s: Box<str>) -> Str {
        Str(Repr::Utf8(s.into()))
    }
}

impl From<Cow<'_, str>> for Str {
    fn from(s: Cow<'_, str>) -> Str {
        Str(Repr::Utf8(s.as_ref().into()))
    }
}

impl From<char> for Str {
    fn from(c: char) -> Str {
        Str(Repr::Utf8(c.to_string().into()))
    }
}

/// A `time.Time`: an instant and the zone it is shown in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Time {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    pub unix_nanos: i128,
    /// The zone's offset east of UTC, in seconds.
    pub offset: i32,
    /// The zone's abbreviation (`UTC`, `CET`, …), as Go prints it.
    pub zone: Arc<str>,
}

/// What a field or method name on an [`Object`] is.
pub enum Member {
    /// A struct field (or a map entry of a named map type).
    Field(Value),
    /// A method, called with the template's arguments.
    Method(MethodFn),
}

/// A method of an [`Object`], called with the template's arguments.
pub type MethodFn = Arc<dyn Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync>;

/// A Go struct, pointer to struct or named type with methods, as templates
/// use it: `.Chart.Name`, `.Files.Get "x"`, `.Capabilities.APIVersions.Has "v1"`.
pub trait Object: Send + Sync + fmt::Debug {
    /// Go's name of the type, as `%T` prints it (`*chart.Metadata`).
    fn type_name(&self) -> String;
    /// The field or method `name`; None when the type has neither.
    fn member(&self, name: &str) -> Option<Member>;
    /// How `fmt`'s `%v` prints it (`{name 0.1.0 …}`, `&{…}` for pointers).
    fn format(&self) -> String;
    /// What an encoder sees (`toYaml`, `toJson`): the struct through its
    /// JSON tags, as a map; Nil for a nil pointer.
    fn marshal(&self) -> Value;
    /// Go's `reflect.Kind` name (`struct`, `ptr`, `map`, `slice`).
    fn kind(&self) -> &'static str {
        "struct"
    }
    /// Truth in `if`/`with`: a struct is always true; a nil pointer or an
    /// empty named map or slice is not.
    fn truthy(&self) -> bool {
        true
    }
    /// For a named map type (`kind() == "map"`, like Helm's `files`): its
    /// entries in key order, which `range`, `index`, `len` and `.key` see
    /// (methods come first, as in Go). None for other kinds.
    fn map_entries(&self) -> Option<Vec<(String, Value)>> {
        None
    }
}

impl Value {
    pub fn str(s: impl Into<Str>) -> Value {
        Value::String(s.into())
    }

    pub fn int(i: i64) -> Value {
        Value::Int(i, IntType::Int)
    }

    pub fn int64(i: i64) -> Value {
        Value::Int(i, IntType::Int64)
    }

    /// A `[]interface{}`.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(List::new(items, "interface {}"))
    }

    /// A `[]string`.
    pub fn strings<S: Into<Str>>(items: impl IntoIterator<Item = S>) -> Value {
        Value::List(List::new(items.into_iter().map(|s| Value::String(s.into())).collect(), "string"))
    }

    /// A `map[string]interface{}`.
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Map::new(entries, "interface {}"))
    }

    pub fn empty_map() -> Value {
        Value::map(BTreeMap::new())
    }

    /// Go's name of the dynamic type, as `%T` and Sprig's `typeOf` print it
    /// (`<nil>` for a nil interface).
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_, t) => t.name().into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::Bytes(_) => "[]uint8".into(),
            Value::List(l) => format!("[]{}", l.elem),
            Value::Map(m) => format!("map[string]{}", m.elem),
            Value::Time(_) => "time.Time".into(),
            Value::Object(o) => o.type_name(),
        }
    }

    /// Go's `reflect.Kind` name, as Sprig's `kindOf` prints it (`invalid` for nil).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_, t) => t.name(),
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) | Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Time(_) => "struct",
            Value::Object(o) => o.kind(),
        }
    }

    /// Truth as `if`, `with`, `and`, `or` and `not` decide it: false for
    /// nil, false, zero numbers, and empty strings, slices and maps.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i, _) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Time(_) => true,
            Value::Object(o) => o.truthy(),
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// A string's text (lossy when its bytes are not UTF-8).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// A snapshot of a map's entries.
    pub fn as_map(&self) -> Option<Arc<BTreeMap<String, Value>>> {
        match self {
            Value::Map(m) => Some(m.entries()),
            _ => None,
        }
    }

    /// A snapshot of a slice's items.
    pub fn as_list(&self) -> Option<Arc<Vec<Value>>> {
        match self {
            Value::List(l) => Some(l.items()),
            _ => None,
        }
    }

    /// `v` with every map in it anew (Sprig's `deepCopy`): changes to the
    /// copy are not seen through `self`. None when maps and lists nest more
    /// than `max_depth` deep (a map that contains itself).
    pub fn deep_copy(&self, max_depth: usize) -> Option<Value> {
        if max_depth == 0 {
            return None;
        }
        Some(match self {
            Value::Map(m) => {
                let entries = m.entries();
                let mut out = BTreeMap::new();
                for (k, x) in entries.iter() {
                    out.insert(k.clone(), x.deep_copy(max_depth - 1)?);
                }
                Value::Map(Map::new(out, m.elem))
            }
            Value::List(l) => {
                let items = l.items().iter().map(|x| x.deep_copy(max_depth - 1)).collect::<Option<Vec<_>>>()?;
                Value::List(List::new(items, l.elem))
            }
            other => other.clone(),
        })
    }

    /// The value at `key` of a map; None for other values and missing keys.
    pub fn get(&self, key: &str) -> Option<Value> {
        match self {
            Value::Map(m) => m.get(key),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s.into())
    }
}

impl From<Str> for Value {
    fn from(s: Str) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

/// From JSON as Go's `encoding/json` decodes into `interface{}`: every
/// number a `float64`, objects `map[string]interface{}`, arrays `[]interface{}`.
impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::str(s.as_str()),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => Value::map(o.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_type_names_and_kinds() {
        assert_eq!(Value::Nil.type_name(), "<nil>");
        assert_eq!(Value::Float(1.0).type_name(), "float64");
        assert_eq!(Value::int64(1).type_name(), "int64");
        assert_eq!(Value::list(vec![]).type_name(), "[]interface {}");
        assert_eq!(Value::strings(["a"]).type_name(), "[]string");
        assert_eq!(Value::empty_map().type_name(), "map[string]interface {}");
        assert_eq!(Value::Bytes(Arc::from(&b"x"[..])).type_name(), "[]uint8");
        assert_eq!((Value::Nil.kind_name(), Value::strings(["a"]).kind_name(), Value::empty_map().kind_name()), ("invalid", "slice", "map"));
    }

    #[test]
    fn truth_is_gos() {
        for v in [Value::Nil, Value::Bool(false), Value::int(0), Value::Float(0.0), Value::str(""), Value::list(vec![]), Value::empty_map()] {
            assert!(!v.truthy(), "{v:?}");
        }
        for v in [Value::Bool(true), Value::int(-1), Value::Float(0.5), Value::str("0"), Value::list(vec![Value::Nil])] {
            assert!(v.truthy(), "{v:?}");
        }
    }

    #[test]
    fn strings_keep_gos_bytes() {
        // Helm: b64dec "4oI=" | len → 2; printed, each invalid byte is one U+FFFD.
        let cut = Str::from_bytes(vec![0xe2, 0x82]);
        assert!(!cut.is_utf8());
        assert_eq!((cut.go_len(), cut.as_str()), (2, "\u{FFFD}\u{FFFD}"));
        assert_eq!(go_lossy(&[b'a', 0xff, b'b']), "a\u{FFFD}b");
        // Valid bytes are the common, borrowed case.
        assert!(Str::from_bytes("é".as_bytes().to_vec()).is_utf8());
        // substr 0 1 "é" is half a character; both halves make it again.
        let e = Str::from("é");
        let (a, b) = (e.byte_slice(0, 1).unwrap(), e.byte_slice(1, 2).unwrap());
        assert_eq!((a.go_bytes(), b.go_bytes()), (&[0xc3][..], &[0xa9][..]));
        assert!(e.byte_slice(2, 3).is_none());
        // Helm: eq (b64dec "/w==") (b64dec "/g==") → false (equal as text, not as bytes).
        let (ff, fe) = (Str::from_bytes(vec![0xff]), Str::from_bytes(vec![0xfe]));
        assert_eq!(ff.as_str(), fe.as_str());
        assert!(ff != fe && fe < ff);
    }

    #[test]
    fn maps_are_shared_references() {
        let m = Map::new(BTreeMap::new(), "interface {}");
        let alias = m.clone();
        let snapshot = m.entries();
        alias.insert("k".into(), Value::int(1));
        assert!(m.same(&alias) && m.contains_key("k") && m.len() == 1);
        // A snapshot taken before is unchanged (what a range visits).
        assert!(snapshot.is_empty());
        // make_mut gives a value of its own when the map is shared.
        let mut own = m.clone();
        own.make_mut().insert("own".into(), Value::Nil);
        assert!(!own.same(&m) && !m.contains_key("own"));
        assert_eq!(m.remove("k").map(|v| v.type_name()), Some("int".to_string()));
        assert!(alias.is_empty());
    }

    #[test]
    fn json_numbers_are_float64() {
        let v = Value::from(&serde_json::json!({"replicas": 3, "name": "web", "tags": [1, "a"], "none": null}));
        assert_eq!(v.get("replicas").unwrap().type_name(), "float64");
        assert_eq!(v.get("tags").unwrap().type_name(), "[]interface {}");
        assert!(v.get("none").unwrap().is_nil());
    }
}
