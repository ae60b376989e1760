use std::future::Future;

use gatehouse_core::{
    Timestamp,
    audit::AuditContext,
    change::Change,
    id::TenantId,
    principal::Principal,
    sync::SyncStatus,
    tenant::{Tenant, TenantStatus},
};
use gatehouse_store::{ConnectOptions, SqlStore};

pub struct Backend {
    pub name: &'static str,
    pub store: SqlStore,
}

pub fn postgres_url() -> String {
    std::env::var("GATEHOUSE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn strict() -> bool {
    std::env::var("STRICT").is_ok_and(|v| v == "1")
}

/// The temp dir is returned separately: test closures capture only the fields they use, so a
/// dir kept inside `Backend` would be deleted while the test still runs.
async fn sqlite() -> (Backend, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
    let store = SqlStore::connect(&ConnectOptions::new(url))
        .await
        .expect("sqlite connects");
    store.migrate().await.expect("sqlite migrates");
    (
        Backend {
            name: "sqlite",
            store,
        },
        dir,
    )
}

async fn postgres() -> Option<Backend> {
    let mut options = ConnectOptions::new(postgres_url());
    options.schema = format!("gh_test_{}", ulid::Ulid::new().to_string().to_lowercase());
    options.max_connections = 4;
    options.acquire_timeout = std::time::Duration::from_secs(5);
    match SqlStore::connect(&options).await {
        Ok(store) => {
            store.migrate().await.expect("postgres migrates");
            Some(Backend {
                name: "postgres",
                store,
            })
        }
        Err(err) if strict() => panic!("STRICT=1 and PostgreSQL is unreachable: {err}"),
        Err(err) => {
            eprintln!("skipped: PostgreSQL backend ({err}); set STRICT=1 to make this fatal");
            None
        }
    }
}

/// Runs `test` against every backend, each with a fresh database.
pub async fn for_each_backend<F, Fut>(test: F)
where
    F: Fn(Backend) -> Fut,
    Fut: Future<Output = ()>,
{
    let (backend, _dir) = sqlite().await;
    test(backend).await;
    if let Some(pg) = postgres().await {
        let store = pg.store.clone();
        test(pg).await;
        store.drop_schema().await.expect("drop test schema");
    }
}

pub fn system() -> Principal {
    Principal::System {
        component: "conformance",
    }
}

pub fn change(action: &str, tenant: Option<&TenantId>) -> Change {
    Change::new(
        action,
        &system(),
        &AuditContext::default(),
        tenant,
        Timestamp::now(),
    )
}

pub fn tenant(slug: &str) -> Tenant {
    let now = Timestamp::now();
    Tenant {
        id: TenantId::generate(),
        name: format!("Tenant {slug}"),
        slug: slug.into(),
        domains: vec![format!("{slug}.example")],
        status: TenantStatus::Active,
        created_at: now,
        updated_at: now,
        sync: SyncStatus::pending(),
    }
}
