//! Key rotation as ZITADEL does it: a new key is published, starts signing, and the old one is
//! removed after a grace period.

use serde_json::json;

use crate::{Fixture, assert_refused, keys};

#[tokio::test]
async fn rotation_mid_session() {
    let k = keys();
    let f = Fixture::new(keys::jwks(&[&k.rsa_a])).await;
    let old_token = k.rsa_a.sign(&f.claims());
    f.verify(&old_token).await.unwrap();
    assert_eq!(f.idp.hits(), 1);

    // The IdP rotates: B is published and signs new tokens while our cache is still fresh.
    f.idp.set_keys(keys::jwks(&[&k.rsa_a, &k.rsa_b]));
    f.advance(40);
    let new_token = k.rsa_b.sign(&f.claims());
    let verified = f
        .verify(&new_token)
        .await
        .expect("unknown kid → one refetch → accepted");
    assert_eq!(verified.kid.as_deref(), Some("rsa-b"));
    assert_eq!(f.idp.hits(), 2);
    // Both keys work now, without further fetches.
    f.verify(&old_token).await.unwrap();
    f.verify(&new_token).await.unwrap();
    assert_eq!(f.idp.hits(), 2);

    // A is removed. Until our copy expires it is still trusted (the grace period)…
    f.idp.set_keys(keys::jwks(&[&k.rsa_b]));
    f.advance(100);
    f.verify(&old_token)
        .await
        .expect("within max age of the last fetch");
    // …after which the refetch drops it, and tokens signed by A are refused.
    f.advance(201);
    f.verify(&new_token).await.unwrap();
    assert_eq!(f.idp.hits(), 3);
    assert_refused(f.verify(&k.rsa_a.sign(&f.claims())).await, "unknown_kid");
    assert_eq!(f.cache.status().key_ids, ["rsa-b"]);
}

#[tokio::test]
async fn a_key_published_during_the_cooldown_is_accepted_once_it_ends() {
    let k = keys();
    let f = Fixture::new(keys::jwks(&[&k.rsa_a])).await;
    f.verify(&k.rsa_a.sign(&f.claims())).await.unwrap();
    // Past the cooldown of the first fetch, a token with a not-yet-published kid spends the
    // refetch.
    f.advance(31);
    let early = k.rsa_b.sign(&f.claims());
    assert_refused(f.verify(&early).await, "unknown_kid");
    assert_eq!(f.idp.hits(), 2);
    // B is published 10 s later; within the cooldown it is not fetched…
    f.advance(10);
    f.idp.set_keys(keys::jwks(&[&k.rsa_a, &k.rsa_b]));
    assert_refused(f.verify(&early).await, "unknown_kid");
    assert_eq!(f.idp.hits(), 2);
    // …and at the end of the cooldown it is.
    f.advance(21);
    f.verify(&early).await.unwrap();
    assert_eq!(f.idp.hits(), 3);
}

#[tokio::test]
async fn algorithm_change_with_rotation() {
    // ZITADEL web keys can move from RSA to an EC or Ed25519 key.
    let k = keys();
    let f = Fixture::new(keys::jwks(&[&k.rsa_a])).await;
    f.verify(&k.rsa_a.sign(&f.claims())).await.unwrap();
    f.idp.set_keys(keys::jwks(&[&k.rsa_a, &k.ed]));
    f.advance(31);
    let t = f.verify(&k.ed.sign(&f.claims())).await.unwrap();
    assert_eq!(t.alg, gatehouse_jwks::Alg::EdDSA);
    // The new Ed25519 key cannot be borrowed for an RS256 header.
    let confused = k
        .rsa_a
        .sign_with_header(&json!({"alg":"RS256","kid":"ed-1"}), &f.claims());
    assert_refused(f.verify(&confused).await, "key_mismatch");
}
