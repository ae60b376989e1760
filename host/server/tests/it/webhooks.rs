//! Webhooks through the HTTP API: endpoint management, validation, the egress policy at save
//! time, deliveries of Gatehouse's own events, replay, and transforms run by the real built-in
//! plugins.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use gatehouse_testkit::{Backend, TestOptions, TestServer, spawn_with};
use gatehouse_webhooks::signing::{DEFAULT_TOLERANCE, Secret, SignatureHeaders, verify};
use serde_json::{Value, json};

type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A loopback receiver answering 204 and keeping what it got.
async fn receiver() -> (String, Seen) {
    async fn take(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> StatusCode {
        seen.lock().unwrap().push((headers, body));
        StatusCode::NO_CONTENT
    }
    let seen: Seen = Arc::default();
    let app = Router::new().fallback(take).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hooks"), seen)
}

async fn wait_for(seen: &Seen, n: usize) -> Vec<(HeaderMap, Bytes)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = seen.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} deliveries arrived",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn verified(headers: &HeaderMap, body: &[u8], secret: &str) -> bool {
    let headers = SignatureHeaders::from_header_map(headers).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    verify(
        &headers,
        body,
        &[Secret::parse(secret).unwrap()],
        DEFAULT_TOLERANCE,
        now,
    )
    .is_ok()
}

/// Servers whose egress reaches loopback receivers, with quick retries.
async fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(TestServer) -> Fut,
    Fut: std::future::Future<Output = TestServer>,
{
    for backend in Backend::all().await {
        let options = TestOptions::backend(backend)
            .env("GATEHOUSE_EGRESS_ALLOW", "127.0.0.1")
            .env("GATEHOUSE_WEBHOOK_RETRY_SCHEDULE", "200ms,200ms");
        let server = spawn_with(options).await;
        let server = test(server).await;
        server.stop().await;
    }
}

