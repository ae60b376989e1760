//! Management v1: OIDC applications, with ZITADEL's validation, its compliance report
//! (computed at create time, never an error) and the authorize-time redirect-URI rules.

use std::net::IpAddr;

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiResult, check_len, enum_field, ok, projects::project_in};
use crate::{
    auth::{Caller, OrgHeader},
    crypto::{random_alnum, sha256_hex},
    error::{ApiError, catalog},
    model::{App, AppType, AuthMethod, GrantType, OidcConfig, ResponseType, TokenType},
    protojson::{
        ListQuery, ZJson, change_details, details, format_duration, list_details_v1,
        parse_duration, text_matches,
    },
    state::AppState,
};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct OidcReq {
    name: String,
    redirect_uris: Vec<String>,
    response_types: Vec<ResponseType>,
    grant_types: Vec<GrantType>,
    app_type: Option<AppType>,
    auth_method_type: Option<AuthMethod>,
    post_logout_redirect_uris: Vec<String>,
    version: Option<String>,
    dev_mode: bool,
    access_token_type: Option<TokenType>,
    access_token_role_assertion: bool,
    id_token_role_assertion: bool,
    id_token_userinfo_assertion: bool,
    clock_skew: Option<String>,
    additional_origins: Vec<String>,
    skip_native_app_success_page: bool,
    back_channel_logout_uri: String,
    login_version: Option<LoginVersionReq>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginVersionReq {
    login_v1: Option<Value>,
    login_v2: Option<LoginV2Req>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginV2Req {
    base_uri: Option<String>,
}

fn is_origin(text: &str) -> bool {
    let Ok(url) = url::Url::parse(text.trim()) else {
        return false;
    };
    let after_scheme = text.trim().split_once("://").map(|(_, r)| r).unwrap_or("");
    matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && !after_scheme.contains('/')
        && url.query().is_none()
        && url.fragment().is_none()
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl OidcReq {
    /// Validates the request like ZITADEL's `OIDCApp.IsValid` and builds the config.
    pub fn into_config(self) -> Result<(String, OidcConfig), ApiError> {
        if let Some(v) = self.version.as_deref()
            && v != "OIDC_VERSION_1_0"
        {
            return Err(ApiError::validation(format!(
                "invalid version: unknown value `{v}`"
            )));
        }
        let clock_skew = match self.clock_skew.as_deref() {
            None | Some("") => 0.0,
            Some(text) => parse_duration(text)
                .ok_or_else(|| ApiError::validation(format!("invalid clockSkew: `{text}`")))?,
        };
        if !(0.0..=5.0).contains(&clock_skew) {
            return Err(catalog::app_invalid("clockSkew must be between 0s and 5s"));
        }
        if let Some(bad) = self.additional_origins.iter().find(|o| !is_origin(o)) {
            return Err(catalog::app_invalid(&format!(
                "`{bad}` is not an origin (scheme://host[:port])"
            )));
        }
        let required = required_grant_types(&self.response_types, &self.grant_types);
        if required.is_empty() {
            return Err(catalog::app_invalid(
                "at least one response type is required",
            ));
        }
        if let Some(missing) = required.iter().find(|g| !self.grant_types.contains(g)) {
            return Err(catalog::app_invalid(&format!(
                "the response types require grant type {}",
                serde_json::to_value(missing)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )));
        }
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
        {
            if uri.trim().is_empty() || uri.len() > 2048 {
                return Err(catalog::app_invalid(
                    "redirect URIs must be 1..2048 characters",
                ));
            }
        }
        if !self.back_channel_logout_uri.is_empty() {
            let url = url::Url::parse(&self.back_channel_logout_uri)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    catalog::app_invalid("backChannelLogoutUri must be an http(s) URL")
                })?;
            if url.host_str().is_some_and(is_loopback_host) {
                return Err(ApiError::invalid(
                    "PROJECT-msNebo",
                    "Errors.Project.App.Blocked.BackchannelLogoutURL",
                ));
            }
        }
        let (login_v1, login_v2_base_uri) = match self.login_version {
            None => (false, None),
            Some(LoginVersionReq {
                login_v2: Some(v2), ..
            }) => {
                let base = v2.base_uri.unwrap_or_default();
                if !base.is_empty()
                    && url::Url::parse(&base)
                        .ok()
                        .is_none_or(|u| !matches!(u.scheme(), "http" | "https"))
                {
                    return Err(ApiError::validation(
                        "invalid loginVersion.loginV2.baseUri: must be an absolute http(s) URL",
                    ));
                }
                (false, Some(base))
            }
            Some(LoginVersionReq { login_v1, .. }) => (login_v1.is_some(), None),
        };
        let config = OidcConfig {
            redirect_uris: self.redirect_uris,
            response_types: self.response_types,
            grant_types: self.grant_types,
            app_type: self.app_type.unwrap_or(AppType::Web),
            auth_method: self.auth_method_type.unwrap_or(AuthMethod::Basic),
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            dev_mode: self.dev_mode,
            access_token_type: self.access_token_type.unwrap_or(TokenType::Bearer),
            access_token_role_assertion: self.access_token_role_assertion,
            id_token_role_assertion: self.id_token_role_assertion,
            id_token_userinfo_assertion: self.id_token_userinfo_assertion,
            clock_skew_seconds: clock_skew,
            additional_origins: self.additional_origins,
            skip_native_app_success_page: self.skip_native_app_success_page,
            back_channel_logout_uri: self.back_channel_logout_uri,
            login_v2_base_uri,
            login_v1,
        };
        Ok((self.name, config))
    }
}

fn required_grant_types(responses: &[ResponseType], grants: &[GrantType]) -> Vec<GrantType> {
    let mut required = Vec::new();
    for r in responses {
        let g = match r {
            ResponseType::Code if grants.contains(&GrantType::DeviceCode) => GrantType::DeviceCode,
            ResponseType::Code => GrantType::AuthorizationCode,
            ResponseType::IdToken | ResponseType::IdTokenToken => GrantType::Implicit,
        };
        if !required.contains(&g) {
            required.push(g);
        }
    }
    required
}

// ---- compliance ----

fn localized(key: &str) -> &'static str {
    match key {
        "Application.OIDC.V1.NotCompliant" => {
            "Your configuration is not compliant and differs from the OIDC 1.0 standard."
        }
        "Application.OIDC.V1.NoRedirectUris" => "At least one redirect URI must be registered.",
        "Application.OIDC.V1.NotAllCombinationsAreAllowed" => {
            "The configuration is compliant, but not all possible combinations are allowed."
        }
        "Application.OIDC.V1.Code.RedirectUris.HttpOnlyForWeb" => {
            "The code grant allows http redirect URIs only for web applications."
        }
        "Application.OIDC.V1.Code.RedirectUris.CustomOnlyForNative" => {
            "The code grant allows custom-scheme redirect URIs only for native applications."
        }
        "Application.OIDC.V1.Implicit.RedirectUris.CustomNotAllowed" => {
            "The implicit grant does not allow custom-scheme redirect URIs."
        }
        "Application.OIDC.V1.Implicit.RedirectUris.HttpNotAllowed" => {
            "The implicit grant does not allow http redirect URIs."
        }
        "Application.OIDC.V1.Native.RedirectUris.MustBeHttpLocalhost" => {
            "Native redirect URIs must use a custom scheme, http://127.0.0.1, http://[::1] or http://localhost."
        }
        "Application.OIDC.V1.Native.AuthMethodType.NotNone" => {
            "Native applications should use auth method none."
        }
        "Application.OIDC.V1.UserAgent.AuthMethodType.NotNone" => {
            "User-agent applications should use auth method none."
        }
        "Application.OIDC.V1.GrantType.Refresh.NoAuthCode" => {
            "Refresh tokens are only allowed together with the authorization code grant."
        }
        _ => "",
    }
}

