//! `Idempotency-Key` support: the same key with the same request replays the first response; the
//! same key with a different request is a conflict.

use serde::{Deserialize, Serialize};

/// How long a key is remembered (Svix and WorkOS keep them 12–24 h).
pub const RETENTION: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Outcome of claiming a key before running the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// First use: run the request, then `complete` (or `release` on failure).
    Fresh,
    /// Seen with the same request: send this response again.
    Replay(StoredResponse),
    /// Seen with a different request body or path.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}
