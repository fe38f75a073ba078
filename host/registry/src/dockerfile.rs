//! Dockerfiles, read as BuildKit's frontend reads them: parser directives
//! (`# syntax=`, `# escape=`), comments, line continuations with the escape
//! character (blank and comment lines inside them skipped), builder flags,
//! exec (JSON) and shell forms, and every instruction with its 1-based start
//! line and original text; plus the shell lexer BuildKit expands `$VAR`,
//! `${VAR}`, `${VAR:-w}`, `${VAR-w}`, `${VAR:+w}`, `${VAR+w}` with (quotes and
//! escapes included). It parses and expands words; it decides nothing about
//! images or files (see [`crate::daemonless`]) and never runs anything.
//! Heredocs (`<<EOF`) are refused with an error saying how to do without.

use std::fmt;

/// An error in a Dockerfile: its line, what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerfileError {
    /// The Dockerfile's name as shown (`Dockerfile` unless set with [`DockerfileError::in_file`]).
    pub file: String,
    /// 1-based line (0: the file as a whole).
    pub line: usize,
    pub message: String,
    pub hint: String,
}

impl DockerfileError {
    fn new(line: usize, message: impl Into<String>, hint: impl Into<String>) -> DockerfileError {
        DockerfileError { file: "Dockerfile".to_string(), line, message: message.into(), hint: hint.into() }
    }

    /// The same error, naming the Dockerfile by its path.
    pub fn in_file(mut self, file: &str) -> DockerfileError {
        self.file = file.to_string();
        self
    }
}

impl fmt::Display for DockerfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)?;
        if !self.hint.is_empty() {
            write!(f, " ({})", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for DockerfileError {}

/// The parser directives at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// `# syntax=` (recorded; Gantry has one frontend).
    pub syntax: Option<String>,
    /// `# escape=` (`\` unless set to `` ` ``).
    pub escape: char,
    /// `# check=` (recorded).
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives { syntax: None, escape: '\\', check: None }
    }
}

/// A command in exec form (a JSON array) or shell form (a string for the shell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Exec(Vec<String>),
    Shell(String),
}

/// `COPY`/`ADD` as written (words unexpanded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopySpec {
    pub sources: Vec<String>,
    pub dest: String,
    /// `--from=` (COPY only): a stage name or index, or an image.
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub exclude: Vec<String>,
    /// `--checksum=` (ADD of a URL).
    pub checksum: Option<String>,
    pub keep_git_dir: bool,
    /// Written as a JSON array.
    pub json: bool,
}

