//! Applications: an OIDC client of one tenant, mirrored as a ZITADEL project + OIDC application.

use serde::{Deserialize, Serialize};

use crate::{
    Error, Timestamp,
    id::{AppId, TenantId},
    redirect_uri,
    sync::SyncStatus,
    validate,
};

pub const MAX_REDIRECT_URIS: usize = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AppType {
    /// Server-side web app: confidential client with a client secret.
    Web,
    /// Single-page app: public client, PKCE.
    Spa,
    /// Native/mobile app: public client, PKCE, custom schemes allowed.
    Native,
}

impl AppType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Spa => "spa",
            Self::Native => "native",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "web" => Some(Self::Web),
            "spa" => Some(Self::Spa),
            "native" => Some(Self::Native),
            _ => None,
        }
    }

    /// Confidential clients authenticate with a secret.
    pub fn is_confidential(self) -> bool {
        self == Self::Web
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct App {
    pub id: AppId,
    pub tenant_id: TenantId,
    pub name: String,
    #[serde(rename = "type")]
    pub app_type: AppType,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Relaxes redirect-URI rules (http on any host, wildcards), like ZITADEL's devMode.
    pub dev_mode: bool,
    /// The OIDC client id, assigned by the IdP once the app is synced.
    pub client_id: Option<String>,
    /// Whether a client secret exists (it is never returned here).
    pub has_client_secret: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub sync: SyncStatus,
}

/// `POST /v1/tenants/{tenant_id}/apps`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateApp {
    pub name: String,
    #[serde(rename = "type")]
    pub app_type: AppType,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub dev_mode: bool,
}

/// `PATCH /v1/tenants/{tenant_id}/apps/{id}`: absent fields stay as they are; lists replace.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateApp {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub dev_mode: Option<bool>,
}

/// Validates both URI lists against the app's type and dev mode.
pub(crate) fn validate_uris(
    app_type: AppType,
    dev_mode: bool,
    redirect_uris: &[String],
    post_logout: &[String],
) -> Result<(Vec<String>, Vec<String>), Error> {
    let check = |field: &'static str, uris: &[String]| {
        validate::list(field, uris, MAX_REDIRECT_URIS, |f, v| {
            redirect_uri::validate(f, v, app_type, dev_mode)
        })
    };
    Ok((
        check("redirect_uris", redirect_uris)?,
        check("post_logout_redirect_uris", post_logout)?,
    ))
}
