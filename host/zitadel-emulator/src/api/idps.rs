//! Management v1: org-level identity providers (Google, GitHub, Microsoft Entra, generic OIDC).
//! The emulator stores them for the login policy but never federates to them; client secrets
//! are kept only as hashes.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ApiResult, enum_field, ok};
use crate::{
    auth::{Caller, OrgHeader},
    crypto::sha256_hex,
    error::{ApiError, catalog},
    model::{Idp, IdpKind},
    protojson::{ListQuery, ZJson, change_details, details, list_details_v1, text_matches},
    state::AppState,
};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct IdpReq {
    name: String,
    client_id: String,
    client_secret: String,
    scopes: Vec<String>,
    provider_options: Option<Value>,
    // azure
    tenant: Option<Value>,
    email_verified: bool,
    // generic oidc
    issuer: String,
    is_id_token_mapping: bool,
    use_pkce: bool,
}

const AUTO_LINKING: &[&str] = &[
    "AUTO_LINKING_OPTION_UNSPECIFIED",
    "AUTO_LINKING_OPTION_USERNAME",
    "AUTO_LINKING_OPTION_EMAIL",
];

fn check_options(options: &Option<Value>) -> Result<Value, ApiError> {
    let Some(options) = options else {
        return Ok(json!({}));
    };
    let obj = options
        .as_object()
        .ok_or_else(|| ApiError::validation("invalid providerOptions: expected an object"))?;
    let mut out = Map::new();
    for key in [
        "isLinkingAllowed",
        "isCreationAllowed",
        "isAutoCreation",
        "isAutoUpdate",
    ] {
        match obj.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => {
                out.insert(key.into(), json!(b));
            }
            Some(_) => {
                return Err(ApiError::validation(format!(
                    "invalid providerOptions.{key}: expected a boolean"
                )));
            }
        }
    }
    match obj.get("autoLinking") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if AUTO_LINKING.contains(&s.as_str()) => {
            out.insert("autoLinking".into(), json!(s));
        }
        Some(other) => {
            return Err(ApiError::validation(format!(
                "invalid providerOptions.autoLinking: unknown value {other}"
            )));
        }
    }
    Ok(Value::Object(out))
}

fn check_tenant(tenant: &Option<Value>) -> Result<Value, ApiError> {
    let Some(tenant) = tenant else {
        return Ok(json!({"tenantType": "AZURE_AD_TENANT_TYPE_COMMON"}));
    };
    let obj = tenant
        .as_object()
        .ok_or_else(|| ApiError::validation("invalid tenant: expected an object"))?;
    match (obj.get("tenantType"), obj.get("tenantId")) {
        (Some(Value::String(t)), None)
            if [
                "AZURE_AD_TENANT_TYPE_COMMON",
                "AZURE_AD_TENANT_TYPE_ORGANISATIONS",
                "AZURE_AD_TENANT_TYPE_CONSUMERS",
            ]
            .contains(&t.as_str()) =>
        {
            Ok(json!({"tenantType": t}))
        }
        (None, Some(Value::String(id))) if !id.trim().is_empty() => Ok(json!({"tenantId": id})),
        (None, None) => Ok(json!({"tenantType": "AZURE_AD_TENANT_TYPE_COMMON"})),
        _ => Err(ApiError::validation(
            "invalid tenant: set either tenantType (AZURE_AD_TENANT_TYPE_*) or tenantId",
        )),
    }
}

