//! How gantry talks to people and machines: tracing to stderr, live progress
//! (spinners on a terminal, plain timestamped lines in CI or a pipe), JSON
//! events with `--output json`, diagnostics, the end-of-run table (which
//! `gantry history RUN_ID` prints again from the record) and the tables of
//! `history` and `status`. All of it is a view over the engine's events
//! and records; nothing here changes a run.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gantry_engine::event::{Event, EventSink, RunStatus, StepStatus};
use gantry_runtime::{Level, Source};
use gantry_engine::report::RunView;
use gantry_engine::{Diagnostics, RunOutcome};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub format: Format,
    pub quiet: bool,
    /// `-v`: every run-log line in human output, detail included.
    pub verbose: bool,
}

/// Logs go to stderr; `RUST_LOG` overrides the level from -v/-q.
pub fn init_tracing(verbose: u8, quiet: bool, format: Format) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        // The daemonless builder's warnings (a skipped RUN) reach the run's
        // log as build lines already; once is enough.
        (false, 0) => "warn,gantry_registry::daemonless=error",
        (false, 1) => "gantry=debug,gantry_engine=debug,gantry_runtime=debug,info",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let _ = match format {
        Format::Json => builder.json().try_init(),
        Format::Human => builder.compact().try_init(),
    };
}

/// Print every diagnostic of a bad pipeline file.
pub fn diagnostics(ctx: Ctx, d: &Diagnostics) {
    match ctx.format {
        Format::Json => {
            let line = serde_json::json!({ "event": "invalid", "diagnostics": d.0 });
            println!("{line}");
        }
        Format::Human => {
            for diag in &d.0 {
                eprintln!("error: {diag}");
            }
        }
    }
}

/// An error that is not the pipeline file's fault.
pub fn error(ctx: Ctx, message: &str) {
    match ctx.format {
        Format::Json => println!("{}", serde_json::json!({ "event": "error", "message": message })),
        Format::Human => eprintln!("error: {message}"),
    }
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// The event sink for a run, per output format and terminal. With
/// `--output json` the `run-finished` event is held back: [`summary`]
/// prints it, with every target's final state.
pub fn sink(ctx: Ctx) -> EventSink {
    match ctx.format {
        Format::Json => Arc::new(|e: &Event| {
            if matches!(e, Event::RunFinished { .. }) {
                return;
            }
            let mut out = std::io::stdout().lock();
            let _ = serde_json::to_writer(&mut out, e);
            let _ = writeln!(out);
        }),
        Format::Human if ctx.quiet => Arc::new(|_| {}),
        Format::Human if std::io::stderr().is_terminal() && !in_ci() => {
            let live = Mutex::new(Live { bars: MultiProgress::new(), steps: BTreeMap::new(), shown: Shown::new(ctx.verbose) });
            Arc::new(move |e: &Event| live.lock().unwrap_or_else(|p| p.into_inner()).event(e))
        }
        Format::Human => {
            let shown = Mutex::new(Shown::new(ctx.verbose));
            Arc::new(move |e: &Event| {
                let show = shown.lock().unwrap_or_else(|p| p.into_inner()).plain(e);
                if show {
                    plain(e);
                }
            })
        }
    }
}

/// Which run-log lines human output shows (the record keeps them all):
/// without `-v`, no debug lines, and once the host reports a step's
/// progress (a build's steps, a wait's intervals) the step's plugin lines
/// below a warning are detail — the host's lines say what they say
/// (the analysis verdict of each interval). Plain output also thins a
/// step's progress lines to about ten (the first, the last, every tenth
/// of the way, and every warning).
struct Shown {
    verbose: bool,
    /// Per stage/target: whether the host reported progress, and the tenth last shown.
    steps: BTreeMap<String, (bool, Option<u64>)>,
}

impl Shown {
    fn new(verbose: bool) -> Shown {
        Shown { verbose, steps: BTreeMap::new() }
    }

    /// Whether a live view shows `e` (it draws progress on the spinner itself).
    fn live(&mut self, e: &Event) -> bool {
        let Event::Log { stage, target, line } = e else { return true };
        if self.verbose || line.level >= Level::Warn {
            return true;
        }
        let seen = self.steps.entry(label(stage, target)).or_insert((false, None));
        if line.source == Source::Host && line.progress.is_some() {
            seen.0 = true;
        }
        line.level >= Level::Info && !(seen.0 && line.source != Source::Host)
    }

    /// Whether plain output prints `e`.
    fn plain(&mut self, e: &Event) -> bool {
        if !self.live(e) {
            return false;
        }
        let Event::Log { stage, target, line } = e else { return true };
        let (Some((done, total)), false) = (line.progress, self.verbose || line.level >= Level::Warn) else { return true };
        if total == 0 {
            return true;
        }
        let tenth = done.saturating_mul(10) / total;
        let seen = self.steps.entry(label(stage, target)).or_insert((true, None));
        let show = done == total || seen.1.is_none_or(|last| tenth > last);
        if show {
            seen.1 = Some(tenth);
        }
        show
    }
}

fn label(stage: &str, target: &Option<String>) -> String {
    match target {
        Some(t) => format!("{stage}/{t}"),
        None => stage.to_string(),
    }
}

fn mark(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Succeeded => "✓",
        StepStatus::Failed => "✗",
        StepStatus::Interrupted => "⚠",
        StepStatus::Skipped => "-",
    }
}

