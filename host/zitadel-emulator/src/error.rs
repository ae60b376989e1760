//! Errors in ZITADEL's wire format.
//!
//! The REST (grpc-gateway) body is `{"code":<grpc code>,"message":"<text> (<ID>)","details":[{"@type":
//! "type.googleapis.com/zitadel.v1.ErrorDetail","id":"<ID>","message":"<text>"}]}` with the HTTP
//! status derived from the gRPC code. Message ids are ZITADEL's where the reference names them;
//! ids this emulator had to choose start with `EMU-` so nobody mistakes them for real ones.

use std::borrow::Cow;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// Why [`crate::Emulator::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    #[error("emulator state store: {0}")]
    Store(#[from] gatehouse_core::StoreError),
    #[error("emulator state is unreadable ({0}); delete it to start over")]
    CorruptState(String),
    #[error("cannot write {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("crypto failure: {0}")]
    Crypto(String),
    #[error("cannot bind the test listener: {0}")]
    Bind(std::io::Error),
}

/// gRPC status codes ZITADEL maps onto HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    InvalidArgument = 3,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

impl Code {
    pub fn http_status(self) -> StatusCode {
        match self {
            Self::InvalidArgument | Self::FailedPrecondition => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::AlreadyExists => StatusCode::CONFLICT,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Self::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
        }
    }
}

