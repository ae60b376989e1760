//! A small HTTP client for tests: every call returns a [`TestResponse`] whose assertions print
//! the body when the status is not the expected one.

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct TestClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestClient {
    pub fn new(base: &str, token: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("reqwest client");
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The same client with another bearer token.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// The same client without credentials.
    pub fn anonymous(&self) -> Self {
        Self {
            token: None,
            ..self.clone()
        }
    }

    /// A request builder with the base URL and credential applied, for unusual requests.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn send(&self, builder: reqwest::RequestBuilder) -> TestResponse {
        let response = builder
            .send()
            .await
            .expect("request reaches the test server");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("response body").to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.send(self.request(Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.send(self.request(Method::POST, path).json(&body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> TestResponse {
        self.send(self.request(Method::PATCH, path).json(&body))
            .await
    }

    /// Creates a tenant and returns its JSON.
    pub async fn create_tenant(&self, name: &str, slug: &str) -> Value {
        self.post(
            "/v1/tenants",
            serde_json::json!({ "name": name, "slug": slug }),
        )
        .await
        .expect(201)
        .json()
    }

    /// Creates an app under `tenant_id` and returns its JSON.
    pub async fn create_app(&self, tenant_id: &str, body: Value) -> Value {
        self.post(&format!("/v1/tenants/{tenant_id}/apps"), body)
            .await
            .expect(201)
            .json()
    }
}

impl TestResponse {
    /// Panics, showing the body, unless the status is `status`.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text()
        );
        self
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    #[track_caller]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not the expected JSON ({e}): {}", self.text()))
    }

    /// `error.code` of an error body.
    #[track_caller]
    pub fn error_code(&self) -> String {
        let body: Value = self.json();
        body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {}", self.text()))
            .to_owned()
    }

    /// `error.field` of an error body, if any.
    #[track_caller]
    pub fn error_field(&self) -> Option<String> {
        let body: Value = self.json();
        body["error"]["field"].as_str().map(str::to_owned)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}
