//! A build context: the directory a Dockerfile is built from, seen through
//! its `.dockerignore` exactly as the docker CLI and moby's patternmatcher
//! see it — the same pattern cleaning, the same `*`, `?`, `[...]` and `**`
//! rules, the last matching pattern winning, `!` exceptions re-including a
//! file inside an excluded directory. It walks the context (sorted, symlinks
//! kept as symlinks and never followed) and writes the tar the CLI sends to
//! an engine. It reads files and never writes any; it knows nothing of
//! Dockerfiles beyond the names the caller asks it to always include.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong opening, walking or packing a context.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("build context {path}: {source} (check that the directory exists and is readable)")]
    Io { path: PathBuf, source: io::Error },
    #[error("{file}:{line}: bad .dockerignore pattern {pattern:?}: {reason} (fix or remove the line; the syntax is Go's filepath.Match with `**`)")]
    Pattern { file: PathBuf, line: usize, pattern: String, reason: String },
    #[error("build context {root}: {path:?} is not a path inside the context (use a relative path without `..`)")]
    Outside { root: PathBuf, path: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ContextError + '_ {
    move |source| ContextError::Io { path: path.to_path_buf(), source }
}

/// Go's `path.Clean` on `/`-separated paths.
pub fn clean_path(p: &str) -> String {
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
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// One `.dockerignore` line after reading: `!` for an exception, the
/// pattern cleaned (`./a/` → `a`, `/a` → `a`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The cleaned pattern text, without the `!`.
    pub text: String,
    /// `!pattern`: re-includes what matched before.
    pub exception: bool,
    /// 1-based line in `.dockerignore` (0 for patterns given in code).
    pub line: usize,
    matcher: Matcher,
}

/// How a pattern matches, as moby's compiler decides: a plain string, a
/// prefix (`dir/**`), a suffix (`**/name`, `**name`) or a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Glob(Vec<Tok>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`: any run of characters but `/`.
    Star,
    /// `?`: one character but `/`.
    Any,
    /// `[...]`: a class, maybe negated (`[^...]`).
    Class { negated: bool, ranges: Vec<(char, char)> },
    /// `**/` (or `**` not at the end): nothing, or anything ending in `/`.
    DirsOpt,
    /// `**` at the end: anything.
    Rest,
}

impl Pattern {
    /// A pattern from one line's text (`!` allowed), cleaned like the CLI
    /// cleans `.dockerignore` lines; `None` for blank lines and comments.
    pub fn parse(line_text: &str, line: usize) -> Result<Option<Pattern>, String> {
        if line_text.starts_with('#') {
            return Ok(None);
        }
        let mut p = line_text.trim();
        if p.is_empty() {
            return Ok(None);
        }
        let exception = p.starts_with('!');
        if exception {
            p = p[1..].trim();
            if p.is_empty() {
                return Err("a lone `!` excludes nothing: write `!path` to re-include path".to_string());
            }
        }
        let mut text = clean_path(p);
        if text.len() > 1 && text.starts_with('/') {
            text.remove(0);
        }
        let matcher = compile(&text)?;
        Ok(Some(Pattern { text, exception, line, matcher }))
    }

    /// Does the pattern match `path` itself (not its parents)?
    pub fn matches(&self, path: &str) -> bool {
        match &self.matcher {
            Matcher::Exact(s) => path == s,
            Matcher::Prefix(s) => path.starts_with(s.as_str()),
            Matcher::Suffix(s) => path.ends_with(s.as_str()) || (s.starts_with('/') && path == &s[1..]),
            Matcher::Glob(toks) => {
                let chars: Vec<char> = path.chars().collect();
                glob(toks, &chars)
            }
        }
    }

    /// Does the pattern match `path` or one of its parent directories?
    fn matches_or_parent(&self, path: &str) -> bool {
        if self.matches(path) {
            return true;
        }
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            end += i;
            if self.matches(&path[..end]) {
                return true;
            }
            end += 1;
        }
        false
    }
}

