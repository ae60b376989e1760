//! Writing a [`Change`] (audit entry, events, sync marks) inside the caller's transaction.

use gatehouse_core::{StoreError, change::Change, event::Event};
use sqlx::AnyConnection;

use crate::{
    Dialect,
    error::interpret,
    sql::{Sql, Val, to_json},
};

/// Writes `change` into the open transaction `conn`. Call it as the last step before commit:
/// events go last because appending them takes the events lock (see [`Dialect`]).
pub(crate) async fn write(
    conn: &mut AnyConnection,
    dialect: Dialect,
    change: &Change,
) -> Result<(), StoreError> {
    let audit = &change.audit;
    let target_ids: String = audit
        .targets
        .iter()
        .map(|t| format!(" {} ", t.id))
        .collect::<String>();
    sqlx::query(
        "INSERT INTO audit_log (id, action, occurred_at, version, actor_type, actor_id, \
         actor_name, targets, target_ids, context, metadata, tenant_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(audit.id.as_str())
    .bind(audit.action.as_str())
    .bind(audit.occurred_at.unix_millis())
    .bind(i64::from(audit.version))
    .bind(to_json(&audit.actor.kind).trim_matches('"').to_owned())
    .bind(audit.actor.id.as_str())
    .bind(audit.actor.name.as_deref())
    .bind(to_json(&audit.targets))
    .bind(target_ids)
    .bind(to_json(&audit.context))
    .bind(to_json(&audit.metadata))
    .bind(audit.tenant_id.as_ref().map(|t| t.as_str()))
    .execute(&mut *conn)
    .await
    .map_err(interpret)?;

    for object in &change.sync {
        let now = audit.occurred_at.unix_millis();
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
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(interpret)?;
    }
    insert_events(conn, dialect, &change.events).await
}

/// Events per `INSERT` statement (small enough for SQLite's placeholder lookup to stay cheap).
const EVENTS_PER_INSERT: usize = 50;

pub(crate) async fn insert_events(
    conn: &mut AnyConnection,
    dialect: Dialect,
    events: &[Event],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    if let Some(lock) = dialect.lock_events {
        sqlx::query(lock)
            .execute(&mut *conn)
            .await
            .map_err(interpret)?;
    }
    // Several events per statement: a batch from a receiver or a replay costs one round trip
    // per chunk instead of one per event. Rows get `seq` in list order.
    for chunk in events.chunks(EVENTS_PER_INSERT) {
        let mut sql = Sql::for_dialect(
            dialect,
            "INSERT INTO events (id, type, occurred_at, tenant_id, data) VALUES ",
        );
        for (i, event) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "" } else { ", " }).list([
                Val::from(event.id.as_str()),
                Val::from(event.kind.as_str()),
                Val::from(event.occurred_at),
                Val::from(event.tenant_id.as_ref().map(|t| t.as_str())),
                Val::from(to_json(&event.data)),
            ]);
        }
        sql.query().execute(&mut *conn).await.map_err(interpret)?;
    }
    Ok(())
}
