//! Webhook endpoints, deliveries and attempts: the records, the rules they follow, the catalogue
//! of event types Gatehouse emits, and the store trait the database implements.
//!
//! The pipeline (fan-out, claims, sending, retries) lives in `host/webhooks`; this module holds
//! what the store, the pipeline and the API share. Events are the outbox (written in the
//! mutation's own transaction); a separate fan-out step turns each event into one delivery per
//! matching endpoint, so no event-writing transaction ever touches webhook rows.

use std::{borrow::Cow, fmt};

use async_trait::async_trait;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::{
    Error, Timestamp,
    change::Change,
    event::type_matches,
    id::{AttemptId, DeliveryId, EventId, HandoffId, TenantId, WebhookEndpointId},
    page::{Page, PageRequest},
    secret::Sealed,
    store::StoreResult,
};

/// One event type Gatehouse emits, for the catalogue endpoints subscribe from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventType {
    pub name: &'static str,
    pub description: &'static str,
}

const fn et(name: &'static str, description: &'static str) -> EventType {
    EventType { name, description }
}

/// Every event type Gatehouse emits. Endpoints may subscribe only to these (exactly, by family
/// such as `user.*`, or `*`); a type added here becomes subscribable everywhere at once.
pub const EVENT_TYPES: &[EventType] = &[
    et("tenant.created", "A tenant was created."),
    et(
        "tenant.updated",
        "A tenant's name, domains or status changed.",
    ),
    et(
        "tenant.deleted",
        "A tenant and everything it owned were deleted.",
    ),
    et("app.created", "An application was registered."),
    et("app.updated", "An application's settings changed."),
    et("app.deleted", "An application was deleted."),
    et(
        "app.secret_rotated",
        "An application's client secret was rotated.",
    ),
    et("api_key.created", "An API key was issued."),
    et("api_key.revoked", "An API key was revoked."),
    et(
        "user.created",
        "A user was created in the identity provider.",
    ),
    et("user.updated", "A user's profile or credentials changed."),
    et("user.deleted", "A user was deleted."),
    et("session.created", "A login session was created."),
    et("login.succeeded", "A user signed in."),
    et("login.failed", "A sign-in attempt failed."),
    et("endpoint.created", "A webhook endpoint was created."),
    et("endpoint.updated", "A webhook endpoint's settings changed."),
    et("endpoint.deleted", "A webhook endpoint was deleted."),
    et("endpoint.enabled", "A webhook endpoint was enabled again."),
    et(
        "endpoint.disabled",
        "A webhook endpoint was disabled (by an admin, after answering 410, after failing \
         continuously, or because its transform plugin was disabled).",
    ),
    et(
        "endpoint.secret_rotated",
        "A webhook endpoint's signing secret was rotated.",
    ),
];

/// The type of the synthetic message sent by "test endpoint"; not subscribable.
pub const TEST_EVENT_TYPE: &str = "endpoint.test";

pub const MAX_EVENT_TYPES: usize = 50;
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_DESCRIPTION_LEN: usize = 1000;
pub const MAX_RATE_LIMIT: u32 = 10_000;
pub const MAX_TRANSFORM_CONFIG_BYTES: usize = 16 * 1024;
/// How long the previous secret keeps signing after a rotation, unless the caller says otherwise.
pub const DEFAULT_ROTATION_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
pub const MAX_ROTATION_WINDOW: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
/// Bytes of a response body kept on an attempt.
pub const RESPONSE_BODY_KEPT: usize = 1024;

/// Whether `pattern` (exact, `family.*` or `*`) names at least one catalogue type.
fn known_pattern(pattern: &str) -> bool {
    pattern == "*"
        || EVENT_TYPES.iter().any(|t| {
            t.name == pattern || (pattern.ends_with(".*") && type_matches(pattern, t.name))
        })
}

