//! Webhook delivery: Standard Webhooks signing, the delivery pipeline (fan-out, claims,
//! retries, dead letters), endpoint management and replay.
//!
//! - [`signing`]: `whsec_` secrets, `v1` signatures, verification.
//! - [`service::Webhooks`]: endpoint CRUD, secret rotation, test sends, replay — what the API
//!   calls. Every mutation is audited through a [`Change`](gatehouse_core::change::Change).
//! - [`worker::Worker`]: one per replica; fans events out into deliveries, claims due ones,
//!   attempts them through the egress client and records every attempt.
//! - [`send::Sender`]: one attempt (transform, sign, send, judge the answer).
//! - [`transform::Transformer`]: the seam to the plugin runtime.
//!
//! See `docs/webhooks.md` for the behaviour operators and receivers see.

mod metrics;
pub mod send;
pub mod service;
pub mod signing;
pub mod transform;
pub mod worker;

pub use send::{Sender, Target, Verdict};
pub use service::{CreatedEndpoint, Webhooks};
pub use transform::{NoTransforms, TransformError, Transformed, Transformer};
pub use worker::{Worker, WorkerConfig};
