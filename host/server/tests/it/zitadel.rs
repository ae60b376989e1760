//! ZITADEL sync end to end: the reconciler against the embedded emulator (the default) and a
//! standalone one (`GATEHOUSE_ZITADEL_URL`), outages, drift repair, replicas, and the Actions
//! receiver.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use gatehouse_core::Timestamp;
use gatehouse_testkit::{Backend, TestOptions, TestServer, spawn_with, start_on};
use gatehouse_zitadel::{
    ClientConfig, Credentials, Secret, ZitadelClient, actions_signature,
    client::{
        AddHumanUserRequest, ListOrganizationsRequest, ListQuery, OrganizationRef, Password,
        SetHumanEmail, SetHumanProfile,
    },
};
use gatehouse_zitadel_emulator::{Emulator, EmulatorConfig, MemoryStateStore};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::on_each_backend;

/// Polls `check` until it returns `Some`, or fails the test after `timeout`.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn zitadel_client(base: &str, pat: &str) -> ZitadelClient {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    ZitadelClient::new(
        http,
        ClientConfig::new(base.parse().unwrap(), Credentials::pat(pat).unwrap()),
    )
    .unwrap()
}

/// A client of the server's embedded emulator, with the admin PAT it wrote to the data dir.
fn embedded_client(server: &TestServer) -> ZitadelClient {
    let pat = std::fs::read_to_string(server.data_dir.path().join("zitadel-admin.pat"))
        .expect("the embedded emulator wrote its admin PAT");
    zitadel_client(&format!("{}/zitadel", server.url), pat.trim())
}

async fn sync_row(server: &TestServer, id: &str) -> Option<Value> {
    let page: Value = server
        .client
        .get("/v1/sync?limit=100")
        .await
        .expect(200)
        .json();
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["id"] == id)
        .cloned()
}

async fn wait_synced(server: &TestServer, id: &str, timeout: Duration) -> Value {
    eventually(&format!("{id} to be synced"), timeout, || async {
        sync_row(server, id)
            .await
            .filter(|row| row["state"] == "synced")
    })
    .await
}

/// `true` if ZITADEL (the emulator) accepts the client credentials (RFC 7662 introspection
/// authenticates the client; the token itself does not matter).
async fn client_credentials_work(issuer: &str, client_id: &str, secret: &str) -> bool {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{issuer}/oauth/v2/introspect"))
        .basic_auth(client_id, Some(secret))
        .form(&[("token", "not-a-token")])
        .send()
        .await
        .unwrap();
    match response.status().as_u16() {
        200 => {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["active"], false);
            true
        }
        401 => false,
        other => panic!("unexpected introspection status {other}"),
    }
}

