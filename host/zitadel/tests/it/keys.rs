//! Throwaway RSA keys for JWT-profile tests, in ZITADEL's key-file format.

use aws_lc_rs::{
    encoding::AsDer,
    rsa::{KeyPair, KeySize},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use gatehouse_zitadel::client::ServiceAccountKey;
use jsonwebtoken::DecodingKey;
use serde_json::json;

pub struct TestKey {
    pub key_id: String,
    pub user_id: String,
    pub private_pem: String,
    public_der: Vec<u8>,
}

impl TestKey {
    pub fn generate() -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = AsDer::as_der(&pair).unwrap();
        let body = STANDARD.encode(pkcs8.as_ref());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|chunk| std::str::from_utf8(chunk).unwrap())
            .collect();
        let private_pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        );
        use aws_lc_rs::signature::KeyPair as _;
        Self {
            key_id: "key-123".into(),
            user_id: "user-456".into(),
            private_pem,
            public_der: pair.public_key().as_ref().to_vec(),
        }
    }

    /// The JSON ZITADEL offers for download when a key is added to a machine user.
    pub fn key_file_json(&self) -> String {
        json!({
            "type": "serviceaccount",
            "keyId": self.key_id,
            "key": self.private_pem,
            "expirationDate": "2030-01-01T00:00:00Z",
            "userId": self.user_id
        })
        .to_string()
    }

    pub fn service_account_key(&self) -> ServiceAccountKey {
        ServiceAccountKey::from_json(&self.key_file_json()).unwrap()
    }

    pub fn decoding_key(&self) -> DecodingKey {
        DecodingKey::from_rsa_der(&self.public_der)
    }
}
