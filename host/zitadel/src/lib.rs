//! ZITADEL integration: the API client ([`client`]) and the verifier of the signature ZITADEL
//! puts on Actions v2 calls ([`actions_signature`]). The reconciler that drives ZITADEL toward
//! Gatehouse's desired state builds on the client (see `docs/zitadel.md`).

pub mod actions_signature;
pub mod client;

pub use client::{ClientConfig, Credentials, Secret, Updated, ZitadelClient, ZitadelError};