#[tokio::test]
async fn tenants_and_apps_sync_with_the_embedded_emulator() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let issuer = format!("{}/zitadel", server.url);
        let zitadel = embedded_client(&server);

        let tenant = c.create_tenant("Acme", "acme").await;
        let tid = tenant["id"].as_str().unwrap().to_owned();
        assert_eq!(tenant["sync"]["state"], "synced", "{tenant}");
        let org_id = tenant["sync"]["zitadel_ids"]["org_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(org_id, tid, "organizations get the tenant's id");
        assert_eq!(tenant["sync"]["zitadel_ids"]["login_policy"], "custom");
        let org = zitadel
            .get_org(&org_id)
            .await
            .unwrap()
            .expect("org exists in ZITADEL");
        assert_eq!(org.name, "Acme");
        assert!(!zitadel.get_login_policy(&org_id).await.unwrap().is_default);

        // A web app: ids from ZITADEL, client id and secret, the secret once.
        let app = c
            .create_app(
                &tid,
                json!({
                    "name": "Portal",
                    "type": "web",
                    "redirect_uris": ["https://portal.acme.example/callback"],
                    "post_logout_redirect_uris": ["https://portal.acme.example/"]
                }),
            )
            .await;
        let aid = app["id"].as_str().unwrap().to_owned();
        assert_eq!(app["sync"]["state"], "synced", "{app}");
        let ids = &app["sync"]["zitadel_ids"];
        let (project_id, app_id) = (
            ids["project_id"].as_str().unwrap(),
            ids["app_id"].as_str().unwrap(),
        );
        let client_id = app["client_id"].as_str().unwrap().to_owned();
        assert_eq!(ids["client_id"], client_id.as_str());
        assert_eq!(ids["org_id"], org_id.as_str());
        let secret = app["client_secret"]
            .as_str()
            .expect("the secret, once")
            .to_owned();
        assert!(app["has_client_secret"].as_bool().unwrap());
        let got: Value = c
            .get(&format!("/v1/tenants/{tid}/apps/{aid}"))
            .await
            .expect(200)
            .json();
        assert!(got.get("client_secret").is_none());
        let again = c
            .post(
                &format!("/v1/tenants/{tid}/apps/{aid}/client-secret"),
                json!({}),
            )
            .await
            .expect(409);
        assert_eq!(again.error_code(), "secret_already_shown");

        let zapp = zitadel
            .get_app(&org_id, project_id, app_id)
            .await
            .unwrap()
            .unwrap();
        let config = zapp.oidc_config.unwrap();
        assert_eq!(config.client_id, client_id);
        assert_eq!(
            config.redirect_uris,
            ["https://portal.acme.example/callback"]
        );
        assert_eq!(config.app_type.to_string(), "OIDC_APP_TYPE_WEB");
        assert_eq!(
            config.auth_method_type.to_string(),
            "OIDC_AUTH_METHOD_TYPE_BASIC"
        );
        assert_eq!(
            config.access_token_type.unwrap().to_string(),
            "OIDC_TOKEN_TYPE_JWT"
        );
        assert!(!config.dev_mode);

        // The secret works at ZITADEL; a wrong one does not.
        assert!(client_credentials_work(&issuer, &client_id, &secret).await);
        assert!(!client_credentials_work(&issuer, &client_id, "wrong-secret").await);

        // Rotation: a new secret that works, the old one stops working.
        let rotated: Value = c
            .post(
                &format!("/v1/tenants/{tid}/apps/{aid}/rotate-secret"),
                json!({}),
            )
            .await
            .expect(200)
            .json();
        let new_secret = rotated["client_secret"]
            .as_str()
            .expect("the new secret, once")
            .to_owned();
        assert_ne!(new_secret, secret);
        assert_eq!(rotated["sync"]["zitadel_ids"]["secret_version"], 2);
        assert!(client_credentials_work(&issuer, &client_id, &new_secret).await);
        assert!(!client_credentials_work(&issuer, &client_id, &secret).await);

        // A SPA with a loopback redirect: public client, devMode for the http URI.
        let spa = c
            .create_app(
                &tid,
                json!({
                    "name": "Spa",
                    "type": "spa",
                    "redirect_uris": ["http://localhost:3000/cb"]
                }),
            )
            .await;
        assert_eq!(spa["sync"]["state"], "synced", "{spa}");
        assert!(spa.get("client_secret").is_none());
        assert!(spa["client_id"].is_string());
        let ids = &spa["sync"]["zitadel_ids"];
        let spa_config = zitadel
            .get_app(
                &org_id,
                ids["project_id"].as_str().unwrap(),
                ids["app_id"].as_str().unwrap(),
            )
            .await
            .unwrap()
            .unwrap()
            .oidc_config
            .unwrap();
        assert_eq!(spa_config.app_type.to_string(), "OIDC_APP_TYPE_USER_AGENT");
        assert_eq!(
            spa_config.auth_method_type.to_string(),
            "OIDC_AUTH_METHOD_TYPE_NONE"
        );
        assert!(spa_config.dev_mode);

        // Updates reach ZITADEL: redirect URIs and names.
        let patched: Value = c
            .patch(
                &format!("/v1/tenants/{tid}/apps/{aid}"),
                json!({
                    "name": "Portal 2",
                    "redirect_uris": ["https://p2.acme.example/cb"]
                }),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(patched["sync"]["state"], "synced", "{patched}");
        let zapp = zitadel
            .get_app(&org_id, project_id, app_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(zapp.name, "Portal 2");
        assert_eq!(
            zapp.oidc_config.unwrap().redirect_uris,
            ["https://p2.acme.example/cb"]
        );
        assert_eq!(
            zitadel
                .get_project(&org_id, project_id)
                .await
                .unwrap()
                .unwrap()
                .name,
            "Portal 2"
        );
        c.patch(&format!("/v1/tenants/{tid}"), json!({"name": "Acme Inc"}))
            .await
            .expect(200);
        let renamed = eventually("the org rename", Duration::from_secs(10), || async {
            zitadel
                .get_org(&org_id)
                .await
                .unwrap()
                .filter(|o| o.name == "Acme Inc")
        })
        .await;
        assert_eq!(renamed.id, org_id);

        // The sync list, its filters, and the Actions target registered at start.
        let apps: Value = c
            .get(&format!("/v1/sync?kind=app&tenant_id={tid}"))
            .await
            .expect(200)
            .json();
        assert_eq!(apps["data"].as_array().unwrap().len(), 2, "{apps}");
        let target = wait_synced(&server, "hooks_zitadel", Duration::from_secs(20)).await;
        assert_eq!(target["kind"], "actions_target");
        assert!(target["zitadel_ids"]["target_id"].is_string(), "{target}");
        c.get("/v1/sync?state=bogus").await.expect(422);

        // Deletes remove ZITADEL's copies.
        c.delete(&format!("/v1/tenants/{tid}/apps/{aid}"))
            .await
            .expect(204);
        eventually(
            "the project to be deleted",
            Duration::from_secs(10),
            || async {
                zitadel
                    .get_project(&org_id, project_id)
                    .await
                    .unwrap()
                    .is_none()
                    .then_some(())
            },
        )
        .await;
        eventually(
            "the app's sync row to go",
            Duration::from_secs(10),
            || async { sync_row(&server, &aid).await.is_none().then_some(()) },
        )
        .await;
        c.delete(&format!("/v1/tenants/{tid}")).await.expect(204);
        eventually(
            "the organization to be deleted",
            Duration::from_secs(10),
            || async {
                zitadel
                    .get_org(&org_id)
                    .await
                    .unwrap()
                    .is_none()
                    .then_some(())
            },
        )
        .await;
        server
    })
    .await;
}

