//! Sync-state rows: the columns every synced object's read joins in, and the reconciler's
//! bookkeeping ([`SyncStore`]): claims with leases, results, schedules, and the sealed signing
//! keys of the Actions target.

use async_trait::async_trait;
use gatehouse_core::{
    StoreError, Timestamp,
    id::{AppId, TenantId},
    page::{Page, PageRequest},
    secret::Sealed,
    store::StoreResult,
    sync::{
        ActionsSigningKey, Desired, MAX_SYNC_MESSAGE_CHARS, ObjectKind, SyncFailure, SyncFilter,
        SyncRecord, SyncRef, SyncState, SyncStatus, SyncStore, SyncSuccess,
    },
};
use sqlx::any::AnyRow;

use crate::{
    SqlStore,
    error::interpret,
    sql::{Sql, get, get_enum, get_int, get_opt_time, get_time, to_json},
};

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

// ---- SyncStore: the reconciler's bookkeeping ----

/// A `sync_state` row as a [`SyncRecord`]. Unprefixed, so it also works in `RETURNING`.
const RECORD_COLUMNS: &str = "object_kind, object_id, tenant_id, desired, generation, \
     synced_generation, state AS sync_state, message AS sync_message, zitadel_ids AS sync_ids, \
     attempts AS sync_attempts, last_attempt_at AS sync_last_attempt_at, \
     synced_at AS sync_synced_at, next_attempt_at, claimed_by, claimed_until";

/// A lease is free when unset or run out.
const LEASE_FREE: &str = "(claimed_until IS NULL OR claimed_until < $3)";

fn record_from_row(row: &AnyRow) -> Result<SyncRecord, StoreError> {
    let count =
        |column: &str| -> Result<u64, StoreError> { Ok(get_int(row, column)?.max(0) as u64) };
    Ok(SyncRecord {
        kind: get_enum(row, "object_kind", ObjectKind::parse)?,
        id: get(row, "object_id")?,
        tenant_id: get::<Option<String>>(row, "tenant_id")?.map(TenantId::from_stored),
        desired: get_enum(row, "desired", Desired::parse)?,
        generation: count("generation")?,
        synced_generation: count("synced_generation")?,
        status: status_from_row(row)?,
        next_attempt_at: get_time(row, "next_attempt_at")?,
        claimed_by: get(row, "claimed_by")?,
        claimed_until: get_opt_time(row, "claimed_until")?,
    })
}

fn bounded(message: &str) -> String {
    message
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_SYNC_MESSAGE_CHARS)
        .collect()
}

#[async_trait]
impl SyncStore for SqlStore {
    async fn request_sync(&self, object: &SyncRef, now: Timestamp) -> StoreResult<()> {
        // The same upsert a `Change` performs (see `change::write`).
        sqlx::query(
            "INSERT INTO sync_state (object_kind, object_id, tenant_id, desired, generation, \
             state, next_attempt_at) VALUES ($1, $2, $3, $4, 1, 'pending', $5) \
             ON CONFLICT (object_kind, object_id) DO UPDATE SET desired = excluded.desired, \
             generation = sync_state.generation + 1, state = 'pending', message = NULL, \
             attempts = 0, next_attempt_at = excluded.next_attempt_at",
        )
        .bind(object.kind.as_str())
        .bind(object.id.as_str())
        .bind(object.tenant_id.as_ref().map(|t| t.as_str()))
        .bind(if object.deleted { "absent" } else { "present" })
        .bind(now.unix_millis())
        .execute(self.writer())
        .await
        .map_err(interpret)?;
        Ok(())
    }

