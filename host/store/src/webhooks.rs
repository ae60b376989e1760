//! Webhook endpoints, deliveries, attempts and the fan-out over the events feed.
//!
//! - **Fan-out** reads events past a cursor (`webhook_fanout.last_seq`), inserts one delivery
//!   per matching enabled endpoint and advances the cursor in one transaction. `seq` order is
//!   commit order (see [`crate::Dialect`]), so no event is skipped; the cursor row's lock (taken
//!   with `SKIP LOCKED` on PostgreSQL) lets one replica fan out at a time without the others
//!   waiting. Endpoint rows are read `FOR KEY SHARE`, so a concurrent endpoint delete either
//!   waits for the pass or is seen by it — never leaves deliveries behind. On SQLite the pass
//!   reads events and endpoints on a reader and takes the single writer only to write: the
//!   cursor moves only from where the pass read it (else another pass won and this one writes
//!   nothing), and foreign keys with existence checks cover endpoints deleted in between.
//! - **Claims** take due deliveries with `FOR UPDATE SKIP LOCKED` on PostgreSQL and mark them
//!   with the worker and a lease; SQLite's single writer makes the same statement exclusive. A
//!   read comes first, so a poll that finds nothing due takes no write lock.
//! - **Handoffs**: the fan-out can hand fresh deliveries straight to the worker that runs it,
//!   with their event and endpoint, without writing them: one `webhook_handoffs` row per pass,
//!   under the worker's lease, lists them. Each is written once, with its first result (or
//!   when given back) — one insert instead of an insert, a claim and an update, and the insert
//!   of a finished delivery skips the due index. The worker deletes the handoff once all its
//!   deliveries are written (one statement per pass, so result writers never queue on a
//!   shared counter); when its lease runs out first (the worker died), the next claim of any
//!   worker writes the rest as pending (the same ids: at least once, never lost).
//! - **Results** of a batch of attempts are written with a few multi-row statements, only for
//!   deliveries the worker still holds. Lock order everywhere: endpoint row, then its
//!   deliveries, then attempts (the order of an endpoint delete and its cascade).
//! - **No orphans**: on PostgreSQL deliveries and attempts have no foreign keys (migration
//!   0007: they cost a row lock per row). Every statement writing them locks their endpoints
//!   `FOR KEY SHARE` and writes only for the endpoints it locked; an endpoint's delete trigger
//!   removes its deliveries and attempts, and the retention purge removes attempts with their
//!   delivery. SQLite keeps its foreign keys.
//!
//! None of these transactions appends events, so none can be part of a lock cycle with an
//! event writer (which holds the events lock until commit).

use std::collections::HashSet;

use async_trait::async_trait;
use gatehouse_core::{
    StoreError, Timestamp,
    change::Change,
    id::{AttemptId, DeliveryId, EventId, HandoffId, TenantId, WebhookEndpointId},
    page::{Page, PageRequest},
    secret::Sealed,
    store::StoreResult,
    webhook::{
        AttemptFilter, AttemptRecord, AttemptStatus, ClaimRequest, Delivery, DeliveryAttempt,
        DeliveryFilter, DeliveryJob, DeliveryStatus, EndpointHealth, EndpointSecrets, FanOut,
        JobEndpoint, NextState, WebhookEndpoint, WebhookStore, wants,
    },
};
use sqlx::{AnyConnection, any::AnyRow};

use crate::{
    Dialect, SQLITE_DIALECT, SqlStore, change,
    error::interpret,
    sql::{Sql, get, get_enum, get_int, get_json, get_opt_time, get_time, to_json},
};

/// Rows per multi-row statement: well under both backends' bind-parameter limits.
const CHUNK: usize = 256;

/// Splits `items` into chunks whose lengths are powers of two (at most [`CHUNK`]), largest
/// first. Statements then come in a handful of shapes that stay in the prepared-statement
/// cache, instead of a new shape (parsed and planned again) for every batch size.
fn shaped<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = if rest.len() >= CHUNK {
            CHUNK
        } else {
            1 << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}
/// Events scanned per step of a recovery.
const RECOVER_PAGE: i64 = 1000;

const ENDPOINT_COLUMNS: &str = "id, tenant_id, url, description, event_types, transform, \
     enabled, disabled_reason, rate_limit, previous_secret_expires_at, failing_since, \
     created_at, updated_at";

const DELIVERY_COLUMNS: &str = "id, tenant_id, endpoint_id, event_id, event_type, status, \
     attempts, next_attempt_at, last_attempt_at, last_response_status, last_error, created_at";

const ATTEMPT_COLUMNS: &str = "id, delivery_id, tenant_id, endpoint_id, attempt, started_at, \
     status, latency_ms, response_status, response_body, error";

fn endpoint_from_row(row: &AnyRow) -> Result<WebhookEndpoint, StoreError> {
    let transform: Option<String> = get(row, "transform")?;
    Ok(WebhookEndpoint {
        id: WebhookEndpointId::from_stored(get(row, "id")?),
        tenant_id: TenantId::from_stored(get(row, "tenant_id")?),
        url: get(row, "url")?,
        description: get(row, "description")?,
        event_types: get_json(row, "event_types")?,
        transform: transform
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("column `transform`: {e}")))?,
        enabled: get_int(row, "enabled")? != 0,
        disabled_reason: get(row, "disabled_reason")?,
        rate_limit: get::<Option<i64>>(row, "rate_limit")?
            .map(|n| n.clamp(0, u32::MAX.into()) as u32),
        previous_secret_expires_at: get_opt_time(row, "previous_secret_expires_at")?,
        failing_since: get_opt_time(row, "failing_since")?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

fn count(row: &AnyRow, column: &str) -> Result<u32, StoreError> {
    Ok(get_int(row, column)?.clamp(0, u32::MAX.into()) as u32)
}

fn status_code(row: &AnyRow, column: &str) -> Result<Option<u16>, StoreError> {
    Ok(get::<Option<i64>>(row, column)?.and_then(|c| u16::try_from(c).ok()))
}

fn delivery_from_row(row: &AnyRow) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: DeliveryId::from_stored(get(row, "id")?),
        tenant_id: TenantId::from_stored(get(row, "tenant_id")?),
        endpoint_id: WebhookEndpointId::from_stored(get(row, "endpoint_id")?),
        event_id: EventId::from_stored(get(row, "event_id")?),
        event_type: get(row, "event_type")?,
        status: get_enum(row, "status", DeliveryStatus::parse)?,
        attempts: count(row, "attempts")?,
        next_attempt_at: get_opt_time(row, "next_attempt_at")?,
        last_attempt_at: get_opt_time(row, "last_attempt_at")?,
        last_response_status: status_code(row, "last_response_status")?,
        last_error: get(row, "last_error")?,
        created_at: get_time(row, "created_at")?,
    })
}

fn attempt_from_row(row: &AnyRow) -> Result<DeliveryAttempt, StoreError> {
    Ok(DeliveryAttempt {
        id: AttemptId::from_stored(get(row, "id")?),
        delivery_id: DeliveryId::from_stored(get(row, "delivery_id")?),
        tenant_id: TenantId::from_stored(get(row, "tenant_id")?),
        endpoint_id: WebhookEndpointId::from_stored(get(row, "endpoint_id")?),
        attempt: count(row, "attempt")?,
        started_at: get_time(row, "started_at")?,
        status: get_enum(row, "status", AttemptStatus::parse)?,
        latency_ms: count(row, "latency_ms")?,
        response_status: status_code(row, "response_status")?,
        response_body: get(row, "response_body")?,
        error: get(row, "error")?,
    })
}

