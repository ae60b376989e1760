//! Management v1: the caller's organization, org members, machine users, PATs, machine keys and
//! user grants.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use base64::{Engine, engine::general_purpose::STANDARD};
use gatehouse_core::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiResult, check_len, ok, org_domain, org_state_v1, username_taken};
use crate::{
    actions::PendingEvent,
    auth::{Caller, ORG_OWNER, OrgHeader},
    crypto::{random_token, sha256_hex},
    error::{ApiError, catalog},
    keys,
    model::{
        Data, Machine, MachineKey, Org, OrgState, Token, TokenKind, User, UserGrant, UserKind,
        UserState,
    },
    protojson::{ZJson, change_details, created_details, details},
    state::{AppState, Tx},
};

pub fn org_v1(org: &Org) -> Value {
    json!({
        "id": org.id,
        "details": details(&org.meta),
        "state": org_state_v1(org),
        "name": org.name,
        "primaryDomain": org.primary_domain,
    })
}

/// Creates an organization; shared by v1 AddOrg and v2 AddOrganization.
pub fn create_org(tx: &mut Tx<'_>, name: &str, id: Option<String>) -> Result<Org, ApiError> {
    if tx
        .data
        .orgs
        .values()
        .any(|o| o.name.eq_ignore_ascii_case(name))
    {
        return Err(catalog::org_exists());
    }
    let id = match id {
        Some(id) if tx.data.orgs.contains_key(&id) => return Err(catalog::org_exists()),
        Some(id) => id,
        None => tx.new_id(),
    };
    let domain = org_domain(name, &tx.settings.domain);
    if tx.data.orgs.values().any(|o| o.primary_domain == domain) {
        return Err(catalog::org_exists());
    }
    let meta = tx.meta(&id);
    let org = Org {
        id: id.clone(),
        name: name.to_owned(),
        state: OrgState::Active,
        primary_domain: domain,
        meta,
        login_policy: None,
        members: BTreeMap::new(),
    };
    tx.data.orgs.insert(id, org.clone());
    Ok(org)
}

/// Renames an organization (v1 UpdateOrg, v2 UpdateOrganization).
pub fn rename_org(tx: &mut Tx<'_>, org_id: &str, name: &str) -> Result<(u64, String), ApiError> {
    let current = tx
        .data
        .orgs
        .get(org_id)
        .ok_or_else(catalog::org_not_found)?;
    if current.name == name {
        return Err(catalog::org_not_changed());
    }
    if tx
        .data
        .orgs
        .values()
        .any(|o| o.id != org_id && o.name.eq_ignore_ascii_case(name))
    {
        return Err(catalog::org_exists());
    }
    let domain = org_domain(name, &tx.settings.domain);
    if tx
        .data
        .orgs
        .values()
        .any(|o| o.id != org_id && o.primary_domain == domain)
    {
        return Err(catalog::org_exists());
    }
    let seq = tx.next_seq();
    let now = tx.now;
    let org = tx
        .data
        .orgs
        .get_mut(org_id)
        .ok_or_else(catalog::org_not_found)?;
    org.name = name.to_owned();
    org.primary_domain = domain;
    org.meta.changed = now;
    org.meta.sequence = seq;
    Ok((seq, org_id.to_owned()))
}

/// Removes an organization and everything it owns.
pub fn delete_org(tx: &mut Tx<'_>, org_id: &str) -> Result<u64, ApiError> {
    if !tx.data.orgs.contains_key(org_id) {
        return Err(catalog::org_not_found());
    }
    if tx.data.default_org_id == org_id {
        return Err(catalog::default_org_not_deletable());
    }
    let seq = tx.next_seq();
    let data: &mut Data = tx.data;
    data.orgs.remove(org_id);
    let projects: Vec<String> = data
        .projects
        .values()
        .filter(|p| p.org_id == org_id)
        .map(|p| p.id.clone())
        .collect();
    data.projects.retain(|_, p| p.org_id != org_id);
    data.apps.retain(|_, a| a.org_id != org_id);
    data.idps.retain(|_, i| i.org_id != org_id);
    let users: Vec<String> = data
        .users
        .values()
        .filter(|u| u.org_id == org_id)
        .map(|u| u.id.clone())
        .collect();
    for user in &users {
        data.users.remove(user);
        data.instance_members.remove(user);
    }
    data.tokens.retain(|_, t| !users.contains(&t.user_id));
    for user in data.users.values_mut() {
        user.grants.retain(|project, _| !projects.contains(project));
    }
    Ok(seq)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameReq {
    #[serde(default)]
    name: String,
}

pub async fn add_org(
    State(state): State<AppState>,
    caller: Caller,
    ZJson(req): ZJson<NameReq>,
) -> ApiResult {
    let name = check_len("AddOrgRequest.Name", &req.name, 1, 200)?;
    let org = state
        .write(|tx| {
            let org = create_org(tx, &name, None)?;
            // As in ZITADEL, the creator becomes the new org's owner.
            if let Some(o) = tx.data.orgs.get_mut(&org.id) {
                o.members
                    .insert(caller.user_id.clone(), vec![ORG_OWNER.to_owned()]);
            }
            Ok(org)
        })
        .await?;
    ok(json!({"id": org.id, "details": details(&org.meta)}))
}

pub async fn get_my_org(
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
        Ok::<_, ApiError>(json!({"org": org_v1(org)}))
    })?;
    ok(value)
}

