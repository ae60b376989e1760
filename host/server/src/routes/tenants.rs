use axum::{Json, extract::State, http::StatusCode};
use gatehouse_core::{
    id::TenantId,
    services::tenants,
    tenant::{CreateTenant, Tenant, UpdateTenant},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ListQuery, ListResponse, caller};
use crate::{
    error::ApiResult,
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Platform, RequestContext},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
}

/// Create a tenant.
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = CreateTenant,
    responses((status = 201, description = "Created", body = Tenant)))]
async fn create_tenant(
    State(state): State<AppState>,
    Platform(principal): Platform,
    RequestContext(context): RequestContext,
    ApiJson(input): ApiJson<CreateTenant>,
) -> ApiResult<(StatusCode, Json<Tenant>)> {
    let mut tenant = tenants::create(
        state.store.as_ref(),
        caller(&state, &principal, &context),
        input,
    )
    .await?;
    if let Some(reconciler) = &state.reconciler {
        // Best effort: a synced tenant shows its ZITADEL ids right away; on failure the
        // background loop keeps trying and the response says `pending`.
        let _ = reconciler
            .reconcile_now(
                gatehouse_core::sync::ObjectKind::Tenant,
                tenant.id.as_str(),
                crate::INLINE_SYNC_TIMEOUT,
            )
            .await;
        if let Some(fresh) = state.store.get_tenant(&tenant.id).await? {
            tenant = fresh;
        }
    }
    Ok((StatusCode::CREATED, Json(tenant)))
}

/// List tenants (a tenant-scoped key sees only its own).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", params(ListQuery),
    responses((status = 200, description = "A page of tenants", body = ListResponse<Tenant>)))]
async fn list_tenants(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<ListResponse<Tenant>>> {
    let page = tenants::list(
        state.store.as_ref(),
        caller(&state, &principal, &context),
        &query.page()?,
    )
    .await?;
    Ok(Json(page.into()))
}

/// Get a tenant.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = TenantId, Path)), responses((status = 200, description = "The tenant", body = Tenant)))]
async fn get_tenant(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath(id): ApiPath<TenantId>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(
        tenants::get(
            state.store.as_ref(),
            caller(&state, &principal, &context),
            &id,
        )
        .await?,
    ))
}

/// Update a tenant's name, domains or status.
#[utoipa::path(patch, path = "/v1/tenants/{tenant_id}", tag = "tenants", request_body = UpdateTenant,
    params(("tenant_id" = TenantId, Path)), responses((status = 200, description = "Updated", body = Tenant)))]
async fn update_tenant(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(input): ApiJson<UpdateTenant>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(
        tenants::update(
            state.store.as_ref(),
            caller(&state, &principal, &context),
            &id,
            input,
        )
        .await?,
    ))
}

/// Delete a tenant and everything it owns.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = TenantId, Path)), responses((status = 204, description = "Deleted")))]
async fn delete_tenant(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath(id): ApiPath<TenantId>,
) -> ApiResult<StatusCode> {
    tenants::delete(
        state.store.as_ref(),
        caller(&state, &principal, &context),
        &id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
