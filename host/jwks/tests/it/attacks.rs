//! RFC 8725 (JWT BCP) attack classes, each against a real verifier with real keys.

use aws_lc_rs::hmac;
use gatehouse_jwks::{Alg, CacheOptions, VerifyError};
use serde_json::{Value, json};

use crate::{Fixture, assert_refused, keys, keys::b64};

async fn all_keys() -> Fixture {
    let k = keys();
    Fixture::new(keys::jwks(&[&k.rsa_a, &k.ec, &k.ed])).await
}

fn hmac_token(alg: &str, kid: &str, claims: &Value, secret: &[u8]) -> String {
    let algorithm = match alg.to_ascii_uppercase().as_str() {
        "HS384" => hmac::HMAC_SHA384,
        "HS512" => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    };
    let input = format!(
        "{}.{}",
        b64(json!({"alg":alg,"typ":"JWT","kid":kid}).to_string()),
        b64(claims.to_string())
    );
    let tag = hmac::sign(&hmac::Key::new(algorithm, secret), input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

#[tokio::test]
async fn valid_tokens_of_each_algorithm_verify() {
    let f = all_keys().await;
    let k = keys();
    for (key, alg) in [
        (&k.rsa_a, Alg::RS256),
        (&k.ec, Alg::ES256),
        (&k.ed, Alg::EdDSA),
    ] {
        let token = f.verify(&key.sign(&f.claims())).await.unwrap();
        assert_eq!(token.alg, alg);
        assert_eq!(token.kid.as_deref(), Some(key.kid.as_str()));
        assert_eq!(token.claims.sub.as_deref(), Some("user-1"));
    }
    assert_eq!(f.idp.hits(), 1, "one fetch serves every token while fresh");
}

#[tokio::test]
async fn alg_none_is_refused_in_every_spelling() {
    let f = all_keys().await;
    let k = keys();
    let valid = k.rsa_a.sign(&f.claims());
    let real_signature = valid.rsplit('.').next().unwrap();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(json!({"alg": alg, "typ": "JWT"}).to_string());
        let payload = b64(f.claims().to_string());
        assert_refused(f.verify(&format!("{header}.{payload}.")).await, "alg_none");
        // A signature borrowed from a valid token changes nothing.
        assert_refused(
            f.verify(&format!("{header}.{payload}.{real_signature}"))
                .await,
            "alg_none",
        );
        // Nor does naming a real kid.
        let header = b64(json!({"alg": alg, "kid": "rsa-a"}).to_string());
        assert_refused(f.verify(&format!("{header}.{payload}.")).await, "alg_none");
    }
    assert_eq!(f.idp.hits(), 0, "refused before any key lookup");
}

#[tokio::test]
async fn hmac_with_the_public_key_as_secret_is_refused() {
    // The RS/HS confusion: a verifier that lets the header pick the algorithm would check an
    // HMAC keyed with the public key, which the attacker knows.
    let f = all_keys().await;
    let k = keys();
    let claims = f.claims();
    let jwk_text = k.rsa_a.jwk.to_string();
    let n = k.rsa_a.jwk["n"].as_str().unwrap().to_owned();
    let secrets: [&[u8]; 3] = [&k.rsa_a.rsa_spki_der(), jwk_text.as_bytes(), n.as_bytes()];
    for alg in ["HS256", "HS384", "HS512", "hs256"] {
        for secret in secrets {
            let token = hmac_token(alg, "rsa-a", &claims, secret);
            match f.verify(&token).await {
                Err(VerifyError::HmacRefused(name)) => assert_eq!(name, alg),
                other => panic!("{alg}: {other:?}"),
            }
        }
    }
    assert_eq!(f.idp.hits(), 0);
}

#[tokio::test]
async fn symmetric_keys_in_the_jwks_are_never_used() {
    let k = keys();
    let mut jwks = keys::jwks(&[&k.rsa_a]);
    jwks["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kty":"oct","kid":"sym","alg":"HS256","k":b64("shared secret")}));
    let f = Fixture::new(jwks).await;
    let claims = f.claims();
    assert_refused(
        f.verify(&hmac_token("HS256", "sym", &claims, b"shared secret"))
            .await,
        "hmac_refused",
    );
    // Even with an asymmetric alg the oct key is not in the set.
    let forged = k
        .attacker
        .sign_with_header(&json!({"alg":"RS256","kid":"sym"}), &claims);
    assert_refused(f.verify(&forged).await, "unknown_kid");
    assert_eq!(f.cache.status().key_ids, ["rsa-a"]);
}

