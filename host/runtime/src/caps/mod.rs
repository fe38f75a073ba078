//! The host side of each capability interface, one module per interface.
//!
//! Each module implements the generated `Host` trait for `HostState`: check
//! the call against the stage's scope, then hand it to the run's backend —
//! or, when the run has none, answer a typed `unavailable` error that names
//! the capability and the fix. Never a fake success.

mod cluster;
mod helm;
mod http_probe;
mod images;
mod log;
mod metrics;
mod run;
pub(crate) use run::target_info;
mod scanner;
mod time;
mod types;

use crate::bindings::wit::types::CapError;
use crate::context::Level;
use crate::sandbox::HostState;

impl HostState {
    /// Record a denied call in the run log and hand the error back.
    pub(crate) fn deny(&self, call: &str, error: CapError) -> CapError {
        tracing::warn!(call, reason = %error.message, "capability call denied");
        self.log().host(Level::Warn, format!("denied {call}: {}", error.message));
        error
    }
}

/// The value, or the capability error as the call's answer.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        }
    };
}
pub(crate) use tri;
