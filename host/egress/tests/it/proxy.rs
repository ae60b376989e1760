//! HTTP(S)_PROXY / NO_PROXY: honoured, and the policy still holds for targets.

use std::collections::HashMap;

use axum::{Router, routing::get};
use gatehouse_egress::{
    BlockReason, CaBundle, EgressConfig, EgressError, EgressRequest, ProxyTrust, StaticResolver,
};

use crate::support::{PUBLIC_IP, client, config, ip, pki, proxy, proxy_vars, serve, serve_tls};

#[tokio::test]
async fn http_requests_go_through_the_proxy_with_credentials() {
    let proxy = proxy(HashMap::new()).await;
    let resolver = StaticResolver::new().with("public.test", [ip(PUBLIC_IP)]);
    let config = EgressConfig {
        // Lowercase form; credentials in the URL become Proxy-Authorization.
        proxy: proxy_vars(
            &[(
                "http_proxy",
                format!("http://user:pa55@{}", proxy.server.addr),
            )],
            ProxyTrust::Operator,
        ),
        ..config("")
    };
    let egress = client(config, resolver);
    let response = egress
        .send(EgressRequest::get("http://public.test/hook?x=1"))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        std::str::from_utf8(&response.body).unwrap(),
        "proxied GET http://public.test/hook?x=1"
    );
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0]
            .headers
            .contains(&("proxy-authorization".into(), "Basic dXNlcjpwYTU1".into())),
        "{:?}",
        seen[0].headers
    );
    // The operator's proxy on loopback was usable although loopback is not allowlisted.
    assert_eq!(proxy.server.accepts(), 1);
}

#[tokio::test]
async fn policy_applies_to_targets_before_anything_reaches_the_proxy() {
    let proxy = proxy(HashMap::new()).await;
    let resolver = StaticResolver::new()
        .with("evil.test", [ip("10.0.0.5")])
        .with("meta.test", [ip("169.254.169.254")]);
    let config = EgressConfig {
        proxy: proxy_vars(
            &[
                ("HTTP_PROXY", format!("http://{}", proxy.server.addr)),
                ("HTTPS_PROXY", format!("http://{}", proxy.server.addr)),
            ],
            ProxyTrust::Operator,
        ),
        ..config("")
    };
    let egress = client(config, resolver);
    for (url, address, reason) in [
        ("http://evil.test/", "10.0.0.5", BlockReason::Private),
        (
            "https://meta.test/",
            "169.254.169.254",
            BlockReason::CloudMetadata,
        ),
        ("http://10.0.0.5/", "10.0.0.5", BlockReason::Private),
        ("http://127.0.0.1/", "127.0.0.1", BlockReason::Loopback),
        ("https://[::1]/", "::1", BlockReason::Loopback),
    ] {
        let err = egress.send(EgressRequest::get(url)).await.unwrap_err();
        match err {
            EgressError::Blocked {
                address: a,
                reason: r,
                ..
            } => {
                assert_eq!((a, r), (ip(address), reason), "{url}");
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    // Unresolvable targets are not handed to the proxy either.
    let err = egress
        .send(EgressRequest::get("http://nowhere.test/"))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::Dns { .. }), "{err:?}");
    assert_eq!(proxy.server.accepts(), 0);
}

#[tokio::test]
async fn no_proxy_bypasses_the_proxy() {
    let proxy = proxy(HashMap::new()).await;
    let origin = serve(
        "127.0.0.1:0",
        Router::new().route("/", get(|| async { "direct" })),
    )
    .await;
    let url = format!("http://127.0.0.1:{}/", origin.port());
    let via_proxy = format!("http://{}", proxy.server.addr);

    let proxied = client(
        EgressConfig {
            proxy: proxy_vars(&[("HTTP_PROXY", via_proxy.clone())], ProxyTrust::Operator),
            ..config("127.0.0.1")
        },
        StaticResolver::new(),
    );
    let response = proxied.send(EgressRequest::get(&url)).await.unwrap();
    assert_eq!(
        std::str::from_utf8(&response.body).unwrap(),
        format!("proxied GET {url}")
    );
    assert_eq!((proxy.server.accepts(), origin.accepts()), (1, 0));

    for no_proxy in ["127.0.0.1", "127.0.0.0/8", "*", "localhost,127.0.0.1"] {
        let bypass = client(
            EgressConfig {
                proxy: proxy_vars(
                    &[
                        ("HTTP_PROXY", via_proxy.clone()),
                        ("no_proxy", no_proxy.to_owned()),
                    ],
                    ProxyTrust::Operator,
                ),
                ..config("127.0.0.1")
            },
            StaticResolver::new(),
        );
        let response = bypass.send(EgressRequest::get(&url)).await.unwrap();
        assert_eq!(&response.body[..], b"direct", "NO_PROXY={no_proxy}");
    }
    assert_eq!((proxy.server.accepts(), origin.accepts()), (1, 4));
}

#[tokio::test]
async fn https_is_tunnelled_with_connect() {
    let pki = pki(&["secure.test"]);
    let origin = serve_tls(
        &pki,
        Router::new().route("/", get(|| async { "tls through tunnel" })),
    )
    .await;
    let proxy = proxy(HashMap::from([("secure.test:443".to_owned(), origin.addr)])).await;
    let resolver = StaticResolver::new().with("secure.test", [ip(PUBLIC_IP)]);
    let egress = client(
        EgressConfig {
            proxy: proxy_vars(
                &[("HTTPS_PROXY", format!("http://{}", proxy.server.addr))],
                ProxyTrust::Operator,
            ),
            ca_bundle: Some(CaBundle::from_pem(pki.ca_pem.as_bytes()).unwrap()),
            ..config("")
        },
        resolver,
    );
    let response = egress
        .send(EgressRequest::get("https://secure.test/"))
        .await
        .unwrap();
    assert_eq!(&response.body[..], b"tls through tunnel");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("CONNECT", "secure.test:443")
    );
    assert_eq!(origin.accepts(), 1);
}

