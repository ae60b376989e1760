//! Per-object synchronisation state between Gatehouse (the desired state) and ZITADEL.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{
    Timestamp,
    id::{AppId, TenantId},
    page::{Page, PageRequest},
    secret::Sealed,
    store::StoreResult,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ObjectKind {
    Tenant,
    App,
    Provider,
    /// Gatehouse's own Actions v2 target + executions (one per installation).
    ActionsTarget,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::App => "app",
            Self::Provider => "provider",
            Self::ActionsTarget => "actions_target",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "tenant" => Self::Tenant,
            "app" => Self::App,
            "provider" => Self::Provider,
            "actions_target" => Self::ActionsTarget,
            _ => return None,
        })
    }
}

/// An object whose desired state changed. `deleted` means ZITADEL's copy must be removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRef {
    pub kind: ObjectKind,
    pub id: String,
    pub tenant_id: Option<TenantId>,
    pub deleted: bool,
}

impl SyncRef {
    pub fn upsert(kind: ObjectKind, id: impl ToString, tenant_id: Option<&TenantId>) -> Self {
        Self {
            kind,
            id: id.to_string(),
            tenant_id: tenant_id.cloned(),
            deleted: false,
        }
    }

    pub fn delete(kind: ObjectKind, id: impl ToString, tenant_id: Option<&TenantId>) -> Self {
        Self {
            kind,
            id: id.to_string(),
            tenant_id: tenant_id.cloned(),
            deleted: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SyncState {
    Pending,
    Synced,
    Failed,
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Synced => "synced",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "synced" => Self::Synced,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// What the API shows about an object's sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncStatus {
    pub state: SyncState,
    /// Why the last attempt failed (no secrets, no internal detail).
    pub message: Option<String>,
    /// ZITADEL's ids for the object, e.g. `{"org_id": "…"}` or `{"project_id": …, "app_id": …}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub zitadel_ids: serde_json::Map<String, serde_json::Value>,
    pub attempts: u32,
    pub last_attempt_at: Option<Timestamp>,
    pub synced_at: Option<Timestamp>,
}

impl SyncStatus {
    pub fn pending() -> Self {
        Self {
            state: SyncState::Pending,
            message: None,
            zitadel_ids: Default::default(),
            attempts: 0,
            last_attempt_at: None,
            synced_at: None,
        }
    }
}

/// Whether ZITADEL should hold a copy of the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Desired {
    Present,
    /// The object was deleted in Gatehouse; ZITADEL's copy is being removed.
    Absent,
}

impl Desired {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Present => "present",
            Self::Absent => "absent",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "present" => Some(Self::Present),
            "absent" => Some(Self::Absent),
            _ => None,
        }
    }
}

/// The id of the one [`ObjectKind::ActionsTarget`] object of an installation.
pub const ACTIONS_TARGET_ID: &str = "hooks_zitadel";

/// Longest message kept with a sync row (longer ones are cut).
pub const MAX_SYNC_MESSAGE_CHARS: usize = 500;

/// One object's sync bookkeeping: what the reconciler claims and `GET /v1/sync` lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRecord {
    pub kind: ObjectKind,
    pub id: String,
    pub tenant_id: Option<TenantId>,
    pub desired: Desired,
    /// Bumped by every change of the desired state.
    pub generation: u64,
    /// The generation ZITADEL last matched.
    pub synced_generation: u64,
    pub status: SyncStatus,
    /// When the reconciler looks at the object next (a retry, or the next drift check).
    pub next_attempt_at: Timestamp,
    /// The worker holding the object, until `claimed_until`.
    pub claimed_by: Option<String>,
    pub claimed_until: Option<Timestamp>,
}

impl SyncRecord {
    /// Synced at the current generation: a claim of this record only re-checks ZITADEL.
    pub fn is_current(&self) -> bool {
        self.status.state == SyncState::Synced
            && self.generation == self.synced_generation
            && self.desired == Desired::Present
    }

    /// The claim token; set on records returned by the claim methods.
    pub fn owner(&self) -> &str {
        self.claimed_by.as_deref().unwrap_or_default()
    }
}

/// Filters of `GET /v1/sync`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncFilter {
    pub state: Option<SyncState>,
    pub kind: Option<ObjectKind>,
    pub tenant_id: Option<TenantId>,
}

/// The result of a successful attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncSuccess {
    pub zitadel_ids: serde_json::Map<String, serde_json::Value>,
    /// The ZITADEL organization holding the object (indexed: the Actions receiver maps an
    /// event's `resourceOwner` back to a tenant with it).
    pub org_id: Option<String>,
    pub at: Timestamp,
    /// When to re-check ZITADEL for drift, if nothing changes before.
    pub next_check_at: Timestamp,
}

