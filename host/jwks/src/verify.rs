//! Token verification: the order of checks and every refusal.

use std::time::Duration;

use crate::{
    Alg, Claims, JwksCache, JwksError,
    alg::HeaderAlg,
    cache::Snapshot,
    clock::unix_seconds,
    jose::{self, ObjectError},
    keyset::Selection,
};

/// What a token must satisfy. Built with [`VerifyOptions::new`] and adjusted with the `with_*`
/// methods; checked by [`Verifier::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyOptions {
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<Alg>,
    leeway: Duration,
    max_token_bytes: usize,
    max_header_bytes: usize,
}

impl VerifyOptions {
    /// Tokens must come from exactly `issuer` and name at least one of `audiences` in `aud`
    /// (ZITADEL lists the project's client ids and the project id there).
    pub fn new<A: Into<String>>(
        issuer: impl Into<String>,
        audiences: impl IntoIterator<Item = A>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            algorithms: Alg::DEFAULT_ALLOWED.to_vec(),
            leeway: Duration::from_secs(30),
            max_token_bytes: 16 * 1024,
            max_header_bytes: 4 * 1024,
        }
    }

    /// The algorithm allowlist (default RS256, ES256, EdDSA). `none` and HMAC cannot be listed.
    pub fn with_algorithms(mut self, algorithms: &[Alg]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 30 s).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Longest token accepted, in bytes (default 16 KiB).
    pub fn with_max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// Longest encoded header accepted, in bytes (default 4 KiB).
    pub fn with_max_header_bytes(mut self, max: usize) -> Self {
        self.max_header_bytes = max;
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    pub fn algorithms(&self) -> &[Alg] {
        &self.algorithms
    }

    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    fn validate(&self) -> Result<(), JwksError> {
        let fail = |m: &str| Err(JwksError::Config(m.to_owned()));
        if self.issuer.is_empty() {
            return fail("the expected issuer is empty");
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return fail("at least one non-empty expected audience is required");
        }
        if self.algorithms.is_empty() {
            return fail("the algorithm allowlist is empty");
        }
        if self.leeway > Duration::from_secs(5 * 60) {
            return fail("leeway over 5 minutes defeats expiry checks");
        }
        if self.max_token_bytes == 0 || self.max_header_bytes == 0 {
            return fail("token size limits must be positive");
        }
        Ok(())
    }
}

