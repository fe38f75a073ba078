//! The JUnit XML report of a run, for GitLab's `artifacts:reports:junit`
//! and GitHub's test reporters: one `<testsuite>` per stage (the
//! on-failure stage as its own suite, last), one `<testcase>` per stage ×
//! target (`classname` = the stage, `name` = the target, or `once` for a
//! stage that runs once), `time` in seconds; a failed or interrupted step
//! gets a `<failure>` (its message, its error kind as `type`, the message
//! and hint as text), a skipped stage `<skipped/>` per target, and every
//! step its log lines in `<system-out>`. Counts in the attributes are the
//! counts of the children. Text is escaped for XML 1.0: markup characters
//! as entities (so `]]>` never appears) and characters XML cannot carry at
//! all (control characters, unpaired surrogates cannot occur in Rust
//! strings) as a visible `\u{…}`. It reads the record's masked text only,
//! and must not add anything the record does not hold.
//! `junit.xsd` beside this file is the schema it is checked against.

use std::fmt::Write as _;

use super::view::{RunView, StageView, StepView};

/// The JUnit XML document of `run`.
pub fn render(run: &RunView) -> String {
    let suites: Vec<Suite> = run.all_stages().map(|s| suite(run, s)).collect();
    let total = |f: fn(&Suite) -> usize| suites.iter().map(f).sum::<usize>();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">",
        attr(&format!("gantry {} {}", run.pipeline, run.run_id)),
        total(|s| s.cases.len()),
        total(Suite::failures),
        total(Suite::skipped),
        seconds(run.duration_ms),
        attr(&timestamp(&run.started)),
    );
    for (id, s) in suites.iter().enumerate() {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\" id=\"{id}\" package=\"{}\" hostname=\"gantry\">",
            attr(&s.name),
            s.cases.len(),
            s.failures(),
            s.skipped(),
            seconds(s.millis),
            attr(&timestamp(&s.started)),
            attr(&run.pipeline),
        );
        let _ = writeln!(out, "    <properties>");
        for (k, v) in &s.properties {
            let _ = writeln!(out, "      <property name=\"{}\" value=\"{}\"/>", attr(k), attr(v));
        }
        let _ = writeln!(out, "    </properties>");
        for c in &s.cases {
            let _ = write!(out, "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"", attr(&s.name), attr(&c.name), seconds(c.millis));
            if c.outcome == Outcome::Passed && c.out.is_empty() {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            match &c.outcome {
                Outcome::Passed => {}
                Outcome::Skipped(why) => {
                    let _ = writeln!(out, "      <skipped message=\"{}\"/>", attr(why));
                }
                Outcome::Failed { message, kind, text } => {
                    let _ = writeln!(out, "      <failure message=\"{}\" type=\"{}\">{}</failure>", attr(message), attr(kind), text_node(text));
                }
            }
            if !c.out.is_empty() {
                let _ = writeln!(out, "      <system-out>{}</system-out>", text_node(&c.out));
            }
            out.push_str("    </testcase>\n");
        }
        let _ = writeln!(out, "    <system-out/>\n    <system-err/>\n  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

struct Suite {
    name: String,
    started: String,
    millis: u64,
    properties: Vec<(String, String)>,
    cases: Vec<Case>,
}

impl Suite {
    fn failures(&self) -> usize {
        self.cases.iter().filter(|c| matches!(c.outcome, Outcome::Failed { .. })).count()
    }

    fn skipped(&self) -> usize {
        self.cases.iter().filter(|c| matches!(c.outcome, Outcome::Skipped(_))).count()
    }
}

struct Case {
    name: String,
    millis: u64,
    outcome: Outcome,
    out: String,
}

#[derive(PartialEq)]
enum Outcome {
    Passed,
    Skipped(String),
    Failed { message: String, kind: String, text: String },
}

fn suite(run: &RunView, stage: &StageView) -> Suite {
    let mut properties = vec![("uses".to_string(), stage.uses.clone()), ("status".to_string(), stage.status.clone())];
    if let Some(r) = &run.revision {
        properties.push(("revision".to_string(), r.clone()));
    }
    let is_recovery = run.on_failure.as_ref().is_some_and(|o| std::ptr::eq(o, stage));
    if is_recovery {
        properties.push(("on-failure".to_string(), "true".to_string()));
    }
    let cases: Vec<Case> = if stage.steps.is_empty() {
        // A stage that never ran: skipped for every target it would have run on.
        let why = match &run.failed_stage {
            Some(f) if !is_recovery => format!("not run: stage {f} failed first"),
            _ if run.interrupted => "not run: the run was interrupted".to_string(),
            _ => "not run".to_string(),
        };
        let names: Vec<String> = if stage.once { vec!["once".to_string()] } else { run.targets.clone() };
        names.into_iter().map(|name| Case { name, millis: 0, outcome: Outcome::Skipped(why.clone()), out: String::new() }).collect()
    } else {
        stage.steps.iter().map(case).collect()
    };
    // Steps of a stage run at once: the stage takes as long as its longest step.
    let millis = cases.iter().map(|c| c.millis).max().unwrap_or(0);
    let started = stage.steps.iter().map(|s| s.started.as_str()).filter(|s| !s.is_empty()).min().unwrap_or(&run.started).to_string();
    Suite { name: stage.name.clone(), started, millis, properties, cases }
}

fn case(step: &StepView) -> Case {
    let name = step.target.clone().unwrap_or_else(|| "once".to_string());
    let mut out = String::new();
    for l in &step.logs {
        let _ = write!(out, "[{}] {}", if l.level.is_empty() { "info" } else { &l.level }, l.message);
        for (k, v) in &l.fields {
            let _ = write!(out, " {k}={v}");
        }
        out.push('\n');
    }
    if !step.summary.is_empty() {
        let _ = writeln!(out, "summary: {}", step.summary);
    }
    let outcome = match (step.status.as_str(), &step.error) {
        ("succeeded", _) => Outcome::Passed,
        ("skipped", _) => Outcome::Skipped("not run".to_string()),
        (status, error) => {
            let (message, kind, hint) = match error {
                Some(e) => (e.message.clone(), if e.kind.is_empty() { status.to_string() } else { e.kind.clone() }, e.hint.clone()),
                None => (format!("the stage {status}"), status.to_string(), None),
            };
            let text = match hint {
                Some(h) => format!("{message}\nhint: {h}"),
                None => message.clone(),
            };
            Outcome::Failed { message, kind, text }
        }
    };
    Case { name, millis: step.duration_ms, outcome, out }
}

/// Milliseconds as JUnit's seconds, e.g. `1.250`.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// JUnit's timestamp is ISO 8601 without a zone (`2026-11-27T06:00:00`);
/// the record's is RFC 3339 in UTC.
fn timestamp(rfc3339: &str) -> String {
    let t = rfc3339.trim_end_matches('Z');
    let t = t.split('.').next().unwrap_or(t);
    if t.len() == 19 {
        t.to_string()
    } else {
        "1970-01-01T00:00:00".to_string()
    }
}

/// Text XML 1.0 cannot carry as a character (control characters but tab,
/// newline and carriage return; U+FFFE, U+FFFF) written as `\u{…}`.
fn visible(c: char, out: &mut String) -> bool {
    let allowed = matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}' && !('\u{7F}'..='\u{9F}').contains(&c));
    if !allowed {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    }
    !allowed
}

/// Element text: `&`, `<`, `>` as entities (so no `]]>`), the rest as [`visible`] says.
pub fn text_node(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if visible(c, &mut out) => {}
            c => out.push(c),
        }
    }
    out
}