#[tokio::test]
async fn endpoints_are_managed_audited_and_confined_to_their_tenant() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let (url, _) = receiver().await;
        let tenant = c.create_tenant("Acme", "acme-hooks").await;
        let tid = tenant["id"].as_str().unwrap().to_owned();

        let created: Value = c
            .post(&format!("/v1/tenants/{tid}/webhooks"), json!({"url": url, "description": "CRM sync"}))
            .await
            .expect(201)
            .json();
        let eid = created["id"].as_str().unwrap().to_owned();
        assert!(eid.starts_with("whe_"));
        assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
        assert_eq!(created["event_types"], json!(["*"]));
        assert_eq!(created["enabled"], true);

        let got: Value = c.get(&format!("/v1/tenants/{tid}/webhooks/{eid}")).await.expect(200).json();
        assert!(got.get("secret").is_none(), "the secret is shown once");
        assert_eq!(got["description"], "CRM sync");

        let patched: Value = c
            .patch(
                &format!("/v1/tenants/{tid}/webhooks/{eid}"),
                json!({"event_types": ["user.*", "app.created"], "rate_limit": 20, "enabled": false}),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(patched["event_types"], json!(["user.*", "app.created"]));
        assert_eq!(patched["rate_limit"], 20);
        assert_eq!(patched["enabled"], false);
        assert!(patched["disabled_reason"].as_str().unwrap().starts_with("disabled by"));
        let patched: Value = c
            .patch(&format!("/v1/tenants/{tid}/webhooks/{eid}"), json!({"rate_limit": null, "enabled": true}))
            .await
            .expect(200)
            .json();
        assert_eq!((patched["rate_limit"].clone(), patched["disabled_reason"].clone()), (Value::Null, Value::Null));

        let list: Value = c.get(&format!("/v1/tenants/{tid}/webhooks")).await.expect(200).json();
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        let catalogue: Value = c.get("/v1/webhook-event-types").await.expect(200).json();
        assert!(catalogue.as_array().unwrap().iter().any(|t| t["name"] == "endpoint.disabled"));

        // Another tenant's key sees nothing of it.
        let other = c.create_tenant("Other", "other-hooks").await;
        let key: Value = c
            .post("/v1/api-keys", json!({"name": "other", "scope": "tenant", "tenant_id": other["id"]}))
            .await
            .expect(201)
            .json();
        let theirs = c.with_token(key["token"].as_str().unwrap());
        theirs.get(&format!("/v1/tenants/{tid}/webhooks/{eid}")).await.expect(404);
        theirs.get(&format!("/v1/tenants/{tid}/webhooks")).await.expect(404);
        theirs.delete(&format!("/v1/tenants/{tid}/webhooks/{eid}")).await.expect(404);
        theirs.get(&format!("/v1/tenants/{tid}/webhook-deliveries")).await.expect(404);

        let audit: Value = c.get(&format!("/v1/audit-logs?tenant_id={tid}&limit=100")).await.expect(200).json();
        let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert!(actions.contains(&"endpoint.created") && actions.contains(&"endpoint.updated"), "{actions:?}");

        let rotated: Value = c
            .post(&format!("/v1/tenants/{tid}/webhooks/{eid}/rotate-secret"), json!({"previous_valid_for_seconds": 3600}))
            .await
            .expect(200)
            .json();
        assert!(rotated["secret"].as_str().unwrap().starts_with("whsec_"));
        assert_ne!(rotated["secret"], created["secret"]);
        // No body at all takes the defaults.
        let resp = c
            .send(c.request(reqwest::Method::POST, &format!("/v1/tenants/{tid}/webhooks/{eid}/rotate-secret")))
            .await
            .expect(200);
        assert!(resp.json::<Value>()["previous_secret_expires_at"].is_string());

        c.delete(&format!("/v1/tenants/{tid}/webhooks/{eid}")).await.expect(204);
        c.get(&format!("/v1/tenants/{tid}/webhooks/{eid}")).await.expect(404);
        server
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_stores_nothing() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let (url, _) = receiver().await;
        let tenant = c.create_tenant("Acme", "acme-bad").await;
        let tid = tenant["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/tenants/{tid}/webhooks");
        let cases = [
            (json!({"url": "not a url"}), "url"),
            (json!({"url": "ftp://hooks.example.com/x"}), "url"),
            (json!({"url": "https://hooks.example.com/#frag"}), "url"),
            (
                json!({"url": url, "event_types": ["user.exploded"]}),
                "event_types[0]",
            ),
            (
                json!({"url": url, "event_types": ["*", "nope.*"]}),
                "event_types[1]",
            ),
            (json!({"url": url, "event_types": []}), "event_types"),
            (json!({"url": url, "rate_limit": 0}), "rate_limit"),
            (json!({"url": url, "secret": "whsec_c2hvcnQ="}), "secret"),
            (json!({"url": url, "secret": "no-prefix"}), "secret"),
            (json!({"url": url, "urll": "x"}), "urll"),
            (
                json!({"url": url, "transform": {"plugin": "Not An Id"}}),
                "transform.plugin",
            ),
            (
                json!({"url": url, "transform": {"plugin": "gatehouse.slack", "config": []}}),
                "transform.config",
            ),
        ];
        for (body, field) in cases {
            let resp = c.post(&path, body.clone()).await.expect(422);
            assert_eq!(
                resp.error_field().as_deref(),
                Some(field),
                "{body}: {}",
                resp.text()
            );
        }
        let list: Value = c.get(&path).await.expect(200).json();
        assert!(
            list["data"].as_array().unwrap().is_empty(),
            "nothing stored"
        );
        let audit: Value = c
            .get(&format!(
                "/v1/audit-logs?tenant_id={tid}&action=endpoint.created"
            ))
            .await
            .expect(200)
            .json();
        assert!(audit["data"].as_array().unwrap().is_empty());

        // Deliveries and attempts filters are checked too.
        c.get(&format!("/v1/tenants/{tid}/webhook-deliveries?status=lost"))
            .await
            .expect(422);
        let resp = c
            .get(&format!(
                "/v1/tenants/{tid}/webhook-deliveries?event_type=user.exploded"
            ))
            .await
            .expect(422);
        assert_eq!(resp.error_field().as_deref(), Some("event_type"));
        let resp = c
            .get(&format!(
                "/v1/tenants/{tid}/webhook-attempts?since=yesterday"
            ))
            .await
            .expect(422);
        assert_eq!(resp.error_field().as_deref(), Some("since"));
        server
    })
    .await;
}

