//! OpenID Connect / OAuth 2.0 endpoints at ZITADEL's paths, plus the hosted login page.

use std::collections::HashMap;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use gatehouse_core::Timestamp;
use serde_json::{Value, json};

use crate::{
    api::{
        apps::{MSG_UNKNOWN_REDIRECT, check_authorize_redirect, uri_registered},
        find_by_login_name,
    },
    crypto::{ct_eq, random_token, secret_matches, sha256_b64url, sha256_hex},
    error::ApiError,
    flows::{self, PasswordFailure},
    keys::{self, Hasher},
    model::{
        App, AuthMethod, AuthRequest, GrantType, ResponseType, Session, TokenKind, UserKind,
        UserState, WebKeyState,
    },
    state::AppState,
};

pub mod page;
pub mod tokens;

use tokens::{Grant, SCOPE_ORG_DOMAIN_PREFIX, SCOPE_ORG_ID_PREFIX};

pub const LOGIN_PATH: &str = "/ui/login/login";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const MAX_FORM: usize = 64 * 1024;
const MAX_PENDING_AUTH_REQUESTS: usize = 50_000;

pub fn router() -> Router<AppState> {
    // Endpoints browsers call from scripts (SPAs, the widget) get CORS; they authenticate
    // by client credentials or bearer tokens, never cookies, so any origin may call them.
    // Each route answers OPTIONS itself: the CORS layer wraps handlers, not the 405 fallback.
    let preflight = || async { StatusCode::NO_CONTENT };
    let scripted = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery).options(preflight),
        )
        .route("/oauth/v2/keys", get(jwks).options(preflight))
        .route(
            "/oauth/v2/token",
            axum::routing::post(token).options(preflight),
        )
        .route(
            "/oauth/v2/introspect",
            axum::routing::post(introspect).options(preflight),
        )
        .route(
            "/oauth/v2/revoke",
            axum::routing::post(revoke).options(preflight),
        )
        .route(
            "/oidc/v1/userinfo",
            get(userinfo).post(userinfo).options(preflight),
        )
        .layer(axum::middleware::from_fn(cors));
    Router::new()
        .route(
            "/oauth/v2/authorize",
            get(authorize_get).post(authorize_post),
        )
        .route(
            "/oidc/v1/end_session",
            get(end_session_get).post(end_session_post),
        )
        .route(LOGIN_PATH, get(login_page).post(login_submit))
        .merge(scripted)
}

async fn cors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    if req.method() == axum::http::Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Some(origin) = origin {
            let h = response.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
        return response;
    }
    let mut response = next.run(req).await;
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

// ---- errors ----

/// An RFC 6749 error response (`{"error","error_description"}`).
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    basic_challenge: bool,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }
    fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }
    fn invalid_client(d: impl Into<String>, basic: bool) -> Self {
        Self {
            basic_challenge: basic,
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d)
        }
    }
    fn server(err: ApiError) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            err.message.to_string(),
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.basic_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"zitadel-emulator\""),
            );
        }
        response
    }
}

/// `302 Found`, as ZITADEL answers authorize and end-session requests.
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
        Err(_) => page::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The redirect URI is not valid.",
        ),
    }
}

fn no_store(value: Value) -> Response {
    let mut response = Json(value).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Parses `application/x-www-form-urlencoded` input; repeated parameters are refused.
fn parse_params(bytes: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    if bytes.len() > MAX_FORM {
        return Err(OAuthError::invalid_request("request too large"));
    }
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(bytes) {
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(OAuthError::invalid_request(format!(
                "parameter `{k}` must not be repeated"
            )));
        }
    }
    Ok(out)
}

fn scopes_of(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in text.split(' ').filter(|s| !s.is_empty()) {
        if !out.iter().any(|x| x == s) {
            out.push(s.to_owned());
        }
    }
    out
}

// ---- discovery + keys ----

