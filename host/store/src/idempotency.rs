use async_trait::async_trait;
use gatehouse_core::{
    StoreError, Timestamp,
    idempotency::{Claim, StoredResponse},
    store::{IdempotencyStore, StoreResult},
};

use crate::{
    SqlStore,
    error::interpret,
    sql::{get, get_int},
};

#[async_trait]
impl IdempotencyStore for SqlStore {
    async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> StoreResult<Claim> {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, completed, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(scope)
        .bind(key)
        .bind(fingerprint)
        .bind(0i64)
        .bind(now.unix_millis())
        .execute(self.writer())
        .await
        .map_err(interpret);
        match inserted {
            Ok(_) => return Ok(Claim::Fresh),
            Err(StoreError::UniqueViolation { .. }) => {}
            Err(other) => return Err(other),
        }
        let row = sqlx::query(
            "SELECT fingerprint, completed, response_status, response_content_type, response_body \
             FROM idempotency_keys WHERE scope = $1 AND key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(self.writer())
        .await
        .map_err(interpret)?;
        // Released between our insert and this read: the caller may simply retry.
        let Some(row) = row else {
            return Ok(Claim::InFlight);
        };
        let stored: String = get(&row, "fingerprint")?;
        if stored != fingerprint {
            return Ok(Claim::Mismatch);
        }
        if get_int(&row, "completed")? == 0 {
            return Ok(Claim::InFlight);
        }
        Ok(Claim::Replay(StoredResponse {
            status: get_int(&row, "response_status")?.try_into().unwrap_or(500),
            content_type: get(&row, "response_content_type")?,
            body: get::<Option<Vec<u8>>>(&row, "response_body")?.unwrap_or_default(),
        }))
    }

    async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        response: &StoredResponse,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET completed = $1, response_status = $2, \
             response_content_type = $3, response_body = $4 WHERE scope = $5 AND key = $6",
        )
        .bind(1i64)
        .bind(i64::from(response.status))
        .bind(response.content_type.as_deref())
        .bind(response.body.clone())
        .bind(scope)
        .bind(key)
        .execute(self.writer())
        .await
        .map_err(interpret)?;
        Ok(())
    }

    async fn release_idempotency_key(&self, scope: &str, key: &str) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND completed = $3",
        )
        .bind(scope)
        .bind(key)
        .bind(0i64)
        .execute(self.writer())
        .await
        .map_err(interpret)?;
        Ok(())
    }

    async fn purge_idempotency_keys(&self, before: Timestamp) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(before.unix_millis())
            .execute(self.writer())
            .await
            .map_err(interpret)?;
        Ok(result.rows_affected())
    }
}
