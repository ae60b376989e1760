//! Shared application state. Handlers take only what they need through `State<AppState>`.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use gatehouse_config::Settings;
use gatehouse_core::{clock::Clock, secret::Keyring, store::Store, sync::ObjectKind};

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub keyring: Arc<Keyring>,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    /// Syncs one object to the IdP right away (inline, bounded by a timeout) so a create can
    /// return IdP-issued credentials; `None` when no reconciler runs in this process.
    pub reconciler: Option<Arc<dyn ReconcileNow>>,
    pub webhooks: Arc<gatehouse_webhooks::Webhooks>,
    /// The plugin host and registry of this process.
    pub plugins: crate::plugins::Plugins,
    /// Admin sign-in through the IdP (portal sessions).
    pub admin: Arc<crate::admin_session::AdminAuth>,
}

/// Implemented by the ZITADEL reconciler.
#[async_trait]
pub trait ReconcileNow: Send + Sync {
    /// Tries to bring one object in sync within `timeout`; `Err` carries a message fit for the
    /// API (the object stays pending and the background loop keeps trying).
    async fn reconcile_now(
        &self,
        kind: ObjectKind,
        id: &str,
        timeout: Duration,
    ) -> Result<(), String>;
}