#[tokio::test]
async fn internal_addresses_are_refused_at_save_unless_allowlisted() {
    // No allowlist here: loopback is as internal as anything else.
    let server = spawn_with(TestOptions::default()).await;
    let c = &server.client;
    let tenant = c.create_tenant("Acme", "acme-ssrf").await;
    let tid = tenant["id"].as_str().unwrap().to_owned();
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://10.0.0.1/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/hooks",
        "http://0x7f.1/hooks",
        "http://localhost:9/hooks",
    ] {
        let resp = c
            .post(&format!("/v1/tenants/{tid}/webhooks"), json!({"url": url}))
            .await
            .expect(422);
        assert_eq!(resp.error_field().as_deref(), Some("url"), "{url}");
        assert!(resp.text().contains("blocked"), "{url}: {}", resp.text());
    }
    server.stop().await;

    // https can be required per deployment.
    let server =
        spawn_with(TestOptions::default().env("GATEHOUSE_EGRESS_REQUIRE_HTTPS", "true")).await;
    let c = &server.client;
    let tenant = c.create_tenant("Acme", "acme-https").await;
    let tid = tenant["id"].as_str().unwrap();
    let resp = c
        .post(
            &format!("/v1/tenants/{tid}/webhooks"),
            json!({"url": "http://hooks.example.com/x"}),
        )
        .await
        .expect(422);
    assert!(resp.text().contains("https"), "{}", resp.text());
    server.stop().await;
}

