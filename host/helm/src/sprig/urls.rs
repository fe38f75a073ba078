//! Sprig's `urlParse` and `urlJoin` (url.go) on a port of the parts of Go's
//! `net/url` they use (`Parse`, `URL.String`, `Hostname`, percent
//! escaping per component), with Go's error texts; and `getHostByName`
//! as Helm has it without `--enable-dns` (its default): always "", so no
//! name is ever resolved and nothing touches the network.

use std::collections::BTreeMap;

use super::conv::*;
use crate::func::{FuncError, FuncMap};
use crate::value::Value;

pub fn register(m: &mut FuncMap) {
    fixed(m, "urlParse", 1, |a| {
        let s = want_str(&a[0])?;
        let u = parse(s).map_err(|e| FuncError::call(format!("unable to parse url: {e}")))?;
        let mut d = BTreeMap::new();
        d.insert("scheme".to_string(), Value::from(u.scheme.clone()));
        d.insert("host".to_string(), Value::from(u.host.clone()));
        d.insert("hostname".to_string(), Value::from(hostname(&u.host)));
        d.insert("path".to_string(), Value::from(u.path.clone()));
        d.insert("query".to_string(), Value::from(u.raw_query.clone()));
        d.insert("opaque".to_string(), Value::from(u.opaque.clone()));
        d.insert("fragment".to_string(), Value::from(u.fragment.clone()));
        d.insert("userinfo".to_string(), Value::from(u.user.as_ref().map(user_string).unwrap_or_default()));
        Ok(Value::map(d))
    });
    fixed(m, "urlJoin", 1, |a| {
        let d = want_map(&a[0])?;
        let get = |k: &str| -> Result<String, FuncError> {
            match d.get(k) {
                None => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.to_string()),
                Some(Value::Nil) => Err(nil_deref()),
                Some(other) => Err(FuncError::call(format!("unable to parse {k} key, must be of type string, but {} found", other.kind_name()))),
            }
        };
        let mut u = Url { scheme: get("scheme")?, host: get("host")?, path: get("path")?, raw_query: get("query")?, opaque: get("opaque")?, fragment: get("fragment")?, ..Url::default() };
        let userinfo = get("userinfo")?;
        if !userinfo.is_empty() {
            let t = parse(&format!("proto://{userinfo}@host")).map_err(|e| FuncError::call(format!("unable to parse userinfo in dict: {e}")))?;
            u.user = t.user;
        }
        Ok(Value::from(u.to_go_string()))
    });
    fixed(m, "getHostByName", 1, |a| {
        // Helm replaces Sprig's lookup unless `--enable-dns` is given: the
        // answer is always empty, and no name is resolved.
        want_str(&a[0])?;
        Ok(Value::from(""))
    });
}

#[derive(Default, Debug, Clone)]
pub struct Url {
    pub scheme: String,
    pub opaque: String,
    pub user: Option<(String, Option<String>)>,
    pub host: String,
    pub path: String,
    pub raw_path: String,
    pub omit_host: bool,
    pub force_query: bool,
    pub raw_query: String,
    pub fragment: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    UserPassword,
    Fragment,
}

fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if mode == Mode::Host && b"!$&'()*+,;=:[]<>\"".contains(&c) {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => {
            return match mode {
                Mode::UserPassword => matches!(c, b'@' | b'/' | b'?' | b':'),
                Mode::Path => c == b'?',
                Mode::Fragment => false,
                Mode::Host => true,
            }
        }
        _ => {}
    }
    if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
        return false;
    }
    true
}

fn escape(s: &str, mode: Mode) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if should_escape(b, mode) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

