//! Name resolution behind a trait, and the adapter that makes reqwest connect only to addresses
//! that passed the policy.
//!
//! reqwest asks its resolver for the addresses of the host it is about to connect to; our
//! adapter resolves once, checks every address and hands back only checked ones (or an error),
//! so there is no second lookup a DNS-rebinding attacker could answer differently.

use std::{
    collections::{HashMap, HashSet},
    io,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use async_trait::async_trait;

use crate::policy::{BlockReason, Policy, normalize_host};

/// Resolves a host name to addresses. The default is the system resolver; tests use
/// [`StaticResolver`] to map e.g. `evil.test` to `10.0.0.5`.
#[async_trait]
pub trait Resolver: Send + Sync + 'static {
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo` on tokio's blocking pool).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolver for SystemResolver {
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        let addrs = tokio::net::lookup_host((host, 0)).await?;
        Ok(addrs.map(|a| a.ip()).collect())
    }
}

/// A fixed table of names: for tests and for hermetic tools. Unknown names fail like NXDOMAIN.
#[derive(Clone, Debug, Default)]
pub struct StaticResolver {
    table: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or extends) an entry; names are matched case-insensitively.
    pub fn with(mut self, host: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.table
            .entry(host.to_ascii_lowercase())
            .or_default()
            .extend(addrs);
        self
    }
}

#[async_trait]
impl Resolver for StaticResolver {
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        let key = normalize_host(host).to_ascii_lowercase();
        self.table.get(&key).cloned().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "name not found in static table")
        })
    }
}

/// The policy refused an address. Travels through reqwest's error chain as the source of a
/// connect error and is turned back into [`crate::EgressError::Blocked`].
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {address}, a {reason} address")]
pub(crate) struct BlockedAddress {
    pub host: String,
    pub address: IpAddr,
    pub reason: BlockReason,
}

/// Resolution failed or returned nothing; becomes [`crate::EgressError::Dns`].
#[derive(Debug, thiserror::Error)]
#[error("could not resolve {host}")]
pub(crate) struct ResolveFailed {
    pub host: String,
    #[source]
    pub source: Option<io::Error>,
}

/// Resolves `host` and checks every address. Any refused address refuses the whole name: a
/// name that mixes public and internal addresses is either misconfigured or an attack, and
/// connecting to "the public one" would depend on address order.
pub(crate) async fn resolve_checked(
    resolver: &dyn Resolver,
    policy: &Policy,
    host: &str,
) -> Result<Vec<IpAddr>, ResolveError> {
    let addrs = resolver.resolve(host).await.map_err(|e| {
        ResolveError::Failed(ResolveFailed {
            host: host.to_owned(),
            source: Some(e),
        })
    })?;
    if addrs.is_empty() {
        return Err(ResolveError::Failed(ResolveFailed {
            host: host.to_owned(),
            source: None,
        }));
    }
    for &address in &addrs {
        if let Err(reason) = policy.check(host, address) {
            return Err(ResolveError::Blocked(BlockedAddress {
                host: host.to_owned(),
                address,
                reason,
            }));
        }
    }
    Ok(addrs)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveError {
    #[error(transparent)]
    Blocked(BlockedAddress),
    #[error(transparent)]
    Failed(ResolveFailed),
}

/// reqwest's resolver: every connection reqwest makes to a named host goes through here.
pub(crate) struct PolicyResolver {
    pub resolver: Arc<dyn Resolver>,
    pub policy: Arc<Policy>,
    /// Operator-configured proxy hosts: resolved without the policy (see `ProxyTrust`).
    pub exempt: HashSet<String>,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.resolver.clone();
        let policy = self.policy.clone();
        let host = normalize_host(name.as_str()).to_ascii_lowercase();
        let exempt = self.exempt.contains(&host);
        Box::pin(async move {
            let addrs = if exempt {
                let addrs = resolver.resolve(&host).await.map_err(|e| {
                    Box::new(ResolveFailed {
                        host: host.clone(),
                        source: Some(e),
                    }) as Box<dyn std::error::Error + Send + Sync>
                })?;
                if addrs.is_empty() {
                    return Err(Box::new(ResolveFailed { host, source: None }) as _);
                }
                addrs
            } else {
                resolve_checked(resolver.as_ref(), &policy, &host)
                    .await
                    .map_err(|e| match e {
                        ResolveError::Blocked(b) => {
                            tracing::info!(
                                host = %b.host,
                                address = %b.address,
                                reason = %b.reason,
                                "egress: blocked by address policy"
                            );
                            Box::new(b) as Box<dyn std::error::Error + Send + Sync>
                        }
                        ResolveError::Failed(f) => Box::new(f) as _,
                    })?
            };
            // Port 0 tells reqwest to use the URL's port.
            let addrs: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Allowlist;

    #[tokio::test]
    async fn static_resolver_and_checked_resolution() {
        let resolver = StaticResolver::new()
            .with("Evil.test", ["10.0.0.5".parse().unwrap()])
            .with(
                "mixed.test",
                [
                    "93.184.216.34".parse().unwrap(),
                    "127.0.0.1".parse().unwrap(),
                ],
            )
            .with("public.test", ["93.184.216.34".parse().unwrap()])
            .with("empty.test", []);
        let policy = Policy::default();

        match resolve_checked(&resolver, &policy, "evil.test").await {
            Err(ResolveError::Blocked(b)) => {
                assert_eq!(b.address.to_string(), "10.0.0.5");
                assert_eq!(b.reason, BlockReason::Private);
            }
            other => panic!("{other:?}"),
        }
        match resolve_checked(&resolver, &policy, "mixed.test").await {
            Err(ResolveError::Blocked(b)) => assert_eq!(b.reason, BlockReason::Loopback),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resolve_checked(&resolver, &policy, "nowhere.test").await,
            Err(ResolveError::Failed(_))
        ));
        assert!(matches!(
            resolve_checked(&resolver, &policy, "empty.test").await,
            Err(ResolveError::Failed(_))
        ));
        assert_eq!(
            resolve_checked(&resolver, &policy, "public.test.")
                .await
                .unwrap(),
            vec!["93.184.216.34".parse::<IpAddr>().unwrap()]
        );

        let allowing = Policy::new(Allowlist::parse("evil.test").unwrap());
        assert!(
            resolve_checked(&resolver, &allowing, "evil.test")
                .await
                .is_ok()
        );
    }
}