/// One `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    /// Unexpanded.
    pub default: Option<String>,
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [flags] CMD ...`; durations in nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    None,
    Check { test: Command, interval: Option<i64>, timeout: Option<i64>, start_period: Option<i64>, start_interval: Option<i64>, retries: Option<i64> },
}

/// What an instruction is, its words as written (unexpanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    From { image: String, name: Option<String>, platform: Option<String> },
    Arg(Vec<ArgDecl>),
    /// Key and value pairs (`K=V ...` or the legacy `K V`).
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Copy(CopySpec),
    Add(CopySpec),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Entrypoint(Command),
    Cmd(Command),
    Run { command: Command, flags: Vec<(String, String)> },
    Volume(Vec<String>),
    StopSignal(String),
    Healthcheck(Health),
    Shell(Vec<String>),
    /// The trigger as written after `ONBUILD`, and it parsed.
    Onbuild { trigger: String, instruction: Box<Instruction> },
    Maintainer(String),
}

/// One instruction: where it starts, its text (continuations joined) and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line the instruction starts on.
    pub line: usize,
    /// 1-based line it ends on (after continuations).
    pub end_line: usize,
    /// The instruction as one line, continuations joined, as `docker build` prints it.
    pub original: String,
    pub kind: Kind,
}

impl Instruction {
    /// The instruction's keyword in upper case (`COPY`).
    pub fn keyword(&self) -> &'static str {
        match &self.kind {
            Kind::From { .. } => "FROM",
            Kind::Arg(_) => "ARG",
            Kind::Env(_) => "ENV",
            Kind::Label(_) => "LABEL",
            Kind::Copy(_) => "COPY",
            Kind::Add(_) => "ADD",
            Kind::Workdir(_) => "WORKDIR",
            Kind::User(_) => "USER",
            Kind::Expose(_) => "EXPOSE",
            Kind::Entrypoint(_) => "ENTRYPOINT",
            Kind::Cmd(_) => "CMD",
            Kind::Run { .. } => "RUN",
            Kind::Volume(_) => "VOLUME",
            Kind::StopSignal(_) => "STOPSIGNAL",
            Kind::Healthcheck(_) => "HEALTHCHECK",
            Kind::Shell(_) => "SHELL",
            Kind::Onbuild { .. } => "ONBUILD",
            Kind::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// A build stage: its `FROM` and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// 0-based position (what `COPY --from=0` names).
    pub index: usize,
    /// The `FROM` instruction.
    pub from: Instruction,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    /// The base as written (`image`, `scratch`, a stage name), unexpanded.
    pub fn base(&self) -> &str {
        match &self.from.kind {
            Kind::From { image, .. } => image,
            _ => "",
        }
    }

    pub fn platform(&self) -> Option<&str> {
        match &self.from.kind {
            Kind::From { platform, .. } => platform.as_deref(),
            _ => None,
        }
    }
}

/// A warning the parser found (as BuildKit prints them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub directives: Directives,
    /// `ARG`s before the first `FROM`: they are seen by `FROM` lines only.
    pub args_before_from: Vec<Instruction>,
    pub stages: Vec<Stage>,
    pub warnings: Vec<Warning>,
}

impl Dockerfile {
    /// Every instruction in file order (the ARGs before FROM, then each
    /// stage's FROM and its instructions).
    pub fn instructions(&self) -> impl Iterator<Item = &Instruction> {
        self.args_before_from.iter().chain(self.stages.iter().flat_map(|s| std::iter::once(&s.from).chain(s.instructions.iter())))
    }

    /// The instruction of build step `n` (1-based) as the classic docker
    /// builder numbers its `Step n/N` lines: every instruction, FROM included.
    pub fn step(&self, n: usize) -> Option<&Instruction> {
        n.checked_sub(1).and_then(|i| self.instructions().nth(i))
    }

    /// `N` in `Step n/N`.
    pub fn step_count(&self) -> usize {
        self.instructions().count()
    }

    /// The instruction that starts on or spans `line`.
    pub fn at_line(&self, line: usize) -> Option<&Instruction> {
        self.instructions().find(|i| i.line <= line && line <= i.end_line)
    }

    /// A stage by name (case-insensitive) or index.
    pub fn stage(&self, name_or_index: &str) -> Option<&Stage> {
        let lower = name_or_index.to_ascii_lowercase();
        self.stages.iter().find(|s| s.name.as_deref() == Some(lower.as_str())).or_else(|| name_or_index.parse::<usize>().ok().and_then(|i| self.stages.get(i)))
    }
}

/// Parses a Dockerfile's text.
pub fn parse(text: &str) -> Result<Dockerfile, DockerfileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let directives = read_directives(&lines)?;
    let escape = directives.escape;
    let mut warnings = Vec::new();
    let mut parsed = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        i += 1;
        let start = i;
        if is_comment(raw) {
            continue;
        }
        let (mut text, mut done) = trim_continuation(raw.trim_start(), escape);
        if done && text.is_empty() {
            continue;
        }
        let mut empty_continuation = false;
        while !done && i < lines.len() {
            let raw = lines[i];
            i += 1;
            if is_comment(raw) {
                continue;
            }
            if raw.trim_start().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (more, end) = trim_continuation(raw, escape);
            text.push_str(&more);
            done = end;
        }
        if empty_continuation {
            warnings.push(Warning { line: start, message: format!("empty continuation line found in: {}", text.trim()) });
        }
        parsed.push(parse_instruction(&text, start, i, escape)?);
    }
    let mut args_before_from = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for ins in parsed {
        match &ins.kind {
            Kind::From { name, .. } => {
                if let Some(n) = name {
                    if stages.iter().any(|s| s.name.as_deref() == Some(n.as_str())) {
                        return Err(DockerfileError::new(ins.line, format!("duplicate stage name {n:?}"), "give each stage its own name after AS"));
                    }
                }
                stages.push(Stage { name: name.clone(), index: stages.len(), from: ins, instructions: Vec::new() });
            }
            _ => match stages.last_mut() {
                Some(stage) => stage.instructions.push(ins),
                None if matches!(ins.kind, Kind::Arg(_)) => args_before_from.push(ins),
                None => {
                    return Err(DockerfileError::new(
                        ins.line,
                        format!("{} comes before any FROM: no build stage in the current context", ins.keyword()),
                        "start the Dockerfile with FROM (only ARG may come before it)",
                    ))
                }
            },
        }
    }
    if stages.is_empty() {
        return Err(DockerfileError::new(0, "the Dockerfile has no FROM instruction", "add `FROM <image>` (or `FROM scratch`) as the first instruction"));
    }
    Ok(Dockerfile { directives, args_before_from, stages, warnings })
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Removes a trailing escape (and the blanks after it): `(text, true)` when the line ends the instruction.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    match t.strip_suffix(escape) {
        Some(rest) => (rest.to_string(), false),
        None => (line.to_string(), true),
    }
}

fn read_directives(lines: &[&str]) -> Result<Directives, DockerfileError> {
    let mut d = Directives::default();
    let mut seen: Vec<String> = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let Some(body) = line.strip_prefix('#') else { break };
        let Some((key, value)) = body.split_once('=') else { break };
        let key = key.trim();
        let value = value.trim();
        let key_ok = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && key.chars().all(|c| c.is_ascii_alphanumeric());
        if !key_ok || value.is_empty() {
            break;
        }
        let key = key.to_ascii_lowercase();
        if !["syntax", "escape", "check"].contains(&key.as_str()) {
            break;
        }
        if seen.contains(&key) {
            return Err(DockerfileError::new(n + 1, format!("only one {key} parser directive can be used"), "remove the repeated directive"));
        }
        seen.push(key.clone());
        match key.as_str() {
            "escape" => {
                d.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    other => return Err(DockerfileError::new(n + 1, format!("invalid escape token {other:?}"), "the escape directive takes `\\` or a backtick")),
                }
            }
            "syntax" => d.syntax = Some(value.to_string()),
            _ => d.check = Some(value.to_string()),
        }
    }
    Ok(d)
}

const KEYWORDS: [&str; 18] =
    ["FROM", "ARG", "ENV", "LABEL", "COPY", "ADD", "WORKDIR", "USER", "EXPOSE", "ENTRYPOINT", "CMD", "RUN", "VOLUME", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "ONBUILD", "MAINTAINER"];

fn parse_instruction(text: &str, line: usize, end_line: usize, escape: char) -> Result<Instruction, DockerfileError> {
    let original = text.trim().to_string();
    let (cmd, rest) = match original.find(char::is_whitespace) {
        Some(i) => (&original[..i], original[i..].trim_start()),
        None => (original.as_str(), ""),
    };
    let upper = cmd.to_ascii_uppercase();
    let err = |message: String, hint: &str| DockerfileError::new(line, message, hint.to_string());
    if !KEYWORDS.contains(&upper.as_str()) {
        let hint = match nearest_keyword(&upper) {
            Some(k) => format!("did you mean {k}?"),
            None => format!("instructions are {}", KEYWORDS.join(", ")),
        };
        return Err(err(format!("unknown instruction: {cmd}"), &hint));
    }
    let (rest, flag_words) = extract_flags(rest);
    let flags = Flags::new(&upper, flag_words, line)?;
    let kind = match upper.as_str() {
        "FROM" => {
            flags.allow(&["platform"])?;
            let words: Vec<&str> = rest.split_whitespace().collect();
            let name = match words.as_slice() {
                [_] => None,
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
                    let name = name.to_ascii_lowercase();
                    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
                    if !valid {
                        return Err(err(format!("invalid name for build stage: {name:?}"), "a stage name starts with a letter and has only letters, digits, `-`, `_` and `.`"));
                    }
                    Some(name)
                }
                _ => return Err(err("FROM requires either one or three arguments".into(), "write `FROM image` or `FROM image AS name`")),
            };
            Kind::From { image: words[0].to_string(), name, platform: flags.string("platform") }
        }
        "ARG" => {
            flags.allow(&[])?;
            let words = parse_words(rest, escape);
            if words.is_empty() {
                return Err(err("ARG requires at least one argument".into(), "write `ARG name` or `ARG name=default`"));
            }
            let mut decls = Vec::new();
            for w in words {
                let (name, default) = match w.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (w, None),
                };
                if name.is_empty() {
                    return Err(err("ARG names can not be blank".into(), "write `ARG name=default`"));
                }
                decls.push(ArgDecl { name, default });
            }
            Kind::Arg(decls)
        }
        "ENV" | "LABEL" => {
            flags.allow(&[])?;
            let pairs = parse_name_val(rest, &upper, escape).map_err(|m| err(m, "write `KEY=value ...` (quote values with spaces)"))?;
            if upper == "ENV" {
                Kind::Env(pairs)
            } else {
                Kind::Label(pairs)
            }
        }
        "COPY" | "ADD" => {
            if upper == "COPY" {
                flags.allow(&["from", "chown", "chmod", "link", "parents", "exclude"])?;
            } else {
                flags.allow(&["chown", "chmod", "link", "checksum", "keep-git-dir", "exclude", "unpack"])?;
            }
            refuse_heredoc(rest, &upper, line)?;
            let (mut words, json) = maybe_json_list(rest, escape).map_err(|m| err(m, "a JSON array holds strings only"))?;
            if words.len() < 2 {
                return Err(err(format!("{upper} requires at least two arguments, but only {} was provided", words.len()), "name the sources and then the destination"));
            }
            let dest = words.pop().unwrap_or_default();
            let spec = CopySpec {
                sources: words,
                dest,
                from: flags.string("from"),
                chown: flags.string("chown"),
                chmod: flags.string("chmod"),
                link: flags.bool("link")?,
                parents: flags.bool("parents")?,
                exclude: flags.strings("exclude"),
                checksum: flags.string("checksum"),
                keep_git_dir: flags.bool("keep-git-dir")?,
                json,
            };
            if upper == "COPY" {
                Kind::Copy(spec)
            } else {
                Kind::Add(spec)
            }
        }
        "WORKDIR" | "USER" | "STOPSIGNAL" | "MAINTAINER" => {
            flags.allow(&[])?;
            if rest.is_empty() {
                return Err(err(format!("{upper} requires exactly one argument"), "give it a value"));
            }
            let v = rest.to_string();
            match upper.as_str() {
                "WORKDIR" => Kind::Workdir(v),
                "USER" => Kind::User(v),
                "STOPSIGNAL" => Kind::StopSignal(v),
                _ => Kind::Maintainer(v),
            }
        }
        "EXPOSE" => {
            flags.allow(&[])?;
            let ports: Vec<String> = rest.split_whitespace().map(String::from).collect();
            if ports.is_empty() {
                return Err(err("EXPOSE requires at least one argument".into(), "write `EXPOSE 8080` or `EXPOSE 53/udp`"));
            }
            Kind::Expose(ports)
        }
        "ENTRYPOINT" | "CMD" | "RUN" => {
            if upper == "RUN" {
                flags.allow(&["mount", "network", "security"])?;
                refuse_heredoc(rest, &upper, line)?;
            } else {
                flags.allow(&[])?;
            }
            let command = maybe_json(rest).map_err(|m| err(m, "a JSON array holds strings only"))?;
            if command == Command::Shell(String::new()) && upper == "RUN" {
                return Err(err("RUN requires at least one argument".into(), "give it a command"));
            }
            match upper.as_str() {
                "ENTRYPOINT" => Kind::Entrypoint(command),
                "CMD" => Kind::Cmd(command),
                _ => Kind::Run { command, flags: flags.all() },
            }
        }
        "VOLUME" => {
            flags.allow(&[])?;
            let (words, _) = maybe_json_list(rest, escape).map_err(|m| err(m, "a JSON array holds strings only"))?;
            if words.is_empty() {
                return Err(err("VOLUME requires at least one argument".into(), "write `VOLUME /data`"));
            }
            if words.iter().any(|w| w.trim().is_empty()) {
                return Err(err("VOLUME specified can not be an empty string".into(), "remove the empty path"));
            }
            Kind::Volume(words)
        }
        "SHELL" => {
            flags.allow(&[])?;
            match maybe_json(rest).map_err(|m| err(m, "a JSON array holds strings only"))? {
                Command::Exec(words) if !words.is_empty() => Kind::Shell(words),
                Command::Exec(_) => return Err(err("SHELL requires at least one argument".into(), "write `SHELL [\"/bin/sh\", \"-c\"]`")),
                Command::Shell(_) => return Err(err("SHELL requires the arguments to be in JSON form".into(), "write `SHELL [\"/bin/bash\", \"-c\"]`")),
            }
        }
        "HEALTHCHECK" => {
            flags.allow(&["interval", "timeout", "start-period", "start-interval", "retries"])?;
            let (kind_word, after) = match rest.find(char::is_whitespace) {
                Some(i) => (&rest[..i], rest[i..].trim_start()),
                None => (rest, ""),
            };
            match kind_word.to_ascii_uppercase().as_str() {
                "NONE" => {
                    if !after.is_empty() || !flags.all().is_empty() {
                        return Err(err("HEALTHCHECK NONE takes no arguments".into(), "write `HEALTHCHECK NONE` alone"));
                    }
                    Kind::Healthcheck(Health::None)
                }
                "CMD" => {
                    let test = maybe_json(after).map_err(|m| err(m, "a JSON array holds strings only"))?;
                    if test == Command::Shell(String::new()) || test == Command::Exec(vec![]) {
                        return Err(err("HEALTHCHECK CMD requires a command".into(), "write `HEALTHCHECK CMD curl -f http://localhost/`"));
                    }
                    let dur = |name: &str| -> Result<Option<i64>, DockerfileError> {
                        match flags.string(name) {
                            None => Ok(None),
                            Some(v) => {
                                let ns = parse_go_duration(&v).ok_or_else(|| err(format!("HEALTHCHECK --{name}={v}: not a duration"), "write durations like 30s, 1m30s, 500ms"))?;
                                if ns != 0 && ns < 1_000_000 {
                                    return Err(err(format!("HEALTHCHECK --{name}={v} is less than 1ms"), "use at least 1ms (or 0 for the default)"));
                                }
                                Ok(Some(ns))
                            }
                        }
                    };
                    let retries = match flags.string("retries") {
                        None => None,
                        Some(v) => Some(v.parse::<i64>().ok().filter(|r| *r >= 0).ok_or_else(|| err(format!("HEALTHCHECK --retries={v}: not a count"), "give a whole number, 0 or more"))?),
                    };
                    Kind::Healthcheck(Health::Check { test, interval: dur("interval")?, timeout: dur("timeout")?, start_period: dur("start-period")?, start_interval: dur("start-interval")?, retries })
                }
                other => return Err(err(format!("unknown type {other:?} in HEALTHCHECK"), "write `HEALTHCHECK CMD ...` or `HEALTHCHECK NONE`")),
            }
        }
        "ONBUILD" => {
            flags.allow(&[])?;
            if rest.is_empty() {
                return Err(err("ONBUILD requires at least one argument".into(), "write `ONBUILD <instruction>`"));
            }
            let inner = parse_instruction(rest, line, end_line, escape)?;
            if matches!(inner.kind, Kind::Onbuild { .. } | Kind::From { .. } | Kind::Maintainer(_)) {
                return Err(err(format!("{} isn't allowed as an ONBUILD trigger", inner.keyword()), "chaining ONBUILD, FROM and MAINTAINER in ONBUILD is not allowed"));
            }
            Kind::Onbuild { trigger: rest.to_string(), instruction: Box::new(inner) }
        }
        // KEYWORDS holds exactly the arms above.
        _ => unreachable!("every keyword has an arm"),
    };
    Ok(Instruction { line, end_line, original, kind })
}

