//! The per-call sandbox: one store, one `HostState`, thrown away after the
//! call. WASI gets no preopened directories, no environment, no network and
//! no stdin; stdout and stderr go into the run log under a byte budget that
//! the `log` interface shares. Memory growth past the cap and a flood of
//! output stop the guest with a trap whose cause the host records here, so
//! the error can say what happened instead of "unreachable".

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::context::{CallEnv, Level, LogLine, Source};

/// Why the host stopped a guest, recorded where the trap happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Deadline,
    Interrupted,
    MemoryCap { requested: u64 },
    LogFlood,
}

/// The run-log writer of one call: lines to the sink, bytes counted against
/// the cap. Shared by the `log` interface and the stdout/stderr streams.
pub(crate) struct LogBudget {
    env: CallEnv,
    used: usize,
    flooded: bool,
    partial: [Vec<u8>; 2],
    stderr_tail: String,
}

pub(crate) type SharedLog = Arc<Mutex<LogBudget>>;

impl LogBudget {
    pub(crate) fn new(env: CallEnv) -> SharedLog {
        Arc::new(Mutex::new(LogBudget {
            env,
            used: 0,
            flooded: false,
            partial: [Vec::new(), Vec::new()],
            stderr_tail: String::new(),
        }))
    }

    /// Charge `n` bytes; false (and flooded) when over the cap.
    fn charge(&mut self, n: usize) -> bool {
        if self.flooded {
            return false;
        }
        self.used = self.used.saturating_add(n);
        if self.used > self.env.limits.log_bytes {
            self.flooded = true;
            (self.env.log)(LogLine {
                level: Level::Error,
                source: Source::Host,
                message: format!(
                    "plugin exceeded its log budget of {} bytes; stopping it",
                    self.env.limits.log_bytes
                ),
                fields: vec![],
                progress: None,
            });
            return false;
        }
        true
    }

    /// A line from the `log` interface. False when the budget is spent.
    pub(crate) fn line(&mut self, line: LogLine) -> bool {
        let cost = line.message.len() + line.fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        if !self.charge(cost) {
            return false;
        }
        (self.env.log)(line);
        true
    }

    /// A note from the host about the plugin; not charged to the plugin.
    pub(crate) fn host(&mut self, level: Level, message: String) {
        (self.env.log)(LogLine { level, source: Source::Host, message, fields: vec![], progress: None });
    }

    /// Bytes written to stdout (0) or stderr (1); complete lines are logged.
    fn write(&mut self, stream: usize, bytes: &[u8]) -> bool {
        if !self.charge(bytes.len()) {
            return false;
        }
        self.partial[stream].extend_from_slice(bytes);
        while let Some(pos) = self.partial[stream].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial[stream].drain(..=pos).collect();
            self.emit_stream_line(stream, &line[..line.len() - 1]);
        }
        true
    }

    fn emit_stream_line(&mut self, stream: usize, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes).trim_end_matches('\r').to_string();
        if text.trim().is_empty() {
            return;
        }
        let (level, source) = if stream == 0 { (Level::Info, Source::Stdout) } else { (Level::Warn, Source::Stderr) };
        if stream == 1 {
            self.stderr_tail.push_str(&text);
            self.stderr_tail.push('\n');
            if self.stderr_tail.len() > 4096 {
                let cut = self.stderr_tail.len() - 4096;
                let cut = (cut..self.stderr_tail.len()).find(|i| self.stderr_tail.is_char_boundary(*i)).unwrap_or(0);
                self.stderr_tail.drain(..cut);
            }
        }
        (self.env.log)(LogLine { level, source, message: text, fields: vec![], progress: None });
    }

    /// Flush unterminated output at the end of the call.
    pub(crate) fn finish(&mut self) {
        for stream in 0..2 {
            if !self.partial[stream].is_empty() {
                let rest = std::mem::take(&mut self.partial[stream]);
                self.emit_stream_line(stream, &rest);
            }
        }
    }

    pub(crate) fn flooded(&self) -> bool {
        self.flooded
    }

    pub(crate) fn stderr_tail(&self) -> String {
        self.stderr_tail.clone()
    }
}

/// Caps linear memory and tables; records what it refused.
pub(crate) struct Limiter {
    pub(crate) memory_cap: u64,
    pub(crate) refused: Option<u64>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory_cap {
            self.refused = Some(desired as u64);
            return Err(wasmtime::format_err!("memory cap of {} bytes exceeded", self.memory_cap));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// The state of one store.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) env: CallEnv,
    pub(crate) log: SharedLog,
    pub(crate) deadline: Instant,
    pub(crate) stop: Option<Stop>,
}

impl HostState {
    pub(crate) fn new(env: CallEnv) -> HostState {
        let log = LogBudget::new(env.clone());
        let mut wasi = wasmtime_wasi::WasiCtxBuilder::new();
        wasi.stdin(tokio::io::empty())
            .stdout(CapturedOutput { log: log.clone(), stream: 0 })
            .stderr(CapturedOutput { log: log.clone(), stream: 1 })
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        HostState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: Limiter { memory_cap: env.limits.memory, refused: None },
            deadline: Instant::now() + env.limits.timeout,
            log,
            env,
            stop: None,
        }
    }

    /// Lock the log; a poisoned lock (a panic elsewhere) still yields it.
    pub(crate) fn log(&self) -> std::sync::MutexGuard<'_, LogBudget> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// The guest's stdout or stderr.
struct CapturedOutput {
    log: SharedLog,
    stream: usize,
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(CapturedStream { log: self.log.clone(), stream: self.stream })
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(CapturedStream { log: self.log.clone(), stream: self.stream })
    }
}

struct CapturedStream {
    log: SharedLog,
    stream: usize,
}

impl CapturedStream {
    fn write_bytes(&self, bytes: &[u8]) -> bool {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).write(self.stream, bytes)
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedStream {
    async fn ready(&mut self) {}
}

impl OutputStream for CapturedStream {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        if self.write_bytes(&bytes) {
            Ok(())
        } else {
            Err(StreamError::Trap(wasmtime::format_err!("log output budget exceeded")))
        }
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for CapturedStream {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if self.write_bytes(buf) {
            Poll::Ready(Ok(buf.len()))
        } else {
            Poll::Ready(Err(std::io::Error::other("log output budget exceeded")))
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
