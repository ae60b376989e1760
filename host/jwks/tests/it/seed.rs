//! The persisted seed: written after fetches, loaded for cold starts while the IdP is down.

use std::{path::Path, sync::Arc, time::Duration};

use gatehouse_jwks::{
    CacheOptions, JwksBundle, JwksCache, KeySetLimits, ManualClock, Verifier, VerifyOptions,
};
use serde_json::json;

use crate::{CLIENT, assert_refused, idp::TestIdp, keys};

struct Node {
    cache: JwksCache,
    verifier: Verifier,
    clock: ManualClock,
}

/// One "process": a cache with a seed file, as the host builds it at start.
fn start(idp: &TestIdp, seed: &Path, clock: ManualClock, options: CacheOptions) -> Node {
    let cache = JwksCache::remote(idp.jwks_uri())
        .issuer(idp.issuer())
        .seed_file(seed)
        .options(options)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let verifier =
        Verifier::new(VerifyOptions::new(idp.issuer(), [CLIENT]), cache.clone()).unwrap();
    Node {
        cache,
        verifier,
        clock,
    }
}

fn token(idp: &TestIdp, node: &Node, key: &keys::TestKey) -> String {
    use gatehouse_jwks::Clock;
    let now = crate::unix(node.clock.now());
    key.sign(&json!({"iss": idp.issuer(), "aud": CLIENT, "sub": "u", "iat": now, "exp": now + 600}))
}

#[tokio::test]
async fn fetches_are_persisted_as_a_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("jwks-seed.json");
    let idp = TestIdp::start(keys::jwks(&[&keys().rsa_a, &keys().ec])).await;
    let node = start(
        &idp,
        &seed,
        ManualClock::starting_now(),
        CacheOptions::default(),
    );
    assert!(!seed.exists());
    node.verifier
        .verify(&token(&idp, &node, &keys().rsa_a))
        .await
        .unwrap();

    let bundle = JwksBundle::read(&seed, &KeySetLimits::default()).unwrap();
    assert_eq!(bundle.issuer.as_deref(), Some(idp.issuer().as_str()));
    assert_eq!(bundle.jwks_uri.as_deref(), Some(idp.jwks_uri().as_str()));
    assert_eq!(
        bundle.jwks.keys,
        [keys().rsa_a.jwk.clone(), keys().ec.jwk.clone()]
    );
    assert_eq!(bundle, node.cache.bundle().unwrap());

    // The next fetch rewrites it with the IdP's new keys.
    idp.set_keys(keys::jwks(&[&keys().ed]));
    node.cache.refresh().await.unwrap();
    let bundle = JwksBundle::read(&seed, &KeySetLimits::default()).unwrap();
    assert_eq!(bundle.jwks.keys, [keys().ed.jwk.clone()]);
}

