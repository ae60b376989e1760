//! Signing keys (ZITADEL "web keys"), compact JWS signing/verification and the few DER/PEM
//! conversions the key files need. Everything runs on aws-lc-rs.

use aws_lc_rs::{
    encoding::AsDer,
    rand::SystemRandom,
    rsa::{KeyPair as RsaKeyPair, KeySize},
    signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hasher {
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Curve {
    P256,
    P384,
    P512,
}

/// A web key's type, as `CreateWebKey` accepts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyConfig {
    Rsa { bits: u32, hasher: Hasher },
    Ecdsa { curve: Curve },
    Ed25519,
}

impl Default for KeyConfig {
    fn default() -> Self {
        Self::Rsa {
            bits: 2048,
            hasher: Hasher::Sha256,
        }
    }
}

impl KeyConfig {
    /// The JWS `alg` tokens signed with this key carry.
    pub fn alg(self) -> &'static str {
        match self {
            Self::Rsa { hasher, .. } => match hasher {
                Hasher::Sha256 => "RS256",
                Hasher::Sha384 => "RS384",
                Hasher::Sha512 => "RS512",
            },
            Self::Ecdsa { curve } => match curve {
                Curve::P256 => "ES256",
                Curve::P384 => "ES384",
                Curve::P512 => "ES512",
            },
            Self::Ed25519 => "EdDSA",
        }
    }

    /// The v2 API's JSON for this configuration (`{"rsa":{"bits":"RSA_BITS_2048",…}}`).
    pub fn to_wire(self) -> Value {
        match self {
            Self::Rsa { bits, hasher } => json!({"rsa": {
                "bits": format!("RSA_BITS_{bits}"),
                "hasher": match hasher {
                    Hasher::Sha256 => "RSA_HASHER_SHA256",
                    Hasher::Sha384 => "RSA_HASHER_SHA384",
                    Hasher::Sha512 => "RSA_HASHER_SHA512",
                },
            }}),
            Self::Ecdsa { curve } => json!({"ecdsa": {"curve": match curve {
                Curve::P256 => "ECDSA_CURVE_P256",
                Curve::P384 => "ECDSA_CURVE_P384",
                Curve::P512 => "ECDSA_CURVE_P512",
            }}}),
            Self::Ed25519 => json!({"ed25519": {}}),
        }
    }

    /// Parses a `CreateWebKeyRequest` body; `{}` means RSA 2048 / SHA-256.
    pub fn from_wire(body: &Value) -> Result<Self, String> {
        let obj = body
            .as_object()
            .ok_or("request body must be a JSON object")?;
        let set: Vec<&str> = ["rsa", "ecdsa", "ed25519"]
            .into_iter()
            .filter(|k| obj.get(*k).is_some_and(|v| !v.is_null()))
            .collect();
        match set.as_slice() {
            [] => Ok(Self::default()),
            ["rsa"] => {
                let rsa = &obj["rsa"];
                let bits = match rsa.get("bits").and_then(Value::as_str) {
                    None | Some("RSA_BITS_UNSPECIFIED") | Some("RSA_BITS_2048") => 2048,
                    Some("RSA_BITS_3072") => 3072,
                    Some("RSA_BITS_4096") => 4096,
                    Some(other) => return Err(format!("rsa.bits: unknown value `{other}`")),
                };
                let hasher = match rsa.get("hasher").and_then(Value::as_str) {
                    None | Some("RSA_HASHER_UNSPECIFIED") | Some("RSA_HASHER_SHA256") => {
                        Hasher::Sha256
                    }
                    Some("RSA_HASHER_SHA384") => Hasher::Sha384,
                    Some("RSA_HASHER_SHA512") => Hasher::Sha512,
                    Some(other) => return Err(format!("rsa.hasher: unknown value `{other}`")),
                };
                Ok(Self::Rsa { bits, hasher })
            }
            ["ecdsa"] => {
                let curve = match obj["ecdsa"].get("curve").and_then(Value::as_str) {
                    None | Some("ECDSA_CURVE_UNSPECIFIED") | Some("ECDSA_CURVE_P256") => {
                        Curve::P256
                    }
                    Some("ECDSA_CURVE_P384") => Curve::P384,
                    Some("ECDSA_CURVE_P512") => Curve::P512,
                    Some(other) => return Err(format!("ecdsa.curve: unknown value `{other}`")),
                };
                Ok(Self::Ecdsa { curve })
            }
            ["ed25519"] => Ok(Self::Ed25519),
            _ => Err("only one of rsa, ecdsa, ed25519 may be set".into()),
        }
    }
}

fn crypto_err(what: &str) -> String {
    format!("{what} failed")
}

