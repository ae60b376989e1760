//! App lifecycle. Client ids and secrets come from the IdP when the app is synced; this module
//! only ever reveals a secret once.

use serde_json::json;

use super::{Caller, tenant_exists};
use crate::{
    Error, Result, StoreError,
    app::{self, App, CreateApp, UpdateApp},
    audit::Target,
    change::Change,
    id::{AppId, TenantId},
    page::{Page, PageRequest},
    secret::Keyring,
    store::Store,
    sync::{ObjectKind, SyncRef, SyncStatus},
    validate,
};

pub const NAME_CONSTRAINT: &str = "apps.tenant_id, apps.name";

/// The associated data binding an app's sealed client secret to that app.
pub fn secret_aad(id: &AppId) -> String {
    format!("app:{id}:client_secret")
}

fn target(app: &App) -> Target {
    Target::new("app", &app.id, Some(&app.name))
}

fn summary(app: &App) -> serde_json::Value {
    json!({
        "id": app.id,
        "tenant_id": app.tenant_id,
        "name": app.name,
        "type": app.app_type,
        "redirect_uris": app.redirect_uris,
        "post_logout_redirect_uris": app.post_logout_redirect_uris,
        "dev_mode": app.dev_mode,
    })
}

fn map_err(err: StoreError, name: &str) -> Error {
    match err {
        e if e.is_unique(NAME_CONSTRAINT) => Error::conflict(
            "app_name_taken",
            "name",
            format!("this tenant already has an app named `{name}`"),
        ),
        StoreError::ForeignKeyViolation => Error::NotFound { what: "tenant" },
        StoreError::NotFound => Error::NotFound { what: "app" },
        other => other.into(),
    }
}

pub async fn create(
    store: &dyn Store,
    caller: Caller<'_>,
    tenant: &TenantId,
    input: CreateApp,
) -> Result<App> {
    tenant_exists(store, caller, tenant).await?;
    let (redirect_uris, post_logout_redirect_uris) = app::validate_uris(
        input.app_type,
        input.dev_mode,
        &input.redirect_uris,
        &input.post_logout_redirect_uris,
    )?;
    let app = App {
        id: AppId::generate(),
        tenant_id: tenant.clone(),
        name: validate::name("name", &input.name)?,
        app_type: input.app_type,
        redirect_uris,
        post_logout_redirect_uris,
        dev_mode: input.dev_mode,
        client_id: None,
        has_client_secret: false,
        created_at: caller.now,
        updated_at: caller.now,
        sync: SyncStatus::pending(),
    };
    let change = Change::new(
        "app.created",
        caller.principal,
        caller.context,
        Some(tenant),
        caller.now,
    )
    .target(target(&app))
    .event("app.created", summary(&app))
    .resync(SyncRef::upsert(ObjectKind::App, &app.id, Some(tenant)));
    store
        .insert_app(&app, &change)
        .await
        .map_err(|e| map_err(e, &app.name))?;
    Ok(app)
}

pub async fn get(
    store: &dyn Store,
    caller: Caller<'_>,
    tenant: &TenantId,
    id: &AppId,
) -> Result<App> {
    caller.principal.check_tenant(tenant)?;
    store
        .get_app(tenant, id)
        .await?
        .ok_or(Error::NotFound { what: "app" })
}

pub async fn list(
    store: &dyn Store,
    caller: Caller<'_>,
    tenant: &TenantId,
    page: &PageRequest,
) -> Result<Page<App>> {
    tenant_exists(store, caller, tenant).await?;
    Ok(store.list_apps(tenant, page).await?)
}

pub async fn update(
    store: &dyn Store,
    caller: Caller<'_>,
    tenant: &TenantId,
    id: &AppId,
    input: UpdateApp,
) -> Result<App> {
    let mut app = get(store, caller, tenant, id).await?;
    let before = summary(&app);
    if let Some(name) = &input.name {
        app.name = validate::name("name", name)?;
    }
    if let Some(dev_mode) = input.dev_mode {
        app.dev_mode = dev_mode;
    }
    let redirect = input
        .redirect_uris
        .unwrap_or_else(|| app.redirect_uris.clone());
    let logout = input
        .post_logout_redirect_uris
        .unwrap_or_else(|| app.post_logout_redirect_uris.clone());
    // Re-check every URI: turning dev mode off may invalidate URIs saved under it.
    let (redirect, logout) = app::validate_uris(app.app_type, app.dev_mode, &redirect, &logout)?;
    app.redirect_uris = redirect;
    app.post_logout_redirect_uris = logout;
    app.updated_at = caller.now;
    let change = Change::new(
        "app.updated",
        caller.principal,
        caller.context,
        Some(tenant),
        caller.now,
    )
    .target(target(&app))
    .meta("before", before.clone())
    .event(
        "app.updated",
        json!({ "app": summary(&app), "previous": before }),
    )
    .resync(SyncRef::upsert(ObjectKind::App, &app.id, Some(tenant)));
    store
        .update_app(&app, &change)
        .await
        .map_err(|e| map_err(e, &app.name))?;
    Ok(app)
}

pub async fn delete(
    store: &dyn Store,
    caller: Caller<'_>,
    tenant: &TenantId,
    id: &AppId,
) -> Result<()> {
    let app = get(store, caller, tenant, id).await?;
    let change = Change::new(
        "app.deleted",
        caller.principal,
        caller.context,
        Some(tenant),
        caller.now,
    )
    .target(target(&app))
    .event("app.deleted", summary(&app))
    .resync(SyncRef::delete(ObjectKind::App, &app.id, Some(tenant)));
    store
        .delete_app(tenant, id, &change)
        .await
        .map_err(|e| map_err(e, &app.name))
}

/// Asks the IdP for a new client secret (confidential apps only).
pub async fn rotate_secret(
    store: &dyn Store,
    caller: Caller<'_>,
    tenant: &TenantId,
    id: &AppId,
) -> Result<App> {
    let app = get(store, caller, tenant, id).await?;
    if !app.app_type.is_confidential() {
        return Err(Error::Precondition {
            code: "public_client",
            message: format!(
                "{} apps are public clients and have no client secret",
                app.app_type.as_str()
            ),
        });
    }
    let change = Change::new(
        "app.secret_rotated",
        caller.principal,
        caller.context,
        Some(tenant),
        caller.now,
    )
    .target(target(&app))
    .event(
        "app.secret_rotated",
        json!({ "id": app.id, "tenant_id": app.tenant_id }),
    )
    .resync(SyncRef::upsert(ObjectKind::App, &app.id, Some(tenant)));
    store
        .request_secret_rotation(tenant, id, &change)
        .await
        .map_err(|e| map_err(e, &app.name))?;
    Ok(app)
}

/// Returns the app's client secret if it has never been shown; `Ok(None)` otherwise.
pub async fn take_secret(
    store: &dyn Store,
    keyring: &Keyring,
    caller: Caller<'_>,
    tenant: &TenantId,
    id: &AppId,
) -> Result<Option<String>> {
    caller.principal.check_tenant(tenant)?;
    let Some(sealed) = store.take_app_secret(tenant, id, caller.now).await? else {
        return Ok(None);
    };
    let secret = keyring
        .open_string(&sealed, &secret_aad(id))
        .map_err(|e| Error::internal(format!("cannot open client secret of {id}: {e}")))?;
    Ok(Some(secret))
}