/// Why a token was refused. Every variant is a refusal of the token (HTTP 401) except
/// [`VerifyError::KeysUnavailable`], which means the verifier could not get keys at all (503).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("token is {len} bytes, over the {max}-byte limit")]
    TokenTooLarge { len: usize, max: usize },
    #[error("token header is {len} bytes, over the {max}-byte limit")]
    HeaderTooLarge { len: usize, max: usize },
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("unsecured tokens (`alg: none`) are refused")]
    AlgNone,
    #[error("HMAC algorithm `{0}` is refused: only public-key signatures are accepted")]
    HmacRefused(String),
    #[error("algorithm `{0}` is not supported")]
    UnsupportedAlg(String),
    #[error("algorithm {0} is not in the allowlist")]
    AlgNotAllowed(Alg),
    #[error("invalid `crit` header: {0}")]
    InvalidCrit(&'static str),
    #[error("critical header extension(s) not understood: {}", .0.join(", "))]
    UnsupportedCritical(Vec<String>),
    #[error("token has no `kid` and the key set holds several keys")]
    MissingKid,
    #[error("no signing key with kid `{0}`")]
    UnknownKid(String),
    #[error("the key set holds no signing key")]
    NoKeys,
    #[error("key {} is {key}, which cannot verify {alg}", kid.as_deref().unwrap_or("(no kid)"))]
    KeyMismatch {
        kid: Option<String>,
        alg: Alg,
        key: String,
    },
    #[error("several keys with kid `{kid}` can verify {alg}")]
    AmbiguousKey { kid: String, alg: Alg },
    #[error("signature is invalid")]
    InvalidSignature,
    #[error("token expired at {exp} (now {now})")]
    Expired { exp: i64, now: i64 },
    #[error("token is not valid before {nbf} (now {now})")]
    NotYetValid { nbf: i64, now: i64 },
    #[error("token was issued in the future ({iat}, now {now})")]
    IssuedInFuture { iat: i64, now: i64 },
    #[error("token issuer `{found}` is not the expected issuer")]
    IssuerMismatch { found: String },
    #[error("token audience does not include an expected audience")]
    AudienceMismatch,
    #[error("token lacks the `{0}` claim")]
    MissingClaim(&'static str),
    #[error("invalid `{claim}` claim: {reason}")]
    InvalidClaim {
        claim: &'static str,
        reason: &'static str,
    },
    #[error("signing keys are unavailable: {0}")]
    KeysUnavailable(#[source] JwksError),
}

impl VerifyError {
    /// A stable short code for logs and metrics (`"expired"`, `"alg_none"`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TokenTooLarge { .. } => "token_too_large",
            Self::HeaderTooLarge { .. } => "header_too_large",
            Self::Malformed(_) => "malformed",
            Self::AlgNone => "alg_none",
            Self::HmacRefused(_) => "hmac_refused",
            Self::UnsupportedAlg(_) => "unsupported_alg",
            Self::AlgNotAllowed(_) => "alg_not_allowed",
            Self::InvalidCrit(_) => "invalid_crit",
            Self::UnsupportedCritical(_) => "unsupported_crit",
            Self::MissingKid => "missing_kid",
            Self::UnknownKid(_) => "unknown_kid",
            Self::NoKeys => "no_keys",
            Self::KeyMismatch { .. } => "key_mismatch",
            Self::AmbiguousKey { .. } => "ambiguous_key",
            Self::InvalidSignature => "invalid_signature",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::IssuedInFuture { .. } => "issued_in_future",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
            Self::AudienceMismatch => "audience_mismatch",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim { .. } => "invalid_claim",
            Self::KeysUnavailable(_) => "keys_unavailable",
        }
    }

    /// True when the failure is the verifier's (no keys could be obtained), not the token's.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::KeysUnavailable(_))
    }
}

/// A token whose signature and claims passed every check.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedToken {
    pub alg: Alg,
    /// The header's `kid`, when it had one.
    pub kid: Option<String>,
    pub claims: Claims,
}

/// Verifies JWTs against a [`JwksCache`] under [`VerifyOptions`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Verifier {
    options: std::sync::Arc<VerifyOptions>,
    keys: JwksCache,
}

/// Issuer values echoed in errors are cut to this many characters (they come from the token).
const MAX_ECHOED: usize = 200;

impl Verifier {
    pub fn new(options: VerifyOptions, keys: JwksCache) -> Result<Self, JwksError> {
        options.validate()?;
        Ok(Self {
            options: std::sync::Arc::new(options),
            keys,
        })
    }

    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    pub fn keys(&self) -> &JwksCache {
        &self.keys
    }

    /// Verifies a compact JWS (the bare token, without `Bearer `).
    ///
    /// Checks, in order: size; three base64url segments; header size, JSON without duplicate
    /// members; `alg` (`none` and HMAC refused, then the allowlist); `crit`; key lookup by `kid`
    /// (one refetch per cooldown for an unknown `kid`); key type against `alg`; signature; then
    /// the claims: types, `iss`, `aud`, `exp`, `nbf`, `iat`.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, VerifyError> {
        let opts = &*self.options;
        if token.len() > opts.max_token_bytes {
            return Err(VerifyError::TokenTooLarge {
                len: token.len(),
                max: opts.max_token_bytes,
            });
        }
        let segments = jose::split(token)?;
        if segments.header.len() > opts.max_header_bytes {
            return Err(VerifyError::HeaderTooLarge {
                len: segments.header.len(),
                max: opts.max_header_bytes,
            });
        }
        let header_json = jose::b64_decode(segments.header)
            .ok_or(VerifyError::Malformed("header is not base64url"))?;
        let header = jose::parse_header(&header_json)?;
        let alg = match HeaderAlg::classify(&header.alg) {
            HeaderAlg::Asymmetric(alg) if opts.algorithms.contains(&alg) => alg,
            HeaderAlg::Asymmetric(alg) => return Err(VerifyError::AlgNotAllowed(alg)),
            HeaderAlg::None => return Err(VerifyError::AlgNone),
            HeaderAlg::Hmac(name) => return Err(VerifyError::HmacRefused(name)),
            HeaderAlg::Unknown(name) => {
                return Err(VerifyError::UnsupportedAlg(name.chars().take(32).collect()));
            }
        };
        let signature = match jose::b64_decode(segments.signature) {
            Some(s) if !s.is_empty() => s,
            Some(_) => return Err(VerifyError::Malformed("empty signature")),
            None => return Err(VerifyError::Malformed("signature is not base64url")),
        };

