//! `clock`: wall time, the time left, and a sleep that yields the thread.
//! A sleep never outlives the call: it ends at the deadline or when the run
//! is cancelled, and the guest is stopped with that cause.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::bindings::wit::clock::Host;
use crate::sandbox::{HostState, Stop};

impl Host for HostState {
    async fn now_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0))
    }

    async fn remaining_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(self.deadline.saturating_duration_since(Instant::now()).as_millis() as u64)
    }

    async fn sleep_ms(&mut self, ms: u64) -> wasmtime::Result<()> {
        let wake = Instant::now() + Duration::from_millis(ms);
        let until = wake.min(self.deadline);
        let cancel = self.env.cancel.clone();
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => {}
            _ = cancel.cancelled() => {
                self.stop = Some(Stop::Interrupted);
                return Err(wasmtime::format_err!("interrupted"));
            }
        }
        if wake > self.deadline {
            self.stop = Some(Stop::Deadline);
            return Err(wasmtime::format_err!("deadline exceeded while sleeping"));
        }
        Ok(())
    }
}
