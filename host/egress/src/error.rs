//! Errors. [`EgressError`]'s `Display` is written for a tenant admin looking at a failed
//! delivery: it names their host and, when the policy refused it, the address; it never carries
//! resolver, socket or TLS-library text. That text stays in [`std::error::Error::source`] for
//! operator logs.

use std::{error::Error as StdError, fmt, io, net::IpAddr, time::Duration};

use crate::{
    ca::CaBundleError,
    policy::BlockReason,
    resolve::{BlockedAddress, ResolveFailed},
};

pub type BoxError = Box<dyn StdError + Send + Sync>;

/// Which part of the request ran out of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutPhase {
    Connect,
    /// Anything after the request started: waiting for headers or reading the body.
    Total,
}

/// What went wrong in a TLS handshake, as far as it helps the endpoint's owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsProblem {
    UntrustedCertificate,
    ExpiredCertificate,
    WrongHost,
    Handshake,
}

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UntrustedCertificate => "the certificate is not issued by a trusted CA",
            Self::ExpiredCertificate => "the certificate has expired or is not yet valid",
            Self::WrongHost => "the certificate is not valid for this host",
            Self::Handshake => "the handshake failed",
        })
    }
}

/// A request that did not produce a response.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error("invalid URL: {reason}")]
    InvalidUrl { reason: String },

    #[error("the URL must use https")]
    HttpsRequired,

    #[error("requests to {host} are blocked: {address} is a {reason} address")]
    Blocked {
        host: String,
        address: IpAddr,
        reason: BlockReason,
    },

    #[error("could not resolve {host}")]
    Dns {
        host: String,
        #[source]
        source: Option<BoxError>,
    },

    #[error("could not connect to {host}{}", via(*.via_proxy))]
    Connect {
        host: String,
        via_proxy: bool,
        #[source]
        source: Option<BoxError>,
    },

    #[error("{}", timeout_message(.host, *.phase, *.after))]
    Timeout {
        host: String,
        phase: TimeoutPhase,
        after: Duration,
    },

    #[error("TLS connection to {host} failed: {problem}")]
    Tls {
        host: String,
        problem: TlsProblem,
        #[source]
        source: Option<BoxError>,
    },

    #[error("{host} sent an invalid or incomplete response")]
    Response {
        host: String,
        #[source]
        source: Option<BoxError>,
    },

    #[error("the request to {host} failed")]
    Other {
        host: String,
        #[source]
        source: Option<BoxError>,
    },
}

fn via(proxied: bool) -> &'static str {
    if proxied {
        " through the egress proxy"
    } else {
        ""
    }
}

fn timeout_message(host: &str, phase: TimeoutPhase, after: Duration) -> String {
    let after = if after.subsec_millis() == 0 {
        format!("{} s", after.as_secs())
    } else {
        format!("{} ms", after.as_millis())
    };
    match phase {
        TimeoutPhase::Connect => format!("connecting to {host} timed out after {after}"),
        TimeoutPhase::Total => format!("{host} did not complete the response within {after}"),
    }
}

