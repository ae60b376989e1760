use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderValue, header},
    response::Response,
};
use futures::StreamExt;
use gatehouse_core::{
    audit::{AuditEntry, AuditFilter},
    id::TenantId,
    page::{Order, PageRequest},
    principal::Principal,
    store::Store,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ListQuery, ListResponse, parse_time, split_csv};
use crate::{
    error::{ApiError, ApiResult},
    extract::{ApiQuery, Authenticated},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit))
        .routes(routes!(export_audit))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Comma-separated actions, e.g. `tenant.created,app.deleted`.
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub target_id: Option<String>,
    pub tenant_id: Option<TenantId>,
    /// RFC 3339; entries at or after.
    pub since: Option<String>,
    /// RFC 3339; entries before.
    pub until: Option<String>,
    pub limit: Option<u32>,
    pub after: Option<String>,
    pub order: Option<Order>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (default) or `jsonl`.
    pub format: Option<ExportFormat>,
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub target_id: Option<String>,
    pub tenant_id: Option<TenantId>,
    pub since: Option<String>,
    pub until: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

fn filter(
    principal: &Principal,
    action: Option<&str>,
    actor_id: Option<String>,
    target_id: Option<String>,
    tenant_id: Option<TenantId>,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<AuditFilter, ApiError> {
    let tenant_id = match (principal.tenant_scope(), tenant_id) {
        (Some(own), Some(asked)) if own != &asked => return Err(ApiError::not_found("tenant")),
        (Some(own), _) => Some(own.clone()),
        (None, asked) => asked,
    };
    Ok(AuditFilter {
        tenant_id,
        actions: split_csv(action),
        actor_id,
        target_id,
        since: parse_time("since", since)?,
        until: parse_time("until", until)?,
    })
}

/// List audit entries, newest first, with filters.
#[utoipa::path(get, path = "/v1/audit-logs", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "A page of entries", body = ListResponse<AuditEntry>)))]
async fn list_audit(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<ListResponse<AuditEntry>>> {
    let filter = filter(
        &principal,
        q.action.as_deref(),
        q.actor_id,
        q.target_id,
        q.tenant_id,
        q.since.as_deref(),
        q.until.as_deref(),
    )?;
    let page = ListQuery {
        limit: q.limit,
        after: q.after,
        order: q.order,
    }
    .page()?;
    Ok(Json(state.store.list_audit(&filter, &page).await?.into()))
}

/// Export every matching entry, oldest first, as CSV or JSON lines (streamed).
#[utoipa::path(get, path = "/v1/audit-logs/export", tag = "audit", params(ExportQuery),
    responses((status = 200, description = "The export, CSV or JSON lines", content((String = "text/csv"), (String = "application/x-ndjson")))))]
async fn export_audit(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let filter = filter(
        &principal,
        q.action.as_deref(),
        q.actor_id,
        q.target_id,
        q.tenant_id,
        q.since.as_deref(),
        q.until.as_deref(),
    )?;
    let format = q.format.unwrap_or(ExportFormat::Csv);
    // Fail before the 200 goes out if the store is unusable.
    state
        .store
        .list_audit(&filter, &PageRequest::new(Some(1), None, Some(Order::Asc))?)
        .await?;
    let store = state.store.clone();
    let header_line =
        matches!(format, ExportFormat::Csv).then(|| Ok::<_, std::io::Error>(CSV_HEADER.to_owned()));
    let pages = futures::stream::unfold(Some(None::<String>), move |cursor| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            let after = cursor?;
            let chunk = export_page(store.as_ref(), &filter, after, format).await;
            match chunk {
                Ok((text, next)) => Some((Ok(text), next.map(Some))),
                Err(err) => {
                    tracing::error!(%err, "audit export failed mid-stream");
                    Some((Err(std::io::Error::other("audit export failed")), None))
                }
            }
        }
    });
    let body = futures::stream::iter(header_line).chain(pages);
    let (content_type, extension) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ExportFormat::Jsonl => ("application/x-ndjson", "jsonl"),
    };
    let mut response = Response::new(Body::from_stream(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let disposition = format!("attachment; filename=\"gatehouse-audit.{extension}\"");
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).expect("ascii"),
    );
    Ok(response)
}

const CSV_HEADER: &str = "id,occurred_at,action,actor_type,actor_id,actor_name,targets,tenant_id,ip,user_agent,request_id,metadata\n";

async fn export_page(
    store: &dyn Store,
    filter: &AuditFilter,
    after: Option<String>,
    format: ExportFormat,
) -> Result<(String, Option<String>), gatehouse_core::StoreError> {
    let page = PageRequest {
        limit: 100,
        after,
        order: Order::Asc,
    };
    let result = store.list_audit(filter, &page).await?;
    let mut out = String::new();
    for entry in &result.data {
        match format {
            ExportFormat::Jsonl => {
                out.push_str(&serde_json::to_string(entry).expect("audit entries serialize"));
                out.push('\n');
            }
            ExportFormat::Csv => out.push_str(&csv_row(entry)),
        }
    }
    Ok((out, result.after))
}

fn csv_row(entry: &AuditEntry) -> String {
    let actor_type = serde_json::to_value(entry.actor.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let fields = [
        entry.id.to_string(),
        entry.occurred_at.to_string(),
        entry.action.clone(),
        actor_type,
        entry.actor.id.clone(),
        entry.actor.name.clone().unwrap_or_default(),
        serde_json::to_string(&entry.targets).unwrap_or_default(),
        entry
            .tenant_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        entry.context.location.clone().unwrap_or_default(),
        entry.context.user_agent.clone().unwrap_or_default(),
        entry.context.request_id.clone().unwrap_or_default(),
        serde_json::to_string(&entry.metadata).unwrap_or_default(),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// RFC 4180 quoting, plus a leading `'` on values a spreadsheet would run as a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }
}