async fn discovery(State(state): State<AppState>) -> Response {
    let iss = &state.settings.issuer;
    let algs: Vec<&str> = state.read(|inner| {
        let mut algs: Vec<&str> = inner.data.web_keys.iter().map(|k| k.config.alg()).collect();
        algs.sort_unstable();
        algs.dedup();
        algs
    });
    let mut response = Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth/v2/authorize"),
        "token_endpoint": format!("{iss}/oauth/v2/token"),
        "introspection_endpoint": format!("{iss}/oauth/v2/introspect"),
        "userinfo_endpoint": format!("{iss}/oidc/v1/userinfo"),
        "revocation_endpoint": format!("{iss}/oauth/v2/revoke"),
        "end_session_endpoint": format!("{iss}/oidc/v1/end_session"),
        "jwks_uri": format!("{iss}/oauth/v2/keys"),
        "scopes_supported": ["openid", "profile", "email", "phone", "offline_access",
            "urn:zitadel:iam:org:id:{id}", "urn:zitadel:iam:org:project:id:{projectId}:aud",
            "urn:zitadel:iam:org:project:roles", "urn:zitadel:iam:user:resourceowner",
            "urn:zitadel:iam:user:metadata"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "refresh_token", JWT_BEARER],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "request_object_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "claims_supported": ["sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr",
            "c_hash", "at_hash", "act", "scopes", "client_id", "azp", "preferred_username", "name",
            "family_name", "given_name", "locale", "email", "email_verified", "phone_number",
            "phone_number_verified"],
        "code_challenge_methods_supported": ["S256"],
        "ui_locales_supported": ["en"],
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    }))
    .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300, must-revalidate"),
    );
    response
}

async fn jwks(State(state): State<AppState>) -> Response {
    let now = Timestamp::now();
    let grace = state.settings.key_grace_period;
    let keys: Vec<Value> = state.read(|inner| {
        inner
            .data
            .web_keys
            .iter()
            .filter(|k| k.deactivated.is_none_or(|at| at.plus(grace) > now))
            .filter_map(|k| {
                let der = STANDARD.decode(&k.pkcs8).ok()?;
                keys::public_jwk(&k.id, k.config, &der).ok()
            })
            .collect()
    });
    let mut response = Json(json!({"keys": keys})).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300, must-revalidate"),
    );
    response
}

// ---- authorize ----

async fn authorize_get(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    match parse_params(query.unwrap_or_default().as_bytes()) {
        Ok(params) => authorize(state, params).await,
        Err(e) => page::error(StatusCode::BAD_REQUEST, e.error, &e.description),
    }
}

async fn authorize_post(State(state): State<AppState>, body: Bytes) -> Response {
    match parse_params(&body) {
        Ok(params) => authorize(state, params).await,
        Err(e) => page::error(StatusCode::BAD_REQUEST, e.error, &e.description),
    }
}