fn all_https(uris: &[String]) -> bool {
    uris.iter().all(|u| u.starts_with("https://"))
}

fn any_http(uris: &[String]) -> bool {
    uris.iter().any(|u| u.starts_with("http://"))
}

fn any_custom(uris: &[String]) -> bool {
    uris.iter()
        .any(|u| !u.starts_with("http://") && !u.starts_with("https://"))
}

fn only_localhost_is_http(uris: &[String]) -> bool {
    uris.iter().all(|u| match url::Url::parse(u) {
        Err(_) => false,
        Ok(url) if url.scheme() == "http" => url.host_str().is_some_and(is_loopback_host),
        Ok(_) => true,
    })
}

/// ZITADEL's OIDC 1.0 compliance report: `(noneCompliant, problem keys)`.
pub fn compliance(cfg: &OidcConfig) -> (bool, Vec<&'static str>) {
    let mut bad = false;
    let mut problems: Vec<&'static str> = Vec::new();
    let grants = &cfg.grant_types;
    let uris = &cfg.redirect_uris;
    let has = |g: GrantType| grants.contains(&g);
    if !has(GrantType::DeviceCode)
        && has(GrantType::RefreshToken)
        && !has(GrantType::AuthorizationCode)
    {
        bad = true;
        problems.push("Application.OIDC.V1.GrantType.Refresh.NoAuthCode");
    }
    if uris.is_empty() && (!has(GrantType::DeviceCode) || has(GrantType::AuthorizationCode)) {
        bad = true;
        problems.insert(0, "Application.OIDC.V1.NoRedirectUris");
    }
    let app_type = cfg.app_type;
    if has(GrantType::Implicit) && has(GrantType::AuthorizationCode) {
        if !all_https(uris) {
            if any_custom(uris) && app_type != AppType::Native {
                bad = true;
                problems.push("Application.OIDC.V1.Implicit.RedirectUris.CustomNotAllowed");
            }
            if any_http(uris) {
                if app_type == AppType::UserAgent {
                    bad = true;
                    problems.push("Application.OIDC.V1.Code.RedirectUris.HttpOnlyForWeb");
                }
                if app_type == AppType::Native && !only_localhost_is_http(uris) {
                    bad = true;
                    problems.push("Application.OIDC.V1.Native.RedirectUris.MustBeHttpLocalhost");
                }
            }
            if !bad {
                problems.push("Application.OIDC.V1.NotAllCombinationsAreAllowed");
            }
        }
    } else {
        if has(GrantType::Implicit) && !all_https(uris) {
            if any_custom(uris) {
                bad = true;
                problems.push("Application.OIDC.V1.Implicit.RedirectUris.CustomNotAllowed");
            }
            if any_http(uris) {
                if app_type == AppType::Native {
                    if !only_localhost_is_http(uris) {
                        bad = true;
                        problems
                            .push("Application.OIDC.V1.Native.RedirectUris.MustBeHttpLocalhost");
                    }
                } else {
                    bad = true;
                    problems.push("Application.OIDC.V1.Implicit.RedirectUris.HttpNotAllowed");
                }
            }
        }
        if has(GrantType::AuthorizationCode) && !all_https(uris) {
            if any_http(uris) {
                if app_type == AppType::UserAgent {
                    bad = true;
                    problems.push("Application.OIDC.V1.Code.RedirectUris.HttpOnlyForWeb");
                }
                if app_type == AppType::Native && !only_localhost_is_http(uris) {
                    bad = true;
                    problems.push("Application.OIDC.V1.Native.RedirectUris.MustBeHttpLocalhost");
                }
            }
            if any_custom(uris) && app_type != AppType::Native {
                bad = true;
                problems.push("Application.OIDC.V1.Code.RedirectUris.CustomOnlyForNative");
            }
        }
    }
    match app_type {
        AppType::Native if cfg.auth_method != AuthMethod::None => {
            bad = true;
            problems.push("Application.OIDC.V1.Native.AuthMethodType.NotNone");
        }
        AppType::UserAgent if cfg.auth_method != AuthMethod::None => {
            bad = true;
            problems.push("Application.OIDC.V1.UserAgent.AuthMethodType.NotNone");
        }
        _ => {}
    }
    if bad {
        problems.insert(0, "Application.OIDC.V1.NotCompliant");
    }
    (bad, problems)
}

