//! Deep values without stack overflows. Go's decoders accept nesting to
//! 10000 levels (encoding/json's limit) on a stack that grows; our
//! recursive readers and writers would overflow a 2 MB thread stack long
//! before. So the depth is measured first, without recursion, and deep
//! work runs on a thread of its own with a stack sized for it; beyond the
//! limits it is refused with a clear error. This file owns only that.

use crate::value::Value;

/// The deepest nesting written (encoding/json's `maxNestingDepth`).
pub(crate) const MAX_DEPTH: usize = 10_000;

/// The deepest nesting read. Helm reads up to 10000 levels; a value that
/// deep would overflow a 2 MB stack in whatever code drops or walks it
/// later (the engine's, not ours), so reading stops at 1000.
pub(crate) const READ_DEPTH: usize = 1000;

/// Up to this depth work runs on the caller's stack.
const INLINE_DEPTH: usize = 64;

/// Stack per level of nesting, generous for unoptimized builds.
const STACK_PER_LEVEL: usize = 16 << 10;

/// The nesting depth of a value (a scalar is 0), counted without
/// recursion; stops counting past [`MAX_DEPTH`].
pub(crate) fn value_depth(v: &Value) -> usize {
    let mut max = 0;
    // Owned (cheap clones): a map's entries are a snapshot, not a borrow.
    let mut stack: Vec<(Value, usize)> = vec![(v.clone(), 0)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        if max > MAX_DEPTH {
            return max;
        }
        match v {
            Value::List(l) => stack.extend(l.items().iter().map(|i| (i.clone(), d + 1))),
            Value::Map(m) => stack.extend(m.entries().values().map(|i| (i.clone(), d + 1))),
            // An object's marshalled form is built on demand; objects are
            // shallow (Helm's structs), counted as one level each.
            Value::Object(_) => max = max.max(d + 1),
            _ => {}
        }
    }
    max
}

/// The deepest `[`/`{` nesting of a JSON-like text, strings skipped.
pub(crate) fn bracket_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut in_string: Option<u8> = None;
    let mut escaped = false;
    for &b in text.as_bytes() {
        if let Some(q) = in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' && q == b'"' {
                escaped = true;
            } else if b == q {
                in_string = None;
            }
            continue;
        }
        match b {
            b'"' | b'\'' => in_string = Some(b),
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Runs `f`, on a thread with a stack big enough for `depth` levels when
/// that is deeper than the caller's stack is trusted with. Err when the
/// nesting is beyond `limit` or no such thread can be started.
pub(crate) fn run<T: Send>(depth: usize, limit: usize, f: impl FnOnce() -> T + Send) -> Result<T, String> {
    if depth > limit {
        return Err(format!("nesting deeper than {limit} levels"));
    }
    if depth <= INLINE_DEPTH {
        return Ok(f());
    }
    let size = (depth + 64) * STACK_PER_LEVEL;
    std::thread::scope(|s| match std::thread::Builder::new().name("gantry-deep-yaml".into()).stack_size(size).spawn_scoped(s, f) {
        Ok(handle) => match handle.join() {
            Ok(v) => Ok(v),
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(e) => Err(format!("cannot start a thread for {depth} levels of nesting: {e}")),
    })
}