pub async fn update_org(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    ZJson(req): ZJson<NameReq>,
) -> ApiResult {
    let name = check_len("UpdateOrgRequest.Name", &req.name, 1, 200)?;
    let (seq, at, id) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let (seq, id) = rename_org(tx, &org_id, &name)?;
            Ok((seq, tx.now, id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &id)}))
}

pub async fn remove_org(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
) -> ApiResult {
    let (seq, at, id) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let seq = delete_org(tx, &org_id)?;
            Ok((seq, tx.now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &id)}))
}

#[derive(Deserialize)]
pub struct DomainQuery {
    #[serde(default)]
    domain: String,
}

pub async fn get_org_by_domain(
    State(state): State<AppState>,
    _caller: Caller,
    Query(q): Query<DomainQuery>,
) -> ApiResult {
    let domain = check_len("GetOrgByDomainGlobalRequest.Domain", &q.domain, 1, 200)?;
    let value = state.read(|inner| {
        inner
            .data
            .orgs
            .values()
            .find(|o| o.primary_domain.eq_ignore_ascii_case(&domain))
            .map(|o| json!({"org": org_v1(o)}))
            .ok_or_else(catalog::org_not_found)
    })?;
    ok(value)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberReq {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    roles: Vec<String>,
}

const ORG_ROLES: &[&str] = &[
    "ORG_OWNER",
    "ORG_OWNER_VIEWER",
    "ORG_USER_MANAGER",
    "ORG_USER_PERMISSION_EDITOR",
    "ORG_PROJECT_PERMISSION_EDITOR",
    "ORG_PROJECT_CREATOR",
    "ORG_SETTINGS_MANAGER",
];

pub async fn add_org_member(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    ZJson(req): ZJson<MemberReq>,
) -> ApiResult {
    let user_id = check_len("AddOrgMemberRequest.UserId", &req.user_id, 1, 200)?;
    if req.roles.is_empty() {
        return Err(ApiError::invalid(
            "EMU-MemberRoles",
            "Organisation member is invalid",
        ));
    }
    if let Some(bad) = req.roles.iter().find(|r| !ORG_ROLES.contains(&r.as_str())) {
        return Err(ApiError::invalid(
            "EMU-MemberRole",
            format!("Organisation member is invalid: unknown role `{bad}`"),
        ));
    }
    let (seq, at, org_id) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            if !tx.data.users.contains_key(&user_id) {
                return Err(catalog::user_not_found());
            }
            let exists = tx
                .data
                .orgs
                .get(&org_id)
                .is_some_and(|o| o.members.contains_key(&user_id));
            if exists {
                return Err(ApiError::already_exists(
                    "Organisation member already exists",
                ));
            }
            let seq = tx.next_seq();
            if let Some(o) = tx.data.orgs.get_mut(&org_id) {
                o.members.insert(user_id.clone(), req.roles.clone());
            }
            Ok((seq, tx.now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &org_id)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddMachineReq {
    #[serde(default)]
    user_name: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    access_token_type: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
}

/// Creates a machine user in `org_id`; used by the API and by first-instance setup.
pub fn create_machine(
    tx: &mut Tx<'_>,
    org_id: &str,
    username: &str,
    name: &str,
    description: &str,
    access_token_type: &str,
    id: Option<String>,
) -> Result<User, ApiError> {
    if username_taken(tx.data, username) {
        return Err(catalog::user_exists());
    }
    let id = match id {
        Some(id) if tx.data.users.contains_key(&id) => return Err(catalog::user_exists()),
        Some(id) => id,
        None => tx.new_id(),
    };
    let meta = tx.meta(org_id);
    let user = User {
        id: id.clone(),
        org_id: org_id.to_owned(),
        username: username.to_owned(),
        state: UserState::Active,
        kind: UserKind::Machine(Machine {
            name: name.to_owned(),
            description: description.to_owned(),
            access_token_type: access_token_type.to_owned(),
            keys: vec![],
        }),
        grants: BTreeMap::new(),
        meta,
    };
    tx.data.users.insert(id, user.clone());
    Ok(user)
}

pub async fn add_machine_user(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    ZJson(req): ZJson<AddMachineReq>,
) -> ApiResult {
    let username = check_len("AddMachineUserRequest.UserName", &req.user_name, 1, 200)?;
    let name = check_len("AddMachineUserRequest.Name", &req.name, 1, 200)?;
    let token_type = match req.access_token_type.as_deref() {
        None | Some("ACCESS_TOKEN_TYPE_BEARER") => "ACCESS_TOKEN_TYPE_BEARER",
        Some("ACCESS_TOKEN_TYPE_JWT") => "ACCESS_TOKEN_TYPE_JWT",
        Some(other) => {
            return Err(ApiError::validation(format!(
                "invalid AddMachineUserRequest.AccessTokenType: unknown value `{other}`"
            )));
        }
    };
    let user_id = req.user_id.filter(|s| !s.trim().is_empty());
    let user = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            create_machine(
                tx,
                &org_id,
                &username,
                &name,
                &req.description,
                token_type,
                user_id,
            )
        })
        .await?;
    ok(json!({"userId": user.id, "details": details(&user.meta)}))
}

/// The user `user_id` if the caller may manage it, within the v1 org context.
fn managed_user<'a>(
    data: &'a Data,
    caller: &Caller,
    org: &OrgHeader,
    user_id: &str,
) -> Result<&'a User, ApiError> {
    let org_id = caller.org_context(data, org)?;
    data.users
        .get(user_id)
        .filter(|u| u.org_id == org_id)
        .ok_or_else(catalog::user_not_found)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ExpiringReq {
    expiration_date: Option<String>,
    #[serde(rename = "type")]
    key_type: Option<String>,
    public_key: Option<String>,
}

