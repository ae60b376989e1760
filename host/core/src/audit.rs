//! Audit entries in the WorkOS shape: action, actor, targets, context, metadata, occurred_at.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    Timestamp,
    id::{AuditId, TenantId},
    principal::ActorKind,
};

/// Schema version of [`AuditEntry`], bumped if its shape changes.
pub const AUDIT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: AuditId,
    /// Dotted verb, e.g. `tenant.created`, `app.secret_rotated`.
    pub action: String,
    pub occurred_at: Timestamp,
    pub version: u32,
    pub actor: Actor,
    pub targets: Vec<Target>,
    pub context: AuditContext,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Map<String, Value>,
    /// The tenant the action concerns, for filtering and tenant-scoped access.
    pub tenant_id: Option<TenantId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorKind,
    pub id: String,
    pub name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Target {
    /// What kind of object: `tenant`, `app`, `api_key`, `webhook_endpoint`, `plugin`…
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub name: Option<String>,
}

impl Target {
    pub fn new(kind: &str, id: impl ToString, name: Option<&str>) -> Self {
        Self {
            kind: kind.to_owned(),
            id: id.to_string(),
            name: name.map(str::to_owned),
        }
    }
}

/// Where a request came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditContext {
    /// Client IP address.
    pub location: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// Filters for listing and exporting the audit log.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub tenant_id: Option<TenantId>,
    pub actions: Vec<String>,
    pub actor_id: Option<String>,
    pub target_id: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}
