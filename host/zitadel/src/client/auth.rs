//! Credentials for ZITADEL's API: a personal access token (PAT) of a machine user, or a
//! service-user key file exchanged for an access token with the JWT profile grant (RFC 7523).

use std::{
    path::Path,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{Secret, ZitadelError};

/// The scope that makes ZITADEL issue a token its own APIs accept.
pub const API_SCOPE: &str = "openid urn:zitadel:iam:org:project:id:zitadel:aud";

pub(crate) const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How the client authenticates.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// A personal access token, sent as is.
    Pat(Secret),
    /// A service-user key; the client obtains and caches access tokens with it.
    ServiceAccount(ServiceAccountKey),
}

impl Credentials {
    pub fn pat(token: impl Into<Secret>) -> Result<Self, ZitadelError> {
        let token = token.into();
        let trimmed = token.expose().trim();
        if trimmed.is_empty() {
            return Err(ZitadelError::Credentials(
                "the personal access token is empty".into(),
            ));
        }
        // A PAT read from a file usually ends with a newline; a header value must not.
        if trimmed.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ZitadelError::Credentials(
                "the personal access token contains whitespace or control characters".into(),
            ));
        }
        Ok(Self::Pat(Secret::new(trimmed)))
    }

    /// Reads a PAT from a file (a trailing newline is fine).
    pub fn from_pat_file(path: &Path) -> Result<Self, ZitadelError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ZitadelError::Credentials(format!("cannot read PAT file {}: {e}", path.display()))
        })?;
        Self::pat(text)
    }

    /// Reads a key file as ZITADEL downloads it (`{"type":"serviceaccount","keyId",…}`).
    pub fn from_key_file(path: &Path) -> Result<Self, ZitadelError> {
        ServiceAccountKey::from_file(path).map(Self::ServiceAccount)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    key_id: String,
    key: Secret,
    user_id: Option<String>,
}