#[tokio::test]
async fn cold_start_from_the_seed_while_the_idp_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    let idp = TestIdp::start(keys::jwks(&[&keys().rsa_a])).await;
    let clock = ManualClock::starting_now();
    {
        let first = start(&idp, &seed, clock.clone(), CacheOptions::default());
        first.cache.refresh().await.unwrap();
    }
    assert_eq!(idp.hits(), 1);

    // The IdP goes down; the process restarts two hours later.
    idp.set_status(503);
    clock.advance(Duration::from_secs(2 * 3600));
    let node = start(&idp, &seed, clock.clone(), CacheOptions::default());
    let status = node.cache.status();
    assert_eq!(status.key_ids, ["rsa-a"]);
    assert!(!status.fresh, "a seed is stale from the start");
    let verified = node
        .verifier
        .verify(&token(&idp, &node, &keys().rsa_a))
        .await
        .unwrap();
    assert_eq!(verified.kid.as_deref(), Some("rsa-a"));
    assert_eq!(idp.hits(), 2, "the IdP was tried once first");

    // Completely unreachable (not even an HTTP error) works the same: a fresh copy of the seed
    // for a URL nothing listens on.
    let dead = crate::idp::dead_url().await;
    let other_seed = dir.path().join("dead-seed.json");
    let mut bundle = JwksBundle::read(&seed, &KeySetLimits::default()).unwrap();
    bundle.jwks_uri = Some(dead.clone());
    bundle.write(&other_seed).unwrap();
    let cache = JwksCache::remote(&dead)
        .seed_file(&other_seed)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let verifier = Verifier::new(VerifyOptions::new(idp.issuer(), [CLIENT]), cache).unwrap();
    verifier
        .verify(&token(&idp, &node, &keys().rsa_a))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_seed_older_than_stale_if_error_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    let idp = TestIdp::start(keys::jwks(&[&keys().rsa_a])).await;
    let clock = ManualClock::starting_now();
    let options = CacheOptions {
        stale_if_error: Duration::from_secs(3600),
        ..CacheOptions::default()
    };
    start(&idp, &seed, clock.clone(), options.clone())
        .cache
        .refresh()
        .await
        .unwrap();
    idp.set_status(503);
    clock.advance(Duration::from_secs(3601));
    let node = start(&idp, &seed, clock, options);
    assert_refused(
        node.verifier
            .verify(&token(&idp, &node, &keys().rsa_a))
            .await,
        "keys_unavailable",
    );
}

#[tokio::test]
async fn foreign_or_damaged_seeds_are_ignored_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let idp = TestIdp::start(keys::jwks(&[&keys().rsa_a])).await;
    let other = TestIdp::start(keys::jwks(&[&keys().attacker])).await;

    // A seed written for another IdP must not lend its keys.
    let seed = dir.path().join("seed.json");
    start(
        &other,
        &seed,
        ManualClock::starting_now(),
        CacheOptions::default(),
    )
    .cache
    .refresh()
    .await
    .unwrap();
    idp.set_status(503);
    let node = start(
        &idp,
        &seed,
        ManualClock::starting_now(),
        CacheOptions::default(),
    );
    assert_eq!(node.cache.status().key_count, 0);
    assert_refused(
        node.verifier
            .verify(&token(&idp, &node, &keys().attacker))
            .await,
        "keys_unavailable",
    );

    // The same issuer and URL but another issuer recorded: ignored too.
    let mut bundle = JwksBundle::read(&seed, &KeySetLimits::default()).unwrap();
    bundle.jwks_uri = Some(idp.jwks_uri());
    bundle.issuer = Some("https://elsewhere.example".into());
    bundle.write(&seed).unwrap();
    let node = start(
        &idp,
        &seed,
        ManualClock::starting_now(),
        CacheOptions::default(),
    );
    assert_eq!(node.cache.status().key_count, 0);

    // A damaged file is ignored, then replaced by the first successful fetch.
    std::fs::write(&seed, b"{\"format\":\"gatehouse-jwks-bundle\",").unwrap();
    idp.set_status(200);
    let node = start(
        &idp,
        &seed,
        ManualClock::starting_now(),
        CacheOptions::default(),
    );
    assert_eq!(node.cache.status().key_count, 0);
    node.verifier
        .verify(&token(&idp, &node, &keys().rsa_a))
        .await
        .unwrap();
    let bundle = JwksBundle::read(&seed, &KeySetLimits::default()).unwrap();
    assert_eq!(bundle.jwks.keys, [keys().rsa_a.jwk.clone()]);
}

#[tokio::test]
async fn an_unwritable_seed_does_not_break_verification() {
    let dir = tempfile::tempdir().unwrap();
    let idp = TestIdp::start(keys::jwks(&[&keys().rsa_a])).await;
    let seed = dir.path().join("missing-dir/seed.json");
    let node = start(
        &idp,
        &seed,
        ManualClock::starting_now(),
        CacheOptions::default(),
    );
    node.verifier
        .verify(&token(&idp, &node, &keys().rsa_a))
        .await
        .unwrap();
    assert!(!seed.exists());
}