#[tokio::test]
async fn algorithms_outside_the_allowlist_are_refused() {
    let k = keys();
    let f = Fixture::with(
        keys::jwks(&[&k.rsa_a, &k.ec]),
        CacheOptions::default(),
        |o| o.with_algorithms(&[Alg::RS256]),
    )
    .await;
    f.verify(&k.rsa_a.sign(&f.claims())).await.unwrap();
    match f.verify(&k.ec.sign(&f.claims())).await {
        Err(VerifyError::AlgNotAllowed(Alg::ES256)) => {}
        other => panic!("{other:?}"),
    }
    for alg in ["ES512", "RS1", "PS256K", "", "rs256", "A256GCM"] {
        let header = json!({"alg": alg, "kid": "rsa-a"});
        let token = k.rsa_a.sign_with_header(&header, &f.claims());
        assert_refused(f.verify(&token).await, "unsupported_alg");
    }
    // PS256 is a known algorithm but not allowed here.
    let token = k
        .rsa_a
        .sign_with_header(&json!({"alg":"PS256","kid":"rsa-a"}), &f.claims());
    assert_refused(f.verify(&token).await, "alg_not_allowed");
}

#[tokio::test]
async fn key_type_must_match_the_algorithm() {
    let f = all_keys().await;
    let k = keys();
    let claims = f.claims();
    // Every algorithm allowed, so only the key-type rule can refuse.
    let verifier = gatehouse_jwks::Verifier::new(
        f.verifier.options().clone().with_algorithms(&Alg::ALL),
        f.cache.clone(),
    )
    .unwrap();
    // Header algorithm vs. the type of the key its kid names.
    for (signer, alg, kid) in [
        (&k.ec, "ES256", "rsa-a"),
        (&k.rsa_a, "RS256", "ec-1"),
        (&k.rsa_a, "RS256", "ed-1"),
        (&k.ed, "EdDSA", "ec-1"),
        (&k.ec, "ES384", "ec-1"),
        // The JWK says alg RS256; PS256 with the same RSA key is refused too.
        (&k.rsa_a, "PS256", "rsa-a"),
    ] {
        let token = signer.sign_with_header(&json!({"alg": alg, "kid": kid}), &claims);
        match verifier.verify(&token).await {
            Err(VerifyError::KeyMismatch {
                kid: Some(found), ..
            }) => assert_eq!(found, kid),
            other => panic!("{alg} with {kid}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn kid_is_required_when_the_set_has_several_keys() {
    let k = keys();
    let f = all_keys().await;
    let token = k
        .rsa_a
        .sign_with_header(&json!({"alg":"RS256","typ":"JWT"}), &f.claims());
    assert_refused(f.verify(&token).await, "missing_kid");

    let single = Fixture::new(keys::jwks(&[&k.rsa_a])).await;
    let token = k
        .rsa_a
        .sign_with_header(&json!({"alg":"RS256"}), &single.claims());
    assert_eq!(single.verify(&token).await.unwrap().kid, None);
    // The single key still has to verify the signature.
    let forged = k
        .attacker
        .sign_with_header(&json!({"alg":"RS256"}), &single.claims());
    assert_refused(single.verify(&forged).await, "invalid_signature");
}

#[tokio::test]
async fn crit_headers_are_refused_even_with_a_valid_signature() {
    let f = all_keys().await;
    let k = keys();
    let claims = f.claims();
    let cases = [
        (
            json!({"alg":"RS256","kid":"rsa-a","exp":1,"crit":["exp"]}),
            "unsupported_crit",
        ),
        (
            json!({"alg":"RS256","kid":"rsa-a","b64":false,"crit":["b64"]}),
            "unsupported_crit",
        ),
        (
            json!({"alg":"RS256","kid":"rsa-a","x":1,"y":2,"crit":["x","y"]}),
            "unsupported_crit",
        ),
        (
            json!({"alg":"RS256","kid":"rsa-a","crit":[]}),
            "invalid_crit",
        ),
        (
            json!({"alg":"RS256","kid":"rsa-a","crit":"b64","b64":false}),
            "invalid_crit",
        ),
        (
            json!({"alg":"RS256","kid":"rsa-a","crit":["kid"]}),
            "invalid_crit",
        ),
        (
            json!({"alg":"RS256","kid":"rsa-a","crit":["absent"]}),
            "invalid_crit",
        ),
        (
            json!({"alg":"RS256","kid":"rsa-a","x":1,"crit":["x","x"]}),
            "invalid_crit",
        ),
    ];
    for (header, code) in cases {
        let token = k.rsa_a.sign_with_header(&header, &claims);
        assert_refused(f.verify(&token).await, code);
    }
    match f
        .verify(&k.rsa_a.sign_with_header(
            &json!({"alg":"RS256","kid":"rsa-a","x":1,"crit":["x"]}),
            &claims,
        ))
        .await
    {
        Err(VerifyError::UnsupportedCritical(names)) => assert_eq!(names, ["x"]),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn jku_x5u_and_embedded_jwk_are_never_used() {
    let f = all_keys().await;
    let k = keys();
    let claims = f.claims();
    let attacker_url = f.idp.url("/attacker/keys");
    let evil = &k.attacker;
    // Signed with a key the IdP never published, pointing at where to "find" it.
    for header in [
        json!({"alg":"RS256","kid":"rsa-evil","jku":attacker_url}),
        json!({"alg":"RS256","kid":"rsa-evil","x5u":attacker_url}),
        json!({"alg":"RS256","kid":"rsa-evil","jwk":evil.jwk}),
    ] {
        assert_refused(
            f.verify(&evil.sign_with_header(&header, &claims)).await,
            "unknown_kid",
        );
    }
    // Claiming a published kid but carrying the attacker's key: the published key decides.
    for header in [
        json!({"alg":"RS256","kid":"rsa-a","jwk":evil.jwk}),
        json!({"alg":"RS256","kid":"rsa-a","jku":attacker_url}),
        json!({"alg":"RS256","kid":"rsa-a","x5c":["MIIB"]}),
    ] {
        assert_refused(
            f.verify(&evil.sign_with_header(&header, &claims)).await,
            "invalid_signature",
        );
    }
    // A legitimate token that happens to carry these parameters verifies with the JWKS key.
    let header =
        json!({"alg":"RS256","kid":"rsa-a","jku":attacker_url,"x5u":attacker_url,"jwk":evil.jwk});
    f.verify(&k.rsa_a.sign_with_header(&header, &claims))
        .await
        .unwrap();
    assert_eq!(
        f.idp.attacker_hits(),
        0,
        "no URL from a token is ever fetched"
    );
}

#[tokio::test]
async fn oversized_truncated_and_garbage_tokens_are_refused() {
    let f = all_keys().await;
    let k = keys();
    let claims = f.claims();
    let valid = k.rsa_a.sign(&claims);

    // Size limits come first, before any decoding.
    let mut big = claims.clone();
    big["pad"] = json!("x".repeat(16 * 1024));
    assert_refused(f.verify(&k.rsa_a.sign(&big)).await, "token_too_large");
    let mut header = k.rsa_a.header();
    header["pad"] = json!("x".repeat(4 * 1024));
    assert_refused(
        f.verify(&k.rsa_a.sign_with_header(&header, &claims)).await,
        "header_too_large",
    );

    let (h, rest) = valid.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let garbage = [
        String::new(),
        "garbage".into(),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}.{s}.{s}.{s}"),
        format!("{h}..{s}"),
        format!(".{p}.{s}"),
        format!("{h}.{p}.{s}=="),
        format!("{h}.{p}.{s} "),
        format!("Bearer {valid}"),
        format!("{h}.{p}.{}", s.replace('-', "+")),
        format!("{}.{p}.{s}", b64("not json")),
        format!("{}.{p}.{s}", b64("[\"RS256\"]")),
        format!(
            "{}.{p}.{s}",
            b64(r#"{"alg":"RS256","kid":"rsa-a","alg":"none"}"#)
        ),
        format!(
            "{}.{p}.{s}",
            b64(r#"{"alg":"RS256","kid":"rsa-a"} trailing"#)
        ),
        format!("{h}.{p}.{}", "\u{e9}"),
    ];
    for token in garbage {
        assert_refused(f.verify(&token).await, "malformed");
    }

    // Truncated signatures: non-canonical base64url or a wrong-length signature, never accepted.
    for cut in 1..6 {
        let truncated = &valid[..valid.len() - cut];
        match f.verify(truncated).await {
            Err(VerifyError::Malformed(_) | VerifyError::InvalidSignature) => {}
            other => panic!("cut {cut}: {other:?}"),
        }
    }
    // Tampering with the payload or the signature.
    let mut tampered = claims.clone();
    tampered["sub"] = json!("admin");
    assert_refused(
        f.verify(&format!("{h}.{}.{s}", b64(tampered.to_string())))
            .await,
        "invalid_signature",
    );
    let mut sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s).unwrap();
    sig[10] ^= 1;
    assert_refused(
        f.verify(&format!("{h}.{p}.{}", b64(&sig))).await,
        "invalid_signature",
    );

    // A correctly signed payload that is not a claims object, or repeats a claim.
    let not_object = k.rsa_a.sign_raw(&k.rsa_a.header().to_string(), "[1,2]");
    assert_refused(f.verify(&not_object).await, "malformed");
    let dup = format!(
        r#"{{"iss":"{}","aud":"{}","exp":{},"sub":"a","sub":"admin"}}"#,
        f.idp.issuer(),
        crate::CLIENT,
        f.now() + 60
    );
    assert_refused(
        f.verify(&k.rsa_a.sign_raw(&k.rsa_a.header().to_string(), &dup))
            .await,
        "malformed",
    );
    let not_json = k.rsa_a.sign_raw(&k.rsa_a.header().to_string(), "{\"iss\":");
    assert_refused(f.verify(&not_json).await, "malformed");
    assert_eq!(f.idp.hits(), 1);
}

#[tokio::test]
async fn signature_by_another_key_under_a_known_kid_is_refused() {
    let f = all_keys().await;
    let k = keys();
    let forged = k
        .rsa_b
        .sign_with_header(&json!({"alg":"RS256","kid":"rsa-a"}), &f.claims());
    assert_refused(f.verify(&forged).await, "invalid_signature");
}

#[tokio::test]
async fn rsa_keys_under_2048_bits_are_refused_when_the_jwks_is_loaded() {
    let k = keys();
    // A 1024-bit modulus (RFC 8725 §3.5: too weak); the key is dropped before any token is seen.
    let weak = json!({"kty":"RSA","use":"sig","alg":"RS256","kid":"rsa-1024",
        "n": b64([0xc5u8; 128]), "e": "AQAB"});
    let mut jwks = keys::jwks(&[&k.rsa_a]);
    jwks["keys"].as_array_mut().unwrap().push(weak.clone());
    let f = Fixture::new(jwks).await;
    let claims = f.claims();
    f.verify(&k.rsa_a.sign(&claims)).await.unwrap();
    assert_eq!(f.cache.status().key_ids, ["rsa-a"]);
    let forged = k
        .attacker
        .sign_with_header(&json!({"alg":"RS256","kid":"rsa-1024"}), &claims);
    assert_refused(f.verify(&forged).await, "unknown_kid");

    // A JWKS of weak keys only leaves nothing to verify with.
    let f = Fixture::new(json!({ "keys": [weak] })).await;
    let claims = f.claims();
    let no_kid = k
        .attacker
        .sign_with_header(&json!({"alg":"RS256"}), &claims);
    assert_refused(f.verify(&no_kid).await, "no_keys");
    assert!(f.cache.status().key_ids.is_empty());
}