        let snapshot = self
            .keys
            .keys()
            .await
            .map_err(VerifyError::KeysUnavailable)?;
        let kid = header.kid.as_deref();
        let check = |snapshot: &Snapshot| -> Result<(), VerifyError> {
            let key = match snapshot.keys.select(alg, kid) {
                Selection::Found(key) => key,
                Selection::UnknownKid => {
                    return Err(VerifyError::UnknownKid(
                        kid.unwrap_or_default().chars().take(MAX_ECHOED).collect(),
                    ));
                }
                Selection::MissingKid => return Err(VerifyError::MissingKid),
                Selection::NoKeys => return Err(VerifyError::NoKeys),
                Selection::Mismatch { key } => {
                    return Err(VerifyError::KeyMismatch {
                        kid: header.kid.clone(),
                        alg,
                        key,
                    });
                }
                Selection::Ambiguous => {
                    return Err(VerifyError::AmbiguousKey {
                        kid: kid.unwrap_or_default().to_owned(),
                        alg,
                    });
                }
            };
            // aws-lc directly, with the key parsed when the JWKS was loaded.
            if key.verify(alg, segments.signing_input.as_bytes(), &signature) {
                Ok(())
            } else {
                Err(VerifyError::InvalidSignature)
            }
        };
        match check(&snapshot) {
            Err(VerifyError::UnknownKid(unknown)) => {
                // The IdP may have rotated in a key we have not seen: one refetch, shared and
                // rate-limited by the cache.
                match self.keys.after_unknown_kid(&snapshot, &unknown).await {
                    Some(newer) => check(&newer)?,
                    None => return Err(VerifyError::UnknownKid(unknown)),
                }
            }
            other => other?,
        }

