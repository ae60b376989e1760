//! minisign-format Ed25519 keys and signatures (the stock `minisign` tool verifies what this
//! module signs, and this module verifies what `minisign -S` signs).

use std::io::Cursor;

use minisign::{KeyPair, PublicKeyBox, SecretKeyBox, SignatureBox};
pub use minisign::{PublicKey, SecretKey};

/// Signing errors; messages never include key material.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("invalid public key: {0}")]
    PublicKey(String),
    #[error("invalid secret key: {0}")]
    SecretKey(String),
    #[error("the secret key is encrypted: give its password")]
    PasswordNeeded,
    #[error("could not decrypt the secret key (wrong password?)")]
    Decrypt,
    #[error("invalid signature file: {0}")]
    SignatureFormat(String),
    #[error(
        "legacy (non-prehashed) minisign signature: re-sign with `gatehouse plugin sign` or \
         minisign ≥ 0.9"
    )]
    LegacySignature,
    #[error("the signature was made by key {signature_key}, not by key {public_key}")]
    WrongKey {
        signature_key: String,
        public_key: String,
    },
    #[error("bad signature: the signed file was changed or the signature is corrupt")]
    BadSignature,
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A new key pair, as the text of minisign's `.key` and `.pub` files.
pub struct GeneratedKey {
    pub key_id: String,
    /// Contents of the `.pub` file (two lines: comment, base64 key).
    pub public_key_file: String,
    /// The base64 line alone (what the trust store keeps).
    pub public_key: String,
    /// Contents of the `.key` file; encrypted when a password was given.
    pub secret_key_file: String,
}

/// The 16-hex-digit key id minisign prints (`minisign public key: ABCD…`).
pub fn key_id(keynum: &[u8]) -> String {
    let mut bytes = [0u8; 8];
    let n = keynum.len().min(8);
    bytes[..n].copy_from_slice(&keynum[..n]);
    format!("{:016X}", u64::from_le_bytes(bytes))
}