async fn authorize(state: AppState, params: HashMap<String, String>) -> Response {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client_id) = get("client_id") else {
        return page::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The client_id is missing in the request.",
        );
    };
    let app = state.read(|inner| {
        inner
            .data
            .apps
            .values()
            .find(|a| a.client_id == client_id)
            .cloned()
    });
    let Some(app) = app else {
        return page::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The client_id is unknown to this instance.",
        );
    };
    if params.contains_key("request") || params.contains_key("request_uri") {
        return page::error(
            StatusCode::BAD_REQUEST,
            "request_not_supported",
            "Request objects are not supported.",
        );
    }
    let response_type = get("response_type").unwrap_or_default();
    let redirect_uri = get("redirect_uri").unwrap_or_default();
    if let Err(description) =
        check_authorize_redirect(&app.oidc, redirect_uri, response_type == "code")
    {
        return page::error(StatusCode::BAD_REQUEST, "invalid_request", description);
    }
    // From here on errors go back to the client's redirect URI.
    let fragment = match get("response_mode") {
        None | Some("query") => false,
        Some("fragment") => true,
        Some(_) => {
            return page::error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Unsupported response_mode.",
            );
        }
    };
    let mut req = AuthRequest {
        id: String::new(),
        created: Timestamp::now(),
        client_id: app.client_id.clone(),
        app_id: app.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes: scopes_of(get("scope").unwrap_or_default()),
        state: get("state").map(str::to_owned),
        nonce: get("nonce").map(str::to_owned),
        code_challenge: get("code_challenge").map(str::to_owned),
        prompt: get("prompt").map(scopes_of).unwrap_or_default(),
        ui_locales: get("ui_locales").map(scopes_of).unwrap_or_default(),
        login_hint: get("login_hint").map(str::to_owned),
        max_age: None,
        response_mode_fragment: fragment,
        org_id: None,
        csrf: random_token(24),
        done: false,
    };
    match response_type {
        "code" if app.oidc.response_types.contains(&ResponseType::Code) => {}
        "code" => {
            return redirect_error(
                &req,
                "unauthorized_client",
                "The client is not allowed to use response_type code.",
            );
        }
        "id_token" | "id_token token" | "token" => {
            return redirect_error(
                &req,
                "unsupported_response_type",
                "The emulator supports only the code flow.",
            );
        }
        _ => {
            return redirect_error(
                &req,
                "unsupported_response_type",
                "The response_type is not supported.",
            );
        }
    }
    if !app.oidc.grant_types.contains(&GrantType::AuthorizationCode) {
        return redirect_error(
            &req,
            "unauthorized_client",
            "The client is not allowed to use the authorization code grant.",
        );
    }
    if !req.scopes.iter().any(|s| s == "openid") {
        return redirect_error(
            &req,
            "invalid_scope",
            "The scope openid is missing in your request. Please ensure the scope openid is added to the request.",
        );
    }
    match (req.code_challenge.as_deref(), get("code_challenge_method")) {
        (Some(_), Some("S256")) => {}
        (Some(_), _) => {
            return redirect_error(
                &req,
                "invalid_request",
                "Only the S256 code_challenge_method is supported.",
            );
        }
        (None, Some(_)) => {
            return redirect_error(
                &req,
                "invalid_request",
                "code_challenge_method without code_challenge.",
            );
        }
        (None, None) if app.oidc.auth_method == AuthMethod::None => {
            return redirect_error(
                &req,
                "invalid_request",
                "The client is public and must use PKCE (code_challenge with S256).",
            );
        }
        (None, None) => {}
    }
    if let Some(c) = &req.code_challenge
        && !(43..=128).contains(&c.len())
    {
        return redirect_error(&req, "invalid_request", "The code_challenge is malformed.");
    }
    if let Some(max_age) = get("max_age") {
        match max_age.parse::<u64>() {
            Ok(v) => req.max_age = Some(v),
            Err(_) => {
                return redirect_error(
                    &req,
                    "invalid_request",
                    "max_age must be a non-negative integer.",
                );
            }
        }
    }
    if let Some(bad) = req
        .prompt
        .iter()
        .find(|p| !["none", "login", "consent", "select_account", "create"].contains(&p.as_str()))
    {
        let description = format!("The prompt value `{bad}` is not supported.");
        return redirect_error(&req, "invalid_request", &description);
    }
    if req.prompt.iter().any(|p| p == "none") {
        // No single sign-on session exists in the emulator.
        return redirect_error(&req, "login_required", "The user must log in.");
    }
    // Org restriction by id or primary domain.
    let org_scope = state.read(|inner| {
        for s in &req.scopes {
            if let Some(id) = s.strip_prefix(SCOPE_ORG_ID_PREFIX) {
                return Some(inner.data.orgs.get(id).map(|o| o.id.clone()));
            }
            if let Some(domain) = s.strip_prefix(SCOPE_ORG_DOMAIN_PREFIX) {
                return Some(
                    inner
                        .data
                        .orgs
                        .values()
                        .find(|o| o.primary_domain.eq_ignore_ascii_case(domain))
                        .map(|o| o.id.clone()),
                );
            }
        }
        None
    });
    match org_scope {
        Some(None) => {
            return redirect_error(
                &req,
                "invalid_request",
                "The organization requested by scope does not exist.",
            );
        }
        Some(Some(org)) => req.org_id = Some(org),
        None => {}
    }
    let login_v2 = app.oidc.login_v2_base_uri.clone();
    let issuer = state.settings.issuer.clone();
    let stored = state
        .write(|tx| {
            let base = tx.new_id();
            req.id = if login_v2.is_some() {
                format!("V2_{base}")
            } else {
                base
            };
            req.created = tx.now;
            // Unauthenticated callers create these: bound the memory they can take.
            if tx.eph.auth_requests.len() >= MAX_PENDING_AUTH_REQUESTS {
                return Err(ApiError::new(
                    crate::error::Code::Unavailable,
                    "EMU-TooManyAuthRequests",
                    "Too many pending sign-ins; try again later",
                ));
            }
            tx.eph.auth_requests.insert(req.id.clone(), req.clone());
            Ok(req.id.clone())
        })
        .await;
    let id = match stored {
        Ok(id) => id,
        Err(e) => {
            let (status, error) = if e.code == crate::error::Code::Unavailable {
                (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
            };
            return page::error(status, error, &e.message);
        }
    };
    let target = match login_v2 {
        Some(base) => {
            let base = if base.is_empty() {
                format!("{issuer}/ui/v2/login")
            } else {
                base.trim_end_matches('/').to_owned()
            };
            format!("{base}/login?authRequest={id}")
        }
        None => format!("{issuer}{LOGIN_PATH}?authRequestID={id}"),
    };
    found(&target)
}

fn redirect_error(req: &AuthRequest, error: &str, description: &str) -> Response {
    found(&flows::callback_url(
        req,
        &[("error", error), ("error_description", description)],
    ))
}

// ---- hosted login ----

fn app_name(state: &AppState, app_id: &str) -> String {
    state.read(|inner| {
        inner
            .data
            .apps
            .get(app_id)
            .map(|a| a.name.clone())
            .unwrap_or_default()
    })
}

