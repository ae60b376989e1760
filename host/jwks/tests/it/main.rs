//! Integration tests: a real HTTP test IdP, real keys, the default reqwest fetcher.

mod attacks;
mod cache;
mod claims;
mod export;
mod idp;
mod keys;
mod limits;
mod rotation;
mod seed;

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, SystemTime},
};

use gatehouse_jwks::{CacheOptions, JwksCache, ManualClock, Verifier, VerifyError, VerifyOptions};
use serde_json::{Value, json};

use crate::{idp::TestIdp, keys::TestKey};

/// ZITADEL puts every client id of the project and the project id in `aud`.
pub const CLIENT: &str = "281474976710656@gatehouse";
pub const PROJECT: &str = "281474976710655";

pub struct Keys {
    pub rsa_a: TestKey,
    pub rsa_b: TestKey,
    pub ec: TestKey,
    pub ed: TestKey,
    /// Never published by the IdP.
    pub attacker: TestKey,
}

/// Generated once per test binary (RSA generation is the slow part).
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa_a: TestKey::rsa("rsa-a"),
        rsa_b: TestKey::rsa("rsa-b"),
        ec: TestKey::ec("ec-1"),
        ed: TestKey::ed("ed-1"),
        attacker: TestKey::rsa("rsa-evil"),
    })
}

/// An IdP, a manual clock and a verifier wired to them.
pub struct Fixture {
    pub idp: TestIdp,
    pub clock: ManualClock,
    pub cache: JwksCache,
    pub verifier: Verifier,
}

impl Fixture {
    pub async fn new(jwks: Value) -> Self {
        Self::with(jwks, CacheOptions::default(), |o| o).await
    }

    pub async fn with(
        jwks: Value,
        options: CacheOptions,
        verify: impl FnOnce(VerifyOptions) -> VerifyOptions,
    ) -> Self {
        let idp = TestIdp::start(jwks).await;
        let clock = ManualClock::starting_now();
        let cache = JwksCache::remote(idp.jwks_uri())
            .issuer(idp.issuer())
            .options(options)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        let verifier = Verifier::new(
            verify(VerifyOptions::new(idp.issuer(), [CLIENT])),
            cache.clone(),
        )
        .unwrap();
        Self {
            idp,
            clock,
            cache,
            verifier,
        }
    }

    pub fn now(&self) -> i64 {
        unix(self.clock_now())
    }

    pub fn clock_now(&self) -> SystemTime {
        use gatehouse_jwks::Clock;
        self.clock.now()
    }

    /// Claims ZITADEL would put in an access token, valid for 10 minutes from the clock's now.
    pub fn claims(&self) -> Value {
        let now = self.now();
        json!({
            "iss": self.idp.issuer(),
            "sub": "user-1",
            "aud": [CLIENT, PROJECT],
            "azp": CLIENT,
            "client_id": CLIENT,
            "exp": now + 600,
            "iat": now,
            "nbf": now,
            "jti": "jti-1",
            "scope": "openid profile",
            "urn:zitadel:iam:org:project:roles": {"admin": {"org-1": "example.com"}}
        })
    }

    pub async fn verify(&self, token: &str) -> Result<gatehouse_jwks::VerifiedToken, VerifyError> {
        self.verifier.verify(token).await
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}

pub fn unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Asserts an error variant by its stable code, printing the error on mismatch.
#[track_caller]
pub fn assert_refused<T: std::fmt::Debug>(result: Result<T, VerifyError>, code: &str) {
    match result {
        Err(e) => assert_eq!(e.code(), code, "refused for the wrong reason: {e}"),
        Ok(v) => panic!("expected a `{code}` refusal, got {v:?}"),
    }
}
