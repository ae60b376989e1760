//! Platform admins signing in to the portal through the IdP (the embedded emulator or ZITADEL),
//! with the authorization code flow + PKCE, and the cookie sessions that follow.
//!
//! - **Registration.** Gatehouse registers its own OIDC application in the admin organization
//!   (project "Gatehouse", web app "gatehouse-admin", redirect `<public_url>/admin/callback`,
//!   post-logout `<public_url>/admin/`) through the same ZITADEL client as the reconciler. The
//!   client secret is sealed in the database; a stored registration is re-checked at every start
//!   and repaired (settings updated, app recreated) when ZITADEL's copy drifted. Replicas
//!   starting together register once (a lease in the database).
//! - **Sign-in.** `GET /admin/login` keeps `state`, `nonce` and the PKCE verifier in a short-lived
//!   cookie sealed with the master key (encrypted and authenticated, so it can be neither read
//!   nor forged) and redirects to the IdP. `GET /admin/callback` checks `state`, exchanges the
//!   code server-side, verifies the ID token with `gatehouse-jwks` (signature against the IdP's
//!   JWKS, `iss`, `aud`, `exp`, then `nonce` and `azp` here) and requires the
//!   `urn:zitadel:iam:user:resourceowner:id` claim to be the admin organization.
//! - **Sessions.** A random 256-bit id in an HttpOnly, SameSite=Lax cookie (`__Host-` prefixed
//!   and `Secure` when the public URL is https); only its SHA-256 is stored. A session ends after
//!   its lifetime or when unused for the idle timeout. Cookie-authenticated changes need
//!   `X-Gatehouse-Client: portal` and, when the browser sends one, a same-origin `Origin`
//!   (a cross-site form or script can set neither), else 403.
//! - **Sign-out.** `POST /admin/logout` deletes the session, clears the cookie and sends the
//!   browser to the IdP's end-session endpoint.
//!
//! Sign-ins, refused sign-ins and sign-outs are audited.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Json,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use gatehouse_config::{Settings, ZitadelTarget};
use gatehouse_core::{
    Timestamp,
    admin::{AdminClient, AdminSession},
    audit::{AuditContext, Target},
    change::Change,
    clock::Clock,
    id::TenantId,
    principal::Principal,
    secret::Keyring,
    store::Store,
};
use gatehouse_jwks::{
    JwksCache, ReqwestFetcher, Verifier, VerifyOptions,
    code::{CodeExchange, ExchangeError},
};
use gatehouse_zitadel::{
    ZitadelClient, ZitadelError,
    client::{
        AddHumanUserRequest, AddOidcAppRequest, OidcAppSettings, OidcAppType, OidcAuthMethodType,
        OidcConfig, OidcDiscovery, OidcGrantType, OidcResponseType, OidcTokenType, OidcVersion,
        OrganizationRef, Password, ProjectSettings, SetHumanEmail, SetHumanProfile,
        SetPasswordRequest,
    },
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::watch;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use url::Url;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ApiResult},
    extract::{Authenticated, RequestContext},
    state::AppState,
    zitadel::Zitadel,
};

/// The session cookie over plain http (development).
pub const SESSION_COOKIE: &str = "gatehouse_session";
/// The session cookie when the public URL is https: the `__Host-` prefix makes browsers refuse
/// it unless it is `Secure`, host-only and `Path=/`, so a sibling subdomain cannot plant one.
pub const SECURE_SESSION_COOKIE: &str = "__Host-gatehouse_session";
const LOGIN_COOKIE: &str = "gatehouse_admin_login";
const SECURE_LOGIN_COOKIE: &str = "__Host-gatehouse_admin_login";
/// What the portal sends on every request; cookie-authenticated changes require it.
pub const CLIENT_HEADER: &str = "x-gatehouse-client";
pub const PORTAL_CLIENT: &str = "portal";

pub const LOGIN_PATH: &str = "/admin/login";
pub const CALLBACK_PATH: &str = "/admin/callback";
pub const LOGOUT_PATH: &str = "/admin/logout";
/// Where the admin lands after signing in or out.
pub const PORTAL_PATH: &str = "/admin/";

/// The names Gatehouse's own OIDC client is registered under in ZITADEL.
pub const PROJECT_NAME: &str = "Gatehouse";
pub const APP_NAME: &str = "gatehouse-admin";
/// Username of the first platform admin created in the embedded emulator.
pub const FIRST_ADMIN_USERNAME: &str = "admin";

/// How long a started sign-in may take at the IdP.
const LOGIN_STATE_LIFETIME: Duration = Duration::from_secs(10 * 60);
const LOGIN_STATE_AAD: &str = "admin_login_state";
/// `last_seen_at` is written at most this often per session (one write per request would
/// serialise the portal's reads on SQLite's single writer).
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);
/// Per-request timeout of the code exchange.
const IDP_TIMEOUT: Duration = Duration::from_secs(10);
const REGISTRATION_LEASE: Duration = Duration::from_secs(120);
const ORG_CLAIM: &str = "urn:zitadel:iam:user:resourceowner:id";
const RESOURCE_OWNER_SCOPE: &str = "urn:zitadel:iam:user:resourceowner";
const ORG_SCOPE_PREFIX: &str = "urn:zitadel:iam:org:id:";

