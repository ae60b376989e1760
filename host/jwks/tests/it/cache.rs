//! Cache behaviour against the test IdP: max age, unknown-kid cooldown, shared fetches,
//! stale-if-error, limits and timeouts.

use std::{sync::Arc, time::Duration};

use futures::future::join_all;
use gatehouse_jwks::{
    CacheOptions, FetchError, JwksCache, JwksError, KeySetLimits, ManualClock, Verifier,
    VerifyError, VerifyOptions,
};
use serde_json::json;

use crate::{CLIENT, Fixture, assert_refused, idp::TestIdp, keys};

fn one_key() -> serde_json::Value {
    keys::jwks(&[&keys().rsa_a])
}

/// Verifies a fresh token and returns how many JWKS fetches the IdP has seen.
async fn verify_ok(f: &Fixture) -> usize {
    f.verify(&keys().rsa_a.sign(&f.claims())).await.unwrap();
    f.idp.hits()
}

#[tokio::test]
async fn honours_the_idp_max_age() {
    let f = Fixture::new(one_key()).await; // the IdP sends max-age=300
    assert_eq!(verify_ok(&f).await, 1);
    f.advance(299);
    assert_eq!(verify_ok(&f).await, 1, "still fresh");
    f.advance(2);
    assert_eq!(verify_ok(&f).await, 2, "expired → refetched");
    let status = f.cache.status();
    assert!(status.fresh);
    assert_eq!(
        status
            .fresh_until
            .unwrap()
            .duration_since(status.fetched_at.unwrap())
            .unwrap(),
        Duration::from_secs(300)
    );
}

