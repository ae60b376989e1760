//! Management/admin v1: orgs, login policy + IdPs, projects, OIDC apps, machine users, errors.

use serde_json::json;

use crate::support::{env, unique};

#[tokio::test]
async fn org_lifecycle_with_duplicate_names_and_org_context() {
    let e = env().await;
    let api = &e.api;
    let me = api.get("/management/v1/orgs/me").await.ok();
    assert_eq!(me["org"]["id"], e.emulator.default_org_id());
    assert_eq!(me["org"]["state"], "ORG_STATE_ACTIVE");

    let name = unique("Acme Corp");
    let created = api
        .post("/management/v1/orgs", json!({"name": name}))
        .await
        .ok();
    let org = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["details"]["resourceOwner"], org);
    assert!(created["details"]["sequence"].is_string());
    // 409 on a duplicate name, case-insensitively.
    api.post("/management/v1/orgs", json!({"name": name.to_uppercase()}))
        .await
        .err(409, 6, "SQL-M0dsf");
    // Validation: name length.
    let body = api
        .post("/management/v1/orgs", json!({"name": ""}))
        .await
        .err(400, 3, "");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("AddOrgRequest.Name")
    );

    // x-zitadel-orgid switches the org context.
    let other = api.get_in(&org, "/management/v1/orgs/me").await.ok();
    assert_eq!(other["org"]["name"], name);
    assert!(
        other["org"]["primaryDomain"]
            .as_str()
            .unwrap()
            .starts_with("acme-corp-")
    );
    let renamed = unique("Renamed");
    api.call(
        reqwest::Method::PUT,
        "/management/v1/orgs/me",
        Some(json!({"name": renamed})),
        Some(&org),
    )
    .await
    .ok();
    let read = api.get(&format!("/admin/v1/orgs/{org}")).await.ok();
    assert_eq!(read["org"]["name"], renamed);
    // Same name again → NotChanged (FailedPrecondition).
    api.call(
        reqwest::Method::PUT,
        "/management/v1/orgs/me",
        Some(json!({"name": renamed})),
        Some(&org),
    )
    .await
    .err(400, 9, "");
    let domain = read["org"]["primaryDomain"].as_str().unwrap();
    let by_domain = api
        .get(&format!(
            "/management/v1/global/orgs/_by_domain?domain={domain}"
        ))
        .await
        .ok();
    assert_eq!(by_domain["org"]["id"], org);
    let listed = api
        .post(
            "/admin/v1/orgs/_search",
            json!({"query": {"limit": 10}, "queries": [{"idQuery": {"id": org}}]}),
        )
        .await
        .ok();
    assert_eq!(listed["details"]["totalResult"], "1");
    assert_eq!(listed["result"][0]["id"], org);

    // Unknown org in the header.
    api.get_in("999", "/management/v1/orgs/me")
        .await
        .err(404, 5, "");
    // The default org cannot be removed; another can.
    api.call(
        reqwest::Method::DELETE,
        "/management/v1/orgs/me",
        None,
        None,
    )
    .await
    .err(400, 9, "COMMA-wG9p1");
    api.call(
        reqwest::Method::DELETE,
        "/management/v1/orgs/me",
        None,
        Some(&org),
    )
    .await
    .ok();
    api.get(&format!("/admin/v1/orgs/{org}"))
        .await
        .err(404, 5, "");
}

