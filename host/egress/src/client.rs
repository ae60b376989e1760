//! The egress client: one reqwest client for direct connections and one for proxied ones, both
//! resolving through [`PolicyResolver`], never following redirects, with a total deadline that
//! covers reading the (capped) body.

use std::{collections::HashSet, net::IpAddr, net::SocketAddr, sync::Arc, time::Duration};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use url::{Host, Url};

use crate::{
    ca::CaBundle,
    error::{ConfigError, EgressError, TimeoutPhase},
    policy::{Allowlist, Policy},
    proxy::{ProxyConfig, ProxyServer, ProxyTrust},
    resolve::{PolicyResolver, ResolveError, Resolver, SystemResolver, resolve_checked},
};

/// Defaults suit webhook delivery: receivers are expected to answer within 15 s (Standard
/// Webhooks and Svix's hosted service use the same budget).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Enough for any webhook acknowledgement or error page; the rest is not read.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Request headers the client controls itself; values supplied by callers (or by a webhook
/// transform plugin through them) are dropped. `Host` and the proxy headers could otherwise
/// steer a proxy or a virtual host away from the URL that passed the policy.
const CONTROLLED_HEADERS: &[HeaderName] = &[
    header::HOST,
    header::PROXY_AUTHORIZATION,
    header::CONNECTION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::CONTENT_LENGTH,
];

/// Everything the egress client needs; the config layer fills it from `GATEHOUSE_EGRESS_ALLOW`,
/// `HTTP(S)_PROXY`/`NO_PROXY` and `GATEHOUSE_CA_BUNDLE`.
#[derive(Clone, Debug)]
pub struct EgressConfig {
    pub allow: Allowlist,
    pub proxy: ProxyConfig,
    /// Trusted in addition to the system roots.
    pub ca_bundle: Option<CaBundle>,
    /// Refuse plain `http://` URLs.
    pub require_https: bool,
    pub connect_timeout: Duration,
    /// Deadline for the whole exchange: resolution, connection, headers and body.
    pub timeout: Duration,
    /// Bytes of response body kept; the rest is not read.
    pub max_body_bytes: usize,
    pub user_agent: String,
}

impl Default for EgressConfig {
    fn default() -> Self {
        Self {
            allow: Allowlist::empty(),
            proxy: ProxyConfig::none(),
            ca_bundle: None,
            require_https: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            user_agent: concat!("Gatehouse/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// An outbound request.
#[derive(Clone, Debug)]
pub struct EgressRequest {
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Overrides [`EgressConfig::timeout`] for this request.
    pub timeout: Option<Duration>,
}

impl EgressRequest {
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            timeout: None,
        }
    }

    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::GET, url)
    }

    pub fn post(url: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self::new(Method::POST, url).body(body)
    }

    /// Appends a header (repeated names are kept).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Any HTTP response, including 3xx (redirects are never followed) and error statuses.
#[derive(Clone, Debug)]
pub struct EgressResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// At most [`EgressConfig::max_body_bytes`].
    pub body: Bytes,
    /// The body was longer than the cap; the rest was not read.
    pub truncated: bool,
    /// The peer the connection went to: the endpoint, or the proxy when one was used. For
    /// operator logs.
    pub remote_addr: Option<SocketAddr>,
}

/// The one outbound HTTP client. Cheap to clone.
#[derive(Clone)]
pub struct EgressClient {
    inner: Arc<Inner>,
}

struct Inner {
    policy: Arc<Policy>,
    resolver: Arc<dyn Resolver>,
    proxy: ProxyConfig,
    direct: reqwest::Client,
    /// Built only when a proxy is configured.
    proxied: Option<reqwest::Client>,
    require_https: bool,
    connect_timeout: Duration,
    timeout: Duration,
    max_body_bytes: usize,
}