fn secs(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

/// One line per event, for CI logs and pipes.
fn plain(e: &Event) {
    let now = time::OffsetDateTime::now_utc();
    let ts = format!("{:02}:{:02}:{:02}", now.hour(), now.minute(), now.second());
    let line = match e {
        Event::RunStarted { run_id, pipeline, stages, targets, .. } => {
            format!("{ts} run {run_id}: pipeline {pipeline}, {} stages × {} targets ({})", stages.len(), targets.len(), targets.join(", "))
        }
        Event::StageStarted { stage, recovering: true, .. } => format!("{ts} on-failure: {stage}"),
        Event::StageStarted { .. } => return,
        Event::StepStarted { stage, target } => format!("{ts} {} started", label(stage, target)),
        Event::Log { stage, target, line } => {
            let progress = line.progress.map(|(d, t)| if t > 0 { format!(" [{d}/{t}]") } else { format!(" [{d}]") }).unwrap_or_default();
            format!("{ts} {} | {}{progress}", label(stage, target), line.message)
        }
        Event::StepFinished { stage, target, status, duration_ms, summary, error } => {
            let detail = match error {
                Some(e) => format!("{}{}", e.message, e.hint.as_ref().map(|h| format!(" (hint: {h})")).unwrap_or_default()),
                None => summary.clone(),
            };
            format!("{ts} {} {} {} in {}: {detail}", mark(*status), label(stage, target), status.as_str(), secs(*duration_ms))
        }
        Event::StageFinished { .. } => return,
        Event::Interrupted { signal } => format!("{ts} {signal}: stopping the running stages, then running on-failure (again to abort)"),
        Event::RecoveryStarted { failed_stage, targets } => format!("{ts} stage {failed_stage} failed: running on-failure on {}", if targets.is_empty() { "no target (nothing was touched)".to_string() } else { targets.join(", ") }),
        Event::RunFinished { .. } => return,
    };
    eprintln!("{line}");
}

/// Spinners per stage × target on a terminal.
struct Live {
    bars: MultiProgress,
    steps: BTreeMap<String, ProgressBar>,
    shown: Shown,
}

impl Live {
    fn event(&mut self, e: &Event) {
        if !self.shown.live(e) {
            return;
        }
        match e {
            Event::StepStarted { stage, target } => {
                let bar = self.bars.add(ProgressBar::new_spinner());
                if let Ok(style) = ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed:.dim}") {
                    bar.set_style(style);
                }
                bar.set_prefix(label(stage, target));
                bar.enable_steady_tick(Duration::from_millis(100));
                self.steps.insert(label(stage, target), bar);
            }
            Event::Log { stage, target, line } => {
                let key = label(stage, target);
                match (self.steps.get(&key), line.progress) {
                    (Some(bar), Some((done, total))) if total > 0 => bar.set_message(format!("{} {}%", line.message, done * 100 / total)),
                    (Some(bar), _) => {
                        bar.set_message(line.message.clone());
                        let _ = self.bars.println(format!("  {key} | {}", line.message));
                    }
                    (None, _) => {
                        let _ = self.bars.println(format!("  {key} | {}", line.message));
                    }
                }
            }
            Event::StepFinished { stage, target, status, duration_ms, summary, error } => {
                if let Some(bar) = self.steps.remove(&label(stage, target)) {
                    let detail = error.as_ref().map(|e| e.message.clone()).unwrap_or_else(|| summary.clone());
                    bar.set_style(ProgressStyle::with_template("{prefix:.bold} {wide_msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
                    bar.finish_with_message(format!("{} {} {detail}", mark(*status), secs(*duration_ms)));
                }
            }
            Event::Interrupted { .. } | Event::RecoveryStarted { .. } | Event::StageStarted { recovering: true, .. } => {
                self.bars.suspend(|| plain(e));
            }
            _ => {}
        }
    }
}

/// The end of a run. Human: the table of stages down and targets across,
/// each error, every target's final state, then the verdict (`gantry
/// history RUN_ID` prints the same for a past run). JSON: the
/// `run-finished` event, with `final_state`.
pub fn summary(ctx: Ctx, outcome: &RunOutcome) {
    let r = &outcome.record;
    let view = RunView::of(r);
    if ctx.format == Format::Json {
        let finished = Event::RunFinished { run_id: r.run_id.clone(), status: outcome.status, duration_ms: r.duration_ms, record: outcome.record_path.as_ref().map(|p| p.display().to_string()) };
        let mut line = serde_json::to_value(&finished).unwrap_or_default();
        line["final_state"] = serde_json::to_value(&view.final_state).unwrap_or_default();
        println!("{line}");
        return;
    }
    if !ctx.quiet {
        eprint!("\n{}{}", stage_table(&view), final_state(&view.final_state));
    }
    let verdict = match outcome.status {
        RunStatus::Succeeded => "succeeded".to_string(),
        RunStatus::Failed if outcome.interrupted => "interrupted; on-failure ran".to_string(),
        RunStatus::Failed => format!("failed at stage {}; on-failure ran", r.failed_stage.as_deref().unwrap_or("?")),
        RunStatus::RollbackFailed => format!("failed at stage {}, and on-failure failed too: inspect the targets by hand", r.failed_stage.as_deref().unwrap_or("?")),
    };
    let record = outcome.record_path.as_ref().map(|p| format!(" — record: {}", p.display())).unwrap_or_default();
    eprintln!("run {} {verdict} in {}{record}", r.run_id, secs(r.duration_ms));
}

fn view_mark(status: &str) -> &'static str {
    match status {
        "succeeded" => mark(StepStatus::Succeeded),
        "failed" => mark(StepStatus::Failed),
        "interrupted" => mark(StepStatus::Interrupted),
        "skipped" => mark(StepStatus::Skipped),
        _ => "?",
    }
}

