//! Per-object synchronisation state between Gatehouse (the desired state) and ZITADEL.

use serde::{Deserialize, Serialize};

use crate::{Timestamp, id::TenantId};

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
