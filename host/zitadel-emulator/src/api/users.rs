//! User service v2: human users (create, read, list, delete, set password).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiResult, check_len, enum_field, login_names, ok, username_taken};
use crate::{
    actions::PendingEvent,
    auth::{Caller, IAM_OWNER},
    crypto::{hash_password_async, random_alnum, verify_password_async},
    error::{ApiError, catalog},
    model::{Data, Human, User, UserKind, UserState},
    protojson::{ListQuery, ZJson, change_details, details, list_details_v2, text_matches},
    state::{AppState, Tx},
};

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
pub struct HumanReq {
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub organization: Option<OrgRef>,
    pub profile: Option<ProfileReq>,
    pub email: Option<EmailReq>,
    pub phone: Option<PhoneReq>,
    pub metadata: Vec<MetadataReq>,
    pub password: Option<PasswordReq>,
    pub hashed_password: Option<HashedPasswordReq>,
    pub idp_links: Vec<Value>,
    pub totp_secret: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
pub struct OrgRef {
    pub org_id: Option<String>,
    pub org_domain: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
pub struct ProfileReq {
    pub given_name: String,
    pub family_name: String,
    pub nick_name: Option<String>,
    pub display_name: Option<String>,
    pub preferred_language: Option<String>,
    pub gender: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
pub struct EmailReq {
    pub email: String,
    pub is_verified: bool,
    pub send_code: Option<Value>,
    pub return_code: Option<Value>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
pub struct PhoneReq {
    pub phone: String,
    pub is_verified: bool,
    pub send_code: Option<Value>,
    pub return_code: Option<Value>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct MetadataReq {
    pub key: String,
    pub value: String,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
pub struct PasswordReq {
    pub password: String,
    pub change_required: bool,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
pub struct HashedPasswordReq {
    pub hash: String,
    pub change_required: bool,
}

/// ZITADEL's default password complexity policy: 8+ characters with upper and lower case, a
/// number and a symbol.
pub fn check_password_policy(password: &str) -> Result<(), ApiError> {
    let fail = |id: &'static str, msg: &'static str| Err(ApiError::invalid(id, msg));
    if password.chars().count() < 8 {
        return fail("EMU-PwMinLength", "Password is too short");
    }
    if !password.chars().any(char::is_lowercase) {
        return fail("EMU-PwHasLower", "Password must contain lower case");
    }
    if !password.chars().any(char::is_uppercase) {
        return fail("EMU-PwHasUpper", "Password must contain upper case");
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        return fail("EMU-PwHasNumber", "Password must contain number");
    }
    if password.chars().all(char::is_alphanumeric) {
        return fail("EMU-PwHasSymbol", "Password must contain symbol");
    }
    if password.len() > 72 * 4 {
        return Err(ApiError::validation("invalid password: too long"));
    }
    Ok(())
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
        && email.len() <= 200
}

const GENDERS: &[&str] = &[
    "GENDER_UNSPECIFIED",
    "GENDER_FEMALE",
    "GENDER_MALE",
    "GENDER_DIVERSE",
];

/// A validated `AddHumanUserRequest`, password already hashed.
#[derive(Clone, Debug)]
pub struct NewHuman {
    pub user_id: Option<String>,
    pub username: String,
    pub org: Option<(Option<String>, Option<String>)>,
    pub human: Human,
    pub return_email_code: bool,
    pub return_phone_code: bool,
}

/// Validates the request and hashes the password (off the async threads).
pub async fn prepare_human(req: HumanReq) -> Result<NewHuman, ApiError> {
    let profile = req.profile.ok_or_else(|| {
        ApiError::validation("invalid AddHumanUserRequest.Profile: value is required")
    })?;
    let email = req.email.ok_or_else(|| {
        ApiError::validation("invalid AddHumanUserRequest.Email: value is required")
    })?;
    let given = check_len("SetHumanProfile.GivenName", &profile.given_name, 1, 200)?;
    let family = check_len("SetHumanProfile.FamilyName", &profile.family_name, 1, 200)?;
    let address = check_len("SetHumanEmail.Email", &email.email, 1, 200)?;
    if !valid_email(&address) {
        return Err(ApiError::invalid("EMU-EmailInvalid", "Email is invalid"));
    }
    let gender = profile
        .gender
        .unwrap_or_else(|| "GENDER_UNSPECIFIED".to_owned());
    if !GENDERS.contains(&gender.as_str()) {
        return Err(ApiError::validation(format!(
            "invalid SetHumanProfile.Gender: unknown value `{gender}`"
        )));
    }
    let username = match req.username.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => check_len("AddHumanUserRequest.Username", u, 1, 200)?,
        _ => address.clone(),
    };
    let mut metadata = BTreeMap::new();
    for entry in &req.metadata {
        let key = check_len("SetMetadataEntry.Key", &entry.key, 1, 200)?;
        STANDARD
            .decode(&entry.value)
            .map_err(|_| ApiError::validation("invalid SetMetadataEntry.Value: expected base64"))?;
        metadata.insert(key, entry.value.clone());
    }
    let (password_hash, change_required) = match (&req.password, &req.hashed_password) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "invalid AddHumanUserRequest: only one of password and hashedPassword may be set",
            ));
        }
        (Some(p), None) => {
            check_password_policy(&p.password)?;
            let hash = hash_password_async(p.password.clone())
                .await
                .map_err(ApiError::internal)?;
            (Some(hash), p.change_required)
        }
        (None, Some(h)) => {
            if !h.hash.starts_with("$argon2") {
                return Err(ApiError::invalid(
                    "EMU-HashUnsupported",
                    "Password hash encoding not supported (the emulator accepts argon2 PHC strings)",
                ));
            }
            (Some(h.hash.clone()), h.change_required)
        }
        (None, None) => (None, false),
    };
    let phone = req.phone.clone().unwrap_or_default();
    let display = profile
        .display_name
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| format!("{given} {family}"));
    Ok(NewHuman {
        user_id: req.user_id.filter(|u| !u.trim().is_empty()),
        username,
        org: req.organization.map(|o| (o.org_id, o.org_domain)),
        human: Human {
            given_name: given,
            family_name: family,
            nick_name: profile.nick_name.unwrap_or_default(),
            display_name: display,
            preferred_language: profile
                .preferred_language
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| "und".to_owned()),
            gender,
            email: address,
            email_verified: email.is_verified,
            phone: phone.phone.trim().to_owned(),
            phone_verified: phone.is_verified,
            password_hash,
            password_change_required: change_required,
            password_changed: None,
            metadata,
        },
        return_email_code: email.return_code.is_some(),
        return_phone_code: phone.return_code.is_some(),
    })
}