fn unescape(s: &str, mode: Mode) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len() || !b[i + 1].is_ascii_hexdigit() || !b[i + 2].is_ascii_hexdigit() {
                    let rest = &s[i..];
                    let shown: String = rest.chars().take(3).collect();
                    let shown = if rest.len() > 3 { String::from_utf8_lossy(&rest.as_bytes()[..3]).into_owned() } else { shown };
                    return Err(format!("invalid URL escape {}", go_quote(&shown)));
                }
                let v = u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(0);
                if mode == Mode::Host && (b[i + 1] as char).to_digit(16).unwrap_or(0) < 8 && &s[i..i + 3] != "%25" {
                    return Err(format!("invalid URL escape {}", go_quote(&s[i..i + 3])));
                }
                out.push(v);
                i += 3;
            }
            c => {
                if mode == Mode::Host && c < 0x80 && should_escape(c, mode) {
                    return Err(format!("invalid character {} in host name", go_quote(&(c as char).to_string())));
                }
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn valid_optional_port(p: &str) -> bool {
    p.is_empty() || (p.starts_with(':') && p[1..].bytes().all(|b| b.is_ascii_digit()))
}

fn parse_host(host: &str) -> Result<String, String> {
    if host.starts_with('[') {
        let Some(i) = host.rfind(']') else {
            return Err("missing ']' in host".into());
        };
        let port = &host[i + 1..];
        if !valid_optional_port(port) {
            return Err(format!("invalid port {} after host", go_quote(port)));
        }
    } else if let Some(i) = host.rfind(':') {
        let port = &host[i..];
        if !valid_optional_port(port) {
            return Err(format!("invalid port {} after host", go_quote(port)));
        }
    }
    unescape(host, Mode::Host)
}

fn valid_userinfo(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b))
}

fn get_scheme(raw: &str) -> Result<(String, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok((String::new(), raw));
                }
            }
            b':' => {
                if i == 0 {
                    return Err("missing protocol scheme".into());
                }
                return Ok((raw[..i].to_string(), &raw[i + 1..]));
            }
            _ => return Ok((String::new(), raw)),
        }
    }
    Ok((String::new(), raw))
}

/// Go's `url.Parse`; the error is `*url.Error`'s text.
pub fn parse(raw: &str) -> Result<Url, String> {
    let (u, frag) = raw.split_once('#').unwrap_or((raw, ""));
    let wrap = |at: &str, e: String| format!("parse {}: {e}", go_quote(at));
    let mut url = parse_no_fragment(u).map_err(|e| wrap(u, e))?;
    if !frag.is_empty() {
        url.fragment = unescape(frag, Mode::Fragment).map_err(|e| wrap(raw, e))?;
    }
    Ok(url)
}

fn parse_no_fragment(raw: &str) -> Result<Url, String> {
    if raw.bytes().any(|b| b < b' ' || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let mut url = Url::default();
    if raw == "*" {
        url.path = "*".into();
        return Ok(url);
    }
    let (scheme, rest) = get_scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();
    let mut rest = rest.to_string();
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        url.force_query = true;
        rest.pop();
    } else if let Some((r, q)) = rest.clone().split_once('?') {
        rest = r.to_string();
        url.raw_query = q.to_string();
    }
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            url.opaque = rest;
            return Ok(url);
        }
        if rest.split('/').next().unwrap_or("").contains(':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let auth_and_rest = &rest[2..];
        let (authority, path) = match auth_and_rest.find('/') {
            Some(i) => (&auth_and_rest[..i], &auth_and_rest[i..]),
            None => (auth_and_rest, ""),
        };
        let (user, host) = parse_authority(authority)?;
        url.user = user;
        url.host = host;
        rest = path.to_string();
    } else if !url.scheme.is_empty() && rest.starts_with('/') {
        url.omit_host = true;
    }
    url.path = unescape(&rest, Mode::Path)?;
    url.raw_path = if escape(&url.path, Mode::Path) == rest { String::new() } else { rest };
    Ok(url)
}

type User = (String, Option<String>);