fn compliance_json(problems: &[&str]) -> Vec<Value> {
    problems
        .iter()
        .map(|k| json!({"key": k, "localizedMessage": localized(k)}))
        .collect()
}

// ---- authorize-time redirect rules (zitadel/oidc `ValidateAuthReqRedirectURI`) ----

pub const MSG_MISSING_REDIRECT: &str = "The redirect_uri is missing in the request. Please ensure it is added to the request. If you have any questions, you may contact the administrator of the application.";
pub const MSG_UNKNOWN_REDIRECT: &str = "The requested redirect_uri is missing in the client configuration. If you have any questions, you may contact the administrator of the application.";
pub const MSG_HTTP_REDIRECT: &str = "This client's redirect_uri is http and is not allowed. If you have any questions, you may contact the administrator of the application.";
pub const MSG_CUSTOM_REDIRECT: &str = "This client's redirect_uri is using a custom schema and is not allowed. If you have any questions, you may contact the administrator of the application.";

/// `path.Match`-style glob: `*` = any run of non-`/` characters, `?` = one of them.
fn glob_match(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len())
            .take_while(|&i| i == 0 || text[i - 1] != '/')
            .any(|i| glob_match(rest, &text[i..])),
        Some(('?', rest)) => text
            .split_first()
            .is_some_and(|(c, t)| *c != '/' && glob_match(rest, t)),
        Some((p, rest)) => text
            .split_first()
            .is_some_and(|(c, t)| c == p && glob_match(rest, t)),
    }
}

