use axum::{extract::FromRequestParts, http::request::Parts};
use gatehouse_core::{
    principal::Principal,
    services::api_keys::{self, AuthFailure},
};

use crate::{error::ApiError, state::AppState};

/// Any valid credential: a platform key, a tenant-scoped key, or an admin session. Handlers that
/// touch a tenant's objects pass the principal to the service, which confines tenant keys.
pub struct Authenticated(pub Principal);

/// A credential allowed to act on the whole platform.
pub struct Platform(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Self(principal.clone()));
        }
        // A bearer token wins; without one, a portal session cookie may authenticate.
        let Some(header) = parts.headers.get(http::header::AUTHORIZATION) else {
            return match crate::admin_session::authenticate(parts, state).await? {
                Some(principal) => {
                    parts.extensions.insert(principal.clone());
                    Ok(Self(principal))
                }
                None => Err(ApiError::unauthorized(
                    "missing credentials: send Authorization: Bearer <API key>, or sign in to the portal",
                )),
            };
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <API key>`")
            })?;
        let outcome =
            api_keys::authenticate(state.store.as_ref(), token, state.clock.now()).await?;
        match outcome {
            Ok(principal) => {
                parts.extensions.insert(principal.clone());
                Ok(Self(principal))
            }
            Err(AuthFailure::Malformed | AuthFailure::Unknown | AuthFailure::Revoked) => {
                Err(ApiError::unauthorized("invalid or revoked credentials"))
            }
        }
    }
}

impl FromRequestParts<AppState> for Platform {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authenticated(principal) = Authenticated::from_request_parts(parts, state).await?;
        principal.require_platform()?;
        Ok(Self(principal))
    }
}