/// An attribute value in double quotes: also `"`, and whitespace as
/// character references so that parsers keep newlines and tabs.
pub fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if visible(c, &mut out) => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::{ErrorView, LogView};
    use std::collections::BTreeMap;

    /// The schema's path (the file beside this one).
    const XSD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/report/junit.xsd");

    fn step(target: Option<&str>, status: &str, ms: u64, error: Option<(&str, &str)>, logs: &[&str]) -> StepView {
        StepView {
            target: target.map(String::from),
            status: status.into(),
            started: "2026-11-27T06:00:01.250Z".into(),
            duration_ms: ms,
            summary: String::new(),
            outputs: serde_json::json!({}),
            error: error.map(|(kind, message)| ErrorView { kind: kind.into(), message: message.into(), hint: Some("look at the canary's pods".into()) }),
            logs: logs.iter().map(|m| LogView { level: "info".into(), source: "plugin".into(), message: m.to_string(), fields: vec![] }).collect(),
        }
    }

    /// A failed run: build once, a canary deploy failing on gcp with nasty
    /// text, a health check skipped, and on-failure run on both targets.
    fn failed_run() -> RunView {
        let stage = |name: &str, once: bool, status: &str, steps: Vec<StepView>| StageView { name: name.into(), uses: format!("builtin:{name}"), once, status: status.into(), steps };
        RunView {
            run_id: "20261127T060000Z-abc123".into(),
            pipeline: "fastapi-app".into(),
            started: "2026-11-27T06:00:00.000Z".into(),
            duration_ms: 12_345,
            status: "failed".into(),
            exit_code: 1,
            revision: Some("4f2a9c1".into()),
            targets: vec!["aws".into(), "gcp".into()],
            failed_stage: Some("deploy-canary".into()),
            stages: vec![
                stage("build", true, "succeeded", vec![step(None, "succeeded", 2_000, None, &["built sha256:abc"])]),
                stage(
                    "deploy-canary",
                    false,
                    "failed",
                    vec![
                        step(Some("aws"), "succeeded", 1_500, None, &["installed fastapi-app-canary revision 1"]),
                        step(Some("gcp"), "failed", 2_750, Some(("failed", "pods <crash> & \"loop\" ]]> \u{1b}[31mred\u{7}")), &["bad ]]> text\u{0}end"]),
                    ],
                ),
                stage("health-check-canary", false, "skipped", vec![]),
            ],
            on_failure: Some(stage("on-failure", false, "succeeded", vec![step(Some("aws"), "succeeded", 500, None, &[]), step(Some("gcp"), "succeeded", 600, None, &[])])),
            ..RunView::default()
        }
    }

    /// Element name, attributes and children of a parsed document.
    #[derive(Debug, Default)]
    struct Node {
        name: String,
        attrs: BTreeMap<String, String>,
        children: Vec<Node>,
        text: String,
    }

    /// Parses `xml` with xmlparser's tokenizer, checking that every end tag
    /// closes the open element (well-formedness the tokenizer leaves to us).
    fn parse(xml: &str) -> Node {
        let mut stack: Vec<Node> = vec![Node::default()];
        for token in xmlparser::Tokenizer::from(xml) {
            match token.unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}")) {
                xmlparser::Token::ElementStart { local, .. } => stack.push(Node { name: local.to_string(), ..Node::default() }),
                xmlparser::Token::Attribute { local, value, .. } => {
                    let top = stack.last_mut().unwrap();
                    assert!(top.attrs.insert(local.to_string(), unescape(value.as_str())).is_none(), "duplicate attribute {local}");
                }
                xmlparser::Token::ElementEnd { end, .. } => match end {
                    xmlparser::ElementEnd::Open => {}
                    xmlparser::ElementEnd::Empty => {
                        let done = stack.pop().unwrap();
                        stack.last_mut().unwrap().children.push(done);
                    }
                    xmlparser::ElementEnd::Close(_, local) => {
                        let done = stack.pop().unwrap();
                        assert_eq!(done.name, local.as_str(), "end tag closes another element");
                        stack.last_mut().unwrap().children.push(done);
                    }
                },
                xmlparser::Token::Text { text } => stack.last_mut().unwrap().text.push_str(&unescape(text.as_str())),
                _ => {}
            }
        }
        assert_eq!(stack.len(), 1, "unclosed elements");
        let mut root = stack.pop().unwrap();
        assert_eq!(root.children.len(), 1, "one root element");
        root.children.pop().unwrap()
    }

    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#10;", "\n").replace("&#13;", "\r").replace("&#9;", "\t").replace("&amp;", "&")
    }

    fn count(n: &Node, attr: &str) -> usize {
        n.attrs[attr].parse().unwrap_or_else(|_| panic!("{attr}={:?} is not a count", n.attrs[attr]))
    }

    #[test]
    fn a_failed_run_gives_a_suite_per_stage_a_case_per_target_and_counts_equal_to_children() {
        let xml = render(&failed_run());
        let root = parse(&xml);
        assert_eq!(root.name, "testsuites");
        let suites: Vec<&Node> = root.children.iter().collect();
        assert_eq!(suites.iter().map(|s| s.attrs["name"].as_str()).collect::<Vec<_>>(), ["build", "deploy-canary", "health-check-canary", "on-failure"]);
        let (mut tests, mut failures, mut skipped) = (0, 0, 0);
        for s in &suites {
            let cases: Vec<&Node> = s.children.iter().filter(|c| c.name == "testcase").collect();
            let with = |child: &str| cases.iter().filter(|c| c.children.iter().any(|x| x.name == child)).count();
            assert_eq!(count(s, "tests"), cases.len(), "{}", s.attrs["name"]);
            assert_eq!(count(s, "failures"), with("failure"), "{}", s.attrs["name"]);
            assert_eq!(count(s, "skipped"), with("skipped"), "{}", s.attrs["name"]);
            assert_eq!(count(s, "errors"), with("error"));
            assert!(cases.iter().all(|c| c.attrs["classname"] == s.attrs["name"]));
            tests += cases.len();
            failures += with("failure");
            skipped += with("skipped");
        }
        assert_eq!((count(&root, "tests"), count(&root, "failures"), count(&root, "skipped")), (tests, failures, skipped));
        assert_eq!((tests, failures, skipped), (7, 1, 2));

        let case = |suite: usize, name: &str| suites[suite].children.iter().find(|c| c.name == "testcase" && c.attrs["name"] == name).unwrap();
        assert_eq!(case(0, "once").attrs["time"], "2.000");
        let gcp = case(1, "gcp");
        assert_eq!(gcp.attrs["time"], "2.750");
        let failure = gcp.children.iter().find(|c| c.name == "failure").unwrap();
        assert_eq!(failure.attrs["type"], "failed");
        assert_eq!(failure.attrs["message"], "pods <crash> & \"loop\" ]]> \\u{1b}[31mred\\u{7}");
        assert!(failure.text.ends_with("\nhint: look at the canary's pods"), "{}", failure.text);
        let out = gcp.children.iter().find(|c| c.name == "system-out").unwrap();
        assert_eq!(out.text, "[info] bad ]]> text\\u{0}end\n");
        assert!(!xml.contains("]]>") && !xml.contains('\u{1b}') && !xml.contains('\u{0}'), "raw markup end or control characters left");
        let skipped = case(2, "aws").children.iter().find(|c| c.name == "skipped").unwrap();
        assert_eq!(skipped.attrs["message"], "not run: stage deploy-canary failed first");
        assert_eq!(suites[1].attrs["time"], "2.750", "a stage lasts as long as its longest target");
        assert_eq!(suites[0].attrs["timestamp"], "2026-11-27T06:00:01");
    }

    #[test]
    fn the_report_validates_against_the_junit_schema_with_xmllint() {
        let Some(xmllint) = xmllint() else { return };
        let dir = tempfile::tempdir().unwrap();
        let ok = RunView { run_id: "r".into(), pipeline: "p".into(), status: "succeeded".into(), targets: vec!["aws".into()], ..RunView::default() };
        for (name, run) in [("failed.xml", failed_run()), ("empty.xml", ok)] {
            let path = dir.path().join(name);
            std::fs::write(&path, render(&run)).unwrap();
            let out = std::process::Command::new(&xmllint).args(["--noout", "--schema", XSD]).arg(&path).output().unwrap();
            assert!(out.status.success(), "{name} does not validate:\n{}\n{}", String::from_utf8_lossy(&out.stderr), render(&run));
        }
    }

    /// xmllint from PATH: missing fails under `CI`, skips locally with a message.
    fn xmllint() -> Option<std::path::PathBuf> {
        let found = std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("xmllint")).find(|p| p.is_file()));
        if found.is_none() {
            let why = "xmllint is not installed (Debian: apt-get install libxml2-utils; .ci/run installs it)";
            if std::env::var_os("CI").is_some() {
                panic!("{why}");
            }
            eprintln!("skipped: {why}");
        }
        found
    }

    #[test]
    fn escaping_keeps_markup_out_and_control_characters_visible() {
        assert_eq!(text_node("a<b>&]]>c"), "a&lt;b&gt;&amp;]]&gt;c");
        assert_eq!(text_node("tab\tnl\ncr\r"), "tab\tnl\ncr\r");
        assert_eq!(text_node("\u{1b}[0m\u{7f}\u{fffe}é"), "\\u{1b}[0m\\u{7f}\\u{fffe}é");
        assert_eq!(attr("\"x\"\n\ty"), "&quot;x&quot;&#10;&#9;y");
        assert_eq!(seconds(1_005), "1.005");
        assert_eq!(timestamp("2026-11-27T06:00:00.123Z"), "2026-11-27T06:00:00");
    }
}