fn nearest_keyword(word: &str) -> Option<&'static str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    KEYWORDS.iter().map(|k| (distance(word, k), *k)).filter(|(d, _)| *d <= 2).min().map(|(_, k)| k)
}

/// Refuses heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`) in a shell-form RUN, COPY or ADD.
fn refuse_heredoc(rest: &str, keyword: &str, line: usize) -> Result<(), DockerfileError> {
    if rest.starts_with('[') {
        return Ok(());
    }
    let heredoc = rest.split_whitespace().find(|w| {
        let w = w.trim_start_matches(|c: char| c.is_ascii_digit());
        let Some(name) = w.strip_prefix("<<") else { return false };
        let name = name.strip_prefix('-').unwrap_or(name).trim_matches(|c| c == '"' || c == '\'');
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    match heredoc {
        Some(w) => Err(DockerfileError::new(
            line,
            format!("{keyword} with a heredoc ({w}) is not supported by Gantry's Dockerfile reader"),
            if keyword == "RUN" { "put the script in a file in the build context, COPY it and RUN it" } else { "put the file in the build context and COPY it" },
        )),
        None => Ok(()),
    }
}

/// Leading `--flag[=value]` words (quotes removed) and the rest of the line, as BuildKit extracts them.
fn extract_flags(line: &str) -> (&str, Vec<String>) {
    let mut words = Vec::new();
    let bytes: Vec<char> = line.chars().collect();
    let mut pos = 0;
    let byte_at = |p: usize| bytes[..p].iter().map(|c| c.len_utf8()).sum::<usize>();
    loop {
        while pos < bytes.len() && bytes[pos].is_whitespace() {
            pos += 1;
        }
        if pos + 1 >= bytes.len() || bytes[pos] != '-' || bytes[pos + 1] != '-' {
            return (line[byte_at(pos)..].trim_start(), words);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while pos < bytes.len() {
            let c = bytes[pos];
            match quote {
                None if c.is_whitespace() => break,
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == '\\' => {
                    if pos + 1 < bytes.len() {
                        pos += 1;
                        word.push(bytes[pos]);
                    }
                }
                _ => word.push(c),
            }
            pos += 1;
        }
        if word == "--" {
            return (line[byte_at(pos)..].trim_start(), words);
        }
        words.push(word);
        if pos >= bytes.len() {
            return ("", words);
        }
    }
}

/// The builder flags of one instruction.
struct Flags {
    keyword: String,
    line: usize,
    values: Vec<(String, Option<String>)>,
}

impl Flags {
    fn new(keyword: &str, words: Vec<String>, line: usize) -> Result<Flags, DockerfileError> {
        let mut values: Vec<(String, Option<String>)> = Vec::new();
        for w in words {
            let body = &w[2..];
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (body.to_string(), None),
            };
            if name != "exclude" && name != "mount" && values.iter().any(|(n, _)| *n == name) {
                return Err(DockerfileError::new(line, format!("{keyword}: duplicate flag specified: --{name}"), "give each flag once"));
            }
            values.push((name, value));
        }
        Ok(Flags { keyword: keyword.to_string(), line, values })
    }

    fn allow(&self, names: &[&str]) -> Result<(), DockerfileError> {
        const BOOLS: [&str; 4] = ["link", "parents", "keep-git-dir", "unpack"];
        for (name, value) in &self.values {
            if !names.contains(&name.as_str()) {
                let hint = if names.is_empty() { format!("{} takes no flags", self.keyword) } else { format!("{} takes --{}", self.keyword, names.join(", --")) };
                return Err(DockerfileError::new(self.line, format!("unknown flag: --{name}"), hint));
            }
            if value.is_none() && !BOOLS.contains(&name.as_str()) {
                return Err(DockerfileError::new(self.line, format!("missing a value on flag: --{name}"), format!("write --{name}=<value>")));
            }
        }
        Ok(())
    }

    fn string(&self, name: &str) -> Option<String> {
        self.values.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.clone())
    }

    fn strings(&self, name: &str) -> Vec<String> {
        self.values.iter().filter(|(n, _)| n == name).filter_map(|(_, v)| v.clone()).collect()
    }

    fn bool(&self, name: &str) -> Result<bool, DockerfileError> {
        match self.values.iter().find(|(n, _)| n == name) {
            None => Ok(false),
            Some((_, None)) => Ok(true),
            Some((_, Some(v))) => match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(DockerfileError::new(self.line, format!("expecting boolean value for flag --{name}, not: {v}"), format!("write --{name} or --{name}=false"))),
            },
        }
    }

    fn all(&self) -> Vec<(String, String)> {
        self.values.iter().map(|(n, v)| (n.clone(), v.clone().unwrap_or_default())).collect()
    }
}