/// The result of a failed attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncFailure {
    /// Fit for admins: no secrets, no internals.
    pub message: String,
    /// Ids of what was created before the failure, so the next attempt continues from there.
    pub zitadel_ids: serde_json::Map<String, serde_json::Value>,
    pub org_id: Option<String>,
    pub at: Timestamp,
    pub next_attempt_at: Timestamp,
}

/// A signing key of Gatehouse's Actions v2 target (the HMAC key of `ZITADEL-Signature`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionsSigningKey {
    /// A digest of the key, identifying it without revealing it.
    pub fingerprint: String,
    pub target_id: String,
    pub sealed: Sealed,
    pub created_at: Timestamp,
    /// Set once a newer key replaced this one; the key is still accepted until then.
    pub expires_at: Option<Timestamp>,
}

/// The associated data binding a sealed Actions signing key to its fingerprint.
pub fn signing_key_aad(fingerprint: &str) -> String {
    format!("zitadel:actions_signing_key:{fingerprint}")
}

/// Sync bookkeeping for the reconciler. Several replicas share one database: every method that
/// changes a claimed row takes the record returned by a claim and acts only while that claim
/// (`claimed_by`) still holds, so a worker whose lease ran out cannot overwrite a newer result.
#[async_trait]
pub trait SyncStore: Send + Sync {
    /// Marks an object for (re)sync outside an admin mutation (nothing is audited), e.g. the
    /// Actions target at start. Same effect as a [`SyncRef`] in a `Change`.
    async fn request_sync(&self, object: &SyncRef, now: Timestamp) -> StoreResult<()>;
    async fn get_sync(&self, kind: ObjectKind, id: &str) -> StoreResult<Option<SyncRecord>>;
    /// Records ordered by object id (ids are unique across kinds: they carry a kind prefix).
    async fn list_sync(
        &self,
        filter: &SyncFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<SyncRecord>>;
    /// Claims up to `limit` records that are due (`next_attempt_at <= now`) and not claimed by
    /// a live lease, for `owner` until `lease_until`. Concurrent callers get disjoint sets
    /// (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: its single writer). Tenants come first.
    async fn claim_due_sync(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<SyncRecord>>;
    /// Claims one record whether due or not; `None` if it does not exist or another lease holds.
    async fn claim_sync(
        &self,
        kind: ObjectKind,
        id: &str,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<SyncRecord>>;
    /// Records success and releases the claim: `synced` if the desired state did not change
    /// meanwhile (else `pending`, due at once). `false` if the claim was lost.
    async fn complete_sync(&self, claim: &SyncRecord, success: &SyncSuccess) -> StoreResult<bool>;
    /// Records a failed attempt (`failed`, message, one more attempt) and releases the claim.
    async fn fail_sync(&self, claim: &SyncRecord, failure: &SyncFailure) -> StoreResult<bool>;
    /// Marks a claimed record `pending` with `message` (e.g. drift found, being repaired).
    async fn mark_sync_pending(&self, claim: &SyncRecord, message: &str) -> StoreResult<bool>;
    /// ZITADEL's copy of an absent object is gone: deletes the record, unless the desired state
    /// changed meanwhile (then `false`, and the claim is kept for [`Self::release_sync`]).
    async fn remove_sync(&self, claim: &SyncRecord) -> StoreResult<bool>;
    /// Releases a claim without recording an attempt; the record is due at `next_attempt_at`.
    async fn release_sync(&self, claim: &SyncRecord, next_attempt_at: Timestamp)
    -> StoreResult<()>;
    /// Makes records due now: unsynced ones, plus synced ones when `include_synced` (a drift
    /// check), optionally only those of one tenant. Returns how many.
    async fn schedule_sync_now(
        &self,
        include_synced: bool,
        tenant: Option<&TenantId>,
        now: Timestamp,
    ) -> StoreResult<u64>;
    /// The app's desired client-secret version (bumped by each rotation request).
    async fn app_secret_version(&self, tenant: &TenantId, app: &AppId) -> StoreResult<Option<u64>>;
    /// The tenant whose organization is `org_id` (as recorded by a sync).
    async fn tenant_for_org(&self, org_id: &str) -> StoreResult<Option<TenantId>>;
    /// Stores the Actions target's current signing key (no-op if known) and lets every other
    /// key expire at `retire_others_at`; keys expired before `now` are deleted.
    async fn save_actions_signing_key(
        &self,
        key: &ActionsSigningKey,
        retire_others_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Keys that verify `ZITADEL-Signature` at `now`, newest first.
    async fn actions_signing_keys(&self, now: Timestamp) -> StoreResult<Vec<ActionsSigningKey>>;
}
