//! The ZITADEL API client.
//!
//! One [`ZitadelClient`] per ZITADEL instance; it is cheap to clone (an `Arc`) and safe to share
//! between tasks. It speaks ZITADEL's REST APIs (management v1 for org-scoped resources, the v2
//! services for organizations, users and Actions) with typed request and response structs, and
//! adds what every caller needs:
//! - authentication by PAT or service-user key (JWT profile, token cached until shortly before
//!   it expires, renewed once on a 401);
//! - timeouts, and bounded jittered retries on 429/5xx/connection errors ([`RetryPolicy`]);
//! - typed errors carrying ZITADEL's gRPC code and message id ([`ZitadelError`]);
//! - `x-zitadel-orgid` on org-scoped v1 calls, with the response's resource owner checked
//!   against it (zitadel/zitadel#12482);
//! - helpers that poll a read until it reflects a write ([`ConsistencyPolicy`]).
//!
//! Secrets (PATs, assertions, access tokens, client secrets, signing keys, passwords) are held
//! in [`Secret`] and never logged.

mod actions;
mod apps;
mod auth;
mod consistency;
mod error;
mod idps;
mod login_policy;
mod oidc;
mod orgs;
mod projects;
mod retry;
mod secret;
mod users;
pub(crate) mod wire;

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use bytes::Bytes;
use reqwest::{
    Method, StatusCode,
    header::{ACCEPT, ACCEPT_LANGUAGE, CONTENT_TYPE, HeaderMap},
};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::Mutex;
use tracing::Instrument;
use url::Url;

use self::auth::{CachedToken, JWT_BEARER_GRANT, JwtProfile, TokenResponse};
pub use self::{
    actions::*,
    apps::*,
    auth::{API_SCOPE, Credentials, ServiceAccountKey},
    consistency::ConsistencyPolicy,
    error::{ApiError, Code, ZitadelError},
    idps::*,
    login_policy::*,
    oidc::*,
    orgs::*,
    projects::*,
    retry::{RetryPolicy, is_retryable_status, parse_retry_after},
    secret::Secret,
    users::*,
    wire::{
        Empty, ListDetails, ListQuery, NameQuery, ObjectDetails, PaginationRequest,
        PaginationResponse, ProtoDuration, TextFilterMethod, TextQueryMethod,
    },
};

pub type Result<T, E = ZitadelError> = std::result::Result<T, E>;

/// The header that selects the organization of a management v1 call.
pub const ORG_HEADER: &str = "x-zitadel-orgid";

/// How to reach and talk to one ZITADEL instance.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Where ZITADEL's APIs are, e.g. `https://auth.example.com` (a path prefix such as
    /// `https://gatehouse.example/zitadel` is kept).
    pub base_url: Url,
    pub credentials: Credentials,
    /// The issuer, which is the audience of JWT-profile assertions. Defaults to `base_url`; set it
    /// when the API is reached through another address than the public one (ZITADEL resolves
    /// the instance by its external domain).
    pub issuer: Option<String>,
    /// Timeout of one HTTP attempt (connect, send, and read the whole answer).
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    pub consistency: ConsistencyPolicy,
    /// Larger answers are refused (ZITADEL is trusted, the network path may not be).
    pub max_response_bytes: usize,
}

impl ClientConfig {
    pub fn new(base_url: Url, credentials: Credentials) -> Self {
        Self {
            base_url,
            credentials,
            issuer: None,
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            consistency: ConsistencyPolicy::default(),
            max_response_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Whether an update changed anything. ZITADEL refuses no-op updates (`Errors.NoChangesFound`);
/// the client reports them as `Unchanged`, so callers can apply desired state idempotently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Updated {
    Applied,
    Unchanged,
}

#[derive(Clone)]
pub struct ZitadelClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// `base_url` without a trailing slash; API paths are appended to it.
    base: String,
    auth: Auth,
    request_timeout: Duration,
    retry: RetryPolicy,
    consistency: ConsistencyPolicy,
    max_response_bytes: usize,
}

enum Auth {
    Pat(Secret),
    Jwt(JwtProfile),
}

impl std::fmt::Debug for ZitadelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZitadelClient")
            .field("base", &self.inner.base)
            .field(
                "auth",
                &match self.inner.auth {
                    Auth::Pat(_) => "pat",
                    Auth::Jwt(_) => "jwt-profile",
                },
            )
            .finish_non_exhaustive()
    }
}

