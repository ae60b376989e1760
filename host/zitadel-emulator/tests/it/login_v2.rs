//! The custom-login-UI protocol: authorize → `{baseUri}/login?authRequest=V2_…` → Session API v2
//! → `POST /v2/oidc/auth_requests/{id}` → callback URL → token.

use serde_json::json;

use crate::{
    oidc::{authorize_url, exchange, human, pkce, query_param, verify_id_token},
    support::{Api, PASSWORD, env, no_redirect_client, unique, web_app},
};

async fn auth_request(
    base: &str,
    client_id: &str,
    redirect: &str,
    p: &crate::oidc::Pkce,
) -> String {
    let url = authorize_url(
        base,
        client_id,
        redirect,
        "openid email",
        p,
        &[("login_hint", "hint@example.com")],
    );
    let resp = no_redirect_client().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://login.example/ui/login?authRequest=V2_"),
        "{location}"
    );
    query_param(&location, "authRequest").unwrap()
}

/// A machine user with the given instance roles and its PAT.
async fn machine_with_roles(api: &Api, org: &str, roles: &[&str]) -> String {
    let user = api
        .post_in(
            org,
            "/management/v1/users/machine",
            json!({"userName": unique("login-client"), "name": "Login"}),
        )
        .await
        .ok()["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post("/admin/v1/members", json!({"userId": user, "roles": roles}))
        .await
        .ok();
    api.post_in(org, &format!("/management/v1/users/{user}/pats"), json!({}))
        .await
        .ok()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn custom_login_ui_protocol_end_to_end() {
    let e = env().await;
    let org = e.emulator.default_org_id();
    let redirect = "http://127.0.0.1:9/cb";
    let (_, client_id, secret) = web_app(
        &e.api,
        &org,
        redirect,
        json!({
            "loginVersion": {"loginV2": {"baseUri": "https://login.example/ui"}},
        }),
    )
    .await;
    let (user_id, login_name) = human(&e.api, &org).await;
    let p = pkce();
    let id = auth_request(&e.base, &client_id, redirect, &p).await;

    // IAM_OWNER alone is not a login client.
    let owner = e
        .api
        .with_token(&machine_with_roles(&e.api, &org, &["IAM_OWNER"]).await);
    owner
        .get(&format!("/v2/oidc/auth_requests/{id}"))
        .await
        .err(403, 7, "AUTH-AWfge");
    owner
        .post(
            &format!("/v2/oidc/auth_requests/{id}"),
            json!({"error": {"error": "ERROR_REASON_ACCESS_DENIED"}}),
        )
        .await
        .err(403, 7, "AUTH-AWfge");
    let login = e
        .api
        .with_token(&machine_with_roles(&e.api, &org, &["IAM_LOGIN_CLIENT"]).await);

    let read = login
        .get(&format!("/v2/oidc/auth_requests/{id}"))
        .await
        .ok();
    let req = &read["authRequest"];
    assert_eq!(req["id"], id);
    assert_eq!(req["clientId"], client_id);
    assert_eq!(req["redirectUri"], redirect);
    assert_eq!(req["scope"], json!(["openid", "email"]));
    assert_eq!(req["loginHint"], "hint@example.com");
    login
        .get("/v2/oidc/auth_requests/V2_404")
        .await
        .err(404, 5, "");

    // Session checks: ZITADEL's errors.
    login
        .post(
            "/v2/sessions",
            json!({"checks": {"password": {"password": PASSWORD}}}),
        )
        .await
        .err(400, 9, "COMMAND-Sfw3f");
    login
        .post(
            "/v2/sessions",
            json!({"checks": {"user": {"loginName": "nobody@nowhere.example"}}}),
        )
        .await
        .err(400, 9, "COMMAND-Df4b3");
    let no_password = e
        .api
        .post("/v2/users/human", json!({"organization": {"orgId": org}, "profile": {"givenName": "N", "familyName": "P"}, "email": {"email": format!("{}@example.com", unique("nopw"))}}))
        .await
        .ok()["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    login
        .post("/v2/sessions", json!({"checks": {"user": {"userId": no_password}, "password": {"password": PASSWORD}}}))
        .await
        .err(400, 9, "COMMAND-WEf3t");
    login
        .post("/v2/sessions", json!({"checks": {"user": {"loginName": login_name}, "password": {"password": "Wr0ng-password!"}}}))
        .await
        .err(400, 3, "");
    login
        .post(
            "/v2/sessions",
            json!({"checks": {"totp": {"code": "123456"}}}),
        )
        .await
        .err(501, 12, "");

    // A session with the user only, then the password via PATCH.
    let created = login
        .post("/v2/sessions", json!({"checks": {"user": {"loginName": login_name}}, "metadata": {"k": "dg=="}, "lifetime": "600s"}))
        .await
        .ok();
    let session_id = created["sessionId"].as_str().unwrap().to_owned();
    let token = created["sessionToken"].as_str().unwrap().to_owned();
    // Not yet authenticated: the callback is refused.
    login
        .post(
            &format!("/v2/oidc/auth_requests/{id}"),
            json!({"session": {"sessionId": session_id, "sessionToken": token}}),
        )
        .await
        .err(400, 9, "");
    let set = login
        .call(
            reqwest::Method::PATCH,
            &format!("/v2/sessions/{session_id}"),
            Some(json!({"sessionToken": token, "checks": {"password": {"password": PASSWORD}}})),
            None,
        )
        .await
        .ok();
    let token = set["sessionToken"].as_str().unwrap().to_owned();
    let got = login.get(&format!("/v2/sessions/{session_id}")).await.ok();
    let factors = &got["session"]["factors"];
    assert_eq!(factors["user"]["id"], user_id);
    assert_eq!(factors["user"]["organizationId"], org);
    assert!(factors["password"]["verifiedAt"].is_string());
    assert_eq!(got["session"]["metadata"]["k"], "dg==");
    assert!(got["session"]["expirationDate"].is_string());
    let listed = login
        .post(
            "/v2/sessions/search",
            json!({"queries": [{"userIdQuery": {"id": user_id}}]}),
        )
        .await
        .ok();
    assert_eq!(listed["sessions"][0]["id"], session_id);

    login
        .post(
            &format!("/v2/oidc/auth_requests/{id}"),
            json!({"session": {"sessionId": session_id, "sessionToken": "forged"}}),
        )
        .await
        .err(403, 7, "");
    let callback = login
        .post(
            &format!("/v2/oidc/auth_requests/{id}"),
            json!({"session": {"sessionId": session_id, "sessionToken": token}}),
        )
        .await
        .ok();
    let url = callback["callbackUrl"].as_str().unwrap();
    assert!(url.starts_with(redirect));
    assert_eq!(query_param(url, "state").as_deref(), Some("st-123"));
    let code = query_param(url, "code").unwrap();
    // The auth request is answered once.
    login
        .post(
            &format!("/v2/oidc/auth_requests/{id}"),
            json!({"session": {"sessionId": session_id, "sessionToken": token}}),
        )
        .await
        .err(404, 5, "");
    let (status, tokens) =
        exchange(&e.base, &client_id, &secret, &code, redirect, &p.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = verify_id_token(&e.base, tokens["id_token"].as_str().unwrap(), &client_id).await;
    assert_eq!(claims["sub"], user_id);
    assert_eq!(claims["sid"], session_id);

    // Error callback.
    let id = auth_request(&e.base, &client_id, redirect, &p).await;
    let failed = login
        .post(
            &format!("/v2/oidc/auth_requests/{id}"),
            json!({"error": {"error": "ERROR_REASON_ACCESS_DENIED", "errorDescription": "nope"}}),
        )
        .await
        .ok();
    let url = failed["callbackUrl"].as_str().unwrap();
    assert_eq!(query_param(url, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        query_param(url, "error_description").as_deref(),
        Some("nope")
    );

    // Deleting the session; deletes are idempotent.
    login
        .call(
            reqwest::Method::DELETE,
            &format!("/v2/sessions/{session_id}"),
            Some(json!({})),
            None,
        )
        .await
        .ok();
    login
        .call(
            reqwest::Method::DELETE,
            &format!("/v2/sessions/{session_id}"),
            Some(json!({})),
            None,
        )
        .await
        .ok();
    login
        .get(&format!("/v2/sessions/{session_id}"))
        .await
        .err(404, 5, "");
}
