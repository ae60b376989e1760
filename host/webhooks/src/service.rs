//! Endpoint management and replay: validate input, build records and their audited
//! [`Change`], hand both to the store. The HTTP layer and the CLI (through it) call these.

use std::{sync::Arc, time::Duration};

use gatehouse_core::{
    Error, Result, StoreError, Timestamp,
    audit::Target as AuditTarget,
    change::Change,
    event::Event,
    id::{DeliveryId, TenantId, WebhookEndpointId},
    page::{Page, PageRequest},
    secret::{Keyring, Sealed},
    services::{Caller, tenant_exists},
    store::Store,
    webhook::{
        AttemptFilter, CreateEndpoint, DEFAULT_ROTATION_WINDOW, Delivery, DeliveryAttempt,
        DeliveryFilter, EndpointSecrets, MAX_ROTATION_WINDOW, RecoverRequest, RedriveRequest,
        RotateSecret, RotatedSecret, TEST_EVENT_TYPE, TestRequest, TestResult, Transform,
        UpdateEndpoint, WebhookEndpoint, secret_aad, validate_description, validate_event_types,
        validate_rate_limit, validate_url_shape,
    },
};
use gatehouse_egress::EgressError;
use serde_json::{Value, json};

use crate::{
    send::{Sender, Target},
    signing::Secret,
};

/// How long saving an endpoint waits for DNS to judge its host.
const SAVE_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Endpoint management, test sends and replay for one process. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Webhooks {
    sender: Sender,
    keyring: Arc<Keyring>,
}

/// An endpoint and its signing secret, shown once.
#[derive(Clone, Debug)]
pub struct CreatedEndpoint {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

impl Webhooks {
    pub fn new(sender: Sender, keyring: Arc<Keyring>) -> Self {
        Self { sender, keyring }
    }

    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// The URL's shape, then the egress policy: literal addresses at once, names through DNS.
    /// A name that does not resolve (yet) is accepted; one that resolves to a blocked address
    /// is refused.
    async fn check_url(&self, url: &str) -> Result<String> {
        let url = validate_url_shape(url)?;
        let egress = self.sender.egress();
        egress.validate_url(&url).map_err(url_error)?;
        match tokio::time::timeout(SAVE_CHECK_TIMEOUT, egress.check(&url)).await {
            Ok(Err(err)) if err.is_permanent() => Err(url_error(err)),
            Ok(Err(err)) => {
                tracing::info!(%err, "webhook URL saved although its host could not be checked now");
                Ok(url)
            }
            Ok(Ok(())) | Err(_) => Ok(url),
        }
    }

    async fn check_transform(&self, transform: Option<&Transform>) -> Result<Option<Transform>> {
        let Some(transform) = transform else {
            return Ok(None);
        };
        let transform = transform.validate()?;
        self.sender.transformer().check(&transform).await?;
        Ok(Some(transform))
    }

    fn seal(&self, id: &WebhookEndpointId, secret: &Secret) -> Sealed {
        self.keyring
            .seal(secret.expose().as_bytes(), &secret_aad(id))
    }

    pub async fn create(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        input: CreateEndpoint,
    ) -> Result<CreatedEndpoint> {
        tenant_exists(store, caller, tenant).await?;
        let url = self.check_url(&input.url).await?;
        let description = validate_description(input.description.as_deref())?;
        let event_types =
            validate_event_types(input.event_types.as_deref().unwrap_or(&["*".to_owned()]))?;
        let rate_limit = validate_rate_limit(input.rate_limit)?;
        let secret = parse_secret(input.secret.as_deref())?;
        let transform = self.check_transform(input.transform.as_ref()).await?;
        let enabled = input.enabled.unwrap_or(true);
        let endpoint = WebhookEndpoint {
            id: WebhookEndpointId::generate(),
            tenant_id: tenant.clone(),
            url,
            description,
            event_types,
            transform,
            enabled,
            disabled_reason: (!enabled).then(|| "created disabled".to_owned()),
            rate_limit,
            previous_secret_expires_at: None,
            failing_since: None,
            created_at: caller.now,
            updated_at: caller.now,
        };
        let change = Change::new(
            "endpoint.created",
            caller.principal,
            caller.context,
            Some(tenant),
            caller.now,
        )
        .target(target(&endpoint))
        .event("endpoint.created", summary(&endpoint));
        store
            .insert_webhook_endpoint(&endpoint, &self.seal(&endpoint.id, &secret), &change)
            .await
            .map_err(map_err)?;
        Ok(CreatedEndpoint {
            endpoint,
            secret: secret.expose(),
        })
    }

