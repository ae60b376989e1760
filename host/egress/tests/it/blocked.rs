//! Everything the policy refuses, refused before any connection is made.

use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use gatehouse_egress::{
    BlockReason, EgressClient, EgressConfig, EgressError, EgressRequest, StaticResolver,
};

use crate::support::{client, config, ip, serve};

fn origin() -> Router {
    Router::new().route("/", get(|| async { "reached" }))
}

#[track_caller]
fn assert_blocked(
    result: Result<impl std::fmt::Debug, EgressError>,
    address: &str,
    reason: BlockReason,
) {
    match result {
        Err(EgressError::Blocked {
            address: a,
            reason: r,
            ..
        }) => {
            assert_eq!(a, ip(address));
            assert_eq!(r, reason);
        }
        other => panic!("expected Blocked({address}, {reason}), got {other:?}"),
    }
}

#[tokio::test]
async fn loopback_literals_in_every_spelling_never_reach_the_listener() {
    let server = serve("127.0.0.1:0", origin()).await;
    let port = server.port();
    let egress = client(config(""), StaticResolver::new());
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://[::ffff:7f00:1]:{port}/"),
        // Decimal, hex, octal and short forms all denote 127.0.0.1.
        format!("http://2130706433:{port}/"),
        format!("http://0x7f.1:{port}/"),
        format!("http://0x7f000001:{port}/"),
        format!("http://0177.0.0.1:{port}/"),
        format!("http://127.1:{port}/"),
    ] {
        let result = egress.send(EgressRequest::get(&url)).await;
        let Err(EgressError::Blocked {
            address, reason, ..
        }) = &result
        else {
            panic!("{url}: expected Blocked, got {result:?}");
        };
        assert_eq!(*reason, BlockReason::Loopback, "{url}");
        assert_eq!(address.to_canonical(), ip("127.0.0.1"), "{url}");
    }
    assert_eq!(server.accepts(), 0, "no connection may reach the listener");
}

#[tokio::test]
async fn ipv6_loopback_is_refused() {
    // Bind [::1] when the machine has IPv6 so "never reached" is observable.
    let server = match tokio::net::TcpListener::bind("[::1]:0").await {
        Ok(probe) => {
            drop(probe);
            Some(serve("[::1]:0", origin()).await)
        }
        Err(_) => None,
    };
    let port = server.as_ref().map_or(9, |s| s.port());
    let egress = client(config(""), StaticResolver::new());
    let result = egress
        .send(EgressRequest::get(format!("http://[::1]:{port}/")))
        .await;
    assert_blocked(result, "::1", BlockReason::Loopback);
    if let Some(server) = server {
        assert_eq!(server.accepts(), 0);
    }
}

#[tokio::test]
async fn private_link_local_and_metadata_addresses_are_refused_without_connecting() {
    let egress = client(config(""), StaticResolver::new());
    let cases = [
        ("http://10.0.0.5/", "10.0.0.5", BlockReason::Private),
        (
            "http://10.255.255.1:8080/x",
            "10.255.255.1",
            BlockReason::Private,
        ),
        ("http://172.16.0.1/", "172.16.0.1", BlockReason::Private),
        ("http://192.168.0.1/", "192.168.0.1", BlockReason::Private),
        (
            "http://100.64.0.1/",
            "100.64.0.1",
            BlockReason::SharedAddressSpace,
        ),
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254",
            BlockReason::CloudMetadata,
        ),
        (
            "http://[fd00:ec2::254]/",
            "fd00:ec2::254",
            BlockReason::CloudMetadata,
        ),
        ("http://169.254.1.1/", "169.254.1.1", BlockReason::LinkLocal),
        ("http://[fe80::1]/", "fe80::1", BlockReason::LinkLocal),
        ("http://[fd12::1]/", "fd12::1", BlockReason::UniqueLocal),
        (
            "http://[::ffff:10.0.0.5]/",
            "::ffff:10.0.0.5",
            BlockReason::Private,
        ),
        ("http://0.0.0.0/", "0.0.0.0", BlockReason::Unspecified),
        ("http://[::]/", "::", BlockReason::Unspecified),
        (
            "http://255.255.255.255/",
            "255.255.255.255",
            BlockReason::Broadcast,
        ),
        ("http://224.0.0.1/", "224.0.0.1", BlockReason::Multicast),
        ("http://192.0.2.1/", "192.0.2.1", BlockReason::Documentation),
        ("https://10.0.0.5/", "10.0.0.5", BlockReason::Private),
    ];
    for (url, address, reason) in cases {
        // `validate_url` (no network) first, so a policy bug fails here instead of sending
        // packets to a real private or metadata address.
        assert_blocked(egress.validate_url(url), address, reason);
        let started = Instant::now();
        let result = egress.send(EgressRequest::get(url)).await;
        // Refused before any connect attempt: no timeout, no network round trip.
        assert!(started.elapsed() < Duration::from_millis(500), "{url}");
        assert_blocked(result, address, reason);
    }
}