/// The event's JSON exactly as serializing an [`Event`](gatehouse_core::event::Event) gives it, built around the stored
/// `data` text instead of parsing and re-serializing it (the hot path of every delivery).
fn event_json(row: &AnyRow) -> Result<Option<String>, StoreError> {
    let Some(id) = get::<Option<String>>(row, "e_id")? else {
        return Ok(None);
    };
    Ok(Some(event_json_text(
        &id,
        &get::<String>(row, "e_type")?,
        get_time(row, "e_occurred_at")?,
        get::<Option<String>>(row, "e_tenant_id")?.as_deref(),
        &get::<String>(row, "e_data")?,
    )))
}

fn event_json_text(
    id: &str,
    kind: &str,
    occurred_at: Timestamp,
    tenant: Option<&str>,
    data: &str,
) -> String {
    let quoted = |text: &str| serde_json::to_string(text).expect("strings serialize");
    format!(
        "{{\"id\":{},\"type\":{},\"occurred_at\":\"{occurred_at}\",\"tenant_id\":{},\"data\":{data}}}",
        quoted(id),
        quoted(kind),
        tenant.map_or_else(|| "null".to_owned(), quoted),
    )
}

fn job_from_row(row: &AnyRow) -> Result<DeliveryJob, StoreError> {
    Ok(DeliveryJob {
        id: DeliveryId::from_stored(get(row, "id")?),
        tenant_id: TenantId::from_stored(get(row, "tenant_id")?),
        event_id: EventId::from_stored(get(row, "event_id")?),
        event_type: get(row, "event_type")?,
        attempts: count(row, "attempts")?,
        round_attempts: count(row, "round_attempts")?,
        event_json: event_json(row)?,
        endpoint: job_endpoint_from_row(row, "endpoint_id")?,
        handoff: None,
    })
}

/// What a worker needs of an endpoint, from `w_`-prefixed columns (the id from `id_column`).
fn job_endpoint_from_row(row: &AnyRow, id_column: &str) -> Result<JobEndpoint, StoreError> {
    let transform: Option<String> = get(row, "w_transform")?;
    Ok(JobEndpoint {
        id: WebhookEndpointId::from_stored(get(row, id_column)?),
        url: get(row, "w_url")?,
        transform: transform
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("column `transform`: {e}")))?,
        rate_limit: get::<Option<i64>>(row, "w_rate_limit")?
            .map(|n| n.clamp(0, u32::MAX.into()) as u32),
        failing_since: get_opt_time(row, "w_failing_since")?,
        secrets: EndpointSecrets {
            current: Sealed::from_stored(get(row, "w_secret")?),
            previous: get::<Option<String>>(row, "w_previous_secret")?.map(Sealed::from_stored),
            previous_expires_at: get_opt_time(row, "w_previous_secret_expires_at")?,
        },
    })
}

/// The `w_` columns [`job_endpoint_from_row`] reads, from `webhook_endpoints` aliased `w`.
const JOB_ENDPOINT_COLUMNS: &str = "w.url AS w_url, w.transform AS w_transform, \
     w.rate_limit AS w_rate_limit, w.failing_since AS w_failing_since, w.secret AS w_secret, \
     w.previous_secret AS w_previous_secret, \
     w.previous_secret_expires_at AS w_previous_secret_expires_at";

/// Delivery ids for a batch: monotonic within it, so deliveries list in event order even
/// within a millisecond.
fn delivery_ids() -> impl FnMut() -> String {
    let mut ids = ulid::Generator::new();
    move || {
        ids.generate().map_or_else(
            |_| DeliveryId::generate().into_string(),
            |u| format!("{}_{u}", DeliveryId::PREFIX),
        )
    }
}

/// A delivery to insert (fan-out, recovery, expired handoffs, released handoffs).
#[derive(Clone, Copy)]
struct NewDelivery<'a> {
    id: &'a str,
    tenant_id: &'a str,
    endpoint_id: &'a str,
    event_id: &'a str,
    event_type: &'a str,
}

/// Inserts pending deliveries created at `now`, due at `due`. With `rearm`, an existing
/// delivery of the same event and endpoint that is not pending becomes due again (a new
/// round); otherwise it is left alone. Returns how many rows were inserted or re-armed.
async fn insert_deliveries(
    conn: &mut AnyConnection,
    dialect: Dialect,
    rows: &[NewDelivery<'_>],
    now: Timestamp,
    due: Timestamp,
    rearm: bool,
) -> Result<u64, StoreError> {
    let mut written = 0;
    for chunk in shaped(rows) {
        let mut stmt = Sql::for_dialect(
            dialect,
            "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, \
             status, attempts, round_attempts, next_attempt_at, created_at) VALUES ",
        );
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                stmt.push(", ");
            }
            stmt.push("(")
                .bind(row.id)
                .push(", ")
                .bind(row.tenant_id)
                .push(", ")
                .bind(row.endpoint_id)
                .push(", ")
                .bind(row.event_id)
                .push(", ")
                .bind(row.event_type)
                .push(", 'pending', 0, 0, ")
                .bind(due)
                .push(", ")
                .bind(now)
                .push(")");
        }
        if rearm {
            stmt.push(
                " ON CONFLICT (event_id, endpoint_id) DO UPDATE SET status = 'pending', \
                 next_attempt_at = excluded.next_attempt_at, round_attempts = 0, \
                 claimed_by = NULL, lease_until = NULL \
                 WHERE webhook_deliveries.status <> 'pending'",
            );
        } else {
            stmt.push(" ON CONFLICT (event_id, endpoint_id) DO NOTHING");
        }
        let result = stmt.query().execute(&mut *conn).await.map_err(interpret)?;
        written += result.rows_affected();
    }
    Ok(written)
}

/// Of `endpoints`, those that still exist. On PostgreSQL they are locked `FOR KEY SHARE`
/// until commit, so deliveries inserted for them next cannot meet a concurrent delete.
async fn existing_endpoints(
    conn: &mut AnyConnection,
    dialect: Dialect,
    endpoints: &[&str],
) -> Result<HashSet<String>, StoreError> {
    let mut endpoints = endpoints.to_vec();
    endpoints.sort_unstable();
    endpoints.dedup();
    let mut existing = HashSet::new();
    for chunk in endpoints.chunks(CHUNK) {
        let mut stmt = Sql::for_dialect(dialect, "SELECT id FROM webhook_endpoints WHERE id IN ");
        stmt.list(chunk.iter().copied());
        // In id order, so two writers never lock endpoints in opposite orders.
        stmt.push(" ORDER BY id").push(dialect.key_share());
        for row in stmt
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(interpret)?
        {
            existing.insert(get::<String>(&row, "id")?);
        }
    }
    Ok(existing)
}

