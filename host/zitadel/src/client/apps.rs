//! OIDC applications of a project (management v1, `x-zitadel-orgid`).
//!
//! ZITADEL does not reject non-compliant redirect URIs when an app is saved: it answers
//! `noneCompliant: true` with `complianceProblems` and refuses them later, at
//! `/oauth/v2/authorize`. The client secret is returned only by create (for BASIC/POST auth) and
//! by regenerate.

use serde::{Deserialize, Serialize};

use super::{
    Call, Empty, ListDetails, ListQuery, NameQuery, ObjectDetails, ProtoDuration, Result, Secret,
    Updated, ZitadelClient, ZitadelError, projects::DetailsOnly, segment, wire::proto_enum,
};

proto_enum! {
    pub enum OidcResponseType {
        Code = "OIDC_RESPONSE_TYPE_CODE",
        IdToken = "OIDC_RESPONSE_TYPE_ID_TOKEN",
        IdTokenToken = "OIDC_RESPONSE_TYPE_ID_TOKEN_TOKEN",
    }
}

proto_enum! {
    pub enum OidcGrantType {
        AuthorizationCode = "OIDC_GRANT_TYPE_AUTHORIZATION_CODE",
        Implicit = "OIDC_GRANT_TYPE_IMPLICIT",
        RefreshToken = "OIDC_GRANT_TYPE_REFRESH_TOKEN",
        DeviceCode = "OIDC_GRANT_TYPE_DEVICE_CODE",
        TokenExchange = "OIDC_GRANT_TYPE_TOKEN_EXCHANGE",
    }
}

proto_enum! {
    pub enum OidcAppType default Web {
        /// Server-side web app (confidential).
        Web = "OIDC_APP_TYPE_WEB",
        /// Browser app (public, PKCE).
        UserAgent = "OIDC_APP_TYPE_USER_AGENT",
        /// Native / mobile app (public, PKCE, custom schemes).
        Native = "OIDC_APP_TYPE_NATIVE",
    }
}

proto_enum! {
    pub enum OidcAuthMethodType default Basic {
        /// Client secret in HTTP Basic auth.
        Basic = "OIDC_AUTH_METHOD_TYPE_BASIC",
        /// Client secret in the form body.
        Post = "OIDC_AUTH_METHOD_TYPE_POST",
        /// Public client (PKCE).
        None = "OIDC_AUTH_METHOD_TYPE_NONE",
        PrivateKeyJwt = "OIDC_AUTH_METHOD_TYPE_PRIVATE_KEY_JWT",
    }
}

proto_enum! {
    pub enum OidcVersion {
        V1_0 = "OIDC_VERSION_1_0",
    }
}

proto_enum! {
    pub enum OidcTokenType {
        /// Opaque access tokens (need introspection).
        Bearer = "OIDC_TOKEN_TYPE_BEARER",
        /// JWT access tokens (verifiable offline).
        Jwt = "OIDC_TOKEN_TYPE_JWT",
    }
}

proto_enum! {
    pub enum AppState default Unspecified {
        Unspecified = "APP_STATE_UNSPECIFIED",
        Active = "APP_STATE_ACTIVE",
        Inactive = "APP_STATE_INACTIVE",
    }
}

/// Which login UI the app sends users to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginVersion {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_v1: Option<Empty>,
    /// A custom login UI: ZITADEL redirects to `{baseUri}/login?authRequest=V2_…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_v2: Option<LoginV2>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginV2 {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_uri: Option<String>,
}

/// The settable OIDC configuration. On update every field is replaced (lists too), so an update
/// starts from the current configuration ([`OidcAppSettings::from`] an [`OidcConfig`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcAppSettings {
    pub redirect_uris: Vec<String>,
    pub response_types: Vec<OidcResponseType>,
    pub grant_types: Vec<OidcGrantType>,
    pub app_type: OidcAppType,
    pub auth_method_type: OidcAuthMethodType,
    pub post_logout_redirect_uris: Vec<String>,
    /// Relaxes redirect-URI rules (http anywhere, globs).
    pub dev_mode: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_type: Option<OidcTokenType>,
    pub access_token_role_assertion: bool,
    pub id_token_role_assertion: bool,
    pub id_token_userinfo_assertion: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_skew: Option<ProtoDuration>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_origins: Vec<String>,
    pub skip_native_app_success_page: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub back_channel_logout_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_version: Option<LoginVersion>,
}

