//! Webhook delivery wiring: the one egress client (allowlist, proxy variables, CA bundle,
//! https requirement, timeout from settings), transforms through the server's plugins
//! ([`PluginTransformer`]), the [`Webhooks`] service the API calls, and the delivery worker
//! started with the server.

use std::sync::Arc;

use anyhow::Context;
use gatehouse_config::{EgressAllow, Settings};
use gatehouse_core::secret::Keyring;
use gatehouse_egress::{Allowlist, CaBundle, EgressClient, EgressConfig, ProxyConfig, ProxyTrust};
use gatehouse_webhooks::{Sender, Transformer, Webhooks, Worker, WorkerConfig};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{plugin_transform::PluginTransformer, plugins::Plugins, state::AppState};

/// The webhook service for this process, built from settings.
pub fn webhooks(
    settings: &Settings,
    keyring: &Arc<Keyring>,
    plugins: &Plugins,
) -> anyhow::Result<Arc<Webhooks>> {
    let egress = egress_client(settings)?;
    let transformer: Arc<dyn Transformer> = Arc::new(PluginTransformer::new(plugins.clone()));
    let sender = Sender::new(egress, transformer, settings.webhook_timeout);
    Ok(Arc::new(Webhooks::new(sender, keyring.clone())))
}

/// Starts the delivery worker unless this process runs no workers (`workers = false`).
pub fn spawn(state: &AppState, shutdown: &CancellationToken, tasks: &TaskTracker) {
    if !state.settings.workers {
        return;
    }
    let settings = &state.settings;
    let mut config = WorkerConfig::new(
        settings.webhook_retry_schedule.clone(),
        settings.webhook_disable_after,
        settings.webhook_timeout,
    );
    // Deliveries are kept as long as the events they carry.
    config.retention = Some(settings.events_retention);
    let worker = Worker::new(
        state.store.clone(),
        state.keyring.clone(),
        state.webhooks.sender().clone(),
        state.clock.clone(),
        config,
    );
    tasks.spawn(worker.run(shutdown.clone()));
}

/// The one outbound client for customer URLs. Proxy variables are read from the process
/// environment here, once.
fn egress_client(settings: &Settings) -> anyhow::Result<EgressClient> {
    let allow = settings
        .egress_allow
        .iter()
        .map(|entry| match entry {
            EgressAllow::Host(host) => host.clone(),
            // A single address comes back as `/32` (`/128`), which the egress allowlist treats
            // as the exact entry a metadata address needs.
            EgressAllow::Network(net) => net.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",");
    let config = EgressConfig {
        allow: Allowlist::parse(&allow).context("egress_allow")?,
        proxy: ProxyConfig::from_vars(|name| std::env::var(name).ok(), ProxyTrust::Operator)
            .context("HTTP_PROXY / HTTPS_PROXY / NO_PROXY")?,
        ca_bundle: settings
            .ca_bundle
            .as_ref()
            .map(CaBundle::from_pem_file)
            .transpose()
            .context("ca_bundle")?,
        require_https: settings.egress_require_https,
        timeout: settings.webhook_timeout,
        ..EgressConfig::default()
    };
    EgressClient::new(config).context("building the egress client")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings loaded from the environment with `GATEHOUSE_EGRESS_ALLOW=allow`.
    fn with_egress_allow(allow: &str) -> Result<Settings, gatehouse_config::ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let env = [
            ("GATEHOUSE_DATA_DIR", dir.path().display().to_string()),
            ("GATEHOUSE_EGRESS_ALLOW", allow.to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v));
        gatehouse_config::load_from(None, &env)
    }

    #[test]
    fn single_address_allowlist_entries_stay_exact() {
        let settings = with_egress_allow("169.254.169.254, 10.0.0.0/8, hooks.internal").unwrap();
        let client = egress_client(&settings).unwrap();
        assert!(
            client.validate_url("http://169.254.169.254/").is_ok(),
            "an exact entry opens a metadata address"
        );
        assert!(client.validate_url("http://10.9.8.7/").is_ok());
        assert!(client.validate_url("http://192.168.1.1/").is_err());
    }

    /// The configuration check and the egress policy read the same list: whatever the one
    /// accepts the other does too, so a list that loads never fails at startup.
    #[test]
    fn config_and_egress_policy_agree_on_allowlist_entries() {
        let entries = [
            ("hooks.internal", true),
            ("*.corp.example", true),
            ("Hooks.Internal.", true),
            ("10.0.0.0/8", true),
            ("10.1.2.3/8", false),
            ("fd12::/64", true),
            ("[::1]", true),
            ("::1", true),
            ("127.0.0.1", true),
            ("hooks.internal:8443", false),
            ("a*.corp.example", false),
            ("*.", false),
            ("not a host!", false),
            ("bad..label", false),
        ];
        for (entry, valid) in entries {
            let loaded = with_egress_allow(entry);
            assert_eq!(
                Allowlist::parse(entry).is_ok(),
                valid,
                "egress policy on `{entry}`"
            );
            assert_eq!(loaded.is_ok(), valid, "configuration on `{entry}`");
            if let Ok(settings) = loaded {
                egress_client(&settings).unwrap_or_else(|e| panic!("`{entry}`: {e:#}"));
            }
        }
    }
}
