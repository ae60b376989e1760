//! Claim checks: `iss`, `aud`, `exp`, `nbf`, `iat` and leeway, on correctly signed tokens.

use std::time::Duration;

use gatehouse_jwks::{CacheOptions, VerifyError};
use serde_json::json;

use crate::{CLIENT, Fixture, PROJECT, assert_refused, keys};

async fn fixture() -> Fixture {
    Fixture::new(keys::jwks(&[&keys().rsa_a])).await
}

#[tokio::test]
async fn typed_claims_and_raw_map_are_returned() {
    let f = fixture().await;
    let token = f.verify(&keys().rsa_a.sign(&f.claims())).await.unwrap();
    let c = token.claims;
    assert_eq!(c.iss, f.idp.issuer());
    assert_eq!(c.aud, [CLIENT, PROJECT]);
    assert_eq!(c.exp, f.now() + 600);
    assert_eq!((c.iat, c.nbf), (Some(f.now()), Some(f.now())));
    assert_eq!(c.azp.as_deref(), Some(CLIENT));
    assert_eq!(c.scopes().collect::<Vec<_>>(), ["openid", "profile"]);
    assert_eq!(
        c.raw["urn:zitadel:iam:org:project:roles"]["admin"]["org-1"],
        "example.com"
    );
}

#[tokio::test]
async fn expiry_with_leeway() {
    let f = fixture().await;
    let mut claims = f.claims();
    claims["exp"] = json!(f.now() - 29);
    f.verify(&keys().rsa_a.sign(&claims))
        .await
        .expect("inside the 30 s leeway");
    claims["exp"] = json!(f.now() - 30);
    assert_refused(f.verify(&keys().rsa_a.sign(&claims)).await, "expired");

    // A token valid now expires as the clock moves.
    let token = keys().rsa_a.sign(&f.claims());
    f.verify(&token).await.unwrap();
    f.advance(600 + 30);
    match f.verify(&token).await {
        Err(VerifyError::Expired { exp, now }) => assert_eq!(now - exp, 30),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn not_before_and_issued_at_in_the_future() {
    let f = fixture().await;
    let mut claims = f.claims();
    claims["nbf"] = json!(f.now() + 30);
    f.verify(&keys().rsa_a.sign(&claims))
        .await
        .expect("nbf within leeway");
    claims["nbf"] = json!(f.now() + 31);
    assert_refused(f.verify(&keys().rsa_a.sign(&claims)).await, "not_yet_valid");

    let mut claims = f.claims();
    claims["iat"] = json!(f.now() + 31);
    assert_refused(
        f.verify(&keys().rsa_a.sign(&claims)).await,
        "issued_in_future",
    );
    claims["iat"] = json!(f.now() + 30);
    f.verify(&keys().rsa_a.sign(&claims)).await.unwrap();
}

#[tokio::test]
async fn leeway_is_configurable() {
    let f = Fixture::with(keys::jwks(&[&keys().rsa_a]), CacheOptions::default(), |o| {
        o.with_leeway(Duration::ZERO)
    })
    .await;
    let mut claims = f.claims();
    claims["exp"] = json!(f.now());
    assert_refused(f.verify(&keys().rsa_a.sign(&claims)).await, "expired");
    claims["exp"] = json!(f.now() + 1);
    claims["nbf"] = json!(f.now() + 1);
    assert_refused(f.verify(&keys().rsa_a.sign(&claims)).await, "not_yet_valid");
}

#[tokio::test]
async fn issuer_must_match_exactly() {
    let f = fixture().await;
    for iss in [
        json!("https://evil.example"),
        json!(format!("{}/", f.idp.issuer())),
        json!(f.idp.issuer().to_uppercase()),
    ] {
        let mut claims = f.claims();
        claims["iss"] = iss;
        assert_refused(
            f.verify(&keys().rsa_a.sign(&claims)).await,
            "issuer_mismatch",
        );
    }
    let mut claims = f.claims();
    claims.as_object_mut().unwrap().remove("iss");
    assert_refused(f.verify(&keys().rsa_a.sign(&claims)).await, "missing_claim");
}

#[tokio::test]
async fn audience_must_contain_an_expected_value() {
    let f = fixture().await;
    let sign = |aud| {
        let mut claims = f.claims();
        claims["aud"] = aud;
        keys().rsa_a.sign(&claims)
    };
    f.verify(&sign(json!(CLIENT))).await.unwrap();
    f.verify(&sign(json!([PROJECT, "other", CLIENT])))
        .await
        .unwrap();
    assert_refused(f.verify(&sign(json!(PROJECT))).await, "audience_mismatch");
    assert_refused(f.verify(&sign(json!([]))).await, "audience_mismatch");
    assert_refused(
        f.verify(&sign(json!(["other-app"]))).await,
        "audience_mismatch",
    );
    assert_refused(f.verify(&sign(json!([CLIENT, 7]))).await, "invalid_claim");
}

#[tokio::test]
async fn the_project_id_alone_is_accepted_when_configured() {
    // Services that accept any client of a ZITADEL project configure the project id.
    let f = Fixture::with(keys::jwks(&[&keys().rsa_a]), CacheOptions::default(), |o| {
        gatehouse_jwks::VerifyOptions::new(o.issuer(), [PROJECT])
    })
    .await;
    let mut claims = f.claims();
    claims["aud"] = json!(["another-client@gatehouse", PROJECT]);
    f.verify(&keys().rsa_a.sign(&claims)).await.unwrap();
}

#[tokio::test]
async fn exp_is_required_and_typed() {
    let f = fixture().await;
    let mut claims = f.claims();
    claims.as_object_mut().unwrap().remove("exp");
    assert_refused(f.verify(&keys().rsa_a.sign(&claims)).await, "missing_claim");
    claims["exp"] = json!((f.now() + 60).to_string());
    assert_refused(f.verify(&keys().rsa_a.sign(&claims)).await, "invalid_claim");
    claims["exp"] = json!((f.now() + 60) as f64 + 0.5);
    f.verify(&keys().rsa_a.sign(&claims))
        .await
        .expect("fractional NumericDate");
}
