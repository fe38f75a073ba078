//! Sprig's lists (list.go): `list`/`tuple`, `append`/`push`, `prepend`,
//! `first`, `rest`, `last`, `initial`, `reverse`, `compact`, `uniq`,
//! `without`, `has`, `slice`, `concat`, `chunk`, `sortAlpha`, and every
//! `must*` twin. Any slice kind is accepted (`[]string`, `[]int`, …) and
//! the results are `[]interface{}` as in Go. The plain forms fail with the
//! same text as the `must*` forms (Sprig panics with the error and Go's
//! executor reports it). Comparison is `reflect.DeepEqual` (conv.rs).

use std::sync::Arc;

use super::conv::*;
use crate::func::{FuncError, FuncMap, FuncResult};
use crate::value::{List, Value};

fn items_or(v: &Value, what: impl FnOnce(&str) -> String) -> Result<Vec<Value>, FuncError> {
    let kind = kind_or_nil_panic(v)?;
    slice_items(v).ok_or_else(|| FuncError::call(what(kind)))
}

fn ilist(items: Vec<Value>) -> Value {
    Value::list(items)
}

pub fn register(m: &mut FuncMap) {
    for name in ["list", "tuple"] {
        variadic(m, name, 0, |a| Ok(ilist(a.to_vec())));
    }
    for name in ["append", "push", "mustAppend", "mustPush"] {
        fixed(m, name, 2, |a| {
            let mut l = items_or(&a[0], |k| format!("Cannot push on type {k}"))?;
            l.push(a[1].clone());
            Ok(ilist(l))
        });
    }
    for name in ["prepend", "mustPrepend"] {
        fixed(m, name, 2, |a| {
            let mut l = items_or(&a[0], |k| format!("Cannot prepend on type {k}"))?;
            l.insert(0, a[1].clone());
            Ok(ilist(l))
        });
    }
    for name in ["first", "mustFirst"] {
        fixed(m, name, 1, |a| Ok(items_or(&a[0], |k| format!("Cannot find first on type {k}"))?.into_iter().next().unwrap_or(Value::Nil)));
    }
    for name in ["last", "mustLast"] {
        fixed(m, name, 1, |a| Ok(items_or(&a[0], |k| format!("Cannot find last on type {k}"))?.pop().unwrap_or(Value::Nil)));
    }
    for name in ["rest", "mustRest"] {
        fixed(m, name, 1, |a| {
            let l = items_or(&a[0], |k| format!("Cannot find rest on type {k}"))?;
            Ok(ilist(l.into_iter().skip(1).collect()))
        });
    }
    for name in ["initial", "mustInitial"] {
        fixed(m, name, 1, |a| {
            let mut l = items_or(&a[0], |k| format!("Cannot find initial on type {k}"))?;
            l.pop();
            Ok(ilist(l))
        });
    }
    for name in ["reverse", "mustReverse"] {
        fixed(m, name, 1, |a| {
            let mut l = items_or(&a[0], |k| format!("Cannot find reverse on type {k}"))?;
            l.reverse();
            Ok(ilist(l))
        });
    }
    for name in ["compact", "mustCompact"] {
        fixed(m, name, 1, |a| {
            let l = items_or(&a[0], |k| format!("Cannot compact on type {k}"))?;
            Ok(ilist(l.into_iter().filter(|v| !empty(v)).collect()))
        });
    }
    for name in ["uniq", "mustUniq"] {
        fixed(m, name, 1, |a| {
            let l = items_or(&a[0], |k| format!("Cannot find uniq on type {k}"))?;
            let mut out: Vec<Value> = Vec::new();
            for v in l {
                if !in_list(&out, &v)? {
                    out.push(v);
                }
            }
            Ok(ilist(out))
        });
    }
    for name in ["without", "mustWithout"] {
        variadic(m, name, 1, |a| {
            let l = items_or(&a[0], |k| format!("Cannot find without on type {k}"))?;
            let omit = &a[1..];
            let mut out = Vec::new();
            for v in l {
                if !in_list(omit, &v)? {
                    out.push(v);
                }
            }
            Ok(ilist(out))
        });
    }
    for name in ["has", "mustHas"] {
        fixed(m, name, 2, |a| {
            if a[1].is_nil() {
                return Ok(Value::Bool(false));
            }
            let l = items_or(&a[1], |k| format!("Cannot find has on type {k}"))?;
            Ok(Value::Bool(in_list(&l, &a[0])?))
        });
    }
    for name in ["slice", "mustSlice"] {
        variadic(m, name, 1, slice);
    }
    variadic(m, "concat", 0, |a| {
        let mut out = Vec::new();
        for l in a {
            out.extend(items_or(l, |k| format!("Cannot concat type {k} as list"))?);
        }
        Ok(ilist(out))
    });
    for name in ["chunk", "mustChunk"] {
        fixed(m, name, 2, |a| {
            let size = want_int(&a[0])?;
            let l = items_or(&a[1], |k| format!("Cannot chunk type {k}"))?;
            chunk(size, l)
        });
    }
    fixed(m, "sortAlpha", 1, |a| {
        // A []string is sorted in place (Sprig's strslice returns it as
        // is): every holder of the slice sees it sorted, as in Go.
        if let Value::List(l) = &a[0] {
            if l.elem == "string" {
                l.sort_in_place(|x, y| match (x, y) {
                    (Value::String(x), Value::String(y)) => x.cmp(y),
                    (x, y) => strval(x).cmp(&strval(y)),
                });
                return Ok(Value::List(l.clone()));
            }
        }
        let mut l = match &a[0] {
            Value::List(_) | Value::Bytes(_) => super::strings::strslice(&a[0]),
            other => vec![super::conv::strval_go(other)],
        };
        // Go's sort.Strings: byte order.
        l.sort();
        Ok(Value::strings(l))
    });
}

