//! The reconciler against a real store (SQLite) and a ZITADEL: the embedded emulator or a live
//! instance (`GATEHOUSE_TEST_ZITADEL_URL`, see `backend.rs`), and the lagging fake.

use std::{sync::Arc, time::Duration};

use gatehouse_core::{
    Timestamp,
    app::{AppType, CreateApp, UpdateApp},
    audit::AuditContext,
    clock::{Clock, ManualClock, SystemClock},
    id::{AppId, TenantId},
    principal::Principal,
    secret::{Keyring, MasterKey},
    services::{Caller, apps, tenants},
    store::{AppStore, Store, TenantStore},
    sync::{ObjectKind, SyncFailure, SyncState, SyncStore},
    tenant::{CreateTenant, TenantStatus, UpdateTenant},
};
use gatehouse_store::{ConnectOptions, SqlStore};
use gatehouse_zitadel::{
    Reconciler, ReconcilerConfig, ZitadelClient,
    client::{
        AddOrganizationRequest, ClientConfig, Credentials, ListOrganizationsRequest, ListQuery,
        OrganizationQuery, OrganizationState, ProjectSettings, TextQueryMethod,
    },
    reconciler::ActionsConfig,
};
use serde_json::{Value, json};

use crate::{
    backend::{self, Kind, unique},
    fake::{self, FakeZitadel},
};

const INLINE: Duration = Duration::from_secs(20);

struct Harness {
    store: SqlStore,
    keyring: Arc<Keyring>,
    reconciler: Reconciler,
    _dir: tempfile::TempDir,
}

async fn harness(
    client: ZitadelClient,
    config: ReconcilerConfig,
    clock: Arc<dyn Clock>,
) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
    let store = SqlStore::connect(&ConnectOptions::new(url)).await.unwrap();
    store.migrate().await.unwrap();
    let keyring = Arc::new(Keyring::new(MasterKey::generate(), vec![]));
    let reconciler = Reconciler::new(
        client,
        Arc::new(store.clone()) as Arc<dyn Store>,
        keyring.clone(),
        clock,
        config,
    );
    Harness {
        store,
        keyring,
        reconciler,
        _dir: dir,
    }
}

const SYSTEM: Principal = Principal::System { component: "test" };

fn caller(context: &AuditContext) -> Caller<'_> {
    Caller {
        principal: &SYSTEM,
        context,
        now: Timestamp::now(),
    }
}

impl Harness {
    async fn tenant(&self, name: &str, slug: &str) -> TenantId {
        let context = AuditContext::default();
        let input = CreateTenant {
            name: name.into(),
            slug: slug.into(),
            domains: vec![],
        };
        tenants::create(&self.store, caller(&context), input)
            .await
            .unwrap()
            .id
    }

    async fn app(&self, tenant: &TenantId, name: &str, app_type: AppType, redirect: &str) -> AppId {
        let context = AuditContext::default();
        let input = CreateApp {
            name: name.into(),
            app_type,
            redirect_uris: vec![redirect.into()],
            post_logout_redirect_uris: vec![],
            dev_mode: false,
        };
        apps::create(&self.store, caller(&context), tenant, input)
            .await
            .unwrap()
            .id
    }

    async fn sync(&self, kind: ObjectKind, id: &str) -> Result<(), String> {
        self.reconciler.reconcile_now(kind, id, INLINE).await
    }

    async fn ids(&self, kind: ObjectKind, id: &str) -> serde_json::Map<String, Value> {
        self.store
            .get_sync(kind, id)
            .await
            .unwrap()
            .expect("a sync record")
            .status
            .zitadel_ids
    }

    async fn state(&self, kind: ObjectKind, id: &str) -> Option<(SyncState, Option<String>)> {
        self.store
            .get_sync(kind, id)
            .await
            .unwrap()
            .map(|r| (r.status.state, r.status.message))
    }

    async fn take_secret(&self, tenant: &TenantId, app: &AppId) -> Option<String> {
        let context = AuditContext::default();
        apps::take_secret(&self.store, &self.keyring, caller(&context), tenant, app)
            .await
            .unwrap()
    }