        let payload = jose::b64_decode(segments.payload)
            .ok_or(VerifyError::Malformed("payload is not base64url"))?;
        let raw = jose::parse_object(&payload).map_err(|e| match e {
            ObjectError::Duplicate => VerifyError::Malformed("duplicate claim"),
            ObjectError::NotObject => VerifyError::Malformed("payload is not a JSON object"),
            ObjectError::NotJson => VerifyError::Malformed("payload is not valid JSON"),
        })?;
        let claims = Claims::from_map(raw)?;
        self.check_claims(&claims)?;
        Ok(VerifiedToken {
            alg,
            kid: header.kid,
            claims,
        })
    }

    fn check_claims(&self, claims: &Claims) -> Result<(), VerifyError> {
        let opts = &*self.options;
        if claims.iss != opts.issuer {
            return Err(VerifyError::IssuerMismatch {
                found: claims.iss.chars().take(MAX_ECHOED).collect(),
            });
        }
        if !claims.aud.iter().any(|a| opts.audiences.contains(a)) {
            return Err(VerifyError::AudienceMismatch);
        }
        let now = unix_seconds(self.keys.clock().now());
        let leeway = i64::try_from(opts.leeway.as_secs()).unwrap_or(i64::MAX);
        if now >= claims.exp.saturating_add(leeway) {
            return Err(VerifyError::Expired {
                exp: claims.exp,
                now,
            });
        }
        if let Some(nbf) = claims.nbf
            && now.saturating_add(leeway) < nbf
        {
            return Err(VerifyError::NotYetValid { nbf, now });
        }
        if let Some(iat) = claims.iat
            && iat > now.saturating_add(leeway)
        {
            return Err(VerifyError::IssuedInFuture { iat, now });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeySet;

    #[test]
    fn verifier_and_its_futures_can_cross_threads() {
        // axum handlers and spawned tasks need `Send` futures and `Send + Sync` state.
        fn shareable<T: Send + Sync>() {}
        fn send<T: Send>(_: &T) {}
        shareable::<Verifier>();
        shareable::<JwksCache>();
        let cache = JwksCache::fixed(KeySet::default());
        let verifier = Verifier::new(VerifyOptions::new("https://idp", ["app"]), cache).unwrap();
        send(&verifier.verify("a.b.c"));
        send(&verifier.keys().refresh());
        send(&verifier.keys().run_refresh_loop());
    }

    /// The per-token path checks signatures with the keys parsed when the JWKS was loaded: many
    /// verifications (and refusals) parse nothing.
    #[tokio::test]
    async fn tokens_never_parse_keys() {
        use serde_json::json;

        use crate::{KeySetLimits, keyset::PARSES, testkeys};

        let k = testkeys::keys();
        let mut rs256 = k.jwk(Alg::RS256, "rs256");
        rs256["alg"] = json!("RS256");
        let jwks = json!({"keys": [
            rs256,
            k.jwk(Alg::PS256, "rsa-any"),
            k.jwk(Alg::ES256, "p256"),
            k.jwk(Alg::EdDSA, "ed"),
        ]});
        let parses = || PARSES.with(|n| n.get());
        let before = parses();
        let set = KeySet::from_jwks_value(jwks, &KeySetLimits::default()).unwrap();
        assert_eq!(parses() - before, 1 + 6 + 1 + 1);
        let loaded = parses();

        let verifier = Verifier::new(
            VerifyOptions::new("https://idp", ["app"]).with_algorithms(&Alg::ALL),
            JwksCache::fixed(set),
        )
        .unwrap();
        let now = unix_seconds(std::time::SystemTime::now());
        let claims = json!({"iss": "https://idp", "aud": "app", "sub": "u", "exp": now + 600});
        for (alg, kid) in [
            (Alg::RS256, "rs256"),
            (Alg::RS256, "rsa-any"),
            (Alg::PS384, "rsa-any"),
            (Alg::ES256, "p256"),
            (Alg::EdDSA, "ed"),
        ] {
            let token = k.token(alg, kid, &claims);
            for _ in 0..25 {
                let v = verifier.verify(&token).await.unwrap();
                assert_eq!((v.alg, v.claims.sub.as_deref()), (alg, Some("u")));
            }
            let (input, sig) = token.rsplit_once('.').unwrap();
            let mut sig = jose::b64_decode(sig).unwrap();
            sig[0] ^= 0x80;
            let tampered = format!("{input}.{}", testkeys::b64url(&sig));
            assert!(matches!(
                verifier.verify(&tampered).await,
                Err(VerifyError::InvalidSignature)
            ));
        }
        // `rs256` names `alg: RS256`, so a PS256 token for it is refused before any signature
        // check, even though the same RSA key signed it.
        let ps = k.token(Alg::PS256, "rs256", &claims);
        assert!(matches!(
            verifier.verify(&ps).await,
            Err(VerifyError::KeyMismatch {
                alg: Alg::PS256,
                ..
            })
        ));
        assert_eq!(parses(), loaded, "verification parsed a key");
    }

    #[test]
    fn options_are_validated() {
        let ok = VerifyOptions::new("https://idp", ["app"]);
        assert_eq!(ok.algorithms(), Alg::DEFAULT_ALLOWED);
        assert_eq!(ok.leeway(), Duration::from_secs(30));
        assert!(ok.validate().is_ok());
        let bad = [
            VerifyOptions::new("", ["app"]),
            VerifyOptions::new("https://idp", Vec::<String>::new()),
            VerifyOptions::new("https://idp", [""]),
            VerifyOptions::new("https://idp", ["app"]).with_algorithms(&[]),
            VerifyOptions::new("https://idp", ["app"]).with_leeway(Duration::from_secs(3600)),
            VerifyOptions::new("https://idp", ["app"]).with_max_token_bytes(0),
        ];
        for b in bad {
            assert!(matches!(b.validate(), Err(JwksError::Config(_))), "{b:?}");
        }
    }
}
