//! Webhook endpoints of a tenant, their deliveries and attempts, and replay (resend, redrive,
//! recover). The rules live in `gatehouse_webhooks::Webhooks`; this module is HTTP only.

use axum::{
    Json,
    extract::{FromRequest, Request, State},
    http::{StatusCode, header},
};
use gatehouse_core::{
    id::{DeliveryId, EventId, TenantId, WebhookEndpointId},
    page::{Order, PageRequest},
    webhook::{
        AttemptFilter, AttemptStatus, CreateEndpoint, Delivery, DeliveryAttempt, DeliveryFilter,
        DeliveryStatus, EVENT_TYPES, EventType, RecoverRequest, RedriveRequest, RotateSecret,
        RotatedSecret, TestRequest, TestResult, UpdateEndpoint, WebhookEndpoint,
    },
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ListQuery, ListResponse, caller, parse_time};
use crate::{
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated, RequestContext},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_event_types))
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(test_endpoint))
        .routes(routes!(recover))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(resend))
        .routes(routes!(redrive))
        .routes(routes!(list_attempts))
}

/// A JSON body that may be left out entirely (no content type, no length): then the
/// defaults apply. A body that is sent is checked like any other.
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let headers = req.headers();
        let empty = !headers.contains_key(header::CONTENT_TYPE)
            && headers
                .get(header::CONTENT_LENGTH)
                .is_none_or(|len| len.as_bytes() == b"0");
        if empty {
            return Ok(Self(T::default()));
        }
        ApiJson::<T>::from_request(req, state)
            .await
            .map(|ApiJson(value)| Self(value))
    }
}

/// An endpoint, with its signing secret in the creation response only.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_…`: shown once, store it now.
    pub secret: String,
}

/// How many deliveries an operation made due.
#[derive(Debug, Serialize, ToSchema)]
pub struct Enqueued {
    pub enqueued: u64,
}

/// The event types endpoints can subscribe to (exactly, by family such as `user.*`, or `*`).
#[utoipa::path(get, path = "/v1/webhook-event-types", tag = "webhooks",
    responses((status = 200, description = "The catalogue", body = Vec<EventType>)))]
async fn list_event_types(Authenticated(_caller): Authenticated) -> Json<&'static [EventType]> {
    Json(EVENT_TYPES)
}

/// Create an endpoint. The signing secret (`whsec_…`) is in this response only.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/webhooks", tag = "webhooks", request_body = CreateEndpoint,
    params(("tenant_id" = TenantId, Path)),
    responses((status = 201, description = "Created", body = EndpointWithSecret)))]
async fn create_endpoint(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath(tenant): ApiPath<TenantId>,
    ApiJson(input): ApiJson<CreateEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointWithSecret>)> {
    let who = caller(&state, &principal, &context);
    let created = state
        .webhooks
        .create(state.store.as_ref(), who, &tenant, input)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret {
            endpoint: created.endpoint,
            secret: created.secret,
        }),
    ))
}

/// List a tenant's endpoints.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/webhooks", tag = "webhooks",
    params(("tenant_id" = TenantId, Path), ListQuery),
    responses((status = 200, description = "A page of endpoints", body = ListResponse<WebhookEndpoint>)))]
async fn list_endpoints(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath(tenant): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<ListResponse<WebhookEndpoint>>> {
    let who = caller(&state, &principal, &context);
    let page = state
        .webhooks
        .list(state.store.as_ref(), who, &tenant, &query.page()?)
        .await?;
    Ok(Json(page.into()))
}

/// Get an endpoint (never its secret).
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/webhooks/{endpoint_id}", tag = "webhooks",
    params(("tenant_id" = TenantId, Path), ("endpoint_id" = WebhookEndpointId, Path)),
    responses((status = 200, description = "The endpoint", body = WebhookEndpoint)))]
async fn get_endpoint(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath((tenant, id)): ApiPath<(TenantId, WebhookEndpointId)>,
) -> ApiResult<Json<WebhookEndpoint>> {
    let who = caller(&state, &principal, &context);
    Ok(Json(
        state
            .webhooks
            .get(state.store.as_ref(), who, &tenant, &id)
            .await?,
    ))
}

/// Update an endpoint. `enabled: true` re-enables a disabled one (clearing its failure
/// streak); `transform: null` and `rate_limit: null` remove them.
#[utoipa::path(patch, path = "/v1/tenants/{tenant_id}/webhooks/{endpoint_id}", tag = "webhooks", request_body = UpdateEndpoint,
    params(("tenant_id" = TenantId, Path), ("endpoint_id" = WebhookEndpointId, Path)),
    responses((status = 200, description = "Updated", body = WebhookEndpoint)))]
