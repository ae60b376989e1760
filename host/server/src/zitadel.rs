//! ZITADEL wiring: which ZITADEL Gatehouse talks to, and the reconciler that keeps it in sync.
//!
//! - No `zitadel_url` configured: the embedded emulator (a development IdP) starts in this
//!   process, is served under [`EMULATOR_PATH`] on Gatehouse's own listener (issuer
//!   `<public URL>/zitadel`), keeps its state in Gatehouse's database, and the reconciler
//!   reaches it over loopback with the admin PAT the emulator writes into the data directory.
//! - `zitadel_url` + a PAT file or a service-user key file: a client for that ZITADEL, over a
//!   plain HTTP client that honours `GATEHOUSE_CA_BUNDLE` and the standard proxy variables (not
//!   the egress client: ZITADEL usually sits on a private network next to Gatehouse).
//!
//! Either way the reconciler is registered for inline syncs ([`ReconcileNow`]), its loop runs
//! when this process runs workers, and the Actions v2 target for `/hooks/zitadel` is marked for
//! sync at every start (created if missing, re-checked otherwise).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use async_trait::async_trait;
use axum::Router;
use gatehouse_config::{Settings, ZitadelCredentials, ZitadelTarget};
use gatehouse_core::{clock::Clock, secret::Keyring, store::Store, sync::ObjectKind};
use gatehouse_store::SqlStore;
use gatehouse_zitadel::{
    ClientConfig, Credentials, Reconciler, ReconcilerConfig, ZitadelClient,
    reconciler::ActionsConfig,
};
use gatehouse_zitadel_emulator::{Emulator, EmulatorConfig};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use url::Url;

use crate::state::ReconcileNow;

/// Where the embedded emulator is mounted on Gatehouse's router.
pub const EMULATOR_PATH: &str = "/zitadel";

/// Where ZITADEL posts Actions events.
pub const HOOKS_PATH: &str = "/hooks/zitadel";

/// Per-attempt timeout of calls to an external ZITADEL: short, so an outage is noticed (and the
/// circuit breaker opens) quickly; the reconciler retries anyway.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The ZITADEL side of a running server.
pub struct Zitadel {
    pub reconciler: Reconciler,
    /// The embedded emulator, when no external ZITADEL is configured.
    pub emulator: Option<Emulator>,
}

impl Zitadel {
    /// Connects to the configured ZITADEL (starting the embedded emulator if none is) and builds
    /// the reconciler. `local_addr` is the address Gatehouse listens on: the reconciler reaches
    /// the embedded emulator there, whatever the public URL says.
    pub async fn setup(
        settings: &Settings,
        store: &SqlStore,
        keyring: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        local_addr: SocketAddr,
    ) -> anyhow::Result<Self> {
        let public = settings
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        let mut config = ReconcilerConfig {
            actions: Some(ActionsConfig::new(format!("{public}{HOOKS_PATH}"))),
            ..ReconcilerConfig::default()
        };
        let (client, emulator) = match &settings.zitadel {
            ZitadelTarget::Embedded => {
                let (client, emulator) = embedded(settings, store, &public, local_addr).await?;
                // The emulator reads its own writes: "missing" is never a lagging read.
                config.consistency_grace = Duration::ZERO;
                (client, Some(emulator))
            }
            ZitadelTarget::External { url, credentials } => {
                (external(settings, url, credentials)?, None)
            }
        };
        let reconciler = Reconciler::new(
            client,
            Arc::new(store.clone()) as Arc<dyn Store>,
            keyring,
            clock,
            config,
        );
        reconciler
            .request_actions_target()
            .await
            .context("marking the ZITADEL Actions target for sync")?;
        Ok(Self {
            reconciler,
            emulator,
        })
    }

    /// The inline-sync handle for [`crate::state::AppState::reconciler`].
    pub fn inline(&self) -> Arc<dyn ReconcileNow> {
        Arc::new(Inline(self.reconciler.clone()))
    }