/// Validates an endpoint's subscriptions: 1–50 entries, each a catalogue type, a family
/// wildcard that matches one (`user.*`) or `*`. Duplicates are dropped, order kept.
pub fn validate_event_types(types: &[String]) -> Result<Vec<String>, Error> {
    if types.is_empty() {
        return Err(Error::invalid(
            "event_types",
            "event_types must name at least one event type (use [\"*\"] for every type)",
        ));
    }
    if types.len() > MAX_EVENT_TYPES {
        return Err(Error::invalid(
            "event_types",
            format!("event_types may hold at most {MAX_EVENT_TYPES} entries"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(types.len());
    for (i, raw) in types.iter().enumerate() {
        let pattern = raw.trim();
        if !known_pattern(pattern) {
            let shown: String = pattern.chars().take(100).collect();
            return Err(Error::invalid(
                format!("event_types[{i}]"),
                format!(
                    "unknown event type `{shown}`; use a type from GET /v1/webhook-event-types, \
                     a family such as `user.*`, or `*`"
                ),
            ));
        }
        if !out.iter().any(|p| p == pattern) {
            out.push(pattern.to_owned());
        }
    }
    Ok(out)
}

/// A webhook transform: a webhook plugin and its configuration (a JSON object validated against
/// the plugin's `describe` schema when saved).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transform {
    /// Plugin id, e.g. `gatehouse.slack`.
    pub plugin: String,
    /// Plugin configuration; `{}` when omitted.
    #[serde(default = "empty_object")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl Transform {
    /// Syntax only: the plugin id's shape and the config's type and size. Whether the plugin
    /// exists and accepts the config is the transformer's call.
    pub fn validate(&self) -> Result<Transform, Error> {
        let plugin = self.plugin.trim();
        let id_ok = !plugin.is_empty()
            && plugin.len() <= 100
            && plugin
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !id_ok {
            return Err(Error::invalid(
                "transform.plugin",
                "transform.plugin must be a plugin id such as `gatehouse.slack`",
            ));
        }
        if !self.config.is_object() {
            return Err(Error::invalid(
                "transform.config",
                "transform.config must be a JSON object",
            ));
        }
        if self.config.to_string().len() > MAX_TRANSFORM_CONFIG_BYTES {
            return Err(Error::invalid(
                "transform.config",
                format!("transform.config must be at most {MAX_TRANSFORM_CONFIG_BYTES} bytes"),
            ));
        }
        Ok(Transform {
            plugin: plugin.to_owned(),
            config: self.config.clone(),
        })
    }
}

/// A tenant's webhook endpoint. Its signing secrets are stored sealed beside it and never part
/// of this record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub tenant_id: TenantId,
    pub url: String,
    pub description: String,
    /// Subscribed event types: exact names, families (`user.*`) or `*`.
    pub event_types: Vec<String>,
    pub transform: Option<Transform>,
    pub enabled: bool,
    /// Why the endpoint is disabled (by an admin, a 410 answer, days of failures, its plugin).
    pub disabled_reason: Option<String>,
    /// Most deliveries per second; `null` = unlimited.
    pub rate_limit: Option<u32>,
    /// While set and in the future, messages carry a signature with the previous secret too.
    pub previous_secret_expires_at: Option<Timestamp>,
    /// Start of the current unbroken run of failed attempts; `null` after a success.
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl WebhookEndpoint {
    /// Whether an event of `kind` is delivered here.
    pub fn wants(&self, kind: &str) -> bool {
        wants(&self.event_types, kind)
    }
}

/// Whether any of `patterns` matches `kind`.
pub fn wants(patterns: &[String], kind: &str) -> bool {
    patterns.iter().any(|p| type_matches(p, kind))
}

/// The associated data binding an endpoint's sealed signing secrets to that endpoint.
/// Headers a webhook transform may not set: those the delivery pipeline sets itself (the
/// Standard Webhooks `webhook-*` set, framing, content type, user agent) and those that could
/// change the request's meaning or leak credentials through a proxy. Case-insensitive. The
/// plugin host refuses such output; the sender drops any that reach it anyway.
pub fn reserved_transform_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "host"
            | "content-length"
            | "content-type"
            | "content-encoding"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "upgrade"
            | "te"
            | "trailer"
            | "authorization"
            | "cookie"
            | "user-agent"
            | "forwarded"
    ) || name.starts_with("proxy-")
        || name.starts_with("webhook-")
        || name.starts_with("x-forwarded-")
}

pub fn secret_aad(id: &WebhookEndpointId) -> String {
    format!("webhook_endpoint:{id}:secret")
}

/// An endpoint's signing secrets, sealed. `previous` signs too until `previous_expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointSecrets {
    pub current: Sealed,
    pub previous: Option<Sealed>,
    pub previous_expires_at: Option<Timestamp>,
}

