//! Admin sign-in through the embedded IdP, as a browser does it: `/admin/login` → the IdP's
//! authorize endpoint → its hosted login form → `/admin/callback` → a session cookie that the
//! API accepts (with CSRF rules for changes) until sign-out or expiry.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use gatehouse_core::{Timestamp, clock::ManualClock};
use gatehouse_server::{Running, StartOptions};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

/// A server on 127.0.0.1:0 (SQLite, embedded IdP) whose clock the test moves.
struct Server {
    url: String,
    token: String,
    clock: ManualClock,
    running: Running,
    data_dir: tempfile::TempDir,
}

async fn spawn(extra: &[(&str, &str)]) -> Server {
    let data_dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let token = format!("ghk_test_{}", ulid::Ulid::new());
    let mut env: Vec<(String, String)> = vec![
        (
            "GATEHOUSE_DATA_DIR".into(),
            data_dir.path().display().to_string(),
        ),
        ("GATEHOUSE_BOOTSTRAP_TOKEN".into(), token.clone()),
        ("GATEHOUSE_PUBLIC_URL".into(), url.clone()),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let settings = gatehouse_config::load_from(None, &env).unwrap();
    let clock = ManualClock::new(Timestamp::now());
    let running = gatehouse_server::start(
        settings,
        listener,
        StartOptions {
            clock: Arc::new(clock.clone()),
        },
    )
    .await
    .expect("server starts");
    Server {
        url,
        token,
        clock,
        running,
        data_dir,
    }
}

/// A browser: no automatic redirects, a cookie jar keyed by cookie name (one host).
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
    /// Every `Set-Cookie` header received, for attribute checks.
    set_cookies: Vec<String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Browser {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = if self.cookies.is_empty() {
            request
        } else {
            request.header(header::COOKIE, self.cookie_header())
        };
        let response = request.send().await.expect("request");
        for value in response.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap().to_owned();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
            self.set_cookies.push(text);
        }
        Page {
            status: response.status(),
            location: response
                .headers()
                .get(header::LOCATION)
                .map(|v| v.to_str().unwrap().to_owned()),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, url: &str) -> Page {
        let request = self.http.get(url);
        self.send(request).await
    }

    /// An API call as the portal makes it.
    async fn api(&mut self, method: reqwest::Method, url: &str, body: Option<Value>) -> Page {
        let mut request = self
            .http
            .request(method, url)
            .header("x-gatehouse-client", "portal")
            .header(header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }
}

fn absolute(base: &str, location: &str) -> String {
    reqwest::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

fn form_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

/// Follows `/admin/login` to the IdP's login form and submits it. Returns the IdP's answer to
/// the form: a redirect to `/admin/callback`, or the form again with an error.
async fn log_in_at_idp(b: &mut Browser, base: &str, login: &str, password: &str) -> Page {
    let start = b.get(&format!("{base}/admin/login")).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    let authorize = start.location.unwrap();
    assert!(
        authorize.starts_with(&format!("{base}/zitadel/oauth/v2/authorize?")),
        "{authorize}"
    );
    for needle in [
        "code_challenge_method=S256",
        "response_type=code",
        "urn%3Azitadel%3Aiam%3Auser%3Aresourceowner",
        "urn%3Azitadel%3Aiam%3Aorg%3Aid%3A",
    ] {
        assert!(
            authorize.contains(needle),
            "{needle} missing in {authorize}"
        );
    }
    let at_idp = b.get(&authorize).await;
    assert_eq!(at_idp.status, StatusCode::FOUND, "{}", at_idp.body);
    let login_url = absolute(&authorize, &at_idp.location.unwrap());
    let form = b.get(&login_url).await;
    assert_eq!(form.status, StatusCode::OK);
    let action = {
        let marker = "<form method=\"post\" action=\"";
        let start = form.body.find(marker).unwrap() + marker.len();
        let end = start + form.body[start..].find('"').unwrap();
        absolute(&login_url, &form.body[start..end].replace("&amp;", "&"))
    };
    let fields = [
        ("authRequestID", form_field(&form.body, "authRequestID")),
        ("csrf", form_field(&form.body, "csrf")),
        ("loginName", login.to_owned()),
        ("password", password.to_owned()),
    ];
    let request = b.http.post(&action).form(&fields);
    b.send(request).await
}

/// A full sign-in; returns the callback's answer.
async fn sign_in(b: &mut Browser, base: &str, login: &str, password: &str) -> Page {
    let answer = log_in_at_idp(b, base, login, password).await;
    assert!(
        answer.status.is_redirection(),
        "IdP refused: {}",
        answer.body
    );
    let callback = answer.location.unwrap();
    assert!(
        callback.starts_with(&format!("{base}/admin/callback?")),
        "{callback}"
    );
    b.get(&callback).await
}

fn admin_login(server: &Server) -> (String, String) {
    let creds = server
        .running
        .admin_credentials
        .as_ref()
        .expect("the first start creates the first platform admin");
    (creds.login_name.clone(), creds.password.clone())
}

async fn audit_actions(server: &Server) -> Vec<Value> {
    let body: Value = reqwest::Client::new()
        .get(format!("{}/v1/audit-logs?limit=100", server.url))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn platform_admin_signs_in_and_uses_the_api_with_the_cookie() {
    let server = spawn(&[]).await;
    let base = server.url.clone();
    let (login, password) = admin_login(&server);
    let mut b = Browser::new();

    let done = sign_in(&mut b, &base, &login, &password).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/admin/"));
    let session_cookie = b
        .set_cookies
        .iter()
        .find(|c| c.starts_with("gatehouse_session="))
        .expect("a session cookie")
        .clone();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    // Plain http public URL: no Secure attribute, no __Host- prefix.
    assert!(!session_cookie.contains("Secure"), "{session_cookie}");
    // The login state cookie is gone after the callback.
    assert!(!b.cookies.contains_key("gatehouse_admin_login"));
    let id = b.cookies["gatehouse_session"].clone();
    assert_eq!(id.len(), 43, "256-bit id, base64url");

    let me = b
        .api(reqwest::Method::GET, &format!("{base}/v1/me"), None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let me: Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(me["kind"], "admin");
    assert_eq!(me["name"], "Platform Admin");
    assert_eq!(me["platform"], true);
    assert_eq!(me["email"], "admin@gatehouse.invalid");
    assert!(me["session_expires_at"].is_string());

    // Reads work with the cookie alone.
    let list = b.get(&format!("{base}/v1/tenants?limit=1")).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);

    // Changes need the portal's header…
    let bare = b
        .http
        .post(format!("{base}/v1/tenants"))
        .json(&json!({"name": "Acme", "slug": "acme"}));
    let refused = b.send(bare).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        refused.body.contains("csrf_check_failed"),
        "{}",
        refused.body
    );
    // …and, when the browser names one, the same origin.
    let cross = b
        .http
        .post(format!("{base}/v1/tenants"))
        .header("x-gatehouse-client", "portal")
        .header(header::ORIGIN, "http://evil.example")
        .json(&json!({"name": "Acme", "slug": "acme"}));
    let refused = b.send(cross).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let same = b
        .http
        .post(format!("{base}/v1/tenants"))
        .header("x-gatehouse-client", "portal")
        .header(header::ORIGIN, &base)
        .json(&json!({"name": "Acme", "slug": "acme"}));
    let created = b.send(same).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    // The tenant's audit entry names the admin; the sign-in is audited.
    let entries = audit_actions(&server).await;
    let signed_in = entries
        .iter()
        .find(|e| e["action"] == "admin.signed_in")
        .expect("sign-in audited");
    assert_eq!(signed_in["actor"]["type"], "user");
    assert_eq!(signed_in["actor"]["name"], "Platform Admin");
    let tenant = entries
        .iter()
        .find(|e| e["action"] == "tenant.created")
        .expect("tenant audited");
    assert_eq!(tenant["actor"]["id"], signed_in["actor"]["id"]);

    // API keys keep working for automation, and a bearer token wins over a cookie.
    let with_key = reqwest::Client::new()
        .get(format!("{base}/v1/me"))
        .bearer_auth(&server.token)
        .header(header::COOKIE, format!("gatehouse_session={id}"))
        .send()
        .await
        .unwrap();
    let with_key: Value = with_key.json().await.unwrap();
    assert_eq!(with_key["kind"], "api_key");

    // A forged cookie is no session.
    let forged = reqwest::Client::new()
        .get(format!("{base}/v1/me"))
        .header(
            header::COOKIE,
            "gatehouse_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn logout_ends_the_session_here_and_at_the_idp() {
    let server = spawn(&[]).await;
    let base = server.url.clone();
    let (login, password) = admin_login(&server);
    let mut b = Browser::new();
    assert_eq!(
        sign_in(&mut b, &base, &login, &password).await.status,
        StatusCode::SEE_OTHER
    );
    let id = b.cookies["gatehouse_session"].clone();

    // Sign-out is a change: the portal's header is required.
    let bare = b.http.post(format!("{base}/admin/logout"));
    assert_eq!(b.send(bare).await.status, StatusCode::FORBIDDEN);
    assert!(b.cookies.contains_key("gatehouse_session"));

    let out = b
        .api(reqwest::Method::POST, &format!("{base}/admin/logout"), None)
        .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    let out: Value = serde_json::from_str(&out.body).unwrap();
    assert_eq!(out["signed_out"], true);
    let end_session = out["end_session_url"].as_str().unwrap().to_owned();
    assert!(end_session.starts_with(&format!("{base}/zitadel/oidc/v1/end_session?")));
    assert!(end_session.contains("id_token_hint="), "{end_session}");
    assert!(
        b.set_cookies
            .last()
            .unwrap()
            .starts_with("gatehouse_session=;")
    );
    assert!(!b.cookies.contains_key("gatehouse_session"));

    // The old cookie no longer authenticates.
    let old = reqwest::Client::new()
        .get(format!("{base}/v1/me"))
        .header(header::COOKIE, format!("gatehouse_session={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);

    // The IdP accepts the hint and sends the browser back to the portal.
    let idp = b.get(&end_session).await;
    assert!(idp.status.is_redirection(), "{}", idp.body);
    assert_eq!(
        idp.location.as_deref(),
        Some(format!("{base}/admin/").as_str())
    );

    let actions: Vec<String> = audit_actions(&server)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        actions.contains(&"admin.signed_out".to_owned()),
        "{actions:?}"
    );

    // A form post (no JSON) is redirected to the IdP instead.
    assert_eq!(
        sign_in(&mut b, &base, &login, &password).await.status,
        StatusCode::SEE_OTHER
    );
    let form = b
        .http
        .post(format!("{base}/admin/logout"))
        .header("x-gatehouse-client", "portal");
    let redirected = b.send(form).await;
    assert_eq!(redirected.status, StatusCode::SEE_OTHER);
    assert!(
        redirected
            .location
            .unwrap()
            .starts_with(&format!("{base}/zitadel/oidc/v1/end_session?"))
    );
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn sessions_expire_after_idling_and_at_their_lifetime() {
    let server = spawn(&[
        ("GATEHOUSE_ADMIN_SESSION_LIFETIME", "1h"),
        ("GATEHOUSE_ADMIN_SESSION_IDLE_TIMEOUT", "10m"),
    ])
    .await;
    let base = server.url.clone();
    let (login, password) = admin_login(&server);
    let mut b = Browser::new();
    assert_eq!(
        sign_in(&mut b, &base, &login, &password).await.status,
        StatusCode::SEE_OTHER
    );
    let me = format!("{base}/v1/me");

    // Used every 9 minutes, the session lives on past the idle timeout…
    for _ in 0..5 {
        server.clock.advance(Duration::from_secs(9 * 60));
        let page = b.get(&me).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    }
    // …until its lifetime (45 min so far, 1 h max).
    server.clock.advance(Duration::from_secs(16 * 60));
    let page = b.get(&me).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    assert!(page.body.contains("session has ended"), "{}", page.body);

    // A new session left alone for the idle timeout ends too.
    assert_eq!(
        sign_in(&mut b, &base, &login, &password).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(b.get(&me).await.status, StatusCode::OK);
    server.clock.advance(Duration::from_secs(10 * 60));
    assert_eq!(b.get(&me).await.status, StatusCode::UNAUTHORIZED);
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn tampered_replayed_foreign_or_expired_login_state_is_refused() {
    let server = spawn(&[]).await;
    let base = server.url.clone();
    let (login, password) = admin_login(&server);

    // No login cookie at all (the sign-in was started in another browser).
    let mut b = Browser::new();
    let answer = log_in_at_idp(&mut b, &base, &login, &password).await;
    let callback = answer.location.unwrap();
    let mut stranger = Browser::new();
    let page = stranger.get(&callback).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("not started in this browser"),
        "{}",
        page.body
    );

    // A tampered cookie does not open.
    let original = b.cookies["gatehouse_admin_login"].clone();
    let mut tampered = original.clone().into_bytes();
    let at = tampered.len() - 5;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    b.cookies.insert(
        "gatehouse_admin_login".into(),
        String::from_utf8(tampered).unwrap(),
    );
    let page = b.get(&callback).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("state is invalid"), "{}", page.body);
    assert!(!b.cookies.contains_key("gatehouse_session"));

    // The genuine cookie with another state parameter is refused.
    b.cookies
        .insert("gatehouse_admin_login".into(), original.clone());
    let (path, query) = callback.split_once('?').unwrap();
    let forged: String = query
        .split('&')
        .map(|p| {
            if p.starts_with("state=") {
                "state=forged".to_owned()
            } else {
                p.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("&");
    let page = b.get(&format!("{path}?{forged}")).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("does not belong"), "{}", page.body);

    // An IdP error is shown, not turned into a session.
    b.cookies
        .insert("gatehouse_admin_login".into(), original.clone());
    let state = query
        .split('&')
        .find_map(|p| p.strip_prefix("state="))
        .unwrap();
    let page = b
        .get(&format!(
            "{base}/admin/callback?error=access_denied&state={state}"
        ))
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("access_denied"), "{}", page.body);

    // The login state is single use: the callback cleared it.
    assert!(!b.cookies.contains_key("gatehouse_admin_login"));
    let page = b.get(&callback).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);

    // A login state older than ten minutes is refused even with a valid code.
    let answer = log_in_at_idp(&mut b, &base, &login, &password).await;
    server.clock.advance(Duration::from_secs(11 * 60));
    let page = b.get(&answer.location.unwrap()).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("expired"), "{}", page.body);
    assert!(!b.cookies.contains_key("gatehouse_session"));

    // return_to must stay in the portal.
    let page = b
        .get(&format!(
            "{base}/admin/login?return_to=https://evil.example/"
        ))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let page = b
        .get(&format!("{base}/admin/login?return_to=/admin/tenants"))
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn members_of_other_organizations_cannot_sign_in() {
    let server = spawn(&[]).await;
    let base = server.url.clone();
    let api = reqwest::Client::new();
    // A tenant's organization and a user in it.
    let tenant: Value = api
        .post(format!("{base}/v1/tenants"))
        .bearer_auth(&server.token)
        .json(&json!({"name": "Outsiders", "slug": "outsiders"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tenant["sync"]["state"], "synced", "{tenant}");
    let org = tenant["sync"]["zitadel_ids"]["org_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pat = std::fs::read_to_string(server.data_dir.path().join("zitadel-admin.pat")).unwrap();
    let password = "Outs1der!Passw0rd";
    let created = api
        .post(format!("{base}/zitadel/v2/users/human"))
        .bearer_auth(pat.trim())
        .json(&json!({
            "username": "mallory",
            "organization": {"orgId": org},
            "profile": {"givenName": "Mallory", "familyName": "Outsider"},
            "email": {"email": "mallory@outsiders.example", "isVerified": true},
            "password": {"password": password},
        }))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "{}",
        created.text().await.unwrap()
    );

    // The authorize request is restricted to the admin organization: the IdP refuses her.
    let mut b = Browser::new();
    let answer = log_in_at_idp(&mut b, &base, "mallory", password).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "the IdP must not issue a code"
    );
    assert!(answer.body.contains("incorrect"), "{}", answer.body);
    assert!(!b.cookies.contains_key("gatehouse_session"));
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_admin_organization_is_configurable() {
    // Sign-in restricted to a tenant's organization: its members get in, the default
    // organization's admin does not.
    let first = spawn(&[]).await;
    let (admin, admin_password) = admin_login(&first);
    let api = reqwest::Client::new();
    let tenant: Value = api
        .post(format!("{}/v1/tenants", first.url))
        .bearer_auth(&first.token)
        .json(&json!({"name": "Operators", "slug": "operators"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org = tenant["sync"]["zitadel_ids"]["org_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pat = std::fs::read_to_string(first.data_dir.path().join("zitadel-admin.pat")).unwrap();
    let password = "0perator!Passw0rd";
    let created = api
        .post(format!("{}/zitadel/v2/users/human", first.url))
        .bearer_auth(pat.trim())
        .json(&json!({
            "username": "olga",
            "organization": {"orgId": org},
            "profile": {"givenName": "Olga", "familyName": "Operator"},
            "email": {"email": "olga@operators.example", "isVerified": true},
            "password": {"password": password},
        }))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let Server {
        running,
        data_dir,
        token,
        ..
    } = first;
    let store = running.store.clone();
    running.shutdown().await.unwrap();
    store.close().await;

    // Same data, new port, admin_org_id = the tenant's organization.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let env: Vec<(String, String)> = vec![
        (
            "GATEHOUSE_DATA_DIR".into(),
            data_dir.path().display().to_string(),
        ),
        ("GATEHOUSE_BOOTSTRAP_TOKEN".into(), token.clone()),
        ("GATEHOUSE_PUBLIC_URL".into(), url.clone()),
        ("GATEHOUSE_ADMIN_ORG_ID".into(), org.clone()),
    ];
    let settings = gatehouse_config::load_from(None, &env).unwrap();
    let running = gatehouse_server::start(settings, listener, StartOptions::default())
        .await
        .unwrap();
    // The first admin belongs to the emulator's own organization: not provisioned here.
    assert!(running.admin_credentials.is_none());

    let mut b = Browser::new();
    let done = sign_in(&mut b, &url, "olga", password).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let me = b.get(&format!("{url}/v1/me")).await;
    let me: Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(me["org_id"], org.as_str());

    let mut other = Browser::new();
    let refused = log_in_at_idp(&mut other, &url, &admin, &admin_password).await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(!other.cookies.contains_key("gatehouse_session"));
    running.shutdown().await.unwrap();
    drop(data_dir);
}

#[tokio::test]
async fn an_unknown_admin_organization_leaves_sign_in_unavailable_not_the_server() {
    let server = spawn(&[("GATEHOUSE_ADMIN_ORG_ID", "999999999999999999")]).await;
    assert!(server.running.admin_credentials.is_none());
    let mut b = Browser::new();
    let page = b.get(&format!("{}/admin/login", server.url)).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.body.contains("could not be registered"),
        "{}",
        page.body
    );
    // API keys still work.
    let me = reqwest::Client::new()
        .get(format!("{}/v1/me", server.url))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    // Without credentials the API says how to authenticate.
    let anonymous = b.get(&format!("{}/v1/me", server.url)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    server.running.shutdown().await.unwrap();
}

/// The portal's "Sign in with your identity provider" in headless Chromium, through the IdP's
/// hosted login page (`admin/e2e/signin.e2e.mjs`). Skipped without node/Chromium unless
/// `STRICT=1`.
#[tokio::test(flavor = "multi_thread")]
async fn the_portal_signs_in_through_the_idp_in_a_real_browser() {
    let Some((node, admin)) = crate::portal::browser_prerequisites() else {
        return;
    };
    let _browser = crate::portal::BROWSER.lock().await;
    let server = spawn(&[]).await;
    let (login, password) = admin_login(&server);
    let shots = tempfile::Builder::new()
        .prefix("gatehouse-signin-e2e-")
        .tempdir()
        .unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(180),
        tokio::process::Command::new(node)
            .arg("e2e/signin.e2e.mjs")
            .args([
                "--url",
                &server.url,
                "--login",
                &login,
                "--password",
                &password,
            ])
            .arg("--out")
            .arg(shots.path())
            .args(["--chromium", crate::portal::CHROMIUM])
            .current_dir(admin)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser test finishes within 3 minutes")
    .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("e2e: sign-in checks passed"),
        "{stdout}\n{}\nscreenshots: {}",
        String::from_utf8_lossy(&out.stderr),
        shots.keep().display()
    );
    server.running.shutdown().await.unwrap();
}
