//! The host side of each capability interface, one module per interface.
//!
//! Each module implements the generated `Host` trait for `HostState`: check
//! the call against the stage's scope, then do the work — or, for the
//! capabilities whose backends arrive in later work (clusters, Helm,
//! registries, builds, scans, metrics), answer a typed `unsupported`
//! error that names the capability. Never a fake success.

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

use crate::bindings::wit::types::{CapError, ErrorKind};
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

/// The answer of a capability whose backend is not part of this build.
pub(crate) fn unsupported(capability: &str, call: &str) -> CapError {
    CapError {
        kind: ErrorKind::Unsupported,
        capability: capability.to_string(),
        message: format!("`{capability}.{call}` is not available in this build of gantry: the {capability} capability has no backend yet"),
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

/// Check the scope, then answer `unsupported`: the shape every capability
/// without a backend shares, so scoping is enforced from day one.
macro_rules! scoped_unsupported {
    ($state:expr, $cap:literal, $call:literal, [$($check:expr),* $(,)?]) => {{
        $(
            if let Err(e) = $check {
                return Ok(Err($state.deny(concat!($cap, ".", $call), e)));
            }
        )*
        Ok(Err($crate::caps::unsupported($cap, $call)))
    }};
}
pub(crate) use scoped_unsupported;