impl EndpointSecrets {
    /// The sealed secrets that sign a message sent at `now`: the previous one first while its
    /// rotation window lasts, then the current one.
    pub fn signing_at(&self, now: Timestamp) -> Vec<&Sealed> {
        let mut out = Vec::with_capacity(2);
        if let (Some(previous), Some(until)) = (&self.previous, self.previous_expires_at)
            && until > now
        {
            out.push(previous);
        }
        out.push(&self.current);
        out
    }
}

/// `POST /v1/tenants/{tenant_id}/webhooks`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateEndpoint {
    /// `https://…` (or `http://…` unless the deployment requires https).
    pub url: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Defaults to `["*"]`.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub transform: Option<Transform>,
    /// Deliveries per second, 1–10000; absent = unlimited.
    #[serde(default)]
    pub rate_limit: Option<u32>,
    /// Create the endpoint disabled.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Your own `whsec_…` secret (24–64 bytes); generated when absent.
    #[serde(default)]
    pub secret: Option<String>,
}

/// `PATCH /v1/tenants/{tenant_id}/webhooks/{endpoint_id}`: absent fields stay as they are;
/// `transform: null` and `rate_limit: null` remove them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateEndpoint {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Transform>))]
    pub transform: Option<Option<Transform>>,
    /// `true` re-enables (clearing the reason and the failure streak); `false` disables.
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub rate_limit: Option<Option<u32>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Shape checks that need no network or plugin: length and syntax of the URL (the egress
/// policy judges scheme and addresses), description, rate limit.
pub fn validate_url_shape(url: &str) -> Result<String, Error> {
    let url = url.trim();
    if url.is_empty() {
        return Err(Error::invalid("url", "url must not be empty"));
    }
    if url.len() > MAX_URL_LEN {
        return Err(Error::invalid(
            "url",
            format!("url must be at most {MAX_URL_LEN} characters"),
        ));
    }
    let parsed = url::Url::parse(url)
        .map_err(|e| Error::invalid("url", format!("url is not a valid URL: {e}")))?;
    if parsed.fragment().is_some() {
        return Err(Error::invalid("url", "url must not have a #fragment"));
    }
    Ok(url.to_owned())
}

pub fn validate_description(value: Option<&str>) -> Result<String, Error> {
    let text = value.unwrap_or_default().trim();
    if text.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(Error::invalid(
            "description",
            format!("description must be at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::invalid(
            "description",
            "description must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

pub fn validate_rate_limit(value: Option<u32>) -> Result<Option<u32>, Error> {
    match value {
        Some(n) if !(1..=MAX_RATE_LIMIT).contains(&n) => Err(Error::invalid(
            "rate_limit",
            format!("rate_limit must be between 1 and {MAX_RATE_LIMIT} deliveries per second"),
        )),
        other => Ok(other),
    }
}

/// `POST …/webhooks/{endpoint_id}/rotate-secret`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotateSecret {
    /// Your own `whsec_…` secret (24–64 bytes); generated when absent.
    #[serde(default)]
    pub secret: Option<String>,
    /// How long the previous secret keeps signing, in seconds (0–604800, default 86400). Both
    /// signatures are sent meanwhile, so receivers can switch at their own pace.
    #[serde(default)]
    pub previous_valid_for_seconds: Option<u64>,
}

/// The new secret, shown once.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotatedSecret {
    pub secret: String,
    /// Until when messages also carry a signature made with the previous secret.
    pub previous_secret_expires_at: Timestamp,
}

/// `POST …/webhooks/{endpoint_id}/recover`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoverRequest {
    /// Re-enqueue events that occurred at or after this time (RFC 3339).
    pub since: Timestamp,
    /// …and before this time (default: now).
    #[serde(default)]
    pub until: Option<Timestamp>,
}

/// `POST …/webhook-deliveries/redrive`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedriveRequest {
    /// Only this endpoint's dead letters (default: the whole tenant's, of enabled endpoints).
    #[serde(default)]
    pub endpoint_id: Option<WebhookEndpointId>,
}

/// `POST …/webhooks/{endpoint_id}/test`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestRequest {
    /// Payload `data` of the test message (default: a short note).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub data: Option<Value>,
}