async fn login_page(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = parse_params(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let id = params.get("authRequestID").cloned().unwrap_or_default();
    let req = state.read(|inner| {
        inner
            .eph
            .auth_requests
            .get(&id)
            .filter(|r| !r.done && !r.id.starts_with("V2_"))
            .cloned()
    });
    let Some(req) = req else {
        return page::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The login request is unknown or has expired. Start the sign-in again from the application.",
        );
    };
    let action = state.settings.url(LOGIN_PATH);
    let name = app_name(&state, &req.app_id);
    page::html_response(
        StatusCode::OK,
        page::login(&page::LoginForm {
            action: &action,
            auth_request_id: &req.id,
            csrf: &req.csrf,
            login_name: req.login_hint.as_deref().unwrap_or_default(),
            app_name: &name,
            error: None,
        }),
    )
}

async fn login_submit(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(params) = parse_params(&body) else {
        return page::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The form could not be read.",
        );
    };
    let field = |k: &str| params.get(k).cloned().unwrap_or_default();
    let id = field("authRequestID");
    let login_name = field("loginName");
    let password = field("password");
    let req = state.read(|inner| {
        inner
            .eph
            .auth_requests
            .get(&id)
            .filter(|r| !r.done && !r.id.starts_with("V2_"))
            .cloned()
    });
    let Some(req) = req else {
        return page::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The login request is unknown or has expired. Start the sign-in again from the application.",
        );
    };
    if !ct_eq(&field("csrf"), &req.csrf) {
        return page::error(
            StatusCode::FORBIDDEN,
            "invalid_request",
            "The form has expired. Start the sign-in again from the application.",
        );
    }
    let action = state.settings.url(LOGIN_PATH);
    let name = app_name(&state, &req.app_id);
    let retry = |message: &str| {
        page::html_response(
            StatusCode::OK,
            page::login(&page::LoginForm {
                action: &action,
                auth_request_id: &req.id,
                csrf: &req.csrf,
                login_name: &login_name,
                app_name: &name,
                error: Some(message),
            }),
        )
    };
    // Humans only; the org scope restricts who may sign in.
    let user_id = state.read(|inner| {
        find_by_login_name(&inner.data, &login_name, req.org_id.as_deref())
            .filter(|u| matches!(u.kind, UserKind::Human(_)))
            .map(|u| u.id.clone())
    });
    let Some(user_id) = user_id else {
        // Spend the same time as a real check so response times do not reveal usernames.
        crate::crypto::waste_password_check(password).await;
        return retry("The username or password is incorrect.");
    };
    match flows::check_password(&state, &user_id, &password, &user_id).await {
        Ok(()) => {}
        Err(PasswordFailure::UserNotActive) => return retry("This user is locked or inactive."),
        Err(_) => return retry("The username or password is incorrect."),
    }
    let result = state
        .write(|tx| {
            let now = tx.now;
            let session_id = tx.new_id();
            let seq = tx.ephemeral_seq();
            tx.eph.sessions.insert(
                session_id.clone(),
                Session {
                    id: session_id.clone(),
                    token_hash: sha256_hex(&random_token(32)),
                    user_id: Some(user_id.clone()),
                    user_checked: Some(now),
                    password_checked: Some(now),
                    metadata: Default::default(),
                    user_agent: None,
                    created: now,
                    changed: now,
                    sequence: seq,
                    expires: None,
                    creator: user_id.clone(),
                },
            );
            tx.event(crate::actions::PendingEvent {
                event_type: "session.added",
                aggregate_type: "session",
                aggregate_id: session_id.clone(),
                resource_owner: tx.data.instance_id.clone(),
                editor: user_id.clone(),
                sequence: seq,
                payload: json!({}),
            });
            flows::complete(tx, &req.id, &user_id, &session_id, now)
        })
        .await;
    match result {
        // 303 so the browser follows with GET.
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) if e.id == "EMU-NotAllowedOrg" || e.id == "EMU-GrantRequired" => retry(&e.message),
        Err(e) => page::error(StatusCode::BAD_REQUEST, "invalid_request", &e.message),
    }
}

// ---- client authentication ----

struct ClientAuth {
    client_id: String,
    secret: Option<String>,
    basic: bool,
}

fn client_auth(
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Option<ClientAuth>, OAuthError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value
            .to_str()
            .map_err(|_| OAuthError::invalid_client("malformed Authorization header", true))?;
        if let Some(b64) = text.strip_prefix("Basic ") {
            let decoded = STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials", true))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials", true))?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded.
            let unescape = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default()
            };
            if params.contains_key("client_secret") {
                return Err(OAuthError::invalid_request(
                    "use only one client authentication method",
                ));
            }
            return Ok(Some(ClientAuth {
                client_id: unescape(id),
                secret: Some(unescape(secret)),
                basic: true,
            }));
        }
    }
    Ok(params
        .get("client_id")
        .filter(|c| !c.is_empty())
        .map(|id| ClientAuth {
            client_id: id.clone(),
            secret: params.get("client_secret").cloned(),
            basic: false,
        }))
}