    pub async fn get(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> Result<WebhookEndpoint> {
        caller.principal.check_tenant(tenant)?;
        store
            .get_webhook_endpoint(tenant, id)
            .await?
            .ok_or(Error::NotFound {
                what: "webhook endpoint",
            })
    }

    pub async fn list(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<WebhookEndpoint>> {
        tenant_exists(store, caller, tenant).await?;
        Ok(store.list_webhook_endpoints(tenant, page).await?)
    }

    pub async fn update(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        input: UpdateEndpoint,
    ) -> Result<WebhookEndpoint> {
        let mut endpoint = self.get(store, caller, tenant, id).await?;
        let before = summary(&endpoint);
        if let Some(url) = &input.url {
            endpoint.url = self.check_url(url).await?;
        }
        if let Some(description) = &input.description {
            endpoint.description = validate_description(Some(description))?;
        }
        if let Some(types) = &input.event_types {
            endpoint.event_types = validate_event_types(types)?;
        }
        if let Some(transform) = &input.transform {
            endpoint.transform = self.check_transform(transform.as_ref()).await?;
        }
        if let Some(rate_limit) = input.rate_limit {
            endpoint.rate_limit = validate_rate_limit(rate_limit)?;
        }
        let toggled = match input.enabled {
            Some(true) if !endpoint.enabled => {
                endpoint.enabled = true;
                endpoint.disabled_reason = None;
                // A fresh start: the old failure streak must not disable it again at once.
                endpoint.failing_since = None;
                Some("endpoint.enabled")
            }
            Some(false) if endpoint.enabled => {
                endpoint.enabled = false;
                let who = caller.principal.actor();
                endpoint.disabled_reason = Some(format!(
                    "disabled by {}",
                    who.name.as_deref().unwrap_or(&who.id)
                ));
                Some("endpoint.disabled")
            }
            _ => None,
        };
        endpoint.updated_at = caller.now;
        let after = summary(&endpoint);
        let mut change = Change::new(
            "endpoint.updated",
            caller.principal,
            caller.context,
            Some(tenant),
            caller.now,
        )
        .target(target(&endpoint))
        .meta("before", before.clone())
        .event(
            "endpoint.updated",
            json!({ "endpoint": after, "previous": before }),
        );
        if let Some(kind) = toggled {
            change = change.event(kind, after);
        }
        store
            .update_webhook_endpoint(&endpoint, &change)
            .await
            .map_err(map_err)?;
        Ok(endpoint)
    }

    pub async fn delete(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> Result<()> {
        let endpoint = self.get(store, caller, tenant, id).await?;
        let change = Change::new(
            "endpoint.deleted",
            caller.principal,
            caller.context,
            Some(tenant),
            caller.now,
        )
        .target(target(&endpoint))
        .event("endpoint.deleted", summary(&endpoint));
        store
            .delete_webhook_endpoint(tenant, id, &change)
            .await
            .map_err(map_err)
    }

    /// Replaces the signing secret; the old one keeps signing (a second signature) for the
    /// rotation window.
    pub async fn rotate_secret(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        input: RotateSecret,
    ) -> Result<RotatedSecret> {
        let endpoint = self.get(store, caller, tenant, id).await?;
        let secret = parse_secret(input.secret.as_deref())?;
        let window = match input.previous_valid_for_seconds {
            None => DEFAULT_ROTATION_WINDOW,
            Some(s) if s <= MAX_ROTATION_WINDOW.as_secs() => Duration::from_secs(s),
            Some(_) => {
                return Err(Error::invalid(
                    "previous_valid_for_seconds",
                    format!(
                        "previous_valid_for_seconds must be between 0 and {}",
                        MAX_ROTATION_WINDOW.as_secs()
                    ),
                ));
            }
        };
        let until = caller.now.plus(window);
        let change = Change::new(
            "endpoint.secret_rotated",
            caller.principal,
            caller.context,
            Some(tenant),
            caller.now,
        )
        .target(target(&endpoint))
        .meta("previous_secret_expires_at", until.to_string())
        .event(
            "endpoint.secret_rotated",
            json!({ "id": endpoint.id, "tenant_id": tenant, "previous_secret_expires_at": until }),
        );
        store
            .rotate_webhook_secret(tenant, id, &self.seal(id, &secret), until, &change)
            .await
            .map_err(map_err)?;
        Ok(RotatedSecret {
            secret: secret.expose(),
            previous_secret_expires_at: until,
        })
    }

    /// Sends a signed test message now, through the endpoint's transform, and reports what
    /// happened. Works on disabled endpoints too; nothing is stored.
    pub async fn test(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        input: TestRequest,
    ) -> Result<TestResult> {
        let endpoint = self.get(store, caller, tenant, id).await?;
        let secrets = store
            .get_webhook_secrets(tenant, id)
            .await?
            .ok_or(Error::NotFound {
                what: "webhook endpoint",
            })?;
        let secrets = open_secrets(&self.keyring, id, &secrets, caller.now)
            .map_err(|e| Error::internal(format!("signing secret of {id}: {e}")))?;
        let data = input
            .data
            .unwrap_or_else(|| json!({ "message": "This is a test message from Gatehouse." }));
        let event = Event::new(TEST_EVENT_TYPE, Some(tenant.clone()), caller.now, data);
        let webhook_id = DeliveryId::generate();
        let report = self
            .sender
            .send(
                webhook_id.as_str(),
                caller.now.unix_seconds(),
                &event_json(&event),
                Target {
                    url: &endpoint.url,
                    transform: endpoint.transform.as_ref(),
                },
                &secrets,
            )
            .await;
        Ok(TestResult {
            webhook_id,
            status: report.status,
            latency_ms: report.latency_ms(),
            response_status: report.response_status,
            response_body: report.response_body,
            error: report.error,
        })
    }

    pub async fn list_deliveries(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>> {
        tenant_exists(store, caller, tenant).await?;
        if let Some(pattern) = &filter.event_type {
            validate_event_types(std::slice::from_ref(pattern))
                .map_err(|_| Error::invalid("event_type", unknown_type(pattern)))?;
        }
        Ok(store.list_deliveries(tenant, filter, page).await?)
    }

    pub async fn get_delivery(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Delivery> {
        caller.principal.check_tenant(tenant)?;
        store
            .get_delivery(tenant, id)
            .await?
            .ok_or(Error::NotFound { what: "delivery" })
    }

    pub async fn list_attempts(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        filter: &AttemptFilter,
        page: &PageRequest,
    ) -> Result<Page<DeliveryAttempt>> {
        tenant_exists(store, caller, tenant).await?;
        Ok(store.list_attempts(tenant, filter, page).await?)
    }

    /// Sends one delivery again (a new round of the retry schedule), whatever its state.
    pub async fn resend(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Delivery> {
        let delivery = self.get_delivery(store, caller, tenant, id).await?;
        self.enabled_endpoint(store, caller, tenant, &delivery.endpoint_id)
            .await?;
        let change = Change::new(
            "delivery.resent",
            caller.principal,
            caller.context,
            Some(tenant),
            caller.now,
        )
        .target(AuditTarget::new("webhook_delivery", id, None))
        .target(AuditTarget::new(
            "webhook_endpoint",
            &delivery.endpoint_id,
            None,
        ));
        store
            .resend_delivery(tenant, id, caller.now, &change)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::NotFound { what: "delivery" },
                other => other.into(),
            })?;
        self.get_delivery(store, caller, tenant, id).await
    }

    /// Makes the dead letters of the tenant (or of one endpoint) due again; returns how many.
    pub async fn redrive(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        input: RedriveRequest,
    ) -> Result<u64> {
        tenant_exists(store, caller, tenant).await?;
        let mut change = Change::new(
            "delivery.redriven",
            caller.principal,
            caller.context,
            Some(tenant),
            caller.now,
        );
        if let Some(endpoint) = &input.endpoint_id {
            let endpoint = self
                .enabled_endpoint(store, caller, tenant, endpoint)
                .await
                .map_err(|e| named_in_body(e, "endpoint_id"))?;
            change = change.target(target(&endpoint));
        }
        Ok(store
            .redrive_dead_deliveries(tenant, input.endpoint_id.as_ref(), caller.now, &change)
            .await?)
    }

    /// Re-enqueues every event the endpoint subscribes to that occurred in `[since, until)`.
    pub async fn recover(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        input: RecoverRequest,
    ) -> Result<u64> {
        let endpoint = self.enabled_endpoint(store, caller, tenant, id).await?;
        if input.since > caller.now {
            return Err(Error::invalid("since", "since must not be in the future"));
        }
        if let Some(until) = input.until
            && until <= input.since
        {
            return Err(Error::invalid("until", "until must be after since"));
        }
        let change = Change::new(
            "endpoint.recovered",
            caller.principal,
            caller.context,
            Some(tenant),
            caller.now,
        )
        .target(target(&endpoint))
        .meta("since", input.since.to_string())
        .meta("until", input.until.map(|u| u.to_string()));
        store
            .recover_deliveries(tenant, id, input.since, input.until, caller.now, &change)
            .await
            .map_err(map_err)
    }

    async fn enabled_endpoint(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> Result<WebhookEndpoint> {
        let endpoint = self.get(store, caller, tenant, id).await?;
        if !endpoint.enabled {
            return Err(Error::Precondition {
                code: "endpoint_disabled",
                message: format!(
                    "webhook endpoint {id} is disabled ({}); enable it first",
                    endpoint
                        .disabled_reason
                        .as_deref()
                        .unwrap_or("no reason recorded")
                ),
            });
        }
        Ok(endpoint)
    }
}

/// A missing object named in a request body is bad input (naming the field), not a missing
/// resource.
fn named_in_body(err: Error, field: &'static str) -> Error {
    match err {
        Error::NotFound { what } => Error::invalid(field, format!("no such {what}")),
        other => other,
    }
}

/// The JSON of an event as deliveries carry it: the same shape as the events feed.
pub fn event_json(event: &Event) -> String {
    serde_json::to_string(event).expect("events serialize to JSON")
}

/// Opens the secrets that sign a message sent at `now`.
pub fn open_secrets(
    keyring: &Keyring,
    id: &WebhookEndpointId,
    secrets: &EndpointSecrets,
    now: Timestamp,
) -> std::result::Result<Vec<Secret>, String> {
    secrets
        .signing_at(now)
        .into_iter()
        .map(|sealed| open_secret(keyring, id, sealed))
        .collect()
}

/// Opens one sealed signing secret of endpoint `id`.
pub fn open_secret(
    keyring: &Keyring,
    id: &WebhookEndpointId,
    sealed: &Sealed,
) -> std::result::Result<Secret, String> {
    let text = keyring
        .open_string(sealed, &secret_aad(id))
        .map_err(|e| e.to_string())?;
    Secret::parse(&text).map_err(|e| e.to_string())
}

fn parse_secret(text: Option<&str>) -> Result<Secret> {
    match text {
        None => Ok(Secret::generate()),
        Some(text) => Secret::parse(text).map_err(|e| Error::invalid("secret", e.to_string())),
    }
}

fn url_error(err: EgressError) -> Error {
    Error::invalid("url", err.to_string())
}

fn unknown_type(pattern: &str) -> String {
    let shown: String = pattern.chars().take(100).collect();
    format!("unknown event type `{shown}`")
}

fn map_err(err: StoreError) -> Error {
    match err {
        StoreError::ForeignKeyViolation => Error::NotFound { what: "tenant" },
        StoreError::NotFound => Error::NotFound {
            what: "webhook endpoint",
        },
        other => other.into(),
    }
}

pub(crate) fn target(endpoint: &WebhookEndpoint) -> AuditTarget {
    AuditTarget::new("webhook_endpoint", &endpoint.id, None)
}

/// The URL without credentials or query (either may carry secrets), for events and audit.
pub fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.to_string()
        }
        Err(_) => String::new(),
    }
}

/// What events and audit entries say about an endpoint (no secrets, no transform config).
pub(crate) fn summary(endpoint: &WebhookEndpoint) -> Value {
    json!({
        "id": endpoint.id,
        "tenant_id": endpoint.tenant_id,
        "url": display_url(&endpoint.url),
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "transform": endpoint.transform.as_ref().map(|t| json!({ "plugin": t.plugin })),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "rate_limit": endpoint.rate_limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_urls_hide_credentials_and_queries() {
        assert_eq!(
            display_url("https://user:pw@hooks.example.com/in?token=abc"),
            "https://hooks.example.com/in"
        );
        assert_eq!(display_url("nonsense"), "");
    }
}
