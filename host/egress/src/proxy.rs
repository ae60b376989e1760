//! Forward-proxy settings: `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` (and lowercase forms).
//!
//! The variables are passed in by the caller ([`ProxyConfig::from_vars`] takes a lookup
//! function) rather than read here, so tests stay hermetic and the config layer decides where
//! values come from.

use std::{fmt, net::IpAddr};

use ipnet::IpNet;
use url::{Host, Url};

/// How far the egress client trusts a proxy's own address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyTrust {
    /// Set by the operator for Gatehouse. Proxies usually live on private networks, so the
    /// address policy is not applied to the proxy itself (it still applies to every target).
    Operator,
    /// Came from somewhere the operator did not vet (e.g. an inherited environment). The
    /// proxy's own address must pass the policy like any target.
    Untrusted,
}

/// One proxy server.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyServer {
    url: Url,
    trust: ProxyTrust,
}

impl ProxyServer {
    /// Parses `http://[user:pass@]host[:port]` (a bare `host:port` means `http://`). HTTPS proxies
    /// (`https://…`) are accepted; SOCKS is not supported.
    pub(crate) fn parse(value: &str, trust: ProxyTrust) -> Result<Self, String> {
        let value = value.trim();
        let with_scheme = if value.contains("://") {
            value.to_owned()
        } else {
            format!("http://{value}")
        };
        // The value may hold credentials: never echo it in an error.
        let url = Url::parse(&with_scheme).map_err(|e| format!("not a valid proxy URL ({e})"))?;
        match url.scheme() {
            "http" | "https" => {}
            other => {
                return Err(format!(
                    "unsupported proxy scheme `{other}` (use http:// or https://)"
                ));
            }
        }
        if url.host().is_none() {
            return Err("the proxy URL has no host".into());
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err("a proxy URL has no path, query or fragment".into());
        }
        Ok(Self { url, trust })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn trust(&self) -> ProxyTrust {
        self.trust
    }

    /// `host:port` of the proxy, without credentials: safe for logs and errors.
    pub fn authority(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }
}

impl fmt::Debug for ProxyServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyServer")
            .field("scheme", &self.url.scheme())
            .field("authority", &self.authority())
            .field("credentials", &(!self.url.username().is_empty()))
            .field("trust", &self.trust)
            .finish()
    }
}

/// One `NO_PROXY` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NoProxyEntry {
    /// `example.com`, `.example.com` or `*.example.com`: the domain and every name below it
    /// (curl's reading; a leading dot is accepted for compatibility).
    Domain {
        name: String,
        port: Option<u16>,
    },
    Net {
        net: IpNet,
        port: Option<u16>,
    },
}

/// The `NO_PROXY` list: requests to these hosts bypass the proxy (the policy still applies).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    entries: Vec<NoProxyEntry>,
}

impl NoProxy {
    /// Parses a comma-separated list of host names, domain suffixes, addresses and CIDRs, each
    /// optionally with `:port`, or `*` for everything.
    pub(crate) fn parse(list: &str) -> Result<Self, String> {
        let mut no_proxy = Self::default();
        for raw in list.split(',') {
            let entry = raw.trim();
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                no_proxy.all = true;
                continue;
            }
            no_proxy
                .entries
                .push(parse_no_proxy_entry(entry).map_err(|p| format!("entry `{entry}`: {p}"))?);
        }
        Ok(no_proxy)
    }

    /// Whether a request to `host:port` goes direct.
    pub fn matches<S: AsRef<str>>(&self, host: &Host<S>, port: u16) -> bool {
        if self.all {
            return true;
        }
        self.entries.iter().any(|entry| match (entry, host) {
            (NoProxyEntry::Domain { name, port: p }, Host::Domain(h)) => {
                let h = h.as_ref();
                let h = h.strip_suffix('.').unwrap_or(h);
                let hit = h == name
                    || h.strip_suffix(name.as_str())
                        .is_some_and(|rest| rest.ends_with('.'));
                hit && p.is_none_or(|p| p == port)
            }
            (NoProxyEntry::Net { net, port: p }, Host::Ipv4(ip)) => {
                net.contains(&IpAddr::V4(*ip)) && p.is_none_or(|p| p == port)
            }
            (NoProxyEntry::Net { net, port: p }, Host::Ipv6(ip)) => {
                net.contains(&IpAddr::V6(*ip).to_canonical()) && p.is_none_or(|p| p == port)
            }
            _ => false,
        })
    }
}