async fn update_endpoint(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath((tenant, id)): ApiPath<(TenantId, WebhookEndpointId)>,
    ApiJson(input): ApiJson<UpdateEndpoint>,
) -> ApiResult<Json<WebhookEndpoint>> {
    let who = caller(&state, &principal, &context);
    Ok(Json(
        state
            .webhooks
            .update(state.store.as_ref(), who, &tenant, &id, input)
            .await?,
    ))
}

/// Delete an endpoint with its deliveries and attempts.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/webhooks/{endpoint_id}", tag = "webhooks",
    params(("tenant_id" = TenantId, Path), ("endpoint_id" = WebhookEndpointId, Path)),
    responses((status = 204, description = "Deleted")))]
async fn delete_endpoint(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath((tenant, id)): ApiPath<(TenantId, WebhookEndpointId)>,
) -> ApiResult<StatusCode> {
    let who = caller(&state, &principal, &context);
    state
        .webhooks
        .delete(state.store.as_ref(), who, &tenant, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate the signing secret. Until `previous_secret_expires_at`, messages carry signatures
/// made with both the previous and the new secret.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/webhooks/{endpoint_id}/rotate-secret", tag = "webhooks",
    request_body = RotateSecret,
    params(("tenant_id" = TenantId, Path), ("endpoint_id" = WebhookEndpointId, Path)),
    responses((status = 200, description = "The new secret, shown once", body = RotatedSecret)))]
async fn rotate_secret(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath((tenant, id)): ApiPath<(TenantId, WebhookEndpointId)>,
    OptionalJson(input): OptionalJson<RotateSecret>,
) -> ApiResult<Json<RotatedSecret>> {
    let who = caller(&state, &principal, &context);
    Ok(Json(
        state
            .webhooks
            .rotate_secret(state.store.as_ref(), who, &tenant, &id, input)
            .await?,
    ))
}

/// Send a signed `endpoint.test` message now (through the endpoint's transform) and report
/// what the endpoint answered. Nothing is stored.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/webhooks/{endpoint_id}/test", tag = "webhooks",
    request_body = TestRequest,
    params(("tenant_id" = TenantId, Path), ("endpoint_id" = WebhookEndpointId, Path)),
    responses((status = 200, description = "What happened", body = TestResult)))]
async fn test_endpoint(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath((tenant, id)): ApiPath<(TenantId, WebhookEndpointId)>,
    OptionalJson(input): OptionalJson<TestRequest>,
) -> ApiResult<Json<TestResult>> {
    let who = caller(&state, &principal, &context);
    Ok(Json(
        state
            .webhooks
            .test(state.store.as_ref(), who, &tenant, &id, input)
            .await?,
    ))
}

/// Re-enqueue every event the endpoint subscribes to that occurred in `[since, until)`
/// (already delivered ones are sent again under the same `webhook-id`).
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/webhooks/{endpoint_id}/recover", tag = "webhooks",
    request_body = RecoverRequest,
    params(("tenant_id" = TenantId, Path), ("endpoint_id" = WebhookEndpointId, Path)),
    responses((status = 202, description = "Deliveries enqueued", body = Enqueued)))]
async fn recover(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath((tenant, id)): ApiPath<(TenantId, WebhookEndpointId)>,
    ApiJson(input): ApiJson<RecoverRequest>,
) -> ApiResult<(StatusCode, Json<Enqueued>)> {
    let who = caller(&state, &principal, &context);
    let enqueued = state
        .webhooks
        .recover(state.store.as_ref(), who, &tenant, &id, input)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Enqueued { enqueued })))
}

/// Filters for deliveries, plus paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    pub endpoint_id: Option<WebhookEndpointId>,
    /// `pending`, `succeeded`, `skipped` or `dead` (the dead-letter list).
    pub status: Option<DeliveryStatus>,
    /// Exact type or family (`user.*`).
    pub event_type: Option<String>,
    pub event_id: Option<EventId>,
    /// Created at or after (RFC 3339).
    pub since: Option<String>,
    /// Created before (RFC 3339).
    pub until: Option<String>,
    pub limit: Option<u32>,
    pub after: Option<String>,
    pub order: Option<Order>,
}

