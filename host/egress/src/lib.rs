//! The one outbound HTTP client for customer-controlled URLs (webhook endpoints, provider
//! discovery, anything a tenant can point Gatehouse at).
//!
//! - **Address policy** ([`policy`]): loopback, private, CGNAT, link-local, unique-local,
//!   multicast, unspecified, broadcast, documentation and reserved ranges, IPv6 forms embedding
//!   such IPv4 addresses, and cloud metadata endpoints are refused unless the operator's
//!   allowlist (`GATEHOUSE_EGRESS_ALLOW`, parsed by [`Allowlist::parse`]) opens them.
//! - **Pinned resolution**: a name is resolved once, every address is checked, and the
//!   connection uses exactly the checked addresses (the HTTP client resolves through the
//!   policy), so DNS rebinding cannot slip in a second answer. Resolution sits behind the
//!   [`Resolver`] trait.
//! - **No redirects**: a 3xx is returned to the caller like any other response.
//! - **Proxy** ([`ProxyConfig`]): `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` passed in as values; the
//!   target is resolved and checked before the request goes to the proxy.
//! - **Extra CA bundle** ([`CaBundle`], `GATEHOUSE_CA_BUNDLE`) on top of the system roots.
//! - **Limits**: connect timeout, a total deadline that covers reading the body (slow-loris
//!   responses end there), and a body cap (first 64 KiB kept, the rest not read).
//!
//! [`EgressError`]'s `Display` is safe to show to a tenant admin.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gatehouse_egress::{Allowlist, EgressClient, EgressConfig, EgressRequest, ProxyConfig, ProxyTrust};
//!
//! let config = EgressConfig {
//!     allow: Allowlist::parse(&std::env::var("GATEHOUSE_EGRESS_ALLOW").unwrap_or_default())?,
//!     proxy: ProxyConfig::from_vars(|name| std::env::var(name).ok(), ProxyTrust::Operator)?,
//!     ..EgressConfig::default()
//! };
//! let client = EgressClient::new(config)?;
//! let response = client
//!     .send(EgressRequest::post("https://hooks.example.com/in", r#"{"type":"ping"}"#))
//!     .await?;
//! println!("{} ({} bytes)", response.status, response.body.len());
//! # Ok(()) }
//! ```

mod ca;
mod client;
mod error;
pub mod policy;
mod proxy;
mod resolve;

pub use ca::{CaBundle, CaBundleError};
pub use client::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT, EgressClient, EgressConfig,
    EgressRequest, EgressResponse,
};
pub use error::{BoxError, ConfigError, EgressError, TimeoutPhase, TlsProblem};
pub use policy::{Allowlist, AllowlistError, BlockReason};
pub use proxy::{NoProxy, ProxyConfig, ProxyConfigError, ProxyServer, ProxyTrust};
pub use resolve::{Resolver, StaticResolver, SystemResolver};
