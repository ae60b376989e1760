//! The WebAssembly plugin host: wasmtime engine, limits, per-WIT-version bindings, signed
//! packages and the trust store.
//!
//! - [`PluginHost`] owns one wasmtime [`Engine`](wasmtime::Engine) (component model, pooling
//!   allocator sized explicitly, epoch interruption driven by a ticker thread, never fuel in
//!   production), the linker (WASI p2 over an empty context, the capped `log` import) and the
//!   compile cache. Every call gets a fresh instance, runs on one of a fixed set of call
//!   threads, under the plugin's [`Limits`], and fails with a typed [`PluginError`].
//! - [`Plugin`] is a loaded plugin: cheap to clone, shared by every call.
//! - [`package`] verifies signed packages (minisign over `manifest.toml`, every file hashed)
//!   before anything else is parsed; [`signing`] makes keys and signatures; [`trust`] is an
//!   in-memory [`TrustStore`](gatehouse_core::plugin::TrustStore).
//! - [`builtin`] lists the plugins shipped inside the binary.
//!
//! See `docs/plugins.md` for authors and ops, `docs/performance.md` for measured costs.

mod bindings;
pub mod builtin;
mod cache;
mod call;
mod engine;
mod error;
mod health;
mod host;
pub mod inspect;
mod limits;
mod metrics;
pub mod package;
mod pool;
pub mod scaffold;
pub mod signing;
mod state;
pub mod trust;
pub mod types;
mod validate;

pub use builtin::{BuiltinPlugin, builtin_plugins};
pub use call::{Call, CallReport, CallResult, LogLine, Output};
pub use error::{HostError, LoadError, PluginError, PluginFailure};
pub use gatehouse_core::plugin::PluginKind;
pub use health::DisableSink;
pub use host::{HostConfig, Plugin, PluginHost, PluginSpec, PoolConfig, ReusedWebhook};
pub use inspect::{WitVersion, latest_wit_version, supported_wit_versions};
pub use limits::Limits;
pub use types::*;
