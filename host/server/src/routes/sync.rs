//! Sync status with ZITADEL, per object, and a way to run a sync pass now.

use axum::{Json, extract::State, http::StatusCode};
use gatehouse_core::{
    Timestamp,
    id::TenantId,
    page::{Order, PageRequest},
    sync::{Desired, ObjectKind, SyncFilter, SyncRecord, SyncState},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::ListResponse;
use crate::{
    error::{ApiError, ApiResult},
    extract::{ApiQuery, Authenticated, Platform},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sync))
        .routes(routes!(run_sync))
}

/// One object's sync with ZITADEL.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncObject {
    pub kind: ObjectKind,
    /// The object's Gatehouse id (`ten_…`, `app_…`; `hooks_zitadel` for the Actions target).
    pub id: String,
    pub tenant_id: Option<TenantId>,
    /// `absent` while ZITADEL's copy of a deleted object is being removed.
    pub desired: Desired,
    pub state: SyncState,
    /// Why the last attempt failed, or what is being repaired.
    pub message: Option<String>,
    /// ZITADEL's ids for the object.
    #[schema(value_type = Object)]
    pub zitadel_ids: serde_json::Map<String, serde_json::Value>,
    /// Failed attempts in a row.
    pub attempts: u32,
    pub last_attempt_at: Option<Timestamp>,
    pub synced_at: Option<Timestamp>,
    /// The next retry, or the next drift check for a synced object.
    pub next_attempt_at: Timestamp,
}

impl From<SyncRecord> for SyncObject {
    fn from(record: SyncRecord) -> Self {
        Self {
            kind: record.kind,
            id: record.id,
            tenant_id: record.tenant_id,
            desired: record.desired,
            state: record.status.state,
            message: record.status.message,
            zitadel_ids: record.status.zitadel_ids,
            attempts: record.status.attempts,
            last_attempt_at: record.status.last_attempt_at,
            synced_at: record.status.synced_at,
            next_attempt_at: record.next_attempt_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// `pending`, `synced` or `failed`.
    pub state: Option<SyncState>,
    /// `tenant`, `app`, `provider` or `actions_target`.
    pub kind: Option<ObjectKind>,
    pub tenant_id: Option<TenantId>,
    /// Page size, 1–100 (default 20).
    pub limit: Option<u32>,
    /// Cursor from the previous page's `list_metadata.after`.
    pub after: Option<String>,
    /// By object id: `desc` (default) or `asc`.
    pub order: Option<Order>,
}

/// Sync status of every object mirrored into ZITADEL. A tenant-scoped key sees its tenant's
/// objects only.
#[utoipa::path(get, path = "/v1/sync", tag = "sync", params(SyncQuery),
    responses((status = 200, description = "A page of sync states", body = ListResponse<SyncObject>)))]
async fn list_sync(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(query): ApiQuery<SyncQuery>,
) -> ApiResult<Json<ListResponse<SyncObject>>> {
    let tenant_id = match (principal.tenant_scope(), query.tenant_id) {
        (Some(own), Some(asked)) if own != &asked => return Err(ApiError::not_found("tenant")),
        (Some(own), _) => Some(own.clone()),
        (None, asked) => asked,
    };
    let filter = SyncFilter {
        state: query.state,
        kind: query.kind,
        tenant_id,
    };
    let page = PageRequest::new(query.limit, query.after, query.order)?;
    let records = state.store.list_sync(&filter, &page).await?;
    Ok(Json(records.map(SyncObject::from).into()))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// Also re-check synced objects against ZITADEL now (drift repair), not only the
    /// pending and failed ones.
    pub verify: Option<bool>,
    /// Only this tenant's objects.
    pub tenant_id: Option<TenantId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRun {
    /// Objects made due now; a replica running workers picks them up within a second.
    pub scheduled: u64,
}

/// Run a sync pass now: pending and failed objects are retried at once (their backoff is
/// skipped); with `verify=true` synced objects are re-checked for drift too.
#[utoipa::path(post, path = "/v1/sync/run", tag = "sync", params(RunQuery),
    responses((status = 202, description = "Scheduled", body = SyncRun)))]
async fn run_sync(
    State(state): State<AppState>,
    Platform(_principal): Platform,
    ApiQuery(query): ApiQuery<RunQuery>,
) -> ApiResult<(StatusCode, Json<SyncRun>)> {
    let scheduled = state
        .store
        .schedule_sync_now(
            query.verify.unwrap_or(false),
            query.tenant_id.as_ref(),
            state.clock.now(),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(SyncRun { scheduled })))
}
