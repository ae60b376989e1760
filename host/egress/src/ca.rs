//! Extra trust anchors (`GATEHOUSE_CA_BUNDLE`): a PEM file with one or more CA certificates,
//! trusted in addition to the system roots (corporate TLS-inspecting proxies, internal CAs).

use std::{fmt, path::Path};

use rustls::pki_types::{CertificateDer, pem::PemObject};

/// Parsed and validated CA certificates.
#[derive(Clone)]
pub struct CaBundle {
    certs: Vec<CertificateDer<'static>>,
}

/// Why a CA bundle cannot be used; names the file and, where it helps, the certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaBundleError {
    #[error("CA bundle {path}: cannot read the file ({reason})")]
    Read { path: String, reason: String },
    #[error("CA bundle{}: malformed PEM ({reason})", at(.path))]
    Pem {
        path: Option<String>,
        reason: String,
    },
    #[error("CA bundle{}: no `BEGIN CERTIFICATE` block found", at(.path))]
    Empty { path: Option<String> },
    #[error("CA bundle{}: certificate #{index} is not a usable CA certificate ({reason})", at(.path))]
    Invalid {
        path: Option<String>,
        index: usize,
        reason: String,
    },
}

fn at(path: &Option<String>) -> String {
    path.as_deref().map(|p| format!(" {p}")).unwrap_or_default()
}

impl CaBundle {
    /// Reads a PEM file; other PEM blocks (e.g. a stray key) are ignored, but at least one
    /// certificate must be present and every certificate must parse as a trust anchor.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, CaBundleError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|e| CaBundleError::Read {
            path: shown.clone(),
            reason: e.kind().to_string(),
        })?;
        Self::parse(&pem, Some(shown))
    }

    /// Parses PEM bytes.
    pub fn from_pem(pem: &[u8]) -> Result<Self, CaBundleError> {
        Self::parse(pem, None)
    }

    fn parse(pem: &[u8], path: Option<String>) -> Result<Self, CaBundleError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CaBundleError::Pem {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(CaBundleError::Empty { path });
        }
        // The same parse rustls performs when the roots are installed, done here so the error
        // names the certificate instead of surfacing as a generic client-build failure.
        let mut store = rustls::RootCertStore::empty();
        for (i, cert) in certs.iter().enumerate() {
            store
                .add(cert.clone())
                .map_err(|e| CaBundleError::Invalid {
                    path: path.clone(),
                    index: i + 1,
                    reason: e.to_string(),
                })?;
        }
        Ok(Self { certs })
    }

    pub fn len(&self) -> usize {
        self.certs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    pub(crate) fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("certificates", &self.certs.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_garbage_and_non_certificates() {
        assert_eq!(
            CaBundle::from_pem(b"hello").unwrap_err(),
            CaBundleError::Empty { path: None }
        );
        let bad = b"-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n";
        let err = CaBundle::from_pem(bad).unwrap_err();
        assert!(
            matches!(err, CaBundleError::Invalid { index: 1, .. }),
            "{err:?}"
        );
        let unterminated = b"-----BEGIN CERTIFICATE-----\nMIIB\n";
        assert!(matches!(
            CaBundle::from_pem(unterminated).unwrap_err(),
            CaBundleError::Pem { .. } | CaBundleError::Empty { .. }
        ));
        let err = CaBundle::from_pem_file("/nonexistent/ca.pem").unwrap_err();
        assert_eq!(
            err.to_string(),
            "CA bundle /nonexistent/ca.pem: cannot read the file (entity not found)"
        );
    }
}
