//! Steps shared by the hosted login page and the custom-login-UI protocol: checking a password
//! (with ZITADEL's events) and answering an auth request with a code or an error.

use gatehouse_core::Timestamp;
use serde_json::json;
use url::Url;

use crate::{
    actions::PendingEvent,
    crypto::{random_token, sha256_hex, verify_password_async},
    error::{ApiError, Code},
    model::{AuthRequest, CodeGrant, UserKind, UserState},
    state::{AppState, Tx},
};

/// Why a password check failed, in ZITADEL's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordFailure {
    UserNotFound,
    UserNotActive,
    NotSet,
    Wrong,
}

impl PasswordFailure {
    pub fn to_api(&self) -> ApiError {
        match self {
            Self::UserNotFound => ApiError::new(
                Code::FailedPrecondition,
                "COMMAND-Df4b3",
                "User could not be found",
            ),
            Self::UserNotActive => ApiError::new(
                Code::FailedPrecondition,
                "EMU-UserNotActive",
                "User is locked",
            ),
            Self::NotSet => ApiError::new(
                Code::FailedPrecondition,
                "COMMAND-WEf3t",
                "User has not set a password",
            ),
            Self::Wrong => ApiError::new(
                Code::InvalidArgument,
                "EMU-PasswordInvalid",
                "Password is invalid",
            ),
        }
    }
}

fn check_event(user_id: &str, org_id: &str, editor: &str, ok: bool, seq: u64) -> PendingEvent {
    PendingEvent {
        event_type: if ok {
            "user.human.password.check.succeeded"
        } else {
            "user.human.password.check.failed"
        },
        aggregate_type: "user",
        aggregate_id: user_id.to_owned(),
        resource_owner: org_id.to_owned(),
        editor: editor.to_owned(),
        sequence: seq,
        payload: json!({}),
    }
}

/// Verifies `password` for `user_id`. Raises `user.human.password.check.succeeded|failed`;
/// a failure is committed as an event even though the caller's request then fails.
pub async fn check_password(
    state: &AppState,
    user_id: &str,
    password: &str,
    editor: &str,
) -> Result<(), PasswordFailure> {
    let (hash, org_id) = state.read(|inner| {
        let user = inner
            .data
            .users
            .get(user_id)
            .ok_or(PasswordFailure::UserNotFound)?;
        if user.state != UserState::Active {
            return Err(PasswordFailure::UserNotActive);
        }
        match &user.kind {
            UserKind::Human(h) => h
                .password_hash
                .clone()
                .map(|hash| (hash, user.org_id.clone()))
                .ok_or(PasswordFailure::NotSet),
            UserKind::Machine(_) => Err(PasswordFailure::NotSet),
        }
    })?;
    let ok = verify_password_async(password.to_owned(), hash).await;
    let recorded = state
        .write(|tx| {
            let seq = tx.ephemeral_seq();
            tx.event(check_event(user_id, &org_id, editor, ok, seq));
            Ok(())
        })
        .await;
    if recorded.is_err() {
        return Err(PasswordFailure::UserNotFound);
    }
    if ok {
        Ok(())
    } else {
        Err(PasswordFailure::Wrong)
    }
}

/// Where the browser goes with `params`: query for `code`, fragment for `response_mode=fragment`.
pub fn callback_url(req: &AuthRequest, params: &[(&str, &str)]) -> String {
    let Ok(mut url) = Url::parse(&req.redirect_uri) else {
        return req.redirect_uri.clone();
    };
    let mut all: Vec<(&str, &str)> = params.to_vec();
    if let Some(state) = req.state.as_deref() {
        all.push(("state", state));
    }
    if req.response_mode_fragment {
        let encoded: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(all)
            .finish();
        url.set_fragment(Some(&encoded));
    } else {
        url.query_pairs_mut().extend_pairs(all);
    }
    url.to_string()
}

/// Issues an authorization code for a finished login and returns the callback URL.
pub fn complete(
    tx: &mut Tx<'_>,
    auth_request_id: &str,
    user_id: &str,
    session_id: &str,
    auth_time: Timestamp,
) -> Result<String, ApiError> {
    let req = tx
        .eph
        .auth_requests
        .get(auth_request_id)
        .filter(|r| !r.done)
        .cloned()
        .ok_or_else(crate::error::catalog::auth_request_not_found)?;
    let user = tx
        .data
        .users
        .get(user_id)
        .filter(|u| u.state == UserState::Active)
        .ok_or_else(|| PasswordFailure::UserNotFound.to_api())?;
    if let Some(org) = req.org_id.as_deref()
        && user.org_id != org
    {
        return Err(ApiError::new(
            Code::FailedPrecondition,
            "EMU-NotAllowedOrg",
            "User is no member of the required organization",
        ));
    }
    // projectRoleCheck: the user needs a grant on the app's project.
    if let Some(app) = tx.data.apps.get(&req.app_id)
        && let Some(project) = tx.data.projects.get(&app.project_id)
        && project.role_check
        && !user.grants.contains_key(&project.id)
    {
        return Err(ApiError::new(
            Code::FailedPrecondition,
            "EMU-GrantRequired",
            "The user has no grant on the project",
        ));
    }
    let code = random_token(32);
    let expires = tx.now.plus(tx.settings.code_lifetime);
    tx.eph.codes.insert(
        sha256_hex(&code),
        CodeGrant {
            auth_request: req.clone(),
            user_id: user_id.to_owned(),
            session_id: session_id.to_owned(),
            auth_time,
            amr: vec!["password".into(), "pwd".into()],
            expires,
        },
    );
    if let Some(r) = tx.eph.auth_requests.get_mut(auth_request_id) {
        r.done = true;
    }
    Ok(callback_url(&req, &[("code", &code)]))
}

/// Answers an auth request with an OAuth error and returns the callback URL.
pub fn fail(
    tx: &mut Tx<'_>,
    auth_request_id: &str,
    error: &str,
    description: Option<&str>,
    uri: Option<&str>,
) -> Result<String, ApiError> {
    let req = tx
        .eph
        .auth_requests
        .get_mut(auth_request_id)
        .filter(|r| !r.done)
        .ok_or_else(crate::error::catalog::auth_request_not_found)?;
    req.done = true;
    let req = req.clone();
    let mut params = vec![("error", error)];
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        params.push(("error_description", d));
    }
    if let Some(u) = uri.filter(|u| !u.is_empty()) {
        params.push(("error_uri", u));
    }
    Ok(callback_url(&req, &params))
}
