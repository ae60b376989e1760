use async_trait::async_trait;
use gatehouse_core::{
    StoreError, Timestamp,
    api_key::{ApiKey, KeyScope},
    change::Change,
    id::{ApiKeyId, TenantId},
    page::{Page, PageRequest},
    store::{ApiKeyStore, StoreResult},
};
use sqlx::any::AnyRow;

use crate::{
    SqlStore, change,
    error::interpret,
    sql::{Sql, expect_one, get, get_enum, get_opt_time, get_time},
};

const SELECT: &str = "SELECT id, name, scope, tenant_id, token_prefix, created_at, last_used_at, \
                      revoked_at FROM api_keys";

fn from_row(row: &AnyRow) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: ApiKeyId::from_stored(get(row, "id")?),
        name: get(row, "name")?,
        scope: get_enum(row, "scope", KeyScope::parse)?,
        tenant_id: get::<Option<String>>(row, "tenant_id")?.map(TenantId::from_stored),
        token_prefix: get(row, "token_prefix")?,
        created_at: get_time(row, "created_at")?,
        last_used_at: get_opt_time(row, "last_used_at")?,
        revoked_at: get_opt_time(row, "revoked_at")?,
    })
}

async fn insert(
    conn: &mut sqlx::AnyConnection,
    key: &ApiKey,
    hash: &[u8; 32],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (id, name, scope, tenant_id, token_hash, token_prefix, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(key.id.as_str())
    .bind(key.name.as_str())
    .bind(key.scope.as_str())
    .bind(key.tenant_id.as_ref().map(|t| t.as_str()))
    .bind(hex::encode(hash))
    .bind(key.token_prefix.as_str())
    .bind(key.created_at.unix_millis())
    .execute(conn)
    .await
    .map_err(interpret)?;
    Ok(())
}

#[async_trait]
impl ApiKeyStore for SqlStore {
    async fn insert_api_key(
        &self,
        key: &ApiKey,
        hash: &[u8; 32],
        change: &Change,
    ) -> StoreResult<()> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        insert(&mut tx, key, hash).await?;
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)
    }

    async fn find_api_key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<ApiKey>> {
        let mut sql = Sql::new(SELECT);
        sql.push(" WHERE token_hash = ").bind(hex::encode(hash));
        sql.fetch_optional(self.reader(), from_row).await
    }

    async fn get_api_key(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKey>> {
        let mut sql = Sql::new(SELECT);
        sql.push(" WHERE id = ").bind(id.to_string());
        sql.fetch_optional(self.reader(), from_row).await
    }

    async fn list_api_keys(
        &self,
        tenant: Option<&TenantId>,
        page: &PageRequest,
    ) -> StoreResult<Page<ApiKey>> {
        let mut sql = Sql::new(SELECT);
        sql.push(" WHERE 1 = 1");
        if let Some(tenant) = tenant {
            sql.push(" AND tenant_id = ").bind(tenant.to_string());
        }
        sql.page("id", page);
        let keys = sql.fetch_all(self.reader(), from_row).await?;
        Ok(Page::from_rows(keys, page, |k| k.id.to_string()))
    }

    async fn revoke_api_key(
        &self,
        id: &ApiKeyId,
        at: Timestamp,
        change: &Change,
    ) -> StoreResult<()> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        let result =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(at.unix_millis())
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(interpret)?;
        expect_one(result)?;
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)
    }

    async fn touch_api_key(&self, id: &ApiKeyId, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(at.unix_millis())
            .bind(id.as_str())
            .execute(self.writer())
            .await
            .map_err(interpret)?;
        Ok(())
    }

    async fn insert_bootstrap_key(
        &self,
        key: &ApiKey,
        hash: &[u8; 32],
        change: &Change,
    ) -> StoreResult<bool> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        // The flag's primary key makes "first replica wins" atomic.
        let flagged =
            sqlx::query("INSERT INTO installation_flags (name, set_at) VALUES ('bootstrap', $1)")
                .bind(key.created_at.unix_millis())
                .execute(&mut *tx)
                .await
                .map_err(interpret);
        match flagged {
            Ok(_) => {}
            Err(StoreError::UniqueViolation { .. }) => return Ok(false),
            Err(other) => return Err(other),
        }
        insert(&mut tx, key, hash).await?;
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)?;
        Ok(true)
    }
}
