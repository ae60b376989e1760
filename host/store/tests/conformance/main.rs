//! One conformance suite, run against every backend: SQLite always, PostgreSQL when reachable
//! (`GATEHOUSE_TEST_DATABASE_URL`, default the local server). With `STRICT=1` an unreachable
//! PostgreSQL fails the suite instead of being skipped.

mod admin;
mod api_keys;
mod apps;
mod audit_events;
mod backends;
mod idempotency;
mod misc;
mod plugins;
mod sync;
mod tenants;
mod webhooks;

pub use backends::{Backend, for_each_backend};