/// The login name and password of the first platform admin, when this start created it
/// (printed once by `gatehouse serve`). `Debug` hides the password.
#[derive(Clone)]
pub struct AdminCredentials {
    pub login_name: String,
    pub password: String,
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCredentials")
            .field("login_name", &self.login_name)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Admin sign-in for one server: configuration, the registered client once ready, and the
/// HTTP client for the code exchange and JWKS.
pub struct AdminAuth {
    public: Url,
    secure: bool,
    /// `None`: sign-in is off (a real ZITADEL without `admin_org_id`).
    org_id: Option<String>,
    lifetime: Duration,
    idle: Duration,
    http: reqwest::Client,
    zitadel: ZitadelClient,
    ready: watch::Sender<Readiness>,
    /// The embedded emulator's default organization, when the emulator runs here: the first
    /// platform admin is created there.
    embedded_org: Option<String>,
}

#[derive(Clone)]
enum Readiness {
    Pending(String),
    Ready(Arc<Client>),
    Off(String),
}

/// A usable registration.
struct Client {
    issuer: String,
    client_id: String,
    client_secret: String,
    authorize_endpoint: Url,
    /// Server-side URL of the token endpoint (see [`AdminAuth::backchannel`]).
    token_endpoint: String,
    end_session_endpoint: Option<Url>,
    verifier: Verifier,
    /// Set when the IdP refused the client: the next sign-in re-checks the registration.
    stale: std::sync::atomic::AtomicBool,
}

impl AdminAuth {
    /// Builds admin sign-in from the settings and the ZITADEL wiring. Nothing is contacted yet:
    /// [`AdminAuth::spawn_registration`] registers the client once the server is serving.
    pub fn new(settings: &Settings, zitadel: &Zitadel) -> anyhow::Result<Arc<Self>> {
        let embedded_org = zitadel.emulator.as_ref().map(|e| e.default_org_id());
        let org_id = settings
            .admin_org_id
            .clone()
            .or_else(|| embedded_org.clone());
        let ready = match &org_id {
            Some(_) => Readiness::Pending("the OIDC client is being registered with the IdP".into()),
            None => Readiness::Off(
                "admin sign-in is off: set admin_org_id (GATEHOUSE_ADMIN_ORG_ID) to the ZITADEL organization whose members administer Gatehouse".into(),
            ),
        };
        let mut public = settings.public_url.clone();
        if !public.path().ends_with('/') {
            let path = format!("{}/", public.path());
            public.set_path(&path);
        }
        Ok(Arc::new(Self {
            secure: public.scheme() == "https",
            public,
            org_id,
            lifetime: settings.admin_session_lifetime,
            idle: settings.admin_session_idle_timeout,
            http: http_client(settings)?,
            zitadel: zitadel.reconciler.client().clone(),
            ready: watch::Sender::new(ready),
            embedded_org,
        }))
    }

    pub fn session_cookie(&self) -> &'static str {
        if self.secure {
            SECURE_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
    }

    fn login_cookie(&self) -> &'static str {
        if self.secure {
            SECURE_LOGIN_COOKIE
        } else {
            LOGIN_COOKIE
        }
    }

    /// The admin organization, when sign-in is on.
    pub fn org_id(&self) -> Option<&str> {
        self.org_id.as_deref()
    }

    fn url(&self, path: &str) -> String {
        // `public` ends with '/', every path here starts with one.
        format!("{}{}", self.public.as_str().trim_end_matches('/'), path)
    }

    pub fn redirect_uri(&self) -> String {
        self.url(CALLBACK_PATH)
    }

    pub fn post_logout_redirect_uri(&self) -> String {
        self.url(PORTAL_PATH)
    }

    /// Whether the registered client is usable.
    pub fn is_ready(&self) -> bool {
        matches!(&*self.ready.borrow(), Readiness::Ready(_))
    }

