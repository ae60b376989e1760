//! Test client: every request body and response body of an endpoint the swagger covers is
//! validated against it.

use gatehouse_zitadel_emulator::{Emulator, testing};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::swagger::{Schemas, check_error_body, swagger};

pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
    /// Validate bodies against the swagger (off for endpoints it does not cover).
    pub contract: bool,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn ok(self) -> Value {
        assert!(
            self.status.is_success(),
            "expected success, got {}: {}",
            self.status,
            self.body
        );
        self.body
    }

    /// Asserts an error reply: status, gRPC code and message id.
    pub fn err(self, status: u16, code: i64, id: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected reply: {}",
            self.body
        );
        assert_eq!(self.body["code"], code, "unexpected reply: {}", self.body);
        if !id.is_empty() {
            assert_eq!(
                self.body["details"][0]["id"], id,
                "unexpected reply: {}",
                self.body
            );
        }
        let errors = check_error_body(&self.body);
        assert!(
            errors.is_empty(),
            "error body breaks the contract: {errors:?}"
        );
        self.body
    }
}

pub fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl Api {
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: no_redirect_client(),
            token: token.to_owned(),
            contract: true,
        }
    }

    /// The same client without swagger validation (Actions v2, web keys, org v2 update/delete
    /// are not in the merged document).
    pub fn unchecked(&self) -> Self {
        Self {
            contract: false,
            ..self.with_token(&self.token)
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self {
            base: self.base.clone(),
            http: self.http.clone(),
            token: token.to_owned(),
            contract: self.contract,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        org: Option<&str>,
    ) -> Reply {
        let schemas = self
            .contract
            .then(|| swagger().schemas(method.as_str(), path));
        if let (
            Some(Schemas::Found {
                request: Some(schema),
                ..
            }),
            Some(body),
        ) = (&schemas, &body)
        {
            let errors = swagger().validate(schema, body);
            assert!(
                errors.is_empty(),
                "test request {method} {path} breaks the contract: {errors:?}"
            );
        }
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(org) = org {
            req = req.header("x-zitadel-orgid", org);
        }
        if let Some(body) = &body {
            req = req.json(body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path}: non-JSON reply {status}: {text}"));
        if status.is_success()
            && let Some(Schemas::Found { response, .. }) = &schemas
        {
            let errors = swagger().validate(response, &body);
            assert!(
                errors.is_empty(),
                "reply of {method} {path} breaks the contract: {errors:?}\n{body}"
            );
        }
        if !status.is_success() {
            let errors = check_error_body(&body);
            assert!(
                errors.is_empty(),
                "error reply of {method} {path} breaks the contract: {errors:?}"
            );
        }
        Reply { status, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body), None).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body), None).await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None, None).await
    }
    pub async fn post_in(&self, org: &str, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body), Some(org)).await
    }
    pub async fn get_in(&self, org: &str, path: &str) -> Reply {
        self.call(Method::GET, path, None, Some(org)).await
    }
}

pub struct Env {
    pub base: String,
    pub emulator: Emulator,
    pub api: Api,
}

pub async fn env() -> Env {
    let (base, emulator) = testing::spawn().await;
    let api = Api::new(&base, emulator.admin_pat());
    Env {
        base,
        emulator,
        api,
    }
}

/// A unique name per call, so tests sharing nothing still never collide.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}", N.fetch_add(1, Ordering::SeqCst))
}

/// Creates a project and a confidential web app with an http redirect; returns
/// (project id, client id, client secret).
pub async fn web_app(
    api: &Api,
    org: &str,
    redirect: &str,
    extra: Value,
) -> (String, String, String) {
    let project = api
        .post_in(
            org,
            "/management/v1/projects",
            json!({"name": unique("project")}),
        )
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut body = json!({
        "name": unique("app"),
        "redirectUris": [redirect],
        "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"],
        "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE", "OIDC_GRANT_TYPE_REFRESH_TOKEN"],
        "appType": "OIDC_APP_TYPE_WEB",
        "authMethodType": "OIDC_AUTH_METHOD_TYPE_BASIC",
        "postLogoutRedirectUris": [format!("{redirect}/logged-out")],
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let app = api
        .post_in(
            org,
            &format!("/management/v1/projects/{project}/apps/oidc"),
            body,
        )
        .await
        .ok();
    (
        project,
        app["clientId"].as_str().unwrap().to_owned(),
        app["clientSecret"].as_str().unwrap_or_default().to_owned(),
    )
}

pub const PASSWORD: &str = "Sup3r-Secret!";
