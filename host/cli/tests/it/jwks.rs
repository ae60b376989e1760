//! `gatehouse jwks export` from a test IdP, then `gatehouse jwks verify` from the bundle alone,
//! with the IdP stopped.

use std::{
    io::Write,
    path::Path,
    process::{Output, Stdio},
    time::{SystemTime, UNIX_EPOCH},
};

use aws_lc_rs::{
    rand::SystemRandom,
    rsa::KeySize,
    signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
        RsaPublicKeyComponents,
    },
};
use axum::{Json, Router, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::{gatehouse, text};

const AUDIENCE: &str = "281474976710656@gatehouse";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

enum Key {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A signing key and its public JWK.
struct SigningKey {
    kid: &'static str,
    key: Key,
}

impl SigningKey {
    fn rsa(kid: &'static str) -> Self {
        let key = Key::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap());
        Self { kid, key }
    }

    fn ec(kid: &'static str) -> Self {
        let key = Key::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap());
        Self { kid, key }
    }

    fn alg(&self) -> &'static str {
        match self.key {
            Key::Rsa(_) => "RS256",
            Key::Ec(_) => "ES256",
        }
    }

    fn jwk(&self) -> Value {
        match &self.key {
            Key::Rsa(pair) => {
                let c = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                json!({"kty":"RSA","use":"sig","alg":"RS256","kid":self.kid,
                    "n":b64(&c.n),"e":b64(&c.e)})
            }
            Key::Ec(pair) => {
                let p = pair.public_key().as_ref();
                json!({"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":self.kid,
                    "x":b64(&p[1..33]),"y":b64(&p[33..65])})
            }
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": self.alg(), "typ": "JWT", "kid": self.kid});
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let rng = SystemRandom::new();
        let sig = match &self.key {
            Key::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                    .unwrap();
                sig
            }
            Key::Ec(pair) => pair.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        };
        format!("{input}.{}", b64(sig))
    }
}

/// An IdP on 127.0.0.1:0 whose issuer is `<base><prefix>`: OpenID discovery and a JWKS.
struct TestIdp {
    base: String,
    issuer: String,
    server: tokio::task::JoinHandle<()>,
}

impl TestIdp {
    async fn start(prefix: &str, jwks: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = format!("{base}{prefix}");
        let discovery = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/oauth/v2/keys"),
            "authorization_endpoint": format!("{issuer}/oauth/v2/authorize"),
        });
        let app = Router::new()
            .route(
                &format!("{prefix}/.well-known/openid-configuration"),
                get(move || async move { Json(discovery) }),
            )
            .route(
                &format!("{prefix}/oauth/v2/keys"),
                get(move || async move { Json(jwks) }),
            );
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base,
            issuer,
            server,
        }
    }

    /// Stops serving and checks that its discovery document is gone. (Not that the port refuses
    /// connections: the OS may already have handed it to another test's server.)
    async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
        let discovery = format!("{}/.well-known/openid-configuration", self.issuer);
        let still_served = match reqwest::get(&discovery).await {
            Ok(response) if response.status().is_success() => response
                .json::<Value>()
                .await
                .is_ok_and(|document| document["issuer"] == self.issuer.as_str()),
            _ => false,
        };
        assert!(!still_served, "the IdP still serves {discovery}");
    }
}