/// Generates a private key; returns its PKCS#8 DER.
pub fn generate(config: KeyConfig) -> Result<Vec<u8>, String> {
    match config {
        KeyConfig::Rsa { bits, .. } => {
            let size = match bits {
                2048 => KeySize::Rsa2048,
                3072 => KeySize::Rsa3072,
                4096 => KeySize::Rsa4096,
                other => return Err(format!("unsupported RSA size {other}")),
            };
            let pair = RsaKeyPair::generate(size).map_err(|_| crypto_err("RSA generation"))?;
            let der = pair.as_der().map_err(|_| crypto_err("RSA encoding"))?;
            Ok(der.as_ref().to_vec())
        }
        KeyConfig::Ecdsa { curve } => {
            let pair = EcdsaKeyPair::generate(ecdsa_signing(curve))
                .map_err(|_| crypto_err("ECDSA generation"))?;
            let doc = pair
                .to_pkcs8v1()
                .map_err(|_| crypto_err("ECDSA encoding"))?;
            Ok(doc.as_ref().to_vec())
        }
        KeyConfig::Ed25519 => {
            let pair = Ed25519KeyPair::generate().map_err(|_| crypto_err("Ed25519 generation"))?;
            let doc = pair
                .to_pkcs8v1()
                .map_err(|_| crypto_err("Ed25519 encoding"))?;
            Ok(doc.as_ref().to_vec())
        }
    }
}

fn ecdsa_signing(curve: Curve) -> &'static signature::EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Curve::P512 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
    }
}

fn rsa_signing(hasher: Hasher) -> &'static dyn signature::RsaEncoding {
    match hasher {
        Hasher::Sha256 => &signature::RSA_PKCS1_SHA256,
        Hasher::Sha384 => &signature::RSA_PKCS1_SHA384,
        Hasher::Sha512 => &signature::RSA_PKCS1_SHA512,
    }
}

/// A private key parsed for signing. Parsing (RSA especially, with aws-lc's consistency
/// checks) costs about as much as a signature, so a web key keeps its parsed form.
pub enum SigningKey {
    Rsa(RsaKeyPair, Hasher),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Rsa(..) => "SigningKey::Rsa",
            Self::Ecdsa(_) => "SigningKey::Ecdsa",
            Self::Ed25519(_) => "SigningKey::Ed25519",
        })
    }
}

impl SigningKey {
    /// Parses a PKCS#8 private key of the given configuration.
    pub fn parse(config: KeyConfig, pkcs8: &[u8]) -> Result<Self, String> {
        Ok(match config {
            KeyConfig::Rsa { hasher, .. } => Self::Rsa(
                RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| crypto_err("RSA key parse"))?,
                hasher,
            ),
            KeyConfig::Ecdsa { curve } => Self::Ecdsa(
                EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve), pkcs8)
                    .map_err(|_| crypto_err("ECDSA key parse"))?,
            ),
            KeyConfig::Ed25519 => Self::Ed25519(
                Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| crypto_err("Ed25519 key parse"))?,
            ),
        })
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Self::Rsa(pair, hasher) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(
                    rsa_signing(*hasher),
                    &SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .map_err(|_| crypto_err("RSA signing"))?;
                Ok(sig)
            }
            Self::Ecdsa(pair) => Ok(pair
                .sign(&SystemRandom::new(), message)
                .map_err(|_| crypto_err("ECDSA signing"))?
                .as_ref()
                .to_vec()),
            Self::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

