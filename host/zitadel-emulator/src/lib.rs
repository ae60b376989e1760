//! A ZITADEL-compatible embedded IdP for development and tests: the management/admin v1 and v2
//! API subset Gatehouse uses, OIDC (discovery, authorize with PKCE, token, userinfo, JWKS with
//! key rotation, end session, introspection), a hosted login page, the custom-login-UI
//! protocol (Session API v2 + auth-request callback) and Actions v2 event calls.
//!
//! **This is a development IdP.** It follows ZITADEL's wire format and rules so Gatehouse can be
//! developed and tested without a real ZITADEL, but it is not a security product: see
//! `docs/zitadel-emulator.md` for what it implements and what it deliberately leaves out.
//!
//! ```no_run
//! # async fn demo() -> Result<(), gatehouse_zitadel_emulator::EmulatorError> {
//! use std::sync::Arc;
//! use gatehouse_zitadel_emulator::{Emulator, EmulatorConfig, MemoryStateStore};
//!
//! let config = EmulatorConfig::new(
//!     "http://127.0.0.1:8080/zitadel".parse().unwrap(),
//!     "/var/lib/gatehouse".into(),
//!     Arc::new(MemoryStateStore::new()),
//!     reqwest::Client::new(),
//! );
//! let emulator = Emulator::start(config).await?;
//! let app: axum::Router = axum::Router::new().nest("/zitadel", emulator.router());
//! # let _ = app; Ok(()) }
//! ```

use std::{path::PathBuf, sync::Arc, time::Duration};

use axum::{Json, Router, http::StatusCode, response::IntoResponse};
use gatehouse_core::emulator::EmulatorStateStore;
use serde_json::json;
use url::Url;

mod actions;
mod api;
mod auth;
mod crypto;
mod error;
mod flows;
mod keys;
mod memory;
mod model;
mod oidc;
mod protojson;
mod setup;
mod state;
pub mod testing;

pub use error::{ApiError, Code, EmulatorError};
pub use memory::MemoryStateStore;
pub use setup::{KEY_FILE, PAT_FILE};

use crate::state::{Settings, Shared};

/// How to start the emulator.
pub struct EmulatorConfig {
    /// The public issuer, e.g. `http://localhost:8080/zitadel`; every absolute URL the emulator
    /// emits (discovery, redirects, `iss`) is built from it.
    pub issuer: Url,
    /// Where the admin PAT (`zitadel-admin.pat`) and key file (`zitadel-admin-key.json`) go.
    pub data_dir: PathBuf,
    /// Where the state document is persisted.
    pub state: Arc<dyn EmulatorStateStore>,
    /// Client for calls to Actions v2 targets (the server passes its egress-configured client).
    pub actions_http: reqwest::Client,
    /// Name of the organization created on first start.
    pub default_org_name: String,
    /// Lifetime of access tokens (ZITADEL's default: 12 h).
    pub access_token_lifetime: Duration,
    /// Lifetime of refresh tokens (default 30 days).
    pub refresh_token_lifetime: Duration,
    /// How long a deactivated signing key stays in the JWKS (default 30 h, ZITADEL's public key
    /// lifetime).
    pub key_grace_period: Duration,
}

impl EmulatorConfig {
    pub fn new(
        issuer: Url,
        data_dir: PathBuf,
        state: Arc<dyn EmulatorStateStore>,
        actions_http: reqwest::Client,
    ) -> Self {
        Self {
            issuer,
            data_dir,
            state,
            actions_http,
            default_org_name: "Gatehouse".into(),
            access_token_lifetime: Duration::from_secs(12 * 3600),
            refresh_token_lifetime: Duration::from_secs(30 * 24 * 3600),
            key_grace_period: Duration::from_secs(30 * 3600),
        }
    }
}