#[tokio::test]
async fn drift_in_zitadel_is_repaired() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let zitadel = embedded_client(&server);
        let tenant = c.create_tenant("Drifty", "drifty").await;
        let tid = tenant["id"].as_str().unwrap().to_owned();
        let org_id = tenant["sync"]["zitadel_ids"]["org_id"].as_str().unwrap().to_owned();
        let app = c
            .create_app(&tid, json!({"name": "Shop", "type": "web", "redirect_uris": ["https://shop.example/cb"]}))
            .await;
        let aid = app["id"].as_str().unwrap().to_owned();
        let ids = app["sync"]["zitadel_ids"].clone();
        let (project_id, old_app_id) = (ids["project_id"].as_str().unwrap(), ids["app_id"].as_str().unwrap());
        let old_client_id = app["client_id"].as_str().unwrap().to_owned();

        // Someone edits ZITADEL by hand.
        assert!(zitadel.delete_app(&org_id, project_id, old_app_id).await.unwrap());
        zitadel.rename_org(&org_id, "Hijacked").await.unwrap();

        let run: Value = c.post("/v1/sync/run?verify=true", json!({})).await.expect(202).json();
        assert!(run["scheduled"].as_u64().unwrap() >= 2, "{run}");

        let repaired = eventually("the app to be recreated", Duration::from_secs(20), || async {
            let row = sync_row(&server, &aid).await?;
            (row["state"] == "synced" && row["zitadel_ids"]["app_id"] != old_app_id).then_some(row)
        })
        .await;
        let new_app_id = repaired["zitadel_ids"]["app_id"].as_str().unwrap();
        let zapp = zitadel.get_app(&org_id, project_id, new_app_id).await.unwrap().expect("recreated");
        let new_client_id = zapp.oidc_config.unwrap().client_id;
        assert_ne!(new_client_id, old_client_id);
        let got: Value = c.get(&format!("/v1/tenants/{tid}/apps/{aid}")).await.expect(200).json();
        assert_eq!(got["client_id"], new_client_id.as_str(), "Gatehouse shows the new client id");
        // The recreated app's secret is new and can be revealed once.
        let revealed: Value = c
            .post(&format!("/v1/tenants/{tid}/apps/{aid}/client-secret"), json!({}))
            .await
            .expect(200)
            .json();
        let secret = revealed["client_secret"].as_str().unwrap();
        assert!(client_credentials_work(&format!("{}/zitadel", server.url), &new_client_id, secret).await);

        eventually("the organization's name to be restored", Duration::from_secs(20), || async {
            zitadel.get_org(&org_id).await.unwrap().filter(|o| o.name == "Drifty")
        })
        .await;
        wait_synced(&server, &tid, Duration::from_secs(10)).await;

        // A project deleted by hand comes back too (with a new app inside).
        assert!(zitadel.delete_project(&org_id, project_id).await.unwrap());
        c.post("/v1/sync/run?verify=true", json!({})).await.expect(202);
        let row = eventually("the project to be recreated", Duration::from_secs(20), || async {
            let row = sync_row(&server, &aid).await?;
            (row["state"] == "synced" && row["zitadel_ids"]["project_id"] != project_id).then_some(row)
        })
        .await;
        let new_project = row["zitadel_ids"]["project_id"].as_str().unwrap().to_owned();
        assert!(zitadel.get_project(&org_id, &new_project).await.unwrap().is_some());

        // The whole organization deleted by hand: recreated with the tenant's id, and the
        // app's project and application with it.
        assert!(zitadel.delete_org(&org_id).await.unwrap());
        c.post(&format!("/v1/sync/run?verify=true&tenant_id={tid}"), json!({})).await.expect(202);
        eventually("the organization to be recreated", Duration::from_secs(20), || async {
            zitadel.get_org(&org_id).await.unwrap().filter(|o| o.name == "Drifty")
        })
        .await;
        let row = eventually("the app to be recreated in it", Duration::from_secs(20), || async {
            let row = sync_row(&server, &aid).await?;
            (row["state"] == "synced" && row["zitadel_ids"]["project_id"] != new_project.as_str()).then_some(row)
        })
        .await;
        let ids = &row["zitadel_ids"];
        let zapp = zitadel
            .get_app(&org_id, ids["project_id"].as_str().unwrap(), ids["app_id"].as_str().unwrap())
            .await
            .unwrap()
            .expect("the app exists in the recreated organization");
        assert!(!zitadel.get_login_policy(&org_id).await.unwrap().is_default);
        assert_eq!(zapp.name, "Shop");
        server
    })
    .await;
}