/// Authenticates an OIDC client: secret apps need their secret, public apps none.
fn authenticate_client(state: &AppState, auth: &ClientAuth) -> Result<App, OAuthError> {
    let app = state
        .read(|inner| {
            inner
                .data
                .apps
                .values()
                .find(|a| a.client_id == auth.client_id)
                .cloned()
        })
        .ok_or_else(|| OAuthError::invalid_client("client authentication failed", auth.basic))?;
    match (app.oidc.auth_method, &auth.secret, &app.client_secret_hash) {
        (AuthMethod::Basic | AuthMethod::Post, Some(secret), Some(hash))
            if secret_matches(secret, hash) =>
        {
            Ok(app)
        }
        (AuthMethod::None, None, _) => Ok(app),
        _ => Err(OAuthError::invalid_client(
            "client authentication failed",
            auth.basic,
        )),
    }
}

// ---- token ----

async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match token_inner(&state, &headers, &body).await {
        Ok(v) => no_store(v),
        Err(e) => e.into_response(),
    }
}

async fn token_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, OAuthError> {
    let params = parse_params(body)?;
    let grant_type = params
        .get("grant_type")
        .map(String::as_str)
        .ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))?;
    match grant_type {
        "authorization_code" => code_grant(state, headers, &params).await,
        "refresh_token" => refresh_grant(state, headers, &params).await,
        JWT_BEARER => jwt_profile_grant(state, &params).await,
        _ => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("{grant_type} is not supported"),
        )),
    }
}

async fn code_grant(
    state: &AppState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Value, OAuthError> {
    let auth = client_auth(headers, params)?
        .ok_or_else(|| OAuthError::invalid_client("client_id is missing", false))?;
    let app = authenticate_client(state, &auth)?;
    let code = params
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let code_hash = sha256_hex(code);
    let verifier = params.get("code_verifier").cloned();
    let redirect_uri = params.get("redirect_uri").cloned().unwrap_or_default();
    state
        .write(|tx| {
            // Single use: the code is gone whatever happens next.
            let Some(grant) = tx.eph.codes.remove(&code_hash) else {
                return Ok(Err(OAuthError::invalid_grant("invalid code")));
            };
            let req = &grant.auth_request;
            if grant.expires <= tx.now || req.client_id != app.client_id {
                return Ok(Err(OAuthError::invalid_grant("invalid code")));
            }
            if req.redirect_uri != redirect_uri {
                return Ok(Err(OAuthError::invalid_grant(
                    "redirect_uri does not match the authorization request",
                )));
            }
            match (&req.code_challenge, &verifier) {
                (Some(challenge), Some(v)) => {
                    if !(43..=128).contains(&v.len())
                        || !ct_eq(&sha256_b64url(v.as_bytes()), challenge)
                    {
                        return Ok(Err(OAuthError::invalid_grant("invalid code_verifier")));
                    }
                }
                (Some(_), None) => {
                    return Ok(Err(OAuthError::invalid_grant("code_verifier is missing")));
                }
                (None, Some(_)) => {
                    return Ok(Err(OAuthError::invalid_grant(
                        "code_verifier without code_challenge",
                    )));
                }
                (None, None) => {}
            }
            let Some(user) = tx
                .data
                .users
                .get(&grant.user_id)
                .filter(|u| u.state == UserState::Active)
                .cloned()
            else {
                return Ok(Err(OAuthError::invalid_grant(
                    "the user is no longer active",
                )));
            };
            let app = tx
                .data
                .apps
                .get(&app.id)
                .cloned()
                .ok_or_else(|| ApiError::internal("app vanished"))?;
            let refresh = app.oidc.grant_types.contains(&GrantType::RefreshToken);
            let response = tokens::issue(
                tx,
                Grant {
                    app: &app,
                    user: &user,
                    scopes: req.scopes.clone(),
                    nonce: req.nonce.clone(),
                    auth_time: grant.auth_time,
                    amr: grant.amr.clone(),
                    session_id: Some(grant.session_id.clone()),
                },
                refresh,
            )?;
            Ok(Ok(response))
        })
        .await
        .map_err(OAuthError::server)?
}

async fn refresh_grant(
    state: &AppState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Value, OAuthError> {
    let auth = client_auth(headers, params)?
        .ok_or_else(|| OAuthError::invalid_client("client_id is missing", false))?;
    let app = authenticate_client(state, &auth)?;
    if !app.oidc.grant_types.contains(&GrantType::RefreshToken) {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the client may not use refresh tokens",
        ));
    }
    let token = params
        .get("refresh_token")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let hash = sha256_hex(token);
    let requested = params.get("scope").map(|s| scopes_of(s));
    state
        .write(|tx| {
            let Some(old) = tx
                .data
                .tokens
                .get(&hash)
                .filter(|t| t.kind == TokenKind::Refresh)
                .cloned()
            else {
                return Ok(Err(OAuthError::invalid_grant("invalid refresh token")));
            };
            if old.client_id != app.client_id || old.expires.is_some_and(|e| e <= tx.now) {
                return Ok(Err(OAuthError::invalid_grant("invalid refresh token")));
            }
            let scopes = match &requested {
                Some(r) if r.iter().any(|s| !old.scopes.contains(s)) => {
                    return Ok(Err(OAuthError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        "the requested scope exceeds the granted scope",
                    )));
                }
                Some(r) => r.clone(),
                None => old.scopes.clone(),
            };
            let Some(user) = tx
                .data
                .users
                .get(&old.user_id)
                .filter(|u| u.state == UserState::Active)
                .cloned()
            else {
                return Ok(Err(OAuthError::invalid_grant(
                    "the user is no longer active",
                )));
            };
            // Rotation: the used refresh token is spent.
            tx.data.tokens.remove(&hash);
            tx.touch();
            let response = tokens::issue(
                tx,
                Grant {
                    app: &app,
                    user: &user,
                    scopes,
                    nonce: None,
                    auth_time: old.auth_time.unwrap_or(old.issued),
                    amr: old.amr.clone(),
                    session_id: old.session_id.clone(),
                },
                true,
            )?;
            Ok(Ok(response))
        })
        .await
        .map_err(OAuthError::server)?
}

