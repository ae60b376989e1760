//! The Gatehouse HTTP server: the admin API under `/v1`, health endpoints and the OpenAPI
//! document, plus the background workers that run beside it.
//!
//! [`start`] opens the database, applies migrations, loads the master key, issues the bootstrap
//! credential on an empty database, and serves on the given listener; tests pass a listener
//! bound to `127.0.0.1:0`.

pub mod admin_session;
mod bootstrap;
mod delivery;
pub mod error;
pub mod extract;
mod idempotency;
mod metrics;
pub mod openapi;
pub mod plugin_transform;
pub mod plugins;
pub mod portal;
mod request_id;
pub mod routes;
pub mod state;
mod workers;
pub mod zitadel;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    http::{HeaderValue, header},
    middleware,
    response::IntoResponse,
    routing::get,
};
use gatehouse_config::Settings;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_store::SqlStore;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower_http::{catch_panic::CatchPanicLayer, set_header::SetResponseHeaderLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use bootstrap::{load_or_create_keyring, open_store};
use state::AppState;

/// How long a create waits for the IdP before answering with `pending`.
pub const INLINE_SYNC_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds the router and the OpenAPI document from the same route list.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (api, doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(routes::health::router())
        .merge(routes::tenants::router())
        .merge(routes::apps::router())
        .merge(routes::api_keys::router())
        .merge(routes::audit::router())
        .merge(routes::events::router())
        .merge(routes::webhooks::router())
        .merge(routes::sync::router())
        .merge(routes::hooks_zitadel::router())
        .merge(routes::plugins::router())
        .merge(admin_session::router())
        .split_for_parts();
    let doc = openapi::finish(doc);
    let spec = Arc::new(doc.clone());
    let max_body = state.settings.max_body_bytes;
    let router = api
        .route(
            "/v1/openapi.json",
            get(move || async move { Json(spec.as_ref().clone()).into_response() }),
        )
        .merge(portal::router())
        .fallback(error::route_not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::middleware,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(error::log_server_errors))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            error::ApiError::internal("handler panicked").into_response()
        }))
        .layer(middleware::from_fn(metrics::record))
        .layer(middleware::from_fn(request_id::assign))
        .with_state(state);
    (router, doc)
}

/// Extra wiring for [`start`], mostly for tests.
#[derive(Clone)]
pub struct StartOptions {
    pub clock: Arc<dyn Clock>,
}

impl Default for StartOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
        }
    }
}

/// How long a stopping server waits for its workers: a webhook attempt in flight may take its
/// whole timeout (15 s by default) before it can be recorded.
const BACKGROUND_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    /// The bootstrap credential, when this start issued it (print it once).
    pub bootstrap_token: Option<String>,
    /// The first platform admin of the embedded IdP, when this start created it (print once).
    pub admin_credentials: Option<admin_session::AdminCredentials>,
    pub state: AppState,
    pub store: SqlStore,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// The background workers (delivery, reconciler, retention, sign-in registration).
    background: TaskTracker,
}

impl Running {
    /// Stops accepting connections, finishes in-flight requests and stops the workers.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the server stops (on its own or through `shutdown_token`), then for the
    /// background workers to finish what they hold (deliveries in flight are recorded), so
    /// nothing touches the database after this returns.
    pub async fn wait(self) -> anyhow::Result<()> {
        let served = self.task.await.context("server task panicked")?;
        self.shutdown.cancel();
        self.background.close();
        if tokio::time::timeout(BACKGROUND_GRACE, self.background.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                grace_s = BACKGROUND_GRACE.as_secs(),
                "background workers did not stop in time; leaving them"
            );
        }
        served
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// Opens the database, prepares secrets and serves on `listener`.
pub async fn start(
    settings: Settings,
    listener: TcpListener,
    options: StartOptions,
) -> anyhow::Result<Running> {
    let store = open_store(&settings).await?;
    if settings.auto_migrate {
        let report = store
            .migrate()
            .await
            .context("applying database migrations")?;
        if !report.applied.is_empty() {
            tracing::info!(applied = ?report.applied, "database migrations applied");
        }
    } else {
        use gatehouse_core::store::Health;
        let pending = store
            .pending_migrations()
            .await
            .context("reading migration state")?;
        anyhow::ensure!(
            pending == 0,
            "the database schema is {pending} migration(s) behind and auto_migrate is off; run `gatehouse migrate` first"
        );
    }
    let keyring = load_or_create_keyring(&settings)?;
    let clock = options.clock;
    let bootstrap_token = gatehouse_core::services::api_keys::bootstrap(
        &store,
        settings.bootstrap_token.clone(),
        clock.now(),
    )
    .await
    .context("issuing the bootstrap credential")?;

    let keyring = Arc::new(keyring);
    let addr = listener
        .local_addr()
        .context("reading the listener address")?;
    let zitadel =
        zitadel::Zitadel::setup(&settings, &store, keyring.clone(), clock.clone(), addr).await?;

    let store_dyn: Arc<dyn gatehouse_core::store::Store> = Arc::new(store.clone());
    let plugins = plugins::Plugins::start(
        settings.plugin_dir.clone(),
        store_dyn.clone(),
        clock.clone(),
    )
    .await
    .context("starting the plugin host")?;
    let admin = admin_session::AdminAuth::new(&settings, &zitadel)?;
    let state = AppState {
        webhooks: delivery::webhooks(&settings, &keyring, &plugins)?,
        store: store_dyn,
        plugins,
        keyring,
        settings: Arc::new(settings),
        clock,
        reconciler: Some(zitadel.inline()),
        admin,
    };
    let (router, _) = router(state.clone());
    let router = zitadel.mount(router);
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { token.cancelled().await })
        .await
        .context("HTTP server failed")
    });
    // Needs the listener serving (the embedded IdP is reached through it); before the workers,
    // see `admin_session::start`.
    let background = TaskTracker::new();
    let admin_credentials = admin_session::start(&state, &shutdown, &background).await;

    if state.settings.workers {
        workers::spawn(state.clone(), shutdown.clone(), &background);
        zitadel.spawn_worker(shutdown.clone(), &background);
    }

    delivery::spawn(&state, &shutdown, &background);
    Ok(Running {
        addr,
        bootstrap_token,
        admin_credentials,
        state,
        store,
        shutdown,
        task,
        background,
    })
}
