//! Test harness: [`spawn`] starts the whole server in-process on `127.0.0.1:0` against a
//! temporary SQLite file or a fresh PostgreSQL schema, and hands back a [`TestClient`] holding
//! the bootstrap credential.
//!
//! PostgreSQL comes from `GATEHOUSE_TEST_DATABASE_URL` (default the local server). When it is
//! unreachable, [`Backend::all`] leaves it out with a printed "skipped" line — unless
//! `STRICT=1`, where it panics, so CI cannot pass without exercising PostgreSQL.

mod client;

use std::{sync::Once, time::Duration};

pub use client::{TestClient, TestResponse};
use gatehouse_server::{Running, StartOptions};
use gatehouse_store::{ConnectOptions, SqlStore};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// SQLite, plus PostgreSQL when reachable (mandatory under `STRICT=1`).
    pub async fn all() -> Vec<Backend> {
        let mut backends = vec![Backend::Sqlite];
        if postgres_reachable().await {
            backends.push(Backend::Postgres);
        }
        backends
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

pub fn strict() -> bool {
    std::env::var("STRICT").is_ok_and(|v| v == "1")
}

pub fn postgres_url() -> String {
    std::env::var("GATEHOUSE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether PostgreSQL answers; under `STRICT=1` an unreachable server is a panic.
pub async fn postgres_reachable() -> bool {
    let mut options = ConnectOptions::new(postgres_url());
    options.schema = "public".into();
    options.max_connections = 1;
    options.acquire_timeout = Duration::from_secs(3);
    match SqlStore::connect(&options).await {
        Ok(store) => {
            store.close().await;
            true
        }
        Err(err) if strict() => panic!(
            "STRICT=1 and PostgreSQL ({}) is unreachable: {err}",
            postgres_url()
        ),
        Err(err) => {
            eprintln!("skipped: PostgreSQL tests ({err}); set STRICT=1 to make this fatal");
            false
        }
    }
}

/// Options for [`spawn_with`].
#[derive(Clone, Debug)]
pub struct TestOptions {
    pub backend: Backend,
    /// Extra `GATEHOUSE_*` settings, e.g. `("GATEHOUSE_MAX_BODY_BYTES", "2048")`.
    pub env: Vec<(String, String)>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            backend: Backend::Sqlite,
            env: Vec::new(),
        }
    }
}

impl TestOptions {
    pub fn backend(backend: Backend) -> Self {
        Self {
            backend,
            ..Self::default()
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// A server running in this process.
pub struct TestServer {
    pub url: String,
    pub backend: Backend,
    /// A client holding the bootstrap (platform) credential.
    pub client: TestClient,
    pub bootstrap_token: String,
    pub running: Running,
    pub data_dir: tempfile::TempDir,
    /// The settings the server was started with (e.g. to restart on the same data).
    pub env: Vec<(String, String)>,
}

static TRACING: Once = Once::new();

fn init_tracing() {
    TRACING.call_once(|| {
        let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

pub async fn spawn() -> TestServer {
    spawn_with(TestOptions::default()).await
}

pub async fn spawn_with(options: TestOptions) -> TestServer {
    init_tracing();
    let data_dir = tempfile::tempdir().expect("temp data dir");
    let mut env = vec![
        (
            "GATEHOUSE_DATA_DIR".to_owned(),
            data_dir.path().display().to_string(),
        ),
        (
            "GATEHOUSE_BOOTSTRAP_TOKEN".to_owned(),
            format!("ghk_test_{}", ulid::Ulid::new()),
        ),
    ];
    if options.backend == Backend::Postgres {
        drop_stale_schemas().await;
        let schema = format!("gh_test_{}", ulid::Ulid::new().to_string().to_lowercase());
        env.push(("GATEHOUSE_DATABASE_URL".into(), postgres_url()));
        env.push(("GATEHOUSE_DATABASE_SCHEMA".into(), schema));
        env.push(("GATEHOUSE_DATABASE_MAX_CONNECTIONS".into(), "5".into()));
    }
    env.extend(options.env);
    start_on(env, data_dir, options.backend).await
}

/// Starts a server with exactly `env` (plus a fresh port) on `data_dir`.
pub async fn start_on(
    mut env: Vec<(String, String)>,
    data_dir: tempfile::TempDir,
    backend: Backend,
) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    env.retain(|(k, _)| k != "GATEHOUSE_PUBLIC_URL");
    env.push(("GATEHOUSE_PUBLIC_URL".into(), url.clone()));
    let settings = gatehouse_config::load_from(None, &env).expect("test settings are valid");
    let bootstrap_token = settings
        .bootstrap_token
        .clone()
        .expect("tests set a bootstrap token");
    let running = gatehouse_server::start(settings, listener, StartOptions::default())
        .await
        .expect("server starts");
    let client = TestClient::new(&url, Some(bootstrap_token.clone()));
    TestServer {
        url,
        backend,
        client,
        bootstrap_token,
        running,
        data_dir,
        env,
    }
}

impl TestServer {
    /// Stops the server and, on PostgreSQL, drops its schema.
    pub async fn stop(self) {
        let store = self.running.store.clone();
        self.running.shutdown().await.expect("clean shutdown");
        if self.backend == Backend::Postgres {
            store.drop_schema().await.expect("drop test schema");
        }
        store.close().await;
    }

    /// Stops the server and starts a new one on the same data (database, keys).
    pub async fn restart(self) -> TestServer {
        let TestServer {
            running,
            data_dir,
            env,
            backend,
            ..
        } = self;
        let store = running.store.clone();
        running.shutdown().await.expect("clean shutdown");
        store.close().await;
        start_on(env, data_dir, backend).await
    }
}

/// Removes test schemas left by crashed runs more than an hour ago (their names carry a ULID,
/// which encodes the creation time).
async fn drop_stale_schemas() {
    let mut options = ConnectOptions::new(postgres_url());
    options.schema = "public".into();
    options.max_connections = 1;
    let Ok(store) = SqlStore::connect(&options).await else {
        return;
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    for schema in store
        .schemas_with_prefix("gh_test_")
        .await
        .unwrap_or_default()
    {
        let created = schema
            .strip_prefix("gh_test_")
            .and_then(|id| ulid::Ulid::from_string(&id.to_uppercase()).ok())
            .map(|id| id.timestamp_ms());
        if created.is_some_and(|ms| now_ms.saturating_sub(ms) > 3_600_000) {
            let _ = store.drop_schema_named(&schema).await;
        }
    }
    store.close().await;
}
