//! Deadlines and the body cap: a peer cannot hold a delivery worker or its memory.

use std::time::{Duration, Instant};

use axum::{Router, body::Body, routing::get};
use bytes::Bytes;
use gatehouse_egress::{EgressConfig, EgressError, EgressRequest, StaticResolver, TimeoutPhase};
use tokio::io::{AsyncWriteExt, BufReader};

use crate::support::{client, config, read_head, serve, serve_raw};

fn fast(total_ms: u64) -> EgressConfig {
    EgressConfig {
        timeout: Duration::from_millis(total_ms),
        ..config("127.0.0.1")
    }
}

#[tokio::test]
async fn silent_server_times_out() {
    let server = serve_raw(|stream| async move {
        // Accept, read nothing, answer nothing.
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await;
    let egress = client(fast(400), StaticResolver::new());
    let started = Instant::now();
    let err = egress
        .send(EgressRequest::get(format!(
            "http://127.0.0.1:{}/",
            server.port()
        )))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(
            err,
            EgressError::Timeout {
                phase: TimeoutPhase::Total,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert_eq!(
        err.to_string(),
        "127.0.0.1 did not complete the response within 400 ms"
    );
}

#[tokio::test]
async fn slow_loris_body_is_cut_at_the_total_deadline() {
    let server = serve_raw(|stream| async move {
        let mut reader = BufReader::new(stream);
        read_head(&mut reader).await;
        let mut stream = reader.into_inner();
        // Prompt headers, then one body byte every 100 ms: every read makes progress, so only
        // a deadline on the whole exchange ends it.
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
            .await;
        for _ in 0..300 {
            if stream.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let egress = client(fast(1000), StaticResolver::new());
    let started = Instant::now();
    let err = egress
        .send(EgressRequest::get(format!(
            "http://127.0.0.1:{}/",
            server.port()
        )))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, EgressError::Timeout { .. }), "{err:?}");
    // The trickle would last 30 s; margin for a loaded CI machine.
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn slow_loris_headers_are_cut_at_the_total_deadline() {
    let server = serve_raw(|stream| async move {
        let mut reader = BufReader::new(stream);
        read_head(&mut reader).await;
        let mut stream = reader.into_inner();
        for byte in b"HTTP/1.1 200 OK\r\nx-slow: "
            .iter()
            .chain([b'a'; 200].iter())
        {
            if stream.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let egress = client(fast(700), StaticResolver::new());
    let started = Instant::now();
    let err = egress
        .send(EgressRequest::get(format!(
            "http://127.0.0.1:{}/",
            server.port()
        )))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn per_request_timeout_overrides_the_default() {
    let server = serve_raw(|stream| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await;
    let egress = client(config("127.0.0.1"), StaticResolver::new());
    let started = Instant::now();
    let err = egress
        .send(
            EgressRequest::get(format!("http://127.0.0.1:{}/", server.port()))
                .timeout(Duration::from_millis(300)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EgressError::Timeout { after, .. } if after == Duration::from_millis(300))
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn endless_body_is_truncated_without_reading_it_all() {
    // An endless stream of 64 KiB chunks: reading it all would never finish.
    let app = Router::new()
        .route(
            "/endless",
            get(|| async {
                let chunk = Bytes::from(vec![b'z'; 64 * 1024]);
                let stream = futures::stream::repeat_with(move || {
                    Ok::<_, std::convert::Infallible>(chunk.clone())
                });
                Body::from_stream(stream)
            }),
        )
        .route("/exact", get(|| async { vec![b'e'; 1000] }))
        .route("/big", get(|| async { vec![b'b'; 10 * 1024 * 1024] }));
    let server = serve("127.0.0.1:0", app).await;
    let egress = client(
        EgressConfig {
            max_body_bytes: 1000,
            ..config("127.0.0.1")
        },
        StaticResolver::new(),
    );
    let base = format!("http://127.0.0.1:{}", server.port());

    let started = Instant::now();
    let response = egress
        .send(EgressRequest::get(format!("{base}/endless")))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(response.body.len(), 1000);
    assert!(response.truncated);
    assert!(response.body.iter().all(|b| *b == b'z'));

    let response = egress
        .send(EgressRequest::get(format!("{base}/big")))
        .await
        .unwrap();
    assert_eq!((response.body.len(), response.truncated), (1000, true));

    let response = egress
        .send(EgressRequest::get(format!("{base}/exact")))
        .await
        .unwrap();
    assert_eq!((response.body.len(), response.truncated), (1000, false));

    // The default cap is 64 KiB.
    let default_cap = client(config("127.0.0.1"), StaticResolver::new());
    let response = default_cap
        .send(EgressRequest::get(format!("{base}/big")))
        .await
        .unwrap();
    assert_eq!(response.body.len(), 64 * 1024);
    assert!(response.truncated);
}

#[tokio::test]
async fn zero_limits_are_configuration_errors() {
    for config in [
        EgressConfig {
            timeout: Duration::ZERO,
            ..EgressConfig::default()
        },
        EgressConfig {
            max_body_bytes: 0,
            ..EgressConfig::default()
        },
    ] {
        let err = gatehouse_egress::EgressClient::new(config).unwrap_err();
        assert!(
            err.to_string().contains("must be greater than zero"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let egress = client(config("127.0.0.1"), StaticResolver::new());
    let err = egress
        .send(EgressRequest::get(format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EgressError::Connect {
                via_proxy: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "could not connect to 127.0.0.1");
    assert!(std::error::Error::source(&err).is_some());
}