    /// Waits until the client is registered (or `timeout` passes). `true` when ready.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut rx = self.ready.subscribe();
        tokio::time::timeout(
            timeout,
            rx.wait_for(|r| matches!(r, Readiness::Ready(_) | Readiness::Off(_))),
        )
        .await
        .is_ok()
            && self.is_ready()
    }

    fn current(&self) -> Result<Arc<Client>, String> {
        match &*self.ready.borrow() {
            Readiness::Ready(client) => Ok(client.clone()),
            Readiness::Pending(reason) | Readiness::Off(reason) => Err(reason.clone()),
        }
    }

    /// Registers (or re-checks) the OIDC client in the background, retrying with backoff
    /// until it works or `shutdown`; re-checks again whenever the IdP refuses the client.
    pub fn spawn_registration(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) {
        if self.org_id.is_none() {
            tracing::info!("admin sign-in through the IdP is off: admin_org_id is not set");
            return;
        }
        let this = self.clone();
        tasks.spawn(async move {
            let mut delay = Duration::from_millis(500);
            loop {
                let needed = match &*this.ready.borrow() {
                    Readiness::Ready(client) => {
                        client.stale.load(std::sync::atomic::Ordering::Relaxed)
                    }
                    Readiness::Pending(_) => true,
                    Readiness::Off(_) => false,
                };
                if needed {
                    match this
                        .register(store.as_ref(), &keyring, clock.as_ref())
                        .await
                    {
                        Ok(client) => {
                            tracing::info!(client_id = %client.client_id, issuer = %client.issuer, "admin sign-in is ready");
                            this.ready.send_replace(Readiness::Ready(Arc::new(client)));
                            delay = Duration::from_millis(500);
                        }
                        Err(reason) => {
                            tracing::warn!(%reason, retry_in = ?delay, "registering Gatehouse's OIDC client with the IdP failed");
                            if !this.is_ready() {
                                this.ready.send_replace(Readiness::Pending(format!(
                                    "the OIDC client could not be registered with the IdP yet ({reason}); retrying"
                                )));
                            }
                            delay = (delay * 2).min(Duration::from_secs(60));
                        }
                    }
                } else {
                    delay = Duration::from_secs(5);
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        });
    }

    /// Makes sure Gatehouse's OIDC app exists in ZITADEL as configured and returns a usable
    /// client. Errors are fit for logs (no secrets).
    async fn register(
        &self,
        store: &dyn Store,
        keyring: &Keyring,
        clock: &dyn Clock,
    ) -> Result<Client, String> {
        let org = self.org_id.clone().ok_or("admin sign-in is off")?;
        let discovery = self
            .zitadel
            .discovery()
            .await
            .map_err(|e| format!("OIDC discovery: {e}"))?;
        let redirect_uri = self.redirect_uri();
        let post_logout = self.post_logout_redirect_uri();
        let matches = |c: &AdminClient| {
            c.issuer == discovery.issuer
                && c.org_id == org
                && c.redirect_uri == redirect_uri
                && c.post_logout_redirect_uri == post_logout
        };
        let worker = format!("{:016x}", rand::rng().next_u64());
        let mut waited = Duration::ZERO;
        loop {
            let stored = store
                .get_admin_client()
                .await
                .map_err(|e| format!("reading the registration: {e}"))?;
            if let Some(stored) = stored.filter(|c| matches(c)) {
                match self.verify_registration(&stored).await {
                    Ok(true) => {
                        let secret = keyring
                            .open_string(&stored.client_secret, AdminClient::SECRET_AAD)
                            .map_err(|e| format!("opening the stored client secret: {e}"))?;
                        return self.client(&discovery, stored.client_id, secret);
                    }
                    // Gone or changed beyond repair in ZITADEL: register again below.
                    Ok(false) => {}
                    // ZITADEL unreachable: the stored registration is the best there is.
                    Err(e) if e.is_transient() => {
                        tracing::warn!(error = %e, "could not re-check the admin OIDC client in ZITADEL; using the stored registration");
                        let secret = keyring
                            .open_string(&stored.client_secret, AdminClient::SECRET_AAD)
                            .map_err(|e| format!("opening the stored client secret: {e}"))?;
                        return self.client(&discovery, stored.client_id, secret);
                    }
                    Err(e) => return Err(format!("checking the registered app: {e}")),
                }
            }
            let now = clock.now();
            let claimed = store
                .claim_admin_client_registration(&worker, now, now.plus(REGISTRATION_LEASE))
                .await
                .map_err(|e| format!("taking the registration lease: {e}"))?;
            if claimed {
                break;
            }
            // Another replica is registering: use its result when it lands.
            if waited >= REGISTRATION_LEASE {
                return Err("another replica holds the registration lease".into());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            waited += Duration::from_secs(1);
        }
        let previous = store.get_admin_client().await.ok().flatten();
        let (record, secret) = self
            .create_or_adopt(&org, &discovery.issuer, previous.as_ref(), keyring, clock)
            .await
            .map_err(|e| format!("registering the OIDC app in ZITADEL: {e}"))?;
        let saved = store
            .save_admin_client(&record, &worker)
            .await
            .map_err(|e| format!("saving the registration: {e}"))?;
        if !saved {
            return Err("the registration lease ran out before the registration was saved".into());
        }
        tracing::info!(org_id = %org, app_id = %record.app_id, client_id = %record.client_id, "registered Gatehouse's OIDC client for admin sign-in");
        self.client(&discovery, record.client_id, secret)
    }

    /// `Ok(true)`: the stored app exists with the desired settings (after repairing them).
    async fn verify_registration(&self, stored: &AdminClient) -> Result<bool, ZitadelError> {
        let Some(app) = self
            .zitadel
            .get_app(&stored.org_id, &stored.project_id, &stored.app_id)
            .await?
        else {
            tracing::warn!(app_id = %stored.app_id, "Gatehouse's admin OIDC app is gone from ZITADEL; registering it again");
            return Ok(false);
        };
        let Some(config) = app.oidc_config.as_ref() else {
            return Ok(false);
        };
        if config.client_id != stored.client_id {
            return Ok(false);
        }
        self.repair(stored, config).await?;
        Ok(true)
    }

    fn desired(&self, current: Option<&OidcConfig>) -> OidcAppSettings {
        let mut settings = current.map(OidcAppSettings::from).unwrap_or_else(|| {
            OidcAppSettings {
                // Name and email in the ID token: no userinfo call needed.
                id_token_userinfo_assertion: true,
                access_token_type: Some(OidcTokenType::Bearer),
                ..Default::default()
            }
        });
        settings.app_type = OidcAppType::Web;
        settings.auth_method_type = OidcAuthMethodType::Basic;
        settings.response_types = vec![OidcResponseType::Code];
        settings.grant_types = vec![OidcGrantType::AuthorizationCode];
        settings.redirect_uris = vec![self.redirect_uri()];
        settings.post_logout_redirect_uris = vec![self.post_logout_redirect_uri()];
        // ZITADEL accepts http redirect URIs only in dev mode.
        settings.dev_mode = !self.secure;
        settings
    }

    async fn repair(&self, stored: &AdminClient, config: &OidcConfig) -> Result<(), ZitadelError> {
        let desired = self.desired(Some(config));
        if desired != OidcAppSettings::from(config) {
            tracing::warn!(app_id = %stored.app_id, "Gatehouse's admin OIDC app was changed in ZITADEL; restoring its settings");
            self.zitadel
                .update_oidc_app_config(
                    &stored.org_id,
                    &stored.project_id,
                    &stored.app_id,
                    &desired,
                )
                .await?;
        }
        Ok(())
    }

    /// Finds or creates project and app; a found app gets a new secret unless the stored one
    /// belongs to it (a secret cannot be read back from ZITADEL).
    async fn create_or_adopt(
        &self,
        org: &str,
        issuer: &str,
        previous: Option<&AdminClient>,
        keyring: &Keyring,
        clock: &dyn Clock,
    ) -> Result<(AdminClient, String), ZitadelError> {
        let z = &self.zitadel;
        let project_id = match z.find_project_by_name(org, PROJECT_NAME).await? {
            Some(project) => project.id,
            None => {
                let settings = ProjectSettings {
                    name: PROJECT_NAME.into(),
                    ..Default::default()
                };
                match z.create_project(org, &settings).await {
                    Ok(created) => created.id,
                    // Created concurrently (or by a lost earlier answer): adopt it.
                    Err(e) if e.is_already_exists() => {
                        z.eventually("the Gatehouse project", || async {
                            z.find_project_by_name(org, PROJECT_NAME).await
                        })
                        .await?
                        .id
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let existing = z.find_app_by_name(org, &project_id, APP_NAME).await?;
        let (app_id, client_id, secret) = match existing {
            Some(app) => {
                let config = app.oidc_config.clone().unwrap_or_default();
                let desired = self.desired(Some(&config));
                if desired != OidcAppSettings::from(&config) {
                    z.update_oidc_app_config(org, &project_id, &app.id, &desired)
                        .await?;
                }
                let known = previous
                    .filter(|p| p.app_id == app.id && p.client_id == config.client_id)
                    .and_then(|p| {
                        keyring
                            .open_string(&p.client_secret, AdminClient::SECRET_AAD)
                            .ok()
                    });
                let secret = match known {
                    Some(secret) => secret,
                    None => z
                        .regenerate_oidc_client_secret(org, &project_id, &app.id)
                        .await?
                        .client_secret
                        .into_inner(),
                };
                (app.id, config.client_id, secret)
            }
            None => {
                let created = z
                    .create_oidc_app(
                        org,
                        &project_id,
                        &AddOidcAppRequest {
                            name: APP_NAME.into(),
                            version: Some(OidcVersion::V1_0),
                            settings: self.desired(None),
                        },
                    )
                    .await?;
                let secret = created
                    .client_secret
                    .ok_or_else(|| ZitadelError::Decode {
                        op: "create_oidc_app",
                        message: "no client secret for a web app".into(),
                    })?
                    .into_inner();
                (created.app_id, created.client_id, secret)
            }
        };
        let record = AdminClient {
            issuer: issuer.to_owned(),
            org_id: org.to_owned(),
            project_id,
            app_id,
            client_id,
            client_secret: keyring.seal(secret.as_bytes(), AdminClient::SECRET_AAD),
            redirect_uri: self.redirect_uri(),
            post_logout_redirect_uri: self.post_logout_redirect_uri(),
            updated_at: clock.now(),
        };
        Ok((record, secret))
    }

    fn client(
        &self,
        discovery: &OidcDiscovery,
        client_id: String,
        client_secret: String,
    ) -> Result<Client, String> {
        let authorize_endpoint = Url::parse(&discovery.authorization_endpoint)
            .map_err(|e| format!("the IdP's authorization_endpoint is not a URL: {e}"))?;
        let end_session_endpoint = discovery
            .end_session_endpoint
            .as_deref()
            .and_then(|u| Url::parse(u).ok());
        let jwks_uri = self.backchannel(&discovery.issuer, &discovery.jwks_uri);
        let keys = JwksCache::remote(jwks_uri)
            .issuer(discovery.issuer.clone())
            .fetcher(Arc::new(ReqwestFetcher::with_client(self.http.clone())))
            .build()
            .map_err(|e| format!("configuring the JWKS cache: {e}"))?;
        let verifier = Verifier::new(
            VerifyOptions::new(discovery.issuer.clone(), [client_id.clone()]),
            keys,
        )
        .map_err(|e| format!("configuring ID token verification: {e}"))?;
        Ok(Client {
            issuer: discovery.issuer.clone(),
            token_endpoint: self.backchannel(&discovery.issuer, &discovery.token_endpoint),
            client_id,
            client_secret,
            authorize_endpoint,
            end_session_endpoint,
            verifier,
            stale: Default::default(),
        })
    }

    /// Server-to-IdP calls go where the ZITADEL client goes (for the embedded emulator: the
    /// loopback address, whatever the public URL is), not necessarily to the issuer's host.
    fn backchannel(&self, issuer: &str, url: &str) -> String {
        let base = self.zitadel.base_url().trim_end_matches('/');
        let issuer = issuer.trim_end_matches('/');
        match url.strip_prefix(issuer) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{base}{rest}"),
            _ => url.to_owned(),
        }
    }

    /// Creates the first platform admin in the embedded emulator's default organization, once
    /// per database, and returns its credentials to print. `Ok(None)` with a real ZITADEL, when
    /// the admin organization is not the emulator's, or when it was provisioned before.
    pub async fn provision_first_admin(
        &self,
        store: &dyn Store,
        clock: &dyn Clock,
    ) -> anyhow::Result<Option<AdminCredentials>> {
        let Some(org) = self.embedded_org.clone() else {
            return Ok(None);
        };
        if self.org_id.as_deref() != Some(org.as_str()) {
            return Ok(None);
        }
        if store.admin_user_provisioned().await? {
            return Ok(None);
        }
        let password = generate_password();
        let z = &self.zitadel;
        let found = z
            .find_user_by_username(&org, FIRST_ADMIN_USERNAME)
            .await
            .context("looking for the first platform admin in the embedded IdP")?;
        let user_id = match found {
            // Created by a start that did not get to record it: a new password, printed now.
            Some(user) => {
                z.set_password(
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
                .context("setting the first platform admin's password")?;
                user.user_id
            }
            None => {
                z.create_human_user(&AddHumanUserRequest {
                    username: Some(FIRST_ADMIN_USERNAME.into()),
                    organization: Some(OrganizationRef::OrgId(org.clone())),
                    profile: SetHumanProfile {
                        given_name: "Platform".into(),
                        family_name: "Admin".into(),
                        display_name: Some("Platform Admin".into()),
                        ..Default::default()
                    },
                    email: SetHumanEmail {
                        email: "admin@gatehouse.invalid".into(),
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
                .context("creating the first platform admin in the embedded IdP")?
                .user_id
            }
        };
        // Not audited: like the bootstrap credential's issue this is installation; the server
        // log records it.
        store.mark_admin_user_provisioned(clock.now()).await?;
        tracing::info!(%user_id, org_id = %org, "created the first platform admin in the embedded IdP");
        Ok(Some(AdminCredentials {
            login_name: FIRST_ADMIN_USERNAME.into(),
            password,
        }))
    }
}

/// Starts admin sign-in once the server is serving (the embedded emulator is reached over the
/// server's own listener): registers the OIDC client in the background, waits briefly for it,
/// and provisions the first platform admin of the embedded IdP. Never fails the start: an IdP
/// that is down only delays admin sign-in (the API keys keep working).
pub async fn start(
    state: &AppState,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> Option<AdminCredentials> {
    let auth = state.admin.clone();
    auth.spawn_registration(
        state.store.clone(),
        state.keyring.clone(),
        state.clock.clone(),
        shutdown.clone(),
        tasks,
    );
    // A real ZITADEL may be slow or down: its sign-in gets ready in the background. The
    // embedded emulator answers at once; its first admin is created here, before the workers
    // start and so before the Actions target exists: installation raises no user event, like
    // the emulator's own first-instance setup.
    if auth.org_id().is_none() || auth.embedded_org.is_none() {
        return None;
    }
    if !auth.wait_ready(crate::INLINE_SYNC_TIMEOUT).await {
        tracing::warn!("admin sign-in is not ready yet; it keeps trying in the background");
    }
    match tokio::time::timeout(
        Duration::from_secs(15),
        auth.provision_first_admin(state.store.as_ref(), state.clock.as_ref()),
    )
    .await
    {
        Ok(Ok(credentials)) => credentials,
        Ok(Err(err)) => {
            tracing::warn!(error = %format!("{err:#}"), "could not create the first platform admin in the embedded IdP; retrying at the next start");
            None
        }
        Err(_) => {
            tracing::warn!(
                "creating the first platform admin timed out; retrying at the next start"
            );
            None
        }
    }
}

fn http_client(settings: &Settings) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
        // A redirect from the token or JWKS endpoint is a misconfiguration, never followed.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(IDP_TIMEOUT);
    match &settings.zitadel {
        // Loopback to the embedded emulator: no proxy from the environment may capture it.
        ZitadelTarget::Embedded => builder = builder.no_proxy(),
        ZitadelTarget::External { .. } => {
            builder = builder.min_tls_version(reqwest::tls::Version::TLS_1_2);
            if let Some(path) = &settings.ca_bundle {
                let pem = std::fs::read(path)
                    .with_context(|| format!("reading ca_bundle {}", path.display()))?;
                for certificate in reqwest::Certificate::from_pem_bundle(&pem)
                    .with_context(|| format!("ca_bundle {} is not a PEM bundle", path.display()))?
                {
                    builder = builder.add_root_certificate(certificate);
                }
            }
        }
    }
    builder
        .build()
        .context("building the HTTP client for admin sign-in")
}

/// 24 random letters and digits in three groups (~143 bits), with an upper-case letter, a
/// lower-case letter, a digit and a symbol, as ZITADEL's default password policy wants.
fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    loop {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let chars: Vec<char> = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
            .collect();
        let has = |f: fn(&char) -> bool| chars.iter().any(f);
        if has(char::is_ascii_uppercase)
            && has(char::is_ascii_lowercase)
            && has(char::is_ascii_digit)
        {
            let groups: Vec<String> = chars.chunks(8).map(|c| c.iter().collect()).collect();
            return groups.join("-");
        }
    }
}

// ---- cookies ----

/// The value of cookie `name` in the request, if any (the first one when repeated).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// The session cookie's value, if the request carries one (either name).
pub fn session_cookie_value(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SECURE_SESSION_COOKIE).or_else(|| cookie(headers, SESSION_COOKIE))
}

fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> HeaderValue {
    let mut text = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        max_age.as_secs()
    );
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).expect("cookie values are base64url or sealed text")
}

fn clear_cookie(name: &str, secure: bool) -> HeaderValue {
    set_cookie(name, "", Duration::ZERO, secure)
}

/// `bytes` random bytes, base64url without padding (state, nonce, PKCE verifier, ids).
pub fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn ct_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

// ---- authentication of API requests ----

/// What the cookie path of [`Authenticated`] learned, kept in the request's extensions for
/// `/v1/me`.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub email: Option<String>,
    pub org_id: String,
    pub expires_at: Timestamp,
}

/// Authenticates a request by its session cookie. `Ok(None)`: no session cookie. A cookie that
/// names no live session is 401; a cookie-authenticated change without the portal's header or
/// from another origin is 403.
pub async fn authenticate(
    parts: &mut Parts,
    state: &AppState,
) -> Result<Option<Principal>, ApiError> {
    let Some(id) = session_cookie_value(&parts.headers) else {
        return Ok(None);
    };
    let hash = gatehouse_core::api_key::hash_token(id);
    let now = state.clock.now();
    let auth = &state.admin;
    let session = state
        .store
        .find_admin_session(&hash)
        .await?
        .filter(|s| s.is_active(now, auth.idle))
        .ok_or_else(|| {
            ApiError::unauthorized("your session has ended; sign in again at /admin/login")
        })?;
    check_csrf(parts, auth)?;
    if now >= session.last_seen_at.plus(TOUCH_INTERVAL)
        && let Err(err) = state.store.touch_admin_session(&hash, now).await
    {
        tracing::warn!(error = %err, "could not record an admin session's use");
    }
    parts.extensions.insert(SessionInfo {
        email: session.email.clone(),
        org_id: session.org_id.clone(),
        expires_at: session.expires_at.min(now.plus(auth.idle)),
    });
    Ok(Some(Principal::Admin {
        user_id: session.user_id,
        name: session.name,
    }))
}

/// CSRF defence for cookie-authenticated requests that change something.
fn check_csrf(parts: &Parts, auth: &AdminAuth) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    check_unsafe_request(&parts.headers, auth)
}

fn check_unsafe_request(headers: &HeaderMap, auth: &AdminAuth) -> Result<(), ApiError> {
    let portal = headers
        .get(CLIENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(PORTAL_CLIENT));
    if !portal {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_check_failed",
            "changes made with a session cookie must come from the portal (X-Gatehouse-Client: portal); automation should use an API key",
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if !same_origin(origin, &auth.public, host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_check_failed",
                "the request comes from another origin",
            ));
        }
    }
    Ok(())
}

/// `origin` is the public URL's origin, or names the host the request was sent to (TLS may end
/// at a proxy, so the scheme of the latter is not compared).
fn same_origin(origin: &str, public: &Url, host: Option<&str>) -> bool {
    if origin == public.origin().ascii_serialization() {
        return true;
    }
    let Ok(origin) = Url::parse(origin) else {
        return false;
    };
    let Some(origin_host) = origin.host_str() else {
        return false;
    };
    let authority = match origin.port() {
        Some(port) => format!("{origin_host}:{port}"),
        None => origin_host.to_owned(),
    };
    host.is_some_and(|h| h.eq_ignore_ascii_case(&authority))
}

// ---- routes ----

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .route(LOGIN_PATH, get(login))
        .route(CALLBACK_PATH, get(callback))
        .route(LOGOUT_PATH, post(logout))
}