/// Turns a cleaned pattern into a matcher, with moby's choice of matcher
/// kinds and Go's `filepath.Match` validation of classes and escapes.
fn compile(pattern: &str) -> Result<Matcher, String> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Glob,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut kind = Kind::Exact;
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        kind = Kind::Glob;
                    }
                    toks.push(Tok::Rest);
                } else {
                    kind = Kind::Glob;
                    toks.push(Tok::DirsOpt);
                }
                if start == 0 {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                kind = Kind::Glob;
            }
            '?' => {
                toks.push(Tok::Any);
                kind = Kind::Glob;
            }
            '\\' => match chars.get(i) {
                Some(&n) => {
                    toks.push(Tok::Lit(n));
                    i += 1;
                    kind = Kind::Glob;
                }
                None => return Err("a trailing `\\` escapes nothing".to_string()),
            },
            '[' => {
                let (tok, next) = class(&chars, i)?;
                toks.push(tok);
                i = next;
                kind = Kind::Glob;
            }
            c => toks.push(Tok::Lit(c)),
        }
    }
    let literal = |toks: &[Tok]| toks.iter().filter_map(|t| if let Tok::Lit(c) = t { Some(*c) } else { None }).collect::<String>();
    Ok(match kind {
        Kind::Exact => Matcher::Exact(pattern.to_string()),
        // `dir/**`: everything up to the `**` is plain text.
        Kind::Prefix => Matcher::Prefix(literal(&toks)),
        // `**/name`: what follows `**` is plain text (the `/` it ate is put back).
        Kind::Suffix => {
            let rest = pattern.strip_prefix("**").unwrap_or(pattern);
            Matcher::Suffix(rest.to_string())
        }
        Kind::Glob => Matcher::Glob(toks),
    })
}

/// A `[...]` class starting after `[` at `i`: its token and the index after `]`.
fn class(chars: &[char], mut i: usize) -> Result<(Tok, usize), String> {
    let bad = |why: &str| Err(format!("bad character class: {why}"));
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let one = |i: &mut usize| -> Result<char, String> {
        match chars.get(*i) {
            None => Err("bad character class: `[` is never closed with `]`".to_string()),
            Some('\\') => {
                *i += 1;
                let c = chars.get(*i).copied().ok_or_else(|| "bad character class: `[` is never closed with `]`".to_string())?;
                *i += 1;
                Ok(c)
            }
            Some(']') | Some('-') => Err("bad character class: `]` or `-` where a character was expected (escape it with `\\`)".to_string()),
            Some(&c) => {
                *i += 1;
                Ok(c)
            }
        }
    };
    loop {
        match chars.get(i) {
            None => return bad("`[` is never closed with `]`"),
            Some(']') if !ranges.is_empty() => return Ok((Tok::Class { negated, ranges }, i + 1)),
            _ => {}
        }
        let lo = one(&mut i)?;
        let hi = if chars.get(i) == Some(&'-') {
            i += 1;
            one(&mut i)?
        } else {
            lo
        };
        if hi < lo {
            return bad("a range ends before it starts");
        }
        ranges.push((lo, hi));
    }
}

/// Full match of `toks` against `s` (backtracking; patterns are short).
fn glob(toks: &[Tok], s: &[char]) -> bool {
    let Some((first, rest)) = toks.split_first() else {
        return s.is_empty();
    };
    match first {
        Tok::Lit(c) => s.first() == Some(c) && glob(rest, &s[1..]),
        Tok::Any => s.first().is_some_and(|c| *c != '/') && glob(rest, &s[1..]),
        Tok::Class { negated, ranges } => {
            s.first().is_some_and(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated) && glob(rest, &s[1..])
        }
        Tok::Star => {
            for n in 0..=s.len() {
                if glob(rest, &s[n..]) {
                    return true;
                }
                if n < s.len() && s[n] == '/' {
                    break;
                }
            }
            false
        }
        Tok::Rest => true,
        Tok::DirsOpt => {
            if glob(rest, s) {
                return true;
            }
            (0..s.len()).any(|n| s[n] == '/' && glob(rest, &s[n + 1..]))
        }
    }
}