/// Whether `uri` is registered: exact match, or a glob match for apps in dev mode.
pub fn uri_registered(registered: &[String], uri: &str, dev_mode: bool) -> bool {
    registered.iter().any(|r| {
        r == uri || {
            dev_mode && r.contains(['*', '?']) && {
                let p: Vec<char> = r.chars().collect();
                let t: Vec<char> = uri.chars().collect();
                glob_match(&p, &t)
            }
        }
    })
}

fn loopback_url(uri: &str) -> Option<url::Url> {
    let url = url::Url::parse(uri).ok()?;
    (url.scheme() == "http" && url.host_str().is_some_and(is_loopback_host)).then_some(url)
}

/// Checks a redirect URI at `/oauth/v2/authorize`; `Err` carries the description shown to the
/// user (the browser is not redirected).
pub fn check_authorize_redirect(
    cfg: &OidcConfig,
    uri: &str,
    response_type_code: bool,
) -> Result<(), &'static str> {
    if uri.is_empty() {
        return Err(MSG_MISSING_REDIRECT);
    }
    let registered = uri_registered(&cfg.redirect_uris, uri, cfg.dev_mode);
    if uri.starts_with("https://") {
        return if registered {
            Ok(())
        } else {
            Err(MSG_UNKNOWN_REDIRECT)
        };
    }
    if cfg.app_type == AppType::Native {
        let loopback = loopback_url(uri);
        let custom = !uri.starts_with("http://");
        if registered {
            return if loopback.is_some() || custom {
                Ok(())
            } else {
                Err(MSG_HTTP_REDIRECT)
            };
        }
        // RFC 8252 §7.3: loopback redirects match regardless of the port.
        let Some(wanted) = loopback else {
            return Err(MSG_UNKNOWN_REDIRECT);
        };
        let matches = cfg
            .redirect_uris
            .iter()
            .filter_map(|r| loopback_url(r))
            .any(|r| {
                r.host_str() == wanted.host_str()
                    && r.path() == wanted.path()
                    && r.query() == wanted.query()
            });
        return if matches {
            Ok(())
        } else {
            Err(MSG_UNKNOWN_REDIRECT)
        };
    }
    if !registered {
        return Err(MSG_UNKNOWN_REDIRECT);
    }
    if uri.starts_with("http://") {
        if cfg.dev_mode || (response_type_code && cfg.app_type == AppType::Web) {
            return Ok(());
        }
        return Err(MSG_HTTP_REDIRECT);
    }
    Err(MSG_CUSTOM_REDIRECT)
}