/// Who is calling.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `admin` (signed in through the IdP), `api_key` or `system`.
    pub kind: String,
    /// The admin's user id at the IdP, or the API key's id.
    pub id: String,
    pub name: Option<String>,
    /// Whether the caller may manage every tenant.
    pub platform: bool,
    /// The tenant a tenant-scoped API key is confined to.
    pub tenant_id: Option<TenantId>,
    /// Session callers: the admin's email, when the IdP sent one.
    pub email: Option<String>,
    /// Session callers: the admin organization.
    pub org_id: Option<String>,
    /// Session callers: when the session ends unless used again (or at its lifetime).
    pub session_expires_at: Option<Timestamp>,
}

/// The caller: an admin signed in to the portal, or an API key.
#[utoipa::path(get, path = "/v1/me", tag = "auth",
    responses((status = 200, description = "The caller", body = Me)))]
async fn me(
    Authenticated(principal): Authenticated,
    session: Option<axum::Extension<SessionInfo>>,
) -> Json<Me> {
    let session = session.map(|axum::Extension(s)| s);
    let platform = principal.is_platform();
    let tenant_id = principal.tenant_scope().cloned();
    let actor = principal.actor();
    let kind = match principal {
        Principal::Admin { .. } => "admin",
        Principal::PlatformKey { .. } | Principal::TenantKey { .. } => "api_key",
        Principal::System { .. } => "system",
    };
    Json(Me {
        kind: kind.into(),
        id: actor.id,
        name: actor.name,
        platform,
        tenant_id,
        email: session.as_ref().and_then(|s| s.email.clone()),
        org_id: session.as_ref().map(|s| s.org_id.clone()),
        session_expires_at: session.map(|s| s.expires_at),
    })
}