/// Reads `.dockerignore` text as the docker CLI does: a UTF-8 BOM dropped,
/// `#` lines (at the very start of the line) are comments, blank lines
/// skipped, each line trimmed and cleaned.
pub fn read_dockerignore(text: &str, file: &Path) -> Result<Vec<Pattern>, ContextError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        match Pattern::parse(line, n + 1) {
            Ok(Some(p)) => out.push(p),
            Ok(None) => {}
            Err(reason) => return Err(ContextError::Pattern { file: file.to_path_buf(), line: n + 1, pattern: line.trim().to_string(), reason }),
        }
    }
    Ok(out)
}

/// Is `path` excluded by `patterns`? moby's rule: patterns in order, a
/// pattern (or one of `path`'s parents matching it) sets the state, an
/// exception clears it; the last one that applies wins.
pub fn excluded_by(patterns: &[Pattern], path: &str) -> bool {
    let mut excluded = false;
    for p in patterns {
        // An exception only matters once something is excluded, and an
        // exclusion only once nothing is.
        if p.exception != excluded {
            continue;
        }
        if p.matches_or_parent(path) {
            excluded = !p.exception;
        }
    }
    excluded
}

/// What one entry of the context is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link and its target, as written (never followed).
    Symlink(String),
}

/// One file, directory or symlink of the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the context root, `/`-separated, no `./`.
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits with setuid/setgid/sticky (`0o7777`).
    pub mode: u32,
    /// File size in bytes (0 for directories and symlinks).
    pub size: u64,
    /// Modification time, seconds since the epoch (what the CLI's tar carries).
    pub mtime: i64,
}

/// A build context: a directory and its `.dockerignore`.
#[derive(Debug, Clone)]
pub struct Context {
    root: PathBuf,
    patterns: Vec<Pattern>,
}