impl EgressError {
    /// Failures that retrying cannot fix: the URL or the policy, not the network. A delivery
    /// pipeline may stop retrying (and tell the admin) on these.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::InvalidUrl { .. } | Self::HttpsRequired | Self::Blocked { .. }
        )
    }

    pub(crate) fn invalid_url(reason: impl Into<String>) -> Self {
        Self::InvalidUrl {
            reason: reason.into(),
        }
    }

    /// Sorts a reqwest failure into a variant, looking through its source chain for what our
    /// resolver reported and for rustls errors.
    pub(crate) fn from_reqwest(
        err: reqwest::Error,
        host: &str,
        via_proxy: bool,
        connect_timeout: Duration,
        total: Duration,
    ) -> Self {
        let err = err.without_url();
        let host = host.to_owned();
        if let Some(b) = find::<BlockedAddress>(&err) {
            return Self::Blocked {
                host: b.host.clone(),
                address: b.address,
                reason: b.reason,
            };
        }
        if let Some(f) = find::<ResolveFailed>(&err) {
            // When the proxy's own name does not resolve, say so rather than blaming the target.
            return if via_proxy {
                Self::Connect {
                    host,
                    via_proxy,
                    source: Some(Box::new(err)),
                }
            } else {
                Self::Dns {
                    host: f.host.clone(),
                    source: Some(Box::new(err)),
                }
            };
        }
        if err.is_timeout() {
            return if err.is_connect() {
                Self::Timeout {
                    host,
                    phase: TimeoutPhase::Connect,
                    after: connect_timeout,
                }
            } else {
                Self::Timeout {
                    host,
                    phase: TimeoutPhase::Total,
                    after: total,
                }
            };
        }
        if let Some(tls) = find::<rustls::Error>(&err) {
            return Self::Tls {
                host,
                problem: tls_problem(tls),
                source: Some(Box::new(err)),
            };
        }
        if err.is_connect() {
            return Self::Connect {
                host,
                via_proxy,
                source: Some(Box::new(err)),
            };
        }
        if err.is_body() || err.is_decode() || err.is_request() {
            return Self::Response {
                host,
                source: Some(Box::new(err)),
            };
        }
        Self::Other {
            host,
            source: Some(Box::new(err)),
        }
    }
}

fn tls_problem(err: &rustls::Error) -> TlsProblem {
    use rustls::CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature | C::UnhandledCriticalExtension => {
                TlsProblem::UntrustedCertificate
            }
            C::Expired
            | C::NotValidYet
            | C::ExpiredContext { .. }
            | C::NotValidYetContext { .. } => TlsProblem::ExpiredCertificate,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsProblem::WrongHost,
            _ => TlsProblem::UntrustedCertificate,
        },
        _ => TlsProblem::Handshake,
    }
}

/// Finds a `T` in an error's source chain, including errors wrapped inside `io::Error`
/// (whose `source()` skips the wrapped error itself, which is where rustls puts its errors).
fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next: Option<&'a (dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(hit) = e.downcast_ref::<T>() {
            return Some(hit);
        }
        if let Some(hit) = e
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| find::<T>(inner))
        {
            return Some(hit);
        }
        next = e.source();
    }
    None
}

/// The egress configuration cannot be used. Raised at start-up, for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    CaBundle(#[from] CaBundleError),
    #[error("egress: {0} must be greater than zero")]
    ZeroLimit(&'static str),
    #[error("egress: cannot build the HTTP client: {0}")]
    Client(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_tenant_safe() {
        let source: BoxError = Box::new(io::Error::other(
            "tcp connect error: Connection refused (os error 111) to 10.1.1.1",
        ));
        let e = EgressError::Connect {
            host: "hooks.example".into(),
            via_proxy: true,
            source: Some(source),
        };
        assert_eq!(
            e.to_string(),
            "could not connect to hooks.example through the egress proxy"
        );
        assert!(e.source().is_some(), "operators keep the cause");

        let e = EgressError::Blocked {
            host: "evil.test".into(),
            address: "10.0.0.5".parse().unwrap(),
            reason: BlockReason::Private,
        };
        assert_eq!(
            e.to_string(),
            "requests to evil.test are blocked: 10.0.0.5 is a private address"
        );
        assert!(e.is_permanent());

        let e = EgressError::Timeout {
            host: "slow.example".into(),
            phase: TimeoutPhase::Total,
            after: Duration::from_secs(15),
        };
        assert_eq!(
            e.to_string(),
            "slow.example did not complete the response within 15 s"
        );
        assert!(!e.is_permanent());
        let e = EgressError::Timeout {
            host: "slow.example".into(),
            phase: TimeoutPhase::Connect,
            after: Duration::from_millis(1500),
        };
        assert_eq!(
            e.to_string(),
            "connecting to slow.example timed out after 1500 ms"
        );
    }

    #[test]
    fn finds_errors_wrapped_in_io_errors() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = io::Error::new(io::ErrorKind::InvalidData, tls);
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] io::Error);
        let outer = Outer(io);
        let found = find::<rustls::Error>(&outer).expect("found through io::Error");
        assert_eq!(tls_problem(found), TlsProblem::UntrustedCertificate);
    }
}
