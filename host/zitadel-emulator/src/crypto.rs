//! Ids, random secrets and hashing.

use std::sync::atomic::{AtomicU64, Ordering};

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// ZITADEL-style numeric ids (18 digits, time-ordered like its sonyflake ids). Unique within a
/// process; the millisecond prefix keeps them unique across restarts.
#[derive(Debug, Default)]
pub struct IdGen {
    last: AtomicU64,
}

impl IdGen {
    pub fn next(&self) -> String {
        let now_ms =
            u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
                .unwrap_or(0);
        let candidate = now_ms << 16;
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = candidate.max(prev + 1);
            match self
                .last
                .compare_exchange_weak(prev, next, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return next.to_string(),
                Err(actual) => prev = actual,
            }
        }
    }
}

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A random alphanumeric string (client secrets, signing keys).
pub fn random_alnum(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub fn sha256_b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

/// Constant-time check of a high-entropy secret against its stored SHA-256 hex.
pub fn secret_matches(secret: &str, stored_hex: &str) -> bool {
    sha256_hex(secret)
        .as_bytes()
        .ct_eq(stored_hex.as_bytes())
        .into()
}

pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// argon2id (default parameters: 19 MiB, t=2, p=1) PHC string. CPU-heavy: call from
/// `spawn_blocking`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// Verifies `password` against a throw-away hash: used when a username is unknown, so the
/// answer takes as long as a real check.
pub async fn waste_password_check(password: String) {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let _ = tokio::task::spawn_blocking(move || {
        let hash = HASH.get_or_init(|| hash_password(&random_token(16)).unwrap_or_default());
        verify_password(&password, hash)
    })
    .await;
}

pub async fn hash_password_async(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| e.to_string())?
}

pub async fn verify_password_async(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_increasing_and_18_digits() {
        let ids = IdGen::default();
        let a: u64 = ids.next().parse().unwrap();
        let b: u64 = ids.next().parse().unwrap();
        assert!(b > a);
        assert_eq!(a.to_string().len(), 18);
    }

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("Secr3t!Passw0rd").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("Secr3t!Passw0rd", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("Secr3t!Passw0rd", "not-a-hash"));
    }

    #[test]
    fn secrets_compare_by_hash() {
        let stored = sha256_hex("abc");
        assert!(secret_matches("abc", &stored));
        assert!(!secret_matches("abd", &stored));
        assert_eq!(random_alnum(64).len(), 64);
        assert_ne!(random_token(32), random_token(32));
    }
}