/// What the login cookie carries through the IdP round trip (sealed).
#[derive(Serialize, Deserialize)]
struct LoginState {
    state: String,
    nonce: String,
    verifier: String,
    return_to: String,
    /// Unix milliseconds after which the sign-in must be started again.
    expires: i64,
}

fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A single-valued query parameter; repeated ones are refused.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut found = params.iter().filter(|(k, _)| k == name);
    let first = found.next().map(|(_, v)| v.as_str());
    if found.next().is_some() {
        return Err(format!("`{name}` must not be repeated"));
    }
    Ok(first)
}

/// Only paths of the portal are accepted, so the parameter cannot send the admin elsewhere.
fn valid_return_to(path: &str) -> bool {
    (path == "/admin" || path.starts_with(PORTAL_PATH))
        && path.len() <= 1024
        && !path.contains("//")
        && !path.contains('\\')
        && !path.contains("/../")
        && !path.ends_with("/..")
        && path.chars().all(|c| c.is_ascii_graphic())
}

/// `GET /admin/login[?return_to=/admin/…]`: starts a sign-in at the IdP.
async fn login(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let auth = &state.admin;
    let client = match auth.current() {
        Ok(client) => client,
        Err(reason) => {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable",
                &reason,
                false,
            );
        }
    };
    let params = query_params(query.as_deref());
    let return_to = match param(&params, "return_to") {
        Ok(None) => PORTAL_PATH.to_owned(),
        Ok(Some(path)) if valid_return_to(path) => path.to_owned(),
        Ok(Some(_)) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Sign-in refused",
                "return_to must be a path of the portal (starting with /admin/).",
                true,
            );
        }
        Err(message) => return page(StatusCode::BAD_REQUEST, "Sign-in refused", &message, true),
    };
    let Some(org) = auth.org_id() else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is unavailable",
            "admin sign-in is off",
            false,
        );
    };
    let login = LoginState {
        state: random_b64(32),
        nonce: random_b64(32),
        verifier: random_b64(32),
        return_to,
        expires: state.clock.now().plus(LOGIN_STATE_LIFETIME).unix_millis(),
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(login.verifier.as_bytes()));
    let mut target = client.authorize_endpoint.clone();
    target
        .query_pairs_mut()
        .append_pair("client_id", &client.client_id)
        .append_pair("redirect_uri", &auth.redirect_uri())
        .append_pair("response_type", "code")
        .append_pair(
            "scope",
            &format!("openid profile email {RESOURCE_OWNER_SCOPE} {ORG_SCOPE_PREFIX}{org}"),
        )
        .append_pair("state", &login.state)
        .append_pair("nonce", &login.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let sealed = state.keyring.seal(
        &serde_json::to_vec(&login).expect("login state serializes"),
        LOGIN_STATE_AAD,
    );
    let mut response = see_other(target.as_str());
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            auth.login_cookie(),
            sealed.as_str(),
            LOGIN_STATE_LIFETIME,
            auth.secure,
        ),
    );
    response
}