/// Runs `gatehouse <args>` in `dir` (so no stray gatehouse.toml is read), with `env` and `stdin`.
async fn run(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = gatehouse();
    cmd.current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run gatehouse");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn export_from_an_idp_then_verify_offline_from_the_bundle() {
    let rsa = SigningKey::rsa("rsa-1");
    let ec = SigningKey::ec("ec-1");
    let stranger = SigningKey::rsa("rsa-1"); // same kid, key not published
    let idp = TestIdp::start("", json!({"keys": [rsa.jwk(), ec.jwk()]})).await;
    let issuer = idp.issuer.clone();
    let dir = tempfile::tempdir().unwrap();
    let bundle_path = dir.path().join("bundle.json");
    let bundle = bundle_path.to_str().unwrap();

    let out = run(
        dir.path(),
        &["jwks", "export", "--issuer", &issuer, "--out", bundle],
        &[],
        None,
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("2 key(s) [rsa-1, ec-1]"), "{stdout}");
    let written: Value = serde_json::from_slice(&std::fs::read(&bundle_path).unwrap()).unwrap();
    assert_eq!(written["format"], "gatehouse-jwks-bundle");
    assert_eq!(written["issuer"], issuer.as_str());
    assert_eq!(written["jwks"]["keys"].as_array().unwrap().len(), 2);

    idp.stop().await;

    let claims = json!({"iss": issuer, "sub": "user-7", "aud": [AUDIENCE, "project"],
        "exp": now() + 300, "iat": now(), "roles": ["admin"]});
    for key in [&rsa, &ec] {
        let token = key.sign(&claims);
        let out = run(
            dir.path(),
            &[
                "jwks",
                "verify",
                "--bundle",
                bundle,
                "--issuer",
                &issuer,
                "--audience",
                AUDIENCE,
                &token,
            ],
            &[],
            None,
        )
        .await;
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{}: {stderr}", key.alg());
        let printed: Value = serde_json::from_str(&stdout).expect("claims JSON on stdout");
        assert_eq!(printed, claims);
        assert!(
            stderr.contains(&format!("valid {} token (kid {})", key.alg(), key.kid)),
            "{stderr}"
        );
    }

    // From stdin, with a `Bearer ` prefix, and the issuer taken from the bundle.
    let token = rsa.sign(&claims);
    let out = run(
        dir.path(),
        &["jwks", "verify", "--bundle", bundle, "--audience", AUDIENCE],
        &[],
        Some(&format!("Bearer {token}\n")),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out).1);

    // Refusals name the rule and exit non-zero.
    let expired = json!({"iss": issuer, "aud": AUDIENCE, "exp": now() - 3600});
    // One signature character changed (not the last, whose low bits base64url may not use).
    let mut tampered = rsa.sign(&claims).into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (token, audience, expected) in [
        (rsa.sign(&claims), "another-app", "audience_mismatch"),
        (rsa.sign(&expired), AUDIENCE, "expired"),
        (stranger.sign(&claims), AUDIENCE, "invalid_signature"),
        (tampered, AUDIENCE, "invalid_signature"),
        ("not.a.jwt".to_owned(), AUDIENCE, "malformed"),
    ] {
        let out = run(
            dir.path(),
            &[
                "jwks",
                "verify",
                "--bundle",
                bundle,
                "--audience",
                audience,
                &token,
            ],
            &[],
            None,
        )
        .await;
        let (stdout, stderr) = text(&out);
        assert!(!out.status.success(), "{expected}: accepted: {stdout}");
        assert!(
            stderr.contains(&format!("token refused ({expected})")),
            "{expected}: {stderr}"
        );
        assert!(
            stdout.is_empty(),
            "{expected}: claims printed for a refused token"
        );
    }
    let out = run(
        dir.path(),
        &[
            "jwks",
            "verify",
            "--bundle",
            bundle,
            "--issuer",
            "https://other.example",
            "--audience",
            AUDIENCE,
            &rsa.sign(&claims),
        ],
        &[],
        None,
    )
    .await;
    assert!(text(&out).1.contains("token refused (issuer_mismatch)"));
}

#[tokio::test]
async fn export_defaults_to_the_embedded_emulator_of_the_configuration() {
    let key = SigningKey::ec("ec-default");
    let idp = TestIdp::start("/zitadel", json!({"keys": [key.jwk()]})).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle_path = dir.path().join("default.json");
    let bundle = bundle_path.to_str().unwrap();

    // public_url is the IdP's base, so `<public_url>/zitadel` is its issuer.
    let public_url = format!("{}/", idp.base);
    let out = run(
        dir.path(),
        &["jwks", "export", "--out", bundle],
        &[("GATEHOUSE_PUBLIC_URL", &public_url)],
        None,
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!("of issuer {}", idp.issuer)),
        "{stdout}"
    );
    let issuer = idp.issuer.clone();
    idp.stop().await;

    let claims = json!({"iss": issuer, "aud": AUDIENCE, "exp": now() + 60});
    let out = run(
        dir.path(),
        &["jwks", "verify", "--bundle", bundle, "--audience", AUDIENCE],
        &[],
        Some(&key.sign(&claims)),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out).1);

    // Nothing listens there any more: the export fails and writes nothing.
    let missing = dir.path().join("missing.json");
    let out = run(
        dir.path(),
        &[
            "jwks",
            "export",
            "--out",
            missing.to_str().unwrap(),
            "--issuer",
            &issuer,
        ],
        &[],
        None,
    )
    .await;
    assert!(!out.status.success());
    assert!(text(&out).1.contains("cannot export the JWKS of"));
    assert!(!missing.exists());

    // A configuration that cannot be loaded is reported when it would supply the issuer.
    let out = run(
        dir.path(),
        &["jwks", "export", "--out", missing.to_str().unwrap()],
        &[("GATEHOUSE_PUBLIC_URL", "ftp://nope")],
        None,
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("no --issuer given"),
        "{}",
        text(&out).1
    );
}