// ---- handlers ----

fn enum_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn login_version_json(cfg: &OidcConfig) -> Value {
    match (&cfg.login_v2_base_uri, cfg.login_v1) {
        (Some(base), _) => json!({"loginV2": {"baseUri": base}}),
        (None, true) => json!({"loginV1": {}}),
        (None, false) => Value::Null,
    }
}

/// Origins allowed for CORS: the redirect URIs' origins plus `additionalOrigins`.
fn allowed_origins(cfg: &OidcConfig) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for uri in &cfg.redirect_uris {
        if let Ok(url) = url::Url::parse(uri)
            && matches!(url.scheme(), "http" | "https")
        {
            let origin = url.origin().ascii_serialization();
            if !out.contains(&origin) {
                out.push(origin);
            }
        }
    }
    for o in &cfg.additional_origins {
        if !out.contains(o) {
            out.push(o.clone());
        }
    }
    out
}

pub fn app_v1(app: &App) -> Value {
    let cfg = &app.oidc;
    let (bad, problems) = compliance(cfg);
    json!({
        "id": app.id,
        "details": details(&app.meta),
        "state": "APP_STATE_ACTIVE",
        "name": app.name,
        "oidcConfig": {
            "redirectUris": cfg.redirect_uris,
            "responseTypes": cfg.response_types.iter().map(enum_name).collect::<Vec<_>>(),
            "grantTypes": cfg.grant_types.iter().map(enum_name).collect::<Vec<_>>(),
            "appType": enum_field(&enum_name(&cfg.app_type)),
            "clientId": app.client_id,
            "authMethodType": enum_field(&enum_name(&cfg.auth_method)),
            "postLogoutRedirectUris": cfg.post_logout_redirect_uris,
            "version": enum_field("OIDC_VERSION_1_0"),
            "noneCompliant": bad,
            "complianceProblems": compliance_json(&problems),
            "devMode": cfg.dev_mode,
            "accessTokenType": enum_field(&enum_name(&cfg.access_token_type)),
            "accessTokenRoleAssertion": cfg.access_token_role_assertion,
            "idTokenRoleAssertion": cfg.id_token_role_assertion,
            "idTokenUserinfoAssertion": cfg.id_token_userinfo_assertion,
            "clockSkew": format_duration(cfg.clock_skew_seconds),
            "additionalOrigins": cfg.additional_origins,
            "allowedOrigins": allowed_origins(cfg),
            "skipNativeAppSuccessPage": cfg.skip_native_app_success_page,
            "backChannelLogoutUri": cfg.back_channel_logout_uri,
            "loginVersion": login_version_json(cfg),
        },
    })
}

