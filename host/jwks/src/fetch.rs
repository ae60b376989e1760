//! How key sets are fetched: a small trait so the host can plug in its egress client, a
//! reqwest-based default, and the `Cache-Control` rules.

use std::time::Duration;

use async_trait::async_trait;

use crate::FetchError;

/// One GET the cache or the exporter needs.
#[derive(Clone, Copy, Debug)]
pub struct FetchRequest<'a> {
    pub url: &'a str,
    /// The response body must not exceed this; implementations should stop reading past it and
    /// return [`FetchError::TooLarge`] (the caller checks again regardless).
    pub max_body_bytes: usize,
    /// Deadline for the whole exchange; the caller also enforces it around the call.
    pub timeout: Duration,
}

/// What the caller needs from a response. Any status is returned as is; the caller decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchResponse {
    pub status: u16,
    /// The `Cache-Control` header, if any.
    pub cache_control: Option<String>,
    /// The `Age` header, if any (set by caches between us and the IdP).
    pub age: Option<String>,
    pub body: Vec<u8>,
}

/// Performs HTTP GETs for the JWKS cache and the exporter.
///
/// Implementations must not follow redirects to other origins silently and must honour
/// `max_body_bytes`; the host's implementation goes through its egress policy.
#[async_trait]
pub trait JwksFetcher: Send + Sync + 'static {
    async fn fetch(&self, request: FetchRequest<'_>) -> Result<FetchResponse, FetchError>;
}

/// The default fetcher: reqwest with rustls and the system roots, no redirects, a size-capped
/// streaming read.
#[derive(Clone, Debug)]
pub struct ReqwestFetcher {
    client: reqwest::Client,
}

impl ReqwestFetcher {
    /// A client that never follows redirects (a JWKS URL that redirects is a configuration
    /// error worth seeing, and following it would let a redirect pick the keys).
    pub fn new() -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("gatehouse-jwks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Transport(error_chain(&e)))?;
        Ok(Self { client })
    }

    /// Uses a caller-configured client (proxy, custom CA, …).
    pub fn with_client(client: reqwest::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl JwksFetcher for ReqwestFetcher {
    async fn fetch(&self, request: FetchRequest<'_>) -> Result<FetchResponse, FetchError> {
        let response = self
            .client
            .get(request.url)
            .header(
                reqwest::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .timeout(request.timeout)
            .send()
            .await
            .map_err(|e| map_reqwest(e, request.timeout))?;
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let cache_control = header(reqwest::header::CACHE_CONTROL);
        let age = header(reqwest::header::AGE);
        let status = response.status().as_u16();
        let max = request.max_body_bytes;
        let body = read_capped(response, max)
            .await
            .map_err(|e| map_reqwest(e, request.timeout))?
            .ok_or(FetchError::TooLarge { max })?;
        Ok(FetchResponse {
            status,
            cache_control,
            age,
            body,
        })
    }
}

/// The body, or `None` once it passes `max` bytes: refused unread when it declares a larger
/// length, and read chunk by chunk so one without a length cannot grow past the limit.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

fn map_reqwest(e: reqwest::Error, timeout: Duration) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout(timeout)
    } else {
        FetchError::Transport(error_chain(&e))
    }
}

/// reqwest's top-level message is often just "error sending request"; the cause says why.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The freshness lifetime a response grants, per RFC 9111 §4.2.1 and §5.2.2, before the cache's
/// floor and ceiling are applied: `no-store`/`no-cache` → zero, `max-age=N` → N minus `Age`,
/// nothing usable → `None` (the cache's default applies).
pub(crate) fn freshness(cache_control: Option<&str>, age: Option<&str>) -> Option<Duration> {
    let mut max_age: Option<u64> = None;
    for directive in cache_control?.split(',') {
        let directive = directive.trim();
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        if name.eq_ignore_ascii_case("max-age")
            && let Some(secs) = value.and_then(|v| v.parse::<u64>().ok())
        {
            // Conflicting max-age directives: the most conservative wins.
            max_age = Some(max_age.map_or(secs, |m| m.min(secs)));
        }
    }
    let age = age.and_then(|a| a.trim().parse::<u64>().ok()).unwrap_or(0);
    max_age.map(|m| Duration::from_secs(m.saturating_sub(age)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_freshness() {
        let s = |n| Some(Duration::from_secs(n));
        assert_eq!(
            freshness(Some("max-age=300, must-revalidate"), None),
            s(300)
        );
        assert_eq!(freshness(Some("public, MAX-AGE = \"120\""), None), s(120));
        assert_eq!(freshness(Some("max-age=300"), Some("100")), s(200));
        assert_eq!(freshness(Some("max-age=300"), Some("900")), s(0));
        assert_eq!(freshness(Some("max-age=300"), Some("junk")), s(300));
        assert_eq!(freshness(Some("max-age=600, max-age=60"), None), s(60));
        assert_eq!(freshness(Some("no-store"), None), s(0));
        assert_eq!(freshness(Some("max-age=300, no-cache"), None), s(0));
        assert_eq!(freshness(Some("max-age=-5"), None), None);
        assert_eq!(freshness(Some("max-age=abc"), None), None);
        assert_eq!(freshness(Some("public"), None), None);
        assert_eq!(freshness(Some("s-maxage=50"), None), None);
        assert_eq!(freshness(None, Some("10")), None);
    }
}
