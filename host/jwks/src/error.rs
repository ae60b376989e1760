//! Errors of obtaining, parsing and persisting key sets. Token refusals are
//! [`crate::VerifyError`].

use std::{io, path::PathBuf, sync::Arc, time::Duration};

/// A failed HTTP fetch, as reported by a [`crate::JwksFetcher`].
///
/// `Clone` because one failed fetch is reported to every caller that shared it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("response body is over the {max}-byte limit")]
    TooLarge { max: usize },
    /// Connection, TLS or protocol failure; the text comes from the HTTP client.
    #[error("{0}")]
    Transport(String),
}

/// Why keys could not be obtained, a JWKS document was refused, or a bundle could not be
/// read or written.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    #[error("fetching {url} failed: {source}")]
    Fetch {
        url: String,
        #[source]
        source: FetchError,
    },
    #[error("JWKS document is {len} bytes, over the {max}-byte limit")]
    DocumentTooLarge { len: usize, max: usize },
    #[error("JWKS document lists {count} keys, over the limit of {max}")]
    TooManyKeys { count: usize, max: usize },
    #[error("invalid JWKS document: {0}")]
    InvalidDocument(String),
    #[error("no usable signing key in the JWKS ({skipped} key(s) skipped as unusable)")]
    NoUsableKeys { skipped: usize },
    #[error("OpenID discovery at {url} failed: {reason}")]
    Discovery { url: String, reason: String },
    #[error("invalid JWKS bundle{}: {reason}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    InvalidBundle {
        path: Option<PathBuf>,
        reason: String,
    },
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("invalid JWKS configuration: {0}")]
    Config(String),
    /// No fetch has succeeded yet and no seed was loaded.
    #[error("no keys fetched yet")]
    NotLoaded,
}

impl JwksError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source: Arc::new(source),
        }
    }
}
