//! Management v1: the org's custom login policy and the IdPs attached to it. An IdP can only be
//! attached once the org has a custom policy (ZITADEL's `Errors.Org.LoginPolicy.NotFound`).

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiResult, enum_field, ok};
use crate::{
    auth::{Caller, OrgHeader},
    error::{ApiError, catalog},
    model::{Data, IdpKind, LoginPolicy, Meta, PolicyIdp},
    protojson::{ListQuery, ZJson, change_details, details, list_details_v1, parse_duration},
    state::AppState,
};

/// The instance default policy, as a fresh instance has it.
fn default_policy() -> LoginPolicy {
    LoginPolicy {
        allow_username_password: true,
        allow_register: true,
        allow_external_idp: true,
        passwordless_type: Some("PASSWORDLESS_TYPE_ALLOWED".into()),
        password_check_lifetime: Some("864000s".into()),
        external_login_check_lifetime: Some("864000s".into()),
        mfa_init_skip_lifetime: Some("2592000s".into()),
        second_factor_check_lifetime: Some("64800s".into()),
        multi_factor_check_lifetime: Some("43200s".into()),
        second_factors: vec![
            "SECOND_FACTOR_TYPE_OTP".into(),
            "SECOND_FACTOR_TYPE_U2F".into(),
        ],
        multi_factors: vec!["MULTI_FACTOR_TYPE_U2F_WITH_VERIFICATION".into()],
        ..LoginPolicy::default()
    }
}

fn idp_links(data: &Data, policy: &LoginPolicy) -> Vec<Value> {
    policy
        .idps
        .iter()
        .map(|link| {
            let idp = data.idps.get(&link.idp_id);
            json!({
                "idpId": link.idp_id,
                "idpName": idp.map(|i| i.name.clone()).unwrap_or_default(),
                "idpType": match idp.map(|i| i.kind) {
                    Some(IdpKind::GenericOidc) => "IDP_TYPE_OIDC",
                    _ => "IDP_TYPE_UNSPECIFIED",
                },
            })
        })
        .map(|mut v| {
            v["idpType"] = enum_field(v["idpType"].as_str().unwrap_or_default());
            v
        })
        .collect()
}

fn policy_json(data: &Data, policy: &LoginPolicy, meta: Option<&Meta>, is_default: bool) -> Value {
    let mut v = serde_json::to_value(policy).unwrap_or_default();
    v["idps"] = Value::Array(idp_links(data, policy));
    v["isDefault"] = json!(is_default);
    v["passwordlessType"] = policy
        .passwordless_type
        .as_deref()
        .map(enum_field)
        .unwrap_or(Value::Null);
    if let Some(meta) = meta {
        v["details"] = details(meta);
    }
    v
}

pub async fn get_login_policy(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
) -> ApiResult {
    let value = state.read(|inner| {
        let org_id = caller.org_context(&inner.data, &org)?;
        let org = inner
            .data
            .orgs
            .get(&org_id)
            .ok_or_else(catalog::org_not_found)?;
        Ok::<_, ApiError>(match &org.login_policy {
            Some((policy, meta)) => json!({
                "policy": policy_json(&inner.data, policy, Some(meta), false),
                "isDefault": false,
            }),
            None => json!({
                "policy": policy_json(&inner.data, &default_policy(), None, true),
                "isDefault": true,
            }),
        })
    })?;
    ok(value)
}

/// Request body of AddCustomLoginPolicy / UpdateCustomLoginPolicy (same fields; update has no
/// `idps`).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyReq {
    allow_username_password: bool,
    allow_register: bool,
    allow_external_idp: bool,
    force_mfa: bool,
    passwordless_type: Option<String>,
    hide_password_reset: bool,
    ignore_unknown_usernames: bool,
    default_redirect_uri: String,
    password_check_lifetime: Option<String>,
    external_login_check_lifetime: Option<String>,
    mfa_init_skip_lifetime: Option<String>,
    second_factor_check_lifetime: Option<String>,
    multi_factor_check_lifetime: Option<String>,
    second_factors: Vec<String>,
    multi_factors: Vec<String>,
    idps: Vec<PolicyIdp>,
    allow_domain_discovery: bool,
    disable_login_with_email: bool,
    disable_login_with_phone: bool,
    force_mfa_local_only: bool,
}

const SECOND_FACTORS: &[&str] = &[
    "SECOND_FACTOR_TYPE_OTP",
    "SECOND_FACTOR_TYPE_U2F",
    "SECOND_FACTOR_TYPE_OTP_EMAIL",
    "SECOND_FACTOR_TYPE_OTP_SMS",
];