fn parse_authority(authority: &str) -> Result<(Option<User>, String), String> {
    let at = authority.rfind('@');
    let host = parse_host(match at {
        Some(i) => &authority[i + 1..],
        None => authority,
    })?;
    let Some(i) = at else {
        return Ok((None, host));
    };
    let userinfo = &authority[..i];
    if !valid_userinfo(userinfo) {
        return Err("net/url: invalid userinfo".into());
    }
    let user = match userinfo.split_once(':') {
        None => (unescape(userinfo, Mode::UserPassword)?, None),
        Some((u, p)) => (unescape(u, Mode::UserPassword)?, Some(unescape(p, Mode::UserPassword)?)),
    };
    Ok((Some(user), host))
}

fn user_string(u: &User) -> String {
    match &u.1 {
        None => escape(&u.0, Mode::UserPassword),
        Some(p) => format!("{}:{}", escape(&u.0, Mode::UserPassword), escape(p, Mode::UserPassword)),
    }
}

/// Go's `URL.Hostname`.
pub fn hostname(host: &str) -> String {
    let mut h = host;
    if let Some(i) = host.rfind(':') {
        if valid_optional_port(&host[i..]) {
            h = &host[..i];
        }
    }
    if h.starts_with('[') && h.ends_with(']') && h.len() >= 2 {
        h = &h[1..h.len() - 1];
    }
    h.to_string()
}

impl Url {
    /// Go's `URL.String`.
    pub fn to_go_string(&self) -> String {
        let mut buf = String::new();
        if !self.scheme.is_empty() {
            buf.push_str(&self.scheme);
            buf.push(':');
        }
        if !self.opaque.is_empty() {
            buf.push_str(&self.opaque);
        } else {
            let has_authority = !self.scheme.is_empty() || !self.host.is_empty() || self.user.is_some();
            let omitted = self.omit_host && self.host.is_empty() && self.user.is_none();
            if has_authority && !omitted {
                if !self.host.is_empty() || !self.path.is_empty() || self.user.is_some() {
                    buf.push_str("//");
                }
                if let Some(u) = &self.user {
                    buf.push_str(&user_string(u));
                    buf.push('@');
                }
                if !self.host.is_empty() {
                    buf.push_str(&escape(&self.host, Mode::Host));
                }
            }
            let path = if self.path == "*" { "*".to_string() } else { escape(&self.path, Mode::Path) };
            if !path.is_empty() && !path.starts_with('/') && !self.host.is_empty() {
                buf.push('/');
            }
            if buf.is_empty() && path.split('/').next().unwrap_or("").contains(':') {
                buf.push_str("./");
            }
            buf.push_str(&path);
        }
        if self.force_query || !self.raw_query.is_empty() {
            buf.push('?');
            buf.push_str(&self.raw_query);
        }
        if !self.fragment.is_empty() {
            buf.push('#');
            buf.push_str(&escape(&self.fragment, Mode::Fragment));
        }
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_like_go() {
        let u = parse("https://user:p%40ss@example.com:8443/a%20b/c?x=1&y=2#frag%21").unwrap();
        assert_eq!((u.scheme.as_str(), u.host.as_str(), u.path.as_str(), u.raw_query.as_str(), u.fragment.as_str()), ("https", "example.com:8443", "/a b/c", "x=1&y=2", "frag!"));
        assert_eq!(user_string(u.user.as_ref().unwrap()), "user:p%40ss");
        assert_eq!(hostname(&u.host), "example.com");
        assert_eq!(parse("mailto:joe@example.com").unwrap().opaque, "joe@example.com");
        assert_eq!(parse("%zz").unwrap_err(), "parse \"%zz\": invalid URL escape \"%zz\"");
        assert_eq!(parse(":x").unwrap_err(), "parse \":x\": missing protocol scheme");
    }

    #[test]
    fn join_like_go() {
        let u = Url { scheme: "http".into(), host: "h:80".into(), path: "/a b".into(), raw_query: "q=1".into(), fragment: "f g".into(), ..Url::default() };
        assert_eq!(u.to_go_string(), "http://h:80/a%20b?q=1#f%20g");
    }
}