#[tokio::test]
async fn unauthenticated_and_forbidden_callers() {
    let e = env().await;
    let anon = e.api.with_token("not-a-token");
    anon.get("/management/v1/orgs/me").await.err(401, 16, "");
    let resp = e
        .api
        .http
        .get(format!("{}/management/v1/orgs/me", e.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // A machine user without roles may authenticate but manage nothing.
    let org = e.emulator.default_org_id();
    let user = e
        .api
        .post_in(
            &org,
            "/management/v1/users/machine",
            json!({"userName": unique("bot"), "name": "Bot"}),
        )
        .await
        .ok()["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    let pat = e
        .api
        .post_in(
            &org,
            &format!("/management/v1/users/{user}/pats"),
            json!({}),
        )
        .await
        .ok()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bot = e.api.with_token(&pat);
    bot.get("/management/v1/orgs/me")
        .await
        .err(403, 7, "AUTH-AWfge");
    bot.post("/admin/v1/orgs/_search", json!({"query": {}}))
        .await
        .err(403, 7, "AUTH-AWfge");
    // As ORG_OWNER it manages its org but not the instance.
    e.api
        .post_in(
            &org,
            "/management/v1/orgs/me/members",
            json!({"userId": user, "roles": ["ORG_OWNER"]}),
        )
        .await
        .ok();
    bot.get("/management/v1/orgs/me").await.ok();
    bot.post("/admin/v1/orgs/_search", json!({"query": {}}))
        .await
        .err(403, 7, "AUTH-AWfge");
}

#[tokio::test]
async fn login_policy_must_exist_before_attaching_idps() {
    let e = env().await;
    let api = &e.api;
    let org = api
        .post("/management/v1/orgs", json!({"name": unique("Policy Org")}))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let google = api
        .post_in(&org, "/management/v1/idps/google", json!({
            "name": "Google", "clientId": "gid", "clientSecret": "gsecret",
            "scopes": ["openid", "email"],
            "providerOptions": {"isLinkingAllowed": true, "isCreationAllowed": true, "isAutoCreation": true, "autoLinking": "AUTO_LINKING_OPTION_EMAIL"},
        }))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Without a custom policy: 404 Errors.Org.LoginPolicy.NotFound.
    api.post_in(
        &org,
        "/management/v1/policies/login/idps",
        json!({"idpId": google, "ownerType": "IDP_OWNER_TYPE_ORG"}),
    )
    .await
    .err(404, 5, "Org-Ffgw2");
    let default = api.get_in(&org, "/management/v1/policies/login").await.ok();
    assert_eq!(default["isDefault"], true);

    api.post_in(&org, "/management/v1/policies/login", json!({
        "allowUsernamePassword": true, "allowExternalIdp": true, "passwordCheckLifetime": "864000s",
    }))
    .await
    .ok();
    api.post_in(
        &org,
        "/management/v1/policies/login",
        json!({"allowUsernamePassword": true}),
    )
    .await
    .err(409, 6, "");
    api.post_in(
        &org,
        "/management/v1/policies/login/idps",
        json!({"idpId": google, "ownerType": "IDP_OWNER_TYPE_ORG"}),
    )
    .await
    .ok();
    api.post_in(
        &org,
        "/management/v1/policies/login/idps",
        json!({"idpId": google, "ownerType": "IDP_OWNER_TYPE_ORG"}),
    )
    .await
    .err(409, 6, "");
    api.post_in(
        &org,
        "/management/v1/policies/login/idps",
        json!({"idpId": "123", "ownerType": "IDP_OWNER_TYPE_ORG"}),
    )
    .await
    .err(404, 5, "");
    let policy = api.get_in(&org, "/management/v1/policies/login").await.ok();
    assert_eq!(
        policy["isDefault"],
        serde_json::Value::Null,
        "false is omitted"
    );
    assert_eq!(policy["policy"]["idps"][0]["idpId"], google);
    assert_eq!(policy["policy"]["idps"][0]["idpName"], "Google");
    let links = api
        .post_in(
            &org,
            "/management/v1/policies/login/idps/_search",
            json!({"query": {}}),
        )
        .await
        .ok();
    assert_eq!(links["details"]["totalResult"], "1");

    // Update keeps the IdPs; removal and reset work.
    api.call(
        reqwest::Method::PUT,
        "/management/v1/policies/login",
        Some(json!({"allowUsernamePassword": true, "allowRegister": true})),
        Some(&org),
    )
    .await
    .ok();
    let policy = api.get_in(&org, "/management/v1/policies/login").await.ok();
    assert_eq!(policy["policy"]["allowRegister"], true);
    assert_eq!(policy["policy"]["idps"][0]["idpId"], google);
    api.call(
        reqwest::Method::DELETE,
        &format!("/management/v1/policies/login/idps/{google}"),
        None,
        Some(&org),
    )
    .await
    .ok();
    api.call(
        reqwest::Method::DELETE,
        &format!("/management/v1/policies/login/idps/{google}"),
        None,
        Some(&org),
    )
    .await
    .err(404, 5, "");
    api.call(
        reqwest::Method::DELETE,
        "/management/v1/policies/login",
        None,
        Some(&org),
    )
    .await
    .ok();
    api.call(
        reqwest::Method::DELETE,
        "/management/v1/policies/login",
        None,
        Some(&org),
    )
    .await
    .err(404, 5, "Org-Ffgw2");
    // Inline IdPs at creation are attached too.
    api.post_in(&org, "/management/v1/policies/login", json!({
        "allowUsernamePassword": true, "idps": [{"idpId": google, "ownerType": "IDP_OWNER_TYPE_ORG"}],
    }))
    .await
    .ok();
    let policy = api.get_in(&org, "/management/v1/policies/login").await.ok();
    assert_eq!(policy["policy"]["idps"][0]["idpId"], google);
}

#[tokio::test]
async fn identity_providers_of_every_kind() {
    let e = env().await;
    let api = &e.api;
    let org = e.emulator.default_org_id();
    // ZITADEL's validation: client id and secret must be set (ORG-D3fvs / ORG-W2vqs for Google).
    api.post_in(
        &org,
        "/management/v1/idps/google",
        json!({"clientId": " ", "clientSecret": "s"}),
    )
    .await
    .err(400, 3, "ORG-D3fvs");
    api.post_in(
        &org,
        "/management/v1/idps/google",
        json!({"clientId": "c", "clientSecret": ""}),
    )
    .await
    .err(400, 3, "ORG-W2vqs");
    let github = api
        .post_in(&org, "/management/v1/idps/github", json!({"name": "GitHub", "clientId": "gh", "clientSecret": "s", "scopes": ["read:user"]}))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let azure = api
        .post_in(&org, "/management/v1/idps/azure", json!({
            "name": "Entra", "clientId": "az", "clientSecret": "s",
            "tenant": {"tenantId": "contoso"}, "emailVerified": true, "scopes": ["openid", "User.Read"],
        }))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post_in(
        &org,
        "/management/v1/idps/generic_oidc",
        json!({"name": "Okta", "issuer": "not a url", "clientId": "o", "clientSecret": "s"}),
    )
    .await
    .err(400, 3, "");
    let oidc = api
        .post_in(&org, "/management/v1/idps/generic_oidc", json!({
            "name": "Okta", "issuer": "https://okta.example", "clientId": "o", "clientSecret": "s",
            "scopes": ["openid"], "usePkce": true, "isIdTokenMapping": true,
        }))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let got = api
        .get_in(&org, &format!("/management/v1/idps/templates/{azure}"))
        .await
        .ok();
    assert_eq!(got["idp"]["type"], "PROVIDER_TYPE_AZURE_AD");
    assert_eq!(
        got["idp"]["config"]["azureAd"]["tenant"]["tenantId"],
        "contoso"
    );
    assert_eq!(got["idp"]["config"]["azureAd"]["emailVerified"], true);
    assert!(
        got.to_string().find("clientSecret").is_none(),
        "secrets are never returned"
    );
    let got = api
        .get_in(&org, &format!("/management/v1/idps/templates/{oidc}"))
        .await
        .ok();
    assert_eq!(
        got["idp"]["config"]["oidc"]["issuer"],
        "https://okta.example"
    );
    assert_eq!(got["idp"]["config"]["oidc"]["usePkce"], true);

    // Update: empty secret keeps the old one; wrong kind or unknown id → 404.
    api.call(
        reqwest::Method::PUT,
        &format!("/management/v1/idps/github/{github}"),
        Some(json!({"name": "GitHub 2", "clientId": "gh2"})),
        Some(&org),
    )
    .await
    .ok();
    let got = api
        .get_in(&org, &format!("/management/v1/idps/templates/{github}"))
        .await
        .ok();
    assert_eq!(got["idp"]["name"], "GitHub 2");
    assert_eq!(got["idp"]["config"]["github"]["clientId"], "gh2");
    api.call(
        reqwest::Method::PUT,
        &format!("/management/v1/idps/azure/{azure}"),
        Some(json!({"name": "Entra", "clientId": "az2", "tenant": {"tenantType": "AZURE_AD_TENANT_TYPE_ORGANISATIONS"}})),
        Some(&org),
    )
    .await
    .ok();
    let got = api
        .get_in(&org, &format!("/management/v1/idps/templates/{azure}"))
        .await
        .ok();
    assert_eq!(
        got["idp"]["config"]["azureAd"]["tenant"]["tenantType"],
        "AZURE_AD_TENANT_TYPE_ORGANISATIONS"
    );
    api.call(
        reqwest::Method::PUT,
        &format!("/management/v1/idps/generic_oidc/{oidc}"),
        Some(json!({"name": "Okta", "issuer": "https://okta2.example", "clientId": "o"})),
        Some(&org),
    )
    .await
    .ok();
    api.call(
        reqwest::Method::PUT,
        &format!("/management/v1/idps/google/{github}"),
        Some(json!({"clientId": "x"})),
        Some(&org),
    )
    .await
    .err(404, 5, "");
    let listed = api
        .post_in(&org, "/management/v1/idps/templates/_search", json!({"queries": [{"idpNameQuery": {"name": "okta", "method": "TEXT_QUERY_METHOD_EQUALS_IGNORE_CASE"}}]}))
        .await
        .ok();
    assert_eq!(listed["details"]["totalResult"], "1");
    assert_eq!(listed["result"][0]["id"], oidc);
    api.call(
        reqwest::Method::DELETE,
        &format!("/management/v1/idps/templates/{oidc}"),
        None,
        Some(&org),
    )
    .await
    .ok();
    api.get_in(&org, &format!("/management/v1/idps/templates/{oidc}"))
        .await
        .err(404, 5, "");
}

#[tokio::test]
async fn projects_and_oidc_apps_with_compliance() {
    let e = env().await;
    let api = &e.api;
    let org = e.emulator.default_org_id();
    let name = unique("Shop");
    let project = api
        .post_in(
            &org,
            "/management/v1/projects",
            json!({"name": name, "projectRoleAssertion": true}),
        )
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post_in(&org, "/management/v1/projects", json!({"name": name}))
        .await
        .err(409, 6, "SQL-M0dsf");
    let got = api
        .get_in(&org, &format!("/management/v1/projects/{project}"))
        .await
        .ok();
    assert_eq!(got["project"]["projectRoleAssertion"], true);
    api.call(
        reqwest::Method::PUT,
        &format!("/management/v1/projects/{project}"),
        Some(json!({"name": name, "projectRoleAssertion": true})),
        Some(&org),
    )
    .await
    .err(400, 9, "");
    let listed = api
        .post_in(
            &org,
            "/management/v1/projects/_search",
            json!({"queries": [{"nameQuery": {"name": name}}]}),
        )
        .await
        .ok();
    assert_eq!(listed["result"][0]["id"], project);

    // An SPA with an http redirect: created, but flagged non-compliant.
    let spa = api
        .post_in(&org, &format!("/management/v1/projects/{project}/apps/oidc"), json!({
            "name": "spa", "redirectUris": ["http://shop.example/cb"],
            "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"], "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE"],
            "appType": "OIDC_APP_TYPE_USER_AGENT", "authMethodType": "OIDC_AUTH_METHOD_TYPE_NONE",
        }))
        .await
        .ok();
    assert_eq!(spa["noneCompliant"], true);
    assert_eq!(
        spa["complianceProblems"][0]["key"],
        "Application.OIDC.V1.NotCompliant"
    );
    assert_eq!(
        spa["complianceProblems"][1]["key"],
        "Application.OIDC.V1.Code.RedirectUris.HttpOnlyForWeb"
    );
    assert!(
        spa["clientSecret"].is_null(),
        "no secret for auth method NONE"
    );
    // Duplicate app name in the project → 409; missing project → 404; invalid → 400.
    api.post_in(&org, &format!("/management/v1/projects/{project}/apps/oidc"), json!({
        "name": "spa", "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"], "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE"],
    }))
    .await
    .err(409, 6, "");
    api.post_in(&org, "/management/v1/projects/1/apps/oidc", json!({
        "name": "x", "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"], "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE"],
    }))
    .await
    .err(404, 5, "");
    api.post_in(&org, &format!("/management/v1/projects/{project}/apps/oidc"), json!({"name": "bad", "clockSkew": "9s",
        "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"], "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE"]}))
    .await
    .err(400, 3, "");

    // A confidential web app: secret once, compliant, readable, updatable.
    let web = api
        .post_in(&org, &format!("/management/v1/projects/{project}/apps/oidc"), json!({
            "name": "web", "redirectUris": ["https://shop.example/cb"],
            "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"], "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE"],
            "appType": "OIDC_APP_TYPE_WEB", "authMethodType": "OIDC_AUTH_METHOD_TYPE_POST",
            "accessTokenType": "OIDC_TOKEN_TYPE_JWT", "clockSkew": "1s",
            "loginVersion": {"loginV2": {"baseUri": "https://login.shop.example"}},
        }))
        .await
        .ok();
    assert_eq!(web["noneCompliant"], serde_json::Value::Null);
    let secret = web["clientSecret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32);
    let app_id = web["appId"].as_str().unwrap();
    let got = api
        .get_in(
            &org,
            &format!("/management/v1/projects/{project}/apps/{app_id}"),
        )
        .await
        .ok();
    let cfg = &got["app"]["oidcConfig"];
    assert_eq!(cfg["clientId"], web["clientId"]);
    assert_eq!(cfg["authMethodType"], "OIDC_AUTH_METHOD_TYPE_POST");
    assert_eq!(cfg["accessTokenType"], "OIDC_TOKEN_TYPE_JWT");
    assert_eq!(cfg["clockSkew"], "1s");
    assert_eq!(
        cfg["loginVersion"]["loginV2"]["baseUri"],
        "https://login.shop.example"
    );
    assert_eq!(cfg["allowedOrigins"][0], "https://shop.example");
    assert!(
        cfg.get("appType").is_none(),
        "the zero enum (WEB) is omitted"
    );
    assert!(!got.to_string().contains(&secret));

    api.call(reqwest::Method::PUT, &format!("/management/v1/projects/{project}/apps/{app_id}/oidc_config"), Some(json!({
        "redirectUris": ["https://shop.example/cb", "https://shop.example/cb2"],
        "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"], "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE"],
        "authMethodType": "OIDC_AUTH_METHOD_TYPE_POST",
    })), Some(&org))
    .await
    .ok();
    let got = api
        .get_in(
            &org,
            &format!("/management/v1/projects/{project}/apps/{app_id}"),
        )
        .await
        .ok();
    assert_eq!(
        got["app"]["oidcConfig"]["redirectUris"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(
        got["app"]["oidcConfig"].get("accessTokenType").is_none(),
        "lists and fields are replaced"
    );
    let regenerated = api
        .post_in(&org, &format!("/management/v1/projects/{project}/apps/{app_id}/oidc_config/_generate_client_secret"), json!({}))
        .await
        .ok();
    assert_ne!(regenerated["clientSecret"].as_str().unwrap(), secret);
    let spa_id = spa["appId"].as_str().unwrap();
    api.post_in(
        &org,
        &format!(
            "/management/v1/projects/{project}/apps/{spa_id}/oidc_config/_generate_client_secret"
        ),
        json!({}),
    )
    .await
    .err(400, 9, "");
    api.call(
        reqwest::Method::PUT,
        &format!("/management/v1/projects/{project}/apps/{app_id}"),
        Some(json!({"name": "web-renamed"})),
        Some(&org),
    )
    .await
    .ok();
    let apps = api
        .post_in(&org, &format!("/management/v1/projects/{project}/apps/_search"), json!({"queries": [{"nameQuery": {"name": "web", "method": "TEXT_QUERY_METHOD_STARTS_WITH"}}]}))
        .await
        .ok();
    assert_eq!(apps["details"]["totalResult"], "1");
    api.call(
        reqwest::Method::DELETE,
        &format!("/management/v1/projects/{project}/apps/{app_id}"),
        None,
        Some(&org),
    )
    .await
    .ok();
    api.get_in(
        &org,
        &format!("/management/v1/projects/{project}/apps/{app_id}"),
    )
    .await
    .err(404, 5, "");
    // Another org's project looks missing.
    let other = api
        .post("/management/v1/orgs", json!({"name": unique("Other")}))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.get_in(&other, &format!("/management/v1/projects/{project}"))
        .await
        .err(404, 5, "");
    api.call(
        reqwest::Method::DELETE,
        &format!("/management/v1/projects/{project}"),
        None,
        Some(&org),
    )
    .await
    .ok();
    api.get_in(
        &org,
        &format!("/management/v1/projects/{project}/apps/{spa_id}"),
    )
    .await
    .err(404, 5, "");
}

#[tokio::test]
async fn machine_users_pats_keys_roles_and_grants() {
    let e = env().await;
    let api = &e.api;
    let org = e.emulator.default_org_id();
    let username = unique("svc");
    let user = api
        .post_in(&org, "/management/v1/users/machine", json!({"userName": username, "name": "Service", "accessTokenType": "ACCESS_TOKEN_TYPE_JWT"}))
        .await
        .ok()["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post_in(
        &org,
        "/management/v1/users/machine",
        json!({"userName": username, "name": "again"}),
    )
    .await
    .err(409, 6, "SQL-M0dsf");
    api.post_in(
        &org,
        &format!("/management/v1/users/{user}/pats"),
        json!({"expirationDate": "2001-01-01T00:00:00Z"}),
    )
    .await
    .err(400, 3, "");
    let key = api
        .post_in(
            &org,
            &format!("/management/v1/users/{user}/keys"),
            json!({"type": "KEY_TYPE_JSON"}),
        )
        .await
        .ok();
    use base64::Engine;
    let file: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(key["keyDetails"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(file["type"], "serviceaccount");
    assert_eq!(file["userId"], user);
    assert_eq!(file["keyId"], key["keyId"]);
    assert!(
        file["key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );

    let project = api
        .post_in(
            &org,
            "/management/v1/projects",
            json!({"name": unique("roles")}),
        )
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post_in(
        &org,
        &format!("/management/v1/projects/{project}/roles"),
        json!({"roleKey": "admin", "displayName": "Admin"}),
    )
    .await
    .ok();
    api.post_in(
        &org,
        &format!("/management/v1/projects/{project}/roles"),
        json!({"roleKey": "admin", "displayName": "Admin"}),
    )
    .await
    .err(409, 6, "");
    api.post_in(
        &org,
        &format!("/management/v1/users/{user}/grants"),
        json!({"projectId": project, "roleKeys": ["nope"]}),
    )
    .await
    .err(400, 9, "");
    let grant = api
        .post_in(
            &org,
            &format!("/management/v1/users/{user}/grants"),
            json!({"projectId": project, "roleKeys": ["admin"]}),
        )
        .await
        .ok();
    assert!(grant["userGrantId"].is_string());
}
