//! API keys: create (the token is returned once), list, revoke, authenticate.

use serde_json::json;
use subtle::ConstantTimeEq;

use super::Caller;
use crate::{
    Error, Result, StoreError, Timestamp,
    api_key::{self, ApiKey, CreateApiKey, KeyScope, NewToken},
    audit::{AuditContext, Target},
    change::Change,
    id::{ApiKeyId, TenantId},
    page::{Page, PageRequest},
    principal::Principal,
    store::Store,
    validate,
};

/// Why a presented token was refused. All map to 401 with a message that does not reveal
/// whether a key exists.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthFailure {
    Malformed,
    Unknown,
    Revoked,
}

fn target(key: &ApiKey) -> Target {
    Target::new("api_key", &key.id, Some(&key.name))
}

pub async fn create(
    store: &dyn Store,
    caller: Caller<'_>,
    input: CreateApiKey,
) -> Result<(ApiKey, String)> {
    let name = validate::name("name", &input.name)?;
    let tenant_id = match (input.scope, input.tenant_id) {
        (KeyScope::Platform, None) => {
            caller.principal.require_platform()?;
            None
        }
        (KeyScope::Platform, Some(_)) => {
            return Err(Error::invalid(
                "tenant_id",
                "platform keys must not name a tenant_id",
            ));
        }
        (KeyScope::Tenant, Some(tenant)) => {
            caller.principal.check_tenant(&tenant)?;
            store
                .get_tenant(&tenant)
                .await?
                .ok_or(Error::NotFound { what: "tenant" })?;
            Some(tenant)
        }
        (KeyScope::Tenant, None) => {
            return Err(Error::invalid("tenant_id", "tenant keys need a tenant_id"));
        }
    };
    let token = NewToken::generate();
    let key = ApiKey {
        id: ApiKeyId::generate(),
        name,
        scope: input.scope,
        tenant_id,
        token_prefix: token.display_prefix.clone(),
        created_at: caller.now,
        last_used_at: None,
        revoked_at: None,
    };
    let change = Change::new(
        "api_key.created",
        caller.principal,
        caller.context,
        key.tenant_id.as_ref(),
        caller.now,
    )
    .target(target(&key))
    .event(
        "api_key.created",
        json!({ "id": key.id, "name": key.name, "scope": key.scope, "tenant_id": key.tenant_id }),
    );
    store
        .insert_api_key(&key, &token.hash, &change)
        .await
        .map_err(|e| match e {
            StoreError::ForeignKeyViolation => Error::NotFound { what: "tenant" },
            other => other.into(),
        })?;
    Ok((key, token.token))
}

pub async fn list(
    store: &dyn Store,
    caller: Caller<'_>,
    tenant: Option<&TenantId>,
    page: &PageRequest,
) -> Result<Page<ApiKey>> {
    let tenant = match (caller.principal.tenant_scope(), tenant) {
        (Some(own), Some(asked)) if own != asked => return Err(Error::NotFound { what: "tenant" }),
        (Some(own), _) => Some(own),
        (None, asked) => asked,
    };
    Ok(store.list_api_keys(tenant, page).await?)
}

pub async fn get(store: &dyn Store, caller: Caller<'_>, id: &ApiKeyId) -> Result<ApiKey> {
    let key = store
        .get_api_key(id)
        .await?
        .ok_or(Error::NotFound { what: "API key" })?;
    match (&key.tenant_id, caller.principal.tenant_scope()) {
        (Some(tenant), _) => caller
            .principal
            .check_tenant(tenant)
            .map_err(|_| Error::NotFound { what: "API key" })?,
        (None, Some(_)) => return Err(Error::NotFound { what: "API key" }),
        (None, None) => {}
    }
    Ok(key)
}

pub async fn revoke(store: &dyn Store, caller: Caller<'_>, id: &ApiKeyId) -> Result<ApiKey> {
    let mut key = get(store, caller, id).await?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let change = Change::new(
        "api_key.revoked",
        caller.principal,
        caller.context,
        key.tenant_id.as_ref(),
        caller.now,
    )
    .target(target(&key))
    .event("api_key.revoked", json!({ "id": key.id, "name": key.name }));
    store
        .revoke_api_key(id, caller.now, &change)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::NotFound { what: "API key" },
            other => other.into(),
        })?;
    key.revoked_at = Some(caller.now);
    Ok(key)
}

/// Resolves a bearer token to a principal.
pub async fn authenticate(
    store: &dyn Store,
    token: &str,
    now: Timestamp,
) -> Result<std::result::Result<Principal, AuthFailure>> {
    if token.len() < 16 || token.len() > 256 {
        return Ok(Err(AuthFailure::Malformed));
    }
    let hash = api_key::hash_token(token);
    let Some(key) = store.find_api_key_by_hash(&hash).await? else {
        return Ok(Err(AuthFailure::Unknown));
    };
    // The lookup was by hash already; compare again in constant time so no code path depends
    // on a variable-time comparison of secret material.
    let recomputed = api_key::hash_token(token);
    if !bool::from(recomputed.ct_eq(&hash)) {
        return Ok(Err(AuthFailure::Unknown));
    }
    if key.revoked_at.is_some() {
        return Ok(Err(AuthFailure::Revoked));
    }
    // Throttled: a busy key would otherwise turn every read into a write.
    let stale = key
        .last_used_at
        .is_none_or(|at| now.unix_millis() - at.unix_millis() > 60_000);
    if stale && let Err(err) = store.touch_api_key(&key.id, now).await {
        tracing::debug!(%err, key = %key.id, "could not record API key use");
    }
    Ok(Ok(match (key.scope, key.tenant_id) {
        (KeyScope::Tenant, Some(tenant_id)) => Principal::TenantKey {
            key_id: key.id,
            name: key.name,
            tenant_id,
        },
        _ => Principal::PlatformKey {
            key_id: key.id,
            name: key.name,
        },
    }))
}

/// On a database that never issued a bootstrap credential, creates the platform key
/// `bootstrap` with `token` (or a generated one). Returns the clear token if it was created now.
pub async fn bootstrap(
    store: &dyn Store,
    token: Option<String>,
    now: Timestamp,
) -> Result<Option<String>> {
    let token = match token {
        Some(t) => NewToken::from_token(t),
        None => NewToken::generate(),
    };
    let key = ApiKey {
        id: ApiKeyId::generate(),
        name: "bootstrap".into(),
        scope: KeyScope::Platform,
        tenant_id: None,
        token_prefix: token.display_prefix.clone(),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    let system = Principal::System {
        component: "bootstrap",
    };
    let change = Change::new(
        "api_key.created",
        &system,
        &AuditContext::default(),
        None,
        now,
    )
    .target(target(&key))
    .meta("bootstrap", true)
    .event(
        "api_key.created",
        json!({ "id": key.id, "name": key.name, "scope": key.scope }),
    );
    let created = store
        .insert_bootstrap_key(&key, &token.hash, &change)
        .await?;
    Ok(created.then_some(token.token))
}