#[tokio::test]
async fn max_age_is_clamped_to_floor_and_ceiling_and_defaults() {
    let cases = [
        (Some("max-age=0"), 60),
        (Some("no-store"), 60),
        (Some("max-age=86400"), 3600),
        (None, 600),
        (Some("public"), 600),
        (Some("max-age=300"), 300),
    ];
    for (header, expected) in cases {
        let f = Fixture::new(one_key()).await;
        f.idp.set_cache_control(header);
        assert_eq!(verify_ok(&f).await, 1);
        f.advance(expected - 1);
        assert_eq!(
            verify_ok(&f).await,
            1,
            "{header:?}: fresh before {expected}s"
        );
        f.advance(2);
        assert_eq!(
            verify_ok(&f).await,
            2,
            "{header:?}: refetched after {expected}s"
        );
    }
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_once_per_cooldown() {
    let f = Fixture::new(one_key()).await;
    assert_eq!(verify_ok(&f).await, 1);
    // Past the cooldown of that first fetch; a slow IdP, so the flood overlaps the one fetch it
    // triggers.
    f.advance(31);
    f.idp.set_delay(Duration::from_millis(200));
    let evil = &keys().attacker;
    let tokens: Vec<_> = (0..300)
        .map(|i| {
            evil.sign_with_header(
                &json!({"alg":"RS256","kid":format!("bogus-{i}")}),
                &f.claims(),
            )
        })
        .collect();
    let results = join_all(tokens.iter().map(|t| f.verify(t))).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(VerifyError::UnknownKid(_))))
    );
    assert_eq!(f.idp.hits(), 2, "300 unknown kids → one refetch");

    // More within the cooldown: no fetch at all.
    f.advance(29);
    for t in &tokens[..50] {
        assert_refused(f.verify(t).await, "unknown_kid");
    }
    assert_eq!(f.idp.hits(), 2);
    // After the cooldown, one more.
    f.advance(2);
    for t in &tokens[..50] {
        assert_refused(f.verify(t).await, "unknown_kid");
    }
    assert_eq!(f.idp.hits(), 3);
    // Valid tokens were never disturbed.
    assert_eq!(verify_ok(&f).await, 3);
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let f = Fixture::new(one_key()).await;
    f.idp.set_delay(Duration::from_millis(300));
    let token = keys().rsa_a.sign(&f.claims());
    let results = join_all((0..100).map(|_| f.verify(&token))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(f.idp.hits(), 1, "cold start: 100 callers, one fetch");

    // The same after expiry.
    f.advance(301);
    let results = join_all((0..100).map(|_| f.verify(&token))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(f.idp.hits(), 2);
}

#[tokio::test]
async fn a_cancelled_caller_does_not_cancel_the_shared_fetch() {
    let f = Fixture::new(one_key()).await;
    f.idp.set_delay(Duration::from_millis(300));
    let token = keys().rsa_a.sign(&f.claims());
    // The first caller gives up long before the fetch ends.
    let _ = tokio::time::timeout(Duration::from_millis(50), f.verify(&token)).await;
    // The fetch it started completes for the next caller, who does not start another.
    f.verify(&token).await.unwrap();
    assert_eq!(f.idp.hits(), 1);
}

#[tokio::test]
async fn stale_keys_are_served_while_the_idp_is_down() {
    let f = Fixture::new(one_key()).await;
    let token_at = |f: &Fixture| keys().rsa_a.sign(&f.claims());
    assert_eq!(verify_ok(&f).await, 1);
    f.idp.set_status(503);
    f.advance(301);
    f.verify(&token_at(&f)).await.expect("stale keys served");
    assert_eq!(f.idp.hits(), 2, "one attempt");
    let status = f.cache.status();
    assert!(!status.fresh && status.usable);
    assert!(status.last_error.unwrap().contains("HTTP status 503"));
    // Within the cooldown no new attempt, and tokens still verify.
    for _ in 0..20 {
        f.verify(&token_at(&f)).await.unwrap();
    }
    assert_eq!(f.idp.hits(), 2);
    // One attempt per cooldown while down.
    f.advance(31);
    f.verify(&token_at(&f)).await.unwrap();
    assert_eq!(f.idp.hits(), 3);

    // Past max age + stale_if_error (24 h) the keys are no longer trusted.
    f.advance(24 * 3600);
    match f.verify(&token_at(&f)).await {
        Err(e @ VerifyError::KeysUnavailable(_)) => {
            assert!(e.is_unavailable());
            assert!(e.to_string().contains("503"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!f.cache.status().usable);

    // The IdP comes back: after the cooldown the next verification fetches fresh keys.
    f.idp.set_status(200);
    f.advance(31);
    f.verify(&token_at(&f)).await.unwrap();
    let status = f.cache.status();
    assert!(status.fresh && status.last_error.is_none());
}

#[tokio::test]
async fn stale_if_error_zero_refuses_as_soon_as_keys_expire() {
    let options = CacheOptions {
        stale_if_error: Duration::ZERO,
        ..CacheOptions::default()
    };
    let f = Fixture::with(one_key(), options, |o| o).await;
    assert_eq!(verify_ok(&f).await, 1);
    f.idp.set_status(500);
    f.advance(301);
    assert_refused(
        f.verify(&keys().rsa_a.sign(&f.claims())).await,
        "keys_unavailable",
    );
}

#[tokio::test]
async fn no_keys_at_all_when_the_first_fetch_fails() {
    let idp = TestIdp::start(one_key()).await;
    idp.set_status(404);
    let clock = ManualClock::starting_now();
    let cache = JwksCache::remote(idp.jwks_uri())
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let v = Verifier::new(VerifyOptions::new(idp.issuer(), [CLIENT]), cache.clone()).unwrap();
    let claims = json!({"iss": idp.issuer(), "aud": CLIENT, "exp": crate::unix(std::time::SystemTime::now()) + 60});
    let token = keys().rsa_a.sign(&claims);
    match v.verify(&token).await {
        Err(VerifyError::KeysUnavailable(JwksError::Fetch {
            source: FetchError::Status(404),
            url,
        })) => {
            assert_eq!(url, idp.jwks_uri());
        }
        other => panic!("{other:?}"),
    }
    // The failure is remembered for the cooldown rather than retried per token.
    assert_refused(v.verify(&token).await, "keys_unavailable");
    assert_eq!(idp.hits(), 1);
    // A manual refresh bypasses the cooldown.
    idp.set_status(200);
    let status = cache.refresh().await.unwrap();
    assert_eq!(status.key_ids, ["rsa-a"]);
    assert_eq!(status.fetches, 2);
    v.verify(&token).await.unwrap();
}

#[tokio::test]
async fn unreachable_idp_and_timeouts() {
    let url = crate::idp::dead_url().await;
    let cache = JwksCache::remote(url).build().unwrap();
    let err = cache.refresh().await.unwrap_err();
    assert!(
        matches!(
            err,
            JwksError::Fetch {
                source: FetchError::Transport(_),
                ..
            }
        ),
        "{err}"
    );

    let idp = TestIdp::start(one_key()).await;
    idp.set_delay(Duration::from_secs(3));
    let options = CacheOptions {
        fetch_timeout: Duration::from_millis(200),
        ..CacheOptions::default()
    };
    let cache = JwksCache::remote(idp.jwks_uri())
        .options(options)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = cache.refresh().await.unwrap_err();
    assert!(
        matches!(
            err,
            JwksError::Fetch {
                source: FetchError::Timeout(_),
                ..
            }
        ),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn oversized_or_invalid_documents_keep_the_previous_keys() {
    let f = Fixture::new(one_key()).await;
    assert_eq!(verify_ok(&f).await, 1);

    let too_many: Vec<_> = (0..101)
        .map(|i| json!({"kty":"oct","kid":i.to_string(),"k":"AA"}))
        .collect();
    type Setup = Box<dyn Fn(&mut crate::idp::Behaviour)>;
    let bad_documents: Vec<(Setup, &str)> = vec![
        (
            Box::new(|b| b.raw_body = Some(vec![b' '; 300 * 1024])),
            "over the 262144-byte limit",
        ),
        (
            Box::new(|b| {
                b.raw_body = Some(vec![b' '; 300 * 1024]);
                b.chunked = true;
            }),
            "over the 262144-byte limit",
        ),
        (
            Box::new(move |b| {
                b.raw_body = None;
                b.chunked = false;
                b.jwks = json!({"keys": too_many.clone()});
            }),
            "101 keys",
        ),
        (
            Box::new(|b| b.raw_body = Some(b"<html>".to_vec())),
            "not JSON",
        ),
        (
            Box::new(|b| b.raw_body = Some(b"{\"keys\":5}".to_vec())),
            "no `keys` array",
        ),
    ];
    for (setup, needle) in bad_documents {
        f.idp.update(|b| setup(b));
        f.advance(301);
        f.verify(&keys().rsa_a.sign(&f.claims()))
            .await
            .expect("previous keys kept");
        let error = f.cache.status().last_error.expect("fetch failed");
        assert!(error.contains(needle), "{error} lacks {needle}");
    }
}

#[tokio::test]
async fn custom_limits_apply() {
    let options = CacheOptions {
        limits: KeySetLimits {
            max_document_bytes: 512,
            max_keys: 1,
        },
        ..CacheOptions::default()
    };
    let f = Fixture::with(keys::jwks(&[&keys().ec, &keys().ed]), options, |o| o).await;
    let err = f.cache.refresh().await.unwrap_err();
    assert!(
        matches!(err, JwksError::TooManyKeys { count: 2, max: 1 }),
        "{err}"
    );
    f.idp.set_keys(keys::jwks(&[&keys().rsa_a]));
    f.idp
        .update(|b| b.jwks["keys"][0]["x5c"] = json!(["A".repeat(600)]));
    let err = f.cache.refresh().await.unwrap_err();
    assert!(err.to_string().contains("over the 512-byte limit"), "{err}");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let idp = TestIdp::start(one_key()).await;
    let cache = JwksCache::remote(idp.url("/redirect")).build().unwrap();
    let err = cache.refresh().await.unwrap_err();
    assert!(
        matches!(
            err,
            JwksError::Fetch {
                source: FetchError::Status(302),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(idp.hits(), 0);
}

#[tokio::test]
async fn configuration_is_validated() {
    for url in ["ftp://idp/keys", "not a url", "file:///etc/passwd"] {
        assert!(
            matches!(JwksCache::remote(url).build(), Err(JwksError::Config(_))),
            "{url}"
        );
    }
    let bad = CacheOptions {
        min_max_age: Duration::from_secs(7200),
        ..CacheOptions::default()
    };
    assert!(matches!(
        JwksCache::remote("https://idp/keys").options(bad).build(),
        Err(JwksError::Config(_))
    ));
    let cache = JwksCache::remote("https://idp/keys").build().unwrap();
    assert!(
        Verifier::new(
            VerifyOptions::new("https://idp", Vec::<String>::new()),
            cache
        )
        .is_err()
    );
}

#[tokio::test]
async fn the_refresh_loop_keeps_keys_fresh_without_traffic() {
    let idp = TestIdp::start(one_key()).await;
    idp.set_cache_control(Some("max-age=1"));
    let options = CacheOptions {
        min_max_age: Duration::from_secs(1),
        refetch_cooldown: Duration::from_millis(500),
        ..CacheOptions::default()
    };
    let cache = JwksCache::remote(idp.jwks_uri())
        .options(options)
        .build()
        .unwrap();
    let looping = cache.clone();
    let task = tokio::spawn(async move { looping.run_refresh_loop().await });
    tokio::time::sleep(Duration::from_millis(2600)).await;
    task.abort();
    let hits = idp.hits();
    // Immediately, then about every 0.9-1 s (the loop never sleeps under 1 s).
    assert!((2..=4).contains(&hits), "{hits} fetches");
    assert!(cache.status().fresh);
}