fn gender_number(gender: &str) -> u8 {
    match gender {
        "GENDER_FEMALE" => 1,
        "GENDER_MALE" => 2,
        "GENDER_DIVERSE" => 3,
        _ => 0,
    }
}

/// Inserts a human user into `org_id` and raises `user.human.added`.
pub fn create_human(
    tx: &mut Tx<'_>,
    org_id: &str,
    new: NewHuman,
    editor: &str,
) -> Result<User, ApiError> {
    if username_taken(tx.data, &new.username) {
        return Err(catalog::user_exists());
    }
    let id = match new.user_id {
        Some(id) if tx.data.users.contains_key(&id) => return Err(catalog::user_exists()),
        Some(id) => id,
        None => tx.new_id(),
    };
    let meta = tx.meta(org_id);
    let mut human = new.human;
    if human.password_hash.is_some() {
        human.password_changed = Some(tx.now);
    }
    let payload = json!({
        "userName": new.username,
        "firstName": human.given_name,
        "lastName": human.family_name,
        "nickName": human.nick_name,
        "displayName": human.display_name,
        "preferredLanguage": human.preferred_language,
        "gender": gender_number(&human.gender),
        "email": human.email,
        "phone": human.phone,
        "changeRequired": human.password_change_required,
    });
    let user = User {
        id: id.clone(),
        org_id: org_id.to_owned(),
        username: new.username,
        state: UserState::Active,
        kind: UserKind::Human(human),
        grants: BTreeMap::new(),
        meta,
    };
    tx.data.users.insert(id.clone(), user.clone());
    tx.event(PendingEvent {
        event_type: "user.human.added",
        aggregate_type: "user",
        aggregate_id: id,
        resource_owner: org_id.to_owned(),
        editor: editor.to_owned(),
        sequence: user.meta.sequence,
        payload: crate::protojson::prune(payload),
    });
    Ok(user)
}

