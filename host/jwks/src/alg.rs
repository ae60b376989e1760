//! The signature algorithms a verifier may accept, and the classification of a token's `alg`.
//!
//! [`Alg`] has no variant for `none` or any HMAC algorithm, so an allowlist built from it cannot
//! contain them: the verifier only ever checks signatures made with a private key against a
//! public key from the JWKS.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// An asymmetric JWS algorithm (RFC 7518 §3) supported by the verifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (ZITADEL's default).
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

/// The key a given algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// `kty: "RSA"`, at least 2048 bits.
    Rsa,
    /// `kty: "EC"`, `crv: "P-256"`.
    EcP256,
    /// `kty: "EC"`, `crv: "P-384"`.
    EcP384,
    /// `kty: "OKP"`, `crv: "Ed25519"`.
    Ed25519,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rsa => "RSA",
            Self::EcP256 => "EC P-256",
            Self::EcP384 => "EC P-384",
            Self::Ed25519 => "OKP Ed25519",
        })
    }
}

impl Alg {
    /// Every supported algorithm.
    pub const ALL: [Alg; 9] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
    ];

    /// The default allowlist: what ZITADEL signs with (RS256 by default, ES256 and EdDSA with web
    /// keys).
    pub const DEFAULT_ALLOWED: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    /// The JOSE name (`"RS256"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The only key kind a signature with this algorithm may be checked against.
    pub fn key_kind(self) -> KeyKind {
        match self {
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyKind::Rsa
            }
            Self::ES256 => KeyKind::EcP256,
            Self::ES384 => KeyKind::EcP384,
            Self::EdDSA => KeyKind::Ed25519,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an [`Alg`] from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a supported asymmetric JWS algorithm")]
pub struct UnknownAlg(pub String);

impl FromStr for Alg {
    type Err = UnknownAlg;

    /// Exact, case-sensitive match on the JOSE name (RFC 7515 §4.1.1 names are case-sensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Alg::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAlg(s.to_owned()))
    }
}

/// What a token's `alg` header says, before the allowlist is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderAlg {
    Asymmetric(Alg),
    /// `none` in any letter case: an unsecured JWS.
    None,
    /// `HS256`/`HS384`/`HS512` (any case): a shared-secret MAC, never accepted against public keys.
    Hmac(String),
    Unknown(String),
}

impl HeaderAlg {
    pub(crate) fn classify(alg: &str) -> Self {
        if let Ok(a) = alg.parse::<Alg>() {
            return Self::Asymmetric(a);
        }
        // Case-insensitive on purpose: some libraries once matched `alg` loosely, so "nOnE" and
        // "hs256" are attack spellings and get the specific refusal, not "unknown".
        let lower = alg.to_ascii_lowercase();
        if lower.trim() == "none" {
            Self::None
        } else if lower.starts_with("hs") {
            Self::Hmac(alg.to_owned())
        } else {
            Self::Unknown(alg.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_names_only() {
        for a in Alg::ALL {
            assert_eq!(a.as_str().parse::<Alg>().unwrap(), a);
        }
        assert!("rs256".parse::<Alg>().is_err());
        assert!("HS256".parse::<Alg>().is_err());
        assert!("none".parse::<Alg>().is_err());
        assert!("Ed25519".parse::<Alg>().is_err());
    }

    #[test]
    fn classifies_attack_spellings() {
        for s in ["none", "None", "NONE", "nOnE", " none", "none "] {
            assert_eq!(HeaderAlg::classify(s), HeaderAlg::None, "{s:?}");
        }
        for s in ["HS256", "hs384", "Hs512", "HS1"] {
            assert!(
                matches!(HeaderAlg::classify(s), HeaderAlg::Hmac(_)),
                "{s:?}"
            );
        }
        assert_eq!(
            HeaderAlg::classify("ES256"),
            HeaderAlg::Asymmetric(Alg::ES256)
        );
        assert!(matches!(
            HeaderAlg::classify("es256"),
            HeaderAlg::Unknown(_)
        ));
        assert!(matches!(
            HeaderAlg::classify("ES512"),
            HeaderAlg::Unknown(_)
        ));
        assert!(matches!(HeaderAlg::classify(""), HeaderAlg::Unknown(_)));
    }

    #[test]
    fn key_kinds_follow_the_algorithm_family() {
        assert_eq!(Alg::RS256.key_kind(), KeyKind::Rsa);
        assert_eq!(Alg::PS512.key_kind(), KeyKind::Rsa);
        assert_eq!(Alg::ES256.key_kind(), KeyKind::EcP256);
        assert_eq!(Alg::ES384.key_kind(), KeyKind::EcP384);
        assert_eq!(Alg::EdDSA.key_kind(), KeyKind::Ed25519);
    }
}
