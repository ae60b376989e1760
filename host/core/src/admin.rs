//! Platform admins signing in to the portal through the IdP: Gatehouse's own OIDC client
//! registration in ZITADEL, and the cookie sessions it issues after a verified sign-in.
//!
//! Session ids are random 256-bit values; only their SHA-256 is stored, so a database dump does
//! not hand out live sessions. A session ends at `expires_at` (absolute lifetime) or when it
//! was not used for the idle timeout (`last_seen_at` + idle), whichever comes first.

use async_trait::async_trait;

use crate::{Timestamp, change::Change, secret::Sealed, store::StoreResult};

/// Gatehouse's OIDC application in ZITADEL ("gatehouse-admin" in project "Gatehouse" of the
/// admin organization), as registered. One per installation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminClient {
    /// The IdP's issuer the registration belongs to; another issuer means registering again.
    pub issuer: String,
    pub org_id: String,
    pub project_id: String,
    pub app_id: String,
    pub client_id: String,
    /// The client secret, sealed with the keyring (aad [`AdminClient::SECRET_AAD`]).
    pub client_secret: Sealed,
    pub redirect_uri: String,
    pub post_logout_redirect_uri: String,
    pub updated_at: Timestamp,
}

impl AdminClient {
    /// The associated data the client secret is sealed with.
    pub const SECRET_AAD: &'static str = "admin_oidc_client:client_secret";
}

/// A signed-in platform admin's portal session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminSession {
    /// The IdP's subject (`sub`), the admin's user id.
    pub user_id: String,
    /// Display name from the ID token (name, preferred username, email or the subject).
    pub name: String,
    pub email: Option<String>,
    /// The organization the admin belongs to (`urn:zitadel:iam:user:resourceowner:id`).
    pub org_id: String,
    /// The ID token, sealed (aad [`AdminSession::ID_TOKEN_AAD`]): sent back as `id_token_hint`
    /// when the admin signs out at the IdP.
    pub id_token: Option<Sealed>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_seen_at: Timestamp,
}

impl AdminSession {
    pub const ID_TOKEN_AAD: &'static str = "admin_session:id_token";

    /// Whether the session may still be used at `now` with the given idle timeout.
    pub fn is_active(&self, now: Timestamp, idle: std::time::Duration) -> bool {
        now < self.expires_at && now < self.last_seen_at.plus(idle)
    }
}

#[async_trait]
pub trait AdminStore: Send + Sync {
    /// The registered OIDC client, if any.
    async fn get_admin_client(&self) -> StoreResult<Option<AdminClient>>;

    /// Takes the registration lease for `worker` until `until`, if nobody else holds an
    /// unexpired one (replicas starting together register once). `true` when taken (or
    /// renewed by the same worker).
    async fn claim_admin_client_registration(
        &self,
        worker: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool>;

    /// Saves the registration and releases the lease, only while `worker` still holds it.
    /// `false` when the lease was lost (another worker's registration stands).
    async fn save_admin_client(&self, client: &AdminClient, worker: &str) -> StoreResult<bool>;

    /// Whether the first platform admin of the embedded IdP was provisioned on this database.
    async fn admin_user_provisioned(&self) -> StoreResult<bool>;

    /// Records that the first platform admin was provisioned, once: `false` when it was
    /// already recorded.
    async fn mark_admin_user_provisioned(&self, at: Timestamp) -> StoreResult<bool>;

    /// Stores a new session under the SHA-256 of its id, with `change` (the sign-in's audit entry).
    async fn insert_admin_session(
        &self,
        id_hash: &[u8; 32],
        session: &AdminSession,
        change: &Change,
    ) -> StoreResult<()>;

    async fn find_admin_session(&self, id_hash: &[u8; 32]) -> StoreResult<Option<AdminSession>>;

    /// Best effort: remembers when the session was last used (for the idle timeout).
    async fn touch_admin_session(&self, id_hash: &[u8; 32], at: Timestamp) -> StoreResult<()>;

    /// Ends a session (sign-out) with `change`. `false` when it did not exist (nothing is
    /// written then).
    async fn end_admin_session(&self, id_hash: &[u8; 32], change: &Change) -> StoreResult<bool>;

    /// Writes `change` alone: sign-in events that create or end no session (a refused sign-in).
    async fn record_admin_audit(&self, change: &Change) -> StoreResult<()>;

    /// Deletes sessions past their lifetime, or unused since `idle_before`. Returns how many.
    async fn purge_admin_sessions(
        &self,
        now: Timestamp,
        idle_before: Timestamp,
    ) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn sessions_end_at_expiry_or_after_idling() {
        let start = Timestamp::from_unix_millis(1_700_000_000_000);
        let session = AdminSession {
            user_id: "u".into(),
            name: "n".into(),
            email: None,
            org_id: "o".into(),
            id_token: None,
            created_at: start,
            expires_at: start.plus(Duration::from_secs(3600)),
            last_seen_at: start,
        };
        let idle = Duration::from_secs(600);
        assert!(session.is_active(start.plus(Duration::from_secs(599)), idle));
        assert!(!session.is_active(start.plus(Duration::from_secs(600)), idle));
        let recent = AdminSession {
            last_seen_at: start.plus(Duration::from_secs(3500)),
            ..session
        };
        assert!(recent.is_active(start.plus(Duration::from_secs(3599)), idle));
        assert!(!recent.is_active(start.plus(Duration::from_secs(3600)), idle));
    }
}
