//! Sprig's path functions: `base`, `dir`, `clean`, `ext`, `isAbs` (Go's
//! `path`) and `osBase`, `osDir`, `osClean`, `osExt`, `osIsAbs` (Go's
//! `path/filepath`, which on Linux — where Helm runs here — is the same
//! slash-separated logic). Pure string work; no file is touched. `clean`
//! and `base` are also the chart loader's (archive names, chart names).

use super::conv::*;
use crate::func::FuncMap;
use crate::value::Value;

pub fn register(m: &mut FuncMap) {
    for name in ["base", "osBase"] {
        fixed(m, name, 1, |a| Ok(Value::from(base(want_str(&a[0])?))));
    }
    for name in ["dir", "osDir"] {
        fixed(m, name, 1, |a| Ok(Value::from(dir(want_str(&a[0])?))));
    }
    for name in ["clean", "osClean"] {
        fixed(m, name, 1, |a| Ok(Value::from(clean(want_str(&a[0])?))));
    }
    for name in ["ext", "osExt"] {
        fixed(m, name, 1, |a| Ok(Value::from(ext(want_str(&a[0])?))));
    }
    for name in ["isAbs", "osIsAbs"] {
        fixed(m, name, 1, |a| Ok(Value::Bool(want_str(&a[0])?.starts_with('/'))));
    }
}

/// Go's `path.Clean`.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`.
pub fn base(p: &str) -> &str {
    if p.is_empty() {
        return ".";
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/";
    }
    match t.rfind('/') {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

/// Go's `path.Dir`.
pub fn dir(p: &str) -> String {
    let i = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    clean(&p[..i])
}

/// Go's `path.Ext`.
pub fn ext(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        if c == '/' {
            break;
        }
        if c == '.' {
            return p[i..].to_string();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_semantics() {
        assert_eq!(clean("a//b/./../c/"), "a/c");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("../../a"), "../../a");
        assert_eq!(clean(""), ".");
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(base("///"), "/");
        assert_eq!(base(""), ".");
        assert_eq!(dir("/a/b"), "/a");
        assert_eq!(dir("a"), ".");
        assert_eq!(dir("/"), "/");
        assert_eq!(ext("a/b.tar.gz"), ".gz");
        assert_eq!(ext("a.b/c"), "");
    }
}
