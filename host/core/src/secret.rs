//! Secrets at rest: envelope encryption with AES-256-GCM.
//!
//! Each value gets a fresh data key; the data key is wrapped with the master key. The stored form
//! names the master key (`kid`) so a keyring holding old and new keys can open values sealed
//! under either, which is what makes master-key rotation possible. The caller's `aad` (e.g.
//! `app:<id>:client_secret`) is bound into the ciphertext, so a sealed value copied into another
//! row does not open.
//!
//! Stored form: `gh1.<kid>.<b64url(nonce ‖ wrapped data key)>.<b64url(nonce ‖ ciphertext)>`.

use std::fmt;

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use rand::RngCore;
use sha2::{Digest, Sha256};

const FORMAT: &str = "gh1";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("master key file: {0}")]
    BadKeyFile(String),
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value uses master key `{0}`, which is not in the keyring")]
    UnknownKey(String),
    #[error("sealed value failed authentication (wrong key, wrong context or tampering)")]
    Authentication,
}

/// A 256-bit master key and its id (first 8 hex digits of its SHA-256).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: [u8; 32],
}

impl MasterKey {
    pub fn new(key: [u8; 32]) -> Self {
        let id = hex::encode(&Sha256::digest(key)[..4]);
        Self { id, key }
    }

    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self::new(key)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key file line for this key (standard base64).
    pub fn encode(&self) -> String {
        STANDARD.encode(self.key)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.key.fill(0);
    }
}

/// The active master key plus older ones kept for opening values sealed before a rotation.
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(active: MasterKey, older: Vec<MasterKey>) -> Self {
        let mut keys = vec![active];
        keys.extend(older);
        Self { keys }
    }

    /// Parses a key file: one base64-encoded 32-byte key per line, the first one active;
    /// blank lines and `#` comments are ignored.
    pub fn from_key_file(text: &str) -> Result<Self, SecretError> {
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bytes = STANDARD
                .decode(line)
                .map_err(|_| SecretError::BadKeyFile(format!("line {} is not base64", n + 1)))?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| {
                SecretError::BadKeyFile(format!("line {} is not a 32-byte key", n + 1))
            })?;
            keys.push(MasterKey::new(key));
        }
        if keys.is_empty() {
            return Err(SecretError::BadKeyFile("no key found".into()));
        }
        Ok(Self { keys })
    }

    pub fn active(&self) -> &MasterKey {
        &self.keys[0]
    }

    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Sealed {
        let master = self.active();
        let mut data_key = [0u8; 32];
        rand::rng().fill_bytes(&mut data_key);
        let wrapped = encrypt(&master.key, &data_key, master.id.as_bytes());
        let body = encrypt(&data_key, plaintext, aad.as_bytes());
        data_key.fill(0);
        Sealed(format!(
            "{FORMAT}.{}.{}.{}",
            master.id,
            URL_SAFE_NO_PAD.encode(wrapped),
            URL_SAFE_NO_PAD.encode(body)
        ))
    }

    pub fn open(&self, sealed: &Sealed, aad: &str) -> Result<Vec<u8>, SecretError> {
        let mut parts = sealed.0.split('.');
        let (Some(FORMAT), Some(kid), Some(wrapped), Some(body), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(SecretError::Malformed);
        };
        let master = self
            .keys
            .iter()
            .find(|k| k.id == kid)
            .ok_or_else(|| SecretError::UnknownKey(kid.to_owned()))?;
        let wrapped = URL_SAFE_NO_PAD
            .decode(wrapped)
            .map_err(|_| SecretError::Malformed)?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SecretError::Malformed)?;
        let data_key = decrypt(&master.key, &wrapped, master.id.as_bytes())?;
        let data_key: [u8; 32] = data_key.try_into().map_err(|_| SecretError::Malformed)?;
        decrypt(&data_key, &body, aad.as_bytes())
    }

    /// Convenience for UTF-8 secrets.
    pub fn open_string(&self, sealed: &Sealed, aad: &str) -> Result<String, SecretError> {
        String::from_utf8(self.open(sealed, aad)?).map_err(|_| SecretError::Malformed)
    }

    /// Re-seals `sealed` under the active key (for rotation).
    pub fn reseal(&self, sealed: &Sealed, aad: &str) -> Result<Sealed, SecretError> {
        let plain = self.open(sealed, aad)?;
        Ok(self.seal(&plain, aad))
    }
}

/// A sealed secret as stored in a database column. Its `Debug` shows only the key id.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(String);

impl Sealed {
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn key_id(&self) -> Option<&str> {
        self.0.split('.').nth(1)
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed(kid={})", self.key_id().unwrap_or("?"))
    }
}

fn encrypt(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encryption cannot fail for in-memory buffers");
    let mut out = nonce.to_vec();
    out.extend(ciphertext);
    out
}

fn decrypt(key: &[u8; 32], data: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretError> {
    if data.len() < NONCE_LEN + 16 {
        return Err(SecretError::Malformed);
    }
    let (nonce, ciphertext) = data.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into())
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| SecretError::Authentication)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_context_binding() {
        let ring = Keyring::new(MasterKey::generate(), vec![]);
        let sealed = ring.seal(b"s3cret", "app:1:client_secret");
        assert!(!sealed.as_str().contains("s3cret"));
        assert_eq!(
            ring.open(&sealed, "app:1:client_secret").unwrap(),
            b"s3cret"
        );
        assert_eq!(
            ring.open(&sealed, "app:2:client_secret"),
            Err(SecretError::Authentication)
        );
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = MasterKey::generate();
        let old_ring = Keyring::new(old.clone(), vec![]);
        let sealed = old_ring.seal(b"v", "ctx");
        let new_ring = Keyring::new(MasterKey::generate(), vec![old]);
        assert_eq!(new_ring.open(&sealed, "ctx").unwrap(), b"v");
        let resealed = new_ring.reseal(&sealed, "ctx").unwrap();
        assert_eq!(resealed.key_id(), Some(new_ring.active().id()));
        let only_new = Keyring::new(new_ring.active().clone(), vec![]);
        assert!(matches!(
            only_new.open(&sealed, "ctx"),
            Err(SecretError::UnknownKey(_))
        ));
        assert_eq!(only_new.open(&resealed, "ctx").unwrap(), b"v");
    }

    #[test]
    fn tampering_is_detected() {
        let ring = Keyring::new(MasterKey::generate(), vec![]);
        let sealed = ring.seal(b"value", "ctx");
        let mut text = sealed.as_str().to_owned();
        let last = text.pop().unwrap();
        text.push(if last == 'A' { 'B' } else { 'A' });
        assert!(ring.open(&Sealed::from_stored(text), "ctx").is_err());
        assert_eq!(
            ring.open(&Sealed::from_stored("junk".into()), "ctx"),
            Err(SecretError::Malformed)
        );
    }

    #[test]
    fn key_file_parsing() {
        let key = MasterKey::generate();
        let file = format!("# gatehouse master keys\n{}\n", key.encode());
        let ring = Keyring::from_key_file(&file).unwrap();
        assert_eq!(ring.active().id(), key.id());
        assert!(Keyring::from_key_file("").is_err());
        assert!(Keyring::from_key_file("bm90IGEga2V5").is_err());
    }
}
