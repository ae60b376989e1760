//! Session service v2: the custom login UI creates a session with user and password checks and
//! later hands it to `CreateCallback`. Sessions are ephemeral (lost on restart).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ApiResult, find_by_login_name, login_names, ok};
use crate::{
    actions::PendingEvent,
    auth::{Caller, IAM_LOGIN_CLIENT, IAM_OWNER},
    crypto::{ct_eq, random_token, sha256_hex},
    error::{ApiError, Code, catalog},
    flows::{PasswordFailure, check_password},
    model::{Session, UserKind},
    protojson::{ListQuery, ZJson, change_details, list_details_v2, parse_duration, u64s},
    state::AppState,
};

fn require_session_rights(caller: &Caller) -> Result<(), ApiError> {
    if caller.has_instance_role(IAM_OWNER) || caller.has_instance_role(IAM_LOGIN_CLIENT) {
        Ok(())
    } else {
        Err(ApiError::permission_denied())
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Checks {
    user: Option<UserCheck>,
    password: Option<PasswordCheck>,
    web_auth_n: Option<Value>,
    idp_intent: Option<Value>,
    totp: Option<Value>,
    otp_sms: Option<Value>,
    otp_email: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UserCheck {
    user_id: Option<String>,
    login_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordCheck {
    password: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionReq {
    session_token: Option<String>,
    checks: Option<Checks>,
    metadata: BTreeMap<String, String>,
    challenges: Option<Value>,
    user_agent: Option<Value>,
    lifetime: Option<String>,
}

fn unsupported(what: &str) -> ApiError {
    ApiError::new(
        Code::Unimplemented,
        "EMU-Unsupported",
        format!("{what} is not supported by the ZITADEL emulator"),
    )
}

/// Validates the parts of a create/set request that need no state.
fn validate(req: &SessionReq) -> Result<Option<f64>, ApiError> {
    if let Some(checks) = &req.checks {
        for (set, name) in [
            (checks.web_auth_n.is_some(), "checks.webAuthN"),
            (checks.idp_intent.is_some(), "checks.idpIntent"),
            (checks.totp.is_some(), "checks.totp"),
            (checks.otp_sms.is_some(), "checks.otpSms"),
            (checks.otp_email.is_some(), "checks.otpEmail"),
        ] {
            if set {
                return Err(unsupported(name));
            }
        }
    }
    if req.challenges.is_some() {
        return Err(unsupported("challenges"));
    }
    for (key, value) in &req.metadata {
        if key.is_empty() || key.len() > 200 {
            return Err(ApiError::validation(
                "invalid metadata: keys must be 1..200 characters",
            ));
        }
        STANDARD
            .decode(value)
            .map_err(|_| ApiError::validation("invalid metadata: values must be base64"))?;
    }
    match req.lifetime.as_deref() {
        None | Some("") => Ok(None),
        Some(text) => {
            let secs = parse_duration(text).filter(|s| *s > 0.0).ok_or_else(|| {
                ApiError::validation(format!(
                    "invalid lifetime: `{text}` is not a positive duration"
                ))
            })?;
            Ok(Some(secs))
        }
    }
}

/// Resolves `checks.user` to a user id.
fn resolve_user(state: &AppState, check: &UserCheck) -> Result<String, ApiError> {
    state.read(|inner| {
        let user = match (check.user_id.as_deref(), check.login_name.as_deref()) {
            (Some(id), None) if !id.is_empty() => inner.data.users.get(id),
            (None, Some(name)) if !name.is_empty() => find_by_login_name(&inner.data, name, None),
            _ => {
                return Err(ApiError::validation(
                    "invalid checks.user: set exactly one of userId and loginName",
                ));
            }
        };
        user.map(|u| u.id.clone())
            .ok_or_else(|| PasswordFailure::UserNotFound.to_api())
    })
}

fn session_v2(state: &AppState, s: &Session) -> Value {
    state.read(|inner| {
        let mut factors = Map::new();
        if let (Some(user_id), Some(at)) = (&s.user_id, s.user_checked)
            && let Some(user) = inner.data.users.get(user_id)
        {
            let display = match &user.kind {
                UserKind::Human(h) => h.display_name.clone(),
                UserKind::Machine(m) => m.name.clone(),
            };
            factors.insert(
                "user".into(),
                json!({
                    "verifiedAt": at.to_string(),
                    "id": user.id,
                    "loginName": login_names(&inner.data, user).first().cloned().unwrap_or_default(),
                    "displayName": display,
                    "organizationId": user.org_id,
                }),
            );
        }
        if let Some(at) = s.password_checked {
            factors.insert("password".into(), json!({"verifiedAt": at.to_string()}));
        }
        json!({
            "id": s.id,
            "creationDate": s.created.to_string(),
            "changeDate": s.changed.to_string(),
            "sequence": u64s(s.sequence),
            "factors": factors,
            "metadata": s.metadata,
            "userAgent": s.user_agent,
            "expirationDate": s.expires.map(|e| e.to_string()),
        })
    })
}

/// Runs the checks of a create/set request: returns (user id, password verified).
async fn run_checks(
    state: &AppState,
    req: &SessionReq,
    existing_user: Option<String>,
    editor: &str,
) -> Result<(Option<String>, bool), ApiError> {
    let Some(checks) = &req.checks else {
        return Ok((existing_user, false));
    };
    let mut user_id = existing_user;
    if let Some(check) = &checks.user {
        let id = resolve_user(state, check)?;
        if user_id.as_ref().is_some_and(|u| *u != id) {
            return Err(ApiError::precondition(
                "EMU-SessionUserChanged",
                "The user of a session cannot be changed",
            ));
        }
        user_id = Some(id);
    }
    let mut password_ok = false;
    if let Some(password) = &checks.password {
        let Some(id) = user_id.as_deref() else {
            return Err(ApiError::precondition("COMMAND-Sfw3f", "User ID missing"));
        };
        check_password(state, id, &password.password, editor)
            .await
            .map_err(|f| f.to_api())?;
        password_ok = true;
    }
    Ok((user_id, password_ok))
}

pub async fn create_session(
    State(state): State<AppState>,
    caller: Caller,
    ZJson(req): ZJson<SessionReq>,
) -> ApiResult {
    require_session_rights(&caller)?;
    let lifetime = validate(&req)?;
    let (user_id, password_ok) = run_checks(&state, &req, None, &caller.user_id).await?;
    let token = random_token(32);
    let (session, instance) = state
        .write(|tx| {
            if let Some(id) = &user_id
                && !tx.data.users.contains_key(id)
            {
                return Err(PasswordFailure::UserNotFound.to_api());
            }
            let seq = tx.ephemeral_seq();
            let now = tx.now;
            let id = tx.new_id();
            let session = Session {
                id: id.clone(),
                token_hash: sha256_hex(&token),
                user_id: user_id.clone(),
                user_checked: user_id.as_ref().map(|_| now),
                password_checked: password_ok.then_some(now),
                metadata: req.metadata.clone(),
                user_agent: req.user_agent.clone(),
                created: now,
                changed: now,
                sequence: seq,
                expires: lifetime.map(|s| now.plus(std::time::Duration::from_secs_f64(s))),
                creator: caller.user_id.clone(),
            };
            tx.eph.sessions.insert(id.clone(), session.clone());
            let instance = tx.data.instance_id.clone();
            let event = |event_type: &'static str, payload: Value| PendingEvent {
                event_type,
                aggregate_type: "session",
                aggregate_id: id.clone(),
                resource_owner: instance.clone(),
                editor: caller.user_id.clone(),
                sequence: seq,
                payload,
            };
            let mut events = vec![event(
                "session.added",
                crate::protojson::prune(json!({"userAgent": req.user_agent})),
            )];
            if let Some(user) = &user_id {
                events.push(event(
                    "session.user.checked",
                    json!({"userID": user, "checkedAt": now.to_string()}),
                ));
            }
            if password_ok {
                events.push(event(
                    "session.password.checked",
                    json!({"checkedAt": now.to_string()}),
                ));
            }
            for e in events {
                tx.event(e);
            }
            Ok((session, instance))
        })
        .await?;
    ok(json!({
        "details": change_details(session.sequence, session.created, &instance),
        "sessionId": session.id,
        "sessionToken": token,
    }))
}

pub async fn set_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
    ZJson(req): ZJson<SessionReq>,
) -> ApiResult {
    require_session_rights(&caller)?;
    let lifetime = validate(&req)?;
    let existing = state.read(|inner| {
        let s = inner
            .eph
            .sessions
            .get(&session_id)
            .ok_or_else(catalog::session_not_found)?;
        if let Some(token) = req.session_token.as_deref().filter(|t| !t.is_empty())
            && !ct_eq(&sha256_hex(token), &s.token_hash)
        {
            return Err(catalog::session_token_invalid());
        }
        Ok(s.user_id.clone())
    })?;
    let (user_id, password_ok) = run_checks(&state, &req, existing, &caller.user_id).await?;
    let token = random_token(32);
    let (seq, at, instance) = state
        .write(|tx| {
            let seq = tx.ephemeral_seq();
            let now = tx.now;
            let instance = tx.data.instance_id.clone();
            let s = tx
                .eph
                .sessions
                .get_mut(&session_id)
                .ok_or_else(catalog::session_not_found)?;
            if s.user_id.is_none() && user_id.is_some() {
                s.user_checked = Some(now);
            }
            s.user_id = user_id.clone();
            if password_ok {
                s.password_checked = Some(now);
            }
            s.metadata.extend(req.metadata.clone());
            if let Some(secs) = lifetime {
                s.expires = Some(now.plus(std::time::Duration::from_secs_f64(secs)));
            }
            s.token_hash = sha256_hex(&token);
            s.changed = now;
            s.sequence = seq;
            Ok((seq, now, instance))
        })
        .await?;
    ok(json!({
        "details": change_details(seq, at, &instance),
        "sessionToken": token,
    }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenQuery {
    session_token: Option<String>,
}

pub async fn get_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> ApiResult {
    let session = state.read(|inner| {
        inner
            .eph
            .sessions
            .get(&session_id)
            .cloned()
            .ok_or_else(catalog::session_not_found)
    })?;
    let token_ok = q
        .session_token
        .as_deref()
        .is_some_and(|t| ct_eq(&sha256_hex(t), &session.token_hash));
    if !token_ok {
        require_session_rights(&caller)?;
    }
    ok(json!({"session": session_v2(&state, &session)}))
}

pub async fn delete_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
    ZJson(req): ZJson<TokenQuery>,
) -> ApiResult {
    let token_ok = state.read(|inner| {
        inner.eph.sessions.get(&session_id).is_some_and(|s| {
            req.session_token
                .as_deref()
                .is_some_and(|t| ct_eq(&sha256_hex(t), &s.token_hash))
        })
    });
    if !token_ok {
        require_session_rights(&caller)?;
    }
    let (seq, at, instance) = state
        .write(|tx| {
            let seq = tx.ephemeral_seq();
            // Idempotent: deleting a missing session succeeds.
            tx.eph.sessions.remove(&session_id);
            // Tokens issued from the session end with it.
            tx.data
                .tokens
                .retain(|_, t| t.session_id.as_deref() != Some(session_id.as_str()));
            tx.touch();
            Ok((seq, tx.now, tx.data.instance_id.clone()))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &instance)}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ListReq {
    query: ListQuery,
    queries: Vec<Value>,
}

pub async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    ZJson(req): ZJson<ListReq>,
) -> ApiResult {
    require_session_rights(&caller)?;
    let now = gatehouse_core::Timestamp::now();
    let (mut sessions, seq) = state.read(|inner| {
        (
            inner.eph.sessions.values().cloned().collect::<Vec<_>>(),
            inner.data.sequence,
        )
    });
    let mut kept = Vec::new();
    for s in sessions.drain(..) {
        let mut keep = true;
        for q in &req.queries {
            let obj = q.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
                ApiError::validation("invalid queries: each query must set exactly one query type")
            })?;
            let Some((kind, v)) = obj.iter().next() else {
                continue;
            };
            keep &= match kind.as_str() {
                "idsQuery" => v
                    .get("ids")
                    .and_then(Value::as_array)
                    .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(&s.id))),
                "userIdQuery" => v.get("id").and_then(Value::as_str) == s.user_id.as_deref(),
                "creatorQuery" => v.get("id").and_then(Value::as_str) == Some(&s.creator),
                other => {
                    return Err(ApiError::validation(format!(
                        "invalid queries: unsupported query `{other}`"
                    )));
                }
            };
        }
        if keep {
            kept.push(s);
        }
    }
    kept.sort_by_key(|s| s.created);
    if !req.query.asc {
        kept.reverse();
    }
    let total = kept.len();
    let page: Vec<Value> = req
        .query
        .page(kept)?
        .iter()
        .map(|s| session_v2(&state, s))
        .collect();
    ok(json!({
        "details": list_details_v2(total, seq, now),
        "sessions": page,
    }))
}
