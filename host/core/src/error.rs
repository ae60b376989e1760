//! Domain errors. The HTTP edge maps each variant to one status code (`host/server/src/error.rs`);
//! nothing here knows about HTTP.

use std::borrow::Cow;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input. `field` names the offending field (dotted path, e.g. `redirect_uris[1]`).
    #[error("{message}")]
    Invalid {
        field: Option<Cow<'static, str>>,
        message: String,
    },

    /// The object does not exist, or the caller may not see it (another tenant's object is
    /// reported exactly like a missing one).
    #[error("{what} not found")]
    NotFound { what: &'static str },

    /// The request conflicts with existing state, e.g. a duplicate slug.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        field: Option<Cow<'static, str>>,
    },

    /// The request is well-formed but the object's state forbids it.
    #[error("{message}")]
    Precondition { code: &'static str, message: String },

    /// The caller is authenticated but lacks the permission.
    #[error("{0}")]
    Forbidden(String),

    /// A dependency (database, IdP) is unavailable; safe to retry.
    #[error("service unavailable: {0}")]
    Unavailable(String),

    /// Everything else. The message is for logs only, never for clients.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn conflict(
        code: &'static str,
        field: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::Internal(message.to_string())
    }

    /// Prefixes the field path, for errors raised while validating a nested value.
    pub fn within(self, parent: &str) -> Self {
        match self {
            Self::Invalid {
                field: Some(field),
                message,
            } => Self::Invalid {
                field: Some(format!("{parent}.{field}").into()),
                message,
            },
            other => other,
        }
    }
}

/// Errors from a store backend, already sorted into what callers can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint failed. `constraint` is backend-neutral: `table.column` (or
    /// `table.col_a, table.col_b`), the same text on SQLite and PostgreSQL.
    #[error("unique constraint `{constraint}` violated")]
    UniqueViolation { constraint: String },
    /// A foreign key pointed at a missing row.
    #[error("foreign key violated")]
    ForeignKeyViolation,
    /// The row to change does not exist.
    #[error("row not found")]
    NotFound,
    /// Optimistic concurrency: the row changed since it was read.
    #[error("row was modified concurrently")]
    Stale,
    /// The database cannot be reached or timed out.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be decoded (corruption or a bug).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Other(String),
}

impl StoreError {
    pub fn is_unique(&self, constraint: &str) -> bool {
        matches!(self, Self::UniqueViolation { constraint: c } if c == constraint)
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Error::NotFound { what: "object" },
            StoreError::Unavailable(msg) => Error::Unavailable(msg),
            StoreError::Stale => Error::Conflict {
                code: "concurrent_modification",
                message: "the object was modified concurrently; retry the request".into(),
                field: None,
            },
            other => Error::Internal(other.to_string()),
        }
    }
}
