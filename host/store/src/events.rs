use async_trait::async_trait;
use gatehouse_core::{
    StoreError, Timestamp,
    event::{Event, EventFilter},
    id::{EventId, TenantId},
    page::Page,
    store::{EventStore, StoreResult},
};
use sqlx::any::AnyRow;

use crate::{
    SqlStore, change,
    error::interpret,
    sql::{Sql, get, get_json, get_time},
};

const SELECT: &str = "SELECT id, seq, type, occurred_at, tenant_id, data FROM events";

fn from_row(row: &AnyRow) -> Result<Event, StoreError> {
    Ok(Event {
        id: EventId::from_stored(get(row, "id")?),
        kind: get(row, "type")?,
        occurred_at: get_time(row, "occurred_at")?,
        tenant_id: get::<Option<String>>(row, "tenant_id")?.map(TenantId::from_stored),
        data: get_json(row, "data")?,
    })
}

#[async_trait]
impl EventStore for SqlStore {
    async fn append_events(&self, events: &[Event]) -> StoreResult<()> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        change::insert_events(&mut tx, self.dialect(), events).await?;
        tx.commit().await.map_err(interpret)
    }

    async fn list_events(
        &self,
        filter: &EventFilter,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Page<Event>> {
        // The cursor is an event id; its `seq` is the position (see `Dialect::lock_events`).
        let position: Option<i64> = match after {
            Some(id) => Some(
                sqlx::query_scalar("SELECT seq FROM events WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(interpret)?
                    .ok_or(StoreError::NotFound)?,
            ),
            None => None,
        };
        let mut sql = Sql::new(SELECT);
        sql.push(" WHERE seq > ").bind(position.unwrap_or(0));
        if let Some(tenant) = &filter.tenant_id {
            sql.push(" AND tenant_id = ").bind(tenant.to_string());
        }
        if !filter.types.is_empty() && !filter.types.iter().any(|t| t == "*") {
            sql.push(" AND (");
            for (i, pattern) in filter.types.iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                sql.event_type("type", pattern);
            }
            sql.push(")");
        }
        if let Some(since) = filter.since {
            sql.push(" AND occurred_at >= ").bind(since);
        }
        if let Some(until) = filter.until {
            sql.push(" AND occurred_at < ").bind(until);
        }
        sql.push(" ORDER BY seq LIMIT ").bind(i64::from(limit) + 1);
        let mut events = sql.fetch_all(self.reader(), from_row).await?;
        let more = events.len() > limit as usize;
        events.truncate(limit as usize);
        // Unlike id-ordered lists, the feed always returns a cursor (the last event seen) so a
        // consumer can resume from it even when it reached the current end.
        let after = events
            .last()
            .map(|e| e.id.to_string())
            .or_else(|| after.map(str::to_owned));
        let _ = more;
        Ok(Page {
            data: events,
            after,
        })
    }

    async fn get_event(&self, id: &str) -> StoreResult<Option<Event>> {
        let mut sql = Sql::new(SELECT);
        sql.push(" WHERE id = ").bind(id);
        sql.fetch_optional(self.reader(), from_row).await
    }

    async fn purge_events(&self, before: Timestamp) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM events WHERE occurred_at < $1")
            .bind(before.unix_millis())
            .execute(self.writer())
            .await
            .map_err(interpret)?;
        Ok(result.rows_affected())
    }
}
