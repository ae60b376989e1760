//! Unit-test signing keys for every supported algorithm (generated once per test binary) and a
//! compact-JWS signer. The integration tests have their own (`tests/it/keys.rs`).

use std::sync::OnceLock;

use aws_lc_rs::{
    rand::SystemRandom,
    rsa::KeySize,
    signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
        Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512,
        RSA_PSS_SHA256, RSA_PSS_SHA384, RSA_PSS_SHA512, RsaKeyPair, RsaPublicKeyComponents,
    },
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::Alg;

pub(crate) fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) struct TestKeys {
    rsa: RsaKeyPair,
    p256: EcdsaKeyPair,
    p384: EcdsaKeyPair,
    ed: Ed25519KeyPair,
}

pub(crate) fn keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(|| TestKeys {
        rsa: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
        p256: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        p384: EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap(),
        ed: Ed25519KeyPair::generate().unwrap(),
    })
}

impl TestKeys {
    /// The public JWK of the key `alg` signs with, without an `alg` member (add one if needed).
    pub(crate) fn jwk(&self, alg: Alg, kid: &str) -> Value {
        match alg {
            Alg::ES256 | Alg::ES384 => {
                let (pair, crv, len) = if alg == Alg::ES256 {
                    (&self.p256, "P-256", 32)
                } else {
                    (&self.p384, "P-384", 48)
                };
                let p = pair.public_key().as_ref();
                json!({"kty":"EC","crv":crv,"kid":kid,"x":b64url(&p[1..=len]),"y":b64url(&p[1 + len..])})
            }
            Alg::EdDSA => {
                json!({"kty":"OKP","crv":"Ed25519","kid":kid,"x":b64url(self.ed.public_key())})
            }
            _ => {
                let c = RsaPublicKeyComponents::<Vec<u8>>::from(self.rsa.public_key());
                json!({"kty":"RSA","kid":kid,"n":b64url(&c.n),"e":b64url(&c.e)})
            }
        }
    }

    /// The raw JWS signature of `message` with `alg`.
    pub(crate) fn sign(&self, alg: Alg, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        let rsa = |padding| {
            let mut sig = vec![0; self.rsa.public_modulus_len()];
            self.rsa.sign(padding, &rng, message, &mut sig).unwrap();
            sig
        };
        match alg {
            Alg::RS256 => rsa(&RSA_PKCS1_SHA256),
            Alg::RS384 => rsa(&RSA_PKCS1_SHA384),
            Alg::RS512 => rsa(&RSA_PKCS1_SHA512),
            Alg::PS256 => rsa(&RSA_PSS_SHA256),
            Alg::PS384 => rsa(&RSA_PSS_SHA384),
            Alg::PS512 => rsa(&RSA_PSS_SHA512),
            Alg::ES256 => self.p256.sign(&rng, message).unwrap().as_ref().to_vec(),
            Alg::ES384 => self.p384.sign(&rng, message).unwrap().as_ref().to_vec(),
            Alg::EdDSA => self.ed.sign(message).as_ref().to_vec(),
        }
    }

    /// A compact JWS of `claims` signed with `alg`, naming `kid`.
    pub(crate) fn token(&self, alg: Alg, kid: &str, claims: &Value) -> String {
        let header = json!({"alg": alg.as_str(), "typ": "JWT", "kid": kid});
        let input = format!(
            "{}.{}",
            b64url(header.to_string()),
            b64url(claims.to_string())
        );
        let sig = self.sign(alg, input.as_bytes());
        format!("{input}.{}", b64url(sig))
    }
}
