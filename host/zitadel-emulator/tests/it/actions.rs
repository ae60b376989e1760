//! Actions v2: targets, executions and the signed event calls. Actions v2 is not in the merged
//! swagger, so bodies are checked against the reference's field lists (zitadel-api.md §5).

use std::time::Duration;

use axum::{Router, body::Bytes, http::HeaderMap, routing::post};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::{
    oidc::human,
    support::{PASSWORD, env, unique},
    users::assert_keys,
};

/// A receiver on 127.0.0.1 that forwards (signature header, body) of every call.
async fn receiver() -> (String, mpsc::UnboundedReceiver<(String, Value)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let sig = headers
                    .get("zitadel-signature")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                assert_eq!(headers["content-type"], "application/json");
                let parsed: Value = serde_json::from_slice(&body).expect("JSON body");
                let raw = String::from_utf8(body.to_vec()).expect("UTF-8 body");
                let _ = tx.send((sig, json!({"raw": raw, "json": parsed})));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

/// Receives the next call of `event_type` (skipping others), within 10 s.
async fn next_event(
    rx: &mut mpsc::UnboundedReceiver<(String, Value)>,
    event_type: &str,
) -> (String, String, Value) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let (sig, body) = rx.recv().await.expect("receiver alive");
            if body["json"]["event_type"] == event_type {
                return (
                    sig,
                    body["raw"].as_str().unwrap().to_owned(),
                    body["json"].clone(),
                );
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {event_type} event within 10 s"))
}

fn verify_signature(header: &str, body: &str, key: &str) {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("v1", value)) => v1.push(value.to_owned()),
            _ => panic!("unexpected signature part {part}"),
        }
    }
    let t = t.expect("t=");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - t.parse::<i64>().unwrap()).abs() < 300);
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    assert!(v1.contains(&expected), "signature does not verify");
}

