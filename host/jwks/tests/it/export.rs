//! `export`: bundles for offline app SDKs, from an issuer (discovery) or a JWKS URL.

use gatehouse_jwks::{
    ExportOptions, JwksBundle, JwksCache, JwksError, KeySetLimits, ReqwestFetcher, Verifier,
    VerifyOptions,
};
use serde_json::json;

use crate::{CLIENT, assert_refused, idp::TestIdp, keys};

#[tokio::test]
async fn export_from_an_issuer_then_verify_offline() {
    let k = keys();
    let idp = TestIdp::start(keys::jwks(&[&k.rsa_a, &k.ec, &k.ed])).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("jwks-bundle.json");

    let bundle = gatehouse_jwks::export(&idp.issuer(), &out).await.unwrap();
    assert_eq!(bundle.issuer.as_deref(), Some(idp.issuer().as_str()));
    assert_eq!(bundle.jwks_uri.as_deref(), Some(idp.jwks_uri().as_str()));
    assert_eq!(bundle.jwks.keys.len(), 3);
    let on_disk = JwksBundle::read(&out, &KeySetLimits::default()).unwrap();
    assert_eq!(on_disk, bundle);
    // The `jwks` member is a plain JWKS document, usable by any JOSE library.
    let raw: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(raw["format"], "gatehouse-jwks-bundle");
    assert_eq!(raw["version"], 1);
    assert_eq!(raw["jwks"]["keys"][0]["kid"], "rsa-a");

    // An app SDK with no route to the IdP verifies from the bundle alone.
    let hits = idp.hits();
    drop(idp);
    let fixed = JwksCache::from_bundle(&on_disk).unwrap();
    let again = fixed.bundle().unwrap();
    assert_eq!(
        (again.fetched_at, &again.jwks),
        (on_disk.fetched_at, &on_disk.jwks)
    );
    let verifier = Verifier::new(
        VerifyOptions::new(bundle.issuer.clone().unwrap(), [CLIENT]),
        fixed,
    )
    .unwrap();
    let now = crate::unix(std::time::SystemTime::now());
    let claims = json!({"iss": bundle.issuer, "aud": CLIENT, "exp": now + 60});
    for key in [&k.rsa_a, &k.ec, &k.ed] {
        verifier.verify(&key.sign(&claims)).await.unwrap();
    }
    // A fixed set never fetches: an unknown kid is simply refused.
    assert_refused(verifier.verify(&k.rsa_b.sign(&claims)).await, "unknown_kid");
    assert_eq!(hits, 1);
}

#[tokio::test]
async fn export_from_a_jwks_url_or_a_discovery_url() {
    let idp = TestIdp::start(keys::jwks(&[&keys().rsa_a])).await;
    let dir = tempfile::tempdir().unwrap();
    let fetcher = ReqwestFetcher::new().unwrap();

    let out = dir.path().join("a.json");
    let bundle =
        gatehouse_jwks::export_with(&fetcher, &idp.jwks_uri(), &out, &ExportOptions::default())
            .await
            .unwrap();
    assert_eq!(bundle.issuer, None, "a bare JWKS URL has no issuer");
    assert_eq!(bundle.jwks_uri.as_deref(), Some(idp.jwks_uri().as_str()));

    let with_issuer = ExportOptions {
        issuer: Some("https://idp.example".into()),
        ..ExportOptions::default()
    };
    let bundle = gatehouse_jwks::export_with(&fetcher, &idp.jwks_uri(), &out, &with_issuer)
        .await
        .unwrap();
    assert_eq!(bundle.issuer.as_deref(), Some("https://idp.example"));

    let discovery = idp.url("/.well-known/openid-configuration");
    let bundle = gatehouse_jwks::export_with(&fetcher, &discovery, &out, &ExportOptions::default())
        .await
        .unwrap();
    assert_eq!(bundle.issuer.as_deref(), Some(idp.issuer().as_str()));
    // A trailing slash typed by a human still finds the issuer.
    let bundle = gatehouse_jwks::export_with(
        &fetcher,
        &format!("{}/", idp.issuer()),
        &out,
        &ExportOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(bundle.issuer.as_deref(), Some(idp.issuer().as_str()));
}

#[tokio::test]
async fn export_refusals_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle.json");
    let fetcher = ReqwestFetcher::new().unwrap();
    let opts = ExportOptions::default();

    // Discovery names another issuer (OpenID Discovery §4.3).
    let idp = TestIdp::start(keys::jwks(&[&keys().rsa_a])).await;
    idp.update(|b| b.discovery_issuer = Some("https://impostor.example".into()));
    let err = gatehouse_jwks::export_with(&fetcher, &idp.issuer(), &out, &opts)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, JwksError::Discovery { reason, .. } if reason.contains("impostor")),
        "{err}"
    );

    // No usable key.
    let idp = TestIdp::start(json!({"keys":[{"kty":"oct","kid":"s","k":"AA"}]})).await;
    let err = gatehouse_jwks::export_with(&fetcher, &idp.issuer(), &out, &opts)
        .await
        .unwrap_err();
    assert!(
        matches!(err, JwksError::NoUsableKeys { skipped: 1 }),
        "{err}"
    );

    // The IdP fails.
    idp.set_status(500);
    let err = gatehouse_jwks::export_with(&fetcher, &idp.jwks_uri(), &out, &opts)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP status 500"), "{err}");

    // Not a URL at all.
    let err = gatehouse_jwks::export_with(&fetcher, "idp.example", &out, &opts)
        .await
        .unwrap_err();
    assert!(matches!(err, JwksError::Config(_)), "{err}");

    assert!(!out.exists());
}
