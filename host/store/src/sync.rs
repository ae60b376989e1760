//! Sync-state rows: the columns every synced object's read joins in.

use gatehouse_core::{
    StoreError,
    sync::{SyncState, SyncStatus},
};
use sqlx::any::AnyRow;

use crate::sql::{get, get_opt_time};

/// Columns to select (aliased) from `sync_state s`, joined by the caller.
pub(crate) const SYNC_COLUMNS: &str = "s.state AS sync_state, s.message AS sync_message, \
     s.zitadel_ids AS sync_ids, s.attempts AS sync_attempts, \
     s.last_attempt_at AS sync_last_attempt_at, s.synced_at AS sync_synced_at";

/// `LEFT JOIN` of the sync row for objects of `kind` whose id is `id_column`.
pub(crate) fn join(kind: &str, id_column: &str) -> String {
    format!(" LEFT JOIN sync_state s ON s.object_kind = '{kind}' AND s.object_id = {id_column} ")
}

pub(crate) fn status_from_row(row: &AnyRow) -> Result<SyncStatus, StoreError> {
    let Some(state) = get::<Option<String>>(row, "sync_state")? else {
        return Ok(SyncStatus::pending());
    };
    let ids: Option<String> = get(row, "sync_ids")?;
    Ok(SyncStatus {
        state: SyncState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown sync state `{state}`")))?,
        message: get(row, "sync_message")?,
        zitadel_ids: ids
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("sync ids: {e}")))?
            .unwrap_or_default(),
        attempts: get::<Option<i64>>(row, "sync_attempts")?
            .unwrap_or(0)
            .max(0) as u32,
        last_attempt_at: get_opt_time(row, "sync_last_attempt_at")?,
        synced_at: get_opt_time(row, "sync_synced_at")?,
    })
}