/// Resolves `organization: {orgId | orgDomain}` (default: the caller's org).
pub fn resolve_org(
    data: &Data,
    caller: &Caller,
    org: &Option<(Option<String>, Option<String>)>,
) -> Result<String, ApiError> {
    let org_id = match org {
        Some((Some(id), _)) if !id.is_empty() => id.clone(),
        Some((_, Some(domain))) if !domain.is_empty() => data
            .orgs
            .values()
            .find(|o| o.primary_domain.eq_ignore_ascii_case(domain))
            .map(|o| o.id.clone())
            .ok_or_else(catalog::org_not_found)?,
        _ => caller.org_id.clone(),
    };
    if !data.orgs.contains_key(&org_id) {
        return Err(if caller.has_instance_role(IAM_OWNER) {
            catalog::org_not_found()
        } else {
            ApiError::permission_denied()
        });
    }
    caller.require_org(data, &org_id)?;
    Ok(org_id)
}

pub async fn add_human_user(
    State(state): State<AppState>,
    caller: Caller,
    ZJson(req): ZJson<HumanReq>,
) -> ApiResult {
    let new = prepare_human(req).await?;
    let email_code = new
        .return_email_code
        .then(|| random_alnum(6).to_uppercase());
    let phone_code = new
        .return_phone_code
        .then(|| random_alnum(6).to_uppercase());
    let user = state
        .write(|tx| {
            let org_id = resolve_org(tx.data, &caller, &new.org)?;
            create_human(tx, &org_id, new.clone(), &caller.user_id)
        })
        .await?;
    ok(json!({
        "userId": user.id,
        "details": details(&user.meta),
        "emailCode": email_code,
        "phoneCode": phone_code,
    }))
}

fn state_name(state: UserState) -> &'static str {
    match state {
        UserState::Active => "USER_STATE_ACTIVE",
        UserState::Inactive => "USER_STATE_INACTIVE",
        UserState::Locked => "USER_STATE_LOCKED",
    }
}

pub fn user_v2(data: &Data, user: &User) -> Value {
    let names = login_names(data, user);
    let preferred = names.first().cloned().unwrap_or_default();
    let mut v = json!({
        "userId": user.id,
        "details": details(&user.meta),
        "state": state_name(user.state),
        "username": user.username,
        "loginNames": names,
        "preferredLoginName": preferred,
    });
    match &user.kind {
        UserKind::Human(h) => {
            v["human"] = json!({
                "profile": {
                    "givenName": h.given_name,
                    "familyName": h.family_name,
                    "nickName": h.nick_name,
                    "displayName": h.display_name,
                    "preferredLanguage": h.preferred_language,
                    "gender": enum_field(&h.gender),
                },
                "email": {"email": h.email, "isVerified": h.email_verified},
                "phone": {"phone": h.phone, "isVerified": h.phone_verified},
                "passwordChangeRequired": h.password_change_required,
                "passwordChanged": h.password_changed.map(|t| t.to_string()),
            });
        }
        UserKind::Machine(m) => {
            v["machine"] = json!({
                "name": m.name,
                "description": m.description,
                "accessTokenType": enum_field(&m.access_token_type),
            });
        }
    }
    v
}

/// The user if the caller may see it (another org's user looks missing).
fn visible_user<'a>(data: &'a Data, caller: &Caller, user_id: &str) -> Result<&'a User, ApiError> {
    data.users
        .get(user_id)
        .filter(|u| caller.can_manage_org(data, &u.org_id))
        .ok_or_else(catalog::user_not_found)
}

pub async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> ApiResult {
    let value = state.read(|inner| {
        let user = visible_user(&inner.data, &caller, &user_id)?;
        Ok::<_, ApiError>(json!({
            "details": details(&user.meta),
            "user": user_v2(&inner.data, user),
        }))
    })?;
    ok(value)
}

/// Deletes a user and what hangs off it; raises `user.removed`.
pub fn delete_user_in(
    tx: &mut Tx<'_>,
    user_id: &str,
    editor: &str,
) -> Result<(u64, String), ApiError> {
    let user = tx
        .data
        .users
        .remove(user_id)
        .ok_or_else(catalog::user_not_found)?;
    let seq = tx.next_seq();
    tx.data.instance_members.remove(user_id);
    for org in tx.data.orgs.values_mut() {
        org.members.remove(user_id);
    }
    tx.data.tokens.retain(|_, t| t.user_id != user_id);
    tx.eph
        .sessions
        .retain(|_, s| s.user_id.as_deref() != Some(user_id));
    tx.event(super::management::user_removed_event(&user, editor, seq));
    Ok((seq, user.org_id))
}