/// A standalone emulator that can be stopped and started again on the same port and state.
struct Standalone {
    addr: SocketAddr,
    state: Arc<MemoryStateStore>,
    dir: tempfile::TempDir,
    emulator: Emulator,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Standalone {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        Self::serve(listener, Arc::new(MemoryStateStore::new()), dir).await
    }

    async fn serve(
        listener: tokio::net::TcpListener,
        state: Arc<MemoryStateStore>,
        dir: tempfile::TempDir,
    ) -> Self {
        let addr = listener.local_addr().unwrap();
        let config = EmulatorConfig::new(
            format!("http://{addr}").parse().unwrap(),
            dir.path().to_path_buf(),
            state.clone(),
            reqwest::Client::builder().no_proxy().build().unwrap(),
        );
        let emulator = Emulator::start(config).await.unwrap();
        let stop = CancellationToken::new();
        let router = emulator.router();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await
                .unwrap();
        });
        Self {
            addr,
            state,
            dir,
            emulator,
            stop,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn client(&self) -> ZitadelClient {
        zitadel_client(&self.url(), self.emulator.admin_pat())
    }

    /// Stops serving (connections are refused from now on); the state is kept.
    async fn stop(self) -> (SocketAddr, Arc<MemoryStateStore>, tempfile::TempDir) {
        self.stop.cancel();
        self.task.await.unwrap();
        (self.addr, self.state, self.dir)
    }

    async fn restart(
        addr: SocketAddr,
        state: Arc<MemoryStateStore>,
        dir: tempfile::TempDir,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("rebind the same port");
        Self::serve(listener, state, dir).await
    }

    fn options(&self, backend: Backend) -> TestOptions {
        TestOptions::backend(backend)
            .env("GATEHOUSE_ZITADEL_URL", &self.url())
            .env(
                "GATEHOUSE_ZITADEL_PAT_FILE",
                &self.emulator.admin_pat_path().display().to_string(),
            )
    }
}

