//! Offline verification of IdP-issued JWTs against a cached JWKS.
//!
//! - [`JwksCache`] holds the IdP's public keys: fetched with a max age taken from the IdP's
//!   `Cache-Control` (within a floor and a ceiling), refetched once per cooldown when a token
//!   names an unknown `kid` (concurrent callers share one fetch), served stale while the IdP is
//!   unreachable (up to a bound), and persisted to a seed file for offline cold starts. Or a fixed
//!   set, e.g. from an exported [`JwksBundle`].
//! - [`Verifier`] checks a token against it: an explicit allowlist of asymmetric algorithms
//!   (never `none`, never HMAC), key type matching `alg`, `kid` required when several keys exist,
//!   unknown `crit` refused, `jku`/`x5u`/`jwk` ignored, size limits, then `iss`, `aud`, `exp`,
//!   `nbf`, `iat` with leeway. Every refusal is a [`VerifyError`] variant.
//! - [`export`] writes a bundle for app SDKs that cannot reach the IdP.
//! - [`code::exchange_code`] trades an authorization code for the ID token to verify.
//!
//! The crate knows nothing of Gatehouse's domain, so the Rust app SDK can reuse it. HTTP goes
//! through the [`JwksFetcher`] trait; [`ReqwestFetcher`] is the default. See `docs/tokens.md`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use gatehouse_jwks::{JwksCache, Verifier, VerifyOptions};
//!
//! let keys = JwksCache::remote("https://idp.example/oauth/v2/keys")
//!     .issuer("https://idp.example")
//!     .seed_file("/var/lib/gatehouse/jwks-seed.json")
//!     .build()?;
//! let verifier = Verifier::new(VerifyOptions::new("https://idp.example", ["3141592"]), keys)?;
//! let token = verifier.verify("eyJhbGciOi…").await?;
//! println!("subject {:?}", token.claims.sub);
//! # Ok(()) }
//! ```

mod alg;
mod bundle;
mod cache;
mod claims;
pub mod clock;
pub mod code;
mod error;
mod fetch;
mod jose;
mod keyset;
#[cfg(test)]
mod testkeys;
mod verify;

pub use alg::{Alg, KeyKind, UnknownAlg};
pub use bundle::{
    BUNDLE_FORMAT, BUNDLE_VERSION, ExportOptions, Jwks, JwksBundle, export, export_bundle,
    export_with, fetch_bundle,
};
pub use cache::{CacheOptions, CacheStatus, JwksCache, JwksCacheBuilder};
pub use claims::Claims;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{FetchError, JwksError};
pub use fetch::{FetchRequest, FetchResponse, JwksFetcher, ReqwestFetcher};
pub use keyset::{KeySet, KeySetLimits, SkippedKey};
pub use verify::{VerifiedToken, Verifier, VerifyError, VerifyOptions};