/// What a test message did. Nothing is stored: the test is not a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestResult {
    /// The `webhook-id` the test message carried.
    pub webhook_id: DeliveryId,
    pub status: AttemptStatus,
    pub latency_ms: u32,
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeliveryStatus {
    /// Waiting for its first attempt or a retry.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// The transform dropped it (the reason is in `last_error`).
    Skipped,
    /// Retries exhausted or a permanent failure: the dead-letter list (redrive to retry).
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Skipped => "skipped",
            Self::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "succeeded" => Self::Succeeded,
            "skipped" => Self::Skipped,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event's delivery to one endpoint. Its id is the `webhook-id` header, stable across
/// retries and resends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub id: DeliveryId,
    pub tenant_id: TenantId,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: EventId,
    pub event_type: String,
    pub status: DeliveryStatus,
    /// Attempts made so far (all rounds: resends and redrives add to it).
    pub attempts: u32,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_response_status: Option<u16>,
    /// Why the last attempt failed, or the skip/dead-letter reason. Safe to show tenants.
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AttemptStatus {
    Succeeded,
    Failed,
    /// The transform dropped the message; nothing was sent.
    Skipped,
}

impl AttemptStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "skipped" => Self::Skipped,
            _ => return None,
        })
    }
}

/// One try of a delivery: what was sent when, and what came back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryAttempt {
    pub id: AttemptId,
    pub delivery_id: DeliveryId,
    pub tenant_id: TenantId,
    pub endpoint_id: WebhookEndpointId,
    /// 1 for the first attempt of the delivery, counting across resends.
    pub attempt: u32,
    pub started_at: Timestamp,
    pub status: AttemptStatus,
    /// From the start of the request to the end of the (capped) response body.
    pub latency_ms: u32,
    pub response_status: Option<u16>,
    /// The first KiB of the response body (lossy UTF-8).
    pub response_body: Option<String>,
    /// Why it failed or was skipped, in words safe to show the tenant.
    pub error: Option<String>,
}

/// Filters for listing deliveries.
#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<WebhookEndpointId>,
    pub status: Option<DeliveryStatus>,
    /// Exact type or family pattern (`user.*`).
    pub event_type: Option<String>,
    pub event_id: Option<EventId>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// Filters for listing attempts.
#[derive(Clone, Debug, Default)]
pub struct AttemptFilter {
    pub endpoint_id: Option<WebhookEndpointId>,
    pub delivery_id: Option<DeliveryId>,
    pub status: Option<AttemptStatus>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// What a worker needs about the endpoint of a claimed delivery.
#[derive(Clone, Debug, PartialEq)]
pub struct JobEndpoint {
    pub id: WebhookEndpointId,
    pub url: String,
    pub transform: Option<Transform>,
    pub rate_limit: Option<u32>,
    pub failing_since: Option<Timestamp>,
    pub secrets: EndpointSecrets,
}

/// A claimed delivery, with everything needed to attempt it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryJob {
    pub id: DeliveryId,
    pub tenant_id: TenantId,
    pub event_id: EventId,
    pub event_type: String,
    /// Attempts before this one (all rounds).
    pub attempts: u32,
    /// Attempts before this one in the current round (reset by resend, redrive, recover): the
    /// position in the retry schedule.
    pub round_attempts: u32,
    /// The event as the feed shows it (JSON), the message body before any transform; `None`
    /// when the event is gone (older than the events retention period).
    pub event_json: Option<String>,
    pub endpoint: JobEndpoint,
    /// The fan-out pass that handed this delivery out without writing it (see
    /// [`WebhookStore::fan_out_events`]): its row is first written with its result.
    pub handoff: Option<HandoffId>,
}

impl DeliveryJob {
    /// What writing this handed-off delivery with its first result needs; `None` for a
    /// delivery that is already written (claimed).
    pub fn unwritten(&self) -> Option<Handoff> {
        Some(Handoff {
            pass: self.handoff.clone()?,
            event_id: self.event_id.clone(),
            event_type: self.event_type.clone(),
        })
    }
}

/// A delivery handed out by the fan-out before it was written: what its first write needs
/// besides the attempt. Until then the pass's handoff, under the worker's lease, stands for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handoff {
    pub pass: HandoffId,
    pub event_id: EventId,
    pub event_type: String,
}

