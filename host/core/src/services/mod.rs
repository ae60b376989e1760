//! Domain services: validate input, build records and their [`Change`](crate::change::Change),
//! and hand both to the store. The HTTP layer and workers call these; they never write to a
//! store directly.

pub mod api_keys;
pub mod apps;
pub mod tenants;

use crate::{
    Error, Result, Timestamp, audit::AuditContext, id::TenantId, principal::Principal, store::Store,
};

/// Who is acting, from where, and when.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    pub principal: &'a Principal,
    pub context: &'a AuditContext,
    pub now: Timestamp,
}

/// The caller may act in `tenant` and it exists: `NotFound` otherwise (another tenant's id
/// looks exactly like a missing one).
pub async fn tenant_exists(store: &dyn Store, caller: Caller<'_>, tenant: &TenantId) -> Result<()> {
    caller.principal.check_tenant(tenant)?;
    store
        .get_tenant(tenant)
        .await?
        .ok_or(Error::NotFound { what: "tenant" })?;
    Ok(())
}
