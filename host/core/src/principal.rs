//! Who is calling, and what they may touch. The HTTP layer builds a [`Principal`] in an
//! extractor; services receive it and never re-derive permissions.

use serde::{Deserialize, Serialize};

use crate::{
    Error,
    audit::Actor,
    id::{ApiKeyId, TenantId},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A platform-scoped API key (or the bootstrap credential): may manage every tenant.
    PlatformKey { key_id: ApiKeyId, name: String },
    /// A tenant-scoped API key: sees only its tenant; everything else is "not found".
    TenantKey {
        key_id: ApiKeyId,
        name: String,
        tenant_id: TenantId,
    },
    /// A platform admin signed in through the IdP (portal session).
    Admin { user_id: String, name: String },
    /// Gatehouse itself (workers, reconciler, receivers).
    System { component: &'static str },
}

impl Principal {
    pub fn is_platform(&self) -> bool {
        matches!(
            self,
            Self::PlatformKey { .. } | Self::Admin { .. } | Self::System { .. }
        )
    }

    /// `Ok` when the caller may see objects of `tenant`. A tenant key asking for another tenant
    /// gets `NotFound`, indistinguishable from a tenant that does not exist.
    pub fn check_tenant(&self, tenant: &TenantId) -> Result<(), Error> {
        match self {
            Self::TenantKey { tenant_id, .. } if tenant_id != tenant => {
                Err(Error::NotFound { what: "tenant" })
            }
            _ => Ok(()),
        }
    }

    /// The tenant a tenant-scoped caller is confined to, if any.
    pub fn tenant_scope(&self) -> Option<&TenantId> {
        match self {
            Self::TenantKey { tenant_id, .. } => Some(tenant_id),
            _ => None,
        }
    }

    pub fn require_platform(&self) -> Result<(), Error> {
        if self.is_platform() {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "this operation needs a platform-scoped credential".into(),
            ))
        }
    }

    pub fn actor(&self) -> Actor {
        match self {
            Self::PlatformKey { key_id, name } | Self::TenantKey { key_id, name, .. } => Actor {
                kind: ActorKind::ApiKey,
                id: key_id.to_string(),
                name: Some(name.clone()),
            },
            Self::Admin { user_id, name } => Actor {
                kind: ActorKind::User,
                id: user_id.clone(),
                name: Some(name.clone()),
            },
            Self::System { component } => Actor {
                kind: ActorKind::System,
                id: (*component).to_owned(),
                name: None,
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ActorKind {
    ApiKey,
    User,
    System,
    Zitadel,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_key_sees_other_tenants_as_missing() {
        let mine = TenantId::generate();
        let other = TenantId::generate();
        let key = Principal::TenantKey {
            key_id: ApiKeyId::generate(),
            name: "ci".into(),
            tenant_id: mine.clone(),
        };
        assert!(key.check_tenant(&mine).is_ok());
        assert!(matches!(
            key.check_tenant(&other),
            Err(Error::NotFound { .. })
        ));
        assert!(key.require_platform().is_err());
    }
}