impl PolicyReq {
    fn into_policy(self) -> Result<(LoginPolicy, Vec<PolicyIdp>), ApiError> {
        for (field, value) in [
            ("passwordCheckLifetime", &self.password_check_lifetime),
            (
                "externalLoginCheckLifetime",
                &self.external_login_check_lifetime,
            ),
            ("mfaInitSkipLifetime", &self.mfa_init_skip_lifetime),
            (
                "secondFactorCheckLifetime",
                &self.second_factor_check_lifetime,
            ),
            (
                "multiFactorCheckLifetime",
                &self.multi_factor_check_lifetime,
            ),
        ] {
            if let Some(text) = value
                && parse_duration(text).is_none_or(|s| s < 0.0)
            {
                return Err(ApiError::validation(format!(
                    "invalid {field}: `{text}` is not a duration such as \"3600s\""
                )));
            }
        }
        match self.passwordless_type.as_deref() {
            None | Some("PASSWORDLESS_TYPE_NOT_ALLOWED") | Some("PASSWORDLESS_TYPE_ALLOWED") => {}
            Some(other) => {
                return Err(ApiError::validation(format!(
                    "invalid passwordlessType: unknown value `{other}`"
                )));
            }
        }
        if let Some(bad) = self
            .second_factors
            .iter()
            .find(|f| !SECOND_FACTORS.contains(&f.as_str()))
        {
            return Err(ApiError::validation(format!(
                "invalid secondFactors: unknown value `{bad}`"
            )));
        }
        if let Some(bad) = self
            .multi_factors
            .iter()
            .find(|f| f.as_str() != "MULTI_FACTOR_TYPE_U2F_WITH_VERIFICATION")
        {
            return Err(ApiError::validation(format!(
                "invalid multiFactors: unknown value `{bad}`"
            )));
        }
        if !self.default_redirect_uri.is_empty()
            && url::Url::parse(&self.default_redirect_uri).is_err()
        {
            return Err(ApiError::invalid(
                "EMU-PolicyRedirect",
                "Default Redirect URI is invalid",
            ));
        }
        let policy = LoginPolicy {
            allow_username_password: self.allow_username_password,
            allow_register: self.allow_register,
            allow_external_idp: self.allow_external_idp,
            force_mfa: self.force_mfa,
            passwordless_type: self.passwordless_type,
            hide_password_reset: self.hide_password_reset,
            ignore_unknown_usernames: self.ignore_unknown_usernames,
            default_redirect_uri: self.default_redirect_uri,
            password_check_lifetime: self.password_check_lifetime,
            external_login_check_lifetime: self.external_login_check_lifetime,
            mfa_init_skip_lifetime: self.mfa_init_skip_lifetime,
            second_factor_check_lifetime: self.second_factor_check_lifetime,
            multi_factor_check_lifetime: self.multi_factor_check_lifetime,
            second_factors: self.second_factors,
            multi_factors: self.multi_factors,
            allow_domain_discovery: self.allow_domain_discovery,
            disable_login_with_email: self.disable_login_with_email,
            disable_login_with_phone: self.disable_login_with_phone,
            force_mfa_local_only: self.force_mfa_local_only,
            idps: vec![],
        };
        Ok((policy, self.idps))
    }
}

/// Checks that an IdP link refers to an IdP the org can use.
fn check_idp_link(data: &Data, org_id: &str, link: &PolicyIdp) -> Result<PolicyIdp, ApiError> {
    let owner = match link.owner_type.as_str() {
        "" | "IDP_OWNER_TYPE_UNSPECIFIED" | "IDP_OWNER_TYPE_ORG" => "IDP_OWNER_TYPE_ORG",
        "IDP_OWNER_TYPE_SYSTEM" => "IDP_OWNER_TYPE_SYSTEM",
        other => {
            return Err(ApiError::validation(format!(
                "invalid ownerType: unknown value `{other}`"
            )));
        }
    };
    // The emulator has no instance-level IdPs, so only the org's own IdPs qualify.
    data.idps
        .get(&link.idp_id)
        .filter(|i| i.org_id == org_id && owner == "IDP_OWNER_TYPE_ORG")
        .ok_or_else(catalog::idp_not_found)?;
    Ok(PolicyIdp {
        idp_id: link.idp_id.clone(),
        owner_type: owner.to_owned(),
    })
}