/// RFC 7523 JWT profile for service users (ZITADEL's key-file authentication).
async fn jwt_profile_grant(
    state: &AppState,
    params: &HashMap<String, String>,
) -> Result<Value, OAuthError> {
    let assertion = params
        .get("assertion")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("assertion is missing"))?;
    let jwt = keys::decode(assertion)
        .map_err(|e| OAuthError::invalid_grant(format!("assertion invalid: {e}")))?;
    let hasher = match jwt.header.get("alg").and_then(Value::as_str) {
        Some("RS256") => Hasher::Sha256,
        Some("RS384") => Hasher::Sha384,
        Some("RS512") => Hasher::Sha512,
        _ => {
            return Err(OAuthError::invalid_grant(
                "assertion invalid: alg must be RS256, RS384 or RS512",
            ));
        }
    };
    let kid = jwt
        .header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let claim = |k: &str| {
        jwt.claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (iss, sub) = (claim("iss"), claim("sub"));
    if iss.is_empty() || iss != sub {
        return Err(OAuthError::invalid_grant(
            "assertion invalid: iss and sub must both be the user id",
        ));
    }
    let issuer = state.settings.issuer.clone();
    let aud_ok = match jwt.claims.get("aud") {
        Some(Value::String(a)) => a.trim_end_matches('/') == issuer,
        Some(Value::Array(list)) => list.iter().any(|a| {
            a.as_str()
                .is_some_and(|a| a.trim_end_matches('/') == issuer)
        }),
        _ => false,
    };
    if !aud_ok {
        return Err(OAuthError::invalid_grant(
            "assertion invalid: aud must contain the issuer",
        ));
    }
    let now = Timestamp::now().unix_seconds();
    let skew = 5;
    let exp = jwt.claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let iat = jwt.claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
    if exp + skew <= now {
        return Err(OAuthError::invalid_grant("assertion invalid: expired"));
    }
    if iat > now + skew || iat + 3600 < now {
        return Err(OAuthError::invalid_grant(
            "assertion invalid: iat must be within the last hour",
        ));
    }
    let scopes = scopes_of(params.get("scope").map(String::as_str).unwrap_or("openid"));
    let verified = state.read(|inner| {
        let user = inner
            .data
            .users
            .get(sub)
            .filter(|u| u.state == UserState::Active)?;
        let UserKind::Machine(machine) = &user.kind else {
            return None;
        };
        let key = machine.keys.iter().find(|k| k.id == kid)?;
        if key.expiration.is_some_and(|e| e.unix_seconds() <= now) {
            return None;
        }
        let der = STANDARD.decode(&key.public_key_der).ok()?;
        keys::verify_rsa(hasher, &der, jwt.signing_input.as_bytes(), &jwt.signature)
            .then(|| machine.access_token_type.clone())
    });
    let Some(token_type) = verified else {
        return Err(OAuthError::invalid_grant(
            "assertion invalid: unknown key or bad signature",
        ));
    };
    let user_id = sub.to_owned();
    let settings = state.settings.clone();
    state
        .write(|tx| {
            let audience = tokens::extra_audience(tx.data, &scopes);
            let now = tx.now;
            let exp = now.plus(settings.access_token_lifetime);
            let jti = tx.new_id();
            let access_token = if token_type == "ACCESS_TOKEN_TYPE_JWT" {
                tokens::sign(
                    tx.data,
                    Some("at+jwt"),
                    &json!({
                        "iss": settings.issuer, "sub": user_id, "aud": audience,
                        "exp": exp.unix_seconds(), "iat": now.unix_seconds(), "nbf": now.unix_seconds(),
                        "jti": jti, "scope": scopes.join(" "),
                    }),
                )?
            } else {
                random_token(32)
            };
            tx.touch();
            tx.data.tokens.insert(
                sha256_hex(&access_token),
                crate::model::Token {
                    id: jti,
                    kind: TokenKind::Access,
                    user_id: user_id.clone(),
                    client_id: String::new(),
                    scopes: scopes.clone(),
                    audience,
                    issued: now,
                    expires: Some(exp),
                    session_id: None,
                    auth_time: Some(now),
                    amr: vec![],
                },
            );
            Ok(json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": settings.access_token_lifetime.as_secs().saturating_sub(1),
                "scope": scopes.join(" "),
            }))
        })
        .await
        .map_err(OAuthError::server)
}

