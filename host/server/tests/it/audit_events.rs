use serde_json::{Value, json};

use crate::on_each_backend;

#[tokio::test]
async fn mutations_are_audited_with_context_and_exported() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let r = c
            .send(
                c.request(reqwest::Method::POST, "/v1/tenants")
                    .header("user-agent", "audit-test/1.0")
                    .json(&json!({"name": "Acme", "slug": "acme"})),
            )
            .await
            .expect(201);
        let request_id = r.header("x-request-id").expect("request id header");
        let tid = r.json::<Value>()["id"].as_str().unwrap().to_owned();
        c.create_app(
            &tid,
            json!({"name": "a", "type": "spa", "redirect_uris": ["https://a.example/cb"]}),
        )
        .await;

        let audit: Value = c
            .get(&format!("/v1/audit-logs?tenant_id={tid}"))
            .await
            .expect(200)
            .json();
        let entries = audit["data"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        let created = &entries[1];
        assert_eq!(created["action"], "tenant.created");
        assert_eq!(created["actor"]["type"], "api_key");
        assert_eq!(created["targets"][0]["type"], "tenant");
        assert_eq!(created["targets"][0]["id"], tid.as_str());
        assert_eq!(created["context"]["location"], "127.0.0.1");
        assert_eq!(created["context"]["user_agent"], "audit-test/1.0");
        assert_eq!(created["context"]["request_id"], request_id.as_str());
        let filtered: Value = c
            .get("/v1/audit-logs?action=app.created")
            .await
            .expect(200)
            .json();
        assert_eq!(filtered["data"].as_array().unwrap().len(), 1);

        let csv = c.get("/v1/audit-logs/export?format=csv").await.expect(200);
        assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
        let text = csv.text();
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("id,occurred_at,action"));
        assert_eq!(
            text.lines().count(),
            1 + 3,
            "header + bootstrap key + tenant + app: {text}"
        );
        assert!(text.contains("tenant.created") && text.contains("audit-test/1.0"));
        let jsonl = c
            .get(&format!(
                "/v1/audit-logs/export?format=jsonl&tenant_id={tid}"
            ))
            .await
            .expect(200)
            .text();
        let parsed: Vec<Value> = jsonl
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            parsed[0]["action"], "tenant.created",
            "exports are oldest first"
        );
        server
    })
    .await;
}

#[tokio::test]
async fn events_feed_resumes_from_a_cursor_and_filters() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let tid = c.create_tenant("Acme", "acme").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        c.create_app(&tid, json!({"name": "a", "type": "spa"}))
            .await;
        let first: Value = c.get("/v1/events?limit=2").await.expect(200).json();
        let kinds: Vec<&str> = first["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["api_key.created", "tenant.created"]);
        let cursor = first["list_metadata"]["after"].as_str().unwrap().to_owned();
        let next: Value = c
            .get(&format!("/v1/events?after={cursor}"))
            .await
            .expect(200)
            .json();
        assert_eq!(next["data"][0]["type"], "app.created");
        assert_eq!(next["data"][0]["tenant_id"], tid.as_str());
        let end = next["list_metadata"]["after"].as_str().unwrap().to_owned();
        let empty: Value = c
            .get(&format!("/v1/events?after={end}"))
            .await
            .expect(200)
            .json();
        assert_eq!(empty["data"], json!([]));
        assert_eq!(
            empty["list_metadata"]["after"],
            end.as_str(),
            "the cursor stays put at the end"
        );
        let apps: Value = c.get("/v1/events?types=app.*").await.expect(200).json();
        assert_eq!(apps["data"].as_array().unwrap().len(), 1);
        c.get("/v1/events?after=evt_01JDQ8X9W3N2D3V0T2K5Q7R8S9")
            .await
            .expect(422);
        server
    })
    .await;
}