/// A run's stages down and targets across (`✓ 1.2s`, `- skipped`, `(once)`
/// for a stage that ran once), the on-failure stage last; then one line per
/// error with its hint.
pub fn stage_table(run: &RunView) -> String {
    let cols = &run.targets;
    let mut rows: Vec<Vec<String>> = Vec::new();
    for s in run.all_stages() {
        let mut cells = vec![String::new(); cols.len()];
        if s.status == "skipped" {
            cells.iter_mut().for_each(|c| *c = "- skipped".into());
        }
        for step in &s.steps {
            let cell = format!("{} {}", view_mark(&step.status), secs(step.duration_ms));
            match &step.target {
                Some(t) => {
                    if let Some(i) = cols.iter().position(|c| c == t) {
                        cells[i] = cell;
                    }
                }
                None => cells.iter_mut().for_each(|c| *c = format!("{cell} (once)")),
            }
        }
        rows.push(std::iter::once(s.name.clone()).chain(cells).collect());
    }
    let header: Vec<String> = std::iter::once("STAGE".to_string()).chain(cols.iter().map(|c| c.to_uppercase())).collect();
    let mut out = table(&header, &rows);
    for s in run.all_stages() {
        for step in &s.steps {
            if let Some(e) = &step.error {
                out.push_str(&format!("{} {}: {}\n", view_mark(&step.status), label(&s.name, &step.target), e.message));
                if let Some(h) = &e.hint {
                    out.push_str(&format!("  hint: {h}\n"));
                }
            }
        }
    }
    out
}