/// Generates a key pair; the secret key is encrypted with `password` (scrypt, as minisign),
/// or left unencrypted when `None` (like `minisign -G -W`).
pub fn generate(password: Option<&str>) -> Result<GeneratedKey, SigningError> {
    let KeyPair { pk, sk } = match password {
        Some(password) => KeyPair::generate_encrypted_keypair(Some(password.to_owned())),
        None => KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(|err| SigningError::Sign(err.to_string()))?;
    let key_id = key_id(pk.keynum());
    let public_key = pk.to_base64();
    let comment = format!("minisign public key {key_id}");
    let public_key_file = format!("untrusted comment: {comment}\n{public_key}\n");
    let secret_key_file = sk
        .to_box(Some(&format!("minisign secret key {key_id}")))
        .map_err(|err| SigningError::Sign(err.to_string()))?
        .into_string();
    Ok(GeneratedKey {
        key_id,
        public_key_file,
        public_key,
        secret_key_file,
    })
}

/// Parses a public key: a `.pub` file's contents or its base64 line.
pub fn parse_public_key(text: &str) -> Result<PublicKey, SigningError> {
    let text = text.trim();
    let result = if text.starts_with("untrusted comment:") {
        PublicKeyBox::from_string(text).and_then(PublicKeyBox::into_public_key)
    } else {
        PublicKey::from_base64(text)
    };
    result.map_err(|err| SigningError::PublicKey(err.to_string()))
}

/// Loads a `.key` file, decrypting it with `password` if it is encrypted.
pub fn parse_secret_key(text: &str, password: Option<&str>) -> Result<SecretKey, SigningError> {
    let sk_box =
        SecretKeyBox::from_string(text).map_err(|err| SigningError::SecretKey(err.to_string()))?;
    let unencrypted = SecretKey::from_unencrypted_box(sk_box.clone());
    match (unencrypted, password) {
        (Ok(sk), _) if !sk.is_encrypted() => Ok(sk),
        (_, None) => Err(SigningError::PasswordNeeded),
        (_, Some(password)) => SecretKey::from_box(sk_box, Some(password.to_owned()))
            .map_err(|_| SigningError::Decrypt),
    }
}

/// Signs `data`, returning the contents of a `.minisig` file. `trusted_comment` is signed too
/// (minisign shows it on verification).
pub fn sign(sk: &SecretKey, data: &[u8], trusted_comment: &str) -> Result<String, SigningError> {
    let pk =
        PublicKey::from_secret_key(sk).map_err(|err| SigningError::SecretKey(err.to_string()))?;
    let comment = format!(
        "signature from gatehouse plugin sign, key {}",
        key_id(pk.keynum())
    );
    minisign::sign(
        Some(&pk),
        sk,
        Cursor::new(data),
        Some(trusted_comment),
        Some(&comment),
    )
    .map(SignatureBox::into_string)
    .map_err(|err| SigningError::Sign(err.to_string()))
}

/// A parsed `.minisig` file.
pub struct Signature {
    sig_box: SignatureBox,
    pub key_id: String,
    pub trusted_comment: String,
}

/// Parses a `.minisig` file without verifying it (to learn the signer's key id).
pub fn parse_signature(text: &str) -> Result<Signature, SigningError> {
    let sig_box = SignatureBox::from_string(text)
        .map_err(|err| SigningError::SignatureFormat(err.to_string()))?;
    if !sig_box.is_prehashed() {
        return Err(SigningError::LegacySignature);
    }
    let trusted_comment = sig_box
        .trusted_comment()
        .map_err(|err| SigningError::SignatureFormat(err.to_string()))?;
    Ok(Signature {
        key_id: key_id(sig_box.keynum()),
        trusted_comment,
        sig_box,
    })
}

/// Verifies `signature` over `data` with `pk` (signature and trusted comment).
pub fn verify(pk: &PublicKey, signature: &Signature, data: &[u8]) -> Result<(), SigningError> {
    let pk_id = key_id(pk.keynum());
    if pk_id != signature.key_id {
        return Err(SigningError::WrongKey {
            signature_key: signature.key_id.clone(),
            public_key: pk_id,
        });
    }
    minisign::verify(
        pk,
        &signature.sig_box,
        Cursor::new(data),
        true,
        false,
        false,
    )
    .map_err(|_| SigningError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip() {
        let key = generate(None).unwrap();
        assert_eq!(key.key_id.len(), 16);
        let sk = parse_secret_key(&key.secret_key_file, None).unwrap();
        let pk = parse_public_key(&key.public_key_file).unwrap();
        assert_eq!(key_id(pk.keynum()), key.key_id);
        let sig_text = sign(&sk, b"manifest", "gatehouse plugin x 1.0.0").unwrap();
        let sig = parse_signature(&sig_text).unwrap();
        assert_eq!(sig.key_id, key.key_id);
        assert_eq!(sig.trusted_comment, "gatehouse plugin x 1.0.0");
        verify(&pk, &sig, b"manifest").unwrap();
        assert!(matches!(
            verify(&pk, &sig, b"manifest!"),
            Err(SigningError::BadSignature)
        ));
        let other = parse_public_key(&generate(None).unwrap().public_key).unwrap();
        assert!(matches!(
            verify(&other, &sig, b"manifest"),
            Err(SigningError::WrongKey { .. })
        ));
    }

    #[test]
    fn encrypted_keys_need_the_password() {
        let key = generate(Some("hunter2")).unwrap();
        assert!(matches!(
            parse_secret_key(&key.secret_key_file, None),
            Err(SigningError::PasswordNeeded)
        ));
        assert!(matches!(
            parse_secret_key(&key.secret_key_file, Some("wrong")),
            Err(SigningError::Decrypt)
        ));
        let sk = parse_secret_key(&key.secret_key_file, Some("hunter2")).unwrap();
        let pk = parse_public_key(&key.public_key).unwrap();
        let sig = parse_signature(&sign(&sk, b"x", "c").unwrap()).unwrap();
        verify(&pk, &sig, b"x").unwrap();
    }

    #[test]
    fn garbage_is_refused() {
        assert!(parse_public_key("not a key").is_err());
        assert!(parse_signature("untrusted comment: x\nAAAA\n").is_err());
        assert!(parse_secret_key("nope", None).is_err());
    }
}
