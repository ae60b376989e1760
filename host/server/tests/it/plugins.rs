//! Plugins through the HTTP API: built-ins, signed installs and their refusals, the trust
//! store, enable/disable/limits/remove, test calls, automatic disables persisted, and two
//! registries over one database behaving as replicas.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use gatehouse_core::{
    Timestamp,
    audit::AuditContext,
    clock::SystemClock,
    id::WebhookEndpointId,
    principal::Principal,
    secret::Sealed,
    services::Caller,
    store::Store,
    webhook::{Transform, WebhookEndpoint, WebhookStore},
};
use gatehouse_plugin_host::{
    Call, HostConfig, PluginError, PoolConfig, builtin_plugins,
    package::{self, PackageMeta},
    signing,
};
use gatehouse_server::plugins::Plugins;
use gatehouse_store::{ConnectOptions, SqlStore};
use gatehouse_testkit::{TestClient, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

use crate::on_each_backend;

/// A component built from `plugins/` (built-ins and test guests), found beside this test
/// binary in `<target>/wasm-plugins`, where the plugin host's build script puts them.
fn guest(name: &str) -> Vec<u8> {
    let exe = std::env::current_exe().unwrap();
    let dir: PathBuf = exe
        .ancestors()
        .map(|dir| dir.join("wasm-plugins/wasm32-wasip2/release"))
        .find(|dir| dir.is_dir())
        .expect("the plugin host's build script built plugins/ into <target>/wasm-plugins");
    let path = dir.join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

fn builtin_wasm(id: &str) -> Vec<u8> {
    builtin_plugins()
        .iter()
        .find(|b| b.id == id)
        .unwrap()
        .wasm
        .to_vec()
}

struct Signer {
    key: signing::GeneratedKey,
    sk: signing::SecretKey,
}

fn signer() -> Signer {
    let key = signing::generate(None).unwrap();
    let sk = signing::parse_secret_key(&key.secret_key_file, None).unwrap();
    Signer { key, sk }
}

fn meta(id: &str, version: &str) -> PackageMeta {
    PackageMeta {
        id: id.into(),
        version: version.into(),
        description: "Slack, the Acme way".into(),
        author: "Acme <it@acme.example>".into(),
        capabilities: vec!["log".into()],
        limits: gatehouse_core::plugin::PluginLimits {
            deadline_ms: Some(80),
            ..Default::default()
        },
    }
}

fn package(signer: Option<&Signer>, meta: &PackageMeta, wasm: &[u8]) -> Vec<u8> {
    let manifest = package::manifest_for(meta, wasm, &[]).unwrap();
    let toml = manifest.to_toml();
    let signature = signer.map(|s| {
        signing::sign(
            &s.sk,
            toml.as_bytes(),
            &format!("gatehouse plugin {} {}", meta.id, meta.version),
        )
        .unwrap()
    });
    package::write_archive(&toml, signature.as_deref(), &[(package::COMPONENT, wasm)]).unwrap()
}

async fn upload(
    client: &TestClient,
    bytes: Vec<u8>,
    content_type: &str,
) -> gatehouse_testkit::TestResponse {
    client
        .send(
            client
                .request(Method::POST, "/v1/plugins")
                .header("content-type", content_type)
                .body(bytes),
        )
        .await
}

async fn trust(client: &TestClient, name: &str, signer: &Signer) -> Value {
    client
        .post(
            "/v1/trusted-keys",
            json!({"name": name, "public_key": signer.key.public_key_file}),
        )
        .await
        .expect(201)
        .json()
}

async fn audit_count(client: &TestClient, action: &str) -> usize {
    let page: Value = client
        .get(&format!("/v1/audit-logs?action={action}&limit=100"))
        .await
        .expect(200)
        .json();
    page["data"].as_array().unwrap().len()
}

async fn plugin_count(client: &TestClient) -> usize {
    let page: Value = client.get("/v1/plugins").await.expect(200).json();
    page["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn builtins_are_listed_marked_and_run() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let page: Value = c.get("/v1/plugins").await.expect(200).json();
        let plugins = page["data"].as_array().unwrap();
        assert_eq!(plugins.len(), builtin_plugins().len(), "{page}");
        for builtin in builtin_plugins() {
            let p = plugins
                .iter()
                .find(|p| p["id"] == builtin.id)
                .unwrap_or_else(|| panic!("{} missing", builtin.id));
            assert_eq!(p["builtin"], true);
            assert_eq!(p["enabled"], true);
            assert_eq!(p["kind"], builtin.kind.as_str());
            assert_eq!(p["wit_version"], "0.1.0", "{p}");
            assert!(!p["description"].as_str().unwrap().is_empty(), "{p}");
            assert_eq!(p["sha256"], builtin.sha256());
        }
        let slack = plugins.iter().find(|p| p["id"] == "gatehouse.slack").unwrap();
        assert_eq!(slack["effective_limits"]["deadline_ms"], 100);
        assert_eq!(slack["effective_limits"]["memory_mib"], 32);
        let version = slack["version"].as_str().unwrap().to_owned();

        // A built-in runs through POST …/test under its production limits.
        let result: Value = c
            .post(
                &format!("/v1/plugins/gatehouse.slack/{version}/test"),
                json!({"call": "webhook_transform",
                       "event": {"id": "evt_1", "type": "user.created", "occurred_at": "2026-01-01T00:00:00Z",
                                 "tenant_id": null, "data": {"email": "ada@acme.example"}},
                       "config": {}}),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(result["outcome"], "ok", "{result}");
        assert_eq!(result["output"]["output"], "transformed", "{result}");
        assert!(result["wall_time_us"].as_u64().unwrap() > 0);
        assert_eq!(result["limits"]["deadline_ms"], 100);
        let detail: Value = c.get("/v1/plugins/gatehouse.google").await.expect(200).json();
        assert_eq!(detail["builtin"], true);
        assert_eq!(detail["kind"], "provider");
        assert_eq!(detail["current_version"], version.as_str());
        let described: Value = c
            .post(&format!("/v1/plugins/gatehouse.google/{version}/test"), json!({"call": "describe"}))
            .await
            .expect(200)
            .json();
        assert_eq!(described["output"]["kind"], "provider", "{described}");
        assert!(described["output"]["fields"].is_array(), "{described}");

        // Built-ins cannot be removed, only disabled; the change is stored and shown.
        let r = c.delete(&format!("/v1/plugins/gatehouse.mono/{version}")).await.expect(409);
        assert_eq!(r.error_code(), "builtin_plugin");
        let disabled: Value = c
            .post(&format!("/v1/plugins/gatehouse.mono/{version}/disable"), json!({"reason": "we use classic"}))
            .await
            .expect(200)
            .json();
        assert_eq!(disabled["enabled"], false);
        let result: Value = c
            .post(&format!("/v1/plugins/gatehouse.mono/{version}/test"), json!({"call": "describe"}))
            .await
            .expect(200)
            .json();
        assert_eq!(result["outcome"], "plugin_disabled", "{result}");
        assert!(result["error"].as_str().unwrap().contains("we use classic"));
        let server = server.restart().await;
        let c = &server.client;
        let mono: Value = c.get(&format!("/v1/plugins/gatehouse.mono/{version}")).await.expect(200).json();
        assert_eq!(mono["enabled"], false, "the disable survives a restart: {mono}");
        assert_eq!(mono["builtin"], true);
        c.post(&format!("/v1/plugins/gatehouse.mono/{version}/enable"), json!({}))
            .await
            .expect(200);
        let result: Value = c
            .post(&format!("/v1/plugins/gatehouse.mono/{version}/test"), json!({"call": "describe"}))
            .await
            .expect(200)
            .json();
        assert_eq!(result["outcome"], "ok", "{result}");
        server
    })
    .await;
}

#[tokio::test]
async fn signed_packages_install_and_every_refusal_writes_nothing() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let acme = signer();
        let wasm = builtin_wasm("gatehouse.slack");
        let good = package(Some(&acme), &meta("acme.slack", "1.0.0"), &wasm);

        // Unknown signer first: nothing trusted yet.
        let r = upload(c, good.clone(), "application/gzip")
            .await
            .expect(422);
        assert_eq!(r.error_code(), "package_unknown_signer");
        assert!(r.text().contains(&acme.key.key_id), "{}", r.text());

        let key = trust(c, "Acme CI", &acme).await;
        assert_eq!(key["key_id"], acme.key.key_id.as_str());
        assert_eq!(key["public_key"], acme.key.public_key.as_str());
        // The base64 line alone works too, and an active key cannot be added twice.
        let r = c
            .post(
                "/v1/trusted-keys",
                json!({"name": "again", "public_key": acme.key.public_key}),
            )
            .await
            .expect(409);
        assert_eq!(r.error_code(), "key_exists");
        let r = c
            .post(
                "/v1/trusted-keys",
                json!({"name": "junk", "public_key": "not a key"}),
            )
            .await
            .expect(422);
        assert_eq!(r.error_field().as_deref(), Some("public_key"));

        let before = (
            plugin_count(c).await,
            audit_count(c, "plugin.installed").await,
        );
        // Refusals: one byte changed anywhere, unsigned, wrong signer, wrong content type.
        let mut flipped = good.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x01;
        let r = upload(c, flipped, "application/gzip").await;
        assert_eq!(r.status.as_u16(), 422, "{}", r.text());
        assert!(r.error_code().starts_with("package_"), "{}", r.text());
        let r = upload(
            c,
            package(None, &meta("acme.slack", "1.0.0"), &wasm),
            "application/gzip",
        )
        .await
        .expect(422);
        assert_eq!(r.error_code(), "package_unsigned");
        let r = upload(
            c,
            package(Some(&signer()), &meta("acme.slack", "1.0.0"), &wasm),
            "application/gzip",
        )
        .await
        .expect(422);
        assert_eq!(r.error_code(), "package_unknown_signer");
        let r = upload(c, good.clone(), "application/json")
            .await
            .expect(415);
        assert_eq!(r.error_code(), "unsupported_media_type");
        let r = upload(c, b"\0asm\x0d\0\x01\0".to_vec(), "application/x-tar")
            .await
            .expect(422);
        assert_eq!(r.error_code(), "package_invalid", "{}", r.text());
        let mut reserved = package::manifest_for(&meta("acme.slack", "1.0.0"), &wasm, &[]).unwrap();
        reserved.id = "gatehouse.slack".into();
        let toml = reserved.to_toml();
        let signature = signing::sign(&acme.sk, toml.as_bytes(), "gatehouse plugin").unwrap();
        let bytes = package::write_archive(&toml, Some(&signature), &[(package::COMPONENT, &wasm)])
            .unwrap();
        let r = upload(c, bytes, "application/gzip").await;
        assert_eq!(
            r.status.as_u16(),
            422,
            "the gatehouse. prefix is reserved: {}",
            r.text()
        );
        assert_eq!(
            (
                plugin_count(c).await,
                audit_count(c, "plugin.installed").await
            ),
            before,
            "a refused package writes nothing"
        );

        // The good package installs, enabled, with the manifest's limits.
        let installed: Value = upload(c, good.clone(), "application/gzip")
            .await
            .expect(201)
            .json();
        assert_eq!(installed["id"], "acme.slack");
        assert_eq!(installed["builtin"], false);
        assert_eq!(installed["enabled"], true);
        assert_eq!(installed["signer_key_id"], acme.key.key_id.as_str());
        assert_eq!(installed["sha256"], package::sha256_hex(&wasm));
        assert_eq!(installed["manifest_limits"]["deadline_ms"], 80);
        assert_eq!(installed["effective_limits"]["deadline_ms"], 80);
        assert_eq!(audit_count(c, "plugin.installed").await, 1);
        let events: Value = c
            .get("/v1/events?types=plugin.installed")
            .await
            .expect(200)
            .json();
        assert_eq!(events["data"].as_array().unwrap().len(), 1, "{events}");
        // Same id + version again: 409, as a tar too.
        let r = upload(c, good.clone(), "application/x-tar")
            .await
            .expect(409);
        assert_eq!(r.error_code(), "plugin_exists");

        // It runs under its limits.
        let result: Value = c
            .post(
                "/v1/plugins/acme.slack/1.0.0/test",
                json!({"call": "webhook_transform", "event": {"type": "user.created", "data": {}}}),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(result["outcome"], "ok", "{result}");
        assert_eq!(result["limits"]["deadline_ms"], 80);

        // Limits: only lower than the manifest; null gives the manifest's value back.
        let r = c
            .patch(
                "/v1/plugins/acme.slack/1.0.0/limits",
                json!({"deadline_ms": 90}),
            )
            .await
            .expect(422);
        assert_eq!(r.error_field().as_deref(), Some("deadline_ms"));
        assert!(r.text().contains("at most 80"), "{}", r.text());
        let r = c
            .patch(
                "/v1/plugins/acme.slack/1.0.0/limits",
                json!({"memory_mib": 64}),
            )
            .await
            .expect(422);
        assert!(r.text().contains("at most 32"), "{}", r.text());
        c.patch(
            "/v1/plugins/acme.slack/1.0.0/limits",
            json!({"deadline": 1}),
        )
        .await
        .expect(422);
        let lowered: Value = c
            .patch(
                "/v1/plugins/acme.slack/1.0.0/limits",
                json!({"deadline_ms": 20, "memory_mib": 8}),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(lowered["limits"]["deadline_ms"], 20);
        assert_eq!(lowered["effective_limits"]["deadline_ms"], 20);
        assert_eq!(lowered["effective_limits"]["memory_mib"], 8);
        let result: Value = c
            .post(
                "/v1/plugins/acme.slack/1.0.0/test",
                json!({"call": "describe"}),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(
            result["limits"]["deadline_ms"], 20,
            "applied at once: {result}"
        );
        let back: Value = c
            .patch(
                "/v1/plugins/acme.slack/1.0.0/limits",
                json!({"deadline_ms": null}),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(back["effective_limits"]["deadline_ms"], 80);
        assert_eq!(
            back["effective_limits"]["memory_mib"], 8,
            "absent fields stay"
        );
        assert_eq!(audit_count(c, "plugin.limits_updated").await, 2);

        // Disable needs a reason; calls then fail with it; enable brings it back.
        c.post(
            "/v1/plugins/acme.slack/1.0.0/disable",
            json!({"reason": " "}),
        )
        .await
        .expect(422);
        c.post(
            "/v1/plugins/acme.slack/1.0.0/disable",
            json!({"reason": "noisy"}),
        )
        .await
        .expect(200);
        let result: Value = c
            .post(
                "/v1/plugins/acme.slack/1.0.0/test",
                json!({"call": "describe"}),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(result["outcome"], "plugin_disabled");
        let detail: Value = c.get("/v1/plugins/acme.slack").await.expect(200).json();
        assert_eq!(detail["current_version"], Value::Null);
        assert_eq!(detail["versions"][0]["disabled_reason"], "noisy");
        c.post("/v1/plugins/acme.slack/1.0.0/enable", json!({}))
            .await
            .expect(200);

        // Unknown plugins and versions are 404; tenant keys are refused.
        c.get("/v1/plugins/acme.nope").await.expect(404);
        c.post("/v1/plugins/acme.slack/9.9.9/enable", json!({}))
            .await
            .expect(404);
        let tenant = c.create_tenant("Acme", "acme").await;
        let key: Value = c
            .post(
                "/v1/api-keys",
                json!({"name": "t", "scope": "tenant", "tenant_id": tenant["id"]}),
            )
            .await
            .expect(201)
            .json();
        let tenant_client = c.with_token(key["token"].as_str().unwrap());
        tenant_client.get("/v1/plugins").await.expect(403);
        tenant_client.get("/v1/trusted-keys").await.expect(403);
        upload(&tenant_client, good.clone(), "application/gzip")
            .await
            .expect(403);
        server
    })
    .await;
}

#[tokio::test]
async fn removing_a_signer_disables_its_plugins_and_refuses_its_packages() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let acme = signer();
        trust(c, "Acme", &acme).await;
        let wasm = builtin_wasm("gatehouse.cloudevents");
        upload(
            c,
            package(Some(&acme), &meta("acme.ce", "1.0.0"), &wasm),
            "application/gzip",
        )
        .await
        .expect(201);

        let removed: Value = c
            .delete(&format!("/v1/trusted-keys/{}", acme.key.key_id))
            .await
            .expect(200)
            .json();
        assert!(removed["removed_at"].is_string(), "{removed}");
        assert_eq!(
            removed["disabled_plugins"],
            json!([{"id": "acme.ce", "version": "1.0.0"}])
        );
        let plugin: Value = c.get("/v1/plugins/acme.ce/1.0.0").await.expect(200).json();
        assert_eq!(plugin["enabled"], false);
        assert!(
            plugin["disabled_reason"]
                .as_str()
                .unwrap()
                .contains(&acme.key.key_id)
        );
        let result: Value = c
            .post(
                "/v1/plugins/acme.ce/1.0.0/test",
                json!({"call": "describe"}),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(result["outcome"], "plugin_disabled");
        // Enabling needs the signer trusted again; new packages from it are refused.
        let r = c
            .post("/v1/plugins/acme.ce/1.0.0/enable", json!({}))
            .await
            .expect(409);
        assert_eq!(r.error_code(), "signer_not_trusted");
        let r = upload(
            c,
            package(Some(&acme), &meta("acme.ce", "1.1.0"), &wasm),
            "application/gzip",
        )
        .await
        .expect(422);
        assert_eq!(r.error_code(), "package_removed_signer");
        c.delete(&format!("/v1/trusted-keys/{}", acme.key.key_id))
            .await
            .expect(404);
        let keys: Value = c.get("/v1/trusted-keys").await.expect(200).json();
        assert_eq!(keys["data"][0]["removed_at"], removed["removed_at"]);
        assert_eq!(audit_count(c, "trusted_key.removed").await, 1);

        // Trusted again: the plugin may be enabled.
        trust(c, "Acme (back)", &acme).await;
        c.post("/v1/plugins/acme.ce/1.0.0/enable", json!({}))
            .await
            .expect(200);
        server
    })
    .await;
}

#[tokio::test]
async fn a_plugin_in_use_by_a_webhook_endpoint_is_not_removed() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let acme = signer();
        trust(c, "Acme", &acme).await;
        let wasm = builtin_wasm("gatehouse.filter");
        for version in ["1.0.0", "1.1.0"] {
            upload(
                c,
                package(Some(&acme), &meta("acme.filter", version), &wasm),
                "application/gzip",
            )
            .await
            .expect(201);
        }
        let tenant = c.create_tenant("Acme", "acme").await;
        let tenant_id =
            gatehouse_core::id::TenantId::from_stored(tenant["id"].as_str().unwrap().to_owned());
        let now = Timestamp::now();
        let endpoint = WebhookEndpoint {
            id: WebhookEndpointId::generate(),
            tenant_id: tenant_id.clone(),
            url: "https://hooks.acme.example/in".into(),
            description: String::new(),
            event_types: vec!["*".into()],
            transform: Some(Transform {
                plugin: "acme.filter".into(),
                config: json!({}),
            }),
            enabled: true,
            disabled_reason: None,
            rate_limit: None,
            previous_secret_expires_at: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        let store = &server.running.store;
        let change = gatehouse_core::change::Change::new(
            "endpoint.created",
            &Principal::System { component: "test" },
            &AuditContext::default(),
            Some(&tenant_id),
            now,
        );
        store
            .insert_webhook_endpoint(&endpoint, &Sealed::from_stored("sealed".into()), &change)
            .await
            .unwrap();

        // Another enabled version remains: the older one may go.
        c.delete("/v1/plugins/acme.filter/1.0.0").await.expect(204);
        let r = c.delete("/v1/plugins/acme.filter/1.1.0").await.expect(409);
        assert_eq!(r.error_code(), "plugin_in_use");
        assert!(r.text().contains(endpoint.id.as_str()), "{}", r.text());
        c.get("/v1/plugins/acme.filter/1.1.0").await.expect(200);

        let deleted = gatehouse_core::change::Change::new(
            "endpoint.deleted",
            &Principal::System { component: "test" },
            &AuditContext::default(),
            Some(&tenant_id),
            Timestamp::now(),
        );
        store
            .delete_webhook_endpoint(&tenant_id, &endpoint.id, &deleted)
            .await
            .unwrap();
        c.delete("/v1/plugins/acme.filter/1.1.0").await.expect(204);
        c.get("/v1/plugins/acme.filter").await.expect(404);
        c.post(
            "/v1/plugins/acme.filter/1.1.0/test",
            json!({"call": "describe"}),
        )
        .await
        .expect(404);
        assert_eq!(audit_count(c, "plugin.removed").await, 2);
        server
    })
    .await;
}

