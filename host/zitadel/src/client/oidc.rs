//! OIDC discovery and the JWKS (public, no credentials). Field names here are OIDC's own
//! (snake_case), not protojson.

use std::time::Duration;

use reqwest::header::CACHE_CONTROL;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Call, Result, ZitadelClient, ZitadelError, decode};

/// `/.well-known/openid-configuration` (the members Gatehouse uses; others are kept in
/// `other`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OidcDiscovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    pub end_session_endpoint: Option<String>,
    pub introspection_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    pub scopes_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    pub claims_supported: Vec<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One JSON Web Key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Jwk {
    pub kty: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// RSA modulus and exponent (base64url).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC / OKP curve and coordinates (base64url).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|key| key.kid.as_deref() == Some(kid))
    }
}

/// The JWKS and how long ZITADEL says it may be cached (`Cache-Control: max-age`; ZITADEL sends
/// 300 s by default, `no-store` when configured to 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedJwks {
    pub jwks: Jwks,
    pub max_age: Option<Duration>,
}

/// `max-age` of a `Cache-Control` value; `no-store`/`no-cache` mean zero.
pub fn cache_max_age(value: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            max_age = seconds
                .trim_matches('"')
                .parse()
                .ok()
                .map(Duration::from_secs);
        }
    }
    max_age
}

impl ZitadelClient {
    /// Fetches `/.well-known/openid-configuration`.
    pub async fn discovery(&self) -> Result<OidcDiscovery> {
        const OP: &str = "discovery";
        let call = Call::get(OP, "/.well-known/openid-configuration".into());
        let reply = self.send_anonymous(&call).await?;
        let discovery: OidcDiscovery = decode(OP, &reply.body)?;
        if discovery.issuer.is_empty() || discovery.jwks_uri.is_empty() {
            return Err(ZitadelError::Decode {
                op: OP,
                message: "the discovery document has no issuer or jwks_uri".into(),
            });
        }
        Ok(discovery)
    }

    /// Fetches ZITADEL's signing keys from `/oauth/v2/keys`.
    pub async fn jwks(&self) -> Result<FetchedJwks> {
        const OP: &str = "jwks";
        let call = Call::get(OP, "/oauth/v2/keys".into());
        let reply = self.send_anonymous(&call).await?;
        let jwks: Jwks = decode(OP, &reply.body)?;
        if jwks.keys.iter().any(|key| key.kty.is_empty()) {
            return Err(ZitadelError::Decode {
                op: OP,
                message: "a key in the JWKS has no `kty`".into(),
            });
        }
        let max_age = reply
            .headers
            .get(CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(cache_max_age);
        Ok(FetchedJwks { jwks, max_age })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cache_control() {
        assert_eq!(
            cache_max_age("max-age=300, must-revalidate"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            cache_max_age("public, Max-Age=60"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(cache_max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(cache_max_age("must-revalidate"), None);
        assert_eq!(cache_max_age("max-age=soon"), None);
    }

    #[test]
    fn jwks_shapes() {
        let jwks: Jwks = serde_json::from_value(json!({"keys": [
            {"use": "sig", "kty": "RSA", "kid": "k1", "alg": "RS256", "n": "AQAB", "e": "AQAB"},
            {"use": "sig", "kty": "EC", "kid": "k2", "alg": "ES256", "crv": "P-256", "x": "x", "y": "y"}
        ]}))
        .unwrap();
        assert_eq!(jwks.find("k2").unwrap().crv.as_deref(), Some("P-256"));
        assert_eq!(jwks.find("k1").unwrap().key_use.as_deref(), Some("sig"));
        assert!(jwks.find("k3").is_none());
    }
}
