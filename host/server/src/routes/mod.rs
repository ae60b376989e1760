//! One module per REST resource.

pub mod api_keys;
pub mod apps;
pub mod audit;
pub mod events;
pub mod health;
pub mod hooks_zitadel;
pub mod plugins;
pub mod sync;
pub mod tenants;
pub mod webhooks;

use gatehouse_core::{
    Timestamp,
    page::{Order, Page, PageRequest},
    services::Caller,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{error::ApiError, state::AppState};

/// `?limit=&after=&order=` on list endpoints.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1–100 (default 20).
    pub limit: Option<u32>,
    /// Cursor from the previous page's `list_metadata.after`.
    pub after: Option<String>,
    /// `desc` (newest first, default) or `asc`.
    pub order: Option<Order>,
}

impl ListQuery {
    pub fn page(self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::new(self.limit, self.after, self.order)?)
    }
}

/// A page of results (WorkOS shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T: ToSchema> {
    pub data: Vec<T>,
    pub list_metadata: ListMetadata,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListMetadata {
    /// Pass as `after` to get the next page; `null` on the last page.
    pub after: Option<String>,
}

impl<T: ToSchema> From<Page<T>> for ListResponse<T> {
    fn from(page: Page<T>) -> Self {
        Self {
            data: page.data,
            list_metadata: ListMetadata { after: page.after },
        }
    }
}

pub fn caller<'a>(
    state: &AppState,
    principal: &'a gatehouse_core::principal::Principal,
    context: &'a gatehouse_core::audit::AuditContext,
) -> Caller<'a> {
    Caller {
        principal,
        context,
        now: state.clock.now(),
    }
}

/// Parses an optional RFC 3339 query value.
pub fn parse_time(field: &'static str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    value
        .map(|v| {
            Timestamp::parse_rfc3339(v).ok_or_else(|| {
                ApiError::invalid(
                    field,
                    format!("`{v}` is not an RFC 3339 timestamp (e.g. 2026-11-25T17:00:00Z)"),
                )
            })
        })
        .transpose()
}

/// Splits a comma-separated query value.
pub fn split_csv(value: Option<&str>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
