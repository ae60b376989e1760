use gatehouse_testkit::spawn;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn same_key_same_body_replays_and_different_body_conflicts() {
    let server = spawn().await;
    let c = &server.client;
    let post = |key: &str, body: Value| {
        c.request(Method::POST, "/v1/tenants")
            .header("idempotency-key", key)
            .json(&body)
    };

    let first = c
        .send(post("create-acme", json!({"name": "Acme", "slug": "acme"})))
        .await
        .expect(201);
    let again = c
        .send(post("create-acme", json!({"name": "Acme", "slug": "acme"})))
        .await
        .expect(201);
    assert_eq!(first.body, again.body, "the replay is the first response");
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert!(first.header("idempotent-replayed").is_none());

    let r = c
        .send(post(
            "create-acme",
            json!({"name": "Other", "slug": "other"}),
        ))
        .await
        .expect(409);
    assert_eq!(r.error_code(), "idempotency_key_reused");

    // Only one tenant exists.
    let tenants: Value = c.get("/v1/tenants").await.expect(200).json();
    assert_eq!(tenants["data"].as_array().unwrap().len(), 1);

    // Keys are per credential: another key may reuse the name.
    let key: Value = c
        .post(
            "/v1/api-keys",
            json!({"name": "other", "scope": "platform"}),
        )
        .await
        .expect(201)
        .json();
    let other = c.with_token(key["token"].as_str().unwrap());
    let r = other
        .send(
            other
                .request(Method::POST, "/v1/tenants")
                .header("idempotency-key", "create-acme")
                .json(&json!({"name": "Acme", "slug": "acme"})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 409);
    assert_eq!(r.error_code(), "slug_taken");

    // A rejected request is not remembered: the client can fix the body and reuse the key.
    let bad = c
        .send(post("fix-me", json!({"name": "Bad", "slug": "BAD"})))
        .await
        .expect(422);
    assert_eq!(bad.error_field().as_deref(), Some("slug"));
    c.send(post("fix-me", json!({"name": "Fixed", "slug": "fixed"})))
        .await
        .expect(201);
    c.send(post(&"k".repeat(300), json!({}))).await.expect(422);
    server.stop().await;
}

#[tokio::test]
async fn replayable_responses_with_secrets_are_not_stored_in_clear() {
    let server = spawn().await;
    let c = &server.client;
    let request = || {
        c.request(Method::POST, "/v1/api-keys")
            .header("idempotency-key", "key-once")
            .json(&json!({"name": "ci", "scope": "platform"}))
    };
    let first: Value = c.send(request()).await.expect(201).json();
    let token = first["token"].as_str().unwrap().to_owned();
    let replayed = c.send(request()).await.expect(201);
    assert_eq!(
        replayed.json::<Value>()["token"],
        token.as_str(),
        "the replay still answers with the token"
    );
    // Neither the database nor its write-ahead log holds the token in clear.
    for file in ["gatehouse.db", "gatehouse.db-wal"] {
        let path = server.data_dir.path().join(file);
        if let Ok(bytes) = std::fs::read(&path) {
            let haystack = String::from_utf8_lossy(&bytes);
            assert!(
                !haystack.contains(&token),
                "{file} contains the API token in clear"
            );
        }
    }
    server.stop().await;
}
