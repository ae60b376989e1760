//! A test IdP: serves a JWKS and a discovery document on 127.0.0.1:0, with status, headers, body,
//! delay and failures under the test's control, and counts requests.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};

/// How the JWKS endpoint answers.
#[derive(Clone)]
pub struct Behaviour {
    pub jwks: Value,
    pub status: u16,
    pub cache_control: Option<String>,
    pub delay: Duration,
    /// Replaces the JSON body when set.
    pub raw_body: Option<Vec<u8>>,
    /// Streams the body without a Content-Length.
    pub chunked: bool,
    /// Overrides the `issuer` in the discovery document.
    pub discovery_issuer: Option<String>,
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    jwks_hits: AtomicUsize,
    other_hits: AtomicUsize,
    base: String,
}

pub struct TestIdp {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestIdp {
    pub async fn start(jwks: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(Behaviour {
                jwks,
                status: 200,
                cache_control: Some("max-age=300, must-revalidate".into()),
                delay: Duration::ZERO,
                raw_body: None,
                chunked: false,
                discovery_issuer: None,
            }),
            jwks_hits: AtomicUsize::new(0),
            other_hits: AtomicUsize::new(0),
            base: format!("http://{addr}"),
        });
        let app = Router::new()
            .route("/oauth/v2/keys", get(keys))
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/redirect", get(redirect))
            .route("/attacker/keys", get(attacker))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { shared, server }
    }

    pub fn issuer(&self) -> String {
        self.shared.base.clone()
    }

    pub fn jwks_uri(&self) -> String {
        format!("{}/oauth/v2/keys", self.shared.base)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shared.base)
    }

    /// Requests to the JWKS endpoint so far.
    pub fn hits(&self) -> usize {
        self.shared.jwks_hits.load(Ordering::SeqCst)
    }

    /// Requests to the attacker's endpoint (must stay zero).
    pub fn attacker_hits(&self) -> usize {
        self.shared.other_hits.load(Ordering::SeqCst)
    }

    pub fn update(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.shared.behaviour.lock().unwrap());
    }

    pub fn set_keys(&self, jwks: Value) {
        self.update(|b| b.jwks = jwks);
    }

    pub fn set_status(&self, status: u16) {
        self.update(|b| b.status = status);
    }

    pub fn set_cache_control(&self, value: Option<&str>) {
        self.update(|b| b.cache_control = value.map(str::to_owned));
    }

    pub fn set_delay(&self, delay: Duration) {
        self.update(|b| b.delay = delay);
    }
}

async fn keys(State(s): State<Arc<Shared>>) -> Response {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let b = s.behaviour.lock().unwrap().clone();
    if !b.delay.is_zero() {
        tokio::time::sleep(b.delay).await;
    }
    let body = b
        .raw_body
        .unwrap_or_else(|| serde_json::to_vec(&b.jwks).unwrap());
    let body = if b.chunked {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            body.chunks(8192).map(|c| Ok(c.to_vec())).collect();
        Body::from_stream(futures::stream::iter(chunks))
    } else {
        Body::from(body)
    };
    let mut response = (StatusCode::from_u16(b.status).unwrap(), body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    if let Some(cc) = b.cache_control {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_str(&cc).unwrap());
    }
    response
}

async fn discovery(State(s): State<Arc<Shared>>) -> Response {
    let issuer = s
        .behaviour
        .lock()
        .unwrap()
        .discovery_issuer
        .clone()
        .unwrap_or(s.base.clone());
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/oauth/v2/keys", s.base),
        "authorization_endpoint": format!("{}/oauth/v2/authorize", s.base),
    }))
    .into_response()
}

async fn redirect(State(s): State<Arc<Shared>>) -> Response {
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("{}/oauth/v2/keys", s.base))],
    )
        .into_response()
}

async fn attacker(State(s): State<Arc<Shared>>) -> Response {
    s.other_hits.fetch_add(1, Ordering::SeqCst);
    StatusCode::NOT_FOUND.into_response()
}

/// A URL on a port nothing listens on.
pub async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/oauth/v2/keys")
}