impl Context {
    /// The context at `dir`, with `dir/.dockerignore` if there is one.
    pub fn open(dir: impl AsRef<Path>) -> Result<Context, ContextError> {
        let root = dir.as_ref().to_path_buf();
        let meta = fs::metadata(&root).map_err(io_err(&root))?;
        if !meta.is_dir() {
            return Err(ContextError::Io { path: root, source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory") });
        }
        let ignore = root.join(".dockerignore");
        let patterns = match fs::read(&ignore) {
            Ok(bytes) => read_dockerignore(&String::from_utf8_lossy(&bytes), &ignore)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(ContextError::Io { path: ignore, source: e }),
        };
        Ok(Context { root, patterns })
    }

    /// The context at `dir` with these patterns instead of its `.dockerignore`.
    pub fn with_patterns(dir: impl AsRef<Path>, lines: &[&str]) -> Result<Context, ContextError> {
        let root = dir.as_ref().to_path_buf();
        let text = lines.join("\n");
        let patterns = read_dockerignore(&text, Path::new("<patterns>"))?;
        Ok(Context { root, patterns })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Is `rel_path` (relative to the root, `/`-separated) left out of the context?
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        let p = clean_path(rel_path.trim_start_matches('/'));
        excluded_by(&self.patterns, &p)
    }

    /// The host path of `rel_path`, refusing paths that leave the context.
    pub fn host_path(&self, rel_path: &str) -> Result<PathBuf, ContextError> {
        let p = clean_path(rel_path.trim_start_matches('/'));
        if p == ".." || p.starts_with("../") {
            return Err(ContextError::Outside { root: self.root.clone(), path: rel_path.to_string() });
        }
        Ok(if p == "." { self.root.clone() } else { self.root.join(p) })
    }

    /// The contents of a regular file of the context.
    pub fn read(&self, rel_path: &str) -> Result<Vec<u8>, ContextError> {
        let path = self.host_path(rel_path)?;
        fs::read(&path).map_err(io_err(&path))
    }

    /// Every entry the context sends, sorted as Go's `filepath.Walk`
    /// visits them (names sorted in each directory, depth first).
    pub fn files(&self) -> Result<Vec<Entry>, ContextError> {
        self.walk(&self.patterns)
    }

    fn walk(&self, patterns: &[Pattern]) -> Result<Vec<Entry>, ContextError> {
        let mut out = Vec::new();
        self.walk_dir(patterns, "", &mut out)?;
        Ok(out)
    }

    fn walk_dir(&self, patterns: &[Pattern], rel_dir: &str, out: &mut Vec<Entry>) -> Result<(), ContextError> {
        let dir = if rel_dir.is_empty() { self.root.clone() } else { self.root.join(rel_dir) };
        let mut names: Vec<String> = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        let has_exceptions = patterns.iter().any(|p| p.exception);
        for name in names {
            let rel = if rel_dir.is_empty() { name.clone() } else { format!("{rel_dir}/{name}") };
            let host = self.root.join(&rel);
            let meta = fs::symlink_metadata(&host).map_err(io_err(&host))?;
            let ft = meta.file_type();
            let excluded = excluded_by(patterns, &rel);
            if excluded {
                // An excluded directory is still walked when an exception
                // names something inside it (moby's prefix test).
                if ft.is_dir() && has_exceptions {
                    let dir_slash = format!("{rel}/");
                    if patterns.iter().any(|p| p.exception && format!("{}/", p.text).starts_with(&dir_slash)) {
                        self.walk_dir(patterns, &rel, out)?;
                    }
                }
                continue;
            }
            let mode = mode_of(&meta);
            let mtime = mtime_of(&meta);
            if ft.is_symlink() {
                let target = fs::read_link(&host).map_err(io_err(&host))?;
                out.push(Entry { path: rel, kind: EntryKind::Symlink(target.to_string_lossy().into_owned()), mode, size: 0, mtime });
            } else if ft.is_dir() {
                out.push(Entry { path: rel.clone(), kind: EntryKind::Dir, mode, size: 0, mtime });
                self.walk_dir(patterns, &rel, out)?;
            } else if ft.is_file() {
                out.push(Entry { path: rel, kind: EntryKind::File, mode, size: meta.len(), mtime });
            }
            // Sockets, fifos and devices are not build inputs: left out.
        }
        Ok(())
    }

    /// The context as the tar the docker CLI sends to an engine: every
    /// entry [`Context::files`] gives, plus `always_include` (the
    /// Dockerfile and `.dockerignore`) even when a pattern excludes them,
    /// as the CLI adds `!Dockerfile` and `!.dockerignore`.
    pub fn tar(&self, always_include: &[&str]) -> Result<Vec<u8>, ContextError> {
        let mut patterns = self.patterns.clone();
        for name in always_include {
            let cleaned = clean_path(name.trim_start_matches('/'));
            if excluded_by(&patterns, &cleaned) {
                if let Ok(Some(p)) = Pattern::parse(&format!("!{cleaned}"), 0) {
                    patterns.push(p);
                }
            }
        }
        let entries = self.walk(&patterns)?;
        let mut builder = tar::Builder::new(Vec::new());
        for e in &entries {
            let host = self.root.join(&e.path);
            let mut h = tar::Header::new_gnu();
            h.set_mode(e.mode);
            h.set_mtime(e.mtime.max(0) as u64);
            h.set_uid(0);
            h.set_gid(0);
            let result = match &e.kind {
                EntryKind::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    builder.append_data(&mut h, format!("{}/", e.path), io::empty())
                }
                EntryKind::Symlink(target) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    builder.append_link(&mut h, &e.path, target)
                }
                EntryKind::File => {
                    h.set_entry_type(tar::EntryType::Regular);
                    let file = fs::File::open(&host).map_err(io_err(&host))?;
                    h.set_size(e.size);
                    builder.append_data(&mut h, &e.path, file)
                }
            };
            result.map_err(io_err(&host))?;
        }
        builder.into_inner().map_err(io_err(&self.root))
    }
}