/// Every target as the run left it, one line each: the stable release
/// (its revision and digest when this run deployed it), the canary, and
/// what on-failure undid there.
pub fn final_state(states: &[gantry_engine::report::TargetState]) -> String {
    if states.is_empty() {
        return String::new();
    }
    let width = states.iter().map(|s| s.target.chars().count()).max().unwrap_or(0);
    let mut out = String::from("final state:\n");
    for s in states {
        let release = s.release.as_deref().unwrap_or("stable");
        let stable = match s.stable.as_str() {
            "promoted" => format!(
                "stable {release} revision {} runs {} (promoted by this run{})",
                s.revision.map(|r| r.to_string()).unwrap_or_else(|| "?".into()),
                s.digest.as_deref().map(short_digest).or(s.image.clone()).unwrap_or_else(|| "?".into()),
                s.health.as_deref().map(|h| format!(", {h}")).unwrap_or_default()
            ),
            "rolled-back" => format!("stable {release} rolled back to revision {} by on-failure", s.revision.map(|r| r.to_string()).unwrap_or_else(|| "?".into())),
            "uninstalled" => format!("stable {release} uninstalled by on-failure (this run had installed it first)"),
            "unknown" => format!("on-failure failed here ({}): inspect it with `gantry status`", s.on_failure_error.as_deref().unwrap_or("no error recorded")),
            _ => "stable unchanged by this run".to_string(),
        };
        let canary = s.canary_release.as_deref().unwrap_or("the canary");
        let canary = match (s.canary.as_str(), s.canary_removed_by.as_deref()) {
            ("removed", Some("promotion")) => format!("{canary} removed after the promotion; no canary left"),
            ("removed", _) => format!("{canary} removed by on-failure; no canary left"),
            ("left", _) => format!("{canary} still installed"),
            ("unknown", _) => format!("{canary} may still be installed"),
            _ => "no canary installed".to_string(),
        };
        let interrupted = if s.interrupted.is_empty() { String::new() } else { format!("; interrupted here: {} (not recorded: `gantry status` shows what is live)", s.interrupted.join(", ")) };
        out.push_str(&format!("  {:width$}  {stable}; {canary}{interrupted}\n", s.target));
    }
    out
}

/// Rows under a header, each column padded to its widest cell, two spaces
/// apart, no trailing spaces.
pub fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let n = header.len();
    let widths: Vec<usize> = (0..n).map(|i| std::iter::once(&header[i]).chain(rows.iter().filter_map(|r| r.get(i))).map(|c| c.chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows.iter().map(|r| r.as_slice())) {
        let mut line = String::new();
        for (i, w) in widths.iter().enumerate() {
            let cell = row.get(i).map(String::as_str).unwrap_or("");
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', w.saturating_sub(cell.chars().count())));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Milliseconds for people: `12.3s`, `4m05s`, `1h02m`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => secs(ms),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// An RFC 3339 UTC time for people: `2026-11-27 06:00:00` (as given when it is not one).
pub fn when(rfc3339: &str) -> String {
    match (rfc3339.get(0..10), rfc3339.get(11..19)) {
        (Some(d), Some(t)) if rfc3339.as_bytes().get(10) == Some(&b'T') => format!("{d} {t}"),
        _ => rfc3339.to_string(),
    }
}

/// A digest shortened for a table: `sha256:` and 12 hex digits.
pub fn short_digest(digest: &str) -> String {
    match digest.strip_prefix("sha256:") {
        Some(hex) if hex.len() > 12 => format!("sha256:{}", &hex[..12]),
        _ => digest.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_and_trim_line_ends() {
        let t = table(&["A".into(), "BB".into()], &[vec!["xyz".into(), "1".into()], vec!["é".into(), String::new()]]);
        assert_eq!(t, "A    BB\nxyz  1\né\n");
    }

    #[test]
    fn durations_times_and_digests_read_for_people() {
        assert_eq!((duration(1_250), duration(125_000), duration(3_720_000)), ("1.2s".to_string(), "2m05s".to_string(), "1h02m".to_string()));
        assert_eq!(when("2026-11-27T06:00:00.123Z"), "2026-11-27 06:00:00");
        assert_eq!(short_digest(&format!("sha256:{}", "a".repeat(64))), "sha256:aaaaaaaaaaaa");
    }

    #[test]
    fn a_run_table_has_stages_down_targets_across_and_its_errors() {
        let run: RunView = serde_json::from_value(serde_json::json!({
            "targets": ["aws", "gcp"],
            "stages": [
                {"name": "build", "status": "succeeded", "once": true, "steps": [{"status": "succeeded", "duration_ms": 1000}]},
                {"name": "deploy", "status": "failed", "steps": [
                    {"target": "aws", "status": "succeeded", "duration_ms": 2000},
                    {"target": "gcp", "status": "failed", "duration_ms": 500, "error": {"kind": "failed", "message": "boom", "hint": "look"}}]},
                {"name": "check", "status": "skipped"}],
        }))
        .unwrap();
        let t = stage_table(&run);
        assert!(t.starts_with("STAGE   AWS            GCP\nbuild   ✓ 1.0s (once)  ✓ 1.0s (once)\n"), "{t}");
        assert!(t.contains("deploy  ✓ 2.0s         ✗ 0.5s\n"), "{t}");
        assert!(t.contains("check   - skipped      - skipped\n"), "{t}");
        assert!(t.ends_with("✗ deploy/gcp: boom\n  hint: look\n"), "{t}");
    }
}