/// The public half as a JWK (`use: sig`).
pub fn public_jwk(kid: &str, config: KeyConfig, pkcs8: &[u8]) -> Result<Value, String> {
    let alg = config.alg();
    match config {
        KeyConfig::Rsa { .. } => {
            let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| crypto_err("RSA key parse"))?;
            let public = pair.public_key();
            Ok(json!({
                "use": "sig", "kty": "RSA", "kid": kid, "alg": alg,
                "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            }))
        }
        KeyConfig::Ecdsa { curve } => {
            let pair = EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve), pkcs8)
                .map_err(|_| crypto_err("ECDSA key parse"))?;
            let point = pair.public_key().as_ref();
            // X9.62 uncompressed point: 0x04 || x || y.
            let coord = (point.len() - 1) / 2;
            let crv = match curve {
                Curve::P256 => "P-256",
                Curve::P384 => "P-384",
                Curve::P512 => "P-521",
            };
            Ok(json!({
                "use": "sig", "kty": "EC", "kid": kid, "alg": alg, "crv": crv,
                "x": URL_SAFE_NO_PAD.encode(&point[1..1 + coord]),
                "y": URL_SAFE_NO_PAD.encode(&point[1 + coord..]),
            }))
        }
        KeyConfig::Ed25519 => {
            let pair =
                Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| crypto_err("Ed25519 key parse"))?;
            Ok(json!({
                "use": "sig", "kty": "OKP", "kid": kid, "alg": alg, "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            }))
        }
    }
}

/// Verifies a signature made by one of our own keys (used for `id_token_hint`).
pub fn verify_own(config: KeyConfig, pkcs8: &[u8], message: &[u8], sig: &[u8]) -> bool {
    match config {
        KeyConfig::Rsa { hasher, .. } => {
            let Ok(pair) = RsaKeyPair::from_pkcs8(pkcs8) else {
                return false;
            };
            verify_rsa(hasher, pair.public_key().as_ref(), message, sig)
        }
        KeyConfig::Ecdsa { curve } => {
            let Ok(pair) = EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve), pkcs8) else {
                return false;
            };
            let alg: &'static dyn signature::VerificationAlgorithm = match curve {
                Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
                Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
                Curve::P512 => &signature::ECDSA_P521_SHA512_FIXED,
            };
            UnparsedPublicKey::new(alg, pair.public_key().as_ref())
                .verify(message, sig)
                .is_ok()
        }
        KeyConfig::Ed25519 => {
            let Ok(pair) = Ed25519KeyPair::from_pkcs8(pkcs8) else {
                return false;
            };
            UnparsedPublicKey::new(&signature::ED25519, pair.public_key().as_ref())
                .verify(message, sig)
                .is_ok()
        }
    }
}

/// Verifies an RSA PKCS#1 v1.5 signature with a PKCS#1 (or SPKI) public key DER.
pub fn verify_rsa(hasher: Hasher, public_der: &[u8], message: &[u8], sig: &[u8]) -> bool {
    let alg: &'static dyn signature::VerificationAlgorithm = match hasher {
        Hasher::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Hasher::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Hasher::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
    };
    UnparsedPublicKey::new(alg, public_der)
        .verify(message, sig)
        .is_ok()
}

/// A compact JWS split into its parts (signature not yet checked).
#[derive(Debug)]
pub struct UnverifiedJwt {
    pub header: Value,
    pub claims: Value,
    pub signing_input: String,
    pub signature: Vec<u8>,
}

/// Splits and decodes a compact JWS. Size-limited: assertions and hints are small.
pub fn decode(token: &str) -> Result<UnverifiedJwt, &'static str> {
    if token.len() > 16 * 1024 {
        return Err("token too large");
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS");
    };
    let decode_json = |part: &str| -> Result<Value, &'static str> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| "invalid base64url")?;
        serde_json::from_slice::<Value>(&bytes).map_err(|_| "invalid JSON")
    };
    let header = decode_json(h)?;
    let claims = decode_json(c)?;
    if !header.is_object() || !claims.is_object() {
        return Err("header and claims must be JSON objects");
    }
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| "invalid base64url")?;
    Ok(UnverifiedJwt {
        header,
        claims,
        signing_input: format!("{h}.{c}"),
        signature,
    })
}

/// Builds and signs a compact JWS.
pub fn sign_jwt(
    kid: &str,
    config: KeyConfig,
    key: &SigningKey,
    typ: Option<&str>,
    claims: &Value,
) -> Result<String, String> {
    let mut header = json!({"alg": config.alg(), "kid": kid});
    if let Some(typ) = typ {
        header["typ"] = json!(typ);
    }
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(|e| e.to_string())?);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(|e| e.to_string())?);
    let input = format!("{header}.{payload}");
    let sig = key.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

// ---- DER / PEM ----

/// Reads one DER TLV; returns (tag, content, rest).
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Extracts the PKCS#1 `RSAPrivateKey` from an RSA PKCS#8 `PrivateKeyInfo`: ZITADEL key files
/// carry `-----BEGIN RSA PRIVATE KEY-----`.
pub fn pkcs8_to_pkcs1(pkcs8: &[u8]) -> Option<Vec<u8>> {
    let (0x30, info, _) = der_tlv(pkcs8)? else {
        return None;
    };
    let (0x02, _version, rest) = der_tlv(info)? else {
        return None;
    };
    let (0x30, _alg, rest) = der_tlv(rest)? else {
        return None;
    };
    let (0x04, key, _) = der_tlv(rest)? else {
        return None;
    };
    Some(key.to_vec())
}

pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Decodes the first PEM block; returns (label, DER).
pub fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let after = &text[start + 11..];
    let label_end = after.find("-----")?;
    let label = after[..label_end].to_owned();
    let body_start = &after[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let body_end = body_start.find(&end_marker)?;
    let b64: String = body_start[..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD.decode(b64).ok()?;
    Some((label, der))
}

/// A new RSA-2048 machine key: (PKCS#1 private DER, PKCS#1 public DER).
pub fn generate_machine_key() -> Result<(Vec<u8>, Vec<u8>), String> {
    let pkcs8 = generate(KeyConfig::default())?;
    let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| crypto_err("RSA key parse"))?;
    let public = pair.public_key().as_ref().to_vec();
    let private = pkcs8_to_pkcs1(&pkcs8).ok_or("PKCS#8 layout unexpected")?;
    Ok((private, public))
}

/// Normalises an uploaded RSA public key (PEM, PKIX or PKCS#1) to PKCS#1 DER.
pub fn parse_rsa_public_pem(pem_text: &str) -> Option<Vec<u8>> {
    let (label, der) = pem_decode(pem_text)?;
    if label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" {
        return None;
    }
    let key = aws_lc_rs::rsa::PublicKey::from_der(&der).ok()?;
    Some(key.as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_type_signs_and_verifies_and_exports_a_jwk() {
        for config in [
            KeyConfig::default(),
            KeyConfig::Ecdsa { curve: Curve::P256 },
            KeyConfig::Ecdsa { curve: Curve::P384 },
            KeyConfig::Ed25519,
        ] {
            let pkcs8 = generate(config).unwrap();
            let jwt = sign_jwt(
                "k1",
                config,
                &SigningKey::parse(config, &pkcs8).unwrap(),
                Some("JWT"),
                &json!({"sub": "1"}),
            )
            .unwrap();
            let parsed = decode(&jwt).unwrap();
            assert_eq!(parsed.header["alg"], config.alg());
            assert_eq!(parsed.header["kid"], "k1");
            assert!(verify_own(
                config,
                &pkcs8,
                parsed.signing_input.as_bytes(),
                &parsed.signature
            ));
            let mut tampered = parsed.signing_input.clone();
            tampered.push('x');
            assert!(!verify_own(
                config,
                &pkcs8,
                tampered.as_bytes(),
                &parsed.signature
            ));
            let jwk = public_jwk("k1", config, &pkcs8).unwrap();
            assert_eq!(jwk["kid"], "k1");
            assert_eq!(jwk["alg"], config.alg());
        }
    }

    #[test]
    fn wire_config_round_trips_and_rejects_junk() {
        for config in [
            KeyConfig::Rsa {
                bits: 3072,
                hasher: Hasher::Sha512,
            },
            KeyConfig::Ecdsa { curve: Curve::P384 },
            KeyConfig::Ed25519,
        ] {
            assert_eq!(KeyConfig::from_wire(&config.to_wire()).unwrap(), config);
        }
        assert_eq!(
            KeyConfig::from_wire(&json!({})).unwrap(),
            KeyConfig::default()
        );
        assert!(KeyConfig::from_wire(&json!({"rsa": {"bits": "RSA_BITS_1024"}})).is_err());
        assert!(KeyConfig::from_wire(&json!({"rsa": {}, "ed25519": {}})).is_err());
        assert!(KeyConfig::from_wire(&json!([])).is_err());
    }

    #[test]
    fn machine_keys_round_trip_through_pem() {
        let (private, public) = generate_machine_key().unwrap();
        let text = pem("RSA PRIVATE KEY", &private);
        let (label, der) = pem_decode(&text).unwrap();
        assert_eq!(label, "RSA PRIVATE KEY");
        assert_eq!(der, private);
        // The PKCS#1 private key signs; the stored public key verifies.
        let pair = RsaKeyPair::from_der(&der).unwrap();
        let mut sig = vec![0; pair.public_modulus_len()];
        pair.sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            b"msg",
            &mut sig,
        )
        .unwrap();
        assert!(verify_rsa(Hasher::Sha256, &public, b"msg", &sig));
        assert!(!verify_rsa(Hasher::Sha256, &public, b"other", &sig));
        let spki = aws_lc_rs::rsa::PublicKey::from_der(&public)
            .unwrap()
            .as_der()
            .unwrap();
        let uploaded = pem("PUBLIC KEY", spki.as_ref());
        assert_eq!(parse_rsa_public_pem(&uploaded).unwrap(), public);
        assert!(parse_rsa_public_pem("junk").is_none());
    }

    #[test]
    fn decode_rejects_malformed_tokens() {
        assert!(decode("a.b").is_err());
        assert!(decode("a.b.c.d").is_err());
        assert!(decode("!!.e30.e30").is_err());
        assert!(decode(&"a".repeat(20_000)).is_err());
    }
}
