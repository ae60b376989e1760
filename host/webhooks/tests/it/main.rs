//! Integration tests for gatehouse-webhooks.

mod standard_webhooks;