impl From<&OidcConfig> for OidcAppSettings {
    fn from(config: &OidcConfig) -> Self {
        Self {
            redirect_uris: config.redirect_uris.clone(),
            response_types: config.response_types.clone(),
            grant_types: config.grant_types.clone(),
            app_type: config.app_type.clone(),
            auth_method_type: config.auth_method_type.clone(),
            post_logout_redirect_uris: config.post_logout_redirect_uris.clone(),
            dev_mode: config.dev_mode,
            access_token_type: config.access_token_type.clone(),
            access_token_role_assertion: config.access_token_role_assertion,
            id_token_role_assertion: config.id_token_role_assertion,
            id_token_userinfo_assertion: config.id_token_userinfo_assertion,
            clock_skew: config.clock_skew,
            additional_origins: config.additional_origins.clone(),
            skip_native_app_success_page: config.skip_native_app_success_page,
            back_channel_logout_uri: config.back_channel_logout_uri.clone(),
            login_version: config.login_version.clone(),
        }
    }
}

/// `POST /management/v1/projects/{projectId}/apps/oidc`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddOidcAppRequest {
    /// 1..200 characters, unique in the project.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<OidcVersion>,
    #[serde(flatten)]
    pub settings: OidcAppSettings,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ComplianceProblem {
    pub key: String,
    pub localized_message: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AddOidcAppResponse {
    pub app_id: String,
    pub details: Option<ObjectDetails>,
    pub client_id: String,
    /// Only for BASIC/POST auth; shown once.
    pub client_secret: Option<Secret>,
    /// Redirect URIs that will be refused at authorize time (ZITADEL spells it `none`).
    pub none_compliant: bool,
    pub compliance_problems: Vec<ComplianceProblem>,
}

/// The OIDC configuration as ZITADEL reports it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OidcConfig {
    pub redirect_uris: Vec<String>,
    pub response_types: Vec<OidcResponseType>,
    pub grant_types: Vec<OidcGrantType>,
    pub app_type: OidcAppType,
    pub client_id: String,
    pub auth_method_type: OidcAuthMethodType,
    pub post_logout_redirect_uris: Vec<String>,
    pub version: Option<OidcVersion>,
    pub none_compliant: bool,
    pub compliance_problems: Vec<ComplianceProblem>,
    pub dev_mode: bool,
    pub access_token_type: Option<OidcTokenType>,
    pub access_token_role_assertion: bool,
    pub id_token_role_assertion: bool,
    pub id_token_userinfo_assertion: bool,
    pub clock_skew: Option<ProtoDuration>,
    pub additional_origins: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub skip_native_app_success_page: bool,
    pub back_channel_logout_uri: String,
    pub login_version: Option<LoginVersion>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct App {
    pub id: String,
    pub details: Option<ObjectDetails>,
    pub state: AppState,
    pub name: String,
    /// `None` for API and SAML applications.
    pub oidc_config: Option<OidcConfig>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAppsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<ListQuery>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<AppQuery>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AppQuery {
    NameQuery(NameQuery),
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListAppsResponse {
    pub details: Option<ListDetails>,
    pub result: Vec<App>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegenerateSecretResponse {
    pub client_secret: Secret,
    pub details: Option<ObjectDetails>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct GetAppResponse {
    app: Option<App>,
}

#[derive(Serialize)]
struct NameBody<'a> {
    name: &'a str,
}

fn apps_path(op: &'static str, project_id: &str) -> Result<String> {
    Ok(format!(
        "/management/v1/projects/{}/apps",
        segment(op, "project id", project_id)?
    ))
}

fn app_path(op: &'static str, project_id: &str, app_id: &str) -> Result<String> {
    Ok(format!(
        "{}/{}",
        apps_path(op, project_id)?,
        segment(op, "app id", app_id)?
    ))
}

impl ZitadelClient {
    /// Creates an OIDC app. Keep `client_secret` from the answer: it is never shown again.
    pub async fn create_oidc_app(
        &self,
        org_id: &str,
        project_id: &str,
        request: &AddOidcAppRequest,
    ) -> Result<AddOidcAppResponse> {
        const OP: &str = "create_oidc_app";
        let path = format!("{}/oidc", apps_path(OP, project_id)?);
        let call = Call::post(OP, path, request)?.in_org(org_id)?;
        let response: AddOidcAppResponse = self.call(call).await?;
        if response.app_id.is_empty() || response.client_id.is_empty() {
            return Err(ZitadelError::Decode {
                op: OP,
                message: "no appId or clientId in the answer".into(),
            });
        }
        Self::ensure_owner(
            OP,
            org_id,
            response.details.as_ref(),
            Some(&response.app_id),
        )?;
        if response.none_compliant {
            let problems: Vec<&str> = response
                .compliance_problems
                .iter()
                .map(|p| p.key.as_str())
                .collect();
            tracing::warn!(app_id = %response.app_id, ?problems, "ZITADEL flags the app's configuration as non-compliant");
        }
        Ok(response)
    }

    /// The application, or `None` if it does not exist in this project.
    pub async fn get_app(
        &self,
        org_id: &str,
        project_id: &str,
        app_id: &str,
    ) -> Result<Option<App>> {
        const OP: &str = "get_app";
        let call = Call::get(OP, app_path(OP, project_id, app_id)?).in_org(org_id)?;
        let response: GetAppResponse = match self.call(call).await {
            Ok(response) => response,
            Err(err) if err.is_not_found() => return Ok(None),
            Err(err) => return Err(err),
        };
        let Some(app) = response.app.filter(|app| !app.id.is_empty()) else {
            return Ok(None);
        };
        Self::ensure_owner(OP, org_id, app.details.as_ref(), None)?;
        Ok(Some(app))
    }

    pub async fn list_apps(
        &self,
        org_id: &str,
        project_id: &str,
        request: &ListAppsRequest,
    ) -> Result<ListAppsResponse> {
        const OP: &str = "list_apps";
        let path = format!("{}/_search", apps_path(OP, project_id)?);
        self.call(Call::search(OP, path, request)?.in_org(org_id)?)
            .await
    }

    /// The project's application with exactly this name.
    pub async fn find_app_by_name(
        &self,
        org_id: &str,
        project_id: &str,
        name: &str,
    ) -> Result<Option<App>> {
        let response = self
            .list_apps(
                org_id,
                project_id,
                &ListAppsRequest {
                    query: Some(ListQuery::limit(10)),
                    queries: vec![AppQuery::NameQuery(NameQuery::equals(name))],
                },
            )
            .await?;
        Ok(response.result.into_iter().find(|app| app.name == name))
    }

    /// Replaces the whole OIDC configuration.
    pub async fn update_oidc_app_config(
        &self,
        org_id: &str,
        project_id: &str,
        app_id: &str,
        settings: &OidcAppSettings,
    ) -> Result<Updated> {
        const OP: &str = "update_oidc_app_config";
        let path = format!("{}/oidc_config", app_path(OP, project_id, app_id)?);
        let call = Call::put(OP, path, settings)?.in_org(org_id)?;
        match self.call::<DetailsOnly>(call).await {
            Ok(response) => {
                Self::ensure_owner(OP, org_id, response.details.as_ref(), None)?;
                Ok(Updated::Applied)
            }
            Err(err) if err.is_no_changes() => Ok(Updated::Unchanged),
            Err(err) => Err(err),
        }
    }

    /// Replaces the redirect URIs and keeps the rest of the configuration: reads the current
    /// configuration (waiting for a just-created app to become readable) and writes it back.
    pub async fn set_oidc_redirect_uris(
        &self,
        org_id: &str,
        project_id: &str,
        app_id: &str,
        redirect_uris: Vec<String>,
        post_logout_redirect_uris: Vec<String>,
    ) -> Result<Updated> {
        let app = self
            .await_app(org_id, project_id, app_id, |app| app.oidc_config.is_some())
            .await?;
        let config = app
            .oidc_config
            .as_ref()
            .ok_or_else(|| ZitadelError::Decode {
                op: "set_oidc_redirect_uris",
                message: "the application has no OIDC configuration".into(),
            })?;
        let mut settings = OidcAppSettings::from(config);
        if settings.redirect_uris == redirect_uris
            && settings.post_logout_redirect_uris == post_logout_redirect_uris
        {
            return Ok(Updated::Unchanged);
        }
        settings.redirect_uris = redirect_uris;
        settings.post_logout_redirect_uris = post_logout_redirect_uris;
        self.update_oidc_app_config(org_id, project_id, app_id, &settings)
            .await
    }

    /// Issues a new client secret (the old one stops working).
    pub async fn regenerate_oidc_client_secret(
        &self,
        org_id: &str,
        project_id: &str,
        app_id: &str,
    ) -> Result<RegenerateSecretResponse> {
        const OP: &str = "regenerate_oidc_client_secret";
        let path = format!(
            "{}/oidc_config/_generate_client_secret",
            app_path(OP, project_id, app_id)?
        );
        let call = Call::post(OP, path, &Empty {})?.in_org(org_id)?;
        let response: RegenerateSecretResponse = self.call(call).await?;
        if response.client_secret.is_empty() {
            return Err(ZitadelError::Decode {
                op: OP,
                message: "no clientSecret in the answer".into(),
            });
        }
        Self::ensure_owner(OP, org_id, response.details.as_ref(), None)?;
        Ok(response)
    }

    pub async fn rename_app(
        &self,
        org_id: &str,
        project_id: &str,
        app_id: &str,
        name: &str,
    ) -> Result<Updated> {
        const OP: &str = "rename_app";
        let call =
            Call::put(OP, app_path(OP, project_id, app_id)?, &NameBody { name })?.in_org(org_id)?;
        match self.call::<DetailsOnly>(call).await {
            Ok(response) => {
                Self::ensure_owner(OP, org_id, response.details.as_ref(), None)?;
                Ok(Updated::Applied)
            }
            Err(err) if err.is_no_changes() => Ok(Updated::Unchanged),
            Err(err) => Err(err),
        }
    }

    /// `false` if the application did not exist.
    pub async fn delete_app(&self, org_id: &str, project_id: &str, app_id: &str) -> Result<bool> {
        const OP: &str = "delete_app";
        self.delete_call(Call::delete(OP, app_path(OP, project_id, app_id)?).in_org(org_id)?)
            .await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn add_request_is_flat_and_minimal() {
        let request = AddOidcAppRequest {
            name: "web".into(),
            version: Some(OidcVersion::V1_0),
            settings: OidcAppSettings {
                redirect_uris: vec!["https://app.example/cb".into()],
                response_types: vec![OidcResponseType::Code],
                grant_types: vec![
                    OidcGrantType::AuthorizationCode,
                    OidcGrantType::RefreshToken,
                ],
                app_type: OidcAppType::Web,
                auth_method_type: OidcAuthMethodType::Basic,
                access_token_type: Some(OidcTokenType::Jwt),
                login_version: Some(LoginVersion {
                    login_v2: Some(LoginV2 {
                        base_uri: Some("https://gh.example/login".into()),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        };
        let body = serde_json::to_value(&request).unwrap();
        assert_eq!(body["name"], json!("web"));
        assert_eq!(body["version"], json!("OIDC_VERSION_1_0"));
        assert_eq!(body["appType"], json!("OIDC_APP_TYPE_WEB"));
        assert_eq!(
            body["grantTypes"],
            json!([
                "OIDC_GRANT_TYPE_AUTHORIZATION_CODE",
                "OIDC_GRANT_TYPE_REFRESH_TOKEN"
            ])
        );
        assert_eq!(
            body["loginVersion"],
            json!({"loginV2": {"baseUri": "https://gh.example/login"}})
        );
        assert!(body.get("settings").is_none());
        assert!(body.get("backChannelLogoutUri").is_none());
    }

    #[test]
    fn app_response_round_trips_into_settings() {
        let app: App = serde_json::from_value(json!({
            "id": "5",
            "details": {"resourceOwner": "1"},
            "state": "APP_STATE_ACTIVE",
            "name": "web",
            "oidcConfig": {
                "redirectUris": ["https://app.example/cb"],
                "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"],
                "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE"],
                "appType": "OIDC_APP_TYPE_USER_AGENT",
                "clientId": "5@proj",
                "authMethodType": "OIDC_AUTH_METHOD_TYPE_NONE",
                "version": "OIDC_VERSION_1_0",
                "noneCompliant": true,
                "complianceProblems": [{"key": "Application.OIDC.V1.NotCompliant", "localizedMessage": "…"}],
                "clockSkew": "1s",
                "devMode": true,
                "newField": 1
            }
        }))
        .unwrap();
        let config = app.oidc_config.as_ref().unwrap();
        assert_eq!(config.app_type, OidcAppType::UserAgent);
        assert!(config.none_compliant);
        let settings = OidcAppSettings::from(config);
        assert_eq!(settings.auth_method_type, OidcAuthMethodType::None);
        assert!(settings.dev_mode);
        assert_eq!(settings.clock_skew, Some(ProtoDuration::from_secs(1)));
        let body = serde_json::to_value(&settings).unwrap();
        assert!(
            body.get("clientId").is_none(),
            "read-only fields are not sent back"
        );
        assert!(body.get("noneCompliant").is_none());
    }

    #[test]
    fn secrets_in_responses_are_redacted_in_debug() {
        let response: AddOidcAppResponse = serde_json::from_value(json!({
            "appId": "1", "clientId": "c", "clientSecret": "very-secret"
        }))
        .unwrap();
        assert_eq!(
            response.client_secret.as_ref().unwrap().expose(),
            "very-secret"
        );
        assert!(!format!("{response:?}").contains("very-secret"));
    }
}