#[cfg(unix)]
fn mode_of(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(meta: &fs::Metadata) -> u32 {
    if meta.is_dir() { 0o755 } else { 0o644 }
}

fn mtime_of(meta: &fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(p: &str) -> Pattern {
        Pattern::parse(p, 1).unwrap().unwrap()
    }

    fn excluded(patterns: &[&str], path: &str) -> bool {
        let ps: Vec<Pattern> = patterns.iter().map(|p| pat(p)).collect();
        excluded_by(&ps, path)
    }

    #[test]
    fn double_star_matches_any_depth_like_moby() {
        // (pattern, path, matches the path itself)
        let cases = [
            ("**", "file", true),
            ("**", "a/b/c", true),
            ("**/", "file", true),
            ("**/**", "x/y", true),
            ("dir/**", "dir/x", true),
            ("dir/**", "dir/x/y", true),
            ("dir/**", "dir", false),
            ("**/dir", "dir", true),
            ("**/dir", "x/y/dir", true),
            ("**/dir", "x/dir/f", false),
            ("**/d2/*", "x/d2/f", true),
            ("**/d2/*", "x/d2/f/g", false),
            ("**/d2/**", "x/d2/y/f", true),
            ("**name", "name", true),
            ("**name", "x/y/name", true),
            ("**name", "xname", true),
            ("**/name", "xname", false),
            ("**/n*", "x/y/nope", true),
            ("**/n*.txt*", "x/n1.txt.bak", true),
            ("**/**/*.rs", "a.rs", true),
            ("**/**/*.rs", "a/b/c.rs", true),
            ("**/**/*.rs", "a/b/c.rs2", false),
            ("p**/*.txt", "p/f.txt", true),
            ("p**/*.txt", "p/q/r/f.txt", true),
            ("**/.hidden", ".hidden", true),
            ("**/.hidden", "x.hidden", false),
        ];
        for (p, path, want) in cases {
            assert_eq!(pat(p).matches(path), want, "pattern {p:?} on {path:?}");
        }
    }

    #[test]
    fn single_star_question_and_classes_stop_at_slashes() {
        let cases = [
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*/b", "axy/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b", "a/b", false),
            ("a?b", "a/b", false),
            ("a?b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("x[b-d]y", "xcy", true),
            ("x[b-d]y", "xay", false),
            ("x[b-d]y", "xy", false),
            ("x[^b-d]y", "xzy", true),
            ("x[^b-d]y", "xcy", false),
            ("[\\]a]", "]", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("[a-ζ]*", "α", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a\\\\", "a\\", true),
            ("*x", "xxx", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
        ];
        for (p, path, want) in cases {
            assert_eq!(pat(p).matches(path), want, "pattern {p:?} on {path:?}");
        }
    }

    #[test]
    fn regex_characters_are_plain_text() {
        assert!(pat(".*").matches(".env"));
        assert!(!pat(".*").matches("env"));
        assert!(!pat("abc.def").matches("abcxdef"));
        assert!(pat("a(b)c/d").matches("a(b)c/d"));
        assert!(pat("a.|)$(}+{bc").matches("a.|)$(}+{bc"));
        assert!(pat("dist/*.whl").matches("dist/pkg-1.0+g08-py3-none-any.whl"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in ["[", "a[", "[^", "[^bc", "[]a]", "[-]", "[x-]", "[-x]", "[a-b-c]", "\\", "!"] {
            assert!(Pattern::parse(bad, 3).is_err(), "{bad:?} should be refused");
        }
        let err = read_dockerignore("ok\n[oops\n", Path::new("ctx/.dockerignore")).unwrap_err().to_string();
        assert!(err.starts_with("ctx/.dockerignore:2: bad .dockerignore pattern \"[oops\""), "{err}");
    }

    #[test]
    fn lines_are_cleaned_like_the_cli_reads_them() {
        let ps = read_dockerignore("\u{feff}test1\n/test2\n/a/file/here\n\nlast\n# comment\n ! /inv/abs \n./dir/\nx/../y\n  # not a comment\n", Path::new("i")).unwrap();
        let texts: Vec<String> = ps.iter().map(|p| format!("{}{}", if p.exception { "!" } else { "" }, p.text)).collect();
        assert_eq!(texts, ["test1", "test2", "a/file/here", "last", "!inv/abs", "dir", "y", "# not a comment"]);
        assert_eq!(ps[4].line, 7);
    }

    #[test]
    fn the_last_matching_pattern_wins_and_parents_count() {
        assert!(excluded(&["!keep.go", "*.go"], "keep.go"));
        assert!(excluded(&["*.go", "!keep.go"], "a.go"));
        assert!(!excluded(&["*.go", "!keep.go"], "keep.go"));
        assert!(!excluded(&["docs", "!docs/README.md"], "docs/README.md"));
        assert!(!excluded(&["docs/", "!docs/README.md"], "docs/README.md"));
        assert!(!excluded(&["docs/*", "!docs/README.md"], "docs/README.md"));
        assert!(excluded(&["docs"], "docs/a/b"));
        assert!(!excluded(&["**", "!util/web"], "util/web/f"));
        assert!(excluded(&["**", "!util/web", "util/web/f"], "util/web/f"));
        assert!(!excluded(&["**", "!dist/*.whl"], "dist/p-1+g0.whl"));
        assert!(!excluded(&["*.go"], "."));
        assert!(!excluded(&[], "any/path"));
    }

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for dir in ["src", "docs/sub", "target/debug", "node_modules/x"] {
            fs::create_dir_all(r.join(dir)).unwrap();
        }
        for f in ["src/main.rs", "src/b.rs", "docs/README.md", "docs/other.md", "docs/sub/c.md", "target/debug/app", "node_modules/x/i.js", "Dockerfile", "a.log"] {
            fs::write(r.join(f), f).unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink("../../etc/passwd", r.join("src/link")).unwrap();
        d
    }

    #[test]
    fn the_walk_is_sorted_skips_excluded_dirs_and_reenters_for_exceptions() {
        let d = tree();
        fs::write(d.path().join(".dockerignore"), "# ignore\ntarget\nnode_modules/\ndocs\n!docs/README.md\n*.log\nDockerfile\n").unwrap();
        let ctx = Context::open(d.path()).unwrap();
        let paths: Vec<String> = ctx.files().unwrap().into_iter().map(|e| e.path).collect();
        assert_eq!(paths, [".dockerignore", "docs/README.md", "src", "src/b.rs", "src/link", "src/main.rs"]);
        assert!(ctx.is_excluded("target/debug/app"));
        assert!(ctx.is_excluded("./docs/sub/c.md"));
        assert!(!ctx.is_excluded("docs/README.md"));
        let link = ctx.files().unwrap().into_iter().find(|e| e.path == "src/link").unwrap();
        assert_eq!(link.kind, EntryKind::Symlink("../../etc/passwd".into()));
    }

    #[test]
    fn the_tar_always_carries_the_dockerfile_and_dockerignore() {
        let d = tree();
        fs::write(d.path().join(".dockerignore"), "Dockerfile\n.dockerignore\ntarget\nnode_modules\ndocs\nsrc/*.rs\n").unwrap();
        let ctx = Context::open(d.path()).unwrap();
        let tar = ctx.tar(&["Dockerfile", ".dockerignore"]).unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let mut names = Vec::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            names.push((e.path().unwrap().to_string_lossy().into_owned(), e.header().entry_type()));
        }
        let only: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(only, [".dockerignore", "Dockerfile", "a.log", "src/", "src/link"]);
        assert_eq!(names[4].1, tar::EntryType::Symlink);
    }

    #[test]
    fn paths_outside_the_context_are_refused() {
        let d = tree();
        let ctx = Context::open(d.path()).unwrap();
        assert!(matches!(ctx.host_path("../x"), Err(ContextError::Outside { .. })));
        assert_eq!(ctx.host_path("a/../src/b.rs").unwrap(), d.path().join("src/b.rs"));
        assert_eq!(ctx.read("/src/b.rs").unwrap(), b"src/b.rs");
    }

    #[test]
    fn go_path_clean() {
        for (i, o) in [("", "."), ("./a/", "a"), ("a//b", "a/b"), ("/../a", "/a"), ("../a/..", ".."), ("a/./b/../c", "a/c"), ("/", "/")] {
            assert_eq!(clean_path(i), o, "{i:?}");
        }
    }
}