impl ZitadelClient {
    /// `http` is the caller's client, so proxy, CA and egress settings apply to ZITADEL too.
    pub fn new(http: reqwest::Client, config: ClientConfig) -> Result<Self> {
        let base_url = config.base_url;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host_str().is_none() {
            return Err(ZitadelError::Config(format!(
                "the ZITADEL URL must be an http(s) URL with a host, got `{base_url}`"
            )));
        }
        if base_url.query().is_some() || base_url.fragment().is_some() {
            return Err(ZitadelError::Config(
                "the ZITADEL URL must not have a query or fragment".into(),
            ));
        }
        if !base_url.username().is_empty() || base_url.password().is_some() {
            return Err(ZitadelError::Config(
                "the ZITADEL URL must not carry credentials; use a PAT or key file".into(),
            ));
        }
        let base = base_url.as_str().trim_end_matches('/').to_owned();
        if base_url.scheme() == "http" && !is_loopback(&base_url) {
            tracing::warn!(
                zitadel = %base,
                "ZITADEL is reached over plain HTTP: credentials travel unencrypted"
            );
        }
        let auth = match config.credentials {
            Credentials::Pat(token) => Auth::Pat(token),
            Credentials::ServiceAccount(key) => Auth::Jwt(JwtProfile {
                key,
                audience: config
                    .issuer
                    .map(|issuer| issuer.trim_end_matches('/').to_owned())
                    .unwrap_or_else(|| base.clone()),
                cache: Mutex::new(None),
            }),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                auth,
                request_timeout: config.request_timeout,
                retry: config.retry,
                consistency: config.consistency,
                max_response_bytes: config.max_response_bytes,
            }),
        })
    }

    /// The base URL API paths are appended to (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    pub fn consistency_policy(&self) -> &ConsistencyPolicy {
        &self.inner.consistency
    }

    /// Sends an authenticated call and decodes the JSON answer.
    pub(crate) async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T> {
        let op = call.op;
        let reply = self.execute(&call).await?;
        decode(op, &reply.body)
    }

    /// Sends an authenticated call, renewing a JWT-profile token once if ZITADEL answers 401
    /// (the token may have been revoked before its expiry).
    pub(crate) async fn execute(&self, call: &Call<'_>) -> Result<Reply> {
        let mut renewed = false;
        loop {
            let token = self.bearer().await?;
            match self.send(call, Some(&token)).await {
                Err(ZitadelError::Api { error, .. })
                    if error.status == 401
                        && !renewed
                        && matches!(self.inner.auth, Auth::Jwt(_)) =>
                {
                    tracing::debug!(op = call.op, "access token refused; fetching a new one");
                    self.forget_token(&token).await;
                    renewed = true;
                }
                other => return other,
            }
        }
    }

    /// The bearer token for the next call: the PAT, or a cached/fresh JWT-profile token.
    async fn bearer(&self) -> Result<Secret> {
        let jwt = match &self.inner.auth {
            Auth::Pat(token) => return Ok(token.clone()),
            Auth::Jwt(jwt) => jwt,
        };
        let mut cache = jwt.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        let assertion = jwt.key.assertion(&jwt.audience, SystemTime::now())?;
        let form = form_urlencoded(&[
            ("grant_type", JWT_BEARER_GRANT),
            ("scope", API_SCOPE),
            ("assertion", assertion.expose()),
        ]);
        let call = Call {
            op: "token",
            method: Method::POST,
            path: "/oauth/v2/token".into(),
            org: None,
            body: Some(Body::Form(Secret::new(form))),
            idempotent: true,
        };
        let requested_at = Instant::now();
        let reply = self.send(&call, None).await?;
        let response: TokenResponse = decode("token", &reply.body)?;
        if let Some(kind) = &response.token_type
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(ZitadelError::Decode {
                op: "token",
                message: format!("token type `{kind}` instead of Bearer"),
            });
        }
        if response.access_token.is_empty() {
            return Err(ZitadelError::Decode {
                op: "token",
                message: "empty access token".into(),
            });
        }
        tracing::debug!(expires_in = ?response.expires_in, "obtained a ZITADEL access token");
        let fresh = CachedToken::new(response.access_token, response.expires_in, requested_at);
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    async fn forget_token(&self, token: &Secret) {
        if let Auth::Jwt(jwt) = &self.inner.auth {
            let mut cache = jwt.cache.lock().await;
            // Another task may already have replaced it; keep a newer token.
            if cache.as_ref().is_some_and(|cached| &cached.token == token) {
                *cache = None;
            }
        }
    }

    /// Sends without authentication (discovery, JWKS).
    pub(crate) async fn send_anonymous(&self, call: &Call<'_>) -> Result<Reply> {
        self.send(call, None).await
    }

    /// One call with retries; 2xx answers are returned, everything else becomes an error.
    async fn send(&self, call: &Call<'_>, token: Option<&Secret>) -> Result<Reply> {
        let url = format!("{}{}", self.inner.base, call.path);
        let span =
            tracing::debug_span!("zitadel", op = call.op, method = %call.method, path = %call.path);
        async {
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                let started = Instant::now();
                let outcome = self.attempt(call, &url, token).await;
                let elapsed_ms = started.elapsed().as_millis() as u64;
                let (error, retry_after, may_retry) = match outcome {
                    Attempt::Reply(reply) if reply.status.is_success() => {
                        tracing::debug!(
                            status = reply.status.as_u16(),
                            attempt,
                            elapsed_ms,
                            "ZITADEL answered"
                        );
                        return Ok(reply);
                    }
                    Attempt::Reply(reply) => {
                        let mut error = ApiError::parse(reply.status.as_u16(), &reply.body);
                        error.retry_after = parse_retry_after(&reply.headers, SystemTime::now());
                        let retry_after = error.retry_after;
                        let may_retry = is_retryable_status(error.status);
                        (
                            ZitadelError::Api { op: call.op, error },
                            retry_after,
                            may_retry,
                        )
                    }
                    Attempt::Failed { error, sent } => {
                        // A request that may have reached ZITADEL is repeated only if repeating
                        // it is harmless.
                        let may_retry = !error.is_decode() && (!sent || call.idempotent);
                        (
                            error.into_zitadel(call.op, self.inner.request_timeout),
                            None,
                            may_retry,
                        )
                    }
                };
                let delay = if may_retry {
                    self.inner.retry.delay_before(attempt, retry_after)
                } else {
                    None
                };
                let Some(delay) = delay else {
                    tracing::debug!(attempt, elapsed_ms, error = %error, "ZITADEL call failed");
                    return Err(error);
                };
                tracing::warn!(
                    attempt,
                    elapsed_ms,
                    delay_ms = delay.as_millis() as u64,
                    error = %error,
                    "ZITADEL call failed; retrying"
                );
                tokio::time::sleep(delay).await;
            }
        }
        .instrument(span)
        .await
    }

    async fn attempt(&self, call: &Call<'_>, url: &str, token: Option<&Secret>) -> Attempt {
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url)
            .timeout(self.inner.request_timeout)
            .header(ACCEPT, "application/json")
            // Messages come localized; English keeps them stable for logs and matching.
            .header(ACCEPT_LANGUAGE, "en");
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        if let Some(org) = call.org {
            request = request.header(ORG_HEADER, org);
        }
        request = match &call.body {
            Some(Body::Json(bytes)) => request
                .header(CONTENT_TYPE, "application/json")
                .body(bytes.clone()),
            Some(Body::Form(form)) => request
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.expose().to_owned()),
            None => request,
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let sent = !error.is_connect() && !error.is_builder();
                return Attempt::Failed {
                    error: AttemptError::Http(error),
                    sent,
                };
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        match read_limited(response, self.inner.max_response_bytes).await {
            Ok(body) => Attempt::Reply(Reply {
                status,
                headers,
                body,
            }),
            Err(error) => Attempt::Failed { error, sent: true },
        }
    }

    /// Checks that ZITADEL acted on the organization named in `x-zitadel-orgid`
    /// (zitadel/zitadel#12482). Answers without a resource owner cannot be checked.
    pub(crate) fn ensure_owner(
        op: &'static str,
        org_id: &str,
        details: Option<&ObjectDetails>,
        resource_id: Option<&str>,
    ) -> Result<()> {
        match details.and_then(|d| d.resource_owner.as_deref()) {
            Some(actual) if !actual.is_empty() && actual != org_id => {
                tracing::error!(
                    op,
                    expected = org_id,
                    actual,
                    resource_id,
                    "ZITADEL ignored x-zitadel-orgid"
                );
                Err(ZitadelError::WrongOrganization {
                    op,
                    expected: org_id.to_owned(),
                    actual: actual.to_owned(),
                    resource_id: resource_id.map(str::to_owned),
                })
            }
            _ => Ok(()),
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn decode<T: DeserializeOwned>(op: &'static str, body: &[u8]) -> Result<T> {
    // protojson omits empty messages entirely; an empty body is `{}`.
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ZitadelError::Decode {
        op,
        message: format!("invalid JSON for this operation: {e}"),
    })
}

fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An id placed into a URL path. Empty ids are refused: `/projects/{id}` with an empty id is
/// another endpoint (`/projects/`), and ids are escaped so they cannot add path segments.
pub(crate) fn segment(op: &'static str, what: &str, id: &str) -> Result<String> {
    if id.trim().is_empty() {
        return Err(ZitadelError::InvalidRequest {
            op,
            message: format!("{what} is empty"),
        });
    }
    if id.len() > 200 {
        return Err(ZitadelError::InvalidRequest {
            op,
            message: format!("{what} is longer than 200 characters"),
        });
    }
    Ok(percent_encode(id))
}

/// Checks an organization id for `x-zitadel-orgid` (same rules as path ids, but not escaped:
/// a header value must be sent verbatim, so anything unusual is refused).
pub(crate) fn org_header_value<'a>(op: &'static str, org_id: &'a str) -> Result<&'a str> {
    if org_id.is_empty()
        || org_id.len() > 200
        || !org_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(ZitadelError::InvalidRequest {
            op,
            message: "organization id is empty or has characters ZITADEL ids never have".into(),
        });
    }
    Ok(org_id)
}