/// Words split at blanks outside quotes; quotes and escapes are kept for the lexer (BuildKit's `parseWords`).
fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !in_word {
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            in_word = true;
        }
        match quote {
            None => {
                if c.is_whitespace() {
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    in_word = false;
                    blank_ok = false;
                    i += 1;
                    continue;
                }
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    if i + 1 == chars.len() {
                        i += 1;
                        continue;
                    }
                    word.push(c);
                    i += 1;
                }
                word.push(chars[i]);
            }
            Some(q) => {
                if c == q {
                    quote = None;
                }
                if c == escape && q != '\'' {
                    if i + 1 == chars.len() {
                        quote = None;
                        i += 1;
                        continue;
                    }
                    word.push(c);
                    i += 1;
                }
                word.push(chars[i]);
            }
        }
        i += 1;
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// ENV and LABEL arguments: `K=V ...`, or the legacy `K V` (the rest of the line is V).
fn parse_name_val(rest: &str, keyword: &str, escape: char) -> Result<Vec<(String, String)>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Err(format!("{keyword} requires at least one argument"));
    };
    if !first.contains('=') {
        let Some(i) = rest.find(char::is_whitespace) else {
            return Err(format!("{keyword} must have two arguments"));
        };
        let (k, v) = (&rest[..i], rest[i..].trim_start());
        if v.is_empty() {
            return Err(format!("{keyword} must have two arguments"));
        }
        return Ok(vec![(k.to_string(), v.to_string())]);
    }
    let mut pairs = Vec::new();
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!("syntax error - can't find = in {w:?}. Must be of the form: name=value"));
        };
        if k.is_empty() {
            return Err(format!("{keyword} names can not be blank"));
        }
        pairs.push((k.to_string(), v.to_string()));
    }
    Ok(pairs)
}

