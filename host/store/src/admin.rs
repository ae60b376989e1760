use async_trait::async_trait;
use gatehouse_core::{
    StoreError, Timestamp,
    admin::{AdminClient, AdminSession, AdminStore},
    change::Change,
    secret::Sealed,
    store::StoreResult,
};
use sqlx::any::AnyRow;

use crate::{
    SqlStore, change,
    error::interpret,
    sql::{get, get_time},
};

/// The one row of `admin_oidc_client`.
const CLIENT_ROW: &str = "admin";
/// The `installation_flags` entry recording the first platform admin of the embedded IdP.
const ADMIN_USER_FLAG: &str = "admin_user";

const SELECT_SESSION: &str = "SELECT user_id, name, email, org_id, id_token, created_at, \
                              expires_at, last_seen_at FROM admin_sessions";

fn session_from_row(row: &AnyRow) -> Result<AdminSession, StoreError> {
    Ok(AdminSession {
        user_id: get(row, "user_id")?,
        name: get(row, "name")?,
        email: get(row, "email")?,
        org_id: get(row, "org_id")?,
        id_token: get::<Option<String>>(row, "id_token")?.map(Sealed::from_stored),
        created_at: get_time(row, "created_at")?,
        expires_at: get_time(row, "expires_at")?,
        last_seen_at: get_time(row, "last_seen_at")?,
    })
}

fn client_from_row(row: &AnyRow) -> Result<Option<AdminClient>, StoreError> {
    // The row exists as soon as a lease was taken; it holds a client only once one was saved.
    let Some(client_id) = get::<Option<String>>(row, "client_id")? else {
        return Ok(None);
    };
    let text = |column: &str| -> Result<String, StoreError> {
        get::<Option<String>>(row, column)?
            .ok_or_else(|| StoreError::Other(format!("admin_oidc_client.{column} is missing")))
    };
    Ok(Some(AdminClient {
        issuer: text("issuer")?,
        org_id: text("org_id")?,
        project_id: text("project_id")?,
        app_id: text("app_id")?,
        client_id,
        client_secret: Sealed::from_stored(text("client_secret")?),
        redirect_uri: text("redirect_uri")?,
        post_logout_redirect_uri: text("post_logout_redirect_uri")?,
        updated_at: get_time(row, "updated_at")?,
    }))
}

#[async_trait]
impl AdminStore for SqlStore {
    async fn get_admin_client(&self) -> StoreResult<Option<AdminClient>> {
        let row = sqlx::query(
            "SELECT issuer, org_id, project_id, app_id, client_id, client_secret, redirect_uri, \
             post_logout_redirect_uri, updated_at FROM admin_oidc_client WHERE id = $1",
        )
        .bind(CLIENT_ROW)
        .fetch_optional(self.reader())
        .await
        .map_err(interpret)?;
        match row {
            Some(row) => client_from_row(&row),
            None => Ok(None),
        }
    }

    async fn claim_admin_client_registration(
        &self,
        worker: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        sqlx::query("INSERT INTO admin_oidc_client (id) VALUES ($1) ON CONFLICT (id) DO NOTHING")
            .bind(CLIENT_ROW)
            .execute(&mut *tx)
            .await
            .map_err(interpret)?;
        // One conditional UPDATE: the row lock (PostgreSQL) or the single writer (SQLite) makes
        // it atomic, so two workers never both see the lease free.
        let result = sqlx::query(
            "UPDATE admin_oidc_client SET claimed_by = $1, claim_until = $2 WHERE id = $3 \
             AND (claimed_by IS NULL OR claimed_by = $1 OR claim_until IS NULL OR claim_until <= $4)",
        )
        .bind(worker)
        .bind(until.unix_millis())
        .bind(CLIENT_ROW)
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(interpret)?;
        tx.commit().await.map_err(interpret)?;
        Ok(result.rows_affected() == 1)
    }