#[tokio::test]
async fn repeated_faults_disable_a_plugin_and_the_disable_is_recorded() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let acme = signer();
        trust(c, "Acme", &acme).await;
        let wasm = guest("gatehouse_test_hostile");
        upload(
            c,
            package(Some(&acme), &meta("acme.hostile", "1.0.0"), &wasm),
            "application/gzip",
        )
        .await
        .expect(201);
        let trap = json!({"call": "webhook_transform", "event": {}, "config": {"mode": "trap"}});
        for _ in 0..5 {
            let result: Value = c
                .post("/v1/plugins/acme.hostile/1.0.0/test", trap.clone())
                .await
                .expect(200)
                .json();
            assert_eq!(result["outcome"], "plugin_trap", "{result}");
        }
        let result: Value = c
            .post("/v1/plugins/acme.hostile/1.0.0/test", trap.clone())
            .await
            .expect(200)
            .json();
        assert_eq!(result["outcome"], "plugin_disabled", "{result}");

        // The disable reaches the database: record, audit entry by the system, event.
        let plugin = wait_until(Duration::from_secs(10), || async {
            let p: Value = c
                .get("/v1/plugins/acme.hostile/1.0.0")
                .await
                .expect(200)
                .json();
            (p["enabled"] == false).then_some(p)
        })
        .await;
        assert!(
            plugin["disabled_reason"]
                .as_str()
                .unwrap()
                .contains("5 faults"),
            "{plugin}"
        );
        let audit: Value = c
            .get("/v1/audit-logs?action=plugin.disabled")
            .await
            .expect(200)
            .json();
        assert_eq!(audit["data"][0]["actor"]["type"], "system", "{audit}");
        assert_eq!(audit["data"][0]["metadata"]["automatic"], true);
        let events: Value = c
            .get("/v1/events?types=plugin.disabled")
            .await
            .expect(200)
            .json();
        assert_eq!(events["data"][0]["data"]["automatic"], true, "{events}");

        // After a restart it is still disabled; an admin enables it and it runs again.
        let server = server.restart().await;
        let c = &server.client;
        let result: Value = c
            .post(
                "/v1/plugins/acme.hostile/1.0.0/test",
                json!({"call": "describe"}),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(result["outcome"], "plugin_disabled");
        c.post("/v1/plugins/acme.hostile/1.0.0/enable", json!({}))
            .await
            .expect(200);
        let ok: Value = c
            .post(
                "/v1/plugins/acme.hostile/1.0.0/test",
                json!({"call": "webhook_transform", "event": {"x": 1}, "config": {"mode": "ok"}}),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(ok["outcome"], "ok", "{ok}");
        server
    })
    .await;
}