/// What happens to a delivery after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextState {
    Succeeded,
    Skipped { reason: String },
    Retry { at: Timestamp },
    Dead { reason: String },
}

/// An attempt to record, with the delivery's next state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    pub attempt: DeliveryAttempt,
    pub next: NextState,
    /// The job's handoff: the delivery is written now, with this attempt.
    pub handoff: Option<Handoff>,
}

/// A change to an endpoint's failure streak, recorded with a batch of attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointHealth {
    pub endpoint_id: WebhookEndpointId,
    /// `None` after a success; the streak's start after a failure.
    pub failing_since: Option<Timestamp>,
}

/// A worker asking for due deliveries.
#[derive(Clone, Debug)]
pub struct ClaimRequest<'a> {
    /// Identifies the claiming worker; completions must carry the same id.
    pub worker: &'a str,
    pub now: Timestamp,
    /// Until when the claim holds; after that another worker may take the delivery.
    pub lease_until: Timestamp,
    pub limit: u32,
    /// Endpoints this worker cannot serve right now (busy, throttled).
    pub exclude: &'a [WebhookEndpointId],
}

/// What one fan-out pass did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FanOut {
    /// Events read past the cursor.
    pub events: u32,
    /// Deliveries created.
    pub deliveries: u32,
    /// Another pass would find more events right away.
    pub more: bool,
    /// Deliveries handed to the worker that asked (see [`WebhookStore::fan_out_events`]),
    /// ready to send.
    pub claimed: Vec<DeliveryJob>,
}