/// A running emulator. Cheap to clone; the state lives behind an `Arc`.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
    admin_pat: Arc<str>,
    admin_key_file: Arc<str>,
    pat_path: PathBuf,
    key_path: PathBuf,
    /// Keeps a test's scratch directory alive as long as the emulator.
    _scratch: Option<Arc<dyn Send + Sync>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the PAT or the key.
        f.debug_struct("Emulator")
            .field("issuer", &self.shared.settings.issuer)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Loads the saved state (or sets up a fresh instance), writes the admin PAT and key
    /// files, and starts the Actions dispatcher. Must run inside a Tokio runtime.
    pub async fn start(config: EmulatorConfig) -> Result<Self, EmulatorError> {
        if !matches!(config.issuer.scheme(), "http" | "https") || config.issuer.host().is_none() {
            return Err(EmulatorError::Config(format!(
                "issuer `{}` must be an absolute http(s) URL",
                config.issuer
            )));
        }
        if config.issuer.query().is_some() || config.issuer.fragment().is_some() {
            return Err(EmulatorError::Config(
                "issuer must not have a query or fragment".into(),
            ));
        }
        let mut settings = Settings::from_issuer(&config.issuer);
        settings.access_token_lifetime = config.access_token_lifetime;
        settings.id_token_lifetime = config.access_token_lifetime;
        settings.refresh_token_lifetime = config.refresh_token_lifetime;
        settings.key_grace_period = config.key_grace_period;

        let ids = crypto::IdGen::default();
        let loaded = config.state.load_emulator_state().await?;
        let (mut data, mut dirty) = match loaded {
            Some(bytes) => {
                let raw: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|e| EmulatorError::CorruptState(e.to_string()))?;
                let version = raw.get("version").and_then(serde_json::Value::as_u64);
                if version != Some(u64::from(model::STATE_VERSION)) {
                    return Err(EmulatorError::CorruptState(format!(
                        "state version {} is not supported (expected {})",
                        version.map_or_else(|| "(missing)".to_owned(), |v| v.to_string()),
                        model::STATE_VERSION
                    )));
                }
                let data: model::Data = serde_json::from_value(raw)
                    .map_err(|e| EmulatorError::CorruptState(e.to_string()))?;
                (data, false)
            }
            None => {
                let name = config.default_org_name.clone();
                let domain = settings.domain.clone();
                let data = tokio::task::spawn_blocking({
                    let ids = crypto::IdGen::default();
                    move || setup::initial_state(&ids, &name, &domain)
                })
                .await
                .map_err(|e| EmulatorError::Crypto(e.to_string()))??;
                (data, true)
            }
        };
        dirty |= setup::ensure_signing_key(&mut data, &ids)?;
        let (creds, changed) = setup::ensure_admin_credentials(&mut data, &ids, &config.data_dir)?;
        dirty |= changed;
        if dirty {
            let bytes =
                serde_json::to_vec(&data).map_err(|e| EmulatorError::Crypto(e.to_string()))?;
            config.state.save_emulator_state(&bytes).await?;
        }
        tracing::warn!(
            issuer = %settings.issuer,
            pat_file = %creds.pat_path.display(),
            "the embedded ZITADEL emulator is serving as IdP: a development IdP, not for production"
        );
        let shared = Shared::new(settings, config.state, data, config.actions_http);
        Ok(Self {
            shared,
            admin_pat: creds.pat.into(),
            admin_key_file: creds.key_file.into(),
            pat_path: creds.pat_path,
            key_path: creds.key_path,
            _scratch: None,
        })
    }

    /// The emulator's HTTP API: ZITADEL's paths relative to the issuer. Nest it at the
    /// issuer's path (e.g. `/zitadel`).
    pub fn router(&self) -> Router {
        Router::new()
            .merge(api::router())
            .merge(oidc::router())
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({"code": 5, "message": "Not Found", "details": []})),
                )
                    .into_response()
            })
            .method_not_allowed_fallback(|| async {
                (
                    StatusCode::METHOD_NOT_ALLOWED,
                    Json(json!({"code": 12, "message": "Method Not Allowed", "details": []})),
                )
                    .into_response()
            })
            .with_state(self.shared.clone())
    }

    /// The issuer without trailing slash.
    pub fn issuer(&self) -> &str {
        &self.shared.settings.issuer
    }

    /// The instance admin's PAT (IAM_OWNER + IAM_LOGIN_CLIENT). Also in [`Self::admin_pat_path`].
    pub fn admin_pat(&self) -> &str {
        &self.admin_pat
    }

    pub fn admin_pat_path(&self) -> &std::path::Path {
        &self.pat_path
    }

    /// The admin's service-account key file (`{type, keyId, key, userId}` JSON).
    pub fn admin_key_file(&self) -> &str {
        &self.admin_key_file
    }

    pub fn admin_key_path(&self) -> &std::path::Path {
        &self.key_path
    }

    pub fn admin_user_id(&self) -> String {
        self.shared.read(|inner| inner.data.admin_user_id.clone())
    }

    /// The organization created on first start.
    pub fn default_org_id(&self) -> String {
        self.shared.read(|inner| inner.data.default_org_id.clone())
    }

    /// The instance id (`instanceID` in Actions payloads).
    pub fn instance_id(&self) -> String {
        self.shared.read(|inner| inner.data.instance_id.clone())
    }

    /// Test helper: creates an active human user with a verified email and the given password
    /// (which must satisfy ZITADEL's default complexity policy). `username` doubles as email
    /// when it contains `@`, else `<username>@example.com` is used. Returns the user id.
    pub async fn create_human_user(
        &self,
        org_id: &str,
        username: &str,
        password: &str,
    ) -> Result<String, ApiError> {
        let email = if username.contains('@') {
            username.to_owned()
        } else {
            format!("{username}@example.com")
        };
        let req: api::users::HumanReq = serde_json::from_value(json!({
            "username": username,
            "profile": {"givenName": username, "familyName": "Test"},
            "email": {"email": email, "isVerified": true},
            "password": {"password": password},
        }))
        .map_err(ApiError::internal)?;
        let new = api::users::prepare_human(req).await?;
        let admin = self.admin_user_id();
        let org_id = org_id.to_owned();
        let user = self
            .shared
            .write(|tx| {
                if !tx.data.orgs.contains_key(&org_id) {
                    return Err(error::catalog::org_not_found());
                }
                api::users::create_human(tx, &org_id, new, &admin)
            })
            .await?;
        Ok(user.id)
    }
}