/// A machine user's key: `keyId`, `userId` and the RSA private key (PEM).
#[derive(Clone)]
pub struct ServiceAccountKey {
    key_id: String,
    user_id: String,
    key: EncodingKey,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("key_id", &self.key_id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    pub fn from_file(path: &Path) -> Result<Self, ZitadelError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ZitadelError::Credentials(format!("cannot read key file {}: {e}", path.display()))
        })?;
        Self::from_json(&text)
    }

    /// Parses the key file's JSON. Errors never quote the file (it holds the private key).
    pub fn from_json(text: &str) -> Result<Self, ZitadelError> {
        let file: KeyFile = serde_json::from_str(text).map_err(|e| {
            ZitadelError::Credentials(format!(
                "not a ZITADEL key file ({:?} error at line {}, column {}; expected \
                 {{\"type\":\"serviceaccount\",\"keyId\",\"key\",\"userId\"}})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        match file.kind.as_deref() {
            None | Some("serviceaccount") => {}
            Some("application") => {
                return Err(ZitadelError::Credentials(
                    "this is an application key (for introspection), not a service-user key; \
                     create a key for a machine user instead"
                        .into(),
                ));
            }
            Some(other) => {
                return Err(ZitadelError::Credentials(format!(
                    "unsupported key file type `{}`; expected `serviceaccount`",
                    other.chars().take(40).collect::<String>()
                )));
            }
        }
        let user_id = file
            .user_id
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| ZitadelError::Credentials("the key file has no `userId`".into()))?;
        if file.key_id.trim().is_empty() {
            return Err(ZitadelError::Credentials(
                "the key file has no `keyId`".into(),
            ));
        }
        let key = EncodingKey::from_rsa_pem(file.key.expose().as_bytes()).map_err(|_| {
            ZitadelError::Credentials(
                "the key file's `key` is not an RSA private key in PEM form".into(),
            )
        })?;
        Ok(Self {
            key_id: file.key_id,
            user_id,
            key,
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The RS256 assertion for the JWT profile grant: `iss = sub = userId`, `aud` = the issuer,
    /// `kid = keyId`. `iat` is set slightly in the past so a small clock skew between us and
    /// ZITADEL does not make it look issued in the future.
    pub fn assertion(&self, audience: &str, now: SystemTime) -> Result<Secret, ZitadelError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            sub: &'a str,
            aud: &'a str,
            iat: u64,
            exp: u64,
        }
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| ZitadelError::Credentials("system clock is before 1970".into()))?
            .as_secs();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.key_id.clone());
        let claims = Claims {
            iss: &self.user_id,
            sub: &self.user_id,
            aud: audience,
            iat: now.saturating_sub(ASSERTION_BACKDATE.as_secs()),
            exp: now + ASSERTION_LIFETIME.as_secs(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(Secret::new)
            .map_err(|e| ZitadelError::Credentials(format!("cannot sign the JWT assertion: {e}")))
    }
}

const ASSERTION_BACKDATE: Duration = Duration::from_secs(10);
const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);
/// Refresh this long before expiry at most, so a token never expires mid-request.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Used when the token response has no `expires_in`.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// `/oauth/v2/token`'s answer.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: Secret,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

#[derive(Clone)]
pub(crate) struct CachedToken {
    pub token: Secret,
    pub refresh_at: Instant,
}

impl CachedToken {
    /// Refresh at expiry minus a margin of at most a minute and at most half the lifetime, so
    /// short-lived tokens are still reused a little.
    pub fn new(token: Secret, expires_in: Option<u64>, received_at: Instant) -> Self {
        let lifetime = expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        Self {
            token,
            refresh_at: received_at + (lifetime - margin),
        }
    }
}

/// The JWT-profile state: the key, the audience and the cached access token. The mutex is held
/// while a token is fetched so concurrent calls share one token request.
pub(crate) struct JwtProfile {
    pub key: ServiceAccountKey,
    pub audience: String,
    pub cache: Mutex<Option<CachedToken>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pat_is_trimmed_and_checked() {
        let Credentials::Pat(token) = Credentials::pat("abc.def\n").unwrap() else {
            panic!("expected a PAT");
        };
        assert_eq!(token.expose(), "abc.def");
        assert!(Credentials::pat("  \n").is_err());
        assert!(Credentials::pat("abc def").is_err());
    }

    #[test]
    fn pat_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zitadel.pat");
        std::fs::write(&path, "pat-from-file\n").unwrap();
        let Credentials::Pat(token) = Credentials::from_pat_file(&path).unwrap() else {
            panic!("expected a PAT");
        };
        assert_eq!(token.expose(), "pat-from-file");
        let err = Credentials::from_pat_file(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("cannot read PAT file"), "{err}");
    }

    #[test]
    fn key_file_errors_are_clear_and_never_quote_the_key() {
        let err =
            ServiceAccountKey::from_json("-----BEGIN RSA PRIVATE KEY-----\nAAAA").unwrap_err();
        assert!(err.to_string().contains("not a ZITADEL key file"), "{err}");
        assert!(!err.to_string().contains("AAAA"));

        let app_key = r#"{"type":"application","keyId":"1","key":"x","appId":"2","clientId":"3"}"#;
        let err = ServiceAccountKey::from_json(app_key).unwrap_err();
        assert!(err.to_string().contains("application key"), "{err}");

        let no_user = r#"{"type":"serviceaccount","keyId":"1","key":"secret-material"}"#;
        let err = ServiceAccountKey::from_json(no_user).unwrap_err();
        assert!(err.to_string().contains("userId"), "{err}");

        let bad_pem =
            r#"{"type":"serviceaccount","keyId":"1","key":"secret-material","userId":"9"}"#;
        let err = ServiceAccountKey::from_json(bad_pem).unwrap_err();
        assert!(err.to_string().contains("not an RSA private key"), "{err}");
        assert!(!err.to_string().contains("secret-material"));
    }

    #[test]
    fn token_refresh_margin() {
        let now = Instant::now();
        let hour = CachedToken::new(Secret::new("t"), Some(3600), now);
        assert_eq!(hour.refresh_at - now, Duration::from_secs(3540));
        let short = CachedToken::new(Secret::new("t"), Some(10), now);
        assert_eq!(short.refresh_at - now, Duration::from_secs(5));
        let zero = CachedToken::new(Secret::new("t"), Some(0), now);
        assert_eq!(zero.refresh_at, now);
        let missing = CachedToken::new(Secret::new("t"), None, now);
        assert_eq!(missing.refresh_at - now, Duration::from_secs(240));
    }
}