/// Webhook endpoints, deliveries and attempts.
///
/// Locking rule (PostgreSQL): transactions that append events take the events lock last and
/// then wait on nothing. The fan-out and the workers never append events in the transactions
/// that touch deliveries, so they can never be part of a cycle with an event writer.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Inserts an endpoint with its sealed signing secret. It receives events committed after
    /// it (the fan-out's position when it was created). A missing tenant is a foreign key
    /// violation.
    async fn insert_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        secret: &Sealed,
        change: &Change,
    ) -> StoreResult<()>;
    async fn get_webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>>;
    async fn list_webhook_endpoints(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> StoreResult<Page<WebhookEndpoint>>;
    /// Saves url, description, event types, transform, enabled, disabled reason, rate limit,
    /// failure streak and `updated_at`.
    async fn update_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        change: &Change,
    ) -> StoreResult<()>;
    /// Deletes the endpoint with its deliveries and attempts.
    async fn delete_webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        change: &Change,
    ) -> StoreResult<()>;
    async fn get_webhook_secrets(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> StoreResult<Option<EndpointSecrets>>;
    /// Makes `new` the current secret; the current one becomes the previous one, signing until
    /// `previous_expires_at` (a previous-previous secret is forgotten).
    async fn rotate_webhook_secret(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        new: &Sealed,
        previous_expires_at: Timestamp,
        change: &Change,
    ) -> StoreResult<()>;
    /// Disables an endpoint that is enabled (workers: 410, failure streak, plugin disabled).
    /// `Ok(false)` when it was already disabled or is gone; `change` is written only when it
    /// was disabled now.
    async fn disable_webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        reason: &str,
        at: Timestamp,
        change: &Change,
    ) -> StoreResult<bool>;

    /// Reads up to `limit` events past the fan-out cursor and creates one pending delivery
    /// (due at `now`) per enabled endpoint of the event's tenant that subscribes to its type,
    /// then advances the cursor — all in one transaction, so an event is fanned out exactly
    /// once. When another replica is fanning out right now, returns without waiting; a pass
    /// that finds the cursor moved by another since it read the events writes nothing and
    /// reports `more`.
    ///
    /// With `claim`, up to `claim.limit` of the new deliveries (of endpoints not in
    /// `claim.exclude`) are handed to `claim.worker` without being written: one handoff record
    /// leased until `claim.lease_until` stands for them, and each delivery's row is written
    /// once, with its first result ([`Self::record_attempts`]) or release — instead of an
    /// insert, a claim and an update. The worker deletes the handoff when all are written
    /// ([`Self::delete_handoffs`]); if the lease runs out first (the worker died), the next
    /// [`Self::claim_deliveries`] of any worker writes the unwritten ones as pending. The
    /// others stay pending for any worker.
    async fn fan_out_events(
        &self,
        limit: u32,
        now: Timestamp,
        claim: Option<&ClaimRequest<'_>>,
    ) -> StoreResult<FanOut>;
    /// Claims due deliveries of enabled endpoints (oldest due first) for `request.worker` until
    /// `request.lease_until`. Replicas never get the same delivery while a lease holds. First
    /// writes the unwritten deliveries of handoffs whose lease ran out, as pending.
    async fn claim_deliveries(&self, request: &ClaimRequest<'_>) -> StoreResult<Vec<DeliveryJob>>;
    /// Records attempts and moves their deliveries to their next state, releasing the claim —
    /// only for deliveries still claimed by `worker` (a late result after a lost lease keeps
    /// its attempt row but changes nothing else). A handed-off delivery is written here, in
    /// its next state, unless it was written meanwhile (its handoff expired) or its endpoint is
    /// gone. Applies `health` to the endpoints.
    async fn record_attempts(
        &self,
        worker: &str,
        records: &[AttemptRecord],
        health: &[EndpointHealth],
    ) -> StoreResult<()>;
    /// Deletes handoffs whose deliveries are all written (recorded or released). One left
    /// behind is harmless: when its lease ends, its deliveries are found written.
    async fn delete_handoffs(&self, handoffs: &[HandoffId]) -> StoreResult<()>;
    /// Records that `worker` is alive at `now`, forgets workers not seen since `live_after`,
    /// and returns how many workers are alive (this one included). Per-endpoint rate limits
    /// are shared out between them.
    async fn webhook_worker_heartbeat(
        &self,
        worker: &str,
        now: Timestamp,
        live_after: Timestamp,
    ) -> StoreResult<u32>;
    /// Gives claimed jobs back without an attempt, due no earlier than `not_before` (an
    /// endpoint paused by `Retry-After`) if given; handed-off ones are written as pending.
    async fn release_deliveries(
        &self,
        worker: &str,
        jobs: &[DeliveryJob],
        now: Timestamp,
        not_before: Option<Timestamp>,
    ) -> StoreResult<()>;

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>>;
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> StoreResult<Option<Delivery>>;
    async fn list_attempts(
        &self,
        tenant: &TenantId,
        filter: &AttemptFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<DeliveryAttempt>>;
    /// Makes a delivery due again at `now`, whatever its state, starting a new retry round.
    async fn resend_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        now: Timestamp,
        change: &Change,
    ) -> StoreResult<()>;
    /// Makes the dead deliveries of a tenant (or of one endpoint) due again at `now`; returns
    /// how many.
    async fn redrive_dead_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: Option<&WebhookEndpointId>,
        now: Timestamp,
        change: &Change,
    ) -> StoreResult<u64>;
    /// Re-enqueues every event of the endpoint's tenant that it subscribes to and that
    /// occurred in `[since, until)`: existing deliveries that are not pending become due at
    /// `now` (a new round), missing ones are created. Events the fan-out has not reached yet
    /// are left to it. Returns how many deliveries were (re)enqueued.
    async fn recover_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        since: Timestamp,
        until: Option<Timestamp>,
        now: Timestamp,
        change: &Change,
    ) -> StoreResult<u64>;
    /// Deletes finished deliveries (succeeded, skipped, dead) last attempted before `before`,
    /// with their attempts; returns how many deliveries.
    async fn purge_deliveries(&self, before: Timestamp) -> StoreResult<u64>;
}

/// Truncates a response body to [`RESPONSE_BODY_KEPT`] bytes at a character boundary (lossy
/// UTF-8), for an attempt record.
pub fn response_excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(RESPONSE_BODY_KEPT)];
    let text = String::from_utf8_lossy(cut);
    match text {
        Cow::Borrowed(s) => s.to_owned(),
        // A multi-byte character cut at the end becomes U+FFFD; drop it.
        Cow::Owned(mut s) => {
            if body.len() > RESPONSE_BODY_KEPT && s.ends_with('\u{FFFD}') {
                s.pop();
            }
            s
        }
    }
}

