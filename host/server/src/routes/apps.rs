use axum::{Json, extract::State, http::StatusCode};
use gatehouse_core::{
    app::{App, CreateApp, UpdateApp},
    id::{AppId, TenantId},
    services::{Caller, apps},
    sync::ObjectKind,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ListQuery, ListResponse, caller};
use crate::{
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated, RequestContext},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_app, list_apps))
        .routes(routes!(get_app, update_app, delete_app))
        .routes(routes!(rotate_secret))
        .routes(routes!(reveal_secret))
}

/// An app, plus its client secret when this response is the one time it is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppWithSecret {
    #[serde(flatten)]
    pub app: App,
    /// Shown once: store it now. Absent when there is no secret or it was shown before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// Syncs the app to the IdP inline (bounded), then reads it back with a never-shown secret.
async fn synced_with_secret(
    state: &AppState,
    caller: Caller<'_>,
    tenant: &TenantId,
    id: &AppId,
) -> ApiResult<AppWithSecret> {
    if let Some(reconciler) = &state.reconciler
        && let Err(reason) = reconciler
            .reconcile_now(ObjectKind::App, id.as_str(), crate::INLINE_SYNC_TIMEOUT)
            .await
    {
        tracing::info!(app = %id, %reason, "inline sync did not complete; the background loop will retry");
    }
    let app = apps::get(state.store.as_ref(), caller, tenant, id).await?;
    let client_secret = if app.app_type.is_confidential() {
        apps::take_secret(state.store.as_ref(), &state.keyring, caller, tenant, id).await?
    } else {
        None
    };
    Ok(AppWithSecret { app, client_secret })
}

/// Register an app. Its client id (and, for `web` apps, the client secret, shown once in this
/// response) come from the IdP once the app is synced.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/apps", tag = "apps", request_body = CreateApp,
    params(("tenant_id" = TenantId, Path)), responses((status = 201, description = "Created", body = AppWithSecret)))]
async fn create_app(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath(tenant): ApiPath<TenantId>,
    ApiJson(input): ApiJson<CreateApp>,
) -> ApiResult<(StatusCode, Json<AppWithSecret>)> {
    let who = caller(&state, &principal, &context);
    let app = apps::create(state.store.as_ref(), who, &tenant, input).await?;
    let body = synced_with_secret(&state, who, &tenant, &app.id).await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// List a tenant's apps.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/apps", tag = "apps",
    params(("tenant_id" = TenantId, Path), ListQuery), responses((status = 200, description = "A page of apps", body = ListResponse<App>)))]
async fn list_apps(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath(tenant): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<ListResponse<App>>> {
    let page = apps::list(
        state.store.as_ref(),
        caller(&state, &principal, &context),
        &tenant,
        &query.page()?,
    )
    .await?;
    Ok(Json(page.into()))
}

/// Get an app.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/apps/{app_id}", tag = "apps",
    params(("tenant_id" = TenantId, Path), ("app_id" = AppId, Path)), responses((status = 200, description = "The app", body = App)))]
async fn get_app(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath((tenant, id)): ApiPath<(TenantId, AppId)>,
) -> ApiResult<Json<App>> {
    Ok(Json(
        apps::get(
            state.store.as_ref(),
            caller(&state, &principal, &context),
            &tenant,
            &id,
        )
        .await?,
    ))
}

/// Update an app's name, redirect URIs or dev mode (lists replace).
#[utoipa::path(patch, path = "/v1/tenants/{tenant_id}/apps/{app_id}", tag = "apps", request_body = UpdateApp,
    params(("tenant_id" = TenantId, Path), ("app_id" = AppId, Path)), responses((status = 200, description = "Updated", body = App)))]
async fn update_app(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath((tenant, id)): ApiPath<(TenantId, AppId)>,
    ApiJson(input): ApiJson<UpdateApp>,
) -> ApiResult<Json<App>> {
    let who = caller(&state, &principal, &context);
    apps::update(state.store.as_ref(), who, &tenant, &id, input).await?;
    if let Some(reconciler) = &state.reconciler {
        let _ = reconciler
            .reconcile_now(ObjectKind::App, id.as_str(), crate::INLINE_SYNC_TIMEOUT)
            .await;
    }
    Ok(Json(
        apps::get(state.store.as_ref(), who, &tenant, &id).await?,
    ))
}

/// Delete an app.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/apps/{app_id}", tag = "apps",
    params(("tenant_id" = TenantId, Path), ("app_id" = AppId, Path)), responses((status = 204, description = "Deleted")))]
async fn delete_app(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath((tenant, id)): ApiPath<(TenantId, AppId)>,
) -> ApiResult<StatusCode> {
    apps::delete(
        state.store.as_ref(),
        caller(&state, &principal, &context),
        &tenant,
        &id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace a `web` app's client secret; the new one is in this response, once.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/apps/{app_id}/rotate-secret", tag = "apps",
    params(("tenant_id" = TenantId, Path), ("app_id" = AppId, Path)), responses((status = 200, description = "Rotation requested", body = AppWithSecret)))]
async fn rotate_secret(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath((tenant, id)): ApiPath<(TenantId, AppId)>,
) -> ApiResult<Json<AppWithSecret>> {
    let who = caller(&state, &principal, &context);
    apps::rotate_secret(state.store.as_ref(), who, &tenant, &id).await?;
    Ok(Json(synced_with_secret(&state, who, &tenant, &id).await?))
}

/// The client secret, if the app has one that was never shown (e.g. the app synced after its
/// creation response). Each secret is returned once; rotate to get a new one.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/apps/{app_id}/client-secret", tag = "apps",
    params(("tenant_id" = TenantId, Path), ("app_id" = AppId, Path)), responses((status = 200, description = "The secret", body = ClientSecret)))]
async fn reveal_secret(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath((tenant, id)): ApiPath<(TenantId, AppId)>,
) -> ApiResult<Json<ClientSecret>> {
    let who: Caller<'_> = caller(&state, &principal, &context);
    let app = apps::get(state.store.as_ref(), who, &tenant, &id).await?;
    match apps::take_secret(state.store.as_ref(), &state.keyring, who, &tenant, &id).await? {
        Some(client_secret) => Ok(Json(ClientSecret {
            client_id: app.client_id,
            client_secret,
        })),
        None if app.has_client_secret => Err(ApiError::conflict(
            "secret_already_shown",
            "this client secret was already shown once; rotate it to get a new one",
        )),
        None => Err(ApiError::conflict(
            "no_secret",
            "this app has no client secret yet (public client, or not synced with the IdP yet)",
        )),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientSecret {
    pub client_id: Option<String>,
    pub client_secret: String,
}
