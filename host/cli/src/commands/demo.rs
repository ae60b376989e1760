//! `gatehouse demo`: seeds a demo tenant, app and user through the running server's API and the
//! IdP, then serves a tiny storefront on a loopback port that signs users in with the
//! authorization code flow + PKCE and shows the ID token's claims after verifying it offline
//! with `gatehouse-jwks`.
//!
//! Idempotent: a second run reuses the tenant (slug `demo-shop`), the app ("Demo storefront",
//! redirect URIs updated to the current `--listen`) and the user. The app's client secret and
//! the user's password are kept in `<data dir>/demo.json` (mode 0600) so a rerun need not
//! rotate them.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use axum::{
    Router,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use gatehouse_config::{Settings, ZitadelCredentials, ZitadelTarget};
use gatehouse_jwks::{
    JwksCache, ReqwestFetcher, Verifier, VerifyOptions,
    code::{CodeExchange, exchange_code},
};
use gatehouse_server::admin_session::{cookie, escape, random_b64};
use gatehouse_zitadel::{
    ClientConfig, Credentials, ZitadelClient,
    client::{
        AddHumanUserRequest, OrganizationRef, Password, SetHumanEmail, SetHumanProfile,
        SetPasswordRequest,
    },
};
use rand::RngCore;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::client::{Client, Connection};

pub const TENANT_NAME: &str = "Demo Shop";
pub const TENANT_SLUG: &str = "demo-shop";
pub const APP_NAME: &str = "Demo storefront";
/// Doubles as the email; `.example` never resolves.
pub const DEMO_USER: &str = "demo@demo-shop.example";
const STATE_FILE: &str = "demo.json";
/// Where the embedded emulator writes its instance admin's PAT (ZITADEL's `FirstInstance.PatPath`).
const EMULATOR_PAT_FILE: &str = "zitadel-admin.pat";
const SYNC_WAIT: Duration = Duration::from_secs(60);
const MAX_PENDING_LOGINS: usize = 1000;
const LOGIN_LIFETIME: Duration = Duration::from_secs(600);

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    conn: Connection,
    /// Loopback address the storefront listens on (its redirect URI is http://<listen>/callback).
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Seed and print the credentials, then exit without serving the storefront.
    #[arg(long)]
    no_serve: bool,
}

/// What a rerun reuses (secrets: kept with mode 0600 in the data directory).
#[derive(Default, Serialize, Deserialize)]
struct Saved {
    app_id: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    user_id: Option<String>,
    password: Option<String>,
}

pub async fn run(config: Option<&Path>, args: Args) -> anyhow::Result<()> {
    if !args.listen.ip().is_loopback() {
        bail!(
            "--listen {} is not a loopback address: the demo storefront serves plain http and its redirect URI must be loopback (e.g. 127.0.0.1:3000)",
            args.listen
        );
    }
    let settings = super::settings(config)?;
    let api = Client::new(&args.conn)?;
    let state_path = settings.data_dir.join(STATE_FILE);
    let mut saved = read_saved(&state_path)?;

    // The storefront's port is bound first: a busy port fails before anything is changed.
    let listener = if args.no_serve {
        None
    } else {
        Some(
            tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| {
                    format!(
                        "cannot listen on {} (pass --listen with a free loopback port)",
                        args.listen
                    )
                })?,
        )
    };
    let origin = format!("http://{}", args.listen);
    let redirect_uri = format!("{origin}/callback");

    let tenant = ensure_tenant(&api).await?;
    let tenant_id = text(&tenant, "id")?;
    let tenant = wait_synced(&api, &format!("/v1/tenants/{tenant_id}"), "the tenant").await?;
    let org_id = tenant["sync"]["zitadel_ids"]["org_id"]
        .as_str()
        .ok_or_else(|| anyhow!("the tenant is synced but has no ZITADEL organization id"))?
        .to_owned();

    let (app, secret) = ensure_app(&api, &tenant_id, &redirect_uri, &origin, &saved).await?;
    let client_id = text(&app, "client_id")?;
    let app_id = text(&app, "id")?;
    saved.app_id = Some(app_id.clone());
    saved.client_id = Some(client_id.clone());
    saved.client_secret = Some(secret.clone());
    write_saved(&state_path, &saved)?;

    let idp = idp_client(&settings, &args.conn.url)?;
    let password = ensure_user(&idp, &org_id, &mut saved).await?;
    write_saved(&state_path, &saved)?;

    println!();
    println!("  Demo seeded through {}", args.conn.url);
    println!("    tenant  {TENANT_NAME} ({tenant_id}, organization {org_id})");
    println!("    app     {APP_NAME} ({app_id}), client id {client_id}");
    println!();
    println!("  Sign in as");
    println!("    login     {DEMO_USER}");
    println!("    password  {password}");
    println!();
    let Some(listener) = listener else {
        println!("  (--no-serve: the storefront is not started)");
        return Ok(());
    };
    let storefront = Storefront::new(&idp, client_id, secret, org_id, &origin).await?;
    println!("  Open the demo storefront: {origin}/");
    println!("  Press Ctrl-C to stop.");
    println!();
    let router = Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .with_state(Arc::new(storefront));
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the demo storefront failed")
}