    /// Mounts the embedded emulator (if any) under [`EMULATOR_PATH`]. Added after the API's
    /// layers, so it keeps ZITADEL's own semantics (no idempotency keys, its own errors).
    pub fn mount(&self, router: Router) -> Router {
        match &self.emulator {
            Some(emulator) => router.nest(EMULATOR_PATH, emulator.router()),
            None => router,
        }
    }

    /// Runs the reconciler loop until `shutdown`.
    pub fn spawn_worker(&self, shutdown: CancellationToken, tasks: &TaskTracker) {
        let reconciler = self.reconciler.clone();
        tasks.spawn(async move { reconciler.run(shutdown.cancelled_owned()).await });
    }
}

async fn embedded(
    settings: &Settings,
    store: &SqlStore,
    public: &str,
    local_addr: SocketAddr,
) -> anyhow::Result<(ZitadelClient, Emulator)> {
    let issuer = Url::parse(&format!("{public}{EMULATOR_PATH}"))
        .context("building the embedded ZITADEL issuer from public_url")?;
    // Loopback only (the reconciler to the emulator, the emulator to /hooks/zitadel): a proxy
    // from the environment must not capture it.
    let loopback = reqwest::Client::builder()
        .no_proxy()
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the loopback HTTP client")?;
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "creating the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let emulator = Emulator::start(EmulatorConfig::new(
        issuer,
        settings.data_dir.clone(),
        Arc::new(store.clone()),
        loopback.clone(),
    ))
    .await
    .context("starting the embedded ZITADEL emulator")?;
    let api = Url::parse(&format!(
        "http://{}{EMULATOR_PATH}",
        loopback_of(local_addr)
    ))
    .context("building the emulator's loopback URL")?;
    let credentials = Credentials::pat(emulator.admin_pat())
        .context("reading the embedded emulator's admin PAT")?;
    let client = ZitadelClient::new(loopback, ClientConfig::new(api, credentials))
        .context("building the client of the embedded ZITADEL emulator")?;
    Ok((client, emulator))
}

fn external(
    settings: &Settings,
    url: &Url,
    credentials: &ZitadelCredentials,
) -> anyhow::Result<ZitadelClient> {
    let credentials = match credentials {
        ZitadelCredentials::PatFile(path) => Credentials::from_pat_file(path)
            .with_context(|| format!("reading zitadel_pat_file {}", path.display()))?,
        ZitadelCredentials::KeyFile(path) => Credentials::from_key_file(path)
            .with_context(|| format!("reading zitadel_key_file {}", path.display()))?,
    };
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .min_tls_version(reqwest::tls::Version::TLS_1_2);
    if let Some(path) = &settings.ca_bundle {
        let pem =
            std::fs::read(path).with_context(|| format!("reading ca_bundle {}", path.display()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("ca_bundle {} is not a PEM bundle", path.display()))?;
        anyhow::ensure!(
            !certificates.is_empty(),
            "ca_bundle {} holds no certificate",
            path.display()
        );
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    let http = builder
        .build()
        .context("building the HTTP client for ZITADEL")?;
    let mut config = ClientConfig::new(url.clone(), credentials);
    config.request_timeout = REQUEST_TIMEOUT;
    ZitadelClient::new(http, config).context("configuring the ZITADEL client")
}

/// The loopback address of the listener (`0.0.0.0` → `127.0.0.1`, `::` → `::1`).
fn loopback_of(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

struct Inline(Reconciler);

#[async_trait]
impl ReconcileNow for Inline {
    async fn reconcile_now(
        &self,
        kind: ObjectKind,
        id: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        self.0.reconcile_now(kind, id, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_listeners_are_reached_on_loopback() {
        let v4: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(loopback_of(v4).to_string(), "127.0.0.1:8080");
        let v6: SocketAddr = "[::]:8080".parse().unwrap();
        assert_eq!(loopback_of(v6).to_string(), "[::1]:8080");
        let bound: SocketAddr = "10.1.2.3:9000".parse().unwrap();
        assert_eq!(loopback_of(bound), bound);
    }
}