fn parse_expiration(text: Option<&str>, now: Timestamp) -> Result<Option<Timestamp>, ApiError> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => {
            let at = Timestamp::parse_rfc3339(text).ok_or_else(|| {
                ApiError::validation("invalid expirationDate: expected an RFC 3339 timestamp")
            })?;
            if at <= now {
                return Err(ApiError::invalid(
                    "EMU-ExpirationPast",
                    "Expiration date must be in the future",
                ));
            }
            Ok(Some(at))
        }
    }
}

/// Issues a PAT for a machine user; returns (token id, token text).
pub fn issue_pat(tx: &mut Tx<'_>, user_id: &str, expires: Option<Timestamp>) -> (String, String) {
    let token_id = tx.new_id();
    let text = random_token(48);
    tx.touch();
    tx.data.tokens.insert(
        sha256_hex(&text),
        Token {
            id: token_id.clone(),
            kind: TokenKind::Pat,
            user_id: user_id.to_owned(),
            client_id: String::new(),
            scopes: vec![],
            audience: vec![],
            issued: tx.now,
            expires,
            session_id: None,
            auth_time: None,
            amr: vec![],
        },
    );
    (token_id, text)
}

pub async fn add_pat(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path(user_id): Path<String>,
    ZJson(req): ZJson<ExpiringReq>,
) -> ApiResult {
    let (token_id, token, seq, at, owner) = state
        .write(|tx| {
            let expires = parse_expiration(req.expiration_date.as_deref(), tx.now)?;
            let user = managed_user(tx.data, &caller, &org, &user_id)?;
            if !matches!(user.kind, UserKind::Machine(_)) {
                return Err(catalog::user_not_machine());
            }
            let owner = user.org_id.clone();
            let seq = tx.next_seq();
            let (token_id, token) = issue_pat(tx, &user_id, expires);
            Ok((token_id, token, seq, tx.now, owner))
        })
        .await?;
    ok(json!({
        "tokenId": token_id,
        "token": token,
        "details": created_details(seq, at, &owner),
    }))
}

/// A ZITADEL service-account key file.
pub fn key_file_json(
    key_id: &str,
    user_id: &str,
    private_pkcs1: &[u8],
    expiration: Option<Timestamp>,
) -> Value {
    let mut file = json!({
        "type": "serviceaccount",
        "keyId": key_id,
        "key": keys::pem("RSA PRIVATE KEY", private_pkcs1),
        "userId": user_id,
    });
    if let Some(at) = expiration {
        file["expirationDate"] = json!(at.to_string());
    }
    file
}

