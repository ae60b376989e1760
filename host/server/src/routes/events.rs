use axum::{Json, extract::State};
use gatehouse_core::{
    StoreError,
    event::{Event, EventFilter},
    id::TenantId,
    page::MAX_LIMIT,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ListResponse, parse_time, split_csv};
use crate::{
    error::{ApiError, ApiResult},
    extract::{ApiQuery, Authenticated},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Resume after this event id (the previous page's `list_metadata.after`).
    pub after: Option<String>,
    /// Page size, 1–100 (default 20).
    pub limit: Option<u32>,
    /// Comma-separated event types; `user.*` matches a family, `*` everything.
    pub types: Option<String>,
    pub tenant_id: Option<TenantId>,
    /// Only events at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Only events before this time (RFC 3339).
    pub until: Option<String>,
}

/// The events feed, in commit order. Persist `list_metadata.after` and pass it back to resume;
/// at the end of the feed the cursor stays where it is.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventsQuery),
    responses((status = 200, description = "Events after the cursor", body = ListResponse<Event>)))]
async fn list_events(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> ApiResult<Json<ListResponse<Event>>> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let types = split_csv(query.types.as_deref());
    if let Some(bad) = types.iter().find(|t| !valid_type_pattern(t)) {
        return Err(ApiError::invalid(
            "types",
            format!("`{bad}` is not an event type or pattern (e.g. user.created, user.*, *)"),
        ));
    }
    let tenant_id = match (principal.tenant_scope(), query.tenant_id) {
        (Some(own), Some(asked)) if own != &asked => return Err(ApiError::not_found("tenant")),
        (Some(own), _) => Some(own.clone()),
        (None, asked) => asked,
    };
    let filter = EventFilter {
        tenant_id,
        types,
        since: parse_time("since", query.since.as_deref())?,
        until: parse_time("until", query.until.as_deref())?,
    };
    let page = state
        .store
        .list_events(&filter, query.after.as_deref(), limit)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::invalid("after", "unknown cursor: it must be an event id from this feed (events older than the retention period are gone)"),
            other => other.into(),
        })?;
    Ok(Json(page.into()))
}

fn valid_type_pattern(pattern: &str) -> bool {
    pattern == "*"
        || (pattern.len() <= 100
            && pattern.split('.').enumerate().all(|(i, part)| {
                (part == "*" && i > 0 && pattern.ends_with(".*"))
                    || (!part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            }))
}