#[tokio::test]
async fn writes_succeed_while_zitadel_is_down_and_sync_resumes() {
    for backend in Backend::all().await {
        let zitadel = Standalone::start().await;
        let server = spawn_with(zitadel.options(backend)).await;
        let c = &server.client;
        let t1 = c.create_tenant("Before", "before").await;
        assert_eq!(t1["sync"]["state"], "synced", "{t1}");
        let t1_id = t1["id"].as_str().unwrap().to_owned();
        wait_synced(&server, "hooks_zitadel", Duration::from_secs(20)).await;

        let (addr, state, dir) = zitadel.stop().await;

        // Writes keep working; only the first waits for the client's retries to give up.
        let started = Instant::now();
        let t2 = c.create_tenant("During", "during").await;
        let first = started.elapsed();
        assert!(first < Duration::from_secs(7), "first write took {first:?}");
        assert_ne!(t2["sync"]["state"], "synced");
        let t2_id = t2["id"].as_str().unwrap().to_owned();
        let started = Instant::now();
        let app = c
            .create_app(&t1_id, json!({"name": "Offline", "type": "web", "redirect_uris": ["https://o.example/cb"]}))
            .await;
        c.patch(
            &format!("/v1/tenants/{t1_id}"),
            json!({"name": "Renamed while down"}),
        )
        .await
        .expect(200);
        let later = started.elapsed();
        assert!(
            later < Duration::from_secs(2),
            "writes with the breaker open took {later:?}"
        );
        assert_ne!(app["sync"]["state"], "synced");
        assert!(app.get("client_secret").is_none());
        assert!(app["client_id"].is_null());
        let app_id = app["id"].as_str().unwrap().to_owned();

        for id in [&t2_id, &app_id, &t1_id] {
            let row = eventually(
                "a failed state with a message",
                Duration::from_secs(10),
                || async {
                    sync_row(&server, id)
                        .await
                        .filter(|r| r["state"] == "failed")
                },
            )
            .await;
            let message = row["message"].as_str().unwrap();
            assert!(message.contains("ZITADEL is unreachable"), "{message}");
            assert!(!message.contains("127.0.0.1"), "no internals: {message}");
        }

        // ZITADEL comes back on the same address with the same state: everything syncs.
        let zitadel = Standalone::restart(addr, state, dir).await;
        for id in [&t1_id, &t2_id, &app_id] {
            wait_synced(&server, id, Duration::from_secs(45)).await;
        }
        let client = zitadel.client();
        let org = client.get_org(&t1_id).await.unwrap().unwrap();
        assert_eq!(org.name, "Renamed while down");
        assert!(client.get_org(&t2_id).await.unwrap().is_some());
        let revealed: Value = c
            .post(
                &format!("/v1/tenants/{t1_id}/apps/{app_id}/client-secret"),
                json!({}),
            )
            .await
            .expect(200)
            .json();
        let client_id = revealed["client_id"].as_str().unwrap();
        assert!(
            client_credentials_work(
                &zitadel.url(),
                client_id,
                revealed["client_secret"].as_str().unwrap()
            )
            .await
        );
        server.stop().await;
        zitadel.stop().await;
    }
}

