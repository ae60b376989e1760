//! ZITADEL integration: the API client ([`client`]), the verifier of the signature ZITADEL
//! puts on Actions v2 calls ([`actions_signature`]), and the [`reconciler`] that drives ZITADEL
//! toward Gatehouse's desired state (see `docs/zitadel.md`).

pub mod actions_signature;
pub mod client;
pub mod reconciler;

pub use client::{ClientConfig, Credentials, Secret, Updated, ZitadelClient, ZitadelError};
pub use reconciler::{Reconciler, ReconcilerConfig};
