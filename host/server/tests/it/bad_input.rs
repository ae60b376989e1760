//! Every bad input gets a clear 4xx naming the problem, and changes nothing.

use gatehouse_testkit::{TestClient, TestOptions, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};

use crate::on_each_backend;

/// Everything a bad request could have changed: tenants, apps, keys, audit log, events.
async fn snapshot(c: &TestClient, tenant: &str) -> Value {
    json!({
        "tenants": c.get("/v1/tenants?limit=100").await.expect(200).json::<Value>()["data"],
        "apps": c.get(&format!("/v1/tenants/{tenant}/apps?limit=100")).await.expect(200).json::<Value>()["data"],
        "keys": c.get("/v1/api-keys?limit=100").await.expect(200).json::<Value>()["data"],
        "audit": c.get("/v1/audit-logs?limit=100").await.expect(200).json::<Value>()["data"],
        "events": c.get("/v1/events?limit=100").await.expect(200).json::<Value>()["data"],
    })
}

#[tokio::test]
async fn bad_bodies_are_refused_with_the_field_named_and_change_nothing() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let tid = c.create_tenant("Acme", "acme").await["id"].as_str().unwrap().to_owned();
        let before = snapshot(c, &tid).await;
        let apps = format!("/v1/tenants/{tid}/apps");

        // Malformed JSON.
        let r = c.send(c.request(Method::POST, "/v1/tenants").header("content-type", "application/json").body("{\"name\": ")).await.expect(400);
        assert_eq!(r.error_code(), "malformed_json");
        // Not JSON at all.
        let r = c.send(c.request(Method::POST, "/v1/tenants").header("content-type", "text/plain").body("name=x")).await.expect(415);
        assert_eq!(r.error_code(), "unsupported_media_type");
        // Wrong types.
        let r = c.post("/v1/tenants", json!({"name": 42, "slug": "x"})).await.expect(422);
        assert_eq!(r.error_field().as_deref(), Some("name"));
        let r = c.post(&apps, json!({"name": "a", "type": "web", "redirect_uris": "https://a.example/cb"})).await.expect(422);
        assert_eq!(r.error_field().as_deref(), Some("redirect_uris"));
        // Unknown fields are rejected, not ignored.
        let r = c.post("/v1/tenants", json!({"name": "x", "slug": "x", "colour": "red"})).await.expect(422);
        assert_eq!(r.error_field().as_deref(), Some("colour"));
        // Missing fields.
        let r = c.post("/v1/tenants", json!({"name": "x"})).await.expect(422);
        assert!(r.text().contains("slug"), "{}", r.text());
        // Bad values.
        let r = c.post("/v1/tenants", json!({"name": "x", "slug": "Not A Slug"})).await.expect(422);
        assert_eq!(r.error_field().as_deref(), Some("slug"));
        let r = c.post("/v1/tenants", json!({"name": "x", "slug": "ok-slug", "domains": ["acme.example", "not a domain"]})).await.expect(422);
        assert_eq!(r.error_field().as_deref(), Some("domains[1]"));
        let r = c.post(&apps, json!({"name": "a", "type": "desktop"})).await.expect(422);
        assert_eq!(r.error_field().as_deref(), Some("type"));
        // Redirect URIs by ZITADEL's rules.
        for (uri, app_type) in [
            ("http://app.example.com/cb", "web"),
            ("com.example.app:/cb", "spa"),
            ("/relative", "web"),
            ("javascript:alert(1)", "native"),
            ("https://app.example.com/cb#frag", "web"),
        ] {
            let r = c.post(&apps, json!({"name": "a", "type": app_type, "redirect_uris": ["https://ok.example/cb", uri]})).await.expect(422);
            assert_eq!(r.error_field().as_deref(), Some("redirect_uris[1]"), "{uri}: {}", r.text());
        }
        let r = c.post(&apps, json!({"name": "a", "type": "web", "post_logout_redirect_uris": ["http://evil.example/"]})).await.expect(422);
        assert_eq!(r.error_field().as_deref(), Some("post_logout_redirect_uris[0]"));
        // Duplicate slug.
        let r = c.post("/v1/tenants", json!({"name": "Other", "slug": "acme"})).await.expect(409);
        assert_eq!(r.error_code(), "slug_taken");
        assert_eq!(r.error_field().as_deref(), Some("slug"));
        // Bad ids and query parameters.
        c.get("/v1/tenants/app_01JDQ8X9W3N2D3V0T2K5Q7R8S9").await.expect(422);
        c.get("/v1/tenants/ten_01JDQ8X9W3N2D3V0T2K5Q7R8S9").await.expect(404);
        let r = c.get("/v1/tenants?limt=5").await.expect(422);
        assert_eq!(r.error_field().as_deref(), Some("limt"));
        c.get("/v1/tenants?limit=1000").await.expect(422);
        c.get("/v1/events?since=yesterday").await.expect(422);
        c.get("/v1/events?types=Bad%20Type").await.expect(422);
        c.get("/v1/nope").await.expect(404);

        assert_eq!(snapshot(c, &tid).await, before, "{}: bad input changed stored state", server.backend.name());
        server
    })
    .await;
}