#[tokio::test]
async fn names_resolving_to_internal_addresses_are_refused() {
    let server = serve("127.0.0.1:0", origin()).await;
    let port = server.port();
    let resolver = StaticResolver::new()
        .with("evil.test", [ip("10.0.0.5")])
        .with("rebind.test", [ip("127.0.0.1")])
        .with("meta.test", [ip("169.254.169.254")])
        .with(
            "mixed.test",
            [ip(crate::support::PUBLIC_IP), ip("127.0.0.1")],
        );
    let egress = client(config(""), resolver);

    // Loopback names first: a regression in the resolver path then fails against the local
    // listener before anything could be sent to the private address below.
    for (host, address, reason) in [
        ("rebind.test", "127.0.0.1", BlockReason::Loopback),
        ("REBIND.test.", "127.0.0.1", BlockReason::Loopback),
        ("meta.test", "169.254.169.254", BlockReason::CloudMetadata),
        // One bad address spoils the name: no "pick the public one" games.
        ("mixed.test", "127.0.0.1", BlockReason::Loopback),
    ] {
        let url = format!("http://{host}:{port}/");
        assert_blocked(egress.check(&url).await, address, reason);
        assert_blocked(egress.send(EgressRequest::get(&url)).await, address, reason);
    }

    // `check` resolves without connecting; it must refuse before `send` is tried.
    assert_blocked(
        egress.check(&format!("http://evil.test:{port}/")).await,
        "10.0.0.5",
        BlockReason::Private,
    );
    let result = egress
        .send(EgressRequest::get(format!("http://evil.test:{port}/")))
        .await;
    match &result {
        Err(EgressError::Blocked { host, .. }) => assert_eq!(host, "evil.test"),
        other => panic!("{other:?}"),
    }
    assert_blocked(result, "10.0.0.5", BlockReason::Private);
    assert_eq!(
        egress
            .send(EgressRequest::get(format!("http://evil.test:{port}/")))
            .await
            .unwrap_err()
            .to_string(),
        "requests to evil.test are blocked: 10.0.0.5 is a private address"
    );

    assert_eq!(server.accepts(), 0);
}

#[tokio::test]
async fn system_resolver_localhost_is_refused() {
    let server = serve("127.0.0.1:0", origin()).await;
    let egress = EgressClient::new(EgressConfig::default()).unwrap();
    let result = egress
        .send(EgressRequest::get(format!(
            "http://localhost:{}/",
            server.port()
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
    assert_eq!(server.accepts(), 0);
}

#[tokio::test]
async fn unknown_names_and_bad_urls_get_clear_errors() {
    let egress = client(config(""), StaticResolver::new());
    let err = egress
        .send(EgressRequest::get("http://nowhere.test/"))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::Dns { .. }), "{err:?}");
    assert_eq!(err.to_string(), "could not resolve nowhere.test");
    assert!(!err.is_permanent());

    for (url, message) in [
        (
            "ftp://example.com/",
            "invalid URL: unsupported scheme `ftp` (use https or http)",
        ),
        ("not a url", "invalid URL: relative URL without a base"),
        ("http://", "invalid URL: empty host"),
        (
            "file:///etc/passwd",
            "invalid URL: unsupported scheme `file` (use https or http)",
        ),
    ] {
        let err = egress.send(EgressRequest::get(url)).await.unwrap_err();
        assert_eq!(err.to_string(), message, "{url}");
        assert!(err.is_permanent());
    }

    let strict = client(
        EgressConfig {
            require_https: true,
            ..config("")
        },
        StaticResolver::new(),
    );
    let err = strict
        .send(EgressRequest::get("http://example.com/"))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::HttpsRequired), "{err:?}");
}
