use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts},
};
use gatehouse_core::audit::AuditContext;

use crate::{error::ApiError, request_id::RequestId};

/// Where a request came from, for audit entries.
pub struct RequestContext(pub AuditContext);

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let location = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect());
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
        Ok(Self(AuditContext {
            location,
            user_agent,
            request_id,
        }))
    }
}