    async fn get_sync(&self, kind: ObjectKind, id: &str) -> StoreResult<Option<SyncRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM sync_state WHERE object_kind = $1 AND object_id = $2"
        ))
        .bind(kind.as_str())
        .bind(id)
        .fetch_optional(self.reader())
        .await
        .map_err(interpret)?;
        row.as_ref().map(record_from_row).transpose()
    }

    async fn list_sync(
        &self,
        filter: &SyncFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<SyncRecord>> {
        let mut sql = Sql::new(&format!(
            "SELECT {RECORD_COLUMNS} FROM sync_state WHERE 1 = 1"
        ));
        if let Some(state) = filter.state {
            sql.push(" AND state = ").bind(state.as_str());
        }
        if let Some(kind) = filter.kind {
            sql.push(" AND object_kind = ").bind(kind.as_str());
        }
        if let Some(tenant) = &filter.tenant_id {
            sql.push(" AND tenant_id = ").bind(tenant.to_string());
        }
        sql.page("object_id", page);
        let records = sql.fetch_all(self.reader(), record_from_row).await?;
        Ok(Page::from_rows(records, page, |r| r.id.clone()))
    }

    async fn claim_due_sync(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<SyncRecord>> {
        // Tenants first ('tenant' sorts after the other kinds): apps need their organization.
        let statement = format!(
            "UPDATE sync_state SET claimed_by = $1, claimed_until = $2, last_attempt_at = $3 \
             WHERE (object_kind, object_id) IN (\
               SELECT object_kind, object_id FROM sync_state \
               WHERE next_attempt_at <= $3 AND {LEASE_FREE} \
               ORDER BY next_attempt_at, object_kind DESC LIMIT $4{}) \
             AND {LEASE_FREE} RETURNING {RECORD_COLUMNS}",
            self.dialect().skip_locked()
        );
        let rows = sqlx::query(&statement)
            .bind(owner)
            .bind(lease_until.unix_millis())
            .bind(now.unix_millis())
            .bind(i64::from(limit))
            .fetch_all(self.writer())
            .await
            .map_err(interpret)?;
        let mut records = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        // `RETURNING` has no order.
        records.sort_by(|a, b| {
            (a.next_attempt_at, b.kind.as_str()).cmp(&(b.next_attempt_at, a.kind.as_str()))
        });
        Ok(records)
    }

    async fn claim_sync(
        &self,
        kind: ObjectKind,
        id: &str,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<SyncRecord>> {
        let row = sqlx::query(&format!(
            "UPDATE sync_state SET claimed_by = $1, claimed_until = $2, last_attempt_at = $3 \
             WHERE object_kind = $4 AND object_id = $5 AND {LEASE_FREE} \
             RETURNING {RECORD_COLUMNS}"
        ))
        .bind(owner)
        .bind(lease_until.unix_millis())
        .bind(now.unix_millis())
        .bind(kind.as_str())
        .bind(id)
        .fetch_optional(self.writer())
        .await
        .map_err(interpret)?;
        row.as_ref().map(record_from_row).transpose()
    }

    async fn complete_sync(&self, claim: &SyncRecord, success: &SyncSuccess) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE sync_state SET \
             state = CASE WHEN generation = $1 THEN 'synced' ELSE 'pending' END, \
             synced_generation = $1, message = NULL, zitadel_ids = $2, zitadel_org_id = $3, \
             attempts = 0, synced_at = $4, last_attempt_at = $4, \
             next_attempt_at = CASE WHEN generation = $1 THEN $5 ELSE $4 END, \
             claimed_by = NULL, claimed_until = NULL \
             WHERE object_kind = $6 AND object_id = $7 AND claimed_by = $8",
        )
        .bind(claim.generation as i64)
        .bind(to_json(&success.zitadel_ids))
        .bind(success.org_id.as_deref())
        .bind(success.at.unix_millis())
        .bind(success.next_check_at.unix_millis())
        .bind(claim.kind.as_str())
        .bind(claim.id.as_str())
        .bind(claim.owner())
        .execute(self.writer())
        .await
        .map_err(interpret)?;
        Ok(result.rows_affected() == 1)
    }

    async fn fail_sync(&self, claim: &SyncRecord, failure: &SyncFailure) -> StoreResult<bool> {
        // A change made during the attempt is tried at once: it may not hit the same failure.
        let result = sqlx::query(
            "UPDATE sync_state SET state = 'failed', message = $1, zitadel_ids = $2, \
             zitadel_org_id = $3, attempts = attempts + 1, last_attempt_at = $4, \
             next_attempt_at = CASE WHEN generation = $5 THEN $6 ELSE $4 END, \
             claimed_by = NULL, claimed_until = NULL \
             WHERE object_kind = $7 AND object_id = $8 AND claimed_by = $9",
        )
        .bind(bounded(&failure.message))
        .bind(to_json(&failure.zitadel_ids))
        .bind(failure.org_id.as_deref())
        .bind(failure.at.unix_millis())
        .bind(claim.generation as i64)
        .bind(failure.next_attempt_at.unix_millis())
        .bind(claim.kind.as_str())
        .bind(claim.id.as_str())
        .bind(claim.owner())
        .execute(self.writer())
        .await
        .map_err(interpret)?;
        Ok(result.rows_affected() == 1)
    }

    async fn mark_sync_pending(&self, claim: &SyncRecord, message: &str) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE sync_state SET state = 'pending', message = $1 \
             WHERE object_kind = $2 AND object_id = $3 AND claimed_by = $4",
        )
        .bind(bounded(message))
        .bind(claim.kind.as_str())
        .bind(claim.id.as_str())
        .bind(claim.owner())
        .execute(self.writer())
        .await
        .map_err(interpret)?;
        Ok(result.rows_affected() == 1)
    }

    async fn remove_sync(&self, claim: &SyncRecord) -> StoreResult<bool> {
        let result = sqlx::query(
            "DELETE FROM sync_state WHERE object_kind = $1 AND object_id = $2 \
             AND claimed_by = $3 AND generation = $4 AND desired = 'absent'",
        )
        .bind(claim.kind.as_str())
        .bind(claim.id.as_str())
        .bind(claim.owner())
        .bind(claim.generation as i64)
        .execute(self.writer())
        .await
        .map_err(interpret)?;
        Ok(result.rows_affected() == 1)
    }

    async fn release_sync(
        &self,
        claim: &SyncRecord,
        next_attempt_at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sync_state SET claimed_by = NULL, claimed_until = NULL, next_attempt_at = $1 \
             WHERE object_kind = $2 AND object_id = $3 AND claimed_by = $4",
        )
        .bind(next_attempt_at.unix_millis())
        .bind(claim.kind.as_str())
        .bind(claim.id.as_str())
        .bind(claim.owner())
        .execute(self.writer())
        .await
        .map_err(interpret)?;
        Ok(())
    }

    async fn schedule_sync_now(
        &self,
        include_synced: bool,
        tenant: Option<&TenantId>,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let mut sql = Sql::new("UPDATE sync_state SET next_attempt_at = ");
        sql.bind(now).push(" WHERE next_attempt_at > ").bind(now);
        if !include_synced {
            sql.push(" AND state <> 'synced'");
        }
        if let Some(tenant) = tenant {
            sql.push(" AND tenant_id = ").bind(tenant.to_string());
        }
        let result = sql
            .query()
            .execute(self.writer())
            .await
            .map_err(interpret)?;
        Ok(result.rows_affected())
    }

    async fn app_secret_version(&self, tenant: &TenantId, app: &AppId) -> StoreResult<Option<u64>> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT secret_version FROM apps WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(app.as_str())
                .fetch_optional(self.reader())
                .await
                .map_err(interpret)?;
        Ok(version.map(|v| v.max(0) as u64))
    }

    async fn tenant_for_org(&self, org_id: &str) -> StoreResult<Option<TenantId>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT object_id FROM sync_state WHERE object_kind = 'tenant' \
             AND desired = 'present' AND zitadel_org_id = $1 ORDER BY object_id LIMIT 1",
        )
        .bind(org_id)
        .fetch_optional(self.reader())
        .await
        .map_err(interpret)?;
        Ok(id.map(TenantId::from_stored))
    }

    async fn save_actions_signing_key(
        &self,
        key: &ActionsSigningKey,
        retire_others_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        sqlx::query(
            "UPDATE zitadel_signing_keys SET expires_at = $1 WHERE fingerprint <> $2 \
             AND (expires_at IS NULL OR expires_at > $1)",
        )
        .bind(retire_others_at.unix_millis())
        .bind(key.fingerprint.as_str())
        .execute(&mut *tx)
        .await
        .map_err(interpret)?;
        sqlx::query(
            "INSERT INTO zitadel_signing_keys (fingerprint, target_id, sealed_key, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, NULL) ON CONFLICT (fingerprint) DO UPDATE SET \
             target_id = excluded.target_id, expires_at = NULL",
        )
        .bind(key.fingerprint.as_str())
        .bind(key.target_id.as_str())
        .bind(key.sealed.as_str())
        .bind(key.created_at.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(interpret)?;
        sqlx::query(
            "DELETE FROM zitadel_signing_keys WHERE expires_at IS NOT NULL AND expires_at < $1",
        )
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(interpret)?;
        tx.commit().await.map_err(interpret)
    }

    async fn actions_signing_keys(&self, now: Timestamp) -> StoreResult<Vec<ActionsSigningKey>> {
        let rows = sqlx::query(
            "SELECT fingerprint, target_id, sealed_key, created_at, expires_at \
             FROM zitadel_signing_keys WHERE expires_at IS NULL OR expires_at > $1 \
             ORDER BY created_at DESC, fingerprint",
        )
        .bind(now.unix_millis())
        .fetch_all(self.reader())
        .await
        .map_err(interpret)?;
        rows.iter()
            .map(|row| {
                Ok(ActionsSigningKey {
                    fingerprint: get(row, "fingerprint")?,
                    target_id: get(row, "target_id")?,
                    sealed: Sealed::from_stored(get(row, "sealed_key")?),
                    created_at: get_time(row, "created_at")?,
                    expires_at: get_opt_time(row, "expires_at")?,
                })
            })
            .collect()
    }
}
