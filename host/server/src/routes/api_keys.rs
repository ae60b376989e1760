use axum::{Json, extract::State, http::StatusCode};
use gatehouse_core::{
    api_key::{ApiKey, CreateApiKey},
    id::{ApiKeyId, TenantId},
    page::Order,
    services::api_keys,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ListQuery, ListResponse, caller};
use crate::{
    error::ApiResult,
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated, RequestContext},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(get_key))
        .routes(routes!(revoke_key))
}

/// A new key and its token, which is shown only in this response.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The bearer token. Store it now: only its hash is kept.
    pub token: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KeyListQuery {
    /// Only keys of this tenant.
    pub tenant_id: Option<TenantId>,
    pub limit: Option<u32>,
    pub after: Option<String>,
    pub order: Option<Order>,
}

/// Create an API key, platform-wide or scoped to one tenant.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", request_body = CreateApiKey,
    responses((status = 201, description = "Created", body = CreatedApiKey)))]
async fn create_key(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiJson(input): ApiJson<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let (key, token) = api_keys::create(
        state.store.as_ref(),
        caller(&state, &principal, &context),
        input,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { key, token })))
}

/// List API keys (never their tokens).
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", params(KeyListQuery),
    responses((status = 200, description = "A page of keys", body = ListResponse<ApiKey>)))]
async fn list_keys(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiQuery(query): ApiQuery<KeyListQuery>,
) -> ApiResult<Json<ListResponse<ApiKey>>> {
    let page = ListQuery {
        limit: query.limit,
        after: query.after,
        order: query.order,
    }
    .page()?;
    let keys = api_keys::list(
        state.store.as_ref(),
        caller(&state, &principal, &context),
        query.tenant_id.as_ref(),
        &page,
    )
    .await?;
    Ok(Json(keys.into()))
}

/// Get an API key.
#[utoipa::path(get, path = "/v1/api-keys/{key_id}", tag = "api-keys",
    params(("key_id" = ApiKeyId, Path)), responses((status = 200, description = "The key", body = ApiKey)))]
async fn get_key(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath(id): ApiPath<ApiKeyId>,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(
        api_keys::get(
            state.store.as_ref(),
            caller(&state, &principal, &context),
            &id,
        )
        .await?,
    ))
}

/// Revoke an API key; it stops working immediately. Revoking twice is harmless.
#[utoipa::path(post, path = "/v1/api-keys/{key_id}/revoke", tag = "api-keys",
    params(("key_id" = ApiKeyId, Path)), responses((status = 200, description = "Revoked", body = ApiKey)))]
async fn revoke_key(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath(id): ApiPath<ApiKeyId>,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(
        api_keys::revoke(
            state.store.as_ref(),
            caller(&state, &principal, &context),
            &id,
        )
        .await?,
    ))
}
