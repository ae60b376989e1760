//! Integration tests for gatehouse-webhooks.

mod delivery;
mod standard_webhooks;
mod support;