pub async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> ApiResult {
    let (seq, at, owner) = state
        .write(|tx| {
            visible_user(tx.data, &caller, &user_id)?;
            if tx.data.admin_user_id == user_id {
                return Err(ApiError::precondition(
                    "EMU-AdminNotDeletable",
                    "The instance admin of the emulator cannot be deleted",
                ));
            }
            let (seq, owner) = delete_user_in(tx, &user_id, &caller.user_id)?;
            Ok((seq, tx.now, owner))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &owner)}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SetPasswordReq {
    new_password: Option<PasswordReq>,
    current_password: Option<String>,
    verification_code: Option<String>,
}

pub async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
    ZJson(req): ZJson<SetPasswordReq>,
) -> ApiResult {
    let new = req.new_password.ok_or_else(|| {
        ApiError::validation("invalid SetPasswordRequest.NewPassword: value is required")
    })?;
    check_password_policy(&new.password)?;
    if req
        .verification_code
        .as_deref()
        .is_some_and(|c| !c.is_empty())
    {
        // The emulator never issues password-reset codes.
        return Err(ApiError::invalid("EMU-CodeInvalid", "Code is invalid"));
    }
    let current_hash = state.read(|inner| {
        let user = visible_user(&inner.data, &caller, &user_id)?;
        match &user.kind {
            UserKind::Human(h) => Ok(h.password_hash.clone()),
            UserKind::Machine(_) => Err(catalog::user_not_human()),
        }
    })?;
    if let Some(current) = req.current_password.as_deref().filter(|c| !c.is_empty()) {
        let ok = match current_hash.clone() {
            Some(hash) => verify_password_async(current.to_owned(), hash).await,
            None => false,
        };
        if !ok {
            return Err(ApiError::invalid(
                "EMU-PasswordInvalid",
                "Password is invalid",
            ));
        }
    }
    let hash = hash_password_async(new.password.clone())
        .await
        .map_err(ApiError::internal)?;
    let (seq, at, owner) = state
        .write(|tx| {
            visible_user(tx.data, &caller, &user_id)?;
            let seq = tx.next_seq();
            let now = tx.now;
            let user = tx
                .data
                .users
                .get_mut(&user_id)
                .ok_or_else(catalog::user_not_found)?;
            let UserKind::Human(h) = &mut user.kind else {
                return Err(catalog::user_not_human());
            };
            // Refuse if the password changed since it was verified above.
            if req.current_password.is_some() && h.password_hash != current_hash {
                return Err(ApiError::precondition(
                    "EMU-PasswordRace",
                    "Password changed concurrently",
                ));
            }
            h.password_hash = Some(hash.clone());
            h.password_change_required = new.change_required;
            h.password_changed = Some(now);
            user.meta.changed = now;
            user.meta.sequence = seq;
            let owner = user.org_id.clone();
            tx.event(PendingEvent {
                event_type: "user.human.password.changed",
                aggregate_type: "user",
                aggregate_id: user_id.clone(),
                resource_owner: owner.clone(),
                editor: caller.user_id.clone(),
                sequence: seq,
                payload: crate::protojson::prune(json!({"changeRequired": new.change_required})),
            });
            Ok((seq, now, owner))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &owner)}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ListUsersReq {
    query: ListQuery,
    sorting_column: Option<String>,
    queries: Vec<Value>,
}

fn text_query(q: &Value, field: &str, value: &str) -> Result<bool, ApiError> {
    let wanted = q.get(field).and_then(Value::as_str).unwrap_or_default();
    text_matches(q.get("method").and_then(Value::as_str), value, wanted)
}

/// Evaluates one `SearchQuery` (recursive for and/or/not).
fn user_matches(data: &Data, user: &User, query: &Value) -> Result<bool, ApiError> {
    let obj = query
        .as_object()
        .ok_or_else(|| ApiError::validation("invalid queries: each query must be an object"))?;
    let (kind, q) = match obj.iter().next() {
        Some((k, v)) if obj.len() == 1 => (k.as_str(), v),
        _ => {
            return Err(ApiError::validation(
                "invalid queries: each query must set exactly one query type",
            ));
        }
    };
    let human = match &user.kind {
        UserKind::Human(h) => Some(h),
        UserKind::Machine(_) => None,
    };
    let h = |f: fn(&Human) -> &str| human.map(f).unwrap_or_default().to_owned();
    Ok(match kind {
        "userNameQuery" => text_query(q, "userName", &user.username)?,
        "firstNameQuery" => text_query(q, "firstName", &h(|h| &h.given_name))?,
        "lastNameQuery" => text_query(q, "lastName", &h(|h| &h.family_name))?,
        "nickNameQuery" => text_query(q, "nickName", &h(|h| &h.nick_name))?,
        "displayNameQuery" => text_query(q, "displayName", &h(|h| &h.display_name))?,
        "emailQuery" => text_query(q, "emailAddress", &h(|h| &h.email))?,
        "phoneQuery" => text_query(q, "number", &h(|h| &h.phone))?,
        "loginNameQuery" => {
            let mut any = false;
            for name in login_names(data, user) {
                any |= text_query(q, "loginName", &name)?;
            }
            any
        }
        "inUserIdsQuery" => q
            .get("userIds")
            .and_then(Value::as_array)
            .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(&user.id))),
        "inUserEmailsQuery" => {
            let email = h(|h| &h.email);
            q.get("userEmails")
                .and_then(Value::as_array)
                .is_some_and(|e| {
                    e.iter().any(|i| {
                        i.as_str()
                            .is_some_and(|s| s.eq_ignore_ascii_case(&email) && !email.is_empty())
                    })
                })
        }
        "organizationIdQuery" => {
            q.get("organizationId").and_then(Value::as_str) == Some(&user.org_id)
        }
        "stateQuery" => q.get("state").and_then(Value::as_str) == Some(state_name(user.state)),
        "typeQuery" => {
            let t = if human.is_some() {
                "TYPE_HUMAN"
            } else {
                "TYPE_MACHINE"
            };
            q.get("type").and_then(Value::as_str) == Some(t)
        }
        "andQuery" | "orQuery" => {
            let subs = q
                .get("queries")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut results = Vec::with_capacity(subs.len());
            for sub in &subs {
                results.push(user_matches(data, user, sub)?);
            }
            if kind == "andQuery" {
                results.iter().all(|r| *r)
            } else {
                results.iter().any(|r| *r)
            }
        }
        "notQuery" => {
            let sub = q
                .get("query")
                .ok_or_else(|| ApiError::validation("invalid notQuery: query is required"))?;
            !user_matches(data, user, sub)?
        }
        other => {
            return Err(ApiError::validation(format!(
                "invalid queries: unsupported query `{other}`"
            )));
        }
    })
}

pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    ZJson(req): ZJson<ListUsersReq>,
) -> ApiResult {
    let now = gatehouse_core::Timestamp::now();
    let sorting = req
        .sorting_column
        .clone()
        .unwrap_or_else(|| "USER_FIELD_NAME_UNSPECIFIED".to_owned());
    let value = state.read(|inner| {
        let data = &inner.data;
        let mut found = Vec::new();
        for user in data
            .users
            .values()
            .filter(|u| caller.can_manage_org(data, &u.org_id))
        {
            let mut keep = true;
            for q in &req.queries {
                keep &= user_matches(data, user, q)?;
            }
            if keep {
                found.push(user);
            }
        }
        match sorting.as_str() {
            "USER_FIELD_NAME_USER_NAME" => found.sort_by(|a, b| a.username.cmp(&b.username)),
            "USER_FIELD_NAME_CREATION_DATE" | "USER_FIELD_NAME_UNSPECIFIED" => {
                found.sort_by_key(|u| (u.meta.created, u.meta.sequence))
            }
            _ => found.sort_by(|a, b| a.id.cmp(&b.id)),
        }
        if !req.query.asc && sorting != "USER_FIELD_NAME_UNSPECIFIED" {
            found.reverse();
        }
        let total = found.len();
        let page: Vec<Value> = req
            .query
            .page(found)?
            .into_iter()
            .map(|u| user_v2(data, u))
            .collect();
        Ok::<_, ApiError>(json!({
            "details": list_details_v2(total, data.sequence, now),
            "sortingColumn": enum_field(&sorting),
            "result": page,
        }))
    })?;
    ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy() {
        assert!(check_password_policy("Passw0rd!").is_ok());
        for bad in ["Pw0!", "passw0rd!", "PASSW0RD!", "Password!", "Passw0rdX"] {
            assert!(check_password_policy(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(valid_email("a@b.example"));
        for bad in ["a", "@b.c", "a@b", "a b@c.d", "a@.b"] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