    async fn save_admin_client(&self, client: &AdminClient, worker: &str) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE admin_oidc_client SET issuer = $1, org_id = $2, project_id = $3, app_id = $4, \
             client_id = $5, client_secret = $6, redirect_uri = $7, post_logout_redirect_uri = $8, \
             updated_at = $9, claimed_by = NULL, claim_until = NULL \
             WHERE id = $10 AND claimed_by = $11",
        )
        .bind(client.issuer.as_str())
        .bind(client.org_id.as_str())
        .bind(client.project_id.as_str())
        .bind(client.app_id.as_str())
        .bind(client.client_id.as_str())
        .bind(client.client_secret.as_str())
        .bind(client.redirect_uri.as_str())
        .bind(client.post_logout_redirect_uri.as_str())
        .bind(client.updated_at.unix_millis())
        .bind(CLIENT_ROW)
        .bind(worker)
        .execute(self.writer())
        .await
        .map_err(interpret)?;
        Ok(result.rows_affected() == 1)
    }

    async fn admin_user_provisioned(&self) -> StoreResult<bool> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM installation_flags WHERE name = $1")
                .bind(ADMIN_USER_FLAG)
                .fetch_one(self.reader())
                .await
                .map_err(interpret)?;
        Ok(count > 0)
    }

    async fn mark_admin_user_provisioned(&self, at: Timestamp) -> StoreResult<bool> {
        // The flag's primary key makes "first replica wins" atomic.
        let flagged = sqlx::query("INSERT INTO installation_flags (name, set_at) VALUES ($1, $2)")
            .bind(ADMIN_USER_FLAG)
            .bind(at.unix_millis())
            .execute(self.writer())
            .await
            .map_err(interpret);
        match flagged {
            Ok(_) => Ok(true),
            Err(StoreError::UniqueViolation { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }

    async fn insert_admin_session(
        &self,
        id_hash: &[u8; 32],
        session: &AdminSession,
        change: &Change,
    ) -> StoreResult<()> {
        self.write_one(
            sqlx::query(
                "INSERT INTO admin_sessions (id_hash, user_id, name, email, org_id, id_token, \
             created_at, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(hex::encode(id_hash))
            .bind(session.user_id.as_str())
            .bind(session.name.as_str())
            .bind(session.email.as_deref())
            .bind(session.org_id.as_str())
            .bind(session.id_token.as_ref().map(Sealed::as_str))
            .bind(session.created_at.unix_millis())
            .bind(session.expires_at.unix_millis())
            .bind(session.last_seen_at.unix_millis()),
            change,
        )
        .await
    }

    async fn find_admin_session(&self, id_hash: &[u8; 32]) -> StoreResult<Option<AdminSession>> {
        let row = sqlx::query(&format!("{SELECT_SESSION} WHERE id_hash = $1"))
            .bind(hex::encode(id_hash))
            .fetch_optional(self.reader())
            .await
            .map_err(interpret)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn touch_admin_session(&self, id_hash: &[u8; 32], at: Timestamp) -> StoreResult<()> {
        // Never moves backwards (concurrent requests may touch out of order).
        sqlx::query(
            "UPDATE admin_sessions SET last_seen_at = $1 WHERE id_hash = $2 AND last_seen_at < $1",
        )
        .bind(at.unix_millis())
        .bind(hex::encode(id_hash))
        .execute(self.writer())
        .await
        .map_err(interpret)?;
        Ok(())
    }

    async fn end_admin_session(&self, id_hash: &[u8; 32], change: &Change) -> StoreResult<bool> {
        let id_hash = hex::encode(id_hash);
        let ended = self
            .write_one(
                sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1").bind(&id_hash),
                change,
            )
            .await;
        match ended {
            Ok(()) => Ok(true),
            // Already gone (signed out elsewhere, or expired and purged): nothing to audit.
            Err(StoreError::NotFound) => Ok(false),
            Err(other) => Err(other),
        }
    }

    async fn record_admin_audit(&self, change: &Change) -> StoreResult<()> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)
    }

    async fn purge_admin_sessions(
        &self,
        now: Timestamp,
        idle_before: Timestamp,
    ) -> StoreResult<u64> {
        let result =
            sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
                .bind(now.unix_millis())
                .bind(idle_before.unix_millis())
                .execute(self.writer())
                .await
                .map_err(interpret)?;
        Ok(result.rows_affected())
    }
}