/// Why a callback was refused: the status, the admin-facing text, and what is logged.
struct Refusal {
    status: StatusCode,
    message: String,
    log: Option<String>,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            log: None,
        }
    }

    fn logged(mut self, cause: impl std::fmt::Display) -> Self {
        self.log = Some(cause.to_string());
        self
    }
}

/// `GET /admin/callback`: finishes a sign-in.
async fn callback(
    State(state): State<AppState>,
    RequestContext(context): RequestContext,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let auth = state.admin.clone();
    let mut response = match finish_sign_in(&state, &context, &headers, query.as_deref()).await {
        Ok((session_id, return_to)) => {
            let mut response = see_other(&return_to);
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(
                    auth.session_cookie(),
                    &session_id,
                    auth.lifetime,
                    auth.secure,
                ),
            );
            response
        }
        Err(refusal) => {
            if let Some(cause) = &refusal.log {
                tracing::warn!(status = %refusal.status, %cause, "admin sign-in refused");
            }
            page(refusal.status, "Sign-in failed", &refusal.message, true)
        }
    };
    // The login state is single use, whatever the outcome.
    response.headers_mut().append(
        header::SET_COOKIE,
        clear_cookie(auth.login_cookie(), auth.secure),
    );
    response
}

async fn finish_sign_in(
    state: &AppState,
    context: &AuditContext,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(String, String), Refusal> {
    let auth = &state.admin;
    let client = auth
        .current()
        .map_err(|reason| Refusal::new(StatusCode::SERVICE_UNAVAILABLE, reason))?;
    let restart = "Start the sign-in again.";
    let cookie = cookie(headers, auth.login_cookie()).ok_or_else(|| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("This sign-in was not started in this browser, or it has expired. {restart}"),
        )
    })?;
    let opened = state
        .keyring
        .open(
            &gatehouse_core::secret::Sealed::from_stored(cookie.to_owned()),
            LOGIN_STATE_AAD,
        )
        .map_err(|e| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("The sign-in state is invalid. {restart}"),
            )
            .logged(format!("login cookie: {e}"))
        })?;
    let login: LoginState = serde_json::from_slice(&opened).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("The sign-in state is invalid. {restart}"),
        )
        .logged(format!("login cookie: {e}"))
    })?;
    let now = state.clock.now();
    if now.unix_millis() >= login.expires {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("The sign-in took too long and expired. {restart}"),
        ));
    }
    let params = query_params(query);
    let get =
        |name: &str| param(&params, name).map_err(|m| Refusal::new(StatusCode::BAD_REQUEST, m));
    let state_param = get("state")?.unwrap_or_default();
    if !ct_eq(state_param, &login.state) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("The sign-in answer does not belong to the sign-in started in this browser. {restart}"),
        )
        .logged("state mismatch"));
    }
    // RFC 9207: when the IdP names itself, it must be ours.
    if let Some(iss) = get("iss")?
        && iss != client.issuer
    {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "The answer comes from another identity provider.",
        )
        .logged(format!("iss parameter {iss:?}")));
    }
    if let Some(error) = get("error")? {
        let description = get("error_description")?.unwrap_or_default();
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "The identity provider did not sign you in: {error}{}{description}",
                if description.is_empty() { "" } else { ": " }
            ),
        ));
    }
    let code = get("code")?.filter(|c| !c.is_empty()).ok_or_else(|| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "The answer has no authorization code.",
        )
    })?;

    let id_token = exchange_code(auth, &client, code, &login.verifier).await?;
    let verified = client.verifier.verify(&id_token).await.map_err(|e| {
        let status = if e.is_unavailable() {
            StatusCode::BAD_GATEWAY
        } else {
            StatusCode::UNAUTHORIZED
        };
        Refusal::new(status, "The identity provider's ID token did not verify.")
            .logged(format!("ID token: {e}"))
    })?;
    let claims = &verified.claims;
    if !claims
        .nonce
        .as_deref()
        .is_some_and(|n| ct_eq(n, &login.nonce))
    {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "The ID token does not belong to this sign-in.",
        )
        .logged("nonce mismatch"));
    }
    // OIDC Core 3.1.3.7: with several audiences, `azp` must name this client.
    if claims.aud.len() > 1 && claims.azp.as_deref() != Some(client.client_id.as_str()) {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "The ID token was issued to another client.",
        )
        .logged(format!("azp {:?}", claims.azp)));
    }
    let user_id = claims
        .sub
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Refusal::new(StatusCode::UNAUTHORIZED, "The ID token names no user."))?;
    let name = display_name(claims);
    let org_id = claims
        .get(ORG_CLAIM)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let admin_org = auth.org_id().unwrap_or_default();
    let principal = Principal::Admin {
        user_id: user_id.clone(),
        name: name.clone(),
    };
    if org_id != admin_org {
        let change = Change::new("admin.sign_in_refused", &principal, context, None, now)
            .meta("reason", "not_in_admin_org")
            .meta("org_id", org_id);
        if let Err(e) = state.store.record_admin_audit(&change).await {
            tracing::error!(error = %e, "could not audit a refused admin sign-in");
        }
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "You signed in, but your account is not a member of Gatehouse's admin organization. Ask a platform admin for access.",
        )
        .logged(format!("user {user_id} of organization {org_id:?} is not in the admin organization")));
    }

    let session_id = random_b64(32);
    let hash = gatehouse_core::api_key::hash_token(&session_id);
    let session = AdminSession {
        user_id: user_id.clone(),
        name: name.clone(),
        email: claims.email.clone(),
        org_id: org_id.to_owned(),
        id_token: Some(
            state
                .keyring
                .seal(id_token.as_bytes(), AdminSession::ID_TOKEN_AAD),
        ),
        created_at: now,
        expires_at: now.plus(auth.lifetime),
        last_seen_at: now,
    };
    let change = Change::new("admin.signed_in", &principal, context, None, now)
        .target(Target::new(
            "admin_session",
            hex::encode(&hash[..8]),
            Some(&name),
        ))
        .meta("method", "oidc")
        .meta("org_id", org_id);
    state
        .store
        .insert_admin_session(&hash, &session, &change)
        .await
        .map_err(|e| {
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The session could not be saved; try again.",
            )
            .logged(e)
        })?;
    Ok((session_id, login.return_to))
}

