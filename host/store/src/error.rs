//! Sorting sqlx errors into the backend-neutral [`StoreError`].

use gatehouse_core::StoreError;
use sqlx::error::ErrorKind;

/// Maps a sqlx error. Unique-constraint names come out the same on both backends: SQLite's
/// message text (`tenants.slug`) and PostgreSQL's constraint name, which the migrations set to
/// that same text.
pub fn interpret(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => {
                let constraint = db.constraint().map(str::to_owned).unwrap_or_else(|| {
                    db.message()
                        .split_once("constraint failed: ")
                        .map(|(_, names)| names.trim().to_owned())
                        .unwrap_or_default()
                });
                StoreError::UniqueViolation { constraint }
            }
            ErrorKind::ForeignKeyViolation => StoreError::ForeignKeyViolation,
            _ => {
                let message = db.message().to_owned();
                // SQLite reports lock timeouts as plain database errors.
                if message.contains("database is locked") {
                    StoreError::Unavailable(message)
                } else {
                    StoreError::Other(message)
                }
            }
        },
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable(err.to_string())
        }
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => StoreError::Unavailable(err.to_string()),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(err.to_string()),
        other => StoreError::Other(other.to_string()),
    }
}
