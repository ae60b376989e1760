//! OIDC: discovery, authorize + hosted login with PKCE, token, userinfo, introspection,
//! revocation, refresh, end session, redirect-URI rules, JWT profile, key rotation.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, jwk::JwkSet};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{Api, PASSWORD, env, no_redirect_client, unique, web_app};

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = format!(
        "{}{}",
        unique("verifier-0123456789-abcdefghijklmnopqrstuvwxyz"),
        "-pad"
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

pub fn authorize_url(
    base: &str,
    client_id: &str,
    redirect: &str,
    scope: &str,
    pkce: &Pkce,
    extra: &[(&str, &str)],
) -> String {
    let mut url = url::Url::parse(&format!("{base}/oauth/v2/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("state", "st-123")
        .append_pair("nonce", "n-456")
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// Follows authorize → hosted login; returns the final redirect (Location) or the login page
/// HTML when the login was refused.
pub async fn login(auth_url: &str, login_name: &str, password: &str) -> Result<String, String> {
    let http = no_redirect_client();
    let resp = http.get(auth_url).send().await.unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::FOUND,
        "authorize: {}",
        resp.text().await.unwrap()
    );
    let login_url = resp.headers()["location"].to_str().unwrap().to_owned();
    if !login_url.contains("/ui/login/login?authRequestID=") {
        return Ok(login_url); // an error redirect to the client
    }
    let page = http.get(&login_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Development IdP"));
    let action = login_url.split('?').next().unwrap();
    let resp = http
        .post(action)
        .form(&[
            ("authRequestID", hidden(&html, "authRequestID")),
            ("csrf", hidden(&html, "csrf")),
            ("loginName", login_name.to_owned()),
            ("password", password.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    if resp.status().is_redirection() {
        Ok(resp.headers()["location"].to_str().unwrap().to_owned())
    } else {
        Err(resp.text().await.unwrap())
    }
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
}

pub async fn exchange(
    base: &str,
    client_id: &str,
    secret: &str,
    code: &str,
    redirect: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    let resp = no_redirect_client()
        .post(format!("{base}/oauth/v2/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    (status, resp.json().await.unwrap())
}

pub async fn verify_id_token(base: &str, token: &str, audience: &str) -> Value {
    let jwks: JwkSet = reqwest::get(format!("{base}/oauth/v2/keys"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let kid = header.kid.expect("kid");
    let jwk = jwks.find(&kid).expect("signing key published in the JWKS");
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[base]);
    validation.set_audience(&[audience]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("ID token verifies against the JWKS")
        .claims
}

/// A human user in `org` with [`PASSWORD`]; returns (user id, login name).
pub async fn human(api: &Api, org: &str) -> (String, String) {
    let email = format!("{}@example.com", unique("user"));
    let id = api
        .post(
            "/v2/users/human",
            json!({
                "organization": {"orgId": org},
                "profile": {"givenName": "Test", "familyName": "User"},
                "email": {"email": email, "isVerified": true},
                "password": {"password": PASSWORD},
            }),
        )
        .await
        .ok()["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, email)
}

#[tokio::test]
async fn discovery_and_jwks() {
    let e = env().await;
    let disco: Value = reqwest::get(format!("{}/.well-known/openid-configuration", e.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(disco["issuer"], e.base);
    for (k, path) in [
        ("authorization_endpoint", "/oauth/v2/authorize"),
        ("token_endpoint", "/oauth/v2/token"),
        ("userinfo_endpoint", "/oidc/v1/userinfo"),
        ("jwks_uri", "/oauth/v2/keys"),
        ("end_session_endpoint", "/oidc/v1/end_session"),
        ("introspection_endpoint", "/oauth/v2/introspect"),
    ] {
        assert_eq!(disco[k], format!("{}{path}", e.base));
    }
    assert_eq!(disco["code_challenge_methods_supported"], json!(["S256"]));
    // Scripted endpoints allow CORS (SPAs exchange codes from the browser).
    let http = no_redirect_client();
    let preflight = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/oauth/v2/token", e.base),
        )
        .header("origin", "https://spa.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://spa.example"
    );
    let keys = http
        .get(format!("{}/oauth/v2/keys", e.base))
        .header("origin", "https://spa.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys.headers()["access-control-allow-origin"],
        "https://spa.example"
    );
    let authorize = http
        .get(format!("{}/oauth/v2/authorize", e.base))
        .header("origin", "https://spa.example")
        .send()
        .await
        .unwrap();
    assert!(
        authorize
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let resp = reqwest::get(format!("{}/oauth/v2/keys", e.base))
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["cache-control"],
        "max-age=300, must-revalidate"
    );
    let jwks: Value = resp.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "one active and one initial key");
    for k in keys {
        assert_eq!(k["use"], "sig");
        assert_eq!(k["kty"], "RSA");
        assert_eq!(k["alg"], "RS256");
        assert!(k["n"].is_string() && k["e"].is_string() && k["kid"].is_string());
        assert!(k.get("d").is_none(), "no private parts");
    }
}

#[tokio::test]
async fn code_flow_with_pkce_tokens_userinfo_introspection_refresh_revocation() {
    let e = env().await;
    let org = e.emulator.default_org_id();
    let redirect = "http://127.0.0.1:9/callback";
    let (project, client_id, secret) = web_app(&e.api, &org, redirect, json!({})).await;
    let (user_id, login_name) = human(&e.api, &org).await;

    let p = pkce();
    let url = authorize_url(
        &e.base,
        &client_id,
        redirect,
        "openid profile email offline_access urn:zitadel:iam:user:resourceowner",
        &p,
        &[],
    );
    // A wrong password re-renders the form with an accessible error.
    let refused = login(&url, &login_name, "Wrong-Passw0rd!")
        .await
        .unwrap_err();
    assert!(refused.contains("role=\"alert\""));
    assert!(refused.contains("incorrect"));
    let callback = login(&url, &login_name, PASSWORD).await.unwrap();
    assert!(callback.starts_with(redirect), "{callback}");
    assert_eq!(query_param(&callback, "state").as_deref(), Some("st-123"));
    let code = query_param(&callback, "code").unwrap();

    // Wrong verifier burns the code.
    let (status, body) = exchange(
        &e.base,
        &client_id,
        &secret,
        &code,
        redirect,
        &pkce().verifier,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    let (status, _) = exchange(&e.base, &client_id, &secret, &code, redirect, &p.verifier).await;
    assert_eq!(status, 400, "a code is single-use");

    let callback = login(&url, &login_name, PASSWORD).await.unwrap();
    let code = query_param(&callback, "code").unwrap();
    let (status, bad) = exchange(
        &e.base,
        &client_id,
        "wrong-secret",
        &code,
        redirect,
        &p.verifier,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(bad["error"], "invalid_client");
    let callback = login(&url, &login_name, PASSWORD).await.unwrap();
    let code = query_param(&callback, "code").unwrap();
    let (status, tokens) =
        exchange(&e.base, &client_id, &secret, &code, redirect, &p.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["expires_in"].as_u64().unwrap() > 3600);
    let claims = verify_id_token(&e.base, tokens["id_token"].as_str().unwrap(), &client_id).await;
    assert_eq!(claims["sub"], user_id);
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["azp"], client_id);
    let aud: Vec<&str> = claims["aud"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        aud.contains(&client_id.as_str()) && aud.contains(&project.as_str()),
        "aud = client ids + project id"
    );
    assert_eq!(claims["amr"], json!(["password", "pwd"]));
    assert!(claims["sid"].is_string());
    let access = tokens["access_token"].as_str().unwrap();
    let digest = Sha256::digest(access.as_bytes());
    assert_eq!(claims["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    assert!(
        claims.get("email").is_none(),
        "profile claims only with idTokenUserinfoAssertion"
    );

    let http = no_redirect_client();
    let info: Value = http
        .get(format!("{}/oidc/v1/userinfo", e.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], user_id);
    assert_eq!(info["email"], login_name);
    assert_eq!(info["email_verified"], true);
    assert_eq!(info["given_name"], "Test");
    assert_eq!(info["urn:zitadel:iam:user:resourceowner:id"], org);
    let resp = http
        .get(format!("{}/oidc/v1/userinfo", e.base))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // The access token is not a ZITADEL API token (no API audience scope).
    e.api
        .with_token(access)
        .get("/management/v1/orgs/me")
        .await
        .err(401, 16, "");

    let introspect = |token: String| {
        let http = http.clone();
        let (base, id, secret) = (e.base.clone(), client_id.clone(), secret.clone());
        async move {
            http.post(format!("{base}/oauth/v2/introspect"))
                .basic_auth(id, Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let active = introspect(access.to_owned()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], user_id);
    assert_eq!(active["client_id"], client_id);
    assert_eq!(introspect("garbage".into()).await, json!({"active": false}));

    // Refresh rotates; the spent refresh token is dead.
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refresh_with = |token: String| {
        let http = http.clone();
        let (base, id, secret) = (e.base.clone(), client_id.clone(), secret.clone());
        async move {
            let resp = http
                .post(format!("{base}/oauth/v2/token"))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
                .send()
                .await
                .unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let (status, refreshed) = refresh_with(refresh.clone()).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);
    let claims =
        verify_id_token(&e.base, refreshed["id_token"].as_str().unwrap(), &client_id).await;
    assert_eq!(claims["sub"], user_id);
    let (status, spent) = refresh_with(refresh).await;
    assert_eq!(status, 400);
    assert_eq!(spent["error"], "invalid_grant");

    // Revocation (RFC 7009) then introspection says inactive.
    let new_access = refreshed["access_token"].as_str().unwrap().to_owned();
    let resp = http
        .post(format!("{}/oauth/v2/revoke", e.base))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("token", new_access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(introspect(new_access).await["active"], false);
}

#[tokio::test]
async fn redirect_uris_are_enforced_at_authorize_time() {
    let e = env().await;
    let org = e.emulator.default_org_id();
    let api = &e.api;
    let project = api
        .post_in(
            &org,
            "/management/v1/projects",
            json!({"name": unique("redirects")}),
        )
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = |body: Value| {
        let project = project.clone();
        let org = org.clone();
        async move {
            api.post_in(
                &org,
                &format!("/management/v1/projects/{project}/apps/oidc"),
                body,
            )
            .await
            .ok()
        }
    };
    let spa = |name: &str, redirect: &str, dev: bool| {
        json!({
            "name": name, "redirectUris": [redirect], "devMode": dev,
            "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"], "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE"],
            "appType": "OIDC_APP_TYPE_USER_AGENT", "authMethodType": "OIDC_AUTH_METHOD_TYPE_NONE",
        })
    };
    let strict = create(spa("strict", "http://spa.example/cb", false)).await;
    assert_eq!(strict["noneCompliant"], true);
    let dev = create(spa("dev", "http://spa.example/*", true)).await;
    let http = no_redirect_client();
    let p = pkce();
    let page = |client: &str, redirect: &str| {
        let url = authorize_url(&e.base, client, redirect, "openid", &p, &[]);
        let http = http.clone();
        async move {
            let resp = http.get(url).send().await.unwrap();
            (
                resp.status(),
                resp.headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap().to_owned()),
                resp.text().await.unwrap(),
            )
        }
    };
    let (status, _, html) = page(
        strict["clientId"].as_str().unwrap(),
        "http://spa.example/cb",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        html.contains("redirect_uri is http and is not allowed"),
        "{html}"
    );
    let (status, location, _) =
        page(dev["clientId"].as_str().unwrap(), "http://spa.example/cb").await;
    assert_eq!(status, 302, "devMode allows http and globs");
    assert!(location.unwrap().contains("/ui/login/login?authRequestID="));
    let (status, _, html) =
        page(dev["clientId"].as_str().unwrap(), "http://other.example/cb").await;
    assert_eq!(status, 400);
    assert!(html.contains("missing in the client configuration"));
    let (status, _, html) = page("unknown-client", "https://x.example").await;
    assert_eq!(status, 400);
    assert!(html.contains("unknown"));

    let custom = create(json!({
        "name": "custom-web", "redirectUris": ["com.example.app:/cb"],
        "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"], "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE"],
    }))
    .await;
    let (status, _, html) = page(custom["clientId"].as_str().unwrap(), "com.example.app:/cb").await;
    assert_eq!(status, 400);
    assert!(html.contains("custom schema"));

    // After the redirect URI is validated, errors go back to the client.
    let url = authorize_url(
        &e.base,
        dev["clientId"].as_str().unwrap(),
        "http://spa.example/cb",
        "email",
        &p,
        &[],
    );
    let resp = http.get(url).send().await.unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_scope")
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-123"));
    let url = authorize_url(
        &e.base,
        dev["clientId"].as_str().unwrap(),
        "http://spa.example/cb",
        "openid",
        &p,
        &[("prompt", "none")],
    );
    let location = http.get(url).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("login_required")
    );
    // A public client must use PKCE.
    let resp = http
        .get(format!(
            "{}/oauth/v2/authorize?client_id={}&redirect_uri={}&response_type=code&scope=openid",
            e.base,
            dev["clientId"].as_str().unwrap(),
            "http%3A%2F%2Fspa.example%2Fcb"
        ))
        .send()
        .await
        .unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn org_scope_restricts_login_and_adds_resource_owner_claims() {
    let e = env().await;
    let api = &e.api;
    let org = e.emulator.default_org_id();
    let other = api
        .post("/management/v1/orgs", json!({"name": unique("Scoped")}))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let redirect = "http://127.0.0.1:9/cb";
    let (_, client_id, secret) = web_app(
        api,
        &org,
        redirect,
        json!({"idTokenUserinfoAssertion": true}),
    )
    .await;
    let (_, outsider) = human(api, &org).await;
    let (member_id, member) = human(api, &other).await;
    let p = pkce();
    let scope = format!("openid email urn:zitadel:iam:org:id:{other}");
    let url = authorize_url(&e.base, &client_id, redirect, &scope, &p, &[]);
    let refused = login(&url, &outsider, PASSWORD).await.unwrap_err();
    assert!(
        refused.contains("incorrect"),
        "users outside the org are unknown here"
    );
    let callback = login(&url, &member, PASSWORD).await.unwrap();
    let code = query_param(&callback, "code").unwrap();
    let (status, tokens) =
        exchange(&e.base, &client_id, &secret, &code, redirect, &p.verifier).await;
    assert_eq!(status, 200);
    let claims = verify_id_token(&e.base, tokens["id_token"].as_str().unwrap(), &client_id).await;
    assert_eq!(claims["sub"], member_id);
    assert_eq!(
        claims["email"], member,
        "idTokenUserinfoAssertion puts userinfo claims in the ID token"
    );
    assert_eq!(claims["urn:zitadel:iam:user:resourceowner:id"], other);
    assert!(
        claims.get("urn:zitadel:iam:org:id").is_none(),
        "there is no org id claim"
    );
    // Unknown org in the scope → error back to the client.
    let url = authorize_url(
        &e.base,
        &client_id,
        redirect,
        "openid urn:zitadel:iam:org:id:404",
        &p,
        &[],
    );
    let location = login(&url, &member, PASSWORD).await.unwrap();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn roles_claim_is_an_object_keyed_by_role_and_org() {
    let e = env().await;
    let api = &e.api;
    let org = e.emulator.default_org_id();
    let redirect = "http://127.0.0.1:9/cb";
    let (project, client_id, secret) =
        web_app(api, &org, redirect, json!({"idTokenRoleAssertion": true})).await;
    api.call(
        reqwest::Method::PUT,
        &format!("/management/v1/projects/{project}"),
        Some(json!({"name": unique("roles"), "projectRoleAssertion": true})),
        Some(&org),
    )
    .await
    .ok();
    api.post_in(
        &org,
        &format!("/management/v1/projects/{project}/roles"),
        json!({"roleKey": "editor", "displayName": "Editor"}),
    )
    .await
    .ok();
    let (user, login_name) = human(api, &org).await;
    api.post_in(
        &org,
        &format!("/management/v1/users/{user}/grants"),
        json!({"projectId": project, "roleKeys": ["editor"]}),
    )
    .await
    .ok();
    let p = pkce();
    let url = authorize_url(&e.base, &client_id, redirect, "openid", &p, &[]);
    let code = query_param(&login(&url, &login_name, PASSWORD).await.unwrap(), "code").unwrap();
    let (_, tokens) = exchange(&e.base, &client_id, &secret, &code, redirect, &p.verifier).await;
    let claims = verify_id_token(&e.base, tokens["id_token"].as_str().unwrap(), &client_id).await;
    let domain = api.get("/management/v1/orgs/me").await.ok()["org"]["primaryDomain"].clone();
    assert_eq!(
        claims["urn:zitadel:iam:org:project:roles"],
        json!({"editor": {org.clone(): domain}})
    );
    assert_eq!(
        claims[format!("urn:zitadel:iam:org:project:{project}:roles")],
        claims["urn:zitadel:iam:org:project:roles"]
    );
}

#[tokio::test]
async fn jwt_profile_grant_with_the_admin_key_file() {
    let e = env().await;
    let file: Value = serde_json::from_str(e.emulator.admin_key_file()).unwrap();
    assert_eq!(file["type"], "serviceaccount");
    let on_disk = std::fs::read_to_string(e.emulator.admin_key_path()).unwrap();
    assert_eq!(on_disk, e.emulator.admin_key_file());
    let key = EncodingKey::from_rsa_pem(file["key"].as_str().unwrap().as_bytes()).unwrap();
    let user = file["userId"].as_str().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let assertion = |claims: Value, kid: &str| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    let grant = |assertion: String, scope: &'static str| {
        let base = e.base.clone();
        async move {
            let resp = no_redirect_client()
                .post(format!("{base}/oauth/v2/token"))
                .form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", &assertion),
                    ("scope", scope),
                ])
                .send()
                .await
                .unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let kid = file["keyId"].as_str().unwrap();
    let good = json!({"iss": user, "sub": user, "aud": e.base, "iat": now, "exp": now + 600});
    let (status, token) = grant(
        assertion(good.clone(), kid),
        "openid urn:zitadel:iam:org:project:id:zitadel:aud",
    )
    .await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    let api = e.api.with_token(token["access_token"].as_str().unwrap());
    assert_eq!(
        api.get("/management/v1/orgs/me").await.ok()["org"]["id"],
        e.emulator.default_org_id()
    );
    // Without the API audience scope the token does not reach the API.
    let (_, plain) = grant(assertion(good.clone(), kid), "openid").await;
    e.api
        .with_token(plain["access_token"].as_str().unwrap())
        .get("/management/v1/orgs/me")
        .await
        .err(401, 16, "");
    // Refusals: wrong aud, stale iat, unknown kid, iss != sub, tampered signature.
    for (claims, kid) in [
        (
            json!({"iss": user, "sub": user, "aud": "https://elsewhere", "iat": now, "exp": now + 600}),
            kid,
        ),
        (
            json!({"iss": user, "sub": user, "aud": e.base, "iat": now - 7200, "exp": now + 600}),
            kid,
        ),
        (
            json!({"iss": user, "sub": user, "aud": e.base, "iat": now, "exp": now - 60}),
            kid,
        ),
        (good.clone(), "999"),
        (
            json!({"iss": user, "sub": "someone-else", "aud": e.base, "iat": now, "exp": now + 600}),
            kid,
        ),
    ] {
        let (status, body) = grant(assertion(claims, kid), "openid").await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_grant");
    }
    let mut tampered = assertion(good, kid);
    tampered.push('A');
    assert_eq!(grant(tampered, "openid").await.0, 400);
}

#[tokio::test]
async fn web_keys_drive_rotation_and_old_keys_stay_published() {
    let e = env().await;
    let api = e.api.unchecked();
    let org = e.emulator.default_org_id();
    let redirect = "http://127.0.0.1:9/cb";
    let (_, client_id, secret) = web_app(&e.api, &org, redirect, json!({})).await;
    let (_, login_name) = human(&e.api, &org).await;
    let id_token = || async {
        let p = pkce();
        let url = authorize_url(&e.base, &client_id, redirect, "openid", &p, &[]);
        let code = query_param(&login(&url, &login_name, PASSWORD).await.unwrap(), "code").unwrap();
        let (_, tokens) =
            exchange(&e.base, &client_id, &secret, &code, redirect, &p.verifier).await;
        tokens["id_token"].as_str().unwrap().to_owned()
    };
    let before = id_token().await;
    let old_kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();

    let listed = api.get("/v2/web_keys").await.ok();
    let keys = listed["webKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter()
            .any(|k| k["state"] == "STATE_ACTIVE" && k["id"] == old_kid)
    );
    assert!(keys.iter().all(|k| k["rsa"]["bits"] == "RSA_BITS_2048"));
    let created = api
        .post(
            "/v2/web_keys",
            json!({"ecdsa": {"curve": "ECDSA_CURVE_P256"}}),
        )
        .await
        .ok();
    crate::users::assert_keys(&created, &["id", "creationDate"]);
    let new_kid = created["id"].as_str().unwrap().to_owned();
    api.post("/v2/web_keys", json!({"rsa": {"bits": "RSA_BITS_1024"}}))
        .await
        .err(400, 3, "");
    api.post(&format!("/v2/web_keys/{new_kid}/_activate"), json!({}))
        .await
        .ok();
    api.post("/v2/web_keys/404/_activate", json!({}))
        .await
        .err(404, 5, "");
    api.delete(&format!("/v2/web_keys/{new_kid}"))
        .await
        .err(400, 9, "");

    let after = id_token().await;
    let header = jsonwebtoken::decode_header(&after).unwrap();
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    assert_eq!(header.alg, Algorithm::ES256);
    // Both the old and the new token verify: the old key stays in the JWKS while inactive.
    verify_id_token(&e.base, &before, &client_id).await;
    verify_id_token(&e.base, &after, &client_id).await;
    let listed = api.get("/v2/web_keys").await.ok();
    assert!(
        listed["webKeys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == old_kid && k["state"] == "STATE_INACTIVE")
    );
    // Deleting the inactive key removes it from the JWKS; deletes are idempotent.
    let deleted = api.delete(&format!("/v2/web_keys/{old_kid}")).await.ok();
    assert!(deleted["deletionDate"].is_string());
    let again = api.delete(&format!("/v2/web_keys/{old_kid}")).await.ok();
    assert!(again.get("deletionDate").is_none());
    let jwks: Value = reqwest::get(format!("{}/oauth/v2/keys", e.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == old_kid)
    );
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == new_kid && k["kty"] == "EC")
    );
}

#[tokio::test]
async fn inactive_keys_leave_the_jwks_after_the_grace_period() {
    use gatehouse_zitadel_emulator::{Emulator, EmulatorConfig, MemoryStateStore};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let mut config = EmulatorConfig::new(
        "http://127.0.0.1:1/zitadel".parse().unwrap(),
        dir.path().into(),
        Arc::new(MemoryStateStore::new()),
        reqwest::Client::new(),
    );
    config.key_grace_period = std::time::Duration::from_millis(1500);
    let emulator = Emulator::start(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = emulator.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let api = Api::new(&base, emulator.admin_pat()).unchecked();
    let keys = api.get("/v2/web_keys").await.ok();
    let initial = keys["webKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == "STATE_INITIAL")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let active = keys["webKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == "STATE_ACTIVE")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(&format!("/v2/web_keys/{initial}/_activate"), json!({}))
        .await
        .ok();
    let kids = || async {
        let jwks: Value = reqwest::get(format!("{base}/oauth/v2/keys"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(kids().await.contains(&active));
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    assert_eq!(kids().await, vec![initial]);
}

#[tokio::test]
async fn end_session_checks_the_post_logout_uri_and_ends_the_session() {
    let e = env().await;
    let org = e.emulator.default_org_id();
    let redirect = "http://127.0.0.1:9/cb";
    let (_, client_id, secret) = web_app(&e.api, &org, redirect, json!({})).await;
    let (_, login_name) = human(&e.api, &org).await;
    let p = pkce();
    let url = authorize_url(&e.base, &client_id, redirect, "openid", &p, &[]);
    let code = query_param(&login(&url, &login_name, PASSWORD).await.unwrap(), "code").unwrap();
    let (_, tokens) = exchange(&e.base, &client_id, &secret, &code, redirect, &p.verifier).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let http = no_redirect_client();
    let end = |uri: &str| {
        let mut url = url::Url::parse(&format!("{}/oidc/v1/end_session", e.base)).unwrap();
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token)
            .append_pair("post_logout_redirect_uri", uri)
            .append_pair("state", "bye");
        url.to_string()
    };
    let resp = http.get(end("https://evil.example/")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let resp = http
        .get(end(&format!("{redirect}/logged-out")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(&format!("{redirect}/logged-out")));
    assert_eq!(query_param(location, "state").as_deref(), Some("bye"));
    // The session's tokens died with it.
    let resp = http
        .get(format!("{}/oidc/v1/userinfo", e.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = http
        .get(format!(
            "{}/oidc/v1/end_session?id_token_hint=bogus",
            e.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = http
        .get(format!("{}/oidc/v1/end_session", e.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "without parameters a signed-out page is shown"
    );
}

#[tokio::test]
async fn works_nested_under_a_prefix() {
    let (base, emulator) = gatehouse_zitadel_emulator::testing::spawn_with(
        gatehouse_zitadel_emulator::testing::SpawnOptions {
            prefix: "/zitadel".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(base.ends_with("/zitadel"));
    let disco: Value = reqwest::get(format!("{base}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(disco["issuer"], base);
    assert_eq!(disco["jwks_uri"], format!("{base}/oauth/v2/keys"));
    let api = Api::new(&base, emulator.admin_pat());
    let org = emulator.default_org_id();
    let redirect = "http://127.0.0.1:9/cb";
    let (_, client_id, secret) = web_app(&api, &org, redirect, json!({})).await;
    let user = emulator
        .create_human_user(&org, "nested-user", PASSWORD)
        .await
        .unwrap();
    let p = pkce();
    let url = authorize_url(&base, &client_id, redirect, "openid", &p, &[]);
    let callback = login(&url, "nested-user", PASSWORD).await.unwrap();
    let code = query_param(&callback, "code").unwrap();
    let (status, tokens) = exchange(&base, &client_id, &secret, &code, redirect, &p.verifier).await;
    assert_eq!(status, 200);
    let claims = verify_id_token(&base, tokens["id_token"].as_str().unwrap(), &client_id).await;
    assert_eq!(claims["sub"], user);
    // Paths outside the API answer in ZITADEL's error shape.
    let resp = reqwest::get(format!("{base}/nope")).await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], 5);
}

#[tokio::test]
async fn start_and_login_latency_stay_small() {
    let started = std::time::Instant::now();
    let (base, emulator) = gatehouse_zitadel_emulator::testing::spawn().await;
    let start = started.elapsed();
    let api = Api::new(&base, emulator.admin_pat());
    let org = emulator.default_org_id();
    let redirect = "http://127.0.0.1:9/cb";
    let (_, client_id, secret) = web_app(&api, &org, redirect, json!({})).await;
    emulator
        .create_human_user(&org, "timed", PASSWORD)
        .await
        .unwrap();
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let begun = std::time::Instant::now();
        let p = pkce();
        let url = authorize_url(&base, &client_id, redirect, "openid", &p, &[]);
        let code = query_param(&login(&url, "timed", PASSWORD).await.unwrap(), "code").unwrap();
        let (status, _) = exchange(&base, &client_id, &secret, &code, redirect, &p.verifier).await;
        assert_eq!(status, 200);
        rounds.push(begun.elapsed());
    }
    rounds.sort();
    eprintln!(
        "emulator start (2 RSA keys + admin key): {start:?}; full login round trip median {:?}, max {:?}",
        rounds[2], rounds[4]
    );
    // Generous bounds for a debug build on a shared 2-core machine.
    assert!(
        start < std::time::Duration::from_secs(10),
        "start took {start:?}"
    );
    assert!(
        rounds[2] < std::time::Duration::from_secs(3),
        "login took {:?}",
        rounds[2]
    );
}
