use serde_json::{Value, json};

use crate::on_each_backend;

#[tokio::test]
async fn keys_are_shown_once_hashed_and_listed_without_tokens() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let created: Value = c.post("/v1/api-keys", json!({"name": "deploy", "scope": "platform"})).await.expect(201).json();
        let token = created["token"].as_str().unwrap();
        assert!(token.starts_with(created["token_prefix"].as_str().unwrap()));
        let id = created["id"].as_str().unwrap();
        let got: Value = c.get(&format!("/v1/api-keys/{id}")).await.expect(200).json();
        assert!(got.get("token").is_none());
        let listed = c.get("/v1/api-keys").await.expect(200);
        assert!(!listed.text().contains(token), "tokens never appear in lists");
        // The new key works, and its use is recorded.
        c.with_token(token).get("/v1/tenants").await.expect(200);
        let got: Value = c.get(&format!("/v1/api-keys/{id}")).await.expect(200).json();
        assert!(got["last_used_at"].is_string());
        // Validation.
        let r = c.post("/v1/api-keys", json!({"name": "x", "scope": "tenant"})).await.expect(422);
        assert_eq!(r.error_field().as_deref(), Some("tenant_id"));
        let r = c.post("/v1/api-keys", json!({"name": "x", "scope": "tenant", "tenant_id": "ten_01JDQ8X9W3N2D3V0T2K5Q7R8S9"})).await.expect(404);
        assert_eq!(r.error_code(), "not_found");
        server
    })
    .await;
}

#[tokio::test]
async fn the_bootstrap_credential_is_a_platform_key() {
    let server = gatehouse_testkit::spawn().await;
    let keys: Value = server.client.get("/v1/api-keys").await.expect(200).json();
    let bootstrap = &keys["data"][0];
    assert_eq!(bootstrap["name"], "bootstrap");
    assert_eq!(bootstrap["scope"], "platform");
    server.stop().await;
}
