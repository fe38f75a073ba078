//! `log`: plugin log lines into the run log, charged to the call's budget.
//! A plugin that spends its budget is trapped; the call then fails as a
//! log flood.

use crate::bindings::wit::log::{Host, Level as WitLevel};
use crate::bindings::wit::types::Pair;
use crate::context::{Level, LogLine, Source};
use crate::sandbox::{HostState, Stop};

fn level(l: WitLevel) -> Level {
    match l {
        WitLevel::Trace => Level::Trace,
        WitLevel::Debug => Level::Debug,
        WitLevel::Info => Level::Info,
        WitLevel::Warn => Level::Warn,
        WitLevel::Error => Level::Error,
    }
}

impl HostState {
    fn log_line(&mut self, line: LogLine) -> wasmtime::Result<()> {
        if self.log().line(line) {
            Ok(())
        } else {
            self.stop = Some(Stop::LogFlood);
            Err(wasmtime::format_err!("log output budget exceeded"))
        }
    }
}

impl Host for HostState {
    async fn emit(&mut self, level_: WitLevel, message: String, fields: Vec<Pair>) -> wasmtime::Result<()> {
        let fields = fields.into_iter().map(|p| (p.key, p.value)).collect();
        self.log_line(LogLine { level: level(level_), source: Source::Plugin, message, fields, progress: None })
    }

    async fn progress(&mut self, message: String, done: u64, total: u64) -> wasmtime::Result<()> {
        self.log_line(LogLine { level: Level::Info, source: Source::Plugin, message, fields: vec![], progress: Some((done, total)) })
    }
}