/// Checks a name for a plugin-supplied header: printable token characters only.
pub fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_cannot_set_pipeline_or_credential_headers() {
        for name in [
            "Webhook-Signature",
            "content-type",
            "Authorization",
            "cookie",
            "Proxy-Authorization",
            "x-forwarded-for",
            "Host",
        ] {
            assert!(reserved_transform_header(name), "{name}");
        }
        for name in ["x-slack-signature", "x-custom", "accept"] {
            assert!(!reserved_transform_header(name), "{name}");
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn event_types_must_come_from_the_catalogue() {
        assert_eq!(
            validate_event_types(&strings(&["user.*", " tenant.created", "user.*", "*"])).unwrap(),
            strings(&["user.*", "tenant.created", "*"])
        );
        for bad in [
            "users.*",
            "user",
            "user.exploded",
            "*.created",
            "",
            "tenant.*.x",
        ] {
            let err = validate_event_types(&strings(&["*", bad])).unwrap_err();
            assert!(
                matches!(&err, Error::Invalid { field: Some(f), .. } if f == "event_types[1]"),
                "{bad}: {err:?}"
            );
        }
        assert!(validate_event_types(&[]).is_err());
        assert!(validate_event_types(&vec!["*".to_owned(); MAX_EVENT_TYPES + 1]).is_err());
        // Every catalogue entry is a valid subscription and its family wildcard too.
        for t in EVENT_TYPES {
            let family = format!("{}.*", t.name.split('.').next().unwrap());
            validate_event_types(&[t.name.to_owned(), family]).unwrap();
        }
        assert!(!EVENT_TYPES.iter().any(|t| t.name == TEST_EVENT_TYPE));
    }

    #[test]
    fn signing_secrets_include_the_previous_one_only_within_its_window() {
        let now = Timestamp::now();
        let secrets = EndpointSecrets {
            current: Sealed::from_stored("new".into()),
            previous: Some(Sealed::from_stored("old".into())),
            previous_expires_at: Some(now.plus(std::time::Duration::from_secs(60))),
        };
        let names = |at| {
            secrets
                .signing_at(at)
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(now), ["old", "new"]);
        assert_eq!(names(now.plus(std::time::Duration::from_secs(60))), ["new"]);
    }

    #[test]
    fn update_tells_null_from_absent() {
        let absent: UpdateEndpoint = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.transform, None);
        assert_eq!(absent.rate_limit, None);
        let null: UpdateEndpoint =
            serde_json::from_str(r#"{"transform":null,"rate_limit":null}"#).unwrap();
        assert_eq!(null.transform, Some(None));
        assert_eq!(null.rate_limit, Some(None));
        let set: UpdateEndpoint =
            serde_json::from_str(r#"{"transform":{"plugin":"gatehouse.slack"},"rate_limit":5}"#)
                .unwrap();
        assert_eq!(set.rate_limit, Some(Some(5)));
        assert_eq!(
            set.transform.unwrap().unwrap().config,
            serde_json::json!({})
        );
        assert!(serde_json::from_str::<UpdateEndpoint>(r#"{"urll":"x"}"#).is_err());
    }

    #[test]
    fn shape_checks() {
        assert!(validate_url_shape("https://hooks.example.com/in?x=1").is_ok());
        assert!(validate_url_shape("not a url").is_err());
        assert!(validate_url_shape("https://a.example/#frag").is_err());
        assert!(validate_url_shape(&format!("https://a.example/{}", "x".repeat(3000))).is_err());
        assert!(validate_rate_limit(Some(0)).is_err());
        assert!(validate_rate_limit(Some(MAX_RATE_LIMIT + 1)).is_err());
        assert_eq!(validate_rate_limit(Some(5)).unwrap(), Some(5));
        assert!(validate_description(Some("a\u{0}b")).is_err());
        let t = Transform {
            plugin: "Bad Id".into(),
            config: serde_json::json!({}),
        };
        assert!(t.validate().is_err());
        let t = Transform {
            plugin: "gatehouse.slack".into(),
            config: serde_json::json!([1]),
        };
        assert!(
            matches!(t.validate(), Err(Error::Invalid { field: Some(f), .. }) if f == "transform.config")
        );
    }

    #[test]
    fn response_excerpts_are_capped_at_a_character_boundary() {
        assert_eq!(response_excerpt(b"ok"), "ok");
        let long = "é".repeat(RESPONSE_BODY_KEPT);
        let cut = response_excerpt(long.as_bytes());
        assert!(cut.len() <= RESPONSE_BODY_KEPT);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(response_excerpt(&[0xff, b'a']), "\u{FFFD}a");
    }
}