/// A JSON array of strings, or `None` when `rest` is not a JSON array at all.
fn json_array(rest: &str) -> Result<Option<Vec<String>>, String> {
    if !rest.starts_with('[') {
        return Ok(None);
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(rest) {
        Err(_) => Ok(None),
        Ok(values) => values
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                other => Err(format!("when using JSON array syntax, arrays must be comprised of strings only (found {other})")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}

fn maybe_json(rest: &str) -> Result<Command, String> {
    Ok(match json_array(rest)? {
        Some(words) => Command::Exec(words),
        None => Command::Shell(rest.to_string()),
    })
}

fn maybe_json_list(rest: &str, _escape: char) -> Result<(Vec<String>, bool), String> {
    Ok(match json_array(rest)? {
        Some(words) => (words, true),
        None => (rest.split_whitespace().map(String::from).collect(), false),
    })
}

/// Go's `time.ParseDuration` (what HEALTHCHECK flags take), in nanoseconds.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    let (neg, mut s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !s.is_empty() {
        let num_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = s[..num_end].parse().ok()?;
        s = &s[num_end..];
        let unit_end = s.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(s.len());
        let scale = match &s[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * scale;
        s = &s[unit_end..];
    }
    let ns = total.round() as i64;
    Some(if neg { -ns } else { ns })
}

/// Expands one word as BuildKit's shell lexer does (`ProcessWord`): quotes
/// removed (single quotes literal), the escape character taking the next
/// character literally, and `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`,
/// `${V+w}`, `${V:?msg}`, `${V?msg}` substituted from `lookup`. Blanks are
/// kept: the word is not split.
pub fn expand(word: &str, escape: char, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut lexer = Lexer { chars: word.chars().collect(), pos: 0, escape, lookup };
    lexer.until(None)
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }

    fn until(&mut self, stop: Option<char>) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok(out);
            }
            self.pos += 1;
            if c == self.escape {
                match self.next() {
                    Some(n) => out.push(n),
                    None => break,
                }
            } else if c == '\'' {
                loop {
                    match self.next() {
                        None => return Err("unexpected end of statement while looking for matching single-quote".into()),
                        Some('\'') => break,
                        Some(ch) => out.push(ch),
                    }
                }
            } else if c == '"' {
                loop {
                    match self.peek() {
                        None => return Err("unexpected end of statement while looking for matching double-quote".into()),
                        Some('"') => {
                            self.pos += 1;
                            break;
                        }
                        Some('$') => {
                            self.pos += 1;
                            out.push_str(&self.dollar()?);
                        }
                        Some(mut ch) => {
                            self.pos += 1;
                            if ch == self.escape {
                                match self.peek() {
                                    None => continue,
                                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                                        ch = n;
                                        self.pos += 1;
                                    }
                                    Some(_) => {}
                                }
                            }
                            out.push(ch);
                        }
                    }
                }
            } else if c == '$' {
                out.push_str(&self.dollar()?);
            } else {
                out.push(c);
            }
        }
        match stop {
            Some(_) => Err("syntax error: missing '}'".into()),
            None => Ok(out),
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(|d| d.is_ascii_digit()) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && "@*#?-$!".contains(c) {
                self.pos += 1;
                return c.to_string();
            }
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        name
    }

    /// After a `$`.
    fn dollar(&mut self) -> Result<String, String> {
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok((self.lookup)(&name).unwrap_or_default());
        }
        self.pos += 1;
        let name = self.name();
        if name.is_empty() {
            return Err("bad substitution: `${` needs a variable name".into());
        }
        let value = (self.lookup)(&name);
        match self.next() {
            Some('}') => Ok(value.unwrap_or_default()),
            Some(':') => {
                let modifier = self.next();
                let word = self.until(Some('}'))?;
                match modifier {
                    Some('-') => Ok(value.filter(|v| !v.is_empty()).unwrap_or(word)),
                    Some('+') => Ok(if value.is_some_and(|v| !v.is_empty()) { word } else { String::new() }),
                    Some('?') => match value {
                        None => Err(format!("{name}: {}", if word.is_empty() { "is not allowed to be unset" } else { &word })),
                        Some(v) if v.is_empty() => Err(format!("{name}: {}", if word.is_empty() { "is not allowed to be empty" } else { &word })),
                        Some(v) => Ok(v),
                    },
                    Some(m) => Err(format!("unsupported modifier ({m}) in substitution")),
                    None => Err("syntax error: missing '}'".into()),
                }
            }
            Some('-') => {
                let word = self.until(Some('}'))?;
                Ok(value.unwrap_or(word))
            }
            Some('+') => {
                let word = self.until(Some('}'))?;
                Ok(if value.is_some() { word } else { String::new() })
            }
            Some('?') => {
                let word = self.until(Some('}'))?;
                value.ok_or_else(|| format!("{name}: {}", if word.is_empty() { "is not allowed to be unset" } else { &word }))
            }
            Some(c) => Err(format!("unsupported substitution `${{{name}{c}...}}`: only ${{V}}, ${{V:-w}}, ${{V-w}}, ${{V:+w}}, ${{V+w}}, ${{V:?m}} and ${{V?m}} are read")),
            None => Err("syntax error: missing '}'".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    fn ex(word: &str) -> String {
        let e = env(&[("A", "apple"), ("E", ""), ("SP", "a b")]);
        expand(word, '\\', &e).unwrap()
    }

    #[test]
    fn expansion_follows_buildkits_lexer() {
        assert_eq!(ex("$A"), "apple");
        assert_eq!(ex("${A}x"), "applex");
        assert_eq!(ex("$Ax"), "");
        assert_eq!(ex("${A:-w}|${E:-w}|${U:-w}"), "apple|w|w");
        assert_eq!(ex("${A-w}|${E-w}|${U-w}"), "apple||w");
        assert_eq!(ex("${A:+w}|${E:+w}|${U:+w}"), "w||");
        assert_eq!(ex("${A+w}|${E+w}|${U+w}"), "w|w|");
        assert_eq!(ex("${U:-$A}"), "apple");
        assert_eq!(ex("${U:-\"x y\"}"), "x y");
        assert_eq!(ex("'$A'"), "$A");
        assert_eq!(ex("\"$A\""), "apple");
        assert_eq!(ex("\\$A"), "$A");
        assert_eq!(ex("a\\b"), "ab");
        assert_eq!(ex("\"a\\b\\\"\\$\""), "a\\b\"$");
        assert_eq!(ex("$"), "$");
        assert_eq!(ex("$ x"), "$ x");
        assert_eq!(ex("a  b"), "a  b");
        assert_eq!(ex("$SP"), "a b");
        assert_eq!(ex("x\\"), "x");
        let e = env(&[]);
        assert_eq!(expand("${V:?must be set}", '\\', &e).unwrap_err(), "V: must be set");
        assert!(expand("${V", '\\', &e).unwrap_err().contains("missing '}'"));
        assert!(expand("'open", '\\', &e).unwrap_err().contains("single-quote"));
        assert!(expand("\"open", '\\', &e).unwrap_err().contains("double-quote"));
        assert!(expand("${V#x}", '\\', &e).is_err());
        assert_eq!(expand("`$A", '`', &env(&[("A", "1")])).unwrap(), "$A");
    }

    #[test]
    fn directives_continuations_comments_and_lines() {
        let text = "# syntax=docker/dockerfile:1\n# escape=`\n\n# a comment\nFROM busybox AS Base\nRUN echo a `\n  # inside\n\n  b\nENV A=1 `\n    B=\"two words\"\n";
        let df = parse(text).unwrap();
        assert_eq!(df.directives.escape, '`');
        assert_eq!(df.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
        let s = &df.stages[0];
        assert_eq!(s.name.as_deref(), Some("base"));
        assert_eq!(s.from.line, 5);
        assert_eq!(s.instructions[0].line, 6);
        assert_eq!(s.instructions[0].end_line, 9);
        assert_eq!(s.instructions[0].original, "RUN echo a   b");
        assert_eq!(s.instructions[0].kind, Kind::Run { command: Command::Shell("echo a   b".into()), flags: vec![] });
        assert_eq!(s.instructions[1].line, 10);
        assert_eq!(s.instructions[1].kind, Kind::Env(vec![("A".into(), "1".into()), ("B".into(), "\"two words\"".into())]));
        assert_eq!(df.warnings.len(), 1);
        assert_eq!(df.warnings[0].line, 6);
    }

    #[test]
    fn directives_stop_at_the_first_other_line() {
        let df = parse("FROM a\n# escape=`\nRUN x \\\n y\n").unwrap();
        assert_eq!(df.directives.escape, '\\');
        assert_eq!(df.stages[0].instructions[0].original, "RUN x  y");
        let df = parse("# unknown=1\n# escape=`\nFROM a\n").unwrap();
        assert_eq!(df.directives.escape, '\\');
        assert!(parse("# escape=x\nFROM a\n").unwrap_err().to_string().starts_with("Dockerfile:1: invalid escape token"));
        assert!(parse("# escape=`\n# escape=\\\nFROM a\n").unwrap_err().to_string().contains("only one escape parser directive"));
    }

    #[test]
    fn exec_and_shell_forms() {
        let df = parse("FROM a\nCMD [\"/app\", \"--port\", \"80\"]\nENTRYPOINT /app run\nCMD [ \"bad\", ]\nSHELL [\"/bin/bash\", \"-c\"]\nVOLUME [\"/a\", \"/b\"]\nVOLUME /c /d\n").unwrap();
        let k: Vec<&Kind> = df.stages[0].instructions.iter().map(|i| &i.kind).collect();
        assert_eq!(k[0], &Kind::Cmd(Command::Exec(vec!["/app".into(), "--port".into(), "80".into()])));
        assert_eq!(k[1], &Kind::Entrypoint(Command::Shell("/app run".into())));
        assert_eq!(k[2], &Kind::Cmd(Command::Shell("[ \"bad\", ]".into())));
        assert_eq!(k[3], &Kind::Shell(vec!["/bin/bash".into(), "-c".into()]));
        assert_eq!(k[4], &Kind::Volume(vec!["/a".into(), "/b".into()]));
        assert_eq!(k[5], &Kind::Volume(vec!["/c".into(), "/d".into()]));
        let e = parse("FROM a\nCMD [1, 2]\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("strings only"));
        assert!(parse("FROM a\nSHELL /bin/sh -c\n").unwrap_err().message.contains("JSON form"));
    }

    #[test]
    fn every_instruction_and_its_flags() {
        let text = r#"ARG BASE=busybox
ARG TAG
FROM --platform=linux/amd64 ${BASE}:${TAG:-latest} AS build
COPY --from=build --chown=1000:1000 --chmod=0644 --link a b /dst/
ADD --chown=app --link=false x.tar.gz /opt/
COPY ["with space", "/d e/"]
LABEL a=b "c d"="e f"
LABEL legacy value with spaces
ENV LEGACY some value
WORKDIR /app
USER app:app
EXPOSE 80 53/udp
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --retries=3 CMD ["/bin/true"]
HEALTHCHECK NONE
ONBUILD COPY . /src
MAINTAINER someone
RUN --mount=type=cache,target=/c make
ARG V=1 W
FROM scratch
"#;
        let df = parse(text).unwrap();
        assert_eq!(df.args_before_from.len(), 2);
        assert_eq!(df.stages.len(), 2);
        let s = &df.stages[0];
        assert_eq!(s.from.kind, Kind::From { image: "${BASE}:${TAG:-latest}".into(), name: Some("build".into()), platform: Some("linux/amd64".into()) });
        let k: Vec<&Kind> = s.instructions.iter().map(|i| &i.kind).collect();
        let Kind::Copy(c) = k[0] else { panic!() };
        assert_eq!((c.from.as_deref(), c.chown.as_deref(), c.chmod.as_deref(), c.link), (Some("build"), Some("1000:1000"), Some("0644"), true));
        assert_eq!((c.sources.clone(), c.dest.as_str()), (vec!["a".to_string(), "b".to_string()], "/dst/"));
        let Kind::Add(a) = k[1] else { panic!() };
        assert_eq!((a.chown.as_deref(), a.link), (Some("app"), false));
        let Kind::Copy(j) = k[2] else { panic!() };
        assert_eq!((j.sources.clone(), j.dest.as_str(), j.json), (vec!["with space".to_string()], "/d e/", true));
        assert_eq!(k[3], &Kind::Label(vec![("a".into(), "b".into()), ("\"c d\"".into(), "\"e f\"".into())]));
        assert_eq!(k[4], &Kind::Label(vec![("legacy".into(), "value with spaces".into())]));
        assert_eq!(k[5], &Kind::Env(vec![("LEGACY".into(), "some value".into())]));
        assert_eq!(k[6], &Kind::Workdir("/app".into()));
        assert_eq!(k[7], &Kind::User("app:app".into()));
        assert_eq!(k[8], &Kind::Expose(vec!["80".into(), "53/udp".into()]));
        assert_eq!(k[9], &Kind::StopSignal("SIGTERM".into()));
        assert_eq!(
            k[10],
            &Kind::Healthcheck(Health::Check { test: Command::Exec(vec!["/bin/true".into()]), interval: Some(30_000_000_000), timeout: None, start_period: None, start_interval: None, retries: Some(3) })
        );
        assert_eq!(k[11], &Kind::Healthcheck(Health::None));
        let Kind::Onbuild { trigger, instruction } = k[12] else { panic!() };
        assert_eq!(trigger, "COPY . /src");
        assert_eq!(instruction.keyword(), "COPY");
        assert_eq!(k[13], &Kind::Maintainer("someone".into()));
        assert_eq!(k[14], &Kind::Run { command: Command::Shell("make".into()), flags: vec![("mount".into(), "type=cache,target=/c".into())] });
        assert_eq!(k[15], &Kind::Arg(vec![ArgDecl { name: "V".into(), default: Some("1".into()) }, ArgDecl { name: "W".into(), default: None }]));
        assert_eq!(df.stage("BUILD").unwrap().index, 0);
        assert_eq!(df.stage("1").unwrap().base(), "scratch");
    }

    #[test]
    fn steps_are_numbered_like_the_classic_builder() {
        let df = parse("ARG X\n\nFROM a AS one\n# c\nENV A=1\nFROM one\nCOPY \\\n  a /b\n").unwrap();
        assert_eq!(df.step_count(), 5);
        assert_eq!(df.step(1).unwrap().keyword(), "ARG");
        assert_eq!(df.step(2).unwrap().line, 3);
        assert_eq!(df.step(5).unwrap().line, 7);
        assert_eq!(df.step(5).unwrap().original, "COPY   a /b");
        assert!(df.step(0).is_none() && df.step(6).is_none());
        assert_eq!(df.at_line(8).unwrap().keyword(), "COPY");
    }

    #[test]
    fn errors_name_the_line_and_say_how_to_fix() {
        let cases = [
            ("FROM a\nCOPPY . /\n", 2, "unknown instruction: COPPY (did you mean COPY?)"),
            ("ENV A=1\nFROM a\n", 1, "ENV comes before any FROM"),
            ("FROM a b\n", 1, "FROM requires either one or three arguments"),
            ("FROM a AS 1x\n", 1, "invalid name for build stage"),
            ("FROM a AS x\nFROM b AS X\n", 2, "duplicate stage name"),
            ("FROM a\nCOPY onlyone\n", 2, "COPY requires at least two arguments"),
            ("FROM a\nCOPY --form=x a b\n", 2, "unknown flag: --form"),
            ("FROM a\nCOPY --from a b\n", 2, "missing a value on flag: --from"),
            ("FROM a\nENV A\n", 2, "ENV must have two arguments"),
            ("FROM a\nENV A=1 B\n", 2, "can't find = in \"B\""),
            ("FROM a\nRUN cat <<EOF > /x\nhi\nEOF\n", 2, "RUN with a heredoc (<<EOF) is not supported"),
            ("FROM a\nCOPY <<-\"EOT\" /x\n", 2, "COPY with a heredoc"),
            ("FROM a\nHEALTHCHECK --interval=10us CMD x\n", 2, "less than 1ms"),
            ("FROM a\nHEALTHCHECK NONE x\n", 2, "takes no arguments"),
            ("FROM a\nONBUILD FROM b\n", 2, "isn't allowed as an ONBUILD trigger"),
            ("FROM a\nWORKDIR\n", 2, "WORKDIR requires exactly one argument"),
            ("FROM a\nCOPY --link=maybe a b\n", 2, "expecting boolean value"),
            ("# just a comment\n", 0, "no FROM instruction"),
        ];
        for (text, line, want) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            let shown = e.to_string();
            assert!(shown.starts_with(&format!("Dockerfile:{line}: ")), "{shown}");
            assert!(shown.contains(want), "{text:?}: {shown}");
            assert!(!e.hint.is_empty(), "{text:?} has no fix");
        }
        assert!(parse("FROM a\nRUN echo $((1<<2))\n").is_ok());
        assert!(parse("FROM a\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\n").is_ok());
    }

    #[test]
    fn words_keep_quotes_and_escapes_for_the_lexer() {
        assert_eq!(parse_words(r#"a="b c" d\ e 'f g'"#, '\\'), vec![r#"a="b c""#, r"d\ e", "'f g'"]);
        assert_eq!(parse_words(r#"x="" y"#, '\\'), vec![r#"x="""#, "y"]);
        assert_eq!(extract_flags("--a=1 --b=\"x y\" rest of it"), ("rest of it", vec!["--a=1".to_string(), "--b=x y".to_string()]));
        assert_eq!(extract_flags("-- --not-a-flag"), ("--not-a-flag", vec![]));
        assert_eq!(parse_go_duration("1m30.5s"), Some(90_500_000_000));
        assert_eq!(parse_go_duration("10x"), None);
    }

    #[test]
    fn crlf_bom_and_leading_blanks() {
        let df = parse("\u{feff}FROM a\r\n   ENV A=1\r\n\tLABEL x=y\r\n").unwrap();
        assert_eq!(df.stages[0].instructions.len(), 2);
        assert_eq!(df.stages[0].instructions[1].line, 3);
    }
}