// ---- userinfo / introspection / revocation ----

fn bearer_error(description: &str) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "invalid_token", "error_description": description})),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if token.is_empty() {
        return bearer_error("access token missing");
    }
    let now = Timestamp::now();
    let claims = state.read(|inner| {
        let data = &inner.data;
        let record = data
            .tokens
            .get(&sha256_hex(&token))
            .filter(|t| t.kind == TokenKind::Access && t.expires.is_none_or(|e| e > now))?;
        let user = data
            .users
            .get(&record.user_id)
            .filter(|u| u.state == UserState::Active)?;
        let mut claims = tokens::userinfo_claims(data, user, &record.scopes);
        if let Some(app) = data.apps.values().find(|a| a.client_id == record.client_id) {
            tokens::add_roles(&mut claims, data, user, app, &record.scopes, true);
        }
        Some(claims)
    });
    match claims {
        Some(c) => no_store(Value::Object(c)),
        None => bearer_error("access token invalid or expired"),
    }
}

async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let params = parse_params(&body)?;
        let auth = client_auth(&headers, &params)?.ok_or_else(|| {
            OAuthError::invalid_client("client authentication is required", false)
        })?;
        let caller = authenticate_client(&state, &auth)?;
        if auth.secret.is_none() {
            return Err(OAuthError::invalid_client(
                "public clients cannot introspect",
                auth.basic,
            ));
        }
        let token = params.get("token").cloned().unwrap_or_default();
        let now = Timestamp::now();
        let issuer = state.settings.issuer.clone();
        Ok(state.read(|inner| {
            let data = &inner.data;
            let record = data
                .tokens
                .get(&sha256_hex(&token))
                .filter(|t| t.kind == TokenKind::Access && t.expires.is_none_or(|e| e > now))
                // Only an audience of the token learns about it.
                .filter(|t| {
                    t.audience.contains(&caller.client_id)
                        || t.audience.contains(&caller.project_id)
                });
            let Some(record) = record else {
                return json!({"active": false});
            };
            let Some(user) = data
                .users
                .get(&record.user_id)
                .filter(|u| u.state == UserState::Active)
            else {
                return json!({"active": false});
            };
            let mut v = json!({
                "active": true,
                "iss": issuer,
                "sub": user.id,
                "aud": record.audience,
                "client_id": record.client_id,
                "token_type": "Bearer",
                "scope": record.scopes.join(" "),
                "exp": record.expires.map(|e| e.unix_seconds()),
                "iat": record.issued.unix_seconds(),
                "nbf": record.issued.unix_seconds(),
                "jti": record.id,
                "username": user.username,
            });
            if let Some(obj) = v.as_object_mut() {
                for (k, val) in tokens::userinfo_claims(data, user, &record.scopes) {
                    obj.entry(k).or_insert(val);
                }
            }
            v
        }))
    }
    .await;
    match result {
        Ok(v) => no_store(v),
        Err(e) => e.into_response(),
    }
}