fn parse_no_proxy_entry(entry: &str) -> Result<NoProxyEntry, String> {
    if let Ok(net) = entry.parse::<IpNet>() {
        return Ok(NoProxyEntry::Net {
            net: net.trunc(),
            port: None,
        });
    }
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Ok(NoProxyEntry::Net {
            net: IpNet::from(ip.to_canonical()),
            port: None,
        });
    }
    // `[v6]`, `[v6]:port`, `host:port`, `v4:port`.
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or("unclosed `[`")?;
        let port = match after {
            "" => None,
            p => Some(parse_port(
                p.strip_prefix(':').ok_or("expected `:port` after `]`")?,
            )?),
        };
        (v6, port)
    } else {
        match entry.rsplit_once(':') {
            Some((h, p)) => (h, Some(parse_port(p)?)),
            None => (entry, None),
        }
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(NoProxyEntry::Net {
            net: IpNet::from(ip.to_canonical()),
            port,
        });
    }
    let name = host
        .strip_prefix("*.")
        .or_else(|| host.strip_prefix('.'))
        .unwrap_or(host);
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.contains('*') {
        return Err("wildcards are only allowed as a leading `*.`".into());
    }
    match Host::parse(name) {
        Ok(Host::Domain(name)) => Ok(NoProxyEntry::Domain { name, port }),
        Ok(Host::Ipv4(ip)) => Ok(NoProxyEntry::Net {
            net: IpNet::from(IpAddr::V4(ip)),
            port,
        }),
        Ok(Host::Ipv6(ip)) => Ok(NoProxyEntry::Net {
            net: IpNet::from(IpAddr::V6(ip).to_canonical()),
            port,
        }),
        Err(e) => Err(format!("not a valid host name ({e})")),
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("`{p}` is not a valid port"))
}

/// A proxy variable that could not be used; names the variable, never echoes its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ProxyConfigError {
    pub var: &'static str,
    pub problem: String,
}

/// Which proxy, if any, each request goes through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    pub http: Option<ProxyServer>,
    pub https: Option<ProxyServer>,
    pub no_proxy: NoProxy,
}

impl ProxyConfig {
    /// No proxy: every request goes direct.
    pub fn none() -> Self {
        Self::default()
    }

