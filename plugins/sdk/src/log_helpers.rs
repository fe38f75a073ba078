//! Logging from a plugin: `info!`, `warn!`, `error!`, `debug!` and progress.
//! Lines go to the host's run log through the `log` interface (always
//! granted); they are never printed by the plugin itself.

use crate::bindings::host::gantry::deploy::log as wit;
use crate::types::Pair;

pub use wit::Level;

/// Emit one line with structured fields.
pub fn emit(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<Pair> = fields
        .iter()
        .map(|(k, v)| Pair { key: (*k).to_string(), value: (*v).to_string() })
        .collect();
    wit::emit(level, message, &fields);
}

/// Report progress: `done` of `total` (0 when unknown).
pub fn progress(message: &str, done: u64, total: u64) {
    wit::progress(message, done, total);
}

/// `info!("deploying {}", release)`
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::emit($crate::Level::Info, &::std::format!($($arg)*), &[]) };
}

/// `warn!("canary restarts: {}", n)`
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::emit($crate::Level::Warn, &::std::format!($($arg)*), &[]) };
}

/// `error!("probe failed: {}", e)`
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::emit($crate::Level::Error, &::std::format!($($arg)*), &[]) };
}

/// `debug!("raw response: {}", body)`
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::emit($crate::Level::Debug, &::std::format!($($arg)*), &[]) };
}