#[tokio::test]
async fn gatehouse_events_are_delivered_signed_and_replayable() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let (url, seen) = receiver().await;
        let tenant = c.create_tenant("Acme", "acme-e2e").await;
        let tid = tenant["id"].as_str().unwrap().to_owned();
        let endpoint: Value = c
            .post(&format!("/v1/tenants/{tid}/webhooks"), json!({"url": url, "event_types": ["app.*"]}))
            .await
            .expect(201)
            .json();
        let eid = endpoint["id"].as_str().unwrap().to_owned();
        let secret = endpoint["secret"].as_str().unwrap().to_owned();

        let app = c
            .create_app(&tid, json!({"name": "Portal", "type": "spa", "redirect_uris": ["http://localhost:3000/cb"]}))
            .await;
        let got = wait_for(&seen, 1).await;
        let (headers, body) = &got[0];
        assert!(verified(headers, body, &secret), "signed with the endpoint's secret");
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["type"], "app.created");
        assert_eq!(event["data"]["id"], app["id"]);
        let webhook_id = headers["webhook-id"].to_str().unwrap().to_owned();

        // The delivery and its attempt, through the API (listed once its first attempt is
        // recorded, within moments of the request).
        let deadline = Instant::now() + Duration::from_secs(10);
        let delivery = loop {
            let page: Value = c
                .get(&format!("/v1/tenants/{tid}/webhook-deliveries?endpoint_id={eid}&event_type=app.*"))
                .await
                .expect(200)
                .json();
            if !page["data"][0].is_null() || Instant::now() > deadline {
                break page["data"][0].clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(delivery["id"], webhook_id.as_str());
        let delivery = loop {
            let d: Value = c.get(&format!("/v1/tenants/{tid}/webhook-deliveries/{webhook_id}")).await.expect(200).json();
            if d["status"] == "succeeded" || Instant::now() > deadline {
                break d;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(delivery["status"], "succeeded");
        let attempts: Value = c
            .get(&format!("/v1/tenants/{tid}/webhook-attempts?delivery_id={webhook_id}"))
            .await
            .expect(200)
            .json();
        assert_eq!(attempts["data"][0]["response_status"], 204);
        assert_eq!(attempts["data"][0]["status"], "succeeded");

        // Test action: a signed endpoint.test message, reported back, nothing stored.
        let result: Value = c.post(&format!("/v1/tenants/{tid}/webhooks/{eid}/test"), json!({})).await.expect(200).json();
        assert_eq!((result["status"].clone(), result["response_status"].clone()), (json!("succeeded"), json!(204)));
        let got = wait_for(&seen, 2).await;
        assert_eq!(serde_json::from_slice::<Value>(&got[1].1).unwrap()["type"], "endpoint.test");
        assert!(verified(&got[1].0, &got[1].1, &secret));

        // Resend: the same webhook-id again.
        c.post(&format!("/v1/tenants/{tid}/webhook-deliveries/{webhook_id}/resend"), json!({})).await.expect(202);
        let got = wait_for(&seen, 3).await;
        assert_eq!(got[2].0["webhook-id"].to_str().unwrap(), webhook_id);
        // Recover since before the app: the app.created event again.
        let since = tenant["created_at"].as_str().unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let recovered: Value = c
            .post(&format!("/v1/tenants/{tid}/webhooks/{eid}/recover"), json!({"since": since}))
            .await
            .expect(202)
            .json();
        assert_eq!(recovered["enqueued"], 1);
        wait_for(&seen, 4).await;
        let redriven: Value = c.post(&format!("/v1/tenants/{tid}/webhook-deliveries/redrive"), json!({})).await.expect(202).json();
        assert_eq!(redriven["enqueued"], 0, "no dead letters");
        let unknown = c
            .post(&format!("/v1/tenants/{tid}/webhook-deliveries/redrive"), json!({"endpoint_id": "whe_01JDQ8X9W3N2D3V0T2K5Q7R8S9"}))
            .await
            .expect(422);
        assert_eq!(unknown.error_field().as_deref(), Some("endpoint_id"));
        server
    })
    .await;
}

#[tokio::test]
async fn transforms_run_in_the_builtin_plugins() {
    let server =
        spawn_with(TestOptions::default().env("GATEHOUSE_EGRESS_ALLOW", "127.0.0.1")).await;
    let c = &server.client;
    let (url, seen) = receiver().await;
    let tenant = c.create_tenant("Acme", "acme-plugins").await;
    let tid = tenant["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/tenants/{tid}/webhooks");

    // Configs are checked against each plugin's describe schema.
    for (transform, field) in [
        (
            json!({"plugin": "gatehouse.slack", "config": {"title": 5}}),
            "transform.config.title",
        ),
        (
            json!({"plugin": "gatehouse.slack", "config": {"colour": "red"}}),
            "transform.config.colour",
        ),
        (
            json!({"plugin": "gatehouse.filter", "config": {"event_types": "user.*"}}),
            "transform.config.event_types",
        ),
        (json!({"plugin": "gatehouse.nope"}), "transform.plugin"),
        (json!({"plugin": "gatehouse.google"}), "transform.plugin"),
    ] {
        let resp = c
            .post(&path, json!({"url": url, "transform": transform}))
            .await
            .expect(422);
        assert_eq!(
            resp.error_field().as_deref(),
            Some(field),
            "{}",
            resp.text()
        );
    }

    let cloud: Value = c
        .post(&path, json!({"url": url, "event_types": ["app.*"], "transform": {"plugin": "gatehouse.cloudevents", "config": {"type_prefix": "io.acme."}}}))
        .await
        .expect(201)
        .json();
    let filtered: Value = c
        .post(&path, json!({"url": url, "event_types": ["app.*"], "transform": {"plugin": "gatehouse.filter", "config": {"event_types": ["user.*"]}}}))
        .await
        .expect(201)
        .json();
    c.create_app(
        &tid,
        json!({"name": "Portal", "type": "spa", "redirect_uris": ["http://localhost:3000/cb"]}),
    )
    .await;

    let got = wait_for(&seen, 1).await;
    let (headers, body) = &got[0];
    assert_eq!(headers["content-type"], "application/cloudevents+json");
    assert!(verified(headers, body, cloud["secret"].as_str().unwrap()));
    let envelope: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(envelope["specversion"], "1.0");
    assert_eq!(envelope["type"], "io.acme.app.created");

    // The filter dropped the app event: skipped with the plugin's reason, nothing sent.
    let fid = filtered["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let delivery = loop {
        let page: Value = c
            .get(&format!(
                "/v1/tenants/{tid}/webhook-deliveries?endpoint_id={fid}"
            ))
            .await
            .expect(200)
            .json();
        if page["data"][0]["status"] == "skipped" || Instant::now() > deadline {
            break page["data"][0].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(delivery["status"], "skipped");
    assert!(
        delivery["last_error"]
            .as_str()
            .unwrap()
            .contains("is not selected"),
        "{delivery}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.lock().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_webhook_routes() {
    let server = spawn_with(TestOptions::default()).await;
    let doc: Value = server
        .client
        .get("/v1/openapi.json")
        .await
        .expect(200)
        .json();
    for path in [
        "/v1/webhook-event-types",
        "/v1/tenants/{tenant_id}/webhooks",
        "/v1/tenants/{tenant_id}/webhooks/{endpoint_id}",
        "/v1/tenants/{tenant_id}/webhooks/{endpoint_id}/rotate-secret",
        "/v1/tenants/{tenant_id}/webhooks/{endpoint_id}/test",
        "/v1/tenants/{tenant_id}/webhooks/{endpoint_id}/recover",
        "/v1/tenants/{tenant_id}/webhook-deliveries",
        "/v1/tenants/{tenant_id}/webhook-deliveries/{delivery_id}",
        "/v1/tenants/{tenant_id}/webhook-deliveries/{delivery_id}/resend",
        "/v1/tenants/{tenant_id}/webhook-deliveries/redrive",
        "/v1/tenants/{tenant_id}/webhook-attempts",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(
        doc["components"]["schemas"]
            .get("WebhookEndpoint")
            .is_some()
    );
    server.stop().await;
}
