use async_trait::async_trait;
use gatehouse_core::{
    StoreError, Timestamp,
    app::{App, AppType},
    change::Change,
    id::{AppId, TenantId},
    page::{Page, PageRequest},
    secret::Sealed,
    store::{AppStore, StoreResult},
};
use sqlx::any::AnyRow;

use crate::{
    SqlStore, change,
    error::interpret,
    sql::{Sql, expect_one, get, get_enum, get_int, get_json, get_time, to_json},
    sync,
};

fn select() -> String {
    format!(
        "SELECT a.id, a.tenant_id, a.name, a.app_type, a.redirect_uris, \
         a.post_logout_redirect_uris, a.dev_mode, a.client_id, \
         CASE WHEN a.client_secret IS NULL THEN 0 ELSE 1 END AS has_secret, \
         a.created_at, a.updated_at, {} FROM apps a {}",
        sync::SYNC_COLUMNS,
        sync::join("app", "a.id")
    )
}

fn from_row(row: &AnyRow) -> Result<App, StoreError> {
    Ok(App {
        id: AppId::from_stored(get(row, "id")?),
        tenant_id: TenantId::from_stored(get(row, "tenant_id")?),
        name: get(row, "name")?,
        app_type: get_enum(row, "app_type", AppType::parse)?,
        redirect_uris: get_json(row, "redirect_uris")?,
        post_logout_redirect_uris: get_json(row, "post_logout_redirect_uris")?,
        dev_mode: get_int(row, "dev_mode")? != 0,
        client_id: get(row, "client_id")?,
        has_client_secret: get_int(row, "has_secret")? == 1,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
        sync: sync::status_from_row(row)?,
    })
}

#[async_trait]
impl AppStore for SqlStore {
    async fn insert_app(&self, app: &App, change: &Change) -> StoreResult<()> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        sqlx::query(
            "INSERT INTO apps (id, tenant_id, name, app_type, redirect_uris, \
             post_logout_redirect_uris, dev_mode, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(app.id.as_str())
        .bind(app.tenant_id.as_str())
        .bind(app.name.as_str())
        .bind(app.app_type.as_str())
        .bind(to_json(&app.redirect_uris))
        .bind(to_json(&app.post_logout_redirect_uris))
        .bind(i64::from(app.dev_mode))
        .bind(app.created_at.unix_millis())
        .bind(app.updated_at.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(interpret)?;
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)
    }

    async fn get_app(&self, tenant: &TenantId, id: &AppId) -> StoreResult<Option<App>> {
        let mut sql = Sql::new(&select());
        sql.push(" WHERE a.tenant_id = ")
            .bind(tenant.to_string())
            .push(" AND a.id = ")
            .bind(id.to_string());
        sql.fetch_optional(self.reader(), from_row).await
    }

    async fn list_apps(&self, tenant: &TenantId, page: &PageRequest) -> StoreResult<Page<App>> {
        let mut sql = Sql::new(&select());
        sql.push(" WHERE a.tenant_id = ")
            .bind(tenant.to_string())
            .page("a.id", page);
        let apps = sql.fetch_all(self.reader(), from_row).await?;
        Ok(Page::from_rows(apps, page, |a| a.id.to_string()))
    }

    async fn update_app(&self, app: &App, change: &Change) -> StoreResult<()> {
        self.write_one(
            sqlx::query(
                "UPDATE apps SET name = $1, redirect_uris = $2, post_logout_redirect_uris = $3, \
                 dev_mode = $4, updated_at = $5 WHERE tenant_id = $6 AND id = $7",
            )
            .bind(app.name.as_str())
            .bind(to_json(&app.redirect_uris))
            .bind(to_json(&app.post_logout_redirect_uris))
            .bind(i64::from(app.dev_mode))
            .bind(app.updated_at.unix_millis())
            .bind(app.tenant_id.as_str())
            .bind(app.id.as_str()),
            change,
        )
        .await
    }

    async fn delete_app(&self, tenant: &TenantId, id: &AppId, change: &Change) -> StoreResult<()> {
        self.write_one(
            sqlx::query("DELETE FROM apps WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.as_str()),
            change,
        )
        .await
    }

    async fn set_app_credentials(
        &self,
        tenant: &TenantId,
        id: &AppId,
        client_id: &str,
        secret: Option<&Sealed>,
    ) -> StoreResult<()> {
        // A new secret replaces the old one and starts unrevealed; `None` keeps the stored one.
        let result = sqlx::query(
            "UPDATE apps SET client_id = $1, \
             client_secret = CASE WHEN $2 IS NULL THEN client_secret ELSE $2 END, \
             secret_revealed_at = CASE WHEN $2 IS NULL THEN secret_revealed_at ELSE NULL END \
             WHERE tenant_id = $3 AND id = $4",
        )
        .bind(client_id)
        .bind(secret.map(|s| s.as_str()))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(self.writer())
        .await
        .map_err(interpret)?;
        expect_one(result)
    }

    async fn take_app_secret(
        &self,
        tenant: &TenantId,
        id: &AppId,
        at: Timestamp,
    ) -> StoreResult<Option<Sealed>> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        let secret: Option<Option<String>> = sqlx::query_scalar(
            "SELECT client_secret FROM apps \
             WHERE tenant_id = $1 AND id = $2 AND secret_revealed_at IS NULL",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(interpret)?;
        let Some(Some(secret)) = secret else {
            return Ok(None);
        };
        // Guarded by `secret_revealed_at IS NULL`, so two concurrent reveals cannot both win.
        let result = sqlx::query(
            "UPDATE apps SET secret_revealed_at = $1 \
             WHERE tenant_id = $2 AND id = $3 AND secret_revealed_at IS NULL AND client_secret = $4",
        )
        .bind(at.unix_millis())
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(secret.as_str())
        .execute(&mut *tx)
        .await
        .map_err(interpret)?;
        if result.rows_affected() == 0 {
            return Ok(None);
        }
        tx.commit().await.map_err(interpret)?;
        Ok(Some(Sealed::from_stored(secret)))
    }

    async fn request_secret_rotation(
        &self,
        tenant: &TenantId,
        id: &AppId,
        change: &Change,
    ) -> StoreResult<()> {
        self.write_one(
            sqlx::query(
                "UPDATE apps SET secret_version = secret_version + 1, updated_at = $1 \
                 WHERE tenant_id = $2 AND id = $3",
            )
            .bind(change.audit.occurred_at.unix_millis())
            .bind(tenant.as_str())
            .bind(id.as_str()),
            change,
        )
        .await
    }
}
