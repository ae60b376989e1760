use async_trait::async_trait;
use gatehouse_core::{
    StoreError,
    audit::{Actor, AuditEntry, AuditFilter},
    id::{AuditId, TenantId},
    page::{Page, PageRequest},
    principal::ActorKind,
    store::{AuditStore, StoreResult},
};
use sqlx::any::AnyRow;

use crate::{
    SqlStore,
    sql::{Sql, escape_like, get, get_int, get_json, get_time},
};

fn from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let actor_type: String = get(row, "actor_type")?;
    let kind: ActorKind = serde_json::from_value(serde_json::Value::String(actor_type.clone()))
        .map_err(|_| StoreError::Corrupt(format!("unknown actor type `{actor_type}`")))?;
    Ok(AuditEntry {
        id: AuditId::from_stored(get(row, "id")?),
        action: get(row, "action")?,
        occurred_at: get_time(row, "occurred_at")?,
        version: get_int(row, "version")?.try_into().unwrap_or(1),
        actor: Actor {
            kind,
            id: get(row, "actor_id")?,
            name: get(row, "actor_name")?,
        },
        targets: get_json(row, "targets")?,
        context: get_json(row, "context")?,
        metadata: get_json(row, "metadata")?,
        tenant_id: get::<Option<String>>(row, "tenant_id")?.map(TenantId::from_stored),
    })
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEntry>> {
        let mut sql = Sql::new(
            "SELECT id, action, occurred_at, version, actor_type, actor_id, actor_name, targets, \
             context, metadata, tenant_id FROM audit_log WHERE 1 = 1",
        );
        if let Some(tenant) = &filter.tenant_id {
            sql.push(" AND tenant_id = ").bind(tenant.to_string());
        }
        if !filter.actions.is_empty() {
            sql.push(" AND action IN ")
                .list(filter.actions.iter().map(String::as_str));
        }
        if let Some(actor) = &filter.actor_id {
            sql.push(" AND actor_id = ").bind(actor.clone());
        }
        if let Some(target) = &filter.target_id {
            sql.push(" AND target_ids LIKE ")
                .bind(format!("% {} %", escape_like(target)));
            sql.push(" ESCAPE '\\'");
        }
        if let Some(since) = filter.since {
            sql.push(" AND occurred_at >= ").bind(since);
        }
        if let Some(until) = filter.until {
            sql.push(" AND occurred_at < ").bind(until);
        }
        sql.page("id", page);
        let entries = sql.fetch_all(self.reader(), from_row).await?;
        Ok(Page::from_rows(entries, page, |e| e.id.to_string()))
    }
}
