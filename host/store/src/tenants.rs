use async_trait::async_trait;
use gatehouse_core::{
    StoreError,
    change::Change,
    id::TenantId,
    page::{Page, PageRequest},
    store::{StoreResult, TenantStore},
    tenant::{Tenant, TenantStatus},
};
use sqlx::any::AnyRow;

use crate::{
    SqlStore, change,
    error::interpret,
    sql::{Sql, expect_one, get, get_enum, get_json, get_time, to_json},
    sync,
};

fn select() -> String {
    format!(
        "SELECT t.id, t.name, t.slug, t.domains, t.status, t.created_at, t.updated_at, {} \
         FROM tenants t {}",
        sync::SYNC_COLUMNS,
        sync::join("tenant", "t.id")
    )
}

fn from_row(row: &AnyRow) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: TenantId::from_stored(get(row, "id")?),
        name: get(row, "name")?,
        slug: get(row, "slug")?,
        domains: get_json(row, "domains")?,
        status: get_enum(row, "status", TenantStatus::parse)?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
        sync: sync::status_from_row(row)?,
    })
}

#[async_trait]
impl TenantStore for SqlStore {
    async fn insert_tenant(&self, tenant: &Tenant, change: &Change) -> StoreResult<()> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        sqlx::query(
            "INSERT INTO tenants (id, name, slug, domains, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant.id.as_str())
        .bind(tenant.name.as_str())
        .bind(tenant.slug.as_str())
        .bind(to_json(&tenant.domains))
        .bind(tenant.status.as_str())
        .bind(tenant.created_at.unix_millis())
        .bind(tenant.updated_at.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(interpret)?;
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)
    }

    async fn get_tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        let mut sql = Sql::new(&select());
        sql.push(" WHERE t.id = ").bind(id.to_string());
        sql.fetch_optional(self.reader(), from_row).await
    }

    async fn list_tenants(&self, page: &PageRequest) -> StoreResult<Page<Tenant>> {
        let mut sql = Sql::new(&select());
        sql.push(" WHERE 1 = 1").page("t.id", page);
        let tenants = sql.fetch_all(self.reader(), from_row).await?;
        Ok(Page::from_rows(tenants, page, |t| t.id.to_string()))
    }

    async fn update_tenant(&self, tenant: &Tenant, change: &Change) -> StoreResult<()> {
        self.write_one(
sqlx::query(
            "UPDATE tenants SET name = $1, domains = $2, status = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(tenant.name.as_str())
        .bind(to_json(&tenant.domains))
        .bind(tenant.status.as_str())
        .bind(tenant.updated_at.unix_millis())
        .bind(tenant.id.as_str()),
 change,
).await
    }

    async fn delete_tenant(&self, id: &TenantId, change: &Change) -> StoreResult<()> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        // The tenant's apps go with it (cascade); their sync rows must say so, or the
        // reconciler would keep them alive. Deleting the org in ZITADEL removes their copies.
        sqlx::query("DELETE FROM sync_state WHERE tenant_id = $1 AND object_kind <> 'tenant'")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(interpret)?;
        let result = sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(interpret)?;
        expect_one(result)?;
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)
    }
}