fn display_name(claims: &gatehouse_jwks::Claims) -> String {
    claims
        .name
        .clone()
        .or_else(|| claims.preferred_username.clone())
        .or_else(|| claims.email.clone())
        .or_else(|| claims.sub.clone())
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

/// The code exchange; an `invalid_client` answer marks the registration for a re-check.
async fn exchange_code(
    auth: &AdminAuth,
    client: &Client,
    code: &str,
    verifier: &str,
) -> Result<String, Refusal> {
    let redirect_uri = auth.redirect_uri();
    let exchange = CodeExchange {
        token_endpoint: &client.token_endpoint,
        client_id: &client.client_id,
        client_secret: &client.client_secret,
        code,
        redirect_uri: &redirect_uri,
        code_verifier: verifier,
    };
    match gatehouse_jwks::code::exchange_code(&auth.http, exchange).await {
        Ok(tokens) => Ok(tokens.id_token),
        Err(err) => {
            if err.is_invalid_client() {
                // The app was changed or removed in ZITADEL: re-check the registration.
                client
                    .stale
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let message = match err {
                ExchangeError::Unreachable(_) => {
                    "The identity provider could not be reached; try again."
                }
                ExchangeError::Refused { .. } => {
                    "The identity provider refused to complete the sign-in. Start it again."
                }
                ExchangeError::NoIdToken => "The identity provider sent no ID token.",
            };
            Err(Refusal::new(StatusCode::BAD_GATEWAY, message).logged(err.to_string()))
        }
    }
}

#[derive(Serialize)]
struct LoggedOut {
    signed_out: bool,
    /// Where to send the browser to end the IdP's own session too.
    end_session_url: Option<String>,
}

/// `POST /admin/logout`: ends the session. JSON callers (the portal) get where to go next;
/// others are redirected there.
async fn logout(
    State(state): State<AppState>,
    RequestContext(context): RequestContext,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let auth = &state.admin;
    check_unsafe_request(&headers, auth)?;
    let mut id_token = None;
    let mut signed_out = false;
    if let Some(id) = session_cookie_value(&headers) {
        let hash = gatehouse_core::api_key::hash_token(id);
        if let Some(session) = state.store.find_admin_session(&hash).await? {
            let now = state.clock.now();
            let principal = Principal::Admin {
                user_id: session.user_id.clone(),
                name: session.name.clone(),
            };
            let change = Change::new("admin.signed_out", &principal, &context, None, now).target(
                Target::new(
                    "admin_session",
                    hex::encode(&hash[..8]),
                    Some(&session.name),
                ),
            );
            signed_out = state.store.end_admin_session(&hash, &change).await?;
            id_token = session.id_token.and_then(|t| {
                state
                    .keyring
                    .open_string(&t, AdminSession::ID_TOKEN_AAD)
                    .ok()
            });
        }
    }
    let end_session_url = auth.current().ok().and_then(|client| {
        let mut url = client.end_session_endpoint.clone()?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(hint) = &id_token {
                query.append_pair("id_token_hint", hint);
            }
            query
                .append_pair("client_id", &client.client_id)
                .append_pair("post_logout_redirect_uri", &auth.post_logout_redirect_uri());
        }
        Some(url.to_string())
    });
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let mut response = if wants_json {
        Json(LoggedOut {
            signed_out,
            end_session_url,
        })
        .into_response()
    } else {
        see_other(end_session_url.as_deref().unwrap_or(PORTAL_PATH))
    };
    response.headers_mut().append(
        header::SET_COOKIE,
        clear_cookie(auth.session_cookie(), auth.secure),
    );
    Ok(response)
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => ApiError::internal("redirect target is not a header value").into_response(),
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A small HTML page for the browser-facing errors (no script, no style, nothing external).
fn page(status: StatusCode, title: &str, message: &str, retry: bool) -> Response {
    let retry = if retry {
        format!("<p><a href=\"{LOGIN_PATH}\">Sign in again</a></p>")
    } else {
        String::new()
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Gatehouse</title></head>\
         <body><main><h1>{title}</h1><p>{message}</p>{retry}<p><a href=\"{PORTAL_PATH}\">Back to the portal</a></p></main></body></html>",
        title = escape(title),
        message = escape(message),
    );
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = headers(&[
            (
                "cookie",
                "a=1; gatehouse_session_x=no; gatehouse_session=abc",
            ),
            ("cookie", "gatehouse_session=later"),
        ]);
        assert_eq!(session_cookie_value(&h), Some("abc"));
        let h = headers(&[(
            "cookie",
            "__Host-gatehouse_session=sec; gatehouse_session=plain",
        )]);
        assert_eq!(session_cookie_value(&h), Some("sec"));
        assert_eq!(
            session_cookie_value(&headers(&[("cookie", "gatehouse_session=")])),
            None
        );
        assert_eq!(session_cookie_value(&HeaderMap::new()), None);
    }

    #[test]
    fn set_cookie_attributes() {
        let c = set_cookie(
            "__Host-gatehouse_session",
            "v",
            Duration::from_secs(60),
            true,
        );
        assert_eq!(
            c.to_str().unwrap(),
            "__Host-gatehouse_session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        let c = clear_cookie("gatehouse_session", false);
        assert_eq!(
            c.to_str().unwrap(),
            "gatehouse_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }

    #[test]
    fn origins_must_be_the_public_url_or_the_requested_host() {
        let public = Url::parse("https://gh.example.com/").unwrap();
        assert!(same_origin("https://gh.example.com", &public, None));
        assert!(same_origin(
            "http://127.0.0.1:8080",
            &public,
            Some("127.0.0.1:8080")
        ));
        assert!(!same_origin(
            "https://evil.example",
            &public,
            Some("gh.example.com")
        ));
        assert!(!same_origin(
            "https://gh.example.com.evil.example",
            &public,
            None
        ));
        assert!(!same_origin("null", &public, Some("gh.example.com")));
        assert!(!same_origin(
            "http://127.0.0.1:9999",
            &public,
            Some("127.0.0.1:8080")
        ));
    }

    #[test]
    fn return_to_stays_in_the_portal() {
        for ok in ["/admin", "/admin/", "/admin/tenants/ten_1?x=1"] {
            assert!(valid_return_to(ok), "{ok}");
        }
        for bad in [
            "https://evil.example/admin/",
            "//evil.example/admin/",
            "/admin//evil.example",
            "/admin/../v1/tenants",
            "/admin/..",
            "/v1/tenants",
            "/administrator",
            "/admin/\\evil",
            "/admin/ x",
        ] {
            assert!(!valid_return_to(bad), "{bad}");
        }
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let p = query_params(Some("state=a&state=b&code=c"));
        assert!(param(&p, "state").is_err());
        assert_eq!(param(&p, "code").unwrap(), Some("c"));
        assert_eq!(param(&p, "iss").unwrap(), None);
    }

    #[test]
    fn generated_passwords_meet_the_default_policy() {
        for _ in 0..50 {
            let p = generate_password();
            assert_eq!(p.len(), 26);
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.contains('-'));
        }
        assert_ne!(generate_password(), generate_password());
    }

    #[test]
    fn display_names_prefer_the_name_claim() {
        let claims = |raw: serde_json::Value| {
            let mut c = gatehouse_jwks::Claims {
                iss: "i".into(),
                sub: Some("42".into()),
                aud: vec![],
                exp: 0,
                nbf: None,
                iat: None,
                jti: None,
                azp: None,
                client_id: None,
                scope: None,
                nonce: None,
                sid: None,
                auth_time: None,
                amr: vec![],
                email: None,
                email_verified: None,
                name: None,
                preferred_username: None,
                raw: serde_json::Map::new(),
            };
            c.name = raw["name"].as_str().map(str::to_owned);
            c.email = raw["email"].as_str().map(str::to_owned);
            c
        };
        assert_eq!(
            display_name(&claims(serde_json::json!({"name": "Ada", "email": "a@x"}))),
            "Ada"
        );
        assert_eq!(
            display_name(&claims(serde_json::json!({"email": "a@x"}))),
            "a@x"
        );
        assert_eq!(display_name(&claims(serde_json::json!({}))), "42");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