impl std::fmt::Debug for EgressClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EgressClient")
            .field("allow", self.inner.policy.allowlist())
            .field("proxy", &self.inner.proxy)
            .field("require_https", &self.inner.require_https)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl EgressClient {
    /// A client using the system resolver.
    pub fn new(config: EgressConfig) -> Result<Self, ConfigError> {
        Self::with_resolver(config, Arc::new(SystemResolver))
    }

    /// A client resolving names through `resolver` (tests map names to chosen addresses).
    pub fn with_resolver(
        config: EgressConfig,
        resolver: Arc<dyn Resolver>,
    ) -> Result<Self, ConfigError> {
        if config.timeout.is_zero() {
            return Err(ConfigError::ZeroLimit("timeout"));
        }
        if config.connect_timeout.is_zero() {
            return Err(ConfigError::ZeroLimit("connect timeout"));
        }
        if config.max_body_bytes == 0 {
            return Err(ConfigError::ZeroLimit("max body size"));
        }
        let policy = Arc::new(Policy::new(config.allow.clone()));

        let direct = build_reqwest(
            &config,
            PolicyResolver {
                resolver: resolver.clone(),
                policy: policy.clone(),
                exempt: HashSet::new(),
            },
            None,
        )?;

        let proxied = if config.proxy.is_empty() {
            None
        } else {
            // Only the proxy's own name is resolved by this client (targets are named in the
            // request line or CONNECT); operator-trusted proxy names skip the policy.
            let exempt = [&config.proxy.http, &config.proxy.https]
                .into_iter()
                .flatten()
                .filter(|p| p.trust() == ProxyTrust::Operator)
                .filter_map(|p| p.url().host_str())
                .map(|h| crate::policy::normalize_host(h).to_ascii_lowercase())
                .collect();
            let routing = config.proxy.clone();
            let proxy =
                reqwest::Proxy::custom(move |url| routing.proxy_for(url).map(|p| p.url().clone()));
            Some(build_reqwest(
                &config,
                PolicyResolver {
                    resolver: resolver.clone(),
                    policy: policy.clone(),
                    exempt,
                },
                Some(proxy),
            )?)
        };

        Ok(Self {
            inner: Arc::new(Inner {
                policy,
                resolver,
                proxy: config.proxy,
                direct,
                proxied,
                require_https: config.require_https,
                connect_timeout: config.connect_timeout,
                timeout: config.timeout,
                max_body_bytes: config.max_body_bytes,
            }),
        })
    }

    /// Checks a URL without network access: syntax, scheme, the https requirement, and the
    /// policy for literal addresses. Use it to validate a webhook URL when it is saved.
    pub fn validate_url(&self, url: &str) -> Result<Url, EgressError> {
        let url = Url::parse(url.trim()).map_err(|e| EgressError::invalid_url(e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if self.inner.require_https => return Err(EgressError::HttpsRequired),
            "http" => {}
            other => {
                return Err(EgressError::invalid_url(format!(
                    "unsupported scheme `{other}` (use https or http)"
                )));
            }
        }
        let host = url
            .host()
            .ok_or_else(|| EgressError::invalid_url("the URL has no host"))?;
        if let Some(ip) = literal_ip(&host) {
            self.check_address(&url, ip)?;
        }
        Ok(url)
    }

    /// Everything a request would check before sending, including resolving the host, without
    /// sending anything. For a "test this endpoint" button or a CLI check.
    pub async fn check(&self, url: &str) -> Result<(), EgressError> {
        let url = self.validate_url(url)?;
        if let Some(Host::Domain(name)) = url.host() {
            self.resolve_target(name).await?;
        }
        Ok(())
    }

    /// Sends a request under the policy and returns the response, whatever its status.
    pub async fn send(&self, request: EgressRequest) -> Result<EgressResponse, EgressError> {
        let url = self.validate_url(&request.url)?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let total = request.timeout.unwrap_or(self.inner.timeout);
        match tokio::time::timeout(total, self.send_checked(url, &host, request, total)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(EgressError::Timeout {
                host,
                phase: TimeoutPhase::Total,
                after: total,
            }),
        }
    }

    async fn send_checked(
        &self,
        url: Url,
        host: &str,
        request: EgressRequest,
        total: Duration,
    ) -> Result<EgressResponse, EgressError> {
        let inner = &*self.inner;
        let proxy = inner.proxy.proxy_for(&url);
        let client = match (proxy, &inner.proxied) {
            (Some(proxy), Some(proxied)) => {
                // The proxy resolves the target itself, so check it here first: the policy
                // holds for the target whether or not a proxy carries the request.
                if let Some(Host::Domain(name)) = url.host() {
                    self.resolve_target(name).await?;
                }
                if proxy.trust() == ProxyTrust::Untrusted {
                    self.check_untrusted_proxy(proxy)?;
                }
                proxied
            }
            // Direct: literal addresses were checked by `validate_url`; names are resolved and
            // checked by `PolicyResolver` as reqwest connects.
            _ => &inner.direct,
        };

        let mut headers = request.headers;
        for name in CONTROLLED_HEADERS {
            headers.remove(name);
        }
        let response = client
            .request(request.method, url)
            .headers(headers)
            .body(request.body)
            .timeout(total)
            .send()
            .await
            .map_err(|e| {
                EgressError::from_reqwest(e, host, proxy.is_some(), inner.connect_timeout, total)
            })?;

        let status = response.status();
        let headers = response.headers().clone();
        let remote_addr = response.remote_addr();
        let (body, truncated) = read_capped(response, inner.max_body_bytes)
            .await
            .map_err(|e| {
                EgressError::from_reqwest(e, host, proxy.is_some(), inner.connect_timeout, total)
            })?;
        Ok(EgressResponse {
            status,
            headers,
            body,
            truncated,
            remote_addr,
        })
    }

    async fn resolve_target(&self, name: &str) -> Result<Vec<IpAddr>, EgressError> {
        resolve_checked(self.inner.resolver.as_ref(), &self.inner.policy, name)
            .await
            .map_err(|e| match e {
                ResolveError::Blocked(b) => {
                    tracing::info!(
                        host = %b.host,
                        address = %b.address,
                        reason = %b.reason,
                        "egress: blocked by address policy"
                    );
                    EgressError::Blocked {
                        host: b.host,
                        address: b.address,
                        reason: b.reason,
                    }
                }
                ResolveError::Failed(f) => EgressError::Dns {
                    host: f.host.clone(),
                    source: Some(Box::new(f)),
                },
            })
    }

    fn check_untrusted_proxy(&self, proxy: &ProxyServer) -> Result<(), EgressError> {
        // A named untrusted proxy is checked by `PolicyResolver` when reqwest resolves it;
        // a literal address never reaches a resolver, so it is checked here.
        if let Some(ip) = proxy.url().host().as_ref().and_then(literal_ip) {
            self.check_address(proxy.url(), ip)?;
        }
        Ok(())
    }

    fn check_address(&self, url: &Url, ip: IpAddr) -> Result<(), EgressError> {
        let host = url.host_str().unwrap_or_default();
        self.inner.policy.check(host, ip).map_err(|reason| {
            tracing::info!(host, address = %ip, %reason, "egress: blocked by address policy");
            EgressError::Blocked {
                host: host.to_owned(),
                address: ip,
                reason,
            }
        })
    }
}

/// The address a URL host denotes literally. `url` already turns `2130706433`, `0x7f.1` and
/// `0177.0.0.1` into `127.0.0.1`; a name that still parses as an address is treated as one, so
/// no spelling can reach the connector as an unchecked literal.
fn literal_ip(host: &Host<&str>) -> Option<IpAddr> {
    match host {
        Host::Ipv4(ip) => Some(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(*ip)),
        Host::Domain(name) => name.parse().ok(),
    }
}

fn build_reqwest(
    config: &EgressConfig,
    resolver: PolicyResolver,
    proxy: Option<reqwest::Proxy>,
) -> Result<reqwest::Client, ConfigError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        // Never the process environment: proxies come only from `EgressConfig`.
        .no_proxy()
        .dns_resolver(Arc::new(resolver))
        .connect_timeout(config.connect_timeout)
        .timeout(config.timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .https_only(config.require_https)
        .min_tls_version(reqwest::tls::Version::TLS_1_2)
        .user_agent(config.user_agent.clone());
    if let Some(bundle) = &config.ca_bundle {
        for cert in bundle.certificates() {
            let cert = reqwest::Certificate::from_der(cert.as_ref())
                .map_err(|e| ConfigError::Client(e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(proxy) = proxy {
        builder = builder.proxy(proxy);
    }
    builder
        .build()
        .map_err(|e| ConfigError::Client(e.to_string()))
}

/// Keeps the first `cap` bytes. Stops reading as soon as the cap is passed, so a huge or
/// endless body costs at most one extra chunk; dropping the response then closes the
/// connection instead of returning it to the pool half-read.
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<(Bytes, bool), reqwest::Error> {
    let expected = response
        .content_length()
        .map_or(0, |len| usize::try_from(len).unwrap_or(usize::MAX));
    let mut body = BytesMut::with_capacity(expected.min(cap));
    while let Some(chunk) = response.chunk().await? {
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body.freeze(), true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body.freeze(), false))
}