#[tokio::test]
async fn oversize_bodies_are_413() {
    let server = spawn_with(TestOptions::default().env("GATEHOUSE_MAX_BODY_BYTES", "2048")).await;
    let c = &server.client;
    let big = json!({"name": "x".repeat(4096), "slug": "big"});
    let r = c.post("/v1/tenants", big.clone()).await.expect(413);
    assert_eq!(r.error_code(), "payload_too_large");
    // Also through the idempotency layer, which reads the body first.
    let r = c
        .send(
            c.request(Method::POST, "/v1/tenants")
                .header("idempotency-key", "k")
                .json(&big),
        )
        .await
        .expect(413);
    assert_eq!(r.error_code(), "payload_too_large");
    let tenants: Value = c.get("/v1/tenants").await.expect(200).json();
    assert_eq!(tenants["data"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn credentials_are_checked_and_tenants_are_isolated() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let acme = c.create_tenant("Acme", "acme").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let globex = c.create_tenant("Globex", "globex").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let globex_app = c
            .create_app(
                &globex,
                json!({"name": "g", "type": "spa", "redirect_uris": ["https://g.example/cb"]}),
            )
            .await;
        let before = snapshot(c, &acme).await;

        // Missing, malformed, unknown credentials.
        let r = c.anonymous().get("/v1/tenants").await.expect(401);
        assert_eq!(r.error_code(), "unauthorized");
        assert!(r.header("www-authenticate").is_some());
        c.send(
            c.anonymous()
                .request(Method::GET, "/v1/tenants")
                .header("authorization", "Basic Zm9vOmJhcg=="),
        )
        .await
        .expect(401);
        c.with_token("ghk_unknownunknownunknownunknown")
            .get("/v1/tenants")
            .await
            .expect(401);

        // A tenant-scoped key.
        let key: Value = c
            .post(
                "/v1/api-keys",
                json!({"name": "acme-ci", "scope": "tenant", "tenant_id": acme}),
            )
            .await
            .expect(201)
            .json();
        let token = key["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("ghk_"));
        let scoped = c.with_token(&token);
        scoped.get(&format!("/v1/tenants/{acme}")).await.expect(200);
        // Another tenant's objects do not exist for it.
        let r = scoped
            .get(&format!("/v1/tenants/{globex}"))
            .await
            .expect(404);
        assert_eq!(r.error_code(), "not_found");
        scoped
            .get(&format!("/v1/tenants/{globex}/apps"))
            .await
            .expect(404);
        let gaid = globex_app["id"].as_str().unwrap();
        scoped
            .get(&format!("/v1/tenants/{globex}/apps/{gaid}"))
            .await
            .expect(404);
        scoped
            .delete(&format!("/v1/tenants/{globex}/apps/{gaid}"))
            .await
            .expect(404);
        scoped
            .patch(&format!("/v1/tenants/{globex}"), json!({"name": "pwned"}))
            .await
            .expect(404);
        scoped
            .post(
                &format!("/v1/tenants/{globex}/apps"),
                json!({"name": "x", "type": "spa"}),
            )
            .await
            .expect(404);
        scoped
            .get(&format!("/v1/events?tenant_id={globex}"))
            .await
            .expect(404);
        scoped
            .get(&format!("/v1/audit-logs?tenant_id={globex}"))
            .await
            .expect(404);
        scoped
            .post(
                "/v1/api-keys",
                json!({"name": "x", "scope": "tenant", "tenant_id": globex}),
            )
            .await
            .expect(404);
        // Listing shows only its own tenant; platform operations are forbidden.
        let listed: Value = scoped.get("/v1/tenants").await.expect(200).json();
        assert_eq!(listed["data"].as_array().unwrap().len(), 1);
        scoped
            .post("/v1/tenants", json!({"name": "New", "slug": "new"}))
            .await
            .expect(403);
        scoped
            .post("/v1/api-keys", json!({"name": "x", "scope": "platform"}))
            .await
            .expect(403);
        scoped
            .delete(&format!("/v1/tenants/{acme}"))
            .await
            .expect(403);

        // Revoked keys stop working at once.
        let kid = key["id"].as_str().unwrap();
        c.post(&format!("/v1/api-keys/{kid}/revoke"), json!({}))
            .await
            .expect(200);
        scoped.get(&format!("/v1/tenants/{acme}")).await.expect(401);

        // Nothing changed but the key's creation and revocation.
        let after = snapshot(c, &acme).await;
        assert_eq!(after["tenants"], before["tenants"]);
        assert_eq!(after["apps"], before["apps"]);
        let actions: Vec<&str> = after["audit"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            &actions[..2],
            ["api_key.revoked", "api_key.created"],
            "{actions:?}"
        );
        assert_eq!(
            after["audit"].as_array().unwrap().len(),
            before["audit"].as_array().unwrap().len() + 2
        );
        server
    })
    .await;
}
