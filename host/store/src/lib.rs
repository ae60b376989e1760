//! The SQL store: one implementation of `gatehouse-core`'s store traits that runs on SQLite (the
//! embedded default) and PostgreSQL (production, Supabase), through sqlx's `Any` driver.
//!
//! Why one implementation and not two: almost every statement is the same text on both backends
//! (`$n` placeholders work on SQLite too), so two copies would drift. Only a handful of
//! statements differ — the lock that keeps the events feed in commit order, row claims with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL — and those live in [`Dialect`]. Column types are the common subset
//! (`TEXT`, `BIGINT`, `BOOLEAN`, blobs): ids are text, timestamps Unix milliseconds, JSON text.
//! Each backend keeps its own migrations directory, and one conformance suite
//! (`tests/conformance`) runs every operation against both.
//!
//! SQLite has one writer: writes go through a one-connection pool, reads through a separate
//! pool, so concurrent writers queue instead of failing with `SQLITE_BUSY`.

mod admin;
mod api_keys;
mod apps;
mod audit;
mod change;
mod emulator;
mod error;
mod events;
mod idempotency;
mod plugins;
mod sql;
mod sync;
mod tenants;
mod webhooks;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use gatehouse_core::{
    StoreError,
    store::{Health, StoreResult},
};
use sqlx::{
    AnyPool, Executor,
    any::{AnyPoolOptions, install_default_drivers},
    migrate::Migrator,
};

pub use error::interpret;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to reach the database.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    pub url: String,
    /// PostgreSQL schema holding every Gatehouse object (created if missing).
    pub schema: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl ConnectOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: "gatehouse".into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// What `migrate` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied: Vec<i64>,
    pub total: usize,
}

#[derive(Clone)]
pub struct SqlStore {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    dialect: Dialect,
    writer: AnyPool,
    reader: AnyPool,
    schema: String,
}

/// The statements that differ between backends.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dialect {
    /// Run right before a transaction appends events: serialises event writers until commit, so
    /// `seq` order is commit order. Events are appended last in a transaction, so the lock holder
    /// never waits on another lock (no deadlocks). SQLite's single writer already serialises.
    pub lock_events: Option<&'static str>,
    /// Placeholders are plain `?` bound in order, not `$n`: SQLite resolves each numbered one
    /// with a linear search, which makes binding a multi-row statement quadratic.
    pub anonymous_placeholders: bool,
    /// Row locks exist (`FOR UPDATE SKIP LOCKED`, `FOR KEY SHARE`); SQLite's single writer
    /// already serialises what they would.
    pub row_locks: bool,
    /// Webhook deliveries and attempts go with their endpoint and delivery by foreign keys
    /// (SQLite). PostgreSQL has none there: the store locks and deletes explicitly (migration
    /// 0007) and records result batches as one JSON recordset.
    pub webhook_foreign_keys: bool,
}

impl Dialect {
    /// ` FOR UPDATE SKIP LOCKED`, or nothing where there are no row locks.
    pub fn skip_locked(self) -> &'static str {
        if self.row_locks {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        }
    }

    /// ` FOR UPDATE OF table SKIP LOCKED`: in a join, locks only `table`'s rows.
    pub fn skip_locked_of(self, table: &str) -> String {
        if self.row_locks {
            format!(" FOR UPDATE OF {table} SKIP LOCKED")
        } else {
            String::new()
        }
    }

    /// ` FOR KEY SHARE` (holds off deletes, not other readers), or nothing.
    pub fn key_share(self) -> &'static str {
        if self.row_locks { " FOR KEY SHARE" } else { "" }
    }
}

const SQLITE_DIALECT: Dialect = Dialect {
    lock_events: None,
    anonymous_placeholders: true,
    row_locks: false,
    webhook_foreign_keys: true,
};
/// The advisory-lock key is arbitrary but fixed ("GHEVENTS" in ASCII, as an i64).
const POSTGRES_DIALECT: Dialect = Dialect {
    lock_events: Some("SELECT pg_advisory_xact_lock(5136714045838722899)"),
    anonymous_placeholders: false,
    row_locks: true,
    webhook_foreign_keys: false,
};

impl SqlStore {
    /// Connects (creating the SQLite file or the PostgreSQL schema if needed). Does not migrate.
    pub async fn connect(options: &ConnectOptions) -> StoreResult<Self> {
        install_default_drivers();
        let backend = if options.url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if options.url.starts_with("postgres://") || options.url.starts_with("postgresql://")
        {
            Backend::Postgres
        } else {
            return Err(StoreError::Other(
                "database URL must start with sqlite:, postgres:// or postgresql://".into(),
            ));
        };
        match backend {
            Backend::Sqlite => Self::connect_sqlite(options).await,
            Backend::Postgres => Self::connect_postgres(options).await,
        }
    }

