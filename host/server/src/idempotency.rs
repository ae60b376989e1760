//! `Idempotency-Key` on POST requests: the same key with the same request replays the first
//! response (marked `Idempotent-Replayed: true`); the same key with a different request, or
//! while the first is still running, is a 409. Keys are scoped to the caller's credential and
//! remembered for 24 hours. Requests that did not run — refused input (400, 413, 415, 422),
//! refused credentials (401, 403) — and server errors (5xx) release the key, so the client can
//! fix the request and retry with the same key (Stripe's rule).
//!
//! Stored responses are sealed with the keyring: a replayed create may carry a one-time secret
//! (a client secret, an API token), which must not sit in clear in the database for a day.

use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use gatehouse_core::idempotency::{Claim, StoredResponse};
use sha2::{Digest, Sha256};

use crate::{error::ApiError, state::AppState};

pub const HEADER: &str = "idempotency-key";
const REPLAYED: &str = "idempotent-replayed";
/// Responses larger than this are not stored (the key is released instead).
const MAX_STORED_RESPONSE: usize = 1024 * 1024;

pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 && k.chars().all(|c| c.is_ascii_graphic()) => {
            k.to_owned()
        }
        _ => {
            return ApiError::invalid(
                HEADER,
                "Idempotency-Key must be 1-255 printable ASCII characters",
            )
            .into_response();
        }
    };
    // Scope: the credential presented (its hash), so two callers never share keys. A portal
    // session cookie is a credential too: without it in the scope, an anonymous request with
    // the same key would be served the session's stored response.
    let scope = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| hex::encode(Sha256::digest(v.as_bytes())))
        .or_else(|| {
            crate::admin_session::session_cookie_value(request.headers())
                .map(|v| format!("session:{}", hex::encode(Sha256::digest(v.as_bytes()))))
        })
        .unwrap_or_else(|| "anonymous".into());

    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, state.settings.max_body_bytes).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        )
        .into_response();
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or_default(),
    );
    hasher.update([0]);
    hasher.update(&bytes);
    let fingerprint = hex::encode(hasher.finalize());

    let store = state.store.clone();
    match store
        .claim_idempotency_key(&scope, &key, &fingerprint, state.clock.now())
        .await
    {
        Err(err) => return ApiError::from(err).into_response(),
        Ok(Claim::Mismatch) => {
            return ApiError::conflict(
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different request",
            )
            .into_response();
        }
        Ok(Claim::InFlight) => {
            return ApiError::conflict(
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is still running; retry later",
            )
            .into_response();
        }
        Ok(Claim::Replay(stored)) => {
            return match unseal(&state, &scope, &key, stored) {
                Ok(stored) => replay(stored),
                Err(err) => ApiError::internal(err).into_response(),
            };
        }
        Ok(Claim::Fresh) => {}
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    let keep =
        !(status.is_server_error() || matches!(status.as_u16(), 400 | 401 | 403 | 413 | 415 | 422));
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, MAX_STORED_RESPONSE).await {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::warn!(%err, "response too large to store for idempotency");
            let _ = store.release_idempotency_key(&scope, &key).await;
            return ApiError::internal("idempotent response too large to store").into_response();
        }
    };
    let outcome = if keep {
        let stored = StoredResponse {
            status: status.as_u16(),
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: state
                .keyring
                .seal(&bytes, &aad(&scope, &key))
                .as_str()
                .as_bytes()
                .to_vec(),
        };
        store.complete_idempotency_key(&scope, &key, &stored).await
    } else {
        store.release_idempotency_key(&scope, &key).await
    };
    if let Err(err) = outcome {
        tracing::warn!(%err, "could not record idempotency key outcome");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn aad(scope: &str, key: &str) -> String {
    format!("idempotency:{scope}:{key}")
}

fn unseal(
    state: &AppState,
    scope: &str,
    key: &str,
    mut stored: StoredResponse,
) -> Result<StoredResponse, String> {
    let sealed = String::from_utf8(std::mem::take(&mut stored.body))
        .map_err(|_| "stored idempotent response is not a sealed value".to_owned())?;
    stored.body = state
        .keyring
        .open(
            &gatehouse_core::secret::Sealed::from_stored(sealed),
            &aad(scope, key),
        )
        .map_err(|e| format!("cannot open stored idempotent response: {e}"))?;
    Ok(stored)
}

fn replay(stored: StoredResponse) -> Response {
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    if let Some(value) = stored
        .content_type
        .and_then(|ct| HeaderValue::from_str(&ct).ok())
    {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