/// Adds a machine key; `public_der` is PKCS#1. Returns the key id.
pub fn add_key(
    tx: &mut Tx<'_>,
    user_id: &str,
    public_der: &[u8],
    expiration: Option<Timestamp>,
) -> Result<String, ApiError> {
    let key_id = tx.new_id();
    let now = tx.now;
    tx.touch();
    let user = tx
        .data
        .users
        .get_mut(user_id)
        .ok_or_else(catalog::user_not_found)?;
    let UserKind::Machine(machine) = &mut user.kind else {
        return Err(catalog::user_not_machine());
    };
    machine.keys.push(MachineKey {
        id: key_id.clone(),
        public_key_der: STANDARD.encode(public_der),
        expiration,
        created: now,
    });
    Ok(key_id)
}

pub async fn add_machine_key(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path(user_id): Path<String>,
    ZJson(req): ZJson<ExpiringReq>,
) -> ApiResult {
    match req.key_type.as_deref() {
        None | Some("KEY_TYPE_JSON") | Some("KEY_TYPE_UNSPECIFIED") => {}
        Some(other) => {
            return Err(ApiError::validation(format!(
                "invalid AddMachineKeyRequest.Type: unknown value `{other}`"
            )));
        }
    }
    // Either the caller uploads a public key, or the emulator generates the pair.
    let (public, private) = match req.public_key.as_deref().filter(|s| !s.is_empty()) {
        Some(b64) => {
            let pem = STANDARD
                .decode(b64)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| ApiError::validation("invalid publicKey: expected base64 PEM"))?;
            let der = keys::parse_rsa_public_pem(&pem).ok_or_else(|| {
                ApiError::invalid(
                    "EMU-MachineKeyInvalid",
                    "Public key is not a valid RSA public key in PKIX format with PEM encoding",
                )
            })?;
            (der, None)
        }
        None => {
            let (private, public) = tokio::task::spawn_blocking(keys::generate_machine_key)
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            (public, Some(private))
        }
    };
    let (key_id, expiration, seq, at, owner) = state
        .write(|tx| {
            let expires = parse_expiration(req.expiration_date.as_deref(), tx.now)?;
            let user = managed_user(tx.data, &caller, &org, &user_id)?;
            if !matches!(user.kind, UserKind::Machine(_)) {
                return Err(catalog::user_not_machine());
            }
            let owner = user.org_id.clone();
            let seq = tx.next_seq();
            let key_id = add_key(tx, &user_id, &public, expires)?;
            Ok((key_id, expires, seq, tx.now, owner))
        })
        .await?;
    let key_details = private
        .map(|p| {
            let file = key_file_json(&key_id, &user_id, &p, expiration);
            STANDARD.encode(serde_json::to_vec(&file).unwrap_or_default())
        })
        .unwrap_or_default();
    ok(json!({
        "keyId": key_id,
        "keyDetails": key_details,
        "details": created_details(seq, at, &owner),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserGrantReq {
    #[serde(default)]
    project_id: String,
    #[serde(default)]
    role_keys: Vec<String>,
}

pub async fn add_user_grant(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path(user_id): Path<String>,
    ZJson(req): ZJson<UserGrantReq>,
) -> ApiResult {
    let project_id = check_len("AddUserGrantRequest.ProjectId", &req.project_id, 1, 200)?;
    let (grant_id, seq, at, owner) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            if !tx.data.users.contains_key(&user_id) {
                return Err(catalog::user_not_found());
            }
            let project = tx
                .data
                .projects
                .get(&project_id)
                .filter(|p| p.org_id == org_id)
                .ok_or_else(catalog::project_not_found)?;
            if req.role_keys.iter().any(|k| !project.roles.contains_key(k)) {
                return Err(catalog::project_role_missing());
            }
            let exists = tx
                .data
                .users
                .get(&user_id)
                .is_some_and(|u| u.grants.contains_key(&project_id));
            if exists {
                return Err(ApiError::already_exists("User grant already exists"));
            }
            let grant_id = tx.new_id();
            let seq = tx.next_seq();
            let roles = req.role_keys.clone();
            if let Some(user) = tx.data.users.get_mut(&user_id) {
                user.grants.insert(
                    project_id.clone(),
                    UserGrant {
                        id: grant_id.clone(),
                        roles,
                    },
                );
            }
            Ok((grant_id, seq, tx.now, org_id))
        })
        .await?;
    ok(json!({
        "userGrantId": grant_id,
        "details": created_details(seq, at, &owner),
    }))
}

/// `user.removed` for a deleted user.
pub fn user_removed_event(user: &User, editor: &str, sequence: u64) -> PendingEvent {
    PendingEvent {
        event_type: "user.removed",
        aggregate_type: "user",
        aggregate_id: user.id.clone(),
        resource_owner: user.org_id.clone(),
        editor: editor.to_owned(),
        sequence,
        payload: json!({"userName": user.username}),
    }
}