#[tokio::test]
async fn two_replicas_sync_without_duplicates() {
    if !Backend::all().await.contains(&Backend::Postgres) {
        // Backend::all printed why; STRICT=1 makes an unreachable PostgreSQL fatal.
        return;
    }
    let zitadel = Standalone::start().await;
    let a = spawn_with(zitadel.options(Backend::Postgres)).await;
    // Replica B: the same database schema and master key, its own listener.
    let dir_b = tempfile::tempdir().unwrap();
    let mut env_b: Vec<(String, String)> = a
        .env
        .iter()
        .filter(|(k, _)| k != "GATEHOUSE_DATA_DIR")
        .cloned()
        .collect();
    env_b.push((
        "GATEHOUSE_DATA_DIR".into(),
        dir_b.path().display().to_string(),
    ));
    env_b.push((
        "GATEHOUSE_MASTER_KEY_FILE".into(),
        a.data_dir.path().join("master.key").display().to_string(),
    ));
    let b = start_on(env_b, dir_b, Backend::Postgres).await;

    // 20 tenants with one app each, created through both replicas at once; both loops run and
    // every create also syncs inline, so the same objects are contended.
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..20 {
        let client = if i % 2 == 0 {
            a.client.clone()
        } else {
            b.client.clone()
        };
        creates.spawn(async move {
            let tenant = client.create_tenant(&format!("Replica {i}"), &format!("replica-{i}")).await;
            let tid = tenant["id"].as_str().unwrap().to_owned();
            let app = client
                .create_app(&tid, json!({"name": "App", "type": "web", "redirect_uris": ["https://r.example/cb"]}))
                .await;
            (tid, app["id"].as_str().unwrap().to_owned())
        });
        // Both replicas re-check everything at once while creates are in flight.
        if i % 5 == 0 {
            a.client
                .post("/v1/sync/run?verify=true", json!({}))
                .await
                .expect(202);
            b.client
                .post("/v1/sync/run?verify=true", json!({}))
                .await
                .expect(202);
        }
    }
    let mut objects = Vec::new();
    while let Some(created) = creates.join_next().await {
        objects.push(created.unwrap());
    }
    for (tid, aid) in &objects {
        wait_synced(&a, tid, Duration::from_secs(60)).await;
        wait_synced(&b, aid, Duration::from_secs(60)).await;
    }

    let client = zitadel.client();
    let orgs = client
        .list_orgs(&ListOrganizationsRequest {
            query: Some(ListQuery::limit(1000)),
            ..Default::default()
        })
        .await
        .unwrap()
        .result;
    let ours: Vec<_> = orgs
        .iter()
        .filter(|o| o.name.starts_with("Replica "))
        .collect();
    assert_eq!(
        ours.len(),
        20,
        "one organization per tenant: {:?}",
        orgs.iter().map(|o| &o.name).collect::<Vec<_>>()
    );
    assert_eq!(orgs.len(), 21, "plus the default organization only");
    for (tid, _) in &objects {
        let projects = client
            .list_projects(tid, &Default::default())
            .await
            .unwrap()
            .result;
        assert_eq!(projects.len(), 1, "one project per app in {tid}");
        let apps = client
            .list_apps(tid, &projects[0].id, &Default::default())
            .await
            .unwrap()
            .result;
        assert_eq!(apps.len(), 1, "one OIDC application per app in {tid}");
    }
    let targets = client
        .list_targets(&Default::default())
        .await
        .unwrap()
        .targets;
    assert_eq!(targets.len(), 1, "one Actions target for the installation");

    let store_b = b.running.store.clone();
    b.running.shutdown().await.unwrap();
    store_b.close().await;
    a.stop().await;
    zitadel.stop().await;
}

fn event_body(org_id: &str, user_id: &str, payload: Value, sequence: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "aggregateID": user_id,
        "aggregateType": "user",
        "resourceOwner": org_id,
        "instanceID": "instance-1",
        "version": "v2",
        "sequence": sequence,
        "event_type": "user.human.added",
        "created_at": "2025-01-23T10:34:18.051234567Z",
        "userID": "editor-1",
        "event_payload": payload,
    }))
    .unwrap()
}

async fn post_hook(server: &TestServer, body: &[u8], signature: Option<String>) -> u16 {
    let mut request = server
        .client
        .anonymous()
        .request(reqwest::Method::POST, "/hooks/zitadel")
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("ZITADEL-Signature", signature);
    }
    server.client.send(request).await.status.as_u16()
}