async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let params = parse_params(&body)?;
        let auth = client_auth(&headers, &params)?.ok_or_else(|| {
            OAuthError::invalid_client("client authentication is required", false)
        })?;
        let app = authenticate_client(&state, &auth)?;
        let token = params
            .get("token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
        let hash = sha256_hex(token);
        state
            .write(|tx| {
                // RFC 7009: unknown tokens and other clients' tokens are answered with 200 too.
                if tx
                    .data
                    .tokens
                    .get(&hash)
                    .is_some_and(|t| t.client_id == app.client_id)
                {
                    tx.data.tokens.remove(&hash);
                    tx.touch();
                }
                Ok(())
            })
            .await
            .map_err(OAuthError::server)
    }
    .await;
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

// ---- end session ----

async fn end_session_get(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    match parse_params(query.unwrap_or_default().as_bytes()) {
        Ok(p) => end_session(state, p).await,
        Err(e) => page::error(StatusCode::BAD_REQUEST, e.error, &e.description),
    }
}

async fn end_session_post(State(state): State<AppState>, body: Bytes) -> Response {
    match parse_params(&body) {
        Ok(p) => end_session(state, p).await,
        Err(e) => page::error(StatusCode::BAD_REQUEST, e.error, &e.description),
    }
}

/// Verifies an `id_token_hint` signed by one of our keys (expiry is ignored, as the spec allows).
fn verify_hint(state: &AppState, hint: &str) -> Option<Value> {
    let jwt = keys::decode(hint).ok()?;
    let kid = jwt.header.get("kid")?.as_str()?.to_owned();
    state.read(|inner| {
        let key = inner
            .data
            .web_keys
            .iter()
            .find(|k| k.id == kid && k.state != WebKeyState::Initial)?;
        let der = STANDARD.decode(&key.pkcs8).ok()?;
        keys::verify_own(
            key.config,
            &der,
            jwt.signing_input.as_bytes(),
            &jwt.signature,
        )
        .then(|| jwt.claims.clone())
    })
}

async fn end_session(state: AppState, params: HashMap<String, String>) -> Response {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let hint = match get("id_token_hint") {
        Some(h) => match verify_hint(&state, h) {
            Some(claims) => Some(claims),
            None => {
                return page::error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The id_token_hint is invalid.",
                );
            }
        },
        None => None,
    };
    let client_id = get("client_id").map(str::to_owned).or_else(|| {
        hint.as_ref()
            .and_then(|c| c.get("azp"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    if let (Some(hint), Some(cid)) = (&hint, get("client_id"))
        && hint
            .get("azp")
            .and_then(Value::as_str)
            .is_some_and(|azp| azp != cid)
    {
        return page::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id does not match the id_token_hint.",
        );
    }
    let redirect = match get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let allowed = client_id.as_deref().is_some_and(|cid| {
                state.read(|inner| {
                    inner
                        .data
                        .apps
                        .values()
                        .find(|a| a.client_id == cid)
                        .is_some_and(|a| {
                            uri_registered(&a.oidc.post_logout_redirect_uris, uri, a.oidc.dev_mode)
                        })
                })
            });
            if !allowed {
                return page::error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    MSG_UNKNOWN_REDIRECT
                        .replace("redirect_uri", "post_logout_redirect_uri")
                        .as_str(),
                );
            }
            Some(uri.to_owned())
        }
    };
    if let Some(sid) = hint
        .as_ref()
        .and_then(|c| c.get("sid"))
        .and_then(Value::as_str)
        .map(str::to_owned)
    {
        let ended = state
            .write(|tx| {
                tx.eph.sessions.remove(&sid);
                let before = tx.data.tokens.len();
                tx.data
                    .tokens
                    .retain(|_, t| t.session_id.as_deref() != Some(sid.as_str()));
                if tx.data.tokens.len() != before {
                    tx.touch();
                }
                Ok(())
            })
            .await;
        // The user is logged out of the browser flow either way; a failed save only means
        // the session's tokens live until they expire.
        if let Err(err) = ended {
            tracing::warn!(%err, "ending the session's tokens failed");
        }
    }
    match redirect {
        Some(uri) => {
            let Ok(mut url) = url::Url::parse(&uri) else {
                return page::signed_out();
            };
            if let Some(s) = get("state") {
                url.query_pairs_mut().append_pair("state", s);
            }
            found(url.as_str())
        }
        None => page::signed_out(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_refuse_repeats() {
        assert!(parse_params(b"a=1&b=2").is_ok());
        assert!(parse_params(b"a=1&a=2").is_err());
        assert_eq!(
            parse_params(b"scope=openid+email").unwrap()["scope"],
            "openid email"
        );
    }

    #[test]
    fn scopes_are_deduplicated() {
        assert_eq!(scopes_of("openid  email openid"), vec!["openid", "email"]);
    }
}