pub async fn add_oidc_app(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path(project_id): Path<String>,
    ZJson(req): ZJson<OidcReq>,
) -> ApiResult {
    let name = check_len("AddOIDCAppRequest.Name", &req.name, 1, 200)?;
    let (_, cfg) = req.into_config()?;
    let (bad, problems) = compliance(&cfg);
    let secret = cfg.auth_method.has_secret().then(|| random_alnum(64));
    let secret_hash = secret.as_deref().map(sha256_hex);
    let app = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            project_in(tx.data, &org_id, &project_id)?;
            if tx
                .data
                .apps
                .values()
                .any(|a| a.project_id == project_id && a.name == name)
            {
                return Err(catalog::app_exists());
            }
            let id = tx.new_id();
            let client_id = tx.new_id();
            let meta = tx.meta(&org_id);
            let app = App {
                id: id.clone(),
                project_id: project_id.clone(),
                org_id,
                name: name.clone(),
                client_id,
                client_secret_hash: secret_hash,
                oidc: cfg,
                meta,
            };
            tx.data.apps.insert(id, app.clone());
            Ok(app)
        })
        .await?;
    ok(json!({
        "appId": app.id,
        "details": details(&app.meta),
        "clientId": app.client_id,
        "clientSecret": secret,
        "noneCompliant": bad,
        "complianceProblems": compliance_json(&problems),
    }))
}

fn app_in<'a>(
    data: &'a crate::model::Data,
    org_id: &str,
    project_id: &str,
    app_id: &str,
) -> Result<&'a App, ApiError> {
    project_in(data, org_id, project_id)?;
    data.apps
        .get(app_id)
        .filter(|a| a.project_id == project_id)
        .ok_or_else(catalog::app_not_found)
}

pub async fn get_app(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path((project_id, app_id)): Path<(String, String)>,
) -> ApiResult {
    let value = state.read(|inner| {
        let org_id = caller.org_context(&inner.data, &org)?;
        let app = app_in(&inner.data, &org_id, &project_id, &app_id)?;
        Ok::<_, ApiError>(json!({"app": app_v1(app)}))
    })?;
    ok(value)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RenameReq {
    name: String,
}

pub async fn update_app(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path((project_id, app_id)): Path<(String, String)>,
    ZJson(req): ZJson<RenameReq>,
) -> ApiResult {
    let name = check_len("UpdateAppRequest.Name", &req.name, 1, 200)?;
    let (seq, at, owner) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let app = app_in(tx.data, &org_id, &project_id, &app_id)?;
            if app.name == name {
                return Err(ApiError::precondition("EMU-AppNotChanged", "No changes"));
            }
            if tx
                .data
                .apps
                .values()
                .any(|a| a.id != app_id && a.project_id == project_id && a.name == name)
            {
                return Err(catalog::app_exists());
            }
            let seq = tx.next_seq();
            let now = tx.now;
            let app = tx
                .data
                .apps
                .get_mut(&app_id)
                .ok_or_else(catalog::app_not_found)?;
            app.name = name.clone();
            app.meta.changed = now;
            app.meta.sequence = seq;
            Ok((seq, now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &owner)}))
}

pub async fn update_oidc_config(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path((project_id, app_id)): Path<(String, String)>,
    ZJson(req): ZJson<OidcReq>,
) -> ApiResult {
    let (_, cfg) = req.into_config()?;
    let (seq, at, owner) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let app = app_in(tx.data, &org_id, &project_id, &app_id)?;
            if serde_json::to_value(&app.oidc).ok() == serde_json::to_value(&cfg).ok() {
                return Err(ApiError::precondition("EMU-OIDCNotChanged", "No changes"));
            }
            let seq = tx.next_seq();
            let now = tx.now;
            let app = tx
                .data
                .apps
                .get_mut(&app_id)
                .ok_or_else(catalog::app_not_found)?;
            // A method without secret drops the stored one; switching to a secret method
            // needs `_generate_client_secret`, as in ZITADEL.
            if !cfg.auth_method.has_secret() {
                app.client_secret_hash = None;
            }
            app.oidc = cfg;
            app.meta.changed = now;
            app.meta.sequence = seq;
            Ok((seq, now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &owner)}))
}