    async fn connect_sqlite(options: &ConnectOptions) -> StoreResult<Self> {
        let url = if options.url.contains('?') {
            options.url.clone()
        } else {
            format!("{}?mode=rwc", options.url)
        };
        let writer = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout.max(Duration::from_secs(30)))
            .after_connect(sqlite_pragmas)
            .connect(&url)
            .await
            .map_err(interpret)?;
        let reader = AnyPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(options.acquire_timeout)
            .after_connect(sqlite_pragmas)
            .connect(&url)
            .await
            .map_err(interpret)?;
        Ok(Self::new(Backend::Sqlite, writer, reader, String::new()))
    }

    async fn connect_postgres(options: &ConnectOptions) -> StoreResult<Self> {
        let schema = options.schema.clone();
        if !valid_schema_name(&schema) {
            return Err(StoreError::Other(format!(
                "schema `{schema}` is not a valid name (lowercase letters, digits, underscores)"
            )));
        }
        // Create the schema first with a plain connection: the pool sets it as search_path.
        {
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(options.acquire_timeout)
                .connect(&options.url)
                .await
                .map_err(interpret)?;
            let exists: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1")
                    .bind(&schema)
                    .fetch_one(&pool)
                    .await
                    .map_err(interpret)?;
            if exists == 0 {
                pool.execute(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str())
                    .await
                    .map_err(interpret)?;
            }
            pool.close().await;
        }
        let search_path = format!("SET search_path TO \"{schema}\"");
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _| {
                let statement = search_path.clone();
                Box::pin(async move {
                    conn.execute(statement.as_str()).await?;
                    Ok(())
                })
            })
            .connect(&options.url)
            .await
            .map_err(interpret)?;
        Ok(Self::new(Backend::Postgres, pool.clone(), pool, schema))
    }

    fn new(backend: Backend, writer: AnyPool, reader: AnyPool, schema: String) -> Self {
        let dialect = match backend {
            Backend::Sqlite => SQLITE_DIALECT,
            Backend::Postgres => POSTGRES_DIALECT,
        };
        Self {
            inner: Arc::new(Inner {
                backend,
                dialect,
                writer,
                reader,
                schema,
            }),
        }
    }

    pub fn backend_kind(&self) -> Backend {
        self.inner.backend
    }

    fn migrator(&self) -> &'static Migrator {
        match self.inner.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies every migration not applied yet.
    pub async fn migrate(&self) -> StoreResult<MigrationReport> {
        let before = self.applied_versions().await?;
        self.migrator()
            .run(&self.inner.writer)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))?;
        let after = self.applied_versions().await?;
        Ok(MigrationReport {
            applied: after.into_iter().filter(|v| !before.contains(v)).collect(),
            total: self.migrator().iter().count(),
        })
    }

    async fn applied_versions(&self) -> StoreResult<Vec<i64>> {
        let table_exists: i64 = match self.inner.backend {
            Backend::Sqlite => sqlx::query_scalar(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_one(&self.inner.reader)
            .await
            .map_err(interpret)?,
            Backend::Postgres => sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = $1 AND table_name = '_sqlx_migrations'",
            )
            .bind(&self.inner.schema)
            .fetch_one(&self.inner.reader)
            .await
            .map_err(interpret)?,
        };
        if table_exists == 0 {
            return Ok(Vec::new());
        }
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&self.inner.reader)
            .await
            .map_err(interpret)
    }

    /// Drops the PostgreSQL schema and everything in it (tests only).
    pub async fn drop_schema(&self) -> StoreResult<()> {
        if self.inner.backend == Backend::Postgres {
            let statement = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.inner.schema);
            self.inner
                .writer
                .execute(statement.as_str())
                .await
                .map_err(interpret)?;
        }
        Ok(())
    }

    /// PostgreSQL schemas whose names start with `prefix` (test clean-up).
    pub async fn schemas_with_prefix(&self, prefix: &str) -> StoreResult<Vec<String>> {
        if self.inner.backend != Backend::Postgres {
            return Ok(Vec::new());
        }
        sqlx::query_scalar("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)")
            .bind(prefix)
            .fetch_all(self.reader())
            .await
            .map_err(interpret)
    }

    /// Drops another schema by name (test clean-up); refuses names that are not plain.
    pub async fn drop_schema_named(&self, name: &str) -> StoreResult<()> {
        if !valid_schema_name(name) {
            return Err(StoreError::Other(format!(
                "refusing to drop schema `{name}`"
            )));
        }
        let statement = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
        self.writer()
            .execute(statement.as_str())
            .await
            .map_err(interpret)?;
        Ok(())
    }

    pub async fn close(&self) {
        self.inner.writer.close().await;
        self.inner.reader.close().await;
    }

    pub(crate) fn writer(&self) -> &AnyPool {
        &self.inner.writer
    }

    /// Runs one statement that must touch exactly one row (else `NotFound`), with the change's
    /// audit entry and event, in one transaction.
    pub(crate) async fn write_one<'q>(
        &self,
        statement: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        change: &gatehouse_core::change::Change,
    ) -> StoreResult<()> {
        let mut tx = self.writer().begin().await.map_err(interpret)?;
        let result = statement.execute(&mut *tx).await.map_err(interpret)?;
        sql::expect_one(result)?;
        change::write(&mut tx, self.dialect(), change).await?;
        tx.commit().await.map_err(interpret)
    }

    pub(crate) fn reader(&self) -> &AnyPool {
        &self.inner.reader
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.inner.dialect
    }
}

fn sqlite_pragmas(
    conn: &mut sqlx::AnyConnection,
    _: sqlx::pool::PoolConnectionMetadata,
) -> futures_core::future::BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        conn.execute(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY;",
        )
        .await?;
        Ok(())
    })
}

pub fn valid_schema_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[async_trait]
impl Health for SqlStore {
    fn backend(&self) -> &'static str {
        match self.inner.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(self.reader())
            .await
            .map_err(interpret)?;
        Ok(())
    }

    async fn pending_migrations(&self) -> StoreResult<usize> {
        let applied = self.applied_versions().await?;
        Ok(self
            .migrator()
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count())
    }
}