/// Sprig's `slice`: Go's `reflect.Value.Slice` keeps the slice's type; an
/// empty list gives nil.
fn slice(a: &[Value]) -> FuncResult {
    let kind = kind_or_nil_panic(&a[0])?;
    let (items, elem) = match &a[0] {
        Value::List(l) => (l.items().as_ref().clone(), l.elem),
        Value::Bytes(b) => {
            let b = b.as_ref();
            let (start, end) = bounds(a, b.len())?;
            return Ok(Value::Bytes(Arc::from(&b[start..end])));
        }
        _ => return Err(FuncError::call(format!("list should be type of slice or array but {kind}"))),
    };
    if items.is_empty() {
        return Ok(Value::Nil);
    }
    let (start, end) = bounds(a, items.len())?;
    Ok(Value::List(List::new(items[start..end].to_vec(), elem)))
}

fn bounds(a: &[Value], len: usize) -> Result<(usize, usize), FuncError> {
    let start = a.get(1).map(to_int64).unwrap_or(0);
    let end = if a.len() < 3 { len as i64 } else { to_int64(&a[2]) };
    if start < 0 || end < start || end > len as i64 {
        return Err(FuncError::call("reflect.Value.Slice: slice index out of bounds"));
    }
    Ok((start as usize, end as usize))
}

/// Sprig's `chunk`, with Go's float arithmetic for the chunk count (so a
/// zero or negative size fails as Go's `make` does).
fn chunk(size: i64, l: Vec<Value>) -> FuncResult {
    let len = l.len() as i64;
    let cs = f64_to_i64(((len - 1) as f64 / size as f64).floor() + 1.0);
    let len_err = || runtime("makeslice: len out of range");
    if cs < 0 {
        return Err(len_err());
    }
    let mut out = Vec::new();
    for i in 0..cs {
        let mut clen = size;
        if i == cs - 1 {
            clen = f64_to_i64(((len as f64) % (size as f64)).floor());
            if clen == 0 {
                clen = size;
            }
        }
        if clen < 0 {
            return Err(len_err());
        }
        let mut part = Vec::new();
        for j in 0..clen {
            let ix = i * size + j;
            match usize::try_from(ix).ok().and_then(|ix| l.get(ix)) {
                Some(v) => part.push(v.clone()),
                None => return Err(runtime(format!("index out of range [{ix}] with length {len}"))),
            }
        }
        out.push(Value::list(part));
    }
    Ok(Value::List(List::new(out, "[]interface {}")))
}
