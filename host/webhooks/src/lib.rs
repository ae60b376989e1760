//! Webhook delivery: Standard Webhooks signing, retries, dead letters, replay.

pub mod signing;