/// An API error as ZITADEL's REST gateway renders it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: Code,
    /// ZITADEL's message id (`COMMAND-…`); empty for proto-validation errors, which carry no
    /// `ErrorDetail` in ZITADEL either.
    pub id: Cow<'static, str>,
    /// The translated (English) message.
    pub message: Cow<'static, str>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.id.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{} ({})", self.message, self.id)
        }
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn new(
        code: Code,
        id: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            code,
            id: id.into(),
            message: message.into(),
        }
    }

    /// A proto-validate failure: InvalidArgument naming the field, no detail.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, "", message.into())
    }

    pub fn invalid(id: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::InvalidArgument, id, message)
    }

    pub fn not_found(id: &'static str, message: &'static str) -> Self {
        Self::new(Code::NotFound, id, message)
    }

    pub fn precondition(id: &'static str, message: &'static str) -> Self {
        Self::new(Code::FailedPrecondition, id, message)
    }

    /// A unique-constraint violation. ZITADEL's eventstore reports every one of them with the
    /// same id and the constraint's translated message (observed: `User already exists
    /// (SQL-M0dsf)`).
    pub fn already_exists(message: &'static str) -> Self {
        Self::new(Code::AlreadyExists, "SQL-M0dsf", message)
    }

    pub fn permission_denied() -> Self {
        Self::new(
            Code::PermissionDenied,
            "AUTH-AWfge",
            "No matching permissions found",
        )
    }

    pub fn unauthenticated(id: &'static str, message: &'static str) -> Self {
        Self::new(Code::Unauthenticated, id, message)
    }

    /// An internal failure; `cause` goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "zitadel emulator internal error");
        Self::new(Code::Internal, "EMU-internal", "An internal error occurred")
    }

    pub fn body(&self) -> serde_json::Value {
        let details = if self.id.is_empty() {
            json!([])
        } else {
            json!([{
                "@type": "type.googleapis.com/zitadel.v1.ErrorDetail",
                "id": self.id,
                "message": self.message,
            }])
        };
        json!({
            "code": self.code as i32,
            "message": self.to_string(),
            "details": details,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.code.http_status(), axum::Json(self.body())).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// The errors of the emulator's API, by ZITADEL i18n key. Grouped here so the wire texts live in
/// one place.
pub mod catalog {
    use super::{ApiError, Code};

    pub fn org_not_found() -> ApiError {
        ApiError::not_found("EMU-OrgNotFound", "Organisation not found")
    }
    pub fn org_exists() -> ApiError {
        ApiError::already_exists("Organisation's name or id already taken")
    }
    pub fn default_org_not_deletable() -> ApiError {
        ApiError::precondition("COMMA-wG9p1", "Default Organisation must not be deleted")
    }
    pub fn org_not_changed() -> ApiError {
        ApiError::precondition("EMU-OrgNotChanged", "Organisation not changed")
    }
    pub fn login_policy_not_found() -> ApiError {
        ApiError::not_found("Org-Ffgw2", "Login Policy not found")
    }
    pub fn login_policy_exists() -> ApiError {
        ApiError::already_exists("Login Policy already exists")
    }
    pub fn login_policy_idp_exists() -> ApiError {
        ApiError::already_exists("Identity Provider already existing")
    }
    pub fn login_policy_idp_missing() -> ApiError {
        ApiError::not_found("EMU-PolicyIdpMissing", "Identity Provider not existing")
    }
    pub fn idp_not_found() -> ApiError {
        ApiError::not_found("EMU-IdpNotFound", "IDP configuration does not exist")
    }
    pub fn project_not_found() -> ApiError {
        ApiError::not_found("EMU-ProjectNotFound", "Project not found")
    }
    pub fn project_exists() -> ApiError {
        ApiError::already_exists("Project already exists on organization")
    }
    pub fn project_role_exists() -> ApiError {
        ApiError::already_exists("Role already exists")
    }
    pub fn project_role_missing() -> ApiError {
        ApiError::precondition("EMU-RoleMissing", "Role doesn't exist")
    }
    pub fn app_not_found() -> ApiError {
        ApiError::not_found("EMU-AppNotFound", "Application not found")
    }
    pub fn app_exists() -> ApiError {
        ApiError::already_exists("Application already exists")
    }
    pub fn app_invalid(reason: &str) -> ApiError {
        ApiError::new(
            Code::InvalidArgument,
            "EMU-AppInvalid",
            format!("Application invalid: {reason}"),
        )
    }
    pub fn app_no_secret() -> ApiError {
        ApiError::precondition(
            "EMU-AppNoSecret",
            "Chosen OIDC Auth Method does not require a secret",
        )
    }
    pub fn user_not_found() -> ApiError {
        ApiError::not_found("EMU-UserNotFound", "User could not be found")
    }
    pub fn user_exists() -> ApiError {
        ApiError::already_exists("User already exists")
    }
    pub fn user_not_machine() -> ApiError {
        ApiError::precondition("EMU-NotMachine", "The User must be technical")
    }
    pub fn user_not_human() -> ApiError {
        ApiError::precondition("EMU-NotHuman", "The User must be personal")
    }
    pub fn invalid_argument(id: &'static str) -> ApiError {
        ApiError::invalid(id, "Errors.Invalid.Argument")
    }
    pub fn target_not_found() -> ApiError {
        ApiError::not_found("EMU-TargetNotFound", "Target not found")
    }
    pub fn target_exists() -> ApiError {
        ApiError::already_exists("Target already exists")
    }
    pub fn web_key_not_found() -> ApiError {
        ApiError::not_found("EMU-WebKeyNotFound", "Web key not found")
    }
    pub fn web_key_active() -> ApiError {
        ApiError::precondition("EMU-WebKeyActive", "The active web key cannot be deleted")
    }
    pub fn session_not_found() -> ApiError {
        ApiError::not_found("EMU-SessionNotFound", "Session not found")
    }
    pub fn session_token_invalid() -> ApiError {
        ApiError::new(
            Code::PermissionDenied,
            "EMU-SessionTokenInvalid",
            "Session token is invalid",
        )
    }
    pub fn auth_request_not_found() -> ApiError {
        ApiError::not_found("EMU-AuthRequestNotFound", "Auth request not found")
    }
    pub fn token_invalid() -> ApiError {
        ApiError::unauthenticated("EMU-TokenInvalid", "Token is invalid")
    }
    pub fn auth_header_missing() -> ApiError {
        ApiError::unauthenticated("EMU-AuthHeaderMissing", "auth header missing")
    }
}
