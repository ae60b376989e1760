//! Tenant lifecycle.

use serde_json::json;

use super::Caller;
use crate::{
    Error, Result, StoreError,
    audit::Target,
    change::Change,
    id::TenantId,
    page::{Page, PageRequest},
    store::Store,
    sync::{ObjectKind, SyncRef, SyncStatus},
    tenant::{self, CreateTenant, Tenant, TenantStatus, UpdateTenant},
    validate,
};

pub const SLUG_CONSTRAINT: &str = "tenants.slug";

fn target(tenant: &Tenant) -> Target {
    Target::new("tenant", &tenant.id, Some(&tenant.name))
}

fn summary(tenant: &Tenant) -> serde_json::Value {
    json!({
        "id": tenant.id,
        "name": tenant.name,
        "slug": tenant.slug,
        "domains": tenant.domains,
        "status": tenant.status,
    })
}

pub async fn create(store: &dyn Store, caller: Caller<'_>, input: CreateTenant) -> Result<Tenant> {
    caller.principal.require_platform()?;
    let tenant = Tenant {
        id: TenantId::generate(),
        name: validate::name("name", &input.name)?,
        slug: validate::slug("slug", &input.slug)?,
        domains: tenant::validate_domains(&input.domains)?,
        status: TenantStatus::Active,
        created_at: caller.now,
        updated_at: caller.now,
        sync: SyncStatus::pending(),
    };
    let change = Change::new(
        "tenant.created",
        caller.principal,
        caller.context,
        Some(&tenant.id),
        caller.now,
    )
    .target(target(&tenant))
    .event("tenant.created", summary(&tenant))
    .resync(SyncRef::upsert(
        ObjectKind::Tenant,
        &tenant.id,
        Some(&tenant.id),
    ));
    store
        .insert_tenant(&tenant, &change)
        .await
        .map_err(|err| match err {
            e if e.is_unique(SLUG_CONSTRAINT) => Error::conflict(
                "slug_taken",
                "slug",
                format!("a tenant with slug `{}` already exists", tenant.slug),
            ),
            other => other.into(),
        })?;
    Ok(tenant)
}

pub async fn get(store: &dyn Store, caller: Caller<'_>, id: &TenantId) -> Result<Tenant> {
    caller.principal.check_tenant(id)?;
    store
        .get_tenant(id)
        .await?
        .ok_or(Error::NotFound { what: "tenant" })
}

pub async fn list(
    store: &dyn Store,
    caller: Caller<'_>,
    page: &PageRequest,
) -> Result<Page<Tenant>> {
    // A tenant-scoped key lists exactly its own tenant.
    if let Some(own) = caller.principal.tenant_scope() {
        let data = store.get_tenant(own).await?.into_iter().collect();
        return Ok(Page { data, after: None });
    }
    Ok(store.list_tenants(page).await?)
}

pub async fn update(
    store: &dyn Store,
    caller: Caller<'_>,
    id: &TenantId,
    input: UpdateTenant,
) -> Result<Tenant> {
    let mut tenant = get(store, caller, id).await?;
    if input.status.is_some() {
        caller.principal.require_platform()?;
    }
    let before = summary(&tenant);
    if let Some(name) = &input.name {
        tenant.name = validate::name("name", name)?;
    }
    if let Some(domains) = &input.domains {
        tenant.domains = tenant::validate_domains(domains)?;
    }
    if let Some(status) = input.status {
        tenant.status = status;
    }
    tenant.updated_at = caller.now;
    let after = summary(&tenant);
    let change = Change::new(
        "tenant.updated",
        caller.principal,
        caller.context,
        Some(&tenant.id),
        caller.now,
    )
    .target(target(&tenant))
    .meta("before", before.clone())
    .event(
        "tenant.updated",
        json!({ "tenant": after, "previous": before }),
    )
    .resync(SyncRef::upsert(
        ObjectKind::Tenant,
        &tenant.id,
        Some(&tenant.id),
    ));
    store
        .update_tenant(&tenant, &change)
        .await
        .map_err(not_found)?;
    Ok(tenant)
}

pub async fn delete(store: &dyn Store, caller: Caller<'_>, id: &TenantId) -> Result<()> {
    let tenant = get(store, caller, id).await?;
    caller.principal.require_platform()?;
    let change = Change::new(
        "tenant.deleted",
        caller.principal,
        caller.context,
        Some(&tenant.id),
        caller.now,
    )
    .target(target(&tenant))
    .event("tenant.deleted", summary(&tenant))
    .resync(SyncRef::delete(
        ObjectKind::Tenant,
        &tenant.id,
        Some(&tenant.id),
    ));
    store.delete_tenant(id, &change).await.map_err(not_found)
}

fn not_found(err: StoreError) -> Error {
    match err {
        StoreError::NotFound => Error::NotFound { what: "tenant" },
        other => other.into(),
    }
}
