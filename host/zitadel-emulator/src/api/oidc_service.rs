//! OIDC service v2: a custom login UI reads the auth request and finalizes it with a session.
//! The caller must hold IAM_LOGIN_CLIENT; IAM_OWNER alone is refused, as in ZITADEL.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::json;

use super::{ApiResult, ok};
use crate::{
    auth::{Caller, IAM_LOGIN_CLIENT},
    crypto::{ct_eq, sha256_hex},
    error::{ApiError, catalog},
    flows,
    protojson::{ZJson, change_details, format_duration},
    state::AppState,
};

pub const V2_PREFIX: &str = "V2_";

pub async fn get_auth_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require_instance(IAM_LOGIN_CLIENT)?;
    let value = state.read(|inner| {
        let req = inner
            .eph
            .auth_requests
            .get(&id)
            .filter(|r| r.id.starts_with(V2_PREFIX))
            .ok_or_else(catalog::auth_request_not_found)?;
        let prompt: Vec<String> = req
            .prompt
            .iter()
            .map(|p| format!("PROMPT_{}", p.to_uppercase()))
            .collect();
        Ok::<_, ApiError>(json!({"authRequest": {
            "id": req.id,
            "creationDate": req.created.to_string(),
            "clientId": req.client_id,
            "scope": req.scopes,
            "redirectUri": req.redirect_uri,
            "prompt": prompt,
            "uiLocales": req.ui_locales,
            "loginHint": req.login_hint,
            "maxAge": req.max_age.map(|s| format_duration(s as f64)),
        }}))
    })?;
    ok(value)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct CallbackReq {
    session: Option<SessionRef>,
    error: Option<ErrorReq>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionRef {
    session_id: String,
    session_token: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorReq {
    error: Option<String>,
    error_description: Option<String>,
    error_uri: Option<String>,
}

fn oauth_error(reason: Option<&str>) -> Result<&'static str, ApiError> {
    Ok(match reason.unwrap_or("ERROR_REASON_UNSPECIFIED") {
        "ERROR_REASON_UNSPECIFIED" | "ERROR_REASON_SERVER_ERROR" => "server_error",
        "ERROR_REASON_INVALID_REQUEST" => "invalid_request",
        "ERROR_REASON_UNAUTHORIZED_CLIENT" => "unauthorized_client",
        "ERROR_REASON_ACCESS_DENIED" => "access_denied",
        "ERROR_REASON_UNSUPPORTED_RESPONSE_TYPE" => "unsupported_response_type",
        "ERROR_REASON_INVALID_SCOPE" => "invalid_scope",
        "ERROR_REASON_TEMPORARY_UNAVAILABLE" => "temporarily_unavailable",
        "ERROR_REASON_INTERACTION_REQUIRED" => "interaction_required",
        "ERROR_REASON_LOGIN_REQUIRED" => "login_required",
        "ERROR_REASON_ACCOUNT_SELECTION_REQUIRED" => "account_selection_required",
        "ERROR_REASON_CONSENT_REQUIRED" => "consent_required",
        "ERROR_REASON_INVALID_REQUEST_URI" => "invalid_request_uri",
        "ERROR_REASON_INVALID_REQUEST_OBJECT" => "invalid_request_object",
        "ERROR_REASON_REQUEST_NOT_SUPPORTED" => "request_not_supported",
        "ERROR_REASON_REQUEST_URI_NOT_SUPPORTED" => "request_uri_not_supported",
        "ERROR_REASON_REGISTRATION_NOT_SUPPORTED" => "registration_not_supported",
        other => {
            return Err(ApiError::validation(format!(
                "invalid error.error: unknown value `{other}`"
            )));
        }
    })
}

pub async fn create_callback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ZJson(req): ZJson<CallbackReq>,
) -> ApiResult {
    caller.require_instance(IAM_LOGIN_CLIENT)?;
    if !id.starts_with(V2_PREFIX) {
        return Err(catalog::auth_request_not_found());
    }
    let (url, seq, at, instance) = match (req.session, req.error) {
        (Some(session), None) => {
            state
                .write(|tx| {
                    let s = tx
                        .eph
                        .sessions
                        .get(&session.session_id)
                        .cloned()
                        .ok_or_else(catalog::session_not_found)?;
                    if !ct_eq(&sha256_hex(&session.session_token), &s.token_hash) {
                        return Err(catalog::session_token_invalid());
                    }
                    if s.expires.is_some_and(|e| e <= tx.now) {
                        return Err(ApiError::precondition(
                            "EMU-SessionExpired",
                            "Session expired",
                        ));
                    }
                    let (Some(user_id), Some(checked)) = (s.user_id.clone(), s.password_checked)
                    else {
                        return Err(ApiError::precondition(
                            "EMU-SessionNotAuthenticated",
                            "The session has no verified authentication factor",
                        ));
                    };
                    let url = flows::complete(tx, &id, &user_id, &s.id, checked)?;
                    let seq = tx.ephemeral_seq();
                    Ok((url, seq, tx.now, tx.data.instance_id.clone()))
                })
                .await?
        }
        (None, Some(error)) => {
            let code = oauth_error(error.error.as_deref())?;
            state
                .write(|tx| {
                    let url = flows::fail(
                        tx,
                        &id,
                        code,
                        error.error_description.as_deref(),
                        error.error_uri.as_deref(),
                    )?;
                    let seq = tx.ephemeral_seq();
                    Ok((url, seq, tx.now, tx.data.instance_id.clone()))
                })
                .await?
        }
        _ => {
            return Err(ApiError::validation(
                "invalid CreateCallbackRequest: set exactly one of session and error",
            ));
        }
    };
    ok(json!({
        "details": change_details(seq, at, &instance),
        "callbackUrl": url,
    }))
}
