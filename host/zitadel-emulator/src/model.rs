//! The emulator's state. [`Data`] is persisted as one JSON document through
//! `EmulatorStateStore`; [`Ephemeral`] (auth requests, codes, sessions) lives in memory only.
//!
//! Secrets are never stored in clear where the emulator does not need them: passwords are
//! argon2id hashes, client secrets, PATs, tokens and IdP client secrets are SHA-256 hashes
//! (they are high-entropy random values, so a fast hash is enough). What must stay usable is
//! kept as is: web-key private keys (to sign tokens) and Actions signing keys (HMAC keys).

use std::collections::{BTreeMap, HashMap};

use gatehouse_core::Timestamp;
use serde::{Deserialize, Serialize};

/// Bumped when the document layout changes incompatibly.
pub const STATE_VERSION: u32 = 1;

/// Creation/change bookkeeping every ZITADEL object carries (`details`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Meta {
    pub sequence: u64,
    pub created: Timestamp,
    pub changed: Timestamp,
    pub owner: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Data {
    pub version: u32,
    pub instance_id: String,
    /// The instance's event sequence; every mutation takes the next number.
    pub sequence: u64,
    pub default_org_id: String,
    /// Id of the project standing for ZITADEL's own API (`…:project:id:zitadel:aud`).
    pub zitadel_project_id: String,
    pub admin_user_id: String,
    pub orgs: BTreeMap<String, Org>,
    pub projects: BTreeMap<String, Project>,
    pub apps: BTreeMap<String, App>,
    pub idps: BTreeMap<String, Idp>,
    pub users: BTreeMap<String, User>,
    /// Instance-level roles (`IAM_OWNER`, `IAM_LOGIN_CLIENT`) by user id.
    pub instance_members: BTreeMap<String, Vec<String>>,
    pub targets: BTreeMap<String, Target>,
    pub executions: Vec<Execution>,
    pub web_keys: Vec<WebKey>,
    /// Bearer credentials by SHA-256 hex of the token text.
    pub tokens: BTreeMap<String, Token>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrgState {
    Active,
    Inactive,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub state: OrgState,
    pub primary_domain: String,
    pub meta: Meta,
    /// The org's custom login policy and its bookkeeping; `None` = the instance default applies.
    pub login_policy: Option<(LoginPolicy, Meta)>,
    /// Org roles (`ORG_OWNER`) by user id.
    pub members: BTreeMap<String, Vec<String>>,
}

/// A custom login policy; field names and value shapes are the v1 API's.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginPolicy {
    pub allow_username_password: bool,
    pub allow_register: bool,
    pub allow_external_idp: bool,
    pub force_mfa: bool,
    pub passwordless_type: Option<String>,
    pub hide_password_reset: bool,
    pub ignore_unknown_usernames: bool,
    pub default_redirect_uri: String,
    pub password_check_lifetime: Option<String>,
    pub external_login_check_lifetime: Option<String>,
    pub mfa_init_skip_lifetime: Option<String>,
    pub second_factor_check_lifetime: Option<String>,
    pub multi_factor_check_lifetime: Option<String>,
    pub second_factors: Vec<String>,
    pub multi_factors: Vec<String>,
    pub allow_domain_discovery: bool,
    pub disable_login_with_email: bool,
    pub disable_login_with_phone: bool,
    pub force_mfa_local_only: bool,
    /// IdPs attached to the policy, in the order they were added.
    pub idps: Vec<PolicyIdp>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyIdp {
    pub idp_id: String,
    /// `IDP_OWNER_TYPE_ORG` or `IDP_OWNER_TYPE_SYSTEM`.
    pub owner_type: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub role_assertion: bool,
    pub role_check: bool,
    pub has_project_check: bool,
    pub private_labeling_setting: String,
    pub roles: BTreeMap<String, ProjectRole>,
    pub meta: Meta,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProjectRole {
    pub display_name: String,
    pub group: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppType {
    #[serde(rename = "OIDC_APP_TYPE_WEB")]
    Web,
    #[serde(rename = "OIDC_APP_TYPE_USER_AGENT")]
    UserAgent,
    #[serde(rename = "OIDC_APP_TYPE_NATIVE")]
    Native,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthMethod {
    #[serde(rename = "OIDC_AUTH_METHOD_TYPE_BASIC")]
    Basic,
    #[serde(rename = "OIDC_AUTH_METHOD_TYPE_POST")]
    Post,
    #[serde(rename = "OIDC_AUTH_METHOD_TYPE_NONE")]
    None,
    #[serde(rename = "OIDC_AUTH_METHOD_TYPE_PRIVATE_KEY_JWT")]
    PrivateKeyJwt,
}

impl AuthMethod {
    /// Whether ZITADEL issues a client secret for this method.
    pub fn has_secret(self) -> bool {
        matches!(self, Self::Basic | Self::Post)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseType {
    #[serde(rename = "OIDC_RESPONSE_TYPE_CODE")]
    Code,
    #[serde(rename = "OIDC_RESPONSE_TYPE_ID_TOKEN")]
    IdToken,
    #[serde(rename = "OIDC_RESPONSE_TYPE_ID_TOKEN_TOKEN")]
    IdTokenToken,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantType {
    #[serde(rename = "OIDC_GRANT_TYPE_AUTHORIZATION_CODE")]
    AuthorizationCode,
    #[serde(rename = "OIDC_GRANT_TYPE_IMPLICIT")]
    Implicit,
    #[serde(rename = "OIDC_GRANT_TYPE_REFRESH_TOKEN")]
    RefreshToken,
    #[serde(rename = "OIDC_GRANT_TYPE_DEVICE_CODE")]
    DeviceCode,
    #[serde(rename = "OIDC_GRANT_TYPE_TOKEN_EXCHANGE")]
    TokenExchange,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenType {
    #[serde(rename = "OIDC_TOKEN_TYPE_BEARER")]
    Bearer,
    #[serde(rename = "OIDC_TOKEN_TYPE_JWT")]
    Jwt,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OidcConfig {
    pub redirect_uris: Vec<String>,
    pub response_types: Vec<ResponseType>,
    pub grant_types: Vec<GrantType>,
    pub app_type: AppType,
    pub auth_method: AuthMethod,
    pub post_logout_redirect_uris: Vec<String>,
    pub dev_mode: bool,
    pub access_token_type: TokenType,
    pub access_token_role_assertion: bool,
    pub id_token_role_assertion: bool,
    pub id_token_userinfo_assertion: bool,
    /// Seconds, 0..=5.
    pub clock_skew_seconds: f64,
    pub additional_origins: Vec<String>,
    pub skip_native_app_success_page: bool,
    pub back_channel_logout_uri: String,
    /// `Some(base)` for apps that use a custom login UI (login v2).
    pub login_v2_base_uri: Option<String>,
    /// Whether `loginVersion.loginV1` was set explicitly (echoed back as `{}`).
    pub login_v1: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct App {
    pub id: String,
    pub project_id: String,
    pub org_id: String,
    pub name: String,
    pub client_id: String,
    pub client_secret_hash: Option<String>,
    pub oidc: OidcConfig,
    pub meta: Meta,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdpKind {
    Google,
    GitHub,
    AzureAd,
    GenericOidc,
}

impl IdpKind {
    pub fn provider_type(self) -> &'static str {
        match self {
            Self::Google => "PROVIDER_TYPE_GOOGLE",
            Self::GitHub => "PROVIDER_TYPE_GITHUB",
            Self::AzureAd => "PROVIDER_TYPE_AZURE_AD",
            Self::GenericOidc => "PROVIDER_TYPE_OIDC",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Idp {
    pub id: String,
    pub org_id: String,
    pub kind: IdpKind,
    pub name: String,
    pub client_id: String,
    pub client_secret_hash: String,
    pub scopes: Vec<String>,
    /// `providerOptions` as sent (protojson field names).
    pub options: serde_json::Value,
    /// Provider-specific extra fields (`issuer`, `tenant`, `emailVerified`, `usePkce`, …).
    pub extra: serde_json::Map<String, serde_json::Value>,
    pub meta: Meta,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserState {
    Active,
    Inactive,
    Locked,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub org_id: String,
    pub username: String,
    pub state: UserState,
    pub kind: UserKind,
    /// Project role grants: project id → grant.
    pub grants: BTreeMap<String, UserGrant>,
    pub meta: Meta,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserGrant {
    pub id: String,
    pub roles: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum UserKind {
    Human(Human),
    Machine(Machine),
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Human {
    pub given_name: String,
    pub family_name: String,
    pub nick_name: String,
    pub display_name: String,
    pub preferred_language: String,
    pub gender: String,
    pub email: String,
    pub email_verified: bool,
    pub phone: String,
    pub phone_verified: bool,
    pub password_hash: Option<String>,
    pub password_change_required: bool,
    pub password_changed: Option<Timestamp>,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    pub name: String,
    pub description: String,
    /// `ACCESS_TOKEN_TYPE_BEARER` or `ACCESS_TOKEN_TYPE_JWT`.
    pub access_token_type: String,
    pub keys: Vec<MachineKey>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MachineKey {
    pub id: String,
    /// PKCS#1 `RSAPublicKey` DER, base64.
    pub public_key_der: String,
    pub expiration: Option<Timestamp>,
    pub created: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenKind {
    Pat,
    Access,
    Refresh,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Token {
    pub id: String,
    pub kind: TokenKind,
    pub user_id: String,
    /// Empty for PATs and JWT-profile tokens.
    pub client_id: String,
    pub scopes: Vec<String>,
    pub audience: Vec<String>,
    pub issued: Timestamp,
    pub expires: Option<Timestamp>,
    pub session_id: Option<String>,
    pub auth_time: Option<Timestamp>,
    pub amr: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TargetKind {
    Webhook { interrupt_on_error: bool },
    Call { interrupt_on_error: bool },
    Async,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    pub id: String,
    pub name: String,
    pub kind: TargetKind,
    pub timeout_ms: u64,
    pub endpoint: String,
    /// HMAC key for `ZITADEL-Signature`; ZITADEL returns it on read, so it is kept as is.
    pub signing_key: String,
    pub payload_type: String,
    pub created: Timestamp,
    pub changed: Timestamp,
}

/// An execution condition in its v2 JSON shape, normalised (`{"event":{"event":"…"}}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Execution {
    pub condition: serde_json::Value,
    pub targets: Vec<String>,
    pub created: Timestamp,
    pub changed: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebKeyState {
    Initial,
    Active,
    Inactive,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WebKey {
    pub id: String,
    pub state: WebKeyState,
    pub config: crate::keys::KeyConfig,
    /// PKCS#8 DER of the private key, base64.
    pub pkcs8: String,
    pub created: Timestamp,
    pub changed: Timestamp,
    /// When the key stopped signing; it leaves the JWKS after the grace period.
    pub deactivated: Option<Timestamp>,
    /// The private key parsed, from its first signature on; shared by the state's copies,
    /// never persisted.
    #[serde(skip)]
    pub parsed: std::sync::Arc<std::sync::OnceLock<crate::keys::SigningKey>>,
}

impl WebKey {
    /// The parsed private key (parsed on first use).
    pub fn signing_key(&self) -> Result<&crate::keys::SigningKey, String> {
        if let Some(key) = self.parsed.get() {
            return Ok(key);
        }
        use base64::Engine;
        let pkcs8 = base64::engine::general_purpose::STANDARD
            .decode(&self.pkcs8)
            .map_err(|e| e.to_string())?;
        let key = crate::keys::SigningKey::parse(self.config, &pkcs8)?;
        Ok(self.parsed.get_or_init(|| key))
    }
}

// ---- ephemeral ----

#[derive(Clone, Debug, Default)]
pub struct Ephemeral {
    pub auth_requests: HashMap<String, AuthRequest>,
    /// Authorization codes by SHA-256 hex.
    pub codes: HashMap<String, CodeGrant>,
    pub sessions: HashMap<String, Session>,
}

#[derive(Clone, Debug)]
pub struct AuthRequest {
    pub id: String,
    pub created: Timestamp,
    pub client_id: String,
    pub app_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub ui_locales: Vec<String>,
    pub login_hint: Option<String>,
    pub max_age: Option<u64>,
    pub response_mode_fragment: bool,
    /// Org restriction from `urn:zitadel:iam:org:id:{id}`.
    pub org_id: Option<String>,
    /// Anti-CSRF token of the hosted login form.
    pub csrf: String,
    /// Set once the request has been answered (code issued or error returned).
    pub done: bool,
}

#[derive(Clone, Debug)]
pub struct CodeGrant {
    pub auth_request: AuthRequest,
    pub user_id: String,
    pub session_id: String,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    pub expires: Timestamp,
}

#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub token_hash: String,
    pub user_id: Option<String>,
    pub user_checked: Option<Timestamp>,
    pub password_checked: Option<Timestamp>,
    pub metadata: BTreeMap<String, String>,
    pub user_agent: Option<serde_json::Value>,
    pub created: Timestamp,
    pub changed: Timestamp,
    pub sequence: u64,
    pub expires: Option<Timestamp>,
    pub creator: String,
}
