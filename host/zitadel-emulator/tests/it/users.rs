//! v2 users and organizations.

use serde_json::{Value, json};

use crate::support::{PASSWORD, env, unique};

#[tokio::test]
async fn human_users_create_read_list_password_delete() {
    let e = env().await;
    let api = &e.api;
    let org = e.emulator.default_org_id();
    let email = format!("{}@example.com", unique("alice"));
    let created = api
        .post(
            "/v2/users/human",
            json!({
                "organization": {"orgId": org},
                "profile": {"givenName": "Alice", "familyName": "Doe", "gender": "GENDER_FEMALE"},
                "email": {"email": email, "returnCode": {}},
                "metadata": [{"key": "team", "value": "Ymx1ZQ=="}],
                "password": {"password": PASSWORD, "changeRequired": false},
            }),
        )
        .await
        .ok();
    let user_id = created["userId"].as_str().unwrap().to_owned();
    assert_eq!(created["details"]["resourceOwner"], org);
    assert_eq!(created["emailCode"].as_str().unwrap().len(), 6);
    // Username defaults to the email; duplicates → 409 "User already exists (SQL-M0dsf)".
    let dup = api
        .post(
            "/v2/users/human",
            json!({
                "profile": {"givenName": "A", "familyName": "B"},
                "email": {"email": email.to_uppercase()},
            }),
        )
        .await
        .err(409, 6, "SQL-M0dsf");
    assert_eq!(dup["message"], "User already exists (SQL-M0dsf)");
    // Password policy and required fields.
    api.post(
        "/v2/users/human",
        json!({
            "profile": {"givenName": "A", "familyName": "B"},
            "email": {"email": "weak@example.com"},
            "password": {"password": "short"},
        }),
    )
    .await
    .err(400, 3, "");
    api.post(
        "/v2/users/human",
        json!({"profile": {"givenName": "A", "familyName": "B"}, "email": {"email": "no-at-sign"}}),
    )
    .await
    .err(400, 3, "");

    let got = api.get(&format!("/v2/users/{user_id}")).await.ok();
    let user = &got["user"];
    assert_eq!(user["username"], email);
    assert_eq!(user["state"], "USER_STATE_ACTIVE");
    assert_eq!(user["human"]["profile"]["displayName"], "Alice Doe");
    assert_eq!(user["human"]["profile"]["gender"], "GENDER_FEMALE");
    assert!(user["human"]["email"].get("isVerified").is_none());
    assert!(user["loginNames"][0].as_str().unwrap().starts_with(&email));

    let listed = api
        .post("/v2/users", json!({"query": {"limit": 10}, "queries": [
            {"emailQuery": {"emailAddress": email.to_uppercase(), "method": "TEXT_QUERY_METHOD_EQUALS_IGNORE_CASE"}},
            {"typeQuery": {"type": "TYPE_HUMAN"}},
        ]}))
        .await
        .ok();
    assert_eq!(listed["details"]["totalResult"], "1");
    assert_eq!(listed["result"][0]["userId"], user_id);
    let or = api
        .post(
            "/v2/users",
            json!({"queries": [{"orQuery": {"queries": [
                {"inUserIdsQuery": {"userIds": [user_id]}},
                {"userNameQuery": {"userName": "zitadel-admin"}},
            ]}}]}),
        )
        .await
        .ok();
    assert_eq!(or["details"]["totalResult"], "2");
    let not = api
        .post(
            "/v2/users",
            json!({"queries": [{"notQuery": {"query": {"typeQuery": {"type": "TYPE_MACHINE"}}}}]}),
        )
        .await
        .ok();
    assert!(
        not["result"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u.get("human").is_some())
    );

    // Admin sets a password without the current one; a wrong current password is refused.
    api.post(
        &format!("/v2/users/{user_id}/password"),
        json!({"newPassword": {"password": "An0ther-Secret!", "changeRequired": true}}),
    )
    .await
    .ok();
    api.post(
        &format!("/v2/users/{user_id}/password"),
        json!({"newPassword": {"password": "Th1rd-Secret!"}, "currentPassword": "wrong"}),
    )
    .await
    .err(400, 3, "");
    api.post(
        &format!("/v2/users/{user_id}/password"),
        json!({"newPassword": {"password": "Th1rd-Secret!"}, "currentPassword": "An0ther-Secret!"}),
    )
    .await
    .ok();
    let got = api.get(&format!("/v2/users/{user_id}")).await.ok();
    assert!(got["user"]["human"]["passwordChanged"].is_string());

    api.delete(&format!("/v2/users/{user_id}")).await.ok();
    api.get(&format!("/v2/users/{user_id}"))
        .await
        .err(404, 5, "");
    api.delete(&format!("/v2/users/{user_id}"))
        .await
        .err(404, 5, "");
}

#[tokio::test]
async fn organizations_v2() {
    let e = env().await;
    let api = &e.api;
    let name = unique("Globex");
    let created = api
        .post("/v2/organizations", json!({
            "name": name,
            "admins": [{"human": {
                "profile": {"givenName": "Hank", "familyName": "Scorpio"},
                "email": {"email": format!("{}@globex.example", unique("hank")), "isVerified": true},
                "password": {"password": PASSWORD},
            }}],
        }))
        .await
        .ok();
    let org = created["organizationId"].as_str().unwrap().to_owned();
    let admin = created["createdAdmins"][0]["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post("/v2/organizations", json!({"name": name}))
        .await
        .err(409, 6, "SQL-M0dsf");

    let listed = api
        .post(
            "/v2/organizations/_search",
            json!({"queries": [{"idQuery": {"id": org}}]}),
        )
        .await
        .ok();
    assert_eq!(listed["result"][0]["name"], name);
    assert_eq!(listed["result"][0]["state"], "ORGANIZATION_STATE_ACTIVE");
    let default = api
        .post(
            "/v2/organizations/_search",
            json!({"queries": [{"defaultQuery": {}}]}),
        )
        .await
        .ok();
    assert_eq!(default["result"][0]["id"], e.emulator.default_org_id());

    // The new admin owns its org: listing users there works with the org's context.
    let user = api.get(&format!("/v2/users/{admin}")).await.ok();
    assert_eq!(user["user"]["details"]["resourceOwner"], org);

    // Update/Delete (v4 API, not in the merged swagger): fields per the reference.
    let unchecked = api.unchecked();
    let renamed = unique("Globex Renamed");
    let updated = unchecked
        .post(
            &format!("/v2/organizations/{org}"),
            json!({"name": renamed}),
        )
        .await
        .ok();
    assert_keys(&updated, &["changeDate"]);
    unchecked
        .post("/v2/organizations/123", json!({"name": "x"}))
        .await
        .err(404, 5, "");
    let deleted = unchecked
        .delete(&format!("/v2/organizations/{org}"))
        .await
        .ok();
    assert_keys(&deleted, &["deletionDate"]);
    unchecked
        .delete(&format!("/v2/organizations/{org}"))
        .await
        .err(404, 5, "");
    let default_org = e.emulator.default_org_id();
    unchecked
        .delete(&format!("/v2/organizations/{default_org}"))
        .await
        .err(400, 9, "COMMA-wG9p1");
    // The org's users went with it.
    api.get(&format!("/v2/users/{admin}")).await.err(404, 5, "");
}

/// Asserts that `value` has exactly these keys.
pub fn assert_keys(value: &Value, keys: &[&str]) {
    let mut got: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    got.sort_unstable();
    let mut want = keys.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "fields of {value}");
}