pub async fn add_custom_login_policy(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    ZJson(req): ZJson<PolicyReq>,
) -> ApiResult {
    let (mut policy, links) = req.into_policy()?;
    let (seq, at, org_id) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            if tx
                .data
                .orgs
                .get(&org_id)
                .is_some_and(|o| o.login_policy.is_some())
            {
                return Err(catalog::login_policy_exists());
            }
            for link in &links {
                let link = check_idp_link(tx.data, &org_id, link)?;
                if !policy.idps.contains(&link) {
                    policy.idps.push(link);
                }
            }
            let meta = tx.meta(&org_id);
            let seq = meta.sequence;
            if let Some(o) = tx.data.orgs.get_mut(&org_id) {
                o.login_policy = Some((policy, meta));
            }
            Ok((seq, tx.now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &org_id)}))
}

pub async fn update_custom_login_policy(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    ZJson(req): ZJson<PolicyReq>,
) -> ApiResult {
    let (policy, _) = req.into_policy()?;
    let (seq, at, org_id) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let seq = tx.next_seq();
            let now = tx.now;
            let org = tx
                .data
                .orgs
                .get_mut(&org_id)
                .ok_or_else(catalog::org_not_found)?;
            let (current, meta) = org
                .login_policy
                .as_mut()
                .ok_or_else(catalog::login_policy_not_found)?;
            let idps = std::mem::take(&mut current.idps);
            *current = LoginPolicy { idps, ..policy };
            meta.changed = now;
            meta.sequence = seq;
            Ok((seq, now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &org_id)}))
}

pub async fn reset_login_policy(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
) -> ApiResult {
    let (seq, at, org_id) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let seq = tx.next_seq();
            let org = tx
                .data
                .orgs
                .get_mut(&org_id)
                .ok_or_else(catalog::org_not_found)?;
            org.login_policy
                .take()
                .ok_or_else(catalog::login_policy_not_found)?;
            Ok((seq, tx.now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &org_id)}))
}

pub async fn add_idp_to_policy(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    ZJson(req): ZJson<PolicyIdp>,
) -> ApiResult {
    if req.idp_id.trim().is_empty() {
        return Err(ApiError::validation(
            "invalid AddIDPToLoginPolicyRequest.IdpId: value length must be between 1 and 200 runes, inclusive",
        ));
    }
    let (seq, at, org_id) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let has_policy = tx
                .data
                .orgs
                .get(&org_id)
                .is_some_and(|o| o.login_policy.is_some());
            if !has_policy {
                return Err(catalog::login_policy_not_found());
            }
            let link = check_idp_link(tx.data, &org_id, &req)?;
            let seq = tx.next_seq();
            let now = tx.now;
            let org = tx
                .data
                .orgs
                .get_mut(&org_id)
                .ok_or_else(catalog::org_not_found)?;
            let Some((policy, meta)) = org.login_policy.as_mut() else {
                return Err(catalog::login_policy_not_found());
            };
            if policy.idps.iter().any(|l| l.idp_id == link.idp_id) {
                return Err(catalog::login_policy_idp_exists());
            }
            policy.idps.push(link);
            meta.changed = now;
            meta.sequence = seq;
            Ok((seq, now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &org_id)}))
}

pub async fn remove_idp_from_policy(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path(idp_id): Path<String>,
) -> ApiResult {
    let (seq, at, org_id) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let seq = tx.next_seq();
            let now = tx.now;
            let org = tx
                .data
                .orgs
                .get_mut(&org_id)
                .ok_or_else(catalog::org_not_found)?;
            let Some((policy, meta)) = org.login_policy.as_mut() else {
                return Err(catalog::login_policy_not_found());
            };
            let before = policy.idps.len();
            policy.idps.retain(|l| l.idp_id != idp_id);
            if policy.idps.len() == before {
                return Err(catalog::login_policy_idp_missing());
            }
            meta.changed = now;
            meta.sequence = seq;
            Ok((seq, now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &org_id)}))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListReq {
    query: ListQuery,
}

pub async fn list_policy_idps(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    ZJson(req): ZJson<ListReq>,
) -> ApiResult {
    let now = gatehouse_core::Timestamp::now();
    let value = state.read(|inner| {
        let org_id = caller.org_context(&inner.data, &org)?;
        let org = inner
            .data
            .orgs
            .get(&org_id)
            .ok_or_else(catalog::org_not_found)?;
        let Some((policy, _)) = &org.login_policy else {
            return Err(catalog::login_policy_not_found());
        };
        let links = idp_links(&inner.data, policy);
        let total = links.len();
        let page = req.query.page(links)?;
        Ok(json!({
            "details": list_details_v1(total, inner.data.sequence, now),
            "result": page,
        }))
    })?;
    ok(value)
}
