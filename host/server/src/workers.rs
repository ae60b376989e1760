//! Background housekeeping that runs beside the server: event retention and expiry of
//! idempotency keys. Other workers (reconciler, delivery) are started by their own modules.

use std::time::Duration;

use gatehouse_core::idempotency;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::state::AppState;

const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

pub fn spawn(state: AppState, shutdown: CancellationToken, tasks: &TaskTracker) {
    tasks.spawn(async move {
        loop {
            retention_pass(&state).await;
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(RETENTION_INTERVAL) => {}
            }
        }
    });
}

/// Deletes events past the retention period, expired idempotency keys and ended portal
/// sessions. Safe on several
/// replicas at once (plain deletes by age).
pub async fn retention_pass(state: &AppState) {
    let now = state.clock.now();
    match state
        .store
        .purge_events(now.minus(state.settings.events_retention))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(purged = n, "expired events deleted"),
        Err(err) => tracing::warn!(%err, "event retention pass failed"),
    }
    if let Err(err) = state
        .store
        .purge_idempotency_keys(now.minus(idempotency::RETENTION))
        .await
    {
        tracing::warn!(%err, "idempotency key expiry failed");
    }
    let idle = state.settings.admin_session_idle_timeout;
    if let Err(err) = state.store.purge_admin_sessions(now, now.minus(idle)).await {
        tracing::warn!(%err, "could not purge ended admin sessions");
    }
}
