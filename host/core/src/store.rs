//! Store traits. `host/store` implements them once for SQLite and PostgreSQL; one conformance
//! suite (`host/store/tests`) runs against both.
//!
//! Rules every implementation follows:
//! - a mutation and its [`Change`] (audit entry, events, sync marks) commit in one transaction;
//! - uniqueness and foreign keys are left to the database; violations come back as
//!   [`StoreError::UniqueViolation`] / [`StoreError::ForeignKeyViolation`], never pre-checked;
//! - updates and deletes of a missing row return [`StoreError::NotFound`];
//! - tenant-owned reads take the tenant id, so a lookup can never cross tenants.

use async_trait::async_trait;

use crate::{
    StoreError, Timestamp,
    api_key::ApiKey,
    app::App,
    audit::{AuditEntry, AuditFilter},
    change::Change,
    event::{Event, EventFilter},
    id::{ApiKeyId, AppId, TenantId},
    idempotency::{Claim, StoredResponse},
    page::{Page, PageRequest},
    secret::Sealed,
    tenant::Tenant,
};

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the server needs from a database. Implemented automatically for any type that
/// implements each part.
pub trait Store:
    Health
    + TenantStore
    + AppStore
    + ApiKeyStore
    + AuditStore
    + EventStore
    + IdempotencyStore
    + crate::sync::SyncStore
    + crate::webhook::WebhookStore
    + crate::plugin::PluginStore
    + crate::plugin::TrustStore
    + crate::admin::AdminStore
{
}

impl<T> Store for T where
    T: Health
        + TenantStore
        + AppStore
        + ApiKeyStore
        + AuditStore
        + EventStore
        + IdempotencyStore
        + crate::sync::SyncStore
        + crate::webhook::WebhookStore
        + crate::plugin::PluginStore
        + crate::plugin::TrustStore
        + crate::admin::AdminStore
{
}

#[async_trait]
pub trait Health: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;
    /// How many known migrations are not applied yet (0 = schema current).
    async fn pending_migrations(&self) -> StoreResult<usize>;
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    async fn insert_tenant(&self, tenant: &Tenant, change: &Change) -> StoreResult<()>;
    async fn get_tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>>;
    async fn list_tenants(&self, page: &PageRequest) -> StoreResult<Page<Tenant>>;
    /// Saves name, domains, status and `updated_at`.
    async fn update_tenant(&self, tenant: &Tenant, change: &Change) -> StoreResult<()>;
    /// Deletes the tenant and everything it owns (apps, tenant-scoped keys…).
    async fn delete_tenant(&self, id: &TenantId, change: &Change) -> StoreResult<()>;
}

/// The client secret an IdP issued for an app, sealed with the keyring.
#[derive(Clone, Debug)]
pub struct AppSecret {
    pub sealed: Sealed,
    pub revealed_at: Option<Timestamp>,
}

#[async_trait]
pub trait AppStore: Send + Sync {
    async fn insert_app(&self, app: &App, change: &Change) -> StoreResult<()>;
    async fn get_app(&self, tenant: &TenantId, id: &AppId) -> StoreResult<Option<App>>;
    async fn list_apps(&self, tenant: &TenantId, page: &PageRequest) -> StoreResult<Page<App>>;
    /// Saves name, URI lists, dev mode and `updated_at`.
    async fn update_app(&self, app: &App, change: &Change) -> StoreResult<()>;
    async fn delete_app(&self, tenant: &TenantId, id: &AppId, change: &Change) -> StoreResult<()>;
    /// Records the client id and (for confidential apps) the secret the IdP issued. A new secret
    /// starts unrevealed.
    async fn set_app_credentials(
        &self,
        tenant: &TenantId,
        id: &AppId,
        client_id: &str,
        secret: Option<&Sealed>,
    ) -> StoreResult<()>;
    /// Returns the sealed secret and marks it revealed, only if it was never revealed before;
    /// `Ok(None)` when there is no unrevealed secret.
    async fn take_app_secret(
        &self,
        tenant: &TenantId,
        id: &AppId,
        at: Timestamp,
    ) -> StoreResult<Option<Sealed>>;
    /// Asks for a new client secret: bumps the app's desired secret version (the reconciler
    /// regenerates it in the IdP) and records `change`.
    async fn request_secret_rotation(
        &self,
        tenant: &TenantId,
        id: &AppId,
        change: &Change,
    ) -> StoreResult<()>;
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn insert_api_key(
        &self,
        key: &ApiKey,
        hash: &[u8; 32],
        change: &Change,
    ) -> StoreResult<()>;
    /// Looks a key up by token hash (revoked keys included, so callers can say so).
    async fn find_api_key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<ApiKey>>;
    async fn get_api_key(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKey>>;
    /// Lists keys, all of them or those of one tenant.
    async fn list_api_keys(
        &self,
        tenant: Option<&TenantId>,
        page: &PageRequest,
    ) -> StoreResult<Page<ApiKey>>;
    async fn revoke_api_key(
        &self,
        id: &ApiKeyId,
        at: Timestamp,
        change: &Change,
    ) -> StoreResult<()>;
    /// Best effort: remembers when a key was last used.
    async fn touch_api_key(&self, id: &ApiKeyId, at: Timestamp) -> StoreResult<()>;
    /// Inserts the bootstrap key only if no bootstrap credential was ever issued on this
    /// database (safe when several replicas start at once). Returns whether it was inserted.
    async fn insert_bootstrap_key(
        &self,
        key: &ApiKey,
        hash: &[u8; 32],
        change: &Change,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEntry>>;
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends events that are not the result of an admin mutation (e.g. received from ZITADEL).
    async fn append_events(&self, events: &[Event]) -> StoreResult<()>;
    /// Events in commit order after the event `after` (exclusive).
    async fn list_events(
        &self,
        filter: &EventFilter,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Page<Event>>;
    async fn get_event(&self, id: &str) -> StoreResult<Option<Event>>;
    /// Deletes events older than `before`; returns how many.
    async fn purge_events(&self, before: Timestamp) -> StoreResult<u64>;
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for `scope` (the caller's identity) with the request `fingerprint`.
    async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> StoreResult<Claim>;
    async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        response: &StoredResponse,
    ) -> StoreResult<()>;
    /// Forgets a claim whose request failed, so the client may retry with the same key.
    async fn release_idempotency_key(&self, scope: &str, key: &str) -> StoreResult<()>;
    async fn purge_idempotency_keys(&self, before: Timestamp) -> StoreResult<u64>;
}
