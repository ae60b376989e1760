//! HTTP-level tests of the admin API against a real server (SQLite, and PostgreSQL when
//! reachable; mandatory under STRICT=1).

mod admin_session;
mod api_keys;
mod audit_events;
mod bad_input;
mod idempotency;
mod openapi;
mod plugins;
mod portal;
mod tenants_apps;
mod webhooks;
mod zitadel;

use gatehouse_testkit::{Backend, TestOptions, TestServer, spawn_with};

/// Runs `test` on a fresh server per backend.
pub async fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(TestServer) -> Fut,
    Fut: std::future::Future<Output = TestServer>,
{
    for backend in Backend::all().await {
        let server = spawn_with(TestOptions::backend(backend)).await;
        let server = test(server).await;
        server.stop().await;
    }
}
