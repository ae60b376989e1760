//! Admin API keys: random bearer tokens, stored only as SHA-256 hashes, shown once at creation.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    Timestamp,
    id::{ApiKeyId, TenantId},
};

/// Every token starts with this, so leaked keys are easy to grep for and to revoke.
pub const TOKEN_PREFIX: &str = "ghk_";
/// How much of the token is kept in clear for display (`ghk_AbCdEfGh…`).
const DISPLAY_PREFIX_LEN: usize = 12;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub scope: KeyScope,
    /// The tenant a tenant-scoped key is confined to.
    pub tenant_id: Option<TenantId>,
    /// The first characters of the token, for recognising it.
    pub token_prefix: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyScope {
    Platform,
    Tenant,
}

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::Tenant => "tenant",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "platform" => Some(Self::Platform),
            "tenant" => Some(Self::Tenant),
            _ => None,
        }
    }
}

/// `POST /v1/api-keys`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateApiKey {
    pub name: String,
    pub scope: KeyScope,
    /// Required when `scope` is `tenant`.
    pub tenant_id: Option<TenantId>,
}

/// A freshly generated token: the clear text goes to the caller once, the hash to the store.
pub struct NewToken {
    pub token: String,
    pub hash: [u8; 32],
    pub display_prefix: String,
}

impl NewToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_token(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Wraps an operator-supplied token (e.g. `GATEHOUSE_BOOTSTRAP_TOKEN`).
    pub fn from_token(token: String) -> Self {
        let hash = hash_token(&token);
        let display_prefix = token.chars().take(DISPLAY_PREFIX_LEN).collect();
        Self {
            token,
            hash,
            display_prefix,
        }
    }
}

pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hash_stably() {
        let a = NewToken::generate();
        let b = NewToken::generate();
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with(TOKEN_PREFIX));
        assert_eq!(a.hash, hash_token(&a.token));
        assert_eq!(a.display_prefix.len(), DISPLAY_PREFIX_LEN);
    }
}
