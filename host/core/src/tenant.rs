//! Tenants: one per customer organisation, mirrored as a ZITADEL organization.

use serde::{Deserialize, Serialize};

use crate::{Error, Timestamp, id::TenantId, sync::SyncStatus, validate};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// Unique, URL-safe handle, immutable after creation.
    pub slug: String,
    /// Email domains of the organisation (used for home-realm discovery later).
    pub domains: Vec<String>,
    pub status: TenantStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Sync with ZITADEL (filled by the store on reads).
    pub sync: SyncStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// `POST /v1/tenants`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateTenant {
    pub name: String,
    pub slug: String,
    #[serde(default)]
    pub domains: Vec<String>,
}

/// `PATCH /v1/tenants/{id}`: absent fields stay as they are.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateTenant {
    pub name: Option<String>,
    pub domains: Option<Vec<String>>,
    pub status: Option<TenantStatus>,
}

pub const MAX_DOMAINS: usize = 50;

pub(crate) fn validate_domains(domains: &[String]) -> Result<Vec<String>, Error> {
    let mut out = validate::list("domains", domains, MAX_DOMAINS, |f, v| {
        validate::domain(f, v)
    })?;
    out.sort();
    out.dedup();
    Ok(out)
}
