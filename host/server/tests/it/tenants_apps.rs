use serde_json::{Value, json};

use crate::on_each_backend;

#[tokio::test]
async fn tenant_and_app_lifecycle_survives_a_restart() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let tenant = c.create_tenant("Acme", "acme").await;
        let tid = tenant["id"].as_str().unwrap().to_owned();
        assert_eq!(tenant["slug"], "acme");
        assert_eq!(tenant["status"], "active");
        assert!(tenant["sync"]["state"].is_string());

        let app = c
            .create_app(&tid, json!({
                "name": "Portal",
                "type": "web",
                "redirect_uris": ["https://portal.acme.example/callback", "http://localhost:3000/cb"],
                "post_logout_redirect_uris": ["https://portal.acme.example/"]
            }))
            .await;
        let aid = app["id"].as_str().unwrap().to_owned();
        assert_eq!(app["type"], "web");
        assert_eq!(app["redirect_uris"].as_array().unwrap().len(), 2);

        let got: Value = c.get(&format!("/v1/tenants/{tid}/apps/{aid}")).await.expect(200).json();
        assert_eq!(got["name"], "Portal");
        assert!(got.get("client_secret").is_none(), "secrets are never in reads");

        let patched: Value = c
            .patch(&format!("/v1/tenants/{tid}/apps/{aid}"), json!({"name": "Portal 2", "redirect_uris": ["https://p2.acme.example/cb"]}))
            .await
            .expect(200)
            .json();
        assert_eq!(patched["name"], "Portal 2");
        assert_eq!(patched["redirect_uris"], json!(["https://p2.acme.example/cb"]));

        let renamed: Value = c.patch(&format!("/v1/tenants/{tid}"), json!({"name": "Acme Inc", "domains": ["acme.example"]})).await.expect(200).json();
        assert_eq!(renamed["domains"], json!(["acme.example"]));

        // Everything is still there after a restart on the same data.
        let server = server.restart().await;
        let c = &server.client;
        let tenants: Value = c.get("/v1/tenants").await.expect(200).json();
        assert_eq!(tenants["data"][0]["name"], "Acme Inc", "{}", server.backend.name());
        let apps: Value = c.get(&format!("/v1/tenants/{tid}/apps")).await.expect(200).json();
        assert_eq!(apps["data"][0]["name"], "Portal 2");

        c.delete(&format!("/v1/tenants/{tid}/apps/{aid}")).await.expect(204);
        c.get(&format!("/v1/tenants/{tid}/apps/{aid}")).await.expect(404);
        c.delete(&format!("/v1/tenants/{tid}")).await.expect(204);
        c.get(&format!("/v1/tenants/{tid}")).await.expect(404);
        server
    })
    .await;
}

#[tokio::test]
async fn public_clients_cannot_rotate_a_secret_and_unsynced_apps_have_none() {
    on_each_backend(|server| async move {
        let c = &server.client;
        let tid = c.create_tenant("Spa Co", "spa-co").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let spa = c
            .create_app(
                &tid,
                json!({"name": "spa", "type": "spa", "redirect_uris": ["https://spa.example/cb"]}),
            )
            .await;
        assert!(spa.get("client_secret").is_none());
        let aid = spa["id"].as_str().unwrap();
        let r = c
            .post(
                &format!("/v1/tenants/{tid}/apps/{aid}/rotate-secret"),
                json!({}),
            )
            .await
            .expect(409);
        assert_eq!(r.error_code(), "public_client");
        let r = c
            .post(
                &format!("/v1/tenants/{tid}/apps/{aid}/client-secret"),
                json!({}),
            )
            .await
            .expect(409);
        assert_eq!(r.error_code(), "no_secret");
        server
    })
    .await;
}

#[tokio::test]
async fn pagination_walks_every_tenant_once() {
    on_each_backend(|server| async move {
        let c = &server.client;
        for i in 0..7 {
            c.create_tenant(&format!("T{i}"), &format!("t-{i}")).await;
        }
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/tenants?limit=3&after={a}"),
                None => "/v1/tenants?limit=3".to_owned(),
            };
            let page: Value = c.get(&path).await.expect(200).json();
            for t in page["data"].as_array().unwrap() {
                seen.push(t["slug"].as_str().unwrap().to_owned());
            }
            match page["list_metadata"]["after"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => break,
            }
        }
        let mut expected: Vec<String> = (0..7).rev().map(|i| format!("t-{i}")).collect();
        expected.sort_by(|a, b| b.cmp(a));
        seen.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, expected);
        server
    })
    .await;
}