/// Validates an add/update body; on update an empty secret keeps the stored one.
fn validate(kind: IdpKind, req: &IdpReq, adding: bool) -> Result<(), ApiError> {
    // ZITADEL's ids for Google; the others use the emulator's.
    let (client_id_err, secret_err, name_err, issuer_err) = match kind {
        IdpKind::Google => ("ORG-D3fvs", "ORG-W2vqs", "EMU-IdpName", "EMU-IdpIssuer"),
        _ => (
            "EMU-IdpClientId",
            "EMU-IdpClientSecret",
            "EMU-IdpName",
            "EMU-IdpIssuer",
        ),
    };
    if req.client_id.trim().is_empty() {
        return Err(catalog::invalid_argument(client_id_err));
    }
    if adding && req.client_secret.trim().is_empty() {
        return Err(catalog::invalid_argument(secret_err));
    }
    if kind == IdpKind::GenericOidc {
        if req.name.trim().is_empty() {
            return Err(catalog::invalid_argument(name_err));
        }
        if url::Url::parse(req.issuer.trim()).is_err() {
            return Err(catalog::invalid_argument(issuer_err));
        }
    }
    if req.name.chars().count() > 200 {
        return Err(ApiError::validation(
            "invalid name: value length must be at most 200 runes",
        ));
    }
    Ok(())
}

fn extra(kind: IdpKind, req: &IdpReq) -> Result<Map<String, Value>, ApiError> {
    let mut extra = Map::new();
    match kind {
        IdpKind::AzureAd => {
            extra.insert("tenant".into(), check_tenant(&req.tenant)?);
            extra.insert("emailVerified".into(), json!(req.email_verified));
        }
        IdpKind::GenericOidc => {
            extra.insert("issuer".into(), json!(req.issuer.trim()));
            extra.insert("isIdTokenMapping".into(), json!(req.is_id_token_mapping));
            extra.insert("usePkce".into(), json!(req.use_pkce));
        }
        IdpKind::Google | IdpKind::GitHub => {}
    }
    Ok(extra)
}

async fn add(
    state: AppState,
    caller: Caller,
    org: OrgHeader,
    kind: IdpKind,
    req: IdpReq,
) -> ApiResult {
    validate(kind, &req, true)?;
    let options = check_options(&req.provider_options)?;
    let extra = extra(kind, &req)?;
    let idp = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let id = tx.new_id();
            let meta = tx.meta(&org_id);
            let idp = Idp {
                id: id.clone(),
                org_id,
                kind,
                name: req.name.trim().to_owned(),
                client_id: req.client_id.trim().to_owned(),
                client_secret_hash: sha256_hex(req.client_secret.trim()),
                scopes: req.scopes.clone(),
                options,
                extra,
                meta,
            };
            tx.data.idps.insert(id, idp.clone());
            Ok(idp)
        })
        .await?;
    ok(json!({"details": details(&idp.meta), "id": idp.id}))
}

async fn update(
    state: AppState,
    caller: Caller,
    org: OrgHeader,
    kind: IdpKind,
    id: String,
    req: IdpReq,
) -> ApiResult {
    validate(kind, &req, false)?;
    let options = check_options(&req.provider_options)?;
    let extra = extra(kind, &req)?;
    let (seq, at, owner) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let seq = tx.next_seq();
            let now = tx.now;
            let idp = tx
                .data
                .idps
                .get_mut(&id)
                .filter(|i| i.org_id == org_id && i.kind == kind)
                .ok_or_else(catalog::idp_not_found)?;
            idp.name = req.name.trim().to_owned();
            idp.client_id = req.client_id.trim().to_owned();
            // "The secret will only be updated if provided."
            if !req.client_secret.trim().is_empty() {
                idp.client_secret_hash = sha256_hex(req.client_secret.trim());
            }
            idp.scopes = req.scopes.clone();
            idp.options = options;
            idp.extra = extra;
            idp.meta.changed = now;
            idp.meta.sequence = seq;
            Ok((seq, now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &owner)}))
}

macro_rules! idp_handlers {
    ($add:ident, $update:ident, $kind:expr) => {
        pub async fn $add(
            axum::extract::State(state): axum::extract::State<AppState>,
            caller: Caller,
            org: OrgHeader,
            ZJson(req): ZJson<IdpReq>,
        ) -> ApiResult {
            add(state, caller, org, $kind, req).await
        }

        pub async fn $update(
            axum::extract::State(state): axum::extract::State<AppState>,
            caller: Caller,
            org: OrgHeader,
            axum::extract::Path(id): axum::extract::Path<String>,
            ZJson(req): ZJson<IdpReq>,
        ) -> ApiResult {
            update(state, caller, org, $kind, id, req).await
        }
    };
}