/// List deliveries, newest first; `status=dead` is the dead-letter list.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/webhook-deliveries", tag = "webhooks",
    params(("tenant_id" = TenantId, Path), DeliveriesQuery),
    responses((status = 200, description = "A page of deliveries", body = ListResponse<Delivery>)))]
async fn list_deliveries(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath(tenant): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<ListResponse<Delivery>>> {
    let who = caller(&state, &principal, &context);
    let page = PageRequest::new(query.limit, query.after, query.order)?;
    let filter = DeliveryFilter {
        endpoint_id: query.endpoint_id,
        status: query.status,
        event_type: query.event_type,
        event_id: query.event_id,
        since: parse_time("since", query.since.as_deref())?,
        until: parse_time("until", query.until.as_deref())?,
    };
    let page = state
        .webhooks
        .list_deliveries(state.store.as_ref(), who, &tenant, &filter, &page)
        .await?;
    Ok(Json(page.into()))
}

/// Get a delivery.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/webhook-deliveries/{delivery_id}", tag = "webhooks",
    params(("tenant_id" = TenantId, Path), ("delivery_id" = DeliveryId, Path)),
    responses((status = 200, description = "The delivery", body = Delivery)))]
async fn get_delivery(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath((tenant, id)): ApiPath<(TenantId, DeliveryId)>,
) -> ApiResult<Json<Delivery>> {
    let who = caller(&state, &principal, &context);
    Ok(Json(
        state
            .webhooks
            .get_delivery(state.store.as_ref(), who, &tenant, &id)
            .await?,
    ))
}

/// Send a delivery again now, whatever its state (same `webhook-id`, a new round of retries).
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/webhook-deliveries/{delivery_id}/resend", tag = "webhooks",
    params(("tenant_id" = TenantId, Path), ("delivery_id" = DeliveryId, Path)),
    responses((status = 202, description = "Enqueued", body = Delivery)))]
async fn resend(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath((tenant, id)): ApiPath<(TenantId, DeliveryId)>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let who = caller(&state, &principal, &context);
    let delivery = state
        .webhooks
        .resend(state.store.as_ref(), who, &tenant, &id)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

/// Redrive the dead-letter list: the tenant's (of enabled endpoints) or one endpoint's.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/webhook-deliveries/redrive", tag = "webhooks",
    request_body = RedriveRequest,
    params(("tenant_id" = TenantId, Path)),
    responses((status = 202, description = "Deliveries enqueued", body = Enqueued)))]
async fn redrive(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath(tenant): ApiPath<TenantId>,
    OptionalJson(input): OptionalJson<RedriveRequest>,
) -> ApiResult<(StatusCode, Json<Enqueued>)> {
    let who = caller(&state, &principal, &context);
    let enqueued = state
        .webhooks
        .redrive(state.store.as_ref(), who, &tenant, input)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Enqueued { enqueued })))
}

/// Filters for attempts, plus paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AttemptsQuery {
    pub endpoint_id: Option<WebhookEndpointId>,
    pub delivery_id: Option<DeliveryId>,
    /// `succeeded`, `failed` or `skipped`.
    pub status: Option<AttemptStatus>,
    /// Started at or after (RFC 3339).
    pub since: Option<String>,
    /// Started before (RFC 3339).
    pub until: Option<String>,
    pub limit: Option<u32>,
    pub after: Option<String>,
    pub order: Option<Order>,
}

/// List delivery attempts, newest first: status, latency, response code and the first KiB of
/// the response body.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/webhook-attempts", tag = "webhooks",
    params(("tenant_id" = TenantId, Path), AttemptsQuery),
    responses((status = 200, description = "A page of attempts", body = ListResponse<DeliveryAttempt>)))]
async fn list_attempts(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestContext(context): RequestContext,
    ApiPath(tenant): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<AttemptsQuery>,
) -> ApiResult<Json<ListResponse<DeliveryAttempt>>> {
    let who = caller(&state, &principal, &context);
    let page = PageRequest::new(query.limit, query.after, query.order)?;
    let filter = AttemptFilter {
        endpoint_id: query.endpoint_id,
        delivery_id: query.delivery_id,
        status: query.status,
        since: parse_time("since", query.since.as_deref())?,
        until: parse_time("until", query.until.as_deref())?,
    };
    let page = state
        .webhooks
        .list_attempts(state.store.as_ref(), who, &tenant, &filter, &page)
        .await?;
    Ok(Json(page.into()))
}