/// Inserts, as pending, handed-off deliveries that were never written (an expired handoff, or
/// jobs given back), skipping those of deleted endpoints and those written meanwhile. Returns
/// how many it wrote.
async fn write_unwritten(
    conn: &mut AnyConnection,
    dialect: Dialect,
    rows: &[NewDelivery<'_>],
    now: Timestamp,
    due: Timestamp,
) -> Result<u64, StoreError> {
    let endpoints: Vec<&str> = rows.iter().map(|r| r.endpoint_id).collect();
    let existing = existing_endpoints(conn, dialect, &endpoints).await?;
    let rows: Vec<NewDelivery<'_>> = rows
        .iter()
        .filter(|r| existing.contains(r.endpoint_id))
        .copied()
        .collect();
    insert_deliveries(conn, dialect, &rows, now, due, false).await
}

/// The delivery's status, next attempt and error after this attempt.
fn delivery_outcome(record: &AttemptRecord) -> (DeliveryStatus, Option<Timestamp>, Option<&str>) {
    match &record.next {
        NextState::Succeeded => (DeliveryStatus::Succeeded, None, None),
        NextState::Skipped { reason } => (DeliveryStatus::Skipped, None, Some(reason.as_str())),
        NextState::Retry { at } => (
            DeliveryStatus::Pending,
            Some(*at),
            record.attempt.error.as_deref(),
        ),
        NextState::Dead { reason } => (DeliveryStatus::Dead, None, Some(reason.as_str())),
    }
}

/// Columns a handed-off delivery is first written with, its first attempt already made.
const WRITTEN_DELIVERY_COLUMNS: &str = "id, tenant_id, endpoint_id, event_id, event_type, \
     status, attempts, round_attempts, next_attempt_at, last_attempt_at, last_response_status, \
     last_error, created_at";

/// Attempts and their deliveries' next states as one JSON array (see [`record_attempts_json`]).
fn attempts_json(records: &[&AttemptRecord]) -> String {
    let rows: Vec<serde_json::Value> = records
        .iter()
        .map(|record| {
            let a = &record.attempt;
            let (status, next_at, error) = delivery_outcome(record);
            serde_json::json!({
                "attempt_id": a.id.as_str(),
                "delivery_id": a.delivery_id.as_str(),
                "tenant_id": a.tenant_id.as_str(),
                "endpoint_id": a.endpoint_id.as_str(),
                "attempt": a.attempt,
                "started_at": a.started_at.unix_millis(),
                "status": a.status.as_str(),
                "latency_ms": a.latency_ms,
                "response_status": a.response_status,
                "response_body": a.response_body,
                "error": a.error,
                "delivery_status": status.as_str(),
                "next_attempt_at": next_at.map(Timestamp::unix_millis),
                "delivery_error": error,
                "event_id": record.handoff.as_ref().map(|h| h.event_id.as_str()),
                "event_type": record.handoff.as_ref().map(|h| h.event_type.as_str()),
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// SQLite: each chunk as a VALUES list joined on the primary key.
async fn record_attempts_values(
    conn: &mut AnyConnection,
    worker: &str,
    records: &[AttemptRecord],
) -> Result<(), StoreError> {
    let (handed, claimed): (Vec<&AttemptRecord>, Vec<&AttemptRecord>) =
        records.iter().partition(|r| r.handoff.is_some());
    // Handed-off deliveries are written now (unless written meanwhile, or their endpoint is
    // gone: SQLite's single writer makes the check and the insert one step).
    for chunk in shaped(&handed) {
        let mut stmt = Sql::for_dialect(
            SQLITE_DIALECT,
            &format!(
                "INSERT INTO webhook_deliveries ({WRITTEN_DELIVERY_COLUMNS}) SELECT v.column1, \
                 v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, 1, v.column8, \
                 v.column9, v.column10, v.column11, v.column9 FROM (VALUES "
            ),
        );
        stmt.values(chunk, |record| {
            let a = &record.attempt;
            let handoff = record.handoff.as_ref().expect("partitioned on the handoff");
            let (status, next_at, error) = delivery_outcome(record);
            vec![
                a.delivery_id.as_str().into(),
                a.tenant_id.as_str().into(),
                a.endpoint_id.as_str().into(),
                handoff.event_id.as_str().into(),
                handoff.event_type.as_str().into(),
                status.as_str().into(),
                i64::from(a.attempt).into(),
                next_at.into(),
                a.started_at.into(),
                a.response_status.map(i64::from).into(),
                error.into(),
            ]
        });
        stmt.push(
            ") AS v WHERE EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = v.column3) \
             ON CONFLICT (event_id, endpoint_id) DO NOTHING",
        );
        stmt.query().execute(&mut *conn).await.map_err(interpret)?;
    }

    for chunk in shaped(&claimed) {
        let mut stmt = Sql::for_dialect(
            SQLITE_DIALECT,
            "UPDATE webhook_deliveries SET status = v.column2, attempts = attempts + 1, \
             round_attempts = round_attempts + 1, next_attempt_at = v.column3, \
             last_attempt_at = v.column4, last_response_status = v.column5, \
             last_error = v.column6, claimed_by = NULL, lease_until = NULL FROM (VALUES ",
        );
        stmt.values(chunk, |record| {
            let a = &record.attempt;
            let (status, next_at, error) = delivery_outcome(record);
            vec![
                a.delivery_id.as_str().into(),
                status.as_str().into(),
                next_at.into(),
                a.started_at.into(),
                a.response_status.map(i64::from).into(),
                error.into(),
            ]
        });
        stmt.push(
            ") AS v WHERE webhook_deliveries.id = v.column1 AND webhook_deliveries.claimed_by = ",
        )
        .bind(worker);
        stmt.query().execute(&mut *conn).await.map_err(interpret)?;
    }

    for chunk in shaped(records) {
        // Attempts of deliveries deleted meanwhile (endpoint deleted) are dropped.
        let mut stmt = Sql::for_dialect(
            SQLITE_DIALECT,
            &format!(
                "INSERT INTO webhook_attempts ({ATTEMPT_COLUMNS}) SELECT v.column1, v.column2, \
             v.column3, v.column4, v.column5, v.column6, v.column7, v.column8, v.column9, \
             v.column10, v.column11 FROM (VALUES "
            ),
        );
        stmt.values(chunk, |record| {
            let a = &record.attempt;
            vec![
                a.id.as_str().into(),
                a.delivery_id.as_str().into(),
                a.tenant_id.as_str().into(),
                a.endpoint_id.as_str().into(),
                i64::from(a.attempt).into(),
                a.started_at.into(),
                a.status.as_str().into(),
                i64::from(a.latency_ms).into(),
                a.response_status.map(i64::from).into(),
                a.response_body.as_deref().into(),
                a.error.as_deref().into(),
            ]
        });
        stmt.push(
            ") AS v WHERE EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = v.column2)",
        );
        stmt.query().execute(&mut *conn).await.map_err(interpret)?;
    }

    Ok(())
}

/// PostgreSQL: the batch as one JSON parameter, parsed once, in one statement per kind of
/// record (handed off, claimed). PostgreSQL joins a long VALUES list by scanning the whole
/// deliveries table (the cost grows with the table); a JSON recordset is joined by looking each
/// delivery up by its key. The two kinds go in separate statements: a plan that joins both
/// kinds against the deliveries table scanned it whole even when one kind was absent.
async fn record_attempts_json(
    conn: &mut AnyConnection,
    worker: &str,
    records: &[AttemptRecord],
) -> Result<(), StoreError> {
    let (handed, claimed): (Vec<&AttemptRecord>, Vec<&AttemptRecord>) =
        records.iter().partition(|r| r.handoff.is_some());
    // Each statement locks its endpoints first (module docs: no foreign keys on PostgreSQL)
    // and records attempts only for the endpoints it locked.
    let recordset = "WITH v AS MATERIALIZED (SELECT * FROM json_to_recordset($1::json) AS \
           v(attempt_id text, delivery_id text, tenant_id text, endpoint_id text, attempt bigint, \
           started_at bigint, status text, latency_ms bigint, response_status bigint, \
           response_body text, error text, delivery_status text, next_attempt_at bigint, \
           delivery_error text, event_id text, event_type text)), \
         endpoints AS (SELECT id FROM webhook_endpoints WHERE id IN \
           (SELECT endpoint_id FROM v) FOR KEY SHARE)";
    if !handed.is_empty() {
        // Written now, with their first result (unless written meanwhile: then, like a late
        // result, only the attempt is kept).
        sqlx::query(&format!(
            "{recordset}, \
             written AS (INSERT INTO webhook_deliveries ({WRITTEN_DELIVERY_COLUMNS}) \
               SELECT delivery_id, tenant_id, endpoint_id, event_id, event_type, \
               delivery_status, attempt, 1, next_attempt_at, started_at, response_status, \
               delivery_error, started_at FROM v WHERE endpoint_id IN (SELECT id FROM endpoints) \
               ON CONFLICT (event_id, endpoint_id) DO NOTHING RETURNING id) \
             INSERT INTO webhook_attempts ({ATTEMPT_COLUMNS}) SELECT attempt_id, delivery_id, \
               tenant_id, endpoint_id, attempt, started_at, status, latency_ms, response_status, \
               response_body, error FROM v WHERE delivery_id IN (SELECT id FROM written) \
               OR (endpoint_id IN (SELECT id FROM endpoints) \
                 AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = v.delivery_id))"
        ))
        .bind(attempts_json(&handed))
        .execute(&mut *conn)
        .await
        .map_err(interpret)?;
    }
    if !claimed.is_empty() {
        // Only deliveries this worker still holds change; the attempt is kept while the
        // delivery exists (a late result after a rescue still counts as an attempt).
        sqlx::query(&format!(
            "{recordset}, \
             updated AS (UPDATE webhook_deliveries d SET status = v.delivery_status, \
               attempts = d.attempts + 1, round_attempts = d.round_attempts + 1, \
               next_attempt_at = v.next_attempt_at, last_attempt_at = v.started_at, \
               last_response_status = v.response_status, last_error = v.delivery_error, \
               claimed_by = NULL, lease_until = NULL FROM v \
               WHERE d.id = v.delivery_id AND d.claimed_by = $2) \
             INSERT INTO webhook_attempts ({ATTEMPT_COLUMNS}) SELECT attempt_id, delivery_id, \
               tenant_id, endpoint_id, attempt, started_at, status, latency_ms, response_status, \
               response_body, error FROM v WHERE endpoint_id IN (SELECT id FROM endpoints) \
               AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = v.delivery_id)"
        ))
        .bind(attempts_json(&claimed))
        .bind(worker)
        .execute(&mut *conn)
        .await
        .map_err(interpret)?;
    }
    Ok(())
}

impl SqlStore {
    /// Fan-out with row locks (PostgreSQL): the pass holds the cursor row `FOR UPDATE SKIP
    /// LOCKED` and reads its endpoints `FOR KEY SHARE` in the transaction that writes it.
    async fn fan_out_locked(
        &self,
        limit: u32,
        now: Timestamp,
        claim: Option<&ClaimRequest<'_>>,
    ) -> StoreResult<FanOut> {
        // A read first, so an idle pass takes no row lock.
        let head = sqlx::query(
            "SELECT (SELECT COALESCE(MAX(seq), 0) FROM events) AS head, \
             (SELECT last_seq FROM webhook_fanout WHERE id = 1) AS cursor",
        )
        .fetch_one(self.reader())
        .await
        .map_err(interpret)?;
        if get_int(&head, "head")? <= get_int(&head, "cursor")? {
            return Ok(FanOut::default());
        }
        let dialect = self.dialect();
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        let lock = format!(
            "SELECT last_seq FROM webhook_fanout WHERE id = 1{}",
            dialect.skip_locked()
        );
        let Some(row) = sqlx::query(&lock)
            .fetch_optional(&mut *tx)
            .await
            .map_err(interpret)?
        else {
            // Another replica holds the cursor: it is fanning out these events right now.
            return Ok(FanOut::default());
        };
        let cursor = get_int(&row, "last_seq")?;
        let Some(batch) = read_fan_out_batch(&mut tx, dialect, cursor, limit).await? else {
            return Ok(FanOut::default());
        };
        let planned = batch.plan(claim);
        let written = write_fan_out(&mut tx, dialect, &planned, claim, now).await?;
        sqlx::query("UPDATE webhook_fanout SET last_seq = $1 WHERE id = 1")
            .bind(batch.last_seq())
            .execute(&mut *tx)
            .await
            .map_err(interpret)?;
        tx.commit().await.map_err(interpret)?;
        Ok(batch.result(&planned, written, limit))
    }

    /// Fan-out on SQLite's single writer: events and endpoints are read on a reader, so the
    /// writer — which every result batch queues for — is held only for the writes. The cursor
    /// advances only from the position the pass read (else another pass got there first and
    /// this one writes nothing); deliveries left pending are written only for endpoints that
    /// still exist, and handed-off ones are checked when they are recorded. An idle pass
    /// never takes the writer.
    async fn fan_out_single_writer(
        &self,
        limit: u32,
        now: Timestamp,
        claim: Option<&ClaimRequest<'_>>,
    ) -> StoreResult<FanOut> {
        let dialect = self.dialect();
        let (cursor, batch) = {
            let mut reader = self.reader().acquire().await.map_err(interpret)?;
            let cursor: i64 =
                sqlx::query_scalar("SELECT last_seq FROM webhook_fanout WHERE id = 1")
                    .fetch_one(&mut *reader)
                    .await
                    .map_err(interpret)?;
            let batch = read_fan_out_batch(&mut reader, dialect, cursor, limit).await?;
            (cursor, batch)
        };
        let Some(batch) = batch else {
            return Ok(FanOut::default());
        };
        let mut planned = batch.plan(claim);

        let mut tx = self.writer().begin().await.map_err(interpret)?;
        let moved =
            sqlx::query("UPDATE webhook_fanout SET last_seq = $1 WHERE id = 1 AND last_seq = $2")
                .bind(batch.last_seq())
                .bind(cursor)
                .execute(&mut *tx)
                .await
                .map_err(interpret)?;
        if moved.rows_affected() == 0 {
            return Ok(FanOut {
                more: true,
                ..FanOut::default()
            });
        }
        let pending: Vec<&str> = planned
            .iter()
            .filter(|p| !p.handed)
            .map(|p| p.endpoint.job.id.as_str())
            .collect();
        if !pending.is_empty() {
            let existing = existing_endpoints(&mut tx, dialect, &pending).await?;
            planned.retain(|p| p.handed || existing.contains(p.endpoint.job.id.as_str()));
        }
        let written = write_fan_out(&mut tx, dialect, &planned, claim, now).await?;
        tx.commit().await.map_err(interpret)?;
        Ok(batch.result(&planned, written, limit))
    }

    fn stmt(&self, text: &str) -> Sql {
        Sql::for_dialect(self.dialect(), text)
    }

    /// Writes the unwritten deliveries of handoffs whose lease ran out (their worker died or
    /// stalled) as pending, due at `now`, and deletes the handoffs. A replica skips handoffs
    /// another one is writing right now (or whose worker is settling them).
    async fn write_expired_handoffs(&self, now: Timestamp) -> StoreResult<()> {
        let dialect = self.dialect();
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        let rows = sqlx::query(&format!(
            "SELECT id, deliveries FROM webhook_handoffs WHERE lease_until <= $1 \
             ORDER BY id LIMIT 16{}",
            dialect.skip_locked()
        ))
        .bind(now.unix_millis())
        .fetch_all(&mut *tx)
        .await
        .map_err(interpret)?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut passes = Vec::with_capacity(rows.len());
        let mut listed: Vec<[String; 5]> = Vec::new();
        for row in &rows {
            passes.push(get::<String>(row, "id")?);
            listed.extend(get_json::<Vec<[String; 5]>>(row, "deliveries")?);
        }
        let deliveries: Vec<NewDelivery<'_>> = listed
            .iter()
            .map(|[id, tenant, endpoint, event, kind]| NewDelivery {
                id,
                tenant_id: tenant,
                endpoint_id: endpoint,
                event_id: event,
                event_type: kind,
            })
            .collect();
        let written = write_unwritten(&mut tx, dialect, &deliveries, now, now).await?;
        let mut stmt = self.stmt("DELETE FROM webhook_handoffs WHERE id IN ");
        stmt.list(&passes);
        stmt.query().execute(&mut *tx).await.map_err(interpret)?;
        tx.commit().await.map_err(interpret)?;
        if written > 0 {
            tracing::warn!(
                deliveries = written,
                "webhook deliveries handed to a worker that stopped are pending again"
            );
        }
        Ok(())
    }

    /// Loads claimed deliveries with their event and endpoint.
    async fn load_jobs(&self, ids: &[String]) -> StoreResult<Vec<DeliveryJob>> {
        let mut jobs = Vec::with_capacity(ids.len());
        for chunk in shaped(ids) {
            let mut stmt = self.stmt(&format!(
                "SELECT d.id, d.tenant_id, d.endpoint_id, d.event_id, d.event_type, d.attempts, \
                 d.round_attempts, e.id AS e_id, e.type AS e_type, e.occurred_at AS e_occurred_at, \
                 e.tenant_id AS e_tenant_id, e.data AS e_data, {JOB_ENDPOINT_COLUMNS} \
                 FROM webhook_deliveries d \
                 JOIN webhook_endpoints w ON w.id = d.endpoint_id \
                 LEFT JOIN events e ON e.id = d.event_id \
                 WHERE d.id IN "
            ));
            stmt.list(chunk);
            let rows = stmt
                .query()
                .fetch_all(self.reader())
                .await
                .map_err(interpret)?;
            for row in &rows {
                jobs.push(job_from_row(row)?);
            }
        }
        Ok(jobs)
    }
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn insert_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        secret: &Sealed,
        change: &Change,
    ) -> StoreResult<()> {
        let mut stmt = self.stmt(&format!(
            "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}, secret, created_seq) VALUES ("
        ));
        stmt.bind(endpoint.id.as_str())
            .push(", ")
            .bind(endpoint.tenant_id.as_str())
            .push(", ")
            .bind(endpoint.url.as_str())
            .push(", ")
            .bind(endpoint.description.as_str())
            .push(", ")
            .bind(to_json(&endpoint.event_types))
            .push(", ")
            .bind(endpoint.transform.as_ref().map(to_json).as_deref())
            .push(", ")
            .bind(i64::from(endpoint.enabled))
            .push(", ")
            .bind(endpoint.disabled_reason.as_deref())
            .push(", ")
            .bind(endpoint.rate_limit.map(i64::from))
            .push(", ")
            .bind(endpoint.previous_secret_expires_at)
            .push(", ")
            .bind(endpoint.failing_since)
            .push(", ")
            .bind(endpoint.created_at)
            .push(", ")
            .bind(endpoint.updated_at)
            .push(", ")
            .bind(secret.as_str())
            .push(", (SELECT COALESCE(MAX(seq), 0) FROM events))");
        self.write_one(stmt.query(), change).await
    }

    async fn get_webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        let mut stmt = self.stmt(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = "
        ));
        stmt.bind(tenant.as_str())
            .push(" AND id = ")
            .bind(id.as_str());
        stmt.fetch_optional(self.reader(), endpoint_from_row).await
    }

    async fn list_webhook_endpoints(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> StoreResult<Page<WebhookEndpoint>> {
        let mut stmt = self.stmt(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = "
        ));
        stmt.bind(tenant.as_str());
        stmt.page("id", page);
        let endpoints = stmt.fetch_all(self.reader(), endpoint_from_row).await?;
        Ok(Page::from_rows(endpoints, page, |e| e.id.to_string()))
    }

    async fn update_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        change: &Change,
    ) -> StoreResult<()> {
        let mut stmt = self.stmt("UPDATE webhook_endpoints SET url = ");
        stmt.bind(endpoint.url.as_str())
            .push(", description = ")
            .bind(endpoint.description.as_str())
            .push(", event_types = ")
            .bind(to_json(&endpoint.event_types))
            .push(", transform = ")
            .bind(endpoint.transform.as_ref().map(to_json).as_deref())
            .push(", enabled = ")
            .bind(i64::from(endpoint.enabled))
            .push(", disabled_reason = ")
            .bind(endpoint.disabled_reason.as_deref())
            .push(", rate_limit = ")
            .bind(endpoint.rate_limit.map(i64::from))
            .push(", failing_since = ")
            .bind(endpoint.failing_since)
            .push(", updated_at = ")
            .bind(endpoint.updated_at)
            .push(" WHERE tenant_id = ")
            .bind(endpoint.tenant_id.as_str())
            .push(" AND id = ")
            .bind(endpoint.id.as_str());
        self.write_one(stmt.query(), change).await
    }

    async fn delete_webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        change: &Change,
    ) -> StoreResult<()> {
        // Deliveries and their attempts go with it (ON DELETE CASCADE).
        self.write_one(
            sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.as_str()),
            change,
        )
        .await
    }

    async fn get_webhook_secrets(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> StoreResult<Option<EndpointSecrets>> {
        let row = sqlx::query(
            "SELECT secret, previous_secret, previous_secret_expires_at FROM webhook_endpoints \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(self.reader())
        .await
        .map_err(interpret)?;
        row.map(|row| {
            Ok(EndpointSecrets {
                current: Sealed::from_stored(get(&row, "secret")?),
                previous: get::<Option<String>>(&row, "previous_secret")?.map(Sealed::from_stored),
                previous_expires_at: get_opt_time(&row, "previous_secret_expires_at")?,
            })
        })
        .transpose()
    }

    async fn rotate_webhook_secret(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        new: &Sealed,
        previous_expires_at: Timestamp,
        change: &Change,
    ) -> StoreResult<()> {
        // SET expressions see the row's old values: the current secret becomes the previous.
        self.write_one(
            sqlx::query(
                "UPDATE webhook_endpoints SET previous_secret = secret, \
                 previous_secret_expires_at = $1, secret = $2, updated_at = $3 \
                 WHERE tenant_id = $4 AND id = $5",
            )
            .bind(previous_expires_at.unix_millis())
            .bind(new.as_str())
            .bind(change.audit.occurred_at.unix_millis())
            .bind(tenant.as_str())
            .bind(id.as_str()),
            change,
        )
        .await
    }

    async fn disable_webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        reason: &str,
        at: Timestamp,
        change: &Change,
    ) -> StoreResult<bool> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        let result = sqlx::query(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2 \
             WHERE tenant_id = $3 AND id = $4 AND enabled <> 0",
        )
        .bind(reason)
        .bind(at.unix_millis())
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(interpret)?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)?;
        Ok(true)
    }

    async fn fan_out_events(
        &self,
        limit: u32,
        now: Timestamp,
        claim: Option<&ClaimRequest<'_>>,
    ) -> StoreResult<FanOut> {
        if self.dialect().row_locks {
            self.fan_out_locked(limit, now, claim).await
        } else {
            self.fan_out_single_writer(limit, now, claim).await
        }
    }

    async fn claim_deliveries(&self, request: &ClaimRequest<'_>) -> StoreResult<Vec<DeliveryJob>> {
        if request.limit == 0 {
            return Ok(Vec::new());
        }
        // A read first: most polls find nothing due, and then take no write lock (SQLite's
        // single writer serves the fan-out and the results meanwhile).
        let found = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries \
             WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (lease_until IS NULL OR lease_until <= $1) LIMIT 1) AS d) AS due, \
             (SELECT COUNT(*) FROM (SELECT 1 FROM webhook_handoffs WHERE lease_until <= $1 \
             LIMIT 1) AS h) AS expired",
        )
        .bind(request.now.unix_millis())
        .fetch_one(self.reader())
        .await
        .map_err(interpret)?;
        if get_int(&found, "expired")? > 0 {
            self.write_expired_handoffs(request.now).await?;
        } else if get_int(&found, "due")? == 0 {
            return Ok(Vec::new());
        }
        let mut stmt = self.stmt("UPDATE webhook_deliveries SET claimed_by = ");
        stmt.bind(request.worker)
            .push(", lease_until = ")
            .bind(request.lease_until)
            .push(
                " WHERE id IN (SELECT d.id FROM webhook_deliveries d \
                 JOIN webhook_endpoints w ON w.id = d.endpoint_id \
                 WHERE d.status = 'pending' AND w.enabled <> 0 AND d.next_attempt_at <= ",
            )
            .bind(request.now)
            .push(" AND (d.lease_until IS NULL OR d.lease_until <= ")
            .bind(request.now)
            .push(")");
        if !request.exclude.is_empty() {
            stmt.push(" AND d.endpoint_id NOT IN ")
                .list(request.exclude.iter().map(|e| e.as_str()));
        }
        stmt.push(" ORDER BY d.next_attempt_at LIMIT ")
            .bind(i64::from(request.limit));
        stmt.push(&self.dialect().skip_locked_of("d"))
            .push(") RETURNING id");
        let rows = stmt
            .query()
            .fetch_all(self.writer())
            .await
            .map_err(interpret)?;
        let ids = rows
            .iter()
            .map(|row| get::<String>(row, "id"))
            .collect::<Result<Vec<_>, _>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.load_jobs(&ids).await
    }

    async fn record_attempts(
        &self,
        worker: &str,
        records: &[AttemptRecord],
        health: &[EndpointHealth],
    ) -> StoreResult<()> {
        if records.is_empty() && health.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        // Endpoints first (a deleting transaction locks the endpoint before its deliveries, so
        // taking them in the other order could deadlock with it), one statement each in id
        // order (two replicas never lock endpoint rows in opposite orders).
        let mut health: Vec<&EndpointHealth> = health.iter().collect();
        health.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
        for h in health {
            let mut stmt = self.stmt("UPDATE webhook_endpoints SET failing_since = ");
            match h.failing_since {
                // Keep the start of a streak that is already running.
                Some(since) => stmt.push("COALESCE(failing_since, ").bind(since).push(")"),
                None => stmt.push("NULL"),
            };
            stmt.push(" WHERE id = ").bind(h.endpoint_id.as_str());
            stmt.query().execute(&mut *tx).await.map_err(interpret)?;
        }
        // Then deliveries, then attempts (SQLite: the attempt's foreign key finds a row this
        // transaction already holds; PostgreSQL: each statement locks the endpoints first).
        if self.dialect().webhook_foreign_keys {
            record_attempts_values(&mut tx, worker, records).await?;
        } else {
            record_attempts_json(&mut tx, worker, records).await?;
        }

        tx.commit().await.map_err(interpret)
    }

    async fn delete_handoffs(&self, handoffs: &[HandoffId]) -> StoreResult<()> {
        for chunk in handoffs.chunks(CHUNK) {
            let mut stmt = self.stmt("DELETE FROM webhook_handoffs WHERE id IN ");
            stmt.list(chunk.iter().map(HandoffId::as_str));
            stmt.query()
                .execute(self.writer())
                .await
                .map_err(interpret)?;
        }
        Ok(())
    }

    async fn webhook_worker_heartbeat(
        &self,
        worker: &str,
        now: Timestamp,
        live_after: Timestamp,
    ) -> StoreResult<u32> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        sqlx::query(
            "INSERT INTO webhook_workers (id, seen_at) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(worker)
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(interpret)?;
        sqlx::query("DELETE FROM webhook_workers WHERE seen_at < $1")
            .bind(live_after.unix_millis())
            .execute(&mut *tx)
            .await
            .map_err(interpret)?;
        let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_workers")
            .fetch_one(&mut *tx)
            .await
            .map_err(interpret)?;
        tx.commit().await.map_err(interpret)?;
        Ok(live.clamp(1, i64::from(u32::MAX)) as u32)
    }

    async fn release_deliveries(
        &self,
        worker: &str,
        jobs: &[DeliveryJob],
        now: Timestamp,
        not_before: Option<Timestamp>,
    ) -> StoreResult<()> {
        let dialect = self.dialect();
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        let handed: Vec<NewDelivery<'_>> = jobs
            .iter()
            .filter(|job| job.handoff.is_some())
            .map(|job| NewDelivery {
                id: job.id.as_str(),
                tenant_id: job.tenant_id.as_str(),
                endpoint_id: job.endpoint.id.as_str(),
                event_id: job.event_id.as_str(),
                event_type: &job.event_type,
            })
            .collect();
        if !handed.is_empty() {
            let due = not_before.map_or(now, |at| at.max(now));
            write_unwritten(&mut tx, dialect, &handed, now, due).await?;
        }
        let claimed: Vec<&str> = jobs
            .iter()
            .filter(|job| job.handoff.is_none())
            .map(|job| job.id.as_str())
            .collect();
        for chunk in shaped(&claimed) {
            let mut stmt =
                self.stmt("UPDATE webhook_deliveries SET claimed_by = NULL, lease_until = NULL");
            if let Some(at) = not_before {
                stmt.push(", next_attempt_at = CASE WHEN next_attempt_at < ")
                    .bind(at)
                    .push(" THEN ")
                    .bind(at)
                    .push(" ELSE next_attempt_at END");
            }
            stmt.push(" WHERE claimed_by = ")
                .bind(worker)
                .push(" AND id IN ")
                .list(chunk.iter().copied());
            stmt.query().execute(&mut *tx).await.map_err(interpret)?;
        }
        tx.commit().await.map_err(interpret)
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let mut stmt = self.stmt(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = "
        ));
        stmt.bind(tenant.as_str());
        if let Some(endpoint) = &filter.endpoint_id {
            stmt.push(" AND endpoint_id = ").bind(endpoint.as_str());
        }
        if let Some(status) = filter.status {
            stmt.push(" AND status = ").bind(status.as_str());
        }
        if let Some(pattern) = &filter.event_type
            && pattern != "*"
        {
            stmt.push(" AND ").event_type("event_type", pattern);
        }
        if let Some(event) = &filter.event_id {
            stmt.push(" AND event_id = ").bind(event.as_str());
        }
        if let Some(since) = filter.since {
            stmt.push(" AND created_at >= ").bind(since);
        }
        if let Some(until) = filter.until {
            stmt.push(" AND created_at < ").bind(until);
        }
        stmt.page("id", page);
        let deliveries = stmt.fetch_all(self.reader(), delivery_from_row).await?;
        Ok(Page::from_rows(deliveries, page, |d| d.id.to_string()))
    }

    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> StoreResult<Option<Delivery>> {
        let mut stmt = self.stmt(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = "
        ));
        stmt.bind(tenant.as_str())
            .push(" AND id = ")
            .bind(id.as_str());
        stmt.fetch_optional(self.reader(), delivery_from_row).await
    }

    async fn list_attempts(
        &self,
        tenant: &TenantId,
        filter: &AttemptFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<DeliveryAttempt>> {
        let mut stmt = self.stmt(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE tenant_id = "
        ));
        stmt.bind(tenant.as_str());
        if let Some(endpoint) = &filter.endpoint_id {
            stmt.push(" AND endpoint_id = ").bind(endpoint.as_str());
        }
        if let Some(delivery) = &filter.delivery_id {
            stmt.push(" AND delivery_id = ").bind(delivery.as_str());
        }
        if let Some(status) = filter.status {
            stmt.push(" AND status = ").bind(status.as_str());
        }
        if let Some(since) = filter.since {
            stmt.push(" AND started_at >= ").bind(since);
        }
        if let Some(until) = filter.until {
            stmt.push(" AND started_at < ").bind(until);
        }
        stmt.page("id", page);
        let attempts = stmt.fetch_all(self.reader(), attempt_from_row).await?;
        Ok(Page::from_rows(attempts, page, |a| a.id.to_string()))
    }

    async fn resend_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        now: Timestamp,
        change: &Change,
    ) -> StoreResult<()> {
        self.write_one(
            sqlx::query(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, \
                 round_attempts = 0, claimed_by = NULL, lease_until = NULL \
                 WHERE tenant_id = $2 AND id = $3",
            )
            .bind(now.unix_millis())
            .bind(tenant.as_str())
            .bind(id.as_str()),
            change,
        )
        .await
    }

    async fn redrive_dead_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: Option<&WebhookEndpointId>,
        now: Timestamp,
        change: &Change,
    ) -> StoreResult<u64> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        let mut stmt =
            self.stmt("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ");
        stmt.bind(now)
            .push(
                ", round_attempts = 0, claimed_by = NULL, lease_until = NULL \
                 WHERE status = 'dead' AND tenant_id = ",
            )
            .bind(tenant.as_str());
        if let Some(endpoint) = endpoint {
            stmt.push(" AND endpoint_id = ").bind(endpoint.as_str());
        }
        stmt.push(
            " AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled <> 0 AND tenant_id = ",
        )
        .bind(tenant.as_str())
        .push(")");
        let result = stmt.query().execute(&mut *tx).await.map_err(interpret)?;
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)?;
        Ok(result.rows_affected())
    }

    async fn recover_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        since: Timestamp,
        until: Option<Timestamp>,
        now: Timestamp,
        change: &Change,
    ) -> StoreResult<u64> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        // Locked like every writer of deliveries locks their endpoint (see module docs).
        let lock = self.dialect().key_share();
        let types: Option<String> = sqlx::query_scalar(&format!(
            "SELECT event_types FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2{lock}"
        ))
        .bind(tenant.as_str())
        .bind(endpoint.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(interpret)?;
        let types: Vec<String> = serde_json::from_str(&types.ok_or(StoreError::NotFound)?)
            .map_err(|e| StoreError::Corrupt(format!("column `event_types`: {e}")))?;
        // Events past the fan-out cursor are the fan-out's: taking them here too would race it.
        let cursor: i64 = sqlx::query_scalar("SELECT last_seq FROM webhook_fanout WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .map_err(interpret)?;
        let mut after = 0_i64;
        let mut total = 0;
        loop {
            let mut stmt = self.stmt("SELECT seq, id, type FROM events WHERE tenant_id = ");
            stmt.bind(tenant.as_str())
                .push(" AND seq > ")
                .bind(after)
                .push(" AND seq <= ")
                .bind(cursor)
                .push(" AND occurred_at >= ")
                .bind(since);
            if let Some(until) = until {
                stmt.push(" AND occurred_at < ").bind(until);
            }
            stmt.push(" ORDER BY seq LIMIT ").bind(RECOVER_PAGE);
            let rows = stmt.query().fetch_all(&mut *tx).await.map_err(interpret)?;
            let Some(last) = rows.last() else { break };
            after = get_int(last, "seq")?;
            let events = rows
                .iter()
                .map(|row| Ok((get::<String>(row, "id")?, get::<String>(row, "type")?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut next_id = delivery_ids();
            let wanted: Vec<(String, &String, &String)> = events
                .iter()
                .filter(|(_, kind)| wants(&types, kind))
                .map(|(id, kind)| (next_id(), id, kind))
                .collect();
            let wanted: Vec<NewDelivery<'_>> = wanted
                .iter()
                .map(|(delivery, id, kind)| NewDelivery {
                    id: delivery,
                    tenant_id: tenant.as_str(),
                    endpoint_id: endpoint.as_str(),
                    event_id: id,
                    event_type: kind,
                })
                .collect();
            total += insert_deliveries(&mut tx, self.dialect(), &wanted, now, now, true).await?;
            if (rows.len() as i64) < RECOVER_PAGE {
                break;
            }
        }
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)?;
        Ok(total)
    }

    async fn purge_deliveries(&self, before: Timestamp) -> StoreResult<u64> {
        // Delivery ids are ULIDs: every id generated before `before` sorts below this one, so
        // the primary key finds them without a scan.
        let millis = u64::try_from(before.unix_millis()).unwrap_or(0);
        let cutoff = format!(
            "{}_{}",
            DeliveryId::PREFIX,
            ulid::Ulid::from_parts(millis, 0)
        );
        let mut total = 0;
        loop {
            // Bounded batches keep each transaction (and its cascade to attempts) short.
            // SQLite cascades to the attempts; PostgreSQL has no cascade (module docs), so its
            // attempts go in the same statement.
            let delete = "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM \
                          webhook_deliveries WHERE id < $1 AND status <> 'pending' LIMIT 5000)";
            let deleted = if self.dialect().webhook_foreign_keys {
                sqlx::query(delete)
                    .bind(cutoff.as_str())
                    .execute(self.writer())
                    .await
                    .map_err(interpret)?
                    .rows_affected()
            } else {
                let count: i64 = sqlx::query_scalar(&format!(
                    "WITH gone AS ({delete} RETURNING id), attempts AS (DELETE FROM \
                     webhook_attempts WHERE delivery_id IN (SELECT id FROM gone)) \
                     SELECT COUNT(*) FROM gone"
                ))
                .bind(cutoff.as_str())
                .fetch_one(self.writer())
                .await
                .map_err(interpret)?;
                u64::try_from(count).unwrap_or(0)
            };
            total += deleted;
            if deleted < 5000 {
                return Ok(total);
            }
        }
    }
}

/// Events past the fan-out cursor (at least one, in `seq` order) and the enabled endpoints of
/// their tenants, whole: the deliveries handed off are sent right away.
struct FanOutBatch {
    events: Vec<FanOutEvent>,
    endpoints: Vec<FanOutEndpoint>,
}

struct FanOutEvent {
    seq: i64,
    id: String,
    kind: String,
    tenant: Option<String>,
    occurred_at: Timestamp,
    data: String,
}

fn fan_out_event_from_row(row: &AnyRow) -> Result<FanOutEvent, StoreError> {
    Ok(FanOutEvent {
        seq: get_int(row, "seq")?,
        id: get(row, "id")?,
        kind: get(row, "type")?,
        tenant: get(row, "tenant_id")?,
        occurred_at: get_time(row, "occurred_at")?,
        data: get(row, "data")?,
    })
}

struct FanOutEndpoint {
    tenant: String,
    types: Vec<String>,
    created_seq: i64,
    job: JobEndpoint,
}

fn fan_out_endpoint_from_row(row: &AnyRow) -> Result<FanOutEndpoint, StoreError> {
    Ok(FanOutEndpoint {
        tenant: get(row, "tenant_id")?,
        types: get_json(row, "event_types")?,
        created_seq: get_int(row, "created_seq")?,
        job: job_endpoint_from_row(row, "id")?,
    })
}

/// One delivery a pass creates; `handed` ones go straight to the worker that ran the pass.
struct PlannedDelivery<'a> {
    event: &'a FanOutEvent,
    endpoint: &'a FanOutEndpoint,
    id: String,
    handed: bool,
}

/// What a pass wrote: deliveries inserted pending, and the handoff of the rest.
struct FanOutWritten {
    created: usize,
    handoff: HandoffId,
}

/// Up to `limit` events past `cursor`, with the endpoints they may go to; `None` when there
/// are none. On PostgreSQL the endpoints are locked `FOR KEY SHARE` (see module docs).
async fn read_fan_out_batch(
    conn: &mut AnyConnection,
    dialect: Dialect,
    cursor: i64,
    limit: u32,
) -> StoreResult<Option<FanOutBatch>> {
    let mut stmt = Sql::for_dialect(
        dialect,
        "SELECT seq, id, type, tenant_id, occurred_at, data FROM events WHERE seq > ",
    );
    stmt.bind(cursor)
        .push(" ORDER BY seq LIMIT ")
        .bind(i64::from(limit));
    let events = stmt.fetch_all(&mut *conn, fan_out_event_from_row).await?;
    if events.is_empty() {
        return Ok(None);
    }
    let mut tenants: Vec<&str> = events.iter().filter_map(|e| e.tenant.as_deref()).collect();
    tenants.sort_unstable();
    tenants.dedup();

    let mut endpoints = Vec::new();
    for chunk in tenants.chunks(CHUNK) {
        let mut stmt = Sql::for_dialect(
            dialect,
            &format!(
                "SELECT w.id, w.tenant_id, w.event_types, w.created_seq, {JOB_ENDPOINT_COLUMNS} \
                 FROM webhook_endpoints w WHERE w.enabled <> 0 AND w.tenant_id IN "
            ),
        );
        // PostgreSQL: holds off a concurrent delete until this pass commits (module docs).
        stmt.list(chunk.iter().copied()).push(dialect.key_share());
        endpoints.extend(
            stmt.fetch_all(&mut *conn, fan_out_endpoint_from_row)
                .await?,
        );
    }
    Ok(Some(FanOutBatch { events, endpoints }))
}

impl FanOutBatch {
    /// The position the cursor moves to: the batch's last event.
    fn last_seq(&self) -> i64 {
        self.events.last().map_or(0, |e| e.seq)
    }

    /// One delivery per event and matching endpoint, in event order; up to the claim's limit
    /// of them are handed to the claiming worker (none for an endpoint it leaves out).
    fn plan(&self, claim: Option<&ClaimRequest<'_>>) -> Vec<PlannedDelivery<'_>> {
        let mut claimable = claim.map_or(0, |c| c.limit as usize);
        let excluded =
            |endpoint: &WebhookEndpointId| claim.is_some_and(|c| c.exclude.contains(endpoint));
        let mut next_id = delivery_ids();
        let mut planned = Vec::new();
        for event in &self.events {
            let Some(tenant) = event.tenant.as_deref() else {
                continue;
            };
            for endpoint in self.endpoints.iter().filter(|e| e.tenant == tenant) {
                if event.seq > endpoint.created_seq && wants(&endpoint.types, &event.kind) {
                    let handed = claimable > 0 && !excluded(&endpoint.job.id);
                    claimable -= usize::from(handed);
                    planned.push(PlannedDelivery {
                        event,
                        endpoint,
                        id: next_id(),
                        handed,
                    });
                }
            }
        }
        planned
    }

    /// The pass's outcome, with the jobs handed to the worker.
    fn result(
        &self,
        planned: &[PlannedDelivery<'_>],
        written: FanOutWritten,
        limit: u32,
    ) -> FanOut {
        let claimed: Vec<DeliveryJob> = planned
            .iter()
            .filter(|p| p.handed)
            .map(|p| DeliveryJob {
                id: DeliveryId::from_stored(p.id.clone()),
                tenant_id: TenantId::from_stored(p.endpoint.tenant.clone()),
                event_id: EventId::from_stored(p.event.id.clone()),
                event_type: p.event.kind.clone(),
                attempts: 0,
                round_attempts: 0,
                event_json: Some(event_json_text(
                    &p.event.id,
                    &p.event.kind,
                    p.event.occurred_at,
                    p.event.tenant.as_deref(),
                    &p.event.data,
                )),
                endpoint: p.endpoint.job.clone(),
                handoff: Some(written.handoff.clone()),
            })
            .collect();
        FanOut {
            events: self.events.len() as u32,
            deliveries: (written.created + claimed.len()) as u32,
            more: self.events.len() as u32 >= limit,
            claimed,
        }
    }
}

/// Writes a pass's deliveries: pending rows for those not handed off, and one handoff row
/// listing the rest under the claiming worker's lease.
async fn write_fan_out(
    conn: &mut AnyConnection,
    dialect: Dialect,
    planned: &[PlannedDelivery<'_>],
    claim: Option<&ClaimRequest<'_>>,
    now: Timestamp,
) -> StoreResult<FanOutWritten> {
    let rows = |handed: bool| {
        planned
            .iter()
            .filter(|p| p.handed == handed)
            .map(|p| NewDelivery {
                id: &p.id,
                tenant_id: &p.endpoint.tenant,
                endpoint_id: p.endpoint.job.id.as_str(),
                event_id: &p.event.id,
                event_type: &p.event.kind,
            })
            .collect::<Vec<_>>()
    };
    let created = insert_deliveries(conn, dialect, &rows(false), now, now, false).await? as usize;
    let handed = rows(true);
    let handoff = HandoffId::generate();
    if let Some(claim) = claim.filter(|_| !handed.is_empty()) {
        let deliveries: Vec<[&str; 5]> = handed
            .iter()
            .map(|d| [d.id, d.tenant_id, d.endpoint_id, d.event_id, d.event_type])
            .collect();
        sqlx::query(
            "INSERT INTO webhook_handoffs (id, worker, lease_until, deliveries, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(handoff.as_str())
        .bind(claim.worker)
        .bind(claim.lease_until.unix_millis())
        .bind(to_json(&deliveries))
        .bind(now.unix_millis())
        .execute(&mut *conn)
        .await
        .map_err(interpret)?;
    }
    Ok(FanOutWritten { created, handoff })
}

#[cfg(test)]
mod tests {
    use super::shaped;

    #[test]
    fn chunks_come_in_power_of_two_shapes() {
        let items: Vec<u32> = (0..600).collect();
        let sizes: Vec<usize> = shaped(&items).map(<[u32]>::len).collect();
        assert_eq!(sizes, [256, 256, 64, 16, 8]);
        assert_eq!(shaped(&items).flatten().copied().collect::<Vec<_>>(), items);
        assert_eq!(shaped(&items[..1]).count(), 1);
        assert_eq!(shaped::<u32>(&[]).count(), 0);
    }
}