async fn wait_until<T, F, Fut>(timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "condition not reached in {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn small_host() -> HostConfig {
    HostConfig {
        max_concurrent_calls: 2,
        pool: PoolConfig {
            max_instances: 4,
            ..PoolConfig::default()
        },
        fault_limit: 3,
        ..HostConfig::default()
    }
}

/// Two registries over one database, as two replicas: installs are found lazily, admin
/// changes and automatic disables made on one reach the other within the refresh interval.
#[tokio::test]
async fn replicas_share_the_registry_through_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
    let store = SqlStore::connect(&ConnectOptions::new(url)).await.unwrap();
    store.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let refresh = Duration::from_millis(200);
    let a = Plugins::new(small_host(), store.clone(), Arc::new(SystemClock), refresh).unwrap();
    let b = Plugins::new(small_host(), store.clone(), Arc::new(SystemClock), refresh).unwrap();
    let principal = Principal::System { component: "test" };
    let context = AuditContext::default();
    let caller = || Caller {
        principal: &principal,
        context: &context,
        now: Timestamp::now(),
    };

    let acme = signer();
    a.trust_key(caller(), "Acme", &acme.key.public_key_file)
        .await
        .unwrap();
    let wasm = guest("gatehouse_test_hostile");
    let bytes = package(Some(&acme), &meta("acme.hostile", "1.0.0"), &wasm);
    a.install(caller(), &bytes).await.unwrap();

    // B never heard of it: found by id + version, and by id alone.
    let on_b = b.resolve("acme.hostile", Some("1.0.0")).await.unwrap();
    assert_eq!(on_b.sha256(), package::sha256_hex(&wasm));
    assert_eq!(
        b.resolve("acme.hostile", None).await.unwrap().version(),
        "1.0.0"
    );
    let ok = Call::WebhookTransform {
        event: json!({"a": 1}),
        config: json!({"mode": "ok"}),
    };
    b.host().call(&on_b, ok.clone()).await.unwrap();

    // A stored component that is not the one recorded (the database was edited) never loads,
    // even when it is a valid plugin of the same kind.
    let mut swapped = store
        .get_plugin("acme.hostile", "1.0.0")
        .await
        .unwrap()
        .unwrap();
    swapped.id = "acme.swapped".into();
    let change = gatehouse_core::change::Change::new(
        "plugin.installed",
        &principal,
        &context,
        None,
        Timestamp::now(),
    );
    store
        .insert_plugin(&swapped, &guest("gatehouse_webhook_filter"), &change)
        .await
        .unwrap();
    let err = wait_until(Duration::from_secs(5), || async {
        match b.resolve("acme.swapped", Some("1.0.0")).await {
            Err(gatehouse_core::Error::NotFound { .. }) => None, // not seen by B yet
            other => Some(other.expect_err("a swapped component must not load")),
        }
    })
    .await;
    assert!(
        matches!(&err, gatehouse_core::Error::Internal(message) if message.contains("SHA-256")),
        "{err:?}"
    );

    // Disabled on A: B stops within the refresh interval.
    a.set_enabled(
        caller(),
        "acme.hostile",
        "1.0.0",
        false,
        Some("maintenance"),
    )
    .await
    .unwrap();
    let err = wait_until(Duration::from_secs(5), || async {
        let plugin = b.resolve("acme.hostile", Some("1.0.0")).await.unwrap();
        b.host().call(&plugin, ok.clone()).await.err()
    })
    .await;
    assert!(
        matches!(&err, PluginError::Disabled { reason, .. } if reason == "maintenance"),
        "{err}"
    );
    a.set_enabled(caller(), "acme.hostile", "1.0.0", true, None)
        .await
        .unwrap();
    wait_until(Duration::from_secs(5), || async {
        let plugin = b.resolve("acme.hostile", Some("1.0.0")).await.unwrap();
        b.host().call(&plugin, ok.clone()).await.ok()
    })
    .await;

    // B's host disables it after repeated traps; A learns it from the database.
    let trap = Call::WebhookTransform {
        event: json!({}),
        config: json!({"mode": "trap"}),
    };
    let plugin = b.resolve("acme.hostile", Some("1.0.0")).await.unwrap();
    for _ in 0..3 {
        let err = b.host().call(&plugin, trap.clone()).await.unwrap_err();
        assert!(matches!(err, PluginError::Trap { .. }), "{err}");
    }
    let err = wait_until(Duration::from_secs(10), || async {
        let plugin = a.resolve("acme.hostile", Some("1.0.0")).await.unwrap();
        a.host().call(&plugin, ok.clone()).await.err()
    })
    .await;
    assert!(
        matches!(&err, PluginError::Disabled { reason, .. } if reason.contains("3 faults")),
        "{err}"
    );
    let record = store
        .get_plugin("acme.hostile", "1.0.0")
        .await
        .unwrap()
        .unwrap();
    assert!(!record.enabled);

    // Removed on A: gone on B too.
    a.remove(caller(), "acme.hostile", "1.0.0").await.unwrap();
    wait_until(Duration::from_secs(5), || async {
        matches!(
            b.resolve("acme.hostile", None).await,
            Err(gatehouse_core::Error::NotFound { .. })
        )
        .then_some(())
    })
    .await;
}

