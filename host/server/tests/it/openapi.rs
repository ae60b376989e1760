use serde_json::Value;

#[tokio::test]
async fn the_openapi_document_lists_every_route_with_its_errors() {
    let server = gatehouse_testkit::spawn().await;
    let doc: Value = server
        .client
        .anonymous()
        .get("/v1/openapi.json")
        .await
        .expect(200)
        .json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/tenants", "post"),
        ("/v1/tenants", "get"),
        ("/v1/tenants/{tenant_id}", "patch"),
        ("/v1/tenants/{tenant_id}", "delete"),
        ("/v1/tenants/{tenant_id}/apps", "post"),
        (
            "/v1/tenants/{tenant_id}/apps/{app_id}/rotate-secret",
            "post",
        ),
        (
            "/v1/tenants/{tenant_id}/apps/{app_id}/client-secret",
            "post",
        ),
        ("/v1/api-keys", "post"),
        ("/v1/api-keys/{key_id}/revoke", "post"),
        ("/v1/audit-logs", "get"),
        ("/v1/audit-logs/export", "get"),
        ("/v1/events", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ] {
        let op = &paths.get(path).unwrap_or_else(|| panic!("{path} missing"))[method];
        assert!(op.is_object(), "{method} {path} missing");
        let responses = op["responses"].as_object().unwrap();
        assert!(responses.contains_key("500"), "{method} {path}");
        if path.starts_with("/v1/") {
            assert!(
                responses.contains_key("401") && responses.contains_key("422"),
                "{method} {path}"
            );
            assert_eq!(op["security"][0]["bearer"], serde_json::json!([]));
        }
        if path.contains('{') {
            assert!(responses.contains_key("404"), "{method} {path}");
        }
    }
    // Every documented path answers something other than the router's 404.
    for path in paths.keys().filter(|p| !p.contains('{')) {
        let r = server.client.get(path).await;
        assert!(
            !(r.status.as_u16() == 404 && r.text().contains("no such route")),
            "{path} is documented but not routed"
        );
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    server.stop().await;
}

#[tokio::test]
async fn health_and_readiness() {
    let server = gatehouse_testkit::spawn().await;
    let c = server.client.anonymous();
    let health: Value = c.get("/healthz").await.expect(200).json();
    assert_eq!(health["status"], "ok");
    let ready: Value = c.get("/readyz").await.expect(200).json();
    assert_eq!(ready["status"], "ok");
    server.stop().await;
}