#[tokio::test]
async fn targets_and_executions_crud() {
    let e = env().await;
    let api = e.api.unchecked();
    let name = unique("target");
    let created = api
        .post("/v2/actions/targets", json!({"name": name, "restWebhook": {"interruptOnError": true}, "timeout": "10s", "endpoint": "https://hooks.example/x"}))
        .await
        .ok();
    assert_keys(&created, &["id", "creationDate", "signingKey"]);
    let id = created["id"].as_str().unwrap().to_owned();
    api.post("/v2/actions/targets", json!({"name": name, "restAsync": {}, "timeout": "10s", "endpoint": "https://hooks.example/y"}))
        .await
        .err(409, 6, "");
    for bad in [
        json!({"name": "x", "restAsync": {}, "timeout": "300s", "endpoint": "https://a.example"}),
        json!({"name": "x", "restAsync": {}, "endpoint": "https://a.example"}),
        json!({"name": "x", "restAsync": {}, "restCall": {}, "timeout": "1s", "endpoint": "https://a.example"}),
        json!({"name": "x", "timeout": "1s", "endpoint": "https://a.example"}),
        json!({"name": "x", "restAsync": {}, "timeout": "1s", "endpoint": "not a url"}),
        json!({"name": "", "restAsync": {}, "timeout": "1s", "endpoint": "https://a.example"}),
    ] {
        api.post("/v2/actions/targets", bad).await.err(400, 3, "");
    }
    let got = api.get(&format!("/v2/actions/targets/{id}")).await.ok();
    assert_keys(
        &got["target"],
        &[
            "id",
            "creationDate",
            "changeDate",
            "name",
            "restWebhook",
            "timeout",
            "endpoint",
            "signingKey",
            "payloadType",
        ],
    );
    assert_eq!(got["target"]["restWebhook"]["interruptOnError"], true);
    assert_eq!(got["target"]["timeout"], "10s");
    assert_eq!(got["target"]["payloadType"], "PAYLOAD_TYPE_JSON");
    assert_eq!(got["target"]["signingKey"], created["signingKey"]);

    let updated = api
        .post(
            &format!("/v2/actions/targets/{id}"),
            json!({"restCall": {}, "timeout": "5s", "expirationSigningKey": "0s"}),
        )
        .await
        .ok();
    assert_keys(&updated, &["changeDate", "signingKey"]);
    assert_ne!(updated["signingKey"], created["signingKey"]);
    let got = api.get(&format!("/v2/actions/targets/{id}")).await.ok();
    assert!(got["target"]["restCall"].is_object());
    assert_eq!(got["target"]["timeout"], "5s");
    api.post("/v2/actions/targets/404", json!({"name": "y"}))
        .await
        .err(404, 5, "");

    let listed = api
        .post(
            "/v2/actions/targets/search",
            json!({"filters": [{"targetNameFilter": {"targetName": name}}]}),
        )
        .await
        .ok();
    assert_keys(&listed, &["pagination", "targets"]);
    assert_eq!(listed["pagination"]["totalResult"], "1");
    assert_eq!(listed["targets"][0]["id"], id);

    let set = api
        .put(
            "/v2/actions/executions",
            json!({"condition": {"event": {"event": "user.human.added"}}, "targets": [id]}),
        )
        .await
        .ok();
    assert_keys(&set, &["setDate"]);
    api.put(
        "/v2/actions/executions",
        json!({"condition": {"event": {"group": "user"}}, "targets": ["404"]}),
    )
    .await
    .err(404, 5, "");
    api.put(
        "/v2/actions/executions",
        json!({"condition": {"event": {"event": "a", "all": true}}, "targets": [id]}),
    )
    .await
    .err(400, 3, "");
    api.put(
        "/v2/actions/executions",
        json!({"condition": {"event": {"group": "user"}}, "targets": [{"target": id}]}),
    )
    .await
    .err(400, 3, "");
    let executions = api
        .post(
            "/v2/actions/executions/search",
            json!({"filters": [{"targetFilter": {"targetId": id}}]}),
        )
        .await
        .ok();
    assert_eq!(
        executions["executions"][0]["condition"],
        json!({"event": {"event": "user.human.added"}})
    );
    assert_keys(
        &executions["executions"][0],
        &["condition", "creationDate", "changeDate", "targets"],
    );

    // Deleting the target removes it from executions; deletes are idempotent.
    let deleted = api.delete(&format!("/v2/actions/targets/{id}")).await.ok();
    assert_keys(&deleted, &["deletionDate"]);
    assert_eq!(
        api.delete(&format!("/v2/actions/targets/{id}")).await.ok(),
        json!({})
    );
    let executions = api
        .post("/v2/actions/executions/search", json!({}))
        .await
        .ok();
    assert!(
        executions["pagination"].get("totalResult").is_none(),
        "zero is omitted: {executions}"
    );
    assert!(executions.get("executions").is_none());
    // Only instance owners manage Actions.
    let functions = api.get("/v2/actions/executions/functions").await.ok();
    assert!(
        functions["functions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "preuserinfo")
    );
}

#[tokio::test]
async fn events_reach_targets_signed_and_shaped_like_zitadel() {
    let e = env().await;
    let api = e.api.unchecked();
    let org = e.emulator.default_org_id();
    let (url, mut rx) = receiver().await;
    let target = api
        .post(
            "/v2/actions/targets",
            json!({"name": unique("events"), "restAsync": {}, "timeout": "5s", "endpoint": url}),
        )
        .await
        .ok();
    let key = target["signingKey"].as_str().unwrap().to_owned();
    let id = target["id"].as_str().unwrap();
    for condition in [
        json!({"event": {"event": "user.human.added"}}),
        json!({"event": {"group": "user"}}),
        json!({"event": {"group": "session"}}),
    ] {
        api.put(
            "/v2/actions/executions",
            json!({"condition": condition, "targets": [id]}),
        )
        .await
        .ok();
    }

    let (user_id, login_name) = human(&e.api, &org).await;
    let (sig, raw, body) = next_event(&mut rx, "user.human.added").await;
    verify_signature(&sig, &raw, &key);
    // The payload fields of zitadel-api.md §5, `event_payload` inline (v4 style).
    assert_keys(
        &body,
        &[
            "aggregateID",
            "aggregateType",
            "resourceOwner",
            "instanceID",
            "version",
            "sequence",
            "event_type",
            "created_at",
            "position",
            "userID",
            "event_payload",
        ],
    );
    assert_eq!(body["aggregateID"], user_id);
    assert_eq!(body["aggregateType"], "user");
    assert_eq!(body["resourceOwner"], org);
    assert_eq!(body["instanceID"], e.emulator.instance_id());
    assert_eq!(
        body["userID"],
        e.emulator.admin_user_id(),
        "userID is the editor"
    );
    assert!(body["sequence"].is_u64());
    assert!(
        time::OffsetDateTime::parse(
            body["created_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .is_ok()
    );
    assert_eq!(body["event_payload"]["userName"], login_name);
    assert_eq!(body["event_payload"]["email"], login_name);
    assert_eq!(body["event_payload"]["firstName"], "Test");

    // Password checks through the session API.
    let bad = e
        .api
        .post("/v2/sessions", json!({"checks": {"user": {"userId": user_id}, "password": {"password": "Wr0ng-password!"}}}))
        .await;
    assert_eq!(bad.status, 400);
    let (_, _, failed) = next_event(&mut rx, "user.human.password.check.failed").await;
    assert_eq!(failed["aggregateID"], user_id);
    e.api
        .post(
            "/v2/sessions",
            json!({"checks": {"user": {"userId": user_id}, "password": {"password": PASSWORD}}}),
        )
        .await
        .ok();
    let (_, _, ok) = next_event(&mut rx, "user.human.password.check.succeeded").await;
    assert_eq!(ok["aggregateID"], user_id);
    let (sig, raw, session) = next_event(&mut rx, "session.added").await;
    verify_signature(&sig, &raw, &key);
    assert_eq!(session["aggregateType"], "session");

    e.api.delete(&format!("/v2/users/{user_id}")).await.ok();
    let (_, _, removed) = next_event(&mut rx, "user.removed").await;
    assert_eq!(removed["aggregateID"], user_id);
    assert_eq!(removed["event_payload"]["userName"], login_name);
}