async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, AttemptError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(AttemptError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(AttemptError::Http)? {
        if body.len() + chunk.len() > limit {
            return Err(AttemptError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// One request to ZITADEL, replayable for retries.
pub(crate) struct Call<'a> {
    pub op: &'static str,
    pub method: Method,
    pub path: String,
    /// Sent as `x-zitadel-orgid`.
    pub org: Option<&'a str>,
    pub body: Option<Body>,
    /// Safe to repeat even if the first attempt may have reached ZITADEL.
    pub idempotent: bool,
}

pub(crate) enum Body {
    Json(Bytes),
    /// Holds the assertion, hence a secret.
    Form(Secret),
}

impl<'a> Call<'a> {
    pub fn get(op: &'static str, path: String) -> Self {
        Self {
            op,
            method: Method::GET,
            path,
            org: None,
            body: None,
            idempotent: true,
        }
    }

    pub fn delete(op: &'static str, path: String) -> Self {
        Self {
            method: Method::DELETE,
            ..Self::get(op, path)
        }
    }

    /// A POST that creates or changes something: not repeated after an ambiguous failure.
    pub fn post(op: &'static str, path: String, body: &impl Serialize) -> Result<Self> {
        Ok(Self {
            op,
            method: Method::POST,
            path,
            org: None,
            body: Some(Body::Json(json_body(op, body)?)),
            idempotent: false,
        })
    }

    /// A POST that only reads (`_search`): safe to repeat.
    pub fn search(op: &'static str, path: String, body: &impl Serialize) -> Result<Self> {
        Ok(Self {
            idempotent: true,
            ..Self::post(op, path, body)?
        })
    }

    pub fn put(op: &'static str, path: String, body: &impl Serialize) -> Result<Self> {
        Ok(Self {
            method: Method::PUT,
            idempotent: true,
            ..Self::post(op, path, body)?
        })
    }

    /// Scopes a management v1 call to an organization.
    pub fn in_org(mut self, org_id: &'a str) -> Result<Self> {
        self.org = Some(org_header_value(self.op, org_id)?);
        Ok(self)
    }

    /// Marks a POST as safe to repeat (e.g. an update that sets absolute values).
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }
}

fn json_body(op: &'static str, body: &impl Serialize) -> Result<Bytes> {
    serde_json::to_vec(body)
        .map(Bytes::from)
        .map_err(|e| ZitadelError::InvalidRequest {
            op,
            message: format!("cannot encode the request: {e}"),
        })
}

pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

enum Attempt {
    Reply(Reply),
    Failed { error: AttemptError, sent: bool },
}

enum AttemptError {
    Http(reqwest::Error),
    TooLarge(usize),
}

impl AttemptError {
    fn is_decode(&self) -> bool {
        match self {
            Self::Http(e) => e.is_decode() || e.is_builder(),
            Self::TooLarge(_) => true,
        }
    }

    fn into_zitadel(self, op: &'static str, timeout: Duration) -> ZitadelError {
        match self {
            Self::Http(e) if e.is_timeout() => ZitadelError::Timeout { op, timeout },
            Self::Http(e) if e.is_builder() => ZitadelError::InvalidRequest {
                op,
                message: error_chain(&e.without_url()),
            },
            Self::Http(e) => ZitadelError::Transport {
                op,
                message: error_chain(&e.without_url()),
            },
            Self::TooLarge(limit) => ZitadelError::Decode {
                op,
                message: format!("answer larger than {limit} bytes"),
            },
        }
    }
}

/// `error sending request: connection refused`: reqwest's top-level text alone says little.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_is_checked_and_normalised() {
        let new = |url: &str| {
            let credentials = Credentials::pat("super-secret-pat").unwrap();
            ZitadelClient::new(
                reqwest::Client::new(),
                ClientConfig::new(Url::parse(url).unwrap(), credentials),
            )
        };
        let client = new("https://auth.example.com/").unwrap();
        assert_eq!(client.base_url(), "https://auth.example.com");
        assert!(!format!("{client:?}").contains("super-secret-pat"));
        let nested = new("http://127.0.0.1:8080/zitadel/").unwrap();
        assert_eq!(nested.base_url(), "http://127.0.0.1:8080/zitadel");
        for bad in [
            "ftp://auth.example.com",
            "https://auth.example.com/?tenant=1",
            "https://auth.example.com/#x",
            "https://user:pass@auth.example.com",
        ] {
            assert!(matches!(new(bad), Err(ZitadelError::Config(_))), "{bad}");
        }
    }

    #[test]
    fn path_ids_are_escaped_and_checked() {
        assert_eq!(segment("op", "id", "123456").unwrap(), "123456");
        assert_eq!(segment("op", "id", "../orgs/me").unwrap(), "..%2Forgs%2Fme");
        assert_eq!(segment("op", "id", "a b?c#d").unwrap(), "a%20b%3Fc%23d");
        assert!(segment("op", "id", "").is_err());
        assert!(segment("op", "id", "  ").is_err());
        assert!(segment("op", "id", &"1".repeat(201)).is_err());
    }

    #[test]
    fn org_header_values_are_plain_ids() {
        assert!(org_header_value("op", "29457483928").is_ok());
        for bad in ["", "a\r\nx-other: 1", "a b", "é"] {
            assert!(org_header_value("op", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            form_urlencoded(&[("scope", "openid urn:zitadel:iam"), ("a", "x+y=z&")]),
            "scope=openid%20urn%3Azitadel%3Aiam&a=x%2By%3Dz%26"
        );
    }

    #[test]
    fn owner_check() {
        let details = |owner: &str| ObjectDetails {
            resource_owner: Some(owner.into()),
            ..Default::default()
        };
        assert!(ZitadelClient::ensure_owner("op", "1", Some(&details("1")), None).is_ok());
        assert!(ZitadelClient::ensure_owner("op", "1", None, None).is_ok());
        let err =
            ZitadelClient::ensure_owner("op", "1", Some(&details("2")), Some("77")).unwrap_err();
        match err {
            ZitadelError::WrongOrganization {
                expected,
                actual,
                resource_id,
                ..
            } => {
                assert_eq!((expected.as_str(), actual.as_str()), ("1", "2"));
                assert_eq!(resource_id.as_deref(), Some("77"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn empty_bodies_decode_as_empty_messages() {
        let details: ObjectDetails = decode("op", b"").unwrap();
        assert_eq!(details, ObjectDetails::default());
        assert!(matches!(
            decode::<ObjectDetails>("op", b"<html>"),
            Err(ZitadelError::Decode { .. })
        ));
    }
}