async fn user_events(server: &TestServer) -> Vec<Value> {
    let page: Value = server
        .client
        .get("/v1/events?types=user.created&limit=100")
        .await
        .expect(200)
        .json();
    page["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_actions_receiver_verifies_signatures_and_stores_normalized_events() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let zitadel = embedded_client(&server);
        let tenant = c.create_tenant("Hooked", "hooked").await;
        let tid = tenant["id"].as_str().unwrap().to_owned();
        let org_id = tenant["sync"]["zitadel_ids"]["org_id"].as_str().unwrap().to_owned();
        let target = wait_synced(&server, "hooks_zitadel", Duration::from_secs(20)).await;
        let target_id = target["zitadel_ids"]["target_id"].as_str().unwrap();
        let key = zitadel
            .get_target(target_id)
            .await
            .unwrap()
            .unwrap()
            .signing_key
            .expect("ZITADEL shows the signing key");
        let key = key.expose();

        // Signed: stored once, with the tenant, without secrets from the payload.
        let body = event_body(
            &org_id,
            "user-1",
            json!({"userName": "alice", "email": "alice@hooked.example", "encodedHash": "$argon2id$v=19$secret"}),
            1,
        );
        let now = Timestamp::now();
        let signed = actions_signature::sign(&body, &[key], now);
        assert_eq!(post_hook(&server, &body, Some(signed.clone())).await, 200);
        // The same call again (a replay or a retry) is acknowledged, not stored twice.
        assert_eq!(post_hook(&server, &body, Some(signed)).await, 200);
        let events = user_events(&server).await;
        assert_eq!(events.len(), 1, "{events:?}");
        let event = &events[0];
        assert_eq!(event["tenant_id"], tid.as_str());
        assert_eq!(event["data"]["user_id"], "user-1");
        assert_eq!(event["data"]["username"], "alice");
        assert_eq!(event["data"]["email"], "alice@hooked.example");
        assert_eq!(event["data"]["zitadel"]["event_type"], "user.human.added");
        assert!(!event.to_string().contains("argon2"), "{event}");

        // A base64 payload (ZITADEL 2.x/3.x) works too; several v1 values (rotation) are fine.
        let b64 = Value::String(STANDARD.encode(json!({"userName": "bob"}).to_string()));
        let body = event_body(&org_id, "user-2", b64, 2);
        let signed = actions_signature::sign(&body, &["an-old-key", key], Timestamp::now());
        assert_eq!(post_hook(&server, &body, Some(signed)).await, 200);
        assert_eq!(user_events(&server).await.len(), 2);

        // Refused, nothing stored: wrong key, tampered body, expired, future, missing, garbage.
        let body = event_body(&org_id, "user-3", json!({}), 3);
        let cases = [
            Some(actions_signature::sign(&body, &["not-the-key"], Timestamp::now())),
            Some(actions_signature::sign(b"{\"other\":1}", &[key], Timestamp::now())),
            Some(actions_signature::sign(&body, &[key], Timestamp::now().minus(Duration::from_secs(301)))),
            Some(actions_signature::sign(&body, &[key], Timestamp::now().plus(Duration::from_secs(301)))),
            None,
            Some("t=1,v1=zz".into()),
        ];
        for signature in cases {
            assert_eq!(post_hook(&server, &body, signature.clone()).await, 401, "{signature:?}");
        }
        assert_eq!(user_events(&server).await.len(), 2);
        // Oversized bodies are refused before anything else.
        let huge = vec![b' '; 300 * 1024];
        assert_eq!(post_hook(&server, &huge, Some(actions_signature::sign(&huge, &[key], Timestamp::now()))).await, 413);

        // End to end: a user created in ZITADEL arrives as `user.created` for the tenant.
        let created = zitadel
            .create_human_user(&AddHumanUserRequest {
                username: Some("carol".into()),
                organization: Some(OrganizationRef::OrgId(org_id.clone())),
                profile: SetHumanProfile {
                    given_name: "Carol".into(),
                    family_name: "Example".into(),
                    ..Default::default()
                },
                email: SetHumanEmail {
                    email: "carol@hooked.example".into(),
                    is_verified: Some(true),
                    ..Default::default()
                },
                password: Some(Password {
                    password: Secret::new("Correct-Horse-9"),
                    change_required: false,
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        let event = eventually("user.created from ZITADEL", Duration::from_secs(15), || async {
            user_events(&server)
                .await
                .into_iter()
                .find(|e| e["data"]["user_id"] == created.user_id.as_str())
        })
        .await;
        assert_eq!(event["tenant_id"], tid.as_str());
        assert_eq!(event["data"]["username"], "carol");
        assert_eq!(event["data"]["first_name"], "Carol");
        server
    })
    .await;
}