#[tokio::test]
async fn untrusted_proxy_must_pass_the_policy_itself() {
    let proxy = proxy(HashMap::new()).await;
    let resolver = StaticResolver::new()
        .with("public.test", [ip(PUBLIC_IP)])
        .with("proxy.test", [ip("127.0.0.1")]);
    for proxy_url in [
        format!("http://{}", proxy.server.addr),
        format!("http://proxy.test:{}", proxy.server.port()),
    ] {
        let egress = client(
            EgressConfig {
                proxy: proxy_vars(&[("HTTP_PROXY", proxy_url.clone())], ProxyTrust::Untrusted),
                ..config("")
            },
            resolver.clone(),
        );
        let err = egress
            .send(EgressRequest::get("http://public.test/"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                EgressError::Blocked {
                    reason: BlockReason::Loopback,
                    ..
                }
            ),
            "{proxy_url}: {err:?}"
        );
    }
    assert_eq!(proxy.server.accepts(), 0);

    // Once the operator allowlists it, the same untrusted proxy is used.
    let egress = client(
        EgressConfig {
            proxy: proxy_vars(
                &[("HTTP_PROXY", format!("http://{}", proxy.server.addr))],
                ProxyTrust::Untrusted,
            ),
            ..config("127.0.0.1")
        },
        resolver,
    );
    let response = egress
        .send(EgressRequest::get("http://public.test/"))
        .await
        .unwrap();
    assert_eq!(&response.body[..], b"proxied GET http://public.test/");
    assert_eq!(proxy.server.accepts(), 1);
}

#[tokio::test]
async fn unreachable_proxy_is_a_connect_error_naming_the_target_only() {
    // Bind then drop to get a port with nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let resolver = StaticResolver::new().with("public.test", [ip(PUBLIC_IP)]);
    let egress = client(
        EgressConfig {
            proxy: proxy_vars(
                &[("HTTP_PROXY", format!("http://u:secret@127.0.0.1:{port}"))],
                ProxyTrust::Operator,
            ),
            ..config("")
        },
        resolver,
    );
    let err = egress
        .send(EgressRequest::get("http://public.test/"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EgressError::Connect {
                via_proxy: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "could not connect to public.test through the egress proxy"
    );
    assert!(!format!("{err:?}").contains("secret"), "{err:?}");
}
