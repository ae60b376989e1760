//! The plugin registry (installed plugins with their components) and the trust store of
//! signing keys.

use async_trait::async_trait;
use gatehouse_core::{
    StoreError, Timestamp,
    change::Change,
    plugin::{
        InstalledPlugin, PluginKind, PluginLimits, PluginStore, PluginUser, TrustStore, TrustedKey,
    },
    store::StoreResult,
};
use sqlx::any::AnyRow;

use crate::{
    SqlStore, change,
    error::interpret,
    sql::{
        escape_like, expect_one, get, get_enum, get_int, get_json, get_opt_time, get_time, to_json,
    },
};

/// Every column but the wasm, which only [`PluginStore::get_plugin_wasm`] reads.
const SELECT_PLUGIN: &str = "SELECT id, version, kind, wit_version, sha256, signer_key_id, \
                             description, author, capabilities, manifest_limits, limits, \
                             enabled, disabled_reason, builtin, installed_at, updated_at \
                             FROM plugins";

const SELECT_KEY: &str = "SELECT key_id, name, public_key, added_at, removed_at FROM trusted_keys";

fn plugin_from_row(row: &AnyRow) -> Result<InstalledPlugin, StoreError> {
    Ok(InstalledPlugin {
        id: get(row, "id")?,
        version: get(row, "version")?,
        kind: get_enum(row, "kind", |text| text.parse::<PluginKind>().ok())?,
        wit_version: get(row, "wit_version")?,
        sha256: get(row, "sha256")?,
        signer_key_id: get(row, "signer_key_id")?,
        description: get(row, "description")?,
        author: get(row, "author")?,
        capabilities: get_json(row, "capabilities")?,
        manifest_limits: get_json(row, "manifest_limits")?,
        limits: get_json(row, "limits")?,
        enabled: get_int(row, "enabled")? != 0,
        disabled_reason: get(row, "disabled_reason")?,
        installed_at: get_time(row, "installed_at")?,
        updated_at: get_time(row, "updated_at")?,
        builtin: get_int(row, "builtin")? != 0,
    })
}

fn key_from_row(row: &AnyRow) -> Result<TrustedKey, StoreError> {
    Ok(TrustedKey {
        key_id: get(row, "key_id")?,
        name: get(row, "name")?,
        public_key: get(row, "public_key")?,
        added_at: get_time(row, "added_at")?,
        removed_at: get_opt_time(row, "removed_at")?,
    })
}

