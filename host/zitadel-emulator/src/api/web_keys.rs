//! Web keys v2 (`/v2/web_keys`): create, activate and delete the token signing keys. The JWKS
//! publishes initial, active and inactive keys; an inactive key leaves it after the grace period.

use axum::extract::{Path, State};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use super::{ApiResult, ok};
use crate::{
    auth::{Caller, IAM_OWNER},
    error::{ApiError, catalog},
    keys::{self, KeyConfig},
    model::{WebKey, WebKeyState},
    protojson::{ZJson, ts},
    state::AppState,
};

fn state_name(state: WebKeyState) -> &'static str {
    match state {
        WebKeyState::Initial => "STATE_INITIAL",
        WebKeyState::Active => "STATE_ACTIVE",
        WebKeyState::Inactive => "STATE_INACTIVE",
    }
}

fn web_key_json(k: &WebKey) -> Value {
    let mut v = json!({
        "id": k.id,
        "creationDate": ts(k.created),
        "changeDate": ts(k.changed),
        "state": state_name(k.state),
    });
    if let (Some(obj), Value::Object(cfg)) = (v.as_object_mut(), k.config.to_wire()) {
        obj.extend(cfg);
    }
    v
}

pub async fn list_web_keys(State(state): State<AppState>, caller: Caller) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let keys: Vec<Value> =
        state.read(|inner| inner.data.web_keys.iter().map(web_key_json).collect());
    ok(json!({"webKeys": keys}))
}

/// Generates a key off the async threads.
pub async fn generate_key(config: KeyConfig) -> Result<Vec<u8>, ApiError> {
    tokio::task::spawn_blocking(move || keys::generate(config))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

pub async fn create_web_key(
    State(state): State<AppState>,
    caller: Caller,
    ZJson(body): ZJson<Value>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let config = KeyConfig::from_wire(&body)
        .map_err(|e| ApiError::validation(format!("invalid CreateWebKeyRequest: {e}")))?;
    let pkcs8 = generate_key(config).await?;
    let key = state
        .write(|tx| {
            tx.next_seq();
            let key = WebKey {
                id: tx.new_id(),
                state: WebKeyState::Initial,
                config,
                pkcs8: STANDARD.encode(&pkcs8),
                created: tx.now,
                changed: tx.now,
                deactivated: None,
                parsed: Default::default(),
            };
            tx.data.web_keys.push(key.clone());
            Ok(key)
        })
        .await?;
    ok(json!({"id": key.id, "creationDate": ts(key.created)}))
}

pub async fn activate_web_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let at = state
        .write(|tx| {
            if !tx.data.web_keys.iter().any(|k| k.id == id) {
                return Err(catalog::web_key_not_found());
            }
            tx.next_seq();
            let now = tx.now;
            for key in &mut tx.data.web_keys {
                if key.id == id {
                    if key.state != WebKeyState::Active {
                        key.state = WebKeyState::Active;
                        key.changed = now;
                        key.deactivated = None;
                    }
                } else if key.state == WebKeyState::Active {
                    key.state = WebKeyState::Inactive;
                    key.changed = now;
                    key.deactivated = Some(now);
                }
            }
            Ok(now)
        })
        .await?;
    ok(json!({"changeDate": ts(at)}))
}

pub async fn delete_web_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let deleted = state
        .write(|tx| {
            let Some(pos) = tx.data.web_keys.iter().position(|k| k.id == id) else {
                return Ok(None);
            };
            if tx.data.web_keys[pos].state == WebKeyState::Active {
                return Err(catalog::web_key_active());
            }
            tx.next_seq();
            tx.data.web_keys.remove(pos);
            Ok(Some(tx.now))
        })
        .await?;
    ok(json!({"deletionDate": deleted.map(ts)}))
}
