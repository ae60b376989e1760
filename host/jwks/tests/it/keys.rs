//! Test signing keys (generated with aws-lc-rs) and a token signer that gives full control over
//! the header and payload bytes, so malformed and malicious tokens can be built too.
//! Shared with the benchmark (`benches/verify.rs`).

#![allow(dead_code)]

use aws_lc_rs::{
    encoding::AsDer,
    rand::SystemRandom,
    rsa::KeySize,
    signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
        RsaKeyPair, RsaPublicKeyComponents,
    },
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private key with its public JWK.
pub struct TestKey {
    pub kid: String,
    pub alg: &'static str,
    pair: Pair,
    pub jwk: Value,
}

impl TestKey {
    /// RSA-2048 for RS256.
    pub fn rsa(kid: &str) -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let c = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let jwk =
            json!({"kty":"RSA","use":"sig","alg":"RS256","kid":kid,"n":b64(&c.n),"e":b64(&c.e)});
        Self {
            kid: kid.into(),
            alg: "RS256",
            pair: Pair::Rsa(pair),
            jwk,
        }
    }

    /// P-256 for ES256.
    pub fn ec(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key");
        let p = pair.public_key().as_ref().to_vec();
        let jwk = json!({"kty":"EC","use":"sig","alg":"ES256","crv":"P-256","kid":kid,"x":b64(&p[1..33]),"y":b64(&p[33..65])});
        Self {
            kid: kid.into(),
            alg: "ES256",
            pair: Pair::Ec(pair),
            jwk,
        }
    }

    /// Ed25519 for EdDSA.
    pub fn ed(kid: &str) -> Self {
        let pair = Ed25519KeyPair::generate().expect("Ed25519 key");
        let jwk = json!({"kty":"OKP","use":"sig","alg":"EdDSA","crv":"Ed25519","kid":kid,"x":b64(pair.public_key().as_ref())});
        Self {
            kid: kid.into(),
            alg: "EdDSA",
            pair: Pair::Ed(pair),
            jwk,
        }
    }

    /// The raw signature of `input` with this key's algorithm.
    pub fn signature(&self, input: &[u8]) -> Vec<u8> {
        match &self.pair {
            Pair::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input, &mut sig)
                    .expect("RSA sign");
                sig
            }
            Pair::Ec(pair) => pair
                .sign(&SystemRandom::new(), input)
                .expect("EC sign")
                .as_ref()
                .to_vec(),
            Pair::Ed(pair) => pair.sign(input).as_ref().to_vec(),
        }
    }

    /// Signs exact header and payload JSON texts.
    pub fn sign_raw(&self, header_json: &str, payload_json: &str) -> String {
        let input = format!("{}.{}", b64(header_json), b64(payload_json));
        let sig = self.signature(input.as_bytes());
        format!("{input}.{}", b64(sig))
    }

    /// Signs `claims` under `header`.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(&header.to_string(), &claims.to_string())
    }

    /// The usual header: this key's `alg`, `typ: JWT`, its `kid`.
    pub fn header(&self) -> Value {
        json!({"alg": self.alg, "typ": "JWT", "kid": self.kid})
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(&self.header(), claims)
    }

    /// DER SubjectPublicKeyInfo of an RSA key (what a confused verifier might use as an HMAC
    /// secret).
    pub fn rsa_spki_der(&self) -> Vec<u8> {
        match &self.pair {
            Pair::Rsa(pair) => pair.public_key().as_der().expect("SPKI").as_ref().to_vec(),
            _ => panic!("not an RSA key"),
        }
    }
}

/// A JWKS document of these keys.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}