pub async fn regenerate_secret(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path((project_id, app_id)): Path<(String, String)>,
    ZJson(_req): ZJson<Value>,
) -> ApiResult {
    let secret = random_alnum(64);
    let hash = sha256_hex(&secret);
    let (seq, at, owner) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let app = app_in(tx.data, &org_id, &project_id, &app_id)?;
            if !app.oidc.auth_method.has_secret() {
                return Err(catalog::app_no_secret());
            }
            let seq = tx.next_seq();
            let now = tx.now;
            let app = tx
                .data
                .apps
                .get_mut(&app_id)
                .ok_or_else(catalog::app_not_found)?;
            app.client_secret_hash = Some(hash.clone());
            app.meta.changed = now;
            app.meta.sequence = seq;
            Ok((seq, now, org_id))
        })
        .await?;
    ok(json!({"clientSecret": secret, "details": change_details(seq, at, &owner)}))
}

pub async fn remove_app(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path((project_id, app_id)): Path<(String, String)>,
) -> ApiResult {
    let (seq, at, owner) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let client_id = app_in(tx.data, &org_id, &project_id, &app_id)?
                .client_id
                .clone();
            let seq = tx.next_seq();
            tx.data.apps.remove(&app_id);
            // Tokens issued to the app die with it.
            tx.data.tokens.retain(|_, t| t.client_id != client_id);
            Ok((seq, tx.now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &owner)}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ListAppsReq {
    query: ListQuery,
    queries: Vec<AppQuery>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct AppQuery {
    name_query: Option<super::projects::NameQuery>,
}

pub async fn list_apps(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path(project_id): Path<String>,
    ZJson(req): ZJson<ListAppsReq>,
) -> ApiResult {
    let now = gatehouse_core::Timestamp::now();
    let value = state.read(|inner| {
        let org_id = caller.org_context(&inner.data, &org)?;
        project_in(&inner.data, &org_id, &project_id)?;
        let mut found = Vec::new();
        for app in inner
            .data
            .apps
            .values()
            .filter(|a| a.project_id == project_id)
        {
            let mut keep = true;
            for q in &req.queries {
                if let Some(n) = &q.name_query {
                    keep &= text_matches(n.method.as_deref(), &app.name, &n.name)?;
                }
            }
            if keep {
                found.push(app);
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        let total = found.len();
        let page: Vec<Value> = req.query.page(found)?.into_iter().map(app_v1).collect();
        Ok::<_, ApiError>(json!({
            "details": list_details_v1(total, inner.data.sequence, now),
            "result": page,
        }))
    })?;
    ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(app_type: AppType, auth: AuthMethod, uris: &[&str], dev: bool) -> OidcConfig {
        OidcConfig {
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            response_types: vec![ResponseType::Code],
            grant_types: vec![GrantType::AuthorizationCode],
            app_type,
            auth_method: auth,
            post_logout_redirect_uris: vec![],
            dev_mode: dev,
            access_token_type: TokenType::Bearer,
            access_token_role_assertion: false,
            id_token_role_assertion: false,
            id_token_userinfo_assertion: false,
            clock_skew_seconds: 0.0,
            additional_origins: vec![],
            skip_native_app_success_page: false,
            back_channel_logout_uri: String::new(),
            login_v2_base_uri: None,
            login_v1: false,
        }
    }

    #[test]
    fn compliance_matches_zitadel_rules() {
        let web = cfg(
            AppType::Web,
            AuthMethod::Basic,
            &["http://app.example/cb"],
            false,
        );
        assert_eq!(compliance(&web), (false, vec![]));
        let spa = cfg(
            AppType::UserAgent,
            AuthMethod::None,
            &["http://app.example/cb"],
            false,
        );
        assert_eq!(
            compliance(&spa),
            (
                true,
                vec![
                    "Application.OIDC.V1.NotCompliant",
                    "Application.OIDC.V1.Code.RedirectUris.HttpOnlyForWeb"
                ]
            )
        );
        let native = cfg(
            AppType::Native,
            AuthMethod::Basic,
            &["http://app.example/cb"],
            false,
        );
        let (bad, problems) = compliance(&native);
        assert!(bad);
        assert!(problems.contains(&"Application.OIDC.V1.Native.RedirectUris.MustBeHttpLocalhost"));
        assert!(problems.contains(&"Application.OIDC.V1.Native.AuthMethodType.NotNone"));
        let native_ok = cfg(
            AppType::Native,
            AuthMethod::None,
            &["http://127.0.0.1:8080/cb", "com.example:/cb"],
            false,
        );
        assert_eq!(compliance(&native_ok), (false, vec![]));
        let custom_web = cfg(AppType::Web, AuthMethod::Basic, &["com.example:/cb"], false);
        assert!(
            compliance(&custom_web)
                .1
                .contains(&"Application.OIDC.V1.Code.RedirectUris.CustomOnlyForNative")
        );
        let empty = cfg(AppType::Web, AuthMethod::Basic, &[], false);
        assert_eq!(
            compliance(&empty).1[1],
            "Application.OIDC.V1.NoRedirectUris"
        );
    }

    #[test]
    fn authorize_redirect_rules() {
        let web = cfg(
            AppType::Web,
            AuthMethod::Basic,
            &["http://app.example/cb", "https://a.example/cb"],
            false,
        );
        assert!(check_authorize_redirect(&web, "http://app.example/cb", true).is_ok());
        assert_eq!(
            check_authorize_redirect(&web, "http://app.example/cb", false),
            Err(MSG_HTTP_REDIRECT)
        );
        assert_eq!(
            check_authorize_redirect(&web, "https://a.example/other", true),
            Err(MSG_UNKNOWN_REDIRECT)
        );
        assert_eq!(
            check_authorize_redirect(&web, "", true),
            Err(MSG_MISSING_REDIRECT)
        );
        let spa = cfg(
            AppType::UserAgent,
            AuthMethod::None,
            &["http://app.example/cb"],
            false,
        );
        assert_eq!(
            check_authorize_redirect(&spa, "http://app.example/cb", true),
            Err(MSG_HTTP_REDIRECT)
        );
        let spa_dev = cfg(
            AppType::UserAgent,
            AuthMethod::None,
            &["http://app.example/*"],
            true,
        );
        assert!(check_authorize_redirect(&spa_dev, "http://app.example/cb", true).is_ok());
        assert_eq!(
            check_authorize_redirect(&spa_dev, "http://app.example/a/b", true),
            Err(MSG_UNKNOWN_REDIRECT)
        );
        let custom = cfg(AppType::Web, AuthMethod::Basic, &["com.example:/cb"], false);
        assert_eq!(
            check_authorize_redirect(&custom, "com.example:/cb", true),
            Err(MSG_CUSTOM_REDIRECT)
        );
        let native = cfg(
            AppType::Native,
            AuthMethod::None,
            &["http://127.0.0.1/cb", "com.example:/cb"],
            false,
        );
        assert!(check_authorize_redirect(&native, "http://127.0.0.1:53123/cb", true).is_ok());
        assert!(check_authorize_redirect(&native, "com.example:/cb", true).is_ok());
        assert_eq!(
            check_authorize_redirect(&native, "http://127.0.0.1:53123/other", true),
            Err(MSG_UNKNOWN_REDIRECT)
        );
    }

    #[test]
    fn validation_follows_is_valid() {
        let req = |v: Value| serde_json::from_value::<OidcReq>(v).unwrap().into_config();
        assert!(req(json!({"name": "a", "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"], "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE"]})).is_ok());
        assert!(req(json!({"name": "a"})).is_err());
        assert!(req(json!({"name": "a", "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"], "grantTypes": ["OIDC_GRANT_TYPE_IMPLICIT"]})).is_err());
        assert!(req(json!({"name": "a", "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"], "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE"], "clockSkew": "6s"})).is_err());
        assert!(req(json!({"name": "a", "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"], "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE"], "additionalOrigins": ["https://a.example/path"]})).is_err());
        let err = req(json!({"name": "a", "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"], "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE"], "backChannelLogoutUri": "http://localhost/logout"})).unwrap_err();
        assert_eq!(err.id, "PROJECT-msNebo");
    }
}