    /// Passes until nothing is due.
    async fn drain(&self) {
        for _ in 0..20 {
            let report = self.reconciler.run_once().await.unwrap();
            if report.claimed == 0 {
                return;
            }
        }
        panic!("the reconciler kept finding due objects");
    }
}

fn text(ids: &serde_json::Map<String, Value>, key: &str) -> String {
    ids.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no `{key}` in {ids:?}"))
        .to_owned()
}

async fn orgs_named(client: &ZitadelClient, name: &str) -> usize {
    client
        .list_orgs(&ListOrganizationsRequest {
            query: Some(ListQuery::limit(100)),
            queries: vec![OrganizationQuery::NameQuery {
                name: name.into(),
                method: TextQueryMethod::Equals,
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .result
        .len()
}

/// The sync scenario on the emulator, or on a live ZITADEL when one is configured.
#[tokio::test]
async fn tenant_and_app_lifecycle_on_emulator_or_live() {
    let backend = backend::start().await;
    let client = backend.client.clone();
    let live = backend.kind == Kind::Live;
    let mut config = ReconcilerConfig::default();
    if !live {
        // A live ZITADEL refuses loopback targets (Errors.Target.DeniedURL).
        config.actions = Some(ActionsConfig::new("http://127.0.0.1:9/hooks/zitadel"));
        config.consistency_grace = Duration::ZERO;
    }
    let h = harness(client.clone(), config, Arc::new(SystemClock)).await;
    let name = unique("tenant");
    let slug = name.trim_start_matches("gatehouse-it-").to_owned();
    let tid = h.tenant(&name, &slug).await;
    h.sync(ObjectKind::Tenant, tid.as_str()).await.unwrap();
    let ids = h.ids(ObjectKind::Tenant, tid.as_str()).await;
    let org_id = text(&ids, "org_id");
    let org = client.await_org(&org_id, |o| o.name == name).await.unwrap();
    assert_eq!(org.state, OrganizationState::Active);
    assert!(
        !client
            .await_login_policy(&org_id, |p| !p.is_default)
            .await
            .unwrap()
            .is_default
    );
    // Applying the same desired state again changes nothing and still succeeds.
    h.store
        .request_sync(
            &gatehouse_core::sync::SyncRef::upsert(ObjectKind::Tenant, &tid, Some(&tid)),
            Timestamp::now(),
        )
        .await
        .unwrap();
    h.sync(ObjectKind::Tenant, tid.as_str()).await.unwrap();
    assert_eq!(
        text(&h.ids(ObjectKind::Tenant, tid.as_str()).await, "org_id"),
        org_id
    );
    assert_eq!(orgs_named(&client, &name).await, 1);

    // A web app: project + OIDC app, credentials stored, the secret sealed and unrevealed.
    let aid = h
        .app(&tid, "Portal", AppType::Web, "https://portal.example/cb")
        .await;
    h.sync(ObjectKind::App, aid.as_str()).await.unwrap();
    let ids = h.ids(ObjectKind::App, aid.as_str()).await;
    let (project, zapp) = (text(&ids, "project_id"), text(&ids, "app_id"));
    assert_eq!(ids["secret_version"], json!(1));
    let stored = h.store.get_app(&tid, &aid).await.unwrap().unwrap();
    assert_eq!(
        stored.client_id.as_deref(),
        Some(text(&ids, "client_id").as_str())
    );
    let first = h
        .take_secret(&tid, &aid)
        .await
        .expect("an unrevealed secret");
    assert!(h.take_secret(&tid, &aid).await.is_none(), "shown once");

    // Rotation regenerates; the new secret is unrevealed again.
    let context = AuditContext::default();
    apps::rotate_secret(&h.store, caller(&context), &tid, &aid)
        .await
        .unwrap();
    h.sync(ObjectKind::App, aid.as_str()).await.unwrap();
    assert_eq!(
        h.ids(ObjectKind::App, aid.as_str()).await["secret_version"],
        json!(2)
    );
    let second = h.take_secret(&tid, &aid).await.expect("the rotated secret");
    assert_ne!(first, second);

    // Redirect URIs follow Gatehouse.
    let update = UpdateApp {
        redirect_uris: Some(vec![
            "https://portal.example/cb2".into(),
            "http://localhost:8080/cb".into(),
        ]),
        ..Default::default()
    };
    apps::update(&h.store, caller(&context), &tid, &aid, update)
        .await
        .unwrap();
    h.sync(ObjectKind::App, aid.as_str()).await.unwrap();
    let zapp_now = client
        .await_app(&org_id, &project, &zapp, |a| {
            a.oidc_config
                .as_ref()
                .is_some_and(|c| c.redirect_uris.len() == 2)
        })
        .await
        .unwrap();
    let config = zapp_now.oidc_config.unwrap();
    assert_eq!(
        config.redirect_uris,
        ["https://portal.example/cb2", "http://localhost:8080/cb"]
    );
    assert!(
        config.dev_mode,
        "http redirect URIs need devMode in ZITADEL"
    );

    // Suspension deactivates the organization where ZITADEL can.
    let suspend = UpdateTenant {
        status: Some(TenantStatus::Suspended),
        ..Default::default()
    };
    tenants::update(&h.store, caller(&context), &tid, suspend)
        .await
        .unwrap();
    h.sync(ObjectKind::Tenant, tid.as_str()).await.unwrap();
    let ids = h.ids(ObjectKind::Tenant, tid.as_str()).await;
    if ids.get("org_state_unsupported") == Some(&json!(true)) {
        assert_eq!(
            backend.kind,
            Kind::Emulator,
            "only the emulator lacks (de)activation"
        );
        assert_eq!(ids["org_active"], json!(true));
    } else {
        assert_eq!(ids["org_active"], json!(false));
        client
            .await_org(&org_id, |o| o.state == OrganizationState::Inactive)
            .await
            .unwrap();
    }

    if let Some(_emulator) = backend.emulator() {
        // The Actions target: created, its key stored sealed, executions for both groups.
        h.reconciler.request_actions_target().await.unwrap();
        h.drain().await;
        let ids = h.ids(ObjectKind::ActionsTarget, "hooks_zitadel").await;
        let target_id = text(&ids, "target_id");
        let keys = h
            .store
            .actions_signing_keys(Timestamp::now())
            .await
            .unwrap();
        assert_eq!(keys.len(), 1);
        let target = client.get_target(&target_id).await.unwrap().unwrap();
        let key = target.signing_key.unwrap();
        assert_eq!(
            keys[0].fingerprint,
            gatehouse_zitadel::reconciler::signing_key_fingerprint(key.expose())
        );
        let opened = h
            .keyring
            .open_string(
                &keys[0].sealed,
                &gatehouse_core::sync::signing_key_aad(&keys[0].fingerprint),
            )
            .unwrap();
        assert_eq!(opened, key.expose());
        let executions = client
            .list_executions(&Default::default())
            .await
            .unwrap()
            .executions;
        for group in ["user", "session"] {
            let execution = executions
                .iter()
                .find(|e| e.condition == gatehouse_zitadel::client::Condition::event_group(group))
                .unwrap_or_else(|| panic!("an execution for `{group}`"));
            assert_eq!(execution.targets, std::slice::from_ref(&target_id));
        }
        // Rotated in ZITADEL by hand: the next check learns the new key, the old one stays
        // valid for the grace period.
        let rotated = client.rotate_target_signing_key(&target_id).await.unwrap();
        h.reconciler.schedule_now(true, None).await.unwrap();
        h.drain().await;
        let keys = h
            .store
            .actions_signing_keys(Timestamp::now())
            .await
            .unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(
            keys[0].fingerprint,
            gatehouse_zitadel::reconciler::signing_key_fingerprint(rotated.expose())
        );
        assert!(keys[1].expires_at.is_some());
    }

    // Deletes remove ZITADEL's copies, then the records.
    apps::delete(&h.store, caller(&context), &tid, &aid)
        .await
        .unwrap();
    h.drain().await;
    assert!(h.state(ObjectKind::App, aid.as_str()).await.is_none());
    client
        .eventually("the project's deletion", || async {
            Ok(client
                .get_project(&org_id, &project)
                .await?
                .is_none()
                .then_some(()))
        })
        .await
        .unwrap();
    tenants::delete(&h.store, caller(&context), &tid)
        .await
        .unwrap();
    h.drain().await;
    assert!(h.state(ObjectKind::Tenant, tid.as_str()).await.is_none());
    client.await_org_gone(&org_id).await.unwrap();
}

#[tokio::test]
async fn earlier_creates_are_adopted_and_foreign_names_avoided() {
    let (backend, _) = backend::emulator().await;
    let client = backend.client.clone();
    let config = ReconcilerConfig {
        consistency_grace: Duration::ZERO,
        ..ReconcilerConfig::default()
    };
    let h = harness(client.clone(), config, Arc::new(SystemClock)).await;

    // An earlier attempt created the organization but its answer was lost: same id, adopted.
    let tid = h.tenant("Lost Answer", "lost-answer").await;
    client
        .create_org(&AddOrganizationRequest {
            name: "Lost Answer".into(),
            organization_id: Some(tid.to_string()),
            ..Default::default()
        })
        .await
        .unwrap();
    h.sync(ObjectKind::Tenant, tid.as_str()).await.unwrap();
    assert_eq!(
        text(&h.ids(ObjectKind::Tenant, tid.as_str()).await, "org_id"),
        tid.as_str()
    );
    assert_eq!(orgs_named(&client, "Lost Answer").await, 1);

    // Another organization has the tenant's name: the slug disambiguates.
    client
        .create_org(&AddOrganizationRequest {
            name: "Taken".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let t2 = h.tenant("Taken", "taken-eu").await;
    h.sync(ObjectKind::Tenant, t2.as_str()).await.unwrap();
    let ids = h.ids(ObjectKind::Tenant, t2.as_str()).await;
    assert_eq!(text(&ids, "org_name"), "Taken (taken-eu)");
    let org = client
        .get_org(&text(&ids, "org_id"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(org.name, "Taken (taken-eu)");
    // A later check keeps the fallback name instead of fighting over the taken one.
    h.reconciler.schedule_now(true, None).await.unwrap();
    h.drain().await;
    assert_eq!(
        client.get_org(&org.id).await.unwrap().unwrap().name,
        "Taken (taken-eu)"
    );

    // A foreign project with the app's name: the app's project gets the app id appended.
    let org_id = tid.to_string();
    client
        .create_project(
            &org_id,
            &ProjectSettings {
                name: "Shop".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let shop = h
        .app(&tid, "Shop", AppType::Spa, "https://shop.example/cb")
        .await;
    h.sync(ObjectKind::App, shop.as_str()).await.unwrap();
    let ids = h.ids(ObjectKind::App, shop.as_str()).await;
    assert_eq!(text(&ids, "project_name"), format!("Shop ({shop})"));

    // A project create whose answer was lost (recorded as pending): adopted, not duplicated.
    let crm = h
        .app(&tid, "Crm", AppType::Web, "https://crm.example/cb")
        .await;
    let existing = client
        .create_project(
            &org_id,
            &ProjectSettings {
                name: "Crm".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let now = Timestamp::now();
    let claimed = h
        .store
        .claim_sync(
            ObjectKind::App,
            crm.as_str(),
            "crashed-worker",
            now,
            now.plus(Duration::from_secs(60)),
        )
        .await
        .unwrap()
        .unwrap();
    let failure = SyncFailure {
        message: "creating the project: ZITADEL is unreachable".into(),
        zitadel_ids: json!({"org_id": org_id, "project_pending": "Crm"})
            .as_object()
            .cloned()
            .unwrap(),
        org_id: Some(org_id.clone()),
        at: now,
        next_attempt_at: now,
    };
    assert!(h.store.fail_sync(&claimed, &failure).await.unwrap());
    h.sync(ObjectKind::App, crm.as_str()).await.unwrap();
    let ids = h.ids(ObjectKind::App, crm.as_str()).await;
    assert_eq!(text(&ids, "project_id"), existing.id);
    assert_eq!(text(&ids, "project_name"), "Crm");
    assert!(!ids.contains_key("project_pending"));
    assert!(h.take_secret(&tid, &crm).await.is_some());
}

/// ZITADEL's reads lag its writes: an object Gatehouse just wrote that reads as missing is
/// retried, not recreated. The fake shows writes only after 2 s (and ignores custom
/// organization ids, like ZITADEL versions before v4).
#[tokio::test]
async fn lagging_reads_are_not_mistaken_for_deletions() {
    let fake = FakeZitadel::start(Duration::from_secs(2)).await;
    let client = ZitadelClient::new(
        reqwest::Client::new(),
        ClientConfig::new(fake.url.clone(), Credentials::pat(fake::PAT).unwrap()),
    )
    .unwrap();
    let h = harness(
        client.clone(),
        ReconcilerConfig::default(),
        Arc::new(SystemClock),
    )
    .await;
    let tid = h.tenant("Laggy", "laggy").await;
    h.sync(ObjectKind::Tenant, tid.as_str()).await.unwrap();
    let org_id = text(&h.ids(ObjectKind::Tenant, tid.as_str()).await, "org_id");
    let aid = h
        .app(&tid, "Portal", AppType::Spa, "https://portal.example/cb")
        .await;
    h.sync(ObjectKind::App, aid.as_str()).await.unwrap();
    let first = h.ids(ObjectKind::App, aid.as_str()).await;

    // Changed at once, while ZITADEL does not show the new objects yet.
    let context = AuditContext::default();
    let rename = UpdateTenant {
        name: Some("Laggy Inc".into()),
        ..Default::default()
    };
    tenants::update(&h.store, caller(&context), &tid, rename)
        .await
        .unwrap();
    let update = UpdateApp {
        redirect_uris: Some(vec!["https://portal.example/cb2".into()]),
        ..Default::default()
    };
    apps::update(&h.store, caller(&context), &tid, &aid, update)
        .await
        .unwrap();
    for (kind, id) in [
        (ObjectKind::Tenant, tid.as_str()),
        (ObjectKind::App, aid.as_str()),
    ] {
        let err = h.sync(kind, id).await.unwrap_err();
        assert!(err.contains("did not show the change in time"), "{err}");
        let (state, message) = h.state(kind, id).await.unwrap();
        assert_eq!(state, SyncState::Failed);
        assert!(message.unwrap().contains("read models lag"));
    }

    // Once the writes are visible, the same objects are updated in place.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    h.sync(ObjectKind::Tenant, tid.as_str()).await.unwrap();
    h.sync(ObjectKind::App, aid.as_str()).await.unwrap();
    assert_eq!(
        text(&h.ids(ObjectKind::Tenant, tid.as_str()).await, "org_id"),
        org_id
    );
    let now = h.ids(ObjectKind::App, aid.as_str()).await;
    for key in ["project_id", "app_id", "client_id"] {
        assert_eq!(now[key], first[key], "{key} was not recreated");
    }
    client
        .eventually("the rename", || async {
            Ok((orgs_named(&client, "Laggy Inc").await == 1).then_some(()))
        })
        .await
        .unwrap();
    assert_eq!(
        orgs_named(&client, "Laggy").await,
        0,
        "renamed, not duplicated"
    );
    let app = client
        .eventually("the redirect update", || async {
            Ok(client
                .get_app(&org_id, &text(&now, "project_id"), &text(&now, "app_id"))
                .await?
                .filter(|a| {
                    a.oidc_config
                        .as_ref()
                        .is_some_and(|c| c.redirect_uris == ["https://portal.example/cb2"])
                }))
        })
        .await
        .unwrap();
    assert_eq!(app.name, "Portal");
}

#[tokio::test]
async fn a_crashed_workers_claim_is_taken_over_after_its_lease() {
    let (backend, _) = backend::emulator().await;
    let clock = ManualClock::new(Timestamp::now());
    let config = ReconcilerConfig {
        consistency_grace: Duration::ZERO,
        ..ReconcilerConfig::default()
    };
    let lease = config.lease;
    let h = harness(backend.client.clone(), config, Arc::new(clock.clone())).await;
    let tid = h.tenant("Orphaned", "orphaned").await;
    let now = clock.now();
    h.store
        .claim_sync(
            ObjectKind::Tenant,
            tid.as_str(),
            "crashed-worker",
            now,
            now.plus(lease),
        )
        .await
        .unwrap()
        .unwrap();

    let err = h
        .reconciler
        .reconcile_now(ObjectKind::Tenant, tid.as_str(), Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(err.contains("another worker"), "{err}");
    assert!(
        h.reconciler.run_once().await.unwrap().claimed == 0,
        "the loop leaves it alone too"
    );

    clock.advance(lease + Duration::from_secs(1));
    h.sync(ObjectKind::Tenant, tid.as_str()).await.unwrap();
    let record = h
        .store
        .get_sync(ObjectKind::Tenant, tid.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status.state, SyncState::Synced);
    assert_eq!(record.claimed_by, None);
    assert!(h.store.get_tenant(&tid).await.unwrap().is_some());
}

#[tokio::test]
async fn an_unreachable_zitadel_opens_the_breaker_and_sync_resumes_when_it_answers() {
    // A port nothing listens on (yet).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(gatehouse_zitadel_emulator::MemoryStateStore::new());
    let config = |url: &str| {
        gatehouse_zitadel_emulator::EmulatorConfig::new(
            url.parse().unwrap(),
            dir.path().to_path_buf(),
            state.clone(),
            reqwest::Client::new(),
        )
    };
    let base = format!("http://{addr}");
    // The emulator writes its PAT at start; start it once to get one, without serving.
    let emulator = gatehouse_zitadel_emulator::Emulator::start(config(&base))
        .await
        .unwrap();
    let client = ZitadelClient::new(
        reqwest::Client::new(),
        ClientConfig::new(
            base.parse().unwrap(),
            Credentials::pat(emulator.admin_pat()).unwrap(),
        ),
    )
    .unwrap();
    let h = harness(
        client,
        ReconcilerConfig {
            consistency_grace: Duration::ZERO,
            ..ReconcilerConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await;

    let t1 = h.tenant("Down One", "down-one").await;
    let started = std::time::Instant::now();
    let err = h.sync(ObjectKind::Tenant, t1.as_str()).await.unwrap_err();
    assert!(err.contains("ZITADEL is unreachable"), "{err}");
    assert!(!h.reconciler.zitadel_reachable());
    let first = started.elapsed();

    // The breaker is open: the next inline sync does not wait for the client's retries.
    let t2 = h.tenant("Down Two", "down-two").await;
    let started = std::time::Instant::now();
    let err = h.sync(ObjectKind::Tenant, t2.as_str()).await.unwrap_err();
    let second = started.elapsed();
    assert!(err.contains("ZITADEL is unreachable"), "{err}");
    assert!(
        second < Duration::from_millis(300) && second < first,
        "fast failure took {second:?} (first: {first:?})"
    );
    for t in [&t1, &t2] {
        let (state, message) = h.state(ObjectKind::Tenant, t.as_str()).await.unwrap();
        assert_eq!(state, SyncState::Failed);
        assert!(message.unwrap().contains("ZITADEL is unreachable"));
    }

    // ZITADEL answers again: the next probe closes the breaker and everything syncs.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let emulator = gatehouse_zitadel_emulator::Emulator::start(config(&base))
        .await
        .unwrap();
    let router = emulator.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        h.reconciler.run_once().await.unwrap();
        let mut synced = true;
        for t in [&t1, &t2] {
            let state = h
                .state(ObjectKind::Tenant, t.as_str())
                .await
                .map(|(s, _)| s);
            synced &= state == Some(SyncState::Synced);
        }
        if synced {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "sync did not resume");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(h.reconciler.zitadel_reachable());
}
