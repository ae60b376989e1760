//! Gatehouse's domain: the records admins manage, the rules they must satisfy, the services that
//! apply those rules, and the store traits the backends implement.
//!
//! This crate knows no web framework, database driver or WebAssembly engine (see
//! `docs/architecture.md`): the server, the store and the plugin host depend on it, never the
//! other way round.

pub mod admin;
pub mod api_key;
pub mod app;
pub mod audit;
pub mod change;
pub mod clock;
pub mod emulator;
pub mod error;
pub mod event;
pub mod id;
pub mod idempotency;
pub mod page;
pub mod plugin;
pub mod principal;
pub mod redirect_uri;
pub mod secret;
pub mod services;
pub mod store;
pub mod sync;
pub mod tenant;
pub mod timestamp;
pub mod validate;
pub mod webhook;

pub use error::{Error, Result, StoreError};
pub use timestamp::Timestamp;
