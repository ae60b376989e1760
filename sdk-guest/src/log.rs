//! The host's capped per-call log. Natively (unit tests of a plugin) lines go to stderr.

#[cfg(target_arch = "wasm32")]
use crate::bindings::types::gatehouse::types::log as raw;

pub use crate::bindings::types::gatehouse::types::log::Level;

/// Logs one line. The host keeps at most a few KiB per call and drops the rest.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    raw::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

pub fn debug(message: &str) {
    log(Level::Debug, message);
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn warn(message: &str) {
    log(Level::Warn, message);
}

pub fn error(message: &str) {
    log(Level::Error, message);
}