idp_handlers!(add_google, update_google, IdpKind::Google);
idp_handlers!(add_github, update_github, IdpKind::GitHub);
idp_handlers!(add_azure, update_azure, IdpKind::AzureAd);
idp_handlers!(add_generic_oidc, update_generic_oidc, IdpKind::GenericOidc);

pub fn idp_v1(idp: &Idp) -> Value {
    let mut cfg = Map::new();
    cfg.insert("options".into(), idp.options.clone());
    let mut specific = json!({"clientId": idp.client_id, "scopes": idp.scopes});
    for (k, v) in &idp.extra {
        specific[k] = v.clone();
    }
    if let Some(tenant_type) = specific
        .pointer("/tenant/tenantType")
        .and_then(Value::as_str)
        .map(str::to_owned)
    {
        specific["tenant"]["tenantType"] = enum_field(&tenant_type);
    }
    let key = match idp.kind {
        IdpKind::Google => "google",
        IdpKind::GitHub => "github",
        IdpKind::AzureAd => "azureAd",
        IdpKind::GenericOidc => "oidc",
    };
    cfg.insert(key.into(), specific);
    json!({
        "id": idp.id,
        "details": details(&idp.meta),
        "state": "IDP_STATE_ACTIVE",
        "name": idp.name,
        "owner": "IDP_OWNER_TYPE_ORG",
        "type": idp.kind.provider_type(),
        "config": cfg,
    })
}

pub async fn get_idp(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path(id): Path<String>,
) -> ApiResult {
    let value = state.read(|inner| {
        let org_id = caller.org_context(&inner.data, &org)?;
        let idp = inner
            .data
            .idps
            .get(&id)
            .filter(|i| i.org_id == org_id)
            .ok_or_else(catalog::idp_not_found)?;
        Ok::<_, ApiError>(json!({"idp": idp_v1(idp)}))
    })?;
    ok(value)
}

pub async fn delete_idp(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path(id): Path<String>,
) -> ApiResult {
    let (seq, at, owner) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            tx.data
                .idps
                .get(&id)
                .filter(|i| i.org_id == org_id)
                .ok_or_else(catalog::idp_not_found)?;
            let seq = tx.next_seq();
            tx.data.idps.remove(&id);
            for org in tx.data.orgs.values_mut() {
                if let Some((policy, _)) = org.login_policy.as_mut() {
                    policy.idps.retain(|l| l.idp_id != id);
                }
            }
            Ok((seq, tx.now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &owner)}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ListReq {
    query: ListQuery,
    queries: Vec<ProviderQuery>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ProviderQuery {
    idp_id_query: Option<IdQuery>,
    idp_name_query: Option<super::projects::NameQuery>,
    owner_type_query: Option<OwnerTypeQuery>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct IdQuery {
    id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct OwnerTypeQuery {
    owner_type: String,
}

pub async fn list_idps(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    ZJson(req): ZJson<ListReq>,
) -> ApiResult {
    let now = gatehouse_core::Timestamp::now();
    let value = state.read(|inner| {
        let org_id = caller.org_context(&inner.data, &org)?;
        let mut found = Vec::new();
        for idp in inner.data.idps.values().filter(|i| i.org_id == org_id) {
            let mut keep = true;
            for q in &req.queries {
                if let Some(q) = &q.idp_id_query {
                    keep &= idp.id == q.id;
                }
                if let Some(q) = &q.idp_name_query {
                    keep &= text_matches(q.method.as_deref(), &idp.name, &q.name)?;
                }
                if let Some(q) = &q.owner_type_query {
                    keep &= q.owner_type == "IDP_OWNER_TYPE_ORG";
                }
            }
            if keep {
                found.push(idp);
            }
        }
        let total = found.len();
        let page: Vec<Value> = req.query.page(found)?.into_iter().map(idp_v1).collect();
        Ok::<_, ApiError>(json!({
            "details": list_details_v1(total, inner.data.sequence, now),
            "result": page,
        }))
    })?;
    ok(value)
}