fn text(value: &Value, key: &str) -> anyhow::Result<String> {
    value[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the server's answer has no `{key}`"))
}

fn read_saved(path: &Path) -> anyhow::Result<Saved> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not a demo state file; delete it to start over",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Saved::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_saved(path: &Path, saved: &Saved) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    serde_json::to_writer_pretty(&file, saved)?;
    file.sync_all().ok();
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

async fn ensure_tenant(api: &Client) -> anyhow::Result<Value> {
    let tenants = api.list_all("/v1/tenants").await?;
    if let Some(tenant) = tenants.into_iter().find(|t| t["slug"] == TENANT_SLUG) {
        return Ok(tenant);
    }
    api.post(
        "/v1/tenants",
        json!({"name": TENANT_NAME, "slug": TENANT_SLUG, "domains": ["demo-shop.example"]}),
    )
    .await
    .context("creating the demo tenant")
}

/// Polls `path` until its `sync.state` is `synced` (triggering a sync pass once if it lags).
async fn wait_synced(api: &Client, path: &str, what: &str) -> anyhow::Result<Value> {
    let started = Instant::now();
    let mut nudged = false;
    loop {
        let value = api.get(path).await?;
        match value["sync"]["state"].as_str() {
            Some("synced") => return Ok(value),
            state => {
                if started.elapsed() > SYNC_WAIT {
                    bail!(
                        "{what} is not synced with the IdP after {}s (state {}: {}); check `gatehouse sync status`",
                        SYNC_WAIT.as_secs(),
                        state.unwrap_or("unknown"),
                        value["sync"]["message"].as_str().unwrap_or("no message")
                    );
                }
                if !nudged && started.elapsed() > Duration::from_secs(2) {
                    // Skips the background loop's backoff; harmless if not allowed.
                    let _ = api.post("/v1/sync/run", json!({})).await;
                    nudged = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// The demo app with this run's URIs, and its client secret.
async fn ensure_app(
    api: &Client,
    tenant_id: &str,
    redirect_uri: &str,
    origin: &str,
    saved: &Saved,
) -> anyhow::Result<(Value, String)> {
    let apps_path = format!("/v1/tenants/{tenant_id}/apps");
    let post_logout = format!("{origin}/");
    let existing = api
        .list_all(&apps_path)
        .await?
        .into_iter()
        .find(|a| a["name"] == APP_NAME);
    let (app, mut secret) = match existing {
        None => {
            let created = api
                .post(
                    &apps_path,
                    json!({
                        "name": APP_NAME,
                        "type": "web",
                        "redirect_uris": [redirect_uri],
                        "post_logout_redirect_uris": [post_logout],
                    }),
                )
                .await
                .context("creating the demo app")?;
            let secret = created["client_secret"].as_str().map(str::to_owned);
            (created, secret)
        }
        Some(app) => {
            let id = text(&app, "id")?;
            if app["redirect_uris"] != json!([redirect_uri])
                || app["post_logout_redirect_uris"] != json!([post_logout])
            {
                api.call(
                    Method::PATCH,
                    &format!("{apps_path}/{id}"),
                    Some(json!({
                        "redirect_uris": [redirect_uri],
                        "post_logout_redirect_uris": [post_logout],
                    })),
                )
                .await
                .context("updating the demo app's redirect URIs")?;
            }
            // The secret is shown once; the saved copy is reused when it is still this app's.
            let reuse = saved.app_id.as_deref() == Some(id.as_str())
                && saved.client_id.is_some()
                && saved.client_id.as_deref() == app["client_id"].as_str();
            (app, saved.client_secret.clone().filter(|_| reuse))
        }
    };
    let id = text(&app, "id")?;
    let app_path = format!("{apps_path}/{id}");
    wait_synced(api, &app_path, "the demo app").await?;
    if secret.is_none() {
        // Never shown (synced after the create answer) or not saved: take it, else rotate.
        secret = match api
            .post(&format!("{app_path}/client-secret"), json!({}))
            .await
        {
            Ok(value) => value["client_secret"].as_str().map(str::to_owned),
            Err(_) => {
                let rotated = api
                    .post(&format!("{app_path}/rotate-secret"), json!({}))
                    .await
                    .context("rotating the demo app's client secret")?;
                match rotated["client_secret"].as_str() {
                    Some(s) => Some(s.to_owned()),
                    None => {
                        wait_synced(api, &app_path, "the demo app's new secret").await?;
                        api.post(&format!("{app_path}/client-secret"), json!({}))
                            .await?["client_secret"]
                            .as_str()
                            .map(str::to_owned)
                    }
                }
            }
        };
    }
    let secret =
        secret.ok_or_else(|| anyhow!("the IdP issued no client secret for the demo app"))?;
    // The client id may have changed with the sync (a recreated app).
    let app = api.get(&app_path).await?;
    Ok((app, secret))
}

/// The ZITADEL API: the embedded emulator under the server's URL with the admin PAT from the
/// data directory, or the configured ZITADEL with its credentials.
fn idp_client(settings: &Settings, server_url: &str) -> anyhow::Result<ZitadelClient> {
    let http = reqwest::Client::builder()
        .user_agent(concat!("gatehouse-demo/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(30))
        .build()?;
    let (base, credentials) = match &settings.zitadel {
        ZitadelTarget::Embedded => {
            let pat = settings.data_dir.join(EMULATOR_PAT_FILE);
            let credentials = Credentials::from_pat_file(&pat).with_context(|| {
                format!(
                    "reading the embedded IdP's admin PAT {} (run the demo with the server's configuration: same data_dir / GATEHOUSE_DATA_DIR)",
                    pat.display()
                )
            })?;
            let base = format!("{}/zitadel", server_url.trim_end_matches('/'));
            (
                url::Url::parse(&base).context("--url is not a URL")?,
                credentials,
            )
        }
        ZitadelTarget::External { url, credentials } => {
            let credentials = match credentials {
                ZitadelCredentials::PatFile(path) => Credentials::from_pat_file(path)
                    .with_context(|| format!("reading zitadel_pat_file {}", path.display()))?,
                ZitadelCredentials::KeyFile(path) => Credentials::from_key_file(path)
                    .with_context(|| format!("reading zitadel_key_file {}", path.display()))?,
            };
            (url.clone(), credentials)
        }
    };
    ZitadelClient::new(http, ClientConfig::new(base, credentials))
        .context("configuring the ZITADEL client")
}

/// Creates the demo user in the tenant's organization, or resets its password when it exists
/// and the saved password is unknown. Returns the password.
async fn ensure_user(
    idp: &ZitadelClient,
    org_id: &str,
    saved: &mut Saved,
) -> anyhow::Result<String> {
    let found = idp
        .find_user_by_username(org_id, DEMO_USER)
        .await
        .context("looking for the demo user")?;
    match found {
        Some(user)
            if saved.user_id.as_deref() == Some(user.user_id.as_str())
                && saved.password.is_some() =>
        {
            Ok(saved.password.clone().unwrap_or_default())
        }
        Some(user) => {
            let password = generate_password();
            idp.set_password(
                &user.user_id,
                &SetPasswordRequest {
                    new_password: Password {
                        password: password.clone().into(),
                        change_required: false,
                    },
                    ..Default::default()
                },
            )
            .await
            .context("setting the demo user's password")?;
            saved.user_id = Some(user.user_id);
            saved.password = Some(password.clone());
            Ok(password)
        }
        None => {
            let password = generate_password();
            let created = idp
                .create_human_user(&AddHumanUserRequest {
                    username: Some(DEMO_USER.into()),
                    organization: Some(OrganizationRef::OrgId(org_id.into())),
                    profile: SetHumanProfile {
                        given_name: "Dana".into(),
                        family_name: "Demo".into(),
                        display_name: Some("Dana Demo".into()),
                        ..Default::default()
                    },
                    email: SetHumanEmail {
                        email: DEMO_USER.into(),
                        is_verified: Some(true),
                        ..Default::default()
                    },
                    password: Some(Password {
                        password: password.clone().into(),
                        change_required: false,
                    }),
                    ..Default::default()
                })
                .await
                .context("creating the demo user")?;
            saved.user_id = Some(created.user_id);
            saved.password = Some(password.clone());
            Ok(password)
        }
    }
}

// ---- the storefront ----

struct Storefront {
    issuer: String,
    client_id: String,
    client_secret: String,
    org_id: String,
    origin: String,
    authorize_endpoint: url::Url,
    token_endpoint: String,
    end_session_endpoint: Option<String>,
    verifier: Verifier,
    http: reqwest::Client,
    /// Started sign-ins by `state`: PKCE verifier, nonce, start time.
    pending: Mutex<HashMap<String, (String, String, Instant)>>,
}

impl Storefront {
    async fn new(
        idp: &ZitadelClient,
        client_id: String,
        client_secret: String,
        org_id: String,
        origin: &str,
    ) -> anyhow::Result<Self> {
        let discovery = idp
            .discovery()
            .await
            .context("reading the IdP's OIDC discovery")?;
        // Calls from here go where the API client goes; the browser uses the public URLs.
        let base = idp.base_url().trim_end_matches('/').to_owned();
        let backchannel = |url: &str| match url.strip_prefix(discovery.issuer.trim_end_matches('/'))
        {
            Some(rest) => format!("{base}{rest}"),
            None => url.to_owned(),
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        // Offline verification: keys fetched once and cached (refetched on an unknown kid).
        let keys = JwksCache::remote(backchannel(&discovery.jwks_uri))
            .issuer(discovery.issuer.clone())
            .fetcher(Arc::new(ReqwestFetcher::with_client(http.clone())))
            .build()?;
        let verifier = Verifier::new(
            VerifyOptions::new(discovery.issuer.clone(), [client_id.clone()]),
            keys,
        )?;
        Ok(Self {
            authorize_endpoint: url::Url::parse(&discovery.authorization_endpoint)
                .context("the IdP's authorization_endpoint is not a URL")?,
            token_endpoint: backchannel(&discovery.token_endpoint),
            end_session_endpoint: discovery.end_session_endpoint.clone(),
            issuer: discovery.issuer,
            client_id,
            client_secret,
            org_id,
            origin: origin.to_owned(),
            verifier,
            http,
            pending: Mutex::new(HashMap::new()),
        })
    }
}

/// Letters and digits in groups, with a digit, both cases and a symbol (ZITADEL's default
/// password policy).
fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    loop {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let chars: String = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
            .collect();
        if chars.chars().any(|c| c.is_ascii_uppercase())
            && chars.chars().any(|c| c.is_ascii_lowercase())
            && chars.chars().any(|c| c.is_ascii_digit())
        {
            return format!("{}-{}", &chars[..8], &chars[8..]);
        }
    }
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Demo Shop</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#111}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top;word-break:break-all}}\
         .button{{display:inline-block;background:#111;color:#fff;padding:.6rem 1rem;border-radius:.4rem;text-decoration:none}}\
         .note{{color:#555;font-size:.9rem}}</style></head><body><h1>Demo Shop</h1>{body}</body></html>"
    );
    let mut response = (status, Html(html)).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn home() -> Response {
    page(
        StatusCode::OK,
        "<p>A tiny storefront that signs customers in through Gatehouse's IdP.</p>\
         <p><a class=\"button\" href=\"/login\">Sign in</a></p>\
         <p class=\"note\">Authorization code flow with PKCE; the ID token is verified offline with gatehouse-jwks.</p>",
    )
}

async fn login(State(shop): State<Arc<Storefront>>) -> Response {
    let state = random_b64(24);
    let nonce = random_b64(24);
    let verifier = random_b64(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    {
        let mut pending = shop.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|_, (_, _, at)| at.elapsed() < LOGIN_LIFETIME);
        if pending.len() >= MAX_PENDING_LOGINS {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "<p>Too many sign-ins in progress; try again later.</p>",
            );
        }
        pending.insert(state.clone(), (verifier, nonce.clone(), Instant::now()));
    }
    let mut url = shop.authorize_endpoint.clone();
    url.query_pairs_mut()
        .append_pair("client_id", &shop.client_id)
        .append_pair("redirect_uri", &format!("{}/callback", shop.origin))
        .append_pair("response_type", "code")
        .append_pair(
            "scope",
            &format!(
                "openid profile email urn:zitadel:iam:user:resourceowner urn:zitadel:iam:org:id:{}",
                shop.org_id
            ),
        )
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut response =
        (StatusCode::SEE_OTHER, [(header::LOCATION, url.to_string())]).into_response();
    // Binds the sign-in to this browser.
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "demo_state={state}; Path=/; HttpOnly; SameSite=Lax; Max-Age=600"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

async fn callback(
    State(shop): State<Arc<Storefront>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match finish(&shop, &headers, query.as_deref().unwrap_or_default()).await {
        Ok(body) => page(StatusCode::OK, &body),
        Err(message) => page(
            StatusCode::BAD_REQUEST,
            &format!(
                "<p>Sign-in failed: {}</p><p><a class=\"button\" href=\"/login\">Try again</a></p>",
                escape(&message)
            ),
        ),
    }
}

async fn finish(shop: &Storefront, headers: &HeaderMap, query: &str) -> Result<String, String> {
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if let Some(error) = params.get("error") {
        return Err(format!(
            "the IdP answered {error}: {}",
            params.get("error_description").map_or("", String::as_str)
        ));
    }
    let state = params.get("state").ok_or("the answer has no state")?;
    if cookie(headers, "demo_state") != Some(state.as_str()) {
        return Err("this sign-in was not started in this browser".into());
    }
    let (verifier, nonce, _) = shop
        .pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(state)
        .filter(|(_, _, at)| at.elapsed() < LOGIN_LIFETIME)
        .ok_or("this sign-in expired or was already completed")?;
    let code = params.get("code").ok_or("the answer has no code")?;
    let redirect_uri = format!("{}/callback", shop.origin);
    let tokens = exchange_code(
        &shop.http,
        CodeExchange {
            token_endpoint: &shop.token_endpoint,
            client_id: &shop.client_id,
            client_secret: &shop.client_secret,
            code,
            redirect_uri: &redirect_uri,
            code_verifier: &verifier,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let verified = shop
        .verifier
        .verify(&tokens.id_token)
        .await
        .map_err(|e| format!("the ID token did not verify: {e}"))?;
    if verified.claims.nonce.as_deref() != Some(nonce.as_str()) {
        return Err("the ID token's nonce does not match this sign-in".into());
    }
    let mut rows = String::new();
    for (name, value) in &verified.claims.raw {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        rows.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(name),
            escape(&shown)
        ));
    }
    let who = verified
        .claims
        .name
        .clone()
        .or(verified.claims.email.clone())
        .or(verified.claims.sub.clone())
        .unwrap_or_default();
    let logout = match &shop.end_session_endpoint {
        Some(endpoint) => {
            let mut url = url::Url::parse(endpoint).map_err(|e| e.to_string())?;
            url.query_pairs_mut()
                .append_pair("id_token_hint", &tokens.id_token)
                .append_pair("post_logout_redirect_uri", &format!("{}/", shop.origin));
            format!(
                "<p><a class=\"button\" href=\"{}\">Sign out</a></p>",
                escape(url.as_str())
            )
        }
        None => String::new(),
    };
    Ok(format!(
        "<p id=\"welcome\">Welcome, {}!</p>\
         <p class=\"note\">ID token verified offline: {} signature (key <code>{}</code>) checked against the IdP's JWKS, issuer <code>{}</code>, audience contains <code>{}</code>, not expired, nonce matches.</p>\
         <h2>Verified claims</h2><table id=\"claims\">{rows}</table>{logout}",
        escape(&who),
        escape(verified.alg.as_str()),
        escape(verified.kid.as_deref().unwrap_or("-")),
        escape(&shop.issuer),
        escape(&shop.client_id),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_meet_the_default_policy() {
        for _ in 0..20 {
            let p = generate_password();
            assert_eq!(p.len(), 17);
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.contains('-'));
        }
    }

    #[test]
    fn saved_state_round_trips_privately() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(STATE_FILE);
        assert!(read_saved(&path).unwrap().client_secret.is_none());
        let saved = Saved {
            client_secret: Some("s3cret".into()),
            ..Default::default()
        };
        write_saved(&path, &saved).unwrap();
        assert_eq!(
            read_saved(&path).unwrap().client_secret.as_deref(),
            Some("s3cret")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        std::fs::write(&path, "not json").unwrap();
        assert!(read_saved(&path).is_err());
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<b a=\"x\">&'"),
            "&lt;b a=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
