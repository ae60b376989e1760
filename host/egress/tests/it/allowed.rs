//! What the allowlist opens, and redirects that are returned instead of followed.

use axum::{
    Router,
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
};
use std::{
    io,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use gatehouse_egress::{
    BlockReason, EgressClient, EgressError, EgressRequest, Resolver, StaticResolver,
};
use http::HeaderValue;

use crate::support::{client, config, ip, serve};

fn origin() -> Router {
    Router::new()
        .route("/", get(|| async { "hello from origin" }))
        .route(
            "/echo",
            post(|headers: HeaderMap, body: String| async move {
                let host = headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let sig = headers
                    .get("webhook-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                (StatusCode::ACCEPTED, format!("{host}|{sig}|{body}"))
            }),
        )
}

#[tokio::test]
async fn allowlisted_loopback_address_is_reached() {
    let server = serve("127.0.0.1:0", origin()).await;
    let egress = client(config("127.0.0.1"), StaticResolver::new());
    let response = egress
        .send(EgressRequest::get(format!(
            "http://127.0.0.1:{}/",
            server.port()
        )))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(&response.body[..], b"hello from origin");
    assert!(!response.truncated);
    assert_eq!(response.remote_addr, Some(server.addr));
    assert_eq!(server.accepts(), 1);

    // Only that address: the rest of 127/8 stays closed.
    let other = serve("127.0.0.2:0", origin()).await;
    let result = egress
        .send(EgressRequest::get(format!(
            "http://127.0.0.2:{}/",
            other.port()
        )))
        .await;
    assert!(
        matches!(
            result,
            Err(EgressError::Blocked {
                reason: BlockReason::Loopback,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(other.accepts(), 0);
}

#[tokio::test]
async fn allowlisted_host_name_and_cidr_are_reached_and_caller_headers_pass() {
    let server = serve("127.0.0.1:0", origin()).await;
    let port = server.port();
    let resolver = StaticResolver::new()
        .with("hooks.internal", [ip("127.0.0.1")])
        .with("a.corp.test", [ip("127.0.0.1")]);
    let egress = client(config("hooks.internal,*.corp.test"), resolver);
    for host in ["hooks.internal", "a.corp.test"] {
        let response = egress
            .send(
                EgressRequest::post(format!("http://{host}:{port}/echo"), "payload")
                    .header(
                        "webhook-signature".parse().unwrap(),
                        HeaderValue::from_static("v1,abc"),
                    )
                    // Ignored: the client controls Host so it always matches the checked URL.
                    .header(header::HOST, HeaderValue::from_static("internal-admin")),
            )
            .await
            .unwrap();
        assert_eq!(response.status, StatusCode::ACCEPTED);
        assert_eq!(
            std::str::from_utf8(&response.body).unwrap(),
            format!("{host}:{port}|v1,abc|payload")
        );
    }

    let cidr = client(config("127.0.0.0/30"), StaticResolver::new());
    let response = cidr
        .send(EgressRequest::get(format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(server.accepts(), 3);
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let blocked_target = serve("127.0.0.2:0", Router::new()).await;
    let allowed_target = serve("127.0.0.1:0", Router::new()).await;
    let to_blocked = format!("http://127.0.0.2:{}/", blocked_target.port());
    let to_allowed = format!("http://127.0.0.1:{}/", allowed_target.port());
    let redirector = Router::new()
        .route(
            "/to-private",
            get(move || {
                let to = to_blocked.clone();
                async move { (StatusCode::FOUND, [(header::LOCATION, to)]).into_response() }
            }),
        )
        .route(
            "/to-metadata",
            get(|| async {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    // A name, not the literal: if a regression ever followed it, the resolver
                    // would still refuse and no packet would leave for a metadata address.
                    [(header::LOCATION, "http://meta.test/latest/meta-data/")],
                )
            }),
        )
        .route(
            "/to-allowed",
            get(move || {
                let to = to_allowed.clone();
                async move { (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, to)]) }
            }),
        );
    let server = serve("127.0.0.1:0", redirector).await;
    let resolver = StaticResolver::new().with("meta.test", [ip("169.254.169.254")]);
    let egress = client(config("127.0.0.1"), resolver);

    for (path, status) in [
        ("/to-private", StatusCode::FOUND),
        ("/to-metadata", StatusCode::TEMPORARY_REDIRECT),
        ("/to-allowed", StatusCode::MOVED_PERMANENTLY),
    ] {
        let response = egress
            .send(EgressRequest::get(format!(
                "http://127.0.0.1:{}{path}",
                server.port()
            )))
            .await
            .unwrap();
        assert_eq!(response.status, status, "{path}");
        assert!(response.headers.contains_key(header::LOCATION));
    }
    // Not even an allowed target is followed.
    assert_eq!(blocked_target.accepts(), 0);
    assert_eq!(allowed_target.accepts(), 0);
}

/// Answers `first` on the first lookup and `later` on every other one, like a DNS-rebinding
/// attacker's name server with a zero TTL.
struct Rebinding {
    calls: AtomicUsize,
    first: IpAddr,
    later: IpAddr,
}

#[async_trait::async_trait]
impl Resolver for Rebinding {
    async fn resolve(&self, _host: &str) -> io::Result<Vec<IpAddr>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(vec![if n == 0 { self.first } else { self.later }])
    }
}

#[tokio::test]
async fn a_name_is_resolved_once_and_the_connection_uses_that_answer() {
    let server = serve("127.0.0.1:0", origin()).await;
    // Same port on another loopback address: a second lookup's answer would be reachable.
    let decoy = serve(&format!("127.0.0.3:{}", server.port()), origin()).await;
    for fresh in [true, false] {
        let resolver = Arc::new(Rebinding {
            calls: 0.into(),
            first: ip("127.0.0.1"),
            later: ip("127.0.0.3"),
        });
        let egress = EgressClient::with_resolver(config("127.0.0.1"), resolver.clone()).unwrap();
        let url = format!("http://rebind.test:{}/", server.port());
        if !fresh {
            // `check` resolves on its own; the request after it still resolves exactly once
            // more and connects to what that lookup returned (here: refused).
            egress.check(&url).await.unwrap();
            let err = egress.send(EgressRequest::get(&url)).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    EgressError::Blocked {
                        reason: BlockReason::Loopback,
                        ..
                    }
                ),
                "{err:?}"
            );
            assert_eq!(resolver.calls.load(Ordering::SeqCst), 2);
            continue;
        }
        let response = egress.send(EgressRequest::get(&url)).await.unwrap();
        assert_eq!(&response.body[..], b"hello from origin");
        assert_eq!(response.remote_addr, Some(server.addr));
        assert_eq!(resolver.calls.load(Ordering::SeqCst), 1);
    }
    assert_eq!(server.accepts(), 1);
    assert_eq!(decoy.accepts(), 0);
}