#[async_trait]
impl PluginStore for SqlStore {
    async fn insert_plugin(
        &self,
        plugin: &InstalledPlugin,
        wasm: &[u8],
        change: &Change,
    ) -> StoreResult<()> {
        // Built-ins ship in the binary: their rows only hold what admins changed.
        let wasm = (!plugin.builtin).then(|| wasm.to_vec());
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        sqlx::query(
            "INSERT INTO plugins (id, version, kind, wit_version, sha256, signer_key_id, \
             description, author, capabilities, manifest_limits, limits, enabled, \
             disabled_reason, builtin, wasm, installed_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(plugin.id.as_str())
        .bind(plugin.version.as_str())
        .bind(plugin.kind.as_str())
        .bind(plugin.wit_version.as_str())
        .bind(plugin.sha256.as_str())
        .bind(plugin.signer_key_id.as_deref())
        .bind(plugin.description.as_str())
        .bind(plugin.author.as_str())
        .bind(to_json(&plugin.capabilities))
        .bind(to_json(&plugin.manifest_limits))
        .bind(to_json(&plugin.limits))
        .bind(i64::from(plugin.enabled))
        .bind(plugin.disabled_reason.as_deref())
        .bind(i64::from(plugin.builtin))
        .bind(wasm)
        .bind(plugin.installed_at.unix_millis())
        .bind(plugin.updated_at.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(interpret)?;
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)
    }

    async fn get_plugin(&self, id: &str, version: &str) -> StoreResult<Option<InstalledPlugin>> {
        let row = sqlx::query(&format!("{SELECT_PLUGIN} WHERE id = $1 AND version = $2"))
            .bind(id)
            .bind(version)
            .fetch_optional(self.reader())
            .await
            .map_err(interpret)?;
        row.as_ref().map(plugin_from_row).transpose()
    }

    async fn list_plugins(&self) -> StoreResult<Vec<InstalledPlugin>> {
        let rows = sqlx::query(&format!(
            "{SELECT_PLUGIN} ORDER BY id, installed_at, version"
        ))
        .fetch_all(self.reader())
        .await
        .map_err(interpret)?;
        rows.iter().map(plugin_from_row).collect()
    }

    async fn get_plugin_wasm(&self, id: &str, version: &str) -> StoreResult<Option<Vec<u8>>> {
        let wasm: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT wasm FROM plugins WHERE id = $1 AND version = $2")
                .bind(id)
                .bind(version)
                .fetch_optional(self.reader())
                .await
                .map_err(interpret)?;
        Ok(wasm.flatten())
    }

    async fn set_plugin_enabled(
        &self,
        id: &str,
        version: &str,
        enabled: bool,
        reason: Option<&str>,
        change: &Change,
    ) -> StoreResult<()> {
        let reason = if enabled { None } else { reason };
        self.write_one(
            sqlx::query(
                "UPDATE plugins SET enabled = $1, disabled_reason = $2, updated_at = $3 \
                 WHERE id = $4 AND version = $5",
            )
            .bind(i64::from(enabled))
            .bind(reason)
            .bind(change.audit.occurred_at.unix_millis())
            .bind(id)
            .bind(version),
            change,
        )
        .await
    }

    async fn set_plugin_limits(
        &self,
        id: &str,
        version: &str,
        limits: &PluginLimits,
        change: &Change,
    ) -> StoreResult<()> {
        self.write_one(
            sqlx::query(
                "UPDATE plugins SET limits = $1, updated_at = $2 WHERE id = $3 AND version = $4",
            )
            .bind(to_json(limits))
            .bind(change.audit.occurred_at.unix_millis())
            .bind(id)
            .bind(version),
            change,
        )
        .await
    }

    async fn delete_plugin(&self, id: &str, version: &str, change: &Change) -> StoreResult<()> {
        self.write_one(
            sqlx::query("DELETE FROM plugins WHERE id = $1 AND version = $2")
                .bind(id)
                .bind(version),
            change,
        )
        .await
    }

    async fn plugin_users(&self, id: &str) -> StoreResult<Vec<PluginUser>> {
        // `transform` is JSON text ({"plugin": …, "config": …}); LIKE narrows the rows on both
        // backends without JSON functions, and the exact test is done on the parsed value.
        let pattern = format!("%{}%", escape_like(&to_json(&id)));
        let rows = sqlx::query(
            "SELECT id, tenant_id, transform FROM webhook_endpoints \
             WHERE transform LIKE $1 ESCAPE '\\' ORDER BY tenant_id, id",
        )
        .bind(pattern)
        .fetch_all(self.reader())
        .await
        .map_err(interpret)?;
        let mut users = Vec::new();
        for row in &rows {
            let transform: serde_json::Value = get_json(row, "transform")?;
            if transform["plugin"].as_str() == Some(id) {
                users.push(PluginUser {
                    object: "webhook_endpoint".into(),
                    id: get(row, "id")?,
                    tenant_id: get(row, "tenant_id")?,
                });
            }
        }
        Ok(users)
    }
}

#[async_trait]
impl TrustStore for SqlStore {
    async fn get_trusted_key(&self, key_id: &str) -> StoreResult<Option<TrustedKey>> {
        let row = sqlx::query(&format!("{SELECT_KEY} WHERE key_id = $1"))
            .bind(key_id)
            .fetch_optional(self.reader())
            .await
            .map_err(interpret)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn list_trusted_keys(&self) -> StoreResult<Vec<TrustedKey>> {
        let rows = sqlx::query(&format!("{SELECT_KEY} ORDER BY added_at, key_id"))
            .fetch_all(self.reader())
            .await
            .map_err(interpret)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn add_trusted_key(&self, key: &TrustedKey, change: &Change) -> StoreResult<()> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        // A removed key comes back in place; an active one is left alone (0 rows).
        let result = sqlx::query(
            "INSERT INTO trusted_keys (key_id, name, public_key, added_at, removed_at) \
             VALUES ($1, $2, $3, $4, NULL) \
             ON CONFLICT (key_id) DO UPDATE SET name = excluded.name, \
             public_key = excluded.public_key, added_at = excluded.added_at, removed_at = NULL \
             WHERE trusted_keys.removed_at IS NOT NULL",
        )
        .bind(key.key_id.as_str())
        .bind(key.name.as_str())
        .bind(key.public_key.as_str())
        .bind(key.added_at.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(interpret)?;
        if result.rows_affected() == 0 {
            return Err(StoreError::UniqueViolation {
                constraint: "trusted_keys.key_id".into(),
            });
        }
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)
    }

    async fn remove_trusted_key(
        &self,
        key_id: &str,
        at: Timestamp,
        plugin_reason: &str,
        change: &Change,
    ) -> StoreResult<Vec<(String, String)>> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        let result = sqlx::query(
            "UPDATE trusted_keys SET removed_at = $1 WHERE key_id = $2 AND removed_at IS NULL",
        )
        .bind(at.unix_millis())
        .bind(key_id)
        .execute(&mut *tx)
        .await
        .map_err(interpret)?;
        expect_one(result)?;
        let rows = sqlx::query(
            "SELECT id, version FROM plugins WHERE signer_key_id = $1 AND enabled <> 0 \
             ORDER BY id, version",
        )
        .bind(key_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(interpret)?;
        let disabled = rows
            .iter()
            .map(|row| Ok((get(row, "id")?, get(row, "version")?)))
            .collect::<Result<Vec<(String, String)>, StoreError>>()?;
        sqlx::query(
            "UPDATE plugins SET enabled = 0, disabled_reason = $1, updated_at = $2 \
             WHERE signer_key_id = $3 AND enabled <> 0",
        )
        .bind(plugin_reason)
        .bind(at.unix_millis())
        .bind(key_id)
        .execute(&mut *tx)
        .await
        .map_err(interpret)?;
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)?;
        Ok(disabled)
    }
}

#[cfg(test)]
mod tests {
    use crate::sql::escape_like;

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(escape_like(r#""acme_x.100%""#), r#""acme\_x.100\%""#);
        assert_eq!(escape_like(r"a\b"), r"a\\b");
    }
}
