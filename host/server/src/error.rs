//! The one error type at the HTTP edge. Every failure becomes `{"error":{"code","message",
//! "field"?}}` with one status code per kind; 5xx bodies are opaque and the cause is logged with
//! the request id by [`log_server_errors`].

use std::borrow::Cow;

use axum::{
    Json,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use gatehouse_core::Error;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    pub field: Option<String>,
    /// Logged, never sent.
    pub cause: Option<String>,
}

/// The error body of every non-2xx response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable, stable: `invalid_request`, `not_found`, `slug_taken`, …
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The offending input field (dotted path), when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Carried in response extensions from [`ApiError::into_response`] to the logging middleware.
#[derive(Clone, Debug)]
struct ServerErrorCause(String);

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            field: None,
            cause: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message).field(field)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// An unexpected failure: the client sees a generic message, the logs see `cause`.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal_error".into(),
            message:
                "something went wrong on our side; quote the x-request-id header when reporting it"
                    .into(),
            field: None,
            cause: Some(cause.to_string()),
        }
    }

    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "service_unavailable".into(),
            message: "a dependency is unavailable; retry shortly".into(),
            field: None,
            cause: Some(cause.to_string()),
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid { field, message } => Self {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "invalid_request".into(),
                message,
                field: field.map(Cow::into_owned),
                cause: None,
            },
            Error::NotFound { what } => Self::not_found(what),
            Error::Conflict {
                code,
                message,
                field,
            } => Self {
                status: StatusCode::CONFLICT,
                code: code.into(),
                message,
                field: field.map(Cow::into_owned),
                cause: None,
            },
            Error::Precondition { code, message } => Self::new(StatusCode::CONFLICT, code, message),
            Error::Forbidden(message) => Self::new(StatusCode::FORBIDDEN, "forbidden", message),
            Error::Unavailable(cause) => Self::unavailable(cause),
            Error::Internal(cause) => Self::internal(cause),
        }
    }
}

impl From<gatehouse_core::StoreError> for ApiError {
    fn from(err: gatehouse_core::StoreError) -> Self {
        Error::from(err).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.into_owned(),
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gatehouse\""),
            );
        }
        if let Some(cause) = self.cause {
            response.extensions_mut().insert(ServerErrorCause(cause));
        }
        response
    }
}

/// Logs the hidden cause of 5xx responses, inside the request's span (which carries its id).
pub async fn log_server_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if let Some(ServerErrorCause(cause)) = response.extensions().get::<ServerErrorCause>() {
        tracing::error!(%method, %path, status = response.status().as_u16(), %cause, "request failed");
    }
    response
}

/// Fallback for unknown routes.
pub async fn route_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}
