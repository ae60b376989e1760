//! The extra CA bundle: trusted in addition to the system roots, and only when configured.

use axum::{Router, routing::get};
use gatehouse_egress::{
    CaBundle, EgressConfig, EgressError, EgressRequest, StaticResolver, TlsProblem,
};

use crate::support::{ca, client, config, ip, pki, serve_tls};

#[tokio::test]
async fn custom_ca_bundle_is_required_and_sufficient() {
    let pki = pki(&["secure.test", "127.0.0.1"]);
    let server = serve_tls(
        &pki,
        Router::new().route("/", get(|| async { "secret handshake" })),
    )
    .await;
    let port = server.port();
    let resolver = || {
        StaticResolver::new()
            .with("secure.test", [ip("127.0.0.1")])
            .with("other.test", [ip("127.0.0.1")])
    };
    let url = format!("https://secure.test:{port}/");

    // System roots only: the private CA is unknown.
    let plain = client(config("127.0.0.1"), resolver());
    let err = plain.send(EgressRequest::get(&url)).await.unwrap_err();
    match &err {
        EgressError::Tls { host, problem, .. } => {
            assert_eq!(host, "secure.test");
            assert_eq!(*problem, TlsProblem::UntrustedCertificate);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "TLS connection to secure.test failed: the certificate is not issued by a trusted CA"
    );

    // A bundle file holding an unrelated CA first and ours second: every certificate counts.
    let (_, _, unrelated_pem) = ca("Unrelated CA");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.pem");
    std::fs::write(&path, format!("{unrelated_pem}\n{}", pki.ca_pem)).unwrap();
    let bundle = CaBundle::from_pem_file(&path).unwrap();
    assert_eq!(bundle.len(), 2);
    let trusting = client(
        EgressConfig {
            ca_bundle: Some(bundle.clone()),
            require_https: true,
            ..config("127.0.0.1")
        },
        resolver(),
    );
    let response = trusting.send(EgressRequest::get(&url)).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(&response.body[..], b"secret handshake");

    // The literal address is in the certificate too.
    let response = trusting
        .send(EgressRequest::get(format!("https://127.0.0.1:{port}/")))
        .await
        .unwrap();
    assert_eq!(&response.body[..], b"secret handshake");

    // Trusted CA, wrong name.
    let err = trusting
        .send(EgressRequest::get(format!("https://other.test:{port}/")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EgressError::Tls {
                problem: TlsProblem::WrongHost,
                ..
            }
        ),
        "{err:?}"
    );

    // A bundle holding only the unrelated CA does not help.
    let wrong = client(
        EgressConfig {
            ca_bundle: Some(CaBundle::from_pem(unrelated_pem.as_bytes()).unwrap()),
            ..config("127.0.0.1")
        },
        resolver(),
    );
    let err = wrong.send(EgressRequest::get(&url)).await.unwrap_err();
    assert!(
        matches!(
            err,
            EgressError::Tls {
                problem: TlsProblem::UntrustedCertificate,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn bundle_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.pem");
    std::fs::write(&path, "# nothing here\n").unwrap();
    let err = CaBundle::from_pem_file(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "CA bundle {}: no `BEGIN CERTIFICATE` block found",
            path.display()
        )
    );
}
