//! Size limits on what the IdP answers: the JWKS fetch and the code exchange read at most their
//! limit, whether or not the answer declares its length.

use axum::{Router, body::Body, http::StatusCode, response::IntoResponse, routing::post};
use gatehouse_jwks::{
    FetchError, FetchRequest, JwksFetcher, ReqwestFetcher,
    code::{CodeExchange, ExchangeError, MAX_TOKEN_RESPONSE, exchange_code},
};
use serde_json::json;
use std::time::Duration;

use crate::idp::TestIdp;

/// `body` in one piece (with a Content-Length) or streamed in chunks (without one).
fn body(bytes: Vec<u8>, chunked: bool) -> Body {
    if chunked {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            bytes.chunks(8192).map(|c| Ok(c.to_vec())).collect();
        Body::from_stream(futures::stream::iter(chunks))
    } else {
        Body::from(bytes)
    }
}

#[tokio::test]
async fn jwks_answers_over_the_limit_are_refused_with_or_without_a_length() {
    let idp = TestIdp::start(json!({"keys": []})).await;
    let fetcher = ReqwestFetcher::new().unwrap();
    let url = idp.jwks_uri();
    let request = FetchRequest {
        url: &url,
        max_body_bytes: 4096,
        timeout: Duration::from_secs(5),
    };
    for chunked in [false, true] {
        idp.update(|b| {
            b.raw_body = Some(vec![b' '; 20_000]);
            b.chunked = chunked;
        });
        let err = fetcher.fetch(request).await.unwrap_err();
        assert!(
            matches!(err, FetchError::TooLarge { max: 4096 }),
            "chunked {chunked}: {err:?}"
        );
        // At the limit exactly, the whole body arrives.
        idp.update(|b| b.raw_body = Some(vec![b' '; 4096]));
        let response = fetcher.fetch(request).await.unwrap();
        assert_eq!(response.body.len(), 4096, "chunked {chunked}");
    }
}

/// A token endpoint answering `status` with `answer`, whole or in chunks.
async fn token_endpoint(status: StatusCode, answer: Vec<u8>, chunked: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/oauth/v2/token", listener.local_addr().unwrap());
    let app = Router::new().route(
        "/oauth/v2/token",
        post(move || {
            let answer = answer.clone();
            async move { (status, body(answer, chunked)).into_response() }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn exchange(token_endpoint: &str) -> Result<gatehouse_jwks::code::Tokens, ExchangeError> {
    exchange_code(
        &reqwest::Client::new(),
        CodeExchange {
            token_endpoint,
            client_id: "client",
            client_secret: "secret",
            code: "code",
            redirect_uri: "http://localhost/callback",
            code_verifier: "verifier",
        },
    )
    .await
}

#[tokio::test]
async fn token_answers_over_the_limit_are_refused_with_or_without_a_length() {
    let mut huge = br#"{"id_token":""#.to_vec();
    huge.resize(MAX_TOKEN_RESPONSE + 1, b'a');
    huge.extend_from_slice(br#""}"#);
    for chunked in [false, true] {
        let url = token_endpoint(StatusCode::OK, huge.clone(), chunked).await;
        let err = exchange(&url).await.unwrap_err();
        assert!(
            matches!(&err, ExchangeError::Unreachable(m) if m.contains("answer over")),
            "chunked {chunked}: {err:?}"
        );

        let url = token_endpoint(
            StatusCode::OK,
            br#"{"id_token":"a.b.c","access_token":"t"}"#.to_vec(),
            chunked,
        )
        .await;
        let tokens = exchange(&url).await.unwrap();
        assert_eq!(
            (tokens.id_token.as_str(), tokens.access_token.as_deref()),
            ("a.b.c", Some("t"))
        );

        let url = token_endpoint(
            StatusCode::BAD_REQUEST,
            br#"{"error":"invalid_grant"}"#.to_vec(),
            chunked,
        )
        .await;
        let err = exchange(&url).await.unwrap_err();
        assert!(
            matches!(&err, ExchangeError::Refused { status: 400, error: Some(e), .. } if e == "invalid_grant"),
            "{err:?}"
        );
    }
}