#[tokio::test]
async fn openapi_lists_the_plugin_routes() {
    let server: TestServer = gatehouse_testkit::spawn().await;
    let doc: Value = server
        .client
        .get("/v1/openapi.json")
        .await
        .expect(200)
        .json();
    for path in [
        "/v1/plugins",
        "/v1/plugins/{id}",
        "/v1/plugins/{id}/{version}",
        "/v1/plugins/{id}/{version}/enable",
        "/v1/plugins/{id}/{version}/disable",
        "/v1/plugins/{id}/{version}/limits",
        "/v1/plugins/{id}/{version}/test",
        "/v1/trusted-keys",
        "/v1/trusted-keys/{key_id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    let install = &doc["paths"]["/v1/plugins"]["post"];
    assert!(
        install["requestBody"]["content"]["application/gzip"].is_object(),
        "{install}"
    );
    server.stop().await;
}

/// The webhook pipeline's seam over the registry: built-ins and installed plugins by id, the
/// config checked against the plugin's own schema, disabled plugins reported as such.
#[tokio::test]
async fn webhook_transforms_run_through_the_registry() {
    use gatehouse_server::plugin_transform::PluginTransformer;
    use gatehouse_webhooks::{TransformError, Transformed, Transformer};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
    let store = SqlStore::connect(&ConnectOptions::new(url)).await.unwrap();
    store.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let plugins = Plugins::new(
        small_host(),
        store,
        Arc::new(SystemClock),
        Duration::from_millis(200),
    )
    .unwrap();
    let transformer = PluginTransformer::new(plugins.clone());
    let transform = |plugin: &str, config: Value| Transform {
        plugin: plugin.into(),
        config,
    };
    let field_of = |err: gatehouse_core::Error| match err {
        gatehouse_core::Error::Invalid { field, message } => (field.unwrap().into_owned(), message),
        other => panic!("{other:?}"),
    };

    transformer
        .check(&transform("gatehouse.slack", json!({})))
        .await
        .unwrap();
    let (field, message) = field_of(
        transformer
            .check(&transform("acme.nope", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "transform.plugin");
    assert!(message.contains("gatehouse.cloudevents"), "{message}");
    let (field, message) = field_of(
        transformer
            .check(&transform("gatehouse.google", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "transform.plugin");
    assert!(message.contains("provider plugin"), "{message}");
    let (field, _) = field_of(
        transformer
            .check(&transform("gatehouse.slack", json!({"nope": 1})))
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "transform.config.nope");

    let event = r#"{"id":"evt_1","type":"user.created","occurred_at":"2026-01-01T00:00:00Z","tenant_id":"ten_1","data":{}}"#;
    let delivered = transformer
        .transform(&transform("gatehouse.cloudevents", json!({})), event)
        .await
        .unwrap();
    assert!(
        matches!(&delivered, Transformed::Deliver { body, .. } if body.contains("specversion")),
        "{delivered:?}"
    );

    // An installed plugin is found by id: the newest enabled version runs.
    let principal = Principal::System { component: "test" };
    let context = AuditContext::default();
    let caller = || Caller {
        principal: &principal,
        context: &context,
        now: Timestamp::now(),
    };
    let acme = signer();
    plugins
        .trust_key(caller(), "Acme", &acme.key.public_key_file)
        .await
        .unwrap();
    let hostile = guest("gatehouse_test_hostile");
    for version in ["1.0.0", "1.2.0"] {
        plugins
            .install(
                caller(),
                &package(Some(&acme), &meta("acme.hook", version), &hostile),
            )
            .await
            .unwrap();
    }
    let hook = transform("acme.hook", json!({}));
    transformer.check(&hook).await.unwrap();
    assert_eq!(
        plugins.resolve("acme.hook", None).await.unwrap().version(),
        "1.2.0"
    );
    let out = transformer.transform(&hook, r#"{"a":1}"#).await.unwrap();
    assert!(matches!(out, Transformed::Deliver { .. }), "{out:?}");
    plugins
        .set_enabled(caller(), "acme.hook", "1.2.0", false, Some("bad release"))
        .await
        .unwrap();
    assert_eq!(
        plugins.resolve("acme.hook", None).await.unwrap().version(),
        "1.0.0",
        "falls back to the newest enabled version"
    );
    plugins
        .set_enabled(caller(), "acme.hook", "1.0.0", false, Some("all off"))
        .await
        .unwrap();
    let err = transformer.transform(&hook, "{}").await.unwrap_err();
    assert!(
        matches!(&err, TransformError::Disabled { reason, .. } if reason == "bad release"),
        "{err:?}"
    );
    let (field, message) = field_of(transformer.check(&hook).await.unwrap_err());
    assert_eq!(field, "transform.plugin");
    assert!(message.contains("disabled"), "{message}");
    let err = transformer
        .transform(&transform("acme.gone", json!({})), "{}")
        .await
        .unwrap_err();
    assert!(matches!(err, TransformError::Failed { .. }), "{err:?}");
}