    /// Reads `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` through `lookup`, falling back to the
    /// lowercase names when the uppercase one is unset or empty (Go's `httpproxy` order).
    ///
    /// In production pass `|name| std::env::var(name).ok()`.
    pub fn from_vars(
        lookup: impl Fn(&str) -> Option<String>,
        trust: ProxyTrust,
    ) -> Result<Self, ProxyConfigError> {
        let get = |upper: &'static str, lower: &'static str| {
            [upper, lower].into_iter().find_map(|name| {
                lookup(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (name, v))
            })
        };
        let server = |upper, lower| {
            get(upper, lower)
                .map(|(var, value)| {
                    ProxyServer::parse(&value, trust).map_err(|problem| ProxyConfigError {
                        var: var_name(var),
                        problem,
                    })
                })
                .transpose()
        };
        let http = server("HTTP_PROXY", "http_proxy")?;
        let https = server("HTTPS_PROXY", "https_proxy")?;
        let no_proxy = match get("NO_PROXY", "no_proxy") {
            Some((var, value)) => NoProxy::parse(&value).map_err(|problem| ProxyConfigError {
                var: var_name(var),
                problem,
            })?,
            None => NoProxy::default(),
        };
        Ok(Self {
            http,
            https,
            no_proxy,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    /// The proxy a request to `url` goes through, or `None` for a direct connection.
    pub fn proxy_for(&self, url: &Url) -> Option<&ProxyServer> {
        let proxy = match url.scheme() {
            "http" => self.http.as_ref(),
            "https" => self.https.as_ref(),
            _ => None,
        }?;
        let host = url.host()?;
        let port = url.port_or_known_default()?;
        (!self.no_proxy.matches(&host, port)).then_some(proxy)
    }
}

/// Maps the runtime name back to a `'static` one for the error.
fn var_name(name: &str) -> &'static str {
    match name {
        "HTTP_PROXY" => "HTTP_PROXY",
        "http_proxy" => "http_proxy",
        "HTTPS_PROXY" => "HTTPS_PROXY",
        "https_proxy" => "https_proxy",
        "NO_PROXY" => "NO_PROXY",
        _ => "no_proxy",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<ProxyConfig, ProxyConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ProxyConfig::from_vars(|name| vars.get(name).cloned(), ProxyTrust::Operator)
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn reads_upper_then_lower_case_variables() {
        let c = config(&[
            ("http_proxy", "proxy.lower:3128"),
            ("HTTPS_PROXY", "http://proxy.upper:8080"),
            ("https_proxy", "http://ignored:1"),
            ("no_proxy", "internal.example"),
        ])
        .unwrap();
        assert_eq!(c.http.as_ref().unwrap().authority(), "proxy.lower:3128");
        assert_eq!(c.https.as_ref().unwrap().authority(), "proxy.upper:8080");
        assert!(c.proxy_for(&url("http://a.internal.example/")).is_none());
        assert_eq!(
            c.proxy_for(&url("https://example.com/"))
                .unwrap()
                .authority(),
            "proxy.upper:8080"
        );

        // An empty uppercase value falls back to the lowercase one.
        let c = config(&[("HTTP_PROXY", " "), ("http_proxy", "http://p:1")]).unwrap();
        assert_eq!(c.http.unwrap().authority(), "p:1");
        assert!(config(&[]).unwrap().is_empty());
    }

    #[test]
    fn scheme_selects_the_proxy() {
        let c = config(&[("HTTP_PROXY", "http://p:1")]).unwrap();
        assert!(c.proxy_for(&url("http://example.com/")).is_some());
        assert!(c.proxy_for(&url("https://example.com/")).is_none());
    }

    #[test]
    fn no_proxy_matching() {
        let np = NoProxy::parse(
            "example.com, .corp.test,*.svc.local, 10.0.0.0/8, 192.168.1.7, ::1, [fd00::1]:8443, api.test:8080",
        )
        .unwrap();
        let yes = |h: &str, port: u16| np.matches(&Host::parse(h).unwrap(), port);
        assert!(yes("example.com", 443));
        assert!(yes("www.example.com", 443));
        assert!(!yes("badexample.com", 443));
        assert!(yes("corp.test", 80));
        assert!(yes("a.corp.test", 80));
        assert!(yes("x.svc.local", 80));
        assert!(yes("10.1.2.3", 80));
        assert!(!yes("11.1.2.3", 80));
        assert!(yes("192.168.1.7", 80));
        assert!(yes("[::1]", 80));
        assert!(yes("[fd00::1]", 8443));
        assert!(!yes("[fd00::1]", 443));
        assert!(yes("api.test", 8080));
        assert!(!yes("api.test", 443));
        assert!(
            NoProxy::parse("*")
                .unwrap()
                .matches(&Host::parse("x").unwrap(), 1)
        );
    }

    #[test]
    fn errors_name_the_variable_and_never_echo_credentials() {
        let err = config(&[("HTTPS_PROXY", "socks5://user:s3cret@p:1080")]).unwrap_err();
        assert_eq!(err.var, "HTTPS_PROXY");
        assert!(
            err.to_string()
                .contains("unsupported proxy scheme `socks5`"),
            "{err}"
        );
        assert!(!err.to_string().contains("s3cret"));

        let err = config(&[("http_proxy", "http://user:s3cret@p:1/path")]).unwrap_err();
        assert_eq!(err.var, "http_proxy");
        assert!(!err.to_string().contains("s3cret"));

        let err = config(&[("NO_PROXY", "a.test,host:99999")]).unwrap_err();
        assert_eq!(err.var, "NO_PROXY");
        assert!(
            err.to_string().contains("`99999` is not a valid port"),
            "{err}"
        );

        let proxy = ProxyServer::parse("http://user:s3cret@p:1", ProxyTrust::Operator).unwrap();
        assert!(!format!("{proxy:?}").contains("s3cret"));
    }
}
